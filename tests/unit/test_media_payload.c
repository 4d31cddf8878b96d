/* moq/media/payload: the MQP1 test payload (header, CRC32C, filler) that
 * moq-pub sends and moq-sub checks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "media/payload.h"

static struct moq_payload_hdr sample_hdr(uint32_t len)
{
	struct moq_payload_hdr h = {
	    .flags = MOQ_PAYLOAD_F_END_OF_GROUP,
	    .total_len = len,
	    .group_objects = 10,
	    .seq = 123456789,
	    .mono_ns = 1111111111111ull,
	    .real_ns = 1700000000000000000ull,
	    .group_id = 42,
	    .object_id = 9,
	    .subgroup_id = 3,
	};
	return h;
}

START_TEST(crc32c_matches_the_standard_check_value)
{
	/* RFC 3720 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283 */
	ck_assert_uint_eq(moq_crc32c(0, "123456789", 9), 0xE3069283u);
	/* 32 bytes of zeros (RFC 3720 B.4) */
	uint8_t z[32] = {0};
	ck_assert_uint_eq(moq_crc32c(0, z, sizeof z), 0x8A9136AAu);
}
END_TEST

START_TEST(crc32c_can_be_computed_in_pieces)
{
	const char *s = "The quick brown fox jumps over the lazy dog, twice over.";
	size_t n = strlen(s);
	uint32_t whole = moq_crc32c(0, s, n);
	for (size_t cut = 0; cut <= n; cut++)
		ck_assert_uint_eq(moq_crc32c(moq_crc32c(0, s, cut), s + cut, n - cut), whole);
}
END_TEST

START_TEST(synthetic_payload_round_trips_every_field)
{
	uint8_t buf[1000];
	struct moq_payload_hdr h = sample_hdr(sizeof buf), g;
	ck_assert_int_eq(moq_payload_build_synthetic(buf, &h), 0);
	ck_assert_mem_eq(buf, "MQP1", 4);
	ck_assert_int_eq(moq_payload_check(&g, buf, sizeof buf, true), 0);
	ck_assert_uint_eq(g.kind, MOQ_PAYLOAD_SYNTHETIC);
	ck_assert_uint_eq(g.flags, MOQ_PAYLOAD_F_END_OF_GROUP);
	ck_assert_uint_eq(g.total_len, sizeof buf);
	ck_assert_uint_eq(g.group_objects, 10);
	ck_assert_uint_eq(g.seq, 123456789);
	ck_assert_uint_eq(g.mono_ns, 1111111111111ull);
	ck_assert_uint_eq(g.real_ns, 1700000000000000000ull);
	ck_assert_uint_eq(g.group_id, 42);
	ck_assert_uint_eq(g.object_id, 9);
	ck_assert_uint_eq(g.subgroup_id, 3);
	ck_assert_uint_eq(g.crc, h.crc);
}
END_TEST

START_TEST(header_only_payload_is_valid_and_shorter_is_not)
{
	uint8_t buf[MOQ_PAYLOAD_HDR_LEN];
	struct moq_payload_hdr h = sample_hdr(sizeof buf);
	ck_assert_int_eq(moq_payload_build_synthetic(buf, &h), 0);
	ck_assert_int_eq(moq_payload_check(NULL, buf, sizeof buf, true), 0);
	ck_assert_int_eq(moq_payload_check(NULL, buf, sizeof buf - 1, true), MOQ_PAYLOAD_ERR_SHORT);
	h.total_len = MOQ_PAYLOAD_HDR_LEN - 1;
	ck_assert_int_eq(moq_payload_build_synthetic(buf, &h), -1);
}
END_TEST

