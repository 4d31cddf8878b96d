/* fp_tracker: media-plane RTT, loss detection and PTO (RFC 9002), see
 * fp_tracker.h and docs/fast-path-agent.md. */
#include "fp_tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

static inline struct fp_media_pkt *at(const struct fp_tracker *t, size_t i)
{
	return &t->q[(t->head + i) & (t->cap - 1)];
}

int fp_tracker_init(struct fp_tracker *t, const struct fp_tracker_cfg *cfg,
		    const struct fp_tracker_ops *ops, void *user)
{
	static const struct fp_tracker_ops none;
	size_t c = 64;

	memset(t, 0, sizeof(*t));
	if (cfg)
		t->cfg = *cfg;
	if (!t->cfg.cap)
		t->cfg.cap = 4096;
	if (!t->cfg.initial_rtt_ns)
		t->cfg.initial_rtt_ns = 333 * MS;
	if (!t->cfg.max_ack_delay_ns)
		t->cfg.max_ack_delay_ns = 25 * MS;
	if (!t->cfg.ack_delay_exponent)
		t->cfg.ack_delay_exponent = 3;
	if (t->cfg.ack_delay_exponent > 20)
		return -EINVAL;
	if (!t->cfg.pkt_threshold)
		t->cfg.pkt_threshold = 3;
	if (!t->cfg.granularity_ns)
		t->cfg.granularity_ns = 1 * MS;
	if (t->cfg.cap > ((size_t)1 << 24))
		return -EINVAL;
	while (c < t->cfg.cap)
		c <<= 1;
	t->q = calloc(c, sizeof(*t->q));
	if (!t->q)
		return -ENOMEM;
	t->cap = c;
	t->ops = ops ? ops : &none;
	t->user = user;
	/* RFC 9002 5.3: before the first sample */
	t->smoothed_rtt = t->cfg.initial_rtt_ns;
	t->rttvar = t->cfg.initial_rtt_ns / 2;
	return 0;
}

void fp_tracker_free(struct fp_tracker *t)
{
	free(t->q);
	memset(t, 0, sizeof(*t));
}

