/* The upstream ingress program's TLS step (tc-progs/lib/upstream_open.h,
 * lib/quic_canon.h) through bpf_prog_test_run: a protected 1-RTT publisher
 * packet of every packet-number length, stream-id width and key phase
 * comes out as exactly the plaintext-profile packet of the same content,
 * with valid checksums; and the refusals (wrong tag, no keys, duplicate,
 * reserved bits, the agent's copy). Two objects:
 *   "aes":  relay.bpf.o, packets sealed with gnutls (AES-128-GCM + header
 *           protection), keys installed with fp_keys_set_up;
 *   "null": tc-progs/testing/tls_null.bpf.o, the same object with a null
 *           protection (a fixed header-protection mask and a fixed 16-byte
 *           tag per key phase, payload not encrypted): everything around
 *           the crypto, cheaply, in more combinations.
 * Needs root; runs in a private network namespace (the agent's copy goes
 * to its loopback). */
#include <check.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/bpf_pkt.h"
#include "lib/bpf_relay.h"
#include "lib/fp_keys.h"
#include "lib/tls_seal.h"
#include "lib/fp_mapwrite.h"
#include "lib/fp_names.h"
#include "moq_maps.h"

#define RELAY_PORT 4443
#define UP_CONN 7
#define SLOT 3
#define ALIAS 5
#define PN_BASE 0x1fff0ull

static struct bpf_relay R;
static struct fp_keys K;
static int aes; /* the "aes" case: relay.bpf.o, real keys */
static const uint8_t up_cid[8] = {0xa1, 1, 2, 3, 4, 5, 6, 7};
static const uint8_t pub_ip[4] = {10, 0, 0, 1}, relay_ip[4] = {10, 0, 0, 254};
static const uint8_t pub_ip6[16] = {0xfd, 0, [15] = 1};
static const uint8_t relay_ip6[16] = {0xfd, 0, [15] = 0xfe};
static const uint8_t mac_pub[6] = {2, 0, 0, 0, 0, 1}, mac_relay[6] = {2, 0, 0, 0, 0, 0xfe};
static const uint8_t hp[5] = {0x1b, 0xa5, 0x5a, 0x3c, 0xc3};
static const uint8_t tags[2][16] = {"null-tag-phase-0", "null-tag-phase-1"};
static const struct fp_tls_key keys[2] = {
    {.key = {0x11, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x16},
     .iv = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb},
     .hp = {0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e,
	    0x7f, 0x80},
     .phase = 0},
    {.key = {0xe1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xe6},
     .iv = {0xd0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xdb},
     .hp = {0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e,
	    0x7f, 0x80},
     .phase = 1},
};

/* tc-progs/testing/tls_null.bpf.c */
struct null_key_id {
	uint32_t conn_id, phase;
};
struct null_key {
	uint8_t hp[5], pad0[3], tag[16];
};

static char obj_path[512];
static uint64_t next_pn;

#define mfd(name) bpf_relay_mfd(&R, name)

static void set_key(uint32_t phase, int present)
{
	struct null_key_id id = {.conn_id = UP_CONN, .phase = phase};
	struct null_key k = {0};

	if (aes) {
		/* fp_keys wipes both phases together */
		if (present)
			ck_assert_int_eq(fp_keys_set_up(&K, UP_CONN, &keys[phase]), 0);
		else
			ck_assert_int_eq(fp_keys_wipe_up(&K, UP_CONN), 0);
		return;
	}
	memcpy(k.hp, hp, 5);
	memcpy(k.tag, tags[phase], 16);
	if (present)
		ck_assert_int_eq(bpf_map_update_elem(mfd("moq_null_keys"), &id, &k, 0), 0);
	else
		bpf_map_delete_elem(mfd("moq_null_keys"), &id);
}

static void set_window(uint64_t next)
{
	struct moq_pn_window w = {.generation = 1, .next = next};
	uint32_t conn = UP_CONN;

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_pn_windows"), &conn, &w, 0), 0);
}

static uint64_t window_next(void)
{
	struct moq_pn_window w;
	uint32_t conn = UP_CONN;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_pn_windows"), &conn, &w), 0);
	return w.next;
}

static void set_upstream(int family, uint8_t flags)
{
	struct moq_upstream u = {.conn_id = UP_CONN,
				 .generation = 1,
				 .family = family == 6 ? MOQ_AF_INET6 : MOQ_AF_INET,
				 .flags = flags,
				 .sport_be = htons(5000)};

	memcpy(u.saddr, family == 6 ? pub_ip6 : pub_ip, family == 6 ? 16 : 4);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_upstreams"), up_cid, &u, 0), 0);
}

static void set_sub_family(uint8_t family)
{
	struct moq_subscriber s;
	uint32_t slot = SLOT;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &s), 0);
	s.family = family;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
}

