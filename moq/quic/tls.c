/* TLS 1.3 for the QUIC layer through ngtcp2_crypto_gnutls. */
#include "quic/quic_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "log.h"
#include "quic/base.h"
#include "quic/protect.h"

#define PRIO                                                                                       \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"                     \
	"+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:+GROUP-SECP256R1:"                             \
	"+GROUP-X25519:+GROUP-SECP384R1:+GROUP-SECP521R1:"                                         \
	"%DISABLE_TLS13_COMPAT_MODE"

/* Tests only: a priority string instead of PRIO (e.g. a client offering
 * only CHACHA20-POLY1305). NULL = PRIO. */
const char *moq_quic_test_tls_priority;

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	struct moq_quic_conn *c = ref->user_data;
	return c->conn;
}

static struct moq_quic_conn *sess_conn(gnutls_session_t s)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	return ref ? ref->user_data : NULL;
}

/* Client: the server's certificate must be the one pinned by its SHA-256
 * (cfg.cert_sha256) and within its validity period. */
static int verify_pinned(struct moq_quic_conn *c, gnutls_session_t s)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	unsigned char fp[32];
	size_t fl = sizeof(fp);
	gnutls_x509_crt_t crt;
	time_t now = time(NULL);

	if (!certs || !n || gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], fp, &fl) || fl != 32) {
		snprintf(c->tls_err, sizeof(c->tls_err), "TLS: no server certificate to check");
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	if (memcmp(fp, c->ep->cfg.cert_sha256, 32)) {
		snprintf(c->tls_err, sizeof(c->tls_err),
			 "TLS: the server certificate's SHA-256 is not the pinned one "
			 "(--cert-hash)");
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	}
	if (gnutls_x509_crt_init(&crt))
		return GNUTLS_E_CERTIFICATE_ERROR;
	int ok = !gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) &&
		 gnutls_x509_crt_get_activation_time(crt) <= now &&
		 gnutls_x509_crt_get_expiration_time(crt) > now;
	gnutls_x509_crt_deinit(crt);
	if (!ok) {
		snprintf(c->tls_err, sizeof(c->tls_err),
			 "TLS: the pinned certificate is not valid now (expired or not yet "
			 "valid)");
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	}
	return 0;
}

