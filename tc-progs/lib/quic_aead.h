/* QUIC 1-RTT packet protection in tc (RFC 9001 5.3, 5.4): AES-128-GCM
 * sealing/opening and header protection with the keys the agent installs
 * in moq_tls_keys (agent/lib/fp_keys.c, docs/fast-path-tls-kernel.md).
 *
 * The kernel offers AES only as the ecb(aes) skcipher of the BPF crypto
 * kfuncs, so GCM is built here: one ECB call encrypts the counter blocks
 * J0, J0+1, ... (E(K, J0) masks the tag, the rest is the CTR keystream),
 * the keystream is XORed into a copy of the packet, GHASH runs in BPF with
 * the key set's table (ghash.h), and the copy is stored back.
 *
 * The working copy lives in a per-CPU scratch map: a caller must not keep
 * results in it across a bpf_clone_redirect (the clone's egress program
 * runs nested on the same CPU and seals in the same scratch). */
#ifndef MOQ_QUIC_AEAD_H
#define MOQ_QUIC_AEAD_H

#include "bpf_common.h"
#include "maps.bpf.h"
#include "ghash.h"

extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst, const struct bpf_dynptr *siv) __ksym;

#define MOQ_AEAD_MAX_BLOCKS 94 /* ciphertext up to 1504 bytes */
#define MOQ_AEAD_MAX_CT (MOQ_AEAD_MAX_BLOCKS * 16)
#define MOQ_AEAD_MAX_HDR 32
#define MOQ_AEAD_PK 2048 /* packet copy: header, ciphertext, tag, slack */

/* loop state of the helpers below */
struct moq_aead_state {
	__u64 x0, x1;	    /* GHASH accumulator */
	__u64 t0, t1;	    /* computed tag */
	__u64 n0;	    /* nonce bytes 0..7 */
	__u64 cacc;	    /* ciphertext's checksum change (csum != 0) */
	__u64 otag0, otag1; /* the trailer the tag replaces */
	__u32 n1;	    /* nonce bytes 8..11 */
	__u32 start;	    /* first byte of the data in pk */
	__u32 len;	    /* bytes of data */
	__u32 mode;	    /* MOQ_AEAD_M_* */
	__u32 final;	    /* block loop: finish with the lengths block and tag */
	__u32 csum;	    /* M_SEAL: sum the checksum change into cacc */
	__u32 aad_len;
};

struct moq_aead_scratch {
	struct moq_aead_state st;
	__u8 ctr[(MOQ_AEAD_MAX_BLOCKS + 1) * 16]; /* J0, J0 + 1, ... */
	__u8 ks[(MOQ_AEAD_MAX_BLOCKS + 1) * 16];  /* E(K, J0), keystream */
	__u8 pk[MOQ_AEAD_PK + 16];		  /* the packet being worked on */
	__u8 hp_in[16];
	__u8 hp_out[16];
	/* unused: makes clang emit struct bpf_crypto_ctx in full (a kptr must
	 * point to a struct, and an object that calls no crypto kfunc would
	 * otherwise carry only a forward declaration) */
	struct bpf_crypto_ctx btf_anchor;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_aead_scratch);
} moq_aead_scratch SEC(".maps");

static __always_inline struct moq_aead_scratch *moq_aead_scratch_get(void)
{
	__u32 z = 0;

	return bpf_map_lookup_elem(&moq_aead_scratch, &z);
}

/* keys of one direction and phase: NULL unless both contexts are there */
static __always_inline struct moq_keyset *moq_keys_get(__u32 id, __u8 kind, __u32 phase)
{
	struct moq_tls_key_id kid = {.id = id, .kind = kind, .phase = phase & 1};
	struct moq_keyset *k = bpf_map_lookup_elem(&moq_tls_keys, &kid);

	if (!k || !k->aes || !k->hp)
		return NULL;
	return k;
}

