/* libFuzzer target: the orders of events that end a subscription, through
 * moq-relayd's own session callbacks (agent/moq-relayd/sessions.c, fetch.c)
 * and the relay library, over an in-memory fake of the moq_quic API and of
 * the event loop (virtual time).
 *
 * Byte fuzzers feed malformed bytes; the relay's worst bug (issue 14: a
 * PUBLISH_DONE ahead of the last FIN freed a track twice) came from a valid
 * but unusual order of valid events. Here every input is a script of
 * well-formed events from a publisher and up to FE_SUBS subscribers, in any
 * order: data streams opening, bringing objects, FIN, RESET_STREAM;
 * PUBLISH_DONE (with a right or wrong Stream Count, with or without FIN);
 * the publisher's request stream ending; UNSUBSCRIBE; STOP_SENDING on the
 * relay's streams; sessions closing; time passing (the session's wait after
 * PUBLISH_DONE, the unknown-alias hold); new subscribers joining.
 *
 * The fake transport and loop: this file defines every moq_quic_* and
 * moq_loop_* / moq_timer_* function the session layer and the relay call;
 * the fuzz build links libmoq through an archive, so quic.o and loop.o are
 * never pulled in. A CONNECTION_CLOSE the relay sends is delivered back as
 * on_close after the event, as the real layer does once the packet is out.
 *
 * Input: byte 0 = setup (bit 0: the publisher PUBLISHes the track, else it
 * announces the namespace and the relay SUBSCRIBEs; bits 1-2: subscribers'
 * filter: none, Next Group Start, AbsoluteStart 0, Largest Object; bits 3-4:
 * number of first subscribers - 1), then one event per byte (its low 4 bits
 * the kind, the rest and the next byte its arguments).
 *
 * Checked (besides ASan/UBSan/LeakSanitizer):
 *  - the relay never writes PUBLISH_DONE to a subscriber before every data
 *    stream it opened to it is finished or reset (the draft's MUST), and
 *    its Stream Count is the number of those streams;
 *  - what it writes on request streams decodes;
 *  - when every session has closed, the relay holds no track and no peer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control.h"
#include "data.h"
#include "log.h"
#include "moq-relayd/fastpath.h"
#include "moq-relayd/relayd.h"
#include "moq-relayd/sessions.h"
#include "moq_codes.h"
#include "moq_err.h"
#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"
#include "varint.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_relay_events: %s failed at line %d\n", #cond,        \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- the fake loop (virtual time) ---------------------------------------- */

struct moq_loop {
	int stop;
};

struct moq_timer {
	struct moq_timer *next;
	moq_timer_cb cb;
	void *arg;
	uint64_t when; /* UINT64_MAX: not armed */
};

static uint64_t vnow = 1000000000ull;
static struct moq_timer *timers;
static struct moq_loop the_loop;

uint64_t moq_loop_now(void)
{
	return vnow;
}

struct moq_loop *moq_loop_new(void)
{
	return &the_loop;
}

void moq_loop_free(struct moq_loop *loop)
{
	(void)loop;
}

int moq_loop_add_fd(struct moq_loop *loop, int fd, uint32_t events, moq_loop_fd_cb cb, void *arg)
{
	return -ENOSYS;
}

int moq_loop_mod_fd(struct moq_loop *loop, int fd, uint32_t events)
{
	return -ENOSYS;
}

int moq_loop_del_fd(struct moq_loop *loop, int fd)
{
	return -ENOSYS;
}

void moq_loop_stop(struct moq_loop *loop)
{
	loop->stop = 1;
}

struct moq_timer *moq_timer_new(struct moq_loop *loop, moq_timer_cb cb, void *arg)
{
	struct moq_timer *t = calloc(1, sizeof(*t));

	(void)loop;
	if (!t)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	t->when = UINT64_MAX;
	t->next = timers;
	timers = t;
	return t;
}

void moq_timer_set(struct moq_timer *t, uint64_t when_ns)
{
	t->when = when_ns;
}

void moq_timer_set_in(struct moq_timer *t, uint64_t delay_ns)
{
	t->when = vnow + delay_ns;
}

