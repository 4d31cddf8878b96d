/* Connection lifetime: allocation, ngtcp2 setup, closing, reaping, and
 * the public connection accessors. */
#ifndef MOQ_QUIC_CONN_H
#define MOQ_QUIC_CONN_H

#include "quic/quic_int.h"

/* A new connection in CS_HANDSHAKE on ep's list; on_timer runs its timer. */
struct moq_quic_conn *moq_quic__conn_alloc(struct moq_quic_endpoint *ep, int server,
					   const struct sockaddr *peer, socklen_t peerlen,
					   moq_timer_cb on_timer);
void moq_quic__conn_free(struct moq_quic_conn *c);
void moq_quic__conn_callbacks(struct moq_quic_endpoint *ep, ngtcp2_callbacks *cb, int server);
/* probe: storage for the one PMTUD probe size (ngtcp2 copies it). */
void moq_quic__conn_settings(struct moq_quic_conn *c, ngtcp2_settings *s, const ngtcp2_cid *odcid,
			     uint16_t *probe);
void moq_quic__conn_params(struct moq_quic_endpoint *ep, ngtcp2_transport_params *p);
void moq_quic__conn_path(struct moq_quic_conn *c, ngtcp2_path *path);
/* Report the close (once) and leave c for reaping or the closing period. */
void moq_quic__conn_terminate(struct moq_quic_conn *c);
/* The peer closed (or reset) c: copy its reason, then terminate. */
void moq_quic__conn_drained(struct moq_quic_conn *c);
/* Server admission: c's handshake is in progress (oldest first). */
void moq_quic__conn_admit(struct moq_quic_conn *c);
/* Drop the oldest handshake in progress whose address is not validated,
 * silently; 0 if there is none. */
int moq_quic__conn_evict_handshake(struct moq_quic_endpoint *ep);
/* Deferred: free the endpoint's CS_DEAD connections. */
void moq_quic__ep_reap(struct moq_loop *loop, void *arg);

#endif
