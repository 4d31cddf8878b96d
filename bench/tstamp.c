/* tstamp: loader and reader for tc-progs/testing/tstamp.bpf.c (bench/latency.sh).
 *
 *   tstamp load OBJ PINDIR            load the object, pin both programs and
 *                                     both maps under PINDIR (a directory in
 *                                     bpffs that must not exist yet)
 *   tstamp attach PINDIR NETNS IF egress|ingress
 *                                     attach tst_egress/tst_ingress to the
 *                                     clsact hook of IF inside the network
 *                                     namespace /run/netns/NETNS
 *   tstamp dump PINDIR                print the first sighting of every key
 *                                     recorded in tst_ring since the last
 *                                     dump as "point daddr dport seq ns";
 *                                     a fast-path clone's key (its mark) as
 *                                     "point slotN 0 seq ns"
 *   tstamp stats PINDIR               print the tst_stats counters (all CPUs)
 *   tstamp attach PINDIR NETNS IF egress|ingress PROG
 *                                     the same with the pinned program PROG
 *                                     (tstamp_rec.bpf.o: tsr_egress,
 *                                     tsr_ingress, tsr_arrive, tsr_depart)
 *   tstamp rec PINDIR FILE            append every tsr_ring record
 *                                     (testing/tstamp_rec.h: header, then
 *                                     caplen bytes) to FILE
 *                                     until SIGTERM/SIGINT (polled every
 *                                     10 ms: no wakeups from the programs)
 *   tstamp recstats PINDIR            print the tsr_stats counters (all CPUs)
 *   tstamp now                        CLOCK_MONOTONIC in ns (the stamps' clock)
 *   tstamp fpstats MOQ_STATS_PIN      the relay fast path's moq_stats
 *                                     (tc-progs/moq_maps.h), summed over CPUs:
 *                                     "up_fwd=N eg_fwd=N" then every other
 *                                     non-zero counter as prog.reason=packets
 *
 * Built by bench/latency.sh like bench/bpf_cost.sh builds bpf_cost.c:
 *   cc -O2 -Wall -Wextra -Werror -Itc-progs bench/tstamp.c -lbpf
 * The filters outlive the process (tc holds the programs); they go away
 * with their namespace or interface. Removing PINDIR unpins everything. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "moq_maps.h"
#include "testing/tstamp.h"
#include "testing/tstamp_rec.h"

_Static_assert(offsetof(struct tsr_rec, data) == TSR_REC_HDR, "tstamp_rec.h's header size");
_Static_assert(TST_CLONE_MARK == MOQ_MARK_MAGIC && TST_CLONE_MARK_MASK == MOQ_MARK_MAGIC_MASK,
	       "tstamp.h's clone mark is moq_maps.h's");

static const char *stat_names[TST_S_MAX] = {
    "seen", "udp", "matched", "unmatched", "recorded", "full",
};

static const char *rec_stat_names[TSR_S_MAX] = {
    "seen", "udp", "small", "recorded", "lost",
};

static int pin_path(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int cmd_load(const char *obj_path, const char *dir)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	char path[512];
	int err;

	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		fprintf(stderr, "tstamp: cannot open %s: %s\n", obj_path, strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
	    bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "tstamp: loading %s failed: %s\n", obj_path, strerror(-err));
		goto fail;
	}
	if (mkdir(dir, 0700) < 0) {
		fprintf(stderr, "tstamp: mkdir %s: %s (must be new, in bpffs)\n", dir,
			strerror(errno));
		goto fail;
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (pin_path(path, sizeof(path), dir, bpf_program__name(prog)) ||
		    bpf_program__pin(prog, path)) {
			fprintf(stderr, "tstamp: cannot pin %s: %s\n", path, strerror(errno));
			goto fail;
		}
	}
	bpf_object__for_each_map(map, obj)
	{
		if (pin_path(path, sizeof(path), dir, bpf_map__name(map)) ||
		    bpf_map__pin(map, path)) {
			fprintf(stderr, "tstamp: cannot pin %s: %s\n", path, strerror(errno));
			goto fail;
		}
	}
	bpf_object__close(obj);
	return 0;
fail:
	bpf_object__close(obj);
	return 1;
}

static int obj_get(const char *dir, const char *name)
{
	char path[512];
	int fd;

	if (pin_path(path, sizeof(path), dir, name))
		return -1;
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "tstamp: cannot open pin %s: %s (run 'tstamp load' first)\n", path,
			strerror(errno));
	return fd;
}

static int cmd_attach(const char *dir, const char *netns, const char *ifname, const char *where,
		      const char *prog)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1, .flags = BPF_TC_F_REPLACE);
	char nspath[512];
	int egress = !strcmp(where, "egress"), prog_fd, ns_fd, err;

	if (!egress && strcmp(where, "ingress")) {
		fprintf(stderr, "tstamp: attach: '%s' is not egress or ingress\n", where);
		return 2;
	}
	prog_fd = obj_get(dir, prog ? prog : egress ? "tst_egress" : "tst_ingress");
	if (prog_fd < 0)
		return 1;
	snprintf(nspath, sizeof(nspath), "/run/netns/%s", netns);
	ns_fd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (ns_fd < 0 || setns(ns_fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "tstamp: cannot enter netns %s: %s\n", nspath, strerror(errno));
		return 1;
	}
	hook.ifindex = (int)if_nametoindex(ifname);
	if (!hook.ifindex) {
		fprintf(stderr, "tstamp: no interface %s in netns %s\n", ifname, netns);
		return 1;
	}
	hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		fprintf(stderr, "tstamp: clsact on %s/%s: %s\n", netns, ifname, strerror(-err));
		return 1;
	}
	opts.prog_fd = prog_fd;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		fprintf(stderr, "tstamp: attach %s on %s/%s: %s\n", where, netns, ifname,
			strerror(-err));
		return 1;
	}
	return 0;
}

static void *map_mmap(const char *dir, const char *name, size_t len)
{
	int fd = obj_get(dir, name);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "tstamp: mmap %s: %s\n", name, strerror(errno));
		return NULL;
	}
	return p;
}

/* by key, then time: the first record of a key is its first sighting */
static int rec_cmp(const void *a, const void *b)
{
	const struct tst_rec *x = a, *y = b;
	int c = memcmp(&x->key, &y->key, sizeof(x->key));

	if (c)
		return c;
	return x->ns < y->ns ? -1 : x->ns > y->ns;
}

