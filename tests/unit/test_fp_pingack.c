/* fp_pingack: the ACK frame the agent writes for held PINGs (RFC 9000
 * 19.3): ranges from unordered numbers, the recent numbers repeated, the
 * 4-byte number field decoded (RFC 9000 A.3). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fp_pingack.h"

/* Decode an ACK frame (type 0x02, 1..8-byte varints) into ranges. */
struct dec {
	uint64_t largest, delay, count;
	uint64_t lo[64], hi[64];
};

static uint64_t rv(const uint8_t *p, size_t *o)
{
	size_t n = (size_t)1 << (p[*o] >> 6);
	uint64_t v = p[*o] & 0x3f;

	for (size_t i = 1; i < n; i++)
		v = (v << 8) | p[*o + i];
	*o += n;
	return v;
}

static size_t decode(const uint8_t *p, struct dec *d)
{
	size_t o = 1;
	uint64_t first;

	ck_assert_uint_eq(p[0], 0x02);
	d->largest = rv(p, &o);
	d->delay = rv(p, &o);
	d->count = rv(p, &o);
	first = rv(p, &o);
	d->hi[0] = d->largest;
	d->lo[0] = d->largest - first;
	for (uint64_t i = 1; i <= d->count; i++) {
		uint64_t gap = rv(p, &o), len = rv(p, &o);

		d->hi[i] = d->lo[i - 1] - gap - 2;
		d->lo[i] = d->hi[i] - len;
	}
	return o;
}

/* 7, 5, 6, 9 (unordered, a duplicate) -> ranges 9..9, 5..7. */
START_TEST(ranges_from_unordered_numbers)
{
	struct fp_pingack a = {0};
	uint64_t pn[] = {7, 5, 6, 9, 6};
	uint8_t out[FP_PINGACK_FRAME_MAX];
	struct dec d;
	size_t n = fp_pingack_frame(&a, pn, 5, 1234, out, sizeof(out));

	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(decode(out, &d), n);
	ck_assert_uint_eq(d.largest, 9);
	ck_assert_uint_eq(d.delay, 1234);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_uint_eq(d.lo[0], 9);
	ck_assert_uint_eq(d.hi[1], 7);
	ck_assert_uint_eq(d.lo[1], 5);
	ck_assert_uint_eq(a.largest, 9);
	ck_assert_uint_eq(a.nrecent, 4);
}
END_TEST

/* The next frame repeats the last FP_PINGACK_RECENT numbers answered
 * (a lost ACK-only packet is never retransmitted). */
START_TEST(recent_numbers_repeated)
{
	struct fp_pingack a = {0};
	uint8_t out[FP_PINGACK_FRAME_MAX];
	struct dec d;
	uint64_t first[] = {100}, second[] = {140};

	ck_assert_uint_gt(fp_pingack_frame(&a, first, 1, 0, out, sizeof(out)), 0);
	ck_assert_uint_gt(fp_pingack_frame(&a, second, 1, 0, out, sizeof(out)), 0);
	decode(out, &d);
	ck_assert_uint_eq(d.largest, 140);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_uint_eq(d.lo[1], 100);
	ck_assert_uint_eq(d.hi[1], 100);
	/* after many, the new one and only the newest FP_PINGACK_RECENT before */
	for (uint64_t i = 0; i < 20; i++) {
		uint64_t pn = 200 + 3 * i;

		ck_assert_uint_gt(fp_pingack_frame(&a, &pn, 1, 0, out, sizeof(out)), 0);
	}
	decode(out, &d);
	ck_assert_uint_eq(d.count, FP_PINGACK_RECENT);
	ck_assert_uint_eq(d.largest, 200 + 3 * 19);
	ck_assert_uint_eq(d.lo[d.count], 200 + 3 * (19 - FP_PINGACK_RECENT));
}
END_TEST

/* Nothing to acknowledge, too many, or no room: no frame, nothing kept. */
START_TEST(refuses_empty_too_many_or_no_room)
{
	struct fp_pingack a = {0};
	uint64_t pn[FP_PINGACK_MAX];
	uint8_t out[FP_PINGACK_FRAME_MAX];

	for (size_t i = 0; i < FP_PINGACK_MAX; i++)
		pn[i] = 2 * i;
	ck_assert_uint_eq(fp_pingack_frame(&a, pn, 0, 0, out, sizeof(out)), 0);
	ck_assert_uint_eq(
	    fp_pingack_frame(&a, pn, FP_PINGACK_MAX - FP_PINGACK_RECENT + 1, 0, out, sizeof(out)),
	    0);
	ck_assert_uint_eq(fp_pingack_frame(&a, pn, 4, 0, out, 3), 0);
	ck_assert_uint_eq(a.nrecent, 0);
	/* the most a frame holds fits the bound, with 8-byte varints */
	for (size_t i = 0; i < FP_PINGACK_MAX; i++)
		pn[i] = (1ull << 40) + 4 * i;
	ck_assert_uint_gt(fp_pingack_frame(&a, pn, FP_PINGACK_MAX - FP_PINGACK_RECENT, 1ull << 40,
					   out, sizeof(out)),
			  0);
}
END_TEST

/* RFC 9000 A.3 with a 4-byte field: near the largest answered, across the
 * 2^32 boundary both ways. */
