/* moq-relayd's allocator settings (agent/moq-relayd/malloc_tune.c): a
 * subscriber-sized block comes from the heap, not a mapping of its own,
 * and its reuse costs no system call. */
#include <check.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "moq-relayd/malloc_tune.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

START_TEST(subscriber_sized_blocks_are_not_mapped)
{
#ifdef UNDER_ASAN
	return; /* ASan's allocator ignores mallopt */
#else
	struct mallinfo2 before, during;
	void *p;

	ck_assert_int_eq(relayd_malloc_tune(), 0);
	before = mallinfo2();
	p = malloc(790528);
	ck_assert_ptr_nonnull(p);
	memset(p, 1, 790528);
	during = mallinfo2();
	ck_assert_uint_eq(during.hblks, before.hblks); /* no mmap'd block */
	free(p);
#endif
}
END_TEST

int main(void)
{
	Suite *su = suite_create("malloc_tune");
	TCase *tc = tcase_create("tune");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, subscriber_sized_blocks_are_not_mapped);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
