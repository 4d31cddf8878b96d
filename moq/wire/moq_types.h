/* Plain value types shared by every libmoq codec (no allocation: byte
 * strings are views into the caller's input buffer). */
#ifndef MOQ_TYPES_H
#define MOQ_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Limits from draft-ietf-moq-transport-18. */
#define MOQ_MAX_NAMESPACE_FIELDS 32  /* Track Namespace: 0..32 fields */
#define MOQ_MAX_FULL_TRACK_NAME 4096 /* sum of field lengths + name */
#define MOQ_MAX_REASON_PHRASE 1024
#define MOQ_MAX_KVP_VALUE 65535	      /* odd-type KVP value length */
#define MOQ_MAX_CONTROL_PAYLOAD 65535 /* 16-bit Message Length */

/* A byte string that points into someone else's buffer. */
struct moq_bytes {
	const uint8_t *ptr;
	size_t len;
};

/* {Group, Object}; compare with moq_location_cmp. */
struct moq_location {
	uint64_t group;
	uint64_t object;
};

static inline int moq_location_cmp(struct moq_location a, struct moq_location b)
{
	if (a.group != b.group)
		return a.group < b.group ? -1 : 1;
	if (a.object != b.object)
		return a.object < b.object ? -1 : 1;
	return 0;
}

/* Track Namespace: an ordered tuple of 0..32 non-empty fields. */
struct moq_namespace {
	size_t nfields;
	struct moq_bytes fields[MOQ_MAX_NAMESPACE_FIELDS];
};

#endif
