/* fp_neigh: neighbour (ARP / NDP) table lookup over rtnetlink (fp_neigh.h). */
#include "fp_neigh.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct want {
	int family, ifindex;
	const void *addr;
	size_t alen;
	uint8_t mac[6];
	int found;
};

struct attrs {
	const struct nlattr *dst, *lladdr;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *t = data;

	if (mnl_attr_type_valid(a, NDA_MAX) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(a) == NDA_DST)
		t->dst = a;
	else if (mnl_attr_get_type(a) == NDA_LLADDR)
		t->lladdr = a;
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct want *w = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	struct attrs t = {0};
	const uint16_t ok =
	    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(*nd))
		return MNL_CB_OK;
	if (nd->ndm_family != w->family || (w->ifindex && nd->ndm_ifindex != w->ifindex) ||
	    !(nd->ndm_state & ok))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nd), attr_cb, &t);
	if (!t.dst || !t.lladdr || mnl_attr_get_payload_len(t.dst) != w->alen ||
	    mnl_attr_get_payload_len(t.lladdr) != 6)
		return MNL_CB_OK;
	if (memcmp(mnl_attr_get_payload(t.dst), w->addr, w->alen))
		return MNL_CB_OK;
	memcpy(w->mac, mnl_attr_get_payload(t.lladdr), 6);
	w->found = 1;
	return MNL_CB_OK;
}

static struct mnl_socket *open_in(const char *netns_path, int *err)
{
	struct mnl_socket *nl;
	int self = -1, target = -1;

	*err = 0;
	if (netns_path) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (self < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
			*err = -errno;
			if (self >= 0)
				close(self);
			if (target >= 0)
				close(target);
			return NULL;
		}
	}
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		*err = -errno;
	if (netns_path) {
		if (setns(self, CLONE_NEWNET) && !*err) /* must not stay in the target */
			*err = -errno;
		close(self);
		close(target);
	}
	if (*err && nl) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	return nl;
}

int fp_neigh_lookup(const char *netns_path, int family, const void *addr, int ifindex,
		    uint8_t mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ndmsg *nd;
	struct want w = {.family = family, .ifindex = ifindex, .addr = addr};
	unsigned int seq = (unsigned int)time(NULL), portid;
	int rv, err;

	if (family == AF_INET)
		w.alen = 4;
	else if (family == AF_INET6)
		w.alen = 16;
	else
		return -EAFNOSUPPORT;
	nl = open_in(netns_path, &err);
	if (!nl)
		return err ? err : -EIO;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rv = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = (uint8_t)family;
	nd->ndm_ifindex = ifindex;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rv = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			rv = -errno;
			goto out;
		}
		rv = mnl_cb_run(buf, (size_t)n, seq, portid, neigh_cb, &w);
		if (rv == MNL_CB_STOP)
			break;
		if (rv < 0) {
			rv = -errno;
			goto out;
		}
	}
	rv = w.found ? 0 : -ENOENT;
	if (w.found)
		memcpy(mac, w.mac, 6);
out:
	mnl_socket_close(nl);
	return rv;
}
