/* Media ACKs consumed by tc/subscriber_ingress (tc-progs/lib/ack_consume.h)
 * through bpf_prog_test_run_opts: a subscriber's packet + moq_acks state ->
 * verdict (TC_ACT_SHOT = consumed), the record written, the stats reason.
 * Needs root (BPF). */
#include <check.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/bpf_pkt.h"
#include "lib/bpf_relay.h"
#include "moq_maps.h"

#define RELAY_PORT 4443
#define SLOT 3
#define NEXT_PN 1000

static struct bpf_relay R;
static const uint8_t sub_scid[8] = {0xc3, 0xc3, 0xc3, 0xc3, 8, 8, 8, SLOT};
static const uint8_t relay_ip[4] = {10, 1, 0, 254}, sub_ip[4] = {10, 1, 0, 3};
static const uint8_t mac_relay[6] = {2, 0, 0, 0, 1, 0xfe}, mac_sub[6] = {2, 0, 0, 0, 1, 3};

#define mfd(name) bpf_relay_mfd(&R, name)

static struct moq_acks acks; /* 3 KiB: not on the stack */

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
	struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE,
				   .generation = 1,
				   .ifindex = 1,
				   .family = MOQ_AF_INET,
				   .sport_be = htons(RELAY_PORT),
				   .dport_be = htons(6000)};
	struct moq_conn_seq seq = {.next_pn = NEXT_PN};
	uint32_t slot = SLOT;

	ck_assert_int_eq(bpf_relay_restore(&R), 0);
	ck_assert_int_eq(bpf_relay_config(&R, RELAY_PORT, 10ull * 1000000000ull), 0);
	memcpy(s.eth_src, mac_relay, 6);
	memcpy(s.eth_dst, mac_sub, 6);
	memcpy(s.saddr, relay_ip, 4);
	memcpy(s.daddr, sub_ip, 4);
	memcpy(s.scid, sub_scid, 8);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_sub_by_cid"), sub_scid, &slot, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_conn_seq"), &slot, &seq, 0), 0);
	/* what the agent does when it binds the slot (fp_ackring_enable),
	 * with the pass timer just restarted */
	memset(&acks, 0, sizeof(acks));
	acks.enabled = 1;
	acks.last_pass_ns = bpf_relay_now_ns();
	acks_put();
	bpf_relay_stats_reset(&R);
}

/* ---- packets ------------------------------------------------------------- */

struct pk {
	struct bpf_pkt_spec s;
	uint8_t f[256];
	size_t n; /* frame bytes */
	uint8_t pkt[512];
	size_t len;
};

static void pk_init(struct pk *p)
{
	memset(p, 0, sizeof(*p));
	p->s.family = 4;
	memcpy(p->s.eth_src, mac_sub, 6);
	memcpy(p->s.eth_dst, mac_relay, 6);
	memcpy(p->s.saddr, sub_ip, 4);
	memcpy(p->s.daddr, relay_ip, 4);
	p->s.sport = 6000;
	p->s.dport = RELAY_PORT;
	memcpy(p->s.dcid, sub_scid, 8);
	p->s.pn = 77;
	p->s.frames = p->f;
}

static void qv(struct pk *p, uint64_t v)
{
	size_t w = v < 64 ? 1 : v < 16384 ? 2 : v < (1ull << 30) ? 4 : 8; /* shortest */

	p->n = bpf_frame_qv(p->f, p->n, v, w);
}

/* ACK (ecn: ACK_ECN) largest, delay, first range, then n (gap, length). */
static void ack(struct pk *p, int ecn, uint64_t largest, uint64_t delay, uint64_t first, int n,
		const uint64_t *gl)
{
	p->f[p->n++] = ecn ? 0x03 : 0x02;
	qv(p, largest);
	qv(p, delay);
	qv(p, (uint64_t)n);
	qv(p, first);
	for (int i = 0; i < 2 * n; i++)
		qv(p, gl[i]);
	if (ecn) {
		qv(p, 11);
		qv(p, 0);
		qv(p, 2);
	}
}

