/* Checks on a subscriber slot (struct moq_subscriber) shared by the hooks. */
#ifndef MOQ_SUBSCRIBER_H
#define MOQ_SUBSCRIBER_H

#include "bpf_common.h"

/* The slot is registered by this agent run. */
static __always_inline int moq_sub_live(const struct moq_subscriber *sub, __u32 generation)
{
	return sub && (sub->flags & MOQ_SUB_F_ACTIVE) && sub->generation == generation;
}

/* A next-hop MAC is known (set by the agent or learned): a clone can be
 * addressed. */
static __always_inline int moq_sub_has_l2(const struct moq_subscriber *sub)
{
	return !!(sub->eth_dst[0] | sub->eth_dst[1] | sub->eth_dst[2] | sub->eth_dst[3] |
		  sub->eth_dst[4] | sub->eth_dst[5]);
}

/* A frame from the subscriber may teach its MAC: unicast (group bit of
 * the destination clear) and addressed to the relay's MAC when the agent
 * set one (eth_src non-zero; otherwise the destination is learned too). */
static __always_inline int moq_l2_learnable(const struct moq_subscriber *sub, const __u8 *dest)
{
	int relay_known = !!(sub->eth_src[0] | sub->eth_src[1] | sub->eth_src[2] | sub->eth_src[3] |
			     sub->eth_src[4] | sub->eth_src[5]);

	if (dest[0] & 1)
		return 0;
	return !relay_known || moq_bytes_eq(sub->eth_src, dest, ETH_ALEN);
}

#endif
