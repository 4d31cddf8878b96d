/* Publisher-initiated subscriptions (PUBLISH), stream cancellation by the
 * subscriber, the scheduling order seen on the wire, and back pressure. */
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

/* ---- PUBLISH ---- */

static void accept_publish(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	ck_assert_uint_eq(m->type, MOQ_CTRL_PUBLISH);
	r->req = req;
	ck_assert_int_eq(moq_request_ok(req, NULL, no_props), 0);
}

static bool cli_published_ok(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_msg > 0 || w->cli[0].closed;
}

static bool srv_has_3(void *arg)
{
	struct sh_world *w = arg;
	return w->srv[0].n_stream_end > 0 || w->srv[0].closed;
}

START_TEST(publish_is_accepted_and_its_objects_reach_the_subscriber)
{
	struct sh_world w;
	sh_world_init(&w, false);
	all_srv(&w, accept_publish);
	sh_connect_ready(&w);
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_PUBLISH;
	m.publish.track_namespace = sh_ns("live");
	m.publish.track_name = sh_bytes("cam");
	m.publish.track_alias = MOQ_SESSION_ALIAS_AUTO;
	int err = 0;
	struct moq_request *pub = moq_session_request(w.cli[0].s, &m, NULL, &err);
	ck_assert_msg(pub != NULL, "publish: %d", err);
	ck_assert(sh_run_until(&w, cli_published_ok, &w, 3000));
	ck_assert(w.cli[0].last_msg_type == MOQ_CTRL_PUBLISH_OK ||
		  w.cli[0].last_msg_type == MOQ_CTRL_REQUEST_OK);
	ck_assert_int_eq(moq_request_state(pub), MOQ_REQ_ESTABLISHED);

	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.group_id = 0;
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(pub, &h, &err);
	ck_assert_msg(tx != NULL, "open: %d", err);
	for (uint64_t o = 0; o < 3; o++) {
		struct moq_tx_object ob = {.object_id = o, .payload_length = 5};
		ck_assert_int_eq(moq_tx_object(tx, &ob, "hello"), 0);
	}
	ck_assert_int_eq(moq_tx_finish(tx), 0);
	ck_assert(sh_run_until(&w, srv_has_3, &w, 3000));
	ck_assert_int_eq(w.srv[0].n_objects, 3);
	ck_assert_uint_eq(w.srv[0].req_type, MOQ_CTRL_PUBLISH);
	sh_world_free(&w);
}
END_TEST

/* ---- STOP_SENDING on a subgroup stream ---- */

static int g_stopped;
static uint64_t g_stop_code;

static void on_tx_stopped(struct moq_session *s, struct moq_tx *tx, uint64_t code)
{
	(void)s;
	g_stopped++;
	g_stop_code = code;
	moq_tx_reset(tx, code); /* release the handle */
}

static void serve_one_stream(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.default_priority = true;
	struct moq_tx *tx = moq_tx_subgroup_open(req, &h, NULL);
	ck_assert_ptr_nonnull(tx);
	struct moq_tx_object ob = {.object_id = 0, .payload_length = 3};
	ck_assert_int_eq(moq_tx_object(tx, &ob, "one"), 0);
	r->test = tx;
}

static void stop_on_first_object(struct rec *r, struct moq_rx *rx, const struct moq_data_event *ev)
{
	(void)r;
	if (ev->type == MOQ_DATA_EV_OBJECT_END)
		moq_rx_stop(rx, MOQ_RESET_CANCELLED);
}

static bool stopped(void *arg)
{
	(void)arg;
	return g_stopped > 0;
}

START_TEST(stop_sending_on_a_subgroup_stream_reaches_the_publisher)
{
	struct sh_world w;
	struct moq_session_callbacks cb = sh_callbacks;
	cb.on_tx_stopped = on_tx_stopped;
	g_stopped = 0;
	sh_world_init(&w, false);
	w.srv_cfg.cb = &cb;
	all_srv(&w, serve_one_stream);
	sh_connect_ready(&w);
	w.cli[0].on_data = stop_on_first_object;
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, stopped, NULL, 3000));
	ck_assert_uint_eq(g_stop_code, MOQ_RESET_CANCELLED);
	/* the subscription itself is unaffected */
	ck_assert_int_eq(w.srv[0].n_closed, 0);
	ck_assert_int_eq(w.cli[0].n_closed, 0);
	sh_world_free(&w);
}
END_TEST

/* ---- scheduling order ---- */

#define SCHED_GROUPS 5
#define SCHED_OBJS 40
#define SCHED_LEN 1000

struct order {
	int n;
	uint64_t groups[16];
	uint64_t tracks[16];
};

