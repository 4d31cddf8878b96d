/* draft-18 MUSTs on SETUP, GOAWAY and SUBSCRIBE answers that the session
 * layer enforces, each against a raw peer that breaks it (rows of the
 * conformance table in docs/relay.md). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/raw_peer.h"
#include "lib/session_harness.h"

/* ---- a raw QUIC peer (client or server) ---- */

struct raw {
	struct raw_peer p; /* first: raw_peer_* take a struct raw too */
	bool is_server;
	int subscribe_oks; /* server: SUBSCRIBE_OKs to write per SUBSCRIBE */
};

static int encode(uint8_t *buf, size_t cap, struct moq_ctrl_msg *m)
{
	int n = moq_ctrl_encode(buf, cap, m);
	ck_assert_int_gt(n, 0);
	return n;
}

/* our SETUP on a new uni stream, then the given messages on it */
static void raw_control(struct raw *r, const struct moq_ctrl_msg *extra, int nextra, int fin)
{
	uint8_t buf[2048];
	size_t n = 0;
	struct moq_ctrl_msg m;

	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	n += (size_t)encode(buf, sizeof(buf), &m);
	for (int i = 0; i < nextra; i++) {
		m = extra[i];
		n += (size_t)encode(buf + n, sizeof(buf) - n, &m);
	}
	int64_t sid = moq_quic_stream_open_uni(r->p.c);
	ck_assert_int_ge(sid, 0);
	ck_assert_int_eq(moq_quic_stream_write(r->p.c, sid, buf, n, fin), 0);
}

static int raw_accept(struct moq_quic_conn *c, void *user)
{
	moq_quic_conn_set_user(c, user);
	return 0;
}

/* server side: answer a SUBSCRIBE on a peer bidi stream */
static void raw_stream_data(struct moq_quic_conn *c, int64_t sid, const uint8_t *data, size_t len,
			    int fin, void *user)
{
	struct raw *r = moq_quic_conn_user(c);
	uint8_t buf[256];
	size_t n = 0;
	(void)fin;
	(void)user;
	/* a client-initiated bidi stream starting with SUBSCRIBE (0x03) */
	if (!r || (sid & 3) != 0 || !len || data[0] != MOQ_CTRL_SUBSCRIBE)
		return;
	for (int i = 0; i < r->subscribe_oks; i++) {
		struct moq_ctrl_msg m;
		memset(&m, 0, sizeof(m));
		m.type = MOQ_CTRL_SUBSCRIBE_OK;
		m.subscribe_ok.track_alias = 5;
		n += (size_t)encode(buf + n, sizeof(buf) - n, &m);
	}
	if (n)
		ck_assert_int_eq(moq_quic_stream_write(c, sid, buf, n, 0), 0);
}

static const struct moq_quic_callbacks raw_cb = {
    .on_accept = raw_accept,
    .on_established = raw_peer_established,
    .on_close = raw_peer_close,
    .on_stream_data = raw_stream_data,
};

static bool cli_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].closed;
}

/* A raw client connected to the world's server, handshake done. */
static struct moq_quic_endpoint *raw_client(struct sh_world *w, struct raw *r)
{
	struct moq_quic_config cc;
	char err[256];

	memset(r, 0, sizeof(*r));
	moq_quic_config_init(&cc);
	cc.plaintext = 1;
	cc.cb = &raw_cb;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(w->loop, &cc, err, sizeof(err));
	ck_assert_msg(ep != NULL, "%s", err);
	ck_assert_ptr_nonnull(moq_quic_connect(ep, "127.0.0.1", moq_quic_endpoint_port(w->srv_ep),
					       r, err, sizeof(err)));
	ck_assert(sh_run_until(w, raw_peer_up, r, 3000));
	ck_assert(!r->p.closed);
	return ep;
}

/* A raw server; the world's client 0 connects to it (not waited for). */
static struct moq_quic_endpoint *raw_server(struct sh_world *w, struct raw *r)
{
	struct moq_quic_config sc;
	char err[256];

	memset(r, 0, sizeof(*r));
	r->is_server = true;
	moq_quic_config_init(&sc);
	sc.listen = 1;
	sc.local_addr = "127.0.0.1";
	sc.plaintext = 1;
	sc.cb = &raw_cb;
	sc.user = r;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(w->loop, &sc, err, sizeof(err));
	ck_assert_msg(ep != NULL, "%s", err);
	struct moq_session_config cfg = w->cli_cfg;
	cfg.user = &w->cli[0];
	w->ncli = 1;
	w->cli[0].s = moq_session_connect(w->cli_ep, "127.0.0.1", moq_quic_endpoint_port(ep), &cfg,
					  err, sizeof(err));
	ck_assert_msg(w->cli[0].s != NULL, "connect: %s", err);
	ck_assert(sh_run_until(w, raw_peer_up, r, 3000));
	return ep;
}

