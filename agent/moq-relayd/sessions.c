/* Session callbacks: SETUP/auth, routing of SUBSCRIBE / PUBLISH /
 * PUBLISH_NAMESPACE, subscription aggregation, data fan-out hooks,
 * lifecycle of publishers and subscribers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ngtcp2/ngtcp2.h>

#include "log.h"
#include "names.h"
#include "relayd.h"
#include "fastpath.h"
#include "fetch.h"
#include "sessions.h"
#include "admission.h"
#include "auth.h"
#include "rendezvous.h"

#define MOD "relayd"

static const struct moq_bytes no_props = {NULL, 0};

struct peer *relayd_route(struct relayd *d, const struct relay_name *name, struct peer *asking)
{
	const struct relay_route *rt = relay_routing_lookup(&d->routes, name);

	if (rt && rt->owner != asking)
		return rt->owner;
	if (d->upstream && d->upstream != asking &&
	    moq_session_state(d->upstream->s) <= MOQ_SESSION_READY &&
	    !moq_session_goaway_received(d->upstream->s))
		return d->upstream;
	return NULL;
}

/* ---- log context ---- */

void relayd_addr_str(const struct sockaddr *sa, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN];

	if (outlen)
		out[0] = 0;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		if (inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a)))
			snprintf(out, outlen, "%s:%u", a, ntohs(in->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a)))
			snprintf(out, outlen, "[%s]:%u", a, ntohs(in6->sin6_port));
	}
}

/* The session layer names sessions "#N server peer ADDR:PORT"; N is the
 * session's number in the log (0: a configured name such as "upstream"). */
static uint64_t session_number(const struct moq_session *s)
{
	const char *n = s ? moq_session_name(s) : NULL;
	uint64_t v = 0;

	if (!n || n[0] != '#')
		return 0;
	for (n++; *n >= '0' && *n <= '9'; n++)
		v = v * 10 + (uint64_t)(*n - '0');
	return v;
}

static void session_log_ctx(const struct moq_session *s, uint64_t *num, char *peer, size_t peerlen)
{
	struct moq_quic_conn *c = s ? moq_session_conn(s) : NULL;
	socklen_t len = 0;

	*num = session_number(s);
	relayd_addr_str(c ? moq_quic_conn_peer(c, &len) : NULL, peer, peerlen);
}

void relayd_peer_log_init(struct peer *p)
{
	session_log_ctx(p->s, &p->log_session, p->log_peer, sizeof(p->log_peer));
}

void relayd_log_scope_session(struct moq_log_scope *sc, const struct moq_session *s)
{
	struct peer *p = s ? moq_session_user(s) : NULL;
	char peer[MOQ_LOG_PEER_MAX];
	uint64_t num;

	if (p) {
		relayd_log_scope_peer(sc, p);
		return;
	}
	session_log_ctx(s, &num, peer, sizeof(peer));
	moq_log_scope_session(sc, num, peer);
}

/* Track scope of a request's track (or a PUBLISH_NAMESPACE's namespace);
 * the current context unchanged when it has none. */
static void request_track_scope(struct moq_log_scope *sc, const struct moq_request *r)
{
	struct moq_namespace ns;
	struct moq_bytes name;
	/* worst case of moq/wire/names.h (the scope copies it at once) */
	static char text[3 * 4096 + 2 * 32 + 4];
	const struct moq_log_ctx *c;

	if (r && moq_request_track(r, &ns, &name)) {
		bool has_name = moq_request_type(r) != MOQ_CTRL_PUBLISH_NAMESPACE;

		if (moq_name_render(text, sizeof(text), &ns, has_name ? &name : NULL) < 0)
			strcpy(text, "?");
		moq_log_scope_track(sc, text);
		return;
	}
	c = moq_log_ctx_get();
	moq_log_scope_track(sc, c ? c->track : NULL);
}

#define RELAYD_LOG_REQUEST(r)                                                                      \
	struct moq_log_scope log_track_sc_ __attribute__((cleanup(relayd_log_scope_end_)));        \
	request_track_scope(&log_track_sc_, (r))

/* ---- peers ---- */

struct peer *relayd_peer_new(struct relayd *d, struct moq_session *s, bool upstream)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->d = d;
	p->s = s;
	p->is_upstream = upstream;
	p->req_tokens = (double)d->cfg.max_request_rate;
	p->req_tokens_ns = moq_loop_now();
	relay_alias_set_init(&p->aliases);
	p->next = d->peers;
	d->peers = p;
	d->npeers++;
	if (s) {
		moq_session_set_user(s, p);
		relayd_peer_log_init(p);
	}
	relayd_fp_peer_new(d, p);
	return p;
}

/* ---- limits (docs/relay.md "Limits") ---- */

int relayd_on_session(struct moq_session *s, void *arg)
{
	struct relayd *d = arg;
	struct moq_log_scope sc __attribute__((cleanup(relayd_log_scope_end_)));

	relayd_log_scope_session(&sc, s);
	if (d->draining)
		return -1;
	if (relayd_downstream_sessions(d) >= d->cfg.max_sessions) {
		/* the QUIC layer closes the connection attempt with
		 * CONNECTION_REFUSED (0x2): MoQT has no code for it */
		relayd_limit_hit(d, "%zu sessions (--max-sessions): refusing a connection",
				 relayd_downstream_sessions(d));
		return -1;
	}
	if (!relayd_peer_new(d, s, false))
		return -1;
	d->stats.sessions_accepted++;
	return 0;
}