/* Per test (checked fixture): the state every test starts from. */
static void setup_state(void)
{
	struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE,
				   .generation = 1,
				   .ifindex = 1,
				   .family = MOQ_AF_INET,
				   .sport_be = htons(RELAY_PORT),
				   .dport_be = htons(6000)};
	static struct moq_track_subs t;
	struct moq_track_key tk = {.conn_id = UP_CONN, .track_alias = ALIAS};
	struct moq_subscription_key bk = {.slot = SLOT, .conn_id = UP_CONN, .track_alias = ALIAS};
	struct moq_subscription b = {.track_alias = ALIAS};
	uint32_t slot = SLOT;

	ck_assert_int_eq(bpf_relay_restore(&R), 0);
	ck_assert_int_eq(bpf_relay_config(&R, RELAY_PORT, 60ull * 1000000000ull), 0);
	set_upstream(4, MOQ_UP_F_TLS);
	next_pn = PN_BASE;
	set_window(next_pn);
	set_key(0, 1);
	set_key(1, 1);
	memcpy(s.eth_src, mac_relay, 6);
	memcpy(s.eth_dst, mac_pub, 6);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	memset(&t, 0, sizeof(t));
	t.count = 1;
	t.slots[0] = SLOT;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscriptions"), &bk, &b, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_tracks"), &tk, &t, 0), 0);
}

/* Per test case (unchecked fixture: loading and verifying the object
 * takes about a second, so once; the tests run in forks and setup_state
 * puts every map back as it was after the load, bpf_relay.h). */
static void load(int with_aes)
{
	const char *bdir = getenv("B");

	aes = with_aes;
	if (aes) {
		char err[256] = "";

		ck_assert_int_eq(bpf_relay_open(&R), 0);
		ck_assert_msg(!fp_keys_open_from(&K, R.obj, err, sizeof(err)), "fp_keys: %s", err);
	} else {
		snprintf(obj_path, sizeof(obj_path), "%s/tc-progs/testing/tls_null.bpf.o",
			 bdir && *bdir ? bdir : "build");
		ck_assert_int_eq(bpf_relay_open_file(&R, obj_path), 0);
	}
	ck_assert_int_eq(bpf_relay_keep(&R), 0);
}

static void load_null(void)
{
	load(0);
}

static void load_aes(void)
{
	load(1);
}

static void unload(void)
{
	if (aes)
		fp_keys_close(&K);
	bpf_relay_keep_free(&R);
	bpf_relay_close(&R);
}

/* ---- packets ------------------------------------------------------------- */

struct pk {
	uint8_t frames[1600];
	size_t flen;
	uint8_t pkt[2048];
	size_t len;
};

struct tls_opts {
	int family;
	int pn_len; /* 1..4 */
	int phase;
	uint8_t reserved; /* bits 0x18 of the first byte */
	const uint8_t *tag;
};

static void spec_init(struct bpf_pkt_spec *s, int family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	memcpy(s->eth_src, mac_pub, 6);
	memcpy(s->eth_dst, mac_relay, 6);
	memcpy(s->saddr, family == 6 ? pub_ip6 : pub_ip, family == 6 ? 16 : 4);
	memcpy(s->daddr, family == 6 ? relay_ip6 : relay_ip, family == 6 ? 16 : 4);
	memcpy(s->dcid, up_cid, 8);
	s->sport = 5000;
	s->dport = RELAY_PORT;
}

/* The protected packet of frames f, number pn: sealed with gnutls in the
 * "aes" case, else null-protected (o->tag: another tag). */
static void build_tls(struct pk *out, const struct pk *f, uint64_t pn, const struct tls_opts *o)
{
	struct bpf_pkt_spec s;
	uint8_t q[1700];
	size_t hlen = 9 + (size_t)o->pn_len, len = hlen + f->flen + 16;
	uint32_t wire = 0;
	const uint8_t *tag = o->tag ? o->tag : tags[o->phase];

	ck_assert_uint_le(len, sizeof(q));
	spec_init(&s, o->family ? o->family : 4);
	q[0] = (uint8_t)(0x40 | o->reserved | o->phase << 2 | (o->pn_len - 1));
	memcpy(q + 1, up_cid, 8);
	for (int i = 0; i < o->pn_len; i++)
		q[9 + i] = (uint8_t)(pn >> (8 * (o->pn_len - 1 - i)));
	memcpy(q + hlen, f->frames, f->flen);
	if (aes) {
		ck_assert_int_eq(tls_seal(q, len, hlen, pn, &keys[o->phase]), 0);
		if (o->tag)
			q[len - 1] ^= 0x80; /* a wrong tag */
	} else {
		memcpy(q + len - 16, tag, 16);
		q[0] ^= hp[0] & 0x1f;
		for (int i = 0; i < o->pn_len; i++)
			q[9 + i] ^= hp[1 + i];
	}
	s.first = q[0];
	for (int i = 0; i < o->pn_len; i++)
		wire = wire << 8 | q[9 + i];
	s.pn = wire;
	s.pn_len = o->pn_len;
	s.frames = q + hlen;
	s.frames_len = len - hlen;
	s.no_tag = 1;
	out->len = bpf_pkt_build(out->pkt, sizeof(out->pkt), &s);
	ck_assert_uint_gt(out->len, 0);
}

