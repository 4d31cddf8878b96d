/* Text form of namespaces and track names (draft-18 "Representing Namespace
 * and Track Names"). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "names.h"

#define B(s) ((struct moq_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static char out[16384];
static uint8_t buf[16384];
static struct moq_namespace ns;
static struct moq_bytes name;
static bool has_name;

static int parse(const char *s)
{
	return moq_name_parse(&ns, &name, &has_name, buf, sizeof(buf), s, strlen(s));
}

START_TEST(draft_example_renders)
{
	struct moq_namespace n = {3, {B("example.net"), B("team2"), B("project_x")}};
	struct moq_bytes nm = B("report");
	int len = moq_name_render(out, sizeof(out), &n, &nm);
	ck_assert_str_eq(out, "example.2enet-team2-project_x--report");
	ck_assert_int_eq(len, (int)strlen(out));
}
END_TEST

START_TEST(draft_example_parses)
{
	ck_assert_int_gt(parse("example.2enet-team2-project_x--report"), 0);
	ck_assert_uint_eq(ns.nfields, 3);
	ck_assert_uint_eq(ns.fields[0].len, 11);
	ck_assert_mem_eq(ns.fields[0].ptr, "example.net", 11);
	ck_assert_mem_eq(ns.fields[2].ptr, "project_x", 9);
	ck_assert(has_name);
	ck_assert_uint_eq(name.len, 6);
	ck_assert_mem_eq(name.ptr, "report", 6);
}
END_TEST

START_TEST(binary_bytes_render_as_lowercase_hex)
{
	static const uint8_t bin[] = {0x00, 0xff, 0x2d, 0xAB};
	struct moq_namespace n = {1, {{bin, sizeof(bin)}}};
	moq_name_render(out, sizeof(out), &n, NULL);
	ck_assert_str_eq(out, ".00.ff.2d.ab");
}
END_TEST

START_TEST(every_byte_value_round_trips)
{
	static uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	struct moq_namespace n = {1, {{all, 256}}};
	struct moq_bytes nm = {all, 256};
	int len = moq_name_render(out, sizeof(out), &n, &nm);
	ck_assert_int_gt(len, 0);
	ck_assert_int_gt(moq_name_parse(&ns, &name, &has_name, buf, sizeof(buf), out, (size_t)len),
			 0);
	ck_assert_uint_eq(ns.nfields, 1);
	ck_assert_mem_eq(ns.fields[0].ptr, all, 256);
	ck_assert_mem_eq(name.ptr, all, 256);
}
END_TEST

START_TEST(namespace_without_name_has_no_double_hyphen)
{
	struct moq_namespace n = {2, {B("a"), B("b")}};
	moq_name_render(out, sizeof(out), &n, NULL);
	ck_assert_str_eq(out, "a-b");
	ck_assert_int_gt(parse("a-b"), 0);
	ck_assert(!has_name);
	ck_assert_uint_eq(ns.nfields, 2);
}
END_TEST

START_TEST(empty_namespace_with_name_starts_with_double_hyphen)
{
	struct moq_namespace n = {0};
	struct moq_bytes nm = B("t");
	moq_name_render(out, sizeof(out), &n, &nm);
	ck_assert_str_eq(out, "--t");
	ck_assert_int_ge(parse("--t"), 0);
	ck_assert_uint_eq(ns.nfields, 0);
	ck_assert(has_name);
}
END_TEST

START_TEST(empty_track_name_parses)
{
	ck_assert_int_ge(parse("a--"), 0);
	ck_assert(has_name);
	ck_assert_uint_eq(name.len, 0);
	ck_assert_uint_eq(ns.nfields, 1);
}
END_TEST

START_TEST(uppercase_hex_is_rejected)
{
	ck_assert_int_eq(parse("a.2E"), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(redundant_escape_is_rejected)
{
	ck_assert_int_eq(parse(".61"), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(parse("x--.5f"), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(short_escape_is_rejected)
{
	ck_assert_int_eq(parse("a."), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(parse("a.2"), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(parse("a.2g"), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(unescaped_special_character_is_rejected)
{
	ck_assert_int_eq(parse("a/b"), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(parse("a b"), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(empty_namespace_field_is_rejected)
{
	ck_assert_int_eq(parse("-a"), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(parse("a-"), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(parse("a---b"), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(thirty_three_fields_is_limit)
{
	char s[128] = "a";
	for (int i = 1; i < 33; i++)
		strcat(s, "-a");
	ck_assert_int_eq(parse(s), MOQ_ERR_LIMIT);
	s[strlen(s) - 2] = '\0'; /* 32 fields */
	ck_assert_int_ge(parse(s), 0);
	ck_assert_uint_eq(ns.nfields, 32);
}
END_TEST

START_TEST(render_into_short_buffer_is_buffer)
{
	struct moq_namespace n = {1, {B("abc")}};
	ck_assert_int_eq(moq_name_render(out, 3, &n, NULL), MOQ_ERR_BUFFER);
	ck_assert_int_eq(moq_name_render(out, 4, &n, NULL), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, draft_example_renders);
	tcase_add_test(tc, draft_example_parses);
	tcase_add_test(tc, binary_bytes_render_as_lowercase_hex);
	tcase_add_test(tc, every_byte_value_round_trips);
	tcase_add_test(tc, namespace_without_name_has_no_double_hyphen);
	tcase_add_test(tc, empty_namespace_with_name_starts_with_double_hyphen);
	tcase_add_test(tc, empty_track_name_parses);
	tcase_add_test(tc, uppercase_hex_is_rejected);
	tcase_add_test(tc, redundant_escape_is_rejected);
	tcase_add_test(tc, short_escape_is_rejected);
	tcase_add_test(tc, unescaped_special_character_is_rejected);
	tcase_add_test(tc, empty_namespace_field_is_rejected);
	tcase_add_test(tc, thirty_three_fields_is_limit);
	tcase_add_test(tc, render_into_short_buffer_is_buffer);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
