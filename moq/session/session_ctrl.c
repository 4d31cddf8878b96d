/* MoQT session: SETUP and the control streams, GOAWAY. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_core.h"
#include "session/session_ctrl.h"
#include "wt/wt.h"
#include "session/session_in.h"
#include "session/session_req.h"
#include "uri.h"
#include "varint.h"

#define MOD "session"

/* ---- SETUP ---------------------------------------------------------------- */

static void send_setup(struct moq_session *s)
{
	struct moq_ctrl_msg m;
	uint8_t tokbuf[MOQ_MAX_SETUP_TOKENS][1024];
	size_t n = 0;

	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	/* WebTransport: PATH and AUTHORITY travel in the CONNECT request */
	if (!s->is_server && !s->wt && s->path && *s->path) {
		m.setup.options[n].type = MOQ_SETUP_PATH;
		m.setup.options[n].bytes.ptr = (const uint8_t *)s->path;
		m.setup.options[n++].bytes.len = strlen(s->path);
	}
	for (size_t i = 0; i < s->cfg.num_auth_tokens && i < MOQ_MAX_SETUP_TOKENS; i++) {
		int k = moq_auth_token_encode(tokbuf[i], sizeof(tokbuf[i]), &s->tokens[i]);
		if (k < 0) {
			moq_warn(MOD, "session %s: cannot encode auth token %zu: %s", s->name, i,
				 moq_strerror(k));
			continue;
		}
		m.setup.options[n].type = MOQ_SETUP_AUTHORIZATION_TOKEN;
		m.setup.options[n].bytes.ptr = tokbuf[i];
		m.setup.options[n++].bytes.len = (size_t)k;
	}
	if (!s->is_server && !s->wt && s->authority && *s->authority) {
		m.setup.options[n].type = MOQ_SETUP_AUTHORITY;
		m.setup.options[n].bytes.ptr = (const uint8_t *)s->authority;
		m.setup.options[n++].bytes.len = strlen(s->authority);
	}
	if (s->implementation && *s->implementation) {
		m.setup.options[n].type = MOQ_SETUP_MOQT_IMPLEMENTATION;
		m.setup.options[n].bytes.ptr = (const uint8_t *)s->implementation;
		m.setup.options[n++].bytes.len = strlen(s->implementation);
	}
	m.setup.num_options = n;
	int rc = moq_session__ctrl_send(s, &m);
	if (rc < 0)
		moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "SETUP",
				  "cannot send our SETUP (%d)", rc);
}

static void session_ready(struct moq_session *s)
{
	s->state = MOQ_SESSION_READY;
	moq_info(MOD, "session %s: ready (peer implementation \"%s\")", s->name,
		 s->peer.implementation);
	if (s->cb && s->cb->on_ready)
		s->cb->on_ready(s);
	if (moq_session__closing(s))
		return;
	/* peer requests that arrived before the SETUP */
	for (struct moq_request *r = s->reqs, *n; r && !moq_session__closing(s); r = n) {
		n = r->next;
		if (!r->dead && !r->local && (r->pend_in.len || r->pend_in_fin))
			moq_session__req_process_pending_in(r);
	}
	/* our requests queued before READY */
	while (s->qhead && !moq_session__closing(s)) {
		struct moq_request *r = s->qhead;
		moq_session__req_open(r);
		if (r->queued)
			break; /* stream limit */
	}
}

