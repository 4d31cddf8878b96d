/* Streaming control/request stream reader. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "control_reader.h"
#include "lib/ctrl_samples.h"
#include "moq_err.h"

static uint8_t stream_buf[1 << 17];
static size_t stream_len;
static struct moq_ctrl_msg msg;
static struct moq_ctrl_reader rd;

static void append(uint64_t type)
{
	ctrl_sample(&msg, type);
	int n = moq_ctrl_encode(stream_buf + stream_len, sizeof(stream_buf) - stream_len, &msg);
	ck_assert_int_gt(n, 0);
	stream_len += (size_t)n;
}

static void setup(void)
{
	stream_len = 0;
}

static void teardown(void)
{
	moq_ctrl_reader_free(&rd);
}

/* Feed stream_buf in chunks of `chunk` bytes; collect message types. Returns
 * the final non-NEED_MORE result, or NEED_MORE if input ran out. */
static int run(size_t chunk, uint64_t *types, size_t *ntypes)
{
	size_t off = 0;
	int rc = MOQ_ERR_NEED_MORE;

	*ntypes = 0;
	while (off < stream_len) {
		size_t len = stream_len - off < chunk ? stream_len - off : chunk;
		off += moq_ctrl_reader_feed(&rd, stream_buf + off, len);
		while ((rc = moq_ctrl_reader_next(&rd, &msg)) == 1)
			types[(*ntypes)++] = msg.type;
		if (rc != MOQ_ERR_NEED_MORE)
			return rc;
	}
	return rc;
}

START_TEST(byte_by_byte_feed_yields_every_message)
{
	uint64_t got[64];
	size_t n;
	for (size_t i = 0; i < ctrl_sample_ntypes; i++)
		append(ctrl_sample_types[i]);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, 0), 0);
	ck_assert_int_eq(run(1, got, &n), MOQ_ERR_NEED_MORE);
	ck_assert_uint_eq(n, ctrl_sample_ntypes);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(got[i], ctrl_sample_types[i]);
	ck_assert_uint_eq(moq_ctrl_reader_pending(&rd), 0);
}
END_TEST

START_TEST(message_views_point_at_the_decoded_bytes)
{
	append(MOQ_CTRL_SUBSCRIBE);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_REQUEST), 0);
	moq_ctrl_reader_feed(&rd, stream_buf, stream_len);
	ck_assert_int_eq(moq_ctrl_reader_next(&rd, &msg), 1);
	ck_assert_mem_eq(msg.subscribe.track_name.ptr, "video/hd", 8);
}
END_TEST

START_TEST(largest_message_fits_the_buffer)
{
	static uint8_t props[65536];
	uint64_t got[4];
	size_t n;
	/* SUBSCRIBE_OK: alias(1) + nparams(1) + one odd property filling the rest */
	ctrl_sample(&msg, MOQ_CTRL_SUBSCRIBE_OK);
	moq_params_init(&msg.subscribe_ok.params);
	size_t vlen = 65535 - 2 - 1 - 3;
	props[0] = 0x2b;
	props[1] = 0xc0 | (uint8_t)(vlen >> 16);
	props[2] = (uint8_t)(vlen >> 8);
	props[3] = (uint8_t)vlen;
	msg.subscribe_ok.track_properties = (struct moq_bytes){props, 4 + vlen};
	int len = moq_ctrl_encode(stream_buf, sizeof(stream_buf), &msg);
	ck_assert_int_eq(len, 65535 + 3);
	stream_len = (size_t)len;
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, 0), 0);
	ck_assert_int_eq(run(4096, got, &n), MOQ_ERR_NEED_MORE);
	ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(partial_message_reports_need_more_and_stays_pending)
{
	append(MOQ_CTRL_PUBLISH_DONE);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, 0), 0);
	moq_ctrl_reader_feed(&rd, stream_buf, stream_len - 1);
	ck_assert_int_eq(moq_ctrl_reader_next(&rd, &msg), MOQ_ERR_NEED_MORE);
	ck_assert_uint_eq(moq_ctrl_reader_pending(&rd), stream_len - 1);
}
END_TEST

