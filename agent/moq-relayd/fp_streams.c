/* moq-relayd fast path: the stream state machine (fp_internal.h). Raw
 * upstream stream bytes (struct fp_raw) and, per subscriber connection,
 * the state of each upstream stream (struct fp_stream): lookups, the
 * ranges the kernel forwarded (coverage intervals), delivery timeouts,
 * and when a stream is done. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp_internal.h"
#include "lib/fp_mapwrite.h"
#include "relayd.h"

/* ---- small helpers ---------------------------------------------------- */

struct fp_stream *fp_stream_find_up(struct fp_conn *fc, uint32_t up_conn, uint64_t up_sid)
{
	for (struct fp_stream *fs = fc->streams; fs; fs = fs->next)
		if (fs->up_conn == up_conn && fs->up_sid == up_sid)
			return fs;
	return NULL;
}

struct fp_stream *fp_stream_find_down(struct fp_conn *fc, uint64_t down_sid)
{
	for (struct fp_stream *fs = fc->streams; fs; fs = fs->next)
		if (fs->down_sid == down_sid)
			return fs;
	return NULL;
}

struct fp_raw *fp_raw_find(struct relayd_fp *fp, uint32_t up_conn, uint64_t up_sid)
{
	for (struct fp_raw *r = fp->raws; r; r = r->next)
		if (r->up_conn == up_conn && r->up_sid == up_sid)
			return r;
	return NULL;
}

void fp_raw_free(struct relayd_fp *fp, struct fp_raw *r)
{
	for (struct fp_raw **pp = &fp->raws; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	fp->raw_bytes -= r->cap;
	free(r->buf);
	free(r);
}

/* Ended, unreferenced raws are kept while they belong to their track's
 * latest group (a subscriber joining now is owed that group), then freed. */
void fp_raw_maybe_free(struct relayd_fp *fp, struct fp_raw *r)
{
	if (!r->ended || r->refs)
		return;
	if (r->orphan)
		goto free_it;
	if (!r->ignored && !r->tr)
		return; /* its HEADER comes right after these bytes */
	if (!r->ignored) {
		for (struct fp_raw *o = fp->raws; o; o = o->next)
			if (o != r && o->tr == r->tr && o->group > r->group)
				goto free_it;
		return;
	}
free_it:
	fp_raw_free(fp, r);
}

/* A new group started on tr: free the kept raws of older groups. */
void fp_raws_retire_older(struct relayd_fp *fp, struct relay_track *tr, uint64_t group)
{
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->tr == tr && r->group < group && r->ended && !r->refs)
			fp_raw_free(fp, r);
	}
}

void fp_cov_add(struct fp_stream *fs, uint64_t lo, uint64_t hi)
{
	size_t i, j;

	if (hi <= lo)
		return;
	if (fs->ncov == fs->covcap) {
		size_t nc = fs->covcap ? fs->covcap * 2 : 8;
		struct fp_iv *n = realloc(fs->cov, nc * sizeof(*n));

		if (!n)
			return; /* not covered: the agent fills it (a duplicate) */
		fs->cov = n;
		fs->covcap = nc;
	}
	for (i = 0; i < fs->ncov && fs->cov[i].hi < lo; i++)
		;
	/* merge every interval touching [lo, hi] */
	for (j = i; j < fs->ncov && fs->cov[j].lo <= hi; j++) {
		if (fs->cov[j].lo < lo)
			lo = fs->cov[j].lo;
		if (fs->cov[j].hi > hi)
			hi = fs->cov[j].hi;
	}
	if (j > i) {
		fs->cov[i].lo = lo;
		fs->cov[i].hi = hi;
		memmove(&fs->cov[i + 1], &fs->cov[j], (fs->ncov - j) * sizeof(*fs->cov));
		fs->ncov -= j - i - 1;
	} else {
		memmove(&fs->cov[i + 1], &fs->cov[i], (fs->ncov - i) * sizeof(*fs->cov));
		fs->cov[i].lo = lo;
		fs->cov[i].hi = hi;
		fs->ncov++;
	}
}

