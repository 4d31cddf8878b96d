/* WebTransport over HTTP/3 wire pieces (moq/wt/wt_wire.c, wt_h3.c): error
 * code mapping, the TLV reader fed byte by byte, SETTINGS, stream
 * prefixes, the close capsule, QPACK round trips through nghttp3, and the
 * structured-field list check. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "varint.h"
#include "wt/wt_h3.h"
#include "wt/wt_wire.h"

START_TEST(code_mapping_round_trips_and_skips_grease)
{
	uint32_t c;
	/* WT draft: first + N + floor(N / 0x1e) */
	ck_assert_uint_eq(moq_wt_code_to_h3(0), MOQ_WT_APP_ERROR_FIRST);
	ck_assert_uint_eq(moq_wt_code_to_h3(0x1d), MOQ_WT_APP_ERROR_FIRST + 0x1d);
	ck_assert_uint_eq(moq_wt_code_to_h3(0x1e), MOQ_WT_APP_ERROR_FIRST + 0x1f);
	ck_assert_uint_eq(moq_wt_code_to_h3(UINT32_MAX), MOQ_WT_APP_ERROR_LAST);
	const uint32_t v[] = {0, 1, 0x1d, 0x1e, 0x1f, 0x3c, 0x10, 12345, UINT32_MAX};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_int_eq(moq_wt_code_from_h3(moq_wt_code_to_h3(v[i]), &c), 0);
		ck_assert_uint_eq(c, v[i]);
	}
	/* the skipped point is an HTTP/3 GREASE value, not an app code */
	ck_assert_int_eq(moq_wt_code_from_h3(MOQ_WT_APP_ERROR_FIRST + 0x1e, &c), -1);
	ck_assert_int_eq(moq_wt_code_from_h3(0x10c, &c), -1);
	ck_assert_int_eq(moq_wt_code_from_h3(MOQ_WT_APP_ERROR_LAST + 1, &c), -1);
}
END_TEST

struct rec {
	uint64_t type[16];
	size_t len[16];
	uint8_t data[4096];
	size_t dlen;
	int n, lasts;
};

static int rec_emit(void *arg, uint64_t type, const uint8_t *v, size_t len, int last)
{
	struct rec *r = arg;
	if (r->n && r->type[r->n - 1] == type && !(r->lasts & (1 << (r->n - 1)))) {
		r->len[r->n - 1] += len; /* next chunk of a streamed item */
	} else {
		r->type[r->n] = type;
		r->len[r->n++] = len;
	}
	if (last)
		r->lasts |= 1 << (r->n - 1);
	if (len)
		memcpy(r->data + r->dlen, v, len);
	r->dlen += len;
	return 0;
}

static size_t item(uint8_t *o, uint64_t type, const char *v)
{
	size_t k = (size_t)moq_h3_frame_header(o, 32, type, strlen(v));
	memcpy(o + k, v, strlen(v));
	return k + strlen(v);
}

START_TEST(tlv_reader_same_items_whole_or_byte_by_byte)
{
	uint8_t in[512];
	size_t n = 0;
	n += item(in + n, MOQ_H3_FRAME_HEADERS, "hdrs");
	n += item(in + n, MOQ_H3_FRAME_DATA, "streamed data value");
	n += item(in + n, 0x21, ""); /* reserved type, empty */
	n += item(in + n, 0x2843, "capsule-like");
	n += item(in + n, MOQ_H3_FRAME_DATA, "");
	for (int mode = 0; mode < 2; mode++) {
		struct moq_tlv_reader r;
		struct rec got = {0};
		moq_tlv_init(&r, 64, MOQ_H3_FRAME_DATA);
		if (mode == 0) {
			ck_assert_int_eq(moq_tlv_feed(&r, in, n, rec_emit, &got), 0);
		} else {
			for (size_t i = 0; i < n; i++)
				ck_assert_int_eq(moq_tlv_feed(&r, in + i, 1, rec_emit, &got), 0);
		}
		ck_assert(moq_tlv_idle(&r));
		ck_assert_int_eq(got.n, 5);
		ck_assert_uint_eq(got.type[1], MOQ_H3_FRAME_DATA);
		ck_assert_uint_eq(got.len[1], strlen("streamed data value"));
		ck_assert_uint_eq(got.len[2], 0);
		ck_assert_uint_eq(got.type[3], 0x2843);
		ck_assert_uint_eq(got.len[4], 0);
		ck_assert_int_eq(got.lasts, 0x1f);
		ck_assert(!memcmp(got.data, "hdrsstreamed data valuecapsule-like", got.dlen));
		moq_tlv_free(&r);
	}
}
END_TEST

