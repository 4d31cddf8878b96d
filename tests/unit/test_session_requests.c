/* Requests other than plain SUBSCRIBE: PUBLISH_NAMESPACE, FETCH (standalone
 * and joining), TRACK_STATUS, REQUEST_UPDATE, duplicate subscriptions and
 * request limits. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/session_harness.h"

static const struct moq_bytes no_props = {0};

static void all_srv(struct sh_world *w, rec_request_fn f)
{
	for (int i = 0; i < SH_MAX_SRV; i++)
		w->srv[i].on_request = f;
}

static bool cli_msg(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_msg > 0 || w->cli[0].closed;
}

static bool cli_req_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_closed > 0 || w->cli[0].closed;
}

static bool srv_req_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->srv[0].n_closed > 0 || w->srv[0].closed;
}

/* ---- PUBLISH_NAMESPACE ---- */

static void accept_namespace(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	ck_assert_uint_eq(m->type, MOQ_CTRL_PUBLISH_NAMESPACE);
	ck_assert_uint_eq(m->publish_namespace.track_namespace.nfields, 1);
	struct moq_namespace ns;
	ck_assert(moq_request_track(req, &ns, NULL));
	ck_assert_uint_eq(ns.fields[0].len, 4);
	ck_assert_int_eq(memcmp(ns.fields[0].ptr, "live", 4), 0);
	ck_assert_int_eq(moq_request_ok(req, NULL, no_props), 0);
}

START_TEST(publish_namespace_gets_request_ok)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, accept_namespace);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	struct moq_request *pn = moq_session_publish_namespace(w.cli[0].s, &ns, NULL, NULL);
	ck_assert_ptr_nonnull(pn);
	ck_assert_uint_eq(moq_request_id(pn), 0); /* client ids: 0, 2, ... */
	ck_assert(sh_run_until(&w, cli_msg, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_msg_type, MOQ_CTRL_REQUEST_OK);
	ck_assert_int_eq(moq_request_state(pn), MOQ_REQ_ESTABLISHED);
	ck_assert_uint_eq(w.srv[0].req_type, MOQ_CTRL_PUBLISH_NAMESPACE);
	/* withdrawing the namespace = cancelling the request */
	moq_request_cancel(pn, MOQ_RESET_CANCELLED);
	ck_assert(sh_run_until(&w, srv_req_closed, &w, 3000));
	ck_assert_int_eq(w.srv[0].closed_why, MOQ_REQ_END_PEER_CANCEL);
	sh_world_free(&w);
}
END_TEST

/* ---- TRACK_STATUS ---- */

static void answer_status(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	ck_assert_uint_eq(m->type, MOQ_CTRL_TRACK_STATUS);
	static const uint8_t props[] = {0x0E, 0x40}; /* priority 64 */
	struct moq_params p;
	moq_params_init(&p);
	moq_params_add_location(&p, MOQ_PARAM_LARGEST_OBJECT, (struct moq_location){9, 3});
	ck_assert_int_eq(moq_request_ok(req, &p, (struct moq_bytes){props, sizeof(props)}), 0);
}

START_TEST(track_status_gets_request_ok_and_completes)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, answer_status);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_track_status(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_req_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_msg_type, MOQ_CTRL_REQUEST_OK);
	ck_assert_int_eq(w.cli[0].closed_why, MOQ_REQ_END_COMPLETE);
	sh_world_free(&w);
}
END_TEST

/* ---- FETCH ---- */

struct fetch_rx {
	int objects, end, ranges;
	uint64_t last_group, last_object;
	int in_order;
};

