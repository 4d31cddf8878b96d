/* libmoq QUIC layer: QUIC v1 endpoints on ngtcp2 >= 1.11, one UDP socket per
 * endpoint, one epoll loop (loop.h) for everything.
 *
 * Two modes, chosen per endpoint and required to match on both ends:
 *  - TLS (default): TLS 1.3 through ngtcp2_crypto_gnutls, ALPN "moqt-18".
 *  - Plaintext profile (docs/plaintext-profile.md): null packet protection,
 *    a plaintext handshake carrying ALPN and transport parameters, and a send
 *    shim so every 1-RTT packet has a 4-byte packet number and every STREAM
 *    frame a 4-byte Stream ID. For links between cooperating endpoints only.
 * A mismatch fails the handshake in well under a second on both ends with a
 * reason string (on_close, moq_quic_conn_close_info()).
 *
 * Object model:
 *   struct moq_quic_endpoint  one UDP socket (IPv4 or IPv6), a connection
 *                             table keyed by every SCID it issued; accepts
 *                             connections when created with listen = 1,
 *                             and/or opens client connections.
 *   struct moq_quic_conn      one QUIC connection, owned by its endpoint.
 *
 * Lifetime: a conn must not be used after its on_close has returned (the
 * endpoint frees it later: at the end of the loop iteration, or after the
 * closing period). Callbacks may call any function in this header on any
 * conn, including moq_quic_conn_close() on their own, except
 * moq_quic_endpoint_free() (call it from outside the endpoint's callbacks,
 * and before moq_loop_free()). Nothing is sent from inside an API call:
 * writes are flushed at the end of the current loop iteration
 * (moq_loop_defer), so batching many stream writes costs nothing.
 *
 * Errors: functions returning int give 0 (or a positive count) on success
 * and a negative errno on failure (-EINVAL bad argument, -ENOMEM, -EAGAIN
 * stream limit / not yet writable, -ENOTCONN conn closing or not
 * established, -EMSGSIZE datagram too large, -ENOENT unknown stream).
 *
 * Stream IDs are QUIC stream IDs (int64_t, RFC 9000 section 2.1).
 */
#ifndef MOQ_QUIC_H
#define MOQ_QUIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "quic/loop.h"

#define MOQ_QUIC_ALPN_DEFAULT "moqt-18"
#define MOQ_QUIC_CID_LEN 8			  /* CIDs this layer issues (both modes) */
#define MOQ_QUIC_PLAINTEXT_TAG "moq-plaintext-v1" /* 16 bytes, no NUL */
#define MOQ_QUIC_PLAINTEXT_TAG_LEN 16
/* Default bytes reserved below max_udp_payload in plaintext mode for the
 * send shim's wider packet number and Stream IDs (3 + up to 3 per STREAM
 * frame: 15 frames per packet). */
#define MOQ_QUIC_SHIM_SLACK 48

struct moq_quic_endpoint;
struct moq_quic_conn;

/* Why a connection ended. */
enum moq_quic_close_origin {
	MOQ_QUIC_CLOSE_NONE = 0,	/* still open */
	MOQ_QUIC_CLOSE_LOCAL,		/* moq_quic_conn_close() */
	MOQ_QUIC_CLOSE_PEER,		/* peer sent CONNECTION_CLOSE */
	MOQ_QUIC_CLOSE_IDLE,		/* idle timeout */
	MOQ_QUIC_CLOSE_HANDSHAKE,	/* handshake failed locally (TLS,
					   ALPN, profile mismatch, timeout) */
	MOQ_QUIC_CLOSE_STATELESS_RESET, /* peer sent a stateless reset */
	MOQ_QUIC_CLOSE_INTERNAL,	/* local error (ngtcp2, socket) */
};

struct moq_quic_close_info {
	enum moq_quic_close_origin origin;
	int app;	  /* 1: application error code (CONNECTION_CLOSE 0x1d),
			     0: transport error code (0x1c) */
	uint64_t code;	  /* error code on the wire */
	char reason[256]; /* NUL-terminated human-readable reason; for
			     handshake failures e.g. "TLS: certificate verify
			     failed: ...", "ALPN mismatch: peer offered X",
			     "peer uses TLS; this endpoint runs --plaintext" */
};

