/* moq-relayd: the fast path wiring (fastpath.h, docs/fast-path-agent.md).
 *
 * Per connection (struct fp_conn): a packet-number space shared with the
 * kernel (every ngtcp2 packet renumbered in the send hook, every received
 * packet's ACKs translated in the recv hook), and for subscriber
 * connections on the fast path a slot in the pinned maps, the media
 * tracker and congestion controller, and per upstream data stream a
 * struct fp_stream saying who serves it to this subscriber:
 *   KERNEL  the egress program forwarded its start; the agent fills what
 *           the kernel missed (ranges without an event) and retransmits
 *           losses from the raw upstream bytes (struct fp_raw);
 *   AGENT   the kernel never saw its start for this subscriber (joined
 *           mid-stream, start dropped for a reason other than the gate):
 *           the agent writes all of it; the kernel's map entry is marked
 *           reset so the kernel never forwards a piece of it;
 *   SKIPPED not owed to this subscriber (before its filter, or its start
 *           was dropped by the gate);
 *   RESET   RESET_STREAM sent (gate drop, STOP_SENDING, unsubscribe).
 *
 * Ordering fact the design rests on: the upstream ingress program clones
 * and the egress program emits its event synchronously, before the
 * original packet reaches the relay's socket. So after draining the ring
 * buffer, every stream byte userspace has read has all its kernel events
 * processed: a byte below the contiguous upstream end that no event
 * covers was not forwarded and must be written by the agent. */
#include "fastpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "lib/fp_ackxlate.h"
#include "lib/fp_cc.h"
#include "lib/fp_info.h"
#include "lib/fp_mapsync.h"
#include "lib/fp_neigh.h"
#include "lib/fp_pnspace.h"
#include "lib/fp_route.h"
#include "lib/fp_tracker.h"
#include "log.h"
#include "quic/quic.h"
#include "relayd.h"
#include "varint.h"

#define MOD "fastpath"

#define FP_PKT_MAX 1200	      /* UDP payload of agent-written packets */
#define FP_KIND_RESET 2	      /* tracker kind of a RESET_STREAM packet */
#define FP_CHUNK 1150		      /* stream bytes per agent packet (<= FP_PKT_MAX - 50) */
#define FP_LOSTQ_MAX 4096
#define FP_NG_WINDOW (1u << 20) /* ngtcp2's share of connection credit */
#define FP_POLL_NS 20000000ull /* ring buffer poll period (no wakeups; every received packet drains too) */
#define FP_INITIAL_WINDOW (64u * 1392u) /* media plane's initial cwnd */

#define FP_MARKS 32 /* arrival marks kept per upstream stream */
/* queued less important classes wait this long after the top class last
 * lacked window (they get what the top class leaves, not a share of it) */
#define FP_LOW_PAUSE_NS 50000000ull

enum fs_state { FS_KERNEL = 0, FS_AGENT, FS_SKIPPED, FS_RESET };

/* Bytes [previous mark's end, end) of an upstream stream were read at t_ns. */
struct fp_mark {
	uint64_t end, t_ns;
};

/* Raw bytes of one upstream data stream, as the relay received them. */
struct fp_raw {
	struct fp_raw *next;
	uint32_t up_conn;
	uint64_t up_sid;
	struct relay_track *tr; /* NULL until the HEADER */
	bool ignored;		/* no fast subscriber wanted it: bytes not kept */
	uint64_t group;
	uint8_t prio_class; /* publisher priority >> 5, as the gate classes it */
	uint64_t up_alias;
	size_t alias_off, alias_w;
	uint8_t *buf;
	size_t len, cap;
	bool fin, ended; /* ended: FIN read or reset: no more bytes */
	/* its track ended while streams still had bytes of it to deliver:
	 * they go on being served from buf; freed with the last of them */
	bool orphan;
	unsigned refs;
	/* when the relay read each piece: OBJECT_DELIVERY_TIMEOUT counts from
	 * there; SUBGROUP_DELIVERY_TIMEOUT from fin_ns */
	struct fp_mark mark[FP_MARKS];
	unsigned nmark;
	uint64_t fin_ns;
};

struct fp_iv {
	uint64_t lo, hi;
};

struct fp_stream {
	struct fp_stream *next;
	struct fp_raw *raw; /* referenced; NULL until userspace saw the stream */
	uint32_t up_conn;
	uint64_t up_sid;
	uint64_t down_sid; /* MOQ_DS_NONE: none */
	uint64_t down_alias;
	bool alias_known;
	enum fs_state state;
	struct fp_iv *cov; /* ranges the kernel forwarded, sorted, merged */
	size_t ncov, covcap;
	uint64_t filled;  /* below: forwarded or written */
	uint64_t max_end; /* highest stream offset sent (final size) */
	bool fin_done;
	uint32_t inflight; /* tracked packets not yet acked or lost */
	/* the subscription's effective delivery timeouts (0: none), learned
	 * when the stream meets its subscription */
	bool to_known;
	uint64_t obj_to_ns, sg_to_ns;
	uint64_t reset_code; /* of the RESET_STREAM sent (resent with it) */
	uint64_t stuck_since;
	bool stuck_logged;
	bool counted; /* in its subscription's fast_streams */
};

struct fp_conn {
	struct relayd *d;
	struct peer *p;
	struct moq_quic_conn *qc;
	uint32_t conn_id;
	int slot; /* -1: none */
	enum { FC_UNDECIDED = 0, FC_FAST, FC_SLOW } mode;
	struct moq_conn_seq priv;
	struct fp_pnspace ps;
	struct fp_ackx *x;
	bool flow_set;
	struct fp_tracker trk;
	struct fp_cc cc;
	uint64_t first_media_uni, peer_max_uni;
	uint8_t dcid[8];
	int family;
	bool upstream_registered;
	uint8_t up_cids[8][MOQ_CID_LEN];
	size_t n_up_cids;
	struct fp_stream *streams;
	struct moq_timer *timer;
	struct fp_media_pkt lostq[1024];
	size_t nlost;
	uint64_t media_used;
	struct fp_sub_info info;
	bool fc_short_warned; /* media plane went beyond its reserved credit */
	/* datagrams the kernel forwarded (or the gate dropped) recently, by
	 * identity; userspace sends those it does not find here */
	struct fp_dg {
		uint32_t conn;
		uint64_t alias, group, object;
	} dg[256];
	unsigned dg_next;
	uint64_t class_seen_ns[MOQ_PRIO_CLASSES]; /* last stream of each class */
	/* OBJECT_DELIVERY_TIMEOUT of the newest fast subscription: for a
	 * stream dropped at the gate before its subscription is known */
	uint64_t obj_to_ns;
	bool has_sg_to;	 /* some stream has a SUBGROUP_DELIVERY_TIMEOUT */
	bool has_obj_to; /* some stream has an OBJECT_DELIVERY_TIMEOUT */
	uint64_t top_short_ns; /* the top class last lacked window */
};

struct relayd_fp {
	struct fp_maps maps;
	uint32_t generation;
	struct ring_buffer *rb;
	struct moq_timer *poll_timer;
	struct fp_conn *slots[MOQ_MAX_SUBSCRIBERS];
	uint32_t next_slot, next_conn_id;
	uint32_t slot_hi; /* slots in use are below this */
	struct fp_raw *raws;
	size_t raw_bytes;
	struct moq_track_subs *tsbuf;
	uint64_t events, orphan_events, hook_drops;
	uint64_t last_hb_ns, hb_every_ns;
	uint64_t poll_ns; /* FP_POLL_NS, shorter for a short heartbeat timeout */
	struct fp_sub_info gone; /* counters of connections already closed */
};

static struct relayd *g_d; /* for the packet hooks (one daemon per process) */

static struct fp_conn *conn_fc(struct moq_quic_conn *c)
{
	void *u = moq_quic_conn_user(c);
	struct peer *p;

	if (!g_d || !u || u == (void *)&g_d->acc)
		return NULL;
	p = moq_session_user(u);
	return p ? p->fp : NULL;
}

static uint64_t now_ns(void)
{
	return moq_loop_now();
}

/* Process the events the programs wrote (they never wake us). */
static void fp_drain(struct relayd_fp *fp)
{
	if (fp->rb)
		ring_buffer__consume(fp->rb);
}

/* ---- small helpers ---------------------------------------------------- */

static struct fp_stream *fs_find_up(struct fp_conn *fc, uint32_t up_conn, uint64_t up_sid)
{
	for (struct fp_stream *fs = fc->streams; fs; fs = fs->next)
		if (fs->up_conn == up_conn && fs->up_sid == up_sid)
			return fs;
	return NULL;
}

static struct fp_stream *fs_find_down(struct fp_conn *fc, uint64_t down_sid)
{
	for (struct fp_stream *fs = fc->streams; fs; fs = fs->next)
		if (fs->down_sid == down_sid)
			return fs;
	return NULL;
}

static struct fp_raw *raw_find(struct relayd_fp *fp, uint32_t up_conn, uint64_t up_sid)
{
	for (struct fp_raw *r = fp->raws; r; r = r->next)
		if (r->up_conn == up_conn && r->up_sid == up_sid)
			return r;
	return NULL;
}

static void raw_free(struct relayd_fp *fp, struct fp_raw *r)
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
static void raw_maybe_free(struct relayd_fp *fp, struct fp_raw *r)
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
	raw_free(fp, r);
}

/* A new group started on tr: free the kept raws of older groups. */
static void raws_retire_older(struct relayd_fp *fp, struct relay_track *tr, uint64_t group)
{
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->tr == tr && r->group < group && r->ended && !r->refs)
			raw_free(fp, r);
	}
}

