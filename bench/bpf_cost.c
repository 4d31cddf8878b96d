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
 * Then the same for TLS subscriber slots (MOQ_SUB_F_TLS, keys installed by
 * agent/lib/fp_keys.c) next to plaintext slots on a 1,200-byte QUIC packet,
 * the seal's parts from tc-progs/testing/aead_test.bpf.o, and userspace
 * AES-NI (gnutls) for the accelerated-AES estimate. Last, a subscriber's
 * media ACK through tc/subscriber_ingress: consumed on a plaintext slot,
 * on a TLS slot (opened by the tail-called moq_subscriber_open), and
 * passed on a TLS slot.
 * Built and run by bench/bpf_cost.sh; needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "bpf_pkt.h"
#include "bpf_relay.h"
#include "lib/fp_keys.h"
#include "tls_seal.h"
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

/* moq_sent_log, mmapped: the bench reads nothing but must keep the logs
 * from filling (a full log drops clones, MOQ_R_LOG_FULL) */
static struct moq_sent_log *logs;
static const uint32_t logs_used = 1024; /* the most slots the bench uses */

static void logs_map(void)
{
	size_t sz = sizeof(struct moq_sent_log) * MOQ_MAX_SUBSCRIBERS;
	void *p;

	sz = (sz + 4095) & ~(size_t)4095;
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd_of("moq_sent_log"), 0);
	if (p == MAP_FAILED) {
		perror("mmap moq_sent_log");
		exit(1);
	}
	logs = p;
}

/* What the agent does: events read, sent logs caught up. */
static void drain(struct ring_buffer *rb)
{
	ring_buffer__consume(rb);
	for (uint32_t i = 0; i < logs_used; i++)
		__atomic_store_n(&logs[i].tail, __atomic_load_n(&logs[i].head, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
}

static int ring_drop(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

/* quic_len: 0 for the usual packets, else a mid-stream packet whose QUIC
 * packet (UDP payload) is quic_len bytes */
static size_t build_q(uint8_t *pkt, size_t cap, int start, size_t quic_len);

static size_t build(uint8_t *pkt, size_t cap, int start)
{
	return build_q(pkt, cap, start, 0);
}

static size_t build_q(uint8_t *pkt, size_t cap, int start, size_t quic_len)
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
		/* a typical media packet: 1100 bytes of stream data (or what
		 * fills quic_len: 13-byte header, 10-byte frame header, tag) */
		size_t data = quic_len ? quic_len - 13 - 10 - 16 : 1100;

		n = bpf_frame_stream_hdr(fr, 0, 6, 2, 1000, data);
		memset(fr + n, 0x5a, data);
		n += data;
	}
	s.frames_len = n;
	return bpf_pkt_build(pkt, cap, &s);
}

static uint32_t sub_flags; /* MOQ_SUB_F_TLS for the TLS rows */

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
		struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE | sub_flags,
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
				drain(rb);
		}
		d[b] = (uint32_t)(sum / runs);
		drain(rb);
	}
	qsort(d, 9, sizeof(d[0]), cmp_u32);
	return d[4];
}

static const struct fp_tls_key bench_key = {
    .key = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
    .iv = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
    .hp = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6},
};

/* The stream start through the ingress program: maps the stream for
 * every subscriber. */
static void map_stream(uint8_t *start, size_t ls, struct ring_buffer *rb)
{
	struct bpf_relay_run r0 = {0};

	set_pn(start, next_pn++);
	bpf_relay_test_run(R.upstream_ingress, start, ls, &r0);
	drain(rb);
}

/* Median test_run duration of the egress program alone on pkt for slot. */
static uint32_t egress_alone(uint32_t slot, const uint8_t *pkt, size_t len, struct ring_buffer *rb)
{
	static uint32_t d[1001];

	for (int i = 0; i < 1001; i++) {
		struct bpf_relay_run r1 = {.mark_in = MOQ_MARK_MAGIC | slot};

		bpf_relay_test_run(R.subscriber_egress, pkt, len, &r1);
		if (r1.retval != 0)
			fprintf(stderr, "egress retval %u\n", r1.retval);
		d[i] = r1.duration;
		if (i % 64 == 0)
			drain(rb);
	}
	qsort(d, 1001, sizeof(d[0]), cmp_u32);
	return d[500];
}

