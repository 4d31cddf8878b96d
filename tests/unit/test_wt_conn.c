/* The WebTransport connection layer (moq/wt/wt.c) without a network: its
 * QUIC calls go to stubs that record what it writes. A Chromium-like
 * client at our server (SETTINGS, Extended CONNECT, WT streams in pieces,
 * streams that come before the CONNECT, the close capsule), refusals, and
 * our client's side of the exchange. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "varint.h"
#include "wt/wt.h"
#include "wt/wt_h3.h"
#include "wt/wt_wire.h"

#define NS 64
static struct {
	uint8_t out[NS][4096];
	size_t outlen[NS];
	int fin[NS];
	uint64_t stopped[NS];
	int64_t next_uni, next_bidi;
	int closed;
	uint64_t close_code;
	uint8_t dgram[2048];
	size_t dgram_len;
} q;

static struct {
	int ready, closed, errors, streams;
	int64_t stream_sid, first_sid;
	char first_data[16];
	int first_fin;
	uint8_t data[4096];
	size_t dlen;
	int fin;
	uint32_t close_code;
	char reason[256];
	uint64_t h3_error;
	int status; /* on_request answer */
} ev;

static int slot(int64_t sid)
{
	return (int)(sid % NS);
}
static int64_t s_open_uni(struct moq_quic_conn *c)
{
	int64_t sid = q.next_uni;
	q.next_uni += 4;
	return sid;
}
static int64_t s_open_bidi(struct moq_quic_conn *c)
{
	int64_t sid = q.next_bidi;
	q.next_bidi += 4;
	return sid;
}
static int s_write(struct moq_quic_conn *c, int64_t sid, const void *p, size_t n, int fin)
{
	int k = slot(sid);
	ck_assert_uint_le(q.outlen[k] + n, sizeof(q.out[k]));
	memcpy(q.out[k] + q.outlen[k], p, n);
	q.outlen[k] += n;
	q.fin[k] |= fin;
	return 0;
}
static int s_stop(struct moq_quic_conn *c, int64_t sid, uint64_t code)
{
	q.stopped[slot(sid)] = code;
	return 0;
}
static int s_prio(struct moq_quic_conn *c, int64_t sid, uint32_t p)
{
	return 0;
}
static int s_dgram(struct moq_quic_conn *c, const void *p, size_t n)
{
	memcpy(q.dgram, p, n);
	q.dgram_len = n;
	return 0;
}
static size_t s_maxd(const struct moq_quic_conn *c)
{
	return 1200;
}
static int s_close(struct moq_quic_conn *c, uint64_t code, const char *reason)
{
	q.closed++;
	q.close_code = code;
	return 0;
}
static const struct moq_wt_quic_ops stub = {s_open_uni, s_open_bidi, s_write, s_stop,
					    s_prio,	s_dgram,     s_maxd,  s_close};

static int on_request(void *arg, const struct moq_h3_msg *req)
{
	return ev.status;
}
static void on_ready(void *arg)
{
	ev.ready++;
}
static void on_stream(void *arg, int64_t sid, const uint8_t *p, size_t n, int fin)
{
	if (!ev.streams++) {
		ev.first_sid = sid;
		snprintf(ev.first_data, sizeof(ev.first_data), "%.*s", (int)n, (const char *)p);
		ev.first_fin = fin;
	}
	ev.stream_sid = sid;
	memcpy(ev.data, p, n);
	ev.dlen = n;
	ev.fin = fin;
}
static void on_closed(void *arg, uint32_t code, const char *reason)
{
	ev.closed++;
	ev.close_code = code;
	snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
}
static void on_error(void *arg, uint64_t h3, const char *reason)
{
	ev.errors++;
	ev.h3_error = h3;
}
static const struct moq_wt_callbacks cbs = {on_request, on_ready, on_stream, on_closed, on_error};

static struct moq_wt *mk(int server)
{
	memset(&q, 0, sizeof(q));
	memset(&ev, 0, sizeof(ev));
	ev.status = 200;
	q.next_uni = server ? 3 : 2;
	q.next_bidi = server ? 1 : 0;
	struct moq_wt_config cfg = {
	    .server = server, .authority = "127.0.0.1:4443", .path = "/live"};
	struct moq_wt *w = moq_wt_new((struct moq_quic_conn *)0x1, NULL, &cfg, &cbs, NULL);
	ck_assert_ptr_nonnull(w);
	moq_wt_set_quic_ops(w, &stub);
	ck_assert_int_eq(moq_wt_start(w), 0);
	return w;
}

