/* libFuzzer target: the agent's ACK translator (agent/lib/fp_ackxlate.c)
 * on random received 1-RTT packets.
 *
 * The fuzz build compiles only libmoq, so the translator and the number
 * space are compiled into this target by including their .c files (they
 * depend on nothing else in agent/lib).
 *
 * Input: 8 bytes first wire number, 8 bytes send plan (bit i: packet i of
 * 64 was ngtcp2's (1) or media (0)), 1 byte "ngtcp2 numbering gaps" mask
 * seed, 1 byte flags (bit 0: the input is the whole packet, else a header
 * and the tag are added around it), then the packet bytes.
 * Properties: no out-of-bounds access (ASan); when translation succeeds
 * with cap == len the output has the same length, the same header and the
 * last 16 bytes (tag), its frames parse exactly to the tag, and every ACK in it
 * acknowledges only numbers ngtcp2 sent; with room to grow, the output
 * never exceeds cap; a rejected packet is left unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/lib/fp_ackxlate.c"
#include "../../agent/lib/fp_pnspace.c"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_ackxlate: %s failed at line %d\n", #cond, __LINE__); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static struct fp_ackx X;
static uint8_t pkt[FP_ACKX_MAX_PKT + 64], orig[FP_ACKX_MAX_PKT + 64];
static uint64_t ng_sent[64];
static size_t n_ng_sent;

static int media(void *u, uint64_t sid)
{
	return (sid & 3) == 3;
}

static void on_ack(void *u, const struct fp_wire_ack *a)
{
	CHECK(a->nranges >= 1 && a->ranges[0].hi == a->largest);
	for (size_t i = 0; i < a->nranges; i++) {
		CHECK(a->ranges[i].lo <= a->ranges[i].hi);
		if (i)
			CHECK(a->ranges[i].hi + 2 <= a->ranges[i - 1].lo);
	}
}

static const struct fp_ackx_ops ops = {.on_media_ack = on_ack, .is_media_stream = media};

static int ng_was_sent(uint64_t n)
{
	for (size_t i = 0; i < n_ng_sent; i++)
		if (ng_sent[i] == n)
			return 1;
	return 0;
}

/* Every frame parses up to the tag; ACK numbers are ngtcp2's. */
static void check_output(const uint8_t *p, size_t len, const uint8_t *tag)
{
	const uint8_t *q = p + 13, *end = p + len - 16;

	while (q < end) {
		struct moq_quic_frame f;
		int r;
		if (*q == 0x02 || *q == 0x03) {
			struct ack a;
			struct fp_pn_range rr[FP_ACKX_MAX_RANGES];
			r = ack_decode(&a, rr, q, end, UINT64_MAX);
			CHECK(r > 0);
			for (size_t i = 0; i < a.nranges; i++) {
				CHECK(rr[i].hi - rr[i].lo < 64);
				for (uint64_t n = rr[i].lo; n <= rr[i].hi; n++)
					CHECK(ng_was_sent(n));
			}
		} else {
			r = moq_quic_frame_parse(&f, q, end);
			CHECK(r > 0);
		}
		q += r;
	}
	CHECK(q == end);
	CHECK(memcmp(end, tag, 16) == 0); /* the last 16 bytes travel unchanged */
}

/* The guard fp_pnspace publishes for the kernel (moq_acks): a bit exactly
 * for each ack-eliciting pair ngtcp2 has not been told is acknowledged. */
static struct moq_acks G;

static void check_guard(const struct fp_pnspace *ps)
{
	size_t want = 0, have = 0;

	for (size_t i = 0; i < ps->count; i++) {
		const struct fp_pn_pair *p = fp_pnspace_at(ps, i);
		uint64_t b = p->wire % MOQ_ACK_GUARD_BITS;
		int set = (int)((G.guard[b / 64] >> (b % 64)) & 1);
		int exp = p->eliciting && !p->acked && p->wire >= G.guard_floor &&
			  p->wire < G.guard_floor + MOQ_ACK_GUARD_BITS;

		CHECK(set == exp);
		want += (size_t)exp;
	}
	for (int w = 0; w < MOQ_ACK_GUARD_WORDS; w++)
		have += (size_t)__builtin_popcountll(G.guard[w]);
	CHECK(have == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moq_conn_seq seq;
	struct fp_pnspace ps;
	uint64_t first = 0, plan = 0, ng = 0;
	uint8_t gaps, flags;
	size_t len, olen;
	int rv;

	if (size < 18)
		return 0;
	memcpy(&first, data, 8);
	memcpy(&plan, data + 8, 8);
	gaps = data[16];
	flags = data[17];
	data += 18;
	size -= 18;
	first &= (1ull << 40) - 1;
	memset(&seq, 0, sizeof(seq));
	seq.next_pn = first;
	if (fp_pnspace_init(&ps, &seq, 64))
		return 0;
	if (flags & 4)
		fp_pnspace_set_guard(&ps, &G);
	n_ng_sent = 0;
	for (int i = 0; i < 64; i++) {
		if (plan & (1ull << i)) {
			uint8_t h[32] = {0x43};
			/* every other ngtcp2 packet ack-eliciting (a PING) */
			if ((flags & 8) && (i & 1))
				h[13] = 0x01;
			if (gaps & (1u << (i & 7)))
				ng++; /* ngtcp2 number lost before the hook */
			CHECK(fp_pnspace_on_send(&ps, h, sizeof(h), 8, ng, NULL) == 0);
			ng_sent[n_ng_sent++] = ng++;
		} else {
			fp_pnspace_take_media(&ps);
		}
	}
	if (flags & 1) {
		if (size > FP_ACKX_MAX_PKT)
			goto out;
		memcpy(pkt, data, size);
		len = size;
	} else {
		if (size + 29 > FP_ACKX_MAX_PKT)
			goto out;
		pkt[0] = 0x43;
		memset(pkt + 1, 0xab, 12);
		memcpy(pkt + 13, data, size);
		memcpy(pkt + 13 + size, MOQ_PLAINTEXT_TAG, 16);
		len = size + 29;
	}
	memcpy(orig, pkt, len);
	fp_ackx_init(&X, &ps, 8, &ops, NULL);
	fp_ackx_set_flow(&X, 1000, flags & 2 ? 5000 : 0);
	olen = len;
	rv = fp_ackx_packet(&X, pkt, &olen, len);
	if (flags & 4)
		check_guard(&ps);
	fp_pnspace_set_guard(&ps, NULL); /* the pairs are reset below */
	if (rv < 0) {
		CHECK(-rv > 0 && -rv < FP_ACKX_R_MAX);
		CHECK(olen == len && memcmp(pkt, orig, len) == 0);
	} else {
		CHECK(olen == len);
		CHECK(memcmp(pkt, orig, 13) == 0);
		check_output(pkt, olen, orig + len - 16);
		/* again with room to grow, on fresh pairs */
		for (size_t i = 0; i < ps.count; i++)
			fp_pnspace_at(&ps, i)->acked = 0;
		memcpy(pkt, orig, len);
		olen = len;
		fp_ackx_init(&X, &ps, 8, &ops, NULL);
		CHECK(fp_ackx_packet(&X, pkt, &olen, len + 64) == 0);
		CHECK(olen >= len && olen <= len + 64);
		check_output(pkt, olen, orig + len - 16);
	}
out:
	fp_pnspace_free(&ps);
	return 0;
}
