/* moq_parse_eth: Ethernet with at most one in-packet 802.1Q tag. */
#ifndef MOQ_PARSE_ETH_H
#define MOQ_PARSE_ETH_H

#include "cursor_load.h"

/* Returns the inner EtherType (network order) and advances past the L2
 * header, or -1 if truncated. *vlan = 1 when an in-packet tag was skipped.
 * (On a live ingress path the kernel has usually moved the tag into
 * skb->vlan_tci already; bpf_prog_test_run keeps it in the data.) */
static __always_inline int moq_parse_eth(struct __sk_buff *skb, struct moq_cursor *c, __u8 *vlan)
{
	struct ethhdr eth;
	__be16 proto;

	if (moq_cursor_load(skb, c, &eth, sizeof(eth)))
		return -1;
	c->off += sizeof(eth);
	proto = eth.h_proto;
	*vlan = 0;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		__be16 tag[2]; /* TCI, inner EtherType */

		if (moq_cursor_load(skb, c, tag, sizeof(tag)))
			return -1;
		c->off += sizeof(tag);
		proto = tag[1];
		*vlan = 1;
	}
	return proto;
}

#endif
