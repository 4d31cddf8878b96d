/* MoQT vi64 and QUIC varint: the draft's example table, widths, truncation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moq_err.h"
#include "varint.h"

struct vi_example {
	const char *hex;
	uint64_t value;
};

/* draft-ietf-moq-transport-18, "Example Integer Encodings" */
static const struct vi_example examples[] = {
    {"25", 37},
    {"8025", 37},
    {"bbbd", 15293},
    {"ed7f3e7d", 226442877},
    {"faa1a0e403d8", 2893212287960ull},
    {"fc8998abc66bc0", 151288809941952ull},
    {"fefa318fa8e3ca11", 70423237261249041ull},
    {"ffffffffffffffffff", 18446744073709551615ull},
};

static size_t unhex(uint8_t *out, const char *hex)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		char b[3] = {hex[2 * i], hex[2 * i + 1], 0};
		out[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return n;
}

START_TEST(vi_decodes_draft_examples)
{
	uint8_t buf[16];
	size_t n = unhex(buf, examples[_i].hex);
	uint64_t v = 0;
	ck_assert_int_eq(moq_vi_decode(&v, buf, n), (int)n);
	ck_assert_uint_eq(v, examples[_i].value);
}
END_TEST

START_TEST(vi_reencodes_draft_examples_at_same_width)
{
	uint8_t buf[16], out[16];
	size_t n = unhex(buf, examples[_i].hex);
	ck_assert_int_eq(moq_vi_encode_width(out, sizeof(out), examples[_i].value, n), (int)n);
	ck_assert_mem_eq(out, buf, n);
}
END_TEST

START_TEST(vi_truncated_prefix_needs_more)
{
	uint8_t buf[16];
	size_t n = unhex(buf, examples[_i].hex);
	uint64_t v;
	for (size_t k = 0; k < n; k++)
		ck_assert_int_eq(moq_vi_decode(&v, buf, k), MOQ_ERR_NEED_MORE);
}
END_TEST

START_TEST(vi_minimal_width_boundaries)
{
	for (size_t w = 1; w <= 8; w++) {
		uint64_t max = (1ull << (7 * w)) - 1;
		ck_assert_uint_eq(moq_vi_len(max), w);
		ck_assert_uint_eq(moq_vi_len(max + 1), w + 1);
		uint8_t out[9];
		uint64_t v;
		ck_assert_int_eq(moq_vi_encode(out, sizeof(out), max), (int)w);
		ck_assert_int_eq(moq_vi_decode(&v, out, w), (int)w);
		ck_assert_uint_eq(v, max);
		ck_assert_int_eq(moq_vi_encode_width(out, sizeof(out), max + 1, w), MOQ_ERR_RANGE);
	}
}
END_TEST

START_TEST(vi_encode_rejects_small_buffer_and_bad_width)
{
	uint8_t out[9];
	ck_assert_int_eq(moq_vi_encode(out, 1, 200), MOQ_ERR_BUFFER);
	ck_assert_int_eq(moq_vi_encode_width(out, 9, 1, 0), MOQ_ERR_INVALID);
	ck_assert_int_eq(moq_vi_encode_width(out, 9, 1, 10), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(quic_varint_rfc9000_examples)
{
	/* RFC 9000 appendix A.1 */
	static const struct vi_example q[] = {
	    {"c2197c5eff14e88c", 151288809941952652ull},
	    {"9d7f3e7d", 494878333},
	    {"7bbd", 15293},
	    {"25", 37},
	    {"4025", 37},
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		uint8_t buf[8], out[8];
		size_t n = unhex(buf, q[i].hex);
		uint64_t v;
		ck_assert_int_eq(quic_varint_decode(&v, buf, n), (int)n);
		ck_assert_uint_eq(v, q[i].value);
		ck_assert_int_eq(quic_varint_decode(&v, buf, n - 1), MOQ_ERR_NEED_MORE);
		ck_assert_int_eq(quic_varint_encode_width(out, 8, q[i].value, n), (int)n);
		ck_assert_mem_eq(out, buf, n);
	}
}
END_TEST

START_TEST(quic_varint_four_byte_stream_id)
{
	/* The plaintext profile writes stream IDs as 4-byte varints. */
	uint8_t out[4];
	uint64_t v;
	ck_assert_int_eq(quic_varint_encode_width(out, 4, 2, 4), 4);
	ck_assert_uint_eq(out[0], 0x80);
	ck_assert_int_eq(quic_varint_decode(&v, out, 4), 4);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(quic_varint_encode(out, 4, QUIC_VARINT_MAX + 1), MOQ_ERR_RANGE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("varint");
	TCase *tc = tcase_create("vi64");
	int n = (int)(sizeof(examples) / sizeof(examples[0]));
	tcase_add_loop_test(tc, vi_decodes_draft_examples, 0, n);
	tcase_add_loop_test(tc, vi_reencodes_draft_examples_at_same_width, 0, n);
	tcase_add_loop_test(tc, vi_truncated_prefix_needs_more, 0, n);
	tcase_add_test(tc, vi_minimal_width_boundaries);
	tcase_add_test(tc, vi_encode_rejects_small_buffer_and_bad_width);
	suite_add_tcase(s, tc);
	TCase *q = tcase_create("quic");
	tcase_add_test(q, quic_varint_rfc9000_examples);
	tcase_add_test(q, quic_varint_four_byte_stream_id);
	suite_add_tcase(s, q);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