static void cov_add(struct fp_stream *fs, uint64_t lo, uint64_t hi)
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
static void cov_remove(struct fp_stream *fs, uint64_t lo, uint64_t hi)
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
		cov_add(fs, extra.lo, extra.hi);
}

static void fs_set_raw(struct fp_stream *fs, struct fp_raw *r)
{
	if (fs->raw || !r)
		return;
	fs->raw = r;
	r->refs++;
}

static struct fp_stream *fs_new(struct fp_conn *fc, uint32_t up_conn, uint64_t up_sid)
{
	struct fp_stream *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->up_conn = up_conn;
	fs->up_sid = up_sid;
	fs->down_sid = MOQ_DS_NONE;
	fs->next = fc->streams;
	fc->streams = fs;
	fs_set_raw(fs, raw_find(fc->d->fp, up_conn, up_sid));
	return fs;
}

/* ---- delivery timeouts (draft-18 section "Delivery Timeouts") ------------ */

/* Note that the bytes up to r->len were read now. */
static void raw_mark(struct fp_raw *r, uint64_t now)
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
static uint64_t raw_arrival(const struct fp_raw *r, uint64_t pos)
{
	for (unsigned i = 0; i < r->nmark; i++)
		if (pos < r->mark[i].end)
			return r->mark[i].t_ns;
	return 0;
}

/* ms (a peer's parameter: up to 2^62) to ns, capped at 2^62 ns (146
 * years: clock + timeout cannot wrap). */
static uint64_t ms_to_ns(uint64_t ms)
{
	return ms > (1ull << 62) / 1000000ull ? 1ull << 62 : ms * 1000000ull;
}

static void fs_learn_timeouts(struct fp_conn *fc, struct fp_stream *fs, struct relay_sub *s)
{
	struct moq_subscription_info info;

	if (fs->to_known)
		return;
	fs->to_known = true;
	if (!s->req || moq_request_subscription(s->req, &info) != 0)
		return;
	fs->obj_to_ns = ms_to_ns(info.object_delivery_timeout);
	fs->sg_to_ns = ms_to_ns(info.subgroup_delivery_timeout);
	if (fs->sg_to_ns)
		fc->has_sg_to = true;
	if (fs->obj_to_ns)
		fc->has_obj_to = true;
}

/* Is the byte at pos older than the stream's OBJECT_DELIVERY_TIMEOUT? Then
 * it must not be sent (nor retransmitted): the stream is reset instead. */
static bool fs_expired(const struct fp_stream *fs, uint64_t pos)
{
	uint64_t t = fs->raw && fs->obj_to_ns ? raw_arrival(fs->raw, pos) : 0;
	uint64_t now = now_ns();

	return t && now > t && now - t > fs->obj_to_ns;
}

/* The subscription of fc's peer that fs belongs to (NULL: not known). */
static struct relay_sub *fs_sub(struct fp_conn *fc, const struct fp_stream *fs)
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
static void fs_count(struct fp_conn *fc, struct fp_stream *fs, struct relay_sub *s)
{
	if (fs->counted || fs->down_sid == MOQ_DS_NONE)
		return;
	if (!s)
		s = fs_sub(fc, fs);
	if (!s)
		return;
	fs->counted = true;
	s->fast_streams++;
}

static void fs_unlink_free(struct fp_conn *fc, struct fp_stream *fs)
{
	struct relayd_fp *fp = fc->d->fp;

	fs_count(fc, fs, NULL);

	for (struct fp_stream **pp = &fc->streams; *pp; pp = &(*pp)->next) {
		if (*pp == fs) {
			*pp = fs->next;
			break;
		}
	}
	if (fc->slot >= 0 && fp->maps.fd[FP_MAP_DOWN_STREAMS] >= 0) {
		/* keep the kernel's entry, marked reset: a late retransmission
		 * of the upstream stream's start must not open a second
		 * downstream stream (it becomes a STREAM_RESET drop); the LRU
		 * map ages it out */
		struct moq_down_stream_key k = {.slot = (uint32_t)fc->slot,
						.conn_id = fs->up_conn,
						.up_stream_id = fs->up_sid};
		struct moq_down_stream v = {.stream_id = fs->down_sid,
					    .flags = MOQ_DS_F_RESET,
					    .reset_offset = fs->max_end};
		bpf_map_update_elem(fp->maps.fd[FP_MAP_DOWN_STREAMS], &k, &v, BPF_ANY);
	}
	if (fs->raw) {
		struct fp_raw *r = fs->raw;

		r->refs--;
		raw_maybe_free(fp, r);
	}
	free(fs->cov);
	free(fs);
}

/* Done: nothing more to send or to wait for. */
static void fs_maybe_done(struct fp_conn *fc, struct fp_stream *fs)
{
	bool raw_done = fs->raw ? fs->raw->ended : false;

	if (fs->inflight)
		return;
	if (fs->state == FS_RESET || ((fs->state == FS_KERNEL || fs->state == FS_AGENT) &&
				      fs->fin_done && raw_done && fs->filled >= fs->raw->len) ||
	    (fs->state == FS_SKIPPED && raw_done))
		fs_unlink_free(fc, fs);
}

/* ---- the agent's media writer ------------------------------------------ */

