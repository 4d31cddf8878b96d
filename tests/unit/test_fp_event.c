/* fp_event: the check of one moq_events record before the agent acts on
 * it (agent/lib/fp_event.c). */
#include <check.h>
#include <string.h>

#include "lib/fp_event.h"

static struct moq_event good(void)
{
	struct moq_event e = {.pn = 7,
			      .up_stream_id = 2,
			      .down_stream_id = 3,
			      .offset = 1000,
			      .slot = 5,
			      .data_len = 1100,
			      .wire_len = 1200,
			      .verdict = MOQ_V_FORWARDED,
			      .reason = MOQ_R_FORWARDED,
			      .kind = MOQ_EV_KIND_STREAM,
			      .prog = MOQ_PROG_SUBSCRIBER_EGRESS};
	return e;
}

START_TEST(a_kernel_record_passes_and_is_copied)
{
	struct moq_event e = good(), out;
	uint8_t buf[sizeof(e) + 1];

	memcpy(buf + 1, &e, sizeof(e)); /* unaligned, as a ring record may be */
	ck_assert_int_eq(fp_event_check(buf + 1, sizeof(e), &out), FP_EV_OK);
	ck_assert_mem_eq(&out, &e, sizeof(e));
	e.down_stream_id = MOQ_DS_NONE;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_OK);
	/* a datagram's offset is its Group ID: any value */
	e.kind = MOQ_EV_KIND_DATAGRAM;
	e.offset = ~0ull;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_OK);
}
END_TEST

START_TEST(short_records_are_refused)
{
	struct moq_event e = good(), out;

	ck_assert_int_eq(fp_event_check(&e, sizeof(e) - 1, &out), FP_EV_SHORT);
	ck_assert_int_eq(fp_event_check(NULL, sizeof(e), &out), FP_EV_SHORT);
}
END_TEST

START_TEST(fields_out_of_range_are_refused)
{
	struct moq_event e, out;

	e = good(), e.slot = MOQ_MAX_SUBSCRIBERS;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_SLOT);
	e = good(), e.prog = MOQ_PROG_MAX;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_ENUM);
	e = good(), e.reason = MOQ_R_MAX;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_ENUM);
	e = good(), e.verdict = 2;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_ENUM);
	e = good(), e.kind = 2;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_ENUM);
	e = good(), e.fin = 2;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_ENUM);
	/* offset + length must stay below 2^62 (QUIC's limit): no wrap */
	e = good(), e.offset = (1ull << 62) - 1100;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_RANGE);
	e.offset = (1ull << 62) - 1101;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_OK);
	e = good(), e.offset = ~0ull - 10;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_RANGE);
	e = good(), e.data_len = e.wire_len + 1;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_RANGE);
	e = good(), e.wire_len = 70000, e.data_len = 10;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_RANGE);
	e = good(), e.pn = 1ull << 62;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_RANGE);
	e = good(), e.down_stream_id = 1ull << 62;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_RANGE);
	e = good(), e.up_stream_id = 1ull << 62;
	ck_assert_int_eq(fp_event_check(&e, sizeof(e), &out), FP_EV_RANGE);
	ck_assert_str_eq(fp_event_check_str(FP_EV_SLOT), "slot out of range");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_event");
	TCase *tc = tcase_create("check");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, a_kernel_record_passes_and_is_copied);
	tcase_add_test(tc, short_records_are_refused);
	tcase_add_test(tc, fields_out_of_range_are_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
