/* Internal structures of the QUIC layer (not for applications). */
#ifndef MOQ_QUIC_INT_H
#define MOQ_QUIC_INT_H

#include <stdio.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#if NGTCP2_VERSION_NUM < 0x010b00
#error "moq-relay needs ngtcp2 >= 1.11 (Debian 12: bookworm-backports; ./install.sh)"
#endif

#include "quic/quic.h"

struct chunk {
	struct chunk *next;
	const uint8_t *data;
	size_t len;
	uint64_t off; /* stream offset of data[0] */
	moq_quic_buf_done done;
	void *done_arg;
	uint8_t *owned; /* copy we own (== data) */
};

struct qstream {
	int64_t id;
	struct qstream *hnext;		/* hash chain */
	struct qstream *snext, **sprev; /* conn's stream list */
	void *user;
	uint32_t prio;
	uint64_t rr;			 /* round-robin stamp */
	struct chunk *head, *tail, *cur; /* cur: first chunk with unsent data */
	uint64_t queued;		 /* end offset of queued data */
	uint64_t sent;			 /* bytes handed to ngtcp2 */
	uint64_t acked;
	struct qstream *sendnext;
	int in_sendable;
	int want_writable;
	size_t send_buffer_low; /* on_stream_writable threshold */
	int local_reset, peer_reset, stop_reported, stop_pending;
	uint64_t stop_code;
	unsigned fin_queued : 1, fin_sent : 1, wr_shut : 1, blocked : 1, writable_pending : 1;
};

struct dgram {
	struct dgram *next;
	size_t len;
	uint8_t data[];
};

enum conn_state {
	CS_HANDSHAKE,
	CS_ESTABLISHED,
	CS_CLOSING, /* CONNECTION_CLOSE sent; waiting 3 PTO */
	CS_DEAD,    /* on_close called; freed soon */
};

struct cid_entry {
	ngtcp2_cid cid;
	struct moq_quic_conn *conn;
	struct cid_entry *next;	 /* hash chain */
	struct cid_entry *cnext; /* conn's list */
};

/* Plaintext handshake state (plaintext.c). */
struct pt_hs {
	uint8_t rbuf[3][2048]; /* received CRYPTO per level */
	size_t rlen[3];
	int done[3];
};

struct moq_quic_conn {
	struct moq_quic_endpoint *ep;
	ngtcp2_conn *conn;
	enum conn_state state;
	int server;
	void *user;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	ngtcp2_path_storage ps;
	struct moq_timer *timer;
	struct cid_entry *cids;
	struct moq_quic_close_info ci;
	char alpn[64];

	/* requested actions, run at flush (never inside ngtcp2 callbacks) */
	int want_close;
	uint64_t close_code;
	int close_app;
	int close_tls_alert; /* >= 0: use tls alert */
	char close_reason[256];
	int silent_drop;
	int hs_failed; /* our callback failed the handshake; ci filled */
	uint64_t hs_code;
	int est_pending;
	int got_sr;
	int closed_notified;

	uint8_t *close_pkt; /* saved CONNECTION_CLOSE for the closing period */
	size_t close_pktlen;
	uint64_t close_deadline;

	/* streams */
	struct qstream **sh;
	size_t nsh, nstreams;
	struct qstream *streams;
	struct qstream *sendable; /* streams with unsent data (linked by sendnext) */
	uint64_t rr_clock;

	struct dgram *dq_head, *dq_tail;
	size_t dq_len;

	/* flush list */
	int dirty;
	struct moq_quic_conn *dnext;
	struct moq_quic_conn *next, **prev; /* endpoint list */

	/* plaintext */
	ngtcp2_crypto_aead_ctx pt_aead_ctx;
	ngtcp2_crypto_cipher_ctx pt_hp_ctx;
	uint64_t pt_last_pn;
	int pt_pn_valid;
	struct pt_hs *pths;