static size_t put_qv(uint8_t *p, uint64_t v)
{
	int n = quic_varint_encode(p, 8, v);

	return n > 0 ? (size_t)n : 0;
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

static void fc_arm_timer(struct fp_conn *fc)
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
		moq_dbg(MOD, "slot %d: send failed: %s (treated as lost)", fc->slot,
			  strerror(-rc));
	m.pn = pn;
	m.sid = fs->down_sid;
	m.offset = off;
	m.len = len;
	m.bytes = (uint32_t)n + l2_overhead(fc);
	m.sent_ns = now_ns();
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
static int fs_write(struct fp_conn *fc, struct fp_stream *fs, uint64_t off, uint64_t len, bool fin)
{
	struct fp_raw *r = fs->raw;
	uint8_t pkt[FP_PKT_MAX];

	if (!r || !r->buf || off + len > r->len || fs->down_sid == MOQ_DS_NONE)
		return -ENODATA;
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
		memcpy(pkt + n, r->buf + off, chunk);
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

static void fs_send_reset(struct fp_conn *fc, struct fp_stream *fs, uint64_t code)
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
static void fs_reset(struct fp_conn *fc, struct fp_stream *fs, uint64_t code)
{
	struct relayd_fp *fp = fc->d->fp;

	if (fs->state == FS_RESET || fs->state == FS_SKIPPED)
		return;
	if (code != MOQ_RESET_DELIVERY_TIMEOUT && fs->fin_done && fs->raw && fs->raw->ended &&
	    fs->filled >= fs->raw->len) {
		/* everything is out already; losses are still retransmitted
		 * (a subgroup delivery timeout resets such a stream too) */
		return;
	}
	fs->state = FS_RESET;
	fs->reset_code = code;
	if (fc->slot >= 0) {
		struct moq_down_stream_key k = {.slot = (uint32_t)fc->slot,
						.conn_id = fs->up_conn,
						.up_stream_id = fs->up_sid};
		struct moq_down_stream v = {.stream_id = fs->down_sid,
					    .flags = MOQ_DS_F_RESET,
					    .reset_offset = fs->max_end};
		bpf_map_update_elem(fp->maps.fd[FP_MAP_DOWN_STREAMS], &k, &v, BPF_ANY);
	}
	if (fs->down_sid != MOQ_DS_NONE)
		fs_send_reset(fc, fs, code);
	fc_arm_timer(fc);
}

/* The most important gate class this subscriber receives (2 s window). */
static int fc_top_class(const struct fp_conn *fc)
{
	uint64_t now = now_ns();

	for (int c = 0; c < MOQ_PRIO_CLASSES; c++)
		if (fc->class_seen_ns[c] && fc->class_seen_ns[c] + 2000000000ull > now)
			return c;
	return 0;
}

/* Room under the media window for one more agent packet (always one when
 * nothing is in flight, so a stream can never wait forever). */
static bool fc_room(const struct fp_conn *fc)
{
	return !fc->cc.bytes_in_flight || fc->cc.bytes_in_flight + FP_PKT_MAX <= fc->cc.cwnd;
}

/* Send what the kernel did not forward of fs (KERNEL: the gaps between the
 * ranges its events covered; AGENT: everything), up to the upstream bytes
 * userspace has (all their kernel events are processed by now), as far as
 * the media window allows; the rest goes when ACKs open it. */
static void fs_fill(struct fp_conn *fc, struct fp_stream *fs)
{
	struct fp_raw *r = fs->raw;
	uint64_t pos = fs->filled;
	size_t i = 0, keep = 0;

	if (!r || r->ignored || (fs->state != FS_KERNEL && fs->state != FS_AGENT))
		return;
	if (fs->obj_to_ns && r->prio_class > fc_top_class(fc) &&
	    now_ns() - fc->top_short_ns < FP_LOW_PAUSE_NS)
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
		if (!fc_room(fc))
			break;
		if (fs_expired(fs, pos)) {
			fs_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			return;
		}
		n = end - pos < FP_CHUNK ? end - pos : FP_CHUNK;
		fs_write(fc, fs, pos, n, r->fin && pos + n == r->len);
		pos += n;
	}
	if (pos >= r->len && r->fin && !fs->fin_done && fc_room(fc))
		fs_write(fc, fs, r->len, 0, true);
	if (pos > r->len)
		pos = r->len;
	if (pos > fs->filled)
		fs->filled = pos;
	for (i = 0; i < fs->ncov; i++)
		if (fs->cov[i].hi > fs->filled)
			fs->cov[keep++] = fs->cov[i];
	fs->ncov = keep;
}

static bool fs_pending(const struct fp_stream *fs)
{
	const struct fp_raw *r = fs->raw;

	return r && !r->ignored && (fs->state == FS_KERNEL || fs->state == FS_AGENT) &&
	       (fs->filled < r->len || (r->fin && !fs->fin_done));
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
static void fc_pump_pending(struct fp_conn *fc)
{
	struct fp_stream *v[256];
	size_t n = 0;

	for (struct fp_stream *fs = fc->streams; fs && n < 256; fs = fs->next)
		if (fs_pending(fs))
			v[n++] = fs;
	if (n > 1)
		qsort(v, n, sizeof(v[0]), fs_order);
	for (size_t i = 0; i < n && fc_room(fc); i++)
		fs_fill(fc, v[i]);
	if (n && !fc_room(fc) && fs_pending(v[0]) && v[0]->raw->prio_class <= fc_top_class(fc))
		fc->top_short_ns = now_ns();
}

/* ---- maps ---------------------------------------------------------------- */

static void track_sync(struct relayd *d, struct relay_track *tr)
{
	struct relayd_fp *fp = d->fp;
	struct peer *up = tr->up_peer;
	struct moq_track_key k = {0};
	struct moq_track_subs *v = fp->tsbuf;

	if (!up || !up->fp || !up->fp->upstream_registered)
		return;
	k.conn_id = up->fp->conn_id;
	k.track_alias = tr->up_alias;
	v->count = 0;
	v->default_priority = 128;
	for (struct relay_sub *s = tr->subs; s; s = s->next) {
		struct peer *p = s->peer;

		if (!s->fast || !p->fp || p->fp->slot < 0 || v->count >= MOQ_MAX_FANOUT)
			continue;
		v->slots[v->count++] = (uint32_t)p->fp->slot;
	}
	if (v->count)
		bpf_map_update_elem(fp->maps.fd[FP_MAP_TRACKS], &k, v, BPF_ANY);
	else
		bpf_map_delete_elem(fp->maps.fd[FP_MAP_TRACKS], &k);
}

static int sockaddr_to(const struct sockaddr *sa, int *family, uint8_t addr[16], uint16_t *port_be)
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		*family = AF_INET;
		memcpy(addr, &in->sin_addr, 4);
		*port_be = in->sin_port;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		*port_be = in6->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			*family = AF_INET;
			memcpy(addr, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, &in6->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

void relayd_fp_upstream(struct relayd *d, struct peer *p)
{
	struct relayd_fp *fp = d->fp;
	struct fp_conn *fc = p ? p->fp : NULL;
	uint8_t ids[8][20];
	size_t lens[8], n;
	struct moq_upstream u = {0};
	const struct sockaddr *sa;
	socklen_t salen;
	int family;
	uint16_t port_be;

	if (!fp || !fc || p->is_upstream)
		return;
	sa = moq_quic_conn_peer(fc->qc, &salen);
	if (!sa || sockaddr_to(sa, &family, u.saddr, &port_be))
		return;
	u.conn_id = fc->conn_id;
	u.generation = fp->generation;
	u.family = family == AF_INET ? MOQ_AF_INET : MOQ_AF_INET6;
	u.sport_be = port_be;
	n = moq_quic_conn_scids(fc->qc, ids, lens, 8);
	for (size_t i = 0; i < n; i++) {
		struct moq_cid cid;
		bool known = false;

		if (lens[i] != MOQ_CID_LEN)
			continue;
		memcpy(cid.cid, ids[i], MOQ_CID_LEN);
		for (size_t j = 0; j < fc->n_up_cids; j++)
			if (!memcmp(fc->up_cids[j], cid.cid, MOQ_CID_LEN))
				known = true;
		if (known)
			continue;
		if (bpf_map_update_elem(fp->maps.fd[FP_MAP_UPSTREAMS], &cid, &u, BPF_ANY)) {
			moq_warn(MOD, "%s: cannot register the publisher in moq_upstreams: %s",
				 moq_session_name(p->s), strerror(errno));
			continue;
		}
		if (fc->n_up_cids < 8)
			memcpy(fc->up_cids[fc->n_up_cids++], cid.cid, MOQ_CID_LEN);
		fc->upstream_registered = true;
	}
}

/* Give a subscriber connection a slot: subscriber entry, CIDs, counters. */
static int fc_slot_alloc(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	ngtcp2_conn *ng = moq_quic_conn_ngtcp2(fc->qc);
	const ngtcp2_transport_params *tp = ng ? ngtcp2_conn_get_remote_transport_params(ng) : NULL;
	struct moq_subscriber sub = {0};
	const struct sockaddr *sa;
	socklen_t salen;
	uint8_t daddr[16], src[16], ids[8][20], dcid[20];
	size_t lens[8], n;
	uint16_t dport_be;
	int family, ifindex = 0, rc;
	uint32_t slot = UINT32_MAX;

	if (!tp)
		return -EAGAIN;
	sa = moq_quic_conn_peer(fc->qc, &salen);
	if (!sa || sockaddr_to(sa, &family, daddr, &dport_be))
		return -EAFNOSUPPORT;
	if (moq_quic_conn_dcid(fc->qc, dcid) != MOQ_CID_LEN)
		return -EPROTO;
	rc = fp_route_lookup(family, daddr, &ifindex, src);
	if (rc) {
		moq_warn(MOD, "%s: no route to the subscriber (%s): served in userspace",
			 moq_session_name(fc->p->s), strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < MOQ_MAX_SUBSCRIBERS; i++) {
		uint32_t s = (fp->next_slot + i) % MOQ_MAX_SUBSCRIBERS;

		if (!fp->slots[s]) {
			slot = s;
			break;
		}
	}
	if (slot == UINT32_MAX)
		return -ENOSPC;
	fp->next_slot = (slot + 1) % MOQ_MAX_SUBSCRIBERS;

	/* counters: a reused slot starts at 0, then takes the private
	 * counter's value (fp_pnspace_rebind) */
	struct moq_conn_seq *seq = fp_maps_seq(&fp->maps, slot);
	struct moq_gate *g = fp_maps_gate(&fp->maps, slot);
	uint64_t opened = moq_quic_conn_uni_opened(fc->qc);

	__atomic_store_n(&seq->next_pn, 0, __ATOMIC_SEQ_CST);
	fp_pnspace_rebind(&fc->ps, seq);
	__atomic_store_n(&seq->next_uni, opened, __ATOMIC_SEQ_CST);
	fc->first_media_uni = opened;
	if (!fc->peer_max_uni)
		fc->peer_max_uni = tp->initial_max_streams_uni;
	__atomic_store_n(&seq->max_uni, fc->peer_max_uni ? fc->peer_max_uni : 1,
			 __ATOMIC_SEQ_CST);
	g->enabled = 0;
	__atomic_store_n(&g->budget, 0, __ATOMIC_SEQ_CST);
	fc->trk.cfg.max_ack_delay_ns = tp->max_ack_delay;
	fc->trk.cfg.ack_delay_exponent = (uint32_t)tp->ack_delay_exponent;

	sub.flags = MOQ_SUB_F_ACTIVE;
	sub.generation = fp->generation;
	sub.ifindex = (uint32_t)ifindex;
	sub.family = family == AF_INET ? MOQ_AF_INET : MOQ_AF_INET6;
	sub.sport_be = htons(moq_quic_endpoint_port(fc->d->ep));
	sub.dport_be = dport_be;
	memcpy(sub.saddr, src, 16);
	memcpy(sub.daddr, daddr, 16);
	memcpy(sub.dcid, dcid, MOQ_CID_LEN);
	memcpy(fc->dcid, dcid, MOQ_CID_LEN);
	fp_if_mac(ifindex, sub.eth_src);
	if (fp_neigh_lookup(NULL, family, daddr, ifindex, sub.eth_dst) == 0)
		sub.flags |= MOQ_SUB_F_L2_LEARNED;
	n = moq_quic_conn_scids(fc->qc, ids, lens, 8);
	for (size_t i = 0; i < n; i++) {
		if (lens[i] != MOQ_CID_LEN)
			continue;
		if (!sub.scid[0] && !sub.scid[1])
			memcpy(sub.scid, ids[i], MOQ_CID_LEN);
		bpf_map_update_elem(fp->maps.fd[FP_MAP_SUB_BY_CID], ids[i], &slot, BPF_ANY);
	}
	fc->family = family;
	fc->slot = (int)slot;
	fp->slots[slot] = fc;
	if (slot + 1 > fp->slot_hi)
		fp->slot_hi = slot + 1;
	if (bpf_map_update_elem(fp->maps.fd[FP_MAP_SUBSCRIBERS], &slot, &sub, BPF_ANY)) {
		moq_warn(MOD, "slot %u: cannot write moq_subscribers: %s", slot, strerror(errno));
		return -errno;
	}
	fc->info.slot = slot;
	fc->info.conn_id = fc->conn_id;
	{
		char host[INET6_ADDRSTRLEN] = "?";

		inet_ntop(family, daddr, host, sizeof(host));
		snprintf(fc->info.peer, sizeof(fc->info.peer), "%s:%u", host, ntohs(dport_be));
	}
	moq_info(MOD, "%s: fast path slot %u (ifindex %d, first media stream %llu)",
		 moq_session_name(fc->p->s), slot, ifindex,
		 (unsigned long long)(4 * opened + 3));
	return 0;
}

static void fc_slot_release(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	uint32_t slot;
	struct moq_subscriber sub = {0};
	uint8_t ids[8][20];
	size_t lens[8], n;

	if (fc->slot < 0)
		return;
	slot = (uint32_t)fc->slot;
	bpf_map_update_elem(fp->maps.fd[FP_MAP_SUBSCRIBERS], &slot, &sub, BPF_ANY);
	n = moq_quic_conn_scids(fc->qc, ids, lens, 8);
	for (size_t i = 0; i < n; i++)
		if (lens[i] == MOQ_CID_LEN)
			bpf_map_delete_elem(fp->maps.fd[FP_MAP_SUB_BY_CID], ids[i]);
	{
		struct moq_gate *g = fp_maps_gate(&fp->maps, slot);
		struct moq_conn_seq *seq = fp_maps_seq(&fp->maps, slot);

		g->enabled = 0;
		__atomic_store_n(&g->budget, 0, __ATOMIC_SEQ_CST);
		/* the pnspace keeps numbering on a private counter from here */
		fc->priv.next_pn = __atomic_load_n(&seq->next_pn, __ATOMIC_SEQ_CST);
		fp_pnspace_rebind(&fc->ps, &fc->priv);
		__atomic_store_n(&seq->next_pn, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&seq->next_uni, 0, __ATOMIC_SEQ_CST);
	}
	fp->slots[slot] = NULL;
	fc->slot = -1;
}

/* ---- congestion gate and flow control --------------------------------- */

static void fc_gate_update(struct fp_conn *fc)
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
		if (fc->media_used > fc->x->media_reserved && !fc->fc_short_warned) {
			fc->fc_short_warned = true;
			moq_warn(MOD, "slot %d: media went %llu bytes past its reserved share of the subscriber's connection credit (MAX_DATA); a subscriber with a tight window may close the connection",
				 fc->slot,
				 (unsigned long long)(fc->media_used - fc->x->media_reserved));
		}
	}
	fp_cc_gate_plan(&fc->cc, &plan);
	/* The most important class this subscriber currently receives may
	 * use the whole window; the classes below it stop earlier, by rank.
	 * (fp_cc ranks from class 0, so a stream that is all priority 128
	 * would otherwise be held to ~70% of the window.) */
	{
		int cmin = fc_top_class(fc);

		if (cmin > 0) {
			for (int c = MOQ_PRIO_CLASSES - 1; c >= 0; c--)
				plan.threshold[c] = c >= cmin ? plan.threshold[c - cmin] : 0;
		}
	}
	fp_cc_gate_apply(g, &plan);
	fc->info.budget = __atomic_load_n(&g->budget, __ATOMIC_RELAXED);
}

/* ---- tracker callbacks ------------------------------------------------- */

static void trk_on_acked(void *user, const struct fp_media_pkt *m)
{
	struct fp_conn *fc = user;
	struct fp_stream *fs = m->kind == FP_TRK_KIND_DATAGRAM ? NULL : fs_find_down(fc, m->sid);

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
	/* too many at once: resend later through fs_fill */
	struct fp_stream *fs = fs_find_down(fc, m->sid);

	if (fs && m->kind != FP_KIND_RESET) {
		if (fs->inflight)
			fs->inflight--;
		if (m->offset < fs->filled)
			fs->filled = m->offset; /* re-sends a little more than lost */
		cov_remove(fs, m->offset, m->offset + m->len);
		if (m->fin)
			fs->fin_done = false;
	}
}

static const struct fp_tracker_ops trk_ops = {
    .on_acked = trk_on_acked,
    .on_lost = trk_on_lost,
};

/* Retransmit what the tracker declared lost, as new packets. */
/* Send a lost range again. Bytes below fs->filled are in the raw buffer
 * (userspace read them): sent now. The kernel may have forwarded bytes
 * userspace has not read yet: those lose their coverage, so fs_fill sends
 * them once they are read. A lost FIN goes out with its data or later. */
static void fs_resend(struct fp_conn *fc, struct fp_stream *fs, const struct fp_media_pkt *m)
{
	struct fp_raw *r = fs->raw;
	uint64_t lo = m->offset, hi = m->offset + m->len, avail = r ? fs->filled : 0;

	if (lo < avail && fs_expired(fs, lo)) {
		fs_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
		return;
	}
	if (m->fin)
		fs->fin_done = false;
	if (lo < avail) {
		uint64_t e = hi < avail ? hi : avail;

		fs_write(fc, fs, lo, e - lo, m->fin && e == hi);
	} else if (lo == hi && m->fin && r && r->fin && lo == r->len && avail >= r->len) {
		fs_write(fc, fs, lo, 0, true);
	}
	if (hi > avail)
		cov_remove(fs, lo > avail ? lo : avail, hi);
}

static void fc_process_lost(struct fp_conn *fc)
{
	for (size_t i = 0; i < fc->nlost; i++) {
		struct fp_media_pkt *m = &fc->lostq[i];
		struct fp_stream *fs = fs_find_down(fc, m->sid);

		if (!fs)
			continue;
		if (fs->inflight)
			fs->inflight--;
		if (m->kind == FP_KIND_RESET) {
			fs_send_reset(fc, fs, fs->reset_code);
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
		fs_maybe_done(fc, fs);
	}
}

/* ---- ACK translation callbacks ---------------------------------------- */

static void ax_on_media_ack(void *user, const struct fp_wire_ack *ack)
{
	struct fp_conn *fc = user;
	struct fp_trk_summary sum;
	uint64_t now = now_ns();

	if (fc->slot < 0)
		return;
	fp_tracker_on_ack(&fc->trk, ack, now, &sum);
	fp_cc_on_losses(&fc->cc, &sum, now);
	fc_process_lost(fc);
	fc_pump_pending(fc);
	fc_gate_update(fc);
	fc_arm_timer(fc);
}

static int ax_is_media_stream(void *user, uint64_t sid)
{
	struct fp_conn *fc = user;

	return fc->slot >= 0 && (sid & 3) == 3 && (sid >> 2) >= fc->first_media_uni;
}

static void ax_on_stop_sending(void *user, uint64_t sid, uint64_t code)
{
	struct fp_conn *fc = user;
	struct fp_stream *fs = fs_find_down(fc, sid);

	(void)code;
	if (fs)
		fs_reset(fc, fs, MOQ_RESET_CANCELLED);
}

static void ax_on_max_streams_uni(void *user, uint64_t max)
{
	struct fp_conn *fc = user;

	if (max > fc->peer_max_uni)
		fc->peer_max_uni = max;
	if (fc->slot >= 0) {
		struct moq_conn_seq *seq = fp_maps_seq(&fc->d->fp->maps, (uint32_t)fc->slot);

		__atomic_store_n(&seq->max_uni, fc->peer_max_uni, __ATOMIC_SEQ_CST);
	}
}

static const struct fp_ackx_ops ax_ops = {
    .on_media_ack = ax_on_media_ack,
    .is_media_stream = ax_is_media_stream,
    .on_stop_sending = ax_on_stop_sending,
    /* on_max_stream_data: none; media streams stay far below the 4 MiB
     * initial per-stream window (docs/fast-path-agent.md, limitations) */
    .on_max_streams_uni = ax_on_max_streams_uni,
};

/* ---- packet hooks ------------------------------------------------------ */

static int fp_send_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
			uint64_t ng_pn, void *user)
{
	struct fp_conn *fc = conn_fc(c);

	(void)cap;
	(void)user;
	if (!fc)
		return 0;
	if (fp_pnspace_on_send(&fc->ps, pkt, *len, MOQ_CID_LEN, ng_pn, NULL) < 0) {
		g_d->fp->hook_drops++;
		return -1;
	}
	return 0;
}

static int fp_recv_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
			void *user)
{
	struct fp_conn *fc = conn_fc(c);
	ngtcp2_conn *ng;
	int rc;

	(void)user;
	if (!fc)
		return 0;
	ng = moq_quic_conn_ngtcp2(c);
	if (!fc->flow_set && ng) {
		const ngtcp2_transport_params *tp = ngtcp2_conn_get_remote_transport_params(ng);

		if (tp) {
			fp_ackx_set_flow(fc->x, tp->initial_max_data, FP_NG_WINDOW);
			fc->flow_set = true;
		}
	}
	if (fc->flow_set && ng)
		fp_ackx_set_ng_used(fc->x,
				    fc->x->ng_max_data - ngtcp2_conn_get_max_data_left(ng));
	/* events first: an ACK may cover packets whose events are queued */
	if (fc->slot >= 0)
		fp_drain(g_d->fp);
	rc = fp_ackx_packet(fc->x, pkt, len, cap);
	if (rc < 0) {
		moq_dbg(MOD, "dropped a received packet: %s", fp_ackx_reason_str(-rc));
		g_d->fp->hook_drops++;
		return -1;
	}
	return 0;
}

void relayd_fp_hooks(struct relayd *d, struct moq_quic_callbacks *cb)
{
	(void)d;
	cb->send_hook = fp_send_hook;
	cb->recv_hook = fp_recv_hook;
}

/* ---- ring buffer ------------------------------------------------------- */

/* The agent serves fs from now on, or nobody does (serve false, or the
 * peer's stream limit is reached: SKIPPED). A stream the kernel already
 * opened downstream keeps its kernel entry (the kernel goes on forwarding
 * what the gate lets through; the agent fills the gaps). Otherwise the
 * kernel's entry is marked reset, so the kernel never forwards a piece of
 * it. Returns true when the agent serves it. */
static bool fs_take_over(struct fp_conn *fc, struct fp_stream *fs, bool serve)
{
	struct relayd_fp *fp = fc->d->fp;
	struct moq_down_stream_key k = {.slot = (uint32_t)fc->slot,
					.conn_id = fs->up_conn,
					.up_stream_id = fs->up_sid};
	struct moq_down_stream v = {.flags = MOQ_DS_F_RESET};

	if (serve && fs->down_sid != MOQ_DS_NONE) {
		fs->state = FS_AGENT;
		return true;
	}
	if (serve) {
		struct moq_conn_seq *seq = fp_maps_seq(&fp->maps, (uint32_t)fc->slot);
		uint64_t n = __atomic_fetch_add(&seq->next_uni, 1, __ATOMIC_SEQ_CST);

		if (n < fc->peer_max_uni)
			fs->down_sid = 4 * n + 3;
	}
	fs->state = serve && fs->down_sid != MOQ_DS_NONE ? FS_AGENT : FS_SKIPPED;
	v.stream_id = fs->down_sid;
	bpf_map_update_elem(fp->maps.fd[FP_MAP_DOWN_STREAMS], &k, &v, BPF_ANY);
	return fs->state == FS_AGENT;
}

/* Priority class of an upstream stream, from the kernel's stream map. */
static int up_stream_class(struct fp_conn *fc, uint32_t conn_id, uint64_t sid)
{
	struct moq_up_stream_key k = {.conn_id = conn_id, .stream_id = sid};
	struct moq_up_stream v;

	if (bpf_map_lookup_elem(fc->d->fp->maps.fd[FP_MAP_UP_STREAMS], &k, &v))
		return MOQ_PRIO_CLASSES - 1;
	return v.priority >> 5;
}

/* The gate dropped a packet of fs (the kernel now drops the rest of the
 * stream). The most important class keeps flowing: the agent serves the
 * rest of the stream under the window (queueing instead of a reset);
 * less important streams are reset. */
static void fs_gate_dropped(struct fp_conn *fc, struct fp_stream *fs, const struct moq_event *ev)
{
	int cls = fs->raw ? fs->raw->prio_class : up_stream_class(fc, ev->conn_id, ev->up_stream_id);
	uint64_t timeout = fs->to_known ? fs->obj_to_ns : fc->obj_to_ns;

	/* A subscriber that set OBJECT_DELIVERY_TIMEOUT said how old an object
	 * may get: every class queues through the agent (most important
	 * first) until then. Without one, less important classes are reset
	 * at once: queueing them would only add delay. */
	if (cls > fc_top_class(fc) && !timeout) {
		fs_reset(fc, fs, MOQ_RESET_TOO_FAR_BEHIND);
		return;
	}
	if (cls <= fc_top_class(fc))
		fc->top_short_ns = now_ns();
	if (fs_take_over(fc, fs, true))
		fc->info.gate_queued++;
}

static void fc_event(struct fp_conn *fc, const struct moq_event *ev)
{
	bool fwd = ev->verdict == MOQ_V_FORWARDED;
	bool gate = ev->reason == MOQ_R_GATE_DROP || ev->reason == MOQ_R_STREAM_RESET;
	struct fp_stream *fs;

	if (fwd) {
		struct moq_event tev = *ev;

		if (ev->kind == MOQ_EV_KIND_DATAGRAM)
			tev.down_stream_id = MOQ_DS_NONE; /* not a stream id */
		fc->info.kernel_packets++;
		fc->info.kernel_bytes += ev->wire_len;
		fp_pnspace_note_media(&fc->ps, ev->pn);
		if (fp_tracker_on_event(&fc->trk, &tev) == 0)
			fp_cc_on_sent(&fc->cc, ev->wire_len, 1);
	} else if (gate) {
		fc->info.gate_drops++;
		if (ev->reason == MOQ_R_GATE_DROP)
			moq_info(MOD, "slot %u: gate drop (stream %llu offset %llu): cwnd %llu in flight %llu budget %lld%s",
				 ev->slot, (unsigned long long)ev->up_stream_id,
				 (unsigned long long)ev->offset, (unsigned long long)fc->cc.cwnd,
				 (unsigned long long)fc->cc.bytes_in_flight,
				 (long long)fp_maps_gate(&fc->d->fp->maps, ev->slot)->budget,
				 fc->cc.in_recovery ? " (recovery)" : "");
	}
	if (ev->kind == MOQ_EV_KIND_DATAGRAM) {
		/* forwarded or deliberately dropped by the gate: either way
		 * userspace must not send this one */
		if (fwd || ev->reason == MOQ_R_GATE_DROP)
			fc->dg[fc->dg_next++ & 255] = (struct fp_dg){ev->conn_id, ev->up_stream_id,
								     ev->offset, ev->down_stream_id};
		return;
	}
	if (ev->kind != MOQ_EV_KIND_STREAM)
		return;
	fs = fs_find_up(fc, ev->conn_id, ev->up_stream_id);
	if (!fs) {
		/* A stream is new to us when the kernel forwarded its start,
		 * dropped its start at the gate (never opened downstream), or
		 * mapped it and then failed the rewrite. Drops of streams we
		 * finished or that userspace will decide on are not news. */
		bool news = fwd || (ev->offset == 0 && (ev->reason == MOQ_R_GATE_DROP ||
							 (!gate && ev->down_stream_id != MOQ_DS_NONE)));

		if (!news)
			return;
		fs = fs_new(fc, ev->conn_id, ev->up_stream_id);
		if (!fs)
			return;
		fs->down_sid = ev->down_stream_id;
		fs->state = FS_KERNEL;
	}
	if (fs->state != FS_KERNEL)
		return;
	if (fwd) {
		uint64_t end = ev->offset + ev->data_len;

		if (fs->down_sid == MOQ_DS_NONE)
			fs->down_sid = ev->down_stream_id;
		cov_add(fs, ev->offset, end);
		if (ev->fin)
			fs->fin_done = true;
		if (end > fs->max_end) {
			fc->media_used += end - fs->max_end;
			fs->max_end = end;
		}
		fs->inflight++;
	} else if (gate) {
		fs_gate_dropped(fc, fs, ev);
	}
}

/* The egress program ran for a clone (FORWARDED event, packet number
 * taken) but the device refused to send it: the agent sends those bytes
 * (stream: they lose their coverage; datagram: no longer counts as
 * delivered). The tracker declares the number lost later (a harmless
 * duplicate then). */
static void fc_clone_failed(struct fp_conn *fc, const struct moq_event *ev)
{
	if (ev->kind == MOQ_EV_KIND_DATAGRAM) {
		for (unsigned i = 0; i < 256; i++) {
			struct fp_dg *g = &fc->dg[i];

			if (g->conn == ev->conn_id && g->alias == ev->up_stream_id &&
			    g->group == ev->offset && g->object == ev->down_stream_id)
				g->conn = 0;
		}
		return;
	}
	struct fp_stream *fs = fs_find_up(fc, ev->conn_id, ev->up_stream_id);

	if (!fs || fs->state != FS_KERNEL)
		return;
	cov_remove(fs, ev->offset, ev->offset + ev->data_len);
	if (ev->offset < fs->filled)
		fs->filled = ev->offset;
	if (ev->fin)
		fs->fin_done = false;
}

static int on_ring_event(void *ctx, void *data, size_t sz)
{
	struct relayd_fp *fp = ctx;
	const struct moq_event *ev = data;
	struct fp_conn *fc;

	if (sz < sizeof(*ev))
		return 0;
	fp->events++;
	if (ev->slot >= MOQ_MAX_SUBSCRIBERS)
		return 0;
	fc = fp->slots[ev->slot];
	if (!fc) {
		fp->orphan_events++;
		return 0;
	}
	/* lines about this event are about fc's session, not the one whose
	 * packet made us drain the ring */
	RELAYD_LOG_PEER(fc->p);
	if (ev->prog == MOQ_PROG_SUBSCRIBER_EGRESS)
		fc_event(fc, ev);
	else if (ev->prog == MOQ_PROG_UPSTREAM_INGRESS && ev->reason == MOQ_R_REDIRECT_FAILED)
		fc_clone_failed(fc, ev);
	return 0;
}

/* Refresh the heartbeat when a quarter of the timeout has passed; true
 * when it did. */
static bool fp_heartbeat(struct relayd_fp *fp)
{
	uint64_t now = fp_monotonic_ns();

	if (now - fp->last_hb_ns < fp->hb_every_ns)
		return false;
	fp_maps_heartbeat(&fp->maps, now);
	fp->last_hb_ns = now;
	return true;
}

/* Log streams that make no progress (debugging aid, info level). */
static void fp_check_stuck(struct relayd_fp *fp)
{
	uint64_t now = now_ns();

	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (!fc)
			continue;
		for (struct fp_stream *fs = fc->streams; fs; fs = fs->next) {
			struct fp_raw *r = fs->raw;
			bool waiting = r && (fs->state == FS_KERNEL || fs->state == FS_AGENT) &&
				       r->ended && !(fs->fin_done && fs->filled >= r->len);

			if (!waiting) {
				fs->stuck_since = 0;
				continue;
			}
			if (!fs->stuck_since)
				fs->stuck_since = now;
			else if (now - fs->stuck_since > 1000000000ull && !fs->stuck_logged) {
				fs->stuck_logged = true;
				moq_info(MOD, "slot %u: stream up %llu down %llu state %d stuck: filled %llu/%zu fin_done %d inflight %u ncov %zu cov0 [%llu,%llu) cwnd %llu flight %llu",
					 i, (unsigned long long)fs->up_sid, (unsigned long long)fs->down_sid,
					 fs->state, (unsigned long long)fs->filled, r->len, fs->fin_done,
					 fs->inflight, fs->ncov,
					 (unsigned long long)(fs->ncov ? fs->cov[0].lo : 0),
					 (unsigned long long)(fs->ncov ? fs->cov[0].hi : 0),
					 (unsigned long long)fc->cc.cwnd,
					 (unsigned long long)fc->cc.bytes_in_flight);
			}
		}
	}
}

