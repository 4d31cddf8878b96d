/* moq/json: the reader (exact integers, strings, errors with positions) and
 * the writer (escaping, byte strings), as used by moq-inspect. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static struct json_value *parse_ok(const char *s)
{
	struct json_value *v = NULL;
	struct json_error err = {0};
	int rc = json_parse(s, strlen(s), &v, &err);
	ck_assert_msg(rc == 0, "parse of '%s' failed: %s at %zu", s, err.msg, err.offset);
	return v;
}

static struct json_error parse_fail(const char *s, size_t len)
{
	struct json_value *v = NULL;
	struct json_error err = {0};
	ck_assert_int_eq(json_parse(s, len, &v, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_str_ne(err.msg, "");
	return err;
}

START_TEST(reader_keeps_2_pow_64_minus_1_exact)
{
	struct json_value *v = parse_ok("18446744073709551615");
	ck_assert_int_eq(v->type, JSON_NUMBER);
	ck_assert(v->num.is_u64);
	ck_assert_uint_eq(v->num.u64, UINT64_MAX);
	json_free(v);
}
END_TEST

START_TEST(reader_keeps_integers_a_double_cannot_hold)
{
	/* 2^53 + 1 rounds to 2^53 through a double */
	struct json_value *v = parse_ok("9007199254740993");
	ck_assert(v->num.is_u64);
	ck_assert_uint_eq(v->num.u64, 9007199254740993ull);
	json_free(v);
	v = parse_ok("18446744073709551614");
	ck_assert_uint_eq(v->num.u64, UINT64_MAX - 1);
	json_free(v);
}
END_TEST

START_TEST(reader_marks_2_pow_64_as_not_u64)
{
	struct json_value *v = parse_ok("18446744073709551616");
	ck_assert_int_eq(v->type, JSON_NUMBER);
	ck_assert(!v->num.is_u64);
	ck_assert_str_eq(v->num.text, "18446744073709551616");
	json_free(v);
}
END_TEST

START_TEST(reader_marks_signed_fraction_and_exponent_as_not_u64)
{
	const char *cases[] = {"-1", "-0", "1.0", "1e3", "0.5", "2E+2"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_value *v = parse_ok(cases[i]);
		ck_assert_int_eq(v->type, JSON_NUMBER);
		ck_assert_msg(!v->num.is_u64, "%s", cases[i]);
		ck_assert_str_eq(v->num.text, cases[i]);
		json_free(v);
	}
}
END_TEST

START_TEST(reader_rejects_bad_numbers)
{
	const char *cases[] = {"01", "-", "1.", ".5", "1e", "+1", "0x10", "1e+"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fail(cases[i], strlen(cases[i]));
}
END_TEST

START_TEST(reader_decodes_string_escapes)
{
	struct json_value *v = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\"");
	ck_assert_int_eq(v->type, JSON_STRING);
	ck_assert_uint_eq(v->str.len, 13);
	ck_assert_mem_eq(v->str.ptr, "a\"b\\c/d\b\f\n\r\tA", 13);
	json_free(v);
}
END_TEST

START_TEST(reader_keeps_nul_from_u0000_with_length)
{
	struct json_value *v = parse_ok("\"x\\u0000y\"");
	ck_assert_uint_eq(v->str.len, 3);
	ck_assert_mem_eq(v->str.ptr, "x\0y", 3);
	json_free(v);
}
END_TEST

START_TEST(reader_joins_surrogate_pairs_to_utf8)
{
	/* U+1F600 */
	struct json_value *v = parse_ok("\"\\ud83d\\ude00\"");
	ck_assert_uint_eq(v->str.len, 4);
	ck_assert_mem_eq(v->str.ptr, "\xf0\x9f\x98\x80", 4);
	json_free(v);
	/* U+00E9 as \u and as raw UTF-8 */
	v = parse_ok("\"\\u00e9\xc3\xa9\"");
	ck_assert_uint_eq(v->str.len, 4);
	ck_assert_mem_eq(v->str.ptr, "\xc3\xa9\xc3\xa9", 4);
	json_free(v);
}
END_TEST

