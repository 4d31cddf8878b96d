/* Data plane (moq/wire/data.h) <-> JSON: subgroup streams (SUBGROUP_HEADER then
 * OBJECTs), OBJECT_DATAGRAM / PADDING_DATAGRAM, fetch streams (FETCH_HEADER
 * then OBJECTs and End of Range markers). See docs/moq-inspect.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "inspect.h"
#include "kvp.h"
#include "moq_err.h"
#include "varint.h"

/* Scratch for re-encoding (canonical check) and encoding. */
static struct bytebuf g_scratch;

static uint8_t *scratch(size_t n)
{
	g_scratch.len = 0;
	if (bytebuf_reserve(&g_scratch, n))
		return NULL;
	return g_scratch.p;
}

static void write_status(struct json_writer *w, uint64_t status)
{
	jw_code(w, "object_status", status, "object_status_name", moq_object_status_name(status));
}

/* ---- diagnosis: the codecs say only "malformed"; find the field ------------- */

struct cursor {
	const uint8_t *p;
	size_t len, off;
};

static bool cur_vi(struct cursor *c, uint64_t *v)
{
	int n = moq_vi_decode(v, c->p + c->off, c->len - c->off);
	if (n < 0)
		return false;
	c->off += (size_t)n;
	return true;
}

/* Check an Object Properties block { Length, KVPs } at the cursor. */
static const char *diag_props(struct cursor *c, char *why, size_t n, uint64_t *plen)
{
	uint64_t len;
	int rc;

	*plen = 0;
	if (!cur_vi(c, &len))
		return NULL;
	*plen = len;
	if (len > c->len - c->off)
		return NULL; /* truncated, not malformed */
	rc = moq_kvp_validate(c->p + c->off, (size_t)len);
	if (rc < 0) {
		snprintf(
		    why, n,
		    "the Properties block (%llu bytes) is not a valid Key-Value-Pair sequence (%s)",
		    (unsigned long long)len, moq_strerror(rc));
		return why;
	}
	c->off += (size_t)len;
	return NULL;
}

static const char *diag_status(uint64_t status, uint64_t plen, char *why, size_t n)
{
	if (!moq_object_status_valid(status)) {
		snprintf(
		    why, n,
		    "Object Status %llu is not 0 (NORMAL), 3 (END_OF_GROUP) or 4 (END_OF_TRACK)",
		    (unsigned long long)status);
		return why;
	}
	if (status && plen) {
		snprintf(why, n,
			 "Object Status %llu with %llu bytes of properties: only Normal objects "
			 "have properties",
			 (unsigned long long)status, (unsigned long long)plen);
		return why;
	}
	return NULL;
}

static const char *diag_subgroup_object(const struct moq_subgroup_ctx *ctx, const uint8_t *in,
					size_t len, char *why, size_t n)
{
	struct cursor c = {in, len, 0};
	uint64_t delta, plen = 0, paylen, status;
	const char *r;

	if (!cur_vi(&c, &delta))
		return NULL;
	if (ctx->have_prev &&
	    (ctx->prev_object_id == UINT64_MAX || delta > UINT64_MAX - ctx->prev_object_id - 1)) {
		snprintf(why, n, "Object ID Delta %llu after Object ID %llu exceeds 2^64-1",
			 (unsigned long long)delta, (unsigned long long)ctx->prev_object_id);
		return why;
	}
	if (ctx->hdr.has_properties && (r = diag_props(&c, why, n, &plen)))
		return r;
	if (!cur_vi(&c, &paylen) || paylen)
		return NULL;
	if (!cur_vi(&c, &status))
		return NULL;
	return diag_status(status, plen, why, n);
}

static const char *flags_note(uint64_t flags)
{
	static char b[48];
	snprintf(b, sizeof(b), " (Serialization Flags 0x%llx)", (unsigned long long)flags);
	return b;
}

static const char *diag_fetch_object(const struct moq_fetch_ctx *ctx, const uint8_t *in, size_t len,
				     char *why, size_t n)
{
	struct cursor c = {in, len, 0};
	uint64_t flags;

	if (!cur_vi(&c, &flags))
		return NULL;
	if (flags == MOQ_FETCH_END_OF_NON_EXISTENT_RANGE || flags == MOQ_FETCH_END_OF_UNKNOWN_RANGE)
		return NULL;
	if (flags >= 0x80) {
		snprintf(why, n,
			 "Serialization Flags 0x%llx: values from 0x80 up are only 0x8C (End of "
			 "Non-Existent Range) and 0x10C (End of Unknown Range)",
			 (unsigned long long)flags);
		return why;
	}
	if (!ctx->have_prior &&
	    (~flags & (MOQ_FETCH_FLAG_GROUP_ID_DELTA | MOQ_FETCH_FLAG_OBJECT_ID_DELTA))) {
		snprintf(why, n,
			 "Serialization Flags 0x%llx: the first Object must carry Group ID Delta "
			 "(0x08) and Object ID Delta (0x04)",
			 (unsigned long long)flags);
		return why;
	}
	if (!ctx->have_prior_object && !(flags & MOQ_FETCH_FLAG_PRIORITY)) {
		snprintf(why, n,
			 "Serialization Flags 0x%llx: no prior Object to take the Publisher "
			 "Priority from (set 0x10)",
			 (unsigned long long)flags);
		return why;
	}
	if (!(flags & MOQ_FETCH_FLAG_DATAGRAM) &&
	    ((flags & MOQ_FETCH_FLAG_SUBGROUP_MASK) == MOQ_FETCH_SUBGROUP_PRIOR ||
	     (flags & MOQ_FETCH_FLAG_SUBGROUP_MASK) == MOQ_FETCH_SUBGROUP_PRIOR_PLUS_ONE) &&
	    !(ctx->have_prior_object && ctx->prior_has_subgroup)) {
		snprintf(why, n,
			 "Serialization Flags 0x%llx: the Subgroup ID refers to a prior Object's "
			 "Subgroup ID, and there is none",
			 (unsigned long long)flags);
		return why;
	}
	return NULL;
}

