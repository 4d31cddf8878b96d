/* moq/log: formats (text, JSON), escaping, level filtering, context
 * scopes. Output goes to a memory stream (moq_log_set_output). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

static char *g_buf;
static size_t g_len;
static FILE *g_f;

static void setup(void)
{
	g_buf = NULL;
	g_len = 0;
	g_f = open_memstream(&g_buf, &g_len);
	ck_assert_ptr_nonnull(g_f);
	moq_log_set_output(g_f);
	moq_log_set_level(MOQ_LOG_DEBUG);
	moq_log_set_format(MOQ_LOG_FORMAT_TEXT);
	ck_assert_ptr_null(moq_log_ctx_get());
}

static void teardown(void)
{
	moq_log_set_output(NULL);
	fclose(g_f);
	free(g_buf);
}

/* everything written so far */
static const char *out(void)
{
	fflush(g_f);
	return g_buf ? g_buf : "";
}

/* the one JSON line written so far, parsed */
static struct json_value *json_line(void)
{
	const char *s = out();
	size_t n = strlen(s);
	struct json_value *v = NULL;
	struct json_error e;

	ck_assert_msg(n > 0 && s[n - 1] == '\n', "no line: '%s'", s);
	ck_assert_msg(memchr(s, '\n', n - 1) == NULL, "more than one line: '%s'", s);
	ck_assert_msg(json_parse(s, n - 1, &v, &e) == 0, "not JSON (%s at %zu): %s", e.msg,
		      e.offset, s);
	ck_assert_int_eq(v->type, JSON_OBJECT);
	return v;
}

static const char *jstr(const struct json_value *v, const char *key)
{
	const struct json_value *m = json_get(v, key);

	if (!m)
		return NULL;
	ck_assert_int_eq(m->type, JSON_STRING);
	return m->str.ptr;
}

/* ---- text ---- */

START_TEST(text_line_without_context_is_unchanged)
{
	moq_warn("quic", "cannot bind %s: %s", "[::]:4443", "in use");
	ck_assert_str_eq(out(), "warn quic: cannot bind [::]:4443: in use\n");
}
END_TEST

START_TEST(text_appends_session_peer_and_track)
{
	struct moq_log_scope s, t;

	moq_log_scope_session(&s, 12, "10.77.1.2:4433");
	moq_log_scope_track(&t, "ns--name");
	moq_info("relayd", "hello");
	moq_log_scope_end(&t);
	moq_log_scope_end(&s);
	ck_assert_str_eq(out(),
			 "info relayd: hello session=12 peer=10.77.1.2:4433 track=ns--name\n");
}
END_TEST

START_TEST(text_omits_unknown_context_parts)
{
	struct moq_log_scope s;

	moq_log_scope_session(&s, 0, "[::1]:5");
	moq_err("x", "a");
	moq_log_scope_end(&s);
	moq_log_scope_session(&s, 7, NULL);
	moq_err("x", "b");
	moq_log_scope_end(&s);
	ck_assert_str_eq(out(), "error x: a peer=[::1]:5\nerror x: b session=7\n");
}
END_TEST

START_TEST(text_quotes_context_values_that_are_not_plain)
{
	struct moq_log_scope s, t;

	moq_log_scope_session(&s, 1, "a b");
	moq_log_scope_track(&t, "x=\"y\"\n");
	moq_warn("m", "z");
	moq_log_scope_end(&t);
	moq_log_scope_end(&s);
	ck_assert_str_eq(out(), "warn m: z session=1 peer=\"a b\" track=\"x=\\\"y\\\"\\n\"\n");
}
END_TEST

START_TEST(text_escapes_control_bytes_in_the_message)
{
	moq_warn("m", "reason: %s", "evil\nwarn relayd: forged\r\x7f");
	ck_assert_str_eq(out(), "warn m: reason: evil\\x0awarn relayd: forged\\x0d\\x7f\n");
}
END_TEST

/* ---- JSON ---- */

