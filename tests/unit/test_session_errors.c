/* Peer errors close only the offending session, with the draft's code;
 * data for unknown Track Aliases is held briefly, then dropped. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/session_harness.h"

static const struct moq_bytes no_props = {0};

static void accept_sub(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	r->req = req;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
}

static void remember_only(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	r->req = req;
}

static void all_srv(struct sh_world *w, rec_request_fn f)
{
	for (int i = 0; i < SH_MAX_SRV; i++)
		w->srv[i].on_request = f;
}

static bool cli0_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].closed;
}

static bool second_ready(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[1].ready && w->nsrv > 1 && w->srv[1].ready;
}

static bool cli1_subscribed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[1].last_msg_type == MOQ_CTRL_SUBSCRIBE_OK;
}

static bool cli1_has_5(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[1].n_objects >= 5 || w->cli[1].closed;
}

/* Write raw bytes on a new bidi stream of the session's connection. */
static void raw_bidi(struct moq_session *s, const uint8_t *p, size_t n)
{
	struct moq_quic_conn *c = moq_session_conn(s);
	int64_t sid = moq_quic_stream_open_bidi(c);
	ck_assert_int_ge(sid, 0);
	ck_assert_int_eq(moq_quic_stream_write(c, sid, p, n, 0), 0);
}

static void raw_uni(struct moq_session *s, const uint8_t *p, size_t n, int fin)
{
	struct moq_quic_conn *c = moq_session_conn(s);
	int64_t sid = moq_quic_stream_open_uni(c);
	ck_assert_int_ge(sid, 0);
	ck_assert_int_eq(moq_quic_stream_write(c, sid, p, n, fin), 0);
}

static size_t encode_subscribe(uint8_t *buf, size_t cap, uint64_t id)
{
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SUBSCRIBE;
	m.subscribe.request_id = id;
	m.subscribe.track_namespace = sh_ns("live");
	m.subscribe.track_name = sh_bytes("raw");
	int n = moq_ctrl_encode(buf, cap, &m);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

START_TEST(malformed_subscribe_closes_only_that_session)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, accept_sub);
	sh_connect_ready(&w); /* client 0 <-> server session 0 */
	sh_connect(&w);	      /* client 1 <-> server session 1 */
	ck_assert(sh_run_until(&w, second_ready, &w, 5000));
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[1].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli1_subscribed, &w, 3000));

	/* SUBSCRIBE, Length 3: Request ID 0, one namespace field of 5 bytes
	 * that the payload does not contain */
	static const uint8_t bad[] = {0x03, 0x00, 0x03, 0x00, 0x01, 0x05};
	raw_bidi(w.cli[0].s, bad, sizeof(bad));
	ck_assert(sh_run_until(&w, cli0_closed, &w, 3000));
	ck_assert_int_eq(w.cli[0].close.origin, MOQ_QUIC_CLOSE_PEER);
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_PROTOCOL_VIOLATION);
	ck_assert(w.srv[0].closed);
	ck_assert_int_eq(w.srv[0].n_req, 0);

	/* the other session still works: publish 5 objects on it */
	ck_assert(!w.srv[1].closed && !w.cli[1].closed);
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.group_id = 3;
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(w.srv[1].req, &h, NULL);
	ck_assert_ptr_nonnull(tx);
	for (uint64_t o = 0; o < 5; o++) {
		struct moq_tx_object ob = {.object_id = o, .payload_length = 2};
		ck_assert_int_eq(moq_tx_object(tx, &ob, "ok"), 0);
	}
	ck_assert_int_eq(moq_tx_finish(tx), 0);
	ck_assert(sh_run_until(&w, cli1_has_5, &w, 3000));
	ck_assert_int_eq(w.cli[1].n_objects, 5);
	ck_assert(!w.cli[1].closed);
	sh_world_free(&w);
}
END_TEST

