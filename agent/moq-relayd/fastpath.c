/* moq-relayd: the fast path wiring (maps, hooks, tracker, writer). */
#include "relayd.h"

#include "lib/fp_info.h"

uint32_t relayd_fp_snapshot(struct relayd *d, struct fp_sub_info *out, uint32_t max)
{
	(void)d;
	(void)out;
	(void)max;
	return 0;
}
