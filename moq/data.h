/* MoQT draft-18 data plane wire codec: unidirectional stream types,
 * SUBGROUP_HEADER and subgroup objects, OBJECT_DATAGRAM, FETCH_HEADER and
 * fetch objects, padding, object properties.
 *
 * Conventions (docs/contributing.md): encoders return bytes written or a
 * negative MOQ_ERR_*; decoders return bytes consumed, MOQ_ERR_NEED_MORE for a
 * valid but incomplete prefix, or a final error. Byte strings in decoded
 * structs (properties, payload) are struct moq_bytes views into the input.
 * Every "(i)"/"(vi64)" field, including stream and datagram types, is a MoQT
 * vi64; non-minimal encodings are accepted, encoders write minimal ones.
 *
 * Struct field names follow the draft's field names in snake_case so that
 * tools can print them directly (track_alias, group_id, subgroup_id,
 * object_id, publisher_priority, object_status, payload_length, properties,
 * end_of_group, ...).
 *
 * Error mapping: MOQ_ERR_MALFORMED = the draft's PROTOCOL_VIOLATION (invalid
 * type variant, invalid status, properties on a non-Normal object, id
 * overflow, bad KVP block); MOQ_ERR_UNKNOWN_TYPE = a stream or datagram type
 * the draft does not define (the session must be closed as well);
 * MOQ_ERR_LIMIT = a length above an implementation limit documented here.
 *
 * Datagrams are complete units: a datagram decoder never returns
 * MOQ_ERR_NEED_MORE; a truncated datagram is MOQ_ERR_MALFORMED.
 *
 * See docs/codec.md "Data plane" for the choices made where the draft is
 * ambiguous. */
#ifndef MOQ_DATA_H
#define MOQ_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"
#include "params.h" /* enum moq_group_order */

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

/* ---- SUBGROUP_HEADER ------------------------------------------------------ */

/* Type bits (0b0XX1XXXX). */
#define MOQ_SUBGROUP_TYPE_PROPERTIES 0x01u
#define MOQ_SUBGROUP_TYPE_ID_MODE_MASK 0x06u
#define MOQ_SUBGROUP_TYPE_END_OF_GROUP 0x08u
#define MOQ_SUBGROUP_TYPE_BASE 0x10u /* always set */
#define MOQ_SUBGROUP_TYPE_DEFAULT_PRIORITY 0x20u
#define MOQ_SUBGROUP_TYPE_FIRST_OBJECT 0x40u

enum moq_subgroup_id_mode {
	MOQ_SUBGROUP_ID_ZERO = 0,	  /* absent, Subgroup ID is 0 */
	MOQ_SUBGROUP_ID_FIRST_OBJECT = 1, /* absent, = first Object ID */
	MOQ_SUBGROUP_ID_PRESENT = 2,	  /* field present in the header */
					  /* 3 is reserved: the type is invalid */
};

struct moq_subgroup_header {
	uint64_t type; /* wire type; set by decode and by encode */
	uint64_t track_alias;
	uint64_t group_id;
	/* Mode ZERO: 0. Mode PRESENT: from the wire. Mode FIRST_OBJECT: unknown
	 * (0, subgroup_id_known false) until the first object is decoded with
	 * moq_subgroup_ctx, which fills in the copy in the ctx. */
	uint64_t subgroup_id;
	bool subgroup_id_known;
	uint8_t publisher_priority; /* valid iff !default_priority */
	/* flags, from/to the type */
	bool has_properties;	  /* PROPERTIES: every object has a block */
	uint8_t subgroup_id_mode; /* enum moq_subgroup_id_mode */
	bool end_of_group;	  /* END_OF_GROUP */
	bool default_priority;	  /* DEFAULT_PRIORITY: priority field absent */
	bool first_object;	  /* FIRST_OBJECT */
};

/* Build the type from the flag fields. Returns the type (0x10..0x7D) or
 * MOQ_ERR_INVALID for subgroup_id_mode > 2. */
int moq_subgroup_header_type(const struct moq_subgroup_header *h);

/* Set the flag fields of h from a type. 0, MOQ_ERR_MALFORMED for a reserved
 * variant (SUBGROUP_ID_MODE 0b11) or MOQ_ERR_UNKNOWN_TYPE when type is not of
 * the form 0b0XX1XXXX. Does not touch the other fields. */
int moq_subgroup_header_flags(struct moq_subgroup_header *h, uint64_t type);

/* Encode: the type is built from the flags (h->type is ignored). Subgroup ID
 * is written only in mode PRESENT; for mode ZERO a nonzero subgroup_id is
 * MOQ_ERR_INVALID. Bytes written, MOQ_ERR_BUFFER, MOQ_ERR_INVALID. */
