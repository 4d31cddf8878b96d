/* moq-relayd's allocator settings (malloc_tune.h). */
#include "malloc_tune.h"

#include <malloc.h>

#define TOP_PAD (8 << 20)

int relayd_malloc_tune(void)
{
	int ok = mallopt(M_MMAP_THRESHOLD, (int)RELAYD_MMAP_THRESHOLD);

	ok &= mallopt(M_TOP_PAD, TOP_PAD);
	/* the heap's top shrinks only past four subscribers' worth */
	ok &= mallopt(M_TRIM_THRESHOLD, 4 * TOP_PAD);
	return ok ? 0 : -1;
}
