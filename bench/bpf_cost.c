/* Per-packet cost of the fast path from bpf_prog_test_run durations.
 *
 * Runs in a private network namespace with a veth pair; the egress program
 * is attached (libbpf bpf_tc_attach) to one end, so the ingress program's
 * bpf_clone_redirect clones really pass the egress rewrite and a veth
 * transmit. For N subscribers of one track it reports:
 *   ingress+egress  test_run duration of the upstream ingress program on a
 *                   mid-stream packet (classify + N clones + N egress
 *                   rewrites + N veth xmits), ns per packet
 *   per clone       the above / N
 * and, once: classification only (0 subscribers), egress alone (test_run of
 * the egress program on a marked packet, no clone so no head copy).
 * Built and run by bench/bpf_cost.sh; needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf_pkt.h"
#include "bpf_relay.h"
#include "moq_maps.h"

static struct bpf_relay R;
static const uint8_t up_cid[8] = {0xa1, 1, 2, 3, 4, 5, 6, 7};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fd_of(const char *m)
{
	return bpf_relay_map_fd(&R, m);
}

static int ring_drop(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

static size_t build(uint8_t *pkt, size_t cap, int start)
{
	static uint8_t fr[1400];
	struct bpf_pkt_spec s = {.family = 4, .sport = 5000, .dport = 4443, .pn = 1, .frames = fr};
	size_t n = 0;

	memcpy(s.eth_src, (uint8_t[6]){2, 0, 0, 0, 0, 1}, 6);
	memcpy(s.eth_dst, (uint8_t[6]){2, 0, 0, 0, 0, 2}, 6);
	memcpy(s.saddr, (uint8_t[4]){10, 0, 0, 1}, 4);
	memcpy(s.daddr, (uint8_t[4]){10, 0, 0, 2}, 4);
	memcpy(s.dcid, up_cid, 8);
	if (start) {
		n = bpf_frame_stream_hdr(fr, 0, 0, 2, 0, 0);
		n = bpf_frame_subgroup(fr, n, 0x14, 5, 1, 0, 32);
		fr[n++] = 0;
		fr[n++] = 1;
		fr[n++] = 'x';
	} else {
		/* a typical media packet: 1100 bytes of stream data */
		n = bpf_frame_stream_hdr(fr, 0, 6, 2, 1000, 1100);
		memset(fr + n, 0x5a, 1100);
		n += 1100;
	}
	s.frames_len = n;
	return bpf_pkt_build(pkt, cap, &s);
}

static int setup_maps(uint32_t nsubs, uint32_t ifindex)
{
	static struct moq_track_subs t;
	struct moq_config c = {.layout_version = MOQ_MAPS_LAYOUT_VERSION,
			       .flags = MOQ_CFG_F_ENABLED,
			       .heartbeat_ns = now_ns(),
			       .heartbeat_timeout_ns = 3600ull * 1000000000ull,
			       .generation = 1,
			       .relay_port_be = htons(4443)};
	struct moq_upstream u = {
	    .conn_id = 7, .generation = 1, .family = MOQ_AF_INET, .sport_be = htons(5000)};
	struct moq_track_key tk = {.conn_id = 7, .track_alias = 5};
	uint32_t k = 0;

	memcpy(u.saddr, (uint8_t[4]){10, 0, 0, 1}, 4);
	if (bpf_map_update_elem(fd_of("moq_config"), &k, &c, 0) ||
	    bpf_map_update_elem(fd_of("moq_upstreams"), up_cid, &u, 0))
		return -1;
#ifdef MOQ_PN_SLOTS /* the packet-number window (a build before it has none) */
	{
		struct moq_pn_window w = {.generation = 1};
		uint32_t conn = 7;

		if (bpf_map_update_elem(fd_of("moq_pn_windows"), &conn, &w, 0))
			return -1;
	}
#endif
	memset(&t, 0, sizeof(t));
	t.count = nsubs;
	t.default_priority = 64;
	for (uint32_t i = 0; i < nsubs; i++) {
		struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE,
					   .generation = 1,
					   .ifindex = ifindex,
					   .family = MOQ_AF_INET,
					   .sport_be = htons(4443),
					   .dport_be = htons(6000)};
		struct moq_subscription_key bk = {.slot = i, .conn_id = 7, .track_alias = 5};
		struct moq_subscription b = {.track_alias = 9};

		memcpy(s.eth_src, (uint8_t[6]){2, 0, 0, 0, 9, 1}, 6);
		memcpy(s.eth_dst, (uint8_t[6]){2, 0, 0, 0, 9, 2}, 6);
		memcpy(s.saddr, (uint8_t[4]){10, 9, 0, 1}, 4);
		memcpy(s.daddr, (uint8_t[4]){10, 9, 0, 2}, 4);
		t.slots[i] = i;
		if (bpf_map_update_elem(fd_of("moq_subscribers"), &i, &s, 0) ||
		    bpf_map_update_elem(fd_of("moq_subscriptions"), &bk, &b, 0))
			return -1;
	}
	return bpf_map_update_elem(fd_of("moq_tracks"), &tk, &t, 0);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The ingress program clones a packet number once: every run gets the next
 * one (bytes 9..12 of the QUIC header, IPv4 without VLAN). */
#define PN_OFF (14 + 20 + 8 + 9)
static uint32_t next_pn = 100;

static void set_pn(uint8_t *pkt, uint32_t pn)
{
	pkt[PN_OFF] = (uint8_t)(pn >> 24);
	pkt[PN_OFF + 1] = (uint8_t)(pn >> 16);
	pkt[PN_OFF + 2] = (uint8_t)(pn >> 8);
	pkt[PN_OFF + 3] = (uint8_t)pn;
}

