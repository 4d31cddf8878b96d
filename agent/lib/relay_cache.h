/* Per-track object cache: the most recent groups, bounded in groups and
 * bytes.
 *
 * Groups are kept in ascending Group ID order; each holds its subgroups
 * (datagram objects go into a pseudo-subgroup RELAY_CACHE_DATAGRAM) and each
 * subgroup its objects in arrival order (Object IDs increase on a subgroup
 * stream). Objects are added with their full payload length and filled as
 * payload bytes arrive (obj->have), so a late joiner can be given an object
 * that is still arriving.
 *
 * Bounds (relay_cache_enforce, run after every add/append):
 *   - at most max_groups groups: the oldest group goes first;
 *   - at most max_bytes of payload + properties: oldest groups go first;
 *     when only the newest group is left and it alone is over the bound,
 *     its oldest complete objects are dropped (never the last object of a
 *     subgroup, which may still be arriving), so the bound holds up to one
 *     in-flight object per subgroup.
 * Callers never keep object pointers across an add/append: they look
 * objects up again by ids (relay_cache_tail). */
#ifndef RELAY_CACHE_H
#define RELAY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"

#define RELAY_CACHE_DATAGRAM UINT64_MAX /* subgroup id of datagram objects */

struct relay_cache_obj {
	struct relay_cache_obj *next;
	uint64_t id;
	uint64_t subgroup_id;
	uint8_t priority;
	bool datagram;
	uint64_t status;
	uint8_t *props;
	size_t props_len;
	uint8_t *payload;
	uint64_t len;  /* announced payload length */
	uint64_t have; /* bytes received so far */
	uint64_t first_byte_ns;
};

struct relay_cache_sg {
	struct relay_cache_sg *next;
	uint64_t id;
	uint8_t priority;
	bool has_props;
	bool end_of_group;     /* header flag of the upstream stream */
	bool ended;	       /* upstream stream ended with FIN */
	bool reset;	       /* upstream stream was reset */
	bool trimmed;	       /* leading objects were evicted */
	bool first_object;     /* upstream header's FIRST_OBJECT bit */
	bool default_priority; /* upstream header had no priority field */
	bool has_first;
	uint64_t first_id; /* first object id seen on the upstream stream */
	struct relay_cache_obj *head, *tail;
};

struct relay_cache_group {
	struct relay_cache_group *prev, *next;
	uint64_t id;
	struct relay_cache_sg *sgs;
	size_t bytes;
	bool partial; /* first group seen and its Object 0 not (yet) seen */
};

struct relay_cache {
	struct relay_cache_group *head, *tail; /* oldest, newest */
	size_t ngroups;
	size_t bytes;
	size_t max_groups;
	size_t max_bytes;
	bool any_group; /* a group was ever created */
	bool has_largest;
	struct moq_location largest; /* never decreases, survives eviction */
	uint64_t evicted_groups, evicted_objects;
};

static inline bool relay_cache_obj_complete(const struct relay_cache_obj *o)
{
	return o->have == o->len;
}

void relay_cache_init(struct relay_cache *c, size_t max_groups, size_t max_bytes);
void relay_cache_free(struct relay_cache *c);
/* Change bounds (SIGHUP) and enforce them. */
void relay_cache_set_limits(struct relay_cache *c, size_t max_groups, size_t max_bytes);

struct relay_cache_group *relay_cache_group_find(const struct relay_cache *c, uint64_t group);
struct relay_cache_sg *relay_cache_sg_find(const struct relay_cache *c, uint64_t group,
					   uint64_t subgroup);
/* Find or create the subgroup. Creating a group older than every cached
 * group while the cache is at max_groups returns NULL (it would be evicted
 * at once). NULL also on ENOMEM. */
struct relay_cache_sg *relay_cache_sg_get(struct relay_cache *c, uint64_t group, uint64_t subgroup,
					  uint8_t priority, bool has_props);
/* Append an object to sg (Object IDs must increase within a subgroup; a
 * datagram subgroup accepts any new id). payload may be NULL (filled later
 * with relay_cache_obj_append) or hold the first avail bytes. Updates the
 * largest location. NULL on ENOMEM or a non-increasing id. The object may
 * be evicted by the next relay_cache_enforce. */
struct relay_cache_obj *relay_cache_obj_add(struct relay_cache *c, uint64_t group,
					    struct relay_cache_sg *sg, uint64_t id, uint64_t status,
					    const uint8_t *props, size_t props_len, uint64_t len,
					    uint8_t priority, uint64_t first_byte_ns);
/* Append payload bytes. -EINVAL if more than announced. */
int relay_cache_obj_append(struct relay_cache_obj *o, const void *data, size_t len);
/* The last object of (group, subgroup) if its id is id, else NULL. */
struct relay_cache_obj *relay_cache_tail(const struct relay_cache *c, uint64_t group,
					 uint64_t subgroup, uint64_t id);
/* Apply the bounds. */
void relay_cache_enforce(struct relay_cache *c);

/* Complete object with the smallest location >= from (after=false) or
 * > from (after=true), across subgroups; NULL if none. *group_out gets its
 * group. Used to walk a FETCH range in ascending order. */
const struct relay_cache_obj *relay_cache_next(const struct relay_cache *c,
					       struct moq_location from, bool after,
					       uint64_t *group_out);
/* Oldest cached location (first object of the oldest group), false if
 * empty. */
bool relay_cache_oldest(const struct relay_cache *c, struct moq_location *loc);
/* Can a range beginning at start be served from the cache alone? True when
 * start.group is after the oldest cached group, or is the oldest group and
 * that group is whole (not the first group seen mid-stream, i.e. without its
 * Object 0, and not trimmed). */
bool relay_cache_covers(const struct relay_cache *c, struct moq_location start);

#endif