START_TEST(reader_rejects_lone_surrogates)
{
	const char *cases[] = {"\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\""};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fail(cases[i], strlen(cases[i]));
}
END_TEST

START_TEST(reader_rejects_invalid_utf8)
{
	const char *cases[] = {
	    "\"\xff\"",		    /* never valid */
	    "\"\xc3\"",		    /* truncated */
	    "\"\xc0\xaf\"",	    /* overlong */
	    "\"\xed\xa0\x80\"",	    /* encoded surrogate */
	    "\"\xf4\x90\x80\x80\"", /* > U+10FFFF */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_error e = parse_fail(cases[i], strlen(cases[i]));
		ck_assert_uint_eq(e.offset, 1);
	}
}
END_TEST

START_TEST(reader_rejects_raw_control_characters_in_strings)
{
	struct json_error e = parse_fail("\"a\nb\"", 5);
	ck_assert_uint_eq(e.offset, 2);
	ck_assert_ptr_nonnull(strstr(e.msg, "control character"));
}
END_TEST

START_TEST(reader_rejects_bad_escapes)
{
	const char *cases[] = {"\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fail(cases[i], strlen(cases[i]));
}
END_TEST

START_TEST(reader_builds_objects_and_arrays)
{
	struct json_value *v =
	    parse_ok(" { \"type\" : \"SUBSCRIBE\", \"ns\": [\"a\", {\"hex\":\"00\"}],"
		     " \"ok\": true, \"no\": false, \"nil\": null, \"e\": [], \"o\": {} } ");
	const struct json_value *ns, *x;
	ck_assert_int_eq(v->type, JSON_OBJECT);
	ck_assert_uint_eq(v->obj.n, 7);
	x = json_get(v, "type");
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->str.ptr, "SUBSCRIBE");
	ns = json_get(v, "ns");
	ck_assert_int_eq(ns->type, JSON_ARRAY);
	ck_assert_uint_eq(ns->arr.n, 2);
	ck_assert_str_eq(json_get(ns->arr.items[1], "hex")->str.ptr, "00");
	ck_assert(json_get(v, "ok")->b);
	ck_assert(!json_get(v, "no")->b);
	ck_assert_int_eq(json_get(v, "nil")->type, JSON_NULL);
	ck_assert_uint_eq(json_get(v, "e")->arr.n, 0);
	ck_assert_uint_eq(json_get(v, "o")->obj.n, 0);
	ck_assert_ptr_null(json_get(v, "missing"));
	ck_assert_ptr_null(json_get(ns, "type")); /* not an object */
	json_free(v);
}
END_TEST

START_TEST(reader_records_value_offsets)
{
	struct json_value *v = parse_ok("{\"a\": 17}");
	ck_assert_uint_eq(v->offset, 0);
	ck_assert_uint_eq(json_get(v, "a")->offset, 6);
	json_free(v);
}
END_TEST

START_TEST(reader_rejects_duplicate_keys)
{
	struct json_error e = parse_fail("{\"a\":1,\"a\":2}", 13);
	ck_assert_uint_eq(e.offset, 7);
	ck_assert_ptr_nonnull(strstr(e.msg, "duplicate"));
}
END_TEST

START_TEST(reader_reports_line_and_column)
{
	const char *s = "{\n  \"a\": 1,\n  \"b\": tru\n}";
	struct json_error e = parse_fail(s, strlen(s));
	ck_assert_uint_eq(e.line, 3);
	ck_assert_uint_eq(e.col, 8);
	ck_assert_uint_eq(e.offset, 19);
}
END_TEST

