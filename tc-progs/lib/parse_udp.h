/* moq_parse_udp: UDP header to the relay port (port_be, or port2_be when
 * that is not 0); narrows the cursor to the
 * UDP length (Ethernet padding after it is ignored). ip_pay: the IP
 * payload length from the IP header. The relay's own stack drops a packet
 * whose IP header claims more than the frame holds or less than the UDP
 * datagram (ip_rcv trims to it, then udp_rcv finds the datagram short), so
 * such a packet is TRUNCATED here too: never cloned. */
#ifndef MOQ_PARSE_UDP_H
#define MOQ_PARSE_UDP_H

#include <linux/udp.h>

#include "cursor_load.h"

static __always_inline int moq_parse_udp(struct __sk_buff *skb, struct moq_cursor *c, __u16 port_be,
					 __u16 port2_be, __u32 ip_pay, __u16 *sport_be)
{
	struct udphdr udp;
	__u32 ulen;

	if (moq_cursor_load(skb, c, &udp, sizeof(udp)))
		return MOQ_R_TRUNCATED;
	if (udp.dest != port_be && (!port2_be || udp.dest != port2_be))
		return MOQ_R_WRONG_PORT;
	ulen = bpf_ntohs(udp.len);
	if (ulen < sizeof(udp) || ulen > c->end - c->off || ulen > ip_pay ||
	    ip_pay > c->end - c->off)
		return MOQ_R_TRUNCATED;
	*sport_be = udp.source;
	c->end = c->off + ulen;
	c->off += sizeof(udp);
	return 0;
}

#endif
