/* fp_route: which interface and source address the kernel uses to reach a
 * peer (RTM_GETROUTE over rtnetlink, libmnl), and that interface's MAC.
 * The fast path needs them for moq_subscribers (ifindex to clone to,
 * relay address, eth_src): the relay's socket is bound to a wildcard
 * address, so the connection itself does not say. Runs in the calling
 * thread's network namespace. */
#ifndef FP_ROUTE_H
#define FP_ROUTE_H

#include <stdint.h>

/* family AF_INET (dst 4 bytes, src 4) or AF_INET6 (16). Returns 0 with
 * *ifindex and src filled (the preferred source; zero if the route has
 * none), or -errno (-ENETUNREACH: no route). */
int fp_route_lookup(int family, const void *dst, int *ifindex, uint8_t src[16]);

/* MAC of interface ifindex (RTM_GETLINK's IFLA_ADDRESS). 0, or -errno
 * (-ENODEV: no such interface, -EADDRNOTAVAIL: no 6-byte address). */
int fp_if_mac(int ifindex, uint8_t mac[6]);

#endif
