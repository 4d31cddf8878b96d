/* moq_upstream_open: the TLS step of the upstream ingress program
 * (docs/fast-path-tls-upstream.md). A packet whose DCID belongs to an
 * upstream entry flagged MOQ_UP_F_TLS is a protected 1-RTT packet: its
 * bytes are saved, then it is opened, checked new and rewritten into the
 * plaintext-profile form, on which the unchanged parser and fan-out run;
 * afterwards moq_upstream_restore stores the saved bytes back and the
 * agent gets the packet as it arrived (its QUIC stack opens it as usual),
 * queued behind the subscribers' copies. */
#ifndef MOQ_UPSTREAM_OPEN_H
#define MOQ_UPSTREAM_OPEN_H

#include "bpf_common.h"
#include "maps.bpf.h"
#include "parse_packet.h"
#include "pn_window.h"
#include "quic_aead.h"
#include "quic_canon.h"

/* moq_upstream_open's result: a moq_reason (0: opened and rewritten), plus
 * MOQ_OPEN_RESTORE once its bytes are saved (it may now be half rewritten:
 * it must go through moq_upstream_restore whatever happens to it); or
 * MOQ_OPEN_PLAIN: not a TLS upstream's packet, the plaintext path
 * classifies it. */
#define MOQ_OPEN_RESTORE 0x100
#define MOQ_OPEN_PLAIN 0x200
#define MOQ_OPEN_REASON(r) ((r)&0xff)

/* The crypto the opener uses; tc-progs/testing/canon.bpf.c replaces it with
 * a null protection to test everything around it without keys. */
#ifndef MOQ_UP_KEYS
#define MOQ_UP_KEYS(conn, phase) moq_keys_up(conn, phase)
#define MOQ_UP_HP_MASK(skb, k, off, mask) moq_hp_mask(skb, k, off, mask)
#define MOQ_UP_OPEN(skb, k, off, hdr_len, len, pn) moq_aead_open(skb, k, off, hdr_len, len, pn)
#endif

/* The packet as it arrived, from its L3 header on: IPv6 + a UDP datagram
 * of up to MOQ_CANON_MAX_LEN. */
#define MOQ_UP_SAVE_MAX (40 + MOQ_CANON_MAX_LEN)

struct moq_up_saved {
	__u32 l3_off;
	__u32 len; /* 0: nothing saved */
	__u8 bytes[MOQ_UP_SAVE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_up_saved);
} moq_up_saved SEC(".maps");

/* Saves [l3_off, skb->len). One helper call, not a copy into a second
 * skb: the agent's copy is the original itself, restored after the
 * fan-out. 0 or -1. */
static __always_inline int moq_upstream_save(struct __sk_buff *skb, __u32 l3_off)
{
	struct moq_up_saved *o;
	__u32 z = 0, n = skb->len - l3_off;

	o = bpf_map_lookup_elem(&moq_up_saved, &z);
	if (!o)
		return -1;
	o->len = 0;
	asm volatile("" : "+r"(n));
	if (l3_off >= skb->len || n < 1 || n > MOQ_UP_SAVE_MAX)
		return -1;
	if (bpf_skb_load_bytes(skb, l3_off, o->bytes, n))
		return -1;
	o->l3_off = l3_off;
	o->len = n;
	return 0;
}

/* Stores the saved bytes back, at their length: the packet is as it
 * arrived (the rewrite's checksum updates are overwritten with the
 * original fields; a CHECKSUM_COMPLETE skb whose length changed twice has
 * been demoted to CHECKSUM_NONE by the growth, so its UDP checksum is
 * verified from the bytes). Global: verified once. 0 or -1 (then the
 * packet must be dropped). */
