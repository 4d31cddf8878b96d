/* libFuzzer target: the media tracker's inputs (agent/lib/fp_tracker.c)
 * with the congestion controller (fp_cc.c) fed as moq-relayd feeds them.
 *
 * The input is a program of operations, one byte each plus arguments:
 * register a send (the agent's writer, fp_tracker_on_sent) or a kernel
 * event (fp_tracker_on_event, possibly out of number order and with a
 * DROPPED verdict), a wire ACK (random largest below the next wire number,
 * random gaps and lengths, random ACK Delay), time passing, the timer
 * firing. Wire numbers of other writers (ngtcp2) fall between ours.
 * Properties (besides ASan/UBSan): a packet is reported acked at most once
 * and only when an ACK range covers it; lost at most once; the tracker's
 * acked/lost counters equal the callbacks; its bytes_in_flight equals the
 * bytes of the registered packets neither acked nor lost (never negative,
 * i.e. never wrapped); the controller's bytes_in_flight equals it too; the
 * timer is never in the past after it fired. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"

#include "../../agent/lib/fp_cc.c"
#include "../../agent/lib/fp_tracker.c"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_tracker: %s failed at line %d\n", #cond, __LINE__);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAXP 4096

/* What the model knows of each wire number it registered. */
struct mp {
	uint64_t pn;
	uint32_t bytes;
	uint8_t state; /* 0 none, 1 in flight, 2 acked, 3 lost */
	uint8_t lost_once;
};

static struct mp model[MAXP];
static size_t nmodel;
static uint64_t inflight, acked_cb, lost_cb;
static const struct fp_pn_range *cur_ranges;
static size_t cur_n;
static struct fp_cc CC;

static struct mp *find(uint64_t pn)
{
	for (size_t i = 0; i < nmodel; i++)
		if (model[i].pn == pn)
			return &model[i];
	return NULL;
}

static int covered(uint64_t pn)
{
	for (size_t i = 0; i < cur_n; i++)
		if (pn >= cur_ranges[i].lo && pn <= cur_ranges[i].hi)
			return 1;
	return 0;
}

static void on_acked(void *u, const struct fp_media_pkt *p)
{
	struct mp *m = find(p->pn);

	(void)u;
	CHECK(m);
	CHECK(cur_ranges && covered(p->pn));
	CHECK(m->state == 1 || m->state == 3);
	CHECK(p->state == (m->state == 3 ? FP_TRK_LOST : FP_TRK_ACKED));
	if (m->state == 1) {
		inflight -= m->bytes;
		fp_cc_on_packet_acked(&CC, p->bytes, p->sent_ns);
	}
	m->state = 2;
	acked_cb++;
}

static void on_lost(void *u, const struct fp_media_pkt *p)
{
	struct mp *m = find(p->pn);

	(void)u;
	CHECK(m);
	CHECK(m->state == 1 && !m->lost_once);
	m->state = 3;
	m->lost_once = 1;
	inflight -= m->bytes;
	lost_cb++;
}

static const struct fp_tracker_ops ops = {.on_acked = on_acked, .on_lost = on_lost};

