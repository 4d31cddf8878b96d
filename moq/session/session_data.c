/* MoQT session: data streams and datagrams, both directions (session.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "session/session_core.h"
#include "session/session_data.h"
#include "varint.h"

#define MOD "session"
#define RX_MAX_PROPS 8192
#define MS 1000000ull

/* A peer's millisecond parameter (up to 2^62) in ns, capped at 2^62 ns
 * (146 years) so that clock + timeout cannot wrap. */
static uint64_t ms_ns(uint64_t ms)
{
	return ms > (1ull << 62) / MS ? 1ull << 62 : ms * MS;
}

static uint64_t hold_limit(const struct moq_session *s)
{
	return s->cfg.unknown_alias_bytes ? s->cfg.unknown_alias_bytes : (1u << 20);
}

static uint64_t hold_wait_ns(const struct moq_session *s)
{
	return (s->cfg.unknown_alias_wait_ms ? s->cfg.unknown_alias_wait_ms : 1000) * MS;
}

/* ---- incoming data streams ---------------------------------------------- */

struct moq_rx *moq_session__rx_new(struct moq_session *s, int64_t sid)
{
	struct moq_rx *rx = calloc(1, sizeof(*rx));
	if (!rx)
		return NULL;
	rx->kind = SOBJ_RX;
	rx->s = s;
	rx->sid = sid;
	rx->mode = RX_PEEK;
	rx->snext = s->rxs;
	if (s->rxs)
		s->rxs->sprev = rx;
	s->rxs = rx;
	moq_quic_stream_set_user(s->conn, sid, rx);
	return rx;
}

static void rx_detach_req(struct moq_rx *rx)
{
	struct moq_request *r = rx->r;
	if (!r)
		return;
	if (rx->rprev)
		rx->rprev->rnext = rx->rnext;
	else
		r->rxs = rx->rnext;
	if (rx->rnext)
		rx->rnext->rprev = rx->rprev;
	rx->rnext = rx->rprev = NULL;
	rx->r = NULL;
}

static void rx_attach(struct moq_rx *rx, struct moq_request *r)
{
	rx->r = r;
	rx->rprev = NULL;
	rx->rnext = r->rxs;
	if (r->rxs)
		r->rxs->rprev = rx;
	r->rxs = rx;
	r->streams_rx++;
	moq_session__req_linger_touch(r);
}

void moq_session__rx_kill(struct moq_rx *rx)
{
	struct moq_session *s = rx->s;
	if (rx->dead)
		return;
	rx->dead = true;
	struct moq_request *r = rx->r;
	rx_detach_req(rx);
	if (rx->holding) {
		s->held_bytes -= rx->hold.len;
		rx->holding = false;
	}
	if (s->ctrl_rx == rx)
		s->ctrl_rx = NULL;
	if (rx->sprev)
		rx->sprev->snext = rx->snext;
	else
		s->rxs = rx->snext;
	if (rx->snext)
		rx->snext->sprev = rx->sprev;
	if (s->conn)
		moq_quic_stream_set_user(s->conn, rx->sid, &s->ignore);
	rx->gnext = s->grave_rx;
	s->grave_rx = rx;
	if (r && !moq_session__closing(s))
		r->s->up->req_linger_check(r);
}

void moq_session__rx_stop(struct moq_rx *rx, uint64_t code)
{
	struct moq_session *s = rx->s;
	if (rx->dead)
		return;
	if (s->conn && !moq_session__closing(s))
		moq_session__stop_sending(s, rx->sid, code);
	moq_session__rx_kill(rx);
}

void moq_session__rx_on_reset(struct moq_rx *rx, uint64_t code)
{
	struct moq_session *s = rx->s;
	if (rx->dead)
		return;
	if (rx->header_delivered && s->cb && s->cb->on_data_reset)
		s->cb->on_data_reset(s, rx, code, 0);
	moq_session__rx_kill(rx);
}

static void rx_deliver(struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct moq_session *s = rx->s;
	if (ev->type == MOQ_DATA_EV_HEADER)
		rx->header_delivered = true;
	if (ev->type == MOQ_DATA_EV_OBJECT)
		s->stats.objects_received++;
	if (s->cb && s->cb->on_data)
		s->cb->on_data(s, rx, ev);
}

static void rx_hold_append(struct moq_rx *rx, const uint8_t *p, size_t n)
{
	struct moq_session *s = rx->s;
	if (!n)
		return;
	if (rx->hold.len + n > HOLD_STREAM_MAX || s->held_bytes + n > hold_limit(s) ||
	    moq_session__buf_append(&rx->hold, p, n) < 0) {
		moq_info(MOD,
			 "session %s: dropping data stream %lld of unknown Track "
			 "Alias %llu (hold limit reached)",
			 s->name, (long long)rx->sid, (unsigned long long)rx->alias);
		s->stats.streams_dropped_unknown++;
		moq_session__rx_stop(rx, MOQ_RESET_CANCELLED);
		return;
	}
	s->held_bytes += n;
}

