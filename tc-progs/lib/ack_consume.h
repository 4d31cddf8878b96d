/* moq_ack_consume: decide whether a registered subscriber's packet is a pure
 * media ACK the kernel may take from the agent, and record it
 * (docs/fast-path.md "Media ACKs in the kernel", struct moq_acks).
 *
 * Consumed only: a plaintext-profile 1-RTT packet (0x43, good tag) whose
 * frames are exactly one ACK / ACK_ECN frame, then a PING if the slot's
 * enabled has MOQ_ACKS_EN_PING, then only PADDING, with at
 * most MOQ_ACK_REC_RANGES well-formed ranges (RFC 9000 19.3.1), nothing
 * acknowledged at or above the connection's next_pn, no range covering a
 * guarded number (an ack-eliciting ngtcp2 packet the agent has not seen
 * acknowledged), a free record in the ring, the slot's last pass to
 * the agent less than its pass period (moq_ack_pass_ns) ago and its gate budget (when
 * gated) at least MOQ_ACK_GATE_LOW. Anything else goes to the agent
 * unchanged. */
#ifndef MOQ_ACK_CONSUME_H
#define MOQ_ACK_CONSUME_H

#include "bpf_common.h"
#include "maps.bpf.h"
#include "parse_quic_short.h"
#include "quic_tag.h"
#include "quic_varint.h"

/* Shared with the agent through mmap: read and write each word once. */
#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))
#define READ_ONCE_U64(x) (*(volatile __u64 *)&(x))
#define WRITE_ONCE_U64(x, v) (*(volatile __u64 *)&(x) = (v))

struct moq_ackc_ctx {
	struct moq_cursor c;
	__u32 bad;
	__u32 hit;
	__u64 count, first; /* ACK Range Count, First ACK Range */
	struct moq_cid dcid;
	__u8 type;
	__u8 pad0[3];
	__u32 pn;	      /* the subscriber's packet number field (plaintext profile) */
	__u64 full_pn;	      /* what a PING records: pn, or the opened TLS packet's */
	struct moq_ack_rec r; /* ranges[0] set before the loop */
};

/* The loops' argument (on the stack: pointers may not live in a map; the
 * callbacks look the scratch and the slot up again, which costs less stack
 * in relay_ingress than passing them). */
struct moq_ackc_loop {
	struct __sk_buff *skb;
	__u32 zero; /* the scratch key */
	__u32 slot; /* the moq_acks key */
};

/* Per-CPU scratch: the context with its record is too big for the stack of
 * relay_ingress, which inlines both roles. Not pinned: each program's own
 * copy is fine for scratch. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_ackc_ctx);
} moq_ack_scratch SEC(".maps");

static __always_inline struct moq_ackc_ctx *moq_ackc_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&moq_ack_scratch, &zero);
}

/* One (Gap, ACK Range Length) pair: range i + 1 from range i. */
static long moq_ackc_range_step(__u64 i, void *data)
{
	struct moq_ackc_loop *l = data;
	struct moq_ackc_ctx *x = moq_ackc_scratch();
	__u64 gap, len, lo, hi;

	if (!x)
		return 1;
	if (i + 1 >= MOQ_ACK_REC_RANGES) {
		x->bad = 1;
		return 1;
	}
	if (moq_quic_varint(l->skb, &x->c, &gap) < 0 || moq_quic_varint(l->skb, &x->c, &len) < 0) {
		x->bad = 1;
		return 1;
	}
	lo = x->r.ranges[i & (MOQ_ACK_REC_RANGES - 1)].lo;
	/* next largest = smallest - gap - 2, next smallest = that - length;
	 * neither may go below 0 */
	if (lo < gap + 2 || lo - gap - 2 < len) {
		x->bad = 1;
		return 1;
	}
	hi = lo - gap - 2;
	x->r.ranges[(i + 1) & (MOQ_ACK_REC_RANGES - 1)].hi = hi;
	x->r.ranges[(i + 1) & (MOQ_ACK_REC_RANGES - 1)].lo = hi - len;
	return 0;
}

/* Does range i cover a guarded number? Guarded numbers lie in
 * [floor, floor + MOQ_ACK_GUARD_BITS), bit pn % MOQ_ACK_GUARD_BITS. */
