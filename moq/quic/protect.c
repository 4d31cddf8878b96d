/* 1-RTT packet protection in the layer (config.shim_protect) and 1-RTT key
 * capture for every TLS connection. See protect.h and
 * docs/fast-path-tls-quic.md. */
#include "quic/protect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "log.h"
#include "quic/base.h"
#include "varint.h"

#define MOD "quic"
#define TAGLEN 16
#define HDR4 (1 + MOQ_QUIC_CID_LEN + 4) /* header with a 4-byte PN */
#define PN_OFF (1 + MOQ_QUIC_CID_LEN)

/* One generation of one direction's keys. h: the AEAD handle (shim only). */
struct kgen {
	uint8_t secret[MOQ_QUIC__SECRETLEN];
	uint8_t key[MOQ_QUIC__KEYLEN], iv[MOQ_QUIC__IVLEN];
	gnutls_aead_cipher_hd_t h;
	int valid;
};

struct moq_quic__keys {
	int aes128; /* TLS_AES_128_GCM_SHA256: keys are exported */
	int shim;   /* the layer protects 1-RTT packets */
	int have_rx, have_tx;
	int notify; /* on_keys_changed owed */
	int ctx_unlimited;
	uint8_t rx_hp[MOQ_QUIC__KEYLEN], tx_hp[MOQ_QUIC__KEYLEN];
	gnutls_cipher_hd_t rx_hph, tx_hph; /* AES-CBC, zero IV, one block: ECB */
	struct kgen rx_old, rx_cur, rx_next, tx_cur, tx_next;
	unsigned rx_phase, tx_phase;
	uint64_t rx_largest, rx_phase_first, old_until;
	int rx_any;
	int rx_pn_off; /* moq_quic_conn_rx_pn_untrack */
	uint64_t tx_largest, tx_phase_first, acked;
	int tx_any, tx_phase_used, any_acked;
	uint64_t key_updates, open_failed;
};

static const uint8_t zero_iv[MOQ_QUIC__IVLEN], zero_secret[MOQ_QUIC__SECRETLEN];

/* ---- derivation ---------------------------------------------------------- */

int moq_quic__hkdf_label(uint8_t *out, size_t outlen, const uint8_t *secret, size_t secretlen,
			 const char *label)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t ll = strlen(label), o = 0;
	gnutls_datum_t k = {.data = (unsigned char *)secret, .size = (unsigned)secretlen};
	gnutls_datum_t i;

	if (ll + 6 > 255 || outlen > 0xffff)
		return -1;
	info[o++] = (uint8_t)(outlen >> 8);
	info[o++] = (uint8_t)outlen;
	info[o++] = (uint8_t)(ll + 6);
	memcpy(info + o, "tls13 ", 6);
	o += 6;
	memcpy(info + o, label, ll);
	o += ll;
	info[o++] = 0; /* empty context */
	i.data = info;
	i.size = (unsigned)o;
	return gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &k, &i, out, outlen) ? -1 : 0;
}

static void gen_clear(struct kgen *g)
{
	if (g->h)
		gnutls_aead_cipher_deinit(g->h);
	gnutls_memset(g, 0, sizeof(*g));
}

/* g = the keys of secret; with an AEAD handle when shim. */
static int gen_set(struct kgen *g, const uint8_t *secret, int shim)
{
	gnutls_datum_t kd;

	gen_clear(g);
	memcpy(g->secret, secret, MOQ_QUIC__SECRETLEN);
	if (moq_quic__hkdf_label(g->key, sizeof(g->key), secret, MOQ_QUIC__SECRETLEN, "quic key") ||
	    moq_quic__hkdf_label(g->iv, sizeof(g->iv), secret, MOQ_QUIC__SECRETLEN, "quic iv"))
		return -1;
	if (shim) {
		kd.data = g->key;
		kd.size = sizeof(g->key);
		if (gnutls_aead_cipher_init(&g->h, GNUTLS_CIPHER_AES_128_GCM, &kd) < 0) {
			g->h = NULL;
			return -1;
		}
	}
	g->valid = 1;
	return 0;
}

/* next = the generation after cur (RFC 9001 6.1: "quic ku"). */
static int gen_next(struct kgen *next, const struct kgen *cur, int shim)
{
	uint8_t s[MOQ_QUIC__SECRETLEN];
	int rv;

	if (moq_quic__hkdf_label(s, sizeof(s), cur->secret, sizeof(cur->secret), "quic ku"))
		return -1;
	rv = gen_set(next, s, shim);
	gnutls_memset(s, 0, sizeof(s));
	return rv;
}