/* The plaintext-profile packet of frames f, number pn. */
static void build_plain(struct pk *out, const struct pk *f, uint64_t pn, int family)
{
	struct bpf_pkt_spec s;

	spec_init(&s, family ? family : 4);
	s.pn = (uint32_t)pn;
	s.frames = f->frames;
	s.frames_len = f->flen;
	out->len = bpf_pkt_build(out->pkt, sizeof(out->pkt), &s);
	ck_assert_uint_gt(out->len, 0);
}

/* [ACK] STREAM(sid as a sid_w-byte varint, offset 0[, LEN]) SUBGROUP_HEADER
 * + one object of data_len bytes [+ 5 PADDING]. */
static void frames_stream(struct pk *f, int ack, int sid_w, uint64_t sid, size_t data_len,
			  int with_len)
{
	uint8_t obj[1400];
	size_t pos = 0, olen = 0;

	olen = bpf_frame_subgroup(obj, 0, 0x14, ALIAS, 11, 2, 32);
	olen = bpf_frame_vi(obj, olen, 0, 0);
	olen = bpf_frame_vi(obj, olen, data_len, 0);
	for (size_t i = 0; i < data_len; i++)
		obj[olen + i] = (uint8_t)(i * 7 + 3);
	olen += data_len;
	if (ack)
		pos = bpf_frame_ack(f->frames, pos, 2, 1);
	f->frames[pos++] = with_len ? 0x0a : 0x08;
	pos = bpf_frame_qv(f->frames, pos, sid, (size_t)sid_w);
	if (with_len)
		pos = bpf_frame_qv(f->frames, pos, olen, 2);
	memcpy(f->frames + pos, obj, olen);
	pos += olen;
	if (with_len) {
		memset(f->frames + pos, 0, 5);
		pos += 5;
	}
	f->flen = pos;
}

/* ---- running ------------------------------------------------------------- */

static struct bpf_relay_run run;

static void run_prog(int fd, const struct pk *p, uint32_t mark)
{
	memset(&run, 0, sizeof(run));
	run.mark_in = mark;
	ck_assert_int_eq(bpf_relay_test_run(fd, p->pkt, p->len, &run), 0);
}

static uint64_t stat(uint32_t reason)
{
	return bpf_relay_stat(&R, MOQ_PROG_UPSTREAM_INGRESS, reason);
}

/* The subscribers' clones go to lo (setup_state's subscriber): a packet
 * socket there sees each one leave (PACKET_OUTGOING). */
static int capture_open(void)
{
	struct sockaddr_ll ll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = 1};
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ll, sizeof(ll)), 0);
	return fd;
}

/* The next clone that left lo, or 0 bytes if none. */
static size_t capture_clone(int fd, uint8_t *buf, size_t cap)
{
	struct sockaddr_ll from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) >= 0) {
		if (from.sll_pkttype == PACKET_OUTGOING)
			return (size_t)n;
		fl = sizeof(from);
	}
	return 0;
}

/* The program's output is the packet as it came in: after the fan-out the
 * agent gets the original bytes back. */
static void expect_pristine(const struct pk *in, const char *name)
{
	ck_assert_msg(run.out_len == in->len, "%s: length %u, want %zu", name, run.out_len,
		      in->len);
	ck_assert_msg(!memcmp(run.out, in->pkt, in->len), "%s: not restored", name);
}

/* The TLS packet in went through fd and was counted as reason: FORWARDED
 * -> its clone (on lo) is exactly want and the original, restored, is
 * redirected to the agent behind it (MOQ_MARK_PASS); otherwise no clone
 * and the restored original passes. */
static void expect_canonical(int fd, const struct pk *in, const struct pk *want, uint32_t reason,
			     const char *name)
{
	uint64_t before = stat(reason);
	int cap = capture_open();
	uint8_t clone[2048];
	size_t n;

	run_prog(fd, in, 0);
	ck_assert_msg(stat(reason) == before + 1, "%s: reason %s not counted", name,
		      fp_reason_name(reason));
	expect_pristine(in, name);
	n = capture_clone(cap, clone, sizeof(clone));
	close(cap);
	if (reason != MOQ_R_FORWARDED) {
		ck_assert_msg(run.retval == TC_ACT_OK, "%s: verdict %u", name, run.retval);
		ck_assert_msg(n == 0, "%s: cloned", name);
		return;
	}
	ck_assert_msg(run.retval == TC_ACT_REDIRECT, "%s: verdict %u", name, run.retval);
	ck_assert_msg(run.mark_out == MOQ_MARK_PASS, "%s: mark %x", name, run.mark_out);
	ck_assert_msg(n == want->len, "%s: clone length %zu, want %zu", name, n, want->len);
	ck_assert_msg(bpf_pkt_csum_ok(clone, n), "%s: bad checksum", name);
	for (size_t i = 0; i < want->len; i++)
		ck_assert_msg(clone[i] == want->pkt[i], "%s: byte %zu is %02x, want %02x", name, i,
			      clone[i], want->pkt[i]);
}

