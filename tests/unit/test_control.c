/* Control messages: framing, round trip of every message type, truncation,
 * limits and malformed payloads, error mapping, names. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "lib/ctrl_samples.h"
#include "moq_err.h"
#include "varint.h"

static uint8_t enc[MOQ_CTRL_MAX_FRAME];
static uint8_t enc2[MOQ_CTRL_MAX_FRAME];
static struct moq_ctrl_msg msg, msg2;

/* ---- raw payload builder for hand-made (often invalid) messages ---- */
struct pb {
	uint8_t b[MOQ_CTRL_MAX_FRAME];
	size_t n;
};
static struct pb pl;
static uint8_t frame_buf[MOQ_CTRL_MAX_FRAME + 16];

static void pb_reset(void)
{
	pl.n = 0;
}

static void pb_vi(uint64_t v)
{
	int n = moq_vi_encode(pl.b + pl.n, sizeof(pl.b) - pl.n, v);
	ck_assert_int_gt(n, 0);
	pl.n += (size_t)n;
}

static void pb_raw(const void *p, size_t len)
{
	memcpy(pl.b + pl.n, p, len);
	pl.n += len;
}

static void pb_fill(uint8_t c, size_t len)
{
	memset(pl.b + pl.n, c, len);
	pl.n += len;
}

static void pb_str(const char *s)
{
	pb_vi(strlen(s));
	pb_raw(s, strlen(s));
}

/* Frame pl as a message of this type; returns the frame length. */
static size_t frame(uint64_t type)
{
	int n = moq_vi_encode(frame_buf, 9, type);
	ck_assert_int_gt(n, 0);
	frame_buf[n] = (uint8_t)(pl.n >> 8);
	frame_buf[n + 1] = (uint8_t)pl.n;
	memcpy(frame_buf + n + 2, pl.b, pl.n);
	return (size_t)n + 2 + pl.n;
}

static int decode_frame(uint64_t type)
{
	size_t len = frame(type);
	return moq_ctrl_decode(&msg, frame_buf, len);
}

static int encode_sample(uint64_t type)
{
	ctrl_sample(&msg, type);
	return moq_ctrl_encode(enc, sizeof(enc), &msg);
}

/* ---- every message type ---- */

START_TEST(every_message_type_round_trips_byte_exact)
{
	uint64_t type = ctrl_sample_types[_i];
	int n = encode_sample(type);
	ck_assert_msg(n > 0, "encode %s: %d", moq_ctrl_type_name(type), n);
	int d = moq_ctrl_decode(&msg2, enc, (size_t)n);
	ck_assert_msg(d == n, "decode %s: %d (want %d)", moq_ctrl_type_name(type), d, n);
	ck_assert_uint_eq(msg2.type, type);
	int n2 = moq_ctrl_encode(enc2, sizeof(enc2), &msg2);
	ck_assert_int_eq(n2, n);
	ck_assert_mem_eq(enc, enc2, (size_t)n);
}
END_TEST

START_TEST(every_truncated_prefix_needs_more)
{
	uint64_t type = ctrl_sample_types[_i];
	int n = encode_sample(type);
	ck_assert_int_gt(n, 0);
	for (int k = 0; k < n; k++) {
		/* copy so ASan catches any read past the prefix */
		uint8_t *p = malloc((size_t)k + 1);
		memcpy(p, enc, (size_t)k);
		int rc = moq_ctrl_decode(&msg2, p, (size_t)k);
		free(p);
		ck_assert_msg(rc == MOQ_ERR_NEED_MORE, "%s prefix %d/%d: %d",
			      moq_ctrl_type_name(type), k, n, rc);
	}
}
END_TEST

START_TEST(every_message_type_has_its_draft_name)
{
	uint64_t type = ctrl_sample_types[_i], back = 0;
	const char *name = moq_ctrl_type_name(type);
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(moq_ctrl_type_from_name(name, &back), 0);
	ck_assert_uint_eq(back, type);
}
END_TEST

START_TEST(decode_consumes_only_one_message)
{
	int n = encode_sample(MOQ_CTRL_GOAWAY);
	memcpy(enc + n, enc, (size_t)n);
	ck_assert_int_eq(moq_ctrl_decode(&msg, enc, (size_t)n * 2), n);
}
END_TEST

/* ---- fields decode to what was sent ---- */

