/* QUIC endpoints and connections on ngtcp2 >= 1.11. See quic.h. */
#include "quic/quic_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "moq_err.h"
#include "varint.h"

#define MOD "quic"
#define NS_PER_MS 1000000ull
#define MAX_DGRAM_QUEUE 256
#define MAX_VEC 16
#define DEFAULT_PRIO 128

static void *U(const struct moq_quic_conn *c)
{
	return c->user ? c->user : c->ep->cfg.user;
}

void moq_quic__rand(uint8_t *dest, size_t len)
{
	while (len) {
		ssize_t n = getrandom(dest, len, 0);
		if (n <= 0)
			continue;
		dest += n;
		len -= (size_t)n;
	}
}

static void rand_cb(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *r)
{
	moq_quic__rand(dest, destlen);
}

static uint64_t now_ns(void)
{
	return moq_loop_now();
}

void moq_quic_config_init(struct moq_quic_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->alpn = MOQ_QUIC_ALPN_DEFAULT;
}

/* ---- CID table -------------------------------------------------------- */

static size_t cid_hash(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return (size_t)h;
}

static struct moq_quic_conn *cid_find(struct moq_quic_endpoint *ep, const uint8_t *d, size_t n)
{
	if (!ep->nct)
		return NULL;
	for (struct cid_entry *e = ep->ct[cid_hash(d, n) & (ep->nct - 1)]; e; e = e->next)
		if (e->cid.datalen == n && !memcmp(e->cid.data, d, n))
			return e->conn;
	return NULL;
}

static int cid_grow(struct moq_quic_endpoint *ep)
{
	size_t n = ep->nct ? ep->nct * 2 : 256;
	struct cid_entry **t = calloc(n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < ep->nct; i++) {
		struct cid_entry *e = ep->ct[i], *next;
		for (; e; e = next) {
			size_t b = cid_hash(e->cid.data, e->cid.datalen) & (n - 1);
			next = e->next;
			e->next = t[b];
			t[b] = e;
		}
	}
	free(ep->ct);
	ep->ct = t;
	ep->nct = n;
	return 0;
}

int moq_quic__cid_add(struct moq_quic_endpoint *ep, struct moq_quic_conn *c, const ngtcp2_cid *cid)
{
	struct cid_entry *e;
	size_t b;

	if (cid_find(ep, cid->data, cid->datalen))
		return -EEXIST;
	if (ep->ncids + 1 > ep->nct && cid_grow(ep))
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cid = *cid;
	e->conn = c;
	b = cid_hash(cid->data, cid->datalen) & (ep->nct - 1);
	e->next = ep->ct[b];
	ep->ct[b] = e;
	e->cnext = c->cids;
	c->cids = e;
	ep->ncids++;
	return 0;
}

static void cid_unlink(struct moq_quic_endpoint *ep, struct cid_entry *e)
{
	size_t b = cid_hash(e->cid.data, e->cid.datalen) & (ep->nct - 1);
	for (struct cid_entry **pp = &ep->ct[b]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			ep->ncids--;
			return;
		}
}

static void cid_remove(struct moq_quic_conn *c, const ngtcp2_cid *cid)
{
	for (struct cid_entry **pp = &c->cids; *pp; pp = &(*pp)->cnext) {
		struct cid_entry *e = *pp;
		if (ngtcp2_cid_eq(&e->cid, cid)) {
			cid_unlink(c->ep, e);
			*pp = e->cnext;
			free(e);
			return;
		}
	}
}

static void cid_remove_all(struct moq_quic_conn *c)
{
	while (c->cids) {
		struct cid_entry *e = c->cids;
		c->cids = e->cnext;
		cid_unlink(c->ep, e);
		free(e);
	}
}

/* ---- streams ---------------------------------------------------------- */

static struct qstream *stream_find(const struct moq_quic_conn *c, int64_t sid)
{
	if (!c->nsh || sid < 0)
		return NULL;
	for (struct qstream *s = c->sh[(uint64_t)sid & (c->nsh - 1)]; s; s = s->hnext)
		if (s->id == sid)
			return s;
	return NULL;
}

static struct qstream *stream_new(struct moq_quic_conn *c, int64_t sid)
{
	struct qstream *s;
	size_t b;