void moq_timer_cancel(struct moq_timer *t)
{
	if (t)
		t->when = UINT64_MAX;
}

uint64_t moq_timer_when(const struct moq_timer *t)
{
	return t->when;
}

void moq_timer_free(struct moq_timer *t)
{
	if (!t)
		return;
	for (struct moq_timer **pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	free(t);
}

/* Let ms pass: timers fire in order, at their time. */
static void advance(uint64_t ms)
{
	uint64_t end = vnow + ms * 1000000ull;

	for (;;) {
		struct moq_timer *next = NULL;

		for (struct moq_timer *t = timers; t; t = t->next)
			if (t->when <= end && (!next || t->when < next->when))
				next = t;
		if (!next)
			break;
		if (next->when > vnow)
			vnow = next->when;
		next->when = UINT64_MAX;
		next->cb(&the_loop, next, next->arg);
	}
	vnow = end;
}

/* ---- the fake moq_quic layer ------------------------------------------- */

#define FE_SUBS 4
#define FE_CONNS (1 + FE_SUBS + 2)
#define FE_STREAMS 160
#define FE_OUT_CAP (16 * 1024)

struct fs_stream {
	int64_t sid;
	int used;
	void *user;
	int fin_out, reset_out, stop_out;
	uint8_t *out; /* bytes the relay wrote on a bidi or its control stream */
	size_t out_len;
};

struct moq_quic_conn {
	void *user;
	int live;	     /* accepted and not yet reported closed */
	int closed;	     /* moq_quic_conn_close was called */
	int close_delivered; /* on_close done */
	uint64_t close_code;
	int64_t next_uni, next_bidi;
	struct fs_stream st[FE_STREAMS];
	struct sockaddr_in peer;
};

static struct fs_stream *fs_find(const struct moq_quic_conn *c, int64_t sid)
{
	for (int i = 0; i < FE_STREAMS; i++)
		if (c->st[i].used && c->st[i].sid == sid)
			return (struct fs_stream *)&c->st[i];
	return NULL;
}

static struct fs_stream *fs_get(struct moq_quic_conn *c, int64_t sid)
{
	struct fs_stream *s = fs_find(c, sid);

	if (s)
		return s;
	for (int i = 0; i < FE_STREAMS; i++) {
		if (!c->st[i].used) {
			memset(&c->st[i], 0, sizeof(c->st[i]));
			c->st[i].used = 1;
			c->st[i].sid = sid;
			return &c->st[i];
		}
	}
	return NULL;
}

void moq_quic_conn_set_user(struct moq_quic_conn *c, void *user)
{
	c->user = user;
}

void *moq_quic_conn_user(const struct moq_quic_conn *c)
{
	return c->user;
}

int moq_quic_conn_is_server(const struct moq_quic_conn *c)
{
	return 1;
}

int moq_quic_conn_is_established(const struct moq_quic_conn *c)
{
	return !c->closed;
}

void *moq_quic_conn_ngtcp2(struct moq_quic_conn *c)
{
	return NULL;
}

/* native MoQT (ALPN moqt-18): the WebTransport layer stays out */
const char *moq_quic_conn_alpn(const struct moq_quic_conn *c)
{
	return "moqt-18";
}

size_t moq_quic_conn_max_datagram(const struct moq_quic_conn *c)
{
	return 1200;
}

const struct sockaddr *moq_quic_conn_peer(const struct moq_quic_conn *c, socklen_t *len)
{
	if (len)
		*len = sizeof(c->peer);
	return (const struct sockaddr *)&c->peer;
}

/* The relay counts established sessions through the QUIC layer (half-open
 * ones do not count against --max-sessions): every fake connection that is
 * not closed is established. */
static const struct moq_quic_conn *fe_conns;
static const int *fe_nconn;

size_t moq_quic_endpoint_established(const struct moq_quic_endpoint *ep)
{
	size_t n = 0;

	(void)ep;
	for (int i = 0; fe_conns && i < *fe_nconn; i++)
		n += !fe_conns[i].closed;
	return n;
}

struct moq_quic_conn *moq_quic_connect(struct moq_quic_endpoint *ep, const char *host,
				       uint16_t port, void *user, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "fuzz_relay_events: no client connections");
	return NULL;
}

