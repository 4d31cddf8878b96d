/* MoQT session: creation, destruction, housekeeping, accessors (see
 * session.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_core.h"
#include "wt/wt.h"
#include "session/session_ctrl.h"
#include "session/session_data.h"
#include "session/session_req.h"
#include "uri.h"
#include "varint.h"

#define MOD "session"

static unsigned session_serial;

/* ---- housekeeping timer ------------------------------------------------- */

static void hk_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct moq_session *s = arg;
	uint64_t now = moq_loop_now();
	bool again = false;
	(void)loop;
	(void)t;

	moq_session__enter(s);
	if (s->state == MOQ_SESSION_SETUP && s->setup_deadline && now >= s->setup_deadline) {
		moq_session__fail(s, MOQ_SESSION_CONTROL_MESSAGE_TIMEOUT, "SETUP",
				  "peer sent no SETUP within %llu ms",
				  (unsigned long long)s->cfg.setup_timeout_ms);
	} else if (s->state == MOQ_SESSION_SETUP && s->setup_deadline) {
		again = true;
	} else if (s->state == MOQ_SESSION_CONNECTING && s->wt && s->setup_deadline) {
		/* WebTransport: the CONNECT (server) or its answer (client) is
		 * held to the same time limit as SETUP */
		if (now >= s->setup_deadline)
			moq_session__fail(s, MOQ_SESSION_CONTROL_MESSAGE_TIMEOUT, "WebTransport",
					  "no WebTransport session within %llu ms",
					  (unsigned long long)s->cfg.setup_timeout_ms);
		else
			again = true;
	}
	if (!moq_session__closing(s) && s->goaway_deadline) {
		if (now < s->goaway_deadline)
			again = true;
		else if (s->reqs)
			moq_session__fail(s, MOQ_SESSION_GOAWAY_TIMEOUT, "GOAWAY",
					  "requests still open %llu ms after our GOAWAY",
					  (unsigned long long)s->goaway_timeout_ms);
		else
			s->goaway_deadline = 0;
	}
	if (!moq_session__closing(s)) {
		for (struct moq_request *r = s->reqs, *n; r; r = n) {
			n = r->next;
			if (r->done_rx && r->linger_until) {
				if (now >= r->linger_until) {
					r->linger_until = 0;
					moq_session__req_end(r, MOQ_REQ_END_DONE, 0, true);
				} else {
					again = true;
				}
			}
		}
		moq_session__data_housekeeping(s, now);
		if (s->n_held_dgrams || s->held_bytes)
			again = true;
		for (struct moq_rx *rx = s->rxs; rx && !again; rx = rx->snext)
			if (rx->holding)
				again = true;
	}
	if (again && !moq_session__closing(s))
		moq_timer_set_in(s->hk, HK_PERIOD_NS);
	moq_session__leave(s);
}

enum moq_session_state moq_session_state(const struct moq_session *s)
{
	return s->state;
}

bool moq_session_is_server(const struct moq_session *s)
{
	return s->is_server;
}

bool moq_session_goaway_received(const struct moq_session *s)
{
	return s->goaway_rx;
}

bool moq_session_goaway_sent(const struct moq_session *s)
{
	return s->goaway_tx;
}

struct moq_quic_conn *moq_session_conn(const struct moq_session *s)
{
	return s->conn;
}

void *moq_session_user(const struct moq_session *s)
{
	return s->user;
}

void moq_session_set_user(struct moq_session *s, void *user)
{
	s->user = user;
}

const char *moq_session_name(const struct moq_session *s)
{
	return s->name;
}

const struct moq_session_peer_info *moq_session_peer(const struct moq_session *s)
{
	return &s->peer;
}

void moq_session_stats(const struct moq_session *s, struct moq_session_stats *st)
{
	*st = s->stats;
}

uint64_t moq_request_id(const struct moq_request *r)
{
	return r->id;
}

uint64_t moq_request_type(const struct moq_request *r)
{
	return r->type;
}

bool moq_request_is_local(const struct moq_request *r)
{
	return r->local;
}

enum moq_request_state moq_request_state(const struct moq_request *r)
{
	return r->state;
}

struct moq_session *moq_request_session(const struct moq_request *r)
{
	return r->s;
}

void *moq_request_user(const struct moq_request *r)
{
	return r->user;
}

void moq_request_set_user(struct moq_request *r, void *user)
{
	r->user = user;
}

uint64_t moq_request_track_alias(const struct moq_request *r)
{
	return r->alias_set ? r->alias : UINT64_MAX;
}

bool moq_request_track(const struct moq_request *r, struct moq_namespace *ns,
		       struct moq_bytes *name)
{
	if (!r->has_track)
		return false;
	if (ns)
		*ns = r->ns;
	if (name)
		*name = r->name;
	return true;
}

struct moq_request *moq_request_joined(const struct moq_request *r)
{
	return r->joined;
}

int moq_request_subscription(const struct moq_request *r, struct moq_subscription_info *info)
{
	if (!r->is_sub && r->type != MOQ_CTRL_FETCH)
		return -EINVAL;
	*info = r->info;
	return 0;
}