static size_t lower_bound(const struct fp_tracker *t, uint64_t pn)
{
	size_t lo = 0, hi = t->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (at(t, mid)->pn < pn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Drop finished packets from the old end. Lost ones stay 3 PTOs after
 * their send time (so a late ACK is recognised as a spurious loss and
 * still releases the cache), unless now == UINT64_MAX (make room). */
static void pop_done(struct fp_tracker *t, uint64_t now)
{
	uint64_t keep = 3 * fp_tracker_pto_period(t);

	while (t->count && at(t, 0)->state != FP_TRK_IN_FLIGHT) {
		const struct fp_media_pkt *p = at(t, 0);
		if (p->state == FP_TRK_LOST && now != UINT64_MAX && p->sent_ns + keep > now)
			break;
		t->head = (t->head + 1) & (t->cap - 1);
		t->count--;
	}
}

int fp_tracker_on_sent(struct fp_tracker *t, const struct fp_media_pkt *p)
{
	size_t i;

	pop_done(t, p->sent_ns);
	if (t->count == t->cap)
		pop_done(t, UINT64_MAX);
	if (t->count == t->cap) {
		t->full++;
		return -ENOSPC;
	}
	i = lower_bound(t, p->pn);
	if (i < t->count && at(t, i)->pn == p->pn)
		return -EEXIST;
	/* shift the (few) later entries up by one */
	for (size_t k = t->count; k > i; k--)
		*at(t, k) = *at(t, k - 1);
	*at(t, i) = *p;
	at(t, i)->state = FP_TRK_IN_FLIGHT;
	t->count++;
	t->bytes_in_flight += p->bytes;
	t->ack_eliciting_in_flight++;
	if (p->sent_ns > t->last_ack_eliciting_ns)
		t->last_ack_eliciting_ns = p->sent_ns;
	t->sent++;
	return 0;
}

int fp_tracker_on_event(struct fp_tracker *t, const struct moq_event *ev)
{
	struct fp_media_pkt p;

	if (ev->verdict != MOQ_V_FORWARDED) {
		t->dropped_events++;
		return 1;
	}
	memset(&p, 0, sizeof(p));
	p.pn = ev->pn;
	p.sid = ev->down_stream_id;
	p.offset = ev->offset;
	p.sent_ns = ev->ts_ns;
	p.len = ev->data_len;
	p.bytes = ev->wire_len;
	p.fin = ev->fin;
	p.kind = ev->kind;
	return fp_tracker_on_sent(t, &p);
}

uint64_t fp_tracker_pto_period(const struct fp_tracker *t)
{
	uint64_t v = 4 * t->rttvar;

	if (v < t->cfg.granularity_ns)
		v = t->cfg.granularity_ns;
	return t->smoothed_rtt + v + t->cfg.max_ack_delay_ns;
}

static void update_rtt(struct fp_tracker *t, uint64_t latest, uint64_t ack_delay, uint64_t now)
{
	uint64_t adjusted = latest, d;

	t->latest_rtt = latest;
	if (!t->has_rtt) { /* RFC 9002 5.3 first sample */
		t->has_rtt = 1;
		t->first_rtt_sample_ns = now;
		t->min_rtt = latest;
		t->smoothed_rtt = latest;
		t->rttvar = latest / 2;
		return;
	}
	if (latest < t->min_rtt)
		t->min_rtt = latest;
	if (ack_delay > t->cfg.max_ack_delay_ns)
		ack_delay = t->cfg.max_ack_delay_ns;
	if (latest >= t->min_rtt + ack_delay)
		adjusted = latest - ack_delay;
	d = t->smoothed_rtt > adjusted ? t->smoothed_rtt - adjusted : adjusted - t->smoothed_rtt;
	t->rttvar = (3 * t->rttvar + d) / 4;
	t->smoothed_rtt = (7 * t->smoothed_rtt + adjusted) / 8;
}

static void declare_lost(struct fp_tracker *t, struct fp_media_pkt *p, struct fp_trk_summary *s)
{
	p->state = FP_TRK_LOST;
	t->bytes_in_flight -= p->bytes;
	t->ack_eliciting_in_flight--;
	t->lost++;
	s->lost_pkts++;
	s->lost_bytes += p->bytes;
	if (p->sent_ns > s->largest_lost_sent_ns)
		s->largest_lost_sent_ns = p->sent_ns;
	if (t->ops->on_lost)
		t->ops->on_lost(t->user, p);
}

/* RFC 9002 7.6: lost packets spanning more than the persistent congestion
 * duration with nothing acknowledged in between (among the packets this
 * tracker knows), all sent after the first RTT sample. */
static int persistent(struct fp_tracker *t, size_t ifirst, size_t ilast)
{
	uint64_t dur = fp_tracker_pto_period(t) * 3;

	if (!t->has_rtt || ifirst >= ilast)
		return 0;
	for (size_t i = ifirst; i <= ilast; i++)
		if (at(t, i)->state != FP_TRK_LOST)
			return 0;
	return at(t, ilast)->sent_ns - at(t, ifirst)->sent_ns >= dur;
}

static void detect_lost(struct fp_tracker *t, uint64_t now, struct fp_trk_summary *s)
{
	uint64_t rtt = t->latest_rtt > t->smoothed_rtt ? t->latest_rtt : t->smoothed_rtt;
	uint64_t delay = rtt + rtt / 8, lost_send_time, largest;
	size_t ifirst = SIZE_MAX, ilast = 0;

	t->loss_time = 0;
	if (!t->largest_acked)
		return;
	largest = t->largest_acked - 1;
	if (delay < t->cfg.granularity_ns)
		delay = t->cfg.granularity_ns;
	lost_send_time = now > delay ? now - delay : 0; /* 0: nothing is that old */
	for (size_t i = 0; i < t->count; i++) {
		struct fp_media_pkt *p = at(t, i);
		if (p->pn > largest)
			break;
		if (p->state != FP_TRK_IN_FLIGHT)
			continue;
		if ((lost_send_time && p->sent_ns <= lost_send_time) ||
		    largest >= p->pn + t->cfg.pkt_threshold) {
			declare_lost(t, p, s);
			if (t->has_rtt && p->sent_ns > t->first_rtt_sample_ns) {
				if (ifirst == SIZE_MAX)
					ifirst = i;
				ilast = i;
			}
		} else if (!t->loss_time || p->sent_ns + delay < t->loss_time) {
			t->loss_time = p->sent_ns + delay;
		}
	}
	if (ifirst != SIZE_MAX && persistent(t, ifirst, ilast))
		s->persistent_congestion = 1;
}

void fp_tracker_on_ack(struct fp_tracker *t, const struct fp_wire_ack *ack, uint64_t now,
		       struct fp_trk_summary *s)
{
	struct fp_media_pkt *newest = NULL;

	uint64_t prev_largest = t->largest_acked; /* + 1 */

	memset(s, 0, sizeof(*s));
	if (!ack->nranges)
		return;
	if (ack->largest + 1 > t->largest_acked)
		t->largest_acked = ack->largest + 1;
	for (size_t r = 0; r < ack->nranges; r++) {
		size_t i = lower_bound(t, ack->ranges[r].lo);
		for (; i < t->count && at(t, i)->pn <= ack->ranges[r].hi; i++) {
			struct fp_media_pkt *p = at(t, i);
			if (p->state == FP_TRK_ACKED)
				continue;
			if (p->state == FP_TRK_LOST) { /* spurious loss: data already resent */
				t->spurious++;
				/* reported with state still LOST, so the caller
				 * does not count its bytes out of flight twice */
				if (t->ops->on_acked)
					t->ops->on_acked(t->user, p);
				p->state = FP_TRK_ACKED;
				continue;
			}
			p->state = FP_TRK_ACKED;
			t->bytes_in_flight -= p->bytes;
			t->ack_eliciting_in_flight--;
			t->acked++;
			s->acked_pkts++;
			s->acked_bytes += p->bytes;
			if (p->sent_ns > s->largest_acked_sent_ns)
				s->largest_acked_sent_ns = p->sent_ns;
			if (!newest || p->pn > newest->pn)
				newest = p;
			if (t->ops->on_acked)
				t->ops->on_acked(t->user, p);
		}
	}
	if (!newest) /* RFC 9002 A.7: nothing newly acked */
		return;
	/* RTT from the largest newly acked media packet, if it is newer than
	 * anything acknowledged before (RFC 9002 5.1 takes a sample only when
	 * the largest acknowledged is newly acknowledged; an old packet acked
	 * late would inflate it). ACK Delay refers to the frame's largest,
	 * received no earlier than ours, so subtracting it never makes the
	 * sample smaller than the true RTT. */
	if (now >= newest->sent_ns && newest->pn + 1 > prev_largest) {
		uint64_t delay = ack->ack_delay_raw > (UINT64_MAX >> 32)
				     ? UINT64_MAX
				     : (ack->ack_delay_raw << t->cfg.ack_delay_exponent) * 1000;
		update_rtt(t, now - newest->sent_ns, delay, now);
		s->rtt_sample = 1;
	}
	detect_lost(t, now, s);
	t->pto_count = 0;
	pop_done(t, now);
}

uint64_t fp_tracker_timer(const struct fp_tracker *t)
{
	if (t->loss_time)
		return t->loss_time;
	if (!t->ack_eliciting_in_flight)
		return 0;
	return t->last_ack_eliciting_ns +
	       (fp_tracker_pto_period(t) << (t->pto_count < 16 ? t->pto_count : 16));
}

int fp_tracker_on_timeout(struct fp_tracker *t, uint64_t now, struct fp_trk_summary *s, int *probes)
{
	uint64_t when = fp_tracker_timer(t);

	memset(s, 0, sizeof(*s));
	if (probes)
		*probes = 0;
	if (!when || now < when)
		return 0;
	if (t->loss_time) {
		detect_lost(t, now, s);
		pop_done(t, now);
		return 1;
	}
	t->pto_count++;
	t->ptos++;
	if (probes)
		*probes = 2;
	return 2;
}

size_t fp_tracker_oldest(const struct fp_tracker *t, struct fp_media_pkt *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->count && n < max; i++)
		if (at(t, i)->state == FP_TRK_IN_FLIGHT)
			out[n++] = *at(t, i);
	return n;
}
