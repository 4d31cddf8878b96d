/* find_udp: where the stamp programs (tstamp.bpf.c, tstamp_rec.bpf.c) find
 * a packet's UDP header and destination address. */
#ifndef TSTAMP_UDP_H
#define TSTAMP_UDP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IPPROTO_UDP_ 17

/* Offset of the UDP header and the destination address (IPv4, or the last
 * 4 bytes of IPv6), or -1 for anything that is not unfragmented UDP. */
static __always_inline int find_udp(struct __sk_buff *skb, __u32 *daddr)
{
	__u8 b[2];

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u8 vihl, proto;
		__u16 frag;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) < 0 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1) < 0 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 6, b, 2) < 0 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 16, daddr, 4) < 0)
			return -1;
		frag = ((__u16)b[0] << 8 | b[1]) & 0x3fff; /* MF + offset */
		if (proto != IPPROTO_UDP_ || frag)
			return -1;
		return ETH_HLEN + (vihl & 0x0f) * 4;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u8 nh;

		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &nh, 1) < 0 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 36, daddr, 4) < 0)
			return -1;
		if (nh != IPPROTO_UDP_)
			return -1;
		return ETH_HLEN + 40;
	}
	return -1;
}

#endif
