/* FETCH_HEADER and the objects on a fetch stream (draft-18 "Fetch Header",
 * "Flags", "End of Range"). Ids are delta-coded against the "prior Object";
 * see docs/codec.md for the reading of End of Range markers. */
#include "data_fetch.h"
#include "data_priv.h"

int moq_fetch_header_encode(uint8_t *out, size_t outlen, const struct moq_fetch_header *h)
{
	struct wcur w;
	int rc;

	wcur_init(&w, out, outlen);
	if ((rc = wcur_vi(&w, MOQ_STREAM_TYPE_FETCH_HEADER)) || (rc = wcur_vi(&w, h->request_id)))
		return rc;
	return (int)w.off;
}

int moq_fetch_header_decode(struct moq_fetch_header *h, const uint8_t *in, size_t inlen)
{
	struct rcur c;
	uint64_t type, id;
	int rc;

	rcur_init(&c, in, inlen, MOQ_ERR_NEED_MORE);
	if ((rc = rcur_vi(&c, &type)))
		return rc;
	if (type != MOQ_STREAM_TYPE_FETCH_HEADER)
		return MOQ_ERR_UNKNOWN_TYPE;
	if ((rc = rcur_vi(&c, &id)))
		return rc;
	h->type = type;
	h->request_id = id;
	return (int)c.off;
}

void moq_fetch_ctx_init(struct moq_fetch_ctx *c, uint8_t group_order)
{
	memset(c, 0, sizeof(*c));
	c->group_order = group_order == MOQ_GROUP_ORDER_DESCENDING ? MOQ_GROUP_ORDER_DESCENDING
								   : MOQ_GROUP_ORDER_ASCENDING;
}

static bool descending(const struct moq_fetch_ctx *c)
{
	return c->group_order == MOQ_GROUP_ORDER_DESCENDING;
}

static void ctx_advance(struct moq_fetch_ctx *c, const struct moq_fetch_object *o)
{
	c->have_prior = true;
	c->prior_group_id = o->group_id;
	c->prior_object_id = o->object_id;
	c->items++;
	if (o->end_of_range)
		return; /* prior Subgroup ID and Priority stay the last Object's */
	c->have_prior_object = true;
	c->prior_has_subgroup = !o->datagram;
	c->prior_subgroup_id = o->subgroup_id;
	c->prior_priority = o->publisher_priority;
}

static bool is_end_of_range(uint64_t flags)
{
	return flags == MOQ_FETCH_END_OF_NON_EXISTENT_RANGE ||
	       flags == MOQ_FETCH_END_OF_UNKNOWN_RANGE;
}

/* Does the flag byte reference a prior Subgroup ID? */
static bool refs_prior_subgroup(uint64_t flags)
{
	unsigned mode = flags & MOQ_FETCH_FLAG_SUBGROUP_MASK;

	return !(flags & MOQ_FETCH_FLAG_DATAGRAM) &&
	       (mode == MOQ_FETCH_SUBGROUP_PRIOR || mode == MOQ_FETCH_SUBGROUP_PRIOR_PLUS_ONE);
}

