/* Key-Value-Pairs: delta types, even/odd values, limits, bounded blocks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kvp.h"
#include "moq_err.h"

START_TEST(kvp_round_trip_delta_encoded_types)
{
	uint8_t buf[64];
	uint64_t prev = 0;
	const uint8_t blob[] = {1, 2, 3};
	struct moq_kvp in[3] = {
	    {.type = 2, .value = 300},
	    {.type = 3, .bytes = {blob, 3}},
	    {.type = 10, .value = 0},
	};
	size_t off = 0;
	for (int i = 0; i < 3; i++) {
		int n = moq_kvp_encode(buf + off, sizeof(buf) - off, &prev, &in[i]);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	/* second pair's delta type is 1, third's is 7 */
	ck_assert_uint_eq(buf[0], 2);
	struct moq_kvp_iter it;
	struct moq_kvp kv;
	moq_kvp_iter_init(&it, buf, off);
	ck_assert_int_eq(moq_kvp_next(&it, &kv), 1);
	ck_assert_uint_eq(kv.type, 2);
	ck_assert_uint_eq(kv.value, 300);
	ck_assert_int_eq(moq_kvp_next(&it, &kv), 1);
	ck_assert_uint_eq(kv.type, 3);
	ck_assert_uint_eq(kv.bytes.len, 3);
	ck_assert_mem_eq(kv.bytes.ptr, blob, 3);
	ck_assert_int_eq(moq_kvp_next(&it, &kv), 1);
	ck_assert_uint_eq(kv.type, 10);
	ck_assert_int_eq(moq_kvp_next(&it, &kv), 0);
	ck_assert_int_eq(moq_kvp_validate(buf, off), 3);
}
END_TEST

START_TEST(kvp_truncated_block_is_malformed)
{
	uint8_t buf[16];
	uint64_t prev = 0;
	const uint8_t blob[] = {9, 9, 9, 9};
	struct moq_kvp kv = {.type = 1, .bytes = {blob, 4}};
	int n = moq_kvp_encode(buf, sizeof(buf), &prev, &kv);
	ck_assert_int_eq(n, 6);
	for (int k = 1; k < n; k++)
		ck_assert_int_eq(moq_kvp_validate(buf, (size_t)k), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(kvp_value_longer_than_65535_is_limit)
{
	/* type 1, length 65536 as vi64 (3 bytes: 0xc1 0x00 0x00) */
	uint8_t buf[] = {0x01, 0xc1, 0x00, 0x00};
	ck_assert_int_eq(moq_kvp_validate(buf, sizeof(buf)), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(kvp_type_overflow_is_malformed)
{
	uint8_t buf[32];
	size_t off = 0;
	/* first delta 2^64-2 (even, value 0), then delta 2 overflows */
	buf[off++] = 0xff;
	memset(buf + off, 0xff, 7);
	off += 7;
	buf[off++] = 0xfe;
	buf[off++] = 0x00;
	buf[off++] = 0x02;
	buf[off++] = 0x00;
	ck_assert_int_eq(moq_kvp_validate(buf, off), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(kvp_encode_rejects_descending_types)
{
	uint8_t buf[16];
	uint64_t prev = 5;
	struct moq_kvp kv = {.type = 4, .value = 1};
	ck_assert_int_eq(moq_kvp_encode(buf, sizeof(buf), &prev, &kv), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(kvp_empty_block_has_no_pairs)
{
	ck_assert_int_eq(moq_kvp_validate(NULL, 0), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvp");
	TCase *tc = tcase_create("kvp");
	tcase_add_test(tc, kvp_round_trip_delta_encoded_types);
	tcase_add_test(tc, kvp_truncated_block_is_malformed);
	tcase_add_test(tc, kvp_value_longer_than_65535_is_limit);
	tcase_add_test(tc, kvp_type_overflow_is_malformed);
	tcase_add_test(tc, kvp_encode_rejects_descending_types);
	tcase_add_test(tc, kvp_empty_block_has_no_pairs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
