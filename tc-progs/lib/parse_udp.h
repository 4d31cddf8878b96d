/* moq_parse_udp: UDP header to the relay port; narrows the cursor to the
 * UDP length (Ethernet padding after it is ignored). */
#ifndef MOQ_PARSE_UDP_H
#define MOQ_PARSE_UDP_H

#include <linux/udp.h>

#include "cursor_load.h"

static __always_inline int moq_parse_udp(struct __sk_buff *skb, struct moq_cursor *c, __u16 port_be,
					 __u16 *sport_be)
{
	struct udphdr udp;
	__u32 ulen;

	if (moq_cursor_load(skb, c, &udp, sizeof(udp)))
		return MOQ_R_TRUNCATED;
	if (udp.dest != port_be)
		return MOQ_R_WRONG_PORT;
	ulen = bpf_ntohs(udp.len);
	if (ulen < sizeof(udp) || ulen > c->end - c->off)
		return MOQ_R_TRUNCATED;
	*sport_be = udp.source;
	c->end = c->off + ulen;
	c->off += sizeof(udp);
	return 0;
}

#endif
