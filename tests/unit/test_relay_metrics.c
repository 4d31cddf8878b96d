/* relay_metrics: the scrape endpoint over a real TCP socket on 127.0.0.1
 * (port 0), driven by moq_loop_run_once, and the exposition helpers. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/relay_config.h"
#include "lib/relay_metrics.h"
#include "quic/loop.h"

static int renders;

static void render(FILE *out, void *arg)
{
	(void)arg;
	renders++;
	relay_metrics_family(out, "test_renders_total", "counter", "times rendered");
	relay_metrics_u64(out, "test_renders_total", NULL, (uint64_t)renders);
}

struct fixture {
	struct moq_loop *loop;
	struct relay_metrics *m;
};

static void setup(struct fixture *f)
{
	char err[256];

	renders = 0;
	f->loop = moq_loop_new();
	ck_assert_ptr_nonnull(f->loop);
	f->m = relay_metrics_start(f->loop, "127.0.0.1", 0, render, NULL, err, sizeof(err));
	ck_assert_msg(f->m != NULL, "%s", err);
	ck_assert_uint_ne(relay_metrics_port(f->m), 0);
}

static void teardown(struct fixture *f)
{
	relay_metrics_stop(f->m);
	moq_loop_free(f->loop);
}

static int connect_to(struct fixture *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_port = htons(relay_metrics_port(f->m));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN)
			continue;
		ck_assert_int_gt(w, 0);
		s += w;
		n -= (size_t)w;
	}
}

/* Run the loop until the server closes fd (EOF or reset); returns what was
 * read (malloc'd, NUL-terminated). Bounded by 3 s. */
static char *read_until_close(struct fixture *f, int fd, size_t *lenp)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	uint64_t end = moq_loop_now() + 3000000000ull;

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		ssize_t n;

		moq_loop_run_once(f->loop, 10);
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n > 0) {
			len += (size_t)n;
			ck_assert_uint_lt(len, cap - 1);
			continue;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		ck_assert_msg(moq_loop_now() < end, "server did not close within 3 s");
	}
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

static char *exchange(struct fixture *f, const char *req)
{
	int fd = connect_to(f);
	char *r;

	send_all(fd, req, strlen(req));
	r = read_until_close(f, fd, NULL);
	close(fd);
	return r;
}

START_TEST(get_metrics_answers_200_with_prometheus_content_type_and_body)
{
	struct fixture f;
	char *r, *body;

	setup(&f);
	r = exchange(&f, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17), "got: %s", r);
	ck_assert_ptr_nonnull(
	    strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "\r\nConnection: close\r\n"));
	body = strstr(r, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	ck_assert_str_eq(body, "# HELP test_renders_total times rendered\n"
			       "# TYPE test_renders_total counter\n"
			       "test_renders_total 1\n");
	ck_assert_ptr_nonnull(strstr(r, "Content-Length: 96\r\n"));
	ck_assert_uint_eq(strlen(body), 96);
	free(r);
	for (int i = 0; i < 10 && relay_metrics_clients(f.m); i++)
		moq_loop_run_once(f.loop, 5);
	ck_assert_uint_eq(relay_metrics_clients(f.m), 0);
	teardown(&f);
}
END_TEST

START_TEST(every_scrape_renders_again)
{
	struct fixture f;
	char *r;

	setup(&f);
	free(exchange(&f, "GET /metrics HTTP/1.0\r\n\r\n"));
	r = exchange(&f, "GET /metrics?x=1 HTTP/1.1\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(r, "\ntest_renders_total 2\n"));
	free(r);
	teardown(&f);
}
END_TEST

START_TEST(other_path_is_404_and_does_not_render)
{
	struct fixture f;
	char *r;

	setup(&f);
	r = exchange(&f, "GET / HTTP/1.1\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 404 ", 13), "got: %s", r);
	free(r);
	r = exchange(&f, "GET /metricsx HTTP/1.1\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 404 ", 13), "got: %s", r);
	free(r);
	ck_assert_int_eq(renders, 0);
	teardown(&f);
}
END_TEST

START_TEST(post_is_405_with_allow)
{
	struct fixture f;
	char *r;

	setup(&f);
	r = exchange(&f, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 405 ", 13), "got: %s", r);
	ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	teardown(&f);
}
END_TEST

START_TEST(head_has_headers_and_no_body)
{
	struct fixture f;
	char *r;

	setup(&f);
	r = exchange(&f, "HEAD /metrics HTTP/1.1\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17), "got: %s", r);
	ck_assert_ptr_nonnull(strstr(r, "Content-Length: 96\r\n"));
	ck_assert_str_eq(strstr(r, "\r\n\r\n"), "\r\n\r\n");
	free(r);
	teardown(&f);
}
END_TEST

START_TEST(garbage_request_line_is_400)
{
	struct fixture f;
	char *r;

	setup(&f);
	r = exchange(&f, "hello\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 400 ", 13), "got: %s", r);
	free(r);
	r = exchange(&f, "GET /metrics SPDY/3\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 400 ", 13), "got: %s", r);
	free(r);
	teardown(&f);
}
END_TEST

