/* Bounded-memory statistics for endpoints and benchmarks.
 *
 * moq_hist: a log-linear histogram of uint64 values (e.g. latency in ns).
 *   Values below 128 are counted exactly; above, each power of two is split
 *   into 128 buckets, so a reported percentile is within 0.8% of the true
 *   value (it returns the middle of the bucket, clamped to [min, max]).
 *   Fixed size (about 58 KiB), no allocation after moq_hist_new.
 *
 * moq_seqwin: which sequence numbers of a stream of 0, 1, 2, ... arrived,
 *   with duplicates and gaps, in a sliding window of MOQ_SEQWIN_BITS
 *   sequence numbers (reordering deeper than the window counts the late
 *   object as a duplicate-or-late and not as received).
 */
#ifndef MOQ_MEDIA_STATS_H
#define MOQ_MEDIA_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOQ_HIST_SUB_BITS 7
#define MOQ_HIST_SUB (1u << MOQ_HIST_SUB_BITS)
#define MOQ_HIST_BUCKETS ((64 - MOQ_HIST_SUB_BITS + 1) * MOQ_HIST_SUB)

struct moq_hist {
	uint64_t count;
	uint64_t min, max;
	long double sum;
	uint64_t buckets[MOQ_HIST_BUCKETS];
};

/* Allocate a zeroed histogram (NULL on ENOMEM); free with free(). */
struct moq_hist *moq_hist_new(void);
void moq_hist_reset(struct moq_hist *h);
void moq_hist_add(struct moq_hist *h, uint64_t v);
/* Add every value of src to dst. */
void moq_hist_merge(struct moq_hist *dst, const struct moq_hist *src);
/* The p-th percentile (0 < p <= 100): the smallest recorded value v such
 * that at least p% of values are <= v (to the bucket's resolution). 0 when
 * empty. p = 100 gives the exact max. */
uint64_t moq_hist_percentile(const struct moq_hist *h, double p);
double moq_hist_mean(const struct moq_hist *h);

/* Bucket helpers (exposed for tests). */
unsigned moq_hist_bucket(uint64_t v);
uint64_t moq_hist_bucket_low(unsigned idx);
uint64_t moq_hist_bucket_high(unsigned idx); /* inclusive */

/* ---- sequence window ----------------------------------------------------- */

#define MOQ_SEQWIN_BITS (1u << 20) /* 128 KiB per tracker */

struct moq_seqwin {
	uint64_t base;	     /* every seq < base is settled (or before the start) */
	uint64_t next;	     /* 1 + highest seq seen (base if none yet) */
	uint64_t received;   /* distinct seqs accepted */
	uint64_t missing;    /* settled seqs >= start that never arrived */
	uint64_t duplicates; /* seqs seen twice */
	uint64_t late;	     /* seqs that arrived below the window */
	uint64_t reordered;  /* seqs that arrived after a higher one */
	uint64_t start;	     /* first seq of the stream */
	bool started;	     /* a seq was added (base = start of the stream) */
	bool slid;	     /* the window has moved: base can no longer drop */
	uint64_t *bits;	     /* MOQ_SEQWIN_BITS bits, ring indexed by seq */
};

/* 0 or -1 (ENOMEM). */
int moq_seqwin_init(struct moq_seqwin *w);
void moq_seqwin_free(struct moq_seqwin *w);
/* The stream starts at or below first (e.g. a subscriber that joins late
 * knows the object it received first is k objects into its group): move
 * the start down to first while the window has not slid yet and the span
 * still fits. The first add() starts the stream at its seq otherwise. */
void moq_seqwin_floor(struct moq_seqwin *w, uint64_t first);
/* Record seq. Returns 1 if new, 0 if a duplicate, -1 if below the window. */
int moq_seqwin_add(struct moq_seqwin *w, uint64_t seq);
/* Missing so far: settled gaps plus holes between the start and the
 * highest seq seen. */
uint64_t moq_seqwin_missing(const struct moq_seqwin *w);
/* Missing if `expected` objects were sent from the start on (seqs start ..
 * start + expected - 1); gaps past them do not count (but once the window
 * has slid past start + expected, its settled gaps all do). */
uint64_t moq_seqwin_missing_of(const struct moq_seqwin *w, uint64_t expected);
/* First seq of the stream (valid once started). */
uint64_t moq_seqwin_start(const struct moq_seqwin *w);

/* ---- completed groups ---------------------------------------------------- */

/* Counts groups whose every object arrived, given the number of objects
 * per group announced in each object (payload.h "objects in this group").
 * Tracks the most recent MOQ_GROUPS_TRACKED groups. */
#define MOQ_GROUPS_TRACKED 4096

struct moq_group_count {
	uint64_t complete;
	struct {
		bool used;
		bool done;
		uint64_t group_id;
		uint32_t expected;
		uint32_t got;
	} slot[MOQ_GROUPS_TRACKED];
};

/* Record one (new, not duplicate) object of group_id. Returns true when
 * this object completed the group. */
bool moq_group_count_add(struct moq_group_count *g, uint64_t group_id, uint32_t expected);

#endif
