/* GHASH (NIST SP 800-38D 6.4) with the per-key table of struct moq_keyset:
 * X * H is the XOR of 16 table entries, one per byte of X (the table is
 * linear in X, so each byte position has its 256 multiples of H). The
 * agent computes the table (agent/lib/fp_keys.c).
 *
 * Blocks are handled as two little-endian 64-bit words as loaded from
 * memory: byte j of the block is bits 8j.. of word j / 8. The table
 * entries are stored in the same memory order, so no byte swapping is
 * needed anywhere (the JIT targets are little-endian). */
#ifndef MOQ_GHASH_H
#define MOQ_GHASH_H

#include "bpf_common.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ghash.h assumes a little-endian target"
#endif

/* One table lookup: byte b of X at position j. */
#define MOQ_GHASH_STEP(j, w, sh)                                                                   \
	do {                                                                                       \
		__u32 i_ = (j)*512 + (((w) >> (sh)) & 0xff) * 2;                                   \
		z0 ^= tab[i_];                                                                     \
		z1 ^= tab[i_ + 1];                                                                 \
	} while (0)

/* x = (x ^ (w0, w1)) * H */
static __always_inline void moq_ghash_block(const __u64 *tab, __u64 *x0, __u64 *x1, __u64 w0,
					    __u64 w1)
{
	__u64 a = *x0 ^ w0, b = *x1 ^ w1, z0 = 0, z1 = 0;

	MOQ_GHASH_STEP(0, a, 0);
	MOQ_GHASH_STEP(1, a, 8);
	MOQ_GHASH_STEP(2, a, 16);
	MOQ_GHASH_STEP(3, a, 24);
	MOQ_GHASH_STEP(4, a, 32);
	MOQ_GHASH_STEP(5, a, 40);
	MOQ_GHASH_STEP(6, a, 48);
	MOQ_GHASH_STEP(7, a, 56);
	MOQ_GHASH_STEP(8, b, 0);
	MOQ_GHASH_STEP(9, b, 8);
	MOQ_GHASH_STEP(10, b, 16);
	MOQ_GHASH_STEP(11, b, 24);
	MOQ_GHASH_STEP(12, b, 32);
	MOQ_GHASH_STEP(13, b, 40);
	MOQ_GHASH_STEP(14, b, 48);
	MOQ_GHASH_STEP(15, b, 56);
	*x0 = z0;
	*x1 = z1;
}

/* Words of a block of which only the first r bytes (1..16) are data: the
 * rest count as zero (GHASH pads the last partial block). */
static __always_inline void moq_ghash_mask(__u64 *w0, __u64 *w1, __u32 r)
{
	if (r >= 16)
		return;
	if (r <= 8) {
		*w1 = 0;
		if (r < 8)
			*w0 &= (1ull << (8 * r)) - 1;
	} else {
		*w1 &= (1ull << (8 * (r - 8))) - 1;
	}
}

/* The final block: bit lengths of AAD and ciphertext, big-endian. */
static __always_inline void moq_ghash_lengths(const __u64 *tab, __u64 *x0, __u64 *x1, __u32 aad_len,
					      __u32 ct_len)
{
	moq_ghash_block(tab, x0, x1, bpf_cpu_to_be64((__u64)aad_len * 8),
			bpf_cpu_to_be64((__u64)ct_len * 8));
}

#endif