START_TEST(decode_32bit_field)
{
	struct fp_pingack a = {0};
	uint8_t out[FP_PINGACK_FRAME_MAX];
	uint64_t pn = 0xfffffff0ull;

	ck_assert_uint_eq(fp_pingack_decode32(&a, 0x1234), 0x1234);
	ck_assert_uint_gt(fp_pingack_frame(&a, &pn, 1, 0, out, sizeof(out)), 0);
	ck_assert_uint_eq(fp_pingack_decode32(&a, 0xfffffff8u), 0xfffffff8ull);
	ck_assert_uint_eq(fp_pingack_decode32(&a, 0x00000005u), 0x100000005ull);
	pn = 0x100000005ull;
	ck_assert_uint_gt(fp_pingack_frame(&a, &pn, 1, 0, out, sizeof(out)), 0);
	ck_assert_uint_eq(fp_pingack_decode32(&a, 0xfffffff9u), 0xfffffff9ull);
	ck_assert_uint_eq(fp_pingack_decode32(&a, 0x00000009u), 0x100000009ull);
}
END_TEST

/* A plaintext-profile 1-RTT packet: 0x43, 8-byte DCID, number, frames, tag. */
static size_t mkpkt(uint8_t *p, uint32_t pn, const uint8_t *fr, size_t n)
{
	size_t o = 0;

	p[o++] = 0x43;
	memset(p + o, 0xcc, 8);
	o += 8;
	p[o++] = (uint8_t)(pn >> 24);
	p[o++] = (uint8_t)(pn >> 16);
	p[o++] = (uint8_t)(pn >> 8);
	p[o++] = (uint8_t)pn;
	memcpy(p + o, fr, n);
	o += n;
	memcpy(p + o, "moq-plaintext-v1", 16);
	return o + 16;
}

/* ACK + PING (+ PADDING), PING + ACK, ACK_ECN + PING: the PING becomes
 * PADDING, the number is given; nothing else changes. */
START_TEST(take_ping_from_ack_ping)
{
	/* ACK largest 70 delay 3, 1 more range (gap 2, len 1), PING, PADDING */
	const uint8_t f1[] = {0x02, 0x40, 70, 3, 1, 0, 2, 1, 0x01, 0x00, 0x00};
	const uint8_t f2[] = {0x01, 0x03, 9, 0, 0, 2, 1, 0, 4};
	uint8_t p[128], q[128];
	uint32_t pn = 0;
	size_t n = mkpkt(p, 0x01020304, f1, sizeof(f1));

	memcpy(q, p, n);
	ck_assert_int_eq(fp_pkt_take_ping(p, n, 8, &pn), 1);
	ck_assert_uint_eq(pn, 0x01020304);
	q[13 + 8] = 0x00; /* only the PING byte changed */
	ck_assert_mem_eq(p, q, n);
	ck_assert_int_eq(fp_pkt_take_ping(p, n, 8, &pn), 0); /* no PING left */
	n = mkpkt(p, 77, f2, sizeof(f2));
	ck_assert_int_eq(fp_pkt_take_ping(p, n, 8, &pn), 1);
	ck_assert_uint_eq(pn, 77);
	ck_assert_uint_eq(p[13], 0x00);
}
END_TEST

/* Another frame (MAX_STREAMS, STREAM), a truncated ACK, a long header, a
 * packet too short: untouched, 0. */
START_TEST(take_ping_refuses_others)
{
	const uint8_t other[] = {0x02, 5, 0, 0, 0, 0x01, 0x13, 0x10};
	const uint8_t trunc[] = {0x01, 0x02, 0x40};
	const uint8_t lone[] = {0x01};
	uint8_t p[128], q[128];
	uint32_t pn = 9;
	size_t n = mkpkt(p, 1, other, sizeof(other));

	memcpy(q, p, n);
	ck_assert_int_eq(fp_pkt_take_ping(p, n, 8, &pn), 0);
	ck_assert_mem_eq(p, q, n);
	n = mkpkt(p, 1, trunc, sizeof(trunc));
	memcpy(q, p, n);
	ck_assert_int_eq(fp_pkt_take_ping(p, n, 8, &pn), 0);
	ck_assert_mem_eq(p, q, n);
	ck_assert_uint_eq(pn, 9);
	n = mkpkt(p, 1, lone, sizeof(lone));
	p[0] = 0xc3; /* long header */
	ck_assert_int_eq(fp_pkt_take_ping(p, n, 8, &pn), 0);
	ck_assert_int_eq(fp_pkt_take_ping(p, 20, 8, &pn), 0);
	/* a PING alone is taken too (PING + PADDING: nothing for ngtcp2) */
	p[0] = 0x43;
	ck_assert_int_eq(fp_pkt_take_ping(p, n, 8, &pn), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fp_pingack");
	TCase *t = tcase_create("frame");

	tcase_add_test(t, ranges_from_unordered_numbers);
	tcase_add_test(t, recent_numbers_repeated);
	tcase_add_test(t, refuses_empty_too_many_or_no_room);
	tcase_add_test(t, decode_32bit_field);
	tcase_add_test(t, take_ping_from_ack_ping);
	tcase_add_test(t, take_ping_refuses_others);
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
