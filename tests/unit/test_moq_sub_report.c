/* moq-sub's summary (moq/tools/moq-sub/report.c): with --count N the
 * objects received and missing are over the first N objects; an object
 * past them that arrived while the run waited for a lost one is reported
 * apart (fastpath_tls_loss once failed on "4001 of 4000 objects"). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "media/cli.h"
#include "tools/moq-sub/sub.h"

const char *prog = "test_moq_sub_report"; /* main.c's, for report.c */

static struct sub U;
static struct sub *conns[1];

static void setup(void)
{
	memset(&U, 0, sizeof(U));
	U.ntracks = 1;
	conns[0] = &U;
	U.conns = conns;
	U.nconns = 1;
	ck_assert_int_eq(moq_seqwin_init(&U.tracks[0].win), 0);
}

static void teardown(void)
{
	moq_seqwin_free(&U.tracks[0].win);
}

/* seqs first..last except skip (skip < first: none) arrive in order */
static void arrive(uint64_t first, uint64_t last, uint64_t skip)
{
	struct track *t = &U.tracks[0];

	for (uint64_t s = first; s <= last; s++)
		if (s != skip && moq_seqwin_add(&t->win, s) == 1)
			t->objects++;
}

START_TEST(count_reports_the_first_n_and_the_rest_apart)
{
	struct totals tt = {0};

	U.count = 10;
	arrive(100, 111, 105); /* 105 lost; 110 and 111 arrived while waiting */
	sum_conn(&U, &tt, true);
	ck_assert_uint_eq(tt.objects, 9);
	ck_assert_uint_eq(tt.missing, 1);
	ck_assert_uint_eq(tt.beyond, 2);
	ck_assert_uint_eq(tt.objects + tt.missing, U.count);
	ck_assert_int_eq(exit_code(&U, &tt), MOQ_EXIT_CHECK); /* one of the N never came */
}
END_TEST

START_TEST(count_complete_with_extras_is_exactly_n)
{
	struct totals tt = {0};

	U.count = 10;
	arrive(0, 10, 5);
	arrive(5, 5, 0); /* the late one arrives after object 10 */
	sum_conn(&U, &tt, true);
	ck_assert_uint_eq(tt.objects, 10);
	ck_assert_uint_eq(tt.missing, 0);
	ck_assert_uint_eq(tt.beyond, 1);
	ck_assert_int_eq(exit_code(&U, &tt), MOQ_EXIT_OK);
}
END_TEST

/* Every one of the N arrived; one past them was lost on the way (parallel
 * streams): the run is complete, the gap is not among its objects. */
START_TEST(count_ignores_a_gap_past_the_first_n)
{
	struct totals tt = {0};

	U.count = 10;
	arrive(100, 111, 110);
	sum_conn(&U, &tt, true);
	ck_assert_uint_eq(tt.objects, 10);
	ck_assert_uint_eq(tt.missing, 0);
	ck_assert_uint_eq(tt.beyond, 1);
	ck_assert_int_eq(exit_code(&U, &tt), MOQ_EXIT_OK);
}
END_TEST

START_TEST(without_count_or_before_the_end_every_object_counts)
{
	struct totals tt = {0};

	arrive(0, 11, 5);
	sum_conn(&U, &tt, true);
	ck_assert_uint_eq(tt.objects, 11);
	ck_assert_uint_eq(tt.missing, 1);
	ck_assert_uint_eq(tt.beyond, 0);
	U.count = 10; /* progress lines (not final): everything so far */
	memset(&tt, 0, sizeof(tt));
	sum_conn(&U, &tt, false);
	ck_assert_uint_eq(tt.objects, 11);
	ck_assert_uint_eq(tt.beyond, 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("moq_sub_report");
	TCase *tc = tcase_create("count");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, count_reports_the_first_n_and_the_rest_apart);
	tcase_add_test(tc, count_complete_with_extras_is_exactly_n);
	tcase_add_test(tc, count_ignores_a_gap_past_the_first_n);
	tcase_add_test(tc, without_count_or_before_the_end_every_object_counts);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
