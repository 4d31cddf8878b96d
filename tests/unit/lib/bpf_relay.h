/* Test helper: load tc-progs/relay.bpf.o with libbpf (no pinning), run its
 * programs with bpf_prog_test_run_opts and reach its maps by name. */
#ifndef TESTS_BPF_RELAY_H
#define TESTS_BPF_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "moq_maps.h"

struct bpf_object;

struct bpf_relay_keep;

struct bpf_relay {
	struct bpf_object *obj;
	struct bpf_relay_keep *kept; /* bpf_relay_keep's copy of the maps */
	int upstream_ingress;
	int subscriber_egress;
	int subscriber_ingress;
	int relay_ingress;
};

/* Path of the object: $MOQ_BPF_OBJ or $B/tc-progs/relay.bpf.o (B=build). */
const char *bpf_relay_object_path(void);

/* 0 or negative errno; prints libbpf's reason on failure. */
/* CLOCK_MONOTONIC in ns: what bpf_ktime_get_ns() returns (heartbeats,
 * send times in the maps). */
uint64_t bpf_relay_now_ns(void);

int bpf_relay_open(struct bpf_relay *r);
/* The same for another object built from relay.bpf.c (tc-progs/testing/). */
int bpf_relay_open_file(struct bpf_relay *r, const char *path);
/* The same without loading the program named skip (its fd stays -ENOENT):
 * the verifier spends most of a load on the big ingress programs, so a
 * suite that runs a fresh object per test skips what it never runs. */
int bpf_relay_open_except(struct bpf_relay *r, const char *path, const char *skip);
void bpf_relay_close(struct bpf_relay *r);

/* Verifying relay.bpf.o takes seconds, so a suite loads it once in main()
 * and its tests (forked by Check) share the programs and maps. After the
 * load, bpf_relay_keep records every map's contents; each test's setup
 * calls bpf_relay_restore, which puts every map back as recorded (hash
 * entries deleted or re-added, array values rewritten, the prog array
 * refilled, the ring buffer drained), so no test sees what another left.
 * 0 or negative errno (bpf_relay_keep records nothing on failure, and
 * bpf_relay_restore then fails every test). bpf_keep.c, with Check. */
int bpf_relay_keep(struct bpf_relay *r);
int bpf_relay_restore(const struct bpf_relay *r);
void bpf_relay_keep_free(struct bpf_relay *r);
/* main()'s part: opens path (NULL: bpf_relay_object_path()), with keys
 * (not NULL) opens the TLS key installer on its maps (fp_keys_open_from:
 * its seal program goes into moq_seal_prog, recorded with the rest), and
 * keeps it; on failure says why and leaves the tests to fail in restore. */
struct fp_keys;
int bpf_relay_load_kept(struct bpf_relay *r, const char *path, struct fp_keys *keys);
/* Runs the suite (CK_NORMAL), frees the record, closes r; the exit status
 * for main. */
struct Suite;
int bpf_relay_run_suite(struct Suite *s, struct bpf_relay *r);

/* The fd of map name; fails the running Check test if it is missing. */
int bpf_relay_mfd(const struct bpf_relay *r, const char *name);

int bpf_relay_map_fd(const struct bpf_relay *r, const char *name);
/* verified_insns of a loaded program (0 if the kernel does not say). */
uint32_t bpf_relay_verified_insns(int prog_fd);

struct bpf_relay_run {
	uint32_t mark_in;
	uint32_t gso_size; /* ctx gso_size (0: not a GSO skb) */
	uint32_t mark_out;
	uint32_t retval;
	uint32_t duration; /* ns per run */
	uint8_t out[2048];
	uint32_t out_len;
	uint32_t repeat;
};

/* Runs prog_fd on pkt; fills run. 0 or negative errno. */
int bpf_relay_test_run(int prog_fd, const void *pkt, size_t len, struct bpf_relay_run *run);

/* Moves the process into a new network namespace with loopback up, so
 * clones and copies the programs make reach only that namespace. Prints
 * why on failure (needs root). */
int bpf_relay_netns_private(void); /* 0 or -1 */

/* Writes moq_config as the agent does: enabled, layout version and
 * generation 1, the heartbeat now, timeout_ns. 0 or negative errno. */
int bpf_relay_config(const struct bpf_relay *r, uint16_t relay_port, uint64_t timeout_ns);

/* Sum of a per-CPU moq_stats entry over all CPUs. */
uint64_t bpf_relay_stat(const struct bpf_relay *r, uint32_t prog, uint32_t reason);
/* Zero all of moq_stats. */
void bpf_relay_stats_reset(const struct bpf_relay *r);

#endif
