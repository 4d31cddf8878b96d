/* moq_quic_tag_ok: the last 16 bytes of the UDP payload are the null-AEAD
 * tag of docs/plaintext-profile.md. */
#ifndef MOQ_QUIC_TAG_H
#define MOQ_QUIC_TAG_H

#include "cursor_load.h"

/* 1 when the tag matches; on success c->end moves to the tag (frames end
 * there). */
static __always_inline int moq_quic_tag_ok(struct __sk_buff *skb, struct moq_cursor *c)
{
	__u64 tag[2];
	struct moq_cursor t;

	if (c->end - c->off < MOQ_TAG_LEN)
		return 0;
	t.off = c->end - MOQ_TAG_LEN;
	t.end = c->end;
	if (moq_cursor_load(skb, &t, tag, sizeof(tag)))
		return 0;
	/* "moq-plaintext-v1" as two little-endian u64 (BPF runs host order,
	 * x86-64 / arm64 little endian). */
	if (tag[0] != 0x69616c702d716f6dull || tag[1] != 0x31762d747865746eull)
		return 0;
	c->end = t.off;
	return 1;
}

#endif