START_TEST(tlv_reader_limits_collected_items_not_streamed_ones)
{
	struct moq_tlv_reader r;
	struct rec got = {0};
	uint8_t in[300];
	memset(in, 'x', sizeof(in));
	size_t k = (size_t)moq_h3_frame_header(in, 16, MOQ_H3_FRAME_HEADERS, 200);
	moq_tlv_init(&r, 100, MOQ_H3_FRAME_DATA);
	ck_assert_int_eq(moq_tlv_feed(&r, in, k, rec_emit, &got), MOQ_ERR_LIMIT);
	moq_tlv_free(&r);
	moq_tlv_init(&r, 100, MOQ_H3_FRAME_DATA);
	k = (size_t)moq_h3_frame_header(in, 16, MOQ_H3_FRAME_DATA, 200);
	ck_assert_int_eq(moq_tlv_feed(&r, in, k + 200, rec_emit, &got), 0);
	ck_assert_uint_eq(got.len[0], 200);
	/* a half-read item is not idle */
	ck_assert_int_eq(moq_tlv_feed(&r, in, 3, rec_emit, &got), 0);
	ck_assert(!moq_tlv_idle(&r));
	moq_tlv_free(&r);
}
END_TEST

START_TEST(settings_preface_parses_back_and_bad_ones_fail)
{
	uint8_t pre[64];
	int n = moq_h3_control_preface(pre, sizeof(pre));
	ck_assert_int_gt(n, 4);
	ck_assert_uint_eq(pre[0], MOQ_H3_STREAM_CONTROL);
	uint64_t type, len;
	int a = quic_varint_decode(&type, pre + 1, (size_t)n - 1);
	int b = quic_varint_decode(&len, pre + 1 + a, (size_t)n - 1 - (size_t)a);
	ck_assert_uint_eq(type, MOQ_H3_FRAME_SETTINGS);
	ck_assert_uint_eq(1 + (size_t)a + (size_t)b + len, (size_t)n);
	struct moq_h3_settings s;
	ck_assert_int_eq(moq_h3_settings_parse(&s, pre + 1 + a + b, len), 0);
	ck_assert_int_eq(s.enable_webtransport, 1);
	ck_assert_int_eq(s.enable_connect_protocol, 1);
	ck_assert_int_eq(s.h3_datagram, 1);
	ck_assert_uint_eq(s.qpack_max_table_capacity, 0);
	/* what Chromium sends: 0x2b603742=1, 0x33=1, 0xffd277=1, with a
	 * dynamic table */
	uint8_t chrome[] = {0x01, 0x50, 0x00, 0x07, 0x40, 0x64, 0xab, 0x60, 0x37,
			    0x42, 0x01, 0x33, 0x01, 0x80, 0xff, 0xd2, 0x77, 0x01};
	ck_assert_int_eq(moq_h3_settings_parse(&s, chrome, sizeof(chrome)), 0);
	ck_assert_int_eq(s.enable_webtransport, 1);
	ck_assert_int_eq(s.h3_datagram, 1);
	ck_assert_uint_eq(s.qpack_max_table_capacity, 0x1000);
	uint8_t dup[] = {0x33, 0x01, 0x33, 0x01};
	ck_assert_int_eq(moq_h3_settings_parse(&s, dup, sizeof(dup)), MOQ_ERR_DUPLICATE);
	uint8_t h2[] = {0x02, 0x00};
	ck_assert_int_eq(moq_h3_settings_parse(&s, h2, sizeof(h2)), MOQ_ERR_INVALID);
	uint8_t trunc[] = {0x33};
	ck_assert_int_eq(moq_h3_settings_parse(&s, trunc, sizeof(trunc)), MOQ_ERR_MALFORMED);
	uint8_t big[] = {0x08, 0x02};
	ck_assert_int_eq(moq_h3_settings_parse(&s, big, sizeof(big)), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(stream_prefixes)
{
	uint8_t b[16];
	uint64_t type, sess;
	int n = moq_wt_prefix_write(b, sizeof(b), 0, 0);
	ck_assert_int_eq(n, 3); /* 0x54 needs two bytes, session 0 one */
	ck_assert_uint_eq(b[0], 0x40);
	ck_assert_uint_eq(b[1], 0x54);
	ck_assert_uint_eq(b[2], 0x00);
	n = moq_wt_prefix_write(b, sizeof(b), 0, 4);
	ck_assert_int_eq(moq_wt_prefix_parse(b, (size_t)n, &type, &sess), n);
	ck_assert_uint_eq(type, MOQ_WT_UNI_STREAM_TYPE);
	ck_assert_uint_eq(sess, 4);
	for (int k = 0; k < n; k++)
		ck_assert_int_eq(moq_wt_prefix_parse(b, (size_t)k, &type, &sess),
				 MOQ_ERR_NEED_MORE);
	n = moq_wt_prefix_write(b, sizeof(b), 1, 1000);
	ck_assert_int_eq(moq_wt_prefix_parse(b, (size_t)n, &type, &sess), n);
	ck_assert_uint_eq(type, MOQ_WT_BIDI_SIGNAL);
	ck_assert_uint_eq(sess, 1000);
	/* an HTTP/3 control stream: the type only */
	uint8_t ctrl[] = {0x00, 0x04, 0x00};
	ck_assert_int_eq(moq_wt_prefix_parse(ctrl, sizeof(ctrl), &type, &sess), 1);
	ck_assert_uint_eq(type, 0);
	ck_assert_uint_eq(sess, UINT64_MAX);
	/* datagram: quarter stream ID */
	uint8_t d[] = {0x01, 0xaa};
	ck_assert_int_eq(moq_wt_dgram_parse(d, sizeof(d), &sess), 1);
	ck_assert_uint_eq(sess, 4);
	ck_assert_int_eq(moq_wt_dgram_parse(d, 0, &sess), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(close_capsule_round_trip)
{
	uint8_t b[2048];
	int n = moq_wt_close_build(b, sizeof(b), 0x10, "bye");
	ck_assert_int_gt(n, 0);
	struct moq_tlv_reader fr, cr;
	struct rec frames = {0}, caps = {0};
	moq_tlv_init(&fr, 64, MOQ_H3_FRAME_DATA);
	ck_assert_int_eq(moq_tlv_feed(&fr, b, (size_t)n, rec_emit, &frames), 0);
	ck_assert_int_eq(frames.n, 1);
	ck_assert_uint_eq(frames.type[0], MOQ_H3_FRAME_DATA);
	moq_tlv_init(&cr, 2048, UINT64_MAX);
	ck_assert_int_eq(moq_tlv_feed(&cr, frames.data, frames.dlen, rec_emit, &caps), 0);
	ck_assert_int_eq(caps.n, 1);
	ck_assert_uint_eq(caps.type[0], MOQ_WT_CAPSULE_CLOSE_SESSION);
	uint32_t code;
	const uint8_t *r;
	size_t rl;
	ck_assert_int_eq(moq_wt_close_parse(caps.data, caps.dlen, &code, &r, &rl), 0);
	ck_assert_uint_eq(code, 0x10);
	ck_assert_uint_eq(rl, 3);
	ck_assert(!memcmp(r, "bye", 3));
	ck_assert_int_eq(moq_wt_close_parse(caps.data, 3, &code, &r, &rl), MOQ_ERR_MALFORMED);
	/* reasons are cut at 1024 bytes */
	char longr[1500];
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = 0;
	n = moq_wt_close_build(b, sizeof(b), 1, longr);
	ck_assert_int_lt(n, 1024 + 16);
	moq_tlv_free(&fr);
	moq_tlv_free(&cr);
}
END_TEST

static int decode_frame(struct moq_h3_msg *m, const uint8_t *f, size_t n)
{
	uint64_t type, len;
	int a = quic_varint_decode(&type, f, n);
	int b = quic_varint_decode(&len, f + a, n - (size_t)a);
	ck_assert_uint_eq(type, MOQ_H3_FRAME_HEADERS);
	ck_assert_uint_eq((size_t)a + (size_t)b + len, n);
	return moq_h3_headers_decode(m, f + a + b, (size_t)len);
}

START_TEST(qpack_request_and_response_round_trip)
{
	struct moq_h3_field req[] = {
	    {":method", "CONNECT"},
	    {":protocol", "webtransport"},
	    {":scheme", "https"},
	    {":authority", "127.0.0.1:4443"},
	    {":path", "/live?x=1"},
	    {"sec-webtransport-http3-draft02", "1"},
	    {"wt-available-protocols", "\"moqt-18\", \"moqt-17\""},
	    {"origin", "https://example.org"},
	};
	uint8_t *f;
	size_t n;
	struct moq_h3_msg m;
	ck_assert_int_eq(moq_h3_headers_encode(&f, &n, req, 8), 0);
	ck_assert_int_eq(decode_frame(&m, f, n), 0);
	free(f);
	ck_assert_str_eq(m.method, "CONNECT");
	ck_assert_str_eq(m.protocol, "webtransport");
	ck_assert_str_eq(m.scheme, "https");
	ck_assert_str_eq(m.authority, "127.0.0.1:4443");
	ck_assert_str_eq(m.path, "/live?x=1");
	ck_assert_str_eq(m.origin, "https://example.org");
	ck_assert_int_eq(m.draft02, 1);
	ck_assert(moq_h3_sf_list_has(m.wt_protocols, "moqt-18"));
	ck_assert(moq_h3_sf_list_has(m.wt_protocols, "moqt-17"));
	ck_assert(!moq_h3_sf_list_has(m.wt_protocols, "moqt-1"));
	struct moq_h3_field resp[] = {{":status", "200"},
				      {"sec-webtransport-http3-draft", "draft02"},
				      {"wt-protocol", "\"moqt-18\""}};
	ck_assert_int_eq(moq_h3_headers_encode(&f, &n, resp, 3), 0);
	ck_assert_int_eq(decode_frame(&m, f, n), 0);
	free(f);
	ck_assert_int_eq(m.status, 200);
	ck_assert_int_eq(m.draft02, 1);
	ck_assert(moq_h3_sf_list_has(m.wt_protocol, "moqt-18"));
	/* a pseudo-header after a regular field, a repeated one, an
	 * uppercase name, a field longer than its buffer */
	struct moq_h3_field bad1[] = {{"origin", "x"}, {":path", "/"}};
	struct moq_h3_field bad2[] = {{":path", "/"}, {":path", "/"}};
	struct moq_h3_field bad3[] = {{"Origin", "x"}};
	static char longpath[2000];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	struct moq_h3_field bad4[] = {{":path", longpath}};
	ck_assert_int_eq(moq_h3_headers_encode(&f, &n, bad1, 2), 0);
	ck_assert_int_eq(decode_frame(&m, f, n), MOQ_ERR_MALFORMED);
	free(f);
	ck_assert_int_eq(moq_h3_headers_encode(&f, &n, bad2, 2), 0);
	ck_assert_int_eq(decode_frame(&m, f, n), MOQ_ERR_MALFORMED);
	free(f);
	ck_assert_int_eq(moq_h3_headers_encode(&f, &n, bad3, 1), 0);
	ck_assert_int_eq(decode_frame(&m, f, n), MOQ_ERR_MALFORMED);
	free(f);
	ck_assert_int_eq(moq_h3_headers_encode(&f, &n, bad4, 1), 0);
	ck_assert_int_eq(decode_frame(&m, f, n), MOQ_ERR_LIMIT);
	free(f);
	/* a block that references the dynamic table (capacity 0): Required
	 * Insert Count 1 */
	uint8_t dyn[] = {0x02, 0x00, 0x80};
	ck_assert_int_lt(moq_h3_headers_decode(&m, dyn, sizeof(dyn)), 0);
	/* truncated block */
	uint8_t trunc[] = {0x00, 0x00, 0x51};
	ck_assert_int_lt(moq_h3_headers_decode(&m, trunc, sizeof(trunc)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wt_wire");
	TCase *tc = tcase_create("wire");
	tcase_add_test(tc, code_mapping_round_trips_and_skips_grease);
	tcase_add_test(tc, tlv_reader_same_items_whole_or_byte_by_byte);
	tcase_add_test(tc, tlv_reader_limits_collected_items_not_streamed_ones);
	tcase_add_test(tc, settings_preface_parses_back_and_bad_ones_fail);
	tcase_add_test(tc, stream_prefixes);
	tcase_add_test(tc, close_capsule_round_trip);
	tcase_add_test(tc, qpack_request_and_response_round_trip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
