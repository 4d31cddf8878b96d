/* fp_bpffs: is the fast path's pin directory on a BPF filesystem (fp_bpffs.h). */
#include "fp_bpffs.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>

#define REATTACH_HINT                                                                              \
	"then attach the programs again (tc filter add ... bpf da obj relay.bpf.o ..., README "    \
	"'Attaching the BPF fast path'; programs attached before the mount have private, "         \
	"unpinned maps) and check with 'ls %s/moq_config'"

int fp_bpffs_check(const char *pin_dir, char *err, size_t errlen)
{
	char path[512];
	struct statfs st;
	size_t n;

	n = strlen(pin_dir);
	if (n == 0 || n >= sizeof(path)) {
		snprintf(err, errlen, "fast path: pin directory '%s' is empty or too long",
			 pin_dir);
		return -EINVAL;
	}
	memcpy(path, pin_dir, n + 1);
	/* walk up to the nearest directory that exists: tc creates tc/globals
	 * only when it pins, so its absence says nothing about the mount */
	for (;;) {
		char *slash;

		if (statfs(path, &st) == 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR) {
			int rv = -errno;
			snprintf(err, errlen, "fast path: cannot look at pin directory %s: %s",
				 path, strerror(-rv));
			return rv;
		}
		slash = strrchr(path, '/');
		if (!slash)
			return 0; /* relative and absent: nothing to say about it */
		if (slash == path) {
			path[1] = '\0';
			if (statfs(path, &st) != 0)
				return -errno;
			break;
		}
		*slash = '\0';
	}
	if (st.f_type == BPF_FS_MAGIC)
		return 0;
	if (strncmp(pin_dir, FP_BPFFS_ROOT "/", sizeof(FP_BPFFS_ROOT)) == 0 ||
	    strcmp(pin_dir, FP_BPFFS_ROOT) == 0)
		snprintf(
		    err, errlen,
		    "fast path: %s is not on a BPF filesystem (nothing is mounted at " FP_BPFFS_ROOT
		    "): run 'mount -t bpf bpf " FP_BPFFS_ROOT "', " REATTACH_HINT,
		    pin_dir, pin_dir);
	else
		snprintf(err, errlen,
			 "fast path: %s is not on a BPF filesystem (%s is on filesystem type "
			 "0x%lx): mount one with 'mount -t bpf bpf DIR' at the pin root tc uses "
			 "(TC_BPF_MNT, default " FP_BPFFS_ROOT "), " REATTACH_HINT,
			 pin_dir, path, (unsigned long)st.f_type, pin_dir);
	return -ENOTSUP;
}
