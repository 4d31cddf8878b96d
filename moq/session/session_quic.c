/* MoQT session: glue to the QUIC layer's connection callbacks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_core.h"
#include "session/session_ctrl.h"
#include "session/session_data.h"
#include "session/session_in.h"
#include "session/session_req.h"
#include "uri.h"
#include "varint.h"
#include "wt/wt.h"

#define MOD "session"

/* ---- QUIC callbacks ------------------------------------------------------- */

static struct moq_session *conn_session(struct moq_quic_conn *c)
{
	struct moq_session *s = moq_quic_conn_user(c);
	if (!s || s->magic != SESSION_MAGIC)
		return NULL;
	return s;
}

static int q_on_accept(struct moq_quic_conn *c, void *user)
{
	struct moq_session_acceptor *acc = user;
	if (!acc || !acc->cfg)
		return -1;
	struct moq_session *s = moq_session_new(c, acc->cfg);
	if (!s)
		return -1;
	if (acc->on_session && acc->on_session(s, acc->arg) < 0) {
		moq_quic_conn_set_user(c, NULL);
		moq_session__free(s);
		return -1;
	}
	return 0;
}

static void q_on_stream_data(struct moq_quic_conn *c, int64_t sid, const uint8_t *data, size_t len,
			     int fin, void *user);
static void stream_open(struct moq_session *s, struct moq_quic_conn *c, int64_t sid);

/* ---- WebTransport: the HTTP/3 layer's upcalls ------------------------------ */

static int wt_on_request(void *arg, const struct moq_h3_msg *req)
{
	(void)arg;
	(void)req;
	return 200; /* path and tokens are checked at SETUP (on_setup) */
}

static void wt_on_ready(void *arg)
{
	moq_session__start(arg);
}

static void wt_on_stream(void *arg, int64_t sid, const uint8_t *p, size_t n, int fin)
{
	struct moq_session *s = arg;
	stream_open(s, s->conn, sid);
	if (moq_quic_stream_user(s->conn, sid))
		q_on_stream_data(s->conn, sid, p, n, fin, NULL);
}

static void wt_on_closed(void *arg, uint32_t code, const char *reason)
{
	struct moq_session *s = arg;
	if (moq_session__closing(s))
		return;
	moq_info(MOD, "session %s: peer closed the WebTransport session (code 0x%x%s%s)", s->name,
		 code, reason[0] ? ": " : "", reason);
	s->state = MOQ_SESSION_CLOSING;
	s->wt_peer_closed = true;
	s->wt_close.origin = MOQ_QUIC_CLOSE_PEER;
	s->wt_close.app = 1;
	s->wt_close.code = code;
	snprintf(s->wt_close.reason, sizeof(s->wt_close.reason), "%s", reason);
	moq_quic_conn_close(s->conn, code, reason);
}

static void wt_on_error(void *arg, uint64_t h3_code, const char *reason)
{
	struct moq_session *s = arg;
	if (moq_session__closing(s))
		return;
	s->state = MOQ_SESSION_CLOSING;
	moq_quic_conn_close(s->conn, h3_code, reason);
}

static const struct moq_wt_callbacks session_wt_cb = {
    .on_request = wt_on_request,
    .on_ready = wt_on_ready,
    .on_stream = wt_on_stream,
    .on_closed = wt_on_closed,
    .on_error = wt_on_error,
};

static bool is_h3(const struct moq_session *s)
{
	const char *alpn = moq_quic_conn_alpn(s->conn);
	return s->is_server ? (alpn && !strcmp(alpn, "h3")) : s->wt_client;
}

/* Stream data and datagrams can be read before on_established (the QUIC
 * layer defers that callback to its flush): HTTP/3 must be in place first */
static void wt_early(struct moq_session *s)
{
	if (!s->transport_up && moq_quic_conn_is_established(s->conn) && is_h3(s))
		moq_session__transport_up(s);
}

/* At handshake completion: ALPN h3 (server) or a WebTransport client
 * config puts the HTTP/3 layer under the session; MoQT starts when the
 * CONNECT is answered. */
