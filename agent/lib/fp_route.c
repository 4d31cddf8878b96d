/* fp_route: route and interface lookups for the fast path (fp_route.h). */
#include "fp_route.h"

#include "fp_netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

struct route_ans {
	int ifindex;
	uint8_t src[16];
	size_t alen;
	int found;
};

static int route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_ans *r = data;

	if (mnl_attr_type_valid(a, RTA_MAX) < 0)
		return MNL_CB_OK;
	switch (mnl_attr_get_type(a)) {
	case RTA_OIF:
		if (mnl_attr_get_payload_len(a) == 4)
			r->ifindex = (int)mnl_attr_get_u32(a);
		break;
	case RTA_PREFSRC:
		if (mnl_attr_get_payload_len(a) == r->alen)
			memcpy(r->src, mnl_attr_get_payload(a), r->alen);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_ans *r = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtmsg))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, r);
	r->found = r->ifindex > 0;
	return MNL_CB_OK;
}

int fp_route_lookup(int family, const void *dst, int *ifindex, uint8_t src[16])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct route_ans r = {0};
	struct nlmsghdr *nlh;
	struct rtmsg *rt;
	int rv;

	if (family == AF_INET)
		r.alen = 4;
	else if (family == AF_INET6)
		r.alen = 16;
	else
		return -EAFNOSUPPORT;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (uint8_t)family;
	rt->rtm_dst_len = (uint8_t)(r.alen * 8);
	mnl_attr_put(nlh, RTA_DST, r.alen, dst);
	/* one RTM_NEWROUTE answers (no NLMSG_DONE): stop at the route */
	rv = fp_netlink_talk(NULL, buf, sizeof(buf), route_cb, &r, &r.found);
	if (rv)
		return rv;
	if (!r.found)
		return -ENETUNREACH;
	*ifindex = r.ifindex;
	memset(src, 0, 16);
	memcpy(src, r.src, r.alen);
	return 0;
}

struct link_ans {
	uint8_t mac[6];
	int found;
};

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct link_ans *l = data;

	if (mnl_attr_type_valid(a, IFLA_MAX) >= 0 && mnl_attr_get_type(a) == IFLA_ADDRESS &&
	    mnl_attr_get_payload_len(a) == 6) {
		memcpy(l->mac, mnl_attr_get_payload(a), 6);
		l->found = 1;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_ans *l = data;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, l);
	l->found |= 2; /* answered, with or without an address */
	return MNL_CB_OK;
}

int fp_if_mac(int ifindex, uint8_t mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct link_ans l = {0};
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int rv;

	/* RTM_GETLINK on the kept rtnetlink socket: two system calls, where
	 * if_indextoname + SIOCGIFHWADDR opened two sockets (six) */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	rv = fp_netlink_talk(NULL, buf, sizeof(buf), link_cb, &l, &l.found);
	if (rv)
		return rv;
	if (!(l.found & 1))
		return -EADDRNOTAVAIL; /* no 6-byte link address (e.g. a tunnel) */
	memcpy(mac, l.mac, 6);
	return 0;
}