/* Forget kernel coverage of [lo, hi) (a lost packet not yet re-sendable). */
void fp_cov_remove(struct fp_stream *fs, uint64_t lo, uint64_t hi)
{
	size_t n = 0;
	struct fp_iv extra = {0, 0};

	for (size_t i = 0; i < fs->ncov; i++) {
		struct fp_iv iv = fs->cov[i];

		if (iv.hi <= lo || iv.lo >= hi) {
			fs->cov[n++] = iv;
			continue;
		}
		if (iv.lo < lo && iv.hi > hi)
			extra = (struct fp_iv){hi, iv.hi}; /* split in two */
		if (iv.lo < lo)
			fs->cov[n++] = (struct fp_iv){iv.lo, lo};
		else if (iv.hi > hi)
			fs->cov[n++] = (struct fp_iv){hi, iv.hi};
	}
	fs->ncov = n;
	if (extra.hi > extra.lo)
		fp_cov_add(fs, extra.lo, extra.hi);
}

void fp_stream_set_raw(struct fp_stream *fs, struct fp_raw *r)
{
	if (fs->raw || !r)
		return;
	fs->raw = r;
	r->refs++;
}

struct fp_stream *fp_stream_new(struct fp_conn *fc, uint32_t up_conn, uint64_t up_sid)
{
	struct fp_stream *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->up_conn = up_conn;
	fs->up_sid = up_sid;
	fs->down_sid = MOQ_DS_NONE;
	fs->max_sd = fc->stream0;
	fs->next = fc->streams;
	fc->streams = fs;
	fp_stream_set_raw(fs, fp_raw_find(fc->d->fp, up_conn, up_sid));
	return fs;
}

/* ---- delivery timeouts (draft-18 section "Delivery Timeouts") ------------ */

/* Note that the bytes up to r->len were read now. */
void fp_raw_mark(struct fp_raw *r, uint64_t now)
{
	if (r->nmark && r->mark[r->nmark - 1].t_ns == now) {
		r->mark[r->nmark - 1].end = r->len;
		return;
	}
	if (r->nmark == FP_MARKS) {
		/* halve the resolution; a merged mark keeps the later time
		 * (lenient: the earlier one would make every byte of a long
		 * stream look as old as its oldest piece) */
		for (unsigned i = 0; i < FP_MARKS / 2; i++)
			r->mark[i] = r->mark[2 * i + 1];
		r->nmark = FP_MARKS / 2;
	}
	r->mark[r->nmark++] = (struct fp_mark){r->len, now};
}

/* When the relay read the byte at pos (0: unknown). */
uint64_t fp_raw_arrival(const struct fp_raw *r, uint64_t pos)
{
	for (unsigned i = 0; i < r->nmark; i++)
		if (pos < r->mark[i].end)
			return r->mark[i].t_ns;
	return 0;
}

/* ms (a peer's parameter: up to 2^62) to ns, capped at 2^62 ns (146
 * years: clock + timeout cannot wrap). */
uint64_t fp_ms_to_ns(uint64_t ms)
{
	return ms > (1ull << 62) / 1000000ull ? 1ull << 62 : ms * 1000000ull;
}

void fp_stream_learn_timeouts(struct fp_conn *fc, struct fp_stream *fs, struct relay_sub *s)
{
	struct moq_subscription_info info;

	if (fs->to_known)
		return;
	fs->to_known = true;
	if (!s->req || moq_request_subscription(s->req, &info) != 0)
		return;
	fs->obj_to_ns = fp_ms_to_ns(info.object_delivery_timeout);
	fs->sg_to_ns = fp_ms_to_ns(info.subgroup_delivery_timeout);
	if (fs->sg_to_ns)
		fc->has_sg_to = true;
	if (fs->obj_to_ns)
		fc->has_obj_to = true;
}

/* Is the byte at pos older than the stream's OBJECT_DELIVERY_TIMEOUT? Then
 * it must not be sent (nor retransmitted): the stream is reset instead. */
