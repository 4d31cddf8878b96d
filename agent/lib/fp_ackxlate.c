/* fp_ackxlate: ACK translation and frame hiding for received 1-RTT packets
 * (see fp_ackxlate.h and docs/fast-path-agent.md). */
#include "fp_ackxlate.h"

#include <string.h>

#include "moq_err.h"
#include "quic/quic.h"
#include "varint.h"

void fp_ackx_init(struct fp_ackx *x, struct fp_pnspace *ps, size_t dcidlen,
		  const struct fp_ackx_ops *ops, void *user)
{
	static const struct fp_ackx_ops none;

	memset(x, 0, offsetof(struct fp_ackx, wire));
	x->ps = ps;
	x->dcidlen = dcidlen;
	x->ops = ops ? ops : &none;
	x->user = user;
}

void fp_ackx_set_flow(struct fp_ackx *x, uint64_t initial_max_data, uint64_t ng_window)
{
	if (initial_max_data > x->peer_max_data)
		x->peer_max_data = initial_max_data;
	if (initial_max_data > x->ng_max_data)
		x->ng_max_data = initial_max_data;
	x->ng_window = ng_window;
}

void fp_ackx_set_ng_used(struct fp_ackx *x, uint64_t used)
{
	x->ng_used = used;
}

int fp_ackx_ng_tx_moved(struct fp_ackx *x, uint64_t ng_pkts)
{
	/* stored + 1, so that the zeroed state differs from every count */
	if (x->ng_tx_seen == ng_pkts + 1)
		return 0;
	x->ng_tx_seen = ng_pkts + 1;
	return 1;
}

uint64_t fp_ackx_unallocated(const struct fp_ackx *x)
{
	uint64_t owned = x->ng_max_data + x->media_reserved;
	return x->peer_max_data > owned ? x->peer_max_data - owned : 0;
}

uint64_t fp_ackx_media_reserve(struct fp_ackx *x, uint64_t want)
{
	uint64_t free = fp_ackx_unallocated(x);
	uint64_t n = want < free ? want : free;

	x->media_reserved += n;
	return n;
}

const char *fp_ackx_reason_str(int r)
{
	static const char *const s[FP_ACKX_R_MAX] = {
	    [FP_ACKX_OK] = "ok",
	    [FP_ACKX_E_SHORT] = "packet shorter than header + frame + tag",
	    [FP_ACKX_E_HEADER] = "not a short header with a 4-byte packet number",
	    [FP_ACKX_E_TOO_BIG] = "packet larger than the translator's buffer",
	    [FP_ACKX_E_FRAME] = "malformed frame (runs past the payload)",
	    [FP_ACKX_E_UNKNOWN_FRAME] = "frame type not allowed in 1-RTT",
	    [FP_ACKX_E_ACK_RANGE] = "ACK range below packet number 0",
	    [FP_ACKX_E_ACK_LIMIT] = "too many ACK ranges",
	    [FP_ACKX_E_ACK_UNSENT] = "ACK of a packet number never sent",
	};
	if (r < 0)
		r = -r;
	return r < FP_ACKX_R_MAX ? s[r] : "unknown";
}

/* ---- parsing (bounds-checked) ------------------------------------------ */

static int rd(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	int n;

	if (*p >= end)
		return -1;
	n = quic_varint_decode(v, *p, (size_t)(end - *p));
	if (n <= 0)
		return -1;
	*p += n;
	return 0;
}

struct ack {
	uint64_t type, largest, delay, ecn[3];
	size_t nranges;
};

/* Decode an ACK frame at p (type already known); ranges into r[]. Returns
 * the frame length or -reason. */
static int ack_decode(struct ack *a, struct fp_pn_range *r, const uint8_t *in, const uint8_t *end,
		      uint64_t next_pn)
{
	const uint8_t *p = in;
	uint64_t cnt, first, lo;

	if (rd(&p, end, &a->type) || rd(&p, end, &a->largest) || rd(&p, end, &a->delay) ||
	    rd(&p, end, &cnt) || rd(&p, end, &first))
		return -FP_ACKX_E_FRAME;
	if (cnt >= FP_ACKX_MAX_RANGES)
		return -FP_ACKX_E_ACK_LIMIT;
	if (first > a->largest)
		return -FP_ACKX_E_ACK_RANGE;
	lo = a->largest - first;
	r[0].hi = a->largest;
	r[0].lo = lo;
	for (uint64_t i = 1; i <= cnt; i++) {
		uint64_t gap, len, hi;
		if (rd(&p, end, &gap) || rd(&p, end, &len))
			return -FP_ACKX_E_FRAME;
		/* next largest = smallest - gap - 2 (RFC 9000 19.3.1) */
		if (lo < 2 || gap > lo - 2)
			return -FP_ACKX_E_ACK_RANGE;
		hi = lo - gap - 2;
		if (len > hi)
			return -FP_ACKX_E_ACK_RANGE;
		lo = hi - len;
		r[i].hi = hi;
		r[i].lo = lo;
	}
	a->nranges = (size_t)cnt + 1;
	if (a->type == 0x03) {
		for (int i = 0; i < 3; i++)
			if (rd(&p, end, &a->ecn[i]))
				return -FP_ACKX_E_FRAME;
	}
	if (a->largest >= next_pn)
		return -FP_ACKX_E_ACK_UNSENT;
	return (int)(p - in);
}

