/* Streaming reader for unidirectional data streams: events, arbitrary
 * splits (every split, byte by byte), limits, FIN handling, padding. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_reader.h"
#include "kvp.h"
#include "moq_err.h"

#define BUF_SIZE MOQ_DATA_READER_BUF_SIZE(MOQ_MAX_OBJECT_PROPERTIES)
static uint8_t rbuf[BUF_SIZE];

/* ---- an event trace that does not depend on how the stream was split --- */

struct trace {
	char s[32768];
	size_t len;
	uint8_t pay[4096];
	size_t plen;
};

static void tr_add(struct trace *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->s + t->len, sizeof(t->s) - t->len, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_lt(t->len + (size_t)n, sizeof(t->s));
	t->len += (size_t)n;
}

static void tr_hex(struct trace *t, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tr_add(t, "%02x", p[i]);
}

static void trace_event(struct trace *t, const struct moq_data_event *ev)
{
	const struct moq_subgroup_header *h = &ev->subgroup;
	const struct moq_subgroup_object *so = &ev->subgroup_object;
	const struct moq_fetch_object *fo = &ev->fetch_object;

	switch (ev->type) {
	case MOQ_DATA_EV_HEADER:
		tr_add(t, "HEADER %s %llx", moq_data_type_name(ev->stream),
		       (unsigned long long)ev->stream_type);
		if (ev->stream == MOQ_DATA_SUBGROUP_HEADER)
			tr_add(t, " a=%llu g=%llu s=%llu k=%d p=%u",
			       (unsigned long long)h->track_alias, (unsigned long long)h->group_id,
			       (unsigned long long)h->subgroup_id, h->subgroup_id_known,
			       h->publisher_priority);
		if (ev->stream == MOQ_DATA_FETCH_HEADER)
			tr_add(t, " r=%llu", (unsigned long long)ev->fetch.request_id);
		break;
	case MOQ_DATA_EV_OBJECT:
		if (ev->stream == MOQ_DATA_SUBGROUP_HEADER) {
			tr_add(t, "OBJECT s=%llu o=%llu st=%llu len=%llu props=",
			       (unsigned long long)h->subgroup_id,
			       (unsigned long long)so->object_id,
			       (unsigned long long)so->object_status,
			       (unsigned long long)so->payload_length);
			tr_hex(t, so->properties.ptr, so->properties.len);
		} else {
			tr_add(t, "OBJECT f=%llx g=%llu s=%llu o=%llu d=%d p=%u len=%llu props=",
			       (unsigned long long)fo->serialization_flags,
			       (unsigned long long)fo->group_id,
			       (unsigned long long)fo->subgroup_id,
			       (unsigned long long)fo->object_id, fo->datagram,
			       fo->publisher_priority, (unsigned long long)fo->payload_length);
			tr_hex(t, fo->properties.ptr, fo->properties.len);
		}
		t->plen = 0;
		break;
	case MOQ_DATA_EV_PAYLOAD:
		ck_assert_uint_eq(ev->payload_offset, t->plen);
		ck_assert_uint_gt(ev->payload.len, 0);
		ck_assert_uint_le(t->plen + ev->payload.len, sizeof(t->pay));
		memcpy(t->pay + t->plen, ev->payload.ptr, ev->payload.len);
		t->plen += ev->payload.len;
		return; /* chunking is split dependent: reported at OBJECT_END */
	case MOQ_DATA_EV_OBJECT_END:
		tr_add(t, "END payload=");
		tr_hex(t, t->pay, t->plen);
		break;
	case MOQ_DATA_EV_END_OF_RANGE:
		tr_add(t, "RANGE %d g=%llu o=%llu", fo->end_of_range,
		       (unsigned long long)fo->group_id, (unsigned long long)fo->object_id);
		break;
	case MOQ_DATA_EV_STREAM_END:
		tr_add(t, "FIN");
		break;
	default:
		ck_abort_msg("unexpected event %d", ev->type);
	}
	tr_add(t, "\n");
}

/* Feed stream s cut at the given offsets (ascending), each piece in its own
 * exactly sized heap copy so that a view kept too long shows up under ASan.
 * Returns the final result: 1 after STREAM_END, or the error. */
