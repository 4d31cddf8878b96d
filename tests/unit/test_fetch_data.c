/* FETCH_HEADER and fetch objects (draft-18 "Fetch Header", "Flags", "End of
 * Range"): delta-coded ids against the prior Object, End of Range markers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "moq_err.h"

static const uint8_t props[] = {0x3C, 0x02}; /* Prior Group ID Gap = 2 */

#define OBJ(g, s, o, p)                                                                            \
	{                                                                                          \
		.group_id = (g), .subgroup_id = (s), .object_id = (o), .publisher_priority = (p),  \
		.payload_length = 2, .payload = {                                                  \
			(const uint8_t *)"pl",                                                     \
			2                                                                          \
		}                                                                                  \
	}

/* Encode items with the minimal flags, decode them back, compare. */
static void round_trip(uint8_t order, struct moq_fetch_object *items, size_t n)
{
	uint8_t buf[512];
	size_t off = 0, p = 0;
	struct moq_fetch_ctx enc, dec;
	moq_fetch_ctx_init(&enc, order);
	moq_fetch_ctx_init(&dec, order);
	for (size_t i = 0; i < n; i++) {
		int f = moq_fetch_object_flags(&enc, &items[i]);
		ck_assert_int_ge(f, 0);
		items[i].serialization_flags = (uint64_t)f;
		int w = moq_fetch_object_encode(buf + off, sizeof(buf) - off, &enc, &items[i]);
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	for (size_t i = 0; i < n; i++) {
		struct moq_fetch_object d;
		int r = moq_fetch_object_decode(&d, &dec, buf + p, off - p);
		ck_assert_int_gt(r, 0);
		p += (size_t)r;
		ck_assert_uint_eq(d.serialization_flags, items[i].serialization_flags);
		ck_assert_uint_eq(d.end_of_range, items[i].end_of_range);
		ck_assert_uint_eq(d.group_id, items[i].group_id);
		ck_assert_uint_eq(d.object_id, items[i].object_id);
		if (d.end_of_range)
			continue;
		ck_assert_int_eq(d.datagram, items[i].datagram);
		if (!d.datagram)
			ck_assert_uint_eq(d.subgroup_id, items[i].subgroup_id);
		ck_assert_uint_eq(d.publisher_priority, items[i].publisher_priority);
		ck_assert_uint_eq(d.properties.len, items[i].properties.len);
		ck_assert_uint_eq(d.payload_length, items[i].payload_length);
		ck_assert_mem_eq(d.payload.ptr, items[i].payload.ptr, d.payload.len);
	}
	ck_assert_uint_eq(p, off);
}

START_TEST(fetch_header_round_trips)
{
	struct moq_fetch_header h = {.request_id = 1000}, d;
	uint8_t buf[16];
	int n = moq_fetch_header_encode(buf, sizeof(buf), &h);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(buf[0], 0x05);
	ck_assert_int_eq(moq_fetch_header_decode(&d, buf, 3), 3);
	ck_assert_uint_eq(d.type, 0x05);
	ck_assert_uint_eq(d.request_id, 1000);
	for (int k = 0; k < n; k++)
		ck_assert_int_eq(moq_fetch_header_decode(&d, buf, (size_t)k), MOQ_ERR_NEED_MORE);
}
END_TEST

START_TEST(fetch_header_with_another_type_is_unknown)
{
	const uint8_t in[] = {0x14, 0x01};
	struct moq_fetch_header d;
	ck_assert_int_eq(moq_fetch_header_decode(&d, in, 2), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(fetch_objects_round_trip_in_ascending_group_order)
{
	struct moq_fetch_object items[] = {
	    OBJ(5, 0, 0, 10),  /* first: absolute ids */
	    OBJ(5, 0, 1, 10),  /* all from the prior object */
	    OBJ(5, 1, 4, 10),  /* subgroup prior + 1, object delta */
	    OBJ(5, 1, 5, 20),  /* priority changes */
	    OBJ(9, 77, 0, 20), /* group delta 3, subgroup present */
	    OBJ(9, 77, 1, 20), OBJ(10, 0, 0, 20),
	};
	items[3].has_properties = true;
	items[3].properties = (struct moq_bytes){props, sizeof(props)};
	items[5].datagram = true;
	round_trip(MOQ_GROUP_ORDER_ASCENDING, items, 7);
}
END_TEST

START_TEST(fetch_objects_round_trip_in_descending_group_order)
{
	struct moq_fetch_object items[] = {
	    OBJ(9, 2, 3, 1), OBJ(9, 2, 4, 1), OBJ(4, 2, 0, 1), OBJ(3, 3, 8, 2), OBJ(0, 0, 0, 2),
	};
	round_trip(MOQ_GROUP_ORDER_DESCENDING, items, 5);
}
END_TEST

START_TEST(fetch_end_of_range_markers_round_trip_between_objects)
{
	struct moq_fetch_object items[] = {
	    OBJ(1, 0, 0, 3),
	    {.end_of_range = MOQ_FETCH_NON_EXISTENT_RANGE, .group_id = 1, .object_id = 9},
	    OBJ(1, 0, 10, 3), /* prior object id from the marker */
	    {.end_of_range = MOQ_FETCH_UNKNOWN_RANGE, .group_id = 4, .object_id = 2},
	    OBJ(5, 0, 0, 3),
	};
	round_trip(MOQ_GROUP_ORDER_ASCENDING, items, 5);
}
END_TEST

START_TEST(fetch_minimal_flags_omit_what_the_prior_object_gives)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object a = OBJ(5, 0, 0, 10), b = OBJ(5, 0, 1, 10);
	uint8_t buf[32];
	moq_fetch_ctx_init(&c, 0);
	ck_assert_int_eq(moq_fetch_object_flags(&c, &a), 0x1C);
	a.serialization_flags = 0x1C;
	ck_assert_int_gt(moq_fetch_object_encode(buf, sizeof(buf), &c, &a), 0);
	ck_assert_int_eq(moq_fetch_object_flags(&c, &b), 0x00);
	b.subgroup_id = 1;
	ck_assert_int_eq(moq_fetch_object_flags(&c, &b), 0x02);
	b.subgroup_id = 0;
	b.datagram = true;
	ck_assert_int_eq(moq_fetch_object_flags(&c, &b), 0x40);
	b.datagram = false;
	b.group_id = 4; /* behind the prior group in ascending order */
	ck_assert_int_eq(moq_fetch_object_flags(&c, &b), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(fetch_end_of_range_has_absolute_ids_and_no_length)
{
	/* 0x8C (2-byte vi64), group 7, object 9: nothing else */
	const uint8_t in[] = {0x80, 0x8C, 0x07, 0x09, 0xFF};
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	moq_fetch_ctx_init(&c, 0);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, in, sizeof(in)), 4);
	ck_assert_uint_eq(o.end_of_range, MOQ_FETCH_NON_EXISTENT_RANGE);
	ck_assert_uint_eq(o.group_id, 7);
	ck_assert_uint_eq(o.object_id, 9);
	ck_assert_uint_eq(o.payload_length, 0);
	ck_assert(c.have_prior && !c.have_prior_object);
	const uint8_t unk[] = {0x81, 0x0C, 0x07, 0x09};
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, unk, 4), 4);
	ck_assert_uint_eq(o.end_of_range, MOQ_FETCH_UNKNOWN_RANGE);
}
END_TEST

