/* Subscriptions: SUBSCRIBE -> SUBSCRIBE_OK -> objects on subgroup streams,
 * datagrams, errors, unsubscribe, PUBLISH_DONE, delivery timeouts. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/session_harness.h"

#define GROUPS 10
#define SUBGROUPS 4
#define PER_SUBGROUP 250 /* 10 * 4 * 250 = 10,000 objects */

static size_t obj_len(uint64_t g, uint64_t sg, uint64_t o)
{
	return (size_t)((g * 7 + sg * 13 + o * 3) % 700);
}

static uint8_t obj_byte(uint64_t g, uint64_t sg, uint64_t o, size_t i)
{
	return (uint8_t)(g * 31 + sg * 17 + o * 5 + i * 11);
}

/* ---- publisher side: serve "live/video" ---- */

static void publish_all(struct moq_request *req)
{
	static uint8_t buf[1024];
	for (uint64_t g = 0; g < GROUPS; g++) {
		for (uint64_t sg = 0; sg < SUBGROUPS; sg++) {
			struct moq_subgroup_header h;
			memset(&h, 0, sizeof(h));
			h.group_id = g;
			h.subgroup_id = sg;
			h.subgroup_id_mode = MOQ_SUBGROUP_ID_PRESENT;
			h.publisher_priority = (uint8_t)(100 + sg);
			int err = 0;
			struct moq_tx *tx = moq_tx_subgroup_open(req, &h, &err);
			ck_assert_msg(tx != NULL, "open subgroup %llu/%llu: %d",
				      (unsigned long long)g, (unsigned long long)sg, err);
			for (uint64_t o = 0; o < PER_SUBGROUP; o++) {
				struct moq_tx_object ob;
				memset(&ob, 0, sizeof(ob));
				ob.object_id = o * SUBGROUPS + sg;
				ob.payload_length = obj_len(g, sg, o);
				for (size_t i = 0; i < ob.payload_length; i++)
					buf[i] = obj_byte(g, sg, o, i);
				if (o % 3 == 0 && ob.payload_length > 2) {
					/* header then payload in pieces */
					size_t half = (size_t)ob.payload_length / 2;
					ck_assert_int_eq(moq_tx_object_begin(tx, &ob), 0);
					ck_assert_int_eq(moq_tx_payload(tx, buf, half), 0);
					ck_assert_int_eq(
					    moq_tx_payload(tx, buf + half,
							   (size_t)ob.payload_length - half),
					    0);
				} else {
					ck_assert_int_eq(moq_tx_object(tx, &ob, buf), 0);
				}
			}
			ck_assert_int_eq(moq_tx_finish(tx), 0);
		}
	}
}

static bool is_track(const struct moq_ctrl_msg *m, const char *ns, const char *name)
{
	const struct moq_subscribe *s = &m->subscribe;
	return s->track_namespace.nfields == 1 && s->track_namespace.fields[0].len == strlen(ns) &&
	       !memcmp(s->track_namespace.fields[0].ptr, ns, strlen(ns)) &&
	       s->track_name.len == strlen(name) && !memcmp(s->track_name.ptr, name, strlen(name));
}

static void serve_video(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	if (m->type != MOQ_CTRL_SUBSCRIBE || !is_track(m, "live", "video")) {
		ck_assert_int_eq(
		    moq_request_error(req, MOQ_REQERR_DOES_NOT_EXIST, 0, "no such track"), 0);
		return;
	}
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
	publish_all(req);
}

/* ---- subscriber side: check every byte ---- */

struct rxstate {
	uint64_t group, subgroup;
	uint64_t next;	 /* expected next object index in the subgroup */
	uint64_t cur_id; /* object id being received */
	uint64_t off;
	uint64_t len;
};

struct verify {
	int objects_ok, streams_ok, errors;
	char first_error[200];
};

static void vfail(struct verify *v, const char *msg)
{
	if (!v->errors++)
		snprintf(v->first_error, sizeof(v->first_error), "%s", msg);
}

