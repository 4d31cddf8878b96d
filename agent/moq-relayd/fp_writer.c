/* moq-relayd fast path: the agent's media writer (fp_internal.h). Writes
 * what the kernel did not forward (gap fills, streams the agent serves),
 * retransmits losses as new packets, resets streams, and keeps the gate
 * and the media plane's connection credit up to date. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fp_internal.h"
#include "lib/fp_mapwrite.h"
#include "log.h"
#include "relayd.h"
#include "varint.h"

#define MOD "fastpath"

/* ---- the agent's media writer ------------------------------------------ */

static size_t put_qv(uint8_t *p, uint64_t v)
{
	int n = quic_varint_encode(p, 8, v);

	return n > 0 ? (size_t)n : 0;
}

/* ---- flow control shared with the kernel (struct moq_credit) ----------- */

static __s64 *credit_conn(struct fp_conn *fc)
{
	struct moq_credit *cr;

	if (!fc->credit_on || fc->slot < 0)
		return NULL;
	cr = fp_maps_credit(&fc->d->fp->maps, (uint32_t)fc->slot);
	return cr ? &cr->conn : NULL;
}

/* Take up to want bytes of connection credit (the kernel takes from the
 * same counter concurrently); returns what was taken. */
static uint64_t credit_take(struct fp_conn *fc, uint64_t want)
{
	__s64 *c = credit_conn(fc), old, n;

	if (!c)
		return want;
	old = __atomic_load_n(c, __ATOMIC_SEQ_CST);
	do {
		if (old <= 0)
			return 0;
		n = (uint64_t)old < want ? old : (int64_t)want;
	} while (!__atomic_compare_exchange_n(c, &old, old - n, false, __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return (uint64_t)n;
}

static void credit_add(struct fp_conn *fc, int64_t d)
{
	__s64 *c = credit_conn(fc);

	if (c && d)
		__atomic_fetch_add(c, d, __ATOMIC_SEQ_CST);
}

/* The agent's stream grew by growth bytes: pay from what fill took ahead,
 * the rest straight from the counter (resends never grow a stream). */
static void fp_credit_charge(struct fp_conn *fc, uint64_t growth)
{
	uint64_t p = fc->cr_prepaid < growth ? fc->cr_prepaid : growth;

	fc->cr_prepaid -= p;
	credit_add(fc, -(int64_t)(growth - p));
}

uint64_t fp_conn_media_limit(const struct fp_conn *fc)
{
	const struct fp_ackx *x = fc->x;
	uint64_t lim = x->media_reserved;

	/* ngtcp2 keeps the peer's initial_max_data as its limit (it read the
	 * transport parameters itself) but is held to ng_used + FP_NG_WINDOW
	 * from there on (fp_ackxlate): the rest of its limit is media credit
	 * too. Sound while ngtcp2 sends less than FP_NG_WINDOW of stream data
	 * between two updates (every received packet, every 20 ms). */
	if (x->ng_max_data > x->ng_used + FP_NG_WINDOW)
		lim += x->ng_max_data - x->ng_used - FP_NG_WINDOW;
	return lim;
}

void fp_credit_settle(struct fp_conn *fc, uint64_t taken, uint64_t growth)
{
	credit_add(fc, (int64_t)taken - (int64_t)growth);
}

void fp_stream_credit_raise(struct fp_conn *fc, struct fp_stream *fs, uint64_t max)
{
	struct moq_down_stream_key k = {
	    .slot = (uint32_t)fc->slot, .conn_id = fs->up_conn, .up_stream_id = fs->up_sid};

	if (max <= fs->max_sd)
		return;
	fs->max_sd = max;
	if (fc->slot >= 0 && fp_maps_put_stream_credit(&fc->d->fp->maps, &k, max) == 0)
		fs->credit_put = true;
	if (fp_stream_pending(fs))
		fp_stream_fill(fc, fs);
}

/* How many of the n bytes at pos of fs the subscriber's credit allows now:
 * its MAX_STREAM_DATA for the stream, and for bytes beyond the stream's
 * highest offset sent the connection credit, taken here (cr_prepaid). */
static uint64_t credit_limit(struct fp_conn *fc, struct fp_stream *fs, uint64_t pos, uint64_t n)
{
	uint64_t end, need, got;

	if (!fc->credit_on)
		return n;
	if (pos >= fs->max_sd)
		return 0;
	if (n > fs->max_sd - pos)
		n = fs->max_sd - pos;
	end = pos + n;
	if (end <= fs->max_end)
		return n;
	need = end - fs->max_end;
	got = credit_take(fc, need);
	fc->cr_prepaid += got;
	if (got == need)
		return n;
	end = fs->max_end + got;
	return end > pos ? end - pos : 0;
}

static size_t pkt_header(struct fp_conn *fc, uint8_t *pkt, uint64_t *pn)
{
	*pn = fp_pnspace_take_media(&fc->ps);
	pkt[0] = 0x43; /* short header, fixed bit, 4-byte packet number */
	memcpy(pkt + 1, fc->dcid, 8);
	pkt[9] = (uint8_t)(*pn >> 24);
	pkt[10] = (uint8_t)(*pn >> 16);
	pkt[11] = (uint8_t)(*pn >> 8);
	pkt[12] = (uint8_t)*pn;
	return 13;
}

static uint32_t l2_overhead(const struct fp_conn *fc)
{
	return fc->family == AF_INET6 ? 14 + 40 + 8 : 14 + 20 + 8;
}

void fp_conn_arm_timer(struct fp_conn *fc)
{
	uint64_t t = fp_tracker_timer(&fc->trk);

	if (t)
		moq_timer_set(fc->timer, t);
	else
		moq_timer_cancel(fc->timer);
}

static int fc_send_pkt(struct fp_conn *fc, struct fp_stream *fs, uint8_t *pkt, size_t n,
		       uint64_t pn, uint64_t off, uint32_t len, bool fin, uint8_t kind)
{
	struct fp_media_pkt m = {0};
	int rc;

	memcpy(pkt + n, MOQ_PLAINTEXT_TAG, MOQ_TAG_LEN);
	n += MOQ_TAG_LEN;
	rc = moq_quic_conn_send_raw(fc->qc, pkt, n);
	if (rc)
		moq_dbg(MOD, "slot %d: send failed: %s (treated as lost)", fc->slot, strerror(-rc));
	m.pn = pn;
	m.sid = fs->down_sid;
	m.offset = off;
	m.len = len;
	m.bytes = (uint32_t)n + l2_overhead(fc);
	m.sent_ns = fp_now_ns();
	m.fin = fin;
	m.kind = kind;
	if (fp_tracker_on_sent(&fc->trk, &m) == 0) {
		fs->inflight++;
		fp_cc_on_sent(&fc->cc, m.bytes, 0);
	}
	fc->info.agent_packets++;
	fc->info.agent_bytes += n;
	return 0;
}

/* Write stream bytes [off, off+len) (and FIN at the end if fin) of fs as new
 * packets, from its raw upstream bytes with the subscriber's alias. */
int fp_stream_write(struct fp_conn *fc, struct fp_stream *fs, uint64_t off, uint64_t len, bool fin)
{
	struct fp_raw *r = fs->raw;
	uint8_t pkt[FP_PKT_MAX];

	if (!r || (!r->buf && !r->base) || off + len > r->len || fs->down_sid == MOQ_DS_NONE)
		return -ENODATA;
	if (len && (off < r->base || !r->buf))
		return -ENODATA; /* evicted: callers check fp_stream_gone first */
	do {
		uint64_t pn;
		size_t n = pkt_header(fc, pkt, &pn);
		size_t room, chunk;
		bool last;
		uint8_t *type = pkt + n;

		n++;
		/* 4-byte stream ID as the profile and the kernel write it */
		pkt[n++] = (uint8_t)(0x80 | (fs->down_sid >> 24));
		pkt[n++] = (uint8_t)(fs->down_sid >> 16);
		pkt[n++] = (uint8_t)(fs->down_sid >> 8);
		pkt[n++] = (uint8_t)fs->down_sid;
		n += put_qv(pkt + n, off);
		room = FP_PKT_MAX - n - 2 - 16;
		chunk = len < room ? (size_t)len : room;
		last = chunk == len;
		*type = (uint8_t)(0x08 | 0x04 | 0x02 | (last && fin ? 0x01 : 0));
		pkt[n++] = (uint8_t)(0x40 | (chunk >> 8)); /* 2-byte length */
		pkt[n++] = (uint8_t)chunk;
		memcpy(pkt + n, r->buf + (off - r->base), chunk);
		/* the subscriber's alias where it differs (same width) */
		if (fs->alias_known && fs->down_alias != r->up_alias && r->alias_w &&
		    off < r->alias_off + r->alias_w && off + chunk > r->alias_off) {
			uint8_t a[8];

			if (moq_vi_encode_width(a, sizeof(a), fs->down_alias, r->alias_w) ==
			    (int)r->alias_w) {
				for (size_t i = 0; i < r->alias_w; i++) {
					uint64_t o = r->alias_off + i;

					if (o >= off && o < off + chunk)
						pkt[n + (o - off)] = a[i];
				}
			}
		}
		n += chunk;
		fc_send_pkt(fc, fs, pkt, n, pn, off, (uint32_t)chunk, last && fin,
			    FP_TRK_KIND_STREAM);
		if (off + chunk > fs->max_end) {
			fp_credit_charge(fc, off + chunk - fs->max_end);
			fc->media_used += off + chunk - fs->max_end;
			fs->max_end = off + chunk;
		}
		off += chunk;
		len -= chunk;
	} while (len);
	if (fin)
		fs->fin_done = true;
	return 0;
}

void fp_stream_send_reset(struct fp_conn *fc, struct fp_stream *fs, uint64_t code)
{
	uint8_t pkt[64];
	uint64_t pn;
	size_t n = pkt_header(fc, pkt, &pn);

	pkt[n++] = 0x04; /* RESET_STREAM */
	pkt[n++] = (uint8_t)(0x80 | (fs->down_sid >> 24));
	pkt[n++] = (uint8_t)(fs->down_sid >> 16);
	pkt[n++] = (uint8_t)(fs->down_sid >> 8);
	pkt[n++] = (uint8_t)fs->down_sid;
	n += put_qv(pkt + n, code);
	n += put_qv(pkt + n, fs->max_end);
	fc_send_pkt(fc, fs, pkt, n, pn, fs->max_end, 0, false, FP_KIND_RESET);
	fc->info.resets_sent++;
}

/* Stop serving fs: mark the kernel's entry reset (nothing more forwarded)
 * and send RESET_STREAM with the final size when a stream exists. */
static void stream_reset(struct fp_conn *fc, struct fp_stream *fs, uint64_t code)
{
	struct relayd_fp *fp = fc->d->fp;

	fs->state = FS_RESET;
	fs->reset_code = code;
	if (fc->slot >= 0) {
		struct moq_down_stream_key k = {
		    .slot = (uint32_t)fc->slot, .conn_id = fs->up_conn, .up_stream_id = fs->up_sid};
		struct moq_down_stream v = {.stream_id = fs->down_sid,
					    .flags = MOQ_DS_F_RESET,
					    .reset_offset = fs->max_end};
		fp_maps_put_down_stream(&fp->maps, &k, &v);
	}
	if (fs->down_sid != MOQ_DS_NONE)
		fp_stream_send_reset(fc, fs, code);
	fp_conn_arm_timer(fc);
}

void fp_stream_reset(struct fp_conn *fc, struct fp_stream *fs, uint64_t code)
{
	if (fs->state == FS_RESET || fs->state == FS_SKIPPED)
		return;
	if (code != MOQ_RESET_DELIVERY_TIMEOUT && fs->fin_done && fs->raw && fs->raw->ended &&
	    fs->filled >= fs->raw->len) {
		/* everything is out already; losses are still retransmitted
		 * (a subgroup delivery timeout resets such a stream too) */
		return;
	}
	stream_reset(fc, fs, code);
}

bool fp_stream_reset_if_gone(struct fp_conn *fc, struct fp_stream *fs, uint64_t pos)
{
	if (!fp_stream_gone(fs, pos))
		return false;
	/* even when everything else is out: the subscriber cannot complete
	 * the stream without these bytes */
	if (fs->state != FS_RESET && fs->state != FS_SKIPPED) {
		fc->d->fp->raw_gone_resets++;
		stream_reset(fc, fs, MOQ_RESET_TOO_FAR_BEHIND);
	}
	return true;
}

/* The most important gate class this subscriber receives (2 s window,
 * relative to the newest stream served: fp_cc_top_class). */
int fp_conn_top_class(const struct fp_conn *fc)
{
	return fp_cc_top_class(fc->class_seen_ns, 2000000000ull);
}

/* Room under the media window for one more agent packet (always one when
 * nothing is in flight, so a stream can never wait forever). */
bool fp_conn_room(const struct fp_conn *fc)
{
	return !fc->cc.bytes_in_flight || fc->cc.bytes_in_flight + FP_PKT_MAX <= fc->cc.cwnd;
}

/* Send what the kernel did not forward of fs (KERNEL: the gaps between the
 * ranges its events covered; AGENT: everything), up to the upstream bytes
 * userspace has (all their kernel events are processed by now), as far as
 * the media window allows; the rest goes when ACKs open it. */
void fp_stream_fill(struct fp_conn *fc, struct fp_stream *fs)
{
	struct fp_raw *r = fs->raw;
	uint64_t pos = fs->filled;
	size_t i = 0, keep = 0;

	if (!r || r->ignored || (fs->state != FS_KERNEL && fs->state != FS_AGENT))
		return;
	if (fs->obj_to_ns && r->prio_class > fp_conn_top_class(fc) &&
	    fp_now_ns() - fc->top_short_ns < FP_LOW_PAUSE_NS)
		return;
	while (pos < r->len) {
		uint64_t end = r->len, n;

		for (; i < fs->ncov && fs->cov[i].lo <= pos; i++)
			if (fs->cov[i].hi > pos)
				pos = fs->cov[i].hi;
		if (pos >= r->len)
			break;
		if (i < fs->ncov && fs->cov[i].lo < end)
			end = fs->cov[i].lo;
		if (!fp_conn_room(fc))
			break;
		if (fp_stream_reset_if_gone(fc, fs, pos))
			return;
		if (fp_stream_expired(fs, pos)) {
			fp_stream_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			return;
		}
		n = end - pos < FP_CHUNK ? end - pos : FP_CHUNK;
		n = credit_limit(fc, fs, pos, n);
		if (!n)
			break; /* the subscriber's credit: written when it grows */
		fp_stream_write(fc, fs, pos, n, r->fin && pos + n == r->len);
		pos += n;
	}
	/* taken but not used (a write refused): back to the counter */
	credit_add(fc, (int64_t)fc->cr_prepaid);
	fc->cr_prepaid = 0;
	if (pos >= r->len && r->fin && !fs->fin_done && fp_conn_room(fc) &&
	    (!fc->credit_on || r->len <= fs->max_sd))
		fp_stream_write(fc, fs, r->len, 0, true);
	if (pos > r->len)
		pos = r->len;
	if (pos > fs->filled)
		fs->filled = pos;
	for (i = 0; i < fs->ncov; i++)
		if (fs->cov[i].hi > fs->filled)
			fs->cov[keep++] = fs->cov[i];
	fs->ncov = keep;
}

static int fs_order(const void *a, const void *b)
{
	const struct fp_stream *x = *(const struct fp_stream *const *)a;
	const struct fp_stream *y = *(const struct fp_stream *const *)b;

	if (x->raw->prio_class != y->raw->prio_class)
		return x->raw->prio_class < y->raw->prio_class ? -1 : 1;
	return x->up_sid < y->up_sid ? -1 : x->up_sid > y->up_sid;
}

/* Send what waits for window: most important class first, oldest first. */
void fp_conn_pump_pending(struct fp_conn *fc)
{
	struct fp_stream *v[256];
	size_t n = 0;

	for (struct fp_stream *fs = fc->streams; fs && n < 256; fs = fs->next)
		if (fp_stream_pending(fs))
			v[n++] = fs;
	if (n > 1)
		qsort(v, n, sizeof(v[0]), fs_order);
	for (size_t i = 0; i < n && fp_conn_room(fc); i++)
		fp_stream_fill(fc, v[i]);
	if (n && !fp_conn_room(fc) && fp_stream_pending(v[0]) &&
	    v[0]->raw->prio_class <= fp_conn_top_class(fc))
		fc->top_short_ns = fp_now_ns();
}

/* ---- congestion gate and flow control --------------------------------- */

void fp_conn_gate_update(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	struct fp_gate_plan plan;
	struct moq_gate *g;

	if (fc->slot < 0)
		return;
	g = fp_maps_gate(&fp->maps, (uint32_t)fc->slot);
	/* connection credit for the media plane: keep a window ahead */
	if (fc->flow_set) {
		uint64_t want = fc->media_used + 2 * fc->cc.cwnd + (256u << 10);

		if (want > fc->x->media_reserved)
			fp_ackx_media_reserve(fc->x, want - fc->x->media_reserved);
		/* the kernel's and the writer's limit (moq_credit.conn) moves
		 * with it; queued bytes go out when it grows */
		if (fc->credit_on) {
			uint64_t lim = fp_conn_media_limit(fc);

			if (lim != fc->cr_added) {
				bool grew = lim > fc->cr_added;

				credit_add(fc, (int64_t)(lim - fc->cr_added));
				fc->cr_added = lim;
				if (grew)
					fp_conn_pump_pending(fc);
			}
		}
		if (fc->media_used > fp_conn_media_limit(fc) && !fc->fc_short_warned) {
			fc->fc_short_warned = true;
			moq_warn(MOD,
				 "slot %d: media went %llu bytes past its reserved share of the "
				 "subscriber's connection credit (MAX_DATA); a subscriber with a "
				 "tight window may close the connection",
				 fc->slot,
				 (unsigned long long)(fc->media_used - fp_conn_media_limit(fc)));
		}
	}
	fp_cc_gate_plan(&fc->cc, &plan);
	fp_cc_gate_rank_from(&plan, fp_conn_top_class(fc));
	fp_cc_gate_apply(g, &plan);
	fc->info.budget = __atomic_load_n(&g->budget, __ATOMIC_RELAXED);
}

/* ---- tracker callbacks ------------------------------------------------- */

static void trk_on_acked(void *user, const struct fp_media_pkt *m)
{
	struct fp_conn *fc = user;
	struct fp_stream *fs =
	    m->kind == FP_TRK_KIND_DATAGRAM ? NULL : fp_stream_find_down(fc, m->sid);

	if (m->state == FP_TRK_LOST)
		return; /* spurious loss: flight and fs->inflight were settled then */
	fp_cc_on_packet_acked(&fc->cc, m->bytes, m->sent_ns);
	if (fs && fs->inflight)
		fs->inflight--;
}

static void trk_on_lost(void *user, const struct fp_media_pkt *m)
{
	struct fp_conn *fc = user;

	fc->info.lost++;
	if (m->kind == FP_TRK_KIND_DATAGRAM)
		return;
	if (fc->nlost < sizeof(fc->lostq) / sizeof(fc->lostq[0])) {
		fc->lostq[fc->nlost++] = *m;
		return;
	}
	/* too many at once: resend later through fp_stream_fill */
	struct fp_stream *fs = fp_stream_find_down(fc, m->sid);

	if (fs && m->kind != FP_KIND_RESET) {
		if (fs->inflight)
			fs->inflight--;
		if (m->offset < fs->filled)
			fs->filled = m->offset; /* re-sends a little more than lost */
		fp_cov_remove(fs, m->offset, m->offset + m->len);
		if (m->fin)
			fs->fin_done = false;
	}
}

const struct fp_tracker_ops fp_trk_ops = {
    .on_acked = trk_on_acked,
    .on_lost = trk_on_lost,
};

/* Retransmit what the tracker declared lost, as new packets. */
/* Send a lost range again. Bytes below fs->filled are in the raw buffer
 * (userspace read them): sent now. The kernel may have forwarded bytes
 * userspace has not read yet: those lose their coverage, so fp_stream_fill sends
 * them once they are read. A lost FIN goes out with its data or later. */
static void fs_resend(struct fp_conn *fc, struct fp_stream *fs, const struct fp_media_pkt *m)
{
	struct fp_raw *r = fs->raw;
	uint64_t lo = m->offset, hi = m->offset + m->len, avail = r ? fs->filled : 0;

	if (lo < avail && fp_stream_reset_if_gone(fc, fs, lo))
		return;
	if (lo < avail && fp_stream_expired(fs, lo)) {
		fp_stream_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
		return;
	}
	if (m->fin)
		fs->fin_done = false;
	if (lo < avail) {
		uint64_t e = hi < avail ? hi : avail;

		fp_stream_write(fc, fs, lo, e - lo, m->fin && e == hi);
	} else if (lo == hi && m->fin && r && r->fin && lo == r->len && avail >= r->len) {
		fp_stream_write(fc, fs, lo, 0, true);
	}
	if (hi > avail)
		fp_cov_remove(fs, lo > avail ? lo : avail, hi);
}

void fp_conn_process_lost(struct fp_conn *fc)
{
	for (size_t i = 0; i < fc->nlost; i++) {
		struct fp_media_pkt *m = &fc->lostq[i];
		struct fp_stream *fs = fp_stream_find_down(fc, m->sid);

		if (!fs)
			continue;
		if (fs->inflight)
			fs->inflight--;
		if (m->kind == FP_KIND_RESET) {
			fp_stream_send_reset(fc, fs, fs->reset_code);
			continue;
		}
		if (fs->state != FS_KERNEL && fs->state != FS_AGENT)
			continue;
		fc->info.retransmits++;
		fs_resend(fc, fs, m);
	}
	fc->nlost = 0;
	for (struct fp_stream *fs = fc->streams, *n; fs; fs = n) {
		n = fs->next;
		fp_stream_maybe_done(fc, fs);
	}
}
