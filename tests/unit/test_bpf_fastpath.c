/* Fast-path BPF programs (tc-progs/relay.bpf.c) through
 * bpf_prog_test_run_opts: packet fixture + map state -> verdict, output
 * bytes, map changes and the stats reason. Needs root (BPF); runs in a
 * private network namespace so clones only reach its own loopback. */
#include <check.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/bpf_pkt.h"
#include "lib/bpf_relay.h"
#include "lib/fp_mapwrite.h"
#include "lib/fp_names.h"
#include "lib/fp_sentlog.h"
#include "moq_maps.h"

#define RELAY_PORT 4443
#define UP_CONN 7
#define UP_CONN6 8
#define SLOT 3
#define SLOT6 4
#define ALIAS 5
#define DOWN_ALIAS 9
#define UP_SID 2	 /* client-initiated uni stream 0 */
#define MOQ_TEST_ACKS 17 /* one more than the frame walk allows */

static struct bpf_relay R;
static const uint8_t up_cid[8] = {0xa1, 1, 2, 3, 4, 5, 6, 7};
static const uint8_t up_cid6[8] = {0xa2, 1, 2, 3, 4, 5, 6, 7};
static const uint8_t sub_dcid[8] = {0xb3, 0xb3, 0xb3, 0xb3, 9, 9, 9, 9};
static const uint8_t sub_scid[8] = {0xc3, 0xc3, 0xc3, 0xc3, 8, 8, 8, 8};
static const uint8_t pub_ip[4] = {10, 0, 0, 1}, relay_ip[4] = {10, 0, 0, 254};
static const uint8_t relay_ip_s[4] = {10, 1, 0, 254}, sub_ip[4] = {10, 1, 0, 3};
static const uint8_t pub_ip6[16] = {0xfd, 0, [15] = 1};
static const uint8_t relay_ip6[16] = {0xfd, 0, [15] = 0xfe};
static const uint8_t relay_ip6_s[16] = {0xfd, 1, [15] = 0xfe};
static const uint8_t sub_ip6[16] = {0xfd, 1, [15] = 3};
static const uint8_t mac_pub[6] = {2, 0, 0, 0, 0, 1}, mac_relay[6] = {2, 0, 0, 0, 0, 0xfe};
static const uint8_t mac_relay_s[6] = {2, 0, 0, 0, 1, 0xfe}, mac_sub[6] = {2, 0, 0, 0, 1, 3};

#define mfd(name) bpf_relay_mfd(&R, name)

/* The agent's writers (agent/lib/fp_mapwrite) on the loaded object's maps:
 * they bump the slot's clone-cache generations around every write of its
 * subscriptions, down streams and stream credit, as the agent does. */
static struct fp_maps *agent(void)
{
	static struct fp_maps m;
	static int ready;

	if (!ready) {
		size_t len = (size_t)MOQ_MAX_SUBSCRIBERS * MOQ_CLONE_CACHE_WAYS *
			     sizeof(struct moq_clone_cache);

		for (int i = 0; i < FP_MAP_MAX; i++)
			m.fd[i] = -1;
		m.fd[FP_MAP_SUBSCRIBERS] = mfd("moq_subscribers");
		m.fd[FP_MAP_SUBSCRIPTIONS] = mfd("moq_subscriptions");
		m.fd[FP_MAP_DOWN_STREAMS] = mfd("moq_down_streams");
		m.fd[FP_MAP_STREAM_CREDIT] = mfd("moq_stream_credit");
		m.fd[FP_MAP_CLONE_CACHE] = mfd("moq_clone_cache");
		m.cc = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd[FP_MAP_CLONE_CACHE],
			    0);
		ck_assert(m.cc != MAP_FAILED);
		m.cc_len = len;
		m.lock_fd = -1;
		ready = 1;
	}
	return &m;
}

static void set_config(uint64_t hb, uint64_t timeout, uint32_t gen, uint32_t flags)
{
	struct moq_config c = {.layout_version = MOQ_MAPS_LAYOUT_VERSION,
			       .flags = flags,
			       .heartbeat_ns = hb,
			       .heartbeat_timeout_ns = timeout,
			       .generation = gen,
			       .relay_port_be = htons(RELAY_PORT)};
	uint32_t k = 0;

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_config"), &k, &c, 0), 0);
}

static void add_sub(uint32_t slot, int family)
{
	struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE,
				   .generation = 1,
				   .ifindex = 1,
				   .family = family == 6 ? MOQ_AF_INET6 : MOQ_AF_INET,
				   .sport_be = htons(RELAY_PORT),
				   .dport_be = htons(6000 + slot)};

	memcpy(s.eth_src, mac_relay_s, 6);
	memcpy(s.eth_dst, mac_sub, 6);
	if (family == 6) {
		memcpy(s.saddr, relay_ip6_s, 16);
		memcpy(s.daddr, sub_ip6, 16);
	} else {
		memcpy(s.saddr, relay_ip_s, 4);
		memcpy(s.daddr, sub_ip, 4);
	}
	memcpy(s.dcid, sub_dcid, 8);
	memcpy(s.scid, sub_scid, 8);
	s.scid[7] = (uint8_t)slot; /* one relay-side CID per slot */
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_sub_by_cid"), s.scid, &slot, 0), 0);
}

static void add_track_from(uint32_t conn, uint64_t alias, const uint32_t *slots, uint32_t n,
			   uint64_t down_alias, uint64_t start_group);

static void add_track(uint32_t conn, uint64_t alias, const uint32_t *slots, uint32_t n,
		      uint64_t down_alias)
{
	add_track_from(conn, alias, slots, n, down_alias, 0);
}

/* The same with the subscriptions' filter starting at start_group. */
static void add_track_from(uint32_t conn, uint64_t alias, const uint32_t *slots, uint32_t n,
			   uint64_t down_alias, uint64_t start_group)
{
	static struct moq_track_subs t;
	struct moq_track_key k = {.conn_id = conn, .track_alias = alias};

	memset(&t, 0, sizeof(t));
	t.count = n;
	t.default_priority = 64;
	for (uint32_t i = 0; i < n; i++) {
		struct moq_subscription_key bk = {
		    .slot = slots[i], .conn_id = conn, .track_alias = alias};
		struct moq_subscription b = {.track_alias = down_alias, .start_group = start_group};

		t.slots[i] = slots[i];
		ck_assert_int_eq(fp_maps_put_subscription(agent(), &bk, &b), 0);
	}
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_tracks"), &k, &t, 0), 0);
}

/* An empty packet-number window for an upstream connection (the agent
 * writes one when it registers the connection). */
static void pn_window_reset(uint32_t conn)
{
	struct moq_pn_window w = {.generation = 1};

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_pn_windows"), &conn, &w, 0), 0);
}

/* Each fixture packet gets the next packet number: the ingress program
 * clones a number only once. */
static uint32_t fx_pn;

static void setup(void)
{
	struct moq_upstream u = {
	    .conn_id = UP_CONN, .generation = 1, .family = MOQ_AF_INET, .sport_be = htons(5000)};
	struct moq_upstream u6 = {
	    .conn_id = UP_CONN6, .generation = 1, .family = MOQ_AF_INET6, .sport_be = htons(5000)};
	uint32_t s4 = SLOT, s6 = SLOT6;

	/* main loaded the object once; this empties its maps again */
	ck_assert_int_eq(bpf_relay_restore(&R), 0);
	set_config(bpf_relay_now_ns(), 10ull * 1000000000ull, 1, MOQ_CFG_F_ENABLED);
	memcpy(u.saddr, pub_ip, 4);
	memcpy(u6.saddr, pub_ip6, 16);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_upstreams"), up_cid, &u, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_upstreams"), up_cid6, &u6, 0), 0);
	pn_window_reset(UP_CONN);
	pn_window_reset(UP_CONN6);
	fx_pn = 0x01020304;
	add_sub(SLOT, 4);
	add_sub(SLOT6, 6);
	add_track(UP_CONN, ALIAS, &s4, 1, DOWN_ALIAS);
	add_track(UP_CONN6, ALIAS, &s6, 1, DOWN_ALIAS);
}

/* ---- fixtures ------------------------------------------------------------ */

struct fx {
	struct bpf_pkt_spec s;
	uint8_t frames[1600];
	uint8_t pkt[2048];
	size_t len;
};

/* Publisher -> relay, IPv4 unless family 6. */
static void fx_up(struct fx *f, int family)
{
	memset(f, 0, sizeof(*f));
	f->s.family = family;
	memcpy(f->s.eth_src, mac_pub, 6);
	memcpy(f->s.eth_dst, mac_relay, 6);
	if (family == 6) {
		memcpy(f->s.saddr, pub_ip6, 16);
		memcpy(f->s.daddr, relay_ip6, 16);
		memcpy(f->s.dcid, up_cid6, 8);
	} else {
		memcpy(f->s.saddr, pub_ip, 4);
		memcpy(f->s.daddr, relay_ip, 4);
		memcpy(f->s.dcid, up_cid, 8);
	}
	f->s.sport = 5000;
	f->s.dport = RELAY_PORT;
	f->s.pn = fx_pn++;
	f->s.frames = f->frames;
}

/* The subscriber's view of the same packet (expected egress output). */
static void fx_down(struct fx *f, int family, uint32_t slot, uint32_t pn)
{
	fx_up(f, family);
	memcpy(f->s.eth_src, mac_relay_s, 6);
	memcpy(f->s.eth_dst, mac_sub, 6);
	if (family == 6) {
		memcpy(f->s.saddr, relay_ip6_s, 16);
		memcpy(f->s.daddr, sub_ip6, 16);
	} else {
		memcpy(f->s.saddr, relay_ip_s, 4);
		memcpy(f->s.daddr, sub_ip, 4);
	}
	memcpy(f->s.dcid, sub_dcid, 8);
	f->s.sport = RELAY_PORT;
	f->s.dport = (uint16_t)(6000 + slot);
	f->s.pn = pn;
}

static void fx_build(struct fx *f, size_t frames_len)
{
	f->s.frames_len = frames_len;
	f->len = bpf_pkt_build(f->pkt, sizeof(f->pkt), &f->s);
	ck_assert_uint_gt(f->len, 0);
}

static const uint8_t payload[4] = {'m', 'e', 'd', 'a'};

/* [prefix] STREAM(sid, offset 0, to end of packet) SUBGROUP_HEADER + one
 * object. Returns frames length. */
static size_t frames_stream0(uint8_t *b, size_t pos, uint64_t sid, uint64_t alias)
{
	pos = bpf_frame_stream_hdr(b, pos, 0, sid, 0, 0);
	pos = bpf_frame_subgroup(b, pos, 0x14, alias, 11, 2, 32);
	pos = bpf_frame_vi(b, pos, 0, 0); /* object id delta */
	pos = bpf_frame_vi(b, pos, sizeof(payload), 0);
	memcpy(b + pos, payload, sizeof(payload));
	return pos + sizeof(payload);
}

/* STREAM(sid, offset, LEN) with 40 data bytes, then 3 bytes of PADDING. */
static size_t frames_stream_later(uint8_t *b, size_t pos, uint64_t sid, uint64_t off)
{
	pos = bpf_frame_stream_hdr(b, pos, 6, sid, off, 40);
	memset(b + pos, 0x5a, 40);
	pos += 40;
	memset(b + pos, 0, 3);
	return pos + 3;
}

/* DATAGRAM (0x30) with OBJECT_DATAGRAM type 0x00: alias, group, object,
 * priority, payload. */
static size_t frames_datagram(uint8_t *b, size_t pos, uint64_t alias)
{
	b[pos++] = 0x30;
	pos = bpf_frame_vi(b, pos, 0x00, 0);
	pos = bpf_frame_vi(b, pos, alias, 0);
	pos = bpf_frame_vi(b, pos, 12, 0);
	pos = bpf_frame_vi(b, pos, 3, 0);
	b[pos++] = 16;
	memcpy(b + pos, payload, sizeof(payload));
	return pos + sizeof(payload);
}

/* ---- run helpers ------------------------------------------------------- */

static struct bpf_relay_run run;

static void run_prog(int fd, const uint8_t *pkt, size_t len, uint32_t mark)
{
	memset(&run, 0, sizeof(run));
	run.mark_in = mark;
	ck_assert_int_eq(bpf_relay_test_run(fd, pkt, len, &run), 0);
}

/* Ingress must never change the original. name: the fixture, for the
 * failure message. */
static void ingress_expect_named(struct fx *f, uint32_t reason, const char *name)
{
	uint64_t before = bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, reason);

	run_prog(R.upstream_ingress, f->pkt, f->len, 0x77);
	ck_assert_msg(run.retval == TC_ACT_OK, "%s: verdict %u", name, run.retval);
	ck_assert_msg(run.out_len == f->len, "%s: length %u, sent %zu", name, run.out_len, f->len);
	ck_assert_msg(!memcmp(run.out, f->pkt, f->len), "%s: the original was changed", name);
	ck_assert_msg(run.mark_out == 0x77, "%s: mark 0x%x", name, run.mark_out);
	ck_assert_msg(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, reason) == before + 1,
		      "%s: reason %s not counted", name, fp_reason_name(reason));
}