/* what Chromium sends on its control stream */
static const uint8_t chrome_ctrl[] = {0x00, 0x04, 0x12, 0x01, 0x50, 0x00, 0x07,
				      0x40, 0x64, 0xab, 0x60, 0x37, 0x42, 0x01,
				      0x33, 0x01, 0x80, 0xff, 0xd2, 0x77, 0x01};

static size_t connect_frame(uint8_t **f, const char *method, const char *protocols)
{
	struct moq_h3_field h[] = {
	    {":method", method},
	    {":protocol", "webtransport"},
	    {":scheme", "https"},
	    {":authority", "127.0.0.1:4443"},
	    {":path", "/live"},
	    {"sec-webtransport-http3-draft02", "1"},
	    {"wt-available-protocols", protocols},
	};
	size_t n;
	ck_assert_int_eq(moq_h3_headers_encode(f, &n, h, protocols ? 7 : 6), 0);
	return n;
}

static void decode_response(int64_t sid, struct moq_h3_msg *m)
{
	const uint8_t *b = q.out[slot(sid)];
	uint64_t type, len;
	int a = quic_varint_decode(&type, b, q.outlen[slot(sid)]);
	int c = quic_varint_decode(&len, b + a, q.outlen[slot(sid)] - (size_t)a);
	ck_assert_uint_eq(type, MOQ_H3_FRAME_HEADERS);
	ck_assert_int_eq(moq_h3_headers_decode(m, b + a + c, (size_t)len), 0);
}

static void chrome_connect(struct moq_wt *w)
{
	uint8_t *f;
	size_t n = connect_frame(&f, "CONNECT", "\"moqt-18\"");
	moq_wt_stream_data(w, 2, chrome_ctrl, sizeof(chrome_ctrl), 0);
	/* the request in two pieces */
	moq_wt_stream_data(w, 0, f, 3, 0);
	moq_wt_stream_data(w, 0, f + 3, n - 3, 0);
	free(f);
}

