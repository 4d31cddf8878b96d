/* fp_pinghold: held PINGs of consumed ACK + PING packets (fp_pinghold.h). */
#include "fp_pinghold.h"

#include <string.h>

uint64_t fp_pinghold_hold_ns(uint64_t max_ack_delay_ns, uint64_t tick_ns, uint64_t srtt_ns)
{
	uint64_t ng = srtt_ns / 8, used;

	if (ng > max_ack_delay_ns)
		ng = max_ack_delay_ns;
	used = tick_ns + ng + FP_PINGHOLD_MARGIN_NS;
	return max_ack_delay_ns > used ? max_ack_delay_ns - used : 0;
}

bool fp_pinghold_add(struct fp_pinghold *h, uint64_t pn, uint64_t ts_ns, uint64_t hold_ns)
{
	uint64_t due = ts_ns + hold_ns;

	if (h->n >= FP_PINGHOLD_MAX)
		return true; /* the caller feeds what is held first */
	if (!h->n || due < h->due_ns)
		h->due_ns = due;
	h->ts_ns[h->n] = ts_ns;
	h->pn[h->n++] = pn;
	return !hold_ns || h->n == FP_PINGHOLD_MAX;
}

size_t fp_pinghold_take(struct fp_pinghold *h, uint64_t *out)
{
	size_t n = h->n;

	memcpy(out, h->pn, n * sizeof(*out));
	h->n = 0;
	h->due_ns = 0;
	return n;
}
