/* fp_tracker: media-plane RTT estimation, loss detection (packet and time
 * threshold), PTO and persistent congestion (RFC 9002). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fp_tracker.h"

#define MS 1000000ull

struct log {
	uint64_t acked[64], lost[64];
	int nacked, nlost;
};

static void on_acked(void *u, const struct fp_media_pkt *p)
{
	struct log *l = u;
	l->acked[l->nacked++ & 63] = p->pn;
}

static void on_lost(void *u, const struct fp_media_pkt *p)
{
	struct log *l = u;
	l->lost[l->nlost++ & 63] = p->pn;
}

static const struct fp_tracker_ops ops = {.on_acked = on_acked, .on_lost = on_lost};

static struct fp_tracker T;
static struct log L;

static void setup(void)
{
	memset(&L, 0, sizeof(L));
	ck_assert_int_eq(fp_tracker_init(&T, NULL, &ops, &L), 0);
}

static void teardown(void)
{
	fp_tracker_free(&T);
}

static void sent(uint64_t pn, uint64_t t)
{
	struct fp_media_pkt p = {
	    .pn = pn, .sid = 3, .offset = pn * 1000, .sent_ns = t, .len = 1000, .bytes = 1100};
	ck_assert_int_eq(fp_tracker_on_sent(&T, &p), 0);
}

/* ACK of one or two ranges, delay in microseconds (exponent 3). */
static void ack2(uint64_t hi0, uint64_t lo0, uint64_t hi1, uint64_t lo1, uint64_t delay_us,
		 uint64_t now, struct fp_trk_summary *s)
{
	struct fp_pn_range r[2] = {{lo0, hi0}, {lo1, hi1}};
	struct fp_wire_ack a = {
	    .largest = hi0, .ack_delay_raw = delay_us >> 3, .nranges = hi1 ? 2 : 1, .ranges = r};
	fp_tracker_on_ack(&T, &a, now, s);
}

static void ack(uint64_t hi, uint64_t lo, uint64_t delay_us, uint64_t now, struct fp_trk_summary *s)
{
	ack2(hi, lo, 0, 0, delay_us, now, s);
}

START_TEST(first_rtt_sample_sets_smoothed_rtt_and_half_variance)
{
	struct fp_trk_summary s;

	sent(10, 0);
	ack(10, 10, 0, 100 * MS, &s);
	ck_assert_int_eq(s.rtt_sample, 1);
	ck_assert_uint_eq(T.latest_rtt, 100 * MS);
	ck_assert_uint_eq(T.smoothed_rtt, 100 * MS);
	ck_assert_uint_eq(T.rttvar, 50 * MS);
	ck_assert_uint_eq(T.min_rtt, 100 * MS);
	ck_assert_uint_eq(s.acked_pkts, 1);
	ck_assert_uint_eq(s.acked_bytes, 1100);
	ck_assert_uint_eq(T.bytes_in_flight, 0);
}
END_TEST

START_TEST(later_rtt_sample_subtracts_ack_delay)
{
	struct fp_trk_summary s;

	sent(10, 0);
	ack(10, 10, 0, 100 * MS, &s);
	sent(11, 200 * MS);
	ack(11, 11, 10000, 320 * MS, &s); /* latest 120, delay 10 -> 110 */
	ck_assert_uint_eq(T.latest_rtt, 120 * MS);
	ck_assert_uint_eq(T.rttvar, (3 * 50 * MS + 10 * MS) / 4);
	ck_assert_uint_eq(T.smoothed_rtt, (7 * 100 * MS + 110 * MS) / 8);
	ck_assert_uint_eq(T.min_rtt, 100 * MS);
}
END_TEST

START_TEST(ack_delay_is_capped_at_max_ack_delay)
{
	struct fp_trk_summary s;

	sent(10, 0);
	ack(10, 10, 0, 100 * MS, &s);
	sent(11, 200 * MS);
	ack(11, 11, 100000, 400 * MS, &s); /* latest 200, delay 100 capped to 25 */
	ck_assert_uint_eq(T.smoothed_rtt, (7 * 100 * MS + 175 * MS) / 8);
}
END_TEST

START_TEST(late_ack_of_older_packet_takes_no_rtt_sample)
{
	struct fp_trk_summary s;

	sent(10, 0);
	sent(11, 1 * MS);
	ack(11, 11, 0, 50 * MS, &s);
	ck_assert_uint_eq(T.latest_rtt, 49 * MS);
	ack2(11, 11, 10, 10, 0, 900 * MS, &s); /* 10 newly acked, but older */
	ck_assert_uint_eq(s.acked_pkts, 1);
	ck_assert_int_eq(s.rtt_sample, 0);
	ck_assert_uint_eq(T.latest_rtt, 49 * MS);
}
END_TEST