static const char *diag_datagram(const struct moq_object_datagram *f, const uint8_t *in, size_t len,
				 char *why, size_t n)
{
	struct cursor c = {in, len, 0};
	uint64_t v, plen = 0, status;
	int i;
	const char *r;

	for (i = 0; i < (f->zero_object_id ? 3 : 4); i++)
		if (!cur_vi(&c, &v))
			return NULL;
	if (!f->default_priority)
		c.off++;
	if (f->has_properties) {
		size_t at = c.off;
		if ((r = diag_props(&c, why, n, &plen)))
			return r;
		if (c.off > at && plen == 0) {
			snprintf(why, n,
				 "the PROPERTIES type bit is set but Properties Length is 0");
			return why;
		}
	}
	if (!f->has_status)
		return NULL;
	if (!cur_vi(&c, &status))
		return NULL;
	if ((r = diag_status(status, plen, why, n)))
		return r;
	if (c.off < len) {
		snprintf(why, n,
			 "%zu byte(s) after the Object Status (a status datagram has no payload)",
			 len - c.off);
		return why;
	}
	return NULL;
}

/* ---- subgroup streams ------------------------------------------------------- */

static void write_subgroup_header(struct json_writer *w, const struct moq_subgroup_header *h)
{
	json_kv_u64(w, "stream_type", h->type);
	json_kv_u64(w, "track_alias", h->track_alias);
	json_kv_u64(w, "group_id", h->group_id);
	if (h->subgroup_id_mode != MOQ_SUBGROUP_ID_FIRST_OBJECT)
		json_kv_u64(w, "subgroup_id", h->subgroup_id);
	if (!h->default_priority)
		json_kv_u64(w, "publisher_priority", h->publisher_priority);
	json_kv_bool(w, "has_properties", h->has_properties);
	json_kv_u64(w, "subgroup_id_mode", h->subgroup_id_mode);
	json_kv_bool(w, "end_of_group", h->end_of_group);
	json_kv_bool(w, "default_priority", h->default_priority);
	json_kv_bool(w, "first_object", h->first_object);
}

static void stream_type_error(const uint8_t *in, size_t len, size_t at, int rc, const char *want,
			      struct insp_err *e)
{
	uint64_t t = 0;
	int cls;

	moq_vi_decode(&t, in, len);
	cls = moq_stream_type_classify(t);
	if (rc == MOQ_ERR_MALFORMED && cls == MOQ_ERR_MALFORMED) {
		insp_fail(e, "malformed", at,
			  "stream type 0x%llx at offset %zu has SUBGROUP_ID_MODE 0b11, which the "
			  "draft reserves (PROTOCOL_VIOLATION)",
			  (unsigned long long)t, at);
		return;
	}
	if (cls > 0)
		insp_fail(e, "malformed", at,
			  "stream type 0x%llx at offset %zu is a %s stream, not %s (try --kind %s)",
			  (unsigned long long)t, at, moq_data_type_name(cls), want,
			  cls == MOQ_DATA_SUBGROUP_HEADER ? "subgroup"
			  : cls == MOQ_DATA_FETCH_HEADER  ? "fetch"
							  : "control");
	else
		insp_fail(e, "malformed", at,
			  "unknown stream type 0x%llx at offset %zu (expected %s)",
			  (unsigned long long)t, at, want);
}

int subgroup_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
			struct json_writer *w, struct insp_err *e)
{
	struct moq_subgroup_header h;
	struct moq_subgroup_ctx ctx;
	size_t off;
	int n;
	uint8_t *buf;

	(void)o;
	if (len == 0)
		return 0;
	memset(&h, 0, sizeof(h));
	n = moq_subgroup_header_decode(&h, in, len);
	if (n == MOQ_ERR_NEED_MORE) {
		insp_fail(e, "truncated", base,
			  "input ends inside the SUBGROUP_HEADER at offset %zu (%zu bytes present)",
			  base, len);
		return -1;
	}
	if (n < 0) {
		stream_type_error(in, len, base, n, "a SUBGROUP_HEADER (0b0XX1XXXX)", e);
		return -1;
	}
	json_begin_object(w);
	json_kv_cstring(w, "type", "SUBGROUP_HEADER");
	json_kv_u64(w, "offset", base);
	write_subgroup_header(w, &h);
	buf = scratch((size_t)n + 32);
	if (buf) {
		int enc = moq_subgroup_header_encode(buf, (size_t)n + 32, &h);
		if (enc != n || memcmp(buf, in, (size_t)n))
			json_kv_bool(w, "non_canonical", true);
	}
	json_end_object(w);
	insp_emit(w);

	moq_subgroup_ctx_init(&ctx, &h);
	off = (size_t)n;
	while (off < len) {
		struct moq_subgroup_object ob;
		struct moq_subgroup_ctx before = ctx;

		memset(&ob, 0, sizeof(ob));
		n = moq_subgroup_object_decode(&ob, &ctx, in + off, len - off);
		if (n == MOQ_ERR_NEED_MORE) {
			struct moq_subgroup_ctx tmp = before;
			struct moq_subgroup_object hdr;
			int hn = moq_subgroup_object_header_decode(&hdr, &tmp, in + off, len - off);
			if (hn > 0)
				insp_fail(e, "truncated", base + off,
					  "input ends inside the payload of OBJECT %llu at offset "
					  "%zu: Object Payload Length %llu, %zu bytes present",
					  (unsigned long long)hdr.object_id, base + off,
					  (unsigned long long)hdr.payload_length,
					  len - off - (size_t)hn);
			else
				insp_fail(e, "truncated", base + off,
					  "input ends inside the fields of an OBJECT at offset %zu "
					  "(%zu bytes present)",
					  base + off, len - off);
			return -1;
		}
		if (n < 0) {
			char why[200];
			const char *d =
			    diag_subgroup_object(&before, in + off, len - off, why, sizeof(why));
			insp_fail(e, "malformed", base + off,
				  "OBJECT at offset %zu: %s (%s, PROTOCOL_VIOLATION)", base + off,
				  d ? d
				    : "Object ID overflow, invalid Object Status, properties on a "
				      "non-Normal object, or a bad Properties block",
				  moq_strerror(n));
			return -1;
		}
		json_begin_object(w);
		json_kv_cstring(w, "type", "OBJECT");
		json_kv_u64(w, "offset", base + off);
		json_kv_u64(w, "object_id_delta", ob.object_id_delta);
		json_kv_u64(w, "object_id", ob.object_id);
		if (h.has_properties)
			props_write(w, "properties", ob.properties.ptr, ob.properties.len);
		json_kv_u64(w, "payload_length", ob.payload_length);
		if (ob.payload_length == 0)
			write_status(w, ob.object_status);
		else
			json_kv_bytes(w, "payload", ob.payload.ptr, ob.payload.len);
		buf = scratch((size_t)n + 32);
		if (buf) {
			int enc = moq_subgroup_object_encode(buf, (size_t)n + 32, &before, &ob);
			if (enc != n || memcmp(buf, in + off, (size_t)n) ||
			    props_take_noncanonical())
				json_kv_bool(w, "non_canonical", true);
		}
		json_end_object(w);
		insp_emit(w);
		off += (size_t)n;
	}
	return 0;
}

