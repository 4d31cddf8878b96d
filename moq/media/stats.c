/* Bounded-memory statistics (see stats.h). */
#include "media/stats.h"

#include <stdlib.h>
#include <string.h>

/* ---- histogram ----------------------------------------------------------- */

unsigned moq_hist_bucket(uint64_t v)
{
	if (v < MOQ_HIST_SUB)
		return (unsigned)v;
	unsigned e = 63 - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
	uint64_t m = v >> (e - MOQ_HIST_SUB_BITS);	/* [SUB, 2*SUB) */
	return (e - MOQ_HIST_SUB_BITS + 1) * MOQ_HIST_SUB + (unsigned)(m - MOQ_HIST_SUB);
}

uint64_t moq_hist_bucket_low(unsigned idx)
{
	if (idx < MOQ_HIST_SUB)
		return idx;
	unsigned k = idx / MOQ_HIST_SUB; /* >= 1 */
	unsigned shift = k - 1;
	uint64_t m = MOQ_HIST_SUB + idx % MOQ_HIST_SUB;
	return m << shift;
}

uint64_t moq_hist_bucket_high(unsigned idx)
{
	if (idx < MOQ_HIST_SUB)
		return idx;
	unsigned shift = idx / MOQ_HIST_SUB - 1;
	return moq_hist_bucket_low(idx) + ((1ull << shift) - 1);
}

struct moq_hist *moq_hist_new(void)
{
	struct moq_hist *h = calloc(1, sizeof(*h));
	if (h)
		moq_hist_reset(h);
	return h;
}

