/* libFuzzer target: the streaming data reader on a subgroup, fetch or
 * padding stream.
 *
 * Input: [opts][seed] then the stream bytes. opts bit 0 selects descending
 * fetch group order, bit 1 a small properties limit. Properties checked:
 *  - feeding the stream in random pieces (seeded) gives the same events and
 *    the same final result as feeding it whole;
 *  - every event view lies inside the piece just fed or the reader buffer;
 *  - a complete stream, re-encoded from its events with the encoders,
 *    decodes to the same events (round trip). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_reader.h"
#include "moq_err.h"

#define BUF_SIZE MOQ_DATA_READER_BUF_SIZE(MOQ_MAX_OBJECT_PROPERTIES)
static uint8_t rbuf[BUF_SIZE];

struct digest {
	uint64_t h;
	uint64_t events;
};

static void dg_bytes(struct digest *d, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		d->h ^= b[i];
		d->h *= 0x100000001b3ull;
	}
}

static void dg_u64(struct digest *d, uint64_t v)
{
	dg_bytes(d, &v, sizeof(v));
}

/* Collected events for re-encoding. */
struct item {
	uint8_t type;
	struct moq_subgroup_object so;
	struct moq_fetch_object fo;
	size_t pay_off; /* into the payload store */
};

struct collect {
	struct moq_subgroup_header sh;
	struct moq_fetch_header fh;
	uint8_t stream;
	struct item *items;
	size_t nitems, cap;
	uint8_t *store; /* properties and payloads, copied */
	size_t slen, scap;
};

static size_t store(struct collect *c, const uint8_t *p, size_t n)
{
	size_t at = c->slen;
	if (c->slen + n > c->scap)
		abort();
	if (n)
		memcpy(c->store + c->slen, p, n);
	c->slen += n;
	return at;
}

static void check_view(struct moq_bytes b, const uint8_t *piece, size_t plen)
{
	if (!b.len)
		return;
	bool in_piece = b.ptr >= piece && b.ptr + b.len <= piece + plen;
	bool in_buf = b.ptr >= rbuf && b.ptr + b.len <= rbuf + sizeof(rbuf);
	if (!in_piece && !in_buf)
		abort();
}

static void on_event(struct digest *d, struct collect *c, const struct moq_data_event *ev,
		     const uint8_t *piece, size_t plen)
{
	const struct moq_subgroup_object *so = &ev->subgroup_object;
	const struct moq_fetch_object *fo = &ev->fetch_object;
	struct item *it;

	if (ev->type != MOQ_DATA_EV_PAYLOAD) { /* chunking depends on the split */
		d->events++;
		dg_u64(d, ev->type);
	}
	switch (ev->type) {
	case MOQ_DATA_EV_HEADER:
		dg_u64(d, ev->stream_type);
		dg_u64(d, ev->subgroup.track_alias);
		dg_u64(d, ev->subgroup.group_id);
		dg_u64(d, ev->subgroup.subgroup_id);
		dg_u64(d, ev->subgroup.publisher_priority);
		dg_u64(d, ev->fetch.request_id);
		if (c) {
			c->stream = ev->stream;
			c->sh = ev->subgroup;
			c->fh = ev->fetch;
		}
		break;
	case MOQ_DATA_EV_OBJECT:
	case MOQ_DATA_EV_END_OF_RANGE:
		check_view(so->properties, piece, plen);
		check_view(fo->properties, piece, plen);
		if (ev->stream == MOQ_DATA_SUBGROUP_HEADER) {
			dg_u64(d, ev->subgroup.subgroup_id);
			dg_u64(d, so->object_id);
			dg_u64(d, so->object_status);
			dg_u64(d, so->payload_length);
			dg_bytes(d, so->properties.ptr, so->properties.len);
			moq_object_properties_check(so->properties.ptr, so->properties.len);
		} else {
			dg_u64(d, fo->end_of_range);
			dg_u64(d, fo->group_id);
			dg_u64(d, fo->object_id);
			dg_u64(d, fo->subgroup_id);
			dg_u64(d, fo->datagram);
			dg_u64(d, fo->publisher_priority);
			dg_u64(d, fo->has_properties);
			dg_u64(d, fo->payload_length);
			dg_bytes(d, fo->properties.ptr, fo->properties.len);
		}
		if (!c)
			break;
		if (c->nitems == c->cap)
			abort();
		it = &c->items[c->nitems++];
		it->type = ev->type;
		it->so = *so;
		it->fo = *fo;
		it->so.properties.ptr = c->store + store(c, so->properties.ptr, so->properties.len);
		it->fo.properties.ptr = c->store + store(c, fo->properties.ptr, fo->properties.len);
		it->pay_off = c->slen;
		break;
	case MOQ_DATA_EV_PAYLOAD:
		check_view(ev->payload, piece, plen);
		if (ev->payload.ptr < piece || ev->payload.ptr + ev->payload.len > piece + plen)
			abort(); /* payload is never copied */
		dg_bytes(d, ev->payload.ptr, ev->payload.len);
		if (c)
			store(c, ev->payload.ptr, ev->payload.len);
		break;
	default:
		break;
	}
}