/* cur <- next, next <- the one after. */
static int gen_advance(struct kgen *cur, struct kgen *next, int shim)
{
	gen_clear(cur);
	*cur = *next;
	memset(next, 0, sizeof(*next));
	return gen_next(next, cur, shim);
}

static int hp_init(gnutls_cipher_hd_t *h, uint8_t *hp)
{
	uint8_t z[16] = {0};
	gnutls_datum_t k = {.data = hp, .size = MOQ_QUIC__KEYLEN};
	gnutls_datum_t iv = {.data = z, .size = sizeof(z)};

	if (gnutls_cipher_init(h, GNUTLS_CIPHER_AES_128_CBC, &k, &iv) < 0) {
		*h = NULL;
		return -1;
	}
	return 0;
}

/* mask[0..4] = AES-ECB(hp, sample)[0..4] (one CBC block, zero IV). */
static int hp_mask(gnutls_cipher_hd_t h, const uint8_t *sample, uint8_t mask[16])
{
	uint8_t z[16] = {0};

	gnutls_cipher_set_iv(h, z, sizeof(z));
	return gnutls_cipher_encrypt2(h, sample, 16, mask, 16) < 0 ? -1 : 0;
}

static void nonce_of(uint8_t n[MOQ_QUIC__IVLEN], const uint8_t *iv, uint64_t pn)
{
	memcpy(n, iv, MOQ_QUIC__IVLEN);
	for (int i = 0; i < 8; i++)
		n[MOQ_QUIC__IVLEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* RFC 9000 A.3: the full packet number nearest to largest + 1. */
static uint64_t pn_decode(uint64_t largest, int any, uint64_t truncated, unsigned bits)
{
	uint64_t expected = any ? largest + 1 : 0, win = 1ull << bits, hwin = win / 2;
	uint64_t cand = (expected & ~(win - 1)) | truncated;

	if (cand + hwin <= expected && cand < (1ull << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}

/* ---- null 1-RTT contexts for ngtcp2 (shim) ------------------------------- */

/* A null context's native_handle is the conn pointer with bit 0 set:
 * gnutls handles are malloc'd, so bit 0 tells them apart (the encrypt
 * callback gets no conn pointer). */
static void *null_handle(struct moq_quic_conn *c)
{
	return (void *)((uintptr_t)c | 1u);
}

static struct moq_quic_conn *null_conn(const void *h)
{
	return ((uintptr_t)h & 1u) ? (struct moq_quic_conn *)((uintptr_t)h & ~(uintptr_t)1u) : NULL;
}

static int cb_encrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
		      const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *plaintext,
		      size_t plaintextlen, const uint8_t *nonce, size_t noncelen,
		      const uint8_t *aad, size_t aadlen)
{
	struct moq_quic_conn *c = null_conn(aead_ctx->native_handle);
	uint64_t pn = 0;

	if (!c)
		return ngtcp2_crypto_encrypt_cb(dest, aead, aead_ctx, plaintext, plaintextlen,
						nonce, noncelen, aad, aadlen);
	moq_quic__null_seal(dest, plaintext, plaintextlen);
	/* zero IV: the nonce's last 8 bytes are the packet number, which
	 * the send shim writes */
	for (size_t i = noncelen - 8; i < noncelen; i++)
		pn = pn << 8 | nonce[i];
	c->pt_last_pn = pn;
	c->pt_pn_valid = 1;
	return 0;
}

/* ngtcp2's successful opens with its own keys (the loop's thread) */
static _Thread_local uint64_t native_opens;

static int cb_decrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
		      const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *ciphertext,
		      size_t ciphertextlen, const uint8_t *nonce, size_t noncelen,
		      const uint8_t *aad, size_t aadlen)
{
	if (!null_conn(aead_ctx->native_handle)) {
		int rv = ngtcp2_crypto_decrypt_cb(dest, aead, aead_ctx, ciphertext, ciphertextlen,
						  nonce, noncelen, aad, aadlen);

		native_opens += rv == 0; /* moq_quic__rx_pn_accept */
		return rv;
	}
	return moq_quic__null_open(dest, ciphertext, ciphertextlen) ? NGTCP2_ERR_DECRYPT : 0;
}

static int cb_hp_mask(uint8_t *dest, const ngtcp2_crypto_cipher *hp,
		      const ngtcp2_crypto_cipher_ctx *hp_ctx, const uint8_t *sample)
{
	if (!null_conn(hp_ctx->native_handle))
		return ngtcp2_crypto_hp_mask_cb(dest, hp, hp_ctx, sample);
	memset(dest, 0, NGTCP2_HP_MASKLEN);
	return 0;
}

static void cb_del_aead(ngtcp2_conn *conn, ngtcp2_crypto_aead_ctx *a, void *user)
{
	if (!null_conn(a->native_handle))
		ngtcp2_crypto_delete_crypto_aead_ctx_cb(conn, a, user);
}

static void cb_del_cipher(ngtcp2_conn *conn, ngtcp2_crypto_cipher_ctx *h, void *user)
{
	if (!null_conn(h->native_handle))
		ngtcp2_crypto_delete_crypto_cipher_ctx_cb(conn, h, user);
}

/* ngtcp2 prepares its next keys (and, natively, rotates to them later by
 * itself). Shim: more null keys (ngtcp2 never sees a key phase change).
 * Native: ngtcp2's own, and the layer follows the generations. */
static int cb_update_key(ngtcp2_conn *conn, uint8_t *rx_secret, uint8_t *tx_secret,
			 ngtcp2_crypto_aead_ctx *rx_aead_ctx, uint8_t *rx_iv,
			 ngtcp2_crypto_aead_ctx *tx_aead_ctx, uint8_t *tx_iv,
			 const uint8_t *current_rx_secret, const uint8_t *current_tx_secret,
			 size_t secretlen, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	struct moq_quic__keys *k = c->keys;
	int rv;

	if (k && k->shim) {
		memset(rx_secret, 0, secretlen);
		memset(tx_secret, 0, secretlen);
		rx_aead_ctx->native_handle = null_handle(c);
		tx_aead_ctx->native_handle = null_handle(c);
		memset(rx_iv, 0, MOQ_QUIC__IVLEN);
		memset(tx_iv, 0, MOQ_QUIC__IVLEN);
		return 0;
	}
	rv = ngtcp2_crypto_update_key_cb(conn, rx_secret, tx_secret, rx_aead_ctx, rx_iv,
					 tx_aead_ctx, tx_iv, current_rx_secret, current_tx_secret,
					 secretlen, user_data);
	if (rv || !k || !k->aes128 || secretlen != MOQ_QUIC__SECRETLEN)
		return rv;
	/* current_*_secret is the generation ngtcp2 uses now: if it is our
	 * "next", ngtcp2 rotated since (the pair still covers both phases) */
	if (k->rx_next.valid && !memcmp(current_rx_secret, k->rx_next.secret, secretlen)) {
		if (gen_advance(&k->rx_cur, &k->rx_next, 0))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		k->rx_phase ^= 1;
		k->key_updates++;
		c->ep->st.key_updates++;
		k->notify = 1;
	}
	if (k->tx_next.valid && !memcmp(current_tx_secret, k->tx_next.secret, secretlen)) {
		if (gen_advance(&k->tx_cur, &k->tx_next, 0))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		k->tx_phase ^= 1;
		k->notify = 1;
	}
	return 0;
}

void moq_quic__keys_callbacks(ngtcp2_callbacks *cb)
{
	cb->encrypt = cb_encrypt;
	cb->decrypt = cb_decrypt;
	cb->hp_mask = cb_hp_mask;
	cb->update_key = cb_update_key;
	cb->delete_crypto_aead_ctx = cb_del_aead;
	cb->delete_crypto_cipher_ctx = cb_del_cipher;
}

/* ---- secret capture ------------------------------------------------------ */

static struct moq_quic__keys *keys_get(struct moq_quic_conn *c, size_t secretlen)
{
	struct moq_quic__keys *k = c->keys;

	if (k)
		return k;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->aes128 = gnutls_cipher_get(c->tls) == GNUTLS_CIPHER_AES_128_GCM &&
		    secretlen == MOQ_QUIC__SECRETLEN;
	k->shim = k->aes128 && c->server && c->ep->cfg.shim_protect;
	c->keys = k;
	return k;
}

/* ngtcp2 keeps AEAD limits in the context it shares between Handshake and
 * 1-RTT; the layer's null 1-RTT keys have none (the layer's own do). */
static void ctx_unlimited(struct moq_quic_conn *c, struct moq_quic__keys *k)
{
	ngtcp2_crypto_ctx cx;

	if (k->ctx_unlimited)
		return;
	cx = *ngtcp2_conn_get_crypto_ctx(c->conn);
	cx.max_encryption = UINT64_MAX;
	cx.max_decryption_failure = UINT64_MAX;
	ngtcp2_conn_set_crypto_ctx(c->conn, &cx);
	k->ctx_unlimited = 1;
}

static int install_shim(struct moq_quic_conn *c, struct moq_quic__keys *k, int tx,
			const uint8_t *secret, size_t len)
{
	ngtcp2_crypto_aead_ctx a = {.native_handle = null_handle(c)};
	ngtcp2_crypto_cipher_ctx h = {.native_handle = null_handle(c)};
	struct kgen *cur = tx ? &k->tx_cur : &k->rx_cur, *next = tx ? &k->tx_next : &k->rx_next;
	uint8_t *hp = tx ? k->tx_hp : k->rx_hp;
	gnutls_cipher_hd_t *hph = tx ? &k->tx_hph : &k->rx_hph;
	int rv;

	if (len != sizeof(zero_secret) || gen_set(cur, secret, 1) || gen_next(next, cur, 1) ||
	    moq_quic__hkdf_label(hp, MOQ_QUIC__KEYLEN, secret, len, "quic hp") || hp_init(hph, hp))
		return -1;
	ctx_unlimited(c, k);
	/* ngtcp2 keeps the secret it is given (for key updates, which here
	 * are the layer's: cb_update_key) and frees it without clearing:
	 * it gets zeros, the traffic secret lives only in the layer's copies */
	if (tx)
		rv = ngtcp2_conn_install_tx_key(c->conn, zero_secret, len, &a, zero_iv,
						MOQ_QUIC__IVLEN, &h);
	else
		rv = ngtcp2_conn_install_rx_key(c->conn, zero_secret, len, &a, zero_iv,
						MOQ_QUIC__IVLEN, &h);
	return rv ? -1 : 0;
}

static int install_native(struct moq_quic_conn *c, struct moq_quic__keys *k, int tx,
			  const uint8_t *secret, size_t len)
{
	uint8_t key[64], iv[64], hp[64];
	struct kgen *cur = tx ? &k->tx_cur : &k->rx_cur, *next = tx ? &k->tx_next : &k->rx_next;
	int rv;

	if (tx)
		rv = ngtcp2_crypto_derive_and_install_tx_key(
		    c->conn, key, iv, hp, NGTCP2_ENCRYPTION_LEVEL_1RTT, secret, len);
	else
		rv = ngtcp2_crypto_derive_and_install_rx_key(
		    c->conn, key, iv, hp, NGTCP2_ENCRYPTION_LEVEL_1RTT, secret, len);
	if (rv)
		return -1;
	if (k->aes128 &&
	    (gen_set(cur, secret, 0) || gen_next(next, cur, 0) ||
	     memcmp(cur->key, key, MOQ_QUIC__KEYLEN) || memcmp(cur->iv, iv, MOQ_QUIC__IVLEN))) {
		/* never seen: our derivation must equal ngtcp2's */
		moq_err(MOD, "1-RTT key derivation differs from ngtcp2's; keys not exported");
		k->aes128 = 0;
	}
	if (k->aes128)
		memcpy(tx ? k->tx_hp : k->rx_hp, hp, MOQ_QUIC__KEYLEN);
	gnutls_memset(key, 0, sizeof(key));
	gnutls_memset(iv, 0, sizeof(iv));
	gnutls_memset(hp, 0, sizeof(hp));
	return 0;
}

static int secret_func(gnutls_session_t s, gnutls_record_encryption_level_t glevel, const void *rx,
		       const void *tx, size_t len)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	struct moq_quic_conn *c = ref->user_data;
	ngtcp2_encryption_level level =
	    ngtcp2_crypto_gnutls_from_gnutls_record_encryption_level(glevel);
	struct moq_quic__keys *k;

	if (level != NGTCP2_ENCRYPTION_LEVEL_1RTT) {
		if (rx && ngtcp2_crypto_derive_and_install_rx_key(c->conn, NULL, NULL, NULL, level,
								  rx, len))
			return -1;
		if (tx && ngtcp2_crypto_derive_and_install_tx_key(c->conn, NULL, NULL, NULL, level,
								  tx, len))
			return -1;
		return 0;
	}
	k = keys_get(c, len);
	if (!k)
		return -1;
	if (rx) {
		if ((k->shim ? install_shim : install_native)(c, k, 0, rx, len))
			return -1;
		k->have_rx = 1;
	}
	if (tx) {
		if ((k->shim ? install_shim : install_native)(c, k, 1, tx, len))
			return -1;
		k->have_tx = 1;
	}
	/* each direction as it comes (a server's tx keys come first, with
	 * its Finished: 0.5-RTT packets may leave before the rx keys exist);
	 * other suites: nothing to export */
	if (k->aes128)
		k->notify = 1;
	return 0;
}

void moq_quic__keys_session(struct moq_quic_conn *c)
{
	gnutls_handshake_set_secret_function(c->tls, secret_func);
}

void moq_quic__keys_destroy(struct moq_quic__keys *k)
{
	if (!k)
		return;
	gen_clear(&k->rx_old);
	gen_clear(&k->rx_cur);
	gen_clear(&k->rx_next);
	gen_clear(&k->tx_cur);
	gen_clear(&k->tx_next);
	if (k->rx_hph)
		gnutls_cipher_deinit(k->rx_hph);
	if (k->tx_hph)
		gnutls_cipher_deinit(k->tx_hph);
	gnutls_memset(k, 0, sizeof(*k));
	free(k);
}

void moq_quic__keys_free(struct moq_quic_conn *c)
{
	moq_quic__keys_destroy(c->keys);
	c->keys = NULL;
}

/* ---- the layer's protection ---------------------------------------------- */

int moq_quic__shim_on(const struct moq_quic_conn *c)
{
	return c->keys && c->keys->shim;
}

int moq_quic__shim_undecided(const struct moq_quic_conn *c)
{
	return c->server && !c->keys && c->ep->cfg.shim_protect && !c->ep->cfg.plaintext;
}

int moq_quic__shim_rx_ready(const struct moq_quic_conn *c)
{
	return c->keys && c->keys->shim && c->keys->have_rx;
}

void moq_quic__keys_notify(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	if (!c->keys || !c->keys->notify)
		return;
	c->keys->notify = 0;
	if (ep->cb.on_keys_changed)
		ep->cb.on_keys_changed(c, moq_quic__user(c));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int moq_quic__keys_seal(struct moq_quic__keys *k, uint8_t *pkt, size_t len)
{
	uint8_t nonce[MOQ_QUIC__IVLEN], mask[16];
	size_t ctlen;
	uint64_t pn;

	if (!k->shim || !k->have_tx || len < HDR4 + TAGLEN || (pkt[0] & 0xc3) != 0x43)
		return -EINVAL;
	ctlen = len - HDR4;
	/* the wire PN (after send_hook's renumbering): nearest to the last */
	pn = pn_decode(k->tx_largest, k->tx_any, be32(pkt + PN_OFF), 32);
	/* a number sealed before (a caller's renumbering bug, a raw packet
	 * sent twice with other bytes) would reuse its nonce under this key:
	 * refused, the packet is lost instead (RFC 9001 5.3, RFC 9000 12.3) */
	if (k->tx_any && pn <= k->tx_largest)
		return -EEXIST;
	pkt[0] = (uint8_t)(0x43 | k->tx_phase << 2);
	nonce_of(nonce, k->tx_cur.iv, pn);
	if (gnutls_aead_cipher_encrypt(k->tx_cur.h, nonce, sizeof(nonce), pkt, HDR4, TAGLEN,
				       pkt + HDR4, len - HDR4 - TAGLEN, pkt + HDR4, &ctlen) < 0 ||
	    ctlen != len - HDR4)
		return -EIO;
	if (hp_mask(k->tx_hph, pkt + PN_OFF + 4, mask))
		return -EIO;
	pkt[0] ^= mask[0] & 0x1f;
	for (int i = 0; i < 4; i++)
		pkt[PN_OFF + i] ^= mask[1 + i];
	k->tx_largest = pn;
	k->tx_any = 1;
	if (!k->tx_phase_used) {
		k->tx_phase_first = pn;
		k->tx_phase_used = 1;
	}
	return 0;
}

int moq_quic__shim_seal(struct moq_quic_conn *c, uint8_t *pkt, size_t len)
{
	if (!c->keys)
		return -EINVAL;
	moq_quic__keys_notify(c);
	return moq_quic__keys_seal(c->keys, pkt, len);
}

/* The largest packet number the peer acknowledged (RFC 9001 6.1: a key
 * update needs the current phase acknowledged). */
static void scan_acks(struct moq_quic__keys *k, const uint8_t *p, const uint8_t *end)
{
	struct moq_quic_frame f;
	int rv;

	for (; p < end; p += rv) {
		uint64_t largest;
		rv = moq_quic_frame_parse(&f, p, end);
		if (rv <= 0)
			return;
		if ((f.type != 0x02 && f.type != 0x03) ||
		    quic_varint_decode(&largest, p + 1, (size_t)(end - p - 1)) < 0)
			continue;
		if (!k->any_acked || largest > k->acked)
			k->acked = largest;
		k->any_acked = 1;
	}
}

int moq_quic__keys_tx_update(struct moq_quic__keys *k)
{
	if (gen_advance(&k->tx_cur, &k->tx_next, 1))
		return -1;
	k->tx_phase ^= 1;
	k->tx_phase_used = 0;
	return 0;
}

/* Shim: tx moves to the next phase (one key update) and the application
 * hears of it at once, before anything is sealed under the new keys. */
static int tx_advance(struct moq_quic_conn *c, struct moq_quic__keys *k)
{
	if (moq_quic__keys_tx_update(k))
		return -1;
	k->key_updates++;
	c->ep->st.key_updates++;
	k->notify = 1;
	moq_quic__keys_notify(c);
	return 0;
}

/* The peer's packet in the next phase opened: rx moves on; old rx keys
 * stay for reordered packets until now + 3 PTO. */
static int rotate_rx(struct moq_quic__keys *k, uint64_t pn, uint64_t now, uint64_t pto)
{
	gen_clear(&k->rx_old);
	k->rx_old = k->rx_cur;
	k->rx_cur = k->rx_next;
	memset(&k->rx_next, 0, sizeof(k->rx_next));
	if (gen_next(&k->rx_next, &k->rx_cur, 1))
		return -1;
	k->rx_phase ^= 1;
	k->rx_phase_first = pn;
	k->old_until = now + 3 * pto;
	return 0;
}

int moq_quic__keys_open(struct moq_quic__keys *k, uint8_t *pkt, size_t *len, size_t cap,
			uint8_t *pt, size_t ptcap, uint64_t now, uint64_t pto)
{
	uint8_t mask[16], hdr[HDR4], nonce[MOQ_QUIC__IVLEN];
	size_t n = *len, hlen, pnlen, ptlen;
	uint64_t pn, trunc = 0;
	struct kgen *g;
	unsigned kp;
	int rotated = 0;

	if (!k->shim || !k->have_rx)
		return -EINVAL;
	if (n < PN_OFF + 4 + 16 || !(pkt[0] & 0x40) || (pkt[0] & 0x80) || n - PN_OFF > ptcap)
		return -EBADMSG;
	if (hp_mask(k->rx_hph, pkt + PN_OFF + 4, mask))
		return -EBADMSG;
	hdr[0] = pkt[0] ^ (mask[0] & 0x1f);
	pnlen = (size_t)(hdr[0] & 3) + 1;
	hlen = PN_OFF + pnlen;
	if (n < hlen + TAGLEN)
		return -EBADMSG;
	memcpy(hdr + 1, pkt + 1, MOQ_QUIC_CID_LEN);
	for (size_t i = 0; i < pnlen; i++) {
		hdr[PN_OFF + i] = pkt[PN_OFF + i] ^ mask[1 + i];
		trunc = trunc << 8 | hdr[PN_OFF + i];
	}
	pn = pn_decode(k->rx_largest, k->rx_any, trunc, (unsigned)(8 * pnlen));
	kp = (hdr[0] >> 2) & 1;
	if (k->rx_old.valid && now >= k->old_until)
		gen_clear(&k->rx_old);
	if (kp == k->rx_phase)
		g = &k->rx_cur;
	else if (k->rx_old.valid && pn < k->rx_phase_first)
		g = &k->rx_old;
	else
		g = &k->rx_next;
	nonce_of(nonce, g->iv, pn);
	ptlen = ptcap;
	if (!g->h || gnutls_aead_cipher_decrypt(g->h, nonce, sizeof(nonce), hdr, hlen, TAGLEN,
						pkt + hlen, n - hlen, pt, &ptlen) < 0)
		return -EBADMSG;
	if (hdr[0] & 0x18) /* reserved bits (RFC 9000 17.3.1): drop */
		return -EBADMSG;
	if (HDR4 + ptlen + TAGLEN > cap)
		return -EMSGSIZE;
	if (g == &k->rx_next) {
		if (rotate_rx(k, pn, now, pto))
			return -EIO;
		rotated = 1;
	} else if (g == &k->rx_cur && (pn < k->rx_phase_first || !k->rx_any)) {
		k->rx_phase_first = pn;
	}
	if (!k->rx_any || pn > k->rx_largest)
		k->rx_largest = pn;
	k->rx_any = 1;
	scan_acks(k, pt, pt + ptlen);
	/* the plaintext-profile form for recv_hook and ngtcp2 */
	pkt[0] = 0x43;
	pkt[PN_OFF] = (uint8_t)(pn >> 24);
	pkt[PN_OFF + 1] = (uint8_t)(pn >> 16);
	pkt[PN_OFF + 2] = (uint8_t)(pn >> 8);
	pkt[PN_OFF + 3] = (uint8_t)pn;
	memcpy(pkt + HDR4, pt, ptlen);
	memcpy(pkt + HDR4 + ptlen, MOQ_QUIC_PLAINTEXT_TAG, TAGLEN);
	*len = HDR4 + ptlen + TAGLEN;
	return rotated;
}

int moq_quic__shim_open(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap)
{
	struct moq_quic__keys *k = c->keys;
	int rv;

	if (!k || !k->shim || !k->have_rx)
		return -EINVAL;
	rv = moq_quic__keys_open(k, pkt, len, cap, c->ep->openbuf, sizeof(c->ep->openbuf),
				 moq_quic__now(), ngtcp2_conn_get_pto(c->conn));
	if (rv < 0) {
		k->open_failed++;
		c->ep->st.rx_open_failed++;
		return rv;
	}
	if (rv == 1) {
		/* the peer initiated: tx follows (RFC 9001 6.2) */
		if (k->tx_phase != k->rx_phase)
			return tx_advance(c, k) ? -EIO : 0;
		k->notify = 1; /* rx only: the update we initiated completed */
		moq_quic__keys_notify(c);
	}
	return 0;
}

/* ---- tests and fuzzing --------------------------------------------------- */

struct moq_quic__keys *moq_quic__keys_new(const uint8_t rx_secret[32], const uint8_t tx_secret[32])
{
	struct moq_quic__keys *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->aes128 = k->shim = 1;
	if (gen_set(&k->rx_cur, rx_secret, 1) || gen_next(&k->rx_next, &k->rx_cur, 1) ||
	    moq_quic__hkdf_label(k->rx_hp, 16, rx_secret, 32, "quic hp") ||
	    hp_init(&k->rx_hph, k->rx_hp) || gen_set(&k->tx_cur, tx_secret, 1) ||
	    gen_next(&k->tx_next, &k->tx_cur, 1) ||
	    moq_quic__hkdf_label(k->tx_hp, 16, tx_secret, 32, "quic hp") ||
	    hp_init(&k->tx_hph, k->tx_hp)) {
		moq_quic__keys_destroy(k);
		return NULL;
	}
	k->have_rx = k->have_tx = 1;
	return k;
}

/* ---- public API ---------------------------------------------------------- */

int moq_quic_conn_shim_protected(const struct moq_quic_conn *c)
{
	return moq_quic__shim_on(c);
}

int moq_quic_conn_1rtt_keys(const struct moq_quic_conn *c, int tx, int next,
			    struct moq_quic_1rtt_keys *out)
{
	const struct moq_quic__keys *k = c->keys;
	const struct kgen *g;

	if (c->ep->cfg.plaintext)
		return -ENOTSUP;
	if (!k || !(tx ? k->have_tx : k->have_rx))
		return -ENOENT;
	if (!k->aes128)
		return -ENOTSUP;
	g = tx ? (next ? &k->tx_next : &k->tx_cur) : (next ? &k->rx_next : &k->rx_cur);
	if (!g->valid)
		return -ENOENT;
	memcpy(out->key, g->key, sizeof(out->key));
	memcpy(out->iv, g->iv, sizeof(out->iv));
	memcpy(out->hp, tx ? k->tx_hp : k->rx_hp, sizeof(out->hp));
	out->phase = (uint8_t)((tx ? k->tx_phase : k->rx_phase) ^ (next ? 1u : 0u));
	return 0;
}

int moq_quic_conn_key_update(struct moq_quic_conn *c)
{
	struct moq_quic__keys *k = c->keys;
	int rv;

	if (c->ep->cfg.plaintext)
		return -ENOTSUP;
	if (c->state != CS_ESTABLISHED || !moq_quic__conn_usable(c))
		return -ENOTCONN;
	if (!k || !k->shim) {
		rv = ngtcp2_conn_initiate_key_update(c->conn, moq_quic__now());
		if (rv)
			return -EAGAIN;
		moq_quic__mark_dirty(c);
		return 0;
	}
	/* RFC 9001 6.1/6.5: the previous update finished (old keys gone) and
	 * a packet of the current phase was acknowledged */
	if (k->rx_phase != k->tx_phase || !k->tx_phase_used || !k->any_acked ||
	    k->acked < k->tx_phase_first)
		return -EAGAIN;
	if (k->rx_old.valid) {
		if (moq_quic__now() < k->old_until)
			return -EAGAIN;
		gen_clear(&k->rx_old);
	}
	/* reported now: the agent re-exports before the kernel seals again */
	if (tx_advance(c, k))
		return -EIO;
	moq_quic__mark_dirty(c);
	return 0;
}

uint64_t moq_quic__keys_updates(const struct moq_quic_conn *c)
{
	return c->keys ? c->keys->key_updates : 0;
}

uint64_t moq_quic__keys_open_failed(const struct moq_quic_conn *c)
{
	return c->keys ? c->keys->open_failed : 0;
}

/* ---- largest accepted 1-RTT packet number (connections ngtcp2 protects) -- */

/* The kernel's fast path for a TLS publisher expands truncated packet
 * numbers against a window the agent seeds with this number
 * (docs/fast-path-tls-upstream.md). rx_largest/rx_any serve the shim's
 * open otherwise; rx_hph is made here for native connections. */
static struct moq_quic__keys *rx_pn_keys(struct moq_quic_conn *c)
{
	struct moq_quic__keys *k = c->keys;

	if (!k || k->shim || k->rx_pn_off || !k->aes128 || !k->have_rx ||
	    !(c->ep->cfg.track_rx_pn || c->ep->cfg.shim_protect))
		return NULL;
	if (!k->rx_hph && hp_init(&k->rx_hph, k->rx_hp)) {
		k->rx_hph = NULL;
		return NULL;
	}
	return k;
}

int moq_quic__rx_pn_peek(struct moq_quic_conn *c, const uint8_t *pkt, size_t n, uint64_t *pn,
			 uint64_t *opens)
{
	struct moq_quic__keys *k = rx_pn_keys(c);
	uint8_t mask[16];
	uint64_t trunc = 0;
	size_t pnlen;

	if (!k || n < PN_OFF + 4 + 16 || (pkt[0] & 0xc0) != 0x40 ||
	    hp_mask(k->rx_hph, pkt + PN_OFF + 4, mask))
		return -1;
	pnlen = (size_t)((pkt[0] ^ mask[0]) & 3) + 1;
	for (size_t i = 0; i < pnlen; i++)
		trunc = trunc << 8 | (uint8_t)(pkt[PN_OFF + i] ^ mask[1 + i]);
	*pn = pn_decode(k->rx_largest, k->rx_any, trunc, (unsigned)(8 * pnlen));
	*opens = native_opens;
	return 0;
}

void moq_quic__rx_pn_accept(struct moq_quic_conn *c, uint64_t pn, uint64_t opens)
{
	struct moq_quic__keys *k = c->keys;

	if (!k || k->shim || native_opens == opens)
		return; /* ngtcp2 did not open it: forged, or not ours */
	if (!k->rx_any || pn > k->rx_largest)
		k->rx_largest = pn;
	k->rx_any = 1;
}

void moq_quic__keys_rx_learn(struct moq_quic_conn *c, uint64_t pn)
{
	struct moq_quic__keys *k = c->keys;

	if (!k || !k->shim || !k->have_rx)
		return;
	if (!k->rx_any || pn > k->rx_largest)
		k->rx_largest = pn;
	k->rx_any = 1;
}

void moq_quic_conn_rx_pn_untrack(struct moq_quic_conn *c)
{
	struct moq_quic__keys *k = c->keys;

	if (!k || k->shim)
		return; /* the shim's own open needs its numbers */
	k->rx_pn_off = 1;
	k->rx_any = 0;
}

int moq_quic_conn_rx_largest_pn(const struct moq_quic_conn *c, uint64_t *pn)
{
	const struct moq_quic__keys *k = c->keys;

	if (!k || !k->rx_any)
		return -ENOENT;
	*pn = k->rx_largest;
	return 0;
}
