/* A TLS subscriber's media ACKs consumed in the kernel (tc-progs/lib/
 * sub_open.h, tail-called by tc/subscriber_ingress) through
 * bpf_prog_test_run: packets sealed with gnutls (AES-128-GCM + header
 * protection) under the slot's rx keys (fp_keys_set_sub_rx); an ACK is
 * consumed and recorded, an ACK + PING with its full packet number; every
 * other packet reaches the agent byte-identical (opened and restored, or
 * never opened: wrong tag, other key phase, no keys, too big, replay);
 * packet numbers of 1, 2 and 4 bytes decode against the slot's rx window.
 * Needs root (BPF). */
#include <check.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bpf_pkt.h"
#include "lib/bpf_relay.h"
#include "lib/fp_keys.h"
#include "lib/tls_seal.h"
#include "lib/fp_names.h"
#include "moq_maps.h"

#define RELAY_PORT 4443
#define SLOT 3
#define NEXT_PN 1000	   /* the relay's next packet number (ACKs below it) */
#define RX_LARGEST 0x12345 /* the subscriber's largest number seen */

static struct bpf_relay R;
static struct fp_keys K;
static const uint8_t sub_scid[8] = {0xc3, 0xc3, 0xc3, 0xc3, 8, 8, 8, SLOT};
static const uint8_t relay_ip[4] = {10, 1, 0, 254}, sub_ip[4] = {10, 1, 0, 3};
static const uint8_t mac_relay[6] = {2, 0, 0, 0, 1, 0xfe}, mac_sub[6] = {2, 0, 0, 0, 1, 3};
/* the subscriber's client->server keys of phases 0 and 1 (same hp key) */
static const struct fp_tls_key rx[2] = {
    {.key = {0x21, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x26},
     .iv = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb},
     .hp = {0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e,
	    0x6f, 0x70},
     .phase = 0},
    {.key = {0xf1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xf6},
     .iv = {0xa0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xab},
     .hp = {0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e,
	    0x6f, 0x70},
     .phase = 1},
};
/* the relay's tx keys (the slot's clones): installed too, never used here */
static const struct fp_tls_key tx = {
    .key = {0x31, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x36},
    .iv = {0xe0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xeb},
    .hp = {0x91, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	   0x70},
    .phase = 0};

static struct moq_acks acks; /* 3 KiB: not on the stack */

#define mfd(name) bpf_relay_mfd(&R, name)

static void acks_get(void)
{
	uint32_t k = SLOT;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_acks"), &k, &acks), 0);
}

static void acks_put(void)
{
	uint32_t k = SLOT;

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_acks"), &k, &acks, 0), 0);
}

static void setup(void)
{
	struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE | MOQ_SUB_F_TLS,
				   .generation = 1,
				   .ifindex = 1,
				   .family = MOQ_AF_INET,
				   .sport_be = htons(RELAY_PORT),
				   .dport_be = htons(6000)};
	struct moq_conn_seq seq = {.next_pn = NEXT_PN};
	uint32_t slot = SLOT;

	/* the object is loaded once (main); the rx window lives in K's own
	 * object, which the restore does not cover: the seed below resets it */
	ck_assert_int_eq(bpf_relay_restore(&R), 0);
	ck_assert_int_eq(bpf_relay_config(&R, RELAY_PORT, 60ull * 1000000000ull), 0);
	memcpy(s.eth_src, mac_relay, 6);
	memcpy(s.eth_dst, mac_sub, 6);
	memcpy(s.saddr, relay_ip, 4);
	memcpy(s.daddr, sub_ip, 4);
	memcpy(s.scid, sub_scid, 8);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_sub_by_cid"), sub_scid, &slot, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_conn_seq"), &slot, &seq, 0), 0);
	memset(&acks, 0, sizeof(acks));
	acks.enabled = MOQ_ACKS_EN_ACK | MOQ_ACKS_EN_PING;
	acks.last_pass_ns = bpf_relay_now_ns();
	acks_put();
	/* what fp_tls does when the slot gets its keys */
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &tx), 0);
	ck_assert_int_eq(fp_keys_sub_rx_seed(&K, SLOT, RX_LARGEST, 1), 0);
	ck_assert_int_eq(fp_keys_set_sub_rx(&K, SLOT, &rx[0]), 0);
	bpf_relay_stats_reset(&R);
}