/* Parse one frame: its length, or -reason. */
static int frame_len(struct fp_ackx *x, const uint8_t *p, const uint8_t *end, uint64_t *type,
		     uint64_t next_pn)
{
	struct moq_quic_frame f;
	const uint8_t *q = p;
	int n;

	if (rd(&q, end, type))
		return -FP_ACKX_E_FRAME;
	if (*type == 0x02 || *type == 0x03) {
		struct ack a;
		return ack_decode(&a, x->wire, p, end, next_pn);
	}
	n = moq_quic_frame_parse(&f, p, end);
	if (n == MOQ_ERR_UNKNOWN_TYPE)
		return -FP_ACKX_E_UNKNOWN_FRAME;
	if (n <= 0)
		return -FP_ACKX_E_FRAME;
	/* Long-header-only frames never appear in 1-RTT here; CRYPTO is
	 * allowed by RFC 9000 (key updates / NEW_TOKEN) and passed on. */
	return n;
}

/* ---- ACK translation ----------------------------------------------------- */

/* ngtcp2 ranges as spans of deque indices (consecutive ngtcp2 numbers are
 * adjacent deque entries because both numberings grow together). */
struct span {
	size_t ilo, ihi; /* deque indices, inclusive */
};

static size_t collect_spans(struct fp_pnspace *ps, const struct fp_pn_range *r, size_t nr,
			    struct span *sp, size_t maxsp)
{
	size_t ns = 0;

	for (size_t k = 0; k < nr; k++) {
		size_t j = fp_pnspace_lower_bound(ps, r[k].hi + 1);
		while (j > 0 && fp_pnspace_at(ps, j - 1)->wire >= r[k].lo) {
			size_t e = j - 1;
			if (ns && sp[ns - 1].ilo == e + 1 &&
			    fp_pnspace_at(ps, e)->ng + 1 == fp_pnspace_at(ps, e + 1)->ng) {
				sp[ns - 1].ilo = e;
			} else {
				if (ns == maxsp)
					return ns;
				sp[ns].ilo = sp[ns].ihi = e;
				ns++;
			}
			j--;
		}
	}
	return ns;
}

static size_t vlen(uint64_t v)
{
	return quic_varint_len(v);
}

/* Write the translated ACK at out (at most budget bytes). Returns bytes
 * written (0: nothing of ngtcp2's, or no room: caller pads). */