/* Passed untouched (TC_ACT_OK, same bytes, same mark), counted as reason. */
static void expect_untouched(const struct pk *in, uint32_t mark, uint32_t reason)
{
	uint64_t before = stat(reason);

	run_prog(R.upstream_ingress, in, mark);
	ck_assert_msg(stat(reason) == before + 1, "reason %s not counted", fp_reason_name(reason));
	ck_assert_uint_eq(run.retval, TC_ACT_OK);
	ck_assert_uint_eq(run.out_len, in->len);
	ck_assert(!memcmp(run.out, in->pkt, in->len));
}

/* Opened (or tried) and refused: not cloned, counted as reason, the
 * original restored and passed to the agent. */
static void expect_refused(const struct pk *in, uint32_t reason)
{
	uint64_t before = stat(reason), fwd = stat(MOQ_R_FORWARDED);
	int cap = capture_open();
	uint8_t clone[2048];

	run_prog(R.upstream_ingress, in, 0);
	ck_assert_msg(stat(reason) == before + 1, "reason %s not counted", fp_reason_name(reason));
	ck_assert_uint_eq(run.retval, TC_ACT_OK);
	expect_pristine(in, fp_reason_name(reason));
	ck_assert_uint_eq(stat(MOQ_R_FORWARDED), fwd);
	ck_assert_uint_eq(capture_clone(cap, clone, sizeof(clone)), 0);
	close(cap);
}

/* ---- tests ------------------------------------------------------------------ */

static const int sid_widths[4] = {1, 2, 4, 8};

/* i: pn length (1..4) x stream-id width (1/2/4/8) x key phase; odd i with
 * ACK frames before the STREAM frame, every fourth with a LEN field and
 * PADDING after it; sizes from 60 to ~1,200 bytes. */
START_TEST(tls_packet_becomes_the_plaintext_form)
{
	int pn_len = 1 + (_i & 3), sid_w = sid_widths[(_i >> 2) & 3], phase = (_i >> 4) & 1;
	uint64_t sid = sid_w == 1 ? 2 + 4 * (uint64_t)(_i & 15) : 1002 + 4 * (uint64_t)_i;
	struct tls_opts o = {.pn_len = pn_len, .phase = phase};
	struct pk f, in, want;
	char name[64];

	snprintf(name, sizeof(name), "pn_len %d, sid width %d, phase %d", pn_len, sid_w, phase);
	frames_stream(&f, _i & 1, sid_w, sid, _i % 3 ? 1100 - 10 * (size_t)_i : 4, !(_i & 3));
	build_tls(&in, &f, next_pn, &o);
	/* the same frames with a 4-byte stream id */
	frames_stream(&f, _i & 1, 4, sid, _i % 3 ? 1100 - 10 * (size_t)_i : 4, !(_i & 3));
	build_plain(&want, &f, next_pn, 4);
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_FORWARDED, name);
	ck_assert_uint_eq(window_next(), next_pn + 1);
	next_pn++;
}
END_TEST

START_TEST(tls_packet_through_relay_ingress)
{
	struct tls_opts o = {.pn_len = 2};
	struct pk f, in, want;

	frames_stream(&f, 1, 1, 6, 700, 0);
	build_tls(&in, &f, next_pn, &o);
	frames_stream(&f, 1, 4, 6, 700, 0);
	build_plain(&want, &f, next_pn, 4);
	expect_canonical(R.relay_ingress, &in, &want, MOQ_R_FORWARDED, "relay_ingress");
}
END_TEST

START_TEST(tls_ipv6_packet_becomes_the_plaintext_form)
{
	struct tls_opts o = {.family = 6, .pn_len = 1, .phase = 1};
	struct pk f, in, want;

	set_upstream(6, MOQ_UP_F_TLS);
	frames_stream(&f, 1, 2, 70, 900, 1);
	build_tls(&in, &f, next_pn, &o);
	frames_stream(&f, 1, 4, 70, 900, 1);
	build_plain(&want, &f, next_pn, 6);
	/* no subscriber of that family: classified, not cloned */
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_NO_SUBSCRIBERS, "ipv6");
	/* one of that family: cloned */
	set_sub_family(MOQ_AF_INET6);
	build_tls(&in, &f, ++next_pn, &o);
	build_plain(&want, &f, next_pn, 6);
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_FORWARDED, "ipv6 cloned");
}
END_TEST

