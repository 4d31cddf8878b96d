/* Bounded read cursor and sticky-error writer for control messages. */
#include <string.h>

#include "control_wire.h"
#include "kvp.h"
#include "varint.h"

void rd_init(struct moq_rd *r, const uint8_t *base, const uint8_t *p, size_t len)
{
	r->base = base;
	r->p = p;
	r->end = p + len;
	r->err = 0;
	r->what = NULL;
	r->val = 0;
	r->err_off = 0;
}

int rd_fail(struct moq_rd *r, int code, const char *what, uint64_t val)
{
	if (!r->err) {
		r->err = code;
		r->what = what;
		r->val = val;
		r->err_off = (size_t)(r->p - r->base);
	}
	return r->err;
}

int rd_vi(struct moq_rd *r, uint64_t *v, const char *what)
{
	int n;

	if (r->err)
		return r->err;
	n = moq_vi_decode(v, r->p, rd_left(r));
	if (n < 0)
		return rd_fail(r, MOQ_ERR_MALFORMED, what, 0);
	r->p += n;
	return 0;
}

int rd_u8(struct moq_rd *r, uint8_t *v, const char *what)
{
	if (r->err)
		return r->err;
	if (rd_left(r) < 1)
		return rd_fail(r, MOQ_ERR_MALFORMED, what, 0);
	*v = *r->p++;
	return 0;
}

int rd_lenbytes(struct moq_rd *r, struct moq_bytes *b, uint64_t max, int limit_err,
		const char *what)
{
	uint64_t len;
	int rc;

	if ((rc = rd_vi(r, &len, what)))
		return rc;
	if (len > max)
		return rd_fail(r, limit_err, what, len);
	if (len > rd_left(r))
		return rd_fail(r, MOQ_ERR_MALFORMED, what, len);
	b->ptr = r->p;
	b->len = (size_t)len;
	r->p += len;
	return 0;
}

int rd_location(struct moq_rd *r, struct moq_location *loc, const char *what)
{
	int rc;

	if ((rc = rd_vi(r, &loc->group, what)))
		return rc;
	return rd_vi(r, &loc->object, what);
}

int rd_namespace(struct moq_rd *r, struct moq_namespace *ns)
{
	uint64_t n;
	size_t total = 0;
	int rc;

	ns->nfields = 0;
	if ((rc = rd_vi(r, &n, "track namespace: number of fields truncated")))
		return rc;
	if (n > MOQ_MAX_NAMESPACE_FIELDS)
		return rd_fail(r, MOQ_ERR_LIMIT, "track namespace: more than 32 fields", n);
	for (size_t i = 0; i < n; i++) {
		struct moq_bytes *f = &ns->fields[i];
		const uint8_t *fstart = r->p;

		if ((rc =
			 rd_lenbytes(r, f, MOQ_MAX_FULL_TRACK_NAME, MOQ_ERR_LIMIT,
				     "track namespace: field longer than 4096 bytes or truncated")))
			return rc;
		if (f->len == 0) {
			r->p = fstart; /* report the field's offset */
			return rd_fail(r, MOQ_ERR_MALFORMED, "track namespace: field of length 0",
				       i);
		}
		total += f->len;
		if (total > MOQ_MAX_FULL_TRACK_NAME)
			return rd_fail(r, MOQ_ERR_LIMIT, "track namespace: longer than 4096 bytes",
				       total);
		ns->nfields = i + 1;
	}
	return 0;
}

int rd_track_name(struct moq_rd *r, struct moq_bytes *name, const struct moq_namespace *ns)
{
	size_t total = 0;
	int rc;

	for (size_t i = 0; i < ns->nfields; i++)
		total += ns->fields[i].len;
	if ((rc = rd_lenbytes(r, name, MOQ_MAX_FULL_TRACK_NAME - total, MOQ_ERR_LIMIT,
			      "full track name longer than 4096 bytes (or name truncated)")))
		return rc;
	return 0;
}

int rd_reason(struct moq_rd *r, struct moq_bytes *reason)
{
	return rd_lenbytes(r, reason, MOQ_MAX_REASON_PHRASE, MOQ_ERR_LIMIT,
			   "reason phrase longer than 1024 bytes (or truncated)");
}