/* ---- fetch streams ------------------------------------------------------------ */

int fetch_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		     struct json_writer *w, struct insp_err *e)
{
	struct moq_fetch_header h;
	struct moq_fetch_ctx ctx;
	size_t off;
	uint8_t *buf;
	int n;

	if (len == 0)
		return 0;
	n = moq_fetch_header_decode(&h, in, len);
	if (n == MOQ_ERR_NEED_MORE) {
		insp_fail(e, "truncated", base,
			  "input ends inside the FETCH_HEADER at offset %zu (%zu bytes present)",
			  base, len);
		return -1;
	}
	if (n < 0) {
		stream_type_error(in, len, base, n, "a FETCH_HEADER (0x05)", e);
		return -1;
	}
	json_begin_object(w);
	json_kv_cstring(w, "type", "FETCH_HEADER");
	json_kv_u64(w, "offset", base);
	json_kv_u64(w, "request_id", h.request_id);
	buf = scratch((size_t)n + 32);
	if (buf) {
		int enc = moq_fetch_header_encode(buf, (size_t)n + 32, &h);
		if (enc != n || memcmp(buf, in, (size_t)n))
			json_kv_bool(w, "non_canonical", true);
	}
	json_end_object(w);
	insp_emit(w);

	moq_fetch_ctx_init(&ctx,
			   o->descending ? MOQ_GROUP_ORDER_DESCENDING : MOQ_GROUP_ORDER_ASCENDING);
	off = (size_t)n;
	while (off < len) {
		struct moq_fetch_object ob;
		struct moq_fetch_ctx before = ctx;

		memset(&ob, 0, sizeof(ob));
		n = moq_fetch_object_decode(&ob, &ctx, in + off, len - off);
		if (n == MOQ_ERR_NEED_MORE) {
			struct moq_fetch_ctx tmp = before;
			struct moq_fetch_object hdr;
			int hn = moq_fetch_object_header_decode(&hdr, &tmp, in + off, len - off);
			if (hn > 0)
				insp_fail(
				    e, "truncated", base + off,
				    "input ends inside the payload of OBJECT {%llu, %llu} at "
				    "offset %zu: Object Payload Length %llu, %zu bytes present",
				    (unsigned long long)hdr.group_id,
				    (unsigned long long)hdr.object_id, base + off,
				    (unsigned long long)hdr.payload_length, len - off - (size_t)hn);
			else
				insp_fail(e, "truncated", base + off,
					  "input ends inside the fields of a fetch OBJECT at "
					  "offset %zu (%zu bytes present)",
					  base + off, len - off);
			return -1;
		}
		if (n < 0) {
			uint64_t flags = 0;
			moq_vi_decode(&flags, in + off, len - off);
			char why[200];
			const char *d =
			    diag_fetch_object(&before, in + off, len - off, why, sizeof(why));
			insp_fail(
			    e, "malformed", base + off,
			    "fetch OBJECT at offset %zu: %s%s (%s, PROTOCOL_VIOLATION)", base + off,
			    d ? d
			      : "invalid Serialization Flags, a reference to a prior Object that "
				"does not exist, an ID out of range, or a bad Properties block",
			    d ? "" : flags_note(flags), moq_strerror(n));
			return -1;
		}
		json_begin_object(w);
		if (ob.end_of_range == MOQ_FETCH_NOT_END_OF_RANGE)
			json_kv_cstring(w, "type", "OBJECT");
		else if (ob.end_of_range == MOQ_FETCH_NON_EXISTENT_RANGE)
			json_kv_cstring(w, "type", "END_OF_NON_EXISTENT_RANGE");
		else
			json_kv_cstring(w, "type", "END_OF_UNKNOWN_RANGE");
		json_kv_u64(w, "offset", base + off);
		json_kv_u64(w, "serialization_flags", ob.serialization_flags);
		if (ob.end_of_range != MOQ_FETCH_NOT_END_OF_RANGE) {
			json_kv_u64(w, "group_id", ob.group_id);
			json_kv_u64(w, "object_id", ob.object_id);
		} else {
			if (ob.serialization_flags & MOQ_FETCH_FLAG_GROUP_ID_DELTA)
				json_kv_u64(w, "group_id_delta", ob.group_id_delta);
			json_kv_u64(w, "group_id", ob.group_id);
			if (ob.datagram)
				json_kv_bool(w, "datagram", true);
			else
				json_kv_u64(w, "subgroup_id", ob.subgroup_id);
			if (ob.serialization_flags & MOQ_FETCH_FLAG_OBJECT_ID_DELTA)
				json_kv_u64(w, "object_id_delta", ob.object_id_delta);
			json_kv_u64(w, "object_id", ob.object_id);
			json_kv_u64(w, "publisher_priority", ob.publisher_priority);
			if (ob.has_properties)
				props_write(w, "properties", ob.properties.ptr, ob.properties.len);
			json_kv_u64(w, "payload_length", ob.payload_length);
			json_kv_bytes(w, "payload", ob.payload.ptr, ob.payload.len);
		}
		buf = scratch((size_t)n + 32);
		if (buf) {
			int enc = moq_fetch_object_encode(buf, (size_t)n + 32, &before, &ob);
			if (enc != n || memcmp(buf, in + off, (size_t)n) ||
			    props_take_noncanonical())
				json_kv_bool(w, "non_canonical", true);
		}
		json_end_object(w);
		insp_emit(w);
		off += (size_t)n;
	}
	return 0;
}

/* ---- datagrams --------------------------------------------------------------- */

