/* Streaming control/request stream reader over one preallocated buffer. */
#include <stdlib.h>
#include <string.h>

#include "control_reader.h"
#include "moq_err.h"

int moq_ctrl_reader_init(struct moq_ctrl_reader *r, unsigned flags)
{
	memset(r, 0, sizeof(*r));
	if ((flags & MOQ_CTRL_READER_CONTROL) && (flags & MOQ_CTRL_READER_REQUEST))
		return MOQ_ERR_INVALID;
	r->buf = malloc(MOQ_CTRL_MAX_FRAME);
	if (!r->buf)
		return MOQ_ERR_BUFFER;
	r->cap = MOQ_CTRL_MAX_FRAME;
	r->flags = flags;
	return 0;
}

void moq_ctrl_reader_free(struct moq_ctrl_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = 0;
}

void moq_ctrl_reader_reset(struct moq_ctrl_reader *r)
{
	r->start = r->end = 0;
	r->nmsgs = 0;
	r->err = 0;
	memset(&r->detail, 0, sizeof(r->detail));
}

size_t moq_ctrl_reader_feed(struct moq_ctrl_reader *r, const uint8_t *data, size_t len)
{
	size_t room;

	if (r->err || !r->buf)
		return 0;
	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	room = r->cap - r->end;
	if (len > room)
		len = room;
	if (len)
		memcpy(r->buf + r->end, data, len);
	r->end += len;
	return len;
}

static int reader_fail(struct moq_ctrl_reader *r, int code, const char *what, uint64_t value)
{
	r->err = code;
	r->detail.code = code;
	r->detail.what = what;
	r->detail.offset = 0;
	r->detail.value = value;
	return code;
}

/* Stream rules that the frame header alone decides. */
static int check_stream_rules(struct moq_ctrl_reader *r, uint64_t type)
{
	if (r->flags & MOQ_CTRL_READER_CONTROL) {
		if (r->nmsgs == 0 && type != MOQ_CTRL_SETUP)
			return reader_fail(r, MOQ_ERR_MALFORMED,
					   "control stream: first message is not SETUP", type);
		if (r->nmsgs > 0 && type != MOQ_CTRL_GOAWAY)
			return reader_fail(r, MOQ_ERR_MALFORMED,
					   "control stream: only GOAWAY may follow SETUP", type);
	}
	if (r->flags & MOQ_CTRL_READER_REQUEST) {
		if (r->nmsgs == 0 && !moq_ctrl_type_is_request(type))
			return reader_fail(r, MOQ_ERR_MALFORMED,
					   "request stream: first message is not a request", type);
		if (type == MOQ_CTRL_SETUP)
			return reader_fail(r, MOQ_ERR_MALFORMED,
					   "request stream: SETUP on a request stream", type);
	}
	return 0;
}

int moq_ctrl_reader_next(struct moq_ctrl_reader *r, struct moq_ctrl_msg *m)
{
	const uint8_t *p;
	size_t avail, plen;
	uint64_t type;
	int n;

	if (r->err)
		return r->err;
	if (!r->buf)
		return MOQ_ERR_INVALID;
	p = r->buf + r->start;
	avail = r->end - r->start;
	n = moq_ctrl_peek_header(&type, &plen, p, avail);
	if (n == MOQ_ERR_NEED_MORE)
		return n;
	if (n < 0)
		return reader_fail(r, n, "unknown message type", type);
	if ((n = check_stream_rules(r, type)))
		return n;
	n = moq_ctrl_decode_ex(m, p, avail, &r->detail);
	if (n == MOQ_ERR_NEED_MORE)
		return n;
	if (n < 0) {
		r->err = n;
		return n;
	}
	r->start += (size_t)n;
	r->nmsgs++;
	return 1;
}

size_t moq_ctrl_reader_pending(const struct moq_ctrl_reader *r)
{
	return r->end - r->start;
}

const struct moq_ctrl_err *moq_ctrl_reader_error(const struct moq_ctrl_reader *r)
{
	return &r->detail;
}
