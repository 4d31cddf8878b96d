#include "relay_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void relay_cache_init(struct relay_cache *c, size_t max_groups, size_t max_bytes)
{
	memset(c, 0, sizeof(*c));
	c->max_groups = max_groups ? max_groups : 1;
	c->max_bytes = max_bytes;
}

static size_t obj_bytes(const struct relay_cache_obj *o)
{
	return (size_t)o->len + o->props_len;
}

static void obj_free(struct relay_cache_obj *o)
{
	free(o->payload);
	free(o->props);
	free(o);
}

static void group_free(struct relay_cache *c, struct relay_cache_group *g)
{
	struct relay_cache_sg *sg = g->sgs;

	while (sg) {
		struct relay_cache_sg *nsg = sg->next;
		struct relay_cache_obj *o = sg->head;

		while (o) {
			struct relay_cache_obj *n = o->next;

			c->evicted_objects++;
			obj_free(o);
			o = n;
		}
		free(sg);
		sg = nsg;
	}
	c->bytes -= g->bytes;
	free(g);
}

static void group_unlink(struct relay_cache *c, struct relay_cache_group *g)
{
	if (g->prev)
		g->prev->next = g->next;
	else
		c->head = g->next;
	if (g->next)
		g->next->prev = g->prev;
	else
		c->tail = g->prev;
	c->ngroups--;
}

void relay_cache_free(struct relay_cache *c)
{
	while (c->head) {
		struct relay_cache_group *g = c->head;

		group_unlink(c, g);
		group_free(c, g);
	}
	c->bytes = 0;
}

void relay_cache_set_limits(struct relay_cache *c, size_t max_groups, size_t max_bytes)
{
	c->max_groups = max_groups ? max_groups : 1;
	c->max_bytes = max_bytes;
	relay_cache_enforce(c);
}

struct relay_cache_group *relay_cache_group_find(const struct relay_cache *c, uint64_t group)
{
	for (struct relay_cache_group *g = c->tail; g; g = g->prev) {
		if (g->id == group)
			return g;
		if (g->id < group)
			return NULL;
	}
	return NULL;
}

static struct relay_cache_sg *sg_in(const struct relay_cache_group *g, uint64_t subgroup)
{
	for (struct relay_cache_sg *sg = g->sgs; sg; sg = sg->next)
		if (sg->id == subgroup)
			return sg;
	return NULL;
}

struct relay_cache_sg *relay_cache_sg_find(const struct relay_cache *c, uint64_t group,
					   uint64_t subgroup)
{
	struct relay_cache_group *g = relay_cache_group_find(c, group);

	return g ? sg_in(g, subgroup) : NULL;
}

struct relay_cache_sg *relay_cache_sg_get(struct relay_cache *c, uint64_t group, uint64_t subgroup,
					  uint8_t priority, bool has_props)
{
	struct relay_cache_group *g, *after = NULL;
	struct relay_cache_sg *sg;

	for (g = c->tail; g; g = g->prev) {
		if (g->id <= group)
			break;
	}
	if (g && g->id == group) {
		sg = sg_in(g, subgroup);
		if (sg)
			return sg;
	} else {
		/* new group goes after g (NULL: at the head) */
		if (!g && c->head && c->ngroups >= c->max_groups)
			return NULL;
		after = g;
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		g->id = group;
		g->partial = !c->any_group;
		c->any_group = true;
		g->prev = after;
		g->next = after ? after->next : c->head;
		if (g->next)
			g->next->prev = g;
		else
			c->tail = g;
		if (after)
			after->next = g;
		else
			c->head = g;
		c->ngroups++;
	}
	sg = calloc(1, sizeof(*sg));
	if (!sg)
		return NULL; /* an empty group is evicted normally */
	sg->id = subgroup;
	sg->priority = priority;
	sg->has_props = has_props;
	sg->next = g->sgs;
	g->sgs = sg;
	return sg;
}