/* a subscriber slot's tx keys (the set moq_tls_sel selects) */
static __always_inline struct moq_keyset *moq_keys_sub(__u32 slot)
{
	__u32 *sel = bpf_map_lookup_elem(&moq_tls_sel, &slot);

	if (!sel || !*sel)
		return NULL;
	return moq_keys_get(slot, MOQ_TLS_KIND_SUB, *sel - 1);
}

/* an upstream connection's rx keys of key phase phase */
static __always_inline struct moq_keyset *moq_keys_up(__u32 conn_id, __u32 phase)
{
	return moq_keys_get(conn_id, MOQ_TLS_KIND_UP, phase);
}

/* key phase bit (0/1) the sealer must write for this set */
static __always_inline __u32 moq_keyset_phase(const struct moq_keyset *k)
{
	return k->phase & 1;
}

/* One AES block with context c: s->hp_in -> s->hp_out. */
static __always_inline int moq_aes_block(struct bpf_crypto_ctx *c, struct moq_aead_scratch *s)
{
	struct bpf_dynptr src, dst;

	if (bpf_dynptr_from_mem(s->hp_in, 16, 0, &src) ||
	    bpf_dynptr_from_mem(s->hp_out, 16, 0, &dst))
		return -1;
	return bpf_crypto_encrypt(c, &src, &dst, NULL) ? -1 : 0;
}

/* header protection mask: 5 bytes from the 16-byte sample at skb offset
 * sample_off (RFC 9001 5.4.3: AES-ECB(hp_key, sample)). A subprogram: its
 * dynptrs must not share stack slots with a caller's buffers (the
 * verifier refuses a helper writing where a dynptr was). */
static __noinline int moq_hp_mask(struct __sk_buff *skb, const struct moq_keyset *k,
				  __u32 sample_off, __u8 mask[5])
{
	struct moq_aead_scratch *s = moq_aead_scratch_get();
	struct bpf_crypto_ctx *hp;

	if (!s)
		return -1;
	hp = k->hp;
	if (!hp)
		return -1;
	if (bpf_skb_load_bytes(skb, sample_off, s->hp_in, 16) || moq_aes_block(hp, s))
		return -1;
	__builtin_memcpy(mask, s->hp_out, 5);
	return 0;
}

#define MOQ_AEAD_M_HASH 0 /* GHASH only (AAD) */
#define MOQ_AEAD_M_SEAL 1 /* XOR keystream, then GHASH the ciphertext */

/* UDP checksum change without a second pass over the packet: one's-
 * complement sums of 32-bit words in memory order (like bpf_csum_diff),
 * new bytes plus the complement of the old ones, region by region, each
 * folded to 16 bits and byte-swapped when the region starts an odd number
 * of bytes after the packet (RFC 1071: the sum is byte-order independent
 * up to that swap). */
static __always_inline __u64 moq_csum_words(__u64 w0, __u64 w1)
{
	return (w0 & 0xffffffffull) + (w0 >> 32) + (w1 & 0xffffffffull) + (w1 >> 32);
}

static __always_inline __u32 moq_csum_fold16(__u64 acc, __u32 odd)
{
	acc = (acc & 0xffffffffull) + (acc >> 32);
	acc = (acc & 0xffffffffull) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	if (odd)
		acc = ((acc & 0xff) << 8) | (acc >> 8);
	return (__u32)acc;
}

/* Low r bytes (0..8) of a word. */
static __always_inline __u64 moq_low_bytes(__u32 r)
{
	return r >= 8 ? ~0ull : (1ull << (8 * r)) - 1;
}

/* The header's 32 bytes, the first hdr_len of them, as a sum (complemented
 * for the old bytes). */
static __always_inline __u64 moq_hdr_sum(const __u8 *pk, __u32 hdr_len, int complement)
{
	__u64 acc = 0;

#pragma unroll
	for (int k = 0; k < 4; k++) {
		__u32 r = hdr_len > 8 * k ? hdr_len - 8 * k : 0;
		__u64 m = moq_low_bytes(r), w = *(const __u64 *)&pk[8 * k] & m;

		if (complement)
			w = ~w & m;
		acc += (w & 0xffffffffull) + (w >> 32);
		if (complement) /* the masked-out bytes: ~0, a one's-complement zero */
			acc += (~m & 0xffffffffull) + (~m >> 32);
	}
	return acc;
}

