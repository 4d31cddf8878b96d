/* fp_sentlog: bulk reader of the egress program's sent log (fp_sentlog.h). */
#include "fp_sentlog.h"

#include <string.h>

#define N MOQ_SENT_LOG_ENTRIES

size_t fp_sentlog_read(struct moq_sent_log *l, fp_sentlog_fn fn, void *ctx, size_t max,
		       struct fp_sentlog_stats *st)
{
	uint64_t t = __atomic_load_n(&l->tail, __ATOMIC_RELAXED);
	uint64_t h = __atomic_load_n(&l->head, __ATOMIC_ACQUIRE);
	size_t n = 0;

	while (t != h && n < max) {
		struct moq_sent_ent *src = &l->ent[t & (N - 1)], e;

		/* entry t is complete once its lap count reached t / N + 1;
		 * the acquire orders the copy after the writer's stores */
		if (__atomic_load_n(&src->seq, __ATOMIC_ACQUIRE) != t / N + 1) {
			if (st)
				st->partial++;
			break;
		}
		/* the kernel cannot reuse this entry before tail passes it */
		memcpy(&e, src, sizeof(e));
		t++;
		n++;
		if (e.kind == MOQ_SENT_KIND_VOID) {
			if (st)
				st->voids++;
			continue;
		}
		if (st)
			st->entries++;
		fn(ctx, &e);
	}
	if (n)
		__atomic_store_n(&l->tail, t, __ATOMIC_RELEASE);
	return n;
}

uint64_t fp_sentlog_pending(const struct moq_sent_log *l)
{
	return __atomic_load_n(&l->head, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&l->tail, __ATOMIC_RELAXED);
}

void fp_sentlog_skip(struct moq_sent_log *l)
{
	__atomic_store_n(&l->tail, __atomic_load_n(&l->head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
}
