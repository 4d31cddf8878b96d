/* fp_ackring (the agent's reader of moq_acks) and the guard fp_pnspace
 * publishes into it, on plain memory standing in for the mmapped map. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fp_ackring.h"
#include "lib/fp_ackxlate.h"
#include "lib/fp_pnspace.h"
#include "moq_maps.h"

static struct moq_acks A;

struct got {
	int n;
	uint64_t largest[64], ts[64], delay[64];
	size_t nranges[64];
	struct fp_pn_range r0[64], r1[64];
	int ecn[64];
	int64_t ping[64];
};

static void on_ack(void *u, const struct fp_wire_ack *a, uint64_t ts, int64_t ping_pn)
{
	struct got *g = u;

	g->ping[g->n] = ping_pn;
	g->largest[g->n] = a->largest;
	g->delay[g->n] = a->ack_delay_raw;
	g->ts[g->n] = ts;
	g->nranges[g->n] = a->nranges;
	g->r0[g->n] = a->ranges[0];
	if (a->nranges > 1)
		g->r1[g->n] = a->ranges[1];
	g->ecn[g->n] = a->has_ecn;
	g->n++;
}

/* What the kernel does: reserve (head++), write, commit (seq). */
static struct moq_ack_rec *kernel_reserve(void)
{
	struct moq_ack_rec *r = &A.rec[A.head % MOQ_ACK_RING];

	memset(r, 0, sizeof(*r));
	A.head++;
	return r;
}

static void kernel_commit(struct moq_ack_rec *r, uint64_t idx, uint64_t largest, uint64_t ts)
{
	r->largest = largest;
	r->ack_delay_raw = largest / 10;
	r->ts_ns = ts;
	r->nranges = 2;
	r->ranges[0].hi = largest;
	r->ranges[0].lo = largest - 5;
	r->ranges[1].hi = largest - 8;
	r->ranges[1].lo = largest - 9;
	r->seq = idx + 1;
}

START_TEST(drains_committed_records_in_order)
{
	struct got g = {0};
	struct moq_ack_rec *r;

	memset(&A, 0, sizeof(A));
	fp_ackring_enable(&A);
	for (uint64_t i = 0; i < 3; i++) {
		r = kernel_reserve();
		kernel_commit(r, i, 100 + i, 5000 + i);
	}
	ck_assert_uint_eq(fp_ackring_pending(&A), 3);
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), 3);
	ck_assert_int_eq(g.n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(g.largest[i], 100 + (uint64_t)i);
		ck_assert_uint_eq(g.ts[i], 5000 + (uint64_t)i); /* the kernel's time */
		ck_assert_uint_eq(g.delay[i], (100 + (uint64_t)i) / 10);
		ck_assert_uint_eq(g.nranges[i], 2);
		ck_assert_uint_eq(g.r0[i].lo, 95 + (uint64_t)i);
		ck_assert_uint_eq(g.r1[i].hi, 92 + (uint64_t)i);
		ck_assert_uint_eq(g.r1[i].lo, 91 + (uint64_t)i);
	}
	ck_assert_uint_eq(A.tail, 3);
	ck_assert_uint_eq(fp_ackring_pending(&A), 0);
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), 0);
}
END_TEST

/* A record reserved on one CPU and not yet committed stops the reader,
 * even when a later one is committed: order is kept. */
START_TEST(stops_at_a_record_not_committed)
{
	struct got g = {0};
	struct moq_ack_rec *r0, *r1;

	memset(&A, 0, sizeof(A));
	fp_ackring_enable(&A);
	r0 = kernel_reserve();
	r1 = kernel_reserve();
	kernel_commit(r1, 1, 200, 2);
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), 0);
	ck_assert_uint_eq(A.tail, 0);
	kernel_commit(r0, 0, 199, 1);
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), 2);
	ck_assert_uint_eq(g.largest[0], 199);
	ck_assert_uint_eq(g.largest[1], 200);
}
END_TEST

/* max bounds a drain; the ring wraps; a slot still holding an earlier
 * lap's record (seq of another index) is not taken. */
