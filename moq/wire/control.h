/* MoQT draft-18 control messages ("Control Messages").
 *
 *   MOQT Control Message {
 *     Message Type (vi64),
 *     Message Length (16),      -- big-endian, bytes of payload
 *     Message Payload (..),
 *   }
 *
 * One struct per message type, fields named after the draft's field names in
 * snake_case. Byte strings are struct moq_bytes views into the decoded input
 * (no allocation). Track Properties are kept as a raw KVP block validated with
 * moq_kvp_validate (iterate it with moq_kvp_iter_*).
 *
 * Decoding one framed message:
 *   n = moq_ctrl_decode(&m, in, inlen);
 *   n > 0                 m filled, n bytes consumed (header + payload)
 *   MOQ_ERR_NEED_MORE     type, length or payload not all present yet
 *   MOQ_ERR_UNKNOWN_TYPE  unknown or reserved Message Type (known as soon as
 *                         the type is complete, before the payload arrives)
 *   MOQ_ERR_MALFORMED     payload does not parse to exactly Length bytes, a
 *                         field value the draft forbids, unknown parameter,
 *                         parameter not allowed in this message
 *   MOQ_ERR_LIMIT         namespace > 32 fields, Full Track Name > 4096,
 *                         Reason Phrase > 1024, New Session URI > 8192,
 *                         KVP value > 65535, implementation array limits
 *   MOQ_ERR_KVP_FORMAT    Token structure that cannot be decoded
 *   MOQ_ERR_DUPLICATE     a non-repeatable parameter or setup option twice
 * Map a negative result to a session close code with
 * moq_ctrl_err_to_session_code. */
#ifndef MOQ_CONTROL_H
#define MOQ_CONTROL_H

#include <stdbool.h>

#include "kvp.h"
#include "moq_codes.h"
#include "moq_types.h"
#include "params.h"

/* Message Types (draft-18 message table). */
enum moq_ctrl_type {
	MOQ_CTRL_REQUEST_UPDATE = 0x2,
	MOQ_CTRL_SUBSCRIBE = 0x3,
	MOQ_CTRL_SUBSCRIBE_OK = 0x4,
	MOQ_CTRL_REQUEST_ERROR = 0x5,
	MOQ_CTRL_PUBLISH_NAMESPACE = 0x6,
	MOQ_CTRL_REQUEST_OK = 0x7,
	MOQ_CTRL_NAMESPACE = 0x8,
	MOQ_CTRL_PUBLISH_DONE = 0xB,
	MOQ_CTRL_TRACK_STATUS = 0xD,
	MOQ_CTRL_NAMESPACE_DONE = 0xE,
	MOQ_CTRL_PUBLISH_BLOCKED = 0xF,
	MOQ_CTRL_GOAWAY = 0x10,
	MOQ_CTRL_FETCH = 0x16,
	MOQ_CTRL_FETCH_OK = 0x18,
	MOQ_CTRL_PUBLISH = 0x1D,
	MOQ_CTRL_PUBLISH_OK = 0x1E,
	MOQ_CTRL_SUBSCRIBE_NAMESPACE = 0x50,
	MOQ_CTRL_SUBSCRIBE_TRACKS = 0x51,
	MOQ_CTRL_SETUP = 0x2F00,
};

#define MOQ_CTRL_MAX_HEADER 11 /* 9-byte vi64 type + 16-bit length */
#define MOQ_CTRL_MAX_FRAME (MOQ_CTRL_MAX_HEADER + MOQ_MAX_CONTROL_PAYLOAD)
#define MOQ_MAX_SESSION_URI 8192 /* GOAWAY New Session URI */
#define MOQ_MAX_SETUP_OPTIONS 64 /* implementation limit, all options kept */
#define MOQ_MAX_SETUP_TOKENS 8	 /* implementation limit */

/* Setup Option types (IANA "Setup Options"); a separate KVP namespace. */
enum moq_setup_option {
	MOQ_SETUP_PATH = 0x01,			    /* bytes */
	MOQ_SETUP_AUTHORIZATION_TOKEN = 0x03,	    /* bytes: Token; repeatable */
	MOQ_SETUP_MAX_AUTH_TOKEN_CACHE_SIZE = 0x04, /* varint */
	MOQ_SETUP_AUTHORITY = 0x05,		    /* bytes */
	MOQ_SETUP_MOQT_IMPLEMENTATION = 0x07,	    /* bytes */
};

/* FETCH Fetch Type. */
enum moq_fetch_type {
	MOQ_FETCH_STANDALONE = 0x1,
	MOQ_FETCH_RELATIVE_JOINING = 0x2,
	MOQ_FETCH_ABSOLUTE_JOINING = 0x3,
};

