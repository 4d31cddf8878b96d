/* MoQT session: control streams, SETUP, requests (see session.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_int.h"
#include "uri.h"
#include "varint.h"

#define MOD "session"

static unsigned session_serial;

/* ---- small helpers ------------------------------------------------------ */

int sbuf_append(struct sbuf *b, const void *p, size_t n)
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

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *bytes_dup(struct moq_bytes b)
{
	char *p = malloc(b.len + 1);
	if (!p)
		return NULL;
	if (b.len)
		memcpy(p, b.ptr, b.len);
	p[b.len] = 0;
	return p;
}

static const char *tname(uint64_t type)
{
	const char *n = moq_ctrl_type_name(type);
	return n ? n : "unknown message";
}

bool s_closing(const struct moq_session *s)
{
	return s->state >= MOQ_SESSION_CLOSING;
}

void s_enter(struct moq_session *s)
{
	s->depth++;
}

static void session_free(struct moq_session *s);

static void reap(struct moq_session *s)
{
	while (s->grave_req) {
		struct moq_request *r = s->grave_req;
		s->grave_req = r->gnext;
		if (r->rd_init)
			moq_ctrl_reader_free(&r->rd);
		sbuf_free(&r->pend_out);
		sbuf_free(&r->pend_in);
		free(r->track_buf);
		free(r);
	}
	reap_data(s);
}

void s_leave(struct moq_session *s)
{
	if (--s->depth > 0)
		return;
	reap(s);
	if (s->free_pending)
		session_free(s);
}

void s_fail(struct moq_session *s, uint64_t code, const char *what, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (s_closing(s))
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	const char *cn = moq_session_code_name(code);
	moq_warn(MOD, "session %s: %s: %s; closing with %s (0x%llx)", s->name, what, reason,
		 cn ? cn : "?", (unsigned long long)code);
	s->state = MOQ_SESSION_CLOSING;
	moq_quic_conn_close(s->conn, code, reason);
}

void moq_session_close(struct moq_session *s, uint64_t code, const char *reason)
{
	if (!s || s_closing(s))
		return;
	const char *cn = moq_session_code_name(code);
	moq_info(MOD, "session %s: closing with %s (0x%llx)%s%s", s->name, cn ? cn : "?",
		 (unsigned long long)code, reason ? ": " : "", reason ? reason : "");
	s->state = MOQ_SESSION_CLOSING;
	moq_quic_conn_close(s->conn, code, reason);
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

static uint32_t req_stream_priority(const struct moq_request *r)
{
	return 1u + r->info.subscriber_priority / 32u;
}

/* ---- alias tables and tombstones --------------------------------------- */

static unsigned abucket(uint64_t alias)
{
	return (unsigned)((alias * 0x9E3779B97F4A7C15ull) >> 58) % ALIAS_BUCKETS;
}

struct moq_request *alias_find(struct moq_request **tab, uint64_t alias)
{
	for (struct moq_request *r = tab[abucket(alias)]; r; r = r->alias_next)
		if (r->alias == alias)
			return r;
	return NULL;
}

static void alias_insert(struct moq_request **tab, struct moq_request *r, uint64_t alias,
			 bool sub_table)
{
	unsigned b = abucket(alias);
	r->alias = alias;
	r->alias_set = true;
	r->alias_in_sub_table = sub_table;
	r->alias_next = tab[b];
	tab[b] = r;
}

static void alias_remove(struct moq_session *s, struct moq_request *r)
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

bool tomb_has(const struct moq_session *s, uint64_t alias)
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

static bool check_peer_id(struct moq_session *s, uint64_t id, const char *what)
{
	int rc = peer_id_take(s, id);
	if (rc == 0)
		return true;
	s_fail(s, MOQ_SESSION_INVALID_REQUEST_ID, what,
	       rc == -1 ? "Request ID %llu has the wrong parity for a %s"
			: "duplicate Request ID %llu from the %s",
	       (unsigned long long)id, s->is_server ? "client" : "server");
	return false;
}

/* ---- writing control messages ------------------------------------------ */

static int encode(struct moq_session *s, const struct moq_ctrl_msg *m)
{
	int n = moq_ctrl_encode(s->scratch, MOQ_CTRL_MAX_FRAME, m);
	if (n < 0)
		moq_warn(MOD, "session %s: cannot encode %s: %s", s->name, tname(m->type),
			 moq_strerror(n));
	return n;
}

static int ctrl_send(struct moq_session *s, const struct moq_ctrl_msg *m)
{
	int n = encode(s, m);
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
		return sbuf_append(&r->pend_out, p, n);
	return moq_quic_stream_write(s->conn, r->sid, p, n, fin);
}

static int req_send(struct moq_request *r, const struct moq_ctrl_msg *m, int fin)
{
	int n = encode(r->s, m);
	if (n < 0)
		return -EINVAL;
	return req_write(r, r->s->scratch, (size_t)n, fin);
}

void req_send_fin(struct moq_request *r)
{
	if (!r->tx_fin)
		req_write(r, NULL, 0, 1);
}

/* ---- request objects ----------------------------------------------------- */

static struct moq_request *req_new(struct moq_session *s, bool local)
{
	struct moq_request *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->kind = SOBJ_REQ;
	r->s = s;
	r->sid = -1;
	r->local = local;
	r->state = MOQ_REQ_PENDING;
	r->info.subscriber_priority = 128;
	r->info.publisher_priority = 128;
	r->info.group_order = MOQ_GROUP_ORDER_ASCENDING;
	r->info.forward = true;
	r->next = s->reqs;
	if (s->reqs)
		s->reqs->prev = r;
	s->reqs = r;
	return r;
}

static int req_copy_track(struct moq_request *r, const struct moq_namespace *ns,
			  const struct moq_bytes *name)
{
	size_t total = name ? name->len : 0;
	for (size_t i = 0; i < ns->nfields; i++)
		total += ns->fields[i].len;
	r->track_buf = malloc(total + 1);
	if (!r->track_buf)
		return -ENOMEM;
	uint8_t *p = r->track_buf;
	r->ns.nfields = ns->nfields;
	for (size_t i = 0; i < ns->nfields; i++) {
		if (ns->fields[i].len)
			memcpy(p, ns->fields[i].ptr, ns->fields[i].len);
		r->ns.fields[i].ptr = p;
		r->ns.fields[i].len = ns->fields[i].len;
		p += ns->fields[i].len;
	}
	r->name.ptr = p;
	r->name.len = name ? name->len : 0;
	if (name && name->len)
		memcpy(p, name->ptr, name->len);
	r->has_track = true;
	return 0;
}

static bool track_eq(const struct moq_request *a, const struct moq_request *b)
{
	if (!a->has_track || !b->has_track || a->ns.nfields != b->ns.nfields ||
	    a->name.len != b->name.len)
		return false;
	for (size_t i = 0; i < a->ns.nfields; i++)
		if (a->ns.fields[i].len != b->ns.fields[i].len ||
		    memcmp(a->ns.fields[i].ptr, b->ns.fields[i].ptr, a->ns.fields[i].len))
			return false;
	return a->name.len == 0 || !memcmp(a->name.ptr, b->name.ptr, a->name.len);
}

static uint64_t min_nz(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static void info_recompute(struct moq_request *r)
{
	r->info.object_delivery_timeout = min_nz(r->sub_obj_to, r->pub_obj_to);
	r->info.subgroup_delivery_timeout = min_nz(r->sub_sg_to, r->pub_sg_to);
}

/* Parameters a subscriber sends (SUBSCRIBE, REQUEST_UPDATE, PUBLISH_OK). */
static void info_apply_sub_params(struct moq_request *r, const struct moq_params *p)
{
	uint64_t v;
	if (moq_params_get_u64(p, MOQ_PARAM_SUBSCRIBER_PRIORITY, &v))
		r->info.subscriber_priority = (uint8_t)v;
	if (moq_params_get_u64(p, MOQ_PARAM_GROUP_ORDER, &v) && r->state == MOQ_REQ_PENDING) {
		r->info.group_order = (uint8_t)v;
		r->order_from_sub = true;
	}
	if (moq_params_get_u64(p, MOQ_PARAM_FORWARD, &v))
		r->info.forward = v != 0;
	if (moq_params_get_filter(p, &r->info.filter))
		r->info.has_filter = true;
	if (moq_params_get_u64(p, MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT, &v))
		r->sub_obj_to = v;
	if (moq_params_get_u64(p, MOQ_PARAM_SUBGROUP_DELIVERY_TIMEOUT, &v))
		r->sub_sg_to = v;
	info_recompute(r);
}

/* Track Properties / publisher parameters (SUBSCRIBE_OK, PUBLISH). */
static void info_apply_pub(struct moq_request *r, const struct moq_params *p,
			   struct moq_bytes props)
{
	uint64_t v;
	if (p && !r->order_from_sub && moq_params_get_u64(p, MOQ_PARAM_GROUP_ORDER, &v))
		r->info.group_order = (uint8_t)v;
	if (p && moq_params_get_u64(p, MOQ_PARAM_FORWARD, &v))
		r->info.forward = v != 0;
	struct moq_kvp_iter it;
	struct moq_kvp kv;
	moq_kvp_iter_init(&it, props.ptr, props.len);
	while (moq_kvp_next(&it, &kv) == 1) {
		switch (kv.type) {
		case MOQ_PROP_OBJECT_DELIVERY_TIMEOUT:
			r->pub_obj_to = kv.value;
			break;
		case MOQ_PROP_SUBGROUP_DELIVERY_TIMEOUT:
			r->pub_sg_to = kv.value;
			break;
		case MOQ_PROP_DEFAULT_PUBLISHER_PRIORITY:
			if (kv.value <= 255)
				r->info.publisher_priority = (uint8_t)kv.value;
			break;
		case MOQ_PROP_DEFAULT_PUBLISHER_GROUP_ORDER:
			if (!r->order_from_sub && (kv.value == 1 || kv.value == 2))
				r->info.group_order = (uint8_t)kv.value;
			break;
		default:
			break;
		}
	}
	info_recompute(r);
}

static void req_unqueue(struct moq_session *s, struct moq_request *r)
{
	if (!r->queued)
		return;
	struct moq_request **pp = &s->qhead;
	struct moq_request *prev = NULL;
	while (*pp && *pp != r) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp) {
		*pp = r->qnext;
		if (s->qtail == r)
			s->qtail = prev;
	}
	r->queued = false;
}

/* Remove r from every table, reset/detach its data streams, free later. */
static void req_kill(struct moq_request *r)
{
	struct moq_session *s = r->s;
	if (r->dead)
		return;
	r->dead = true;
	r->state = MOQ_REQ_DONE;
	req_unqueue(s, r);
	alias_remove(s, r);
	if (!r->local) {
		if (s->n_peer_reqs)
			s->n_peer_reqs--;
		if (r->is_sub && s->n_peer_subs)
			s->n_peer_subs--;
	}
	tx_end_all(r);
	while (r->rxs) {
		struct moq_rx *rx = r->rxs;
		r->rxs = rx->rnext;
		if (r->rxs)
			r->rxs->rprev = NULL;
		rx->r = NULL;
		rx->rnext = rx->rprev = NULL;
	}
	/* requests that joined this one lose the link */
	for (struct moq_request *o = s->reqs; o; o = o->next)
		if (o->joined == r)
			o->joined = NULL;
	if (r->sid >= 0)
		moq_quic_stream_set_user(s->conn, r->sid, &s->ignore);
	if (r->prev)
		r->prev->next = r->next;
	else
		s->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->gnext = s->grave_req;
	s->grave_req = r;
}

void req_end(struct moq_request *r, enum moq_request_end why, uint64_t code, bool notify)
{
	struct moq_session *s = r->s;
	if (r->dead)
		return;
	r->state = MOQ_REQ_DONE;
	/* data streams go first so the app sees them end before the request */
	tx_end_all(r);
	/* incoming data streams still open: tell the app, then stop them */
	while (notify && r->rxs) {
		struct moq_rx *rx = r->rxs;
		if (rx->header_delivered && s->cb && s->cb->on_data_reset)
			s->cb->on_data_reset(s, rx,
					     why == MOQ_REQ_END_SESSION ? MOQ_RESET_SESSION_CLOSED
									: MOQ_RESET_CANCELLED,
					     1);
		if (r->dead)
			return; /* the app ended it from the callback */
		if (r->rxs == rx)
			rx_stop(rx, MOQ_RESET_CANCELLED);
	}
	if (notify && s->cb && s->cb->on_request_closed)
		s->cb->on_request_closed(s, r, why, code);
	req_kill(r);
}

void req_maybe_complete(struct moq_request *r)
{
	if (r->dead || !r->tx_fin || !r->rx_fin)
		return;
	if (r->done_rx && r->linger_until)
		return; /* waiting for late data streams */
	req_end(r, MOQ_REQ_END_COMPLETE, 0, true);
}

struct moq_request *req_find_local(struct moq_session *s, uint64_t type, uint64_t id)
{
	for (struct moq_request *r = s->reqs; r; r = r->next)
		if (r->local && r->type == type && r->id == id && !r->dead)
			return r;
	return NULL;
}

static struct moq_request *req_find_peer(struct moq_session *s, uint64_t type, uint64_t id)
{
	for (struct moq_request *r = s->reqs; r; r = r->next)
		if (!r->local && r->type == type && r->id == id && !r->dead)
			return r;
	return NULL;
}

/* ---- housekeeping timer ------------------------------------------------- */

static void hk_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct moq_session *s = arg;
	uint64_t now = moq_loop_now();
	bool again = false;
	(void)loop;
	(void)t;

	s_enter(s);
	if (s->state == MOQ_SESSION_SETUP && s->setup_deadline && now >= s->setup_deadline) {
		s_fail(s, MOQ_SESSION_CONTROL_MESSAGE_TIMEOUT, "SETUP",
		       "peer sent no SETUP within %llu ms",
		       (unsigned long long)s->cfg.setup_timeout_ms);
	} else if (s->state == MOQ_SESSION_SETUP && s->setup_deadline) {
		again = true;
	}
	if (!s_closing(s) && s->goaway_deadline) {
		if (now < s->goaway_deadline)
			again = true;
		else if (s->reqs)
			s_fail(s, MOQ_SESSION_GOAWAY_TIMEOUT, "GOAWAY",
			       "requests still open %llu ms after our GOAWAY",
			       (unsigned long long)s->goaway_timeout_ms);
		else
			s->goaway_deadline = 0;
	}
	if (!s_closing(s)) {
		for (struct moq_request *r = s->reqs, *n; r; r = n) {
			n = r->next;
			if (r->done_rx && r->linger_until) {
				if (now >= r->linger_until) {
					r->linger_until = 0;
					req_end(r, MOQ_REQ_END_DONE, 0, true);
				} else {
					again = true;
				}
			}
		}
		data_housekeeping(s, now);
		if (s->n_held_dgrams || s->held_bytes)
			again = true;
		for (struct moq_rx *rx = s->rxs; rx && !again; rx = rx->snext)
			if (rx->holding)
				again = true;
	}
	if (again && !s_closing(s))
		moq_timer_set_in(s->hk, HK_PERIOD_NS);
	s_leave(s);
}

