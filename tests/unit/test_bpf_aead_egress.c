/* tc/subscriber_egress for a TLS slot (MOQ_SUB_F_TLS): the clone is the
 * plaintext-profile clone a plaintext slot gets, sealed with the slot's
 * keys (checked by opening it with gnutls); without keys or without the
 * seal program nothing leaves. relay.bpf.o with keys and the seal program
 * from agent/lib/fp_keys.c. Needs root (BPF). */
#include <check.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/bpf_pkt.h"
#include "lib/bpf_relay.h"
#include "lib/fp_keys.h"
#include "moq_maps.h"

#define RELAY_PORT 4443
#define UP_CONN 7
#define PLAIN 3
#define TLS 4
#define ALIAS 5
#define DOWN_ALIAS 9
#define NEXT_PN 0x123456789ull

static struct bpf_relay R;
static struct fp_keys K;
static const uint8_t up_cid[8] = {0xa1, 1, 2, 3, 4, 5, 6, 7};
static const uint8_t sub_dcid[8] = {0xb3, 0xb3, 0xb3, 0xb3, 9, 9, 9, 9};
static const uint8_t mac_pub[6] = {2, 0, 0, 0, 0, 1}, mac_relay[6] = {2, 0, 0, 0, 0, 0xfe};
static const uint8_t mac_sub[6] = {2, 0, 0, 0, 1, 3};

static const struct fp_tls_key keys[2] = {
    {.key = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
     .iv = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab},
     .hp = {0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e,
	    0x5f, 0x60},
     .phase = 0},
    {.key = {0xf1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xf6},
     .iv = {0xb0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xbb},
     .hp = {0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e,
	    0x5f, 0x60},
     .phase = 1},
};

#define mfd(name) bpf_relay_mfd(&R, name)

static void addr(uint8_t *a, int family, uint8_t last)
{
	memset(a, 0, 16);
	if (family == 6) {
		a[0] = 0xfd;
		a[15] = last;
	} else {
		a[0] = 10;
		a[3] = last;
	}
}

static void add_sub(uint32_t slot, int family, uint32_t flags)
{
	struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE | flags,
				   .generation = 1,
				   .ifindex = 1,
				   .family = family == 6 ? MOQ_AF_INET6 : MOQ_AF_INET,
				   .sport_be = htons(RELAY_PORT),
				   .dport_be = htons(6000 + slot)};
	struct moq_subscription_key bk = {.slot = slot, .conn_id = UP_CONN, .track_alias = ALIAS};
	struct moq_subscription b = {.track_alias = DOWN_ALIAS};
	struct moq_conn_seq seq = {.next_pn = NEXT_PN};

	memcpy(s.eth_src, mac_relay, 6);
	memcpy(s.eth_dst, mac_sub, 6);
	addr(s.saddr, family, 254);
	addr(s.daddr, family, 3);
	memcpy(s.dcid, sub_dcid, 8);
	s.scid[7] = (uint8_t)slot;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscriptions"), &bk, &b, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_conn_seq"), &slot, &seq, 0), 0);
}

static void setup_family(int family)
{
	struct moq_upstream u = {.conn_id = UP_CONN,
				 .generation = 1,
				 .family = family == 6 ? MOQ_AF_INET6 : MOQ_AF_INET,
				 .sport_be = htons(5000)};

	/* main loaded R and K once; this empties the maps again */
	ck_assert_int_eq(bpf_relay_restore(&R), 0);
	ck_assert_int_eq(bpf_relay_config(&R, RELAY_PORT, 10ull * 1000000000ull), 0);
	addr(u.saddr, family, 1);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_upstreams"), up_cid, &u, 0), 0);
	add_sub(PLAIN, family, 0);
	add_sub(TLS, family, MOQ_SUB_F_TLS);
	bpf_relay_stats_reset(&R);
}

static void setup(void)
{
	setup_family(4);
}

static char pin_dir[128]; /* pins a test made, removed by teardown */

static void teardown(void)
{
	if (pin_dir[0]) {
		bpf_object__unpin_maps(R.obj, pin_dir);
		rmdir(pin_dir);
		pin_dir[0] = 0;
	}
}