static void rx_event(struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct moq_session *s = rx->s;

	if (ev->type != MOQ_DATA_EV_HEADER) {
		if (!rx->padding)
			rx_deliver(rx, ev);
		return;
	}
	switch (ev->stream) {
	case MOQ_DATA_SUBGROUP_HEADER: {
		uint64_t alias = ev->subgroup.track_alias;
		struct moq_request *r = moq_session__alias_find(s->sub_alias, alias);
		rx->alias = alias;
		if (r) {
			rx_attach(rx, r);
			rx_deliver(rx, ev);
		} else if (moq_session__tomb_has(s, alias)) {
			moq_session__rx_stop(rx, MOQ_RESET_CANCELLED);
		} else {
			rx->holding = true;
			rx->hold_since = moq_loop_now();
			rx->hdr_ev = *ev;
			moq_session__hk_arm(s);
		}
		return;
	}
	case MOQ_DATA_FETCH_HEADER: {
		struct moq_request *r =
		    moq_session__req_find_local(s, MOQ_CTRL_FETCH, ev->fetch.request_id);
		if (!r) {
			moq_info(MOD,
				 "session %s: fetch stream %lld for unknown "
				 "Request ID %llu dropped",
				 s->name, (long long)rx->sid,
				 (unsigned long long)ev->fetch.request_id);
			moq_session__rx_stop(rx, MOQ_RESET_CANCELLED);
			return;
		}
		rx_attach(rx, r);
		rx_deliver(rx, ev);
		return;
	}
	case MOQ_DATA_PADDING:
		rx->padding = true;
		return;
	default:
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "data stream",
				  "unexpected stream type %s on stream %lld",
				  moq_data_type_name(ev->stream), (long long)rx->sid);
		return;
	}
}

static void rx_feed(struct moq_rx *rx, const uint8_t *p, size_t n)
{
	struct moq_session *s = rx->s;
	struct moq_data_event ev;

	if (rx->holding) {
		rx_hold_append(rx, p, n);
		return;
	}
	for (;;) {
		size_t used = 0;
		int rc = moq_data_reader_feed(&rx->rd, p, n, &used, &ev);
		if (rc == 1) {
			p += used;
			n -= used;
			rx_event(rx, &ev);
			if (rx->dead || moq_session__closing(s))
				return;
			if (rx->holding) {
				rx_hold_append(rx, p, n);
				return;
			}
			continue;
		}
		if (rc == MOQ_ERR_NEED_MORE)
			return;
		moq_session__fail(s, (uint64_t)moq_ctrl_err_to_session_code(rc), "data stream",
				  "stream %lld: %s", (long long)rx->sid, moq_strerror(rc));
		return;
	}
}

static void rx_fin(struct moq_rx *rx)
{
	struct moq_session *s = rx->s;
	struct moq_data_event ev;

	if (rx->holding) {
		rx->hold_fin = true;
		return;
	}
	if (rx->padding) {
		moq_session__rx_kill(rx);
		return;
	}
	int rc = moq_data_reader_finish(&rx->rd, &ev);
	if (rc != 1) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "data stream",
				  "stream %lld ended inside a header or object (%s)",
				  (long long)rx->sid, moq_strerror(rc));
		return;
	}
	struct moq_request *r = rx->r;
	if (rx->header_delivered)
		rx_deliver(rx, &ev);
	if (rx->dead)
		return;
	if (r && !r->dead && r->type == MOQ_CTRL_FETCH && r->local) {
		r->fetch_data_done = true;
		moq_session__req_send_fin(r);
	}
	moq_session__rx_kill(rx);
	if (r && !r->dead && r->type == MOQ_CTRL_FETCH && r->local && !moq_session__closing(s))
		r->s->up->req_maybe_complete(r);
}

static void rx_raw(struct moq_rx *rx, const uint8_t *p, size_t n, int fin)
{
	struct moq_session *s = rx->s;

	if (s->cb && s->cb->on_data_raw)
		s->cb->on_data_raw(s, rx, rx->raw_off, p, n, fin);
	rx->raw_off += n;
}