START_TEST(malformed_message_is_final_and_sticky)
{
	static const uint8_t bad[] = {0x08, 0x00, 0x02, 0x01, 0x00}; /* empty ns field */
	memcpy(stream_buf, bad, sizeof(bad));
	stream_len = sizeof(bad);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, 0), 0);
	moq_ctrl_reader_feed(&rd, stream_buf, stream_len);
	ck_assert_int_eq(moq_ctrl_reader_next(&rd, &msg), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(moq_ctrl_reader_next(&rd, &msg), MOQ_ERR_MALFORMED);
	ck_assert_uint_eq(moq_ctrl_reader_feed(&rd, bad, 1), 0);
	ck_assert_int_eq(moq_ctrl_reader_error(&rd)->code, MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(unknown_type_is_reported_from_the_type_bytes_alone)
{
	static const uint8_t t[] = {0x20};
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, 0), 0);
	moq_ctrl_reader_feed(&rd, t, 1);
	ck_assert_int_eq(moq_ctrl_reader_next(&rd, &msg), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(control_stream_must_start_with_setup)
{
	uint64_t got[4];
	size_t n;
	append(MOQ_CTRL_GOAWAY);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_CONTROL), 0);
	ck_assert_int_eq(run(1, got, &n), MOQ_ERR_MALFORMED);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(control_stream_accepts_setup_then_goaway)
{
	uint64_t got[4];
	size_t n;
	append(MOQ_CTRL_SETUP);
	append(MOQ_CTRL_GOAWAY);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_CONTROL), 0);
	ck_assert_int_eq(run(3, got, &n), MOQ_ERR_NEED_MORE);
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(control_stream_rejects_request_messages)
{
	uint64_t got[4];
	size_t n;
	append(MOQ_CTRL_SETUP);
	append(MOQ_CTRL_SUBSCRIBE);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_CONTROL), 0);
	ck_assert_int_eq(run(7, got, &n), MOQ_ERR_MALFORMED);
	ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(request_stream_must_start_with_a_request)
{
	uint64_t got[4];
	size_t n;
	append(MOQ_CTRL_REQUEST_OK);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_REQUEST), 0);
	ck_assert_int_eq(run(1, got, &n), MOQ_ERR_MALFORMED);
	ck_assert_str_eq(moq_ctrl_reader_error(&rd)->what,
			 "request stream: first message is not a request");
}
END_TEST

START_TEST(request_stream_accepts_request_then_responses)
{
	uint64_t got[8];
	size_t n;
	append(MOQ_CTRL_SUBSCRIBE);
	append(MOQ_CTRL_REQUEST_UPDATE);
	append(MOQ_CTRL_GOAWAY);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_REQUEST), 0);
	ck_assert_int_eq(run(2, got, &n), MOQ_ERR_NEED_MORE);
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(request_stream_rejects_setup)
{
	uint64_t got[8];
	size_t n;
	append(MOQ_CTRL_FETCH);
	append(MOQ_CTRL_SETUP);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_REQUEST), 0);
	ck_assert_int_eq(run(5, got, &n), MOQ_ERR_MALFORMED);
	ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(reset_clears_error_and_first_message_state)
{
	uint64_t got[4];
	size_t n;
	append(MOQ_CTRL_REQUEST_OK);
	ck_assert_int_eq(moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_REQUEST), 0);
	ck_assert_int_eq(run(4, got, &n), MOQ_ERR_MALFORMED);
	moq_ctrl_reader_reset(&rd);
	stream_len = 0;
	append(MOQ_CTRL_TRACK_STATUS);
	append(MOQ_CTRL_REQUEST_OK);
	ck_assert_int_eq(run(4, got, &n), MOQ_ERR_NEED_MORE);
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(init_rejects_both_stream_kinds)
{
	ck_assert_int_eq(
	    moq_ctrl_reader_init(&rd, MOQ_CTRL_READER_CONTROL | MOQ_CTRL_READER_REQUEST),
	    MOQ_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctrl_reader");
	TCase *tc = tcase_create("ctrl_reader");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, byte_by_byte_feed_yields_every_message);
	tcase_add_test(tc, message_views_point_at_the_decoded_bytes);
	tcase_add_test(tc, largest_message_fits_the_buffer);
	tcase_add_test(tc, partial_message_reports_need_more_and_stays_pending);
	tcase_add_test(tc, malformed_message_is_final_and_sticky);
	tcase_add_test(tc, unknown_type_is_reported_from_the_type_bytes_alone);
	tcase_add_test(tc, control_stream_must_start_with_setup);
	tcase_add_test(tc, control_stream_accepts_setup_then_goaway);
	tcase_add_test(tc, control_stream_rejects_request_messages);
	tcase_add_test(tc, request_stream_must_start_with_a_request);
	tcase_add_test(tc, request_stream_accepts_request_then_responses);
	tcase_add_test(tc, request_stream_rejects_setup);
	tcase_add_test(tc, reset_clears_error_and_first_message_state);
	tcase_add_test(tc, init_rejects_both_stream_kinds);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