START_TEST(json_has_every_key_when_known)
{
	struct moq_log_scope s, t;
	struct json_value *v;
	const struct json_value *sess;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_log_scope_session(&s, 12, "10.77.1.2:4433");
	moq_log_scope_track(&t, "ns--name");
	moq_warn("fastpath", "gate dropped %d", 3);
	moq_log_scope_end(&t);
	moq_log_scope_end(&s);
	v = json_line();
	ck_assert_str_eq(jstr(v, "level"), "warn");
	ck_assert_str_eq(jstr(v, "module"), "fastpath");
	ck_assert_str_eq(jstr(v, "msg"), "gate dropped 3");
	ck_assert_str_eq(jstr(v, "peer"), "10.77.1.2:4433");
	ck_assert_str_eq(jstr(v, "track"), "ns--name");
	sess = json_get(v, "session");
	ck_assert_ptr_nonnull(sess);
	ck_assert_int_eq(sess->type, JSON_NUMBER);
	ck_assert(sess->num.is_u64);
	ck_assert_uint_eq(sess->num.u64, 12);
	ck_assert_uint_eq(v->obj.n, 7);
	json_free(v);
}
END_TEST

START_TEST(json_omits_unknown_keys)
{
	struct json_value *v;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_info("relayd", "listening");
	v = json_line();
	ck_assert_uint_eq(v->obj.n, 4);
	ck_assert_ptr_nonnull(json_get(v, "ts"));
	ck_assert_ptr_null(json_get(v, "session"));
	ck_assert_ptr_null(json_get(v, "peer"));
	ck_assert_ptr_null(json_get(v, "track"));
	json_free(v);
}
END_TEST

START_TEST(json_track_scope_without_session_has_track_only)
{
	struct moq_log_scope t;
	struct json_value *v;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_log_scope_track(&t, "a--b");
	moq_info("relayd", "x");
	moq_log_scope_end(&t);
	v = json_line();
	ck_assert_str_eq(jstr(v, "track"), "a--b");
	ck_assert_ptr_null(json_get(v, "session"));
	ck_assert_ptr_null(json_get(v, "peer"));
	json_free(v);
}
END_TEST

START_TEST(json_ts_is_rfc3339_utc_with_microseconds)
{
	struct json_value *v;
	const char *ts;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_info("m", "x");
	v = json_line();
	ts = jstr(v, "ts");
	ck_assert_uint_eq(strlen(ts), strlen("2026-01-02T03:04:05.123456Z"));
	for (size_t i = 0; ts[i]; i++) {
		const char *tmpl = "dddd-dd-ddTdd:dd:dd.ddddddZ";

		if (tmpl[i] == 'd')
			ck_assert_msg(ts[i] >= '0' && ts[i] <= '9', "ts %s", ts);
		else
			ck_assert_int_eq(ts[i], tmpl[i]);
	}
	json_free(v);
}
END_TEST

START_TEST(json_escapes_quotes_backslash_and_control_characters)
{
	struct json_value *v;
	const char *raw;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_warn("m", "q\"b\\n\nt\tc\x01"
		      "d\x7f"
		      "e\x1f");
	raw = out();
	ck_assert_ptr_nonnull(
	    strstr(raw, "\"msg\":\"q\\\"b\\\\n\\nt\\tc\\u0001d\\u007fe\\u001f\""));
	v = json_line();
	ck_assert_str_eq(jstr(v, "msg"), "q\"b\\n\nt\tc\x01"
					 "d\x7f"
					 "e\x1f");
	json_free(v);
}
END_TEST

