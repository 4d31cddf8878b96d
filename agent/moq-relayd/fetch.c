/* FETCH: served from the track's cache when it covers the range, else
 * forwarded to the publisher / upstream relay and piped back object by
 * object; REQUEST_ERROR when neither is possible. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relayd.h"
#include "fastpath.h"
#include "fetch.h"
#include "sessions.h"
#include "admission.h"

#define MOD "relayd"

static void job_unlink(struct fetch_job *j)
{
	if (!j->down_peer)
		return;
	for (struct fetch_job **pp = &j->down_peer->fetches; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	j->down_peer = NULL;
}

static void job_maybe_free(struct fetch_job *j)
{
	if (j->down || j->up || j->rx || j->tx)
		return;
	job_unlink(j);
	free(j);
}

static void down_fail(struct fetch_job *j, uint64_t code, const char *why)
{
	struct moq_request *r = j->down;

	if (!r)
		return;
	j->down = NULL;
	moq_request_set_user(r, NULL);
	if (j->tx) {
		moq_tx_reset(j->tx, MOQ_RESET_UNKNOWN_OBJECT_STATUS);
		j->tx = NULL;
	}
	if (moq_request_state(r) == MOQ_REQ_PENDING)
		moq_request_error(r, code, 0, why);
	else
		moq_request_cancel(r, MOQ_RESET_INTERNAL_ERROR);
}

static void up_drop(struct fetch_job *j)
{
	if (j->rx) {
		moq_rx_set_user(j->rx, NULL);
		moq_rx_stop(j->rx, MOQ_RESET_CANCELLED);
		j->rx = NULL;
	}
	if (j->up) {
		moq_request_set_user(j->up, NULL);
		moq_request_cancel(j->up, MOQ_RESET_CANCELLED);
		j->up = NULL;
	}
}

static void serve_from_cache(struct relayd *d, struct relay_track *tr, struct moq_request *r,
			     struct moq_location start, struct moq_location end)
{
	struct moq_location largest = tr->cache.largest;
	struct moq_location last;
	struct moq_tx *tx;
	int err = 0, n;

	/* last requested object (inclusive) */
	if (end.object == 0)
		last = (struct moq_location){end.group, UINT64_MAX};
	else
		last = (struct moq_location){end.group, end.object - 1};
	if (moq_location_cmp(last, largest) > 0)
		end = (struct moq_location){largest.group, largest.object + 1};
	if (moq_request_fetch_ok(r, false, end, NULL,
				 (struct moq_bytes){tr->props, tr->props_len})) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "cannot answer");
		return;
	}
	tx = moq_tx_fetch_open(r, &err);
	if (!tx) {
		moq_warn(MOD, "FETCH %s: cannot open the data stream: %s", tr->name.text,
			 strerror(-err));
		moq_request_cancel(r, MOQ_RESET_INTERNAL_ERROR);
		return;
	}
	n = relay_forward_fetch(&d->fwd, tx, &tr->cache, start, end);
	if (n < 0) {
		moq_tx_reset(tx, MOQ_RESET_INTERNAL_ERROR);
		return;
	}
	moq_info(MOD, "FETCH %s {%llu,%llu}..: %d objects from the cache", tr->name.text,
		 (unsigned long long)start.group, (unsigned long long)start.object, n);
	moq_tx_finish(tx);
}

