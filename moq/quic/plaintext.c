/* Plaintext profile: null packet protection and the plaintext handshake.
 * Wire format: docs/plaintext-profile.md. */
#include "quic/plaintext.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moq_err.h"
#include "quic/base.h"
#include "varint.h"

#define PT_IVLEN 12
#define PT_VERSION 1u
#define TP_GREASE_QUIC_BIT 0x2ab2

/* QUIC transport error codes used for handshake failures. */
#define QERR_PROTOCOL_VIOLATION 0x0a
#define QERR_CRYPTO_NO_ALPN 0x178 /* CRYPTO_ERROR + TLS alert 120 */

static const uint8_t zero_iv[PT_IVLEN];
static const uint8_t zero_secret[32];

static const ngtcp2_crypto_ctx pt_ctx = {
    .aead = {.native_handle = NULL, .max_overhead = MOQ_QUIC_PLAINTEXT_TAG_LEN},
    .md = {.native_handle = NULL},
    .hp = {.native_handle = NULL},
    .max_encryption = UINT64_MAX,
    .max_decryption_failure = UINT64_MAX,
};

static int pt_encrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
		      const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *plaintext,
		      size_t plaintextlen, const uint8_t *nonce, size_t noncelen,
		      const uint8_t *aad, size_t aadlen)
{
	struct moq_quic_conn *c = aead_ctx ? aead_ctx->native_handle : NULL;

	moq_quic__null_seal(dest, plaintext, plaintextlen);
	/* The IV is all zero, so the nonce's last 8 bytes are the full packet
	 * number. Remember it for the send shim (short header only). */
	if (c && aadlen && !(aad[0] & 0x80) && noncelen >= 8) {
		uint64_t pn = 0;
		for (size_t i = noncelen - 8; i < noncelen; i++)
			pn = pn << 8 | nonce[i];
		c->pt_last_pn = pn;
		c->pt_pn_valid = 1;
	}
	return 0;
}

static int pt_decrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
		      const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *ciphertext,
		      size_t ciphertextlen, const uint8_t *nonce, size_t noncelen,
		      const uint8_t *aad, size_t aadlen)
{
	return moq_quic__null_open(dest, ciphertext, ciphertextlen) ? NGTCP2_ERR_DECRYPT : 0;
}

static int pt_hp_mask(uint8_t *dest, const ngtcp2_crypto_cipher *hp,
		      const ngtcp2_crypto_cipher_ctx *hp_ctx, const uint8_t *sample)
{
	memset(dest, 0, NGTCP2_HP_MASKLEN);
	return 0;
}

/* ---- key installation ---- */

static int install_initial(struct moq_quic_conn *c)
{
	ngtcp2_conn_set_initial_crypto_ctx(c->conn, &pt_ctx);
	return ngtcp2_conn_install_initial_key(c->conn, &c->pt_aead_ctx, zero_iv, &c->pt_hp_ctx,
					       &c->pt_aead_ctx, zero_iv, &c->pt_hp_ctx, PT_IVLEN);
}

static int install_handshake(struct moq_quic_conn *c)
{
	int rv;
	ngtcp2_conn_set_crypto_ctx(c->conn, &pt_ctx);
	rv = ngtcp2_conn_install_rx_handshake_key(c->conn, &c->pt_aead_ctx, zero_iv, PT_IVLEN,
						  &c->pt_hp_ctx);
	if (rv)
		return rv;
	return ngtcp2_conn_install_tx_handshake_key(c->conn, &c->pt_aead_ctx, zero_iv, PT_IVLEN,
						    &c->pt_hp_ctx);
}

static int install_1rtt(struct moq_quic_conn *c)
{
	int rv = ngtcp2_conn_install_rx_key(c->conn, zero_secret, sizeof(zero_secret),
					    &c->pt_aead_ctx, zero_iv, PT_IVLEN, &c->pt_hp_ctx);
	if (rv)
		return rv;
	return ngtcp2_conn_install_tx_key(c->conn, zero_secret, sizeof(zero_secret),
					  &c->pt_aead_ctx, zero_iv, PT_IVLEN, &c->pt_hp_ctx);
}

