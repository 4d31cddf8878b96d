/* Streams and datagrams of a connection. See stream.h. */
#include "quic/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quic/base.h"

#define MAX_DGRAM_QUEUE 256
#define DEFAULT_PRIO 128

struct qstream *moq_quic__stream_find(const struct moq_quic_conn *c, int64_t sid)
{
	if (!c->nsh || sid < 0)
		return NULL;
	for (struct qstream *s = c->sh[(uint64_t)sid & (c->nsh - 1)]; s; s = s->hnext)
		if (s->id == sid)
			return s;
	return NULL;
}

struct qstream *moq_quic__stream_new(struct moq_quic_conn *c, int64_t sid)
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

void moq_quic__stream_free(struct moq_quic_conn *c, struct qstream *s)
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

void moq_quic__stream_report_stop(struct moq_quic_conn *c, struct qstream *s, uint64_t code)
{
	if (s->stop_reported)
		return;
	s->stop_reported = 1;
	s->wr_shut = 1;
	sendable_remove(c, s);
	if (c->ep->cb.on_stop_sending)
		c->ep->cb.on_stop_sending(c, s->id, code, moq_quic__user(c));
}

int moq_quic__stream_pick(struct moq_quic_conn *c, struct qstream **out)
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

/* A closed peer stream's credit goes back in batches of a quarter of the
 * initial limit (RFC 9000 4.6 leaves the timing to the receiver): ngtcp2
 * sends a MAX_STREAMS frame whenever the limit grows, so returning each
 * stream's credit at once cost the peer an ack-eliciting packet per
 * stream, e.g. 30 a second per subscriber of a 30-group/s track, each of
 * them a wakeup of the relay and an ACK back (issue 18). The peer keeps at
 * least three quarters of its limit open. */
static void return_stream_credit(struct moq_quic_conn *c, int bidi)
{
	uint64_t lim = bidi ? c->ep->cfg.max_streams_bidi : c->ep->cfg.max_streams_uni;
	uint64_t batch = lim / 4 ? lim / 4 : 1;
	uint64_t *due = bidi ? &c->bidi_credit_due : &c->uni_credit_due;

	if (++*due < batch)
		return;
	if (bidi)
		ngtcp2_conn_extend_max_streams_bidi(c->conn, *due);
	else
		ngtcp2_conn_extend_max_streams_uni(c->conn, *due);
	*due = 0;
}

static int cb_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t offset,
			       const uint8_t *data, size_t datalen, void *user_data,
			       void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct moq_quic_endpoint *ep = c->ep;

	if (!moq_quic__stream_find(c, sid) && !moq_quic__stream_new(c, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (ep->cb.on_stream_data)
		ep->cb.on_stream_data(c, sid, data, datalen,
				      !!(flags & NGTCP2_STREAM_DATA_FLAG_FIN), moq_quic__user(c));
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
		struct qstream *s = moq_quic__stream_find(c, sid);
		if (ep->cb.on_stream_close)
			ep->cb.on_stream_close(c, sid, 0, 0, moq_quic__user(c));
		if (s)
			moq_quic__stream_free(c, s);
		return_stream_credit(c, 0);
	}
	return 0;
}

static int cb_stream_open(ngtcp2_conn *conn, int64_t sid, void *user_data)
{
	struct moq_quic_conn *c = user_data;

	if (!moq_quic__stream_find(c, sid) && !moq_quic__stream_new(c, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (c->ep->cb.on_stream_open)
		c->ep->cb.on_stream_open(c, sid, moq_quic__user(c));
	return 0;
}

static int cb_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t app_error_code,
			   void *user_data, void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = moq_quic__stream_find(c, sid);

	if (!s && !ngtcp2_is_bidi_stream(sid) && !ngtcp2_conn_is_local_stream(conn, sid))
		return 0; /* already closed at FIN (cb_recv_stream_data) */
	/* A local send direction aborted by nobody here: the peer sent
	 * STOP_SENDING (ngtcp2 reset the stream with its code). */
	if (s && !s->stop_reported && !s->local_reset &&
	    (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) &&
	    (ngtcp2_conn_is_local_stream(conn, sid) || ngtcp2_is_bidi_stream(sid)) &&
	    !(ngtcp2_is_bidi_stream(sid) && s->peer_reset) &&
	    !(s->fin_sent && s->acked == s->queued))
		moq_quic__stream_report_stop(c, s, app_error_code);
	if (c->ep->cb.on_stream_close)
		c->ep->cb.on_stream_close(c, sid,
					  !!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET),
					  app_error_code, moq_quic__user(c));
	if (s)
		moq_quic__stream_free(c, s);
	if (!ngtcp2_conn_is_local_stream(conn, sid))
		return_stream_credit(c, ngtcp2_is_bidi_stream(sid));
	return 0;
}

static int cb_stream_reset(ngtcp2_conn *conn, int64_t sid, uint64_t final_size,
			   uint64_t app_error_code, void *user_data, void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = moq_quic__stream_find(c, sid);
	if (s)
		s->peer_reset = 1;
	if (c->ep->cb.on_stream_reset)
		c->ep->cb.on_stream_reset(c, sid, app_error_code, moq_quic__user(c));
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

static int cb_acked(ngtcp2_conn *conn, int64_t sid, uint64_t offset, uint64_t datalen,
		    void *user_data, void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = moq_quic__stream_find(c, sid);
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
		moq_quic__mark_dirty(c);
	}
	return 0;
}