START_TEST(fetch_object_after_end_of_range_keeps_the_last_objects_subgroup_and_priority)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	/* object g2 sg6 o1 prio 33; End of Range (2,5); next flags 0x01:
	 * same group, object prior + 1, prior subgroup, prior priority */
	const uint8_t in[] = {0x1F, 0x02, 0x06, 0x01, 0x21, 0x00,
			      0x80, 0x8C, 0x02, 0x05, 0x01, 0x00};
	size_t p = 0;
	int n;
	moq_fetch_ctx_init(&c, 0);
	n = moq_fetch_object_decode(&o, &c, in, sizeof(in));
	ck_assert_int_eq(n, 6);
	p += (size_t)n;
	n = moq_fetch_object_decode(&o, &c, in + p, sizeof(in) - p);
	ck_assert_int_eq(n, 4);
	p += (size_t)n;
	n = moq_fetch_object_decode(&o, &c, in + p, sizeof(in) - p);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(o.group_id, 2);
	ck_assert_uint_eq(o.object_id, 6);
	ck_assert_uint_eq(o.subgroup_id, 6);
	ck_assert_uint_eq(o.publisher_priority, 0x21);
}
END_TEST

START_TEST(fetch_prior_references_without_a_prior_object_are_malformed)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	/* first item: no group delta / no object delta / no priority /
	 * prior subgroup */
	const uint8_t no_group[] = {0x14, 0x00, 0x01, 0x00};
	const uint8_t no_object[] = {0x18, 0x00, 0x01, 0x00};
	const uint8_t no_prio[] = {0x0C, 0x00, 0x00, 0x00};
	const uint8_t prior_sg[] = {0x1D, 0x00, 0x00, 0x01, 0x00};
	moq_fetch_ctx_init(&c, 0);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, no_group, 4), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, no_object, 4), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, no_prio, 4), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, prior_sg, 5), MOQ_ERR_MALFORMED);
	/* after an End of Range but before any object: still no prior
	 * subgroup or priority */
	const uint8_t eor[] = {0x80, 0x8C, 0x00, 0x05};
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, eor, 4), 4);
	const uint8_t after_sg[] = {0x11, 0x07, 0x00};
	const uint8_t after_prio[] = {0x00, 0x00};
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, after_sg, 3), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, after_prio, 2), MOQ_ERR_MALFORMED);
	const uint8_t ok[] = {0x10, 0x07, 0x00};
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, ok, 3), 3);
	ck_assert_uint_eq(o.object_id, 6);
}
END_TEST

