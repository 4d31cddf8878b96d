/* fp_cc: NewReno over media packets (RFC 9002 section 7) and its mapping
 * to the egress congestion gate (struct moq_gate). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fp_cc.h"

#define MDS 1392u
#define MS 1000000ull

static struct fp_cc C;

static void setup(void)
{
	fp_cc_init(&C, NULL);
}

/* The egress program's rule (docs/fast-path.md "Congestion gate"). */
static int gate_pass(struct moq_gate *g, int64_t len, int cls)
{
	int64_t left = __atomic_fetch_add(&g->budget, -len, __ATOMIC_ACQ_REL) - len;
	if (!g->enabled || left >= g->threshold[cls])
		return 1;
	__atomic_fetch_add(&g->budget, len, __ATOMIC_ACQ_REL);
	return 0;
}

START_TEST(initial_window_follows_rfc9002)
{
	ck_assert_uint_eq(C.cfg.max_datagram_size, MDS);
	ck_assert_uint_eq(C.cwnd, 10 * MDS); /* min(10*mds, max(14720, 2*mds)) */
	ck_assert_uint_eq(C.min_window, 2 * MDS);
	ck_assert(fp_cc_in_slow_start(&C));
}
END_TEST

START_TEST(slow_start_grows_window_by_acked_bytes)
{
	uint64_t w = C.cwnd;

	fp_cc_on_sent(&C, 5000, 1);
	fp_cc_on_packet_acked(&C, 5000, 1 * MS);
	ck_assert_uint_eq(C.cwnd, w + 5000);
	ck_assert_uint_eq(C.bytes_in_flight, 0);
}
END_TEST

START_TEST(loss_halves_window_and_starts_recovery)
{
	uint64_t w = C.cwnd;

	fp_cc_on_sent(&C, 3000, 0);
	fp_cc_on_lost(&C, 1000);
	fp_cc_on_congestion_event(&C, 5 * MS, 10 * MS);
	ck_assert_uint_eq(C.cwnd, w / 2);
	ck_assert_uint_eq(C.ssthresh, w / 2);
	ck_assert_int_eq(C.in_recovery, 1);
	ck_assert_uint_eq(C.bytes_in_flight, 2000);
	ck_assert(!fp_cc_in_slow_start(&C));
}
END_TEST

START_TEST(acks_of_packets_sent_before_recovery_do_not_grow_window)
{
	uint64_t w;

	fp_cc_on_congestion_event(&C, 5 * MS, 10 * MS);
	w = C.cwnd;
	fp_cc_on_sent(&C, 20 * MDS, 1);
	for (int i = 0; i < 20; i++)
		fp_cc_on_packet_acked(&C, MDS, 9 * MS);
	ck_assert_uint_eq(C.cwnd, w);
	ck_assert_int_eq(C.in_recovery, 1);
}
END_TEST

START_TEST(second_loss_in_same_recovery_period_is_ignored)
{
	uint64_t w;

	fp_cc_on_congestion_event(&C, 5 * MS, 10 * MS);
	w = C.cwnd;
	fp_cc_on_congestion_event(&C, 8 * MS, 12 * MS); /* sent before recovery */
	ck_assert_uint_eq(C.cwnd, w);
	ck_assert_uint_eq(C.congestion_events, 1);
	fp_cc_on_congestion_event(&C, 11 * MS, 30 * MS); /* sent after: new event */
	ck_assert_uint_eq(C.cwnd, w / 2 > C.min_window ? w / 2 : C.min_window);
	ck_assert_uint_eq(C.congestion_events, 2);
}
END_TEST

