/* One WebTransport session over HTTP/3 on a QUIC connection (wt.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "varint.h"
#include "wt/wt.h"
#include "wt/wt_wire.h"

#define MOD "wt"
#define H3_FRAME_MAX 16384 /* HEADERS, SETTINGS, capsules we collect whole */
#define WT_HELD_DEFAULT (256u << 10)

enum st_kind {
	ST_PEEK,    /* stream type / signal not read yet */
	ST_CTRL,    /* peer's HTTP/3 control stream */
	ST_DISCARD, /* QPACK streams (dynamic table is 0), unknown types, refused */
	ST_REQUEST, /* a request stream: the CONNECT (server) or ours (client) */
	ST_HELD,    /* a WT stream that arrived before the session was up */
};

struct wt_stream {
	struct wt_stream *next;
	struct moq_wt *w;
	int64_t sid;
	enum st_kind kind;
	uint8_t peek[16];
	size_t npeek;
	struct moq_tlv_reader rd;  /* ST_CTRL, ST_REQUEST: HTTP/3 frames */
	struct moq_tlv_reader cap; /* ST_REQUEST: capsules in DATA frames */
	bool headers_done;
	uint8_t *held;
	size_t nheld;
	bool held_fin;
	uint64_t wt_session;
};

struct moq_wt {
	struct moq_quic_conn *c;
	const struct moq_wt_quic_ops *q;
	struct moq_loop *loop;
	struct moq_wt_config cfg;
	const struct moq_wt_callbacks *cb;
	void *arg;
	char *authority, *path;
	struct wt_stream *streams;
	int64_t ctrl_sid;    /* our control stream */
	int64_t connect_sid; /* the session ID; -1 until a CONNECT was sent/accepted */
	bool have_ctrl;	     /* peer control stream seen */
	bool settings_rx;
	struct moq_h3_settings peer;
	int64_t pending_connect; /* server: CONNECT waiting for the peer's SETTINGS */
	struct moq_h3_msg pending_req;
	struct moq_h3_msg req; /* the accepted (server) or sent (client) request */
	bool ready, closed, close_sent, failed;
	size_t held_bytes;
	struct moq_timer *close_timer;
	uint32_t close_code;
	char close_reason[256];
	struct moq_wt_stats st;
};

static const struct moq_wt_quic_ops quic_ops = {
    .open_uni = moq_quic_stream_open_uni,
    .open_bidi = moq_quic_stream_open_bidi,
    .write = moq_quic_stream_write,
    .stop_sending = moq_quic_stream_stop_sending,
    .set_priority = moq_quic_stream_set_priority,
    .dgram_send = moq_quic_datagram_send,
    .max_dgram = moq_quic_conn_max_datagram,
    .conn_close = moq_quic_conn_close,
};

void moq_wt_set_quic_ops(struct moq_wt *w, const struct moq_wt_quic_ops *ops)
{
	w->q = ops ? ops : &quic_ops;
}

static void wt_fail(struct moq_wt *w, uint64_t h3, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (w->failed)
		return;
	w->failed = true;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	moq_warn(MOD, "HTTP/3 error 0x%llx: %s", (unsigned long long)h3, reason);
	if (w->cb->on_error)
		w->cb->on_error(w->arg, h3, reason);
}

static struct wt_stream *st_find(struct moq_wt *w, int64_t sid, struct wt_stream ***link)
{
	struct wt_stream **pp = &w->streams;
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->sid == sid) {
			if (link)
				*link = pp;
			return *pp;
		}
	return NULL;
}

static struct wt_stream *st_new(struct moq_wt *w, int64_t sid, enum st_kind k)
{
	struct wt_stream *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->w = w;
	e->sid = sid;
	e->kind = k;
	e->next = w->streams;
	w->streams = e;
	return e;
}

static void st_free(struct moq_wt *w, struct wt_stream *e)
{
	struct wt_stream **pp;
	if (st_find(w, e->sid, &pp))
		*pp = e->next;
	moq_tlv_free(&e->rd);
	moq_tlv_free(&e->cap);
	if (e->kind == ST_HELD)
		w->held_bytes -= e->nheld;
	free(e->held);
	free(e);
}

