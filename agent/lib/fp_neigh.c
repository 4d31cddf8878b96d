/* fp_neigh: neighbour (ARP / NDP) table lookup over rtnetlink (fp_neigh.h). */
#include "fp_neigh.h"

#include "fp_netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

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

int fp_neigh_lookup(const char *netns_path, int family, const void *addr, int ifindex,
		    uint8_t mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *nd;
	struct want w = {.family = family, .ifindex = ifindex, .addr = addr};
	int rv;

	if (family == AF_INET)
		w.alen = 4;
	else if (family == AF_INET6)
		w.alen = 16;
	else
		return -EAFNOSUPPORT;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = (uint8_t)family;
	nd->ndm_ifindex = ifindex;
	rv = fp_netlink_talk(netns_path, buf, sizeof(buf), neigh_cb, &w, NULL);
	if (rv)
		return rv;
	if (!w.found)
		return -ENOENT;
	memcpy(mac, w.mac, 6);
	return 0;
}