struct relay_cache_obj *relay_cache_obj_add(struct relay_cache *c, uint64_t group,
					    struct relay_cache_sg *sg, uint64_t id, uint64_t status,
					    const uint8_t *props, size_t props_len, uint64_t len,
					    uint8_t priority, uint64_t first_byte_ns)
{
	struct relay_cache_group *g = relay_cache_group_find(c, group);
	struct relay_cache_obj *o;
	struct moq_location loc = {group, id};

	if (!g || len > SIZE_MAX / 2)
		return NULL;
	if (sg->tail && sg->id != RELAY_CACHE_DATAGRAM && id <= sg->tail->id)
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->payload = malloc(len ? (size_t)len : 1);
	o->props = props_len ? malloc(props_len) : NULL;
	if (!o->payload || (props_len && !o->props)) {
		obj_free(o);
		return NULL;
	}
	if (props_len)
		memcpy(o->props, props, props_len);
	o->id = id;
	o->subgroup_id = sg->id;
	o->datagram = sg->id == RELAY_CACHE_DATAGRAM;
	o->status = status;
	o->props_len = props_len;
	o->len = len;
	o->priority = priority;
	o->first_byte_ns = first_byte_ns;
	if (id == 0)
		g->partial = false;
	if (sg->tail)
		sg->tail->next = o;
	else
		sg->head = o;
	sg->tail = o;
	g->bytes += obj_bytes(o);
	c->bytes += obj_bytes(o);
	if (!c->has_largest || moq_location_cmp(loc, c->largest) > 0) {
		c->largest = loc;
		c->has_largest = true;
	}
	return o;
}

int relay_cache_obj_append(struct relay_cache_obj *o, const void *data, size_t len)
{
	if (len > o->len - o->have)
		return -EINVAL;
	if (len)
		memcpy(o->payload + o->have, data, len);
	o->have += len;
	return 0;
}

struct relay_cache_obj *relay_cache_tail(const struct relay_cache *c, uint64_t group,
					 uint64_t subgroup, uint64_t id)
{
	struct relay_cache_sg *sg = relay_cache_sg_find(c, group, subgroup);

	if (!sg || !sg->tail || sg->tail->id != id)
		return NULL;
	return sg->tail;
}

/* Drop the oldest complete non-tail object of the group; false if none. */
static bool trim_one(struct relay_cache *c, struct relay_cache_group *g)
{
	struct relay_cache_sg *best = NULL;

	for (struct relay_cache_sg *sg = g->sgs; sg; sg = sg->next) {
		struct relay_cache_obj *o = sg->head;

		if (!o || o == sg->tail || !relay_cache_obj_complete(o))
			continue;
		if (!best || o->id < best->head->id)
			best = sg;
	}
	if (!best)
		return false;
	struct relay_cache_obj *o = best->head;

	best->head = o->next;
	best->trimmed = true;
	g->bytes -= obj_bytes(o);
	c->bytes -= obj_bytes(o);
	c->evicted_objects++;
	obj_free(o);
	return true;
}

void relay_cache_enforce(struct relay_cache *c)
{
	while (c->ngroups > 1 &&
	       (c->ngroups > c->max_groups || (c->max_bytes && c->bytes > c->max_bytes))) {
		struct relay_cache_group *g = c->head;

		group_unlink(c, g);
		group_free(c, g);
		c->evicted_groups++;
	}
	while (c->max_bytes && c->bytes > c->max_bytes && c->tail && trim_one(c, c->tail))
		;
}

const struct relay_cache_obj *relay_cache_next(const struct relay_cache *c,
					       struct moq_location from, bool after,
					       uint64_t *group_out)
{
	for (const struct relay_cache_group *g = c->head; g; g = g->next) {
		const struct relay_cache_obj *best = NULL;

		if (g->id < from.group)
			continue;
		for (const struct relay_cache_sg *sg = g->sgs; sg; sg = sg->next) {
			for (const struct relay_cache_obj *o = sg->head; o; o = o->next) {
				if (g->id == from.group &&
				    (after ? o->id <= from.object : o->id < from.object))
					continue;
				if (!relay_cache_obj_complete(o))
					continue;
				if (!best || o->id < best->id)
					best = o;
			}
		}
		if (best) {
			if (group_out)
				*group_out = g->id;
			return best;
		}
	}
	return NULL;
}

bool relay_cache_oldest(const struct relay_cache *c, struct moq_location *loc)
{
	struct moq_location l = {0, 0};
	uint64_t g;
	const struct relay_cache_obj *o = relay_cache_next(c, l, false, &g);

	if (!o)
		return false;
	loc->group = g;
	loc->object = o->id;
	return true;
}

bool relay_cache_covers(const struct relay_cache *c, struct moq_location start)
{
	const struct relay_cache_group *g = c->head;

	if (!g)
		return false;
	if (start.group > g->id)
		return true;
	if (start.group < g->id)
		return false;
	if (g->partial)
		return false;
	for (const struct relay_cache_sg *sg = g->sgs; sg; sg = sg->next)
		if (sg->trimmed)
			return false;
	return true;
}
