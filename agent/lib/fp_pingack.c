/* fp_pingack: ACK frames for held PINGs (fp_pingack.h). */
#include "fp_pingack.h"
#include "fp_pnspace.h"

#include <stdlib.h>

#include "wire/varint.h"

int fp_pkt_take_ping(uint8_t *pkt, size_t len, size_t dcidlen, uint32_t *pn_field)
{
	size_t hdr = 1 + dcidlen + 4, o, end, pings = 0;

	if (len < hdr + 16 || (pkt[0] & 0x80) || (pkt[0] & 0x03) != 3)
		return 0;
	end = len - 16;
	/* first pass: only ACK, PADDING, PING, and at least one PING */
	for (o = hdr; o < end;) {
		uint8_t t = pkt[o++];

		if (t == 0x01)
			pings++;
		else if (t != 0x00 &&
			 ((t != 0x02 && t != 0x03) || fp_ack_frame_skip(pkt, &o, end, t)))
			return 0;
	}
	if (!pings)
		return 0;
	/* second pass: the same walk, PINGs become PADDING */
	for (o = hdr; o < end;) {
		uint8_t t = pkt[o];

		if (t == 0x01)
			pkt[o] = 0x00;
		o++;
		if (t == 0x02 || t == 0x03)
			fp_ack_frame_skip(pkt, &o, end, t);
	}
	*pn_field = (uint32_t)pkt[hdr - 4] << 24 | (uint32_t)pkt[hdr - 3] << 16 |
		    (uint32_t)pkt[hdr - 2] << 8 | pkt[hdr - 1];
	return 1;
}

uint64_t fp_pingack_decode32(const struct fp_pingack *a, uint32_t field)
{
	const uint64_t win = 1ull << 32, hwin = win / 2;
	uint64_t expected, cand;

	if (!a->nrecent)
		return field;
	expected = a->largest + 1;
	cand = (expected & ~(win - 1)) | field;
	if (cand + hwin <= expected && cand < (1ull << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}

static int desc(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? 1 : a > b ? -1 : 0;
}

/* Append v to out[o], or fail the whole frame (returns 0). */
#define PUT(v)                                                                                     \
	do {                                                                                       \
		int w_ = quic_varint_encode(out + o, cap - o, (v));                                \
		if (w_ <= 0)                                                                       \
			return 0;                                                                  \
		o += (size_t)w_;                                                                   \
	} while (0)

size_t fp_pingack_frame(struct fp_pingack *a, const uint64_t *pn, size_t n,
			uint64_t ack_delay_field, uint8_t *out, size_t cap)
{
	uint64_t all[FP_PINGACK_MAX];
	uint64_t lo[FP_PINGACK_MAX], hi[FP_PINGACK_MAX];
	size_t m = 0, k = 0, o = 0;

	if (!n || n > FP_PINGACK_MAX - FP_PINGACK_RECENT)
		return 0;
	for (size_t i = 0; i < n; i++)
		all[m++] = pn[i];
	for (size_t i = 0; i < a->nrecent; i++)
		all[m++] = a->recent[i];
	qsort(all, m, sizeof(all[0]), desc);
	/* descending runs of consecutive numbers -> ranges */
	for (size_t i = 0; i < m; i++) {
		if (k && all[i] == lo[k - 1])
			continue; /* duplicate */
		if (k && all[i] + 1 == lo[k - 1]) {
			lo[k - 1] = all[i];
			continue;
		}
		hi[k] = lo[k] = all[i];
		k++;
	}
	if (cap < 1)
		return 0;
	out[o++] = 0x02; /* ACK */
	PUT(hi[0]);
	PUT(ack_delay_field);
	PUT(k - 1);
	PUT(hi[0] - lo[0]);
	for (size_t i = 1; i < k; i++) {
		PUT(lo[i - 1] - hi[i] - 2); /* Gap */
		PUT(hi[i] - lo[i]);	    /* ACK Range Length */
	}
	/* the largest distinct numbers, for the next frame */
	a->nrecent = 0;
	for (size_t i = 0; i < m && a->nrecent < FP_PINGACK_RECENT; i++)
		if (!a->nrecent || all[i] != a->recent[a->nrecent - 1])
			a->recent[a->nrecent++] = all[i];
	a->largest = all[0];
	return o;
}