static void build(struct pk *p)
{
	p->s.frames_len = p->n;
	p->len = bpf_pkt_build(p->pkt, sizeof(p->pkt), &p->s);
	ck_assert_uint_gt(p->len, 0);
}

static struct bpf_relay_run run;

static uint32_t run_sub(const struct pk *p)
{
	memset(&run, 0, sizeof(run));
	ck_assert_int_eq(bpf_relay_test_run(R.subscriber_ingress, p->pkt, p->len, &run), 0);
	return run.retval;
}

static void expect_consumed(const struct pk *p)
{
	uint64_t before = bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_ACK_CONSUMED);

	ck_assert_uint_eq(run_sub(p), TC_ACT_SHOT);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_ACK_CONSUMED),
			  before + 1);
}

/* Passed unchanged to the agent, nothing recorded. */
static void expect_passed(const struct pk *p, const char *why)
{
	uint64_t head, n = bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_ACK_CONSUMED);

	acks_get();
	head = acks.head;
	ck_assert_msg(run_sub(p) == TC_ACT_OK, "%s: consumed", why);
	ck_assert_msg(run.out_len == p->len && !memcmp(run.out, p->pkt, p->len), "%s: changed",
		      why);
	acks_get();
	ck_assert_msg(acks.head == head, "%s: a record was written", why);
	ck_assert_msg(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_ACK_CONSUMED) == n,
		      "%s: counted as consumed", why);
}

static const uint64_t gl1[] = {3, 4}; /* 85..81 after 100..90 */

/* ---- tests --------------------------------------------------------------- */

START_TEST(pure_media_ack_consumed_and_recorded)
{
	struct pk p;
	uint64_t t0 = bpf_relay_now_ns();
	struct moq_ack_rec *r;

	pk_init(&p);
	ack(&p, 0, 100, 7, 10, 1, gl1);
	p.n += 5; /* trailing PADDING */
	build(&p);
	expect_consumed(&p);
	acks_get();
	ck_assert_uint_eq(acks.head, 1);
	r = &acks.rec[0];
	ck_assert_uint_eq(r->seq, 1);
	ck_assert_uint_eq(r->largest, 100);
	ck_assert_uint_eq(r->ack_delay_raw, 7);
	ck_assert_uint_eq(r->nranges, 2);
	ck_assert_uint_eq(r->ranges[0].hi, 100);
	ck_assert_uint_eq(r->ranges[0].lo, 90);
	ck_assert_uint_eq(r->ranges[1].hi, 85);
	ck_assert_uint_eq(r->ranges[1].lo, 81);
	ck_assert_uint_eq(r->flags, 0);
	ck_assert_uint_ge(r->ts_ns, t0);
	ck_assert_uint_le(r->ts_ns, bpf_relay_now_ns());
	/* the subscriber's packets are still counted */
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX), 0);
}
END_TEST

START_TEST(ack_ecn_records_counts)
{
	struct pk p;

	pk_init(&p);
	ack(&p, 1, 50, 0, 0, 0, NULL);
	build(&p);
	expect_consumed(&p);
	acks_get();
	ck_assert_uint_eq(acks.rec[0].flags, MOQ_ACK_REC_F_ECN);
	ck_assert_uint_eq(acks.rec[0].ecn[0], 11);
	ck_assert_uint_eq(acks.rec[0].ecn[1], 0);
	ck_assert_uint_eq(acks.rec[0].ecn[2], 2);
	ck_assert_uint_eq(acks.rec[0].nranges, 1);
}
END_TEST

/* An ack-eliciting ngtcp2 packet the agent has not seen acknowledged: the
 * ACK goes to the agent; one in a gap of the ACK does not matter. */
