/* OBJECT_DATAGRAM (every type variant) and padding datagrams (draft-18
 * "Object Datagram", "Padding Datagrams"). A datagram is a complete unit:
 * a truncated one is malformed, never "need more". */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "moq_err.h"

static const uint8_t valid_types[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				      0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
				      0x20, 0x21, 0x24, 0x25, 0x28, 0x29, 0x2C, 0x2D};
static const uint8_t invalid_types[] = {0x22, 0x23, 0x26, 0x27, 0x2A, 0x2B, 0x2E, 0x2F};
static const uint8_t props[] = {0x02, 0x05, 0x3B, 0x02, 'h', 'i'};

/* A datagram with every field its type calls for. */
static struct moq_object_datagram datagram_for_type(unsigned t)
{
	struct moq_object_datagram d = {0};
	ck_assert_int_eq(moq_object_datagram_flags(&d, t), 0);
	d.track_alias = 7;
	d.group_id = 1234;
	if (!d.zero_object_id)
		d.object_id = 99;
	if (!d.default_priority)
		d.publisher_priority = 42;
	if (d.has_properties)
		d.properties = (struct moq_bytes){props, sizeof(props)};
	if (d.has_status)
		d.object_status =
		    d.has_properties ? MOQ_OBJECT_STATUS_NORMAL : MOQ_OBJECT_STATUS_END_OF_TRACK;
	else
		d.payload = (struct moq_bytes){(const uint8_t *)"hello", 5};
	return d;
}