/* Copy every record the programs appended since the last dump (each CPU's
 * [read, written) of tst_ring), mark them read, and print the earliest
 * sighting of each key. */
static int cmd_dump(const char *dir)
{
	size_t ring_len = (size_t)TST_RING_CPUS * TST_RING_PER_CPU * sizeof(struct tst_rec);
	struct tst_head *heads = map_mmap(dir, "tst_head", TST_RING_CPUS * sizeof(*heads));
	struct tst_rec *ring = map_mmap(dir, "tst_ring", ring_len), *recs = NULL;
	size_t n = 0, i, repeats = 0;
	char addr[INET_ADDRSTRLEN];
	__u32 c;

	if (!heads || !ring)
		return 1;
	for (c = 0; c < TST_RING_CPUS; c++) {
		__u64 w = __atomic_load_n(&heads[c].written, __ATOMIC_ACQUIRE), r = heads[c].read;
		size_t add = (size_t)(w - r);
		struct tst_rec *grown;

		if (!add)
			continue;
		grown = realloc(recs, (n + add) * sizeof(*recs));
		if (!grown) {
			fprintf(stderr, "tstamp: out of memory\n");
			return 1;
		}
		recs = grown;
		for (; r < w; r++)
			recs[n++] = ring[(size_t)c * TST_RING_PER_CPU + r % TST_RING_PER_CPU];
		__atomic_store_n(&heads[c].read, w, __ATOMIC_RELEASE);
	}
	if (n)
		qsort(recs, n, sizeof(*recs), rec_cmp);
	for (i = 0; i < n; i++) {
		const struct tst_key *k = &recs[i].key;

		if (i && !memcmp(k, &recs[i - 1].key, sizeof(*k))) {
			repeats++;
			continue;
		}
		if ((k->daddr & TST_CLONE_MARK_MASK) == TST_CLONE_MARK)
			snprintf(addr, sizeof(addr), "slot%u", k->daddr & ~TST_CLONE_MARK_MASK);
		else
			inet_ntop(AF_INET, &k->daddr, addr, sizeof(addr));
		printf("%u %s %u %llu %llu\n", k->point, addr, ntohs(k->dport),
		       (unsigned long long)k->seq, (unsigned long long)recs[i].ns);
	}
	free(recs);
	munmap(heads, TST_RING_CPUS * sizeof(*heads));
	munmap(ring, ring_len);
	if (repeats)
		fprintf(
		    stderr,
		    "tstamp: dump: %zu repeated sightings (later than a key's first) left out\n",
		    repeats);
	return fflush(stdout) ? 1 : 0;
}

static volatile sig_atomic_t rec_stop;

static void on_stop(int sig)
{
	(void)sig;
	rec_stop = 1;
}

