/* moq-relayd: the fast path wiring (fastpath.c). With --fast-path on, the
 * tc programs forward media packets of local publishers straight into the
 * subscribers' connections; this part keeps those connections coherent:
 * one packet-number space per connection (fp_pnspace), ACK translation
 * (fp_ackxlate), loss recovery and congestion control of the media
 * packets (fp_tracker, fp_cc) with retransmission from the raw upstream
 * stream bytes, gap filling for whatever the kernel did not forward, and
 * the pinned maps (fp_mapsync). docs/fast-path-agent.md. */
#ifndef RELAYD_FASTPATH_H
#define RELAYD_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relayd;
struct peer;
struct relay_sub;
struct relay_track;
struct relay_rx;
struct moq_rx;
struct moq_quic_callbacks;

/* Open and check the pinned maps, start the heartbeat, the ring buffer
 * consumer. 0, or -1 with what to fix in err. */
int relayd_fp_start(struct relayd *d, char *err, size_t errlen);
/* Install the packet hooks into the endpoint's callback table (before
 * the endpoint is created). */
void relayd_fp_hooks(struct relayd *d, struct moq_quic_callbacks *cb);
/* TLS relay: install the QUIC layer's key-change callback (both endpoints:
 * the listener and the --upstream client). No-op in plaintext mode. */
void relayd_fp_key_callbacks(struct relayd *d, struct moq_quic_callbacks *cb);
/* How p's connection is served: "kernel", "userspace" or "undecided" (no
 * subscription yet); NULL when the fast path is off or p is not a
 * downstream connection. *note: why userspace (static text) or NULL. */
const char *relayd_fp_conn_mode(const struct peer *p, const char **note);
/* Read the media ACKs the kernel consumed for every active slot (no system
 * call) and act on them as on ACKs the receive hook saw. Call once per loop
 * pass or periodic service; returns the records read. */
size_t relayd_fp_drain_acks(struct relayd *d);
/* Batched publisher intake (fp_intake.c): decide again which publishers'
 * sockets wait for the tick and read the held ones, after the current
 * dispatch. Call when a subscription or FETCH may need their bytes now. */
void relayd_fp_intake_kick(struct relayd *d);
/* "fastpath subs=.. kernel_pkts=.. agent_pkts=.. kernel_share=..%" for
 * the stats line; 0 when the fast path is off. */
int relayd_fp_stats_line(struct relayd *d, char *buf, size_t len);
/* Clean shutdown: programs stop forwarding at once. */
void relayd_fp_stop(struct relayd *d);

void relayd_fp_peer_new(struct relayd *d, struct peer *p);
void relayd_fp_peer_gone(struct relayd *d, struct peer *p);

/* After SUBSCRIBE_OK: put the subscriber on the fast path if it can be. */
void relayd_fp_sub_established(struct relayd *d, struct relay_sub *sub);
void relayd_fp_sub_gone(struct relayd *d, struct relay_sub *sub);
/* Downstream streams the fast path (kernel or agent) opened for sub: its
 * PUBLISH_DONE's Stream Count adds them (0 for a userspace subscriber). */
uint64_t relayd_fp_sub_streams(struct relayd *d, struct relay_sub *sub);
/* FETCH on a fast-path connection cannot be served (ngtcp2 may not open
 * unidirectional streams there). */
bool relayd_fp_conn_is_fast(const struct peer *p);

/* Upstream data stream bytes (session on_data_raw), its HEADER, its end. */
void relayd_fp_raw(struct relayd *d, struct peer *p, struct moq_rx *rx, uint64_t off,
		   const uint8_t *data, size_t len, int fin);
void relayd_fp_rx_header(struct relayd *d, struct peer *p, struct relay_rx *st);
/* Userspace parsed an object of st's upstream stream (objects delivered
 * per fast subscription). */
void relayd_fp_rx_object(struct relayd *d, struct peer *p, struct relay_rx *st);
/* Objects and their stream bytes the fast path delivered to subscribers
 * (0 when it is off). */
void relayd_fp_delivered(struct relayd *d, uint64_t *objects, uint64_t *bytes);
void relayd_fp_rx_reset(struct relayd *d, struct peer *up, struct moq_rx *rx);
/* tr is about to be freed (raws must not keep pointing at it). */
void relayd_fp_track_gone(struct relayd *d, struct relay_track *tr);
/* A publisher connection's track is subscribed (or published): register it
 * in moq_upstreams. */
void relayd_fp_upstream(struct relayd *d, struct peer *p);

#endif
