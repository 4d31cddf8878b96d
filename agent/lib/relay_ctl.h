/* relay_ctl: the daemon's control socket (moq-relayctl talks to it).
 *
 * A unix-domain stream socket served on the daemon's moq_loop. Protocol:
 * the client sends one command line (printable ASCII, at most
 * RELAY_CTL_MAX_REQUEST bytes including the '\n'; a client may also end
 * the line by shutting down its write side), the server answers with one
 * JSON document followed by '\n' and closes the connection. A request
 * that is too long, empty or not printable gets
 * {"error":"..."} and is closed without reaching the handler; so does a
 * client that stays silent past the timeout, and a client beyond the
 * client bound gets {"error":"busy ..."} at once.
 *
 * Nothing here blocks the loop: every socket is non-blocking, answers are
 * written as the client reads them (EPOLLOUT), and the work per loop event
 * is bounded (relay_listener, shared with the metrics endpoint).
 *
 * Socket file: created with mode 0660. A socket file left by a dead daemon
 * (nothing accepts on it) is replaced; a path where another process listens,
 * or that is not a socket, is refused with a message that says so. The file
 * is removed on relay_ctl_close if it is still ours. */
#ifndef RELAY_CTL_H
#define RELAY_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct moq_loop;
struct relay_ctl;

#define RELAY_CTL_MAX_REQUEST 256
#define RELAY_CTL_MAX_CLIENTS 16
#define RELAY_CTL_TIMEOUT_MS 5000

/* Write the answer to cmd (the request line without its line end and
 * surrounding blanks; never empty, printable ASCII) as one JSON document
 * into out. A missing final '\n' is added. */
typedef void (*relay_ctl_handler)(const char *cmd, FILE *out, void *arg);

struct relay_ctl_config {
	const char *path; /* socket path (< 108 bytes) */
	relay_ctl_handler handler;
	void *arg;
	unsigned max_clients; /* 0 = RELAY_CTL_MAX_CLIENTS */
	uint64_t timeout_ms;  /* per client, request and answer; 0 = default */
};

/* Create the socket and register it on loop. 0 and *out, or -errno with a
 * message in err (e.g. "another process is listening on PATH ..."). */
int relay_ctl_open(struct relay_ctl **out, struct moq_loop *loop,
		   const struct relay_ctl_config *cfg, char *err, size_t errlen);
/* Close every client and the socket, remove the socket file if it is still
 * the one we created. NULL is a no-op. */
void relay_ctl_close(struct relay_ctl *c);

/* CLOCK_MONOTONIC ns when the socket was opened. */
uint64_t relay_ctl_started_ns(const struct relay_ctl *c);
/* Clients connected now, and answered / refused since the start. */
unsigned relay_ctl_clients(const struct relay_ctl *c);
uint64_t relay_ctl_answered(const struct relay_ctl *c);
uint64_t relay_ctl_refused(const struct relay_ctl *c);

#endif
