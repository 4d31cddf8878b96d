/* fp_tracker: per-subscriber media-plane loss recovery (RFC 9002 sections
 * 5 and 6) over the media packets of one connection: those the kernel fast
 * path forwarded (struct moq_event from the moq_events ring buffer) and
 * those the agent's own writer sent. ngtcp2 does its own recovery for its
 * own packets; this module never sees them except as wire numbers in ACK
 * ranges, which it ignores (it only knows the numbers it registered).
 *
 * Inputs: registrations (fp_tracker_on_sent / fp_tracker_on_event), the
 * wire ACK frames fp_ackxlate reports (fp_tracker_on_ack), the timer
 * (fp_tracker_timer / fp_tracker_on_timeout).
 * Outputs: per packet callbacks on_acked (the cache can release
 * stream/offset/length) and on_lost (retransmit that range from the cache
 * with a NEW packet number, then register the new packet), RTT estimates,
 * and a summary per ACK for the congestion controller (fp_cc).
 *
 * All times are CLOCK_MONOTONIC nanoseconds (= bpf_ktime_get_ns). */
#ifndef FP_TRACKER_H
#define FP_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "fp_ackxlate.h"
#include "moq_maps.h"

#define FP_TRK_KIND_STREAM MOQ_EV_KIND_STREAM
#define FP_TRK_KIND_DATAGRAM MOQ_EV_KIND_DATAGRAM

enum fp_trk_state {
	FP_TRK_IN_FLIGHT = 0,
	FP_TRK_ACKED,
	FP_TRK_LOST,
};

struct fp_media_pkt {
	uint64_t pn;	  /* wire packet number */
	uint64_t sid;	  /* downstream stream id (STREAM) */
	uint64_t offset;  /* stream offset of the data */
	uint64_t sent_ns; /* send time */
	uint32_t len;	  /* stream / datagram payload bytes */
	uint32_t bytes;	  /* bytes counted in flight (wire bytes) */
	uint8_t fin;
	uint8_t kind;  /* FP_TRK_KIND_* */
	uint8_t state; /* enum fp_trk_state (set by the tracker) */
	uint8_t pad0[5];
};

struct fp_tracker_cfg {
	size_t cap;		     /* packets tracked at once [4096] */
	uint64_t initial_rtt_ns;     /* [333 ms] (RFC 9002 kInitialRtt) */
	uint64_t max_ack_delay_ns;   /* peer's max_ack_delay [25 ms] */
	uint32_t ack_delay_exponent; /* peer's ack_delay_exponent [3] */
	uint32_t pkt_threshold;	     /* kPacketThreshold [3] */
	uint64_t granularity_ns;     /* kGranularity [1 ms] */
};

struct fp_tracker_ops {
	/* p->state is FP_TRK_LOST for a packet declared lost before (a
	 * spurious loss: it already left bytes_in_flight and was resent) */
	void (*on_acked)(void *user, const struct fp_media_pkt *p);
	void (*on_lost)(void *user, const struct fp_media_pkt *p);
};

/* What one ACK (or timeout) did, for the congestion controller. */
struct fp_trk_summary {
	uint64_t acked_pkts, acked_bytes;
	uint64_t largest_acked_sent_ns; /* of the newly acked packets */
	uint64_t lost_pkts, lost_bytes;
	uint64_t largest_lost_sent_ns; /* congestion event time reference */
	int rtt_sample;		       /* an RTT sample was taken */
	int persistent_congestion;     /* RFC 9002 7.6 */
};

struct fp_tracker {
	struct fp_tracker_cfg cfg;
	const struct fp_tracker_ops *ops;
	void *user;
	struct fp_media_pkt *q; /* deque sorted by pn */
	size_t cap, head, count;
	/* RTT (RFC 9002 5) */
	uint64_t latest_rtt, smoothed_rtt, rttvar, min_rtt;
	int has_rtt;
	uint64_t first_rtt_sample_ns;
	/* loss detection (RFC 9002 6) */
	uint64_t largest_acked; /* + 1; 0 = nothing acked yet */
	uint64_t loss_time;	/* 0 = none */
	uint32_t pto_count;
	uint64_t last_ack_eliciting_ns;
	uint64_t bytes_in_flight, ack_eliciting_in_flight;
	/* counters */
	uint64_t sent, acked, lost, spurious, ptos, dropped_events, full;
};

/* cfg may be NULL (defaults); zero fields take defaults. */
int fp_tracker_init(struct fp_tracker *t, const struct fp_tracker_cfg *cfg,
		    const struct fp_tracker_ops *ops, void *user);
void fp_tracker_free(struct fp_tracker *t);

/* Register a media packet (p->state ignored). Packets may arrive slightly
 * out of number order (ring-buffer events from several CPUs). Returns 0,
 * -EEXIST (number already tracked), -ENOSPC (cap reached: stop sending). */
int fp_tracker_on_sent(struct fp_tracker *t, const struct fp_media_pkt *p);
/* Register from a BPF event. Returns 0 (registered), 1 (the gate or a reset
 * dropped it: the caller resets the stream / fills the gap), or < 0. */
int fp_tracker_on_event(struct fp_tracker *t, const struct moq_event *ev);

/* A wire ACK frame (fp_ackxlate's on_media_ack), received at now. */
void fp_tracker_on_ack(struct fp_tracker *t, const struct fp_wire_ack *ack, uint64_t now,
		       struct fp_trk_summary *sum);

/* Earliest deadline (loss time or PTO), 0 = no timer. */
uint64_t fp_tracker_timer(const struct fp_tracker *t);
/* Call when the timer fires. Returns 0 (nothing due), 1 (time-threshold
 * losses reported through on_lost and sum), 2 (PTO: send *probes (2) probe
 * packets: new data or retransmit fp_tracker_oldest() with new numbers;
 * nothing is declared lost). */
int fp_tracker_on_timeout(struct fp_tracker *t, uint64_t now, struct fp_trk_summary *sum,
			  int *probes);
/* PTO period without backoff: srtt + max(4 rttvar, granularity) + max_ack_delay. */
uint64_t fp_tracker_pto_period(const struct fp_tracker *t);
/* Up to max oldest in-flight packets (probe candidates). */
size_t fp_tracker_oldest(const struct fp_tracker *t, struct fp_media_pkt *out, size_t max);

#endif