static int run(const uint8_t *s, size_t n, const size_t *cuts, size_t ncuts, bool fin,
	       const struct moq_data_reader_config *cfg, struct trace *t)
{
	struct moq_data_reader r;
	struct moq_data_event ev;
	size_t start = 0;
	int rc = MOQ_ERR_NEED_MORE;

	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(moq_data_reader_init(&r, cfg, rbuf, sizeof(rbuf)), 0);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		size_t len = end - start, used;
		uint8_t *piece = malloc(len ? len : 1);
		memcpy(piece, s + start, len);
		const uint8_t *p = piece;
		while ((rc = moq_data_reader_feed(&r, p, len, &used, &ev)) == 1) {
			ck_assert_uint_le(used, len);
			p += used;
			len -= used;
			trace_event(t, &ev);
		}
		free(piece);
		if (rc != MOQ_ERR_NEED_MORE) {
			tr_add(t, "ERR %d\n", rc);
			return rc;
		}
		ck_assert_uint_eq(used, len);
		start = end;
	}
	if (!fin)
		return rc;
	rc = moq_data_reader_finish(&r, &ev);
	if (rc == 1)
		trace_event(t, &ev);
	else
		tr_add(t, "ERR %d\n", rc);
	return rc;
}

/* ---- test streams ----------------------------------------------------------- */

static size_t put_props(uint8_t *buf, size_t len)
{
	uint64_t prev = 0;
	struct moq_kvp a = {.type = 4, .value = 2186796243u};
	struct moq_kvp b = {.type = 77, .bytes = {(const uint8_t *)"traceID:123456", 14}};
	int n = moq_kvp_encode(buf, len, &prev, &a);
	n += moq_kvp_encode(buf + n, len - (size_t)n, &prev, &b);
	return (size_t)n;
}

/* Subgroup stream: PROPERTIES, subgroup id present; objects 0 (props,
 * "abcd"), 1 (130 bytes), 4 (empty Normal), 5 (End of Group). */