START_TEST(bounded_drain_and_wrap)
{
	struct got g = {0};

	memset(&A, 0, sizeof(A));
	fp_ackring_enable(&A);
	for (uint64_t i = 0; i < MOQ_ACK_RING; i++)
		kernel_commit(kernel_reserve(), i, 10 + i, i);
	ck_assert_uint_eq(fp_ackring_drain(&A, 5, on_ack, &g), 5);
	ck_assert_uint_eq(A.tail, 5);
	for (uint64_t i = MOQ_ACK_RING; i < MOQ_ACK_RING + 5; i++)
		kernel_commit(kernel_reserve(), i, 10 + i, i);
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), MOQ_ACK_RING);
	ck_assert_int_eq(g.n, 5 + MOQ_ACK_RING);
	for (int i = 0; i < g.n; i++)
		ck_assert_uint_eq(g.largest[i], 10 + (uint64_t)i);
	/* reserved in the next lap, the old lap's seq still in the slot: not
	 * committed, not taken */
	A.head++;
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), 0);
	ck_assert_uint_eq(fp_ackring_pending(&A), 1);
}
END_TEST

/* An ACK + PING record hands the reader the packet number the kernel
 * recorded (a TLS slot's full decoded number; the plaintext profile's
 * 32-bit field), up to 62 bits; a plain one -1. The PING bit is opt-in. */
START_TEST(ping_records_give_their_number)
{
	struct got g = {0};
	struct moq_ack_rec *r;

	memset(&A, 0, sizeof(A));
	fp_ackring_enable(&A);
	ck_assert_uint_eq(A.enabled, MOQ_ACKS_EN_ACK);
	fp_ackring_enable_ping(&A);
	ck_assert_uint_eq(A.enabled, MOQ_ACKS_EN_ACK | MOQ_ACKS_EN_PING);
	kernel_commit(kernel_reserve(), 0, 100, 1);
	r = kernel_reserve();
	kernel_commit(r, 1, 101, 2);
	r->flags = MOQ_ACK_REC_F_PING;
	r->pn = 0xc000001234567890ull; /* bits above 62: not a packet number's */
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), 2);
	ck_assert_int_eq(g.ping[0], -1);
	ck_assert_int_eq(g.ping[1], 0x1234567890ll);
	ck_assert_uint_eq(g.largest[1], 101);
	fp_ackring_disable(&A);
	ck_assert_uint_eq(A.enabled, 0);
}
END_TEST

/* A slot bound again skips what its previous connection left unread. */
START_TEST(enable_skips_stale_records)
{
	struct got g = {0};

	memset(&A, 0, sizeof(A));
	kernel_commit(kernel_reserve(), 0, 50, 1);
	A.last_pass_ns = 123;
	fp_ackring_enable(&A);
	ck_assert_uint_eq(A.enabled, 1);
	ck_assert_uint_eq(A.last_pass_ns, 0);
	ck_assert_uint_eq(fp_ackring_drain(&A, 0, on_ack, &g), 0);
	A.last_pass_ns = 456;
	fp_ackring_pass_next(&A); /* the kernel's pass period is over at once */
	ck_assert_uint_eq(A.last_pass_ns, 0);
	fp_ackring_disable(&A);
	ck_assert_uint_eq(A.enabled, 0);
}
END_TEST

/* The pass period follows the idle timeout: an eighth of it, at most
 * 2 s, never 0 (0 would mean the kernel's default). */
START_TEST(pass_period_from_idle_timeout)
{
	memset(&A, 0, sizeof(A));
	ck_assert_uint_eq(fp_ackring_pass_ms(30000), 2000);
	ck_assert_uint_eq(fp_ackring_pass_ms(8000), 1000);
	ck_assert_uint_eq(fp_ackring_pass_ms(1000), 125);
	ck_assert_uint_eq(fp_ackring_pass_ms(3), 1);
	fp_ackring_set_pass_ms(&A, fp_ackring_pass_ms(4000));
	ck_assert_uint_eq(A.pass_ms, 500);
}
END_TEST

/* ---- the guard fp_pnspace publishes --------------------------------------- */

#define HDR 13

