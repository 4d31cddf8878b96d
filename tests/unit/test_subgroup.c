/* Unidirectional stream types, SUBGROUP_HEADER (every type variant) and the
 * objects on a subgroup stream (draft-18 "Subgroup Header"). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "kvp.h"
#include "moq_err.h"

static const uint8_t reserved_types[] = {0x16, 0x17, 0x1E, 0x1F, 0x36, 0x37, 0x3E, 0x3F,
					 0x56, 0x57, 0x5E, 0x5F, 0x76, 0x77, 0x7E, 0x7F};

static bool is_valid_subgroup_type(unsigned t)
{
	return t <= 0x7f && (t & 0x10) && (t & 0x06) != 0x06;
}

/* A header with every field set according to its flags. */
static struct moq_subgroup_header header_for_type(unsigned t)
{
	struct moq_subgroup_header h = {0};
	ck_assert_int_eq(moq_subgroup_header_flags(&h, t), 0);
	h.track_alias = 300;
	h.group_id = 70000;
	if (h.subgroup_id_mode == MOQ_SUBGROUP_ID_PRESENT)
		h.subgroup_id = 5;
	if (!h.default_priority)
		h.publisher_priority = 200;
	return h;
}

/* Properties block: type 4 = 2186796243, type 77 = "traceID:123456". */
static size_t example_properties(uint8_t *buf, size_t len)
{
	uint64_t prev = 0;
	struct moq_kvp a = {.type = 4, .value = 2186796243u};
	struct moq_kvp b = {.type = 77, .bytes = {(const uint8_t *)"traceID:123456", 14}};
	int n = moq_kvp_encode(buf, len, &prev, &a);
	ck_assert_int_gt(n, 0);
	int m = moq_kvp_encode(buf + n, len - (size_t)n, &prev, &b);
	ck_assert_int_gt(m, 0);
	return (size_t)(n + m);
}

START_TEST(stream_type_classifies_every_draft_type)
{
	ck_assert_int_eq(moq_stream_type_classify(0x05), MOQ_DATA_FETCH_HEADER);
	ck_assert_int_eq(moq_stream_type_classify(0x2F00), MOQ_DATA_SETUP);
	ck_assert_int_eq(moq_stream_type_classify(0x132B3E28), MOQ_DATA_PADDING);
	ck_assert_int_eq(moq_stream_type_classify(0x14), MOQ_DATA_SUBGROUP_HEADER);
	ck_assert_int_eq(moq_stream_type_classify(0x7D), MOQ_DATA_SUBGROUP_HEADER);
}
END_TEST

