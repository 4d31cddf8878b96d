/* moq-relayd: the fast path's private header (fastpath.c and the files
 * split from it; docs/fast-path-agent.md section 6).
 *
 *   fastpath.c    relayd_fp_* entry points, QUIC packet hooks and ACK
 *                 translation callbacks, slots, start and stop
 *   fp_streams.c  stream state machine: raw upstream bytes, per-subscriber
 *                 stream lookups, kernel coverage intervals, delivery
 *                 timeouts (tests/unit/test_fp_streams.c)
 *   fp_writer.c   the agent's media writer: gap fills, resends, resets,
 *                 tracker callbacks, gate and flow-control credit
 *   fp_events.c   ring-buffer event consumer, periodic service, stuck and
 *                 timeout checks
 *   fp_tls.c      TLS relays: the connections' 1-RTT keys to the kernel
 *                 and back out (docs/fast-path-tls.md)
 *
 * Per connection (struct fp_conn): a packet-number space shared with the
 * kernel, for subscriber connections on the fast path a slot in the pinned
 * maps, the media tracker and congestion controller, and per upstream data
 * stream a struct fp_stream saying who serves it to this subscriber:
 *   KERNEL  the egress program forwarded its start; the agent fills what
 *           the kernel missed (ranges without an event) and retransmits
 *           losses from the raw upstream bytes (struct fp_raw);
 *   AGENT   the kernel never saw its start for this subscriber (joined
 *           mid-stream, start dropped for a reason other than the gate):
 *           the agent writes all of it; the kernel's map entry is marked
 *           reset so the kernel never forwards a piece of it;
 *   SKIPPED not owed to this subscriber (before its filter, or its start
 *           was dropped by the gate);
 *   RESET   RESET_STREAM sent (gate drop, STOP_SENDING, unsubscribe). */
#ifndef RELAYD_FP_INTERNAL_H
#define RELAYD_FP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/fp_ackxlate.h"
#include "lib/fp_cc.h"
#include "lib/fp_info.h"
#include "lib/fp_keys.h"
#include "lib/fp_mapsync.h"
#include "lib/fp_pingack.h"
#include "lib/fp_pinghold.h"
#include "lib/fp_pnspace.h"
#include "lib/fp_sentlog.h"
#include "lib/fp_tracker.h"
#include "quic/loop.h"
#include "quic/quic.h"

struct relayd;
struct peer;
struct relay_sub;
struct relay_track;
struct ring_buffer;

#define FP_PKT_MAX 1200 /* UDP payload of agent-written packets */
#define FP_KIND_RESET 2 /* tracker kind of a RESET_STREAM packet */
#define FP_CHUNK 1150	/* stream bytes per agent packet (<= FP_PKT_MAX - 50) */
#define FP_LOSTQ_MAX 4096
#define FP_NG_WINDOW (1u << 20)		/* ngtcp2's share of connection credit */
#define FP_POLL_NS 20000000ull		/* service period without fast subscribers (heartbeat) */
#define FP_INITIAL_WINDOW (64u * 1392u) /* media plane's initial cwnd */

#define FP_MARKS 32 /* arrival marks kept per upstream stream */
/* queued less important classes wait this long after the top class last
 * lacked window (they get what the top class leaves, not a share of it) */
#define FP_LOW_PAUSE_NS 50000000ull

enum fs_state { FS_KERNEL = 0, FS_AGENT, FS_SKIPPED, FS_RESET };

/* Bytes [previous mark's end, end) of an upstream stream were read at t_ns. */
struct fp_mark {
	uint64_t end, t_ns;
};

/* Raw bytes of one upstream data stream, as the relay received them. */
struct fp_raw {
	struct fp_raw *next;
	uint32_t up_conn;
	uint64_t up_sid;
	struct relay_track *tr; /* NULL until the HEADER */
	bool ignored;		/* no fast subscriber wanted it: bytes not kept */
	uint64_t group;
	uint8_t prio_class; /* publisher priority >> 5, as the gate classes it */
	uint64_t up_alias;
	size_t alias_off, alias_w;
	/* bytes [base, len) of the stream, at buf[0..len - base): the oldest
	 * are evicted beyond the per-stream and total bounds */
	uint8_t *buf;
	size_t len, cap;
	uint64_t base;
	bool fin, ended; /* ended: FIN read or reset: no more bytes */
	/* its track ended while streams still had bytes of it to deliver:
	 * they go on being served from buf; freed with the last of them */
	bool orphan;
	unsigned refs;
	bool pump_due;	  /* bytes read this loop pass: served at its end (held) */
	uint64_t objects; /* objects userspace parsed in it so far */
	/* when the relay read each piece: OBJECT_DELIVERY_TIMEOUT counts from
	 * there; SUBGROUP_DELIVERY_TIMEOUT from fin_ns */
	struct fp_mark mark[FP_MARKS];
	unsigned nmark;
	uint64_t fin_ns;
};