static void serve_fetch(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	if (m->type == MOQ_CTRL_SUBSCRIBE) {
		ck_assert_int_eq(
		    moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
		return;
	}
	ck_assert_uint_eq(m->type, MOQ_CTRL_FETCH);
	int groups = 2;
	if (m->fetch.fetch_type != MOQ_FETCH_STANDALONE) {
		struct moq_request *j = moq_request_joined(req);
		ck_assert_ptr_nonnull(j);
		ck_assert_uint_eq(moq_request_type(j), MOQ_CTRL_SUBSCRIBE);
		ck_assert_uint_eq(moq_request_id(j), m->fetch.joining.joining_request_id);
		groups = 1;
	}
	int err = 0;
	struct moq_tx *tx = moq_tx_fetch_open(req, &err);
	ck_assert_msg(tx != NULL, "fetch open %d", err);
	if (groups == 2) /* standalone: group 0 objects 0..1 do not exist */
		ck_assert_int_eq(moq_tx_fetch_end_of_range(tx, false, (struct moq_location){0, 1}),
				 0);
	for (int g = 0; g < groups; g++) {
		for (int o = groups == 2 && g == 0 ? 2 : 0; o < 5; o++) {
			struct moq_tx_object ob;
			memset(&ob, 0, sizeof(ob));
			ob.group_id = (uint64_t)g;
			ob.object_id = (uint64_t)o;
			ob.publisher_priority = 128;
			ob.payload_length = 3;
			ck_assert_int_eq(moq_tx_object(tx, &ob, "obj"), 0);
		}
	}
	/* objects may precede FETCH_OK; the answer comes after */
	ck_assert_int_eq(
	    moq_request_fetch_ok(req, false, (struct moq_location){1, 5}, NULL, no_props), 0);
	ck_assert_int_eq(moq_tx_finish(tx), 0);
}

static void fetch_data(struct rec *r, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct fetch_rx *f = r->test;
	ck_assert_uint_eq(ev->stream, MOQ_DATA_FETCH_HEADER);
	ck_assert_ptr_nonnull(moq_rx_request(rx));
	if (ev->type == MOQ_DATA_EV_OBJECT) {
		const struct moq_fetch_object *o = &ev->fetch_object;
		if (f->objects && (o->group_id < f->last_group || (o->group_id == f->last_group &&
								   o->object_id <= f->last_object)))
			f->in_order = 0;
		f->last_group = o->group_id;
		f->last_object = o->object_id;
		f->objects++;
	}
	if (ev->type == MOQ_DATA_EV_STREAM_END)
		f->end++;
	if (ev->type == MOQ_DATA_EV_END_OF_RANGE) {
		f->ranges++;
		f->last_group = ev->fetch_object.group_id;
		f->last_object = ev->fetch_object.object_id;
	}
}

START_TEST(standalone_fetch_gets_fetch_ok_objects_and_end_of_range_then_completes)
{
	struct sh_world w;
	struct fetch_rx f = {.in_order = 1};
	sh_world_init(&w, false);
	all_srv(&w, serve_fetch);
	sh_connect_ready(&w);
	w.cli[0].test = &f;
	w.cli[0].on_data = fetch_data;
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(moq_session_fetch(w.cli[0].s, &ns, sh_bytes("video"),
						(struct moq_location){0, 0},
						(struct moq_location){1, 5}, NULL, NULL));
	ck_assert(sh_run_until(&w, cli_req_closed, &w, 3000));
	ck_assert_int_eq(w.cli[0].closed_why, MOQ_REQ_END_COMPLETE);
	ck_assert_uint_eq(w.cli[0].last_msg_type, MOQ_CTRL_FETCH_OK);
	ck_assert_int_eq(f.objects, 8);
	ck_assert_int_eq(f.ranges, 1);
	ck_assert_int_eq(f.end, 1);
	ck_assert(f.in_order);
	ck_assert(sh_run_until(&w, srv_req_closed, &w, 3000));
	ck_assert_int_eq(w.srv[0].closed_why, MOQ_REQ_END_COMPLETE);
	sh_world_free(&w);
}
END_TEST

static bool cli_subscribed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].last_msg_type == MOQ_CTRL_SUBSCRIBE_OK;
}

START_TEST(joining_fetch_names_the_subscription_it_joins)
{
	struct sh_world w;
	struct fetch_rx f = {.in_order = 1};
	sh_world_init(&w, false);
	all_srv(&w, serve_fetch);
	sh_connect_ready(&w);
	w.cli[0].test = &f;
	w.cli[0].on_data = fetch_data;
	struct moq_namespace ns = sh_ns("live");
	struct moq_request *sub =
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL);
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	ck_assert_ptr_nonnull(moq_session_joining_fetch(w.cli[0].s, sub, false, 1, NULL, NULL));
	ck_assert(sh_run_until(&w, cli_req_closed, &w, 3000));
	ck_assert_int_eq(w.cli[0].closed_why, MOQ_REQ_END_COMPLETE);
	ck_assert_int_eq(f.objects, 5);
	/* the subscription is untouched */
	ck_assert_int_eq(moq_request_state(sub), MOQ_REQ_ESTABLISHED);
	sh_world_free(&w);
}
END_TEST

/* ---- REQUEST_UPDATE ---- */

static void accept_sub(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	r->req = req;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
}

static void ok_updates(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	if (m->type == MOQ_CTRL_REQUEST_UPDATE)
		ck_assert_int_eq(moq_request_ok(req, NULL, no_props), 0);
}

static bool cli_two_msgs(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_msg >= 2 || w->cli[0].closed;
}

