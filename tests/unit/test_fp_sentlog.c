/* fp_sentlog: the agent's reader of the egress program's sent log
 * (struct moq_sent_log). A writer here follows the egress program's
 * protocol (tc-progs/subscriber_egress.bpf.h: CAS on head while there is
 * room, fill, atomic add on seq). */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fp_sentlog.h"

#define N MOQ_SENT_LOG_ENTRIES

static struct moq_sent_log *L;

static void setup(void)
{
	L = calloc(1, sizeof(*L));
	ck_assert_ptr_nonnull(L);
}

static void teardown(void)
{
	free(L);
}

/* Reserve like the kernel: NULL when full. */
static struct moq_sent_ent *reserve(uint64_t *idx)
{
	for (;;) {
		uint64_t h = __atomic_load_n(&L->head, __ATOMIC_ACQUIRE);
		uint64_t t = __atomic_load_n(&L->tail, __ATOMIC_ACQUIRE);

		if (h - t >= N)
			return NULL;
		if (__atomic_compare_exchange_n(&L->head, &h, h + 1, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			*idx = h;
			return &L->ent[h & (N - 1)];
		}
	}
}

static void fill(struct moq_sent_ent *e, uint64_t pn, uint8_t kind)
{
	e->pn = pn;
	e->up_stream_id = 2;
	e->down_stream_id = 3;
	e->offset = pn * 100;
	e->data_len = 100;
	e->wire_len = 160;
	e->conn_id = 7;
	e->kind = kind;
}

static void publish(struct moq_sent_ent *e)
{
	__atomic_fetch_add(&e->seq, 1, __ATOMIC_SEQ_CST);
}

/* reserve + fill + publish; 0 when the log is full */
static int put(uint64_t pn, uint8_t kind)
{
	uint64_t idx;
	struct moq_sent_ent *e = reserve(&idx);

	if (!e)
		return 0;
	fill(e, pn, kind);
	publish(e);
	return 1;
}

struct sink {
	uint64_t pn[4 * N];
	size_t n;
};

static void collect(void *ctx, const struct moq_sent_ent *e)
{
	struct sink *s = ctx;

	ck_assert_uint_lt(s->n, 4 * N);
	ck_assert_uint_eq(e->offset, e->pn * 100); /* never a mix of two entries */
	s->pn[s->n++] = e->pn;
}

START_TEST(reads_entries_in_order_and_frees_room)
{
	struct sink s = {.n = 0};
	struct fp_sentlog_stats st = {0};

	for (uint64_t i = 0; i < 5; i++)
		ck_assert_int_eq(put(10 + i, MOQ_SENT_KIND_STREAM), 1);
	ck_assert_uint_eq(fp_sentlog_pending(L), 5);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 64, &st), 5);
	ck_assert_uint_eq(s.n, 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(s.pn[i], 10 + i);
	ck_assert_uint_eq(L->tail, 5);
	ck_assert_uint_eq(fp_sentlog_pending(L), 0);
	ck_assert_uint_eq(st.entries, 5);
	/* nothing new: nothing read, tail unchanged */
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 64, &st), 0);
	ck_assert_uint_eq(s.n, 5);
}
END_TEST

START_TEST(wraps_around_many_laps)
{
	struct sink s = {.n = 0};
	uint64_t pn = 0;

	/* uneven batches so reads and writes straddle the end of the array */
	for (int round = 0; round < 40; round++) {
		int k = 1 + (round * 37) % (N - 1);

		for (int i = 0; i < k; i++)
			ck_assert_int_eq(put(pn++, MOQ_SENT_KIND_STREAM), 1);
		s.n = 0;
		ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 4 * N, NULL), (size_t)k);
		for (int i = 0; i < k; i++)
			ck_assert_uint_eq(s.pn[i], pn - (uint64_t)k + (uint64_t)i);
	}
	ck_assert_uint_gt(L->head, 10 * N);
}
END_TEST

START_TEST(full_log_refuses_writers_until_read)
{
	struct sink s = {.n = 0};

	for (uint64_t i = 0; i < N; i++)
		ck_assert_int_eq(put(i, MOQ_SENT_KIND_STREAM), 1);
	/* the kernel never overwrites an entry the agent has not read */
	ck_assert_int_eq(put(999, MOQ_SENT_KIND_STREAM), 0);
	ck_assert_uint_eq(L->head, N);
	/* reading a few frees exactly that much room */
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 3, NULL), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(put(1000 + (uint64_t)i, MOQ_SENT_KIND_STREAM), 1);
	ck_assert_int_eq(put(2000, MOQ_SENT_KIND_STREAM), 0);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 4 * N, NULL), N);
	ck_assert_uint_eq(s.n, N + 3);
	ck_assert_uint_eq(s.pn[N], 1000);
	ck_assert_uint_eq(s.pn[N + 2], 1002);
}
END_TEST

/* Two CPUs: the first reserved entry is still being written while the
 * second is published. The reader stops at the first and reads neither,
 * then both once the first is complete. */
