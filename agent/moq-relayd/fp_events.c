/* moq-relayd fast path: the consumer of the sent logs and the exception
 * ring buffer, and the periodic checks (fp_internal.h).
 *
 * Ordering fact the design rests on: the upstream ingress program clones
 * and the egress program writes its log entry (forwarded) or exception
 * event (not forwarded) synchronously, before the original packet reaches
 * the relay's socket. So after draining every slot's log and then the
 * ring, every stream byte userspace has read has its fate known: a byte
 * below the contiguous upstream end that no log entry covers was not
 * forwarded and must be written by the agent. */
#include <bpf/libbpf.h>

#include "fastpath.h"
#include "fp_internal.h"
#include "lib/fp_event.h"
#include "lib/fp_mapwrite.h"
#include "lib/fp_sentlog.h"
#include "log.h"
#include "relayd.h"

#define MOD "fastpath"

static void fc_event(struct fp_conn *fc, const struct moq_event *ev);

/* One forwarded clone from fc's sent log: the FORWARDED event it used to
 * be. */
static void fc_sent(void *ctx, const struct moq_sent_ent *e)
{
	struct fp_conn *fc = ctx;
	struct moq_event ev = {
	    .ts_ns = e->ts_ns,
	    .pn = e->pn,
	    .up_stream_id = e->up_stream_id,
	    .down_stream_id = e->down_stream_id,
	    .offset = e->offset,
	    .slot = (uint32_t)fc->slot,
	    .conn_id = e->conn_id,
	    .data_len = e->data_len,
	    .wire_len = e->wire_len,
	    .fin = e->fin,
	    .verdict = MOQ_V_FORWARDED,
	    .reason = MOQ_R_FORWARDED,
	    .kind = e->kind,
	    .prog = MOQ_PROG_SUBSCRIBER_EGRESS,
	};

	fc_event(fc, &ev);
}

/* What the kernel forwarded to fc since the last read (no system call). */
void fp_drain_conn(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	struct moq_sent_log *l;

	if (fc->slot < 0)
		return;
	l = fp_maps_sent_log(&fp->maps, (uint32_t)fc->slot);
	if (!l || !fp_sentlog_pending(l))
		return;
	RELAYD_LOG_PEER(fc->p);
	while (fp_sentlog_read(l, fc_sent, fc, MOQ_SENT_LOG_ENTRIES, &fp->log_stats) ==
	       MOQ_SENT_LOG_ENTRIES)
		;
}

/* Every slot's log, then the exception ring: a clone-failure event of the
 * upstream ingress program is written after the egress program's log
 * entry of the same clone, so it is seen after it. */
void fp_drain(struct relayd_fp *fp)
{
	for (uint32_t i = 0; i < fp->slot_hi; i++)
		if (fp->slots[i])
			fp_drain_conn(fp->slots[i]);
	fp_drain_exceptions(fp);
}

void fp_drain_exceptions(struct relayd_fp *fp)
{
	if (fp->rb)
		ring_buffer__consume(fp->rb);
}

/* ---- ring buffer ------------------------------------------------------- */

/* The agent serves fs from now on, or nobody does (serve false, or the
 * peer's stream limit is reached: SKIPPED). A stream the kernel already
 * opened downstream keeps its kernel entry (the kernel goes on forwarding
 * what the gate lets through; the agent fills the gaps). Otherwise the
 * kernel's entry is marked reset, so the kernel never forwards a piece of
 * it. Returns true when the agent serves it. */
bool fp_stream_take_over(struct fp_conn *fc, struct fp_stream *fs, bool serve)
{
	struct relayd_fp *fp = fc->d->fp;
	struct moq_down_stream_key k = {
	    .slot = (uint32_t)fc->slot, .conn_id = fs->up_conn, .up_stream_id = fs->up_sid};
	struct moq_down_stream v = {.flags = MOQ_DS_F_RESET};

	if (serve && fs->down_sid != MOQ_DS_NONE) {
		fs->state = FS_AGENT;
		return true;
	}
	if (serve) {
		struct moq_conn_seq *seq = fp_maps_seq(&fp->maps, (uint32_t)fc->slot);
		uint64_t n = __atomic_fetch_add(&seq->next_uni, 1, __ATOMIC_SEQ_CST);

		if (n < fc->peer_max_uni)
			fs->down_sid = 4 * n + 3;
	}
	fs->state = serve && fs->down_sid != MOQ_DS_NONE ? FS_AGENT : FS_SKIPPED;
	v.stream_id = fs->down_sid;
	fp_maps_put_down_stream(&fp->maps, &k, &v);
	return fs->state == FS_AGENT;
}

/* Priority class of an upstream stream, from the kernel's stream map; 0
 * (served) when the map does not know it: a class guessed low would reset
 * the stream, silently when it is not open downstream yet. */
