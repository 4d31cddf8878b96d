/* Plaintext-profile send shim: re-encode a 1-RTT packet written by ngtcp2
 * with a 4-byte packet number and 4-byte STREAM Stream IDs (see
 * docs/plaintext-profile.md). Also a checker used by tests and the agent. */
#include "quic/quic.h"
#include "quic/quic_int.h"

#include <string.h>

#include "moq_err.h"
#include "varint.h"

static int skip_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x;
	int n = quic_varint_decode(&x, *p, (size_t)(end - *p));
	if (n < 0)
		return MOQ_ERR_MALFORMED;
	*p += n;
	if (v)
		*v = x;
	return 0;
}

static int skip_bytes(const uint8_t **p, const uint8_t *end, uint64_t n)
{
	if (n > (uint64_t)(end - *p))
		return MOQ_ERR_MALFORMED;
	*p += n;
	return 0;
}

int moq_quic_frame_parse(struct moq_quic_frame *f, const uint8_t *in, const uint8_t *end)
{
	const uint8_t *p = in;
	uint64_t type, n, v;
	int rv;

	memset(f, 0, sizeof(*f));
	if ((rv = skip_varint(&p, end, &type)))
		return rv;
	f->type = type;
	switch (type) {
	case 0x00: /* PADDING */
	case 0x01: /* PING */
	case 0x1e: /* HANDSHAKE_DONE */
		break;
	case 0x02:
	case 0x03: { /* ACK */
		uint64_t cnt;
		if ((rv = skip_varint(&p, end, NULL)) || (rv = skip_varint(&p, end, NULL)) ||
		    (rv = skip_varint(&p, end, &cnt)) || (rv = skip_varint(&p, end, NULL)))
			return rv;
		if (cnt > 4096)
			return MOQ_ERR_MALFORMED;
		for (uint64_t i = 0; i < 2 * cnt; i++)
			if ((rv = skip_varint(&p, end, NULL)))
				return rv;
		if (type == 0x03)
			for (int i = 0; i < 3; i++)
				if ((rv = skip_varint(&p, end, NULL)))
					return rv;
		break;
	}
	case 0x04: /* RESET_STREAM */
		for (int i = 0; i < 3; i++)
			if ((rv = skip_varint(&p, end, NULL)))
				return rv;
		break;
	case 0x05: /* STOP_SENDING */
	case 0x11: /* MAX_STREAM_DATA */
	case 0x15: /* STREAM_DATA_BLOCKED */
		for (int i = 0; i < 2; i++)
			if ((rv = skip_varint(&p, end, NULL)))
				return rv;
		break;
	case 0x06: /* CRYPTO */
		if ((rv = skip_varint(&p, end, NULL)) || (rv = skip_varint(&p, end, &n)) ||
		    (rv = skip_bytes(&p, end, n)))
			return rv;
		break;
	case 0x07: /* NEW_TOKEN */
		if ((rv = skip_varint(&p, end, &n)) || (rv = skip_bytes(&p, end, n)))
			return rv;
		break;
	case 0x10: /* MAX_DATA */
	case 0x12:
	case 0x13: /* MAX_STREAMS */
	case 0x14: /* DATA_BLOCKED */
	case 0x16:
	case 0x17: /* STREAMS_BLOCKED */
	case 0x19: /* RETIRE_CONNECTION_ID */
		if ((rv = skip_varint(&p, end, NULL)))
			return rv;
		break;
	case 0x18: /* NEW_CONNECTION_ID */
		if ((rv = skip_varint(&p, end, NULL)) || (rv = skip_varint(&p, end, NULL)))
			return rv;
		if (p >= end)
			return MOQ_ERR_MALFORMED;
		n = *p++;
		if ((rv = skip_bytes(&p, end, n + 16)))
			return rv;
		break;
	case 0x1a:
	case 0x1b: /* PATH_CHALLENGE/RESPONSE */
		if ((rv = skip_bytes(&p, end, 8)))
			return rv;
		break;
	case 0x1c:
	case 0x1d: /* CONNECTION_CLOSE */
		if ((rv = skip_varint(&p, end, NULL)))
			return rv;
		if (type == 0x1c && (rv = skip_varint(&p, end, NULL)))
			return rv;
		if ((rv = skip_varint(&p, end, &n)) || (rv = skip_bytes(&p, end, n)))
			return rv;
		break;
	case 0x30: /* DATAGRAM without length: to the end */
		p = end;
		break;
	case 0x31:
		if ((rv = skip_varint(&p, end, &n)) || (rv = skip_bytes(&p, end, n)))
			return rv;
		break;
	default:
		if (type >= 0x08 && type <= 0x0f) { /* STREAM */
			f->is_stream = 1;
			f->sid_off = (size_t)(p - in);
			if ((rv = skip_varint(&p, end, &v)))
				return rv;
			f->sid = v;
			f->sid_len = (size_t)(p - in) - f->sid_off;
			if (type & 0x04)
				if ((rv = skip_varint(&p, end, NULL)))
					return rv;
			if (type & 0x02) {
				if ((rv = skip_varint(&p, end, &n)) ||
				    (rv = skip_bytes(&p, end, n)))
					return rv;
			} else {
				p = end;
			}
			break;
		}
		return MOQ_ERR_UNKNOWN_TYPE;
	}
	f->len = (size_t)(p - in);
	return (int)f->len;
}

