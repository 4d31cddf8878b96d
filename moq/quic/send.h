/* The send path: ngtcp2 writes, the plaintext shim and send hook, the
 * socket with its EAGAIN queue, flushes, closes and timers. */
#ifndef MOQ_QUIC_SEND_H
#define MOQ_QUIC_SEND_H

#include "quic/quic_int.h"

/* Tests only: pretend every Nth sendto hit a full socket buffer. */
extern unsigned moq_quic_test_fake_eagain;

void moq_quic__sock_send(struct moq_quic_endpoint *ep, const uint8_t *d, size_t n,
			 const struct sockaddr *sa, socklen_t sl);
/* EPOLLOUT: send what the full socket buffer held back. */
void moq_quic__ep_drain_txq(struct moq_quic_endpoint *ep);
/* Write and send a CONNECTION_CLOSE (kept for the closing period). */
void moq_quic__conn_close_with(struct moq_quic_conn *c, const ngtcp2_ccerr *ccerr);
/* Local failure (handshake or ngtcp2 error): tell the peer, then report. */
void moq_quic__conn_fail(struct moq_quic_conn *c, int liberr);
/* Deferred flush of the endpoint's dirty connections (ep->flush). */
void moq_quic__ep_flush(struct moq_loop *loop, void *arg);
/* Send the datagrams batched so far (a batch stays open). */
void moq_quic__ep_send_batched(struct moq_quic_endpoint *ep);
void moq_quic__conn_timer(struct moq_loop *loop, struct moq_timer *t, void *arg);

#endif
