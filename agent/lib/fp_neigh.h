/* fp_neigh: link-layer address of a neighbour (subscriber or next hop) from
 * the kernel's neighbour table, over rtnetlink (libmnl, RTM_GETNEIGH dump),
 * for moq_subscriber.eth_dst when the subscriber ingress program has not
 * learned it yet.
 *
 * The lookup runs in the network namespace of the calling thread (the agent
 * runs inside the relay's netns), or in netns_path (e.g. /run/netns/relay):
 * the thread switches there only to open the netlink socket and switches
 * back (needs CAP_SYS_ADMIN; not safe while another thread of the process
 * depends on the calling thread's netns). */
#ifndef FP_NEIGH_H
#define FP_NEIGH_H

#include <stdint.h>

/* family AF_INET (addr 4 bytes) or AF_INET6 (16 bytes); ifindex 0 = any
 * interface. Returns 0 and mac[6] when an entry in a usable state
 * (REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP) exists, -ENOENT when
 * none (or only INCOMPLETE / FAILED), other -errno on failure. */
int fp_neigh_lookup(const char *netns_path, int family, const void *addr, int ifindex,
		    uint8_t mac[6]);

#endif
