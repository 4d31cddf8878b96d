/* SETUP's PATH and AUTHORITY options must follow RFC 3986 (draft-18 "PATH",
 * "AUTHORITY"): a non-conforming value closes that session with
 * MALFORMED_PATH / MALFORMED_AUTHORITY, and only that session. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/raw_peer.h"
#include "lib/session_harness.h"
#include "uri.h"

static bool path_ok(const char *s)
{
	return moq_uri_path_valid((const uint8_t *)s, strlen(s));
}

static bool auth_ok(const char *s)
{
	return moq_uri_authority_valid((const uint8_t *)s, strlen(s));
}

START_TEST(path_grammar_is_path_abempty_with_optional_query)
{
	const char *good[] = {"",
			      "/",
			      "/test",
			      "/a/b/",
			      "//x",
			      "/live%20x",
			      "/a:b@c!$&'()*+,;=",
			      "/~u/._-",
			      "/p?",
			      "/p?q=1&r=2",
			      "?only=query",
			      "/p?a/b?c:@",
			      "/%41%7e"};
	const char *bad[] = {"not a path", "a/b",   "/a b",	"/a%2",	 "/a%zz",
			     "/a#frag",	   "/[x]",  "/p?q=1 2", "/\x01", "/\xc3\xa9",
			     "/a\"b",	   "/a<b>", "/a\\b",	"%2Fa",	 "/p?q#f"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(path_ok(good[i]), "'%s' should be a valid PATH", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!path_ok(bad[i]), "'%s' should be a malformed PATH", bad[i]);
	/* an embedded NUL is not a URI character */
	ck_assert(!moq_uri_path_valid((const uint8_t *)"/a\0b", 4));
}
END_TEST

START_TEST(authority_grammar_needs_a_host_and_a_numeric_port)
{
	const char *good[] = {"localhost",
			      "127.0.0.1",
			      "127.0.0.1:4443",
			      "[::1]",
			      "[::1]:4443",
			      "[2001:db8::7]",
			      "user@host",
			      "u:p@h:1",
			      "@h",
			      "relay.example",
			      "h:",
			      "%41bc",
			      "[v1.x:y]",
			      "[::ffff:1.2.3.4]",
			      "a!$&'()*+,;=b",
			      "999.1.1.1"};
	const char *bad[] = {"",    "[::1",  "::1",   "[::1]x", "[::1]:a",    "h:44a",
			     "h o", "h:1:2", "[]",    "[zz]",	"a@b@c",      "h/p",
			     "h?q", "[v.x]", "[v1.]", ":80",	"[::1%eth0]", "h\x7f"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(auth_ok(good[i]), "'%s' should be a valid AUTHORITY", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!auth_ok(bad[i]), "'%s' should be a malformed AUTHORITY", bad[i]);
}
END_TEST

/* ---- a raw client sends the exact SETUP bytes from issue 14 ---- */

static bool cli_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].closed;
}

static void accept_any(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
}

static bool cli_subscribed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].last_msg_type == MOQ_CTRL_SUBSCRIBE_OK;
}

/* A well-behaved session is up; a raw peer sends `setup` on its control
 * stream and must be closed with `code`; the first session keeps working. */
static void raw_setup_closes(const uint8_t *setup, size_t n, uint64_t code)
{
	struct sh_world w;
	struct moq_quic_config cc;
	struct raw_peer r;
	char err[256];

	memset(&r, 0, sizeof(r));
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = accept_any;
	sh_connect_ready(&w);

	moq_quic_config_init(&cc);
	cc.plaintext = 1;
	cc.cb = &raw_peer_cb;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(w.loop, &cc, err, sizeof(err));
	ck_assert_msg(ep != NULL, "%s", err);
	ck_assert_ptr_nonnull(moq_quic_connect(ep, "127.0.0.1", moq_quic_endpoint_port(w.srv_ep),
					       &r, err, sizeof(err)));
	ck_assert(sh_run_until(&w, raw_peer_up, &r, 3000));
	ck_assert(!r.closed);
	int64_t ctl = moq_quic_stream_open_uni(r.c);
	ck_assert_int_ge(ctl, 0);
	ck_assert_int_eq(moq_quic_stream_write(r.c, ctl, setup, n, 0), 0);

	ck_assert(sh_run_until(&w, raw_peer_closed, &r, 3000));
	ck_assert_int_eq(r.close.origin, MOQ_QUIC_CLOSE_PEER);
	ck_assert_int_eq(r.close.app, 1);
	ck_assert_uint_eq(r.close.code, code);
	ck_assert_int_eq(w.nsrv, 2);
	ck_assert(w.srv[1].closed && !w.srv[1].ready);

	/* the other session is untouched and still serves requests */
	ck_assert(!w.cli[0].closed && !w.srv[0].closed);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	ck_assert(!sh_run_until(&w, cli_closed, &w, 100));
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}

START_TEST(setup_with_path_not_a_path_is_closed_malformed_path)
{
	/* PATH "not a path", AUTHORITY "127.0.0.1" */
	static const uint8_t b[] = {0xaf, 0x00, 0x00, 0x17, 0x01, 0x0a, 0x6e, 0x6f, 0x74,
				    0x20, 0x61, 0x20, 0x70, 0x61, 0x74, 0x68, 0x04, 0x09,
				    0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31};
	raw_setup_closes(b, sizeof(b), MOQ_SESSION_MALFORMED_PATH);
}
END_TEST

START_TEST(setup_with_authority_open_bracket_is_closed_malformed_authority)
{
	/* PATH "" (conforms), AUTHORITY "[::1" */
	static const uint8_t b[] = {0xaf, 0x00, 0x00, 0x08, 0x01, 0x00,
				    0x04, 0x04, 0x5b, 0x3a, 0x3a, 0x31};
	raw_setup_closes(b, sizeof(b), MOQ_SESSION_MALFORMED_AUTHORITY);
}
END_TEST

START_TEST(setup_with_query_and_ipv6_authority_is_accepted)
{
	struct sh_world w;
	sh_world_init(&w, false);
	w.cli_cfg.path = "/live%20x/a?q=1&r";
	w.cli_cfg.authority = "user@[::1]:4443";
	sh_connect_ready(&w);
	ck_assert_str_eq(moq_session_peer(w.srv[0].s)->path, "/live%20x/a?q=1&r");
	ck_assert_str_eq(moq_session_peer(w.srv[0].s)->authority, "user@[::1]:4443");
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_setup_uri");
	TCase *tc = tcase_create("setup_uri");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, path_grammar_is_path_abempty_with_optional_query);
	tcase_add_test(tc, authority_grammar_needs_a_host_and_a_numeric_port);
	tcase_add_test(tc, setup_with_path_not_a_path_is_closed_malformed_path);
	tcase_add_test(tc, setup_with_authority_open_bracket_is_closed_malformed_authority);
	tcase_add_test(tc, setup_with_query_and_ipv6_authority_is_accepted);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