static void session_set_name(struct moq_session *s)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	socklen_t len = 0;
	const struct sockaddr *sa = moq_quic_conn_peer(s->conn, &len);
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	if (s->cfg.log_name)
		snprintf(s->name, sizeof(s->name), "%s", s->cfg.log_name);
	else
		snprintf(s->name, sizeof(s->name), "#%u %s peer %s:%u", ++session_serial,
			 s->is_server ? "server" : "client", addr, port);
}

/* ---- creation / destruction ------------------------------------------------- */

void moq_session__free(struct moq_session *s)
{
	while (s->reqs)
		moq_session__req_kill(s->reqs);
	moq_session__data_free_all(s);
	moq_session__reap(s);
	moq_timer_free(s->hk);
	if (s->ctrl_rd_init)
		moq_ctrl_reader_free(&s->ctrl_rd);
	for (size_t i = 0; i < s->cfg.num_auth_tokens; i++)
		free(s->token_bufs[i]);
	free(s->token_bufs);
	free(s->tokens);
	free(s->path);
	free(s->authority);
	free(s->implementation);
	free(s->log_name_copy);
	free(s->peer_path);
	free(s->peer_authority);
	free(s->peer_impl);
	free(s->scratch);
	moq_wt_free(s->wt);
	s->magic = 0;
	free(s);
}

static const struct moq_session__upcalls session_upcalls = {
    .free = moq_session__free,
    .ctrl_feed = moq_session__ctrl_feed,
    .req_maybe_complete = moq_session__req_maybe_complete,
    .req_linger_check = moq_session__req_linger_check,
};

struct moq_session *moq_session_new(struct moq_quic_conn *conn,
				    const struct moq_session_config *cfg)
{
	if (!conn || !cfg || !cfg->loop)
		return NULL;
	struct moq_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->magic = SESSION_MAGIC;
	s->up = &session_upcalls;
	s->conn = conn;
	s->loop = cfg->loop;
	s->cfg = *cfg;
	s->cb = cfg->cb;
	s->user = cfg->user;
	s->is_server = moq_quic_conn_is_server(conn);
	s->wt_client = !s->is_server && cfg->webtransport;
	s->state = MOQ_SESSION_CONNECTING;
	s->ctrl_tx_sid = -1;
	s->next_id = s->is_server ? 1 : 0;
	s->peer_next = s->is_server ? 0 : 1;
	s->ignore.kind = SOBJ_IGNORE;
	s->ctrl_tx_obj.kind = SOBJ_CTRL_TX;
	s->peer.path = s->peer.authority = s->peer.implementation = "";
	s->scratch = malloc(MOQ_CTRL_MAX_FRAME);
	s->path = moq_session__xstrdup(cfg->path);
	s->authority = moq_session__xstrdup(cfg->authority);
	s->implementation = moq_session__xstrdup(cfg->implementation ? cfg->implementation
								     : MOQ_SESSION_IMPLEMENTATION);
	s->log_name_copy = moq_session__xstrdup(cfg->log_name);
	s->cfg.path = s->path;
	s->cfg.authority = s->authority;
	s->cfg.implementation = s->implementation;
	s->cfg.log_name = s->log_name_copy;
	s->hk = moq_timer_new(cfg->loop, hk_cb, s);
	if (!s->scratch || !s->implementation || !s->hk || (cfg->path && !s->path) ||
	    (cfg->authority && !s->authority) || (cfg->log_name && !s->log_name_copy))
		goto fail;
	if (cfg->num_auth_tokens) {
		s->tokens = calloc(cfg->num_auth_tokens, sizeof(*s->tokens));
		s->token_bufs = calloc(cfg->num_auth_tokens, sizeof(uint8_t *));
		if (!s->tokens || !s->token_bufs)
			goto fail;
		for (size_t i = 0; i < cfg->num_auth_tokens; i++) {
			s->tokens[i] = cfg->auth_tokens[i];
			size_t l = cfg->auth_tokens[i].token_value.len;
			s->token_bufs[i] = malloc(l + 1);
			if (!s->token_bufs[i]) {
				s->cfg.num_auth_tokens = i;
				goto fail;
			}
			if (l)
				memcpy(s->token_bufs[i], cfg->auth_tokens[i].token_value.ptr, l);
			s->tokens[i].token_value.ptr = s->token_bufs[i];
		}
	}
	s->cfg.auth_tokens = s->tokens;
	session_set_name(s);
	moq_quic_conn_set_user(conn, s);
	if (moq_quic_conn_is_established(conn))
		moq_session__transport_up(s);
	return s;
fail:
	moq_session__free(s);
	return NULL;
}

struct moq_session *moq_session_connect(struct moq_quic_endpoint *ep, const char *host,
					uint16_t port, const struct moq_session_config *cfg,
					char *err, size_t errlen)
{
	if (!cfg || !cfg->loop) {
		if (err && errlen)
			snprintf(err, errlen, "session config needs a loop");
		return NULL;
	}
	struct moq_quic_conn *c = moq_quic_connect(ep, host, port, NULL, err, errlen);
	if (!c)
		return NULL;
	struct moq_session *s = moq_session_new(c, cfg);
	if (!s) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		moq_quic_conn_close(c, MOQ_SESSION_INTERNAL_ERROR, "out of memory");
		return NULL;
	}
	return s;
}

int moq_session_is_webtransport(const struct moq_session *s)
{
	return s && (s->wt != NULL || s->wt_client);
}
