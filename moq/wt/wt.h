/* One WebTransport session over HTTP/3 on a QUIC connection (ALPN "h3"),
 * server or client, for the MoQT session layer (moq/session). The MoQT
 * session stays the connection's user; it hands this layer the streams it
 * does not own yet (HTTP/3 control, QPACK, the CONNECT stream, WT streams
 * whose prefix is not read) and calls the moq_wt_* send helpers instead of
 * moq_quic_* where WebTransport adds a prefix. One WebTransport session per
 * connection. docs/webtransport.md. */
#ifndef MOQ_WT_H
#define MOQ_WT_H

#include <stddef.h>
#include <stdint.h>

#include "quic/quic.h"
#include "wt/wt_h3.h"

#define MOQ_WT_PROTOCOL "moqt-18" /* WT-Available-Protocols / WT-Protocol */

struct moq_wt;

struct moq_wt_config {
	int server;
	/* client: the request (authority "host:port", path "/x?y") */
	const char *authority;
	const char *path;
	/* bytes of early WT streams held until the session is up [256 KiB] */
	size_t max_held;
};

struct moq_wt_callbacks {
	/* server: a WebTransport CONNECT; return the HTTP status (200 to
	 * accept). req->path is the request path. */
	int (*on_request)(void *arg, const struct moq_h3_msg *req);
	/* the WebTransport session is up (server: 200 sent; client: 2xx
	 * received) */
	void (*on_ready)(void *arg);
	/* a peer WT stream of this session, its first bytes after the prefix
	 * (n may be 0); later bytes come through the QUIC callbacks */
	void (*on_stream)(void *arg, int64_t sid, const uint8_t *p, size_t n, int fin);
	/* the peer ended the session (CLOSE_WEBTRANSPORT_SESSION, or the
	 * CONNECT stream ended: code 0), or refused it (client: status) */
	void (*on_closed)(void *arg, uint32_t code, const char *reason);
	/* an HTTP/3 connection error: close the connection with h3_code */
	void (*on_error)(void *arg, uint64_t h3_code, const char *reason);
};

struct moq_wt *moq_wt_new(struct moq_quic_conn *c, struct moq_loop *loop,
			  const struct moq_wt_config *cfg, const struct moq_wt_callbacks *cb,
			  void *arg);
void moq_wt_free(struct moq_wt *w);
/* At handshake completion: opens our control stream (SETTINGS). */
int moq_wt_start(struct moq_wt *w);

/* Peer bytes on a stream the MoQT session does not own (its QUIC stream
 * user pointer is NULL). */
void moq_wt_stream_data(struct moq_wt *w, int64_t sid, const uint8_t *p, size_t n, int fin);
/* Such a stream was reset or closed. */
void moq_wt_stream_gone(struct moq_wt *w, int64_t sid, int reset);
/* A datagram: returns the prefix length to skip, or < 0 to drop it. */
int moq_wt_dgram_strip(struct moq_wt *w, const uint8_t *p, size_t n);

/* Open a WT stream (writes the prefix). Same returns as moq_quic_*. */
int64_t moq_wt_open_uni(struct moq_wt *w);
int64_t moq_wt_open_bidi(struct moq_wt *w);
int moq_wt_dgram_send(struct moq_wt *w, const void *p, size_t n);
size_t moq_wt_max_dgram(const struct moq_wt *w);
/* End the session: CLOSE_WEBTRANSPORT_SESSION + FIN on the CONNECT stream,
 * then the QUIC connection is closed with (code, reason) once the capsule
 * was acknowledged or after 200 ms. Before the session is up: closes the
 * connection at once. */
void moq_wt_close(struct moq_wt *w, uint32_t code, const char *reason);

int moq_wt_is_ready(const struct moq_wt *w);
/* The accepted request (server) or the one sent (client). */
const struct moq_h3_msg *moq_wt_request(const struct moq_wt *w);
int64_t moq_wt_session_id(const struct moq_wt *w);

/* The QUIC calls this layer makes (default: moq_quic_*); tests and the
 * fuzzer replace them to run the layer without a connection. */
struct moq_wt_quic_ops {
	int64_t (*open_uni)(struct moq_quic_conn *c);
	int64_t (*open_bidi)(struct moq_quic_conn *c);
	int (*write)(struct moq_quic_conn *c, int64_t sid, const void *p, size_t n, int fin);
	int (*stop_sending)(struct moq_quic_conn *c, int64_t sid, uint64_t code);
	int (*set_priority)(struct moq_quic_conn *c, int64_t sid, uint32_t prio);
	int (*dgram_send)(struct moq_quic_conn *c, const void *p, size_t n);
	size_t (*max_dgram)(const struct moq_quic_conn *c);
	int (*conn_close)(struct moq_quic_conn *c, uint64_t code, const char *reason);
};
void moq_wt_set_quic_ops(struct moq_wt *w, const struct moq_wt_quic_ops *ops);

struct moq_wt_stats {
	uint64_t streams_in, streams_out;
	uint64_t streams_rejected; /* unknown session, type or too early */
	uint64_t dgrams_dropped;   /* wrong session or malformed prefix */
	uint64_t requests_refused; /* non-200 answers */
};
void moq_wt_stats(const struct moq_wt *w, struct moq_wt_stats *st);

#endif