static size_t mkpkt(uint8_t *out, const uint8_t *frames, size_t flen)
{
	out[0] = 0x43;
	memset(out + 1, 0xcd, 8);
	memset(out + 9, 0, 4);
	memcpy(out + HDR, frames, flen);
	memcpy(out + HDR + flen, MOQ_PLAINTEXT_TAG, 16);
	return HDR + flen + 16;
}

static int guarded(uint64_t pn)
{
	return pn >= A.guard_floor && pn < A.guard_floor + MOQ_ACK_GUARD_BITS &&
	       ((A.guard[pn % MOQ_ACK_GUARD_BITS / 64] >> (pn % 64)) & 1);
}

static size_t bits_set(void)
{
	size_t n = 0;

	for (int i = 0; i < MOQ_ACK_GUARD_WORDS; i++)
		n += (size_t)__builtin_popcountll(A.guard[i]);
	return n;
}

START_TEST(ack_eliciting_classification)
{
	uint8_t p[128];
	static const uint8_t ack_only[] = {0x02, 5, 0, 1, 2, 1, 0, 0, 0};
	static const uint8_t ack_ecn[] = {0x03, 5, 0, 0, 2, 1, 2, 3};
	static const uint8_t ack_ping[] = {0x02, 5, 0, 0, 2, 0x01};
	static const uint8_t ping[] = {0x01};
	static const uint8_t close[] = {0x02, 5, 0, 0, 2, 0x1c, 0, 0, 0};
	static const uint8_t cut[] = {0x02, 5, 0, 3, 2}; /* 3 ranges missing */
	static const uint8_t stream[] = {0x0a, 3, 1, 'x'};

	ck_assert_int_eq(fp_pkt_ack_eliciting(p, mkpkt(p, ack_only, sizeof(ack_only)), 8), 0);
	ck_assert_int_eq(fp_pkt_ack_eliciting(p, mkpkt(p, ack_ecn, sizeof(ack_ecn)), 8), 0);
	ck_assert_int_eq(fp_pkt_ack_eliciting(p, mkpkt(p, ack_ping, sizeof(ack_ping)), 8), 1);
	ck_assert_int_eq(fp_pkt_ack_eliciting(p, mkpkt(p, ping, sizeof(ping)), 8), 1);
	ck_assert_int_eq(fp_pkt_ack_eliciting(p, mkpkt(p, close, sizeof(close)), 8), 0);
	ck_assert_int_eq(fp_pkt_ack_eliciting(p, mkpkt(p, cut, sizeof(cut)), 8), 1);
	ck_assert_int_eq(fp_pkt_ack_eliciting(p, mkpkt(p, stream, sizeof(stream)), 8), 1);
	ck_assert_int_eq(fp_pkt_ack_eliciting(p, 20, 8), 1); /* no room for a tag */
}
END_TEST

static void on_media_ack(void *u, const struct fp_wire_ack *a)
{
	(void)u;
	(void)a;
}

static const struct fp_ackx_ops ops = {.on_media_ack = on_media_ack};

/* Set before the packet leaves; cleared once a translated ACK told ngtcp2;
 * ACK-only packets are never guarded (ngtcp2 does not track them). */
