/* moq_rewrite: turn an upstream packet's clone into the subscriber's
 * packet in place (same length), checksums patched as it goes. */
#ifndef MOQ_REWRITE_H
#define MOQ_REWRITE_H

#include "bpf_common.h"
#include "csum_patch.h"
#include "clone_cache.h"

/* The headers a rewrite touches, Ethernet to the track alias: at most 14 +
 * 60 (IPv4 options) + 8 + 13 + MOQ_MAX_PREFIX_BYTES + 1 + 4 + 8 + 8 + 1 + 8
 * bytes (< 400), copied out whole. */
#define MOQ_RW_BUF 512

struct moq_rw_buf {
	__u8 b[MOQ_RW_BUF];
	__u32 l4;  /* UDP header */
	__u32 len; /* bytes copied into b */
	__u64 acc; /* UDP checksum difference of the fields patched */
	/* a field's new bytes, and the new track alias (moq_egress_clone):
	 * here because the egress stack is full */
	__u8 src[16];
	__u8 alias[16];
	__u32 zpos, zend, zbad; /* the prefix being zeroed (moq_rw_zero_step) */
	__u32 pad0;
	/* what moq_egress_clone found for the clone (cache or hash maps) */
	struct moq_cc_view cc;
};

/* Per CPU: one clone is rewritten at a time on a CPU, start to end. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_rw_buf);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_rw_buf SEC(".maps");

/* Writes the subscriber's source and destination address (alen bytes
 * each) at off (l3 + 12 or l3 + 8, off + 2 * alen <= 104) of the copied
 * headers; returns the checksum difference. A word at a time: no copy of
 * the old addresses on the stack. */
static __always_inline __u64 moq_rw_addr(struct moq_rw_buf *rb, __u32 off,
					 const struct moq_subscriber *sub, __u32 alen)
{
	__u64 acc = 0;

	for (__u32 i = 0; i < 2 * alen; i += 4) {
		__u32 *q = (__u32 *)&rb->b[off + i];
		__u32 o = *q, n;

		n = i < alen ? *(const __u32 *)&sub->saddr[i]
			     : *(const __u32 *)&sub->daddr[i - alen];
		*q = n;
		acc += (__u64)(__u32)~o + n; /* moq_csum_diff64 for one word */
	}
	return acc;
}

/* Writes src[0..n) into the copied headers at off (a UDP-header/payload
 * field: n <= 16 - ((off - l4) & 1)), its checksum difference added to
 * rb->acc. 0 or -1. Not inlined: one stack frame for every field. */
static __noinline int moq_rw_field(struct moq_rw_buf *rb, __u32 off, const __u8 *src, __u32 n)
{
	__u64 o0, o1, v0, v1, m0, m1, *q;
	__u32 d, w, e;

	if (!rb || off < rb->l4)
		return -1;
	d = (off - rb->l4) & 1;
	w = off - d;
	e = d + n;
	if (n == 0 || e > 16 || w + 16 > rb->len || w > MOQ_RW_BUF - 16)
		return -1;
	/* the value moved to window position d (0 or 1) and spliced in
	 * with word masks (a per-byte loop with conditional stores made the
	 * verifier's states diverge 2^16 ways); registers only: the egress
	 * stack is full */
	q = (__u64 *)&rb->b[w];
	o0 = q[0];
	o1 = q[1];
	v0 = ((const __u64 *)src)[0];
	v1 = ((const __u64 *)src)[1];
	v1 = (v1 << (8 * d)) | ((v0 >> 56) & (0ull - d));
	v0 = v0 << (8 * d);
	m0 = moq_byte_mask(e < 8 ? e : 8) & ~moq_byte_mask(d);
	m1 = moq_byte_mask(e > 8 ? e - 8 : 0);
	v0 = (o0 & ~m0) | (v0 & m0);
	v1 = (o1 & ~m1) | (v1 & m1);
	q[0] = v0;
	q[1] = v1;
	rb->acc += moq_csum_diff64(o0, v0) + moq_csum_diff64(o1, v1);
	return 0;
}

/* bpf_loop context of moq_rw_zero_step: the range is in the buffer (the
 * egress stack is full). */
struct moq_rw_zero_ctx {
	struct moq_rw_buf *rb;
};

/* Zeroes one window of [rb->zpos, rb->zend) of the copied headers per
 * iteration (rb->zbad on failure). bpf_loop: the callback verifies once
 * (a bounded loop here took 2.5x the egress program's verification). */
static long moq_rw_zero_step(__u64 i, void *data)
{
	struct moq_rw_buf *rb = ((struct moq_rw_zero_ctx *)data)->rb;
	__u32 n, pos;

	if (!rb || rb->zpos >= rb->zend)
		return 1;
	pos = rb->zpos;
	n = 16 - ((pos - rb->l4) & 1);
	if (n > rb->zend - pos)
		n = rb->zend - pos;
	if (moq_rw_field(rb, pos, rb->src, n)) {
		rb->zbad = 1;
		return 1;
	}
	rb->zpos = pos + n;
	return 0;
}

/* Rewrites the clone p for subscriber sub: addresses, ports, DCID, packet
 * number pn, the PADDING/ACK prefix, the stream id down_sid and (when
 * alias_patch) the track alias (rb->alias). Returns 0 or a moq_reason.
 *
 * Per clone cost (issue 18): the headers are copied out with one load,
 * patched in a per-CPU buffer with the checksum differences summed here,
 * and written back with one store (a PADDING/ACK prefix too); then one
 * UDP checksum update for the
 * payload and one for the pseudo header (BPF_F_PSEUDO_HDR: a
 * CHECKSUM_PARTIAL or CHECKSUM_COMPLETE skb needs the kernel's help, which
 * only the helper gives). Before: a load, a store and a checksum call per
 * field (~20 helper calls). Not direct packet access: a direct write makes
 * the verifier add an unclone of every cloned skb (TCP's too) at the
 * program's entry. */