static int is_peer_stream(const struct moq_wt *w, int64_t sid)
{
	return (uint64_t)(sid & 1) == (w->cfg.server ? 0u : 1u);
}

struct moq_wt *moq_wt_new(struct moq_quic_conn *c, struct moq_loop *loop,
			  const struct moq_wt_config *cfg, const struct moq_wt_callbacks *cb,
			  void *arg)
{
	struct moq_wt *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->c = c;
	w->q = &quic_ops;
	w->loop = loop;
	w->cfg = *cfg;
	w->cb = cb;
	w->arg = arg;
	w->ctrl_sid = -1;
	w->connect_sid = -1;
	w->pending_connect = -1;
	if (!w->cfg.max_held)
		w->cfg.max_held = WT_HELD_DEFAULT;
	w->authority = strdup(cfg->authority ? cfg->authority : "");
	w->path = strdup(cfg->path && *cfg->path ? cfg->path : "/");
	if (!w->authority || !w->path) {
		moq_wt_free(w);
		return NULL;
	}
	w->cfg.authority = w->authority;
	w->cfg.path = w->path;
	return w;
}

void moq_wt_free(struct moq_wt *w)
{
	if (!w)
		return;
	while (w->streams)
		st_free(w, w->streams);
	if (w->close_timer)
		moq_timer_free(w->close_timer);
	free(w->authority);
	free(w->path);
	free(w);
}

int moq_wt_start(struct moq_wt *w)
{
	uint8_t pre[64];
	int n = moq_h3_control_preface(pre, sizeof(pre));
	int64_t sid = w->q->open_uni(w->c);
	if (sid < 0 || n < 0)
		return sid < 0 ? (int)sid : n;
	w->ctrl_sid = sid;
	w->q->set_priority(w->c, sid, 0);
	return w->q->write(w->c, sid, pre, (size_t)n, 0);
}

/* ---- session establishment ------------------------------------------------ */

/* The session is up: hand over the streams held for it, oldest (lowest
 * stream ID) first; refuse those naming another session. */
static void release_held(struct moq_wt *w)
{
	for (;;) {
		struct wt_stream *e = NULL;
		for (struct wt_stream *x = w->streams; x; x = x->next)
			if (x->kind == ST_HELD && (!e || x->sid < e->sid))
				e = x;
		if (!e)
			return;
		if (e->wt_session != (uint64_t)w->connect_sid) {
			w->q->stop_sending(w->c, e->sid, MOQ_WT_BUFFERED_STREAM_REJECTED);
			w->st.streams_rejected++;
			st_free(w, e);
			continue;
		}
		uint8_t *p = e->held;
		size_t n = e->nheld;
		int fin = e->held_fin;
		int64_t sid = e->sid;
		w->held_bytes -= n;
		e->held = NULL;
		e->nheld = 0;
		st_free(w, e);
		w->st.streams_in++;
		w->cb->on_stream(w->arg, sid, p, n, fin);
		free(p);
		if (w->closed || w->failed)
			return;
	}
}

static int respond(struct moq_wt *w, int64_t sid, int status, bool fin)
{
	char st[8];
	struct moq_h3_field f[3];
	size_t n = 0;
	uint8_t *out;
	size_t len;

	snprintf(st, sizeof(st), "%03d", status);
	f[n++] = (struct moq_h3_field){":status", st};
	if (status == 200) {
		f[n++] = (struct moq_h3_field){"sec-webtransport-http3-draft", "draft02"};
		if (w->req.wt_protocols[0]) /* w->req is the accepted request */
			f[n++] = (struct moq_h3_field){"wt-protocol", "\"" MOQ_WT_PROTOCOL "\""};
	}
	if (moq_h3_headers_encode(&out, &len, f, n) < 0)
		return -ENOMEM;
	int rc = w->q->write(w->c, sid, out, len, fin);
	free(out);
	return rc;
}