__noinline int moq_upstream_restore(struct __sk_buff *skb)
{
	struct moq_up_saved *o;
	__u32 z = 0, n, l3;

	if (!skb)
		return -1;
	o = bpf_map_lookup_elem(&moq_up_saved, &z);
	if (!o)
		return -1;
	n = o->len;
	l3 = o->l3_off;
	o->len = 0;
	if (n < 1 || n > MOQ_UP_SAVE_MAX || l3 > 128)
		return -1;
	if (skb->len != l3 + n && bpf_skb_change_tail(skb, l3 + n, 0))
		return -1;
	asm volatile("" : "+r"(n));
	if (n < 1 || n > MOQ_UP_SAVE_MAX)
		return -1;
	return bpf_skb_store_bytes(skb, l3, o->bytes, n, 0) ? -1 : 0;
}

/* 1-RTT short header: first byte, DCID, then the packet number */
#define MOQ_TLS_PN_OFF (1 + MOQ_CID_LEN)
/* header protection sample: 16 bytes from 4 bytes after the PN start */
#define MOQ_TLS_MIN_LEN (MOQ_TLS_PN_OFF + 4 + 16)

/* The AEAD open with the keys of key = conn_id << 1 | phase: a global
 * function, so the verifier checks the crypto's loops once, not once per
 * opener path (they took the program past the 1M-instruction limit).
 * lens = hdr_len | pkt_len << 16 (BPF calls take 5 arguments). 0 or < 0. */
__noinline int moq_upstream_aead_open(struct __sk_buff *skb, __u64 key, __u32 pkt_off, __u32 lens,
				      __u64 pn)
{
	struct moq_keyset *k = MOQ_UP_KEYS((__u32)(key >> 1), (__u32)(key & 1));

	if (!k)
		return -1;
	return MOQ_UP_OPEN(skb, k, pkt_off, lens & 0xff, lens >> 16, pn);
}

/* The packet, once its bytes are saved: open it, check its number
 * new, rewrite it. hdr: its first 16 bytes with header protection
 * removed. Returns a moq_reason. */
static __always_inline int moq_upstream_opened(struct __sk_buff *skb, struct moq_canon *cn,
					       struct moq_pn_window *w, __u64 next, const __u8 *hdr,
					       __u32 phase)
{
	__u32 q = cn->l4_off + 8, hdr_len = MOQ_TLS_PN_OFF + cn->pn_len;

	/* the unprotected header is the AEAD's associated data */
	if (bpf_skb_store_bytes(skb, q, hdr, MOQ_SHORT_HDR_LEN, 0))
		return MOQ_R_CANON_FAILED;
	if (moq_upstream_aead_open(skb, (__u64)cn->conn_id << 1 | phase, q,
				   hdr_len | (cn->udp_len - 8) << 16, cn->pn))
		return MOQ_R_AEAD_OPEN_FAILED;
	/* reserved bits set in an authentic packet: a protocol violation
	 * ngtcp2 closes the connection for; not for subscribers */
	if (hdr[0] & 0x18)
		return MOQ_R_HEADER_BITS;
	/* only an authentic packet moves the window: every one, media or
	 * not, so the next numbers decode against the true largest */
	if (!moq_pn_mark(w, next, cn->pn))
		return MOQ_R_PN_DUPLICATE;
	return moq_quic_canon(skb, cn);
}

/* Returns MOQ_OPEN_PLAIN, or a moq_reason (0: the packet is now in the
 * plaintext-profile form, its number checked new: parse with
 * MOQ_PARSE_PN_DONE) | MOQ_OPEN_RESTORE once its bytes are saved. cfgv =
 * moq_config's generation << 32 | relay_port_be << 16 | up_port_be. A
 * global function: verified once, on its own stack. */
