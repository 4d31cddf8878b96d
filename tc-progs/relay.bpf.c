/* moq-relay fast path: tc BPF programs (docs/fast-path.md).
 *
 * One object, several sections, all maps pinned by name so every
 * `tc filter add ... obj relay.bpf.o sec S` shares them:
 *   tc/upstream_ingress    publisher-facing ingress: classify, fan out clones
 *   tc/subscriber_egress   subscriber-facing egress: gate + rewrite clones
 *   tc/subscriber_ingress  subscriber-facing ingress: counters, L2 learning
 *   tc/relay_ingress       one interface for both roles: upstream_ingress,
 *                          then subscriber_ingress for non-upstream packets
 * Every entry point returns TC_ACT_OK for everything that is not a
 * fast-path clone; only the egress program drops (clones it must not send).
 */
#include "bpf_common.h"
#include "maps.bpf.h"
#include "stats.h"
#include "failsafe.h"
#include "parse_packet.h"
#include "csum_patch.h"
#include "moq_vi64_encode.h"

char LICENSE[] SEC("license") = "GPL";

/* ------------------------------------------------------------------------ */
/* Upstream ingress                                                         */

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
	if (!sub || !(sub->flags & MOQ_SUB_F_ACTIVE) || sub->generation != f->generation) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_SUB_INACTIVE, f->len);
		return 0;
	}
	if (sub->family != f->family) {
		moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FAMILY_MISMATCH, f->len);
		return 0;
	}
	/* no MAC yet (neither set by the agent nor learned): the clone could
	 * not be addressed */
	if (!(sub->eth_dst[0] | sub->eth_dst[1] | sub->eth_dst[2] | sub->eth_dst[3] |
	      sub->eth_dst[4] | sub->eth_dst[5])) {
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

/* Returns the reason the packet was (not) fanned out. */
static __always_inline int moq_upstream(struct __sk_buff *skb)
{
	struct moq_config *cfg;
	struct moq_pkt p = {};
	struct moq_up_stream_key sk = {};
	struct moq_up_stream *st;
	struct moq_track_key tk = {};
	struct moq_track_subs *subs;
	struct moq_fanout_ctx f = {};
	__u32 mark = skb->mark;
	int r;

	cfg = moq_config_live();
	if (!cfg)
		return MOQ_R_STALE_AGENT;
	r = moq_parse_packet(skb, cfg, &p, 1);
	if (r)
		return r;
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
			bpf_map_update_elem(&moq_up_streams, &sk, &ns, BPF_ANY);
			tk.track_alias = p.alias;
		} else {
			st = bpf_map_lookup_elem(&moq_up_streams, &sk);
			if (!st)
				return MOQ_R_STREAM_START_UNSEEN;
			tk.track_alias = st->track_alias;
		}
	}
	tk.conn_id = p.conn_id;
	subs = bpf_map_lookup_elem(&moq_tracks, &tk);
	if (!subs || !subs->count)
		return MOQ_R_NO_SUBSCRIBERS;
	f.skb = skb;
	f.subs = subs;
	f.generation = cfg->generation;
	f.family = p.family;
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
	bpf_loop(subs->count < MOQ_MAX_FANOUT ? subs->count : MOQ_MAX_FANOUT, moq_fanout_one, &f,
		 0);
	skb->mark = mark; /* the original goes on to the agent unchanged */
	return f.sent ? MOQ_R_FORWARDED : MOQ_R_NO_SUBSCRIBERS;
}

SEC("tc/upstream_ingress")
int moq_upstream_ingress(struct __sk_buff *skb)
{
	int ret = TC_ACT_OK;
	__u32 len = skb->len;
	int reason;

	reason = moq_upstream(skb);
	goto out;
out:
	moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, reason, len);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Subscriber ingress: counters and L2 learning for registered subscribers  */

