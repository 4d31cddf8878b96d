/* Reorder buffer (see reorder.h). */
#include "media/reorder.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct robj {
	uint64_t object_id;
	size_t len;
	uint8_t *data;
};

struct rgroup {
	uint64_t group_id;
	uint32_t expected;
	size_t n, cap;
	struct robj *objs;
};

struct moq_reorder {
	size_t max_groups;
	moq_reorder_emit_fn emit;
	void *arg;
	/* pending groups sorted by group_id, at most max_groups + 1 */
	struct rgroup *groups;
	size_t ngroups, gcap;
	bool released_any;
	uint64_t last_released; /* highest group id released */
	struct moq_reorder_stats st;
};

struct moq_reorder *moq_reorder_new(size_t max_groups, moq_reorder_emit_fn emit, void *arg)
{
	if (max_groups < 1)
		max_groups = 1;
	struct moq_reorder *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->max_groups = max_groups;
	r->emit = emit;
	r->arg = arg;
	return r;
}

static void group_free(struct rgroup *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->objs[i].data);
	free(g->objs);
}

void moq_reorder_free(struct moq_reorder *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ngroups; i++)
		group_free(&r->groups[i]);
	free(r->groups);
	free(r);
}

static int obj_cmp(const void *a, const void *b)
{
	const struct robj *x = a, *y = b;
	return x->object_id < y->object_id ? -1 : x->object_id > y->object_id;
}

/* Release the oldest pending group. */
static void release_oldest(struct moq_reorder *r)
{
	struct rgroup *g = &r->groups[0];
	qsort(g->objs, g->n, sizeof(*g->objs), obj_cmp);
	if (g->expected && g->n < g->expected)
		r->st.groups_incomplete++;
	for (size_t i = 0; i < g->n; i++) {
		r->emit(r->arg, g->group_id, g->objs[i].object_id, g->objs[i].data, g->objs[i].len);
		r->st.emitted++;
		r->st.pending_bytes -= g->objs[i].len;
	}
	r->released_any = true;
	r->last_released = g->group_id;
	group_free(g);
	memmove(&r->groups[0], &r->groups[1], (r->ngroups - 1) * sizeof(*r->groups));
	r->ngroups--;
}

static void release_ready(struct moq_reorder *r)
{
	while (r->ngroups) {
		struct rgroup *g = &r->groups[0];
		/* a complete group goes out at once if no group before it
		 * can still arrive (the first release, or the next id) */
		bool complete = g->expected && g->n >= g->expected &&
				(!r->released_any || g->group_id == r->last_released + 1);
		if (!complete && r->ngroups <= r->max_groups)
			break;
		release_oldest(r);
	}
}

int moq_reorder_add(struct moq_reorder *r, uint64_t group_id, uint64_t object_id,
		    uint32_t group_objects, const uint8_t *data, size_t len)
{
	if (r->released_any && group_id <= r->last_released) {
		r->st.late++;
		return 1;
	}
	size_t i = 0;
	while (i < r->ngroups && r->groups[i].group_id < group_id)
		i++;
	if (i == r->ngroups || r->groups[i].group_id != group_id) {
		if (r->ngroups == r->gcap) {
			size_t cap = r->gcap ? r->gcap * 2 : 8;
			void *n = realloc(r->groups, cap * sizeof(*r->groups));
			if (!n)
				return -1;
			r->groups = n;
			r->gcap = cap;
		}
		memmove(&r->groups[i + 1], &r->groups[i], (r->ngroups - i) * sizeof(*r->groups));
		memset(&r->groups[i], 0, sizeof(r->groups[i]));
		r->groups[i].group_id = group_id;
		r->ngroups++;
	}
	struct rgroup *g = &r->groups[i];
	for (size_t k = 0; k < g->n; k++) {
		if (g->objs[k].object_id == object_id) {
			r->st.duplicates++;
			return 1;
		}
	}
	if (group_objects > g->expected)
		g->expected = group_objects;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		void *n = realloc(g->objs, cap * sizeof(*g->objs));
		if (!n)
			return -1;
		g->objs = n;
		g->cap = cap;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	if (len)
		memcpy(copy, data, len);
	g->objs[g->n++] = (struct robj){.object_id = object_id, .len = len, .data = copy};
	r->st.pending_bytes += len;
	release_ready(r);
	return 0;
}

void moq_reorder_flush(struct moq_reorder *r)
{
	while (r->ngroups)
		release_oldest(r);
}

void moq_reorder_stats(const struct moq_reorder *r, struct moq_reorder_stats *st)
{
	*st = r->st;
}
