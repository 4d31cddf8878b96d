/* relay_ctl: the control socket on a real moq_loop with a real unix socket
 * in a private temporary directory. The clients here are non-blocking
 * sockets in the same thread; the loop is pumped while they wait. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/relay_config.h"
#include "lib/relay_ctl.h"
#include "quic/loop.h"

#define BIG_ANSWER (2u << 20)

static char g_dir[64];
static char g_path[128];
static struct moq_loop *g_loop;
static int g_calls;
static char g_last[RELAY_CTL_MAX_REQUEST + 1];

static void handler(const char *cmd, FILE *out, void *arg)
{
	(void)arg;
	g_calls++;
	snprintf(g_last, sizeof(g_last), "%s", cmd);
	if (!strcmp(cmd, "big")) {
		fputs("{\"data\": \"", out);
		for (unsigned i = 0; i < BIG_ANSWER; i++)
			fputc('a' + (char)(i % 26), out);
		fputs("\"}", out); /* no '\n': the module adds it */
		return;
	}
	fprintf(out, "{\"cmd\": \"%s\"}\n", cmd);
}

static void setup(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/relayctl-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
	snprintf(g_path, sizeof(g_path), "%s/ctl.sock", g_dir);
	g_loop = moq_loop_new();
	ck_assert_ptr_nonnull(g_loop);
	g_calls = 0;
	g_last[0] = 0;
}

static void teardown(void)
{
	char p[160];

	unlink(g_path);
	snprintf(p, sizeof(p), "%s/file", g_dir);
	unlink(p);
	rmdir(g_dir);
	moq_loop_free(g_loop);
}

static struct relay_ctl *open_ctl(unsigned max_clients, uint64_t timeout_ms)
{
	struct relay_ctl_config cfg = {
	    .path = g_path,
	    .handler = handler,
	    .max_clients = max_clients,
	    .timeout_ms = timeout_ms,
	};
	struct relay_ctl *c = NULL;
	char err[512];
	int rc = relay_ctl_open(&c, g_loop, &cfg, err, sizeof(err));

	ck_assert_msg(rc == 0, "relay_ctl_open: %s", err);
	return c;
}

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sa.sun_path, g_path);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
		      g_path, strerror(errno));
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Pump the loop and read until EOF (or ms pass). The answer, NUL-ended;
 * *len its length. Fails the test on timeout. */
