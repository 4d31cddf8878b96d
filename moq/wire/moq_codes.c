/* Name lookups for the draft-18 error code registries. */
#include <stddef.h>

#include "moq_codes.h"

struct code_name {
	uint64_t code;
	const char *name;
};

/* clang-format off */
#define N(prefix, x) { prefix##x, #x }
/* clang-format on */

static const struct code_name session_codes[] = {
    N(MOQ_SESSION_, NO_ERROR),
    N(MOQ_SESSION_, INTERNAL_ERROR),
    N(MOQ_SESSION_, UNAUTHORIZED),
    N(MOQ_SESSION_, PROTOCOL_VIOLATION),
    N(MOQ_SESSION_, INVALID_REQUEST_ID),
    N(MOQ_SESSION_, DUPLICATE_TRACK_ALIAS),
    N(MOQ_SESSION_, KEY_VALUE_FORMATTING_ERROR),
    N(MOQ_SESSION_, INVALID_PATH),
    N(MOQ_SESSION_, MALFORMED_PATH),
    N(MOQ_SESSION_, GOAWAY_TIMEOUT),
    N(MOQ_SESSION_, CONTROL_MESSAGE_TIMEOUT),
    N(MOQ_SESSION_, DATA_STREAM_TIMEOUT),
    N(MOQ_SESSION_, AUTH_TOKEN_CACHE_OVERFLOW),
    N(MOQ_SESSION_, DUPLICATE_AUTH_TOKEN_ALIAS),
    N(MOQ_SESSION_, VERSION_NEGOTIATION_FAILED),
    N(MOQ_SESSION_, MALFORMED_AUTH_TOKEN),
    N(MOQ_SESSION_, UNKNOWN_AUTH_TOKEN_ALIAS),
    N(MOQ_SESSION_, EXPIRED_AUTH_TOKEN),
    N(MOQ_SESSION_, INVALID_AUTHORITY),
    N(MOQ_SESSION_, MALFORMED_AUTHORITY),
};

static const struct code_name request_error_codes[] = {
    N(MOQ_REQERR_, INTERNAL_ERROR),
    N(MOQ_REQERR_, UNAUTHORIZED),
    N(MOQ_REQERR_, TIMEOUT),
    N(MOQ_REQERR_, NOT_SUPPORTED),
    N(MOQ_REQERR_, MALFORMED_AUTH_TOKEN),
    N(MOQ_REQERR_, EXPIRED_AUTH_TOKEN),
    N(MOQ_REQERR_, GOING_AWAY),
    N(MOQ_REQERR_, EXCESSIVE_LOAD),
    N(MOQ_REQERR_, DOES_NOT_EXIST),
    N(MOQ_REQERR_, INVALID_RANGE),
    N(MOQ_REQERR_, MALFORMED_TRACK),
    N(MOQ_REQERR_, DUPLICATE_SUBSCRIPTION),
    N(MOQ_REQERR_, UNINTERESTED),
    N(MOQ_REQERR_, PREFIX_OVERLAP),
    N(MOQ_REQERR_, NAMESPACE_TOO_LARGE),
    N(MOQ_REQERR_, INVALID_JOINING_REQUEST_ID),
    N(MOQ_REQERR_, UNSUPPORTED_EXTENSION),
    N(MOQ_REQERR_, REDIRECT),
};

static const struct code_name publish_done_codes[] = {
    N(MOQ_PUBDONE_, INTERNAL_ERROR), N(MOQ_PUBDONE_, UNAUTHORIZED),
    N(MOQ_PUBDONE_, TRACK_ENDED),    N(MOQ_PUBDONE_, SUBSCRIPTION_ENDED),
    N(MOQ_PUBDONE_, GOING_AWAY),     N(MOQ_PUBDONE_, TOO_FAR_BEHIND),
    N(MOQ_PUBDONE_, EXPIRED),	     N(MOQ_PUBDONE_, UPDATE_FAILED),
    N(MOQ_PUBDONE_, EXCESSIVE_LOAD), N(MOQ_PUBDONE_, MALFORMED_TRACK),
};

static const struct code_name reset_codes[] = {
    N(MOQ_RESET_, INTERNAL_ERROR),
    N(MOQ_RESET_, CANCELLED),
    N(MOQ_RESET_, DELIVERY_TIMEOUT),
    N(MOQ_RESET_, SESSION_CLOSED),
    N(MOQ_RESET_, GOING_AWAY),
    N(MOQ_RESET_, TOO_FAR_BEHIND),
    N(MOQ_RESET_, UNKNOWN_OBJECT_STATUS),
    N(MOQ_RESET_, EXPIRED_AUTH_TOKEN),
    N(MOQ_RESET_, EXCESSIVE_LOAD),
    N(MOQ_RESET_, MALFORMED_TRACK),
};

static const struct code_name alias_types[] = {
    N(MOQ_ALIAS_, DELETE),
    N(MOQ_ALIAS_, REGISTER),
    N(MOQ_ALIAS_, USE_ALIAS),
    N(MOQ_ALIAS_, USE_VALUE),
};

static const char *lookup(const struct code_name *t, size_t n, uint64_t code)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].name;
	return NULL;
}

#define LOOKUP(t, c) lookup(t, sizeof(t) / sizeof(t[0]), c)

const char *moq_session_code_name(uint64_t code)
{
	return LOOKUP(session_codes, code);
}

const char *moq_request_error_name(uint64_t code)
{
	return LOOKUP(request_error_codes, code);
}

const char *moq_publish_done_name(uint64_t code)
{
	return LOOKUP(publish_done_codes, code);
}

const char *moq_reset_code_name(uint64_t code)
{
	return LOOKUP(reset_codes, code);
}

const char *moq_alias_type_name(uint64_t alias_type)
{
	return LOOKUP(alias_types, alias_type);
}

bool moq_is_grease(uint64_t v)
{
	return v >= 0x9D && (v - 0x9D) % 0x7f == 0;
}