int moq_quic_conn_own_socket(struct moq_quic_conn *c)
{
	return -EOPNOTSUPP; /* the publisher keeps the (fake) shared socket */
}

int moq_quic_conn_close(struct moq_quic_conn *c, uint64_t app_error, const char *reason)
{
	if (c->closed)
		return 0;
	c->closed = 1;
	c->close_code = app_error;
	return 0;
}

int64_t moq_quic_stream_open_uni(struct moq_quic_conn *c)
{
	int64_t sid;

	if (c->closed)
		return -ENOTCONN;
	sid = 4 * c->next_uni + 3; /* server-initiated uni */
	if (!fs_get(c, sid))
		return -EAGAIN; /* the peer's stream limit, as it were */
	c->next_uni++;
	return sid;
}

int64_t moq_quic_stream_open_bidi(struct moq_quic_conn *c)
{
	int64_t sid;

	if (c->closed)
		return -ENOTCONN;
	sid = 4 * c->next_bidi + 1; /* server-initiated bidi */
	if (!fs_get(c, sid))
		return -EAGAIN;
	c->next_bidi++;
	return sid;
}

int moq_quic_stream_write(struct moq_quic_conn *c, int64_t sid, const void *data, size_t len,
			  int fin)
{
	struct fs_stream *s = fs_find(c, sid);

	if (!s)
		return -ENOENT;
	if (s->fin_out || s->reset_out)
		return -EPIPE;
	CHECK(!c->closed);
	/* bytes are kept for bidi streams and the control stream (uni 3) */
	if (len && (!(sid & 2) || sid == 3)) {
		if (!s->out)
			s->out = malloc(FE_OUT_CAP);
		CHECK(s->out);
		if (s->out_len + len <= FE_OUT_CAP) {
			memcpy(s->out + s->out_len, data, len);
			s->out_len += len;
		}
	}
	if (fin)
		s->fin_out = 1;
	return 0;
}

size_t moq_quic_stream_buffered(const struct moq_quic_conn *c, int64_t sid)
{
	return 0; /* everything acknowledged at once */
}

int moq_quic_stream_set_priority(struct moq_quic_conn *c, int64_t sid, uint32_t priority)
{
	return fs_find(c, sid) ? 0 : -ENOENT;
}

int moq_quic_stream_set_send_buffer_low(struct moq_quic_conn *c, int64_t sid, size_t low)
{
	return fs_find(c, sid) ? 0 : -ENOENT;
}

int moq_quic_stream_set_user(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct fs_stream *s = fs_get(c, sid);

	if (!s)
		return -ENOENT;
	s->user = user;
	return 0;
}

void *moq_quic_stream_user(const struct moq_quic_conn *c, int64_t sid)
{
	struct fs_stream *s = fs_find(c, sid);

	return s ? s->user : NULL;
}

int moq_quic_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	struct fs_stream *s = fs_find(c, sid);

	if (!s)
		return -ENOENT;
	if (!s->fin_out)
		s->reset_out = 1;
	return 0;
}

int moq_quic_stream_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	struct fs_stream *s = fs_find(c, sid);

	if (!s)
		return -ENOENT;
	s->stop_out = 1;
	return 0;
}

int moq_quic_datagram_send(struct moq_quic_conn *c, const void *data, size_t len)
{
	return c->closed ? -ENOTCONN : 0;
}

/* ---- the fast path: off (its own tests cover it) ----------------------- */

void relayd_fp_peer_new(struct relayd *d, struct peer *p)
{
}
void relayd_fp_peer_gone(struct relayd *d, struct peer *p)
{
}
void relayd_fp_sub_established(struct relayd *d, struct relay_sub *sub)
{
}
void relayd_fp_intake_kick(struct relayd *d)
{
}
void relayd_fp_sub_gone(struct relayd *d, struct relay_sub *sub)
{
}
uint64_t relayd_fp_sub_streams(struct relayd *d, struct relay_sub *sub)
{
	return 0;
}
bool relayd_fp_conn_is_fast(const struct peer *p)
{
	return false;
}
void relayd_fp_raw(struct relayd *d, struct peer *p, struct moq_rx *rx, uint64_t off,
		   const uint8_t *data, size_t len, int fin)
{
}
void relayd_fp_rx_header(struct relayd *d, struct peer *p, struct relay_rx *st)
{
}
void relayd_fp_rx_object(struct relayd *d, struct peer *p, struct relay_rx *st)
{
}
void relayd_fp_rx_reset(struct relayd *d, struct peer *up, struct moq_rx *rx)
{
}
void relayd_fp_track_gone(struct relayd *d, struct relay_track *tr)
{
}
void relayd_fp_upstream(struct relayd *d, struct peer *p)
{
}