static size_t subgroup_stream(uint8_t *buf, size_t len)
{
	uint8_t props[64], big[130];
	size_t plen = put_props(props, sizeof(props)), off;
	struct moq_subgroup_header h = {.track_alias = 2,
					.group_id = 7,
					.subgroup_id = 3,
					.publisher_priority = 9,
					.has_properties = true,
					.subgroup_id_mode = MOQ_SUBGROUP_ID_PRESENT};
	struct moq_subgroup_ctx c;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	struct moq_subgroup_object objs[] = {
	    {.object_id = 0,
	     .properties = {props, plen},
	     .payload_length = 4,
	     .payload = {(const uint8_t *)"abcd", 4}},
	    {.object_id = 1, .payload_length = sizeof(big), .payload = {big, sizeof(big)}},
	    {.object_id = 4, .properties = {props, plen}},
	    {.object_id = 5, .object_status = MOQ_OBJECT_STATUS_END_OF_GROUP},
	};
	int n = moq_subgroup_header_encode(buf, len, &h);
	ck_assert_int_gt(n, 0);
	off = (size_t)n;
	moq_subgroup_ctx_init(&c, &h);
	for (size_t i = 0; i < 4; i++) {
		n = moq_subgroup_object_encode(buf + off, len - off, &c, &objs[i]);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	return off;
}

/* Fetch stream: request 11; objects, a datagram object, End of Range. */
static size_t fetch_stream(uint8_t *buf, size_t len)
{
	uint8_t props[64];
	size_t plen = put_props(props, sizeof(props)), off;
	struct moq_fetch_header fh = {.request_id = 11};
	struct moq_fetch_ctx c;
	struct moq_fetch_object items[] = {
	    {.group_id = 3,
	     .subgroup_id = 1,
	     .object_id = 0,
	     .publisher_priority = 5,
	     .payload_length = 3,
	     .payload = {(const uint8_t *)"one", 3}},
	    {.group_id = 3,
	     .subgroup_id = 1,
	     .object_id = 1,
	     .publisher_priority = 5,
	     .has_properties = true,
	     .properties = {props, plen}},
	    {.end_of_range = MOQ_FETCH_NON_EXISTENT_RANGE, .group_id = 3, .object_id = 7},
	    {.group_id = 4,
	     .datagram = true,
	     .object_id = 0,
	     .publisher_priority = 6,
	     .payload_length = 3,
	     .payload = {(const uint8_t *)"two", 3}},
	    {.group_id = 4,
	     .subgroup_id = 2,
	     .object_id = 1,
	     .publisher_priority = 6,
	     .payload_length = 5,
	     .payload = {(const uint8_t *)"three", 5}},
	};
	int n = moq_fetch_header_encode(buf, len, &fh);
	off = (size_t)n;
	moq_fetch_ctx_init(&c, 0);
	for (size_t i = 0; i < 5; i++) {
		items[i].serialization_flags = (uint64_t)moq_fetch_object_flags(&c, &items[i]);
		n = moq_fetch_object_encode(buf + off, len - off, &c, &items[i]);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	return off;
}

static void check_every_split(const uint8_t *s, size_t n, bool three)
{
	static struct trace whole, split;
	ck_assert_int_eq(run(s, n, NULL, 0, true, NULL, &whole), 1);
	for (size_t i = 0; i <= n; i++) {
		size_t cut[1] = {i};
		ck_assert_int_eq(run(s, n, cut, 1, true, NULL, &split), 1);
		ck_assert_str_eq(split.s, whole.s);
		for (size_t j = i; three && j <= n; j++) {
			size_t cuts[2] = {i, j};
			ck_assert_int_eq(run(s, n, cuts, 2, true, NULL, &split), 1);
			ck_assert_str_eq(split.s, whole.s);
		}
	}
}

static void check_byte_by_byte(const uint8_t *s, size_t n)
{
	static struct trace whole, bytes;
	static size_t cuts[1024];
	ck_assert_uint_le(n, 1024);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	ck_assert_int_eq(run(s, n, NULL, 0, true, NULL, &whole), 1);
	ck_assert_int_eq(run(s, n, cuts, n, true, NULL, &bytes), 1);
	ck_assert_str_eq(bytes.s, whole.s);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(reader_subgroup_stream_emits_header_objects_and_fin)
{
	uint8_t s[512];
	static struct trace t;
	size_t n = subgroup_stream(s, sizeof(s));
	ck_assert_int_eq(run(s, n, NULL, 0, true, NULL, &t), 1);
	const char *want_start = "HEADER SUBGROUP_HEADER 15 a=2 g=7 s=3 k=1 p=9\n"
				 "OBJECT s=3 o=0 st=0 len=4 props=04";
	ck_assert_int_eq(strncmp(t.s, want_start, strlen(want_start)), 0);
	ck_assert_ptr_nonnull(strstr(t.s, "END payload=61626364\n"));
	ck_assert_ptr_nonnull(strstr(t.s, "OBJECT s=3 o=1 st=0 len=130 props=\n"));
	ck_assert_ptr_nonnull(strstr(t.s, "OBJECT s=3 o=5 st=3 len=0 props=\nEND payload=\nFIN\n"));
}
END_TEST

START_TEST(reader_subgroup_stream_every_split_gives_identical_events)
{
	uint8_t s[512];
	size_t n = subgroup_stream(s, sizeof(s));
	check_every_split(s, n, false);
}
END_TEST

START_TEST(reader_subgroup_header_and_first_objects_every_three_piece_split)
{
	uint8_t s[512];
	size_t n = subgroup_stream(s, sizeof(s));
	struct moq_subgroup_header h;
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	int hl = moq_subgroup_header_decode(&h, s, n);
	ck_assert_int_gt(hl, 0);
	moq_subgroup_ctx_init(&c, &h);
	int ol = moq_subgroup_object_decode(&o, &c, s + hl, n - (size_t)hl);
	ck_assert_int_gt(ol, 0);
	/* header and first object: every pair of cuts over their bytes */
	check_every_split(s, (size_t)(hl + ol), true);
}
END_TEST

START_TEST(reader_subgroup_stream_byte_by_byte_gives_identical_events)
{
	uint8_t s[512];
	size_t n = subgroup_stream(s, sizeof(s));
	check_byte_by_byte(s, n);
}
END_TEST

START_TEST(reader_fetch_stream_every_split_gives_identical_events)
{
	uint8_t s[512];
	size_t n = fetch_stream(s, sizeof(s));
	check_every_split(s, n, true);
	check_byte_by_byte(s, n);
}
END_TEST

START_TEST(reader_fetch_stream_reports_end_of_range_and_datagram_objects)
{
	uint8_t s[512];
	static struct trace t;
	size_t n = fetch_stream(s, sizeof(s));
	ck_assert_int_eq(run(s, n, NULL, 0, true, NULL, &t), 1);
	ck_assert_ptr_nonnull(strstr(t.s, "HEADER FETCH_HEADER 5 r=11\n"));
	ck_assert_ptr_nonnull(strstr(t.s, "RANGE 1 g=3 o=7\n"));
	ck_assert_ptr_nonnull(strstr(t.s, "g=4 s=0 o=0 d=1 p=6 len=3"));
	ck_assert_ptr_nonnull(strstr(t.s, "g=4 s=2 o=1 d=0 p=6 len=5"));
	ck_assert_ptr_nonnull(strstr(t.s, "END payload=7468726565\nFIN\n"));
}
END_TEST

START_TEST(reader_payload_chunks_point_into_the_fed_piece)
{
	uint8_t s[512];
	size_t n = subgroup_stream(s, sizeof(s)), used;
	struct moq_data_reader r;
	struct moq_data_event ev;
	const uint8_t *p = s;
	size_t left = n;
	int payloads = 0;
	moq_data_reader_init(&r, NULL, rbuf, sizeof(rbuf));
	while (moq_data_reader_feed(&r, p, left, &used, &ev) == 1) {
		if (ev.type == MOQ_DATA_EV_PAYLOAD) {
			ck_assert_ptr_eq(ev.payload.ptr, p);
			payloads++;
		}
		p += used;
		left -= used;
	}
	ck_assert_int_eq(payloads, 2);
	ck_assert_uint_eq(left, 0);
}
END_TEST

START_TEST(reader_split_properties_are_copied_into_the_reader_buffer)
{
	uint8_t s[512];
	size_t n = subgroup_stream(s, sizeof(s)), used;
	struct moq_data_reader r;
	struct moq_data_event ev;
	moq_data_reader_init(&r, NULL, rbuf, sizeof(rbuf));
	/* header (5 bytes) whole, then the first object header cut after 4 */
	ck_assert_int_eq(moq_data_reader_feed(&r, s, 5, &used, &ev), 1);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(moq_data_reader_feed(&r, s + 5, 4, &used, &ev), MOQ_ERR_NEED_MORE);
	ck_assert_int_eq(moq_data_reader_feed(&r, s + 9, n - 9, &used, &ev), 1);
	ck_assert_int_eq(ev.type, MOQ_DATA_EV_OBJECT);
	ck_assert(ev.subgroup_object.properties.ptr >= rbuf &&
		  ev.subgroup_object.properties.ptr < rbuf + sizeof(rbuf));
	ck_assert_mem_eq(ev.subgroup_object.properties.ptr, s + 7,
			 ev.subgroup_object.properties.len);
	/* the bytes after the object header were not taken */
	ck_assert_uint_lt(used, n - 9);
}
END_TEST

START_TEST(reader_fin_at_an_object_boundary_ends_the_stream)
{
	/* type 0x10, alias 1, group 2, priority 0; object 0 "a" */
	const uint8_t s[] = {0x10, 0x01, 0x02, 0x00, 0x00, 0x01, 'a'};
	static struct trace t;
	ck_assert_int_eq(run(s, sizeof(s), NULL, 0, true, NULL, &t), 1);
	ck_assert_ptr_nonnull(strstr(t.s, "FIN\n"));
	/* a header and no objects is a complete stream too */
	ck_assert_int_eq(run(s, 4, NULL, 0, true, NULL, &t), 1);
}
END_TEST

START_TEST(reader_fin_inside_an_object_or_header_is_malformed)
{
	uint8_t s[512];
	static struct trace t;
	size_t n = subgroup_stream(s, sizeof(s));
	/* cut in the payload of object 1, in an object header, in the header,
	 * and the empty stream */
	ck_assert_int_eq(run(s, n - 40, NULL, 0, true, NULL, &t), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(run(s, 7, NULL, 0, true, NULL, &t), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(run(s, 3, NULL, 0, true, NULL, &t), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(run(s, 0, NULL, 0, true, NULL, &t), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(reader_payload_over_the_limit_is_limit)
{
	/* payload length 1000 with a limit of 999 */
	const uint8_t s[] = {0x10, 0x01, 0x02, 0x00, 0x00, 0x83, 0xE8};
	struct moq_data_reader_config cfg = {.max_payload_length = 999};
	static struct trace t;
	ck_assert_int_eq(run(s, sizeof(s), NULL, 0, false, &cfg, &t), MOQ_ERR_LIMIT);
	cfg.max_payload_length = 1000;
	ck_assert_int_eq(run(s, sizeof(s), NULL, 0, false, &cfg, &t), MOQ_ERR_NEED_MORE);
}
END_TEST

START_TEST(reader_properties_over_the_configured_limit_are_limit_in_any_split)
{
	uint8_t s[512];
	size_t n = subgroup_stream(s, sizeof(s));
	struct moq_data_reader_config cfg = {.max_properties_length = 10};
	static struct trace t;
	size_t cuts[1];
	for (size_t i = 0; i <= 12; i++) {
		cuts[0] = i;
		ck_assert_int_eq(run(s, n, cuts, 1, false, &cfg, &t), MOQ_ERR_LIMIT);
	}
}
END_TEST

START_TEST(reader_malformed_object_is_reported_when_its_bytes_arrive)
{
	/* header, then an object with status 0x05 */
	const uint8_t s[] = {0x10, 0x01, 0x02, 0x00, 0x07, 0x00, 0x05};
	struct moq_data_reader r;
	struct moq_data_event ev;
	size_t used;
	moq_data_reader_init(&r, NULL, rbuf, sizeof(rbuf));
	ck_assert_int_eq(moq_data_reader_feed(&r, s, 4, &used, &ev), 1);
	ck_assert_int_eq(moq_data_reader_feed(&r, s + 4, 1, &used, &ev), MOQ_ERR_NEED_MORE);
	ck_assert_int_eq(moq_data_reader_feed(&r, s + 5, 1, &used, &ev), MOQ_ERR_NEED_MORE);
	ck_assert_int_eq(moq_data_reader_feed(&r, s + 6, 1, &used, &ev), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(reader_errors_are_sticky)
{
	const uint8_t s[] = {0x16, 0x01, 0x02}; /* reserved subgroup type */
	struct moq_data_reader r;
	struct moq_data_event ev;
	size_t used;
	moq_data_reader_init(&r, NULL, rbuf, sizeof(rbuf));
	ck_assert_int_eq(moq_data_reader_feed(&r, s, 3, &used, &ev), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_data_reader_feed(&r, s, 0, &used, &ev), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_data_reader_finish(&r, &ev), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(reader_unknown_stream_type_is_unknown)
{
	const uint8_t s[] = {0x06, 0x00};
	static struct trace t;
	ck_assert_int_eq(run(s, 2, NULL, 0, false, NULL, &t), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(reader_setup_stream_is_classified_but_not_decoded)
{
	const uint8_t s[] = {0xAF, 0x00, 0x01};
	struct moq_data_reader r;
	struct moq_data_event ev;
	size_t used;
	moq_data_reader_init(&r, NULL, rbuf, sizeof(rbuf));
	ck_assert_int_eq(moq_data_reader_feed(&r, s, 3, &used, &ev), 1);
	ck_assert_int_eq(ev.type, MOQ_DATA_EV_HEADER);
	ck_assert_int_eq(ev.stream, MOQ_DATA_SETUP);
	ck_assert_uint_eq(used, 2);
	ck_assert_int_eq(moq_data_reader_feed(&r, s + 2, 1, &used, &ev), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(reader_padding_stream_discards_zero_bytes)
{
	uint8_t s[32] = {0};
	static struct trace t;
	int n = moq_padding_stream_header_encode(s, sizeof(s));
	ck_assert_int_eq(n, 5);
	size_t cuts[] = {2, 9};
	ck_assert_int_eq(run(s, sizeof(s), cuts, 2, true, NULL, &t), 1);
	ck_assert_str_eq(t.s, "HEADER PADDING 132b3e28\nFIN\n");
	s[20] = 1;
	ck_assert_int_eq(run(s, sizeof(s), cuts, 2, true, NULL, &t), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(reader_subgroup_id_from_the_first_object_is_in_later_events)
{
	/* type 0x12: subgroup id = first object id; first object id 6 */
	const uint8_t s[] = {0x12, 0x01, 0x02, 0x00, 0x06, 0x01, 'x', 0x00, 0x01, 'y'};
	static struct trace t;
	ck_assert_int_eq(run(s, sizeof(s), NULL, 0, true, NULL, &t), 1);
	ck_assert_ptr_nonnull(strstr(t.s, "k=0"));
	ck_assert_ptr_nonnull(strstr(t.s, "OBJECT s=6 o=6 "));
	ck_assert_ptr_nonnull(strstr(t.s, "OBJECT s=6 o=7 "));
}
END_TEST

START_TEST(reader_fetch_stream_uses_the_configured_group_order)
{
	/* first object g10 o0; next flags 0x08 group delta 0 */
	const uint8_t s[] = {0x05, 0x01, 0x1C, 0x0A, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00};
	struct moq_data_reader_config cfg = {.fetch_group_order = MOQ_GROUP_ORDER_DESCENDING};
	static struct trace t;
	ck_assert_int_eq(run(s, sizeof(s), NULL, 0, true, &cfg, &t), 1);
	ck_assert_ptr_nonnull(strstr(t.s, "g=9 s=0 o=1"));
}
END_TEST

START_TEST(reader_init_rejects_a_buffer_too_small)
{
	struct moq_data_reader r;
	uint8_t small[MOQ_DATA_READER_BUF_SIZE(100)];
	struct moq_data_reader_config cfg = {.max_properties_length = 101};
	ck_assert_int_eq(moq_data_reader_init(&r, NULL, small, 10), MOQ_ERR_INVALID);
	ck_assert_int_eq(moq_data_reader_init(&r, &cfg, small, sizeof(small)), MOQ_ERR_INVALID);
	cfg.max_properties_length = 100;
	ck_assert_int_eq(moq_data_reader_init(&r, &cfg, small, sizeof(small)), 0);
	ck_assert_int_eq(moq_data_reader_init(&r, NULL, small, sizeof(small)), 0);
}
END_TEST

START_TEST(reader_event_names_are_stable)
{
	ck_assert_str_eq(moq_data_event_name(MOQ_DATA_EV_HEADER), "HEADER");
	ck_assert_str_eq(moq_data_event_name(MOQ_DATA_EV_PAYLOAD), "PAYLOAD");
	ck_assert_str_eq(moq_data_event_name(MOQ_DATA_EV_END_OF_RANGE), "END_OF_RANGE");
	ck_assert_str_eq(moq_data_event_name(99), "UNKNOWN");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("data_reader");
	TCase *tc = tcase_create("data_reader");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, reader_subgroup_stream_emits_header_objects_and_fin);
	tcase_add_test(tc, reader_subgroup_stream_every_split_gives_identical_events);
	tcase_add_test(tc, reader_subgroup_header_and_first_objects_every_three_piece_split);
	tcase_add_test(tc, reader_subgroup_stream_byte_by_byte_gives_identical_events);
	tcase_add_test(tc, reader_fetch_stream_every_split_gives_identical_events);
	tcase_add_test(tc, reader_fetch_stream_reports_end_of_range_and_datagram_objects);
	tcase_add_test(tc, reader_payload_chunks_point_into_the_fed_piece);
	tcase_add_test(tc, reader_split_properties_are_copied_into_the_reader_buffer);
	tcase_add_test(tc, reader_fin_at_an_object_boundary_ends_the_stream);
	tcase_add_test(tc, reader_fin_inside_an_object_or_header_is_malformed);
	tcase_add_test(tc, reader_payload_over_the_limit_is_limit);
	tcase_add_test(tc, reader_properties_over_the_configured_limit_are_limit_in_any_split);
	tcase_add_test(tc, reader_malformed_object_is_reported_when_its_bytes_arrive);
	tcase_add_test(tc, reader_errors_are_sticky);
	tcase_add_test(tc, reader_unknown_stream_type_is_unknown);
	tcase_add_test(tc, reader_setup_stream_is_classified_but_not_decoded);
	tcase_add_test(tc, reader_padding_stream_discards_zero_bytes);
	tcase_add_test(tc, reader_subgroup_id_from_the_first_object_is_in_later_events);
	tcase_add_test(tc, reader_fetch_stream_uses_the_configured_group_order);
	tcase_add_test(tc, reader_init_rejects_a_buffer_too_small);
	tcase_add_test(tc, reader_event_names_are_stable);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
