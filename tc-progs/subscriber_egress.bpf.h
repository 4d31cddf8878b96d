/* Subscriber egress (subscriber-facing, tc egress): a clone marked by the
 * upstream ingress program passes the subscription and congestion checks,
 * takes the connection's next packet number and downstream stream id, and
 * is rewritten for the subscriber, then sealed (AES-128-GCM, header
 * protection) for a TLS slot; any other packet passes untouched. A clone
 * that is not fully rewritten (and sealed) is dropped. */
#ifndef MOQ_SUBSCRIBER_EGRESS_BPF_H
#define MOQ_SUBSCRIBER_EGRESS_BPF_H

#include "bpf_common.h"
#include "maps.bpf.h"
#include "stats.h"
#include "failsafe.h"
#include "parse_packet.h"
#include "rewrite.h"
#include "moq_vi64_encode.h"
#include "subscriber.h"
#include "quic_aead.h"
#include "fanout_job.h"
#include "clone_cache.h"

struct moq_egress {
	struct moq_pkt p;
	__u64 pn;
	__u64 down_sid;
	__u32 slot;
	__u8 prio;
	__u8 tls; /* MOQ_SUB_F_TLS: sealed by moq_subscriber_seal */
	__u8 pad0[2];
};

/* A TLS slot's clone, rewritten, goes on to the seal program
 * (tc-progs/tls_keys.bpf.c, moq_subscriber_seal) by a tail call: the
 * egress program's stack leaves no room for the sealer's. The seal
 * program finishes the clone (sent log, event, counters) from this job
 * (per CPU: a tail call stays on the CPU) and installs itself in
 * moq_seal_prog (agent/lib/fp_keys.c); without it the clone is dropped
 * (MOQ_R_NO_KEYS), never sent unsealed. */
struct moq_seal_job {
	struct moq_egress e;
	__u64 log_idx;	/* the reserved sent-log index */
	__u32 has_log;	/* log_idx is valid */
	__u32 l4_off;	/* UDP header */
	__u32 quic_len; /* QUIC packet = UDP payload bytes */
	__u32 gate_len; /* gate budget taken */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_seal_job);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_seal_job SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_seal_prog SEC(".maps");

static __always_inline void moq_emit_event(struct moq_egress *e, __u32 reason, __u32 wire_len,
					   int forwarded)
{
	struct moq_event *ev;

	ev = bpf_ringbuf_reserve(&moq_events, sizeof(*ev), 0);
	if (!ev) {
		/* the agent is not draining: count it, the packet goes on */
		moq_stat_count(MOQ_PROG_SUBSCRIBER_EGRESS, MOQ_R_EVENT_LOST, wire_len);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->pn = e->pn;
	if (e->p.is_datagram) {
		/* identity of the datagram, so the agent can tell which ones a
		 * subscriber did not get (moq_maps.h, struct moq_event) */
		ev->up_stream_id = e->p.alias;
		ev->down_stream_id = e->p.subgroup; /* object id */
		ev->offset = e->p.group;
	} else {
		ev->up_stream_id = e->p.stream_id;
		ev->down_stream_id = e->down_sid;
		ev->offset = e->p.offset;
	}
	ev->slot = e->slot;
	ev->conn_id = e->p.conn_id;
	ev->data_len = e->p.data_len;
	ev->wire_len = wire_len;
	ev->fin = e->p.fin;
	ev->verdict = forwarded ? MOQ_V_FORWARDED : MOQ_V_DROPPED;
	ev->reason = reason;
	ev->kind = e->p.is_datagram ? MOQ_EV_KIND_DATAGRAM : MOQ_EV_KIND_STREAM;
	ev->prog = MOQ_PROG_SUBSCRIBER_EGRESS;
	ev->pad0[0] = ev->pad0[1] = ev->pad0[2] = 0;
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP); /* the agent polls */
}

/* Congestion gate: take len bytes of budget, or refuse. 1 = pass. */
static __always_inline int moq_gate_pass(__u32 slot, __u8 prio, __u32 len)
{
	struct moq_gate *g = bpf_map_lookup_elem(&moq_gate, &slot);
	__s64 left;
	__u32 cls = (prio >> 5) & (MOQ_PRIO_CLASSES - 1);

	if (!g || !g->enabled)
		return 1;
	/* the agent adds credit with an atomic add on the mmapped value */
	left = __sync_fetch_and_add(&g->budget, -(__s64)len) - (__s64)len;
	if (left >= g->threshold[cls])
		return 1;
	__sync_fetch_and_add(&g->budget, (__s64)len);
	return 0;
}

