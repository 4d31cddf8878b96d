/* MoQT draft-18 FETCH_HEADER and fetch objects (data_fetch.c).
 * Conventions: see data.h. */
#ifndef MOQ_DATA_FETCH_H
#define MOQ_DATA_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"
#include "params.h" /* enum moq_group_order */

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

#endif