static int up_stream_class(struct fp_conn *fc, uint32_t conn_id, uint64_t sid)
{
	struct moq_up_stream_key k = {.conn_id = conn_id, .stream_id = sid};
	struct moq_up_stream v;

	if (fp_maps_get_up_stream(&fc->d->fp->maps, &k, &v))
		return 0;
	return v.priority >> 5;
}

bool fp_gate_drop_queues(const struct fp_conn *fc, int cls, uint64_t timeout_ns)
{
	/* A subscriber that set OBJECT_DELIVERY_TIMEOUT said how old an object
	 * may get: every class queues through the agent (most important
	 * first) until then. Without one, less important classes are reset
	 * at once: queueing them would only add delay. */
	return cls <= fp_conn_top_class(fc) || timeout_ns;
}

void fp_stream_gate_dropped(struct fp_conn *fc, struct fp_stream *fs, int cls)
{
	uint64_t timeout = fs->to_known ? fs->obj_to_ns : fc->obj_to_ns;

	if (!fp_gate_drop_queues(fc, cls, timeout)) {
		fp_stream_reset(fc, fs, MOQ_RESET_TOO_FAR_BEHIND);
		return;
	}
	if (cls <= fp_conn_top_class(fc))
		fc->top_short_ns = fp_now_ns();
	if (fp_stream_take_over(fc, fs, true))
		fc->info.gate_queued++;
}

/* The gate dropped a packet of fs (the kernel now drops the rest of the
 * stream). The most important class keeps flowing: the agent serves the
 * rest of the stream under the window (queueing instead of a reset);
 * less important streams are reset. */
static void fs_gate_dropped(struct fp_conn *fc, struct fp_stream *fs, const struct moq_event *ev)
{
	fp_stream_gate_dropped(fc, fs,
			       fs->raw ? fs->raw->prio_class
				       : up_stream_class(fc, ev->conn_id, ev->up_stream_id));
}

/* Per subscription: what the kernel forwarded to it. */
static void sub_count_packet(struct relay_sub *s, const struct moq_event *ev)
{
	if (!s)
		return;
	s->kernel_packets++;
	s->kernel_bytes += ev->wire_len;
}

/* A datagram the kernel forwarded is an object delivered to the
 * subscription of its track (upstream conn and alias). */
static void dg_delivered(struct fp_conn *fc, const struct moq_event *ev)
{
	if (!fc->p)
		return;
	for (struct relay_sub *s = fc->p->subs; s; s = s->peer_next) {
		struct relay_track *tr = s->track;
		struct peer *up = tr ? tr->up_peer : NULL;

		if (tr && up && up->fp_conn_id == ev->conn_id && tr->up_alias == ev->up_stream_id) {
			sub_count_packet(s, ev);
			s->objects_out++;
			s->bytes_out += ev->data_len;
			fc->d->fp->objects_delivered++;
			fc->d->fp->object_bytes_delivered += ev->data_len;
			return;
		}
	}
}

/* One "gate drop" line a second per slot; the ones between are counted
 * (gate_drops= in the stats line has them all). */
static bool gate_log_due(struct fp_conn *fc)
{
	uint64_t now = fp_now_ns();

	if (fc->gate_log_ns && now - fc->gate_log_ns < 1000000000ull) {
		fc->gate_log_skipped++;
		return false;
	}
	fc->gate_log_ns = now;
	return true;
}