/* ---- the peers ------------------------------------------------------------- */

#define FE_DATA 24 /* publisher data streams per input */
#define FE_ALIAS 7

struct fe_data {
	int64_t sid;
	int open, ended;
	uint64_t group, next_obj;
	struct moq_subgroup_ctx ctx;
	uint8_t pend[512]; /* encoded, not yet delivered */
	size_t npend;
};

struct fe_world {
	struct relayd d;
	struct moq_quic_conn conn[FE_CONNS];
	int nconn;
	int publish_mode; /* the publisher PUBLISHes (else PUBLISH_NAMESPACE) */
	int filter;
	int64_t up_sid; /* the upstream request stream (-1: none yet) */
	int up_done;	/* PUBLISH_DONE or FIN sent on it */
	size_t up_scan; /* relay's SUBSCRIBEs to the publisher: bidi 1, 5, .. */
	struct fe_data ds[FE_DATA];
	int nds;
	int next_sid;	/* index of the publisher's next data stream */
	uint64_t alias; /* of the live upstream subscription */
	uint64_t group;
	int sub_done_seen[FE_CONNS]; /* PUBLISH_DONE checked */
};

static uint8_t client_setup[128];
static int client_setup_len;

static void deliver(struct moq_quic_conn *c, int64_t sid, const uint8_t *p, size_t n, int fin)
{
	const struct moq_quic_callbacks *cb = moq_session_quic_callbacks();

	if (c->closed || !c->live)
		return; /* the QUIC layer delivers nothing after close */
	cb->on_stream_data(c, sid, p, n, fin, NULL);
}

static void send_msg(struct moq_quic_conn *c, int64_t sid, const struct moq_ctrl_msg *m, int fin)
{
	uint8_t buf[1024];
	int n = moq_ctrl_encode(buf, sizeof(buf), m);

	CHECK(n > 0);
	deliver(c, sid, buf, (size_t)n, fin);
}

static struct moq_namespace fe_ns(void)
{
	struct moq_namespace ns;

	memset(&ns, 0, sizeof(ns));
	ns.nfields = 1;
	ns.fields[0].ptr = (const uint8_t *)"fz";
	ns.fields[0].len = 2;
	return ns;
}

static struct moq_quic_conn *conn_new(struct fe_world *w)
{
	const struct moq_quic_callbacks *cb = moq_session_quic_callbacks();
	struct moq_quic_conn *c;

	if (w->nconn >= FE_CONNS)
		return NULL;
	c = &w->conn[w->nconn];
	memset(c, 0, sizeof(*c));
	c->peer.sin_family = AF_INET;
	c->peer.sin_port = htons((uint16_t)(40000 + w->nconn));
	c->peer.sin_addr.s_addr = htonl(0x0a000002 + (uint32_t)w->nconn);
	w->nconn++;
	if (cb->on_accept(c, &w->d.acc) < 0)
		return NULL;
	c->live = 1;
	/* the client's control stream (uni 2) with its SETUP */
	cb->on_stream_open(c, 2, NULL);
	deliver(c, 2, client_setup, (size_t)client_setup_len, 0);
	return c;
}

