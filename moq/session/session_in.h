/* Internal to the session layer, session_in.c: messages arriving on request streams */
#ifndef MOQ_SESSION_IN_H
#define MOQ_SESSION_IN_H

#include "session/session_int.h"

void moq_session__req_process_pending_in(struct moq_request *r);
void moq_session__req_on_data(struct moq_request *r, const uint8_t *p, size_t n, int fin);
void moq_session__req_on_peer_cancel(struct moq_request *r, uint64_t code, bool stop_sending);

#endif
