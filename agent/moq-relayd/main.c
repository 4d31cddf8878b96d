/* moq-relayd: userspace MoQT relay. Wires the relay_* modules onto one
 * moq_loop: a QUIC server for publishers and subscribers, an optional
 * upstream session, signals (SIGTERM drain, SIGHUP reload) and the stats
 * line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "malloc_tune.h"
#include "relayd.h"
#include "fastpath.h"
#include "gauges.h"
#include "ctl.h"
#include "metrics.h"
#include "sessions.h"
#include "auth.h"
#include "rendezvous.h"
#include "lib/relay_devcert.h"
#include "lib/relay_metrics.h"

#define MOD "relayd"
#define RELAYD_VERSION "0.1"

/* The stats lines: "moq-relayd: stats ..." in text, whatever the level;
 * an info object of module "stats" in JSON. prefix: "" or "exiting; ". */
static void stats_print(const char *prefix, const char *line)
{
	char buf[1152];

	if (moq_log_get_format() == MOQ_LOG_FORMAT_TEXT) {
		fprintf(stderr, "moq-relayd: %s%s\n", prefix, line);
		return;
	}
	snprintf(buf, sizeof(buf), "%s%s", prefix, line);
	moq_log_emit(MOQ_LOG_INFO, "stats", buf);
}

static void stats_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct relayd *d = arg;
	struct relay_gauges g;
	char line[1024];

	(void)loop;
	relayd_gauges(d, &g);
	relay_stats_line(&d->stats, &g, moq_loop_now(), line, sizeof(line));
	stats_print("", line);
	if (relayd_fp_stats_line(d, line, sizeof(line)) > 0)
		stats_print("", line);
	fflush(stderr);
	if (d->cfg.stats_interval_ms)
		moq_timer_set_in(t, d->cfg.stats_interval_ms * 1000000ull);
}

static void exit_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	moq_loop_stop(loop);
}

static void drain_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct relayd *d = arg;

	(void)loop;
	(void)t;
	moq_info(MOD, "drain timeout: closing the remaining sessions");
	/* draft-18 "Migration": a peer that did not close within the
	 * GOAWAY's timeout is closed with GOAWAY_TIMEOUT; a session that got
	 * no GOAWAY from us (our upstream, one still in setup at the drain's
	 * start) has no timeout to miss */
	for (struct peer *p = d->peers; p; p = p->next)
		if (p->s)
			moq_session_close(p->s,
					  moq_session_goaway_sent(p->s) ? MOQ_SESSION_GOAWAY_TIMEOUT
									: MOQ_SESSION_NO_ERROR,
					  "relay shutting down");
	/* give the CONNECTION_CLOSE packets a moment to leave */
	moq_timer_set_in(d->exit_timer, 200000000ull);
}

static void start_drain(struct relayd *d)
{
	bool any = false;

	if (d->draining) {
		moq_warn(MOD, "second signal: exiting now");
		moq_loop_stop(d->loop);
		return;
	}
	d->draining = true;
	moq_warn(MOD, "SIGTERM: GOAWAY to every session, draining for at most %.1f s",
		 (double)d->cfg.drain_timeout_ms / 1000.0);
	for (struct peer *p = d->peers; p; p = p->next) {
		if (!p->s)
			continue;
		if (p->is_upstream)
			continue;
		any = true;
		moq_session_goaway(p->s, NULL, d->cfg.drain_timeout_ms);
	}
	if (!any) {
		moq_loop_stop(d->loop);
		return;
	}
	moq_timer_set_in(d->drain_timer, d->cfg.drain_timeout_ms * 1000000ull);
}

static void up_token_set(struct relayd *d);