static void subscribe(struct fe_world *w, struct moq_quic_conn *c)
{
	struct moq_ctrl_msg m;

	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SUBSCRIBE;
	m.subscribe.request_id = 0;
	m.subscribe.track_namespace = fe_ns();
	m.subscribe.track_name.ptr = (const uint8_t *)"t";
	m.subscribe.track_name.len = 1;
	moq_params_init(&m.subscribe.params);
	if (w->filter) {
		struct moq_subscription_filter f;

		memset(&f, 0, sizeof(f));
		f.filter_type = w->filter == 1	 ? MOQ_FILTER_NEXT_GROUP_START
				: w->filter == 2 ? MOQ_FILTER_ABSOLUTE_START
						 : MOQ_FILTER_LARGEST_OBJECT;
		moq_params_add_filter(&m.subscribe.params, &f);
	}
	moq_session_quic_callbacks()->on_stream_open(c, 0, NULL);
	send_msg(c, 0, &m, 0);
}

static void publisher_start(struct fe_world *w)
{
	struct moq_quic_conn *p = conn_new(w);
	struct moq_ctrl_msg m;

	CHECK(p);
	memset(&m, 0, sizeof(m));
	moq_session_quic_callbacks()->on_stream_open(p, 0, NULL);
	if (w->publish_mode) {
		m.type = MOQ_CTRL_PUBLISH;
		m.publish.request_id = 0;
		m.publish.track_namespace = fe_ns();
		m.publish.track_name.ptr = (const uint8_t *)"t";
		m.publish.track_name.len = 1;
		m.publish.track_alias = FE_ALIAS;
		moq_params_init(&m.publish.params);
		send_msg(p, 0, &m, 0);
		w->up_sid = 0;
	} else {
		m.type = MOQ_CTRL_PUBLISH_NAMESPACE;
		m.publish_namespace.request_id = 0;
		m.publish_namespace.track_namespace = fe_ns();
		moq_params_init(&m.publish_namespace.params);
		send_msg(p, 0, &m, 0);
	}
}

/* The publisher answers the relay's SUBSCRIBEs it has not answered yet. */
static void answer_subscribes(struct fe_world *w, int refuse)
{
	struct moq_quic_conn *p = &w->conn[0];
	static struct moq_ctrl_msg m;

	if (w->publish_mode || !p->live)
		return;
	for (;;) {
		int64_t sid = (int64_t)(4 * w->up_scan + 1);
		struct fs_stream *st = fs_find(p, sid);
		struct moq_ctrl_msg a;

		if (!st || !st->out_len)
			return;
		w->up_scan++;
		if (moq_ctrl_decode(&m, st->out, st->out_len) <= 0 ||
		    m.type != MOQ_CTRL_SUBSCRIBE || st->reset_out)
			continue;
		memset(&a, 0, sizeof(a));
		if (refuse) {
			a.type = MOQ_CTRL_REQUEST_ERROR;
			a.request_error.error_code = MOQ_REQERR_DOES_NOT_EXIST;
			send_msg(p, sid, &a, 1);
			continue;
		}
		a.type = MOQ_CTRL_SUBSCRIBE_OK;
		w->alias = FE_ALIAS + w->up_scan; /* one per subscription */
		a.subscribe_ok.track_alias = w->alias;
		moq_params_init(&a.subscribe_ok.params);
		send_msg(p, sid, &a, 0);
		w->up_sid = sid;
		w->up_done = 0;
		w->nds = 0; /* streams of the new subscription */
	}
}

static uint64_t up_alias(const struct fe_world *w)
{
	return w->publish_mode ? FE_ALIAS : w->alias;
}

static void ds_flush(struct fe_world *w, struct fe_data *ds, size_t n, int fin)
{
	if (n > ds->npend)
		n = ds->npend;
	if (n || fin)
		deliver(&w->conn[0], ds->sid, ds->pend, n, fin);
	memmove(ds->pend, ds->pend + n, ds->npend - n);
	ds->npend -= n;
}

/* Append one object (payload len bytes) to the stream's pending bytes. */
static void ds_object(struct fe_data *ds, size_t len)
{
	static const uint8_t payload[64];
	struct moq_subgroup_object o;
	int n;

	memset(&o, 0, sizeof(o));
	o.object_id = ds->next_obj;
	o.payload_length = len;
	o.payload.ptr = payload;
	o.payload.len = len;
	n = moq_subgroup_object_encode(ds->pend + ds->npend, sizeof(ds->pend) - ds->npend, &ds->ctx,
				       &o);
	if (n > 0) {
		ds->npend += (size_t)n;
		ds->next_obj++;
	}
}