static void publish_groups(struct moq_request *req, uint8_t prio)
{
	static uint8_t payload[SCHED_LEN];
	for (uint64_t g = 0; g < SCHED_GROUPS; g++) {
		struct moq_subgroup_header h;
		memset(&h, 0, sizeof(h));
		h.group_id = g;
		h.publisher_priority = prio;
		struct moq_tx *tx = moq_tx_subgroup_open(req, &h, NULL);
		ck_assert_ptr_nonnull(tx);
		for (uint64_t o = 0; o < SCHED_OBJS; o++) {
			struct moq_tx_object ob = {.object_id = o, .payload_length = SCHED_LEN};
			ck_assert_int_eq(moq_tx_object(tx, &ob, payload), 0);
		}
		ck_assert_int_eq(moq_tx_finish(tx), 0);
	}
}

static void serve_groups(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
	publish_groups(req, 128);
}

static void record_order(struct rec *r, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct order *o = r->test;
	if (ev->type == MOQ_DATA_EV_STREAM_END && o->n < 16) {
		o->tracks[o->n] = moq_request_id(moq_rx_request(rx));
		o->groups[o->n++] = ev->subgroup.group_id;
	}
}

static bool all_groups(void *arg)
{
	struct sh_world *w = arg;
	struct order *o = w->cli[0].test;
	return o->n >= SCHED_GROUPS || w->cli[0].closed;
}

static void group_order_test(uint64_t order)
{
	struct sh_world w;
	struct order o;
	memset(&o, 0, sizeof(o));
	sh_world_init(&w, false);
	all_srv(&w, serve_groups);
	sh_connect_ready(&w);
	w.cli[0].test = &o;
	w.cli[0].on_data = record_order;
	struct moq_namespace ns = sh_ns("live");
	struct moq_params p;
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_GROUP_ORDER, order), 0);
	ck_assert_ptr_nonnull(moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), &p, NULL));
	ck_assert(sh_run_until(&w, all_groups, &w, 5000));
	for (int i = 0; i < SCHED_GROUPS; i++) {
		uint64_t want = order == MOQ_GROUP_ORDER_ASCENDING
				    ? (uint64_t)i
				    : (uint64_t)(SCHED_GROUPS - 1 - i);
		ck_assert_msg(o.groups[i] == want, "stream %d ended with group %llu, want %llu", i,
			      (unsigned long long)o.groups[i], (unsigned long long)want);
	}
	sh_world_free(&w);
}

START_TEST(ascending_group_order_sends_lower_groups_first)
{
	group_order_test(MOQ_GROUP_ORDER_ASCENDING);
}
END_TEST

START_TEST(descending_group_order_sends_higher_groups_first)
{
	group_order_test(MOQ_GROUP_ORDER_DESCENDING);
}
END_TEST

/* two subscriptions with different subscriber priorities: the served
 * publisher publishes the low-priority track first */
static void serve_two(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)m;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
	if (r->n_req == 1) {
		r->test = req; /* hold the first until the second arrives */
		return;
	}
	/* write the low-priority subscription's streams first */
	struct moq_subscription_info a, b;
	struct moq_request *first = r->test;
	ck_assert_int_eq(moq_request_subscription(first, &a), 0);
	ck_assert_int_eq(moq_request_subscription(req, &b), 0);
	ck_assert_uint_ne(a.subscriber_priority, b.subscriber_priority);
	if (a.subscriber_priority > b.subscriber_priority) {
		publish_groups(first, 128);
		publish_groups(req, 128);
	} else {
		publish_groups(req, 128);
		publish_groups(first, 128);
	}
}

static bool ten_streams(void *arg)
{
	struct sh_world *w = arg;
	struct order *o = w->cli[0].test;
	return o->n >= 2 * SCHED_GROUPS || w->cli[0].closed;
}

START_TEST(higher_subscriber_priority_is_sent_first)
{
	struct sh_world w;
	struct order o;
	memset(&o, 0, sizeof(o));
	sh_world_init(&w, false);
	all_srv(&w, serve_two);
	/* the server's recorder keeps its own test pointer */
	sh_connect_ready(&w);
	w.cli[0].test = &o;
	w.cli[0].on_data = record_order;
	struct moq_namespace ns = sh_ns("live");
	struct moq_params lo, hi;
	moq_params_init(&lo);
	moq_params_init(&hi);
	moq_params_add_u64(&lo, MOQ_PARAM_SUBSCRIBER_PRIORITY, 200);
	moq_params_add_u64(&hi, MOQ_PARAM_SUBSCRIBER_PRIORITY, 10);
	struct moq_request *a = moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("low"), &lo, NULL);
	struct moq_request *b = moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("high"), &hi, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert(sh_run_until(&w, ten_streams, &w, 5000));
	/* every stream of the high-priority subscription ends before any of
	 * the low one, although the low one was written first */
	for (int i = 0; i < SCHED_GROUPS; i++)
		ck_assert_uint_eq(o.tracks[i], moq_request_id(b));
	sh_world_free(&w);
}
END_TEST

