/* Plaintext profile helpers that work on packets without a connection
 * (docs/plaintext-profile.md); the handshake is in moq_quic__pt_ops. */
#ifndef MOQ_QUIC_PLAINTEXT_H
#define MOQ_QUIC_PLAINTEXT_H

#include "quic/quic_int.h"

/* Does this long-header Initial packet end with the plaintext tag?
 * 1 yes, 0 no, -1 not a parsable Initial. */
int moq_quic__pt_initial_is_plaintext(const uint8_t *pkt, size_t len);
/* Write an Initial CONNECTION_CLOSE protected with null protection. */
ngtcp2_ssize moq_quic__pt_write_initial_close(uint8_t *dest, size_t destlen, const ngtcp2_cid *dcid,
					      const ngtcp2_cid *scid, uint64_t code,
					      const char *reason);

#endif
