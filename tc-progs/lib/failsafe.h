/* moq_config_live: the agent is alive (fail-safe). */
#ifndef MOQ_FAILSAFE_H
#define MOQ_FAILSAFE_H

#include "maps.bpf.h"

/* Returns the config when the fast path may forward: layout version
 * matches, enabled, generation != 0 and the heartbeat is younger than the
 * timeout. NULL otherwise: the caller forwards nothing. */
static __always_inline struct moq_config *moq_config_live(void)
{
	__u32 key = 0;
	struct moq_config *cfg = bpf_map_lookup_elem(&moq_config, &key);
	__u64 now;

	if (!cfg || cfg->layout_version != MOQ_MAPS_LAYOUT_VERSION ||
	    !(cfg->flags & MOQ_CFG_F_ENABLED) || !cfg->generation)
		return 0;
	now = bpf_ktime_get_ns();
	/* stale when older than the timeout, and also when further in the
	 * future than the timeout: an agent in another time namespace, or a
	 * corrupt value, must not count as fresh forever once it is gone.
	 * A few ns in the future (the agent read the clock after us) pass. */
	if (now > cfg->heartbeat_ns && now - cfg->heartbeat_ns > cfg->heartbeat_timeout_ns)
		return 0;
	if (cfg->heartbeat_ns > now && cfg->heartbeat_ns - now > cfg->heartbeat_timeout_ns)
		return 0;
	if (!cfg->heartbeat_ns)
		return 0;
	return cfg;
}

#endif