	if (c->nstreams + 1 > c->nsh) {
		size_t n = c->nsh ? c->nsh * 2 : 16;
		struct qstream **t = calloc(n, sizeof(*t));
		if (!t)
			return NULL;
		for (size_t i = 0; i < c->nsh; i++) {
			struct qstream *x = c->sh[i], *next;
			for (; x; x = next) {
				next = x->hnext;
				x->hnext = t[(uint64_t)x->id & (n - 1)];
				t[(uint64_t)x->id & (n - 1)] = x;
			}
		}
		free(c->sh);
		c->sh = t;
		c->nsh = n;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = sid;
	s->prio = DEFAULT_PRIO;
	s->send_buffer_low = c->ep->cfg.send_buffer_low;
	b = (uint64_t)sid & (c->nsh - 1);
	s->hnext = c->sh[b];
	c->sh[b] = s;
	s->snext = c->streams;
	if (c->streams)
		c->streams->sprev = &s->snext;
	s->sprev = &c->streams;
	c->streams = s;
	c->nstreams++;
	return s;
}

static void chunk_release(struct chunk *k)
{
	if (k->done)
		k->done(k->done_arg, k->data);
	free(k->owned);
	free(k);
}

static void sendable_remove(struct moq_quic_conn *c, struct qstream *s)
{
	if (!s->in_sendable)
		return;
	for (struct qstream **pp = &c->sendable; *pp; pp = &(*pp)->sendnext)
		if (*pp == s) {
			*pp = s->sendnext;
			break;
		}
	s->in_sendable = 0;
	s->sendnext = NULL;
}

static void sendable_add(struct moq_quic_conn *c, struct qstream *s)
{
	if (s->in_sendable)
		return;
	s->sendnext = c->sendable;
	c->sendable = s;
	s->in_sendable = 1;
}

static void stream_free(struct moq_quic_conn *c, struct qstream *s)
{
	size_t b = (uint64_t)s->id & (c->nsh - 1);

	sendable_remove(c, s);
	for (struct qstream **pp = &c->sh[b]; *pp; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	*s->sprev = s->snext;
	if (s->snext)
		s->snext->sprev = s->sprev;
	while (s->head) {
		struct chunk *k = s->head;
		s->head = k->next;
		chunk_release(k);
	}
	c->nstreams--;
	free(s);
}

static int stream_has_unsent(const struct qstream *s)
{
	return !s->wr_shut && (s->sent < s->queued || (s->fin_queued && !s->fin_sent));
}

/* ---- scheduling of flushes ------------------------------------------- */

static void ep_flush(struct moq_loop *loop, void *arg);
static void ep_reap(struct moq_loop *loop, void *arg);
static void report_stop(struct moq_quic_conn *c, struct qstream *s, uint64_t code);

static void mark_dirty(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	if (c->state == CS_DEAD)
		return;
	if (!c->dirty) {
		c->dirty = 1;
		c->dnext = ep->dirty_head;
		ep->dirty_head = c;
	}
	moq_loop_defer(ep->loop, ep_flush, ep);
}

/* ---- qlog ------------------------------------------------------------- */

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

/* ---- close handling --------------------------------------------------- */

void moq_quic__conn_set_hs_error(struct moq_quic_conn *c, uint64_t code, const char *fmt, ...)
{
	va_list ap;

	if (c->hs_failed)
		return; /* keep the first, most specific reason */
	c->hs_failed = 1;
	c->hs_code = code;
	va_start(ap, fmt);
	vsnprintf(c->ci.reason, sizeof(c->ci.reason), fmt, ap);
	va_end(ap);
	c->ci.origin = MOQ_QUIC_CLOSE_HANDSHAKE;
	c->ci.app = 0;
	c->ci.code = code;
}

/* Final step: report, and leave the conn for reaping (or the closing
 * period if a CONNECTION_CLOSE was saved). */
static void conn_terminate(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	if (c->closed_notified)
		return;
	c->closed_notified = 1;
	if (c->close_pkt && c->state != CS_DEAD) {
		uint64_t pto = ngtcp2_conn_get_pto(c->conn);
		c->state = CS_CLOSING;
		c->close_deadline = now_ns() + 3 * pto;
		moq_timer_set(c->timer, c->close_deadline);
	} else {
		c->state = CS_DEAD;
	}
	moq_info(MOD, "%s connection closed: origin %d %s code 0x%llx: %s",
		 c->server ? "server" : "client", c->ci.origin, c->ci.app ? "app" : "transport",
		 (unsigned long long)c->ci.code, c->ci.reason);
	if (ep->cb.on_close)
		ep->cb.on_close(c, &c->ci, U(c));
	if (c->state == CS_DEAD) {
		moq_loop_defer(ep->loop, ep_reap, ep);
		ep->reap_scheduled = 1;
	}
}

static void conn_free(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	cid_remove_all(c);
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
		stream_free(c, c->streams);
	free(c->sh);
	while (c->dq_head) {
		struct dgram *d = c->dq_head;
		c->dq_head = d->next;
		free(d);
	}
	moq_timer_free(c->timer);
	if (c->conn)
		ngtcp2_conn_del(c->conn);
	moq_quic_tls_conn_free(c);
	free(c->pths);
	free(c->close_pkt);
	if (c->qlog)
		fclose(c->qlog);
	free(c);
}

static void ep_reap(struct moq_loop *loop, void *arg)
{
	struct moq_quic_endpoint *ep = arg;
	struct moq_quic_conn *c, *next;

	ep->reap_scheduled = 0;
	for (c = ep->conns; c; c = next) {
		next = c->next;
		if (c->state == CS_DEAD)
			conn_free(c);
	}
}

/* ---- sending ---------------------------------------------------------- */

/* Length of the long-header packets at the start of a datagram; the rest
 * (if any) is one short-header packet. */
static size_t long_prefix_len(const uint8_t *d, size_t n)
{
	size_t o = 0;
	while (o < n && (d[o] & 0x80)) {
		size_t p = o + 5;
		uint64_t v;
		int k;
		if (p >= n)
			return n;
		p += 1 + d[p]; /* DCID */
		if (p >= n)
			return n;
		p += 1 + d[p]; /* SCID */
		if (p >= n)
			return n;
		if (((d[o] & 0x30) >> 4) == 0) { /* Initial: token */
			k = quic_varint_decode(&v, d + p, n - p);
			if (k < 0)
				return n;
			p += (size_t)k + v;
		}
		if (p >= n)
			return n;
		k = quic_varint_decode(&v, d + p, n - p);
		if (k < 0)
			return n;
		p += (size_t)k + v;
		if (p > n)
			return n;
		o = p;
	}
	return o;
}

#define MAX_TXQ 4096

/* Tests only: pretend every Nth sendto hit a full socket buffer (loopback
 * never returns EAGAIN). 0 = off. */
unsigned moq_quic_test_fake_eagain;
static unsigned fake_eagain_count;

static void txq_push(struct moq_quic_endpoint *ep, const uint8_t *d, size_t n,
		     const struct sockaddr *sa, socklen_t sl)
{
	struct txq *q;

	if (ep->txq_len >= MAX_TXQ || !(q = malloc(sizeof(*q) + n))) {
		ep->st.tx_errors++;
		return;
	}
	q->next = NULL;
	memcpy(&q->sa, sa, sl);
	q->sl = sl;
	q->len = n;
	memcpy(q->data, d, n);
	if (ep->txq_tail)
		ep->txq_tail->next = q;
	else
		ep->txq_head = q;
	ep->txq_tail = q;
	ep->txq_len++;
	ep->st.tx_queued++;
}

static void ep_set_blocked(struct moq_quic_endpoint *ep, int blocked)
{
	if (ep->tx_blocked == blocked)
		return;
	ep->tx_blocked = blocked;
	moq_loop_mod_fd(ep->loop, ep->fd, EPOLLIN | (blocked ? EPOLLOUT : 0));
}

/* Send a datagram; when the socket buffer is full, keep it (and every later
 * one) in order until EPOLLOUT: ngtcp2 already counts it as sent. */
static void sock_send(struct moq_quic_endpoint *ep, const uint8_t *d, size_t n,
		      const struct sockaddr *sa, socklen_t sl)
{
	ssize_t r;

	if (ep->tx_blocked) {
		txq_push(ep, d, n, sa, sl);
		return;
	}
	if (moq_quic_test_fake_eagain && ++fake_eagain_count % moq_quic_test_fake_eagain == 0) {
		r = -1;
		errno = EAGAIN;
	} else {
		do
			r = sendto(ep->fd, d, n, 0, sa, sl);
		while (r < 0 && errno == EINTR);
	}
	if (r >= 0) {
		ep->st.tx_datagrams++;
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
		txq_push(ep, d, n, sa, sl);
		ep_set_blocked(ep, 1);
		return;
	}
	ep->st.tx_errors++;
	moq_dbg(MOD, "sendto: %s (packet dropped)", strerror(errno));
}

static void ep_flush(struct moq_loop *loop, void *arg);

static void ep_drain_txq(struct moq_quic_endpoint *ep)
{
	while (ep->txq_head) {
		struct txq *q = ep->txq_head;
		ssize_t r = sendto(ep->fd, q->data, q->len, 0, (struct sockaddr *)&q->sa, q->sl);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
			return;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ep->st.tx_errors++;
		else
			ep->st.tx_datagrams++;
		ep->txq_head = q->next;
		if (!ep->txq_head)
			ep->txq_tail = NULL;
		ep->txq_len--;
		free(q);
	}
	ep_set_blocked(ep, 0);
	ep_flush(ep->loop, ep);
}

/* Send one datagram ngtcp2 wrote into buf; apply the plaintext shim and the
 * send hook to its short-header packet. */
static void conn_send(struct moq_quic_conn *c, uint8_t *buf, size_t n, const ngtcp2_path *path,
		      int save_close)
{
	struct moq_quic_endpoint *ep = c->ep;
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
	socklen_t sl = c->peerlen;
	uint8_t *out = buf;
	size_t outn = n;

	if (path && path->remote.addrlen) {
		sa = path->remote.addr;
		sl = path->remote.addrlen;
	}
	if (ep->cfg.plaintext) {
		size_t lp = long_prefix_len(buf, n);
		if (lp < n && c->pt_pn_valid) {
			size_t dcidlen = ngtcp2_conn_get_dcid(c->conn)->datalen;
			size_t cap = sizeof(ep->shimbuf) - lp;
			int r;
			memcpy(ep->shimbuf, buf, lp);
			r = moq_quic_shim_1rtt(ep->shimbuf + lp, cap, buf + lp, n - lp, dcidlen,
					       c->pt_last_pn);
			if (r < 0) {
				moq_warn(MOD,
					 "send shim: cannot re-encode "
					 "1-RTT packet: %s (dropped)",
					 moq_strerror(r));
				return;
			}
			outn = (size_t)r;
			if (ep->cb.send_hook) {
				if (ep->cb.send_hook(c, ep->shimbuf + lp, &outn, cap, c->pt_last_pn,
						     U(c)) < 0) {
					ep->st.hook_drop++;
					return;
				}
			}
			outn += lp;
			out = ep->shimbuf;
			if (outn > ep->cfg.max_udp_payload) {
				if (!ep->st.shim_oversize_drop++)
					moq_warn(
					    MOD,
					    "send shim: a re-encoded packet (%zu bytes) exceeds "
					    "max_udp_payload %zu and was dropped (retransmitted "
					    "later); many small STREAM frames in one packet? "
					    "raise shim_slack",
					    outn, ep->cfg.max_udp_payload);
				moq_dbg(MOD, "shim: %zu > %zu bytes (dropped)", outn,
					ep->cfg.max_udp_payload);
				return;
			}
		}
	}
	c->pkts_sent++;
	if (save_close && !c->close_pkt) {
		/* exactly what went on the wire, for the closing period */
		c->close_pkt = malloc(outn);
		if (c->close_pkt) {
			memcpy(c->close_pkt, out, outn);
			c->close_pktlen = outn;
		}
	}
	sock_send(ep, out, outn, sa, sl);
}

static void conn_close_with(struct moq_quic_conn *c, const ngtcp2_ccerr *ccerr)
{
	struct moq_quic_endpoint *ep = c->ep;
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	ngtcp2_ssize n;

	if (c->close_pkt || !c->conn)
		return;
	if (ngtcp2_conn_in_closing_period(c->conn) || ngtcp2_conn_in_draining_period(c->conn))
		return;
	ngtcp2_path_storage_zero(&ps);
	c->pt_pn_valid = 0;
	n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, ep->txbuf,
					       ep->cfg.max_udp_payload -
						   (ep->cfg.plaintext ? ep->cfg.shim_slack : 0),
					       ccerr, now_ns());
	if (n <= 0)
		return;
	conn_send(c, ep->txbuf, (size_t)n, &ps.path, 1);
}

/* Local failure (handshake or ngtcp2 error): tell the peer, then report. */
static void conn_fail(struct moq_quic_conn *c, int liberr)
{
	ngtcp2_ccerr ccerr;

	if (c->closed_notified)
		return;
	if (c->hs_failed) {
		ngtcp2_ccerr_set_transport_error(&ccerr, c->hs_code, (const uint8_t *)c->ci.reason,
						 strlen(c->ci.reason));
	} else {
		snprintf(c->ci.reason, sizeof(c->ci.reason), "ngtcp2: %s", ngtcp2_strerror(liberr));
		if (liberr == NGTCP2_ERR_CRYPTO)
			ngtcp2_ccerr_set_tls_alert(&ccerr, ngtcp2_conn_get_tls_alert(c->conn),
						   (const uint8_t *)c->ci.reason,
						   strlen(c->ci.reason));
		else
			ngtcp2_ccerr_set_liberr(&ccerr, liberr, (const uint8_t *)c->ci.reason,
						strlen(c->ci.reason));
		c->ci.origin =
		    c->state == CS_HANDSHAKE ? MOQ_QUIC_CLOSE_HANDSHAKE : MOQ_QUIC_CLOSE_INTERNAL;
		c->ci.app = 0;
		c->ci.code = ccerr.error_code;
	}
	if (liberr != NGTCP2_ERR_DROP_CONN && liberr != NGTCP2_ERR_IDLE_CLOSE)
		conn_close_with(c, &ccerr);
	conn_terminate(c);
}

/* Peer closed (or reset): copy its reason. */
static void conn_drained(struct moq_quic_conn *c)
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
	conn_terminate(c);
}