int moq_subgroup_header_encode(uint8_t *out, size_t outlen, const struct moq_subgroup_header *h);

/* Decode, type included. Bytes consumed, MOQ_ERR_NEED_MORE,
 * MOQ_ERR_MALFORMED / MOQ_ERR_UNKNOWN_TYPE (see moq_subgroup_header_flags). */
int moq_subgroup_header_decode(struct moq_subgroup_header *h, const uint8_t *in, size_t inlen);

/* Per-stream state for objects after a SUBGROUP_HEADER: the previous Object
 * ID for Object ID Delta and the resolved Subgroup ID. */
struct moq_subgroup_ctx {
	struct moq_subgroup_header hdr; /* copy; subgroup_id resolved here */
	bool have_prev;			/* an object has been decoded/encoded */
	uint64_t prev_object_id;
	uint64_t objects; /* objects so far */
	/* An End of Group / End of Track status object was seen: another
	 * object on the stream would contradict it (MOQ_ERR_MALFORMED). */
	bool ended;
};

void moq_subgroup_ctx_init(struct moq_subgroup_ctx *c, const struct moq_subgroup_header *h);

/* One object on a subgroup stream:
 *   { Object ID Delta (vi64), [Properties (..)], Object Payload Length (vi64),
 *     [Object Status (vi64)], [Object Payload (..)] } */
struct moq_subgroup_object {
	uint64_t object_id_delta; /* wire value */
	uint64_t object_id;	  /* absolute: delta, or prev + delta + 1 */
	/* The Object Properties block without its length (empty when the
	 * header has no PROPERTIES bit or Properties Length is 0). */
	struct moq_bytes properties;
	uint64_t payload_length;
	uint64_t object_status;	  /* on the wire iff payload_length == 0 */
	struct moq_bytes payload; /* whole-object decode/encode only */
};

/* Decode the fields before the payload. Returns header bytes consumed (the
 * payload, o->payload_length bytes, follows), MOQ_ERR_NEED_MORE,
 * MOQ_ERR_MALFORMED (Object ID overflow, invalid status, properties on a
 * non-Normal object, bad KVP block) or MOQ_ERR_LIMIT (properties block longer
 * than MOQ_MAX_OBJECT_PROPERTIES). o->payload is empty. The ctx is updated
 * only on success (prev object id; subgroup id in mode FIRST_OBJECT). */
int moq_subgroup_object_header_decode(struct moq_subgroup_object *o, struct moq_subgroup_ctx *c,
				      const uint8_t *in, size_t inlen);

/* Decode a whole object, payload included (MOQ_ERR_NEED_MORE until all
 * payload bytes are present). o->payload is a view into in. */
int moq_subgroup_object_decode(struct moq_subgroup_object *o, struct moq_subgroup_ctx *c,
			       const uint8_t *in, size_t inlen);

/* Encode the fields before the payload from o->object_id (delta computed
 * from the ctx), o->properties, o->payload_length, o->object_status.
 * MOQ_ERR_INVALID: object_id not above the previous one, properties given
 * without the header PROPERTIES bit, nonzero payload_length with a non-Normal
 * status, properties on a non-Normal object, invalid status. The ctx is
 * updated on success. */
int moq_subgroup_object_header_encode(uint8_t *out, size_t outlen, struct moq_subgroup_ctx *c,
				      const struct moq_subgroup_object *o);

/* Header then payload; o->payload.len must equal o->payload_length. */
int moq_subgroup_object_encode(uint8_t *out, size_t outlen, struct moq_subgroup_ctx *c,
			       const struct moq_subgroup_object *o);

/* ---- OBJECT_DATAGRAM ------------------------------------------------------ */

/* Type bits (0b00X0XXXX). */
#define MOQ_DATAGRAM_TYPE_PROPERTIES 0x01u
#define MOQ_DATAGRAM_TYPE_END_OF_GROUP 0x02u
#define MOQ_DATAGRAM_TYPE_ZERO_OBJECT_ID 0x04u
#define MOQ_DATAGRAM_TYPE_DEFAULT_PRIORITY 0x08u
#define MOQ_DATAGRAM_TYPE_STATUS 0x20u

struct moq_object_datagram {
	uint64_t type; /* wire type; set by decode and by encode */
	uint64_t track_alias;
	uint64_t group_id;
	uint64_t object_id;	     /* 0 when zero_object_id */
	uint8_t publisher_priority;  /* valid iff !default_priority */
	struct moq_bytes properties; /* block without length; iff has_properties */
	uint64_t object_status;	     /* iff has_status; else Normal */
	struct moq_bytes payload;    /* rest of the datagram; empty if has_status */
	/* flags, from/to the type */
	bool has_properties;   /* PROPERTIES */
	bool end_of_group;     /* END_OF_GROUP */
	bool zero_object_id;   /* ZERO_OBJECT_ID: Object ID field absent */
	bool default_priority; /* DEFAULT_PRIORITY: priority field absent */
	bool has_status;       /* STATUS: Object Status instead of payload */
};