static void verify_data(struct rec *r, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct verify *v = r->test;
	struct rxstate *st = moq_rx_user(rx);
	switch (ev->type) {
	case MOQ_DATA_EV_HEADER:
		st = calloc(1, sizeof(*st));
		st->group = ev->subgroup.group_id;
		st->subgroup = ev->subgroup.subgroup_id;
		moq_rx_set_user(rx, st);
		if (moq_rx_request(rx) == NULL)
			vfail(v, "stream not matched to a request");
		break;
	case MOQ_DATA_EV_OBJECT:
		if (ev->subgroup_object.object_id != st->next * SUBGROUPS + st->subgroup)
			vfail(v, "object out of order");
		st->cur_id = st->next;
		st->off = 0;
		st->len = ev->subgroup_object.payload_length;
		if (st->len != obj_len(st->group, st->subgroup, st->cur_id))
			vfail(v, "wrong payload length");
		break;
	case MOQ_DATA_EV_PAYLOAD:
		if (ev->payload_offset != st->off)
			vfail(v, "payload offset gap");
		for (size_t i = 0; i < ev->payload.len; i++)
			if (ev->payload.ptr[i] !=
			    obj_byte(st->group, st->subgroup, st->cur_id, (size_t)st->off + i))
				vfail(v, "payload byte differs");
		st->off += ev->payload.len;
		break;
	case MOQ_DATA_EV_OBJECT_END:
		if (st->off != st->len)
			vfail(v, "object ended early");
		else
			v->objects_ok++;
		st->next++;
		break;
	case MOQ_DATA_EV_STREAM_END:
		if (st->next == PER_SUBGROUP)
			v->streams_ok++;
		else
			vfail(v, "subgroup ended before all objects");
		free(st);
		moq_rx_set_user(rx, NULL);
		break;
	}
}

static bool all_streams_done(void *arg)
{
	struct sh_world *w = arg;
	struct verify *v = w->cli[0].test;
	return v->streams_ok + v->errors >= GROUPS * SUBGROUPS || w->cli[0].closed;
}

static void subscribe_10000(int mode) /* 0 plaintext, 1 TLS, 2 WebTransport */
{
	struct sh_world w;
	struct verify v;
	memset(&v, 0, sizeof(v));
	if (mode == 2)
		sh_world_init_wt(&w);
	else
		sh_world_init(&w, mode == 1);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_video;
	sh_connect_ready(&w);
	w.cli[0].test = &v;
	w.cli[0].on_data = verify_data;

	struct moq_namespace ns = sh_ns("live");
	struct moq_request *sub =
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL);
	ck_assert_ptr_nonnull(sub);
	ck_assert(sh_run_until(&w, all_streams_done, &w, 30000));
	ck_assert_msg(v.errors == 0, "%d errors, first: %s", v.errors, v.first_error);
	ck_assert_int_eq(v.streams_ok, GROUPS * SUBGROUPS);
	ck_assert_int_eq(v.objects_ok, GROUPS * SUBGROUPS * PER_SUBGROUP);
	ck_assert_int_eq(w.cli[0].last_msg_type, MOQ_CTRL_SUBSCRIBE_OK);
	ck_assert_int_eq(moq_request_state(sub), MOQ_REQ_ESTABLISHED);
	ck_assert_uint_eq(moq_request_track_alias(sub), w.cli[0].last_alias);
	struct moq_session_stats st;
	moq_session_stats(w.cli[0].s, &st);
	ck_assert_uint_eq(st.objects_received, 10000);
	ck_assert_uint_eq(st.data_streams_received, GROUPS * SUBGROUPS);
	sh_world_free(&w);
}

START_TEST(subscribe_ok_then_10000_objects_arrive_byte_exact_in_order)
{
	subscribe_10000(0);
}
END_TEST

START_TEST(subscribe_10000_objects_over_tls)
{
	subscribe_10000(1);
}
END_TEST

START_TEST(subscribe_10000_objects_over_webtransport)
{
	subscribe_10000(2);
}
END_TEST

static bool cli_req_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_closed > 0 || w->cli[0].closed;
}

START_TEST(subscribe_to_unknown_track_gets_request_error)
{
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_video;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("nope"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_req_closed, &w, 3000));
	ck_assert_int_eq(w.cli[0].last_msg_type, MOQ_CTRL_REQUEST_ERROR);
	ck_assert_uint_eq(w.cli[0].last_error_code, MOQ_REQERR_DOES_NOT_EXIST);
	ck_assert_int_eq(w.cli[0].closed_why, MOQ_REQ_END_ERROR);
	ck_assert(!w.cli[0].closed);
	sh_world_free(&w);
}
END_TEST

/* publisher accepts but sends nothing yet */
static void accept_only(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(moq_request_subscribe_ok(req, 7, NULL, (struct moq_bytes){0}), 0);
}

static bool cli_subscribed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].last_msg_type == MOQ_CTRL_SUBSCRIBE_OK;
}

static bool srv_req_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->srv[0].n_closed > 0;
}

