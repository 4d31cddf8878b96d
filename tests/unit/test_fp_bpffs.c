/* fp_bpffs: a pin directory that is not on a bpffs is refused with the
 * mount command. Needs root: each test runs in Check's forked child, which
 * moves into a private mount namespace before it mounts or unmounts
 * anything, so the host's mounts are never touched. */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fp_bpffs.h"
#include "lib/fp_mapsync.h"

static char g_tmp[64];

static void private_mounts(void)
{
	ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
}

static void setup(void)
{
	strcpy(g_tmp, "/tmp/fp_bpffs_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_tmp));
}

static void teardown(void)
{
	umount2(g_tmp, MNT_DETACH);
	rmdir(g_tmp);
}

START_TEST(directory_on_another_filesystem_is_refused_with_the_mount_command)
{
	char err[1024] = "";
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/tc/globals", g_tmp);
	ck_assert_int_eq(fp_bpffs_check(dir, err, sizeof(err)), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "is not on a BPF filesystem"));
	ck_assert_ptr_nonnull(strstr(err, "mount -t bpf bpf"));
	ck_assert_ptr_nonnull(strstr(err, "moq_config"));
}
END_TEST

START_TEST(missing_pin_directory_on_a_bpffs_passes)
{
	char err[1024] = "";
	char dir[128];

	private_mounts();
	ck_assert_int_eq(mount("bpf", g_tmp, "bpf", 0, NULL), 0);
	snprintf(dir, sizeof(dir), "%s/tc/globals", g_tmp); /* not created yet */
	ck_assert_int_eq(fp_bpffs_check(dir, err, sizeof(err)), 0);
	ck_assert_int_eq(fp_bpffs_check(g_tmp, err, sizeof(err)), 0);
}
END_TEST

START_TEST(unmounted_sys_fs_bpf_names_the_default_mount)
{
	char err[1024] = "";

	private_mounts();
	/* as on a VM that booted without systemd: nothing at /sys/fs/bpf */
	while (umount2(FP_BPFFS_ROOT, MNT_DETACH) == 0)
		;
	ck_assert_int_eq(fp_bpffs_check(FP_BPFFS_ROOT "/tc/globals", err, sizeof(err)), -ENOTSUP);
	ck_assert_msg(strstr(err, "run 'mount -t bpf bpf /sys/fs/bpf'"), "message: %s", err);
	ck_assert_msg(strstr(err, "attach the programs again"), "message: %s", err);
}
END_TEST

START_TEST(opening_the_maps_reports_the_missing_bpffs_not_a_missing_pin)
{
	struct fp_maps m;
	char err[1024] = "";

	private_mounts();
	while (umount2(FP_BPFFS_ROOT, MNT_DETACH) == 0)
		;
	ck_assert_int_eq(fp_maps_open(&m, FP_BPFFS_ROOT "/tc/globals", err, sizeof(err)), -ENOTSUP);
	ck_assert_msg(strstr(err, "mount -t bpf bpf /sys/fs/bpf"), "message: %s", err);
	ck_assert_ptr_null(strstr(err, "cannot open pinned map"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_bpffs");
	TCase *tc = tcase_create("bpffs");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "test_fp_bpffs: needs root (mount namespaces, bpffs)\n");
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, directory_on_another_filesystem_is_refused_with_the_mount_command);
	tcase_add_test(tc, missing_pin_directory_on_a_bpffs_passes);
	tcase_add_test(tc, unmounted_sys_fs_bpf_names_the_default_mount);
	tcase_add_test(tc, opening_the_maps_reports_the_missing_bpffs_not_a_missing_pin);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