static int pick_stream(struct moq_quic_conn *c, struct qstream **out)
{
	struct qstream *best = NULL, **pp, *s;

	for (pp = &c->sendable; (s = *pp);) {
		if (!stream_has_unsent(s)) {
			*pp = s->sendnext;
			s->in_sendable = 0;
			s->sendnext = NULL;
			continue;
		}
		if (!s->blocked &&
		    (!best || s->prio < best->prio || (s->prio == best->prio && s->rr < best->rr)))
			best = s;
		pp = &s->sendnext;
	}
	*out = best;
	return best != NULL;
}

static void conn_write(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;
	uint64_t ts = now_ns();
	size_t maxpay = ngtcp2_conn_get_max_tx_udp_payload_size(c->conn);
	size_t quantum = ngtcp2_conn_get_send_quantum(c->conn);
	size_t maxpkts = quantum / maxpay;
	size_t npkts = 0;
	int guard = 0;

	if (maxpkts < 1)
		maxpkts = 1;
	if (maxpkts > 64)
		maxpkts = 64;
	if (ep->cfg.no_pacing)
		maxpkts = 64;
	for (struct qstream *s = c->sendable; s; s = s->sendnext)
		s->blocked = 0;

	while (npkts < maxpkts && guard++ < 1024) {
		ngtcp2_path_storage ps;
		if (ep->tx_blocked) {
			/* resume after EPOLLOUT; stay on the dirty list */
			if (!c->dirty) {
				c->dirty = 1;
				c->dnext = ep->dirty_head;
				ep->dirty_head = c;
			}
			break;
		}
		ngtcp2_pkt_info pi;
		ngtcp2_ssize n, pdatalen = -1;
		struct qstream *s = NULL;
		int established = c->state == CS_ESTABLISHED;

		ngtcp2_path_storage_zero(&ps);
		c->pt_pn_valid = 0;
		if (established && c->dq_head) {
			struct dgram *d = c->dq_head;
			ngtcp2_vec v = {.base = d->data, .len = d->len};
			int accepted = 0;
			n = ngtcp2_conn_writev_datagram(c->conn, &ps.path, &pi, ep->txbuf, maxpay,
							&accepted, NGTCP2_WRITE_DATAGRAM_FLAG_NONE,
							0, &v, 1, ts);
			if (n < 0 || accepted) {
				if (n < 0 && n != NGTCP2_ERR_INVALID_ARGUMENT &&
				    ngtcp2_err_is_fatal((int)n)) {
					conn_fail(c, (int)n);
					return;
				}
				c->dq_head = d->next;
				if (!c->dq_head)
					c->dq_tail = NULL;
				c->dq_len--;
				free(d);
				if (n < 0)
					continue;
			}
		} else if (established && pick_stream(c, &s)) {
			ngtcp2_vec v[MAX_VEC];
			size_t nv = 0, total = 0;
			uint32_t flags = 0;
			struct chunk *k = s->cur;
			while (k && k->off + k->len <= s->sent)
				k = k->next;
			s->cur = k;
			for (; k && nv < MAX_VEC; k = k->next) {
				uint64_t skip = s->sent > k->off ? s->sent - k->off : 0;
				v[nv].base = (uint8_t *)k->data + skip;
				v[nv].len = k->len - (size_t)skip;
				total += v[nv].len;
				nv++;
			}
			if (s->fin_queued && s->sent + total == s->queued)
				flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
			n = ngtcp2_conn_writev_stream(c->conn, &ps.path, &pi, ep->txbuf, maxpay,
						      &pdatalen, flags, s->id, v, nv, ts);
			if (n < 0) {
				if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
					s->blocked = 1;
					continue;
				}
				if (n == NGTCP2_ERR_STREAM_SHUT_WR ||
				    n == NGTCP2_ERR_STREAM_NOT_FOUND) {
					s->wr_shut = 1;
					continue;
				}
				conn_fail(c, (int)n);
				return;
			}
			if (pdatalen >= 0) {
				s->sent += (uint64_t)pdatalen;
				if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) &&
				    (size_t)pdatalen == total)
					s->fin_sent = 1;
				s->rr = ++c->rr_clock;
			}
		} else {
			n = ngtcp2_conn_write_pkt(c->conn, &ps.path, &pi, ep->txbuf, maxpay, ts);
			if (n < 0) {
				conn_fail(c, (int)n);
				return;
			}
		}
		if (n == 0)
			break;
		conn_send(c, ep->txbuf, (size_t)n, &ps.path, 0);
		npkts++;
	}
	if (!ep->cfg.no_pacing)
		ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
	{
		uint64_t exp = ngtcp2_conn_get_expiry(c->conn);
		/* Burst cut short by the packet budget: come back soon even
		 * if ngtcp2's expiry does not include the pacing time. */
		if (npkts >= maxpkts) {
			if (!ep->cfg.no_pacing) {
				ngtcp2_conn_info ci;
				uint64_t gap = 50000; /* 50 us */
				/* 1.x exports no pacing rate: use ngtcp2's own
				 * formula, srtt / (1.25 cwnd) per byte. */
				ngtcp2_conn_get_conn_info(c->conn, &ci);
				if (ci.cwnd > 0 && ci.smoothed_rtt > 0)
					gap = (uint64_t)((double)maxpay * (double)ci.smoothed_rtt /
							 (1.25 * (double)ci.cwnd));
				if (gap > 1000000)
					gap = 1000000;
				if (ts + gap < exp)
					exp = ts + gap;
			} else {
				mark_dirty(c);
			}
		}
		moq_timer_set(c->timer, exp);
	}
}

static void conn_flush(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	if (c->state == CS_DEAD || c->state == CS_CLOSING)
		return;
	if (c->silent_drop) {
		c->ci.origin = MOQ_QUIC_CLOSE_LOCAL;
		snprintf(c->ci.reason, sizeof(c->ci.reason),
			 "connection dropped locally without notice");
		c->state = CS_DEAD;
		conn_terminate(c);
		return;
	}
	if (c->hs_failed) {
		conn_fail(c, NGTCP2_ERR_CALLBACK_FAILURE);
		return;
	}
	if (c->want_close) {
		ngtcp2_ccerr ccerr;
		ngtcp2_ccerr_set_application_error(&ccerr, c->close_code,
						   (const uint8_t *)c->close_reason,
						   strlen(c->close_reason));
		c->ci.origin = MOQ_QUIC_CLOSE_LOCAL;
		c->ci.app = 1;
		c->ci.code = c->close_code;
		snprintf(c->ci.reason, sizeof(c->ci.reason), "%s", c->close_reason);
		conn_close_with(c, &ccerr);
		conn_terminate(c);
		return;
	}
	if (c->est_pending) {
		c->est_pending = 0;
		if (ep->cb.on_established)
			ep->cb.on_established(c, U(c));
		if (c->state != CS_ESTABLISHED)
			return;
		if (c->want_close || c->silent_drop) {
			conn_flush(c);
			return;
		}
	}
	for (struct qstream *s = c->streams, *next; s; s = next) {
		next = s->snext;
		if (s->stop_pending && !s->stop_reported) {
			s->stop_pending = 0;
			report_stop(c, s, s->stop_code);
		}
		if (s->writable_pending) {
			s->writable_pending = 0;
			if (ep->cb.on_stream_writable)
				ep->cb.on_stream_writable(c, s->id, U(c));
		}
	}
	if (c->state == CS_DEAD || c->want_close || c->silent_drop) {
		if (c->state != CS_DEAD)
			conn_flush(c);
		return;
	}
	conn_write(c);
}

static void ep_flush(struct moq_loop *loop, void *arg)
{
	struct moq_quic_endpoint *ep = arg;

	/* Callbacks may dirty more conns; they re-defer us. While the socket
	 * is blocked the dirty list waits for EPOLLOUT (ep_drain_txq). */
	while (ep->dirty_head && !ep->tx_blocked) {
		struct moq_quic_conn *c = ep->dirty_head;
		ep->dirty_head = c->dnext;
		c->dirty = 0;
		c->dnext = NULL;
		conn_flush(c);
	}
}