static void reload(struct relayd *d)
{
	struct relay_config nc;
	char err[512];

	if (!d->cfg.config_file[0]) {
		moq_warn(MOD, "SIGHUP: no --config file to reload");
		return;
	}
	if (relay_config_parse(&nc, d->argc, d->argv, err, sizeof(err))) {
		moq_err(MOD, "SIGHUP: config not reloaded: %s", err);
		return;
	}
	if (strcmp(nc.listen_host, d->cfg.listen_host) || nc.listen_port != d->cfg.listen_port ||
	    nc.plaintext != d->cfg.plaintext || strcmp(nc.cert, d->cfg.cert) ||
	    strcmp(nc.key, d->cfg.key) || strcmp(nc.upstream, d->cfg.upstream) ||
	    strcmp(nc.qlog_dir, d->cfg.qlog_dir))
		moq_warn(MOD, "SIGHUP: listen/plaintext/cert/key/upstream/qlog-dir changes need a "
			      "restart; ignored");
	d->cfg.log_level = nc.log_level;
	moq_log_set_level(nc.log_level);
	d->cfg.log_format = nc.log_format;
	moq_log_set_format(nc.log_format);
	strcpy(d->cfg.auth_token, nc.auth_token);
	strcpy(d->cfg.publish_token, nc.publish_token);
	strcpy(d->cfg.subscribe_token, nc.subscribe_token);
	if (d->cfg.upstream[0])
		up_token_set(d);
	d->cfg.cache_groups = nc.cache_groups;
	d->cfg.cache_bytes = nc.cache_bytes;
	d->cfg.sub_queue_bytes = nc.sub_queue_bytes;
	d->fwd.sub_queue_bytes = nc.sub_queue_bytes;
	d->cfg.stats_interval_ms = nc.stats_interval_ms;
	/* limits are read per request: they apply at once */
	d->cfg.max_sessions = nc.max_sessions;
	d->cfg.max_handshakes = nc.max_handshakes;
	if (d->ep)
		moq_quic_endpoint_set_limits(d->ep, nc.max_sessions, nc.max_handshakes);
	d->cfg.max_subscriptions = nc.max_subscriptions;
	d->cfg.max_tracks = nc.max_tracks;
	d->cfg.max_name_bytes = nc.max_name_bytes;
	d->cfg.max_namespace_fields = nc.max_namespace_fields;
	d->cfg.max_request_rate = nc.max_request_rate;
	d->cfg.max_rendezvous = nc.max_rendezvous;
	d->cfg.max_rendezvous_wait_ms = nc.max_rendezvous_wait_ms;
	for (struct relay_track *t = d->tracks.head; t; t = t->next)
		relay_cache_set_limits(&t->cache, nc.cache_groups, nc.cache_bytes);
	if (d->cfg.stats_interval_ms)
		moq_timer_set_in(d->stats_timer, d->cfg.stats_interval_ms * 1000000ull);
	else
		moq_timer_cancel(d->stats_timer);
	moq_warn(MOD, "SIGHUP: reloaded %s", d->cfg.config_file);
	relayd_auth_reload(d);
}

static void sig_cb(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct relayd *d = arg;
	struct signalfd_siginfo si;

	(void)loop;
	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(d);
		else
			start_drain(d);
	}
}

static int setup_signals(struct relayd *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	return moq_loop_add_fd(d->loop, d->sigfd, EPOLLIN, sig_cb, d);
}

/* ---- log context of QUIC callbacks ----
 *
 * Every QUIC callback into the session layer (and the fast path's packet
 * hooks) runs inside a log scope of its connection's session, so that the
 * lines the session layer, the relay and the fast path log while handling
 * it carry session= and peer= (moq/log.h). A connection without a session
 * yet (handshake) carries its peer address only. */

static struct relayd *g_log_d;
static struct moq_quic_callbacks g_sess_cb; /* the session layer's */
static struct moq_quic_callbacks g_hook_cb; /* fast path hooks, if on */

