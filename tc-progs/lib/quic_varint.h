/* moq_quic_varint: RFC 9000 variable-length integer (1/2/4/8 bytes). */
#ifndef MOQ_QUIC_VARINT_H
#define MOQ_QUIC_VARINT_H

#include "cursor_load.h"

/* Reads one varint at the cursor, advances, returns its encoded length
 * (1, 2, 4, 8) or -1 when it runs past c->end. Branch-free decode of an
 * 8-byte window: fields always sit before the 16-byte tag, so 8 bytes at any
 * offset below c->end exist in the skb. */
static __always_inline int moq_quic_varint(struct __sk_buff *skb, struct moq_cursor *c, __u64 *v)
{
	__u64 raw;
	__u32 len;

	if (c->off >= c->end)
		return -1;
	if (bpf_skb_load_bytes(skb, c->off, &raw, 8))
		return -1;
	raw = __builtin_bswap64(raw);
	len = 1u << (raw >> 62);
	if (len > c->end - c->off)
		return -1;
	*v = (raw >> (64 - 8 * len)) & (~0ull >> (66 - 8 * len));
	c->off += len;
	return (int)len;
}

#endif
