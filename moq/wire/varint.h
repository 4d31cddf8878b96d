/* Variable-length integers.
 *
 * Two encodings live here and are kept apart on purpose:
 *  - MoQT vi64 (draft-ietf-moq-transport-18 section "Variable-Length
 *    Integers"): 1..9 bytes, the count of leading 1 bits of the first byte
 *    gives the extra length; non-minimal encodings are valid.
 *  - QUIC varint (RFC 9000 section 16): 2-bit length prefix, 1/2/4/8 bytes,
 *    62-bit values. Used for QUIC frames (stream IDs, offsets, ACKs).
 */
#ifndef MOQ_VARINT_H
#define MOQ_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes a vi64 occupies, read from its first byte (1..9). */
static inline size_t moq_vi_len_from_first(uint8_t first)
{
	size_t n = 1;
	while (n < 9 && (first & (0x80u >> (n - 1))))
		n++;
	return n;
}

/* Smallest vi64 width (1..9) that can hold v. */
size_t moq_vi_len(uint64_t v);

/* Decode a vi64. Returns bytes consumed, MOQ_ERR_NEED_MORE if inlen is short. */
int moq_vi_decode(uint64_t *v, const uint8_t *in, size_t inlen);

/* Encode v minimally. Returns bytes written or MOQ_ERR_BUFFER. */
int moq_vi_encode(uint8_t *out, size_t outlen, uint64_t v);

/* Encode v in exactly width bytes (1..9). MOQ_ERR_RANGE if it does not fit,
 * MOQ_ERR_INVALID for a bad width, MOQ_ERR_BUFFER if outlen < width. */
int moq_vi_encode_width(uint8_t *out, size_t outlen, uint64_t v, size_t width);

#define QUIC_VARINT_MAX ((1ull << 62) - 1)

/* Bytes a QUIC varint occupies, from its first byte (1, 2, 4 or 8). */
static inline size_t quic_varint_len_from_first(uint8_t first)
{
	return (size_t)1 << (first >> 6);
}

/* Smallest QUIC varint width for v (1, 2, 4, 8), 0 if v > QUIC_VARINT_MAX. */
size_t quic_varint_len(uint64_t v);

/* Decode a QUIC varint. Bytes consumed or MOQ_ERR_NEED_MORE. */
int quic_varint_decode(uint64_t *v, const uint8_t *in, size_t inlen);

/* Encode minimally. Bytes written, MOQ_ERR_BUFFER or MOQ_ERR_RANGE. */
int quic_varint_encode(uint8_t *out, size_t outlen, uint64_t v);

/* Encode in exactly width bytes (1, 2, 4 or 8). */
int quic_varint_encode_width(uint8_t *out, size_t outlen, uint64_t v, size_t width);

#endif
