/* moq-relayd: one walk of the daemon's state for every reader of the
 * gauges (gauges.h). */
#include "gauges.h"

#include <string.h>

#include "relayd.h"
#include "session/session.h"

void relayd_gauges(const struct relayd *d, struct relay_gauges *g)
{
	memset(g, 0, sizeof(*g));
	for (const struct peer *p = d->peers; p; p = p->next) {
		if (!p->s)
			continue;
		g->sessions++;
		if (moq_session_is_webtransport(p->s))
			g->webtransport_sessions++;
		if (p->is_publisher)
			g->publishers++;
		if (p->subs)
			g->subscribers++;
	}
	for (const struct relay_track *t = d->tracks.head; t; t = t->next) {
		g->tracks++;
		g->cache_bytes += t->cache.bytes;
		g->cache_groups += t->cache.ngroups;
		for (const struct relay_sub *s = t->subs; s; s = s->next)
			g->subscriptions++;
	}
}
