/* OBJECT_DATAGRAM and padding datagrams (draft-18 "Object Datagram",
 * "Padding Datagrams"). A datagram is a complete unit: running out of bytes
 * is MOQ_ERR_MALFORMED, never MOQ_ERR_NEED_MORE. */
#include "data_datagram.h"
#include "data_priv.h"

int moq_object_datagram_type(const struct moq_object_datagram *d)
{
	unsigned t = 0;

	if (d->has_status && d->end_of_group)
		return MOQ_ERR_INVALID;
	if (d->has_properties)
		t |= MOQ_DATAGRAM_TYPE_PROPERTIES;
	if (d->end_of_group)
		t |= MOQ_DATAGRAM_TYPE_END_OF_GROUP;
	if (d->zero_object_id)
		t |= MOQ_DATAGRAM_TYPE_ZERO_OBJECT_ID;
	if (d->default_priority)
		t |= MOQ_DATAGRAM_TYPE_DEFAULT_PRIORITY;
	if (d->has_status)
		t |= MOQ_DATAGRAM_TYPE_STATUS;
	return (int)t;
}

int moq_object_datagram_flags(struct moq_object_datagram *d, uint64_t type)
{
	int kind = moq_datagram_type_classify(type);

	if (kind < 0)
		return kind;
	if (kind != MOQ_DATA_OBJECT_DATAGRAM)
		return MOQ_ERR_UNKNOWN_TYPE;
	d->type = type;
	d->has_properties = type & MOQ_DATAGRAM_TYPE_PROPERTIES;
	d->end_of_group = type & MOQ_DATAGRAM_TYPE_END_OF_GROUP;
	d->zero_object_id = type & MOQ_DATAGRAM_TYPE_ZERO_OBJECT_ID;
	d->default_priority = type & MOQ_DATAGRAM_TYPE_DEFAULT_PRIORITY;
	d->has_status = type & MOQ_DATAGRAM_TYPE_STATUS;
	return 0;
}

int moq_object_datagram_encode(uint8_t *out, size_t outlen, const struct moq_object_datagram *d)
{
	struct wcur w;
	int type = moq_object_datagram_type(d), rc;

	if (type < 0)
		return type;
	if (d->zero_object_id && d->object_id)
		return MOQ_ERR_INVALID;
	if (d->has_properties ? d->properties.len == 0 : d->properties.len != 0)
		return MOQ_ERR_INVALID;
	if (d->has_status) {
		if (d->payload.len || !moq_object_status_valid(d->object_status))
			return MOQ_ERR_INVALID;
		if (d->has_properties && d->object_status != MOQ_OBJECT_STATUS_NORMAL)
			return MOQ_ERR_INVALID;
	} else if (d->object_status != MOQ_OBJECT_STATUS_NORMAL) {
		return MOQ_ERR_INVALID;
	}
	wcur_init(&w, out, outlen);
	if ((rc = wcur_vi(&w, (uint64_t)type)) || (rc = wcur_vi(&w, d->track_alias)) ||
	    (rc = wcur_vi(&w, d->group_id)))
		return rc;
	if (!d->zero_object_id && (rc = wcur_vi(&w, d->object_id)))
		return rc;
	if (!d->default_priority && (rc = wcur_u8(&w, d->publisher_priority)))
		return rc;
	if (d->has_properties && (rc = wcur_properties(&w, &d->properties)))
		return rc;
	if (d->has_status)
		rc = wcur_vi(&w, d->object_status);
	else
		rc = wcur_bytes(&w, &d->payload);
	if (rc)
		return rc;
	if (w.off > INT32_MAX)
		return MOQ_ERR_RANGE;
	return (int)w.off;
}

int moq_object_datagram_decode(struct moq_object_datagram *d, const uint8_t *in, size_t inlen)
{
	struct moq_object_datagram m = {0};
	struct rcur c;
	uint64_t type;
	int rc;

	if (inlen > INT32_MAX)
		return MOQ_ERR_LIMIT;
	rcur_init(&c, in, inlen, MOQ_ERR_MALFORMED);
	if ((rc = rcur_vi(&c, &type)))
		return rc;
	if ((rc = moq_object_datagram_flags(&m, type)))
		return rc;
	if ((rc = rcur_vi(&c, &m.track_alias)) || (rc = rcur_vi(&c, &m.group_id)))
		return rc;
	if (!m.zero_object_id && (rc = rcur_vi(&c, &m.object_id)))
		return rc;
	if (!m.default_priority && (rc = rcur_u8(&c, &m.publisher_priority)))
		return rc;
	if (m.has_properties) {
		if ((rc = rcur_properties(&c, &m.properties, MOQ_MAX_OBJECT_PROPERTIES)))
			return rc;
		if (m.properties.len == 0)
			return MOQ_ERR_MALFORMED;
	}
	m.object_status = MOQ_OBJECT_STATUS_NORMAL;
	if (m.has_status) {
		if ((rc = rcur_vi(&c, &m.object_status)))
			return rc;
		if (!moq_object_status_valid(m.object_status))
			return MOQ_ERR_MALFORMED;
		if (m.has_properties && m.object_status != MOQ_OBJECT_STATUS_NORMAL)
			return MOQ_ERR_MALFORMED;
		if (rcur_left(&c))
			return MOQ_ERR_MALFORMED; /* no payload with a status */
	} else {
		rcur_bytes(&c, &m.payload, rcur_left(&c));
	}
	*d = m;
	return (int)c.off;
}

int moq_padding_datagram_encode(uint8_t *out, size_t outlen, size_t pad_len)
{
	int n = moq_vi_encode(out, outlen, MOQ_DATAGRAM_TYPE_PADDING);

	if (n < 0)
		return n;
	if (pad_len > outlen - (size_t)n)
		return MOQ_ERR_BUFFER;
	if (pad_len > (size_t)(INT32_MAX - n))
		return MOQ_ERR_RANGE;
	memset(out + n, 0, pad_len);
	return n + (int)pad_len;
}

int moq_padding_datagram_decode(size_t *pad_len, const uint8_t *in, size_t inlen)
{
	uint64_t type;
	int n;

	if (inlen > INT32_MAX)
		return MOQ_ERR_LIMIT;
	n = moq_vi_decode(&type, in, inlen);
	if (n < 0)
		return MOQ_ERR_MALFORMED;
	if (type != MOQ_DATAGRAM_TYPE_PADDING)
		return MOQ_ERR_UNKNOWN_TYPE;
	for (size_t i = (size_t)n; i < inlen; i++)
		if (in[i])
			return MOQ_ERR_MALFORMED;
	if (pad_len)
		*pad_len = inlen - (size_t)n;
	return (int)inlen;
}
