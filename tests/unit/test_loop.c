/* moq/quic/loop.c: a timer that the previous pass's callbacks armed already
 * due runs before the next wait, without an epoll_pwait2 of its own (the
 * relay's tick re-armed a connection timer at "now" once per tick). */
#include <check.h>
#include <stdlib.h>

#include "quic/loop.h"

struct chain {
	struct moq_loop *loop;
	struct moq_timer *second;
	int first_ran, second_ran;
	uint64_t polls_at_second; /* epoll_pwait2 calls before it ran */
};

static void second_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct chain *c = arg;

	(void)loop;
	(void)t;
	c->second_ran++;
	c->polls_at_second = moq_loop_polls(c->loop);
}

static void first_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct chain *c = arg;

	(void)loop;
	(void)t;
	c->first_ran++;
	/* due at once, but later than the pass's own clock reading */
	moq_timer_set(c->second, moq_loop_now());
}

START_TEST(due_timer_runs_without_a_poll_of_its_own)
{
	struct moq_loop *l = moq_loop_new();
	struct chain c = {.loop = l};
	struct moq_timer *first;

	ck_assert_ptr_nonnull(l);
	first = moq_timer_new(l, first_cb, &c);
	c.second = moq_timer_new(l, second_cb, &c);
	moq_timer_set_in(first, 1000000ull); /* 1 ms: a timed wait runs it */
	ck_assert_int_ge(moq_loop_run_once(l, 50), 0);
	ck_assert_int_eq(c.first_ran, 1);
	ck_assert_uint_eq(moq_loop_polls(l), 1);
	/* the next pass runs the due timer before it waits (not after a
	 * zero-timeout poll); the wait then blocks for the 1 ms asked */
	ck_assert_int_ge(moq_loop_run_once(l, 1), 0);
	ck_assert_int_eq(c.second_ran, 1);
	ck_assert_uint_eq(c.polls_at_second, 1);
	ck_assert_uint_eq(moq_loop_polls(l), 2);
	moq_timer_free(first);
	moq_timer_free(c.second);
	moq_loop_free(l);
}
END_TEST

START_TEST(timer_rearmed_in_the_past_still_lets_fds_be_polled)
{
	struct moq_loop *l = moq_loop_new();
	struct chain c = {.loop = l};
	struct moq_timer *first;

	ck_assert_ptr_nonnull(l);
	first = moq_timer_new(l, first_cb, &c);
	c.second = moq_timer_new(l, second_cb, &c);
	moq_timer_set(first, 0); /* due: runs before the first wait */
	ck_assert_int_ge(moq_loop_run_once(l, 50), 0);
	ck_assert_int_eq(c.first_ran, 1);
	ck_assert_int_eq(c.second_ran, 1); /* due at the zero-timeout poll */
	ck_assert_uint_eq(moq_loop_polls(l), 1);
	moq_timer_free(first);
	moq_timer_free(c.second);
	moq_loop_free(l);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("loop");
	TCase *tc = tcase_create("timers");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, due_timer_runs_without_a_poll_of_its_own);
	tcase_add_test(tc, timer_rearmed_in_the_past_still_lets_fds_be_polled);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