/* Give back gate budget taken for a packet that does not leave after all. */
static __always_inline void moq_gate_refund(__u32 slot, __u32 len)
{
	struct moq_gate *g = bpf_map_lookup_elem(&moq_gate, &slot);

	if (g && g->enabled)
		__sync_fetch_and_add(&g->budget, (__s64)len);
}

/* QUIC flow control (issue 17 finding 2b): bytes [off, off + len) of a
 * downstream stream only within the subscriber's MAX_STREAM_DATA for it
 * (moq_stream_credit, in v, else the connection's initial window). 1 =
 * within. */
static __always_inline int moq_stream_credit_ok(const struct moq_credit *cr,
						const struct moq_cc_view *v, __u64 off, __u32 len)
{
	__u64 lim = (v->flags & MOQ_CC_F_CREDIT) ? v->credit_max : cr->stream0;

	return off <= lim && len <= lim - off;
}

/* A clone the cache did not answer: its subscription, stream mapping and
 * stream credit from the hash maps, into v. 0 or the reason. */
static __always_inline int moq_egress_lookup(struct moq_egress *e, __u64 alias,
					     struct moq_down_stream_key *dk, struct moq_cc_view *v)
{
	struct moq_subscription_key bk = {
	    .slot = e->slot, .conn_id = e->p.conn_id, .track_alias = alias};
	struct moq_subscription *bs = bpf_map_lookup_elem(&moq_subscriptions, &bk);
	struct moq_down_stream *ds;
	__u64 *max;

	if (!bs)
		return MOQ_R_NO_SUBSCRIPTION;
	v->sub_alias = bs->track_alias;
	v->start_group = bs->start_group;
	v->flags = 0;
	if (e->p.is_datagram)
		return 0;
	ds = bpf_map_lookup_elem(&moq_down_streams, dk);
	if (ds) {
		e->down_sid = ds->stream_id;
		v->down_sid = (__u32)ds->stream_id;
		v->flags |= MOQ_CC_F_STREAM;
		if (ds->flags & MOQ_DS_F_RESET)
			v->flags |= MOQ_CC_V_RESET;
	}
	max = bpf_map_lookup_elem(&moq_stream_credit, dk);
	if (max) {
		v->credit_max = *max;
		v->flags |= MOQ_CC_F_CREDIT;
	}
	return 0;
}

/* Take len bytes of the connection's media credit (MAX_DATA share), or
 * refuse. 1 = taken. */
static __always_inline int moq_conn_credit_take(struct moq_credit *cr, __u32 len)
{
	if (__sync_fetch_and_add(&cr->conn, -(__s64)len) - (__s64)len >= 0)
		return 1;
	__sync_fetch_and_add(&cr->conn, (__s64)len);
	return 0;
}

/* Marks (slot, upstream stream) reset so the rest of it is dropped too. */
static __always_inline void moq_mark_reset(struct moq_down_stream_key *dk,
					   struct moq_down_stream *ds, __u64 offset)
{
	struct moq_down_stream n = {
	    .stream_id = MOQ_DS_NONE,
	    .flags = MOQ_DS_F_RESET,
	    .reset_offset = offset,
	};

	if (ds) {
		if (!(ds->flags & MOQ_DS_F_RESET))
			ds->reset_offset = offset;
		__sync_fetch_and_or(&ds->flags, MOQ_DS_F_RESET);
		return;
	}
	bpf_map_update_elem(&moq_down_streams, dk, &n, BPF_NOEXIST);
}

/* A clone that is not the CPU's fan-out job (lib/fanout_job.h) parses
 * itself and looks its stream's state up. 0 or the reason. */
static __always_inline int moq_egress_parse(struct __sk_buff *skb, const struct moq_config *cfg,
					    struct moq_egress *e, __u64 *alias, __u64 *group)
{
	int r;