static void conn_timer(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct moq_quic_conn *c = arg;
	int rv;

	if (c->state == CS_DEAD)
		return;
	if (c->state == CS_CLOSING) {
		c->state = CS_DEAD;
		moq_loop_defer(c->ep->loop, ep_reap, c->ep);
		return;
	}
	rv = ngtcp2_conn_handle_expiry(c->conn, now_ns());
	if (rv == NGTCP2_ERR_IDLE_CLOSE) {
		c->ci.origin = MOQ_QUIC_CLOSE_IDLE;
		c->ci.app = 0;
		c->ci.code = 0;
		snprintf(c->ci.reason, sizeof(c->ci.reason),
			 "idle timeout: nothing received for %llu ms",
			 (unsigned long long)c->ep->cfg.idle_timeout_ms);
		c->state = CS_DEAD;
		conn_terminate(c);
		return;
	}
	if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
		c->ci.origin = MOQ_QUIC_CLOSE_HANDSHAKE;
		c->ci.app = 0;
		c->ci.code = 0;
		snprintf(c->ci.reason, sizeof(c->ci.reason),
			 "handshake timeout after %llu ms (no answer from "
			 "peer: wrong address/port, firewall, or a "
			 "--plaintext/TLS mismatch with a non-moq peer)",
			 (unsigned long long)c->ep->cfg.handshake_timeout_ms);
		c->state = CS_DEAD;
		conn_terminate(c);
		return;
	}
	if (rv) {
		conn_fail(c, rv);
		return;
	}
	mark_dirty(c);
	ep_flush(loop, c->ep);
}

/* ---- ngtcp2 callbacks ------------------------------------------------- */

static int cb_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
	struct moq_quic_conn *c = user_data;

	if (!c->ep->cfg.plaintext && moq_quic_tls_check_alpn(c))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	c->state = CS_ESTABLISHED;
	c->est_pending = 1;
	mark_dirty(c);
	return 0;
}

