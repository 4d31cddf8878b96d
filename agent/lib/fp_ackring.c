/* fp_ackring: read media ACKs the kernel consumed (fp_ackring.h). */
#include "fp_ackring.h"

size_t fp_ackring_drain(struct moq_acks *a, size_t max, fp_ackring_cb cb, void *user)
{
	uint64_t tail = __atomic_load_n(&a->tail, __ATOMIC_ACQUIRE);
	size_t n = 0;

	while (!max || n < max) {
		const struct moq_ack_rec *r = &a->rec[tail % MOQ_ACK_RING];
		struct fp_pn_range rg[MOQ_ACK_REC_RANGES];
		struct fp_wire_ack ack = {0};
		uint64_t ts;
		int64_t ping;
		uint32_t nr;

		if (__atomic_load_n(&a->head, __ATOMIC_ACQUIRE) == tail)
			break;
		if (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) != tail + 1)
			break; /* reserved, not committed yet */
		nr = r->nranges;
		if (nr > MOQ_ACK_REC_RANGES)
			nr = MOQ_ACK_REC_RANGES; /* the kernel never writes more */
		for (uint32_t i = 0; i < nr; i++) {
			rg[i].lo = r->ranges[i].lo;
			rg[i].hi = r->ranges[i].hi;
		}
		ack.largest = r->largest;
		ack.ack_delay_raw = r->ack_delay_raw;
		ack.nranges = nr;
		ack.ranges = rg;
		ack.has_ecn = !!(r->flags & MOQ_ACK_REC_F_ECN);
		for (int i = 0; i < 3; i++)
			ack.ecn[i] = r->ecn[i];
		ts = r->ts_ns;
		/* the number as the kernel decoded it: a TLS slot's is
		 * full, the plaintext profile's its 32-bit field */
		ping = r->flags & MOQ_ACK_REC_F_PING ? (int64_t)(r->pn & ((1ull << 62) - 1)) : -1;
		/* copied: the kernel may reuse the record from here */
		tail++;
		__atomic_store_n(&a->tail, tail, __ATOMIC_RELEASE);
		n++;
		if (nr)
			cb(user, &ack, ts, ping);
	}
	return n;
}

uint64_t fp_ackring_pending(const struct moq_acks *a)
{
	return __atomic_load_n(&a->head, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&a->tail, __ATOMIC_ACQUIRE);
}

void fp_ackring_enable(struct moq_acks *a)
{
	__atomic_store_n(&a->tail, __atomic_load_n(&a->head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	__atomic_store_n(&a->last_pass_ns, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&a->enabled, MOQ_ACKS_EN_ACK, __ATOMIC_RELEASE);
}

void fp_ackring_enable_ping(struct moq_acks *a)
{
	__atomic_fetch_or(&a->enabled, MOQ_ACKS_EN_PING, __ATOMIC_RELEASE);
}

void fp_ackring_set_pass_ms(struct moq_acks *a, uint32_t ms)
{
	__atomic_store_n(&a->pass_ms, ms, __ATOMIC_RELEASE);
}

uint32_t fp_ackring_pass_ms(uint64_t idle_timeout_ms)
{
	uint64_t ms = idle_timeout_ms / FP_ACK_PASS_PER_IDLE;

	if (ms > FP_ACK_PASS_MAX_MS)
		ms = FP_ACK_PASS_MAX_MS;
	return ms ? (uint32_t)ms : 1;
}

void fp_ackring_pass_next(struct moq_acks *a)
{
	/* the kernel passes a packet once the pass period went by since this */
	__atomic_store_n(&a->last_pass_ns, 0, __ATOMIC_RELEASE);
}

void fp_ackring_disable(struct moq_acks *a)
{
	__atomic_store_n(&a->enabled, 0, __ATOMIC_RELEASE);
}
