/* relay_ctl: the daemon's control socket (relay_ctl.h). */
#include "relay_ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "quic/loop.h"
#include "relay_err.h"
#include "relay_listener.h"

/* After the answer: how long and how much we keep reading (and discarding)
 * so that closing with unread input does not turn into a reset. */
#define LINGER_MS 1000
#define LINGER_BYTES 65536
/* Connections accepted per wakeup of the listening socket. */
#define ACCEPT_BATCH 32

struct relay_ctl {
	struct moq_loop *loop;
	int fd;
	struct relay_listener *listener;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	relay_ctl_handler handler;
	void *arg;
	unsigned max_clients;
	uint64_t timeout_ms;
	uint64_t started_ns, answered, refused;
};

/* ---- the protocol: one command line, one JSON answer -------------------- */

/* An error answer of ours: msg is ASCII without quotes or backslashes. */
static int answer_error(struct relay_ctl *c, const char *msg, char **out, size_t *outlen)
{
	FILE *f = open_memstream(out, outlen);

	c->refused++;
	if (!f)
		return -1;
	fprintf(f, "{\"error\": \"%s\"}\n", msg);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* One complete request line s[0..n) (no line end). */
static int answer_request(struct relay_ctl *c, char *s, size_t n, char **out, size_t *outlen)
{
	FILE *f;

	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (!n)
		return answer_error(
		    c, "empty request: send one command line ('help' lists the commands)", out,
		    outlen);
	if (!printable(s, n))
		return answer_error(c,
				    "malformed request: expected one printable ASCII command line "
				    "('help' lists the commands)",
				    out, outlen);
	s[n] = 0;
	f = open_memstream(out, outlen);
	if (!f)
		return answer_error(c, "out of memory", out, outlen);
	c->handler(s, f, c->arg);
	if (fflush(f) == 0 && (*outlen == 0 || (*out)[*outlen - 1] != '\n'))
		fputc('\n', f);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return answer_error(c, "out of memory", out, outlen);
	}
	c->answered++;
	return 0;
}

/* The line ends at the first '\n' (looked for in the fresh bytes only). */
static long ctl_complete(const char *req, size_t len, size_t fresh, void *arg)
{
	const char *nl = memchr(req + fresh, '\n', len - fresh);

	(void)arg;
	return nl ? nl - req : -1;
}

static int ctl_answer(enum relay_listener_event ev, char *req, size_t len, char **out,
		      size_t *outlen, void *arg)
{
	struct relay_ctl *c = arg;

	switch (ev) {
	case RELAY_LISTENER_REQUEST:
	case RELAY_LISTENER_EOF: /* a client may end the line by shutting down */
		return answer_request(c, req, len, out, outlen);
	case RELAY_LISTENER_TOO_LONG:
		return answer_error(c,
				    "request longer than 256 bytes: send one short command "
				    "line ('help' lists the commands)",
				    out, outlen);
	case RELAY_LISTENER_TIMEOUT:
		return answer_error(c, "timeout: no complete command line received", out, outlen);
	}
	return -1;
}

static void ctl_busy(int fd, unsigned clients, void *arg)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg),
			 "{\"error\": \"busy: %u clients connected, try again\"}\n", clients);

	(void)arg;
	/* best effort: a fresh socket's buffer takes this at once */
	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing else to do for this client */
	}
	shutdown(fd, SHUT_WR);
}

static const struct relay_listener_ops ctl_ops = {
    .complete = ctl_complete,
    .answer = ctl_answer,
    .busy = ctl_busy,
};

/* ---- the socket file --------------------------------------------------- */

/* Does something accept connections on path? 1 yes, 0 no (stale or gone),
 * -errno if we cannot tell. Never blocks. */
static int probe_listener(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc == 0)
		rc = 1;
	else if (errno == EAGAIN || errno == EINPROGRESS)
		rc = 1; /* a listener with a full backlog */
	else if (errno == ECONNREFUSED || errno == ENOENT)
		rc = 0;
	else
		rc = -errno;
	close(fd);
	return rc;
}

static int bind_socket(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(0117); /* no window with a wider mode */
	int rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;

	umask(old);
	errno = e;
	return rc ? -errno : 0;
}