/* Optional per-packet hooks for the relay agent: plaintext mode, and
 * shim-protected TLS connections (config.shim_protect; never called for
 * other TLS connections). Both work on one 1-RTT (short header) packet in
 * the plaintext-profile form: header + frames + 16-byte tag, exactly as
 * on the wire in plaintext mode; for a shim-protected connection the
 * layer seals the packet after send_hook (AES-128-GCM and header
 * protection; the tag replaces the trailer, the wire packet number is
 * the one the hook wrote) and opens a received one before recv_hook (its
 * packet number widened to 4 bytes, KEY_PHASE cleared, trailer = the
 * profile's tag).
 *
 * send_hook: called for every 1-RTT packet this endpoint is about to send,
 *   after the send shim (so PN is 4 bytes and Stream IDs are 4 bytes).
 *   pkt points at the packet (always the last packet of the UDP datagram),
 *   *len its length, cap the bytes available at pkt. ngtcp2_pn is the
 *   packet number ngtcp2 assigned. The hook may rewrite bytes in place and
 *   change *len (<= cap). Return 0 to send, < 0 to drop the packet silently
 *   (ngtcp2 will treat it as lost).
 * recv_hook: called for every received 1-RTT packet of a known connection
 *   before ngtcp2_conn_read_pkt. pkt/len/cap as above (pkt is the last
 *   packet of the datagram). May rewrite, shrink or grow up to cap. Return 0
 *   to pass on, < 0 to drop. */
typedef int (*moq_quic_send_hook)(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
				  uint64_t ngtcp2_pn, void *user);
typedef int (*moq_quic_recv_hook)(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
				  void *user);

/* Application callbacks. All optional. `user` is moq_quic_conn_user() if
 * set, else the endpoint's config.user. */
struct moq_quic_callbacks {
	/* Server: a new connection arrived (before the handshake). Set the
	 * conn's user pointer here. Return < 0 to refuse it (closed with
	 * CONNECTION_REFUSED). */
	int (*on_accept)(struct moq_quic_conn *c, void *user);
	/* Handshake completed; streams and datagrams may be used. */
	void (*on_established)(struct moq_quic_conn *c, void *user);
	/* Connection is gone (any cause, including failed handshakes). The
	 * conn must not be used after this returns. */
	void (*on_close)(struct moq_quic_conn *c, const struct moq_quic_close_info *info,
			 void *user);
	/* Peer opened a stream (first frame seen). */
	void (*on_stream_open)(struct moq_quic_conn *c, int64_t sid, void *user);
	/* In-order stream data. fin = 1 on the last call (len may be 0).
	 * Flow-control credit is returned to the peer when this returns,
	 * unless the endpoint was created with manual_consume, in which case
	 * call moq_quic_stream_consume() as the data is used. */
	void (*on_stream_data)(struct moq_quic_conn *c, int64_t sid, const uint8_t *data,
			       size_t len, int fin, void *user);
	/* Peer sent RESET_STREAM. */
	void (*on_stream_reset)(struct moq_quic_conn *c, int64_t sid, uint64_t app_error,
				void *user);
	/* Peer sent STOP_SENDING on a stream we send on. ngtcp2 answers with
	 * RESET_STREAM carrying the same code by itself; unsent data is
	 * discarded and further writes fail with -EPIPE.
	 * Timing: plaintext mode reports it when the frame arrives (the layer
	 * scans the plaintext). TLS mode: ngtcp2 (1.11) has no callback for a
	 * received STOP_SENDING, so it is reported when the aborted stream
	 * closes (about one RTT later; for a bidi stream only once its
	 * receive side has finished too). */
	void (*on_stop_sending)(struct moq_quic_conn *c, int64_t sid, uint64_t app_error,
				void *user);
	/* Stream fully closed in both directions; its state (user pointer,
	 * priority, buffers) is freed after this returns. has_app_error is set
	 * if it was reset. A peer's unidirectional stream is closed right
	 * after the on_stream_data call that carries its FIN (the layer does
	 * it, as 0.12.1 never closed those; 1.x's own close is ignored). */
	void (*on_stream_close)(struct moq_quic_conn *c, int64_t sid, int has_app_error,
				uint64_t app_error, void *user);
	/* Back pressure: after a write left more than send_buffer_low bytes
	 * unacknowledged on the stream, called once when acknowledgements bring
	 * it back to <= send_buffer_low (default 0: everything acked; per
	 * stream: moq_quic_stream_set_send_buffer_low). */
	void (*on_stream_writable)(struct moq_quic_conn *c, int64_t sid, void *user);
	/* Peer raised the limit: more local streams may be opened. */
	void (*on_streams_available)(struct moq_quic_conn *c, int bidi, void *user);
	/* One DATAGRAM frame payload. */
	void (*on_datagram)(struct moq_quic_conn *c, const uint8_t *data, size_t len, void *user);
	moq_quic_send_hook send_hook;
	moq_quic_recv_hook recv_hook;
	/* Server: a client was refused before any connection existed (TLS
	 * client at a --plaintext server or the reverse, or on_accept said
	 * no). reason is what the client is told. user = config.user. */
	void (*on_refused)(struct moq_quic_endpoint *ep, const struct sockaddr *peer,
			   socklen_t peerlen, const char *reason, void *user);
	/* TLS, AES-128-GCM: the connection's 1-RTT keys changed: the
	 * handshake installed 1-RTT keys of a direction (a server's tx keys
	 * come before its rx keys: one call each), or a key update in either
	 * direction. Called BEFORE any packet under new tx keys leaves, so
	 * the relay agent can re-export them (moq_quic_conn_1rtt_keys). Not
	 * called for other suites. */
	void (*on_keys_changed)(struct moq_quic_conn *c, void *user);
};

