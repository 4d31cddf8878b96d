/* Test helper: load and run the fast-path BPF object (see bpf_relay.h). */
#include "bpf_relay.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char obj_path[512];

const char *bpf_relay_object_path(void)
{
	const char *p = getenv("MOQ_BPF_OBJ");
	const char *b = getenv("B");

	if (p && *p)
		return p;
	snprintf(obj_path, sizeof(obj_path), "%s/tc-progs/relay.bpf.o", b && *b ? b : "build");
	return obj_path;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int prog_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

	return p ? bpf_program__fd(p) : -ENOENT;
}

uint64_t bpf_relay_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bpf_relay_open(struct bpf_relay *r)
{
	return bpf_relay_open_file(r, bpf_relay_object_path());
}

int bpf_relay_open_file(struct bpf_relay *r, const char *path)
{
	return bpf_relay_open_except(r, path, NULL);
}

int bpf_relay_open_except(struct bpf_relay *r, const char *path, const char *skip)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	memset(r, 0, sizeof(*r));
	libbpf_set_print(quiet_print);
	r->obj = bpf_object__open_file(path, NULL);
	if (!r->obj) {
		err = -errno;
		fprintf(stderr, "bpf_relay: cannot open %s: %s\n", path, strerror(-err));
		return err;
	}
	/* no pinning in unit tests: every test gets private maps */
	bpf_object__for_each_map(map, r->obj) bpf_map__set_pin_path(map, NULL);
	/* "tc/..." sections are not libbpf SEC names: set the type */
	bpf_object__for_each_program(prog, r->obj)
	{
		bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
		if (skip && !strcmp(bpf_program__name(prog), skip))
			bpf_program__set_autoload(prog, false);
	}
	err = bpf_object__load(r->obj);
	if (err) {
		fprintf(stderr, "bpf_relay: load failed: %s\n", strerror(-err));
		bpf_object__close(r->obj);
		r->obj = NULL;
		return err;
	}
	r->upstream_ingress = prog_fd(r->obj, "moq_upstream_ingress");
	r->subscriber_egress = prog_fd(r->obj, "moq_subscriber_egress");
	r->subscriber_ingress = prog_fd(r->obj, "moq_subscriber_ingress");
	r->relay_ingress = prog_fd(r->obj, "moq_relay_ingress");
	return 0;
}

void bpf_relay_close(struct bpf_relay *r)
{
	if (r->obj)
		bpf_object__close(r->obj);
	r->obj = NULL;
}

int bpf_relay_map_fd(const struct bpf_relay *r, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(r->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

uint32_t bpf_relay_verified_insns(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.verified_insns;
}

int bpf_relay_test_run(int fd, const void *pkt, size_t len, struct bpf_relay_run *run)
{
	struct __sk_buff ctx;
	int err;

	memset(&ctx, 0, sizeof(ctx));
	ctx.mark = run->mark_in;
	ctx.gso_size = run->gso_size;
	ctx.gso_segs = run->gso_size ? 2 : 0;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = run->out, .data_size_out = sizeof(run->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx, .ctx_size_out = sizeof(ctx),
		    .repeat = run->repeat ? run->repeat : 1);
	err = bpf_prog_test_run_opts(fd, &opts);
	if (err)
		return -errno;
	run->retval = opts.retval;
	run->out_len = opts.data_size_out;
	run->mark_out = ctx.mark;
	run->duration = opts.duration;
	return 0;
}

int bpf_relay_config(const struct bpf_relay *r, uint16_t relay_port, uint64_t timeout_ns)
{
	struct moq_config c = {.layout_version = MOQ_MAPS_LAYOUT_VERSION,
			       .flags = MOQ_CFG_F_ENABLED,
			       .heartbeat_ns = bpf_relay_now_ns(),
			       .heartbeat_timeout_ns = timeout_ns,
			       .generation = 1,
			       .relay_port_be = htons(relay_port)};
	uint32_t k = 0;

	return bpf_map_update_elem(bpf_relay_map_fd(r, "moq_config"), &k, &c, 0) ? -errno : 0;
}

uint64_t bpf_relay_stat(const struct bpf_relay *r, uint32_t prog, uint32_t reason)
{
	int ncpu = libbpf_num_possible_cpus();
	struct moq_stat vals[ncpu > 0 ? ncpu : 1];
	uint32_t key = prog * MOQ_R_MAX + reason;
	uint64_t sum = 0;
	int fd = bpf_relay_map_fd(r, "moq_stats");

	if (ncpu <= 0 || bpf_map_lookup_elem(fd, &key, vals))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i].packets;
	return sum;
}

void bpf_relay_stats_reset(const struct bpf_relay *r)
{
	int ncpu = libbpf_num_possible_cpus();
	struct moq_stat vals[ncpu > 0 ? ncpu : 1];
	int fd = bpf_relay_map_fd(r, "moq_stats");

	memset(vals, 0, sizeof(vals));
	for (uint32_t k = 0; k < MOQ_STATS_ENTRIES; k++)
		bpf_map_update_elem(fd, &k, vals, BPF_ANY);
}

int bpf_relay_netns_private(void)
{
	struct ifreq ifr;
	int s;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET) (needs root)");
		return -1;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s >= 0 && !ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return 0;
}