void relayd_fetch_request(struct relayd *d, struct peer *p, struct moq_request *r,
			  const struct moq_ctrl_msg *m)
{
	const struct moq_fetch *f = &m->fetch;
	struct relay_name name;
	struct relay_track *tr;
	struct moq_location start, end;
	struct peer *route;
	struct fetch_job *j;

	if (!relayd_auth_ok(d, p, &f->params, RELAY_ROLE_SUBSCRIBE)) {
		d->stats.fetch_errors++;
		moq_request_error(r, MOQ_REQERR_UNAUTHORIZED, 0,
				  "authorization token does not match");
		return;
	}
	if (relayd_fp_conn_is_fast(p)) {
		/* the media plane owns every new unidirectional stream of a
		 * fast-path connection; a FETCH stream would need the agent's
		 * writer (docs/fast-path-agent.md, limitations) */
		d->stats.fetch_errors++;
		moq_request_error(
		    r, MOQ_REQERR_NOT_SUPPORTED, 0,
		    "FETCH is not served on a fast-path connection; use a separate session");
		return;
	}
	if (f->fetch_type == MOQ_FETCH_STANDALONE) {
		if (relay_name_init(&name, &f->standalone.track_namespace,
				    &f->standalone.track_name)) {
			moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
			return;
		}
		start = f->standalone.start_location;
		end = f->standalone.end_location;
		if (end.object == 0
			? end.group < start.group
			: moq_location_cmp((struct moq_location){end.group, end.object - 1},
					   start) < 0) {
			relay_name_free(&name);
			d->stats.fetch_errors++;
			moq_request_error(r, MOQ_REQERR_INVALID_RANGE, 0,
					  "End Location before Start Location");
			return;
		}
	} else {
		struct moq_request *jr = moq_request_joined(r);
		struct relay_sub *sub = jr ? moq_request_user(jr) : NULL;
		uint64_t js = f->joining.joining_start;

		if (!sub) {
			d->stats.fetch_errors++;
			moq_request_error(r, MOQ_REQERR_INVALID_JOINING_REQUEST_ID, 0,
					  "no such subscription");
			return;
		}
		if (!sub->established || !sub->has_joining) {
			d->stats.fetch_errors++;
			moq_request_error(r, MOQ_REQERR_INVALID_RANGE, 0,
					  "no objects published yet");
			return;
		}
		if (f->fetch_type == MOQ_FETCH_RELATIVE_JOINING)
			start.group = js > sub->joining.group ? 0 : sub->joining.group - js;
		else
			start.group = js;
		start.object = 0;
		end.group = sub->joining.group;
		end.object = sub->joining.object + 1;
		if (relay_name_init(&name, &sub->track->name.ns, &sub->track->name.name)) {
			moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
			return;
		}
		if (start.group > end.group) {
			relay_name_free(&name);
			d->stats.fetch_errors++;
			moq_request_error(r, MOQ_REQERR_INVALID_RANGE, 0,
					  "joining start after the joining location");
			return;
		}
	}
	tr = relay_tracks_find(&d->tracks, &name);
	if (tr && tr->cache.has_largest && moq_location_cmp(start, tr->cache.largest) > 0) {
		relay_name_free(&name);
		d->stats.fetch_errors++;
		moq_request_error(r, MOQ_REQERR_INVALID_RANGE, 0,
				  "Start Location is after the Largest Object");
		return;
	}
	if (tr && tr->cache.has_largest && relay_cache_covers(&tr->cache, start)) {
		relay_name_free(&name);
		serve_from_cache(d, tr, r, start, end);
		return;
	}
	route = tr ? tr->up_peer : relayd_route(d, &name, p);
	if (!route) {
		d->stats.fetch_errors++;
		if (tr)
			moq_request_error(
			    r, MOQ_REQERR_INVALID_RANGE, 0,
			    "range not in the relay's cache and no upstream to fetch it from");
		else
			moq_request_error(r, MOQ_REQERR_DOES_NOT_EXIST, 0,
					  "no publisher for this track");
		relay_name_free(&name);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		relay_name_free(&name);
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
		return;
	}
	j->down = r;
	j->down_peer = p;
	j->next = p->fetches;
	p->fetches = j;
	moq_request_set_user(r, j);
	j->up = moq_session_fetch(route->s, &name.ns, name.name, start, end, NULL, j);
	moq_info(MOD, "FETCH %s: not in the cache, forwarded to %s", name.text,
		 moq_session_name(route->s));
	relay_name_free(&name);
	if (!j->up)
		down_fail(j, MOQ_REQERR_INTERNAL_ERROR, "cannot fetch upstream");
	job_maybe_free(j);
}

void relayd_fetch_up_msg(struct relayd *d, struct fetch_job *j, const struct moq_ctrl_msg *m)
{
	int err = 0;

	(void)d;
	if (m->type == MOQ_CTRL_FETCH_OK && j->down) {
		const struct moq_fetch_ok *ok = &m->fetch_ok;

		if (moq_request_fetch_ok(j->down, ok->end_of_track, ok->end_location, NULL,
					 ok->track_properties)) {
			down_fail(j, MOQ_REQERR_INTERNAL_ERROR, "cannot answer");
			up_drop(j);
		} else {
			j->tx = moq_tx_fetch_open(j->down, &err);
			if (!j->tx) {
				down_fail(j, MOQ_REQERR_INTERNAL_ERROR,
					  "cannot open the data stream");
				up_drop(j);
			}
		}
	} else if (m->type == MOQ_CTRL_REQUEST_ERROR && j->down) {
		const struct moq_request_error *e = &m->request_error;
		char reason[256];

		snprintf(reason, sizeof(reason), "upstream: %.*s",
			 (int)(e->error_reason.len > 200 ? 200 : e->error_reason.len),
			 (const char *)e->error_reason.ptr);
		down_fail(j, e->error_code, reason);
	}
	job_maybe_free(j);
}