START_TEST(tls_datagram_becomes_the_plaintext_form)
{
	struct tls_opts o = {.pn_len = 3};
	struct pk f, in, want;
	size_t pos = 0;

	f.frames[pos++] = 0x30;
	pos = bpf_frame_vi(f.frames, pos, 0x00, 0);
	pos = bpf_frame_vi(f.frames, pos, ALIAS, 0);
	pos = bpf_frame_vi(f.frames, pos, 12, 0);
	pos = bpf_frame_vi(f.frames, pos, 3, 0);
	f.frames[pos++] = 16;
	memset(f.frames + pos, 0x61, 300);
	f.flen = pos + 300;
	build_tls(&in, &f, next_pn, &o);
	build_plain(&want, &f, next_pn, 4);
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_FORWARDED, "datagram");
}
END_TEST

/* RFC 9000 A.3: the 1-byte number 0x03 after a largest of 0x1fffd is
 * 0x20003 (the low 32 bits go into the canonical PN field). */
START_TEST(tls_short_pn_decodes_across_its_window)
{
	struct tls_opts o = {.pn_len = 1};
	struct pk f, in, want;

	set_window(0x1fffe);
	frames_stream(&f, 0, 1, 2, 200, 0);
	build_tls(&in, &f, 0x20003, &o);
	build_plain(&want, &f, 0, 4);
	frames_stream(&f, 0, 4, 2, 200, 0);
	build_plain(&want, &f, 0x20003, 4);
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_FORWARDED, "decode");
	ck_assert_uint_eq(window_next(), 0x20004);
}
END_TEST

/* A connection registered after ~1,000 packets: with the window the agent
 * seeds (fp_maps_seed_pn_window, largest 1000) the 1-byte number of 1001
 * decodes to 1001 and opens; numbers up to 1000 are duplicates (the agent
 * may have processed them). A zeroed window decodes it to 0xe9 (233): the
 * nonce is wrong, the open fails ("aes"; "null" has no nonce). */
START_TEST(tls_seeded_window_decodes_a_late_connection)
{
	struct tls_opts o = {.pn_len = 1};
	struct fp_maps m;
	struct pk f, in, want, old;

	memset(&m, 0, sizeof(m));
	for (int i = 0; i < FP_MAP_MAX; i++)
		m.fd[i] = -1;
	m.fd[FP_MAP_PN_WINDOWS] = mfd("moq_pn_windows");
	frames_stream(&f, 0, 1, 2, 300, 0);
	build_tls(&in, &f, 1001, &o);
	frames_stream(&f, 0, 4, 2, 300, 0);
	build_plain(&want, &f, 1001, 4);
	ck_assert_int_eq(fp_maps_reset_pn_window(&m, UP_CONN, 1), 0);
	if (aes) {
		expect_refused(&in, MOQ_R_AEAD_OPEN_FAILED);
		ck_assert_uint_eq(window_next(), 0);
	} else {
		run_prog(R.upstream_ingress, &in, 0); /* the null tag opens anyway */
		ck_assert_uint_eq(window_next(), 0xe9 + 1);
	}
	ck_assert_int_eq(fp_maps_seed_pn_window(&m, UP_CONN, 1, 1000), 0);
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_FORWARDED, "seeded");
	ck_assert_uint_eq(window_next(), 1002);
	/* below the new largest: already seen (1000, 990) or below (700) */
	ck_assert_int_eq(fp_maps_seed_pn_window(&m, UP_CONN, 1, 1000), 0);
	for (uint64_t pn = 1000; pn >= 700; pn -= pn == 1000 ? 10 : 290) {
		frames_stream(&f, 0, 1, 2, 300, 0);
		build_tls(&old, &f, pn, &(struct tls_opts){.pn_len = 2});
		expect_untouched(&old, 0, MOQ_R_PN_DUPLICATE);
	}
}
END_TEST

START_TEST(tls_wrong_tag_never_cloned)
{
	static const uint8_t bad[16] = "null-tag-phase-X";
	struct tls_opts o = {.pn_len = 2, .tag = bad};
	struct pk f, in;

	frames_stream(&f, 0, 1, 2, 500, 0);
	build_tls(&in, &f, next_pn, &o);
	expect_refused(&in, MOQ_R_AEAD_OPEN_FAILED);
	/* a forgery does not move the window */
	ck_assert_uint_eq(window_next(), next_pn);
}
END_TEST

START_TEST(tls_without_keys_untouched)
{
	struct tls_opts o = {.pn_len = 2, .phase = 1};
	struct pk f, in;

	frames_stream(&f, 0, 1, 2, 500, 0);
	build_tls(&in, &f, next_pn, &o);
	set_key(1, 0);
	expect_untouched(&in, 0, MOQ_R_NO_KEYS); /* phase 1 missing */
	set_key(0, 0);
	expect_untouched(&in, 0, MOQ_R_NO_KEYS); /* none */
}
END_TEST

