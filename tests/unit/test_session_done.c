/* The end of a subscription on the subscriber side (draft-18 PUBLISH_DONE):
 * the request stays open for the streams PUBLISH_DONE counts, and the
 * draft's timer ends it when a counted stream never comes. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/session_harness.h"

static const struct moq_bytes no_props = {0};
static uint64_t g_extra;   /* streams announced but never opened */
static uint64_t g_done_ns; /* when the publisher sent PUBLISH_DONE */

/* SUBSCRIBE_OK, one subgroup stream with two objects and FIN, then
 * PUBLISH_DONE counting it (and g_extra streams it never opens). */
static void serve_and_end(struct rec *r, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	struct moq_subgroup_header h;
	struct moq_tx *tx;

	(void)r;
	(void)m;
	ck_assert_int_eq(moq_request_subscribe_ok(req, MOQ_SESSION_ALIAS_AUTO, NULL, no_props), 0);
	memset(&h, 0, sizeof(h));
	h.default_priority = true;
	tx = moq_tx_subgroup_open(req, &h, NULL);
	ck_assert_ptr_nonnull(tx);
	for (uint64_t o = 0; o < 2; o++) {
		struct moq_tx_object ob = {.object_id = o, .payload_length = 3};

		ck_assert_int_eq(moq_tx_object(tx, &ob, "abc"), 0);
	}
	ck_assert_int_eq(moq_tx_finish(tx), 0);
	moq_request_add_streams(req, g_extra);
	g_done_ns = moq_loop_now();
	ck_assert_int_eq(moq_request_publish_done(req, MOQ_PUBDONE_TRACK_ENDED, "end"), 0);
}

static bool cli_closed_req(void *arg)
{
	struct sh_world *w = arg;

	return w->cli[0].n_closed > 0 || w->cli[0].closed;
}

static struct sh_world *subscribe_to_ending_track(uint64_t extra)
{
	static struct sh_world w;
	struct moq_namespace ns = sh_ns("live");

	g_extra = extra;
	g_done_ns = 0;
	sh_world_init(&w, false);
	for (int i = 0; i < SH_MAX_SRV; i++)
		w.srv[i].on_request = serve_and_end;
	sh_connect_ready(&w);
	ck_assert_ptr_nonnull(moq_session_subscribe(w.cli[0].s, &ns, sh_bytes("t"), NULL, NULL));
	return &w;
}

START_TEST(publish_done_ends_the_subscription_once_its_counted_streams_ended)
{
	struct sh_world *w = subscribe_to_ending_track(0);

	ck_assert(sh_run_until(w, cli_closed_req, w, 3000));
	ck_assert_int_eq(w->cli[0].closed, 0);
	ck_assert_uint_eq(w->cli[0].done_status, MOQ_PUBDONE_TRACK_ENDED);
	ck_assert_uint_eq(w->cli[0].done_count, 1);
	ck_assert_int_eq(w->cli[0].closed_why, MOQ_REQ_END_DONE);
	ck_assert_int_eq(w->cli[0].n_objects, 2);
	ck_assert_int_eq(w->cli[0].n_stream_end, 1);
	/* no timer: as soon as the one stream ended */
	ck_assert_uint_lt(moq_loop_now() - g_done_ns, 500000000ull);
	sh_world_free(w);
}
END_TEST

/* The draft's timer for a publisher that never opens a stream it counted:
 * at least the larger delivery timeout (here none: 1 s), then the end. */
START_TEST(publish_done_counting_a_stream_never_opened_ends_by_the_timer)
{
	struct sh_world *w = subscribe_to_ending_track(2);
	uint64_t waited;

	ck_assert(sh_run_until(w, cli_closed_req, w, 5000));
	waited = moq_loop_now() - g_done_ns;
	ck_assert_int_eq(w->cli[0].closed, 0);
	ck_assert_uint_eq(w->cli[0].done_count, 3);
	ck_assert_int_eq(w->cli[0].closed_why, MOQ_REQ_END_DONE);
	ck_assert_int_eq(w->cli[0].n_objects, 2);
	ck_assert_msg(waited >= 950000000ull && waited < 2500000000ull,
		      "subscription ended %llu ms after PUBLISH_DONE",
		      (unsigned long long)(waited / 1000000));
	sh_world_free(w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session_done");
	TCase *tc = tcase_create("publish_done");
	SRunner *sr;
	int nf;

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, publish_done_ends_the_subscription_once_its_counted_streams_ended);
	tcase_add_test(tc, publish_done_counting_a_stream_never_opened_ends_by_the_timer);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