static __always_inline int moq_subscriber_rx(struct __sk_buff *skb)
{
	struct moq_cursor c = {.off = 0, .end = skb->len};
	struct moq_subscriber *sub;
	struct moq_sub_stats *ss;
	struct moq_config *cfg;
	struct ethhdr eth;
	__u8 saddr[16] = {}, daddr[16] = {};
	__u16 sport_be = 0;
	__u32 ip_pay = 0;
	__u8 vlan, first;
	struct moq_cid dcid;
	__u32 *slotp, slot;
	int proto, r;

	cfg = moq_config_live();
	if (!cfg)
		return MOQ_R_STALE_AGENT;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return MOQ_R_TRUNCATED;
	proto = moq_parse_eth(skb, &c, &vlan);
	if (proto == bpf_htons(ETH_P_IP))
		r = moq_parse_ipv4(skb, &c, saddr, daddr, &ip_pay);
	else if (proto == bpf_htons(ETH_P_IPV6))
		r = moq_parse_ipv6(skb, &c, saddr, daddr, &ip_pay);
	else
		return proto < 0 ? MOQ_R_TRUNCATED : MOQ_R_NOT_IP;
	if (r)
		return r;
	r = moq_parse_udp(skb, &c, cfg->relay_port_be, ip_pay, &sport_be);
	if (r)
		return r;
	/* any short-header packet with a known relay CID; the profile checks
	 * (PN length, tag) do not matter for counting */
	if (c.end - c.off < 1 + MOQ_CID_LEN || bpf_skb_load_bytes(skb, c.off, &first, 1))
		return MOQ_R_TRUNCATED;
	if (first & 0x80)
		return MOQ_R_LONG_HEADER;
	if (bpf_skb_load_bytes(skb, c.off + 1, &dcid, sizeof(dcid)))
		return MOQ_R_TRUNCATED;
	slotp = bpf_map_lookup_elem(&moq_sub_by_cid, &dcid);
	if (!slotp)
		return MOQ_R_SUB_UNKNOWN;
	slot = *slotp;
	sub = bpf_map_lookup_elem(&moq_subscribers, &slot);
	/* never creates a subscriber: only an active, current-generation
	 * entry the agent registered is updated */
	if (!sub || !(sub->flags & MOQ_SUB_F_ACTIVE) || sub->generation != cfg->generation)
		return MOQ_R_SUB_UNKNOWN;
	if (sport_be != sub->dport_be)
		return MOQ_R_WRONG_SOURCE;
	if (sub->family == MOQ_AF_INET ? !moq_bytes_eq(saddr, sub->daddr, 4)
				       : !moq_bytes_eq(saddr, sub->daddr, 16))
		return MOQ_R_WRONG_SOURCE;
	/* learn: the subscriber's MAC is the source, the relay's the dest */
	if (!moq_bytes_eq(sub->eth_dst, eth.h_source, ETH_ALEN) ||
	    !moq_bytes_eq(sub->eth_src, eth.h_dest, ETH_ALEN) ||
	    !(sub->flags & MOQ_SUB_F_L2_LEARNED)) {
		__builtin_memcpy(sub->eth_dst, eth.h_source, ETH_ALEN);
		__builtin_memcpy(sub->eth_src, eth.h_dest, ETH_ALEN);
		__sync_fetch_and_or(&sub->flags, MOQ_SUB_F_L2_LEARNED);
	}
	ss = bpf_map_lookup_elem(&moq_sub_stats, &slot);
	if (ss) {
		ss->rx_packets += 1;
		ss->rx_bytes += skb->len;
	}
	return MOQ_R_SUB_RX;
}

SEC("tc/subscriber_ingress")
int moq_subscriber_ingress(struct __sk_buff *skb)
{
	int ret = TC_ACT_OK;
	__u32 len = skb->len;
	int reason;

	reason = moq_subscriber_rx(skb);
	goto out;
out:
	moq_stat_count(MOQ_PROG_SUBSCRIBER_INGRESS, reason, len);
	return ret;
}

