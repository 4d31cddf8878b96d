/* relay_auth: constant-time token comparison and the publish / subscribe
 * roles that --auth-token, --publish-token and --subscribe-token give. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/relay_auth.h"
#include "lib/relay_config.h"

static bool eq(const char *presented, const char *want)
{
	return relay_auth_token_eq((const uint8_t *)presented, strlen(presented), want);
}

static struct relay_auth_token tok(const char *s)
{
	return (struct relay_auth_token){(const uint8_t *)s, strlen(s)};
}

static struct relay_config cfg(const char *all, const char *pub, const char *sub)
{
	struct relay_config c;

	relay_config_defaults(&c);
	strcpy(c.auth_token, all);
	strcpy(c.publish_token, pub);
	strcpy(c.subscribe_token, sub);
	return c;
}

START_TEST(equal_tokens_match)
{
	ck_assert(eq("s3cret", "s3cret"));
	ck_assert(eq("x", "x"));
}
END_TEST

START_TEST(any_difference_in_content_or_length_does_not_match)
{
	const char *want = "correct-horse";
	char buf[32];

	/* one byte changed at every position */
	for (size_t i = 0; i < strlen(want); i++) {
		strcpy(buf, want);
		buf[i] ^= 0x01;
		ck_assert_msg(!eq(buf, want), "byte %zu changed still matches", i);
	}
	ck_assert(!eq("correct-hors", want));	/* a prefix */
	ck_assert(!eq("correct-horsee", want)); /* longer */
	ck_assert(!eq("", want));
	/* bytes after a NUL count: no C-string comparison */
	ck_assert(!relay_auth_token_eq((const uint8_t *)"correct-horse\0x", 15, want));
}
END_TEST

START_TEST(an_unset_token_never_matches)
{
	ck_assert(!eq("", ""));
	ck_assert(!eq("anything", ""));
}
END_TEST

START_TEST(without_tokens_every_peer_may_publish_and_subscribe)
{
	struct relay_config c = cfg("", "", "");

	ck_assert_uint_eq(relay_auth_roles(&c, NULL, 0), RELAY_ROLE_ALL);
	struct relay_auth_token t = tok("whatever");
	ck_assert_uint_eq(relay_auth_roles(&c, &t, 1), RELAY_ROLE_ALL);
}
END_TEST

START_TEST(auth_token_gives_both_roles_and_nothing_without_it)
{
	struct relay_config c = cfg("both", "", "");
	struct relay_auth_token good = tok("both"), bad = tok("bot");

	ck_assert_uint_eq(relay_auth_roles(&c, &good, 1), RELAY_ROLE_ALL);
	ck_assert_uint_eq(relay_auth_roles(&c, &bad, 1), 0);
	ck_assert_uint_eq(relay_auth_roles(&c, NULL, 0), 0);
}
END_TEST

START_TEST(publish_token_gives_publish_only)
{
	struct relay_config c = cfg("", "pub", "sub");
	struct relay_auth_token p = tok("pub"), s = tok("sub");

	ck_assert_uint_eq(relay_auth_roles(&c, &p, 1), RELAY_ROLE_PUBLISH);
	ck_assert_uint_eq(relay_auth_roles(&c, &s, 1), RELAY_ROLE_SUBSCRIBE);
	ck_assert_uint_eq(relay_auth_roles(&c, NULL, 0), 0);
	/* both tokens presented: both roles */
	struct relay_auth_token two[2] = {tok("sub"), tok("pub")};
	ck_assert_uint_eq(relay_auth_roles(&c, two, 2), RELAY_ROLE_ALL);
}
END_TEST

START_TEST(a_role_without_a_token_is_open)
{
	/* protected publishing, open viewing */
	struct relay_config c = cfg("", "pub", "");
	struct relay_auth_token p = tok("pub"), x = tok("guess");

	ck_assert_uint_eq(relay_auth_open_roles(&c), RELAY_ROLE_SUBSCRIBE);
	ck_assert_uint_eq(relay_auth_roles(&c, NULL, 0), RELAY_ROLE_SUBSCRIBE);
	ck_assert_uint_eq(relay_auth_roles(&c, &x, 1), RELAY_ROLE_SUBSCRIBE);
	ck_assert_uint_eq(relay_auth_roles(&c, &p, 1), RELAY_ROLE_ALL);
}
END_TEST

START_TEST(auth_token_still_works_next_to_role_tokens)
{
	struct relay_config c = cfg("both", "pub", "sub");
	struct relay_auth_token b = tok("both"), s = tok("sub");

	ck_assert_uint_eq(relay_auth_open_roles(&c), 0);
	ck_assert_uint_eq(relay_auth_roles(&c, &b, 1), RELAY_ROLE_ALL);
	ck_assert_uint_eq(relay_auth_roles(&c, &s, 1), RELAY_ROLE_SUBSCRIBE);
}
END_TEST

START_TEST(a_subscribe_token_does_not_let_a_peer_publish)
{
	/* the review's case: any token holder could publish and replace an
	 * existing namespace's publisher */
	struct relay_config c = cfg("", "pub", "sub");
	struct relay_auth_token s = tok("sub");

	ck_assert(!(relay_auth_roles(&c, &s, 1) & RELAY_ROLE_PUBLISH));
}
END_TEST

START_TEST(role_names)
{
	ck_assert_str_eq(relay_auth_role_names(RELAY_ROLE_ALL), "publish+subscribe");
	ck_assert_str_eq(relay_auth_role_names(RELAY_ROLE_PUBLISH), "publish");
	ck_assert_str_eq(relay_auth_role_names(RELAY_ROLE_SUBSCRIBE), "subscribe");
	ck_assert_str_eq(relay_auth_role_names(0), "none");
}
END_TEST

START_TEST(copied_tokens_are_owned_and_bounded)
{
	char src[] = "abc";
	struct relay_auth_token in[RELAY_AUTH_MAX_TOKENS + 2], *out = NULL;
	size_t n = 0;

	for (size_t i = 0; i < RELAY_AUTH_MAX_TOKENS + 2; i++)
		in[i] = tok(src);
	ck_assert_int_eq(relay_auth_tokens_copy(&out, &n, in, RELAY_AUTH_MAX_TOKENS + 2), 0);
	ck_assert_uint_eq(n, RELAY_AUTH_MAX_TOKENS);
	src[0] = 'X'; /* the copy does not follow the source */
	ck_assert(relay_auth_token_eq(out[0].p, out[0].len, "abc"));
	relay_auth_tokens_free(out, n);
	ck_assert_int_eq(relay_auth_tokens_copy(&out, &n, NULL, 0), 0);
	ck_assert_uint_eq(n, 0);
	relay_auth_tokens_free(out, n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_auth");
	TCase *tc = tcase_create("auth");
	tcase_add_test(tc, equal_tokens_match);
	tcase_add_test(tc, any_difference_in_content_or_length_does_not_match);
	tcase_add_test(tc, an_unset_token_never_matches);
	tcase_add_test(tc, without_tokens_every_peer_may_publish_and_subscribe);
	tcase_add_test(tc, auth_token_gives_both_roles_and_nothing_without_it);
	tcase_add_test(tc, publish_token_gives_publish_only);
	tcase_add_test(tc, a_role_without_a_token_is_open);
	tcase_add_test(tc, auth_token_still_works_next_to_role_tokens);
	tcase_add_test(tc, a_subscribe_token_does_not_let_a_peer_publish);
	tcase_add_test(tc, role_names);
	tcase_add_test(tc, copied_tokens_are_owned_and_bounded);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