void relayd_fetch_closed(struct relayd *d, struct fetch_job *j, bool downstream_side)
{
	(void)d;
	if (downstream_side) {
		j->down = NULL;
		j->tx = NULL; /* killed with the request */
		up_drop(j);
	} else {
		j->up = NULL;
		if (j->down && moq_request_state(j->down) == MOQ_REQ_PENDING)
			down_fail(j, MOQ_REQERR_INTERNAL_ERROR,
				  "upstream fetch ended without an answer");
		if (j->rx) {
			moq_rx_set_user(j->rx, NULL);
			j->rx = NULL;
		}
		if (j->down && !j->tx) {
			/* answered but the data never came */
			down_fail(j, MOQ_REQERR_INTERNAL_ERROR, "upstream fetch ended");
		}
	}
	job_maybe_free(j);
}

bool relayd_fetch_owns_rx(struct relayd *d, const struct moq_rx *rx)
{
	for (struct peer *p = d->peers; p; p = p->next)
		for (struct fetch_job *j = p->fetches; j; j = j->next)
			if (j->rx == rx)
				return true;
	return false;
}

void relayd_fetch_data(struct relayd *d, struct fetch_job *j, struct moq_rx *rx,
		       const struct moq_data_event *ev)
{
	struct moq_tx_object o;

	switch (ev->type) {
	case MOQ_DATA_EV_HEADER:
		j->rx = rx;
		return;
	case MOQ_DATA_EV_OBJECT: {
		const struct moq_fetch_object *fo = &ev->fetch_object;

		if (!j->tx)
			return;
		memset(&o, 0, sizeof(o));
		o.group_id = fo->group_id;
		o.subgroup_id = fo->subgroup_id;
		o.object_id = fo->object_id;
		o.publisher_priority = fo->publisher_priority;
		o.datagram = fo->datagram;
		o.properties = fo->properties;
		o.payload_length = fo->payload_length;
		if (moq_tx_object_begin(j->tx, &o)) {
			moq_tx_reset(j->tx, MOQ_RESET_INTERNAL_ERROR);
			j->tx = NULL;
			return;
		}
		d->stats.objects_out++;
		return;
	}
	case MOQ_DATA_EV_PAYLOAD:
		if (j->tx && moq_tx_payload(j->tx, ev->payload.ptr, ev->payload.len)) {
			moq_tx_reset(j->tx, MOQ_RESET_INTERNAL_ERROR);
			j->tx = NULL;
		}
		d->stats.bytes_out += ev->payload.len;
		return;
	case MOQ_DATA_EV_END_OF_RANGE:
		if (j->tx && moq_tx_fetch_end_of_range(
				 j->tx, ev->fetch_object.end_of_range == MOQ_FETCH_UNKNOWN_RANGE,
				 (struct moq_location){ev->fetch_object.group_id,
						       ev->fetch_object.object_id})) {
			moq_tx_reset(j->tx, MOQ_RESET_INTERNAL_ERROR);
			j->tx = NULL;
		}
		return;
	case MOQ_DATA_EV_STREAM_END:
		moq_rx_set_user(rx, NULL);
		j->rx = NULL;
		if (j->tx) {
			if (moq_tx_finish(j->tx))
				moq_tx_reset(j->tx, MOQ_RESET_INTERNAL_ERROR);
			j->tx = NULL;
		}
		if (j->down) {
			moq_request_set_user(j->down, NULL);
			j->down = NULL;
		}
		job_maybe_free(j);
		return;
	default:
		return;
	}
}

void relayd_fetch_data_reset(struct relayd *d, struct fetch_job *j, uint64_t code)
{
	(void)d;
	j->rx = NULL;
	if (j->tx) {
		moq_tx_reset(j->tx, code);
		j->tx = NULL;
	}
	if (j->down) {
		moq_request_set_user(j->down, NULL);
		j->down = NULL;
	}
	job_maybe_free(j);
}

void relayd_fetch_tx_gone(struct relayd *d, struct fetch_job *j)
{
	(void)d;
	if (j->tx) {
		moq_tx_reset(j->tx, MOQ_RESET_CANCELLED);
		j->tx = NULL;
	}
	up_drop(j);
	job_maybe_free(j);
}

void relayd_fetch_peer_gone(struct relayd *d, struct peer *p)
{
	/* jobs of p as the downstream side */
	while (p->fetches) {
		struct fetch_job *j = p->fetches;

		if (j->down)
			moq_request_set_user(j->down, NULL);
		j->down = NULL;
		j->tx = NULL;
		up_drop(j);
		job_unlink(j);
		free(j);
	}
	/* jobs whose upstream request is on p */
	for (struct peer *q = d->peers; q; q = q->next) {
		for (struct fetch_job *j = q->fetches, *next; j; j = next) {
			next = j->next;
			if (j->up && moq_request_session(j->up) == p->s) {
				moq_request_set_user(j->up, NULL);
				j->up = NULL;
				if (j->rx)
					moq_rx_set_user(j->rx, NULL);
				j->rx = NULL;
				down_fail(j, MOQ_REQERR_INTERNAL_ERROR, "upstream session ended");
				job_maybe_free(j);
			}
		}
	}
}
