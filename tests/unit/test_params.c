/* Message Parameters: builders keep ascending order, accessors, contexts,
 * Token and Subscription Filter structures. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moq_codes.h"
#include "moq_err.h"
#include "params.h"

static struct moq_params p, q;
static uint8_t buf[4096];

START_TEST(builders_keep_types_ascending)
{
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_GROUP_ORDER, 1), 0);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT, 9), 0);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_FORWARD, 1), 0);
	ck_assert_uint_eq(p.param[0].type, MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT);
	ck_assert_uint_eq(p.param[1].type, MOQ_PARAM_FORWARD);
	ck_assert_uint_eq(p.param[2].type, MOQ_PARAM_GROUP_ORDER);
}
END_TEST

START_TEST(builder_refuses_second_non_repeatable_parameter)
{
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_EXPIRES, 1), 0);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_EXPIRES, 2), MOQ_ERR_DUPLICATE);
}
END_TEST

START_TEST(builder_refuses_value_outside_allowed_range)
{
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_FORWARD, 2), MOQ_ERR_INVALID);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_GROUP_ORDER, 3), MOQ_ERR_INVALID);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_SUBSCRIBER_PRIORITY, 256),
			 MOQ_ERR_INVALID);
}
END_TEST

START_TEST(builder_refuses_wrong_kind_for_type)
{
	moq_params_init(&p);
	ck_assert_int_eq(moq_params_add_u64(&p, MOQ_PARAM_LARGEST_OBJECT, 1), MOQ_ERR_INVALID);
	ck_assert_int_eq(
	    moq_params_add_location(&p, MOQ_PARAM_EXPIRES, (struct moq_location){1, 2}),
	    MOQ_ERR_INVALID);
}
END_TEST

START_TEST(builder_refuses_more_than_32_parameters)
{
	struct moq_auth_token t = {.alias_type = MOQ_ALIAS_USE_ALIAS, .token_alias = 1};
	moq_params_init(&p);
	for (int i = 0; i < MOQ_MAX_PARAMS; i++)
		ck_assert_int_eq(moq_params_add_token(&p, &t), 0);
	ck_assert_int_eq(moq_params_add_token(&p, &t), MOQ_ERR_LIMIT);
}
END_TEST

START_TEST(block_round_trips_with_typed_values)
{
	struct moq_auth_token t = {.alias_type = MOQ_ALIAS_REGISTER,
				   .token_alias = 3,
				   .token_type = 7,
				   .token_value = {(const uint8_t *)"tok", 3}};
	struct moq_subscription_filter f = {.filter_type = MOQ_FILTER_ABSOLUTE_START,
					    .start_location = {4, 5}};
	moq_params_init(&p);
	moq_params_add_token(&p, &t);
	moq_params_add_filter(&p, &f);
	moq_params_add_u64(&p, MOQ_PARAM_SUBSCRIBER_PRIORITY, 9);
	int n = moq_params_encode(buf, sizeof(buf), &p, MOQ_PCTX_SUBSCRIBE);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(moq_params_decode(&q, MOQ_PCTX_SUBSCRIBE, buf, (size_t)n, NULL), n);
	ck_assert_uint_eq(q.count, 3);
	const struct moq_auth_token *t2 = moq_params_token(&q, 0);
	ck_assert_uint_eq(t2->token_type, 7);
	ck_assert_mem_eq(t2->token_value.ptr, "tok", 3);
	struct moq_subscription_filter f2;
	ck_assert(moq_params_get_filter(&q, &f2));
	ck_assert_uint_eq(f2.start_location.object, 5);
	uint64_t v;
	ck_assert(moq_params_get_u64(&q, MOQ_PARAM_SUBSCRIBER_PRIORITY, &v));
	ck_assert_uint_eq(v, 9);
	ck_assert(!moq_params_get_u64(&q, MOQ_PARAM_EXPIRES, &v));
}
END_TEST

START_TEST(parameters_are_restricted_to_their_messages)
{
	ck_assert(moq_param_allowed(MOQ_PARAM_FILL_TIMEOUT, MOQ_PCTX_FETCH));
	ck_assert(!moq_param_allowed(MOQ_PARAM_FILL_TIMEOUT, MOQ_PCTX_SUBSCRIBE));
	ck_assert(moq_param_allowed(MOQ_PARAM_LARGEST_OBJECT, MOQ_PCTX_TRACK_STATUS_OK));
	ck_assert(moq_param_allowed(MOQ_PARAM_LARGEST_OBJECT, MOQ_PCTX_REQUEST_OK));
	ck_assert(!moq_param_allowed(MOQ_PARAM_LARGEST_OBJECT, MOQ_PCTX_PUBLISH_OK));
	ck_assert(!moq_param_allowed(MOQ_PARAM_SUBSCRIBER_PRIORITY, MOQ_PCTX_TRACK_STATUS));
	ck_assert(moq_param_allowed(MOQ_PARAM_FORWARD, MOQ_PCTX_SUBSCRIBE_TRACKS));
	ck_assert(!moq_param_allowed(MOQ_PARAM_FORWARD, MOQ_PCTX_SUBSCRIBE_NAMESPACE));
	ck_assert(moq_param_allowed(MOQ_PARAM_TRACK_NAMESPACE_PREFIX, MOQ_PCTX_REQUEST_UPDATE));
	ck_assert(!moq_param_allowed(0x05, MOQ_PCTX_SUBSCRIBE));
}
END_TEST

START_TEST(encode_refuses_parameter_outside_its_context)
{
	moq_params_init(&p);
	moq_params_add_u64(&p, MOQ_PARAM_RENDEZVOUS_TIMEOUT, 1);
	ck_assert_int_eq(moq_params_encode(buf, sizeof(buf), &p, MOQ_PCTX_FETCH), MOQ_ERR_INVALID);
}
END_TEST

START_TEST(parameter_types_have_draft_names)
{
	uint64_t t;
	ck_assert_str_eq(moq_param_type_name(0x21), "SUBSCRIPTION_FILTER");
	ck_assert_str_eq(moq_param_type_name(0x34), "TRACK_NAMESPACE_PREFIX");
	ck_assert_ptr_null(moq_param_type_name(0x05));
	ck_assert_int_eq(moq_param_type_from_name("NEW_GROUP_REQUEST", &t), 0);
	ck_assert_uint_eq(t, 0x32);
	ck_assert_str_eq(moq_param_kind_name(moq_param_kind_of(0x09)), "location");
	ck_assert_str_eq(moq_param_kind_name(moq_param_kind_of(0x10)), "uint8");
}
END_TEST

START_TEST(token_alias_types_carry_their_fields)
{
	static const uint8_t del[] = {0x00, 0x05};
	static const uint8_t use_value[] = {0x03, 0x01, 'a', 'b'};
	struct moq_auth_token t;
	ck_assert_int_eq(moq_auth_token_decode(&t, del, sizeof(del)), 2);
	ck_assert_uint_eq(t.token_alias, 5);
	ck_assert_uint_eq(t.token_value.len, 0);
	ck_assert_int_eq(moq_auth_token_decode(&t, use_value, sizeof(use_value)), 4);
	ck_assert_uint_eq(t.token_type, 1);
	ck_assert_uint_eq(t.token_value.len, 2);
}
END_TEST

START_TEST(truncated_token_is_kvp_format)
{
	static const uint8_t reg[] = {0x01, 0x05}; /* REGISTER without Token Type */
	struct moq_auth_token t;
	ck_assert_int_eq(moq_auth_token_decode(&t, reg, sizeof(reg)), MOQ_ERR_KVP_FORMAT);
	ck_assert_int_eq(moq_auth_token_decode(&t, reg, 0), MOQ_ERR_KVP_FORMAT);
}
END_TEST