/* Median of 9 x 200 runs of the fixture program (aead_test.bpf.o) op on a
 * copy of pkt (the first 13 bytes a QUIC header). */
static uint32_t fixture_op(int prog, uint32_t op, const uint8_t *pkt, size_t len)
{
	static uint8_t buf[2048], out[2048];
	uint32_t d[9];

	for (int b = 0; b < 9; b++) {
		uint64_t sum = 0;

		for (int i = 0; i < 200; i++) {
			struct __sk_buff ctx = {.cb = {op, 1, MOQ_TLS_KIND_UP | 13u << 16, 77, 0}};
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf,
				    .data_size_in = (uint32_t)len, .data_out = out,
				    .data_size_out = sizeof(out), .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx));

			memcpy(buf, pkt, len);
			if (bpf_prog_test_run_opts(prog, &o) || o.retval != 1000) {
				fprintf(stderr, "fixture op %u: retval %u\n", op, o.retval);
				exit(1);
			}
			sum += o.duration;
		}
		d[b] = (uint32_t)(sum / 200);
	}
	qsort(d, 9, sizeof(d[0]), cmp_u32);
	return d[4];
}

/* Userspace ns for one AES-128-GCM seal (gnutls: AES-NI + PCLMUL here) and
 * for AES-128-CBC over the same bytes (a serial upper bound of the ECB
 * keystream with AES-NI). */
static void userspace_aes(size_t len, double *gcm_ns, double *cbc_ns)
{
	static uint8_t in[2048], out[2048 + 16];
	uint8_t key[16] = {1}, iv[16] = {2};
	gnutls_datum_t k = {key, 16}, ivd = {iv, 16};
	gnutls_aead_cipher_hd_t g;
	gnutls_cipher_hd_t c;
	const int n = 20000;
	uint64_t t0;

	gnutls_aead_cipher_init(&g, GNUTLS_CIPHER_AES_128_GCM, &k);
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		size_t ol = sizeof(out);

		gnutls_aead_cipher_encrypt(g, iv, 12, in, 13, 16, in + 13, len - 13 - 16, out, &ol);
	}
	*gcm_ns = (double)(now_ns() - t0) / n;
	gnutls_aead_cipher_deinit(g);
	gnutls_cipher_init(&c, GNUTLS_CIPHER_AES_128_CBC, &k, &ivd);
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		gnutls_cipher_encrypt2(c, in, (len + 15) / 16 * 16, out, sizeof(out));
	*cbc_ns = (double)(now_ns() - t0) / n;
	gnutls_cipher_deinit(c);
}

#define TLS_QUIC_LEN 1200

/* pkt (13-byte header, payload, 16 bytes) sealed by gnutls with
 * bench_key and packet number 77, without header protection: what the
 * opener sees after removing it */
static void gnutls_seal(uint8_t *pkt, size_t len)
{
	gnutls_datum_t k = {(unsigned char *)bench_key.key, 16};
	gnutls_aead_cipher_hd_t g;
	uint8_t nonce[12], out[2048];
	size_t ol = sizeof(out);

	memcpy(nonce, bench_key.iv, 12);
	nonce[11] ^= 77;
	gnutls_aead_cipher_init(&g, GNUTLS_CIPHER_AES_128_GCM, &k);
	gnutls_aead_cipher_encrypt(g, nonce, 12, pkt, 13, 16, pkt + 13, len - 13 - 16, out, &ol);
	gnutls_aead_cipher_deinit(g);
	memcpy(pkt + 13, out, ol);
}