START_TEST(subscribe_fields_and_parameters_decode)
{
	int n = encode_sample(MOQ_CTRL_SUBSCRIBE);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	const struct moq_subscribe *s = &msg2.subscribe;
	ck_assert_uint_eq(s->request_id, 2);
	ck_assert_uint_eq(s->track_namespace.nfields, 2);
	ck_assert_mem_eq(s->track_namespace.fields[0].ptr, "example.net", 11);
	ck_assert_uint_eq(s->track_name.len, 8);
	uint64_t v;
	ck_assert(moq_params_get_u64(&s->params, MOQ_PARAM_SUBSCRIBER_PRIORITY, &v));
	ck_assert_uint_eq(v, 200);
	ck_assert(moq_params_get_u64(&s->params, MOQ_PARAM_RENDEZVOUS_TIMEOUT, &v));
	ck_assert_uint_eq(v, 250);
	struct moq_subscription_filter f;
	ck_assert(moq_params_get_filter(&s->params, &f));
	ck_assert_uint_eq(f.filter_type, MOQ_FILTER_ABSOLUTE_RANGE);
	ck_assert_uint_eq(f.start_location.group, 10);
	ck_assert_uint_eq(f.end_group_delta, 5);
	ck_assert_uint_eq(moq_params_token_count(&s->params), 2);
	const struct moq_auth_token *t = moq_params_token(&s->params, 0);
	ck_assert_uint_eq(t->alias_type, MOQ_ALIAS_REGISTER);
	ck_assert_uint_eq(t->token_alias, 5);
	ck_assert_uint_eq(t->token_value.len, 6);
	ck_assert_mem_eq(t->token_value.ptr, "secret", 6);
}
END_TEST

START_TEST(setup_keeps_unknown_options_and_fills_known_ones)
{
	int n = encode_sample(MOQ_CTRL_SETUP);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	const struct moq_setup *s = &msg2.setup;
	ck_assert_uint_eq(s->num_options, 7);
	ck_assert_uint_eq(s->options[5].type, 0x9D);
	ck_assert_uint_eq(s->options[6].value, 77);
	ck_assert(s->has_path);
	ck_assert_mem_eq(s->path.ptr, "/live?x=1", 9);
	ck_assert(s->has_authority);
	ck_assert(s->has_max_auth_token_cache_size);
	ck_assert_uint_eq(s->max_auth_token_cache_size, 4096);
	ck_assert(s->has_moqt_implementation);
	ck_assert_uint_eq(s->num_authorization_tokens, 1);
	ck_assert_uint_eq(s->authorization_tokens[0].alias_type, MOQ_ALIAS_USE_VALUE);
	ck_assert_uint_eq(s->authorization_tokens[0].token_value.len, 2);
}
END_TEST

START_TEST(setup_allows_duplicate_unknown_options)
{
	pb_reset();
	pb_vi(0x9D);
	pb_vi(1);
	pb_raw("a", 1); /* odd grease type */
	pb_vi(0);
	pb_vi(1);
	pb_raw("b", 1); /* same type again */
	ck_assert_int_gt(decode_frame(MOQ_CTRL_SETUP), 0);
	ck_assert_uint_eq(msg.setup.num_options, 2);
}
END_TEST

START_TEST(setup_duplicate_path_is_duplicate)
{
	pb_reset();
	pb_vi(1);
	pb_str("/a");
	pb_vi(0);
	pb_str("/b");
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SETUP), MOQ_ERR_DUPLICATE);
}
END_TEST

START_TEST(setup_token_that_cannot_be_decoded_is_kvp_format)
{
	pb_reset();
	pb_vi(3);
	pb_vi(1);
	pb_vi(9); /* alias type 9 does not exist */
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SETUP), MOQ_ERR_KVP_FORMAT);
}
END_TEST

START_TEST(setup_token_with_use_alias_is_malformed)
{
	pb_reset();
	pb_vi(3);
	pb_vi(2);
	pb_vi(MOQ_ALIAS_USE_ALIAS);
	pb_vi(1);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SETUP), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(setup_option_type_overflow_is_malformed)
{
	static const uint8_t big[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
	pb_reset();
	pb_raw(big, 9);
	pb_vi(0); /* type 2^64-2, even */
	pb_vi(2);
	pb_vi(0); /* + 2 overflows */
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SETUP), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(empty_setup_decodes_with_no_options)
{
	pb_reset();
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SETUP), 4);
	ck_assert_uint_eq(msg.setup.num_options, 0);
}
END_TEST

START_TEST(goaway_without_request_id_round_trips)
{
	ctrl_sample(&msg, MOQ_CTRL_GOAWAY);
	msg.goaway.has_request_id = false;
	int n = moq_ctrl_encode(enc, sizeof(enc), &msg);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	ck_assert(!msg2.goaway.has_request_id);
	ck_assert_uint_eq(msg2.goaway.timeout, 5000);
}
END_TEST

