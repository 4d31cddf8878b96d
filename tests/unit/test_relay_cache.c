/* relay_cache: bounded group cache, byte accounting, eviction, lookups. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/relay_cache.h"

/* Add a complete object of len bytes (filled with its id). */
static struct relay_cache_obj *put(struct relay_cache *c, uint64_t g, uint64_t sg, uint64_t id,
				   size_t len)
{
	uint8_t buf[4096];
	struct relay_cache_sg *s = relay_cache_sg_get(c, g, sg, 128, false);
	struct relay_cache_obj *o;

	if (!s)
		return NULL;
	o = relay_cache_obj_add(c, g, s, id, 0, NULL, 0, len, 128, 1);
	if (!o)
		return NULL;
	memset(buf, (int)id, len);
	ck_assert_int_eq(relay_cache_obj_append(o, buf, len), 0);
	relay_cache_enforce(c);
	return o;
}

START_TEST(keeps_at_most_max_groups_oldest_evicted_first)
{
	struct relay_cache c;

	relay_cache_init(&c, 3, 0);
	for (uint64_t g = 0; g < 5; g++)
		for (uint64_t o = 0; o < 4; o++)
			put(&c, g, 0, o, 100);
	ck_assert_uint_eq(c.ngroups, 3);
	ck_assert_uint_eq(c.head->id, 2);
	ck_assert_uint_eq(c.tail->id, 4);
	ck_assert_uint_eq(c.bytes, 3 * 4 * 100);
	ck_assert_uint_eq(c.evicted_groups, 2);
	relay_cache_free(&c);
}
END_TEST

START_TEST(byte_bound_evicts_whole_old_groups)
{
	struct relay_cache c;

	relay_cache_init(&c, 100, 1000);
	for (uint64_t g = 0; g < 4; g++)
		for (uint64_t o = 0; o < 3; o++)
			put(&c, g, 0, o, 100); /* 300 bytes per group */
	ck_assert_uint_le(c.bytes, 1000);
	ck_assert_uint_eq(c.ngroups, 3);
	ck_assert_uint_eq(c.head->id, 1);
	relay_cache_free(&c);
}
END_TEST

START_TEST(oversized_newest_group_is_trimmed_from_its_oldest_objects)
{
	struct relay_cache c;
	struct relay_cache_sg *sg;

	relay_cache_init(&c, 8, 500);
	for (uint64_t o = 0; o < 10; o++)
		put(&c, 7, 0, o, 100);
	ck_assert_uint_le(c.bytes, 500);
	ck_assert_uint_eq(c.ngroups, 1);
	sg = relay_cache_sg_find(&c, 7, 0);
	ck_assert(sg->trimmed);
	ck_assert_uint_eq(sg->tail->id, 9);
	ck_assert_uint_eq(sg->head->id, 5);
	relay_cache_free(&c);
}
END_TEST

START_TEST(object_still_arriving_is_never_trimmed)
{
	struct relay_cache c;
	struct relay_cache_sg *sg;
	struct relay_cache_obj *o;

	relay_cache_init(&c, 8, 100);
	sg = relay_cache_sg_get(&c, 0, 0, 128, false);
	o = relay_cache_obj_add(&c, 0, sg, 0, 0, NULL, 0, 1000, 128, 1);
	relay_cache_enforce(&c);
	ck_assert_ptr_eq(relay_cache_tail(&c, 0, 0, 0), o);
	ck_assert_int_eq(relay_cache_obj_append(o, "abc", 3), 0);
	ck_assert_uint_eq(o->have, 3);
	ck_assert(!relay_cache_obj_complete(o));
	relay_cache_free(&c);
}
END_TEST

START_TEST(append_beyond_announced_length_fails)
{
	struct relay_cache c;
	struct relay_cache_sg *sg;
	struct relay_cache_obj *o;

	relay_cache_init(&c, 8, 0);
	sg = relay_cache_sg_get(&c, 0, 0, 128, false);
	o = relay_cache_obj_add(&c, 0, sg, 0, 0, NULL, 0, 4, 128, 1);
	ck_assert_int_eq(relay_cache_obj_append(o, "abcde", 5), -EINVAL);
	relay_cache_free(&c);
}
END_TEST

START_TEST(object_ids_must_increase_within_a_subgroup)
{
	struct relay_cache c;

	relay_cache_init(&c, 8, 0);
	ck_assert_ptr_nonnull(put(&c, 0, 0, 5, 10));
	ck_assert_ptr_null(put(&c, 0, 0, 5, 10));
	ck_assert_ptr_null(put(&c, 0, 0, 4, 10));
	ck_assert_ptr_nonnull(put(&c, 0, 1, 4, 10)); /* other subgroup */
	relay_cache_free(&c);
}
END_TEST

START_TEST(largest_location_survives_eviction)
{
	struct relay_cache c;

	relay_cache_init(&c, 1, 0);
	put(&c, 3, 0, 7, 10);
	put(&c, 4, 0, 1, 10);
	ck_assert(c.has_largest);
	ck_assert_uint_eq(c.largest.group, 4);
	ck_assert_uint_eq(c.largest.object, 1);
	put(&c, 4, 1, 0, 10); /* smaller location does not lower it */
	ck_assert_uint_eq(c.largest.object, 1);
	relay_cache_free(&c);
}
END_TEST

