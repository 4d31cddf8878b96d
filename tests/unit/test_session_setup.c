/* Session establishment: SETUP exchange, rejection, GOAWAY, close. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/session_harness.h"

static bool cli_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].closed;
}

static void setup_exchange(bool tls)
{
	struct sh_world w;
	sh_world_init(&w, tls);
	sh_connect_ready(&w);
	ck_assert_int_eq(moq_session_state(w.cli[0].s), MOQ_SESSION_READY);
	ck_assert_int_eq(moq_session_state(w.srv[0].s), MOQ_SESSION_READY);
	ck_assert(moq_session_is_server(w.srv[0].s));
	ck_assert(!moq_session_is_server(w.cli[0].s));
	/* client's PATH and AUTHORITY reach the server, both send the
	 * implementation name */
	ck_assert_str_eq(w.srv[0].peer_path, "/test");
	ck_assert_str_eq(moq_session_peer(w.srv[0].s)->path, "/test");
	ck_assert_str_eq(moq_session_peer(w.srv[0].s)->authority, "localhost");
	ck_assert_str_eq(w.srv[0].peer_impl, MOQ_SESSION_IMPLEMENTATION);
	ck_assert_str_eq(w.cli[0].peer_impl, MOQ_SESSION_IMPLEMENTATION);
	/* the server sends no PATH */
	ck_assert_str_eq(moq_session_peer(w.cli[0].s)->path, "");
	sh_world_free(&w);
}

START_TEST(setup_exchange_makes_both_sessions_ready_plaintext)
{
	setup_exchange(false);
}
END_TEST

START_TEST(setup_exchange_makes_both_sessions_ready_tls)
{
	setup_exchange(true);
}
END_TEST

/* ---- authorization token in SETUP ---- */

static int check_token(struct moq_session *s, const struct moq_setup *peer)
{
	struct rec *r = moq_session_user(s);
	r->n_msg = (int)peer->num_authorization_tokens;
	for (size_t i = 0; i < peer->num_authorization_tokens; i++) {
		const struct moq_auth_token *t = &peer->authorization_tokens[i];
		if (t->alias_type == MOQ_ALIAS_USE_VALUE && t->token_value.len == 6 &&
		    !memcmp(t->token_value.ptr, "secret", 6))
			return 0;
	}
	return MOQ_SESSION_UNAUTHORIZED;
}

static void token_test(const char *value, bool accepted)
{
	struct sh_world w;
	struct moq_session_callbacks cb = sh_callbacks;
	cb.on_setup = check_token;
	struct moq_auth_token tok;
	memset(&tok, 0, sizeof(tok));
	tok.alias_type = MOQ_ALIAS_USE_VALUE;
	tok.token_type = 0;
	tok.token_value = sh_bytes(value);
	sh_world_init(&w, false);
	w.srv_cfg.cb = &cb;
	w.cli_cfg.auth_tokens = &tok;
	w.cli_cfg.num_auth_tokens = 1;
	if (accepted) {
		sh_connect_ready(&w);
		ck_assert_int_eq(w.srv[0].n_msg, 1);
	} else {
		sh_connect(&w);
		ck_assert(sh_run_until(&w, cli_closed, &w, 5000));
		ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_UNAUTHORIZED);
		ck_assert(!w.cli[0].ready);
	}
	sh_world_free(&w);
}

START_TEST(setup_with_the_right_token_is_accepted)
{
	token_test("secret", true);
}
END_TEST

START_TEST(setup_with_a_bad_token_is_closed_unauthorized)
{
	token_test("guess!", false);
}
END_TEST

START_TEST(setup_rejected_by_app_closes_with_its_code)
{
	struct sh_world w;
	sh_world_init(&w, false);
	/* every accepted session's recorder rejects with UNAUTHORIZED */
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].setup_reject = MOQ_SESSION_UNAUTHORIZED;
	sh_connect(&w);
	ck_assert(sh_run_until(&w, cli_closed, &w, 5000));
	ck_assert_int_eq(w.cli[0].close.origin, MOQ_QUIC_CLOSE_PEER);
	ck_assert_int_eq(w.cli[0].close.app, 1);
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_UNAUTHORIZED);
	ck_assert(!w.cli[0].ready);
	sh_world_free(&w);
}
END_TEST

static bool srv_goaway(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].goaway > 0;
}

START_TEST(goaway_from_server_is_seen_by_client)
{
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	ck_assert(!moq_session_goaway_sent(w.srv[0].s));
	ck_assert_int_eq(moq_session_goaway(w.srv[0].s, "moqt://other:4443/x", 5000), 0);
	/* the relay's drain end closes with GOAWAY_TIMEOUT only those */
	ck_assert(moq_session_goaway_sent(w.srv[0].s));
	ck_assert(!moq_session_goaway_sent(w.cli[0].s));
	/* twice is refused locally */
	ck_assert_int_eq(moq_session_goaway(w.srv[0].s, NULL, 0), -EINVAL);
	ck_assert(sh_run_until(&w, srv_goaway, &w, 3000));
	ck_assert(moq_session_goaway_received(w.cli[0].s));
	ck_assert(!w.cli[0].closed);
	sh_world_free(&w);
}
END_TEST

static bool request_rejected(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_closed > 0;
}

START_TEST(requests_after_goaway_are_rejected_going_away)
{
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	ck_assert_int_eq(moq_session_goaway(w.srv[0].s, NULL, 0), 0);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, request_rejected, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_error_code, MOQ_REQERR_GOING_AWAY);
	ck_assert_int_eq(w.cli[0].closed_why, MOQ_REQ_END_ERROR);
	ck_assert_int_eq(w.srv[0].n_req, 0);
	sh_world_free(&w);
}
END_TEST