static void ingress_expect(struct fx *f, uint32_t reason)
{
	ingress_expect_named(f, reason, "packet");
}

static void egress_expect_drop(struct fx *f, uint32_t slot, uint32_t reason)
{
	uint64_t before = bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, reason);

	run_prog(R.subscriber_egress, f->pkt, f->len, MOQ_MARK_MAGIC | slot);
	ck_assert_int_eq(run.retval, TC_ACT_SHOT);
	ck_assert_msg(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, reason) == before + 1,
		      "egress reason %u not counted", reason);
}

static void egress_expect_output(struct fx *in, uint32_t slot, const struct fx *want)
{
	run_prog(R.subscriber_egress, in->pkt, in->len, MOQ_MARK_MAGIC | slot);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(run.mark_out, 0);
	ck_assert_uint_eq(run.out_len, want->len);
	ck_assert_msg(bpf_pkt_csum_ok(run.out, run.out_len), "bad checksum");
	if (memcmp(run.out, want->pkt, want->len)) {
		for (size_t i = 0; i < want->len; i++)
			if (run.out[i] != want->pkt[i])
				fprintf(stderr, "byte %zu: got %02x want %02x\n", i, run.out[i],
					want->pkt[i]);
	}
	ck_assert_mem_eq(run.out, want->pkt, want->len);
}

static int up_stream_seen(uint32_t conn, uint64_t sid, struct moq_up_stream *st)
{
	struct moq_up_stream_key k = {.conn_id = conn, .stream_id = sid};

	return bpf_map_lookup_elem(mfd("moq_up_streams"), &k, st) == 0;
}

/* ---- upstream ingress: eligible ------------------------------------------ */

START_TEST(ingress_stream_offset0_fans_out_and_records_stream)
{
	struct fx f;
	struct moq_up_stream st;

	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
	ck_assert(up_stream_seen(UP_CONN, UP_SID, &st));
	ck_assert_uint_eq(st.track_alias, ALIAS);
	ck_assert_uint_eq(st.group, 11);
	ck_assert_uint_eq(st.subgroup, 2);
	ck_assert_uint_eq(st.priority, 32);
	ck_assert_uint_eq(st.hdr_type, 0x14);
	ck_assert_uint_eq(st.hdr_len, 5);
}
END_TEST

/* Issue 17 finding 2c: a stream's state is made once. The start seen
 * again with the same header (a retransmission) is forwarded; a start
 * with another header for a live stream id (injected) is not cloned and
 * leaves the state as it was. */
START_TEST(ingress_stream_state_never_overwritten)
{
	struct fx f;
	struct moq_up_stream st;
	size_t pos;

	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
	/* same stream id, group 99 instead of 11 */
	fx_up(&f, 4);
	pos = bpf_frame_stream_hdr(f.frames, 0, 0, UP_SID, 0, 0);
	pos = bpf_frame_subgroup(f.frames, pos, 0x14, ALIAS, 99, 2, 32);
	pos = bpf_frame_vi(f.frames, pos, 0, 0);
	pos = bpf_frame_vi(f.frames, pos, sizeof(payload), 0);
	memcpy(f.frames + pos, payload, sizeof(payload));
	fx_build(&f, pos + sizeof(payload));
	ingress_expect(&f, MOQ_R_HEADER_MISMATCH);
	ck_assert(up_stream_seen(UP_CONN, UP_SID, &st));
	ck_assert_uint_eq(st.group, 11);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FORWARDED), 2);
}
END_TEST

/* Issue 17 finding 2d: with the relay's address registered for the
 * publisher, a packet to another address (a host behind the same link)
 * is not cloned; to the relay's address it is. */
START_TEST(ingress_checks_the_destination_address)
{
	struct moq_upstream u = {.conn_id = UP_CONN,
				 .generation = 1,
				 .family = MOQ_AF_INET,
				 .flags = MOQ_UP_F_DADDR,
				 .sport_be = htons(5000)};
	struct fx f;

	memcpy(u.saddr, pub_ip, 4);
	memcpy(u.daddr, relay_ip, 4);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_upstreams"), up_cid, &u, 0), 0);
	fx_up(&f, 4);
	f.s.daddr[3] ^= 0x40;
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_WRONG_DEST);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