static char *read_answer(int fd, int ms, size_t *len)
{
	uint64_t end = moq_loop_now() + (uint64_t)ms * 1000000ull;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		ssize_t r;

		ck_assert_msg(moq_loop_now() < end, "no EOF within %d ms (%zu bytes so far)", ms,
			      n);
		moq_loop_run_once(g_loop, 5);
		for (;;) {
			if (cap - n < 2048) {
				cap *= 2;
				buf = realloc(buf, cap);
				ck_assert_ptr_nonnull(buf);
			}
			r = recv(fd, buf + n, cap - n - 1, 0);
			if (r > 0) {
				n += (size_t)r;
				continue;
			}
			break;
		}
		if (r == 0 || (r < 0 && errno != EAGAIN))
			break;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static void pump(int n)
{
	for (int i = 0; i < n; i++)
		moq_loop_run_once(g_loop, 2);
}

static char *ask(const char *req, size_t reqlen)
{
	int fd = client();
	char *a;

	send_all(fd, req, reqlen);
	a = read_answer(fd, 2000, NULL);
	close(fd);
	return a;
}

START_TEST(command_line_gets_the_handlers_json_and_the_connection_closes)
{
	struct relay_ctl *c = open_ctl(0, 0);
	char *a = ask("status\n", 7);

	ck_assert_str_eq(a, "{\"cmd\": \"status\"}\n");
	ck_assert_int_eq(g_calls, 1);
	ck_assert_uint_eq(relay_ctl_answered(c), 1);
	pump(5); /* it sees our close */
	ck_assert_uint_eq(relay_ctl_clients(c), 0);
	free(a);
	relay_ctl_close(c);
}
END_TEST

START_TEST(blanks_and_crlf_around_the_command_are_trimmed)
{
	struct relay_ctl *c = open_ctl(0, 0);
	char *a = ask("  stats \r\n", 10);

	ck_assert_str_eq(a, "{\"cmd\": \"stats\"}\n");
	ck_assert_str_eq(g_last, "stats");
	free(a);
	relay_ctl_close(c);
}
END_TEST

START_TEST(command_split_over_several_writes_is_assembled)
{
	struct relay_ctl *c = open_ctl(0, 0);
	int fd = client();
	char *a;

	send_all(fd, "sub", 3);
	for (int i = 0; i < 5; i++)
		moq_loop_run_once(g_loop, 5);
	ck_assert_int_eq(g_calls, 0); /* no line yet */
	send_all(fd, "scribers\n", 9);
	a = read_answer(fd, 2000, NULL);
	ck_assert_str_eq(a, "{\"cmd\": \"subscribers\"}\n");
	free(a);
	close(fd);
	relay_ctl_close(c);
}
END_TEST

START_TEST(line_ended_by_shutdown_is_accepted)
{
	struct relay_ctl *c = open_ctl(0, 0);
	int fd = client();
	char *a;

	send_all(fd, "tracks", 6);
	shutdown(fd, SHUT_WR);
	a = read_answer(fd, 2000, NULL);
	ck_assert_str_eq(a, "{\"cmd\": \"tracks\"}\n");
	free(a);
	close(fd);
	relay_ctl_close(c);
}
END_TEST

START_TEST(garbage_gets_an_error_line_and_never_reaches_the_handler)
{
	struct relay_ctl *c = open_ctl(0, 0);
	static const char junk[] = {0x16, 0x03, 0x01, 0x00, (char)0xff, 's', '\n'};
	char *a = ask(junk, sizeof(junk));

	ck_assert_msg(!strncmp(a, "{\"error\": \"malformed request", 28), "got '%s'", a);
	ck_assert(a[strlen(a) - 1] == '\n');
	ck_assert_int_eq(g_calls, 0);
	ck_assert_uint_eq(relay_ctl_refused(c), 1);
	free(a);
	relay_ctl_close(c);
}
END_TEST

START_TEST(request_longer_than_the_bound_is_refused)
{
	struct relay_ctl *c = open_ctl(0, 0);
	char req[RELAY_CTL_MAX_REQUEST + 50];
	char *a;

	memset(req, 'x', sizeof(req));
	a = ask(req, sizeof(req));
	ck_assert_msg(strstr(a, "\"error\": \"request longer than 256 bytes"), "got '%s'", a);
	ck_assert_int_eq(g_calls, 0);
	free(a);
	relay_ctl_close(c);
}
END_TEST

START_TEST(empty_line_is_refused)
{
	struct relay_ctl *c = open_ctl(0, 0);
	char *a = ask(" \r\n", 3);

	ck_assert_msg(strstr(a, "\"error\": \"empty request"), "got '%s'", a);
	ck_assert_int_eq(g_calls, 0);
	free(a);
	relay_ctl_close(c);
}
END_TEST

START_TEST(silent_client_gets_a_timeout_error_and_is_closed)
{
	struct relay_ctl *c = open_ctl(0, 200);
	int fd = client();
	uint64_t t0 = moq_loop_now();
	char *a = read_answer(fd, 2000, NULL);
	uint64_t ms = (moq_loop_now() - t0) / 1000000;

	ck_assert_msg(strstr(a, "\"error\": \"timeout"), "got '%s'", a);
	ck_assert_msg(ms >= 190 && ms < 4000, "closed after %llu ms", (unsigned long long)ms);
	free(a);
	close(fd);
	pump(5);
	ck_assert_uint_eq(relay_ctl_clients(c), 0);
	relay_ctl_close(c);
}
END_TEST

START_TEST(clients_beyond_the_bound_are_told_busy_and_the_others_still_work)
{
	struct relay_ctl *c = open_ctl(2, 0);
	int a1 = client(), a2 = client(), b;
	char *a;

	for (int i = 0; i < 5; i++)
		moq_loop_run_once(g_loop, 5);
	ck_assert_uint_eq(relay_ctl_clients(c), 2);
	b = client();
	a = read_answer(b, 2000, NULL);
	ck_assert_msg(strstr(a, "\"error\": \"busy: 2 clients"), "got '%s'", a);
	free(a);
	close(b);
	send_all(a1, "status\n", 7);
	a = read_answer(a1, 2000, NULL);
	ck_assert_str_eq(a, "{\"cmd\": \"status\"}\n");
	free(a);
	close(a1);
	close(a2);
	relay_ctl_close(c);
}
END_TEST

START_TEST(client_that_does_not_read_a_big_answer_does_not_block_others)
{
	struct relay_ctl *c = open_ctl(0, 0);
	int slow = client();
	size_t len;
	char *a;

	send_all(slow, "big\n", 4);
	for (int i = 0; i < 5; i++)
		moq_loop_run_once(g_loop, 5);
	ck_assert_int_eq(g_calls, 1); /* answered, stuck in the socket buffer */
	a = ask("status\n", 7);
	ck_assert_str_eq(a, "{\"cmd\": \"status\"}\n");
	free(a);
	/* now read the big one: complete, in order, with the added '\n' */
	a = read_answer(slow, 5000, &len);
	ck_assert_uint_eq(len, BIG_ANSWER + 13);
	ck_assert(!strncmp(a, "{\"data\": \"abc", 13));
	ck_assert(a[10 + BIG_ANSWER - 1] == 'a' + (char)((BIG_ANSWER - 1) % 26));
	ck_assert_str_eq(a + len - 3, "\"}\n");
	free(a);
	close(slow);
	relay_ctl_close(c);
}
END_TEST

START_TEST(socket_file_is_mode_0660_and_removed_on_close)
{
	struct relay_ctl *c = open_ctl(0, 0);
	struct stat st;

	ck_assert_int_eq(stat(g_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	relay_ctl_close(c);
	ck_assert_int_eq(stat(g_path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(second_server_on_a_live_socket_is_refused_and_the_first_keeps_serving)
{
	struct relay_ctl *c = open_ctl(0, 0), *c2 = NULL;
	struct relay_ctl_config cfg = {.path = g_path, .handler = handler};
	char err[512] = "";
	char *a;

	ck_assert_int_eq(relay_ctl_open(&c2, g_loop, &cfg, err, sizeof(err)), -EADDRINUSE);
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, g_path) && strstr(err, "is listening"), "err '%s'", err);
	a = ask("help\n", 5);
	ck_assert_str_eq(a, "{\"cmd\": \"help\"}\n");
	free(a);
	relay_ctl_close(c);
}
END_TEST

START_TEST(stale_socket_file_of_a_dead_daemon_is_replaced)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct relay_ctl *c;
	char *a;

	strcpy(sa.sun_path, g_path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	close(fd); /* the file stays, nothing listens */
	c = open_ctl(0, 0);
	a = ask("status\n", 7);
	ck_assert_str_eq(a, "{\"cmd\": \"status\"}\n");
	free(a);
	relay_ctl_close(c);
}
END_TEST

START_TEST(path_that_is_not_a_socket_is_refused_and_left_alone)
{
	struct relay_ctl_config cfg = {.path = g_path, .handler = handler};
	struct relay_ctl *c = NULL;
	char err[512] = "";
	struct stat st;
	int fd = open(g_path, O_CREAT | O_WRONLY, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	ck_assert_int_eq(relay_ctl_open(&c, g_loop, &cfg, err, sizeof(err)), -EEXIST);
	ck_assert_msg(strstr(err, "not a socket"), "err '%s'", err);
	ck_assert_int_eq(stat(g_path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 4);
}
END_TEST

START_TEST(missing_directory_and_too_long_path_are_explained)
{
	struct relay_ctl_config cfg = {.handler = handler};
	struct relay_ctl *c = NULL;
	char err[512] = "", p[300];

	snprintf(p, sizeof(p), "%s/no/such/dir/ctl.sock", g_dir);
	cfg.path = p;
	ck_assert_int_eq(relay_ctl_open(&c, g_loop, &cfg, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "cannot create control socket") && strstr(err, p), "err '%s'",
		      err);
	memset(p, 'a', 200);
	p[0] = '/';
	p[200] = 0;
	ck_assert_int_eq(relay_ctl_open(&c, g_loop, &cfg, err, sizeof(err)), -ENAMETOOLONG);
	ck_assert_msg(strstr(err, "shorter path"), "err '%s'", err);
	ck_assert_ptr_null(c);
}
END_TEST

/* accept() failing with EMFILE must not make the level-triggered loop spin
 * on the listening socket; the client is served once an fd is free. */
START_TEST(out_of_fds_backs_off_instead_of_spinning_and_recovers)
{
	struct relay_ctl *c = open_ctl(0, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct rlimit rl = {64, 64};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0), fill[64], nfill = 0, iters = 0;
	uint64_t end;
	char *a;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0); /* this forked test only */
	while (nfill < 64 && (fill[nfill] = dup(0)) >= 0)
		nfill++;
	ck_assert_int_eq(errno, EMFILE);
	strcpy(sa.sun_path, g_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	send_all(fd, "status\n", 7);
	end = moq_loop_now() + 300000000ull;
	while (moq_loop_now() < end) {
		moq_loop_run_once(g_loop, 50);
		iters++;
	}
	/* spinning would be thousands of iterations; backing off ~6-10 */
	ck_assert_msg(iters < 40, "%d loop iterations in 300 ms", iters);
	ck_assert_int_eq(g_calls, 0);
	while (nfill)
		close(fill[--nfill]);
	a = read_answer(fd, 2000, NULL);
	ck_assert_str_eq(a, "{\"cmd\": \"status\"}\n");
	free(a);
	close(fd);
	relay_ctl_close(c);
}
END_TEST

/* moq-relayd --ctl-socket: default, none, a path, the config-file key,
 * and a path too long for a unix socket address. */
START_TEST(ctl_socket_option_default_none_path_file_key_and_bound)
{
	struct relay_config c;
	char err[512] = "", lng[200];
	char *a_def[] = {"moq-relayd", "--plaintext", NULL};
	char *a_none[] = {"moq-relayd", "--plaintext", "--ctl-socket", "none", NULL};
	char *a_path[] = {"moq-relayd", "--plaintext", "--ctl-socket=/tmp/r.sock", NULL};
	char *a_long[] = {"moq-relayd", "--plaintext", "--ctl-socket", lng, NULL};

	ck_assert_int_eq(relay_config_parse(&c, 2, a_def, err, sizeof(err)), 0);
	ck_assert_str_eq(c.ctl_socket, "/run/moq-relayd.sock");
	ck_assert(!c.ctl_socket_explicit);
	ck_assert_int_eq(relay_config_parse(&c, 4, a_none, err, sizeof(err)), 0);
	ck_assert_str_eq(c.ctl_socket, "");
	ck_assert(c.ctl_socket_explicit);
	ck_assert_int_eq(relay_config_parse(&c, 3, a_path, err, sizeof(err)), 0);
	ck_assert_str_eq(c.ctl_socket, "/tmp/r.sock");
	relay_config_defaults(&c);
	ck_assert_int_eq(
	    relay_config_load_text(&c, "ctl-socket = /tmp/f.sock\n", "t.conf", err, sizeof(err)),
	    0);
	ck_assert_str_eq(c.ctl_socket, "/tmp/f.sock");
	ck_assert(c.ctl_socket_explicit);
	memset(lng, 'a', sizeof(lng) - 1);
	lng[0] = '/';
	lng[sizeof(lng) - 1] = 0;
	ck_assert_int_eq(relay_config_parse(&c, 4, a_long, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "--ctl-socket") && strstr(err, "107 bytes"), "err '%s'", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_ctl");
	TCase *tc = tcase_create("ctl");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, command_line_gets_the_handlers_json_and_the_connection_closes);
	tcase_add_test(tc, blanks_and_crlf_around_the_command_are_trimmed);
	tcase_add_test(tc, command_split_over_several_writes_is_assembled);
	tcase_add_test(tc, line_ended_by_shutdown_is_accepted);
	tcase_add_test(tc, garbage_gets_an_error_line_and_never_reaches_the_handler);
	tcase_add_test(tc, request_longer_than_the_bound_is_refused);
	tcase_add_test(tc, empty_line_is_refused);
	tcase_add_test(tc, silent_client_gets_a_timeout_error_and_is_closed);
	tcase_add_test(tc, clients_beyond_the_bound_are_told_busy_and_the_others_still_work);
	tcase_add_test(tc, client_that_does_not_read_a_big_answer_does_not_block_others);
	tcase_add_test(tc, socket_file_is_mode_0660_and_removed_on_close);
	tcase_add_test(tc, second_server_on_a_live_socket_is_refused_and_the_first_keeps_serving);
	tcase_add_test(tc, stale_socket_file_of_a_dead_daemon_is_replaced);
	tcase_add_test(tc, path_that_is_not_a_socket_is_refused_and_left_alone);
	tcase_add_test(tc, missing_directory_and_too_long_path_are_explained);
	tcase_add_test(tc, ctl_socket_option_default_none_path_file_key_and_bound);
	tcase_add_test(tc, out_of_fds_backs_off_instead_of_spinning_and_recovers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
