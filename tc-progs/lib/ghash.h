/* GHASH (NIST SP 800-38D 6.4) with the per-key table of struct moq_keyset:
 * X * H is the XOR of 32 table entries, one per 4-bit nibble of X (the
 * product is linear in X, so each nibble position has its 16 multiples of
 * H): 8 KiB per key, where one entry per byte (16 x 256 x 16 B) takes 64
 * KiB and misses the cache once there are dozens of subscribers
 * (docs/fast-path-tls-kernel.md). The agent computes the table
 * (agent/lib/fp_keys.c).
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

/* One table lookup: nibble m of word w (bits 4m..4m+3) is position p of
 * the block. The empty asm keeps the steps in order: scheduled together
 * they need more registers than BPF has and spill to the stack (the
 * sealer's callers are short of stack). */
#define MOQ_GHASH_STEP(p, w, m)                                                                    \
	do {                                                                                       \
		__u32 i_ = ((p)*16 + (((w) >> (4 * (m))) & 0xf)) * 2;                              \
		z0 ^= tab[i_];                                                                     \
		z1 ^= tab[i_ + 1];                                                                 \
		asm volatile("" : "+r"(z0), "+r"(z1));                                             \
	} while (0)

#define MOQ_GHASH_WORD(base, w)                                                                    \
	do {                                                                                       \
		MOQ_GHASH_STEP(base + 0, w, 0);                                                    \
		MOQ_GHASH_STEP(base + 1, w, 1);                                                    \
		MOQ_GHASH_STEP(base + 2, w, 2);                                                    \
		MOQ_GHASH_STEP(base + 3, w, 3);                                                    \
		MOQ_GHASH_STEP(base + 4, w, 4);                                                    \
		MOQ_GHASH_STEP(base + 5, w, 5);                                                    \
		MOQ_GHASH_STEP(base + 6, w, 6);                                                    \
		MOQ_GHASH_STEP(base + 7, w, 7);                                                    \
		MOQ_GHASH_STEP(base + 8, w, 8);                                                    \
		MOQ_GHASH_STEP(base + 9, w, 9);                                                    \
		MOQ_GHASH_STEP(base + 10, w, 10);                                                  \
		MOQ_GHASH_STEP(base + 11, w, 11);                                                  \
		MOQ_GHASH_STEP(base + 12, w, 12);                                                  \
		MOQ_GHASH_STEP(base + 13, w, 13);                                                  \
		MOQ_GHASH_STEP(base + 14, w, 14);                                                  \
		MOQ_GHASH_STEP(base + 15, w, 15);                                                  \
	} while (0)

/* x = (x ^ (w0, w1)) * H */
static __always_inline void moq_ghash_block(const __u64 *tab, __u64 *x0, __u64 *x1, __u64 w0,
					    __u64 w1)
{
	__u64 a = *x0 ^ w0, b = *x1 ^ w1, z0 = 0, z1 = 0;

	MOQ_GHASH_WORD(0, a);
	MOQ_GHASH_WORD(16, b);
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
