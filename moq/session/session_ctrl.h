/* Internal to the session layer, session_ctrl.c: SETUP, control streams */
#ifndef MOQ_SESSION_CTRL_H
#define MOQ_SESSION_CTRL_H

#include "session/session_int.h"

void moq_session__ctrl_feed(struct moq_session *s, const uint8_t *p, size_t n, int fin);
void moq_session__start(struct moq_session *s);

#endif
