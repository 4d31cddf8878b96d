/* moq-relayd: FETCH forwarding (fetch.c): a downstream FETCH the cache
 * cannot serve goes upstream, its data stream comes back through. */
#ifndef RELAYD_FETCH_H
#define RELAYD_FETCH_H

#include <stdbool.h>
#include <stdint.h>

struct relayd;
struct peer;
struct fetch_job;
struct moq_ctrl_msg;
struct moq_data_event;
struct moq_request;
struct moq_rx;

void relayd_fetch_request(struct relayd *d, struct peer *p, struct moq_request *r,
			  const struct moq_ctrl_msg *m);
void relayd_fetch_up_msg(struct relayd *d, struct fetch_job *j, const struct moq_ctrl_msg *m);
void relayd_fetch_closed(struct relayd *d, struct fetch_job *j, bool downstream_side);
void relayd_fetch_data(struct relayd *d, struct fetch_job *j, struct moq_rx *rx,
		       const struct moq_data_event *ev);
void relayd_fetch_data_reset(struct relayd *d, struct fetch_job *j, uint64_t code);
void relayd_fetch_tx_gone(struct relayd *d, struct fetch_job *j);
bool relayd_fetch_owns_rx(struct relayd *d, const struct moq_rx *rx);
void relayd_fetch_peer_gone(struct relayd *d, struct peer *p);

#endif
