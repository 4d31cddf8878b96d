/* moq-relayd fast path: the stream state machine (agent/moq-relayd/
 * fp_streams.c): coverage intervals, lookups, raw lifetime, arrival marks
 * and delivery timeouts, when a stream is done. No maps are open (fds -1,
 * no slot): map writes are skipped. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moq-relayd/fp_internal.h"
#include "moq-relayd/relayd.h"

static struct relayd D;
static struct relayd_fp *FP;
static struct fp_conn FC;

static void setup(void)
{
	memset(&D, 0, sizeof(D));
	memset(&FC, 0, sizeof(FC));
	FP = calloc(1, sizeof(*FP));
	for (int i = 0; i < FP_MAP_MAX; i++)
		FP->maps.fd[i] = -1;
	D.fp = FP;
	FC.d = &D;
	FC.slot = -1;
}

static void teardown(void)
{
	while (FC.streams)
		fp_stream_free(&FC, FC.streams);
	while (FP->raws)
		fp_raw_free(FP, FP->raws);
	free(FP);
}

static struct fp_raw *raw_new(uint32_t conn, uint64_t sid, size_t len)
{
	struct fp_raw *r = calloc(1, sizeof(*r));

	r->up_conn = conn;
	r->up_sid = sid;
	r->cap = len;
	r->buf = len ? calloc(1, len) : NULL;
	r->len = len;
	FP->raw_bytes += r->cap;
	r->next = FP->raws;
	FP->raws = r;
	return r;
}

static size_t nraws(void)
{
	size_t n = 0;

	for (struct fp_raw *r = FP->raws; r; r = r->next)
		n++;
	return n;
}

static size_t nstreams(void)
{
	size_t n = 0;

	for (struct fp_stream *fs = FC.streams; fs; fs = fs->next)
		n++;
	return n;
}

#define ck_cov(fs, i, l, h)                                                                        \
	do {                                                                                       \
		ck_assert_uint_eq((fs)->cov[i].lo, l);                                             \
		ck_assert_uint_eq((fs)->cov[i].hi, h);                                             \
	} while (0)

START_TEST(cov_add_sorts_and_merges)
{
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);

	fp_cov_add(fs, 30, 40);
	fp_cov_add(fs, 10, 20);
	fp_cov_add(fs, 50, 60);
	ck_assert_uint_eq(fs->ncov, 3);
	ck_cov(fs, 0, 10, 20);
	ck_cov(fs, 1, 30, 40);
	ck_cov(fs, 2, 50, 60);
	fp_cov_add(fs, 20, 30); /* touches both neighbours */
	ck_assert_uint_eq(fs->ncov, 2);
	ck_cov(fs, 0, 10, 40);
	ck_cov(fs, 1, 50, 60);
	fp_cov_add(fs, 5, 70); /* swallows everything */
	ck_assert_uint_eq(fs->ncov, 1);
	ck_cov(fs, 0, 5, 70);
	fp_cov_add(fs, 80, 80); /* empty: ignored */
	ck_assert_uint_eq(fs->ncov, 1);
}
END_TEST

START_TEST(cov_add_grows_past_initial_capacity)
{
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);

	for (uint64_t i = 0; i < 100; i++)
		fp_cov_add(fs, 1000 - 10 * i, 1000 - 10 * i + 5);
	ck_assert_uint_eq(fs->ncov, 100);
	for (size_t i = 1; i < fs->ncov; i++)
		ck_assert_uint_lt(fs->cov[i - 1].hi, fs->cov[i].lo);
}
END_TEST

START_TEST(cov_remove_splits_and_trims)
{
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);

	fp_cov_add(fs, 0, 100);
	fp_cov_remove(fs, 40, 60);
	ck_assert_uint_eq(fs->ncov, 2);
	ck_cov(fs, 0, 0, 40);
	ck_cov(fs, 1, 60, 100);
	fp_cov_remove(fs, 30, 70); /* trims both sides */
	ck_assert_uint_eq(fs->ncov, 2);
	ck_cov(fs, 0, 0, 30);
	ck_cov(fs, 1, 70, 100);
	fp_cov_remove(fs, 0, 30); /* whole interval */
	ck_assert_uint_eq(fs->ncov, 1);
	ck_cov(fs, 0, 70, 100);
	fp_cov_remove(fs, 200, 300); /* elsewhere: unchanged */
	ck_assert_uint_eq(fs->ncov, 1);
	ck_cov(fs, 0, 70, 100);
}
END_TEST

