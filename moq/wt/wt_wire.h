/* WebTransport over HTTP/3 (draft-ietf-webtrans-http3, the "draft02"
 * flavour Chromium speaks): the wire pieces, as pure functions.
 * HTTP/3 frames and capsules share one shape (type varint, length varint,
 * value); both are read with struct moq_tlv_reader. QUIC varints
 * (RFC 9000 section 16) throughout. docs/webtransport.md. */
#ifndef MOQ_WT_WIRE_H
#define MOQ_WT_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* HTTP/3 (RFC 9114) frame and stream types */
#define MOQ_H3_FRAME_DATA 0x00
#define MOQ_H3_FRAME_HEADERS 0x01
#define MOQ_H3_FRAME_SETTINGS 0x04
#define MOQ_H3_FRAME_GOAWAY 0x07
#define MOQ_H3_STREAM_CONTROL 0x00
#define MOQ_H3_STREAM_PUSH 0x01
#define MOQ_H3_STREAM_QPACK_ENC 0x02
#define MOQ_H3_STREAM_QPACK_DEC 0x03

/* SETTINGS identifiers */
#define MOQ_H3_SETTING_QPACK_MAX_TABLE_CAPACITY 0x01
#define MOQ_H3_SETTING_MAX_FIELD_SECTION_SIZE 0x06
#define MOQ_H3_SETTING_QPACK_BLOCKED_STREAMS 0x07
#define MOQ_H3_SETTING_ENABLE_CONNECT_PROTOCOL 0x08 /* RFC 9220 */
#define MOQ_H3_SETTING_H3_DATAGRAM 0x33		    /* RFC 9297 */
#define MOQ_H3_SETTING_H3_DATAGRAM_DRAFT04 0xffd277
#define MOQ_H3_SETTING_ENABLE_WEBTRANSPORT 0x2b603742 /* WT draft02 */

/* WebTransport stream prefixes and capsules */
#define MOQ_WT_UNI_STREAM_TYPE 0x54
#define MOQ_WT_BIDI_SIGNAL 0x41
#define MOQ_WT_CAPSULE_CLOSE_SESSION 0x2843
#define MOQ_WT_CAPSULE_DRAIN_SESSION 0x78ae
#define MOQ_WT_CLOSE_REASON_MAX 1024

/* HTTP/3 and WebTransport error codes */
#define MOQ_H3_NO_ERROR 0x100
#define MOQ_H3_GENERAL_PROTOCOL_ERROR 0x101
#define MOQ_H3_INTERNAL_ERROR 0x102
#define MOQ_H3_STREAM_CREATION_ERROR 0x103
#define MOQ_H3_CLOSED_CRITICAL_STREAM 0x104
#define MOQ_H3_FRAME_UNEXPECTED 0x105
#define MOQ_H3_FRAME_ERROR 0x106
#define MOQ_H3_EXCESSIVE_LOAD 0x107
#define MOQ_H3_SETTINGS_ERROR 0x109
#define MOQ_H3_MISSING_SETTINGS 0x10a
#define MOQ_H3_REQUEST_REJECTED 0x10b
#define MOQ_H3_MESSAGE_ERROR 0x10e
#define MOQ_WT_BUFFERED_STREAM_REJECTED 0x3994bd84
#define MOQ_WT_SESSION_GONE 0x170d7b68
#define MOQ_WT_APP_ERROR_FIRST 0x52e4a40fa8dbull
#define MOQ_WT_APP_ERROR_LAST 0x52e5ac983162ull

/* A WebTransport application error code (32 bits) as the HTTP/3 error code
 * carried by RESET_STREAM / STOP_SENDING, and back. from_h3 returns -1 for
 * a code outside the range or on a reserved (GREASE) point. */
uint64_t moq_wt_code_to_h3(uint32_t code);
int moq_wt_code_from_h3(uint64_t h3, uint32_t *code);

/* Reader of type-length-value items (HTTP/3 frames, capsules) arriving in
 * pieces. Values up to max bytes are collected whole; a longer one is an
 * error, except for types listed as streamed (only DATA frames): their
 * value is handed on in chunks as it arrives. */
