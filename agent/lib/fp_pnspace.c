/* fp_pnspace: shared 1-RTT packet-number space (see fp_pnspace.h). */
#include "fp_pnspace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static void drop_oldest(struct fp_pnspace *ps)
{
	struct fp_pn_pair *p = fp_pnspace_at(ps, 0);

	if (!p->acked) { /* a later ACK of it cannot be translated any more */
		ps->evicted++;
		ps->floor = p->wire + 1;
	}
	ps->head = (ps->head + 1) & (ps->cap - 1);
	ps->count--;
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
	ps->count++;
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
