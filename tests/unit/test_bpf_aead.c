/* QUIC packet protection in tc (tc-progs/lib/quic_aead.h) run through the
 * fixture tc-progs/testing/aead_test.bpf.c with keys installed by
 * agent/lib/fp_keys.c: header protection and sealing against RFC 9001
 * Appendix A and byte for byte against gnutls' AES-128-GCM and AES-ECB,
 * opening with good and bad tags, key selection, phases and wiping.
 * Needs root (BPF). */
#include <check.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bpf_relay.h"
#include "lib/fp_keys.h"
#include "moq_maps.h"

#define OP_SEAL 1
#define OP_OPEN 2
#define OP_HP 3
#define OP_PHASE 4
#define NO_KEYS 900
#define SLOT 5
#define CONN 77

static struct bpf_relay R; /* aead_test.bpf.o, loaded once in main */
static int prog_fd;
static struct fp_keys K;
static uint32_t pkt_off; /* where the QUIC packet starts in pkt (run_op) */

/* RFC 9001 A.1: client and server Initial keys */
static const struct fp_tls_key client_keys = {
    .key = {0x1f, 0x36, 0x96, 0x13, 0xdd, 0x76, 0xd5, 0x46, 0x77, 0x30, 0xef, 0xcb, 0xe3, 0xb1,
	    0xa2, 0x2d},
    .iv = {0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3, 0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c},
    .hp = {0x9f, 0x50, 0x44, 0x9e, 0x04, 0xa0, 0xe8, 0x10, 0x28, 0x3a, 0x1e, 0x99, 0x33, 0xad, 0xed,
	   0xd2},
};
static const struct fp_tls_key server_keys = {
    .key = {0xcf, 0x3a, 0x53, 0x31, 0x65, 0x3c, 0x36, 0x4c, 0x88, 0xf0, 0xf3, 0x79, 0xb6, 0x06,
	    0x7e, 0x37},
    .iv = {0x0a, 0xc1, 0x49, 0x3c, 0xa1, 0x90, 0x58, 0x53, 0xb0, 0xbb, 0xa0, 0x3e},
    .hp = {0xc2, 0x06, 0xb8, 0xd9, 0xb9, 0xf0, 0xf3, 0x76, 0x44, 0x43, 0x0b, 0x49, 0x0e, 0xea, 0xa3,
	   0x14},
    .phase = 1,
};

static void hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

#define map_fd(name) bpf_relay_mfd(&R, name)

/* main loaded the fixture and the key installer once: no keys left over */
static void setup(void)
{
	ck_assert_int_ge(prog_fd, 0);
	ck_assert_int_eq(bpf_relay_restore(&R), 0);
}

static void teardown(void)
{
	pkt_off = 0;
}

/* Runs op on pkt (len bytes) in place. Returns the program's value. */
static uint32_t run_op(uint32_t op, uint32_t kind, uint32_t id, uint32_t phase, uint32_t hdr_len,
		       uint64_t pn, uint8_t *pkt, size_t len)
{
	struct __sk_buff ctx = {0};
	static uint8_t out[4096];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	ctx.cb[0] = op;
	ctx.cb[1] = id;
	ctx.cb[2] = kind | phase << 8 | pkt_off << 9 | hdr_len << 16;
	ctx.cb[3] = (uint32_t)pn;
	ctx.cb[4] = (uint32_t)(pn >> 32);
	ck_assert_int_eq(bpf_prog_test_run_opts(prog_fd, &o), 0);
	ck_assert_uint_eq(o.data_size_out, len);
	memcpy(pkt, out, len);
	return o.retval;
}

/* ---- references with gnutls ---------------------------------------------- */

static void ref_ecb(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
	gnutls_cipher_hd_t h;
	uint8_t iv[16] = {0};
	gnutls_datum_t k = {(unsigned char *)key, 16}, ivd = {iv, 16};

	ck_assert_int_eq(gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &k, &ivd), 0);
	ck_assert_int_eq(gnutls_cipher_encrypt2(h, in, 16, out, 16), 0);
	gnutls_cipher_deinit(h);
}

/* Seals pkt (header hdr_len bytes, then payload, then 16 bytes that become
 * the tag) like RFC 9001 5.3/5.4 for a short header (hp: 1 = protect). */