	if (!cfg)
		return MOQ_R_STALE_AGENT;
	r = moq_parse_packet(skb, cfg, &e->p, 0);
	if (r)
		return r;
	if (e->p.is_datagram) {
		*alias = e->p.alias;
		if (e->p.has_prio) {
			e->prio = e->p.prio;
		} else {
			struct moq_track_key tk = {.conn_id = e->p.conn_id, .track_alias = *alias};
			struct moq_track_subs *t = bpf_map_lookup_elem(&moq_tracks, &tk);

			e->prio = t ? t->default_priority : 128;
		}
	} else {
		struct moq_up_stream_key sk = {.conn_id = e->p.conn_id,
					       .stream_id = e->p.stream_id};
		struct moq_up_stream *st = bpf_map_lookup_elem(&moq_up_streams, &sk);

		if (!st)
			return MOQ_R_STREAM_START_UNSEEN;
		*alias = st->track_alias;
		e->prio = st->priority;
		*group = st->group;
	}
	return 0;
}

/* Returns the reason; *forward = 1 when the clone may leave. */
static __always_inline int moq_egress_clone(struct __sk_buff *skb, struct moq_egress *e,
					    int *forward)
{
	struct moq_down_stream_key *dk;
	struct moq_down_stream *ds;
	struct moq_clone_cache *cc;
	struct moq_cc_view *v;
	struct moq_subscriber *sub;
	struct moq_config *cfg;
	struct moq_conn_seq *seq;
	struct moq_credit *cr;
	struct moq_fanout_job *job;
	struct moq_rw_buf *rb;
	int alias_patch = 0, r, hit;
	__u64 alias, group = 0;
	__u32 slot = e->slot, z = 0;

	/* the rewrite's per-CPU buffer; it also carries the new alias (the
	 * stack is full) */
	rb = bpf_map_lookup_elem(&moq_rw_buf, &z);
	if (!rb)
		return MOQ_R_REWRITE_FAILED;
	v = &rb->cc;
	dk = &v->dk;
	v->sent_ns = 0;
	/* the packet the ingress program is cloning right now: its parse,
	 * and its fail-safe check (no second clock read per clone) */
	job = bpf_map_lookup_elem(&moq_fanout_job, &z);
	hit = moq_job_match(skb, job, (__u64 *)rb->src);
	cfg = hit ? moq_config_of_job() : moq_config_live();
	if (!cfg)
		return MOQ_R_STALE_AGENT;
	sub = bpf_map_lookup_elem(&moq_subscribers, &slot);
	if (!moq_sub_live(sub, cfg->generation))
		return MOQ_R_SUB_INACTIVE;
	if (!moq_sub_has_l2(sub))
		return MOQ_R_NO_L2;
	/* a TLS subscriber never gets an unsealed packet: without keys the
	 * clone goes before it takes anything (the agent sends those bytes) */
	if (sub->flags & MOQ_SUB_F_TLS) {
		if (!moq_keys_sub(slot))
			return MOQ_R_NO_KEYS;
		e->tls = 1;
	}
	seq = bpf_map_lookup_elem(&moq_conn_seq, &slot);
	cr = bpf_map_lookup_elem(&moq_credit, &slot);
	if (!seq || !cr)
		return MOQ_R_SUB_INACTIVE;
	v->job = hit && job;
	if (hit && job) {
		/* a job's clone carries no VLAN (moq_job_match) */
		__builtin_memcpy(&e->p, &job->p, sizeof(e->p));
		alias = job->alias;
		group = job->group;
		e->prio = job->prio;
	} else {
		/* the publisher's VLAN (hw-accel or in-packet) must not leak;
		 * the subscriber's own tag is pushed after the rewrite */
		if (skb->vlan_present || skb->protocol == bpf_htons(ETH_P_8021Q)) {
			if (bpf_skb_vlan_pop(skb))
				return MOQ_R_REWRITE_FAILED;
		}
		r = moq_egress_parse(skb, cfg, e, &alias, &group);
		if (r)
			return r;
	}
	/* the agent may have re-registered the slot since the clone was made */
	if (sub->family != e->p.flow.family)
		return MOQ_R_FAMILY_MISMATCH;
	if (!e->p.is_datagram) {
		dk->slot = slot;
		dk->conn_id = e->p.conn_id;
		dk->up_stream_id = e->p.stream_id;
	}
	/* subscription, stream mapping and stream credit: from the slot's
	 * cache line while no writer touched them since it was filled, else
	 * from the hash maps (moq_maps.h, moq_clone_cache) */
	cc = moq_cc_entry(slot, alias);
	v->hit = cc && moq_cc_get(cc, e->p.conn_id, alias, !e->p.is_datagram, e->p.stream_id, v);
	if (v->hit) {
		if (v->flags & MOQ_CC_F_STREAM)
			e->down_sid = v->down_sid;
	} else {
		v->gen = moq_cc_gen(cc);
		r = moq_egress_lookup(e, alias, dk, v);
		if (r)
			return r;
	}

	if (!e->p.is_datagram) {
		if (v->flags & MOQ_CC_F_STREAM) {
			if (v->flags & MOQ_CC_V_RESET)
				return MOQ_R_STREAM_RESET;
		} else if (e->p.offset != 0) {
			return MOQ_R_STREAM_UNMAPPED;
		} else if (group < v->start_group) {
			/* a stream of the group in progress at the join that
			 * starts after it: not in the subscriber's filter (a
			 * Next Group Start joiner would get half a group) */
			return MOQ_R_BEFORE_START;
		}
	} else if (e->p.group < v->start_group) {
		return MOQ_R_BEFORE_START;
	}
	/* never beyond the subscriber's stream credit: a spoofed frame at
	 * offset 2^40 would close its connection (FLOW_CONTROL_ERROR); the
	 * agent writes refused bytes when the credit allows */
	if (!e->p.is_datagram && cr->enabled &&
	    !moq_stream_credit_ok(cr, v, e->p.offset, e->p.data_len))
		return MOQ_R_STREAM_CREDIT;
	if (!moq_gate_pass(slot, e->prio, skb->len)) {
		if (!e->p.is_datagram) {
			ds = (v->flags & MOQ_CC_F_STREAM)
				 ? bpf_map_lookup_elem(&moq_down_streams, dk)
				 : 0;
			moq_mark_reset(dk, ds, e->p.offset);
			moq_cc_invalidate(moq_cc_entry(slot, alias));
		}
		return MOQ_R_GATE_DROP;
	}
	if (e->p.has_moq_hdr && v->sub_alias != e->p.alias) {
		if (moq_vi64_encode_width(rb->alias, v->sub_alias, e->p.alias_len)) {
			moq_gate_refund(slot, skb->len);
			return MOQ_R_ALIAS_WIDTH;
		}
		alias_patch = 1;
	}
	if (!e->p.is_datagram && !(v->flags & MOQ_CC_F_STREAM)) {
		struct moq_down_stream nd = {};
		__u64 n, max = seq->max_uni;

		/* 4-byte varint ids: 4n+3 < 2^30 */
		if (!max || max > (1ull << 28))
			max = 1ull << 28;
		n = __sync_fetch_and_add(&seq->next_uni, 1);
		if (n >= max)
			return MOQ_R_STREAM_LIMIT;
		nd.stream_id = 4 * n + 3;
		if (bpf_map_update_elem(&moq_down_streams, dk, &nd, BPF_NOEXIST)) {
			/* another CPU mapped it first: use theirs (n is lost;
			 * the agent sees the gap in the events) */
			ds = bpf_map_lookup_elem(&moq_down_streams, dk);
			if (!ds)
				return MOQ_R_STREAM_LIMIT;
			nd.stream_id = ds->stream_id;
		}
		e->down_sid = nd.stream_id;
		v->down_sid = (__u32)nd.stream_id;
		v->flags |= MOQ_CC_F_STREAM;
	}
	/* connection credit: stream bytes (datagrams are not flow
	 * controlled); the stream is opened already, so the agent, which
	 * learns its id from the event, fills what is refused */
	if (!e->p.is_datagram && cr->enabled && !moq_conn_credit_take(cr, e->p.data_len)) {
		moq_gate_refund(slot, skb->len);
		return MOQ_R_CONN_CREDIT;
	}
	/* packet number last: nothing fails between taking it and sending */
	e->pn = __sync_fetch_and_add(&seq->next_pn, 1);
	r = moq_rewrite(skb, &e->p, sub, e->pn, e->down_sid, rb, alias_patch);
	if (r) {
		if (!e->p.is_datagram && cr->enabled)
			__sync_fetch_and_add(&cr->conn, (__s64)e->p.data_len);
		return r;
	}
	if (sub->vlan_id)
		bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), sub->vlan_id);
	/* a plaintext job clone's send time (a TLS clone is sealed first,
	 * ~6 us: it reads the clock when it is done) */
	if (v->job && !e->tls) {
		job = bpf_map_lookup_elem(&moq_fanout_job, &z);
		if (job)
			v->sent_ns = moq_job_clock(job);
	}
	/* a forwarded clone's view is complete (the stream mapped, not
	 * reset): the next clone of the slot finds it in one cache line */
	if (!v->hit) {
		cc = moq_cc_entry(slot, alias);
		if (cc)
			moq_cc_fill(cc, v->gen, e->p.conn_id, alias, !e->p.is_datagram,
				    e->p.stream_id, v);
	}
	*forward = 1;
	return MOQ_R_FORWARDED;
}