int moq_quic_shim_1rtt(uint8_t *out, size_t outcap, const uint8_t *in, size_t inlen, size_t dcidlen,
		       uint64_t pn)
{
	size_t pnlen, hdr, growth = 0, drop, o;
	const uint8_t *p, *end;
	struct moq_quic_frame f;
	int rv;

	if (inlen < 1 + dcidlen + 1 + MOQ_QUIC_PLAINTEXT_TAG_LEN || (in[0] & 0x80))
		return MOQ_ERR_MALFORMED;
	pnlen = (size_t)(in[0] & 0x03) + 1;
	hdr = 1 + dcidlen + pnlen;
	if (inlen < hdr + MOQ_QUIC_PLAINTEXT_TAG_LEN)
		return MOQ_ERR_MALFORMED;
	end = in + inlen - MOQ_QUIC_PLAINTEXT_TAG_LEN;

	/* Pass 1: how much wider will it get? */
	growth = 4 - pnlen;
	for (p = in + hdr; p < end; p += rv) {
		rv = moq_quic_frame_parse(&f, p, end);
		if (rv < 0)
			return rv;
		if (f.is_stream) {
			if (f.sid > 0x3fffffff)
				return MOQ_ERR_RANGE;
			growth += 4 - f.sid_len;
		}
	}

	/* Pass 2: write, dropping up to `growth` PADDING bytes. */
	drop = growth;
	if (outcap < 1 + dcidlen + 4)
		return MOQ_ERR_BUFFER;
	out[0] = 0x43;
	memcpy(out + 1, in + 1, dcidlen);
	o = 1 + dcidlen;
	out[o++] = (uint8_t)(pn >> 24);
	out[o++] = (uint8_t)(pn >> 16);
	out[o++] = (uint8_t)(pn >> 8);
	out[o++] = (uint8_t)pn;
	for (p = in + hdr; p < end; p += rv) {
		rv = moq_quic_frame_parse(&f, p, end);
		if (rv < 0)
			return rv;
		if (f.type == 0x00 && drop) {
			drop--;
			continue;
		}
		if (!f.is_stream) {
			if (o + f.len > outcap)
				return MOQ_ERR_BUFFER;
			memcpy(out + o, p, f.len);
			o += f.len;
			continue;
		}
		if (o + f.len + 4 - f.sid_len > outcap)
			return MOQ_ERR_BUFFER;
		memcpy(out + o, p, f.sid_off);
		o += f.sid_off;
		quic_varint_encode_width(out + o, 4, f.sid, 4);
		o += 4;
		memcpy(out + o, p + f.sid_off + f.sid_len, f.len - f.sid_off - f.sid_len);
		o += f.len - f.sid_off - f.sid_len;
	}
	if (o + MOQ_QUIC_PLAINTEXT_TAG_LEN > outcap)
		return MOQ_ERR_BUFFER;
	memcpy(out + o, end, MOQ_QUIC_PLAINTEXT_TAG_LEN);
	o += MOQ_QUIC_PLAINTEXT_TAG_LEN;
	return (int)o;
}

int moq_quic_plaintext_check_1rtt(const uint8_t *pkt, size_t len, size_t dcidlen, uint32_t *pn_out)
{
	size_t hdr = 1 + dcidlen + 4;
	const uint8_t *p, *end;
	struct moq_quic_frame f;
	int rv, nstream = 0;

	if (len < hdr + MOQ_QUIC_PLAINTEXT_TAG_LEN)
		return MOQ_ERR_MALFORMED;
	if (pkt[0] != 0x43)
		return MOQ_ERR_MALFORMED;
	if (memcmp(pkt + len - MOQ_QUIC_PLAINTEXT_TAG_LEN, MOQ_QUIC_PLAINTEXT_TAG,
		   MOQ_QUIC_PLAINTEXT_TAG_LEN))
		return MOQ_ERR_MALFORMED;
	if (pn_out)
		*pn_out = (uint32_t)pkt[1 + dcidlen] << 24 | (uint32_t)pkt[2 + dcidlen] << 16 |
			  (uint32_t)pkt[3 + dcidlen] << 8 | pkt[4 + dcidlen];
	end = pkt + len - MOQ_QUIC_PLAINTEXT_TAG_LEN;
	for (p = pkt + hdr; p < end; p += rv) {
		rv = moq_quic_frame_parse(&f, p, end);
		if (rv < 0)
			return rv;
		if (f.is_stream) {
			if (f.sid_len != 4)
				return MOQ_ERR_MALFORMED;
			nstream++;
		}
	}
	return nstream;
}
