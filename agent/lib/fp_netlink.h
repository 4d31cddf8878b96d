/* fp_netlink: one request and its answer on an rtnetlink socket, the
 * exchange the neighbour (fp_neigh) and route (fp_route) lookups share.
 * The caller's own namespace's socket is kept open between exchanges
 * (dropped after any failure); other namespaces' are opened per exchange.
 * Not thread-safe (the agent's loop thread asks). */
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
/* NETLINK_ROUTE sockets opened so far (tests count them) */
unsigned long fp_netlink_opens(void);
/* Close the kept socket (the next exchange opens one). */
void fp_netlink_close(void);

#endif
