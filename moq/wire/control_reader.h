/* Streaming reader for a control stream or a request stream.
 *
 * Feed arbitrary pieces (down to one byte at a time) and take whole decoded
 * messages out. The reader owns one buffer of MOQ_CTRL_MAX_FRAME bytes,
 * allocated once by moq_ctrl_reader_init; nothing is allocated per message.
 *
 *   moq_ctrl_reader_init(&r, MOQ_CTRL_READER_REQUEST);
 *   while (have data) {
 *           size_t n = moq_ctrl_reader_feed(&r, p, len);
 *           p += n; len -= n;
 *           while ((rc = moq_ctrl_reader_next(&r, &msg)) == 1)
 *                   handle(&msg);          // views valid until next feed/next
 *           if (rc != MOQ_ERR_NEED_MORE)
 *                   close_session(moq_ctrl_err_to_session_code(rc));
 *   }
 *   at FIN: moq_ctrl_reader_pending(&r) != 0 -> stream ended inside a message
 *   moq_ctrl_reader_free(&r);
 *
 * Errors are sticky: after a final error every call returns it again. */
#ifndef MOQ_CTRL_READER_H
#define MOQ_CTRL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"

enum moq_ctrl_reader_flags {
	/* Control stream: first message must be SETUP; afterwards only
	 * GOAWAY (the only other message the table allows there). */
	MOQ_CTRL_READER_CONTROL = 1u << 0,
	/* Request stream: first message must be one of the seven request
	 * types (TRACK_STATUS, SUBSCRIBE, PUBLISH, FETCH, PUBLISH_NAMESPACE,
	 * SUBSCRIBE_NAMESPACE, SUBSCRIBE_TRACKS); SETUP never appears.
	 * For bidi streams the peer opened; on the response half of a stream
	 * we opened (SUBSCRIBE_OK, REQUEST_ERROR, ... first) pass 0. */
	MOQ_CTRL_READER_REQUEST = 1u << 1,
};

struct moq_ctrl_reader {
	uint8_t *buf; /* MOQ_CTRL_MAX_FRAME bytes */
	size_t cap;
	size_t start; /* first unconsumed byte */
	size_t end;   /* one past the last buffered byte */
	unsigned flags;
	uint64_t nmsgs; /* messages returned so far */
	int err;	/* sticky final error, 0 if none */
	struct moq_ctrl_err detail;
};

/* 0 or MOQ_ERR_INVALID (bad flags: CONTROL and REQUEST together) or
 * MOQ_ERR_BUFFER (allocation failed). flags may be 0 (no stream checks). */
int moq_ctrl_reader_init(struct moq_ctrl_reader *r, unsigned flags);
void moq_ctrl_reader_free(struct moq_ctrl_reader *r);

/* Forget buffered bytes, errors and the message count (start of a new
 * stream); keeps the buffer and flags. */
void moq_ctrl_reader_reset(struct moq_ctrl_reader *r);

/* Copy up to len bytes in; returns how many were taken (0 after an error).
 * Invalidates views from earlier messages. */
size_t moq_ctrl_reader_feed(struct moq_ctrl_reader *r, const uint8_t *data, size_t len);

/* 1 and *m filled (views into the reader's buffer, valid until the next
 * feed or next call), MOQ_ERR_NEED_MORE, or a final negative error (see
 * moq_ctrl_decode; a first-message violation is MOQ_ERR_MALFORMED). */
int moq_ctrl_reader_next(struct moq_ctrl_reader *r, struct moq_ctrl_msg *m);

/* Bytes buffered but not yet returned as a message. */
size_t moq_ctrl_reader_pending(const struct moq_ctrl_reader *r);

/* Details of the sticky error (code 0 if none). */
const struct moq_ctrl_err *moq_ctrl_reader_error(const struct moq_ctrl_reader *r);

#endif
