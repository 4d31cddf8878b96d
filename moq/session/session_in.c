/* MoQT session: messages arriving on request streams. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_core.h"
#include "session/session_data.h"
#include "session/session_in.h"
#include "session/session_req.h"
#include "uri.h"
#include "varint.h"

#define MOD "session"

/* ---- incoming request messages ----------------------------------------- */

static void reject(struct moq_request *r, uint64_t code, const char *why)
{
	moq_request_error(r, code, 0, why);
}

static void handle_first(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct moq_session *s = r->s;
	const char *what = moq_session__tname(m->type);
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
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
				  "a request stream must begin with a request");
		return;
	}
	if (!moq_session__check_peer_id(s, id, what))
		return;
	r->id = id;
	r->type = m->type;
	s->n_peer_reqs++;
	s->stats.requests_received++;

	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
	case MOQ_CTRL_TRACK_STATUS:
		if (moq_session__req_copy_track(r, &m->subscribe.track_namespace,
						&m->subscribe.track_name) < 0)
			goto nomem;
		moq_session__info_apply_sub_params(r, &m->subscribe.params);
		if (m->type == MOQ_CTRL_SUBSCRIBE) {
			r->is_sub = true;
			s->n_peer_subs++;
		}
		break;
	case MOQ_CTRL_FETCH:
		if (m->fetch.fetch_type == MOQ_FETCH_STANDALONE) {
			if (moq_session__req_copy_track(r, &m->fetch.standalone.track_namespace,
							&m->fetch.standalone.track_name) < 0)
				goto nomem;
		}
		moq_session__info_apply_sub_params(r, &m->fetch.params);
		break;
	case MOQ_CTRL_PUBLISH:
		if (moq_session__req_copy_track(r, &m->publish.track_namespace,
						&m->publish.track_name) < 0)
			goto nomem;
		r->is_sub = true;
		s->n_peer_subs++;
		moq_session__info_apply_pub(r, &m->publish.params, m->publish.track_properties);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		if (moq_session__req_copy_track(r, &m->publish_namespace.track_namespace, NULL) < 0)
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
			    moq_session__track_eq(o, r)) {
				reject(r, MOQ_REQERR_DUPLICATE_SUBSCRIPTION,
				       "already subscribed to this track");
				return;
			}
		}
	}
	if (m->type == MOQ_CTRL_FETCH && m->fetch.fetch_type != MOQ_FETCH_STANDALONE) {
		struct moq_request *j = moq_session__req_find_peer(
		    s, MOQ_CTRL_SUBSCRIBE, m->fetch.joining.joining_request_id);
		if (!j) {
			reject(r, MOQ_REQERR_INVALID_JOINING_REQUEST_ID, "no such subscription");
			return;
		}
		r->joined = j;
		if (j->has_track && moq_session__req_copy_track(r, &j->ns, &j->name) < 0)
			goto nomem;
	}
	if (m->type == MOQ_CTRL_PUBLISH) {
		struct moq_request *o =
		    moq_session__alias_find(s->sub_alias, m->publish.track_alias);
		if (o) {
			moq_session__fail(s, MOQ_SESSION_DUPLICATE_TRACK_ALIAS, "PUBLISH",
					  "Track Alias %llu already in use",
					  (unsigned long long)m->publish.track_alias);
			return;
		}
		moq_session__alias_insert(s->sub_alias, r, m->publish.track_alias, true);
	}
	moq_quic_stream_set_priority(s->conn, r->sid, moq_session__req_stream_priority(r));
	if (!s->cb || !s->cb->on_request) {
		reject(r, MOQ_REQERR_NOT_SUPPORTED, "not supported");
		return;
	}
	s->cb->on_request(s, r, m);
	if (!r->dead && m->type == MOQ_CTRL_PUBLISH && r->alias_set) {
		moq_session__rx_match_alias(s, r);
		moq_session__dgram_match_alias(s, r);
	}
	return;
nomem:
	moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, what, "out of memory");
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
	moq_session__hk_arm(r->s);
}

