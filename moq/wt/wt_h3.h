/* HTTP/3 header blocks through nghttp3's QPACK codec, with the dynamic
 * table off both ways (we announce capacity 0, so a peer block that
 * references the dynamic table is an error). docs/webtransport.md. */
#ifndef MOQ_WT_H3_H
#define MOQ_WT_H3_H

#include <stddef.h>
#include <stdint.h>

/* The fields of a request or response that WebTransport needs. Values are
 * NUL-terminated; a field longer than its buffer is an error. */
struct moq_h3_msg {
	char method[16];
	char protocol[32];
	char scheme[16];
	char authority[256];
	char path[1024];
	char origin[256];
	char wt_protocols[256]; /* wt-available-protocols (request) */
	char wt_protocol[64];	/* wt-protocol (response) */
	int status;		/* :status (response), 0 if absent */
	int draft02;		/* sec-webtransport-http3-draft02: 1 (request) or
				   sec-webtransport-http3-draft: draft02 (response) */
};

struct moq_h3_field {
	const char *name, *value;
};

/* Decode one HEADERS frame value. Returns 0, or MOQ_ERR_MALFORMED (QPACK
 * error, dynamic table reference, uppercase name, pseudo-header after a
 * regular one, repeated pseudo-header) or MOQ_ERR_LIMIT (field too long). */
int moq_h3_headers_decode(struct moq_h3_msg *m, const uint8_t *block, size_t len);

/* Encode fields as a whole HEADERS frame (type, length, QPACK block) into
 * *out (malloc'd). Returns 0 or a negative MOQ_ERR_*. */
int moq_h3_headers_encode(uint8_t **out, size_t *outlen, const struct moq_h3_field *f, size_t n);

/* Is token (e.g. "moqt-18") one of the strings of a structured-field list
 * like "\"moqt-18\", \"moqt-17\"" (RFC 8941 strings; tokens accepted too)? */
int moq_h3_sf_list_has(const char *list, const char *token);

#endif
