/* fp_pinlock: one agent per pin directory.
 *
 * A second moq-relayd started on the same pinned maps would clear them,
 * zero every packet-number sequence and take over the kernel's state while
 * the first still runs. The first daemon holds an exclusive flock(2) on the
 * pin directory for its lifetime (the kernel drops it when the process
 * dies, also on kill -9); a second one is refused with the holder's pid. */
#ifndef FP_PINLOCK_H
#define FP_PINLOCK_H

#include <stddef.h>
#include <sys/types.h>

/* Locks dir. Returns the lock's fd (keep it open; close() releases), or
 * -EBUSY with "... held by pid N ..." in err when another process holds it,
 * or -errno when dir cannot be opened or locked. */
int fp_pinlock_take(const char *dir, char *err, size_t errlen);

/* The pid holding an flock on the inode (dev, ino) according to
 * /proc/locks (locks_path, NULL = /proc/locks), or -1 when none is listed. */
pid_t fp_pinlock_holder(const char *locks_path, dev_t dev, ino_t ino);

#endif
