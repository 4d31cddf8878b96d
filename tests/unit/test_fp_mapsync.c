/* fp_mapsync: opening, checking and mmapping the pinned fast-path maps.
 * Needs root (BPF maps, bpffs): each test pins its own maps under
 * /sys/fs/bpf/fpmaps_<pid>_<n> and removes them, also on failure (the
 * fixture's teardown runs in the forked test process). */
#include <bpf/bpf.h>
#include <check.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "lib/fp_cc.h"
#include "lib/fp_mapsync.h"
#include "lib/fp_mapwrite.h"
#include "lib/fp_pnspace.h"

static char g_dir[128];

struct mk {
	const char *name;
	enum bpf_map_type type;
	uint32_t key, value, entries, flags;
};

static const struct mk all_maps[] = {
    {"moq_config", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_config), 1, 0},
    {"moq_upstreams", BPF_MAP_TYPE_HASH, sizeof(struct moq_cid), sizeof(struct moq_upstream),
     MOQ_MAX_UPSTREAMS, 0},
    {"moq_up_streams", BPF_MAP_TYPE_LRU_HASH, sizeof(struct moq_up_stream_key),
     sizeof(struct moq_up_stream), MOQ_MAX_UP_STREAMS, 0},
    {"moq_tracks", BPF_MAP_TYPE_HASH, sizeof(struct moq_track_key), sizeof(struct moq_track_subs),
     MOQ_MAX_TRACKS, BPF_F_NO_PREALLOC},
    {"moq_subscribers", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_subscriber), MOQ_MAX_SUBSCRIBERS,
     0},
    {"moq_sub_by_cid", BPF_MAP_TYPE_HASH, sizeof(struct moq_cid), 4, MOQ_MAX_SUB_CIDS, 0},
    {"moq_subscriptions", BPF_MAP_TYPE_HASH, sizeof(struct moq_subscription_key),
     sizeof(struct moq_subscription), MOQ_MAX_SUBSCRIPTIONS, 0},
    {"moq_down_streams", BPF_MAP_TYPE_LRU_HASH, sizeof(struct moq_down_stream_key),
     sizeof(struct moq_down_stream), MOQ_MAX_DOWN_STREAMS, 0},
    {"moq_conn_seq", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_conn_seq), MOQ_MAX_SUBSCRIBERS,
     BPF_F_MMAPABLE},
    {"moq_gate", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_gate), MOQ_MAX_SUBSCRIBERS,
     BPF_F_MMAPABLE},
    {"moq_sub_stats", BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct moq_sub_stats),
     MOQ_MAX_SUBSCRIBERS, 0},
    {"moq_stats", BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct moq_stat), MOQ_STATS_ENTRIES, 0},
    {"moq_events", BPF_MAP_TYPE_RINGBUF, 0, 0, MOQ_EVENTS_BYTES, 0},
    {"moq_credit", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_credit), MOQ_MAX_SUBSCRIBERS,
     BPF_F_MMAPABLE},
    {"moq_stream_credit", BPF_MAP_TYPE_HASH, sizeof(struct moq_down_stream_key), sizeof(__u64),
     MOQ_MAX_DOWN_STREAMS, 0},
    {"moq_pn_windows", BPF_MAP_TYPE_HASH, 4, sizeof(struct moq_pn_window), MOQ_MAX_UPSTREAMS, 0},
    {"moq_acks", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_acks), MOQ_MAX_SUBSCRIBERS,
     BPF_F_MMAPABLE},
    {"moq_sent_log", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_sent_log), MOQ_MAX_SUBSCRIBERS,
     BPF_F_MMAPABLE},
    {"moq_clone_cache", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_clone_cache),
     MOQ_MAX_SUBSCRIBERS *MOQ_CLONE_CACHE_WAYS, BPF_F_MMAPABLE},
};
#define NMAPS (sizeof(all_maps) / sizeof(all_maps[0]))

