/* The loop's timer heap (moq/quic/loop.c) against a model: after random
 * arms, re-arms (earlier and later), cancels and frees, moq_timer_when
 * says what the model says and one pass fires exactly the armed timers,
 * in expiry order. */
#include <check.h>
#include <stdlib.h>

#include "quic/loop.h"

#define N 3000

struct rec {
	size_t fired[N];
	uint64_t when[N];
	size_t n;
};

static struct rec rec;
static size_t ids[N];
static uint64_t model[N]; /* UINT64_MAX: disarmed */

static void on_timer(struct moq_loop *l, struct moq_timer *t, void *arg)
{
	size_t id = *(size_t *)arg;

	(void)l;
	(void)t;
	rec.fired[rec.n] = id;
	rec.when[rec.n] = model[id];
	rec.n++;
}

/* Times in the past (the monotonic clock is far above 2^20 ns after
 * boot): everything armed fires in the next pass. Few distinct values,
 * so equal keys are exercised too. */
static uint64_t rnd_when(void)
{
	return 1 + (uint64_t)(random() % 5000);
}

static void run_model(unsigned seed, size_t ops)
{
	struct moq_loop *l = moq_loop_new();
	struct moq_timer *t[N];

	srandom(seed);
	rec.n = 0;
	ck_assert_ptr_nonnull(l);
	for (size_t i = 0; i < N; i++) {
		ids[i] = i;
		model[i] = UINT64_MAX;
		t[i] = moq_timer_new(l, on_timer, &ids[i]);
		ck_assert_ptr_nonnull(t[i]);
	}
	for (size_t k = 0; k < ops; k++) {
		size_t i = (size_t)random() % N;
		int op = (int)(random() % 10);

		if (op < 7) { /* arm or move (earlier or later) */
			uint64_t w = rnd_when();

			moq_timer_set(t[i], w);
			model[i] = w;
		} else if (op < 9) {
			moq_timer_cancel(t[i]);
			model[i] = UINT64_MAX;
		} else { /* free and replace: its heap slot is reused */
			moq_timer_free(t[i]);
			t[i] = moq_timer_new(l, on_timer, &ids[i]);
			model[i] = UINT64_MAX;
		}
	}
	size_t armed = 0;

	for (size_t i = 0; i < N; i++) {
		ck_assert_uint_eq(moq_timer_when(t[i]), model[i]);
		armed += model[i] != UINT64_MAX;
	}
	ck_assert_int_ge(moq_loop_run_once(l, 0), 0);
	ck_assert_uint_eq(rec.n, armed);
	for (size_t j = 0; j < rec.n; j++) {
		ck_assert_uint_ne(model[rec.fired[j]], UINT64_MAX);
		if (j)
			ck_assert_uint_le(rec.when[j - 1], rec.when[j]);
		model[rec.fired[j]] = UINT64_MAX;
		ck_assert_uint_eq(moq_timer_when(t[rec.fired[j]]), UINT64_MAX);
	}
	for (size_t i = 0; i < N; i++)
		moq_timer_free(t[i]);
	moq_loop_free(l);
}

START_TEST(fires_armed_timers_in_order)
{
	for (unsigned seed = 1; seed <= 20; seed++)
		run_model(seed, 20000);
}
END_TEST

/* Re-arming a timer inside the heap many times (the fast path's PTO timer
 * on every ACK) keeps the order. */
START_TEST(rearm_storm_keeps_order)
{
	run_model(99, 200000);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("loop_timers");
	TCase *c = tcase_create("heap");

	tcase_add_test(c, fires_armed_timers_in_order);
	tcase_add_test(c, rearm_storm_keeps_order);
	tcase_set_timeout(c, 30);
	suite_add_tcase(s, c);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