struct fp_iv {
	uint64_t lo, hi;
};

struct fp_stream {
	struct fp_stream *next;
	struct fp_raw *raw; /* referenced; NULL until userspace saw the stream */
	uint32_t up_conn;
	uint64_t up_sid;
	uint64_t down_sid; /* MOQ_DS_NONE: none */
	uint64_t down_alias;
	bool alias_known;
	enum fs_state state;
	struct fp_iv *cov; /* ranges the kernel forwarded, sorted, merged */
	size_t ncov, covcap;
	uint64_t filled;  /* below: forwarded or written */
	uint64_t max_end; /* highest stream offset sent (final size) */
	bool fin_done;
	uint32_t inflight; /* tracked packets not yet acked or lost */
	/* the subscription's effective delivery timeouts (0: none), learned
	 * when the stream meets its subscription */
	bool to_known;
	uint64_t obj_to_ns, sg_to_ns;
	uint64_t reset_code; /* of the RESET_STREAM sent (resent with it) */
	uint64_t stuck_since;
	bool stuck_logged;
	bool counted; /* in its subscription's fast_streams */
	/* the subscriber's MAX_STREAM_DATA for down_sid: neither the kernel
	 * nor the agent sends a byte beyond it; credit_put: also in
	 * moq_stream_credit (deleted with fs) */
	uint64_t max_sd;
	bool credit_put;
};

struct fp_conn {
	struct relayd *d;
	struct peer *p;
	struct moq_quic_conn *qc;
	uint32_t conn_id;
	int slot; /* -1: none */
	enum { FC_UNDECIDED = 0, FC_FAST, FC_SLOW } mode;
	struct moq_conn_seq priv;
	struct fp_pnspace ps;
	struct fp_ackx *x;
	bool flow_set;
	struct fp_tracker trk;
	struct fp_cc cc;
	struct fp_pinghold ph; /* PINGs of consumed ACK + PING packets not fed yet */
	struct fp_pingack pa;  /* the agent's own ACKs of them (plaintext slots) */
	uint64_t acked_tick;   /* fp->ticks when an ACK drain last updated gate and timer */
	uint64_t first_media_uni, peer_max_uni;
	uint8_t dcid[8];
	int family;
	bool upstream_registered;
	bool pn_window; /* its moq_pn_windows entry is written */
	uint8_t up_cids[8][MOQ_CID_LEN];
	size_t n_up_cids;
	struct fp_stream *streams;
	struct moq_timer *timer;
	struct fp_media_pkt lostq[1024];
	size_t nlost;
	uint64_t media_used;
	struct fp_sub_info info;
	bool fc_short_warned; /* media plane went beyond its reserved credit */
	/* "gate drop" log lines: at most one a second per slot (issue 18: a
	 * line per drop was a write per stream and subscriber exactly when
	 * the agent was behind, 21,767 in one overload) */
	uint64_t gate_log_ns, gate_log_skipped;
	/* datagrams the kernel forwarded (or the gate dropped) recently, by
	 * identity; userspace sends those it does not find here */
	struct fp_dg {
		uint32_t conn;
		uint64_t alias, group, object;
	} dg[256];
	unsigned dg_next;
	uint64_t class_seen_ns[MOQ_PRIO_CLASSES]; /* last stream of each class */
	/* OBJECT_DELIVERY_TIMEOUT of the newest fast subscription: for a
	 * stream dropped at the gate before its subscription is known */
	uint64_t obj_to_ns;
	bool has_sg_to;	       /* some stream has a SUBGROUP_DELIVERY_TIMEOUT */
	bool has_obj_to;       /* some stream has an OBJECT_DELIVERY_TIMEOUT */
	uint64_t top_short_ns; /* the top class last lacked window */
	/* flow control shared with the kernel (moq_credit): stream0 the
	 * subscriber's initial_max_stream_data_uni; cr_added the media
	 * limit (fp_conn_media_limit) moq_credit.conn was last given;
	 * cr_prepaid connection credit taken for the write in progress */
	uint64_t stream0;
	uint64_t cr_added, cr_prepaid;
	bool credit_on;
	uint64_t kernel_acks; /* ACK frames consumed by the kernel, read */
	/* the DCID of the subscriber's last packet that reached the agent:
	 * what a PING fed to ngtcp2 for a consumed packet carries (fp_acks.c) */
	uint8_t rx_dcid[MOQ_CID_LEN];
	/* TLS relay (fp_tls.c): tls_slot its slot is MOQ_SUB_F_TLS (the
	 * kernel seals with its tx keys), sub_keys those are installed;
	 * up_tls its upstream entries are MOQ_UP_F_TLS, up_keys its rx keys
	 * of both phases are installed; tx_phase the key phase exported;
	 * sub_rx_keys its rx keys (current phase) are installed too: the
	 * kernel opens its ACKs and consumes them */
	bool tls_slot, sub_keys, up_tls, up_keys, up_refusal_logged, sub_rx_keys;
	uint8_t tx_phase;
	const char *slow_reason; /* why it stays in userspace (static text) */
	/* a subscription of it the kernel could not take (the agent writes
	 * its media): its publishers are read at once (fp_intake.c) */
	bool agent_subs;
};

