/* fp_pnspace: one 1-RTT packet-number space per subscriber connection,
 * shared between ngtcp2 (through the quic send_hook), the kernel fast path
 * (egress program) and the agent's own media writer.
 *
 * Every wire packet number is taken from one shared counter
 * (moq_conn_seq.next_pn, tc-progs/moq_maps.h) with an atomic fetch-and-add.
 * The counter lives in an mmap'ed BPF_F_MMAPABLE array entry in production
 * (fp_seqmap.h) and in plain memory in tests: fp_pnspace only ever sees a
 * `struct moq_conn_seq *`, which is the whole abstraction.
 *
 * ngtcp2's packets are renumbered to the next wire number in the send hook
 * and the pair (wire, ngtcp2) is kept in a bounded deque sorted by wire
 * number (both numbers grow monotonically, so the deque is also sorted by
 * ngtcp2 number). Any other wire number below the counter belongs to the
 * media plane (fast path or agent writer). See docs/fast-path-agent.md.
 *
 * Not thread-safe: one connection is driven by one thread (the relay loop);
 * only next_pn is shared with the kernel, and only through atomics.
 *
 * This file depends on nothing but libc and moq_maps.h, so fuzz targets may
 * #include "../../agent/lib/fp_pnspace.c" directly. */
#ifndef FP_PNSPACE_H
#define FP_PNSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "moq_maps.h"

struct fp_pn_pair {
	uint64_t wire;	    /* packet number on the wire */
	uint64_t ng;	    /* number ngtcp2 gave the packet */
	uint32_t acked;	    /* an ACK covering it was passed to ngtcp2 */
	uint32_t eliciting; /* ack-eliciting: ngtcp2 waits for its ACK */
};

/* Who owns a wire packet number. */
enum fp_pn_owner {
	FP_PN_NGTCP2 = 0, /* in the deque: translate to ngtcp2's number */
	FP_PN_MEDIA,	  /* taken, not ngtcp2's: fast path or agent writer */
	FP_PN_UNSENT,	  /* >= the shared counter: never taken */
	FP_PN_FORGOTTEN,  /* below the floor of an unacked pair evicted because
			     the deque was full; never shown to ngtcp2 */
};

struct fp_pnspace {
	struct moq_conn_seq *seq; /* shared counter (mmap or plain memory) */
	struct fp_pn_pair *ring;
	size_t cap; /* power of two */
	size_t head, count;
	uint64_t floor;	    /* below: an unacked pair may have been evicted */
	uint64_t last_wire; /* last wire number given to ngtcp2 (+1), monotonic check */
	/* counters */
	uint64_t ng_packets;	/* ngtcp2 packets renumbered */
	uint64_t media_packets; /* media numbers noted (events + own writer) */
	uint64_t largest_media; /* largest media wire number noted (+1; 0 = none) */
	uint64_t evicted;	/* pairs dropped while not acked (deque full) */
	uint64_t send_errors;	/* packets refused by fp_pnspace_on_send */
	/* guard published to the kernel (moq_acks, NULL = none): the wire
	 * numbers of ack-eliciting pairs not yet acked, so the subscriber
	 * ingress program leaves every ACK of them to ngtcp2 */
	struct moq_acks *guard;
	uint64_t guard_given_up; /* pairs left out: 1024 numbers behind */
};

/* cap: pairs kept (rounded up to a power of two, at least 64). seq must
 * stay valid while ps is used. Returns 0 or -ENOMEM / -EINVAL. */
int fp_pnspace_init(struct fp_pnspace *ps, struct moq_conn_seq *seq, size_t cap);
void fp_pnspace_free(struct fp_pnspace *ps);

/* Move to another counter (e.g. from a private one used since the
 * handshake to the slot's shared moq_conn_seq once the subscriber is on
 * the fast path): the new counter is raised to at least the old one's
 * value first, so wire numbers keep growing and the deque stays valid.
 * Call before the kernel takes numbers from the new counter. */
void fp_pnspace_rebind(struct fp_pnspace *ps, struct moq_conn_seq *seq);

/* Take n consecutive wire numbers from the shared counter; returns the
 * first. (__atomic_fetch_add, the same sequence as the BPF side's
 * __sync_fetch_and_add.) */
uint64_t fp_pnspace_take(struct fp_pnspace *ps, uint64_t n);
/* Current counter value: every wire number below it has been taken. */
uint64_t fp_pnspace_next(const struct fp_pnspace *ps);

/* send_hook helper: pkt is a plaintext 1-RTT packet (short header, DCID of
 * dcidlen bytes, 4-byte PN) that ngtcp2 numbered ng_pn. Takes the next wire
 * number, writes its low 32 bits into the PN field in place and records
 * (wire, ng_pn). *wire_out (may be NULL) gets the wire number. Returns 0, or
 * -EINVAL when the packet is not a short header with a 4-byte PN (nothing
 * taken, nothing written: drop the packet). */
int fp_pnspace_on_send(struct fp_pnspace *ps, uint8_t *pkt, size_t len, size_t dcidlen,
		       uint64_t ng_pn, uint64_t *wire_out);

/* Media plane: the agent's writer takes a number (and the packet is noted
 * as media); BPF events report numbers the kernel took. */
uint64_t fp_pnspace_take_media(struct fp_pnspace *ps);
void fp_pnspace_note_media(struct fp_pnspace *ps, uint64_t wire);

enum fp_pn_owner fp_pnspace_owner(const struct fp_pnspace *ps, uint64_t wire, uint64_t *ng);

/* Deque access for the ACK translator: index of the first pair with
 * wire >= w (== count when none), pair i (0 = oldest). */
size_t fp_pnspace_lower_bound(const struct fp_pnspace *ps, uint64_t w);
static inline struct fp_pn_pair *fp_pnspace_at(const struct fp_pnspace *ps, size_t i)
{
	return &ps->ring[(ps->head + i) & (ps->cap - 1)];
}
/* Publish the guard into g (NULL: stop). Writes guard_floor and the bits
 * of every unacked ack-eliciting pair; call before g->enabled is set. */
void fp_pnspace_set_guard(struct fp_pnspace *ps, struct moq_acks *g);
/* Mark pair i acked (its guard bit goes). */
void fp_pnspace_mark_acked(struct fp_pnspace *ps, size_t i);
/* 1 when a plaintext 1-RTT packet (short header, dcidlen, 4-byte PN, 16-byte
 * tag) carries a frame other than PADDING, ACK, ACK_ECN or
 * CONNECTION_CLOSE (RFC 9002 2), or cannot be parsed (counted as one). */
int fp_pkt_ack_eliciting(const uint8_t *pkt, size_t len, size_t dcidlen);
/* Skip an ACK (type 0x02) or ACK_ECN (0x03) frame's fields; *o is just after
 * the type byte and moves past the frame. 0, or -1 when it runs past end. */
int fp_ack_frame_skip(const uint8_t *b, size_t *o, size_t end, uint8_t type);

/* Drop acked pairs from the old end (called after an ACK was translated;
 * a later ACK of a dropped pair is simply not shown to ngtcp2 again). */
void fp_pnspace_release_acked(struct fp_pnspace *ps);

#endif