void moq_session__transport_up(struct moq_session *s)
{
	if (s->transport_up)
		return;
	s->transport_up = true;
	if (!is_h3(s)) {
		moq_session__start(s);
		return;
	}
	struct moq_wt_config wc = {
	    .server = s->is_server,
	    .authority = s->authority,
	    .path = s->path,
	};
	s->wt = moq_wt_new(s->conn, s->loop, &wc, &session_wt_cb, s);
	if (!s->wt || moq_wt_start(s->wt) < 0) {
		s->state = MOQ_SESSION_CLOSING;
		moq_quic_conn_close(s->conn, MOQ_SESSION_INTERNAL_ERROR,
				    "cannot start HTTP/3 for WebTransport");
		return;
	}
	if (!s->cfg.setup_timeout_ms)
		s->cfg.setup_timeout_ms = 10000;
	s->setup_deadline = moq_loop_now() + s->cfg.setup_timeout_ms * 1000000ull;
	moq_session__hk_arm(s);
}

static void q_on_established(struct moq_quic_conn *c, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (s)
		moq_session__transport_up(s);
}

static void q_on_close(struct moq_quic_conn *c, const struct moq_quic_close_info *info, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s)
		return;
	if (s->wt_peer_closed)
		info = &s->wt_close;
	moq_session__enter(s);
	s->state = MOQ_SESSION_CLOSING;
	while (s->reqs)
		moq_session__req_end(s->reqs, MOQ_REQ_END_SESSION, 0, true);
	s->state = MOQ_SESSION_CLOSED;
	if (info && info->origin != MOQ_QUIC_CLOSE_LOCAL)
		moq_info(MOD, "session %s: closed (code 0x%llx%s%s)", s->name,
			 (unsigned long long)info->code, info->reason[0] ? ": " : "", info->reason);
	if (s->cb && s->cb->on_close)
		s->cb->on_close(s, info);
	moq_quic_conn_set_user(c, NULL);
	s->conn = NULL;
	s->free_pending = true;
	moq_session__leave(s);
}

/* A peer stream becomes MoQT's: native QUIC at its first frame,
 * WebTransport once its prefix was read (wt_on_stream). */
static void stream_open(struct moq_session *s, struct moq_quic_conn *c, int64_t sid)
{
	if (moq_session__closing(s) || moq_quic_stream_user(c, sid))
		return;
	/* only peer-initiated streams (bit 0: 0 client, 1 server) */
	if ((uint64_t)(sid & 1) != (s->is_server ? 0u : 1u))
		return;
	moq_session__enter(s);
	if (sid & 2) {
		struct moq_rx *rx = moq_session__rx_new(s, sid);
		if (!rx)
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "stream", "out of memory");
	} else {
		struct moq_request *r = moq_session__req_new(s, false);
		if (!r) {
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "stream", "out of memory");
		} else {
			r->sid = sid;
			moq_quic_stream_set_user(c, sid, r);
		}
	}
	moq_session__leave(s);
}

static void q_on_stream_open(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s)
		return;
	wt_early(s);
	if (!s->wt)
		stream_open(s, c, sid);
}

static void q_on_stream_data(struct moq_quic_conn *c, int64_t sid, const uint8_t *data, size_t len,
			     int fin, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || moq_session__closing(s))
		return;
	wt_early(s);
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind && s->wt) {
		moq_session__enter(s);
		moq_wt_stream_data(s->wt, sid, data, len, fin);
		moq_session__leave(s);
		return;
	}
	if (!kind) {
		q_on_stream_open(c, sid, user);
		kind = moq_quic_stream_user(c, sid);
		if (!kind)
			return;
	}
	moq_session__enter(s);
	switch (*kind) {
	case SOBJ_REQ:
		moq_session__req_on_data((struct moq_request *)kind, data, len, fin);
		break;
	case SOBJ_RX:
		moq_session__rx_on_data((struct moq_rx *)kind, data, len, fin);
		break;
	default:
		break;
	}
	moq_session__leave(s);
}

static void q_on_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || moq_session__closing(s))
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind) {
		if (s->wt) {
			moq_session__enter(s);
			moq_wt_stream_gone(s->wt, sid, 1);
			moq_session__leave(s);
		}
		return;
	}
	app_error = moq_session__peer_code(s, app_error);
	moq_session__enter(s);
	switch (*kind) {
	case SOBJ_REQ:
		moq_session__req_on_peer_cancel((struct moq_request *)kind, app_error, true);
		break;
	case SOBJ_RX: {
		struct moq_rx *rx = (struct moq_rx *)kind;
		if (rx->mode == RX_CONTROL)
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
					  "peer reset its control stream");
		else
			moq_session__rx_on_reset(rx, app_error);
		break;
	}
	default:
		break;
	}
	moq_session__leave(s);
}

