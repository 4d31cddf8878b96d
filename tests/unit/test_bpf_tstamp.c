/* tc-progs/testing/tstamp.bpf.c (the latency benchmark's kernel timestamps) on
 * fixture packets with bpf_prog_test_run_opts: which packets are stamped,
 * under which key, every sighting is appended to this CPU's part of the ring
 * in order (the earliest of a key is the first sighting the reader keeps), a
 * full part drops, the search window's exact bound, counters, and that
 * packets pass untouched. Needs root (BPF).
 * Object: $MOQ_TSTAMP_OBJ, else $B/tc-progs/testing/tstamp.bpf.o (B default build). */
#include <check.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/bpf_pkt.h"
#include "testing/tstamp.h"

static struct bpf_object *obj;
static int fd_egress, fd_ingress, fd_ring, fd_head, fd_stats;

static const uint8_t SADDR4[4] = {10, 77, 0, 2}, DADDR4[4] = {10, 77, 0, 1};
#define DPORT 4443
/* The QUIC short header bpf_pkt_build writes: 1 + 8 DCID + 4 PN bytes. */
#define QUIC_HDR 13

static void setup(void)
{
	const char *p = getenv("MOQ_TSTAMP_OBJ"), *b = getenv("B");
	char path[512];
	struct bpf_program *prog;

	if (p && *p)
		snprintf(path, sizeof(path), "%s", p);
	else
		snprintf(path, sizeof(path), "%s/tc-progs/testing/tstamp.bpf.o",
			 b && *b ? b : "build");
	obj = bpf_object__open_file(path, NULL);
	ck_assert_msg(obj != NULL, "cannot open %s: %s", path, strerror(errno));
	bpf_object__for_each_program(prog, obj)
	    bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	ck_assert_int_eq(bpf_object__load(obj), 0);
	fd_egress = bpf_program__fd(bpf_object__find_program_by_name(obj, "tst_egress"));
	fd_ingress = bpf_program__fd(bpf_object__find_program_by_name(obj, "tst_ingress"));
	fd_ring = bpf_map__fd(bpf_object__find_map_by_name(obj, "tst_ring"));
	fd_head = bpf_map__fd(bpf_object__find_map_by_name(obj, "tst_head"));
	fd_stats = bpf_map__fd(bpf_object__find_map_by_name(obj, "tst_stats"));
	ck_assert(fd_egress >= 0 && fd_ingress >= 0 && fd_ring >= 0 && fd_head >= 0 &&
		  fd_stats >= 0);
}

static void teardown(void)
{
	bpf_object__close(obj);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* An MQP1 header (first 24 bytes are what the program reads) at `at` in the
 * QUIC frames, the rest filler; total frames length `len`. */
static size_t frames_with_mqp1(uint8_t *f, size_t len, size_t at, uint64_t seq, uint8_t version)
{
	memset(f, 0xA5, len);
	if (at + 24 <= len) {
		memcpy(f + at, "MQP1", 4);
		f[at + 4] = version;
		f[at + 5] = 0;
		for (int i = 0; i < 8; i++)
			f[at + 16 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
	return len;
}

static size_t build(uint8_t *pkt, size_t cap, int family, const uint8_t *frames, size_t flen)
{
	struct bpf_pkt_spec s = {.family = family, .sport = 5555, .dport = DPORT, .pn = 7};

	if (family == 4) {
		memcpy(s.saddr, SADDR4, 4);
		memcpy(s.daddr, DADDR4, 4);
	} else {
		inet_pton(AF_INET6, "fd77::2", s.saddr);
		inet_pton(AF_INET6, "fd77:0:0:3::2", s.daddr);
	}
	s.frames = frames;
	s.frames_len = flen;
	return bpf_pkt_build(pkt, cap, &s);
}

/* Runs prog once on pkt; the packet must come out unchanged. */
static void run(int prog, const uint8_t *pkt, size_t len)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	ck_assert_int_eq(bpf_prog_test_run_opts(prog, &o), 0);
	ck_assert_int_eq((int)o.retval, TC_ACT_UNSPEC);
	ck_assert_uint_eq(o.data_size_out, len);
	ck_assert_mem_eq(out, pkt, len);
}

static uint64_t stat(enum tst_stat k)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu > 0 ? ncpu : 1], sum = 0;
	uint32_t key = k;

	ck_assert_int_eq(bpf_map_lookup_elem(fd_stats, &key, v), 0);
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	return sum;
}