static void conn_scope(struct moq_log_scope *sc, struct moq_quic_conn *c)
{
	void *u = moq_quic_conn_user(c);
	char peer[MOQ_LOG_PEER_MAX];
	socklen_t len = 0;

	/* a conn's user is its session once there is one (moq/session) */
	if (u && u != (void *)&g_log_d->acc) {
		relayd_log_scope_session(sc, u);
		return;
	}
	relayd_addr_str(moq_quic_conn_peer(c, &len), peer, sizeof(peer));
	moq_log_scope_session(sc, 0, peer);
}

#define CONN_SCOPE(c)                                                                              \
	struct moq_log_scope sc_ __attribute__((cleanup(relayd_log_scope_end_)));                  \
	conn_scope(&sc_, (c))

static int w_on_accept(struct moq_quic_conn *c, void *user)
{
	CONN_SCOPE(c);
	return g_sess_cb.on_accept(c, user);
}

static void w_on_established(struct moq_quic_conn *c, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_established(c, user);
}

static void w_on_close(struct moq_quic_conn *c, const struct moq_quic_close_info *info, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_close(c, info, user);
}

static void w_on_stream_open(struct moq_quic_conn *c, int64_t sid, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_stream_open(c, sid, user);
}

static void w_on_stream_data(struct moq_quic_conn *c, int64_t sid, const uint8_t *data, size_t len,
			     int fin, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_stream_data(c, sid, data, len, fin, user);
}

static void w_on_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_stream_reset(c, sid, app_error, user);
}

static void w_on_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_stop_sending(c, sid, app_error, user);
}

static void w_on_stream_close(struct moq_quic_conn *c, int64_t sid, int has_app_error,
			      uint64_t app_error, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_stream_close(c, sid, has_app_error, app_error, user);
}

static void w_on_stream_writable(struct moq_quic_conn *c, int64_t sid, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_stream_writable(c, sid, user);
}

static void w_on_streams_available(struct moq_quic_conn *c, int bidi, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_streams_available(c, bidi, user);
}

static void w_on_datagram(struct moq_quic_conn *c, const uint8_t *data, size_t len, void *user)
{
	CONN_SCOPE(c);
	g_sess_cb.on_datagram(c, data, len, user);
}

static void w_on_refused(struct moq_quic_endpoint *ep, const struct sockaddr *peer,
			 socklen_t peerlen, const char *reason, void *user)
{
	struct moq_log_scope sc __attribute__((cleanup(relayd_log_scope_end_)));
	char a[MOQ_LOG_PEER_MAX];

	(void)peerlen;
	relayd_addr_str(peer, a, sizeof(a));
	moq_log_scope_session(&sc, 0, a);
	g_sess_cb.on_refused(ep, peer, peerlen, reason, user);
}

static int w_send_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
		       uint64_t ngtcp2_pn, void *user)
{
	CONN_SCOPE(c);
	return g_hook_cb.send_hook(c, pkt, len, cap, ngtcp2_pn, user);
}

static int w_recv_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap, void *user)
{
	CONN_SCOPE(c);
	return g_hook_cb.recv_hook(c, pkt, len, cap, user);
}

/* base: the callbacks to wrap (the session layer's, maybe with the fast
 * path's hooks). Each wrapper is installed only where base has the
 * callback. */
static void log_wrap_callbacks(struct relayd *d, const struct moq_quic_callbacks *base,
			       struct moq_quic_callbacks *out)
{
	g_log_d = d;
	g_sess_cb = *moq_session_quic_callbacks();
	*out = *base;
#define WRAP(f)                                                                                    \
	do {                                                                                       \
		if (base->f && base->f == g_sess_cb.f)                                             \
			out->f = w_##f;                                                            \
	} while (0)
	WRAP(on_accept);
	WRAP(on_established);
	WRAP(on_close);
	WRAP(on_stream_open);
	WRAP(on_stream_data);
	WRAP(on_stream_reset);
	WRAP(on_stop_sending);
	WRAP(on_stream_close);
	WRAP(on_stream_writable);
	WRAP(on_streams_available);
	WRAP(on_datagram);
	WRAP(on_refused);
#undef WRAP
	if (base->send_hook) {
		g_hook_cb.send_hook = base->send_hook;
		out->send_hook = w_send_hook;
	}
	if (base->recv_hook) {
		g_hook_cb.recv_hook = base->recv_hook;
		out->recv_hook = w_recv_hook;
	}
}