struct moq_quic_config {
	/* Socket: if listen, bind to local_addr:local_port and accept
	 * connections; else bind to local_addr (default wildcard of the
	 * peer's family, ephemeral port). local_addr may be "::", "0.0.0.0",
	 * "127.0.0.1", "::1", a host name... */
	int listen;
	const char *local_addr;
	uint16_t local_port;

	/* Mode. plaintext must be set on both ends. */
	int plaintext;
	/* Server, TLS: a connection that negotiates TLS_AES_128_GCM_SHA256
	 * (preferred by the server when this is set) gets its 1-RTT packet
	 * protection from the layer instead of ngtcp2, after the send shim
	 * and send_hook (docs/fast-path-tls-quic.md). Other suites: as
	 * usual. */
	int shim_protect;
	/* TLS: track the largest 1-RTT packet number ngtcp2 accepted on
	 * connections it protects itself (moq_quic_conn_rx_largest_pn): one
	 * AES block per received 1-RTT packet. Implied by shim_protect; a
	 * fast-path relay sets it on its --upstream client endpoint too. */
	int track_rx_pn;
	const char *alpn; /* NULL = "moqt-18"; TLS: a comma-separated list
			     offers/accepts several ("moqt-18,h3") */

	/* TLS (ignored when plaintext). Server: PEM cert chain and key.
	 * Client: ca_file (PEM) to verify the server against, and sni (the
	 * name checked against the certificate; default the connect host).
	 * insecure = 1 skips certificate verification (logged at warn). */
	const char *cert_file;
	const char *key_file;
	const char *ca_file;
	const char *sni;
	int insecure;
	/* Client: trust exactly the server certificate whose DER has this
	 * SHA-256 (what browsers do with WebTransport serverCertificateHashes:
	 * no CA, no name check; the certificate must be within its validity
	 * period). Used instead of ca_file when has_cert_sha256. */
	uint8_t cert_sha256[32];
	int has_cert_sha256;