int rd_properties(struct moq_rd *r, struct moq_bytes *props)
{
	int rc;

	if (r->err)
		return r->err;
	props->ptr = r->p;
	props->len = rd_left(r);
	rc = moq_kvp_validate(props->ptr, props->len);
	if (rc < 0)
		return rd_fail(r, rc, "track properties: invalid key-value-pair block", 0);
	r->p = r->end;
	return 0;
}

int rd_end(struct moq_rd *r)
{
	if (r->err)
		return r->err;
	if (r->p != r->end)
		return rd_fail(r, MOQ_ERR_MALFORMED, "message length larger than its fields",
			       rd_left(r));
	return 0;
}

void wr_init(struct moq_wr *w, uint8_t *out, size_t cap)
{
	w->p = out;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
}

void wr_fail(struct moq_wr *w, int code)
{
	if (!w->err)
		w->err = code;
}

void wr_vi(struct moq_wr *w, uint64_t v)
{
	int n;

	if (w->err)
		return;
	n = moq_vi_encode(w->p + w->len, w->cap - w->len, v);
	if (n < 0)
		wr_fail(w, n);
	else
		w->len += (size_t)n;
}

void wr_u8(struct moq_wr *w, uint8_t v)
{
	wr_raw(w, &v, 1);
}

void wr_raw(struct moq_wr *w, const void *data, size_t len)
{
	if (w->err)
		return;
	if (w->cap - w->len < len) {
		wr_fail(w, MOQ_ERR_BUFFER);
		return;
	}
	if (len)
		memcpy(w->p + w->len, data, len);
	w->len += len;
}

void wr_lenbytes(struct moq_wr *w, struct moq_bytes b, uint64_t max)
{
	if (b.len > max) {
		wr_fail(w, MOQ_ERR_LIMIT);
		return;
	}
	if (b.len && !b.ptr) {
		wr_fail(w, MOQ_ERR_INVALID);
		return;
	}
	wr_vi(w, b.len);
	wr_raw(w, b.ptr, b.len);
}

void wr_location(struct moq_wr *w, struct moq_location loc)
{
	wr_vi(w, loc.group);
	wr_vi(w, loc.object);
}

int ns_check(const struct moq_namespace *ns, size_t *total)
{
	size_t t = 0;

	if (ns->nfields > MOQ_MAX_NAMESPACE_FIELDS)
		return MOQ_ERR_LIMIT;
	for (size_t i = 0; i < ns->nfields; i++) {
		if (ns->fields[i].len == 0 || !ns->fields[i].ptr)
			return MOQ_ERR_INVALID;
		t += ns->fields[i].len;
		if (t > MOQ_MAX_FULL_TRACK_NAME)
			return MOQ_ERR_LIMIT;
	}
	if (total)
		*total = t;
	return 0;
}

void wr_namespace(struct moq_wr *w, const struct moq_namespace *ns)
{
	int rc = ns_check(ns, NULL);

	if (rc) {
		wr_fail(w, rc);
		return;
	}
	wr_vi(w, ns->nfields);
	for (size_t i = 0; i < ns->nfields; i++)
		wr_lenbytes(w, ns->fields[i], MOQ_MAX_FULL_TRACK_NAME);
}

void wr_track_name(struct moq_wr *w, struct moq_bytes name, const struct moq_namespace *ns)
{
	size_t total = 0;

	if (ns_check(ns, &total))
		return; /* reported by wr_namespace */
	wr_lenbytes(w, name, MOQ_MAX_FULL_TRACK_NAME - total);
}

void wr_reason(struct moq_wr *w, struct moq_bytes reason)
{
	wr_lenbytes(w, reason, MOQ_MAX_REASON_PHRASE);
}

void wr_properties(struct moq_wr *w, struct moq_bytes props)
{
	if (props.len && (!props.ptr || moq_kvp_validate(props.ptr, props.len) < 0)) {
		wr_fail(w, MOQ_ERR_INVALID);
		return;
	}
	wr_raw(w, props.ptr, props.len);
}

int moq_namespace_decode(struct moq_namespace *ns, const uint8_t *in, size_t inlen)
{
	struct moq_rd r;
	int rc;

	rd_init(&r, in, in, inlen);
	if ((rc = rd_namespace(&r, ns)))
		return rc;
	return (int)(r.p - in);
}

int moq_namespace_encode(uint8_t *out, size_t outlen, const struct moq_namespace *ns)
{
	struct moq_wr w;

	wr_init(&w, out, outlen);
	wr_namespace(&w, ns);
	return wr_result(&w);
}
