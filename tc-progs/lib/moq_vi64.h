/* moq_vi64: MoQT draft-18 variable-length integer (leading ones give the
 * extra length; 1..9 bytes). */
#ifndef MOQ_VI64_H
#define MOQ_VI64_H

#include "cursor_load.h"

/* Reads one vi64, advances, returns its length (1..9) or -1 when it runs
 * past c->end. */
static __always_inline int moq_vi64(struct __sk_buff *skb, struct moq_cursor *c, __u64 *v)
{
	__u64 raw;
	__u32 len, b;

	if (c->off >= c->end)
		return -1;
	if (bpf_skb_load_bytes(skb, c->off, &raw, 8))
		return -1;
	raw = __builtin_bswap64(raw);
	b = raw >> 56;
	len = 1 + (b >= 0x80) + (b >= 0xc0) + (b >= 0xe0) + (b >= 0xf0) + (b >= 0xf8) +
	      (b >= 0xfc) + (b >= 0xfe) + (b >= 0xff);
	if (len > c->end - c->off)
		return -1;
	if (len == 9) {
		if (bpf_skb_load_bytes(skb, c->off + 1, &raw, 8))
			return -1;
		*v = __builtin_bswap64(raw);
	} else {
		*v = (raw >> (64 - 8 * len)) & (~0ull >> (64 - 7 * len));
	}
	c->off += len;
	return (int)len;
}

#endif