static int start_server(struct relayd *d, char *err, size_t errlen)
{
	static struct moq_quic_callbacks srv_cb;
	struct moq_quic_config q;

	memset(&d->scfg, 0, sizeof(d->scfg));
	d->scfg.loop = d->loop;
	d->scfg.cb = &d->cb;
	/* the session layer's own caps (128 SUBSCRIBE+PUBLISH, 256 requests)
	 * must not undercut --max-subscriptions */
	d->scfg.max_subscriptions =
	    d->cfg.max_subscriptions > 128 ? (uint32_t)d->cfg.max_subscriptions : 0;
	d->scfg.max_requests =
	    d->cfg.max_subscriptions > 128 ? (uint32_t)(2 * d->cfg.max_subscriptions) : 0;
	d->acc.cfg = &d->scfg;
	d->acc.on_session = relayd_on_session;
	d->acc.arg = d;

	moq_quic_config_init(&q);
	q.listen = 1;
	q.local_addr = d->cfg.listen_host;
	q.local_port = d->cfg.listen_port;
	q.plaintext = d->cfg.plaintext;
	/* TLS: MoQT natively and over WebTransport on the same port, chosen
	 * by ALPN (docs/webtransport.md); the plaintext profile is native only */
	if (!d->cfg.plaintext)
		q.alpn = MOQ_QUIC_ALPN_DEFAULT ",h3";
	q.cert_file = d->cfg.cert[0] ? d->cfg.cert : NULL;
	q.key_file = d->cfg.key[0] ? d->cfg.key : NULL;
	if (d->cfg.dev_cert[0]) {
		static char cert[RELAY_CONFIG_STR_MAX + 16], key[RELAY_CONFIG_STR_MAX + 16];
		char hash[65];
		if (relay_devcert_make(d->cfg.dev_cert, d->cfg.listen_host, hash, err, errlen))
			return -1;
		snprintf(cert, sizeof(cert), "%s/cert.pem", d->cfg.dev_cert);
		snprintf(key, sizeof(key), "%s/key.pem", d->cfg.dev_cert);
		q.cert_file = cert;
		q.key_file = key;
		moq_warn(MOD,
			 "development certificate (self-signed ECDSA P-256, valid %d days; not "
			 "for production): %s sha256 %s",
			 RELAY_DEVCERT_DAYS, cert, hash);
	}
	q.idle_timeout_ms = d->cfg.idle_timeout_ms;
	/* clients (subscribers) only: the upstream connection keeps ngtcp2's */
	q.max_ack_delay_ms = relay_config_max_ack_delay(&d->cfg);
	q.max_streams_uni = 4000;
	/* sessions count once their handshake completes; half-open ones
	 * have their own, smaller cap (issue 17 finding 4) */
	q.max_conns = d->cfg.max_sessions;
	q.max_handshakes = d->cfg.max_handshakes;
	q.qlog_dir = d->cfg.qlog_dir[0] ? d->cfg.qlog_dir : NULL;
	q.cb = moq_session_quic_callbacks();
	if (d->cfg.fast_path) {
		/* the packet hooks renumber and translate (fastpath.c) */
		static struct moq_quic_callbacks fcb;

		fcb = *moq_session_quic_callbacks();
		relayd_fp_hooks(d, &fcb);
		/* TLS: AES-128-GCM connections get their 1-RTT protection
		 * from the layer (after the renumbering) and their keys go
		 * to the kernel (docs/fast-path-tls.md) */
		relayd_fp_key_callbacks(d, &fcb);
		q.shim_protect = !d->cfg.plaintext;
		q.cb = &fcb;
	}
	log_wrap_callbacks(d, q.cb, &srv_cb);
	q.cb = &srv_cb;
	q.user = &d->acc;
	d->ep = moq_quic_endpoint_new(d->loop, &q, err, errlen);
	return d->ep ? 0 : -1;
}