START_TEST(ingress_stream_later_packet_fans_out_after_start)
{
	struct fx f0, f1;

	fx_up(&f0, 4);
	fx_build(&f0, frames_stream0(f0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f0, MOQ_R_FORWARDED);
	fx_up(&f1, 4);
	fx_build(&f1, frames_stream_later(f1.frames, 0, UP_SID, 12));
	ingress_expect(&f1, MOQ_R_FORWARDED);
}
END_TEST

START_TEST(ingress_stream_later_packet_without_start_is_ineligible)
{
	struct fx f;

	fx_up(&f, 4);
	fx_build(&f, frames_stream_later(f.frames, 0, UP_SID + 4, 12));
	ingress_expect(&f, MOQ_R_STREAM_START_UNSEEN);
}
END_TEST

START_TEST(ingress_datagram_fans_out)
{
	struct fx f;

	fx_up(&f, 4);
	fx_build(&f, frames_datagram(f.frames, 0, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

/* DATAGRAM with a Length field (0x31), then PADDING: eligible; then
 * anything but PADDING after it: not. */
START_TEST(ingress_datagram_with_length_then_padding)
{
	struct fx f;
	size_t n = 0, start;

	fx_up(&f, 4);
	f.frames[n++] = 0x31;
	n = bpf_frame_qv(f.frames, n, 8, 1);
	start = n;
	n = bpf_frame_vi(f.frames, n, 0x04, 0); /* no object id */
	n = bpf_frame_vi(f.frames, n, ALIAS, 0);
	n = bpf_frame_vi(f.frames, n, 12, 0);
	f.frames[n++] = 16;
	memcpy(f.frames + n, payload, 4);
	n += 4;
	ck_assert_uint_eq(n - start, 8);
	memset(f.frames + n, 0, 10);
	if (_i)
		f.frames[n + 9] = 0x01; /* PING after the padding */
	fx_build(&f, n + 10);
	ingress_expect(&f, _i ? MOQ_R_TRAILING_FRAME : MOQ_R_FORWARDED);
}
END_TEST

START_TEST(ingress_ack_and_padding_before_stream_fan_out)
{
	struct fx f;
	size_t n;

	fx_up(&f, 4);
	f.frames[0] = 0;
	n = bpf_frame_ack(f.frames, 1, 3, _i);
	f.frames[n++] = 0;
	fx_build(&f, frames_stream0(f.frames, n, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

START_TEST(ingress_ipv6_fans_out)
{
	struct fx f;

	fx_up(&f, 6);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

START_TEST(ingress_vlan_tagged_fans_out)
{
	struct fx f;

	fx_up(&f, 4);
	f.s.vlan = 1;
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

START_TEST(ingress_subgroup_default_priority_comes_from_track)
{
	struct fx f;
	struct moq_up_stream st;
	size_t n;

	fx_up(&f, 4);
	n = bpf_frame_stream_hdr(f.frames, 0, 0, UP_SID, 0, 0);
	n = bpf_frame_subgroup(f.frames, n, 0x30, ALIAS, 1, 0, 0);
	f.frames[n++] = 0;
	f.frames[n++] = 1;
	f.frames[n++] = 'x';
	fx_build(&f, n);
	ingress_expect(&f, MOQ_R_FORWARDED);
	ck_assert(up_stream_seen(UP_CONN, UP_SID, &st));
	ck_assert_uint_eq(st.priority, 64);
	ck_assert_uint_eq(st.subgroup, 0);
}
END_TEST

START_TEST(ingress_subgroup_id_from_first_object_mode)
{
	struct fx f;
	struct moq_up_stream st;
	size_t n;

	fx_up(&f, 4);
	n = bpf_frame_stream_hdr(f.frames, 0, 0, UP_SID, 0, 0);
	n = bpf_frame_subgroup(f.frames, n, 0x12, ALIAS, 1, 0, 7);
	n = bpf_frame_vi(f.frames, n, 300, 0); /* first object id */
	f.frames[n++] = 1;
	f.frames[n++] = 'x';
	fx_build(&f, n);
	ingress_expect(&f, MOQ_R_FORWARDED);
	ck_assert(up_stream_seen(UP_CONN, UP_SID, &st));
	ck_assert_uint_eq(st.subgroup, 300);
}
END_TEST

/* ---- upstream ingress: packet numbers (issue 17, finding 2a) ------------- */

/* A datagram packet of the upstream with packet number pn. */
static void fx_pn_datagram(struct fx *f, uint32_t pn, uint64_t alias)
{
	fx_up(f, 4);
	f->s.pn = pn;
	fx_build(f, frames_datagram(f->frames, 0, alias));
}

static struct moq_pn_window pn_window_get(uint32_t conn)
{
	struct moq_pn_window w;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_pn_windows"), &conn, &w), 0);
	return w;
}

START_TEST(ingress_same_pn_twice_cloned_once)
{
	struct fx f;

	fx_pn_datagram(&f, 500, ALIAS);
	ingress_expect(&f, MOQ_R_FORWARDED);
	ingress_expect(&f, MOQ_R_PN_DUPLICATE); /* the same bytes replayed */
	/* other bytes under the same number: ngtcp2 discards them too */
	fx_up(&f, 4);
	f.s.pn = 500;
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_PN_DUPLICATE);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FORWARDED), 1);
	/* a duplicate offset-0 packet created no stream state */
	{
		struct moq_up_stream st;

		ck_assert(!up_stream_seen(UP_CONN, UP_SID, &st));
	}
	fx_pn_datagram(&f, 501, ALIAS);
	ingress_expect(&f, MOQ_R_FORWARDED);
	ck_assert_uint_eq(pn_window_get(UP_CONN).next, 502);
}
END_TEST

START_TEST(ingress_pn_below_the_window_not_cloned)
{
	struct fx f;

	/* 1023 ends a 32-number block: the window is exactly 768..1023 */
	fx_pn_datagram(&f, 1023, ALIAS);
	ingress_expect(&f, MOQ_R_FORWARDED);
	/* never seen, but below the window */
	fx_pn_datagram(&f, 1024 - MOQ_PN_WINDOW - 1, ALIAS);
	ingress_expect(&f, MOQ_R_PN_DUPLICATE);
	fx_pn_datagram(&f, 3, ALIAS);
	ingress_expect(&f, MOQ_R_PN_DUPLICATE);
	/* reordered within the window: new */
	fx_pn_datagram(&f, 1024 - MOQ_PN_WINDOW, ALIAS);
	ingress_expect(&f, MOQ_R_FORWARDED);
	fx_pn_datagram(&f, 1000, ALIAS);
	ingress_expect(&f, MOQ_R_FORWARDED);
	fx_pn_datagram(&f, 1000, ALIAS);
	ingress_expect(&f, MOQ_R_PN_DUPLICATE);
	/* a jump ahead reuses the slots; what they held is now too old */
	fx_pn_datagram(&f, 1023 + 4 * MOQ_PN_WINDOW, ALIAS);
	ingress_expect(&f, MOQ_R_FORWARDED);
	fx_pn_datagram(&f, 1001, ALIAS);
	ingress_expect(&f, MOQ_R_PN_DUPLICATE);
	ck_assert_uint_eq(pn_window_get(UP_CONN).next, 1024 + 4 * MOQ_PN_WINDOW);
}
END_TEST

START_TEST(ingress_pn_wraps_the_32_bit_field)
{
	static const uint32_t wire[] = {0xfffffffeu, 0xffffffffu, 0, 1};
	struct fx f;

	for (size_t i = 0; i < 4; i++) {
		fx_pn_datagram(&f, wire[i], ALIAS);
		ingress_expect(&f, MOQ_R_FORWARDED);
	}
	/* full numbers 2^32 - 2 .. 2^32 + 1 */
	ck_assert_uint_eq(pn_window_get(UP_CONN).next, (1ull << 32) + 2);
	for (size_t i = 0; i < 4; i++) {
		fx_pn_datagram(&f, wire[i], ALIAS);
		ingress_expect(&f, MOQ_R_PN_DUPLICATE);
	}
	fx_pn_datagram(&f, 2, ALIAS);
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

START_TEST(ingress_non_media_packet_marks_its_pn)
{
	struct fx f;

	/* a control packet (MAX_DATA before the media frame: not cloned) */
	fx_up(&f, 4);
	f.s.pn = 77;
	f.frames[0] = 0x10;
	f.frames[1] = 0x01;
	fx_build(&f, frames_stream0(f.frames, 2, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_BAD_FRAME);
	/* replayed as media under its number */
	fx_pn_datagram(&f, 77, ALIAS);
	ingress_expect(&f, MOQ_R_PN_DUPLICATE);
}
END_TEST

START_TEST(ingress_without_a_pn_window_not_cloned)
{
	struct fx f;
	uint32_t conn = UP_CONN;
	struct moq_pn_window w = {.generation = 2};

	ck_assert_int_eq(bpf_map_delete_elem(mfd("moq_pn_windows"), &conn), 0);
	fx_pn_datagram(&f, 5, ALIAS);
	ingress_expect(&f, MOQ_R_UNKNOWN_DCID);
	/* an earlier agent run's window */
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_pn_windows"), &conn, &w, 0), 0);
	ingress_expect(&f, MOQ_R_UNKNOWN_DCID);
	pn_window_reset(UP_CONN);
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

/* Two CPUs classify the same packets at once: each number passes once. */
#define PN_RACE 3000
struct pn_race {
	const struct fx *pkts;
	uint32_t passed;
	cpu_set_t cpu;
};

static void *pn_race_run(void *arg)
{
	struct pn_race *r = arg;
	struct bpf_relay_run rr;

	sched_setaffinity(0, sizeof(r->cpu), &r->cpu);
	for (uint32_t i = 0; i < PN_RACE; i++) {
		memset(&rr, 0, sizeof(rr));
		if (bpf_relay_test_run(R.upstream_ingress, r->pkts[i].pkt, r->pkts[i].len, &rr))
			return NULL;
	}
	return NULL;
}

START_TEST(ingress_pn_race_between_cpus_passes_each_once)
{
	static struct fx pkts[PN_RACE];
	struct pn_race r[2];
	pthread_t t[2];
	uint64_t nosub, dup;

	for (uint32_t i = 0; i < PN_RACE; i++) /* alias without subscribers */
		fx_pn_datagram(&pkts[i], i, ALIAS + 1);
	for (int i = 0; i < 2; i++) {
		r[i].pkts = pkts;
		CPU_ZERO(&r[i].cpu);
		CPU_SET(i % (int)sysconf(_SC_NPROCESSORS_ONLN), &r[i].cpu);
		ck_assert_int_eq(pthread_create(&t[i], NULL, pn_race_run, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	nosub = bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_NO_SUBSCRIBERS);
	dup = bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_PN_DUPLICATE);
	ck_assert_uint_eq(nosub, PN_RACE);
	ck_assert_uint_eq(dup, PN_RACE);
}
END_TEST

/* ---- upstream ingress: ineligible, untouched, counted ------------------- */

/* Katran-style fixture table: each row is the eligible IPv4 stream-start
 * packet (fx_up + frames_stream0) with one thing changed, and the reason
 * the upstream ingress program must count for it while passing the
 * original on unchanged. A builder gets the row's arg. */
struct untouched_fixture {
	const char *name;
	void (*build)(struct fx *f, int arg);
	int arg;
	uint32_t reason;
};

static void ux_stream0(struct fx *f)
{
	fx_build(f, frames_stream0(f->frames, 0, UP_SID, ALIAS));
}

static void ux_first_byte(struct fx *f, int first)
{
	f->s.first = (uint8_t)first;
	ux_stream0(f);
}

/* 1- or 2-byte packet number, as the first byte says */
static void ux_pn_len(struct fx *f, int len)
{
	f->s.pn_len = len;
	f->s.first = (uint8_t)(0x40 | (len - 1));
	ux_stream0(f);
}

static void ux_no_tag(struct fx *f, int unused)
{
	size_t n = frames_stream0(f->frames, 0, UP_SID, ALIAS);

	f->s.no_tag = 1;
	memset(f->frames + n, 0, 32); /* long enough to hold a tag */
	fx_build(f, n + 32);
}

static void ux_dcid_flip(struct fx *f, int unused)
{
	f->s.dcid[7] ^= 0xff;
	ux_stream0(f);
}

static void ux_saddr_last(struct fx *f, int last)
{
	f->s.saddr[3] = (uint8_t)last;
	ux_stream0(f);
}

static void ux_sport(struct fx *f, int port)
{
	f->s.sport = (uint16_t)port;
	ux_stream0(f);
}

static void ux_dport(struct fx *f, int port)
{
	f->s.dport = (uint16_t)port;
	ux_stream0(f);
}

static void ux_two_stream_frames(struct fx *f, int unused)
{
	size_t n = bpf_frame_stream_hdr(f->frames, 0, 2, UP_SID, 0, 6);

	n = bpf_frame_subgroup(f->frames, n, 0x10, ALIAS, 1, 0, 0);
	f->frames[n++] = 0;
	f->frames[n++] = 1;
	f->frames[n++] = 'x';
	f->frames[n++] = 0; /* pad to the declared 6 */
	n = frames_stream_later(f->frames, n, UP_SID + 4, 0);
	fx_build(f, n);
}

static void ux_stream_id(struct fx *f, int sid)
{
	fx_build(f, frames_stream0(f->frames, 0, (uint64_t)sid, ALIAS));
}

static void ux_short_stream_id(struct fx *f, int unused)
{
	size_t n = 0;

	f->frames[n++] = 0x08;
	f->frames[n++] = UP_SID; /* 1-byte varint */
	n = bpf_frame_subgroup(f->frames, n, 0x10, ALIAS, 1, 0, 0);
	f->frames[n++] = 0;
	f->frames[n++] = 0;
	fx_build(f, n);
}

static void ux_frame_before(struct fx *f, int type)
{
	f->frames[0] = (uint8_t)type;
	fx_build(f, frames_stream0(f->frames, 1, UP_SID, ALIAS));
}

static void ux_only_padding(struct fx *f, int len)
{
	fx_build(f, (size_t)len);
}

static void ux_acks_before(struct fx *f, int count)
{
	size_t n = 0;

	for (int i = 0; i < count; i++)
		n = bpf_frame_ack(f->frames, n, 0, 0);
	fx_build(f, frames_stream0(f->frames, n, UP_SID, ALIAS));
}

static void ux_ack_ranges(struct fx *f, int ranges)
{
	size_t n = bpf_frame_ack(f->frames, 0, ranges, 0);

	fx_build(f, frames_stream0(f->frames, n, UP_SID, ALIAS));
}

/* A STREAM offset varint whose 8-byte encoding runs into the tag. */
static void ux_varint_past_frames(struct fx *f, int unused)
{
	size_t n = 0;

	f->frames[n++] = 0x0c; /* OFF */
	n = bpf_frame_qv(f->frames, n, UP_SID, 4);
	f->frames[n++] = 0xc0; /* 8-byte varint, 3 bytes left */
	f->frames[n++] = 0;
	f->frames[n++] = 0;
	fx_build(f, n);
}

/* The SUBGROUP_HEADER alias is a 9-byte vi64 but only 4 bytes remain. */
static void ux_vi64_past_stream_data(struct fx *f, int unused)
{
	size_t n = bpf_frame_stream_hdr(f->frames, 0, 2, UP_SID, 0, 5);

	f->frames[n++] = 0x10;
	f->frames[n++] = 0xff;
	memset(f->frames + n, 1, 3);
	n += 3;
	memset(f->frames + n, 0, 12); /* PADDING (not stream data) */
	fx_build(f, n + 12);
}

/* 0x80 0x05 would be the 2-byte vi64 for type 5 */
static void ux_subgroup_type(struct fx *f, int type)
{
	size_t n = bpf_frame_stream_hdr(f->frames, 0, 0, UP_SID, 0, 0);

	f->frames[n++] = (uint8_t)type;
	f->frames[n++] = ALIAS;
	f->frames[n++] = 1;
	f->frames[n++] = 2;
	f->frames[n++] = 3;
	fx_build(f, n);
}

static void ux_datagram_type(struct fx *f, int type)
{
	size_t n = 0;

	f->frames[n++] = 0x30;
	f->frames[n++] = (uint8_t)type;
	f->frames[n++] = ALIAS;
	f->frames[n++] = 1;
	f->frames[n++] = 2;
	f->frames[n++] = 3;
	fx_build(f, n);
}

/* SUBGROUP_HEADER cut after `cut` bytes (the frame length says so; padding
 * follows): the header is not in this packet. */
static void ux_subgroup_cut(struct fx *f, int cut)
{
	uint8_t hdr[16];
	size_t h = bpf_frame_subgroup(hdr, 0, 0x14, ALIAS, 11, 2, 32), n;

	ck_assert_uint_eq(h, 5);
	n = bpf_frame_stream_hdr(f->frames, 0, 2, UP_SID, 0, (uint64_t)cut);
	memcpy(f->frames + n, hdr, (size_t)cut);
	n += (size_t)cut;
	memset(f->frames + n, 0, 8);
	fx_build(f, n + 8);
}

/* The packet cut at a header boundary (lengths in the headers still claim
 * the full packet): arg = bytes kept after the IP header, IPv6 when
 * arg >= 1000 (arg - 1000 then). bpf_prog_test_run refuses (EINVAL) an
 * IPv4 packet shorter than its IP header, so cuts start after it. */
static void ux_cut_after_ip(struct fx *f, int arg)
{
	int family = arg >= 1000 ? 6 : 4;

	fx_up(f, family);
	ux_stream0(f);
	f->len = 14 + (family == 4 ? 20 : 40) + (size_t)(arg % 1000);
}

static void ux_ethertype(struct fx *f, int type)
{
	ux_stream0(f);
	f->pkt[12] = (uint8_t)(type >> 8);
	f->pkt[13] = (uint8_t)type;
}

static void ux_alias(struct fx *f, int alias)
{
	fx_build(f, frames_stream0(f->frames, 0, UP_SID, (uint64_t)alias));
}

#define UX(fn, a, r) ((struct untouched_fixture){#fn "(" #a ")", fn, a, r})
static const struct untouched_fixture untouched[] = {
    UX(ux_first_byte, 0xc3, MOQ_R_LONG_HEADER),
    UX(ux_first_byte, 0x03, MOQ_R_NOT_PLAINTEXT), /* fixed bit clear */
    UX(ux_first_byte, 0x47, MOQ_R_HEADER_BITS),	  /* key phase */
    UX(ux_first_byte, 0x63, MOQ_R_HEADER_BITS),	  /* spin */
    UX(ux_first_byte, 0x4b, MOQ_R_HEADER_BITS),	  /* reserved */
    UX(ux_no_tag, 0, MOQ_R_NOT_PLAINTEXT),
    UX(ux_dcid_flip, 0, MOQ_R_UNKNOWN_DCID),
    UX(ux_saddr_last, 2, MOQ_R_WRONG_SOURCE),
    UX(ux_sport, 5001, MOQ_R_WRONG_SOURCE),
    UX(ux_dport, RELAY_PORT + 1, MOQ_R_WRONG_PORT),
    UX(ux_pn_len, 1, MOQ_R_PN_LEN),
    UX(ux_pn_len, 2, MOQ_R_PN_LEN),
    UX(ux_two_stream_frames, 0, MOQ_R_TRAILING_FRAME),
    UX(ux_stream_id, 0, MOQ_R_NOT_CLIENT_UNI), /* client bidi */
    UX(ux_stream_id, 3, MOQ_R_NOT_CLIENT_UNI), /* server uni */
    UX(ux_short_stream_id, 0, MOQ_R_STREAM_ID_WIDTH),
    UX(ux_frame_before, 0x01, MOQ_R_BAD_FRAME), /* PING */
    UX(ux_only_padding, 20, MOQ_R_NO_MEDIA_FRAME),
    UX(ux_ack_ranges, 17, MOQ_R_ACK_RANGES),
    UX(ux_acks_before, MOQ_TEST_ACKS, MOQ_R_TOO_MANY_FRAMES),
    UX(ux_varint_past_frames, 0, MOQ_R_BAD_VARINT),
    UX(ux_vi64_past_stream_data, 0, MOQ_R_BAD_VARINT),
    UX(ux_subgroup_type, 0x16, MOQ_R_BAD_SUBGROUP_HEADER),
    UX(ux_subgroup_type, 0x0f, MOQ_R_BAD_SUBGROUP_HEADER),
    UX(ux_subgroup_type, 0x20, MOQ_R_BAD_SUBGROUP_HEADER),
    UX(ux_subgroup_type, 0x80, MOQ_R_BAD_SUBGROUP_HEADER),
    UX(ux_datagram_type, 0x10, MOQ_R_BAD_DATAGRAM),
    UX(ux_datagram_type, 0x22, MOQ_R_BAD_DATAGRAM),
    UX(ux_datagram_type, 0x2f, MOQ_R_BAD_DATAGRAM),
    UX(ux_datagram_type, 0x40, MOQ_R_BAD_DATAGRAM),
    /* cut inside a vi64 field: varint error; before the priority byte:
     * header error */
    UX(ux_subgroup_cut, 0, MOQ_R_BAD_VARINT),
    UX(ux_subgroup_cut, 1, MOQ_R_BAD_VARINT),
    UX(ux_subgroup_cut, 2, MOQ_R_BAD_VARINT),
    UX(ux_subgroup_cut, 3, MOQ_R_BAD_VARINT),
    UX(ux_subgroup_cut, 4, MOQ_R_BAD_SUBGROUP_HEADER),
    /* after: IP, UDP header, first QUIC byte, DCID, PN, 5 frame bytes */
    UX(ux_cut_after_ip, 4, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 0, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 8, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 9, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 17, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 21, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 26, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 1004, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 1000, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 1008, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 1009, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 1017, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 1021, MOQ_R_TRUNCATED),
    UX(ux_cut_after_ip, 1026, MOQ_R_TRUNCATED),
    UX(ux_ethertype, 0x0806, MOQ_R_NOT_IP), /* ARP */
    UX(ux_alias, ALIAS + 1, MOQ_R_NO_SUBSCRIBERS),
};
#undef UX

START_TEST(ingress_ineligible_fixture_untouched)
{
	const struct untouched_fixture *u = &untouched[_i];
	struct fx f;

	fx_up(&f, 4);
	u->build(&f, u->arg);
	ingress_expect_named(&f, u->reason, u->name);
}
END_TEST

START_TEST(ingress_gro_super_packet_untouched)
{
	struct fx f;

	fx_up(&f, 4);
	fx_build(&f, frames_datagram(f.frames, 0, ALIAS));
	memset(&run, 0, sizeof(run));
	run.gso_size = 60;
	ck_assert_int_eq(bpf_relay_test_run(R.upstream_ingress, f.pkt, f.len, &run), 0);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_mem_eq(run.out, f.pkt, f.len);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_GSO), 1);
}
END_TEST

START_TEST(ingress_stale_heartbeat_untouched)
{
	struct fx f;

	set_config(bpf_relay_now_ns() - 20ull * 1000000000ull, 10ull * 1000000000ull, 1,
		   MOQ_CFG_F_ENABLED);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_STALE_AGENT);
	ck_assert(!up_stream_seen(UP_CONN, UP_SID, &(struct moq_up_stream){0}));
}
END_TEST

START_TEST(ingress_heartbeat_in_the_future_is_stale)
{
	struct fx f;

	/* an agent started in a time namespace at +100,000 s, then killed */
	set_config(bpf_relay_now_ns() + 100000ull * 1000000000ull, 10ull * 1000000000ull, 1,
		   MOQ_CFG_F_ENABLED);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_STALE_AGENT);
	ck_assert(!up_stream_seen(UP_CONN, UP_SID, &(struct moq_up_stream){0}));
}
END_TEST

START_TEST(ingress_heartbeat_just_ahead_of_the_clock_is_fresh)
{
	struct fx f;

	/* the agent read the clock a moment after the program will */
	set_config(bpf_relay_now_ns() + 1000000ull, 10ull * 1000000000ull, 1, MOQ_CFG_F_ENABLED);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
}
END_TEST

START_TEST(egress_heartbeat_in_the_future_drops_clone)
{
	struct fx in;

	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	set_config(bpf_relay_now_ns() + 100000ull * 1000000000ull, 10ull * 1000000000ull, 1,
		   MOQ_CFG_F_ENABLED);
	egress_expect_drop(&in, SLOT, MOQ_R_STALE_AGENT);
}
END_TEST

START_TEST(ingress_disabled_untouched)
{
	struct fx f;

	set_config(bpf_relay_now_ns(), 10ull * 1000000000ull, 1, 0);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_STALE_AGENT);
}
END_TEST

START_TEST(ingress_entries_of_old_generation_ignored)
{
	struct fx f;

	set_config(bpf_relay_now_ns(), 10ull * 1000000000ull, 2, MOQ_CFG_F_ENABLED);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_UNKNOWN_DCID);
}
END_TEST

START_TEST(ingress_inactive_subscriber_not_cloned)
{
	struct fx f;
	struct moq_subscriber s;
	uint32_t slot = SLOT;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &s), 0);
	s.flags = 0;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	ingress_expect(&f, MOQ_R_NO_SUBSCRIBERS);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_SUB_INACTIVE), 1);
}
END_TEST

