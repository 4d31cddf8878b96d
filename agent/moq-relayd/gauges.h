/* moq-relayd: the gauges (sessions, tracks, cache, ...) walked from the
 * daemon's state, for the stats line, the control socket and metrics. */
#ifndef RELAYD_GAUGES_H
#define RELAYD_GAUGES_H

#include "lib/relay_stats.h"

struct relayd;

/* Fill g from d->peers and d->tracks. */
void relayd_gauges(const struct relayd *d, struct relay_gauges *g);

#endif
