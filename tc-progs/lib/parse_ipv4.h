/* moq_parse_ipv4: IPv4 header without options, unfragmented, UDP. */
#ifndef MOQ_PARSE_IPV4_H
#define MOQ_PARSE_IPV4_H

#include <linux/ip.h>
#include <linux/in.h>

#include "cursor_load.h"

/* Returns 0 and advances, or a moq_reason. saddr gets the source address
 * (first 4 bytes), ip_pay the payload length the header claims (Total
 * Length - 20; moq_parse_udp holds the UDP datagram to it). */
static __always_inline int moq_parse_ipv4(struct __sk_buff *skb, struct moq_cursor *c, __u8 *saddr,
					  __u32 *ip_pay)
{
	__u32 tot;

	struct iphdr ip;

	if (moq_cursor_load(skb, c, &ip, sizeof(ip)))
		return MOQ_R_TRUNCATED;
	if (ip.version != 4)
		return MOQ_R_NOT_IP;
	if (ip.ihl != 5 || (ip.frag_off & bpf_htons(0x3fff)))
		return MOQ_R_IP_OPTIONS;
	if (ip.protocol != IPPROTO_UDP)
		return MOQ_R_NOT_UDP;
	__builtin_memcpy(saddr, &ip.saddr, 4);
	tot = bpf_ntohs(ip.tot_len);
	*ip_pay = tot > sizeof(ip) ? tot - sizeof(ip) : 0;
	c->off += sizeof(ip);
	return 0;
}

#endif
