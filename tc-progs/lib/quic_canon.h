/* moq_quic_canon: rewrite an opened (decrypted) TLS 1-RTT packet into the
 * plaintext-profile form the parser and the egress rewrite work on
 * (docs/fast-path-tls-upstream.md): first byte 0x43, 4-byte packet number
 * (the low 32 bits of the full number), STREAM stream id as a 4-byte
 * varint, the 16-byte AEAD tag replaced by "moq-plaintext-v1".
 *
 * The packet grows or shrinks at its tail (bpf_skb_change_tail) and the
 * bytes after each widened field move, so the L2-L4 headers keep their
 * place in the skb: a CHECKSUM_PARTIAL skb's csum_start still points at the
 * UDP header (growing at the front with bpf_skb_adjust_room would move it).
 * Checksums are fixed incrementally with bpf_l4_csum_replace, which knows
 * the skb's checksum state: the caller sums the UDP datagram before it
 * changes anything (moq_canon_sum), this file sums it again at the end and
 * applies the difference, plus the pseudo header's length change. */
#ifndef MOQ_QUIC_CANON_H
#define MOQ_QUIC_CANON_H

#include "bpf_common.h"
#include "quic_varint.h"
#include "quic_frame_walk.h"

#define MOQ_CANON_CHUNK 64
/* a UDP datagram of up to 2048 bytes (the fixtures' and any 1500-MTU
 * link's) is summed / moved in at most this many chunks */
#define MOQ_CANON_MAX_CHUNKS 32
#define MOQ_CANON_MAX_LEN (MOQ_CANON_CHUNK * MOQ_CANON_MAX_CHUNKS)

struct moq_sum_ctx {
	struct __sk_buff *skb;
	__u32 off; /* next byte to sum */
	__u32 end;
	__u32 sum; /* 16-bit ones' complement partial sum */
	__u32 bad;
};

/* One whole chunk per iteration. Constant sizes in the loop: a size
 * derived from the loop's progress would be tracked precisely by the
 * verifier, and every iteration would then be a new state. */
static long moq_sum_step(__u64 i, void *data)
{
	struct moq_sum_ctx *s = data;
	__u8 buf[MOQ_CANON_CHUNK];
	__s64 r;

	if (s->off > s->end || s->end - s->off < MOQ_CANON_CHUNK)
		return 1;
	if (bpf_skb_load_bytes(s->skb, s->off, buf, MOQ_CANON_CHUNK)) {
		s->bad = 1;
		return 1;
	}
	r = bpf_csum_diff(0, 0, (__be32 *)buf, MOQ_CANON_CHUNK, s->sum);
	if (r < 0) {
		s->bad = 1;
		return 1;
	}
	s->sum = (__u32)r;
	s->off += MOQ_CANON_CHUNK;
	return 0;
}

/* The last partial chunk, zero-padded to a multiple of 4 (chunks start at
 * even offsets from the UDP header, so every byte keeps its parity). Own
 * frame for the buffer. */
static __noinline int moq_sum_tail(struct moq_sum_ctx *s)
{
	__u8 buf[MOQ_CANON_CHUNK + 4] = {}; /* + the verifier's bound of the rounding */
	__u32 n = s->end - s->off;
	__s64 r;

	if (s->off > s->end || n >= MOQ_CANON_CHUNK)
		return -1;
	if (!n)
		return 0;
	if (bpf_skb_load_bytes(s->skb, s->off, buf, n))
		return -1;
	r = bpf_csum_diff(0, 0, (__be32 *)buf, (n + 3) & ~3u, s->sum);
	if (r < 0)
		return -1;
	s->sum = (__u32)r;
	s->off += n;
	return 0;
}

static __always_inline __u32 moq_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s;
}

/* Ones' complement sum of the UDP datagram at l4 (udp_len bytes) with its
 * checksum field taken as 0, folded to 16 bits; -1 on error. A global
 * function: the verifier checks it once, not once per caller state (the
 * loops in it multiplied the opener's states past the 1M limit). */
__noinline int moq_canon_sum(struct __sk_buff *skb, __u32 l4, __u32 udp_len)
{
	struct moq_sum_ctx s = {.skb = skb, .off = l4 + 8, .end = l4 + udp_len};
	__u8 hdr[8];
	__s64 r;

	if (udp_len < 8 || udp_len > MOQ_CANON_MAX_LEN)
		return -1;
	if (bpf_skb_load_bytes(skb, l4, hdr, 8))
		return -1;
	hdr[6] = 0;
	hdr[7] = 0;
	r = bpf_csum_diff(0, 0, (__be32 *)hdr, 8, 0);
	if (r < 0)
		return -1;
	s.sum = (__u32)r;
	bpf_loop(MOQ_CANON_MAX_CHUNKS, moq_sum_step, &s, 0);
	if (s.bad || moq_sum_tail(&s) || s.off != s.end)
		return -1;
	return (int)moq_csum_fold(s.sum);
}