void hk_arm(struct moq_session *s)
{
	if (moq_timer_when(s->hk) == UINT64_MAX)
		moq_timer_set_in(s->hk, HK_PERIOD_NS);
}

/* ---- SETUP ---------------------------------------------------------------- */

static void send_setup(struct moq_session *s)
{
	struct moq_ctrl_msg m;
	uint8_t tokbuf[MOQ_MAX_SETUP_TOKENS][1024];
	size_t n = 0;

	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	if (!s->is_server && s->path && *s->path) {
		m.setup.options[n].type = MOQ_SETUP_PATH;
		m.setup.options[n].bytes.ptr = (const uint8_t *)s->path;
		m.setup.options[n++].bytes.len = strlen(s->path);
	}
	for (size_t i = 0; i < s->cfg.num_auth_tokens && i < MOQ_MAX_SETUP_TOKENS; i++) {
		int k = moq_auth_token_encode(tokbuf[i], sizeof(tokbuf[i]), &s->tokens[i]);
		if (k < 0) {
			moq_warn(MOD, "session %s: cannot encode auth token %zu: %s", s->name, i,
				 moq_strerror(k));
			continue;
		}
		m.setup.options[n].type = MOQ_SETUP_AUTHORIZATION_TOKEN;
		m.setup.options[n].bytes.ptr = tokbuf[i];
		m.setup.options[n++].bytes.len = (size_t)k;
	}
	if (!s->is_server && s->authority && *s->authority) {
		m.setup.options[n].type = MOQ_SETUP_AUTHORITY;
		m.setup.options[n].bytes.ptr = (const uint8_t *)s->authority;
		m.setup.options[n++].bytes.len = strlen(s->authority);
	}
	if (s->implementation && *s->implementation) {
		m.setup.options[n].type = MOQ_SETUP_MOQT_IMPLEMENTATION;
		m.setup.options[n].bytes.ptr = (const uint8_t *)s->implementation;
		m.setup.options[n++].bytes.len = strlen(s->implementation);
	}
	m.setup.num_options = n;
	int rc = ctrl_send(s, &m);
	if (rc < 0)
		s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "SETUP", "cannot send our SETUP (%d)", rc);
}

static void req_open(struct moq_request *r);
static void req_process_pending_in(struct moq_request *r);

static void session_ready(struct moq_session *s)
{
	s->state = MOQ_SESSION_READY;
	moq_info(MOD, "session %s: ready (peer implementation \"%s\")", s->name,
		 s->peer.implementation);
	if (s->cb && s->cb->on_ready)
		s->cb->on_ready(s);
	if (s_closing(s))
		return;
	/* peer requests that arrived before the SETUP */
	for (struct moq_request *r = s->reqs, *n; r && !s_closing(s); r = n) {
		n = r->next;
		if (!r->dead && !r->local && (r->pend_in.len || r->pend_in_fin))
			req_process_pending_in(r);
	}
	/* our requests queued before READY */
	while (s->qhead && !s_closing(s)) {
		struct moq_request *r = s->qhead;
		req_open(r);
		if (r->queued)
			break; /* stream limit */
	}
}