void moq_session__rx_on_data(struct moq_rx *rx, const uint8_t *p, size_t n, int fin)
{
	struct moq_session *s = rx->s;

	if (rx->dead)
		return;
	if (rx->r && rx->r->done_rx)
		moq_session__req_linger_touch(rx->r); /* late data still coming */
	if (rx->mode == RX_CONTROL) {
		s->up->ctrl_feed(s, p, n, fin);
		return;
	}
	if (rx->mode == RX_PEEK) {
		size_t k = sizeof(rx->peek) - rx->npeek;
		if (k > n)
			k = n;
		memcpy(rx->peek + rx->npeek, p, k);
		rx->npeek += k;
		p += k;
		n -= k;
		uint64_t type = 0;
		size_t used = 0;
		int rc = moq_stream_type_peek(&type, &used, rx->peek, rx->npeek);
		if (rc == MOQ_ERR_NEED_MORE) {
			if (fin)
				moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "stream",
						  "stream %lld ended before its type",
						  (long long)rx->sid);
			return;
		}
		if (rc < 0) {
			moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "stream",
					  "unknown unidirectional stream type 0x%llx on "
					  "stream %lld",
					  (unsigned long long)type, (long long)rx->sid);
			return;
		}
		if (rc == MOQ_DATA_SETUP) {
			if (s->ctrl_rx) {
				moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION,
						  "control stream",
						  "peer opened a second control stream");
				return;
			}
			rx->mode = RX_CONTROL;
			s->ctrl_rx = rx;
			s->up->ctrl_feed(s, rx->peek, rx->npeek, n ? 0 : fin);
			if (n && !moq_session__closing(s))
				s->up->ctrl_feed(s, p, n, fin);
			return;
		}
		struct moq_data_reader_config rc_cfg = {
		    .max_payload_length = s->cfg.max_object_payload,
		    .max_properties_length = RX_MAX_PROPS,
		};
		size_t blen = MOQ_DATA_READER_BUF_SIZE(RX_MAX_PROPS);
		rx->rdbuf = malloc(blen);
		if (!rx->rdbuf || moq_data_reader_init(&rx->rd, &rc_cfg, rx->rdbuf, blen)) {
			moq_session__fail(s, MOQ_SESSION_INTERNAL_ERROR, "data stream",
					  "cannot set up a reader");
			return;
		}
		rx->mode = RX_DATA;
		s->stats.data_streams_received++;
		uint8_t first[sizeof(rx->peek)];
		size_t nfirst = rx->npeek;
		memcpy(first, rx->peek, nfirst);
		rx_raw(rx, first, nfirst, n ? 0 : fin);
		rx_feed(rx, first, nfirst);
		if (rx->dead || moq_session__closing(s))
			return;
	}
	if (n || fin)
		rx_raw(rx, p, n, fin);
	if (n)
		rx_feed(rx, p, n);
	if (fin && !rx->dead && !moq_session__closing(s))
		rx_fin(rx);
}

void moq_session__rx_match_alias(struct moq_session *s, struct moq_request *r)
{
	if (!r->alias_set || !r->alias_in_sub_table)
		return;
	for (struct moq_rx *rx = s->rxs, *n; rx; rx = n) {
		n = rx->snext;
		if (rx->dead || !rx->holding || rx->alias != r->alias)
			continue;
		struct moq_session__buf b = rx->hold;
		memset(&rx->hold, 0, sizeof(rx->hold));
		s->held_bytes -= b.len;
		rx->holding = false;
		rx_attach(rx, r);
		rx_deliver(rx, &rx->hdr_ev);
		if (!rx->dead && !moq_session__closing(s) && b.len)
			rx_feed(rx, b.p, b.len);
		moq_session__buf_free(&b);
		if (!rx->dead && !moq_session__closing(s) && rx->hold_fin)
			rx_fin(rx);
		if (r->dead || moq_session__closing(s))
			return;
	}
}

/* ---- incoming datagrams ------------------------------------------------- */

void moq_session__dgram_on_recv(struct moq_session *s, const uint8_t *p, size_t n)
{
	uint64_t type;
	int k = moq_vi_decode(&type, p, n);
	if (k < 0) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "datagram",
				  "truncated datagram type (%zu bytes)", n);
		return;
	}
	int cls = moq_datagram_type_classify(type);
	if (cls == MOQ_DATA_PADDING_DATAGRAM)
		return;
	if (cls != MOQ_DATA_OBJECT_DATAGRAM) {
		moq_session__fail(s, MOQ_SESSION_PROTOCOL_VIOLATION, "datagram",
				  "unknown or invalid datagram type 0x%llx",
				  (unsigned long long)type);
		return;
	}
	struct moq_object_datagram d;
	int rc = moq_object_datagram_decode(&d, p, n);
	if (rc < 0) {
		moq_session__fail(s, (uint64_t)moq_ctrl_err_to_session_code(rc), "OBJECT_DATAGRAM",
				  "%s (%zu bytes)", moq_strerror(rc), n);
		return;
	}
	struct moq_request *r = moq_session__alias_find(s->sub_alias, d.track_alias);
	if (r) {
		s->stats.datagrams_received++;
		if (s->cb && s->cb->on_datagram)
			s->cb->on_datagram(s, r, &d);
		return;
	}
	if (moq_session__tomb_has(s, d.track_alias) || s->n_held_dgrams >= MAX_HELD_DGRAMS) {
		s->stats.datagrams_dropped_unknown++;
		return;
	}
	struct held_dgram *h = malloc(sizeof(*h) + n);
	if (!h) {
		s->stats.datagrams_dropped_unknown++;
		return;
	}
	h->alias = d.track_alias;
	h->since = moq_loop_now();
	h->len = n;
	memcpy(h->data, p, n);
	/* append at the tail to keep arrival order */
	h->next = NULL;
	struct held_dgram **pp = &s->held_dgrams;
	while (*pp)
		pp = &(*pp)->next;
	*pp = h;
	s->n_held_dgrams++;
	moq_session__hk_arm(s);
}