	/* Transport. 0 picks the default in brackets. */
	uint64_t idle_timeout_ms;	  /* [30000] */
	uint64_t max_ack_delay_ms;	  /* advertised max_ack_delay [ngtcp2's 25] */
	uint64_t handshake_timeout_ms;	  /* [5000] */
	uint64_t max_data;		  /* connection window [16 MiB] */
	uint64_t max_stream_data;	  /* per stream window [4 MiB] */
	uint64_t max_streams_bidi;	  /* concurrent peer bidi [100] */
	uint64_t max_streams_uni;	  /* concurrent peer uni [1000] */
	uint64_t max_datagram_frame_size; /* [1200]; UINT64_MAX disables */
	size_t max_udp_payload;		  /* largest UDP payload sent, never exceeded
					     (set to the path MTU - IP/UDP headers) [1350] */
	size_t shim_slack;		  /* plaintext: ngtcp2 fills max_udp_payload - this; a
					     re-encoded packet that still does not fit is dropped
					     and counted (shim_oversize_drop) [48] */
	size_t send_buffer_low;		  /* on_stream_writable threshold [0] */
	int manual_consume;		  /* see on_stream_data */
	uint64_t keep_alive_ms;		  /* PING after this much quiet [0=off] */
	int no_pacing;			  /* ignore ngtcp2's pacing timer */

	/* Diagnostics: write qlog (one file per connection,
	 * <qlog_dir>/<role>-<odcid hex>.sqlog) if non-NULL. */
	const char *qlog_dir;

	/* Server: 32-byte static secret for stateless reset tokens; all zero
	 * = random per endpoint. Keep it stable across restarts so peers of a
	 * crashed relay get reset quickly. */
	uint8_t reset_secret[32];

	/* Server admission (0 = no limit). max_conns: established client
	 * connections; a handshake that completes beyond it is closed with
	 * CONNECTION_REFUSED (0x2). max_handshakes: handshakes in progress;
	 * at the cap a new client replaces the oldest handshake whose address
	 * is not validated, or is refused with CONNECTION_REFUSED when all
	 * are. TLS: from half the cap on, an Initial without a valid token is
	 * answered with a Retry (RFC 9000 8.1) and keeps no state, so only
	 * clients that can receive at their address take a slot. */
	size_t max_conns;
	size_t max_handshakes;

	const struct moq_quic_callbacks *cb;
	void *user;
};

/* Fill cfg with defaults (all zero + alpn). */
void moq_quic_config_init(struct moq_quic_config *cfg);

/* Create an endpoint on loop. The config, its strings and *cb are copied. On failure returns NULL
 * and, if err is non-NULL, writes a message to err[errlen] ("cannot read --cert x.pem: ..."). */
struct moq_quic_endpoint *moq_quic_endpoint_new(struct moq_loop *loop,
						const struct moq_quic_config *cfg, char *err,
						size_t errlen);
/* Close every connection immediately (CONNECTION_CLOSE NO_ERROR, on_close
 * called), close the socket, free. */
void moq_quic_endpoint_free(struct moq_quic_endpoint *ep);
/* Local address of the socket (e.g. to learn an ephemeral port). */
int moq_quic_endpoint_local_addr(struct moq_quic_endpoint *ep, struct sockaddr_storage *ss,
				 socklen_t *len);
uint16_t moq_quic_endpoint_port(struct moq_quic_endpoint *ep);
/* Number of live connections. */
size_t moq_quic_endpoint_conn_count(const struct moq_quic_endpoint *ep);
/* Server connections: established, and handshakes in progress. */
size_t moq_quic_endpoint_established(const struct moq_quic_endpoint *ep);
size_t moq_quic_endpoint_handshakes(const struct moq_quic_endpoint *ep);
/* Change max_conns and max_handshakes (e.g. on a configuration reload);
 * connections already admitted stay. */
void moq_quic_endpoint_set_limits(struct moq_quic_endpoint *ep, size_t max_conns,
				  size_t max_handshakes);