static void handle_setup(struct moq_session *s, const struct moq_setup *st)
{
	if (!s->is_server && st->has_path) {
		s_fail(s, MOQ_SESSION_INVALID_PATH, "SETUP", "server sent a PATH option");
		return;
	}
	if (!s->is_server && st->has_authority) {
		s_fail(s, MOQ_SESSION_INVALID_AUTHORITY, "SETUP",
		       "server sent an AUTHORITY option");
		return;
	}
	/* native QUIC only (no WebTransport here): both options must follow
	 * RFC 3986 (draft-18 "PATH", "AUTHORITY") */
	if (st->has_path && !moq_uri_path_valid(st->path.ptr, st->path.len)) {
		s_fail(s, MOQ_SESSION_MALFORMED_PATH, "SETUP",
		       "PATH \"%.*s\" is not an RFC 3986 path-abempty [\"?\" query]",
		       (int)(st->path.len > 200 ? 200 : st->path.len), (const char *)st->path.ptr);
		return;
	}
	if (st->has_authority &&
	    !moq_uri_authority_valid(st->authority.ptr, st->authority.len)) {
		s_fail(s, MOQ_SESSION_MALFORMED_AUTHORITY, "SETUP",
		       "AUTHORITY \"%.*s\" is not an RFC 3986 authority with a host",
		       (int)(st->authority.len > 200 ? 200 : st->authority.len),
		       st->authority.ptr ? (const char *)st->authority.ptr : "");
		return;
	}
	free(s->peer_path);
	free(s->peer_authority);
	free(s->peer_impl);
	s->peer_path = bytes_dup(st->has_path ? st->path : (struct moq_bytes){0});
	s->peer_authority = bytes_dup(st->has_authority ? st->authority : (struct moq_bytes){0});
	s->peer_impl = bytes_dup(st->has_moqt_implementation ? st->moqt_implementation
							     : (struct moq_bytes){0});
	if (!s->peer_path || !s->peer_authority || !s->peer_impl) {
		s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "SETUP", "out of memory");
		return;
	}
	s->peer.path = s->peer_path;
	s->peer.authority = s->peer_authority;
	s->peer.implementation = s->peer_impl;
	s->peer.has_max_auth_token_cache_size = st->has_max_auth_token_cache_size;
	s->peer.max_auth_token_cache_size = st->max_auth_token_cache_size;
	s->setup_rx = true;
	s->setup_deadline = 0;
	if (s->cb && s->cb->on_setup) {
		int code = s->cb->on_setup(s, st);
		if (code > 0) {
			s_fail(s, (uint64_t)code, "SETUP",
			       "rejected by the application (path \"%s\")", s->peer.path);
			return;
		}
	}
	if (s_closing(s))
		return;
	if (s->state == MOQ_SESSION_SETUP)
		session_ready(s);
}

static void handle_control_msg(struct moq_session *s, const struct moq_ctrl_msg *m)
{
	if (m->type == MOQ_CTRL_SETUP) {
		handle_setup(s, &m->setup);
		return;
	}
	if (m->type != MOQ_CTRL_GOAWAY) {
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, tname(m->type),
		       "not allowed on the control stream");
		return;
	}
	const struct moq_goaway *g = &m->goaway;
	if (s->goaway_rx) {
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "GOAWAY",
		       "second GOAWAY on the control stream");
		return;
	}
	if (s->is_server && g->new_session_uri.len) {
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "GOAWAY",
		       "client sent a New Session URI");
		return;
	}
	if (g->has_request_id && (g->request_id & 1) != (s->is_server ? 1 : 0)) {
		s_fail(s, MOQ_SESSION_INVALID_REQUEST_ID, "GOAWAY",
		       "Request ID %llu has the wrong parity", (unsigned long long)g->request_id);
		return;
	}
	s->goaway_rx = true;
	moq_info(MOD, "session %s: GOAWAY received (timeout %llu ms)", s->name,
		 (unsigned long long)g->timeout);
	if (s->cb && s->cb->on_goaway)
		s->cb->on_goaway(s, g);
}

/* Bytes on the peer's control stream (the stream type is the SETUP type). */
void ctrl_rx_feed(struct moq_session *s, const uint8_t *p, size_t n, int fin)
{
	struct moq_ctrl_msg m;

	if (!s->ctrl_rd_init) {
		if (moq_ctrl_reader_init(&s->ctrl_rd, MOQ_CTRL_READER_CONTROL)) {
			s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "control stream", "out of memory");
			return;
		}
		s->ctrl_rd_init = true;
	}
	do {
		size_t k = moq_ctrl_reader_feed(&s->ctrl_rd, p, n);
		p += k;
		n -= k;
		int rc;
		while ((rc = moq_ctrl_reader_next(&s->ctrl_rd, &m)) == 1) {
			handle_control_msg(s, &m);
			if (s_closing(s))
				return;
		}
		if (rc != MOQ_ERR_NEED_MORE) {
			const struct moq_ctrl_err *e = moq_ctrl_reader_error(&s->ctrl_rd);
			s_fail(s, (uint64_t)moq_ctrl_err_to_session_code(rc), "control stream",
			       "%s: %s (offset %zu)", moq_strerror(rc), e && e->what ? e->what : "",
			       e ? e->offset : 0);
			return;
		}
		if (k == 0 && n > 0) {
			s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "control stream", "reader stalled");
			return;
		}
	} while (n > 0);
	if (fin)
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
		       "peer closed its control stream");
}

/* ---- incoming request messages ----------------------------------------- */

static void reject(struct moq_request *r, uint64_t code, const char *why)
{
	moq_request_error(r, code, 0, why);
}

static void handle_first(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct moq_session *s = r->s;
	const char *what = tname(m->type);
	uint64_t id = 0;

	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
		id = m->subscribe.request_id;
		break;
	case MOQ_CTRL_TRACK_STATUS:
		id = m->track_status.request_id;
		break;
	case MOQ_CTRL_FETCH:
		id = m->fetch.request_id;
		break;
	case MOQ_CTRL_PUBLISH:
		id = m->publish.request_id;
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		id = m->publish_namespace.request_id;
		break;
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
		id = m->subscribe_namespace.request_id;
		break;
	case MOQ_CTRL_SUBSCRIBE_TRACKS:
		id = m->subscribe_tracks.request_id;
		break;
	default:
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
		       "a request stream must begin with a request");
		return;
	}
	if (!check_peer_id(s, id, what))
		return;
	r->id = id;
	r->type = m->type;
	s->n_peer_reqs++;
	s->stats.requests_received++;

	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
	case MOQ_CTRL_TRACK_STATUS:
		if (req_copy_track(r, &m->subscribe.track_namespace, &m->subscribe.track_name) < 0)
			goto nomem;
		info_apply_sub_params(r, &m->subscribe.params);
		if (m->type == MOQ_CTRL_SUBSCRIBE) {
			r->is_sub = true;
			s->n_peer_subs++;
		}
		break;
	case MOQ_CTRL_FETCH:
		if (m->fetch.fetch_type == MOQ_FETCH_STANDALONE) {
			if (req_copy_track(r, &m->fetch.standalone.track_namespace,
					   &m->fetch.standalone.track_name) < 0)
				goto nomem;
		}
		info_apply_sub_params(r, &m->fetch.params);
		break;
	case MOQ_CTRL_PUBLISH:
		if (req_copy_track(r, &m->publish.track_namespace, &m->publish.track_name) < 0)
			goto nomem;
		r->is_sub = true;
		s->n_peer_subs++;
		info_apply_pub(r, &m->publish.params, m->publish.track_properties);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		if (req_copy_track(r, &m->publish_namespace.track_namespace, NULL) < 0)
			goto nomem;
		break;
	default:
		break;
	}

	if (s->goaway_tx) {
		reject(r, MOQ_REQERR_GOING_AWAY, "going away");
		return;
	}
	uint32_t maxr = s->cfg.max_requests ? s->cfg.max_requests : 256;
	uint32_t maxs = s->cfg.max_subscriptions ? s->cfg.max_subscriptions : 128;
	if (s->n_peer_reqs > maxr) {
		reject(r, MOQ_REQERR_EXCESSIVE_LOAD, "too many requests");
		return;
	}
	if (r->is_sub && s->n_peer_subs > maxs) {
		reject(r, MOQ_REQERR_EXCESSIVE_LOAD, "too many subscriptions");
		return;
	}
	if (m->type == MOQ_CTRL_SUBSCRIBE) {
		for (struct moq_request *o = s->reqs; o; o = o->next) {
			if (o != r && !o->local && o->type == MOQ_CTRL_SUBSCRIBE && !o->dead &&
			    track_eq(o, r)) {
				reject(r, MOQ_REQERR_DUPLICATE_SUBSCRIPTION,
				       "already subscribed to this track");
				return;
			}
		}
	}
	if (m->type == MOQ_CTRL_FETCH && m->fetch.fetch_type != MOQ_FETCH_STANDALONE) {
		struct moq_request *j =
		    req_find_peer(s, MOQ_CTRL_SUBSCRIBE, m->fetch.joining.joining_request_id);
		if (!j) {
			reject(r, MOQ_REQERR_INVALID_JOINING_REQUEST_ID, "no such subscription");
			return;
		}
		r->joined = j;
		if (j->has_track && req_copy_track(r, &j->ns, &j->name) < 0)
			goto nomem;
	}
	if (m->type == MOQ_CTRL_PUBLISH) {
		struct moq_request *o = alias_find(s->sub_alias, m->publish.track_alias);
		if (o) {
			s_fail(s, MOQ_SESSION_DUPLICATE_TRACK_ALIAS, "PUBLISH",
			       "Track Alias %llu already in use",
			       (unsigned long long)m->publish.track_alias);
			return;
		}
		alias_insert(s->sub_alias, r, m->publish.track_alias, true);
	}
	moq_quic_stream_set_priority(s->conn, r->sid, req_stream_priority(r));
	if (!s->cb || !s->cb->on_request) {
		reject(r, MOQ_REQERR_NOT_SUPPORTED, "not supported");
		return;
	}
	s->cb->on_request(s, r, m);
	if (!r->dead && m->type == MOQ_CTRL_PUBLISH && r->alias_set)
		rx_match_alias(s, r), dgram_match_alias(s, r);
	return;
