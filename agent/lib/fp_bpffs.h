/* fp_bpffs: is the fast path's pin directory on a BPF filesystem?
 *
 * A host that boots without systemd has nothing mounted at /sys/fs/bpf (the
 * directory exists, on sysfs). tc may then attach the programs without
 * pinning their maps, and the agent finds none: this check turns that into
 * an error that names the mount command. */
#ifndef FP_BPFFS_H
#define FP_BPFFS_H

#include <stddef.h>

/* The default bpffs mount point. */
#define FP_BPFFS_ROOT "/sys/fs/bpf"

/* Checks the filesystem of pin_dir, or of its nearest existing ancestor
 * when pin_dir does not exist yet (statfs, BPF_FS_MAGIC). Returns 0 when it
 * is a bpffs; -ENOTSUP with a message in err (what to mount, where, and
 * that tc must attach again) when it is not; -errno when nothing along the
 * path can be looked at. */
int fp_bpffs_check(const char *pin_dir, char *err, size_t errlen);

#endif