/* Pin every map except `skip`; `bad` gets value size 16. */
static void pin_maps(const char *skip, const char *bad)
{
	for (size_t i = 0; i < NMAPS; i++) {
		const struct mk *m = &all_maps[i];
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = m->flags);
		char path[256];
		uint32_t value = m->value;
		int fd;

		if (skip && !strcmp(skip, m->name))
			continue;
		if (bad && !strcmp(bad, m->name))
			value = 16;
		fd = bpf_map_create(m->type, m->name, m->key, value, m->entries, &o);
		ck_assert_msg(fd >= 0, "create %s: %s", m->name, strerror(errno));
		snprintf(path, sizeof(path), "%s/%s", g_dir, m->name);
		ck_assert_msg(bpf_obj_pin(fd, path) == 0, "pin %s: %s", path, strerror(errno));
		close(fd);
	}
}

static int map_fd(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	return bpf_obj_get(path);
}

static void setup(void)
{
	static int n;
	snprintf(g_dir, sizeof(g_dir), "/sys/fs/bpf/fpmaps_%d_%d", (int)getpid(), n++);
	ck_assert_int_eq(mkdir(g_dir, 0700), 0);
}

static void teardown(void)
{
	char path[256];
	for (size_t i = 0; i < NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", g_dir, all_maps[i].name);
		unlink(path);
	}
	rmdir(g_dir);
}

START_TEST(open_maps_and_share_packet_numbers_through_mmap)
{
	struct fp_maps m;
	struct fp_pnspace ps;
	struct moq_conn_seq v;
	char err[1024];
	uint32_t slot = 5;
	int fd;

	pin_maps(NULL, NULL);
	ck_assert_msg(fp_maps_open(&m, g_dir, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(fp_pnspace_init(&ps, fp_maps_seq(&m, slot), 64), 0);
	ck_assert_uint_eq(fp_pnspace_take_media(&ps), 0);
	ck_assert_uint_eq(fp_pnspace_take(&ps, 2), 1);
	fd = map_fd("moq_conn_seq");
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &slot, &v), 0);
	ck_assert_uint_eq(v.next_pn, 3); /* the kernel sees the agent's numbers */
	v.next_pn = 100;		 /* ... and the agent the kernel's */
	ck_assert_int_eq(bpf_map_update_elem(fd, &slot, &v, BPF_ANY), 0);
	ck_assert_uint_eq(fp_pnspace_take(&ps, 1), 100);
	ck_assert_ptr_null(fp_maps_seq(&m, MOQ_MAX_SUBSCRIBERS));
	close(fd);
	fp_pnspace_free(&ps);
	fp_maps_close(&m);
}
END_TEST

/* Every slot can register the CIDs ngtcp2 issues to its peer (up to 8;
 * with one entry per slot ~1,000 subscribers of 4 CIDs each filled the
 * map and the rest's ACKs bypassed the kernel as sub_unknown, issue 18
 * fifth round). */
START_TEST(sub_by_cid_holds_every_slots_cids)
{
	struct fp_maps m;
	char err[1024];
	uint8_t cid[MOQ_CID_LEN] = {0};

	pin_maps(NULL, NULL);
	ck_assert_msg(fp_maps_open(&m, g_dir, err, sizeof(err)) == 0, "%s", err);
	for (uint32_t slot = 0; slot < MOQ_MAX_SUBSCRIBERS; slot++)
		for (uint32_t k = 0; k < MOQ_SUB_CIDS_PER_SLOT; k++) {
			memcpy(cid, &slot, sizeof(slot));
			memcpy(cid + 4, &k, sizeof(k));
			ck_assert_int_eq(fp_maps_put_sub_cid(&m, cid, slot), 0);
		}
	fp_maps_close(&m);
}
END_TEST

START_TEST(gate_plan_reaches_the_kernel_through_mmap)
{
	struct fp_maps m;
	struct fp_cc cc;
	struct fp_gate_plan p;
	struct moq_gate g;
	char err[1024];
	uint32_t slot = 9;
	int fd;

	pin_maps(NULL, NULL);
	ck_assert_msg(fp_maps_open(&m, g_dir, err, sizeof(err)) == 0, "%s", err);
	fp_cc_init(&cc, NULL);
	fp_cc_gate_plan(&cc, &p);
	fp_cc_gate_apply(fp_maps_gate(&m, slot), &p);
	fd = map_fd("moq_gate");
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &slot, &g), 0);
	ck_assert_int_eq(g.budget, (int64_t)cc.cwnd);
	ck_assert_uint_eq(g.enabled, 1);
	ck_assert_int_eq(g.threshold[7], p.threshold[7]);
	close(fd);
	fp_maps_close(&m);
}
END_TEST

