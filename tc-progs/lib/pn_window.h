/* moq_pn_new: is a packet number new for its upstream connection? Only
 * then may the packet be cloned: ngtcp2 discards a duplicate, and a clone
 * of it would reach every subscriber anyway (issue 17, finding 2a). The
 * window is struct moq_pn_window (moq_maps.h); two CPUs may run this for
 * one connection at once, so every change is a compare-and-swap. */
#ifndef MOQ_PN_WINDOW_H
#define MOQ_PN_WINDOW_H

#include "bpf_common.h"

#define MOQ_PN_CAS_TRIES 4
#define MOQ_READ_ONCE_U64(p) (*(volatile __u64 *)(p))

/* RFC 9000 appendix A.3: the full packet number closest to expected (the
 * largest seen + 1) whose low nbits (8..32) are wire. */
static __always_inline __u64 moq_pn_decode_bits(__u64 expected, __u64 wire, __u32 nbits)
{
	const __u64 win = 1ull << nbits, hwin = win / 2, mask = win - 1;
	__u64 cand = (expected & ~mask) | wire;

	if (cand + hwin <= expected && cand < (1ull << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}

/* The same for the plaintext profile's 32-bit field. */
static __always_inline __u64 moq_pn_decode(__u64 expected, __u32 wire)
{
	return moq_pn_decode_bits(expected, wire, 32);
}

/* 1: the full number pn was not seen before and is within the window (it
 * is now marked seen); 0: a duplicate, below the window, or a race lost
 * MOQ_PN_CAS_TRIES times (not cloned: the agent sends what the kernel did
 * not). next: w->next as read when pn was decoded. */
static __always_inline int moq_pn_mark(struct moq_pn_window *w, __u64 next, __u64 pn)
{
	__u64 block = pn >> 5, bit = 1ull << (pn & 31);
	__u32 tag = (__u32)block + 1; /* 0: a slot never used */
	__u64 *slot = &w->slot[block & (MOQ_PN_SLOTS - 1)];
	__u64 k;
	int fresh = 0;

	/* below the window: MOQ_PN_SLOTS blocks or more behind the largest's */
	if (next && block + MOQ_PN_SLOTS <= (next - 1) >> 5)
		return 0;
	for (k = 0; k < MOQ_PN_CAS_TRIES; k++) {
		__u64 old = MOQ_READ_ONCE_U64(slot), upd;
		__s32 age = (__s32)(tag - (__u32)(old >> 32));

		if (age < 0)
			return 0; /* the slot holds a newer block: pn is older */
		if (age == 0) {
			if (old & bit)
				return 0;
			upd = old | bit;
		} else {
			upd = ((__u64)tag << 32) | bit; /* the slot moves on */
		}
		if (__sync_val_compare_and_swap(slot, old, upd) == old) {
			fresh = 1;
			break;
		}
	}
	if (!fresh)
		return 0;
	/* the largest seen only moves up; a lost race leaves it a little
	 * behind, which the decode tolerates */
	for (k = 0; k < MOQ_PN_CAS_TRIES && pn >= next; k++) {
		__u64 seen = __sync_val_compare_and_swap(&w->next, next, pn + 1);

		if (seen == next)
			break;
		next = seen;
	}
	return 1;
}

/* moq_pn_mark for a 32-bit wire number (plaintext profile). */
static __always_inline int moq_pn_new(struct moq_pn_window *w, __u32 wire)
{
	__u64 next = MOQ_READ_ONCE_U64(&w->next);

	return moq_pn_mark(w, next, moq_pn_decode(next, wire));
}

#endif
