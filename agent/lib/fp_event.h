/* fp_event: the check of one moq_events ring-buffer record before the
 * agent acts on it. The record comes from the kernel (tc-progs), but the
 * agent must not trust its fields to be in range: a stale program of
 * another build, a map shared with a tool, or a bug there must not make
 * the agent index out of bounds or wrap an offset. Pure: no state. */
#ifndef FP_EVENT_H
#define FP_EVENT_H

#include <stddef.h>

#include "moq_maps.h"

enum fp_event_check {
	FP_EV_OK = 0,
	FP_EV_SHORT, /* fewer bytes than a struct moq_event */
	FP_EV_SLOT,  /* slot >= MOQ_MAX_SUBSCRIBERS */
	FP_EV_ENUM,  /* prog, reason, verdict, kind or fin out of range */
	FP_EV_RANGE, /* stream offset + length past 2^62, a length past a packet */
	FP_EV_MAX,
};

/* Copies the record at data (sz bytes, any alignment) into *out and checks
 * it: FP_EV_OK, or why it must be ignored. */
enum fp_event_check fp_event_check(const void *data, size_t sz, struct moq_event *out);
const char *fp_event_check_str(enum fp_event_check c);

#endif