/* publisher -> relay: one OBJECT_DATAGRAM with n payload bytes */
static size_t up_packet(uint8_t *pkt, size_t cap, int family, size_t n)
{
	static uint8_t frames[1600];
	struct bpf_pkt_spec s = {.family = family, .sport = 5000, .dport = RELAY_PORT, .pn = 77};
	size_t pos = 0;

	memcpy(s.eth_src, mac_pub, 6);
	memcpy(s.eth_dst, mac_relay, 6);
	addr(s.saddr, family, 1);
	addr(s.daddr, family, 254);
	memcpy(s.dcid, up_cid, 8);
	frames[pos++] = 0x30; /* DATAGRAM to the end of the packet */
	pos = bpf_frame_vi(frames, pos, 0x00, 0);
	pos = bpf_frame_vi(frames, pos, ALIAS, 0);
	pos = bpf_frame_vi(frames, pos, 12, 0);
	pos = bpf_frame_vi(frames, pos, 3, 0);
	frames[pos++] = 16;
	for (size_t i = 0; i < n; i++)
		frames[pos++] = (uint8_t)(i * 13 + 1);
	s.frames = frames;
	s.frames_len = pos;
	return bpf_pkt_build(pkt, cap, &s);
}

static struct bpf_relay_run run;

static uint32_t egress(uint32_t slot, const uint8_t *pkt, size_t len)
{
	memset(&run, 0, sizeof(run));
	run.mark_in = MOQ_MARK_MAGIC | slot;
	ck_assert_int_eq(bpf_relay_test_run(R.subscriber_egress, pkt, len, &run), 0);
	return run.retval;
}

static size_t quic_off(int family)
{
	return 14 + (family == 6 ? 40 : 20) + 8;
}

/* Removes header protection and opens the QUIC packet at q (len bytes,
 * 13-byte header) in place with gnutls. Returns 1 when it opens. */
static int gnutls_open(uint8_t *q, size_t len, const struct fp_tls_key *key, uint64_t pn)
{
	gnutls_cipher_hd_t ecb;
	gnutls_aead_cipher_hd_t h;
	uint8_t iv0[16] = {0}, mask[16], nonce[12], out[2048];
	gnutls_datum_t hk = {(unsigned char *)key->hp, 16}, ivd = {iv0, 16};
	gnutls_datum_t k = {(unsigned char *)key->key, 16};
	size_t olen = sizeof(out);
	int r;

	ck_assert_int_eq(gnutls_cipher_init(&ecb, GNUTLS_CIPHER_AES_128_CBC, &hk, &ivd), 0);
	ck_assert_int_eq(gnutls_cipher_encrypt2(ecb, q + 13, 16, mask, 16), 0);
	gnutls_cipher_deinit(ecb);
	q[0] ^= mask[0] & 0x1f;
	for (int i = 0; i < 4; i++)
		q[9 + i] ^= mask[1 + i];
	memcpy(nonce, key->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(pn >> (56 - 8 * i));
	ck_assert_int_eq(gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &k), 0);
	r = gnutls_aead_cipher_decrypt(h, nonce, 12, q, 13, 16, q + 13, len - 13, out, &olen);
	gnutls_aead_cipher_deinit(h);
	if (r < 0)
		return 0;
	memcpy(q + 13, out, olen);
	return 1;
}

static uint64_t stat_egress(uint32_t reason)
{
	return bpf_relay_stat(&R, MOQ_PROG_SUBSCRIBER_EGRESS, reason);
}

static uint64_t next_pn(uint32_t slot)
{
	struct moq_conn_seq s;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_conn_seq"), &slot, &s), 0);
	return s.next_pn;
}

/* _i: bit 0 IPv6, bit 1 phase-1 keys, bit 2 a 1,200-byte packet */
START_TEST(tls_clone_is_the_plaintext_clone_sealed)
{
	static uint8_t in[2048], plain[2048], sealed[2048];
	int family = _i & 1 ? 6 : 4;
	const struct fp_tls_key *key = &keys[(_i >> 1) & 1];
	size_t len, plen, q = quic_off(family);

	if (family == 6) {
		teardown();
		setup_family(6);
	}
	if (key->phase == 1) /* a key update: phase 0 first */
		ck_assert_int_eq(fp_keys_set_sub(&K, TLS, &keys[0]), 0);
	ck_assert_int_eq(fp_keys_set_sub(&K, TLS, key), 0);
	len = up_packet(in, sizeof(in), family, _i & 4 ? 1200 - 13 - 16 - 6 - q : 40);
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_eq(egress(PLAIN, in, len), TC_ACT_OK);
	plen = run.out_len;
	memcpy(plain, run.out, plen);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_OK);
	ck_assert_uint_eq(run.out_len, plen);
	memcpy(sealed, run.out, plen);
	ck_assert_msg(bpf_pkt_csum_ok(sealed, plen), "bad checksum");
	ck_assert_uint_eq(stat_egress(MOQ_R_FORWARDED), 2);
	/* the QUIC packet differs: protected; opened it is the plaintext
	 * one, with the key phase bit of the installed set */
	ck_assert_mem_ne(sealed + q, plain + q, plen - q);
	ck_assert_msg(gnutls_open(sealed + q, plen - q, key, NEXT_PN), "does not open");
	ck_assert_uint_eq(sealed[q], 0x43 | key->phase << 2);
	sealed[q] &= ~0x04;
	ck_assert_mem_eq(sealed + q, plain + q, plen - q - 16);
	ck_assert_mem_eq(plain + plen - 16, MOQ_PLAINTEXT_TAG, 16);
	/* only the UDP header (port, checksum) differs before it */
	ck_assert_mem_eq(sealed, plain, q - 8);
	ck_assert_uint_eq(next_pn(TLS), NEXT_PN + 1);
}
END_TEST

