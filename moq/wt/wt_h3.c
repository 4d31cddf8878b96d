/* HTTP/3 header blocks through nghttp3's QPACK (wt_h3.h). */
#include <nghttp3/nghttp3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "varint.h"
#include "wt/wt_h3.h"
#include "wt/wt_wire.h"

static int put(char *dst, size_t cap, const uint8_t *v, size_t n)
{
	if (n >= cap)
		return MOQ_ERR_LIMIT;
	memcpy(dst, v, n);
	dst[n] = 0;
	return 0;
}

static int name_is(const nghttp3_vec *n, const char *s)
{
	size_t l = strlen(s);
	return n->len == l && !memcmp(n->base, s, l);
}

/* One decoded field into m. seen: bit per pseudo-header. */
static int take_field(struct moq_h3_msg *m, const nghttp3_vec *n, const nghttp3_vec *v,
		      unsigned *seen, bool *regular)
{
	static const char *const pseudo[] = {":method",	   ":protocol", ":scheme",
					     ":authority", ":path",	":status"};
	for (size_t i = 0; i < n->len; i++)
		if (n->base[i] >= 'A' && n->base[i] <= 'Z')
			return MOQ_ERR_MALFORMED; /* RFC 9114 4.2 */
	if (n->len && n->base[0] == ':') {
		size_t i;
		if (*regular)
			return MOQ_ERR_MALFORMED;
		for (i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
			if (name_is(n, pseudo[i]))
				break;
		if (i == sizeof(pseudo) / sizeof(pseudo[0]) || (*seen & (1u << i)))
			return MOQ_ERR_MALFORMED;
		*seen |= 1u << i;
		switch (i) {
		case 0:
			return put(m->method, sizeof(m->method), v->base, v->len);
		case 1:
			return put(m->protocol, sizeof(m->protocol), v->base, v->len);
		case 2:
			return put(m->scheme, sizeof(m->scheme), v->base, v->len);
		case 3:
			return put(m->authority, sizeof(m->authority), v->base, v->len);
		case 4:
			return put(m->path, sizeof(m->path), v->base, v->len);
		default: {
			char st[8];
			if (put(st, sizeof(st), v->base, v->len) < 0 || v->len != 3)
				return MOQ_ERR_MALFORMED;
			for (int k = 0; k < 3; k++)
				if (st[k] < '0' || st[k] > '9')
					return MOQ_ERR_MALFORMED;
			m->status = atoi(st);
			return 0;
		}
		}
	}
	*regular = true;
	if (name_is(n, "wt-available-protocols"))
		return put(m->wt_protocols, sizeof(m->wt_protocols), v->base, v->len);
	if (name_is(n, "wt-protocol"))
		return put(m->wt_protocol, sizeof(m->wt_protocol), v->base, v->len);
	if (name_is(n, "origin"))
		return put(m->origin, sizeof(m->origin), v->base, v->len);
	if ((name_is(n, "sec-webtransport-http3-draft02") && v->len == 1 && v->base[0] == '1') ||
	    (name_is(n, "sec-webtransport-http3-draft") && v->len == 7 &&
	     !memcmp(v->base, "draft02", 7)))
		m->draft02 = 1;
	return 0;
}

int moq_h3_headers_decode(struct moq_h3_msg *m, const uint8_t *block, size_t len)
{
	const nghttp3_mem *mem = nghttp3_mem_default();
	nghttp3_qpack_decoder *dec = NULL;
	nghttp3_qpack_stream_context *sc = NULL;
	unsigned seen = 0;
	bool regular = false, final = false;
	int rc = MOQ_ERR_MALFORMED;

	memset(m, 0, sizeof(*m));
	if (nghttp3_qpack_decoder_new(&dec, 0, 0, mem) ||
	    nghttp3_qpack_stream_context_new(&sc, 0, mem))
		goto out;
	while (!final) {
		nghttp3_qpack_nv nv;
		uint8_t flags = 0;
		nghttp3_ssize k =
		    nghttp3_qpack_decoder_read_request(dec, sc, &nv, &flags, block, len, 1);
		if (k < 0 || (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED))
			goto out;
		block += k;
		len -= (size_t)k;
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
			nghttp3_vec n = nghttp3_rcbuf_get_buf(nv.name);
			nghttp3_vec v = nghttp3_rcbuf_get_buf(nv.value);
			int r = take_field(m, &n, &v, &seen, &regular);
			nghttp3_rcbuf_decref(nv.name);
			nghttp3_rcbuf_decref(nv.value);
			if (r < 0) {
				rc = r;
				goto out;
			}
		}
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL)
			final = true;
		else if (k == 0 && !(flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT))
			goto out; /* no progress */
	}
	rc = len ? MOQ_ERR_MALFORMED : 0;
out:
	if (sc)
		nghttp3_qpack_stream_context_del(sc);
	if (dec)
		nghttp3_qpack_decoder_del(dec);
	return rc;
}

int moq_h3_headers_encode(uint8_t **out, size_t *outlen, const struct moq_h3_field *f, size_t n)
{
	const nghttp3_mem *mem = nghttp3_mem_default();
	nghttp3_qpack_encoder *enc = NULL;
	nghttp3_buf pb, rb, eb;
	nghttp3_nv nva[16];
	int rc = MOQ_ERR_INVALID;

	*out = NULL;
	if (n > sizeof(nva) / sizeof(nva[0]))
		return MOQ_ERR_LIMIT;
	for (size_t i = 0; i < n; i++) {
		nva[i].name = (const uint8_t *)f[i].name;
		nva[i].namelen = strlen(f[i].name);
		nva[i].value = (const uint8_t *)f[i].value;
		nva[i].valuelen = strlen(f[i].value);
		nva[i].flags = NGHTTP3_NV_FLAG_NONE;
	}
	nghttp3_buf_init(&pb);
	nghttp3_buf_init(&rb);
	nghttp3_buf_init(&eb);
	if (nghttp3_qpack_encoder_new(&enc, 0, mem))
		goto out;
	if (nghttp3_qpack_encoder_encode(enc, &pb, &rb, &eb, 0, nva, n))
		goto out;
	size_t bl = nghttp3_buf_len(&pb) + nghttp3_buf_len(&rb);
	uint8_t *b = malloc(16 + bl);
	if (!b) {
		rc = MOQ_ERR_LIMIT;
		goto out;
	}
	size_t o = (size_t)moq_h3_frame_header(b, 16, MOQ_H3_FRAME_HEADERS, bl);
	memcpy(b + o, pb.pos, nghttp3_buf_len(&pb));
	o += nghttp3_buf_len(&pb);
	memcpy(b + o, rb.pos, nghttp3_buf_len(&rb));
	o += nghttp3_buf_len(&rb);
	*out = b;
	*outlen = o;
	rc = 0;
out:
	nghttp3_buf_free(&pb, mem);
	nghttp3_buf_free(&rb, mem);
	nghttp3_buf_free(&eb, mem);
	if (enc)
		nghttp3_qpack_encoder_del(enc);
	return rc;
}

int moq_h3_sf_list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *s = p, *e;
		if (*p == '"') {
			s = ++p;
			while (*p && *p != '"')
				p++;
			e = p;
			if (*p)
				p++;
		} else {
			while (*p && *p != ',' && *p != ';' && *p != ' ')
				p++;
			e = p;
		}
		if ((size_t)(e - s) == tl && !memcmp(s, token, tl))
			return 1;
		while (*p && *p != ',')
			p++; /* parameters */
	}
	return 0;
}
