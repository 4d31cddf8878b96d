/* fp_pnspace + fp_ackxlate + fp_tracker against a live ngtcp2 connection on
 * loopback (plaintext profile): the server plays the relay. Its send_hook
 * renumbers ngtcp2's packets from a shared sequence, while "media" packets
 * (PING + PADDING, as the fast path would write them) are sent with
 * numbers taken from the same sequence through moq_quic_conn_send_raw;
 * its recv_hook translates the client's ACKs and MAX_DATA (ngtcp2 gets at
 * most its use + 128 KiB; the media plane reserves 64 KiB). ngtcp2 must
 * deliver a 2 MiB stream without closing the connection, and the media
 * tracker must see its packets acknowledged. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ngtcp2/ngtcp2.h>

#include "lib/fp_ackxlate.h"
#include "lib/fp_pnspace.h"
#include "lib/fp_tracker.h"
#include "quic/loop.h"
#include "quic/quic.h"

#define SIZE (2u << 20)
#define CLI_MAX_DATA (256u << 10)
#define MEDIA_RESERVE (64u << 10)
#define NG_WINDOW (128u << 10) /* ngtcp2's credit above its use */

static struct moq_conn_seq g_seq;
static struct fp_pnspace g_ps;
static struct fp_ackx *g_x;
static struct fp_tracker g_trk;
static struct moq_quic_conn *g_srv;
static uint8_t g_buf[SIZE];
static size_t g_got;
static int g_fin, g_closed, g_hook_err;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void media_ack(void *u, const struct fp_wire_ack *a)
{
	struct fp_trk_summary s;
	fp_tracker_on_ack(&g_trk, a, now_ns(), &s);
}

static const struct fp_ackx_ops ops = {.on_media_ack = media_ack};

static int srv_send_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
			 uint64_t ngtcp2_pn, void *user)
{
	if (fp_pnspace_on_send(&g_ps, pkt, *len, MOQ_QUIC_CID_LEN, ngtcp2_pn, NULL)) {
		g_hook_err++;
		return -1;
	}
	return 0;
}

static int srv_recv_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap, void *user)
{
	ngtcp2_conn *nc = moq_quic_conn_ngtcp2(c);
	int rv;

	/* ngtcp2's connection-level use = its limit - what it has left */
	fp_ackx_set_ng_used(g_x, g_x->ng_max_data - ngtcp2_conn_get_max_data_left(nc));
	rv = fp_ackx_packet(g_x, pkt, len, cap);
	if (rv < 0)
		g_hook_err++;
	return rv;
}

static void srv_established(struct moq_quic_conn *c, void *user)
{
	int64_t sid = moq_quic_stream_open_uni(c);

	g_srv = c;
	ck_assert_int_ge(sid, 0);
	ck_assert_int_eq(moq_quic_stream_write_ref(c, sid, g_buf, SIZE, 1, NULL, NULL), 0);
}

static void on_close(struct moq_quic_conn *c, const struct moq_quic_close_info *ci, void *user)
{
	g_closed++;
	fprintf(stderr, "test_fp_loopback: %s closed: code %llu %s\n",
		moq_quic_conn_is_server(c) ? "server" : "client", (unsigned long long)ci->code,
		ci->reason);
}

static void cli_data(struct moq_quic_conn *c, int64_t sid, const uint8_t *d, size_t n, int fin,
		     void *user)
{
	for (size_t k = 0; k < n; k++)
		if (d[k] != g_buf[g_got + k])
			ck_abort_msg("byte %zu differs", g_got + k);
	g_got += n;
	g_fin |= fin;
}

/* One fast-path-style media packet: 0x43 DCID PN32 PING PADDING... TAG. */
static void send_media(void)
{
	uint8_t pkt[120] = {0x43};
	uint8_t dcid[20];
	struct fp_media_pkt m = {0};

	if (moq_quic_conn_dcid(g_srv, dcid) != MOQ_QUIC_CID_LEN)
		return;
	memcpy(pkt + 1, dcid, MOQ_QUIC_CID_LEN);
	m.pn = fp_pnspace_take_media(&g_ps);
	pkt[9] = (uint8_t)(m.pn >> 24);
	pkt[10] = (uint8_t)(m.pn >> 16);
	pkt[11] = (uint8_t)(m.pn >> 8);
	pkt[12] = (uint8_t)m.pn;
	pkt[13] = 0x01; /* PING, then PADDING */
	memcpy(pkt + sizeof(pkt) - 16, MOQ_QUIC_PLAINTEXT_TAG, 16);
	m.sent_ns = now_ns();
	m.bytes = sizeof(pkt);
	m.kind = FP_TRK_KIND_DATAGRAM;
	ck_assert_int_eq(fp_tracker_on_sent(&g_trk, &m), 0);
	ck_assert_int_eq(moq_quic_conn_send_raw(g_srv, pkt, sizeof(pkt)), 0);
}