static int rec_one(void *ctx, void *data, size_t len)
{
	const struct tsr_rec *r = data;

	if (len < TSR_REC_HDR || len != TSR_REC_HDR + (size_t)r->caplen)
		return 0;
	return fwrite(data, len, 1, ctx) == 1 ? 0 : -EIO;
}

/* Drain tsr_ring into FILE until a signal; the records are written as the
 * kernel laid them out (bench/residence_tls.py reads that layout). */
static int cmd_rec(const char *dir, const char *file)
{
	int fd = obj_get(dir, "tsr_ring"), err = 0;
	struct sigaction sa = {.sa_handler = on_stop};
	struct ring_buffer *rb;
	FILE *out;

	if (fd < 0)
		return 1;
	out = fopen(file, "ab");
	if (!out) {
		fprintf(stderr, "tstamp: cannot open %s: %s\n", file, strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rb = ring_buffer__new(fd, rec_one, out, NULL);
	if (!rb) {
		fprintf(stderr, "tstamp: ring buffer: %s\n", strerror(errno));
		fclose(out);
		return 1;
	}
	/* the programs submit without a wakeup (an IPI in the measured
	 * path), so poll the ring rather than wait on it */
	while (!rec_stop) {
		err = ring_buffer__consume(rb);
		if (err < 0)
			break;
		err = 0;
		usleep(10000);
	}
	if (!err)
		err = ring_buffer__consume(rb) < 0;
	ring_buffer__free(rb);
	if (fclose(out))
		err = 1;
	if (err)
		fprintf(stderr, "tstamp: rec: %s\n", strerror(errno));
	return err ? 1 : 0;
}

static int print_stats(const char *dir, const char *map, const char **names, __u32 max)
{
	int fd = obj_get(dir, map), ncpu = libbpf_num_possible_cpus(), c;
	__u32 k;

	if (fd < 0 || ncpu <= 0)
		return 1;
	for (k = 0; k < max; k++) {
		__u64 v[ncpu], sum = 0;

		if (bpf_map_lookup_elem(fd, &k, v) < 0)
			return 1;
		for (c = 0; c < ncpu; c++)
			sum += v[c];
		printf("%s%s=%llu", k ? " " : "", names[k], (unsigned long long)sum);
	}
	printf("\n");
	return 0;
}

static int cmd_fpstats(const char *pin)
{
	int fd = bpf_obj_get(pin), ncpu = libbpf_num_possible_cpus(), c;
	__u64 sum[MOQ_STATS_ENTRIES];
	__u32 k;

	if (fd < 0 || ncpu <= 0) {
		fprintf(stderr, "tstamp: cannot open %s: %s\n", pin, strerror(errno));
		return 1;
	}
	for (k = 0; k < MOQ_STATS_ENTRIES; k++) {
		struct moq_stat v[ncpu];

		sum[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v) < 0)
			return 1;
		for (c = 0; c < ncpu; c++)
			sum[k] += v[c].packets;
	}
	printf("up_fwd=%llu eg_fwd=%llu",
	       (unsigned long long)sum[MOQ_PROG_UPSTREAM_INGRESS * MOQ_R_MAX + MOQ_R_FORWARDED],
	       (unsigned long long)sum[MOQ_PROG_SUBSCRIBER_EGRESS * MOQ_R_MAX + MOQ_R_FORWARDED]);
	for (k = 0; k < MOQ_STATS_ENTRIES; k++)
		if (sum[k] && k % MOQ_R_MAX != MOQ_R_FORWARDED)
			printf(" %u.%u=%llu", k / MOQ_R_MAX, k % MOQ_R_MAX,
			       (unsigned long long)sum[k]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "load"))
		return cmd_load(argv[2], argv[3]);
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "attach"))
		return cmd_attach(argv[2], argv[3], argv[4], argv[5], argc == 7 ? argv[6] : NULL);
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return cmd_dump(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "stats"))
		return print_stats(argv[2], "tst_stats", stat_names, TST_S_MAX);
	if (argc == 4 && !strcmp(argv[1], "rec"))
		return cmd_rec(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "recstats"))
		return print_stats(argv[2], "tsr_stats", rec_stat_names, TSR_S_MAX);
	if (argc == 2 && !strcmp(argv[1], "now")) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "fpstats"))
		return cmd_fpstats(argv[2]);
	fprintf(stderr,
		"usage: tstamp load OBJ PINDIR | attach PINDIR NETNS IF egress|ingress [PROG] |\n"
		"       dump PINDIR | stats PINDIR | rec PINDIR FILE | recstats PINDIR | now |\n"
		"       fpstats MOQ_STATS_PIN\n");
	return 2;
}
