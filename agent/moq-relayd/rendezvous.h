/* moq-relayd: SUBSCRIBEs with RENDEZVOUS_TIMEOUT that arrive before their
 * publisher (rendezvous.c) are held (bounded by --max-rendezvous and, per
 * session, by --max-subscriptions) up to min(timeout, --max-rendezvous-wait),
 * then routed, or answered REQUEST_ERROR TIMEOUT. */
#ifndef RELAYD_RENDEZVOUS_H
#define RELAYD_RENDEZVOUS_H

#include <stdbool.h>
#include <stdint.h>

struct relayd;
struct peer;
struct moq_request;
struct relay_name;
struct relay_sub;

void relayd_rdv_init(struct relayd *d);
void relayd_rdv_free(struct relayd *d);
/* Hold r (true) or not (false: the caller answers DOES_NOT_EXIST). */
bool relayd_rdv_hold(struct relayd *d, struct peer *p, struct moq_request *r,
		     const struct relay_name *name, uint64_t rdv_ms);
/* A publisher appeared: route every held SUBSCRIBE that now has one. */
void relayd_rdv_retry(struct relayd *d);
/* sub (held) is being freed: take it off the held list. */
void relayd_rdv_unlink(struct relayd *d, struct relay_sub *sub);

#endif