/* ---- group rank window (2048 groups) ---- */

#define WIN_OLD 50 /* finished streams still queued when the window moves */
#define WIN_NEW 3  /* groups past the window */
#define WIN_FIRST 1000
#define WIN_NEXT 2100 /* > 2047 groups after the base (group 0) */
#define WIN_OBJS 4

struct win {
	int n;
	uint64_t groups[1 + WIN_OLD + WIN_NEW];
};

static void accept_sub(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
}

static int64_t win_group(struct moq_request *req, uint64_t g)
{
	static uint8_t payload[SCHED_LEN];
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.group_id = g;
	h.publisher_priority = 128;
	int err = 0;
	struct moq_tx *tx = moq_tx_subgroup_open(req, &h, &err);
	ck_assert_msg(tx != NULL, "open group %llu: %d", (unsigned long long)g, err);
	for (uint64_t o = 0; o < WIN_OBJS; o++) {
		struct moq_tx_object ob = {.object_id = o, .payload_length = SCHED_LEN};
		ck_assert_int_eq(moq_tx_object(tx, &ob, payload), 0);
	}
	int64_t sid = moq_tx_stream_id(tx);
	ck_assert_int_eq(moq_tx_finish(tx), 0);
	return sid;
}

static void record_stream_ends(struct rec *r, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct win *o = r->test;
	(void)rx;
	if (ev->type == MOQ_DATA_EV_STREAM_END &&
	    o->n < (int)(sizeof(o->groups) / sizeof(o->groups[0])))
		o->groups[o->n++] = ev->subgroup.group_id;
}

static bool sub_ok_and_served(void *arg)
{
	struct sh_world *w = arg;
	return (w->cli[0].n_msg > 0 && w->srv[0].req) || w->cli[0].closed;
}

struct acked {
	struct sh_world *w;
	int64_t sid;
};

static bool first_group_acked(void *arg)
{
	struct acked *a = arg;
	struct win *o = a->w->cli[0].test;
	return (o->n == 1 &&
		moq_quic_stream_buffered(moq_session_conn(a->w->srv[0].s), a->sid) == 0) ||
	       a->w->cli[0].closed;
}

static bool win_all(void *arg)
{
	struct sh_world *w = arg;
	struct win *o = w->cli[0].test;
	return o->n >= 1 + WIN_OLD + WIN_NEW || w->cli[0].closed;
}

/* Group 0 is delivered, then groups 1000..1049 are finished but still
 * queued when groups 2100.. (outside the 2048-group rank window of base 0)
 * are opened: the rank base moves, and the queued finished streams must be
 * re-ranked with it, so every stream still leaves in group order. */
static void rank_window_test(uint64_t order)
{
	struct sh_world w;
	struct win o;
	memset(&o, 0, sizeof(o));
	sh_world_init(&w, false);
	all_srv(&w, accept_sub);
	sh_connect_ready(&w);
	w.cli[0].test = &o;
	w.cli[0].on_data = record_stream_ends;
	struct moq_namespace ns = sh_ns("live");
	struct moq_params p;
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_GROUP_ORDER, order), 0);
	ck_assert_ptr_nonnull(moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), &p, NULL));
	ck_assert(sh_run_until(&w, sub_ok_and_served, &w, 3000));
	struct moq_request *req = w.srv[0].req;

	struct acked a = {.w = &w, .sid = win_group(req, 0)};
	ck_assert(sh_run_until(&w, first_group_acked, &a, 3000));
	ck_assert_int_eq(o.n, 1);
	/* nothing runs the loop in between: all of these stay queued */
	for (uint64_t g = WIN_FIRST; g < WIN_FIRST + WIN_OLD; g++)
		win_group(req, g);
	for (uint64_t g = WIN_NEXT; g < WIN_NEXT + WIN_NEW; g++)
		win_group(req, g);
	ck_assert(sh_run_until(&w, win_all, &w, 5000));

	uint64_t want[1 + WIN_OLD + WIN_NEW];
	int k = 0;
	want[k++] = 0;
	if (order == MOQ_GROUP_ORDER_ASCENDING) {
		for (uint64_t g = WIN_FIRST; g < WIN_FIRST + WIN_OLD; g++)
			want[k++] = g;
		for (uint64_t g = WIN_NEXT; g < WIN_NEXT + WIN_NEW; g++)
			want[k++] = g;
	} else {
		for (uint64_t g = WIN_NEXT + WIN_NEW; g-- > WIN_NEXT;)
			want[k++] = g;
		for (uint64_t g = WIN_FIRST + WIN_OLD; g-- > WIN_FIRST;)
			want[k++] = g;
	}
	for (int i = 0; i < k; i++)
		ck_assert_msg(o.groups[i] == want[i], "stream %d ended with group %llu, want %llu",
			      i, (unsigned long long)o.groups[i], (unsigned long long)want[i]);
	sh_world_free(&w);
}

