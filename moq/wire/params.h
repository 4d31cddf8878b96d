/* MoQT draft-18 Message Parameters ("Message Parameters").
 *
 *   Number of Parameters (vi64),
 *   Message Parameter { Type Delta (vi64), Value (..) } ...
 *
 * Types are delta-encoded in ascending order (0 before the first). Unlike
 * KVPs, each parameter type has its own value encoding (uint8, varint,
 * Location, length-prefixed, Track Namespace), so an unknown type cannot be
 * skipped and closes the session (PROTOCOL_VIOLATION). Every parameter is
 * restricted to the messages its definition lists.
 *
 * Decoded parameters are kept as an array in wire order (so a tool can show
 * them as sent) with typed convenience accessors for the session code. */
#ifndef MOQ_PARAMS_H
#define MOQ_PARAMS_H

#include <stdbool.h>

#include "moq_types.h"

/* Implementation limits (the draft bounds parameters only by the 64 KiB
 * message size). Exceeding one on decode is MOQ_ERR_LIMIT. */
#define MOQ_MAX_PARAMS 32

/* Parameter types (IANA "Message Parameters"). */
enum moq_param_type {
	MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT = 0x02,   /* varint */
	MOQ_PARAM_AUTHORIZATION_TOKEN = 0x03,	    /* length-prefixed Token; repeatable */
	MOQ_PARAM_RENDEZVOUS_TIMEOUT = 0x04,	    /* varint */
	MOQ_PARAM_SUBGROUP_DELIVERY_TIMEOUT = 0x06, /* varint */
	MOQ_PARAM_EXPIRES = 0x08,		    /* varint */
	MOQ_PARAM_LARGEST_OBJECT = 0x09,	    /* Location */
	MOQ_PARAM_FILL_TIMEOUT = 0x0A,		    /* varint */
	MOQ_PARAM_FORWARD = 0x10,		    /* uint8, 0 or 1 */
	MOQ_PARAM_SUBSCRIBER_PRIORITY = 0x20,	    /* uint8 */
	MOQ_PARAM_SUBSCRIPTION_FILTER = 0x21,	    /* length-prefixed Subscription Filter */
	MOQ_PARAM_GROUP_ORDER = 0x22,		    /* uint8, 1 or 2 */
	MOQ_PARAM_NEW_GROUP_REQUEST = 0x32,	    /* varint */
	MOQ_PARAM_TRACK_NAMESPACE_PREFIX = 0x34,    /* Track Namespace (no extra length) */
};

/* Wire encoding of a parameter value. */
enum moq_param_kind {
	MOQ_PARAM_KIND_UNKNOWN = 0,
	MOQ_PARAM_KIND_UINT8,		/* one byte */
	MOQ_PARAM_KIND_VARINT,		/* one vi64 */
	MOQ_PARAM_KIND_LOCATION,	/* two vi64: Group, Object */
	MOQ_PARAM_KIND_LENGTH_PREFIXED, /* vi64 length + bytes */
	MOQ_PARAM_KIND_NAMESPACE,	/* Track Namespace structure */
};

/* GROUP_ORDER values. */
enum moq_group_order {
	MOQ_GROUP_ORDER_ASCENDING = 0x1,
	MOQ_GROUP_ORDER_DESCENDING = 0x2,
};

/* Subscription Filter Type values. */
enum moq_filter_type {
	MOQ_FILTER_NEXT_GROUP_START = 0x1,
	MOQ_FILTER_LARGEST_OBJECT = 0x2,
	MOQ_FILTER_ABSOLUTE_START = 0x3, /* start_location */
	MOQ_FILTER_ABSOLUTE_RANGE = 0x4, /* start_location, end_group_delta */
};

/* Subscription Filter { Filter Type, [Start Location], [End Group Delta] }.
 * Fields not carried by filter_type are 0. */
struct moq_subscription_filter {
	uint64_t filter_type;
	struct moq_location start_location;
	uint64_t end_group_delta;
};