/* TLS slots next to plaintext slots on a 1,200-byte QUIC packet. */
static int tls_section(uint32_t ifindex, struct ring_buffer *rb)
{
	static const uint32_t counts[] = {1, 8, 64};
	uint8_t start[2048], mid[2048], q[2048];
	struct fp_keys K;
	char err[256] = "", path[512];
	const char *b = getenv("B");
	struct bpf_object *fx;
	struct bpf_program *p;
	struct bpf_map *m;
	uint32_t plain_eg, tls_eg, seal, ks, hp, base, blocks, open_big, open_small;
	double gcm_ns, cbc_ns, est, aesni_blk;
	size_t ls, lm;

	ls = build(start, sizeof(start), 1);
	lm = build_q(mid, sizeof(mid), 0, TLS_QUIC_LEN);
	if (fp_keys_open_from(&K, R.obj, err, sizeof(err))) {
		fprintf(stderr, "fp_keys: %s\n", err);
		return 1;
	}
	printf("\n# tls: QUIC packet %d bytes (%zu on the wire), AES-128-GCM seal + header "
	       "protection in the seal program (tail call)\n",
	       TLS_QUIC_LEN, lm);
	sub_flags = 0;
	setup_maps(1, ifindex);
	map_stream(start, ls, rb);
	plain_eg = egress_alone(0, mid, lm, rb);
	sub_flags = MOQ_SUB_F_TLS;
	setup_maps(1, ifindex);
	if (fp_keys_set_sub(&K, 0, &bench_key))
		return 1;
	tls_eg = egress_alone(0, mid, lm, rb);
	fp_keys_wipe_sub(&K, 0);
	printf("# tls: egress alone, plaintext slot: %u ns/clone\n", plain_eg);
	printf("# tls: egress alone, TLS slot: %u ns/clone (seal: +%d ns)\n", tls_eg,
	       (int)tls_eg - (int)plain_eg);
	printf("\n| subscribers | plaintext ns per clone | TLS ns per clone | TLS - plaintext |\n");
	printf("|---:|---:|---:|---:|\n");
	for (int i = 0; i < 3; i++) {
		uint32_t n = counts[i], rep = 2000 / n, dp, dt;

		sub_flags = 0;
		setup_maps(n, ifindex);
		map_stream(start, ls, rb);
		dp = measure_ingress(mid, lm, rep, 0, rb) / n;
		sub_flags = MOQ_SUB_F_TLS;
		setup_maps(n, ifindex);
		for (uint32_t s = 0; s < n; s++)
			if (fp_keys_set_sub(&K, s, &bench_key))
				return 1;
		map_stream(start, ls, rb);
		dt = measure_ingress(mid, lm, rep, 0, rb) / n;
		printf("| %u | %u | %u | %d |\n", n, dp, dt, (int)dt - (int)dp);
		fflush(stdout);
		for (uint32_t s = 0; s < n; s++)
			fp_keys_wipe_sub(&K, s);
	}
	sub_flags = 0;

	/* the seal's parts, on the QUIC packet alone */
	snprintf(path, sizeof(path), "%s/tc-progs/testing/aead_test.bpf.o", b && *b ? b : "build");
	fx = bpf_object__open_file(path, NULL);
	if (!fx)
		return 1;
	bpf_object__for_each_map(m, fx) bpf_map__set_pin_path(m, NULL);
	bpf_object__for_each_program(p, fx) bpf_program__set_type(p, BPF_PROG_TYPE_SCHED_CLS);
	if (bpf_object__load(fx))
		return 1;
	{
		struct fp_keys K2;
		int prog = bpf_program__fd(bpf_object__find_program_by_name(fx, "moq_aead_test"));

		if (fp_keys_open_from(&K2, fx, err, sizeof(err)) ||
		    fp_keys_set_up(&K2, 1, &bench_key))
			return 1;
		memcpy(q, mid + (lm - TLS_QUIC_LEN), TLS_QUIC_LEN);
		seal = fixture_op(prog, 1, q, TLS_QUIC_LEN);
		ks = fixture_op(prog, 5, q, TLS_QUIC_LEN);
		hp = fixture_op(prog, 3, q, TLS_QUIC_LEN);
		base = fixture_op(prog, 4, q, TLS_QUIC_LEN);
		gnutls_seal(q, TLS_QUIC_LEN);
		open_big = fixture_op(prog, 2, q, TLS_QUIC_LEN);
		memcpy(q, mid + (lm - TLS_QUIC_LEN), 60);
		gnutls_seal(q, 60);
		open_small = fixture_op(prog, 2, q, 60);
		fp_keys_close(&K2);
	}
	bpf_object__close(fx);
	blocks = (TLS_QUIC_LEN - 13 - 16 + 15) / 16 + 1;
	userspace_aes(TLS_QUIC_LEN, &gcm_ns, &cbc_ns);
	printf("\n# tls: seal of the %d-byte packet in tc (fixture, test_run): %u ns\n",
	       TLS_QUIC_LEN, seal);
	printf("# tls:   of which packet load + counter blocks + ecb(aes) over %u blocks: %u ns "
	       "(%.1f ns/block, kernel driver %s)\n",
	       blocks, ks, (double)ks / blocks,
	       system("grep -q 'ecb(aes-generic)' /proc/crypto") ? "ecb(aes-fixed-time)"
								 : "ecb(aes-generic)");
	printf("# tls:   header protection mask (1 block): %u ns\n", hp);
	printf("# tls: open (verify + decrypt, header protection removed) of the %d-byte packet: "
	       "%u ns, of a 60-byte packet (an ACK's size): %u ns\n",
	       TLS_QUIC_LEN, open_big, open_small);
	printf("# tls:   GHASH + XOR + store + header protection: %u ns\n", seal - ks);
	printf("# tls: userspace gnutls (AES-NI, PCLMULQDQ): AES-128-GCM %.0f ns, AES-128-CBC over "
	       "the same bytes %.0f ns\n",
	       gcm_ns, cbc_ns);
	/* estimate: the ECB work (keystream call and HP block, each less the
	 * fixture's own cost) at the userspace AES-NI CBC rate per block
	 * (serial CBC: an upper bound for ECB), the rest as measured. The
	 * keystream figure includes loading the packet and writing the
	 * counter blocks, so the estimate errs low by those. */
	aesni_blk = cbc_ns / ((TLS_QUIC_LEN + 15) / 16);
	est = (double)seal - (double)(ks - base) - (double)(hp - base) + aesni_blk * (blocks + 1);
	printf("# tls: fixture overhead (key lookup only): %u ns\n", base);
	printf("# tls: ESTIMATE with accelerated AES in the kernel: ~%.0f ns per seal (%u + 1 "
	       "ecb blocks at the userspace AES-NI rate of %.1f ns/block instead of %.1f; GHASH "
	       "and the rest as measured)\n",
	       est, blocks, aesni_blk, (double)(ks - base) / blocks);
	fp_keys_close(&K);
	return 0;
}