/* Client: verify the server certificate and keep a readable reason. */
static int verify_cb(gnutls_session_t s)
{
	struct moq_quic_conn *c = sess_conn(s);
	struct moq_quic_endpoint *ep = c->ep;
	unsigned status = 0;
	gnutls_datum_t out = {0};
	int rv;

	if (ep->cfg.insecure)
		return 0;
	if (ep->cfg.has_cert_sha256)
		return verify_pinned(c, s);
	rv = gnutls_certificate_verify_peers3(s, c->vhost[0] ? c->vhost : NULL, &status);
	if (rv < 0) {
		snprintf(c->tls_err, sizeof(c->tls_err), "TLS: certificate verify failed: %s",
			 gnutls_strerror(rv));
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	if (status) {
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
		snprintf(c->tls_err, sizeof(c->tls_err), "TLS: certificate verify failed: %s",
			 out.data ? (char *)out.data : "unknown reason");
		gnutls_free(out.data);
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	}
	return 0;
}

static int tls_ep_init(struct moq_quic_endpoint *ep, char *err, size_t errlen)
{
	int rv;

	rv = gnutls_certificate_allocate_credentials(&ep->cred);
	if (rv < 0)
		goto gerr;
	if (ep->cfg.listen) {
		if (!ep->s_cert || !ep->s_key) {
			snprintf(err, errlen,
				 "TLS server needs --cert and --key (PEM), "
				 "or use --plaintext on both ends");
			return -1;
		}
		rv = gnutls_certificate_set_x509_key_file(ep->cred, ep->s_cert, ep->s_key,
							  GNUTLS_X509_FMT_PEM);
		if (rv < 0) {
			snprintf(err, errlen, "cannot load --cert %s / --key %s: %s", ep->s_cert,
				 ep->s_key, gnutls_strerror(rv));
			return -1;
		}
	}
	if (ep->s_ca) {
		rv =
		    gnutls_certificate_set_x509_trust_file(ep->cred, ep->s_ca, GNUTLS_X509_FMT_PEM);
		if (rv <= 0) {
			snprintf(err, errlen, "cannot load --ca %s: %s", ep->s_ca,
				 rv < 0 ? gnutls_strerror(rv) : "no certificate in file");
			return -1;
		}
	} else if (!ep->cfg.listen && !ep->cfg.insecure && !ep->cfg.has_cert_sha256) {
		rv = gnutls_certificate_set_x509_system_trust(ep->cred);
		if (rv < 0)
			moq_warn("quic", "no system CA store (%s); pass --ca", gnutls_strerror(rv));
	}
	if (!ep->cfg.listen && ep->cfg.insecure)
		moq_warn("quic", "--insecure: the server certificate and its name "
				 "are NOT verified; anyone on the path can "
				 "impersonate the server");
	gnutls_certificate_set_verify_function(ep->cred, verify_cb);
	/* shim_protect: AES-128-GCM (first in PRIO) whenever the client
	 * offers it, so the connection can be shim-protected */
	rv = gnutls_priority_init(&ep->prio,
				  moq_quic_test_tls_priority ? moq_quic_test_tls_priority
				  : ep->cfg.listen && ep->cfg.shim_protect ? PRIO
				      ":%SERVER_PRECEDENCE"
									   : PRIO,
				  NULL);
	if (rv < 0)
		goto gerr;
	return 0;
gerr:
	snprintf(err, errlen, "gnutls: %s", gnutls_strerror(rv));
	return -1;
}

static void tls_ep_free(struct moq_quic_endpoint *ep)
{
	if (ep->prio)
		gnutls_priority_deinit(ep->prio);
	if (ep->cred)
		gnutls_certificate_free_credentials(ep->cred);
	ep->prio = NULL;
	ep->cred = NULL;
}

/* Server: record the ALPNs the client offered, for the error message. */
static int ch_ext_cb(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	struct moq_quic_conn *c = ctx;
	size_t o = 0;
	unsigned i;

	if (tls_id != 16 || size < 2)
		return 0;
	for (i = 2; i < size;) {
		unsigned l = data[i++];
		if (i + l > size)
			break;
		if (o + l + 5 >= sizeof(c->alpn))
			break;
		if (o) {
			c->alpn[o++] = ',';
			c->alpn[o++] = ' ';
		}
		c->alpn[o++] = '"';
		for (unsigned k = 0; k < l; k++)
			c->alpn[o++] =
			    (data[i + k] >= 0x20 && data[i + k] < 0x7f) ? (char)data[i + k] : '?';
		c->alpn[o++] = '"';
		i += l;
	}
	c->alpn[o] = 0;
	return 0;
}

static int ch_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
		   const gnutls_datum_t *msg)
{
	struct moq_quic_conn *c = sess_conn(s);

	if (htype == GNUTLS_HANDSHAKE_CLIENT_HELLO && incoming && c) {
		strcpy(c->alpn, "(none)");
		gnutls_ext_raw_parse(c, ch_ext_cb, msg, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO);
	}
	return 0;
}

/* cfg.alpn may list several protocols separated by commas (a server that
 * speaks MoQT both natively and over WebTransport: "moqt-18,h3"). Splits
 * ep->s_alpn into out[]; returns the count. */
#define ALPN_MAX 4
static unsigned alpn_split(const char *list, gnutls_datum_t out[ALPN_MAX])
{
	unsigned n = 0;
	const char *p = list;

	while (*p && n < ALPN_MAX) {
		size_t l = strcspn(p, ",");
		if (l) {
			out[n].data = (unsigned char *)p;
			out[n++].size = (unsigned)l;
		}
		p += l;
		if (*p == ',')
			p++;
	}
	return n;
}

static int tls_conn_init(struct moq_quic_conn *c, const char *host)
{
	struct moq_quic_endpoint *ep = c->ep;
	gnutls_datum_t alpn[ALPN_MAX];
	unsigned nalpn = alpn_split(ep->s_alpn, alpn);
	unsigned char tmp[16];
	int rv;

	rv = gnutls_init(&c->tls, c->server ? GNUTLS_SERVER : GNUTLS_CLIENT);
	if (rv < 0)
		return -1;
	c->conn_ref.get_conn = get_conn;
	c->conn_ref.user_data = c;
	gnutls_session_set_ptr(c->tls, &c->conn_ref);
	if (c->server)
		rv = ngtcp2_crypto_gnutls_configure_server_session(c->tls);
	else
		rv = ngtcp2_crypto_gnutls_configure_client_session(c->tls);
	if (rv)
		return -1;
	moq_quic__keys_session(c);
	if (gnutls_priority_set(c->tls, ep->prio) < 0)
		return -1;
	if (gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, ep->cred) < 0)
		return -1;
	if (gnutls_alpn_set_protocols(c->tls, alpn, nalpn, c->server ? GNUTLS_ALPN_MANDATORY : 0) <
	    0)
		return -1;
	if (c->server) {
		gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_CLIENT_HELLO,
						   GNUTLS_HOOK_PRE, ch_hook);
	} else {
		const char *sni = ep->s_sni && *ep->s_sni ? ep->s_sni : host;
		/* No SNI for IP literals (RFC 6066); verification still
		 * checks the IP against the certificate's SANs. */
		if (sni && inet_pton(AF_INET, sni, tmp) != 1 && inet_pton(AF_INET6, sni, tmp) != 1)
			gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, sni, strlen(sni));
		snprintf(c->vhost, sizeof(c->vhost), "%s", sni ? sni : "");
	}
	ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
	return 0;
}