START_TEST(request_id_with_wrong_parity_is_invalid_request_id)
{
	struct sh_world w;
	uint8_t buf[256];
	sh_world_init(&w, false);
	all_srv(&w, accept_sub);
	sh_connect_ready(&w);
	/* clients use even Request IDs */
	size_t n = encode_subscribe(buf, sizeof(buf), 1);
	raw_bidi(w.cli[0].s, buf, n);
	ck_assert(sh_run_until(&w, cli0_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_INVALID_REQUEST_ID);
	sh_world_free(&w);
}
END_TEST

static bool srv_has_req(void *arg)
{
	struct sh_world *w = arg;
	return w->srv[0].n_req > 0;
}

START_TEST(duplicate_request_id_is_invalid_request_id)
{
	struct sh_world w;
	uint8_t buf[256];
	sh_world_init(&w, false);
	all_srv(&w, accept_sub);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	struct moq_request *sub =
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL);
	ck_assert_uint_eq(moq_request_id(sub), 0);
	ck_assert(sh_run_until(&w, srv_has_req, &w, 3000));
	size_t n = encode_subscribe(buf, sizeof(buf), 0);
	raw_bidi(w.cli[0].s, buf, n);
	ck_assert(sh_run_until(&w, cli0_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_INVALID_REQUEST_ID);
	sh_world_free(&w);
}
END_TEST

START_TEST(request_stream_beginning_with_a_response_is_protocol_violation)
{
	struct sh_world w;
	uint8_t buf[256];
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_REQUEST_OK;
	int n = moq_ctrl_encode(buf, sizeof(buf), &m);
	ck_assert_int_gt(n, 0);
	raw_bidi(w.cli[0].s, buf, (size_t)n);
	ck_assert(sh_run_until(&w, cli0_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_PROTOCOL_VIOLATION);
	sh_world_free(&w);
}
END_TEST

START_TEST(unknown_unidirectional_stream_type_is_protocol_violation)
{
	struct sh_world w;
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	static const uint8_t t[] = {0x3f, 0x00};
	raw_uni(w.cli[0].s, t, sizeof(t), 0);
	ck_assert(sh_run_until(&w, cli0_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_PROTOCOL_VIOLATION);
	sh_world_free(&w);
}
END_TEST

/* A subgroup stream for alias `alias` with objects 0..2 ("xyz"). */
static size_t encode_subgroup(uint8_t *buf, size_t cap, uint64_t alias)
{
	struct moq_subgroup_header h;
	struct moq_subgroup_ctx ctx;
	memset(&h, 0, sizeof(h));
	h.track_alias = alias;
	h.group_id = 1;
	h.default_priority = true;
	int n = moq_subgroup_header_encode(buf, cap, &h);
	ck_assert_int_gt(n, 0);
	size_t off = (size_t)n;
	moq_subgroup_ctx_init(&ctx, &h);
	for (uint64_t o = 0; o < 3; o++) {
		struct moq_subgroup_object ob;
		memset(&ob, 0, sizeof(ob));
		ob.object_id = o;
		ob.payload_length = 3;
		ob.payload = sh_bytes("xyz");
		n = moq_subgroup_object_encode(buf + off, cap - off, &ctx, &ob);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	return off;
}

static bool nothing(void *arg)
{
	(void)arg;
	return false;
}

START_TEST(data_for_unknown_alias_is_dropped_after_the_wait)
{
	struct sh_world w;
	uint8_t buf[256];
	sh_world_init(&w, false);
	w.cli_cfg.unknown_alias_wait_ms = 100;
	sh_connect_ready(&w);
	size_t n = encode_subgroup(buf, sizeof(buf), 99);
	raw_uni(w.srv[0].s, buf, n, 1);
	sh_run_until(&w, nothing, NULL, 400);
	struct moq_session_stats st;
	moq_session_stats(w.cli[0].s, &st);
	ck_assert_uint_eq(st.streams_dropped_unknown, 1);
	ck_assert_int_eq(w.cli[0].n_headers, 0);
	ck_assert(!w.cli[0].closed);
	sh_world_free(&w);
}
END_TEST

static bool cli0_stream_end(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_stream_end > 0 || w->cli[0].closed;
}

START_TEST(data_arriving_before_subscribe_ok_is_delivered_after_it)
{
	struct sh_world w;
	uint8_t buf[256];
	sh_world_init(&w, false);
	all_srv(&w, remember_only);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, srv_has_req, &w, 3000));
	/* the stream for alias 42 arrives first and is held */
	size_t n = encode_subgroup(buf, sizeof(buf), 42);
	raw_uni(w.srv[0].s, buf, n, 1);
	sh_run_until(&w, nothing, NULL, 100);
	ck_assert_int_eq(w.cli[0].n_headers, 0);
	ck_assert_int_eq(moq_request_subscribe_ok(w.srv[0].req, 42, NULL, no_props), 0);
	ck_assert(sh_run_until(&w, cli0_stream_end, &w, 3000));
	ck_assert_int_eq(w.cli[0].n_headers, 1);
	ck_assert_int_eq(w.cli[0].n_objects, 3);
	ck_assert_int_eq(w.cli[0].n_stream_end, 1);
	sh_world_free(&w);
}
END_TEST

static bool cli0_dgram(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_dgrams > 0 || w->cli[0].closed;
}

START_TEST(datagram_arriving_before_subscribe_ok_is_delivered_after_it)
{
	struct sh_world w;
	uint8_t buf[64];
	sh_world_init(&w, false);
	all_srv(&w, remember_only);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("audio"), NULL, NULL));
	ck_assert(sh_run_until(&w, srv_has_req, &w, 3000));
	struct moq_object_datagram d;
	memset(&d, 0, sizeof(d));
	d.track_alias = 42;
	d.group_id = 1;
	d.object_id = 9;
	d.default_priority = true;
	d.payload = sh_bytes("early");
	int n = moq_object_datagram_encode(buf, sizeof(buf), &d);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(moq_quic_datagram_send(moq_session_conn(w.srv[0].s), buf, (size_t)n), 0);
	sh_run_for(&w, 100);
	ck_assert_int_eq(w.cli[0].n_dgrams, 0);
	ck_assert_int_eq(moq_request_subscribe_ok(w.srv[0].req, 42, NULL, no_props), 0);
	ck_assert(sh_run_until(&w, cli0_dgram, &w, 3000));
	ck_assert_int_eq(w.cli[0].n_dgrams, 1);
	ck_assert_uint_eq(w.cli[0].dgram_sum, 9);
	sh_world_free(&w);
}
END_TEST