/* Counters for tests and operators. */
struct moq_quic_endpoint_stats {
	uint64_t rx_datagrams, tx_datagrams;
	uint64_t rx_unknown; /* short header, unknown DCID */
	uint64_t tx_stateless_reset;
	uint64_t rx_profile_mismatch; /* TLS vs plaintext Initials */
	uint64_t shim_oversize_drop;  /* re-encoded packet > max payload */
	uint64_t hook_drop;
	uint64_t tx_errors;	  /* sendto failed (packet lost) */
	uint64_t tx_queued;	  /* waited for EPOLLOUT (socket buffer full) */
	uint64_t rx_in_closing;	  /* packets for a connection in its closing period */
	uint64_t tx_close_resent; /* CONNECTION_CLOSE repeats (1st, 2nd, 4th, ... packet) */
	uint64_t tx_retry;	  /* Retry packets sent (handshakes over half the cap) */
	uint64_t rx_bad_token;	  /* Initials with an invalid or expired Retry token */
	uint64_t hs_evicted;	  /* handshakes replaced by a newer client at the cap */
	uint64_t hs_refused;	  /* clients refused: handshake cap full of validated ones */
	uint64_t conn_refused;	  /* handshakes completed beyond max_conns (closed) */
	uint64_t own_sockets;	  /* moq_quic_conn_own_socket sockets opened */
	uint64_t rx_own;	  /* datagrams read from those sockets */
	uint64_t rx_calls;	  /* receive system calls (recvmmsg, up to 64 datagrams each) */
	uint64_t rx_open_failed;  /* shim-protected 1-RTT packets that did not open (dropped) */
	uint64_t key_updates;	  /* 1-RTT key updates (either side initiated) */
	uint64_t rx_early;	  /* shim: 1-RTT packets kept until the rx keys came */
	uint64_t tx_batches;	  /* sendmmsg calls (datagrams of one flush sent together) */
	uint64_t rx_held_reads;	  /* moq_quic_conn_rx_read calls (batched intake) */
	uint64_t tx_sendto;	  /* sendto calls: datagrams sent alone, outside a batch */
};
void moq_quic_endpoint_stats(const struct moq_quic_endpoint *ep,
			     struct moq_quic_endpoint_stats *st);

/* Client: open a connection to host:port (numeric or resolvable name; the
 * socket family follows the first address). Returns the conn at once (the
 * handshake runs in the loop; on_established or on_close follows), or NULL
 * with a message in err. user is the conn's user pointer. */
struct moq_quic_conn *moq_quic_connect(struct moq_quic_endpoint *ep, const char *host,
				       uint16_t port, void *user, char *err, size_t errlen);

/* Server connection: receive its peer's datagrams on a socket of its own
 * (bound to the listening address and port with SO_REUSEPORT, connected to
 * the peer), so they do not queue behind every other peer's packets in the
 * listening socket: moq-relayd gives one to each publisher, whose media
 * would otherwise be dropped with subscribers' ACKs when that socket
 * overflows (docs/quic-layer.md). Sends still leave through the listening
 * socket (same address and port). Packets from another address (a path
 * change) still arrive on the listening socket. 0, or -errno (the
 * connection keeps using the shared socket). */
int moq_quic_conn_own_socket(struct moq_quic_conn *c);

/* Batched intake on a connection's own socket (issue 18): held (on), the
 * socket is not polled and its datagrams wait there until
 * moq_quic_conn_rx_read reads them, so a peer whose packets need no
 * prompt answer costs no wakeup each; the caller bounds the wait (e.g.
 * within the max_ack_delay it advertised, RFC 9000 13.2.1). Released (off),
 * it is polled again and what waited is read at once. 0, or -EOPNOTSUPP
 * (no socket of its own) or -errno. */
int moq_quic_conn_rx_hold(struct moq_quic_conn *c, int on);
int moq_quic_conn_rx_held(const struct moq_quic_conn *c);
/* Read what waits on c's own socket now (recvmmsg batches), then one write
 * pass of the endpoint. The datagrams read, or -errno. c may be closed by
 * what it reads. */
int moq_quic_conn_rx_read(struct moq_quic_conn *c);

