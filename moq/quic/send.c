/* The send path. See send.h. */
#include "quic/send.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "moq_err.h"
#include "quic/base.h"
#include "quic/conn.h"
#include "quic/protect.h"
#include "quic/stream.h"

#define MOD "quic"
#define MAX_VEC 16
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

/* How many of the next n datagrams go out before the test hook's fake
 * EAGAIN (n when it is off or later). */
static size_t fake_eagain_after(size_t n)
{
	if (!moq_quic_test_fake_eagain)
		return n;
	for (size_t i = 0; i < n; i++)
		if (++fake_eagain_count % moq_quic_test_fake_eagain == 0)
			return i;
	return n;
}

/* Send the batch with sendmmsg, in order; on a full socket buffer the rest
 * is queued like a single datagram's (txq, EPOLLOUT). One system call per
 * batch instead of one per datagram: with the fast path consuming the
 * subscribers' ACK + PING packets, the relay's ngtcp2 answers them in
 * bursts (one ACK per subscriber per drain), issue 18. */
static void txb_send(struct moq_quic_endpoint *ep)
{
	struct mmsghdr mm[MOQ_QUIC__TX_BATCH];
	struct iovec iov[MOQ_QUIC__TX_BATCH];
	size_t done = 0, n = ep->txb_n;

	ep->txb_n = 0;
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = ep->txb[i];
		iov[i].iov_len = ep->txb_len[i];
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_name = &ep->txb_sa[i];
		mm[i].msg_hdr.msg_namelen = ep->txb_sl[i];
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < n) {
		size_t k = fake_eagain_after(n - done);
		int r;

		if (!k) {
			r = -1;
			errno = EAGAIN;
		} else {
			r = sendmmsg(ep->fd, mm + done, (unsigned)k, 0);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			for (; done < n; done++)
				txq_push(ep, ep->txb[done], ep->txb_len[done],
					 (struct sockaddr *)&ep->txb_sa[done], ep->txb_sl[done]);
			ep_set_blocked(ep, 1);
			return;
		}
		if (r < 0) {
			/* this one failed; the next call reports the rest */
			ep->st.tx_errors++;
			moq_dbg(MOD, "sendmmsg: %s (packet dropped)", strerror(errno));
			done++;
			continue;
		}
		ep->st.tx_datagrams += (uint64_t)r;
		ep->st.tx_batches++;
		done += (size_t)r;
	}
}

/* Send a datagram; when the socket buffer is full, keep it (and every later
 * one) in order until EPOLLOUT: ngtcp2 already counts it as sent. While
 * the endpoint flushes (txb_on), datagrams are batched instead. */
void moq_quic__sock_send(struct moq_quic_endpoint *ep, const uint8_t *d, size_t n,
			 const struct sockaddr *sa, socklen_t sl)
{
	ssize_t r;

	if (!ep->tx_blocked && ep->txb_on && n <= MOQ_QUIC__TX_SLOT &&
	    sl <= sizeof(ep->txb_sa[0])) {
		if (ep->txb_n == MOQ_QUIC__TX_BATCH)
			txb_send(ep);
		if (!ep->tx_blocked) {
			memcpy(ep->txb[ep->txb_n], d, n);
			memcpy(&ep->txb_sa[ep->txb_n], sa, sl);
			ep->txb_sl[ep->txb_n] = sl;
			ep->txb_len[ep->txb_n] = n;
			ep->txb_n++;
			return;
		}
	}
	if (ep->txb_n)
		txb_send(ep); /* in order */
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
		ep->st.tx_sendto++;
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

void moq_quic__ep_drain_txq(struct moq_quic_endpoint *ep)
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
	moq_quic__ep_flush(ep->loop, ep);
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
	moq_quic__keys_notify(c);
	if (ep->cfg.plaintext || moq_quic__shim_on(c)) {
		size_t lp = moq_quic__long_prefix_len(buf, n);
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
						     moq_quic__user(c)) < 0) {
					ep->st.hook_drop++;
					return;
				}
			}
			/* shim-protected: sealed after the hook's renumbering */
			if (!ep->cfg.plaintext &&
			    moq_quic__shim_seal(c, ep->shimbuf + lp, outn) < 0) {
				moq_warn(MOD, "cannot seal a 1-RTT packet (dropped)");
				return;
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
	moq_quic__sock_send(ep, out, outn, sa, sl);
}

void moq_quic__conn_close_with(struct moq_quic_conn *c, const ngtcp2_ccerr *ccerr)
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
					       ep->cfg.max_udp_payload - moq_quic__slack(c), ccerr,
					       moq_quic__now());
	if (n <= 0)
		return;
	conn_send(c, ep->txbuf, (size_t)n, &ps.path, 1);
}

void moq_quic__conn_fail(struct moq_quic_conn *c, int liberr)
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
		moq_quic__conn_close_with(c, &ccerr);
	moq_quic__conn_terminate(c);
}

/* After a burst: the timer at ngtcp2's expiry, or sooner when the burst
 * was cut short by the packet budget (cut). */
