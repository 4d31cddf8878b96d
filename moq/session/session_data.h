/* Internal to the session layer, session_data.c: data streams and datagrams (calls up only through
 * struct moq_session__upcalls) */
#ifndef MOQ_SESSION_DATA_H
#define MOQ_SESSION_DATA_H

#include "session/session_int.h"

struct moq_rx *moq_session__rx_new(struct moq_session *s, int64_t sid);
void moq_session__rx_kill(struct moq_rx *rx);
void moq_session__rx_stop(struct moq_rx *rx, uint64_t code);
void moq_session__rx_on_reset(struct moq_rx *rx, uint64_t code);
void moq_session__rx_on_data(struct moq_rx *rx, const uint8_t *p, size_t n, int fin);
void moq_session__rx_match_alias(struct moq_session *s, struct moq_request *r);
void moq_session__dgram_on_recv(struct moq_session *s, const uint8_t *p, size_t n);
void moq_session__dgram_match_alias(struct moq_session *s, struct moq_request *r);
void moq_session__data_housekeeping(struct moq_session *s, uint64_t now);
void moq_session__tx_reprioritize(struct moq_request *r);
void moq_session__tx_end_all(struct moq_request *r);
void moq_session__tx_on_stopped(struct moq_tx *tx, uint64_t code);
void moq_session__tx_on_closed(struct moq_tx *tx);
void moq_session__tx_on_writable(struct moq_tx *tx);
void moq_session__data_free_all(struct moq_session *s);

#endif