/* Does the OBJECT_DATAGRAM header run past the end of the input? (The codec
 * calls every short datagram malformed; the tool reports it as truncated.) */
static bool datagram_header_cut(const struct moq_object_datagram *d, const uint8_t *in, size_t len)
{
	size_t off = 0;
	uint64_t v;
	int n, fields, i;

	fields = 2 + (d->zero_object_id ? 0 : 1); /* type read separately */
	n = moq_vi_decode(&v, in, len);
	if (n < 0)
		return true;
	off += (size_t)n;
	for (i = 0; i < fields; i++) {
		n = moq_vi_decode(&v, in + off, len - off);
		if (n < 0)
			return true;
		off += (size_t)n;
	}
	if (!d->default_priority) {
		if (off >= len)
			return true;
		off++;
	}
	if (d->has_properties) {
		n = moq_vi_decode(&v, in + off, len - off);
		if (n < 0 || v > len - off - (size_t)n)
			return true;
		off += (size_t)n + (size_t)v;
	}
	if (d->has_status) {
		n = moq_vi_decode(&v, in + off, len - off);
		if (n < 0)
			return true;
	}
	return false;
}

int datagram_decode_one(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
			struct json_writer *w, struct insp_err *e)
{
	struct moq_object_datagram d;
	uint64_t type;
	int n, cls;
	uint8_t *buf;

	(void)o;
	if (len == 0)
		return 0;
	n = moq_vi_decode(&type, in, len);
	if (n < 0) {
		insp_fail(e, "truncated", base,
			  "datagram at offset %zu ends inside its type (%zu bytes)", base, len);
		return -1;
	}
	cls = moq_datagram_type_classify(type);
	if (cls == MOQ_DATA_PADDING_DATAGRAM) {
		size_t pad = 0;
		n = moq_padding_datagram_decode(&pad, in, len);
		if (n < 0) {
			insp_fail(e, "malformed", base,
				  "PADDING_DATAGRAM at offset %zu: padding bytes must all be zero",
				  base);
			return -1;
		}
		json_begin_object(w);
		json_kv_cstring(w, "type", "PADDING_DATAGRAM");
		json_kv_u64(w, "offset", base);
		json_kv_u64(w, "padding_length", pad);
		json_end_object(w);
		insp_emit(w);
		return 0;
	}
	if (cls == MOQ_ERR_MALFORMED) {
		insp_fail(e, "malformed", base,
			  "datagram type 0x%llx at offset %zu sets both STATUS and END_OF_GROUP, "
			  "which the draft forbids (PROTOCOL_VIOLATION)",
			  (unsigned long long)type, base);
		return -1;
	}
	if (cls < 0) {
		insp_fail(e, "malformed", base,
			  "unknown datagram type 0x%llx at offset %zu (OBJECT_DATAGRAM is "
			  "0b00X0XXXX, PADDING 0x132b3e29)",
			  (unsigned long long)type, base);
		return -1;
	}
	memset(&d, 0, sizeof(d));
	n = moq_object_datagram_decode(&d, in, len);
	if (n < 0) {
		struct moq_object_datagram f;
		memset(&f, 0, sizeof(f));
		moq_object_datagram_flags(&f, type);
		if (datagram_header_cut(&f, in, len))
			insp_fail(e, "truncated", base,
				  "OBJECT_DATAGRAM at offset %zu: the datagram (%zu bytes) ends "
				  "inside its header fields",
				  base, len);
		else {
			char why[200];
			const char *d = diag_datagram(&f, in, len, why, sizeof(why));
			insp_fail(e, "malformed", base,
				  "OBJECT_DATAGRAM at offset %zu: %s (%s, PROTOCOL_VIOLATION)",
				  base,
				  d ? d
				    : "Properties Length 0 with the PROPERTIES bit, invalid Object "
				      "Status, properties on a non-Normal object, bytes after the "
				      "Object Status, or a bad Properties block",
				  moq_strerror(n));
		}
		return -1;
	}
	json_begin_object(w);
	json_kv_cstring(w, "type", "OBJECT_DATAGRAM");
	json_kv_u64(w, "offset", base);
	json_kv_u64(w, "datagram_type", d.type);
	json_kv_u64(w, "track_alias", d.track_alias);
	json_kv_u64(w, "group_id", d.group_id);
	json_kv_u64(w, "object_id", d.object_id);
	if (!d.default_priority)
		json_kv_u64(w, "publisher_priority", d.publisher_priority);
	json_kv_bool(w, "has_properties", d.has_properties);
	json_kv_bool(w, "end_of_group", d.end_of_group);
	json_kv_bool(w, "zero_object_id", d.zero_object_id);
	json_kv_bool(w, "default_priority", d.default_priority);
	json_kv_bool(w, "has_status", d.has_status);
	if (d.has_properties)
		props_write(w, "properties", d.properties.ptr, d.properties.len);
	if (d.has_status)
		write_status(w, d.object_status);
	else
		json_kv_bytes(w, "payload", d.payload.ptr, d.payload.len);
	buf = scratch(len + 32);
	if (buf) {
		int enc = moq_object_datagram_encode(buf, len + 32, &d);
		if (enc != n || memcmp(buf, in, (size_t)n) || props_take_noncanonical())
			json_kv_bool(w, "non_canonical", true);
	}
	json_end_object(w);
	insp_emit(w);
	return 0;
}

/* ---- encode ------------------------------------------------------------------- */

static struct {
	bool have_header;
	struct moq_subgroup_ctx sg;
	struct moq_fetch_ctx fc;
} g_enc;

void data_encode_begin(void)
{
	memset(&g_enc, 0, sizeof(g_enc));
}

static int put_encoded(struct jctx *c, const struct json_value *v, struct bytebuf *out,
		       const uint8_t *buf, int n)
{
	if (n < 0)
		return jerr(c, v, "cannot encode: %s", moq_strerror(n));
	if (bytebuf_put(out, buf, (size_t)n))
		return jerr(c, v, "out of memory");
	return 0;
}

/* Optional boolean flag: keeps *out unless the key is present. */
static int opt_flag(struct jctx *c, const struct json_value *v, const char *key, bool *out)
{
	return jf_bool(c, v, key, false, out) < 0 ? -1 : 0;
}