static void q_on_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || moq_session__closing(s))
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind)
		return;
	app_error = moq_session__peer_code(s, app_error);
	moq_session__enter(s);
	switch (*kind) {
	case SOBJ_CTRL_TX:
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
				  "peer sent STOP_SENDING on our control stream");
		break;
	case SOBJ_REQ:
		moq_session__req_on_peer_cancel((struct moq_request *)kind, app_error, false);
		break;
	case SOBJ_TX:
		moq_session__tx_on_stopped((struct moq_tx *)kind, app_error);
		break;
	default:
		break;
	}
	moq_session__leave(s);
}

static void q_on_stream_close(struct moq_quic_conn *c, int64_t sid, int has_app_error,
			      uint64_t app_error, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s)
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind) {
		if (s->wt && !moq_session__closing(s)) {
			moq_session__enter(s);
			moq_wt_stream_gone(s->wt, sid, has_app_error);
			moq_session__leave(s);
		}
		return;
	}
	app_error = moq_session__peer_code(s, app_error);
	moq_session__enter(s);
	switch (*kind) {
	case SOBJ_TX:
		moq_session__tx_on_closed((struct moq_tx *)kind);
		break;
	case SOBJ_REQ: {
		struct moq_request *r = (struct moq_request *)kind;
		if (r->sid == sid)
			r->sid = -2; /* stream gone; no more writes */
		if (!r->dead && !moq_session__closing(s)) {
			/* TLS mode learns of a peer STOP_SENDING only here */
			if (has_app_error && r->state != MOQ_REQ_DONE)
				moq_session__req_on_peer_cancel(r, app_error, false);
			else
				moq_session__req_maybe_complete(r);
		}
		break;
	}
	case SOBJ_RX: {
		struct moq_rx *rx = (struct moq_rx *)kind;
		if (rx->mode == RX_CONTROL) {
			if (!moq_session__closing(s))
				moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION,
						  "control stream", "peer's control stream closed");
		} else if (!rx->holding) {
			moq_session__rx_kill(rx);
		}
		break;
	}
	case SOBJ_CTRL_TX:
		if (!moq_session__closing(s))
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
					  "our control stream closed");
		break;
	default:
		break;
	}
	moq_session__leave(s);
}

static void q_on_stream_writable(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || moq_session__closing(s))
		return;
	int *kind = moq_quic_stream_user(c, sid);
	if (!kind || *kind != SOBJ_TX)
		return;
	moq_session__enter(s);
	moq_session__tx_on_writable((struct moq_tx *)kind);
	moq_session__leave(s);
}

static void q_on_streams_available(struct moq_quic_conn *c, int bidi, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || moq_session__closing(s) || !bidi || s->state != MOQ_SESSION_READY)
		return;
	moq_session__enter(s);
	while (s->qhead && !moq_session__closing(s)) {
		struct moq_request *r = s->qhead;
		moq_session__req_open(r);
		if (r->queued)
			break;
	}
	moq_session__leave(s);
}

static void q_on_datagram(struct moq_quic_conn *c, const uint8_t *data, size_t len, void *user)
{
	struct moq_session *s = conn_session(c);
	(void)user;
	if (!s || moq_session__closing(s))
		return;
	wt_early(s);
	if (s->wt) {
		int k = moq_wt_dgram_strip(s->wt, data, len);
		if (k < 0)
			return;
		data += k;
		len -= (size_t)k;
	}
	moq_session__enter(s);
	moq_session__dgram_on_recv(s, data, len);
	moq_session__leave(s);
}

static const struct moq_quic_callbacks session_quic_cb = {
    .on_accept = q_on_accept,
    .on_established = q_on_established,
    .on_close = q_on_close,
    .on_stream_open = q_on_stream_open,
    .on_stream_data = q_on_stream_data,
    .on_stream_reset = q_on_stream_reset,
    .on_stop_sending = q_on_stop_sending,
    .on_stream_close = q_on_stream_close,
    .on_stream_writable = q_on_stream_writable,
    .on_streams_available = q_on_streams_available,
    .on_datagram = q_on_datagram,
};

const struct moq_quic_callbacks *moq_session_quic_callbacks(void)
{
	return &session_quic_cb;
}