static int cb_recv_datagram(ngtcp2_conn *conn, uint32_t flags, const uint8_t *data, size_t datalen,
			    void *user_data)
{
	struct moq_quic_conn *c = user_data;
	if (c->ep->cb.on_datagram)
		c->ep->cb.on_datagram(c, data, datalen, moq_quic__user(c));
	return 0;
}

static int cb_streams_bidi(ngtcp2_conn *conn, uint64_t max, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	if (c->ep->cb.on_streams_available && c->state == CS_ESTABLISHED)
		c->ep->cb.on_streams_available(c, 1, moq_quic__user(c));
	return 0;
}

static int cb_streams_uni(ngtcp2_conn *conn, uint64_t max, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	if (c->ep->cb.on_streams_available && c->state == CS_ESTABLISHED)
		c->ep->cb.on_streams_available(c, 0, moq_quic__user(c));
	return 0;
}

static int cb_extend_stream_data(ngtcp2_conn *conn, int64_t sid, uint64_t max_data, void *user_data,
				 void *stream_user_data)
{
	struct moq_quic_conn *c = user_data;
	struct qstream *s = moq_quic__stream_find(c, sid);
	if (s)
		s->blocked = 0;
	moq_quic__mark_dirty(c);
	return 0;
}

static int64_t open_stream(struct moq_quic_conn *c, int bidi)
{
	int64_t sid;
	int rv;

	if (c->state != CS_ESTABLISHED || !moq_quic__conn_usable(c))
		return -ENOTCONN;
	rv = bidi ? ngtcp2_conn_open_bidi_stream(c->conn, &sid, NULL)
		  : ngtcp2_conn_open_uni_stream(c->conn, &sid, NULL);
	if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
		return -EAGAIN;
	if (rv)
		return -EIO;
	if (!bidi)
		c->uni_opened++;
	if (!moq_quic__stream_new(c, sid)) {
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

	if (!moq_quic__conn_usable(c))
		return -ENOTCONN;
	s = moq_quic__stream_find(c, sid);
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
	moq_quic__mark_dirty(c);
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
	const struct qstream *s = moq_quic__stream_find(c, sid);
	return s ? (size_t)(s->queued - s->acked) : 0;
}

int moq_quic_stream_set_priority(struct moq_quic_conn *c, int64_t sid, uint32_t priority)
{
	struct qstream *s = moq_quic__stream_find(c, sid);
	if (!s)
		return -ENOENT;
	s->prio = priority;
	return 0;
}

int moq_quic_stream_set_send_buffer_low(struct moq_quic_conn *c, int64_t sid, size_t low)
{
	struct qstream *s = moq_quic__stream_find(c, sid);
	if (!s)
		return -ENOENT;
	s->send_buffer_low = low;
	if (s->want_writable && s->queued - s->acked <= low) {
		s->want_writable = 0;
		s->writable_pending = 1;
		moq_quic__mark_dirty(c);
	} else if (!s->want_writable && s->queued - s->acked > low) {
		s->want_writable = 1;
	}
	return 0;
}

int moq_quic_stream_set_user(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct qstream *s = moq_quic__stream_find(c, sid);
	if (!s)
		return -ENOENT;
	s->user = user;
	return 0;
}

void *moq_quic_stream_user(const struct moq_quic_conn *c, int64_t sid)
{
	struct qstream *s = moq_quic__stream_find(c, sid);
	return s ? s->user : NULL;
}

int moq_quic_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	struct qstream *s;
	int rv;

	if (!moq_quic__conn_usable(c))
		return -ENOTCONN;
	s = moq_quic__stream_find(c, sid);
	if (!s)
		return -ENOENT;
	rv = ngtcp2_conn_shutdown_stream_write(c->conn, 0, sid, app_error);
	if (rv && rv != NGTCP2_ERR_STREAM_NOT_FOUND)
		return -EIO;
	s->local_reset = 1;
	s->wr_shut = 1;
	sendable_remove(c, s);
	moq_quic__mark_dirty(c);
	return 0;
}

int moq_quic_stream_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	int rv;

	if (!moq_quic__conn_usable(c))
		return -ENOTCONN;
	if (!moq_quic__stream_find(c, sid))
		return -ENOENT;
	rv = ngtcp2_conn_shutdown_stream_read(c->conn, 0, sid, app_error);
	if (rv && rv != NGTCP2_ERR_STREAM_NOT_FOUND)
		return -EIO;
	moq_quic__mark_dirty(c);
	return 0;
}

int moq_quic_stream_consume(struct moq_quic_conn *c, int64_t sid, size_t n)
{
	if (!moq_quic__conn_usable(c))
		return -ENOTCONN;
	ngtcp2_conn_extend_max_stream_offset(c->conn, sid, n);
	ngtcp2_conn_extend_max_offset(c->conn, n);
	moq_quic__mark_dirty(c);
	return 0;
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

int moq_quic_datagram_send(struct moq_quic_conn *c, const void *data, size_t len)
{
	struct dgram *d;

	if (!moq_quic__conn_usable(c) || c->state != CS_ESTABLISHED)
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
	moq_quic__mark_dirty(c);
	return 0;
}

void moq_quic__stream_callbacks(ngtcp2_callbacks *cb)
{
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
}