START_TEST(unsubscribe_by_cancel_ends_the_subscription_at_the_publisher)
{
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = accept_only;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	struct moq_request *sub =
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL);
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_alias, 7);
	moq_request_cancel(sub, MOQ_RESET_CANCELLED);
	ck_assert(sh_run_until(&w, srv_req_closed, &w, 3000));
	ck_assert_int_eq(w.srv[0].closed_why, MOQ_REQ_END_PEER_CANCEL);
	ck_assert_uint_eq(w.srv[0].closed_code, MOQ_RESET_CANCELLED);
	/* the subscriber got no callback for its own cancel */
	ck_assert_int_eq(w.cli[0].n_closed, 0);
	ck_assert(!w.srv[0].closed && !w.cli[0].closed);
	sh_world_free(&w);
}
END_TEST

/* publisher: one subgroup of 3 objects then PUBLISH_DONE */
static void publish_then_done(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.group_id = 5;
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(req, &h, NULL);
	ck_assert_ptr_nonnull(tx);
	for (uint64_t o = 0; o < 3; o++) {
		struct moq_tx_object ob = {.object_id = o, .payload_length = 4};
		ck_assert_int_eq(moq_tx_object(tx, &ob, "abcd"), 0);
	}
	ck_assert_int_eq(moq_tx_finish(tx), 0);
	ck_assert_int_eq(moq_request_publish_done(req, MOQ_PUBDONE_TRACK_ENDED, "the end"), 0);
}

START_TEST(publish_done_ends_subscription_after_its_streams)
{
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = publish_then_done;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_req_closed, &w, 5000));
	ck_assert_int_eq(w.cli[0].closed_why, MOQ_REQ_END_DONE);
	ck_assert_uint_eq(w.cli[0].done_status, MOQ_PUBDONE_TRACK_ENDED);
	ck_assert_uint_eq(w.cli[0].done_count, 1);
	/* the stream and its objects were delivered before the end */
	ck_assert_int_eq(w.cli[0].n_objects, 3);
	ck_assert_int_eq(w.cli[0].n_stream_end, 1);
	sh_world_free(&w);
}
END_TEST

/* ---- datagrams ---- */

static void serve_datagrams(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
	r->req = req;
}

static bool cli_has_dgrams(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_dgrams >= 20;
}

START_TEST(datagram_track_delivers_objects_to_the_subscription)
{
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_datagrams;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("audio"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	struct moq_request *req = w.srv[0].req;
	ck_assert_ptr_nonnull(req);
	uint64_t sum = 0;
	for (uint64_t o = 0; o < 20; o++) {
		struct moq_object_datagram d;
		memset(&d, 0, sizeof(d));
		d.group_id = 1;
		d.object_id = o;
		d.default_priority = true;
		d.payload = sh_bytes("opus-frame");
		ck_assert_int_eq(moq_request_send_datagram(req, &d, 0), 0);
		sum += o;
	}
	ck_assert(sh_run_until(&w, cli_has_dgrams, &w, 3000));
	ck_assert_uint_eq(w.cli[0].dgram_sum, sum);
	sh_world_free(&w);
}
END_TEST

/* ---- delivery timeout ---- */

static void serve_stale(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
	struct moq_subscription_info info;
	ck_assert_int_eq(moq_request_subscription(req, &info), 0);
	ck_assert_uint_eq(info.object_delivery_timeout, 50);
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.group_id = 1;
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(req, &h, NULL);
	ck_assert_ptr_nonnull(tx);
	struct moq_tx_object ob = {.object_id = 0, .payload_length = 4};
	ck_assert_int_eq(moq_tx_object(tx, &ob, "good"), 0);
	r->req = req;
	r->test = tx;
}

static bool cli_has_object(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_objects > 0;
}

/* an object whose first byte arrived 200 ms ago: past the 50 ms
 * OBJECT_DELIVERY_TIMEOUT, the stream must be reset */
static void write_stale(struct rec *r)
{
	struct moq_tx *tx = r->test;
	struct moq_tx_object ob = {.object_id = 1, .payload_length = 4};
	ob.first_byte_ns = moq_loop_now() - 200ull * 1000000ull;
	ck_assert_int_eq(moq_tx_object(tx, &ob, "late"), -ETIMEDOUT);
	ck_assert_int_eq(r->n_tx_timeout, 1);
	/* stale datagrams are dropped, not sent */
	struct moq_object_datagram d;
	memset(&d, 0, sizeof(d));
	d.default_priority = true;
	d.payload = sh_bytes("x");
	ck_assert_int_eq(moq_request_send_datagram(r->req, &d, ob.first_byte_ns), -ETIMEDOUT);
	moq_tx_reset(tx, MOQ_RESET_DELIVERY_TIMEOUT); /* release the handle */
}

static bool cli_saw_reset(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_resets > 0;
}

START_TEST(object_delivery_timeout_resets_stream_seen_by_receiver)
{
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_stale;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	struct moq_params p;
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT, 50), 0);
	ck_assert_ptr_nonnull(moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), &p, NULL));
	ck_assert(sh_run_until(&w, cli_has_object, &w, 3000));
	write_stale(&w.srv[0]);
	ck_assert(sh_run_until(&w, cli_saw_reset, &w, 3000));
	ck_assert_uint_eq(w.cli[0].reset_code, MOQ_RESET_DELIVERY_TIMEOUT);
	ck_assert_int_eq(w.cli[0].n_stream_end, 0);
	struct moq_session_stats st;
	moq_session_stats(w.srv[0].s, &st);
	ck_assert_uint_eq(st.streams_reset_timeout, 1);
	ck_assert_uint_eq(st.datagrams_dropped_timeout, 1);
	sh_world_free(&w);
}
END_TEST