struct moq_move_ctx {
	struct __sk_buff *skb;
	__u32 src; /* region [src, src + len) moves to src + shift */
	__u32 len;
	__u32 done;
	__s32 shift;
	__u32 bad;
};

/* One whole chunk per iteration (constant size, see moq_sum_step), from
 * the end when moving towards the end (a chunk written never covers bytes
 * not read yet), else from the start. */
static long moq_move_step(__u64 i, void *data)
{
	struct moq_move_ctx *m = data;
	__u8 buf[MOQ_CANON_CHUNK];
	__u32 at;

	if (m->done > m->len || m->len - m->done < MOQ_CANON_CHUNK)
		return 1;
	at = m->shift > 0 ? m->src + m->len - m->done - MOQ_CANON_CHUNK : m->src + m->done;
	if (bpf_skb_load_bytes(m->skb, at, buf, MOQ_CANON_CHUNK) ||
	    bpf_skb_store_bytes(m->skb, at + m->shift, buf, MOQ_CANON_CHUNK, 0)) {
		m->bad = 1;
		return 1;
	}
	m->done += MOQ_CANON_CHUNK;
	return 0;
}

/* What the whole chunks left: the start of the region when moving towards
 * the end, else its end. */
static __noinline int moq_move_tail(struct moq_move_ctx *m)
{
	__u8 buf[MOQ_CANON_CHUNK];
	__u32 n = m->len - m->done, at;

	if (m->done > m->len || n >= MOQ_CANON_CHUNK)
		return -1;
	if (!n)
		return 0;
	at = m->shift > 0 ? m->src : m->src + m->done;
	if (bpf_skb_load_bytes(m->skb, at, buf, n) ||
	    bpf_skb_store_bytes(m->skb, at + m->shift, buf, n, 0))
		return -1;
	m->done += n;
	return 0;
}

/* memmove inside the skb; the payload checksum is fixed by the caller.
 * Global, like moq_canon_sum. 0 or -1. */
__noinline int moq_canon_move(struct __sk_buff *skb, __u32 src, __u32 len, __s32 shift)
{
	struct moq_move_ctx m = {.skb = skb, .src = src, .len = len, .shift = shift};

	if (!len || !shift)
		return 0;
	if (len > MOQ_CANON_MAX_LEN)
		return -1;
	bpf_loop(MOQ_CANON_MAX_CHUNKS, moq_move_step, &m, 0);
	if (m.bad || moq_move_tail(&m))
		return -1;
	return m.done == len ? 0 : -1;
}

/* What the opener knows about the packet it hands over. */
struct moq_canon {
	__u32 l3_off;
	__u32 l4_off;
	__u32 udp_len; /* UDP length before canonicalization */
	__u32 sum_old; /* moq_canon_sum before anything changed */
	__u64 pn;      /* full packet number */
	__u8 dcid[MOQ_CID_LEN];
	__u8 family; /* MOQ_AF_* */
	__u8 pn_len; /* 1..4 on the wire */
	__u8 pad0[2];
	__u32 conn_id; /* upstream connection */
	__u32 pad1;
};

/* The packet is opened in place (header protection removed, payload
 * decrypted, the tag still at the end). Returns 0 with the packet in the
 * plaintext-profile form, or a moq_reason: the frame walk's (not a media
 * packet), STREAM_ID_WIDTH (a stream id a 4-byte varint cannot hold), or
 * CANON_FAILED (a helper failed; the packet may be half rewritten, so the
 * caller must not pass it on). */
