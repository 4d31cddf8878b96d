/* libFuzzer target: the QUIC layer's 1-RTT open path for shim-protected
 * connections (moq/quic/protect.c), which reads packets from the network:
 * header protection removal, packet number expansion, key phase choice,
 * AES-128-GCM open, rewrite into the plaintext-profile form.
 *
 * Input: byte 0 picks the mode.
 *  even: the rest is a received 1-RTT packet; it is opened with fixed
 *        keys. Property: nothing reads or writes outside the buffers; a
 *        packet that opens comes out in the profile's form.
 *  odd:  byte 1 = flags (bit 0: the sender updates its keys first), then
 *        4 bytes of packet number and a payload: the packet is built in the
 *        profile's form, sealed by the peer's keys and opened. Properties:
 *        it opens (after a key update: rx rotates) back to exactly the
 *        packet that was sealed; with any one byte flipped it does not
 *        open. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quic/protect.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_quic_open: %s failed at line %d\n", #cond,           \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define HDR4 (1 + MOQ_QUIC_CID_LEN + 4)
#define PTO 1000000ull

static const uint8_t s_cli[32] = "client 1-RTT secret for fuzzing";
static const uint8_t s_srv[32] = "server 1-RTT secret for fuzzing";
static uint8_t pkt[4096 + 64], orig[4096 + 64], sealed[4096 + 64], pt[4096 + 64];

static void open_raw(const uint8_t *d, size_t n)
{
	struct moq_quic__keys *srv = moq_quic__keys_new(s_cli, s_srv);
	size_t len = n;
	int rv;

	CHECK(srv);
	memcpy(pkt, d, n);
	rv = moq_quic__keys_open(srv, pkt, &len, sizeof(pkt), pt, sizeof(pt), 1, PTO);
	if (rv >= 0) {
		CHECK(len >= HDR4 + 16 && len <= sizeof(pkt));
		CHECK(pkt[0] == 0x43);
		CHECK(!memcmp(pkt + len - 16, MOQ_QUIC_PLAINTEXT_TAG, 16));
	}
	moq_quic__keys_destroy(srv);
}

static void round_trip(const uint8_t *d, size_t n)
{
	struct moq_quic__keys *cli, *srv;
	size_t len, plen;
	uint8_t flags;
	int rv;

	if (n < 5 || HDR4 + (n - 5) + 16 > sizeof(pkt))
		return;
	flags = d[0];
	cli = moq_quic__keys_new(s_srv, s_cli);
	srv = moq_quic__keys_new(s_cli, s_srv);
	CHECK(cli && srv);
	orig[0] = 0x43;
	memset(orig + 1, 0xc1, MOQ_QUIC_CID_LEN);
	memcpy(orig + 1 + MOQ_QUIC_CID_LEN, d + 1, 4);
	memcpy(orig + HDR4, d + 5, n - 5);
	memcpy(orig + HDR4 + (n - 5), MOQ_QUIC_PLAINTEXT_TAG, 16);
	plen = HDR4 + (n - 5) + 16;
	if (flags & 1)
		CHECK(moq_quic__keys_tx_update(cli) == 0);
	memcpy(pkt, orig, plen);
	CHECK(moq_quic__keys_seal(cli, pkt, plen) == 0);
	memcpy(sealed, pkt, plen);
	len = plen;
	rv = moq_quic__keys_open(srv, pkt, &len, sizeof(pkt), pt, sizeof(pt), 1, PTO);
	CHECK(rv == (flags & 1));
	CHECK(len == plen);
	CHECK(!memcmp(pkt, orig, plen));
	/* one flipped byte: never opens (fresh keys: same state as before) */
	moq_quic__keys_destroy(srv);
	srv = moq_quic__keys_new(s_cli, s_srv);
	CHECK(srv);
	memcpy(pkt, sealed, plen);
	pkt[(d[1] | (size_t)d[2] << 8) % plen] ^= (uint8_t)(d[3] | 1);
	len = plen;
	CHECK(moq_quic__keys_open(srv, pkt, &len, sizeof(pkt), pt, sizeof(pt), 1, PTO) < 0);
	moq_quic__keys_destroy(cli);
	moq_quic__keys_destroy(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	if (data[0] & 1)
		round_trip(data + 1, size - 1);
	else
		open_raw(data + 1, size - 1);
	return 0;
}
