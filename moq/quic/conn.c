/* Connection lifetime and accessors. See conn.h. */
#include "quic/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "quic/base.h"
#include "quic/cid.h"
#include "quic/protect.h"
#include "quic/send.h"
#include "quic/stream.h"

#define MOD "quic"
#define NS_PER_MS MOQ_QUIC__NS_PER_MS

static void qlog_write(void *user_data, uint32_t flags, const void *data, size_t datalen)
{
	struct moq_quic_conn *c = user_data;
	if (c->qlog) {
		fwrite(data, 1, datalen, c->qlog);
		if (flags & NGTCP2_QLOG_WRITE_FLAG_FIN)
			fflush(c->qlog);
	}
}

static void qlog_open(struct moq_quic_conn *c, const ngtcp2_cid *odcid)
{
	char path[4096], hex[2 * NGTCP2_MAX_CIDLEN + 1];

	for (size_t i = 0; i < odcid->datalen; i++)
		snprintf(hex + 2 * i, 3, "%02x", odcid->data[i]);
	hex[2 * odcid->datalen] = 0;
	mkdir(c->ep->s_qlog_dir, 0755);
	snprintf(path, sizeof(path), "%s/%s-%s.sqlog", c->ep->s_qlog_dir,
		 c->server ? "server" : "client", hex);
	c->qlog = fopen(path, "w");
	if (!c->qlog)
		moq_warn(MOD, "cannot write qlog %s: %s", path, strerror(errno));
}

static void ngtcp2_log(void *user_data, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ngtcp2 %p: ", user_data);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void hs_unlink(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	if (!c->on_hs_list)
		return;
	*c->hs_prev = c->hs_next;
	if (c->hs_next)
		c->hs_next->hs_prev = c->hs_prev;
	else
		ep->hs_tail = c->hs_prev;
	c->on_hs_list = 0;
	c->hs_next = NULL;
	ep->nhs--;
}

void moq_quic__conn_admit(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	if (c->on_hs_list)
		return;
	c->hs_next = NULL;
	c->hs_prev = ep->hs_tail;
	*ep->hs_tail = c;
	ep->hs_tail = &c->hs_next;
	c->on_hs_list = 1;
	ep->nhs++;
}

int moq_quic__conn_evict_handshake(struct moq_quic_endpoint *ep)
{
	struct moq_quic_conn *c;

	for (c = ep->hs_head; c && c->addr_validated; c = c->hs_next)
		;
	if (!c)
		return 0;
	c->ci.origin = MOQ_QUIC_CLOSE_LOCAL;
	c->ci.app = 0;
	c->ci.code = 0;
	snprintf(c->ci.reason, sizeof(c->ci.reason),
		 "handshake evicted: %zu handshakes in progress (max_handshakes) and a newer "
		 "client came",
		 ep->nhs);
	c->state = CS_DEAD;
	moq_quic__conn_terminate(c);
	return 1;
}

/* A server handshake completed: count it, or refuse it beyond max_conns
 * (-1, handshake error CONNECTION_REFUSED set). */
static int count_established(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	hs_unlink(c);
	if (ep->cfg.max_conns && ep->nest >= ep->cfg.max_conns) {
		ep->st.conn_refused++;
		moq_quic__conn_set_hs_error(
		    c, 0x02, "too many connections: %zu established (max_conns)", ep->nest);
		return -1;
	}
	ep->nest++;
	c->counted_est = 1;
	return 0;
}

static void conn_unaccount(struct moq_quic_conn *c)
{
	hs_unlink(c);
	if (c->counted_est) {
		c->counted_est = 0;
		c->ep->nest--;
	}
}

/* Final step: report, and leave the conn for reaping (or the closing
 * period if a CONNECTION_CLOSE was saved). */
void moq_quic__conn_terminate(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	conn_unaccount(c);
	if (c->closed_notified)
		return;
	c->closed_notified = 1;
	if (c->close_pkt && c->state != CS_DEAD) {
		uint64_t pto = ngtcp2_conn_get_pto(c->conn);
		c->state = CS_CLOSING;
		c->close_deadline = moq_quic__now() + 3 * pto;
		moq_timer_set(c->timer, c->close_deadline);
	} else {
		c->state = CS_DEAD;
	}
	moq_info(MOD, "%s connection closed: origin %d %s code 0x%llx: %s",
		 c->server ? "server" : "client", c->ci.origin, c->ci.app ? "app" : "transport",
		 (unsigned long long)c->ci.code, c->ci.reason);
	if (ep->cb.on_close)
		ep->cb.on_close(c, &c->ci, moq_quic__user(c));
	if (c->state == CS_DEAD) {
		moq_loop_defer(ep->loop, moq_quic__ep_reap, ep);
		ep->reap_scheduled = 1;
	}
}

