/* Streaming decoder for a unidirectional data stream: see data_reader.h. */
#include "data_reader.h"
#include "data_priv.h"

enum {
	ST_HEADER = 0, /* stream type and header */
	ST_OBJ_HDR,    /* next object header (or End of Range) */
	ST_PAYLOAD,    /* payload_left bytes of the current object */
	ST_OBJ_END,    /* OBJECT_END pending */
	ST_PADDING,    /* padding stream: zero bytes, discarded */
	ST_SETUP,      /* control stream: not decoded here */
	ST_DONE,       /* FIN seen */
};

const char *moq_data_event_name(int type)
{
	switch (type) {
	case MOQ_DATA_EV_HEADER:
		return "HEADER";
	case MOQ_DATA_EV_OBJECT:
		return "OBJECT";
	case MOQ_DATA_EV_PAYLOAD:
		return "PAYLOAD";
	case MOQ_DATA_EV_OBJECT_END:
		return "OBJECT_END";
	case MOQ_DATA_EV_END_OF_RANGE:
		return "END_OF_RANGE";
	case MOQ_DATA_EV_STREAM_END:
		return "STREAM_END";
	}
	return "UNKNOWN";
}

int moq_data_reader_init(struct moq_data_reader *r, const struct moq_data_reader_config *cfg,
			 uint8_t *buf, size_t buflen)
{
	size_t max_props;

	memset(r, 0, sizeof(*r));
	if (!buf || buflen < MOQ_DATA_READER_BUF_SIZE(1))
		return MOQ_ERR_INVALID;
	max_props = buflen - MOQ_DATA_READER_FIXED_MAX;
	if (max_props > MOQ_MAX_OBJECT_PROPERTIES)
		max_props = MOQ_MAX_OBJECT_PROPERTIES;
	if (cfg && cfg->max_properties_length) {
		if (cfg->max_properties_length > max_props &&
		    cfg->max_properties_length <= MOQ_MAX_OBJECT_PROPERTIES)
			return MOQ_ERR_INVALID;
		if (cfg->max_properties_length < max_props)
			max_props = cfg->max_properties_length;
	}
	r->max_props = max_props;
	r->max_payload = cfg && cfg->max_payload_length ? cfg->max_payload_length
							: MOQ_DATA_READER_DEFAULT_MAX_PAYLOAD;
	r->buf = buf;
	r->cap = buflen;
	r->state = ST_HEADER;
	moq_fetch_ctx_init(&r->fetch, cfg ? cfg->fetch_group_order : 0);
	return 0;
}

static int fail(struct moq_data_reader *r, int err)
{
	r->err = err;
	return err;
}

/* Fill the parts of an event that every event carries. */
static void event_init(const struct moq_data_reader *r, struct moq_data_event *ev, int type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint8_t)type;
	ev->stream = r->stream;
	ev->stream_type = r->stream_type;
	if (r->stream == MOQ_DATA_SUBGROUP_HEADER) {
		ev->subgroup = r->sub.hdr;
		ev->subgroup_object = r->sobj;
	} else if (r->stream == MOQ_DATA_FETCH_HEADER) {
		ev->fetch = r->fetch_hdr;
		ev->fetch_object = r->fobj;
	}
	if (type != MOQ_DATA_EV_OBJECT && type != MOQ_DATA_EV_END_OF_RANGE) {
		/* the properties view belongs to the OBJECT event's call */
		ev->subgroup_object.properties = (struct moq_bytes){0};
		ev->fetch_object.properties = (struct moq_bytes){0};
	}
}

/* Decode one bounded unit (stream header or object header) from in. On
 * success the reader state advances and ev is filled. Returns bytes used,
 * MOQ_ERR_NEED_MORE (nothing changed) or an error. */
static int decode_unit(struct moq_data_reader *r, const uint8_t *in, size_t inlen,
		       struct moq_data_event *ev)
{
	struct moq_subgroup_header sh;
	struct moq_subgroup_object so;
	struct moq_fetch_object fo;
	uint64_t type;
	size_t tlen;
	int kind, n;

	if (r->state == ST_HEADER) {
		kind = moq_stream_type_peek(&type, &tlen, in, inlen);
		if (kind < 0)
			return kind;
		switch (kind) {
		case MOQ_DATA_SUBGROUP_HEADER:
			n = moq_subgroup_header_decode(&sh, in, inlen);
			if (n < 0)
				return n;
			moq_subgroup_ctx_init(&r->sub, &sh);
			r->state = ST_OBJ_HDR;
			break;
		case MOQ_DATA_FETCH_HEADER:
			n = moq_fetch_header_decode(&r->fetch_hdr, in, inlen);
			if (n < 0)
				return n;
			r->state = ST_OBJ_HDR;
			break;
		case MOQ_DATA_PADDING:
			n = (int)tlen;
			r->state = ST_PADDING;
			break;
		default: /* SETUP */
			n = (int)tlen;
			r->state = ST_SETUP;
			break;
		}
		r->stream = (uint8_t)kind;
		r->stream_type = type;
		event_init(r, ev, MOQ_DATA_EV_HEADER);
		return n;
	}