static int cb_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t offset,
			       const uint8_t *data, size_t datalen, void *user_data,
			       void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct moq_quic_endpoint *ep = c->ep;

	if (!stream_find(c, sid) && !stream_new(c, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (ep->cb.on_stream_data)
		ep->cb.on_stream_data(c, sid, data, datalen,
				      !!(flags & NGTCP2_STREAM_DATA_FLAG_FIN), U(c));
	if (!ep->cfg.manual_consume && datalen) {
		ngtcp2_conn_extend_max_stream_offset(conn, sid, datalen);
		ngtcp2_conn_extend_max_offset(conn, datalen);
	}
	/* ngtcp2 0.12.1 never closed a peer's unidirectional stream after its
	 * FIN (its send side was never "fin acked"), so stream credit would
	 * never come back. Close it at this layer; the stream_close that 1.x
	 * sends for it later is ignored, so credit returns once. */
	if ((flags & NGTCP2_STREAM_DATA_FLAG_FIN) && !ngtcp2_is_bidi_stream(sid) &&
	    !ngtcp2_conn_is_local_stream(conn, sid)) {
		struct qstream *s = stream_find(c, sid);
		if (ep->cb.on_stream_close)
			ep->cb.on_stream_close(c, sid, 0, 0, U(c));
		if (s)
			stream_free(c, s);
		ngtcp2_conn_extend_max_streams_uni(conn, 1);
	}
	return 0;
}

static int cb_stream_open(ngtcp2_conn *conn, int64_t sid, void *user_data)
{
	struct moq_quic_conn *c = user_data;

	if (!stream_find(c, sid) && !stream_new(c, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (c->ep->cb.on_stream_open)
		c->ep->cb.on_stream_open(c, sid, U(c));
	return 0;
}

static int cb_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t app_error_code,
			   void *user_data, void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = stream_find(c, sid);

	if (!s && !ngtcp2_is_bidi_stream(sid) && !ngtcp2_conn_is_local_stream(conn, sid))
		return 0; /* already closed at FIN (cb_recv_stream_data) */
	/* A local send direction aborted by nobody here: the peer sent
	 * STOP_SENDING (ngtcp2 reset the stream with its code). */
	if (s && !s->stop_reported && !s->local_reset &&
	    (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) &&
	    (ngtcp2_conn_is_local_stream(conn, sid) || ngtcp2_is_bidi_stream(sid)) &&
	    !(ngtcp2_is_bidi_stream(sid) && s->peer_reset) &&
	    !(s->fin_sent && s->acked == s->queued))
		report_stop(c, s, app_error_code);
	if (c->ep->cb.on_stream_close)
		c->ep->cb.on_stream_close(c, sid,
					  !!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET),
					  app_error_code, U(c));
	if (s)
		stream_free(c, s);
	if (!ngtcp2_conn_is_local_stream(conn, sid)) {
		if (ngtcp2_is_bidi_stream(sid))
			ngtcp2_conn_extend_max_streams_bidi(conn, 1);
		else
			ngtcp2_conn_extend_max_streams_uni(conn, 1);
	}
	return 0;
}

static int cb_stream_reset(ngtcp2_conn *conn, int64_t sid, uint64_t final_size,
			   uint64_t app_error_code, void *user_data, void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = stream_find(c, sid);
	if (s)
		s->peer_reset = 1;
	if (c->ep->cb.on_stream_reset)
		c->ep->cb.on_stream_reset(c, sid, app_error_code, U(c));
	return 0;
}

/* ngtcp2 (0.12.1 and 1.11) calls stream_stop_sending when WE stop reading
 * (shutdown_stream_read); there is no callback for a received STOP_SENDING
 * (ngtcp2 answers it with RESET_STREAM on its own). Received STOP_SENDING is
 * reported from the plaintext frame scan (scan_stop_sending) or, in TLS
 * mode, when the aborted stream closes (cb_stream_close). */
static int cb_stop_sending(ngtcp2_conn *conn, int64_t sid, uint64_t app_error_code, void *user_data,
			   void *stream_user_data)
{
	return 0;
}

static void report_stop(struct moq_quic_conn *c, struct qstream *s, uint64_t code)
{
	if (s->stop_reported)
		return;
	s->stop_reported = 1;
	s->wr_shut = 1;
	sendable_remove(c, s);
	if (c->ep->cb.on_stop_sending)
		c->ep->cb.on_stop_sending(c, s->id, code, U(c));
}

static int cb_acked(ngtcp2_conn *conn, int64_t sid, uint64_t offset, uint64_t datalen,
		    void *user_data, void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = stream_find(c, sid);
	uint64_t end = offset + datalen;

	if (!s)
		return 0;
	if (end > s->acked)
		s->acked = end;
	while (s->head && s->head->off + s->head->len <= s->acked) {
		struct chunk *k = s->head;
		s->head = k->next;
		if (s->cur == k)
			s->cur = k->next;
		if (!s->head)
			s->tail = NULL;
		chunk_release(k);
	}
	if (s->want_writable && s->queued - s->acked <= s->send_buffer_low) {
		s->want_writable = 0;
		s->writable_pending = 1;
		mark_dirty(c);
	}
	return 0;
}

static int cb_recv_datagram(ngtcp2_conn *conn, uint32_t flags, const uint8_t *data, size_t datalen,
			    void *user_data)
{
	struct moq_quic_conn *c = user_data;
	if (c->ep->cb.on_datagram)
		c->ep->cb.on_datagram(c, data, datalen, U(c));
	return 0;
}

static int cb_streams_bidi(ngtcp2_conn *conn, uint64_t max, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	if (c->ep->cb.on_streams_available && c->state == CS_ESTABLISHED)
		c->ep->cb.on_streams_available(c, 1, U(c));
	return 0;
}

static int cb_streams_uni(ngtcp2_conn *conn, uint64_t max, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	if (c->ep->cb.on_streams_available && c->state == CS_ESTABLISHED)
		c->ep->cb.on_streams_available(c, 0, U(c));
	return 0;
}

static int cb_extend_stream_data(ngtcp2_conn *conn, int64_t sid, uint64_t max_data, void *user_data,
				 void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = stream_find(c, sid);
	if (s)
		s->blocked = 0;
	mark_dirty(c);
	return 0;
}

static int cb_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
		      void *user_data)
{
	struct moq_quic_conn *c = user_data;

	for (int tries = 0; tries < 8; tries++) {
		cid->datalen = cidlen;
		moq_quic__rand(cid->data, cidlen);
		if (!cid_find(c->ep, cid->data, cidlen))
			break;
	}
	if (ngtcp2_crypto_generate_stateless_reset_token(token, c->ep->cfg.reset_secret,
							 sizeof(c->ep->cfg.reset_secret), cid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (moq_quic__cid_add(c->ep, c, cid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_remove_cid(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
	cid_remove(user_data, cid);
	return 0;
}

static int cb_stateless_reset(ngtcp2_conn *conn, const ngtcp2_pkt_stateless_reset *sr,
			      void *user_data)
{
	struct moq_quic_conn *c = user_data;
	c->got_sr = 1;
	return 0;
}

/* ---- connection setup ------------------------------------------------- */

static void fill_callbacks(struct moq_quic_endpoint *ep, ngtcp2_callbacks *cb, int server)
{
	memset(cb, 0, sizeof(*cb));
	if (ep->cfg.plaintext)
		moq_quic_pt_callbacks(cb, server);
	else
		moq_quic_tls_callbacks(cb, server);
	cb->handshake_completed = cb_handshake_completed;
	cb->recv_stream_data = cb_recv_stream_data;
	cb->acked_stream_data_offset = cb_acked;
	cb->stream_open = cb_stream_open;
	cb->stream_close = cb_stream_close;
	cb->stream_reset = cb_stream_reset;
	cb->stream_stop_sending = cb_stop_sending;
	cb->recv_datagram = cb_recv_datagram;
	cb->extend_max_local_streams_bidi = cb_streams_bidi;
	cb->extend_max_local_streams_uni = cb_streams_uni;
	cb->extend_max_stream_data = cb_extend_stream_data;
	cb->rand = rand_cb;
	cb->get_new_connection_id = cb_new_cid;
	cb->remove_connection_id = cb_remove_cid;
	cb->recv_stateless_reset = cb_stateless_reset;
}

/* probe: storage for the one PMTUD probe size (ngtcp2 copies it). */
static void fill_settings(struct moq_quic_conn *c, ngtcp2_settings *s, const ngtcp2_cid *odcid,
			  uint16_t *probe)
{
	struct moq_quic_endpoint *ep = c->ep;

	ngtcp2_settings_default(s);
	s->initial_ts = now_ns();
	s->max_tx_udp_payload_size =
	    ep->cfg.max_udp_payload - (ep->cfg.plaintext ? ep->cfg.shim_slack : 0);
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

static void fill_params(struct moq_quic_endpoint *ep, ngtcp2_transport_params *p)
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
	p->active_connection_id_limit = 4;
	p->max_datagram_frame_size =
	    cfg->max_datagram_frame_size == UINT64_MAX ? 0 : cfg->max_datagram_frame_size;
}

static struct moq_quic_conn *conn_alloc(struct moq_quic_endpoint *ep, int server,
					const struct sockaddr *peer, socklen_t peerlen)
{
	struct moq_quic_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ep = ep;
	c->server = server;
	c->state = CS_HANDSHAKE;
	memcpy(&c->peer, peer, peerlen);
	c->peerlen = peerlen;
	c->pt_aead_ctx.native_handle = c;
	c->pt_hp_ctx.native_handle = c;
	c->timer = moq_timer_new(ep->loop, conn_timer, c);
	if (ep->cfg.plaintext)
		c->pths = calloc(1, sizeof(*c->pths));
	if (!c->timer || (ep->cfg.plaintext && !c->pths)) {
		moq_timer_free(c->timer);
		free(c->pths);
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

static void make_path(struct moq_quic_conn *c, ngtcp2_path *path)
{
	path->local.addr = (ngtcp2_sockaddr *)&c->ep->local;
	path->local.addrlen = c->ep->locallen;
	path->remote.addr = (ngtcp2_sockaddr *)&c->peer;
	path->remote.addrlen = c->peerlen;
	path->user_data = NULL;
}

/* ---- receiving -------------------------------------------------------- */

/* Plaintext: find STOP_SENDING frames in a received 1-RTT packet so the app
 * learns the peer's code at once. */
static void scan_stop_sending(struct moq_quic_conn *c, const uint8_t *data, size_t n)
{
	size_t lp = long_prefix_len(data, n), hdr;
	const uint8_t *p, *end;
	struct moq_quic_frame f;
	int rv;

	if (lp >= n || !c->ep->cb.on_stop_sending)
		return;
	data += lp;
	n -= lp;
	hdr = 1 + MOQ_QUIC_CID_LEN + (size_t)(data[0] & 3) + 1;
	if (n < hdr + MOQ_QUIC_PLAINTEXT_TAG_LEN)
		return;
	end = data + n - MOQ_QUIC_PLAINTEXT_TAG_LEN;
	for (p = data + hdr; p < end; p += rv) {
		uint64_t sid, code;
		int a, b;
		struct qstream *s;

		rv = moq_quic_frame_parse(&f, p, end);
		if (rv <= 0)
			return;
		if (f.type != 0x05)
			continue;
		a = quic_varint_decode(&sid, p + 1, (size_t)(end - p - 1));
		if (a < 0)
			return;
		b = quic_varint_decode(&code, p + 1 + a, (size_t)(end - p - 1 - a));
		if (b < 0)
			return;
		s = stream_find(c, (int64_t)sid);
		if (s && !s->stop_pending && !s->stop_reported) {
			s->stop_pending = 1;
			s->stop_code = code;
		}
	}
}

static void conn_recv(struct moq_quic_conn *c, uint8_t *data, size_t n, size_t cap,
		      const struct sockaddr *sa, socklen_t sl)
{
	struct moq_quic_endpoint *ep = c->ep;
	ngtcp2_path path;
	ngtcp2_pkt_info pi = {0};
	struct sockaddr_storage from;
	int rv;

	if (c->state == CS_DEAD)
		return;
	if (c->state == CS_CLOSING) {
		if (c->close_pkt)
			sock_send(ep, c->close_pkt, c->close_pktlen, (struct sockaddr *)&c->peer,
				  c->peerlen);
		return;
	}
	c->pkts_recv++;
	/* Client: a server Initial of the other mode can never decrypt;
	 * recognise it instead of waiting for the handshake timeout. */
	if (!c->server && c->state == CS_HANDSHAKE && (data[0] & 0x80)) {
		int pt = moq_quic_pt_initial_is_plaintext(data, n);
		if (pt == 0 && ep->cfg.plaintext) {
			moq_quic__conn_set_hs_error(c, 0x0a,
						    "peer answered with TLS; this endpoint runs "
						    "--plaintext (use the same mode on both ends)");
			c->state = CS_DEAD;
			conn_terminate(c);
			return;
		}
		if (pt == 1 && !ep->cfg.plaintext) {
			/* A plaintext server's refusal is readable (null
			 * protection): decode its reason for the user. */
			moq_quic__conn_set_hs_error(
			    c, 0x0a,
			    "peer uses the plaintext profile; this endpoint "
			    "runs TLS (use --plaintext on both ends)");
			c->state = CS_DEAD;
			conn_terminate(c);
			return;
		}
	}
	if (ep->cfg.plaintext && ep->cb.recv_hook) {
		size_t lp = long_prefix_len(data, n);
		if (lp < n) {
			size_t len = n - lp;
			if (ep->cb.recv_hook(c, data + lp, &len, cap - lp, U(c)) < 0) {
				ep->st.hook_drop++;
				return;
			}
			n = lp + len;
		}
	}
	if (ep->cfg.plaintext && c->state == CS_ESTABLISHED)
		scan_stop_sending(c, data, n);
	memcpy(&from, sa, sl);
	make_path(c, &path);
	path.remote.addr = (ngtcp2_sockaddr *)&from;
	path.remote.addrlen = sl;
	rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, data, n, now_ns());
	if (c->got_sr || rv == NGTCP2_ERR_DRAINING) {
		conn_drained(c);
		return;
	}
	if (rv == NGTCP2_ERR_DISCARD_PKT)
		return;
	if (rv) {
		conn_fail(c, rv);
		return;
	}
	{
		/* follow NAT rebinding / migration validated by ngtcp2 */
		const ngtcp2_path *cur = ngtcp2_conn_get_path(c->conn);
		if (cur && cur->remote.addrlen && cur->remote.addrlen <= sizeof(c->peer) &&
		    (cur->remote.addrlen != c->peerlen ||
		     memcmp(cur->remote.addr, &c->peer, c->peerlen))) {
			memcpy(&c->peer, cur->remote.addr, cur->remote.addrlen);
			c->peerlen = cur->remote.addrlen;
		}
	}
	mark_dirty(c);
}

static void send_stateless_reset(struct moq_quic_endpoint *ep, const uint8_t *dcid, size_t dcidlen,
				 size_t trigger_len, const struct sockaddr *sa, socklen_t sl)
{
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN], rnd[64], out[128];
	ngtcp2_cid cid;
	size_t randlen;
	ngtcp2_ssize n;

	/* At most ~100 per 100 ms per endpoint: a flood of junk must not turn
	 * the relay into a reflector. */
	{
		uint64_t now = now_ns();
		if (now - ep->sr_window_start > 100 * NS_PER_MS) {
			ep->sr_window_start = now;
			ep->sr_in_window = 0;
		}
		if (ep->sr_in_window++ >= 100)
			return;
	}
	/* Smaller than the trigger, so two endpoints cannot loop. */
	if (trigger_len <
	    1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN + 1)
		return;
	randlen = trigger_len - 1 - NGTCP2_STATELESS_RESET_TOKENLEN - 1;
	if (randlen > 40)
		randlen = 40;
	ngtcp2_cid_init(&cid, dcid, dcidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, ep->cfg.reset_secret,
							 sizeof(ep->cfg.reset_secret), &cid))
		return;
	moq_quic__rand(rnd, randlen);
	n = ngtcp2_pkt_write_stateless_reset(out, sizeof(out), token, rnd, randlen);
	if (n > 0) {
		out[0] = (uint8_t)((out[0] & 0x3f) | 0x40);
		sock_send(ep, out, (size_t)n, sa, sl);
		ep->st.tx_stateless_reset++;
	}
}

static void server_accept(struct moq_quic_endpoint *ep, uint8_t *data, size_t n,
			  const struct sockaddr *sa, socklen_t sl)
{
	ngtcp2_pkt_hd hd;
	ngtcp2_cid scid;
	uint16_t probe;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_callbacks cb;
	ngtcp2_path path;
	struct moq_quic_conn *c;
	int is_pt, rv;

	if (ngtcp2_accept(&hd, data, n) != 0)
		return;
	is_pt = moq_quic_pt_initial_is_plaintext(data, n);
	if (ep->cfg.plaintext && is_pt != 1) {
		static const char why[] = "peer uses TLS; this endpoint runs --plaintext";
		ngtcp2_ssize w = ngtcp2_crypto_write_connection_close(
		    ep->txbuf, sizeof(ep->txbuf), hd.version, &hd.scid, &hd.dcid, 0x0a,
		    (const uint8_t *)why, sizeof(why) - 1);
		ep->st.rx_profile_mismatch++;
		moq_warn(MOD, "refused a client: %s", why);
		if (w > 0)
			sock_send(ep, ep->txbuf, (size_t)w, sa, sl);
		if (ep->cb.on_refused)
			ep->cb.on_refused(ep, sa, sl, why, ep->cfg.user);
		return;
	}
	if (!ep->cfg.plaintext && is_pt == 1) {
		static const char why[] = "peer uses the plaintext profile; this endpoint runs "
					  "TLS (use --plaintext on both ends)";
		ngtcp2_ssize w = moq_quic_pt_write_initial_close(ep->txbuf, sizeof(ep->txbuf),
								 &hd.scid, &hd.dcid, 0x0a, why);
		ep->st.rx_profile_mismatch++;
		moq_warn(MOD, "refused a client: %s", why);
		if (w > 0)
			sock_send(ep, ep->txbuf, (size_t)w, sa, sl);
		if (ep->cb.on_refused)
			ep->cb.on_refused(ep, sa, sl, why, ep->cfg.user);
		return;
	}

	c = conn_alloc(ep, 1, sa, sl);
	if (!c)
		return;
	scid.datalen = MOQ_QUIC_CID_LEN;
	do
		moq_quic__rand(scid.data, scid.datalen);
	while (cid_find(ep, scid.data, scid.datalen));
	fill_callbacks(ep, &cb, 1);
	fill_settings(c, &s, &hd.dcid, &probe);
	s.token = hd.token;
	fill_params(ep, &p);
	p.original_dcid = hd.dcid;
	p.original_dcid_present = 1;
	p.stateless_reset_token_present = 1;
	ngtcp2_crypto_generate_stateless_reset_token(p.stateless_reset_token, ep->cfg.reset_secret,
						     sizeof(ep->cfg.reset_secret), &scid);
	make_path(c, &path);
	rv = ngtcp2_conn_server_new(&c->conn, &hd.scid, &scid, &path, hd.version, &cb, &s, &p, NULL,
				    c);
	if (rv) {
		moq_warn(MOD, "ngtcp2_conn_server_new: %s", ngtcp2_strerror(rv));
		c->state = CS_DEAD;
		conn_free(c);
		return;
	}
	if (ep->cfg.keep_alive_ms)
		ngtcp2_conn_set_keep_alive_timeout(c->conn, ep->cfg.keep_alive_ms * NS_PER_MS);
	if (moq_quic__cid_add(ep, c, &scid) || moq_quic__cid_add(ep, c, &hd.dcid) ||
	    (!ep->cfg.plaintext && moq_quic_tls_conn_init(c, NULL))) {
		c->state = CS_DEAD;
		conn_free(c);
		return;
	}
	if (ep->cb.on_accept && ep->cb.on_accept(c, U(c)) < 0) {
		ngtcp2_ssize w;
		static const char why[] = "connection refused by application";
		w = ep->cfg.plaintext
			? moq_quic_pt_write_initial_close(ep->txbuf, sizeof(ep->txbuf), &hd.scid,
							  &hd.dcid, 0x02, why)
			: ngtcp2_crypto_write_connection_close(
			      ep->txbuf, sizeof(ep->txbuf), hd.version, &hd.scid, &hd.dcid, 0x02,
			      (const uint8_t *)why, sizeof(why) - 1);
		if (w > 0)
			sock_send(ep, ep->txbuf, (size_t)w, sa, sl);
		if (ep->cb.on_refused)
			ep->cb.on_refused(ep, sa, sl, why, ep->cfg.user);
		c->state = CS_DEAD;
		conn_free(c);
		return;
	}
	conn_recv(c, data, n, sizeof(ep->rxbuf), sa, sl);
}

static void handle_datagram(struct moq_quic_endpoint *ep, uint8_t *data, size_t n,
			    const struct sockaddr *sa, socklen_t sl)
{
	ngtcp2_version_cid vc;
	struct moq_quic_conn *c;
	int rv;

	ep->st.rx_datagrams++;
	rv = ngtcp2_pkt_decode_version_cid(&vc, data, n, MOQ_QUIC_CID_LEN);
	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION && ep->cfg.listen && n >= 1200) {
		/* unknown version: offer v1 (the client's CIDs swapped) */
		static const uint32_t sv[] = {NGTCP2_PROTO_VER_V1};
		uint8_t r;
		ngtcp2_ssize w;
		moq_quic__rand(&r, 1);
		w = ngtcp2_pkt_write_version_negotiation(ep->txbuf, sizeof(ep->txbuf), r, vc.scid,
							 vc.scidlen, vc.dcid, vc.dcidlen, sv, 1);
		if (w > 0)
			sock_send(ep, ep->txbuf, (size_t)w, sa, sl);
		return;
	}
	if (rv < 0)
		return;
	c = cid_find(ep, vc.dcid, vc.dcidlen);
	if (c) {
		conn_recv(c, data, n, sizeof(ep->rxbuf), sa, sl);
		return;
	}
	if (data[0] & 0x80) {
		if (ep->cfg.listen)
			server_accept(ep, data, n, sa, sl);
		return;
	}
	ep->st.rx_unknown++;
	/* A stateless reset for one of our client connections? */
	if (n >= 21) {
		for (c = ep->conns; c; c = c->next) {
			const ngtcp2_transport_params *rp;
			if (c->state != CS_ESTABLISHED && c->state != CS_HANDSHAKE)
				continue;
			rp = ngtcp2_conn_get_remote_transport_params(c->conn);
			if (rp && rp->stateless_reset_token_present &&
			    !memcmp(rp->stateless_reset_token,
				    data + n - NGTCP2_STATELESS_RESET_TOKENLEN,
				    NGTCP2_STATELESS_RESET_TOKENLEN)) {
				conn_recv(c, data, n, sizeof(ep->rxbuf), sa, sl);
				return;
			}
		}
	}
	send_stateless_reset(ep, vc.dcid, vc.dcidlen, n, sa, sl);
}

static void ep_readable(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct moq_quic_endpoint *ep = arg;

	if ((events & EPOLLOUT) && ep->tx_blocked)
		ep_drain_txq(ep);
	if (!(events & (EPOLLIN | EPOLLERR)))
		return;

	for (int i = 0; i < 256; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t r = recvfrom(fd, ep->rxbuf, 65536, 0, (struct sockaddr *)&ss, &sl);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == 0)
			continue;
		handle_datagram(ep, ep->rxbuf, (size_t)r, (struct sockaddr *)&ss, sl);
	}
	ep_flush(loop, ep);
}

/* ---- endpoint --------------------------------------------------------- */

static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int resolve(const char *host, uint16_t port, int family, struct sockaddr_storage *ss,
		   socklen_t *sl, int passive)
{
	struct addrinfo hints = {0}, *res = NULL;
	char ps[8];
	int rv;

	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(ps, sizeof(ps), "%u", port);
	rv = getaddrinfo(host, ps, &hints, &res);
	if (rv)
		return rv;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int ep_open_socket(struct moq_quic_endpoint *ep, int family, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *host = ep->s_local_addr;
	int fd, zero = 0, buf = 8 << 20, rv;

	if (!host || !*host)
		host = family == AF_INET ? "0.0.0.0" : "::";
	rv = resolve(host, ep->cfg.local_port, family, &ss, &sl, 1);
	if (rv) {
		snprintf(err, errlen, "cannot resolve local address %s: %s", host,
			 gai_strerror(rv));
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	/* Large buffers for bursts to hundreds of peers: the FORCE variants
	 * pass net.core.[rw]mem_max when running as root (the relay). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, errlen, "cannot bind UDP %s port %u: %s", host, ep->cfg.local_port,
			 strerror(errno));
		close(fd);
		return -1;
	}
	ep->locallen = sizeof(ep->local);
	getsockname(fd, (struct sockaddr *)&ep->local, &ep->locallen);
	ep->fd = fd;
	ep->family = ss.ss_family;
	if (moq_loop_add_fd(ep->loop, fd, EPOLLIN, ep_readable, ep) < 0) {
		snprintf(err, errlen, "epoll: cannot add socket");
		close(fd);
		ep->fd = -1;
		return -1;
	}
	return 0;
}

struct moq_quic_endpoint *moq_quic_endpoint_new(struct moq_loop *loop,
						const struct moq_quic_config *cfg, char *err,
						size_t errlen)
{
	struct moq_quic_endpoint *ep;
	char dummy[8];
	static const uint8_t zero[32];

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	ep = calloc(1, sizeof(*ep));
	if (!ep) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ep->loop = loop;
	ep->fd = -1;
	ep->cfg = *cfg;
	if (cfg->cb)
		ep->cb = *cfg->cb;
	ep->s_local_addr = dupstr(cfg->local_addr);
	ep->s_alpn = dupstr(cfg->alpn ? cfg->alpn : MOQ_QUIC_ALPN_DEFAULT);
	ep->s_cert = dupstr(cfg->cert_file);
	ep->s_key = dupstr(cfg->key_file);
	ep->s_ca = dupstr(cfg->ca_file);
	ep->s_sni = dupstr(cfg->sni);
	ep->s_qlog_dir = dupstr(cfg->qlog_dir);
	ep->cfg.local_addr = ep->s_local_addr;
	ep->cfg.alpn = ep->s_alpn;
	ep->cfg.cert_file = ep->s_cert;
	ep->cfg.key_file = ep->s_key;
	ep->cfg.ca_file = ep->s_ca;
	ep->cfg.sni = ep->s_sni;
	ep->cfg.qlog_dir = ep->s_qlog_dir;
	ep->cfg.cb = &ep->cb;
	if (!ep->cfg.idle_timeout_ms)
		ep->cfg.idle_timeout_ms = 30000;
	if (!ep->cfg.handshake_timeout_ms)
		ep->cfg.handshake_timeout_ms = 5000;
	if (!ep->cfg.max_data)
		ep->cfg.max_data = 16 << 20;
	if (!ep->cfg.max_stream_data)
		ep->cfg.max_stream_data = 4 << 20;
	if (!ep->cfg.max_streams_bidi)
		ep->cfg.max_streams_bidi = 100;
	if (!ep->cfg.max_streams_uni)
		ep->cfg.max_streams_uni = 1000;
	if (!ep->cfg.max_datagram_frame_size)
		ep->cfg.max_datagram_frame_size = 1200;
	if (!ep->cfg.max_udp_payload)
		ep->cfg.max_udp_payload = 1350;
	if (!ep->cfg.shim_slack)
		ep->cfg.shim_slack = MOQ_QUIC_SHIM_SLACK;
	if (ep->cfg.plaintext && ep->cfg.max_udp_payload < 1200 + ep->cfg.shim_slack) {
		snprintf(err, errlen,
			 "max_udp_payload %zu too small: the plaintext profile needs at least "
			 "1200 + shim_slack (%zu)",
			 ep->cfg.max_udp_payload, ep->cfg.shim_slack);
		goto fail;
	}
	if (ep->cfg.max_udp_payload < 1200) {
		snprintf(err, errlen, "max_udp_payload %zu too small: QUIC needs 1200",
			 ep->cfg.max_udp_payload);
		goto fail;
	}
	if (!memcmp(ep->cfg.reset_secret, zero, sizeof(zero)))
		moq_quic__rand(ep->cfg.reset_secret, sizeof(ep->cfg.reset_secret));
	if (strlen(ep->s_alpn) == 0 || strlen(ep->s_alpn) > 255) {
		snprintf(err, errlen, "ALPN must be 1..255 bytes");
		goto fail;
	}
	if (!ep->cfg.plaintext && moq_quic_tls_ep_init(ep, err, errlen))
		goto fail;
	if (ep->cfg.listen || ep->s_local_addr) {
		int fam = AF_UNSPEC;
		if (ep->s_local_addr && strchr(ep->s_local_addr, ':'))
			fam = AF_INET6;
		else if (ep->s_local_addr)
			fam = AF_INET;
		else
			fam = AF_INET6; /* "::" dual stack */
		if (ep_open_socket(ep, fam, err, errlen))
			goto fail;
	}
	return ep;
fail:
	moq_quic_endpoint_free(ep);
	return NULL;
}

void moq_quic_endpoint_free(struct moq_quic_endpoint *ep)
{
	if (!ep)
		return;
	for (struct moq_quic_conn *c = ep->conns; c; c = c->next) {
		if (c->state == CS_HANDSHAKE || c->state == CS_ESTABLISHED) {
			ngtcp2_ccerr ccerr;
			static const char why[] = "endpoint shutting down";
			ngtcp2_ccerr_set_application_error(&ccerr, 0, (const uint8_t *)why,
							   sizeof(why) - 1);
			c->ci.origin = MOQ_QUIC_CLOSE_LOCAL;
			c->ci.app = 1;
			c->ci.code = 0;
			snprintf(c->ci.reason, sizeof(c->ci.reason), "%s", why);
			conn_close_with(c, &ccerr);
			c->state = CS_DEAD;
			conn_terminate(c);
		}
	}
	while (ep->conns)
		conn_free(ep->conns);
	if (ep->fd >= 0) {
		moq_loop_del_fd(ep->loop, ep->fd);
		close(ep->fd);
	}
	moq_quic_tls_ep_free(ep);
	free(ep->ct);
	free(ep->s_local_addr);
	free(ep->s_alpn);
	free(ep->s_cert);
	free(ep->s_key);
	free(ep->s_ca);
	free(ep->s_sni);
	free(ep->s_qlog_dir);
	while (ep->txq_head) {
		struct txq *q = ep->txq_head;
		ep->txq_head = q->next;
		free(q);
	}
	moq_loop_defer_cancel(ep->loop, ep);
	free(ep);
}

int moq_quic_endpoint_local_addr(struct moq_quic_endpoint *ep, struct sockaddr_storage *ss,
				 socklen_t *len)
{
	if (ep->fd < 0)
		return -ENOTCONN;
	memcpy(ss, &ep->local, ep->locallen);
	*len = ep->locallen;
	return 0;
}

uint16_t moq_quic_endpoint_port(struct moq_quic_endpoint *ep)
{
	if (ep->fd < 0)
		return 0;
	if (ep->local.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ep->local)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ep->local)->sin6_port);
}

size_t moq_quic_endpoint_conn_count(const struct moq_quic_endpoint *ep)
{
	size_t n = 0;
	for (const struct moq_quic_conn *c = ep->conns; c; c = c->next)
		if (c->state == CS_HANDSHAKE || c->state == CS_ESTABLISHED)
			n++;
	return n;
}

void moq_quic_endpoint_stats(const struct moq_quic_endpoint *ep, struct moq_quic_endpoint_stats *st)
{
	*st = ep->st;
}

struct moq_quic_conn *moq_quic_connect(struct moq_quic_endpoint *ep, const char *host,
				       uint16_t port, void *user, char *err, size_t errlen)
{
	struct sockaddr_storage peer;
	socklen_t pl;
	ngtcp2_cid dcid, scid;
	uint16_t probe;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_callbacks cb;
	ngtcp2_path path;
	struct moq_quic_conn *c;
	char dummy[8];
	int rv;

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	rv = resolve(host, port, ep->fd >= 0 && ep->family == AF_INET ? AF_INET : AF_UNSPEC, &peer,
		     &pl, 0);
	if (rv) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rv));
		return NULL;
	}
	if (ep->fd < 0 && ep_open_socket(ep, peer.ss_family, err, errlen))
		return NULL;
	if (ep->family == AF_INET6 && peer.ss_family == AF_INET) {
		/* v4-mapped on a dual-stack socket */
		struct sockaddr_in v4;
		struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
		memcpy(&v4, &peer, sizeof(v4));
		v6.sin6_port = v4.sin_port;
		v6.sin6_addr.s6_addr[10] = 0xff;
		v6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
		memcpy(&peer, &v6, sizeof(v6));
		pl = sizeof(v6);
	}
	c = conn_alloc(ep, 0, (struct sockaddr *)&peer, pl);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->user = user;
	dcid.datalen = MOQ_QUIC_CID_LEN;
	moq_quic__rand(dcid.data, dcid.datalen);
	scid.datalen = MOQ_QUIC_CID_LEN;
	do
		moq_quic__rand(scid.data, scid.datalen);
	while (cid_find(ep, scid.data, scid.datalen));
	fill_callbacks(ep, &cb, 0);
	fill_settings(c, &s, &dcid, &probe);
	fill_params(ep, &p);
	make_path(c, &path);
	rv = ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &s, &p,
				    NULL, c);
	if (rv) {
		snprintf(err, errlen, "ngtcp2_conn_client_new: %s", ngtcp2_strerror(rv));
		goto fail;
	}
	if (ep->cfg.keep_alive_ms)
		ngtcp2_conn_set_keep_alive_timeout(c->conn, ep->cfg.keep_alive_ms * NS_PER_MS);
	if (moq_quic__cid_add(ep, c, &scid)) {
		snprintf(err, errlen, "CID table: out of memory");
		goto fail;
	}
	if (!ep->cfg.plaintext && moq_quic_tls_conn_init(c, host)) {
		snprintf(err, errlen, "TLS session setup failed");
		goto fail;
	}
	mark_dirty(c);
	return c;
