/* moq_parse_subgroup_header: MoQT draft-18 SUBGROUP_HEADER at the start of
 * the stream data of a STREAM frame at offset 0. */
#ifndef MOQ_SUBGROUP_H
#define MOQ_SUBGROUP_H

#include "moq_vi64.h"

/* Valid types: 0b0XX1XXXX with SUBGROUP_ID_MODE (0x06) != 0b11. */
static __always_inline int moq_subgroup_type_ok(__u64 t)
{
	return t < 0x80 && (t & 0x10) && (t & 0x06) != 0x06;
}

/* c spans the stream data in this packet. Fills the MoQT fields of p and
 * returns 0, or a moq_reason. Subgroup ID mode 0b01 (= first Object ID)
 * reads the first object's Object ID Delta, which must be in this packet. */
static __always_inline int moq_parse_subgroup_header(struct __sk_buff *skb, struct moq_cursor *c,
						     struct moq_pkt *p)
{
	__u32 start = c->off;
	__u64 type, v;
	int n;

	if (moq_vi64(skb, c, &type) < 0)
		return MOQ_R_BAD_VARINT;
	if (!moq_subgroup_type_ok(type))
		return MOQ_R_BAD_SUBGROUP_HEADER;
	p->moq_type = type;
	p->alias_off = c->off;
	n = moq_vi64(skb, c, &p->alias);
	if (n < 0)
		return MOQ_R_BAD_VARINT;
	p->alias_len = n;
	if (moq_vi64(skb, c, &p->group) < 0)
		return MOQ_R_BAD_VARINT;
	p->subgroup = 0;
	if ((type & 0x06) == 0x04 && moq_vi64(skb, c, &p->subgroup) < 0)
		return MOQ_R_BAD_VARINT;
	p->has_prio = !(type & 0x20);
	if (p->has_prio) {
		if (c->off >= c->end || bpf_skb_load_bytes(skb, c->off, &p->prio, 1))
			return MOQ_R_BAD_SUBGROUP_HEADER;
		c->off += 1;
	}
	p->moq_hdr_len = c->off - start;
	if ((type & 0x06) == 0x02) {
		struct moq_cursor peek = *c;

		if (moq_vi64(skb, &peek, &v) < 0)
			return MOQ_R_BAD_SUBGROUP_HEADER;
		p->subgroup = v;
	}
	p->has_moq_hdr = 1;
	return 0;
}

#endif