static bool props_empty_check(struct moq_request *r, const char *what, struct moq_bytes props)
{
	if (props.len == 0)
		return true;
	moq_session__fail(r->s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
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

/* The first answer to our request; false when the message does not fit. */
static bool handle_first_answer(struct moq_request *r, const struct moq_ctrl_msg *m,
				const char *what)
{
	struct moq_session *s = r->s;

	if (m->type == MOQ_CTRL_REQUEST_ERROR) {
		deliver(r, m);
		if (!r->dead) {
			moq_session__alias_remove(s, r);
			moq_session__req_send_fin(r);
			moq_session__req_end(r, MOQ_REQ_END_ERROR, m->request_error.error_code,
					     true);
		}
		return true;
	}
	switch (r->type) {
	case MOQ_CTRL_SUBSCRIBE:
		if (m->type != MOQ_CTRL_SUBSCRIBE_OK)
			return false;
		if (moq_session__alias_find(s->sub_alias, m->subscribe_ok.track_alias)) {
			moq_session__fail(s, MOQ_SESSION_DUPLICATE_TRACK_ALIAS, what,
					  "Track Alias %llu already in use",
					  (unsigned long long)m->subscribe_ok.track_alias);
			return true;
		}
		r->state = MOQ_REQ_ESTABLISHED;
		moq_session__alias_insert(s->sub_alias, r, m->subscribe_ok.track_alias, true);
		moq_session__info_apply_pub(r, &m->subscribe_ok.params,
					    m->subscribe_ok.track_properties);
		deliver(r, m);
		if (!r->dead && !moq_session__closing(s)) {
			moq_session__rx_match_alias(s, r);
			moq_session__dgram_match_alias(s, r);
		}
		return true;
	case MOQ_CTRL_FETCH:
		if (m->type != MOQ_CTRL_FETCH_OK)
			return false;
		if (r->has_fetch_start &&
		    fetch_end_before(m->fetch_ok.end_location, r->fetch_start)) {
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
					  "End Location {%llu, %llu} is before the "
					  "FETCH Start Location",
					  (unsigned long long)m->fetch_ok.end_location.group,
					  (unsigned long long)m->fetch_ok.end_location.object);
			return true;
		}
		r->state = MOQ_REQ_ESTABLISHED;
		deliver(r, m);
		return true;
	case MOQ_CTRL_PUBLISH:
		if (m->type != MOQ_CTRL_PUBLISH_OK && m->type != MOQ_CTRL_REQUEST_OK)
			return false;
		if (!props_empty_check(r, what, m->request_ok.track_properties))
			return true;
		r->state = MOQ_REQ_ESTABLISHED;
		moq_session__info_apply_sub_params(r, &m->request_ok.params);
		moq_session__tx_reprioritize(r);
		deliver(r, m);
		return true;
	case MOQ_CTRL_TRACK_STATUS:
	case MOQ_CTRL_PUBLISH_NAMESPACE:
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
	case MOQ_CTRL_SUBSCRIBE_TRACKS: {
		if (m->type != MOQ_CTRL_REQUEST_OK)
			return false;
		int ctx = r->type == MOQ_CTRL_TRACK_STATUS	  ? MOQ_PCTX_TRACK_STATUS_OK
			  : r->type == MOQ_CTRL_PUBLISH_NAMESPACE ? MOQ_PCTX_PUBLISH_NAMESPACE_OK
			  : r->type == MOQ_CTRL_SUBSCRIBE_NAMESPACE
			      ? MOQ_PCTX_SUBSCRIBE_NAMESPACE_OK
			      : MOQ_PCTX_SUBSCRIBE_TRACKS_OK;
		if (moq_params_check(&m->request_ok.params, ctx) < 0) {
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
					  "parameter not allowed in this REQUEST_OK");
			return true;
		}
		if (r->type != MOQ_CTRL_TRACK_STATUS &&
		    !props_empty_check(r, what, m->request_ok.track_properties))
			return true;
		r->state = MOQ_REQ_ESTABLISHED;
		deliver(r, m);
		if (!r->dead && r->type == MOQ_CTRL_TRACK_STATUS) {
			moq_session__req_send_fin(r);
			moq_session__req_maybe_complete(r);
		}
		return true;
	}
	default:
		return false;
	}
}

static void handle_response(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct moq_session *s = r->s;
	const char *what = moq_session__tname(m->type);

	if (m->type == MOQ_CTRL_GOAWAY) {
		if (r->goaway_rx) {
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
					  "second GOAWAY on request stream %lld",
					  (long long)r->sid);
			return;
		}
		r->goaway_rx = true;
		deliver(r, m);
		return;
	}
	if (r->state == MOQ_REQ_PENDING) {
		if (!handle_first_answer(r, m, what))
			goto bad;
		return;
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
			if (!moq_session__closing(s))
				moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
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
			moq_session__req_send_fin(r);
			moq_session__req_linger_check(r);
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
		if (!moq_session__check_peer_id(s, m->request_update.request_id, what))
			return;
		r->updates_in++;
		moq_session__info_apply_sub_params(r, &m->request_update.params);
		moq_session__tx_reprioritize(r);
		deliver(r, m);
		return;
	default:
		goto bad;
	}
bad:
	moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
			  "not allowed on a %s request stream in state %s",
			  moq_session__tname(r->type),
			  r->state == MOQ_REQ_PENDING ? "pending" : "established");
}

