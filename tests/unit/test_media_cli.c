/* moq/media/cli: option values for moq-pub/moq-sub are parsed strictly and
 * every rejection says which option and what to give. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "media/cli.h"
#include "media/client.h"
#include "moq_codes.h"

static char err[MOQ_CLI_ERR_LEN];

START_TEST(integers_take_binary_unit_suffixes_when_allowed)
{
	uint64_t v;
	ck_assert_int_eq(moq_cli_u64("--x", "1500", 0, UINT64_MAX, 0, &v, err, sizeof err), 0);
	ck_assert_uint_eq(v, 1500);
	ck_assert_int_eq(moq_cli_u64("--x", "10K", 0, UINT64_MAX, 1, &v, err, sizeof err), 0);
	ck_assert_uint_eq(v, 10240);
	ck_assert_int_eq(moq_cli_u64("--x", "2M", 0, UINT64_MAX, 1, &v, err, sizeof err), 0);
	ck_assert_uint_eq(v, 2u << 20);
	ck_assert_int_eq(moq_cli_u64("--x", "10K", 0, UINT64_MAX, 0, &v, err, sizeof err), -1);
}
END_TEST

START_TEST(integers_reject_signs_garbage_and_out_of_range_values)
{
	uint64_t v = 7;
	const char *bad[] = {"", "-1", "+1", " 1", "1x", "abc", "1KK", "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(
		    moq_cli_u64("--count", bad[i], 0, UINT64_MAX, 1, &v, err, sizeof err), -1);
		ck_assert_ptr_nonnull(strstr(err, "--count"));
	}
	ck_assert_int_eq(moq_cli_u64("--priority", "256", 0, 255, 0, &v, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "0 to 255"));
	ck_assert_int_eq(moq_cli_u64("--size", "16E", 0, UINT64_MAX, 1, &v, err, sizeof err), -1);
	ck_assert_uint_eq(v, 7); /* untouched on error */
}
END_TEST

START_TEST(decimals_are_range_checked)
{
	double d;
	ck_assert_int_eq(moq_cli_double("--rate", "2.5", 0, 10, &d, err, sizeof err), 0);
	ck_assert(d == 2.5);
	ck_assert_int_eq(moq_cli_double("--rate", "11", 0, 10, &d, err, sizeof err), -1);
	ck_assert_int_eq(moq_cli_double("--rate", "nan", 0, 10, &d, err, sizeof err), -1);
	ck_assert_int_eq(moq_cli_double("--rate", "1s", 0, 10, &d, err, sizeof err), -1);
}
END_TEST

START_TEST(host_and_port_forms)
{
	char host[64];
	uint16_t port;
	ck_assert_int_eq(
	    moq_cli_hostport("A", "127.0.0.1:4443", host, sizeof host, &port, 0, err, sizeof err),
	    0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 4443);
	ck_assert_int_eq(
	    moq_cli_hostport("A", "[::1]:443", host, sizeof host, &port, 0, err, sizeof err), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 443);
	ck_assert_int_eq(moq_cli_hostport("A", ":0", host, sizeof host, &port, 1, err, sizeof err),
			 0);
	ck_assert_str_eq(host, "");
	ck_assert_uint_eq(port, 0);
	ck_assert_int_eq(
	    moq_cli_hostport("A", "relay.example:9", host, sizeof host, &port, 0, err, sizeof err),
	    0);
	ck_assert_str_eq(host, "relay.example");
}
END_TEST

START_TEST(bad_host_and_port_forms_are_rejected)
{
	char host[64];
	uint16_t port;
	const char *bad[] = {"",    "127.0.0.1:", "127.0.0.1:65536", "::1:443", "[::1]443",
			     "h:0", "h:x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(moq_cli_hostport("--listen", bad[i], host, sizeof host, &port, 0, err,
					       sizeof err) == -1,
			      "'%s' accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "--listen"));
	}
}
END_TEST

START_TEST(namespace_splits_on_slashes)
{
	struct moq_namespace ns;
	char store[64];
	ck_assert_int_eq(moq_cli_namespace("--namespace", "live/cam1/hd", &ns, store, sizeof store,
					   0, err, sizeof err),
			 0);
	ck_assert_uint_eq(ns.nfields, 3);
	ck_assert_uint_eq(ns.fields[1].len, 4);
	ck_assert_mem_eq(ns.fields[1].ptr, "cam1", 4);
	char back[64];
	moq_cli_namespace_str(&ns, back, sizeof back);
	ck_assert_str_eq(back, "live/cam1/hd");
}
END_TEST

