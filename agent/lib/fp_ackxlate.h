/* fp_ackxlate: make a subscriber's received 1-RTT packet fit ngtcp2's view
 * of the connection before ngtcp2_conn_read_pkt (call from the quic
 * recv_hook; plaintext profile only).
 *
 *  - ACK frames: wire packet numbers that were ngtcp2's (fp_pnspace) become
 *    ngtcp2's own numbers; ranges are re-encoded (split where media packets
 *    were interleaved, merged where only media packets separated two acked
 *    ngtcp2 packets). ACK Delay and the ECN counts are kept. An ACK with no
 *    ngtcp2 packet in it becomes PADDING. Every ACK frame's full wire
 *    ranges go to ops->on_media_ack (the media tracker ignores numbers it
 *    did not send, so ngtcp2's own numbers are harmless there).
 *  - STOP_SENDING and MAX_STREAM_DATA for media-plane streams
 *    (ops->is_media_stream) become a PING and PADDING (the packet stays
 *    ack-eliciting for ngtcp2) and are reported.
 *  - MAX_DATA is re-written to ngtcp2's share of the connection credit
 *    (accounting in docs/fast-path-agent.md, "Connection flow control").
 *    When ngtcp2's share grows without a new MAX_DATA from the peer (its
 *    use grew under ng_window), a MAX_DATA frame is appended to the packet
 *    if cap leaves room: otherwise ngtcp2 could stay blocked on credit the
 *    peer already granted.
 *
 * The packet keeps its length unless a translated ACK needs more bytes than
 * the original (many split ranges); then it grows up to cap, and beyond
 * that the oldest ngtcp2 ranges are left out. Frames that shrink are
 * followed by PADDING. Malformed input is never read out of bounds: the
 * packet is validated completely before anything is changed or reported,
 * and a bad packet is rejected with a reason (drop it).
 *
 * Depends only on fp_pnspace.c and libmoq (varint, frame walker), so a fuzz
 * target can #include "../../agent/lib/fp_ackxlate.c" (and fp_pnspace.c)
 * directly: the fuzz build compiles libmoq only. */
#ifndef FP_ACKXLATE_H
#define FP_ACKXLATE_H

#include <stddef.h>
#include <stdint.h>

#include "fp_pnspace.h"

#define FP_ACKX_MAX_PKT 4096	 /* larger received packets are rejected */
#define FP_ACKX_MAX_RANGES 256	 /* ACK ranges accepted per frame (incl. the first) */
#define FP_ACKX_NG_MAX_RANGES 33 /* ranges written for ngtcp2 (1 + 32 additional) */
#define FP_ACKX_INJECT_MIN 4096	 /* smallest raise worth a synthetic MAX_DATA */

/* Why a packet was rejected (fp_ackx_packet returns -reason). */
enum fp_ackx_reason {
	FP_ACKX_OK = 0,
	FP_ACKX_E_SHORT,	 /* shorter than header + 1 + tag */
	FP_ACKX_E_HEADER,	 /* not a short header with a 4-byte packet number */
	FP_ACKX_E_TOO_BIG,	 /* longer than FP_ACKX_MAX_PKT or cap < len */
	FP_ACKX_E_FRAME,	 /* a frame runs past the payload / bad varint */
	FP_ACKX_E_UNKNOWN_FRAME, /* frame type not used in 1-RTT by the profile */
	FP_ACKX_E_ACK_RANGE,	 /* ACK range below zero (gap/length underflow) */
	FP_ACKX_E_ACK_LIMIT,	 /* more than FP_ACKX_MAX_RANGES ranges */
	FP_ACKX_E_ACK_UNSENT,	 /* acknowledges a number never taken */
	FP_ACKX_R_MAX,
};

struct fp_pn_range {
	uint64_t lo, hi; /* inclusive */
};

/* One received ACK frame, wire numbers, ranges in descending order. */
struct fp_wire_ack {
	uint64_t largest;
	uint64_t ack_delay_raw; /* field value; * 2^ack_delay_exponent us */
	size_t nranges;
	const struct fp_pn_range *ranges;
	int has_ecn;
	uint64_t ecn[3]; /* ECT0, ECT1, CE */
};

struct fp_ackx_ops {
	/* Every valid ACK frame, before its translation reaches ngtcp2. */
	void (*on_media_ack)(void *user, const struct fp_wire_ack *ack);
	/* 1 if the stream belongs to the media plane. NULL: none does. */
	int (*is_media_stream)(void *user, uint64_t sid);
	void (*on_stop_sending)(void *user, uint64_t sid, uint64_t app_error);
	void (*on_max_stream_data)(void *user, uint64_t sid, uint64_t max);
	/* MAX_STREAMS (uni) seen (passed on to ngtcp2 unchanged): the limit
	 * for moq_conn_seq.max_uni. */
	void (*on_max_streams_uni)(void *user, uint64_t max);
};

