/* Typed field access on parsed JSON objects, with errors that name the
 * offending value's byte offset; small shared JSON writer helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

/* ---- bytebuf --------------------------------------------------------------- */

int bytebuf_reserve(struct bytebuf *b, size_t extra)
{
	size_t nc;
	uint8_t *q;

	if (b->len + extra <= b->cap)
		return 0;
	nc = b->cap ? b->cap : 256;
	while (nc < b->len + extra)
		nc *= 2;
	q = realloc(b->p, nc);
	if (!q)
		return -1;
	b->p = q;
	b->cap = nc;
	return 0;
}

int bytebuf_put(struct bytebuf *b, const void *p, size_t n)
{
	if (bytebuf_reserve(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void bytebuf_free(struct bytebuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- jctx ------------------------------------------------------------------ */

void jctx_reset(struct jctx *c)
{
	size_t i;

	for (i = 0; i < c->nallocs; i++)
		free(c->allocs[i]);
	free(c->allocs);
	c->allocs = NULL;
	c->nallocs = c->capallocs = 0;
	c->err[0] = '\0';
	c->err_at = 0;
	c->msg = NULL;
}

void *jalloc(struct jctx *c, size_t n)
{
	void *p;

	if (c->nallocs == c->capallocs) {
		size_t nc = c->capallocs ? c->capallocs * 2 : 8;
		void **q = realloc(c->allocs, nc * sizeof(*q));
		if (!q)
			return NULL;
		c->allocs = q;
		c->capallocs = nc;
	}
	p = calloc(1, n ? n : 1);
	if (p)
		c->allocs[c->nallocs++] = p;
	return p;
}

int jerr(struct jctx *c, const struct json_value *at, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	c->err_at = c->base + (at ? at->offset : 0);
	if (c->msg)
		n = snprintf(c->err, sizeof(c->err), "%s: ", c->msg);
	if (n < 0 || (size_t)n >= sizeof(c->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(c->err + n, sizeof(c->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- value conversions -------------------------------------------------- */

int jv_u64(struct jctx *c, const struct json_value *x, const char *what, uint64_t *out)
{
	if (x->type == JSON_NUMBER && x->num.is_u64) {
		*out = x->num.u64;
		return 1;
	}
	if (x->type == JSON_NUMBER)
		return jerr(c, x, "%s must be an integer 0..18446744073709551615, got %s", what,
			    x->num.text);
	return jerr(c, x, "%s must be an unsigned integer, got %s", what, json_type_name(x->type));
}

int jv_bytes(struct jctx *c, const struct json_value *x, const char *what, struct moq_bytes *out)
{
	const struct json_value *h;
	uint8_t *buf;
	size_t bad;

	if (x->type == JSON_STRING) {
		out->ptr = (const uint8_t *)x->str.ptr;
		out->len = x->str.len;
		return 1;
	}
	if (x->type != JSON_OBJECT || x->obj.n != 1 || !(h = json_get(x, "hex")))
		return jerr(c, x, "%s must be a string or {\"hex\":\"...\"}, got %s", what,
			    json_type_name(x->type));
	if (h->type != JSON_STRING)
		return jerr(c, h, "%s: \"hex\" must be a string of hex digits", what);
	buf = jalloc(c, h->str.len / 2 + 1);
	if (!buf)
		return jerr(c, h, "out of memory");
	if (json_hex_decode(buf, h->str.ptr, h->str.len, &bad) < 0) {
		if (bad == h->str.len)
			return jerr(c, h, "%s: odd number of hex digits (%zu)", what, h->str.len);
		return jerr(c, h, "%s: bad hex digit at position %zu", what, bad);
	}
	out->ptr = buf;
	out->len = h->str.len / 2;
	return 1;
}

int jv_namespace(struct jctx *c, const struct json_value *x, const char *what,
		 struct moq_namespace *out)
{
	size_t i;

	if (x->type != JSON_ARRAY)
		return jerr(c, x, "%s must be an array of fields, got %s", what,
			    json_type_name(x->type));
	if (x->arr.n > MOQ_MAX_NAMESPACE_FIELDS)
		return jerr(c, x, "%s has %zu fields; the draft allows at most %d", what, x->arr.n,
			    MOQ_MAX_NAMESPACE_FIELDS);
	out->nfields = x->arr.n;
	for (i = 0; i < x->arr.n; i++)
		if (jv_bytes(c, x->arr.items[i], what, &out->fields[i]) < 0)
			return -1;
	return 1;
}

/* ---- field getters -------------------------------------------------------- */

static const struct json_value *field(struct jctx *c, const struct json_value *v, const char *key,
				      bool required, int *rc)
{
	const struct json_value *x = json_get(v, key);
	if (!x) {
		*rc = required ? jerr(c, v, "missing field \"%s\"", key) : 0;
		return NULL;
	}
	*rc = 1;
	return x;
}

int jf_u64(struct jctx *c, const struct json_value *v, const char *key, bool required,
	   uint64_t *out)
{
	int rc;
	const struct json_value *x = field(c, v, key, required, &rc);
	return x ? jv_u64(c, x, key, out) : rc;
}

int jf_u8(struct jctx *c, const struct json_value *v, const char *key, bool required, uint8_t *out)
{
	uint64_t u;
	int rc = jf_u64(c, v, key, required, &u);
	if (rc <= 0)
		return rc;
	if (u > 255)
		return jerr(c, json_get(v, key), "%s is an 8-bit field: %llu does not fit", key,
			    (unsigned long long)u);
	*out = (uint8_t)u;
	return 1;
}

int jf_bool(struct jctx *c, const struct json_value *v, const char *key, bool required, bool *out)
{
	int rc;
	const struct json_value *x = field(c, v, key, required, &rc);
	if (!x)
		return rc;
	if (x->type == JSON_BOOL) {
		*out = x->b;
		return 1;
	}
	if (x->type == JSON_NUMBER && x->num.is_u64 && x->num.u64 <= 1) {
		*out = x->num.u64 == 1;
		return 1;
	}
	return jerr(c, x, "%s must be true or false", key);
}

int jf_bytes(struct jctx *c, const struct json_value *v, const char *key, bool required,
	     struct moq_bytes *out)
{
	int rc;
	const struct json_value *x = field(c, v, key, required, &rc);
	return x ? jv_bytes(c, x, key, out) : rc;
}

int jf_location(struct jctx *c, const struct json_value *v, const char *key, bool required,
		struct moq_location *out)
{
	static const char *const keys[] = {"group", "object", NULL};
	int rc;
	const struct json_value *x = field(c, v, key, required, &rc);
	if (!x)
		return rc;
	if (x->type != JSON_OBJECT)
		return jerr(c, x, "%s must be a Location {\"group\":G,\"object\":O}", key);
	if (jf_only(c, x, keys) < 0 || jf_u64(c, x, "group", true, &out->group) < 0 ||
	    jf_u64(c, x, "object", true, &out->object) < 0)
		return -1;
	return 1;
}

int jf_namespace(struct jctx *c, const struct json_value *v, const char *key, bool required,
		 struct moq_namespace *out)
{
	int rc;
	const struct json_value *x = field(c, v, key, required, &rc);
	if (!x) {
		out->nfields = 0;
		return rc;
	}
	return jv_namespace(c, x, key, out);
}

int jf_code(struct jctx *c, const struct json_value *v, const char *key, const char *name_key,
	    const char *(*namefn)(uint64_t), uint64_t scan_max, bool required, uint64_t *out)
{
	const struct json_value *nv = name_key ? json_get(v, name_key) : NULL;
	uint64_t num = 0, code;
	int rc = jf_u64(c, v, key, false, &num);
	bool found = false;

	if (rc < 0)
		return -1;
	if (!nv) {
		if (rc == 0 && required)
			return jerr(c, v, "missing field \"%s\"", key);
		if (rc == 1)
			*out = num;
		return rc;
	}
	if (nv->type != JSON_STRING)
		return jerr(c, nv, "%s must be a string", name_key);
	for (code = 0; code <= scan_max; code++) {
		const char *n = namefn(code);
		if (n && strlen(n) == nv->str.len && !memcmp(n, nv->str.ptr, nv->str.len)) {
			found = true;
			break;
		}
	}
	if (!found) {
		if (rc == 1) { /* a name we do not know next to a number: trust the number */
			*out = num;
			return 1;
		}
		return jerr(c, nv, "unknown %s \"%.60s\"", name_key, nv->str.ptr);
	}
	if (rc == 1 && num != code)
		return jerr(c, nv, "%s \"%s\" is %llu but %s is %llu", name_key, nv->str.ptr,
			    (unsigned long long)code, key, (unsigned long long)num);
	*out = code;
	return 1;
}

int jf_only(struct jctx *c, const struct json_value *v, const char *const *allowed)
{
	size_t i;

	for (i = 0; i < v->obj.n; i++) {
		const struct json_member *m = &v->obj.members[i];
		const char *const *a;
		bool ok = false;

		for (a = allowed; *a; a++)
			if (strlen(*a) == m->keylen && !memcmp(*a, m->key, m->keylen)) {
				ok = true;
				break;
			}
		if (!ok)
			return jerr(c, m->value, "unknown field \"%.60s\"", m->key);
	}
	return 0;
}

/* ---- writer helpers --------------------------------------------------------- */

void jw_location(struct json_writer *w, const char *key, struct moq_location loc)
{
	json_key(w, key);
	json_begin_object(w);
	json_kv_u64(w, "group", loc.group);
	json_kv_u64(w, "object", loc.object);
	json_end_object(w);
}

void jw_namespace(struct json_writer *w, const char *key, const struct moq_namespace *ns)
{
	size_t i;

	json_key(w, key);
	json_begin_array(w);
	for (i = 0; i < ns->nfields; i++)
		json_bytes(w, ns->fields[i].ptr, ns->fields[i].len);
	json_end_array(w);
}

void jw_code(struct json_writer *w, const char *key, uint64_t v, const char *name_key,
	     const char *name)
{
	json_kv_u64(w, key, v);
	if (name && name_key)
		json_kv_cstring(w, name_key, name);
}
