/* libFuzzer target: the WebTransport/HTTP/3 parsers of peer bytes
 * (moq/wt/wt_wire.c, wt_h3.c). The first byte picks one: HTTP/3 frames and
 * the capsules in their DATA frames (whole and byte by byte: the same items
 * must come out), SETTINGS, stream prefixes (a parsed prefix re-encodes to
 * the same bytes when minimal), CLOSE_WEBTRANSPORT_SESSION, QPACK header
 * blocks, structured-field lists. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "varint.h"
#include "wt/wt_h3.h"
#include "wt/wt_wire.h"

struct tally {
	uint64_t sum, types;
	size_t bytes, items;
	struct moq_tlv_reader *caps;
};

static int count(void *arg, uint64_t type, const uint8_t *v, size_t len, int last)
{
	struct tally *t = arg;
	if (last) /* chunking of streamed values differs; items do not */
		t->types = t->types * 31 + type;
	t->bytes += len;
	for (size_t i = 0; i < len; i++)
		t->sum += v[i];
	t->items += last;
	if (t->caps && type == MOQ_H3_FRAME_DATA && len) {
		struct tally c = {0};
		if (moq_tlv_feed(t->caps, v, len, count, &c) < 0)
			return -100;
	}
	return 0;
}

static void frames(const uint8_t *p, size_t n)
{
	struct moq_tlv_reader a, b, ca, cb;
	struct tally ta = {0}, tb = {0};
	moq_tlv_init(&a, 256, MOQ_H3_FRAME_DATA);
	moq_tlv_init(&b, 256, MOQ_H3_FRAME_DATA);
	moq_tlv_init(&ca, 512, UINT64_MAX);
	moq_tlv_init(&cb, 512, UINT64_MAX);
	ta.caps = &ca;
	tb.caps = &cb;
	int ra = moq_tlv_feed(&a, p, n, count, &ta);
	int rb = 0;
	for (size_t i = 0; i < n && rb >= 0; i++)
		rb = moq_tlv_feed(&b, p + i, 1, count, &tb);
	if ((ra < 0) != (rb < 0))
		abort();
	if (ra >= 0 && (ta.sum != tb.sum || ta.types != tb.types || ta.bytes != tb.bytes ||
			ta.items != tb.items || moq_tlv_idle(&a) != moq_tlv_idle(&b)))
		abort();
	moq_tlv_free(&a);
	moq_tlv_free(&b);
	moq_tlv_free(&ca);
	moq_tlv_free(&cb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 6) {
	case 0:
		frames(p, n);
		break;
	case 1: {
		struct moq_h3_settings s;
		moq_h3_settings_parse(&s, p, n);
		break;
	}
	case 2: {
		uint64_t type, sess;
		int k = moq_wt_prefix_parse(p, n, &type, &sess);
		if (k > 0 && sess != UINT64_MAX) {
			uint8_t o[16];
			int w = moq_wt_prefix_write(o, sizeof(o), type == MOQ_WT_BIDI_SIGNAL, sess);
			if (w <= 0 || w > k)
				abort();
			if (quic_varint_len(type) + quic_varint_len(sess) == (size_t)k &&
			    memcmp(o, p, (size_t)k))
				abort();
		}
		uint64_t ds;
		moq_wt_dgram_parse(p, n, &ds);
		break;
	}
	case 3: {
		uint32_t code;
		const uint8_t *r;
		size_t rl;
		if (moq_wt_close_parse(p, n, &code, &r, &rl) == 0 &&
		    (r != p + 4 || rl != n - 4 || rl > MOQ_WT_CLOSE_REASON_MAX))
			abort();
		uint32_t back;
		if (n >= 4 && (moq_wt_code_from_h3(moq_wt_code_to_h3(code), &back) || back != code))
			abort();
		break;
	}
	case 4: {
		struct moq_h3_msg m;
		if (moq_h3_headers_decode(&m, p, n) == 0 &&
		    (strlen(m.path) >= sizeof(m.path) || strlen(m.method) >= sizeof(m.method)))
			abort();
		break;
	}
	default: {
		char list[300];
		size_t k = n < sizeof(list) - 1 ? n : sizeof(list) - 1;
		memcpy(list, p, k);
		list[k] = 0;
		moq_h3_sf_list_has(list, "moqt-18");
		break;
	}
	}
	return 0;
}