START_TEST(json_keeps_valid_utf8_and_replaces_invalid_bytes)
{
	struct json_value *v;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	/* é (2 bytes), € (3), 😀 (4) pass; a lone 0xff, an overlong "/"
	 * (c0 af), a surrogate (ed a0 80) and a truncated € (e2 82) do not */
	moq_warn("m", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xff|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
	v = json_line();
	ck_assert_str_eq(
	    jstr(v, "msg"),
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
	json_free(v);
}
END_TEST

START_TEST(json_escapes_context_values_and_module)
{
	struct moq_log_scope s, t;
	struct json_value *v;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_log_scope_session(&s, 3, "\"p\"");
	moq_log_scope_track(&t, "t\n\xff");
	moq_info("mo\"d", "x");
	moq_log_scope_end(&t);
	moq_log_scope_end(&s);
	v = json_line();
	ck_assert_str_eq(jstr(v, "module"), "mo\"d");
	ck_assert_str_eq(jstr(v, "peer"), "\"p\"");
	ck_assert_str_eq(jstr(v, "track"), "t\n\xef\xbf\xbd");
	json_free(v);
}
END_TEST

START_TEST(json_long_message_is_cut_but_line_stays_valid)
{
	struct moq_log_scope s, t;
	char big[2000];
	struct json_value *v;

	memset(big, 1, sizeof(big) - 1); /* 6 bytes each once escaped */
	big[sizeof(big) - 1] = 0;
	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_log_scope_session(&s, 9, "1.2.3.4:5");
	moq_log_scope_track(&t, "tr");
	moq_warn("m", "%s", big);
	moq_log_scope_end(&t);
	moq_log_scope_end(&s);
	v = json_line();
	ck_assert_uint_eq(strlen(jstr(v, "msg")), 1023); /* moq_log's cut */
	ck_assert_uint_eq(jstr(v, "msg")[0], 1);
	ck_assert_str_eq(jstr(v, "track"), "tr");
	json_free(v);
}
END_TEST

/* ---- levels ---- */

static int g_evaluated;

static int side_effect(void)
{
	return ++g_evaluated;
}

START_TEST(level_filters_lines_and_skips_their_arguments)
{
	moq_log_set_level(MOQ_LOG_WARN);
	g_evaluated = 0;
	moq_info("m", "%d", side_effect());
	moq_dbg("m", "%d", side_effect());
	ck_assert_int_eq(g_evaluated, 0);
	ck_assert_str_eq(out(), "");
	moq_warn("m", "%d", side_effect());
	moq_err("m", "e");
	ck_assert_int_eq(g_evaluated, 1);
	ck_assert_str_eq(out(), "warn m: 1\nerror m: e\n");
}
END_TEST

START_TEST(level_filters_json_too_and_emit_ignores_it)
{
	struct json_value *v;

	moq_log_set_format(MOQ_LOG_FORMAT_JSON);
	moq_log_set_level(MOQ_LOG_ERROR);
	moq_warn("m", "dropped");
	ck_assert_str_eq(out(), "");
	moq_log_emit(MOQ_LOG_INFO, "stats", "stats sessions=1");
	v = json_line();
	ck_assert_str_eq(jstr(v, "level"), "info");
	ck_assert_str_eq(jstr(v, "module"), "stats");
	json_free(v);
}
END_TEST

START_TEST(parse_level_and_format)
{
	ck_assert_int_eq(moq_log_parse_level("debug"), MOQ_LOG_DEBUG);
	ck_assert_int_eq(moq_log_parse_level("2"), MOQ_LOG_INFO);
	ck_assert_int_eq(moq_log_parse_level("verbose"), -1);
	ck_assert_int_eq(moq_log_parse_format("text"), MOQ_LOG_FORMAT_TEXT);
	ck_assert_int_eq(moq_log_parse_format("json"), MOQ_LOG_FORMAT_JSON);
	ck_assert_int_eq(moq_log_parse_format("xml"), -1);
	ck_assert_int_eq(moq_log_parse_format("JSON"), -1);
	ck_assert_int_eq(moq_log_parse_format(NULL), -1);
}
END_TEST

/* ---- scopes ---- */

START_TEST(scopes_nest_and_restore_in_reverse_order)
{
	struct moq_log_scope a, t, b;

	moq_log_scope_session(&a, 1, "A:1");
	moq_log_scope_track(&t, "trk");
	/* another session's callback nested in it: no track of the outer */
	moq_log_scope_session(&b, 2, "B:2");
	moq_warn("m", "in b");
	moq_log_scope_end(&b);
	moq_warn("m", "back in a");
	moq_log_scope_end(&t);
	moq_warn("m", "a only");
	moq_log_scope_end(&a);
	moq_warn("m", "none");
	ck_assert_ptr_null(moq_log_ctx_get());
	ck_assert_str_eq(out(), "warn m: in b session=2 peer=B:2\n"
				"warn m: back in a session=1 peer=A:1 track=trk\n"
				"warn m: a only session=1 peer=A:1\n"
				"warn m: none\n");
}
END_TEST

START_TEST(scope_copies_values_so_the_source_may_go_away)
{
	struct moq_log_scope s, t;
	char *peer = strdup("9.9.9.9:9"), *track = strdup("gone--soon");

	moq_log_scope_session(&s, 4, peer);
	moq_log_scope_track(&t, track);
	free(peer);
	free(track);
	moq_warn("m", "after free");
	moq_log_scope_end(&t);
	moq_log_scope_end(&s);
	ck_assert_str_eq(out(), "warn m: after free session=4 peer=9.9.9.9:9 track=gone--soon\n");
}
END_TEST

START_TEST(long_track_is_cut_with_dots)
{
	struct moq_log_scope t;
	char name[600];
	const struct moq_log_ctx *c;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	moq_log_scope_track(&t, name);
	c = moq_log_ctx_get();
	ck_assert_uint_eq(strlen(c->track), MOQ_LOG_TRACK_MAX - 1);
	ck_assert_str_eq(c->track + MOQ_LOG_TRACK_MAX - 4, "...");
	moq_log_scope_end(&t);
}
END_TEST

START_TEST(track_scope_with_empty_name_clears_the_track)
{
	struct moq_log_scope s, t, u;

	moq_log_scope_session(&s, 5, "p:1");
	moq_log_scope_track(&t, "x");
	moq_log_scope_track(&u, NULL);
	moq_warn("m", "m");
	moq_log_scope_end(&u);
	moq_log_scope_end(&t);
	moq_log_scope_end(&s);
	ck_assert_str_eq(out(), "warn m: m session=5 peer=p:1\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("text");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, text_line_without_context_is_unchanged);
	tcase_add_test(tc, text_appends_session_peer_and_track);
	tcase_add_test(tc, text_omits_unknown_context_parts);
	tcase_add_test(tc, text_quotes_context_values_that_are_not_plain);
	tcase_add_test(tc, text_escapes_control_bytes_in_the_message);
	suite_add_tcase(s, tc);
	tc = tcase_create("json");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, json_has_every_key_when_known);
	tcase_add_test(tc, json_omits_unknown_keys);
	tcase_add_test(tc, json_track_scope_without_session_has_track_only);
	tcase_add_test(tc, json_ts_is_rfc3339_utc_with_microseconds);
	tcase_add_test(tc, json_escapes_quotes_backslash_and_control_characters);
	tcase_add_test(tc, json_keeps_valid_utf8_and_replaces_invalid_bytes);
	tcase_add_test(tc, json_escapes_context_values_and_module);
	tcase_add_test(tc, json_long_message_is_cut_but_line_stays_valid);
	suite_add_tcase(s, tc);
	tc = tcase_create("levels");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, level_filters_lines_and_skips_their_arguments);
	tcase_add_test(tc, level_filters_json_too_and_emit_ignores_it);
	tcase_add_test(tc, parse_level_and_format);
	suite_add_tcase(s, tc);
	tc = tcase_create("scopes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scopes_nest_and_restore_in_reverse_order);
	tcase_add_test(tc, scope_copies_values_so_the_source_may_go_away);
	tcase_add_test(tc, long_track_is_cut_with_dots);
	tcase_add_test(tc, track_scope_with_empty_name_clears_the_track);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
