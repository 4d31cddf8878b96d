/* relay_routing: namespace prefix table (longest prefix wins). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/relay_routing.h"

/* Build a namespace from "a/b/c". */
static struct moq_namespace ns_of(const char *path)
{
	static char buf[8][256];
	static int k;
	struct moq_namespace ns = {0};
	char *s = buf[k++ % 8], *tok, *save;

	strcpy(s, path);
	for (tok = strtok_r(s, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		ns.fields[ns.nfields].ptr = (const uint8_t *)tok;
		ns.fields[ns.nfields].len = strlen(tok);
		ns.nfields++;
	}
	return ns;
}

static void track(struct relay_name *n, const char *ns, const char *name)
{
	struct moq_namespace s = ns_of(ns);
	struct moq_bytes b = {(const uint8_t *)name, strlen(name)};

	ck_assert_int_eq(relay_name_init(n, &s, &b), 0);
}

static int A, B, C;

START_TEST(longest_matching_prefix_wins)
{
	struct relay_routing t;
	struct relay_name n;
	struct moq_namespace a = ns_of("live"), b = ns_of("live/sports"),
			     c = ns_of("live/sports/hd");

	relay_routing_init(&t);
	ck_assert_int_eq(relay_routing_add(&t, &a, &A, NULL, NULL, NULL), 0);
	ck_assert_int_eq(relay_routing_add(&t, &c, &C, NULL, NULL, NULL), 0);
	ck_assert_int_eq(relay_routing_add(&t, &b, &B, NULL, NULL, NULL), 0);
	track(&n, "live/sports/hd/cam1", "video");
	ck_assert_ptr_eq(relay_routing_lookup(&t, &n)->owner, &C);
	relay_name_free(&n);
	track(&n, "live/sports/sd", "video");
	ck_assert_ptr_eq(relay_routing_lookup(&t, &n)->owner, &B);
	relay_name_free(&n);
	track(&n, "live/news", "video");
	ck_assert_ptr_eq(relay_routing_lookup(&t, &n)->owner, &A);
	relay_name_free(&n);
	relay_routing_free(&t);
}
END_TEST

START_TEST(prefix_matches_whole_fields_only)
{
	struct relay_routing t;
	struct relay_name n;
	struct moq_namespace a = ns_of("live/sp");

	relay_routing_init(&t);
	relay_routing_add(&t, &a, &A, NULL, NULL, NULL);
	track(&n, "live/sports", "video"); /* "sp" is not the field "sports" */
	ck_assert_ptr_null(relay_routing_lookup(&t, &n));
	relay_name_free(&n);
	track(&n, "live/sp", "video"); /* equal namespace matches */
	ck_assert_ptr_eq(relay_routing_lookup(&t, &n)->owner, &A);
	relay_name_free(&n);
	relay_routing_free(&t);
}
END_TEST

START_TEST(no_route_for_unknown_namespace)
{
	struct relay_routing t;
	struct relay_name n;
	struct moq_namespace a = ns_of("live/sports");

	relay_routing_init(&t);
	relay_routing_add(&t, &a, &A, NULL, NULL, NULL);
	track(&n, "live", "video"); /* shorter than the announced prefix */
	ck_assert_ptr_null(relay_routing_lookup(&t, &n));
	relay_name_free(&n);
	relay_routing_free(&t);
}
END_TEST

START_TEST(reannounced_namespace_replaces_the_owner)
{
	struct relay_routing t;
	struct relay_name n;
	struct moq_namespace a = ns_of("live");
	void *old = NULL, *oldc = NULL;

	relay_routing_init(&t);
	relay_routing_add(&t, &a, &A, &A, NULL, NULL);
	ck_assert_int_eq(relay_routing_add(&t, &a, &B, &B, &old, &oldc), 1);
	ck_assert_ptr_eq(old, &A);
	ck_assert_ptr_eq(oldc, &A);
	ck_assert_uint_eq(relay_routing_count(&t), 1);
	track(&n, "live", "x");
	ck_assert_ptr_eq(relay_routing_lookup(&t, &n)->owner, &B);
	relay_name_free(&n);
	relay_routing_free(&t);
}
END_TEST

START_TEST(removing_an_owner_removes_all_its_routes)
{
	struct relay_routing t;
	struct relay_name n;
	struct moq_namespace a = ns_of("a"), b = ns_of("a/b"), c = ns_of("c");

	relay_routing_init(&t);
	relay_routing_add(&t, &a, &A, NULL, NULL, NULL);
	relay_routing_add(&t, &b, &B, NULL, NULL, NULL);
	relay_routing_add(&t, &c, &B, NULL, NULL, NULL);
	ck_assert_uint_eq(relay_routing_remove_owner(&t, &B), 2);
	track(&n, "a/b/x", "t");
	ck_assert_ptr_eq(relay_routing_lookup(&t, &n)->owner, &A);
	relay_name_free(&n);
	ck_assert_int_eq(relay_routing_remove(&t, &a, &B), -ENOENT);
	ck_assert_int_eq(relay_routing_remove(&t, &a, &A), 0);
	ck_assert_uint_eq(relay_routing_count(&t), 0);
	relay_routing_free(&t);
}
END_TEST

START_TEST(remove_by_cookie)
{
	struct relay_routing t;
	struct moq_namespace a = ns_of("a"), b = ns_of("b");

	relay_routing_init(&t);
	relay_routing_add(&t, &a, &A, &A, NULL, NULL);
	relay_routing_add(&t, &b, &A, &B, NULL, NULL);
	ck_assert_int_eq(relay_routing_remove_cookie(&t, &B), 0);
	ck_assert_int_eq(relay_routing_remove_cookie(&t, &B), -ENOENT);
	ck_assert_uint_eq(relay_routing_count(&t), 1);
	relay_routing_free(&t);
}
END_TEST

START_TEST(empty_namespace_is_a_prefix_of_everything)
{
	struct relay_routing t;
	struct relay_name n;
	struct moq_namespace empty = {0};

	relay_routing_init(&t);
	relay_routing_add(&t, &empty, &C, NULL, NULL, NULL);
	track(&n, "x/y", "z");
	ck_assert_ptr_eq(relay_routing_lookup(&t, &n)->owner, &C);
	relay_name_free(&n);
	relay_routing_free(&t);
}
END_TEST

START_TEST(names_with_same_bytes_in_different_fields_differ)
{
	struct relay_name a, b;

	track(&a, "ab/c", "t");
	track(&b, "a/bc", "t");
	ck_assert(!relay_name_equal(&a, &b));
	relay_name_free(&a);
	relay_name_free(&b);
	track(&a, "a", "bt");
	track(&b, "a/b", "t");
	ck_assert(!relay_name_equal(&a, &b));
	relay_name_free(&a);
	relay_name_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_routing");
	TCase *tc = tcase_create("routing");
	tcase_add_test(tc, longest_matching_prefix_wins);
	tcase_add_test(tc, prefix_matches_whole_fields_only);
	tcase_add_test(tc, no_route_for_unknown_namespace);
	tcase_add_test(tc, reannounced_namespace_replaces_the_owner);
	tcase_add_test(tc, removing_an_owner_removes_all_its_routes);
	tcase_add_test(tc, remove_by_cookie);
	tcase_add_test(tc, empty_namespace_is_a_prefix_of_everything);
	tcase_add_test(tc, names_with_same_bytes_in_different_fields_differ);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