/* ---- subscribers ---- */

static void peer_unlink_sub(struct peer *p, struct relay_sub *sub)
{
	for (struct relay_sub **pp = &p->subs; *pp; pp = &(*pp)->peer_next) {
		if (*pp == sub) {
			*pp = sub->peer_next;
			p->nsubs--;
			break;
		}
	}
	if (sub->established)
		relay_alias_set_del(&p->aliases, sub->alias);
}

/* Free a subscriber's state (its request is already answered/freed or is
 * being freed by the session). reset: end its open streams with code. */
static void sub_free(struct relayd *d, struct relay_sub *sub, bool reset, uint64_t code)
{
	struct peer *p = sub->peer;

	relay_forward_sub_stop(sub, reset, code);
	relayd_fp_sub_gone(d, sub);
	if (sub->rdv_deadline)
		relayd_rdv_unlink(d, sub);
	if (sub->track)
		relay_track_remove_sub(sub->track, sub);
	peer_unlink_sub(p, sub);
	if (sub->req)
		moq_request_set_user(sub->req, NULL);
	free(sub);
}

/* End a track: every subscriber gets PUBLISH_DONE (established) or
 * REQUEST_ERROR (still pending); upstream state is dropped. up_alive: the
 * upstream request is still open and must be cancelled.
 *
 * Session calls below can call back into this file (stopping the last
 * upstream stream of a subscription that got PUBLISH_DONE ends its request:
 * on_request_closed), so the upstream request forgets the track first and a
 * track already ending is not ended again. */
static void track_end(struct relayd *d, struct relay_track *tr, uint64_t status, uint64_t req_error,
		      const char *reason, bool up_alive)
{
	struct moq_request *up = tr->up;
	RELAYD_LOG_TRACK(tr->name.text);

	if (tr->ending)
		return;
	tr->ending = true;
	tr->up = NULL;
	if (up)
		moq_request_set_user(up, NULL);
	moq_info(MOD, "track %s ended: %s", tr->name.text, reason);
	while (tr->subs) {
		struct relay_sub *sub = tr->subs;
		struct moq_request *r = sub->req;
		bool est = sub->established;
		bool sess_ok = !((struct peer *)sub->peer)->closing;
		/* streams the kernel fast path opened to it (the session
		 * counts only its own) */
		uint64_t fast_streams = relayd_fp_sub_streams(d, sub);
		/* what follows is about the subscriber's session */
		RELAYD_LOG_PEER(sub->peer);
		RELAYD_LOG_TRACK(tr->name.text);

		sub->track_ended = true;
		relay_forward_sub_stop(sub, sess_ok, MOQ_RESET_CANCELLED);
		sub->req = NULL;
		sub_free(d, sub, false, 0);
		if (r && sess_ok) {
			moq_request_set_user(r, NULL);
			if (est) {
				moq_request_add_streams(r, fast_streams);
				moq_request_publish_done(r, status, reason);
			} else {
				moq_request_error(r, req_error, 0, reason);
			}
		}
	}
	while (tr->rxs) {
		struct relay_rx *rx = tr->rxs;
		struct peer *upp = tr->up_peer;
		struct moq_rx *mrx = rx->rx;

		moq_rx_set_user(mrx, NULL);
		relay_rx_free(rx);
		if (upp && !upp->closing)
			moq_rx_stop(mrx, MOQ_RESET_CANCELLED);
	}
	if (up && up_alive && tr->up_peer && !((struct peer *)tr->up_peer)->closing)
		moq_request_cancel(up, MOQ_RESET_CANCELLED);
	relayd_fp_track_gone(d, tr);
	relay_track_free(&d->tracks, tr);
}

/* Upstream PUBLISH_DONE: remember how the track ends; it ends when the
 * session closes the upstream request, after the streams PUBLISH_DONE
 * counted (on_request_closed DONE). Until then late streams are forwarded. */
static void track_done(struct relay_track *tr, const struct moq_publish_done *pd, const char *who)
{
	const char *nm = moq_publish_done_name(pd->status_code);

	tr->done = true;
	tr->done_status = pd->status_code;
	snprintf(tr->done_reason, sizeof(tr->done_reason), "%s: %.*s", who,
		 (int)(pd->error_reason.len > 200 ? 200 : pd->error_reason.len),
		 (const char *)pd->error_reason.ptr);
	moq_info(MOD,
		 "track %s: %s PUBLISH_DONE %s, %llu streams; forwarding until they have arrived",
		 tr->name.text, who, nm ? nm : "?", (unsigned long long)pd->stream_count);
}

void relayd_track_release(struct relayd *d, struct relay_track *tr)
{
	if (tr->nsubs || tr->up_is_publish)
		return;
	RELAYD_LOG_TRACK(tr->name.text);
	moq_info(MOD, "track %s: last subscriber left, unsubscribing upstream", tr->name.text);
	track_end(d, tr, MOQ_PUBDONE_SUBSCRIPTION_ENDED, MOQ_REQERR_INTERNAL_ERROR,
		  "no subscribers", true);
}

