#include "relay_forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct relay_rx *relay_rx_new(struct relay_track *tr, struct moq_rx *rx)
{
	struct relay_rx *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->track = tr;
	r->rx = rx;
	r->next = tr->rxs;
	tr->rxs = r;
	return r;
}

void relay_rx_free(struct relay_rx *r)
{
	if (r->track) {
		for (struct relay_rx **pp = &r->track->rxs; *pp; pp = &(*pp)->next) {
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		}
	}
	free(r);
}

/* ---- downstream streams ---- */

static struct relay_fwd *fwd_find(struct relay_sub *s, uint64_t g, uint64_t sg)
{
	for (struct relay_fwd *f = s->fwd; f; f = f->next)
		if (f->group == g && f->subgroup == sg && !f->finished)
			return f;
	return NULL;
}

static void fwd_unlink_free(struct relay_fwd *f)
{
	struct relay_sub *s = f->sub;

	for (struct relay_fwd **pp = &s->fwd; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	free(f);
}

static void fwd_drop(struct relay_fwd *f, uint64_t code)
{
	if (f->tx) {
		moq_tx_set_user(f->tx, NULL);
		moq_tx_reset(f->tx, code);
		f->tx = NULL;
		f->sub->streams_reset++;
	}
	f->dropped = true;
	f->in_obj = false;
}

/* Open the downstream stream of (g, sg) for s. hdr is the upstream header
 * (flags and priority); first_id the first object this stream carries and
 * up_first whether that is the first object of the upstream stream. Never
 * NULL except on ENOMEM: a stream that cannot be opened is recorded as
 * dropped. */
static struct relay_fwd *fwd_open(struct relay_sub *s, uint64_t g, uint64_t sg,
				  const struct moq_subgroup_header *up,
				  bool first_is_upstream_first)
{
	struct relay_fwd *f = calloc(1, sizeof(*f));
	struct moq_subgroup_header h;
	int err = 0;

	if (!f)
		return NULL;
	f->sub = s;
	f->group = g;
	f->subgroup = sg;
	f->priority = up->default_priority ? 128 : up->publisher_priority;
	f->next = s->fwd;
	s->fwd = f;
	memset(&h, 0, sizeof(h));
	h.group_id = g;
	h.subgroup_id = sg;
	h.subgroup_id_known = true;
	h.subgroup_id_mode = sg ? MOQ_SUBGROUP_ID_PRESENT : MOQ_SUBGROUP_ID_ZERO;
	h.has_properties = up->has_properties;
	h.end_of_group = up->end_of_group;
	h.default_priority = up->default_priority;
	h.publisher_priority = up->publisher_priority;
	h.first_object = up->first_object && first_is_upstream_first;
	f->tx = moq_tx_subgroup_open(s->req, &h, &err);
	if (!f->tx) {
		moq_dbg("relay", "track %s: cannot open stream of group %llu for a subscriber: %s",
			s->track->name.text, (unsigned long long)g, strerror(-err));
		f->dropped = true;
	} else {
		moq_tx_set_user(f->tx, f);
		f->sid = moq_tx_stream_id(f->tx);
		f->conn = moq_session_conn(moq_request_session(s->req));
	}
	return f;
}

static int prio_cmp(const struct relay_fwd *a, const struct relay_fwd *b)
{
	/* > 0: a is less important (reset a first) */
	if (a->sub->sub_priority != b->sub->sub_priority)
		return a->sub->sub_priority > b->sub->sub_priority ? 1 : -1;
	if (a->priority != b->priority)
		return a->priority > b->priority ? 1 : -1;
	if (a->group != b->group)
		return a->group < b->group ? 1 : -1;
	if (a->subgroup != b->subgroup)
		return a->subgroup > b->subgroup ? 1 : -1;
	return 0;
}

static uint64_t fwd_buffered(const struct relay_fwd *f)
{
	if (f->tx)
		return moq_tx_buffered(f->tx);
	if (f->finished && f->conn)
		return moq_quic_stream_buffered(f->conn, f->sid);
	return 0;
}

/* Keep the subscriber session's unacknowledged bytes under the bound.
 * Finished streams count until acknowledged (then their entry goes). */
static void enforce_bound(struct relay_fwd_ctx *ctx, struct relay_sub *s)
{
	struct relay_sub *head = s->peer_subs ? *s->peer_subs : s;
	uint64_t total = 0;

	for (struct relay_sub *p = head; p; p = s->peer_subs ? p->peer_next : NULL) {
		for (struct relay_fwd *f = p->fwd, *next; f; f = next) {
			uint64_t b = fwd_buffered(f);

			next = f->next;
			if (f->finished && !b) {
				fwd_unlink_free(f);
				continue;
			}
			total += b;
		}
	}
	while (total > ctx->sub_queue_bytes) {
		struct relay_fwd *victim = NULL;
		uint64_t b;

		for (struct relay_sub *p = head; p; p = s->peer_subs ? p->peer_next : NULL)
			for (struct relay_fwd *f = p->fwd; f; f = f->next)
				if ((f->tx || f->finished) && (!victim || prio_cmp(f, victim) > 0))
					victim = f;
		if (!victim)
			break;
		b = fwd_buffered(victim);
		moq_dbg(
		    "relay",
		    "track %s: subscriber %llu bytes behind, resetting group %llu subgroup %llu",
		    victim->sub->track->name.text, (unsigned long long)total,
		    (unsigned long long)victim->group, (unsigned long long)victim->subgroup);
		if (victim->finished) {
			moq_quic_stream_reset(victim->conn, victim->sid, MOQ_RESET_TOO_FAR_BEHIND);
			victim->sub->streams_reset++;
			fwd_unlink_free(victim);
		} else {
			fwd_drop(victim, MOQ_RESET_TOO_FAR_BEHIND);
		}
		if (ctx->stats)
			ctx->stats->streams_reset_slow++;
		total = total > b ? total - b : 0;
	}
}

static void fwd_object(struct relay_fwd_ctx *ctx, struct relay_fwd *f, uint64_t id, uint64_t status,
		       struct moq_bytes props, uint64_t len, uint8_t prio, uint64_t first_byte_ns)
{
	struct moq_tx_object o;
	int rc;

	if (f->dropped || !f->tx)
		return;
	if (f->in_obj) { /* previous object never completed */
		fwd_drop(f, MOQ_RESET_INTERNAL_ERROR);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.group_id = f->group;
	o.subgroup_id = f->subgroup;
	o.object_id = id;
	o.publisher_priority = prio;
	o.properties = props;
	o.object_status = status;
	o.payload_length = len;
	o.first_byte_ns = first_byte_ns;
	rc = moq_tx_object_begin(f->tx, &o);
	if (rc) {
		fwd_drop(f,
			 rc == -ETIMEDOUT ? MOQ_RESET_DELIVERY_TIMEOUT : MOQ_RESET_INTERNAL_ERROR);
		return;
	}
	f->in_obj = len > 0;
	f->obj_id = id;
	f->written = 0;
	f->len = len;
	f->sub->objects_out++;
	if (ctx->stats)
		ctx->stats->objects_out++;
}

static void fwd_payload(struct relay_fwd_ctx *ctx, struct relay_fwd *f, uint64_t id, uint64_t off,
			const uint8_t *p, size_t n)
{
	int rc;

	if (f->dropped || !f->tx || !f->in_obj || f->obj_id != id || f->written != off)
		return;
	if (n > f->len - f->written)
		n = (size_t)(f->len - f->written);
	rc = moq_tx_payload(f->tx, p, n);
	if (rc) {
		fwd_drop(f,
			 rc == -ETIMEDOUT ? MOQ_RESET_DELIVERY_TIMEOUT : MOQ_RESET_INTERNAL_ERROR);
		return;
	}
	f->written += n;
	if (f->written == f->len)
		f->in_obj = false;
	f->sub->bytes_out += n;
	if (ctx->stats)
		ctx->stats->bytes_out += n;
}

static void fwd_end(struct relay_fwd *f, bool reset, uint64_t code)
{
	if (f->tx) {
		moq_tx_set_user(f->tx, NULL);
		if (reset || f->in_obj) {
			moq_tx_reset(f->tx, reset ? code : MOQ_RESET_INTERNAL_ERROR);
		} else if (moq_tx_finish(f->tx)) {
			/* finish failed: the handle still needs ending */
			moq_tx_reset(f->tx, MOQ_RESET_INTERNAL_ERROR);
		} else if (f->conn) {
			f->tx = NULL;
			f->finished = true;
			return;
		}
		f->tx = NULL;
	}
	fwd_unlink_free(f);
}

/* ---- upstream events ---- */

/* Does subscriber s take object (g, o) of its track? Subscribers waiting
 * for a group start are resolved before (resolve_waiting). */
static bool sub_admits(struct relay_sub *s, uint64_t g, uint64_t o)
{
	if (!s->established || s->wait_group_start)
		return false;
	return relay_range_contains(&s->range, g, o);
}

/* Subscribers waiting for a whole group start at group g once the cache
 * holds g from its Object 0: they get what the cache has of g (objects of
 * other subgroups may have come first), then live. Returns true if s was
 * started now (its copy of the current object is already begun). */
static bool resolve_waiting(struct relay_fwd_ctx *ctx, struct relay_sub *s, uint64_t g, bool replay)
{
	struct relay_cache_group *cg;

	if (!s->established || !s->wait_group_start)
		return false;
	cg = relay_cache_group_find(&s->track->cache, g);
	if (!cg || cg->partial)
		return false;
	s->range.start.group = g;
	s->range.start.object = 0;
	s->wait_group_start = false;
	if (replay)
		relay_forward_replay(ctx, s);
	return replay;
}

void relay_forward_event(struct relay_fwd_ctx *ctx, struct relay_rx *r,
			 const struct moq_data_event *ev)
{
	struct relay_track *tr = r->track;
	struct relay_cache_obj *co;

	if (!tr)
		return;
	switch (ev->type) {
	case MOQ_DATA_EV_HEADER:
		if (ev->stream != MOQ_DATA_SUBGROUP_HEADER)
			return;
		r->is_subgroup = true;
		r->hdr = ev->subgroup;
		r->group = ev->subgroup.group_id;
		if (ev->subgroup.subgroup_id_known) {
			r->subgroup = ev->subgroup.subgroup_id;
			r->sg_known = true;
		}
		return;
	case MOQ_DATA_EV_OBJECT: {
		const struct moq_subgroup_object *o = &ev->subgroup_object;
		struct relay_cache_sg *csg;
		uint8_t prio;

		if (!r->is_subgroup)
			return;
		if (!r->sg_known) {
			r->subgroup = ev->subgroup.subgroup_id;
			r->sg_known = true;
		}
		prio = r->hdr.default_priority ? 128 : r->hdr.publisher_priority;
		r->obj_id = o->object_id;
		r->obj_len = o->payload_length;
		r->in_obj = o->payload_length > 0;
		r->first_byte_ns = moq_loop_now();
		tr->objects_in++;
		if (ctx->stats)
			ctx->stats->objects_in++;
		csg = relay_cache_sg_get(&tr->cache, r->group, r->subgroup, prio,
					 r->hdr.has_properties);
		if (csg) {
			if (!csg->has_first) {
				csg->has_first = true;
				csg->first_id = o->object_id;
				csg->first_object = r->hdr.first_object;
				csg->default_priority = r->hdr.default_priority;
				csg->end_of_group = r->hdr.end_of_group;
			}
			relay_cache_obj_add(&tr->cache, r->group, csg, o->object_id,
					    o->object_status, o->properties.ptr, o->properties.len,
					    o->payload_length, prio, r->first_byte_ns);
			relay_cache_enforce(&tr->cache);
		}
		for (struct relay_sub *s = tr->subs; s; s = s->next) {
			struct relay_fwd *f;

			if (s->fast)
				continue;
			if (resolve_waiting(ctx, s, r->group, true))
				continue;
			if (!sub_admits(s, r->group, o->object_id))
				continue;
			f = fwd_find(s, r->group, r->subgroup);
			if (!f) {
				struct relay_cache_sg *c2 =
				    relay_cache_sg_find(&tr->cache, r->group, r->subgroup);
				bool first = c2 && c2->has_first && c2->first_id == o->object_id;

				f = fwd_open(s, r->group, r->subgroup, &r->hdr, first);
				if (!f)
					continue;
			}
			fwd_object(ctx, f, o->object_id, o->object_status, o->properties,
				   o->payload_length, prio, r->first_byte_ns);
			enforce_bound(ctx, s);
		}
		return;
	}
	case MOQ_DATA_EV_PAYLOAD:
		if (!r->is_subgroup || !r->in_obj)
			return;
		if (ctx->stats)
			ctx->stats->bytes_in += ev->payload.len;
		tr->bytes_in += ev->payload.len;
		co = relay_cache_tail(&tr->cache, r->group, r->subgroup, r->obj_id);
		if (co && co->have == ev->payload_offset)
			relay_cache_obj_append(co, ev->payload.ptr, ev->payload.len);
		for (struct relay_sub *s = tr->subs; s; s = s->next) {
			struct relay_fwd *f = fwd_find(s, r->group, r->subgroup);

			if (!f)
				continue;
			fwd_payload(ctx, f, r->obj_id, ev->payload_offset, ev->payload.ptr,
				    ev->payload.len);
			enforce_bound(ctx, s);
		}
		return;
	case MOQ_DATA_EV_OBJECT_END:
		r->in_obj = false;
		return;
	case MOQ_DATA_EV_STREAM_END: {
		struct relay_cache_sg *csg;

		if (!r->is_subgroup || !r->sg_known)
			return;
		csg = relay_cache_sg_find(&tr->cache, r->group, r->subgroup);
		if (csg)
			csg->ended = true;
		for (struct relay_sub *s = tr->subs; s; s = s->next) {
			struct relay_fwd *f = fwd_find(s, r->group, r->subgroup);

			if (f)
				fwd_end(f, false, 0);
		}
		return;
	}
	default:
		return;
	}
}

void relay_forward_reset(struct relay_fwd_ctx *ctx, struct relay_rx *r, uint64_t code)
{
	struct relay_track *tr = r->track;
	struct relay_cache_sg *csg;

	(void)ctx;
	if (!tr || !r->is_subgroup || !r->sg_known)
		return;
	csg = relay_cache_sg_find(&tr->cache, r->group, r->subgroup);
	if (csg)
		csg->reset = true;
	for (struct relay_sub *s = tr->subs; s; s = s->next) {
		struct relay_fwd *f = fwd_find(s, r->group, r->subgroup);

		if (f)
			fwd_end(f, true, code);
	}
}

void relay_forward_datagram(struct relay_fwd_ctx *ctx, struct relay_track *tr,
			    const struct moq_object_datagram *d)
{
	uint8_t prio = d->default_priority ? 128 : d->publisher_priority;
	uint64_t now = moq_loop_now();
	struct relay_cache_sg *csg;

	tr->objects_in++;
	tr->bytes_in += d->payload.len;
	if (ctx->stats) {
		ctx->stats->objects_in++;
		ctx->stats->bytes_in += d->payload.len;
	}
	csg = relay_cache_sg_get(&tr->cache, d->group_id, RELAY_CACHE_DATAGRAM, prio,
				 d->has_properties);
	if (csg) {
		struct relay_cache_obj *o =
		    relay_cache_obj_add(&tr->cache, d->group_id, csg, d->object_id,
					d->has_status ? d->object_status : 0, d->properties.ptr,
					d->properties.len, d->payload.len, prio, now);

		if (o)
			relay_cache_obj_append(o, d->payload.ptr, d->payload.len);
		relay_cache_enforce(&tr->cache);
	}
	for (struct relay_sub *s = tr->subs; s; s = s->next) {
		struct moq_object_datagram out = *d;

		if (s->fast &&
		    (!ctx->fast_datagram_missed || !ctx->fast_datagram_missed(ctx->fast_arg, s, d)))
			continue;
		resolve_waiting(ctx, s, d->group_id, false);
		if (!sub_admits(s, d->group_id, d->object_id))
			continue;
		if (moq_request_send_datagram(s->req, &out, now) == 0) {
			s->objects_out++;
			s->bytes_out += d->payload.len;
			if (ctx->stats) {
				ctx->stats->objects_out++;
				ctx->stats->bytes_out += d->payload.len;
			}
		}
	}
}

void relay_forward_replay(struct relay_fwd_ctx *ctx, struct relay_sub *s)
{
	const struct relay_cache *c = &s->track->cache;

	if (s->fast)
		return; /* the fast path serves in-progress streams itself */
	for (struct relay_cache_group *g = c->head; g; g = g->next) {
		if (g->id < s->range.start.group)
			continue;
		if (s->range.has_end && g->id > s->range.end_group)
			break;
		for (struct relay_cache_sg *sg = g->sgs; sg; sg = sg->next) {
			struct relay_fwd *f = NULL;
			struct moq_subgroup_header h;

			if (sg->id == RELAY_CACHE_DATAGRAM)
				continue;
			memset(&h, 0, sizeof(h));
			h.has_properties = sg->has_props;
			h.end_of_group = sg->end_of_group;
			h.default_priority = sg->default_priority;
			h.publisher_priority = sg->priority;
			h.first_object = sg->first_object;
			for (struct relay_cache_obj *o = sg->head; o; o = o->next) {
				struct moq_bytes props = {o->props, o->props_len};

				if (!relay_range_contains(&s->range, g->id, o->id))
					continue;
				if (!relay_cache_obj_complete(o) && o != sg->tail)
					break; /* reset mid-object upstream */
				if (!f) {
					if (fwd_find(s, g->id, sg->id))
						break; /* already live */
					f = fwd_open(s, g->id, sg->id, &h,
						     sg->has_first && !sg->trimmed &&
							 sg->first_id == o->id);
					if (!f)
						break;
				}
				fwd_object(ctx, f, o->id, o->status, props, o->len, o->priority,
					   o->first_byte_ns);
				if (o->have)
					fwd_payload(ctx, f, o->id, 0, o->payload, (size_t)o->have);
				if (ctx->stats)
					ctx->stats->objects_from_cache++;
			}
			if (f && (sg->ended || sg->reset) && !f->in_obj)
				fwd_end(f, sg->reset, MOQ_RESET_CANCELLED);
			else if (f && sg->reset)
				fwd_end(f, true, MOQ_RESET_CANCELLED);
		}
	}
	enforce_bound(ctx, s);
}

void relay_forward_sub_stop(struct relay_sub *s, bool reset, uint64_t code)
{
	while (s->fwd) {
		struct relay_fwd *f = s->fwd;

		if (f->tx) {
			moq_tx_set_user(f->tx, NULL);
			if (reset)
				moq_tx_reset(f->tx, code);
			f->tx = NULL;
		}
		fwd_unlink_free(f);
	}
}

void relay_forward_tx_gone(struct relay_fwd_ctx *ctx, struct moq_tx *tx, uint64_t code)
{
	struct relay_fwd *f = moq_tx_user(tx);

	(void)ctx;
	if (!f) {
		moq_tx_reset(tx, code);
		return;
	}
	fwd_drop(f, code);
}

static bool before_end(struct moq_location end, uint64_t g, uint64_t o)
{
	if (end.object == 0)
		return g <= end.group;
	return g < end.group || (g == end.group && o < end.object);
}

int relay_forward_fetch(struct relay_fwd_ctx *ctx, struct moq_tx *tx, const struct relay_cache *c,
			struct moq_location start, struct moq_location end)
{
	struct moq_location at = start;
	bool after = false;
	int n = 0;

	for (;;) {
		uint64_t g;
		const struct relay_cache_obj *o = relay_cache_next(c, at, after, &g);
		struct moq_tx_object to;
		int rc;

		if (!o || !before_end(end, g, o->id))
			break;
		memset(&to, 0, sizeof(to));
		to.group_id = g;
		to.subgroup_id = o->datagram ? 0 : o->subgroup_id;
		to.object_id = o->id;
		to.publisher_priority = o->priority;
		to.datagram = o->datagram;
		to.properties.ptr = o->props;
		to.properties.len = o->props_len;
		to.object_status = o->status;
		to.payload_length = o->len;
		rc = moq_tx_object(tx, &to, o->payload);
		if (rc)
			return rc;
		n++;
		if (ctx->stats) {
			ctx->stats->objects_out++;
			ctx->stats->bytes_out += o->len;
			ctx->stats->objects_from_cache++;
		}
		at.group = g;
		at.object = o->id;
		after = true;
	}
	return n;
}