/* ---- tlsup: the TLS step of the upstream program, per publisher packet ----
 * The upstream ingress program on a 1,200-byte mid-stream publisher packet
 * with no subscribers of its track (nothing is cloned: the cost paid once
 * per publisher packet whatever the fan-out), from a plaintext entry and
 * from a MOQ_UP_F_TLS entry: saving the packet's bytes for the agent,
 * header protection, the AES-128-GCM open, the rewrite into the plaintext
 * form (2-byte PN and 1-byte stream id grow to 4 bytes each: the whole
 * packet moves), the same classification, then the bytes stored back (no
 * fan-out: passed, no redirect; the stack's delivery is not in the figure).
 * Each run a new packet number; the TLS packet is sealed with gnutls
 * outside the timing. */
#define UP_TLS_RUNS 201

static size_t up_tls_packet(uint8_t *pkt, size_t cap, const struct fp_tls_key *key, uint64_t pn)
{
	static uint8_t q[TLS_QUIC_LEN], out[TLS_QUIC_LEN];
	gnutls_datum_t k = {(unsigned char *)key->key, 16}, hk = {(unsigned char *)key->hp, 16};
	uint8_t iv0[16] = {0}, mask[16], nonce[12];
	struct bpf_pkt_spec s = {.family = 4, .sport = 5000, .dport = 4443, .pn_len = 2};
	size_t n = 0, hl = 11, ol = sizeof(out), data = TLS_QUIC_LEN - 11 - 6 - 16;
	gnutls_datum_t ivd = {iv0, 16};
	gnutls_aead_cipher_hd_t g;
	gnutls_cipher_hd_t ecb;

	q[0] = 0x41; /* 2-byte packet number, key phase 0 */
	memcpy(q + 1, up_cid, 8);
	q[9] = (uint8_t)(pn >> 8);
	q[10] = (uint8_t)pn;
	n = hl;
	q[n++] = 0x0e;			 /* STREAM with offset and length */
	q[n++] = 2;			 /* stream id 2, 1 byte */
	n = bpf_frame_qv(q, n, 1000, 2); /* offset */
	n = bpf_frame_qv(q, n, data, 2); /* length */
	memset(q + n, 0x5a, data);
	n += data;
	memcpy(nonce, key->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(pn >> (56 - 8 * i));
	gnutls_aead_cipher_init(&g, GNUTLS_CIPHER_AES_128_GCM, &k);
	gnutls_aead_cipher_encrypt(g, nonce, 12, q, hl, 16, q + hl, n - hl, out, &ol);
	gnutls_aead_cipher_deinit(g);
	memcpy(q + hl, out, ol);
	gnutls_cipher_init(&ecb, GNUTLS_CIPHER_AES_128_CBC, &hk, &ivd);
	gnutls_cipher_encrypt2(ecb, q + 9 + 4, 16, mask, 16);
	gnutls_cipher_deinit(ecb);
	q[0] ^= mask[0] & 0x1f;
	q[9] ^= mask[1];
	q[10] ^= mask[2];
	memcpy(s.eth_src, (uint8_t[6]){2, 0, 0, 0, 0, 1}, 6);
	memcpy(s.eth_dst, (uint8_t[6]){2, 0, 0, 0, 0, 2}, 6);
	memcpy(s.saddr, (uint8_t[4]){10, 0, 0, 1}, 4);
	memcpy(s.daddr, (uint8_t[4]){10, 0, 0, 2}, 4);
	memcpy(s.dcid, up_cid, 8);
	s.first = q[0];
	s.pn = (uint32_t)q[9] << 8 | q[10];
	s.frames = q + hl;
	s.frames_len = hl + ol <= TLS_QUIC_LEN ? ol : 0;
	s.no_tag = 1;
	return bpf_pkt_build(pkt, cap, &s);
}

/* Median test_run duration of the upstream program on UP_TLS_RUNS packets;
 * tls: sealed ones with packet numbers 1, 2, ..., else plaintext ones with
 * the next numbers. */
static uint32_t up_tls_measure(int tls, const struct fp_tls_key *key, uint8_t *mid, size_t lm,
			       struct ring_buffer *rb)
{
	static uint8_t pkt[2048];
	uint32_t d[UP_TLS_RUNS];

	for (uint32_t i = 0; i < UP_TLS_RUNS; i++) {
		struct bpf_relay_run run;
		size_t len = lm;

		memset(&run, 0, sizeof(run));
		if (tls) {
			len = up_tls_packet(pkt, sizeof(pkt), key, 1 + i);
		} else {
			memcpy(pkt, mid, lm);
			set_pn(pkt, next_pn++);
		}
		if (!len || bpf_relay_test_run(R.upstream_ingress, pkt, len, &run)) {
			perror("test_run");
			exit(1);
		}
		d[i] = run.duration;
		if (i % 64 == 63)
			drain(rb);
	}
	qsort(d, UP_TLS_RUNS, sizeof(d[0]), cmp_u32);
	return d[UP_TLS_RUNS / 2];
}

static int up_tls_section(uint32_t ifindex, struct ring_buffer *rb)
{
	struct moq_upstream u = {.conn_id = 7,
				 .generation = 1,
				 .family = MOQ_AF_INET,
				 .flags = MOQ_UP_F_TLS,
				 .sport_be = htons(5000)};
	struct moq_track_key tk = {.conn_id = 7, .track_alias = 5};
	uint8_t start[2048], mid[2048];
	uint64_t ok0, bad0, ok, bad;
	struct fp_keys K;
	char err[256] = "";
	uint32_t plain, tls;
	size_t ls, lm;

	ls = build(start, sizeof(start), 1);
	lm = build_q(mid, sizeof(mid), 0, TLS_QUIC_LEN);
	if (fp_keys_open_from(&K, R.obj, err, sizeof(err))) {
		fprintf(stderr, "fp_keys: %s\n", err);
		return 1;
	}
	sub_flags = 0;
	setup_maps(1, ifindex);
	map_stream(start, ls, rb); /* stream 2 of conn 7 at offset 0 */
	bpf_map_delete_elem(fd_of("moq_tracks"), &tk);
	plain = up_tls_measure(0, &bench_key, mid, lm, rb);
	/* the same connection as a TLS publisher: a new window, keys */
	memcpy(u.saddr, (uint8_t[4]){10, 0, 0, 1}, 4);
	if (bpf_map_update_elem(fd_of("moq_upstreams"), up_cid, &u, 0) ||
	    fp_keys_set_up(&K, 7, &bench_key)) {
		fprintf(stderr, "bpf_cost: TLS upstream setup failed\n");
		return 1;
	}
	{
		struct moq_pn_window w = {.generation = 1};
		uint32_t conn = 7;

		bpf_map_update_elem(fd_of("moq_pn_windows"), &conn, &w, 0);
	}
	ok0 = bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_NO_SUBSCRIBERS);
	bad0 = bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_AEAD_OPEN_FAILED);
	tls = up_tls_measure(1, &bench_key, mid, lm, rb);
	ok = bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_NO_SUBSCRIBERS) - ok0;
	bad = bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_AEAD_OPEN_FAILED) - bad0;
	fp_keys_wipe_up(&K, 7);
	fp_keys_close(&K);
	if (ok != UP_TLS_RUNS || bad) {
		fprintf(stderr,
			"bpf_cost: TLS upstream: %llu of %d packets opened and classified, %llu "
			"failed to open: the figure would not measure the TLS step\n",
			(unsigned long long)ok, UP_TLS_RUNS, (unsigned long long)bad);
		return 1;
	}
	printf("\n# tls upstream (tlsup): ingress per %d-byte publisher packet, no subscribers, "
	       "median of %d: plaintext entry %u ns, TLS entry %u ns (save + "
	       "header protection + open + rewrite to the plaintext form + restore: %d ns)\n",
	       TLS_QUIC_LEN, UP_TLS_RUNS, plain, tls, (int)tls - (int)plain);
	return 0;
}