START_TEST(stops_at_an_entry_still_being_written)
{
	struct sink s = {.n = 0};
	struct fp_sentlog_stats st = {0};
	uint64_t i0, i1;
	struct moq_sent_ent *a, *b;

	ck_assert_int_eq(put(1, MOQ_SENT_KIND_STREAM), 1);
	a = reserve(&i0);
	b = reserve(&i1);
	ck_assert_uint_eq(i1, i0 + 1);
	fill(b, 3, MOQ_SENT_KIND_STREAM);
	publish(b);
	a->pn = 2; /* half written: offset not yet */
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 64, &st), 1);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(st.partial, 1);
	ck_assert_uint_eq(L->tail, 1);
	fill(a, 2, MOQ_SENT_KIND_STREAM);
	publish(a);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 64, &st), 2);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.pn[1], 2);
	ck_assert_uint_eq(s.pn[2], 3);
}
END_TEST

/* After a lap the entry still holds the previous lap's complete data: the
 * lap count, not a valid flag, tells it apart. */
START_TEST(old_lap_entry_is_not_read_as_new)
{
	struct sink s = {.n = 0};
	uint64_t idx;
	struct moq_sent_ent *e;

	for (uint64_t i = 0; i < N; i++)
		ck_assert_int_eq(put(i, MOQ_SENT_KIND_STREAM), 1);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 4 * N, NULL), N);
	e = reserve(&idx);
	ck_assert_uint_eq(idx, N);
	ck_assert_ptr_eq(e, &L->ent[0]);
	ck_assert_uint_eq(e->seq, 1);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 4 * N, NULL), 0);
	fill(e, N, MOQ_SENT_KIND_DATAGRAM);
	publish(e);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 4 * N, NULL), 1);
	ck_assert_uint_eq(s.pn[N], N);
}
END_TEST

START_TEST(void_entries_free_room_but_are_not_reported)
{
	struct sink s = {.n = 0};
	struct fp_sentlog_stats st = {0};

	ck_assert_int_eq(put(1, MOQ_SENT_KIND_STREAM), 1);
	ck_assert_int_eq(put(0, MOQ_SENT_KIND_VOID), 1);
	ck_assert_int_eq(put(2, MOQ_SENT_KIND_DATAGRAM), 1);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 64, &st), 3);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(st.voids, 1);
	ck_assert_uint_eq(st.entries, 2);
	ck_assert_uint_eq(L->tail, 3);
}
END_TEST

START_TEST(skip_drops_what_the_log_holds)
{
	struct sink s = {.n = 0};

	for (uint64_t i = 0; i < 7; i++)
		ck_assert_int_eq(put(i, MOQ_SENT_KIND_STREAM), 1);
	fp_sentlog_skip(L);
	ck_assert_uint_eq(fp_sentlog_pending(L), 0);
	ck_assert_int_eq(put(7, MOQ_SENT_KIND_STREAM), 1);
	ck_assert_uint_eq(fp_sentlog_read(L, collect, &s, 64, NULL), 1);
	ck_assert_uint_eq(s.pn[0], 7);
}
END_TEST

/* Two writer threads against one reader: every entry read exactly once,
 * never torn, each writer's entries in its order. */
#define PER_WRITER 20000
static void *writer(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg;

	for (uint64_t i = 0; i < PER_WRITER;)
		if (put(base + i, MOQ_SENT_KIND_STREAM))
			i++;
	return NULL;
}

struct tsink {
	uint64_t next[2];
	size_t n;
};

static void tcollect(void *ctx, const struct moq_sent_ent *e)
{
	struct tsink *s = ctx;
	int w = e->pn >= 1000000;

	ck_assert_uint_eq(e->offset, e->pn * 100);
	ck_assert_uint_eq(e->pn, s->next[w]);
	s->next[w]++;
	s->n++;
}

START_TEST(concurrent_writers_each_entry_once)
{
	pthread_t a, b;
	struct tsink s = {.next = {0, 1000000}, .n = 0};

	pthread_create(&a, NULL, writer, (void *)(uintptr_t)0);
	pthread_create(&b, NULL, writer, (void *)(uintptr_t)1000000);
	while (s.n < 2 * PER_WRITER)
		fp_sentlog_read(L, tcollect, &s, 16, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	ck_assert_uint_eq(s.next[0], PER_WRITER);
	ck_assert_uint_eq(s.next[1], 1000000 + PER_WRITER);
	ck_assert_uint_eq(fp_sentlog_pending(L), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_sentlog");
	TCase *tc = tcase_create("reader");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reads_entries_in_order_and_frees_room);
	tcase_add_test(tc, wraps_around_many_laps);
	tcase_add_test(tc, full_log_refuses_writers_until_read);
	tcase_add_test(tc, stops_at_an_entry_still_being_written);
	tcase_add_test(tc, old_lap_entry_is_not_read_as_new);
	tcase_add_test(tc, void_entries_free_room_but_are_not_reported);
	tcase_add_test(tc, skip_drops_what_the_log_holds);
	tcase_add_test(tc, concurrent_writers_each_entry_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