/* The token our upstream session presents: the relay subscribes there,
 * so --auth-token, else --subscribe-token (also after SIGHUP: the next
 * upstream connection uses the new one) */
static void up_token_set(struct relayd *d)
{
	const char *tok = d->cfg.auth_token[0] ? d->cfg.auth_token : d->cfg.subscribe_token;

	d->up_scfg.auth_tokens = NULL;
	d->up_scfg.num_auth_tokens = 0;
	if (!tok[0])
		return;
	memset(&d->up_token, 0, sizeof(d->up_token));
	d->up_token.alias_type = MOQ_ALIAS_USE_VALUE;
	d->up_token.token_value.ptr = (const uint8_t *)tok;
	d->up_token.token_value.len = strlen(tok);
	d->up_scfg.auth_tokens = &d->up_token;
	d->up_scfg.num_auth_tokens = 1;
}

static int start_upstream(struct relayd *d, char *err, size_t errlen)
{
	static struct moq_quic_callbacks up_cb;
	struct moq_quic_config q;

	if (!d->cfg.upstream[0])
		return 0;
	memset(&d->up_scfg, 0, sizeof(d->up_scfg));
	d->up_scfg.loop = d->loop;
	d->up_scfg.cb = &d->cb;
	d->up_scfg.path = d->cfg.upstream_path[0] ? d->cfg.upstream_path : NULL;
	/* the client MUST send the URI's authority (draft-18 AUTHORITY) */
	snprintf(d->up_authority, sizeof(d->up_authority),
		 strchr(d->cfg.upstream_host, ':') ? "[%s]:%u" : "%s:%u", d->cfg.upstream_host,
		 (unsigned)d->cfg.upstream_port);
	d->up_scfg.authority = d->up_authority;
	d->up_scfg.log_name = "upstream";
	up_token_set(d);
	moq_quic_config_init(&q);
	q.listen = 0;
	q.plaintext = d->cfg.plaintext;
	if (d->cfg.upstream_wt) {
		/* MoQT over WebTransport: path and authority go into the CONNECT */
		q.alpn = "h3";
		d->up_scfg.webtransport = 1;
	}
	q.ca_file = d->cfg.upstream_ca[0] ? d->cfg.upstream_ca : NULL;
	q.insecure = d->cfg.upstream_insecure;
	q.idle_timeout_ms = d->cfg.idle_timeout_ms;
	q.max_streams_uni = 4000;
	q.qlog_dir = d->cfg.qlog_dir[0] ? d->cfg.qlog_dir : NULL;
	log_wrap_callbacks(d, moq_session_quic_callbacks(), &up_cb);
	/* the kernel opens what the upstream relay sends us: its rx keys
	 * follow key updates (TLS with --fast-path on) */
	if (d->cfg.fast_path) {
		relayd_fp_key_callbacks(d, &up_cb);
		/* the kernel's packet-number window starts at what we
		 * received (fp_maps_seed_pn_window) */
		q.track_rx_pn = 1;
	}
	q.cb = &up_cb;
	d->up_ep = moq_quic_endpoint_new(d->loop, &q, err, errlen);
	if (!d->up_ep)
		return -1;
	relayd_upstream_connect(d);
	return 0;
}