static long moq_ackc_guard_step(__u64 i, void *data)
{
	struct moq_ackc_loop *l = data;
	struct moq_ackc_ctx *x = moq_ackc_scratch();
	struct moq_acks *a;
	__u64 floor, lo, hi, k;

	if (!x)
		return 1;
	a = bpf_map_lookup_elem(&moq_acks, &l->slot);
	if (!a)
		return 1;
	floor = READ_ONCE_U64(a->guard_floor);
	lo = x->r.ranges[i & (MOQ_ACK_REC_RANGES - 1)].lo;
	hi = x->r.ranges[i & (MOQ_ACK_REC_RANGES - 1)].hi;

	if (lo < floor)
		lo = floor;
	if (hi >= floor + MOQ_ACK_GUARD_BITS)
		hi = floor + MOQ_ACK_GUARD_BITS - 1;
	/* at most 17 words touched by a run of <= 1024 bits */
	for (k = 0; k < MOQ_ACK_GUARD_WORDS + 1; k++) {
		__u64 bit, sh, n, mask, w;

		if (lo > hi)
			break;
		bit = lo & (MOQ_ACK_GUARD_BITS - 1);
		sh = bit & 63;
		n = 64 - sh;
		if (n > hi - lo + 1)
			n = hi - lo + 1;
		mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << sh;
		w = READ_ONCE_U64(a->guard[(bit >> 6) & (MOQ_ACK_GUARD_WORDS - 1)]);
		if (w & mask) {
			x->hit = 1;
			return 1;
		}
		lo += n;
	}
	return 0;
}

/* Eight zero bytes per step from x->c.off to x->c.end (the tag). */
static long moq_ackc_pad_step(__u64 i, void *data)
{
	struct moq_ackc_loop *l = data;
	struct moq_ackc_ctx *x = moq_ackc_scratch();
	__u64 word = 0, left;

	if (!x || x->c.off >= x->c.end)
		return 1;
	/* 8 bytes exist: the 16-byte tag follows c.end */
	if (bpf_skb_load_bytes(l->skb, x->c.off, &word, 8)) {
		x->bad = 1;
		return 1;
	}
	left = x->c.end - x->c.off;
	if (left < 8)
		word &= (1ull << (8 * left)) - 1; /* little-endian: the first bytes */
	if (word) {
		x->bad = 1;
		return 1;
	}
	x->c.off += left < 8 ? left : 8;
	return 0;
}

/* How often the slot's packets must reach the agent: the agent's period
 * (set from its idle timeout), or MOQ_ACK_PASS_NS. */
static __always_inline __u64 moq_ack_pass_ns(const struct moq_acks *a)
{
	__u32 ms = READ_ONCE_U32(a->pass_ms);

	return ms ? (__u64)ms * 1000000ull : MOQ_ACK_PASS_NS;
}

/* tls: 0, or MOQ_ACKC_TLS | the full packet number of a TLS packet the
 * caller opened in place (tc-progs/lib/sub_open.h) */
#define MOQ_ACKC_TLS (1ull << 63)

/* off/end: the UDP payload (tls: the opened frames, end = the tag). 1 when
 * the packet was recorded and must be dropped, 0 when it goes to the
 * agent. A subprogram with everything in the scratch entry: relay_ingress,
 * which inlines both roles, has no stack left for it. */