/* The raw client sends SETUP then msgs (and maybe FIN) on its control
 * stream; the server must close it with code. */
static void client_control_closes(const struct moq_ctrl_msg *msgs, int n, int fin, uint64_t code)
{
	struct sh_world w;
	struct raw r;

	sh_world_init(&w, false);
	struct moq_quic_endpoint *ep = raw_client(&w, &r);
	raw_control(&r, msgs, n, fin);
	ck_assert(sh_run_until(&w, raw_peer_closed, &r, 3000));
	ck_assert_int_eq(r.p.close.origin, MOQ_QUIC_CLOSE_PEER);
	ck_assert_int_eq(r.p.close.app, 1);
	ck_assert_uint_eq(r.p.close.code, code);
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}

static struct moq_ctrl_msg goaway(const char *uri, uint64_t request_id)
{
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_GOAWAY;
	if (uri)
		m.goaway.new_session_uri = sh_bytes(uri);
	m.goaway.has_request_id = true;
	m.goaway.request_id = request_id;
	return m;
}

START_TEST(control_stream_closed_by_the_peer_is_protocol_violation)
{
	/* draft-18 §3.3: MUST NOT be closed ... PROTOCOL_VIOLATION */
	client_control_closes(NULL, 0, 1, MOQ_SESSION_PROTOCOL_VIOLATION);
}
END_TEST

START_TEST(second_goaway_on_the_control_stream_is_protocol_violation)
{
	/* §10.4: more than one GOAWAY on the control stream. Request ID 1: the
	 * server's first (odd) one */
	struct moq_ctrl_msg m[2] = {goaway(NULL, 1), goaway(NULL, 1)};
	client_control_closes(m, 2, 0, MOQ_SESSION_PROTOCOL_VIOLATION);
}
END_TEST

START_TEST(one_goaway_from_the_client_keeps_the_session)
{
	/* the control for the two tests around it: a valid GOAWAY is fine */
	struct sh_world w;
	struct raw r;
	struct moq_ctrl_msg m = goaway(NULL, 1);

	sh_world_init(&w, false);
	struct moq_quic_endpoint *ep = raw_client(&w, &r);
	raw_control(&r, &m, 1, 0);
	ck_assert(!sh_run_until(&w, raw_peer_closed, &r, 300));
	ck_assert_int_eq(w.nsrv, 1);
	ck_assert(moq_session_goaway_received(w.srv[0].s));
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}
END_TEST

START_TEST(goaway_with_a_uri_at_the_server_is_protocol_violation)
{
	/* §10.4: a server receiving a non-zero New Session URI Length */
	struct moq_ctrl_msg m = goaway("moqt://elsewhere/", 1);
	client_control_closes(&m, 1, 0, MOQ_SESSION_PROTOCOL_VIOLATION);
}
END_TEST

START_TEST(goaway_request_id_of_the_wrong_parity_is_invalid_request_id)
{
	/* §10.4: the server's Request IDs are odd; 2 is a client's */
	struct moq_ctrl_msg m = goaway(NULL, 2);
	client_control_closes(&m, 1, 0, MOQ_SESSION_INVALID_REQUEST_ID);
}
END_TEST

/* ---- a raw server ---- */

static void server_setup_closes_client(uint64_t option, const char *value, uint64_t code)
{
	struct sh_world w;
	struct raw r;
	uint8_t buf[256];
	struct moq_ctrl_msg m;

	sh_world_init(&w, false);
	struct moq_quic_endpoint *ep = raw_server(&w, &r);
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	m.setup.num_options = 1;
	m.setup.options[0].type = option;
	m.setup.options[0].bytes = sh_bytes(value);
	int n = encode(buf, sizeof(buf), &m);
	int64_t sid = moq_quic_stream_open_uni(r.p.c);
	ck_assert_int_ge(sid, 0);
	ck_assert_int_eq(moq_quic_stream_write(r.p.c, sid, buf, (size_t)n, 0), 0);
	ck_assert(sh_run_until(&w, cli_closed, &w, 3000));
	ck_assert(!w.cli[0].ready);
	ck_assert(sh_run_until(&w, raw_peer_closed, &r, 3000));
	ck_assert_int_eq(r.p.close.origin, MOQ_QUIC_CLOSE_PEER);
	ck_assert_uint_eq(r.p.close.code, code);
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}

START_TEST(path_from_a_server_is_invalid_path)
{
	/* §10.3.1.2: PATH received from a server */
	server_setup_closes_client(MOQ_SETUP_PATH, "/x", MOQ_SESSION_INVALID_PATH);
}
END_TEST

START_TEST(authority_from_a_server_is_invalid_authority)
{
	/* §10.3.1.1: AUTHORITY received from a server */
	server_setup_closes_client(MOQ_SETUP_AUTHORITY, "example.net",
				   MOQ_SESSION_INVALID_AUTHORITY);
}
END_TEST

