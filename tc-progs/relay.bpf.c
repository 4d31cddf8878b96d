/* moq-relay fast path: tc BPF programs (docs/fast-path.md).
 *
 * One object, several sections, all maps pinned by name so every
 * `tc filter add ... obj relay.bpf.o sec S` shares them:
 *   tc/upstream_ingress    publisher-facing ingress: classify, fan out clones
 *                          (upstream_ingress.bpf.h)
 *   tc/subscriber_egress   subscriber-facing egress: gate + rewrite clones
 *                          (subscriber_egress.bpf.h)
 *   tc/subscriber_ingress  subscriber-facing ingress: counters, L2 learning
 *                          (subscriber_ingress.bpf.h)
 *   tc/relay_ingress       one interface for both roles: upstream_ingress,
 *                          then subscriber_ingress for non-upstream packets
 * Every entry point returns TC_ACT_OK for everything that is not a
 * fast-path clone, except the upstream programs for a TLS publisher's
 * packet, which after a fan-out is restored and redirected to the agent
 * behind the clones (lib/upstream_open.h);
 * the egress program drops clones it must not send,
 * tc/subscriber_ingress a pure media ACK it recorded for the agent
 * (tc/relay_ingress does not: its stack is full, docs/fast-path.md).
 */
#include "bpf_common.h"
#include "stats.h"
#include "upstream_ingress.bpf.h"
#include "subscriber_ingress.bpf.h"
#include "quic_aead.h"
#include "subscriber_egress.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc/upstream_ingress")
int moq_upstream_ingress(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	int act;

	moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, moq_upstream(skb, &act), len);
	return act == TC_ACT_UNSPEC ? TC_ACT_OK : act;
}

SEC("tc/subscriber_ingress")
int moq_subscriber_ingress(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	int reason = moq_subscriber_rx(skb, 1);

	moq_stat_count(MOQ_PROG_SUBSCRIBER_INGRESS, reason, len);
	return reason == MOQ_R_ACK_CONSUMED ? TC_ACT_SHOT : TC_ACT_OK;
}

/* Not inlined into tc/relay_ingress: its stack and the upstream program's
 * subprograms' are never live together (combined, they pass 512 bytes). */
static __noinline int moq_relay_sub_rx(struct __sk_buff *skb)
{
	return moq_subscriber_rx(skb, 0);
}

SEC("tc/relay_ingress")
int moq_relay_ingress(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	int reason, act;

	reason = moq_upstream(skb, &act);
	moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, reason, len);
	if (act != TC_ACT_UNSPEC)
		return act; /* a TLS upstream's packet */
	/* not an upstream's DCID, or failed a profile check before the DCID
	 * lookup: it may be a subscriber's packet */
	if (reason == MOQ_R_UNKNOWN_DCID || reason == MOQ_R_PN_LEN || reason == MOQ_R_HEADER_BITS ||
	    reason == MOQ_R_NOT_PLAINTEXT)
		moq_stat_count(MOQ_PROG_SUBSCRIBER_INGRESS, moq_relay_sub_rx(skb), len);
	return TC_ACT_OK;
}

SEC("tc/subscriber_egress")
int moq_subscriber_egress(struct __sk_buff *skb)
{
	int reason, ret;

	ret = moq_subscriber_tx(skb, &reason);
	moq_stat_count(MOQ_PROG_SUBSCRIBER_EGRESS, reason, skb->len);
	return ret;
}