/* Every record in the ring (all CPUs' unread parts), in append order per CPU. */
static size_t records(struct tst_rec *out, size_t cap)
{
	size_t n = 0;

	for (uint32_t c = 0; c < TST_RING_CPUS; c++) {
		struct tst_head h;

		ck_assert_int_eq(bpf_map_lookup_elem(fd_head, &c, &h), 0);
		for (uint64_t r = h.read; r < h.written; r++) {
			uint32_t idx = c * TST_RING_PER_CPU + (uint32_t)(r % TST_RING_PER_CPU);

			ck_assert_uint_lt(n, cap);
			ck_assert_int_eq(bpf_map_lookup_elem(fd_ring, &idx, &out[n]), 0);
			n++;
		}
	}
	return n;
}

/* The earliest sighting of a key (what `tstamp dump` prints), 0 if found. */
static int lookup_key(const struct tst_key *k, uint64_t *ts)
{
	struct tst_rec r[64];
	size_t n = records(r, 64);
	int found = -1;

	for (size_t i = 0; i < n; i++)
		if (!memcmp(&r[i].key, k, sizeof(*k)) && (found < 0 || r[i].ns < *ts)) {
			*ts = r[i].ns;
			found = 0;
		}
	return found;
}

static int lookup(uint32_t point, const uint8_t daddr[4], uint64_t seq, uint64_t *ts)
{
	struct tst_key k = {.point = point, .dport = htons(DPORT), .seq = seq};

	memcpy(&k.daddr, daddr, 4);
	return lookup_key(&k, ts);
}

/* Distinct keys in the ring. */
static unsigned map_entries(void)
{
	struct tst_rec r[64];
	size_t n = records(r, 64);
	unsigned keys = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < i && memcmp(&r[j].key, &r[i].key, sizeof(r[i].key)))
			j++;
		keys += j == i;
	}
	return keys;
}

START_TEST(egress_stamps_object_by_destination_and_sequence)
{
	uint8_t f[200], pkt[512];
	size_t len = build(pkt, sizeof(pkt), 4, f,
			   frames_with_mqp1(f, sizeof(f), 20, 0x0102030405060708ull, 1));
	uint64_t t0 = now_ns(), ts = 0;

	run(fd_egress, pkt, len);
	ck_assert_int_eq(lookup(TST_PT_EGRESS, DADDR4, 0x0102030405060708ull, &ts), 0);
	ck_assert_uint_ge(ts, t0);
	ck_assert_uint_le(ts, now_ns());
	ck_assert_int_ne(lookup(TST_PT_INGRESS, DADDR4, 0x0102030405060708ull, &ts), 0);
	ck_assert_uint_eq(map_entries(), 1);
	ck_assert_uint_eq(stat(TST_S_SEEN), 1);
	ck_assert_uint_eq(stat(TST_S_UDP), 1);
	ck_assert_uint_eq(stat(TST_S_MATCHED), 1);
	ck_assert_uint_eq(stat(TST_S_RECORDED), 1);
}
END_TEST

START_TEST(first_sighting_wins_and_repeat_is_recorded_after_it)
{
	uint8_t f[200], pkt[512];
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), 3, 42, 1));
	uint64_t first = 0, again = 0;
	struct tst_rec r[4];

	run(fd_egress, pkt, len);
	ck_assert_int_eq(lookup(TST_PT_EGRESS, DADDR4, 42, &first), 0);
	run(fd_egress, pkt, len);
	ck_assert_int_eq(lookup(TST_PT_EGRESS, DADDR4, 42, &again), 0);
	ck_assert_uint_eq(first, again);
	/* both sightings are in the ring, the repeat after (and later than)
	 * the first: the reader keeps the earliest */
	ck_assert_uint_eq(records(r, 4), 2);
	ck_assert_mem_eq(&r[0].key, &r[1].key, sizeof(r[0].key));
	ck_assert_uint_eq(r[0].ns, first);
	ck_assert_uint_ge(r[1].ns, first);
	ck_assert_uint_eq(stat(TST_S_RECORDED), 2);
	/* the other direction is another point: a key of its own */
	run(fd_ingress, pkt, len);
	ck_assert_int_eq(lookup(TST_PT_INGRESS, DADDR4, 42, &again), 0);
	ck_assert_uint_ge(again, first);
	ck_assert_uint_eq(map_entries(), 2);
}
END_TEST

