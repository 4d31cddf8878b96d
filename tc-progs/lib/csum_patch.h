/* Ones' complement arithmetic for patching checksummed bytes in a copy of
 * the headers (lib/rewrite.h): the differences summed in the program, the
 * kernel told once per checksum. */
#ifndef MOQ_CSUM_PATCH_H
#define MOQ_CSUM_PATCH_H

#include "bpf_common.h"

/* Low a bytes of a little-endian word set (a in 0..8). */
static __always_inline __u64 moq_byte_mask(__u32 a)
{
	return a >= 8 ? ~0ull : (1ull << (8 * a)) - 1;
}

/* The sum ~old + new over the two 32-bit words of each (the difference
 * bpf_csum_diff would return, unfolded). Words as they lie in memory: the
 * Internet checksum does not care about byte order. */
static __always_inline __u64 moq_csum_diff64(__u64 o, __u64 n)
{
	return (__u64)(__u32)~o + (__u32) ~(o >> 32) + (__u32)n + (n >> 32);
}

/* A sum of 32-bit words folded to the 32-bit __wsum the csum helpers take. */
static __always_inline __u32 moq_csum_fold32(__u64 acc)
{
	acc = (acc & 0xffffffffull) + (acc >> 32);
	acc = (acc & 0xffffffffull) + (acc >> 32);
	return (__u32)acc;
}

/* A 16-bit checksum field after a change of diff, computed as the kernel's
 * csum_replace_by_diff (bpf_l3_csum_replace) does, so the result is
 * byte-identical to the helper's. */
static __always_inline __u16 moq_csum_replace(__u16 check, __u32 diff)
{
	__u64 s = (__u64)diff + (0xffff0000u | (__u16)~check);

	s = (s & 0xffffffffull) + (s >> 32);
	s = (s & 0xffffffffull) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

#endif
