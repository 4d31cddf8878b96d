/* Timer heap micro-benchmark (moq/quic/loop.c): T timers (connection-like),
 * each re-armed like the fast path's PTO timer: set later, cancel, insert,
 * at random. Built and run by bench/timer_heap.sh:
 *   timer_heap [TIMERS (3000)] [EVICT: cache lines touched per operation] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "quic/loop.h"
static void cb(struct moq_loop *l, struct moq_timer *t, void *a)
{
	(void)l;
	(void)t;
	(void)a;
}
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
int main(int argc, char **argv)
{
	size_t T = argc > 1 ? strtoul(argv[1], 0, 0) : 3000, ops = argc > 2 ? 1000000 : 4000000;
	struct moq_loop *l = moq_loop_new();
	struct moq_timer **t = malloc(T * sizeof(*t));
	char **pad = malloc(T * sizeof(*pad));
	uint64_t base = moq_loop_now() + 3600ull * 1000000000ull, clock = 0;
	srandom(1);
	for (size_t i = 0; i < T; i++) {
		t[i] = moq_timer_new(l, cb, NULL);
		pad[i] = malloc(4096); /* spread timers like per-connection structs */
		moq_timer_set(t[i], base + (uint64_t)(random() % 30000000));
	}
	size_t big = 64u << 20, pol = argc > 2 ? strtoul(argv[2], 0, 0) : 0;
	volatile char *junk = calloc(1, big);
	double tj = 0;
	double t0 = now();
	for (size_t k = 0; k < ops; k++) {
		size_t i = (size_t)random() % T;
		for (size_t j = 0; j < pol;
		     j++) /* evict: the relay touches other state between re-arms */
			junk[((size_t)random() * 64) % big]++;
		clock += 5;
		int op = random() % 4;
		if (op == 0)
			moq_timer_cancel(t[i]);
		else
			moq_timer_set(t[i],
				      base + clock + 20000000 + (uint64_t)(random() % 10000000));
	}
	double dt = now() - t0;
	if (pol) { /* subtract the pollution loop's own time */
		double a = now();
		for (size_t k = 0; k < ops; k++) {
			(void)random();
			(void)random();
			(void)random();
			for (size_t j = 0; j < pol; j++)
				junk[((size_t)random() * 64) % big]++;
		}
		tj = now() - a;
	}
	dt -= tj;
	printf("%zu timers: %.1f ns per operation\n", T, dt / ops * 1e9);
	return 0;
}
