/* H.264 Annex-B byte stream: NAL units, access units and GOPs.
 *
 * Only what a publisher needs to map a stream onto MoQT objects and groups
 * (docs/tools.md "H.264 mapping"): find NAL units between start codes, group
 * them into access units (ITU-T H.264 7.4.1.2.3: an AUD, SPS, PPS, SEI or
 * NAL types 14..18 after a VCL NAL unit, or a VCL NAL unit whose
 * first_mb_in_slice is 0, starts a new access unit), and flag the access
 * units that contain an IDR slice (a new GOP starts there).
 *
 * No allocation: NAL units and access units are views (offsets) into the
 * caller's buffer. Access units include their start codes, so writing them
 * back to back gives a valid Annex-B stream.
 */
#ifndef MOQ_MEDIA_H264_H
#define MOQ_MEDIA_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum moq_h264_nal_type {
	MOQ_H264_NAL_SLICE = 1,
	MOQ_H264_NAL_IDR = 5,
	MOQ_H264_NAL_SEI = 6,
	MOQ_H264_NAL_SPS = 7,
	MOQ_H264_NAL_PPS = 8,
	MOQ_H264_NAL_AUD = 9,
	MOQ_H264_NAL_END_SEQ = 10,
	MOQ_H264_NAL_END_STREAM = 11,
	MOQ_H264_NAL_FILLER = 12,
};

struct moq_h264_nal {
	size_t start; /* offset of the start code */
	size_t hdr;   /* offset of the NAL header byte (after the start code) */
	size_t end;   /* offset one past the NAL's last byte */
	uint8_t type; /* nal_unit_type (5 bits) */
	uint8_t ref_idc;
};

/* Next NAL unit at or after *pos. Returns 1 and advances *pos past it, 0
 * at the end of the buffer, -1 if bytes before the first start code are
 * not a start code (not Annex-B). Trailing zero bytes before the next
 * start code belong to that start code, not the NAL. */
int moq_h264_next_nal(const uint8_t *buf, size_t len, size_t *pos, struct moq_h264_nal *nal);

/* True for VCL NAL unit types 1..5. */
static inline bool moq_h264_nal_is_vcl(uint8_t type)
{
	return type >= 1 && type <= 5;
}

struct moq_h264_au {
	size_t off; /* first byte (a start code) */
	size_t len; /* bytes, start codes included */
	bool idr;   /* contains an IDR slice (type 5) */
	bool has_sps;
	bool has_pps;
	unsigned nals;
	unsigned vcl_nals;
};

struct moq_h264_parser {
	const uint8_t *buf;
	size_t len;
	size_t pos;	   /* next NAL to read */
	bool have_pending; /* a NAL was read that starts the next AU */
	struct moq_h264_nal pending;
	int error; /* -1 once the input was found not Annex-B */
};

void moq_h264_parser_init(struct moq_h264_parser *p, const uint8_t *buf, size_t len);

/* Next access unit. 1 and *au filled, 0 at the end, -1 if the input is not
 * an Annex-B stream. An access unit with no VCL NAL unit (trailing SEI or
 * end of stream NALs) is still returned, with vcl_nals 0. */
int moq_h264_next_au(struct moq_h264_parser *p, struct moq_h264_au *au);

/* Whole-stream index: access units and where each GOP starts. */
struct moq_h264_index {
	struct moq_h264_au *aus;
	size_t n_aus;
	size_t *gop_start; /* index into aus of each GOP's first AU */
	size_t n_gops;
	size_t n_idr;
};

/* Index buf. AUs before the first IDR form a GOP of their own (a stream
 * that starts mid-GOP). 0, -1 not Annex-B / no access unit, -2 ENOMEM.
 * Access units without a VCL NAL unit are merged into the previous AU. */
int moq_h264_index_build(struct moq_h264_index *ix, const uint8_t *buf, size_t len);
void moq_h264_index_free(struct moq_h264_index *ix);
/* Number of AUs in GOP g. */
size_t moq_h264_index_gop_len(const struct moq_h264_index *ix, size_t g);

#endif
