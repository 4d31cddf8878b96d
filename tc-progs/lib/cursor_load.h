/* moq_cursor_load: copy n bytes at the cursor without advancing. */
#ifndef MOQ_CURSOR_LOAD_H
#define MOQ_CURSOR_LOAD_H

#include "bpf_common.h"

/* 0 on success, -1 when fewer than n bytes remain before c->end or the skb
 * is shorter. n must be a compile-time constant. */
static __always_inline int moq_cursor_load(struct __sk_buff *skb, const struct moq_cursor *c,
					   void *dst, __u32 n)
{
	if (c->off > c->end || c->end - c->off < n)
		return -1;
	return bpf_skb_load_bytes(skb, c->off, dst, n) ? -1 : 0;
}

#endif
