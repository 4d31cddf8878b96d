/* moq-pub's data path: producing objects (synthetic or H.264), writing them
 * to each subscriber's subgroup streams or datagrams, the paced pump. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "media/cli.h"
#include "media/h264.h"
#include "media/payload.h"
#include "pub.h"

/* ---- data path ---------------------------------------------------------- */

static uint8_t subgroup_priority(const struct pub *p, uint64_t subgroup)
{
	unsigned v = p->priority + (unsigned)subgroup;
	return v > 255 ? 255 : (uint8_t)v;
}

/* Drop finished streams that are fully acknowledged; returns bytes still
 * unacknowledged on this subscription's streams. */
static size_t sub_buffered(struct sub *u)
{
	struct moq_quic_conn *c = moq_session_conn(u->s);
	size_t total = 0, k = 0;
	for (size_t i = 0; i < u->nfin; i++) {
		size_t b = c ? moq_quic_stream_buffered(c, u->fin_sid[i]) : 0;
		if (b) {
			total += b;
			u->fin_sid[k++] = u->fin_sid[i];
		}
	}
	u->nfin = k;
	for (size_t i = 0; i < MAX_SUBGROUPS; i++)
		if (u->tx[i])
			total += moq_tx_buffered(u->tx[i]);
	return total;
}

static int dgram_send(struct sub *u, struct moq_object_datagram *d, uint64_t born)
{
	int rc = moq_request_send_datagram(u->req, d, born);
	if (rc == -ENOBUFS) {
		/* keep it: sent again before anything newer */
		if (u->retry_cap < d->payload.len) {
			void *nb = realloc(u->retry, d->payload.len);
			if (!nb)
				return -ENOMEM;
			u->retry = nb;
			u->retry_cap = d->payload.len;
		}
		if (u->retry != d->payload.ptr)
			memcpy(u->retry, d->payload.ptr, d->payload.len);
		u->retry_len = d->payload.len;
		u->retry_d = *d;
		u->retry_d.payload.ptr = u->retry;
		u->retry_born = born;
		return rc;
	}
	u->retry_len = 0;
	return rc;
}

static bool sub_blocked(struct sub *u)
{
	if (u->t->datagram) {
		if (!u->retry_len)
			return false;
		int rc = dgram_send(u, &u->retry_d, u->retry_born);
		if (rc == -ENOBUFS)
			return true;
		if (rc < 0) {
			u->dgram_drops++;
			u->p->dgram_drops++;
		} else {
			u->objects++;
		}
		return false;
	}
	return u->nfin >= FIN_RING - MAX_SUBGROUPS || sub_buffered(u) > u->p->send_buffer;
}

static void sub_close_group(struct sub *u)
{
	for (size_t i = 0; i < MAX_SUBGROUPS; i++) {
		if (!u->tx[i])
			continue;
		int64_t sid = moq_tx_stream_id(u->tx[i]);
		moq_tx_finish(u->tx[i]);
		u->tx[i] = NULL;
		if (u->nfin < FIN_RING)
			u->fin_sid[u->nfin++] = sid;
	}
	u->have_group = false;
}

void pub_sub_unlink(struct sub *u)
{
	struct sub **pp = &u->t->subs;
	while (*pp && *pp != u)
		pp = &(*pp)->next;
	if (*pp)
		*pp = u->next;
}

/* Stop sending on u; PUBLISH_DONE(status) follows once its data is
 * acknowledged (drain_subs). */
static void sub_end(struct sub *u, uint64_t status)
{
	if (u->draining)
		return;
	sub_close_group(u);
	u->draining = true;
	u->done_status = status;
	u->drain_deadline = moq_loop_now() + (uint64_t)(u->p->linger * 1e9);
}

/* One object, to one subscription. */
struct obj {
	uint64_t group, subgroup, object;
	uint32_t group_objects;
	bool last_in_group;	/* largest object of the group */
	bool subgroup_has_last; /* this subgroup holds the largest object */
	const uint8_t *payload;
	size_t len;
	uint64_t born_ns;
};

