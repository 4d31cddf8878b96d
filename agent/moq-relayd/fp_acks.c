/* Media ACKs the kernel consumed (tc-progs/lib/ack_consume.h): read from
 * each slot's moq_acks ring (lib/fp_ackring) and fed to the tracker and the
 * congestion controller exactly like an ACK the receive hook translated,
 * with the kernel's receive time, then the same follow-ups (losses, queued
 * data, gate refill, timer). docs/fast-path-agent.md "Media ACKs in the
 * kernel". */
#include "fastpath.h"

#include <string.h>

#include <ngtcp2/ngtcp2.h>

#include "fp_internal.h"
#include "lib/fp_ackring.h"
#include "lib/fp_pingack.h"
#include "quic/quic.h"
#include "relayd.h"

struct drain_ctx {
	struct fp_conn *fc;
	size_t n;
};

/* The PING of a consumed ACK + PING packet, given to ngtcp2 as a packet of
 * its own with the subscriber's number (PING, PADDING for the
 * header-protection sample, the profile's tag) so that it acknowledges
 * that number as if it had read the packet. On a TLS connection the kernel
 * opened the packet (its tag verified, pn its full number): the layer's
 * entry for authenticated packets also learns the number. */
static void feed_ping(struct fp_conn *fc, uint64_t pn)
{
	uint8_t pkt[1 + MOQ_CID_LEN + 4 + 4 + MOQ_TAG_LEN];
	size_t o = 0;
	int rc;

	pkt[o++] = 0x43; /* short header, 4-byte packet number */
	memcpy(pkt + o, fc->rx_dcid, MOQ_CID_LEN);
	o += MOQ_CID_LEN;
	pkt[o++] = (uint8_t)(pn >> 24);
	pkt[o++] = (uint8_t)(pn >> 16);
	pkt[o++] = (uint8_t)(pn >> 8);
	pkt[o++] = (uint8_t)pn;
	pkt[o++] = 0x01; /* PING */
	memset(pkt + o, 0, 3);
	o += 3;
	memcpy(pkt + o, MOQ_PLAINTEXT_TAG, MOQ_TAG_LEN);
	o += MOQ_TAG_LEN;
	if (fc->tls_slot)
		rc = moq_quic_conn_read_opened(fc->qc, pn, pkt, o);
	else
		rc = moq_quic_conn_read_pkt(fc->qc, pkt, o);
	if (rc < 0)
		fc->d->fp->ack_ping_errors++;
	else
		fc->d->fp->ack_pings++;
}

void fp_conn_feed_pings(struct fp_conn *fc)
{
	uint64_t pn[FP_PINGHOLD_MAX];
	size_t n = fp_pinghold_take(&fc->ph, pn);

	for (size_t i = 0; i < n; i++)
		feed_ping(fc, pn[i]);
	if (n)
		fc->d->fp->ping_batches++;
}

struct fc_pings {
	struct fp_conn *fc;
	uint64_t pn[FP_PINGHOLD_MAX], ts[FP_PINGHOLD_MAX];
	size_t n;
};

/* The agent's own ACK of the held PINGs (fp_pingack.h): an ACK-only
 * plaintext-profile packet with a wire number of the shared space, like
 * the agent's media (not ngtcp2's: never acknowledged, nothing to
 * translate). ACK Delay: from the kernel's receive time of the largest
 * number, in the unit of the ack_delay_exponent the relay advertised
 * (RFC 9000 13.2.5, 18.2). Returns false when nothing could be written
 * (the caller feeds ngtcp2 instead). */
