/* The per-slot clone cache (moq_maps.h, moq_clone_cache): one cache line
 * of what the egress program looks up per clone in moq_subscriptions,
 * moq_down_streams and moq_stream_credit. The hash maps stay the truth;
 * the protocol (gen, seq) is described with the struct. */
#ifndef MOQ_CLONE_CACHE_H
#define MOQ_CLONE_CACHE_H

#include "bpf_common.h"
#include "maps.bpf.h"

/* What a clone needs, from the cache or the hash maps. flags: MOQ_CC_F_*,
 * MOQ_CC_F_STREAM meaning "the stream is mapped" (down_sid valid), plus
 * MOQ_CC_V_RESET (never cached: only forwarded clones fill). */
#define MOQ_CC_V_RESET 0x100u
struct moq_cc_view {
	__u64 sub_alias;
	__u64 start_group;
	__u64 credit_max;
	__u32 down_sid;
	__u32 flags;
	/* the clone's own: cache answered; else gen before the lookups
	 * (here, not on the egress program's full stack) */
	__u32 hit;
	__u32 gen;
	struct moq_down_stream_key dk; /* the stream's key in the hash maps */
	__u32 job;		       /* the clone is the CPU's fan-out job's packet */
	__u32 pad0;
	__u64 sent_ns; /* the sent log's send time (moq_job_clock), 0: read it */
};

static __always_inline struct moq_clone_cache *moq_cc_entry(__u32 slot, __u64 alias)
{
	__u32 idx = slot * MOQ_CLONE_CACHE_WAYS + (__u32)(alias & (MOQ_CLONE_CACHE_WAYS - 1));

	return bpf_map_lookup_elem(&moq_clone_cache, &idx);
}

/* 1: c holds (conn, alias[, stream sid]) as filled since the last write of
 * the slot's hash entries, copied into v. The two atomic reads of seq are
 * full barriers: the field reads stay between them. */
static __always_inline int moq_cc_get(struct moq_clone_cache *c, __u32 conn, __u64 alias,
				      int stream, __u64 sid, struct moq_cc_view *v)
{
	__u32 want = MOQ_CC_F_VALID | (stream ? MOQ_CC_F_STREAM : 0);
	__u32 s = __sync_fetch_and_add(&c->seq, 0);

	if (s & 1)
		return 0;
	if ((c->flags & (MOQ_CC_F_VALID | MOQ_CC_F_STREAM)) != want || c->gen != c->filled_gen ||
	    c->conn_id != conn || c->track_alias != alias || (stream && c->up_stream_id != sid))
		return 0;
	v->sub_alias = c->sub_alias;
	v->start_group = c->start_group;
	v->credit_max = c->credit_max;
	v->down_sid = c->down_sid;
	v->flags = c->flags & (MOQ_CC_F_STREAM | MOQ_CC_F_CREDIT);
	return __sync_fetch_and_add(&c->seq, 0) == s;
}

/* gen before the hash lookups of a fill (a full barrier: the lookups
 * read what the agent wrote before it bumped gen). */
static __always_inline __u32 moq_cc_gen(struct moq_clone_cache *c)
{
	return c ? __sync_fetch_and_add(&c->gen, 0) : 0;
}

/* A writer of the slot's hash entries (here: a reset mark) makes its
 * cached copies unusable. */
static __always_inline void moq_cc_invalidate(struct moq_clone_cache *c)
{
	if (c)
		__sync_fetch_and_add(&c->gen, 1);
}

/* Stores what a forwarded clone used, as of gen g; skipped while another
 * CPU fills the entry. */
static __always_inline void moq_cc_fill(struct moq_clone_cache *c, __u32 g, __u32 conn, __u64 alias,
					int stream, __u64 sid, const struct moq_cc_view *v)
{
	__u32 s = *(volatile __u32 *)&c->seq;

	if ((s & 1) || __sync_val_compare_and_swap(&c->seq, s, s + 1) != s)
		return;
	c->conn_id = conn;
	c->track_alias = alias;
	c->up_stream_id = stream ? sid : 0;
	c->sub_alias = v->sub_alias;
	c->start_group = v->start_group;
	c->credit_max = v->credit_max;
	c->down_sid = v->down_sid;
	c->filled_gen = g;
	c->flags = MOQ_CC_F_VALID | (v->flags & (MOQ_CC_F_STREAM | MOQ_CC_F_CREDIT));
	__sync_fetch_and_add(&c->seq, 1);
}

#endif