static void ref_seal(const struct fp_tls_key *key, uint8_t *pkt, size_t len, size_t hdr_len,
		     uint64_t pn, int hp)
{
	gnutls_aead_cipher_hd_t h;
	gnutls_datum_t k = {(unsigned char *)key->key, 16};
	uint8_t nonce[12], ct[2048], mask[16];
	size_t n = len - hdr_len - 16, clen = sizeof(ct), pn_len = (pkt[0] & 3) + 1;

	memcpy(nonce, key->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(pn >> (56 - 8 * i));
	ck_assert_int_eq(gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &k), 0);
	ck_assert_int_eq(
	    gnutls_aead_cipher_encrypt(h, nonce, 12, pkt, hdr_len, 16, pkt + hdr_len, n, ct, &clen),
	    0);
	gnutls_aead_cipher_deinit(h);
	ck_assert_uint_eq(clen, n + 16);
	memcpy(pkt + hdr_len, ct, clen);
	if (!hp)
		return;
	ref_ecb(key->hp, pkt + hdr_len - pn_len + 4, mask);
	pkt[0] ^= mask[0] & 0x1f;
	for (size_t i = 0; i < pn_len; i++)
		pkt[hdr_len - pn_len + i] ^= mask[1 + i];
}

/* A short-header packet: 0x43, 8-byte DCID, 4-byte PN, n payload bytes,
 * 16 trailer bytes. Returns its length. */
static size_t short_pkt(uint8_t *pkt, size_t n, uint64_t pn, unsigned seed)
{
	pkt[0] = 0x43;
	for (int i = 0; i < 8; i++)
		pkt[1 + i] = (uint8_t)(0xd0 + i);
	for (int i = 0; i < 4; i++)
		pkt[9 + i] = (uint8_t)(pn >> (24 - 8 * i));
	for (size_t i = 0; i < n; i++)
		pkt[13 + i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
	memcpy(pkt + 13 + n, MOQ_PLAINTEXT_TAG, 16);
	return 13 + n + 16;
}

/* ---- header protection ---------------------------------------------------- */

START_TEST(hp_mask_matches_rfc9001_appendix_a)
{
	uint8_t pkt[64] = {0}, want[5];

	/* A.2 (client): sample d1b1c98d..., mask 437b9aec36 */
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0);
	hex("d1b1c98dd7689fb8ec11d242b123dc9b", pkt + 20, 16);
	ck_assert_uint_eq(run_op(OP_HP, MOQ_TLS_KIND_UP, CONN, 0, 20, 0, pkt, sizeof(pkt)), 1000);
	hex("437b9aec36", want, 5);
	ck_assert_mem_eq(pkt, want, 5);
	/* A.3 (server): sample 2cd0991c..., mask 2ec0d8356a */
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &server_keys), 0);
	hex("2cd0991cd25b0aac406a5816b6394100", pkt + 20, 16);
	ck_assert_uint_eq(run_op(OP_HP, MOQ_TLS_KIND_UP, CONN, 1, 20, 0, pkt, sizeof(pkt)), 1000);
	hex("2ec0d8356a", want, 5);
	ck_assert_mem_eq(pkt, want, 5);
}
END_TEST

/* ---- sealing ------------------------------------------------------------------ */

START_TEST(seal_matches_rfc9001_a2_client_initial)
{
	/* A.2's header and the start of its CRYPTO frame; the first 16
	 * ciphertext bytes (the HP sample) depend only on those */
	static uint8_t pkt[1200], want[1200];
	uint8_t rfc[38];

	memset(pkt, 0, sizeof(pkt));
	hex("c300000001088394c8f03e5157080000449e00000002", pkt, 22);
	hex("060040f1010000ed0303ebf8fa56f129", pkt + 22, 16);
	memcpy(want, pkt, sizeof(pkt));
	ref_seal(&client_keys, want, sizeof(want), 22, 2, 1);
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0);
	ck_assert_uint_eq(run_op(OP_SEAL, MOQ_TLS_KIND_UP, CONN, 0, 22, 2, pkt, sizeof(pkt)), 1000);
	hex("c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9b", rfc,
	    sizeof(rfc));
	ck_assert_mem_eq(pkt, rfc, sizeof(rfc));
	ck_assert_mem_eq(pkt, want, sizeof(want));
}
END_TEST

static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 1171, 1503, 1504};
static const uint64_t pns[] = {0, 0x12345678, 0x3fffffffffffffffull};

START_TEST(seal_matches_gnutls)
{
	static uint8_t pkt[1600], want[1600];
	size_t n = sizes[_i % 9], len;
	uint64_t pn = pns[_i / 9];

	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &server_keys), 0);
	len = short_pkt(pkt, n, pn, (unsigned)_i);
	memcpy(want, pkt, len);
	ref_seal(&server_keys, want, len, 13, pn, 1);
	ck_assert_uint_eq(run_op(OP_SEAL, MOQ_TLS_KIND_SUB, SLOT, 0, 13, pn, pkt, len), 1000);
	ck_assert_mem_eq(pkt, want, len);
}
END_TEST