START_TEST(tls_duplicate_pn_not_cloned)
{
	struct tls_opts o = {.pn_len = 4};
	struct pk f, in, want;

	frames_stream(&f, 0, 1, 2, 500, 0);
	build_tls(&in, &f, next_pn, &o);
	frames_stream(&f, 0, 4, 2, 500, 0);
	build_plain(&want, &f, next_pn, 4);
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_FORWARDED, "first");
	/* seen: not even copied or opened, the agent gets it as it is */
	expect_untouched(&in, 0, MOQ_R_PN_DUPLICATE);
	/* below the window */
	set_window(next_pn + 1000);
	expect_untouched(&in, 0, MOQ_R_PN_DUPLICATE);
}
END_TEST

START_TEST(tls_reserved_bits_not_cloned)
{
	struct tls_opts o = {.pn_len = 1, .reserved = 0x10};
	struct pk f, in;

	frames_stream(&f, 0, 1, 2, 100, 0);
	build_tls(&in, &f, next_pn, &o);
	expect_refused(&in, MOQ_R_HEADER_BITS);
}
END_TEST

/* An authentic packet without media is not cloned but moves the window:
 * the next short numbers decode against it. */
START_TEST(tls_non_media_packet_moves_the_window)
{
	struct tls_opts o = {.pn_len = 1};
	struct pk f, in;

	f.flen = bpf_frame_ack(f.frames, 0, 1, 0);
	memset(f.frames + f.flen, 0, 20);
	f.flen += 20;
	build_tls(&in, &f, next_pn + 100, &o);
	expect_refused(&in, MOQ_R_NO_MEDIA_FRAME);
	ck_assert_uint_eq(window_next(), next_pn + 101);
}
END_TEST

START_TEST(tls_agent_copy_passes_untouched)
{
	struct tls_opts o = {.pn_len = 2};
	struct pk f, in;

	frames_stream(&f, 0, 1, 2, 500, 0);
	build_tls(&in, &f, next_pn, &o);
	expect_untouched(&in, MOQ_MARK_PASS | 0x12, MOQ_R_PASS_COPY);
	ck_assert_uint_eq(run.mark_out, 0);
	/* and it did not touch the window */
	ck_assert_uint_eq(window_next(), next_pn);
}
END_TEST

START_TEST(tls_wrong_source_untouched)
{
	struct tls_opts o = {.pn_len = 2};
	struct pk f, in;

	frames_stream(&f, 0, 1, 2, 500, 0);
	build_tls(&in, &f, next_pn, &o);
	in.pkt[14 + 12 + 3] ^= 1; /* IPv4 source; the checksums do not matter */
	expect_untouched(&in, 0, MOQ_R_WRONG_SOURCE);
}
END_TEST

/* A packet in the plaintext-profile form with a TLS upstream's DCID is not
 * taken as plaintext: it fails the tag check. */
START_TEST(tls_upstream_refuses_plaintext_form)
{
	struct pk f, in;

	frames_stream(&f, 0, 4, 2, 500, 0);
	build_plain(&in, &f, next_pn, 4);
	expect_refused(&in, MOQ_R_AEAD_OPEN_FAILED);
}
END_TEST

/* The edge of a relay chain: the relay's --upstream connection
 * (MOQ_UP_F_PEER_SERVER), server-initiated uni streams (id & 3 == 3). */
START_TEST(tls_relay_chain_edge_becomes_the_plaintext_form)
{
	struct tls_opts o = {.pn_len = 1};
	struct pk f, in, want;

	set_upstream(4, MOQ_UP_F_TLS | MOQ_UP_F_PEER_SERVER);
	frames_stream(&f, 1, 1, 7, 800, 0);
	build_tls(&in, &f, next_pn, &o);
	frames_stream(&f, 1, 4, 7, 800, 0);
	build_plain(&want, &f, next_pn, 4);
	expect_canonical(R.upstream_ingress, &in, &want, MOQ_R_FORWARDED, "chain edge");
	/* a client-initiated stream from the upstream relay is not media */
	next_pn++;
	frames_stream(&f, 1, 1, 6, 800, 0);
	build_tls(&in, &f, next_pn, &o);
	expect_refused(&in, MOQ_R_NOT_CLIENT_UNI);
}
END_TEST

/* Random damage to authentic packets (the tag verifies, so the rewrite
 * sees whatever frames the bytes make): the program never passes a
 * changed packet, and whatever it classifies is a well-formed plaintext
 * packet with valid checksums. */