/* What the bpf_loop callbacks get (on the stack: 16 bytes; the rest of
 * their state is in the scratch, the egress program has little stack). */
struct moq_aead_ref {
	struct moq_aead_scratch *s;
	const __u64 *tab; /* the key set's GHASH table */
};

/* bpf_loop callback: block i of [st.start, st.start + st.len) of s->pk;
 * GHASH it (M_SEAL: after XORing the keystream into it). */
static long moq_aead_block_cb(__u64 i, void *arg)
{
	struct moq_aead_ref *ref = arg;
	struct moq_aead_scratch *s = ref->s;
	__u32 off = (__u32)i * 16, len = s->st.len, pos, kpos;
	__u64 w0, w1, *p;

	if (off >= len || off >= MOQ_AEAD_MAX_CT) {
		/* one more iteration after the ciphertext: the lengths block
		 * and the tag (here, not in the caller: the unrolled GHASH
		 * needs stack, and the caller's stack adds to its caller's) */
		if (s->st.final) {
			moq_ghash_lengths(ref->tab, &s->st.x0, &s->st.x1, s->st.aad_len, len);
			s->st.t0 = s->st.x0 ^ *(__u64 *)&s->ks[0];
			s->st.t1 = s->st.x1 ^ *(__u64 *)&s->ks[8];
		}
		return 1;
	}
	pos = s->st.start + off;
	kpos = 16 + off; /* block 0 of ks is E(K, J0) */
	if (pos > MOQ_AEAD_PK - 16 || kpos > sizeof(s->ks) - 16)
		return 1;
	p = (__u64 *)&s->pk[pos];
	w0 = p[0];
	w1 = p[1];
	if (s->st.mode == MOQ_AEAD_M_SEAL) {
		__u64 o0 = w0, o1 = w1;

		w0 ^= *(__u64 *)&s->ks[kpos];
		w1 ^= *(__u64 *)&s->ks[kpos + 8];
		p[0] = w0;
		p[1] = w1;
		moq_ghash_mask(&w0, &w1, len - off);
		if (s->st.csum) {
			/* old bytes past the data are zero too, their
			 * complement a one's-complement zero */
			moq_ghash_mask(&o0, &o1, len - off);
			s->st.cacc += moq_csum_words(w0, w1) + moq_csum_words(~o0, ~o1);
		}
	}
	moq_ghash_mask(&w0, &w1, len - off);
	moq_ghash_block(ref->tab, &s->st.x0, &s->st.x1, w0, w1);
	return 0;
}

/* bpf_loop callback: s->pk[st.start + 16i ..] ^= keystream block i + 1. */
static long moq_aead_xor_cb(__u64 i, void *arg)
{
	struct moq_aead_ref *ref = arg;
	struct moq_aead_scratch *s = ref->s;
	__u32 off = (__u32)i * 16, pos, kpos;
	__u64 *p;

	if (off >= s->st.len || off >= MOQ_AEAD_MAX_CT)
		return 1;
	pos = s->st.start + off;
	kpos = 16 + off;
	if (pos > MOQ_AEAD_PK - 16 || kpos > sizeof(s->ks) - 16)
		return 1;
	p = (__u64 *)&s->pk[pos];
	p[0] ^= *(__u64 *)&s->ks[kpos];
	p[1] ^= *(__u64 *)&s->ks[kpos + 8];
	return 0;
}

/* bpf_loop callback: counter block i = nonce || be32(i + 1). */
static long moq_ctr_cb(__u64 i, void *arg)
{
	struct moq_aead_ref *ref = arg;
	struct moq_aead_scratch *s = ref->s;
	__u32 pos = (__u32)i * 16;

	if (pos > sizeof(s->ctr) - 16)
		return 1;
	*(__u64 *)&s->ctr[pos] = s->st.n0;
	*(__u32 *)&s->ctr[pos + 8] = s->st.n1;
	*(__u32 *)&s->ctr[pos + 12] = bpf_htonl((__u32)i + 1);
	return 0;
}