void moq_session__dgram_match_alias(struct moq_session *s, struct moq_request *r)
{
	if (!r->alias_set || !r->alias_in_sub_table)
		return;
	struct held_dgram **pp = &s->held_dgrams;
	while (*pp) {
		struct held_dgram *h = *pp;
		if (h->alias != r->alias) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		s->n_held_dgrams--;
		struct moq_object_datagram d;
		if (moq_object_datagram_decode(&d, h->data, h->len) >= 0) {
			s->stats.datagrams_received++;
			if (s->cb && s->cb->on_datagram)
				s->cb->on_datagram(s, r, &d);
		}
		free(h);
		if (r->dead || moq_session__closing(s))
			return;
		pp = &s->held_dgrams; /* the list may have changed */
	}
}

void moq_session__data_housekeeping(struct moq_session *s, uint64_t now)
{
	uint64_t wait = hold_wait_ns(s);
	for (struct moq_rx *rx = s->rxs, *n; rx; rx = n) {
		n = rx->snext;
		if (rx->dead || !rx->holding || now - rx->hold_since < wait)
			continue;
		moq_info(MOD,
			 "session %s: data stream %lld: no subscription with "
			 "Track Alias %llu appeared; dropped",
			 s->name, (long long)rx->sid, (unsigned long long)rx->alias);
		s->stats.streams_dropped_unknown++;
		moq_session__rx_stop(rx, MOQ_RESET_CANCELLED);
	}
	struct held_dgram **pp = &s->held_dgrams;
	while (*pp) {
		struct held_dgram *h = *pp;
		if (now - h->since >= wait) {
			*pp = h->next;
			s->n_held_dgrams--;
			s->stats.datagrams_dropped_unknown++;
			free(h);
		} else {
			pp = &h->next;
		}
	}
}

/* ---- outgoing data streams ---------------------------------------------- */

static uint32_t tx_prio(const struct moq_tx *tx)
{
	const struct moq_request *r = tx->r;
	uint8_t subp = r ? r->info.subscriber_priority : 128;
	if (tx->fetch || !r)
		return moq_session_data_priority(subp, tx->pub_prio, 0, 0);
	uint64_t off = tx->group >= r->group_base ? tx->group - r->group_base : 0;
	if (off > 2047)
		off = 2047;
	uint32_t rank = r->info.group_order == MOQ_GROUP_ORDER_DESCENDING ? 2047u - (uint32_t)off
									  : (uint32_t)off;
	return moq_session_data_priority(subp, tx->pub_prio, rank, tx->subgroup);
}

/* r->txs holds the open streams and the finished ones whose data is not
 * acknowledged yet (they may still have bytes to send), so a new base or
 * subscriber priority reaches every stream that competes for the wire. */
void moq_session__tx_reprioritize(struct moq_request *r)
{
	struct moq_session *s = r->s;
	for (struct moq_tx *tx = r->txs; tx; tx = tx->rnext)
		if (!tx->broken)
			moq_quic_stream_set_priority(s->conn, tx->sid, tx_prio(tx));
}

/* Still has bytes queued that the group rank orders (unacknowledged, so
 * possibly unsent). */
static bool tx_pending(const struct moq_tx *tx)
{
	if (tx->broken || tx->fetch)
		return false;
	return !tx->finished || moq_quic_stream_buffered(tx->s->conn, tx->sid) > 0;
}

static void tx_detach_req(struct moq_tx *tx)
{
	struct moq_request *r = tx->r;
	if (!r)
		return;
	if (tx->rprev)
		tx->rprev->rnext = tx->rnext;
	else
		r->txs = tx->rnext;
	if (tx->rnext)
		tx->rnext->rprev = tx->rprev;
	tx->rnext = tx->rprev = NULL;
	tx->r = NULL;
}

void tx_kill(struct moq_tx *tx)
{
	struct moq_session *s = tx->s;
	if (tx->dead)
		return;
	tx->dead = true;
	tx_detach_req(tx);
	if (tx->sprev)
		tx->sprev->snext = tx->snext;
	else
		s->txs = tx->snext;
	if (tx->snext)
		tx->snext->sprev = tx->sprev;
	moq_timer_free(tx->timer);
	tx->timer = NULL;
	if (s->conn)
		moq_quic_stream_set_user(s->conn, tx->sid, &s->ignore);
	tx->gnext = s->grave_tx;
	s->grave_tx = tx;
}

void moq_session__tx_end_all(struct moq_request *r)
{
	struct moq_session *s = r->s;
	while (r->txs) {
		struct moq_tx *tx = r->txs;
		if (tx->app_done && !tx->broken) {
			/* finished: its queued data still goes out (and its
			 * delivery timer still runs) without the request */
			tx_detach_req(tx);
			continue;
		}
		if (!tx->finished && !tx->broken) {
			moq_session__stream_reset(s, tx->sid, MOQ_RESET_CANCELLED);
			tx->broken = true;
		}
		tx_kill(tx);
	}
}

