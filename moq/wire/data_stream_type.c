/* Stream/datagram type classification, names, object status and property
 * helpers (draft-18 "Unidirectional Stream Types", "Object Status", "MOQT
 * Properties"). */
#include "data_stream_type.h"
#include "data_priv.h"

const char *moq_data_type_name(int type)
{
	switch (type) {
	case MOQ_DATA_SUBGROUP_HEADER:
		return "SUBGROUP_HEADER";
	case MOQ_DATA_FETCH_HEADER:
		return "FETCH_HEADER";
	case MOQ_DATA_SETUP:
		return "SETUP";
	case MOQ_DATA_PADDING:
		return "PADDING";
	case MOQ_DATA_OBJECT_DATAGRAM:
		return "OBJECT_DATAGRAM";
	case MOQ_DATA_PADDING_DATAGRAM:
		return "PADDING_DATAGRAM";
	}
	return "UNKNOWN";
}

int moq_stream_type_classify(uint64_t type)
{
	if (type == MOQ_STREAM_TYPE_FETCH_HEADER)
		return MOQ_DATA_FETCH_HEADER;
	if (type == MOQ_STREAM_TYPE_SETUP)
		return MOQ_DATA_SETUP;
	if (type == MOQ_STREAM_TYPE_PADDING)
		return MOQ_DATA_PADDING;
	if (type <= 0x7f && (type & MOQ_SUBGROUP_TYPE_BASE)) {
		if ((type & MOQ_SUBGROUP_TYPE_ID_MODE_MASK) == MOQ_SUBGROUP_TYPE_ID_MODE_MASK)
			return MOQ_ERR_MALFORMED;
		return MOQ_DATA_SUBGROUP_HEADER;
	}
	return MOQ_ERR_UNKNOWN_TYPE;
}

int moq_datagram_type_classify(uint64_t type)
{
	if (type == MOQ_DATAGRAM_TYPE_PADDING)
		return MOQ_DATA_PADDING_DATAGRAM;
	if ((type & ~(uint64_t)0x2f) == 0) {
		if ((type & MOQ_DATAGRAM_TYPE_STATUS) && (type & MOQ_DATAGRAM_TYPE_END_OF_GROUP))
			return MOQ_ERR_MALFORMED;
		return MOQ_DATA_OBJECT_DATAGRAM;
	}
	return MOQ_ERR_UNKNOWN_TYPE;
}

int moq_stream_type_peek(uint64_t *type, size_t *consumed, const uint8_t *in, size_t inlen)
{
	int n = moq_vi_decode(type, in, inlen);
	if (n < 0)
		return n;
	if (consumed)
		*consumed = (size_t)n;
	return moq_stream_type_classify(*type);
}

bool moq_object_status_valid(uint64_t status)
{
	return status == MOQ_OBJECT_STATUS_NORMAL || status == MOQ_OBJECT_STATUS_END_OF_GROUP ||
	       status == MOQ_OBJECT_STATUS_END_OF_TRACK;
}

const char *moq_object_status_name(uint64_t status)
{
	switch (status) {
	case MOQ_OBJECT_STATUS_NORMAL:
		return "NORMAL";
	case MOQ_OBJECT_STATUS_END_OF_GROUP:
		return "END_OF_GROUP";
	case MOQ_OBJECT_STATUS_END_OF_TRACK:
		return "END_OF_TRACK";
	}
	return NULL;
}

const char *moq_property_name(uint64_t type)
{
	switch (type) {
	case MOQ_PROP_OBJECT_DELIVERY_TIMEOUT:
		return "OBJECT_DELIVERY_TIMEOUT";
	case MOQ_PROP_MAX_CACHE_DURATION:
		return "MAX_CACHE_DURATION";
	case MOQ_PROP_SUBGROUP_DELIVERY_TIMEOUT:
		return "SUBGROUP_DELIVERY_TIMEOUT";
	case MOQ_PROP_IMMUTABLE_PROPERTIES:
		return "IMMUTABLE_PROPERTIES";
	case MOQ_PROP_DEFAULT_PUBLISHER_PRIORITY:
		return "DEFAULT_PUBLISHER_PRIORITY";
	case MOQ_PROP_DEFAULT_PUBLISHER_GROUP_ORDER:
		return "DEFAULT_PUBLISHER_GROUP_ORDER";
	case MOQ_PROP_DYNAMIC_GROUPS:
		return "DYNAMIC_GROUPS";
	case MOQ_PROP_PRIOR_GROUP_ID_GAP:
		return "PRIOR_GROUP_ID_GAP";
	case MOQ_PROP_PRIOR_OBJECT_ID_GAP:
		return "PRIOR_OBJECT_ID_GAP";
	}
	return NULL;
}

bool moq_property_is_application(uint64_t type)
{
	return (type >= 0x38 && type <= 0x3f) || (type >= 0x3800 && type <= 0x3fff);
}

bool moq_property_is_mandatory_track(uint64_t type)
{
	return type >= 0x4000 && type <= 0x7fff;
}

int moq_object_properties_check(const uint8_t *buf, size_t len)
{
	struct moq_kvp_iter it, inner;
	struct moq_kvp kv, ikv;
	int n = 0, rc, immutable = 0, ggap = 0, ogap = 0;

	moq_kvp_iter_init(&it, buf, len);
	while ((rc = moq_kvp_next(&it, &kv)) == 1) {
		n++;
		if (kv.type == MOQ_PROP_PRIOR_GROUP_ID_GAP && ++ggap > 1)
			return MOQ_ERR_MALFORMED;
		if (kv.type == MOQ_PROP_PRIOR_OBJECT_ID_GAP && ++ogap > 1)
			return MOQ_ERR_MALFORMED;
		if (kv.type != MOQ_PROP_IMMUTABLE_PROPERTIES)
			continue;
		if (++immutable > 1)
			return MOQ_ERR_MALFORMED;
		moq_kvp_iter_init(&inner, kv.bytes.ptr, kv.bytes.len);
		while ((rc = moq_kvp_next(&inner, &ikv)) == 1) {
			if (ikv.type == MOQ_PROP_IMMUTABLE_PROPERTIES)
				return MOQ_ERR_MALFORMED;
			if (ikv.type == MOQ_PROP_PRIOR_GROUP_ID_GAP && ++ggap > 1)
				return MOQ_ERR_MALFORMED;
			if (ikv.type == MOQ_PROP_PRIOR_OBJECT_ID_GAP && ++ogap > 1)
				return MOQ_ERR_MALFORMED;
		}
		if (rc < 0)
			return rc;
	}
	return rc < 0 ? rc : n;
}

int moq_padding_stream_header_encode(uint8_t *out, size_t outlen)
{
	return moq_vi_encode(out, outlen, MOQ_STREAM_TYPE_PADDING);
}