int main(int argc, char **argv)
{
	/* static: every early exit leaves nothing allocated (LeakSanitizer) */
	static struct relayd relayd;
	struct relayd *d = &relayd;
	char err[1024];
	int rc;

	d->argc = argc;
	d->argv = argv;
	d->sigfd = -1;
	if (relay_config_parse(&d->cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "moq-relayd: %s\n", err);
		return 2;
	}
	if (d->cfg.help) {
		relay_config_usage(stdout, "moq-relayd");
		return 0;
	}
	if (d->cfg.version) {
		printf("moq-relayd %s (MoQT draft-18, userspace path)\n", RELAYD_VERSION);
		return 0;
	}
	moq_log_set_level(d->cfg.log_level);
	moq_log_set_format(d->cfg.log_format);
	if (relayd_malloc_tune())
		moq_dbg("relayd", "allocator settings refused: glibc defaults");
	d->loop = moq_loop_new();
	if (!d->loop) {
		fprintf(stderr, "moq-relayd: cannot create the event loop: %s\n", strerror(errno));
		return 1;
	}
	relay_routing_init(&d->routes);
	relay_tracks_init(&d->tracks);
	d->fwd.sub_queue_bytes = d->cfg.sub_queue_bytes;
	d->fwd.stats = &d->stats;
	relayd_callbacks_init(d);
	d->stats_timer = moq_timer_new(d->loop, stats_cb, d);
	d->drain_timer = moq_timer_new(d->loop, drain_cb, d);
	d->exit_timer = moq_timer_new(d->loop, exit_cb, d);
	relayd_rdv_init(d);
	relayd_auth_init(d);
	rc = setup_signals(d);
	if (rc) {
		fprintf(stderr, "moq-relayd: cannot set up signals: %s\n", strerror(-rc));
		return 1;
	}
	if (start_server(d, err, sizeof(err))) {
		fprintf(stderr, "moq-relayd: cannot listen on %s port %u: %s\n", d->cfg.listen_host,
			d->cfg.listen_port, err);
		return 1;
	}
	if (relayd_fp_start(d, err, sizeof(err))) {
		fprintf(stderr, "moq-relayd: --fast-path on: %s\n", err);
		return 2;
	}
	if (start_upstream(d, err, sizeof(err))) {
		fprintf(stderr, "moq-relayd: --upstream %s: %s\n", d->cfg.upstream, err);
		return 1;
	}
	if (relayd_metrics_start(d))
		return 1;
	if (relayd_ctl_start(d))
		return 1;
	moq_warn(MOD, "listening on %s port %u (%s)%s%s", d->cfg.listen_host,
		 moq_quic_endpoint_port(d->ep), d->cfg.plaintext ? "plaintext" : "TLS",
		 d->cfg.upstream[0] ? ", upstream " : "", d->cfg.upstream);
	if (d->cfg.stats_interval_ms)
		moq_timer_set_in(d->stats_timer, d->cfg.stats_interval_ms * 1000000ull);
	rc = moq_loop_run(d->loop);
	if (rc)
		moq_err(MOD, "event loop failed: %s", strerror(-rc));

	/* teardown */
	{
		struct relay_gauges g;
		char line[1024];

		relayd_gauges(d, &g);
		relay_stats_line(&d->stats, &g, moq_loop_now(), line, sizeof(line));
		stats_print("exiting; ", line);
		if (relayd_fp_stats_line(d, line, sizeof(line)) > 0)
			stats_print("exiting; ", line);
	}
	relayd_ctl_stop(d);
	relayd_metrics_stop(d);
	relayd_fp_stop(d);
	moq_quic_endpoint_free(d->ep);
	if (d->up_ep)
		moq_quic_endpoint_free(d->up_ep);
	while (d->tracks.head) {
		struct relay_track *t = d->tracks.head;

		while (t->rxs)
			relay_rx_free(t->rxs);
		while (t->subs)
			relay_track_remove_sub(t, t->subs);
		relayd_fp_track_gone(d, t);
		relay_track_free(&d->tracks, t);
	}
	relay_routing_free(&d->routes);
	moq_timer_free(d->stats_timer);
	moq_timer_free(d->drain_timer);
	moq_timer_free(d->exit_timer);
	moq_timer_free(d->up_timer);
	relayd_rdv_free(d);
	relayd_auth_free(d);
	moq_loop_del_fd(d->loop, d->sigfd);
	close(d->sigfd);
	moq_loop_free(d->loop);
	return rc ? 1 : 0;
}
