#include "kvp.h"
#include "moq_err.h"
#include "varint.h"

void moq_kvp_iter_init(struct moq_kvp_iter *it, const uint8_t *buf, size_t len)
{
	it->p = buf;
	it->left = len;
	it->prev_type = 0;
}

/* Inside a bounded block a short varint is malformed, not "need more". */
static int read_vi(struct moq_kvp_iter *it, uint64_t *v)
{
	int n = moq_vi_decode(v, it->p, it->left);
	if (n < 0)
		return MOQ_ERR_MALFORMED;
	it->p += n;
	it->left -= (size_t)n;
	return 0;
}

int moq_kvp_next(struct moq_kvp_iter *it, struct moq_kvp *kvp)
{
	uint64_t delta, len;
	int rc;

	if (it->left == 0)
		return 0;
	if ((rc = read_vi(it, &delta)))
		return rc;
	if (delta > UINT64_MAX - it->prev_type)
		return MOQ_ERR_MALFORMED;
	kvp->type = it->prev_type + delta;
	it->prev_type = kvp->type;
	kvp->value = 0;
	kvp->bytes.ptr = NULL;
	kvp->bytes.len = 0;
	if (!moq_kvp_is_bytes(kvp->type))
		return read_vi(it, &kvp->value) ? MOQ_ERR_MALFORMED : 1;
	if ((rc = read_vi(it, &len)))
		return rc;
	if (len > MOQ_MAX_KVP_VALUE)
		return MOQ_ERR_LIMIT;
	if (len > it->left)
		return MOQ_ERR_MALFORMED;
	kvp->bytes.ptr = it->p;
	kvp->bytes.len = (size_t)len;
	it->p += len;
	it->left -= (size_t)len;
	return 1;
}

int moq_kvp_validate(const uint8_t *buf, size_t len)
{
	struct moq_kvp_iter it;
	struct moq_kvp kvp;
	int n = 0, rc;

	moq_kvp_iter_init(&it, buf, len);
	while ((rc = moq_kvp_next(&it, &kvp)) == 1)
		n++;
	return rc < 0 ? rc : n;
}

int moq_kvp_encode(uint8_t *out, size_t outlen, uint64_t *prev_type, const struct moq_kvp *kvp)
{
	size_t off = 0;
	int n;

	if (kvp->type < *prev_type)
		return MOQ_ERR_INVALID;
	n = moq_vi_encode(out, outlen, kvp->type - *prev_type);
	if (n < 0)
		return n;
	off += (size_t)n;
	if (!moq_kvp_is_bytes(kvp->type)) {
		n = moq_vi_encode(out + off, outlen - off, kvp->value);
		if (n < 0)
			return n;
		off += (size_t)n;
	} else {
		if (kvp->bytes.len > MOQ_MAX_KVP_VALUE)
			return MOQ_ERR_LIMIT;
		n = moq_vi_encode(out + off, outlen - off, kvp->bytes.len);
		if (n < 0)
			return n;
		off += (size_t)n;
		if (outlen - off < kvp->bytes.len)
			return MOQ_ERR_BUFFER;
		if (kvp->bytes.len)
			__builtin_memcpy(out + off, kvp->bytes.ptr, kvp->bytes.len);
		off += kvp->bytes.len;
	}
	*prev_type = kvp->type;
	return (int)off;
}