START_TEST(subscriber_without_mac_gets_no_clone)
{
	struct fx f;
	struct moq_subscriber s;
	uint32_t slot = SLOT;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &s), 0);
	memset(s.eth_dst, 0, 6);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	fx_up(&f, 4);
	fx_build(&f, frames_datagram(f.frames, 0, ALIAS));
	ingress_expect(&f, MOQ_R_NO_SUBSCRIBERS);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_NO_L2), 1);
	egress_expect_drop(&f, SLOT, MOQ_R_NO_L2);
}
END_TEST

START_TEST(ingress_fans_out_to_2048_subscribers)
{
	static uint32_t slots[2048];
	struct fx f;

	for (uint32_t i = 0; i < 2048; i++) {
		slots[i] = 100 + i;
		add_sub(slots[i], 4);
	}
	add_track(UP_CONN, ALIAS, slots, 2048, DOWN_ALIAS);
	fx_up(&f, 4);
	fx_build(&f, frames_datagram(f.frames, 0, ALIAS));
	ingress_expect(&f, MOQ_R_FORWARDED);
	/* every clone ran on loopback (no egress program there) */
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_REDIRECT_FAILED), 0);
}
END_TEST

/* ---- subscriber egress ---------------------------------------------------- */

static void seq_set(uint32_t slot, uint64_t pn, uint64_t uni)
{
	struct moq_conn_seq s = {.next_pn = pn, .next_uni = uni};

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_conn_seq"), &slot, &s, 0), 0);
}

static struct moq_conn_seq seq_get(uint32_t slot)
{
	struct moq_conn_seq s;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_conn_seq"), &slot, &s), 0);
	return s;
}

START_TEST(egress_leaves_unmarked_packets_alone)
{
	struct fx f;

	fx_up(&f, 4);
	fx_build(&f, frames_stream0(f.frames, 0, UP_SID, ALIAS));
	run_prog(R.subscriber_egress, f.pkt, f.len, 0x1234);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(run.mark_out, 0x1234);
	ck_assert_mem_eq(run.out, f.pkt, f.len);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, MOQ_R_NOT_MARKED), 1);
}
END_TEST

START_TEST(egress_rewrites_stream_start)
{
	struct fx in, want;

	seq_set(SLOT, 1000, 0);
	fx_up(&in, 4);
	fx_build(&in, frames_stream0(in.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in, MOQ_R_FORWARDED);
	fx_down(&want, 4, SLOT, 1000);
	fx_build(&want, frames_stream0(want.frames, 0, 3, DOWN_ALIAS));
	egress_expect_output(&in, SLOT, &want);
	ck_assert_uint_eq(seq_get(SLOT).next_pn, 1001);
	ck_assert_uint_eq(seq_get(SLOT).next_uni, 1);
}
END_TEST

START_TEST(egress_later_packets_keep_stream_and_take_next_pn)
{
	struct fx in0, in1, in2, want;

	seq_set(SLOT, 50, 4);
	fx_up(&in0, 4);
	fx_build(&in0, frames_stream0(in0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in0, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in0.pkt, in0.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	fx_up(&in1, 4);
	fx_build(&in1, frames_stream_later(in1.frames, 0, UP_SID, 13));
	fx_down(&want, 4, SLOT, 51);
	fx_build(&want, frames_stream_later(want.frames, 0, 4 * 4 + 3, 13));
	egress_expect_output(&in1, SLOT, &want);
	/* a second upstream stream gets the next downstream id */
	fx_up(&in2, 4);
	fx_build(&in2, frames_stream0(in2.frames, 0, UP_SID + 4, ALIAS));
	ingress_expect(&in2, MOQ_R_FORWARDED);
	fx_down(&want, 4, SLOT, 52);
	fx_build(&want, frames_stream0(want.frames, 0, 5 * 4 + 3, DOWN_ALIAS));
	egress_expect_output(&in2, SLOT, &want);
}
END_TEST

START_TEST(egress_turns_ack_into_padding)
{
	struct fx in, want;
	size_t n;

	seq_set(SLOT, 7, 0);
	fx_up(&in, 4);
	n = bpf_frame_ack(in.frames, 0, 2 + _i, _i); /* odd and even lengths */
	in.frames[n++] = 0;
	fx_build(&in, frames_stream0(in.frames, n, UP_SID, ALIAS));
	ingress_expect(&in, MOQ_R_FORWARDED);
	fx_down(&want, 4, SLOT, 7);
	memset(want.frames, 0, n);
	fx_build(&want, frames_stream0(want.frames, n, 3, DOWN_ALIAS));
	egress_expect_output(&in, SLOT, &want);
}
END_TEST

START_TEST(egress_rewrites_datagram_alias)
{
	struct fx in, want;

	seq_set(SLOT, 9, 0);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	ingress_expect(&in, MOQ_R_FORWARDED);
	fx_down(&want, 4, SLOT, 9);
	fx_build(&want, frames_datagram(want.frames, 0, DOWN_ALIAS));
	egress_expect_output(&in, SLOT, &want);
	ck_assert_uint_eq(seq_get(SLOT).next_uni, 0);
}
END_TEST

START_TEST(egress_same_alias_left_as_is)
{
	struct fx in, want;
	uint32_t s = SLOT;

	add_track(UP_CONN, ALIAS, &s, 1, ALIAS);
	seq_set(SLOT, 9, 0);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	fx_down(&want, 4, SLOT, 9);
	fx_build(&want, frames_datagram(want.frames, 0, ALIAS));
	egress_expect_output(&in, SLOT, &want);
}
END_TEST

START_TEST(egress_rewrites_ipv6)
{
	struct fx in, want;

	seq_set(SLOT6, 0xfffffffeull, 0);
	fx_up(&in, 6);
	fx_build(&in, frames_stream0(in.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in, MOQ_R_FORWARDED);
	fx_down(&want, 6, SLOT6, 0xfffffffe);
	fx_build(&want, frames_stream0(want.frames, 0, 3, DOWN_ALIAS));
	egress_expect_output(&in, SLOT6, &want);
}
END_TEST

START_TEST(egress_strips_publisher_vlan)
{
	struct fx in, want;

	seq_set(SLOT, 1, 0);
	fx_up(&in, 4);
	in.s.vlan = 1;
	fx_build(&in, frames_stream0(in.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in, MOQ_R_FORWARDED);
	fx_down(&want, 4, SLOT, 1);
	fx_build(&want, frames_stream0(want.frames, 0, 3, DOWN_ALIAS));
	egress_expect_output(&in, SLOT, &want);
}
END_TEST

START_TEST(egress_keeps_zero_udp_checksum)
{
	struct fx in, want;

	seq_set(SLOT, 1, 0);
	fx_up(&in, 4);
	in.s.zero_udp_csum = 1;
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	fx_down(&want, 4, SLOT, 1);
	want.s.zero_udp_csum = 1;
	fx_build(&want, frames_datagram(want.frames, 0, DOWN_ALIAS));
	egress_expect_output(&in, SLOT, &want);
}
END_TEST

START_TEST(egress_pn_shared_with_mmapped_counter)
{
	struct fx in;
	int fd = mfd("moq_conn_seq");
	size_t sz = ((sizeof(struct moq_conn_seq) * MOQ_MAX_SUBSCRIBERS + 4095) / 4096) * 4096;
	struct moq_conn_seq *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint64_t agent_pn;

	ck_assert_ptr_ne(m, MAP_FAILED);
	m[SLOT].next_pn = 500;
	agent_pn = __atomic_fetch_add(&m[SLOT].next_pn, 1, __ATOMIC_SEQ_CST);
	ck_assert_uint_eq(agent_pn, 500);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	/* the packet number field (after 1+8 QUIC bytes) is 501 */
	ck_assert_uint_eq(run.out[14 + 20 + 8 + 9 + 3], 501 & 0xff);
	ck_assert_uint_eq(run.out[14 + 20 + 8 + 9 + 2], 501 >> 8);
	ck_assert_uint_eq(m[SLOT].next_pn, 502);
	munmap(m, sz);
}
END_TEST

static void gate_set(uint32_t slot, int64_t budget, int64_t thr_low)
{
	struct moq_gate g = {.budget = budget, .enabled = 1};

	for (int c = 4; c < MOQ_PRIO_CLASSES; c++)
		g.threshold[c] = thr_low;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
}

static struct moq_down_stream down_stream(uint32_t slot, uint64_t sid)
{
	struct moq_down_stream_key k = {.slot = slot, .conn_id = UP_CONN, .up_stream_id = sid};
	struct moq_down_stream d;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_down_streams"), &k, &d), 0);
	return d;
}

START_TEST(egress_gate_drop_resets_stream_and_drops_rest)
{
	struct fx in0, in1;
	struct moq_down_stream d;

	seq_set(SLOT, 1, 0);
	gate_set(SLOT, 10000, 0);
	fx_up(&in0, 4);
	fx_build(&in0, frames_stream0(in0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in0, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in0.pkt, in0.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	gate_set(SLOT, 10, 0); /* less than one packet */
	fx_up(&in1, 4);
	fx_build(&in1, frames_stream_later(in1.frames, 0, UP_SID, 13));
	egress_expect_drop(&in1, SLOT, MOQ_R_GATE_DROP);
	d = down_stream(SLOT, UP_SID);
	ck_assert_uint_eq(d.stream_id, 3);
	ck_assert(d.flags & MOQ_DS_F_RESET);
	ck_assert_uint_eq(d.reset_offset, 13);
	/* budget back: the rest of the stream is still dropped */
	gate_set(SLOT, 100000, 0);
	fx_build(&in1, frames_stream_later(in1.frames, 0, UP_SID, 53));
	egress_expect_drop(&in1, SLOT, MOQ_R_STREAM_RESET);
	ck_assert_uint_eq(seq_get(SLOT).next_pn, 2);
}
END_TEST

START_TEST(egress_gate_drop_at_stream_start_marks_unopened_reset)
{
	struct fx in;
	struct moq_down_stream d;

	seq_set(SLOT, 1, 0);
	gate_set(SLOT, 0, 0);
	fx_up(&in, 4);
	fx_build(&in, frames_stream0(in.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in, MOQ_R_FORWARDED);
	egress_expect_drop(&in, SLOT, MOQ_R_GATE_DROP);
	d = down_stream(SLOT, UP_SID);
	ck_assert_uint_eq(d.stream_id, MOQ_DS_NONE);
	ck_assert(d.flags & MOQ_DS_F_RESET);
	ck_assert_uint_eq(seq_get(SLOT).next_uni, 0);
}
END_TEST

/* Priority 32 (class 1, threshold 0) passes where priority 200 (class 6)
 * with a threshold is dropped, with the same budget. */
START_TEST(egress_gate_drops_low_priority_first)
{
	struct fx hi, lo;
	size_t n;

	seq_set(SLOT, 1, 0);
	gate_set(SLOT, 850, 800);
	fx_up(&lo, 4);
	n = bpf_frame_stream_hdr(lo.frames, 0, 0, UP_SID + 4, 0, 0);
	n = bpf_frame_subgroup(lo.frames, n, 0x10, ALIAS, 1, 0, 200);
	lo.frames[n++] = 0;
	lo.frames[n++] = 1;
	lo.frames[n++] = 'x';
	fx_build(&lo, n);
	ingress_expect(&lo, MOQ_R_FORWARDED);
	egress_expect_drop(&lo, SLOT, MOQ_R_GATE_DROP);
	fx_up(&hi, 4);
	fx_build(&hi, frames_stream0(hi.frames, 0, UP_SID, ALIAS));
	ingress_expect(&hi, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, hi.pkt, hi.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
}
END_TEST

/* ---- flow control (issue 17 finding 2b) ----------------------------------- */

static void credit_set(uint32_t slot, int64_t conn, uint64_t stream0)
{
	struct moq_credit c = {.conn = conn, .stream0 = stream0, .enabled = 1};

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_credit"), &slot, &c, 0), 0);
}

static struct moq_credit credit_get(uint32_t slot)
{
	struct moq_credit c;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_credit"), &slot, &c), 0);
	return c;
}

static void stream_credit_set(uint32_t slot, uint64_t sid, uint64_t max)
{
	struct moq_down_stream_key k = {.slot = slot, .conn_id = UP_CONN, .up_stream_id = sid};

	ck_assert_int_eq(fp_maps_put_stream_credit(agent(), &k, max), 0);
}

/* Opens UP_SID for SLOT through the kernel (its start forwarded). */
static void open_stream(void)
{
	struct fx in0;

	fx_up(&in0, 4);
	fx_build(&in0, frames_stream0(in0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in0, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in0.pkt, in0.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
}

/* A frame at offset 2^40 (spoofed on the publisher's link) would close
 * the subscriber's connection with FLOW_CONTROL_ERROR: refused, nothing
 * taken (packet number, connection credit), the stream stays open. */
START_TEST(egress_never_forwards_beyond_the_stream_credit)
{
	struct fx in;

	seq_set(SLOT, 1, 0);
	credit_set(SLOT, 1 << 20, 4096);
	open_stream();
	fx_up(&in, 4);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 1ull << 40));
	ingress_expect(&in, MOQ_R_FORWARDED);
	egress_expect_drop(&in, SLOT, MOQ_R_STREAM_CREDIT);
	/* one byte beyond the initial window (40 bytes ending at 4097) */
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 4057));
	egress_expect_drop(&in, SLOT, MOQ_R_STREAM_CREDIT);
	ck_assert_uint_eq(seq_get(SLOT).next_pn, 2);
	ck_assert(!(down_stream(SLOT, UP_SID).flags & MOQ_DS_F_RESET));
	/* ending exactly at the window: forwarded */
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 4056));
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
}
END_TEST

/* The agent raises a stream's credit (the subscriber's MAX_STREAM_DATA)
 * in moq_stream_credit; it replaces the initial window, for that stream
 * only. */
START_TEST(egress_stream_credit_follows_max_stream_data)
{
	struct fx in;

	seq_set(SLOT, 1, 0);
	credit_set(SLOT, 1 << 20, 4096);
	open_stream();
	fx_up(&in, 4);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 8000));
	egress_expect_drop(&in, SLOT, MOQ_R_STREAM_CREDIT);
	stream_credit_set(SLOT, UP_SID, 8040);
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 8001));
	egress_expect_drop(&in, SLOT, MOQ_R_STREAM_CREDIT);
	/* a smaller value than the initial window counts too (it is the
	 * agent's word for this stream) */
	stream_credit_set(SLOT, UP_SID, 100);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 100));
	egress_expect_drop(&in, SLOT, MOQ_R_STREAM_CREDIT);
}
END_TEST