static void ds_open(struct fe_world *w, uint8_t arg)
{
	struct fe_data *ds;
	struct moq_subgroup_header h;
	int n;

	if (w->nds >= FE_DATA)
		return;
	ds = &w->ds[w->nds];
	memset(ds, 0, sizeof(*ds));
	/* client uni streams: 2 is the control stream */
	ds->sid = 4 * (int64_t)(1 + w->next_sid++) + 2;
	if (arg & 1)
		w->group++;
	memset(&h, 0, sizeof(h));
	h.track_alias = (arg & 0x40) ? up_alias(w) + 100 : up_alias(w); /* rarely unknown */
	h.group_id = w->group;
	h.subgroup_id = (arg >> 1) & 3;
	h.subgroup_id_known = true;
	h.subgroup_id_mode = h.subgroup_id ? MOQ_SUBGROUP_ID_PRESENT : MOQ_SUBGROUP_ID_ZERO;
	h.default_priority = true;
	h.first_object = true;
	n = moq_subgroup_header_encode(ds->pend, sizeof(ds->pend), &h);
	CHECK(n > 0);
	ds->npend = (size_t)n;
	moq_subgroup_ctx_init(&ds->ctx, &h);
	ds->open = 1;
	ds->group = w->group;
	w->nds++;
	moq_session_quic_callbacks()->on_stream_open(&w->conn[0], ds->sid, NULL);
	ds_object(ds, (arg >> 3) & 7);
	/* the header alone, or with the first object */
	ds_flush(w, ds, (arg & 0x80) ? ds->npend : (size_t)n, 0);
}

/* The relay must not send PUBLISH_DONE to a subscriber before all the data
 * streams it opened to it are finished or reset; Stream Count = them. */
static void check_publish_done(struct fe_world *w, int i)
{
	struct moq_quic_conn *c = &w->conn[i];
	struct fs_stream *st = fs_find(c, 0);
	static struct moq_ctrl_msg m;
	size_t off = 0;
	uint64_t opened = 0;

	if (!st || w->sub_done_seen[i])
		return;
	while (off < st->out_len) {
		int rc = moq_ctrl_decode(&m, st->out + off, st->out_len - off);

		if (rc == MOQ_ERR_NEED_MORE && !st->fin_out)
			return;
		CHECK(rc > 0);
		off += (size_t)rc;
		if (m.type != MOQ_CTRL_PUBLISH_DONE)
			continue;
		w->sub_done_seen[i] = 1;
		for (int k = 0; k < FE_STREAMS; k++) {
			const struct fs_stream *u = &c->st[k];

			if (!u->used || (u->sid & 3) != 3 || u->sid == 3)
				continue;
			opened++;
			if (!u->fin_out && !u->reset_out)
				fprintf(
				    stderr,
				    "fuzz_relay_events: PUBLISH_DONE to subscriber %d with data "
				    "stream %lld still open\n",
				    i, (long long)u->sid);
			CHECK(u->fin_out || u->reset_out);
		}
		if (m.publish_done.stream_count != opened)
			fprintf(stderr,
				"fuzz_relay_events: subscriber %d: Stream Count %llu, relay opened "
				"%llu\n",
				i, (unsigned long long)m.publish_done.stream_count,
				(unsigned long long)opened);
		CHECK(m.publish_done.stream_count == opened);
		return;
	}
}

/* Closes the relay asked for reach it as on_close (the real layer reports
 * them once the CONNECTION_CLOSE has gone out). */
static void settle(struct fe_world *w)
{
	const struct moq_quic_callbacks *cb = moq_session_quic_callbacks();

	for (int i = 0; i < w->nconn; i++) {
		struct moq_quic_conn *c = &w->conn[i];

		if (c->live)
			check_publish_done(w, i);
		if (c->live && c->closed && !c->close_delivered) {
			c->close_delivered = 1;
			c->live = 0;
			cb->on_close(c,
				     &(struct moq_quic_close_info){.origin = MOQ_QUIC_CLOSE_LOCAL,
								   .app = 1,
								   .code = c->close_code},
				     NULL);
		}
	}
}