START_TEST(every_single_bit_flip_is_detected)
{
	uint8_t buf[200];
	struct moq_payload_hdr h = sample_hdr(sizeof buf);
	ck_assert_int_eq(moq_payload_build_synthetic(buf, &h), 0);
	for (size_t i = 0; i < sizeof buf; i++) {
		for (int b = 0; b < 8; b++) {
			buf[i] ^= (uint8_t)(1u << b);
			ck_assert_msg(moq_payload_check(NULL, buf, sizeof buf, false) != 0,
				      "flip of byte %zu bit %d not detected", i, b);
			buf[i] ^= (uint8_t)(1u << b);
		}
	}
	ck_assert_int_eq(moq_payload_check(NULL, buf, sizeof buf, true), 0);
}
END_TEST

START_TEST(truncated_payload_is_a_length_error)
{
	uint8_t buf[300];
	struct moq_payload_hdr h = sample_hdr(sizeof buf);
	moq_payload_build_synthetic(buf, &h);
	ck_assert_int_eq(moq_payload_check(NULL, buf, 299, true), MOQ_PAYLOAD_ERR_LENGTH);
}
END_TEST

START_TEST(foreign_bytes_are_a_magic_error)
{
	uint8_t buf[100];
	memset(buf, 0xab, sizeof buf);
	ck_assert_int_eq(moq_payload_check(NULL, buf, sizeof buf, true), MOQ_PAYLOAD_ERR_MAGIC);
	ck_assert_str_ne(moq_payload_strerror(MOQ_PAYLOAD_ERR_MAGIC), "");
}
END_TEST

START_TEST(resealed_body_with_wrong_filler_is_a_filler_error)
{
	uint8_t buf[128];
	struct moq_payload_hdr h = sample_hdr(sizeof buf);
	moq_payload_build_synthetic(buf, &h);
	buf[100] ^= 1;
	moq_payload_seal(buf, &h); /* CRC now matches the damaged body */
	ck_assert_int_eq(moq_payload_check(NULL, buf, sizeof buf, false), 0);
	ck_assert_int_eq(moq_payload_check(NULL, buf, sizeof buf, true), MOQ_PAYLOAD_ERR_FILLER);
}
END_TEST

START_TEST(filler_depends_on_the_sequence_number)
{
	uint8_t a[64], b[64];
	moq_payload_fill(a, sizeof a, 1);
	moq_payload_fill(b, sizeof b, 2);
	ck_assert(memcmp(a, b, sizeof a) != 0);
	/* and a prefix of a longer fill is the shorter fill */
	uint8_t c[13];
	moq_payload_fill(c, sizeof c, 1);
	ck_assert_mem_eq(a, c, sizeof c);
}
END_TEST

START_TEST(h264_kind_body_is_carried_verbatim)
{
	const uint8_t au[] = {0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x21};
	uint8_t buf[MOQ_PAYLOAD_HDR_LEN + sizeof au];
	memcpy(buf + MOQ_PAYLOAD_HDR_LEN, au, sizeof au);
	struct moq_payload_hdr h = sample_hdr(sizeof buf), g;
	h.kind = MOQ_PAYLOAD_H264;
	h.flags = MOQ_PAYLOAD_F_KEYFRAME;
	ck_assert_int_eq(moq_payload_seal(buf, &h), 0);
	ck_assert_int_eq(moq_payload_check(&g, buf, sizeof buf, true), 0);
	ck_assert_uint_eq(g.kind, MOQ_PAYLOAD_H264);
	ck_assert_mem_eq(moq_payload_body(buf), au, sizeof au);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("media_payload");
	TCase *t = tcase_create("payload");
	tcase_add_test(t, crc32c_matches_the_standard_check_value);
	tcase_add_test(t, crc32c_can_be_computed_in_pieces);
	tcase_add_test(t, synthetic_payload_round_trips_every_field);
	tcase_add_test(t, header_only_payload_is_valid_and_shorter_is_not);
	tcase_add_test(t, every_single_bit_flip_is_detected);
	tcase_add_test(t, truncated_payload_is_a_length_error);
	tcase_add_test(t, foreign_bytes_are_a_magic_error);
	tcase_add_test(t, resealed_body_with_wrong_filler_is_a_filler_error);
	tcase_add_test(t, filler_depends_on_the_sequence_number);
	tcase_add_test(t, h264_kind_body_is_carried_verbatim);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