/* ---- packets ------------------------------------------------------------- */

struct pk {
	uint8_t f[512];
	size_t n; /* frame bytes */
	uint8_t pkt[1024];
	size_t len;
};

static void qv(struct pk *p, uint64_t v)
{
	size_t w = v < 64 ? 1 : v < 16384 ? 2 : v < (1ull << 30) ? 4 : 8;

	p->n = bpf_frame_qv(p->f, p->n, v, w);
}

/* ACK largest, delay 0, first range first, no more ranges */
static void ack(struct pk *p, uint64_t largest, uint64_t first)
{
	p->f[p->n++] = 0x02;
	qv(p, largest);
	qv(p, 0);
	qv(p, 0);
	qv(p, first);
}

static uint8_t seal_reserved; /* bits 0x18 of the first byte */
static int seal_family = 4;
static const uint8_t relay_ip6[16] = {0xfd, 1, [15] = 0xfe}, sub_ip6[16] = {0xfd, 1, [15] = 3};

/* The subscriber's protected packet of p's frames, number pn (pn_len
 * bytes on the wire), key phase phase; bad_tag flips a tag bit. */
static void seal(struct pk *p, uint64_t pn, int pn_len, int phase, int bad_tag)
{
	struct bpf_pkt_spec s = {0};
	uint8_t q[1024];
	size_t hlen = 9 + (size_t)pn_len, len;
	uint32_t wire = 0;

	/* the header-protection sample needs 4 bytes after a 1-byte PN */
	while (p->n < 4)
		p->f[p->n++] = 0; /* PADDING */
	len = hlen + p->n + 16;
	ck_assert_uint_le(len, sizeof(q));
	q[0] = (uint8_t)(0x40 | seal_reserved | phase << 2 | (pn_len - 1));
	memcpy(q + 1, sub_scid, 8);
	for (int i = 0; i < pn_len; i++)
		q[9 + i] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
	memcpy(q + hlen, p->f, p->n);
	ck_assert_int_eq(tls_seal(q, len, hlen, pn, &rx[phase]), 0);
	if (bad_tag)
		q[len - 1] ^= 0x80;
	s.family = seal_family;
	memcpy(s.eth_src, mac_sub, 6);
	memcpy(s.eth_dst, mac_relay, 6);
	memcpy(s.saddr, seal_family == 6 ? sub_ip6 : sub_ip, seal_family == 6 ? 16 : 4);
	memcpy(s.daddr, seal_family == 6 ? relay_ip6 : relay_ip, seal_family == 6 ? 16 : 4);
	s.sport = 6000;
	s.dport = RELAY_PORT;
	memcpy(s.dcid, sub_scid, 8);
	s.first = q[0];
	for (int i = 0; i < pn_len; i++)
		wire = wire << 8 | q[9 + i];
	s.pn = wire;
	s.pn_len = pn_len;
	s.frames = q + hlen;
	s.frames_len = len - hlen;
	s.no_tag = 1;
	p->len = bpf_pkt_build(p->pkt, sizeof(p->pkt), &s);
	ck_assert_uint_gt(p->len, 0);
}

/* ---- running ------------------------------------------------------------- */

static struct bpf_relay_run run;

static uint64_t stat(uint32_t reason)
{
	return bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, reason);
}

static uint32_t run_sub(const struct pk *p)
{
	memset(&run, 0, sizeof(run));
	ck_assert_int_eq(bpf_relay_test_run(R.subscriber_ingress, p->pkt, p->len, &run), 0);
	return run.retval;
}