static void fc_event(struct fp_conn *fc, const struct moq_event *ev)
{
	bool fwd = ev->verdict == MOQ_V_FORWARDED;
	bool gate = ev->reason == MOQ_R_GATE_DROP || ev->reason == MOQ_R_STREAM_RESET;
	struct fp_stream *fs;

	if (ev->reason == MOQ_R_LOG_FULL) {
		/* dropped before it was parsed or mapped: the agent sends the
		 * bytes (uncovered) or the whole stream (start not forwarded) */
		fc->d->fp->log_full++;
		return;
	}
	if (fwd) {
		struct moq_event tev = *ev;

		if (ev->kind == MOQ_EV_KIND_DATAGRAM)
			tev.down_stream_id = MOQ_DS_NONE; /* not a stream id */
		fc->info.kernel_packets++;
		fc->info.kernel_bytes += ev->wire_len;
		fp_pnspace_note_media(&fc->ps, ev->pn);
		fp_cc_on_kernel_sent(&fc->cc, ev->wire_len,
				     fp_tracker_on_event(&fc->trk, &tev) == 0);
	} else if (gate) {
		fc->info.gate_drops++;
		if (ev->reason == MOQ_R_GATE_DROP && gate_log_due(fc)) {
			moq_info(MOD,
				 "slot %u: gate drop (stream %llu offset %llu): cwnd %llu in "
				 "flight %llu budget %lld%s (%llu more since the last line)",
				 ev->slot, (unsigned long long)ev->up_stream_id,
				 (unsigned long long)ev->offset, (unsigned long long)fc->cc.cwnd,
				 (unsigned long long)fc->cc.bytes_in_flight,
				 (long long)fp_maps_gate(&fc->d->fp->maps, ev->slot)->budget,
				 fc->cc.in_recovery ? " (recovery)" : "",
				 (unsigned long long)fc->gate_log_skipped);
			fc->gate_log_skipped = 0;
		}
	}
	if (ev->kind == MOQ_EV_KIND_DATAGRAM) {
		if (fwd)
			dg_delivered(fc, ev);
		/* forwarded or deliberately dropped by the gate: either way
		 * userspace must not send this one */
		if (fwd || ev->reason == MOQ_R_GATE_DROP)
			fc->dg[fc->dg_next++ & 255] = (struct fp_dg){
			    ev->conn_id, ev->up_stream_id, ev->offset, ev->down_stream_id};
		return;
	}
	if (ev->kind != MOQ_EV_KIND_STREAM)
		return;
	fs = fp_stream_find_up(fc, ev->conn_id, ev->up_stream_id);
	if (!fs) {
		/* A stream is new to us when the kernel forwarded its start,
		 * dropped its start at the gate (never opened downstream), or
		 * mapped it and then failed the rewrite. Drops of streams we
		 * finished or that userspace will decide on are not news. */
		bool news =
		    fwd || (ev->offset == 0 && (ev->reason == MOQ_R_GATE_DROP ||
						(!gate && ev->down_stream_id != MOQ_DS_NONE)));

		if (!news)
			return;
		fs = fp_stream_new(fc, ev->conn_id, ev->up_stream_id);
		if (!fs)
			return;
		fs->down_sid = ev->down_stream_id;
		fs->state = FS_KERNEL;
	}
	if (fs->state != FS_KERNEL)
		return;
	if (fwd) {
		uint64_t end = ev->offset + ev->data_len;

		if (fs->down_sid == MOQ_DS_NONE)
			fs->down_sid = ev->down_stream_id;
		fp_cov_add(fs, ev->offset, end);
		sub_count_packet(fp_stream_sub(fc, fs), ev);
		if (ev->fin)
			fs->fin_done = true;
		/* the kernel took data_len of connection credit: settle it
		 * against the stream's real growth */
		fp_credit_settle(fc, ev->data_len, end > fs->max_end ? end - fs->max_end : 0);
		if (end > fs->max_end) {
			fc->media_used += end - fs->max_end;
			fs->max_end = end;
		}
		fs->inflight++;
	} else if (gate) {
		fs_gate_dropped(fc, fs, ev);
	}
}

/* The egress program ran for a clone (FORWARDED event, packet number
 * taken) but the device refused to send it: the agent sends those bytes
 * (stream: they lose their coverage; datagram: no longer counts as
 * delivered). The tracker declares the number lost later (a harmless
 * duplicate then). */
static void fc_clone_failed(struct fp_conn *fc, const struct moq_event *ev)
{
	if (ev->kind == MOQ_EV_KIND_DATAGRAM) {
		for (unsigned i = 0; i < 256; i++) {
			struct fp_dg *g = &fc->dg[i];

			if (g->conn == ev->conn_id && g->alias == ev->up_stream_id &&
			    g->group == ev->offset && g->object == ev->down_stream_id)
				g->conn = 0;
		}
		return;
	}
	struct fp_stream *fs = fp_stream_find_up(fc, ev->conn_id, ev->up_stream_id);

	if (!fs || fs->state != FS_KERNEL)
		return;
	fp_cov_remove(fs, ev->offset, ev->offset + ev->data_len);
	if (ev->offset < fs->filled)
		fs->filled = ev->offset;
	if (ev->fin)
		fs->fin_done = false;
}

int fp_on_ring_event(void *ctx, void *data, size_t sz)
{
	struct relayd_fp *fp = ctx;
	struct moq_event evc;
	const struct moq_event *ev = &evc;
	struct fp_conn *fc;

	if (fp_event_check(data, sz, &evc) != FP_EV_OK) {
		fp->bad_events++;
		return 0;
	}
	fp->events++;
	fc = fp->slots[ev->slot];
	if (!fc) {
		fp->orphan_events++;
		return 0;
	}
	/* lines about this event are about fc's session, not the one whose
	 * packet made us drain the ring */
	RELAYD_LOG_PEER(fc->p);
	if (ev->prog == MOQ_PROG_SUBSCRIBER_EGRESS)
		fc_event(fc, ev);
	else if (ev->prog == MOQ_PROG_UPSTREAM_INGRESS && ev->reason == MOQ_R_REDIRECT_FAILED)
		fc_clone_failed(fc, ev);
	return 0;
}

