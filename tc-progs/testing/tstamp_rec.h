/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tstamp_rec.h - record layout of tc-progs/testing/tstamp_rec.bpf.c, shared
 * with its reader bench/tstamp.c (`tstamp rec`) and, as a struct layout,
 * with bench/residence_tls.py. Only linux/types.h types, explicit padding.
 */
#ifndef MOQ_TSTAMP_REC_H
#define MOQ_TSTAMP_REC_H

#include <linux/types.h>

/* Where a record was taken (tstamp.h's two points, plus the receiver's). */
enum tsr_point {
	TSR_PT_EGRESS = 0,  /* clsact egress of a relay subscriber-side interface */
	TSR_PT_INGRESS = 1, /* clsact ingress of the relay's publisher-side interface */
	TSR_PT_ARRIVE = 2,  /* clsact ingress of a subscriber namespace's interface */
	TSR_PT_DEPART = 3,  /* clsact egress of the publisher namespace's interface */
};

/* UDP payload bytes copied per record on the relay's egress and at the
 * subscribers: a QUIC short header, the frames before the MQP1 payload
 * header and its 32 bytes; with bench/residence_tls.sh's 200-byte objects
 * the whole packet (AEAD tag included) fits. On the publisher-side ingress
 * (one packet per upstream packet, not per copy) the whole payload up to
 * TSR_CAP_MAX: every object a packet carries is found there. */
#define TSR_CAP 320
#define TSR_CAP_MAX 1472
/* UDP payloads shorter than this are not recorded (ACK-only packets). */
#define TSR_MIN_PAYLOAD 64

/* One ring-buffer record: the header, then caplen payload bytes (a record
 * is as long as it needs: bench/tstamp.c writes them to a file as is). */
struct tsr_rec {
	__u64 ns;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 point;  /* enum tsr_point */
	__u32 daddr;  /* IPv4 destination (last 4 bytes of IPv6), network order */
	__u32 mark;   /* skb->mark (a fast-path clone: MOQ_MARK_MAGIC | slot) */
	__u16 dport;  /* UDP destination port, network order */
	__u16 caplen; /* payload bytes in data[] */
	__u32 udplen; /* UDP payload length of the packet */
	__u32 pad0;
	__u8 data[TSR_CAP_MAX];
};

#define TSR_REC_HDR 32 /* offsetof(struct tsr_rec, data) */

/* tsr_stats indexes (ARRAY of __u64, per CPU) */
enum tsr_stat {
	TSR_S_SEEN = 0, /* packets the program ran on */
	TSR_S_UDP,	/* of those, IPv4/IPv6 UDP */
	TSR_S_SMALL,	/* UDP payload below TSR_MIN_PAYLOAD: not recorded */
	TSR_S_RECORDED, /* records submitted */
	TSR_S_LOST,	/* ring buffer full: not recorded */
	TSR_S_MAX,
};

/* ring buffer bytes (a power of 2 pages): ~45,000 records of 352 bytes,
 * 0.7 s of 64 subscribers at 500 objects/s between two reads */
#define TSR_RING_BYTES (16u << 20)

#endif