/* SETUP (0x2F00): Setup Options span the payload.
 * Encoding writes `options` (types non-decreasing). Decoding fills `options`
 * with every option in wire order (unknown ones preserved, duplicates of
 * unknown ones allowed) and the typed fields below from the known ones. */
struct moq_setup {
	size_t num_options;
	struct moq_kvp options[MOQ_MAX_SETUP_OPTIONS];
	/* decode-only views of known options */
	bool has_path;
	struct moq_bytes path;
	bool has_authority;
	struct moq_bytes authority;
	bool has_max_auth_token_cache_size;
	uint64_t max_auth_token_cache_size;
	bool has_moqt_implementation;
	struct moq_bytes moqt_implementation;
	size_t num_authorization_tokens;
	struct moq_auth_token authorization_tokens[MOQ_MAX_SETUP_TOKENS];
};

/* GOAWAY (0x10). Request ID is present only on the control stream; on decode
 * has_request_id says whether bytes followed Timeout. */
struct moq_goaway {
	struct moq_bytes new_session_uri; /* <= 8192 */
	uint64_t timeout;
	bool has_request_id;
	uint64_t request_id;
};

/* SUBSCRIBE (0x3) and TRACK_STATUS (0xD) share this layout. */
struct moq_subscribe {
	uint64_t request_id;
	struct moq_namespace track_namespace;
	struct moq_bytes track_name;
	struct moq_params params;
};

/* SUBSCRIBE_OK (0x4). */
struct moq_subscribe_ok {
	uint64_t track_alias;
	struct moq_params params;
	struct moq_bytes track_properties; /* KVP block, rest of payload */
};

/* REQUEST_UPDATE (0x2). */
struct moq_request_update {
	uint64_t request_id;
	struct moq_params params;
};

/* PUBLISH (0x1D). */
struct moq_publish {
	uint64_t request_id;
	struct moq_namespace track_namespace;
	struct moq_bytes track_name;
	uint64_t track_alias;
	struct moq_params params;
	struct moq_bytes track_properties; /* KVP block, rest of payload */
};

/* REQUEST_OK (0x7) and PUBLISH_OK (0x1E). Track Properties must be empty in
 * PUBLISH_OK (enforced for type 0x1E; for 0x7 the session knows which request
 * it answers and checks). */
struct moq_request_ok {
	struct moq_params params;
	struct moq_bytes track_properties; /* KVP block, rest of payload */
};

/* PUBLISH_DONE (0xB). */
struct moq_publish_done {
	uint64_t status_code; /* enum moq_publish_done_code */
	uint64_t stream_count;
	struct moq_bytes error_reason; /* <= 1024 */
};

/* Redirect structure (REQUEST_ERROR with REDIRECT). */
struct moq_redirect {
	struct moq_bytes connect_uri;
	struct moq_namespace track_namespace;
	struct moq_bytes track_name;
};

/* REQUEST_ERROR (0x5). `redirect` is present iff error_code == REDIRECT. */
struct moq_request_error {
	uint64_t error_code; /* enum moq_request_error_code */
	uint64_t retry_interval;
	struct moq_bytes error_reason; /* <= 1024 */
	struct moq_redirect redirect;
};

struct moq_standalone_fetch {
	struct moq_namespace track_namespace;
	struct moq_bytes track_name;
	struct moq_location start_location;
	struct moq_location end_location;
};

struct moq_joining_fetch {
	uint64_t joining_request_id;
	uint64_t joining_start;
};

/* FETCH (0x16): `standalone` for fetch_type 1, `joining` for 2 and 3. */
struct moq_fetch {
	uint64_t request_id;
	uint64_t fetch_type; /* enum moq_fetch_type */
	struct moq_standalone_fetch standalone;
	struct moq_joining_fetch joining;
	struct moq_params params;
};

/* FETCH_OK (0x18). */
struct moq_fetch_ok {
	uint8_t end_of_track; /* 0 or 1 */
	struct moq_location end_location;
	struct moq_params params;
	struct moq_bytes track_properties; /* KVP block, rest of payload */
};

/* PUBLISH_NAMESPACE (0x6). */
struct moq_publish_namespace {
	uint64_t request_id;
	struct moq_namespace track_namespace;
	struct moq_params params;
};

/* NAMESPACE (0x8) and NAMESPACE_DONE (0xE). */
struct moq_namespace_msg {
	struct moq_namespace track_namespace_suffix;
};

/* SUBSCRIBE_NAMESPACE (0x50) and SUBSCRIBE_TRACKS (0x51). */
struct moq_subscribe_namespace {
	uint64_t request_id;
	struct moq_namespace track_namespace_prefix;
	struct moq_params params;
};

/* PUBLISH_BLOCKED (0xF). */
struct moq_publish_blocked {
	struct moq_namespace track_namespace_suffix;
	struct moq_bytes track_name;
};

