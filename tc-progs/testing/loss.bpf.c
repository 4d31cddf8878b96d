// SPDX-License-Identifier: GPL-2.0
/*
 * loss.bpf.c - random packet loss for the netns testbed (netem is not built
 * on our kernels, see shared NOTES.md).
 *
 * Attached by netns/testbed.sh (`testbed.sh loss HOST PERCENT`) on the
 * clsact ingress (packets toward HOST) or egress (packets from HOST, with
 * --from) of the host's own interface, inside the host's namespace. It is
 * never attached to a relay interface, so it cannot disturb the relay's tc
 * programs: a dropped packet was really sent by the relay and lost "on the
 * wire".
 *
 *   tc qdisc add dev eth0 clsact
 *   tc filter add dev eth0 ingress pref 1 handle 1 bpf da obj loss.bpf.o sec tc
 *
 * Configuration is per attachment: moq_loss_cfg is NOT pinned, so every
 * `tc filter add` gets its own map and two links can have different rates
 * without colliding with each other or with the relay's pinned moq_* maps.
 * testbed.sh finds the map through the filter's program id (bpftool) and
 * pins it at /sys/fs/bpf/moq-testbed/PREFIX/loss-HOST-{in,out}.
 *
 * What is dropped: IPv4 and IPv6 packets, each with probability
 * drop_ppm / 1e6 (bpf_get_prandom_u32). Never dropped: ARP, and ICMPv6
 * neighbour/router discovery (types 133..137), so address resolution stays
 * reliable and the loss rate applies to traffic only. With
 * LOSS_F_UDP_ONLY only UDP (IPv4 protocol 17, IPv6 next header 17 directly
 * after the fixed header) is subject to loss. A zeroed config drops nothing.
 *
 * Returns TC_ACT_UNSPEC for packets it keeps (the next filter on the hook,
 * if any, still runs) and TC_ACT_SHOT for packets it drops.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define LOSS_F_UDP_ONLY 1u

/* Layout used by testbed.sh (bpftool map update ... value hex ...). */
struct moq_loss_cfg {
	__u32 drop_ppm; /* drop probability in parts per million, >= 1e6 = all */
	__u32 flags;	/* LOSS_F_* */
	__u64 seen;	/* packets subject to loss */
	__u64 dropped;	/* of those, dropped */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_loss_cfg);
} moq_loss_cfg SEC(".maps");

#define IPPROTO_UDP_ 17
#define IPPROTO_ICMPV6_ 58

SEC("tc")
int moq_loss(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct moq_loss_cfg *cfg = bpf_map_lookup_elem(&moq_loss_cfg, &key);
	__u8 proto = 0, icmp_type = 0;

	if (!cfg || cfg->drop_ppm == 0)
		return TC_ACT_UNSPEC;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		/* protocol byte of the IPv4 header */
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1) < 0)
			return TC_ACT_UNSPEC;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		/* next header of the IPv6 fixed header */
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &proto, 1) < 0)
			return TC_ACT_UNSPEC;
		if (proto == IPPROTO_ICMPV6_) {
			if (bpf_skb_load_bytes(skb, ETH_HLEN + 40, &icmp_type, 1) < 0)
				return TC_ACT_UNSPEC;
			if (icmp_type >= 133 && icmp_type <= 137)
				return TC_ACT_UNSPEC; /* RS, RA, NS, NA, redirect */
		}
	} else {
		return TC_ACT_UNSPEC; /* ARP and anything that is not IP */
	}

	if ((cfg->flags & LOSS_F_UDP_ONLY) && proto != IPPROTO_UDP_)
		return TC_ACT_UNSPEC;

	__sync_fetch_and_add(&cfg->seen, 1);
	if (cfg->drop_ppm >= 1000000 || bpf_get_prandom_u32() % 1000000 < cfg->drop_ppm) {
		__sync_fetch_and_add(&cfg->dropped, 1);
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