/* Server: a complete request m on stream e. */
static void handle_request(struct moq_wt *w, struct wt_stream *e, const struct moq_h3_msg *m)
{
	int status = 200;
	const char *why = NULL;

	if (!w->settings_rx) {
		/* wait for the client's SETTINGS (one request; a later one
		 * before them replaces it and the earlier gets no answer) */
		w->pending_connect = e->sid;
		w->pending_req = *m;
		return;
	}
	if (strcmp(m->method, "CONNECT") || strcmp(m->protocol, "webtransport")) {
		status = strcmp(m->method, "CONNECT") ? 405 : 400;
		why = "not a WebTransport CONNECT";
	} else if (strcmp(m->scheme, "https") || !m->authority[0] || m->path[0] != '/') {
		status = 400;
		why = "CONNECT needs :scheme https, :authority and :path";
	} else if (!w->peer.enable_webtransport || !w->peer.h3_datagram) {
		status = 400;
		why = "client SETTINGS lack WebTransport or H3 datagrams";
	} else if (w->connect_sid >= 0) {
		status = 429;
		why = "one WebTransport session per connection";
	} else if (m->wt_protocols[0] && !moq_h3_sf_list_has(m->wt_protocols, MOQ_WT_PROTOCOL)) {
		status = 400;
		why = "WT-Available-Protocols does not offer " MOQ_WT_PROTOCOL;
	} else if (w->cb->on_request) {
		status = w->cb->on_request(w->arg, m);
		why = "refused by the application";
	}
	if (status != 200) {
		moq_info(MOD, "WebTransport request %s %s refused with %d: %s", m->method, m->path,
			 status, why);
		w->st.requests_refused++;
		respond(w, e->sid, status, true);
		e->kind = ST_DISCARD;
		return;
	}
	w->connect_sid = e->sid;
	w->req = *m;
	moq_info(MOD, "WebTransport session %lld: path %s, authority %s, origin %s, protocols %s",
		 (long long)e->sid, m->path, m->authority, m->origin[0] ? m->origin : "-",
		 m->wt_protocols[0] ? m->wt_protocols : "(none offered)");
	if (respond(w, e->sid, 200, false) < 0) {
		wt_fail(w, MOQ_H3_INTERNAL_ERROR, "cannot answer the CONNECT");
		return;
	}
	w->ready = true;
	w->cb->on_ready(w->arg);
	if (!w->closed && !w->failed)
		release_held(w);
}

/* Client: send the CONNECT once the server's SETTINGS allow it. */
static void send_connect(struct moq_wt *w)
{
	struct moq_h3_field f[] = {
	    {":method", "CONNECT"},
	    {":protocol", "webtransport"},
	    {":scheme", "https"},
	    {":authority", w->authority},
	    {":path", w->path},
	    {"sec-webtransport-http3-draft02", "1"},
	    {"wt-available-protocols", "\"" MOQ_WT_PROTOCOL "\""},
	};
	uint8_t *out;
	size_t len;

	int64_t sid = w->q->open_bidi(w->c);
	if (sid < 0 || moq_h3_headers_encode(&out, &len, f, sizeof(f) / sizeof(f[0])) < 0) {
		wt_fail(w, MOQ_H3_INTERNAL_ERROR, "cannot send the CONNECT (%lld)", (long long)sid);
		return;
	}
	w->q->write(w->c, sid, out, len, 0);
	free(out);
	w->connect_sid = sid;
	snprintf(w->req.method, sizeof(w->req.method), "CONNECT");
	snprintf(w->req.path, sizeof(w->req.path), "%s", w->path);
	snprintf(w->req.authority, sizeof(w->req.authority), "%s", w->authority);
	struct wt_stream *e = st_new(w, sid, ST_REQUEST);
	if (!e) {
		wt_fail(w, MOQ_H3_INTERNAL_ERROR, "out of memory");
		return;
	}
	moq_tlv_init(&e->rd, H3_FRAME_MAX, MOQ_H3_FRAME_DATA);
	moq_tlv_init(&e->cap, H3_FRAME_MAX, UINT64_MAX);
}