void moq_quic__conn_free(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	conn_unaccount(c);
	moq_quic__cid_remove_all(c);
	*c->prev = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ep->nconns--;
	for (struct moq_quic_conn **pp = &ep->dirty_head; *pp; pp = &(*pp)->dnext)
		if (*pp == c) {
			*pp = c->dnext;
			break;
		}
	while (c->streams)
		moq_quic__stream_free(c, c->streams);
	free(c->sh);
	while (c->dq_head) {
		struct dgram *d = c->dq_head;
		c->dq_head = d->next;
		free(d);
	}
	while (c->early) {
		struct dgram *d = c->early;
		c->early = d->next;
		free(d);
	}
	moq_timer_free(c->timer);
	if (c->own_fd >= 0) {
		moq_loop_del_fd(ep->loop, c->own_fd);
		close(c->own_fd);
	}
	if (c->conn)
		ngtcp2_conn_del(c->conn);
	ep->crypto->conn_free(c);
	free(c->close_pkt);
	if (c->qlog)
		fclose(c->qlog);
	free(c);
}

void moq_quic__ep_reap(struct moq_loop *loop, void *arg)
{
	struct moq_quic_endpoint *ep = arg;
	struct moq_quic_conn *c, *next;

	ep->reap_scheduled = 0;
	for (c = ep->conns; c; c = next) {
		next = c->next;
		if (c->state == CS_DEAD)
			moq_quic__conn_free(c);
	}
}

void moq_quic__conn_drained(struct moq_quic_conn *c)
{
	if (c->got_sr) {
		c->ci.origin = MOQ_QUIC_CLOSE_STATELESS_RESET;
		c->ci.app = 0;
		c->ci.code = 0;
		snprintf(c->ci.reason, sizeof(c->ci.reason),
			 "peer sent a stateless reset (it lost the "
			 "connection state)");
	} else {
		const ngtcp2_ccerr *ccerr = ngtcp2_conn_get_ccerr(c->conn);
		c->ci.origin = MOQ_QUIC_CLOSE_PEER;
		c->ci.app = ccerr->type == NGTCP2_CCERR_TYPE_APPLICATION;
		c->ci.code = ccerr->error_code;
		snprintf(c->ci.reason, sizeof(c->ci.reason), "%.*s", (int)ccerr->reasonlen,
			 ccerr->reason ? (const char *)ccerr->reason : "");
		if (c->state == CS_HANDSHAKE && !c->ci.app) {
			char tmp[sizeof(c->ci.reason)];
			snprintf(tmp, sizeof(tmp), "%s", c->ci.reason);
			snprintf(c->ci.reason, sizeof(c->ci.reason),
				 "handshake refused by peer (0x%llx): %.200s",
				 (unsigned long long)c->ci.code, tmp[0] ? tmp : "(no reason)");
		}
	}
	c->state = CS_DEAD;
	moq_quic__conn_terminate(c);
}

static int cb_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
	struct moq_quic_conn *c = user_data;

	if (c->ep->crypto->handshake_done && c->ep->crypto->handshake_done(c))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (c->server && count_established(c) < 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	c->state = CS_ESTABLISHED;
	c->est_pending = 1;
	moq_quic__mark_dirty(c);
	return 0;
}

static int cb_stateless_reset(ngtcp2_conn *conn, const ngtcp2_pkt_stateless_reset *sr,
			      void *user_data)
{
	struct moq_quic_conn *c = user_data;
	c->got_sr = 1;
	return 0;
}

void moq_quic__conn_callbacks(struct moq_quic_endpoint *ep, ngtcp2_callbacks *cb, int server)
{
	memset(cb, 0, sizeof(*cb));
	ep->crypto->callbacks(cb, server);
	moq_quic__stream_callbacks(cb);
	moq_quic__cid_callbacks(cb);
	cb->handshake_completed = cb_handshake_completed;
	cb->rand = moq_quic__rand_cb;
	cb->recv_stateless_reset = cb_stateless_reset;
}