__noinline int moq_upstream_open(struct __sk_buff *skb, __u64 cfgv)
{
	__u32 generation = (__u32)(cfgv >> 32);
	struct moq_cursor c = {.off = 0, .end = skb->len};
	struct moq_canon cn = {};
	struct moq_flow flow = {};
	struct moq_upstream *up;
	struct moq_pn_window *w;
	struct moq_keyset *hk;
	struct moq_cid dcid;
	__u8 hdr[16], mask[5];
	__u32 phase, pn_len, wire = 0;
	__u64 next, i;
	int r;

	if (!skb || skb->gso_size)
		return MOQ_OPEN_PLAIN;
	if (moq_parse_flow_ports(skb, &c, (__u16)(cfgv >> 16), (__u16)cfgv, &flow))
		return MOQ_OPEN_PLAIN;
	if (moq_cursor_load(skb, &c, hdr, sizeof(hdr)) || (hdr[0] & 0x80))
		return MOQ_OPEN_PLAIN;
	__builtin_memcpy(dcid.cid, &hdr[1], MOQ_CID_LEN);
	up = bpf_map_lookup_elem(&moq_upstreams, &dcid);
	if (!up || up->generation != generation || !(up->flags & MOQ_UP_F_TLS))
		return MOQ_OPEN_PLAIN;
	/* from here on the packet is the TLS path's: it never reaches the
	 * plaintext parser unopened (a forged plaintext-form packet with a
	 * TLS upstream's DCID fails the tag check like any other) */
	r = moq_up_source_check(skb, up, &flow);
	if (r)
		return r;
	if (c.end - c.off < MOQ_TLS_MIN_LEN)
		return MOQ_R_TRUNCATED;
	/* the rewrite grows/shrinks the packet at its tail: the UDP datagram
	 * must end the frame (no Ethernet padding; media packets are far
	 * above the 60-byte minimum) */
	if (c.end != skb->len)
		return MOQ_R_CANON_FAILED;
	/* the header-protection key is the same for both phases */
	hk = MOQ_UP_KEYS(up->conn_id, 0);
	if (!hk)
		hk = MOQ_UP_KEYS(up->conn_id, 1);
	if (!hk || MOQ_UP_HP_MASK(skb, hk, c.off + MOQ_TLS_PN_OFF + 4, mask))
		return MOQ_R_NO_KEYS;
	hdr[0] ^= mask[0] & 0x1f;
	pn_len = (hdr[0] & 3) + 1;
	phase = (hdr[0] >> 2) & 1;
	for (i = 0; i < 4; i++) {
		if (i < pn_len) {
			hdr[MOQ_TLS_PN_OFF + i] ^= mask[1 + i];
			wire = wire << 8 | hdr[MOQ_TLS_PN_OFF + i];
		}
	}
	if (!MOQ_UP_KEYS(up->conn_id, phase))
		return MOQ_R_NO_KEYS;
	w = bpf_map_lookup_elem(&moq_pn_windows, &up->conn_id);
	if (!w || w->generation != generation)
		return MOQ_R_UNKNOWN_DCID; /* registration not complete */
	next = MOQ_READ_ONCE_U64(&w->next);
	cn.pn = moq_pn_decode_bits(next, wire, 8 * pn_len);
	/* a number already seen: a replay (or a retransmitted datagram) costs
	 * no copy and no open; the agent's stack discards it */
	if (moq_pn_seen(w, next, cn.pn))
		return MOQ_R_PN_DUPLICATE;
	cn.l3_off = flow.l3_off;
	cn.l4_off = flow.l4_off;
	cn.udp_len = c.end - flow.l4_off;
	cn.family = flow.family;
	cn.pn_len = pn_len;
	cn.conn_id = up->conn_id;
	__builtin_memcpy(cn.dcid, dcid.cid, MOQ_CID_LEN);
	r = moq_canon_sum(skb, cn.l4_off, cn.udp_len);
	if (r < 0)
		return MOQ_R_CANON_FAILED;
	cn.sum_old = (__u32)r;

	/* the agent's copy: these bytes, stored back after the fan-out */
	if (moq_upstream_save(skb, cn.l3_off))
		return MOQ_R_PASS_COPY_FAILED;
	return moq_upstream_opened(skb, &cn, w, next, hdr, phase) | MOQ_OPEN_RESTORE;
}

#endif