/* Consumed: dropped, counted, one more record; returns it. */
static const struct moq_ack_rec *expect_consumed(const struct pk *p, const char *why)
{
	uint64_t before = stat(MOQ_R_ACK_CONSUMED), head;

	acks_get();
	head = acks.head;
	ck_assert_msg(run_sub(p) == TC_ACT_SHOT, "%s: not consumed", why);
	ck_assert_msg(stat(MOQ_R_ACK_CONSUMED) == before + 1, "%s: not counted", why);
	acks_get();
	ck_assert_msg(acks.head == head + 1, "%s: no record", why);
	return &acks.rec[head & (MOQ_ACK_RING - 1)];
}

/* Passed byte-identical, nothing recorded, counted as reason. */
static void expect_passed(const struct pk *p, uint32_t reason, const char *why)
{
	uint64_t head, n = stat(reason);

	acks_get();
	head = acks.head;
	ck_assert_msg(run_sub(p) == TC_ACT_OK, "%s: consumed", why);
	ck_assert_msg(run.out_len == p->len, "%s: length %u, want %zu", why, run.out_len, p->len);
	for (size_t i = 0; i < p->len; i++)
		ck_assert_msg(run.out[i] == p->pkt[i], "%s: byte %zu is %02x, want %02x", why, i,
			      run.out[i], p->pkt[i]);
	acks_get();
	ck_assert_msg(acks.head == head, "%s: a record was written", why);
	ck_assert_msg(stat(reason) == n + 1, "%s: reason %s not counted", why,
		      fp_reason_name(reason));
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(ack_consumed_and_recorded)
{
	const struct moq_ack_rec *r;
	struct pk p = {0};

	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 1, 2, 0, 0);
	r = expect_consumed(&p, "ACK");
	ck_assert_uint_eq(r->largest, 100);
	ck_assert_uint_eq(r->nranges, 1);
	ck_assert_uint_eq(r->ranges[0].lo, 90);
	ck_assert_uint_eq(r->flags, 0);
	/* the window moved */
	ck_assert_uint_eq(fp_keys_sub_rx_next(&K, SLOT), RX_LARGEST + 2);
}
END_TEST

/* the same over IPv6 (the opener takes the UDP payload's bounds from the
 * ingress program's parse) */
START_TEST(ipv6_ack_consumed)
{
	struct moq_subscriber sub;
	uint32_t slot = SLOT;
	struct pk p = {0};

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &sub), 0);
	sub.family = MOQ_AF_INET6;
	memcpy(sub.saddr, relay_ip6, 16);
	memcpy(sub.daddr, sub_ip6, 16);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &sub, 0), 0);
	seal_family = 6;
	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 1, 2, 0, 0);
	expect_consumed(&p, "IPv6 ACK");
	memset(&p, 0, sizeof(p));
	ack(&p, 100, 10);
	p.f[p.n++] = 0x12;
	qv(&p, 100);
	seal(&p, RX_LARGEST + 2, 2, 0, 0);
	expect_passed(&p, MOQ_R_SUB_RX, "IPv6 ACK+MAX_STREAMS");
	seal_family = 4;
}
END_TEST

START_TEST(ack_ping_consumed_with_full_pn)
{
	const struct moq_ack_rec *r;
	struct pk p = {0};
	uint64_t big = (5ull << 32) + 7; /* past 32 bits: the ring carries it whole */

	ck_assert_int_eq(fp_keys_sub_rx_seed(&K, SLOT, big - 1, 1), 0);
	ack(&p, 200, 3);
	p.f[p.n++] = 0x01; /* PING */
	p.n += 6;	   /* PADDING */
	seal(&p, big, 1, 0, 0);
	r = expect_consumed(&p, "ACK+PING");
	ck_assert_uint_eq(r->flags, MOQ_ACK_REC_F_PING);
	ck_assert_uint_eq(r->pn, big);
	ck_assert_uint_eq(r->largest, 200);
}
END_TEST