/* Later messages from the requester on a peer request stream. */
static void handle_peer_later(struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct moq_session *s = r->s;
	const char *what = moq_session__tname(m->type);

	switch (m->type) {
	case MOQ_CTRL_GOAWAY:
		if (r->goaway_rx) {
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
					  "second GOAWAY on request stream %lld",
					  (long long)r->sid);
			return;
		}
		r->goaway_rx = true;
		deliver(r, m);
		return;
	case MOQ_CTRL_REQUEST_UPDATE:
		if (r->type == MOQ_CTRL_TRACK_STATUS || r->type == MOQ_CTRL_PUBLISH)
			break;
		if (!moq_session__check_peer_id(s, m->request_update.request_id, what))
			return;
		r->updates_in++;
		moq_session__info_apply_sub_params(r, &m->request_update.params);
		moq_session__tx_reprioritize(r);
		moq_quic_stream_set_priority(s->conn, r->sid, moq_session__req_stream_priority(r));
		deliver(r, m);
		return;
	case MOQ_CTRL_PUBLISH_DONE:
		if (r->type != MOQ_CTRL_PUBLISH || r->done_rx)
			break;
		begin_linger(r, &m->publish_done);
		deliver(r, m);
		if (!r->dead) {
			moq_session__req_send_fin(r);
			moq_session__req_linger_check(r);
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
	moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, what,
			  "not allowed from the requester on a %s request stream",
			  moq_session__tname(r->type));
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
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "request stream",
					  "out of memory");
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
			if (r->dead || moq_session__closing(s))
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
				 t ? moq_session__tname(t) : "message", (long long)r->sid);
			moq_session__fail(s, (uint64_t)moq_ctrl_err_to_session_code(rc), what,
					  "%s: %s (offset %zu, value %llu)", moq_strerror(rc),
					  e && e->what ? e->what : "", e ? e->offset : 0,
					  e ? (unsigned long long)e->value : 0ull);
			return;
		}
		if (k == 0 && n > 0) {
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "request stream",
					  "reader stalled");
			return;
		}
	} while (n > 0);
}

static void req_rx_fin(struct moq_request *r)
{
	struct moq_session *s = r->s;
	if (r->rd_init && moq_ctrl_reader_pending(&r->rd)) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "request stream",
				  "stream %lld ended inside a message", (long long)r->sid);
		return;
	}
	if (!r->local && (!r->rd_init || r->rd.nmsgs == 0)) {
		/* peer opened and closed a request stream without a request */
		moq_session__req_kill(r);
		return;
	}
	r->rx_fin = true;
	if (r->local && r->state == MOQ_REQ_PENDING) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, moq_session__tname(r->type),
				  "peer ended request stream %lld without an answer",
				  (long long)r->sid);
		return;
	}
	moq_session__req_maybe_complete(r);
}

void moq_session__req_process_pending_in(struct moq_request *r)
{
	struct moq_session__buf b = r->pend_in;
	bool fin = r->pend_in_fin;
	memset(&r->pend_in, 0, sizeof(r->pend_in));
	r->pend_in_fin = false;
	if (b.len)
		req_feed(r, b.p, b.len);
	moq_session__buf_free(&b);
	if (fin && !r->dead && !moq_session__closing(r->s))
		req_rx_fin(r);
}

void moq_session__req_on_data(struct moq_request *r, const uint8_t *p, size_t n, int fin)
{
	struct moq_session *s = r->s;
	if (!r->local && s->state != MOQ_SESSION_READY) {
		if (r->pend_in.len + n > MOQ_CTRL_MAX_FRAME * 2) {
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "request stream",
					  "too much request data before SETUP");
			return;
		}
		if (moq_session__buf_append(&r->pend_in, p, n) < 0) {
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "request stream",
					  "out of memory");
			return;
		}
		if (fin)
			r->pend_in_fin = true;
		return;
	}
	if (n)
		req_feed(r, p, n);
	if (fin && !r->dead && !moq_session__closing(s))
		req_rx_fin(r);
}

void moq_session__req_on_peer_cancel(struct moq_request *r, uint64_t code, bool stop_sending)
{
	struct moq_session *s = r->s;
	if (r->dead)
		return;
	/* abort the other direction too */
	if (r->sid >= 0) {
		if (stop_sending)
			moq_session__stop_sending(s, r->sid, code);
		else if (!r->tx_fin)
			moq_session__stream_reset(s, r->sid, code);
	}
	r->tx_fin = r->rx_fin = true;
	if (!r->local && (!r->rd_init || r->rd.nmsgs == 0)) {
		moq_session__req_kill(r);
		return;
	}
	moq_session__req_end(r, MOQ_REQ_END_PEER_CANCEL, code, true);
}
