/* A snapshot of one fast-path subscriber connection, as moq-relayd reports
 * it to moq-relayctl (control socket) and the metrics endpoint. Filled by
 * the daemon (agent/moq-relayd/fastpath.c: relayd_fp_snapshot); readers
 * only format it. Counters are cumulative since the connection started. */
#ifndef FP_INFO_H
#define FP_INFO_H

#include <stdint.h>

struct fp_sub_info {
	uint32_t slot;			       /* index in the pinned moq_subscribers map */
	uint32_t conn_id;		       /* daemon's id of the connection */
	char peer[64];			       /* "addr:port" of the subscriber */
	uint64_t kernel_packets, kernel_bytes; /* forwarded by tc egress */
	uint64_t agent_packets, agent_bytes;   /* media written by the agent */
	uint64_t retransmits;		       /* packets re-sent after loss */
	uint64_t lost;			       /* media packets declared lost */
	uint64_t gate_drops;		       /* egress gate / stream-reset drops */
	uint64_t gate_queued;		       /* top-class streams the agent took over */
	uint64_t resets_sent;		       /* RESET_STREAM for media streams */
	int64_t budget;			       /* gate byte credit right now */
	uint64_t cwnd, bytes_in_flight;	       /* media congestion controller */
	uint64_t srtt_us, min_rtt_us;	       /* 0 before the first sample */
};

/* The upstream stream bytes the daemon keeps for gap fills and
 * retransmissions, and what their bounds cost. */
struct fp_raw_info {
	uint64_t bytes;		/* buffers now */
	uint64_t evicted_bytes; /* stream bytes dropped for the bounds */
	uint64_t evictions;	/* times a stream lost bytes to them */
	uint64_t gone_resets;	/* streams reset TOO_FAR_BEHIND: bytes were gone */
};

/* Fills up to max entries, returns how many fast subscribers exist (may be
 * more than max). Defined by the daemon; 0 when the fast path is off. */
struct relayd;
uint32_t relayd_fp_snapshot(struct relayd *d, struct fp_sub_info *out, uint32_t max);
/* All zero when the fast path is off. */
void relayd_fp_raw_info(struct relayd *d, struct fp_raw_info *out);

/* Map updates and deletes that failed, per pinned map, and the
 * subscriptions served in userspace because moq_subscriptions refused
 * them. n 0 when the fast path is off. */
#define FP_INFO_MAPS 24
struct fp_map_failures {
	unsigned n;
	const char *map[FP_INFO_MAPS];
	uint64_t count[FP_INFO_MAPS];
	uint64_t sub_fallbacks;
};
void relayd_fp_map_failures(struct relayd *d, struct fp_map_failures *out);

/* How the agent learns what the kernel did (issue 18): exception events
 * read from the ring, forwarded packets read from the sent logs, clones
 * dropped for a full log, loop passes whose upstream bytes were served in
 * one batch, batched stream-map writes. All zero when the fast path is
 * off. */
struct fp_book_info {
	uint64_t ring_events, log_entries, log_full, pass_ends, map_batches;
};
void relayd_fp_book_info(struct relayd *d, struct fp_book_info *out);

/* A TLS relay's fast path (docs/fast-path-tls.md): subscriber connections
 * served in userspace because their cipher suite is not AES-128-GCM or
 * they are WebTransport sessions, key sets installed in the kernel, key
 * changes the QUIC layer reported, exports that failed. All zero (tls 0)
 * on a plaintext relay or with the fast path off. */
struct fp_tls_info {
	int tls;
	uint64_t userspace_suite, userspace_wt;
	uint64_t key_exports, key_changes, key_failures;
};
void relayd_fp_tls_info(struct relayd *d, struct fp_tls_info *out);

#endif
