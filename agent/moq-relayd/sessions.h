/* moq-relayd: MoQT sessions (sessions.c): accepting and connecting
 * sessions, their callbacks, routing requests to the peer that serves
 * them. */
#ifndef RELAYD_SESSIONS_H
#define RELAYD_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relayd;
struct peer;
struct moq_params;
struct moq_request;
struct moq_session;
struct relay_name;
struct relay_track;
struct sockaddr;

void relayd_callbacks_init(struct relayd *d);
int relayd_on_session(struct moq_session *s, void *arg);
struct peer *relayd_peer_new(struct relayd *d, struct moq_session *s, bool upstream);
void relayd_upstream_connect(struct relayd *d);
void relayd_track_release(struct relayd *d, struct relay_track *tr);
/* Log context: fill p->log_session / p->log_peer from p->s. */
void relayd_peer_log_init(struct peer *p);
/* "1.2.3.4:5" or "[::1]:5" ("" for another family or NULL). */
void relayd_addr_str(const struct sockaddr *sa, char *out, size_t outlen);

/* Route a checked SUBSCRIBE (frees name); rdv_ms is its RENDEZVOUS_TIMEOUT. */
void relayd_subscribe_route(struct relayd *d, struct peer *p, struct moq_request *r,
			    struct relay_name *name, uint64_t rdv_ms);

/* shared with fetch.c */
struct peer *relayd_route(struct relayd *d, const struct relay_name *name, struct peer *asking);

#endif