START_TEST(filter_types_carry_their_fields)
{
	struct moq_subscription_filter f = {.filter_type = MOQ_FILTER_NEXT_GROUP_START};
	int n = moq_filter_encode(buf, sizeof(buf), &f);
	ck_assert_int_eq(n, 1);
	f = (struct moq_subscription_filter){.filter_type = MOQ_FILTER_ABSOLUTE_RANGE,
					     .start_location = {1, 2},
					     .end_group_delta = 0};
	n = moq_filter_encode(buf, sizeof(buf), &f);
	ck_assert_int_eq(n, 4);
	struct moq_subscription_filter g;
	ck_assert_int_eq(moq_filter_decode(&g, buf, (size_t)n), n);
	ck_assert_uint_eq(g.start_location.group, 1);
	ck_assert_str_eq(moq_filter_type_name(g.filter_type), "ABSOLUTE_RANGE");
}
END_TEST

START_TEST(decode_reports_why)
{
	static const uint8_t blk[] = {0x01, 0x05, 0x00};
	const char *why = NULL;
	ck_assert_int_eq(moq_params_decode(&q, MOQ_PCTX_SUBSCRIBE, blk, sizeof(blk), &why),
			 MOQ_ERR_MALFORMED);
	ck_assert_str_eq(why, "parameter: unknown type");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("params");
	TCase *tc = tcase_create("params");
	tcase_add_test(tc, builders_keep_types_ascending);
	tcase_add_test(tc, builder_refuses_second_non_repeatable_parameter);
	tcase_add_test(tc, builder_refuses_value_outside_allowed_range);
	tcase_add_test(tc, builder_refuses_wrong_kind_for_type);
	tcase_add_test(tc, builder_refuses_more_than_32_parameters);
	tcase_add_test(tc, block_round_trips_with_typed_values);
	tcase_add_test(tc, parameters_are_restricted_to_their_messages);
	tcase_add_test(tc, encode_refuses_parameter_outside_its_context);
	tcase_add_test(tc, parameter_types_have_draft_names);
	tcase_add_test(tc, token_alias_types_carry_their_fields);
	tcase_add_test(tc, truncated_token_is_kvp_format);
	tcase_add_test(tc, filter_types_carry_their_fields);
	tcase_add_test(tc, decode_reports_why);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
