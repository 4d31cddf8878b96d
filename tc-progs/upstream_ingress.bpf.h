/* Upstream ingress (publisher-facing, tc ingress): classify a publisher's
 * media packet and fan out one clone per subscriber of its track, each
 * marked with the subscriber's slot for the egress program. The original
 * goes on to the agent; a TLS publisher's packet is opened first
 * (lib/upstream_open.h) and gets its own bytes back afterwards. */
#ifndef MOQ_UPSTREAM_INGRESS_BPF_H
#define MOQ_UPSTREAM_INGRESS_BPF_H

#include "bpf_common.h"
#include "maps.bpf.h"
#include "stats.h"
#include "failsafe.h"
#include "parse_packet.h"
#include "subscriber.h"
#include "upstream_open.h"
#include "fanout_job.h"

struct moq_fanout_ctx {
	struct __sk_buff *skb;
	struct moq_track_subs *subs;
	__u32 generation;
	__u32 family;
	__u32 sent;
	__u32 len;
	/* identity for a clone-failure event (struct moq_event conventions) */
	__u64 ev_up, ev_down, ev_off;
	__u32 conn_id, data_len;
	__u8 kind, fin;
	__u8 pad0[6];
};

/* The egress program ran for a clone (it took a packet number and wrote a
 * FORWARDED event) but the device refused it: tell the agent, which sends
 * those bytes itself. */
static __always_inline void moq_clone_failed_event(struct moq_fanout_ctx *f, __u32 slot)
{
	struct moq_event *ev = bpf_ringbuf_reserve(&moq_events, sizeof(*ev), 0);

	if (!ev) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_EVENT_LOST, f->len);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->up_stream_id = f->ev_up;
	ev->down_stream_id = f->ev_down;
	ev->offset = f->ev_off;
	ev->slot = slot;
	ev->conn_id = f->conn_id;
	ev->data_len = f->data_len;
	ev->wire_len = f->len;
	ev->fin = f->fin;
	ev->verdict = MOQ_V_DROPPED;
	ev->reason = MOQ_R_REDIRECT_FAILED;
	ev->kind = f->kind;
	ev->prog = MOQ_PROG_UPSTREAM_INGRESS;
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP); /* the agent polls */
}

/* One subscriber per iteration. bpf_loop instead of a bounded for-loop: the
 * callback verifies once, whatever the subscriber count (a bounded loop
 * over clone_redirect blows the 1M-instruction limit past ~64). */
static long moq_fanout_one(__u64 i, void *data)
{
	struct moq_fanout_ctx *f = data;
	struct moq_subscriber *sub;
	__u32 slot, mtu_len = 0;
	__u64 idx = i;

	if (idx >= MOQ_MAX_FANOUT)
		return 1;
	slot = f->subs->slots[idx];
	sub = bpf_map_lookup_elem(&moq_subscribers, &slot);
	if (!moq_sub_live(sub, f->generation)) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_SUB_INACTIVE, f->len);
		return 0;
	}
	if (sub->family != f->family) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FAMILY_MISMATCH, f->len);
		return 0;
	}
	/* no MAC yet (neither set by the agent nor learned): the clone could
	 * not be addressed */
	if (!moq_sub_has_l2(sub)) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_NO_L2, f->len);
		return 0;
	}
	/* veth drops an oversized clone silently: check first */
	if (bpf_check_mtu(f->skb, sub->ifindex, &mtu_len, 0, 0)) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_MTU, f->len);
		return 0;
	}
	f->skb->mark = MOQ_MARK_MAGIC | (slot & MOQ_MARK_SLOT_MASK);
	if (bpf_clone_redirect(f->skb, sub->ifindex, 0)) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_REDIRECT_FAILED, f->len);
		moq_clone_failed_event(f, slot);
		return 0;
	}
	f->sent++;
	return 0;
}

/* Classifies a plaintext-profile packet (a TLS one after it was opened:
 * how has MOQ_PARSE_PN_DONE) and fans it out. Returns the reason. Not
 * inlined: its stack and the TLS opener's are never live together. */
