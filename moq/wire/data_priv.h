/* Private helpers shared by the data plane codec files (not installed, not
 * part of the API): a read cursor that only moves forward and a write
 * cursor, both bounds-checked. */
#ifndef MOQ_DATA_PRIV_H
#define MOQ_DATA_PRIV_H

#include <string.h>

#include "data.h"
#include "kvp.h"
#include "moq_err.h"
#include "varint.h"

struct rcur {
	const uint8_t *p;
	size_t len;
	size_t off;
	int short_err; /* MOQ_ERR_NEED_MORE (streams) or MALFORMED (datagrams) */
};

static inline void rcur_init(struct rcur *c, const uint8_t *p, size_t len, int short_err)
{
	c->p = p;
	c->len = len;
	c->off = 0;
	c->short_err = short_err;
}

static inline size_t rcur_left(const struct rcur *c)
{
	return c->len - c->off;
}

static inline int rcur_vi(struct rcur *c, uint64_t *v)
{
	int n = moq_vi_decode(v, c->p + c->off, rcur_left(c));
	if (n < 0)
		return c->short_err;
	c->off += (size_t)n;
	return 0;
}

static inline int rcur_u8(struct rcur *c, uint8_t *v)
{
	if (rcur_left(c) < 1)
		return c->short_err;
	*v = c->p[c->off++];
	return 0;
}

static inline int rcur_bytes(struct rcur *c, struct moq_bytes *b, uint64_t len)
{
	if (len > rcur_left(c))
		return c->short_err;
	b->ptr = c->p + c->off;
	b->len = (size_t)len;
	c->off += (size_t)len;
	return 0;
}

/* Object Properties { Properties Length (vi64), Properties (..) }: the
 * length is checked against max before waiting for the bytes, then the
 * block is validated as Key-Value-Pairs. */
static inline int rcur_properties(struct rcur *c, struct moq_bytes *b, size_t max)
{
	uint64_t len;
	int rc;

	if ((rc = rcur_vi(c, &len)))
		return rc;
	if (len > max)
		return MOQ_ERR_LIMIT;
	if ((rc = rcur_bytes(c, b, len)))
		return rc;
	rc = moq_kvp_validate(b->ptr, b->len);
	return rc < 0 ? rc : 0;
}

struct wcur {
	uint8_t *p;
	size_t len;
	size_t off;
};

static inline void wcur_init(struct wcur *c, uint8_t *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
}

static inline int wcur_vi(struct wcur *c, uint64_t v)
{
	int n = moq_vi_encode(c->p + c->off, c->len - c->off, v);
	if (n < 0)
		return n;
	c->off += (size_t)n;
	return 0;
}

static inline int wcur_u8(struct wcur *c, uint8_t v)
{
	if (c->len - c->off < 1)
		return MOQ_ERR_BUFFER;
	c->p[c->off++] = v;
	return 0;
}

static inline int wcur_bytes(struct wcur *c, const struct moq_bytes *b)
{
	if (b->len > c->len - c->off)
		return MOQ_ERR_BUFFER;
	if (b->len)
		memcpy(c->p + c->off, b->ptr, b->len);
	c->off += b->len;
	return 0;
}

static inline int wcur_properties(struct wcur *c, const struct moq_bytes *b)
{
	int rc;

	if (b->len > MOQ_MAX_OBJECT_PROPERTIES)
		return MOQ_ERR_LIMIT;
	if ((rc = wcur_vi(c, b->len)))
		return rc;
	return wcur_bytes(c, b);
}

/* Decoders with an explicit properties limit (the data reader's). */
int moq_subgroup_object_header_decode_lim(struct moq_subgroup_object *o, struct moq_subgroup_ctx *c,
					  const uint8_t *in, size_t inlen, size_t max_props);
int moq_fetch_object_header_decode_lim(struct moq_fetch_object *o, struct moq_fetch_ctx *c,
				       const uint8_t *in, size_t inlen, size_t max_props);

#endif