/* Payload, payload_length and (when the payload is empty) object_status. */
static int read_payload(struct jctx *c, const struct json_value *v, bool status_allowed,
			struct moq_bytes *payload, uint64_t *payload_length, uint64_t *status)
{
	uint64_t plen;
	int has_plen;

	payload->ptr = NULL;
	payload->len = 0;
	if (jf_bytes(c, v, "payload", false, payload) < 0)
		return -1;
	has_plen = jf_u64(c, v, "payload_length", false, &plen);
	if (has_plen < 0)
		return -1;
	if (has_plen && plen != payload->len)
		return jerr(c, json_get(v, "payload_length"),
			    "payload_length %llu but the payload has %zu bytes",
			    (unsigned long long)plen, payload->len);
	*payload_length = payload->len;
	if (status) {
		*status = 0;
		if (jf_code(c, v, "object_status", "object_status_name", moq_object_status_name, 8,
			    false, status) < 0)
			return -1;
		if (*status && payload->len)
			return jerr(c, json_get(v, "object_status"),
				    "an object with a payload is Normal (object_status 0)");
		if (!status_allowed && json_get(v, "object_status"))
			return jerr(c, json_get(v, "object_status"),
				    "fetch objects have no Object Status");
		if (*status && !moq_object_status_valid(*status))
			return jerr(c, json_get(v, "object_status"),
				    "object_status %llu is not 0 (NORMAL), 3 (END_OF_GROUP) or 4 "
				    "(END_OF_TRACK)",
				    (unsigned long long)*status);
	}
	return 0;
}

static int encode_subgroup_header(struct jctx *c, const struct json_value *v, struct bytebuf *out)
{
	static const char *const keys[] = {"type",
					   "offset",
					   "stream_type",
					   "track_alias",
					   "group_id",
					   "subgroup_id",
					   "publisher_priority",
					   "has_properties",
					   "subgroup_id_mode",
					   "end_of_group",
					   "default_priority",
					   "first_object",
					   "non_canonical",
					   NULL};
	struct moq_subgroup_header h;
	uint64_t st = 0, mode;
	int has_st, has_sid, has_prio, rc, type;
	uint8_t buf[64];

	memset(&h, 0, sizeof(h));
	if (g_enc.have_header)
		return jerr(c, v,
			    "a subgroup stream has exactly one SUBGROUP_HEADER, at its start; "
			    "encode each stream separately");
	if (jf_only(c, v, keys) < 0)
		return -1;
	has_st = jf_u64(c, v, "stream_type", false, &st);
	if (has_st < 0)
		return -1;
	has_sid = json_get(v, "subgroup_id") != NULL;
	has_prio = json_get(v, "publisher_priority") != NULL;
	if (has_st) {
		rc = moq_subgroup_header_flags(&h, st);
		if (rc < 0)
			return jerr(c, json_get(v, "stream_type"),
				    "stream_type 0x%llx is not a valid SUBGROUP_HEADER type "
				    "(0b0XX1XXXX, SUBGROUP_ID_MODE != 0b11)",
				    (unsigned long long)st);
	} else {
		h.subgroup_id_mode = has_sid ? MOQ_SUBGROUP_ID_PRESENT : MOQ_SUBGROUP_ID_ZERO;
		h.default_priority = !has_prio;
	}
	if (opt_flag(c, v, "has_properties", &h.has_properties) < 0 ||
	    opt_flag(c, v, "end_of_group", &h.end_of_group) < 0 ||
	    opt_flag(c, v, "default_priority", &h.default_priority) < 0 ||
	    opt_flag(c, v, "first_object", &h.first_object) < 0)
		return -1;
	rc = jf_u64(c, v, "subgroup_id_mode", false, &mode);
	if (rc < 0)
		return -1;
	if (rc) {
		if (mode > MOQ_SUBGROUP_ID_PRESENT)
			return jerr(c, json_get(v, "subgroup_id_mode"),
				    "subgroup_id_mode is 0 (zero), 1 (first Object ID) or 2 "
				    "(present); 3 is reserved");
		h.subgroup_id_mode = (uint8_t)mode;
	}
	if (jf_u64(c, v, "track_alias", true, &h.track_alias) < 0 ||
	    jf_u64(c, v, "group_id", true, &h.group_id) < 0 ||
	    jf_u64(c, v, "subgroup_id", h.subgroup_id_mode == MOQ_SUBGROUP_ID_PRESENT,
		   &h.subgroup_id) < 0)
		return -1;
	if (h.subgroup_id_mode == MOQ_SUBGROUP_ID_ZERO && h.subgroup_id)
		return jerr(
		    c, json_get(v, "subgroup_id"),
		    "subgroup_id_mode 0 means Subgroup ID 0; use subgroup_id_mode 2 to send %llu",
		    (unsigned long long)h.subgroup_id);
	if (h.subgroup_id_mode == MOQ_SUBGROUP_ID_FIRST_OBJECT && has_sid)
		return jerr(c, json_get(v, "subgroup_id"),
			    "with subgroup_id_mode 1 the Subgroup ID is the first Object ID; omit "
			    "subgroup_id");
	if (h.default_priority && has_prio)
		return jerr(c, json_get(v, "publisher_priority"),
			    "default_priority means the header has no Publisher Priority");
	if (jf_u8(c, v, "publisher_priority", !h.default_priority, &h.publisher_priority) < 0)
		return -1;
	type = moq_subgroup_header_type(&h);
	if (type < 0)
		return jerr(c, v, "invalid flag combination");
	if (has_st && (uint64_t)type != st)
		return jerr(c, json_get(v, "stream_type"),
			    "stream_type 0x%llx disagrees with the flag fields, which give 0x%x",
			    (unsigned long long)st, type);
	rc = moq_subgroup_header_encode(buf, sizeof(buf), &h);
	if (put_encoded(c, v, out, buf, rc) < 0)
		return -1;
	h.type = (uint64_t)type;
	moq_subgroup_ctx_init(&g_enc.sg, &h);
	g_enc.have_header = true;
	return 0;
}