struct relayd_fp {
	struct relayd *d;
	struct fp_maps maps;
	uint32_t generation;
	struct ring_buffer *rb;
	struct moq_timer *poll_timer;
	struct fp_conn *slots[MOQ_MAX_SUBSCRIBERS];
	bool slot_used[MOQ_MAX_SUBSCRIBERS]; /* since start: entries may be left */
	uint64_t sub_map_fallbacks;	     /* subscriptions the kernel could not take */
	uint32_t next_slot, next_conn_id;
	uint32_t slot_hi; /* slots in use are below this */
	struct fp_raw *raws;
	size_t raw_bytes;		      /* buffer capacity of all raws */
	size_t raw_stream_max, raw_total_max; /* --fast-path-{stream,raw}-bytes */
	uint64_t raw_evicted_bytes;	      /* stream bytes dropped for the bounds */
	uint64_t raw_evictions;		      /* times a raw lost bytes to them */
	uint64_t starts_unseen;		      /* gate-dropped starts whose event was lost */
	uint64_t raw_gone_resets;	      /* streams reset: a subscriber needed them */
	struct moq_track_subs *tsbuf;
	uint64_t events, orphan_events, hook_drops;
	uint64_t ack_pings, ack_ping_errors; /* PINGs of consumed packets fed to ngtcp2 */
	bool ack_ping;	       /* consume ACK + PING too (not --fast-path-no-ack-ping) */
	bool no_tls_rx;	       /* --fast-path-no-tls-acks: TLS slots' ACKs to the agent */
	uint64_t ping_mad_ns;  /* the max_ack_delay we advertised: bounds the PING hold */
	uint64_t ping_batches; /* feeds of held PINGs (ack_pings / this = PINGs per feed) */
	uint64_t ping_acks;    /* ... of those, answered by the agent's own ACK (fp_pingack) */
	uint64_t pings_taken;  /* PINGs taken from packets that reached the agent */
	uint64_t bad_events;   /* ring records fp_event_check refused */
	struct fp_sentlog_stats log_stats; /* sent-log entries read */
	uint64_t log_full;		   /* clones dropped: a sent log was full */
	/* raws with bytes read in this loop pass (fastpath.c fp_pass_end) */
	struct fp_raw **due;
	size_t due_cap, raws_due;
	bool pass_armed;
	uint64_t passes;    /* pass ends that served raws */
	uint64_t raw_reads; /* upstream stream pieces read (relayd_fp_raw) */
	/* objects (and their stream bytes) the fast path delivered: whole
	 * streams acknowledged, datagrams forwarded */
	uint64_t objects_delivered, object_bytes_delivered;
	uint64_t last_hb_ns, hb_every_ns;
	uint64_t poll_ns; /* FP_POLL_NS, shorter for a short heartbeat timeout */
	/* --fast-path-tick: service period with fast subscribers (sent logs,
	 * exception ring, delivery timeouts, gate refills in one batch) */
	uint64_t tick_ns;
	uint64_t ticks;		 /* fp_service passes (fp_conn.acked_tick) */
	struct fp_sub_info gone; /* counters of connections already closed */
	/* TLS relay (not --plaintext): the key maps, and what they did */
	bool tls;
	struct fp_keys keys;
	uint64_t key_exports;	/* key sets installed (slot or upstream) */
	uint64_t key_changes;	/* key changes the QUIC layer reported */
	uint64_t key_failures;	/* exports that failed (keys wiped instead) */
	uint64_t tls_userspace; /* TLS subscribers without AES-128-GCM */
	uint64_t wt_userspace;	/* WebTransport subscribers (userspace) */
	/* batched publisher intake (fp_intake.c): publishers held now, and
	 * since start: holds, releases, tick reads and the datagrams they read */
	uint32_t intake_held;
	uint64_t intake_holds, intake_releases, intake_reads, intake_pkts;
};