static __noinline int moq_ack_consume(struct __sk_buff *skb, __u32 off, __u32 end, __u32 slot,
				      __u64 tls)
{
	struct moq_ackc_loop l = {.skb = skb, .slot = slot};
	struct moq_ackc_ctx *x;
	struct moq_conn_seq *seq;
	struct moq_ack_rec *rec;
	struct moq_gate *g;
	struct moq_acks *a;
	__u64 now, head;

	a = bpf_map_lookup_elem(&moq_acks, &l.slot);
	if (!a || !READ_ONCE_U32(a->enabled))
		return 0;
	now = bpf_ktime_get_ns();
	x = bpf_map_lookup_elem(&moq_ack_scratch, &l.zero);
	if (!x || skb->gso_size || now - READ_ONCE_U64(a->last_pass_ns) >= moq_ack_pass_ns(a))
		goto pass;
	/* a nearly closed gate is refilled from ACKs: the agent needs this
	 * one now (with ACK + PING consumed, nothing else would wake it
	 * before the tick) */
	g = bpf_map_lookup_elem(&moq_gate, &l.slot);
	if (!g || (READ_ONCE_U32(g->enabled) && (__s64)READ_ONCE_U64(g->budget) < MOQ_ACK_GATE_LOW))
		goto pass;
	__builtin_memset(x, 0, sizeof(*x));
	x->c.off = off;
	x->c.end = end;
	if (tls) {
		x->full_pn = tls & ~MOQ_ACKC_TLS; /* the frames start at off */
	} else {
		if (moq_parse_quic_short(skb, &x->c, &x->dcid, &x->pn) ||
		    !moq_quic_tag_ok(skb, &x->c))
			goto pass;
		x->full_pn = x->pn;
	}
	if (x->c.off >= x->c.end || bpf_skb_load_bytes(skb, x->c.off, &x->type, 1))
		goto pass;
	if (x->type != 0x02 && x->type != 0x03)
		goto pass;
	x->c.off += 1;
	if (moq_quic_varint(skb, &x->c, &x->r.largest) < 0 ||
	    moq_quic_varint(skb, &x->c, &x->r.ack_delay_raw) < 0 ||
	    moq_quic_varint(skb, &x->c, &x->count) < 0 ||
	    moq_quic_varint(skb, &x->c, &x->first) < 0)
		goto pass;
	if (x->first > x->r.largest || x->count >= MOQ_ACK_REC_RANGES)
		goto pass;
	seq = bpf_map_lookup_elem(&moq_conn_seq, &l.slot);
	if (!seq || x->r.largest >= READ_ONCE_U64(seq->next_pn))
		goto pass;
	x->r.nranges = (__u32)x->count + 1;
	x->r.ranges[0].hi = x->r.largest;
	x->r.ranges[0].lo = x->r.largest - x->first;
	if (x->count)
		bpf_loop(x->count, moq_ackc_range_step, &l, 0);
	if (x->bad)
		goto pass;
	if (x->type == 0x03) {
		if (moq_quic_varint(skb, &x->c, &x->r.ecn[0]) < 0 ||
		    moq_quic_varint(skb, &x->c, &x->r.ecn[1]) < 0 ||
		    moq_quic_varint(skb, &x->c, &x->r.ecn[2]) < 0)
			goto pass;
		x->r.flags = MOQ_ACK_REC_F_ECN;
	}
	/* ACK + PING (ngtcp2 1.11 makes every other ACK-only packet on a
	 * short path ack-eliciting): consumed too when the agent asked for
	 * it; it makes ngtcp2 acknowledge the recorded number itself */
	if ((READ_ONCE_U32(a->enabled) & MOQ_ACKS_EN_PING) && x->c.off < x->c.end) {
		if (bpf_skb_load_bytes(skb, x->c.off, &x->type, 1))
			goto pass;
		if (x->type == 0x01) {
			x->r.flags |= MOQ_ACK_REC_F_PING;
			x->r.pn = x->full_pn;
			x->c.off += 1;
		}
	}
	/* the rest up to the tag must be PADDING (a packet is at most a
	 * page in any path this program sees: 512 steps of 8 bytes) */
	bpf_loop(512, moq_ackc_pad_step, &l, 0);
	if (x->bad || x->c.off < x->c.end)
		goto pass;
	bpf_loop(x->r.nranges, moq_ackc_guard_step, &l, 0);
	if (x->hit)
		goto pass;
	/* reserve a record: one try; a lost race or a full ring passes */
	head = READ_ONCE_U64(a->head);
	if (head - READ_ONCE_U64(a->tail) >= MOQ_ACK_RING)
		goto pass;
	if (__sync_val_compare_and_swap(&a->head, head, head + 1) != head)
		goto pass;
	rec = &a->rec[head & (MOQ_ACK_RING - 1)];
	x->r.ts_ns = now;
	x->r.seq = 0;
	__builtin_memcpy(rec, &x->r, sizeof(x->r));
	/* commit: the agent reads a record only once seq says so */
	__sync_lock_test_and_set(&rec->seq, head + 1);
	return 1;
pass:
	WRITE_ONCE_U64(a->last_pass_ns, now);
	return 0;
}

#endif
