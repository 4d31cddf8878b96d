/* A raw QUIC client for session tests (raw_peer.h). */
#include "raw_peer.h"

void raw_peer_established(struct moq_quic_conn *c, void *user)
{
	struct raw_peer *r = user;

	r->c = c;
	r->up = 1;
}

void raw_peer_close(struct moq_quic_conn *c, const struct moq_quic_close_info *i, void *user)
{
	struct raw_peer *r = moq_quic_conn_user(c);

	(void)user;
	if (r) {
		r->closed = 1;
		r->close = *i;
	}
}

const struct moq_quic_callbacks raw_peer_cb = {
    .on_established = raw_peer_established,
    .on_close = raw_peer_close,
};

bool raw_peer_up(void *arg)
{
	struct raw_peer *r = arg;

	return r->up || r->closed;
}

bool raw_peer_closed(void *arg)
{
	struct raw_peer *r = arg;

	return r->closed;
}