bool fp_stream_expired(const struct fp_stream *fs, uint64_t pos)
{
	uint64_t t = fs->raw && fs->obj_to_ns ? fp_raw_arrival(fs->raw, pos) : 0;
	uint64_t now = fp_now_ns();

	return t && now > t && now - t > fs->obj_to_ns;
}

/* The subscription of fc's peer that fs belongs to (NULL: not known). */
struct relay_sub *fp_stream_sub(struct fp_conn *fc, const struct fp_stream *fs)
{
	struct relay_track *tr = fs->raw ? fs->raw->tr : NULL;

	if (!tr || !fc->p)
		return NULL;
	for (struct relay_sub *s = fc->p->subs; s; s = s->peer_next)
		if (s->track == tr)
			return s;
	return NULL;
}

/* Count fs once for its subscription once it has a downstream stream (the
 * Stream Count of the subscription's PUBLISH_DONE). */
void fp_stream_count(struct fp_conn *fc, struct fp_stream *fs, struct relay_sub *s)
{
	if (fs->counted || fs->down_sid == MOQ_DS_NONE)
		return;
	if (!s)
		s = fp_stream_sub(fc, fs);
	if (!s)
		return;
	fs->counted = true;
	s->fast_streams++;
}

void fp_stream_free(struct fp_conn *fc, struct fp_stream *fs)
{
	struct relayd_fp *fp = fc->d->fp;

	fp_stream_count(fc, fs, NULL);

	for (struct fp_stream **pp = &fc->streams; *pp; pp = &(*pp)->next) {
		if (*pp == fs) {
			*pp = fs->next;
			break;
		}
	}
	if (fc->slot >= 0) {
		/* keep the kernel's entry, marked reset: a late retransmission
		 * of the upstream stream's start must not open a second
		 * downstream stream (it becomes a STREAM_RESET drop); the LRU
		 * map ages it out. Queued: written with the others of this
		 * loop pass in one batch (fp_maps_flush) */
		struct moq_down_stream_key k = {
		    .slot = (uint32_t)fc->slot, .conn_id = fs->up_conn, .up_stream_id = fs->up_sid};
		struct moq_down_stream v = {.stream_id = fs->down_sid,
					    .flags = MOQ_DS_F_RESET,
					    .reset_offset = fs->max_end};
		fp_maps_queue_down_stream(&fp->maps, &k, &v);
		if (fs->credit_put)
			fp_maps_del_stream_credit(&fp->maps, &k);
	}
	if (fs->raw) {
		struct fp_raw *r = fs->raw;

		r->refs--;
		fp_raw_maybe_free(fp, r);
	}
	free(fs->cov);
	free(fs);
}

/* Done: nothing more to send or to wait for. */
void fp_stream_maybe_done(struct fp_conn *fc, struct fp_stream *fs)
{
	bool raw_done = fs->raw ? fs->raw->ended : false;

	if (fs->inflight)
		return;
	if ((fs->state == FS_KERNEL || fs->state == FS_AGENT) && fs->fin_done && raw_done &&
	    fs->filled >= fs->raw->len) {
		/* delivered whole and acknowledged: its objects count for the
		 * subscription (operators: moq-relayctl subscribers) */
		struct relay_sub *sub = fp_stream_sub(fc, fs);

		if (sub) {
			sub->objects_out += fs->raw->objects;
			sub->bytes_out += fs->raw->len;
		}
		fc->d->fp->objects_delivered += fs->raw->objects;
		fc->d->fp->object_bytes_delivered += fs->raw->len;
		fp_stream_free(fc, fs);
	} else if (fs->state == FS_RESET || (fs->state == FS_SKIPPED && raw_done)) {
		fp_stream_free(fc, fs);
	}
}

bool fp_stream_pending(const struct fp_stream *fs)
{
	const struct fp_raw *r = fs->raw;

	return r && !r->ignored && (fs->state == FS_KERNEL || fs->state == FS_AGENT) &&
	       (fs->filled < r->len || (r->fin && !fs->fin_done));
}

/* ---- bounds on the raw bytes kept (docs/relay.md "Limits") ------------- */

