/* Delivery timeouts on data the QUIC layer already holds (the peer does not
 * acknowledge it) and the SETUP timeout. Packet loss is simulated with the
 * plaintext recv_hook on the client endpoint. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/session_harness.h"

static const struct moq_bytes no_props = {0};
static int g_drop; /* client drops every incoming 1-RTT packet while set */

static int drop_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap, void *user)
{
	(void)c;
	(void)pkt;
	(void)len;
	(void)cap;
	(void)user;
	return g_drop ? -1 : 0;
}

static struct moq_quic_callbacks g_lossy;

/* Replace the client endpoint by one whose incoming packets can be dropped. */
static void lossy_client(struct sh_world *w)
{
	struct moq_quic_config cc;
	char err[256];
	moq_quic_endpoint_free(w->cli_ep);
	g_lossy = *moq_session_quic_callbacks();
	g_lossy.recv_hook = drop_hook;
	moq_quic_config_init(&cc);
	cc.plaintext = 1;
	cc.cb = &g_lossy;
	w->cli_ep = moq_quic_endpoint_new(w->loop, &cc, err, sizeof(err));
	ck_assert_msg(w->cli_ep != NULL, "%s", err);
}

static void serve_one_object(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	r->req = req;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
}

static bool cli_subscribed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].last_msg_type == MOQ_CTRL_SUBSCRIBE_OK;
}

static bool srv_reset_timeout(void *arg)
{
	struct sh_world *w = arg;
	struct moq_session_stats st;
	moq_session_stats(w->srv[0].s, &st);
	return st.streams_reset_timeout > 0;
}

static void timeout_while_unacked(uint64_t param, bool finish)
{
	struct sh_world w;
	g_drop = 0;
	sh_world_init(&w, false);
	lossy_client(&w);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_one_object;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	struct moq_params p;
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, param, 100), 0);
	ck_assert_ptr_nonnull(moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), &p, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));

	g_drop = 1; /* nothing reaches the subscriber, nothing is acked */
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(w.srv[0].req, &h, NULL);
	ck_assert_ptr_nonnull(tx);
	struct moq_tx_object ob = {.object_id = 0, .payload_length = 4};
	ck_assert_int_eq(moq_tx_object(tx, &ob, "data"), 0);
	if (finish)
		ck_assert_int_eq(moq_tx_finish(tx), 0);
	/* well before the timeout nothing happens */
	sh_run_for(&w, 30);
	ck_assert(!srv_reset_timeout(&w));
	ck_assert(sh_run_until(&w, srv_reset_timeout, &w, 2000));
	if (!finish) {
		ck_assert_int_eq(w.srv[0].n_tx_timeout, 1);
		ck_assert_int_eq(moq_tx_finish(tx), -EPIPE); /* releases it */
	}
	g_drop = 0;
	ck_assert(!w.srv[0].closed);
	sh_world_free(&w);
}

START_TEST(subgroup_delivery_timeout_resets_finished_but_unacked_stream)
{
	timeout_while_unacked(MOQ_PARAM_SUBGROUP_DELIVERY_TIMEOUT, true);
}
END_TEST

START_TEST(object_delivery_timeout_resets_stream_with_unacked_object)
{
	timeout_while_unacked(MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT, false);
}
END_TEST

START_TEST(acked_objects_do_not_time_out)
{
	struct sh_world w;
	g_drop = 0;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_one_object;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	struct moq_params p;
	moq_params_init(&p);
	moq_params_add_u64(&p, MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT, 50);
	ck_assert_ptr_nonnull(moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), &p, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(w.srv[0].req, &h, NULL);
	struct moq_tx_object ob = {.object_id = 0, .payload_length = 4};
	ck_assert_int_eq(moq_tx_object(tx, &ob, "data"), 0);
	sh_run_for(&w, 200);
	ck_assert(!srv_reset_timeout(&w));
	ck_assert_int_eq(w.cli[0].n_resets, 0);
	ob.object_id = 1;
	ck_assert_int_eq(moq_tx_object(tx, &ob, "more"), 0);
	ck_assert_int_eq(moq_tx_finish(tx), 0);
	sh_world_free(&w);
}
END_TEST

/* ---- SETUP timeout: a bare QUIC client that never sends SETUP ---- */

static int g_raw_closed;
static uint64_t g_raw_code;

static void raw_on_close(struct moq_quic_conn *c, const struct moq_quic_close_info *i, void *user)
{
	(void)c;
	(void)user;
	g_raw_closed = 1;
	g_raw_code = i->code;
}

static const struct moq_quic_callbacks raw_cb = {.on_close = raw_on_close};

static bool raw_closed(void *arg)
{
	(void)arg;
	return g_raw_closed;
}

START_TEST(peer_without_setup_is_closed_with_control_message_timeout)
{
	struct sh_world w;
	struct moq_quic_config cc;
	char err[256];
	g_raw_closed = 0;
	sh_world_init(&w, false);
	w.srv_cfg.setup_timeout_ms = 150;
	moq_quic_config_init(&cc);
	cc.plaintext = 1;
	cc.cb = &raw_cb;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(w.loop, &cc, err, sizeof(err));
	ck_assert_msg(ep != NULL, "%s", err);
	ck_assert_ptr_nonnull(moq_quic_connect(ep, "127.0.0.1", moq_quic_endpoint_port(w.srv_ep),
					       NULL, err, sizeof(err)));
	ck_assert(sh_run_until(&w, raw_closed, NULL, 3000));
	ck_assert_uint_eq(g_raw_code, MOQ_SESSION_CONTROL_MESSAGE_TIMEOUT);
	moq_quic_endpoint_free(ep);
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_timeouts");
	TCase *tc = tcase_create("timeouts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, subgroup_delivery_timeout_resets_finished_but_unacked_stream);
	tcase_add_test(tc, object_delivery_timeout_resets_stream_with_unacked_object);
	tcase_add_test(tc, acked_objects_do_not_time_out);
	tcase_add_test(tc, peer_without_setup_is_closed_with_control_message_timeout);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
