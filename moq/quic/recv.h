/* The receive path: demultiplexing datagrams to connections, accepting
 * new ones, version negotiation and stateless resets. */
#ifndef MOQ_QUIC_RECV_H
#define MOQ_QUIC_RECV_H

#include "quic/quic_int.h"

/* One received UDP datagram (data has room for MOQ_QUIC__RX_ROOM bytes). */
void moq_quic__recv_datagram(struct moq_quic_endpoint *ep, uint8_t *data, size_t n,
			     const struct sockaddr *sa, socklen_t sl);

#endif