bool fp_stream_gone(const struct fp_stream *fs, uint64_t pos)
{
	return fs->raw && pos < fs->raw->base;
}

/* Drop r's oldest bytes so that at most keep remain; shrink its buffer to
 * shrink_to (0: keep the capacity). */
static void raw_trim(struct relayd_fp *fp, struct fp_raw *r, size_t keep, size_t shrink_to)
{
	size_t have = (size_t)(r->len - r->base), drop;

	if (have < keep)
		keep = have;
	if (have > keep) {
		drop = have - keep;
		memmove(r->buf, r->buf + drop, keep);
		r->base += drop;
		fp->raw_evicted_bytes += drop;
		fp->raw_evictions++;
	}
	if (shrink_to && shrink_to < r->cap && shrink_to >= keep) {
		uint8_t *nb = realloc(r->buf, shrink_to);

		if (nb) {
			fp->raw_bytes -= r->cap - shrink_to;
			r->buf = nb;
			r->cap = shrink_to;
		}
	}
}

/* The oldest ended raw nobody references (kept for joiners), or NULL. */
static struct fp_raw *raw_idle(struct relayd_fp *fp, const struct fp_raw * not )
{
	struct fp_raw *v = NULL;

	for (struct fp_raw *r = fp->raws; r; r = r->next)
		if (r != not &&r->ended && !r->refs)
			v = r; /* the list is newest first */
	return v;
}

/* Bring the buffers of all raws under raw_total_max: ended raws kept only
 * for joiners go first, then the largest buffer loses its older half. */
static void raws_enforce_total(struct relayd_fp *fp, const struct fp_raw *keep)
{
	while (fp->raw_total_max && fp->raw_bytes > fp->raw_total_max) {
		struct fp_raw *v = raw_idle(fp, keep);

		if (v) {
			fp->raw_evicted_bytes += v->len - v->base;
			fp->raw_evictions++;
			fp_raw_free(fp, v);
			continue;
		}
		for (struct fp_raw *r = fp->raws; r; r = r->next)
			if (r->cap && (!v || r->cap > v->cap))
				v = r;
		if (!v)
			return;
		if (v->cap <= 4096) {
			/* nothing worth halving: all of it goes */
			raw_trim(fp, v, 0, 0);
			fp->raw_bytes -= v->cap;
			free(v->buf);
			v->buf = NULL;
			v->cap = 0;
			continue;
		}
		size_t before = fp->raw_bytes;

		raw_trim(fp, v, v->cap / 2, v->cap / 2);
		if (fp->raw_bytes == before)
			return; /* could not shrink: try again with the next bytes */
	}
}

int fp_raw_append(struct relayd_fp *fp, struct fp_raw *r, const uint8_t *data, size_t len)
{
	size_t max = fp->raw_stream_max ? fp->raw_stream_max : SIZE_MAX;
	size_t have, need;

	if (len > max) {
		/* only the newest max bytes of this piece can be kept */
		raw_trim(fp, r, 0, 0);
		fp->raw_evicted_bytes += len - max;
		r->len += len - max;
		r->base = r->len;
		data += len - max;
		len = max;
	}
	have = (size_t)(r->len - r->base);
	if (have + len > max) {
		/* a quarter more than needed goes, so that the memmove is
		 * paid once per quarter of the bound, not per packet */
		size_t keep = max - len;

		raw_trim(fp, r, keep - keep / 4, 0);
	}
	have = (size_t)(r->len - r->base);
	need = have + len;
	if (need > r->cap) {
		size_t nc = r->cap ? r->cap : 4096;
		uint8_t *nb;

		while (nc < need)
			nc *= 2;
		if (nc > max)
			nc = max;
		nb = realloc(r->buf, nc);
		if (!nb)
			return -ENOMEM;
		fp->raw_bytes += nc - r->cap;
		r->buf = nb;
		r->cap = nc;
	}
	memcpy(r->buf + have, data, len);
	r->len += len;
	raws_enforce_total(fp, r);
	return 0;
}
