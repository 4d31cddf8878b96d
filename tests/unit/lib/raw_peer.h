/* A raw QUIC client for session tests: no MoQT session on top, so a test
 * can write any bytes (garbage, hand-made SETUPs) on its streams. Give
 * &raw_peer_cb as the client's QUIC callbacks and a struct raw_peer as the
 * connection's user pointer; wait with sh_run_until(raw_peer_up / _closed). */
#ifndef RAW_PEER_H
#define RAW_PEER_H

#include <stdbool.h>

#include "quic/quic.h"

struct raw_peer {
	struct moq_quic_conn *c;
	int up, closed;
	struct moq_quic_close_info close; /* how the peer closed us */
};

extern const struct moq_quic_callbacks raw_peer_cb;

/* raw_peer_cb's two callbacks, for a test that needs more of them (user =
 * a struct that starts with a struct raw_peer). */
void raw_peer_established(struct moq_quic_conn *c, void *user);
void raw_peer_close(struct moq_quic_conn *c, const struct moq_quic_close_info *i, void *user);

/* sh_run_until conditions: established (or already closed); closed. */
bool raw_peer_up(void *raw_peer);
bool raw_peer_closed(void *raw_peer);

#endif