START_TEST(ack_of_numbers_not_tracked_changes_nothing)
{
	struct fp_trk_summary s;

	sent(10, 0);
	ack(9, 5, 0, 100 * MS, &s); /* ngtcp2's packets */
	ck_assert_uint_eq(s.acked_pkts, 0);
	ck_assert_int_eq(s.rtt_sample, 0);
	ck_assert_int_eq(T.has_rtt, 0);
	ck_assert_uint_eq(T.bytes_in_flight, 1100);
}
END_TEST

START_TEST(packet_threshold_declares_loss_three_numbers_behind)
{
	struct fp_trk_summary s;

	for (uint64_t pn = 1; pn <= 5; pn++)
		sent(pn, pn * 1000); /* microseconds apart: no time-threshold loss */
	ack(4, 4, 0, 10 * MS, &s);
	ck_assert_uint_eq(s.lost_pkts, 1);
	ck_assert_int_eq(L.nlost, 1);
	ck_assert_uint_eq(L.lost[0], 1); /* 4 >= 1 + 3; 2 and 3 not yet */
	ck_assert_uint_eq(s.largest_lost_sent_ns, 1000);
	ck_assert_uint_ne(T.loss_time, 0); /* 2 and 3 wait for the time threshold */
	ck_assert_uint_eq(T.bytes_in_flight, 3 * 1100);
}
END_TEST

START_TEST(time_threshold_declares_loss_at_nine_eighths_rtt)
{
	struct fp_trk_summary s;
	uint64_t t0 = 1000 * MS, when;

	sent(1, 0);
	ack(1, 1, 0, 100 * MS, &s); /* srtt 100 ms */
	sent(20, t0);
	sent(21, t0 + 1 * MS);
	ack(21, 21, 0, t0 + 101 * MS, &s); /* latest 100 ms */
	ck_assert_uint_eq(s.lost_pkts, 0);
	when = fp_tracker_timer(&T);
	ck_assert_uint_eq(when, t0 + 100 * MS + 100 * MS / 8);
	ck_assert_int_eq(fp_tracker_on_timeout(&T, when - 1, &s, NULL), 0);
	ck_assert_int_eq(fp_tracker_on_timeout(&T, when, &s, NULL), 1);
	ck_assert_int_eq(L.nlost, 1);
	ck_assert_uint_eq(L.lost[0], 20);
	ck_assert_uint_eq(fp_tracker_timer(&T), 0); /* nothing in flight */
}
END_TEST

START_TEST(pto_fires_after_period_and_backs_off_without_declaring_loss)
{
	struct fp_trk_summary s;
	uint64_t period, when;
	int probes;

	sent(7, 5 * MS);
	period = fp_tracker_pto_period(&T); /* 333 + 4*166.5 + 25 ms */
	ck_assert_uint_eq(period, 333 * MS + 4 * (333 * MS / 2) + 25 * MS);
	when = fp_tracker_timer(&T);
	ck_assert_uint_eq(when, 5 * MS + period);
	ck_assert_int_eq(fp_tracker_on_timeout(&T, when - 1, &s, &probes), 0);
	ck_assert_int_eq(fp_tracker_on_timeout(&T, when, &s, &probes), 2);
	ck_assert_int_eq(probes, 2);
	ck_assert_int_eq(L.nlost, 0);
	ck_assert_uint_eq(fp_tracker_timer(&T), 5 * MS + 2 * period);
	{
		struct fp_media_pkt o[4];
		ck_assert_uint_eq(fp_tracker_oldest(&T, o, 4), 1);
		ck_assert_uint_eq(o[0].pn, 7);
	}
	ack(7, 7, 0, when + MS, &s);
	ck_assert_uint_eq(T.pto_count, 0);
}
END_TEST

START_TEST(lost_span_longer_than_three_ptos_is_persistent_congestion)
{
	struct fp_trk_summary s;
	uint64_t t0 = 1000 * MS;

	sent(1, 0);
	ack(1, 1, 0, 100 * MS, &s); /* srtt 100, rttvar 50: 3 * 325 = 975 ms */
	sent(10, t0);
	sent(11, t0 + 600 * MS);
	sent(12, t0 + 1200 * MS);
	sent(16, t0 + 1300 * MS);
	ack(16, 16, 0, t0 + 1400 * MS, &s);
	ck_assert_uint_eq(s.lost_pkts, 3);
	ck_assert_int_eq(s.persistent_congestion, 1);
}
END_TEST