void moq_hist_reset(struct moq_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void moq_hist_add(struct moq_hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->buckets[moq_hist_bucket(v)]++;
}

void moq_hist_merge(struct moq_hist *dst, const struct moq_hist *src)
{
	if (!src->count)
		return;
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < MOQ_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

uint64_t moq_hist_percentile(const struct moq_hist *h, double p)
{
	if (!h->count)
		return 0;
	if (p >= 100.0)
		return h->max;
	if (p < 0)
		p = 0;
	double r = p / 100.0 * (double)h->count;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	uint64_t cum = 0;
	for (unsigned i = 0; i < MOQ_HIST_BUCKETS; i++) {
		cum += h->buckets[i];
		if (cum >= rank) {
			uint64_t lo = moq_hist_bucket_low(i), hi = moq_hist_bucket_high(i);
			uint64_t v = lo + (hi - lo) / 2;
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

double moq_hist_mean(const struct moq_hist *h)
{
	return h->count ? (double)(h->sum / h->count) : 0.0;
}

/* ---- sequence window ------------------------------------------------------ */

#define WORDS (MOQ_SEQWIN_BITS / 64)

static uint64_t inwin_count(const struct moq_seqwin *w);

int moq_seqwin_init(struct moq_seqwin *w)
{
	memset(w, 0, sizeof(*w));
	w->bits = calloc(WORDS, sizeof(uint64_t));
	return w->bits ? 0 : -1;
}

void moq_seqwin_free(struct moq_seqwin *w)
{
	free(w->bits);
	w->bits = NULL;
}

static bool bit_get(const struct moq_seqwin *w, uint64_t seq)
{
	uint64_t i = seq % MOQ_SEQWIN_BITS;
	return (w->bits[i / 64] >> (i % 64)) & 1;
}

static void bit_set(struct moq_seqwin *w, uint64_t seq)
{
	uint64_t i = seq % MOQ_SEQWIN_BITS;
	w->bits[i / 64] |= 1ull << (i % 64);
}

static void bit_clear(struct moq_seqwin *w, uint64_t seq)
{
	uint64_t i = seq % MOQ_SEQWIN_BITS;
	w->bits[i / 64] &= ~(1ull << (i % 64));
}

/* Settle every seq below new_base. */
static void advance(struct moq_seqwin *w, uint64_t new_base)
{
	uint64_t end = w->base + MOQ_SEQWIN_BITS;
	if (new_base >= end) {
		/* the whole window settles, and everything between it and
		 * new_base was never seen */
		w->missing += MOQ_SEQWIN_BITS - inwin_count(w);
		w->missing += new_base - end;
		memset(w->bits, 0, WORDS * sizeof(uint64_t));
		w->base = new_base;
		return;
	}
	for (uint64_t s = w->base; s < new_base; s++) {
		if (bit_get(w, s))
			bit_clear(w, s);
		else
			w->missing++;
	}
	w->base = new_base;
}

static uint64_t inwin_count(const struct moq_seqwin *w)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < WORDS; i++)
		n += (uint64_t)__builtin_popcountll(w->bits[i]);
	return n;
}

void moq_seqwin_floor(struct moq_seqwin *w, uint64_t first)
{
	if (!w->started) {
		w->started = true;
		w->base = w->next = w->start = first;
		return;
	}
	if (first >= w->base || w->slid || w->next - first > MOQ_SEQWIN_BITS)
		return;
	w->base = w->start = first;
}

int moq_seqwin_add(struct moq_seqwin *w, uint64_t seq)
{
	if (!w->started)
		moq_seqwin_floor(w, seq);
	if (seq < w->base) {
		moq_seqwin_floor(w, seq);
		if (seq < w->base) {
			w->late++;
			return -1;
		}
	}
	if (seq >= w->base + MOQ_SEQWIN_BITS) {
		w->slid = true;
		advance(w, seq - MOQ_SEQWIN_BITS + 1);
	}
	if (bit_get(w, seq)) {
		w->duplicates++;
		return 0;
	}
	bit_set(w, seq);
	w->received++;
	if (seq + 1 > w->next)
		w->next = seq + 1;
	else
		w->reordered++;
	return 1;
}

uint64_t moq_seqwin_missing(const struct moq_seqwin *w)
{
	uint64_t m = w->missing;
	if (w->next > w->base)
		m += (w->next - w->base) - inwin_count(w);
	return m;
}

/* Seqs in [from, to) that arrived (within the window). */
static uint64_t range_count(const struct moq_seqwin *w, uint64_t from, uint64_t to)
{
	uint64_t n = 0;

	while (from < to) {
		uint64_t i = from % MOQ_SEQWIN_BITS, take = 64 - i % 64;
		uint64_t word = w->bits[i / 64] >> (i % 64);

		if (take > to - from)
			take = to - from;
		if (take < 64)
			word &= (1ull << take) - 1;
		n += (uint64_t)__builtin_popcountll(word);
		from += take;
	}
	return n;
}

uint64_t moq_seqwin_missing_of(const struct moq_seqwin *w, uint64_t expected)
{
	uint64_t m = moq_seqwin_missing(w);
	uint64_t hi = w->next > w->base ? w->next : w->base;
	uint64_t end = w->start + expected;

	if (end >= hi)
		return m + (end - hi);
	/* seqs past the expected ones arrived: their gaps are not among
	 * the expected (a settled gap below base is counted as one: the
	 * window has slid past the expected ones then) */
	m = w->missing;
	if (end > w->base)
		m += (end - w->base) - range_count(w, w->base, end);
	return m < expected ? m : expected;
}

uint64_t moq_seqwin_start(const struct moq_seqwin *w)
{
	return w->start;
}

/* ---- groups ------------------------------------------------------------------ */

bool moq_group_count_add(struct moq_group_count *g, uint64_t group_id, uint32_t expected)
{
	unsigned i = group_id % MOQ_GROUPS_TRACKED;
	if (!g->slot[i].used || g->slot[i].group_id != group_id) {
		g->slot[i].used = true;
		g->slot[i].done = false;
		g->slot[i].group_id = group_id;
		g->slot[i].got = 0;
		g->slot[i].expected = expected;
	}
	if (g->slot[i].done)
		return false;
	if (expected > g->slot[i].expected)
		g->slot[i].expected = expected;
	g->slot[i].got++;
	if (g->slot[i].expected && g->slot[i].got >= g->slot[i].expected) {
		g->slot[i].done = true;
		g->complete++;
		return true;
	}
	return false;
}