START_TEST(seal_refuses_more_than_it_can_hold)
{
	static uint8_t pkt[1600], orig[1600];
	size_t len = short_pkt(pkt, 1505, 9, 1);

	memcpy(orig, pkt, len);
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	ck_assert_uint_lt(run_op(OP_SEAL, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 9, pkt, len), 1000);
	ck_assert_mem_eq(pkt, orig, len);
}
END_TEST

/* A packet too short for its header protection sample (RFC 9001 5.4.2:
 * 16 bytes from 4 bytes after the start of the packet number; here a
 * 1-byte packet number and 2 bytes of payload leave 15) is refused, not
 * masked with bytes from past its end (the scratch's previous packet). */
START_TEST(seal_refuses_a_packet_without_a_full_sample)
{
	uint8_t pkt[28], orig[28], big[29];

	pkt[0] = 0x40; /* 1-byte packet number */
	for (int i = 0; i < 8; i++)
		pkt[1 + i] = (uint8_t)(0xd0 + i);
	pkt[9] = 7;
	pkt[10] = 0x01; /* PING, PADDING */
	pkt[11] = 0;
	memcpy(pkt + 12, MOQ_PLAINTEXT_TAG, 16);
	memcpy(orig, pkt, sizeof(pkt));
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	ck_assert_uint_lt(run_op(OP_SEAL, MOQ_TLS_KIND_SUB, SLOT, 0, 10, 7, pkt, sizeof(pkt)),
			  1000);
	ck_assert_mem_eq(pkt, orig, sizeof(pkt));
	/* one byte more of payload: sealed */
	memcpy(big, orig, 12);
	big[12] = 0;
	memcpy(big + 13, MOQ_PLAINTEXT_TAG, 16);
	ck_assert_uint_eq(run_op(OP_SEAL, MOQ_TLS_KIND_SUB, SLOT, 0, 10, 7, big, sizeof(big)),
			  1000);
}
END_TEST

/* ---- opening -------------------------------------------------------------------- */

START_TEST(open_restores_the_plaintext)
{
	static uint8_t pkt[1600], plain[1600];
	size_t n = sizes[_i], len = short_pkt(plain, n, 0x1234567890ull, 3);

	memcpy(pkt, plain, len);
	ref_seal(&client_keys, pkt, len, 13, 0x1234567890ull, 0);
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0);
	ck_assert_uint_eq(run_op(OP_OPEN, MOQ_TLS_KIND_UP, CONN, 0, 13, 0x1234567890ull, pkt, len),
			  1000);
	/* header and payload are the plaintext; the tag stays */
	ck_assert_mem_eq(pkt, plain, len - 16);
}
END_TEST

/* bad tag, ciphertext, header (AAD) or packet number: refused, unchanged */
START_TEST(open_refuses_a_forgery)
{
	static uint8_t pkt[1600], sealed[1600];
	size_t len = short_pkt(sealed, 1100, 41, 4), flip[] = {len - 1, len - 16, 20, 0, 9};
	uint64_t pn = _i == 5 ? 42 : 41;

	ref_seal(&client_keys, sealed, len, 13, 41, 0);
	memcpy(pkt, sealed, len);
	if (_i < 5)
		pkt[flip[_i]] ^= 0x01;
	memcpy(sealed, pkt, len);
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0);
	ck_assert_uint_lt(run_op(OP_OPEN, MOQ_TLS_KIND_UP, CONN, 0, 13, pn, pkt, len), 1000);
	ck_assert_mem_eq(pkt, sealed, len);
}
END_TEST

START_TEST(open_with_the_other_phase_keys_fails)
{
	static uint8_t pkt[1600];
	size_t len = short_pkt(pkt, 500, 7, 5);

	ref_seal(&client_keys, pkt, len, 13, 7, 0);
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0); /* phase 0 */
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &server_keys), 0); /* phase 1 */
	ck_assert_uint_lt(run_op(OP_OPEN, MOQ_TLS_KIND_UP, CONN, 1, 13, 7, pkt, len), 1000);
	ck_assert_uint_eq(run_op(OP_OPEN, MOQ_TLS_KIND_UP, CONN, 0, 13, 7, pkt, len), 1000);
}
END_TEST

