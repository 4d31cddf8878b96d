/* libFuzzer target: the fast path's raw upstream bytes
 * (agent/moq-relayd/fp_streams.c: fp_raw_append and its per-stream and
 * total bounds, arrival marks, raw lifetime with subscriber references,
 * kernel coverage intervals), driven the way moq-relayd's intake
 * (fastpath.c relayd_fp_raw / relayd_fp_rx_header / relayd_fp_rx_reset)
 * drives them: stream data at random offsets (only the piece at the
 * stream's end is appended), FINs, resets, HEADERs with groups, subscriber
 * streams taking and dropping references, coverage added and removed.
 * --fast-path-stream-bytes and --fast-path-raw-bytes come from the input.
 *
 * Properties (besides ASan/UBSan): every raw keeps at most the stream
 * bound, all buffers together at most the total bound, and the kept bytes
 * [base, len) are exactly the stream's bytes at those offsets; raw_bytes
 * equals the sum of the buffers; a raw is never freed while a stream
 * references it; fp_stream_gone(pos) is pos < base; arrival times never
 * go down along the stream; coverage stays sorted, disjoint and equal to a
 * bitmap model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"

#include "../../agent/moq-relayd/fp_streams.c"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_raw: %s failed at line %d\n", #cond, __LINE__);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* fp_streams.c writes the kernel's maps only for a connection with a slot;
 * this one has none, so these are never reached. */
#define NSID 6
#define COVN 2048 /* coverage model: offsets below this */

int fp_maps_put_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			    const struct moq_down_stream *v)
{
	(void)m, (void)k, (void)v;
	abort();
}

int fp_maps_queue_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			      const struct moq_down_stream *v)
{
	(void)m, (void)k, (void)v;
	abort();
}

int fp_maps_del_stream_credit(struct fp_maps *m, const struct moq_down_stream_key *k)
{
	(void)m, (void)k;
	abort();
}

/* A stream's byte at off: tab[k][off % PERIOD] (k = its index), with the
 * table long enough that any kept range is one memcmp. */
#define PERIOD 65521u /* prime, above every stream bound here */
static uint8_t tab[NSID][PERIOD + (1 << 17)];

static const uint8_t *pat_at(uint64_t sid, uint64_t off)
{
	if (!tab[0][1])
		for (int k = 0; k < NSID; k++)
			for (size_t i = 0; i < sizeof(tab[k]); i++)
				tab[k][i] =
				    (uint8_t)((i % PERIOD) * 7 + (i % PERIOD) / 251 + k * 131 + 1);
	return &tab[(sid - 2) / 4][off % PERIOD];
}

static struct relayd D;
static struct relayd_fp *FP;
static struct fp_conn FC;
static uint8_t covm[NSID][COVN]; /* model of the streams' coverage */
static struct fp_stream *fsv[NSID];
static int tracks[2];

