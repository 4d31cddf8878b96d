/* SUBGROUP_HEADER and the objects that follow it on a subgroup stream
 * (draft-18 "Subgroup Header"). */
#include "data_subgroup.h"
#include "data_priv.h"

int moq_subgroup_header_type(const struct moq_subgroup_header *h)
{
	unsigned t = MOQ_SUBGROUP_TYPE_BASE;

	if (h->subgroup_id_mode > MOQ_SUBGROUP_ID_PRESENT)
		return MOQ_ERR_INVALID;
	if (h->has_properties)
		t |= MOQ_SUBGROUP_TYPE_PROPERTIES;
	t |= (unsigned)h->subgroup_id_mode << 1;
	if (h->end_of_group)
		t |= MOQ_SUBGROUP_TYPE_END_OF_GROUP;
	if (h->default_priority)
		t |= MOQ_SUBGROUP_TYPE_DEFAULT_PRIORITY;
	if (h->first_object)
		t |= MOQ_SUBGROUP_TYPE_FIRST_OBJECT;
	return (int)t;
}

int moq_subgroup_header_flags(struct moq_subgroup_header *h, uint64_t type)
{
	int kind = moq_stream_type_classify(type);

	if (kind < 0)
		return kind;
	if (kind != MOQ_DATA_SUBGROUP_HEADER)
		return MOQ_ERR_UNKNOWN_TYPE;
	h->type = type;
	h->has_properties = type & MOQ_SUBGROUP_TYPE_PROPERTIES;
	h->subgroup_id_mode = (type & MOQ_SUBGROUP_TYPE_ID_MODE_MASK) >> 1;
	h->end_of_group = type & MOQ_SUBGROUP_TYPE_END_OF_GROUP;
	h->default_priority = type & MOQ_SUBGROUP_TYPE_DEFAULT_PRIORITY;
	h->first_object = type & MOQ_SUBGROUP_TYPE_FIRST_OBJECT;
	return 0;
}

int moq_subgroup_header_encode(uint8_t *out, size_t outlen, const struct moq_subgroup_header *h)
{
	struct wcur w;
	int type = moq_subgroup_header_type(h), rc;

	if (type < 0)
		return type;
	if (h->subgroup_id_mode == MOQ_SUBGROUP_ID_ZERO && h->subgroup_id)
		return MOQ_ERR_INVALID;
	wcur_init(&w, out, outlen);
	if ((rc = wcur_vi(&w, (uint64_t)type)) || (rc = wcur_vi(&w, h->track_alias)) ||
	    (rc = wcur_vi(&w, h->group_id)))
		return rc;
	if (h->subgroup_id_mode == MOQ_SUBGROUP_ID_PRESENT && (rc = wcur_vi(&w, h->subgroup_id)))
		return rc;
	if (!h->default_priority && (rc = wcur_u8(&w, h->publisher_priority)))
		return rc;
	return (int)w.off;
}

int moq_subgroup_header_decode(struct moq_subgroup_header *h, const uint8_t *in, size_t inlen)
{
	struct moq_subgroup_header m = {0};
	struct rcur c;
	uint64_t type;
	int rc;

	rcur_init(&c, in, inlen, MOQ_ERR_NEED_MORE);
	if ((rc = rcur_vi(&c, &type)))
		return rc;
	if ((rc = moq_subgroup_header_flags(&m, type)))
		return rc;
	if ((rc = rcur_vi(&c, &m.track_alias)) || (rc = rcur_vi(&c, &m.group_id)))
		return rc;
	if (m.subgroup_id_mode == MOQ_SUBGROUP_ID_PRESENT && (rc = rcur_vi(&c, &m.subgroup_id)))
		return rc;
	m.subgroup_id_known = m.subgroup_id_mode != MOQ_SUBGROUP_ID_FIRST_OBJECT;
	if (!m.default_priority && (rc = rcur_u8(&c, &m.publisher_priority)))
		return rc;
	*h = m;
	return (int)c.off;
}

void moq_subgroup_ctx_init(struct moq_subgroup_ctx *c, const struct moq_subgroup_header *h)
{
	memset(c, 0, sizeof(*c));
	c->hdr = *h;
	c->hdr.subgroup_id_known = h->subgroup_id_mode != MOQ_SUBGROUP_ID_FIRST_OBJECT;
	if (!c->hdr.subgroup_id_known)
		c->hdr.subgroup_id = 0;
}