nomem:
	s_fail(s, MOQ_SESSION_INTERNAL_ERROR, what, "out of memory");
}

/* PUBLISH_DONE received: wait for the streams it counts. The draft's timer
 * (at least the larger delivery timeout, here at least 1 s) restarts on
 * every sign of progress (a stream of the subscription opens or brings
 * data), so a backlog still draining on a lossy link is not cut off; it
 * never runs past publish_done_wait_ms after PUBLISH_DONE. */
static void begin_linger(struct moq_request *r, const struct moq_publish_done *d)
{
	uint64_t ms = r->info.object_delivery_timeout;
	uint64_t cap_ms =
	    r->s->cfg.publish_done_wait_ms ? r->s->cfg.publish_done_wait_ms : PUBLISH_DONE_WAIT_MS;
	uint64_t now = moq_loop_now();
	if (r->info.subgroup_delivery_timeout > ms)
		ms = r->info.subgroup_delivery_timeout;
	if (ms < LINGER_MIN_MS)
		ms = LINGER_MIN_MS;
	if (ms > (1ull << 40))
		ms = 1ull << 40;
	if (cap_ms > (1ull << 40))
		cap_ms = 1ull << 40;
	if (cap_ms < ms)
		cap_ms = ms;
	r->done_rx = true;
	r->done_count = d->stream_count;
	r->linger_ns = ms * 1000000ull;
	r->linger_until = now + r->linger_ns;
	r->linger_hard = now + cap_ms * 1000000ull;
	hk_arm(r->s);
}

void req_linger_touch(struct moq_request *r)
{
	if (r->dead || !r->done_rx || !r->linger_until)
		return;
	uint64_t t = moq_loop_now() + r->linger_ns;
	if (t > r->linger_hard)
		t = r->linger_hard;
	if (t > r->linger_until)
		r->linger_until = t;
}

/* After PUBLISH_DONE: end once all announced streams arrived and ended. */
void req_linger_check(struct moq_request *r)
{
	if (r->dead || !r->done_rx || !r->linger_until)
		return;
	if (r->streams_rx >= r->done_count && !r->rxs) {
		r->linger_until = 0;
		req_end(r, MOQ_REQ_END_DONE, 0, true);
	}
}

static bool props_empty_check(struct moq_request *r, const char *what, struct moq_bytes props)
{
	if (props.len == 0)
		return true;
	s_fail(r->s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
	       "Track Properties must be empty in this response");
	return false;
}

static void deliver(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct moq_session *s = r->s;
	if (s->cb && s->cb->on_request_msg)
		s->cb->on_request_msg(s, r, m);
}

/* FETCH End Location is "last Object + 1", or Object 0 for the whole
 * group: is the range it ends empty given start? */
static bool fetch_end_before(struct moq_location end, struct moq_location start)
{
	if (end.object == 0)
		return end.group < start.group;
	struct moq_location last = {end.group, end.object - 1};
	return moq_location_cmp(last, start) < 0;
}

static void handle_response(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct moq_session *s = r->s;
	const char *what = tname(m->type);

	if (m->type == MOQ_CTRL_GOAWAY) {
		if (r->goaway_rx) {
			s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
			       "second GOAWAY on request stream %lld", (long long)r->sid);
			return;
		}
		r->goaway_rx = true;
		deliver(r, m);
		return;
	}
	if (r->state == MOQ_REQ_PENDING) {
		/* the first answer */
		if (m->type == MOQ_CTRL_REQUEST_ERROR) {
			deliver(r, m);
			if (!r->dead)
				alias_remove(s, r), req_send_fin(r),
				    req_end(r, MOQ_REQ_END_ERROR, m->request_error.error_code,
					    true);
			return;
		}
		switch (r->type) {
		case MOQ_CTRL_SUBSCRIBE:
			if (m->type != MOQ_CTRL_SUBSCRIBE_OK)
				goto bad;
			if (alias_find(s->sub_alias, m->subscribe_ok.track_alias)) {
				s_fail(s, MOQ_SESSION_DUPLICATE_TRACK_ALIAS, what,
				       "Track Alias %llu already in use",
				       (unsigned long long)m->subscribe_ok.track_alias);
				return;
			}
			r->state = MOQ_REQ_ESTABLISHED;
			alias_insert(s->sub_alias, r, m->subscribe_ok.track_alias, true);
			info_apply_pub(r, &m->subscribe_ok.params,
				       m->subscribe_ok.track_properties);
			deliver(r, m);
			if (!r->dead && !s_closing(s)) {
				rx_match_alias(s, r);
				dgram_match_alias(s, r);
			}
			return;
		case MOQ_CTRL_FETCH:
			if (m->type != MOQ_CTRL_FETCH_OK)
				goto bad;
			if (r->has_fetch_start &&
			    fetch_end_before(m->fetch_ok.end_location, r->fetch_start)) {
				s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
				       "End Location {%llu, %llu} is before the "
				       "FETCH Start Location",
				       (unsigned long long)m->fetch_ok.end_location.group,
				       (unsigned long long)m->fetch_ok.end_location.object);
				return;
			}
			r->state = MOQ_REQ_ESTABLISHED;
			deliver(r, m);
			return;
		case MOQ_CTRL_PUBLISH:
			if (m->type != MOQ_CTRL_PUBLISH_OK && m->type != MOQ_CTRL_REQUEST_OK)
				goto bad;
			if (!props_empty_check(r, what, m->request_ok.track_properties))
				return;
			r->state = MOQ_REQ_ESTABLISHED;
			info_apply_sub_params(r, &m->request_ok.params);
			tx_reprioritize(r);
			deliver(r, m);
			return;
		case MOQ_CTRL_TRACK_STATUS:
		case MOQ_CTRL_PUBLISH_NAMESPACE:
		case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
		case MOQ_CTRL_SUBSCRIBE_TRACKS: {
			if (m->type != MOQ_CTRL_REQUEST_OK)
				goto bad;
			int ctx = r->type == MOQ_CTRL_TRACK_STATUS ? MOQ_PCTX_TRACK_STATUS_OK
				  : r->type == MOQ_CTRL_PUBLISH_NAMESPACE
				      ? MOQ_PCTX_PUBLISH_NAMESPACE_OK
				  : r->type == MOQ_CTRL_SUBSCRIBE_NAMESPACE
				      ? MOQ_PCTX_SUBSCRIBE_NAMESPACE_OK
				      : MOQ_PCTX_SUBSCRIBE_TRACKS_OK;
			if (moq_params_check(&m->request_ok.params, ctx) < 0) {
				s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
				       "parameter not allowed in this REQUEST_OK");
				return;
			}
			if (r->type != MOQ_CTRL_TRACK_STATUS &&
			    !props_empty_check(r, what, m->request_ok.track_properties))
				return;
			r->state = MOQ_REQ_ESTABLISHED;
			deliver(r, m);
			if (!r->dead && r->type == MOQ_CTRL_TRACK_STATUS) {
				req_send_fin(r);
				req_maybe_complete(r);
			}
			return;
		}
		default:
			goto bad;
		}
	}
	/* established */
	switch (m->type) {
	case MOQ_CTRL_REQUEST_OK:
	case MOQ_CTRL_REQUEST_ERROR:
		if (!r->updates_out)
			goto bad;
		r->updates_out--;
		if (m->type == MOQ_CTRL_REQUEST_OK &&
		    (moq_params_check(&m->request_ok.params, MOQ_PCTX_REQUEST_UPDATE_OK) < 0 ||
		     !props_empty_check(r, what, m->request_ok.track_properties))) {
			if (!s_closing(s))
				s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
				       "parameter not allowed in REQUEST_UPDATE_OK");
			return;
		}
		deliver(r, m);
		return;
	case MOQ_CTRL_PUBLISH_DONE:
		if (r->type != MOQ_CTRL_SUBSCRIBE || r->done_rx)
			goto bad;
		begin_linger(r, &m->publish_done);
		deliver(r, m);
		if (!r->dead) {
			req_send_fin(r);
			req_linger_check(r);
		}
		return;
	case MOQ_CTRL_NAMESPACE:
	case MOQ_CTRL_NAMESPACE_DONE:
	case MOQ_CTRL_PUBLISH_BLOCKED:
		if (r->type != MOQ_CTRL_SUBSCRIBE_NAMESPACE && r->type != MOQ_CTRL_SUBSCRIBE_TRACKS)
			goto bad;
		deliver(r, m);
		return;
	case MOQ_CTRL_REQUEST_UPDATE:
		if (r->type != MOQ_CTRL_PUBLISH)
			goto bad;
		if (!check_peer_id(s, m->request_update.request_id, what))
			return;
		r->updates_in++;
		info_apply_sub_params(r, &m->request_update.params);
		tx_reprioritize(r);
		deliver(r, m);
		return;
	default:
		goto bad;
	}
bad:
	s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
	       "not allowed on a %s request stream in state %s", tname(r->type),
	       r->state == MOQ_REQ_PENDING ? "pending" : "established");
}