fail:
	c->state = CS_DEAD;
	conn_free(c);
	return NULL;
}

/* ---- conn accessors --------------------------------------------------- */

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

size_t moq_quic_conn_max_datagram(const struct moq_quic_conn *c)
{
	const ngtcp2_transport_params *rp;
	uint64_t m;

	if (c->state != CS_ESTABLISHED)
		return 0;
	rp = ngtcp2_conn_get_remote_transport_params(c->conn);
	if (!rp || !rp->max_datagram_frame_size)
		return 0;
	m = rp->max_datagram_frame_size;
	/* frame type + length varint */
	m = m > 3 ? m - 3 : 0;
	/* must also fit one packet: header (1+20+4), tag, frame overhead */
	{
		size_t pkt = ngtcp2_conn_get_max_tx_udp_payload_size(c->conn);
		size_t room = pkt > 64 ? pkt - 64 : 0;
		if (m > room)
			m = room;
	}
	return (size_t)m;
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
	r = sendto(c->ep->fd, pkt, len, 0, (const struct sockaddr *)&c->peer, c->peerlen);
	if (r < 0)
		return -errno;
	c->ep->st.tx_datagrams++;
	return 0;
}

int moq_quic_endpoint_fd(const struct moq_quic_endpoint *ep)
{
	return ep->fd;
}