/* Type from flags: the type, or MOQ_ERR_INVALID for STATUS+END_OF_GROUP. */
int moq_object_datagram_type(const struct moq_object_datagram *d);

/* Flags from type: 0, MOQ_ERR_MALFORMED (STATUS with END_OF_GROUP) or
 * MOQ_ERR_UNKNOWN_TYPE (not 0b00X0XXXX). */
int moq_object_datagram_flags(struct moq_object_datagram *d, uint64_t type);

/* Encode from the flags (d->type is ignored). MOQ_ERR_INVALID for: an
 * invalid flag combination, zero_object_id with object_id != 0,
 * has_properties with an empty block, a status with a payload or an invalid
 * status value, properties with a non-Normal status. */
int moq_object_datagram_encode(uint8_t *out, size_t outlen, const struct moq_object_datagram *d);

/* Decode a whole datagram (inlen = datagram length). Bytes consumed (always
 * inlen), MOQ_ERR_MALFORMED (truncated, invalid type variant, Properties
 * Length 0 with PROPERTIES, invalid status, properties with a non-Normal
 * status, bytes after the Object Status, bad KVP block),
 * MOQ_ERR_UNKNOWN_TYPE (includes the padding datagram type: use
 * moq_datagram_type_classify first), MOQ_ERR_LIMIT. */
int moq_object_datagram_decode(struct moq_object_datagram *d, const uint8_t *in, size_t inlen);

/* Padding datagram: type 0x132B3E29 then zero bytes. Encode writes the type
 * and pad_len zero bytes. Decode returns inlen, MOQ_ERR_UNKNOWN_TYPE for
 * another type, MOQ_ERR_MALFORMED for a nonzero padding byte or a truncated
 * type; *pad_len (may be NULL) gets the padding length. */
int moq_padding_datagram_encode(uint8_t *out, size_t outlen, size_t pad_len);
int moq_padding_datagram_decode(size_t *pad_len, const uint8_t *in, size_t inlen);

/* ---- FETCH_HEADER and fetch objects ----------------------------------------- */

struct moq_fetch_header {
	uint64_t type; /* 0x05 */
	uint64_t request_id;
};

int moq_fetch_header_encode(uint8_t *out, size_t outlen, const struct moq_fetch_header *h);
/* Bytes consumed, MOQ_ERR_NEED_MORE, MOQ_ERR_UNKNOWN_TYPE (type != 0x05). */
int moq_fetch_header_decode(struct moq_fetch_header *h, const uint8_t *in, size_t inlen);

/* Serialization Flags (< 0x80: bit field). */
#define MOQ_FETCH_FLAG_SUBGROUP_MASK 0x03u
#define MOQ_FETCH_FLAG_OBJECT_ID_DELTA 0x04u /* Object ID Delta present */
#define MOQ_FETCH_FLAG_GROUP_ID_DELTA 0x08u  /* Group ID Delta present */
#define MOQ_FETCH_FLAG_PRIORITY 0x10u	     /* Publisher Priority present */
#define MOQ_FETCH_FLAG_PROPERTIES 0x20u	     /* Properties present */
#define MOQ_FETCH_FLAG_DATAGRAM 0x40u	     /* no Subgroup ID; ignore 0x03 */
/* Serialization Flags values that are End of Range markers. */
#define MOQ_FETCH_END_OF_NON_EXISTENT_RANGE 0x8Cull
#define MOQ_FETCH_END_OF_UNKNOWN_RANGE 0x10Cull

enum moq_fetch_subgroup_mode {
	MOQ_FETCH_SUBGROUP_ZERO = 0,	       /* Subgroup ID is 0 */
	MOQ_FETCH_SUBGROUP_PRIOR = 1,	       /* prior Object's Subgroup ID */
	MOQ_FETCH_SUBGROUP_PRIOR_PLUS_ONE = 2, /* prior + 1 */
	MOQ_FETCH_SUBGROUP_PRESENT = 3,	       /* field present */
};

enum moq_fetch_end_of_range {
	MOQ_FETCH_NOT_END_OF_RANGE = 0, /* an Object */
	MOQ_FETCH_NON_EXISTENT_RANGE,	/* flags 0x8C */
	MOQ_FETCH_UNKNOWN_RANGE,	/* flags 0x10C */
};