START_TEST(other_frames_pass_byte_identical)
{
	struct pk p = {0};
	uint64_t pn = RX_LARGEST + 1;

	/* ACK + MAX_STREAMS: opened (the window moves), restored, passed */
	ack(&p, 100, 10);
	p.f[p.n++] = 0x12;
	qv(&p, 100);
	seal(&p, pn, 2, 0, 0);
	expect_passed(&p, MOQ_R_SUB_RX, "ACK+MAX_STREAMS");
	ck_assert_uint_eq(fp_keys_sub_rx_next(&K, SLOT), pn + 1);

	/* a STREAM frame with data */
	memset(&p, 0, sizeof(p));
	p.n = bpf_frame_stream_hdr(p.f, 0, 0x0a, 2, 0, 40);
	for (int i = 0; i < 40; i++)
		p.f[p.n++] = (uint8_t)(i * 13 + 1);
	seal(&p, pn + 1, 4, 0, 0);
	expect_passed(&p, MOQ_R_SUB_RX, "STREAM");

	/* an ACK of a number the relay has not sent: the consume rule says
	 * no, the packet passes */
	memset(&p, 0, sizeof(p));
	ack(&p, NEXT_PN + 5, 0);
	seal(&p, pn + 2, 2, 0, 0);
	expect_passed(&p, MOQ_R_SUB_RX, "ACK of an unsent number");
	ck_assert_uint_eq(fp_keys_sub_rx_next(&K, SLOT), pn + 3);

	/* an authentic ACK with reserved bits set: the layer's to refuse */
	memset(&p, 0, sizeof(p));
	ack(&p, 100, 10);
	seal_reserved = 0x08;
	seal(&p, pn + 3, 2, 0, 0);
	seal_reserved = 0;
	expect_passed(&p, MOQ_R_HEADER_BITS, "reserved bits");
}
END_TEST

START_TEST(wrong_tag_passes_unrecorded)
{
	struct pk p = {0};

	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 1, 2, 0, 1);
	expect_passed(&p, MOQ_R_AEAD_OPEN_FAILED, "wrong tag");
	/* a forgery does not move the window */
	ck_assert_uint_eq(fp_keys_sub_rx_next(&K, SLOT), RX_LARGEST + 1);
}
END_TEST

START_TEST(other_phase_and_no_keys_pass)
{
	struct pk p = {0};

	/* the peer's key update: phase 1 while the kernel has phase 0 */
	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 1, 2, 1, 0);
	expect_passed(&p, MOQ_R_NO_KEYS, "other key phase");
	/* the agent re-exports after the layer rotated: phase 1 now, and
	 * phase 0's set is gone */
	ck_assert_int_eq(fp_keys_set_sub_rx(&K, SLOT, &rx[1]), 0);
	expect_consumed(&p, "phase 1 after the re-export");
	memset(&p, 0, sizeof(p));
	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 2, 2, 0, 0);
	expect_passed(&p, MOQ_R_NO_KEYS, "the old phase");
}
END_TEST

START_TEST(no_rx_keys_pass)
{
	struct pk p = {0};

	/* tx keys only (an agent that does not export rx keys) */
	ck_assert_int_eq(fp_keys_wipe_sub(&K, SLOT), 0);
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &tx), 0);
	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 1, 2, 0, 0);
	expect_passed(&p, MOQ_R_NO_KEYS, "no rx keys");
}
END_TEST

START_TEST(wiped_keys_pass)
{
	struct pk p = {0};

	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 1, 2, 0, 0);
	expect_consumed(&p, "with keys");
	ck_assert_int_eq(fp_keys_wipe_sub(&K, SLOT), 0);
	memset(&p, 0, sizeof(p));
	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 2, 2, 0, 0);
	expect_passed(&p, MOQ_R_NO_KEYS, "wiped");
}
END_TEST

