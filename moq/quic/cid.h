/* The endpoint's table of local connection IDs. */
#ifndef MOQ_QUIC_CID_H
#define MOQ_QUIC_CID_H

#include "quic/quic_int.h"

struct moq_quic_conn *moq_quic__cid_find(struct moq_quic_endpoint *ep, const uint8_t *d, size_t n);
/* 0, -EEXIST or -ENOMEM. */
int moq_quic__cid_add(struct moq_quic_endpoint *ep, struct moq_quic_conn *c, const ngtcp2_cid *cid);
void moq_quic__cid_remove(struct moq_quic_conn *c, const ngtcp2_cid *cid);
void moq_quic__cid_remove_all(struct moq_quic_conn *c);
/* A fresh random CID of cidlen bytes not in the table. */
void moq_quic__cid_new_local(struct moq_quic_endpoint *ep, ngtcp2_cid *cid, size_t cidlen);
/* ngtcp2's get_new_connection_id and remove_connection_id. */
void moq_quic__cid_callbacks(ngtcp2_callbacks *cb);

#endif