START_TEST(congestion_avoidance_adds_one_datagram_per_window_acked)
{
	uint64_t w;

	fp_cc_on_congestion_event(&C, 5 * MS, 10 * MS);
	w = C.cwnd;
	/* a packet sent after recovery started ends it; one full window of
	 * acks adds one max datagram */
	fp_cc_on_sent(&C, w, 1);
	for (uint64_t acked = 0; acked + 1000 <= w; acked += 1000)
		fp_cc_on_packet_acked(&C, 1000, 11 * MS);
	ck_assert_uint_eq(C.cwnd, w); /* w - (w % 1000) < w: not yet */
	fp_cc_on_packet_acked(&C, 1000, 11 * MS);
	ck_assert_uint_eq(C.cwnd, w + MDS);
	ck_assert_int_eq(C.in_recovery, 0);
}
END_TEST

START_TEST(persistent_congestion_collapses_to_minimum_window)
{
	struct fp_trk_summary s = {.lost_pkts = 3,
				   .lost_bytes = 3000,
				   .largest_lost_sent_ns = 50 * MS,
				   .persistent_congestion = 1};

	fp_cc_on_sent(&C, 5000, 1);
	fp_cc_on_losses(&C, &s, 100 * MS);
	ck_assert_uint_eq(C.cwnd, C.min_window);
	ck_assert_int_eq(C.in_recovery, 0);
	ck_assert_uint_eq(C.bytes_in_flight, 2000);
	ck_assert_uint_eq(C.persistent_events, 1);
}
END_TEST

START_TEST(gate_thresholds_rise_with_class_up_to_half_the_window)
{
	struct fp_gate_plan p;

	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.threshold[0], 0);
	for (int c = 1; c < MOQ_PRIO_CLASSES; c++)
		ck_assert_int_gt(p.threshold[c], p.threshold[c - 1]);
	ck_assert_int_eq(p.threshold[MOQ_PRIO_CLASSES - 1], (int64_t)C.cwnd / 2);
}
END_TEST

START_TEST(gate_budget_tracks_window_minus_flight_and_unseen_credit)
{
	struct fp_gate_plan p;

	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, (int64_t)C.cwnd); /* nothing in flight */
	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, 0); /* granted, not yet spent */
	fp_cc_on_sent(&C, 4000, 1);	   /* event: 4000 forwarded */
	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, 0); /* now in flight instead */
	fp_cc_on_packet_acked(&C, 4000, 1 * MS);
	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, 8000); /* freed 4000 + slow-start growth 4000 */
}
END_TEST

/* The tracker refused a kernel packet (full): not in flight, but the budget
 * it took is spent; before, gate_used missed it and the gate stayed that
 * much smaller for good. */
START_TEST(gate_budget_of_an_untracked_kernel_packet_comes_back)
{
	struct fp_gate_plan p;

	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, (int64_t)C.cwnd);
	fp_cc_on_kernel_sent(&C, 3000, 0);
	ck_assert_uint_eq(C.bytes_in_flight, 0);
	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, 3000);
	fp_cc_on_kernel_sent(&C, 2000, 1); /* tracked: in flight, the window is full */
	ck_assert_uint_eq(C.bytes_in_flight, 2000);
	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, 0);
}
END_TEST

START_TEST(gate_budget_is_clawed_back_when_window_shrinks)
{
	struct fp_gate_plan p;
	uint64_t w = C.cwnd;

	fp_cc_gate_plan(&C, &p);
	fp_cc_on_congestion_event(&C, 1 * MS, 2 * MS);
	fp_cc_gate_plan(&C, &p);
	ck_assert_int_eq(p.budget_add, -(int64_t)(w - C.cwnd));
}
END_TEST

START_TEST(short_budget_gates_lower_priority_classes_first)
{
	struct moq_gate g;
	struct fp_gate_plan p;

	memset(&g, 0, sizeof(g));
	fp_cc_gate_plan(&C, &p);
	fp_cc_gate_apply(&g, &p);
	ck_assert_uint_eq(g.enabled, 1);
	ck_assert_int_eq(g.budget, (int64_t)C.cwnd);
	/* drain to just above class 7's threshold */
	while (g.budget - 1000 >= g.threshold[7])
		ck_assert(gate_pass(&g, 1000, 7));
	ck_assert(!gate_pass(&g, 1000, 7));
	ck_assert(gate_pass(&g, 1000, 3));
	ck_assert(gate_pass(&g, 1000, 0));
	while (g.budget - 1000 >= g.threshold[1])
		ck_assert(gate_pass(&g, 1000, 1));
	ck_assert(!gate_pass(&g, 1000, 1));
	ck_assert(gate_pass(&g, 1000, 0));
}
END_TEST

