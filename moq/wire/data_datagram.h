/* MoQT draft-18 OBJECT_DATAGRAM and padding datagrams (data_datagram.c).
 * Conventions: see data.h. */
#ifndef MOQ_DATA_DATAGRAM_H
#define MOQ_DATA_DATAGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"

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

#endif
