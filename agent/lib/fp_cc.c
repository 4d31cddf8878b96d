/* fp_cc: NewReno for the media plane and the gate mapping (fp_cc.h). */
#include "fp_cc.h"

#include <string.h>

void fp_cc_init(struct fp_cc *cc, const struct fp_cc_cfg *cfg)
{
	uint64_t mds, iw;

	memset(cc, 0, sizeof(*cc));
	if (cfg)
		cc->cfg = *cfg;
	if (!cc->cfg.max_datagram_size)
		cc->cfg.max_datagram_size = 1350 + 42;
	if (!cc->cfg.prio_spread)
		cc->cfg.prio_spread = 128;
	mds = cc->cfg.max_datagram_size;
	iw = 2 * mds > 14720 ? 2 * mds : 14720;
	if (iw > 10 * mds)
		iw = 10 * mds;
	if (!cc->cfg.initial_window)
		cc->cfg.initial_window = iw;
	cc->cwnd = cc->cfg.initial_window;
	cc->ssthresh = UINT64_MAX;
	cc->min_window = 2 * mds; /* kMinimumWindow */
}

int fp_cc_in_slow_start(const struct fp_cc *cc)
{
	return cc->cwnd < cc->ssthresh;
}

void fp_cc_on_sent(struct fp_cc *cc, uint64_t bytes, int via_gate)
{
	cc->bytes_in_flight += bytes;
	if (via_gate)
		cc->gate_used += bytes;
}

void fp_cc_on_kernel_sent(struct fp_cc *cc, uint64_t bytes, int tracked)
{
	if (tracked)
		fp_cc_on_sent(cc, bytes, 1);
	else
		cc->gate_used += bytes;
}

static void leave_flight(struct fp_cc *cc, uint64_t bytes)
{
	cc->bytes_in_flight = cc->bytes_in_flight > bytes ? cc->bytes_in_flight - bytes : 0;
}

void fp_cc_on_packet_acked(struct fp_cc *cc, uint64_t bytes, uint64_t sent_ns)
{
	leave_flight(cc, bytes);
	/* no increase for packets sent before recovery started */
	if (cc->in_recovery && sent_ns <= cc->recovery_start_ns)
		return;
	cc->in_recovery = 0;
	if (fp_cc_in_slow_start(cc)) {
		cc->cwnd += bytes;
		return;
	}
	/* congestion avoidance: one max datagram per cwnd acked (B.5:
	 * cwnd += mds * bytes / cwnd, kept exact with an accumulator) */
	cc->ca_acked += bytes;
	while (cc->ca_acked >= cc->cwnd) {
		cc->ca_acked -= cc->cwnd;
		cc->cwnd += cc->cfg.max_datagram_size;
	}
}

void fp_cc_on_lost(struct fp_cc *cc, uint64_t bytes)
{
	leave_flight(cc, bytes);
}

void fp_cc_on_congestion_event(struct fp_cc *cc, uint64_t sent_ns, uint64_t now)
{
	if (cc->in_recovery && sent_ns <= cc->recovery_start_ns)
		return; /* one reduction per recovery period */
	cc->in_recovery = 1;
	cc->recovery_start_ns = now;
	cc->ssthresh = cc->cwnd / 2; /* kLossReductionFactor 0.5 */
	cc->cwnd = cc->ssthresh > cc->min_window ? cc->ssthresh : cc->min_window;
	cc->ca_acked = 0;
	cc->congestion_events++;
}

void fp_cc_on_persistent_congestion(struct fp_cc *cc)
{
	cc->cwnd = cc->min_window;
	cc->in_recovery = 0;
	cc->recovery_start_ns = 0;
	cc->ca_acked = 0;
	cc->persistent_events++;
}

void fp_cc_on_losses(struct fp_cc *cc, const struct fp_trk_summary *s, uint64_t now)
{
	if (!s->lost_pkts)
		return;
	fp_cc_on_lost(cc, s->lost_bytes);
	fp_cc_on_congestion_event(cc, s->largest_lost_sent_ns, now);
	if (s->persistent_congestion)
		fp_cc_on_persistent_congestion(cc);
}

void fp_cc_gate_plan(struct fp_cc *cc, struct fp_gate_plan *out)
{
	/* unspent: credit granted and not yet seen as forwarded bytes (what is
	 * left in the budget + packets whose events are still in the ring) */
	int64_t unspent = (int64_t)(cc->gate_granted - cc->gate_used);
	int64_t room = (int64_t)cc->cwnd - (int64_t)cc->bytes_in_flight - unspent;
	uint64_t top = cc->cwnd * cc->cfg.prio_spread / 256;

	out->budget_add = room;
	cc->gate_granted += (uint64_t)room; /* wraps as intended when room < 0 */
	for (int c = 0; c < MOQ_PRIO_CLASSES; c++)
		out->threshold[c] = (int64_t)(top * (uint64_t)c / (MOQ_PRIO_CLASSES - 1));
}

void fp_cc_gate_rank_from(struct fp_gate_plan *p, int top_class)
{
	/* class top_class takes class 0's threshold, the ones below it follow
	 * by rank; more important classes (not seen lately) keep 0 */
	if (top_class <= 0 || top_class >= MOQ_PRIO_CLASSES)
		return;
	for (int c = MOQ_PRIO_CLASSES - 1; c >= 0; c--)
		p->threshold[c] = c >= top_class ? p->threshold[c - top_class] : 0;
}

int fp_cc_top_class(const uint64_t seen_ns[MOQ_PRIO_CLASSES], uint64_t window_ns)
{
	uint64_t newest = 0;

	for (int c = 0; c < MOQ_PRIO_CLASSES; c++)
		if (seen_ns[c] > newest)
			newest = seen_ns[c];
	for (int c = 0; c < MOQ_PRIO_CLASSES; c++)
		if (seen_ns[c] && seen_ns[c] + window_ns > newest)
			return c;
	return 0;
}

void fp_cc_gate_apply(struct moq_gate *g, const struct fp_gate_plan *p)
{
	/* written only when changed: the kernel reads this entry for every
	 * clone on another CPU, and a store of the same value still takes
	 * the cache line away from it (issue 18: every slot, every tick) */
	for (int c = 0; c < MOQ_PRIO_CLASSES; c++)
		if (__atomic_load_n(&g->threshold[c], __ATOMIC_RELAXED) != p->threshold[c])
			__atomic_store_n(&g->threshold[c], p->threshold[c], __ATOMIC_RELAXED);
	if (p->budget_add)
		__atomic_fetch_add(&g->budget, p->budget_add, __ATOMIC_ACQ_REL);
	if (__atomic_load_n(&g->enabled, __ATOMIC_ACQUIRE) != 1)
		__atomic_store_n(&g->enabled, 1, __ATOMIC_RELEASE);
}
