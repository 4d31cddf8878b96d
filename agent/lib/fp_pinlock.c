/* fp_pinlock: one agent per pin directory (fp_pinlock.h). */
#include "fp_pinlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

pid_t fp_pinlock_holder(const char *locks_path, dev_t dev, ino_t ino)
{
	char line[256];
	pid_t holder = -1;
	FILE *f = fopen(locks_path ? locks_path : "/proc/locks", "re");

	if (!f)
		return -1;
	/* "1: FLOCK  ADVISORY  WRITE 1234 00:1d:5678 0 EOF": major and minor
	 * in hex, inode in decimal; "->" lines are waiters, not holders */
	while (fgets(line, sizeof(line), f)) {
		char kind[16], mode[16], rw[16];
		unsigned int maj, min;
		unsigned long long inode;
		int pid;

		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%llu", kind, mode, rw, &pid, &maj,
			   &min, &inode) != 7)
			continue;
		if (strcmp(kind, "FLOCK") || inode != (unsigned long long)ino ||
		    makedev(maj, min) != dev)
			continue;
		holder = pid;
		break;
	}
	fclose(f);
	return holder;
}

int fp_pinlock_take(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	pid_t holder;
	int fd, rv;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rv = -errno;
		snprintf(err, errlen, "fast path: cannot open pin directory %s to lock it: %s", dir,
			 strerror(-rv));
		return rv;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	rv = -errno;
	if (rv != -EWOULDBLOCK) {
		snprintf(err, errlen, "fast path: cannot lock pin directory %s: %s", dir,
			 strerror(-rv));
		close(fd);
		return rv;
	}
	holder = fstat(fd, &st) == 0 ? fp_pinlock_holder(NULL, st.st_dev, st.st_ino) : -1;
	if (holder > 0)
		snprintf(
		    err, errlen,
		    "fast path: the pinned maps in %s are in use by another moq-relayd "
		    "(pid %d holds the lock on that directory); stop it first, or attach a "
		    "second set of programs under another pin root (TC_BPF_MNT) and start this "
		    "one with --bpf-pin-dir",
		    dir, (int)holder);
	else
		snprintf(err, errlen,
			 "fast path: the pinned maps in %s are in use by another moq-relayd (it "
			 "holds the lock on that directory; its pid is not in /proc/locks); stop "
			 "it first, or use another --bpf-pin-dir",
			 dir);
	close(fd);
	return -EBUSY;
}