START_TEST(lookups_and_raw_reference)
{
	struct fp_raw *r = raw_new(7, 11, 10);
	struct fp_stream *a = fp_stream_new(&FC, 7, 11);
	struct fp_stream *b = fp_stream_new(&FC, 7, 15);

	ck_assert_ptr_eq(a->raw, r); /* userspace had its bytes already */
	ck_assert_uint_eq(r->refs, 1);
	ck_assert_ptr_null(b->raw);
	ck_assert_uint_eq(a->down_sid, MOQ_DS_NONE);
	a->down_sid = 7;
	b->down_sid = 11;
	ck_assert_ptr_eq(fp_stream_find_up(&FC, 7, 11), a);
	ck_assert_ptr_eq(fp_stream_find_up(&FC, 7, 15), b);
	ck_assert_ptr_null(fp_stream_find_up(&FC, 8, 11));
	ck_assert_ptr_eq(fp_stream_find_down(&FC, 11), b);
	ck_assert_ptr_null(fp_stream_find_down(&FC, 3));
	ck_assert_ptr_eq(fp_raw_find(FP, 7, 11), r);
	ck_assert_ptr_null(fp_raw_find(FP, 7, 15));
	fp_stream_set_raw(a, r); /* once only */
	ck_assert_uint_eq(r->refs, 1);
	fp_stream_free(&FC, a);
	ck_assert_uint_eq(r->refs, 0);
	ck_assert_uint_eq(nstreams(), 1);
	ck_assert_uint_eq(nraws(), 1); /* not ended: kept */
}
END_TEST

START_TEST(done_stream_frees_itself_and_its_ignored_raw)
{
	struct fp_raw *r = raw_new(1, 3, 100);
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);

	r->ignored = true;
	fs->state = FS_KERNEL;
	fs->fin_done = true;
	fs->filled = 100;
	fs->inflight = 1;
	r->fin = r->ended = true;
	fp_stream_maybe_done(&FC, fs);
	ck_assert_uint_eq(nstreams(), 1); /* a packet still in flight */
	fs->inflight = 0;
	fs->filled = 99;
	fp_stream_maybe_done(&FC, fs);
	ck_assert_uint_eq(nstreams(), 1);	   /* a byte not yet sent */
	ck_assert(fp_stream_pending(fs) == false); /* ignored raw: nothing to send */
	fs->filled = 100;
	fp_stream_maybe_done(&FC, fs);
	ck_assert_uint_eq(nstreams(), 0);
	ck_assert_uint_eq(nraws(), 0);
	ck_assert_uint_eq(FP->raw_bytes, 0);
}
END_TEST

START_TEST(reset_and_skipped_streams_are_done)
{
	struct fp_raw *r = raw_new(1, 3, 10);
	struct fp_stream *a = fp_stream_new(&FC, 1, 3);
	struct fp_stream *b = fp_stream_new(&FC, 1, 7);

	a->state = FS_RESET;
	fp_stream_maybe_done(&FC, a);
	ck_assert_ptr_null(fp_stream_find_up(&FC, 1, 3));
	b->state = FS_SKIPPED;
	fp_stream_maybe_done(&FC, b);
	ck_assert_ptr_nonnull(fp_stream_find_up(&FC, 1, 7)); /* no raw: may still come */
	fp_stream_set_raw(b, raw_new(1, 7, 0));
	b->raw->ended = true;
	fp_stream_maybe_done(&FC, b);
	ck_assert_uint_eq(nstreams(), 0);
	(void)r;
}
END_TEST

START_TEST(pending_until_filled_and_fin_sent)
{
	struct fp_raw *r = raw_new(1, 3, 50);
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);

	fs->state = FS_AGENT;
	ck_assert(fp_stream_pending(fs));
	fs->filled = 50;
	ck_assert(!fp_stream_pending(fs));
	r->fin = true;
	ck_assert(fp_stream_pending(fs)); /* FIN owed */
	fs->fin_done = true;
	ck_assert(!fp_stream_pending(fs));
	fs->filled = 10;
	fs->state = FS_RESET;
	ck_assert(!fp_stream_pending(fs));
}
END_TEST

/* Ended raws of a track's latest group stay for joiners; a newer group
 * retires them. */