static void sub_send(struct sub *u, const struct obj *o)
{
	struct pub *p = u->p;
	if (u->draining || moq_request_state(u->req) != MOQ_REQ_ESTABLISHED)
		return;
	struct moq_location loc = {o->group, o->object};
	if (moq_location_cmp(loc, u->start) < 0)
		return; /* before the filter's start */
	if (u->has_end && o->group > u->end_group) {
		/* AbsoluteRange done: end the subscription once acknowledged */
		sub_end(u, MOQ_PUBDONE_SUBSCRIPTION_ENDED);
		return;
	}
	if (u->t->datagram) {
		struct moq_object_datagram d = {0};
		d.group_id = o->group;
		d.object_id = o->object;
		d.zero_object_id = o->object == 0;
		d.publisher_priority = subgroup_priority(p, 0);
		d.end_of_group = o->last_in_group;
		d.payload.ptr = o->payload;
		d.payload.len = o->len;
		int rc = dgram_send(u, &d, o->born_ns);
		if (rc == -ENOBUFS)
			return; /* kept for retry; the track waits */
		if (rc < 0) {
			u->dgram_drops++;
			p->dgram_drops++;
			moq_dbg("pub", "datagram %llu/%llu not sent: %s",
				(unsigned long long)o->group, (unsigned long long)o->object,
				strerror(-rc));
			return;
		}
		u->objects++;
		return;
	}
	if (u->have_group && u->group != o->group)
		sub_close_group(u);
	struct moq_tx *tx = u->tx[o->subgroup];
	if (!tx) {
		struct moq_subgroup_header h = {0};
		h.group_id = o->group;
		h.subgroup_id = o->subgroup;
		h.subgroup_id_known = true;
		h.subgroup_id_mode = o->subgroup ? MOQ_SUBGROUP_ID_PRESENT : MOQ_SUBGROUP_ID_ZERO;
		h.publisher_priority = subgroup_priority(p, o->subgroup);
		h.end_of_group = o->subgroup_has_last;
		int err = 0;
		tx = moq_tx_subgroup_open(u->req, &h, &err);
		if (!tx) {
			/* -EAGAIN (stream limit) should not happen with the
			 * back pressure above; anything else ends the sub */
			moq_warn("pub", "track %s: cannot open subgroup stream (group %llu): %s",
				 u->t->name, (unsigned long long)o->group, strerror(-err));
			return;
		}
		moq_tx_set_user(tx, u);
		u->tx[o->subgroup] = tx;
		u->group = o->group;
		u->have_group = true;
	}
	struct moq_tx_object to = {0};
	to.group_id = o->group;
	to.subgroup_id = o->subgroup;
	to.object_id = o->object;
	to.publisher_priority = subgroup_priority(p, o->subgroup);
	to.payload_length = o->len;
	to.first_byte_ns = o->born_ns;
	int rc = moq_tx_object(tx, &to, o->payload);
	if (rc < 0) {
		moq_dbg("pub", "track %s: object %llu/%llu not written: %s", u->t->name,
			(unsigned long long)o->group, (unsigned long long)o->object, strerror(-rc));
		moq_tx_reset(tx, MOQ_RESET_INTERNAL_ERROR);
		u->tx[o->subgroup] = NULL;
		return;
	}
	u->objects++;
	if (o->last_in_group)
		sub_close_group(u);
}

static bool track_source_done(struct pub *p, struct track *t, uint64_t now)
{
	if (p->count && t->produced >= p->count)
		return true;
	if (p->duration > 0 && now - t->t0 >= (uint64_t)(p->duration * 1e9))
		return true;
	if (pub_h264_mode(p) && !p->loop_file && t->h264_pos >= p->ix.n_aus)
		return true;
	return false;
}

