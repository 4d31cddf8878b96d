/* fp_pinghold: PINGs of consumed ACK + PING packets held within the
 * max_ack_delay the relay advertised (RFC 9000 13.2.1), fed together. */
#include <check.h>
#include <stdlib.h>

#include "lib/fp_pinghold.h"

#define MS 1000000ull

/* What is left of max_ack_delay once the tick, ngtcp2's own delay after
 * the feed (srtt/8, at most max_ack_delay) and the margin are taken off. */
START_TEST(hold_is_max_ack_delay_less_what_follows_the_feed)
{
	ck_assert_uint_eq(fp_pinghold_hold_ns(100 * MS, 20 * MS, 8 * MS), 74 * MS);
	ck_assert_uint_eq(fp_pinghold_hold_ns(100 * MS, 20 * MS, 0), 75 * MS);
	/* a long path: ngtcp2 waits up to max_ack_delay itself */
	ck_assert_uint_eq(fp_pinghold_hold_ns(100 * MS, 20 * MS, 800 * MS), 0);
	/* ngtcp2's 25 ms with a 20 ms tick leaves nothing: fed at once */
	ck_assert_uint_eq(fp_pinghold_hold_ns(25 * MS, 20 * MS, 1 * MS), 0);
	ck_assert_uint_eq(fp_pinghold_hold_ns(25 * MS, 1 * MS, 0), 19 * MS);
}
END_TEST

/* The oldest PING sets the deadline; later ones ride along. */
START_TEST(due_at_the_oldest_deadline)
{
	struct fp_pinghold h = {0};
	uint64_t out[FP_PINGHOLD_MAX];

	ck_assert(!fp_pinghold_due(&h, 0));
	ck_assert(!fp_pinghold_add(&h, 7, 1000 * MS, 75 * MS));
	ck_assert(!fp_pinghold_add(&h, 9, 1040 * MS, 75 * MS));
	ck_assert(!fp_pinghold_due(&h, 1074 * MS));
	ck_assert(fp_pinghold_due(&h, 1075 * MS));
	/* each number's receive time (the agent's ACK Delay) */
	ck_assert_uint_eq(h.ts_ns[0], 1000 * MS);
	ck_assert_uint_eq(h.ts_ns[1], 1040 * MS);
	ck_assert_uint_eq(fp_pinghold_take(&h, out), 2);
	ck_assert_uint_eq(out[0], 7);
	ck_assert_uint_eq(out[1], 9);
	ck_assert(!fp_pinghold_due(&h, 5000 * MS));
	ck_assert_uint_eq(fp_pinghold_take(&h, out), 0);
}
END_TEST

/* No room (hold 0): feed now. A full hold: feed now. */
START_TEST(no_room_or_full_feeds_now)
{
	struct fp_pinghold h = {0};
	uint64_t out[FP_PINGHOLD_MAX];

	ck_assert(fp_pinghold_add(&h, 1, 10 * MS, 0));
	ck_assert_uint_eq(fp_pinghold_take(&h, out), 1);
	for (uint64_t i = 0; i < FP_PINGHOLD_MAX - 1; i++)
		ck_assert(!fp_pinghold_add(&h, i, 10 * MS + i, 75 * MS));
	ck_assert(fp_pinghold_add(&h, 99, 20 * MS, 75 * MS));
	ck_assert_uint_eq(h.n, FP_PINGHOLD_MAX);
	/* nothing is lost if the caller adds to a full hold */
	ck_assert(fp_pinghold_add(&h, 100, 21 * MS, 75 * MS));
	ck_assert_uint_eq(fp_pinghold_take(&h, out), FP_PINGHOLD_MAX);
	ck_assert_uint_eq(out[FP_PINGHOLD_MAX - 1], 99);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fp_pinghold");
	TCase *t = tcase_create("hold");

	tcase_add_test(t, hold_is_max_ack_delay_less_what_follows_the_feed);
	tcase_add_test(t, due_at_the_oldest_deadline);
	tcase_add_test(t, no_room_or_full_feeds_now);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