START_TEST(second_control_stream_is_protocol_violation)
{
	struct sh_world w;
	uint8_t buf[64];
	sh_world_init(&w, false);
	sh_connect_ready(&w);
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	int n = moq_ctrl_encode(buf, sizeof(buf), &m);
	ck_assert_int_gt(n, 0);
	raw_uni(w.cli[0].s, buf, (size_t)n, 0);
	ck_assert(sh_run_until(&w, cli0_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_PROTOCOL_VIOLATION);
	sh_world_free(&w);
}
END_TEST

static void fetch_ok_too_early(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(
	    moq_request_fetch_ok(req, false, (struct moq_location){2, 3}, NULL, no_props), 0);
}

START_TEST(fetch_ok_ending_before_the_fetch_start_is_protocol_violation)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, fetch_ok_too_early);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(moq_session_fetch(w.cli[0].s, &ns, sh_bytes("video"),
						(struct moq_location){5, 0},
						(struct moq_location){6, 0}, NULL, NULL));
	ck_assert(sh_run_until(&w, cli0_closed, &w, 3000));
	ck_assert_int_eq(w.cli[0].close.origin, MOQ_QUIC_CLOSE_LOCAL);
	ck_assert_uint_eq(w.cli[0].close.code, MOQ_SESSION_PROTOCOL_VIOLATION);
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_errors");
	TCase *tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, malformed_subscribe_closes_only_that_session);
	tcase_add_test(tc, request_id_with_wrong_parity_is_invalid_request_id);
	tcase_add_test(tc, duplicate_request_id_is_invalid_request_id);
	tcase_add_test(tc, request_stream_beginning_with_a_response_is_protocol_violation);
	tcase_add_test(tc, unknown_unidirectional_stream_type_is_protocol_violation);
	tcase_add_test(tc, data_for_unknown_alias_is_dropped_after_the_wait);
	tcase_add_test(tc, data_arriving_before_subscribe_ok_is_delivered_after_it);
	tcase_add_test(tc, second_control_stream_is_protocol_violation);
	tcase_add_test(tc, datagram_arriving_before_subscribe_ok_is_delivered_after_it);
	tcase_add_test(tc, fetch_ok_ending_before_the_fetch_start_is_protocol_violation);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