START_TEST(group_older_than_a_full_cache_is_not_created)
{
	struct relay_cache c;

	relay_cache_init(&c, 2, 0);
	put(&c, 5, 0, 0, 10);
	put(&c, 6, 0, 0, 10);
	ck_assert_ptr_null(relay_cache_sg_get(&c, 4, 0, 128, false));
	ck_assert_ptr_nonnull(relay_cache_sg_get(&c, 7, 0, 128, false));
	relay_cache_free(&c);
}
END_TEST

START_TEST(out_of_order_groups_are_kept_sorted)
{
	struct relay_cache c;

	relay_cache_init(&c, 8, 0);
	put(&c, 5, 0, 0, 10);
	put(&c, 3, 0, 0, 10);
	put(&c, 4, 0, 0, 10);
	ck_assert_uint_eq(c.head->id, 3);
	ck_assert_uint_eq(c.head->next->id, 4);
	ck_assert_uint_eq(c.tail->id, 5);
	relay_cache_free(&c);
}
END_TEST

START_TEST(next_walks_objects_in_location_order_across_subgroups)
{
	struct relay_cache c;
	struct moq_location at = {0, 0};
	const struct relay_cache_obj *o;
	uint64_t g, want[][2] = {{1, 0}, {1, 1}, {1, 2}, {1, 3}, {2, 0}};
	bool after = false;

	relay_cache_init(&c, 8, 0);
	put(&c, 1, 0, 0, 10);
	put(&c, 1, 1, 1, 10);
	put(&c, 1, 0, 2, 10);
	put(&c, 1, 1, 3, 10);
	put(&c, 2, 0, 0, 10);
	for (size_t i = 0; i < 5; i++) {
		o = relay_cache_next(&c, at, after, &g);
		ck_assert_ptr_nonnull(o);
		ck_assert_uint_eq(g, want[i][0]);
		ck_assert_uint_eq(o->id, want[i][1]);
		at.group = g;
		at.object = o->id;
		after = true;
	}
	ck_assert_ptr_null(relay_cache_next(&c, at, true, &g));
	relay_cache_free(&c);
}
END_TEST

START_TEST(first_group_seen_does_not_cover_its_start)
{
	struct relay_cache c;
	struct moq_location l;

	relay_cache_init(&c, 8, 0);
	put(&c, 10, 0, 4, 10); /* joined mid-group */
	put(&c, 11, 0, 0, 10);
	ck_assert(!relay_cache_covers(&c, (struct moq_location){10, 0}));
	ck_assert(relay_cache_covers(&c, (struct moq_location){11, 0}));
	ck_assert(!relay_cache_covers(&c, (struct moq_location){9, 0}));
	ck_assert(relay_cache_oldest(&c, &l));
	ck_assert_uint_eq(l.group, 10);
	ck_assert_uint_eq(l.object, 4);
	relay_cache_free(&c);
}
END_TEST

START_TEST(first_group_seen_from_object_zero_is_whole)
{
	struct relay_cache c;

	relay_cache_init(&c, 8, 0);
	put(&c, 10, 1, 1, 10); /* subgroup 1 first, then Object 0 */
	ck_assert(c.head->partial);
	put(&c, 10, 0, 0, 10);
	ck_assert(!c.head->partial);
	ck_assert(relay_cache_covers(&c, (struct moq_location){10, 0}));
	relay_cache_free(&c);
}
END_TEST

START_TEST(set_limits_applies_at_once)
{
	struct relay_cache c;

	relay_cache_init(&c, 8, 0);
	for (uint64_t g = 0; g < 8; g++)
		put(&c, g, 0, 0, 10);
	relay_cache_set_limits(&c, 2, 0);
	ck_assert_uint_eq(c.ngroups, 2);
	ck_assert_uint_eq(c.head->id, 6);
	relay_cache_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_cache");
	TCase *tc = tcase_create("cache");
	tcase_add_test(tc, keeps_at_most_max_groups_oldest_evicted_first);
	tcase_add_test(tc, byte_bound_evicts_whole_old_groups);
	tcase_add_test(tc, oversized_newest_group_is_trimmed_from_its_oldest_objects);
	tcase_add_test(tc, object_still_arriving_is_never_trimmed);
	tcase_add_test(tc, append_beyond_announced_length_fails);
	tcase_add_test(tc, object_ids_must_increase_within_a_subgroup);
	tcase_add_test(tc, largest_location_survives_eviction);
	tcase_add_test(tc, group_older_than_a_full_cache_is_not_created);
	tcase_add_test(tc, out_of_order_groups_are_kept_sorted);
	tcase_add_test(tc, next_walks_objects_in_location_order_across_subgroups);
	tcase_add_test(tc, first_group_seen_does_not_cover_its_start);
	tcase_add_test(tc, first_group_seen_from_object_zero_is_whole);
	tcase_add_test(tc, set_limits_applies_at_once);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
