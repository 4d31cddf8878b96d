/* moq_stat_count: one packet under (program, reason) in moq_stats. */
#ifndef MOQ_STATS_H
#define MOQ_STATS_H

#include "maps.bpf.h"

static __always_inline void moq_stat_count(__u32 prog, __u32 reason, __u32 bytes)
{
	__u32 key = prog * MOQ_R_MAX + reason;
	struct moq_stat *s;

	if (reason >= MOQ_R_MAX)
		return;
	s = bpf_map_lookup_elem(&moq_stats, &key);
	if (!s)
		return;
	s->packets += 1; /* per-CPU value: no atomics needed */
	s->bytes += bytes;
}

#endif
