/* MoQT session: request objects (creation, end, lookup) and opening
 * local request streams. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_core.h"
#include "session/session_data.h"
#include "session/session_req.h"
#include "uri.h"
#include "varint.h"

#define MOD "session"

/* ---- request objects ----------------------------------------------------- */

struct moq_request *moq_session__req_new(struct moq_session *s, bool local)
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

int moq_session__req_copy_track(struct moq_request *r, const struct moq_namespace *ns,
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

bool moq_session__track_eq(const struct moq_request *a, const struct moq_request *b)
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
void moq_session__info_apply_sub_params(struct moq_request *r, const struct moq_params *p)
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
void moq_session__info_apply_pub(struct moq_request *r, const struct moq_params *p,
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
void moq_session__req_kill(struct moq_request *r)
{
	struct moq_session *s = r->s;
	if (r->dead)
		return;
	r->dead = true;
	r->state = MOQ_REQ_DONE;
	req_unqueue(s, r);
	moq_session__alias_remove(s, r);
	if (!r->local) {
		if (s->n_peer_reqs)
			s->n_peer_reqs--;
		if (r->is_sub && s->n_peer_subs)
			s->n_peer_subs--;
	}
	moq_session__tx_end_all(r);
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

void moq_session__req_end(struct moq_request *r, enum moq_request_end why, uint64_t code,
			  bool notify)
{
	struct moq_session *s = r->s;
	if (r->dead)
		return;
	r->state = MOQ_REQ_DONE;
	/* data streams go first so the app sees them end before the request */
	moq_session__tx_end_all(r);
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
			moq_session__rx_stop(rx, MOQ_RESET_CANCELLED);
	}
	if (notify && s->cb && s->cb->on_request_closed)
		s->cb->on_request_closed(s, r, why, code);
	moq_session__req_kill(r);
}

void moq_session__req_maybe_complete(struct moq_request *r)
{
	if (r->dead || !r->tx_fin || !r->rx_fin)
		return;
	if (r->done_rx && r->linger_until)
		return; /* waiting for late data streams */
	moq_session__req_end(r, MOQ_REQ_END_COMPLETE, 0, true);
}

struct moq_request *moq_session__req_find_peer(struct moq_session *s, uint64_t type, uint64_t id)
{
	for (struct moq_request *r = s->reqs; r; r = r->next)
		if (!r->local && r->type == type && r->id == id && !r->dead)
			return r;
	return NULL;
}

/* After PUBLISH_DONE: end once all announced streams arrived and ended. */
void moq_session__req_linger_check(struct moq_request *r)
{
	if (r->dead || !r->done_rx || !r->linger_until)
		return;
	if (r->streams_rx >= r->done_count && !r->rxs) {
		r->linger_until = 0;
		moq_session__req_end(r, MOQ_REQ_END_DONE, 0, true);
	}
}

/* ---- opening local requests --------------------------------------------- */

void moq_session__req_open(struct moq_request *r)
{
	struct moq_session *s = r->s;
	int64_t sid = moq_session__open_bidi(s);
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
		moq_session__req_end(r, MOQ_REQ_END_SESSION, 0, true);
		return;
	}
	r->sid = sid;
	moq_quic_stream_set_user(s->conn, sid, r);
	moq_quic_stream_set_priority(s->conn, sid, moq_session__req_stream_priority(r));
	struct moq_session__buf b = r->pend_out;
	memset(&r->pend_out, 0, sizeof(r->pend_out));
	moq_quic_stream_write(s->conn, sid, b.p, b.len, r->tx_fin);
	moq_session__buf_free(&b);
}

void moq_session__queue_request(struct moq_session *s, struct moq_request *r)
{
	if (s->state == MOQ_SESSION_READY && !s->qhead) {
		moq_session__req_open(r);
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

uint64_t moq_session__alloc_alias(struct moq_session *s)
{
	while (moq_session__alias_find(s->pub_alias, s->next_alias))
		s->next_alias++;
	return s->next_alias++;
}