START_TEST(request_update_changes_subscriber_priority_and_is_acknowledged)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, accept_sub);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_msg = ok_updates;
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	struct moq_request *sub =
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL);
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	struct moq_params p;
	moq_params_init(&p);
	moq_params_add_u64(&p, MOQ_PARAM_SUBSCRIBER_PRIORITY, 10);
	ck_assert_int_eq(moq_request_update(sub, &p), 0);
	ck_assert(sh_run_until(&w, cli_two_msgs, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_msg_type, MOQ_CTRL_REQUEST_OK);
	struct moq_subscription_info info;
	ck_assert_int_eq(moq_request_subscription(w.srv[0].req, &info), 0);
	ck_assert_uint_eq(info.subscriber_priority, 10);
	ck_assert(!w.cli[0].closed && !w.srv[0].closed);
	sh_world_free(&w);
}
END_TEST

/* ---- duplicate subscription, limits ---- */

static bool cli_one_closed(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_closed >= 1 || w->cli[0].closed;
}

START_TEST(second_subscribe_to_same_track_is_duplicate_subscription)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, accept_sub);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 3000));
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_one_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_error_code, MOQ_REQERR_DUPLICATE_SUBSCRIPTION);
	ck_assert_int_eq(w.srv[0].n_req, 1);
	sh_world_free(&w);
}
END_TEST

START_TEST(subscriptions_beyond_the_limit_get_excessive_load)
{
	struct sh_world w;
	sh_world_init(&w, false);
	w.srv_cfg.max_subscriptions = 2;
	all_srv(&w, accept_sub);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	const char *names[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(
		    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes(names[i]), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_one_closed, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_error_code, MOQ_REQERR_EXCESSIVE_LOAD);
	ck_assert_int_eq(w.srv[0].n_req, 2);
	sh_world_free(&w);
}
END_TEST

START_TEST(requests_sent_before_ready_are_queued_and_sent)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, accept_sub);
	struct rec *c = sh_connect(&w);
	/* not even connected yet */
	struct moq_namespace ns = sh_ns("live");
	struct moq_request *sub = moq_session_subscribe(c->s, &ns, sh_bytes("video"), NULL, NULL);
	ck_assert_ptr_nonnull(sub);
	ck_assert(sh_run_until(&w, cli_subscribed, &w, 5000));
	ck_assert_int_eq(moq_request_state(sub), MOQ_REQ_ESTABLISHED);
	sh_world_free(&w);
}
END_TEST

/* ---- SUBSCRIBE_NAMESPACE ---- */

static void answer_ns(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	ck_assert_uint_eq(m->type, MOQ_CTRL_SUBSCRIBE_NAMESPACE);
	ck_assert_int_eq(moq_request_ok(req, NULL, no_props), 0);
	struct moq_ctrl_msg n;
	memset(&n, 0, sizeof(n));
	n.type = MOQ_CTRL_NAMESPACE;
	n.namespace.track_namespace_suffix = sh_ns("room1");
	ck_assert_int_eq(moq_request_send(req, &n), 0);
	/* a SUBSCRIBE_OK makes no sense here */
	n.type = MOQ_CTRL_SUBSCRIBE_OK;
	ck_assert_int_eq(moq_request_send(req, &n), -EINVAL);
}

START_TEST(subscribe_namespace_gets_request_ok_then_namespace)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, answer_ns);
	sh_connect_ready(&w);
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SUBSCRIBE_NAMESPACE;
	m.subscribe_namespace.track_namespace_prefix = sh_ns("chat");
	ck_assert_ptr_nonnull(moq_session_request(w.cli[0].s, &m, NULL, NULL));
	ck_assert(sh_run_until(&w, cli_two_msgs, &w, 3000));
	ck_assert_uint_eq(w.cli[0].last_msg_type, MOQ_CTRL_NAMESPACE);
	ck_assert(!w.cli[0].closed);
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_requests");
	TCase *tc = tcase_create("requests");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, publish_namespace_gets_request_ok);
	tcase_add_test(tc, track_status_gets_request_ok_and_completes);
	tcase_add_test(tc, standalone_fetch_gets_fetch_ok_objects_and_end_of_range_then_completes);
	tcase_add_test(tc, joining_fetch_names_the_subscription_it_joins);
	tcase_add_test(tc, request_update_changes_subscriber_priority_and_is_acknowledged);
	tcase_add_test(tc, second_subscribe_to_same_track_is_duplicate_subscription);
	tcase_add_test(tc, subscriptions_beyond_the_limit_get_excessive_load);
	tcase_add_test(tc, requests_sent_before_ready_are_queued_and_sent);
	tcase_add_test(tc, subscribe_namespace_gets_request_ok_then_namespace);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