/* Per-connection accessors. */
void moq_quic_conn_set_user(struct moq_quic_conn *c, void *user);
void *moq_quic_conn_user(const struct moq_quic_conn *c);
struct moq_quic_endpoint *moq_quic_conn_endpoint(const struct moq_quic_conn *c);
int moq_quic_conn_is_server(const struct moq_quic_conn *c);
int moq_quic_conn_is_established(const struct moq_quic_conn *c);
/* Negotiated ALPN (NULL before the handshake). */
const char *moq_quic_conn_alpn(const struct moq_quic_conn *c);
/* Peer address. */
const struct sockaddr *moq_quic_conn_peer(const struct moq_quic_conn *c, socklen_t *len);
/* Close details (origin NONE while open). */
const struct moq_quic_close_info *moq_quic_conn_close_info(const struct moq_quic_conn *c);
/* Largest DATAGRAM payload the peer accepts now (0 = not negotiated). */
size_t moq_quic_conn_max_datagram(const struct moq_quic_conn *c);
/* Smoothed RTT in ns, bytes in flight, congestion window. */
struct moq_quic_conn_stats {
	uint64_t srtt_ns, min_rtt_ns;
	uint64_t bytes_in_flight, cwnd;
	uint64_t pkts_sent, pkts_recv;
	uint64_t key_updates;	 /* TLS AES-128-GCM: 1-RTT key updates seen */
	uint64_t rx_open_failed; /* shim-protected: packets that did not open */
};
void moq_quic_conn_stats(const struct moq_quic_conn *c, struct moq_quic_conn_stats *st);
/* Local unidirectional streams opened so far (ngtcp2 1.x has no getter). */
uint64_t moq_quic_conn_uni_opened(const struct moq_quic_conn *c);
/* The underlying ngtcp2_conn (ngtcp2_conn *), for the relay agent. */
void *moq_quic_conn_ngtcp2(struct moq_quic_conn *c);
/* Connection IDs, for the relay agent's maps. dcid: the CID this end
 * currently puts in the packets it sends (the peer's CID); returns its
 * length (0..20). scids: every CID this end has issued and that is still
 * routed to this conn (what the peer may put in the DCID field), up to max
 * entries of 20 bytes each with their lengths; returns the count. */
size_t moq_quic_conn_dcid(const struct moq_quic_conn *c, uint8_t out[20]);
size_t moq_quic_conn_scids(const struct moq_quic_conn *c, uint8_t (*out)[20], size_t *lens,
			   size_t max);
/* Send bytes as one UDP datagram to the conn's peer from the endpoint's
 * socket, bypassing ngtcp2, the shim and the hooks (the relay agent's
 * media writer; plaintext mode). On a shim-protected connection pkt is
 * one 1-RTT packet in the plaintext-profile form and is sent sealed under
 * the current tx keys. While the endpoint holds datagrams (a send batch, the
 * queue of a full socket buffer) it goes behind them, in order. Returns 0
 * or -errno. */
int moq_quic_conn_send_raw(struct moq_quic_conn *c, const void *pkt, size_t len);
/* Batch what moq_quic_conn_send_raw sends on ep until the matching end:
 * one sendmmsg for a pass over many connections (the fast path's tick).
 * begin returns the previous state, to give back to end. */
int moq_quic_ep_batch_begin(struct moq_quic_endpoint *ep);
void moq_quic_ep_batch_end(struct moq_quic_endpoint *ep, int prev);
/* Hand ngtcp2 one 1-RTT packet in the plaintext-profile form that the
 * application received for the connection by other means (the relay's
 * kernel consumed the datagram and recorded its frames), as if it came
 * from the current peer now: no recv hook, no shim. The connection is
 * flushed at the end of the loop pass. Returns 0 (also when ngtcp2
 * discards the packet, e.g. a duplicate number), -EINVAL when the
 * connection is not an established plaintext-profile one (a shim-protected
 * TLS connection refuses: the packet would skip the AEAD), -EPROTO when ngtcp2
 * failed the connection on it. */
int moq_quic_conn_read_pkt(struct moq_quic_conn *c, const uint8_t *pkt, size_t len);
/* The same for a shim-protected TLS connection, for a packet the
 * application synthesized from one it authenticated itself (the relay's
 * kernel opened the subscriber's ACK + PING with the exported rx keys and
 * recorded its full number pn): pkt is its plaintext-profile form (0x43,
 * the low 32 bits of pn). Never for network bytes. On 0 the layer's rx
 * tracking learns pn (moq_quic_conn_rx_largest_pn). 0, -EINVAL (not
 * shim-protected / not established / not that form), -EPROTO. */