/* Median over 9 batches of the mean test_run duration of runs single runs
 * (repeat = 1), each on a new packet number (dup: the last one again). */
static uint32_t measure_ingress(uint8_t *pkt, size_t len, uint32_t runs, int dup,
				struct ring_buffer *rb)
{
	uint32_t d[9];

	for (int b = 0; b < 9; b++) {
		uint64_t sum = 0;

		for (uint32_t i = 0; i < runs; i++) {
			struct bpf_relay_run run;

			memset(&run, 0, sizeof(run));
			set_pn(pkt, dup ? next_pn - 1 : next_pn++);
			if (bpf_relay_test_run(R.upstream_ingress, pkt, len, &run)) {
				perror("test_run");
				exit(1);
			}
			sum += run.duration;
			if (i % 64 == 63)
				ring_buffer__consume(rb);
		}
		d[b] = (uint32_t)(sum / runs);
		ring_buffer__consume(rb);
	}
	qsort(d, 9, sizeof(d[0]), cmp_u32);
	return d[4];
}

int main(int argc, char **argv)
{
	static const uint32_t counts[] = {1, 8, 64, 1024};
	uint8_t start[2048], mid[2048];
	size_t ls, lm;
	uint32_t ifindex, base, eg;
	struct ring_buffer *rb;
	int ncounts = 4;

	(void)argc;
	(void)argv;
	if (unshare(CLONE_NEWNET)) {
		perror("unshare (needs root)");
		return 1;
	}
	if (system("ip link set lo up && ip link add bcA type veth peer name bcB "
		   "&& ip link set bcA up && ip link set bcB up"))
		return 1;
	ifindex = if_nametoindex("bcA");
	if (bpf_relay_open(&R))
		return 1;
	{
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = R.subscriber_egress);

		if (bpf_tc_hook_create(&hook) || bpf_tc_attach(&hook, &opts)) {
			fprintf(stderr, "bpf_tc_attach failed\n");
			return 1;
		}
	}
	rb = ring_buffer__new(fd_of("moq_events"), ring_drop, NULL, NULL);
	ls = build(start, sizeof(start), 1);
	lm = build(mid, sizeof(mid), 0);

	printf("# verified_insns upstream_ingress=%u subscriber_egress=%u\n",
	       bpf_relay_verified_insns(R.upstream_ingress),
	       bpf_relay_verified_insns(R.subscriber_egress));
	printf("# packet: IPv4, %zu bytes on the wire (1100 bytes of stream data)\n", lm);

	/* classification only: no subscribers for the alias */
	setup_maps(0, ifindex);
	{
		struct bpf_relay_run r0 = {0};

		set_pn(start, next_pn++);
		bpf_relay_test_run(R.upstream_ingress, start, ls, &r0);
	}
	base = measure_ingress(mid, lm, 2000, 0, rb);
	printf("ingress classification only (0 subscribers): %u ns/packet\n", base);
	base = measure_ingress(mid, lm, 2000, 1, rb);
	printf("ingress on a duplicate packet number (0 subscribers): %u ns/packet\n", base);

	setup_maps(1, ifindex);
	{
		struct bpf_relay_run r0 = {0};

		set_pn(start, next_pn++);
		bpf_relay_test_run(R.upstream_ingress, start, ls, &r0);
	}
	/* repeat = 1: the first run clears the mark, so a repeated run would
	 * measure the unmarked early return */
	{
		static uint32_t d[1001];

		for (int i = 0; i < 1001; i++) {
			struct bpf_relay_run r1 = {.mark_in = MOQ_MARK_MAGIC | 0};

			bpf_relay_test_run(R.subscriber_egress, mid, lm, &r1);
			if (r1.retval != 0)
				fprintf(stderr, "egress retval %u\n", r1.retval);
			d[i] = r1.duration;
			if (i % 100 == 0)
				ring_buffer__consume(rb);
		}
		qsort(d, 1001, sizeof(d[0]), cmp_u32);
		eg = d[500];
	}
	printf("egress alone on an uncloned skb (test_run): %u ns/packet\n", eg);
	printf("\n| subscribers | ingress+egress ns/packet | ns per clone |\n");
	printf("|---:|---:|---:|\n");
	for (int i = 0; i < ncounts; i++) {
		uint32_t n = counts[i], rep = 2000 / n, d;
		struct bpf_relay_run r0 = {0};

		if (rep < 5)
			rep = 5;
		setup_maps(n, ifindex);
		/* the stream start maps the stream for every subscriber */
		set_pn(start, next_pn++);
		bpf_relay_test_run(R.upstream_ingress, start, ls, &r0);
		ring_buffer__consume(rb);
		d = measure_ingress(mid, lm, rep, 0, rb);
		printf("| %u | %u | %u |\n", n, d, d / n);
		fflush(stdout);
	}
	{
		uint64_t fw = bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, MOQ_R_FORWARDED),
			 other = 0;

		for (uint32_t r = 1; r < MOQ_R_MAX; r++)
			if (r != MOQ_R_NOT_MARKED)
				other += bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, r);
		if (!fw || other) {
			fprintf(stderr,
				"bpf_cost: egress forwarded %llu, dropped %llu: the figures would "
				"not measure the fast path\n",
				(unsigned long long)fw, (unsigned long long)other);
			return 1;
		}
		printf("\n# sanity: egress forwarded %llu clones, dropped %llu\n",
		       (unsigned long long)fw, (unsigned long long)other);
	}
	ring_buffer__free(rb);
	bpf_relay_close(&R);
	return 0;
}