/* Later messages from the requester on a peer request stream. */
static void handle_peer_later(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct moq_session *s = r->s;
	const char *what = tname(m->type);

	switch (m->type) {
	case MOQ_CTRL_GOAWAY:
		if (r->goaway_rx) {
			s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
			       "second GOAWAY on request stream %lld", (long long)r->sid);
			return;
		}
		r->goaway_rx = true;
		deliver(r, m);
		return;
	case MOQ_CTRL_REQUEST_UPDATE:
		if (r->type == MOQ_CTRL_TRACK_STATUS || r->type == MOQ_CTRL_PUBLISH)
			break;
		if (!check_peer_id(s, m->request_update.request_id, what))
			return;
		r->updates_in++;
		info_apply_sub_params(r, &m->request_update.params);
		tx_reprioritize(r);
		moq_quic_stream_set_priority(s->conn, r->sid, req_stream_priority(r));
		deliver(r, m);
		return;
	case MOQ_CTRL_PUBLISH_DONE:
		if (r->type != MOQ_CTRL_PUBLISH || r->done_rx)
			break;
		begin_linger(r, &m->publish_done);
		deliver(r, m);
		if (!r->dead) {
			req_send_fin(r);
			req_linger_check(r);
		}
		return;
	case MOQ_CTRL_REQUEST_OK:
	case MOQ_CTRL_REQUEST_ERROR:
		/* answers to our REQUEST_UPDATE on a peer PUBLISH */
		if (r->type != MOQ_CTRL_PUBLISH || !r->updates_out)
			break;
		r->updates_out--;
		deliver(r, m);
		return;
	default:
		break;
	}
	s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
	       "not allowed from the requester on a %s request stream", tname(r->type));
}

static void req_handle(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	if (r->local)
		handle_response(r, m);
	else if (r->rd.nmsgs == 1)
		handle_first(r, m);
	else
		handle_peer_later(r, m);
}

static void req_feed(struct moq_request *r, const uint8_t *p, size_t n)
{
	struct moq_session *s = r->s;
	struct moq_ctrl_msg m;

	if (!r->rd_init) {
		if (moq_ctrl_reader_init(&r->rd, r->local ? 0 : MOQ_CTRL_READER_REQUEST)) {
			s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "request stream", "out of memory");
			return;
		}
		r->rd_init = true;
	}
	do {
		size_t k = moq_ctrl_reader_feed(&r->rd, p, n);
		p += k;
		n -= k;
		int rc;
		while ((rc = moq_ctrl_reader_next(&r->rd, &m)) == 1) {
			req_handle(r, &m);
			if (r->dead || s_closing(s))
				return;
		}
		if (rc != MOQ_ERR_NEED_MORE) {
			const struct moq_ctrl_err *e = moq_ctrl_reader_error(&r->rd);
			char what[64];
			uint64_t t = r->type;
			size_t plen;
			if (r->rd.end > r->rd.start)
				moq_ctrl_peek_header(&t, &plen, r->rd.buf + r->rd.start,
						     r->rd.end - r->rd.start);
			snprintf(what, sizeof(what), "%s on request stream %lld",
				 t ? tname(t) : "message", (long long)r->sid);
			s_fail(s, (uint64_t)moq_ctrl_err_to_session_code(rc), what,
			       "%s: %s (offset %zu, value %llu)", moq_strerror(rc),
			       e && e->what ? e->what : "", e ? e->offset : 0,
			       e ? (unsigned long long)e->value : 0ull);
			return;
		}
		if (k == 0 && n > 0) {
			s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "request stream", "reader stalled");
			return;
		}
	} while (n > 0);
}

static void req_rx_fin(struct moq_request *r)
{
	struct moq_session *s = r->s;
	if (r->rd_init && moq_ctrl_reader_pending(&r->rd)) {
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "request stream",
		       "stream %lld ended inside a message", (long long)r->sid);
		return;
	}
	if (!r->local && (!r->rd_init || r->rd.nmsgs == 0)) {
		/* peer opened and closed a request stream without a request */
		req_kill(r);
		return;
	}
	r->rx_fin = true;
	if (r->local && r->state == MOQ_REQ_PENDING) {
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, tname(r->type),
		       "peer ended request stream %lld without an answer", (long long)r->sid);
		return;
	}
	req_maybe_complete(r);
}

static void req_process_pending_in(struct moq_request *r)
{
	struct sbuf b = r->pend_in;
	bool fin = r->pend_in_fin;
	memset(&r->pend_in, 0, sizeof(r->pend_in));
	r->pend_in_fin = false;
	if (b.len)
		req_feed(r, b.p, b.len);
	sbuf_free(&b);
	if (fin && !r->dead && !s_closing(r->s))
		req_rx_fin(r);
}

static void req_on_data(struct moq_request *r, const uint8_t *p, size_t n, int fin)
{
	struct moq_session *s = r->s;
	if (!r->local && s->state != MOQ_SESSION_READY) {
		if (r->pend_in.len + n > MOQ_CTRL_MAX_FRAME * 2) {
			s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "request stream",
			       "too much request data before SETUP");
			return;
		}
		if (sbuf_append(&r->pend_in, p, n) < 0) {
			s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "request stream", "out of memory");
			return;
		}
		if (fin)
			r->pend_in_fin = true;
		return;
	}
	if (n)
		req_feed(r, p, n);
	if (fin && !r->dead && !s_closing(s))
		req_rx_fin(r);
}

static void req_on_peer_cancel(struct moq_request *r, uint64_t code, bool stop_sending)
{
	struct moq_session *s = r->s;
	if (r->dead)
		return;
	/* abort the other direction too */
	if (r->sid >= 0) {
		if (stop_sending)
			moq_quic_stream_stop_sending(s->conn, r->sid, code);
		else if (!r->tx_fin)
			moq_quic_stream_reset(s->conn, r->sid, code);
	}
	r->tx_fin = r->rx_fin = true;
	if (!r->local && (!r->rd_init || r->rd.nmsgs == 0)) {
		req_kill(r);
		return;
	}
	req_end(r, MOQ_REQ_END_PEER_CANCEL, code, true);
}

/* ---- opening local requests --------------------------------------------- */

static void req_open(struct moq_request *r)
{
	struct moq_session *s = r->s;
	int64_t sid = moq_quic_stream_open_bidi(s->conn);
	if (sid == -EAGAIN) {
		if (!r->queued) {
			r->queued = true;
			r->qnext = NULL;
			if (s->qtail)
				s->qtail->qnext = r;
			else
				s->qhead = r;
			s->qtail = r;
		}
		return;
	}
	req_unqueue(s, r);
	if (sid < 0) {
		moq_warn(MOD, "session %s: cannot open a request stream: %s", s->name,
			 strerror((int)-sid));
		req_end(r, MOQ_REQ_END_SESSION, 0, true);
		return;
	}
	r->sid = sid;
	moq_quic_stream_set_user(s->conn, sid, r);
	moq_quic_stream_set_priority(s->conn, sid, req_stream_priority(r));
	struct sbuf b = r->pend_out;
	memset(&r->pend_out, 0, sizeof(r->pend_out));
	moq_quic_stream_write(s->conn, sid, b.p, b.len, r->tx_fin);
	sbuf_free(&b);
}

static void queue_request(struct moq_session *s, struct moq_request *r)
{
	if (s->state == MOQ_SESSION_READY && !s->qhead) {
		req_open(r);
		return;
	}
	r->queued = true;
	r->qnext = NULL;
	if (s->qtail)
		s->qtail->qnext = r;
	else
		s->qhead = r;
	s->qtail = r;
}

static uint64_t alloc_alias(struct moq_session *s)
{
	while (alias_find(s->pub_alias, s->next_alias))
		s->next_alias++;
	return s->next_alias++;
}