int moq_quic_conn_read_opened(struct moq_quic_conn *c, uint64_t pn, const uint8_t *pkt, size_t len);
/* ---- TLS 1-RTT keys (docs/fast-path-tls-quic.md) --------------------- */

/* One direction's AES-128-GCM 1-RTT packet protection keys. phase is the
 * KEY_PHASE bit (0/1) packets under these keys carry. */
struct moq_quic_1rtt_keys {
	uint8_t key[16], iv[12], hp[16];
	uint8_t phase;
};
/* 1 if the layer (not ngtcp2) protects this connection's 1-RTT packets
 * (config.shim_protect, server, AES-128-GCM negotiated), else 0. */
int moq_quic_conn_shim_protected(const struct moq_quic_conn *c);
/* The largest 1-RTT packet number received and accepted on c (after
 * ngtcp2 or the layer opened it: a forged packet never moves it). For
 * connections ngtcp2 protects only with config.track_rx_pn or
 * shim_protect. 0, or -ENOENT when none yet (or not tracked). */
int moq_quic_conn_rx_largest_pn(const struct moq_quic_conn *c, uint64_t *pn);
/* Stops that tracking on a connection ngtcp2 protects (one header-
 * protection block per packet) once the application has what it needed
 * (the relay: the kernel's window is seeded and moves by itself); then
 * moq_quic_conn_rx_largest_pn says -ENOENT. No effect on a shim-protected
 * connection, whose own open needs the numbers. */
void moq_quic_conn_rx_pn_untrack(struct moq_quic_conn *c);
/* The connection's AES-128-GCM 1-RTT keys: tx (tx = 1) or rx; next = 0 the
 * current phase, next = 1 the next phase. 0, -ENOENT before 1-RTT keys,
 * -ENOTSUP another suite or the plaintext profile. */
int moq_quic_conn_1rtt_keys(const struct moq_quic_conn *c, int tx, int next,
			    struct moq_quic_1rtt_keys *out);
/* Initiate a key update (RFC 9001 6): shim-protected connections by the
 * layer, others through ngtcp2. 0, -EAGAIN (the current phase is not yet
 * acknowledged / not confirmed), -ENOTCONN, -ENOTSUP (plaintext). */
int moq_quic_conn_key_update(struct moq_quic_conn *c);

/* The endpoint's UDP socket (read-only use: getsockname, BPF lookups). */
int moq_quic_endpoint_fd(const struct moq_quic_endpoint *ep);

/* Close with CONNECTION_CLOSE (application error code app_error, reason
 * string; reason may be NULL). The peer sees app_error and the reason.
 * on_close follows (origin LOCAL) after the packet has been sent. */
int moq_quic_conn_close(struct moq_quic_conn *c, uint64_t app_error, const char *reason);
/* Forget the connection without sending anything (tests; simulates a
 * crash: the peer's next packet draws a stateless reset). on_close is
 * called with origin LOCAL. */
void moq_quic_conn_drop(struct moq_quic_conn *c);

/* ---- streams ---------------------------------------------------------- */

/* Open a local stream. Returns the stream ID (>= 0) or -EAGAIN when the
 * peer's stream limit is reached (wait for on_streams_available),
 * -ENOTCONN before the handshake completes. */
int64_t moq_quic_stream_open_bidi(struct moq_quic_conn *c);
int64_t moq_quic_stream_open_uni(struct moq_quic_conn *c);

/* Queue data (copied). fin = 1 ends the stream after it (len may be 0).
 * Returns 0 or -errno (-ENOENT unknown/closed stream, -EPIPE after fin or
 * reset). Data is kept until the peer acknowledges it. */
int moq_quic_stream_write(struct moq_quic_conn *c, int64_t sid, const void *data, size_t len,
			  int fin);
/* Queue app-owned data without a copy. The buffer must stay valid and
 * unchanged until done(done_arg, data) is called: after the peer ACKed all
 * of it, or the stream was reset/closed, or the conn closed. done may be
 * NULL (static buffers). */