START_TEST(client_goaway_with_uri_is_refused_locally)
{
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	ck_assert_int_eq(moq_session_goaway(w.cli[0].s, "moqt://x/", 0), -EINVAL);
	sh_world_free(&w);
}
END_TEST

static bool srv_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->srv[0].closed;
}

START_TEST(session_close_reaches_peer_with_code)
{
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	moq_session_close(w.cli[0].s, MOQ_SESSION_NO_ERROR, "bye");
	ck_assert(sh_run_until(&w, srv_closed, &w, 3000));
	ck_assert_int_eq(w.srv[0].close.origin, MOQ_QUIC_CLOSE_PEER);
	ck_assert_uint_eq(w.srv[0].close.code, MOQ_SESSION_NO_ERROR);
	ck_assert(sh_run_until(&w, cli_closed, &w, 3000));
	sh_world_free(&w);
}
END_TEST

static void accept_any(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
}

static bool cli_subscribed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].last_msg_type == MOQ_CTRL_SUBSCRIBE_OK;
}

START_TEST(open_requests_after_goaway_timeout_close_with_goaway_timeout)
{
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = accept_any;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	ck_assert_int_eq(moq_session_goaway(w.srv[0].s, NULL, 100), 0);
	/* the client ignores the GOAWAY and keeps its subscription */
	ck_assert(sh_run_until(&w, cli_closed, &w, 3000));
	ck_assert_int_eq(w.cli[0].goaway, 1);
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_GOAWAY_TIMEOUT);
	sh_world_free(&w);
}
END_TEST

START_TEST(goaway_timeout_without_open_requests_keeps_the_session)
{
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	ck_assert_int_eq(moq_session_goaway(w.srv[0].s, NULL, 50), 0);
	sh_run_for(&w, 200);
	ck_assert(!w.cli[0].closed && !w.srv[0].closed);
	sh_world_free(&w);
}
END_TEST

/* ---- a raw client sends SUBSCRIBE before its SETUP ---- */

static struct moq_quic_conn *g_raw;
static int g_raw_up;

static void raw_established(struct moq_quic_conn *c, void *user)
{
	(void)user;
	g_raw = c;
	g_raw_up = 1;
}

static const struct moq_quic_callbacks raw_cb = {
    .on_established = raw_established,
};

static bool raw_up(void *arg)
{
	(void)arg;
	return g_raw_up;
}

static bool srv_got_request(void *arg)
{
	struct sh_world *w = arg;
	return w->nsrv > 0 && w->srv[0].n_req > 0;
}

START_TEST(request_before_peer_setup_is_processed_after_it)
{
	struct sh_world w;
	struct moq_quic_config cc;
	char err[256];
	uint8_t buf[256];
	g_raw_up = 0;
	sh_world_init(&w, false);
	moq_quic_config_init(&cc);
	cc.plaintext = 1;
	cc.cb = &raw_cb;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(w.loop, &cc, err, sizeof(err));
	ck_assert_msg(ep != NULL, "%s", err);
	ck_assert_ptr_nonnull(moq_quic_connect(ep, "127.0.0.1", moq_quic_endpoint_port(w.srv_ep),
					       NULL, err, sizeof(err)));
	ck_assert(sh_run_until(&w, raw_up, NULL, 3000));

	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SUBSCRIBE;
	m.subscribe.request_id = 0;
	m.subscribe.track_namespace = sh_ns("live");
	m.subscribe.track_name = sh_bytes("video");
	int n = moq_ctrl_encode(buf, sizeof(buf), &m);
	ck_assert_int_gt(n, 0);
	int64_t bidi = moq_quic_stream_open_bidi(g_raw);
	ck_assert_int_ge(bidi, 0);
	ck_assert_int_eq(moq_quic_stream_write(g_raw, bidi, buf, (size_t)n, 0), 0);
	sh_run_for(&w, 100);
	ck_assert_int_eq(w.nsrv, 1);
	ck_assert_int_eq(w.srv[0].n_req, 0); /* held until SETUP */

	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	n = moq_ctrl_encode(buf, sizeof(buf), &m);
	ck_assert_int_gt(n, 0);
	int64_t ctl = moq_quic_stream_open_uni(g_raw);
	ck_assert_int_ge(ctl, 0);
	ck_assert_int_eq(moq_quic_stream_write(g_raw, ctl, buf, (size_t)n, 0), 0);
	ck_assert(sh_run_until(&w, srv_got_request, &w, 3000));
	ck_assert_uint_eq(w.srv[0].req_type, MOQ_CTRL_SUBSCRIBE);
	ck_assert(w.srv[0].ready);
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_setup");
	TCase *tc = tcase_create("setup");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, setup_exchange_makes_both_sessions_ready_plaintext);
	tcase_add_test(tc, setup_exchange_makes_both_sessions_ready_tls);
	tcase_add_test(tc, setup_rejected_by_app_closes_with_its_code);
	tcase_add_test(tc, setup_with_the_right_token_is_accepted);
	tcase_add_test(tc, setup_with_a_bad_token_is_closed_unauthorized);
	tcase_add_test(tc, goaway_from_server_is_seen_by_client);
	tcase_add_test(tc, requests_after_goaway_are_rejected_going_away);
	tcase_add_test(tc, client_goaway_with_uri_is_refused_locally);
	tcase_add_test(tc, session_close_reaches_peer_with_code);
	tcase_add_test(tc, request_before_peer_setup_is_processed_after_it);
	tcase_add_test(tc, open_requests_after_goaway_timeout_close_with_goaway_timeout);
	tcase_add_test(tc, goaway_timeout_without_open_requests_keeps_the_session);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