struct moq_request *moq_session_request(struct moq_session *s, struct moq_ctrl_msg *m, void *user,
					int *err)
{
	int e = 0;
	struct moq_request *r = NULL;

	if (!s || !m) {
		e = -EINVAL;
		goto out;
	}
	if (s_closing(s)) {
		e = -ENOTCONN;
		goto out;
	}
	if (!moq_ctrl_type_is_request(m->type)) {
		e = -EINVAL;
		goto out;
	}
	uint64_t id = s->next_id;
	struct moq_request *join = NULL;
	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
		m->subscribe.request_id = id;
		break;
	case MOQ_CTRL_TRACK_STATUS:
		m->track_status.request_id = id;
		break;
	case MOQ_CTRL_FETCH:
		m->fetch.request_id = id;
		if (m->fetch.fetch_type != MOQ_FETCH_STANDALONE) {
			join = req_find_local(s, MOQ_CTRL_SUBSCRIBE,
					      m->fetch.joining.joining_request_id);
			if (!join) {
				e = -EINVAL;
				goto out;
			}
		}
		break;
	case MOQ_CTRL_PUBLISH:
		m->publish.request_id = id;
		if (m->publish.track_alias == MOQ_SESSION_ALIAS_AUTO)
			m->publish.track_alias = alloc_alias(s);
		else if (alias_find(s->pub_alias, m->publish.track_alias)) {
			e = -EINVAL;
			goto out;
		}
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		m->publish_namespace.request_id = id;
		break;
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
		m->subscribe_namespace.request_id = id;
		break;
	case MOQ_CTRL_SUBSCRIBE_TRACKS:
		m->subscribe_tracks.request_id = id;
		break;
	}
	int n = encode(s, m);
	if (n < 0) {
		e = -EINVAL;
		goto out;
	}
	r = req_new(s, true);
	if (!r) {
		e = -ENOMEM;
		goto out;
	}
	s->next_id += 2;
	r->id = id;
	r->type = m->type;
	r->user = user;
	r->joined = join;
	if (sbuf_append(&r->pend_out, s->scratch, (size_t)n) < 0)
		goto nomem;
	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
	case MOQ_CTRL_TRACK_STATUS:
		if (req_copy_track(r, &m->subscribe.track_namespace, &m->subscribe.track_name) < 0)
			goto nomem;
		info_apply_sub_params(r, &m->subscribe.params);
		r->is_sub = m->type == MOQ_CTRL_SUBSCRIBE;
		break;
	case MOQ_CTRL_FETCH:
		if (m->fetch.fetch_type == MOQ_FETCH_STANDALONE &&
		    req_copy_track(r, &m->fetch.standalone.track_namespace,
				   &m->fetch.standalone.track_name) < 0)
			goto nomem;
		if (join && join->has_track && req_copy_track(r, &join->ns, &join->name) < 0)
			goto nomem;
		if (m->fetch.fetch_type == MOQ_FETCH_STANDALONE) {
			r->has_fetch_start = true;
			r->fetch_start = m->fetch.standalone.start_location;
		}
		info_apply_sub_params(r, &m->fetch.params);
		break;
	case MOQ_CTRL_PUBLISH:
		if (req_copy_track(r, &m->publish.track_namespace, &m->publish.track_name) < 0)
			goto nomem;
		r->is_sub = true;
		info_apply_pub(r, &m->publish.params, m->publish.track_properties);
		alias_insert(s->pub_alias, r, m->publish.track_alias, false);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		if (req_copy_track(r, &m->publish_namespace.track_namespace, NULL) < 0)
			goto nomem;
		break;
	}
	s->stats.requests_sent++;
	queue_request(s, r);
	goto out;
nomem:
	e = -ENOMEM;
	req_kill(r);
	r = NULL;
	if (s->depth == 0)
		reap(s);
out:
	if (err)
		*err = e;
	return r;
}

struct moq_request *moq_session_subscribe(struct moq_session *s, const struct moq_namespace *ns,
					  struct moq_bytes name, const struct moq_params *params,
					  void *user)
{
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SUBSCRIBE;
	m.subscribe.track_namespace = *ns;
	m.subscribe.track_name = name;
	if (params)
		m.subscribe.params = *params;
	return moq_session_request(s, &m, user, NULL);
}

struct moq_request *moq_session_publish_namespace(struct moq_session *s,
						  const struct moq_namespace *ns,
						  const struct moq_params *params, void *user)
{
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_PUBLISH_NAMESPACE;
	m.publish_namespace.track_namespace = *ns;
	if (params)
		m.publish_namespace.params = *params;
	return moq_session_request(s, &m, user, NULL);
}

struct moq_request *moq_session_track_status(struct moq_session *s, const struct moq_namespace *ns,
					     struct moq_bytes name, const struct moq_params *params,
					     void *user)
{
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_TRACK_STATUS;
	m.track_status.track_namespace = *ns;
	m.track_status.track_name = name;
	if (params)
		m.track_status.params = *params;
	return moq_session_request(s, &m, user, NULL);
}

struct moq_request *moq_session_fetch(struct moq_session *s, const struct moq_namespace *ns,
				      struct moq_bytes name, struct moq_location start,
				      struct moq_location end, const struct moq_params *params,
				      void *user)
{
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_FETCH;
	m.fetch.fetch_type = MOQ_FETCH_STANDALONE;
	m.fetch.standalone.track_namespace = *ns;
	m.fetch.standalone.track_name = name;
	m.fetch.standalone.start_location = start;
	m.fetch.standalone.end_location = end;
	if (params)
		m.fetch.params = *params;
	return moq_session_request(s, &m, user, NULL);
}

struct moq_request *moq_session_joining_fetch(struct moq_session *s, struct moq_request *sub,
					      bool absolute, uint64_t joining_start,
					      const struct moq_params *params, void *user)
{
	struct moq_ctrl_msg m;
	if (!sub || !sub->local || sub->type != MOQ_CTRL_SUBSCRIBE)
		return NULL;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_FETCH;
	m.fetch.fetch_type = absolute ? MOQ_FETCH_ABSOLUTE_JOINING : MOQ_FETCH_RELATIVE_JOINING;
	m.fetch.joining.joining_request_id = sub->id;
	m.fetch.joining.joining_start = joining_start;
	if (params)
		m.fetch.params = *params;
	return moq_session_request(s, &m, user, NULL);
}

/* ---- answering -------------------------------------------------------------- */

static int answer_check(struct moq_request *r)
{
	if (!r || r->dead)
		return -EINVAL;
	if (s_closing(r->s))
		return -ENOTCONN;
	return 0;
}

int moq_request_subscribe_ok(struct moq_request *r, uint64_t track_alias,
			     const struct moq_params *params, struct moq_bytes props)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	struct moq_session *s = r->s;
	if (r->local || r->type != MOQ_CTRL_SUBSCRIBE || r->state != MOQ_REQ_PENDING)
		return -EINVAL;
	if (track_alias == MOQ_SESSION_ALIAS_AUTO)
		track_alias = alloc_alias(s);
	else if (alias_find(s->pub_alias, track_alias))
		return -EINVAL;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SUBSCRIBE_OK;
	m.subscribe_ok.track_alias = track_alias;
	if (params)
		m.subscribe_ok.params = *params;
	m.subscribe_ok.track_properties = props;
	rc = req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	alias_insert(s->pub_alias, r, track_alias, false);
	r->state = MOQ_REQ_ESTABLISHED;
	info_apply_pub(r, params, props);
	return 0;
}

int moq_request_fetch_ok(struct moq_request *r, bool end_of_track, struct moq_location end_location,
			 const struct moq_params *params, struct moq_bytes props)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	if (r->local || r->type != MOQ_CTRL_FETCH || r->state != MOQ_REQ_PENDING)
		return -EINVAL;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_FETCH_OK;
	m.fetch_ok.end_of_track = end_of_track ? 1 : 0;
	m.fetch_ok.end_location = end_location;
	if (params)
		m.fetch_ok.params = *params;
	m.fetch_ok.track_properties = props;
	rc = req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	r->state = MOQ_REQ_ESTABLISHED;
	r->fetch_ok_sent = true;
	if (r->fetch_data_done) {
		req_send_fin(r);
		req_maybe_complete(r);
	}
	return 0;
}

int moq_request_ok(struct moq_request *r, const struct moq_params *params, struct moq_bytes props)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_REQUEST_OK;
	if (params)
		m.request_ok.params = *params;
	m.request_ok.track_properties = props;

	bool initial = !r->local && r->state == MOQ_REQ_PENDING;
	if (initial) {
		switch (r->type) {
		case MOQ_CTRL_PUBLISH:
			m.type = MOQ_CTRL_PUBLISH_OK;
			m.publish_ok.track_properties = (struct moq_bytes){0};
			break;
		case MOQ_CTRL_TRACK_STATUS:
		case MOQ_CTRL_PUBLISH_NAMESPACE:
		case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
		case MOQ_CTRL_SUBSCRIBE_TRACKS:
			break;
		default:
			return -EINVAL;
		}
		rc = req_send(r, &m, r->type == MOQ_CTRL_TRACK_STATUS);
		if (rc < 0)
			return rc;
		r->state = MOQ_REQ_ESTABLISHED;
		if (r->type == MOQ_CTRL_PUBLISH && params) {
			info_apply_sub_params(r, params);
		}
		if (r->type == MOQ_CTRL_TRACK_STATUS) {
			/* done: the peer FINs too; drop our state now */
			req_kill(r);
			if (r->s->depth == 0)
				reap(r->s);
		}
		return 0;
	}
	if (!r->updates_in)
		return -EINVAL;
	m.request_ok.track_properties = (struct moq_bytes){0};
	rc = req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	r->updates_in--;
	return 0;
}

int moq_request_error(struct moq_request *r, uint64_t error_code, uint64_t retry_interval,
		      const char *reason)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	struct moq_session *s = r->s;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_REQUEST_ERROR;
	m.request_error.error_code = error_code;
	m.request_error.retry_interval = retry_interval;
	if (reason) {
		size_t l = strlen(reason);
		if (l > MOQ_MAX_REASON_PHRASE)
			l = MOQ_MAX_REASON_PHRASE;
		m.request_error.error_reason.ptr = (const uint8_t *)reason;
		m.request_error.error_reason.len = l;
	}
	bool initial = !r->local && r->state == MOQ_REQ_PENDING;
	if (initial) {
		rc = req_send(r, &m, 1);
		if (rc < 0)
			return rc;
		req_kill(r);
		if (s->depth == 0)
			reap(s);
		return 0;
	}
	if (!r->updates_in)
		return -EINVAL;
	rc = req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	r->updates_in--;
	return 0;
}

