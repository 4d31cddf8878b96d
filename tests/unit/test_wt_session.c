/* MoQT sessions over WebTransport on a real QUIC loopback (TLS, the
 * server speaking "moqt-18,h3" like moq-relayd): both sides know they run
 * over WebTransport, the CONNECT's path plays PATH, a datagram crosses, and
 * a malformed WebTransport stream closes only the session it came on. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/session_harness.h"
#include "moq_codes.h"
#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"
#include "wt/wt_wire.h"

static bool two_ready(void *arg)
{
	struct sh_world *w = arg;
	return w->ncli == 2 && w->cli[0].ready && w->cli[1].ready && w->nsrv == 2 &&
	       w->srv[0].ready && w->srv[1].ready;
}

static void connect_two(struct sh_world *w)
{
	sh_world_init_wt(w);
	sh_connect(w);
	sh_connect(w);
	ck_assert_msg(sh_run_until(w, two_ready, w, 5000), "not ready: cli %d/%d srv %d",
		      w->cli[0].ready, w->cli[1].ready, w->nsrv);
}

START_TEST(sessions_run_over_webtransport_with_connect_path)
{
	struct sh_world w;
	connect_two(&w);
	for (int i = 0; i < 2; i++) {
		ck_assert(moq_session_is_webtransport(w.cli[i].s));
		ck_assert(moq_session_is_webtransport(w.srv[i].s));
		ck_assert_str_eq(moq_quic_conn_alpn(moq_session_conn(w.srv[i].s)), "h3");
		/* PATH is not in SETUP on WebTransport: the server's peer path
		 * is the CONNECT's :path */
		ck_assert_str_eq(w.srv[i].peer_path, "");
		ck_assert_str_eq(moq_session_peer(w.srv[i].s)->path, "/test");
		ck_assert_str_eq(moq_session_peer(w.srv[i].s)->authority, "127.0.0.1");
	}
	sh_world_free(&w);
}
END_TEST

/* both clients share one UDP socket: which server session belongs to
 * which client is not known, so count the closed ones */
static int srv_closed(const struct sh_world *w)
{
	return w->srv[0].closed + w->srv[1].closed;
}

static bool one_pair_closed(void *arg)
{
	struct sh_world *w = arg;
	return srv_closed(w) >= 1 && (w->cli[0].closed || w->cli[1].closed);
}

START_TEST(malformed_wt_stream_closes_only_its_session)
{
	struct sh_world w;
	connect_two(&w);
	/* client 0: a WT uni stream (prefix 0x54, session 0) whose MoQT
	 * stream type is unknown */
	struct moq_quic_conn *c = moq_session_conn(w.cli[0].s);
	int64_t sid = moq_quic_stream_open_uni(c);
	ck_assert_int_ge(sid, 0);
	uint8_t b[16];
	int n = moq_wt_prefix_write(b, sizeof(b), 0, 0);
	b[n++] = 0x3f; /* no such MoQT stream type */
	b[n++] = 0x00;
	ck_assert_int_eq(moq_quic_stream_write(c, sid, b, (size_t)n, 0), 0);
	ck_assert(sh_run_until(&w, one_pair_closed, &w, 3000));
	/* the server closed it with PROTOCOL_VIOLATION (its capsule and its
	 * CONNECTION_CLOSE carry the code) */
	ck_assert(w.cli[0].closed);
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_PROTOCOL_VIOLATION);
	sh_run_for(&w, 300);
	ck_assert(!w.cli[1].closed);
	ck_assert_int_eq(srv_closed(&w), 1);
	ck_assert_int_eq(w.cli[1].ready, 1);
	sh_world_free(&w);
}
END_TEST

START_TEST(wt_stream_of_another_session_is_refused_not_fatal)
{
	struct sh_world w;
	connect_two(&w);
	struct moq_quic_conn *c = moq_session_conn(w.cli[0].s);
	int64_t sid = moq_quic_stream_open_uni(c);
	uint8_t b[16];
	int n = moq_wt_prefix_write(b, sizeof(b), 0, 8); /* no session 8 */
	b[n++] = 0x3f;
	ck_assert_int_eq(moq_quic_stream_write(c, sid, b, (size_t)n, 0), 0);
	sh_run_for(&w, 300);
	ck_assert(!w.cli[0].closed);
	ck_assert(!w.srv[0].closed);
	sh_world_free(&w);
}
END_TEST

START_TEST(client_close_reaches_server_with_its_code)
{
	struct sh_world w;
	connect_two(&w);
	moq_session_close(w.cli[1].s, MOQ_SESSION_GOAWAY_TIMEOUT, "bye");
	ck_assert(sh_run_until(&w, one_pair_closed, &w, 3000));
	sh_run_for(&w, 300);
	ck_assert_int_eq(srv_closed(&w), 1);
	struct rec *gone = w.srv[0].closed ? &w.srv[0] : &w.srv[1];
	/* the capsule's code, then the connection's */
	ck_assert_uint_eq(gone->close.code, MOQ_SESSION_GOAWAY_TIMEOUT);
	ck_assert(!w.cli[0].closed);
	sh_world_free(&w);
}
END_TEST

static bool srv0_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->nsrv == 1 && w->srv[0].closed;
}

START_TEST(h3_connection_without_connect_times_out)
{
	struct sh_world w;
	char err[256];
	sh_world_init_wt(&w);
	w.srv_cfg.setup_timeout_ms = 300;
	/* an HTTP/3 client that never sends the CONNECT (no session on its
	 * side: the callbacks ignore a conn without one) */
	struct moq_quic_conn *c = moq_quic_connect(
	    w.cli_ep, "127.0.0.1", moq_quic_endpoint_port(w.srv_ep), NULL, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	uint64_t t0 = moq_loop_now();
	ck_assert(sh_run_until(&w, srv0_closed, &w, 3000));
	uint64_t ms = (moq_loop_now() - t0) / 1000000;
	ck_assert_uint_ge(ms, 250);
	ck_assert_uint_lt(ms, 1500);
	ck_assert_int_eq(w.srv[0].ready, 0);
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wt_session");
	TCase *tc = tcase_create("wt");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, sessions_run_over_webtransport_with_connect_path);
	tcase_add_test(tc, malformed_wt_stream_closes_only_its_session);
	tcase_add_test(tc, wt_stream_of_another_session_is_refused_not_fatal);
	tcase_add_test(tc, client_close_reaches_server_with_its_code);
	tcase_add_test(tc, h3_connection_without_connect_times_out);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