/* Loads the packet into s->pk and computes the counter blocks and the
 * keystream for it (n: ciphertext bytes). 0 or < 0. */
static __always_inline int moq_aead_prepare(struct __sk_buff *skb, const struct moq_keyset *k,
					    struct moq_aead_ref *ref, __u32 pkt_off, __u32 pkt_len,
					    __u32 n, __u64 pn)
{
	struct moq_aead_scratch *s = ref->s;
	struct bpf_crypto_ctx *aes = k->aes;
	struct bpf_dynptr src, dst;
	__u64 iv0, pn_be = bpf_cpu_to_be64(pn);
	__u32 iv1, blocks, bytes;

	if (!aes || n > MOQ_AEAD_MAX_CT)
		return -1;
	/* a check of its own the compiler cannot merge: the verifier needs
	 * pkt_len's bounds in the register passed to the helper */
	asm volatile("" : "+r"(pkt_len));
	if (pkt_len < 1 || pkt_len > MOQ_AEAD_PK - 16)
		return -1;
	if (bpf_skb_load_bytes(skb, pkt_off, s->pk, pkt_len))
		return -1;
	/* nonce = iv ^ (packet number left-padded to 12 bytes) */
	__builtin_memcpy(&iv0, k->iv, 8);
	__builtin_memcpy(&iv1, k->iv + 8, 4);
	s->st.n0 = iv0 ^ (pn_be << 32);
	s->st.n1 = iv1 ^ (__u32)(pn_be >> 32);
	blocks = (n + 15) / 16 + 1;
	bpf_loop(blocks, moq_ctr_cb, ref, 0);
	bytes = blocks * 16;
	asm volatile("" : "+r"(bytes));
	if (bytes < 16 || bytes > sizeof(s->ctr))
		return -1;
	if (bpf_dynptr_from_mem(s->ctr, bytes, 0, &src) ||
	    bpf_dynptr_from_mem(s->ks, bytes, 0, &dst))
		return -1;
	if (bpf_crypto_encrypt(aes, &src, &dst, NULL))
		return -1;
	return 0;
}

/* GHASH of the header (AAD) and the ciphertext (mode: M_SEAL encrypts it
 * first), then the tag = GHASH ^ E(K, J0) into st.t0, st.t1. */
static __always_inline void moq_aead_ghash(struct moq_aead_ref *ref, __u32 hdr_len, __u32 n,
					   __u32 mode)
{
	struct moq_aead_scratch *s = ref->s;

	s->st.x0 = 0;
	s->st.x1 = 0;
	s->st.start = 0;
	s->st.len = hdr_len;
	s->st.mode = MOQ_AEAD_M_HASH;
	s->st.final = 0;
	bpf_loop((hdr_len + 15) / 16, moq_aead_block_cb, ref, 0);
	s->st.start = hdr_len;
	s->st.len = n;
	s->st.mode = mode;
	s->st.final = 1;
	s->st.aad_len = hdr_len;
	s->st.cacc = 0;
	bpf_loop((n + 15) / 16 + 1, moq_aead_block_cb, ref, 0);
}

/* The seal with an optional UDP checksum fix (csum_off != 0: the UDP
 * checksum field; pkt_off must then be an even distance from the UDP
 * header) and optional key-phase bit (set_phase: first byte's KEY_PHASE =
 * the set's phase, before the AAD is taken). A subprogram: its stack is
 * not added to the caller's at every call site. */
