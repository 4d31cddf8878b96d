/* moq/quic/base.c randomness: small draws (connection IDs) come from a
 * pool, one getrandom per 256 bytes; a forked child does not repeat the
 * parent's bytes; 32-byte secrets bypass the pool. */
#include <check.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quic/base.h"

START_TEST(small_draws_share_one_getrandom)
{
	uint8_t a[8], b[8], zero[8] = {0};
	unsigned long r0;

	moq_quic__rand(a, sizeof(a));
	r0 = moq_quic__rand_refills();
	for (int i = 0; i < 20; i++) { /* 160 bytes: at most one refill */
		moq_quic__rand(b, sizeof(b));
		ck_assert_mem_ne(a, b, sizeof(a));
		ck_assert_mem_ne(b, zero, sizeof(b));
		memcpy(a, b, sizeof(a));
	}
	ck_assert_uint_le(moq_quic__rand_refills() - r0, 1);
	for (int i = 0; i < 100; i++)
		moq_quic__rand(b, 20);
	ck_assert_uint_le(moq_quic__rand_refills() - r0, 1 + (100 * 20) / 256 + 1);
	r0 = moq_quic__rand_refills();
	for (int i = 0; i < 10; i++) {
		uint8_t secret[32];

		moq_quic__rand(secret, sizeof(secret));
	}
	ck_assert_uint_eq(moq_quic__rand_refills(), r0);
}
END_TEST

START_TEST(forked_child_draws_other_bytes)
{
	uint8_t mine[16], child[16];
	int p[2];
	pid_t pid;

	unsigned long r0 = moq_quic__rand_refills();

	/* draw until a refill: the pool holds 248 bytes at the fork */
	while (moq_quic__rand_refills() == r0)
		moq_quic__rand(mine, 8);
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		moq_quic__rand(child, sizeof(child));
		_exit(write(p[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
	}
	moq_quic__rand(mine, sizeof(mine));
	ck_assert_int_eq(read(p[0], child, sizeof(child)), (ssize_t)sizeof(child));
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	ck_assert_mem_ne(mine, child, sizeof(mine));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("quic_rand");
	TCase *tc = tcase_create("rand");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, small_draws_share_one_getrandom);
	tcase_add_test(tc, forked_child_draws_other_bytes);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
