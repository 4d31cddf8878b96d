/* moq/media/stats: latency histogram (percentiles within 1%), sequence gap
 * tracking, completed-group counting. */
#include <check.h>
#include <stdlib.h>

#include "media/stats.h"

START_TEST(buckets_cover_every_value_without_gaps_or_overlap)
{
	ck_assert_uint_eq(moq_hist_bucket(0), 0);
	ck_assert_uint_eq(moq_hist_bucket(UINT64_MAX), MOQ_HIST_BUCKETS - 1);
	for (unsigned i = 0; i + 1 < MOQ_HIST_BUCKETS; i++) {
		ck_assert_uint_eq(moq_hist_bucket_high(i) + 1, moq_hist_bucket_low(i + 1));
		ck_assert_uint_eq(moq_hist_bucket(moq_hist_bucket_low(i)), i);
		ck_assert_uint_eq(moq_hist_bucket(moq_hist_bucket_high(i)), i);
	}
}
END_TEST

START_TEST(bucket_width_is_below_one_percent_of_its_values)
{
	for (unsigned i = MOQ_HIST_SUB; i < MOQ_HIST_BUCKETS; i++) {
		double lo = (double)moq_hist_bucket_low(i);
		double w = (double)(moq_hist_bucket_high(i) - moq_hist_bucket_low(i) + 1);
		ck_assert_msg(w / lo <= 0.01, "bucket %u: width %g at %g", i, w, lo);
	}
}
END_TEST

START_TEST(percentiles_of_a_uniform_range_are_within_one_percent)
{
	struct moq_hist *h = moq_hist_new();
	for (uint64_t v = 1; v <= 100000; v++)
		moq_hist_add(h, v * 1000); /* 1 us .. 100 ms in ns */
	const double ps[] = {1, 10, 50, 90, 99, 99.9};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
		double want = ps[i] / 100.0 * 100000 * 1000;
		double got = (double)moq_hist_percentile(h, ps[i]);
		ck_assert_msg(got >= want * 0.99 && got <= want * 1.01, "p%g: %g vs %g", ps[i], got,
			      want);
	}
	ck_assert_uint_eq(moq_hist_percentile(h, 100), 100000 * 1000);
	ck_assert_uint_eq(h->min, 1000);
	ck_assert_uint_eq(h->count, 100000);
	ck_assert(moq_hist_mean(h) > 50000 * 1000 * 0.999 && moq_hist_mean(h) < 50001 * 1000);
	free(h);
}
END_TEST

START_TEST(small_values_are_exact)
{
	struct moq_hist *h = moq_hist_new();
	moq_hist_add(h, 3);
	moq_hist_add(h, 7);
	moq_hist_add(h, 7);
	moq_hist_add(h, 100);
	ck_assert_uint_eq(moq_hist_percentile(h, 25), 3);
	ck_assert_uint_eq(moq_hist_percentile(h, 50), 7);
	ck_assert_uint_eq(moq_hist_percentile(h, 75), 7);
	ck_assert_uint_eq(moq_hist_percentile(h, 76), 100);
	free(h);
}
END_TEST

START_TEST(percentile_never_leaves_the_recorded_range)
{
	struct moq_hist *h = moq_hist_new();
	moq_hist_add(h, 1000001); /* alone in a wide bucket */
	ck_assert_uint_eq(moq_hist_percentile(h, 50), 1000001);
	ck_assert_uint_eq(moq_hist_percentile(h, 99), 1000001);
	free(h);
}
END_TEST

START_TEST(empty_histogram_reports_zero)
{
	struct moq_hist *h = moq_hist_new();
	ck_assert_uint_eq(moq_hist_percentile(h, 50), 0);
	ck_assert(moq_hist_mean(h) == 0.0);
	free(h);
}
END_TEST

START_TEST(merge_equals_adding_everything_to_one)
{
	struct moq_hist *a = moq_hist_new(), *b = moq_hist_new(), *all = moq_hist_new();
	for (uint64_t v = 0; v < 5000; v++) {
		uint64_t x = v * v * 37 + 11;
		moq_hist_add(v % 2 ? a : b, x);
		moq_hist_add(all, x);
	}
	moq_hist_merge(a, b);
	ck_assert_uint_eq(a->count, all->count);
	ck_assert_uint_eq(a->min, all->min);
	ck_assert_uint_eq(a->max, all->max);
	for (double p = 1; p <= 100; p += 7)
		ck_assert_uint_eq(moq_hist_percentile(a, p), moq_hist_percentile(all, p));
	free(a);
	free(b);
	free(all);
}
END_TEST

START_TEST(seqwin_in_order_stream_has_nothing_missing)
{
	struct moq_seqwin w;
	ck_assert_int_eq(moq_seqwin_init(&w), 0);
	for (uint64_t s = 0; s < 10000; s++)
		ck_assert_int_eq(moq_seqwin_add(&w, s), 1);
	ck_assert_uint_eq(w.received, 10000);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 0);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 10000), 0);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 10005), 5);
	moq_seqwin_free(&w);
}
END_TEST

START_TEST(seqwin_counts_gaps_duplicates_and_reordering)
{
	struct moq_seqwin w;
	moq_seqwin_init(&w);
	moq_seqwin_add(&w, 0);
	moq_seqwin_add(&w, 2);
	moq_seqwin_add(&w, 5);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 3); /* 1, 3, 4 */
	ck_assert_int_eq(moq_seqwin_add(&w, 3), 1);   /* late but in window */
	ck_assert_uint_eq(w.reordered, 1);
	ck_assert_int_eq(moq_seqwin_add(&w, 3), 0);
	ck_assert_uint_eq(w.duplicates, 1);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 2);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 8), 4); /* 1, 4, 6, 7 */
	moq_seqwin_free(&w);
}
END_TEST