START_TEST(raws_kept_for_the_latest_group_only)
{
	struct relay_track *tr = (struct relay_track *)&D; /* identity only */
	struct fp_raw *g1 = raw_new(1, 3, 10), *g2;

	g1->tr = tr;
	g1->group = 1;
	g1->ended = true;
	fp_raw_maybe_free(FP, g1);
	ck_assert_uint_eq(nraws(), 1);
	g2 = raw_new(1, 7, 10);
	g2->tr = tr;
	g2->group = 2;
	fp_raws_retire_older(FP, tr, 2);
	ck_assert_uint_eq(nraws(), 1);
	ck_assert_ptr_eq(FP->raws, g2);
	/* an ended raw without its HEADER yet is kept */
	g1 = raw_new(1, 11, 5);
	g1->ended = true;
	fp_raw_maybe_free(FP, g1);
	ck_assert_uint_eq(nraws(), 2);
	/* an orphan goes as soon as nothing references it */
	g1->orphan = true;
	fp_raw_maybe_free(FP, g1);
	ck_assert_uint_eq(nraws(), 1);
}
END_TEST

START_TEST(arrival_marks_halve_and_keep_the_later_time)
{
	struct fp_raw *r = raw_new(1, 3, 0);

	for (uint64_t i = 1; i <= FP_MARKS; i++) {
		r->len = 100 * i;
		fp_raw_mark(r, 1000 * i);
	}
	ck_assert_uint_eq(r->nmark, FP_MARKS);
	ck_assert_uint_eq(fp_raw_arrival(r, 0), 1000);
	ck_assert_uint_eq(fp_raw_arrival(r, 150), 2000);
	r->len += 10;
	fp_raw_mark(r, 1000 * FP_MARKS); /* same time: extends the last */
	ck_assert_uint_eq(r->nmark, FP_MARKS);
	ck_assert_uint_eq(fp_raw_arrival(r, 100 * FP_MARKS + 5), 1000 * FP_MARKS);
	r->len += 10;
	fp_raw_mark(r, 1000 * (FP_MARKS + 1));
	ck_assert_uint_eq(r->nmark, FP_MARKS / 2 + 1);
	/* bytes [0, 200) merged into one mark with the later time */
	ck_assert_uint_eq(fp_raw_arrival(r, 0), 2000);
	ck_assert_uint_eq(fp_raw_arrival(r, 100 * FP_MARKS + 15), 1000 * (FP_MARKS + 1));
	ck_assert_uint_eq(fp_raw_arrival(r, r->len), 0); /* not read yet */
}
END_TEST

START_TEST(object_delivery_timeout_expires_old_bytes)
{
	struct fp_raw *r = raw_new(1, 3, 0);
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);
	uint64_t now = fp_now_ns();

	r->len = 100;
	fp_raw_mark(r, now - 3000000000ull); /* 3 s ago */
	r->len = 200;
	fp_raw_mark(r, now);
	ck_assert(!fp_stream_expired(fs, 0)); /* no timeout: never */
	fs->obj_to_ns = fp_ms_to_ns(1000);
	ck_assert(fp_stream_expired(fs, 50));
	ck_assert(!fp_stream_expired(fs, 150));
	ck_assert(!fp_stream_expired(fs, 500)); /* arrival unknown */
	ck_assert_uint_eq(fp_ms_to_ns(7), 7000000ull);
	ck_assert_uint_eq(fp_ms_to_ns(1ull << 62), 1ull << 62); /* capped, no wrap */
}
END_TEST

START_TEST(stream_counted_once_for_its_subscription)
{
	struct relay_track tr;
	struct relay_sub s;
	struct peer p;
	struct fp_raw *r = raw_new(1, 3, 10);
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);

	memset(&tr, 0, sizeof(tr));
	memset(&s, 0, sizeof(s));
	memset(&p, 0, sizeof(p));
	s.track = &tr;
	p.subs = &s;
	FC.p = &p;
	r->tr = &tr;
	fp_stream_count(&FC, fs, NULL);
	ck_assert_uint_eq(s.fast_streams, 0); /* no downstream stream yet */
	fs->down_sid = 3;
	ck_assert_ptr_eq(fp_stream_sub(&FC, fs), &s);
	fp_stream_count(&FC, fs, NULL);
	fp_stream_count(&FC, fs, &s);
	ck_assert_uint_eq(s.fast_streams, 1);
	fp_stream_learn_timeouts(&FC, fs, &s); /* no request: none */
	ck_assert(fs->to_known);
	ck_assert_uint_eq(fs->obj_to_ns, 0);
	ck_assert(!FC.has_sg_to && !FC.has_obj_to);
	FC.p = NULL;
}
END_TEST

static uint8_t BYTES[1 << 20];

/* Issue 17 finding 3: an endless stream keeps at most
 * --fast-path-stream-bytes, the newest ones, with its offsets intact. */