START_TEST(ngtcp2_delivers_stream_with_interleaved_media_numbers_and_translated_acks)
{
	struct moq_quic_callbacks scb = {.on_established = srv_established,
					 .on_close = on_close,
					 .send_hook = srv_send_hook,
					 .recv_hook = srv_recv_hook};
	struct moq_quic_callbacks ccb = {.on_close = on_close, .on_stream_data = cli_data};
	struct moq_quic_config sc, cc;
	struct moq_quic_endpoint *srv, *cli;
	struct moq_loop *l = moq_loop_new();
	char err[256];
	uint64_t deadline, reserved = 0;

	for (size_t k = 0; k < SIZE; k++)
		g_buf[k] = (uint8_t)(k * 7 + (k >> 9));
	ck_assert_int_eq(fp_pnspace_init(&g_ps, &g_seq, 4096), 0);
	ck_assert_int_eq(fp_tracker_init(&g_trk, NULL, NULL, NULL), 0);
	g_x = malloc(sizeof(*g_x));
	fp_ackx_init(g_x, &g_ps, MOQ_QUIC_CID_LEN, &ops, NULL);
	fp_ackx_set_flow(g_x, CLI_MAX_DATA, NG_WINDOW);

	moq_quic_config_init(&sc);
	sc.listen = 1;
	sc.local_addr = "127.0.0.1";
	sc.plaintext = 1;
	sc.cb = &scb;
	srv = moq_quic_endpoint_new(l, &sc, err, sizeof(err));
	ck_assert_msg(srv != NULL, "%s", err);
	moq_quic_config_init(&cc);
	cc.plaintext = 1;
	cc.max_data = CLI_MAX_DATA;
	cc.max_stream_data = CLI_MAX_DATA;
	cc.cb = &ccb;
	cli = moq_quic_endpoint_new(l, &cc, err, sizeof(err));
	ck_assert_msg(cli != NULL, "%s", err);
	ck_assert_ptr_nonnull(moq_quic_connect(cli, "127.0.0.1", moq_quic_endpoint_port(srv), NULL,
					       err, sizeof(err)));
	deadline = now_ns() + 20000000000ull;
	while (!g_fin && !g_closed && now_ns() < deadline) {
		moq_loop_run_once(l, 5);
		if (g_srv && moq_quic_conn_is_established(g_srv)) {
			for (int k = 0; k < 3; k++) /* a small burst, as fan-out would */
				send_media();
			if (reserved < MEDIA_RESERVE)
				reserved += fp_ackx_media_reserve(g_x, MEDIA_RESERVE - reserved);
		}
	}
	/* let the last ACKs arrive */
	for (int i = 0; i < 20 && !g_closed; i++)
		moq_loop_run_once(l, 5);
	fprintf(
	    stderr,
	    "test_fp_loopback: got %zu fin %d, ngtcp2 pkts %llu, media pkts %llu, acks %llu "
	    "(translated %llu, padded %llu), max_data rewritten %llu injected %llu, peer %llu ng "
	    "%llu media %llu used %llu, media acked %llu lost %llu, srtt %llu us\n",
	    g_got, g_fin, (unsigned long long)g_ps.ng_packets,
	    (unsigned long long)g_ps.media_packets, (unsigned long long)g_x->st.acks,
	    (unsigned long long)g_x->st.acks_translated, (unsigned long long)g_x->st.acks_padded,
	    (unsigned long long)g_x->st.max_data_rewritten,
	    (unsigned long long)g_x->st.max_data_injected, (unsigned long long)g_x->peer_max_data,
	    (unsigned long long)g_x->ng_max_data, (unsigned long long)g_x->media_reserved,
	    (unsigned long long)g_x->ng_used, (unsigned long long)g_trk.acked,
	    (unsigned long long)g_trk.lost, (unsigned long long)(g_trk.smoothed_rtt / 1000));
	ck_assert_int_eq(g_closed, 0);
	ck_assert_int_eq(g_fin, 1);
	ck_assert_uint_eq(g_got, SIZE);
	ck_assert_int_eq(g_hook_err, 0);
	ck_assert_uint_gt(g_ps.media_packets, 10);
	ck_assert_uint_gt(g_x->st.acks_translated, 10);
	ck_assert_uint_gt(g_x->st.max_data_rewritten, 0);
	ck_assert_uint_eq(reserved, MEDIA_RESERVE);
	ck_assert_uint_le(g_x->ng_max_data + g_x->media_reserved, g_x->peer_max_data);
	ck_assert_uint_gt(g_trk.acked, 10);
	ck_assert_int_eq(g_trk.has_rtt, 1);
	moq_quic_endpoint_free(cli);
	moq_quic_endpoint_free(srv);
	moq_loop_free(l);
	free(g_x);
	fp_tracker_free(&g_trk);
	fp_pnspace_free(&g_ps);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_loopback");
	TCase *tc = tcase_create("live");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc,
		       ngtcp2_delivers_stream_with_interleaved_media_numbers_and_translated_acks);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
