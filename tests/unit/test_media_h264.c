/* moq/media/h264: Annex-B NAL units, access units and GOPs, on crafted
 * byte streams and on a real x264 stream made by ffmpeg at test time. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/h264.h"

/* NAL header bytes: forbidden 0, nal_ref_idc, type */
#define SPS 0x67
#define PPS 0x68
#define SEI 0x06
#define AUD 0x09
#define IDR 0x65
#define NONIDR 0x41
/* first slice byte: first_mb_in_slice ue(v) = 0 is a leading '1' bit */
#define FIRST_MB0 0x88
#define FIRST_MB_N 0x21 /* '0 0 1 ...' -> first_mb_in_slice >= 3 */

static size_t put(uint8_t *p, size_t at, int four, const uint8_t *nal, size_t n)
{
	if (four)
		p[at++] = 0;
	p[at++] = 0;
	p[at++] = 0;
	p[at++] = 1;
	memcpy(p + at, nal, n);
	return at + n;
}

START_TEST(nal_units_are_found_between_3_and_4_byte_start_codes)
{
	uint8_t b[64];
	size_t n = 0;
	n = put(b, n, 1, (const uint8_t[]){SPS, 0x42, 0x00, 0x1e}, 4);
	n = put(b, n, 0, (const uint8_t[]){PPS, 0xce}, 2);
	n = put(b, n, 1, (const uint8_t[]){IDR, FIRST_MB0, 0x10}, 3);
	size_t pos = 0;
	struct moq_h264_nal nal;
	ck_assert_int_eq(moq_h264_next_nal(b, n, &pos, &nal), 1);
	ck_assert_uint_eq(nal.type, 7);
	ck_assert_uint_eq(nal.start, 0);
	ck_assert_uint_eq(nal.hdr, 4);
	ck_assert_uint_eq(nal.end, 8);
	ck_assert_uint_eq(nal.ref_idc, 3);
	ck_assert_int_eq(moq_h264_next_nal(b, n, &pos, &nal), 1);
	ck_assert_uint_eq(nal.type, 8);
	ck_assert_uint_eq(nal.start, 8);
	ck_assert_uint_eq(nal.end, 13);
	ck_assert_int_eq(moq_h264_next_nal(b, n, &pos, &nal), 1);
	ck_assert_uint_eq(nal.type, 5);
	ck_assert_uint_eq(nal.start, 13);
	ck_assert_uint_eq(nal.end, n);
	ck_assert_int_eq(moq_h264_next_nal(b, n, &pos, &nal), 0);
}
END_TEST

START_TEST(bytes_without_a_start_code_are_not_annex_b)
{
	const uint8_t b[] = {0x67, 0x42, 0x00, 0x1e, 0, 0, 1, 0x68};
	size_t pos = 0;
	struct moq_h264_nal nal;
	ck_assert_int_eq(moq_h264_next_nal(b, sizeof b, &pos, &nal), -1);
	struct moq_h264_index ix;
	ck_assert_int_eq(moq_h264_index_build(&ix, b, sizeof b), -1);
}
END_TEST

START_TEST(empty_or_all_zero_input_has_no_nal)
{
	const uint8_t z[5] = {0};
	size_t pos = 0;
	struct moq_h264_nal nal;
	ck_assert_int_eq(moq_h264_next_nal(z, sizeof z, &pos, &nal), 0);
	pos = 0;
	ck_assert_int_eq(moq_h264_next_nal(z, 0, &pos, &nal), 0);
}
END_TEST

/* SPS PPS IDR | P | P(2 slices) | AUD SPS PPS IDR | P */
static size_t build_stream(uint8_t *b)
{
	size_t n = 0;
	n = put(b, n, 1, (const uint8_t[]){SPS, 0x42, 0x00, 0x1e}, 4);
	n = put(b, n, 1, (const uint8_t[]){PPS, 0xce}, 2);
	n = put(b, n, 1, (const uint8_t[]){IDR, FIRST_MB0, 0x10}, 3);
	n = put(b, n, 0, (const uint8_t[]){NONIDR, FIRST_MB0, 0x11}, 3);
	n = put(b, n, 0, (const uint8_t[]){NONIDR, FIRST_MB0, 0x12}, 3);
	n = put(b, n, 0, (const uint8_t[]){NONIDR, FIRST_MB_N, 0x13}, 3);
	n = put(b, n, 1, (const uint8_t[]){AUD, 0xf0}, 2);
	n = put(b, n, 1, (const uint8_t[]){SPS, 0x42, 0x00, 0x1e}, 4);
	n = put(b, n, 1, (const uint8_t[]){PPS, 0xce}, 2);
	n = put(b, n, 1, (const uint8_t[]){IDR, FIRST_MB0, 0x14}, 3);
	n = put(b, n, 0, (const uint8_t[]){NONIDR, FIRST_MB0, 0x15}, 3);
	return n;
}

START_TEST(access_units_split_at_first_slice_and_parameter_sets)
{
	uint8_t b[128];
	size_t n = build_stream(b);
	struct moq_h264_parser p;
	struct moq_h264_au au;
	moq_h264_parser_init(&p, b, n);
	const unsigned want_nals[] = {3, 1, 2, 4, 1};
	const bool want_idr[] = {true, false, false, true, false};
	size_t total = 0;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(moq_h264_next_au(&p, &au), 1);
		ck_assert_uint_eq(au.nals, want_nals[i]);
		ck_assert_int_eq(au.idr, want_idr[i]);
		ck_assert_uint_eq(au.off, total);
		total += au.len;
	}
	ck_assert_int_eq(moq_h264_next_au(&p, &au), 0);
	ck_assert_uint_eq(total, n);
}
END_TEST