static uint64_t reqerr_for_filter(int rc)
{
	(void)rc;
	return MOQ_REQERR_INVALID_RANGE;
}

/* Answer a pending subscriber with SUBSCRIBE_OK and start its data. Frees
 * the sub (with REQUEST_ERROR) when its filter cannot be served. */
static void sub_accept(struct relayd *d, struct relay_sub *sub)
{
	struct relay_track *tr = sub->track;
	struct peer *p = sub->peer;
	struct moq_params params;
	struct moq_bytes props = {tr->props, tr->props_len};
	uint64_t alias;
	int rc;
	/* runs in the publisher's callback for every waiting subscriber */
	RELAYD_LOG_PEER(p);
	RELAYD_LOG_TRACK(tr->name.text);

	rc = relay_filter_resolve(
	    sub->has_filter, &sub->filter, tr->cache.has_largest, tr->cache.largest,
	    relay_cache_covers(&tr->cache, (struct moq_location){tr->cache.largest.group, 0}),
	    &sub->range);
	if (rc) {
		struct moq_request *r = sub->req;

		sub->req = NULL;
		sub_free(d, sub, false, 0);
		moq_request_set_user(r, NULL);
		moq_request_error(r, reqerr_for_filter(rc), 0,
				  "the filter's range cannot be served (end group already passed)");
		d->stats.subscribe_errors++;
		return;
	}
	sub->wait_group_start = !sub->has_filter && !tr->cache.has_largest;
	moq_params_init(&params);
	if (tr->cache.has_largest)
		moq_params_add_location(&params, MOQ_PARAM_LARGEST_OBJECT, tr->cache.largest);
	alias = relay_alias_pick(&p->aliases, tr->up_alias);
	rc = moq_request_subscribe_ok(sub->req, alias, &params, props);
	if (rc == -EINVAL) {
		rc = moq_request_subscribe_ok(sub->req, MOQ_SESSION_ALIAS_AUTO, &params, props);
		alias = moq_request_track_alias(sub->req);
	}
	if (rc) {
		struct moq_request *r = sub->req;

		moq_warn(MOD, "track %s: SUBSCRIBE_OK failed: %s", tr->name.text, strerror(-rc));
		sub->req = NULL;
		sub_free(d, sub, false, 0);
		moq_request_set_user(r, NULL);
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "relay could not answer");
		return;
	}
	sub->alias = alias;
	relay_alias_set_add(&p->aliases, alias);
	sub->established = true;
	sub->has_joining = tr->cache.has_largest;
	sub->joining = tr->cache.largest;
	moq_info(MOD, "track %s: subscriber %s alias %llu, start {%llu,%llu}", tr->name.text,
		 moq_session_name(p->s), (unsigned long long)alias,
		 (unsigned long long)sub->range.start.group,
		 (unsigned long long)sub->range.start.object);
	relayd_fp_sub_established(d, sub);
	relay_forward_replay(&d->fwd, sub);
}

static void on_subscribe(struct relayd *d, struct peer *p, struct moq_request *r,
			 const struct moq_ctrl_msg *m)
{
	const struct moq_subscribe *sm = &m->subscribe;
	struct relay_name name;
	uint64_t rdv_ms;

	d->stats.subscribes++;
	if (!relayd_auth_ok(d, p, &sm->params, RELAY_ROLE_SUBSCRIBE)) {
		d->stats.subscribe_errors++;
		moq_request_error(r, MOQ_REQERR_UNAUTHORIZED, 0,
				  "authorization token does not match");
		return;
	}
	if (p->nsubs >= d->cfg.max_subscriptions) {
		relayd_limit_hit(d, "%s: %zu subscriptions (--max-subscriptions)",
				 moq_session_name(p->s), p->nsubs);
		d->stats.subscribe_errors++;
		moq_request_error(r, MOQ_REQERR_EXCESSIVE_LOAD, RELAYD_LIMIT_RETRY_MS,
				  "too many subscriptions in this session");
		return;
	}
	if (relay_name_init(&name, &sm->track_namespace, &sm->track_name)) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
		return;
	}
	if (!moq_params_get_u64(&sm->params, MOQ_PARAM_RENDEZVOUS_TIMEOUT, &rdv_ms))
		rdv_ms = 0;
	relayd_subscribe_route(d, p, r, &name, rdv_ms);
}

/* The routing half of a SUBSCRIBE (checks passed); also resumes one held
 * for a publisher (rendezvous.c). Frees name. rdv_ms: RENDEZVOUS_TIMEOUT
 * (0: answer DOES_NOT_EXIST at once when there is no publisher). */
void relayd_subscribe_route(struct relayd *d, struct peer *p, struct moq_request *r,
			    struct relay_name *name_, uint64_t rdv_ms)
{
	struct relay_name name = *name_;
	struct relay_track *tr;
	struct relay_sub *sub;
	struct moq_subscription_info info;

