// SPDX-License-Identifier: GPL-2.0
/*
 * tstamp.bpf.c - kernel timestamps of media objects for the latency
 * benchmark (bench/latency.sh, issue 7 measurement 1).
 *
 * Attached on the clsact egress of the publisher's interface
 * (tst_egress) and the clsact ingress of each subscriber's interface
 * (tst_ingress), inside their own namespaces, by bench/tstamp.c (libbpf,
 * one loaded program per direction, so all attachments share one set of
 * maps). bench/residence.sh attaches them on the relay's own interfaces
 * instead (tst_ingress on the publisher side, tst_egress on each
 * subscriber side), at priority 1, ahead of tc-progs/relay.bpf.c: the
 * egress stamp of a fast-path clone is taken before tc/subscriber_egress
 * rewrites it, when it is still addressed to the relay, so such a clone
 * (skb->mark MOQ_MARK_MAGIC | slot) is keyed by its mark instead of its
 * destination (daddr = the mark, dport = 0).
 *
 * For each IPv4/IPv6 UDP packet it searches the first TST_WINDOW bytes of
 * the UDP payload for an MQP1 payload header (docs/tools.md: magic "MQP1",
 * version 1, kind 0/1) and records bpf_ktime_get_ns() - CLOCK_MONOTONIC,
 * one clock for every namespace of the host - with (point, destination
 * address, destination port, sequence number) in this CPU's part of
 * tst_ring. Appending to an array costs a few stores; a hash update (this
 * program's map before) cost ~0.8-3 us per packet, as much as the relay
 * programs it measures. The reader keeps the first sighting of each key:
 * a retransmission does not move the timestamp. Plaintext-profile QUIC carries the payload in
 * clear, and a small or ~1100-byte object starts in the packet that carries its STREAM frame
 * header, so the header is inside the window.
 *
 * Maps are not pinned by name (tst_* names, loaded by bench/tstamp.c,
 * which pins them in its own directory): nothing collides with the relay's
 * moq_* maps in /sys/fs/bpf/tc/globals.
 *
 * Always returns TC_ACT_UNSPEC: the packet continues untouched (and any
 * other filter on the hook still runs).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "tstamp_udp.h"
#include "tstamp.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TST_RING_CPUS *TST_RING_PER_CPU);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tst_rec);
} tst_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TST_RING_CPUS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tst_head);
} tst_head SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TST_S_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tst_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&tst_stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline int stamp(struct __sk_buff *skb, __u32 point)
{
	__u64 now = bpf_ktime_get_ns();
	__u8 buf[TST_WINDOW];
	struct tst_key key = {};
	__u32 daddr = 0, n, i, cpu, idx;
	struct tst_head *h;
	struct tst_rec *r;
	__u16 dport;
	int off, pos = -1;

	count(TST_S_SEEN);
	off = find_udp(skb, &daddr);
	if (off < 0 || off > 14 + 60)
		goto out;
	if (bpf_skb_load_bytes(skb, off + 2, &dport, 2) < 0)
		goto out;
	count(TST_S_UDP);
	off += 8;
	if ((__u32)off >= skb->len)
		goto unmatched;
	n = skb->len - off;
	if (n > TST_WINDOW)
		n = TST_WINDOW;
	/* verifier: a constant-bounded, non-zero length */
	n &= 0x1ff;
	if (n < 24 || n > TST_WINDOW)
		goto unmatched;
	if (bpf_skb_load_bytes(skb, off, buf, n) < 0)
		goto unmatched;
	/* the header's magic, version and kind, then 16 bytes up to the
	 * end of the sequence number must be in the loaded bytes */
	for (i = 0; i + 24 <= TST_WINDOW; i++) {
		if (i + 24 > n)
			break;
		if (buf[i] == 'M' && buf[i + 1] == 'Q' && buf[i + 2] == 'P' && buf[i + 3] == '1' &&
		    buf[i + 4] == 1 && buf[i + 5] <= 1) {
			pos = i;
			break;
		}
	}
	if (pos < 0)
		goto unmatched;
	count(TST_S_MATCHED);

	key.point = point;
	key.daddr = daddr;
	key.dport = dport;
	if ((skb->mark & TST_CLONE_MARK_MASK) == TST_CLONE_MARK) {
		key.daddr = skb->mark;
		key.dport = 0;
	}
	for (i = 0; i < 8; i++) {
		__u32 j = (__u32)pos + 16 + i;

		if (j >= TST_WINDOW)
			goto out;
		key.seq = key.seq << 8 | buf[j];
	}
	cpu = bpf_get_smp_processor_id();
	h = bpf_map_lookup_elem(&tst_head, &cpu);
	if (!h || h->written - h->read >= TST_RING_PER_CPU)
		goto full;
	idx = cpu * TST_RING_PER_CPU + (__u32)(h->written % TST_RING_PER_CPU);
	r = bpf_map_lookup_elem(&tst_ring, &idx);
	if (!r)
		goto full;
	r->key = key;
	r->ns = now;
	/* the reader copies up to written: a fetching atomic (a full
	 * barrier on x86 and arm64) orders the record's stores before it */
	__sync_fetch_and_add(&h->written, 1);
	count(TST_S_RECORDED);
	goto out;
full:
	count(TST_S_FULL);
	goto out;
unmatched:
	count(TST_S_UNMATCHED);
out:
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tst_egress(struct __sk_buff *skb)
{
	return stamp(skb, TST_PT_EGRESS);
}

SEC("tc")
int tst_ingress(struct __sk_buff *skb)
{
	return stamp(skb, TST_PT_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
