#include "relay_stats.h"

#include <stdio.h>

int relay_stats_line(struct relay_stats *st, const struct relay_gauges *g, uint64_t now_ns,
		     char *buf, size_t len)
{
	double dt = st->last_ns && now_ns > st->last_ns ? (double)(now_ns - st->last_ns) / 1e9 : 0;
	double oin = 0, bin = 0, oout = 0, bout = 0;
	int n;

	if (dt > 0) {
		oin = (double)(st->objects_in - st->last_objects_in) / dt;
		bin = (double)(st->bytes_in - st->last_bytes_in) / dt;
		oout = (double)(st->objects_out - st->last_objects_out) / dt;
		bout = (double)(st->bytes_out - st->last_bytes_out) / dt;
	}
	n = snprintf(buf, len,
		     "stats sessions=%zu publishers=%zu subscribers=%zu tracks=%zu "
		     "in_objects/s=%.1f in_bytes/s=%.0f out_objects/s=%.1f "
		     "out_bytes/s=%.0f cache_bytes=%zu cache_groups=%zu "
		     "objects_out=%llu from_cache=%llu slow_resets=%llu",
		     g->sessions, g->publishers, g->subscribers, g->tracks, oin, bin, oout, bout,
		     g->cache_bytes, g->cache_groups, (unsigned long long)st->objects_out,
		     (unsigned long long)st->objects_from_cache,
		     (unsigned long long)st->streams_reset_slow);
	st->last_ns = now_ns;
	st->last_objects_in = st->objects_in;
	st->last_bytes_in = st->bytes_in;
	st->last_objects_out = st->objects_out;
	st->last_bytes_out = st->bytes_out;
	return n;
}