/* SUBGROUP_DELIVERY_TIMEOUT: a stream not fully delivered that long after
 * its FIN was read is reset. Delivered streams are gone already. */
static void fc_subgroup_timeouts(struct fp_conn *fc)
{
	uint64_t now = now_ns();

	for (struct fp_stream *fs = fc->streams, *n; fs; fs = n) {
		n = fs->next;
		if (fs->sg_to_ns && fs->raw && fs->raw->fin &&
		    (fs->state == FS_KERNEL || fs->state == FS_AGENT) &&
		    now - fs->raw->fin_ns > fs->sg_to_ns) {
			fs_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			fs_maybe_done(fc, fs);
		}
	}
}

/* OBJECT_DELIVERY_TIMEOUT for data that waits: a queued stream whose next
 * byte got too old is reset now, not when window opens (its raw and the
 * subscriber's stream credit are released), and paused lower classes are
 * resumed. */
static void fc_object_timeouts(struct fp_conn *fc)
{
	for (struct fp_stream *fs = fc->streams, *n; fs; fs = n) {
		n = fs->next;
		if (fs->obj_to_ns && fs_pending(fs) && fs_expired(fs, fs->filled)) {
			fs_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			fs_maybe_done(fc, fs);
		}
	}
	fc_pump_pending(fc);
}

