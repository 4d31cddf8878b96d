/* Userspace forwarding: objects from an upstream data stream (or datagram)
 * into the cache and out to every subscriber of the track, each on its own
 * downstream subgroup stream; cache replay for late joiners; FETCH
 * responses from the cache.
 *
 * Per subscriber session the unacknowledged bytes of all its downstream
 * streams are bounded (sub_queue_bytes): when over, the stream with the
 * lowest priority (largest priority value), then the oldest group, is reset
 * with TOO_FAR_BEHIND and the rest of that subgroup is skipped for that
 * subscriber. Writes never block: the publisher side is never slowed by a
 * subscriber.
 *
 * This is the part a BPF fast path takes over per subscriber later: every
 * downstream write goes through relay_fwd_* below. */
#ifndef RELAY_FORWARD_H
#define RELAY_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "relay_stats.h"
#include "relay_track.h"
#include "session/session.h"

/* One upstream data stream in progress. */
struct relay_rx {
	struct relay_rx *next;
	struct relay_track *track;
	struct moq_rx *rx;
	bool is_subgroup;
	struct moq_subgroup_header hdr;
	uint64_t group, subgroup;
	bool sg_known;
	bool in_obj;
	uint64_t obj_id, obj_len, first_byte_ns;
};

/* One downstream subgroup stream of a subscriber. */
struct relay_fwd {
	struct relay_fwd *next;
	struct relay_sub *sub;
	uint64_t group, subgroup;
	struct moq_tx *tx;
	/* after FIN the entry stays until the peer has acknowledged the
	 * stream, so its bytes count against the subscriber's bound */
	bool finished;
	struct moq_quic_conn *conn;
	int64_t sid;
	uint8_t priority;
	bool dropped; /* reset: skip the rest of this subgroup */
	bool in_obj;
	uint64_t obj_id, written, len;
};

struct relay_fwd_ctx {
	uint64_t sub_queue_bytes;
	struct relay_stats *stats;
	/* Fast-path subscribers (sub->fast): true when the kernel did not
	 * forward this datagram to s, so it goes out through the session.
	 * NULL: the kernel forwarded every one. */
	bool (*fast_datagram_missed)(void *arg, struct relay_sub *s,
				     const struct moq_object_datagram *d);
	void *fast_arg;
};

/* Upstream stream state; linked into track->rxs. NULL on ENOMEM. */
struct relay_rx *relay_rx_new(struct relay_track *tr, struct moq_rx *rx);
/* Unlink and free (does not touch the moq_rx). */
void relay_rx_free(struct relay_rx *r);

/* An event of an upstream data stream of r->track (HEADER .. STREAM_END). */
void relay_forward_event(struct relay_fwd_ctx *ctx, struct relay_rx *r,
			 const struct moq_data_event *ev);
/* The upstream stream was reset: reset the matching downstream streams. */
void relay_forward_reset(struct relay_fwd_ctx *ctx, struct relay_rx *r, uint64_t code);
/* An upstream datagram. */
void relay_forward_datagram(struct relay_fwd_ctx *ctx, struct relay_track *tr,
			    const struct moq_object_datagram *d);
/* Late joiner: send what the cache holds from sub->range.start on. */
void relay_forward_replay(struct relay_fwd_ctx *ctx, struct relay_sub *sub);
/* Subscriber leaves: reset (code) its open streams and free them. Pass
 * reset = false when the session is gone and handles are invalid. */
void relay_forward_sub_stop(struct relay_sub *sub, bool reset, uint64_t code);
/* Peer stopped / timeout reset a downstream stream (tx user = relay_fwd). */
void relay_forward_tx_gone(struct relay_fwd_ctx *ctx, struct moq_tx *tx, uint64_t code);
/* Write the complete cached objects in [start, end] (FETCH End Location
 * encoding: end.object 0 = whole group, else one past the last object) to
 * a fetch stream, ascending. Returns objects written or -errno. */
int relay_forward_fetch(struct relay_fwd_ctx *ctx, struct moq_tx *tx, const struct relay_cache *c,
			struct moq_location start, struct moq_location end);

#endif