static __always_inline int moq_rewrite(struct __sk_buff *skb, const struct moq_pkt *p,
				       const struct moq_subscriber *sub, __u64 pn, __u64 down_sid,
				       struct moq_rw_buf *rb, int alias_patch)
{
	__u32 l4 = p->flow.l4_off, l3 = p->flow.l3_off, len, v;
	__u64 pacc;

	/* the copied span: Ethernet .. the last byte patched (each field's
	 * 16-byte window inside it) */
	len = l4 + 8 + 16;
	if (p->media_off + 16 > len)
		len = p->media_off + 16;
	if (!p->is_datagram && p->sid_off + 16 > len)
		len = p->sid_off + 16;
	if (alias_patch && p->alias_off + 16 > len)
		len = p->alias_off + 16;
	if (len < 34 || len > MOQ_RW_BUF || len > skb->len || l3 > 64 || l4 > 128)
		return MOQ_R_REWRITE_FAILED;
	if (bpf_skb_load_bytes(skb, 0, rb->b, len))
		return MOQ_R_REWRITE_FAILED;
	rb->l4 = l4;
	rb->len = len;
	rb->acc = 0;

	/* PADDING/ACK prefix -> all PADDING (ACKs are the upstream's, not
	 * the subscriber's); the ingress program refused prefixes over
	 * MOQ_MAX_PREFIX_BYTES */
	if (p->pay_off < p->media_off) {
		struct moq_rw_zero_ctx zc = {.rb = rb};

		__builtin_memset(rb->src, 0, sizeof(rb->src));
		rb->zpos = p->pay_off;
		rb->zend = p->media_off;
		rb->zbad = 0;
		bpf_loop(MOQ_ZERO_WINDOWS, moq_rw_zero_step, &zc, 0);
		if (rb->zbad || rb->zpos < rb->zend)
			return MOQ_R_REWRITE_FAILED;
	}

	/* Ethernet: no checksum */
	__builtin_memcpy(&rb->b[0], sub->eth_dst, 6);
	__builtin_memcpy(&rb->b[6], sub->eth_src, 6);

	/* IP addresses: the l3 checksum here, the UDP pseudo header below */
	if (p->flow.family == MOQ_AF_INET) {
		__u16 ck;

		if (l3 + 20 > len)
			return MOQ_R_REWRITE_FAILED;
		pacc = moq_rw_addr(rb, l3 + 12, sub, 4);
		__builtin_memcpy(&ck, &rb->b[l3 + 10], 2);
		ck = moq_csum_replace(ck, moq_csum_fold32(pacc));
		__builtin_memcpy(&rb->b[l3 + 10], &ck, 2);
	} else {
		if (l3 + 40 > len)
			return MOQ_R_REWRITE_FAILED;
		pacc = moq_rw_addr(rb, l3 + 8, sub, 16);
	}

	/* UDP ports */
	__builtin_memcpy(rb->src, &sub->sport_be, 2);
	__builtin_memcpy(rb->src + 2, &sub->dport_be, 2);
	if (moq_rw_field(rb, l4, rb->src, 4))
		return MOQ_R_REWRITE_FAILED;

	/* DCID (8) and the 4-byte packet number: 12 bytes at l4+9 */
	__builtin_memset(rb->src, 0, sizeof(rb->src));
	__builtin_memcpy(rb->src, sub->dcid, MOQ_CID_LEN);
	v = bpf_htonl((__u32)pn);
	__builtin_memcpy(rb->src + MOQ_CID_LEN, &v, 4);
	if (moq_rw_field(rb, l4 + 8 + 1, rb->src, MOQ_CID_LEN + 4))
		return MOQ_R_REWRITE_FAILED;

	/* stream id: 4-byte QUIC varint, prefix 0b10 */
	if (!p->is_datagram) {
		__builtin_memset(rb->src, 0, sizeof(rb->src));
		v = bpf_htonl(0x80000000u | (__u32)down_sid);
		__builtin_memcpy(rb->src, &v, 4);
		if (moq_rw_field(rb, p->sid_off, rb->src, 4))
			return MOQ_R_REWRITE_FAILED;
	}
	/* track alias in the SUBGROUP_HEADER / OBJECT_DATAGRAM, same width */
	if (alias_patch && moq_rw_field(rb, p->alias_off, rb->alias, p->alias_len))
		return MOQ_R_REWRITE_FAILED;

	if (bpf_skb_store_bytes(skb, 0, rb->b, len, 0))
		return MOQ_R_REWRITE_FAILED;
	/* no BPF_F_RECOMPUTE_CSUM: payload diff and checksum-field change
	 * cancel over the UDP segment, so a CHECKSUM_COMPLETE skb->csum must
	 * stay as it is */
	if (bpf_l4_csum_replace(skb, l4 + 6, 0, moq_csum_fold32(rb->acc), BPF_F_MARK_MANGLED_0))
		return MOQ_R_REWRITE_FAILED;
	if (bpf_l4_csum_replace(skb, l4 + 6, 0, moq_csum_fold32(pacc),
				BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
		return MOQ_R_REWRITE_FAILED;

	return 0;
}

#endif