START_TEST(missing_map_error_names_the_pin_and_the_tc_command)
{
	struct fp_maps m;
	char err[1024];

	pin_maps("moq_gate", NULL);
	ck_assert_int_eq(fp_maps_open(&m, g_dir, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "moq_gate"));
	ck_assert_ptr_nonnull(strstr(err, "tc filter add"));
	ck_assert_int_eq(m.fd[0], -1);
}
END_TEST

START_TEST(map_of_another_layout_is_refused_with_repin_advice)
{
	struct fp_maps m;
	char err[1024];

	pin_maps(NULL, "moq_conn_seq");
	ck_assert_int_eq(fp_maps_open(&m, g_dir, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "moq_conn_seq"));
	ck_assert_ptr_nonnull(strstr(err, "value 16"));
	ck_assert_ptr_nonnull(strstr(err, "rm "));
}
END_TEST

START_TEST(config_of_another_layout_version_is_refused)
{
	struct fp_maps m;
	struct moq_config c = {.layout_version = MOQ_MAPS_LAYOUT_VERSION + 98};
	char err[1024], want[32];
	uint32_t zero = 0;
	int fd;

	pin_maps(NULL, NULL);
	fd = map_fd("moq_config");
	ck_assert_int_eq(bpf_map_update_elem(fd, &zero, &c, BPF_ANY), 0);
	close(fd);
	ck_assert_int_eq(fp_maps_open(&m, g_dir, err, sizeof(err)), -EPROTO);
	snprintf(want, sizeof(want), "is %u", MOQ_MAPS_LAYOUT_VERSION + 98);
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_ptr_nonnull(strstr(err, "re-attach"));
}
END_TEST

START_TEST(start_heartbeat_and_stop_write_the_config)
{
	struct fp_maps m;
	struct moq_config c;
	char err[1024];
	uint32_t zero = 0;
	int fd;

	pin_maps(NULL, NULL);
	ck_assert_msg(fp_maps_open(&m, g_dir, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(fp_maps_start(&m, 7, 500000000ull, 4443, err, sizeof(err)), 0);
	fd = map_fd("moq_config");
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &zero, &c), 0);
	ck_assert_uint_eq(c.layout_version, MOQ_MAPS_LAYOUT_VERSION);
	ck_assert_uint_eq(c.generation, 7);
	ck_assert_uint_eq(c.flags & MOQ_CFG_F_ENABLED, MOQ_CFG_F_ENABLED);
	ck_assert_uint_eq(c.relay_port_be, htons(4443));
	ck_assert_uint_eq(c.heartbeat_timeout_ns, 500000000ull);
	ck_assert_int_eq(fp_maps_heartbeat(&m, c.heartbeat_ns + 12345), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &zero, &c), 0);
	ck_assert_uint_eq(c.heartbeat_ns, m.cfg.heartbeat_ns);
	ck_assert_int_eq(fp_maps_stop(&m), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &zero, &c), 0);
	ck_assert_uint_eq(c.flags & MOQ_CFG_F_ENABLED, 0);
	close(fd);
	fp_maps_close(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_mapsync");
	TCase *tc = tcase_create("maps");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		/* run.sh counts a binary without a Check line as failed: say why */
		fprintf(stderr, "test_fp_mapsync: needs root (BPF maps on bpffs)\n");
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_maps_and_share_packet_numbers_through_mmap);
	tcase_add_test(tc, sub_by_cid_holds_every_slots_cids);
	tcase_add_test(tc, gate_plan_reaches_the_kernel_through_mmap);
	tcase_add_test(tc, missing_map_error_names_the_pin_and_the_tc_command);
	tcase_add_test(tc, map_of_another_layout_is_refused_with_repin_advice);
	tcase_add_test(tc, config_of_another_layout_version_is_refused);
	tcase_add_test(tc, start_heartbeat_and_stop_write_the_config);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
