/* Error and status code registries of draft-ietf-moq-transport-18
 * ("Error Codes" IANA tables), with name lookups.
 *
 * Name lookups return the draft's name ("PROTOCOL_VIOLATION", ...) or NULL
 * for a code the draft does not define. Unknown codes (including grease
 * values 0x7f * N + 0x9D) received in an error context are treated as
 * INTERNAL_ERROR for that context; the draft forbids closing the session only
 * because an unknown REQUEST_ERROR or PUBLISH_DONE code arrived. */
#ifndef MOQ_CODES_H
#define MOQ_CODES_H

#include <stdbool.h>
#include <stdint.h>

/* Session termination (CONNECTION_CLOSE / CLOSE_WEBTRANSPORT_SESSION). */
enum moq_session_code {
	MOQ_SESSION_NO_ERROR = 0x0,
	MOQ_SESSION_INTERNAL_ERROR = 0x1,
	MOQ_SESSION_UNAUTHORIZED = 0x2,
	MOQ_SESSION_PROTOCOL_VIOLATION = 0x3,
	MOQ_SESSION_INVALID_REQUEST_ID = 0x4,
	MOQ_SESSION_DUPLICATE_TRACK_ALIAS = 0x5,
	MOQ_SESSION_KEY_VALUE_FORMATTING_ERROR = 0x6,
	MOQ_SESSION_INVALID_PATH = 0x8,
	MOQ_SESSION_MALFORMED_PATH = 0x9,
	MOQ_SESSION_GOAWAY_TIMEOUT = 0x10,
	MOQ_SESSION_CONTROL_MESSAGE_TIMEOUT = 0x11,
	MOQ_SESSION_DATA_STREAM_TIMEOUT = 0x12,
	MOQ_SESSION_AUTH_TOKEN_CACHE_OVERFLOW = 0x13,
	MOQ_SESSION_DUPLICATE_AUTH_TOKEN_ALIAS = 0x14,
	MOQ_SESSION_VERSION_NEGOTIATION_FAILED = 0x15,
	MOQ_SESSION_MALFORMED_AUTH_TOKEN = 0x16,
	MOQ_SESSION_UNKNOWN_AUTH_TOKEN_ALIAS = 0x17,
	MOQ_SESSION_EXPIRED_AUTH_TOKEN = 0x18,
	MOQ_SESSION_INVALID_AUTHORITY = 0x19,
	MOQ_SESSION_MALFORMED_AUTHORITY = 0x1A,
};

/* REQUEST_ERROR Error Code. */
enum moq_request_error_code {
	MOQ_REQERR_INTERNAL_ERROR = 0x0,
	MOQ_REQERR_UNAUTHORIZED = 0x1,
	MOQ_REQERR_TIMEOUT = 0x2,
	MOQ_REQERR_NOT_SUPPORTED = 0x3,
	MOQ_REQERR_MALFORMED_AUTH_TOKEN = 0x4,
	MOQ_REQERR_EXPIRED_AUTH_TOKEN = 0x5,
	MOQ_REQERR_GOING_AWAY = 0x6,
	MOQ_REQERR_EXCESSIVE_LOAD = 0x9,
	MOQ_REQERR_DOES_NOT_EXIST = 0x10,
	MOQ_REQERR_INVALID_RANGE = 0x11,
	MOQ_REQERR_MALFORMED_TRACK = 0x12,
	MOQ_REQERR_DUPLICATE_SUBSCRIPTION = 0x19,
	MOQ_REQERR_UNINTERESTED = 0x20,
	MOQ_REQERR_PREFIX_OVERLAP = 0x30,
	MOQ_REQERR_NAMESPACE_TOO_LARGE = 0x31,
	MOQ_REQERR_INVALID_JOINING_REQUEST_ID = 0x32,
	MOQ_REQERR_UNSUPPORTED_EXTENSION = 0x33,
	MOQ_REQERR_REDIRECT = 0x34, /* REQUEST_ERROR then carries a Redirect */
};

/* PUBLISH_DONE Status Code. */
enum moq_publish_done_code {
	MOQ_PUBDONE_INTERNAL_ERROR = 0x0,
	MOQ_PUBDONE_UNAUTHORIZED = 0x1,
	MOQ_PUBDONE_TRACK_ENDED = 0x2,
	MOQ_PUBDONE_SUBSCRIPTION_ENDED = 0x3,
	MOQ_PUBDONE_GOING_AWAY = 0x4,
	MOQ_PUBDONE_TOO_FAR_BEHIND = 0x5,
	MOQ_PUBDONE_EXPIRED = 0x6,
	MOQ_PUBDONE_UPDATE_FAILED = 0x8,
	MOQ_PUBDONE_EXCESSIVE_LOAD = 0x9,
	MOQ_PUBDONE_MALFORMED_TRACK = 0x12,
};

/* RESET_STREAM / STOP_SENDING application error codes. */
enum moq_reset_code {
	MOQ_RESET_INTERNAL_ERROR = 0x0,
	MOQ_RESET_CANCELLED = 0x1,
	MOQ_RESET_DELIVERY_TIMEOUT = 0x2,
	MOQ_RESET_SESSION_CLOSED = 0x3,
	MOQ_RESET_GOING_AWAY = 0x4,
	MOQ_RESET_TOO_FAR_BEHIND = 0x5,
	MOQ_RESET_UNKNOWN_OBJECT_STATUS = 0x6,
	MOQ_RESET_EXPIRED_AUTH_TOKEN = 0x7,
	MOQ_RESET_EXCESSIVE_LOAD = 0x9,
	MOQ_RESET_MALFORMED_TRACK = 0x12,
};

/* Authorization Token Alias Type. */
enum moq_alias_type {
	MOQ_ALIAS_DELETE = 0x0,
	MOQ_ALIAS_REGISTER = 0x1,
	MOQ_ALIAS_USE_ALIAS = 0x2,
	MOQ_ALIAS_USE_VALUE = 0x3,
};

/* Name of a code, or NULL if the draft does not define it. */
const char *moq_session_code_name(uint64_t code);
const char *moq_request_error_name(uint64_t code);
const char *moq_publish_done_name(uint64_t code);
const char *moq_reset_code_name(uint64_t code);
const char *moq_alias_type_name(uint64_t alias_type);

/* True for the reserved grease values 0x7f * N + 0x9D. */
bool moq_is_grease(uint64_t v);

#endif