/* ---- HTTP/3 frames ------------------------------------------------------------ */

static int ctrl_frame(void *arg, uint64_t type, const uint8_t *v, size_t n, int last)
{
	struct wt_stream *e = arg;
	struct moq_wt *w = e->w;

	if (!w->settings_rx) {
		if (type != MOQ_H3_FRAME_SETTINGS) {
			wt_fail(w, MOQ_H3_MISSING_SETTINGS,
				"control stream starts with frame 0x%llx",
				(unsigned long long)type);
			return -1;
		}
		int rc = moq_h3_settings_parse(&w->peer, v, n);
		if (rc < 0) {
			wt_fail(w, MOQ_H3_SETTINGS_ERROR, "bad SETTINGS (%s)", moq_strerror(rc));
			return -1;
		}
		w->settings_rx = true;
		if (!w->cfg.server) {
			if (!w->peer.enable_webtransport || !w->peer.enable_connect_protocol) {
				wt_fail(w, MOQ_H3_SETTINGS_ERROR,
					"server SETTINGS do not enable WebTransport");
				return -1;
			}
			send_connect(w);
		} else if (w->pending_connect >= 0) {
			struct wt_stream *pc = st_find(w, w->pending_connect, NULL);
			w->pending_connect = -1;
			if (pc)
				handle_request(w, pc, &w->pending_req);
		}
		return 0;
	}
	switch (type) {
	case MOQ_H3_FRAME_SETTINGS:
	case MOQ_H3_FRAME_DATA:
	case MOQ_H3_FRAME_HEADERS:
		wt_fail(w, MOQ_H3_FRAME_UNEXPECTED, "frame 0x%llx on the control stream",
			(unsigned long long)type);
		return -1;
	default:
		return 0; /* GOAWAY, MAX_PUSH_ID, unknown: nothing to do here */
	}
}

static int capsule(void *arg, uint64_t type, const uint8_t *v, size_t n, int last)
{
	struct moq_wt *w = arg;
	uint32_t code;
	const uint8_t *r;
	size_t rl;

	if (type == MOQ_WT_CAPSULE_CLOSE_SESSION) {
		if (moq_wt_close_parse(v, n, &code, &r, &rl) < 0) {
			wt_fail(w, MOQ_H3_MESSAGE_ERROR, "malformed CLOSE_WEBTRANSPORT_SESSION");
			return -1;
		}
		if (!w->closed) {
			char reason[256];
			snprintf(reason, sizeof(reason), "%.*s", (int)(rl > 200 ? 200 : rl),
				 (const char *)r);
			w->closed = true;
			w->cb->on_closed(w->arg, code, reason);
		}
		return -1; /* nothing may follow */
	}
	return 0; /* DRAIN and unknown capsules: ignored */
}

static int request_frame(void *arg, uint64_t type, const uint8_t *v, size_t n, int last)
{
	struct wt_stream *e = arg;
	struct moq_wt *w = e->w;

	if (type == MOQ_H3_FRAME_HEADERS) {
		if (e->headers_done)
			return 0; /* trailers: nothing in them for us */
		e->headers_done = true;
		struct moq_h3_msg m;
		if (moq_h3_headers_decode(&m, v, n) < 0) {
			wt_fail(w, MOQ_H3_MESSAGE_ERROR, "undecodable header block on stream %lld",
				(long long)e->sid);
			return -1;
		}
		if (w->cfg.server) {
			handle_request(w, e, &m);
			return 0;
		}
		if (m.status < 200 || m.status > 299 ||
		    (m.wt_protocol[0] && !moq_h3_sf_list_has(m.wt_protocol, MOQ_WT_PROTOCOL))) {
			char why[96];
			snprintf(why, sizeof(why), "WebTransport CONNECT answered with status %d%s",
				 m.status, m.status == 200 ? " and another protocol" : "");
			w->closed = true;
			w->cb->on_closed(w->arg, 0, why);
			return -1;
		}
		snprintf(w->req.wt_protocol, sizeof(w->req.wt_protocol), "%s", m.wt_protocol);
		w->req.status = m.status;
		w->ready = true;
		w->cb->on_ready(w->arg);
		if (!w->closed && !w->failed)
			release_held(w);
		return 0;
	}
	if (type == MOQ_H3_FRAME_DATA) {
		if (!e->headers_done || e->sid != w->connect_sid) {
			wt_fail(w, MOQ_H3_FRAME_UNEXPECTED, "DATA before HEADERS");
			return -1;
		}
		return moq_tlv_feed(&e->cap, v, n, capsule, w) < 0 ? -1 : 0;
	}
	if (type == MOQ_H3_FRAME_SETTINGS || type == MOQ_H3_FRAME_GOAWAY) {
		wt_fail(w, MOQ_H3_FRAME_UNEXPECTED, "frame 0x%llx on a request stream",
			(unsigned long long)type);
		return -1;
	}
	return 0;
}