START_TEST(stream_type_outside_the_table_is_unknown)
{
	const uint64_t unknown[] = {0x00, 0x04, 0x06,	0x0F,	    0x20,      0x2F,
				    0x80, 0x90, 0x2F01, 0x132B3E29, UINT64_MAX};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		ck_assert_int_eq(moq_stream_type_classify(unknown[i]), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(stream_type_peek_reads_a_non_minimal_type)
{
	/* 0x2F00 as a 4-byte vi64 */
	const uint8_t in[] = {0xE0, 0x00, 0x2F, 0x00};
	uint64_t type;
	size_t used = 0;
	ck_assert_int_eq(moq_stream_type_peek(&type, &used, in, 4), MOQ_DATA_SETUP);
	ck_assert_uint_eq(type, 0x2F00);
	ck_assert_uint_eq(used, 4);
	ck_assert_int_eq(moq_stream_type_peek(&type, &used, in, 3), MOQ_ERR_NEED_MORE);
}
END_TEST

START_TEST(data_type_names_match_the_draft)
{
	ck_assert_str_eq(moq_data_type_name(MOQ_DATA_SUBGROUP_HEADER), "SUBGROUP_HEADER");
	ck_assert_str_eq(moq_data_type_name(MOQ_DATA_FETCH_HEADER), "FETCH_HEADER");
	ck_assert_str_eq(moq_data_type_name(MOQ_DATA_OBJECT_DATAGRAM), "OBJECT_DATAGRAM");
	ck_assert_str_eq(moq_data_type_name(MOQ_DATA_PADDING), "PADDING");
	ck_assert_str_eq(moq_data_type_name(MOQ_DATA_SETUP), "SETUP");
	ck_assert_str_eq(moq_data_type_name(MOQ_DATA_PADDING_DATAGRAM), "PADDING_DATAGRAM");
	ck_assert_str_eq(moq_data_type_name(0), "UNKNOWN");
}
END_TEST

START_TEST(subgroup_type_and_flags_convert_both_ways_for_all_48_types)
{
	int valid = 0;
	for (unsigned t = 0; t < 0x100; t++) {
		struct moq_subgroup_header h = {0};
		int rc = moq_subgroup_header_flags(&h, t);
		if (!is_valid_subgroup_type(t)) {
			ck_assert_int_lt(rc, 0);
			continue;
		}
		valid++;
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(h.has_properties, !!(t & 0x01));
		ck_assert_uint_eq(h.subgroup_id_mode, (t >> 1) & 3);
		ck_assert_int_eq(h.end_of_group, !!(t & 0x08));
		ck_assert_int_eq(h.default_priority, !!(t & 0x20));
		ck_assert_int_eq(h.first_object, !!(t & 0x40));
		ck_assert_int_eq(moq_subgroup_header_type(&h), (int)t);
	}
	ck_assert_int_eq(valid, 48);
}
END_TEST

START_TEST(subgroup_reserved_id_mode_types_are_malformed)
{
	for (size_t i = 0; i < sizeof(reserved_types); i++) {
		uint8_t in[] = {reserved_types[i], 1, 2, 3, 4};
		struct moq_subgroup_header h;
		ck_assert_int_eq(moq_stream_type_classify(reserved_types[i]), MOQ_ERR_MALFORMED);
		ck_assert_int_eq(moq_subgroup_header_decode(&h, in, sizeof(in)), MOQ_ERR_MALFORMED);
	}
}
END_TEST

START_TEST(subgroup_header_decode_rejects_non_subgroup_types)
{
	const uint8_t fetch[] = {0x05, 0x01};
	const uint8_t other[] = {0x0F, 0x01, 0x02, 0x03};
	struct moq_subgroup_header h;
	ck_assert_int_eq(moq_subgroup_header_decode(&h, fetch, 2), MOQ_ERR_UNKNOWN_TYPE);
	ck_assert_int_eq(moq_subgroup_header_decode(&h, other, 4), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(subgroup_header_round_trips_every_valid_type)
{
	for (unsigned t = 0x10; t < 0x80; t++) {
		if (!is_valid_subgroup_type(t))
			continue;
		struct moq_subgroup_header h = header_for_type(t), d;
		uint8_t buf[64];
		int n = moq_subgroup_header_encode(buf, sizeof(buf), &h);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(buf[0], t);
		/* type 1 + alias 2 + group 3 + [subgroup 1] + [priority 1] */
		int want =
		    6 + (h.subgroup_id_mode == MOQ_SUBGROUP_ID_PRESENT) + !h.default_priority;
		ck_assert_int_eq(n, want);
		ck_assert_int_eq(moq_subgroup_header_decode(&d, buf, (size_t)n), n);
		ck_assert_uint_eq(d.type, t);
		ck_assert_uint_eq(d.track_alias, 300);
		ck_assert_uint_eq(d.group_id, 70000);
		ck_assert_uint_eq(d.subgroup_id, h.subgroup_id);
		ck_assert_int_eq(d.subgroup_id_known,
				 h.subgroup_id_mode != MOQ_SUBGROUP_ID_FIRST_OBJECT);
		ck_assert_uint_eq(d.publisher_priority, h.publisher_priority);
		ck_assert_int_eq(moq_subgroup_header_type(&d), (int)t);
	}
}
END_TEST

START_TEST(subgroup_header_every_truncated_prefix_needs_more)
{
	for (unsigned t = 0x10; t < 0x80; t++) {
		if (!is_valid_subgroup_type(t))
			continue;
		struct moq_subgroup_header h = header_for_type(t), d;
		uint8_t buf[64];
		int n = moq_subgroup_header_encode(buf, sizeof(buf), &h);
		for (int k = 0; k < n; k++)
			ck_assert_int_eq(moq_subgroup_header_decode(&d, buf, (size_t)k),
					 MOQ_ERR_NEED_MORE);
	}
}
END_TEST

START_TEST(subgroup_header_accepts_non_minimal_varints)
{
	/* type 0x14 in 2 bytes, alias 2 in 3 bytes, group 0, subgroup 9, prio 1 */
	const uint8_t in[] = {0x80, 0x14, 0xC0, 0x00, 0x02, 0x00, 0x09, 0x01};
	struct moq_subgroup_header h;
	ck_assert_int_eq(moq_subgroup_header_decode(&h, in, sizeof(in)), 8);
	ck_assert_uint_eq(h.type, 0x14);
	ck_assert_uint_eq(h.track_alias, 2);
	ck_assert_uint_eq(h.subgroup_id, 9);
	ck_assert_uint_eq(h.publisher_priority, 1);
}
END_TEST

START_TEST(subgroup_header_encode_rejects_reserved_mode_and_stray_subgroup_id)
{
	uint8_t buf[32];
	struct moq_subgroup_header h = {.subgroup_id_mode = 3};
	ck_assert_int_eq(moq_subgroup_header_encode(buf, sizeof(buf), &h), MOQ_ERR_INVALID);
	h.subgroup_id_mode = MOQ_SUBGROUP_ID_ZERO;
	h.subgroup_id = 4;
	ck_assert_int_eq(moq_subgroup_header_encode(buf, sizeof(buf), &h), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(subgroup_draft_example_stream_decodes)
{
	/* draft-18 "Examples": SUBGROUP_HEADER type 0x14, alias 2, group 0,
	 * subgroup 0, priority 0, objects "abcd" (id 0) and "efgh" (id 1). */
	const uint8_t in[] = {0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x04, 'a', 'b',
			      'c',  'd',  0x00, 0x04, 'e',  'f',  'g',	'h'};
	struct moq_subgroup_header h;
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	size_t off;
	int n = moq_subgroup_header_decode(&h, in, sizeof(in));
	ck_assert_int_eq(n, 5);
	moq_subgroup_ctx_init(&c, &h);
	off = (size_t)n;
	n = moq_subgroup_object_decode(&o, &c, in + off, sizeof(in) - off);
	ck_assert_int_eq(n, 6);
	ck_assert_uint_eq(o.object_id, 0);
	ck_assert_mem_eq(o.payload.ptr, "abcd", 4);
	off += (size_t)n;
	n = moq_subgroup_object_decode(&o, &c, in + off, sizeof(in) - off);
	ck_assert_int_eq(n, 6);
	ck_assert_uint_eq(o.object_id, 1);
	ck_assert_mem_eq(o.payload.ptr, "efgh", 4);
}
END_TEST

START_TEST(subgroup_draft_example_with_properties_round_trips)
{
	/* draft-18 "Examples", type 0x35: properties on the first object, an
	 * empty Properties block on the second. */
	uint8_t props[64], buf[128];
	size_t plen = example_properties(props, sizeof(props));
	struct moq_subgroup_header h = {0}, dh;
	moq_subgroup_header_flags(&h, 0x35);
	h.track_alias = 2;
	struct moq_subgroup_ctx enc, dec;
	struct moq_subgroup_object a = {.object_id = 0,
					.properties = {props, plen},
					.payload_length = 4,
					.payload = {(const uint8_t *)"abcd", 4}};
	struct moq_subgroup_object b = {
	    .object_id = 1, .payload_length = 4, .payload = {(const uint8_t *)"efgh", 4}};
	struct moq_subgroup_object o;
	int n = moq_subgroup_header_encode(buf, sizeof(buf), &h);
	ck_assert_int_eq(n, 4); /* no priority (0x20), subgroup present */
	size_t off = (size_t)n;
	moq_subgroup_ctx_init(&enc, &h);
	off += (size_t)moq_subgroup_object_encode(buf + off, sizeof(buf) - off, &enc, &a);
	n = moq_subgroup_object_encode(buf + off, sizeof(buf) - off, &enc, &b);
	ck_assert_int_eq(n, 1 + 1 + 1 + 4); /* delta, props len 0, length, payload */
	off += (size_t)n;

	n = moq_subgroup_header_decode(&dh, buf, off);
	ck_assert_int_eq(n, 4);
	moq_subgroup_ctx_init(&dec, &dh);
	size_t p = (size_t)n;
	n = moq_subgroup_object_decode(&o, &dec, buf + p, off - p);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(o.properties.len, plen);
	ck_assert_mem_eq(o.properties.ptr, props, plen);
	ck_assert_int_eq(moq_kvp_validate(o.properties.ptr, o.properties.len), 2);
	p += (size_t)n;
	n = moq_subgroup_object_decode(&o, &dec, buf + p, off - p);
	ck_assert_int_eq(n, 7);
	ck_assert_uint_eq(o.object_id, 1);
	ck_assert_uint_eq(o.properties.len, 0);
	ck_assert_uint_eq(p + (size_t)n, off);
}
END_TEST

START_TEST(subgroup_object_id_delta_adds_one_to_the_previous_id)
{
	struct moq_subgroup_header h = header_for_type(0x10);
	struct moq_subgroup_ctx enc, dec;
	const uint64_t ids[] = {0, 1, 5, 6, 1000};
	const uint64_t deltas[] = {0, 0, 3, 0, 993};
	uint8_t buf[32];
	moq_subgroup_ctx_init(&enc, &h);
	moq_subgroup_ctx_init(&dec, &h);
	for (int i = 0; i < 5; i++) {
		struct moq_subgroup_object o = {.object_id = ids[i],
						.payload_length = 1,
						.payload = {(const uint8_t *)"x", 1}},
					   d;
		int n = moq_subgroup_object_encode(buf, sizeof(buf), &enc, &o);
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(moq_subgroup_object_decode(&d, &dec, buf, (size_t)n), n);
		ck_assert_uint_eq(d.object_id_delta, deltas[i]);
		ck_assert_uint_eq(d.object_id, ids[i]);
	}
}
END_TEST

START_TEST(subgroup_first_object_id_is_the_delta_itself)
{
	struct moq_subgroup_header h = header_for_type(0x10);
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	const uint8_t in[] = {0x07, 0x01, 'z'};
	moq_subgroup_ctx_init(&c, &h);
	ck_assert_int_eq(moq_subgroup_object_decode(&o, &c, in, 3), 3);
	ck_assert_uint_eq(o.object_id, 7);
}
END_TEST

START_TEST(subgroup_object_id_overflow_is_malformed)
{
	struct moq_subgroup_header h = header_for_type(0x10);
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	const uint8_t d0[] = {0x00, 0x01, 'z'};
	const uint8_t d1[] = {0x01, 0x01, 'z'};
	moq_subgroup_ctx_init(&c, &h);
	c.have_prev = true;
	c.prev_object_id = UINT64_MAX - 1;
	/* (2^64 - 2) + 1 + 1 overflows, only 2^64 - 1 itself fits */
	ck_assert_int_eq(moq_subgroup_object_decode(&o, &c, d1, 3), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_subgroup_object_decode(&o, &c, d0, 3), 3);
	ck_assert_uint_eq(o.object_id, UINT64_MAX);
	ck_assert_int_eq(moq_subgroup_object_decode(&o, &c, d0, 3), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(subgroup_status_objects_round_trip)
{
	const uint64_t statuses[] = {MOQ_OBJECT_STATUS_NORMAL, MOQ_OBJECT_STATUS_END_OF_GROUP,
				     MOQ_OBJECT_STATUS_END_OF_TRACK};
	for (int i = 0; i < 3; i++) {
		struct moq_subgroup_header h = header_for_type(0x11);
		struct moq_subgroup_ctx enc, dec;
		struct moq_subgroup_object o = {.object_id = 3, .object_status = statuses[i]}, d;
		uint8_t buf[16];
		moq_subgroup_ctx_init(&enc, &h);
		moq_subgroup_ctx_init(&dec, &h);
		int n = moq_subgroup_object_encode(buf, sizeof(buf), &enc, &o);
		/* delta, properties length 0, payload length 0, status */
		ck_assert_int_eq(n, 4);
		ck_assert_int_eq(moq_subgroup_object_decode(&d, &dec, buf, 4), 4);
		ck_assert_uint_eq(d.payload_length, 0);
		ck_assert_uint_eq(d.object_status, statuses[i]);
		ck_assert_uint_eq(d.payload.len, 0);
	}
}
END_TEST

START_TEST(subgroup_invalid_object_status_is_malformed)
{
	const uint8_t bad[] = {0x01, 0x02, 0x05, 0x06, 0x3F};
	for (size_t i = 0; i < sizeof(bad); i++) {
		struct moq_subgroup_header h = header_for_type(0x10);
		struct moq_subgroup_ctx c;
		struct moq_subgroup_object o;
		const uint8_t in[] = {0x00, 0x00, bad[i]};
		moq_subgroup_ctx_init(&c, &h);
		ck_assert_int_eq(moq_subgroup_object_header_decode(&o, &c, in, 3),
				 MOQ_ERR_MALFORMED);
		ck_assert(!c.have_prev);
	}
}
END_TEST

START_TEST(subgroup_properties_on_a_status_object_are_malformed)
{
	struct moq_subgroup_header h = header_for_type(0x11);
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	/* delta 0, properties {type 2 = 1}, length 0, status End of Group */
	const uint8_t in[] = {0x00, 0x02, 0x02, 0x01, 0x00, 0x03};
	const uint8_t normal[] = {0x00, 0x02, 0x02, 0x01, 0x00, 0x00};
	moq_subgroup_ctx_init(&c, &h);
	ck_assert_int_eq(moq_subgroup_object_header_decode(&o, &c, in, sizeof(in)),
			 MOQ_ERR_MALFORMED);
	/* an empty Normal object may carry properties */
	ck_assert_int_eq(moq_subgroup_object_header_decode(&o, &c, normal, 6), 6);
}
END_TEST

START_TEST(subgroup_bad_kvp_in_properties_is_malformed)
{
	struct moq_subgroup_header h = header_for_type(0x11);
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	/* properties block of 2 bytes: odd type 1 with length 5, cut short */
	const uint8_t in[] = {0x00, 0x02, 0x01, 0x05, 0x01, 'x'};
	/* block whose last vi64 is cut by the block end (2-byte vi64) */
	const uint8_t in2[] = {0x00, 0x02, 0x02, 0x80, 0x01, 'x'};
	moq_subgroup_ctx_init(&c, &h);
	ck_assert_int_eq(moq_subgroup_object_header_decode(&o, &c, in, sizeof(in)),
			 MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_subgroup_object_header_decode(&o, &c, in2, sizeof(in2)),
			 MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(subgroup_properties_longer_than_65535_are_limit)
{
	struct moq_subgroup_header h = header_for_type(0x11);
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	/* properties length 65536 (3-byte vi64), nothing else present yet */
	const uint8_t in[] = {0x00, 0xC1, 0x00, 0x00};
	moq_subgroup_ctx_init(&c, &h);
	ck_assert_int_eq(moq_subgroup_object_header_decode(&o, &c, in, sizeof(in)), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(subgroup_object_every_truncated_prefix_needs_more)
{
	uint8_t props[64], buf[128];
	size_t plen = example_properties(props, sizeof(props));
	struct {
		unsigned type;
		struct moq_subgroup_object o;
	} forms[] = {
	    {0x10, {.object_id = 300, .payload_length = 3, .payload = {(const uint8_t *)"abc", 3}}},
	    {0x11,
	     {.object_id = 1,
	      .properties = {props, plen},
	      .payload_length = 3,
	      .payload = {(const uint8_t *)"abc", 3}}},
	    {0x11, {.object_id = 2, .object_status = 3}},
	    {0x10, {.object_id = 70000, .object_status = 4}},
	    {0x10, {.object_id = 0}},
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct moq_subgroup_header h = header_for_type(forms[i].type);
		struct moq_subgroup_ctx enc, dec;
		struct moq_subgroup_object d;
		moq_subgroup_ctx_init(&enc, &h);
		moq_subgroup_ctx_init(&dec, &h);
		int n = moq_subgroup_object_encode(buf, sizeof(buf), &enc, &forms[i].o);
		ck_assert_int_gt(n, 0);
		int hdr = n - (int)forms[i].o.payload_length;
		for (int k = 0; k < n; k++) {
			struct moq_subgroup_ctx tmp = dec;
			ck_assert_int_eq(moq_subgroup_object_decode(&d, &tmp, buf, (size_t)k),
					 MOQ_ERR_NEED_MORE);
			ck_assert_int_eq(
			    moq_subgroup_object_header_decode(&d, &tmp, buf, (size_t)k),
			    k < hdr ? MOQ_ERR_NEED_MORE : hdr);
		}
		ck_assert_int_eq(moq_subgroup_object_decode(&d, &dec, buf, (size_t)n), n);
		ck_assert_uint_eq(d.object_id, forms[i].o.object_id);
		ck_assert_uint_eq(d.object_status, forms[i].o.object_status);
		ck_assert_uint_eq(d.properties.len, forms[i].o.properties.len);
	}
}
END_TEST

START_TEST(subgroup_object_header_decodes_without_the_payload)
{
	struct moq_subgroup_header h = header_for_type(0x10);
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	/* delta 0, payload length 1000 (2 bytes), payload not yet here */
	const uint8_t in[] = {0x00, 0x83, 0xE8, 'a'};
	moq_subgroup_ctx_init(&c, &h);
	ck_assert_int_eq(moq_subgroup_object_header_decode(&o, &c, in, sizeof(in)), 3);
	ck_assert_uint_eq(o.payload_length, 1000);
	ck_assert_uint_eq(o.object_status, MOQ_OBJECT_STATUS_NORMAL);
	ck_assert(c.have_prev);
}
END_TEST

START_TEST(subgroup_id_mode_first_object_takes_the_first_object_id)
{
	struct moq_subgroup_header h = header_for_type(0x12), d;
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	uint8_t buf[32];
	const uint8_t obj[] = {0x09, 0x01, 'q'};
	int n = moq_subgroup_header_encode(buf, sizeof(buf), &h);
	ck_assert_int_eq(n, 7); /* type, alias 2, group 3, priority: no subgroup id */
	ck_assert_int_eq(moq_subgroup_header_decode(&d, buf, (size_t)n), n);
	ck_assert(!d.subgroup_id_known);
	moq_subgroup_ctx_init(&c, &d);
	ck_assert_int_eq(moq_subgroup_object_decode(&o, &c, obj, 3), 3);
	ck_assert(c.hdr.subgroup_id_known);
	ck_assert_uint_eq(c.hdr.subgroup_id, 9);
}
END_TEST

START_TEST(subgroup_object_after_end_of_group_status_is_malformed)
{
	struct moq_subgroup_header h = header_for_type(0x10);
	struct moq_subgroup_ctx c;
	struct moq_subgroup_object o;
	const uint8_t eog[] = {0x00, 0x00, 0x03};
	const uint8_t next[] = {0x00, 0x01, 'z'};
	moq_subgroup_ctx_init(&c, &h);
	ck_assert_int_eq(moq_subgroup_object_decode(&o, &c, eog, 3), 3);
	ck_assert_int_eq(moq_subgroup_object_decode(&o, &c, next, 3), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(subgroup_object_encode_rejects_what_cannot_be_sent)
{
	struct moq_subgroup_header h = header_for_type(0x10);
	struct moq_subgroup_ctx c;
	uint8_t buf[32];
	const uint8_t props[] = {0x02, 0x01};
	moq_subgroup_ctx_init(&c, &h);
	struct moq_subgroup_object o = {
	    .object_id = 5, .payload_length = 1, .payload = {(const uint8_t *)"a", 1}};
	ck_assert_int_gt(moq_subgroup_object_encode(buf, sizeof(buf), &c, &o), 0);
	/* object ids must increase */
	ck_assert_int_eq(moq_subgroup_object_encode(buf, sizeof(buf), &c, &o), MOQ_ERR_INVALID);
	/* properties without the PROPERTIES bit */
	o.object_id = 6;
	o.properties = (struct moq_bytes){props, 2};
	ck_assert_int_eq(moq_subgroup_object_encode(buf, sizeof(buf), &c, &o), MOQ_ERR_INVALID);
	/* a payload with a non-Normal status */
	o.properties = (struct moq_bytes){0};
	o.object_status = MOQ_OBJECT_STATUS_END_OF_GROUP;
	ck_assert_int_eq(moq_subgroup_object_encode(buf, sizeof(buf), &c, &o), MOQ_ERR_INVALID);
	/* an invalid status */
	o.payload_length = 0;
	o.payload.len = 0;
	o.object_status = 2;
	ck_assert_int_eq(moq_subgroup_object_encode(buf, sizeof(buf), &c, &o), MOQ_ERR_INVALID);
	/* the output buffer too small */
	o.object_status = 0;
	ck_assert_int_eq(moq_subgroup_object_encode(buf, 1, &c, &o), MOQ_ERR_BUFFER);
	ck_assert_uint_eq(c.prev_object_id, 5); /* failures change nothing */
}
END_TEST

START_TEST(property_names_and_ranges_follow_the_draft)
{
	ck_assert_str_eq(moq_property_name(0x06), "SUBGROUP_DELIVERY_TIMEOUT");
	ck_assert_str_eq(moq_property_name(0x02), "OBJECT_DELIVERY_TIMEOUT");
	ck_assert_str_eq(moq_property_name(0x04), "MAX_CACHE_DURATION");
	ck_assert_str_eq(moq_property_name(0x0E), "DEFAULT_PUBLISHER_PRIORITY");
	ck_assert_str_eq(moq_property_name(0x22), "DEFAULT_PUBLISHER_GROUP_ORDER");
	ck_assert_str_eq(moq_property_name(0x30), "DYNAMIC_GROUPS");
	ck_assert_str_eq(moq_property_name(0x0B), "IMMUTABLE_PROPERTIES");
	ck_assert_str_eq(moq_property_name(0x3C), "PRIOR_GROUP_ID_GAP");
	ck_assert_str_eq(moq_property_name(0x3E), "PRIOR_OBJECT_ID_GAP");
	ck_assert_ptr_null(moq_property_name(0x3D));
	ck_assert(moq_property_is_application(0x38));
	ck_assert(moq_property_is_application(0x3FFF));
	ck_assert(!moq_property_is_application(0x3C + 0x10));
	ck_assert(moq_property_is_mandatory_track(0x4000));
	ck_assert(!moq_property_is_mandatory_track(0x8000));
	ck_assert_str_eq(moq_object_status_name(3), "END_OF_GROUP");
	ck_assert_ptr_null(moq_object_status_name(1));
}
END_TEST

START_TEST(properties_check_rejects_nested_immutable_and_repeated_gaps)
{
	uint8_t inner[16], outer[32];
	uint64_t prev = 0;
	struct moq_kvp imm = {.type = 0x0B};
	int n;
	/* Immutable { Immutable {} } */
	n = moq_kvp_encode(inner, sizeof(inner), &prev, &imm);
	ck_assert_int_gt(n, 0);
	prev = 0;
	imm.bytes = (struct moq_bytes){inner, (size_t)n};
	int m = moq_kvp_encode(outer, sizeof(outer), &prev, &imm);
	ck_assert_int_eq(moq_kvp_validate(outer, (size_t)m), 1);
	ck_assert_int_eq(moq_object_properties_check(outer, (size_t)m), MOQ_ERR_MALFORMED);
	/* Prior Group ID Gap twice (delta 0 the second time) */
	const uint8_t gaps[] = {0x3C, 0x01, 0x00, 0x02};
	ck_assert_int_eq(moq_object_properties_check(gaps, 4), MOQ_ERR_MALFORMED);
	/* Prior Object ID Gap outside and inside Immutable Properties */
	const uint8_t ogap[] = {0x0B, 0x02, 0x3E, 0x01, 0x33, 0x01};
	ck_assert_int_eq(moq_object_properties_check(ogap, 6), MOQ_ERR_MALFORMED);
	const uint8_t ok[] = {0x0B, 0x02, 0x3E, 0x01, 0x31, 0x01};
	ck_assert_int_eq(moq_object_properties_check(ok, 6), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("subgroup");
	TCase *tc = tcase_create("subgroup");
	tcase_add_test(tc, stream_type_classifies_every_draft_type);
	tcase_add_test(tc, stream_type_outside_the_table_is_unknown);
	tcase_add_test(tc, stream_type_peek_reads_a_non_minimal_type);
	tcase_add_test(tc, data_type_names_match_the_draft);
	tcase_add_test(tc, subgroup_type_and_flags_convert_both_ways_for_all_48_types);
	tcase_add_test(tc, subgroup_reserved_id_mode_types_are_malformed);
	tcase_add_test(tc, subgroup_header_decode_rejects_non_subgroup_types);
	tcase_add_test(tc, subgroup_header_round_trips_every_valid_type);
	tcase_add_test(tc, subgroup_header_every_truncated_prefix_needs_more);
	tcase_add_test(tc, subgroup_header_accepts_non_minimal_varints);
	tcase_add_test(tc, subgroup_header_encode_rejects_reserved_mode_and_stray_subgroup_id);
	tcase_add_test(tc, subgroup_draft_example_stream_decodes);
	tcase_add_test(tc, subgroup_draft_example_with_properties_round_trips);
	tcase_add_test(tc, subgroup_object_id_delta_adds_one_to_the_previous_id);
	tcase_add_test(tc, subgroup_first_object_id_is_the_delta_itself);
	tcase_add_test(tc, subgroup_object_id_overflow_is_malformed);
	tcase_add_test(tc, subgroup_status_objects_round_trip);
	tcase_add_test(tc, subgroup_invalid_object_status_is_malformed);
	tcase_add_test(tc, subgroup_properties_on_a_status_object_are_malformed);
	tcase_add_test(tc, subgroup_bad_kvp_in_properties_is_malformed);
	tcase_add_test(tc, subgroup_properties_longer_than_65535_are_limit);
	tcase_add_test(tc, subgroup_object_every_truncated_prefix_needs_more);
	tcase_add_test(tc, subgroup_object_header_decodes_without_the_payload);
	tcase_add_test(tc, subgroup_id_mode_first_object_takes_the_first_object_id);
	tcase_add_test(tc, subgroup_object_after_end_of_group_status_is_malformed);
	tcase_add_test(tc, subgroup_object_encode_rejects_what_cannot_be_sent);
	tcase_add_test(tc, property_names_and_ranges_follow_the_draft);
	tcase_add_test(tc, properties_check_rejects_nested_immutable_and_repeated_gaps);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