/* ---- a subscriber's ACK through tc/subscriber_ingress -------------------- */

#define ACK_SLOT 1 /* setup_maps(1) uses slot 0 */
static const uint8_t ack_cid[8] = {0xc3, 0xc3, 0xc3, 0xc3, 8, 8, 8, ACK_SLOT};
static const struct fp_tls_key ack_rx_key = {
    .key = {0x21, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x26},
    .iv = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb},
    .hp = {0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	   0x70},
    .phase = 0};
static uint64_t ack_pn = 5000;

/* ACK of 100..90 (+ MAX_STREAMS with extra) from the subscriber, number pn:
 * the plaintext profile, or sealed (2-byte number) with ack_rx_key */
static size_t ack_pkt(uint8_t *pkt, size_t cap, int tls, uint64_t pn, int extra)
{
	uint8_t fr[64] = {0x02, 0x40, 100, 0, 0, 10}, q[128];
	struct bpf_pkt_spec s = {.family = 4, .sport = 6000, .dport = 4443, .frames = fr};
	size_t n = 6, len;

	if (extra) {
		fr[n++] = 0x12;
		fr[n++] = 0x40;
		fr[n++] = 100;
	}
	memcpy(s.eth_src, (uint8_t[6]){2, 0, 0, 0, 9, 2}, 6);
	memcpy(s.eth_dst, (uint8_t[6]){2, 0, 0, 0, 9, 1}, 6);
	memcpy(s.saddr, (uint8_t[4]){10, 9, 0, 2}, 4);
	memcpy(s.daddr, (uint8_t[4]){10, 9, 0, 1}, 4);
	memcpy(s.dcid, ack_cid, 8);
	if (!tls) {
		s.pn = (uint32_t)pn;
		s.frames_len = n;
		return bpf_pkt_build(pkt, cap, &s);
	}
	q[0] = 0x41;
	memcpy(q + 1, ack_cid, 8);
	q[9] = (uint8_t)(pn >> 8);
	q[10] = (uint8_t)pn;
	memcpy(q + 11, fr, n);
	len = 11 + n + 16;
	if (tls_seal(q, len, 11, pn, &ack_rx_key))
		return 0;
	s.first = q[0];
	s.pn = (uint32_t)q[9] << 8 | q[10];
	s.pn_len = 2;
	s.frames = q + 11;
	s.frames_len = len - 11;
	s.no_tag = 1;
	return bpf_pkt_build(pkt, cap, &s);
}