START_TEST(reader_rejects_structural_errors)
{
	const char *cases[] = {"",	   "{",	    "[1,]",	  "[1 2]", "{\"a\"}",
			       "{\"a\":}", "{1:2}", "{\"a\":1,}", "nul",   "]",
			       "[",	   "\"abc", "{\"a\":1",	  "truex"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fail(cases[i], strlen(cases[i]));
}
END_TEST

START_TEST(reader_rejects_trailing_data)
{
	struct json_error e = parse_fail("{} {}", 5);
	ck_assert_uint_eq(e.offset, 3);
}
END_TEST

START_TEST(reader_limits_nesting_depth)
{
	char deep[2 * JSON_MAX_DEPTH + 3];
	size_t n = JSON_MAX_DEPTH + 1;
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	struct json_error e = parse_fail(deep, 2 * n);
	ck_assert_uint_eq(e.offset, JSON_MAX_DEPTH);
	/* exactly the limit is fine */
	deep[2 * JSON_MAX_DEPTH] = '\0';
	memset(deep, '[', JSON_MAX_DEPTH);
	memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	json_free(parse_ok(deep));
}
END_TEST

START_TEST(reader_fails_cleanly_on_every_truncation)
{
	const char *s = "{\"a\":[1,\"x\\u00e9\",{\"b\":null}],\"c\":true}";
	size_t len = strlen(s);
	for (size_t k = 0; k < len; k++)
		parse_fail(s, k);
	json_free(parse_ok(s));
}
END_TEST

START_TEST(reader_streams_values_one_after_another)
{
	const char *s = "{\"a\":1}\n{\"a\":2}\n  \n";
	size_t off = 0, used;
	struct json_value *v;
	struct json_error err;
	uint64_t want = 1;

	while (json_parse_next(s + off, strlen(s) - off, &v, &used, &err) == 1) {
		ck_assert_uint_eq(json_get(v, "a")->num.u64, want++);
		json_free(v);
		off += used;
	}
	ck_assert_uint_eq(want, 3);
	ck_assert_uint_eq(off + used, strlen(s));
	ck_assert_int_eq(json_parse_next("  {", 3, &v, &used, &err), -1);
	ck_assert_uint_eq(err.offset, 3);
}
END_TEST

START_TEST(writer_inserts_commas_and_colons)
{
	struct json_writer w;
	json_writer_init(&w);
	json_begin_object(&w);
	json_kv_cstring(&w, "type", "SUBSCRIBE");
	json_key(&w, "ns");
	json_begin_array(&w);
	json_cstring(&w, "a");
	json_cstring(&w, "b");
	json_begin_object(&w);
	json_end_object(&w);
	json_end_array(&w);
	json_kv_u64(&w, "max", UINT64_MAX);
	json_kv_bool(&w, "t", true);
	json_key(&w, "n");
	json_null(&w);
	json_end_object(&w);
	ck_assert(!w.oom);
	ck_assert_str_eq(w.buf, "{\"type\":\"SUBSCRIBE\",\"ns\":[\"a\",\"b\",{}],"
				"\"max\":18446744073709551615,\"t\":true,\"n\":null}");
	json_writer_free(&w);
}
END_TEST

START_TEST(writer_escapes_strings)
{
	struct json_writer w;
	json_writer_init(&w);
	json_string(&w, "q\"b\\n\n\x01\x1f\x7f", 9);
	ck_assert_str_eq(w.buf, "\"q\\\"b\\\\n\\n\\u0001\\u001f\x7f\"");
	json_writer_free(&w);
}
END_TEST

START_TEST(writer_prints_printable_bytes_as_string_else_hex)
{
	struct json_writer w;
	json_writer_init(&w);
	json_begin_array(&w);
	json_bytes(&w, (const uint8_t *)"live \"x\"", 8);
	json_bytes(&w, (const uint8_t *)"a\x00", 2);
	json_bytes(&w, (const uint8_t *)"\xc3\xa9", 2); /* UTF-8 is not ASCII */
	json_bytes(&w, (const uint8_t *)"", 0);
	json_end_array(&w);
	ck_assert_str_eq(w.buf, "[\"live \\\"x\\\"\",{\"hex\":\"6100\"},"
				"{\"hex\":\"c3a9\"},\"\"]");
	json_writer_free(&w);
}
END_TEST

START_TEST(writer_output_reads_back)
{
	struct json_writer w;
	struct json_value *v;
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)(i + 1 == 256 ? 0 : i + 1);
	json_writer_init(&w);
	json_begin_object(&w);
	json_key(&w, "s");
	json_string(&w, all, 127); /* 0x01..0x7f */
	json_end_object(&w);
	v = parse_ok(w.buf);
	ck_assert_uint_eq(json_get(v, "s")->str.len, 127);
	ck_assert_mem_eq(json_get(v, "s")->str.ptr, all, 127);
	json_free(v);
	json_writer_reset(&w);
	ck_assert_uint_eq(w.len, 0);
	json_u64(&w, 5);
	ck_assert_str_eq(w.buf, "5");
	json_writer_free(&w);
}
END_TEST