	memset(&info, 0, sizeof(info));
	moq_request_subscription(r, &info);
	tr = relay_tracks_find(&d->tracks, &name);
	if (!tr) {
		struct peer *pub = relayd_route(d, &name, p);

		if (!pub && relayd_rdv_hold(d, p, r, &name, rdv_ms)) {
			relay_name_free(&name);
			return;
		}
		if (!pub) {
			moq_info(MOD, "SUBSCRIBE %s: no publisher", name.text);
			d->stats.subscribe_errors++;
			moq_request_error(r, MOQ_REQERR_DOES_NOT_EXIST, 0,
					  "no publisher for this track");
			relay_name_free(&name);
			return;
		}
		if (d->tracks.n >= d->cfg.max_tracks) {
			relayd_limit_hit(d, "SUBSCRIBE %s: %zu tracks (--max-tracks)", name.text,
					 d->tracks.n);
			d->stats.subscribe_errors++;
			moq_request_error(r, MOQ_REQERR_EXCESSIVE_LOAD, RELAYD_LIMIT_RETRY_MS,
					  "relay carries too many tracks");
			relay_name_free(&name);
			return;
		}
		tr = relay_track_new(&d->tracks, &name, d->cfg.cache_groups, d->cfg.cache_bytes);
		if (!tr) {
			moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
			relay_name_free(&name);
			return;
		}
		tr->up_peer = pub;
		tr->up = moq_session_subscribe(pub->s, &tr->name.ns, tr->name.name, NULL, tr);
		if (!tr->up) {
			relayd_fp_track_gone(d, tr);
			relay_track_free(&d->tracks, tr);
			moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0,
					  "cannot subscribe upstream");
			relay_name_free(&name);
			return;
		}
		d->stats.upstream_subscribes++;
		moq_info(MOD, "track %s: subscribing upstream via %s", tr->name.text,
			 moq_session_name(pub->s));
	}
	relay_name_free(&name);
	sub = calloc(1, sizeof(*sub));
	if (!sub) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
		relayd_track_release(d, tr);
		return;
	}
	sub->peer = p;
	sub->req = r;
	sub->has_filter = info.has_filter;
	sub->filter = info.filter;
	sub->sub_priority = info.subscriber_priority;
	sub->peer_subs = &p->subs;
	sub->peer_next = p->subs;
	p->subs = sub;
	p->nsubs++;
	relay_track_add_sub(tr, sub);
	moq_request_set_user(r, sub);
	if (tr->state == RELAY_TRACK_ACTIVE)
		sub_accept(d, sub);
}

/* A peer that starts publishing gets a socket of its own on the relay's
 * port: its media then never waits, nor is dropped, behind the
 * subscribers' packets in the shared socket (at ~1,000 subscribers that
 * socket overflowed; docs/results.md section 11). */
static void become_publisher(struct peer *p)
{
	int rc;

	if (p->is_publisher)
		return;
	p->is_publisher = true;
	rc = moq_quic_conn_own_socket(moq_session_conn(p->s));
	if (rc)
		moq_warn(MOD, "%s: publisher keeps the shared socket (own socket: %s)",
			 moq_session_name(p->s), strerror(-rc));
	else
		moq_info(MOD, "%s: publisher reads on a socket of its own", moq_session_name(p->s));
}

static void on_publish_namespace(struct relayd *d, struct peer *p, struct moq_request *r,
				 const struct moq_ctrl_msg *m)
{
	const struct moq_publish_namespace *pn = &m->publish_namespace;
	void *old = NULL, *old_cookie = NULL;
	int rc;

	if (!relayd_auth_ok(d, p, &pn->params, RELAY_ROLE_PUBLISH)) {
		moq_request_error(r, MOQ_REQERR_UNAUTHORIZED, 0,
				  "authorization token does not match");
		return;
	}
	rc = relay_routing_add(&d->routes, &pn->track_namespace, p, r, &old, &old_cookie);
	if (rc < 0) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
		return;
	}
	become_publisher(p);
	/* only a publish-authorized peer gets here (checked above) */
	if (rc == 1 && old != p)
		moq_warn(MOD,
			 "namespace re-announced by %s (publish-authorized, roles %s); it replaces "
			 "the publisher %s",
			 moq_session_name(p->s), relay_auth_role_names(p->roles),
			 old ? moq_session_name(((struct peer *)old)->s) : "?");
	moq_request_ok(r, NULL, no_props);
	moq_info(MOD, "%s publishes namespace (%zu routes)", moq_session_name(p->s),
		 relay_routing_count(&d->routes));
	relayd_rdv_retry(d);
}