struct fp_ackx_stats {
	uint64_t packets;	  /* packets passed */
	uint64_t acks;		  /* ACK frames seen in passed packets */
	uint64_t acks_translated; /* ... re-encoded with ngtcp2 numbers */
	uint64_t acks_padded;	  /* ... with no ngtcp2 number: PADDING */
	uint64_t acks_truncated;  /* ... with ngtcp2 ranges left out (size) */
	uint64_t hidden_stop_sending, hidden_max_stream_data;
	uint64_t max_data_rewritten, max_data_padded;
	uint64_t max_data_injected; /* synthetic MAX_DATA appended for ngtcp2 */
	uint64_t rejected[FP_ACKX_R_MAX];
};

struct fp_ackx {
	struct fp_pnspace *ps;
	size_t dcidlen;
	const struct fp_ackx_ops *ops;
	void *user;
	/* connection flow control (bytes) */
	uint64_t peer_max_data;	 /* largest limit the peer granted */
	uint64_t ng_max_data;	 /* largest limit ngtcp2 has seen */
	uint64_t media_reserved; /* credit owned by the media plane */
	uint64_t ng_used;	 /* ngtcp2's consumption, from the caller */
	uint64_t ng_window;	 /* ngtcp2 gets at most ng_used + this; 0 = no cap */
	uint64_t ng_tx_seen;	 /* caller's ngtcp2 packet count at the last refresh + 1 */
	struct fp_ackx_stats st;
	/* scratch */
	struct fp_pn_range wire[FP_ACKX_MAX_RANGES];
	uint8_t out[FP_ACKX_MAX_PKT];
};

/* ps: the connection's number space; dcidlen: DCID length of received
 * packets (8 in the profile). ops/user may be NULL. */
void fp_ackx_init(struct fp_ackx *x, struct fp_pnspace *ps, size_t dcidlen,
		  const struct fp_ackx_ops *ops, void *user);

/* Flow control: initial_max_data is the peer's transport parameter (ngtcp2
 * has seen it: it is both the peer's and ngtcp2's starting limit);
 * ng_window caps ngtcp2's share above its use (0 = ngtcp2 gets all credit
 * the media plane has not reserved). */
void fp_ackx_set_flow(struct fp_ackx *x, uint64_t initial_max_data, uint64_t ng_window);
/* ngtcp2's connection-level bytes sent so far: call before each packet
 * with x->ng_max_data - ngtcp2_conn_get_max_data_left(conn) (ngtcp2's
 * limit is exactly ng_max_data: it only ever saw the values written here
 * and the transport parameter). */
void fp_ackx_set_ng_used(struct fp_ackx *x, uint64_t used);
/* ngtcp2's use only grows when it writes a packet: ng_pkts is the caller's
 * count of packets ngtcp2 wrote (e.g. the send hook's). Returns 1 (and
 * remembers ng_pkts) when it moved since the last call that returned 1, or
 * on the first call: ng_used must then be refreshed. Saves a read of
 * ngtcp2's connection on every tick of every slot (issue 18). */
int fp_ackx_ng_tx_moved(struct fp_ackx *x, uint64_t ng_pkts);
/* Reserve up to want bytes of connection credit for the media plane out of
 * what neither ngtcp2 nor the media plane owns. Returns the bytes granted. */
uint64_t fp_ackx_media_reserve(struct fp_ackx *x, uint64_t want);
/* Credit not yet owned by anyone. */
uint64_t fp_ackx_unallocated(const struct fp_ackx *x);
/* 1 when the next packet passed to ngtcp2 would carry a synthetic MAX_DATA
 * (ngtcp2 blocked, or a raise of FP_ACKX_INJECT_MIN due): with the kernel
 * consuming media ACKs, the agent then lets the next packet through. */
int fp_ackx_raise_pending(const struct fp_ackx *x);

/* Translate one received 1-RTT packet in place. *len may grow up to cap.
 * Returns 0 (pass it to ngtcp2) or -enum fp_ackx_reason (drop it; nothing
 * was changed or reported). */
int fp_ackx_packet(struct fp_ackx *x, uint8_t *pkt, size_t *len, size_t cap);

const char *fp_ackx_reason_str(int reason);

#endif