START_TEST(namespace_rejects_empty_fields_and_too_many_fields)
{
	struct moq_namespace ns;
	char store[256];
	const char *bad[] = {"", "/a", "a/", "a//b"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(moq_cli_namespace("--namespace", bad[i], &ns, store, sizeof store,
						   0, err, sizeof err),
				 -1);
	char many[128] = "";
	for (int i = 0; i < 33; i++)
		strcat(many, i ? "/x" : "x");
	ck_assert_int_eq(
	    moq_cli_namespace("--namespace", many, &ns, store, sizeof store, 0, err, sizeof err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "32"));
	ck_assert_int_eq(
	    moq_cli_namespace("--namespace", "", &ns, store, sizeof store, 1, err, sizeof err), 0);
	ck_assert_uint_eq(ns.nfields, 0);
}
END_TEST

START_TEST(targets_native_or_webtransport_url)
{
	struct moq_cli_conn_opts o;
	struct moq_session_config sc;
	char host[256], err[256];
	uint16_t port;

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(
	    moq_cli_target(&o, "10.0.0.1:4443", host, sizeof host, &port, err, sizeof err), 0);
	ck_assert_int_eq(o.webtransport, 0);
	ck_assert_str_eq(host, "10.0.0.1");
	ck_assert_uint_eq(port, 4443);
	ck_assert_int_eq(moq_cli_target(&o, "https://127.0.0.1:4443/live?x=1", host, sizeof host,
					&port, err, sizeof err),
			 0);
	ck_assert_int_eq(o.webtransport, 1);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 4443);
	ck_assert_str_eq(o.wt_authority, "127.0.0.1:4443");
	ck_assert_str_eq(o.wt_path, "/live?x=1");
	memset(&sc, 0, sizeof(sc));
	moq_cli_session_target(&sc, &o);
	ck_assert_int_eq(sc.webtransport, 1);
	ck_assert_str_eq(sc.path, "/live?x=1");
	ck_assert_str_eq(sc.authority, "127.0.0.1:4443");
	/* no port: 443; no path: "/"; IPv6 in brackets */
	ck_assert_int_eq(
	    moq_cli_target(&o, "https://[::1]", host, sizeof host, &port, err, sizeof err), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 443);
	ck_assert_str_eq(o.wt_path, "/");
	ck_assert_int_eq(moq_cli_target(&o, "https://relay.example?q", host, sizeof host, &port,
					err, sizeof err),
			 0);
	ck_assert_str_eq(host, "relay.example");
	ck_assert_str_eq(o.wt_path, "/?q");
	/* no host, a fragment, a bad port */
	ck_assert_int_eq(moq_cli_target(&o, "https://", host, sizeof host, &port, err, sizeof err),
			 -1);
	ck_assert_int_eq(
	    moq_cli_target(&o, "https://:4443/", host, sizeof host, &port, err, sizeof err), -1);
	ck_assert_int_eq(
	    moq_cli_target(&o, "https://h/#f", host, sizeof host, &port, err, sizeof err), -1);
	ck_assert_int_eq(
	    moq_cli_target(&o, "https://h:99999/", host, sizeof host, &port, err, sizeof err), -1);
}
END_TEST

START_TEST(cert_hash_takes_64_hex_digits)
{
	struct moq_cli_conn_opts o;
	struct moq_quic_config q;
	char err[128];
	const char *h = "0e4486448f85406e09092fad842a0ff106943a7cf8d06be522a7778c47f041f6";

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(moq_cli_conn_option(&o, MOQ_CLI_OPT_CERT_HASH, h, err, sizeof err), 1);
	ck_assert_int_eq(o.has_cert_hash, 1);
	ck_assert_uint_eq(o.cert_hash[0], 0x0e);
	ck_assert_uint_eq(o.cert_hash[31], 0xf6);
	moq_cli_quic_config(&q, &o);
	ck_assert_int_eq(q.has_cert_sha256, 1);
	ck_assert(!memcmp(q.cert_sha256, o.cert_hash, 32));
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(moq_cli_conn_option(&o, MOQ_CLI_OPT_CERT_HASH, "0e44", err, sizeof err),
			 -1);
	ck_assert_int_eq(
	    moq_cli_conn_option(&o, MOQ_CLI_OPT_CERT_HASH,
				"0e4486448f85406e09092fad842a0ff106943a7cf8d06be522a7778c47f041fg",
				err, sizeof err),
	    -1);
	ck_assert_int_eq(
	    moq_cli_conn_option(&o, MOQ_CLI_OPT_CERT_HASH,
				"0e4486448f85406e09092fad842a0ff106943a7cf8d06be522a7778c47f041f6a",
				err, sizeof err),
	    -1);
	ck_assert_int_eq(o.has_cert_hash, 0);
}
END_TEST

START_TEST(token_is_a_use_value_token)
{
	struct moq_auth_token t;
	moq_cli_token(&t, "s3cret");
	ck_assert_uint_eq(t.alias_type, MOQ_ALIAS_USE_VALUE);
	ck_assert_uint_eq(t.token_value.len, 6);
	ck_assert_mem_eq(t.token_value.ptr, "s3cret", 6);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("media_cli");
	TCase *t = tcase_create("cli");
	tcase_add_test(t, integers_take_binary_unit_suffixes_when_allowed);
	tcase_add_test(t, integers_reject_signs_garbage_and_out_of_range_values);
	tcase_add_test(t, decimals_are_range_checked);
	tcase_add_test(t, host_and_port_forms);
	tcase_add_test(t, bad_host_and_port_forms_are_rejected);
	tcase_add_test(t, namespace_splits_on_slashes);
	tcase_add_test(t, namespace_rejects_empty_fields_and_too_many_fields);
	tcase_add_test(t, token_is_a_use_value_token);
	tcase_add_test(t, targets_native_or_webtransport_url);
	tcase_add_test(t, cert_hash_takes_64_hex_digits);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