int moq_fetch_object_header_decode_lim(struct moq_fetch_object *o, struct moq_fetch_ctx *ctx,
				       const uint8_t *in, size_t inlen, size_t max_props)
{
	struct moq_fetch_object m = {0};
	struct rcur c;
	uint64_t f;
	int rc;

	rcur_init(&c, in, inlen, MOQ_ERR_NEED_MORE);
	if ((rc = rcur_vi(&c, &f)))
		return rc;
	m.serialization_flags = f;
	if (is_end_of_range(f)) {
		m.end_of_range = f == MOQ_FETCH_END_OF_NON_EXISTENT_RANGE
				     ? MOQ_FETCH_NON_EXISTENT_RANGE
				     : MOQ_FETCH_UNKNOWN_RANGE;
		if ((rc = rcur_vi(&c, &m.group_id)) || (rc = rcur_vi(&c, &m.object_id)))
			return rc;
		goto done;
	}
	if (f >= 0x80)
		return MOQ_ERR_MALFORMED;
	if (!ctx->have_prior &&
	    (!(f & MOQ_FETCH_FLAG_GROUP_ID_DELTA) || !(f & MOQ_FETCH_FLAG_OBJECT_ID_DELTA)))
		return MOQ_ERR_MALFORMED; /* first item needs absolute ids */
	if (refs_prior_subgroup(f) && !(ctx->have_prior_object && ctx->prior_has_subgroup))
		return MOQ_ERR_MALFORMED;
	if (!(f & MOQ_FETCH_FLAG_PRIORITY) && !ctx->have_prior_object)
		return MOQ_ERR_MALFORMED;

	/* Group ID */
	if (f & MOQ_FETCH_FLAG_GROUP_ID_DELTA) {
		if ((rc = rcur_vi(&c, &m.group_id_delta)))
			return rc;
		if (!ctx->have_prior) {
			m.group_id = m.group_id_delta;
		} else if (m.group_id_delta == UINT64_MAX) {
			return MOQ_ERR_MALFORMED;
		} else if (descending(ctx)) {
			if (m.group_id_delta + 1 > ctx->prior_group_id)
				return MOQ_ERR_MALFORMED;
			m.group_id = ctx->prior_group_id - m.group_id_delta - 1;
		} else {
			if (m.group_id_delta + 1 > UINT64_MAX - ctx->prior_group_id)
				return MOQ_ERR_MALFORMED;
			m.group_id = ctx->prior_group_id + m.group_id_delta + 1;
		}
	} else {
		m.group_id = ctx->prior_group_id;
	}

	/* Subgroup ID */
	m.datagram = f & MOQ_FETCH_FLAG_DATAGRAM;
	if (!m.datagram) {
		switch (f & MOQ_FETCH_FLAG_SUBGROUP_MASK) {
		case MOQ_FETCH_SUBGROUP_ZERO:
			m.subgroup_id = 0;
			break;
		case MOQ_FETCH_SUBGROUP_PRIOR:
			m.subgroup_id = ctx->prior_subgroup_id;
			break;
		case MOQ_FETCH_SUBGROUP_PRIOR_PLUS_ONE:
			if (ctx->prior_subgroup_id == UINT64_MAX)
				return MOQ_ERR_MALFORMED;
			m.subgroup_id = ctx->prior_subgroup_id + 1;
			break;
		default:
			if ((rc = rcur_vi(&c, &m.subgroup_id)))
				return rc;
		}
	}

	/* Object ID */
	if (f & MOQ_FETCH_FLAG_OBJECT_ID_DELTA) {
		if ((rc = rcur_vi(&c, &m.object_id_delta)))
			return rc;
		if (f & MOQ_FETCH_FLAG_GROUP_ID_DELTA) {
			m.object_id = m.object_id_delta;
		} else {
			if (m.object_id_delta > UINT64_MAX - ctx->prior_object_id)
				return MOQ_ERR_MALFORMED;
			m.object_id = ctx->prior_object_id + m.object_id_delta;
		}
	} else {
		if (ctx->prior_object_id == UINT64_MAX)
			return MOQ_ERR_MALFORMED;
		m.object_id = ctx->prior_object_id + 1;
	}

	if (f & MOQ_FETCH_FLAG_PRIORITY) {
		if ((rc = rcur_u8(&c, &m.publisher_priority)))
			return rc;
	} else {
		m.publisher_priority = ctx->prior_priority;
	}
	m.has_properties = f & MOQ_FETCH_FLAG_PROPERTIES;
	if (m.has_properties && (rc = rcur_properties(&c, &m.properties, max_props)))
		return rc;
	if ((rc = rcur_vi(&c, &m.payload_length)))
		return rc;
done:
	ctx_advance(ctx, &m);
	*o = m;
	return (int)c.off;
}

int moq_fetch_object_header_decode(struct moq_fetch_object *o, struct moq_fetch_ctx *c,
				   const uint8_t *in, size_t inlen)
{
	return moq_fetch_object_header_decode_lim(o, c, in, inlen, MOQ_MAX_OBJECT_PROPERTIES);
}

int moq_fetch_object_decode(struct moq_fetch_object *o, struct moq_fetch_ctx *c, const uint8_t *in,
			    size_t inlen)
{
	struct moq_fetch_ctx tmp = *c;
	struct moq_fetch_object m;
	int n = moq_fetch_object_header_decode(&m, &tmp, in, inlen);

	if (n < 0)
		return n;
	if (m.payload_length > (uint64_t)(INT32_MAX - n))
		return MOQ_ERR_LIMIT; /* cannot report it as an int */
	if (m.payload_length > inlen - (size_t)n)
		return MOQ_ERR_NEED_MORE;
	m.payload.ptr = in + n;
	m.payload.len = (size_t)m.payload_length;
	*c = tmp;
	*o = m;
	return n + (int)m.payload.len;
}