/* Sent log (moq_maps.h, struct moq_sent_log): reserve the next index while
 * the agent has read far enough; NULL when the log is full. A few tries:
 * a lost race means another CPU took the index, not that the log is full. */
static __always_inline struct moq_sent_ent *moq_log_reserve(struct moq_sent_log *l, __u64 *idx)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u64 h = *(volatile __u64 *)&l->head, t = *(volatile __u64 *)&l->tail;

		if (h - t >= MOQ_SENT_LOG_ENTRIES)
			return 0;
		if (__sync_val_compare_and_swap(&l->head, h, h + 1) == h) {
			*idx = h;
			return &l->ent[h & (MOQ_SENT_LOG_ENTRIES - 1)];
		}
	}
	return 0;
}

/* Fills a reserved entry and publishes it (seq last, with an atomic add:
 * the reader never sees a half-written entry). */
static __always_inline void moq_log_publish(struct moq_sent_ent *l, struct moq_egress *e,
					    __u32 wire_len, int forwarded)
{
	struct moq_rw_buf *rb;
	__u32 z = 0;

	/* a job clone's time from moq_job_clock, set by moq_egress_clone
	 * for this clone (0 otherwise) */
	rb = bpf_map_lookup_elem(&moq_rw_buf, &z);
	l->ts_ns = forwarded && rb && rb->cc.sent_ns ? rb->cc.sent_ns : bpf_ktime_get_ns();
	l->pn = e->pn;
	if (e->p.is_datagram) {
		l->up_stream_id = e->p.alias;
		l->down_stream_id = e->p.subgroup; /* object id */
		l->offset = e->p.group;
	} else {
		l->up_stream_id = e->p.stream_id;
		l->down_stream_id = e->down_sid;
		l->offset = e->p.offset;
	}
	l->conn_id = e->p.conn_id;
	l->data_len = e->p.data_len;
	l->wire_len = wire_len;
	l->fin = e->p.fin;
	l->kind = !forwarded	     ? MOQ_SENT_KIND_VOID
		  : e->p.is_datagram ? MOQ_SENT_KIND_DATAGRAM
				     : MOQ_SENT_KIND_STREAM;
	l->pad0 = 0;
	/* index i's entry held lap i / N (0 before the first lap): the add
	 * makes it i / N + 1, the reader's sign that entry i is complete */
	__sync_fetch_and_add(&l->seq, 1);
}