START_TEST(request_split_over_several_writes_is_served)
{
	struct fixture f;
	int fd;
	char *r;

	setup(&f);
	fd = connect_to(&f);
	send_all(fd, "GET /met", 8);
	for (int i = 0; i < 5; i++)
		moq_loop_run_once(f.loop, 5);
	send_all(fd, "rics HTTP/1.1\r\nHost: a\r\n", 24);
	for (int i = 0; i < 5; i++)
		moq_loop_run_once(f.loop, 5);
	ck_assert_int_eq(renders, 0);
	send_all(fd, "\r\n", 2);
	r = read_until_close(&f, fd, NULL);
	ck_assert_msg(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17), "got: %s", r);
	free(r);
	close(fd);
	teardown(&f);
}
END_TEST

START_TEST(request_over_the_size_bound_is_431_and_closed)
{
	struct fixture f;
	char big[RELAY_METRICS_MAX_REQUEST + 100];
	int fd;
	char *r;

	setup(&f);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	fd = connect_to(&f);
	send_all(fd, big, sizeof(big));
	r = read_until_close(&f, fd, NULL);
	ck_assert_msg(!strncmp(r, "HTTP/1.1 431 ", 13), "got: %.40s", r);
	ck_assert_int_eq(renders, 0);
	free(r);
	close(fd);
	teardown(&f);
}
END_TEST

START_TEST(clients_over_the_bound_are_closed_at_once)
{
	struct fixture f;
	int fds[RELAY_METRICS_MAX_CLIENTS], extra;
	char *r;
	size_t len;

	setup(&f);
	for (int i = 0; i < RELAY_METRICS_MAX_CLIENTS; i++)
		fds[i] = connect_to(&f);
	for (int i = 0; i < 10; i++)
		moq_loop_run_once(f.loop, 5);
	ck_assert_uint_eq(relay_metrics_clients(f.m), RELAY_METRICS_MAX_CLIENTS);
	extra = connect_to(&f);
	send_all(extra, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	r = read_until_close(&f, extra, &len);
	ck_assert_uint_eq(len, 0);
	free(r);
	close(extra);
	ck_assert_uint_eq(relay_metrics_clients(f.m), RELAY_METRICS_MAX_CLIENTS);
	/* a slot frees when a client goes away */
	close(fds[0]);
	for (int i = 0; i < 10; i++)
		moq_loop_run_once(f.loop, 5);
	ck_assert_uint_eq(relay_metrics_clients(f.m), RELAY_METRICS_MAX_CLIENTS - 1);
	r = exchange(&f, "GET /metrics HTTP/1.1\r\n\r\n");
	ck_assert_msg(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17), "got: %s", r);
	free(r);
	for (int i = 1; i < RELAY_METRICS_MAX_CLIENTS; i++)
		close(fds[i]);
	teardown(&f);
}
END_TEST

START_TEST(silent_client_is_closed_after_the_timeout)
{
	struct fixture f;
	int fd;
	uint64_t t0, end;

	setup(&f);
	fd = connect_to(&f);
	send_all(fd, "GET /metr", 9);
	t0 = moq_loop_now();
	end = t0 + (RELAY_METRICS_CLIENT_TIMEOUT_MS + 2000) * 1000000ull;
	do
		moq_loop_run_once(f.loop, 50);
	while (relay_metrics_clients(f.m) == 0 && moq_loop_now() < end);
	while (relay_metrics_clients(f.m) > 0 && moq_loop_now() < end)
		moq_loop_run_once(f.loop, 50);
	ck_assert_uint_eq(relay_metrics_clients(f.m), 0);
	ck_assert_uint_ge(moq_loop_now() - t0,
			  (RELAY_METRICS_CLIENT_TIMEOUT_MS - 100) * 1000000ull);
	close(fd);
	teardown(&f);
}
END_TEST

START_TEST(a_non_numeric_address_is_refused_with_a_message)
{
	struct moq_loop *loop = moq_loop_new();
	char err[256] = "";

	ck_assert_ptr_null(
	    relay_metrics_start(loop, "localhost", 0, render, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "localhost"));
	moq_loop_free(loop);
}
END_TEST

START_TEST(ipv6_loopback_listener_works)
{
	struct moq_loop *loop = moq_loop_new();
	struct relay_metrics *m;
	char err[256] = "";

	m = relay_metrics_start(loop, "::1", 0, render, NULL, err, sizeof(err));
	if (!m && strstr(err, "Cannot assign")) { /* no IPv6 on this host */
		moq_loop_free(loop);
		return;
	}
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_uint_ne(relay_metrics_port(m), 0);
	relay_metrics_stop(m);
	moq_loop_free(loop);
}
END_TEST

static char *render_to_string(void (*fn)(FILE *))
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	fn(f);
	fclose(f);
	return s;
}

static void labels_case(FILE *f)
{
	relay_metrics_u64(f, "m", (const char *[]){"a", "x\\y\"z\nw", "b", "plain", NULL}, 7);
}