int moq_request_publish_done(struct moq_request *r, uint64_t status, const char *reason)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	struct moq_session *s = r->s;
	bool pub =
	    (!r->local && r->type == MOQ_CTRL_SUBSCRIBE && r->state == MOQ_REQ_ESTABLISHED) ||
	    (r->local && r->type == MOQ_CTRL_PUBLISH);
	if (!pub)
		return -EINVAL;
	tx_end_all(r);
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_PUBLISH_DONE;
	m.publish_done.status_code = status;
	m.publish_done.stream_count = r->streams_opened;
	if (reason) {
		size_t l = strlen(reason);
		if (l > MOQ_MAX_REASON_PHRASE)
			l = MOQ_MAX_REASON_PHRASE;
		m.publish_done.error_reason.ptr = (const uint8_t *)reason;
		m.publish_done.error_reason.len = l;
	}
	rc = req_send(r, &m, 1);
	if (rc < 0)
		return rc;
	req_kill(r);
	if (s->depth == 0)
		reap(s);
	return 0;
}

void moq_request_add_streams(struct moq_request *r, uint64_t n)
{
	if (r && !r->dead)
		r->streams_opened += n;
}

int moq_request_update(struct moq_request *r, const struct moq_params *params)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	struct moq_session *s = r->s;
	bool ok = r->local ? r->type != MOQ_CTRL_TRACK_STATUS && r->type != MOQ_CTRL_PUBLISH
			   : r->type == MOQ_CTRL_PUBLISH;
	if (!ok)
		return -EINVAL;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_REQUEST_UPDATE;
	m.request_update.request_id = s->next_id;
	if (params)
		m.request_update.params = *params;
	rc = req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	s->next_id += 2;
	r->updates_out++;
	if (params) {
		info_apply_sub_params(r, params);
		if (r->sid >= 0)
			moq_quic_stream_set_priority(s->conn, r->sid, req_stream_priority(r));
	}
	return 0;
}

int moq_request_send(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	if (!m || r->local || r->state != MOQ_REQ_ESTABLISHED ||
	    (r->type != MOQ_CTRL_SUBSCRIBE_NAMESPACE && r->type != MOQ_CTRL_SUBSCRIBE_TRACKS) ||
	    (m->type != MOQ_CTRL_NAMESPACE && m->type != MOQ_CTRL_NAMESPACE_DONE &&
	     m->type != MOQ_CTRL_PUBLISH_BLOCKED))
		return -EINVAL;
	return req_send(r, m, 0);
}

int moq_request_goaway(struct moq_request *r, const char *uri, uint64_t timeout_ms)
{
	int rc = answer_check(r);
	if (rc)
		return rc;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_GOAWAY;
	if (uri && *uri) {
		if (!r->s->is_server)
			return -EINVAL;
		m.goaway.new_session_uri.ptr = (const uint8_t *)uri;
		m.goaway.new_session_uri.len = strlen(uri);
	}
	m.goaway.timeout = timeout_ms;
	return req_send(r, &m, 0);
}

void moq_request_cancel(struct moq_request *r, uint64_t code)
{
	if (!r || r->dead)
		return;
	struct moq_session *s = r->s;
	if (r->sid >= 0 && !s_closing(s)) {
		if (!r->tx_fin)
			moq_quic_stream_reset(s->conn, r->sid, code);
		if (!r->rx_fin)
			moq_quic_stream_stop_sending(s->conn, r->sid, code);
	}
	/* incoming data streams of a cancelled subscription: stop them */
	while (r->rxs) {
		struct moq_rx *rx = r->rxs;
		rx_stop(rx, code);
	}
	req_kill(r);
	if (s->depth == 0)
		reap(s);
}

/* ---- session-level API ------------------------------------------------------ */

int moq_session_goaway(struct moq_session *s, const char *uri, uint64_t timeout_ms)
{
	if (!s || s->goaway_tx)
		return -EINVAL;
	if (s_closing(s))
		return -ENOTCONN;
	if (uri && *uri && !s->is_server)
		return -EINVAL;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_GOAWAY;
	if (uri && *uri) {
		m.goaway.new_session_uri.ptr = (const uint8_t *)uri;
		m.goaway.new_session_uri.len = strlen(uri);
	}
	m.goaway.timeout = timeout_ms;
	m.goaway.has_request_id = true;
	m.goaway.request_id = s->peer_next;
	int rc = ctrl_send(s, &m);
	if (rc < 0)
		return rc;
	s->goaway_tx = true;
	if (timeout_ms) {
		s->goaway_timeout_ms = timeout_ms;
		s->goaway_deadline = moq_loop_now() + timeout_ms * 1000000ull;
		hk_arm(s);
	}
	return 0;
}

enum moq_session_state moq_session_state(const struct moq_session *s)
{
	return s->state;
}

bool moq_session_is_server(const struct moq_session *s)
{
	return s->is_server;
}

bool moq_session_goaway_received(const struct moq_session *s)
{
	return s->goaway_rx;
}

struct moq_quic_conn *moq_session_conn(const struct moq_session *s)
{
	return s->conn;
}

void *moq_session_user(const struct moq_session *s)
{
	return s->user;
}

void moq_session_set_user(struct moq_session *s, void *user)
{
	s->user = user;
}

const char *moq_session_name(const struct moq_session *s)
{
	return s->name;
}

const struct moq_session_peer_info *moq_session_peer(const struct moq_session *s)
{
	return &s->peer;
}

void moq_session_stats(const struct moq_session *s, struct moq_session_stats *st)
{
	*st = s->stats;
}

uint64_t moq_request_id(const struct moq_request *r)
{
	return r->id;
}

uint64_t moq_request_type(const struct moq_request *r)
{
	return r->type;
}

bool moq_request_is_local(const struct moq_request *r)
{
	return r->local;
}

enum moq_request_state moq_request_state(const struct moq_request *r)
{
	return r->state;
}

struct moq_session *moq_request_session(const struct moq_request *r)
{
	return r->s;
}

void *moq_request_user(const struct moq_request *r)
{
	return r->user;
}

void moq_request_set_user(struct moq_request *r, void *user)
{
	r->user = user;
}

uint64_t moq_request_track_alias(const struct moq_request *r)
{
	return r->alias_set ? r->alias : UINT64_MAX;
}

bool moq_request_track(const struct moq_request *r, struct moq_namespace *ns,
		       struct moq_bytes *name)
{
	if (!r->has_track)
		return false;
	if (ns)
		*ns = r->ns;
	if (name)
		*name = r->name;
	return true;
}

struct moq_request *moq_request_joined(const struct moq_request *r)
{
	return r->joined;
}

int moq_request_subscription(const struct moq_request *r, struct moq_subscription_info *info)
{
	if (!r->is_sub && r->type != MOQ_CTRL_FETCH)
		return -EINVAL;
	*info = r->info;
	return 0;
}

/* ---- QUIC callbacks ------------------------------------------------------- */

static struct moq_session *conn_session(struct moq_quic_conn *c)
{
	struct moq_session *s = moq_quic_conn_user(c);
	if (!s || s->magic != SESSION_MAGIC)
		return NULL;
	return s;
}

static void session_set_name(struct moq_session *s)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	socklen_t len = 0;
	const struct sockaddr *sa = moq_quic_conn_peer(s->conn, &len);
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	if (s->cfg.log_name)
		snprintf(s->name, sizeof(s->name), "%s", s->cfg.log_name);
	else
		snprintf(s->name, sizeof(s->name), "#%u %s peer %s:%u", ++session_serial,
			 s->is_server ? "server" : "client", addr, port);
}

static int q_on_accept(struct moq_quic_conn *c, void *user)
{
	struct moq_session_acceptor *acc = user;
	if (!acc || !acc->cfg)
		return -1;
	struct moq_session *s = moq_session_new(c, acc->cfg);
	if (!s)
		return -1;
	if (acc->on_session && acc->on_session(s, acc->arg) < 0) {
		moq_quic_conn_set_user(c, NULL);
		session_free(s);
		return -1;
	}
	return 0;
}

static void q_on_established(struct moq_quic_conn *c, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s))
		return;
	s_enter(s);
	int64_t sid = moq_quic_stream_open_uni(c);
	if (sid < 0) {
		s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "control stream",
		       "cannot open our control stream (%lld)", (long long)sid);
		s_leave(s);
		return;
	}
	s->ctrl_tx_sid = sid;
	moq_quic_stream_set_user(c, sid, &s->ctrl_tx_obj);
	moq_quic_stream_set_priority(c, sid, 0);
	s->state = MOQ_SESSION_SETUP;
	send_setup(s);
	if (!s_closing(s)) {
		if (s->setup_rx) {
			session_ready(s);
		} else {
			uint64_t ms = s->cfg.setup_timeout_ms ? s->cfg.setup_timeout_ms : 10000;
			s->cfg.setup_timeout_ms = ms;
			s->setup_deadline = moq_loop_now() + ms * 1000000ull;
			hk_arm(s);
		}
	}
	s_leave(s);
}

static void q_on_close(struct moq_quic_conn *c, const struct moq_quic_close_info *info, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s)
		return;
	s_enter(s);
	s->state = MOQ_SESSION_CLOSING;
	while (s->reqs)
		req_end(s->reqs, MOQ_REQ_END_SESSION, 0, true);
	s->state = MOQ_SESSION_CLOSED;
	if (info && info->origin != MOQ_QUIC_CLOSE_LOCAL)
		moq_info(MOD, "session %s: closed (code 0x%llx%s%s)", s->name,
			 (unsigned long long)info->code, info->reason[0] ? ": " : "", info->reason);
	if (s->cb && s->cb->on_close)
		s->cb->on_close(s, info);
	moq_quic_conn_set_user(c, NULL);
	s->conn = NULL;
	s->free_pending = true;
	s_leave(s);
}