static void track_end(struct pub *p, struct track *t)
{
	if (t->ended)
		return;
	t->ended = true;
	moq_info("pub", "track %s ended after %llu objects", t->name,
		 (unsigned long long)t->produced);
	for (struct sub *u = t->subs; u; u = u->next) {
		struct moq_quic_conn *qc = moq_session_conn(u->s);
		if (qc && moq_log_enabled(MOQ_LOG_INFO)) {
			struct moq_quic_conn_stats cs;
			moq_quic_conn_stats(qc, &cs);
			moq_info("pub",
				 "%s: srtt %.3f ms, min rtt %.3f ms, cwnd %llu, in flight %llu, "
				 "%llu packets sent",
				 moq_session_name(u->s), cs.srtt_ns / 1e6, cs.min_rtt_ns / 1e6,
				 (unsigned long long)cs.cwnd,
				 (unsigned long long)cs.bytes_in_flight,
				 (unsigned long long)cs.pkts_sent);
		}
		sub_end(u, MOQ_PUBDONE_TRACK_ENDED);
	}
	pub_pump_soon(p, 0);
}

/* Produce the next object of t into p->buf and fan it out. */
static void track_produce(struct pub *p, struct track *t)
{
	uint64_t now = moq_loop_now();
	struct moq_payload_hdr h = {0};
	struct obj o = {0};
	h.seq = t->produced;
	if (pub_h264_mode(p)) {
		size_t n = p->ix.n_aus;
		size_t i = (size_t)(t->h264_pos % n);
		const struct moq_h264_au *au = &p->ix.aus[i];
		/* which GOP: binary search would do; GOPs are few */
		size_t g = 0;
		while (g + 1 < p->ix.n_gops && p->ix.gop_start[g + 1] <= i)
			g++;
		size_t gop_len = moq_h264_index_gop_len(&p->ix, g);
		uint64_t k = i - p->ix.gop_start[g];
		if (k == 0 && t->h264_pos)
			t->group++;
		o.group = t->group;
		o.object = k;
		o.subgroup = k == 0 ? 0 : 1;
		o.group_objects = (uint32_t)gop_len;
		o.last_in_group = k + 1 == gop_len;
		o.subgroup_has_last = gop_len == 1 ? o.subgroup == 0 : o.subgroup == 1;
		h.kind = MOQ_PAYLOAD_H264;
		h.flags = au->idr ? MOQ_PAYLOAD_F_KEYFRAME : 0;
		h.total_len = (uint32_t)(MOQ_PAYLOAD_HDR_LEN + au->len);
		memcpy(p->buf + MOQ_PAYLOAD_HDR_LEN, p->file + au->off, au->len);
		t->h264_pos++;
	} else {
		uint64_t k = t->obj;
		uint64_t n = p->objects_per_group;
		uint64_t s = t->datagram ? 1 : p->subgroups;
		o.group = t->group;
		o.object = k;
		o.subgroup = t->datagram ? 0 : k % s;
		o.group_objects = (uint32_t)n;
		o.last_in_group = k + 1 == n;
		o.subgroup_has_last = o.subgroup == (n - 1) % s;
		h.kind = MOQ_PAYLOAD_SYNTHETIC;
		h.total_len = (uint32_t)p->object_size;
		moq_payload_fill(p->buf + MOQ_PAYLOAD_HDR_LEN, p->object_size - MOQ_PAYLOAD_HDR_LEN,
				 h.seq);
		if (++t->obj == n) {
			t->obj = 0;
			t->group++;
		}
	}
	if (o.last_in_group)
		h.flags |= MOQ_PAYLOAD_F_END_OF_GROUP;
	h.group_objects = o.group_objects;
	h.group_id = o.group;
	h.object_id = o.object;
	h.subgroup_id = (uint32_t)o.subgroup;
	h.mono_ns = now;
	h.real_ns = moq_cli_realtime_ns();
	moq_payload_seal(p->buf, &h);
	t->has_largest = true;
	t->largest.group = o.group;
	t->largest.object = o.object;
	o.payload = p->buf;
	o.len = h.total_len;
	o.born_ns = now;
	t->produced++;
	for (struct sub *u = t->subs; u; u = u->next)
		sub_send(u, &o);
	p->objects_sent++;
	p->bytes_sent += o.len;
}