START_TEST(pn_lengths_decode_against_window)
{
	static const struct {
		uint64_t largest, pn;
		int pn_len;
	} c[] = {
	    {RX_LARGEST, RX_LARGEST + 1, 1},
	    {0x12fe, 0x1301, 1}, /* the low byte wraps */
	    {0x1ffff, 0x20010, 2},
	    {0xfffffff0, 0x100000003, 4}, /* past 32 bits */
	    {0x5000, 0x4ff0, 2},	  /* reordered, below the largest */
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const struct moq_ack_rec *r;
		struct pk p = {0};
		char why[64];

		snprintf(why, sizeof(why), "case %zu", i);
		ck_assert_int_eq(fp_keys_sub_rx_seed(&K, SLOT, c[i].largest, 1), 0);
		if (c[i].pn < c[i].largest) {
			/* unseen below the largest: seeded up to it, raised */
			ck_assert_int_eq(fp_keys_sub_rx_seed(&K, SLOT, c[i].pn - 1, 1), 0);
			fp_keys_sub_rx_raise(&K, SLOT, c[i].largest);
		}
		ack(&p, 100, 10);
		p.f[p.n++] = 0x01;
		seal(&p, c[i].pn, c[i].pn_len, 0, 0);
		r = expect_consumed(&p, why);
		ck_assert_msg(r->pn == c[i].pn, "%s: pn %llx, want %llx", why,
			      (unsigned long long)r->pn, (unsigned long long)c[i].pn);
	}
}
END_TEST

START_TEST(replay_and_big_packets_pass)
{
	struct pk p = {0};

	ack(&p, 100, 10);
	seal(&p, RX_LARGEST + 1, 2, 0, 0);
	expect_consumed(&p, "first");
	expect_passed(&p, MOQ_R_PN_DUPLICATE, "replay");
	/* a number the layer has (the seeded window) */
	memset(&p, 0, sizeof(p));
	ack(&p, 100, 10);
	seal(&p, RX_LARGEST - 3, 2, 0, 0);
	expect_passed(&p, MOQ_R_PN_DUPLICATE, "seen by the layer");
	/* above MOQ_SUB_OPEN_MAX: not opened, the window stays */
	memset(&p, 0, sizeof(p));
	ack(&p, 100, 10);
	p.n = MOQ_SUB_OPEN_MAX;
	seal(&p, RX_LARGEST + 2, 2, 0, 0);
	expect_passed(&p, MOQ_R_SUB_RX, "too big");
	ck_assert_uint_eq(fp_keys_sub_rx_next(&K, SLOT), RX_LARGEST + 2);
	/* the agent's raise never lowers the window */
	fp_keys_sub_rx_raise(&K, SLOT, RX_LARGEST - 100);
	ck_assert_uint_eq(fp_keys_sub_rx_next(&K, SLOT), RX_LARGEST + 2);
	fp_keys_sub_rx_raise(&K, SLOT, RX_LARGEST + 9);
	ck_assert_uint_eq(fp_keys_sub_rx_next(&K, SLOT), RX_LARGEST + 10);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bpf_tls_ack");
	TCase *t = tcase_create("open");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, ack_consumed_and_recorded);
	tcase_add_test(t, ipv6_ack_consumed);
	tcase_add_test(t, ack_ping_consumed_with_full_pn);
	tcase_add_test(t, other_frames_pass_byte_identical);
	tcase_add_test(t, wrong_tag_passes_unrecorded);
	tcase_add_test(t, other_phase_and_no_keys_pass);
	tcase_add_test(t, no_rx_keys_pass);
	tcase_add_test(t, wiped_keys_pass);
	tcase_add_test(t, pn_lengths_decode_against_window);
	tcase_add_test(t, replay_and_big_packets_pass);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	int failed;

	bpf_relay_load_kept(&R, NULL, &K);
	failed = bpf_relay_run_suite(suite(), &R);
	fp_keys_close(&K);
	return failed;
}
