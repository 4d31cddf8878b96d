/* moq_sub_open: a TLS subscriber's small packet, opened in the kernel so
 * that its media ACKs are consumed like a plaintext slot's
 * (docs/fast-path-tls.md "Subscriber ACKs in the kernel"). The body of
 * tls_keys.bpf.c's moq_subscriber_open, tail-called by
 * tc/subscriber_ingress with skb->cb[0] = slot, cb[1] / cb[2] = the UDP
 * payload.
 *
 * With the slot's rx keys (moq_tls_keys, kind SUB_RX, the layer's current
 * rx phase): header protection removed, the packet number decoded against
 * the slot's rx window, AES-128-GCM opened in place. A consumable ACK
 * (ack_consume.h) is recorded and dropped; everything else reaches the
 * agent byte-identical to what arrived (the original bytes are kept in a
 * per-CPU scratch and stored back), where the QUIC layer opens it itself.
 * Never dropped unless recorded: a bad tag, another key phase (a peer's
 * key update), no keys or a replayed number pass untouched. */
#ifndef MOQ_SUB_OPEN_H
#define MOQ_SUB_OPEN_H

#include "bpf_common.h"
#include "maps.bpf.h"
#include "ack_consume.h"
#include "pn_window.h"
#include "quic_aead.h"

/* 1-RTT short header: first byte, DCID, then the packet number */
#define MOQ_SUBO_PN_OFF (1 + MOQ_CID_LEN)
/* the header-protection sample ends 20 bytes after the PN's start */
#define MOQ_SUBO_MIN_LEN (MOQ_SUBO_PN_OFF + 4 + 16)

/* Per slot: the numbers of the subscriber's packets the kernel opened (or
 * the agent's QUIC layer did: fp_keys seeds and raises next). Not pinned:
 * it lives with the agent's object, which mmaps it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moq_pn_window);
} moq_sub_rxwin SEC(".maps");

/* the packet as it arrived, to restore it */
struct moq_subo_scratch {
	__u8 orig[MOQ_SUB_OPEN_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_subo_scratch);
} moq_subo_scratch SEC(".maps");

/* Stores back the first n bytes of the original (n <= len). */
static __always_inline int moq_subo_restore(struct __sk_buff *skb, __u32 off,
					    const struct moq_subo_scratch *o, __u32 n)
{
	asm volatile("" : "+r"(n));
	if (n < 1 || n > MOQ_SUB_OPEN_MAX)
		return -1;
	return bpf_skb_store_bytes(skb, off, o->orig, n, 0);
}

/* Returns the moq_reason: MOQ_R_ACK_CONSUMED (recorded: drop it), or a
 * pass (the packet is as it arrived): MOQ_R_SUB_RX (opened, or not for the
 * opener), MOQ_R_NO_KEYS (none for its phase), MOQ_R_PN_DUPLICATE,
 * MOQ_R_AEAD_OPEN_FAILED, MOQ_R_HEADER_BITS; MOQ_R_CANON_FAILED when the
 * original could not be stored back (the layer then fails to open it). */
static __always_inline int moq_sub_open(struct __sk_buff *skb)
{
	__u32 slot = skb->cb[0], off = skb->cb[1], end = skb->cb[2], z = 0;
	__u32 len, pn_len, phase, hdr_len, wire = 0;
	struct moq_subo_scratch *o;
	struct moq_pn_window *w;
	struct moq_keyset *k;
	__u8 hdr[MOQ_SUBO_PN_OFF + 4], mask[5];
	__u64 next, pn;

	if (end < off || end > skb->len || skb->gso_size)
		return MOQ_R_SUB_RX;
	len = end - off;
	if (len < MOQ_SUBO_MIN_LEN || len > MOQ_SUB_OPEN_MAX)
		return MOQ_R_SUB_RX;
	o = bpf_map_lookup_elem(&moq_subo_scratch, &z);
	w = bpf_map_lookup_elem(&moq_sub_rxwin, &slot);
	if (!o || !w)
		return MOQ_R_SUB_RX;
	/* the header-protection key is the same for both phases */
	k = moq_keys_get(slot, MOQ_TLS_KIND_SUB_RX, 0);
	if (!k)
		k = moq_keys_get(slot, MOQ_TLS_KIND_SUB_RX, 1);
	if (!k)
		return MOQ_R_NO_KEYS;
	asm volatile("" : "+r"(len));
	if (len < MOQ_SUBO_MIN_LEN || len > MOQ_SUB_OPEN_MAX)
		return MOQ_R_SUB_RX;
	if (bpf_skb_load_bytes(skb, off, o->orig, len))
		return MOQ_R_SUB_RX;
	if (moq_hp_mask(skb, k, off + MOQ_SUBO_PN_OFF + 4, mask))
		return MOQ_R_NO_KEYS;
	__builtin_memcpy(hdr, o->orig, sizeof(hdr));
	hdr[0] ^= mask[0] & 0x1f;
	pn_len = (hdr[0] & 3) + 1;
	phase = (hdr[0] >> 2) & 1;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (i < pn_len) {
			hdr[MOQ_SUBO_PN_OFF + i] ^= mask[1 + i];
			wire = wire << 8 | hdr[MOQ_SUBO_PN_OFF + i];
		}
	}
	hdr_len = MOQ_SUBO_PN_OFF + pn_len;
	/* the other phase: a key update the layer has not seen yet (or a
	 * reordered packet of the previous one) */
	k = moq_keys_get(slot, MOQ_TLS_KIND_SUB_RX, phase);
	if (!k)
		return MOQ_R_NO_KEYS;
	next = MOQ_READ_ONCE_U64(&w->next);
	pn = moq_pn_decode_bits(next, wire, 8 * pn_len);
	/* a replay, or a packet the layer has (w seeded by the agent) */
	if (moq_pn_seen(w, next, pn))
		return MOQ_R_PN_DUPLICATE;
	/* the unprotected header is the AEAD's associated data */
	if (bpf_skb_store_bytes(skb, off, hdr, sizeof(hdr), 0))
		return moq_subo_restore(skb, off, o, sizeof(hdr)) ? MOQ_R_CANON_FAILED
								  : MOQ_R_SUB_RX;
	if (moq_aead_open(skb, k, off, hdr_len, len, pn))
		/* the ciphertext is untouched when the tag is bad */
		return moq_subo_restore(skb, off, o, sizeof(hdr)) ? MOQ_R_CANON_FAILED
								  : MOQ_R_AEAD_OPEN_FAILED;
	/* from here the packet is authentic: every one moves the window, so
	 * the next numbers decode against the true largest */
	if (hdr[0] & 0x18) /* reserved bits: the layer closes the connection */
		return moq_subo_restore(skb, off, o, len) ? MOQ_R_CANON_FAILED : MOQ_R_HEADER_BITS;
	if (!moq_pn_mark(w, next, pn))
		return moq_subo_restore(skb, off, o, len) ? MOQ_R_CANON_FAILED : MOQ_R_PN_DUPLICATE;
	if (moq_ack_consume(skb, off + hdr_len, end - MOQ_TAG_LEN, slot, MOQ_ACKC_TLS | pn))
		return MOQ_R_ACK_CONSUMED;
	return moq_subo_restore(skb, off, o, len) ? MOQ_R_CANON_FAILED : MOQ_R_SUB_RX;
}

#endif