/* Connection credit: each forwarded STREAM frame takes its length; a frame
 * it does not cover is refused with everything it took given back (gate
 * budget, credit); datagrams are not flow controlled. */
START_TEST(egress_takes_connection_credit_per_stream_byte)
{
	struct fx in, dg;
	struct moq_gate g;
	uint32_t s = SLOT;

	seq_set(SLOT, 1, 0);
	credit_set(SLOT, 1 << 20, 1 << 20);
	open_stream();
	/* frames_stream0 carries 11 bytes of stream data */
	ck_assert_int_eq(credit_get(SLOT).conn, (1 << 20) - 11);
	credit_set(SLOT, 40, 1 << 20);
	gate_set(SLOT, 100000, 0);
	fx_up(&in, 4);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 13));
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_int_eq(credit_get(SLOT).conn, 0);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 53));
	egress_expect_drop(&in, SLOT, MOQ_R_CONN_CREDIT);
	ck_assert_int_eq(credit_get(SLOT).conn, 0);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_gate"), &s, &g), 0);
	ck_assert_int_eq(g.budget, 100000 - (int64_t)in.len); /* the first one's only */
	ck_assert(!(down_stream(SLOT, UP_SID).flags & MOQ_DS_F_RESET));
	ck_assert_uint_eq(seq_get(SLOT).next_pn, 3);
	credit_set(SLOT, 39, 1 << 20);
	egress_expect_drop(&in, SLOT, MOQ_R_CONN_CREDIT);
	ck_assert_int_eq(credit_get(SLOT).conn, 39);
	fx_up(&dg, 4);
	fx_build(&dg, frames_datagram(dg.frames, 0, ALIAS));
	run_prog(R.subscriber_egress, dg.pkt, dg.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_int_eq(credit_get(SLOT).conn, 39);
}
END_TEST

/* enabled 0 (a slot the agent has not set up for it): no checks. */
START_TEST(egress_credit_disabled_checks_nothing)
{
	struct fx in;
	struct moq_credit c = {.conn = 0, .stream0 = 0, .enabled = 0};
	uint32_t s = SLOT;

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_credit"), &s, &c, 0), 0);
	seq_set(SLOT, 1, 0);
	open_stream();
	fx_up(&in, 4);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 1ull << 40));
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
}
END_TEST

START_TEST(egress_stale_heartbeat_drops_clone)
{
	struct fx in;

	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	set_config(bpf_relay_now_ns() - 20ull * 1000000000ull, 10ull * 1000000000ull, 1,
		   MOQ_CFG_F_ENABLED);
	egress_expect_drop(&in, SLOT, MOQ_R_STALE_AGENT);
	/* and everything unmarked still passes */
	run_prog(R.subscriber_egress, in.pkt, in.len, 0);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
}
END_TEST

START_TEST(egress_mid_stream_without_mapping_dropped)
{
	struct fx in0, in1;
	uint32_t s = SLOT;

	fx_up(&in0, 4);
	fx_build(&in0, frames_stream0(in0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in0, MOQ_R_FORWARDED); /* egress never ran for SLOT */
	add_track(UP_CONN, ALIAS, &s, 1, DOWN_ALIAS);
	fx_up(&in1, 4);
	fx_build(&in1, frames_stream_later(in1.frames, 0, UP_SID, 13));
	egress_expect_drop(&in1, SLOT, MOQ_R_STREAM_UNMAPPED);
}
END_TEST

/* A Next Group Start joiner (start group 12) must not get a stream of
 * group 11 that starts after it joined: half a group, outside its filter. */
START_TEST(egress_stream_of_a_group_before_the_filter_start_not_opened)
{
	struct fx in;
	uint32_t s = SLOT;
	struct moq_down_stream_key dk = {.slot = SLOT, .conn_id = UP_CONN, .up_stream_id = UP_SID};
	struct moq_down_stream ds;

	add_track_from(UP_CONN, ALIAS, &s, 1, DOWN_ALIAS, 12);
	fx_up(&in, 4);
	fx_build(&in, frames_stream0(in.frames, 0, UP_SID, ALIAS)); /* group 11 */
	ingress_expect(&in, MOQ_R_FORWARDED);
	egress_expect_drop(&in, SLOT, MOQ_R_BEFORE_START);
	/* no downstream stream was taken for it */
	ck_assert_int_ne(bpf_map_lookup_elem(mfd("moq_down_streams"), &dk, &ds), 0);
}
END_TEST

START_TEST(egress_stream_of_the_filter_start_group_is_opened)
{
	struct fx in;
	uint32_t s = SLOT;
	struct moq_down_stream_key dk = {.slot = SLOT, .conn_id = UP_CONN, .up_stream_id = UP_SID};
	struct moq_down_stream ds;

	add_track_from(UP_CONN, ALIAS, &s, 1, DOWN_ALIAS, 11);
	fx_up(&in, 4);
	fx_build(&in, frames_stream0(in.frames, 0, UP_SID, ALIAS)); /* group 11 */
	ingress_expect(&in, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_down_streams"), &dk, &ds), 0);
	ck_assert_uint_ne(ds.stream_id, MOQ_DS_NONE);
}
END_TEST

START_TEST(egress_datagram_of_a_group_before_the_filter_start_dropped)
{
	struct fx in;
	uint32_t s = SLOT;

	add_track_from(UP_CONN, ALIAS, &s, 1, DOWN_ALIAS, 13);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS)); /* group 12 */
	egress_expect_drop(&in, SLOT, MOQ_R_BEFORE_START);
}
END_TEST

START_TEST(egress_family_mismatch_dropped)
{
	struct fx in;
	uint32_t s = SLOT6;

	add_track(UP_CONN, ALIAS, &s, 1, DOWN_ALIAS); /* IPv6 slot, IPv4 packet */
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	egress_expect_drop(&in, SLOT6, MOQ_R_FAMILY_MISMATCH);
}
END_TEST

START_TEST(egress_unsubscribed_slot_dropped)
{
	struct fx in;

	add_sub(40, 4);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	egress_expect_drop(&in, 40, MOQ_R_NO_SUBSCRIPTION);
}
END_TEST

START_TEST(egress_alias_too_wide_dropped)
{
	struct fx in;
	uint32_t s = SLOT;

	add_track(UP_CONN, ALIAS, &s, 1, 5000); /* needs 2 bytes, has 1 */
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	egress_expect_drop(&in, SLOT, MOQ_R_ALIAS_WIDTH);
}
END_TEST

/* the gate budget a clone took comes back when it cannot be rewritten */
START_TEST(egress_alias_too_wide_gives_back_the_gate_budget)
{
	struct moq_gate g;
	struct fx in;
	uint32_t s = SLOT;

	add_track(UP_CONN, ALIAS, &s, 1, 5000);
	gate_set(SLOT, 100000, 0);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	egress_expect_drop(&in, SLOT, MOQ_R_ALIAS_WIDTH);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_gate"), &s, &g), 0);
	ck_assert_int_eq(g.budget, 100000);
}
END_TEST

START_TEST(egress_wide_alias_rewritten_at_same_width)
{
	struct fx in, want;
	uint32_t s = SLOT;
	size_t n = 0;

	add_track(UP_CONN, 300, &s, 1, 9);
	seq_set(SLOT, 1, 0);
	fx_up(&in, 4);
	in.frames[n++] = 0x30;
	in.frames[n++] = 0x0c; /* no object id, default priority */
	n = bpf_frame_vi(in.frames, n, 300, 2);
	n = bpf_frame_vi(in.frames, n, 1, 0);
	fx_build(&in, n);
	fx_down(&want, 4, SLOT, 1);
	memcpy(want.frames, in.frames, n);
	bpf_frame_vi(want.frames, 2, 9, 2); /* 0x80 0x09 */
	fx_build(&want, n);
	egress_expect_output(&in, SLOT, &want);
}
END_TEST

struct ev_sink {
	struct moq_event ev[8];
	int n;
};

static int ev_cb(void *ctx, void *data, size_t len)
{
	struct ev_sink *s = ctx;

	if (len == sizeof(struct moq_event) && s->n < 8)
		memcpy(&s->ev[s->n++], data, len);
	return 0;
}

/* The slot's sent log, mmapped as the agent does (fp_mapsync; the test
 * process ends with the test, and the mapping with it). */
static struct moq_sent_log *sent_log(uint32_t slot)
{
	struct moq_sent_log *m;
	size_t len = sizeof(struct moq_sent_log) * MOQ_MAX_SUBSCRIBERS;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd("moq_sent_log"), 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	return &m[slot];
}