START_TEST(ack_of_outstanding_ngtcp2_packet_passes)
{
	struct pk p;

	acks.guard_floor = 60;
	acks.guard[95 % MOQ_ACK_GUARD_BITS / 64] |= 1ull << (95 % 64);
	acks_put();
	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 1, gl1);
	build(&p);
	expect_passed(&p, "guarded 95 acknowledged");

	memset(acks.guard, 0, sizeof(acks.guard));
	acks.guard[87 / 64] |= 1ull << (87 % 64); /* in the gap 86..89 */
	acks_put();
	expect_consumed(&p);
}
END_TEST

/* The guard window: numbers below the floor were given up; a range longer
 * than the window still finds a bit set anywhere in it. */
START_TEST(guard_window_floor_and_long_range)
{
	struct pk p;

	acks.guard_floor = 2000; /* 95 is below: given up */
	acks.guard[95 / 64] |= 1ull << (95 % 64);
	acks_put();
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_conn_seq"), &(uint32_t){SLOT},
					     &(struct moq_conn_seq){.next_pn = 5000}, 0),
			 0);
	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	expect_consumed(&p);

	/* 0..4095 covers the window [2000, 3024): bit of 2095 (same word) */
	pk_init(&p);
	ack(&p, 0, 4095, 0, 4095, 0, NULL);
	build(&p);
	acks.guard_floor = 2000;
	memset(acks.guard, 0, sizeof(acks.guard));
	acks.guard[(2095 % MOQ_ACK_GUARD_BITS) / 64] |= 1ull << (2095 % 64);
	acks_put();
	expect_passed(&p, "long range over a guarded number");
}
END_TEST

START_TEST(ack_with_ping_passes)
{
	struct pk p;

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	p.f[p.n++] = 0x01; /* PING */
	build(&p);
	expect_passed(&p, "ACK+PING");

	pk_init(&p);
	p.f[p.n++] = 0x01;
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	expect_passed(&p, "PING+ACK");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	p.f[p.n++] = 0x12; /* MAX_STREAMS (bidi) */
	qv(&p, 100);
	build(&p);
	expect_passed(&p, "ACK+MAX_STREAMS");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	expect_passed(&p, "two ACK frames");
}
END_TEST

/* With MOQ_ACKS_EN_PING an ACK followed by a PING is consumed and the
 * record carries the packet's number for the agent to hand ngtcp2; the
 * other orders and combinations still pass. */
START_TEST(ack_ping_consumed_when_enabled)
{
	struct pk p;

	acks.enabled = MOQ_ACKS_EN_ACK | MOQ_ACKS_EN_PING;
	acks_put();
	pk_init(&p);
	p.s.pn = 0xabcdef12;
	ack(&p, 0, 100, 0, 10, 1, gl1);
	p.f[p.n++] = 0x01; /* PING */
	p.n += 4;	   /* PADDING */
	build(&p);
	expect_consumed(&p);
	acks_get();
	ck_assert_uint_eq(acks.head, 1);
	ck_assert_uint_eq(acks.rec[0].flags, MOQ_ACK_REC_F_PING);
	ck_assert_uint_eq(acks.rec[0].pn, 0xabcdef12);
	ck_assert_uint_eq(acks.rec[0].largest, 100);
	ck_assert_uint_eq(acks.rec[0].nranges, 2);

	/* a pure ACK of the same slot: no PING flag */
	pk_init(&p);
	ack(&p, 0, 101, 0, 10, 0, NULL);
	build(&p);
	expect_consumed(&p);
	acks_get();
	ck_assert_uint_eq(acks.rec[1].flags, 0);

	pk_init(&p);
	p.f[p.n++] = 0x01;
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	expect_passed(&p, "PING+ACK");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	p.f[p.n++] = 0x01;
	p.f[p.n++] = 0x01;
	build(&p);
	expect_passed(&p, "ACK+PING+PING");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	p.f[p.n++] = 0x01;
	p.f[p.n++] = 0x12; /* MAX_STREAMS (bidi) */
	qv(&p, 100);
	build(&p);
	expect_passed(&p, "ACK+PING+MAX_STREAMS");

	/* the guard still applies */
	acks_get();
	acks.guard_floor = 60;
	acks.guard[95 / 64] |= 1ull << (95 % 64);
	acks_put();
	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 1, gl1);
	p.f[p.n++] = 0x01;
	build(&p);
	expect_passed(&p, "ACK+PING of a guarded number");
}
END_TEST