/* publisher: one open stream with one object, never finished */
static void serve_open_stream(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(
	    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, (struct moq_bytes){0}), 0);
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(req, &h, NULL);
	ck_assert_ptr_nonnull(tx);
	struct moq_tx_object ob = {.object_id = 0, .payload_length = 2};
	ck_assert_int_eq(moq_tx_object(tx, &ob, "hi"), 0);
}

static bool cli_got_object(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_objects > 0;
}

static bool cli_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].closed;
}

START_TEST(open_data_stream_is_reported_ended_when_the_session_closes)
{
	struct sh_world w;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_open_stream;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_got_object, &w, 3000));
	moq_session_close(w.cli[0].s, MOQ_SESSION_NO_ERROR, NULL);
	ck_assert(sh_run_until(&w, cli_closed, &w, 3000));
	/* the stream, then its request, were reported ended */
	ck_assert_int_eq(w.cli[0].n_resets, 1);
	ck_assert_uint_eq(w.cli[0].reset_code, MOQ_RESET_SESSION_CLOSED);
	ck_assert_int_eq(w.cli[0].n_closed, 1);
	ck_assert_int_eq(w.cli[0].closed_why, MOQ_REQ_END_SESSION);
	sh_world_free(&w);
}
END_TEST

/* ---- scheduling ---- */

START_TEST(data_priority_orders_subscriber_then_publisher_then_group)
{
	/* lower value is sent first */
	ck_assert_uint_lt(moq_session_data_priority(1, 255, 2047, 15),
			  moq_session_data_priority(2, 0, 0, 0));
	ck_assert_uint_lt(moq_session_data_priority(5, 1, 2047, 15),
			  moq_session_data_priority(5, 2, 0, 0));
	ck_assert_uint_lt(moq_session_data_priority(5, 5, 3, 15),
			  moq_session_data_priority(5, 5, 4, 0));
	ck_assert_uint_lt(moq_session_data_priority(5, 5, 3, 0),
			  moq_session_data_priority(5, 5, 3, 1));
	/* data always after control (0) and request streams (1..8) */
	ck_assert_uint_ge(moq_session_data_priority(0, 0, 0, 0), 16);
	/* saturation, no overflow */
	ck_assert_uint_eq(moq_session_data_priority(255, 255, 99999, 99),
			  moq_session_data_priority(255, 255, 2047, 15));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_subscribe");
	TCase *tc = tcase_create("subscribe");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, subscribe_ok_then_10000_objects_arrive_byte_exact_in_order);
	tcase_add_test(tc, subscribe_10000_objects_over_tls);
	tcase_add_test(tc, subscribe_10000_objects_over_webtransport);
	tcase_add_test(tc, subscribe_to_unknown_track_gets_request_error);
	tcase_add_test(tc, unsubscribe_by_cancel_ends_the_subscription_at_the_publisher);
	tcase_add_test(tc, publish_done_ends_subscription_after_its_streams);
	tcase_add_test(tc, datagram_track_delivers_objects_to_the_subscription);
	tcase_add_test(tc, object_delivery_timeout_resets_stream_seen_by_receiver);
	tcase_add_test(tc, data_priority_orders_subscriber_then_publisher_then_group);
	tcase_add_test(tc, open_data_stream_is_reported_ended_when_the_session_closes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
