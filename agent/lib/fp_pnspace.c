/* fp_pnspace: shared 1-RTT packet-number space (see fp_pnspace.h). */
#include "fp_pnspace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/varint.h"

int fp_pnspace_init(struct fp_pnspace *ps, struct moq_conn_seq *seq, size_t cap)
{
	size_t c = 64;

	memset(ps, 0, sizeof(*ps));
	if (!seq || cap > ((size_t)1 << 24))
		return -EINVAL;
	while (c < cap)
		c <<= 1;
	ps->ring = calloc(c, sizeof(*ps->ring));
	if (!ps->ring)
		return -ENOMEM;
	ps->cap = c;
	ps->seq = seq;
	ps->floor = __atomic_load_n(&seq->next_pn, __ATOMIC_ACQUIRE);
	ps->last_wire = ps->floor;
	return 0;
}

void fp_pnspace_free(struct fp_pnspace *ps)
{
	free(ps->ring);
	memset(ps, 0, sizeof(*ps));
}

uint64_t fp_pnspace_take(struct fp_pnspace *ps, uint64_t n)
{
	return __atomic_fetch_add(&ps->seq->next_pn, (uint64_t)n, __ATOMIC_ACQ_REL);
}

void fp_pnspace_rebind(struct fp_pnspace *ps, struct moq_conn_seq *seq)
{
	uint64_t cur = fp_pnspace_next(ps);
	__u64 v = __atomic_load_n(&seq->next_pn, __ATOMIC_ACQUIRE);

	while (v < cur && !__atomic_compare_exchange_n(&seq->next_pn, &v, cur, 0, __ATOMIC_ACQ_REL,
						       __ATOMIC_ACQUIRE))
		;
	ps->seq = seq;
}

uint64_t fp_pnspace_next(const struct fp_pnspace *ps)
{
	return __atomic_load_n(&ps->seq->next_pn, __ATOMIC_ACQUIRE);
}

static void guard_bit(struct moq_acks *g, uint64_t wire, int set);

static void drop_oldest(struct fp_pnspace *ps)
{
	struct fp_pn_pair *p = fp_pnspace_at(ps, 0);

	if (!p->acked) { /* a later ACK of it cannot be translated any more */
		ps->evicted++;
		ps->floor = p->wire + 1;
		if (ps->guard && p->eliciting &&
		    p->wire >= __atomic_load_n(&ps->guard->guard_floor, __ATOMIC_ACQUIRE))
			guard_bit(ps->guard, p->wire, 0);
	}
	ps->head = (ps->head + 1) & (ps->cap - 1);
	ps->count--;
}

/* ---- guard (struct moq_acks) ------------------------------------------- */

static void guard_bit(struct moq_acks *g, uint64_t wire, int set)
{
	uint64_t bit = wire % MOQ_ACK_GUARD_BITS, m = 1ull << (bit % 64);

	if (set)
		__atomic_fetch_or(&g->guard[bit / 64], m, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&g->guard[bit / 64], ~m, __ATOMIC_SEQ_CST);
}

/* Slide the window so wire fits: pairs further back are given up (their
 * bits cleared before the floor moves, so no bit ever stands for a number
 * it does not guard; a stale floor in the kernel only checks more). */
static void guard_slide(struct fp_pnspace *ps, uint64_t wire)
{
	struct moq_acks *g = ps->guard;
	uint64_t floor = __atomic_load_n(&g->guard_floor, __ATOMIC_ACQUIRE), nf;

	if (wire < floor + MOQ_ACK_GUARD_BITS)
		return;
	nf = wire - MOQ_ACK_GUARD_BITS + 1;
	for (size_t i = fp_pnspace_lower_bound(ps, floor); i < ps->count; i++) {
		struct fp_pn_pair *p = fp_pnspace_at(ps, i);

		if (p->wire >= nf)
			break;
		if (p->wire >= floor && p->eliciting && !p->acked) {
			guard_bit(g, p->wire, 0);
			ps->guard_given_up++;
		}
	}
	__atomic_store_n(&g->guard_floor, nf, __ATOMIC_SEQ_CST);
}

void fp_pnspace_set_guard(struct fp_pnspace *ps, struct moq_acks *g)
{
	uint64_t floor = fp_pnspace_next(ps);

	ps->guard = g;
	if (!g)
		return;
	for (size_t i = 0; i < ps->count; i++) {
		struct fp_pn_pair *p = fp_pnspace_at(ps, i);

		if (p->eliciting && !p->acked) {
			floor = p->wire;
			break;
		}
	}
	memset(g->guard, 0, sizeof(g->guard));
	__atomic_store_n(&g->guard_floor, floor, __ATOMIC_SEQ_CST);
	for (size_t i = 0; i < ps->count; i++) {
		struct fp_pn_pair *p = fp_pnspace_at(ps, i);

		if (p->eliciting && !p->acked) {
			guard_slide(ps, p->wire);
			guard_bit(g, p->wire, 1);
		}
	}
}