static __noinline int moq_aead_seal_impl(struct __sk_buff *skb, const struct moq_keyset *k,
					 __u32 offs, __u32 lens, __u64 pn)
{
	/* BPF calls take 5 arguments: offs = pkt_off | csum_off << 16,
	 * lens = hdr_len | set_phase << 8 | pkt_len << 16 */
	__u32 pkt_off = offs & 0xffff, csum_off = offs >> 16;
	__u32 hdr_len = lens & 0xff, set_phase = (lens >> 8) & 1, pkt_len = lens >> 16;
	struct moq_aead_ref ref = {.s = moq_aead_scratch_get(), .tab = k->ghash};
	struct moq_aead_scratch *s = ref.s;
	struct bpf_crypto_ctx *hp = k->hp;
	__u32 n, pn_len, so, i, sum;
	__u64 hacc = 0, tacc;
	__u8 first;

	if (!s || !hp)
		return -1;
	if (hdr_len < 2 || hdr_len > MOQ_AEAD_MAX_HDR || pkt_len < hdr_len + MOQ_TAG_LEN)
		return -1;
	n = pkt_len - hdr_len - MOQ_TAG_LEN;
	if (n > MOQ_AEAD_MAX_CT)
		return -1;
	if (moq_aead_prepare(skb, k, &ref, pkt_off, pkt_len, n, pn))
		return -1;
	i = hdr_len + n;
	if (i > MOQ_AEAD_PK - 16)
		return -1;
	if (csum_off)
		hacc = moq_hdr_sum(s->pk, hdr_len, 1);
	s->st.otag0 = *(__u64 *)&s->pk[i];
	s->st.otag1 = *(__u64 *)&s->pk[i + 8];
	s->st.csum = !!csum_off;
	if (set_phase)
		s->pk[0] = (s->pk[0] & ~0x04) | (moq_keyset_phase(k) << 2);
	first = s->pk[0];
	pn_len = (first & 3) + 1;
	if (hdr_len < 1 + pn_len)
		return -1;
	moq_aead_ghash(&ref, hdr_len, n, MOQ_AEAD_M_SEAL);
	*(__u64 *)&s->pk[i] = s->st.t0;
	*(__u64 *)&s->pk[i + 8] = s->st.t1;
	/* header protection (RFC 9001 5.4.2): the sample starts 4 bytes after
	 * the start of the packet number */
	so = hdr_len - pn_len + 4;
	/* the whole sample inside the packet (RFC 9001 5.4.2: the sender
	 * pads); past its end the scratch holds the previous packet */
	if (so > MOQ_AEAD_PK - 16 || so + 16 > pkt_len)
		return -1;
	*(__u64 *)&s->hp_in[0] = *(__u64 *)&s->pk[so];
	*(__u64 *)&s->hp_in[8] = *(__u64 *)&s->pk[so + 8];
	if (moq_aes_block(hp, s))
		return -1;
	s->pk[0] = first ^ (s->hp_out[0] & 0x1f);
#pragma unroll
	for (int j = 0; j < 4; j++) {
		__u32 q = hdr_len - pn_len + j;

		if (j < pn_len && q < MOQ_AEAD_MAX_HDR)
			s->pk[q] ^= s->hp_out[1 + j];
	}
	if (bpf_skb_store_bytes(skb, pkt_off, s->pk, pkt_len, 0))
		return -1;
	if (!csum_off)
		return 0;
	hacc += moq_hdr_sum(s->pk, hdr_len, 0);
	tacc = moq_csum_words(s->st.t0, s->st.t1) + moq_csum_words(~s->st.otag0, ~s->st.otag1);
	sum = moq_csum_fold16(hacc, 0) + moq_csum_fold16(s->st.cacc, hdr_len & 1) +
	      moq_csum_fold16(tacc, i & 1);
	if (bpf_l4_csum_replace(skb, csum_off, 0, moq_csum_fold16(sum, 0), BPF_F_MARK_MANGLED_0))
		return -1;
	return 0;
}

/* Seal in place: packet at pkt_off, header (first byte..PN end) hdr_len
 * bytes, whole packet pkt_len bytes including the 16-byte trailer that
 * becomes the tag; pn = full packet number. Applies header protection too
 * (short header: first byte mask 0x1f); fixes nothing else (the caller
 * sets the KEY_PHASE bit before and fixes the UDP checksum). 0 or < 0. */