static void tx_timeout(struct moq_tx *tx)
{
	struct moq_session *s = tx->s;
	moq_session__stream_reset(s, tx->sid, MOQ_RESET_DELIVERY_TIMEOUT);
	tx->broken = true;
	tx->in_object = false;
	s->stats.streams_reset_timeout++;
	moq_dbg(MOD, "session %s: stream %lld reset: delivery timeout", s->name,
		(long long)tx->sid);
	if (tx->app_done) {
		tx_kill(tx);
		return;
	}
	if (s->cb && s->cb->on_tx_timeout)
		s->cb->on_tx_timeout(s, tx);
}

static void tx_pop_acked(struct moq_tx *tx)
{
	struct moq_session *s = tx->s;
	if (!tx->mlen || !s->conn)
		return;
	size_t buffered = moq_quic_stream_buffered(s->conn, tx->sid);
	uint64_t acked = tx->written >= buffered ? tx->written - buffered : 0;
	while (tx->mlen && tx->marks[tx->mhead].end_off <= acked) {
		tx->mhead = (tx->mhead + 1) % tx->mcap;
		tx->mlen--;
	}
}

static void tx_arm(struct moq_tx *tx)
{
	uint64_t when = UINT64_MAX;
	if (tx->mlen)
		when = tx->marks[tx->mhead].deadline;
	if (tx->sg_deadline && tx->sg_deadline < when)
		when = tx->sg_deadline;
	if (tx->timer)
		moq_timer_set(tx->timer, when);
}

static void tx_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct moq_tx *tx = arg;
	struct moq_session *s = tx->s;
	(void)loop;
	(void)t;
	if (tx->dead || !s->conn || moq_session__closing(s))
		return;
	moq_session__enter(s);
	uint64_t now = moq_loop_now();
	tx_pop_acked(tx);
	size_t buffered = moq_quic_stream_buffered(s->conn, tx->sid);
	if (!tx->broken) {
		if (tx->mlen && tx->marks[tx->mhead].deadline <= now)
			tx_timeout(tx);
		else if (tx->finished && tx->sg_deadline && now >= tx->sg_deadline && buffered > 0)
			tx_timeout(tx);
	}
	if (!tx->dead) {
		if (tx->app_done && (tx->broken || buffered == 0))
			tx_kill(tx);
		else
			tx_arm(tx);
	}
	moq_session__leave(s);
}

