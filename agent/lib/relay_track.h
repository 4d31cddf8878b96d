/* Tracks the relay serves: one upstream subscription (a SUBSCRIBE the relay
 * sent to a publisher / upstream relay, or a PUBLISH a publisher sent) and
 * the set of downstream subscribers it is fanned out to, plus per-session
 * Track Alias allocation and subscription filter resolution.
 *
 * This module holds state only; the session calls live in the daemon and
 * in relay_forward. */
#ifndef RELAY_TRACK_H
#define RELAY_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "relay_cache.h"
#include "relay_name.h"

struct moq_request;
struct relay_fwd;
struct relay_rx;

/* ---- Track Alias sets (one per downstream session) ---- */

struct relay_alias_set {
	uint64_t *v; /* sorted */
	size_t n, cap;
};

void relay_alias_set_init(struct relay_alias_set *s);
void relay_alias_set_free(struct relay_alias_set *s);
bool relay_alias_set_has(const struct relay_alias_set *s, uint64_t alias);
/* 0, -EEXIST, -ENOMEM. */
int relay_alias_set_add(struct relay_alias_set *s, uint64_t alias);
/* 0 or -ENOENT. */
int relay_alias_set_del(struct relay_alias_set *s, uint64_t alias);
/* The alias to use in a session: preferred (the upstream alias) if it is
 * not UINT64_MAX and free in s, else the smallest free value. Does not add
 * it. */
uint64_t relay_alias_pick(const struct relay_alias_set *s, uint64_t preferred);

/* ---- filters ---- */

struct relay_range {
	struct moq_location start;
	bool has_end;
	uint64_t end_group; /* inclusive */
};

/* Resolve a SUBSCRIBE filter against the track's Largest Object.
 * No filter: the relay's default, {Largest.Group, 0} (the current group,
 * served from the cache) when current_cached says the cache holds that
 * group from its start, else {Largest.Group + 1, 0} (whole groups only:
 * a decoder needs the group's first object); {0, 0} before any object.
 * Filter types as the
 * draft defines them. Returns 0, -ERANGE (INVALID_RANGE: AbsoluteRange
 * whose End Group was already passed, or end < start), -EOVERFLOW (end
 * group beyond 2^64-1), -EINVAL (unknown filter type). */
int relay_filter_resolve(bool has_filter, const struct moq_subscription_filter *f, bool has_largest,
			 struct moq_location largest, bool current_cached, struct relay_range *out);
bool relay_range_contains(const struct relay_range *r, uint64_t group, uint64_t object);

/* ---- tracks and subscribers ---- */

enum relay_track_state {
	RELAY_TRACK_PENDING = 0, /* upstream SUBSCRIBE sent, no answer yet */
	RELAY_TRACK_ACTIVE,	 /* SUBSCRIBE_OK received / PUBLISH accepted */
};

struct relay_sub {
	struct relay_sub *next;	      /* in track->subs */
	struct relay_sub *peer_next;  /* in the owning session's list */
	struct relay_sub **peer_subs; /* head of that list (queue bound) */
	struct relay_track *track;
	void *peer;		 /* the downstream session state */
	struct moq_request *req; /* the peer's SUBSCRIBE */
	uint64_t alias;
	uint8_t sub_priority; /* subscriber priority (queue bound order) */
	bool established;
	bool has_filter;
	struct moq_subscription_filter filter;
	struct relay_range range;
	/* no filter and nothing known yet: start at the first group the
	 * relay sees from its Object 0 (range.start is set then) */
	bool wait_group_start;
	bool has_joining; /* Largest Object when SUBSCRIBE_OK was sent */
	struct moq_location joining;
	struct relay_fwd *fwd; /* open downstream data streams */
	/* served by the kernel fast path and the agent's media writer
	 * (moq-relayd fastpath.c): relay_forward skips it */
	bool fast;
	/* its track ended (not an unsubscribe): streams the fast path has
	 * complete are still delivered, not reset */
	bool track_ended;
	uint64_t fast_streams; /* downstream streams the fast path opened */
	/* fast path: objects / bytes count when their stream was delivered
	 * whole (or a datagram was forwarded); packets / bytes the kernel
	 * forwarded, from its sent log */
	uint64_t objects_out, bytes_out, streams_reset;
	uint64_t kernel_packets, kernel_bytes;
	/* held for a publisher (RENDEZVOUS_TIMEOUT; moq-relayd rendezvous.c)
	 * until this moq_loop_now() time, track NULL; 0: not held */
	uint64_t rdv_deadline;
	struct relay_sub *rdv_next; /* in the held list */
	uint64_t rdv_pass;	    /* last retry pass that tried to route it */
};

struct relay_track {
	struct relay_track *next;
	struct relay_name name;
	enum relay_track_state state;
	struct moq_request *up; /* local SUBSCRIBE or peer PUBLISH */
	void *up_peer;		/* session state of the publisher side */
	bool up_is_publish;
	uint64_t up_alias;
	uint8_t *props; /* Track Properties from upstream (KVP block) */
	size_t props_len;
	uint8_t group_order;
	struct relay_cache cache;
	struct relay_sub *subs;
	size_t nsubs;
	struct relay_rx *rxs; /* upstream data streams in progress */
	/* upstream PUBLISH_DONE received: the session keeps the upstream
	 * request open until the streams it counted have arrived (they are
	 * still forwarded); the track ends with this status when it closes */
	bool done;
	uint64_t done_status;
	char done_reason[256];
	bool ending; /* inside the daemon's track_end: no second end */
	uint64_t objects_in, bytes_in;
};

struct relay_tracks {
	struct relay_track *head;
	size_t n;
};

void relay_tracks_init(struct relay_tracks *t);
struct relay_track *relay_tracks_find(const struct relay_tracks *t, const struct relay_name *name);
/* New PENDING track (name copied). NULL on ENOMEM. */
struct relay_track *relay_track_new(struct relay_tracks *t, const struct relay_name *name,
				    size_t cache_groups, size_t cache_bytes);
/* Unlink and free the track, its cache and properties. Subscribers and
 * rx states must have been removed by the caller. */
void relay_track_free(struct relay_tracks *t, struct relay_track *tr);
int relay_track_set_props(struct relay_track *tr, const uint8_t *p, size_t len);
void relay_track_add_sub(struct relay_track *tr, struct relay_sub *s);
void relay_track_remove_sub(struct relay_track *tr, struct relay_sub *s);

#endif
