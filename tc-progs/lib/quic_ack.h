/* moq_quic_skip_ack: skip an ACK frame (0x02, or 0x03 with ECN counts). */
#ifndef MOQ_QUIC_ACK_H
#define MOQ_QUIC_ACK_H

#include "quic_varint.h"

struct moq_ack_ctx {
	struct __sk_buff *skb;
	struct moq_cursor c;
	__u32 bad;
};

/* One (Gap, ACK Range Length) pair per iteration. */
static long moq_ack_range_step(__u64 i, void *data)
{
	struct moq_ack_ctx *a = data;
	__u64 gap, len;

	if (moq_quic_varint(a->skb, &a->c, &gap) < 0 || moq_quic_varint(a->skb, &a->c, &len) < 0) {
		a->bad = 1;
		return 1;
	}
	return 0;
}

/* The cursor is on the frame type byte. Returns 0 and advances past the
 * frame, or a moq_reason. */
static __always_inline int moq_quic_skip_ack(struct __sk_buff *skb, struct moq_cursor *c, __u8 type)
{
	struct moq_ack_ctx a = {.skb = skb};
	__u64 largest, delay, count, first;

	c->off += 1;
	if (moq_quic_varint(skb, c, &largest) < 0 || moq_quic_varint(skb, c, &delay) < 0 ||
	    moq_quic_varint(skb, c, &count) < 0 || moq_quic_varint(skb, c, &first) < 0)
		return MOQ_R_BAD_VARINT;
	if (count > MOQ_MAX_ACK_RANGES)
		return MOQ_R_ACK_RANGES;
	/* bpf_loop, not a for-loop: inside the frame walk a bounded loop
	 * multiplies verifier states past the 1M-instruction limit */
	a.c = *c;
	if (count)
		bpf_loop(count, moq_ack_range_step, &a, 0);
	if (a.bad)
		return MOQ_R_BAD_VARINT;
	*c = a.c;
	if (type == 0x03) {
		__u64 ect0, ect1, ce;

		if (moq_quic_varint(skb, c, &ect0) < 0 || moq_quic_varint(skb, c, &ect1) < 0 ||
		    moq_quic_varint(skb, c, &ce) < 0)
			return MOQ_R_BAD_VARINT;
	}
	return 0;
}

#endif
