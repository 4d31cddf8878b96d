/* Robustness: a raw peer sending random bytes on request streams, data
 * streams, its control stream and in datagrams never crashes the server
 * session (run under SANITIZE=1); each bad session closes only itself. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/raw_peer.h"
#include "lib/session_harness.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return (uint32_t)(g_rng >> 11);
}

static bool srv_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->srv[0].closed;
}

/* Random bytes, often starting like something the session knows. */
static size_t garbage(uint8_t *buf, size_t cap, int kind)
{
	size_t n = 1 + rnd() % (cap - 16);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)rnd();
	switch (rnd() % 4) {
	case 0: /* control message frame header with a plausible length */
		buf[0] = kind == 0 ? (uint8_t)(rnd() % 0x20) : 0x03;
		buf[1] = 0;
		buf[2] = (uint8_t)(n > 3 ? n - 3 : 0);
		break;
	case 1: /* subgroup header type */
		buf[0] = (uint8_t)(0x10 | (rnd() & 0x6f));
		break;
	case 2: /* fetch header / datagram type */
		buf[0] = (uint8_t)(rnd() % 0x30);
		break;
	default:
		break;
	}
	return n;
}

START_TEST(random_bytes_from_a_peer_never_crash_the_server)
{
	struct sh_world w;
	struct moq_quic_config cc;
	char err[256];
	uint8_t buf[512], setup[64];
	sh_world_init(&w, false);
	w.srv_cfg.setup_timeout_ms = 300;
	moq_quic_config_init(&cc);
	cc.plaintext = 1;
	cc.cb = &raw_peer_cb;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(w.loop, &cc, err, sizeof(err));
	ck_assert_msg(ep != NULL, "%s", err);
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	int setup_len = moq_ctrl_encode(setup, sizeof(setup), &m);
	ck_assert_int_gt(setup_len, 0);

	int closed = 0;
	/* conn user pointers stay valid until the endpoint is freed (on_close
	 * can come after the round ended) */
	static struct raw_peer rs[40];
	memset(rs, 0, sizeof(rs));
	for (int round = 0; round < 40; round++) {
		struct raw_peer *r = &rs[round];
		g_rng += (uint64_t)round * 7919;
		struct moq_quic_conn *c = moq_quic_connect(
		    ep, "127.0.0.1", moq_quic_endpoint_port(w.srv_ep), r, err, sizeof(err));
		ck_assert_ptr_nonnull(c);
		ck_assert(sh_run_until(&w, raw_peer_up, r, 3000));
		if (r->closed)
			ck_abort_msg("round %d: connection refused", round);
		int with_setup = rnd() % 2;
		if (with_setup) {
			int64_t ctl = moq_quic_stream_open_uni(r->c);
			moq_quic_stream_write(r->c, ctl, setup, (size_t)setup_len, 0);
		}
		for (int k = 0; k < 3; k++) {
			int where = (int)(rnd() % 4);
			size_t n = garbage(buf, sizeof(buf), where);
			int64_t sid;
			switch (where) {
			case 0: /* request stream */
				sid = moq_quic_stream_open_bidi(r->c);
				if (sid >= 0)
					moq_quic_stream_write(r->c, sid, buf, n, (int)(rnd() % 2));
				break;
			case 1: /* uni stream */
			case 2:
				sid = moq_quic_stream_open_uni(r->c);
				if (sid >= 0)
					moq_quic_stream_write(r->c, sid, buf, n, (int)(rnd() % 2));
				break;
			default:
				if (n > moq_quic_conn_max_datagram(r->c))
					n = moq_quic_conn_max_datagram(r->c);
				moq_quic_datagram_send(r->c, buf, n);
				break;
			}
		}
		/* the server closes it (or the SETUP timeout does) */
		if (sh_run_until(&w, raw_peer_closed, r, 2000))
			closed++;
		else
			moq_quic_conn_close(r->c, 0, "test done");
		ck_assert_int_eq(w.nsrv, 1);
		ck_assert(sh_run_until(&w, srv_closed, &w, 3000));
		/* recycle the server recorder for the next round */
		w.nsrv = 0;
		memset(w.srv, 0, sizeof(w.srv));
	}
	/* most rounds are protocol errors */
	ck_assert_int_gt(closed, 20);

	/* and a well-behaved session still works afterwards */
	w.nsrv = 0;
	memset(w.srv, 0, sizeof(w.srv));
	sh_connect_ready(&w);
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_garbage");
	TCase *tc = tcase_create("garbage");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, random_bytes_from_a_peer_never_crash_the_server);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