struct log_sink {
	struct moq_sent_ent e[MOQ_SENT_LOG_ENTRIES];
	int n;
};

static void log_cb(void *ctx, const struct moq_sent_ent *e)
{
	struct log_sink *s = ctx;

	if (s->n < MOQ_SENT_LOG_ENTRIES)
		s->e[s->n++] = *e;
}

/* A forwarded clone goes to the slot's sent log, not the ring; a dropped
 * one writes an exception event (and a void log entry). */
START_TEST(egress_logs_forwarded_clone_and_emits_event_only_for_drop)
{
	struct ev_sink sink = {.n = 0};
	struct log_sink ls = {.n = 0};
	struct fp_sentlog_stats st = {0};
	struct ring_buffer *rb = ring_buffer__new(mfd("moq_events"), ev_cb, &sink, NULL);
	struct moq_sent_log *l = sent_log(SLOT);
	struct fx in0, in1;
	uint64_t t0 = bpf_relay_now_ns();

	ck_assert_ptr_nonnull(rb);
	seq_set(SLOT, 77, 0);
	fx_up(&in0, 4);
	fx_build(&in0, frames_stream0(in0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in0, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in0.pkt, in0.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	gate_set(SLOT, 0, 0);
	fx_up(&in1, 4);
	fx_build(&in1, frames_stream_later(in1.frames, 0, UP_SID, 13));
	run_prog(R.subscriber_egress, in1.pkt, in1.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_SHOT);
	ring_buffer__consume(rb);
	ck_assert_int_eq(sink.n, 1);
	ck_assert_uint_eq(sink.ev[0].verdict, MOQ_V_DROPPED);
	ck_assert_uint_eq(sink.ev[0].reason, MOQ_R_GATE_DROP);
	ck_assert_uint_eq(sink.ev[0].slot, SLOT);
	ck_assert_uint_eq(sink.ev[0].offset, 13);
	ck_assert_uint_eq(sink.ev[0].data_len, 40);
	ck_assert_uint_eq(sink.ev[0].down_stream_id, 3);
	ck_assert_uint_eq(l->head, 2);
	ck_assert_uint_eq(fp_sentlog_read(l, log_cb, &ls, 64, &st), 2);
	ck_assert_int_eq(ls.n, 1);
	ck_assert_uint_eq(st.voids, 1);
	ck_assert_uint_eq(ls.e[0].kind, MOQ_SENT_KIND_STREAM);
	ck_assert_uint_eq(ls.e[0].pn, 77);
	ck_assert_uint_eq(ls.e[0].conn_id, UP_CONN);
	ck_assert_uint_eq(ls.e[0].up_stream_id, UP_SID);
	ck_assert_uint_eq(ls.e[0].down_stream_id, 3);
	ck_assert_uint_eq(ls.e[0].offset, 0);
	ck_assert_uint_eq(ls.e[0].data_len, 11);
	ck_assert_uint_eq(ls.e[0].fin, 0);
	ck_assert_uint_eq(ls.e[0].wire_len, in0.len);
	ck_assert_uint_ge(ls.e[0].ts_ns, t0);
	ck_assert_uint_eq(l->tail, 2);
	ring_buffer__free(rb);
}
END_TEST

START_TEST(egress_log_reports_fin_and_datagram_identity)
{
	struct log_sink ls = {.n = 0};
	struct moq_sent_log *l = sent_log(SLOT);
	struct fx in0, in1, in2;
	size_t n;

	seq_set(SLOT, 1, 0);
	fx_up(&in0, 4);
	fx_build(&in0, frames_stream0(in0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in0, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in0.pkt, in0.len, MOQ_MARK_MAGIC | SLOT);
	fx_up(&in1, 4);
	n = bpf_frame_stream_hdr(in1.frames, 0, 7 /* OFF|LEN|FIN */, UP_SID, 11, 3);
	memcpy(in1.frames + n, "end", 3);
	fx_build(&in1, n + 3);
	ingress_expect(&in1, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in1.pkt, in1.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	fx_up(&in2, 4);
	fx_build(&in2, frames_datagram(in2.frames, 0, ALIAS));
	run_prog(R.subscriber_egress, in2.pkt, in2.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(fp_sentlog_read(l, log_cb, &ls, 64, NULL), 3);
	ck_assert_int_eq(ls.n, 3);
	ck_assert_uint_eq(ls.e[1].fin, 1);
	ck_assert_uint_eq(ls.e[1].offset, 11);
	ck_assert_uint_eq(ls.e[1].data_len, 3);
	ck_assert_uint_eq(ls.e[1].pn, 2);
	ck_assert_uint_eq(ls.e[2].kind, MOQ_SENT_KIND_DATAGRAM);
	ck_assert_uint_eq(ls.e[2].pn, 3);
	ck_assert_uint_eq(ls.e[2].up_stream_id, ALIAS); /* upstream alias */
	ck_assert_uint_eq(ls.e[2].offset, 12);		/* group */
	ck_assert_uint_eq(ls.e[2].down_stream_id, 3);	/* object */
}
END_TEST

/* The agent does not read: the kernel never overwrites an unread entry.
 * The clone is dropped as LOG_FULL before it takes a packet number, gate
 * credit or a stream id, and goes the agent's way (exception event); once
 * the agent reads, forwarding resumes with the next packet number. */
START_TEST(egress_full_log_drops_without_taking_a_number)
{
	struct ev_sink sink = {.n = 0};
	struct log_sink ls = {.n = 0};
	struct ring_buffer *rb = ring_buffer__new(mfd("moq_events"), ev_cb, &sink, NULL);
	struct moq_sent_log *l = sent_log(SLOT);
	struct fx d, s0;

	ck_assert_ptr_nonnull(rb);
	seq_set(SLOT, 100, 0);
	fx_up(&d, 4);
	fx_build(&d, frames_datagram(d.frames, 0, ALIAS));
	for (uint32_t i = 0; i < MOQ_SENT_LOG_ENTRIES; i++) {
		run_prog(R.subscriber_egress, d.pkt, d.len, MOQ_MARK_MAGIC | SLOT);
		ck_assert_int_eq(run.retval, TC_ACT_OK);
	}
	fx_up(&s0, 4);
	fx_build(&s0, frames_stream0(s0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&s0, MOQ_R_FORWARDED);
	egress_expect_drop(&s0, SLOT, MOQ_R_LOG_FULL);
	ck_assert_uint_eq(seq_get(SLOT).next_pn, 100 + MOQ_SENT_LOG_ENTRIES);
	ck_assert_uint_eq(seq_get(SLOT).next_uni, 0);
	ck_assert_uint_eq(l->head, MOQ_SENT_LOG_ENTRIES);
	ring_buffer__consume(rb);
	ck_assert_int_eq(sink.n, 1);
	ck_assert_uint_eq(sink.ev[0].reason, MOQ_R_LOG_FULL);
	ck_assert_uint_eq(sink.ev[0].slot, SLOT);
	/* every entry is intact and in order */
	ck_assert_uint_eq(fp_sentlog_read(l, log_cb, &ls, 5, NULL), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(ls.e[i].pn, 100 + (uint64_t)i);
	run_prog(R.subscriber_egress, s0.pkt, s0.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ls.n = 0;
	ck_assert_uint_eq(fp_sentlog_read(l, log_cb, &ls, MOQ_SENT_LOG_ENTRIES, NULL),
			  MOQ_SENT_LOG_ENTRIES - 4);
	ck_assert_uint_eq(ls.e[MOQ_SENT_LOG_ENTRIES - 5].pn, 100 + MOQ_SENT_LOG_ENTRIES);
	ck_assert_uint_eq(ls.e[MOQ_SENT_LOG_ENTRIES - 5].down_stream_id, 3);
	ck_assert_uint_eq(l->head, MOQ_SENT_LOG_ENTRIES + 1);
	ring_buffer__free(rb);
}
END_TEST

/* Many laps with a reader in between: one entry per forwarded clone, packet
 * numbers without a gap, no exception event. */
START_TEST(egress_log_wraps_with_a_reader)
{
	struct ev_sink sink = {.n = 0};
	struct log_sink ls;
	struct ring_buffer *rb = ring_buffer__new(mfd("moq_events"), ev_cb, &sink, NULL);
	struct moq_sent_log *l = sent_log(SLOT);
	struct fx d;
	uint64_t next = 0;

	ck_assert_ptr_nonnull(rb);
	fx_up(&d, 4);
	fx_build(&d, frames_datagram(d.frames, 0, ALIAS));
	for (int round = 0; round < 10; round++) {
		int k = 50 + round * 7;

		for (int i = 0; i < k; i++) {
			run_prog(R.subscriber_egress, d.pkt, d.len, MOQ_MARK_MAGIC | SLOT);
			ck_assert_int_eq(run.retval, TC_ACT_OK);
		}
		ls.n = 0;
		ck_assert_uint_eq(fp_sentlog_read(l, log_cb, &ls, MOQ_SENT_LOG_ENTRIES, NULL),
				  (size_t)k);
		for (int i = 0; i < k; i++)
			ck_assert_uint_eq(ls.e[i].pn, next++);
	}
	ck_assert_uint_gt(l->head, 3 * MOQ_SENT_LOG_ENTRIES);
	ring_buffer__consume(rb);
	ck_assert_int_eq(sink.n, 0);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, MOQ_R_FORWARDED), next);
	ring_buffer__free(rb);
}
END_TEST

/* Nobody drains moq_events: drops go on, the lost events are counted. */
START_TEST(egress_full_event_ring_counts_lost_events)
{
	struct fx in;
	uint32_t n = MOQ_EVENTS_BYTES / (sizeof(struct moq_event) + 8) + 100;

	gate_set(SLOT, 0, 0);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	for (uint32_t i = 0; i < n; i++) {
		run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
		ck_assert_int_eq(run.retval, TC_ACT_SHOT);
	}
	ck_assert_uint_ge(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, MOQ_R_EVENT_LOST), 100);
}
END_TEST

/* ---- subscriber ingress ---------------------------------------------------- */

static void fx_from_sub(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->s.family = 4;
	memcpy(f->s.eth_src, (uint8_t[6]){2, 0, 0, 0, 9, 9}, 6);
	memcpy(f->s.eth_dst, mac_relay_s, 6); /* addressed to the relay */
	memcpy(f->s.saddr, sub_ip, 4);
	memcpy(f->s.daddr, relay_ip_s, 4);
	f->s.sport = 6000 + SLOT;
	f->s.dport = RELAY_PORT;
	memcpy(f->s.dcid, sub_scid, 8);
	f->s.dcid[7] = SLOT;
	f->s.frames = f->frames;
	f->frames[0] = 0x02;
	f->s.frames_len = bpf_frame_ack(f->frames, 0, 0, 0);
	f->len = bpf_pkt_build(f->pkt, sizeof(f->pkt), &f->s);
}

static struct moq_subscriber sub_get(uint32_t slot)
{
	struct moq_subscriber s;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &s), 0);
	return s;
}

/* lib/fanout_job.h's per-CPU job, read and written as bytes at the offsets
 * its BTF gives (the struct is BPF-side only). */
static size_t job_off(const char *field)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	const struct btf_member *m;
	const struct btf_type *t;
	struct btf *btf;
	int id;
	size_t off = (size_t)-1;

	ck_assert_int_eq(bpf_obj_get_info_by_fd(mfd("moq_fanout_job"), &info, &len), 0);
	btf = btf__load_from_kernel_by_id(info.btf_id);
	ck_assert_ptr_nonnull(btf);
	id = btf__find_by_name_kind(btf, "moq_fanout_job", BTF_KIND_STRUCT);
	ck_assert_int_gt(id, 0);
	t = btf__type_by_id(btf, id);
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), field))
			off = btf_member_bit_offset(t, i) / 8;
	btf__free(btf);
	ck_assert_msg(off != (size_t)-1, "no field %s", field);
	return off;
}

/* Every CPU's job, value_size bytes each (rounded to 8 by the kernel). */
static uint8_t *jobs_get(size_t *vsz, int *ncpu)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info), z = 0;
	uint8_t *v;

	ck_assert_int_eq(bpf_obj_get_info_by_fd(mfd("moq_fanout_job"), &info, &len), 0);
	*vsz = (info.value_size + 7) & ~7u;
	*ncpu = libbpf_num_possible_cpus();
	v = calloc((size_t)*ncpu, *vsz);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_fanout_job"), &z, v), 0);
	return v;
}

/* After the ingress program ran on in: checks every CPU's job is not live
 * and one holds in's packet, then makes that one live again on every CPU
 * (with the track alias alias when non-zero). */
static void job_revive(const struct fx *in, uint64_t alias)
{
	size_t vsz, live = job_off("live"), jlen = job_off("len"), aoff = job_off("alias"),
		    idoff = job_off("id");
	uint32_t z = 0, v32;
	uint8_t *jobs, *mine = NULL;
	int ncpu;

	jobs = jobs_get(&vsz, &ncpu);
	for (int c = 0; c < ncpu; c++) {
		uint8_t *j = jobs + (size_t)c * vsz;

		memcpy(&v32, j + live, 4);
		ck_assert_uint_eq(v32, 0);
		memcpy(&v32, j + jlen, 4);
		if (v32 == in->len && !memcmp(j + idoff, in->pkt + 14 + 20 + 8, 16))
			mine = j;
	}
	ck_assert_ptr_nonnull(mine);
	v32 = 1;
	memcpy(mine + live, &v32, 4);
	if (alias)
		memcpy(mine + aoff, &alias, 8);
	for (int c = 0; c < ncpu; c++)
		if (jobs + (size_t)c * vsz != mine)
			memcpy(jobs + (size_t)c * vsz, mine, vsz);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_fanout_job"), &z, jobs, 0), 0);
	free(jobs);
}

