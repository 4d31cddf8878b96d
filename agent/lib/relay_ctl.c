/* relay_ctl: the daemon's control socket (relay_ctl.h). */
#include "relay_ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "quic/loop.h"

/* After the answer: how long and how much we keep reading (and discarding)
 * so that closing with unread input does not turn into a reset. */
#define LINGER_MS 1000
#define LINGER_BYTES 65536
/* Connections accepted per wakeup of the listening socket. */
#define ACCEPT_BATCH 32
/* accept() out of fds or memory: stop watching the socket this long, so
 * the level-triggered loop does not spin on it. */
#define ACCEPT_BACKOFF_MS 100

enum client_state {
	C_READING,
	C_WRITING,
	C_LINGER,
};

struct client {
	struct client *next;
	struct relay_ctl *ctl;
	int fd;
	enum client_state state;
	char req[RELAY_CTL_MAX_REQUEST + 1];
	size_t len;
	char *out;
	size_t outlen, outoff;
	size_t discarded;
	struct moq_timer *timer;
};

struct relay_ctl {
	struct moq_loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	relay_ctl_handler handler;
	void *arg;
	unsigned max_clients;
	uint64_t timeout_ms;
	struct client *clients;
	unsigned nclients;
	struct moq_timer *backoff; /* re-arms the listener after EMFILE etc. */
	uint64_t started_ns, answered, refused;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- clients ----------------------------------------------------------- */

static void client_free(struct client *cl)
{
	struct relay_ctl *c = cl->ctl;

	for (struct client **pp = &c->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	c->nclients--;
	moq_loop_del_fd(c->loop, cl->fd);
	close(cl->fd);
	moq_timer_free(cl->timer);
	free(cl->out);
	free(cl);
}

/* Answer written: stop sending, read what the client still sends until it
 * closes (bounded), then close. */
static void client_linger(struct client *cl)
{
	cl->state = C_LINGER;
	shutdown(cl->fd, SHUT_WR);
	if (moq_loop_mod_fd(cl->ctl->loop, cl->fd, EPOLLIN)) {
		client_free(cl);
		return;
	}
	if (moq_timer_when(cl->timer) > moq_loop_now() + LINGER_MS * 1000000ull)
		moq_timer_set_in(cl->timer, LINGER_MS * 1000000ull);
}

static void client_flush(struct client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* EPOLLOUT brings us back */
			client_free(cl);
			return;
		}
		cl->outoff += (size_t)n;
	}
	client_linger(cl);
}

/* Take ownership of buf (len bytes) as the answer and start sending it. */
static void client_answer(struct client *cl, char *buf, size_t len)
{
	cl->out = buf;
	cl->outlen = len;
	cl->outoff = 0;
	cl->state = C_WRITING;
	if (moq_loop_mod_fd(cl->ctl->loop, cl->fd, EPOLLOUT)) {
		client_free(cl);
		return;
	}
	client_flush(cl);
}

static void client_error(struct client *cl, const char *msg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cl->ctl->refused++;
	if (!f) {
		client_free(cl);
		return;
	}
	/* msg is ours: ASCII without quotes or backslashes */
	fprintf(f, "{\"error\": \"%s\"}\n", msg);
	if (fclose(f)) {
		free(buf);
		client_free(cl);
		return;
	}
	client_answer(cl, buf, len);
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* One complete request line req[0..n) (no line end). */
static void client_request(struct client *cl, size_t n)
{
	char *s = cl->req, *buf = NULL;
	size_t len = 0;
	FILE *f;

	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (!n) {
		client_error(cl,
			     "empty request: send one command line ('help' lists the commands)");
		return;
	}
	if (!printable(s, n)) {
		client_error(cl, "malformed request: expected one printable ASCII command line "
				 "('help' lists the commands)");
		return;
	}
	s[n] = 0;
	f = open_memstream(&buf, &len);
	if (!f) {
		client_error(cl, "out of memory");
		return;
	}
	cl->ctl->handler(s, f, cl->ctl->arg);
	if (fflush(f) == 0 && (len == 0 || buf[len - 1] != '\n'))
		fputc('\n', f);
	if (fclose(f)) {
		free(buf);
		client_error(cl, "out of memory");
		return;
	}
	cl->ctl->answered++;
	client_answer(cl, buf, len);
}

static void client_read(struct client *cl)
{
	for (;;) {
		size_t room = RELAY_CTL_MAX_REQUEST - cl->len;
		ssize_t n;
		char *nl;

		if (!room) {
			client_error(cl, "request longer than 256 bytes: send one short command "
					 "line ('help' lists the commands)");
			return;
		}
		n = recv(cl->fd, cl->req + cl->len, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_free(cl);
			return;
		}
		if (n == 0) { /* client shut down its side: the line ends here */
			if (cl->len)
				client_request(cl, cl->len);
			else
				client_free(cl);
			return;
		}
		nl = memchr(cl->req + cl->len, '\n', (size_t)n);
		cl->len += (size_t)n;
		if (nl) {
			client_request(cl, (size_t)(nl - cl->req));
			return;
		}
	}
}

static void client_discard(struct client *cl)
{
	char junk[4096];

	for (;;) {
		ssize_t n = recv(cl->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_free(cl);
			return;
		}
		cl->discarded += (size_t)n;
		if (cl->discarded > LINGER_BYTES) {
			client_free(cl);
			return;
		}
	}
}

static void client_cb(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct client *cl = arg;

	(void)loop;
	(void)fd;
	switch (cl->state) {
	case C_READING:
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			client_read(cl);
		break;
	case C_WRITING:
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			client_flush(cl);
		break;
	case C_LINGER:
		client_discard(cl);
		break;
	}
}

static void client_timeout(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct client *cl = arg;

	(void)loop;
	(void)t;
	if (cl->state == C_READING) {
		/* re-armed for the answer and the linger */
		moq_timer_set_in(cl->timer, LINGER_MS * 1000000ull);
		client_error(cl, "timeout: no complete command line received");
		return;
	}
	client_free(cl);
}

static void refuse_busy(struct relay_ctl *c, int fd)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg),
			 "{\"error\": \"busy: %u clients connected, try again\"}\n", c->nclients);

	/* best effort: a fresh socket's buffer takes this at once */
	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing else to do for this client */
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	c->refused++;
}

