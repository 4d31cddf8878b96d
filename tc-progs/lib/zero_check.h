/* moq_all_zero: every byte in [from, to) is 0x00 (PADDING frames). */
#ifndef MOQ_ZERO_CHECK_H
#define MOQ_ZERO_CHECK_H

#include "bpf_common.h"

struct moq_zero_ctx {
	struct __sk_buff *skb;
	__u32 off;
	__u32 end;
	__u32 bad;
};

static long moq_zero_step(__u64 i, void *data)
{
	struct moq_zero_ctx *z = data;
	__u64 w;
	__u32 left;

	if (z->off >= z->end)
		return 1;
	/* 8 bytes at off exist: the region ends before the 16-byte tag */
	if (bpf_skb_load_bytes(z->skb, z->off, &w, 8)) {
		z->bad = 1;
		return 1;
	}
	left = z->end - z->off;
	if (left < 8) /* little-endian: byte k is bits 8k..8k+7 */
		w &= (1ull << (8 * left)) - 1;
	if (w) {
		z->bad = 1;
		return 1;
	}
	z->off += 8;
	return 0;
}

/* 1 when all zero. bpf_loop instead of a bounded loop: the region can be a
 * whole MTU of padding (~190 words) and the callback verifies once. */
static __always_inline int moq_all_zero(struct __sk_buff *skb, __u32 from, __u32 to)
{
	struct moq_zero_ctx z = {.skb = skb, .off = from, .end = to};

	if (from >= to)
		return 1;
	bpf_loop((to - from + 7) / 8, moq_zero_step, &z, 0);
	return !z.bad && z.off >= z.end;
}

#endif