/* Group Order of the FETCH (from FETCH_OK) resolves Group ID Delta:
 * enum moq_group_order (MOQ_GROUP_ORDER_ASCENDING / _DESCENDING) comes from
 * params.h, shared with the control plane. */

/* One item on a fetch stream: an Object, or an End of Range marker.
 *
 *   { Serialization Flags (vi64), [Group ID Delta (vi64)], [Subgroup ID
 *     (vi64)], [Object ID Delta (vi64)], [Publisher Priority (8)],
 *     [Properties (..)], Object Payload Length (vi64), [Object Payload (..)] }
 *   End of Range: { Serialization Flags (0x8C / 0x10C), Group ID (vi64),
 *     Object ID (vi64) } -- absolute ids, no length (docs/codec.md).
 *
 * Fetch objects have no Object Status field: a zero-length payload is an
 * empty Normal object. */
struct moq_fetch_object {
	uint64_t serialization_flags;
	uint8_t end_of_range;	  /* enum moq_fetch_end_of_range */
	uint64_t group_id_delta;  /* wire value, iff GROUP_ID_DELTA */
	uint64_t object_id_delta; /* wire value, iff OBJECT_ID_DELTA */
	/* Resolved Location (End of Range: the wire values). */
	uint64_t group_id;
	uint64_t object_id;
	uint64_t subgroup_id;	    /* resolved; 0 and meaningless if datagram */
	bool datagram;		    /* forwarding preference Datagram (0x40) */
	uint8_t publisher_priority; /* resolved (field or prior object's) */
	bool has_properties;
	struct moq_bytes properties; /* block without length */
	uint64_t payload_length;
	struct moq_bytes payload; /* whole-object decode/encode only */
};

/* Per-stream state for the "prior Object" references. */
struct moq_fetch_ctx {
	uint8_t group_order;	 /* enum moq_group_order; 0 means ascending */
	bool have_prior;	 /* an Object or End of Range was decoded */
	uint64_t prior_group_id; /* from the last Object or End of Range */
	uint64_t prior_object_id;
	bool have_prior_object;	 /* an actual Object was decoded */
	bool prior_has_subgroup; /* ... and it was not a datagram object */
	uint64_t prior_subgroup_id;
	uint8_t prior_priority;
	uint64_t items; /* objects + end-of-range markers so far */
};

void moq_fetch_ctx_init(struct moq_fetch_ctx *c, uint8_t group_order);

/* Decode the fields before the payload (End of Range: the whole marker,
 * payload_length 0). Header bytes consumed, MOQ_ERR_NEED_MORE,
 * MOQ_ERR_MALFORMED (Serialization Flags >= 0x80 other than 0x8C/0x10C, a
 * first item referencing a prior Object, a prior Subgroup ID or Priority that
 * does not exist, Group/Object/Subgroup ID out of 0..2^64-1, bad KVP block),
 * MOQ_ERR_LIMIT. The ctx is updated only on success. */
int moq_fetch_object_header_decode(struct moq_fetch_object *o, struct moq_fetch_ctx *c,
				   const uint8_t *in, size_t inlen);

/* Whole item, payload included (view into in). */
int moq_fetch_object_decode(struct moq_fetch_object *o, struct moq_fetch_ctx *c, const uint8_t *in,
			    size_t inlen);

/* Smallest Serialization Flags that express o (absolute group_id, object_id,
 * subgroup_id, datagram, publisher_priority, has_properties) relative to the
 * ctx; for an End of Range o->end_of_range picks 0x8C/0x10C. Returns the flags
 * or MOQ_ERR_INVALID (group not reachable in the ctx's group order). */
int moq_fetch_object_flags(const struct moq_fetch_ctx *c, const struct moq_fetch_object *o);

/* Encode the fields before the payload with o->serialization_flags (use
 * moq_fetch_object_flags) and the absolute values in o; deltas are computed
 * from the ctx. MOQ_ERR_INVALID when the flags cannot express o. The ctx is
 * updated on success. */
int moq_fetch_object_header_encode(uint8_t *out, size_t outlen, struct moq_fetch_ctx *c,
				   const struct moq_fetch_object *o);

/* Header then payload; o->payload.len must equal o->payload_length. */
int moq_fetch_object_encode(uint8_t *out, size_t outlen, struct moq_fetch_ctx *c,
			    const struct moq_fetch_object *o);

/* ---- Padding stream -------------------------------------------------------- */

/* Writes the stream type 0x132B3E28 (bytes written). The padding bytes that
 * follow must all be zero. */
int moq_padding_stream_header_encode(uint8_t *out, size_t outlen);

#endif