/* Periodic work: heartbeat, events, every slot's gate and timer. */
static void fp_service(struct relayd *d)
{
	struct relayd_fp *fp = d->fp;

	if (fp_heartbeat(fp))
		fp_check_stuck(fp);
	fp_drain(fp);
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (fc) {
			if (fc->has_sg_to)
				fc_subgroup_timeouts(fc);
			if (fc->has_obj_to)
				fc_object_timeouts(fc);
			fc_gate_update(fc);
			fc_arm_timer(fc);
		}
	}
}

/* ---- upstream raw bytes ------------------------------------------------ */

/* The newest group whose stream the relay has seen on tr. A joiner is
 * served the group in progress only while no newer group has started: the
 * finished subgroups of an older group are no longer kept, and half a
 * group is worse than none. */
static uint64_t track_newest_group(const struct relayd_fp *fp, const struct relay_track *tr)
{
	uint64_t g = 0;

	for (const struct fp_raw *r = fp->raws; r; r = r->next)
		if (r->tr == tr && r->group > g)
			g = r->group;
	return g;
}

/* Is r owed to subscriber s although the kernel did not forward its start?
 * Its range says so, or (unfiltered) it is the group in progress at the
 * join and no newer group has started. */
static bool raw_owed(const struct relayd_fp *fp, const struct relay_sub *s, const struct fp_raw *r)
{
	return relay_range_contains(&s->range, r->group, 0) || s->wait_group_start ||
	       (!s->has_filter && r->group + 1 >= s->range.start.group &&
		r->group >= track_newest_group(fp, r->tr));
}