/* ---- peer streams ---------------------------------------------------------------- */

static void feed_frames(struct moq_wt *w, struct wt_stream *e, const uint8_t *p, size_t n)
{
	int rc = moq_tlv_feed(&e->rd, p, n, e->kind == ST_CTRL ? ctrl_frame : request_frame, e);
	if (rc < 0 && rc != -1 && !w->failed)
		wt_fail(w, MOQ_H3_FRAME_ERROR, "bad HTTP/3 frame on stream %lld (%s)",
			(long long)e->sid, moq_strerror(rc));
}

/* The stream's type/signal is known: set its kind and hand on the rest. */
static void classify(struct moq_wt *w, struct wt_stream *e, uint64_t type, uint64_t session,
		     size_t prefix_len, const uint8_t *rest, size_t n, int fin)
{
	bool uni = e->sid & 2;

	if (type == (uni ? MOQ_WT_UNI_STREAM_TYPE : MOQ_WT_BIDI_SIGNAL)) {
		if (w->ready && session == (uint64_t)w->connect_sid) {
			int64_t sid = e->sid;
			st_free(w, e);
			w->st.streams_in++;
			w->cb->on_stream(w->arg, sid, rest, n, fin);
			return;
		}
		if (w->connect_sid >= 0 && session != (uint64_t)w->connect_sid) {
			w->st.streams_rejected++;
			w->q->stop_sending(w->c, e->sid, MOQ_WT_BUFFERED_STREAM_REJECTED);
			e->kind = ST_DISCARD;
			return;
		}
		e->kind = ST_HELD; /* the session is not up yet */
		e->wt_session = session;
		e->held = NULL;
		if (n && w->held_bytes + n <= w->cfg.max_held) {
			e->held = malloc(n);
			if (e->held) {
				memcpy(e->held, rest, n);
				e->nheld = n;
				w->held_bytes += n;
			}
		}
		if (n && !e->held) {
			w->st.streams_rejected++;
			w->q->stop_sending(w->c, e->sid, MOQ_WT_BUFFERED_STREAM_REJECTED);
			e->kind = ST_DISCARD;
			return;
		}
		e->held_fin = fin;
		return;
	}
	if (uni) {
		switch (type) {
		case MOQ_H3_STREAM_CONTROL:
			if (w->have_ctrl) {
				wt_fail(w, MOQ_H3_STREAM_CREATION_ERROR, "second control stream");
				return;
			}
			w->have_ctrl = true;
			e->kind = ST_CTRL;
			moq_tlv_init(&e->rd, H3_FRAME_MAX, UINT64_MAX);
			break;
		case MOQ_H3_STREAM_PUSH:
			wt_fail(w, MOQ_H3_STREAM_CREATION_ERROR,
				"push stream (no MAX_PUSH_ID sent)");
			return;
		case MOQ_H3_STREAM_QPACK_ENC:
		case MOQ_H3_STREAM_QPACK_DEC:
			e->kind = ST_DISCARD; /* dynamic table capacity is 0 */
			return;
		default:
			e->kind = ST_DISCARD;
			w->st.streams_rejected++;
			w->q->stop_sending(w->c, e->sid, MOQ_H3_STREAM_CREATION_ERROR);
			return;
		}
	} else {
		if (!w->cfg.server) {
			wt_fail(w, MOQ_H3_STREAM_CREATION_ERROR, "server opened a request stream");
			return;
		}
		e->kind = ST_REQUEST;
		moq_tlv_init(&e->rd, H3_FRAME_MAX, MOQ_H3_FRAME_DATA);
		moq_tlv_init(&e->cap, H3_FRAME_MAX, UINT64_MAX);
		/* the first varint was a frame type: give the frame reader the
		 * prefix bytes too */
		feed_frames(w, e, e->peek, prefix_len);
		if (w->failed || st_find(w, e->sid, NULL) != e || e->kind != ST_REQUEST)
			return;
	}
	if (n)
		feed_frames(w, e, rest, n);
	(void)fin;
}