START_TEST(label_values_escape_backslash_quote_and_newline)
{
	char *s = render_to_string(labels_case);

	ck_assert_str_eq(s, "m{a=\"x\\\\y\\\"z\\nw\",b=\"plain\"} 7\n");
	free(s);
}
END_TEST

static void help_case(FILE *f)
{
	relay_metrics_family(f, "m_total", "counter", "a \\ and\na \"quote\"");
}

START_TEST(help_escapes_backslash_and_newline_but_not_quotes)
{
	char *s = render_to_string(help_case);

	ck_assert_str_eq(s, "# HELP m_total a \\\\ and\\na \"quote\"\n# TYPE m_total counter\n");
	free(s);
}
END_TEST

static void values_case(FILE *f)
{
	relay_metrics_i64(f, "g", NULL, -5);
	relay_metrics_u64(f, "c", (const char *[]){NULL}, UINT64_MAX);
	relay_metrics_double(f, "d", NULL, 0.25);
	relay_metrics_double(f, "d", NULL, 1.0 / 0.0);
	relay_metrics_double(f, "d", NULL, -1.0 / 0.0);
	relay_metrics_double(f, "d", NULL, 0.0 / 0.0);
}

START_TEST(values_print_as_the_format_spells_them)
{
	char *s = render_to_string(values_case);

	ck_assert_str_eq(s, "g -5\nc 18446744073709551615\nd 0.25\nd +Inf\nd -Inf\nd NaN\n");
	free(s);
}
END_TEST

static int parse_args(struct relay_config *c, const char *a1, const char *a2, char *err,
		      size_t errlen)
{
	char *argv[] = {"moq-relayd", "--plaintext", (char *)a1, (char *)a2, NULL};

	return relay_config_parse(c, a2 ? 4 : 3, argv, err, errlen);
}

START_TEST(metrics_listen_is_off_by_default_and_takes_host_port)
{
	struct relay_config c;
	char err[512] = "";

	ck_assert_int_eq(parse_args(&c, "--stats-interval", "0", err, sizeof(err)), 0);
	ck_assert_str_eq(c.metrics_listen, "");
	ck_assert_int_eq(parse_args(&c, "--metrics-listen", "127.0.0.1:9464", err, sizeof(err)), 0);
	ck_assert_str_eq(c.metrics_listen, "127.0.0.1:9464");
	ck_assert_int_eq(parse_args(&c, "--metrics-listen=[::1]:9464", NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(c.metrics_listen, "[::1]:9464");
}
END_TEST

START_TEST(metrics_listen_without_a_port_says_what_it_wants)
{
	struct relay_config c;
	char err[512] = "";

	ck_assert_int_eq(parse_args(&c, "--metrics-listen", "127.0.0.1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--metrics-listen"));
	ck_assert_ptr_nonnull(strstr(err, "HOST:PORT"));
	ck_assert_int_eq(parse_args(&c, "--metrics-listen", "1.2.3.4:80/metrics", err, sizeof(err)),
			 -1);
}
END_TEST

START_TEST(metrics_listen_is_a_config_file_key)
{
	struct relay_config c;
	char err[512] = "";

	relay_config_defaults(&c);
	ck_assert_int_eq(
	    relay_config_load_text(&c, "metrics-listen = 0.0.0.0:9464\n", "t", err, sizeof(err)),
	    0);
	ck_assert_str_eq(c.metrics_listen, "0.0.0.0:9464");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_metrics");
	TCase *tc = tcase_create("http");
	TCase *tf = tcase_create("format");
	SRunner *sr;
	int nf;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, get_metrics_answers_200_with_prometheus_content_type_and_body);
	tcase_add_test(tc, every_scrape_renders_again);
	tcase_add_test(tc, other_path_is_404_and_does_not_render);
	tcase_add_test(tc, post_is_405_with_allow);
	tcase_add_test(tc, head_has_headers_and_no_body);
	tcase_add_test(tc, garbage_request_line_is_400);
	tcase_add_test(tc, request_split_over_several_writes_is_served);
	tcase_add_test(tc, request_over_the_size_bound_is_431_and_closed);
	tcase_add_test(tc, clients_over_the_bound_are_closed_at_once);
	tcase_add_test(tc, silent_client_is_closed_after_the_timeout);
	tcase_add_test(tc, a_non_numeric_address_is_refused_with_a_message);
	tcase_add_test(tc, ipv6_loopback_listener_works);
	suite_add_tcase(s, tc);
	tcase_add_test(tf, label_values_escape_backslash_quote_and_newline);
	tcase_add_test(tf, help_escapes_backslash_and_newline_but_not_quotes);
	tcase_add_test(tf, values_print_as_the_format_spells_them);
	tcase_add_test(tf, metrics_listen_is_off_by_default_and_takes_host_port);
	tcase_add_test(tf, metrics_listen_without_a_port_says_what_it_wants);
	tcase_add_test(tf, metrics_listen_is_a_config_file_key);
	suite_add_tcase(s, tf);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