/* Serve r to the fast subscribers of its track (only to `only` if set). */
static void raw_pump(struct relayd *d, struct fp_raw *r, struct relay_sub *only)
{
	struct relayd_fp *fp = d->fp;

	if (!r->tr || r->ignored)
		return;
	fp_drain(fp);
	/* the last stream finishing below must not free r under this loop
	 * (nor under the caller): callers free it with raw_maybe_free */
	r->refs++;
	for (struct relay_sub *s = r->tr->subs; s; s = s->next) {
		struct peer *p = s->peer;
		struct fp_conn *fc = p->fp;
		struct fp_stream *fs;

		if (!s->fast || !fc || fc->slot < 0 || (only && s != only))
			continue;
		fs = fs_find_up(fc, r->up_conn, r->up_sid);
		if (!fs) {
			/* the kernel did not forward its start to this
			 * subscriber: the agent serves all of it, or none */
			struct moq_down_stream_key hk = {.slot = (uint32_t)fc->slot,
							 .conn_id = r->up_conn,
							 .up_stream_id = r->up_sid};
			struct moq_down_stream hv;

			/* an entry means the stream was served (or dropped)
			 * already; its state is gone with it */
			if (!bpf_map_lookup_elem(fp->maps.fd[FP_MAP_DOWN_STREAMS], &hk, &hv))
				continue;
			fs = fs_new(fc, r->up_conn, r->up_sid);
			if (!fs)
				continue;
			fs_take_over(fc, fs, raw_owed(fp, s, r));
		}
		fs_set_raw(fs, r);
		fs_count(fc, fs, s);
		fs_learn_timeouts(fc, fs, s);
		fc->class_seen_ns[r->prio_class] = now_ns();
		if (!fs->alias_known) {
			fs->down_alias = s->alias;
			fs->alias_known = true;
		}
		fs_fill(fc, fs);
		fs_maybe_done(fc, fs);
		fc_gate_update(fc);
		fc_arm_timer(fc);
	}
	r->refs--;
}

void relayd_fp_raw(struct relayd *d, struct peer *p, struct moq_rx *rx, uint64_t off,
		   const uint8_t *data, size_t len, int fin)
{
	struct relayd_fp *fp = d->fp;
	uint64_t sid = (uint64_t)moq_rx_stream_id(rx);
	struct fp_raw *r;

	if (!fp || !p->fp_conn_id)
		return;
	r = raw_find(fp, p->fp_conn_id, sid);
	if (!r) {
		if (off != 0)
			return; /* a stream older than our interest */
		r = calloc(1, sizeof(*r));
		if (!r)
			return;
		r->up_conn = p->fp_conn_id;
		r->up_sid = sid;
		r->next = fp->raws;
		fp->raws = r;
	}
	if (r->ended)
		return;
	if (!r->ignored && len) {
		if (r->len + len > r->cap) {
			size_t nc = r->cap ? r->cap : 4096;
			uint8_t *nb;

			while (nc < r->len + len)
				nc *= 2;
			nb = realloc(r->buf, nc);
			if (!nb) {
				r->ignored = true; /* subscribers get resets below */
			} else {
				fp->raw_bytes += nc - r->cap;
				r->buf = nb;
				r->cap = nc;
			}
		}
		if (!r->ignored && off == r->len) {
			memcpy(r->buf + r->len, data, len);
			r->len += len;
			raw_mark(r, now_ns());
		}
	}
	if (fin) {
		r->fin = true;
		r->ended = true;
		r->fin_ns = now_ns();
	}
	raw_pump(d, r, NULL);
	if (r->ended)
		raw_maybe_free(fp, r);
}

void relayd_fp_rx_header(struct relayd *d, struct peer *p, struct relay_rx *st)
{
	struct relayd_fp *fp = d->fp;
	struct fp_raw *r;
	uint64_t v;
	int a, b;

	if (!fp || !p->fp_conn_id)
		return;
	r = raw_find(fp, p->fp_conn_id, (uint64_t)moq_rx_stream_id(st->rx));
	if (!r || r->tr)
		return;
	r->tr = st->track;
	r->group = st->group; /* relay_forward_event filled it from the HEADER */
	r->prio_class = (uint8_t)((st->hdr.default_priority ? 128 : st->hdr.publisher_priority) >> 5);
	/* kept even when the track has no fast subscriber yet: one joining
	 * while this stream is in progress is owed it (the first subscriber
	 * of a track races the stream's HEADER) */
	/* where the Track Alias sits in the bytes: type, then alias */
	a = r->len ? moq_vi_decode(&v, r->buf, r->len) : -1;
	b = a > 0 ? moq_vi_decode(&r->up_alias, r->buf + a, r->len - (size_t)a) : -1;
	if (a > 0 && b > 0) {
		r->alias_off = (size_t)a;
		r->alias_w = (size_t)b;
	}
	raws_retire_older(fp, st->track, st->group);
	raw_pump(d, r, NULL);
	if (r->ended)
		raw_maybe_free(fp, r);
}

/* tr is about to be freed: its raws forget it (their bytes are served no
 * more; an ended, unreferenced one is freed now, the others when they end
 * or their publisher goes). */
void relayd_fp_track_gone(struct relayd *d, struct relay_track *tr)
{
	struct relayd_fp *fp = d->fp;

	if (!fp)
		return;
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->tr != tr)
			continue;
		r->tr = NULL;
		if (r->fin && r->refs)
			r->orphan = true; /* still delivered to its streams */
		else
			r->ignored = true;
		raw_maybe_free(fp, r);
	}
}

void relayd_fp_rx_reset(struct relayd *d, struct peer *up, struct moq_rx *rx)
{
	struct relayd_fp *fp = d->fp;
	struct fp_raw *r;

	if (!fp || !up || !up->fp_conn_id)
		return;
	r = raw_find(fp, up->fp_conn_id, (uint64_t)moq_rx_stream_id(rx));
	if (!r || r->ended)
		return;
	r->ended = true;
	r->refs++; /* not freed by its last stream inside the loop */
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];
		struct fp_stream *fs = fc ? fs_find_up(fc, r->up_conn, r->up_sid) : NULL;

		if (fs) {
			fs_reset(fc, fs, MOQ_RESET_CANCELLED);
			fs_maybe_done(fc, fs);
		}
	}
	r->refs--;
	raw_maybe_free(fp, r);
}

