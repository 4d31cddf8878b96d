/* Internal to the session layer, session_req.c: request objects */
#ifndef MOQ_SESSION_REQ_H
#define MOQ_SESSION_REQ_H

#include "session/session_int.h"

struct moq_request *moq_session__req_new(struct moq_session *s, bool local);
int moq_session__req_copy_track(struct moq_request *r, const struct moq_namespace *ns,
				const struct moq_bytes *name);
bool moq_session__track_eq(const struct moq_request *a, const struct moq_request *b);
void moq_session__info_apply_sub_params(struct moq_request *r, const struct moq_params *p);
void moq_session__info_apply_pub(struct moq_request *r, const struct moq_params *p,
				 struct moq_bytes props);
void moq_session__req_kill(struct moq_request *r);
void moq_session__req_end(struct moq_request *r, enum moq_request_end why, uint64_t code,
			  bool notify);
void moq_session__req_maybe_complete(struct moq_request *r);
struct moq_request *moq_session__req_find_peer(struct moq_session *s, uint64_t type, uint64_t id);
void moq_session__req_linger_check(struct moq_request *r);
void moq_session__req_open(struct moq_request *r);
void moq_session__queue_request(struct moq_session *s, struct moq_request *r);
uint64_t moq_session__alloc_alias(struct moq_session *s);

#endif