START_TEST(payload_without_magic_is_unmatched)
{
	uint8_t f[200], pkt[512];
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), 1000, 1, 1));

	run(fd_ingress, pkt, len);
	ck_assert_uint_eq(map_entries(), 0);
	ck_assert_uint_eq(stat(TST_S_UDP), 1);
	ck_assert_uint_eq(stat(TST_S_UNMATCHED), 1);
	ck_assert_uint_eq(stat(TST_S_MATCHED), 0);
}
END_TEST

START_TEST(other_version_is_not_mqp1)
{
	uint8_t f[200], pkt[512];
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), 10, 5, 2));

	run(fd_egress, pkt, len);
	ck_assert_uint_eq(map_entries(), 0);
	ck_assert_uint_eq(stat(TST_S_UNMATCHED), 1);
}
END_TEST

/* The magic and the 20 header bytes after it up to the end of the sequence
 * number must lie in the first TST_WINDOW bytes of the UDP payload. */
START_TEST(window_bound_is_exact)
{
	uint8_t f[600], pkt[1024];
	size_t last_ok = TST_WINDOW - 24 - QUIC_HDR; /* offset in the frames */
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), last_ok, 9, 1));
	uint64_t ts;

	run(fd_egress, pkt, len);
	ck_assert_int_eq(lookup(TST_PT_EGRESS, DADDR4, 9, &ts), 0);
	len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), last_ok + 1, 10, 1));
	run(fd_egress, pkt, len);
	ck_assert_int_ne(lookup(TST_PT_EGRESS, DADDR4, 10, &ts), 0);
	ck_assert_uint_eq(stat(TST_S_MATCHED), 1);
	ck_assert_uint_eq(stat(TST_S_UNMATCHED), 1);
}
END_TEST

/* A packet shorter than the window is searched too (variable-length load). */
START_TEST(short_packet_header_at_the_end)
{
	uint8_t f[40], pkt[256];
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), 16, 77, 1));
	uint64_t ts;

	run(fd_ingress, pkt, len);
	ck_assert_int_eq(lookup(TST_PT_INGRESS, DADDR4, 77, &ts), 0);
}
END_TEST

START_TEST(ipv6_key_is_last_four_address_bytes)
{
	uint8_t f[200], pkt[512], d6[16];
	size_t len = build(pkt, sizeof(pkt), 6, f, frames_with_mqp1(f, sizeof(f), 0, 1234, 1));
	uint64_t ts;

	run(fd_ingress, pkt, len);
	inet_pton(AF_INET6, "fd77:0:0:3::2", d6);
	ck_assert_int_eq(lookup(TST_PT_INGRESS, d6 + 12, 1234, &ts), 0);
}
END_TEST

/* bench/residence.sh: a fast-path clone on the relay's subscriber-side
 * egress is still addressed to the relay; its mark names the subscriber */