START_TEST(server_accepts_chromium_connect_and_streams)
{
	struct moq_wt *w = mk(1);
	/* our control stream: type 0 + SETTINGS with WebTransport enabled */
	ck_assert_uint_eq(q.out[slot(3)][0], 0x00);
	ck_assert_uint_eq(q.out[slot(3)][1], MOQ_H3_FRAME_SETTINGS);
	chrome_connect(w);
	ck_assert_int_eq(ev.ready, 1);
	ck_assert(moq_wt_is_ready(w));
	ck_assert_int_eq(moq_wt_session_id(w), 0);
	ck_assert_str_eq(moq_wt_request(w)->path, "/live");
	struct moq_h3_msg m;
	decode_response(0, &m);
	ck_assert_int_eq(m.status, 200);
	ck_assert_int_eq(m.draft02, 1);
	ck_assert_str_eq(m.wt_protocol, "\"moqt-18\"");
	ck_assert_int_eq(q.fin[0], 0);
	/* a WT uni stream, prefix split over three pieces */
	const uint8_t s6[] = {0x40, 0x54, 0x00, 'h', 'i'};
	moq_wt_stream_data(w, 6, s6, 1, 0);
	moq_wt_stream_data(w, 6, s6 + 1, 1, 0);
	ck_assert_int_eq(ev.streams, 0);
	moq_wt_stream_data(w, 6, s6 + 2, 3, 1);
	ck_assert_int_eq(ev.streams, 1);
	ck_assert_int_eq(ev.stream_sid, 6);
	ck_assert_uint_eq(ev.dlen, 2);
	ck_assert(!memcmp(ev.data, "hi", 2));
	ck_assert_int_eq(ev.fin, 1);
	/* a WT bidi stream */
	const uint8_t s4[] = {0x40, 0x41, 0x00, 'x'}; /* 0x41 takes two bytes */
	moq_wt_stream_data(w, 4, s4, sizeof(s4), 0);
	ck_assert_int_eq(ev.streams, 2);
	ck_assert_int_eq(ev.stream_sid, 4);
	/* a WT stream of another (unknown) session is refused */
	const uint8_t s10[] = {0x40, 0x54, 0x08, 'x'};
	moq_wt_stream_data(w, 10, s10, sizeof(s10), 0);
	ck_assert_int_eq(ev.streams, 2);
	ck_assert_uint_eq(q.stopped[slot(10)], MOQ_WT_BUFFERED_STREAM_REJECTED);
	/* QPACK streams are read and dropped; unknown types stopped */
	const uint8_t qenc[] = {0x02, 0x3f, 0xe1, 0x1f};
	moq_wt_stream_data(w, 14, qenc, sizeof(qenc), 0);
	const uint8_t odd[] = {0x21, 1, 2};
	moq_wt_stream_data(w, 18, odd, sizeof(odd), 0);
	ck_assert_uint_eq(q.stopped[slot(18)], MOQ_H3_STREAM_CREATION_ERROR);
	ck_assert_int_eq(ev.errors, 0);
	/* outgoing: prefixed streams, datagrams with the quarter stream ID */
	int64_t u = moq_wt_open_uni(w);
	ck_assert_int_ge(u, 0);
	ck_assert_uint_eq(q.outlen[slot(u)], 3);
	ck_assert(!memcmp(q.out[slot(u)], "\x40\x54\x00", 3));
	ck_assert_int_eq(moq_wt_dgram_send(w, "abc", 3), 0);
	ck_assert_uint_eq(q.dgram_len, 4);
	ck_assert_uint_eq(q.dgram[0], 0);
	ck_assert_int_eq(moq_wt_dgram_strip(w, q.dgram, 4), 1);
	const uint8_t other[] = {0x01, 'x'};
	ck_assert_int_lt(moq_wt_dgram_strip(w, other, 2), 0);
	/* the peer closes the session with a capsule */
	uint8_t cap[64];
	int k = moq_wt_close_build(cap, sizeof(cap), 0x3, "violation");
	moq_wt_stream_data(w, 0, cap, (size_t)k, 1);
	ck_assert_int_eq(ev.closed, 1);
	ck_assert_uint_eq(ev.close_code, 3);
	ck_assert_str_eq(ev.reason, "violation");
	moq_wt_free(w);
}
END_TEST

START_TEST(server_holds_streams_that_come_before_the_connect)
{
	struct moq_wt *w = mk(1);
	const uint8_t s2x[] = {0x40, 0x54, 0x00, 'e', 'a'};
	moq_wt_stream_data(w, 6, s2x, sizeof(s2x), 0);
	moq_wt_stream_data(w, 6, (const uint8_t *)"rly", 3, 1);
	/* a later stream, and one for another session */
	const uint8_t s10[] = {0x40, 0x54, 0x00, 'l'};
	moq_wt_stream_data(w, 10, s10, sizeof(s10), 0);
	const uint8_t s14[] = {0x40, 0x54, 0x04, 'x'};
	moq_wt_stream_data(w, 14, s14, sizeof(s14), 0);
	ck_assert_int_eq(ev.streams, 0);
	/* the CONNECT before the SETTINGS: answered once they arrive */
	uint8_t *f;
	size_t n = connect_frame(&f, "CONNECT", NULL);
	moq_wt_stream_data(w, 0, f, n, 0);
	free(f);
	ck_assert_int_eq(ev.ready, 0);
	ck_assert_uint_eq(q.outlen[slot(0)], 0);
	moq_wt_stream_data(w, 2, chrome_ctrl, sizeof(chrome_ctrl), 0);
	ck_assert_int_eq(ev.ready, 1);
	/* in stream order; session 4's stream is refused */
	ck_assert_int_eq(ev.streams, 2);
	ck_assert_int_eq(ev.first_sid, 6);
	ck_assert_str_eq(ev.first_data, "early");
	ck_assert_int_eq(ev.first_fin, 1);
	ck_assert_int_eq(ev.stream_sid, 10);
	ck_assert_uint_eq(ev.dlen, 1);
	ck_assert_int_eq(ev.fin, 0);
	ck_assert_uint_eq(q.stopped[slot(14)], MOQ_WT_BUFFERED_STREAM_REJECTED);
	/* no WT-Available-Protocols: no WT-Protocol in the answer */
	struct moq_h3_msg m;
	decode_response(0, &m);
	ck_assert_int_eq(m.status, 200);
	ck_assert_str_eq(m.wt_protocol, "");
	moq_wt_free(w);
}
END_TEST