static int conn_usable(const struct moq_quic_conn *c)
{
	return (c->state == CS_HANDSHAKE || c->state == CS_ESTABLISHED) && !c->want_close &&
	       !c->silent_drop && !c->closed_notified;
}

int moq_quic_conn_close(struct moq_quic_conn *c, uint64_t app_error, const char *reason)
{
	if (!conn_usable(c))
		return -ENOTCONN;
	c->want_close = 1;
	c->close_code = app_error;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
	mark_dirty(c);
	return 0;
}

void moq_quic_conn_drop(struct moq_quic_conn *c)
{
	if (!conn_usable(c))
		return;
	c->silent_drop = 1;
	mark_dirty(c);
}

/* ---- streams API ------------------------------------------------------ */

static int64_t open_stream(struct moq_quic_conn *c, int bidi)
{
	int64_t sid;
	int rv;

	if (c->state != CS_ESTABLISHED || !conn_usable(c))
		return -ENOTCONN;
	rv = bidi ? ngtcp2_conn_open_bidi_stream(c->conn, &sid, NULL)
		  : ngtcp2_conn_open_uni_stream(c->conn, &sid, NULL);
	if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
		return -EAGAIN;
	if (rv)
		return -EIO;
	if (!bidi)
		c->uni_opened++;
	if (!stream_new(c, sid)) {
		ngtcp2_conn_shutdown_stream(c->conn, 0, sid, 0);
		return -ENOMEM;
	}
	return sid;
}

