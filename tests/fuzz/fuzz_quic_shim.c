/* libFuzzer target: the plaintext-profile send shim and 1-RTT checker
 * (moq/quic/shim.c), which the relay agent also runs on packets from the
 * network.
 *
 * Input: 8 bytes of packet number, then a 1-RTT packet without its tag (the
 * tag is appended so most inputs reach the frame walker).
 * Properties: nothing reads outside the packet; when the shim succeeds its
 * output passes the profile checker with the same packet number and the
 * same number of STREAM frames as the input, is never more than the growth
 * bound longer, and re-shimming it is the identity. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "quic/quic.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_quic_shim: %s failed at line %d\n", #cond,           \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static uint8_t in[4096], out[8192], out2[8192];

static int count_stream_frames(const uint8_t *p, const uint8_t *end)
{
	struct moq_quic_frame f;
	int n = 0, r;

	for (; p < end; p += r) {
		r = moq_quic_frame_parse(&f, p, end);
		if (r <= 0)
			return -1;
		CHECK((size_t)r <= (size_t)(end - p));
		n += f.is_stream;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t pn = 0;
	size_t len;
	int r, r2, nin, nout;
	uint32_t pn32 = 0;

	if (size < 8 || size - 8 + 16 > sizeof(in))
		return 0;
	for (int i = 0; i < 8; i++)
		pn = pn << 8 | data[i];
	len = size - 8;
	memcpy(in, data + 8, len);
	memcpy(in + len, MOQ_QUIC_PLAINTEXT_TAG, 16);
	len += 16;

	/* the checker alone must be safe on anything */
	(void)moq_quic_plaintext_check_1rtt(in, len, 8, &pn32);

	r = moq_quic_shim_1rtt(out, sizeof(out), in, len, 8, pn);
	if (r < 0) {
		CHECK(r == MOQ_ERR_MALFORMED || r == MOQ_ERR_UNKNOWN_TYPE || r == MOQ_ERR_RANGE ||
		      r == MOQ_ERR_BUFFER);
		return 0;
	}
	nin = count_stream_frames(in + 1 + 8 + (in[0] & 3) + 1, in + len - 16);
	CHECK(nin >= 0);
	/* growth: PN to 4 bytes, each Stream ID to 4 bytes */
	CHECK((size_t)r <= len + 3 + 3 * (size_t)nin);
	nout = moq_quic_plaintext_check_1rtt(out, (size_t)r, 8, &pn32);
	CHECK(nout == nin);
	CHECK(pn32 == (uint32_t)pn);
	CHECK(!memcmp(out + 1, in + 1, 8));
	/* already in profile form: shimming again changes nothing */
	r2 = moq_quic_shim_1rtt(out2, sizeof(out2), out, (size_t)r, 8, pn);
	CHECK(r2 == r);
	CHECK(!memcmp(out2, out, (size_t)r));
	return 0;
}
