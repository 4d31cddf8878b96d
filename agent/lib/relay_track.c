#include "relay_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void relay_alias_set_init(struct relay_alias_set *s)
{
	memset(s, 0, sizeof(*s));
}

void relay_alias_set_free(struct relay_alias_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* index of the first element >= a */
static size_t lower_bound(const struct relay_alias_set *s, uint64_t a)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool relay_alias_set_has(const struct relay_alias_set *s, uint64_t alias)
{
	size_t i = lower_bound(s, alias);

	return i < s->n && s->v[i] == alias;
}

int relay_alias_set_add(struct relay_alias_set *s, uint64_t alias)
{
	size_t i = lower_bound(s, alias);

	if (i < s->n && s->v[i] == alias)
		return -EEXIST;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = alias;
	s->n++;
	return 0;
}

int relay_alias_set_del(struct relay_alias_set *s, uint64_t alias)
{
	size_t i = lower_bound(s, alias);

	if (i >= s->n || s->v[i] != alias)
		return -ENOENT;
	memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	return 0;
}

uint64_t relay_alias_pick(const struct relay_alias_set *s, uint64_t preferred)
{
	uint64_t a = 0;

	if (preferred != UINT64_MAX && !relay_alias_set_has(s, preferred))
		return preferred;
	/* smallest value not in the sorted set */
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] > a)
			break;
		if (s->v[i] == a)
			a++;
	}
	return a;
}

int relay_filter_resolve(bool has_filter, const struct moq_subscription_filter *f, bool has_largest,
			 struct moq_location largest, bool current_cached, struct relay_range *out)
{
	memset(out, 0, sizeof(*out));
	if (!has_filter) {
		if (has_largest) {
			out->start.group = largest.group;
			if (!current_cached) {
				out->start.group++;
				if (out->start.group == 0)
					return -EOVERFLOW;
			}
		}
		return 0;
	}
	switch (f->filter_type) {
	case MOQ_FILTER_LARGEST_OBJECT:
		if (has_largest) {
			out->start.group = largest.group;
			out->start.object = largest.object + 1;
		}
		return 0;
	case MOQ_FILTER_NEXT_GROUP_START:
		if (has_largest) {
			out->start.group = largest.group + 1;
			if (out->start.group == 0)
				return -EOVERFLOW;
		}
		return 0;
	case MOQ_FILTER_ABSOLUTE_START:
		out->start = f->start_location;
		return 0;
	case MOQ_FILTER_ABSOLUTE_RANGE:
		out->start = f->start_location;
		if (f->end_group_delta > UINT64_MAX - f->start_location.group)
			return -EOVERFLOW;
		out->has_end = true;
		out->end_group = f->start_location.group + f->end_group_delta;
		if (has_largest && out->end_group < largest.group)
			return -ERANGE;
		return 0;
	default:
		return -EINVAL;
	}
}

bool relay_range_contains(const struct relay_range *r, uint64_t group, uint64_t object)
{
	struct moq_location l = {group, object};

	if (moq_location_cmp(l, r->start) < 0)
		return false;
	return !r->has_end || group <= r->end_group;
}

void relay_tracks_init(struct relay_tracks *t)
{
	memset(t, 0, sizeof(*t));
}

struct relay_track *relay_tracks_find(const struct relay_tracks *t, const struct relay_name *name)
{
	for (struct relay_track *tr = t->head; tr; tr = tr->next)
		if (relay_name_equal(&tr->name, name))
			return tr;
	return NULL;
}

struct relay_track *relay_track_new(struct relay_tracks *t, const struct relay_name *name,
				    size_t cache_groups, size_t cache_bytes)
{
	struct relay_track *tr = calloc(1, sizeof(*tr));

	if (!tr)
		return NULL;
	if (relay_name_init(&tr->name, &name->ns, name->has_name ? &name->name : NULL)) {
		free(tr);
		return NULL;
	}
	tr->up_alias = UINT64_MAX;
	relay_cache_init(&tr->cache, cache_groups, cache_bytes);
	tr->next = t->head;
	t->head = tr;
	t->n++;
	return tr;
}

void relay_track_free(struct relay_tracks *t, struct relay_track *tr)
{
	for (struct relay_track **pp = &t->head; *pp; pp = &(*pp)->next) {
		if (*pp == tr) {
			*pp = tr->next;
			t->n--;
			break;
		}
	}
	relay_cache_free(&tr->cache);
	relay_name_free(&tr->name);
	free(tr->props);
	free(tr);
}

int relay_track_set_props(struct relay_track *tr, const uint8_t *p, size_t len)
{
	uint8_t *n = NULL;

	if (len) {
		n = malloc(len);
		if (!n)
			return -ENOMEM;
		memcpy(n, p, len);
	}
	free(tr->props);
	tr->props = n;
	tr->props_len = len;
	return 0;
}

void relay_track_add_sub(struct relay_track *tr, struct relay_sub *s)
{
	s->track = tr;
	s->next = tr->subs;
	tr->subs = s;
	tr->nsubs++;
}

void relay_track_remove_sub(struct relay_track *tr, struct relay_sub *s)
{
	for (struct relay_sub **pp = &tr->subs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			tr->nsubs--;
			break;
		}
	}
	s->next = NULL;
}