/* Give back what a clone that was rewritten but does not leave took:
 * gate budget and connection credit (its packet number is lost: the
 * agent sees the void sent-log entry). */
static __always_inline void moq_egress_refund(struct moq_egress *e, __u32 gate_len)
{
	struct moq_credit *cr = bpf_map_lookup_elem(&moq_credit, &e->slot);

	moq_gate_refund(e->slot, gate_len);
	if (cr && cr->enabled && !e->p.is_datagram)
		__sync_fetch_and_add(&cr->conn, (__s64)e->p.data_len);
}

/* The end of every clone: sent log, exception event, per-slot counters.
 * Returns the tc verdict. */
static __always_inline int moq_egress_finish(struct __sk_buff *skb, struct moq_egress *e,
					     struct moq_sent_ent *ent, int forward, int reason)
{
	struct moq_sub_stats *ss;
	__u32 len = skb->len;

	if (ent)
		moq_log_publish(ent, e, len, forward);
	if (!forward)
		moq_emit_event(e, reason, len, 0);
	ss = bpf_map_lookup_elem(&moq_sub_stats, &e->slot);
	if (ss) {
		if (forward) {
			ss->tx_packets += 1;
			ss->tx_bytes += len;
		} else {
			ss->drop_packets += 1;
			ss->drop_bytes += len;
		}
	}
	return forward ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Returns the tc verdict for a packet leaving towards a subscriber, and in
 * *reason why. A forwarded clone is recorded in the slot's sent log; a
 * clone that is not forwarded writes a moq_event (exception). A TLS
 * slot's clone continues in the seal program (moq_seal_job). */
static __always_inline int moq_subscriber_tx(struct __sk_buff *skb, int *reason)
{
	struct moq_egress e = {};
	struct moq_sent_log *log;
	struct moq_sent_ent *ent = 0;
	__u32 mark = skb->mark, z = 0, gate_len;
	__u64 idx = 0;
	int forward = 0;

	*reason = MOQ_R_NOT_MARKED;
	if ((mark & MOQ_MARK_MAGIC_MASK) != MOQ_MARK_MAGIC)
		return TC_ACT_OK; /* ARP, the agent's own packets, ...: untouched */
	skb->mark = 0;
	e.slot = mark & MOQ_MARK_SLOT_MASK;
	e.down_sid = MOQ_DS_NONE;
	/* The log entry first, so a full log costs no packet number, gate
	 * budget or stream mapping: the agent sends those bytes. */
	log = bpf_map_lookup_elem(&moq_sent_log, &e.slot);
	if (log)
		ent = moq_log_reserve(log, &idx);
	if (!ent) {
		*reason = log ? MOQ_R_LOG_FULL : MOQ_R_SUB_INACTIVE;
	} else {
		/* A clone that is not fully rewritten must never leave: drop
		 * unless the rewrite completes (the original went to the
		 * agent). */
		gate_len = skb->len;
		*reason = moq_egress_clone(skb, &e, &forward);
		if (forward && e.tls) {
			struct moq_seal_job *job = bpf_map_lookup_elem(&moq_seal_job, &z);

			if (job) {
				__builtin_memcpy(&job->e, &e, sizeof(e));
				job->log_idx = idx;
				job->has_log = 1;
				job->l4_off = e.p.flow.l4_off;
				job->quic_len = e.p.tag_off + MOQ_TAG_LEN - (e.p.flow.l4_off + 8);
				job->gate_len = gate_len;
				bpf_tail_call(skb, &moq_seal_prog, 0);
			}
			/* no seal program (no agent since the attach): never
			 * unsealed */
			moq_egress_refund(&e, gate_len);
			forward = 0;
			*reason = MOQ_R_NO_KEYS;
		}
	}
	return moq_egress_finish(skb, &e, ent, forward, *reason);
}

/* The seal program's body (tail-called for a TLS slot's rewritten clone,
 * see struct moq_seal_job): seal with the slot's tx keys, then finish the
 * clone like moq_subscriber_tx. */
static __always_inline int moq_subscriber_seal_job(struct __sk_buff *skb, int *reason)
{
	struct moq_seal_job *job;
	struct moq_sent_log *log;
	struct moq_sent_ent *ent = 0;
	struct moq_keyset *keys;
	struct moq_egress *e;
	__u32 z = 0;
	int forward = 0;

	*reason = MOQ_R_NO_KEYS;
	job = bpf_map_lookup_elem(&moq_seal_job, &z);
	if (!job)
		return TC_ACT_SHOT;
	e = &job->e;
	log = bpf_map_lookup_elem(&moq_sent_log, &e->slot);
	if (log && job->has_log)
		ent = &log->ent[job->log_idx & (MOQ_SENT_LOG_ENTRIES - 1)];
	job->has_log = 0;
	/* the keys may have been wiped since the egress program looked */
	keys = moq_keys_sub(e->slot);
	if (keys &&
	    !moq_aead_seal_udp(skb, keys, job->l4_off, MOQ_SHORT_HDR_LEN, job->quic_len, e->pn)) {
		forward = 1;
		*reason = MOQ_R_FORWARDED;
	} else {
		/* with keys: a clone longer than the sealer takes (jumbo
		 * frames) or a failed crypto call, not a key problem */
		if (keys)
			*reason = MOQ_R_SEAL_FAILED;
		moq_egress_refund(e, job->gate_len);
	}
	return moq_egress_finish(skb, e, ent, forward, *reason);
}

#endif