static size_t ack_encode(struct fp_ackx *x, uint8_t *out, size_t budget, const struct ack *a,
			 const struct span *sp, size_t ns, int *truncated)
{
	struct fp_pnspace *ps = x->ps;
	uint64_t largest = fp_pnspace_at(ps, sp[0].ihi)->ng;
	uint64_t first = largest - fp_pnspace_at(ps, sp[0].ilo)->ng;
	size_t ecn = 0, need, o = 0, k;

	if (a->type == 0x03)
		ecn = vlen(a->ecn[0]) + vlen(a->ecn[1]) + vlen(a->ecn[2]);
	/* type(1) largest delay count(1: < 64 ranges) first */
	need = 1 + vlen(largest) + vlen(a->delay) + 1 + vlen(first) + ecn;
	if (need > budget) {
		*truncated = 1;
		return 0;
	}
	/* how many additional ranges fit */
	for (k = 1; k < ns; k++) {
		uint64_t plo = fp_pnspace_at(ps, sp[k - 1].ilo)->ng;
		uint64_t hi = fp_pnspace_at(ps, sp[k].ihi)->ng,
			 lo = fp_pnspace_at(ps, sp[k].ilo)->ng;
		size_t add = vlen(plo - hi - 2) + vlen(hi - lo);
		if (need + add > budget)
			break;
		need += add;
	}
	if (k < ns)
		*truncated = 1;
	ns = k;
	out[o++] = (uint8_t)a->type;
	o += (size_t)quic_varint_encode(out + o, budget - o, largest);
	o += (size_t)quic_varint_encode(out + o, budget - o, a->delay);
	out[o++] = (uint8_t)(ns - 1);
	o += (size_t)quic_varint_encode(out + o, budget - o, first);
	for (k = 1; k < ns; k++) {
		uint64_t plo = fp_pnspace_at(ps, sp[k - 1].ilo)->ng;
		uint64_t hi = fp_pnspace_at(ps, sp[k].ihi)->ng,
			 lo = fp_pnspace_at(ps, sp[k].ilo)->ng;
		o += (size_t)quic_varint_encode(out + o, budget - o, plo - hi - 2);
		o += (size_t)quic_varint_encode(out + o, budget - o, hi - lo);
	}
	if (a->type == 0x03)
		for (int i = 0; i < 3; i++)
			o += (size_t)quic_varint_encode(out + o, budget - o, a->ecn[i]);
	for (k = 0; k < ns; k++)
		for (size_t e = sp[k].ilo; e <= sp[k].ihi; e++)
			fp_pnspace_mark_acked(ps, e);
	return o;
}

/* ---- connection flow control --------------------------------------------- */

/* ngtcp2's limit: all credit the media plane has not reserved, capped at
 * its use + ng_window. */
static uint64_t ng_target(const struct fp_ackx *x)
{
	uint64_t t =
	    x->peer_max_data > x->media_reserved ? x->peer_max_data - x->media_reserved : 0;
	if (x->ng_window && t > x->ng_used + x->ng_window)
		t = x->ng_used + x->ng_window;
	return t;
}

/* Credit for ngtcp2 that no MAX_DATA from the peer will bring (the peer
 * already granted it; it went to ngtcp2's share later, e.g. when ng_used
 * grew): worth a synthetic MAX_DATA when ngtcp2 is blocked or the raise is
 * at least FP_ACKX_INJECT_MIN. */
static int raise_due(const struct fp_ackx *x, uint64_t *target)
{
	*target = ng_target(x);
	if (*target <= x->ng_max_data)
		return 0;
	return x->ng_used >= x->ng_max_data || *target - x->ng_max_data >= FP_ACKX_INJECT_MIN;
}

int fp_ackx_raise_pending(const struct fp_ackx *x)
{
	uint64_t target;

	return raise_due(x, &target);
}

/* ---- the packet ------------------------------------------------------------ */

/* Hide a frame ngtcp2 must not see (fl >= 2 bytes): a PING and padding in
 * its place. The peer sent an ack-eliciting packet and waits for its ACK;
 * padding alone would leave ngtcp2 a packet it need not acknowledge, and a
 * subscriber whose MAX_STREAM_DATA packets go unacknowledged fills its
 * congestion window and then sends them only in PTO probes, backing off. */
static void hide_frame(uint8_t *out, size_t fl)
{
	out[0] = 0x01;
	memset(out + 1, 0, fl - 1);
}

static int validate(struct fp_ackx *x, const uint8_t *pkt, size_t len, uint64_t next_pn)
{
	const uint8_t *p = pkt + 1 + x->dcidlen + MOQ_PN_LEN, *end = pkt + len - MOQ_TAG_LEN;

	while (p < end) {
		uint64_t type;
		int n = frame_len(x, p, end, &type, next_pn);
		if (n < 0)
			return n;
		p += n;
	}
	return 0;
}