SEC("tc/relay_ingress")
int moq_relay_ingress(struct __sk_buff *skb)
{
	int ret = TC_ACT_OK;
	__u32 len = skb->len;
	int reason;

	reason = moq_upstream(skb);
	moq_stat_count(MOQ_PROG_UPSTREAM_INGRESS, reason, len);
	/* not an upstream's DCID, or failed a profile check before the DCID
	 * lookup: it may be a subscriber's packet */
	if (reason != MOQ_R_UNKNOWN_DCID && reason != MOQ_R_PN_LEN && reason != MOQ_R_HEADER_BITS &&
	    reason != MOQ_R_NOT_PLAINTEXT)
		goto out;
	reason = moq_subscriber_rx(skb);
	moq_stat_count(MOQ_PROG_SUBSCRIBER_INGRESS, reason, len);
	goto out;
out:
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Subscriber egress                                                        */

struct moq_egress {
	struct moq_pkt p;
	__u64 pn;
	__u64 down_sid;
	__u32 slot;
	__u8 prio;
	__u8 pad0[3];
};

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

struct moq_zero_range {
	struct __sk_buff *skb;
	__u32 l4;
	__u32 pos;
	__u32 end;
	__u32 bad;
};

/* Zeroes one window of [pos, end) per iteration. */
static long moq_zero_window(__u64 i, void *data)
{
	struct moq_zero_range *z = data;
	__u32 n;

	if (z->pos >= z->end)
		return 1;
	n = 16 - ((z->pos - z->l4) & 1);
	if (n > z->end - z->pos)
		n = z->end - z->pos;
	if (moq_csum_patch(z->skb, z->l4, z->pos, 0, n, 1)) {
		z->bad = 1;
		return 1;
	}
	z->pos += n;
	return 0;
}

/* Rewrites the clone for subscriber sub. Returns 0 or a moq_reason. */
static __always_inline int moq_rewrite(struct __sk_buff *skb, struct moq_egress *e,
				       const struct moq_subscriber *sub, const __u8 *alias_buf,
				       int alias_patch)
{
	struct moq_pkt *p = &e->p;
	__u32 l4 = p->l4_off;
	__u8 buf[16], old[32];
	__s64 d;
	__u32 v;

	/* Ethernet: no checksum */
	__builtin_memcpy(buf, sub->eth_dst, 6);
	__builtin_memcpy(buf + 6, sub->eth_src, 6);
	if (bpf_skb_store_bytes(skb, 0, buf, 12, 0))
		return MOQ_R_REWRITE_FAILED;

	/* IP addresses: l3 checksum (IPv4) and the UDP pseudo header */
	if (p->family == MOQ_AF_INET) {
		__u8 new[8];

		if (bpf_skb_load_bytes(skb, p->l3_off + 12, old, 8))
			return MOQ_R_REWRITE_FAILED;
		__builtin_memcpy(new, sub->saddr, 4);
		__builtin_memcpy(new + 4, sub->daddr, 4);
		d = bpf_csum_diff((__be32 *)old, 8, (__be32 *)new, 8, 0);
		if (d < 0 || bpf_skb_store_bytes(skb, p->l3_off + 12, new, 8, 0))
			return MOQ_R_REWRITE_FAILED;
		if (bpf_l3_csum_replace(skb, p->l3_off + 10, 0, d, 0))
			return MOQ_R_REWRITE_FAILED;
		if (bpf_l4_csum_replace(skb, l4 + 6, 0, d, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
			return MOQ_R_REWRITE_FAILED;
	} else {
		__u8 new[32];

		if (bpf_skb_load_bytes(skb, p->l3_off + 8, old, 32))
			return MOQ_R_REWRITE_FAILED;
		__builtin_memcpy(new, sub->saddr, 16);
		__builtin_memcpy(new + 16, sub->daddr, 16);
		d = bpf_csum_diff((__be32 *)old, 32, (__be32 *)new, 32, 0);
		if (d < 0 || bpf_skb_store_bytes(skb, p->l3_off + 8, new, 32, 0))
			return MOQ_R_REWRITE_FAILED;
		if (bpf_l4_csum_replace(skb, l4 + 6, 0, d, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
			return MOQ_R_REWRITE_FAILED;
	}

	/* UDP ports */
	__builtin_memcpy(buf, &sub->sport_be, 2);
	__builtin_memcpy(buf + 2, &sub->dport_be, 2);
	if (bpf_skb_load_bytes(skb, l4, old, 4))
		return MOQ_R_REWRITE_FAILED;
	d = bpf_csum_diff((__be32 *)old, 4, (__be32 *)buf, 4, 0);
	if (d < 0 || bpf_skb_store_bytes(skb, l4, buf, 4, 0))
		return MOQ_R_REWRITE_FAILED;
	if (bpf_l4_csum_replace(skb, l4 + 6, 0, d, BPF_F_MARK_MANGLED_0))
		return MOQ_R_REWRITE_FAILED;

	/* DCID (8) and the 4-byte packet number: 12 bytes at l4+9, one
	 * window (l4+8 .. l4+24) */
	__builtin_memset(buf, 0, sizeof(buf));
	__builtin_memcpy(buf, sub->dcid, MOQ_CID_LEN);
	v = bpf_htonl((__u32)e->pn);
	__builtin_memcpy(buf + MOQ_CID_LEN, &v, 4);
	if (moq_csum_patch(skb, l4, l4 + 8 + 1, buf, MOQ_CID_LEN + 4, 0))
		return MOQ_R_REWRITE_FAILED;

	/* PADDING/ACK prefix -> all PADDING (ACKs are the upstream's, not
	 * the subscriber's). The ingress program refused prefixes over
	 * MOQ_MAX_PREFIX_BYTES; bpf_loop because a bounded loop of helper
	 * calls here exceeded the verifier's budget. */
	if (p->pay_off < p->media_off) {
		struct moq_zero_range z = {
		    .skb = skb, .l4 = l4, .pos = p->pay_off, .end = p->media_off};

		bpf_loop(MOQ_ZERO_WINDOWS, moq_zero_window, &z, 0);
		if (z.bad || z.pos < z.end)
			return MOQ_R_REWRITE_FAILED;
	}

	/* stream id: 4-byte QUIC varint, prefix 0b10 */
	if (!p->is_datagram) {
		__builtin_memset(buf, 0, sizeof(buf));
		v = bpf_htonl(0x80000000u | (__u32)e->down_sid);
		__builtin_memcpy(buf, &v, 4);
		if (moq_csum_patch(skb, l4, p->sid_off, buf, 4, 0))
			return MOQ_R_REWRITE_FAILED;
	}
	/* track alias in the SUBGROUP_HEADER / OBJECT_DATAGRAM, same width */
	if (alias_patch && moq_csum_patch(skb, l4, p->alias_off, alias_buf, p->alias_len, 0))
		return MOQ_R_REWRITE_FAILED;
	return 0;
}

/* Returns the reason; *forward = 1 when the clone may leave. */
static __always_inline int moq_egress_clone(struct __sk_buff *skb, struct moq_egress *e,
					    int *forward)
{
	struct moq_down_stream_key dk = {};
	struct moq_down_stream *ds = 0;
	struct moq_subscription_key bk = {};
	struct moq_subscription *bs;
	struct moq_subscriber *sub;
	struct moq_config *cfg;
	struct moq_conn_seq *seq;
	__u8 alias_buf[16] = {};
	int alias_patch = 0, r;
	__u64 alias, group = 0;
	__u32 slot = e->slot;

	cfg = moq_config_live();
	if (!cfg)
		return MOQ_R_STALE_AGENT;
	sub = bpf_map_lookup_elem(&moq_subscribers, &slot);
	if (!sub || !(sub->flags & MOQ_SUB_F_ACTIVE) || sub->generation != cfg->generation)
		return MOQ_R_SUB_INACTIVE;
	if (!(sub->eth_dst[0] | sub->eth_dst[1] | sub->eth_dst[2] | sub->eth_dst[3] |
	      sub->eth_dst[4] | sub->eth_dst[5]))
		return MOQ_R_NO_L2;
	seq = bpf_map_lookup_elem(&moq_conn_seq, &slot);
	if (!seq)
		return MOQ_R_SUB_INACTIVE;
	/* the publisher's VLAN (hw-accel or in-packet) must not leak; the
	 * subscriber's own tag is pushed after the rewrite */
	if (skb->vlan_present || skb->protocol == bpf_htons(ETH_P_8021Q)) {
		if (bpf_skb_vlan_pop(skb))
			return MOQ_R_REWRITE_FAILED;
	}
	r = moq_parse_packet(skb, cfg, &e->p, 0);
	if (r)
		return r;
	/* the agent may have re-registered the slot since the clone was made */
	if (sub->family != e->p.family)
		return MOQ_R_FAMILY_MISMATCH;
	if (e->p.is_datagram) {
		alias = e->p.alias;
		if (e->p.has_prio) {
			e->prio = e->p.prio;
		} else {
			struct moq_track_key tk = {.conn_id = e->p.conn_id, .track_alias = alias};
			struct moq_track_subs *t = bpf_map_lookup_elem(&moq_tracks, &tk);

			e->prio = t ? t->default_priority : 128;
		}
	} else {
		struct moq_up_stream_key sk = {.conn_id = e->p.conn_id,
					       .stream_id = e->p.stream_id};
		struct moq_up_stream *st = bpf_map_lookup_elem(&moq_up_streams, &sk);

		if (!st)
			return MOQ_R_STREAM_START_UNSEEN;
		alias = st->track_alias;
		e->prio = st->priority;
		group = st->group;
	}
	bk.slot = slot;
	bk.conn_id = e->p.conn_id;
	bk.track_alias = alias;
	bs = bpf_map_lookup_elem(&moq_subscriptions, &bk);
	if (!bs)
		return MOQ_R_NO_SUBSCRIPTION;

	if (!e->p.is_datagram) {
		dk.slot = slot;
		dk.conn_id = e->p.conn_id;
		dk.up_stream_id = e->p.stream_id;
		ds = bpf_map_lookup_elem(&moq_down_streams, &dk);
		if (ds) {
			e->down_sid = ds->stream_id;
			if (ds->flags & MOQ_DS_F_RESET)
				return MOQ_R_STREAM_RESET;
		} else if (e->p.offset != 0) {
			return MOQ_R_STREAM_UNMAPPED;
		} else if (group < bs->start_group) {
			/* a stream of the group in progress at the join that
			 * starts after it: not in the subscriber's filter (a
			 * Next Group Start joiner would get half a group) */
			return MOQ_R_BEFORE_START;
		}
	} else if (e->p.group < bs->start_group) {
		return MOQ_R_BEFORE_START;
	}
	if (!moq_gate_pass(slot, e->prio, skb->len)) {
		if (!e->p.is_datagram)
			moq_mark_reset(&dk, ds, e->p.offset);
		return MOQ_R_GATE_DROP;
	}
	if (e->p.has_moq_hdr && bs->track_alias != e->p.alias) {
		if (moq_vi64_encode_width(alias_buf, bs->track_alias, e->p.alias_len))
			return MOQ_R_ALIAS_WIDTH;
		alias_patch = 1;
	}
	if (!e->p.is_datagram && !ds) {
		struct moq_down_stream nd = {};
		__u64 n, max = seq->max_uni;

		/* 4-byte varint ids: 4n+3 < 2^30 */
		if (!max || max > (1ull << 28))
			max = 1ull << 28;
		n = __sync_fetch_and_add(&seq->next_uni, 1);
		if (n >= max)
			return MOQ_R_STREAM_LIMIT;
		nd.stream_id = 4 * n + 3;
		if (bpf_map_update_elem(&moq_down_streams, &dk, &nd, BPF_NOEXIST)) {
			/* another CPU mapped it first: use theirs (n is lost;
			 * the agent sees the gap in the events) */
			ds = bpf_map_lookup_elem(&moq_down_streams, &dk);
			if (!ds)
				return MOQ_R_STREAM_LIMIT;
			nd.stream_id = ds->stream_id;
		}
		e->down_sid = nd.stream_id;
	}
	/* packet number last: nothing fails between taking it and sending */
	e->pn = __sync_fetch_and_add(&seq->next_pn, 1);
	r = moq_rewrite(skb, e, sub, alias_buf, alias_patch);
	if (r)
		return r;
	if (sub->vlan_id)
		bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), sub->vlan_id);
	*forward = 1;
	return MOQ_R_FORWARDED;
}

SEC("tc/subscriber_egress")
int moq_subscriber_egress(struct __sk_buff *skb)
{
	int ret = TC_ACT_OK;
	struct moq_egress e = {};
	struct moq_sub_stats *ss;
	__u32 mark = skb->mark, len;
	int reason = MOQ_R_NOT_MARKED, forward = 0;

	if ((mark & MOQ_MARK_MAGIC_MASK) != MOQ_MARK_MAGIC)
		goto out; /* ARP, the agent's own packets, ...: untouched */
	skb->mark = 0;
	e.slot = mark & MOQ_MARK_SLOT_MASK;
	e.down_sid = MOQ_DS_NONE;
	/* A clone that is not fully rewritten must never leave: drop unless
	 * the rewrite completes (the original went to the agent). */
	ret = TC_ACT_SHOT;
	reason = moq_egress_clone(skb, &e, &forward);
	len = skb->len;
	if (forward)
		ret = TC_ACT_OK;
	moq_emit_event(&e, reason, len, forward);
	ss = bpf_map_lookup_elem(&moq_sub_stats, &e.slot);
	if (ss) {
		if (forward) {
			ss->tx_packets += 1;
			ss->tx_bytes += len;
		} else {
			ss->drop_packets += 1;
			ss->drop_bytes += len;
		}
	}
	goto out;
out:
	moq_stat_count(MOQ_PROG_SUBSCRIBER_EGRESS, reason, skb->len);
	return ret;
}
