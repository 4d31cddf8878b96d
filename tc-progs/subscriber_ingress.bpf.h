/* Subscriber ingress (subscriber-facing, tc ingress): count a registered
 * subscriber's packets, learn its MAC and the relay's for the clones, and
 * take pure media ACKs from the agent (ack_consume.h: recorded in
 * moq_acks, then dropped; a TLS slot's are opened first, by the tail-called
 * moq_subscriber_open, lib/sub_open.h).
 * Never creates a subscriber. */
#ifndef MOQ_SUBSCRIBER_INGRESS_BPF_H
#define MOQ_SUBSCRIBER_INGRESS_BPF_H

#include "bpf_common.h"
#include "maps.bpf.h"
#include "failsafe.h"
#include "parse_flow.h"
#include "subscriber.h"
#include "ack_consume.h"

/* Returns the moq_reason: MOQ_R_SUB_RX when counted and passed,
 * MOQ_R_ACK_CONSUMED when counted and to be dropped (only with consume:
 * relay_ingress, which inlines the upstream role too, has no stack left
 * for the ACK parse within the verifier's 512 bytes per call chain). */
static __always_inline int moq_subscriber_rx(struct __sk_buff *skb, int consume)
{
	struct moq_cursor c = {.off = 0, .end = skb->len};
	struct moq_subscriber *sub;
	struct moq_sub_stats *ss;
	struct moq_config *cfg;
	struct moq_flow f = {};
	struct ethhdr eth;
	struct moq_cid dcid;
	__u32 *slotp, slot;
	__u8 first;
	int r;

	cfg = moq_config_live();
	if (!cfg)
		return MOQ_R_STALE_AGENT;
	r = moq_parse_flow(skb, &c, cfg->relay_port_be, &f);
	if (r)
		return r;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return MOQ_R_TRUNCATED;
	/* any short-header packet with a known relay CID; the profile checks
	 * (PN length, tag) do not matter for counting */
	if (c.end - c.off < 1 + MOQ_CID_LEN || bpf_skb_load_bytes(skb, c.off, &first, 1))
		return MOQ_R_TRUNCATED;
	if (first & 0x80)
		return MOQ_R_LONG_HEADER;
	if (bpf_skb_load_bytes(skb, c.off + 1, &dcid, sizeof(dcid)))
		return MOQ_R_TRUNCATED;
	slotp = bpf_map_lookup_elem(&moq_sub_by_cid, &dcid);
	if (!slotp)
		return MOQ_R_SUB_UNKNOWN;
	slot = *slotp;
	sub = bpf_map_lookup_elem(&moq_subscribers, &slot);
	/* only an active, current-generation entry the agent registered is
	 * updated */
	if (!moq_sub_live(sub, cfg->generation))
		return MOQ_R_SUB_UNKNOWN;
	if (f.sport_be != sub->dport_be)
		return MOQ_R_WRONG_SOURCE;
	if (sub->family == MOQ_AF_INET ? !moq_bytes_eq(f.saddr, sub->daddr, 4)
				       : !moq_bytes_eq(f.saddr, sub->daddr, 16))
		return MOQ_R_WRONG_SOURCE;
	/* learn: the subscriber's MAC is the source, the relay's the dest;
	 * only from a unicast frame addressed to the relay (the MAC the agent
	 * set, when it could read one): a broadcast or a frame for another
	 * host with the subscriber's addresses must not redirect the clones */
	if (moq_l2_learnable(sub, eth.h_dest) &&
	    (!moq_bytes_eq(sub->eth_dst, eth.h_source, ETH_ALEN) ||
	     !moq_bytes_eq(sub->eth_src, eth.h_dest, ETH_ALEN) ||
	     !(sub->flags & MOQ_SUB_F_L2_LEARNED))) {
		__builtin_memcpy(sub->eth_dst, eth.h_source, ETH_ALEN);
		__builtin_memcpy(sub->eth_src, eth.h_dest, ETH_ALEN);
		__sync_fetch_and_or(&sub->flags, MOQ_SUB_F_L2_LEARNED);
	}
	ss = bpf_map_lookup_elem(&moq_sub_stats, &slot);
	if (ss) {
		ss->rx_packets += 1;
		ss->rx_bytes += skb->len;
	}
	if (!consume)
		return MOQ_R_SUB_RX;
	/* a TLS slot's small packets (ACKs) go to the opener, which consumes
	 * what qualifies and passes the rest byte-identical
	 * (tls_keys.bpf.c, moq_subscriber_open; it counts the packet);
	 * without it (no agent since the attach) they pass */
	if (sub->flags & MOQ_SUB_F_TLS) {
		if (c.end - c.off <= MOQ_SUB_OPEN_MAX) {
			skb->cb[0] = slot;
			skb->cb[1] = c.off;
			skb->cb[2] = c.end;
			bpf_tail_call(skb, &moq_open_prog, 0);
		}
		return MOQ_R_SUB_RX;
	}
	if (moq_ack_consume(skb, c.off, c.end, slot, 0))
		return MOQ_R_ACK_CONSUMED;
	return MOQ_R_SUB_RX;
}

#endif