int fp_ackx_packet(struct fp_ackx *x, uint8_t *pkt, size_t *len, size_t cap)
{
	size_t hdr = 1 + x->dcidlen + MOQ_PN_LEN, L = *len, o, lim;
	const uint8_t *p, *end;
	uint64_t next_pn = x->ps ? fp_pnspace_next(x->ps) : UINT64_MAX;
	struct span sp[FP_ACKX_NG_MAX_RANGES];
	int rv;

	if (!pkt || L < hdr + 1 + MOQ_TAG_LEN)
		rv = -FP_ACKX_E_SHORT;
	else if ((pkt[0] & 0x80) || (pkt[0] & 0x03) != 3)
		rv = -FP_ACKX_E_HEADER;
	else if (L > FP_ACKX_MAX_PKT || cap < L)
		rv = -FP_ACKX_E_TOO_BIG;
	else
		rv = validate(x, pkt, L, next_pn);
	if (rv < 0) {
		x->st.rejected[-rv]++;
		return rv;
	}
	/* pass 2: nothing below can fail */
	lim = cap < FP_ACKX_MAX_PKT ? cap : FP_ACKX_MAX_PKT;
	memcpy(x->out, pkt, hdr);
	o = hdr;
	p = pkt + hdr;
	end = pkt + L - MOQ_TAG_LEN;
	while (p < end) {
		uint64_t type, v1 = 0, v2 = 0;
		const uint8_t *q = p;
		int n = frame_len(x, p, end, &type, next_pn);
		size_t fl = (size_t)n;

		if (type == 0x02 || type == 0x03) {
			struct ack a;
			struct fp_wire_ack wa;
			size_t ns = 0, budget, w = 0;
			int trunc = 0;

			ack_decode(&a, x->wire, p, end, next_pn);
			x->st.acks++;
			wa.largest = a.largest;
			wa.ack_delay_raw = a.delay;
			wa.nranges = a.nranges;
			wa.ranges = x->wire;
			wa.has_ecn = a.type == 0x03;
			memcpy(wa.ecn, a.ecn, sizeof(wa.ecn));
			if (x->ops->on_media_ack)
				x->ops->on_media_ack(x->user, &wa);
			if (x->ps)
				ns = collect_spans(x->ps, x->wire, a.nranges, sp,
						   FP_ACKX_NG_MAX_RANGES);
			/* room: what is left of lim after the rest of the input */
			budget = lim - o - (size_t)(end - (p + fl)) - MOQ_TAG_LEN;
			if (ns)
				w = ack_encode(x, x->out + o, budget, &a, sp, ns, &trunc);
			if (trunc)
				x->st.acks_truncated++;
			if (w)
				x->st.acks_translated++;
			else
				x->st.acks_padded++;
			o += w;
			if (w < fl) {
				memset(x->out + o, 0, fl - w);
				o += fl - w;
			}
			p += fl;
			continue;
		}
		if (type == 0x05 || type == 0x11) {
			rd(&q, end, &type);
			rd(&q, end, &v1);
			rd(&q, end, &v2);
			if (x->ops->is_media_stream && x->ops->is_media_stream(x->user, v1)) {
				if (type == 0x05) {
					x->st.hidden_stop_sending++;
					if (x->ops->on_stop_sending)
						x->ops->on_stop_sending(x->user, v1, v2);
				} else {
					x->st.hidden_max_stream_data++;
					if (x->ops->on_max_stream_data)
						x->ops->on_max_stream_data(x->user, v1, v2);
				}
				hide_frame(x->out + o, fl);
				o += fl;
				p += fl;
				continue;
			}
		} else if (type == 0x13) {
			rd(&q, end, &type);
			rd(&q, end, &v1);
			if (x->ops->on_max_streams_uni)
				x->ops->on_max_streams_uni(x->user, v1);
		} else if (type == 0x10) {
			uint64_t target, wmax;
			size_t tl = quic_varint_len_from_first(*p), vw;

			rd(&q, end, &type);
			vw = quic_varint_len_from_first(*q);
			rd(&q, end, &v1);
			if (v1 > x->peer_max_data)
				x->peer_max_data = v1;
			target = ng_target(x);
			wmax = vw == 8 ? QUIC_VARINT_MAX : ((uint64_t)1 << (8 * vw - 2)) - 1;
			if (target > wmax)
				target = wmax;
			if (target > x->ng_max_data) {
				x->ng_max_data = target;
				memcpy(x->out + o, p, tl);
				quic_varint_encode_width(x->out + o + tl, vw, target, vw);
				x->st.max_data_rewritten++;
			} else {
				hide_frame(x->out + o, fl);
				x->st.max_data_padded++;
			}
			o += fl;
			p += fl;
			continue;
		}
		memcpy(x->out + o, p, fl);
		o += fl;
		p += fl;
	}
	{
		uint64_t target;
		if (raise_due(x, &target) && lim - o - MOQ_TAG_LEN >= 1 + vlen(target)) {
			x->out[o++] = 0x10;
			o += (size_t)quic_varint_encode(x->out + o, lim - o, target);
			x->ng_max_data = target;
			x->st.max_data_injected++;
		}
	}
	memcpy(x->out + o, end, MOQ_TAG_LEN);
	o += MOQ_TAG_LEN;
	memcpy(pkt, x->out, o);
	*len = o;
	if (x->ps)
		fp_pnspace_release_acked(x->ps);
	x->st.packets++;
	return 0;
}
