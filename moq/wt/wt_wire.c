/* WebTransport over HTTP/3: wire pieces (wt_wire.h). */
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "varint.h"
#include "wt/wt_wire.h"

uint64_t moq_wt_code_to_h3(uint32_t code)
{
	return MOQ_WT_APP_ERROR_FIRST + code + code / 0x1e;
}

int moq_wt_code_from_h3(uint64_t h3, uint32_t *code)
{
	if (h3 < MOQ_WT_APP_ERROR_FIRST || h3 > MOQ_WT_APP_ERROR_LAST)
		return -1;
	uint64_t shifted = h3 - MOQ_WT_APP_ERROR_FIRST;
	if (shifted % 0x1f == 0x1e)
		return -1; /* reserved HTTP/3 GREASE point */
	*code = (uint32_t)(shifted - shifted / 0x1f);
	return 0;
}

void moq_tlv_init(struct moq_tlv_reader *r, size_t max, uint64_t streamed_type)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->stream_type = streamed_type;
}

void moq_tlv_free(struct moq_tlv_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

int moq_tlv_idle(const struct moq_tlv_reader *r)
{
	return r->len == 0 && r->stream_left == 0;
}

static int tlv_append(struct moq_tlv_reader *r, const uint8_t *p, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 64;
		while (cap < r->len + n)
			cap *= 2;
		uint8_t *b = realloc(r->buf, cap);
		if (!b)
			return MOQ_ERR_LIMIT;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

/* Parse one header at b[0..n): returns its length, 0 if incomplete. */
static int tlv_header(const uint8_t *b, size_t n, uint64_t *type, uint64_t *len)
{
	int a = quic_varint_decode(type, b, n);
	if (a < 0)
		return 0;
	int l = quic_varint_decode(len, b + a, n - (size_t)a);
	if (l < 0)
		return 0;
	return a + l;
}

/* A streamed item's header is complete: start handing on its value. */
static int tlv_stream_start(struct moq_tlv_reader *r, uint64_t len, moq_tlv_emit emit, void *arg)
{
	r->stream_left = len;
	return len ? 0 : emit(arg, r->stream_type, (const uint8_t *)"", 0, 1);
}

int moq_tlv_feed(struct moq_tlv_reader *r, const uint8_t *p, size_t n, moq_tlv_emit emit, void *arg)
{
	uint64_t type, len;
	int h, rc;

	while (n) {
		if (r->stream_left) {
			size_t k = n < r->stream_left ? n : (size_t)r->stream_left;
			r->stream_left -= k;
			rc = emit(arg, r->stream_type, p, k, r->stream_left == 0);
			if (rc < 0)
				return rc;
			p += k;
			n -= k;
			continue;
		}
		if (!r->len) {
			h = tlv_header(p, n, &type, &len);
			if (!h)
				return tlv_append(r, p, n); /* < 16 bytes of header */
			if (type == r->stream_type) {
				p += h;
				n -= (size_t)h;
				if ((rc = tlv_stream_start(r, len, emit, arg)) < 0)
					return rc;
				continue;
			}
			if (len > r->max)
				return MOQ_ERR_LIMIT;
			if (n - (size_t)h < len)
				return tlv_append(r, p, n);
			rc = emit(arg, type, p + h, (size_t)len, 1);
			if (rc < 0)
				return rc;
			p += (size_t)h + (size_t)len;
			n -= (size_t)h + (size_t)len;
			continue;
		}
		/* something is buffered: a partial header (grown a byte at a
		 * time, so it never holds value bytes of a streamed item) or
		 * a whole header and part of the value */
		h = tlv_header(r->buf, r->len, &type, &len);
		if (!h) {
			if (tlv_append(r, p, 1) < 0)
				return MOQ_ERR_LIMIT;
			p++;
			n--;
			continue;
		}
		if (type == r->stream_type) {
			r->len = 0;
			if ((rc = tlv_stream_start(r, len, emit, arg)) < 0)
				return rc;
			continue;
		}
		if (len > r->max)
			return MOQ_ERR_LIMIT;
		size_t need = (size_t)h + (size_t)len - r->len;
		size_t take = n < need ? n : need;
		if (tlv_append(r, p, take) < 0)
			return MOQ_ERR_LIMIT;
		p += take;
		n -= take;
		if (take == need) {
			r->len = 0;
			rc = emit(arg, type, r->buf + h, (size_t)len, 1);
			if (rc < 0)
				return rc;
		}
	}
	/* a header completed by the last byte fed */
	if (r->len && !r->stream_left) {
		h = tlv_header(r->buf, r->len, &type, &len);
		if (h && (type == r->stream_type || len == 0)) {
			r->len = 0;
			if (type == r->stream_type)
				return tlv_stream_start(r, len, emit, arg);
			return emit(arg, type, (const uint8_t *)"", 0, 1);
		}
		if (h && type != r->stream_type && len > r->max)
			return MOQ_ERR_LIMIT;
	}
	return 0;
}

int moq_h3_settings_parse(struct moq_h3_settings *s, const uint8_t *p, size_t n)
{
	uint64_t seen[16];
	size_t nseen = 0;

	memset(s, 0, sizeof(*s));
	while (n) {
		uint64_t id, v;
		int a = quic_varint_decode(&id, p, n);
		if (a < 0)
			return MOQ_ERR_MALFORMED;
		int b = quic_varint_decode(&v, p + a, n - (size_t)a);
		if (b < 0)
			return MOQ_ERR_MALFORMED;
		p += a + b;
		n -= (size_t)(a + b);
		if (id >= 0x02 && id <= 0x05)
			return MOQ_ERR_INVALID; /* HTTP/2 settings (RFC 9114 7.2.4.1) */
		for (size_t i = 0; i < nseen; i++)
			if (seen[i] == id)
				return MOQ_ERR_DUPLICATE;
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = id;
		switch (id) {
		case MOQ_H3_SETTING_QPACK_MAX_TABLE_CAPACITY:
			s->qpack_max_table_capacity = v;
			break;
		case MOQ_H3_SETTING_QPACK_BLOCKED_STREAMS:
			s->qpack_blocked_streams = v;
			break;
		case MOQ_H3_SETTING_ENABLE_CONNECT_PROTOCOL:
		case MOQ_H3_SETTING_H3_DATAGRAM:
		case MOQ_H3_SETTING_H3_DATAGRAM_DRAFT04:
		case MOQ_H3_SETTING_ENABLE_WEBTRANSPORT:
			if (v > 1)
				return MOQ_ERR_INVALID;
			if (id == MOQ_H3_SETTING_ENABLE_CONNECT_PROTOCOL)
				s->enable_connect_protocol = (int)v;
			else if (id == MOQ_H3_SETTING_ENABLE_WEBTRANSPORT)
				s->enable_webtransport = (int)v;
			else
				s->h3_datagram |= (int)v;
			break;
		default:
			break; /* unknown settings are ignored (RFC 9114 7.2.4) */
		}
	}
	return 0;
}

int moq_h3_control_preface(uint8_t *out, size_t cap)
{
	static const uint64_t kv[][2] = {
	    {MOQ_H3_SETTING_QPACK_MAX_TABLE_CAPACITY, 0}, {MOQ_H3_SETTING_QPACK_BLOCKED_STREAMS, 0},
	    {MOQ_H3_SETTING_ENABLE_CONNECT_PROTOCOL, 1},  {MOQ_H3_SETTING_H3_DATAGRAM, 1},
	    {MOQ_H3_SETTING_H3_DATAGRAM_DRAFT04, 1},	  {MOQ_H3_SETTING_ENABLE_WEBTRANSPORT, 1},
	};
	uint8_t val[64];
	size_t vl = 0;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		vl += (size_t)quic_varint_encode(val + vl, sizeof(val) - vl, kv[i][0]);
		vl += (size_t)quic_varint_encode(val + vl, sizeof(val) - vl, kv[i][1]);
	}
	if (cap < 1 + 16 + vl)
		return MOQ_ERR_BUFFER;
	size_t o = 0;
	out[o++] = MOQ_H3_STREAM_CONTROL;
	o += (size_t)moq_h3_frame_header(out + o, cap - o, MOQ_H3_FRAME_SETTINGS, vl);
	memcpy(out + o, val, vl);
	return (int)(o + vl);
}

int moq_wt_prefix_parse(const uint8_t *p, size_t n, uint64_t *type, uint64_t *session_id)
{
	int a = quic_varint_decode(type, p, n);
	*session_id = UINT64_MAX;
	if (a < 0)
		return MOQ_ERR_NEED_MORE;
	if (*type != MOQ_WT_UNI_STREAM_TYPE && *type != MOQ_WT_BIDI_SIGNAL)
		return a;
	int b = quic_varint_decode(session_id, p + a, n - (size_t)a);
	if (b < 0) {
		*session_id = UINT64_MAX;
		return MOQ_ERR_NEED_MORE;
	}
	return a + b;
}

int moq_wt_prefix_write(uint8_t *out, size_t cap, int bidi, uint64_t session_id)
{
	int a = quic_varint_encode(out, cap, bidi ? MOQ_WT_BIDI_SIGNAL : MOQ_WT_UNI_STREAM_TYPE);
	if (a < 0)
		return a;
	int b = quic_varint_encode(out + a, cap - (size_t)a, session_id);
	if (b < 0)
		return b;
	return a + b;
}

int moq_h3_frame_header(uint8_t *out, size_t cap, uint64_t type, uint64_t len)
{
	int a = quic_varint_encode(out, cap, type);
	if (a < 0)
		return a;
	int b = quic_varint_encode(out + a, cap - (size_t)a, len);
	if (b < 0)
		return b;
	return a + b;
}

int moq_wt_close_parse(const uint8_t *v, size_t n, uint32_t *code, const uint8_t **reason,
		       size_t *reason_len)
{
	if (n < 4 || n - 4 > MOQ_WT_CLOSE_REASON_MAX)
		return MOQ_ERR_MALFORMED;
	*code = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	*reason = v + 4;
	*reason_len = n - 4;
	return 0;
}

int moq_wt_close_build(uint8_t *out, size_t cap, uint32_t code, const char *reason)
{
	size_t rl = reason ? strlen(reason) : 0;
	if (rl > MOQ_WT_CLOSE_REASON_MAX)
		rl = MOQ_WT_CLOSE_REASON_MAX;
	uint8_t caps[16];
	int ch = moq_h3_frame_header(caps, sizeof(caps), MOQ_WT_CAPSULE_CLOSE_SESSION, 4 + rl);
	size_t clen = (size_t)ch + 4 + rl;
	uint8_t fh[16];
	int fl = moq_h3_frame_header(fh, sizeof(fh), MOQ_H3_FRAME_DATA, clen);
	if (cap < (size_t)fl + clen)
		return MOQ_ERR_BUFFER;
	size_t o = 0;
	memcpy(out, fh, (size_t)fl);
	o += (size_t)fl;
	memcpy(out + o, caps, (size_t)ch);
	o += (size_t)ch;
	out[o++] = (uint8_t)(code >> 24);
	out[o++] = (uint8_t)(code >> 16);
	out[o++] = (uint8_t)(code >> 8);
	out[o++] = (uint8_t)code;
	if (rl)
		memcpy(out + o, reason, rl);
	return (int)(o + rl);
}

int moq_wt_dgram_parse(const uint8_t *p, size_t n, uint64_t *session_id)
{
	uint64_t q;
	int a = quic_varint_decode(&q, p, n);
	if (a < 0)
		return MOQ_ERR_MALFORMED;
	*session_id = q * 4;
	return a;
}
