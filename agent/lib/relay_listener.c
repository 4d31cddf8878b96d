/* relay_listener: one-exchange stream server (relay_listener.h). */
#include "relay_listener.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "quic/loop.h"

/* accept() out of fds or memory: stop watching the socket this long. */
#define ACCEPT_BACKOFF_MS 100

enum client_state {
	C_READING,
	C_WRITING,
	C_LINGER,
};

struct client {
	struct client *next;
	struct relay_listener *l;
	int fd;
	enum client_state state;
	struct moq_timer *timer;
	size_t len;
	char *out;
	size_t outlen, outoff;
	size_t discarded;
	char req[]; /* max_request + 1 */
};

struct relay_listener {
	struct moq_loop *loop;
	int fd;
	struct relay_listener_config cfg;
	struct client *clients;
	unsigned nclients;
	uint64_t refused;
	struct moq_timer *backoff; /* re-arms the socket after EMFILE etc. */
};

static void client_free(struct client *c)
{
	struct relay_listener *l = c->l;

	for (struct client **pp = &l->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	l->nclients--;
	moq_loop_del_fd(l->loop, c->fd);
	close(c->fd);
	moq_timer_free(c->timer);
	free(c->out);
	free(c);
}

/* Answer written: stop sending, read what the client still sends until it
 * closes (bounded), then close. */
static void client_linger(struct client *c)
{
	uint64_t ms = c->l->cfg.linger_ms;

	c->state = C_LINGER;
	shutdown(c->fd, SHUT_WR);
	if (moq_loop_mod_fd(c->l->loop, c->fd, EPOLLIN)) {
		client_free(c);
		return;
	}
	if (ms && moq_timer_when(c->timer) > moq_loop_now() + ms * 1000000ull)
		moq_timer_set_in(c->timer, ms * 1000000ull);
}

static void client_flush(struct client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* EPOLLOUT brings us back */
			client_free(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	client_linger(c);
}

/* Ask for the answer to ev and start sending it. */
static void client_answer(struct client *c, enum relay_listener_event ev, size_t len)
{
	struct relay_listener *l = c->l;

	c->req[len] = 0;
	if (l->cfg.ops->answer(ev, c->req, len, &c->out, &c->outlen, l->cfg.arg)) {
		client_free(c);
		return;
	}
	c->outoff = 0;
	c->state = C_WRITING;
	if (moq_loop_mod_fd(l->loop, c->fd, EPOLLOUT)) {
		client_free(c);
		return;
	}
	client_flush(c);
}

static void client_read(struct client *c)
{
	struct relay_listener *l = c->l;

	for (;;) {
		size_t room = l->cfg.max_request - c->len;
		ssize_t n;
		long done;

		if (!room) {
			client_answer(c, RELAY_LISTENER_TOO_LONG, c->len);
			return;
		}
		n = recv(c->fd, c->req + c->len, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_free(c);
			return;
		}
		if (n == 0) { /* the client shut down its side */
			if (c->len)
				client_answer(c, RELAY_LISTENER_EOF, c->len);
			else
				client_free(c);
			return;
		}
		c->len += (size_t)n;
		c->req[c->len] = 0;
		done = l->cfg.ops->complete(c->req, c->len, c->len - (size_t)n, l->cfg.arg);
		if (done >= 0) {
			client_answer(c, RELAY_LISTENER_REQUEST, (size_t)done);
			return;
		}
	}
}

static void client_discard(struct client *c)
{
	char junk[4096];

	for (;;) {
		ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_free(c);
			return;
		}
		c->discarded += (size_t)n;
		if (c->l->cfg.linger_bytes && c->discarded > c->l->cfg.linger_bytes) {
			client_free(c);
			return;
		}
	}
}

static void client_cb(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct client *c = arg;

	(void)loop;
	(void)fd;
	switch (c->state) {
	case C_READING:
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			client_read(c);
		break;
	case C_WRITING:
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			client_flush(c);
		break;
	case C_LINGER:
		client_discard(c);
		break;
	}
}

static void client_timeout(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct client *c = arg;
	uint64_t ms = c->l->cfg.linger_ms ? c->l->cfg.linger_ms : c->l->cfg.timeout_ms;

	(void)loop;
	(void)t;
	if (c->state == C_READING) {
		/* re-armed for the answer and the linger */
		moq_timer_set_in(c->timer, ms * 1000000ull);
		client_answer(c, RELAY_LISTENER_TIMEOUT, c->len);
		return;
	}
	client_free(c);
}

static void listen_cb(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct relay_listener *l = arg;

	(void)events;
	for (unsigned i = 0; i < l->cfg.accept_batch; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* the pending connection stays queued: retry later */
				moq_loop_mod_fd(loop, fd, 0);
				moq_timer_set_in(l->backoff, ACCEPT_BACKOFF_MS * 1000000ull);
			}
			return;
		}
		if (l->nclients >= l->cfg.max_clients) {
			if (l->cfg.ops->busy)
				l->cfg.ops->busy(cfd, l->nclients, l->cfg.arg);
			close(cfd);
			l->refused++;
			continue;
		}
		c = calloc(1, sizeof(*c) + l->cfg.max_request + 1);
		if (c)
			c->timer = moq_timer_new(loop, client_timeout, c);
		if (!c || !c->timer || moq_loop_add_fd(loop, cfd, EPOLLIN, client_cb, c)) {
			if (c)
				moq_timer_free(c->timer);
			free(c);
			close(cfd);
			l->refused++;
			continue;
		}
		c->l = l;
		c->fd = cfd;
		c->state = C_READING;
		c->next = l->clients;
		l->clients = c;
		l->nclients++;
		moq_timer_set_in(c->timer, l->cfg.timeout_ms * 1000000ull);
	}
}

static void backoff_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct relay_listener *l = arg;

	(void)t;
	moq_loop_mod_fd(loop, l->fd, EPOLLIN);
}

struct relay_listener *relay_listener_new(struct moq_loop *loop, int fd,
					  const struct relay_listener_config *cfg, int *err)
{
	struct relay_listener *l = calloc(1, sizeof(*l));
	int rc = -ENOMEM;

	if (!l)
		goto fail;
	l->loop = loop;
	l->fd = fd;
	l->cfg = *cfg;
	l->backoff = moq_timer_new(loop, backoff_cb, l);
	if (!l->backoff)
		goto fail;
	rc = moq_loop_add_fd(loop, fd, EPOLLIN, listen_cb, l);
	if (rc)
		goto fail;
	*err = 0;
	return l;
fail:
	if (l)
		moq_timer_free(l->backoff);
	free(l);
	close(fd);
	*err = rc;
	return NULL;
}

void relay_listener_free(struct relay_listener *l)
{
	if (!l)
		return;
	while (l->clients)
		client_free(l->clients);
	moq_timer_free(l->backoff);
	moq_loop_del_fd(l->loop, l->fd);
	close(l->fd);
	free(l);
}

unsigned relay_listener_clients(const struct relay_listener *l)
{
	return l->nclients;
}

uint64_t relay_listener_refused(const struct relay_listener *l)
{
	return l->refused;
}