static uint32_t rng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Feed data in pieces (max_piece 0: whole), then FIN. Returns the final
 * result: 1 (STREAM_END) or an error. */
static int run(const uint8_t *data, size_t size, uint32_t seed, size_t max_piece,
	       const struct moq_data_reader_config *cfg, struct digest *d, struct collect *c)
{
	struct moq_data_reader r;
	struct moq_data_event ev;
	size_t off = 0;
	int rc;

	d->h = 0xcbf29ce484222325ull;
	d->events = 0;
	if (moq_data_reader_init(&r, cfg, rbuf, sizeof(rbuf)))
		abort();
	while (off < size) {
		size_t len = size - off, used;
		if (max_piece && len > 1)
			len = 1 + rng(&seed) % (len < max_piece ? len : max_piece);
		/* an exactly sized copy: ASan catches reads past the piece */
		uint8_t *piece = malloc(len);
		memcpy(piece, data + off, len);
		const uint8_t *p = piece;
		size_t left = len;
		while ((rc = moq_data_reader_feed(&r, p, left, &used, &ev)) == 1) {
			if (used > left)
				abort();
			on_event(d, c, &ev, piece, len);
			p += used;
			left -= used;
		}
		free(piece);
		if (rc != MOQ_ERR_NEED_MORE)
			return rc;
		if (used != left)
			abort();
		off += len;
	}
	rc = moq_data_reader_finish(&r, &ev);
	if (rc == 1)
		on_event(d, c, &ev, NULL, 0);
	return rc;
}

/* Re-encode a complete stream from its events. Returns the length, or 0 if
 * there is nothing to compare. */
static size_t reencode(const struct collect *c, uint8_t order, uint8_t *out, size_t cap)
{
	struct moq_subgroup_ctx sc;
	struct moq_fetch_ctx fc;
	size_t off = 0;
	int n;

	if (c->stream == MOQ_DATA_SUBGROUP_HEADER) {
		n = moq_subgroup_header_encode(out, cap, &c->sh);
		if (n < 0)
			abort();
		off = (size_t)n;
		moq_subgroup_ctx_init(&sc, &c->sh);
	} else if (c->stream == MOQ_DATA_FETCH_HEADER) {
		n = moq_fetch_header_encode(out, cap, &c->fh);
		if (n < 0)
			abort();
		off = (size_t)n;
	} else {
		return 0;
	}
	moq_fetch_ctx_init(&fc, order);
	for (size_t i = 0; i < c->nitems; i++) {
		const struct item *it = &c->items[i];
		struct moq_bytes pay = {c->store + it->pay_off, 0};
		if (c->stream == MOQ_DATA_SUBGROUP_HEADER) {
			struct moq_subgroup_object o = it->so;
			pay.len = (size_t)o.payload_length;
			o.payload = pay;
			n = moq_subgroup_object_encode(out + off, cap - off, &sc, &o);
		} else {
			struct moq_fetch_object o = it->fo;
			pay.len = (size_t)o.payload_length;
			o.payload = pay;
			n = moq_fetch_object_encode(out + off, cap - off, &fc, &o);
		}
		if (n < 0)
			abort(); /* what was decoded must be encodable */
		off += (size_t)n;
	}
	return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moq_data_reader_config cfg = {.max_payload_length = 1 << 20};
	struct digest whole, split, again;
	struct collect c = {0};
	int rc, rc2;

	if (size < 2)
		return 0;
	uint8_t opts = data[0];
	uint32_t seed = 0x9e3779b9u ^ ((uint32_t)data[1] << 8 | data[1]);
	data += 2;
	size -= 2;
	cfg.fetch_group_order = (opts & 1) ? MOQ_GROUP_ORDER_DESCENDING : MOQ_GROUP_ORDER_ASCENDING;
	if (opts & 2)
		cfg.max_properties_length = 8;

	c.cap = size + 1;
	c.items = calloc(c.cap, sizeof(*c.items));
	c.scap = 2 * size + 1;
	c.store = malloc(c.scap);

	rc = run(data, size, 0, 0, &cfg, &whole, &c);
	rc2 = run(data, size, seed, 1 + (opts >> 2) % 17, &cfg, &split, NULL);
	if (rc != rc2 || whole.h != split.h || whole.events != split.events)
		abort();
	if (size < 300) {
		rc2 = run(data, size, seed, 1, &cfg, &split, NULL);
		if (rc != rc2 || whole.h != split.h)
			abort();
	}

	if (rc == 1) {
		uint8_t *out = malloc(size + 64);
		size_t n = reencode(&c, cfg.fetch_group_order, out, size + 64);
		if (n) {
			if (n > size)
				abort(); /* minimal varints never grow */
			rc2 = run(out, n, seed, 0, &cfg, &again, NULL);
			if (rc2 != 1 || again.h != whole.h)
				abort();
		}
		free(out);
	}
	free(c.items);
	free(c.store);
	return 0;
}