static void listen_cb(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct relay_ctl *c = arg;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *cl;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* the pending connection stays queued: retry later */
				moq_loop_mod_fd(loop, fd, 0);
				moq_timer_set_in(c->backoff, ACCEPT_BACKOFF_MS * 1000000ull);
			}
			return;
		}
		if (c->nclients >= c->max_clients) {
			refuse_busy(c, cfd);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (cl)
			cl->timer = moq_timer_new(loop, client_timeout, cl);
		if (!cl || !cl->timer || moq_loop_add_fd(loop, cfd, EPOLLIN, client_cb, cl)) {
			if (cl)
				moq_timer_free(cl->timer);
			free(cl);
			close(cfd);
			c->refused++;
			continue;
		}
		cl->ctl = c;
		cl->fd = cfd;
		cl->state = C_READING;
		cl->next = c->clients;
		c->clients = cl;
		c->nclients++;
		moq_timer_set_in(cl->timer, c->timeout_ms * 1000000ull);
	}
}

static void backoff_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct relay_ctl *c = arg;

	(void)t;
	moq_loop_mod_fd(loop, c->fd, EPOLLIN);
}

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
		errf(err, errlen, "control socket %s: socket(): %s", c->path, strerror(-rc));
		return rc;
	}
	rc = bind_socket(c->fd, &sa);
	if (rc == -EADDRINUSE) {
		if (lstat(c->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			errf(err, errlen,
			     "control socket %s: the path exists and is not a socket; remove it or "
			     "choose another path",
			     c->path);
			return -EEXIST;
		}
		rc = probe_listener(&sa);
		if (rc == 1) {
			errf(err, errlen,
			     "control socket %s: another process (a running moq-relayd?) is "
			     "listening on it; stop that one or give this one another path",
			     c->path);
			return -EADDRINUSE;
		}
		if (rc < 0) {
			errf(err, errlen, "control socket %s exists and cannot be checked: %s",
			     c->path, strerror(-rc));
			return rc;
		}
		/* stale: left by a daemon that is gone */
		if (unlink(c->path) && errno != ENOENT) {
			rc = -errno;
			errf(err, errlen, "control socket %s is stale and cannot be removed: %s",
			     c->path, strerror(-rc));
			return rc;
		}
		rc = bind_socket(c->fd, &sa);
	}
	if (rc) {
		errf(err, errlen,
		     "cannot create control socket %s: %s (does the directory exist, and may this "
		     "user write to it?)",
		     c->path, strerror(-rc));
		return rc;
	}
	if (chmod(c->path, 0660) || stat(c->path, &st)) {
		rc = -errno;
		errf(err, errlen, "control socket %s: chmod/stat: %s", c->path, strerror(-rc));
		unlink(c->path);
		return rc;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (listen(c->fd, (int)c->max_clients)) {
		rc = -errno;
		errf(err, errlen, "control socket %s: listen: %s", c->path, strerror(-rc));
		unlink(c->path);
		return rc;
	}
	return 0;
}

/* ---- public ------------------------------------------------------------ */

int relay_ctl_open(struct relay_ctl **out, struct moq_loop *loop,
		   const struct relay_ctl_config *cfg, char *err, size_t errlen)
{
	struct relay_ctl *c;
	int rc;

	*out = NULL;
	if (!cfg->path || !cfg->handler) {
		errf(err, errlen, "control socket: no path or handler");
		return -EINVAL;
	}
	if (!cfg->path[0] || strlen(cfg->path) >= sizeof(c->path)) {
		errf(err, errlen,
		     "control socket path '%s' must be 1 to %zu bytes (a unix socket address "
		     "limit); choose a shorter path",
		     cfg->path, sizeof(c->path) - 1);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errf(err, errlen, "control socket: out of memory");
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
	c->backoff = moq_timer_new(loop, backoff_cb, c);
	rc = c->backoff ? moq_loop_add_fd(loop, c->fd, EPOLLIN, listen_cb, c) : -ENOMEM;
	if (rc) {
		errf(err, errlen, "control socket %s: cannot watch it: %s", c->path, strerror(-rc));
		unlink(c->path);
		moq_timer_free(c->backoff);
		close(c->fd);
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
	while (c->clients)
		client_free(c->clients);
	moq_timer_free(c->backoff);
	moq_loop_del_fd(c->loop, c->fd);
	close(c->fd);
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
	return c->nclients;
}

uint64_t relay_ctl_answered(const struct relay_ctl *c)
{
	return c->answered;
}

uint64_t relay_ctl_refused(const struct relay_ctl *c)
{
	return c->refused;
}