START_TEST(no_keys_drops_before_taking_anything)
{
	static uint8_t in[512];
	size_t len = up_packet(in, sizeof(in), 4, 40);

	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_SHOT);
	ck_assert_uint_eq(stat_egress(MOQ_R_NO_KEYS), 1);
	ck_assert_uint_eq(next_pn(TLS), NEXT_PN);
	/* set, then wiped: the same */
	ck_assert_int_eq(fp_keys_set_sub(&K, TLS, &keys[0]), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_OK);
	ck_assert_int_eq(fp_keys_wipe_sub(&K, TLS), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_SHOT);
	ck_assert_uint_eq(stat_egress(MOQ_R_NO_KEYS), 2);
	ck_assert_uint_eq(next_pn(TLS), NEXT_PN + 1);
	/* a plaintext slot is not affected */
	ck_assert_uint_eq(egress(PLAIN, in, len), TC_ACT_OK);
}
END_TEST

/* keys but no seal program in moq_seal_prog (the agent never ran):
 * dropped after the rewrite; the gate budget comes back */
START_TEST(no_seal_program_drops_and_refunds)
{
	static uint8_t in[512];
	struct moq_gate g = {.budget = 100000, .enabled = 1};
	struct moq_sent_log *log = calloc(1, sizeof(*log));
	uint32_t slot = TLS, zero = 0;
	size_t len = up_packet(in, sizeof(in), 4, 40);

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
	ck_assert_int_eq(fp_keys_set_sub(&K, TLS, &keys[0]), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_OK);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_gate"), &slot, &g), 0);
	ck_assert_int_lt(g.budget, 100000);
	g.budget = 100000;
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
	ck_assert_int_eq(bpf_map_delete_elem(mfd("moq_seal_prog"), &zero), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_SHOT);
	ck_assert_uint_eq(stat_egress(MOQ_R_NO_KEYS), 1);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_gate"), &slot, &g), 0);
	ck_assert_int_eq(g.budget, 100000);
	/* the number was taken: the agent learns it from a void entry */
	ck_assert_uint_eq(next_pn(TLS), NEXT_PN + 2);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_sent_log"), &slot, log), 0);
	ck_assert_uint_eq(log->head, 2);
	ck_assert_uint_eq(log->ent[0].kind, MOQ_SENT_KIND_DATAGRAM);
	ck_assert_uint_eq(log->ent[0].pn, NEXT_PN);
	ck_assert_uint_eq(log->ent[1].kind, MOQ_SENT_KIND_VOID);
	ck_assert_uint_eq(log->ent[1].pn, NEXT_PN + 1);
	free(log);
}
END_TEST

/* keys, but a clone longer than the sealer takes (jumbo frames): dropped
 * and refunded like one without keys, counted as seal_failed */