/* A stream start through ingress and egress, then a later packet of it
 * through the ingress program (in1): its job is left behind. */
static void job_setup(struct fx *in1)
{
	struct fx in0;

	seq_set(SLOT, 50, 4);
	fx_up(&in0, 4);
	fx_build(&in0, frames_stream0(in0.frames, 0, UP_SID, ALIAS));
	ingress_expect(&in0, MOQ_R_FORWARDED);
	run_prog(R.subscriber_egress, in0.pkt, in0.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	fx_up(in1, 4);
	fx_build(in1, frames_stream_later(in1->frames, 0, UP_SID, 13));
	ingress_expect(in1, MOQ_R_FORWARDED);
}

/* The upstream ingress program leaves a packet's job (its length, its
 * first 16 UDP payload bytes) and not live once its clones are out; a
 * marked clone that matches a live job takes its parse and stream state
 * (an alias with no subscription: dropped for it), one that does not
 * match (another packet number) parses for itself. */
START_TEST(egress_takes_the_live_fanout_job)
{
	struct fx in1, want;

	job_setup(&in1);
	job_revive(&in1, ALIAS + 1); /* live again, for an unsubscribed alias */
	egress_expect_drop(&in1, SLOT, MOQ_R_NO_SUBSCRIPTION);
	/* another packet number: not the job's packet */
	fx_up(&in1, 4);
	fx_build(&in1, frames_stream_later(in1.frames, 0, UP_SID, 13));
	fx_down(&want, 4, SLOT, 51);
	fx_build(&want, frames_stream_later(want.frames, 0, 4 * 4 + 3, 13));
	egress_expect_output(&in1, SLOT, &want);
}
END_TEST

/* A job's clone relies on the ingress program's fail-safe check of the
 * same packet (no second clock read): it leaves although the heartbeat
 * went stale since; any other marked packet is dropped for it. */
START_TEST(egress_job_clone_uses_the_ingress_heartbeat_check)
{
	struct fx in1, want;

	job_setup(&in1);
	job_revive(&in1, 0);
	set_config(bpf_relay_now_ns() - 20ull * 1000000000ull, 10ull * 1000000000ull, 1,
		   MOQ_CFG_F_ENABLED);
	fx_down(&want, 4, SLOT, 51);
	fx_build(&want, frames_stream_later(want.frames, 0, 4 * 4 + 3, 13));
	egress_expect_output(&in1, SLOT, &want);
	fx_up(&in1, 4);
	fx_build(&in1, frames_stream_later(in1.frames, 0, UP_SID, 13));
	egress_expect_drop(&in1, SLOT, MOQ_R_STALE_AGENT);
}
END_TEST

/* A plaintext job clone's send time in the sent log is read by every 8th
 * clone of the packet (moq_job_clock); the clones between take that
 * reading. A clone that is not the job's packet reads the clock itself.
 * (One CPU: the job and its clone count are per CPU.) */
START_TEST(egress_job_clones_share_one_clock_read_per_eight)
{
	struct moq_sent_log *l = sent_log(SLOT);
	cpu_set_t one, old;
	struct fx in1, other;
	uint64_t h0, ts[10];

	ck_assert_int_eq(sched_getaffinity(0, sizeof(old), &old), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	job_setup(&in1);
	job_revive(&in1, 0);
	h0 = l->head;
	for (int i = 0; i < 10; i++) {
		run_prog(R.subscriber_egress, in1.pkt, in1.len, MOQ_MARK_MAGIC | SLOT);
		ck_assert_int_eq(run.retval, TC_ACT_OK);
	}
	ck_assert_uint_eq(l->head, h0 + 10);
	for (int i = 0; i < 10; i++)
		ts[i] = l->ent[(h0 + i) % MOQ_SENT_LOG_ENTRIES].ts_ns;
	for (int i = 1; i < 8; i++)
		ck_assert_uint_eq(ts[i], ts[0]);
	ck_assert_uint_gt(ts[8], ts[0]);
	ck_assert_uint_eq(ts[9], ts[8]);
	fx_up(&other, 4);
	fx_build(&other, frames_stream_later(other.frames, 0, UP_SID, 53));
	run_prog(R.subscriber_egress, other.pkt, other.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_gt(l->ent[(h0 + 10) % MOQ_SENT_LOG_ENTRIES].ts_ns, ts[9]);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(old), &old), 0);
}
END_TEST

START_TEST(sub_ingress_learns_l2_and_counts)
{
	struct fx f;
	struct moq_subscriber s;
	uint32_t slot = SLOT;
	int ncpu = libbpf_num_possible_cpus();
	struct moq_sub_stats st[ncpu];
	uint64_t rx = 0;

	fx_from_sub(&f);
	run_prog(R.subscriber_ingress, f.pkt, f.len, 0);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_mem_eq(run.out, f.pkt, f.len);

	s = sub_get(SLOT);
	ck_assert(s.flags & MOQ_SUB_F_L2_LEARNED);
	ck_assert_mem_eq(s.eth_dst, ((uint8_t[6]){2, 0, 0, 0, 9, 9}), 6);
	ck_assert_mem_eq(s.eth_src, mac_relay_s, 6);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_sub_stats"), &slot, st), 0);
	for (int i = 0; i < ncpu; i++)
		rx += st[i].rx_packets;
	ck_assert_uint_eq(rx, 1);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX), 1);
}
END_TEST

/* The agent could not read the relay's MAC (zero): the destination of a
 * unicast frame from the subscriber is learned as the relay's. */
START_TEST(sub_ingress_learns_relay_mac_when_unset)
{
	struct fx f;
	struct moq_subscriber s = sub_get(SLOT);
	uint32_t slot = SLOT;

	memset(s.eth_src, 0, 6);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	fx_from_sub(&f);
	memcpy(f.s.eth_dst, (uint8_t[6]){2, 0, 0, 0, 8, 8}, 6);
	f.len = bpf_pkt_build(f.pkt, sizeof(f.pkt), &f.s);
	run_prog(R.subscriber_ingress, f.pkt, f.len, 0);
	s = sub_get(SLOT);
	ck_assert(s.flags & MOQ_SUB_F_L2_LEARNED);
	ck_assert_mem_eq(s.eth_dst, ((uint8_t[6]){2, 0, 0, 0, 9, 9}), 6);
	ck_assert_mem_eq(s.eth_src, ((uint8_t[6]){2, 0, 0, 0, 8, 8}), 6);
}
END_TEST

/* Issue 17 finding 7: a broadcast, a multicast or a unicast frame for
 * another host carrying the subscriber's addresses teaches nothing (it is
 * still counted): the clones keep going to the subscriber's MAC. */
START_TEST(sub_ingress_learns_only_from_unicast_to_the_relay)
{
	static const uint8_t dests[3][6] = {
	    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x01, 0x00, 0x5e, 0, 0, 1}, {2, 0, 0, 0, 7, 7}};
	struct fx f;
	struct moq_subscriber s;

	for (int i = 0; i < 3; i++) {
		fx_from_sub(&f);
		memcpy(f.s.eth_dst, dests[i], 6);
		f.len = bpf_pkt_build(f.pkt, sizeof(f.pkt), &f.s);
		run_prog(R.subscriber_ingress, f.pkt, f.len, 0);
		ck_assert_int_eq(run.retval, TC_ACT_OK);
		s = sub_get(SLOT);
		ck_assert_msg(!(s.flags & MOQ_SUB_F_L2_LEARNED), "learned from dest %d", i);
		ck_assert_mem_eq(s.eth_dst, mac_sub, 6);
		ck_assert_mem_eq(s.eth_src, mac_relay_s, 6);
	}
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX), 3);
}
END_TEST

START_TEST(sub_ingress_never_registers_unknown_cid)
{
	struct fx f;
	struct moq_cid c;
	uint32_t slot;

	fx_from_sub(&f);
	f.pkt[14 + 20 + 8 + 1] ^= 0xff;
	run_prog(R.subscriber_ingress, f.pkt, f.len, 0);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	memcpy(c.cid, f.pkt + 14 + 20 + 8 + 1, 8);
	ck_assert_int_ne(bpf_map_lookup_elem(mfd("moq_sub_by_cid"), &c, &slot), 0);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_UNKNOWN), 1);
}
END_TEST

START_TEST(sub_ingress_ignores_inactive_slot)
{
	struct fx f;
	struct moq_subscriber s = sub_get(SLOT);
	uint32_t slot = SLOT;

	s.flags = 0;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	fx_from_sub(&f);
	run_prog(R.subscriber_ingress, f.pkt, f.len, 0);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	s = sub_get(SLOT);
	ck_assert_uint_eq(s.flags, 0);
	ck_assert_mem_eq(s.eth_dst, mac_sub, 6);
}
END_TEST

START_TEST(sub_ingress_wrong_source_not_learned)
{
	struct fx f;
	struct moq_subscriber s;

	fx_from_sub(&f);
	f.s.sport = 1;
	f.len = bpf_pkt_build(f.pkt, sizeof(f.pkt), &f.s);
	run_prog(R.subscriber_ingress, f.pkt, f.len, 0);
	s = sub_get(SLOT);
	ck_assert(!(s.flags & MOQ_SUB_F_L2_LEARNED));
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_WRONG_SOURCE), 1);
}
END_TEST

START_TEST(relay_ingress_handles_both_roles)
{
	struct fx up, sub;

	fx_up(&up, 4);
	fx_build(&up, frames_datagram(up.frames, 0, ALIAS));
	run_prog(R.relay_ingress, up.pkt, up.len, 0);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FORWARDED), 1);
	fx_from_sub(&sub);
	run_prog(R.relay_ingress, sub.pkt, sub.len, 0);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX), 1);
}
END_TEST

/* ---- clone cache (moq_clone_cache) ------------------------------------------ */

static struct moq_clone_cache cc_get(uint32_t slot, uint64_t alias)
{
	uint32_t idx = slot * MOQ_CLONE_CACHE_WAYS + (uint32_t)(alias & (MOQ_CLONE_CACHE_WAYS - 1));
	struct moq_clone_cache c;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_clone_cache"), &idx, &c), 0);
	return c;
}

static void cc_put(uint32_t slot, uint64_t alias, const struct moq_clone_cache *c)
{
	uint32_t idx = slot * MOQ_CLONE_CACHE_WAYS + (uint32_t)(alias & (MOQ_CLONE_CACHE_WAYS - 1));

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_clone_cache"), &idx, c, 0), 0);
}

static void datagram_expect_alias(uint32_t pn, uint64_t down_alias)
{
	struct fx in, want;

	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	fx_down(&want, 4, SLOT, pn);
	fx_build(&want, frames_datagram(want.frames, 0, down_alias));
	egress_expect_output(&in, SLOT, &want);
}

/* A forwarded clone fills its slot's line; the next clone is answered from
 * it (shown by a subscription deleted behind the cache's back, which no
 * writer of the relay does: it is still forwarded), until a writer bumps
 * the generation. */
START_TEST(egress_clone_cache_answers_the_next_clone)
{
	struct moq_subscription_key bk = {.slot = SLOT, .conn_id = UP_CONN, .track_alias = ALIAS};
	struct moq_clone_cache c;
	struct fx in;

	seq_set(SLOT, 9, 0);
	datagram_expect_alias(9, DOWN_ALIAS);
	c = cc_get(SLOT, ALIAS);
	ck_assert(c.flags & MOQ_CC_F_VALID);
	ck_assert(!(c.flags & MOQ_CC_F_STREAM));
	ck_assert_uint_eq(c.gen, c.filled_gen);
	ck_assert_uint_eq(c.seq % 2, 0);
	ck_assert_uint_eq(c.conn_id, UP_CONN);
	ck_assert_uint_eq(c.track_alias, ALIAS);
	ck_assert_uint_eq(c.sub_alias, DOWN_ALIAS);
	ck_assert_int_eq(bpf_map_delete_elem(mfd("moq_subscriptions"), &bk), 0);
	datagram_expect_alias(10, DOWN_ALIAS);
	/* the agent's delete (absent already) still bumps: the cache is
	 * not used any more */
	ck_assert_int_eq(fp_maps_del_subscription(agent(), &bk), -ENOENT);
	ck_assert_uint_ne(cc_get(SLOT, ALIAS).gen, cc_get(SLOT, ALIAS).filled_gen);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	egress_expect_drop(&in, SLOT, MOQ_R_NO_SUBSCRIPTION);
}
END_TEST

/* The agent changes a subscription after the cache was filled: the next
 * clone carries the new alias, and a new filter start drops it. */
