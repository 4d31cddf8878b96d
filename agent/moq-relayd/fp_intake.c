/* Batched publisher intake (issue 18; docs/fast-path-agent.md "Batched
 * publisher intake"). While the kernel carries all of a publisher's media
 * (every subscriber of its tracks on the fast path), the agent reads the
 * publisher's own socket once per service tick instead of waking for each
 * of its packets: the clones left in the kernel already, what the agent
 * does with the original (ACK it, keep its bytes, fill gaps) can wait one
 * tick. Anything that must be served promptly (a subscriber in userspace,
 * a pending subscriber, a forwarded FETCH) releases the socket. */
#include <errno.h>
#include <string.h>

#include "fastpath.h"
#include "fp_internal.h"
#include "log.h"
#include "session/session.h"
#include "quic/quic.h"
#include "relayd.h"

#define MOD "fastpath"
/* kept between the tick plus ngtcp2's own ACK delay and the
 * max_ack_delay the relay advertised (timer and scheduling slop) */
#define INTAKE_MARGIN_NS 5000000ull

/* The service period: poll_cb's (fastpath.c) */
uint64_t fp_intake_period(const struct relayd_fp *fp)
{
	return (fp->slot_hi || fp->intake_held) && fp->tick_ns < fp->poll_ns ? fp->tick_ns
									     : fp->poll_ns;
}

/* Does every ACK of a packet that waited one period still leave within the
 * max_ack_delay advertised to the peer (RFC 9000 13.2.1)? ngtcp2 delays
 * an ACK by min(max_ack_delay, srtt/8) after it reads the packet (at once
 * after two ack-eliciting ones, RFC 9000 13.2.2). */
bool fp_intake_ack_bound_ok(uint64_t period_ns, uint64_t mad_ns, uint64_t srtt_ns)
{
	uint64_t own = srtt_ns / 8 < mad_ns ? srtt_ns / 8 : mad_ns;

	return period_ns + own + INTAKE_MARGIN_NS <= mad_ns;
}

static bool intake_wanted(struct relayd_fp *fp, struct peer *p, uint64_t period)
{
	struct moq_quic_conn *c = moq_session_conn(p->s);
	struct moq_quic_conn_stats st;

	if (!c || !p->is_publisher || p->closing || !p->intake_fast || p->intake_slow || !p->fp ||
	    !p->fp->upstream_registered)
		return false;
	moq_quic_conn_stats(c, &st);
	return fp_intake_ack_bound_ok(period, fp->ping_mad_ns, st.srtt_ns);
}

/* Decide, then read: reading may close sessions (peers are freed), so the
 * reads run one at a time from the head of the list, each peer flagged. */
void fp_intake_pass(struct relayd *d)
{
	struct relayd_fp *fp = d->fp;
	uint64_t period = fp_intake_period(fp);
	bool block = false;
	struct peer *p;

	for (p = d->peers; p; p = p->next) {
		p->intake_fast = 0;
		p->intake_slow = false;
		p->intake_due = false;
		/* a FETCH forwarded to a publisher: its answer is awaited */
		if (p->fetches)
			block = true;
	}
	for (struct relay_track *tr = d->tracks.head; tr; tr = tr->next) {
		struct peer *up = tr->up_peer;

		if (!up)
			continue;
		for (struct relay_sub *s = tr->subs; s; s = s->next) {
			struct peer *sp = s->peer;

			if (s->fast && sp && sp->fp && sp->fp->slot >= 0 && !sp->fp->agent_subs)
				up->intake_fast++;
			else
				up->intake_slow = true;
		}
	}
	fp->intake_held = 0;
	for (p = d->peers; p; p = p->next) {
		struct moq_quic_conn *c = p->s ? moq_session_conn(p->s) : NULL;
		bool want;

		if (!c)
			continue;
		want = !block && intake_wanted(fp, p, period);
		if (want) {
			if (!moq_quic_conn_rx_held(c)) {
				if (moq_quic_conn_rx_hold(c, 1))
					continue; /* no socket of its own */
				fp->intake_holds++;
				moq_dbg(MOD, "%s: publisher read once per tick (%llu ms)",
					moq_session_name(p->s),
					(unsigned long long)(period / 1000000));
			}
			fp->intake_held++;
			p->intake_due = true;
		} else if (moq_quic_conn_rx_held(c)) {
			p->intake_due = true; /* released below: it reads at once */
		}
	}
	for (;;) {
		struct moq_quic_conn *c;
		int n;

		for (p = d->peers; p && !p->intake_due; p = p->next)
			;
		if (!p)
			break;
		p->intake_due = false;
		c = moq_session_conn(p->s);
		if (!moq_quic_conn_rx_held(c))
			continue;
		if (p->intake_fast && !p->intake_slow && !block && intake_wanted(fp, p, period)) {
			n = moq_quic_conn_rx_read(c);
			fp->intake_reads++;
			if (n > 0)
				fp->intake_pkts += (uint64_t)n;
		} else {
			fp->intake_releases++;
			moq_quic_conn_rx_hold(c, 0);
		}
	}
}

static void intake_kick_cb(struct moq_loop *loop, void *arg)
{
	struct relayd *d = arg;

	(void)loop;
	if (d->fp)
		fp_intake_pass(d);
}

/* Something may need a held publisher's bytes now (a subscription, a
 * FETCH, a subscriber leaving): decide again and read, after the current
 * dispatch (the caller may be inside another connection's callback). */
void relayd_fp_intake_kick(struct relayd *d)
{
	struct relayd_fp *fp = d->fp;

	if (!fp || !fp->intake_held)
		return;
	if (moq_loop_defer(d->loop, intake_kick_cb, d))
		moq_warn(MOD, "cannot defer the intake pass: held publishers wait for the tick");
}