START_TEST(server_refuses_what_it_cannot_serve)
{
	struct moq_h3_msg m;
	uint8_t *f;
	size_t n;
	/* a GET */
	struct moq_wt *w = mk(1);
	moq_wt_stream_data(w, 2, chrome_ctrl, sizeof(chrome_ctrl), 0);
	n = connect_frame(&f, "GET", NULL);
	moq_wt_stream_data(w, 0, f, n, 0);
	free(f);
	decode_response(0, &m);
	ck_assert_int_eq(m.status, 405);
	ck_assert_int_eq(q.fin[0], 1);
	ck_assert_int_eq(ev.ready, 0);
	/* another MoQT version only */
	n = connect_frame(&f, "CONNECT", "\"moqt-17\"");
	moq_wt_stream_data(w, 4, f, n, 0);
	free(f);
	decode_response(4, &m);
	ck_assert_int_eq(m.status, 400);
	/* the application says no */
	ev.status = 404;
	n = connect_frame(&f, "CONNECT", "\"moqt-18\"");
	moq_wt_stream_data(w, 8, f, n, 0);
	decode_response(8, &m);
	ck_assert_int_eq(m.status, 404);
	/* accepted, then a second session on the connection */
	ev.status = 200;
	moq_wt_stream_data(w, 12, f, n, 0);
	ck_assert_int_eq(ev.ready, 1);
	moq_wt_stream_data(w, 16, f, n, 0);
	decode_response(16, &m);
	ck_assert_int_eq(m.status, 429);
	free(f);
	struct moq_wt_stats st;
	moq_wt_stats(w, &st);
	ck_assert_uint_eq(st.requests_refused, 4);
	ck_assert_int_eq(ev.errors, 0);
	moq_wt_free(w);
}
END_TEST

START_TEST(server_http3_errors)
{
	/* control stream without SETTINGS first */
	struct moq_wt *w = mk(1);
	const uint8_t bad[] = {0x00, 0x07, 0x01, 0x00};
	moq_wt_stream_data(w, 2, bad, sizeof(bad), 0);
	ck_assert_int_eq(ev.errors, 1);
	ck_assert_uint_eq(ev.h3_error, MOQ_H3_MISSING_SETTINGS);
	moq_wt_free(w);
	/* a second control stream; the control stream ending */
	w = mk(1);
	moq_wt_stream_data(w, 2, chrome_ctrl, sizeof(chrome_ctrl), 0);
	moq_wt_stream_data(w, 6, chrome_ctrl, 1, 0);
	ck_assert_uint_eq(ev.h3_error, MOQ_H3_STREAM_CREATION_ERROR);
	moq_wt_free(w);
	w = mk(1);
	moq_wt_stream_data(w, 2, chrome_ctrl, sizeof(chrome_ctrl), 1);
	ck_assert_uint_eq(ev.h3_error, MOQ_H3_CLOSED_CRITICAL_STREAM);
	moq_wt_free(w);
	/* DATA before HEADERS on a request stream */
	w = mk(1);
	moq_wt_stream_data(w, 2, chrome_ctrl, sizeof(chrome_ctrl), 0);
	const uint8_t data[] = {0x00, 0x01, 0x00};
	moq_wt_stream_data(w, 0, data, sizeof(data), 0);
	ck_assert_uint_eq(ev.h3_error, MOQ_H3_FRAME_UNEXPECTED);
	moq_wt_free(w);
	/* an undecodable header block */
	w = mk(1);
	moq_wt_stream_data(w, 2, chrome_ctrl, sizeof(chrome_ctrl), 0);
	const uint8_t hb[] = {0x01, 0x03, 0x02, 0x00, 0x80};
	moq_wt_stream_data(w, 0, hb, sizeof(hb), 0);
	ck_assert_uint_eq(ev.h3_error, MOQ_H3_MESSAGE_ERROR);
	moq_wt_free(w);
}
END_TEST

