/* moq_parse_quic_short: QUIC 1-RTT short header of the plaintext profile:
 * fixed bit set, 8-byte DCID, 4-byte packet number: first byte 0x43. */
#ifndef MOQ_PARSE_QUIC_SHORT_H
#define MOQ_PARSE_QUIC_SHORT_H

#include "cursor_load.h"

/* Returns 0 and advances past the 13-byte header, or a moq_reason. The
 * cursor must end at the end of the UDP payload. *pn: the 32-bit wire
 * packet number. */
static __always_inline int moq_parse_quic_short(struct __sk_buff *skb, struct moq_cursor *c,
						struct moq_cid *dcid, __u32 *pn)
{
	__u8 hdr[MOQ_SHORT_HDR_LEN];

	/* header + at least one frame byte + tag */
	if (c->off > c->end || c->end - c->off < MOQ_SHORT_HDR_LEN + 1 + MOQ_TAG_LEN) {
		__u8 first;

		/* still classify a short long-header packet as such */
		if (c->off < c->end && !bpf_skb_load_bytes(skb, c->off, &first, 1) &&
		    (first & 0x80))
			return MOQ_R_LONG_HEADER;
		return MOQ_R_TRUNCATED;
	}
	if (moq_cursor_load(skb, c, hdr, sizeof(hdr)))
		return MOQ_R_TRUNCATED;
	if (hdr[0] & 0x80)
		return MOQ_R_LONG_HEADER;
	if (!(hdr[0] & 0x40))
		return MOQ_R_NOT_PLAINTEXT;
	if ((hdr[0] & 0x03) != 0x03)
		return MOQ_R_PN_LEN;
	/* profile: spin 0, reserved 0, key phase 0. A clone keeps this byte,
	 * so a key-phase or spin bit of the publisher's connection must not
	 * reach a subscriber's. */
	if (hdr[0] != 0x43)
		return MOQ_R_HEADER_BITS;
	__builtin_memcpy(dcid->cid, &hdr[1], MOQ_CID_LEN);
	*pn = (__u32)hdr[9] << 24 | (__u32)hdr[10] << 16 | (__u32)hdr[11] << 8 | hdr[12];
	c->off += sizeof(hdr);
	return 0;
}

#endif