static int ack_slot(uint32_t flags)
{
	struct moq_subscriber sb = {.flags = MOQ_SUB_F_ACTIVE | flags,
				    .generation = 1,
				    .ifindex = 1,
				    .family = MOQ_AF_INET,
				    .sport_be = htons(4443),
				    .dport_be = htons(6000)};
	struct moq_conn_seq seq = {.next_pn = 1000};
	uint32_t slot = ACK_SLOT;

	memcpy(sb.eth_src, (uint8_t[6]){2, 0, 0, 0, 9, 1}, 6);
	memcpy(sb.eth_dst, (uint8_t[6]){2, 0, 0, 0, 9, 2}, 6);
	memcpy(sb.saddr, (uint8_t[4]){10, 9, 0, 1}, 4);
	memcpy(sb.daddr, (uint8_t[4]){10, 9, 0, 2}, 4);
	memcpy(sb.scid, ack_cid, 8);
	return bpf_map_update_elem(fd_of("moq_subscribers"), &slot, &sb, 0) ||
	       bpf_map_update_elem(fd_of("moq_sub_by_cid"), ack_cid, &slot, 0) ||
	       bpf_map_update_elem(fd_of("moq_conn_seq"), &slot, &seq, 0);
}

/* Median test_run duration of n runs of the subscriber ingress on fresh
 * ACK packets (a new number each: the TLS window refuses a replay), the
 * ring emptied and the pass timer restarted before each (what the agent
 * does); -1 when a run's verdict is not want. */
