/* Relay counters and the periodic stats line. */
#ifndef RELAY_STATS_H
#define RELAY_STATS_H

#include <stddef.h>
#include <stdint.h>

struct relay_stats {
	/* cumulative counters */
	uint64_t objects_in, bytes_in;	 /* from upstream / publishers */
	uint64_t objects_out, bytes_out; /* to subscribers (incl. cache) */
	uint64_t objects_from_cache;
	uint64_t streams_reset_slow; /* reset: subscriber over its bound */
	uint64_t sessions_accepted, sessions_refused_auth;
	uint64_t subscribes, subscribe_errors, fetches, fetch_errors;
	uint64_t upstream_subscribes;
	/* previous snapshot for rates */
	uint64_t last_ns;
	uint64_t last_objects_out, last_bytes_out, last_objects_in, last_bytes_in;
};

/* Gauges sampled when the line is printed. */
struct relay_gauges {
	size_t sessions, publishers, subscribers, tracks;
	size_t subscriptions; /* downstream subscriptions over all tracks */
	size_t cache_bytes, cache_groups;
	size_t webtransport_sessions; /* of sessions: over WebTransport (HTTP/3) */
};

/* Format "stats sessions=.. tracks=.. ..." into buf and take a new rate
 * snapshot. Returns the length (truncated like snprintf). */
int relay_stats_line(struct relay_stats *st, const struct relay_gauges *g, uint64_t now_ns,
		     char *buf, size_t len);

#endif