/* the packet behind 42 bytes of headers: they stay as they are */
START_TEST(seal_and_open_at_an_offset)
{
	static uint8_t pkt[1600], want[1600];
	size_t len;

	for (int i = 0; i < 42; i++)
		pkt[i] = want[i] = (uint8_t)(0xe0 + i);
	len = short_pkt(pkt + 42, 333, 1234, 9);
	memcpy(want + 42, pkt + 42, len);
	ref_seal(&client_keys, want + 42, len, 13, 1234, 1);
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0);
	pkt_off = 42;
	ck_assert_uint_eq(run_op(OP_SEAL, MOQ_TLS_KIND_UP, CONN, 0, 13, 1234, pkt, 42 + len), 1000);
	ck_assert_mem_eq(pkt, want, 42 + len);
	/* open (header protection is the caller's) */
	short_pkt(want + 42, 333, 1234, 9);
	short_pkt(pkt + 42, 333, 1234, 9);
	ref_seal(&client_keys, pkt + 42, len, 13, 1234, 0);
	ck_assert_uint_eq(run_op(OP_OPEN, MOQ_TLS_KIND_UP, CONN, 0, 13, 1234, pkt, 42 + len), 1000);
	ck_assert_mem_eq(pkt, want, 42 + len - 16);
}
END_TEST

/* ---- keys: selection, phases, wiping ---------------------------------------------- */

static int map_empty(const char *name)
{
	struct moq_tls_key_id k;

	return bpf_map_get_next_key(map_fd(name), NULL, &k) != 0 && errno == ENOENT;
}

START_TEST(no_keys_until_set_and_after_wipe)
{
	uint8_t pkt[64] = {0};

	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), NO_KEYS);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_UP, CONN, 0, 13, 0, pkt, 64), NO_KEYS);
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), 1000);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_UP, CONN, 0, 13, 0, pkt, 64), 1000);
	/* another slot / connection has none */
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT + 1, 0, 13, 0, pkt, 64), NO_KEYS);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_UP, CONN, 1, 13, 0, pkt, 64), NO_KEYS);
	ck_assert_int_eq(fp_keys_wipe_sub(&K, SLOT), 0);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), NO_KEYS);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_UP, CONN, 0, 13, 0, pkt, 64), 1000);
	ck_assert_int_eq(fp_keys_wipe_up(&K, CONN), 0);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_UP, CONN, 0, 13, 0, pkt, 64), NO_KEYS);
	/* nothing left behind; wiping again is fine */
	ck_assert(map_empty("moq_tls_keys"));
	ck_assert_int_eq(fp_keys_wipe_sub(&K, SLOT), 0);
	ck_assert_int_eq(fp_keys_wipe_up(&K, CONN), 0);
}
END_TEST

START_TEST(wipe_all_leaves_nothing)
{
	uint8_t pkt[64] = {0};
	struct fp_tls_key k1 = client_keys;

	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &server_keys), 0);
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT + 1, &client_keys), 0);
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &client_keys), 0);
	k1.phase = 1;
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &k1), 0);
	ck_assert(!map_empty("moq_tls_keys"));
	ck_assert_int_eq(fp_keys_wipe_all(&K), 0);
	ck_assert(map_empty("moq_tls_keys"));
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), NO_KEYS);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT + 1, 0, 13, 0, pkt, 64), NO_KEYS);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_UP, CONN, 1, 13, 0, pkt, 64), NO_KEYS);
	/* and keys can be set again */
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), 1000);
}
END_TEST

START_TEST(key_update_switches_the_subscriber_set)
{
	static uint8_t pkt[400], want[400];
	struct fp_tls_key next = server_keys;
	uint32_t sel = 0, slot = SLOT;
	size_t len;

	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), 1000);
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &next), 0); /* phase 1 */
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), 1001);
	ck_assert_int_eq(bpf_map_lookup_elem(map_fd("moq_tls_sel"), &slot, &sel), 0);
	ck_assert_uint_eq(sel, 2);
	len = short_pkt(pkt, 300, 99, 6);
	pkt[0] |= 0x04;
	memcpy(want, pkt, len);
	ref_seal(&next, want, len, 13, 99, 1);
	ck_assert_uint_eq(run_op(OP_SEAL, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 99, pkt, len), 1000);
	ck_assert_mem_eq(pkt, want, len);
	/* the next update: phase 0 again with new keys (rewritten in place) */
	next = client_keys;
	next.key[0] ^= 0xff;
	next.phase = 0;
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &next), 0);
	ck_assert_uint_eq(run_op(OP_PHASE, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 0, pkt, 64), 1000);
	len = short_pkt(pkt, 300, 100, 7);
	memcpy(want, pkt, len);
	ref_seal(&next, want, len, 13, 100, 1);
	ck_assert_uint_eq(run_op(OP_SEAL, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 100, pkt, len), 1000);
	ck_assert_mem_eq(pkt, want, len);
}
END_TEST

