/* moq-relayd's allocator settings (docs/fast-path-agent.md "Set-up and
 * tick system calls"). */
#ifndef RELAYD_MALLOC_TUNE_H
#define RELAYD_MALLOC_TUNE_H

/* Blocks up to this size come from the heap (glibc maps larger ones). */
#define RELAYD_MMAP_THRESHOLD (4u << 20)

/* Serve a subscriber's ~770 KiB of connection state from the heap, grow
 * it in 8 MiB steps and keep what a leaving subscriber freed for the next
 * one: glibc's defaults map each such block on its own (mmap at set-up,
 * munmap at the end) and grow the heap 128 KiB per brk. 0, or -1 when
 * the allocator refused a setting (another allocator: nothing changed). */
int relayd_malloc_tune(void);

#endif