/* Token { Alias Type, [Token Alias], [Token Type], [Token Value] }
 * (alias_type: enum moq_alias_type in moq_codes.h). Fields absent for the
 * alias type are 0 / empty. Token Value runs to the end of the parameter. */
struct moq_auth_token {
	uint64_t alias_type;
	uint64_t token_alias;	      /* DELETE, REGISTER, USE_ALIAS */
	uint64_t token_type;	      /* REGISTER, USE_VALUE */
	struct moq_bytes token_value; /* REGISTER, USE_VALUE */
};

/* One decoded parameter. `kind` follows from `type`. `bytes` is the raw value
 * of a length-prefixed parameter (view into the input). The union member in
 * use depends on type:
 *   UINT8 / VARINT kinds          -> value
 *   LARGEST_OBJECT                -> location
 *   AUTHORIZATION_TOKEN           -> token
 *   SUBSCRIPTION_FILTER           -> filter
 *   TRACK_NAMESPACE_PREFIX        -> struct moq_params.track_namespace_prefix
 * Encoders read the typed member (not `bytes`). */
struct moq_param {
	uint64_t type;
	enum moq_param_kind kind;
	struct moq_bytes bytes;
	union {
		uint64_t value;
		struct moq_location location;
		struct moq_auth_token token;
		struct moq_subscription_filter filter;
	};
};

struct moq_params {
	size_t count;
	struct moq_param param[MOQ_MAX_PARAMS]; /* ascending type order */
	/* Value of TRACK_NAMESPACE_PREFIX (at most one per message). */
	struct moq_namespace track_namespace_prefix;
};

/* Where a parameter block appears. One value per message type, plus the
 * REQUEST_OK shorthands (the REQUEST_OK wire message does not say which
 * request it answers; the codec accepts the union of its shorthands and the
 * session re-checks with moq_params_check once it knows). */
enum moq_param_ctx {
	MOQ_PCTX_SUBSCRIBE,
	MOQ_PCTX_SUBSCRIBE_OK,
	MOQ_PCTX_PUBLISH,
	MOQ_PCTX_PUBLISH_OK,
	MOQ_PCTX_FETCH,
	MOQ_PCTX_FETCH_OK,
	MOQ_PCTX_TRACK_STATUS,
	MOQ_PCTX_PUBLISH_NAMESPACE,
	MOQ_PCTX_SUBSCRIBE_NAMESPACE,
	MOQ_PCTX_SUBSCRIBE_TRACKS,
	MOQ_PCTX_REQUEST_UPDATE,
	MOQ_PCTX_REQUEST_OK, /* union of the shorthands below */
	MOQ_PCTX_REQUEST_UPDATE_OK,
	MOQ_PCTX_TRACK_STATUS_OK,
	MOQ_PCTX_SUBSCRIBE_NAMESPACE_OK,
	MOQ_PCTX_SUBSCRIBE_TRACKS_OK,
	MOQ_PCTX_PUBLISH_NAMESPACE_OK,
	MOQ_PCTX_COUNT,
};

/* Draft name of a parameter type ("AUTHORIZATION_TOKEN"), NULL if unknown. */
const char *moq_param_type_name(uint64_t type);
/* Reverse lookup: 0 and *type set, or MOQ_ERR_INVALID. */
int moq_param_type_from_name(const char *name, uint64_t *type);
/* Wire encoding of a known type; MOQ_PARAM_KIND_UNKNOWN otherwise. */
enum moq_param_kind moq_param_kind_of(uint64_t type);
/* "uint8", "varint", "location", "length_prefixed", "namespace". */
const char *moq_param_kind_name(enum moq_param_kind kind);
/* May this (known) type appear in this context? */
bool moq_param_allowed(uint64_t type, enum moq_param_ctx ctx);
/* May this type appear more than once in one message? */
bool moq_param_repeatable(uint64_t type);