START_TEST(setting_the_same_keys_again_is_a_no_op)
{
	static uint8_t pkt[400], want[400];
	size_t len = short_pkt(pkt, 200, 5, 8);

	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	ck_assert_int_eq(fp_keys_set_sub(&K, SLOT, &client_keys), 0);
	memcpy(want, pkt, len);
	ref_seal(&client_keys, want, len, 13, 5, 1);
	ck_assert_uint_eq(run_op(OP_SEAL, MOQ_TLS_KIND_SUB, SLOT, 0, 13, 5, pkt, len), 1000);
	ck_assert_mem_eq(pkt, want, len);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
	struct fp_tls_key k = client_keys;
	struct fp_keys none;
	char err[256] = "";

	ck_assert_int_eq(fp_keys_set_sub(&K, MOQ_MAX_SUBSCRIBERS, &k), -EINVAL);
	ck_assert_int_eq(fp_keys_wipe_sub(&K, MOQ_MAX_SUBSCRIBERS), -EINVAL);
	k.phase = 2;
	ck_assert_int_eq(fp_keys_set_up(&K, CONN, &k), -EINVAL);
	ck_assert_int_lt(fp_keys_open(&none, "/nonexistent-moq-pins", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "moq_tls_keys"));
	fp_keys_close(&none);
}
END_TEST

START_TEST(ghash_table_is_linear_in_h)
{
	static uint64_t tab[MOQ_GHASH_TABLE_U64];
	uint8_t h[16], e[16];

	for (int i = 0; i < 16; i++)
		h[i] = (uint8_t)(i * 17 + 1);
	fp_keys_ghash_table(h, tab);
	/* the block with only bit 0 (MSB of byte 0: the high nibble, position
	 * 1, value 8) is the polynomial 1 */
	memcpy(e, &tab[(1 * 16 + 8) * 2], 16);
	ck_assert_mem_eq(e, h, 16);
	for (int p = 0; p < 32; p++)
		ck_assert(tab[p * 32] == 0 && tab[p * 32 + 1] == 0);
	/* linear: T[p][a ^ b] = T[p][a] ^ T[p][b] */
	for (int p = 0; p < 32; p += 3)
		for (int a = 1; a < 16; a++)
			for (int b = 1; b < 16; b += 2)
				ck_assert(tab[(p * 16 + (a ^ b)) * 2] ==
					  (tab[(p * 16 + a) * 2] ^ tab[(p * 16 + b) * 2]));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bpf_aead");
	TCase *t = tcase_create("aead");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, hp_mask_matches_rfc9001_appendix_a);
	tcase_add_test(t, seal_matches_rfc9001_a2_client_initial);
	tcase_add_loop_test(t, seal_matches_gnutls, 0, 27);
	tcase_add_test(t, seal_refuses_more_than_it_can_hold);
	tcase_add_test(t, seal_refuses_a_packet_without_a_full_sample);
	tcase_add_loop_test(t, open_restores_the_plaintext, 0, 9);
	tcase_add_loop_test(t, open_refuses_a_forgery, 0, 6);
	tcase_add_test(t, open_with_the_other_phase_keys_fails);
	tcase_add_test(t, seal_and_open_at_an_offset);
	tcase_add_test(t, no_keys_until_set_and_after_wipe);
	tcase_add_test(t, key_update_switches_the_subscriber_set);
	tcase_add_test(t, wipe_all_leaves_nothing);
	tcase_add_test(t, setting_the_same_keys_again_is_a_no_op);
	tcase_add_test(t, bad_arguments_are_refused);
	tcase_add_test(t, ghash_table_is_linear_in_h);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	char path[512];
	const char *b = getenv("B");
	struct bpf_program *p;
	int rc;

	prog_fd = -1;
	snprintf(path, sizeof(path), "%s/tc-progs/testing/aead_test.bpf.o", b && *b ? b : "build");
	if (!bpf_relay_load_kept(&R, path, &K)) {
		p = bpf_object__find_program_by_name(R.obj, "moq_aead_test");
		prog_fd = p ? bpf_program__fd(p) : -1;
	}
	rc = bpf_relay_run_suite(suite(), &R);
	fp_keys_close(&K);
	return rc;
}