START_TEST(datagram_type_classification_matches_the_draft)
{
	int valid = 0;
	for (unsigned t = 0; t < 0x100; t++) {
		int rc = moq_datagram_type_classify(t);
		if (memchr(valid_types, (int)t, sizeof(valid_types))) {
			ck_assert_int_eq(rc, MOQ_DATA_OBJECT_DATAGRAM);
			valid++;
		} else if (memchr(invalid_types, (int)t, sizeof(invalid_types))) {
			ck_assert_int_eq(rc, MOQ_ERR_MALFORMED);
		} else {
			ck_assert_int_eq(rc, MOQ_ERR_UNKNOWN_TYPE);
		}
	}
	ck_assert_int_eq(valid, 24);
	ck_assert_int_eq(moq_datagram_type_classify(0x132B3E29), MOQ_DATA_PADDING_DATAGRAM);
	ck_assert_int_eq(moq_datagram_type_classify(0x132B3E28), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(datagram_type_and_flags_convert_both_ways)
{
	for (size_t i = 0; i < sizeof(valid_types); i++) {
		struct moq_object_datagram d = {0};
		unsigned t = valid_types[i];
		ck_assert_int_eq(moq_object_datagram_flags(&d, t), 0);
		ck_assert_int_eq(d.has_properties, !!(t & 0x01));
		ck_assert_int_eq(d.end_of_group, !!(t & 0x02));
		ck_assert_int_eq(d.zero_object_id, !!(t & 0x04));
		ck_assert_int_eq(d.default_priority, !!(t & 0x08));
		ck_assert_int_eq(d.has_status, !!(t & 0x20));
		ck_assert_int_eq(moq_object_datagram_type(&d), (int)t);
	}
}
END_TEST

START_TEST(datagram_round_trips_every_valid_type)
{
	for (size_t i = 0; i < sizeof(valid_types); i++) {
		struct moq_object_datagram d = datagram_for_type(valid_types[i]), g;
		uint8_t buf[64];
		int n = moq_object_datagram_encode(buf, sizeof(buf), &d);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(buf[0], valid_types[i]);
		ck_assert_int_eq(moq_object_datagram_decode(&g, buf, (size_t)n), n);
		ck_assert_uint_eq(g.type, valid_types[i]);
		ck_assert_uint_eq(g.track_alias, 7);
		ck_assert_uint_eq(g.group_id, 1234);
		ck_assert_uint_eq(g.object_id, d.object_id);
		ck_assert_uint_eq(g.publisher_priority, d.publisher_priority);
		ck_assert_uint_eq(g.properties.len, d.properties.len);
		if (d.properties.len)
			ck_assert_mem_eq(g.properties.ptr, props, sizeof(props));
		ck_assert_uint_eq(g.object_status, d.object_status);
		ck_assert_uint_eq(g.payload.len, d.payload.len);
		if (d.payload.len)
			ck_assert_mem_eq(g.payload.ptr, "hello", 5);
	}
}
END_TEST

START_TEST(datagram_truncated_before_the_payload_is_malformed)
{
	for (size_t i = 0; i < sizeof(valid_types); i++) {
		struct moq_object_datagram d = datagram_for_type(valid_types[i]), g;
		uint8_t buf[64];
		int n = moq_object_datagram_encode(buf, sizeof(buf), &d);
		int hdr = n - (int)d.payload.len;
		for (int k = 0; k < hdr; k++)
			ck_assert_int_eq(moq_object_datagram_decode(&g, buf, (size_t)k),
					 MOQ_ERR_MALFORMED);
	}
}
END_TEST

START_TEST(datagram_payload_is_the_rest_of_the_datagram)
{
	/* type 0x0C: no object id, no priority; alias 1, group 2, payload
	 * "xyz"; a cut in the payload is just a shorter payload */
	const uint8_t in[] = {0x0C, 0x01, 0x02, 'x', 'y', 'z'};
	struct moq_object_datagram d;
	ck_assert_int_eq(moq_object_datagram_decode(&d, in, 6), 6);
	ck_assert_uint_eq(d.object_id, 0);
	ck_assert_uint_eq(d.payload.len, 3);
	ck_assert_ptr_eq(d.payload.ptr, in + 3);
	ck_assert_int_eq(moq_object_datagram_decode(&d, in, 3), 3);
	ck_assert_uint_eq(d.payload.len, 0);
}
END_TEST

START_TEST(datagram_invalid_types_are_rejected)
{
	for (size_t i = 0; i < sizeof(invalid_types); i++) {
		uint8_t in[] = {invalid_types[i], 1, 2, 3, 4, 5};
		struct moq_object_datagram d;
		ck_assert_int_eq(moq_object_datagram_decode(&d, in, sizeof(in)), MOQ_ERR_MALFORMED);
	}
	const uint8_t other[] = {0x10, 1, 2, 3};
	struct moq_object_datagram d;
	ck_assert_int_eq(moq_object_datagram_decode(&d, other, 4), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(datagram_properties_length_zero_is_malformed)
{
	/* type 0x0D: properties, no object id, no priority */
	const uint8_t in[] = {0x0D, 0x01, 0x02, 0x00, 'p'};
	struct moq_object_datagram d;
	ck_assert_int_eq(moq_object_datagram_decode(&d, in, sizeof(in)), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(datagram_status_with_properties_must_be_normal)
{
	/* type 0x2D: status + properties; properties {type 2 = 1} */
	const uint8_t eog[] = {0x2D, 0x01, 0x02, 0x02, 0x02, 0x01, 0x03};
	const uint8_t normal[] = {0x2D, 0x01, 0x02, 0x02, 0x02, 0x01, 0x00};
	struct moq_object_datagram d;
	ck_assert_int_eq(moq_object_datagram_decode(&d, eog, sizeof(eog)), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_object_datagram_decode(&d, normal, sizeof(normal)),
			 (int)sizeof(normal));
	ck_assert(d.has_status);
	ck_assert_uint_eq(d.object_status, 0);
}
END_TEST

START_TEST(datagram_invalid_status_is_malformed)
{
	const uint8_t bad[] = {0x01, 0x02, 0x05, 0x7F};
	for (size_t i = 0; i < sizeof(bad); i++) {
		const uint8_t in[] = {0x2C, 0x01, 0x02, bad[i]};
		struct moq_object_datagram d;
		ck_assert_int_eq(moq_object_datagram_decode(&d, in, sizeof(in)), MOQ_ERR_MALFORMED);
	}
}
END_TEST

START_TEST(datagram_bytes_after_the_status_are_malformed)
{
	const uint8_t in[] = {0x2C, 0x01, 0x02, 0x04, 0x00};
	struct moq_object_datagram d;
	ck_assert_int_eq(moq_object_datagram_decode(&d, in, sizeof(in)), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_object_datagram_decode(&d, in, 4), 4);
	ck_assert_uint_eq(d.object_status, MOQ_OBJECT_STATUS_END_OF_TRACK);
}
END_TEST

START_TEST(datagram_bad_kvp_in_properties_is_malformed)
{
	/* properties length 3: odd type 1, length 4, one byte */
	const uint8_t in[] = {0x0D, 0x01, 0x02, 0x03, 0x01, 0x04, 'a', 'p'};
	/* properties length 65536: over the limit */
	const uint8_t big[] = {0x0D, 0x01, 0x02, 0xC1, 0x00, 0x00, 'p'};
	struct moq_object_datagram d;
	ck_assert_int_eq(moq_object_datagram_decode(&d, in, sizeof(in)), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_object_datagram_decode(&d, big, sizeof(big)), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(datagram_zero_object_id_type_omits_the_field)
{
	struct moq_object_datagram d = datagram_for_type(0x04);
	uint8_t buf[32];
	/* type, alias, group (2 bytes), priority, "hello" */
	ck_assert_int_eq(moq_object_datagram_encode(buf, sizeof(buf), &d), 10);
	d.object_id = 1;
	ck_assert_int_eq(moq_object_datagram_encode(buf, sizeof(buf), &d), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(datagram_encode_rejects_what_the_decoder_would_refuse)
{
	uint8_t buf[64];
	struct moq_object_datagram d = datagram_for_type(0x20);
	d.end_of_group = true; /* STATUS + END_OF_GROUP */
	ck_assert_int_eq(moq_object_datagram_encode(buf, sizeof(buf), &d), MOQ_ERR_INVALID);
	d = datagram_for_type(0x01);
	d.properties.len = 0; /* PROPERTIES with an empty block */
	ck_assert_int_eq(moq_object_datagram_encode(buf, sizeof(buf), &d), MOQ_ERR_INVALID);
	d = datagram_for_type(0x21);
	d.object_status = MOQ_OBJECT_STATUS_END_OF_GROUP; /* props, not Normal */
	ck_assert_int_eq(moq_object_datagram_encode(buf, sizeof(buf), &d), MOQ_ERR_INVALID);
	d = datagram_for_type(0x20);
	d.object_status = 1;
	ck_assert_int_eq(moq_object_datagram_encode(buf, sizeof(buf), &d), MOQ_ERR_INVALID);
	d = datagram_for_type(0x20);
	d.payload = (struct moq_bytes){(const uint8_t *)"x", 1};
	ck_assert_int_eq(moq_object_datagram_encode(buf, sizeof(buf), &d), MOQ_ERR_INVALID);
	d = datagram_for_type(0x00);
	ck_assert_int_eq(moq_object_datagram_encode(buf, 5, &d), MOQ_ERR_BUFFER);
}
END_TEST

START_TEST(padding_datagram_round_trips_and_is_not_an_object)
{
	uint8_t buf[32];
	size_t pad = 0;
	struct moq_object_datagram d;
	int n = moq_padding_datagram_encode(buf, sizeof(buf), 10);
	ck_assert_int_eq(n, 5 + 10); /* the type needs a 5-byte vi64 */
	ck_assert_int_eq(moq_datagram_type_classify(0x132B3E29), MOQ_DATA_PADDING_DATAGRAM);
	ck_assert_int_eq(moq_padding_datagram_decode(&pad, buf, (size_t)n), n);
	ck_assert_uint_eq(pad, 10);
	ck_assert_int_eq(moq_object_datagram_decode(&d, buf, (size_t)n), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(padding_datagram_with_a_nonzero_byte_is_malformed)
{
	uint8_t buf[32];
	int n = moq_padding_datagram_encode(buf, sizeof(buf), 6);
	buf[n - 1] = 1;
	ck_assert_int_eq(moq_padding_datagram_decode(NULL, buf, (size_t)n), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_padding_datagram_decode(NULL, buf, 3), MOQ_ERR_MALFORMED);
	const uint8_t obj[] = {0x00, 0x01};
	ck_assert_int_eq(moq_padding_datagram_decode(NULL, obj, 2), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("datagram");
	TCase *tc = tcase_create("datagram");
	tcase_add_test(tc, datagram_type_classification_matches_the_draft);
	tcase_add_test(tc, datagram_type_and_flags_convert_both_ways);
	tcase_add_test(tc, datagram_round_trips_every_valid_type);
	tcase_add_test(tc, datagram_truncated_before_the_payload_is_malformed);
	tcase_add_test(tc, datagram_payload_is_the_rest_of_the_datagram);
	tcase_add_test(tc, datagram_invalid_types_are_rejected);
	tcase_add_test(tc, datagram_properties_length_zero_is_malformed);
	tcase_add_test(tc, datagram_status_with_properties_must_be_normal);
	tcase_add_test(tc, datagram_invalid_status_is_malformed);
	tcase_add_test(tc, datagram_bytes_after_the_status_are_malformed);
	tcase_add_test(tc, datagram_bad_kvp_in_properties_is_malformed);
	tcase_add_test(tc, datagram_zero_object_id_type_omits_the_field);
	tcase_add_test(tc, datagram_encode_rejects_what_the_decoder_would_refuse);
	tcase_add_test(tc, padding_datagram_round_trips_and_is_not_an_object);
	tcase_add_test(tc, padding_datagram_with_a_nonzero_byte_is_malformed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
