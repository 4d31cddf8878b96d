/* fp_netlink: one request and its answer on a fresh rtnetlink socket, the
 * exchange the neighbour (fp_neigh) and route (fp_route) lookups share. */
#ifndef FP_NETLINK_H
#define FP_NETLINK_H

#include <libmnl/libmnl.h>
#include <stddef.h>

/* buf holds the request (a struct nlmsghdr the caller built, its sequence
 * number is set here) and takes the answers, buflen bytes. Sends it on a
 * NETLINK_ROUTE socket opened in the network namespace netns_path (NULL:
 * the caller's own), then runs cb(data) over every answer message until the
 * answer ends (NLMSG_DONE or an ACK) or *done (when given) is set.
 * 0, or -errno (the socket, or the error the kernel answered). */
int fp_netlink_talk(const char *netns_path, void *buf, size_t buflen, mnl_cb_t cb, void *data,
		    const int *done);

#endif
