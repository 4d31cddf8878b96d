/* fp_cc: NewReno congestion control (RFC 9002 section 7, appendix B) for
 * the media plane of one subscriber connection, and its mapping to the
 * kernel's congestion gate (struct moq_gate in tc-progs/moq_maps.h).
 *
 * ngtcp2 runs its own controller for its own (control) packets; this one
 * counts only media packets: those the egress program forwarded (their
 * bytes were taken from the gate budget) and those the agent wrote.
 *
 * Gate: the egress program does left = budget - wire_len and forwards a
 * packet of class c (publisher priority >> 5, 0 = most important) only if
 * left >= threshold[c]. fp_cc_gate_plan() computes the credit to add so
 * that budget + bytes in flight + credit already granted but not yet seen
 * in events never exceeds cwnd, and thresholds that rise with the class, so
 * that when the budget runs short the least important classes stop first.
 * Bytes are whatever unit the caller counts consistently (wire_len of the
 * events, L2 frame bytes, is what the gate subtracts). */
#ifndef FP_CC_H
#define FP_CC_H

#include <stdint.h>

#include "fp_tracker.h"
#include "moq_maps.h"

struct fp_cc_cfg {
	uint32_t max_datagram_size; /* [1350 + 42 L2/IP/UDP] */
	uint64_t initial_window;    /* [min(10*mds, max(14720, 2*mds))] */
	uint32_t prio_spread;	    /* threshold of the lowest class in 1/256 of
				       cwnd; classes in between linear [128] */
};

struct fp_cc {
	struct fp_cc_cfg cfg;
	uint64_t cwnd, ssthresh, min_window;
	uint64_t bytes_in_flight;
	uint64_t recovery_start_ns; /* 0 = not in recovery yet */
	int in_recovery;
	uint64_t ca_acked; /* bytes acked in congestion avoidance */
	/* gate accounting */
	uint64_t gate_granted; /* credit added to moq_gate.budget, total (may net down) */
	uint64_t gate_used;    /* bytes of forwarded events (taken from the budget) */
	/* counters */
	uint64_t congestion_events, persistent_events;
};

void fp_cc_init(struct fp_cc *cc, const struct fp_cc_cfg *cfg);

/* A media packet of bytes left: via_gate = 1 when the kernel forwarded it
 * (its bytes came out of the gate budget), 0 for the agent's own writer. */
void fp_cc_on_sent(struct fp_cc *cc, uint64_t bytes, int via_gate);
/* A packet the kernel forwarded (its bytes came out of the gate budget):
 * in flight when the tracker took it (tracked), else only spent: an
 * untracked packet is never acknowledged nor declared lost, so it must not
 * stay in flight, but its budget was used (not counting it held that much
 * of the gate back for good). */
void fp_cc_on_kernel_sent(struct fp_cc *cc, uint64_t bytes, int tracked);
/* One acked media packet (RFC 9002 B.5). */
void fp_cc_on_packet_acked(struct fp_cc *cc, uint64_t bytes, uint64_t sent_ns);
/* Lost bytes leave flight; a congestion event for a loss of a packet sent
 * at sent_ns (RFC 9002 B.6: once per recovery period). */
void fp_cc_on_lost(struct fp_cc *cc, uint64_t bytes);
void fp_cc_on_congestion_event(struct fp_cc *cc, uint64_t sent_ns, uint64_t now);
void fp_cc_on_persistent_congestion(struct fp_cc *cc);
/* Losses of a tracker summary (acked packets go per packet through the
 * tracker's on_acked -> fp_cc_on_packet_acked). */
void fp_cc_on_losses(struct fp_cc *cc, const struct fp_trk_summary *s, uint64_t now);

int fp_cc_in_slow_start(const struct fp_cc *cc);

/* Gate mapping. */
struct fp_gate_plan {
	int64_t budget_add; /* add to moq_gate.budget (atomic; may be < 0) */
	int64_t threshold[MOQ_PRIO_CLASSES];
};
/* Computes the plan and books budget_add as granted. */
void fp_cc_gate_plan(struct fp_cc *cc, struct fp_gate_plan *out);
/* Re-rank the thresholds from the most important class the subscriber
 * currently receives: that class may use the whole window and the classes
 * below it stop earlier, by rank (fp_cc_gate_plan ranks from class 0, so a
 * stream that is all priority 128 would otherwise be held to ~70% of the
 * window). top_class 0 (or out of range): unchanged. */
void fp_cc_gate_rank_from(struct fp_gate_plan *p, int top_class);
/* The most important class a subscriber currently receives, from when the
 * relay last served a stream of each class (seen_ns, 0: never): the most
 * important one seen within window_ns of the newest sighting, 0 when none
 * was. Relative to the newest sighting, not to now: a relay that stalled
 * for longer than the window has served nothing lately, which says nothing
 * about the subscriber; ranking from class 0 then made every gate-dropped
 * stream of class 4 (priority 128) "less important" and reset it, silently
 * when it was not yet open downstream. */
int fp_cc_top_class(const uint64_t seen_ns[MOQ_PRIO_CLASSES], uint64_t window_ns);
/* Apply to the (mmap'ed) gate entry: atomic add, threshold stores, enable. */
void fp_cc_gate_apply(struct moq_gate *g, const struct fp_gate_plan *p);

#endif