struct moq_tlv_reader {
	uint8_t *buf;
	size_t len, cap, max;
	uint64_t stream_type; /* UINT64_MAX: none */
	uint64_t stream_left; /* bytes of a streamed value still to come */
};
/* emit(arg, type, value, len, last): a whole value (last = 1), or a chunk
 * of a streamed one (last = 1 on its final chunk). Return < 0 to stop. */
typedef int (*moq_tlv_emit)(void *arg, uint64_t type, const uint8_t *v, size_t len, int last);
void moq_tlv_init(struct moq_tlv_reader *r, size_t max, uint64_t streamed_type);
void moq_tlv_free(struct moq_tlv_reader *r);
/* Returns 0, MOQ_ERR_MALFORMED/LIMIT on a bad item, or emit's < 0. */
int moq_tlv_feed(struct moq_tlv_reader *r, const uint8_t *p, size_t n, moq_tlv_emit emit,
		 void *arg);
/* 1 if no item is half read (a FIN here is clean). */
int moq_tlv_idle(const struct moq_tlv_reader *r);

/* Peer SETTINGS (only what WebTransport needs). */
struct moq_h3_settings {
	uint64_t qpack_max_table_capacity;
	uint64_t qpack_blocked_streams;
	int enable_connect_protocol;
	int h3_datagram;	 /* 0x33 or 0xffd277 = 1 */
	int enable_webtransport; /* 0x2b603742 = 1 */
};
/* Parse a SETTINGS frame's value. MOQ_ERR_MALFORMED on a truncated pair,
 * MOQ_ERR_DUPLICATE on a repeated identifier, MOQ_ERR_INVALID on an
 * HTTP/2 identifier (0x02..0x05) or a boolean setting above 1. */
int moq_h3_settings_parse(struct moq_h3_settings *s, const uint8_t *p, size_t n);
/* Our control stream's first bytes: stream type 0x00 + SETTINGS (QPACK
 * dynamic table 0, no blocked streams, CONNECT protocol, H3 datagrams both
 * codepoints, WebTransport). Returns the length or MOQ_ERR_BUFFER. */
int moq_h3_control_preface(uint8_t *out, size_t cap);

/* Stream prefixes. Peer uni stream: stream type varint, and for type 0x54
 * the session ID. Peer bidi stream: the first varint (a frame type, or the
 * 0x41 signal) and for 0x41 the session ID. Returns bytes consumed (> 0)
 * with *type and *session_id (UINT64_MAX unless a WT stream), or
 * MOQ_ERR_NEED_MORE. */
int moq_wt_prefix_parse(const uint8_t *p, size_t n, uint64_t *type, uint64_t *session_id);
/* Write a WT stream prefix (0x54 or 0x41, session ID). Returns its length. */
int moq_wt_prefix_write(uint8_t *out, size_t cap, int bidi, uint64_t session_id);

/* An HTTP/3 frame header (type, length). Returns its length. */
int moq_h3_frame_header(uint8_t *out, size_t cap, uint64_t type, uint64_t len);

/* CLOSE_WEBTRANSPORT_SESSION value: 32-bit code + UTF-8 reason (<= 1024
 * bytes). parse: MOQ_ERR_MALFORMED if shorter than 4 or the reason too
 * long. build: a DATA frame holding the whole capsule; returns its length
 * (reason cut to fit 1024 bytes) or MOQ_ERR_BUFFER. */
int moq_wt_close_parse(const uint8_t *v, size_t n, uint32_t *code, const uint8_t **reason,
		       size_t *reason_len);
int moq_wt_close_build(uint8_t *out, size_t cap, uint32_t code, const char *reason);

/* Datagram: quarter stream ID of the session, then the payload. parse
 * returns the prefix length or MOQ_ERR_MALFORMED. */
int moq_wt_dgram_parse(const uint8_t *p, size_t n, uint64_t *session_id);

#endif