START_TEST(goaway_uri_of_8193_bytes_is_limit)
{
	pb_reset();
	pb_vi(8193);
	pb_fill('u', 8193);
	pb_vi(0);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_GOAWAY), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(joining_fetch_round_trips)
{
	ctrl_sample(&msg, MOQ_CTRL_FETCH);
	msg.fetch.fetch_type = MOQ_FETCH_RELATIVE_JOINING;
	msg.fetch.joining.joining_request_id = 2;
	msg.fetch.joining.joining_start = 3;
	int n = moq_ctrl_encode(enc, sizeof(enc), &msg);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	ck_assert_uint_eq(msg2.fetch.fetch_type, MOQ_FETCH_RELATIVE_JOINING);
	ck_assert_uint_eq(msg2.fetch.joining.joining_request_id, 2);
	ck_assert_uint_eq(msg2.fetch.joining.joining_start, 3);
	ck_assert_uint_eq(msg2.fetch.standalone.track_namespace.nfields, 0);
}
END_TEST

START_TEST(fetch_type_4_is_malformed)
{
	pb_reset();
	pb_vi(0);
	pb_vi(4);
	pb_vi(0);
	pb_vi(0);
	pb_vi(0);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_FETCH), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(fetch_ok_end_of_track_2_is_malformed)
{
	pb_reset();
	pb_raw("\x02", 1);
	pb_vi(1);
	pb_vi(1);
	pb_vi(0);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_FETCH_OK), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(request_error_without_redirect_round_trips)
{
	ctrl_sample(&msg, MOQ_CTRL_REQUEST_ERROR);
	msg.request_error.error_code = MOQ_REQERR_DOES_NOT_EXIST;
	int n = moq_ctrl_encode(enc, sizeof(enc), &msg);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	ck_assert_uint_eq(msg2.request_error.redirect.connect_uri.len, 0);
	ck_assert_uint_eq(msg2.request_error.redirect.track_namespace.nfields, 0);
}
END_TEST

START_TEST(request_error_redirect_decodes_its_structure)
{
	int n = encode_sample(MOQ_CTRL_REQUEST_ERROR);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	const struct moq_redirect *r = &msg2.request_error.redirect;
	ck_assert_uint_eq(r->connect_uri.len, strlen("moqt://b.example/live"));
	ck_assert_uint_eq(r->track_namespace.nfields, 2);
	ck_assert_uint_eq(r->track_name.len, 8);
}
END_TEST

START_TEST(redirect_error_without_redirect_is_malformed)
{
	pb_reset();
	pb_vi(MOQ_REQERR_REDIRECT);
	pb_vi(0);
	pb_str("x");
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_ERROR), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(publish_ok_with_track_properties_is_malformed)
{
	pb_reset();
	pb_vi(0);
	pb_vi(0x0e);
	pb_vi(1);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_PUBLISH_OK), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(request_ok_accepts_union_of_shorthand_parameters)
{
	ctrl_sample(&msg, MOQ_CTRL_REQUEST_OK);
	moq_params_add_u64(&msg.request_ok.params, MOQ_PARAM_SUBSCRIBER_PRIORITY, 1);
	int n = moq_ctrl_encode(enc, sizeof(enc), &msg);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	/* ... and the session narrows it once it knows the request */
	ck_assert_int_eq(moq_params_check(&msg2.request_ok.params, MOQ_PCTX_PUBLISH_OK),
			 MOQ_ERR_MALFORMED); /* LARGEST_OBJECT is not for PUBLISH_OK */
	ck_assert_int_eq(moq_params_check(&msg2.request_ok.params, MOQ_PCTX_TRACK_STATUS_OK),
			 MOQ_ERR_MALFORMED); /* SUBSCRIBER_PRIORITY is not either */
}
END_TEST

/* ---- framing ---- */

