/* moq/media/reorder: objects from several subgroup streams come out in
 * (group, object) order, for moq-sub --output. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "media/reorder.h"

struct out {
	uint64_t g[64], o[64];
	char bytes[256];
	size_t n, blen;
};

static void emit(void *arg, uint64_t group, uint64_t object, const uint8_t *d, size_t len)
{
	struct out *o = arg;
	o->g[o->n] = group;
	o->o[o->n++] = object;
	memcpy(o->bytes + o->blen, d, len);
	o->blen += len;
}

static void add(struct moq_reorder *r, uint64_t g, uint64_t o, uint32_t n, const char *s)
{
	ck_assert_int_eq(moq_reorder_add(r, g, o, n, (const uint8_t *)s, strlen(s)), 0);
}

START_TEST(interleaved_subgroups_come_out_in_object_order)
{
	struct out o = {0};
	struct moq_reorder *r = moq_reorder_new(4, emit, &o);
	/* subgroup 1 (objects 1, 2) overtakes subgroup 0 (object 0) */
	add(r, 0, 1, 3, "b");
	add(r, 0, 2, 3, "c");
	ck_assert_uint_eq(o.n, 0);
	add(r, 0, 0, 3, "a");
	ck_assert_uint_eq(o.n, 3);
	ck_assert_mem_eq(o.bytes, "abc", 3);
	moq_reorder_free(r);
}
END_TEST

START_TEST(a_complete_later_group_waits_for_the_one_before)
{
	struct out o = {0};
	struct moq_reorder *r = moq_reorder_new(4, emit, &o);
	add(r, 0, 0, 1, "a");
	add(r, 2, 0, 1, "x"); /* group 1 not there yet */
	ck_assert_uint_eq(o.n, 1);
	add(r, 1, 0, 1, "m");
	ck_assert_uint_eq(o.n, 3);
	ck_assert_mem_eq(o.bytes, "amx", 3);
	moq_reorder_free(r);
}
END_TEST

START_TEST(too_many_pending_groups_release_the_oldest_with_holes)
{
	struct out o = {0};
	struct moq_reorder *r = moq_reorder_new(2, emit, &o);
	add(r, 0, 0, 2, "a"); /* object 1 of group 0 is lost */
	add(r, 1, 0, 1, "b");
	ck_assert_uint_eq(o.n, 0);
	add(r, 2, 0, 1, "c"); /* three pending > 2: group 0 goes, then 1, 2 */
	ck_assert_uint_eq(o.n, 3);
	ck_assert_mem_eq(o.bytes, "abc", 3);
	struct moq_reorder_stats st;
	moq_reorder_stats(r, &st);
	ck_assert_uint_eq(st.groups_incomplete, 1);
	/* the lost object turning up now is late */
	ck_assert_int_eq(moq_reorder_add(r, 0, 1, 2, (const uint8_t *)"z", 1), 1);
	moq_reorder_stats(r, &st);
	ck_assert_uint_eq(st.late, 1);
	moq_reorder_free(r);
}
END_TEST

START_TEST(duplicates_are_dropped_and_flush_releases_the_rest)
{
	struct out o = {0};
	struct moq_reorder *r = moq_reorder_new(8, emit, &o);
	add(r, 5, 2, 0, "c");
	add(r, 5, 0, 0, "a");
	ck_assert_int_eq(moq_reorder_add(r, 5, 0, 0, (const uint8_t *)"a", 1), 1);
	add(r, 6, 0, 0, "d");
	ck_assert_uint_eq(o.n, 0); /* sizes unknown: nothing is complete */
	moq_reorder_flush(r);
	ck_assert_uint_eq(o.n, 3);
	ck_assert_mem_eq(o.bytes, "acd", 3);
	struct moq_reorder_stats st;
	moq_reorder_stats(r, &st);
	ck_assert_uint_eq(st.duplicates, 1);
	ck_assert_uint_eq(st.emitted, 3);
	ck_assert_uint_eq(st.pending_bytes, 0);
	moq_reorder_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("media_reorder");
	TCase *t = tcase_create("reorder");
	tcase_add_test(t, interleaved_subgroups_come_out_in_object_order);
	tcase_add_test(t, a_complete_later_group_waits_for_the_one_before);
	tcase_add_test(t, too_many_pending_groups_release_the_oldest_with_holes);
	tcase_add_test(t, duplicates_are_dropped_and_flush_releases_the_rest);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