static __always_inline int moq_aead_seal(struct __sk_buff *skb, const struct moq_keyset *k,
					 __u32 pkt_off, __u32 hdr_len, __u32 pkt_len, __u64 pn)
{
	if (pkt_off > 0xffff || hdr_len > 0xff || pkt_len > 0xffff)
		return -1;
	return moq_aead_seal_impl(skb, k, pkt_off, hdr_len | pkt_len << 16, pn);
}

/* The same for a QUIC packet that is a whole UDP payload at l4_off + 8:
 * writes the set's KEY_PHASE bit into the first byte before sealing and
 * fixes the UDP checksum. 0 or < 0 (the packet may be half-written then:
 * drop it). */
static __always_inline int moq_aead_seal_udp(struct __sk_buff *skb, const struct moq_keyset *k,
					     __u32 l4_off, __u32 hdr_len, __u32 pkt_len, __u64 pn)
{
	if (l4_off > 0xff00 || hdr_len > 0xff || pkt_len > 0xffff)
		return -1;
	return moq_aead_seal_impl(skb, k, (l4_off + 8) | (l4_off + 6) << 16,
				  hdr_len | 1 << 8 | pkt_len << 16, pn);
}

/* The body of moq_aead_open (a subprogram: its stack is its own). */
static __noinline int moq_aead_open_impl(struct __sk_buff *skb, const struct moq_keyset *k,
					 __u32 pkt_off, __u32 lens, __u64 pn)
{
	/* lens = hdr_len | pkt_len << 16 (BPF calls take 5 arguments) */
	__u32 hdr_len = lens & 0xff, pkt_len = lens >> 16;
	struct moq_aead_ref ref = {.s = moq_aead_scratch_get(), .tab = k->ghash};
	struct moq_aead_scratch *s = ref.s;
	__u32 n, i;

	if (!s)
		return -1;
	if (hdr_len < 2 || hdr_len > MOQ_AEAD_MAX_HDR || pkt_len < hdr_len + MOQ_TAG_LEN)
		return -1;
	n = pkt_len - hdr_len - MOQ_TAG_LEN;
	if (n > MOQ_AEAD_MAX_CT)
		return -1;
	if (moq_aead_prepare(skb, k, &ref, pkt_off, pkt_len, n, pn))
		return -1;
	moq_aead_ghash(&ref, hdr_len, n, MOQ_AEAD_M_HASH);
	i = hdr_len + n;
	if (i > MOQ_AEAD_PK - 16)
		return -1;
	if ((*(__u64 *)&s->pk[i] ^ s->st.t0) | (*(__u64 *)&s->pk[i + 8] ^ s->st.t1))
		return -2; /* bad tag: nothing written */
	if (!n)
		return 0;
	s->st.start = hdr_len;
	s->st.len = n;
	bpf_loop((n + 15) / 16, moq_aead_xor_cb, &ref, 0);
	if (bpf_skb_store_bytes(skb, pkt_off + hdr_len, s->pk + hdr_len, n, 0))
		return -1;
	return 0;
}

/* Open in place after the caller removed header protection: verify the tag
 * over AAD = header, ciphertext = [pkt_off + hdr_len, pkt_off + pkt_len -
 * 16); decrypts only if it verifies. 0 ok, < 0 bad tag / error (the packet
 * is unchanged when the tag is bad). The tag bytes stay in the packet; the
 * UDP checksum is not fixed. */
static __always_inline int moq_aead_open(struct __sk_buff *skb, const struct moq_keyset *k,
					 __u32 pkt_off, __u32 hdr_len, __u32 pkt_len, __u64 pn)
{
	if (hdr_len > 0xff || pkt_len > 0xffff)
		return -1;
	return moq_aead_open_impl(skb, k, pkt_off, hdr_len | pkt_len << 16, pn);
}

#endif