START_TEST(fetch_prior_subgroup_after_a_datagram_object_is_malformed)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	/* datagram object (0x5C: group, object, priority), then flags 0x01 */
	const uint8_t dg[] = {0x5C, 0x01, 0x00, 0x02, 0x00};
	const uint8_t next[] = {0x01, 0x00};
	moq_fetch_ctx_init(&c, 0);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, dg, 5), 5);
	ck_assert(o.datagram);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, next, 2), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(fetch_datagram_flag_ignores_the_subgroup_bits)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	/* 0x5F: datagram with subgroup mode 3: no Subgroup ID on the wire */
	const uint8_t in[] = {0x5F, 0x01, 0x02, 0x03, 0x00};
	moq_fetch_ctx_init(&c, 0);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, in, 5), 5);
	ck_assert_uint_eq(o.group_id, 1);
	ck_assert_uint_eq(o.object_id, 2);
	ck_assert_uint_eq(o.publisher_priority, 3);
}
END_TEST

START_TEST(fetch_serialization_flags_above_0x7f_are_malformed)
{
	const uint64_t bad[] = {0x80, 0x8B, 0x8D, 0x10B, 0x10D, 0x20C, 0x3FFF};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t in[8] = {
		    (uint8_t)(0x80 | (bad[i] >> 8)), (uint8_t)bad[i], 0, 0, 0, 0, 0, 0};
		struct moq_fetch_ctx c;
		struct moq_fetch_object o;
		moq_fetch_ctx_init(&c, 0);
		ck_assert_int_eq(moq_fetch_object_decode(&o, &c, in, sizeof(in)),
				 MOQ_ERR_MALFORMED);
	}
}
END_TEST