/* ---- handshake messages ---- */

#define MAGIC_LEN 8
static const char MAGIC_CH[] = "MOQPT-CH";
static const char MAGIC_SH[] = "MOQPT-SH";
static const char MAGIC_SE[] = "MOQPT-SE";
static const char MAGIC_CF[] = "MOQPT-CF";

/* Local transport parameters without grease_quic_bit. */
static ngtcp2_ssize local_tp(struct moq_quic_conn *c, uint8_t *out, size_t outlen)
{
	uint8_t tmp[1024];
	ngtcp2_ssize n = ngtcp2_conn_encode_local_transport_params(c->conn, tmp, sizeof(tmp));
	const uint8_t *p = tmp, *end;
	size_t o = 0;

	if (n < 0)
		return n;
	end = tmp + n;
	while (p < end) {
		uint64_t id, len;
		const uint8_t *start = p;
		int a = quic_varint_decode(&id, p, (size_t)(end - p));
		if (a < 0)
			return NGTCP2_ERR_INTERNAL;
		p += a;
		a = quic_varint_decode(&len, p, (size_t)(end - p));
		if (a < 0 || len > (uint64_t)(end - p - a))
			return NGTCP2_ERR_INTERNAL;
		p += a + len;
		if (id == TP_GREASE_QUIC_BIT)
			continue;
		if (o + (size_t)(p - start) > outlen)
			return NGTCP2_ERR_NOBUF;
		memcpy(out + o, start, (size_t)(p - start));
		o += (size_t)(p - start);
	}
	return (ngtcp2_ssize)o;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int submit_msg(struct moq_quic_conn *c, ngtcp2_encryption_level level, const char *magic,
		      const uint8_t *body, size_t bodylen)
{
	uint8_t msg[1200];

	if (bodylen + MAGIC_LEN + 2 > sizeof(msg))
		return NGTCP2_ERR_INTERNAL;
	memcpy(msg, magic, MAGIC_LEN);
	put16(msg + MAGIC_LEN, bodylen);
	if (bodylen)
		memcpy(msg + MAGIC_LEN + 2, body, bodylen);
	return ngtcp2_conn_submit_crypto_data(c->conn, level, msg, MAGIC_LEN + 2 + bodylen);
}

/* body = [version u32] alpn_len u8, alpn, tp_len u16, tp */
static int build_alpn_tp(struct moq_quic_conn *c, uint8_t *body, size_t cap, int with_version)
{
	const char *alpn = c->ep->s_alpn;
	size_t al = strlen(alpn), o = 0;
	ngtcp2_ssize tl;

	if (with_version) {
		body[o++] = 0;
		body[o++] = 0;
		body[o++] = 0;
		body[o++] = PT_VERSION;
	}
	body[o++] = (uint8_t)al;
	memcpy(body + o, alpn, al);
	o += al;
	tl = local_tp(c, body + o + 2, cap - o - 2);
	if (tl < 0)
		return (int)tl;
	put16(body + o, (size_t)tl);
	o += 2 + (size_t)tl;
	return (int)o;
}

static int client_initial(ngtcp2_conn *conn, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	uint8_t body[1100];
	int n;

	if (install_initial(c))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	n = build_alpn_tp(c, body, sizeof(body), 1);
	if (n < 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (submit_msg(c, NGTCP2_ENCRYPTION_LEVEL_INITIAL, MAGIC_CH, body, (size_t)n))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int recv_client_initial(ngtcp2_conn *conn, const ngtcp2_cid *dcid, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	return install_initial(c) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int recv_retry(ngtcp2_conn *conn, const ngtcp2_pkt_hd *hd, void *user_data)
{
	moq_quic__conn_set_hs_error(user_data, QERR_PROTOCOL_VIOLATION,
				    "plaintext profile: server sent Retry, "
				    "which the profile does not use");
	return NGTCP2_ERR_CALLBACK_FAILURE;
}

static int fail(struct moq_quic_conn *c, uint64_t code, const char *what)
{
	moq_quic__conn_set_hs_error(c, code, "%s", what);
	return NGTCP2_ERR_CALLBACK_FAILURE;
}

static void fmt_alpn(char *out, size_t outlen, const uint8_t *a, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < outlen; i++) {
		if (a[i] >= 0x20 && a[i] < 0x7f)
			out[o++] = (char)a[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", a[i]);
	}
	out[o] = 0;
}

/* Parse "alpn_len alpn tp_len tp" at p; check ALPN; decode peer TPs. */
static int take_alpn_tp(struct moq_quic_conn *c, const uint8_t *p, size_t n)
{
	const char *want = c->ep->s_alpn;
	size_t al, tl;
	char got[128];
	int rv;

	if (n < 1)
		return fail(c, QERR_PROTOCOL_VIOLATION, "plaintext handshake: truncated ALPN");
	al = p[0];
	if (n < 1 + al + 2)
		return fail(c, QERR_PROTOCOL_VIOLATION, "plaintext handshake: truncated ALPN");
	fmt_alpn(got, sizeof(got), p + 1, al);
	if (al != strlen(want) || memcmp(p + 1, want, al)) {
		moq_quic__conn_set_hs_error(c, QERR_CRYPTO_NO_ALPN,
					    "ALPN mismatch: peer offered \"%s\", this endpoint "
					    "speaks \"%s\"",
					    got, want);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	snprintf(c->alpn, sizeof(c->alpn), "%.63s", got);
	tl = (size_t)p[1 + al] << 8 | p[2 + al];
	if (n < 3 + al + tl)
		return fail(c, QERR_PROTOCOL_VIOLATION,
			    "plaintext handshake: truncated transport "
			    "parameters");
	rv = ngtcp2_conn_decode_and_set_remote_transport_params(c->conn, p + 3 + al, tl);
	if (rv) {
		moq_quic__conn_set_hs_error(c, 0x08 /* TRANSPORT_PARAMETER_ERROR */,
					    "plaintext handshake: bad transport parameters: %s",
					    ngtcp2_strerror(rv));
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static int looks_like_tls(const uint8_t *d, size_t n)
{
	/* TLS handshake messages start with their type: 1 ClientHello,
	 * 2 ServerHello, 8 EncryptedExtensions ... then a 24-bit length. */
	return n >= 1 && d[0] >= 1 && d[0] <= 24;
}

static int on_msg(struct moq_quic_conn *c, ngtcp2_encryption_level level, const uint8_t *magic,
		  const uint8_t *body, size_t bodylen)
{
	int server = c->server, rv;

	if (server && level == NGTCP2_ENCRYPTION_LEVEL_INITIAL &&
	    !memcmp(magic, MAGIC_CH, MAGIC_LEN)) {
		uint8_t out[1100];
		uint32_t ver;
		int n;

		if (bodylen < 4)
			return fail(c, QERR_PROTOCOL_VIOLATION,
				    "plaintext handshake: truncated ClientHello");
		ver = (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 | (uint32_t)body[2] << 8 |
		      body[3];
		if (ver != PT_VERSION) {
			moq_quic__conn_set_hs_error(c, QERR_PROTOCOL_VIOLATION,
						    "plaintext handshake: peer speaks profile "
						    "version %u, this endpoint %u",
						    ver, PT_VERSION);
			return NGTCP2_ERR_CALLBACK_FAILURE;
		}
		if ((rv = take_alpn_tp(c, body + 4, bodylen - 4)))
			return rv;
		if (install_handshake(c))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		out[0] = out[1] = out[2] = 0;
		out[3] = PT_VERSION;
		if (submit_msg(c, NGTCP2_ENCRYPTION_LEVEL_INITIAL, MAGIC_SH, out, 4))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		n = build_alpn_tp(c, out, sizeof(out), 0);
		if (n < 0 ||
		    submit_msg(c, NGTCP2_ENCRYPTION_LEVEL_HANDSHAKE, MAGIC_SE, out, (size_t)n))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		if (install_1rtt(c))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		return 0;
	}
	if (!server && level == NGTCP2_ENCRYPTION_LEVEL_INITIAL &&
	    !memcmp(magic, MAGIC_SH, MAGIC_LEN)) {
		if (bodylen < 4 || body[3] != PT_VERSION)
			return fail(c, QERR_PROTOCOL_VIOLATION,
				    "plaintext handshake: server speaks "
				    "another profile version");
		return install_handshake(c) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
	}
	if (!server && level == NGTCP2_ENCRYPTION_LEVEL_HANDSHAKE &&
	    !memcmp(magic, MAGIC_SE, MAGIC_LEN)) {
		if ((rv = take_alpn_tp(c, body, bodylen)))
			return rv;
		if (install_1rtt(c))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		if (submit_msg(c, NGTCP2_ENCRYPTION_LEVEL_HANDSHAKE, MAGIC_CF, NULL, 0))
			return NGTCP2_ERR_CALLBACK_FAILURE;
		ngtcp2_conn_tls_handshake_completed(c->conn);
		return 0;
	}
	if (server && level == NGTCP2_ENCRYPTION_LEVEL_HANDSHAKE &&
	    !memcmp(magic, MAGIC_CF, MAGIC_LEN)) {
		ngtcp2_conn_tls_handshake_completed(c->conn);
		return 0;
	}
	return fail(c, QERR_PROTOCOL_VIOLATION, "plaintext handshake: unexpected message");
}

static int recv_crypto_data(ngtcp2_conn *conn, ngtcp2_encryption_level level, uint64_t offset,
			    const uint8_t *data, size_t datalen, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	struct pt_hs *h = c->pths;
	unsigned li = (unsigned)level;
	uint8_t *b;

	if (li > 1 || !h) /* nothing is sent at 1-RTT or 0-RTT level */
		return fail(c, QERR_PROTOCOL_VIOLATION,
			    "plaintext handshake: CRYPTO data after the "
			    "handshake");
	if (h->done[li])
		return fail(c, QERR_PROTOCOL_VIOLATION, "plaintext handshake: extra CRYPTO data");
	if (offset == 0 && h->rlen[li] == 0 && memcmp(data, "MOQPT-", datalen < 6 ? datalen : 6)) {
		if (looks_like_tls(data, datalen))
			return fail(c, QERR_PROTOCOL_VIOLATION,
				    c->server ? "peer uses TLS; this endpoint runs "
						"--plaintext"
					      : "peer answered with TLS; this endpoint "
						"runs --plaintext");
		return fail(c, QERR_PROTOCOL_VIOLATION,
			    "plaintext handshake: bad magic (peer is not a "
			    "moq plaintext-profile endpoint)");
	}
	if (h->rlen[li] + datalen > sizeof(h->rbuf[li]))
		return fail(c, QERR_PROTOCOL_VIOLATION, "plaintext handshake: message too long");
	memcpy(h->rbuf[li] + h->rlen[li], data, datalen);
	h->rlen[li] += datalen;
	b = h->rbuf[li];
	/* Server Initial carries only SH; every level carries one message. */
	if (h->rlen[li] >= MAGIC_LEN + 2) {
		size_t bl = (size_t)b[MAGIC_LEN] << 8 | b[MAGIC_LEN + 1];
		if (h->rlen[li] > MAGIC_LEN + 2 + bl)
			return fail(c, QERR_PROTOCOL_VIOLATION,
				    "plaintext handshake: trailing bytes");
		if (h->rlen[li] == MAGIC_LEN + 2 + bl) {
			h->done[li] = 1;
			return on_msg(c, level, b, b + MAGIC_LEN + 2, bl);
		}
	}
	return 0;
}

static int update_key(ngtcp2_conn *conn, uint8_t *rx_secret, uint8_t *tx_secret,
		      ngtcp2_crypto_aead_ctx *rx_aead_ctx, uint8_t *rx_iv,
		      ngtcp2_crypto_aead_ctx *tx_aead_ctx, uint8_t *tx_iv,
		      const uint8_t *current_rx_secret, const uint8_t *current_tx_secret,
		      size_t secretlen, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	memset(rx_secret, 0, secretlen);
	memset(tx_secret, 0, secretlen);
	*rx_aead_ctx = c->pt_aead_ctx;
	*tx_aead_ctx = c->pt_aead_ctx;
	memset(rx_iv, 0, PT_IVLEN);
	memset(tx_iv, 0, PT_IVLEN);
	return 0;
}

static void del_aead(ngtcp2_conn *conn, ngtcp2_crypto_aead_ctx *a, void *u)
{
}

static void del_cipher(ngtcp2_conn *conn, ngtcp2_crypto_cipher_ctx *a, void *u)
{
}

static int path_challenge(ngtcp2_conn *conn, uint8_t *data, void *u)
{
	moq_quic__rand(data, NGTCP2_PATH_CHALLENGE_DATALEN);
	return 0;
}

static void pt_callbacks(ngtcp2_callbacks *cb, int server)
{
	if (server)
		cb->recv_client_initial = recv_client_initial;
	else {
		cb->client_initial = client_initial;
		cb->recv_retry = recv_retry;
	}
	cb->recv_crypto_data = recv_crypto_data;
	cb->encrypt = pt_encrypt;
	cb->decrypt = pt_decrypt;
	cb->hp_mask = pt_hp_mask;
	cb->update_key = update_key;
	cb->delete_crypto_aead_ctx = del_aead;
	cb->delete_crypto_cipher_ctx = del_cipher;
	cb->get_path_challenge_data = path_challenge;
}

int moq_quic__pt_initial_is_plaintext(const uint8_t *pkt, size_t len)
{
	size_t o = 5;
	uint64_t v;
	int n;

	if (len < 7 || !(pkt[0] & 0x80) || ((pkt[0] & 0x30) >> 4) != 0)
		return -1;
	if (pkt[1] || pkt[2] || pkt[3] || pkt[4] != 1)
		return -1;
	for (int i = 0; i < 2; i++) { /* DCID, SCID */
		if (o >= len || pkt[o] > 20)
			return -1;
		o += 1 + pkt[o];
	}
	if (o >= len)
		return -1;
	n = quic_varint_decode(&v, pkt + o, len - o); /* token */
	if (n < 0 || v > len)
		return -1;
	o += (size_t)n + v;
	if (o >= len)
		return -1;
	n = quic_varint_decode(&v, pkt + o, len - o); /* Length */
	if (n < 0)
		return -1;
	o += (size_t)n;
	if (v > len - o || v < MOQ_QUIC_PLAINTEXT_TAG_LEN)
		return -1;
	o += v;
	return !memcmp(pkt + o - MOQ_QUIC_PLAINTEXT_TAG_LEN, MOQ_QUIC_PLAINTEXT_TAG,
		       MOQ_QUIC_PLAINTEXT_TAG_LEN);
}

ngtcp2_ssize moq_quic__pt_write_initial_close(uint8_t *dest, size_t destlen, const ngtcp2_cid *dcid,
					      const ngtcp2_cid *scid, uint64_t code,
					      const char *reason)
{
	ngtcp2_crypto_aead_ctx actx = {.native_handle = NULL};
	ngtcp2_crypto_cipher_ctx hctx = {.native_handle = NULL};

	return ngtcp2_pkt_write_connection_close(dest, destlen, NGTCP2_PROTO_VER_V1, dcid, scid,
						 code, (const uint8_t *)reason, strlen(reason),
						 pt_encrypt, &pt_ctx.aead, &actx, zero_iv,
						 pt_hp_mask, &pt_ctx.hp, &hctx);
}

static int pt_conn_init(struct moq_quic_conn *c, const char *host)
{
	c->pt_aead_ctx.native_handle = c;
	c->pt_hp_ctx.native_handle = c;
	c->pths = calloc(1, sizeof(*c->pths));
	return c->pths ? 0 : -1;
}

static void pt_conn_free(struct moq_quic_conn *c)
{
	free(c->pths);
	c->pths = NULL;
}

const struct moq_quic__crypto_ops moq_quic__pt_ops = {
    .conn_init = pt_conn_init,
    .conn_free = pt_conn_free,
    .callbacks = pt_callbacks,
};
