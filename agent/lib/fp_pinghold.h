/* fp_pinghold: PINGs of consumed ACK + PING packets held back before the
 * agent feeds them to ngtcp2, so that one ACK of the relay answers several
 * (issue 18). RFC 9000 13.2.1 lets an endpoint delay the acknowledgement of
 * an ack-eliciting 1-RTT packet up to the max_ack_delay it advertised; the
 * hold is what is left of that once the agent's own lateness (one service
 * tick) and ngtcp2's delay after the feed (min(max_ack_delay, srtt/8) when
 * it has a single packet to acknowledge) and a margin are taken off. Fed
 * together, two or more PINGs make ngtcp2 acknowledge at once (ack_thresh).
 * Depends on libc only. */
#ifndef FP_PINGHOLD_H
#define FP_PINGHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_PINGHOLD_MAX 16		 /* held numbers; one more feeds them all */
#define FP_PINGHOLD_MARGIN_NS 5000000ull /* kept free below max_ack_delay */

struct fp_pinghold {
	uint64_t pn[FP_PINGHOLD_MAX];	 /* the packets' numbers (fields, or full: TLS), in order */
	uint64_t ts_ns[FP_PINGHOLD_MAX]; /* ... and their kernel receive times */
	uint32_t n;
	uint64_t due_ns; /* feed by then (n > 0) */
};

/* How long a PING may wait for the agent to feed it: max_ack_delay (the
 * relay advertised) - tick - min(max_ack_delay, srtt / 8) - margin, 0 when
 * nothing is left (fed at once, as before). */
uint64_t fp_pinghold_hold_ns(uint64_t max_ack_delay_ns, uint64_t tick_ns, uint64_t srtt_ns);

/* Hold pn, received at ts_ns (the kernel's time), with hold_ns of room.
 * Returns true when the held numbers must be fed now (full, or no room). */
bool fp_pinghold_add(struct fp_pinghold *h, uint64_t pn, uint64_t ts_ns, uint64_t hold_ns);

/* Something held whose time has come at now_ns. */
static inline bool fp_pinghold_due(const struct fp_pinghold *h, uint64_t now_ns)
{
	return h->n && now_ns >= h->due_ns;
}

/* Move the held numbers to out (FP_PINGHOLD_MAX entries), oldest first, and
 * empty h (read ts_ns[] before). Returns how many. */
size_t fp_pinghold_take(struct fp_pinghold *h, uint64_t *out);

#endif
