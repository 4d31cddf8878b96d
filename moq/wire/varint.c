#include "varint.h"
#include "moq_err.h"

size_t moq_vi_len(uint64_t v)
{
	/* Width n (1..8) carries 7*n usable bits; width 9 carries 64. */
	for (size_t n = 1; n <= 8; n++)
		if (v < (1ull << (7 * n)))
			return n;
	return 9;
}

int moq_vi_decode(uint64_t *v, const uint8_t *in, size_t inlen)
{
	if (inlen < 1)
		return MOQ_ERR_NEED_MORE;
	size_t n = moq_vi_len_from_first(in[0]);
	if (inlen < n)
		return MOQ_ERR_NEED_MORE;
	uint64_t x;
	if (n == 9)
		x = 0;
	else
		x = in[0] & (0xffu >> n); /* bits after the length prefix */
	for (size_t i = 1; i < n; i++)
		x = (x << 8) | in[i];
	*v = x;
	return (int)n;
}

int moq_vi_encode_width(uint8_t *out, size_t outlen, uint64_t v, size_t width)
{
	if (width < 1 || width > 9)
		return MOQ_ERR_INVALID;
	if (width < 9 && v >= (1ull << (7 * width)))
		return MOQ_ERR_RANGE;
	if (outlen < width)
		return MOQ_ERR_BUFFER;
	uint64_t x = v;
	for (size_t i = width; i-- > 1;) {
		out[i] = (uint8_t)x;
		x >>= 8;
	}
	if (width == 9) {
		out[0] = 0xff;
	} else {
		uint8_t prefix = (uint8_t)(0xff00u >> (width - 1)); /* width-1 ones, then 0 */
		out[0] = prefix | (uint8_t)x;
	}
	return (int)width;
}

int moq_vi_encode(uint8_t *out, size_t outlen, uint64_t v)
{
	return moq_vi_encode_width(out, outlen, v, moq_vi_len(v));
}

size_t quic_varint_len(uint64_t v)
{
	if (v < 64)
		return 1;
	if (v < 16384)
		return 2;
	if (v < 1073741824)
		return 4;
	if (v <= QUIC_VARINT_MAX)
		return 8;
	return 0;
}

int quic_varint_decode(uint64_t *v, const uint8_t *in, size_t inlen)
{
	if (inlen < 1)
		return MOQ_ERR_NEED_MORE;
	size_t n = quic_varint_len_from_first(in[0]);
	if (inlen < n)
		return MOQ_ERR_NEED_MORE;
	uint64_t x = in[0] & 0x3f;
	for (size_t i = 1; i < n; i++)
		x = (x << 8) | in[i];
	*v = x;
	return (int)n;
}

int quic_varint_encode_width(uint8_t *out, size_t outlen, uint64_t v, size_t width)
{
	uint8_t bits;
	switch (width) {
	case 1:
		bits = 0;
		break;
	case 2:
		bits = 1;
		break;
	case 4:
		bits = 2;
		break;
	case 8:
		bits = 3;
		break;
	default:
		return MOQ_ERR_INVALID;
	}
	if (v > QUIC_VARINT_MAX || (width < 8 && v >= (1ull << (8 * width - 2))))
		return MOQ_ERR_RANGE;
	if (outlen < width)
		return MOQ_ERR_BUFFER;
	uint64_t x = v;
	for (size_t i = width; i-- > 0;) {
		out[i] = (uint8_t)x;
		x >>= 8;
	}
	out[0] |= (uint8_t)(bits << 6);
	return (int)width;
}

int quic_varint_encode(uint8_t *out, size_t outlen, uint64_t v)
{
	size_t w = quic_varint_len(v);
	if (!w)
		return MOQ_ERR_RANGE;
	return quic_varint_encode_width(out, outlen, v, w);
}
