/* Internal to the session layer, session_core.c: lowest layer, used by all others: buffers, entry
 * depth, failure, alias tables, peer Request IDs, control writes, graveyards */
#ifndef MOQ_SESSION_CORE_H
#define MOQ_SESSION_CORE_H

#include "session/session_int.h"

int moq_session__buf_append(struct moq_session__buf *b, const void *p, size_t n);
void moq_session__buf_free(struct moq_session__buf *b);
char *moq_session__xstrdup(const char *s);
char *moq_session__bytes_dup(struct moq_bytes b);
const char *moq_session__tname(uint64_t type);
bool moq_session__closing(const struct moq_session *s);
void moq_session__enter(struct moq_session *s);
void moq_session__reap_streams(struct moq_session *s);
void moq_session__reap(struct moq_session *s);
void moq_session__leave(struct moq_session *s);
void moq_session__fail(struct moq_session *s, uint64_t code, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
uint32_t moq_session__req_stream_priority(const struct moq_request *r);
struct moq_request *moq_session__alias_find(struct moq_request **tab, uint64_t alias);
void moq_session__alias_insert(struct moq_request **tab, struct moq_request *r, uint64_t alias,
			       bool sub_table);
void moq_session__alias_remove(struct moq_session *s, struct moq_request *r);
bool moq_session__tomb_has(const struct moq_session *s, uint64_t alias);
bool moq_session__check_peer_id(struct moq_session *s, uint64_t id, const char *what);
int moq_session__encode(struct moq_session *s, const struct moq_ctrl_msg *m);
int moq_session__ctrl_send(struct moq_session *s, const struct moq_ctrl_msg *m);
int moq_session__req_send(struct moq_request *r, const struct moq_ctrl_msg *m, int fin);
void moq_session__req_send_fin(struct moq_request *r);
struct moq_request *moq_session__req_find_local(struct moq_session *s, uint64_t type, uint64_t id);
void moq_session__hk_arm(struct moq_session *s);
void moq_session__req_linger_touch(struct moq_request *r);
/* The transport under the session: native QUIC, or WebTransport (s->wt),
 * which prefixes streams and datagrams and maps error codes. */
int64_t moq_session__open_uni(struct moq_session *s);
int64_t moq_session__open_bidi(struct moq_session *s);
int moq_session__stream_reset(struct moq_session *s, int64_t sid, uint64_t code);
int moq_session__stop_sending(struct moq_session *s, int64_t sid, uint64_t code);
int moq_session__dgram_send(struct moq_session *s, const void *p, size_t n);
void moq_session__conn_close(struct moq_session *s, uint64_t code, const char *reason);
/* A peer's RESET_STREAM / STOP_SENDING code as a MoQT code. */
uint64_t moq_session__peer_code(const struct moq_session *s, uint64_t code);

#endif