static void tls_conn_free(struct moq_quic_conn *c)
{
	moq_quic__keys_free(c);
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
}

/* Wrap the crypto helper so a TLS failure leaves a readable reason. */
static int recv_crypto_data(ngtcp2_conn *conn, ngtcp2_encryption_level level, uint64_t offset,
			    const uint8_t *data, size_t datalen, void *user_data)
{
	struct moq_quic_conn *c = user_data;
	int rv = ngtcp2_crypto_read_write_crypto_data(conn, level, data, datalen);
	if (rv == 0)
		return 0;
	if (c->tls_err[0]) {
		moq_quic__conn_set_hs_error(c, 0x100 + ngtcp2_conn_get_tls_alert(conn), "%s",
					    c->tls_err);
	} else {
		uint8_t alert = ngtcp2_conn_get_tls_alert(conn);
		if (c->server && alert == 120 /* no_application_protocol */)
			moq_quic__conn_set_hs_error(c, 0x100 + alert,
						    "ALPN mismatch: peer offered %s, this "
						    "endpoint speaks \"%s\"",
						    c->alpn[0] ? c->alpn : "(none)", c->ep->s_alpn);
		else if (offset == 0 && level == NGTCP2_ENCRYPTION_LEVEL_INITIAL && datalen >= 6 &&
			 !memcmp(data, "MOQPT-", 6))
			moq_quic__conn_set_hs_error(c, 0x0a,
						    "peer uses the plaintext profile; this "
						    "endpoint runs TLS (use --plaintext on both "
						    "ends)");
		else
			moq_quic__conn_set_hs_error(c, 0x100 + (alert ? alert : 80),
						    "TLS: handshake failed (alert %u)", alert);
	}
	return NGTCP2_ERR_CRYPTO;
}

static void tls_callbacks(ngtcp2_callbacks *cb, int server)
{
	if (server)
		cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
	else {
		cb->client_initial = ngtcp2_crypto_client_initial_cb;
		cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
	}
	cb->recv_crypto_data = recv_crypto_data;
	cb->encrypt = ngtcp2_crypto_encrypt_cb;
	cb->decrypt = ngtcp2_crypto_decrypt_cb;
	cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
	cb->update_key = ngtcp2_crypto_update_key_cb;
	cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
	cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
	cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
	cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
	/* 1-RTT key capture and the layer's null 1-RTT contexts */
	moq_quic__keys_callbacks(cb);
}

static int tls_check_alpn(struct moq_quic_conn *c)
{
	gnutls_datum_t p = {0};

	if (gnutls_alpn_get_selected_protocol(c->tls, &p) < 0 || !p.size) {
		moq_quic__conn_set_hs_error(c, 0x178,
					    "ALPN mismatch: peer selected no protocol, this "
					    "endpoint speaks \"%s\"",
					    c->ep->s_alpn);
		return -1;
	}
	gnutls_datum_t ours[ALPN_MAX];
	unsigned n = alpn_split(c->ep->s_alpn, ours), i;
	for (i = 0; i < n; i++)
		if (p.size == ours[i].size && !memcmp(p.data, ours[i].data, p.size))
			break;
	if (i == n) {
		moq_quic__conn_set_hs_error(c, 0x178,
					    "ALPN mismatch: peer selected \"%.*s\", this "
					    "endpoint speaks \"%s\"",
					    (int)p.size, p.data, c->ep->s_alpn);
		return -1;
	}
	snprintf(c->alpn, sizeof(c->alpn), "%.*s", (int)p.size, p.data);
	return 0;
}

const struct moq_quic__crypto_ops moq_quic__tls_ops = {
    .ep_init = tls_ep_init,
    .ep_free = tls_ep_free,
    .conn_init = tls_conn_init,
    .conn_free = tls_conn_free,
    .callbacks = tls_callbacks,
    .handshake_done = tls_check_alpn,
};
