/* libFuzzer target: agent/lib/fp_pingack.c's fp_pkt_take_ping on random
 * received 1-RTT packets (untrusted bytes from a subscriber).
 *
 * Input: 1 byte flags (bit 0: the input is the whole packet, else a
 * plaintext-profile header and tag are added around it), then the bytes.
 * Properties: no out-of-bounds access (ASan); a refused packet is left
 * unchanged; a taken one keeps its length, only 0x01 bytes became 0x00,
 * the number field is the header's, and taking again is refused (no PING
 * is left). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/lib/fp_pingack.c"
#include "../../agent/lib/fp_pnspace.c"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_pingack: %s failed at line %d\n", #cond, __LINE__);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static uint8_t pkt[2048], orig[2048];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	uint32_t pn = 0xdeadbeef, pn2;
	int r;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (size - 1 > sizeof(pkt))
			return 0;
		memcpy(pkt, data + 1, size - 1);
		n = size - 1;
	} else {
		if (size - 1 + 13 + 16 > sizeof(pkt))
			return 0;
		pkt[n++] = 0x43;
		memset(pkt + n, 0xaa, 8);
		n += 8;
		memcpy(pkt + n, "\x00\x00\x10\x01", 4);
		n += 4;
		memcpy(pkt + n, data + 1, size - 1);
		n += size - 1;
		memcpy(pkt + n, "moq-plaintext-v1", 16);
		n += 16;
	}
	memcpy(orig, pkt, n);
	r = fp_pkt_take_ping(pkt, n, 8, &pn);
	if (!r) {
		CHECK(!memcmp(pkt, orig, n));
		CHECK(pn == 0xdeadbeef);
		return 0;
	}
	CHECK(r == 1);
	CHECK(n >= 13 + 16);
	CHECK(pn == ((uint32_t)orig[9] << 24 | (uint32_t)orig[10] << 16 | (uint32_t)orig[11] << 8 |
		     orig[12]));
	for (size_t i = 0; i < n; i++)
		CHECK(pkt[i] == orig[i] || (orig[i] == 0x01 && pkt[i] == 0x00 && i >= 13));
	CHECK(!memcmp(pkt, orig, 13));
	CHECK(!fp_pkt_take_ping(pkt, n, 8, &pn2));
	return 0;
}