START_TEST(oversize_clone_is_seal_failed)
{
	static uint8_t in[2048];
	struct moq_gate g = {.budget = 100000, .enabled = 1};
	uint32_t slot = TLS;
	size_t len = up_packet(in, sizeof(in), 4, 1520);

	ck_assert_uint_gt(len, 1520);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_gate"), &slot, &g, 0), 0);
	ck_assert_int_eq(fp_keys_set_sub(&K, TLS, &keys[0]), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_SHOT);
	ck_assert_uint_eq(stat_egress(MOQ_R_SEAL_FAILED), 1);
	ck_assert_uint_eq(stat_egress(MOQ_R_NO_KEYS), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_gate"), &slot, &g), 0);
	ck_assert_int_eq(g.budget, 100000);
	/* the plaintext slot takes the same packet */
	ck_assert_uint_eq(egress(PLAIN, in, len), TC_ACT_OK);
}
END_TEST

/* The agent's way: fp_keys_open on the pin directory of relay.bpf.o's
 * maps (here pinned by the test, in production by tc). */
START_TEST(fp_keys_open_uses_the_pinned_maps)
{
	static uint8_t in[512], out[2048];
	char err[256] = "";
	struct fp_keys k2;
	size_t len = up_packet(in, sizeof(in), 4, 40), q = quic_off(4);

	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/moq-aead-test-%d", (int)getpid());
	ck_assert_int_eq(mkdir(pin_dir, 0700), 0);
	ck_assert_int_lt(fp_keys_open(&k2, pin_dir, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "attach relay.bpf.o"));
	ck_assert_int_eq(bpf_object__pin_maps(R.obj, pin_dir), 0);
	ck_assert_msg(!fp_keys_open(&k2, pin_dir, err, sizeof(err)), "fp_keys_open: %s", err);
	ck_assert_int_eq(fp_keys_set_sub(&k2, TLS, &keys[1]), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_OK);
	memcpy(out, run.out, run.out_len);
	ck_assert(gnutls_open(out + q, run.out_len - q, &keys[1], NEXT_PN));
	ck_assert_int_eq(fp_keys_wipe_sub(&k2, TLS), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_SHOT);
	fp_keys_close(&k2);
}
END_TEST

static int count_event(void *ctx, void *data, size_t len)
{
	(void)data, (void)len;
	++*(int *)ctx;
	return 0;
}

static int events_pending(void)
{
	int n = 0;
	struct ring_buffer *rb = ring_buffer__new(mfd("moq_events"), count_event, &n, NULL);

	ck_assert_ptr_nonnull(rb);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return n;
}

/* The suite loads the object once (main): bpf_relay_restore must undo
 * all a test leaves in every kind of map, or tests would see each other's
 * entries. */
START_TEST(restore_undoes_what_a_test_left)
{
	static uint8_t in[512];
	struct moq_config c;
	struct moq_sent_log *log = calloc(1, sizeof(*log));
	uint8_t key[8];
	uint32_t slot = TLS, zero = 0, id = 0;
	size_t len = up_packet(in, sizeof(in), 4, 40);
	int ids;

	/* a forwarded clone (sent log, stats, keys) and a drop without the
	 * seal program (events) */
	ck_assert_int_eq(fp_keys_set_sub(&K, TLS, &keys[0]), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_OK);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_seal_prog"), &zero, &id), 0);
	ids = (int)id;
	ck_assert_int_eq(bpf_map_delete_elem(mfd("moq_seal_prog"), &zero), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_SHOT);
	ck_assert_uint_eq(stat_egress(MOQ_R_NO_KEYS), 1);

	ck_assert_int_eq(bpf_relay_restore(&R), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_config"), &zero, &c), 0);
	ck_assert_uint_eq(c.flags, 0); /* array: back to zero */
	ck_assert_int_ne(bpf_map_get_next_key(mfd("moq_upstreams"), NULL, key), 0); /* hash */
	ck_assert_int_ne(bpf_map_get_next_key(mfd("moq_tls_keys"), NULL, key), 0);
	ck_assert_uint_eq(stat_egress(MOQ_R_NO_KEYS), 0); /* per-CPU array */
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_sent_log"), &slot, log), 0); /* mmapped */
	ck_assert_uint_eq(log->head, 0);
	ck_assert_int_eq(events_pending(), 0); /* ring buffer drained */
	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_seal_prog"), &zero, &id), 0); /* prog array */
	ck_assert_int_eq((int)id, ids);
	/* and the programs work on it as on a fresh load */
	setup_family(4);
	ck_assert_int_eq(fp_keys_set_sub(&K, TLS, &keys[0]), 0);
	ck_assert_uint_eq(egress(TLS, in, len), TC_ACT_OK);
	free(log);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bpf_aead_egress");
	TCase *t = tcase_create("egress");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_loop_test(t, tls_clone_is_the_plaintext_clone_sealed, 0, 8);
	tcase_add_test(t, no_keys_drops_before_taking_anything);
	tcase_add_test(t, no_seal_program_drops_and_refunds);
	tcase_add_test(t, oversize_clone_is_seal_failed);
	tcase_add_test(t, fp_keys_open_uses_the_pinned_maps);
	tcase_add_test(t, restore_undoes_what_a_test_left);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	int rc;

	/* one load of relay.bpf.o and the key installer (with its seal
	 * program in moq_seal_prog) for every test; setup puts it back */
	bpf_relay_load_kept(&R, NULL, &K);
	rc = bpf_relay_run_suite(suite(), &R);
	fp_keys_close(&K);
	return rc;
}