START_TEST(writer_nests_as_deep_as_the_reader)
{
	struct json_writer w;
	struct json_value *v;
	json_writer_init(&w);
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		json_begin_array(&w);
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		json_end_array(&w);
	ck_assert(!w.oom);
	v = parse_ok(w.buf);
	json_free(v);
	/* one level more cannot be read back: the writer flags it */
	json_writer_reset(&w);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		json_begin_array(&w);
	ck_assert(w.oom);
	json_writer_free(&w);
}
END_TEST

START_TEST(hex_decode_accepts_both_cases_and_reports_bad_digit)
{
	uint8_t out[4];
	size_t bad = 0;
	ck_assert_int_eq(json_hex_decode(out, "00fFa1", 6, &bad), 3);
	ck_assert_mem_eq(out, "\x00\xff\xa1", 3);
	ck_assert_int_eq(json_hex_decode(out, "0g", 2, &bad), -1);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(json_hex_decode(out, "abc", 3, &bad), -1);
	ck_assert_uint_eq(bad, 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *r = tcase_create("reader");
	tcase_add_test(r, reader_keeps_2_pow_64_minus_1_exact);
	tcase_add_test(r, reader_keeps_integers_a_double_cannot_hold);
	tcase_add_test(r, reader_marks_2_pow_64_as_not_u64);
	tcase_add_test(r, reader_marks_signed_fraction_and_exponent_as_not_u64);
	tcase_add_test(r, reader_rejects_bad_numbers);
	tcase_add_test(r, reader_decodes_string_escapes);
	tcase_add_test(r, reader_keeps_nul_from_u0000_with_length);
	tcase_add_test(r, reader_joins_surrogate_pairs_to_utf8);
	tcase_add_test(r, reader_rejects_lone_surrogates);
	tcase_add_test(r, reader_rejects_invalid_utf8);
	tcase_add_test(r, reader_rejects_raw_control_characters_in_strings);
	tcase_add_test(r, reader_rejects_bad_escapes);
	tcase_add_test(r, reader_builds_objects_and_arrays);
	tcase_add_test(r, reader_records_value_offsets);
	tcase_add_test(r, reader_rejects_duplicate_keys);
	tcase_add_test(r, reader_reports_line_and_column);
	tcase_add_test(r, reader_rejects_structural_errors);
	tcase_add_test(r, reader_rejects_trailing_data);
	tcase_add_test(r, reader_limits_nesting_depth);
	tcase_add_test(r, reader_fails_cleanly_on_every_truncation);
	tcase_add_test(r, reader_streams_values_one_after_another);
	suite_add_tcase(s, r);
	TCase *w = tcase_create("writer");
	tcase_add_test(w, writer_inserts_commas_and_colons);
	tcase_add_test(w, writer_escapes_strings);
	tcase_add_test(w, writer_prints_printable_bytes_as_string_else_hex);
	tcase_add_test(w, writer_output_reads_back);
	tcase_add_test(w, writer_nests_as_deep_as_the_reader);
	tcase_add_test(w, hex_decode_accepts_both_cases_and_reports_bad_digit);
	suite_add_tcase(s, w);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