static int encode_subgroup_object(struct jctx *c, const struct json_value *v, struct bytebuf *out)
{
	static const char *const keys[] = {"type",
					   "offset",
					   "object_id_delta",
					   "object_id",
					   "properties",
					   "payload_length",
					   "object_status",
					   "object_status_name",
					   "payload",
					   "non_canonical",
					   NULL};
	struct moq_subgroup_ctx *ctx = &g_enc.sg;
	struct moq_subgroup_object ob;
	const struct json_value *pv;
	uint64_t delta = 0, id = 0;
	int has_id, has_delta, n;
	uint8_t *buf;
	size_t cap;

	memset(&ob, 0, sizeof(ob));
	if (!g_enc.have_header)
		return jerr(c, v, "a subgroup stream starts with a SUBGROUP_HEADER line");
	if (jf_only(c, v, keys) < 0)
		return -1;
	has_id = jf_u64(c, v, "object_id", false, &id);
	has_delta = jf_u64(c, v, "object_id_delta", false, &delta);
	if (has_id < 0 || has_delta < 0)
		return -1;
	if (!has_id && !has_delta)
		return jerr(c, v, "missing field \"object_id\"");
	if (has_delta) {
		uint64_t from = delta;
		if (ctx->have_prev) {
			if (ctx->prev_object_id == UINT64_MAX ||
			    delta > UINT64_MAX - ctx->prev_object_id - 1)
				return jerr(c, json_get(v, "object_id_delta"),
					    "Object ID would exceed 2^64-1");
			from = ctx->prev_object_id + delta + 1;
		}
		if (has_id && from != id)
			return jerr(
			    c, json_get(v, "object_id_delta"),
			    "object_id_delta %llu gives Object ID %llu, but object_id is %llu",
			    (unsigned long long)delta, (unsigned long long)from,
			    (unsigned long long)id);
		id = from;
	} else if (ctx->have_prev && id <= ctx->prev_object_id) {
		return jerr(c, json_get(v, "object_id"),
			    "Object IDs increase within a subgroup stream (%llu after %llu)",
			    (unsigned long long)id, (unsigned long long)ctx->prev_object_id);
	}
	ob.object_id = id;
	pv = json_get(v, "properties");
	if (pv) {
		if (!ctx->hdr.has_properties)
			return jerr(c, pv,
				    "the SUBGROUP_HEADER has no PROPERTIES bit (has_properties "
				    "false), so objects carry no properties");
		if (props_read(c, pv, &ob.properties) < 0)
			return -1;
	}
	if (read_payload(c, v, true, &ob.payload, &ob.payload_length, &ob.object_status) < 0)
		return -1;
	if (ob.properties.len && ob.object_status)
		return jerr(c, v, "only Normal objects (object_status 0) have properties");
	cap = ob.payload.len + ob.properties.len + 64;
	buf = scratch(cap);
	if (!buf)
		return jerr(c, v, "out of memory");
	n = moq_subgroup_object_encode(buf, cap, ctx, &ob);
	return put_encoded(c, v, out, buf, n);
}

int subgroup_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
			struct bytebuf *out)
{
	const struct json_value *t = json_get(v, "type");

	(void)o;
	c->msg = t->str.ptr;
	if (!strcmp(t->str.ptr, "SUBGROUP_HEADER"))
		return encode_subgroup_header(c, v, out);
	if (!strcmp(t->str.ptr, "OBJECT"))
		return encode_subgroup_object(c, v, out);
	c->msg = NULL;
	return jerr(
	    c, t,
	    "\"%.40s\" does not belong on a subgroup stream (SUBGROUP_HEADER, then OBJECT lines)",
	    t->str.ptr);
}

static int encode_fetch_header(const struct insp_opts *o, struct jctx *c,
			       const struct json_value *v, struct bytebuf *out)
{
	static const char *const keys[] = {"type", "offset", "request_id", "non_canonical", NULL};
	struct moq_fetch_header h = {.type = MOQ_STREAM_TYPE_FETCH_HEADER};
	uint8_t buf[32];

	if (g_enc.have_header)
		return jerr(c, v,
			    "a fetch stream has exactly one FETCH_HEADER, at its start; encode "
			    "each stream separately");
	if (jf_only(c, v, keys) < 0 || jf_u64(c, v, "request_id", true, &h.request_id) < 0)
		return -1;
	if (put_encoded(c, v, out, buf, moq_fetch_header_encode(buf, sizeof(buf), &h)) < 0)
		return -1;
	moq_fetch_ctx_init(&g_enc.fc,
			   o->descending ? MOQ_GROUP_ORDER_DESCENDING : MOQ_GROUP_ORDER_ASCENDING);
	g_enc.have_header = true;
	return 0;
}

static int encode_fetch_item(struct jctx *c, const struct json_value *v, uint8_t end_of_range,
			     struct bytebuf *out)
{
	static const char *const obj_keys[] = {"type",
					       "offset",
					       "serialization_flags",
					       "group_id_delta",
					       "group_id",
					       "subgroup_id",
					       "datagram",
					       "object_id_delta",
					       "object_id",
					       "publisher_priority",
					       "properties",
					       "payload_length",
					       "payload",
					       "non_canonical",
					       NULL};
	static const char *const eor_keys[] = {"type",	   "offset",	"serialization_flags",
					       "group_id", "object_id", "non_canonical",
					       NULL};
	struct moq_fetch_ctx *ctx = &g_enc.fc;
	struct moq_fetch_object ob;
	const struct json_value *pv;
	uint64_t flags;
	int has_flags, n;
	uint8_t *buf;
	size_t cap;