typedef void (*moq_quic_buf_done)(void *done_arg, const void *data);
int moq_quic_stream_write_ref(struct moq_quic_conn *c, int64_t sid, const void *data, size_t len,
			      int fin, moq_quic_buf_done done, void *done_arg);
/* Bytes queued on the stream and not yet acknowledged. */
size_t moq_quic_stream_buffered(const struct moq_quic_conn *c, int64_t sid);

/* Scheduling. Each stream has a priority (lower value = sent first, like
 * MoQT publisher priority; default 128). The writer always serves the
 * sendable stream with the lowest value; equal values round-robin (one
 * packet's worth each). Can be changed any time. */
int moq_quic_stream_set_priority(struct moq_quic_conn *c, int64_t sid, uint32_t priority);
/* This stream's on_stream_writable threshold (default: the endpoint's
 * send_buffer_low). */
int moq_quic_stream_set_send_buffer_low(struct moq_quic_conn *c, int64_t sid, size_t low);
/* Per-stream user pointer. */
int moq_quic_stream_set_user(struct moq_quic_conn *c, int64_t sid, void *user);
void *moq_quic_stream_user(const struct moq_quic_conn *c, int64_t sid);

/* Abort sending: RESET_STREAM(app_error); unacked data is released. */
int moq_quic_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error);
/* Abort receiving: STOP_SENDING(app_error). */
int moq_quic_stream_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error);
/* Manual flow control (manual_consume): n bytes of sid were used; extend
 * stream and connection credit. */
int moq_quic_stream_consume(struct moq_quic_conn *c, int64_t sid, size_t n);

/* ---- datagrams -------------------------------------------------------- */

/* Queue one DATAGRAM frame (copied; sent in the next flush, unreliable).
 * -EMSGSIZE if larger than moq_quic_conn_max_datagram(), -ENOTCONN before
 * the handshake, -ENOBUFS if the queue (256) is full. */
int moq_quic_datagram_send(struct moq_quic_conn *c, const void *data, size_t len);

/* ---- plaintext wire helpers (shared with tests and the agent) -------- */

/* One parsed QUIC frame (RFC 9000/9221 types that may appear in 1-RTT). */
struct moq_quic_frame {
	uint64_t type;
	size_t len; /* bytes of the whole frame */
	int is_stream;
	uint64_t sid;	/* STREAM frames: Stream ID ... */
	size_t sid_off; /* ... its offset from the frame start ... */
	size_t sid_len; /* ... and its varint width */
};
/* Parse the frame starting at in (in < end, end = start of the tag).
 * Returns the frame's length or a negative MOQ_ERR_* (MALFORMED, or
 * UNKNOWN_TYPE for a type the profile does not use). */
int moq_quic_frame_parse(struct moq_quic_frame *f, const uint8_t *in, const uint8_t *end);

/* Re-encode one plaintext 1-RTT packet (header + frames + tag) as the send
 * shim does: 4-byte PN (pn = full packet number; its low 32 bits are
 * written), fixed bit set, spin/key-phase/reserved 0, every STREAM frame's
 * Stream ID as a 4-byte varint, trailing PADDING dropped as needed.
 * dcidlen is the DCID length in the header. Returns the new length or a
 * negative MOQ_ERR_* (MALFORMED: unknown frame; BUFFER: does not fit). */
int moq_quic_shim_1rtt(uint8_t *out, size_t outcap, const uint8_t *in, size_t inlen, size_t dcidlen,
		       uint64_t pn);

/* Check that a 1-RTT packet follows the profile (first byte 0x43 with
 * fixed bit, 4-byte PN, tag at the end, every STREAM Stream ID 4 bytes).
 * Returns the number of STREAM frames found (>= 0) or a negative MOQ_ERR_*.
 * *pn_out (if non-NULL) gets the 32-bit packet number field. */
int moq_quic_plaintext_check_1rtt(const uint8_t *pkt, size_t len, size_t dcidlen, uint32_t *pn_out);

#endif