static void on_publish(struct relayd *d, struct peer *p, struct moq_request *r,
		       const struct moq_ctrl_msg *m)
{
	const struct moq_publish *pm = &m->publish;
	struct relay_name name;
	struct relay_track *tr;
	struct moq_location loc;

	if (!relayd_auth_ok(d, p, &pm->params, RELAY_ROLE_PUBLISH)) {
		moq_request_error(r, MOQ_REQERR_UNAUTHORIZED, 0,
				  "authorization token does not match");
		return;
	}
	if (relay_name_init(&name, &pm->track_namespace, &pm->track_name)) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
		return;
	}
	tr = relay_tracks_find(&d->tracks, &name);
	if (!tr && d->tracks.n >= d->cfg.max_tracks) {
		relayd_limit_hit(d, "PUBLISH %s: %zu tracks (--max-tracks)", name.text,
				 d->tracks.n);
		moq_request_error(r, MOQ_REQERR_EXCESSIVE_LOAD, RELAYD_LIMIT_RETRY_MS,
				  "relay carries too many tracks");
		relay_name_free(&name);
		return;
	}
	if (tr) {
		/* only a publish-authorized peer gets here (checked above) */
		moq_warn(MOD,
			 "PUBLISH %s by %s (publish-authorized, roles %s) takes over the track",
			 tr->name.text, moq_session_name(p->s), relay_auth_role_names(p->roles));
		track_end(d, tr, MOQ_PUBDONE_SUBSCRIPTION_ENDED, MOQ_REQERR_INTERNAL_ERROR,
			  "a new publisher took over the track", true);
	}
	tr = relay_track_new(&d->tracks, &name, d->cfg.cache_groups, d->cfg.cache_bytes);
	relay_name_free(&name);
	if (!tr) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
		return;
	}
	tr->up = r;
	tr->up_peer = p;
	tr->up_is_publish = true;
	tr->up_alias = pm->track_alias;
	tr->state = RELAY_TRACK_ACTIVE;
	relay_track_set_props(tr, pm->track_properties.ptr, pm->track_properties.len);
	if (moq_params_get_location(&pm->params, MOQ_PARAM_LARGEST_OBJECT, &loc)) {
		tr->cache.has_largest = true;
		tr->cache.largest = loc;
	}
	become_publisher(p);
	moq_request_set_user(r, tr);
	if (moq_request_ok(r, NULL, no_props)) {
		moq_request_set_user(r, NULL);
		tr->up = NULL;
		relayd_fp_track_gone(d, tr);
		relay_track_free(&d->tracks, tr);
		return;
	}
	moq_info(MOD, "track %s published by %s", tr->name.text, moq_session_name(p->s));
	relayd_rdv_retry(d);
}

static void on_track_status(struct relayd *d, struct peer *p, struct moq_request *r,
			    const struct moq_ctrl_msg *m)
{
	struct relay_name name;
	struct relay_track *tr;
	struct moq_params params;

	if (!relayd_auth_ok(d, p, &m->track_status.params, RELAY_ROLE_SUBSCRIBE)) {
		moq_request_error(r, MOQ_REQERR_UNAUTHORIZED, 0,
				  "authorization token does not match");
		return;
	}
	if (relay_name_init(&name, &m->track_status.track_namespace, &m->track_status.track_name)) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "no memory");
		return;
	}
	tr = relay_tracks_find(&d->tracks, &name);
	relay_name_free(&name);
	if (!tr || tr->state != RELAY_TRACK_ACTIVE) {
		moq_request_error(r, MOQ_REQERR_DOES_NOT_EXIST, 0,
				  "track not carried by this relay now");
		return;
	}
	moq_params_init(&params);
	if (tr->cache.has_largest)
		moq_params_add_location(&params, MOQ_PARAM_LARGEST_OBJECT, tr->cache.largest);
	moq_request_ok(r, &params, (struct moq_bytes){tr->props, tr->props_len});
}

/* ---- callbacks ---- */

static int cb_setup(struct moq_session *s, const struct moq_setup *peer)
{
	struct peer *p = moq_session_user(s);
	struct relayd *d = p->d;
	struct relay_auth_token t[RELAY_AUTH_MAX_TOKENS];
	size_t n = 0;
	RELAYD_LOG_PEER(p);

	if (p->is_upstream) {
		p->roles = RELAY_ROLE_ALL;
		return 0;
	}
	/* the relay announces no MAX_AUTH_TOKEN_CACHE_SIZE (0), so a
	 * REGISTER token counts as USE_VALUE (draft-18 SETUP AUTHORIZATION
	 * TOKEN) */
	for (size_t i = 0; i < peer->num_authorization_tokens && n < RELAY_AUTH_MAX_TOKENS; i++) {
		const struct moq_auth_token *a = &peer->authorization_tokens[i];

		if (a->alias_type == MOQ_ALIAS_USE_VALUE || a->alias_type == MOQ_ALIAS_REGISTER)
			t[n++] = (struct relay_auth_token){a->token_value.ptr, a->token_value.len};
	}
	p->roles = relay_auth_roles(&d->cfg, t, n);
	if (!p->roles) {
		d->stats.sessions_refused_auth++;
		moq_warn(MOD, "%s: missing or wrong authorization token, closing (UNAUTHORIZED)",
			 moq_session_name(s));
		return MOQ_SESSION_UNAUTHORIZED;
	}
	/* kept to check the session again when SIGHUP changes the tokens */
	if (relay_auth_tokens_copy(&p->auth_tok, &p->auth_ntok, t, n))
		return MOQ_SESSION_INTERNAL_ERROR;
	moq_info(MOD, "%s: authorized to %s (path \"%s\", authority \"%s\")", moq_session_name(s),
		 relay_auth_role_names(p->roles), moq_session_peer(s)->path,
		 moq_session_peer(s)->authority);
	return 0;
}

static void cb_ready(struct moq_session *s)
{
	struct peer *p = moq_session_user(s);
	ngtcp2_conn *nc = moq_quic_conn_ngtcp2(moq_session_conn(s));
	RELAYD_LOG_PEER(p);

	/* PINGs at a third of the idle timeout: a subscriber waiting on a
	 * quiet track must outlive a dead publisher's connection, so that it
	 * gets PUBLISH_DONE instead of an idle close */
	if (nc && p)
		ngtcp2_conn_set_keep_alive_timeout(nc, p->d->cfg.idle_timeout_ms * 1000000ull / 3);

	moq_info(MOD, "%s: session ready%s", moq_session_name(s),
		 p && p->is_upstream ? " (upstream)" : "");
	if (p && p->is_upstream)
		relayd_rdv_retry(p->d); /* held SUBSCRIBEs go upstream now */
}