/* Group ID Delta that reaches group from the prior group, or -1. */
static int group_delta(const struct moq_fetch_ctx *c, uint64_t group, uint64_t *delta)
{
	if (!c->have_prior) {
		*delta = group;
		return 0;
	}
	if (descending(c)) {
		if (group >= c->prior_group_id)
			return -1;
		*delta = c->prior_group_id - group - 1;
	} else {
		if (group <= c->prior_group_id)
			return -1;
		*delta = group - c->prior_group_id - 1;
	}
	return 0;
}

int moq_fetch_object_flags(const struct moq_fetch_ctx *c, const struct moq_fetch_object *o)
{
	uint64_t d;
	unsigned f = 0;
	bool prior_sg = c->have_prior_object && c->prior_has_subgroup;

	if (o->end_of_range == MOQ_FETCH_NON_EXISTENT_RANGE)
		return (int)MOQ_FETCH_END_OF_NON_EXISTENT_RANGE;
	if (o->end_of_range == MOQ_FETCH_UNKNOWN_RANGE)
		return (int)MOQ_FETCH_END_OF_UNKNOWN_RANGE;
	if (o->end_of_range)
		return MOQ_ERR_INVALID;
	if (o->datagram)
		f |= MOQ_FETCH_FLAG_DATAGRAM;
	else if (o->subgroup_id == 0)
		f |= MOQ_FETCH_SUBGROUP_ZERO;
	else if (prior_sg && o->subgroup_id == c->prior_subgroup_id)
		f |= MOQ_FETCH_SUBGROUP_PRIOR;
	else if (prior_sg && c->prior_subgroup_id != UINT64_MAX &&
		 o->subgroup_id == c->prior_subgroup_id + 1)
		f |= MOQ_FETCH_SUBGROUP_PRIOR_PLUS_ONE;
	else
		f |= MOQ_FETCH_SUBGROUP_PRESENT;
	if (!c->have_prior) {
		f |= MOQ_FETCH_FLAG_GROUP_ID_DELTA | MOQ_FETCH_FLAG_OBJECT_ID_DELTA;
	} else if (o->group_id != c->prior_group_id) {
		if (group_delta(c, o->group_id, &d) < 0)
			return MOQ_ERR_INVALID;
		f |= MOQ_FETCH_FLAG_GROUP_ID_DELTA;
		if (c->prior_object_id == UINT64_MAX || o->object_id != c->prior_object_id + 1)
			f |= MOQ_FETCH_FLAG_OBJECT_ID_DELTA;
	} else if (c->prior_object_id == UINT64_MAX || o->object_id != c->prior_object_id + 1) {
		if (o->object_id < c->prior_object_id)
			return MOQ_ERR_INVALID;
		f |= MOQ_FETCH_FLAG_OBJECT_ID_DELTA;
	}
	if (!c->have_prior_object || o->publisher_priority != c->prior_priority)
		f |= MOQ_FETCH_FLAG_PRIORITY;
	if (o->has_properties)
		f |= MOQ_FETCH_FLAG_PROPERTIES;
	return (int)f;
}

