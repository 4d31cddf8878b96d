/* moq_quic_frame_walk: skip [PADDING | ACK]* up to the first STREAM or
 * DATAGRAM frame. */
#ifndef MOQ_QUIC_FRAME_WALK_H
#define MOQ_QUIC_FRAME_WALK_H

#include "quic_ack.h"

struct moq_walk_ctx {
	struct __sk_buff *skb;
	struct moq_cursor c;
	__u32 start;
	__u32 reason; /* 0 while walking / when found */
	__u8 type;    /* media frame type when found */
	__u8 found;
};

/* One frame (or up to 8 PADDING bytes) per iteration; 1 stops. */
static long moq_walk_step(__u64 i, void *data)
{
	struct moq_walk_ctx *w = data;
	__u64 word, left;
	__u64 k;
	__u8 b;
	int r;

	if (w->c.off >= w->c.end) {
		w->reason = MOQ_R_NO_MEDIA_FRAME;
		return 1;
	}
	if (w->c.off - w->start > MOQ_MAX_PREFIX_BYTES) {
		w->reason = MOQ_R_TOO_MANY_FRAMES;
		return 1;
	}
	/* 8 bytes exist: frames end 16 bytes (the tag) before the packet */
	if (bpf_skb_load_bytes(w->skb, w->c.off, &word, 8)) {
		w->reason = MOQ_R_TRUNCATED;
		return 1;
	}
	b = word & 0xff; /* little-endian: first byte */
	if (b == 0x00) {
		left = w->c.end - w->c.off;
		for (k = 0; k < 8; k++) {
			if (k >= left || ((word >> (8 * k)) & 0xff))
				break;
		}
		w->c.off += k;
		return 0;
	}
	if (b == 0x02 || b == 0x03) {
		r = moq_quic_skip_ack(w->skb, &w->c, b);
		if (r) {
			w->reason = r;
			return 1;
		}
		return 0;
	}
	if ((b >= 0x08 && b <= 0x0f) || b == 0x30 || b == 0x31) {
		if (w->c.off - w->start > MOQ_MAX_PREFIX_BYTES) {
			w->reason = MOQ_R_TOO_MANY_FRAMES;
			return 1;
		}
		w->type = b;
		w->found = 1;
		return 1;
	}
	w->reason = MOQ_R_BAD_FRAME; /* PING, CRYPTO, ...: userspace */
	return 1;
}

/* c->off on the first frame. Returns 0 with c->off on the media frame and
 * *type set, or a moq_reason. */
static __always_inline int moq_quic_frame_walk(struct __sk_buff *skb, struct moq_cursor *c,
					       __u8 *type)
{
	struct moq_walk_ctx w = {.skb = skb, .c = *c, .start = c->off};

	bpf_loop(MOQ_MAX_PRE_FRAMES, moq_walk_step, &w, 0);
	if (!w.found)
		return w.reason ? w.reason : MOQ_R_TOO_MANY_FRAMES;
	*c = w.c;
	*type = w.type;
	return 0;
}

#endif