static void cb_goaway(struct moq_session *s, const struct moq_goaway *g)
{
	struct moq_log_scope sc __attribute__((cleanup(relayd_log_scope_end_)));

	(void)g;
	relayd_log_scope_session(&sc, s);
	moq_info(MOD, "%s: GOAWAY received", moq_session_name(s));
}

static void up_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	relayd_upstream_connect(arg);
}

static void cb_close(struct moq_session *s, const struct moq_quic_close_info *info)
{
	struct peer *p = moq_session_user(s);
	struct relayd *d;

	if (!p)
		return;
	/* the scope holds a copy: p is freed below */
	RELAYD_LOG_PEER(p);
	d = p->d;
	p->closing = true;
	moq_info(MOD, "%s: session closed (code %llu%s%s)", moq_session_name(s),
		 (unsigned long long)info->code, info->reason[0] ? ": " : "", info->reason);
	relay_routing_remove_owner(&d->routes, p);
	relayd_fetch_peer_gone(d, p);
	while (p->subs) {
		struct relay_sub *sub = p->subs;
		struct relay_track *tr = sub->track;

		sub->req = NULL;
		sub_free(d, sub, false, 0);
		if (tr)
			relayd_track_release(d, tr);
	}
	for (struct relay_track *tr = d->tracks.head, *next; tr; tr = next) {
		next = tr->next;
		if (tr->up_peer == p)
			track_end(d, tr, MOQ_PUBDONE_TRACK_ENDED, MOQ_REQERR_DOES_NOT_EXIST,
				  "publisher session ended", false);
	}
	for (struct peer **pp = &d->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			d->npeers--;
			break;
		}
	}
	if (d->upstream == p) {
		d->upstream = NULL;
		if (!d->draining) {
			moq_warn(MOD, "upstream %s lost; reconnecting in 1 s", d->cfg.upstream);
			moq_timer_set_in(d->up_timer, 1000000000ull);
		}
	}
	relayd_fp_peer_gone(d, p);
	relay_alias_set_free(&p->aliases);
	relay_auth_tokens_free(p->auth_tok, p->auth_ntok);
	moq_session_set_user(s, NULL);
	free(p);
	if (d->draining) {
		bool any = false;

		for (struct peer *q = d->peers; q; q = q->next)
			if (!q->is_upstream)
				any = true;
		if (!any)
			moq_loop_stop(d->loop);
	}
}

static void cb_request(struct moq_session *s, struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct peer *p = moq_session_user(s);
	struct relayd *d = p->d;
	uint64_t retry_ms;
	RELAYD_LOG_PEER(p);
	RELAYD_LOG_REQUEST(r);

	if (!relayd_rate_ok(d, p, &retry_ms)) {
		relayd_limit_hit(d, "%s: over %llu requests/s (--max-request-rate)",
				 moq_session_name(s), (unsigned long long)d->cfg.max_request_rate);
		if (m->type == MOQ_CTRL_SUBSCRIBE)
			d->stats.subscribe_errors++;
		moq_request_error(r, MOQ_REQERR_EXCESSIVE_LOAD, retry_ms,
				  "request rate over this relay's limit; retry later");
		return;
	}
	if (!relayd_request_name_ok(d, p, r, m))
		return;
	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
		/* a publisher whose packets wait for the fast path's tick is
		 * read now (fp_intake.c): this subscriber may need its bytes */
		relayd_fp_intake_kick(d);
		on_subscribe(d, p, r, m);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		on_publish_namespace(d, p, r, m);
		break;
	case MOQ_CTRL_PUBLISH:
		on_publish(d, p, r, m);
		break;
	case MOQ_CTRL_FETCH:
		d->stats.fetches++;
		relayd_fp_intake_kick(d);
		relayd_fetch_request(d, p, r, m);
		break;
	case MOQ_CTRL_TRACK_STATUS:
		on_track_status(d, p, r, m);
		break;
	default:
		moq_request_error(r, MOQ_REQERR_NOT_SUPPORTED, 0, "not supported by this relay");
		break;
	}
}

