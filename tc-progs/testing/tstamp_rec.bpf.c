// SPDX-License-Identifier: GPL-2.0
/*
 * tstamp_rec.bpf.c - kernel timestamps plus the first bytes of every UDP
 * payload, for the TLS mode of the residence benchmark
 * (bench/residence_tls.sh). tstamp.bpf.c finds the MQP1 sequence number in
 * the packet itself; under TLS it is encrypted, so this program hands the
 * packet's start (TSR_CAP bytes; on the publisher side the whole payload,
 * TSR_CAP_MAX) to user space through a ring buffer and
 * bench/residence_tls.py decrypts it offline with the clients' key logs.
 *
 * The record is built in a per-CPU scratch (TSR_CAP_MAX bytes do not fit
 * the stack) and copied with bpf_ringbuf_output, as long as it needs.
 *
 * Four programs, one per point (tstamp_rec.h), attached by bench/tstamp.c
 * at priority 1 on clsact hooks: ahead of relay.bpf.o on the relay's own
 * interfaces, and on the publisher's and the subscribers' interfaces in
 * their namespaces. A
 * record is lost, and counted (TSR_S_LOST), when the ring buffer is full.
 * Records are submitted without a wakeup; the reader drains the ring
 * every 10 ms.
 *
 * Always returns TC_ACT_UNSPEC: the packet continues untouched.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "tstamp_udp.h"
#include "tstamp_rec.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TSR_RING_BYTES);
} tsr_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tsr_rec);
} tsr_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TSR_S_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tsr_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&tsr_stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline int record(struct __sk_buff *skb, __u32 point, __u32 cap)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 daddr = 0, n, zero = 0;
	struct tsr_rec *r;
	__u16 dport;
	int off;

	count(TSR_S_SEEN);
	off = find_udp(skb, &daddr);
	if (off < 0 || off > 14 + 60)
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, off + 2, &dport, 2) < 0)
		return TC_ACT_UNSPEC;
	count(TSR_S_UDP);
	off += 8;
	if ((__u32)off + TSR_MIN_PAYLOAD > skb->len) {
		count(TSR_S_SMALL);
		return TC_ACT_UNSPEC;
	}
	r = bpf_map_lookup_elem(&tsr_scratch, &zero);
	if (!r)
		return TC_ACT_UNSPEC;
	n = skb->len - off;
	r->ns = now;
	r->point = point;
	r->daddr = daddr;
	r->mark = skb->mark;
	r->dport = dport;
	r->udplen = n;
	r->pad0 = 0;
	if (n > cap)
		n = cap;
	/* verifier: a constant-bounded, non-zero length */
	if (n < 1 || n > TSR_CAP_MAX || bpf_skb_load_bytes(skb, off, r->data, n) < 0)
		n = 0;
	r->caplen = n;
	/* no wakeup: it is an irq_work (a self-IPI, a VM exit here) inside
	 * the stamped path; the reader polls the ring instead */
	if (bpf_ringbuf_output(&tsr_ring, r, TSR_REC_HDR + n, BPF_RB_NO_WAKEUP) < 0) {
		count(TSR_S_LOST);
		return TC_ACT_UNSPEC;
	}
	count(TSR_S_RECORDED);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tsr_egress(struct __sk_buff *skb)
{
	return record(skb, TSR_PT_EGRESS, TSR_CAP);
}

SEC("tc")
int tsr_ingress(struct __sk_buff *skb)
{
	return record(skb, TSR_PT_INGRESS, TSR_CAP_MAX);
}

SEC("tc")
int tsr_arrive(struct __sk_buff *skb)
{
	return record(skb, TSR_PT_ARRIVE, TSR_CAP);
}

SEC("tc")
int tsr_depart(struct __sk_buff *skb)
{
	return record(skb, TSR_PT_DEPART, TSR_CAP_MAX);
}

char LICENSE[] SEC("license") = "GPL";
