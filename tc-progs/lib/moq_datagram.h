/* moq_parse_object_datagram: MoQT draft-18 OBJECT_DATAGRAM header. */
#ifndef MOQ_DATAGRAM_H
#define MOQ_DATAGRAM_H

#include "moq_vi64.h"

/* Valid types: 0b00X0XXXX without STATUS (0x20) + END_OF_GROUP (0x02). */
static __always_inline int moq_datagram_type_ok(__u64 t)
{
	return !(t & ~0x2full) && !(t & 0x10) && (t & 0x22) != 0x22;
}

/* c spans the DATAGRAM frame's payload. Returns 0 or a moq_reason. */
static __always_inline int moq_parse_object_datagram(struct __sk_buff *skb, struct moq_cursor *c,
						     struct moq_pkt *p)
{
	__u32 start = c->off;
	__u64 type;
	int n;

	if (moq_vi64(skb, c, &type) < 0)
		return MOQ_R_BAD_VARINT;
	if (!moq_datagram_type_ok(type))
		return MOQ_R_BAD_DATAGRAM;
	p->moq_type = type;
	p->alias_off = c->off;
	n = moq_vi64(skb, c, &p->alias);
	if (n < 0)
		return MOQ_R_BAD_VARINT;
	p->alias_len = n;
	if (moq_vi64(skb, c, &p->group) < 0)
		return MOQ_R_BAD_VARINT;
	p->subgroup = 0; /* object id */
	if (!(type & 0x04) && moq_vi64(skb, c, &p->subgroup) < 0)
		return MOQ_R_BAD_VARINT;
	p->has_prio = !(type & 0x08);
	if (p->has_prio) {
		if (c->off >= c->end || bpf_skb_load_bytes(skb, c->off, &p->prio, 1))
			return MOQ_R_BAD_DATAGRAM;
		c->off += 1;
	}
	p->moq_hdr_len = c->off - start;
	p->has_moq_hdr = 1;
	return 0;
}

#endif