START_TEST(clone_mark_is_the_key)
{
	uint8_t f[200], pkt[512], out[2048];
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), 5, 77, 1));
	struct __sk_buff ctx = {.mark = TST_CLONE_MARK | 7};
	struct tst_key k = {.point = TST_PT_EGRESS, .daddr = TST_CLONE_MARK | 7, .seq = 77};
	uint64_t ts;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	ck_assert_int_eq(bpf_prog_test_run_opts(fd_egress, &o), 0);
	ck_assert_int_eq((int)o.retval, TC_ACT_UNSPEC);
	ck_assert_mem_eq(out, pkt, len);
	ck_assert_int_eq(lookup_key(&k, &ts), 0);
	ck_assert_int_ne(lookup(TST_PT_EGRESS, DADDR4, 77, &ts), 0);
	/* another slot is another key; a mark without the magic changes nothing */
	ctx.mark = TST_CLONE_MARK | 8;
	ck_assert_int_eq(bpf_prog_test_run_opts(fd_egress, &o), 0);
	ctx.mark = 0x12340007;
	ck_assert_int_eq(bpf_prog_test_run_opts(fd_egress, &o), 0);
	ck_assert_int_eq(lookup(TST_PT_EGRESS, DADDR4, 77, &ts), 0);
	ck_assert_uint_eq(map_entries(), 3);
}
END_TEST

/* A CPU's part of the ring holds TST_RING_PER_CPU unread records: one more is
 * dropped and counted, not written over an unread one; once the reader
 * advances read the slot after the last is used (the index wraps). */
START_TEST(full_ring_part_drops_and_reading_frees_it)
{
	uint8_t f[200], pkt[512];
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), 3, 42, 1));
	struct tst_head h = {.written = 5 * (uint64_t)TST_RING_PER_CPU + 7,
			     .read = 4 * (uint64_t)TST_RING_PER_CPU + 7};
	struct tst_rec r;
	uint32_t c, idx = 0;

	for (c = 0; c < TST_RING_CPUS; c++)
		ck_assert_int_eq(bpf_map_update_elem(fd_head, &c, &h, 0), 0);
	run(fd_egress, pkt, len);
	ck_assert_uint_eq(stat(TST_S_FULL), 1);
	ck_assert_uint_eq(stat(TST_S_RECORDED), 0);
	for (c = 0; c < TST_RING_CPUS; c++) {
		ck_assert_int_eq(bpf_map_lookup_elem(fd_head, &c, &h), 0);
		ck_assert_uint_eq(h.written, 5 * (uint64_t)TST_RING_PER_CPU + 7);
		h.read = h.written;
		ck_assert_int_eq(bpf_map_update_elem(fd_head, &c, &h, 0), 0);
	}
	run(fd_egress, pkt, len);
	ck_assert_uint_eq(stat(TST_S_RECORDED), 1);
	for (c = 0; c < TST_RING_CPUS; c++) {
		ck_assert_int_eq(bpf_map_lookup_elem(fd_head, &c, &h), 0);
		if (h.written != h.read) {
			ck_assert_uint_eq(h.written, h.read + 1);
			idx = c * TST_RING_PER_CPU + 7;
		}
	}
	ck_assert_uint_ne(idx, 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd_ring, &idx, &r), 0);
	ck_assert_uint_eq(r.key.seq, 42);
	ck_assert_uint_eq(r.key.point, TST_PT_EGRESS);
}
END_TEST

START_TEST(non_udp_is_not_searched)
{
	uint8_t f[200], pkt[512];
	size_t len = build(pkt, sizeof(pkt), 4, f, frames_with_mqp1(f, sizeof(f), 0, 1, 1));

	pkt[14 + 9] = 6; /* IPv4 protocol: TCP (checksums do not matter here) */
	run(fd_egress, pkt, len);
	ck_assert_uint_eq(stat(TST_S_SEEN), 1);
	ck_assert_uint_eq(stat(TST_S_UDP), 0);
	ck_assert_uint_eq(map_entries(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bpf_tstamp");
	TCase *tc = tcase_create("tstamp");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, egress_stamps_object_by_destination_and_sequence);
	tcase_add_test(tc, first_sighting_wins_and_repeat_is_recorded_after_it);
	tcase_add_test(tc, full_ring_part_drops_and_reading_frees_it);
	tcase_add_test(tc, payload_without_magic_is_unmatched);
	tcase_add_test(tc, other_version_is_not_mqp1);
	tcase_add_test(tc, window_bound_is_exact);
	tcase_add_test(tc, short_packet_header_at_the_end);
	tcase_add_test(tc, ipv6_key_is_last_four_address_bytes);
	tcase_add_test(tc, non_udp_is_not_searched);
	tcase_add_test(tc, clone_mark_is_the_key);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