/* moq-sub --count N: a gap past the first N (an object beyond them that
 * arrived while the run waited) is not one of the N missing. */
START_TEST(seqwin_missing_of_ignores_gaps_past_the_expected)
{
	struct moq_seqwin w;
	moq_seqwin_init(&w);
	for (uint64_t s = 0; s < 200; s++)
		if (s != 3 && s != 10 && s != 150)
			moq_seqwin_add(&w, s);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 3);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 3), 0);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 10), 1);  /* 3 */
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 11), 2);  /* 3, 10 */
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 150), 2); /* not 150 */
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 151), 3);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 205), 8); /* 200..204 too */
	moq_seqwin_free(&w);
}
END_TEST

START_TEST(seqwin_settles_gaps_that_slide_out_of_the_window)
{
	struct moq_seqwin w;
	moq_seqwin_init(&w);
	moq_seqwin_add(&w, 0);
	/* seq 1 never arrives; go far beyond the window */
	uint64_t far = 3ull * MOQ_SEQWIN_BITS;
	moq_seqwin_add(&w, far);
	ck_assert_uint_eq(moq_seqwin_missing(&w), far - 1);
	ck_assert_int_eq(moq_seqwin_add(&w, 1), -1);
	ck_assert_uint_eq(w.late, 1);
	ck_assert_uint_eq(moq_seqwin_missing(&w), far - 1);
	moq_seqwin_free(&w);
}
END_TEST

START_TEST(seqwin_window_slides_one_at_a_time)
{
	struct moq_seqwin w;
	moq_seqwin_init(&w);
	for (uint64_t s = 0; s < 2ull * MOQ_SEQWIN_BITS + 10; s++)
		if (s != 77 && s != MOQ_SEQWIN_BITS + 5)
			moq_seqwin_add(&w, s);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 2);
	moq_seqwin_free(&w);
}
END_TEST

START_TEST(seqwin_late_joiner_counts_from_the_start_of_its_first_group)
{
	struct moq_seqwin w;
	moq_seqwin_init(&w);
	/* joined at object 5 of a group whose object 0 had seq 100 */
	moq_seqwin_floor(&w, 100);
	moq_seqwin_add(&w, 105);
	ck_assert_uint_eq(moq_seqwin_start(&w), 100);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 5);
	for (uint64_t s = 100; s < 105; s++)
		moq_seqwin_add(&w, s);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 0);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 10), 4); /* 106..109 */
	moq_seqwin_free(&w);
}
END_TEST

START_TEST(seqwin_start_moves_down_when_an_earlier_stream_arrives_later)
{
	struct moq_seqwin w;
	moq_seqwin_init(&w);
	/* a later group's stream overtakes the first group's */
	ck_assert_int_eq(moq_seqwin_add(&w, 500), 1);
	ck_assert_int_eq(moq_seqwin_add(&w, 0), 1);
	ck_assert_uint_eq(w.late, 0);
	ck_assert_uint_eq(moq_seqwin_start(&w), 0);
	ck_assert_uint_eq(moq_seqwin_missing(&w), 499);
	ck_assert_uint_eq(moq_seqwin_missing_of(&w, 1000), 998);
	moq_seqwin_free(&w);
}
END_TEST

START_TEST(group_counts_only_groups_with_every_object)
{
	struct moq_group_count g = {0};
	ck_assert(!moq_group_count_add(&g, 0, 3));
	ck_assert(!moq_group_count_add(&g, 0, 3));
	ck_assert(moq_group_count_add(&g, 0, 3));
	ck_assert(!moq_group_count_add(&g, 1, 3)); /* group 1 misses two */
	ck_assert(moq_group_count_add(&g, 2, 1));
	ck_assert(!moq_group_count_add(&g, 7, 0)); /* unknown size: never */
	ck_assert_uint_eq(g.complete, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("media_stats");
	TCase *h = tcase_create("histogram");
	tcase_add_test(h, buckets_cover_every_value_without_gaps_or_overlap);
	tcase_add_test(h, bucket_width_is_below_one_percent_of_its_values);
	tcase_add_test(h, percentiles_of_a_uniform_range_are_within_one_percent);
	tcase_add_test(h, small_values_are_exact);
	tcase_add_test(h, percentile_never_leaves_the_recorded_range);
	tcase_add_test(h, empty_histogram_reports_zero);
	tcase_add_test(h, merge_equals_adding_everything_to_one);
	suite_add_tcase(s, h);
	TCase *q = tcase_create("sequence");
	tcase_add_test(q, seqwin_in_order_stream_has_nothing_missing);
	tcase_add_test(q, seqwin_counts_gaps_duplicates_and_reordering);
	tcase_add_test(q, seqwin_missing_of_ignores_gaps_past_the_expected);
	tcase_add_test(q, seqwin_settles_gaps_that_slide_out_of_the_window);
	tcase_add_test(q, seqwin_window_slides_one_at_a_time);
	tcase_add_test(q, seqwin_late_joiner_counts_from_the_start_of_its_first_group);
	tcase_add_test(q, seqwin_start_moves_down_when_an_earlier_stream_arrives_later);
	tcase_add_test(q, group_counts_only_groups_with_every_object);
	suite_add_tcase(s, q);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