	/* ST_OBJ_HDR */
	if (r->stream == MOQ_DATA_SUBGROUP_HEADER) {
		struct moq_subgroup_ctx c = r->sub;
		n = moq_subgroup_object_header_decode_lim(&so, &c, in, inlen, r->max_props);
		if (n < 0)
			return n;
		if (so.payload_length > r->max_payload)
			return MOQ_ERR_LIMIT;
		r->sub = c;
		r->sobj = so;
		r->payload_left = so.payload_length;
	} else {
		struct moq_fetch_ctx c = r->fetch;
		n = moq_fetch_object_header_decode_lim(&fo, &c, in, inlen, r->max_props);
		if (n < 0)
			return n;
		if (fo.payload_length > r->max_payload)
			return MOQ_ERR_LIMIT;
		r->fetch = c;
		r->fobj = fo;
		r->payload_left = fo.payload_length;
		if (fo.end_of_range) {
			event_init(r, ev, MOQ_DATA_EV_END_OF_RANGE);
			return n;
		}
	}
	r->payload_off = 0;
	r->state = r->payload_left ? ST_PAYLOAD : ST_OBJ_END;
	event_init(r, ev, MOQ_DATA_EV_OBJECT);
	return n;
}

/* A unit split across pieces is gathered in r->buf. Units are bounded
 * (MOQ_DATA_READER_FIXED_MAX + max_props <= cap, and longer properties are
 * refused as soon as their length is read), so a NEED_MORE never needs more
 * than cap bytes. */
static int feed_unit(struct moq_data_reader *r, const uint8_t *in, size_t inlen, size_t *consumed,
		     struct moq_data_event *ev)
{
	size_t take;
	int n;

	if (inlen == 0)
		return MOQ_ERR_NEED_MORE;
	if (r->blen == 0) {
		n = decode_unit(r, in, inlen, ev);
		if (n >= 0) {
			*consumed = (size_t)n;
			return 1;
		}
		if (n != MOQ_ERR_NEED_MORE)
			return fail(r, n);
		if (inlen > r->cap)
			return fail(r, MOQ_ERR_LIMIT);
		memcpy(r->buf, in, inlen);
		r->blen = inlen;
		*consumed = inlen;
		return MOQ_ERR_NEED_MORE;
	}
	take = r->cap - r->blen;
	if (take > inlen)
		take = inlen;
	memcpy(r->buf + r->blen, in, take);
	n = decode_unit(r, r->buf, r->blen + take, ev);
	if (n >= 0) {
		/* the unit did not fit in blen bytes, so n > blen */
		if ((size_t)n <= r->blen)
			return fail(r, MOQ_ERR_INVALID);
		*consumed = (size_t)n - r->blen;
		r->blen = 0;
		return 1;
	}
	if (n != MOQ_ERR_NEED_MORE)
		return fail(r, n);
	if (take < inlen)
		return fail(r, MOQ_ERR_LIMIT);
	r->blen += take;
	*consumed = take;
	return MOQ_ERR_NEED_MORE;
}

int moq_data_reader_feed(struct moq_data_reader *r, const uint8_t *in, size_t inlen,
			 size_t *consumed, struct moq_data_event *ev)
{
	size_t n;

	*consumed = 0;
	if (r->err)
		return r->err;
	switch (r->state) {
	case ST_HEADER:
	case ST_OBJ_HDR:
		return feed_unit(r, in, inlen, consumed, ev);
	case ST_PAYLOAD:
		if (inlen == 0)
			return MOQ_ERR_NEED_MORE;
		n = r->payload_left < inlen ? (size_t)r->payload_left : inlen;
		event_init(r, ev, MOQ_DATA_EV_PAYLOAD);
		ev->payload.ptr = in;
		ev->payload.len = n;
		ev->payload_offset = r->payload_off;
		r->payload_off += n;
		r->payload_left -= n;
		if (!r->payload_left)
			r->state = ST_OBJ_END;
		*consumed = n;
		return 1;
	case ST_OBJ_END:
		event_init(r, ev, MOQ_DATA_EV_OBJECT_END);
		r->state = ST_OBJ_HDR;
		return 1;
	case ST_PADDING:
		for (n = 0; n < inlen; n++)
			if (in[n])
				return fail(r, MOQ_ERR_MALFORMED);
		r->padding_bytes += inlen;
		*consumed = inlen;
		return MOQ_ERR_NEED_MORE;
	default: /* ST_SETUP, ST_DONE */
		if (inlen == 0)
			return MOQ_ERR_NEED_MORE;
		return fail(r, MOQ_ERR_INVALID);
	}
}

int moq_data_reader_finish(struct moq_data_reader *r, struct moq_data_event *ev)
{
	if (r->err)
		return r->err;
	switch (r->state) {
	case ST_OBJ_HDR:
		if (r->blen)
			return fail(r, MOQ_ERR_MALFORMED);
		break;
	case ST_PADDING:
	case ST_SETUP:
		break;
	case ST_OBJ_END: /* call feed until NEED_MORE first */
		return MOQ_ERR_INVALID;
	default: /* ST_HEADER, ST_PAYLOAD, ST_DONE */
		return fail(r, MOQ_ERR_MALFORMED);
	}
	event_init(r, ev, MOQ_DATA_EV_STREAM_END);
	r->state = ST_DONE;
	return 1;
}
