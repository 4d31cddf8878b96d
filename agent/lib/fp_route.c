/* fp_route: route and interface lookups for the fast path (fp_route.h). */
#include "fp_route.h"

#include "fp_netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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

int fp_if_mac(int ifindex, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd, rv = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		rv = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return rv;
}