START_TEST(index_starts_a_gop_at_each_idr)
{
	uint8_t b[128];
	size_t n = build_stream(b);
	struct moq_h264_index ix;
	ck_assert_int_eq(moq_h264_index_build(&ix, b, n), 0);
	ck_assert_uint_eq(ix.n_aus, 5);
	ck_assert_uint_eq(ix.n_gops, 2);
	ck_assert_uint_eq(ix.n_idr, 2);
	ck_assert_uint_eq(ix.gop_start[0], 0);
	ck_assert_uint_eq(ix.gop_start[1], 3);
	ck_assert_uint_eq(moq_h264_index_gop_len(&ix, 0), 3);
	ck_assert_uint_eq(moq_h264_index_gop_len(&ix, 1), 2);
	ck_assert(ix.aus[0].has_sps && ix.aus[0].has_pps);
	moq_h264_index_free(&ix);
}
END_TEST

START_TEST(stream_starting_mid_gop_gets_a_leading_group)
{
	uint8_t b[64];
	size_t n = 0;
	n = put(b, n, 0, (const uint8_t[]){NONIDR, FIRST_MB0, 0x11}, 3);
	n = put(b, n, 1, (const uint8_t[]){SPS, 0x42}, 2);
	n = put(b, n, 1, (const uint8_t[]){IDR, FIRST_MB0, 0x10}, 3);
	struct moq_h264_index ix;
	ck_assert_int_eq(moq_h264_index_build(&ix, b, n), 0);
	ck_assert_uint_eq(ix.n_gops, 2);
	ck_assert_uint_eq(ix.n_idr, 1);
	moq_h264_index_free(&ix);
}
END_TEST

START_TEST(trailing_non_vcl_nals_stay_with_the_last_access_unit)
{
	uint8_t b[64];
	size_t n = 0;
	n = put(b, n, 1, (const uint8_t[]){IDR, FIRST_MB0, 0x10}, 3);
	n = put(b, n, 1, (const uint8_t[]){SEI, 0x05, 0x80}, 3);
	n = put(b, n, 1, (const uint8_t[]){0x0b}, 1); /* end of stream */
	struct moq_h264_index ix;
	ck_assert_int_eq(moq_h264_index_build(&ix, b, n), 0);
	ck_assert_uint_eq(ix.n_aus, 1);
	ck_assert_uint_eq(ix.aus[0].len, n);
	moq_h264_index_free(&ix);
}
END_TEST

START_TEST(x264_stream_from_ffmpeg_has_one_au_per_frame_and_one_gop_per_second)
{
	if (system("command -v ffmpeg >/dev/null 2>&1") != 0) {
		fprintf(stderr, "ffmpeg not installed: run install.sh\n");
		ck_abort_msg("ffmpeg is needed for this test");
	}
	char dir[] = "/tmp/test_media_h264.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256], cmd[512];
	snprintf(path, sizeof path, "%s/in.h264", dir);
	snprintf(cmd, sizeof cmd,
		 "ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=160x120:rate=30 "
		 "-t 2 -c:v libx264 -g 30 -bf 0 -f h264 %s",
		 path);
	ck_assert_int_eq(system(cmd), 0);
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	unlink(path);
	rmdir(dir);
	ck_assert_uint_gt(n, 100);

	struct moq_h264_index ix;
	ck_assert_int_eq(moq_h264_index_build(&ix, buf, n), 0);
	ck_assert_uint_eq(ix.n_aus, 60);
	ck_assert_uint_eq(ix.n_gops, 2);
	ck_assert_uint_eq(ix.n_idr, 2);
	ck_assert_uint_eq(moq_h264_index_gop_len(&ix, 0), 30);
	ck_assert_uint_eq(moq_h264_index_gop_len(&ix, 1), 30);
	ck_assert(ix.aus[0].idr && ix.aus[0].has_sps && ix.aus[0].has_pps);
	/* the access units tile the file exactly */
	size_t at = 0;
	for (size_t i = 0; i < ix.n_aus; i++) {
		ck_assert_uint_eq(ix.aus[i].off, at);
		ck_assert_uint_eq(ix.aus[i].vcl_nals, 1);
		at += ix.aus[i].len;
	}
	ck_assert_uint_eq(at, n);
	moq_h264_index_free(&ix);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("media_h264");
	TCase *t = tcase_create("annexb");
	tcase_add_test(t, nal_units_are_found_between_3_and_4_byte_start_codes);
	tcase_add_test(t, bytes_without_a_start_code_are_not_annex_b);
	tcase_add_test(t, empty_or_all_zero_input_has_no_nal);
	tcase_add_test(t, access_units_split_at_first_slice_and_parameter_sets);
	tcase_add_test(t, index_starts_a_gop_at_each_idr);
	tcase_add_test(t, stream_starting_mid_gop_gets_a_leading_group);
	tcase_add_test(t, trailing_non_vcl_nals_stay_with_the_last_access_unit);
	tcase_add_test(t, x264_stream_from_ffmpeg_has_one_au_per_frame_and_one_gop_per_second);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
