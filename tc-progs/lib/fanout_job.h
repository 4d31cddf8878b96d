/* The packet the upstream ingress program is fanning out on this CPU
 * (issue 18, per-clone cost): its parse and the stream's state, handed to
 * the subscriber egress program so a clone is not parsed again.
 *
 * bpf_clone_redirect runs the target's tc egress hook synchronously, on
 * the CPU and inside the call of the ingress program that cloned: while
 * live is set, the clones leaving on this CPU are this packet's. A clone
 * takes the job only if it is that packet: same length, no VLAN to pop and
 * the same 16 bytes at the UDP payload's start (flags, DCID, packet number:
 * the ingress program clones an upstream packet number once). Anything
 * else (a nested softirq's packet in a test_run, a stale job) parses as
 * before. */
#ifndef MOQ_FANOUT_JOB_H
#define MOQ_FANOUT_JOB_H

#include "bpf_common.h"
#include "maps.bpf.h"

struct moq_fanout_job {
	struct moq_pkt p;
	__u64 alias; /* the track alias (a stream's: from its state) */
	__u64 group; /* a stream's group, from its state */
	__u64 id[2]; /* bytes l4 + 8 .. l4 + 24 of the packet */
	__u32 len;   /* skb->len */
	__u32 live;  /* 1 while the ingress program clones the packet */
	__u8 prio;
	__u8 pad0[3];
	__u32 clones; /* job clones forwarded so far (moq_job_clock) */
	__u64 ts;     /* the last clock read of moq_job_clock */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_fanout_job);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_fanout_job SEC(".maps");

/* Publishes p (a packet about to be cloned) as this CPU's job, with its
 * track alias, group and priority as the caller found them (a stream's from
 * its moq_up_streams state, which the caller has just looked up or
 * inserted: not looked up again); NULL when the clones will parse for
 * themselves. */
static __always_inline struct moq_fanout_job *
moq_job_start(struct __sk_buff *skb, const struct moq_pkt *p, __u64 alias, __u64 group, __u8 prio)
{
	struct moq_fanout_job *job;
	__u32 z = 0;

	job = bpf_map_lookup_elem(&moq_fanout_job, &z);
	if (!job)
		return 0;
	job->live = 0;
	if (p->flow.vlan)
		return 0; /* the egress program pops it: other offsets */
	job->alias = alias;
	job->group = group;
	job->prio = prio;
	if (bpf_skb_load_bytes(skb, p->flow.l4_off + 8, job->id, sizeof(job->id)))
		return 0;
	__builtin_memcpy(&job->p, p, sizeof(*p));
	job->len = skb->len;
	job->clones = 0;
	job->live = 1;
	return job;
}

/* The send time a forwarded job clone writes into the sent log: the clock
 * is read by every MOQ_JOB_CLOCK_EVERY-th clone of the packet, the ones
 * between take that reading. The clones of one packet leave one after
 * another, each ~0.5 us of the egress program and a transmit: a time at
 * most MOQ_JOB_CLOCK_EVERY - 1 clones early (a few us), where a clock read
 * per clone cost ~7 % of a clone. The agent takes RTT samples and loss
 * deadlines from it: a few us on each, in the conservative direction (a
 * sample at most that much longer). */
#define MOQ_JOB_CLOCK_EVERY 8
static __always_inline __u64 moq_job_clock(struct moq_fanout_job *job)
{
	if (job->clones++ % MOQ_JOB_CLOCK_EVERY == 0 || !job->ts)
		job->ts = bpf_ktime_get_ns();
	return job->ts;
}

/* The config for a job's clone: the ingress program found the agent alive
 * (moq_config_live, heartbeat against the clock) for this very packet
 * microseconds ago; the cheap checks again, not the clock read. */
static __always_inline struct moq_config *moq_config_of_job(void)
{
	__u32 key = 0;
	struct moq_config *cfg = bpf_map_lookup_elem(&moq_config, &key);

	if (!cfg || cfg->layout_version != MOQ_MAPS_LAYOUT_VERSION ||
	    !(cfg->flags & MOQ_CFG_F_ENABLED) || !cfg->generation || !cfg->heartbeat_ns)
		return 0;
	return cfg;
}

/* The clone is the job's packet (see above); id: a 16-byte scratch. */
static __always_inline int moq_job_match(struct __sk_buff *skb, const struct moq_fanout_job *job,
					 __u64 *id)
{
	if (!job || !job->live || job->len != skb->len || skb->vlan_present ||
	    skb->protocol == bpf_htons(ETH_P_8021Q))
		return 0;
	if (bpf_skb_load_bytes(skb, job->p.flow.l4_off + 8, id, 16))
		return 0;
	return id[0] == job->id[0] && id[1] == job->id[1];
}

#endif
