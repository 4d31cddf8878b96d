/* MoQT session, lowest layer: buffers, entry depth and failure, alias
 * tables, peer Request IDs, writing control messages, the graveyards. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_core.h"
#include "wt/wt.h"
#include "wt/wt_wire.h"
#include "uri.h"
#include "varint.h"

#define MOD "session"

/* ---- small helpers ------------------------------------------------------ */

int moq_session__buf_append(struct moq_session__buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void moq_session__buf_free(struct moq_session__buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *moq_session__xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *moq_session__bytes_dup(struct moq_bytes b)
{
	char *p = malloc(b.len + 1);
	if (!p)
		return NULL;
	if (b.len)
		memcpy(p, b.ptr, b.len);
	p[b.len] = 0;
	return p;
}

const char *moq_session__tname(uint64_t type)
{
	const char *n = moq_ctrl_type_name(type);
	return n ? n : "unknown message";
}

bool moq_session__closing(const struct moq_session *s)
{
	return s->state >= MOQ_SESSION_CLOSING;
}

void moq_session__enter(struct moq_session *s)
{
	s->depth++;
}

/* Frees the data streams in the graveyards, not the requests: the API
 * entries that call this at depth 0 can run inside another session's
 * callback, whose caller may still hold a dead request of this session
 * (moq-relayd stops a publisher's rx while it ends a subscriber's request). */
void moq_session__reap_streams(struct moq_session *s)
{
	while (s->grave_rx) {
		struct moq_rx *rx = s->grave_rx;
		s->grave_rx = rx->gnext;
		moq_session__buf_free(&rx->hold);
		free(rx->rdbuf);
		free(rx);
	}
	while (s->grave_tx) {
		struct moq_tx *tx = s->grave_tx;
		s->grave_tx = tx->gnext;
		free(tx->marks);
		free(tx);
	}
}

void moq_session__reap(struct moq_session *s)
{
	while (s->grave_req) {
		struct moq_request *r = s->grave_req;
		s->grave_req = r->gnext;
		if (r->rd_init)
			moq_ctrl_reader_free(&r->rd);
		moq_session__buf_free(&r->pend_out);
		moq_session__buf_free(&r->pend_in);
		free(r->track_buf);
		free(r);
	}
	moq_session__reap_streams(s);
}

void moq_session__leave(struct moq_session *s)
{
	if (--s->depth > 0)
		return;
	moq_session__reap(s);
	if (s->free_pending)
		s->up->free(s);
}

void moq_session__fail(struct moq_session *s, uint64_t code, const char *what, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (moq_session__closing(s))
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	const char *cn = moq_session_code_name(code);
	moq_warn(MOD, "session %s: %s: %s; closing with %s (0x%llx)", s->name, what, reason,
		 cn ? cn : "?", (unsigned long long)code);
	s->state = MOQ_SESSION_CLOSING;
	moq_session__conn_close(s, code, reason);
}

void moq_session_close(struct moq_session *s, uint64_t code, const char *reason)
{
	if (!s || moq_session__closing(s))
		return;
	const char *cn = moq_session_code_name(code);
	moq_info(MOD, "session %s: closing with %s (0x%llx)%s%s", s->name, cn ? cn : "?",
		 (unsigned long long)code, reason ? ": " : "", reason ? reason : "");
	s->state = MOQ_SESSION_CLOSING;
	moq_session__conn_close(s, code, reason);
}

uint32_t moq_session_data_priority(uint8_t subscriber_priority, uint8_t publisher_priority,
				   uint32_t group_rank, uint64_t subgroup_id)
{
	if (group_rank > 2047)
		group_rank = 2047;
	uint32_t sg = subgroup_id > 15 ? 15 : (uint32_t)subgroup_id;
	return 16u + (((uint32_t)subscriber_priority << 23) | ((uint32_t)publisher_priority << 15) |
		      (group_rank << 4) | sg);
}

uint32_t moq_session__req_stream_priority(const struct moq_request *r)
{
	return 1u + r->info.subscriber_priority / 32u;
}

/* ---- alias tables and tombstones --------------------------------------- */

static unsigned abucket(uint64_t alias)
{
	return (unsigned)((alias * 0x9E3779B97F4A7C15ull) >> 58) % ALIAS_BUCKETS;
}

struct moq_request *moq_session__alias_find(struct moq_request **tab, uint64_t alias)
{
	for (struct moq_request *r = tab[abucket(alias)]; r; r = r->alias_next)
		if (r->alias == alias)
			return r;
	return NULL;
}

void moq_session__alias_insert(struct moq_request **tab, struct moq_request *r, uint64_t alias,
			       bool sub_table)
{
	unsigned b = abucket(alias);
	r->alias = alias;
	r->alias_set = true;
	r->alias_in_sub_table = sub_table;
	r->alias_next = tab[b];
	tab[b] = r;
}

void moq_session__alias_remove(struct moq_session *s, struct moq_request *r)
{
	if (!r->alias_set)
		return;
	struct moq_request **tab = r->alias_in_sub_table ? s->sub_alias : s->pub_alias;
	for (struct moq_request **pp = &tab[abucket(r->alias)]; *pp; pp = &(*pp)->alias_next) {
		if (*pp == r) {
			*pp = r->alias_next;
			break;
		}
	}
	if (r->alias_in_sub_table) {
		s->tomb[s->tomb_pos] = r->alias;
		s->tomb_pos = (s->tomb_pos + 1) % TOMBSTONES;
		if (s->ntomb < TOMBSTONES)
			s->ntomb++;
	}
	r->alias_set = false;
}

bool moq_session__tomb_has(const struct moq_session *s, uint64_t alias)
{
	for (size_t i = 0; i < s->ntomb; i++)
		if (s->tomb[i] == alias)
			return true;
	return false;
}

/* ---- peer Request IDs --------------------------------------------------- */

/* 0 ok, -1 wrong parity, -2 duplicate. */
static int peer_id_take(struct moq_session *s, uint64_t id)
{
	uint64_t parity = s->is_server ? 0 : 1;
	if ((id & 1) != parity)
		return -1;
	uint64_t k = id >> 1;
	if (k < s->peer_floor)
		return -2;
	if (k - s->peer_floor >= 2 * IDSET_BITS) {
		/* far ahead (draft-18 has no upper bound on Request IDs):
		 * sliding one id at a time would freeze the loop, and would
		 * clear every bit anyway */
		memset(s->peer_bits, 0, sizeof(s->peer_bits));
		s->peer_floor = k - IDSET_BITS + 1;
	}
	while (k - s->peer_floor >= IDSET_BITS) {
		/* Slide the window: ids that far behind count as used. */
		uint64_t f = s->peer_floor % IDSET_BITS;
		s->peer_bits[f / 8] &= (uint8_t) ~(1u << (f % 8));
		s->peer_floor++;
	}
	uint64_t b = k % IDSET_BITS;
	if (s->peer_bits[b / 8] & (1u << (b % 8)))
		return -2;
	s->peer_bits[b / 8] |= (uint8_t)(1u << (b % 8));
	while (1) {
		uint64_t f = s->peer_floor % IDSET_BITS;
		if (!(s->peer_bits[f / 8] & (1u << (f % 8))))
			break;
		s->peer_bits[f / 8] &= (uint8_t) ~(1u << (f % 8));
		s->peer_floor++;
	}
	if (id + 2 > s->peer_next)
		s->peer_next = id + 2;
	return 0;
}

bool moq_session__check_peer_id(struct moq_session *s, uint64_t id, const char *what)
{
	int rc = peer_id_take(s, id);
	if (rc == 0)
		return true;
	moq_session__fail(s, MOQ_SESSION_INVALID_REQUEST_ID, what,
			  rc == -1 ? "Request ID %llu has the wrong parity for a %s"
				   : "duplicate Request ID %llu from the %s",
			  (unsigned long long)id, s->is_server ? "client" : "server");
	return false;
}

/* ---- writing control messages ------------------------------------------ */

int moq_session__encode(struct moq_session *s, const struct moq_ctrl_msg *m)
{
	int n = moq_ctrl_encode(s->scratch, MOQ_CTRL_MAX_FRAME, m);
	if (n < 0)
		moq_warn(MOD, "session %s: cannot encode %s: %s", s->name,
			 moq_session__tname(m->type), moq_strerror(n));
	return n;
}

int moq_session__ctrl_send(struct moq_session *s, const struct moq_ctrl_msg *m)
{
	int n = moq_session__encode(s, m);
	if (n < 0)
		return -EINVAL;
	if (s->ctrl_tx_sid < 0)
		return -ENOTCONN;
	return moq_quic_stream_write(s->conn, s->ctrl_tx_sid, s->scratch, (size_t)n, 0);
}

static int req_write(struct moq_request *r, const void *p, size_t n, int fin)
{
	struct moq_session *s = r->s;
	if (r->tx_fin || r->sid == -2)
		return -EPIPE;
	if (fin)
		r->tx_fin = true;
	if (r->sid < 0)
		return moq_session__buf_append(&r->pend_out, p, n);
	return moq_quic_stream_write(s->conn, r->sid, p, n, fin);
}

int moq_session__req_send(struct moq_request *r, const struct moq_ctrl_msg *m, int fin)
{
	int n = moq_session__encode(r->s, m);
	if (n < 0)
		return -EINVAL;
	return req_write(r, r->s->scratch, (size_t)n, fin);
}

void moq_session__req_send_fin(struct moq_request *r)
{
	if (!r->tx_fin)
		req_write(r, NULL, 0, 1);
}

struct moq_request *moq_session__req_find_local(struct moq_session *s, uint64_t type, uint64_t id)
{
	for (struct moq_request *r = s->reqs; r; r = r->next)
		if (r->local && r->type == type && r->id == id && !r->dead)
			return r;
	return NULL;
}

void moq_session__hk_arm(struct moq_session *s)
{
	if (moq_timer_when(s->hk) == UINT64_MAX)
		moq_timer_set_in(s->hk, HK_PERIOD_NS);
}

void moq_session__req_linger_touch(struct moq_request *r)
{
	if (r->dead || !r->done_rx || !r->linger_until)
		return;
	uint64_t t = moq_loop_now() + r->linger_ns;
	if (t > r->linger_hard)
		t = r->linger_hard;
	if (t > r->linger_until)
		r->linger_until = t;
}

/* ---- transport: native QUIC or WebTransport ---------------------------------- */

int64_t moq_session__open_uni(struct moq_session *s)
{
	return s->wt ? moq_wt_open_uni(s->wt) : moq_quic_stream_open_uni(s->conn);
}

int64_t moq_session__open_bidi(struct moq_session *s)
{
	return s->wt ? moq_wt_open_bidi(s->wt) : moq_quic_stream_open_bidi(s->conn);
}

/* WebTransport carries 32-bit application codes, mapped into the HTTP/3
 * error space (wt_wire.h) */
static uint64_t wire_code(const struct moq_session *s, uint64_t code)
{
	return s->wt ? moq_wt_code_to_h3(code > UINT32_MAX ? UINT32_MAX : (uint32_t)code) : code;
}

int moq_session__stream_reset(struct moq_session *s, int64_t sid, uint64_t code)
{
	return moq_quic_stream_reset(s->conn, sid, wire_code(s, code));
}

int moq_session__stop_sending(struct moq_session *s, int64_t sid, uint64_t code)
{
	return moq_quic_stream_stop_sending(s->conn, sid, wire_code(s, code));
}

uint64_t moq_session__peer_code(const struct moq_session *s, uint64_t code)
{
	uint32_t c;
	if (!s->wt)
		return code;
	return moq_wt_code_from_h3(code, &c) == 0 ? c : code;
}

int moq_session__dgram_send(struct moq_session *s, const void *p, size_t n)
{
	return s->wt ? moq_wt_dgram_send(s->wt, p, n) : moq_quic_datagram_send(s->conn, p, n);
}

void moq_session__conn_close(struct moq_session *s, uint64_t code, const char *reason)
{
	if (s->wt)
		moq_wt_close(s->wt, code > UINT32_MAX ? UINT32_MAX : (uint32_t)code, reason);
	else
		moq_quic_conn_close(s->conn, code, reason);
}