START_TEST(egress_subscription_change_after_the_cache_filled_is_seen)
{
	struct moq_subscription_key bk = {.slot = SLOT, .conn_id = UP_CONN, .track_alias = ALIAS};
	struct moq_subscription b = {.track_alias = DOWN_ALIAS + 1};
	struct fx in;

	seq_set(SLOT, 9, 0);
	datagram_expect_alias(9, DOWN_ALIAS);
	datagram_expect_alias(10, DOWN_ALIAS);
	ck_assert_int_eq(fp_maps_put_subscription(agent(), &bk, &b), 0);
	datagram_expect_alias(11, DOWN_ALIAS + 1);
	datagram_expect_alias(12, DOWN_ALIAS + 1);
	b.start_group = 13; /* the fixture's datagrams are of group 12 */
	ck_assert_int_eq(fp_maps_put_subscription(agent(), &bk, &b), 0);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	egress_expect_drop(&in, SLOT, MOQ_R_BEFORE_START);
}
END_TEST

/* A stream's subscription removed, or the stream marked reset by the
 * agent, after its clones filled the cache: nothing more is forwarded. */
START_TEST(egress_stream_removed_or_reset_after_the_cache_filled_never_forwards)
{
	struct moq_subscription_key bk = {.slot = SLOT, .conn_id = UP_CONN, .track_alias = ALIAS};
	struct moq_down_stream_key dk = {.slot = SLOT, .conn_id = UP_CONN, .up_stream_id = UP_SID};
	struct moq_down_stream ds = {.stream_id = 3, .flags = MOQ_DS_F_RESET, .reset_offset = 53};
	struct moq_subscription b = {.track_alias = DOWN_ALIAS};
	struct fx in;

	seq_set(SLOT, 1, 0);
	open_stream();
	fx_up(&in, 4);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 13));
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert(cc_get(SLOT, ALIAS).flags & MOQ_CC_F_STREAM);
	ck_assert_uint_eq(cc_get(SLOT, ALIAS).down_sid, 3);
	ck_assert_int_eq(fp_maps_del_subscription(agent(), &bk), 0);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 53));
	egress_expect_drop(&in, SLOT, MOQ_R_NO_SUBSCRIPTION);
	/* back, and forwarded (the line filled again) */
	ck_assert_int_eq(fp_maps_put_subscription(agent(), &bk, &b), 0);
	run_prog(R.subscriber_egress, in.pkt, in.len, MOQ_MARK_MAGIC | SLOT);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(cc_get(SLOT, ALIAS).gen, cc_get(SLOT, ALIAS).filled_gen);
	/* the agent's reset mark goes through the batched queue */
	ck_assert_int_eq(fp_maps_queue_down_stream(agent(), &dk, &ds), 0);
	ck_assert_int_eq(fp_maps_flush(agent()), 0);
	fx_build(&in, frames_stream_later(in.frames, 0, UP_SID, 93));
	egress_expect_drop(&in, SLOT, MOQ_R_STREAM_RESET);
}
END_TEST

/* A line another CPU is filling (seq odd) or filled before the last write
 * (filled_gen != gen) answers nothing: the hash maps do. */
START_TEST(egress_cache_line_being_filled_or_stale_is_not_used)
{
	struct moq_subscription_key bk = {.slot = SLOT, .conn_id = UP_CONN, .track_alias = ALIAS};
	struct moq_clone_cache c;
	struct fx in;

	seq_set(SLOT, 9, 0);
	datagram_expect_alias(9, DOWN_ALIAS);
	ck_assert_int_eq(bpf_map_delete_elem(mfd("moq_subscriptions"), &bk), 0);
	c = cc_get(SLOT, ALIAS);
	c.seq += 1;
	cc_put(SLOT, ALIAS, &c);
	fx_up(&in, 4);
	fx_build(&in, frames_datagram(in.frames, 0, ALIAS));
	egress_expect_drop(&in, SLOT, MOQ_R_NO_SUBSCRIPTION);
	c.seq += 1;
	c.gen += 1;
	cc_put(SLOT, ALIAS, &c);
	egress_expect_drop(&in, SLOT, MOQ_R_NO_SUBSCRIPTION);
	/* and the same line, consistent again, is used (as in the test
	 * above): the two fields alone made the difference */
	c.gen = c.filled_gen;
	cc_put(SLOT, ALIAS, &c);
	datagram_expect_alias(10, DOWN_ALIAS);
}
END_TEST

/* A slot re-registered for another connection: its lines are stale. */
START_TEST(egress_slot_reregistered_drops_its_cached_lines)
{
	struct moq_subscriber s;
	struct moq_clone_cache c;
	uint32_t slot = SLOT;

	seq_set(SLOT, 9, 0);
	datagram_expect_alias(9, DOWN_ALIAS);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &s), 0);
	ck_assert_int_eq(fp_maps_put_subscriber(agent(), SLOT, &s), 0);
	c = cc_get(SLOT, ALIAS);
	ck_assert_uint_ne(c.gen, c.filled_gen);
	ck_assert_int_eq(fp_maps_purge_slot(agent(), SLOT), 0);
	ck_assert_uint_eq(cc_get(SLOT, ALIAS).gen, c.gen + 2);
	ck_assert_uint_eq(cc_get(SLOT, ALIAS + 1).gen, c.gen + 2); /* every way */
}
END_TEST

/* ---- verifier ---------------------------------------------------------------- */

START_TEST(programs_verify_and_report_verified_insns)
{
	printf("verified_insns upstream_ingress=%u subscriber_egress=%u "
	       "subscriber_ingress=%u relay_ingress=%u\n",
	       bpf_relay_verified_insns(R.upstream_ingress),
	       bpf_relay_verified_insns(R.subscriber_egress),
	       bpf_relay_verified_insns(R.subscriber_ingress),
	       bpf_relay_verified_insns(R.relay_ingress));
	ck_assert_uint_gt(bpf_relay_verified_insns(R.upstream_ingress), 0);
	ck_assert_uint_gt(bpf_relay_verified_insns(R.subscriber_egress), 0);
	fflush(stdout);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bpf_fastpath");
	TCase *in = tcase_create("upstream_ingress");
	TCase *bad = tcase_create("ineligible");
	TCase *eg = tcase_create("subscriber_egress");
	TCase *si = tcase_create("subscriber_ingress");
	TCase *pn = tcase_create("pn_window");
	TCase *ri = tcase_create("relay_ingress");

	TCase *all[] = {in, bad, eg, si, pn, ri};
	for (size_t i = 0; i < 6; i++) {
		tcase_add_checked_fixture(all[i], setup, NULL);
		tcase_set_timeout(all[i], 60);
	}
	tcase_add_test(ri, programs_verify_and_report_verified_insns);
	tcase_add_test(ri, relay_ingress_handles_both_roles);
	tcase_add_test(in, ingress_stream_offset0_fans_out_and_records_stream);
	tcase_add_test(in, ingress_stream_later_packet_fans_out_after_start);
	tcase_add_test(in, ingress_stream_state_never_overwritten);
	tcase_add_test(in, ingress_checks_the_destination_address);
	tcase_add_test(in, ingress_datagram_fans_out);
	tcase_add_loop_test(in, ingress_datagram_with_length_then_padding, 0, 2);
	tcase_add_loop_test(in, ingress_ack_and_padding_before_stream_fan_out, 0, 2);
	tcase_add_test(in, ingress_ipv6_fans_out);
	tcase_add_test(in, ingress_vlan_tagged_fans_out);
	tcase_add_test(in, ingress_subgroup_default_priority_comes_from_track);
	tcase_add_test(in, ingress_subgroup_id_from_first_object_mode);
	tcase_add_test(in, ingress_fans_out_to_2048_subscribers);

	tcase_add_test(bad, ingress_stream_later_packet_without_start_is_ineligible);
	tcase_add_loop_test(bad, ingress_ineligible_fixture_untouched, 0,
			    (int)(sizeof(untouched) / sizeof(untouched[0])));
	tcase_add_test(bad, ingress_gro_super_packet_untouched);
	tcase_add_test(bad, ingress_stale_heartbeat_untouched);
	tcase_add_test(bad, ingress_heartbeat_in_the_future_is_stale);
	tcase_add_test(bad, ingress_disabled_untouched);
	tcase_add_test(bad, ingress_entries_of_old_generation_ignored);
	tcase_add_test(bad, ingress_inactive_subscriber_not_cloned);
	tcase_add_test(bad, subscriber_without_mac_gets_no_clone);

	tcase_add_test(eg, egress_leaves_unmarked_packets_alone);
	tcase_add_test(eg, egress_rewrites_stream_start);
	tcase_add_test(eg, egress_later_packets_keep_stream_and_take_next_pn);
	tcase_add_loop_test(eg, egress_turns_ack_into_padding, 0, 2);
	tcase_add_test(eg, egress_rewrites_datagram_alias);
	tcase_add_test(eg, egress_same_alias_left_as_is);
	tcase_add_test(eg, egress_rewrites_ipv6);
	tcase_add_test(eg, egress_strips_publisher_vlan);
	tcase_add_test(eg, egress_keeps_zero_udp_checksum);
	tcase_add_test(eg, egress_pn_shared_with_mmapped_counter);
	tcase_add_test(eg, egress_gate_drop_resets_stream_and_drops_rest);
	tcase_add_test(eg, egress_gate_drop_at_stream_start_marks_unopened_reset);
	tcase_add_test(eg, egress_gate_drops_low_priority_first);
	tcase_add_test(eg, egress_never_forwards_beyond_the_stream_credit);
	tcase_add_test(eg, egress_stream_credit_follows_max_stream_data);
	tcase_add_test(eg, egress_clone_cache_answers_the_next_clone);
	tcase_add_test(eg, egress_job_clones_share_one_clock_read_per_eight);
	tcase_add_test(eg, egress_subscription_change_after_the_cache_filled_is_seen);
	tcase_add_test(eg, egress_stream_removed_or_reset_after_the_cache_filled_never_forwards);
	tcase_add_test(eg, egress_cache_line_being_filled_or_stale_is_not_used);
	tcase_add_test(eg, egress_slot_reregistered_drops_its_cached_lines);
	tcase_add_test(eg, egress_takes_connection_credit_per_stream_byte);
	tcase_add_test(eg, egress_credit_disabled_checks_nothing);
	tcase_add_test(eg, egress_stale_heartbeat_drops_clone);
	tcase_add_test(eg, egress_heartbeat_in_the_future_drops_clone);
	tcase_add_test(in, ingress_heartbeat_just_ahead_of_the_clock_is_fresh);
	tcase_add_test(eg, egress_mid_stream_without_mapping_dropped);
	tcase_add_test(eg, egress_stream_of_a_group_before_the_filter_start_not_opened);
	tcase_add_test(eg, egress_stream_of_the_filter_start_group_is_opened);
	tcase_add_test(eg, egress_datagram_of_a_group_before_the_filter_start_dropped);
	tcase_add_test(eg, egress_unsubscribed_slot_dropped);
	tcase_add_test(eg, egress_family_mismatch_dropped);
	tcase_add_test(eg, egress_alias_too_wide_dropped);
	tcase_add_test(eg, egress_alias_too_wide_gives_back_the_gate_budget);
	tcase_add_test(eg, egress_takes_the_live_fanout_job);
	tcase_add_test(eg, egress_job_clone_uses_the_ingress_heartbeat_check);
	tcase_add_test(eg, egress_wide_alias_rewritten_at_same_width);
	tcase_add_test(eg, egress_logs_forwarded_clone_and_emits_event_only_for_drop);
	tcase_add_test(eg, egress_log_reports_fin_and_datagram_identity);
	tcase_add_test(eg, egress_full_log_drops_without_taking_a_number);
	tcase_add_test(eg, egress_log_wraps_with_a_reader);
	tcase_add_test(eg, egress_full_event_ring_counts_lost_events);

	tcase_add_test(si, sub_ingress_learns_l2_and_counts);
	tcase_add_test(si, sub_ingress_learns_relay_mac_when_unset);
	tcase_add_test(si, sub_ingress_learns_only_from_unicast_to_the_relay);
	tcase_add_test(si, sub_ingress_never_registers_unknown_cid);
	tcase_add_test(si, sub_ingress_ignores_inactive_slot);
	tcase_add_test(si, sub_ingress_wrong_source_not_learned);

	suite_add_tcase(s, in);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, eg);
	tcase_add_test(pn, ingress_same_pn_twice_cloned_once);
	tcase_add_test(pn, ingress_pn_below_the_window_not_cloned);
	tcase_add_test(pn, ingress_pn_wraps_the_32_bit_field);
	tcase_add_test(pn, ingress_non_media_packet_marks_its_pn);
	tcase_add_test(pn, ingress_without_a_pn_window_not_cloned);
	tcase_add_test(pn, ingress_pn_race_between_cpus_passes_each_once);

	suite_add_tcase(s, si);
	suite_add_tcase(s, pn);
	suite_add_tcase(s, ri);
	return s;
}

int main(void)
{
	bpf_relay_netns_private();
	/* one load (and verification) for all 121 checks: setup puts the
	 * maps back (bpf_relay.h) */
	bpf_relay_load_kept(&R, NULL, NULL);
	return bpf_relay_run_suite(suite(), &R);
}
