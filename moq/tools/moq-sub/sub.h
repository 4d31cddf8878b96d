/* moq-sub's state (one struct sub per connection) and its report module. */
#ifndef MOQ_SUB_H
#define MOQ_SUB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "media/client.h"
#include "media/reorder.h"
#include "media/stats.h"
#include "quic/loop.h"
#include "session/session.h"

#define MAX_TRACKS 16
#define DRAIN_GRACE_NS 2000000000ull /* after the last PUBLISH_DONE */
#define MAX_ERR_LOGS 10
/* --count: once N objects arrived, wait at most this long for the holes
 * among the first N (objects still under way on lower-priority subgroup
 * streams) before stopping anyway (they may have been lost) */
#define COUNT_GRACE_NS 2000000000ull

struct track {
	char name[256];
	size_t name_len;
	struct moq_request *req;
	bool established, ended, refused, publish_done;
	bool retry_pending;  /* refused, SUBSCRIBE again soon (--retry) */
	uint64_t last_error; /* REQUEST_ERROR code of the last refusal */
	unsigned attempts;
	uint64_t ended_ns;
	/* checks */
	struct moq_seqwin win;
	/* --count: the distinct sequence numbers received, started at the
	 * lowest one received (no floor to the group's first object), so
	 * "the first N objects arrived" means [lowest, lowest + N) complete,
	 * whichever subgroup stream each object came on */
	struct moq_seqwin cwin;
	uint64_t count_seen_ns; /* when cwin first held N objects (0: not yet) */
	struct moq_hist *lat;
	struct moq_group_count groups;
	uint64_t objects, bytes, integrity_errors, duplicates, late, status_objects;
	uint64_t datagrams;
	uint64_t sg_objects[8];	 /* objects per subgroup id (7: 7 and above) */
	uint64_t streams_reset;	 /* data streams the peer reset */
	uint64_t resets_timeout; /* of those: code DELIVERY_TIMEOUT */
	unsigned open_rx;
	bool output;
	uint64_t streams;		    /* data streams received (their HEADER) */
	uint64_t done_status, done_streams; /* PUBLISH_DONE's fields */
};

struct rxst {
	struct rxst *prev, *next; /* every live rxst (freed at exit: the
				     session frees its rx handles silently) */
	struct sub *u;
	struct track *t;
	uint8_t *buf;
	size_t cap, len;
	uint64_t group, subgroup, object;
	bool in_object;
};

struct sub {
	/* options */
	char host[256];
	uint16_t port;
	struct moq_cli_conn_opts co;
	const char *output_path, *output_track;
	char ns_store[MOQ_MAX_FULL_TRACK_NAME + 1];
	struct moq_namespace ns;
	struct track tracks[MAX_TRACKS];
	size_t ntracks;
	uint64_t count;
	double duration;
	double connect_timeout;
	double retry;
	bool has_filter;
	struct moq_subscription_filter filter;
	uint64_t delivery_timeout_ms; /* OBJECT_DELIVERY_TIMEOUT, 0: none */
	bool json, quiet;
	unsigned connections;	   /* --connections (0: not given, one) */
	uint64_t max_stream_data;  /* --max-stream-data (0: the default window) */
	uint64_t key_update_every; /* --key-update-every (0: never) */
	/* state */
	struct sub **conns; /* every connection, conns[0] the first (shared) */
	size_t nconns;
	bool stopped; /* done with its session (closed or given up) */
	struct moq_loop *loop;
	struct moq_quic_endpoint *ep;
	struct moq_session *s;
	struct moq_session_config scfg;
	struct moq_auth_token tok;
	struct moq_timer *tick, *deadline, *retry_timer;
	uint64_t start_ns, ready_ns, end_ns;
	bool finishing, ready, conn_failed, conn_lost;
	/* the peer answered a request or sent an object: the session did
	 * more than SETUP (over WebTransport the relay's SETUP arrives before
	 * it has read ours, so "ready" alone does not mean accepted) */
	bool answered;
	char close_reason[300];
	FILE *out;
	struct moq_reorder *reorder;
	uint64_t output_bytes;
	uint64_t last_objects, last_bytes;
	unsigned err_logs;
	struct rxst *rx_list;
	uint64_t ku_next;     /* packets received at which the next key update is due */
	uint64_t key_updates; /* key updates this client initiated */
};

extern const char *prog;

/* ---- report.c ---- */

struct totals {
	uint64_t objects, missing, bytes, errors, groups, duplicates, late;
	uint64_t beyond; /* --count, final: objects past the first N (not in objects) */
	struct moq_hist *lat;
};

/* Gaps so far; at the end (final) with --count also objects never received. */
uint64_t track_missing(const struct sub *u, const struct track *t, bool final);
/* Objects received; at the end (final) with --count only those among the
 * first N (the run's objects: received + missing = N), the rest in
 * track_beyond. A later object that arrives while the run waits for a lost
 * earlier one is not one of the N. */
uint64_t track_received(const struct sub *u, const struct track *t, bool final);
uint64_t track_beyond(const struct sub *u, const struct track *t, bool final);
/* Seconds from session setup (or start) to the end (or now). */
double elapsed_s(const struct sub *u);
/* Adds connection u's tracks to tt (latencies when tt->lat). */
void sum_conn(const struct sub *u, struct totals *tt, bool final);
/* Totals over every connection (tt->lat allocated, free it). */
void sum(struct sub *u, struct totals *tt, bool final);
/* The exit code of connections cs[0..n) with totals tt. */
int exit_code_of(struct sub *const *cs, size_t n, const struct totals *tt);
/* The exit code over every connection. */
int exit_code(struct sub *u, const struct totals *tt);
/* The summary: stderr, and --json on stdout. */
void report(struct sub *u, int code, const struct totals *tt);

#endif
