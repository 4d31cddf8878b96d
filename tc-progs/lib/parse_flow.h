/* moq_parse_flow: Ethernet (at most one 802.1Q tag), IPv4 or IPv6, UDP to
 * the relay port. The one L2-L4 parse of every hook, so the upstream and
 * subscriber paths refuse the same packets for the same reasons. */
#ifndef MOQ_PARSE_FLOW_H
#define MOQ_PARSE_FLOW_H

#include "parse_eth.h"
#include "parse_ipv4.h"
#include "parse_ipv6.h"
#include "parse_udp.h"

/* Returns 0 with the cursor on the UDP payload (narrowed to the UDP
 * length), or a moq_reason. UDP to port_be, or to port2_be unless 0 (the
 * upstream programs: the relay's own client port towards its upstream). */
static __always_inline int moq_parse_flow_ports(struct __sk_buff *skb, struct moq_cursor *c,
						__u16 port_be, __u16 port2_be, struct moq_flow *f)
{
	__u32 ip_pay = 0;
	int proto, r;

	proto = moq_parse_eth(skb, c, &f->vlan);
	if (proto < 0)
		return MOQ_R_TRUNCATED;
	f->l3_off = c->off;
	if (proto == bpf_htons(ETH_P_IP)) {
		f->family = MOQ_AF_INET;
		r = moq_parse_ipv4(skb, c, f->saddr, &ip_pay);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		f->family = MOQ_AF_INET6;
		r = moq_parse_ipv6(skb, c, f->saddr, &ip_pay);
	} else {
		return MOQ_R_NOT_IP;
	}
	if (r)
		return r;
	f->l4_off = c->off;
	return moq_parse_udp(skb, c, port_be, port2_be, ip_pay, &f->sport_be);
}

static __always_inline int moq_parse_flow(struct __sk_buff *skb, struct moq_cursor *c,
					  __u16 port_be, struct moq_flow *f)
{
	return moq_parse_flow_ports(skb, c, port_be, 0, f);
}

#endif
