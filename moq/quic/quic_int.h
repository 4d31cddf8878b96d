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
	/* closed peer streams whose credit is not returned yet (stream.c) */
	uint64_t uni_credit_due, bidi_credit_due;
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
	uint64_t closing_rx; /* packets received in the closing period */

	/* server admission: handshakes in progress in age order (ep->hs_*) */
	struct moq_quic_conn *hs_next, **hs_prev;
	int on_hs_list;
	int own_fd;	    /* moq_quic_conn_own_socket: connected socket, or -1 */
	int rx_held;	    /* own_fd not polled (moq_quic_conn_rx_hold) */
	int counted_est;    /* counted in ep->nest */
	int addr_validated; /* came with a valid Retry token */

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
	struct moq_quic__keys *keys; /* 1-RTT keys (protect.c) */
	struct dgram *early;	     /* shim: 1-RTT packets before the rx keys (recv.c) */
	unsigned nearly;
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

/* Receive path: a datagram plus room for the receive hook to grow it in
 * place (recv.c passes this as the hook's cap), and how many datagrams one
 * recvmmsg reads at most. */
#define MOQ_QUIC__RX_ROOM (65536 + 64)
#define MOQ_QUIC__RX_BATCH 64
/* datagrams one moq_quic_conn_rx_read takes at most */
#define MOQ_QUIC__RX_HELD_MAX 16384
/* Send path: datagrams written while the endpoint flushes its dirty
 * connections are sent together with one sendmmsg (send.c), up to this
 * many of at most MOQ_QUIC__TX_SLOT bytes each; larger ones go alone. */
#define MOQ_QUIC__TX_BATCH 32
#define MOQ_QUIC__TX_SLOT 2048

struct moq_quic_endpoint {
	struct moq_loop *loop;
	const struct moq_quic__crypto_ops *crypto;
	moq_loop_defer_cb flush; /* send.c's flush, run deferred by mark_dirty */
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
	/* server admission (conn.c, recv.c) */
	struct moq_quic_conn *hs_head, **hs_tail; /* handshakes, oldest first */
	int reuseport; /* the listening socket has SO_REUSEPORT (own sockets) */
	size_t nhs, nest;
	uint8_t retry_secret[32];
	uint64_t admit_warned_at; /* last admission warning (ns) */
	unsigned sr_in_window;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	/* MOQ_QUIC__RX_BATCH receive buffers of MOQ_QUIC__RX_ROOM each, filled
	 * by one recvmmsg (allocated with the endpoint; pages a datagram never
	 * reached stay untouched) */
	uint8_t *rxbatch;
	uint8_t txbuf[65536];
	uint8_t shimbuf[65536];
	uint8_t openbuf[65536]; /* protect.c: a received 1-RTT packet's plaintext */
	uint8_t rawbuf[65536];	/* moq_quic_conn_send_raw: sealed copy */
	/* the send batch (send.c): on while ep_flush runs */
	int txb_on;
	size_t txb_n;
	socklen_t txb_sl[MOQ_QUIC__TX_BATCH];
	size_t txb_len[MOQ_QUIC__TX_BATCH];
	struct sockaddr_storage txb_sa[MOQ_QUIC__TX_BATCH];
	uint8_t txb[MOQ_QUIC__TX_BATCH][MOQ_QUIC__TX_SLOT];
};

/* Mode-specific handshake and packet protection (plaintext.c, tls.c). The
 * endpoint holds the table for its mode; the modules below call it, it
 * calls only base.h, so no module calls back up into its caller. */
struct moq_quic__crypto_ops {
	/* endpoint setup/teardown; may be NULL */
	int (*ep_init)(struct moq_quic_endpoint *ep, char *err, size_t errlen);
	void (*ep_free)(struct moq_quic_endpoint *ep);
	/* after ngtcp2_conn_{client,server}_new; host: the name dialled */
	int (*conn_init)(struct moq_quic_conn *c, const char *host);
	void (*conn_free)(struct moq_quic_conn *c);
	void (*callbacks)(ngtcp2_callbacks *cb, int server);
	/* at handshake completion; 0 ok, -1 refused (ci set); may be NULL */
	int (*handshake_done)(struct moq_quic_conn *c);
};

extern const struct moq_quic__crypto_ops moq_quic__pt_ops;
extern const struct moq_quic__crypto_ops moq_quic__tls_ops;

#endif