START_TEST(unknown_message_type_is_unknown_type)
{
	pb_reset();
	ck_assert_int_eq(decode_frame(0x3f), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(reserved_pre_draft17_setup_type_is_unknown_type)
{
	pb_reset();
	ck_assert_int_eq(decode_frame(0x20), MOQ_ERR_UNKNOWN_TYPE);
	ck_assert_int_eq(decode_frame(0x40), MOQ_ERR_UNKNOWN_TYPE);
	ck_assert_int_eq(decode_frame(0x01), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(unknown_type_is_reported_before_the_payload_arrives)
{
	uint8_t in[] = {0x3f, 0x01};
	ck_assert_int_eq(moq_ctrl_decode(&msg, in, 1), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(length_larger_than_fields_is_malformed)
{
	int n = encode_sample(MOQ_CTRL_PUBLISH_DONE);
	/* one extra payload byte, length bumped to match */
	enc[n] = 0;
	enc[2] = (uint8_t)(enc[2] + 1);
	ck_assert_int_eq(moq_ctrl_decode(&msg, enc, (size_t)n + 1), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(length_shorter_than_fields_is_malformed)
{
	int n = encode_sample(MOQ_CTRL_PUBLISH_DONE);
	enc[2] = (uint8_t)(enc[2] - 1);
	ck_assert_int_eq(moq_ctrl_decode(&msg, enc, (size_t)n - 1), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(field_length_past_payload_end_is_malformed)
{
	pb_reset();
	pb_vi(0);
	pb_vi(1);
	pb_vi(200);
	pb_raw("abc", 3);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_NAMESPACE), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(decode_ex_says_what_failed_and_where)
{
	struct moq_ctrl_err err = {0};
	pb_reset();
	pb_vi(1);
	pb_vi(0); /* one namespace field of length 0 */
	size_t len = frame(MOQ_CTRL_NAMESPACE);
	ck_assert_int_eq(moq_ctrl_decode_ex(&msg, frame_buf, len, &err), MOQ_ERR_MALFORMED);
	ck_assert_int_eq(err.code, MOQ_ERR_MALFORMED);
	ck_assert_ptr_nonnull(strstr(err.what, "length 0"));
	ck_assert_uint_eq(err.offset, 4); /* type(1) + length(2) + count(1) */
}
END_TEST

/* ---- names and limits ---- */

static void pb_namespace(size_t nfields)
{
	pb_vi(nfields);
	for (size_t i = 0; i < nfields; i++)
		pb_str("f");
}

START_TEST(namespace_with_32_fields_is_accepted)
{
	pb_reset();
	pb_namespace(32);
	ck_assert_int_gt(decode_frame(MOQ_CTRL_NAMESPACE), 0);
	ck_assert_uint_eq(msg.namespace.track_namespace_suffix.nfields, 32);
}
END_TEST

START_TEST(namespace_with_33_fields_is_limit)
{
	pb_reset();
	pb_namespace(33);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_NAMESPACE), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(zero_length_namespace_field_is_malformed)
{
	pb_reset();
	pb_vi(2);
	pb_str("a");
	pb_vi(0);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_NAMESPACE_DONE), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(empty_namespace_is_accepted)
{
	pb_reset();
	pb_vi(0);
	ck_assert_int_gt(decode_frame(MOQ_CTRL_NAMESPACE), 0);
}
END_TEST

/* PUBLISH_BLOCKED with a namespace of 10 bytes and a name of len bytes. */
static int publish_blocked_with_name(size_t len)
{
	pb_reset();
	pb_vi(2);
	pb_vi(5);
	pb_raw("aaaaa", 5);
	pb_vi(5);
	pb_raw("bbbbb", 5);
	pb_vi(len);
	pb_fill('n', len);
	return decode_frame(MOQ_CTRL_PUBLISH_BLOCKED);
}

START_TEST(full_track_name_of_4096_bytes_is_accepted)
{
	ck_assert_int_gt(publish_blocked_with_name(4086), 0);
}
END_TEST

START_TEST(full_track_name_of_4097_bytes_is_limit)
{
	ck_assert_int_eq(publish_blocked_with_name(4087), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(namespace_of_4097_bytes_is_limit)
{
	pb_reset();
	pb_vi(2);
	pb_vi(4000);
	pb_fill('a', 4000);
	pb_vi(97);
	pb_fill('b', 97);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_NAMESPACE), MOQ_ERR_LIMIT);
}
END_TEST

static int publish_done_with_reason(size_t len)
{
	pb_reset();
	pb_vi(0);
	pb_vi(0);
	pb_vi(len);
	pb_fill('r', len);
	return decode_frame(MOQ_CTRL_PUBLISH_DONE);
}

START_TEST(reason_phrase_of_1024_bytes_is_accepted)
{
	ck_assert_int_gt(publish_done_with_reason(1024), 0);
}
END_TEST

START_TEST(reason_phrase_of_1025_bytes_is_limit)
{
	ck_assert_int_eq(publish_done_with_reason(1025), MOQ_ERR_LIMIT);
}
END_TEST

/* ---- parameters inside messages ---- */

/* REQUEST_UPDATE(request 0) with a raw parameter block appended by the caller. */
static void update_prefix(uint64_t nparams)
{
	pb_reset();
	pb_vi(0);
	pb_vi(nparams);
}

START_TEST(unknown_parameter_is_malformed)
{
	struct moq_ctrl_err err = {0};
	update_prefix(1);
	pb_vi(0x05);
	pb_vi(1); /* type 5 is not defined */
	size_t len = frame(MOQ_CTRL_REQUEST_UPDATE);
	ck_assert_int_eq(moq_ctrl_decode_ex(&msg, frame_buf, len, &err), MOQ_ERR_MALFORMED);
	ck_assert_uint_eq(err.value, 5);
	ck_assert_ptr_nonnull(strstr(err.what, "unknown"));
}
END_TEST

START_TEST(parameter_not_allowed_in_message_is_malformed)
{
	struct moq_ctrl_err err = {0};
	update_prefix(1);
	pb_vi(MOQ_PARAM_FILL_TIMEOUT);
	pb_vi(10); /* FETCH only */
	size_t len = frame(MOQ_CTRL_REQUEST_UPDATE);
	ck_assert_int_eq(moq_ctrl_decode_ex(&msg, frame_buf, len, &err), MOQ_ERR_MALFORMED);
	ck_assert_ptr_nonnull(strstr(err.what, "not allowed"));
}
END_TEST

START_TEST(any_parameter_in_fetch_ok_is_malformed)
{
	pb_reset();
	pb_raw("\x00", 1);
	pb_vi(1);
	pb_vi(1);
	pb_vi(1);
	pb_vi(MOQ_PARAM_EXPIRES);
	pb_vi(1);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_FETCH_OK), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(duplicate_parameter_is_duplicate)
{
	update_prefix(2);
	pb_vi(MOQ_PARAM_FORWARD);
	pb_raw("\x01", 1);
	pb_vi(0);
	pb_raw("\x00", 1);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_DUPLICATE);
}
END_TEST

START_TEST(repeated_authorization_token_is_allowed)
{
	update_prefix(2);
	pb_vi(MOQ_PARAM_AUTHORIZATION_TOKEN);
	pb_vi(2);
	pb_vi(MOQ_ALIAS_USE_ALIAS);
	pb_vi(1);
	pb_vi(0);
	pb_vi(2);
	pb_vi(MOQ_ALIAS_USE_ALIAS);
	pb_vi(2);
	ck_assert_int_gt(decode_frame(MOQ_CTRL_REQUEST_UPDATE), 0);
	ck_assert_uint_eq(moq_params_token_count(&msg.request_update.params), 2);
}
END_TEST

START_TEST(parameter_type_overflow_is_malformed)
{
	static const uint8_t big[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	update_prefix(2);
	pb_vi(MOQ_PARAM_FORWARD);
	pb_raw("\x01", 1);
	pb_raw(big, 9); /* 0x10 + 2^64-1 overflows */
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(more_than_32_parameters_is_limit)
{
	update_prefix(33);
	for (int i = 0; i < 33; i++) {
		pb_vi(i ? 0 : MOQ_PARAM_AUTHORIZATION_TOKEN);
		pb_vi(2);
		pb_vi(MOQ_ALIAS_USE_ALIAS);
		pb_vi((uint64_t)i);
	}
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(forward_value_2_is_malformed)
{
	update_prefix(1);
	pb_vi(MOQ_PARAM_FORWARD);
	pb_raw("\x02", 1);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(group_order_value_0_is_malformed)
{
	pb_reset();
	pb_vi(0);
	pb_vi(1);
	pb_vi(1);
	pb_vi(1);
	pb_vi(MOQ_PARAM_GROUP_ORDER);
	pb_raw("\x00", 1);
	pb_vi(2); /* sizes are irrelevant: fails before */
	pl.n--;
	/* FETCH standalone: request 0, type 1, ns (1 field) ... rebuild simply */
	pb_reset();
	pb_vi(0);
	pb_vi(MOQ_FETCH_RELATIVE_JOINING);
	pb_vi(0);
	pb_vi(1);
	pb_vi(1);
	pb_vi(MOQ_PARAM_GROUP_ORDER);
	pb_raw("\x00", 1);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_FETCH), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(subscriber_priority_is_one_byte_not_a_varint)
{
	update_prefix(1);
	pb_vi(MOQ_PARAM_SUBSCRIBER_PRIORITY);
	pb_raw("\xc8", 1); /* 200 as a uint8 */
	ck_assert_int_gt(decode_frame(MOQ_CTRL_REQUEST_UPDATE), 0);
	uint64_t v = 0;
	ck_assert(
	    moq_params_get_u64(&msg.request_update.params, MOQ_PARAM_SUBSCRIBER_PRIORITY, &v));
	ck_assert_uint_eq(v, 200);
}
END_TEST

START_TEST(unknown_filter_type_is_malformed)
{
	update_prefix(1);
	pb_vi(MOQ_PARAM_SUBSCRIPTION_FILTER);
	pb_vi(1);
	pb_vi(5);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(filter_end_group_past_2_64_is_malformed)
{
	static const uint8_t max[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	update_prefix(1);
	pb_vi(MOQ_PARAM_SUBSCRIPTION_FILTER);
	pb_vi(1 + 9 + 1 + 1);
	pb_vi(MOQ_FILTER_ABSOLUTE_RANGE);
	pb_raw(max, 9);
	pb_vi(0);
	pb_vi(1);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(filter_with_trailing_bytes_is_malformed)
{
	update_prefix(1);
	pb_vi(MOQ_PARAM_SUBSCRIPTION_FILTER);
	pb_vi(2);
	pb_vi(MOQ_FILTER_LARGEST_OBJECT);
	pb_vi(0);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(undecodable_token_parameter_is_kvp_format)
{
	update_prefix(1);
	pb_vi(MOQ_PARAM_AUTHORIZATION_TOKEN);
	pb_vi(3);
	pb_vi(MOQ_ALIAS_DELETE);
	pb_vi(1);
	pb_vi(1); /* DELETE carries only an alias */
	ck_assert_int_eq(decode_frame(MOQ_CTRL_REQUEST_UPDATE), MOQ_ERR_KVP_FORMAT);
}
END_TEST

START_TEST(track_namespace_prefix_parameter_decodes)
{
	int n = encode_sample(MOQ_CTRL_REQUEST_UPDATE);
	ck_assert_int_eq(moq_ctrl_decode(&msg2, enc, (size_t)n), n);
	const struct moq_params *p = &msg2.request_update.params;
	ck_assert(moq_params_has(p, MOQ_PARAM_TRACK_NAMESPACE_PREFIX));
	ck_assert_uint_eq(p->track_namespace_prefix.nfields, 2);
	ck_assert_mem_eq(p->track_namespace_prefix.fields[1].ptr, "team2", 5);
}
END_TEST

/* ---- track properties ---- */

START_TEST(track_properties_type_overflow_is_malformed)
{
	static const uint8_t big[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
	pb_reset();
	pb_vi(1);
	pb_vi(0); /* alias, no params */
	pb_raw(big, 9);
	pb_vi(0);
	pb_vi(2);
	pb_vi(0);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SUBSCRIBE_OK), MOQ_ERR_MALFORMED);
}
END_TEST

START_TEST(track_property_value_over_65535_is_limit)
{
	pb_reset();
	pb_vi(1);
	pb_vi(0);
	pb_vi(0x2b);
	pb_vi(65536);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SUBSCRIBE_OK), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(truncated_track_property_is_malformed)
{
	pb_reset();
	pb_vi(1);
	pb_vi(0);
	pb_vi(0x2b);
	pb_vi(5);
	pb_raw("ab", 2);
	ck_assert_int_eq(decode_frame(MOQ_CTRL_SUBSCRIBE_OK), MOQ_ERR_MALFORMED);
}
END_TEST

/* ---- encoder refuses what a decoder would reject ---- */

START_TEST(encode_rejects_zero_length_namespace_field)
{
	ctrl_sample(&msg, MOQ_CTRL_NAMESPACE);
	msg.namespace.track_namespace_suffix.fields[1].len = 0;
	ck_assert_int_eq(moq_ctrl_encode(enc, sizeof(enc), &msg), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(encode_rejects_33_namespace_fields)
{
	ctrl_sample(&msg, MOQ_CTRL_NAMESPACE);
	msg.namespace.track_namespace_suffix.nfields = 33;
	ck_assert_int_eq(moq_ctrl_encode(enc, sizeof(enc), &msg), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(encode_rejects_parameter_not_allowed_in_message)
{
	ctrl_sample(&msg, MOQ_CTRL_FETCH);
	moq_params_add_u64(&msg.fetch.params, MOQ_PARAM_EXPIRES, 1);
	ck_assert_int_eq(moq_ctrl_encode(enc, sizeof(enc), &msg), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(encode_rejects_reason_phrase_of_1025_bytes)
{
	static uint8_t r[1025];
	ctrl_sample(&msg, MOQ_CTRL_PUBLISH_DONE);
	msg.publish_done.error_reason = (struct moq_bytes){r, sizeof(r)};
	ck_assert_int_eq(moq_ctrl_encode(enc, sizeof(enc), &msg), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(encode_rejects_payload_over_65535)
{
	static uint8_t big[65535];
	memset(big, 1, sizeof(big));
	ctrl_sample(&msg, MOQ_CTRL_SUBSCRIBE_OK);
	/* one odd property of 65530 bytes: block alone fits, message does not */
	big[0] = 0x2b;
	int n = moq_vi_encode(big + 1, 9, 65530);
	msg.subscribe_ok.track_properties = (struct moq_bytes){big, 1 + (size_t)n + 65530};
	ck_assert_int_eq(moq_ctrl_encode(enc, sizeof(enc), &msg), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(encode_into_short_buffer_is_buffer)
{
	int n = encode_sample(MOQ_CTRL_SUBSCRIBE);
	for (int k = 0; k < n; k++)
		ck_assert_int_eq(moq_ctrl_encode(enc2, (size_t)k, &msg), MOQ_ERR_BUFFER);
}
END_TEST

START_TEST(encode_rejects_unknown_type)
{
	memset(&msg, 0, sizeof(msg));
	msg.type = 0x20;
	ck_assert_int_eq(moq_ctrl_encode(enc, sizeof(enc), &msg), MOQ_ERR_UNKNOWN_TYPE);
}
END_TEST

/* ---- error mapping and lookups ---- */

START_TEST(codec_errors_map_to_session_close_codes)
{
	ck_assert_int_eq(moq_ctrl_err_to_session_code(MOQ_ERR_MALFORMED), 0x3);
	ck_assert_int_eq(moq_ctrl_err_to_session_code(MOQ_ERR_LIMIT), 0x3);
	ck_assert_int_eq(moq_ctrl_err_to_session_code(MOQ_ERR_UNKNOWN_TYPE), 0x3);
	ck_assert_int_eq(moq_ctrl_err_to_session_code(MOQ_ERR_DUPLICATE), 0x3);
	ck_assert_int_eq(moq_ctrl_err_to_session_code(MOQ_ERR_NEED_MORE), 0x3);
	ck_assert_int_eq(moq_ctrl_err_to_session_code(MOQ_ERR_KVP_FORMAT), 0x6);
	ck_assert_int_eq(moq_ctrl_err_to_session_code(MOQ_ERR_BUFFER), 0x1);
	ck_assert_int_eq(moq_ctrl_err_to_session_code(12), 0x0);
}
END_TEST

START_TEST(error_code_tables_have_draft_names)
{
	ck_assert_str_eq(moq_session_code_name(0x6), "KEY_VALUE_FORMATTING_ERROR");
	ck_assert_str_eq(moq_session_code_name(0x1A), "MALFORMED_AUTHORITY");
	ck_assert_ptr_null(moq_session_code_name(0x7));
	ck_assert_str_eq(moq_request_error_name(0x34), "REDIRECT");
	ck_assert_str_eq(moq_request_error_name(0x19), "DUPLICATE_SUBSCRIPTION");
	ck_assert_str_eq(moq_publish_done_name(0x8), "UPDATE_FAILED");
	ck_assert_str_eq(moq_reset_code_name(0x6), "UNKNOWN_OBJECT_STATUS");
	ck_assert_str_eq(moq_alias_type_name(2), "USE_ALIAS");
}
END_TEST

START_TEST(grease_values_are_recognised)
{
	ck_assert(moq_is_grease(0x9D));
	ck_assert(moq_is_grease(0x11C));
	ck_assert(moq_is_grease(0x3fffffffffffffdeull));
	ck_assert(!moq_is_grease(0x9E));
	ck_assert(!moq_is_grease(0x1D));
}
END_TEST

START_TEST(request_types_are_the_seven_that_open_streams)
{
	int n = 0;
	for (size_t i = 0; i < ctrl_sample_ntypes; i++)
		n += moq_ctrl_type_is_request(ctrl_sample_types[i]);
	ck_assert_int_eq(n, 7);
	ck_assert(moq_ctrl_type_is_request(MOQ_CTRL_SUBSCRIBE_TRACKS));
	ck_assert(!moq_ctrl_type_is_request(MOQ_CTRL_REQUEST_UPDATE));
}
END_TEST

START_TEST(unknown_type_has_no_name)
{
	uint64_t t;
	ck_assert_ptr_null(moq_ctrl_type_name(0x20));
	ck_assert_int_eq(moq_ctrl_type_from_name("CLIENT_SETUP", &t), MOQ_ERR_INVALID);
	ck_assert_str_eq(moq_setup_option_name(0x07), "MOQT_IMPLEMENTATION");
	ck_assert_ptr_null(moq_setup_option_name(0x9D));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	int nt = (int)ctrl_sample_ntypes;

	tcase_add_loop_test(tc, every_message_type_round_trips_byte_exact, 0, nt);
	tcase_add_loop_test(tc, every_truncated_prefix_needs_more, 0, nt);
	tcase_add_loop_test(tc, every_message_type_has_its_draft_name, 0, nt);
	tcase_add_test(tc, decode_consumes_only_one_message);
	tcase_add_test(tc, subscribe_fields_and_parameters_decode);
	tcase_add_test(tc, setup_keeps_unknown_options_and_fills_known_ones);
	tcase_add_test(tc, setup_allows_duplicate_unknown_options);
	tcase_add_test(tc, setup_duplicate_path_is_duplicate);
	tcase_add_test(tc, setup_token_that_cannot_be_decoded_is_kvp_format);
	tcase_add_test(tc, setup_token_with_use_alias_is_malformed);
	tcase_add_test(tc, setup_option_type_overflow_is_malformed);
	tcase_add_test(tc, empty_setup_decodes_with_no_options);
	tcase_add_test(tc, goaway_without_request_id_round_trips);
	tcase_add_test(tc, goaway_uri_of_8193_bytes_is_limit);
	tcase_add_test(tc, joining_fetch_round_trips);
	tcase_add_test(tc, fetch_type_4_is_malformed);
	tcase_add_test(tc, fetch_ok_end_of_track_2_is_malformed);
	tcase_add_test(tc, request_error_without_redirect_round_trips);
	tcase_add_test(tc, request_error_redirect_decodes_its_structure);
	tcase_add_test(tc, redirect_error_without_redirect_is_malformed);
	tcase_add_test(tc, publish_ok_with_track_properties_is_malformed);
	tcase_add_test(tc, request_ok_accepts_union_of_shorthand_parameters);
	tcase_add_test(tc, unknown_message_type_is_unknown_type);
	tcase_add_test(tc, reserved_pre_draft17_setup_type_is_unknown_type);
	tcase_add_test(tc, unknown_type_is_reported_before_the_payload_arrives);
	tcase_add_test(tc, length_larger_than_fields_is_malformed);
	tcase_add_test(tc, length_shorter_than_fields_is_malformed);
	tcase_add_test(tc, field_length_past_payload_end_is_malformed);
	tcase_add_test(tc, decode_ex_says_what_failed_and_where);
	tcase_add_test(tc, namespace_with_32_fields_is_accepted);
	tcase_add_test(tc, namespace_with_33_fields_is_limit);
	tcase_add_test(tc, zero_length_namespace_field_is_malformed);
	tcase_add_test(tc, empty_namespace_is_accepted);
	tcase_add_test(tc, full_track_name_of_4096_bytes_is_accepted);
	tcase_add_test(tc, full_track_name_of_4097_bytes_is_limit);
	tcase_add_test(tc, namespace_of_4097_bytes_is_limit);
	tcase_add_test(tc, reason_phrase_of_1024_bytes_is_accepted);
	tcase_add_test(tc, reason_phrase_of_1025_bytes_is_limit);
	tcase_add_test(tc, unknown_parameter_is_malformed);
	tcase_add_test(tc, parameter_not_allowed_in_message_is_malformed);
	tcase_add_test(tc, any_parameter_in_fetch_ok_is_malformed);
	tcase_add_test(tc, duplicate_parameter_is_duplicate);
	tcase_add_test(tc, repeated_authorization_token_is_allowed);
	tcase_add_test(tc, parameter_type_overflow_is_malformed);
	tcase_add_test(tc, more_than_32_parameters_is_limit);
	tcase_add_test(tc, forward_value_2_is_malformed);
	tcase_add_test(tc, group_order_value_0_is_malformed);
	tcase_add_test(tc, subscriber_priority_is_one_byte_not_a_varint);
	tcase_add_test(tc, unknown_filter_type_is_malformed);
	tcase_add_test(tc, filter_end_group_past_2_64_is_malformed);
	tcase_add_test(tc, filter_with_trailing_bytes_is_malformed);
	tcase_add_test(tc, undecodable_token_parameter_is_kvp_format);
	tcase_add_test(tc, track_namespace_prefix_parameter_decodes);
	tcase_add_test(tc, track_properties_type_overflow_is_malformed);
	tcase_add_test(tc, track_property_value_over_65535_is_limit);
	tcase_add_test(tc, truncated_track_property_is_malformed);
	tcase_add_test(tc, encode_rejects_zero_length_namespace_field);
	tcase_add_test(tc, encode_rejects_33_namespace_fields);
	tcase_add_test(tc, encode_rejects_parameter_not_allowed_in_message);
	tcase_add_test(tc, encode_rejects_reason_phrase_of_1025_bytes);
	tcase_add_test(tc, encode_rejects_payload_over_65535);
	tcase_add_test(tc, encode_into_short_buffer_is_buffer);
	tcase_add_test(tc, encode_rejects_unknown_type);
	tcase_add_test(tc, codec_errors_map_to_session_close_codes);
	tcase_add_test(tc, error_code_tables_have_draft_names);
	tcase_add_test(tc, grease_values_are_recognised);
	tcase_add_test(tc, request_types_are_the_seven_that_open_streams);
	tcase_add_test(tc, unknown_type_has_no_name);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