static void handle_setup(struct moq_session *s, const struct moq_setup *st)
{
	if (!s->is_server && st->has_path) {
		moq_session__fail(s, MOQ_SESSION_INVALID_PATH, "SETUP",
				  "server sent a PATH option");
		return;
	}
	if (!s->is_server && st->has_authority) {
		moq_session__fail(s, MOQ_SESSION_INVALID_AUTHORITY, "SETUP",
				  "server sent an AUTHORITY option");
		return;
	}
	if (s->wt && st->has_path) {
		moq_session__fail(s, MOQ_SESSION_INVALID_PATH, "SETUP",
				  "PATH option on a WebTransport session");
		return;
	}
	if (s->wt && st->has_authority) {
		moq_session__fail(s, MOQ_SESSION_INVALID_AUTHORITY, "SETUP",
				  "AUTHORITY option on a WebTransport session");
		return;
	}
	/* native QUIC: both options must follow RFC 3986 (draft-18 "PATH",
	 * "AUTHORITY") */
	if (st->has_path && !moq_uri_path_valid(st->path.ptr, st->path.len)) {
		moq_session__fail(s, MOQ_SESSION_MALFORMED_PATH, "SETUP",
				  "PATH \"%.*s\" is not an RFC 3986 path-abempty [\"?\" query]",
				  (int)(st->path.len > 200 ? 200 : st->path.len),
				  (const char *)st->path.ptr);
		return;
	}
	if (st->has_authority && !moq_uri_authority_valid(st->authority.ptr, st->authority.len)) {
		moq_session__fail(s, MOQ_SESSION_MALFORMED_AUTHORITY, "SETUP",
				  "AUTHORITY \"%.*s\" is not an RFC 3986 authority with a host",
				  (int)(st->authority.len > 200 ? 200 : st->authority.len),
				  st->authority.ptr ? (const char *)st->authority.ptr : "");
		return;
	}
	free(s->peer_path);
	free(s->peer_authority);
	free(s->peer_impl);
	if (s->wt && s->is_server) {
		/* the CONNECT's :path and :authority play PATH and AUTHORITY */
		const struct moq_h3_msg *req = moq_wt_request(s->wt);
		s->peer_path = moq_session__xstrdup(req->path);
		s->peer_authority = moq_session__xstrdup(req->authority);
	} else {
		s->peer_path =
		    moq_session__bytes_dup(st->has_path ? st->path : (struct moq_bytes){0});
		s->peer_authority = moq_session__bytes_dup(
		    st->has_authority ? st->authority : (struct moq_bytes){0});
	}
	s->peer_impl = moq_session__bytes_dup(st->has_moqt_implementation ? st->moqt_implementation
									  : (struct moq_bytes){0});
	if (!s->peer_path || !s->peer_authority || !s->peer_impl) {
		moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "SETUP", "out of memory");
		return;
	}
	s->peer.path = s->peer_path;
	s->peer.authority = s->peer_authority;
	s->peer.implementation = s->peer_impl;
	s->peer.has_max_auth_token_cache_size = st->has_max_auth_token_cache_size;
	s->peer.max_auth_token_cache_size = st->max_auth_token_cache_size;
	s->setup_rx = true;
	s->setup_deadline = 0;
	if (s->cb && s->cb->on_setup) {
		int code = s->cb->on_setup(s, st);
		if (code > 0) {
			moq_session__fail(s, (uint64_t)code, "SETUP",
					  "rejected by the application (path \"%s\")",
					  s->peer.path);
			return;
		}
	}
	if (moq_session__closing(s))
		return;
	if (s->state == MOQ_SESSION_SETUP)
		session_ready(s);
}

static void handle_control_msg(struct moq_session *s, const struct moq_ctrl_msg *m)
{
	if (m->type == MOQ_CTRL_SETUP) {
		handle_setup(s, &m->setup);
		return;
	}
	if (m->type != MOQ_CTRL_GOAWAY) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, moq_session__tname(m->type),
				  "not allowed on the control stream");
		return;
	}
	const struct moq_goaway *g = &m->goaway;
	if (s->goaway_rx) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "GOAWAY",
				  "second GOAWAY on the control stream");
		return;
	}
	if (s->is_server && g->new_session_uri.len) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "GOAWAY",
				  "client sent a New Session URI");
		return;
	}
	if (g->has_request_id && (g->request_id & 1) != (s->is_server ? 1 : 0)) {
		moq_session__fail(s, MOQ_SESSION_INVALID_REQUEST_ID, "GOAWAY",
				  "Request ID %llu has the wrong parity",
				  (unsigned long long)g->request_id);
		return;
	}
	s->goaway_rx = true;
	moq_info(MOD, "session %s: GOAWAY received (timeout %llu ms)", s->name,
		 (unsigned long long)g->timeout);
	if (s->cb && s->cb->on_goaway)
		s->cb->on_goaway(s, g);
}