static uint64_t interval_ns(const struct pub *p)
{
	double r = pub_h264_mode(p) ? p->fps : p->rate;
	return r > 0 ? (uint64_t)(1e9 / r) : 0;
}

/* Drain: PUBLISH_DONE once a subscription's data is acknowledged. */
static void drain_subs(struct pub *p, struct track *t, uint64_t now, bool *pending)
{
	struct sub *u = t->subs;
	while (u) {
		struct sub *next = u->next;
		if (u->draining) {
			size_t b = sub_buffered(u);
			if (u->t->datagram && sub_blocked(u))
				b = u->retry_len;
			if (b && now < u->drain_deadline) {
				*pending = true;
			} else {
				if (b)
					moq_warn("pub",
						 "track %s: %zu bytes still unacknowledged "
						 "after --linger; ending the subscription",
						 t->name, b);
				pub_sub_unlink(u);
				moq_request_set_user(u->req, NULL);
				moq_request_publish_done(u->req, u->done_status,
							 u->done_status == MOQ_PUBDONE_TRACK_ENDED
							     ? "track ended"
							     : "subscription range ended");
				free(u->retry);
				free(u);
			}
		}
		u = next;
	}
}

void pub_pump_cb(struct moq_loop *loop, struct moq_timer *tm, void *arg)
{
	struct pub *p = arg;
	uint64_t now = moq_loop_now();
	uint64_t next = UINT64_MAX;
	uint64_t iv = interval_ns(p);
	bool pending = false;
	for (size_t i = 0; i < p->ntracks; i++) {
		struct track *t = &p->tracks[i];
		if (!t->started)
			continue;
		if (!t->ended) {
			bool blocked = false;
			for (unsigned n = 0; n < BURST; n++) {
				if (track_source_done(p, t, now)) {
					track_end(p, t);
					break;
				}
				if (iv) {
					uint64_t due = t->t0 + t->produced * iv;
					if (due > now) {
						if (due < next)
							next = due;
						break;
					}
				}
				/* scanning unacknowledged streams costs more than a
				 * small object: check every 16 objects (datagram
				 * tracks each time, to resend a kept datagram first) */
				if (t->datagram || n % 16 == 0)
					for (struct sub *u = t->subs; u; u = u->next)
						if (sub_blocked(u))
							blocked = true;
				if (blocked)
					break;
				track_produce(p, t);
			}
			if (!t->ended) {
				uint64_t due = iv ? t->t0 + t->produced * iv : now;
				if (blocked)
					pending = true; /* poll for acks */
				else if (due <= now)
					next = now; /* more due right away */
				else if (due < next)
					/* a full BURST that caught up exactly: the
					 * loop above never saw the next due time, and
					 * without this the pump never ran again */
					next = due;
				if (p->duration > 0) {
					uint64_t end = t->t0 + (uint64_t)(p->duration * 1e9);
					if (end < next)
						next = end;
				}
			}
		}
		drain_subs(p, t, now, &pending);
	}
	if (pending && next > now + 1000000)
		next = now + 1000000;
	if (next != UINT64_MAX)
		moq_timer_set(tm, next);
	(void)loop;
	pub_maybe_finish(p);
}

void pub_pump_soon(struct pub *p, uint64_t delay_ns)
{
	uint64_t when = moq_loop_now() + delay_ns;
	uint64_t cur = moq_timer_when(p->pump);
	if (cur == UINT64_MAX || when < cur)
		moq_timer_set(p->pump, when);
}
