/* relay_listener: the stream-socket server under the control socket
 * (relay_ctl) and the metrics endpoint (relay_metrics), on the daemon's
 * moq_loop.
 *
 * One exchange per connection: read one request (at most max_request
 * bytes), send one answer, close. Nothing blocks the loop: every socket is
 * non-blocking, the answer is written as the client reads it (EPOLLOUT),
 * and the work per loop event is bounded (accept_batch connections per
 * wakeup). After the answer the write side is shut down and whatever the
 * client still sends is read and discarded until it closes (a close with
 * unread input would turn into a reset that can destroy the answer), at
 * most linger_bytes and linger_ms. At most max_clients at once; each has
 * timeout_ms for its request and answer. When accept() runs out of fds or
 * memory the listener stops watching the socket for a moment, so the
 * level-triggered loop does not spin on it. */
#ifndef RELAY_LISTENER_H
#define RELAY_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct moq_loop;
struct relay_listener;

enum relay_listener_event {
	RELAY_LISTENER_REQUEST,	 /* a complete request */
	RELAY_LISTENER_EOF,	 /* the client shut down its side, request incomplete */
	RELAY_LISTENER_TOO_LONG, /* max_request bytes and still incomplete */
	RELAY_LISTENER_TIMEOUT,	 /* timeout_ms without a complete request */
};

struct relay_listener_ops {
	/* After each read: the length of the complete request in
	 * req[0..len), or -1 to read more. Bytes before `fresh` were seen by
	 * an earlier call. */
	long (*complete)(const char *req, size_t len, size_t fresh, void *arg);
	/* The answer to ev: req[0..len) with req[len] == 0 (writable, len is
	 * complete's result for a REQUEST). 0 with a malloc'ed *out of *outlen
	 * bytes the listener sends and frees, or -1: close without one. */
	int (*answer)(enum relay_listener_event ev, char *req, size_t len, char **out,
		      size_t *outlen, void *arg);
	/* Optional: a connection over max_clients, just before it is closed
	 * (best effort; fd is non-blocking). */
	void (*busy)(int fd, unsigned clients, void *arg);
};

struct relay_listener_config {
	const struct relay_listener_ops *ops;
	void *arg;
	size_t max_request;
	unsigned max_clients;
	unsigned accept_batch; /* accept() calls per wakeup */
	uint64_t timeout_ms;   /* per client: request and answer */
	uint64_t linger_ms;    /* after the answer, at most (0: the rest of timeout_ms) */
	size_t linger_bytes;   /* discarded after the answer, at most (0: no bound) */
};

/* Serve the listening socket fd (non-blocking, listen() done) on loop; the
 * listener owns fd from here on, also on failure. NULL with -errno in *err. */
struct relay_listener *relay_listener_new(struct moq_loop *loop, int fd,
					  const struct relay_listener_config *cfg, int *err);
/* Close every client and the socket. NULL is a no-op. */
void relay_listener_free(struct relay_listener *l);

/* Clients connected now. */
unsigned relay_listener_clients(const struct relay_listener *l);
/* Connections closed at accept: over max_clients, or out of memory. */
uint64_t relay_listener_refused(const struct relay_listener *l);

#endif
