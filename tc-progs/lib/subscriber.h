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

#endif
