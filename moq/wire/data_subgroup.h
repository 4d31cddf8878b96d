/* MoQT draft-18 SUBGROUP_HEADER and subgroup objects (data_subgroup.c).
 * Conventions: see data.h. */
#ifndef MOQ_DATA_SUBGROUP_H
#define MOQ_DATA_SUBGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"

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

#endif