START_TEST(fetch_group_id_delta_adds_one_in_either_order)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	const uint8_t first[] = {0x1C, 0x0A, 0x00, 0x00, 0x00}; /* g10 o0 */
	const uint8_t next[] = {0x08, 0x02, 0x00};		/* delta 2 */
	moq_fetch_ctx_init(&c, MOQ_GROUP_ORDER_ASCENDING);
	moq_fetch_object_decode(&o, &c, first, 5);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, next, 3), 3);
	ck_assert_uint_eq(o.group_id, 13);
	ck_assert_uint_eq(o.object_id, 1); /* no object delta: prior + 1 */
	moq_fetch_ctx_init(&c, MOQ_GROUP_ORDER_DESCENDING);
	moq_fetch_object_decode(&o, &c, first, 5);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, next, 3), 3);
	ck_assert_uint_eq(o.group_id, 7);
}
END_TEST

START_TEST(fetch_group_id_out_of_range_is_malformed)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	const uint8_t first[] = {0x1C, 0x02, 0x00, 0x00, 0x00}; /* g2 */
	const uint8_t under[] = {0x08, 0x02, 0x00};		/* 2 - 3 */
	moq_fetch_ctx_init(&c, MOQ_GROUP_ORDER_DESCENDING);
	moq_fetch_object_decode(&o, &c, first, 5);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, under, 3), MOQ_ERR_MALFORMED);
	moq_fetch_ctx_init(&c, MOQ_GROUP_ORDER_ASCENDING);
	c.have_prior = c.have_prior_object = true;
	c.prior_group_id = UINT64_MAX;
	const uint8_t over[] = {0x08, 0x00, 0x00};
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, over, 3), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(fetch_object_id_overflow_is_malformed)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	const uint8_t plus_one[] = {0x00, 0x00};
	const uint8_t delta[] = {0x04, 0x01, 0x00};
	moq_fetch_ctx_init(&c, 0);
	c.have_prior = c.have_prior_object = true;
	c.prior_object_id = UINT64_MAX;
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, plus_one, 2), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, delta, 3), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(fetch_object_id_delta_in_the_same_group_is_added_as_is)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	const uint8_t first[] = {0x1C, 0x00, 0x03, 0x00, 0x00}; /* g0 o3 */
	const uint8_t next[] = {0x04, 0x02, 0x00};		/* +2 */
	moq_fetch_ctx_init(&c, 0);
	moq_fetch_object_decode(&o, &c, first, 5);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, next, 3), 3);
	ck_assert_uint_eq(o.object_id, 5);
}
END_TEST

START_TEST(fetch_zero_length_object_has_no_status_field)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	/* first object with payload length 0, then a second item right away */
	const uint8_t in[] = {0x1C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	moq_fetch_ctx_init(&c, 0);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, in, sizeof(in)), 5);
	ck_assert_uint_eq(o.payload_length, 0);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, in + 5, 2), 2);
	ck_assert_uint_eq(o.object_id, 1);
}
END_TEST

START_TEST(fetch_bad_kvp_in_properties_is_malformed)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object o;
	/* properties length 1 holding a lone odd type */
	const uint8_t in[] = {0x3C, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00};
	const uint8_t big[] = {0x3C, 0x00, 0x00, 0x00, 0xC1, 0x00, 0x00};
	moq_fetch_ctx_init(&c, 0);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, in, sizeof(in)), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_fetch_object_decode(&o, &c, big, sizeof(big)), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(fetch_every_truncated_prefix_needs_more)
{
	struct moq_fetch_object items[] = {
	    OBJ(300, 70000, 2, 10),
	    OBJ(300, 70000, 3, 10),
	    {.end_of_range = MOQ_FETCH_UNKNOWN_RANGE, .group_id = 301, .object_id = 4},
	    OBJ(302, 70001, 9, 11),
	};
	items[3].has_properties = true;
	items[3].properties = (struct moq_bytes){props, sizeof(props)};
	struct moq_fetch_ctx enc, dec;
	moq_fetch_ctx_init(&enc, 0);
	moq_fetch_ctx_init(&dec, 0);
	for (size_t i = 0; i < 4; i++) {
		uint8_t buf[64];
		struct moq_fetch_object d;
		items[i].serialization_flags = (uint64_t)moq_fetch_object_flags(&enc, &items[i]);
		if (items[i].end_of_range) {
			items[i].payload_length = 0;
			items[i].payload.len = 0;
		}
		int n = moq_fetch_object_encode(buf, sizeof(buf), &enc, &items[i]);
		ck_assert_int_gt(n, 0);
		for (int k = 0; k < n; k++) {
			struct moq_fetch_ctx tmp = dec;
			ck_assert_int_eq(moq_fetch_object_decode(&d, &tmp, buf, (size_t)k),
					 MOQ_ERR_NEED_MORE);
		}
		ck_assert_int_eq(moq_fetch_object_decode(&d, &dec, buf, (size_t)n), n);
	}
}
END_TEST