static int64_t ack_runs(struct moq_acks *a, int tls, int extra, uint32_t want, int n)
{
	static uint32_t d[1001];
	uint8_t pkt[256];

	if (n > 1001)
		n = 1001;
	for (int i = 0; i < n; i++) {
		struct bpf_relay_run r = {0};
		size_t len = ack_pkt(pkt, sizeof(pkt), tls, ack_pn++, extra);

		if (!len)
			return -1;
		__atomic_store_n(&a->tail, __atomic_load_n(&a->head, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		a->last_pass_ns = now_ns();
		if (bpf_relay_test_run(R.subscriber_ingress, pkt, len, &r) || r.retval != want) {
			fprintf(stderr, "bpf_cost: subscriber ingress verdict %u, want %u\n",
				r.retval, want);
			return -1;
		}
		d[i] = r.duration;
	}
	qsort(d, (size_t)n, sizeof(d[0]), cmp_u32);
	return d[n / 2];
}

static int ack_section(uint32_t ifindex)
{
	size_t sz = (sizeof(struct moq_acks) * MOQ_MAX_SUBSCRIBERS + 4095) & ~(size_t)4095;
	struct moq_acks *acks, *a;
	struct fp_keys K;
	char err[256] = "";
	int64_t plain, tls, nokeys, passed;

	acks = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd_of("moq_acks"), 0);
	if (acks == MAP_FAILED || setup_maps(1, ifindex))
		return 1;
	a = &acks[ACK_SLOT];
	a->enabled = MOQ_ACKS_EN_ACK | MOQ_ACKS_EN_PING;
	if (ack_slot(0))
		return 1;
	plain = ack_runs(a, 0, 0, TC_ACT_SHOT, 1001);
	if (fp_keys_open_from(&K, R.obj, err, sizeof(err))) {
		fprintf(stderr, "fp_keys: %s\n", err);
		return 1;
	}
	if (ack_slot(MOQ_SUB_F_TLS) || fp_keys_set_sub(&K, ACK_SLOT, &bench_key) ||
	    fp_keys_sub_rx_seed(&K, ACK_SLOT, ack_pn - 1, 1) ||
	    fp_keys_set_sub_rx(&K, ACK_SLOT, &ack_rx_key))
		return 1;
	tls = ack_runs(a, 1, 0, TC_ACT_SHOT, 1001);
	passed = ack_runs(a, 1, 1, TC_ACT_OK, 1001);
	fp_keys_wipe_sub(&K, ACK_SLOT);
	if (fp_keys_set_sub(&K, ACK_SLOT, &bench_key))
		return 1;
	nokeys = ack_runs(a, 1, 0, TC_ACT_OK, 1001);
	fp_keys_wipe_sub(&K, ACK_SLOT);
	fp_keys_close(&K);
	munmap(acks, sz);
	if (plain < 0 || tls < 0 || passed < 0 || nokeys < 0)
		return 1;
	printf("\n# acks: a subscriber's media ACK (%d-byte QUIC packet) through "
	       "tc/subscriber_ingress, median of 1001 test_runs\n",
	       11 + 6 + 16);
	printf("| slot | what | ns/packet |\n|---|---|---:|\n");
	printf("| plaintext | ACK consumed | %lld |\n", (long long)plain);
	printf("| TLS, rx keys | ACK opened and consumed (tail call) | %lld |\n", (long long)tls);
	printf("| TLS, rx keys | ACK + MAX_STREAMS opened, restored, passed | %lld |\n",
	       (long long)passed);
	printf("| TLS, no rx keys | ACK passed (tail call, no keys) | %lld |\n", (long long)nokeys);
	return 0;
}

/* BPF_COST_LOOP=SECONDS [BPF_COST_SUBS=N, 1024]: only the fan-out to N
 * subscribers, over and over for SECONDS, for a profiler (perf record -a)
 * to sample; prints the mean ns per clone. */
static int profile_loop(uint8_t *start, size_t ls, uint8_t *mid, size_t lm, uint32_t ifindex,
			struct ring_buffer *rb)
{
	const char *e = getenv("BPF_COST_SUBS");
	uint32_t n = e ? (uint32_t)atoi(e) : 1024, secs = (uint32_t)atoi(getenv("BPF_COST_LOOP"));
	uint64_t end = now_ns() + secs * 1000000000ull, runs = 0, sum = 0;
	struct bpf_relay_run r0 = {0};

	if (n < 1 || n > 1024)
		return 1;
	setup_maps(n, ifindex);
	set_pn(start, next_pn++);
	bpf_relay_test_run(R.upstream_ingress, start, ls, &r0);
	drain(rb);
	while (now_ns() < end) {
		struct bpf_relay_run run = {0};

		set_pn(mid, next_pn++);
		if (bpf_relay_test_run(R.upstream_ingress, mid, lm, &run))
			return 1;
		sum += run.duration;
		runs++;
		drain(rb);
	}
	printf("loop: %u subscribers, %llu packets, %llu ns per clone\n", n,
	       (unsigned long long)runs, (unsigned long long)(runs ? sum / runs / n : 0));
	return 0;
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
	logs_map();
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
			if (i % 64 == 0)
				drain(rb);
		}
		qsort(d, 1001, sizeof(d[0]), cmp_u32);
		eg = d[500];
	}
	printf("egress alone on an uncloned skb (test_run): %u ns/packet\n", eg);
	if (getenv("BPF_COST_LOOP"))
		return profile_loop(start, ls, mid, lm, ifindex, rb);
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
		drain(rb);
		d = measure_ingress(mid, lm, rep, 0, rb);
		printf("| %u | %u | %u |\n", n, d, d / n);
		fflush(stdout);
	}
	if (tls_section(ifindex, rb))
		return 1;
	if (up_tls_section(ifindex, rb))
		return 1;
	if (ack_section(ifindex))
		return 1;
	{
		uint64_t fw = bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, MOQ_R_FORWARDED),
			 other = 0;

		for (uint32_t r = 1; r < MOQ_R_MAX; r++)
			if (r != MOQ_R_NOT_MARKED)
				other += bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, r);
		if (!fw || other) {
			for (uint32_t r = 1; r < MOQ_R_MAX; r++)
				if (r != MOQ_R_NOT_MARKED &&
				    bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, r))
					fprintf(stderr, "bpf_cost: egress reason %u: %llu\n", r,
						(unsigned long long)bpf_relay_stat(
						    &R, MOQ_PROG_SUBSCRIBER_EGRESS, r));
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