static bool answer_pings(struct fc_pings *p)
{
	struct fp_conn *fc = p->fc;
	uint8_t pkt[1 + 8 + 4 + FP_PINGACK_FRAME_MAX + 4 + MOQ_TAG_LEN];
	uint64_t full[FP_PINGHOLD_MAX], top = 0, top_ts = 0, now = fp_now_ns(), delay = 0, w;
	size_t o = 13, f;

	/* our transport parameter, fixed for the connection: read once */
	if (!fc->pa.ade_set) {
		ngtcp2_conn *ng = moq_quic_conn_ngtcp2(fc->qc);
		const ngtcp2_transport_params *tp =
		    ng ? ngtcp2_conn_get_local_transport_params(ng) : NULL;

		if (!tp)
			return false;
		fc->pa.ade = (uint8_t)tp->ack_delay_exponent;
		fc->pa.ade_set = 1;
	}
	for (size_t i = 0; i < p->n; i++) {
		full[i] = fp_pingack_decode32(&fc->pa, (uint32_t)p->pn[i]);
		if (!i || full[i] > top) {
			top = full[i];
			top_ts = p->ts[i];
		}
	}
	if (now > top_ts)
		delay = ((now - top_ts) / 1000) >> fc->pa.ade;
	f = fp_pingack_frame(&fc->pa, full, p->n, delay, pkt + o, FP_PINGACK_FRAME_MAX);
	if (!f)
		return false;
	o += f;
	while (o < 13 + 4) /* the header-protection sample needs 4 bytes after the number */
		pkt[o++] = 0x00;
	w = fp_pnspace_take_media(&fc->ps);
	pkt[0] = 0x43; /* short header, fixed bit, 4-byte packet number */
	memcpy(pkt + 1, fc->dcid, 8);
	pkt[9] = (uint8_t)(w >> 24);
	pkt[10] = (uint8_t)(w >> 16);
	pkt[11] = (uint8_t)(w >> 8);
	pkt[12] = (uint8_t)w;
	memcpy(pkt + o, MOQ_PLAINTEXT_TAG, MOQ_TAG_LEN);
	o += MOQ_TAG_LEN;
	if (moq_quic_conn_send_raw(fc->qc, pkt, o) < 0)
		fc->d->fp->ack_ping_errors++; /* like a lost ACK: the next repeats these */
	return true;
}

/* Answer what fc holds: plaintext slots with the agent's own ACK, TLS
 * slots (the agent would have to seal it) by feeding ngtcp2. */
static void answer_held(struct fp_conn *fc)
{
	struct fc_pings p = {.fc = fc};

	if (!fc->ph.n)
		return;
	if (fc->tls_slot) {
		fp_conn_feed_pings(fc);
		return;
	}
	memcpy(p.ts, fc->ph.ts_ns, fc->ph.n * sizeof(p.ts[0]));
	p.n = fp_pinghold_take(&fc->ph, p.pn);
	if (answer_pings(&p)) {
		fc->d->fp->ack_pings += p.n;
		fc->d->fp->ping_batches++;
		fc->d->fp->ping_acks++;
		return;
	}
	for (size_t i = 0; i < p.n; i++)
		feed_ping(fc, p.pn[i]);
	fc->d->fp->ping_batches++;
}

void fp_conn_feed_due_pings(struct fp_conn *fc, uint64_t now_ns)
{
	if (fp_pinghold_due(&fc->ph, now_ns))
		answer_held(fc);
}

/* A consumed PING waits (fp_pinghold.h) so that the next ones share the
 * relay's ACK: within the max_ack_delay we advertised, less one tick (the
 * latest the agent looks again) and, when ngtcp2 answers (TLS slots), its
 * own delay after the feed. */
static void hold_ping(struct fp_conn *fc, uint64_t pn, uint64_t ts_ns)
{
	struct relayd_fp *fp = fc->d->fp;
	ngtcp2_conn_info ci = {0};
	uint64_t hold;

	if (fc->ph.n == FP_PINGHOLD_MAX)
		answer_held(fc);
	/* only ngtcp2's own delay counts, and only when it answers */
	if (fc->tls_slot) {
		ngtcp2_conn *ng = moq_quic_conn_ngtcp2(fc->qc);

		if (ng)
			ngtcp2_conn_get_conn_info(ng, &ci);
	}
	hold = fp_pinghold_hold_ns(fp->ping_mad_ns, fp->tick_ns, ci.smoothed_rtt);
	if (fp_pinghold_add(&fc->ph, pn, ts_ns, hold))
		answer_held(fc);
}