static void cb_request_msg(struct moq_session *s, struct moq_request *r,
			   const struct moq_ctrl_msg *m)
{
	struct peer *p = moq_session_user(s);
	struct relayd *d = p->d;
	void *u = moq_request_user(r);
	uint64_t type = moq_request_type(r);
	bool local = moq_request_is_local(r);
	RELAYD_LOG_PEER(p);
	RELAYD_LOG_REQUEST(r);

	if (type == MOQ_CTRL_FETCH && u) {
		if (local)
			relayd_fetch_up_msg(d, u, m);
		return;
	}
	if (type == MOQ_CTRL_SUBSCRIBE && !local) {
		struct relay_sub *sub = u;

		if (m->type == MOQ_CTRL_REQUEST_UPDATE && sub) {
			struct moq_subscription_info info;

			if (moq_request_subscription(r, &info) == 0) {
				sub->sub_priority = info.subscriber_priority;
				if (info.has_filter &&
				    info.filter.filter_type == MOQ_FILTER_ABSOLUTE_RANGE) {
					sub->range.has_end = true;
					sub->range.end_group = info.filter.start_location.group +
							       info.filter.end_group_delta;
				}
			}
			moq_request_ok(r, NULL, no_props);
		} else if (m->type == MOQ_CTRL_REQUEST_UPDATE) {
			moq_request_ok(r, NULL, no_props);
		}
		return;
	}
	if (type == MOQ_CTRL_PUBLISH && !local) {
		if (m->type == MOQ_CTRL_REQUEST_UPDATE) {
			moq_request_ok(r, NULL, no_props);
		} else if (m->type == MOQ_CTRL_PUBLISH_DONE && u) {
			track_done(u, &m->publish_done, "publisher");
		}
		return;
	}
	if (type == MOQ_CTRL_SUBSCRIBE && local && u) {
		struct relay_track *tr = u;
		struct moq_location loc;

		switch (m->type) {
		case MOQ_CTRL_SUBSCRIBE_OK:
			tr->state = RELAY_TRACK_ACTIVE;
			tr->up_alias = m->subscribe_ok.track_alias;
			relay_track_set_props(tr, m->subscribe_ok.track_properties.ptr,
					      m->subscribe_ok.track_properties.len);
			if (moq_params_get_location(&m->subscribe_ok.params,
						    MOQ_PARAM_LARGEST_OBJECT, &loc) &&
			    (!tr->cache.has_largest ||
			     moq_location_cmp(loc, tr->cache.largest) > 0)) {
				tr->cache.has_largest = true;
				tr->cache.largest = loc;
			}
			for (struct relay_sub *sub = tr->subs, *next; sub; sub = next) {
				next = sub->next;
				if (!sub->established)
					sub_accept(d, sub);
			}
			if (!tr->nsubs)
				relayd_track_release(d, tr);
			break;
		case MOQ_CTRL_REQUEST_ERROR: {
			const struct moq_request_error *e = &m->request_error;
			char reason[256];

			snprintf(reason, sizeof(reason), "upstream: %.*s",
				 (int)(e->error_reason.len > 200 ? 200 : e->error_reason.len),
				 (const char *)e->error_reason.ptr);
			track_end(d, tr, MOQ_PUBDONE_INTERNAL_ERROR, e->error_code, reason, false);
			break;
		}
		case MOQ_CTRL_PUBLISH_DONE:
			track_done(tr, &m->publish_done, "upstream");
			break;
		default:
			break;
		}
	}
}

static void cb_request_closed(struct moq_session *s, struct moq_request *r,
			      enum moq_request_end why, uint64_t code)
{
	struct peer *p = moq_session_user(s);
	struct relayd *d = p->d;
	void *u = moq_request_user(r);
	uint64_t type = moq_request_type(r);
	bool local = moq_request_is_local(r);
	RELAYD_LOG_PEER(p);
	RELAYD_LOG_REQUEST(r);

	(void)code;
	if (why == MOQ_REQ_END_SESSION)
		p->closing = true;
	if (type == MOQ_CTRL_PUBLISH_NAMESPACE && !local) {
		relay_routing_remove_cookie(&d->routes, r);
		return;
	}
	if (!u)
		return;
	moq_request_set_user(r, NULL);
	if (type == MOQ_CTRL_FETCH) {
		relayd_fetch_closed(d, u, !local);
		return;
	}
	if (type == MOQ_CTRL_SUBSCRIBE && !local) {
		struct relay_sub *sub = u;
		struct relay_track *tr = sub->track;

		sub->req = NULL;
		/* the session already reset its streams */
		sub_free(d, sub, false, 0);
		if (tr)
			relayd_track_release(d, tr);
		return;
	}
	if ((type == MOQ_CTRL_SUBSCRIBE && local) || (type == MOQ_CTRL_PUBLISH && !local)) {
		struct relay_track *tr = u;

		tr->up = NULL;
		if (tr->done)
			track_end(d, tr, tr->done_status, MOQ_REQERR_INTERNAL_ERROR,
				  tr->done_reason, false);
		else
			track_end(d, tr,
				  why == MOQ_REQ_END_PEER_CANCEL ? MOQ_PUBDONE_INTERNAL_ERROR
								 : MOQ_PUBDONE_TRACK_ENDED,
				  MOQ_REQERR_INTERNAL_ERROR, "upstream ended", false);
	}
}