static void check_all(void)
{
	size_t total = 0;

	for (struct fp_raw *r = FP->raws; r; r = r->next) {
		unsigned refs = 0;

		total += r->cap;
		CHECK(r->base <= r->len);
		CHECK(r->len - r->base <= FP->raw_stream_max);
		CHECK(r->len - r->base <= r->cap);
		CHECK(r->buf || r->len == r->base);
		CHECK(r->len == r->base ||
		      !memcmp(r->buf, pat_at(r->up_sid, r->base), r->len - r->base));
		for (unsigned i = 1; i < r->nmark; i++)
			CHECK(r->mark[i].end >= r->mark[i - 1].end &&
			      r->mark[i].t_ns >= r->mark[i - 1].t_ns);
		for (int k = 0; k < NSID; k++)
			refs += fsv[k] && fsv[k]->raw == r;
		CHECK(refs == r->refs);
	}
	CHECK(total == FP->raw_bytes);
	CHECK(FP->raw_bytes <= FP->raw_total_max);
	for (int k = 0; k < NSID; k++) {
		struct fp_stream *fs = fsv[k];
		uint8_t m[COVN];

		if (!fs)
			continue;
		if (fs->raw) {
			CHECK(fp_raw_find(FP, 1, fs->raw->up_sid) == fs->raw);
			CHECK(fp_stream_gone(fs, fs->raw->base) == false);
			if (fs->raw->base)
				CHECK(fp_stream_gone(fs, fs->raw->base - 1));
		}
		memset(m, 0, sizeof(m));
		for (size_t i = 0; i < fs->ncov; i++) {
			CHECK(fs->cov[i].lo < fs->cov[i].hi && fs->cov[i].hi <= COVN);
			if (i)
				CHECK(fs->cov[i - 1].hi < fs->cov[i].lo);
			memset(m + fs->cov[i].lo, 1, fs->cov[i].hi - fs->cov[i].lo);
		}
		CHECK(!memcmp(m, covm[k], COVN));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	uint64_t now = 1000;
	int ops = 500;

	memset(&D, 0, sizeof(D));
	memset(&FC, 0, sizeof(FC));
	memset(covm, 0, sizeof(covm));
	memset(fsv, 0, sizeof(fsv));
	FP = calloc(1, sizeof(*FP));
	if (!FP)
		return 0;
	for (int i = 0; i < FP_MAP_MAX; i++)
		FP->maps.fd[i] = -1;
	D.fp = FP;
	FC.d = &D;
	FC.slot = -1;
	FP->raw_stream_max = 1024 + take(&in, 2);
	FP->raw_total_max = 4096 + take(&in, 3) % (1 << 18);
	while (in.n && ops--) {
		uint8_t op = (uint8_t)take(&in, 1);
		int k = (op >> 4) % NSID;
		uint64_t sid = 2 + 4 * (uint64_t)k;
		struct fp_raw *r = fp_raw_find(FP, 1, sid);

		switch (op & 15) {
		case 0:
		case 1:
		case 2: { /* stream data at an offset near the stream's end */
			uint64_t len = take(&in, 2) % (1 << 17), off;
			uint64_t end = r ? r->len : 0, d = take(&in, 1);
			int fin = (op & 15) == 2;

			if ((op & 15) == 1)
				len = take(&in, 3) % (1 << 17); /* maybe past the bound */
			off =
			    d & 0x80 ? end + (d & 0x7f) : (end > (d & 0x7f) ? end - (d & 0x7f) : 0);
			if (d & 0x40)
				off = end;
			if (!r) {
				if (off != 0)
					break;
				r = calloc(1, sizeof(*r));
				if (!r)
					break;
				r->up_conn = 1;
				r->up_sid = sid;
				r->next = FP->raws;
				FP->raws = r;
				for (int j = 0; j < NSID; j++)
					if (fsv[j] && fsv[j]->up_sid == sid)
						fp_stream_set_raw(fsv[j], r);
			}
			if (r->ended)
				break;
			if (!r->ignored && len && off == r->len) {
				if (fp_raw_append(FP, r, pat_at(sid, off), (size_t)len))
					r->ignored = true;
				else
					fp_raw_mark(r, now);
			}
			if (fin) {
				r->fin = r->ended = true;
				r->fin_ns = now;
				fp_raw_maybe_free(FP, r);
			}
			break;
		}
		case 3: /* the upstream stream is reset */
			if (r && !r->ended) {
				r->ended = true;
				fp_raw_maybe_free(FP, r);
			}
			break;
		case 4: /* its HEADER: track and group; older groups retire */
			if (r && !r->tr) {
				r->tr = (struct relay_track *)&tracks[op >> 7];
				r->group = take(&in, 1) % 4;
				fp_raws_retire_older(FP, r->tr, r->group);
			}
			break;
		case 5: /* a subscriber stream takes a reference */
			if (!fsv[k]) {
				fsv[k] = fp_stream_new(&FC, 1, sid);
				memset(covm[k], 0, COVN);
			}
			break;
		case 6: /* ... and lets it go */
			if (fsv[k]) {
				fp_stream_free(&FC, fsv[k]);
				fsv[k] = NULL;
			}
			break;
		case 7:
		case 8: { /* kernel coverage added / removed */
			uint64_t lo = take(&in, 2) % COVN, n = take(&in, 1) % 64;
			uint64_t hi = lo + n > COVN ? COVN : lo + n;

			if (!fsv[k])
				break;
			if ((op & 15) == 7)
				fp_cov_add(fsv[k], lo, hi);
			else
				fp_cov_remove(fsv[k], lo, hi);
			memset(covm[k] + lo, (op & 15) == 7, hi - lo);
			break;
		}
		case 9: /* time passes; arrival times along the stream */
			now += take(&in, 1) * 1000;
			if (r && r->len > r->base) {
				uint64_t prev = 0;

				for (uint64_t p = r->base; p < r->len;
				     p += 1 + (r->len - r->base) / 16) {
					uint64_t t = fp_raw_arrival(r, p);

					CHECK(t >= prev && t <= now);
					prev = t;
				}
			}
			break;
		default:
			break;
		}
		check_all();
	}
	for (int k = 0; k < NSID; k++)
		if (fsv[k])
			fp_stream_free(&FC, fsv[k]);
	while (FP->raws)
		fp_raw_free(FP, FP->raws);
	free(FP);
	return 0;
}