START_TEST(tls_random_frames_keep_the_invariants)
{
	uint64_t fwd = stat(MOQ_R_FORWARDED);
	int cap = capture_open();
	uint8_t clone[2048];
	struct pk f, in;
	unsigned seed = 19;

	for (int it = 0; it < 400; it++) {
		struct tls_opts o = {.pn_len = 1 + (int)(rand_r(&seed) % 4),
				     .phase = (int)(rand_r(&seed) & 1)};
		int flips = (int)(rand_r(&seed) % 6);
		size_t n;

		frames_stream(&f, (int)(rand_r(&seed) & 1), sid_widths[rand_r(&seed) % 4],
			      2 + 4 * (rand_r(&seed) % 16), rand_r(&seed) % 1100,
			      (int)(rand_r(&seed) & 1));
		if (rand_r(&seed) % 4 == 0)
			f.flen = 1 + rand_r(&seed) % f.flen; /* truncated frames */
		for (int k = 0; k < flips; k++)
			f.frames[rand_r(&seed) % f.flen] = (uint8_t)rand_r(&seed);
		build_tls(&in, &f, next_pn++, &o);
		run_prog(R.upstream_ingress, &in, 0);
		/* whatever happened, the agent gets the packet as it came */
		ck_assert_uint_eq(run.out_len, in.len);
		ck_assert(!memcmp(run.out, in.pkt, in.len));
		n = capture_clone(cap, clone, sizeof(clone));
		if (stat(MOQ_R_FORWARDED) == fwd) {
			ck_assert_uint_eq(run.retval, TC_ACT_OK);
			ck_assert_uint_eq(n, 0);
			continue;
		}
		ck_assert_uint_eq(run.retval, TC_ACT_REDIRECT);
		ck_assert_msg(n > 0, "iteration %d: forwarded, no clone", it);
		ck_assert_msg(bpf_pkt_csum_ok(clone, n), "iteration %d", it);
		ck_assert_uint_eq(clone[14 + 20 + 8], 0x43);
		ck_assert(!memcmp(clone + n - 16, "moq-plaintext-v1", 16));
		fwd = stat(MOQ_R_FORWARDED);
	}
	close(cap);
}
END_TEST

/* ---- the agent's copy on a real device ------------------------------------ */

/* relay.bpf.o's upstream program on the ingress of veth tlsB (this test's
 * private netns, address 10.9.0.254); a TLS packet sent into its peer tlsA
 * with AF_PACKET: the relay's UDP socket must get the packet exactly as
 * sent, exactly once, while the packet was opened and classified. Without
 * subscribers the restored packet passes at once; with one (on veth tlsC,
 * whose peer drops the clone: not its MAC) it is redirected to tlsB's ingress and
 * comes back with MOQ_MARK_PASS, passed untouched, not opened again. */