static void check_all(const struct fp_tracker *t)
{
	CHECK(t->bytes_in_flight == inflight);
	CHECK(inflight < (1ull << 40));
	CHECK(t->acked + t->spurious == acked_cb);
	CHECK(t->lost == lost_cb);
	CHECK(CC.bytes_in_flight == inflight);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	struct fp_tracker t;
	struct fp_tracker_cfg cfg = {.cap = 64 + (size_t)take(&in, 1)};
	uint64_t now = 1000000000ull, next_pn = take(&in, 2);
	struct fp_pn_range ranges[16];
	int ops_left = 2000;

	nmodel = 0;
	inflight = acked_cb = lost_cb = 0;
	cur_ranges = NULL;
	cur_n = 0;
	if (fp_tracker_init(&t, &cfg, &ops, NULL))
		return 0;
	fp_cc_init(&CC, NULL);
	while (in.n && ops_left--) {
		uint8_t op = (uint8_t)take(&in, 1);

		switch (op % 6) {
		case 0:	  /* the agent's writer sends one packet */
		case 1: { /* or a kernel event arrives (maybe out of order) */
			struct fp_media_pkt m = {0};
			uint64_t back = op % 6 == 1 ? take(&in, 1) % 4 : 0;
			int rc;

			next_pn += take(&in, 1) % 4; /* ngtcp2's numbers in between */
			m.pn = next_pn > back ? next_pn - back : next_pn;
			m.sid = 3 + 4 * (take(&in, 1) % 8);
			m.offset = take(&in, 2);
			m.len = (uint32_t)take(&in, 1) * 5;
			m.bytes = 60 + m.len;
			m.sent_ns = now;
			m.kind = FP_TRK_KIND_STREAM;
			if (op % 6 == 1) {
				struct moq_event ev = {
				    .ts_ns = now,
				    .pn = m.pn,
				    .down_stream_id = m.sid,
				    .offset = m.offset,
				    .data_len = m.len,
				    .wire_len = m.bytes,
				    .verdict = take(&in, 1) % 5 ? MOQ_V_FORWARDED : MOQ_V_DROPPED,
				    .kind = MOQ_EV_KIND_STREAM,
				};
				if (find(m.pn) || nmodel == MAXP) {
					next_pn++;
					break;
				}
				rc = fp_tracker_on_event(&t, &ev);
				if (ev.verdict == MOQ_V_DROPPED) {
					CHECK(rc == 1);
					break;
				}
			} else {
				if (find(m.pn) || nmodel == MAXP) {
					next_pn++;
					break;
				}
				rc = fp_tracker_on_sent(&t, &m);
			}
			if (rc == 0) {
				model[nmodel++] =
				    (struct mp){.pn = m.pn, .bytes = m.bytes, .state = 1};
				inflight += m.bytes;
				fp_cc_on_sent(&CC, m.bytes, op % 6 == 1);
			}
			if (!back)
				next_pn++;
			break;
		}
		case 2: { /* a wire ACK of numbers below the next one */
			struct fp_wire_ack a = {0};
			struct fp_trk_summary sum;
			size_t nr = 1 + take(&in, 1) % 16;
			uint64_t hi, lo;

			if (!next_pn)
				break;
			hi = next_pn - 1 - (take(&in, 1) % 8 < next_pn ? take(&in, 1) % 8 : 0);
			if (hi >= next_pn)
				hi = next_pn - 1;
			a.largest = hi;
			a.ack_delay_raw = take(&in, 2);
			for (size_t i = 0; i < nr; i++) {
				uint64_t len = take(&in, 1) % 32;

				lo = hi > len ? hi - len : 0;
				ranges[i] = (struct fp_pn_range){.lo = lo, .hi = hi};
				a.nranges = i + 1;
				if (lo < 2 + 1)
					break;
				uint64_t gap = take(&in, 1) % 8;
				if (lo < gap + 2 + 1)
					break;
				hi = lo - gap - 2;
			}
			a.ranges = ranges;
			cur_ranges = ranges;
			cur_n = a.nranges;
			fp_tracker_on_ack(&t, &a, now, &sum);
			fp_cc_on_losses(&CC, &sum, now);
			cur_ranges = NULL;
			break;
		}
		case 3: /* time passes */
			now += take(&in, 3) * 1000;
			break;
		case 4: { /* the timer fires when due */
			uint64_t due = fp_tracker_timer(&t);
			struct fp_trk_summary sum;
			int probes = 0;

			if (due && due > now)
				now = due;
			if (fp_tracker_on_timeout(&t, now, &sum, &probes) == 1)
				fp_cc_on_losses(&CC, &sum, now);
			due = fp_tracker_timer(&t);
			break;
		}
		case 5: { /* probe candidates */
			struct fp_media_pkt old[2];
			size_t n = fp_tracker_oldest(&t, old, 2);

			for (size_t i = 0; i < n; i++) {
				struct mp *m = find(old[i].pn);
				CHECK(m && m->state == 1);
			}
			break;
		}
		}
		check_all(&t);
	}
	fp_tracker_free(&t);
	return 0;
}
