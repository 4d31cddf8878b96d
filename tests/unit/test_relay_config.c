/* relay_config: options, config file, errors that say what to fix. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/relay_config.h"
#include "log.h"

static char err[512];

static int parse(struct relay_config *c, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "moq-relayd";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	err[0] = 0;
	return relay_config_parse(c, argc, argv, err, sizeof(err));
}

static char *tmpfile_with(const char *text)
{
	static char path[64];
	FILE *f;

	strcpy(path, "/tmp/relaycfgXXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(defaults_with_plaintext)
{
	struct relay_config c;
	const char *a[] = {"--plaintext", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_uint_eq(c.listen_port, 4443);
	ck_assert_uint_eq(c.cache_groups, 8);
	ck_assert_uint_eq(c.cache_bytes, 64u << 20);
	ck_assert(!c.fast_path);
}
END_TEST

START_TEST(tls_without_cert_says_what_to_add)
{
	struct relay_config c;
	const char *a[] = {NULL};

	ck_assert_int_eq(parse(&c, a), -1);
	ck_assert_ptr_nonnull(strstr(err, "--cert"));
	ck_assert_ptr_nonnull(strstr(err, "--plaintext"));
}
END_TEST

/* issue 19: the fast path serves TLS relays too (docs/fast-path-tls.md) */
START_TEST(fast_path_on_with_tls)
{
	struct relay_config c;
	const char *a[] = {"--cert", "c.pem", "--key", "k.pem", "--fast-path", "on", NULL};
	const char *d[] = {"--dev-cert", "/tmp/x", "--fast-path", "on", NULL};
	const char *b[] = {"--plaintext", "--fast-path=off", NULL};
	const char *x[] = {"--plaintext", "--fast-path", "maybe", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert(c.fast_path);
	ck_assert(!c.plaintext);
	ck_assert_int_eq(parse(&c, d), 0);
	ck_assert(c.fast_path);
	ck_assert_int_eq(parse(&c, b), 0);
	ck_assert(!c.fast_path);
	ck_assert_int_eq(parse(&c, x), -1);
}
END_TEST

START_TEST(dev_cert_replaces_cert_and_key_and_needs_tls)
{
	struct relay_config c;
	const char *ok[] = {"--dev-cert", "/tmp/x", NULL};
	const char *pt[] = {"--dev-cert", "/tmp/x", "--plaintext", NULL};
	const char *both[] = {"--dev-cert", "/tmp/x", "--cert", "c.pem", "--key", "k.pem", NULL};

	ck_assert_int_eq(parse(&c, ok), 0);
	ck_assert_str_eq(c.dev_cert, "/tmp/x");
	ck_assert_int_eq(parse(&c, pt), -1);
	ck_assert_ptr_nonnull(strstr(err, "--plaintext"));
	ck_assert_int_eq(parse(&c, both), -1);
	ck_assert_ptr_nonnull(strstr(err, "--cert/--key"));
}
END_TEST

START_TEST(upstream_over_webtransport)
{
	struct relay_config c;
	const char *a[] = {"--dev-cert", "/tmp/x", "--upstream", "https://10.0.0.1:4443/live",
			   NULL};
	const char *b[] = {"--plaintext", "--upstream", "https://10.0.0.1:4443/", NULL};
	const char *n[] = {"--plaintext", "--upstream", "moqt://10.0.0.1:4443/", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert(c.upstream_wt);
	ck_assert_str_eq(c.upstream_host, "10.0.0.1");
	ck_assert_uint_eq(c.upstream_port, 4443);
	ck_assert_str_eq(c.upstream_path, "/live");
	ck_assert_int_eq(parse(&c, b), -1);
	ck_assert_ptr_nonnull(strstr(err, "WebTransport"));
	ck_assert_int_eq(parse(&c, n), 0);
	ck_assert(!c.upstream_wt);
}
END_TEST

/* issue 17 finding 3: the fast path's raw-byte bounds */
START_TEST(fast_path_raw_bounds)
{
	struct relay_config c;
	const char *d[] = {"--plaintext", NULL};
	const char *a[] = {
	    "--plaintext", "--fast-path-stream-bytes", "1M", "--fast-path-raw-bytes", "8M", NULL};
	const char *small[] = {"--plaintext", "--fast-path-stream-bytes", "32k", NULL};
	const char *inv[] = {
	    "--plaintext", "--fast-path-stream-bytes", "8M", "--fast-path-raw-bytes", "4M", NULL};

	ck_assert_int_eq(parse(&c, d), 0);
	ck_assert_uint_eq(c.fp_stream_bytes, 4u << 20);
	ck_assert_uint_eq(c.fp_raw_bytes, 64u << 20);
	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_uint_eq(c.fp_stream_bytes, 1u << 20);
	ck_assert_uint_eq(c.fp_raw_bytes, 8u << 20);
	ck_assert_int_eq(parse(&c, small), -1);
	ck_assert_ptr_nonnull(strstr(err, "--fast-path-stream-bytes"));
	ck_assert_int_eq(parse(&c, inv), -1);
	ck_assert_ptr_nonnull(strstr(err, "--fast-path-raw-bytes"));
}
END_TEST

/* issue 18: the fast-path service tick, 1 to 20 ms */
START_TEST(fast_path_tick)
{
	struct relay_config c;
	const char *d[] = {"--plaintext", NULL};
	const char *a[] = {"--plaintext", "--fast-path-tick", "0.002", NULL};
	const char *zero[] = {"--plaintext", "--fast-path-tick", "0", NULL};
	const char *big[] = {"--plaintext", "--fast-path-tick", "0.05", NULL};

	ck_assert_int_eq(parse(&c, d), 0);
	ck_assert_uint_eq(c.fp_tick_ms, 20);
	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_uint_eq(c.fp_tick_ms, 2);
	ck_assert_int_eq(parse(&c, zero), -1);
	ck_assert_ptr_nonnull(strstr(err, "--fast-path-tick"));
	ck_assert_int_eq(parse(&c, big), -1);
	ck_assert_ptr_nonnull(strstr(err, "--fast-path-tick"));
}
END_TEST

/* issue 18: the advertised max_ack_delay is 100 ms when the fast path
 * consumes ACK + PING packets (the agent holds their PINGs), ngtcp2's
 * 25 ms (0) otherwise; --max-ack-delay overrides, up to 2^14 - 1 ms. */
START_TEST(max_ack_delay_follows_the_fast_path)
{
	struct relay_config c;
	const char *plain[] = {"--plaintext", NULL};
	const char *fast[] = {"--plaintext", "--fast-path", "on", NULL};
	const char *noping[] = {"--plaintext", "--fast-path", "on", "--fast-path-no-ack-ping",
				NULL};
	const char *set[] = {"--plaintext", "--fast-path", "on", "--max-ack-delay", "0.04", NULL};
	const char *big[] = {"--plaintext", "--max-ack-delay", "17", NULL};

	ck_assert_int_eq(parse(&c, plain), 0);
	ck_assert_uint_eq(relay_config_max_ack_delay(&c), 0);
	ck_assert_int_eq(parse(&c, fast), 0);
	ck_assert_uint_eq(relay_config_max_ack_delay(&c), RELAY_FP_MAX_ACK_DELAY_MS);
	ck_assert_int_eq(parse(&c, noping), 0);
	ck_assert_uint_eq(relay_config_max_ack_delay(&c), 0);
	ck_assert_int_eq(parse(&c, set), 0);
	ck_assert_uint_eq(relay_config_max_ack_delay(&c), 40);
	ck_assert_int_eq(parse(&c, big), -1);
	ck_assert_ptr_nonnull(strstr(err, "--max-ack-delay"));
}
END_TEST

START_TEST(unknown_option_is_named)
{
	struct relay_config c;
	const char *a[] = {"--plaintext", "--cache-grops", "3", NULL};

	ck_assert_int_eq(parse(&c, a), -1);
	ck_assert_ptr_nonnull(strstr(err, "cache-grops"));
}
END_TEST

START_TEST(sizes_take_suffixes_and_reject_garbage)
{
	uint64_t v;

	ck_assert_int_eq(relay_config_parse_size("64k", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(relay_config_parse_size("16M", &v), 0);
	ck_assert_uint_eq(v, 16u << 20);
	ck_assert_int_eq(relay_config_parse_size("1GiB", &v), 0);
	ck_assert_uint_eq(v, 1u << 30);
	ck_assert_int_eq(relay_config_parse_size("12x", &v), -1);
	ck_assert_int_eq(relay_config_parse_size("-1", &v), -1);
	ck_assert_int_eq(relay_config_parse_size("", &v), -1);
}
END_TEST

START_TEST(bad_number_names_the_option)
{
	struct relay_config c;
	const char *a[] = {"--plaintext", "--cache-groups", "many", NULL};
	const char *b[] = {"--plaintext", "--cache-groups", "0", NULL};

	ck_assert_int_eq(parse(&c, a), -1);
	ck_assert_ptr_nonnull(strstr(err, "--cache-groups"));
	ck_assert_int_eq(parse(&c, b), -1);
	ck_assert_ptr_nonnull(strstr(err, "--cache-groups"));
}
END_TEST

START_TEST(config_file_sets_options_and_command_line_overrides)
{
	struct relay_config c;
	char *p = tmpfile_with("# relay\n"
			       "plaintext = true\n"
			       "  cache-groups = 3   # comment\n"
			       "\n"
			       "listen = 127.0.0.1:5000\n"
			       "log-level = debug\n");
	const char *a[] = {"--config", p, "--cache-groups", "5", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert(c.plaintext);
	ck_assert_uint_eq(c.cache_groups, 5);
	ck_assert_uint_eq(c.listen_port, 5000);
	ck_assert_str_eq(c.listen_host, "127.0.0.1");
	ck_assert_int_eq(c.log_level, MOQ_LOG_DEBUG);
	unlink(p);
}
END_TEST

START_TEST(unknown_key_in_file_names_file_and_line)
{
	struct relay_config c;
	char *p = tmpfile_with("plaintext = true\n\ncache-size = 3\n");
	const char *a[] = {"--config", p, NULL};
	char want[128];

	ck_assert_int_eq(parse(&c, a), -1);
	snprintf(want, sizeof(want), "%s:3:", p);
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_ptr_nonnull(strstr(err, "cache-size"));
	unlink(p);
}
END_TEST

START_TEST(line_without_equals_is_an_error)
{
	struct relay_config c;

	relay_config_defaults(&c);
	ck_assert_int_eq(relay_config_load_text(&c, "plaintext\n", "f", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "f:1:"));
}
END_TEST

START_TEST(bad_value_in_file_names_line_and_option)
{
	struct relay_config c;

	relay_config_defaults(&c);
	ck_assert_int_eq(
	    relay_config_load_text(&c, "\n\nplaintext = perhaps\n", "f", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "f:3:"));
	ck_assert_ptr_nonnull(strstr(err, "plaintext"));
}
END_TEST

START_TEST(missing_config_file_is_reported)
{
	struct relay_config c;
	const char *a[] = {"--config", "/nonexistent/relay.conf", NULL};

	ck_assert_int_eq(parse(&c, a), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/relay.conf"));
}
END_TEST

START_TEST(upstream_url_forms)
{
	char host[64], path[64];
	uint16_t port;

	ck_assert_int_eq(relay_config_parse_url("moqt://10.0.0.1:4443/live", host, sizeof(host),
						&port, path, sizeof(path)),
			 0);
	ck_assert_str_eq(host, "10.0.0.1");
	ck_assert_uint_eq(port, 4443);
	ck_assert_str_eq(path, "/live");
	ck_assert_int_eq(
	    relay_config_parse_url("[fd77::1]:9", host, sizeof(host), &port, path, sizeof(path)),
	    0);
	ck_assert_str_eq(host, "fd77::1");
	ck_assert_int_eq(
	    relay_config_parse_url("https://x:1", host, sizeof(host), &port, path, sizeof(path)),
	    -1);
	ck_assert_int_eq(
	    relay_config_parse_url("x:0", host, sizeof(host), &port, path, sizeof(path)), -1);
	ck_assert_int_eq(relay_config_parse_url("x", host, sizeof(host), &port, path, sizeof(path)),
			 -1);
	/* a PATH the upstream would close the session for (MALFORMED_PATH) */
	ck_assert_int_eq(
	    relay_config_parse_url("moqt://x:1/a b", host, sizeof(host), &port, path, sizeof(path)),
	    -1);
	ck_assert_int_eq(relay_config_parse_url("moqt://x:1/a?b=1", host, sizeof(host), &port, path,
						sizeof(path)),
			 0);
}
END_TEST

START_TEST(token_file_first_line_is_the_token)
{
	struct relay_config c;
	char *p = tmpfile_with("s3cret\nignored\n");
	char path[64];
	const char *a[] = {"--plaintext", "--auth-token-file", path, NULL};
	const char *b[] = {"--plaintext", "--auth-token-file", path, "--auth-token", "x", NULL};

	strcpy(path, p);
	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_str_eq(c.auth_token, "s3cret");
	ck_assert_int_eq(parse(&c, b), -1);
	unlink(path);
}
END_TEST

START_TEST(role_token_files_and_options)
{
	struct relay_config c;
	char *p = tmpfile_with("pub-secret\n");
	char path[64];
	const char *a[] = {"--plaintext",	"--publish-token-file", path,
			   "--subscribe-token", "sub-secret",		NULL};
	const char *b[] = {"--plaintext", "--subscribe-token-file", path, "--subscribe-token", "x",
			   NULL};

	strcpy(path, p);
	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_str_eq(c.publish_token, "pub-secret");
	ck_assert_str_eq(c.subscribe_token, "sub-secret");
	ck_assert_str_eq(c.auth_token, "");
	ck_assert_int_eq(parse(&c, b), -1);
	ck_assert_msg(strstr(err, "give --subscribe-token or --subscribe-token-file, not both"),
		      "%s", err);
	unlink(path);
	const char *m[] = {"--plaintext", "--publish-token-file", path, NULL};
	ck_assert_int_eq(parse(&c, m), -1);
	ck_assert_msg(strstr(err, "--publish-token-file: cannot read"), "%s", err);
}
END_TEST

START_TEST(limits_have_safe_defaults)
{
	struct relay_config c;
	const char *a[] = {"--plaintext", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_uint_eq(c.max_sessions, 1000);
	ck_assert_uint_eq(c.max_subscriptions, 100);
	ck_assert_uint_eq(c.max_tracks, 1000);
	ck_assert_uint_eq(c.max_name_bytes, 4096);
	ck_assert_uint_eq(c.max_namespace_fields, 32);
	ck_assert_uint_eq(c.max_request_rate, 100);
	ck_assert_uint_eq(c.max_rendezvous, 1000);
	ck_assert_uint_eq(c.max_rendezvous_wait_ms, 10000);
}
END_TEST

START_TEST(limits_from_command_line_and_file)
{
	struct relay_config c;
	char *path = tmpfile_with("max-sessions = 7\n"
				  "max-subscriptions = 3\n"
				  "max-tracks = 9\n"
				  "max-name-bytes = 64  # small\n"
				  "max-namespace-fields = 4\n"
				  "max-request-rate = 0\n"
				  "max-rendezvous = 0\n"
				  "max-rendezvous-wait = 2.5\n");
	const char *a[] = {"--plaintext",	 "--config", path, "--max-tracks=11",
			   "--max-request-rate", "5",	     NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	unlink(path);
	ck_assert_uint_eq(c.max_sessions, 7);
	ck_assert_uint_eq(c.max_subscriptions, 3);
	ck_assert_uint_eq(c.max_tracks, 11); /* command line wins */
	ck_assert_uint_eq(c.max_name_bytes, 64);
	ck_assert_uint_eq(c.max_namespace_fields, 4);
	ck_assert_uint_eq(c.max_request_rate, 5);
	ck_assert_uint_eq(c.max_rendezvous, 0);
	ck_assert_uint_eq(c.max_rendezvous_wait_ms, 2500);
}
END_TEST

/* each bad value fails with a message that names the option */
START_TEST(limits_out_of_range_name_the_option)
{
	static const struct {
		const char *opt, *val, *says;
	} bad[] = {
	    {"--max-sessions", "0", "--max-sessions must be 1..1000000"},
	    {"--max-sessions", "1000001", "--max-sessions must be"},
	    {"--max-subscriptions", "0", "--max-subscriptions must be"},
	    {"--max-tracks", "0", "--max-tracks must be"},
	    {"--max-name-bytes", "0", "--max-name-bytes must be 1..4096"},
	    {"--max-name-bytes", "4097", "--max-name-bytes must be 1..4096"},
	    {"--max-namespace-fields", "0", "--max-namespace-fields must be 1..32"},
	    {"--max-namespace-fields", "33", "--max-namespace-fields must be 1..32"},
	    {"--max-request-rate", "1000001", "--max-request-rate must be 0..1000000"},
	    {"--max-request-rate", "-1", "not a whole number"},
	    {"--max-rendezvous", "1000001", "--max-rendezvous must be 0..1000000"},
	    {"--max-rendezvous-wait", "3601", "--max-rendezvous-wait must be 0..3600"},
	    {"--max-tracks", "10k", "not a whole number"},
	    {"--max-sessions", "", "not a whole number"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct relay_config c;
		const char *a[] = {"--plaintext", bad[i].opt, bad[i].val, NULL};

		ck_assert_int_eq(parse(&c, a), -1);
		ck_assert_msg(strstr(err, bad[i].says), "%s %s: '%s'", bad[i].opt, bad[i].val, err);
	}
}
END_TEST

START_TEST(limits_at_the_edges_are_accepted)
{
	struct relay_config c;
	const char *a[] = {"--plaintext", "--max-name-bytes",
			   "4096",	  "--max-namespace-fields",
			   "1",		  "--max-sessions",
			   "1",		  "--max-subscriptions",
			   "1000000",	  "--max-tracks",
			   "1",		  "--max-request-rate",
			   "0",		  NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_uint_eq(c.max_name_bytes, 4096);
	ck_assert_uint_eq(c.max_namespace_fields, 1);
	ck_assert_uint_eq(c.max_sessions, 1);
	ck_assert_uint_eq(c.max_subscriptions, 1000000);
	ck_assert_uint_eq(c.max_tracks, 1);
	ck_assert_uint_eq(c.max_request_rate, 0);
}
END_TEST

START_TEST(help_documents_the_limits)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	relay_config_usage(f, "moq-relayd");
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "--max-sessions N"));
	ck_assert_ptr_nonnull(strstr(buf, "--max-subscriptions N"));
	ck_assert_ptr_nonnull(strstr(buf, "--max-tracks N"));
	ck_assert_ptr_nonnull(strstr(buf, "--max-name-bytes N"));
	ck_assert_ptr_nonnull(strstr(buf, "--max-namespace-fields N"));
	ck_assert_ptr_nonnull(strstr(buf, "--max-request-rate N"));
	ck_assert_ptr_nonnull(strstr(buf, "EXCESSIVE_LOAD (0x9)"));
	ck_assert_ptr_nonnull(strstr(buf, "CONNECTION_REFUSED (0x2)"));
	free(buf);
}
END_TEST

START_TEST(help_is_recognised_before_validation)
{
	struct relay_config c;
	const char *a[] = {"--help", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert(c.help);
}
END_TEST

START_TEST(log_format_defaults_to_text_and_takes_json)
{
	struct relay_config c;
	const char *a[] = {"--plaintext", NULL};
	const char *b[] = {"--plaintext", "--log-format", "json", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_int_eq(c.log_format, MOQ_LOG_FORMAT_TEXT);
	ck_assert_int_eq(parse(&c, b), 0);
	ck_assert_int_eq(c.log_format, MOQ_LOG_FORMAT_JSON);
}
END_TEST

START_TEST(log_format_from_file_and_command_line_override)
{
	struct relay_config c;
	char *p = tmpfile_with("plaintext = true\nlog-format = json\n");
	const char *a[] = {"--config", p, NULL};
	const char *b[] = {"--config", p, "--log-format=text", NULL};

	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_int_eq(c.log_format, MOQ_LOG_FORMAT_JSON);
	ck_assert_int_eq(parse(&c, b), 0);
	ck_assert_int_eq(c.log_format, MOQ_LOG_FORMAT_TEXT);
	unlink(p);
}
END_TEST

START_TEST(bad_log_format_names_the_value_and_the_choices)
{
	struct relay_config c;
	const char *a[] = {"--plaintext", "--log-format", "xml", NULL};
	char *p = tmpfile_with("plaintext = true\nlog-format = yaml\n");
	const char *b[] = {"--config", p, NULL};

	ck_assert_int_eq(parse(&c, a), -1);
	ck_assert_str_eq(err, "--log-format: 'xml' is not text or json");
	ck_assert_int_eq(parse(&c, b), -1);
	ck_assert_ptr_nonnull(strstr(err, ":2: --log-format: 'yaml' is not text or json"));
	unlink(p);
}
END_TEST

START_TEST(qlog_dir_must_be_a_writable_directory)
{
	struct relay_config c;
	char dir[] = "/tmp/relayqlogXXXXXX";
	const char *a[] = {"--plaintext", "--qlog-dir", dir, NULL};
	const char *b[] = {"--plaintext", "--qlog-dir", "/nonexistent/qlog", NULL};
	char *f = tmpfile_with("x");
	const char *d[] = {"--plaintext", "--qlog-dir", f, NULL};

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert_str_eq(c.qlog_dir, dir);
	ck_assert_int_eq(parse(&c, b), -1);
	ck_assert_ptr_nonnull(
	    strstr(err, "--qlog-dir: '/nonexistent/qlog' is not a writable directory"));
	ck_assert_int_eq(parse(&c, d), -1);
	ck_assert_ptr_nonnull(strstr(err, "--qlog-dir"));
	rmdir(dir);
	unlink(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, defaults_with_plaintext);
	tcase_add_test(tc, max_ack_delay_follows_the_fast_path);
	tcase_add_test(tc, tls_without_cert_says_what_to_add);
	tcase_add_test(tc, fast_path_on_with_tls);
	tcase_add_test(tc, dev_cert_replaces_cert_and_key_and_needs_tls);
	tcase_add_test(tc, upstream_over_webtransport);
	tcase_add_test(tc, fast_path_raw_bounds);
	tcase_add_test(tc, fast_path_tick);
	tcase_add_test(tc, unknown_option_is_named);
	tcase_add_test(tc, sizes_take_suffixes_and_reject_garbage);
	tcase_add_test(tc, bad_number_names_the_option);
	tcase_add_test(tc, config_file_sets_options_and_command_line_overrides);
	tcase_add_test(tc, unknown_key_in_file_names_file_and_line);
	tcase_add_test(tc, line_without_equals_is_an_error);
	tcase_add_test(tc, bad_value_in_file_names_line_and_option);
	tcase_add_test(tc, missing_config_file_is_reported);
	tcase_add_test(tc, upstream_url_forms);
	tcase_add_test(tc, role_token_files_and_options);
	tcase_add_test(tc, token_file_first_line_is_the_token);
	tcase_add_test(tc, help_is_recognised_before_validation);
	tcase_add_test(tc, limits_have_safe_defaults);
	tcase_add_test(tc, limits_from_command_line_and_file);
	tcase_add_test(tc, limits_out_of_range_name_the_option);
	tcase_add_test(tc, limits_at_the_edges_are_accepted);
	tcase_add_test(tc, help_documents_the_limits);
	tcase_add_test(tc, log_format_defaults_to_text_and_takes_json);
	tcase_add_test(tc, log_format_from_file_and_command_line_override);
	tcase_add_test(tc, bad_log_format_names_the_value_and_the_choices);
	tcase_add_test(tc, qlog_dir_must_be_a_writable_directory);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