	/* TLS */
	gnutls_session_t tls;
	ngtcp2_crypto_conn_ref conn_ref;
	char tls_err[200];
	char vhost[256]; /* name verified against the certificate */

	FILE *qlog;
	uint64_t pkts_sent, pkts_recv;
	uint64_t uni_opened; /* local unidirectional streams opened */
};

/* Datagram waiting for the socket to become writable (EAGAIN). */
struct txq {
	struct txq *next;
	struct sockaddr_storage sa;
	socklen_t sl;
	size_t len;
	uint8_t data[];
};

struct moq_quic_endpoint {
	struct moq_loop *loop;
	struct moq_quic_config cfg;
	char *s_local_addr, *s_alpn, *s_cert, *s_key, *s_ca, *s_sni, *s_qlog_dir;
	struct moq_quic_callbacks cb;
	int fd;
	int family;
	struct sockaddr_storage local;
	socklen_t locallen;
	struct cid_entry **ct; /* CID table */
	size_t nct, ncids;
	struct moq_quic_conn *conns;
	size_t nconns;
	struct moq_quic_conn *dirty_head;
	int flush_scheduled;
	int reap_scheduled;
	struct moq_quic_endpoint_stats st;
	struct txq *txq_head, *txq_tail;
	size_t txq_len;
	int tx_blocked;		  /* socket buffer full: queue, wait for EPOLLOUT */
	uint64_t sr_window_start; /* stateless reset rate limit */
	unsigned sr_in_window;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	uint8_t rxbuf[65536 + 64];
	uint8_t txbuf[65536];
	uint8_t shimbuf[65536];
};

/* quic.c */
extern unsigned moq_quic_test_fake_eagain;
void moq_quic__conn_set_hs_error(struct moq_quic_conn *c, uint64_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int moq_quic__cid_add(struct moq_quic_endpoint *ep, struct moq_quic_conn *c, const ngtcp2_cid *cid);
void moq_quic__rand(uint8_t *dest, size_t len);

/* plaintext.c */
extern const ngtcp2_crypto_ctx moq_quic_pt_ctx;
int moq_quic_pt_encrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
			const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *plaintext,
			size_t plaintextlen, const uint8_t *nonce, size_t noncelen,
			const uint8_t *aad, size_t aadlen);
int moq_quic_pt_decrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
			const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *ciphertext,
			size_t ciphertextlen, const uint8_t *nonce, size_t noncelen,
			const uint8_t *aad, size_t aadlen);
int moq_quic_pt_hp_mask(uint8_t *dest, const ngtcp2_crypto_cipher *hp,
			const ngtcp2_crypto_cipher_ctx *hp_ctx, const uint8_t *sample);
void moq_quic_pt_callbacks(ngtcp2_callbacks *cb, int server);
/* Does this long-header Initial packet end with the plaintext tag?
 * 1 yes, 0 no, -1 not a parsable Initial. */
int moq_quic_pt_initial_is_plaintext(const uint8_t *pkt, size_t len);
/* Write an Initial CONNECTION_CLOSE protected with null protection. */
ngtcp2_ssize moq_quic_pt_write_initial_close(uint8_t *dest, size_t destlen, const ngtcp2_cid *dcid,
					     const ngtcp2_cid *scid, uint64_t code,
					     const char *reason);

/* tls.c */
int moq_quic_tls_ep_init(struct moq_quic_endpoint *ep, char *err, size_t errlen);
void moq_quic_tls_ep_free(struct moq_quic_endpoint *ep);
int moq_quic_tls_conn_init(struct moq_quic_conn *c, const char *host);
void moq_quic_tls_conn_free(struct moq_quic_conn *c);
void moq_quic_tls_callbacks(ngtcp2_callbacks *cb, int server);
/* After handshake: check ALPN; fills c->alpn. 0 ok, -1 mismatch (ci set). */
int moq_quic_tls_check_alpn(struct moq_quic_conn *c);

#endif