void moq_quic__conn_settings(struct moq_quic_conn *c, ngtcp2_settings *s, const ngtcp2_cid *odcid,
			     uint16_t *probe)
{
	struct moq_quic_endpoint *ep = c->ep;

	ngtcp2_settings_default(s);
	s->initial_ts = moq_quic__now();
	s->max_tx_udp_payload_size = ep->cfg.max_udp_payload - moq_quic__slack(c);
	s->no_tx_udp_payload_size_shaping = 1;
	/* PMTUD stays "on" but has nothing to probe: ngtcp2 1.11 asserts
	 * !no_pmtud when a path migrates back to its previous one (fixed in
	 * 1.12), so no_pmtud = 1 would let any client abort the relay. The
	 * only probe size is above max_tx_udp_payload_size, so ngtcp2 skips
	 * it and PMTUD ends as it starts; without shaping the packet size is
	 * max_tx_udp_payload_size either way. */
	s->no_pmtud = 0;
	*probe = s->max_tx_udp_payload_size < UINT16_MAX
		     ? (uint16_t)(s->max_tx_udp_payload_size + 1)
		     : UINT16_MAX;
	s->pmtud_probes = probe;
	s->pmtud_probeslen = 1;
	s->handshake_timeout = ep->cfg.handshake_timeout_ms * NS_PER_MS;
	s->cc_algo = NGTCP2_CC_ALGO_CUBIC;
	s->rand_ctx.native_handle = NULL;
	if (getenv("MOQ_NGTCP2_LOG"))
		s->log_printf = ngtcp2_log;
	if (ep->s_qlog_dir) {
		qlog_open(c, odcid);
		if (c->qlog)
			s->qlog_write = qlog_write; /* 1.x takes the ODCID from the conn */
	}
}

void moq_quic__conn_params(struct moq_quic_endpoint *ep, ngtcp2_transport_params *p)
{
	const struct moq_quic_config *cfg = &ep->cfg;

	ngtcp2_transport_params_default(p);
	p->initial_max_stream_data_bidi_local = cfg->max_stream_data;
	p->initial_max_stream_data_bidi_remote = cfg->max_stream_data;
	p->initial_max_stream_data_uni = cfg->max_stream_data;
	p->initial_max_data = cfg->max_data;
	p->initial_max_streams_bidi = cfg->max_streams_bidi;
	p->initial_max_streams_uni = cfg->max_streams_uni;
	p->max_idle_timeout = cfg->idle_timeout_ms * NS_PER_MS;
	/* ngtcp2 also delays its own ACKs by at most this */
	if (cfg->max_ack_delay_ms)
		p->max_ack_delay = cfg->max_ack_delay_ms * NS_PER_MS;
	p->active_connection_id_limit = 4;
	p->max_datagram_frame_size =
	    cfg->max_datagram_frame_size == UINT64_MAX ? 0 : cfg->max_datagram_frame_size;
}

struct moq_quic_conn *moq_quic__conn_alloc(struct moq_quic_endpoint *ep, int server,
					   const struct sockaddr *peer, socklen_t peerlen,
					   moq_timer_cb on_timer)
{
	struct moq_quic_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ep = ep;
	c->server = server;
	c->own_fd = -1;
	c->state = CS_HANDSHAKE;
	memcpy(&c->peer, peer, peerlen);
	c->peerlen = peerlen;
	c->timer = moq_timer_new(ep->loop, on_timer, c);
	if (!c->timer) {
		free(c);
		return NULL;
	}
	c->next = ep->conns;
	if (ep->conns)
		ep->conns->prev = &c->next;
	c->prev = &ep->conns;
	ep->conns = c;
	ep->nconns++;
	return c;
}

void moq_quic__conn_path(struct moq_quic_conn *c, ngtcp2_path *path)
{
	path->local.addr = (ngtcp2_sockaddr *)&c->ep->local;
	path->local.addrlen = c->ep->locallen;
	path->remote.addr = (ngtcp2_sockaddr *)&c->peer;
	path->remote.addrlen = c->peerlen;
	path->user_data = NULL;
}

void moq_quic_conn_set_user(struct moq_quic_conn *c, void *user)
{
	c->user = user;
}

void *moq_quic_conn_user(const struct moq_quic_conn *c)
{
	return c->user;
}

struct moq_quic_endpoint *moq_quic_conn_endpoint(const struct moq_quic_conn *c)
{
	return c->ep;
}