/* ---- datagrams --------------------------------------------------------- */

/* Userspace has an upstream datagram for fast subscriber s: did the kernel
 * forward it? Its clone's event was written before the original reached
 * the socket, so after a drain it is among the recent ones if it exists. */
static bool fp_datagram_missed(void *arg, struct relay_sub *s, const struct moq_object_datagram *d)
{
	struct relayd *rd = arg;
	struct peer *p = s->peer, *up = s->track ? s->track->up_peer : NULL;
	struct fp_conn *fc = p->fp;

	if (!rd->fp || !fc || fc->slot < 0)
		return false;
	fp_drain(rd->fp);
	for (unsigned i = 0; i < 256; i++) {
		const struct fp_dg *g = &fc->dg[i];

		if (up && g->conn == up->fp_conn_id && g->alias == d->track_alias &&
		    g->group == d->group_id && g->object == d->object_id)
			return false;
	}
	fc->info.agent_packets++;
	return true;
}

/* ---- subscribers ------------------------------------------------------- */

bool relayd_fp_conn_is_fast(const struct peer *p)
{
	return p && p->fp && p->fp->mode == FC_FAST;
}

void relayd_fp_sub_established(struct relayd *d, struct relay_sub *sub)
{
	struct relayd_fp *fp = d->fp;
	struct peer *p = sub->peer;
	struct fp_conn *fc = p->fp;
	struct relay_track *tr = sub->track;
	struct peer *up = tr->up_peer;

	if (!fp || !fc || p->is_upstream)
		return;
	if (fc->mode == FC_UNDECIDED) {
		int rc = fc_slot_alloc(fc);

		fc->mode = rc ? FC_SLOW : FC_FAST;
		if (rc)
			moq_warn(MOD, "%s: not on the fast path (%s): userspace relay",
				 moq_session_name(p->s), strerror(-rc));
	}
	if (fc->mode != FC_FAST)
		return;
	sub->fast = true;
	{
		struct moq_subscription_info info;

		if (sub->req && moq_request_subscription(sub->req, &info) == 0)
			fc->obj_to_ns = ms_to_ns(info.object_delivery_timeout);
	}
	if (up && up->fp)
		relayd_fp_upstream(d, up);
	if (up && up->fp && up->fp->upstream_registered) {
		struct moq_subscription_key k = {.slot = (uint32_t)fc->slot,
						 .conn_id = up->fp->conn_id,
						 .track_alias = tr->up_alias};
		/* a filter's start group: the kernel opens no stream of an
		 * earlier group (unfiltered: the relay serves the group in
		 * progress too, raw_owed) */
		struct moq_subscription v = {.track_alias = sub->alias,
					     .start_group = sub->has_filter ? sub->range.start.group
									     : 0};

		bpf_map_update_elem(fp->maps.fd[FP_MAP_SUBSCRIPTIONS], &k, &v, BPF_ANY);
		track_sync(d, tr);
	}
	fc_gate_update(fc);
	/* streams of the track already in progress (or of its latest group) */
	for (struct fp_raw *r = fp->raws; r; r = r->next)
		if (r->tr == tr && !r->ignored)
			raw_pump(d, r, sub);
}

void relayd_fp_sub_gone(struct relayd *d, struct relay_sub *sub)
{
	struct relayd_fp *fp = d->fp;
	struct peer *p = sub->peer;
	struct fp_conn *fc = p ? p->fp : NULL;
	struct relay_track *tr = sub->track;
	struct peer *up = tr ? tr->up_peer : NULL;

	if (!fp || !fc || !sub->fast)
		return;
	sub->fast = false;
	if (fc->slot < 0 || !tr)
		return;
	if (up && up->fp) {
		struct moq_subscription_key k = {.slot = (uint32_t)fc->slot,
						 .conn_id = up->fp->conn_id,
						 .track_alias = tr->up_alias};

		bpf_map_delete_elem(fp->maps.fd[FP_MAP_SUBSCRIPTIONS], &k);
	}
	/* track_sync counts fast subs: this one is no longer */
	track_sync(d, tr);
	fp_drain(fp);
	for (struct fp_stream *fs = fc->streams, *n; fs; fs = n) {
		n = fs->next;
		if (!fs->raw || fs->raw->tr != tr)
			continue;
		fs_count(fc, fs, sub);
		/* the track ended: what its publisher finished is delivered
		 * in full (retransmitted too), like the session's streams */
		if (sub->track_ended && fs->raw->fin)
			continue;
		fs_reset(fc, fs, MOQ_RESET_CANCELLED);
		fs_maybe_done(fc, fs);
	}
}

uint64_t relayd_fp_sub_streams(struct relayd *d, struct relay_sub *sub)
{
	struct peer *p = sub->peer;
	struct fp_conn *fc = p ? p->fp : NULL;

	if (!d->fp || !fc || !sub->fast)
		return 0;
	fp_drain(d->fp);
	for (struct fp_stream *fs = fc->streams; fs; fs = fs->next)
		if (fs->raw && fs->raw->tr == sub->track)
			fs_count(fc, fs, sub);
	return sub->fast_streams;
}

/* ---- connections ------------------------------------------------------- */

static void fc_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct fp_conn *fc = arg;
	struct fp_trk_summary sum;
	int probes = 0, rc;
	uint64_t now = now_ns();

	(void)loop;
	(void)t;
	if (fc->slot < 0)
		return;
	fp_drain(fc->d->fp);
	rc = fp_tracker_on_timeout(&fc->trk, now, &sum, &probes);
	if (rc == 1) {
		fp_cc_on_losses(&fc->cc, &sum, now);
		fc_process_lost(fc);
	} else if (rc == 2) {
		struct fp_media_pkt old[2];
		size_t n = fp_tracker_oldest(&fc->trk, old, probes < 2 ? (size_t)probes : 2);

		for (size_t i = 0; i < n; i++) {
			struct fp_stream *fs = fs_find_down(fc, old[i].sid);

			if (!fs || old[i].kind == FP_TRK_KIND_DATAGRAM)
				continue;
			if (old[i].kind == FP_KIND_RESET)
				fs_send_reset(fc, fs, fs->reset_code);
			else if (fs->state != FS_KERNEL && fs->state != FS_AGENT)
				continue;
			else if (fs_expired(fs, old[i].offset))
				fs_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			else
				fs_write(fc, fs, old[i].offset, old[i].len, old[i].fin);
		}
	}
	fc_pump_pending(fc);
	fc_gate_update(fc);
	fc_arm_timer(fc);
}

void relayd_fp_peer_new(struct relayd *d, struct peer *p)
{
	struct relayd_fp *fp = d->fp;
	struct fp_conn *fc;
	struct fp_tracker_cfg tc = {.cap = 16384};

	if (!fp)
		return;
	p->fp_conn_id = ++fp->next_conn_id;
	if (p->is_upstream || !p->s)
		return; /* our client connection to an upstream relay: not hooked */
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return;
	fc->x = calloc(1, sizeof(*fc->x));
	if (!fc->x || fp_pnspace_init(&fc->ps, &fc->priv, 8192) ||
	    fp_tracker_init(&fc->trk, &tc, &trk_ops, fc)) {
		free(fc->x);
		free(fc);
		return;
	}
	fc->d = d;
	fc->p = p;
	fc->qc = moq_session_conn(p->s);
	fc->conn_id = p->fp_conn_id;
	fc->slot = -1;
	fp_ackx_init(fc->x, &fc->ps, MOQ_CID_LEN, &ax_ops, fc);
	{
		/* RFC 9002's 10-packet initial window is a SHOULD; a relay's
		 * subscriber joins a stream already running at the publisher's
		 * rate, and a window that small makes the gate reset streams
		 * before the first ACKs arrive (docs/fast-path-agent.md) */
		struct fp_cc_cfg ccfg = {.initial_window = FP_INITIAL_WINDOW};

		fp_cc_init(&fc->cc, &ccfg);
	}
	fc->timer = moq_timer_new(d->loop, fc_timer_cb, fc);
	p->fp = fc;
}

/* The cumulative counters of src added to dst (stats line totals). */
static void info_add(struct fp_sub_info *dst, const struct fp_sub_info *src)
{
	dst->kernel_packets += src->kernel_packets;
	dst->kernel_bytes += src->kernel_bytes;
	dst->agent_packets += src->agent_packets;
	dst->agent_bytes += src->agent_bytes;
	dst->retransmits += src->retransmits;
	dst->lost += src->lost;
	dst->gate_drops += src->gate_drops;
	dst->gate_queued += src->gate_queued;
	dst->resets_sent += src->resets_sent;
}