	memset(&ob, 0, sizeof(ob));
	if (!g_enc.have_header)
		return jerr(c, v, "a fetch stream starts with a FETCH_HEADER line");
	if (jf_only(c, v, end_of_range ? eor_keys : obj_keys) < 0)
		return -1;
	ob.end_of_range = end_of_range;
	if (jf_u64(c, v, "group_id", true, &ob.group_id) < 0 ||
	    jf_u64(c, v, "object_id", true, &ob.object_id) < 0)
		return -1;
	has_flags = jf_u64(c, v, "serialization_flags", false, &flags);
	if (has_flags < 0)
		return -1;
	if (!end_of_range) {
		int rc;
		ob.subgroup_id =
		    ctx->have_prior_object && ctx->prior_has_subgroup ? ctx->prior_subgroup_id : 0;
		if (opt_flag(c, v, "datagram", &ob.datagram) < 0)
			return -1;
		if (ob.datagram && json_get(v, "subgroup_id"))
			return jerr(c, json_get(v, "subgroup_id"),
				    "datagram objects have no Subgroup ID");
		if (jf_u64(c, v, "subgroup_id", false, &ob.subgroup_id) < 0)
			return -1;
		if (ob.datagram)
			ob.subgroup_id = 0;
		ob.publisher_priority = ctx->prior_priority;
		rc = jf_u8(c, v, "publisher_priority", !ctx->have_prior_object,
			   &ob.publisher_priority);
		if (rc < 0)
			return -1;
		pv = json_get(v, "properties");
		if (pv) {
			if (props_read(c, pv, &ob.properties) < 0)
				return -1;
			ob.has_properties = true;
		}
		if (read_payload(c, v, false, &ob.payload, &ob.payload_length, NULL) < 0)
			return -1;
	}
	if (has_flags) {
		ob.serialization_flags = flags;
	} else {
		n = moq_fetch_object_flags(ctx, &ob);
		if (n < 0)
			return jerr(c, v, "Group %llu cannot follow Group %llu in %s group order",
				    (unsigned long long)ob.group_id,
				    (unsigned long long)ctx->prior_group_id,
				    ctx->group_order == MOQ_GROUP_ORDER_DESCENDING ? "descending"
										   : "ascending");
		ob.serialization_flags = (uint64_t)n;
	}
	cap = ob.payload.len + ob.properties.len + 96;
	buf = scratch(cap);
	if (!buf)
		return jerr(c, v, "out of memory");
	n = moq_fetch_object_encode(buf, cap, ctx, &ob);
	if (n == MOQ_ERR_INVALID)
		return jerr(
		    c, has_flags ? json_get(v, "serialization_flags") : v,
		    "serialization_flags 0x%llx cannot express this item after the previous one "
		    "(prior references, group order, or an id that goes backwards)",
		    (unsigned long long)ob.serialization_flags);
	return put_encoded(c, v, out, buf, n);
}

int fetch_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		     struct bytebuf *out)
{
	const struct json_value *t = json_get(v, "type");

	c->msg = t->str.ptr;
	if (!strcmp(t->str.ptr, "FETCH_HEADER"))
		return encode_fetch_header(o, c, v, out);
	if (!strcmp(t->str.ptr, "OBJECT"))
		return encode_fetch_item(c, v, MOQ_FETCH_NOT_END_OF_RANGE, out);
	if (!strcmp(t->str.ptr, "END_OF_NON_EXISTENT_RANGE"))
		return encode_fetch_item(c, v, MOQ_FETCH_NON_EXISTENT_RANGE, out);
	if (!strcmp(t->str.ptr, "END_OF_UNKNOWN_RANGE"))
		return encode_fetch_item(c, v, MOQ_FETCH_UNKNOWN_RANGE, out);
	c->msg = NULL;
	return jerr(c, t,
		    "\"%.40s\" does not belong on a fetch stream (FETCH_HEADER, then OBJECT / "
		    "END_OF_NON_EXISTENT_RANGE / END_OF_UNKNOWN_RANGE lines)",
		    t->str.ptr);
}

static int encode_padding_datagram(struct jctx *c, const struct json_value *v, struct bytebuf *out)
{
	static const char *const keys[] = {"type", "offset", "padding_length", "non_canonical",
					   NULL};
	uint64_t pad = 0;
	uint8_t *buf;

	if (jf_only(c, v, keys) < 0 || jf_u64(c, v, "padding_length", false, &pad) < 0)
		return -1;
	if (pad > 1u << 20)
		return jerr(c, json_get(v, "padding_length"),
			    "padding_length %llu is larger than any datagram",
			    (unsigned long long)pad);
	buf = scratch((size_t)pad + 16);
	if (!buf)
		return jerr(c, v, "out of memory");
	return put_encoded(c, v, out, buf,
			   moq_padding_datagram_encode(buf, (size_t)pad + 16, (size_t)pad));
}

int datagram_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
			struct bytebuf *out)
{
	static const char *const keys[] = {"type",
					   "offset",
					   "datagram_type",
					   "track_alias",
					   "group_id",
					   "object_id",
					   "publisher_priority",
					   "has_properties",
					   "end_of_group",
					   "zero_object_id",
					   "default_priority",
					   "has_status",
					   "properties",
					   "object_status",
					   "object_status_name",
					   "payload",
					   "non_canonical",
					   NULL};
	const struct json_value *t = json_get(v, "type"), *pv;
	struct moq_object_datagram d;
	uint64_t dt = 0;
	int has_dt, type, n;
	uint8_t *buf;
	size_t cap;

