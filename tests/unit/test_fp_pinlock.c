/* fp_pinlock: one agent per pin directory. Needs root: the directories are
 * made on the bpffs at /sys/fs/bpf (where the real pins live; flock must
 * work there) and removed in the teardown. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fp_mapsync.h"
#include "lib/fp_pinlock.h"

static char g_dir[128];

static void setup(void)
{
	static int n;
	snprintf(g_dir, sizeof(g_dir), "/sys/fs/bpf/pinlock_%d_%d", (int)getpid(), n++);
	ck_assert_msg(mkdir(g_dir, 0700) == 0, "mkdir %s: %s (bpffs mounted?)", g_dir,
		      strerror(errno));
}

static void teardown(void)
{
	rmdir(g_dir);
}

/* A child that takes the lock and holds it until killed. */
static pid_t holder_child(void)
{
	int p[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[512];
		int fd = fp_pinlock_take(g_dir, err, sizeof(err));

		c = fd >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(c, 'y');
	return pid;
}

START_TEST(second_agent_is_refused_with_the_holders_pid)
{
	char err[512] = "", want[32];
	pid_t pid = holder_child();
	int rv = fp_pinlock_take(g_dir, err, sizeof(err));

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(rv, -EBUSY);
	snprintf(want, sizeof(want), "pid %d holds", (int)pid);
	ck_assert_msg(strstr(err, want), "message does not name %s: %s", want, err);
	ck_assert_ptr_nonnull(strstr(err, g_dir));
}
END_TEST

START_TEST(lock_of_a_killed_agent_is_free_again)
{
	char err[512] = "";
	pid_t pid = holder_child();
	int fd;

	kill(pid, SIGKILL); /* as kill -9 of a daemon: no cleanup code runs */
	waitpid(pid, NULL, 0);
	fd = fp_pinlock_take(g_dir, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	close(fd);
}
END_TEST

START_TEST(maps_close_releases_the_lock)
{
	struct fp_maps m;
	char err[512] = "";
	int fd;

	memset(&m, 0, sizeof(m));
	m.lock_fd = -1;
	for (int i = 0; i < FP_MAP_MAX; i++)
		m.fd[i] = -1;
	ck_assert_msg(fp_maps_lock(&m, g_dir, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(fp_pinlock_take(g_dir, err, sizeof(err)), -EBUSY);
	fp_maps_close(&m);
	ck_assert_int_eq(m.lock_fd, -1);
	fd = fp_pinlock_take(g_dir, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	close(fd);
}
END_TEST

START_TEST(missing_directory_is_an_error_not_a_lock)
{
	char err[512] = "", dir[160];

	snprintf(dir, sizeof(dir), "%s/nope", g_dir);
	ck_assert_int_eq(fp_pinlock_take(dir, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, dir));
}
END_TEST

START_TEST(holder_is_read_from_proc_locks_lines)
{
	char path[] = "/tmp/pinlock_locks_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	ck_assert_ptr_nonnull(f);
	fputs("1: POSIX  ADVISORY  WRITE 111 00:1d:4242 0 EOF\n"
	      "2: FLOCK  ADVISORY  WRITE 222 00:1d:4243 0 EOF\n"
	      "2: -> FLOCK  ADVISORY  WRITE 333 00:1d:4242 0 EOF\n"
	      "3: FLOCK  ADVISORY  WRITE 444 00:1d:4242 0 EOF\n",
	      f);
	fclose(f);
	ck_assert_int_eq(fp_pinlock_holder(path, makedev(0, 0x1d), 4242), 444);
	ck_assert_int_eq(fp_pinlock_holder(path, makedev(0, 0x1e), 4242), -1);
	ck_assert_int_eq(fp_pinlock_holder(path, makedev(0, 0x1d), 9), -1);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_pinlock");
	TCase *tc = tcase_create("pinlock");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "test_fp_pinlock: needs root (directories on the bpffs)\n");
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, second_agent_is_refused_with_the_holders_pid);
	tcase_add_test(tc, lock_of_a_killed_agent_is_free_again);
	tcase_add_test(tc, maps_close_releases_the_lock);
	tcase_add_test(tc, missing_directory_is_an_error_not_a_lock);
	tcase_add_test(tc, holder_is_read_from_proc_locks_lines);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