static inline uint64_t fp_now_ns(void)
{
	return moq_loop_now();
}

/* ---- fp_intake.c: batched publisher intake ------------------------------ */

uint64_t fp_intake_period(const struct relayd_fp *fp);
bool fp_intake_ack_bound_ok(uint64_t period_ns, uint64_t mad_ns, uint64_t srtt_ns);
/* Hold or release each publisher's socket, read the held ones. */
void fp_intake_pass(struct relayd *d);

/* ---- fp_streams.c: stream state machine ---------------------------------- */

struct fp_stream *fp_stream_find_up(struct fp_conn *fc, uint32_t up_conn, uint64_t up_sid);
struct fp_stream *fp_stream_find_down(struct fp_conn *fc, uint64_t down_sid);
/* New stream of fc (state KERNEL), with its raw if userspace has it. */
struct fp_stream *fp_stream_new(struct fp_conn *fc, uint32_t up_conn, uint64_t up_sid);
void fp_stream_set_raw(struct fp_stream *fs, struct fp_raw *r);
/* Unlink and free fs (its kernel entry stays, marked reset). */
void fp_stream_free(struct fp_conn *fc, struct fp_stream *fs);
/* Free fs when nothing is left to send or to wait for. */
void fp_stream_maybe_done(struct fp_conn *fc, struct fp_stream *fs);
/* KERNEL or AGENT stream with bytes (or a FIN) not yet sent. */
bool fp_stream_pending(const struct fp_stream *fs);
struct relay_sub *fp_stream_sub(struct fp_conn *fc, const struct fp_stream *fs);
void fp_stream_count(struct fp_conn *fc, struct fp_stream *fs, struct relay_sub *s);
/* Kernel coverage intervals: [lo, hi) forwarded / no longer forwarded. */
void fp_cov_add(struct fp_stream *fs, uint64_t lo, uint64_t hi);
void fp_cov_remove(struct fp_stream *fs, uint64_t lo, uint64_t hi);
/* Delivery timeouts (draft-18 "Delivery Timeouts"). */
uint64_t fp_ms_to_ns(uint64_t ms);
void fp_stream_learn_timeouts(struct fp_conn *fc, struct fp_stream *fs, struct relay_sub *s);
bool fp_stream_expired(const struct fp_stream *fs, uint64_t pos);

struct fp_raw *fp_raw_find(struct relayd_fp *fp, uint32_t up_conn, uint64_t up_sid);
void fp_raw_free(struct relayd_fp *fp, struct fp_raw *r);
void fp_raw_maybe_free(struct relayd_fp *fp, struct fp_raw *r);
void fp_raws_retire_older(struct relayd_fp *fp, struct relay_track *tr, uint64_t group);
void fp_raw_mark(struct fp_raw *r, uint64_t now);
/* Append len bytes at the stream's end, keeping at most raw_stream_max
 * (the oldest go first), then bring all raws under raw_total_max. 0, or
 * -ENOMEM (nothing kept). */
int fp_raw_append(struct relayd_fp *fp, struct fp_raw *r, const uint8_t *data, size_t len);
/* Is the byte at pos of fs's stream no longer kept? */
bool fp_stream_gone(const struct fp_stream *fs, uint64_t pos);
uint64_t fp_raw_arrival(const struct fp_raw *r, uint64_t pos);

/* ---- fp_writer.c: the agent's media writer ------------------------------- */

extern const struct fp_tracker_ops fp_trk_ops;
void fp_conn_arm_timer(struct fp_conn *fc);
int fp_stream_write(struct fp_conn *fc, struct fp_stream *fs, uint64_t off, uint64_t len, bool fin);
void fp_stream_send_reset(struct fp_conn *fc, struct fp_stream *fs, uint64_t code);
void fp_stream_reset(struct fp_conn *fc, struct fp_stream *fs, uint64_t code);
/* fs needs the byte at pos and it was evicted: reset the stream with
 * TOO_FAR_BEHIND (true), or false when the byte is there. */