START_TEST(close_sends_capsule_then_closes)
{
	struct moq_wt *w = mk(1);
	chrome_connect(w);
	moq_wt_close(w, 0x10, "going away");
	ck_assert_int_eq(q.fin[0], 1);
	ck_assert_int_eq(q.closed, 1); /* no loop in this test: at once */
	ck_assert_uint_eq(q.close_code, 0x10);
	/* the bytes after the 200 response are a DATA frame with the capsule */
	struct moq_h3_msg m;
	decode_response(0, &m);
	const uint8_t *b = q.out[0];
	uint64_t t, l;
	int a = quic_varint_decode(&t, b, q.outlen[0]);
	int c = quic_varint_decode(&l, b + a, q.outlen[0]);
	size_t off = (size_t)a + (size_t)c + l;
	uint8_t want[64];
	int k = moq_wt_close_build(want, sizeof(want), 0x10, "going away");
	ck_assert_uint_eq(q.outlen[0] - off, (size_t)k);
	ck_assert(!memcmp(b + off, want, (size_t)k));
	moq_wt_free(w);
}
END_TEST

START_TEST(client_sends_connect_after_server_settings)
{
	struct moq_wt *w = mk(0);
	ck_assert_uint_eq(q.outlen[slot(0)], 0); /* waits for SETTINGS */
	uint8_t pre[64];
	int n = moq_h3_control_preface(pre, sizeof(pre));
	moq_wt_stream_data(w, 3, pre, (size_t)n, 0);
	struct moq_h3_msg m;
	decode_response(0, &m);
	ck_assert_str_eq(m.method, "CONNECT");
	ck_assert_str_eq(m.protocol, "webtransport");
	ck_assert_str_eq(m.path, "/live");
	ck_assert_str_eq(m.authority, "127.0.0.1:4443");
	ck_assert(moq_h3_sf_list_has(m.wt_protocols, "moqt-18"));
	/* a server WT stream before the answer is held */
	const uint8_t s3[] = {0x40, 0x54, 0x00, 's'};
	moq_wt_stream_data(w, 7, s3, sizeof(s3), 0);
	ck_assert_int_eq(ev.streams, 0);
	struct moq_h3_field ok[] = {{":status", "200"}, {"wt-protocol", "\"moqt-18\""}};
	uint8_t *f;
	size_t fl;
	ck_assert_int_eq(moq_h3_headers_encode(&f, &fl, ok, 2), 0);
	moq_wt_stream_data(w, 0, f, fl, 0);
	free(f);
	ck_assert_int_eq(ev.ready, 1);
	ck_assert_int_eq(ev.streams, 1);
	ck_assert_int_eq(ev.stream_sid, 7);
	moq_wt_free(w);
	/* refused */
	w = mk(0);
	moq_wt_stream_data(w, 3, pre, (size_t)n, 0);
	struct moq_h3_field no[] = {{":status", "404"}};
	ck_assert_int_eq(moq_h3_headers_encode(&f, &fl, no, 1), 0);
	moq_wt_stream_data(w, 0, f, fl, 1);
	free(f);
	ck_assert_int_eq(ev.ready, 0);
	ck_assert_int_eq(ev.closed, 1);
	ck_assert(strstr(ev.reason, "404"));
	moq_wt_free(w);
	/* a server without WebTransport in its SETTINGS */
	w = mk(0);
	const uint8_t plain[] = {0x00, 0x04, 0x02, 0x01, 0x00};
	moq_wt_stream_data(w, 3, plain, sizeof(plain), 0);
	ck_assert_uint_eq(ev.h3_error, MOQ_H3_SETTINGS_ERROR);
	moq_wt_free(w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wt_conn");
	TCase *tc = tcase_create("conn");
	tcase_add_test(tc, server_accepts_chromium_connect_and_streams);
	tcase_add_test(tc, server_holds_streams_that_come_before_the_connect);
	tcase_add_test(tc, server_refuses_what_it_cannot_serve);
	tcase_add_test(tc, server_http3_errors);
	tcase_add_test(tc, close_sends_capsule_then_closes);
	tcase_add_test(tc, client_sends_connect_after_server_settings);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