static void peer_close(struct fe_world *w, struct moq_quic_conn *c)
{
	const struct moq_quic_callbacks *cb = moq_session_quic_callbacks();

	if (!c->live)
		return;
	c->live = 0;
	c->closed = 1;
	c->close_delivered = 1;
	cb->on_close(c,
		     &(struct moq_quic_close_info){
			 .origin = MOQ_QUIC_CLOSE_PEER, .app = 1, .code = MOQ_SESSION_NO_ERROR},
		     NULL);
}

static struct moq_quic_conn *pick_sub(struct fe_world *w, uint8_t b)
{
	int n = w->nconn - 1;

	return n > 0 ? &w->conn[1 + b % n] : NULL;
}

static void event(struct fe_world *w, uint8_t op, uint8_t arg)
{
	const struct moq_quic_callbacks *cb = moq_session_quic_callbacks();
	struct moq_quic_conn *p = &w->conn[0], *c;
	struct fe_data *ds = w->nds ? &w->ds[arg % w->nds] : NULL;
	struct moq_ctrl_msg m;

	switch (op & 15) {
	case 0: /* a data stream opens */
		ds_open(w, arg);
		break;
	case 1: /* objects on a stream, part of them delivered */
		if (!ds || !ds->open)
			break;
		for (int k = 0; k <= (op >> 4) % 3; k++)
			ds_object(ds, (size_t)(arg >> 2) % 40);
		ds_flush(w, ds, ds->npend - (ds->npend * ((op >> 6) & 3)) / 4, 0);
		break;
	case 2: /* the rest and FIN */
		if (!ds || !ds->open)
			break;
		ds_flush(w, ds, ds->npend, 1);
		ds->open = 0;
		ds->ended = 1;
		break;
	case 3: /* RESET_STREAM */
		if (!ds || !ds->open)
			break;
		ds->open = 0;
		ds->ended = 1;
		ds->npend = 0;
		if (p->live && !p->closed)
			cb->on_stream_reset(p, ds->sid, (op >> 4) & 7, NULL);
		break;
	case 4: /* PUBLISH_DONE, Stream Count right or not, FIN or not */
		if (w->up_sid < 0 || w->up_done)
			break;
		memset(&m, 0, sizeof(m));
		m.type = MOQ_CTRL_PUBLISH_DONE;
		m.publish_done.status_code = MOQ_PUBDONE_TRACK_ENDED;
		m.publish_done.stream_count = (uint64_t)w->nds;
		if (op & 0x10)
			m.publish_done.stream_count += arg % 3;
		if ((op & 0x20) && m.publish_done.stream_count)
			m.publish_done.stream_count--;
		send_msg(p, w->up_sid, &m, !(op & 0x40));
		w->up_done = 1;
		break;
	case 5: /* UNSUBSCRIBE: reset + STOP_SENDING of the request stream */
		c = pick_sub(w, arg);
		if (!c || !c->live || c->closed)
			break;
		cb->on_stream_reset(c, 0, MOQ_RESET_CANCELLED, NULL);
		if (c->live && !c->closed)
			cb->on_stop_sending(c, 0, MOQ_RESET_CANCELLED, NULL);
		break;
	case 6: /* a subscriber's session closes */
		c = pick_sub(w, arg);
		if (c)
			peer_close(w, c);
		break;
	case 7: /* the publisher's session closes */
		if (op & 0x30)
			break; /* rarer than the rest */
		peer_close(w, p);
		break;
	case 8: /* STOP_SENDING on one of the relay's data streams */
		c = pick_sub(w, arg);
		if (!c || !c->live || c->closed)
			break;
		for (int k = 0, seen = 0; k < FE_STREAMS; k++) {
			struct fs_stream *u = &c->st[k];

			if (!u->used || (u->sid & 3) != 3 || u->sid == 3 || u->reset_out)
				continue;
			if (seen++ == (op >> 4)) {
				/* the QUIC layer answers with RESET_STREAM itself */
				if (!u->fin_out)
					u->reset_out = 1;
				cb->on_stop_sending(c, u->sid, MOQ_RESET_CANCELLED, NULL);
				break;
			}
		}
		break;
	case 9: /* time passes */
		advance((uint64_t)arg * ((op & 0x10) ? 40 : 4));
		break;
	case 10: /* a new subscriber */
		if (w->nconn - 1 >= FE_SUBS)
			break;
		c = conn_new(w);
		if (c)
			subscribe(w, c);
		break;
	case 11: /* the publisher answers the relay's SUBSCRIBE */
		answer_subscribes(w, (op & 0xf0) == 0xf0);
		break;
	case 12: /* the upstream request stream ends without PUBLISH_DONE */
		if (w->up_sid < 0 || w->up_done || (op & 0x30))
			break;
		deliver(p, w->up_sid, NULL, 0, 1);
		w->up_done = 1;
		break;
	case 13: { /* a datagram */
		uint8_t buf[64];
		struct moq_object_datagram d;
		int n;

		memset(&d, 0, sizeof(d));
		d.track_alias = up_alias(w);
		d.group_id = w->group;
		d.object_id = arg;
		d.default_priority = true;
		d.payload.ptr = buf;
		d.payload.len = 8;
		memset(buf, 0, sizeof(buf));
		n = moq_object_datagram_encode(buf + 16, sizeof(buf) - 16, &d);
		if (n > 0 && p->live && !p->closed)
			cb->on_datagram(p, buf + 16, (size_t)n, NULL);
		break;
	}
	case 14: /* a subscriber's request stream ends (FIN) */
		c = pick_sub(w, arg);
		if (c && c->live && !c->closed && !(op & 0x30))
			deliver(c, 0, NULL, 0, 1);
		break;
	default: /* a stream's bytes trickle in */
		if (ds && ds->open)
			ds_flush(w, ds, 1 + arg % 7, 0);
		break;
	}
	settle(w);
}