/* A decoded or to-be-encoded message. `type` selects the union member:
 *   SETUP setup, GOAWAY goaway, SUBSCRIBE subscribe, SUBSCRIBE_OK subscribe_ok,
 *   REQUEST_UPDATE request_update, PUBLISH publish, PUBLISH_OK publish_ok,
 *   PUBLISH_DONE publish_done, FETCH fetch, FETCH_OK fetch_ok,
 *   TRACK_STATUS track_status, PUBLISH_NAMESPACE publish_namespace,
 *   NAMESPACE namespace, NAMESPACE_DONE namespace_done,
 *   SUBSCRIBE_NAMESPACE subscribe_namespace, SUBSCRIBE_TRACKS subscribe_tracks,
 *   PUBLISH_BLOCKED publish_blocked, REQUEST_OK request_ok,
 *   REQUEST_ERROR request_error.
 * `length` is the Message Length (filled by decode, ignored by encode). */
struct moq_ctrl_msg {
	uint64_t type;
	size_t length;
	union {
		struct moq_setup setup;
		struct moq_goaway goaway;
		struct moq_subscribe subscribe;
		struct moq_subscribe_ok subscribe_ok;
		struct moq_request_update request_update;
		struct moq_publish publish;
		struct moq_request_ok publish_ok;
		struct moq_publish_done publish_done;
		struct moq_fetch fetch;
		struct moq_fetch_ok fetch_ok;
		struct moq_subscribe track_status;
		struct moq_publish_namespace publish_namespace;
		struct moq_namespace_msg namespace;
		struct moq_namespace_msg namespace_done;
		struct moq_subscribe_namespace subscribe_namespace;
		struct moq_subscribe_namespace subscribe_tracks;
		struct moq_publish_blocked publish_blocked;
		struct moq_request_ok request_ok;
		struct moq_request_error request_error;
	};
};

/* Why a decode failed: static description, offset of the failing field from
 * the start of the frame, and the offending value when there is one (a
 * parameter type, a count, a length). */
struct moq_ctrl_err {
	int code;
	const char *what;
	size_t offset;
	uint64_t value;
};

/* Decode one whole framed message (see top of file for results). */
int moq_ctrl_decode(struct moq_ctrl_msg *m, const uint8_t *in, size_t inlen);
/* Same, filling *err (may be NULL) on failure. */
int moq_ctrl_decode_ex(struct moq_ctrl_msg *m, const uint8_t *in, size_t inlen,
		       struct moq_ctrl_err *err);

/* Read only the frame header: *type, *payload_len and the header size.
 * MOQ_ERR_NEED_MORE until type and length are present; MOQ_ERR_UNKNOWN_TYPE. */
int moq_ctrl_peek_header(uint64_t *type, size_t *payload_len, const uint8_t *in, size_t inlen);

/* Encode one framed message. Bytes written, MOQ_ERR_BUFFER, MOQ_ERR_LIMIT
 * (a draft limit or payload > 65535), MOQ_ERR_UNKNOWN_TYPE, or
 * MOQ_ERR_INVALID for a message the decoder would reject (zero-length
 * namespace field, parameter not allowed, unsorted parameters, ...). */
int moq_ctrl_encode(uint8_t *out, size_t outlen, const struct moq_ctrl_msg *m);

/* Draft name of a message type ("SUBSCRIBE", "PUBLISH_OK", ...), NULL if
 * unknown; reverse lookup returns 0 or MOQ_ERR_INVALID. */
const char *moq_ctrl_type_name(uint64_t type);
int moq_ctrl_type_from_name(const char *name, uint64_t *type);
bool moq_ctrl_type_known(uint64_t type);
/* One of the seven types that may begin a request stream. */
bool moq_ctrl_type_is_request(uint64_t type);
/* Parameter context used when decoding this message type (-1 if it has no
 * parameters). */
int moq_ctrl_param_ctx(uint64_t type);

/* Setup Option name ("PATH", ...) or NULL. */
const char *moq_setup_option_name(uint64_t type);

/* Session termination code for a codec error:
 *   >= 0 -> NO_ERROR; MOQ_ERR_KVP_FORMAT -> KEY_VALUE_FORMATTING_ERROR;
 *   MALFORMED, LIMIT, UNKNOWN_TYPE, DUPLICATE, NEED_MORE (stream ended inside
 *   a message) -> PROTOCOL_VIOLATION; anything else -> INTERNAL_ERROR. */
int moq_ctrl_err_to_session_code(int err);

/* Track Namespace wire structure on its own (used by the messages and the
 * TRACK_NAMESPACE_PREFIX parameter). The block is bounded: a short input is
 * MOQ_ERR_MALFORMED. Decode returns bytes consumed. */
int moq_namespace_decode(struct moq_namespace *ns, const uint8_t *in, size_t inlen);
int moq_namespace_encode(uint8_t *out, size_t outlen, const struct moq_namespace *ns);

#endif
