/* Error codes shared by every libmoq codec.
 *
 * Decoders return bytes consumed (>= 0) or one of these negative values.
 * MOQ_ERR_NEED_MORE is not a failure: the input is a valid prefix and the
 * caller should retry with more bytes. Everything else is final. */
#ifndef MOQ_ERR_H
#define MOQ_ERR_H

enum moq_err {
	MOQ_ERR_NEED_MORE = -1,	   /* valid prefix, more bytes needed */
	MOQ_ERR_MALFORMED = -2,	   /* bytes can never decode (session: PROTOCOL_VIOLATION) */
	MOQ_ERR_LIMIT = -3,	   /* a length or count exceeds the draft's limit */
	MOQ_ERR_BUFFER = -4,	   /* encoder: output buffer too small */
	MOQ_ERR_RANGE = -5,	   /* encoder: value does not fit the requested width/field */
	MOQ_ERR_UNKNOWN_TYPE = -6, /* unknown message/stream/datagram type */
	MOQ_ERR_KVP_FORMAT =
	    -7, /* known KVP type with wrong serialization (KEY_VALUE_FORMATTING_ERROR) */
	MOQ_ERR_DUPLICATE = -8, /* duplicate parameter where not allowed */
	MOQ_ERR_INVALID = -9,	/* invalid argument */
};

/* Short human-readable name of an error code (static string). */
const char *moq_strerror(int err);

#endif
