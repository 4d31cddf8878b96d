/* fp_pingack: the ACK frame the agent writes for held PINGs (RFC 9000
 * 19.3): ranges from unordered numbers, the recent numbers repeated, the
 * 4-byte number field decoded (RFC 9000 A.3). */
#include <check.h>
#include <stdlib.h>

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

static Suite *suite(void)
{
	Suite *s = suite_create("fp_pingack");
	TCase *t = tcase_create("frame");

	tcase_add_test(t, ranges_from_unordered_numbers);
	tcase_add_test(t, recent_numbers_repeated);
	tcase_add_test(t, refuses_empty_too_many_or_no_room);
	tcase_add_test(t, decode_32bit_field);
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
