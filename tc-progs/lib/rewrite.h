/* moq_rewrite: turn an upstream packet's clone into the subscriber's
 * packet in place (same length), checksums patched as it goes. */
#ifndef MOQ_REWRITE_H
#define MOQ_REWRITE_H

#include "bpf_common.h"
#include "csum_patch.h"

struct moq_zero_range {
	struct __sk_buff *skb;
	__u32 l4;
	__u32 pos;
	__u32 end;
	__u32 bad;
};

/* Zeroes one window of [pos, end) per iteration. */
static long moq_zero_window(__u64 i, void *data)
{
	struct moq_zero_range *z = data;
	__u32 n;

	if (z->pos >= z->end)
		return 1;
	n = 16 - ((z->pos - z->l4) & 1);
	if (n > z->end - z->pos)
		n = z->end - z->pos;
	if (moq_csum_patch(z->skb, z->l4, z->pos, 0, n, 1)) {
		z->bad = 1;
		return 1;
	}
	z->pos += n;
	return 0;
}

/* Rewrites the clone p for subscriber sub: addresses, ports, DCID, packet
 * number pn, the PADDING/ACK prefix, the stream id down_sid and (when
 * alias_patch) the track alias. Returns 0 or a moq_reason. */
static __always_inline int moq_rewrite(struct __sk_buff *skb, const struct moq_pkt *p,
				       const struct moq_subscriber *sub, __u64 pn, __u64 down_sid,
				       const __u8 *alias_buf, int alias_patch)
{
	__u32 l4 = p->flow.l4_off;
	__u8 buf[16], old[32];
	__s64 d;
	__u32 v;

	/* Ethernet: no checksum */
	__builtin_memcpy(buf, sub->eth_dst, 6);
	__builtin_memcpy(buf + 6, sub->eth_src, 6);
	if (bpf_skb_store_bytes(skb, 0, buf, 12, 0))
		return MOQ_R_REWRITE_FAILED;

	/* IP addresses: l3 checksum (IPv4) and the UDP pseudo header */
	if (p->flow.family == MOQ_AF_INET) {
		__u8 new[8];

		if (bpf_skb_load_bytes(skb, p->flow.l3_off + 12, old, 8))
			return MOQ_R_REWRITE_FAILED;
		__builtin_memcpy(new, sub->saddr, 4);
		__builtin_memcpy(new + 4, sub->daddr, 4);
		d = bpf_csum_diff((__be32 *)old, 8, (__be32 *)new, 8, 0);
		if (d < 0 || bpf_skb_store_bytes(skb, p->flow.l3_off + 12, new, 8, 0))
			return MOQ_R_REWRITE_FAILED;
		if (bpf_l3_csum_replace(skb, p->flow.l3_off + 10, 0, d, 0))
			return MOQ_R_REWRITE_FAILED;
		if (bpf_l4_csum_replace(skb, l4 + 6, 0, d, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
			return MOQ_R_REWRITE_FAILED;
	} else {
		__u8 new[32];

		if (bpf_skb_load_bytes(skb, p->flow.l3_off + 8, old, 32))
			return MOQ_R_REWRITE_FAILED;
		__builtin_memcpy(new, sub->saddr, 16);
		__builtin_memcpy(new + 16, sub->daddr, 16);
		d = bpf_csum_diff((__be32 *)old, 32, (__be32 *)new, 32, 0);
		if (d < 0 || bpf_skb_store_bytes(skb, p->flow.l3_off + 8, new, 32, 0))
			return MOQ_R_REWRITE_FAILED;
		if (bpf_l4_csum_replace(skb, l4 + 6, 0, d, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
			return MOQ_R_REWRITE_FAILED;
	}

	/* UDP ports */
	__builtin_memcpy(buf, &sub->sport_be, 2);
	__builtin_memcpy(buf + 2, &sub->dport_be, 2);
	if (bpf_skb_load_bytes(skb, l4, old, 4))
		return MOQ_R_REWRITE_FAILED;
	d = bpf_csum_diff((__be32 *)old, 4, (__be32 *)buf, 4, 0);
	if (d < 0 || bpf_skb_store_bytes(skb, l4, buf, 4, 0))
		return MOQ_R_REWRITE_FAILED;
	if (bpf_l4_csum_replace(skb, l4 + 6, 0, d, BPF_F_MARK_MANGLED_0))
		return MOQ_R_REWRITE_FAILED;

	/* DCID (8) and the 4-byte packet number: 12 bytes at l4+9, one
	 * window (l4+8 .. l4+24) */
	__builtin_memset(buf, 0, sizeof(buf));
	__builtin_memcpy(buf, sub->dcid, MOQ_CID_LEN);
	v = bpf_htonl((__u32)pn);
	__builtin_memcpy(buf + MOQ_CID_LEN, &v, 4);
	if (moq_csum_patch(skb, l4, l4 + 8 + 1, buf, MOQ_CID_LEN + 4, 0))
		return MOQ_R_REWRITE_FAILED;

	/* PADDING/ACK prefix -> all PADDING (ACKs are the upstream's, not
	 * the subscriber's). The ingress program refused prefixes over
	 * MOQ_MAX_PREFIX_BYTES; bpf_loop because a bounded loop of helper
	 * calls here exceeded the verifier's budget. */
	if (p->pay_off < p->media_off) {
		struct moq_zero_range z = {
		    .skb = skb, .l4 = l4, .pos = p->pay_off, .end = p->media_off};

		bpf_loop(MOQ_ZERO_WINDOWS, moq_zero_window, &z, 0);
		if (z.bad || z.pos < z.end)
			return MOQ_R_REWRITE_FAILED;
	}

	/* stream id: 4-byte QUIC varint, prefix 0b10 */
	if (!p->is_datagram) {
		__builtin_memset(buf, 0, sizeof(buf));
		v = bpf_htonl(0x80000000u | (__u32)down_sid);
		__builtin_memcpy(buf, &v, 4);
		if (moq_csum_patch(skb, l4, p->sid_off, buf, 4, 0))
			return MOQ_R_REWRITE_FAILED;
	}
	/* track alias in the SUBGROUP_HEADER / OBJECT_DATAGRAM, same width */
	if (alias_patch && moq_csum_patch(skb, l4, p->alias_off, alias_buf, p->alias_len, 0))
		return MOQ_R_REWRITE_FAILED;
	return 0;
}

#endif