static void cb_data(struct moq_session *s, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct peer *p = moq_session_user(s);
	struct relayd *d = p->d;
	void *u = moq_rx_user(rx);
	RELAYD_LOG_PEER(p);

	if (ev->stream == MOQ_DATA_FETCH_HEADER) {
		if (ev->type == MOQ_DATA_EV_HEADER) {
			struct moq_request *req = moq_rx_request(rx);

			u = req ? moq_request_user(req) : NULL;
			if (!u) {
				moq_rx_stop(rx, MOQ_RESET_CANCELLED);
				return;
			}
			moq_rx_set_user(rx, u);
		}
		if (u)
			relayd_fetch_data(d, u, rx, ev);
		return;
	}
	if (ev->stream != MOQ_DATA_SUBGROUP_HEADER)
		return;
	if (ev->type == MOQ_DATA_EV_HEADER) {
		struct moq_request *req = moq_rx_request(rx);
		struct relay_track *tr = req ? moq_request_user(req) : NULL;
		struct relay_rx *st;

		if (!tr) {
			moq_rx_stop(rx, MOQ_RESET_CANCELLED);
			return;
		}
		st = relay_rx_new(tr, rx);
		if (!st) {
			moq_rx_stop(rx, MOQ_RESET_INTERNAL_ERROR);
			return;
		}
		moq_rx_set_user(rx, st);
		u = st;
	}
	if (!u)
		return;
	RELAYD_LOG_TRACK(((struct relay_rx *)u)->track->name.text);
	relay_forward_event(&d->fwd, u, ev);
	if (ev->type == MOQ_DATA_EV_HEADER)
		relayd_fp_rx_header(d, p, u);
	else if (ev->type == MOQ_DATA_EV_OBJECT)
		relayd_fp_rx_object(d, p, u);
	if (ev->type == MOQ_DATA_EV_STREAM_END) {
		moq_rx_set_user(rx, NULL);
		relay_rx_free(u);
	}
}

static void cb_data_raw(struct moq_session *s, struct moq_rx *rx, uint64_t off, const uint8_t *data,
			size_t len, int fin)
{
	struct peer *p = moq_session_user(s);

	if (p && p->d->fp) {
		RELAYD_LOG_PEER(p);
		relayd_fp_raw(p->d, p, rx, off, data, len, fin);
	}
}

static void cb_data_reset(struct moq_session *s, struct moq_rx *rx, uint64_t code, int local)
{
	struct peer *p = moq_session_user(s);
	struct relayd *d = p->d;
	void *u = moq_rx_user(rx);
	struct moq_request *req = moq_rx_request(rx);

	(void)local;
	RELAYD_LOG_PEER(p);
	RELAYD_LOG_REQUEST(req);
	relayd_fp_rx_reset(d, p, rx);
	if (!u)
		return;
	moq_rx_set_user(rx, NULL);
	if (relayd_fetch_owns_rx(d, rx)) {
		relayd_fetch_data_reset(d, u, code);
		return;
	}
	relay_forward_reset(&d->fwd, u, code);
	relay_rx_free(u);
}

static void cb_datagram(struct moq_session *s, struct moq_request *sub,
			const struct moq_object_datagram *dg)
{
	struct peer *p = moq_session_user(s);
	struct relay_track *tr = sub ? moq_request_user(sub) : NULL;

	if (!tr)
		return;
	RELAYD_LOG_PEER(p);
	RELAYD_LOG_TRACK(tr->name.text);
	relay_forward_datagram(&p->d->fwd, tr, dg);
}

static void cb_tx_stopped(struct moq_session *s, struct moq_tx *tx, uint64_t code)
{
	struct peer *p = moq_session_user(s);
	struct moq_request *r = moq_tx_request(tx);
	RELAYD_LOG_PEER(p);
	RELAYD_LOG_REQUEST(r);

	if (r && moq_request_type(r) == MOQ_CTRL_FETCH) {
		struct fetch_job *j = moq_request_user(r);

		if (j) {
			relayd_fetch_tx_gone(p->d, j);
			return;
		}
		moq_tx_reset(tx, code);
		return;
	}
	relay_forward_tx_gone(&p->d->fwd, tx, code);
}

static void cb_tx_timeout(struct moq_session *s, struct moq_tx *tx)
{
	cb_tx_stopped(s, tx, MOQ_RESET_DELIVERY_TIMEOUT);
}

void relayd_callbacks_init(struct relayd *d)
{
	memset(&d->cb, 0, sizeof(d->cb));
	d->cb.on_setup = cb_setup;
	d->cb.on_ready = cb_ready;
	d->cb.on_goaway = cb_goaway;
	d->cb.on_close = cb_close;
	d->cb.on_request = cb_request;
	d->cb.on_request_msg = cb_request_msg;
	d->cb.on_request_closed = cb_request_closed;
	d->cb.on_data = cb_data;
	d->cb.on_data_raw = cb_data_raw;
	d->cb.on_data_reset = cb_data_reset;
	d->cb.on_datagram = cb_datagram;
	d->cb.on_tx_stopped = cb_tx_stopped;
	d->cb.on_tx_timeout = cb_tx_timeout;
	d->up_timer = moq_timer_new(d->loop, up_timer_cb, d);
}

void relayd_upstream_connect(struct relayd *d)
{
	char err[256];
	struct peer *p;
	struct moq_session *s;

	if (!d->cfg.upstream[0] || d->upstream || d->draining)
		return;
	p = relayd_peer_new(d, NULL, true);
	if (!p)
		return;
	d->up_scfg.user = p;
	s = moq_session_connect(d->up_ep, d->cfg.upstream_host, d->cfg.upstream_port, &d->up_scfg,
				err, sizeof(err));
	if (!s) {
		moq_warn(MOD, "cannot connect to upstream %s: %s; retrying in 1 s", d->cfg.upstream,
			 err);
		d->peers = p->next;
		d->npeers--;
		free(p);
		moq_timer_set_in(d->up_timer, 1000000000ull);
		return;
	}
	p->s = s;
	moq_session_set_user(s, p);
	relayd_peer_log_init(p);
	d->upstream = p;
	moq_info(MOD, "connecting to upstream %s", d->cfg.upstream);
}
