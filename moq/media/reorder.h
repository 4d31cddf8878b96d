/* Reorder buffer: puts objects that arrive on several subgroup streams (or
 * as datagrams) back into (Group ID, Object ID) order, for writing media to
 * a file (moq-sub --output) or to a player.
 *
 * Groups are released in increasing Group ID order. The oldest pending
 * group is released when all its objects are there (the count comes from
 * the caller, e.g. payload.h "objects in this group"; 0 = unknown) and it
 * is the first group released or follows the last one released, or when
 * more than max_groups groups are pending (then what arrived is released,
 * holes skipped), or on moq_reorder_flush(). Objects of a group that was
 * already released are dropped and counted in `late`.
 */
#ifndef MOQ_MEDIA_REORDER_H
#define MOQ_MEDIA_REORDER_H

#include <stddef.h>
#include <stdint.h>

/* Called once per released object, in order. data is valid only during
 * the call. */
typedef void (*moq_reorder_emit_fn)(void *arg, uint64_t group_id, uint64_t object_id,
				    const uint8_t *data, size_t len);

struct moq_reorder;

/* max_groups >= 1. NULL on ENOMEM. */
struct moq_reorder *moq_reorder_new(size_t max_groups, moq_reorder_emit_fn emit, void *arg);
void moq_reorder_free(struct moq_reorder *r);

/* Add a copy of data. group_objects: objects in this group (0 unknown).
 * Returns 0, 1 if dropped as late or duplicate, -1 on ENOMEM. */
int moq_reorder_add(struct moq_reorder *r, uint64_t group_id, uint64_t object_id,
		    uint32_t group_objects, const uint8_t *data, size_t len);

/* Release every pending group in order. */
void moq_reorder_flush(struct moq_reorder *r);

struct moq_reorder_stats {
	uint64_t emitted;	    /* objects released */
	uint64_t late;		    /* dropped: group already released */
	uint64_t duplicates;	    /* dropped: same (group, object) twice */
	uint64_t groups_incomplete; /* groups released with holes */
	size_t pending_bytes;
};
void moq_reorder_stats(const struct moq_reorder *r, struct moq_reorder_stats *st);

#endif
