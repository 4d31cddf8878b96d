/* MoQT Key-Value-Pairs (draft-18 "Key-Value-Pair Structure").
 *
 *   Key-Value-Pair { Delta Type (vi64), [Length (vi64),] Value (..) }
 *
 * Types are delta-encoded from the previous pair's type (0 for the first).
 * Even type: the value is one vi64. Odd type: Length (<= 65535) then bytes.
 * A KVP block always has a known byte length, so a pair cut off by the end
 * of the block is malformed, not "need more". */
#ifndef MOQ_KVP_H
#define MOQ_KVP_H

#include <stdbool.h>

#include "moq_types.h"

struct moq_kvp {
	uint64_t type;
	uint64_t value;		/* even types */
	struct moq_bytes bytes; /* odd types */
};

static inline bool moq_kvp_is_bytes(uint64_t type)
{
	return type & 1;
}

struct moq_kvp_iter {
	const uint8_t *p;
	size_t left;
	uint64_t prev_type;
};

/* Iterate over a block of exactly len bytes. */
void moq_kvp_iter_init(struct moq_kvp_iter *it, const uint8_t *buf, size_t len);

/* Next pair: 1 and *kvp filled, 0 at the end of the block, or
 * MOQ_ERR_MALFORMED (truncated, type overflow past 2^64-1) /
 * MOQ_ERR_LIMIT (value length > 65535). */
int moq_kvp_next(struct moq_kvp_iter *it, struct moq_kvp *kvp);

/* Walk a whole block; number of pairs or a negative error. */
int moq_kvp_validate(const uint8_t *buf, size_t len);

/* Encode one pair after a pair of type *prev_type (0 before the first) and
 * update *prev_type. Types must not decrease (MOQ_ERR_INVALID). Returns bytes
 * written, MOQ_ERR_BUFFER, or MOQ_ERR_LIMIT for bytes longer than 65535. */
int moq_kvp_encode(uint8_t *out, size_t outlen, uint64_t *prev_type, const struct moq_kvp *kvp);

#endif
