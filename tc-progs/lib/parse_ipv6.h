/* moq_parse_ipv6: IPv6 header whose next header is UDP (no extensions). */
#ifndef MOQ_PARSE_IPV6_H
#define MOQ_PARSE_IPV6_H

#include <linux/ipv6.h>
#include <linux/in.h>

#include "cursor_load.h"

/* saddr gets the source address, ip_pay the Payload Length (moq_parse_udp
 * holds the UDP datagram to it). */
static __always_inline int moq_parse_ipv6(struct __sk_buff *skb, struct moq_cursor *c, __u8 *saddr,
					  __u32 *ip_pay)
{
	struct ipv6hdr ip6;

	if (moq_cursor_load(skb, c, &ip6, sizeof(ip6)))
		return MOQ_R_TRUNCATED;
	if (ip6.version != 6)
		return MOQ_R_NOT_IP;
	if (ip6.nexthdr != IPPROTO_UDP)
		return ip6.nexthdr == IPPROTO_TCP ? MOQ_R_NOT_UDP : MOQ_R_IP_OPTIONS;
	__builtin_memcpy(saddr, &ip6.saddr, 16);
	*ip_pay = bpf_ntohs(ip6.payload_len);
	c->off += sizeof(ip6);
	return 0;
}

#endif
