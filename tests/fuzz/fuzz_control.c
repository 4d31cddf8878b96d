/* libFuzzer target for the control message codec and stream reader.
 *
 * 1. Decode the input as one framed message. On success the message must
 *    re-encode, the re-encoding must decode to exactly its own length, and
 *    encoding that again must give the same bytes (round-trip property).
 *    On failure the error must be one the decoder documents.
 * 2. Decode the input as a stream of messages twice: directly with
 *    moq_ctrl_decode and through moq_ctrl_reader fed in pseudo-random
 *    splits (1 byte and up). Both must yield the same messages and end with
 *    the same result.
 * 3. Parse the input as a text name; if it parses, rendering it again must
 *    give the input back byte for byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_reader.h"
#include "moq_err.h"
#include "names.h"

static struct moq_ctrl_msg m1, m2;
static uint8_t e1[MOQ_CTRL_MAX_FRAME], e2[MOQ_CTRL_MAX_FRAME];

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_control: %s failed at line %d\n", #cond, __LINE__);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_error(int rc)
{
	CHECK(rc == MOQ_ERR_NEED_MORE || rc == MOQ_ERR_MALFORMED || rc == MOQ_ERR_LIMIT ||
	      rc == MOQ_ERR_UNKNOWN_TYPE || rc == MOQ_ERR_KVP_FORMAT || rc == MOQ_ERR_DUPLICATE);
}

/* Encode m into out, which must succeed; returns the length. */
static int reencode(uint8_t *out, const struct moq_ctrl_msg *m)
{
	int n = moq_ctrl_encode(out, MOQ_CTRL_MAX_FRAME, m);
	if (n < 0)
		fprintf(stderr, "re-encode of %s failed: %d\n", moq_ctrl_type_name(m->type), n);
	CHECK(n > 0);
	return n;
}

static void round_trip(const uint8_t *data, size_t size)
{
	int n = moq_ctrl_decode(&m1, data, size);
	int l1, l2;

	if (n < 0) {
		check_error(n);
		return;
	}
	CHECK((size_t)n <= size);
	l1 = reencode(e1, &m1);
	CHECK(moq_ctrl_decode(&m2, e1, (size_t)l1) == l1);
	CHECK(m2.type == m1.type);
	l2 = reencode(e2, &m2);
	CHECK(l1 == l2 && !memcmp(e1, e2, (size_t)l1));
}

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void stream(const uint8_t *data, size_t size)
{
	static uint8_t direct[MOQ_CTRL_MAX_FRAME];
	static struct moq_ctrl_reader r;
	static int ready;
	size_t off = 0, fed = 0;
	int rc_direct, rc_reader = MOQ_ERR_NEED_MORE, nd;
	uint32_t seed = 2166136261u;

	for (size_t i = 0; i < size && i < 16; i++)
		seed = (seed ^ data[i]) * 16777619u;
	if (!seed)
		seed = 1;
	if (!ready) {
		CHECK(moq_ctrl_reader_init(&r, 0) == 0);
		ready = 1;
	}
	moq_ctrl_reader_reset(&r);
	for (;;) {
		/* the next message the direct decoder sees */
		rc_direct = moq_ctrl_decode(&m1, data + off, size - off);
		if (rc_direct < 0)
			break;
		nd = reencode(direct, &m1);
		/* feed the reader until it produces a message or fails */
		while ((rc_reader = moq_ctrl_reader_next(&r, &m2)) == MOQ_ERR_NEED_MORE &&
		       fed < size) {
			size_t chunk = 1 + rng_next(&seed) % 300;
			if (chunk > size - fed)
				chunk = size - fed;
			fed += moq_ctrl_reader_feed(&r, data + fed, chunk);
		}
		CHECK(rc_reader == 1);
		CHECK(reencode(e2, &m2) == nd && !memcmp(direct, e2, (size_t)nd));
		off += (size_t)rc_direct;
	}
	/* both end the same way */
	while ((rc_reader = moq_ctrl_reader_next(&r, &m2)) == MOQ_ERR_NEED_MORE && fed < size) {
		size_t chunk = 1 + rng_next(&seed) % 300;
		if (chunk > size - fed)
			chunk = size - fed;
		fed += moq_ctrl_reader_feed(&r, data + fed, chunk);
	}
	CHECK(rc_reader == rc_direct);
	CHECK(rc_direct != MOQ_ERR_NEED_MORE || moq_ctrl_reader_pending(&r) == size - off);
}

/* Text names: whatever parses must render back to exactly the same text
 * (the draft's canonical form is bijective). */
static void names(const uint8_t *data, size_t size)
{
	static uint8_t buf[8192];
	static char text[3 * 8192 + 64];
	struct moq_namespace ns;
	struct moq_bytes name;
	bool has_name;
	int n;

	if (size > 4096)
		return;
	n = moq_name_parse(&ns, &name, &has_name, buf, sizeof(buf), (const char *)data, size);
	if (n < 0) {
		CHECK(n == MOQ_ERR_MALFORMED || n == MOQ_ERR_LIMIT);
		return;
	}
	n = moq_name_render(text, sizeof(text), &ns, has_name ? &name : NULL);
	CHECK(n >= 0 && (size_t)n == size && !memcmp(text, data, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	round_trip(data, size);
	stream(data, size);
	names(data, size);
	return 0;
}