/* A slot whose gate is enabled and below MOQ_ACK_GATE_LOW (or overdrawn)
 * needs its ACKs at once to refill the gate: passed; a disabled gate or
 * enough budget: consumed. */
START_TEST(ack_of_slot_with_low_gate_passes)
{
	struct moq_gate g = {.enabled = 1, .budget = MOQ_ACK_GATE_LOW - 1};
	uint32_t slot = SLOT;
	struct pk p;

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
	expect_passed(&p, "gate budget below the low mark");
	g.budget = -5000;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
	expect_passed(&p, "gate overdrawn");
	g.budget = MOQ_ACK_GATE_LOW;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
	expect_consumed(&p);
	g.enabled = 0;
	g.budget = 0;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
	expect_consumed(&p);
}
END_TEST

/* Never sent (>= next_pn): the agent rejects such a packet. */
START_TEST(ack_of_unsent_number_passes)
{
	struct pk p;

	pk_init(&p);
	ack(&p, 0, NEXT_PN, 0, 10, 0, NULL);
	build(&p);
	expect_passed(&p, "largest == next_pn");
	pk_init(&p);
	ack(&p, 0, NEXT_PN - 1, 0, 10, 0, NULL);
	build(&p);
	expect_consumed(&p);
}
END_TEST

START_TEST(malformed_ranges_pass)
{
	struct pk p;
	static const uint64_t gap_below_zero[] = {89, 0}; /* 90 - 89 - 2 < 0 */
	static const uint64_t len_below_zero[] = {0, 89}; /* hi 88, len 89 */
	static const uint64_t eight[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint64_t nine[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

	pk_init(&p);
	ack(&p, 0, 100, 0, 101, 0, NULL); /* first range > largest */
	build(&p);
	expect_passed(&p, "first range > largest");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 1, gap_below_zero);
	build(&p);
	expect_passed(&p, "gap below zero");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 1, len_below_zero);
	build(&p);
	expect_passed(&p, "length below zero");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 8, nine);
	build(&p);
	expect_passed(&p, "9 ranges");

	pk_init(&p);
	ack(&p, 0, 100, 0, 1, 7, eight); /* 8 ranges: the most a record holds */
	build(&p);
	expect_consumed(&p);

	pk_init(&p);
	p.f[p.n++] = 0x02;
	qv(&p, 100);
	qv(&p, 0);
	qv(&p, 2);
	qv(&p, 1);
	qv(&p, 0); /* count says 2 ranges, the frame ends after one gap */
	build(&p);
	expect_passed(&p, "truncated");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	p.n += 3;
	p.f[p.n++] = 0x07; /* not PADDING after the ACK */
	build(&p);
	expect_passed(&p, "trailing garbage");
}
END_TEST

/* The kernel never overwrites a record the agent has not read. */
START_TEST(full_ring_passes)
{
	struct pk p;

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	for (int i = 0; i < MOQ_ACK_RING; i++)
		expect_consumed(&p);
	expect_passed(&p, "ring full");
	acks_get();
	ck_assert_uint_eq(acks.head, MOQ_ACK_RING);
	acks.tail = 1; /* the agent read one */
	acks_put();
	expect_consumed(&p);
	acks_get();
	ck_assert_uint_eq(acks.head, MOQ_ACK_RING + 1);
	ck_assert_uint_eq(acks.rec[0].seq, MOQ_ACK_RING + 1);
}
END_TEST

START_TEST(not_the_profile_passes)
{
	struct pk p;

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	p.s.no_tag = 1;
	p.n += 16;
	build(&p);
	expect_passed(&p, "wrong tag");

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	p.s.first = 0x47; /* key phase */
	build(&p);
	expect_passed(&p, "header byte");
}
END_TEST