static bool cli_ready(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].ready || w->cli[0].closed;
}

static bool cli_subscribed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].last_msg_type == MOQ_CTRL_SUBSCRIBE_OK || w->cli[0].closed;
}

/* The raw server answers our SUBSCRIBE with `oks` SUBSCRIBE_OKs. */
static void subscribe_answered(int oks, bool closes)
{
	struct sh_world w;
	struct raw r;

	sh_world_init(&w, false);
	struct moq_quic_endpoint *ep = raw_server(&w, &r);
	r.subscribe_oks = oks;
	raw_control(&r, NULL, 0, 0);
	ck_assert(sh_run_until(&w, cli_ready, &w, 3000));
	ck_assert(w.cli[0].ready);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	if (closes) {
		ck_assert(sh_run_until(&w, raw_peer_closed, &r, 3000));
		ck_assert_uint_eq(r.p.close.code, MOQ_SESSION_PROTOCOL_VIOLATION);
	} else {
		ck_assert(!sh_run_until(&w, raw_peer_closed, &r, 300));
	}
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}

START_TEST(one_subscribe_ok_establishes_the_subscription)
{
	subscribe_answered(1, false);
}
END_TEST

START_TEST(second_subscribe_ok_is_protocol_violation)
{
	/* §5.1: exactly one SUBSCRIBE_OK or REQUEST_ERROR; the peer SHOULD
	 * close the session with a protocol error if it receives more */
	subscribe_answered(2, true);
}
END_TEST

/* ---- the session layer's own side ---- */

static void answer_twice(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
	r->n_msg =
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0});
	r->last_error_code =
	    (uint64_t)-moq_request_error(req, MOQ_REQERR_INTERNAL_ERROR, 0, "too late");
}

START_TEST(a_subscribe_is_answered_once)
{
	/* §5.1: a publisher MUST send exactly one SUBSCRIBE_OK or REQUEST_ERROR */
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = answer_twice;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	ck_assert_int_eq(w.srv[0].n_msg, -EINVAL);	     /* second SUBSCRIBE_OK refused */
	ck_assert_uint_eq(w.srv[0].last_error_code, EINVAL); /* and a late REQUEST_ERROR */
	sh_run_for(&w, 200);
	ck_assert(!w.cli[0].closed && !w.srv[0].closed);
	ck_assert_uint_eq(w.cli[0].last_msg_type, MOQ_CTRL_SUBSCRIBE_OK);
	sh_world_free(&w);
}
END_TEST

static bool cli_one_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_closed > 0;
}

START_TEST(second_subscribe_while_the_first_is_pending_is_duplicate_subscription)
{
	/* §5.1: a SUBSCRIBE for a track with a subscription in Pending
	 * (publisher) MUST fail with DUPLICATE_SUBSCRIPTION. The server
	 * leaves the first unanswered. */
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	sh_run_for(&w, 100);
	ck_assert_int_eq(w.srv[0].n_req, 1);
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_one_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_error_code, MOQ_REQERR_DUPLICATE_SUBSCRIPTION);
	ck_assert_int_eq(w.srv[0].n_req, 1);
	sh_world_free(&w);
}
END_TEST

START_TEST(server_sends_neither_path_nor_authority)
{
	/* §10.3.1.1 / §10.3.1.2: MUST NOT be used by the server */
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	ck_assert_str_eq(moq_session_peer(w.cli[0].s)->path, "");
	ck_assert_str_eq(moq_session_peer(w.cli[0].s)->authority, "");
	/* while the client's reach the server */
	ck_assert_str_eq(moq_session_peer(w.srv[0].s)->authority, "localhost");
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_conformance");
	TCase *tc = tcase_create("conformance");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, control_stream_closed_by_the_peer_is_protocol_violation);
	tcase_add_test(tc, second_goaway_on_the_control_stream_is_protocol_violation);
	tcase_add_test(tc, one_goaway_from_the_client_keeps_the_session);
	tcase_add_test(tc, goaway_with_a_uri_at_the_server_is_protocol_violation);
	tcase_add_test(tc, goaway_request_id_of_the_wrong_parity_is_invalid_request_id);
	tcase_add_test(tc, path_from_a_server_is_invalid_path);
	tcase_add_test(tc, authority_from_a_server_is_invalid_authority);
	tcase_add_test(tc, one_subscribe_ok_establishes_the_subscription);
	tcase_add_test(tc, second_subscribe_ok_is_protocol_violation);
	tcase_add_test(tc, a_subscribe_is_answered_once);
	tcase_add_test(tc, second_subscribe_while_the_first_is_pending_is_duplicate_subscription);
	tcase_add_test(tc, server_sends_neither_path_nor_authority);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
