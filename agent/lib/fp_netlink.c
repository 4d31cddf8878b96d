/* fp_netlink: one rtnetlink request/answer exchange (fp_netlink.h). */
#include "fp_netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

/* A NETLINK_ROUTE socket of the namespace netns_path (NULL: ours); the
 * thread is back in its own namespace on return. NULL with *err. */
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

int fp_netlink_talk(const char *netns_path, void *buf, size_t buflen, mnl_cb_t cb, void *data,
		    const int *done)
{
	struct nlmsghdr *nlh = buf;
	unsigned int seq = (unsigned int)time(NULL), portid;
	struct mnl_socket *nl;
	int rv, err;

	nl = open_in(netns_path, &err);
	if (!nl)
		return err ? err : -EIO;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rv = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rv = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, buflen);

		if (n < 0) {
			rv = -errno;
			goto out;
		}
		rv = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rv < 0) {
			rv = errno ? -errno : -EIO;
			goto out;
		}
		if (rv == MNL_CB_STOP || (done && *done))
			break;
	}
	rv = 0;
out:
	mnl_socket_close(nl);
	return rv;
}