/* A subscriber whose most important class is 4: class 4 gets class 0's
 * threshold (the whole window), class 5 class 1's, and so on; the more
 * important classes it does not receive gate at 0. */
START_TEST(rank_from_top_class_shifts_thresholds)
{
	struct fp_gate_plan p, q;

	fp_cc_gate_plan(&C, &p);
	q = p;
	fp_cc_gate_rank_from(&q, 4);
	for (int c = 0; c < 4; c++)
		ck_assert_int_eq(q.threshold[c], 0);
	for (int c = 4; c < MOQ_PRIO_CLASSES; c++)
		ck_assert_int_eq(q.threshold[c], p.threshold[c - 4]);
	ck_assert_int_eq(q.budget_add, p.budget_add);
	q = p;
	fp_cc_gate_rank_from(&q, 0);
	ck_assert_mem_eq(&q, &p, sizeof(p));
}
END_TEST

/* The class a subscriber receives does not decay to 0 because the relay
 * stalled: the window counts back from the newest sighting (a 2-s stop then
 * reset every gate-dropped priority-128 stream, fastpath_recover RC_MODE=gate). */
START_TEST(top_class_survives_a_stall_of_the_relay)
{
	const uint64_t s = 1000000000ull, w = 2 * s;
	uint64_t seen[MOQ_PRIO_CLASSES] = {0};

	ck_assert_int_eq(fp_cc_top_class(seen, w), 0); /* nothing served yet */
	seen[4] = 10 * s;
	ck_assert_int_eq(fp_cc_top_class(seen, w), 4);
	/* class 2 served 3 s before class 4's newest stream: no longer received */
	seen[2] = 7 * s;
	ck_assert_int_eq(fp_cc_top_class(seen, w), 4);
	/* ... and within the window it is the top class again */
	seen[2] = 9 * s;
	ck_assert_int_eq(fp_cc_top_class(seen, w), 2);
	seen[2] = 0;
	seen[6] = 10 * s + 1;
	ck_assert_int_eq(fp_cc_top_class(seen, w), 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_cc");
	TCase *nr = tcase_create("newreno");
	TCase *gt = tcase_create("gate");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(nr, setup, NULL);
	tcase_add_checked_fixture(gt, setup, NULL);
	tcase_add_test(nr, initial_window_follows_rfc9002);
	tcase_add_test(nr, slow_start_grows_window_by_acked_bytes);
	tcase_add_test(nr, loss_halves_window_and_starts_recovery);
	tcase_add_test(nr, acks_of_packets_sent_before_recovery_do_not_grow_window);
	tcase_add_test(nr, second_loss_in_same_recovery_period_is_ignored);
	tcase_add_test(nr, congestion_avoidance_adds_one_datagram_per_window_acked);
	tcase_add_test(nr, persistent_congestion_collapses_to_minimum_window);
	suite_add_tcase(s, nr);
	tcase_add_test(gt, gate_thresholds_rise_with_class_up_to_half_the_window);
	tcase_add_test(gt, gate_budget_tracks_window_minus_flight_and_unseen_credit);
	tcase_add_test(gt, gate_budget_of_an_untracked_kernel_packet_comes_back);
	tcase_add_test(gt, gate_budget_is_clawed_back_when_window_shrinks);
	tcase_add_test(gt, short_budget_gates_lower_priority_classes_first);
	tcase_add_test(gt, rank_from_top_class_shifts_thresholds);
	tcase_add_test(gt, top_class_survives_a_stall_of_the_relay);
	suite_add_tcase(s, gt);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