void fp_pnspace_mark_acked(struct fp_pnspace *ps, size_t i)
{
	struct fp_pn_pair *p = fp_pnspace_at(ps, i);

	if (p->acked)
		return;
	p->acked = 1;
	if (ps->guard && p->eliciting &&
	    p->wire >= __atomic_load_n(&ps->guard->guard_floor, __ATOMIC_ACQUIRE))
		guard_bit(ps->guard, p->wire, 0);
}

static int skip_varint(const uint8_t *b, size_t *o, size_t end)
{
	size_t n;

	if (*o >= end)
		return -1;
	n = quic_varint_len_from_first(b[*o]);
	if (n > end - *o)
		return -1;
	*o += n;
	return 0;
}

int fp_ack_frame_skip(const uint8_t *b, size_t *o, size_t end, uint8_t type)
{
	uint64_t count;
	int w;

	/* largest, delay, count, first; count x (gap, len); ECN */
	if (skip_varint(b, o, end) || skip_varint(b, o, end) || *o >= end)
		return -1;
	w = quic_varint_decode(&count, b + *o, end - *o);
	if (w <= 0 || count > 4096)
		return -1;
	*o += (size_t)w;
	for (uint64_t k = 0; k < 1 + 2 * count + (type == 0x03 ? 3 : 0); k++)
		if (skip_varint(b, o, end))
			return -1;
	return 0;
}

int fp_pkt_ack_eliciting(const uint8_t *pkt, size_t len, size_t dcidlen)
{
	size_t o = 1 + dcidlen + MOQ_PN_LEN, end;

	if (len < o + MOQ_TAG_LEN)
		return 1;
	end = len - MOQ_TAG_LEN;
	while (o < end) {
		uint8_t t = pkt[o++];

		switch (t) {
		case 0x00:
			continue;
		case 0x02:
		case 0x03:
			if (fp_ack_frame_skip(pkt, &o, end, t))
				return 1;
			continue;
		case 0x1c:
		case 0x1d:
			return 0; /* CONNECTION_CLOSE: not ack-eliciting, ends the packet */
		default:
			return 1;
		}
	}
	return 0;
}

int fp_pnspace_on_send(struct fp_pnspace *ps, uint8_t *pkt, size_t len, size_t dcidlen,
		       uint64_t ng_pn, uint64_t *wire_out)
{
	size_t off = 1 + dcidlen;
	uint64_t w;
	struct fp_pn_pair *p;

	if (!pkt || len < off + MOQ_PN_LEN || (pkt[0] & 0x80) || (pkt[0] & 0x03) != 3) {
		ps->send_errors++;
		return -EINVAL;
	}
	if (ps->count) {
		const struct fp_pn_pair *last = fp_pnspace_at(ps, ps->count - 1);
		if (ng_pn <= last->ng) { /* ngtcp2 never reuses a number */
			ps->send_errors++;
			return -EINVAL;
		}
	}
	w = fp_pnspace_take(ps, 1);
	pkt[off] = (uint8_t)(w >> 24);
	pkt[off + 1] = (uint8_t)(w >> 16);
	pkt[off + 2] = (uint8_t)(w >> 8);
	pkt[off + 3] = (uint8_t)w;
	if (ps->count == ps->cap)
		drop_oldest(ps);
	p = fp_pnspace_at(ps, ps->count);
	p->wire = w;
	p->ng = ng_pn;
	p->acked = 0;
	p->eliciting = (uint32_t)fp_pkt_ack_eliciting(pkt, len, dcidlen);
	ps->count++;
	/* before the packet leaves: its ACK must never be consumed unseen */
	if (ps->guard && p->eliciting) {
		guard_slide(ps, w);
		guard_bit(ps->guard, w, 1);
	}
	ps->last_wire = w + 1;
	ps->ng_packets++;
	if (wire_out)
		*wire_out = w;
	return 0;
}

void fp_pnspace_note_media(struct fp_pnspace *ps, uint64_t wire)
{
	ps->media_packets++;
	if (wire + 1 > ps->largest_media)
		ps->largest_media = wire + 1;
}

uint64_t fp_pnspace_take_media(struct fp_pnspace *ps)
{
	uint64_t w = fp_pnspace_take(ps, 1);
	fp_pnspace_note_media(ps, w);
	return w;
}

size_t fp_pnspace_lower_bound(const struct fp_pnspace *ps, uint64_t w)
{
	size_t lo = 0, hi = ps->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (fp_pnspace_at(ps, mid)->wire < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

enum fp_pn_owner fp_pnspace_owner(const struct fp_pnspace *ps, uint64_t wire, uint64_t *ng)
{
	size_t i;

	if (wire >= fp_pnspace_next(ps))
		return FP_PN_UNSENT;
	i = fp_pnspace_lower_bound(ps, wire);
	if (i < ps->count && fp_pnspace_at(ps, i)->wire == wire) {
		if (ng)
			*ng = fp_pnspace_at(ps, i)->ng;
		return FP_PN_NGTCP2;
	}
	if (wire < ps->floor)
		return FP_PN_FORGOTTEN;
	return FP_PN_MEDIA;
}

void fp_pnspace_release_acked(struct fp_pnspace *ps)
{
	while (ps->count && fp_pnspace_at(ps, 0)->acked)
		drop_oldest(ps);
}