static void world_init(struct fe_world *w, uint8_t setup)
{
	memset(w, 0, sizeof(*w));
	relay_config_defaults(&w->d.cfg);
	w->d.loop = moq_loop_new();
	relay_routing_init(&w->d.routes);
	relay_tracks_init(&w->d.tracks);
	w->d.fwd.sub_queue_bytes = w->d.cfg.sub_queue_bytes;
	w->d.fwd.stats = &w->d.stats;
	relayd_callbacks_init(&w->d);
	w->d.scfg.loop = w->d.loop;
	w->d.scfg.cb = &w->d.cb;
	w->d.scfg.log_name = "fuzz";
	w->d.acc.cfg = &w->d.scfg;
	w->d.acc.on_session = relayd_on_session;
	w->d.acc.arg = &w->d;
	w->publish_mode = setup & 1;
	w->filter = (setup >> 1) & 3;
	w->up_sid = -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct moq_ctrl_msg m;

	moq_log_set_level(MOQ_LOG_ERROR);
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	client_setup_len = moq_ctrl_encode(client_setup, sizeof(client_setup), &m);
	CHECK(client_setup_len > 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fe_world w;
	int nsubs;

	fe_conns = w.conn;
	fe_nconn = &w.nconn;

	if (size < 1)
		return 0;
	world_init(&w, data[0]);
	publisher_start(&w);
	nsubs = 1 + ((data[0] >> 3) & 3);
	for (int i = 0; i < nsubs; i++) {
		struct moq_quic_conn *c = conn_new(&w);

		if (c)
			subscribe(&w, c);
	}
	answer_subscribes(&w, 0);
	settle(&w);
	for (size_t i = 1; i + 1 < size; i += 2)
		event(&w, data[i], data[i + 1]);
	/* the end: time for every wait, then every session closes */
	advance(20000);
	settle(&w);
	for (int i = 0; i < w.nconn; i++)
		peer_close(&w, &w.conn[i]);
	CHECK(w.d.tracks.n == 0 && !w.d.tracks.head);
	CHECK(!w.d.peers && w.d.npeers == 0);
	relay_routing_free(&w.d.routes);
	moq_timer_free(w.d.up_timer);
	/* a session's timers are freed with it: none may be left */
	CHECK(!timers);
	for (int i = 0; i < w.nconn; i++)
		for (int k = 0; k < FE_STREAMS; k++)
			free(w.conn[i].st[k].out);
	return 0;
}
