/* Program and reason names of the fast path (agent/lib/fp_names.c, from the
 * X-macros in tc-progs/moq_maps.h): every enum value has its own name, the
 * names are the ones metrics and moq-relayctl have always printed. */
#include <check.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fp_names.h"
#include "moq_maps.h"

START_TEST(every_reason_has_a_distinct_lowercase_name)
{
	for (unsigned r = 0; r < MOQ_R_MAX; r++) {
		const char *n = fp_reason_name(r);

		ck_assert_ptr_nonnull(n);
		ck_assert_uint_gt(strlen(n), 1);
		for (const char *c = n; *c; c++)
			ck_assert_msg(islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
					  *c == '_',
				      "reason %u: %s", r, n);
		for (unsigned o = 0; o < r; o++)
			ck_assert_str_ne(n, fp_reason_name(o));
	}
}
END_TEST

START_TEST(reason_names_match_their_enum_values)
{
	ck_assert_str_eq(fp_reason_name(MOQ_R_FORWARDED), "forwarded");
	ck_assert_str_eq(fp_reason_name(MOQ_R_UNKNOWN_DCID), "unknown_dcid");
	ck_assert_str_eq(fp_reason_name(MOQ_R_GATE_DROP), "gate_drop");
	ck_assert_str_eq(fp_reason_name(MOQ_R_NO_L2), "no_l2");
	ck_assert_str_eq(fp_reason_name(MOQ_R_EVENT_LOST), "event_lost");
	ck_assert_str_eq(fp_reason_name(MOQ_R_BEFORE_START), "before_start");
	/* stats keys are prog * MOQ_R_MAX + reason: values must not move */
	ck_assert_int_eq(MOQ_R_FORWARDED, 0);
	ck_assert_int_eq(MOQ_R_UNKNOWN_DCID, 10);
	ck_assert_int_eq(MOQ_R_EVENT_LOST, 41);
	ck_assert_int_eq(MOQ_R_BEFORE_START, 42);
	ck_assert_str_eq(fp_reason_name(MOQ_R_HEADER_MISMATCH), "header_mismatch");
	ck_assert_int_eq(MOQ_R_HEADER_MISMATCH, 43);
	ck_assert_str_eq(fp_reason_name(MOQ_R_WRONG_DEST), "wrong_dest");
	ck_assert_int_eq(MOQ_R_WRONG_DEST, 44);
	ck_assert_str_eq(fp_reason_name(MOQ_R_STREAM_CREDIT), "stream_credit");
	ck_assert_int_eq(MOQ_R_STREAM_CREDIT, 45);
	ck_assert_str_eq(fp_reason_name(MOQ_R_CONN_CREDIT), "conn_credit");
	ck_assert_int_eq(MOQ_R_CONN_CREDIT, 46);
	ck_assert_str_eq(fp_reason_name(MOQ_R_PN_DUPLICATE), "pn_duplicate");
	ck_assert_int_eq(MOQ_R_PN_DUPLICATE, 47);
	ck_assert_str_eq(fp_reason_name(MOQ_R_ACK_CONSUMED), "ack_consumed");
	ck_assert_int_eq(MOQ_R_ACK_CONSUMED, 48);
	ck_assert_str_eq(fp_reason_name(MOQ_R_LOG_FULL), "log_full");
	ck_assert_int_eq(MOQ_R_LOG_FULL, 49);
	ck_assert_str_eq(fp_reason_name(MOQ_R_NO_KEYS), "no_keys");
	ck_assert_int_eq(MOQ_R_NO_KEYS, 50);
	ck_assert_str_eq(fp_reason_name(MOQ_R_AEAD_OPEN_FAILED), "aead_open_failed");
	ck_assert_int_eq(MOQ_R_AEAD_OPEN_FAILED, 51);
	ck_assert_str_eq(fp_reason_name(MOQ_R_PASS_COPY), "pass_copy");
	ck_assert_int_eq(MOQ_R_PASS_COPY, 52);
	ck_assert_str_eq(fp_reason_name(MOQ_R_PASS_COPY_FAILED), "pass_copy_failed");
	ck_assert_int_eq(MOQ_R_PASS_COPY_FAILED, 53);
	ck_assert_str_eq(fp_reason_name(MOQ_R_CANON_FAILED), "canon_failed");
	ck_assert_int_eq(MOQ_R_CANON_FAILED, 54);
	ck_assert_str_eq(fp_reason_name(MOQ_R_SEAL_FAILED), "seal_failed");
	ck_assert_int_eq(MOQ_R_SEAL_FAILED, 55);
	ck_assert_int_eq(MOQ_R_MAX, 56);
}
END_TEST

START_TEST(program_names_match_their_enum_values)
{
	ck_assert_str_eq(fp_prog_name(MOQ_PROG_UPSTREAM_INGRESS), "upstream_ingress");
	ck_assert_str_eq(fp_prog_name(MOQ_PROG_SUBSCRIBER_EGRESS), "subscriber_egress");
	ck_assert_str_eq(fp_prog_name(MOQ_PROG_SUBSCRIBER_INGRESS), "subscriber_ingress");
	ck_assert_int_eq(MOQ_PROG_SUBSCRIBER_EGRESS, 1);
	ck_assert_int_eq(MOQ_PROG_MAX, 3);
}
END_TEST

START_TEST(out_of_range_is_a_question_mark)
{
	ck_assert_str_eq(fp_reason_name(MOQ_R_MAX), "?");
	ck_assert_str_eq(fp_reason_name(~0u), "?");
	ck_assert_str_eq(fp_prog_name(MOQ_PROG_MAX), "?");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_names");
	TCase *tc = tcase_create("names");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, every_reason_has_a_distinct_lowercase_name);
	tcase_add_test(tc, reason_names_match_their_enum_values);
	tcase_add_test(tc, program_names_match_their_enum_values);
	tcase_add_test(tc, out_of_range_is_a_question_mark);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
