/* moq-relayd batched publisher intake (agent/moq-relayd/fp_intake.c): the
 * period a held publisher waits, and the bound that keeps the relay's ACKs
 * within the max_ack_delay it advertised (RFC 9000 13.2.1). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moq-relayd/fp_internal.h"
#include "moq-relayd/relayd.h"

#define MS 1000000ull

START_TEST(period_is_the_tick_with_fast_subscribers_or_a_held_publisher)
{
	struct relayd_fp *fp = calloc(1, sizeof(*fp));

	fp->tick_ns = 10 * MS;
	fp->poll_ns = 20 * MS;
	ck_assert_uint_eq(fp_intake_period(fp), 20 * MS); /* nobody fast: heartbeat */
	fp->slot_hi = 1;
	ck_assert_uint_eq(fp_intake_period(fp), 10 * MS);
	fp->slot_hi = 0;
	fp->intake_held = 1; /* its subscribers left: still read on the tick */
	ck_assert_uint_eq(fp_intake_period(fp), 10 * MS);
	fp->tick_ns = 30 * MS; /* never longer than the heartbeat poll */
	ck_assert_uint_eq(fp_intake_period(fp), 20 * MS);
	free(fp);
}
END_TEST

START_TEST(ack_bound_counts_the_tick_and_ngtcp2s_own_delay)
{
	/* 100 ms advertised (the fast path's default), 20 ms tick */
	ck_assert(fp_intake_ack_bound_ok(20 * MS, 100 * MS, 1 * MS));
	/* srtt/8 = 75 ms: 20 + 75 + 5 = 100, just within */
	ck_assert(fp_intake_ack_bound_ok(20 * MS, 100 * MS, 600 * MS));
	ck_assert(!fp_intake_ack_bound_ok(20 * MS, 100 * MS, 608 * MS));
	/* a huge srtt: ngtcp2 waits max_ack_delay itself, nothing is left */
	ck_assert(!fp_intake_ack_bound_ok(1 * MS, 100 * MS, 10000 * MS));
	/* ngtcp2's default 25 ms leaves no room for a 20 ms tick */
	ck_assert(!fp_intake_ack_bound_ok(20 * MS, 25 * MS, 8 * MS));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("fp_intake");
	TCase *tc = tcase_create("intake");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, period_is_the_tick_with_fast_subscribers_or_a_held_publisher);
	tcase_add_test(tc, ack_bound_counts_the_tick_and_ngtcp2s_own_delay);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