/* The peer ended an HTTP/3 stream. */
static void stream_fin(struct moq_wt *w, struct wt_stream *e)
{
	if (e->kind == ST_CTRL)
		wt_fail(w, MOQ_H3_CLOSED_CRITICAL_STREAM, "peer ended its control stream");
	else if (e->kind == ST_REQUEST && e->sid == w->connect_sid && !w->closed) {
		w->closed = true;
		w->cb->on_closed(w->arg, 0, "peer ended the CONNECT stream");
	}
}

void moq_wt_stream_data(struct moq_wt *w, int64_t sid, const uint8_t *p, size_t n, int fin)
{
	struct wt_stream *e = st_find(w, sid, NULL);

	if (w->failed)
		return;
	if (!e) {
		if (!is_peer_stream(w, sid))
			return; /* our own stream (e.g. control): the peer cannot write */
		e = st_new(w, sid, ST_PEEK);
		if (!e) {
			wt_fail(w, MOQ_H3_INTERNAL_ERROR, "out of memory");
			return;
		}
	}
	switch (e->kind) {
	case ST_PEEK: {
		size_t before = e->npeek;
		size_t k = n < sizeof(e->peek) - before ? n : sizeof(e->peek) - before;
		memcpy(e->peek + before, p, k);
		e->npeek += k;
		uint64_t type, session;
		int used = moq_wt_prefix_parse(e->peek, e->npeek, &type, &session);
		if (used < 0) {
			if (fin)
				st_free(w, e); /* ended inside its prefix: nothing to do */
			return;
		}
		size_t from_chunk = (size_t)used - before;
		classify(w, e, type, session, (size_t)used, p + from_chunk, n - from_chunk, fin);
		if (fin && !w->failed && st_find(w, sid, NULL) == e)
			stream_fin(w, e);
		return;
	}
	case ST_CTRL:
	case ST_REQUEST:
		feed_frames(w, e, p, n);
		if (fin && !w->failed)
			stream_fin(w, e);
		return;
	case ST_HELD:
		if (n) {
			uint8_t *b = NULL;
			if (w->held_bytes + n <= w->cfg.max_held)
				b = realloc(e->held, e->nheld + n);
			if (!b) {
				w->st.streams_rejected++;
				w->q->stop_sending(w->c, sid, MOQ_WT_BUFFERED_STREAM_REJECTED);
				w->held_bytes -= e->nheld;
				free(e->held);
				e->held = NULL;
				e->nheld = 0;
				e->kind = ST_DISCARD;
				return;
			}
			memcpy(b + e->nheld, p, n);
			e->held = b;
			e->nheld += n;
			w->held_bytes += n;
		}
		if (fin)
			e->held_fin = true;
		return;
	case ST_DISCARD:
		return;
	}
}

void moq_wt_stream_gone(struct moq_wt *w, int64_t sid, int reset)
{
	struct wt_stream *e = st_find(w, sid, NULL);
	if (!e)
		return;
	enum st_kind k = e->kind;
	if (k == ST_HELD && !reset)
		return; /* keep the bytes until the session is up */
	st_free(w, e);
	if (w->failed)
		return;
	if (k == ST_CTRL)
		wt_fail(w, MOQ_H3_CLOSED_CRITICAL_STREAM, "peer's control stream closed");
	else if (k == ST_REQUEST && sid == w->connect_sid && reset && !w->closed) {
		w->closed = true;
		w->cb->on_closed(w->arg, 0, "peer reset the CONNECT stream");
	}
}