void fp_conn_take_ping(struct fp_conn *fc, uint8_t *pkt, size_t len)
{
	uint32_t field;

	if (fc->slot < 0 || fc->tls_slot || !fc->d->fp->ack_ping)
		return;
	if (!fp_pkt_take_ping(pkt, len, MOQ_CID_LEN, &field))
		return;
	fc->d->fp->pings_taken++;
	/* received now: the loop's time, a little after the kernel's */
	hold_ping(fc, field, fp_now_ns());
}

static void on_kernel_ack(void *user, const struct fp_wire_ack *ack, uint64_t ts_ns,
			  int64_t ping_pn)
{
	struct drain_ctx *c = user;
	struct fp_trk_summary sum;

	/* RTT samples and loss times count from when the ACK arrived, not
	 * from when the agent got to it */
	fp_tracker_on_ack(&c->fc->trk, ack, ts_ns, &sum);
	fp_cc_on_losses(&c->fc->cc, &sum, ts_ns);
	c->n++;
	if (ping_pn >= 0)
		hold_ping(c->fc, (uint64_t)ping_pn, ts_ns);
}

size_t fp_conn_drain_acks(struct fp_conn *fc)
{
	struct drain_ctx c = {.fc = fc};
	struct moq_acks *a;

	if (fc->slot < 0)
		return 0;
	fp_tls_sub_rx_sync(fc);
	a = fp_maps_acks(&fc->d->fp->maps, (uint32_t)fc->slot);
	if (!a || !fp_ackring_pending(a))
		return 0;
	fp_ackring_drain(a, 0, on_kernel_ack, &c);
	fp_conn_feed_due_pings(fc, fp_now_ns());
	if (c.n) {
		fp_conn_process_lost(fc);
		fp_conn_pump_pending(fc);
		fp_conn_gate_update(fc);
		fp_conn_arm_timer(fc);
		fc->acked_tick = fc->d->fp->ticks;
	}
	fc->kernel_acks += c.n;
	return c.n;
}

/* Connection flow control: ngtcp2 learns of its share of MAX_DATA only
 * from a MAX_DATA the receive hook writes into a received packet. When one
 * is due, the kernel must let the next packet through rather than wait for
 * a PING or the 250 ms pass. */
static void pass_for_max_data(struct fp_conn *fc, struct moq_acks *a)
{
	ngtcp2_conn *ng;

	if (!fc->flow_set)
		return;
	/* ngtcp2's use moves only when it writes (the send hook counts
	 * those): its connection is not read on every tick of every slot */
	if (fp_ackx_ng_tx_moved(fc->x, fc->ps.ng_packets + fc->ps.send_errors)) {
		ng = moq_quic_conn_ngtcp2(fc->qc);
		if (!ng)
			return;
		fp_ackx_set_ng_used(fc->x, fc->x->ng_max_data - ngtcp2_conn_get_max_data_left(ng));
	}
	if (fp_ackx_raise_pending(fc->x))
		fp_ackring_pass_next(a);
}

size_t relayd_fp_drain_acks(struct relayd *d)
{
	struct relayd_fp *fp = d->fp;
	size_t n = 0;
	bool drained = false;

	if (!fp)
		return 0;
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];
		struct moq_acks *a = fp_maps_acks(&fp->maps, i);

		if (!fc || !a || !fp_ackring_pending(a))
			continue;
		pass_for_max_data(fc, a);
		/* events first: an ACK may cover packets whose events are
		 * still queued */
		if (!drained) {
			fp_drain(fp);
			drained = true;
		}
		n += fp_conn_drain_acks(fc);
	}
	return n;
}