/* Record a decoded or encoded object in the stream state. */
static void ctx_advance(struct moq_subgroup_ctx *c, const struct moq_subgroup_object *o)
{
	if (!c->have_prev && c->hdr.subgroup_id_mode == MOQ_SUBGROUP_ID_FIRST_OBJECT) {
		c->hdr.subgroup_id = o->object_id;
		c->hdr.subgroup_id_known = true;
	}
	c->have_prev = true;
	c->prev_object_id = o->object_id;
	c->objects++;
	if (o->object_status != MOQ_OBJECT_STATUS_NORMAL)
		c->ended = true;
}

int moq_subgroup_object_header_decode_lim(struct moq_subgroup_object *o,
					  struct moq_subgroup_ctx *ctx, const uint8_t *in,
					  size_t inlen, size_t max_props)
{
	struct moq_subgroup_object m = {0};
	struct rcur c;
	int rc;

	rcur_init(&c, in, inlen, MOQ_ERR_NEED_MORE);
	if ((rc = rcur_vi(&c, &m.object_id_delta)))
		return rc;
	if (ctx->ended)
		return MOQ_ERR_MALFORMED; /* object after End of Group/Track */
	if (!ctx->have_prev) {
		m.object_id = m.object_id_delta;
	} else {
		/* prev + delta + 1 must stay <= 2^64 - 1 */
		if (m.object_id_delta >= UINT64_MAX - ctx->prev_object_id)
			return MOQ_ERR_MALFORMED;
		m.object_id = ctx->prev_object_id + m.object_id_delta + 1;
	}
	if (ctx->hdr.has_properties && (rc = rcur_properties(&c, &m.properties, max_props)))
		return rc;
	if ((rc = rcur_vi(&c, &m.payload_length)))
		return rc;
	m.object_status = MOQ_OBJECT_STATUS_NORMAL;
	if (m.payload_length == 0) {
		if ((rc = rcur_vi(&c, &m.object_status)))
			return rc;
		if (!moq_object_status_valid(m.object_status))
			return MOQ_ERR_MALFORMED;
		if (m.object_status != MOQ_OBJECT_STATUS_NORMAL && m.properties.len)
			return MOQ_ERR_MALFORMED;
	}
	ctx_advance(ctx, &m);
	*o = m;
	return (int)c.off;
}

int moq_subgroup_object_header_decode(struct moq_subgroup_object *o, struct moq_subgroup_ctx *c,
				      const uint8_t *in, size_t inlen)
{
	return moq_subgroup_object_header_decode_lim(o, c, in, inlen, MOQ_MAX_OBJECT_PROPERTIES);
}

int moq_subgroup_object_decode(struct moq_subgroup_object *o, struct moq_subgroup_ctx *c,
			       const uint8_t *in, size_t inlen)
{
	struct moq_subgroup_ctx tmp = *c;
	struct moq_subgroup_object m;
	int n = moq_subgroup_object_header_decode(&m, &tmp, in, inlen);

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

int moq_subgroup_object_header_encode(uint8_t *out, size_t outlen, struct moq_subgroup_ctx *ctx,
				      const struct moq_subgroup_object *o)
{
	struct moq_subgroup_object m = *o;
	struct wcur w;
	int rc;

	if (ctx->ended)
		return MOQ_ERR_INVALID;
	if (ctx->have_prev) {
		if (o->object_id <= ctx->prev_object_id)
			return MOQ_ERR_INVALID;
		m.object_id_delta = o->object_id - ctx->prev_object_id - 1;
	} else {
		m.object_id_delta = o->object_id;
	}
	if (o->properties.len && !ctx->hdr.has_properties)
		return MOQ_ERR_INVALID;
	if (o->payload_length) {
		if (o->object_status != MOQ_OBJECT_STATUS_NORMAL)
			return MOQ_ERR_INVALID;
	} else {
		if (!moq_object_status_valid(o->object_status))
			return MOQ_ERR_INVALID;
		if (o->object_status != MOQ_OBJECT_STATUS_NORMAL && o->properties.len)
			return MOQ_ERR_INVALID;
	}
	wcur_init(&w, out, outlen);
	if ((rc = wcur_vi(&w, m.object_id_delta)))
		return rc;
	if (ctx->hdr.has_properties && (rc = wcur_properties(&w, &o->properties)))
		return rc;
	if ((rc = wcur_vi(&w, o->payload_length)))
		return rc;
	if (!o->payload_length && (rc = wcur_vi(&w, o->object_status)))
		return rc;
	ctx_advance(ctx, &m);
	return (int)w.off;
}

int moq_subgroup_object_encode(uint8_t *out, size_t outlen, struct moq_subgroup_ctx *c,
			       const struct moq_subgroup_object *o)
{
	struct moq_subgroup_ctx tmp = *c;
	struct wcur w;
	int n, rc;

	if (o->payload.len != o->payload_length)
		return MOQ_ERR_INVALID;
	n = moq_subgroup_object_header_encode(out, outlen, &tmp, o);
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
