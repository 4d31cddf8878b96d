/* moq_parse_packet: classify an upstream media packet of the plaintext
 * profile; shared by the upstream ingress and subscriber egress programs so
 * both agree on every offset. */
#ifndef MOQ_PARSE_PACKET_H
#define MOQ_PARSE_PACKET_H

#include "parse_flow.h"
#include "parse_quic_short.h"
#include "quic_tag.h"
#include "quic_frame_walk.h"
#include "zero_check.h"
#include "moq_subgroup.h"
#include "moq_datagram.h"
#include "maps.bpf.h"
#include "pn_window.h"

#define MOQ_PARSE_VALIDATE 1
#define MOQ_PARSE_PN_DONE 2

/* Reads the STREAM or DATAGRAM frame whose type byte is at c->off. */
static __always_inline int moq_parse_media_frame(struct __sk_buff *skb, struct moq_cursor *c,
						 struct moq_pkt *p, __u8 type, int validate,
						 __u8 uni_bits)
{
	__u64 len = 0;
	int n, has_len;

	p->media_off = c->off;
	c->off += 1;
	if (type >= 0x08 && type <= 0x0f) {
		p->is_datagram = 0;
		p->sid_off = c->off;
		/* plaintext profile: 4-byte stream id so egress rewrites in
		 * place */
		n = moq_quic_varint(skb, c, &p->stream_id);
		if (n < 0)
			return MOQ_R_BAD_VARINT;
		if (n != 4)
			return MOQ_R_STREAM_ID_WIDTH;
		/* the peer's unidirectional streams: client-initiated (2)
		 * from a publisher, server-initiated (3) from an upstream
		 * relay */
		if ((p->stream_id & 3) != uni_bits)
			return MOQ_R_NOT_CLIENT_UNI;
		p->offset = 0;
		if ((type & 0x04) && moq_quic_varint(skb, c, &p->offset) < 0)
			return MOQ_R_BAD_VARINT;
		has_len = type & 0x02;
		p->fin = type & 0x01;
	} else {
		p->is_datagram = 1;
		has_len = type & 0x01;
	}
	if (has_len && moq_quic_varint(skb, c, &len) < 0)
		return MOQ_R_BAD_VARINT;
	p->data_off = c->off;
	if (!has_len)
		len = c->end - c->off;
	if (len > c->end - c->off)
		return MOQ_R_TRUNCATED;
	p->data_len = len;
	/* only PADDING may follow the media frame */
	if (validate && !moq_all_zero(skb, p->data_off + p->data_len, c->end))
		return MOQ_R_TRAILING_FRAME;
	return 0;
}

/* The packet comes from the upstream entry's address and port, and (with
 * MOQ_UP_F_DADDR) to the relay's address for it. 0 or a moq_reason. */
static __always_inline int moq_up_source_check(struct __sk_buff *skb, const struct moq_upstream *up,
					       const struct moq_flow *f)
{
	if (up->family != f->family || up->sport_be != f->sport_be)
		return MOQ_R_WRONG_SOURCE;
	if (f->family == MOQ_AF_INET) {
		if (!moq_bytes_eq(up->saddr, f->saddr, 4))
			return MOQ_R_WRONG_SOURCE;
	} else if (!moq_bytes_eq(up->saddr, f->saddr, 16)) {
		return MOQ_R_WRONG_SOURCE;
	}
	/* sent to the relay's address for this publisher (not just to any
	 * host whose traffic passes this interface) */
	if (up->flags & MOQ_UP_F_DADDR) {
		__u8 da[16];

		if (f->family == MOQ_AF_INET) {
			if (bpf_skb_load_bytes(skb, f->l3_off + 16, da, 4))
				return MOQ_R_TRUNCATED;
			if (!moq_bytes_eq(up->daddr, da, 4))
				return MOQ_R_WRONG_DEST;
		} else {
			if (bpf_skb_load_bytes(skb, f->l3_off + 24, da, 16))
				return MOQ_R_TRUNCATED;
			if (!moq_bytes_eq(up->daddr, da, 16))
				return MOQ_R_WRONG_DEST;
		}
	}
	return 0;
}

/* Fills p from skb. validate != 0 (ingress) also checks the source address
 * and that only PADDING follows the media frame; egress trusts the ingress
 * program for those and re-derives offsets only. MOQ_PARSE_PN_DONE in
 * validate: the packet number was already checked new (a TLS packet,
 * checked when it was opened, before it took this form). Returns 0 for an
 * eligible packet, else the moq_reason. */
static __always_inline int moq_parse_packet(struct __sk_buff *skb, const struct moq_config *cfg,
					    struct moq_pkt *p, int validate)
{
	struct moq_cursor c = {.off = 0, .end = skb->len};
	struct moq_upstream *up;
	struct moq_cid dcid;
	__u32 pn;
	int r;
	__u8 b, uni_bits;

	/* a GRO super-packet holds several datagrams behind one UDP header
	 * (and one tag check would see only the last): userspace */
	if (skb->gso_size)
		return MOQ_R_GSO;
	r = moq_parse_flow_ports(skb, &c, cfg->relay_port_be, cfg->up_port_be, &p->flow);
	if (r)
		return r;
	r = moq_parse_quic_short(skb, &c, &dcid, &pn);
	if (r)
		return r;
	up = bpf_map_lookup_elem(&moq_upstreams, &dcid);
	if (!up || up->generation != cfg->generation)
		return MOQ_R_UNKNOWN_DCID;
	if (validate) {
		r = moq_up_source_check(skb, up, &p->flow);
		if (r)
			return r;
	}
	p->conn_id = up->conn_id;
	uni_bits = up->flags & MOQ_UP_F_PEER_SERVER ? 3 : 2;
	if (!moq_quic_tag_ok(skb, &c))
		return MOQ_R_NOT_PLAINTEXT;
	p->pay_off = c.off;
	p->tag_off = c.end;
	/* every 1-RTT packet the relay's stack would accept marks its number
	 * seen, media or not: a captured control packet replayed with media
	 * in it is a duplicate too */
	if (validate && !(validate & MOQ_PARSE_PN_DONE)) {
		struct moq_pn_window *w = bpf_map_lookup_elem(&moq_pn_windows, &p->conn_id);

		if (!w || w->generation != cfg->generation)
			return MOQ_R_UNKNOWN_DCID; /* registration not complete */
		if (!moq_pn_new(w, pn))
			return MOQ_R_PN_DUPLICATE;
	}

	/* [PADDING | ACK]* then the media frame */
	r = moq_quic_frame_walk(skb, &c, &b);
	if (r)
		return r;
	r = moq_parse_media_frame(skb, &c, p, b, validate, uni_bits);
	if (r)
		return r;
	if (p->is_datagram || p->offset == 0) {
		struct moq_cursor m = {.off = p->data_off, .end = p->data_off + p->data_len};

		if (p->is_datagram)
			return moq_parse_object_datagram(skb, &m, p);
		return moq_parse_subgroup_header(skb, &m, p);
	}
	return 0;
}

#endif