START_TEST(guard_follows_sends_and_translated_acks)
{
	struct moq_conn_seq seq = {.next_pn = 40};
	struct fp_pnspace ps;
	struct fp_ackx *x = calloc(1, sizeof(*x));
	static const uint8_t ping[] = {0x01};
	static const uint8_t ack_only[] = {0x02, 0, 0, 0, 0};
	uint8_t p[256];
	size_t len;
	uint64_t w0, w1, w2;

	memset(&A, 0, sizeof(A));
	ck_assert_int_eq(fp_pnspace_init(&ps, &seq, 64), 0);
	fp_pnspace_set_guard(&ps, &A);
	ck_assert_uint_eq(A.guard_floor, 40);
	ck_assert_uint_eq(bits_set(), 0);

	len = mkpkt(p, ping, sizeof(ping));
	ck_assert_int_eq(fp_pnspace_on_send(&ps, p, len, 8, 0, &w0), 0);
	len = mkpkt(p, ack_only, sizeof(ack_only));
	ck_assert_int_eq(fp_pnspace_on_send(&ps, p, len, 8, 1, &w1), 0);
	fp_pnspace_take_media(&ps);
	len = mkpkt(p, ping, sizeof(ping));
	ck_assert_int_eq(fp_pnspace_on_send(&ps, p, len, 8, 2, &w2), 0);
	ck_assert(guarded(w0));
	ck_assert(!guarded(w1));
	ck_assert(guarded(w2));
	ck_assert_uint_eq(bits_set(), 2);

	/* the peer acknowledges w0..w1 (no w2): translated, w0 unguarded */
	fp_ackx_init(x, &ps, 8, &ops, NULL);
	{
		uint8_t f[8] = {0x02, (uint8_t)w1, 0, 0, (uint8_t)(w1 - w0)};

		len = mkpkt(p, f, 5);
		ck_assert_int_eq(fp_ackx_packet(x, p, &len, sizeof(p)), 0);
	}
	ck_assert(!guarded(w0));
	ck_assert(guarded(w2));
	ck_assert_uint_eq(bits_set(), 1);

	/* re-published (e.g. the slot bound again): same state */
	fp_pnspace_set_guard(&ps, &A);
	ck_assert(guarded(w2));
	ck_assert_uint_eq(bits_set(), 1);
	ck_assert_uint_le(A.guard_floor, w2);
	fp_pnspace_free(&ps);
	free(x);
}
END_TEST

/* A pair more than 1024 numbers behind the newest guarded one is given up
 * (its bit cleared before the floor moves past it). */
START_TEST(guard_window_slides_and_gives_up_old_pairs)
{
	struct moq_conn_seq seq = {0};
	struct fp_pnspace ps;
	static const uint8_t ping[] = {0x01};
	uint8_t p[64];
	size_t len = mkpkt(p, ping, sizeof(ping));
	uint64_t w0, w1;

	memset(&A, 0, sizeof(A));
	ck_assert_int_eq(fp_pnspace_init(&ps, &seq, 64), 0);
	fp_pnspace_set_guard(&ps, &A);
	ck_assert_int_eq(fp_pnspace_on_send(&ps, p, len, 8, 0, &w0), 0);
	fp_pnspace_take(&ps, MOQ_ACK_GUARD_BITS + 10); /* media */
	ck_assert_int_eq(fp_pnspace_on_send(&ps, p, len, 8, 1, &w1), 0);
	ck_assert_uint_eq(A.guard_floor, w1 - MOQ_ACK_GUARD_BITS + 1);
	ck_assert(!guarded(w0));
	ck_assert(guarded(w1));
	ck_assert_uint_eq(bits_set(), 1);
	ck_assert_uint_eq(ps.guard_given_up, 1);
	/* w0 aliases w0 + 1024 in the bitmap: its bit is gone */
	ck_assert(!((A.guard[w0 % MOQ_ACK_GUARD_BITS / 64] >> (w0 % 64)) & 1) ||
		  w1 % MOQ_ACK_GUARD_BITS == w0 % MOQ_ACK_GUARD_BITS);
	fp_pnspace_set_guard(&ps, NULL);
	ck_assert_int_eq(fp_pnspace_on_send(&ps, p, len, 8, 2, NULL), 0); /* no guard: fine */
	fp_pnspace_free(&ps);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fp_ackring");
	TCase *t = tcase_create("ring");
	TCase *g = tcase_create("guard");

	tcase_add_test(t, drains_committed_records_in_order);
	tcase_add_test(t, stops_at_a_record_not_committed);
	tcase_add_test(t, bounded_drain_and_wrap);
	tcase_add_test(t, enable_skips_stale_records);
	tcase_add_test(t, ping_records_give_their_number);
	tcase_add_test(t, pass_period_from_idle_timeout);
	tcase_add_test(g, ack_eliciting_classification);
	tcase_add_test(g, guard_follows_sends_and_translated_acks);
	tcase_add_test(g, guard_window_slides_and_gives_up_old_pairs);
	suite_add_tcase(s, t);
	suite_add_tcase(s, g);
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
