/* fp_sentlog: the agent's reader of a subscriber's sent log
 * (struct moq_sent_log in tc-progs/moq_maps.h, mmapped from moq_sent_log).
 *
 * The egress program appends one entry per forwarded clone; the agent reads
 * them in bulk, from a timer or before it needs them (an ACK to process,
 * upstream bytes to gap-fill), without a system call. Single reader per
 * log; any number of concurrent writers (one per CPU). */
#ifndef FP_SENTLOG_H
#define FP_SENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "moq_maps.h"

/* Called with a copy of each complete, non-void entry, oldest first. */
typedef void (*fp_sentlog_fn)(void *ctx, const struct moq_sent_ent *e);

struct fp_sentlog_stats {
	uint64_t entries; /* non-void entries handed to fn */
	uint64_t voids;	  /* reserved by a clone that was not forwarded */
	uint64_t partial; /* reads that stopped at an entry still being written */
};

/* Hands up to max complete entries from tail on to fn, then stores the new
 * tail (the room is free for the kernel again). Stops early at an entry a
 * writer reserved but has not published yet: it and everything after it
 * are read next time. Returns the number of entries consumed (voids too). */
size_t fp_sentlog_read(struct moq_sent_log *l, fp_sentlog_fn fn, void *ctx, size_t max,
		       struct fp_sentlog_stats *st);

/* Entries reserved but not read yet (published or not). */
uint64_t fp_sentlog_pending(const struct moq_sent_log *l);

/* Drops what the log holds (a slot taken over by another connection):
 * tail = head. */
void fp_sentlog_skip(struct moq_sent_log *l);

#endif