bool fp_stream_reset_if_gone(struct fp_conn *fc, struct fp_stream *fs, uint64_t pos);
int fp_conn_top_class(const struct fp_conn *fc);
bool fp_conn_room(const struct fp_conn *fc);
void fp_stream_fill(struct fp_conn *fc, struct fp_stream *fs);
void fp_conn_pump_pending(struct fp_conn *fc);
void fp_conn_process_lost(struct fp_conn *fc);
void fp_conn_gate_update(struct fp_conn *fc);
/* Flow control (moq_credit): settle the connection credit the kernel took
 * for a forwarded range (taken) against the stream's real growth; raise
 * fs's stream credit to max (the subscriber's MAX_STREAM_DATA). */
void fp_credit_settle(struct fp_conn *fc, uint64_t taken, uint64_t growth);
/* Stream bytes the media plane may have sent in all (MAX_DATA share). */
uint64_t fp_conn_media_limit(const struct fp_conn *fc);
void fp_stream_credit_raise(struct fp_conn *fc, struct fp_stream *fs, uint64_t max);

/* ---- fp_tls.c: TLS keys for the kernel ------------------------------------ */

/* Why fc cannot take a fast slot on this relay (static text), or NULL. */
const char *fp_tls_sub_refusal(const struct fp_conn *fc);
/* fc's current tx keys to its slot (before the slot is active, and after
 * every key change); on failure its keys are wiped: 0 or -errno. */
int fp_tls_sub_export(struct fp_conn *fc);
void fp_tls_sub_wipe(struct fp_conn *fc);
/* The kernel's rx window of fc's slot up to the layer's largest received
 * number (packets the kernel passed and the layer opened). */
void fp_tls_sub_rx_sync(struct fp_conn *fc);
/* fc's rx keys of both phases to its upstream connection id; wiped on
 * failure: 0 or -errno. */
int fp_tls_up_export(struct fp_conn *fc);
void fp_tls_up_wipe(struct fp_conn *fc);
/* Wipe every key set an earlier run left in the key maps (the caller holds
 * the pin directory's lock): 1 some were wiped, 0 none were there, or
 * -errno. */
int fp_tls_clear_stale(struct fp_keys *k);

/* ---- fp_events.c: ring buffer, periodic checks ----------------------------- */

/* Every slot's sent log, then the exception ring. */
void fp_drain(struct relayd_fp *fp);
/* fc's sent log only (before processing fc's ACKs). */
void fp_drain_conn(struct fp_conn *fc);
/* The exception ring only. */
void fp_drain_exceptions(struct relayd_fp *fp);
int fp_on_ring_event(void *ctx, void *data, size_t sz);
bool fp_stream_take_over(struct fp_conn *fc, struct fp_stream *fs, bool serve);
/* A gate drop of a stream of class cls: queued through the agent (true) or
 * reset; fp_stream_gate_dropped applies it to fs. */
bool fp_gate_drop_queues(const struct fp_conn *fc, int cls, uint64_t timeout_ns);
void fp_stream_gate_dropped(struct fp_conn *fc, struct fp_stream *fs, int cls);
void fp_service(struct relayd *d);

/* ---- fp_acks.c: media ACKs the kernel consumed ---------------------------- */

/* Feed fc's recorded ACKs to its tracker; returns how many. Drain the ring
 * buffer (fp_drain) first. */
size_t fp_conn_drain_acks(struct fp_conn *fc);
/* Feed ngtcp2 every PING fc holds (before a packet of fc reaches ngtcp2:
 * it reads them in arrival order). */
void fp_conn_feed_pings(struct fp_conn *fc);
/* ... only when the oldest one's hold is over at now_ns. */
void fp_conn_feed_due_pings(struct fp_conn *fc, uint64_t now_ns);
/* A packet of fc's subscriber that reached the agent (the kernel did not
 * consume it: guarded, pass period) and holds only ACK, PADDING and PING:
 * its PING becomes PADDING and is held like a consumed one, so ngtcp2
 * reads the ACK alone and sends no ACK of its own (plaintext slots). */
void fp_conn_take_ping(struct fp_conn *fc, uint8_t *pkt, size_t len);

#endif