START_TEST(ack_inside_the_lost_span_prevents_persistent_congestion)
{
	struct fp_trk_summary s;
	uint64_t t0 = 1000 * MS;

	sent(1, 0);
	ack(1, 1, 0, 100 * MS, &s);
	sent(10, t0);
	sent(11, t0 + 600 * MS);
	sent(12, t0 + 1200 * MS);
	sent(16, t0 + 1300 * MS);
	ack2(16, 16, 11, 11, 0, t0 + 1400 * MS, &s);
	ck_assert_uint_eq(s.lost_pkts, 2);
	ck_assert_int_eq(s.persistent_congestion, 0);
}
END_TEST

START_TEST(events_register_forwarded_packets_and_report_drops)
{
	struct moq_event ev = {.ts_ns = 5,
			       .pn = 42,
			       .down_stream_id = 7,
			       .offset = 100,
			       .data_len = 900,
			       .wire_len = 1000,
			       .fin = 1,
			       .verdict = MOQ_V_FORWARDED};
	struct fp_media_pkt o[2];

	ck_assert_int_eq(fp_tracker_on_event(&T, &ev), 0);
	ev.verdict = MOQ_V_DROPPED;
	ev.pn = 0;
	ck_assert_int_eq(fp_tracker_on_event(&T, &ev), 1);
	ck_assert_uint_eq(fp_tracker_oldest(&T, o, 2), 1);
	ck_assert_uint_eq(o[0].pn, 42);
	ck_assert_uint_eq(o[0].sid, 7);
	ck_assert_uint_eq(o[0].offset, 100);
	ck_assert_uint_eq(o[0].len, 900);
	ck_assert_uint_eq(o[0].fin, 1);
	ck_assert_uint_eq(T.bytes_in_flight, 1000);
}
END_TEST

START_TEST(out_of_order_registrations_are_kept_sorted)
{
	struct fp_media_pkt o[4];
	struct fp_media_pkt dup = {.pn = 5};

	sent(5, 1);
	sent(3, 2);
	sent(4, 3);
	ck_assert_int_eq(fp_tracker_on_sent(&T, &dup), -EEXIST);
	ck_assert_uint_eq(fp_tracker_oldest(&T, o, 4), 3);
	ck_assert_uint_eq(o[0].pn, 3);
	ck_assert_uint_eq(o[1].pn, 4);
	ck_assert_uint_eq(o[2].pn, 5);
}
END_TEST

START_TEST(ack_after_loss_is_reported_as_acked_and_spurious)
{
	struct fp_trk_summary s;

	for (uint64_t pn = 1; pn <= 5; pn++)
		sent(pn, pn * 1000);
	ack(4, 4, 0, 10 * MS, &s); /* 1 lost */
	ck_assert_int_eq(L.nlost, 1);
	ack2(4, 4, 1, 1, 0, 11 * MS, &s);
	ck_assert_uint_eq(T.spurious, 1);
	ck_assert_uint_eq(s.acked_pkts, 0); /* not counted again for CC */
	ck_assert_uint_eq(L.acked[L.nacked - 1], 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_tracker");
	TCase *tc = tcase_create("tracker");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, first_rtt_sample_sets_smoothed_rtt_and_half_variance);
	tcase_add_test(tc, later_rtt_sample_subtracts_ack_delay);
	tcase_add_test(tc, ack_delay_is_capped_at_max_ack_delay);
	tcase_add_test(tc, late_ack_of_older_packet_takes_no_rtt_sample);
	tcase_add_test(tc, ack_of_numbers_not_tracked_changes_nothing);
	tcase_add_test(tc, packet_threshold_declares_loss_three_numbers_behind);
	tcase_add_test(tc, time_threshold_declares_loss_at_nine_eighths_rtt);
	tcase_add_test(tc, pto_fires_after_period_and_backs_off_without_declaring_loss);
	tcase_add_test(tc, lost_span_longer_than_three_ptos_is_persistent_congestion);
	tcase_add_test(tc, ack_inside_the_lost_span_prevents_persistent_congestion);
	tcase_add_test(tc, events_register_forwarded_packets_and_report_drops);
	tcase_add_test(tc, out_of_order_registrations_are_kept_sorted);
	tcase_add_test(tc, ack_after_loss_is_reported_as_acked_and_spurious);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