int moq_fetch_object_header_encode(uint8_t *out, size_t outlen, struct moq_fetch_ctx *ctx,
				   const struct moq_fetch_object *o)
{
	struct moq_fetch_object m = *o;
	uint64_t f = o->serialization_flags;
	struct wcur w;
	int rc;

	wcur_init(&w, out, outlen);
	if (is_end_of_range(f)) {
		m.end_of_range = f == MOQ_FETCH_END_OF_NON_EXISTENT_RANGE
				     ? MOQ_FETCH_NON_EXISTENT_RANGE
				     : MOQ_FETCH_UNKNOWN_RANGE;
		if ((rc = wcur_vi(&w, f)) || (rc = wcur_vi(&w, o->group_id)) ||
		    (rc = wcur_vi(&w, o->object_id)))
			return rc;
		goto done;
	}
	if (f >= 0x80 || o->end_of_range)
		return MOQ_ERR_INVALID;
	m.datagram = f & MOQ_FETCH_FLAG_DATAGRAM;
	if (m.datagram != o->datagram)
		return MOQ_ERR_INVALID;
	if (!ctx->have_prior &&
	    (!(f & MOQ_FETCH_FLAG_GROUP_ID_DELTA) || !(f & MOQ_FETCH_FLAG_OBJECT_ID_DELTA)))
		return MOQ_ERR_INVALID;
	if (refs_prior_subgroup(f) && !(ctx->have_prior_object && ctx->prior_has_subgroup))
		return MOQ_ERR_INVALID;
	if (!(f & MOQ_FETCH_FLAG_PRIORITY) &&
	    (!ctx->have_prior_object || o->publisher_priority != ctx->prior_priority))
		return MOQ_ERR_INVALID;
	if (!(f & MOQ_FETCH_FLAG_PROPERTIES) && o->properties.len)
		return MOQ_ERR_INVALID;
	m.has_properties = f & MOQ_FETCH_FLAG_PROPERTIES;

	if (f & MOQ_FETCH_FLAG_GROUP_ID_DELTA) {
		if (group_delta(ctx, o->group_id, &m.group_id_delta) < 0)
			return MOQ_ERR_INVALID;
	} else if (o->group_id != ctx->prior_group_id) {
		return MOQ_ERR_INVALID;
	}
	if (!m.datagram) {
		switch (f & MOQ_FETCH_FLAG_SUBGROUP_MASK) {
		case MOQ_FETCH_SUBGROUP_ZERO:
			if (o->subgroup_id)
				return MOQ_ERR_INVALID;
			break;
		case MOQ_FETCH_SUBGROUP_PRIOR:
			if (o->subgroup_id != ctx->prior_subgroup_id)
				return MOQ_ERR_INVALID;
			break;
		case MOQ_FETCH_SUBGROUP_PRIOR_PLUS_ONE:
			if (ctx->prior_subgroup_id == UINT64_MAX ||
			    o->subgroup_id != ctx->prior_subgroup_id + 1)
				return MOQ_ERR_INVALID;
			break;
		}
	} else {
		m.subgroup_id = 0;
	}
	if (f & MOQ_FETCH_FLAG_OBJECT_ID_DELTA) {
		if (f & MOQ_FETCH_FLAG_GROUP_ID_DELTA)
			m.object_id_delta = o->object_id;
		else if (o->object_id < ctx->prior_object_id)
			return MOQ_ERR_INVALID;
		else
			m.object_id_delta = o->object_id - ctx->prior_object_id;
	} else if (ctx->prior_object_id == UINT64_MAX || o->object_id != ctx->prior_object_id + 1) {
		return MOQ_ERR_INVALID;
	}

	if ((rc = wcur_vi(&w, f)))
		return rc;
	if ((f & MOQ_FETCH_FLAG_GROUP_ID_DELTA) && (rc = wcur_vi(&w, m.group_id_delta)))
		return rc;
	if (!m.datagram && (f & MOQ_FETCH_FLAG_SUBGROUP_MASK) == MOQ_FETCH_SUBGROUP_PRESENT &&
	    (rc = wcur_vi(&w, o->subgroup_id)))
		return rc;
	if ((f & MOQ_FETCH_FLAG_OBJECT_ID_DELTA) && (rc = wcur_vi(&w, m.object_id_delta)))
		return rc;
	if ((f & MOQ_FETCH_FLAG_PRIORITY) && (rc = wcur_u8(&w, o->publisher_priority)))
		return rc;
	if ((f & MOQ_FETCH_FLAG_PROPERTIES) && (rc = wcur_properties(&w, &o->properties)))
		return rc;
	if ((rc = wcur_vi(&w, o->payload_length)))
		return rc;
done:
	ctx_advance(ctx, &m);
	return (int)w.off;
}

int moq_fetch_object_encode(uint8_t *out, size_t outlen, struct moq_fetch_ctx *c,
			    const struct moq_fetch_object *o)
{
	struct moq_fetch_ctx tmp = *c;
	struct wcur w;
	int n, rc;

	if (o->payload.len != o->payload_length ||
	    (is_end_of_range(o->serialization_flags) && o->payload.len))
		return MOQ_ERR_INVALID;
	n = moq_fetch_object_header_encode(out, outlen, &tmp, o);
	if (n < 0)
		return n;
	wcur_init(&w, out, outlen);
	w.off = (size_t)n;
	if ((rc = wcur_bytes(&w, &o->payload)))
		return rc;
	if (w.off > INT32_MAX)
		return MOQ_ERR_RANGE;
	*c = tmp;
	return (int)w.off;
}