START_TEST(fetch_encode_rejects_flags_that_cannot_express_the_object)
{
	struct moq_fetch_ctx c;
	struct moq_fetch_object a = OBJ(5, 0, 0, 10), b = OBJ(5, 3, 1, 10);
	uint8_t buf[32];
	moq_fetch_ctx_init(&c, 0);
	a.serialization_flags = 0x10; /* first object without ids */
	ck_assert_int_eq(moq_fetch_object_encode(buf, sizeof(buf), &c, &a), MOQ_ERR_INVALID);
	a.serialization_flags = 0x1C;
	ck_assert_int_gt(moq_fetch_object_encode(buf, sizeof(buf), &c, &a), 0);
	b.serialization_flags = 0x00; /* subgroup 3 is not 0 */
	ck_assert_int_eq(moq_fetch_object_encode(buf, sizeof(buf), &c, &b), MOQ_ERR_INVALID);
	b.serialization_flags = 0x80; /* not a flag value */
	ck_assert_int_eq(moq_fetch_object_encode(buf, sizeof(buf), &c, &b), MOQ_ERR_INVALID);
	b.serialization_flags = 0x03;
	b.payload_length = 3; /* payload view of 2 bytes */
	ck_assert_int_eq(moq_fetch_object_encode(buf, sizeof(buf), &c, &b), MOQ_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fetch_data");
	TCase *tc = tcase_create("fetch_data");
	tcase_add_test(tc, fetch_header_round_trips);
	tcase_add_test(tc, fetch_header_with_another_type_is_unknown);
	tcase_add_test(tc, fetch_objects_round_trip_in_ascending_group_order);
	tcase_add_test(tc, fetch_objects_round_trip_in_descending_group_order);
	tcase_add_test(tc, fetch_end_of_range_markers_round_trip_between_objects);
	tcase_add_test(tc, fetch_minimal_flags_omit_what_the_prior_object_gives);
	tcase_add_test(tc, fetch_end_of_range_has_absolute_ids_and_no_length);
	tcase_add_test(
	    tc, fetch_object_after_end_of_range_keeps_the_last_objects_subgroup_and_priority);
	tcase_add_test(tc, fetch_prior_references_without_a_prior_object_are_malformed);
	tcase_add_test(tc, fetch_prior_subgroup_after_a_datagram_object_is_malformed);
	tcase_add_test(tc, fetch_datagram_flag_ignores_the_subgroup_bits);
	tcase_add_test(tc, fetch_serialization_flags_above_0x7f_are_malformed);
	tcase_add_test(tc, fetch_group_id_delta_adds_one_in_either_order);
	tcase_add_test(tc, fetch_group_id_out_of_range_is_malformed);
	tcase_add_test(tc, fetch_object_id_overflow_is_malformed);
	tcase_add_test(tc, fetch_object_id_delta_in_the_same_group_is_added_as_is);
	tcase_add_test(tc, fetch_zero_length_object_has_no_status_field);
	tcase_add_test(tc, fetch_bad_kvp_in_properties_is_malformed);
	tcase_add_test(tc, fetch_every_truncated_prefix_needs_more);
	tcase_add_test(tc, fetch_encode_rejects_flags_that_cannot_express_the_object);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