int64_t moq_quic_stream_open_bidi(struct moq_quic_conn *c)
{
	return open_stream(c, 1);
}

int64_t moq_quic_stream_open_uni(struct moq_quic_conn *c)
{
	return open_stream(c, 0);
}

static int stream_append(struct moq_quic_conn *c, int64_t sid, const void *data, size_t len,
			 int fin, int copy, moq_quic_buf_done done, void *done_arg)
{
	struct qstream *s;
	struct chunk *k;

	if (!conn_usable(c))
		return -ENOTCONN;
	s = stream_find(c, sid);
	if (!s)
		return -ENOENT;
	if (s->fin_queued || s->wr_shut ||
	    (!ngtcp2_is_bidi_stream(sid) && !ngtcp2_conn_is_local_stream(c->conn, sid)))
		return -EPIPE; /* finished, reset, or a receive-only stream */
	if (len) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return -ENOMEM;
		if (copy) {
			k->owned = malloc(len);
			if (!k->owned) {
				free(k);
				return -ENOMEM;
			}
			memcpy(k->owned, data, len);
			k->data = k->owned;
		} else {
			k->data = data;
			k->done = done;
			k->done_arg = done_arg;
		}
		k->len = len;
		k->off = s->queued;
		s->queued += len;
		if (s->tail)
			s->tail->next = k;
		else
			s->head = k;
		s->tail = k;
		if (!s->cur)
			s->cur = k;
	} else if (!copy && done) {
		done(done_arg, data);
	}
	if (fin)
		s->fin_queued = 1;
	if (s->queued - s->acked > s->send_buffer_low)
		s->want_writable = 1;
	sendable_add(c, s);
	mark_dirty(c);
	return 0;
}

int moq_quic_stream_write(struct moq_quic_conn *c, int64_t sid, const void *data, size_t len,
			  int fin)
{
	return stream_append(c, sid, data, len, fin, 1, NULL, NULL);
}

int moq_quic_stream_write_ref(struct moq_quic_conn *c, int64_t sid, const void *data, size_t len,
			      int fin, moq_quic_buf_done done, void *done_arg)
{
	return stream_append(c, sid, data, len, fin, 0, done, done_arg);
}

size_t moq_quic_stream_buffered(const struct moq_quic_conn *c, int64_t sid)
{
	const struct qstream *s = stream_find(c, sid);
	return s ? (size_t)(s->queued - s->acked) : 0;
}

int moq_quic_stream_set_priority(struct moq_quic_conn *c, int64_t sid, uint32_t priority)
{
	struct qstream *s = stream_find(c, sid);
	if (!s)
		return -ENOENT;
	s->prio = priority;
	return 0;
}

int moq_quic_stream_set_send_buffer_low(struct moq_quic_conn *c, int64_t sid, size_t low)
{
	struct qstream *s = stream_find(c, sid);
	if (!s)
		return -ENOENT;
	s->send_buffer_low = low;
	if (s->want_writable && s->queued - s->acked <= low) {
		s->want_writable = 0;
		s->writable_pending = 1;
		mark_dirty(c);
	} else if (!s->want_writable && s->queued - s->acked > low) {
		s->want_writable = 1;
	}
	return 0;
}

int moq_quic_stream_set_user(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct qstream *s = stream_find(c, sid);
	if (!s)
		return -ENOENT;
	s->user = user;
	return 0;
}

void *moq_quic_stream_user(const struct moq_quic_conn *c, int64_t sid)
{
	struct qstream *s = stream_find(c, sid);
	return s ? s->user : NULL;
}

int moq_quic_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	struct qstream *s;
	int rv;

	if (!conn_usable(c))
		return -ENOTCONN;
	s = stream_find(c, sid);
	if (!s)
		return -ENOENT;
	rv = ngtcp2_conn_shutdown_stream_write(c->conn, 0, sid, app_error);
	if (rv && rv != NGTCP2_ERR_STREAM_NOT_FOUND)
		return -EIO;
	s->local_reset = 1;
	s->wr_shut = 1;
	sendable_remove(c, s);
	mark_dirty(c);
	return 0;
}

int moq_quic_stream_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	int rv;

	if (!conn_usable(c))
		return -ENOTCONN;
	if (!stream_find(c, sid))
		return -ENOENT;
	rv = ngtcp2_conn_shutdown_stream_read(c->conn, 0, sid, app_error);
	if (rv && rv != NGTCP2_ERR_STREAM_NOT_FOUND)
		return -EIO;
	mark_dirty(c);
	return 0;
}

int moq_quic_stream_consume(struct moq_quic_conn *c, int64_t sid, size_t n)
{
	if (!conn_usable(c))
		return -ENOTCONN;
	ngtcp2_conn_extend_max_stream_offset(c->conn, sid, n);
	ngtcp2_conn_extend_max_offset(c->conn, n);
	mark_dirty(c);
	return 0;
}

/* ---- datagrams -------------------------------------------------------- */

int moq_quic_datagram_send(struct moq_quic_conn *c, const void *data, size_t len)
{
	struct dgram *d;

	if (!conn_usable(c) || c->state != CS_ESTABLISHED)
		return -ENOTCONN;
	if (len > moq_quic_conn_max_datagram(c))
		return -EMSGSIZE;
	if (c->dq_len >= MAX_DGRAM_QUEUE)
		return -ENOBUFS;
	d = malloc(sizeof(*d) + len);
	if (!d)
		return -ENOMEM;
	d->next = NULL;
	d->len = len;
	memcpy(d->data, data, len);
	if (c->dq_tail)
		c->dq_tail->next = d;
	else
		c->dq_head = d;
	c->dq_tail = d;
	c->dq_len++;
	mark_dirty(c);
	return 0;
}