START_TEST(ascending_order_holds_for_finished_streams_when_the_rank_window_moves)
{
	rank_window_test(MOQ_GROUP_ORDER_ASCENDING);
}
END_TEST

START_TEST(descending_order_holds_for_finished_streams_when_the_rank_window_moves)
{
	rank_window_test(MOQ_GROUP_ORDER_DESCENDING);
}
END_TEST

/* ---- back pressure threshold (tx_buffer_low) ---- */

#define BP_LOW (256u << 10)
#define BP_CHUNK (64u << 10)
#define BP_TOTAL (2u << 20)

struct bp {
	struct moq_tx *tx;
	uint64_t written;
	int calls;
	size_t max_buffered; /* largest unacked count seen in on_tx_writable */
	bool finished;
};
static struct bp g_bp;

static void bp_fill(void)
{
	static uint8_t chunk[BP_CHUNK];
	while (g_bp.written < BP_TOTAL && moq_tx_buffered(g_bp.tx) <= BP_LOW) {
		struct moq_tx_object ob = {.object_id = g_bp.written / BP_CHUNK,
					   .payload_length = BP_CHUNK};
		ck_assert_int_eq(moq_tx_object(g_bp.tx, &ob, chunk), 0);
		g_bp.written += BP_CHUNK;
	}
	if (g_bp.written >= BP_TOTAL && !g_bp.finished) {
		g_bp.finished = true;
		ck_assert_int_eq(moq_tx_finish(g_bp.tx), 0);
	}
}

static void bp_on_tx_writable(struct moq_session *s, struct moq_tx *tx)
{
	(void)s;
	ck_assert_ptr_eq(tx, g_bp.tx);
	size_t b = moq_tx_buffered(tx);
	g_bp.calls++;
	if (b > g_bp.max_buffered)
		g_bp.max_buffered = b;
	bp_fill();
}

static void serve_bp(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	(void)r;
	(void)m;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
	struct moq_subgroup_header h;
	memset(&h, 0, sizeof(h));
	h.default_priority = true;
	g_bp.tx = moq_tx_subgroup_open(req, &h, NULL);
	ck_assert_ptr_nonnull(g_bp.tx);
	bp_fill();
}

static bool cli_stream_ended(void *arg)
{
	struct sh_world *w = arg;
	return w->cli[0].n_stream_end > 0 || w->cli[0].closed;
}

START_TEST(tx_buffer_low_sets_the_on_tx_writable_threshold_of_data_streams)
{
	struct sh_world w;
	struct moq_session_callbacks cb = sh_callbacks;
	cb.on_tx_writable = bp_on_tx_writable;
	memset(&g_bp, 0, sizeof(g_bp));
	sh_world_init(&w, false);
	w.srv_cfg.cb = &cb;
	w.srv_cfg.tx_buffer_low = BP_LOW; /* the endpoint's send_buffer_low is 0 */
	all_srv(&w, serve_bp);
	sh_connect_ready(&w);
	struct moq_namespace ns = sh_ns("live");
	ck_assert_ptr_nonnull(
	    moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("video"), NULL, NULL));
	ck_assert(sh_run_until(&w, cli_stream_ended, &w, 10000));
	ck_assert_int_eq(w.cli[0].n_objects, BP_TOTAL / BP_CHUNK);
	ck_assert_int_gt(g_bp.calls, 0);
	/* called while the stream still had unacknowledged data (with the
	 * endpoint's threshold 0 it would only be called when all was acked),
	 * never above the session's threshold */
	ck_assert_uint_gt(g_bp.max_buffered, 0);
	ck_assert_uint_le(g_bp.max_buffered, BP_LOW);
	sh_world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_publish");
	TCase *tc = tcase_create("publish");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, publish_is_accepted_and_its_objects_reach_the_subscriber);
	tcase_add_test(tc, stop_sending_on_a_subgroup_stream_reaches_the_publisher);
	tcase_add_test(tc, ascending_group_order_sends_lower_groups_first);
	tcase_add_test(tc, descending_group_order_sends_higher_groups_first);
	tcase_add_test(tc, higher_subscriber_priority_is_sent_first);
	tcase_add_test(tc, ascending_order_holds_for_finished_streams_when_the_rank_window_moves);
	tcase_add_test(tc, descending_order_holds_for_finished_streams_when_the_rank_window_moves);
	tcase_add_test(tc, tx_buffer_low_sets_the_on_tx_writable_threshold_of_data_streams);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