START_TEST(disabled_slot_passes)
{
	struct pk p;

	acks.enabled = 0;
	acks_put();
	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	expect_passed(&p, "disabled");
}
END_TEST

/* ngtcp2's idle timer: a packet reaches the agent at least every
 * MOQ_ACK_PASS_NS; a passed packet restarts the period. */
START_TEST(one_packet_passes_every_period)
{
	struct pk p;
	uint64_t t0;

	acks.last_pass_ns = bpf_relay_now_ns() - MOQ_ACK_PASS_NS - 1000;
	acks_put();
	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	t0 = bpf_relay_now_ns();
	expect_passed(&p, "period over");
	acks_get();
	ck_assert_uint_ge(acks.last_pass_ns, t0);
	expect_consumed(&p);
}
END_TEST

/* The agent's own period (moq_acks.pass_ms, set from the idle timeout):
 * 1 s after the last pass a packet is still consumed (the default period
 * would pass it), past 2 s it passes. */
START_TEST(agent_pass_period_replaces_the_default)
{
	struct pk p;

	acks.pass_ms = 2000;
	acks.last_pass_ns = bpf_relay_now_ns() - 1000000000ull;
	acks_put();
	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	expect_consumed(&p);
	acks_get();
	acks.last_pass_ns = bpf_relay_now_ns() - 2000000000ull - 1000;
	acks_put();
	expect_passed(&p, "agent period over");
}
END_TEST

/* A TLS slot's packets are encrypted: the agent opens them, the kernel
 * only counts them and learns L2 (a packet that would be consumed for a
 * plaintext slot passes). */
START_TEST(tls_slot_passes_and_still_learns_l2)
{
	struct moq_subscriber s;
	struct pk p;
	uint32_t slot = SLOT;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &s), 0);
	s.flags |= MOQ_SUB_F_TLS;
	memset(s.eth_dst, 0, 6);
	s.flags &= ~MOQ_SUB_F_L2_LEARNED;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	expect_passed(&p, "TLS slot");
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX), 1);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &s), 0);
	ck_assert_mem_eq(s.eth_dst, mac_sub, 6);
	ck_assert(s.flags & MOQ_SUB_F_L2_LEARNED);
}
END_TEST

/* tc/relay_ingress (one interface for both roles) does not consume. */
START_TEST(relay_ingress_does_not_consume)
{
	struct pk p;

	pk_init(&p);
	ack(&p, 0, 100, 0, 10, 0, NULL);
	build(&p);
	memset(&run, 0, sizeof(run));
	ck_assert_int_eq(bpf_relay_test_run(R.relay_ingress, p.pkt, p.len, &run), 0);
	ck_assert_uint_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bpf_acks");
	TCase *t = tcase_create("subscriber_ingress_acks");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, pure_media_ack_consumed_and_recorded);
	tcase_add_test(t, ack_ecn_records_counts);
	tcase_add_test(t, ack_of_outstanding_ngtcp2_packet_passes);
	tcase_add_test(t, guard_window_floor_and_long_range);
	tcase_add_test(t, ack_with_ping_passes);
	tcase_add_test(t, ack_ping_consumed_when_enabled);
	tcase_add_test(t, ack_of_slot_with_low_gate_passes);
	tcase_add_test(t, ack_of_unsent_number_passes);
	tcase_add_test(t, malformed_ranges_pass);
	tcase_add_test(t, full_ring_passes);
	tcase_add_test(t, not_the_profile_passes);
	tcase_add_test(t, disabled_slot_passes);
	tcase_add_test(t, one_packet_passes_every_period);
	tcase_add_test(t, agent_pass_period_replaces_the_default);
	tcase_add_test(t, relay_ingress_does_not_consume);
	tcase_add_test(t, tls_slot_passes_and_still_learns_l2);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	/* one load for every test: setup puts the maps back (bpf_relay.h) */
	bpf_relay_load_kept(&R, NULL, NULL);
	return bpf_relay_run_suite(suite(), &R);
}