static void q_on_stream_open(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s) || moq_quic_stream_user(c, sid))
		return;
	/* only peer-initiated streams (bit 0: 0 client, 1 server) */
	if ((uint64_t)(sid & 1) != (s->is_server ? 0u : 1u))
		return;
	s_enter(s);
	if (sid & 2) {
		struct moq_rx *rx = rx_new(s, sid);
		if (!rx)
			s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "stream", "out of memory");
	} else {
		struct moq_request *r = req_new(s, false);
		if (!r) {
			s_fail(s, MOQ_SESSION_INTERNAL_ERROR, "stream", "out of memory");
		} else {
			r->sid = sid;
			moq_quic_stream_set_user(c, sid, r);
		}
	}
	s_leave(s);
}

static void q_on_stream_data(struct moq_quic_conn *c, int64_t sid, const uint8_t *data, size_t len,
			     int fin, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s))
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind) {
		q_on_stream_open(c, sid, user);
		kind = moq_quic_stream_user(c, sid);
		if (!kind)
			return;
	}
	s_enter(s);
	switch (*kind) {
	case SOBJ_REQ:
		req_on_data((struct moq_request *)kind, data, len, fin);
		break;
	case SOBJ_RX:
		rx_on_data((struct moq_rx *)kind, data, len, fin);
		break;
	default:
		break;
	}
	s_leave(s);
}

static void q_on_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s))
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind)
		return;
	s_enter(s);
	switch (*kind) {
	case SOBJ_REQ:
		req_on_peer_cancel((struct moq_request *)kind, app_error, true);
		break;
	case SOBJ_RX: {
		struct moq_rx *rx = (struct moq_rx *)kind;
		if (rx->mode == RX_CONTROL)
			s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
			       "peer reset its control stream");
		else
			rx_on_reset(rx, app_error);
		break;
	}
	default:
		break;
	}
	s_leave(s);
}

static void q_on_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s))
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind)
		return;
	s_enter(s);
	switch (*kind) {
	case SOBJ_CTRL_TX:
		s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
		       "peer sent STOP_SENDING on our control stream");
		break;
	case SOBJ_REQ:
		req_on_peer_cancel((struct moq_request *)kind, app_error, false);
		break;
	case SOBJ_TX:
		tx_on_stopped((struct moq_tx *)kind, app_error);
		break;
	default:
		break;
	}
	s_leave(s);
}

static void q_on_stream_close(struct moq_quic_conn *c, int64_t sid, int has_app_error,
			      uint64_t app_error, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s)
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind)
		return;
	s_enter(s);
	switch (*kind) {
	case SOBJ_TX:
		tx_on_closed((struct moq_tx *)kind);
		break;
	case SOBJ_REQ: {
		struct moq_request *r = (struct moq_request *)kind;
		if (r->sid == sid)
			r->sid = -2; /* stream gone; no more writes */
		if (!r->dead && !s_closing(s)) {
			/* TLS mode learns of a peer STOP_SENDING only here */
			if (has_app_error && r->state != MOQ_REQ_DONE)
				req_on_peer_cancel(r, app_error, false);
			else
				req_maybe_complete(r);
		}
		break;
	}
	case SOBJ_RX: {
		struct moq_rx *rx = (struct moq_rx *)kind;
		if (rx->mode == RX_CONTROL) {
			if (!s_closing(s))
				s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
				       "peer's control stream closed");
		} else if (!rx->holding) {
			rx_kill(rx);
		}
		break;
	}
	case SOBJ_CTRL_TX:
		if (!s_closing(s))
			s_fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
			       "our control stream closed");
		break;
	default:
		break;
	}
	s_leave(s);
}

static void q_on_stream_writable(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s))
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind || *kind != SOBJ_TX)
		return;
	s_enter(s);
	tx_on_writable((struct moq_tx *)kind);
	s_leave(s);
}

static void q_on_streams_available(struct moq_quic_conn *c, int bidi, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s) || !bidi || s->state != MOQ_SESSION_READY)
		return;
	s_enter(s);
	while (s->qhead && !s_closing(s)) {
		struct moq_request *r = s->qhead;
		req_open(r);
		if (r->queued)
			break;
	}
	s_leave(s);
}

static void q_on_datagram(struct moq_quic_conn *c, const uint8_t *data, size_t len, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || s_closing(s))
		return;
	s_enter(s);
	dgram_on_recv(s, data, len);
	s_leave(s);
}

static const struct moq_quic_callbacks session_quic_cb = {
    .on_accept = q_on_accept,
    .on_established = q_on_established,
    .on_close = q_on_close,
    .on_stream_open = q_on_stream_open,
    .on_stream_data = q_on_stream_data,
    .on_stream_reset = q_on_stream_reset,
    .on_stop_sending = q_on_stop_sending,
    .on_stream_close = q_on_stream_close,
    .on_stream_writable = q_on_stream_writable,
    .on_streams_available = q_on_streams_available,
    .on_datagram = q_on_datagram,
};

const struct moq_quic_callbacks *moq_session_quic_callbacks(void)
{
	return &session_quic_cb;
}

/* ---- creation / destruction ------------------------------------------------- */

static void session_free(struct moq_session *s)
{
	while (s->reqs)
		req_kill(s->reqs);
	data_free_all(s);
	reap(s);
	moq_timer_free(s->hk);
	if (s->ctrl_rd_init)
		moq_ctrl_reader_free(&s->ctrl_rd);
	for (size_t i = 0; i < s->cfg.num_auth_tokens; i++)
		free(s->token_bufs[i]);
	free(s->token_bufs);
	free(s->tokens);
	free(s->path);
	free(s->authority);
	free(s->implementation);
	free(s->log_name_copy);
	free(s->peer_path);
	free(s->peer_authority);
	free(s->peer_impl);
	free(s->scratch);
	s->magic = 0;
	free(s);
}

struct moq_session *moq_session_new(struct moq_quic_conn *conn,
				    const struct moq_session_config *cfg)
{
	if (!conn || !cfg || !cfg->loop)
		return NULL;
	struct moq_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->magic = SESSION_MAGIC;
	s->conn = conn;
	s->loop = cfg->loop;
	s->cfg = *cfg;
	s->cb = cfg->cb;
	s->user = cfg->user;
	s->is_server = moq_quic_conn_is_server(conn);
	s->state = MOQ_SESSION_CONNECTING;
	s->ctrl_tx_sid = -1;
	s->next_id = s->is_server ? 1 : 0;
	s->peer_next = s->is_server ? 0 : 1;
	s->ignore.kind = SOBJ_IGNORE;
	s->ctrl_tx_obj.kind = SOBJ_CTRL_TX;
	s->peer.path = s->peer.authority = s->peer.implementation = "";
	s->scratch = malloc(MOQ_CTRL_MAX_FRAME);
	s->path = xstrdup(cfg->path);
	s->authority = xstrdup(cfg->authority);
	s->implementation =
	    xstrdup(cfg->implementation ? cfg->implementation : MOQ_SESSION_IMPLEMENTATION);
	s->log_name_copy = xstrdup(cfg->log_name);
	s->cfg.path = s->path;
	s->cfg.authority = s->authority;
	s->cfg.implementation = s->implementation;
	s->cfg.log_name = s->log_name_copy;
	s->hk = moq_timer_new(cfg->loop, hk_cb, s);
	if (!s->scratch || !s->implementation || !s->hk || (cfg->path && !s->path) ||
	    (cfg->authority && !s->authority) || (cfg->log_name && !s->log_name_copy))
		goto fail;
	if (cfg->num_auth_tokens) {
		s->tokens = calloc(cfg->num_auth_tokens, sizeof(*s->tokens));
		s->token_bufs = calloc(cfg->num_auth_tokens, sizeof(uint8_t *));
		if (!s->tokens || !s->token_bufs)
			goto fail;
		for (size_t i = 0; i < cfg->num_auth_tokens; i++) {
			s->tokens[i] = cfg->auth_tokens[i];
			size_t l = cfg->auth_tokens[i].token_value.len;
			s->token_bufs[i] = malloc(l + 1);
			if (!s->token_bufs[i]) {
				s->cfg.num_auth_tokens = i;
				goto fail;
			}
			if (l)
				memcpy(s->token_bufs[i], cfg->auth_tokens[i].token_value.ptr, l);
			s->tokens[i].token_value.ptr = s->token_bufs[i];
		}
	}
	s->cfg.auth_tokens = s->tokens;
	session_set_name(s);
	moq_quic_conn_set_user(conn, s);
	if (moq_quic_conn_is_established(conn))
		q_on_established(conn, NULL);
	return s;
fail:
	session_free(s);
	return NULL;
}

struct moq_session *moq_session_connect(struct moq_quic_endpoint *ep, const char *host,
					uint16_t port, const struct moq_session_config *cfg,
					char *err, size_t errlen)
{
	if (!cfg || !cfg->loop) {
		if (err && errlen)
			snprintf(err, errlen, "session config needs a loop");
		return NULL;
	}
	struct moq_quic_conn *c = moq_quic_connect(ep, host, port, NULL, err, errlen);
	if (!c)
		return NULL;
	struct moq_session *s = moq_session_new(c, cfg);
	if (!s) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		moq_quic_conn_close(c, MOQ_SESSION_INTERNAL_ERROR, "out of memory");
		return NULL;
	}
	return s;
}