START_TEST(raw_bytes_bounded_per_stream)
{
	struct fp_raw *r = raw_new(1, 3, 0);
	struct fp_stream *fs = fp_stream_new(&FC, 1, 3);
	uint64_t off = 0;

	FP->raw_stream_max = 64 << 10;
	for (size_t i = 0; i < sizeof(BYTES); i++)
		BYTES[i] = (uint8_t)(i * 7 + i / 251);
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(fp_raw_append(FP, r, BYTES + off % (512 << 10), 1000), 0);
		off += 1000;
		ck_assert_uint_le(r->len - r->base, FP->raw_stream_max);
		ck_assert_uint_le(r->cap, FP->raw_stream_max);
	}
	ck_assert_uint_eq(r->len, off);
	ck_assert_uint_gt(r->base, 0);
	ck_assert_uint_le(FP->raw_bytes, FP->raw_stream_max);
	ck_assert_uint_eq(FP->raw_evicted_bytes, r->base);
	ck_assert_uint_gt(FP->raw_evictions, 0);
	/* the kept bytes are the stream's bytes at their offsets */
	for (uint64_t o = r->base; o < r->len; o += 997)
		ck_assert_uint_eq(r->buf[o - r->base],
				  BYTES[(o / 1000 * 1000) % (512 << 10) + o % 1000]);
	ck_assert(fp_stream_gone(fs, r->base - 1));
	ck_assert(!fp_stream_gone(fs, r->base));
	/* one piece larger than the bound: only its newest bytes stay */
	ck_assert_int_eq(fp_raw_append(FP, r, BYTES, 100 << 10), 0);
	ck_assert_uint_eq(r->len - r->base, 64 << 10);
	ck_assert_uint_eq(r->buf[0], BYTES[36 << 10]);
}
END_TEST

/* Over --fast-path-raw-bytes: ended streams kept only for joiners go
 * first, then the largest live buffer loses its older half. */
START_TEST(raw_bytes_bounded_in_total)
{
	struct fp_raw *idle = raw_new(1, 3, 0), *a = raw_new(1, 7, 0), *b = raw_new(1, 11, 0);

	FP->raw_stream_max = 256 << 10;
	FP->raw_total_max = 512 << 10;
	ck_assert_int_eq(fp_raw_append(FP, idle, BYTES, 200 << 10), 0);
	idle->ended = true;
	ck_assert_int_eq(fp_raw_append(FP, a, BYTES, 200 << 10), 0);
	ck_assert_uint_eq(nraws(), 3);
	ck_assert_int_eq(fp_raw_append(FP, b, BYTES, 200 << 10), 0);
	ck_assert_ptr_null(fp_raw_find(FP, 1, 3)); /* the idle one went */
	ck_assert_uint_le(FP->raw_bytes, FP->raw_total_max);
	ck_assert_uint_eq(a->base, 0);
	ck_assert_int_eq(fp_raw_append(FP, b, BYTES, 50 << 10), 0);
	ck_assert_int_eq(fp_raw_append(FP, a, BYTES, 50 << 10), 0);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(fp_raw_append(FP, a, BYTES, 30 << 10), 0);
		ck_assert_int_eq(fp_raw_append(FP, b, BYTES, 30 << 10), 0);
		ck_assert_uint_le(FP->raw_bytes, FP->raw_total_max);
	}
	ck_assert_uint_gt(a->base, 0);
	ck_assert_uint_gt(b->base, 0);
	ck_assert_uint_eq(a->len, (200 + 50 + 20 * 30) << 10);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("fp_streams");
	TCase *tc = tcase_create("streams");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cov_add_sorts_and_merges);
	tcase_add_test(tc, cov_add_grows_past_initial_capacity);
	tcase_add_test(tc, cov_remove_splits_and_trims);
	tcase_add_test(tc, lookups_and_raw_reference);
	tcase_add_test(tc, done_stream_frees_itself_and_its_ignored_raw);
	tcase_add_test(tc, reset_and_skipped_streams_are_done);
	tcase_add_test(tc, pending_until_filled_and_fin_sent);
	tcase_add_test(tc, raws_kept_for_the_latest_group_only);
	tcase_add_test(tc, arrival_marks_halve_and_keep_the_later_time);
	tcase_add_test(tc, object_delivery_timeout_expires_old_bytes);
	tcase_add_test(tc, stream_counted_once_for_its_subscription);
	tcase_add_test(tc, raw_bytes_bounded_per_stream);
	tcase_add_test(tc, raw_bytes_bounded_in_total);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
