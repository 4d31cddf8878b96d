/* --kind varint: a sequence of MoQT vi64 (or, with --quic, RFC 9000 QUIC)
 * variable-length integers, one JSON object per integer:
 *   {"type":"varint","offset":0,"value":37,"length":2}
 * "length" is the encoded width, so non-minimal encodings survive a round
 * trip; on encode it is optional (minimal width when absent). */
#include <string.h>

#include "inspect.h"
#include "moq_err.h"
#include "varint.h"

int varint_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		      struct json_writer *w, struct insp_err *e)
{
	size_t off = 0;

	while (off < len) {
		uint64_t v;
		int n = o->quic ? quic_varint_decode(&v, in + off, len - off)
				: moq_vi_decode(&v, in + off, len - off);
		if (n < 0) {
			size_t need = o->quic ? quic_varint_len_from_first(in[off])
					      : moq_vi_len_from_first(in[off]);
			insp_fail(e, "truncated", base + off,
				  "%s at offset %zu needs %zu bytes (first byte 0x%02x), input "
				  "ends after %zu",
				  o->quic ? "QUIC varint" : "vi64", base + off, need, in[off],
				  len - off);
			return -1;
		}
		json_begin_object(w);
		json_kv_cstring(w, "type", o->quic ? "quic_varint" : "varint");
		json_kv_u64(w, "offset", base + off);
		json_kv_u64(w, "value", v);
		json_kv_u64(w, "length", (uint64_t)n);
		json_end_object(w);
		insp_emit(w);
		off += (size_t)n;
	}
	return 0;
}

int varint_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		      struct bytebuf *out)
{
	static const char *const keys[] = {"type", "offset", "value", "length", NULL};
	const struct json_value *t = json_get(v, "type");
	bool quic;
	uint64_t value, width = 0;
	int has_width, n;

	(void)o;
	if (!strcmp(t->str.ptr, "varint"))
		quic = false;
	else if (!strcmp(t->str.ptr, "quic_varint"))
		quic = true;
	else
		return jerr(
		    c, t,
		    "type \"%.40s\" in a varint sequence (expected \"varint\" or \"quic_varint\")",
		    t->str.ptr);
	c->msg = t->str.ptr;
	if (jf_only(c, v, keys) < 0 || jf_u64(c, v, "value", true, &value) < 0)
		return -1;
	has_width = jf_u64(c, v, "length", false, &width);
	if (has_width < 0)
		return -1;
	if (bytebuf_reserve(out, 9))
		return jerr(c, v, "out of memory");
	if (quic) {
		if (value > QUIC_VARINT_MAX)
			return jerr(c, json_get(v, "value"),
				    "%llu exceeds the QUIC varint maximum 2^62-1",
				    (unsigned long long)value);
		if (has_width && width != 1 && width != 2 && width != 4 && width != 8)
			return jerr(c, json_get(v, "length"),
				    "a QUIC varint is 1, 2, 4 or 8 bytes, not %llu",
				    (unsigned long long)width);
		n = has_width ? quic_varint_encode_width(out->p + out->len, 9, value, (size_t)width)
			      : quic_varint_encode(out->p + out->len, 9, value);
	} else {
		if (has_width && (width < 1 || width > 9))
			return jerr(c, json_get(v, "length"), "a vi64 is 1..9 bytes, not %llu",
				    (unsigned long long)width);
		n = has_width ? moq_vi_encode_width(out->p + out->len, 9, value, (size_t)width)
			      : moq_vi_encode(out->p + out->len, 9, value);
	}
	if (n == MOQ_ERR_RANGE)
		return jerr(c, json_get(v, "length"), "%llu does not fit in %llu bytes",
			    (unsigned long long)value, (unsigned long long)width);
	if (n < 0)
		return jerr(c, v, "cannot encode: %s", moq_strerror(n));
	out->len += (size_t)n;
	return 0;
}
