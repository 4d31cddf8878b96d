/* moq-relayd internals: the one context struct, per-session state and a
 * peer's log scope. Each module's functions are in its own header:
 * sessions.h, fetch.h, fastpath.h, ctl.h, metrics.h, gauges.h. */
#ifndef RELAYD_H
#define RELAYD_H

#include <stdbool.h>

#include "lib/relay_auth.h"
#include "lib/relay_cache.h"
#include "lib/relay_config.h"
#include "lib/relay_forward.h"
#include "lib/relay_routing.h"
#include "lib/relay_stats.h"
#include "lib/relay_track.h"
#include "log.h"
#include "session/session.h"

struct relayd;
struct fetch_job;
struct fp_conn;	  /* fp_internal.h */
struct relayd_fp; /* fp_internal.h */

/* One MoQT session (a publisher, a subscriber, both, or our upstream). */
struct peer {
	struct peer *next;
	struct relayd *d;
	struct moq_session *s;
	bool is_upstream;
	bool is_publisher;
	bool closing; /* inside on_close */
	/* authorization (relay_auth.h): roles from its SETUP tokens, kept
	 * to check again on SIGHUP; revoke_at: closed then (auth.c) */
	unsigned roles;
	struct relay_auth_token *auth_tok;
	size_t auth_ntok;
	uint64_t revoke_at;
	struct relay_alias_set aliases;
	struct relay_sub *subs; /* linked by peer_next */
	size_t nsubs;		/* entries in subs (--max-subscriptions) */
	double req_tokens;	/* --max-request-rate token bucket */
	uint64_t req_tokens_ns; /* its last refill (moq_loop_now) */
	struct fetch_job *fetches;
	uint32_t fp_conn_id; /* fast path: id in the maps (0: fast path off) */
	struct fp_conn *fp;  /* fast path state of this connection */
	/* batched intake pass (fp_intake.c): fast / other subscribers of its
	 * tracks, and a read or release due */
	uint32_t intake_fast;
	bool intake_slow, intake_due;
	/* log context (moq/log.h): the session layer's number ("#N" of its
	 * name; 0 for the upstream session, named "upstream") and the peer's
	 * address; set once the session exists (relayd_peer_log_init) */
	uint64_t log_session;
	char log_peer[MOQ_LOG_PEER_MAX];
};

/* A FETCH the relay forwards upstream (downstream request <-> upstream
 * request and their data streams). */
struct fetch_job {
	struct fetch_job *next; /* in the downstream peer's list */
	struct peer *down_peer;
	struct moq_request *down;
	struct moq_request *up;
	struct moq_tx *tx;
	struct moq_rx *rx;
	bool in_obj;
};

struct relayd {
	struct relay_config cfg;
	int argc;
	char **argv;
	struct moq_loop *loop;
	struct moq_quic_endpoint *ep;
	struct moq_quic_endpoint *up_ep;
	struct moq_session_config scfg;
	struct moq_session_config up_scfg;
	struct moq_session_acceptor acc;
	struct moq_session_callbacks cb;
	struct moq_auth_token up_token;
	char up_authority[272]; /* AUTHORITY sent upstream: host:port */
	struct relay_routing routes;
	struct relay_tracks tracks;
	struct relay_stats stats;
	struct relay_fwd_ctx fwd;
	struct peer *peers;
	size_t npeers;
	struct peer *upstream;
	struct moq_timer *stats_timer, *drain_timer, *up_timer, *exit_timer;
	int sigfd;
	struct relay_metrics *metrics; /* --metrics-listen (metrics.c) */
	bool draining;
	int exit_code;
	uint64_t limit_warn_ns; /* last "limit reached" warning (1/s) */
	struct relay_ctl *ctl;	/* control socket (ctl.c), NULL = none */
	struct relayd_fp *fp;	/* fast path (fastpath.c), NULL = off */
	/* SUBSCRIBEs held for a publisher (rendezvous.c) */
	struct moq_timer *revoke_timer; /* auth.c */
	struct relay_sub *rdv_subs;	/* linked by rdv_next */
	size_t rdv_held;
	uint64_t rdv_pass; /* relayd_rdv_retry's pass number */
	struct moq_timer *rdv_timer;
};

/* Open a log scope of s's session (its peer's saved context, or computed
 * from s when it has no peer yet); end it with moq_log_scope_end. */
void relayd_log_scope_session(struct moq_log_scope *sc, const struct moq_session *s);

static inline void relayd_log_scope_end_(struct moq_log_scope *sc)
{
	moq_log_scope_end(sc);
}

/* Scopes ended automatically at the end of the enclosing block (one of
 * each kind per block). */
#define RELAYD_LOG_PEER(p)                                                                         \
	struct moq_log_scope log_peer_sc_ __attribute__((cleanup(relayd_log_scope_end_)));         \
	relayd_log_scope_peer(&log_peer_sc_, (p))
#define RELAYD_LOG_TRACK(text)                                                                     \
	struct moq_log_scope log_track_sc_ __attribute__((cleanup(relayd_log_scope_end_)));        \
	moq_log_scope_track(&log_track_sc_, (text))

/* Session scope of p (NULL: keep the current context as it is). */
static inline void relayd_log_scope_peer(struct moq_log_scope *sc, const struct peer *p)
{
	const struct moq_log_ctx *c;

	if (p) {
		moq_log_scope_session(sc, p->log_session, p->log_peer);
		return;
	}
	c = moq_log_ctx_get();
	moq_log_scope_track(sc, c ? c->track : NULL);
}

#endif
