/* MoQT session: requests we send, and answers to the peer's requests. */
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

struct moq_request *moq_session_request(struct moq_session *s, struct moq_ctrl_msg *m, void *user,
					int *err)
{
	int e = 0;
	struct moq_request *r = NULL;

	if (!s || !m) {
		e = -EINVAL;
		goto out;
	}
	if (moq_session__closing(s)) {
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
			join = moq_session__req_find_local(s, MOQ_CTRL_SUBSCRIBE,
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
			m->publish.track_alias = moq_session__alloc_alias(s);
		else if (moq_session__alias_find(s->pub_alias, m->publish.track_alias)) {
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
	int n = moq_session__encode(s, m);
	if (n < 0) {
		e = -EINVAL;
		goto out;
	}
	r = moq_session__req_new(s, true);
	if (!r) {
		e = -ENOMEM;
		goto out;
	}
	s->next_id += 2;
	r->id = id;
	r->type = m->type;
	r->user = user;
	r->joined = join;
	if (moq_session__buf_append(&r->pend_out, s->scratch, (size_t)n) < 0)
		goto nomem;
	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
	case MOQ_CTRL_TRACK_STATUS:
		if (moq_session__req_copy_track(r, &m->subscribe.track_namespace,
						&m->subscribe.track_name) < 0)
			goto nomem;
		moq_session__info_apply_sub_params(r, &m->subscribe.params);
		r->is_sub = m->type == MOQ_CTRL_SUBSCRIBE;
		break;
	case MOQ_CTRL_FETCH:
		if (m->fetch.fetch_type == MOQ_FETCH_STANDALONE &&
		    moq_session__req_copy_track(r, &m->fetch.standalone.track_namespace,
						&m->fetch.standalone.track_name) < 0)
			goto nomem;
		if (join && join->has_track &&
		    moq_session__req_copy_track(r, &join->ns, &join->name) < 0)
			goto nomem;
		if (m->fetch.fetch_type == MOQ_FETCH_STANDALONE) {
			r->has_fetch_start = true;
			r->fetch_start = m->fetch.standalone.start_location;
		}
		moq_session__info_apply_sub_params(r, &m->fetch.params);
		break;
	case MOQ_CTRL_PUBLISH:
		if (moq_session__req_copy_track(r, &m->publish.track_namespace,
						&m->publish.track_name) < 0)
			goto nomem;
		r->is_sub = true;
		moq_session__info_apply_pub(r, &m->publish.params, m->publish.track_properties);
		moq_session__alias_insert(s->pub_alias, r, m->publish.track_alias, false);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		if (moq_session__req_copy_track(r, &m->publish_namespace.track_namespace, NULL) < 0)
			goto nomem;
		break;
	}
	s->stats.requests_sent++;
	moq_session__queue_request(s, r);
	goto out;
nomem:
	e = -ENOMEM;
	moq_session__req_kill(r);
	r = NULL;
	if (s->depth == 0)
		moq_session__reap(s);
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
	if (moq_session__closing(r->s))
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
		track_alias = moq_session__alloc_alias(s);
	else if (moq_session__alias_find(s->pub_alias, track_alias))
		return -EINVAL;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SUBSCRIBE_OK;
	m.subscribe_ok.track_alias = track_alias;
	if (params)
		m.subscribe_ok.params = *params;
	m.subscribe_ok.track_properties = props;
	rc = moq_session__req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	moq_session__alias_insert(s->pub_alias, r, track_alias, false);
	r->state = MOQ_REQ_ESTABLISHED;
	moq_session__info_apply_pub(r, params, props);
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
	rc = moq_session__req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	r->state = MOQ_REQ_ESTABLISHED;
	r->fetch_ok_sent = true;
	if (r->fetch_data_done) {
		moq_session__req_send_fin(r);
		moq_session__req_maybe_complete(r);
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
		rc = moq_session__req_send(r, &m, r->type == MOQ_CTRL_TRACK_STATUS);
		if (rc < 0)
			return rc;
		r->state = MOQ_REQ_ESTABLISHED;
		if (r->type == MOQ_CTRL_PUBLISH && params) {
			moq_session__info_apply_sub_params(r, params);
		}
		if (r->type == MOQ_CTRL_TRACK_STATUS) {
			/* done: the peer FINs too; drop our state now */
			moq_session__req_kill(r);
			if (r->s->depth == 0)
				moq_session__reap(r->s);
		}
		return 0;
	}
	if (!r->updates_in)
		return -EINVAL;
	m.request_ok.track_properties = (struct moq_bytes){0};
	rc = moq_session__req_send(r, &m, 0);
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
		rc = moq_session__req_send(r, &m, 1);
		if (rc < 0)
			return rc;
		moq_session__req_kill(r);
		if (s->depth == 0)
			moq_session__reap(s);
		return 0;
	}
	if (!r->updates_in)
		return -EINVAL;
	rc = moq_session__req_send(r, &m, 0);
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
	moq_session__tx_end_all(r);
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
	rc = moq_session__req_send(r, &m, 1);
	if (rc < 0)
		return rc;
	moq_session__req_kill(r);
	if (s->depth == 0)
		moq_session__reap(s);
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
	rc = moq_session__req_send(r, &m, 0);
	if (rc < 0)
		return rc;
	s->next_id += 2;
	r->updates_out++;
	if (params) {
		moq_session__info_apply_sub_params(r, params);
		if (r->sid >= 0)
			moq_quic_stream_set_priority(s->conn, r->sid,
						     moq_session__req_stream_priority(r));
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
	return moq_session__req_send(r, m, 0);
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
	return moq_session__req_send(r, &m, 0);
}

void moq_request_cancel(struct moq_request *r, uint64_t code)
{
	if (!r || r->dead)
		return;
	struct moq_session *s = r->s;
	if (r->sid >= 0 && !moq_session__closing(s)) {
		if (!r->tx_fin)
			moq_session__stream_reset(s, r->sid, code);
		if (!r->rx_fin)
			moq_session__stop_sending(s, r->sid, code);
	}
	/* incoming data streams of a cancelled subscription: stop them */
	while (r->rxs) {
		struct moq_rx *rx = r->rxs;
		moq_session__rx_stop(rx, code);
	}
	moq_session__req_kill(r);
	if (s->depth == 0)
		moq_session__reap(s);
}
