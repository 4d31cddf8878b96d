/* MoQT draft-18 unidirectional stream and datagram types, object status,
 * properties, padding stream (data_stream_type.c).
 * Conventions: see data.h. */
#ifndef MOQ_DATA_STREAM_TYPE_H
#define MOQ_DATA_STREAM_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"

/* ---- Unidirectional stream and datagram types ------------------------- */

#define MOQ_STREAM_TYPE_FETCH_HEADER 0x05ull
#define MOQ_STREAM_TYPE_SETUP 0x2F00ull /* control stream (SETUP) */
#define MOQ_STREAM_TYPE_PADDING 0x132B3E28ull
#define MOQ_DATAGRAM_TYPE_PADDING 0x132B3E29ull

/* What a unidirectional stream or a datagram carries. Values are > 0 so
 * classify functions can return them or a negative error. */
enum moq_data_type {
	MOQ_DATA_SUBGROUP_HEADER = 1, /* stream: 0b0XX1XXXX */
	MOQ_DATA_FETCH_HEADER,	      /* stream: 0x05 */
	MOQ_DATA_SETUP,		      /* stream: 0x2F00, the control stream */
	MOQ_DATA_PADDING,	      /* stream: 0x132B3E28 */
	MOQ_DATA_OBJECT_DATAGRAM,     /* datagram: 0b00X0XXXX */
	MOQ_DATA_PADDING_DATAGRAM,    /* datagram: 0x132B3E29 */
};

/* "SUBGROUP_HEADER", "FETCH_HEADER", "SETUP", "PADDING", "OBJECT_DATAGRAM",
 * "PADDING_DATAGRAM"; "UNKNOWN" for anything else. Static strings. */
const char *moq_data_type_name(int type);

/* Classify the type of a unidirectional stream (the first vi64 on it).
 * Returns MOQ_DATA_SUBGROUP_HEADER, MOQ_DATA_FETCH_HEADER, MOQ_DATA_SETUP or
 * MOQ_DATA_PADDING; MOQ_ERR_MALFORMED for a SUBGROUP_HEADER-form type that the
 * draft declares invalid (SUBGROUP_ID_MODE 0b11); MOQ_ERR_UNKNOWN_TYPE
 * otherwise. */
int moq_stream_type_classify(uint64_t type);

/* Classify a datagram type: MOQ_DATA_OBJECT_DATAGRAM, MOQ_DATA_PADDING_DATAGRAM,
 * MOQ_ERR_MALFORMED for an OBJECT_DATAGRAM-form type declared invalid (STATUS
 * with END_OF_GROUP: 0x22, 0x23, ...), MOQ_ERR_UNKNOWN_TYPE otherwise. */
int moq_datagram_type_classify(uint64_t type);

/* Read the type vi64 at the start of a stream and classify it. *type gets the
 * value. Returns the classification (> 0), MOQ_ERR_NEED_MORE, or the
 * classify error. *consumed (may be NULL) gets the vi64 length on success. */
int moq_stream_type_peek(uint64_t *type, size_t *consumed, const uint8_t *in, size_t inlen);

/* ---- Objects: status, properties -------------------------------------- */

enum moq_object_status {
	MOQ_OBJECT_STATUS_NORMAL = 0x0,
	MOQ_OBJECT_STATUS_END_OF_GROUP = 0x3,
	MOQ_OBJECT_STATUS_END_OF_TRACK = 0x4,
};

/* True for 0x0, 0x3, 0x4; any other value is a PROTOCOL_VIOLATION. */
bool moq_object_status_valid(uint64_t status);

/* "NORMAL", "END_OF_GROUP", "END_OF_TRACK", or NULL for other values. */
const char *moq_object_status_name(uint64_t status);

/* Implementation limit on an Object Properties block (the draft sets none;
 * every decoder here returns MOQ_ERR_LIMIT above it and every encoder
 * refuses it with MOQ_ERR_LIMIT). */
#define MOQ_MAX_OBJECT_PROPERTIES 65535

/* Property types defined by draft-18 ("MOQT Properties"). */
#define MOQ_PROP_OBJECT_DELIVERY_TIMEOUT 0x02ull       /* track, vi64 */
#define MOQ_PROP_MAX_CACHE_DURATION 0x04ull	       /* track, vi64 ms */
#define MOQ_PROP_SUBGROUP_DELIVERY_TIMEOUT 0x06ull     /* track, vi64 */
#define MOQ_PROP_IMMUTABLE_PROPERTIES 0x0Bull	       /* track/object, KVP block */
#define MOQ_PROP_DEFAULT_PUBLISHER_PRIORITY 0x0Eull    /* track, 0..255 */
#define MOQ_PROP_DEFAULT_PUBLISHER_GROUP_ORDER 0x22ull /* track, 1 or 2 */
#define MOQ_PROP_DYNAMIC_GROUPS 0x30ull		       /* track, 0 or 1 */
#define MOQ_PROP_PRIOR_GROUP_ID_GAP 0x3Cull	       /* object, vi64 */
#define MOQ_PROP_PRIOR_OBJECT_ID_GAP 0x3Eull	       /* object, vi64 */

/* Draft name of a property type ("SUBGROUP_DELIVERY_TIMEOUT",
 * "IMMUTABLE_PROPERTIES", "PRIOR_GROUP_ID_GAP", ...), NULL if not defined
 * by the draft. */
const char *moq_property_name(uint64_t type);

/* True for the application-reserved ranges 0x38..0x3F and 0x3800..0x3FFF. */
bool moq_property_is_application(uint64_t type);

/* True for Mandatory Track Property types 0x4000..0x7FFF. */
bool moq_property_is_mandatory_track(uint64_t type);

/* Semantic checks of an Object Properties block (beyond moq_kvp_validate):
 * the Immutable Properties value must itself be a valid KVP block that does
 * not contain Immutable Properties; at most one Immutable Properties, Prior
 * Group ID Gap and Prior Object ID Gap per object. Returns the number of
 * pairs (top level) or MOQ_ERR_MALFORMED / MOQ_ERR_LIMIT. A violation makes
 * the Track malformed (draft "Malformed Tracks"), it is not a session
 * error: the codecs below only run moq_kvp_validate. */
int moq_object_properties_check(const uint8_t *buf, size_t len);

/* ---- Padding stream -------------------------------------------------------- */

/* Writes the stream type 0x132B3E28 (bytes written). The padding bytes that
 * follow must all be zero. */
int moq_padding_stream_header_encode(uint8_t *out, size_t outlen);

#endif