int moq_wt_dgram_strip(struct moq_wt *w, const uint8_t *p, size_t n)
{
	uint64_t session;
	int k = moq_wt_dgram_parse(p, n, &session);
	if (k < 0 || !w->ready || session != (uint64_t)w->connect_sid) {
		w->st.dgrams_dropped++;
		return -1;
	}
	return k;
}

/* ---- sending -------------------------------------------------------------------- */

static int64_t open_prefixed(struct moq_wt *w, int bidi)
{
	uint8_t pre[16];
	if (!w->ready || w->closed)
		return -ENOTCONN;
	int64_t sid = bidi ? w->q->open_bidi(w->c) : w->q->open_uni(w->c);
	if (sid < 0)
		return sid;
	int k = moq_wt_prefix_write(pre, sizeof(pre), bidi, (uint64_t)w->connect_sid);
	int rc = w->q->write(w->c, sid, pre, (size_t)k, 0);
	if (rc < 0)
		return rc;
	w->st.streams_out++;
	return sid;
}

int64_t moq_wt_open_uni(struct moq_wt *w)
{
	return open_prefixed(w, 0);
}

int64_t moq_wt_open_bidi(struct moq_wt *w)
{
	return open_prefixed(w, 1);
}

size_t moq_wt_max_dgram(const struct moq_wt *w)
{
	size_t m = w->q->max_dgram(w->c);
	size_t pl = quic_varint_len((uint64_t)(w->connect_sid < 0 ? 0 : w->connect_sid) / 4);
	return m > pl ? m - pl : 0;
}

int moq_wt_dgram_send(struct moq_wt *w, const void *p, size_t n)
{
	uint8_t buf[2048];
	if (!w->ready || w->closed)
		return -ENOTCONN;
	int k = quic_varint_encode(buf, sizeof(buf), (uint64_t)w->connect_sid / 4);
	if (k < 0 || n > sizeof(buf) - (size_t)k)
		return -EMSGSIZE;
	memcpy(buf + k, p, n);
	return w->q->dgram_send(w->c, buf, (size_t)k + n);
}

static void close_now(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct moq_wt *w = arg;
	w->q->conn_close(w->c, w->close_code, w->close_reason);
}

void moq_wt_close(struct moq_wt *w, uint32_t code, const char *reason)
{
	uint8_t buf[16 + 16 + 4 + MOQ_WT_CLOSE_REASON_MAX];

	if (w->close_sent)
		return;
	w->close_sent = true;
	w->close_code = code;
	snprintf(w->close_reason, sizeof(w->close_reason), "%s", reason ? reason : "");
	if (!w->ready || w->closed || w->connect_sid < 0) {
		w->q->conn_close(w->c, code, reason);
		return;
	}
	int k = moq_wt_close_build(buf, sizeof(buf), code, reason);
	if (k > 0)
		w->q->write(w->c, w->connect_sid, buf, (size_t)k, 1);
	if (!w->loop) {
		w->q->conn_close(w->c, code, reason);
		return;
	}
	/* the capsule first; the connection (one session per connection)
	 * goes shortly after, so the capsule is not cut off */
	w->close_timer = moq_timer_new(w->loop, close_now, w);
	if (!w->close_timer) {
		w->q->conn_close(w->c, code, reason);
		return;
	}
	moq_timer_set_in(w->close_timer, 200ull * 1000000ull);
}

int moq_wt_is_ready(const struct moq_wt *w)
{
	return w->ready && !w->closed;
}

const struct moq_h3_msg *moq_wt_request(const struct moq_wt *w)
{
	return &w->req;
}

int64_t moq_wt_session_id(const struct moq_wt *w)
{
	return w->connect_sid;
}

void moq_wt_stats(const struct moq_wt *w, struct moq_wt_stats *st)
{
	*st = w->st;
}