static __noinline int moq_upstream_fanout(struct __sk_buff *skb, const struct moq_config *cfg,
					  int how)
{
	struct moq_pkt p = {};
	struct moq_up_stream_key sk = {};
	struct moq_up_stream *st;
	struct moq_track_key tk = {};
	struct moq_track_subs *subs;
	struct moq_fanout_ctx f = {};
	struct moq_fanout_job *job;
	__u32 mark = skb->mark;
	/* what the clones find for the packet: the job carries it */
	__u64 j_alias, j_group;
	__u8 j_prio;
	int r;

	r = moq_parse_packet(skb, cfg, &p, how);
	if (r)
		return r;
	j_alias = p.alias;
	j_group = p.group;
	j_prio = p.prio;
	if (p.is_datagram) {
		tk.track_alias = p.alias;
	} else {
		sk.conn_id = p.conn_id;
		sk.stream_id = p.stream_id;
		if (p.offset == 0) {
			struct moq_up_stream ns = {
			    .track_alias = p.alias,
			    .group = p.group,
			    .subgroup = p.subgroup,
			    .priority = p.prio,
			    .hdr_type = p.moq_type,
			    .hdr_len = p.moq_hdr_len,
			};

			if (!p.has_prio) {
				struct moq_track_key dk = {
				    .conn_id = p.conn_id,
				    .track_alias = p.alias,
				};
				struct moq_track_subs *ds = bpf_map_lookup_elem(&moq_tracks, &dk);

				ns.priority = ds ? ds->default_priority : 128;
			}
			/* state only for a new stream id, never overwritten: a
			 * start seen again (retransmission) must say what the
			 * first one said, and an injected one cannot replace a
			 * live stream's state */
			j_prio = ns.priority;
			if (bpf_map_update_elem(&moq_up_streams, &sk, &ns, BPF_NOEXIST)) {
				st = bpf_map_lookup_elem(&moq_up_streams, &sk);
				if (!st || st->track_alias != ns.track_alias ||
				    st->group != ns.group || st->subgroup != ns.subgroup ||
				    st->hdr_type != ns.hdr_type || st->hdr_len != ns.hdr_len)
					return MOQ_R_HEADER_MISMATCH;
				j_prio = st->priority; /* the first start's */
			}
			tk.track_alias = p.alias;
		} else {
			st = bpf_map_lookup_elem(&moq_up_streams, &sk);
			if (!st)
				return MOQ_R_STREAM_START_UNSEEN;
			tk.track_alias = st->track_alias;
			j_alias = st->track_alias;
			j_group = st->group;
			j_prio = st->priority;
		}
	}
	tk.conn_id = p.conn_id;
	subs = bpf_map_lookup_elem(&moq_tracks, &tk);
	if (!subs || !subs->count)
		return MOQ_R_NO_SUBSCRIBERS;
	f.skb = skb;
	f.subs = subs;
	f.generation = cfg->generation;
	f.family = p.flow.family;
	f.len = skb->len;
	f.conn_id = p.conn_id;
	f.data_len = p.data_len;
	f.fin = p.fin;
	if (p.is_datagram) {
		f.kind = MOQ_EV_KIND_DATAGRAM;
		f.ev_up = p.alias;
		f.ev_down = p.subgroup; /* object id */
		f.ev_off = p.group;
	} else {
		f.kind = MOQ_EV_KIND_STREAM;
		f.ev_up = p.stream_id;
		f.ev_down = MOQ_DS_NONE;
		f.ev_off = p.offset;
	}
	/* what the egress program finds in moq_tracks: subs */
	if (p.is_datagram && !p.has_prio)
		j_prio = subs->default_priority;
	job = moq_job_start(skb, &p, j_alias, j_group, j_prio);
	bpf_loop(subs->count < MOQ_MAX_FANOUT ? subs->count : MOQ_MAX_FANOUT, moq_fanout_one, &f,
		 0);
	if (job)
		job->live = 0;
	skb->mark = mark; /* the original goes on to the agent unchanged */
	return f.sent ? MOQ_R_FORWARDED : MOQ_R_NO_SUBSCRIBERS;
}

/* The TLS path's ending: the packet (opened and fanned out, or refused
 * half way) gets its own bytes back and goes to the agent. After a
 * fan-out it is redirected to this hook's ingress (back with
 * MOQ_MARK_PASS, passed untouched), so it queues behind the subscribers'
 * copies instead of the agent's socket delivery running first. */
static __always_inline int moq_upstream_to_agent(struct __sk_buff *skb, int *reason)
{
	if (moq_upstream_restore(skb)) {
		*reason = MOQ_R_PASS_COPY_FAILED;
		return TC_ACT_SHOT;
	}
	if (*reason != MOQ_R_FORWARDED)
		return TC_ACT_OK;
	skb->mark = MOQ_MARK_PASS;
	return (int)bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* Returns the reason the packet was (not) fanned out; *act: the verdict
 * when the TLS path took the packet, else TC_ACT_UNSPEC (the caller
 * decides). */
static __always_inline int moq_upstream(struct __sk_buff *skb, int *act)
{
	struct moq_config *cfg;
	int r, how = MOQ_PARSE_VALIDATE;

	*act = TC_ACT_UNSPEC;
	/* the agent's copy of a TLS packet, back from bpf_redirect */
	if ((skb->mark & MOQ_MARK_MAGIC_MASK) == MOQ_MARK_PASS) {
		skb->mark = 0;
		return MOQ_R_PASS_COPY;
	}
	cfg = moq_config_live();
	if (!cfg)
		return MOQ_R_STALE_AGENT;
	r = moq_upstream_open(skb, (__u64)cfg->generation << 32 | (__u32)cfg->relay_port_be << 16 |
				       cfg->up_port_be);
	if (r == MOQ_OPEN_PLAIN)
		return moq_upstream_fanout(skb, cfg, how);
	if (!(r & MOQ_OPEN_RESTORE))
		return MOQ_OPEN_REASON(r);
	r = MOQ_OPEN_REASON(r);
	if (!r)
		r = moq_upstream_fanout(skb, cfg, how | MOQ_PARSE_PN_DONE);
	*act = moq_upstream_to_agent(skb, &r);
	return r;
}

#endif