int moq_quic_conn_is_server(const struct moq_quic_conn *c)
{
	return c->server;
}

int moq_quic_conn_is_established(const struct moq_quic_conn *c)
{
	return c->state == CS_ESTABLISHED;
}

const char *moq_quic_conn_alpn(const struct moq_quic_conn *c)
{
	return c->state == CS_ESTABLISHED && c->alpn[0] ? c->alpn : NULL;
}

const struct sockaddr *moq_quic_conn_peer(const struct moq_quic_conn *c, socklen_t *len)
{
	if (len)
		*len = c->peerlen;
	return (const struct sockaddr *)&c->peer;
}

const struct moq_quic_close_info *moq_quic_conn_close_info(const struct moq_quic_conn *c)
{
	return &c->ci;
}

void moq_quic_conn_stats(const struct moq_quic_conn *c, struct moq_quic_conn_stats *st)
{
	ngtcp2_conn_info cs;

	memset(st, 0, sizeof(*st));
	if (!c->conn)
		return;
	ngtcp2_conn_get_conn_info(c->conn, &cs);
	st->srtt_ns = cs.smoothed_rtt;
	st->min_rtt_ns = cs.min_rtt;
	st->bytes_in_flight = cs.bytes_in_flight;
	st->cwnd = cs.cwnd;
	st->pkts_sent = c->pkts_sent;
	st->pkts_recv = c->pkts_recv;
	st->key_updates = moq_quic__keys_updates(c);
	st->rx_open_failed = moq_quic__keys_open_failed(c);
}

uint64_t moq_quic_conn_uni_opened(const struct moq_quic_conn *c)
{
	return c->uni_opened;
}

void *moq_quic_conn_ngtcp2(struct moq_quic_conn *c)
{
	return c->conn;
}

size_t moq_quic_conn_dcid(const struct moq_quic_conn *c, uint8_t out[20])
{
	const ngtcp2_cid *d;

	if (!c->conn)
		return 0;
	d = ngtcp2_conn_get_dcid(c->conn);
	memcpy(out, d->data, d->datalen);
	return d->datalen;
}

size_t moq_quic_conn_scids(const struct moq_quic_conn *c, uint8_t (*out)[20], size_t *lens,
			   size_t max)
{
	size_t n = 0;

	for (const struct cid_entry *e = c->cids; e && n < max; e = e->cnext) {
		memcpy(out[n], e->cid.data, e->cid.datalen);
		lens[n] = e->cid.datalen;
		n++;
	}
	return n;
}

int moq_quic_conn_send_raw(struct moq_quic_conn *c, const void *pkt, size_t len)
{
	ssize_t r;

	if (c->state != CS_ESTABLISHED && c->state != CS_HANDSHAKE)
		return -ENOTCONN;
	if (moq_quic__shim_on(c)) {
		/* the agent's media writes the plaintext-profile form: seal it */
		if (len > sizeof(c->ep->rawbuf))
			return -EMSGSIZE;
		memcpy(c->ep->rawbuf, pkt, len);
		r = moq_quic__shim_seal(c, c->ep->rawbuf, len);
		if (r < 0)
			return (int)r;
		pkt = c->ep->rawbuf;
	}
	if (c->ep->txb_on || c->ep->txb_n || c->ep->tx_blocked) {
		/* into a batch, or behind what the endpoint holds (a
		 * flush's batch, a full socket's queue): a packet that overtakes lower-numbered
		 * ones gets them declared lost when the peer acknowledges it first */
		moq_quic__sock_send(c->ep, pkt, len, (const struct sockaddr *)&c->peer, c->peerlen);
		return 0;
	}
	r = sendto(c->ep->fd, pkt, len, 0, (const struct sockaddr *)&c->peer, c->peerlen);
	c->ep->st.tx_sendto++;
	if (r < 0)
		return -errno;
	c->ep->st.tx_datagrams++;
	return 0;
}

int moq_quic_conn_close(struct moq_quic_conn *c, uint64_t app_error, const char *reason)
{
	if (!moq_quic__conn_usable(c))
		return -ENOTCONN;
	c->want_close = 1;
	c->close_code = app_error;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
	moq_quic__mark_dirty(c);
	return 0;
}

void moq_quic_conn_drop(struct moq_quic_conn *c)
{
	if (!moq_quic__conn_usable(c))
		return;
	c->silent_drop = 1;
	moq_quic__mark_dirty(c);
}