static __always_inline int moq_quic_canon(struct __sk_buff *skb, const struct moq_canon *cn)
{
	__u32 l4 = cn->l4_off, q = l4 + 8, end = l4 + cn->udp_len;
	__u32 pn_end = q + 1 + MOQ_CID_LEN + cn->pn_len, a_end, b_off = 0, b_len = 0;
	__u32 sum_new, new_udp, v;
	struct moq_cursor c;
	__u64 sid = 0;
	__s32 d1, d2 = 0, dt;
	__u8 buf[16], type;
	__be16 ol, nl;
	int r, w = 0;

	if (cn->pn_len < 1 || cn->pn_len > 4 || cn->udp_len > MOQ_CANON_MAX_LEN ||
	    end != skb->len || end < pn_end + 1 + MOQ_TAG_LEN)
		return MOQ_R_CANON_FAILED;
	c.off = pn_end;
	c.end = end - MOQ_TAG_LEN;
	r = moq_quic_frame_walk(skb, &c, &type);
	if (r)
		return r;
	if (type >= 0x08 && type <= 0x0f) {
		a_end = c.off + 1;
		c.off = a_end;
		w = moq_quic_varint(skb, &c, &sid);
		if (w < 0)
			return MOQ_R_BAD_VARINT;
		if (sid >= (1ull << 30))
			return MOQ_R_STREAM_ID_WIDTH;
		d2 = 4 - w;
		b_off = a_end + w;
		b_len = end - MOQ_TAG_LEN - b_off;
	} else {
		a_end = end - MOQ_TAG_LEN; /* DATAGRAM: no field changes width */
	}
	d1 = 4 - cn->pn_len;
	dt = d1 + d2;
	if (dt > 0 && bpf_skb_change_tail(skb, skb->len + dt, 0))
		return MOQ_R_CANON_FAILED;
	/* the part after the stream id first: when it moves towards the end
	 * the part before may then overwrite its old place */
	if (moq_canon_move(skb, b_off, b_len, dt) ||
	    moq_canon_move(skb, pn_end, a_end - pn_end, d1))
		return MOQ_R_CANON_FAILED;
	/* header: 0x43 | DCID | PN32 (13 bytes at q) */
	buf[0] = 0x43;
	__builtin_memcpy(buf + 1, cn->dcid, MOQ_CID_LEN);
	v = bpf_htonl((__u32)cn->pn);
	__builtin_memcpy(buf + 1 + MOQ_CID_LEN, &v, 4);
	if (bpf_skb_store_bytes(skb, q, buf, MOQ_SHORT_HDR_LEN, 0))
		return MOQ_R_CANON_FAILED;
	if (w) {
		v = bpf_htonl(0x80000000u | (__u32)sid);
		if (bpf_skb_store_bytes(skb, a_end + d1, &v, 4, 0))
			return MOQ_R_CANON_FAILED;
	}
	__builtin_memcpy(buf, MOQ_PLAINTEXT_TAG, MOQ_TAG_LEN);
	if (bpf_skb_store_bytes(skb, end + dt - MOQ_TAG_LEN, buf, MOQ_TAG_LEN, 0))
		return MOQ_R_CANON_FAILED;
	if (dt < 0) {
		/* the bytes cut off are zeroed first: a CHECKSUM_COMPLETE
		 * skb->csum still counts what was there, and the trim
		 * subtracts what is there now */
		__u32 z = 0, zn = -dt;

		if (zn > 4 || bpf_skb_store_bytes(skb, end + dt, &z, zn, 0) ||
		    bpf_skb_change_tail(skb, skb->len + dt, 0))
			return MOQ_R_CANON_FAILED;
	}
	/* lengths: UDP, IP (+ the IPv4 header checksum) */
	new_udp = cn->udp_len + dt;
	ol = bpf_htons(cn->udp_len);
	nl = bpf_htons(new_udp);
	if (dt && bpf_skb_store_bytes(skb, l4 + 4, &nl, 2, 0))
		return MOQ_R_CANON_FAILED;
	if (dt && cn->family == MOQ_AF_INET) {
		__be16 oi = bpf_htons(cn->udp_len + 20), ni = bpf_htons(new_udp + 20);

		if (bpf_skb_store_bytes(skb, cn->l3_off + 2, &ni, 2, 0) ||
		    bpf_l3_csum_replace(skb, cn->l3_off + 10, (__u32)oi, (__u32)ni, 2))
			return MOQ_R_CANON_FAILED;
	} else if (dt && bpf_skb_store_bytes(skb, cn->l3_off + 4, &nl, 2, 0)) {
		return MOQ_R_CANON_FAILED; /* IPv6 payload length = UDP length */
	}
	/* the datagram's bytes changed by sum_new - sum_old; the pseudo
	 * header's length by ol -> nl */
	r = moq_canon_sum(skb, l4, new_udp);
	if (r < 0)
		return MOQ_R_CANON_FAILED;
	sum_new = (__u32)r;
	if (bpf_l4_csum_replace(skb, l4 + 6, 0, sum_new + (0xffff - cn->sum_old),
				BPF_F_MARK_MANGLED_0))
		return MOQ_R_CANON_FAILED;
	if (dt && bpf_l4_csum_replace(skb, l4 + 6, (__u32)ol, (__u32)nl,
				      BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 2))
		return MOQ_R_CANON_FAILED;
	return 0;
}

#endif