static int make_socket(struct relay_ctl *c, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = -errno;
		relay_errf(err, errlen, "control socket %s: socket(): %s", c->path, strerror(-rc));
		return rc;
	}
	rc = bind_socket(c->fd, &sa);
	if (rc == -EADDRINUSE) {
		if (lstat(c->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			relay_errf(
			    err, errlen,
			    "control socket %s: the path exists and is not a socket; remove it or "
			    "choose another path",
			    c->path);
			return -EEXIST;
		}
		rc = probe_listener(&sa);
		if (rc == 1) {
			relay_errf(err, errlen,
				   "control socket %s: another process (a running moq-relayd?) is "
				   "listening on it; stop that one or give this one another path",
				   c->path);
			return -EADDRINUSE;
		}
		if (rc < 0) {
			relay_errf(err, errlen,
				   "control socket %s exists and cannot be checked: %s", c->path,
				   strerror(-rc));
			return rc;
		}
		/* stale: left by a daemon that is gone */
		if (unlink(c->path) && errno != ENOENT) {
			rc = -errno;
			relay_errf(err, errlen,
				   "control socket %s is stale and cannot be removed: %s", c->path,
				   strerror(-rc));
			return rc;
		}
		rc = bind_socket(c->fd, &sa);
	}
	if (rc) {
		relay_errf(
		    err, errlen,
		    "cannot create control socket %s: %s (does the directory exist, and may this "
		    "user write to it?)",
		    c->path, strerror(-rc));
		return rc;
	}
	if (chmod(c->path, 0660) || stat(c->path, &st)) {
		rc = -errno;
		relay_errf(err, errlen, "control socket %s: chmod/stat: %s", c->path,
			   strerror(-rc));
		unlink(c->path);
		return rc;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (listen(c->fd, (int)c->max_clients)) {
		rc = -errno;
		relay_errf(err, errlen, "control socket %s: listen: %s", c->path, strerror(-rc));
		unlink(c->path);
		return rc;
	}
	return 0;
}

/* ---- public ------------------------------------------------------------ */

int relay_ctl_open(struct relay_ctl **out, struct moq_loop *loop,
		   const struct relay_ctl_config *cfg, char *err, size_t errlen)
{
	struct relay_listener_config cfgl = {
	    .ops = &ctl_ops,
	    .max_request = RELAY_CTL_MAX_REQUEST,
	    .accept_batch = ACCEPT_BATCH,
	    .linger_ms = LINGER_MS,
	    .linger_bytes = LINGER_BYTES,
	};
	struct relay_ctl *c;
	int rc;

	*out = NULL;
	if (!cfg->path || !cfg->handler) {
		relay_errf(err, errlen, "control socket: no path or handler");
		return -EINVAL;
	}
	if (!cfg->path[0] || strlen(cfg->path) >= sizeof(c->path)) {
		relay_errf(err, errlen,
			   "control socket path '%s' must be 1 to %zu bytes (a unix socket address "
			   "limit); choose a shorter path",
			   cfg->path, sizeof(c->path) - 1);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		relay_errf(err, errlen, "control socket: out of memory");
		return -ENOMEM;
	}
	strcpy(c->path, cfg->path);
	c->loop = loop;
	c->handler = cfg->handler;
	c->arg = cfg->arg;
	c->max_clients = cfg->max_clients ? cfg->max_clients : RELAY_CTL_MAX_CLIENTS;
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : RELAY_CTL_TIMEOUT_MS;
	c->started_ns = moq_loop_now();
	rc = make_socket(c, err, errlen);
	if (rc) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return rc;
	}
	cfgl.arg = c;
	cfgl.max_clients = c->max_clients;
	cfgl.timeout_ms = c->timeout_ms;
	c->listener = relay_listener_new(loop, c->fd, &cfgl, &rc);
	if (!c->listener) { /* it closed the socket */
		relay_errf(err, errlen, "control socket %s: cannot watch it: %s", c->path,
			   strerror(-rc));
		unlink(c->path);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void relay_ctl_close(struct relay_ctl *c)
{
	struct stat st;

	if (!c)
		return;
	relay_listener_free(c->listener); /* clients and the socket */
	/* remove the file only if nobody replaced it meanwhile */
	if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c);
}

uint64_t relay_ctl_started_ns(const struct relay_ctl *c)
{
	return c->started_ns;
}

unsigned relay_ctl_clients(const struct relay_ctl *c)
{
	return relay_listener_clients(c->listener);
}

uint64_t relay_ctl_answered(const struct relay_ctl *c)
{
	return c->answered;
}

uint64_t relay_ctl_refused(const struct relay_ctl *c)
{
	return c->refused + relay_listener_refused(c->listener);
}