void relayd_fp_peer_gone(struct relayd *d, struct peer *p)
{
	struct relayd_fp *fp = d->fp;
	struct fp_conn *fc = p->fp;

	if (!fp)
		return;
	/* its upstream streams end */
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->up_conn == p->fp_conn_id && !r->ended) {
			r->ended = true;
			r->refs++; /* freed by the loop below, not inside this one */
			for (uint32_t i = 0; i < fp->slot_hi; i++) {
				struct fp_conn *o = fp->slots[i];
				struct fp_stream *fs = o ? fs_find_up(o, r->up_conn, r->up_sid) : NULL;

				if (fs && !(fs->fin_done && fs->filled >= r->len)) {
					fs_reset(o, fs, MOQ_RESET_CANCELLED);
					fs_maybe_done(o, fs);
				}
			}
			r->refs--;
		}
	}
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->up_conn == p->fp_conn_id && !r->refs)
			raw_free(fp, r);
	}
	if (!fc)
		return;
	info_add(&fp->gone, &fc->info);
	for (size_t i = 0; i < fc->n_up_cids; i++)
		bpf_map_delete_elem(fp->maps.fd[FP_MAP_UPSTREAMS], fc->up_cids[i]);
	while (fc->streams)
		fs_unlink_free(fc, fc->streams);
	fc_slot_release(fc);
	moq_timer_free(fc->timer);
	fp_tracker_free(&fc->trk);
	fp_pnspace_free(&fc->ps);
	free(fc->x);
	free(fc);
	p->fp = NULL;
}

/* ---- start / stop ------------------------------------------------------ */

/* Empty a hash map: in batches of 4096 (a run with many streams leaves
 * hundreds of thousands of entries; one delete per entry took seconds at
 * start), one by one where the kernel has no batch operation. */
static size_t clear_hash(int fd, size_t ksz)
{
	struct bpf_map_info info = {0};
	uint32_t ilen = sizeof(info);
	uint8_t k[64], nk[64];
	void *keys = NULL, *vals = NULL;
	uint64_t batch[8];
	bool first = true;
	size_t cleared = 0;

	if (ksz > sizeof(k))
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.key_size == ksz) {
		keys = malloc(4096u * info.key_size);
		vals = malloc(4096u * info.value_size);
	}
	while (keys && vals) {
		uint32_t n = 4096;
		int rc = bpf_map_lookup_and_delete_batch(fd, first ? NULL : batch, batch, keys, vals,
							 &n, NULL);

		first = false;
		if (rc && errno != ENOENT) {
			moq_dbg(MOD, "batch delete unavailable (%s): one by one", strerror(errno));
			break;
		}
		cleared += n;
		if (rc) { /* ENOENT: that was the last batch */
			free(keys);
			free(vals);
			return cleared;
		}
	}
	free(keys);
	free(vals);
	while (bpf_map_get_next_key(fd, NULL, nk) == 0) {
		memcpy(k, nk, ksz);
		if (bpf_map_delete_elem(fd, k))
			break;
		cleared++;
	}
	return cleared;
}

/* A restarted agent clears what an earlier run left in the maps. */
static void clear_stale(struct relayd_fp *fp)
{
	uint64_t t0 = fp_monotonic_ns();
	size_t n = clear_hash(fp->maps.fd[FP_MAP_UPSTREAMS], sizeof(struct moq_cid));

	n += clear_hash(fp->maps.fd[FP_MAP_UP_STREAMS], sizeof(struct moq_up_stream_key));
	n += clear_hash(fp->maps.fd[FP_MAP_TRACKS], sizeof(struct moq_track_key));
	n += clear_hash(fp->maps.fd[FP_MAP_SUB_BY_CID], sizeof(struct moq_cid));
	n += clear_hash(fp->maps.fd[FP_MAP_SUBSCRIPTIONS], sizeof(struct moq_subscription_key));
	n += clear_hash(fp->maps.fd[FP_MAP_DOWN_STREAMS], sizeof(struct moq_down_stream_key));
	if (n)
		moq_info(MOD, "cleared %zu map entries an earlier run left, in %.1f ms", n,
			 (double)(fp_monotonic_ns() - t0) / 1e6);
	/* subscriber entries of an earlier run carry its generation: the
	 * programs ignore them, and a slot is rewritten when reused */
	for (uint32_t i = 0; i < MOQ_MAX_SUBSCRIBERS; i++) {
		memset(fp_maps_seq(&fp->maps, i), 0, sizeof(struct moq_conn_seq));
		memset(fp_maps_gate(&fp->maps, i), 0, sizeof(struct moq_gate));
	}
}


static void poll_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	(void)loop;
	fp_service(arg);
	moq_timer_set_in(t, ((struct relayd *)arg)->fp->poll_ns);
}

int relayd_fp_start(struct relayd *d, char *err, size_t errlen)
{
	struct relayd_fp *fp;
	struct timespec ts;

	if (!d->cfg.fast_path)
		return 0;
	fp = calloc(1, sizeof(*fp));
	if (!fp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fp->tsbuf = calloc(1, sizeof(*fp->tsbuf));
	if (!fp->tsbuf || fp_maps_open(&fp->maps, d->cfg.bpf_pin_dir, err, errlen)) {
		free(fp->tsbuf);
		free(fp);
		return -1;
	}
	/* before clear_stale: a second daemon must not wipe a live one's maps */
	if (fp_maps_lock(&fp->maps, d->cfg.bpf_pin_dir, err, errlen)) {
		fp_maps_close(&fp->maps);
		free(fp->tsbuf);
		free(fp);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fp->generation = (uint32_t)(ts.tv_sec ^ ts.tv_nsec ^ (unsigned)getpid()) | 1u;
	clear_stale(fp);
	if (fp_maps_start(&fp->maps, fp->generation, d->cfg.heartbeat_timeout_ms * 1000000ull,
			  moq_quic_endpoint_port(d->ep), err, errlen)) {
		fp_maps_close(&fp->maps);
		free(fp->tsbuf);
		free(fp);
		return -1;
	}
	fp->rb = ring_buffer__new(fp->maps.fd[FP_MAP_EVENTS], on_ring_event, fp, NULL);
	if (!fp->rb) {
		snprintf(err, errlen, "cannot read the moq_events ring buffer: %s",
			 strerror(errno));
		fp_maps_stop(&fp->maps);
		fp_maps_close(&fp->maps);
		free(fp->tsbuf);
		free(fp);
		return -1;
	}
	fp->hb_every_ns = d->cfg.heartbeat_timeout_ms * 1000000ull / 4;
	fp->last_hb_ns = fp_monotonic_ns();
	fp->poll_ns = fp->hb_every_ns < FP_POLL_NS ? fp->hb_every_ns : FP_POLL_NS;
	d->fp = fp;
	g_d = d;
	d->fwd.fast_datagram_missed = fp_datagram_missed;
	d->fwd.fast_arg = d;
	/* the programs submit without wakeups (one epoll wakeup per packet
	 * cost more than the forwarding saved): events are drained before
	 * every received packet is processed, before upstream bytes are
	 * read, and by this poll timer */
	fp->poll_timer = moq_timer_new(d->loop, poll_cb, d);
	moq_timer_set_in(fp->poll_timer, fp->poll_ns);
	moq_warn(MOD, "fast path on: maps in %s, generation %u, heartbeat timeout %llu ms",
		 d->cfg.bpf_pin_dir, fp->generation,
		 (unsigned long long)d->cfg.heartbeat_timeout_ms);
	return 0;
}

void relayd_fp_stop(struct relayd *d)
{
	struct relayd_fp *fp = d->fp;

	if (!fp)
		return;
	fp_maps_stop(&fp->maps);
	ring_buffer__free(fp->rb);
	moq_timer_free(fp->poll_timer);
	while (fp->raws)
		raw_free(fp, fp->raws);
	fp_maps_close(&fp->maps);
	free(fp->tsbuf);
	free(fp);
	d->fp = NULL;
	g_d = NULL;
}

uint32_t relayd_fp_snapshot(struct relayd *d, struct fp_sub_info *out, uint32_t max)
{
	struct relayd_fp *fp = d->fp;
	uint32_t n = 0;

	if (!fp)
		return 0;
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (!fc)
			continue;
		if (n < max) {
			struct fp_sub_info *o = &out[n];
			struct moq_gate *g = fp_maps_gate(&fp->maps, i);

			*o = fc->info;
			o->budget = __atomic_load_n(&g->budget, __ATOMIC_RELAXED);
			o->cwnd = fc->cc.cwnd;
			o->bytes_in_flight = fc->cc.bytes_in_flight;
			o->srtt_us = fc->trk.has_rtt ? fc->trk.smoothed_rtt / 1000 : 0;
			o->min_rtt_us = fc->trk.has_rtt ? fc->trk.min_rtt / 1000 : 0;
		}
		n++;
	}
	return n;
}

int relayd_fp_stats_line(struct relayd *d, char *buf, size_t len)
{
	struct relayd_fp *fp = d->fp;
	struct fp_sub_info t;
	uint32_t subs = 0;

	if (!fp)
		return 0;
	t = fp->gone;
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (!fc)
			continue;
		subs++;
		info_add(&t, &fc->info);
	}
	uint64_t all = t.kernel_packets + t.agent_packets;

	return snprintf(buf, len,
			"fastpath subs=%u kernel_pkts=%llu agent_pkts=%llu kernel_share=%.2f%% "
			"retransmits=%llu lost=%llu gate_drops=%llu gate_queued=%llu resets=%llu hook_drops=%llu "
			"events=%llu orphan_events=%llu raw_bytes=%zu",
			subs, (unsigned long long)t.kernel_packets,
			(unsigned long long)t.agent_packets,
			all ? 100.0 * (double)t.kernel_packets / (double)all : 0.0,
			(unsigned long long)t.retransmits, (unsigned long long)t.lost,
			(unsigned long long)t.gate_drops, (unsigned long long)t.gate_queued,
			(unsigned long long)t.resets_sent,
			(unsigned long long)fp->hook_drops, (unsigned long long)fp->events,
			(unsigned long long)fp->orphan_events, fp->raw_bytes);
}