	(void)o;
	c->msg = t->str.ptr;
	if (!strcmp(t->str.ptr, "PADDING_DATAGRAM"))
		return encode_padding_datagram(c, v, out);
	if (strcmp(t->str.ptr, "OBJECT_DATAGRAM")) {
		c->msg = NULL;
		return jerr(c, t,
			    "\"%.40s\" is not a datagram (OBJECT_DATAGRAM or PADDING_DATAGRAM)",
			    t->str.ptr);
	}
	memset(&d, 0, sizeof(d));
	if (jf_only(c, v, keys) < 0)
		return -1;
	has_dt = jf_u64(c, v, "datagram_type", false, &dt);
	if (has_dt < 0)
		return -1;
	pv = json_get(v, "properties");
	if (has_dt) {
		if (moq_object_datagram_flags(&d, dt) < 0)
			return jerr(c, json_get(v, "datagram_type"),
				    "datagram_type 0x%llx is not a valid OBJECT_DATAGRAM type "
				    "(0b00X0XXXX without STATUS+END_OF_GROUP)",
				    (unsigned long long)dt);
	} else {
		d.has_properties = pv != NULL;
		d.zero_object_id = json_get(v, "object_id") == NULL;
		d.default_priority = json_get(v, "publisher_priority") == NULL;
		d.has_status = json_get(v, "object_status") != NULL ||
			       json_get(v, "object_status_name") != NULL;
	}
	if (opt_flag(c, v, "has_properties", &d.has_properties) < 0 ||
	    opt_flag(c, v, "end_of_group", &d.end_of_group) < 0 ||
	    opt_flag(c, v, "zero_object_id", &d.zero_object_id) < 0 ||
	    opt_flag(c, v, "default_priority", &d.default_priority) < 0 ||
	    opt_flag(c, v, "has_status", &d.has_status) < 0)
		return -1;
	if (jf_u64(c, v, "track_alias", true, &d.track_alias) < 0 ||
	    jf_u64(c, v, "group_id", true, &d.group_id) < 0 ||
	    jf_u64(c, v, "object_id", !d.zero_object_id, &d.object_id) < 0)
		return -1;
	if (d.zero_object_id && d.object_id)
		return jerr(c, json_get(v, "object_id"),
			    "zero_object_id means Object ID 0, not %llu",
			    (unsigned long long)d.object_id);
	if (d.default_priority && json_get(v, "publisher_priority"))
		return jerr(c, json_get(v, "publisher_priority"),
			    "default_priority means the datagram has no Publisher Priority");
	if (jf_u8(c, v, "publisher_priority", !d.default_priority, &d.publisher_priority) < 0)
		return -1;
	if (pv && !d.has_properties)
		return jerr(c, pv, "properties given but has_properties is false");
	if (d.has_properties) {
		if (!pv)
			return jerr(c, v, "has_properties needs a non-empty \"properties\"");
		if (props_read(c, pv, &d.properties) < 0)
			return -1;
		if (!d.properties.len)
			return jerr(c, pv,
				    "with the PROPERTIES bit the Properties Length may not be 0; "
				    "drop properties or add one");
	}
	if (d.has_status) {
		if (json_get(v, "payload"))
			return jerr(
			    c, json_get(v, "payload"),
			    "a datagram with has_status carries an Object Status, not a payload");
		if (jf_code(c, v, "object_status", "object_status_name", moq_object_status_name, 8,
			    true, &d.object_status) < 0)
			return -1;
		if (!moq_object_status_valid(d.object_status))
			return jerr(c, json_get(v, "object_status"),
				    "object_status %llu is not 0 (NORMAL), 3 (END_OF_GROUP) or 4 "
				    "(END_OF_TRACK)",
				    (unsigned long long)d.object_status);
	} else {
		if (json_get(v, "object_status"))
			return jerr(c, json_get(v, "object_status"),
				    "object_status needs has_status (the STATUS type bit)");
		if (jf_bytes(c, v, "payload", false, &d.payload) < 0)
			return -1;
	}
	type = moq_object_datagram_type(&d);
	if (type < 0)
		return jerr(c, v,
			    "has_status and end_of_group cannot both be set (the draft makes those "
			    "types invalid)");
	if (has_dt && (uint64_t)type != dt)
		return jerr(c, json_get(v, "datagram_type"),
			    "datagram_type 0x%llx disagrees with the flag fields, which give 0x%x",
			    (unsigned long long)dt, type);
	cap = d.payload.len + d.properties.len + 64;
	buf = scratch(cap);
	if (!buf)
		return jerr(c, v, "out of memory");
	n = moq_object_datagram_encode(buf, cap, &d);
	if (n == MOQ_ERR_INVALID)
		return jerr(c, v,
			    "the codec refuses this datagram (invalid flags, status with payload, "
			    "or properties on a non-Normal object)");
	return put_encoded(c, v, out, buf, n);
}

/* ---- padding streams and --kind stream ------------------------------------------ */

static int padding_decode(const uint8_t *in, size_t len, size_t base, size_t hdr,
			  struct json_writer *w, struct insp_err *e)
{
	size_t i;

	for (i = hdr; i < len; i++) {
		if (in[i]) {
			insp_fail(
			    e, "malformed", base + i,
			    "padding stream byte at offset %zu is 0x%02x; padding must be all zero",
			    base + i, in[i]);
			return -1;
		}
	}
	json_begin_object(w);
	json_kv_cstring(w, "type", "PADDING");
	json_kv_u64(w, "offset", base);
	json_kv_u64(w, "padding_length", len - hdr);
	json_end_object(w);
	insp_emit(w);
	return 0;
}

int stream_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		      struct json_writer *w, struct insp_err *e)
{
	uint64_t type;
	size_t used = 0;
	int cls;

	if (len == 0)
		return 0;
	cls = moq_stream_type_peek(&type, &used, in, len);
	switch (cls) {
	case MOQ_DATA_SUBGROUP_HEADER:
		return subgroup_decode_all(o, in, len, base, w, e);
	case MOQ_DATA_FETCH_HEADER:
		return fetch_decode_all(o, in, len, base, w, e);
	case MOQ_DATA_SETUP:
		return control_decode_all(o, in, len, base, w, e);
	case MOQ_DATA_PADDING:
		return padding_decode(in, len, base, used, w, e);
	case MOQ_ERR_NEED_MORE:
		insp_fail(e, "truncated", base,
			  "input ends inside the stream type at offset %zu (%zu bytes present)",
			  base, len);
		return -1;
	default:
		stream_type_error(
		    in, len, base, cls,
		    "SUBGROUP_HEADER, FETCH_HEADER, SETUP (control stream) or PADDING", e);
		return -1;
	}
}

int padding_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		       struct bytebuf *out)
{
	static const char *const keys[] = {"type", "offset", "padding_length", NULL};
	const struct json_value *t = json_get(v, "type");
	uint64_t pad = 0;
	uint8_t hdr[16];
	int n;

	(void)o;
	c->msg = t->str.ptr;
	if (strcmp(t->str.ptr, "PADDING")) {
		c->msg = NULL;
		return jerr(c, t, "\"%.40s\" does not belong on a padding stream", t->str.ptr);
	}
	if (g_enc.have_header)
		return jerr(c, v, "a padding stream is one PADDING line");
	if (jf_only(c, v, keys) < 0 || jf_u64(c, v, "padding_length", false, &pad) < 0)
		return -1;
	if (pad > (1u << 24))
		return jerr(c, json_get(v, "padding_length"),
			    "padding_length %llu is unreasonably large (limit 16 MiB)",
			    (unsigned long long)pad);
	n = moq_padding_stream_header_encode(hdr, sizeof(hdr));
	if (put_encoded(c, v, out, hdr, n) < 0)
		return -1;
	if (bytebuf_reserve(out, (size_t)pad))
		return jerr(c, v, "out of memory");
	memset(out->p + out->len, 0, (size_t)pad);
	out->len += (size_t)pad;
	g_enc.have_header = true;
	return 0;
}