/* Decode "Number of Parameters" and the parameters from a bounded block of
 * inlen bytes (the rest of a message payload). Returns bytes consumed or:
 *   MOQ_ERR_MALFORMED  truncated, unknown type, type not allowed in ctx,
 *                      type overflow, bad uint8 value (FORWARD, GROUP_ORDER),
 *                      bad Subscription Filter, bad namespace
 *   MOQ_ERR_DUPLICATE  a non-repeatable type twice
 *   MOQ_ERR_LIMIT      more than MOQ_MAX_PARAMS, namespace > 32 fields/4096
 *   MOQ_ERR_KVP_FORMAT Token structure that cannot be decoded
 * If why is not NULL it receives a static description of the failure. */
int moq_params_decode(struct moq_params *p, enum moq_param_ctx ctx, const uint8_t *in, size_t inlen,
		      const char **why);

/* Encode the count and parameters. MOQ_ERR_INVALID if the block would not
 * decode in ctx (unsorted, disallowed, bad value), MOQ_ERR_BUFFER. */
int moq_params_encode(uint8_t *out, size_t outlen, const struct moq_params *p,
		      enum moq_param_ctx ctx);

/* Re-check an already decoded block against a narrower context (e.g. a
 * REQUEST_OK known to be a TRACK_STATUS_OK). 0 or MOQ_ERR_MALFORMED. */
int moq_params_check(const struct moq_params *p, enum moq_param_ctx ctx);

/* --- accessors (first instance of a type) --- */
const struct moq_param *moq_params_find(const struct moq_params *p, uint64_t type);
bool moq_params_has(const struct moq_params *p, uint64_t type);
/* UINT8 / VARINT kinds: true and *v set when present. */
bool moq_params_get_u64(const struct moq_params *p, uint64_t type, uint64_t *v);
bool moq_params_get_location(const struct moq_params *p, uint64_t type, struct moq_location *loc);
bool moq_params_get_filter(const struct moq_params *p, struct moq_subscription_filter *f);
/* Number of AUTHORIZATION_TOKEN parameters; the i-th via moq_params_token. */
size_t moq_params_token_count(const struct moq_params *p);
const struct moq_auth_token *moq_params_token(const struct moq_params *p, size_t i);

/* --- builders: insert keeping ascending type order ---
 * 0, MOQ_ERR_LIMIT (full), MOQ_ERR_DUPLICATE (non-repeatable present),
 * MOQ_ERR_INVALID (wrong kind for type / value out of range). */
void moq_params_init(struct moq_params *p);
int moq_params_add_u64(struct moq_params *p, uint64_t type, uint64_t v);
int moq_params_add_location(struct moq_params *p, uint64_t type, struct moq_location loc);
int moq_params_add_token(struct moq_params *p, const struct moq_auth_token *t);
int moq_params_add_filter(struct moq_params *p, const struct moq_subscription_filter *f);
int moq_params_add_namespace_prefix(struct moq_params *p, const struct moq_namespace *ns);

/* Token structure (used by the parameter and by the SETUP option).
 * Decode: bytes consumed (== inlen) or MOQ_ERR_KVP_FORMAT. */
int moq_auth_token_decode(struct moq_auth_token *t, const uint8_t *in, size_t inlen);
int moq_auth_token_encode(uint8_t *out, size_t outlen, const struct moq_auth_token *t);

/* Subscription Filter structure. Decode: inlen or MOQ_ERR_MALFORMED. */
int moq_filter_decode(struct moq_subscription_filter *f, const uint8_t *in, size_t inlen);
int moq_filter_encode(uint8_t *out, size_t outlen, const struct moq_subscription_filter *f);
/* "NEXT_GROUP_START", "LARGEST_OBJECT", "ABSOLUTE_START", "ABSOLUTE_RANGE". */
const char *moq_filter_type_name(uint64_t filter_type);

#endif
