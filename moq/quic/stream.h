/* Streams and datagrams of a connection: send buffers, the send order, the
 * stream callbacks of ngtcp2, and the public stream and datagram API. */
#ifndef MOQ_QUIC_STREAM_H
#define MOQ_QUIC_STREAM_H

#include "quic/quic_int.h"

struct qstream *moq_quic__stream_find(const struct moq_quic_conn *c, int64_t sid);
struct qstream *moq_quic__stream_new(struct moq_quic_conn *c, int64_t sid);
void moq_quic__stream_free(struct moq_quic_conn *c, struct qstream *s);
/* The next stream to send from (priority, then round robin); 0 if none. */
int moq_quic__stream_pick(struct moq_quic_conn *c, struct qstream **out);
/* Tell the application once that the peer stopped reading s. */
void moq_quic__stream_report_stop(struct moq_quic_conn *c, struct qstream *s, uint64_t code);
/* ngtcp2's stream and datagram callbacks. */
void moq_quic__stream_callbacks(ngtcp2_callbacks *cb);

#endif
