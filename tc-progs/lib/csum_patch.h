/* moq_csum_patch: overwrite up to 16 bytes of the UDP header/payload and fix
 * the UDP checksum incrementally. */
#ifndef MOQ_CSUM_PATCH_H
#define MOQ_CSUM_PATCH_H

#include "bpf_common.h"

/* Low a bytes of a little-endian word set (a in 0..8). */
static __always_inline __u64 moq_byte_mask(__u32 a)
{
	return a >= 8 ? ~0ull : (1ull << (8 * a)) - 1;
}

/* What worked here (NOTES.md): load a 16-byte window at an even offset from
 * the UDP header, patch it, d = bpf_csum_diff(old, 16, new, 16, 0), store
 * it, then bpf_l4_csum_replace(csum_off, 0, d, BPF_F_MARK_MANGLED_0).
 *
 * Writes src[0..n) (src: a 16-byte buffer) at off, or zeros when zero != 0.
 * off..off+n must end at least 16 bytes before the end of the packet (true
 * for every field before the QUIC tag) and fit the window: n <= 16 - ((off
 * - l4_off) & 1). Returns 0 or -1.
 *
 * Verifier: the splice is done with word masks, not a per-byte loop with
 * conditional stores (those made stack states diverge 2^16 ways). */
static __always_inline int moq_csum_patch(struct __sk_buff *skb, __u32 l4_off, __u32 off,
					  const __u8 *src, __u32 n, int zero)
{
	__u64 old[2], new[2], sv[2] = {}, m0, m1;
	__u32 w, d, e, s0, e0, s1, e1;
	__s64 diff;

	if (off < l4_off)
		return -1;
	d = (off - l4_off) & 1;
	w = off - d;
	e = d + n;
	if (n == 0 || e > 16)
		return -1;
	if (bpf_skb_load_bytes(skb, w, old, sizeof(old)))
		return -1;
	if (!zero)
		__builtin_memcpy(sv, src, sizeof(sv));
	/* value bytes moved to window position d (d is 0 or 1) */
	sv[1] = (sv[1] << (8 * d)) | ((sv[0] >> 56) & (0ull - d));
	sv[0] = sv[0] << (8 * d);
	s0 = d;
	e0 = e < 8 ? e : 8;
	s1 = 0;
	e1 = e > 8 ? e - 8 : 0;
	m0 = moq_byte_mask(e0) & ~moq_byte_mask(s0);
	m1 = moq_byte_mask(e1) & ~moq_byte_mask(s1);
	new[0] = (old[0] & ~m0) | (sv[0] & m0);
	new[1] = (old[1] & ~m1) | (sv[1] & m1);
	diff = bpf_csum_diff((__be32 *)old, sizeof(old), (__be32 *)new, sizeof(new), 0);
	if (diff < 0)
		return -1;
	/* no BPF_F_RECOMPUTE_CSUM: payload diff and checksum-field change
	 * cancel over the UDP segment, so a CHECKSUM_COMPLETE skb->csum must
	 * stay as it is */
	if (bpf_skb_store_bytes(skb, w, new, sizeof(new), 0))
		return -1;
	if (bpf_l4_csum_replace(skb, l4_off + 6, 0, diff, BPF_F_MARK_MANGLED_0))
		return -1;
	return 0;
}

#endif