static int tx_mark(struct moq_tx *tx, uint64_t end_off, uint64_t deadline)
{
	if (tx->mlen == tx->mcap) {
		size_t cap = tx->mcap ? tx->mcap * 2 : 16;
		struct txmark *m = malloc(cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		for (size_t i = 0; i < tx->mlen; i++)
			m[i] = tx->marks[(tx->mhead + i) % tx->mcap];
		free(tx->marks);
		tx->marks = m;
		tx->mcap = cap;
		tx->mhead = 0;
	}
	tx->marks[(tx->mhead + tx->mlen) % tx->mcap] = (struct txmark){end_off, deadline};
	tx->mlen++;
	if (tx->mlen == 1)
		tx_arm(tx);
	return 0;
}

static struct moq_tx *tx_new(struct moq_request *r, bool fetch, int *err)
{
	struct moq_session *s = r->s;
	int64_t sid = moq_session__open_uni(s);
	if (sid < 0) {
		*err = (int)sid;
		return NULL;
	}
	struct moq_tx *tx = calloc(1, sizeof(*tx));
	if (!tx) {
		moq_session__stream_reset(s, sid, MOQ_RESET_INTERNAL_ERROR);
		*err = -ENOMEM;
		return NULL;
	}
	tx->kind = SOBJ_TX;
	tx->s = s;
	tx->sid = sid;
	tx->fetch = fetch;
	tx->obj_timeout_ns = ms_ns(r->info.object_delivery_timeout);
	tx->sg_timeout_ns = ms_ns(r->info.subgroup_delivery_timeout);
	if (tx->obj_timeout_ns || tx->sg_timeout_ns) {
		tx->timer = moq_timer_new(s->loop, tx_timer_cb, tx);
		if (!tx->timer) {
			free(tx);
			moq_session__stream_reset(s, sid, MOQ_RESET_INTERNAL_ERROR);
			*err = -ENOMEM;
			return NULL;
		}
	}
	tx->snext = s->txs;
	if (s->txs)
		s->txs->sprev = tx;
	s->txs = tx;
	moq_quic_stream_set_user(s->conn, sid, tx);
	if (s->cfg.tx_buffer_low)
		moq_quic_stream_set_send_buffer_low(s->conn, sid, s->cfg.tx_buffer_low);
	s->stats.data_streams_opened++;
	r->streams_opened++;
	return tx;
}

static void tx_attach(struct moq_tx *tx, struct moq_request *r)
{
	tx->r = r;
	tx->rprev = NULL;
	tx->rnext = r->txs;
	if (r->txs)
		r->txs->rprev = tx;
	r->txs = tx;
}

static bool is_pub_sub(const struct moq_request *r)
{
	return (!r->local && r->type == MOQ_CTRL_SUBSCRIBE && r->state == MOQ_REQ_ESTABLISHED) ||
	       (r->local && r->type == MOQ_CTRL_PUBLISH);
}

struct moq_tx *moq_tx_subgroup_open(struct moq_request *r, const struct moq_subgroup_header *hdr,
				    int *err)
{
	int e = 0;
	struct moq_tx *tx = NULL;
	uint8_t buf[64];
	if (!err)
		err = &e;
	*err = 0;
	if (!r || !hdr || r->dead || !is_pub_sub(r)) {
		*err = -EINVAL;
		return NULL;
	}
	struct moq_session *s = r->s;
	if (moq_session__closing(s)) {
		*err = -ENOTCONN;
		return NULL;
	}
	if (!r->info.forward) {
		*err = -ECANCELED;
		return NULL;
	}
	struct moq_subgroup_header h = *hdr;
	h.track_alias = r->alias;
	int t = moq_subgroup_header_type(&h);
	if (t < 0) {
		*err = -EINVAL;
		return NULL;
	}
	h.type = (uint64_t)t;
	int n = moq_subgroup_header_encode(buf, sizeof(buf), &h);
	if (n < 0) {
		*err = -EINVAL;
		return NULL;
	}
	tx = tx_new(r, false, err);
	if (!tx)
		return NULL;
	moq_subgroup_ctx_init(&tx->sg, &h);
	tx->group = h.group_id;
	tx->subgroup = h.subgroup_id;
	tx->pub_prio = h.default_priority ? r->info.publisher_priority : h.publisher_priority;
	/* group rank base (see moq_session_data_priority) */
	bool reprio = false;
	if (!r->base_set) {
		r->group_base = h.group_id;
		r->base_set = true;
	} else if (h.group_id < r->group_base) {
		r->group_base = h.group_id;
		reprio = true;
	} else if (h.group_id - r->group_base > 2047) {
		/* rebase to the lowest group that still has data queued,
		 * finished streams included; if that is the current base the
		 * window cannot move and the new group takes the edge rank */
		uint64_t lo = h.group_id;
		for (struct moq_tx *o = r->txs; o; o = o->rnext)
			if (o->group < lo && tx_pending(o))
				lo = o->group;
		if (lo > r->group_base) {
			r->group_base = lo;
			reprio = true;
		}
	}
	tx_attach(tx, r);
	if (reprio)
		moq_session__tx_reprioritize(r);
	else
		moq_quic_stream_set_priority(s->conn, tx->sid, tx_prio(tx));
	moq_quic_stream_write(s->conn, tx->sid, buf, (size_t)n, 0);
	tx->written = (uint64_t)n;
	return tx;
}

struct moq_tx *moq_tx_fetch_open(struct moq_request *r, int *err)
{
	int e = 0;
	uint8_t buf[32];
	if (!err)
		err = &e;
	*err = 0;
	if (!r || r->dead || r->local || r->type != MOQ_CTRL_FETCH) {
		*err = -EINVAL;
		return NULL;
	}
	struct moq_session *s = r->s;
	if (moq_session__closing(s)) {
		*err = -ENOTCONN;
		return NULL;
	}
	struct moq_fetch_header fh = {.type = MOQ_STREAM_TYPE_FETCH_HEADER, .request_id = r->id};
	int n = moq_fetch_header_encode(buf, sizeof(buf), &fh);
	if (n < 0) {
		*err = -EINVAL;
		return NULL;
	}
	struct moq_tx *tx = tx_new(r, true, err);
	if (!tx)
		return NULL;
	moq_fetch_ctx_init(&tx->fc, r->info.group_order);
	tx->pub_prio = r->info.publisher_priority;
	tx_attach(tx, r);
	moq_quic_stream_set_priority(s->conn, tx->sid, tx_prio(tx));
	moq_quic_stream_write(s->conn, tx->sid, buf, (size_t)n, 0);
	tx->written = (uint64_t)n;
	return tx;
}

static int tx_usable(const struct moq_tx *tx)
{
	if (!tx || tx->dead || tx->app_done)
		return -EINVAL;
	if (!tx->s->conn || moq_session__closing(tx->s))
		return -ENOTCONN;
	if (tx->broken)
		return -EPIPE;
	return 0;
}

/* Reset on timeout from inside an API call: callbacks may end handles, so
 * hold the session's graveyard until we return. */
static int tx_timeout_in_api(struct moq_tx *tx)
{
	struct moq_session *s = tx->s;
	moq_session__enter(s);
	tx_timeout(tx);
	moq_session__leave(s);
	return -ETIMEDOUT;
}

int moq_tx_object_begin(struct moq_tx *tx, const struct moq_tx_object *o)
{
	int rc = tx_usable(tx);
	if (rc)
		return rc;
	if (!o || tx->in_object)
		return -EINVAL;
	struct moq_session *s = tx->s;
	uint64_t now = moq_loop_now();
	uint64_t first = o->first_byte_ns ? o->first_byte_ns : now;
	if (tx->obj_timeout_ns && now > first + tx->obj_timeout_ns)
		return tx_timeout_in_api(tx);
	int n;
	if (!tx->fetch) {
		struct moq_subgroup_object so;
		memset(&so, 0, sizeof(so));
		so.object_id = o->object_id;
		so.properties = o->properties;
		so.payload_length = o->payload_length;
		so.object_status = o->payload_length ? MOQ_OBJECT_STATUS_NORMAL : o->object_status;
		n = moq_subgroup_object_header_encode(s->scratch, MOQ_CTRL_MAX_FRAME, &tx->sg, &so);
	} else {
		struct moq_fetch_object fo;
		memset(&fo, 0, sizeof(fo));
		fo.group_id = o->group_id;
		fo.subgroup_id = o->subgroup_id;
		fo.object_id = o->object_id;
		fo.datagram = o->datagram;
		fo.publisher_priority = o->publisher_priority;
		fo.has_properties = o->properties.len > 0;
		fo.properties = o->properties;
		fo.payload_length = o->payload_length;
		int flags = moq_fetch_object_flags(&tx->fc, &fo);
		if (flags < 0)
			return -EINVAL;
		fo.serialization_flags = (uint64_t)flags;
		n = moq_fetch_object_header_encode(s->scratch, MOQ_CTRL_MAX_FRAME, &tx->fc, &fo);
		if (n >= 0 && o->publisher_priority != tx->pub_prio) {
			tx->pub_prio = o->publisher_priority;
			moq_quic_stream_set_priority(s->conn, tx->sid, tx_prio(tx));
		}
	}
	if (n < 0)
		return -EINVAL;
	rc = moq_quic_stream_write(s->conn, tx->sid, s->scratch, (size_t)n, 0);
	if (rc < 0)
		return rc;
	tx->written += (uint64_t)n;
	tx->in_object = o->payload_length > 0;
	tx->payload_left = o->payload_length;
	tx->obj_deadline = tx->obj_timeout_ns ? first + tx->obj_timeout_ns : 0;
	if (tx->obj_deadline)
		tx_mark(tx, tx->written + o->payload_length, tx->obj_deadline);
	s->stats.objects_sent++;
	return 0;
}

int moq_tx_fetch_end_of_range(struct moq_tx *tx, bool unknown, struct moq_location loc)
{
	int rc = tx_usable(tx);
	if (rc)
		return rc;
	if (!tx->fetch || tx->in_object)
		return -EINVAL;
	struct moq_session *s = tx->s;
	struct moq_fetch_object fo;
	memset(&fo, 0, sizeof(fo));
	fo.end_of_range = unknown ? MOQ_FETCH_UNKNOWN_RANGE : MOQ_FETCH_NON_EXISTENT_RANGE;
	fo.group_id = loc.group;
	fo.object_id = loc.object;
	int flags = moq_fetch_object_flags(&tx->fc, &fo);
	if (flags < 0)
		return -EINVAL;
	fo.serialization_flags = (uint64_t)flags;
	int n = moq_fetch_object_header_encode(s->scratch, MOQ_CTRL_MAX_FRAME, &tx->fc, &fo);
	if (n < 0)
		return -EINVAL;
	rc = moq_quic_stream_write(s->conn, tx->sid, s->scratch, (size_t)n, 0);
	if (rc < 0)
		return rc;
	tx->written += (uint64_t)n;
	return 0;
}

int moq_tx_payload(struct moq_tx *tx, const void *data, size_t len)
{
	int rc = tx_usable(tx);
	if (rc)
		return rc;
	if (len > tx->payload_left || (len && !tx->in_object))
		return -EINVAL;
	if (!len)
		return 0;
	if (tx->obj_deadline && moq_loop_now() > tx->obj_deadline)
		return tx_timeout_in_api(tx);
	rc = moq_quic_stream_write(tx->s->conn, tx->sid, data, len, 0);
	if (rc < 0)
		return rc;
	tx->written += len;
	tx->payload_left -= len;
	if (!tx->payload_left)
		tx->in_object = false;
	return 0;
}

int moq_tx_object(struct moq_tx *tx, const struct moq_tx_object *o, const void *payload)
{
	int rc = moq_tx_object_begin(tx, o);
	if (rc || !o->payload_length)
		return rc;
	return moq_tx_payload(tx, payload, (size_t)o->payload_length);
}

int moq_tx_finish(struct moq_tx *tx)
{
	if (!tx || tx->dead || tx->app_done)
		return -EINVAL;
	struct moq_session *s = tx->s;
	if (tx->broken) {
		tx_kill(tx);
		return -EPIPE;
	}
	if (tx->in_object)
		return -EINVAL;
	int rc = 0;
	if (s->conn && !moq_session__closing(s))
		rc = moq_quic_stream_write(s->conn, tx->sid, NULL, 0, 1);
	tx->finished = true;
	tx->app_done = true;
	struct moq_request *r = tx->r;
	/* A finished stream stays on r->txs until QUIC closes it (FIN
	 * acknowledged: tx_on_closed) or the request ends (tx_end_all), so
	 * that re-prioritizing reaches its unsent bytes. */
	if (r && tx->fetch && !r->dead) {
		r->fetch_data_done = true;
		if (r->fetch_ok_sent) {
			moq_session__req_send_fin(r);
			r->s->up->req_maybe_complete(r);
		}
	}
	if (tx->dead) {
		/* ended with its request */
	} else if (rc < 0 || !s->conn || moq_session__closing(s)) {
		tx_kill(tx);
	} else if (tx->sg_timeout_ns) {
		tx->sg_deadline = moq_loop_now() + tx->sg_timeout_ns;
		tx_arm(tx);
	}
	if (s->depth == 0)
		moq_session__reap_streams(s);
	return rc;
}

void moq_tx_reset(struct moq_tx *tx, uint64_t code)
{
	if (!tx || tx->dead)
		return;
	struct moq_session *s = tx->s;
	if (!tx->broken && s->conn && !moq_session__closing(s))
		moq_session__stream_reset(s, tx->sid, code);
	tx->broken = true;
	tx_kill(tx);
	if (s->depth == 0)
		moq_session__reap_streams(s);
}

void moq_session__tx_on_stopped(struct moq_tx *tx, uint64_t code)
{
	struct moq_session *s = tx->s;
	if (tx->dead)
		return;
	tx->broken = true;
	tx->in_object = false;
	if (tx->app_done) {
		tx_kill(tx);
		return;
	}
	if (s->cb && s->cb->on_tx_stopped)
		s->cb->on_tx_stopped(s, tx, code);
}

void moq_session__tx_on_closed(struct moq_tx *tx)
{
	if (tx->dead)
		return;
	if (tx->app_done)
		tx_kill(tx);
	else
		tx->broken = true;
}

void moq_session__tx_on_writable(struct moq_tx *tx)
{
	struct moq_session *s = tx->s;
	if (tx->dead)
		return;
	tx_pop_acked(tx);
	if (tx->timer)
		tx_arm(tx);
	if (!tx->app_done && !tx->broken && s->cb && s->cb->on_tx_writable)
		s->cb->on_tx_writable(s, tx);
}

struct moq_request *moq_tx_request(const struct moq_tx *tx)
{
	return tx->r;
}

int64_t moq_tx_stream_id(const struct moq_tx *tx)
{
	return tx->sid;
}

size_t moq_tx_buffered(const struct moq_tx *tx)
{
	if (!tx->s->conn)
		return 0;
	return moq_quic_stream_buffered(tx->s->conn, tx->sid);
}

void *moq_tx_user(const struct moq_tx *tx)
{
	return tx->user;
}

void moq_tx_set_user(struct moq_tx *tx, void *user)
{
	tx->user = user;
}

/* ---- outgoing datagrams ---------------------------------------------------- */

int moq_request_send_datagram(struct moq_request *r, const struct moq_object_datagram *d,
			      uint64_t first_byte_ns)
{
	if (!r || !d || r->dead || !is_pub_sub(r))
		return -EINVAL;
	struct moq_session *s = r->s;
	if (moq_session__closing(s) || !s->conn)
		return -ENOTCONN;
	if (!r->info.forward)
		return -ECANCELED;
	uint64_t to = r->info.object_delivery_timeout;
	if (r->info.subgroup_delivery_timeout && (!to || r->info.subgroup_delivery_timeout < to))
		to = r->info.subgroup_delivery_timeout;
	uint64_t now = moq_loop_now();
	if (to && first_byte_ns && now > first_byte_ns && now - first_byte_ns > ms_ns(to)) {
		s->stats.datagrams_dropped_timeout++;
		return -ETIMEDOUT;
	}
	struct moq_object_datagram dd = *d;
	dd.track_alias = r->alias;
	int n = moq_object_datagram_encode(s->scratch, MOQ_CTRL_MAX_FRAME, &dd);
	if (n < 0)
		return -EINVAL;
	int rc = moq_session__dgram_send(s, s->scratch, (size_t)n);
	if (rc < 0)
		return rc;
	s->stats.datagrams_sent++;
	s->stats.objects_sent++;
	return 0;
}

/* ---- rx accessors ---------------------------------------------------------- */

struct moq_request *moq_rx_request(const struct moq_rx *rx)
{
	return rx->r;
}

int64_t moq_rx_stream_id(const struct moq_rx *rx)
{
	return rx->sid;
}

void *moq_rx_user(const struct moq_rx *rx)
{
	return rx->user;
}

void moq_rx_set_user(struct moq_rx *rx, void *user)
{
	rx->user = user;
}

void moq_rx_stop(struct moq_rx *rx, uint64_t code)
{
	if (!rx || rx->dead)
		return;
	struct moq_session *s = rx->s;
	moq_session__rx_stop(rx, code);
	if (s->depth == 0)
		moq_session__reap_streams(s);
}

/* ---- teardown -------------------------------------------------------------- */

void moq_session__data_free_all(struct moq_session *s)
{
	while (s->rxs)
		moq_session__rx_kill(s->rxs);
	while (s->txs)
		tx_kill(s->txs);
	while (s->held_dgrams) {
		struct held_dgram *h = s->held_dgrams;
		s->held_dgrams = h->next;
		free(h);
	}
	s->n_held_dgrams = 0;
}
