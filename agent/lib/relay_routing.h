/* Namespace routing table: which publisher serves a Track Namespace.
 *
 * Entries come from PUBLISH_NAMESPACE (a namespace prefix announced by a
 * session). A track is routed to the entry whose namespace is the longest
 * field-wise prefix of the track's namespace. Owners are opaque pointers
 * (the relay uses its per-session state); each entry also carries a
 * cookie (the PUBLISH_NAMESPACE request) for the owner's bookkeeping.
 *
 * The same namespace announced again replaces the previous entry (newest
 * announcement wins, e.g. a restarted publisher whose old session has not
 * timed out yet); the replaced owner is reported to the caller. */
#ifndef RELAY_ROUTING_H
#define RELAY_ROUTING_H

#include <stddef.h>

#include "relay_name.h"

struct relay_route {
	struct relay_name ns;
	void *owner;
	void *cookie;
};

struct relay_routing {
	struct relay_route *v;
	size_t n, cap;
};

void relay_routing_init(struct relay_routing *t);
void relay_routing_free(struct relay_routing *t);
/* Add ns -> owner. If the exact namespace exists it is replaced and the old
 * owner/cookie are stored in *old_owner / *old_cookie (may be NULL);
 * returns 1 then, 0 for a new entry, -ENOMEM. */
int relay_routing_add(struct relay_routing *t, const struct moq_namespace *ns, void *owner,
		      void *cookie, void **old_owner, void **old_cookie);
/* Remove the entry for ns if owned by owner. 0 or -ENOENT. */
int relay_routing_remove(struct relay_routing *t, const struct moq_namespace *ns,
			 const void *owner);
/* Remove the entry with this cookie. 0 or -ENOENT. */
int relay_routing_remove_cookie(struct relay_routing *t, const void *cookie);
/* Remove every entry of owner; returns how many. */
size_t relay_routing_remove_owner(struct relay_routing *t, const void *owner);
/* Longest-prefix match for a track (or namespace) name. NULL if none. */
const struct relay_route *relay_routing_lookup(const struct relay_routing *t,
					       const struct relay_name *track);
static inline size_t relay_routing_count(const struct relay_routing *t)
{
	return t->n;
}

#endif