static void arm_timer(struct moq_quic_conn *c, int cut, size_t maxpay, uint64_t ts)
{
	uint64_t exp = ngtcp2_conn_get_expiry(c->conn);

	/* Burst cut short by the packet budget: come back soon even if
	 * ngtcp2's expiry does not include the pacing time. */
	if (cut) {
		if (!c->ep->cfg.no_pacing) {
			ngtcp2_conn_info ci;
			uint64_t gap = 50000; /* 50 us */
			/* 1.x exports no pacing rate: use ngtcp2's own formula,
			 * srtt / (1.25 cwnd) per byte. */
			ngtcp2_conn_get_conn_info(c->conn, &ci);
			if (ci.cwnd > 0 && ci.smoothed_rtt > 0)
				gap = (uint64_t)((double)maxpay * (double)ci.smoothed_rtt /
						 (1.25 * (double)ci.cwnd));
			if (gap > 1000000)
				gap = 1000000;
			if (ts + gap < exp)
				exp = ts + gap;
		} else {
			moq_quic__mark_dirty(c);
		}
	}
	moq_timer_set(c->timer, exp);
}

static void conn_write(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;
	uint64_t ts = moq_quic__now();
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
					moq_quic__conn_fail(c, (int)n);
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
		} else if (established && moq_quic__stream_pick(c, &s)) {
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
				moq_quic__conn_fail(c, (int)n);
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
				moq_quic__conn_fail(c, (int)n);
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
	arm_timer(c, npkts >= maxpkts, maxpay, ts);
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
		moq_quic__conn_terminate(c);
		return;
	}
	if (c->hs_failed) {
		moq_quic__conn_fail(c, NGTCP2_ERR_CALLBACK_FAILURE);
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
		moq_quic__conn_close_with(c, &ccerr);
		moq_quic__conn_terminate(c);
		return;
	}
	if (c->est_pending) {
		c->est_pending = 0;
		if (ep->cb.on_established)
			ep->cb.on_established(c, moq_quic__user(c));
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
			moq_quic__stream_report_stop(c, s, s->stop_code);
		}
		if (s->writable_pending) {
			s->writable_pending = 0;
			if (ep->cb.on_stream_writable)
				ep->cb.on_stream_writable(c, s->id, moq_quic__user(c));
		}
	}
	if (c->state == CS_DEAD || c->want_close || c->silent_drop) {
		if (c->state != CS_DEAD)
			conn_flush(c);
		return;
	}
	conn_write(c);
}

void moq_quic__ep_send_batched(struct moq_quic_endpoint *ep)
{
	if (ep->txb_n && !ep->tx_blocked)
		txb_send(ep);
}

int moq_quic_ep_batch_begin(struct moq_quic_endpoint *ep)
{
	int prev;

	if (!ep)
		return 0;
	prev = ep->txb_on;

	ep->txb_on = 1;
	return prev;
}

void moq_quic_ep_batch_end(struct moq_quic_endpoint *ep, int prev)
{
	if (!ep)
		return;
	ep->txb_on = prev;
	if (!prev && ep->txb_n)
		txb_send(ep);
}

void moq_quic__ep_flush(struct moq_loop *loop, void *arg)
{
	struct moq_quic_endpoint *ep = arg;
	int prev = ep->txb_on; /* inside moq_quic_ep_batch_begin: its end sends */

	/* Callbacks may dirty more conns; they re-defer us. While the socket
	 * is blocked the dirty list waits for EPOLLOUT (moq_quic__ep_drain_txq). */
	ep->txb_on = 1;
	while (ep->dirty_head && !ep->tx_blocked) {
		struct moq_quic_conn *c = ep->dirty_head;
		ep->dirty_head = c->dnext;
		c->dirty = 0;
		c->dnext = NULL;
		conn_flush(c);
	}
	ep->txb_on = prev;
	if (!prev && ep->txb_n)
		txb_send(ep);
}

void moq_quic__conn_timer(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct moq_quic_conn *c = arg;
	int rv;

	if (c->state == CS_DEAD)
		return;
	if (c->state == CS_CLOSING) {
		c->state = CS_DEAD;
		moq_loop_defer(c->ep->loop, moq_quic__ep_reap, c->ep);
		return;
	}
	rv = ngtcp2_conn_handle_expiry(c->conn, moq_quic__now());
	if (rv == NGTCP2_ERR_IDLE_CLOSE) {
		c->ci.origin = MOQ_QUIC_CLOSE_IDLE;
		c->ci.app = 0;
		c->ci.code = 0;
		snprintf(c->ci.reason, sizeof(c->ci.reason),
			 "idle timeout: nothing received for %llu ms",
			 (unsigned long long)c->ep->cfg.idle_timeout_ms);
		c->state = CS_DEAD;
		moq_quic__conn_terminate(c);
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
		moq_quic__conn_terminate(c);
		return;
	}
	if (rv) {
		moq_quic__conn_fail(c, rv);
		return;
	}
	/* flushed with every other connection whose timer fired in this
	 * pass (run_defers follows run_timers): one send batch */
	moq_quic__mark_dirty(c);
}
