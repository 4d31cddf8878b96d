#include "relay_routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void relay_routing_init(struct relay_routing *t)
{
	memset(t, 0, sizeof(*t));
}

void relay_routing_free(struct relay_routing *t)
{
	for (size_t i = 0; i < t->n; i++)
		relay_name_free(&t->v[i].ns);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static void route_del(struct relay_routing *t, size_t i)
{
	relay_name_free(&t->v[i].ns);
	t->v[i] = t->v[--t->n];
}

int relay_routing_add(struct relay_routing *t, const struct moq_namespace *ns, void *owner,
		      void *cookie, void **old_owner, void **old_cookie)
{
	struct relay_name key;
	int rc = relay_name_init(&key, ns, NULL);

	if (rc)
		return rc;
	for (size_t i = 0; i < t->n; i++) {
		if (relay_name_equal(&t->v[i].ns, &key)) {
			if (old_owner)
				*old_owner = t->v[i].owner;
			if (old_cookie)
				*old_cookie = t->v[i].cookie;
			t->v[i].owner = owner;
			t->v[i].cookie = cookie;
			relay_name_free(&key);
			return 1;
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		struct relay_route *v = realloc(t->v, cap * sizeof(*v));

		if (!v) {
			relay_name_free(&key);
			return -ENOMEM;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].ns = key;
	t->v[t->n].owner = owner;
	t->v[t->n].cookie = cookie;
	t->n++;
	return 0;
}

int relay_routing_remove(struct relay_routing *t, const struct moq_namespace *ns, const void *owner)
{
	struct relay_name key;

	if (relay_name_init(&key, ns, NULL))
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].owner == owner && relay_name_equal(&t->v[i].ns, &key)) {
			route_del(t, i);
			relay_name_free(&key);
			return 0;
		}
	}
	relay_name_free(&key);
	return -ENOENT;
}

int relay_routing_remove_cookie(struct relay_routing *t, const void *cookie)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].cookie == cookie) {
			route_del(t, i);
			return 0;
		}
	}
	return -ENOENT;
}

size_t relay_routing_remove_owner(struct relay_routing *t, const void *owner)
{
	size_t removed = 0;

	for (size_t i = 0; i < t->n;) {
		if (t->v[i].owner == owner) {
			route_del(t, i);
			removed++;
		} else {
			i++;
		}
	}
	return removed;
}

const struct relay_route *relay_routing_lookup(const struct relay_routing *t,
					       const struct relay_name *track)
{
	const struct relay_route *best = NULL;

	for (size_t i = 0; i < t->n; i++) {
		const struct relay_route *r = &t->v[i];

		if (!relay_name_ns_has_prefix(track, &r->ns))
			continue;
		if (!best || r->ns.nskeylen > best->ns.nskeylen)
			best = r;
	}
	return best;
}