static void agent_copy_reaches_the_socket(int with_sub)
{
	static const uint8_t ip_b[4] = {10, 9, 0, 254};
	struct tls_opts o = {.pn_len = 1};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(RELAY_PORT)};
	struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_halen = 6};
	struct moq_upstream u = {.conn_id = UP_CONN,
				 .generation = 1,
				 .family = MOQ_AF_INET,
				 .flags = MOQ_UP_F_TLS,
				 .sport_be = htons(5000)};
	struct moq_track_key tk = {.conn_id = UP_CONN, .track_alias = ALIAS};
	uint8_t got[2048];
	struct pk f, in;
	struct pollfd pfd;
	uint32_t ifa, ifb;
	uint64_t copies0 = stat(MOQ_R_PASS_COPY), nosub0 = stat(MOQ_R_NO_SUBSCRIBERS);
	uint64_t fwd0 = stat(MOQ_R_FORWARDED);
	int us, ps, n, more;

	ck_assert_int_eq(system("ip link add tlsA type veth peer name tlsB && "
				"ip link set tlsA up && ip link set tlsB up && "
				"ip addr add 10.9.0.254/24 dev tlsB && "
				"ip link add tlsC type veth peer name tlsE && "
				"ip link set tlsC up && ip link set tlsE up"),
			 0);
	ifa = if_nametoindex("tlsA");
	ifb = if_nametoindex("tlsB");
	ck_assert(ifa && ifb);
	if (with_sub) {
		struct moq_subscriber sub;
		uint32_t slot = SLOT;

		ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, &sub), 0);
		sub.ifindex = if_nametoindex("tlsC");
		ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &sub, 0), 0);
	}
	{
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifb, .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = R.upstream_ingress);

		ck_assert_int_eq(bpf_tc_hook_create(&hook), 0);
		ck_assert_int_eq(bpf_tc_attach(&hook, &opts), 0);
	}
	if (!with_sub)
		bpf_map_delete_elem(mfd("moq_tracks"), &tk);
	memcpy(u.saddr, pub_ip, 4);
	memcpy(u.daddr, ip_b, 4);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_upstreams"), up_cid, &u, 0), 0);
	us = socket(AF_INET, SOCK_DGRAM, 0);
	memcpy(&sa.sin_addr, ip_b, 4);
	ck_assert_int_eq(bind(us, (struct sockaddr *)&sa, sizeof(sa)), 0);

	frames_stream(&f, 1, 1, 2, 1000, 0);
	build_tls(&in, &f, next_pn, &o);
	/* to tlsB's MAC and address */
	{
		struct ifreq ifr = {0};
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		strcpy(ifr.ifr_name, "tlsB");
		ck_assert_int_eq(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
		close(fd);
		memcpy(in.pkt, ifr.ifr_hwaddr.sa_data, 6);
	}
	memcpy(in.pkt + 14 + 16, ip_b, 4);
	/* the destination address is in the IPv4 header checksum and the
	 * pseudo header: rebuild both from the bytes */
	{
		uint32_t sum = 0;
		uint8_t *ip = in.pkt + 14;

		ip[10] = ip[11] = 0;
		for (int i = 0; i < 20; i += 2)
			sum += (uint32_t)ip[i] << 8 | ip[i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		ip[10] = (uint8_t)(~sum >> 8);
		ip[11] = (uint8_t)~sum;
		in.pkt[14 + 20 + 6] = in.pkt[14 + 20 + 7] = 0; /* UDP checksum 0: none */
	}
	ps = socket(AF_PACKET, SOCK_RAW, 0);
	ck_assert_int_ge(ps, 0);
	ll.sll_ifindex = (int)ifa;
	memcpy(ll.sll_addr, in.pkt, 6);
	ck_assert_int_eq(sendto(ps, in.pkt, in.len, 0, (struct sockaddr *)&ll, sizeof(ll)),
			 (ssize_t)in.len);
	pfd.fd = us;
	pfd.events = POLLIN;
	ck_assert_msg(poll(&pfd, 1, 2000) == 1, "the agent's copy did not arrive");
	n = (int)recv(us, got, sizeof(got), 0);
	ck_assert_int_eq(n, (int)(in.len - 14 - 20 - 8));
	ck_assert_mem_eq(got, in.pkt + 14 + 20 + 8, (size_t)n);
	more = poll(&pfd, 1, 300);
	ck_assert_msg(more == 0, "a second datagram arrived");
	ck_assert_uint_eq(stat(MOQ_R_PASS_COPY), copies0 + !!with_sub);
	ck_assert_uint_eq(stat(MOQ_R_NO_SUBSCRIBERS), nosub0 + !with_sub);
	ck_assert_uint_eq(stat(MOQ_R_FORWARDED), fwd0 + !!with_sub);
	close(ps);
	close(us);
	ck_assert_int_eq(system("ip link del tlsA && ip link del tlsC"), 0);
}

START_TEST(tls_agent_copy_reaches_the_socket_once_intact)
{
	agent_copy_reaches_the_socket(0);
}
END_TEST

START_TEST(tls_agent_copy_after_the_clones_reaches_the_socket_once_intact)
{
	agent_copy_reaches_the_socket(1);
}
END_TEST

static void add_tests(TCase *tc, int loops)
{
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, tls_packet_becomes_the_plaintext_form, 0, loops);
	tcase_add_test(tc, tls_packet_through_relay_ingress);
	tcase_add_test(tc, tls_ipv6_packet_becomes_the_plaintext_form);
	tcase_add_test(tc, tls_datagram_becomes_the_plaintext_form);
	tcase_add_test(tc, tls_short_pn_decodes_across_its_window);
	tcase_add_test(tc, tls_seeded_window_decodes_a_late_connection);
	tcase_add_test(tc, tls_wrong_tag_never_cloned);
	tcase_add_test(tc, tls_without_keys_untouched);
	tcase_add_test(tc, tls_duplicate_pn_not_cloned);
	tcase_add_test(tc, tls_reserved_bits_not_cloned);
	tcase_add_test(tc, tls_non_media_packet_moves_the_window);
	tcase_add_test(tc, tls_agent_copy_passes_untouched);
	tcase_add_test(tc, tls_wrong_source_untouched);
	tcase_add_test(tc, tls_upstream_refuses_plaintext_form);
	tcase_add_test(tc, tls_relay_chain_edge_becomes_the_plaintext_form);
}

static Suite *suite(void)
{
	Suite *s = suite_create("bpf_upstream_tls");
	TCase *a = tcase_create("aes"), *n = tcase_create("null");

	tcase_add_unchecked_fixture(a, load_aes, unload);
	tcase_add_unchecked_fixture(n, load_null, unload);
	tcase_add_checked_fixture(a, setup_state, 0);
	tcase_add_checked_fixture(n, setup_state, 0);
	add_tests(a, 32);
	tcase_add_test(a, tls_agent_copy_reaches_the_socket_once_intact);
	tcase_add_test(a, tls_agent_copy_after_the_clones_reaches_the_socket_once_intact);
	add_tests(n, 32);
	tcase_add_test(n, tls_random_frames_keep_the_invariants);
	suite_add_tcase(s, a);
	suite_add_tcase(s, n);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	bpf_relay_netns_private();
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
