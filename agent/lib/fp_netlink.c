/* fp_netlink: one rtnetlink request/answer exchange (fp_netlink.h). */
#include "fp_netlink.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

/* The caller's own namespace's socket, kept between exchanges: a
 * subscriber's set-up asks three questions (route, neighbour, MAC), and
 * a fresh socket costs four system calls each (socket, bind, getsockname,
 * close). Sockets of other namespaces (tests) are opened per exchange: the
 * path may name a different namespace next time. */
static struct mnl_socket *own;
static unsigned int own_portid, next_seq;
static unsigned long opens;

unsigned long fp_netlink_opens(void)
{
	return opens;
}

void fp_netlink_close(void)
{
	if (own)
		mnl_socket_close(own);
	own = NULL;
}

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
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl)
		opens++;
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
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP, keep = !netns_path;
	unsigned int seq, portid;
	struct mnl_socket *nl = keep ? own : NULL;
	int rv, err;

	if (!next_seq)
		next_seq = (unsigned int)time(NULL) | 1u;
	seq = next_seq++;
	if (!nl) {
		nl = open_in(netns_path, &err);
		if (!nl)
			return err ? err : -EIO;
		if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
			rv = -errno;
			keep = false;
			goto out;
		}
		if (keep) {
			own = nl;
			own_portid = mnl_socket_get_portid(nl);
		}
	}
	portid = keep ? own_portid : mnl_socket_get_portid(nl);
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rv = -errno;
		keep = false;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, buflen);

		if (n < 0) {
			rv = -errno;
			keep = false;
			goto out;
		}
		rv = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rv < 0) {
			rv = errno ? -errno : -EIO;
			/* the kernel's answer (NLMSG_ERROR) ends the exchange;
			 * anything else may leave messages behind */
			if (rv != -ENOENT && rv != -ENODEV && rv != -ENETUNREACH &&
			    rv != -EHOSTUNREACH)
				keep = false;
			goto out;
		}
		if (rv == MNL_CB_STOP)
			break;
		if (done && *done) {
			/* a dump's rest would answer the next question */
			if (dump)
				keep = false;
			break;
		}
	}
	rv = 0;
out:
	if (nl == own && !keep)
		own = NULL;
	if (!keep)
		mnl_socket_close(nl);
	return rv;
}
