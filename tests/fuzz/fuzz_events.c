/* libFuzzer target: the agent's ring-event reader. Random records (any
 * size, any bytes) go through fp_event_check (agent/lib/fp_event.c) and
 * the accepted ones on as moq-relayd's consumer takes them
 * (agent/moq-relayd/fp_events.c fc_event): packet numbers noted in the
 * connection's number space, FORWARDED events registered in the tracker
 * and the congestion controller, stream ranges [offset, offset + len)
 * added up. A few bytes of the input also shape ACKs of those numbers.
 *
 * Properties (besides ASan/UBSan): an accepted record satisfies every
 * bound the consumer relies on (slot indexes the slot table, enums in
 * range, offset + length below 2^62 so range ends never wrap, lengths
 * within a packet); a refused one is never passed on; the tracker's and
 * the controller's bytes in flight stay equal and never wrap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/lib/fp_cc.c"
#include "../../agent/lib/fp_event.c"
#include "../../agent/lib/fp_pnspace.c"
#include "../../agent/lib/fp_tracker.c"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_events: %s failed at line %d\n", #cond, __LINE__);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static struct fp_cc CC;

static void on_acked(void *u, const struct fp_media_pkt *p)
{
	(void)u;
	if (p->state != FP_TRK_LOST)
		fp_cc_on_packet_acked(&CC, p->bytes, p->sent_ns);
}

static const struct fp_tracker_ops ops = {.on_acked = on_acked};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moq_conn_seq seq = {.next_pn = 1ull << 40};
	struct fp_pnspace ps;
	struct fp_tracker t;
	uint64_t now = 1000000000ull;

	if (fp_pnspace_init(&ps, &seq, 256))
		return 0;
	if (fp_tracker_init(&t, NULL, &ops, NULL)) {
		fp_pnspace_free(&ps);
		return 0;
	}
	fp_cc_init(&CC, NULL);
	while (size) {
		/* one byte: record length (a ring record may be short or long),
		 * then the record; an ACK every so often */
		size_t n = data[0] % (sizeof(struct moq_event) + 9);
		struct moq_event ev;
		enum fp_event_check c;

		data++, size--;
		if (n > size)
			n = size;
		c = fp_event_check(n ? data : NULL, n, &ev);
		if (c == FP_EV_OK) {
			CHECK(n >= sizeof(ev));
			CHECK(ev.slot < MOQ_MAX_SUBSCRIBERS);
			CHECK(ev.prog < MOQ_PROG_MAX && ev.reason < MOQ_R_MAX);
			CHECK(ev.verdict <= 1 && ev.kind <= 1 && ev.fin <= 1);
			CHECK(ev.data_len <= ev.wire_len && ev.wire_len <= 65535);
			if (ev.kind == MOQ_EV_KIND_STREAM) {
				uint64_t end = ev.offset + ev.data_len;

				CHECK(end >= ev.offset && end < (1ull << 62));
			}
			if (ev.verdict == MOQ_V_FORWARDED) {
				fp_pnspace_note_media(&ps, ev.pn);
				if (fp_tracker_on_event(&t, &ev) == 0)
					fp_cc_on_sent(&CC, ev.wire_len, 1);
			}
		} else {
			CHECK(c < FP_EV_MAX);
			CHECK(strcmp(fp_event_check_str(c), "?") != 0);
		}
		if (n && data[0] % 7 == 0 && t.count) {
			/* an ACK of the oldest tracked numbers */
			struct fp_pn_range r = {.lo = at(&t, 0)->pn, .hi = at(&t, t.count / 2)->pn};
			struct fp_wire_ack a = {.largest = r.hi, .nranges = 1, .ranges = &r};
			struct fp_trk_summary sum;

			now += 1000000;
			fp_tracker_on_ack(&t, &a, now, &sum);
			fp_cc_on_losses(&CC, &sum, now);
		}
		CHECK(t.bytes_in_flight < (1ull << 40));
		CHECK(CC.bytes_in_flight == t.bytes_in_flight);
		data += n, size -= n;
	}
	fp_tracker_free(&t);
	fp_pnspace_free(&ps);
	return 0;
}