/* Bytes on the peer's control stream (the stream type is the SETUP type). */
void moq_session__ctrl_feed(struct moq_session *s, const uint8_t *p, size_t n, int fin)
{
	struct moq_ctrl_msg m;

	if (!s->ctrl_rd_init) {
		if (moq_ctrl_reader_init(&s->ctrl_rd, MOQ_CTRL_READER_CONTROL)) {
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "control stream",
					  "out of memory");
			return;
		}
		s->ctrl_rd_init = true;
	}
	do {
		size_t k = moq_ctrl_reader_feed(&s->ctrl_rd, p, n);
		p += k;
		n -= k;
		int rc;
		while ((rc = moq_ctrl_reader_next(&s->ctrl_rd, &m)) == 1) {
			handle_control_msg(s, &m);
			if (moq_session__closing(s))
				return;
		}
		if (rc != MOQ_ERR_NEED_MORE) {
			const struct moq_ctrl_err *e = moq_ctrl_reader_error(&s->ctrl_rd);
			moq_session__fail(s, (uint64_t)moq_ctrl_err_to_session_code(rc),
					  "control stream", "%s: %s (offset %zu)", moq_strerror(rc),
					  e && e->what ? e->what : "", e ? e->offset : 0);
			return;
		}
		if (k == 0 && n > 0) {
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "control stream",
					  "reader stalled");
			return;
		}
	} while (n > 0);
	if (fin)
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "control stream",
				  "peer closed its control stream");
}

/* ---- session-level API ------------------------------------------------------ */

int moq_session_goaway(struct moq_session *s, const char *uri, uint64_t timeout_ms)
{
	if (!s || s->goaway_tx)
		return -EINVAL;
	if (moq_session__closing(s))
		return -ENOTCONN;
	if (uri && *uri && !s->is_server)
		return -EINVAL;
	struct moq_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_GOAWAY;
	if (uri && *uri) {
		m.goaway.new_session_uri.ptr = (const uint8_t *)uri;
		m.goaway.new_session_uri.len = strlen(uri);
	}
	m.goaway.timeout = timeout_ms;
	m.goaway.has_request_id = true;
	m.goaway.request_id = s->peer_next;
	int rc = moq_session__ctrl_send(s, &m);
	if (rc < 0)
		return rc;
	s->goaway_tx = true;
	if (timeout_ms) {
		s->goaway_timeout_ms = timeout_ms;
		s->goaway_deadline = moq_loop_now() + timeout_ms * 1000000ull;
		moq_session__hk_arm(s);
	}
	return 0;
}

/* QUIC is up: open our control stream and send SETUP. */
void moq_session__start(struct moq_session *s)
{
	struct moq_quic_conn *c = s->conn;

	if (moq_session__closing(s))
		return;
	moq_session__enter(s);
	int64_t sid = moq_session__open_uni(s);
	if (sid < 0) {
		moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "control stream",
				  "cannot open our control stream (%lld)", (long long)sid);
		moq_session__leave(s);
		return;
	}
	s->ctrl_tx_sid = sid;
	moq_quic_stream_set_user(c, sid, &s->ctrl_tx_obj);
	moq_quic_stream_set_priority(c, sid, 0);
	s->state = MOQ_SESSION_SETUP;
	send_setup(s);
	if (!moq_session__closing(s)) {
		if (s->setup_rx) {
			session_ready(s);
		} else {
			uint64_t ms = s->cfg.setup_timeout_ms ? s->cfg.setup_timeout_ms : 10000;
			s->cfg.setup_timeout_ms = ms;
			s->setup_deadline = moq_loop_now() + ms * 1000000ull;
			moq_session__hk_arm(s);
		}
	}
	moq_session__leave(s);
}