/* Refresh the heartbeat when a quarter of the timeout has passed; true
 * when it did. */
static bool fp_heartbeat(struct relayd_fp *fp)
{
	uint64_t now = fp_monotonic_ns();

	if (now - fp->last_hb_ns < fp->hb_every_ns)
		return false;
	fp_maps_heartbeat(&fp->maps, now);
	fp->last_hb_ns = now;
	return true;
}

/* Log streams that make no progress (debugging aid, info level). */
static void fp_check_stuck(struct relayd_fp *fp)
{
	uint64_t now = fp_now_ns();

	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (!fc)
			continue;
		for (struct fp_stream *fs = fc->streams; fs; fs = fs->next) {
			struct fp_raw *r = fs->raw;
			bool waiting = r && (fs->state == FS_KERNEL || fs->state == FS_AGENT) &&
				       r->ended && !(fs->fin_done && fs->filled >= r->len);

			if (!waiting) {
				fs->stuck_since = 0;
				continue;
			}
			if (!fs->stuck_since)
				fs->stuck_since = now;
			else if (now - fs->stuck_since > 1000000000ull && !fs->stuck_logged) {
				fs->stuck_logged = true;
				moq_info(MOD,
					 "slot %u: stream up %llu down %llu state %d stuck: filled "
					 "%llu/%zu fin_done %d inflight %u ncov %zu cov0 "
					 "[%llu,%llu) cwnd %llu flight %llu",
					 i, (unsigned long long)fs->up_sid,
					 (unsigned long long)fs->down_sid, fs->state,
					 (unsigned long long)fs->filled, r->len, fs->fin_done,
					 fs->inflight, fs->ncov,
					 (unsigned long long)(fs->ncov ? fs->cov[0].lo : 0),
					 (unsigned long long)(fs->ncov ? fs->cov[0].hi : 0),
					 (unsigned long long)fc->cc.cwnd,
					 (unsigned long long)fc->cc.bytes_in_flight);
			}
		}
	}
}

/* SUBGROUP_DELIVERY_TIMEOUT: a stream not fully delivered that long after
 * its FIN was read is reset. Delivered streams are gone already. */
static void fc_subgroup_timeouts(struct fp_conn *fc)
{
	uint64_t now = fp_now_ns();

	for (struct fp_stream *fs = fc->streams, *n; fs; fs = n) {
		n = fs->next;
		if (fs->sg_to_ns && fs->raw && fs->raw->fin &&
		    (fs->state == FS_KERNEL || fs->state == FS_AGENT) &&
		    now - fs->raw->fin_ns > fs->sg_to_ns) {
			fp_stream_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			fp_stream_maybe_done(fc, fs);
		}
	}
}

/* OBJECT_DELIVERY_TIMEOUT for data that waits: a queued stream whose next
 * byte got too old is reset now, not when window opens (its raw and the
 * subscriber's stream credit are released), and paused lower classes are
 * resumed. */
static void fc_object_timeouts(struct fp_conn *fc)
{
	for (struct fp_stream *fs = fc->streams, *n; fs; fs = n) {
		n = fs->next;
		if (fs->obj_to_ns && fp_stream_pending(fs) && fp_stream_expired(fs, fs->filled)) {
			fp_stream_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			fp_stream_maybe_done(fc, fs);
		}
	}
	fp_conn_pump_pending(fc);
}

/* Periodic work: heartbeat, events, every slot's gate and timer. */
void fp_service(struct relayd *d)
{
	struct relayd_fp *fp = d->fp;
	uint64_t now;
	int batch;

	if (fp_heartbeat(fp))
		fp_check_stuck(fp);
	fp->ticks++;
	/* what the agent sends itself in this pass (ACKs of held PINGs,
	 * writes) leaves in one sendmmsg */
	batch = moq_quic_ep_batch_begin(d->ep);
	fp_drain(fp);
	/* the ACK aggregates the kernel recorded (fp_acks.c), after the sent
	 * logs (an ACK may cover packets logged since the last read) and
	 * before the gate refills below */
	relayd_fp_drain_acks(d);
	now = fp_now_ns();
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (fc) {
			fp_conn_feed_due_pings(fc, now);
			/* a slot whose ACKs were drained just above had its
			 * gate and timer updated then, after every log was
			 * read: at audio load that is nearly every slot on
			 * every tick (issue 18, fourth round) */
			if (fc->acked_tick == fp->ticks && !fc->has_sg_to && !fc->has_obj_to)
				continue;
			if (fc->has_sg_to)
				fc_subgroup_timeouts(fc);
			if (fc->has_obj_to)
				fc_object_timeouts(fc);
			fp_conn_gate_update(fc);
			fp_conn_arm_timer(fc);
		}
	}
	moq_quic_ep_batch_end(d->ep, batch);
	fp_maps_flush(&fp->maps);
}
