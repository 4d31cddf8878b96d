/* relay_track: Track Alias allocation per session and filter start
 * positions. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "lib/relay_track.h"

START_TEST(upstream_alias_is_kept_when_free)
{
	struct relay_alias_set s;

	relay_alias_set_init(&s);
	ck_assert_uint_eq(relay_alias_pick(&s, 42), 42);
	relay_alias_set_add(&s, 42);
	ck_assert(relay_alias_set_has(&s, 42));
	relay_alias_set_free(&s);
}
END_TEST

START_TEST(taken_alias_gives_the_smallest_free_one)
{
	struct relay_alias_set s;

	relay_alias_set_init(&s);
	relay_alias_set_add(&s, 0);
	relay_alias_set_add(&s, 1);
	relay_alias_set_add(&s, 3);
	relay_alias_set_add(&s, 7);
	ck_assert_uint_eq(relay_alias_pick(&s, 7), 2);
	relay_alias_set_add(&s, 2);
	ck_assert_uint_eq(relay_alias_pick(&s, 3), 4);
	relay_alias_set_free(&s);
}
END_TEST

START_TEST(no_preference_picks_the_smallest_free)
{
	struct relay_alias_set s;

	relay_alias_set_init(&s);
	ck_assert_uint_eq(relay_alias_pick(&s, UINT64_MAX), 0);
	relay_alias_set_add(&s, 5);
	ck_assert_uint_eq(relay_alias_pick(&s, UINT64_MAX), 0);
	relay_alias_set_free(&s);
}
END_TEST

START_TEST(freed_alias_can_be_reused)
{
	struct relay_alias_set s;

	relay_alias_set_init(&s);
	for (uint64_t i = 0; i < 100; i++)
		ck_assert_int_eq(relay_alias_set_add(&s, i), 0);
	ck_assert_int_eq(relay_alias_set_add(&s, 50), -EEXIST);
	ck_assert_int_eq(relay_alias_set_del(&s, 50), 0);
	ck_assert_int_eq(relay_alias_set_del(&s, 50), -ENOENT);
	ck_assert_uint_eq(relay_alias_pick(&s, 99), 50);
	ck_assert_uint_eq(relay_alias_pick(&s, 50), 50);
	relay_alias_set_free(&s);
}
END_TEST

static const struct moq_location L = {10, 4};

START_TEST(no_filter_starts_at_the_current_group)
{
	struct relay_range r;

	ck_assert_int_eq(relay_filter_resolve(false, NULL, true, L, true, &r), 0);
	ck_assert_uint_eq(r.start.group, 10);
	ck_assert_uint_eq(r.start.object, 0);
	ck_assert(!r.has_end);
	ck_assert_int_eq(relay_filter_resolve(false, NULL, false, L, true, &r), 0);
	ck_assert_uint_eq(r.start.group, 0);
}
END_TEST

START_TEST(no_filter_waits_for_the_next_group_when_the_current_is_not_cached)
{
	struct relay_range r;

	ck_assert_int_eq(relay_filter_resolve(false, NULL, true, L, false, &r), 0);
	ck_assert_uint_eq(r.start.group, 11);
	ck_assert_uint_eq(r.start.object, 0);
}
END_TEST

START_TEST(largest_object_filter_starts_after_the_largest)
{
	struct moq_subscription_filter f = {.filter_type = MOQ_FILTER_LARGEST_OBJECT};
	struct relay_range r;

	ck_assert_int_eq(relay_filter_resolve(true, &f, true, L, true, &r), 0);
	ck_assert_uint_eq(r.start.group, 10);
	ck_assert_uint_eq(r.start.object, 5);
	ck_assert(!relay_range_contains(&r, 10, 4));
	ck_assert(relay_range_contains(&r, 10, 5));
	ck_assert(relay_range_contains(&r, 11, 0));
}
END_TEST

START_TEST(next_group_filter_starts_at_the_next_group)
{
	struct moq_subscription_filter f = {.filter_type = MOQ_FILTER_NEXT_GROUP_START};
	struct relay_range r;

	ck_assert_int_eq(relay_filter_resolve(true, &f, true, L, true, &r), 0);
	ck_assert_uint_eq(r.start.group, 11);
	ck_assert_uint_eq(r.start.object, 0);
	ck_assert_int_eq(relay_filter_resolve(true, &f, false, L, true, &r), 0);
	ck_assert_uint_eq(r.start.group, 0);
}
END_TEST

START_TEST(absolute_range_ends_after_its_end_group)
{
	struct moq_subscription_filter f = {
	    .filter_type = MOQ_FILTER_ABSOLUTE_RANGE,
	    .start_location = {12, 3},
	    .end_group_delta = 2,
	};
	struct relay_range r;

	ck_assert_int_eq(relay_filter_resolve(true, &f, true, L, true, &r), 0);
	ck_assert(!relay_range_contains(&r, 12, 2));
	ck_assert(relay_range_contains(&r, 12, 3));
	ck_assert(relay_range_contains(&r, 14, 1000));
	ck_assert(!relay_range_contains(&r, 15, 0));
}
END_TEST

START_TEST(absolute_range_already_passed_is_invalid_range)
{
	struct moq_subscription_filter f = {
	    .filter_type = MOQ_FILTER_ABSOLUTE_RANGE,
	    .start_location = {2, 0},
	    .end_group_delta = 3, /* end group 5 < largest group 10 */
	};
	struct relay_range r;

	ck_assert_int_eq(relay_filter_resolve(true, &f, true, L, true, &r), -ERANGE);
	f.end_group_delta = UINT64_MAX;
	ck_assert_int_eq(relay_filter_resolve(true, &f, true, L, true, &r), -EOVERFLOW);
}
END_TEST

START_TEST(unknown_filter_type_is_rejected)
{
	struct moq_subscription_filter f = {.filter_type = 9};
	struct relay_range r;

	ck_assert_int_eq(relay_filter_resolve(true, &f, true, L, true, &r), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_track");
	TCase *a = tcase_create("alias");
	tcase_add_test(a, upstream_alias_is_kept_when_free);
	tcase_add_test(a, taken_alias_gives_the_smallest_free_one);
	tcase_add_test(a, no_preference_picks_the_smallest_free);
	tcase_add_test(a, freed_alias_can_be_reused);
	suite_add_tcase(s, a);
	TCase *f = tcase_create("filter");
	tcase_add_test(f, no_filter_starts_at_the_current_group);
	tcase_add_test(f, no_filter_waits_for_the_next_group_when_the_current_is_not_cached);
	tcase_add_test(f, largest_object_filter_starts_after_the_largest);
	tcase_add_test(f, next_group_filter_starts_at_the_next_group);
	tcase_add_test(f, absolute_range_ends_after_its_end_group);
	tcase_add_test(f, absolute_range_already_passed_is_invalid_range);
	tcase_add_test(f, unknown_filter_type_is_rejected);
	suite_add_tcase(s, f);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
