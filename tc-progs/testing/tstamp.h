/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tstamp.h - map layouts of tc-progs/testing/tstamp.bpf.c, shared with the loader
 * bench/tstamp.c. Only linux/types.h types, explicit padding.
 */
#ifndef MOQ_TSTAMP_H
#define MOQ_TSTAMP_H

#include <linux/types.h>

/* Where a timestamp was taken. */
enum tst_point {
	TST_PT_EGRESS = 0,  /* clsact egress of the publisher's interface */
	TST_PT_INGRESS = 1, /* clsact ingress of a subscriber's interface */
};

/* tst_rec key: one media object seen at one point on one flow. The flow
 * is the packet's destination (address, port): on the publisher's egress
 * that is the relay (or, with no relay, the subscriber itself), on a
 * subscriber's ingress it is that subscriber. IPv6 addresses are folded
 * to their last 4 bytes (the testbed's addresses differ there). */
struct tst_key {
	__u32 point; /* enum tst_point */
	__u32 daddr; /* IPv4 destination address, network byte order */
	__u16 dport; /* UDP destination port, network byte order */
	__u16 pad0;
	__u32 pad1;
	__u64 seq; /* MQP1 sequence number (payload bytes 16..23, big endian) */
};

/* A fast-path clone's skb->mark: MOQ_MARK_MAGIC | subscriber slot
 * (tc-progs/moq_maps.h). Such a packet is keyed by the mark, dport 0. */
#define TST_CLONE_MARK 0x4d510000u
#define TST_CLONE_MARK_MASK 0xffff0000u

/* One sighting in tst_ring. Every sighting is recorded; the reader
 * (bench/tstamp.c dump) keeps the earliest per key: the first sighting
 * wins, as a retransmission must not move the timestamp. */
struct tst_rec {
	struct tst_key key;
	__u64 ns; /* bpf_ktime_get_ns() */
};

/* tst_head entry of one CPU: the program appends to that CPU's part of
 * tst_ring (no atomics: a tc program does not nest with itself on a CPU)
 * and advances written; the reader advances read once it has copied
 * [read, written). A full part drops the sighting (TST_S_FULL). One cache
 * line per CPU. */
struct tst_head {
	__u64 written;
	__u64 read;
	__u64 pad[6];
};

/* tst_stats indexes (ARRAY of __u64, per CPU) */
enum tst_stat {
	TST_S_SEEN = 0,	 /* packets the program ran on */
	TST_S_UDP,	 /* of those, IPv4/IPv6 UDP */
	TST_S_MATCHED,	 /* UDP packets with an MQP1 header in the window */
	TST_S_UNMATCHED, /* UDP packets without one */
	TST_S_RECORDED,	 /* matched and appended to tst_ring */
	TST_S_FULL,	 /* matched, this CPU's part of tst_ring full: not recorded */
	TST_S_MAX,
};

/* tst_ring: TST_RING_CPUS parts of TST_RING_PER_CPU records (32 MiB); a
 * CPU numbered TST_RING_CPUS or above counts TST_S_FULL. */
#define TST_RING_CPUS 4
#define TST_RING_PER_CPU (1u << 18)
/* UDP payload bytes searched for the MQP1 magic (and the 24 header bytes
 * after it): QUIC short header, ACK frames, STREAM frame header, MoQT
 * subgroup and object headers come first. */
#define TST_WINDOW 288

#endif
