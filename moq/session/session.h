/* MoQT draft-18 session layer: one struct moq_session per QUIC connection
 * (client or server side), a policy-free, callback-driven protocol engine.
 *
 * It owns the MoQT state of one connection: the control stream pair (SETUP,
 * GOAWAY), request streams (SUBSCRIBE, FETCH, PUBLISH_NAMESPACE,
 * TRACK_STATUS, PUBLISH, SUBSCRIBE_NAMESPACE, SUBSCRIBE_TRACKS and their
 * responses, REQUEST_UPDATE, PUBLISH_DONE), Request ID rules, Track Alias
 * matching, data streams and datagrams in both directions, stream
 * priorities and delivery timeouts. It makes no policy decision: every
 * incoming request goes to the application (moq-pub, moq-sub, moq-relayd),
 * which answers with moq_request_*() functions.
 *
 * ---- Wiring to the QUIC layer (moq/quic/quic.h) --------------------------
 *
 * The session uses the conn's user pointer (moq_quic_conn_set_user) and
 * receives every moq_quic callback for that conn. Put the table returned by
 * moq_session_quic_callbacks() into moq_quic_config.cb:
 *
 *   Server:
 *     struct moq_session_acceptor acc = { .cfg = &scfg, .on_session = f };
 *     qcfg.cb = moq_session_quic_callbacks();
 *     qcfg.user = &acc;                 // read by the table's on_accept
 *     ep = moq_quic_endpoint_new(loop, &qcfg, err, sizeof err);
 *   The table's on_accept creates a session per new conn from acc.cfg and
 *   calls acc.on_session (if set) so the app can attach its state.
 *
 *   Client:
 *     qcfg.cb = moq_session_quic_callbacks();
 *     s = moq_session_connect(ep, "127.0.0.1", 4443, &scfg, err, sizeof err);
 *
 * An app that needs its own on_accept (or the relay agent's packet hooks)
 * copies the table, replaces on_accept (calling moq_session_new() inside)
 * and/or sets send_hook/recv_hook. Conns without a session (user pointer
 * not a session) must not use the table.
 *
 * ---- Lifetime and callbacks -----------------------------------------------
 *
 * A session lives until its on_close callback has returned; it is then
 * freed with every request and data stream handle it owns. Callbacks run on
 * the loop thread and may call any function here, including
 * moq_session_close() on their own session. Decoded messages and byte views
 * passed to callbacks are valid only during the callback (copy what you
 * keep).
 *
 * Errors: functions returning int give 0 on success or a negative errno:
 *   -EINVAL  bad argument or not allowed in this state (e.g. SUBSCRIBE_OK
 *            for a FETCH, answering twice)
 *   -ENOTCONN session closing/closed
 *   -EPIPE   the stream was reset / stopped by the peer or already ended
 *   -ETIMEDOUT the data stream was just reset because a delivery timeout
 *            expired (the handle stays valid until finished/reset by the app)
 *   -EMSGSIZE datagram too large, -ENOBUFS datagram queue full
 *   -ENOMEM
 * Protocol errors by the peer never return to the app as errors: the
 * session closes itself (CONNECTION_CLOSE with the draft's Session
 * Termination code), logs "session <name>: <message>: <reason>" at warn
 * level and calls on_close. Only that connection is affected.
 */
#ifndef MOQ_SESSION_H
#define MOQ_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "data.h"
#include "data_reader.h"
#include "moq_codes.h"
#include "quic/quic.h"

#define MOQ_SESSION_IMPLEMENTATION "moq-relay/0.1"

struct moq_session;
struct moq_request; /* one request stream (either direction) */
struct moq_tx;	    /* one outgoing data stream (subgroup or fetch) */
struct moq_rx;	    /* one incoming data stream (subgroup or fetch) */

/* Pass as track_alias to moq_request_subscribe_ok() to let the session pick
 * an unused alias (0, 1, 2, ... per session). */
#define MOQ_SESSION_ALIAS_AUTO UINT64_MAX

/* Session state (moq_session_state()). */
enum moq_session_state {
	MOQ_SESSION_CONNECTING = 0, /* QUIC handshake running */
	MOQ_SESSION_SETUP,	    /* our SETUP sent, waiting for peer's */
	MOQ_SESSION_READY,	    /* both SETUPs exchanged, peer's accepted */
	MOQ_SESSION_CLOSING,	    /* moq_session_close() or error; waiting
				       for the QUIC layer to report close */
	MOQ_SESSION_CLOSED,	    /* inside on_close */
};

/* Request state (moq_request_state()). */
enum moq_request_state {
	MOQ_REQ_PENDING = 0, /* request sent/received, no final answer yet */
	MOQ_REQ_ESTABLISHED, /* SUBSCRIBE_OK / FETCH_OK / REQUEST_OK / PUBLISH
				accepted: the request is active */
	MOQ_REQ_DONE,	     /* REQUEST_ERROR, PUBLISH_DONE, cancelled,
				or the stream ended; see on_request_closed */
};

/* Why a request ended (on_request_closed). */
enum moq_request_end {
	MOQ_REQ_END_COMPLETE = 0, /* both directions ended normally (FIN) */
	MOQ_REQ_END_ERROR,	  /* REQUEST_ERROR sent or received */
	MOQ_REQ_END_DONE,	  /* PUBLISH_DONE sent or received */
	MOQ_REQ_END_PEER_CANCEL,  /* peer reset / stopped the request stream
				     (unsubscribe, fetch cancel); code set */
	MOQ_REQ_END_SESSION,	  /* the session is closing */
};

struct moq_session_callbacks {
	/* Peer's SETUP arrived (control stream, first message). The session
	 * has already applied the draft's checks (PATH / AUTHORITY from a
	 * server -> INVALID_PATH / INVALID_AUTHORITY). Return 0 to accept, or
	 * a Session Termination code (enum moq_session_code, > 0, e.g.
	 * MOQ_SESSION_UNAUTHORIZED for a bad token, MOQ_SESSION_INVALID_PATH)
	 * to close the session with it. NULL: accept everything. */
	int (*on_setup)(struct moq_session *s, const struct moq_setup *peer);
	/* Both SETUPs exchanged: requests may now be sent and are delivered.
	 * (Requests may be sent earlier: they are queued until READY.) */
	void (*on_ready)(struct moq_session *s);
	/* GOAWAY on the control stream. New requests from this side should
	 * stop; moq_session_goaway_received() stays true. */
	void (*on_goaway)(struct moq_session *s, const struct moq_goaway *g);
	/* The session ended (any cause). info is the QUIC close info (code,
	 * app flag, reason, origin). Before it, every open request got
	 * on_request_closed(SESSION) (and its open incoming data streams
	 * on_data_reset). s and every handle are freed after this returns. */
	void (*on_close)(struct moq_session *s, const struct moq_quic_close_info *info);

	/* ---- requests ---- */

	/* Peer opened a request stream. m is the first message (SUBSCRIBE,
	 * FETCH, PUBLISH_NAMESPACE, TRACK_STATUS, PUBLISH,
	 * SUBSCRIBE_NAMESPACE, SUBSCRIBE_TRACKS) after the session's checks
	 * (Request ID parity/duplicates, limits, duplicate subscription,
	 * joining fetch target). Answer now or later with
	 * moq_request_subscribe_ok / moq_request_fetch_ok / moq_request_ok /
	 * moq_request_error. NULL: every request gets REQUEST_ERROR
	 * NOT_SUPPORTED. */
	void (*on_request)(struct moq_session *s, struct moq_request *r,
			   const struct moq_ctrl_msg *m);
	/* A later message on a request stream, either direction:
	 *  - on a local request: SUBSCRIBE_OK, FETCH_OK, REQUEST_OK (also the
	 *    answers to our REQUEST_UPDATEs), REQUEST_ERROR, PUBLISH_DONE,
	 *    NAMESPACE, NAMESPACE_DONE, PUBLISH_BLOCKED, GOAWAY; on a local
	 *    PUBLISH: PUBLISH_OK / REQUEST_OK / REQUEST_ERROR and the
	 *    subscriber's REQUEST_UPDATE;
	 *  - on a peer request: REQUEST_UPDATE (answer with moq_request_ok
	 *    or moq_request_error, one answer per update, in order), GOAWAY;
	 *    on a peer PUBLISH: PUBLISH_DONE and the answers to our
	 *    REQUEST_UPDATEs.
	 * The session has updated its own state first (alias table, request
	 * state, timeouts, priorities). After REQUEST_ERROR and PUBLISH_DONE
	 * on_request_closed follows. */
	void (*on_request_msg)(struct moq_session *s, struct moq_request *r,
			       const struct moq_ctrl_msg *m);
	/* The request is over: r is freed after this returns (no more
	 * callbacks for it; its incoming data streams still open were ended
	 * just before with on_data_reset(local = 1)). code is the peer's
	 * reset / STOP_SENDING code for
	 * PEER_CANCEL, else 0. Not called for requests the app ended itself
	 * (moq_request_cancel, moq_request_error on the request,
	 * moq_request_publish_done). Outgoing data streams (struct moq_tx) of
	 * the request that are still open are reset (CANCELLED) and their
	 * handles become invalid when the request ends, whoever ended it. */
	void (*on_request_closed)(struct moq_session *s, struct moq_request *r,
				  enum moq_request_end why, uint64_t code);

	/* ---- incoming data ---- */

	/* A data stream event. rx identifies the stream; ev is the streaming
	 * reader's event (moq/wire/data_reader.h):
	 *   HEADER      subgroup or fetch header; the stream has been matched
	 *               to its request (moq_rx_request(): the SUBSCRIBE/PUBLISH
	 *               by Track Alias, the FETCH by Request ID)
	 *   OBJECT      object fields (ev->subgroup_object or ->fetch_object)
	 *   PAYLOAD     next payload chunk (ev->payload, ev->payload_offset)
	 *   OBJECT_END  all payload bytes of the object delivered
	 *   END_OF_RANGE fetch End of Range marker
	 *   STREAM_END  FIN at an object boundary; rx is freed after return
	 * Payload chunks point into the QUIC receive buffer: copy them. */
	void (*on_data)(struct moq_session *s, struct moq_rx *rx, const struct moq_data_event *ev);
	/* Optional: the raw bytes of an incoming data stream (subgroup or
	 * fetch; not the control stream), in stream order, just before they
	 * are parsed; offset is the stream offset of data[0]. The relay's
	 * fast path keeps them to retransmit exactly what the kernel sent.
	 * Called before the HEADER event of the same bytes; must not end the
	 * stream or the session. */
	void (*on_data_raw)(struct moq_session *s, struct moq_rx *rx, uint64_t offset,
			    const uint8_t *data, size_t len, int fin);
	/* An incoming data stream ended without STREAM_END. local = 0: the
	 * peer reset it (code e.g. DELIVERY_TIMEOUT). local = 1: the session
	 * ends it because its request ended (on_request_closed follows; code
	 * CANCELLED, or SESSION_CLOSED when the session closes); the session
	 * sends STOP_SENDING. Only for streams whose HEADER was delivered
	 * (streams held for an unknown alias and dropped are not reported).
	 * rx is freed after this returns. Not called for streams of a request
	 * the app cancelled itself (moq_request_cancel stops them silently). */
	void (*on_data_reset)(struct moq_session *s, struct moq_rx *rx, uint64_t code, int local);
	/* One OBJECT_DATAGRAM of a local subscription (sub: the request it
	 * matched by Track Alias). */
	void (*on_datagram)(struct moq_session *s, struct moq_request *sub,
			    const struct moq_object_datagram *d);

	/* ---- outgoing data ---- */

	/* Peer sent STOP_SENDING on an outgoing data stream: the QUIC layer
	 * has reset it with the same code; further writes return -EPIPE. The
	 * app still ends the handle with moq_tx_finish()/moq_tx_reset(). */
	void (*on_tx_stopped)(struct moq_session *s, struct moq_tx *tx, uint64_t code);
	/* A delivery timeout reset this stream (code DELIVERY_TIMEOUT). Same
	 * handle rules as on_tx_stopped. */
	void (*on_tx_timeout)(struct moq_session *s, struct moq_tx *tx);
	/* Back pressure: after a write left more than the threshold
	 * unacknowledged on this stream, its unacknowledged bytes dropped back
	 * to it (moq_quic on_stream_writable): write more. The threshold is
	 * moq_session_config.tx_buffer_low, else the QUIC endpoint's
	 * send_buffer_low. Not called after moq_tx_finish. */
	void (*on_tx_writable)(struct moq_session *s, struct moq_tx *tx);
};

struct moq_session_config {
	/* The loop the endpoint runs on (required: timers for SETUP timeout,
	 * delivery timeouts, unknown-alias holding). */
	struct moq_loop *loop;
	/* SETUP options we send. Client: path and authority (native QUIC
	 * URIs: moqt://authority/path); server: never sent (the draft forbids
	 * them). implementation: MOQT_IMPLEMENTATION, NULL =
	 * MOQ_SESSION_IMPLEMENTATION, "" = do not send. */
	const char *path;
	const char *authority;
	const char *implementation;
	/* Client: run over WebTransport (the endpoint's ALPN must be "h3"):
	 * path and authority then go into the Extended CONNECT request
	 * (https://authority/path), not into SETUP (draft-18 "WebTransport").
	 * Servers detect it from the ALPN. */
	int webtransport;
	/* AUTHORIZATION TOKEN setup options (USE_VALUE tokens typically);
	 * copied at session creation. */
	const struct moq_auth_token *auth_tokens;
	size_t num_auth_tokens;

	/* Limits, 0 = default in brackets. */
	uint32_t max_requests;	    /* concurrent peer requests [256];
				       beyond: REQUEST_ERROR EXCESSIVE_LOAD */
	uint32_t max_subscriptions; /* concurrent peer SUBSCRIBE/PUBLISH
				       [128]; beyond: EXCESSIVE_LOAD */
	/* Incoming data stream / datagram with an unknown Track Alias (its
	 * SUBSCRIBE_OK may still be in flight on another stream): the bytes
	 * are held up to this long [1000 ms] and this many bytes per session
	 * [1 MiB] (per stream 256 KiB), then the stream gets STOP_SENDING
	 * CANCELLED and is dropped; datagrams are held (max 64) the same way.
	 * Aliases of requests that ended are remembered (up to 256) and
	 * their late objects dropped at once. */
	uint64_t unknown_alias_wait_ms;
	size_t unknown_alias_bytes;
	/* Peer must send SETUP within this after the handshake, else close
	 * with CONTROL_MESSAGE_TIMEOUT [10000 ms]. */
	uint64_t setup_timeout_ms;
	/* on_tx_writable threshold of this session's data streams, in
	 * unacknowledged bytes per stream [0 = the QUIC endpoint's
	 * moq_quic_config.send_buffer_low]. */
	size_t tx_buffer_low;
	/* After PUBLISH_DONE on a local subscription the session waits for
	 * the streams its Stream Count says are still coming: the draft's
	 * timer (max(delivery timeouts, 1 s)) restarts while streams open or
	 * data arrives, but never past this many ms after PUBLISH_DONE
	 * [10000]; then the streams still open are stopped and
	 * on_request_closed(DONE) follows. */
	uint64_t publish_done_wait_ms;
	/* Per-object payload limit for incoming data streams [64 MiB]; above:
	 * PROTOCOL_VIOLATION (the data reader's MOQ_ERR_LIMIT). */
	uint64_t max_object_payload;
	/* Name used in log lines; NULL: "#<n> <client|server> peer <addr>". */
	const char *log_name;

	const struct moq_session_callbacks *cb;
	void *user; /* moq_session_user() */
};

/* Put into moq_quic_config.user on a server endpoint that uses
 * moq_session_quic_callbacks(). cfg must outlive the endpoint. on_session
 * (optional) is called for every new session before its handshake; return
 * < 0 to refuse the connection. */
struct moq_session_acceptor {
	const struct moq_session_config *cfg;
	int (*on_session)(struct moq_session *s, void *arg);
	void *arg;
};

/* ---- session ---------------------------------------------------------- */

/* The moq_quic callback table that drives sessions (static storage). */
const struct moq_quic_callbacks *moq_session_quic_callbacks(void);

/* Create a session on conn (server: from on_accept; client: right after
 * moq_quic_connect) and install it as the conn's user pointer. cfg is
 * copied (strings and tokens too; cb must outlive the session). When the
 * handshake completes the session opens its control stream and sends
 * SETUP. NULL on allocation failure. */
struct moq_session *moq_session_new(struct moq_quic_conn *conn,
				    const struct moq_session_config *cfg);
/* moq_quic_connect + moq_session_new. NULL with a message in err. */
struct moq_session *moq_session_connect(struct moq_quic_endpoint *ep, const char *host,
					uint16_t port, const struct moq_session_config *cfg,
					char *err, size_t errlen);

/* Close the session: CONNECTION_CLOSE with code (enum moq_session_code)
 * and reason (may be NULL). Open requests end (on_request_closed with
 * SESSION) and on_close follows once the QUIC layer reports it. Idempotent
 * (the first code wins). */
void moq_session_close(struct moq_session *s, uint64_t code, const char *reason);

/* Send GOAWAY on the control stream (New Session URI: uri or NULL/"" for
 * none; clients must not give one). Its Request ID is the smallest peer
 * Request ID not yet processed. Afterwards new peer requests are answered
 * REQUEST_ERROR GOING_AWAY. timeout_ms > 0: if requests (either direction)
 * are still open after it, the session closes with GOAWAY_TIMEOUT (0: no
 * timeout). -EINVAL if sent twice or a client gives a URI. */
int moq_session_goaway(struct moq_session *s, const char *uri, uint64_t timeout_ms);

enum moq_session_state moq_session_state(const struct moq_session *s);
bool moq_session_is_server(const struct moq_session *s);
bool moq_session_goaway_received(const struct moq_session *s);
/* true once this side sent GOAWAY (moq_session_goaway succeeded) */
bool moq_session_goaway_sent(const struct moq_session *s);
struct moq_quic_conn *moq_session_conn(const struct moq_session *s);
void *moq_session_user(const struct moq_session *s);
void moq_session_set_user(struct moq_session *s, void *user);
/* Log name ("#3 client peer 127.0.0.1:4443" or config.log_name). */
const char *moq_session_name(const struct moq_session *s);

/* Peer's SETUP values kept by the session (NUL-terminated copies, "" when
 * absent); valid for the session's life. */
struct moq_session_peer_info {
	const char *path;
	const char *authority;
	const char *implementation;
	bool has_max_auth_token_cache_size;
	uint64_t max_auth_token_cache_size;
};
const struct moq_session_peer_info *moq_session_peer(const struct moq_session *s);

/* Counters. */
struct moq_session_stats {
	uint64_t requests_sent, requests_received;
	uint64_t objects_sent, objects_received;
	uint64_t datagrams_sent, datagrams_received;
	uint64_t datagrams_dropped_timeout; /* OBJECT/SUBGROUP_DELIVERY_TIMEOUT */
	uint64_t datagrams_dropped_unknown; /* unknown alias, never matched */
	uint64_t streams_reset_timeout;	    /* our streams reset on timeout */
	uint64_t streams_dropped_unknown;   /* incoming, unknown alias */
	uint64_t data_streams_opened, data_streams_received;
};
void moq_session_stats(const struct moq_session *s, struct moq_session_stats *st);

/* ---- sending requests ------------------------------------------------- */

/* Send a request on a new bidi stream. m->type is one of SUBSCRIBE, FETCH,
 * PUBLISH_NAMESPACE, TRACK_STATUS, PUBLISH, SUBSCRIBE_NAMESPACE,
 * SUBSCRIBE_TRACKS; its Request ID is assigned by the session (written into
 * the message's request_id field and readable with moq_request_id()). For
 * PUBLISH with track_alias MOQ_SESSION_ALIAS_AUTO the session picks one.
 * The message is encoded at once (views need not outlive the call); it is
 * sent when the session is READY and a bidi stream is available (queued
 * until then). Returns the handle, or NULL with *err (may be NULL) set to
 * -EINVAL (encode failed / wrong type), -ENOTCONN, -ENOMEM.
 * A joining FETCH must name a local SUBSCRIBE's Request ID. */
struct moq_request *moq_session_request(struct moq_session *s, struct moq_ctrl_msg *m, void *user,
					int *err);

/* Convenience wrappers over moq_session_request. params may be NULL. */
struct moq_request *moq_session_subscribe(struct moq_session *s, const struct moq_namespace *ns,
					  struct moq_bytes name, const struct moq_params *params,
					  void *user);
struct moq_request *moq_session_publish_namespace(struct moq_session *s,
						  const struct moq_namespace *ns,
						  const struct moq_params *params, void *user);
struct moq_request *moq_session_track_status(struct moq_session *s, const struct moq_namespace *ns,
					     struct moq_bytes name, const struct moq_params *params,
					     void *user);
/* Standalone FETCH of [start, end] (end.object 0 = whole group, see the
 * draft's FETCH End Location). */
struct moq_request *moq_session_fetch(struct moq_session *s, const struct moq_namespace *ns,
				      struct moq_bytes name, struct moq_location start,
				      struct moq_location end, const struct moq_params *params,
				      void *user);
/* Joining FETCH (relative if !absolute) attached to the local subscription
 * sub, joining_start groups back (relative) or from group joining_start
 * (absolute). */
struct moq_request *moq_session_joining_fetch(struct moq_session *s, struct moq_request *sub,
					      bool absolute, uint64_t joining_start,
					      const struct moq_params *params, void *user);

/* ---- request handles (both directions) -------------------------------- */

uint64_t moq_request_id(const struct moq_request *r);
/* First message type: MOQ_CTRL_SUBSCRIBE, MOQ_CTRL_FETCH, ... */
uint64_t moq_request_type(const struct moq_request *r);
/* true: we sent the request; false: the peer did. */
bool moq_request_is_local(const struct moq_request *r);
enum moq_request_state moq_request_state(const struct moq_request *r);
struct moq_session *moq_request_session(const struct moq_request *r);
void *moq_request_user(const struct moq_request *r);
void moq_request_set_user(struct moq_request *r, void *user);
/* Track Alias of an established subscription (SUBSCRIBE after
 * SUBSCRIBE_OK, PUBLISH); UINT64_MAX otherwise. */
uint64_t moq_request_track_alias(const struct moq_request *r);
/* Track of a SUBSCRIBE / PUBLISH / TRACK_STATUS / standalone FETCH (copied
 * by the session), or namespace of PUBLISH_NAMESPACE (name empty). false
 * if the request has no track. */
bool moq_request_track(const struct moq_request *r, struct moq_namespace *ns,
		       struct moq_bytes *name);

/* For a peer joining FETCH: the peer SUBSCRIBE it joins (checked by the
 * session: a peer SUBSCRIBE of this session, else the FETCH was rejected
 * with INVALID_JOINING_REQUEST_ID before on_request). NULL otherwise. */
struct moq_request *moq_request_joined(const struct moq_request *r);

/* Delivery state of a subscription (publisher side: a peer SUBSCRIBE or a
 * local PUBLISH; subscriber side: the values we asked for). Values come
 * from the request's parameters, REQUEST_UPDATEs and the Track Properties
 * of SUBSCRIBE_OK / PUBLISH; timeouts are the effective ones (smaller
 * non-zero of subscriber parameter and publisher property), in ms, 0 =
 * none. */
struct moq_subscription_info {
	uint8_t subscriber_priority; /* [128] */
	uint8_t publisher_priority;  /* default for the track [128] */
	uint8_t group_order;	     /* enum moq_group_order, effective */
	bool forward;		     /* Forward State [1] */
	bool has_filter;
	struct moq_subscription_filter filter;
	uint64_t object_delivery_timeout;
	uint64_t subgroup_delivery_timeout;
};
int moq_request_subscription(const struct moq_request *r, struct moq_subscription_info *info);

/* ---- answering peer requests (and PUBLISH) ---------------------------- */

/* SUBSCRIBE_OK for a peer SUBSCRIBE. track_alias: an alias unused in this
 * session, or MOQ_SESSION_ALIAS_AUTO. params (may be NULL) e.g. EXPIRES,
 * LARGEST_OBJECT, GROUP_ORDER; props: Track Properties KVP block (may be
 * empty), e.g. DEFAULT_PUBLISHER_PRIORITY, delivery timeouts. The
 * subscription is ESTABLISHED afterwards and data may be sent on it.
 * -EINVAL: not a pending peer SUBSCRIBE, alias in use, encode failure. */
int moq_request_subscribe_ok(struct moq_request *r, uint64_t track_alias,
			     const struct moq_params *params, struct moq_bytes props);
/* FETCH_OK for a peer FETCH. */
int moq_request_fetch_ok(struct moq_request *r, bool end_of_track, struct moq_location end_location,
			 const struct moq_params *params, struct moq_bytes props);
/* REQUEST_OK: answers a peer PUBLISH_NAMESPACE, TRACK_STATUS (props =
 * Track Properties; the stream is then ended with FIN), SUBSCRIBE_NAMESPACE,
 * SUBSCRIBE_TRACKS, PUBLISH (= PUBLISH_OK), or the oldest unanswered
 * REQUEST_UPDATE on any request. */
int moq_request_ok(struct moq_request *r, const struct moq_params *params, struct moq_bytes props);
/* REQUEST_ERROR (error_code: enum moq_request_error_code; reason may be
 * NULL) for the pending request or the oldest unanswered REQUEST_UPDATE.
 * Rejecting the request itself ends it: the stream gets FIN and r is freed
 * on return (no on_request_closed). An update rejection keeps r; the
 * draft then requires the publisher to end the subscription
 * (moq_request_publish_done UPDATE_FAILED). */
int moq_request_error(struct moq_request *r, uint64_t error_code, uint64_t retry_interval,
		      const char *reason);

/* Publisher: end a subscription (peer SUBSCRIBE or local PUBLISH) with
 * PUBLISH_DONE (status: enum moq_publish_done_code) and FIN. Data streams
 * of the subscription still open are reset with CANCELLED first (the draft
 * forbids PUBLISH_DONE before all streams are closed); Stream Count is the
 * number of data streams opened for it. r is freed on return. */
int moq_request_publish_done(struct moq_request *r, uint64_t status, const char *reason);

/* Publisher: n data streams of subscription r that the application opened
 * outside the session (a relay's kernel fast path writes its own streams):
 * added to the Stream Count of moq_request_publish_done. */
void moq_request_add_streams(struct moq_request *r, uint64_t n);

/* Subscriber / requester: REQUEST_UPDATE on a local request (or on a peer
 * PUBLISH), e.g. SUBSCRIBER_PRIORITY, FORWARD, SUBSCRIPTION_FILTER. Takes a
 * new Request ID. The answer comes through on_request_msg. */
int moq_request_update(struct moq_request *r, const struct moq_params *params);

/* Namespace discovery answers on a peer SUBSCRIBE_NAMESPACE /
 * SUBSCRIBE_TRACKS after its REQUEST_OK: m->type NAMESPACE, NAMESPACE_DONE
 * or PUBLISH_BLOCKED (suffixes relative to the subscribed prefix).
 * -EINVAL for another type or request. */
int moq_request_send(struct moq_request *r, const struct moq_ctrl_msg *m);

/* GOAWAY on this request stream (migrate this request). */
int moq_request_goaway(struct moq_request *r, const char *uri, uint64_t timeout_ms);

/* Cancel a request, either side ("Request Cancellation"): reset our send
 * direction and STOP_SENDING the receive direction with code (enum
 * moq_reset_code, e.g. CANCELLED). For a local SUBSCRIBE this is
 * UNSUBSCRIBE; for a peer request the publisher side drops it. Open data
 * streams we send for it are reset with the same code; incoming data
 * streams of it get STOP_SENDING and their late objects are dropped. r is
 * freed on return (no on_request_closed). */
void moq_request_cancel(struct moq_request *r, uint64_t code);

/* ---- sending data ------------------------------------------------------ */

/* Open a subgroup stream for an established subscription r (peer
 * SUBSCRIBE after SUBSCRIBE_OK, or local PUBLISH). hdr gives group_id,
 * subgroup_id, subgroup_id_mode, has_properties, end_of_group,
 * default_priority / publisher_priority and first_object; track_alias is
 * filled in from r. The stream priority is set from the scheduling
 * algorithm (moq_session_data_priority). Returns NULL with *err: -EINVAL
 * (not an established subscription), -EAGAIN (peer's uni stream limit;
 * retry later), -ENOTCONN, -ENOMEM, -ECANCELED (Forward State 0). */
struct moq_tx *moq_tx_subgroup_open(struct moq_request *r, const struct moq_subgroup_header *hdr,
				    int *err);
/* Open the data stream of a peer FETCH (FETCH_HEADER). NULL + *err. */
struct moq_tx *moq_tx_fetch_open(struct moq_request *r, int *err);

/* One object to write. Subgroup streams use object_id, properties
 * (requires has_properties in the header), payload_length and
 * object_status (non-Normal only with payload_length 0). Fetch streams also
 * use group_id, subgroup_id, publisher_priority and datagram.
 * first_byte_ns: CLOCK_MONOTONIC time the object's first byte was received
 * from upstream or produced (moq_loop_now()); 0 = now. It drives
 * OBJECT_DELIVERY_TIMEOUT. */
struct moq_tx_object {
	uint64_t group_id;
	uint64_t subgroup_id;
	uint64_t object_id;
	uint8_t publisher_priority;
	bool datagram;
	struct moq_bytes properties;
	uint64_t object_status;
	uint64_t payload_length;
	uint64_t first_byte_ns;
};

/* Write the object header; payload_length bytes must follow through
 * moq_tx_payload() before the next object. If the object's delivery
 * timeout has already expired the stream is reset (DELIVERY_TIMEOUT) and
 * -ETIMEDOUT returned. */
int moq_tx_object_begin(struct moq_tx *tx, const struct moq_tx_object *o);
/* Next payload chunk of the current object (relays forward as bytes
 * arrive). -EINVAL if more than announced. -ETIMEDOUT as above. */
int moq_tx_payload(struct moq_tx *tx, const void *data, size_t len);
/* Header + whole payload (payload_length bytes at payload). */
int moq_tx_object(struct moq_tx *tx, const struct moq_tx_object *o, const void *payload);
/* Fetch streams: an End of Range marker (draft "End of Range") saying the
 * Objects up to loc do not exist (unknown = false) or have unknown status
 * (unknown = true). -EINVAL on a subgroup stream or inside an object. */
int moq_tx_fetch_end_of_range(struct moq_tx *tx, bool unknown, struct moq_location loc);
/* End the stream with FIN (-EINVAL inside an object: the handle stays).
 * On a stream that was reset (peer STOP_SENDING, delivery timeout) it
 * returns -EPIPE and releases the handle. Otherwise the handle is invalid
 * afterwards; the session keeps the stream while a delivery timeout can
 * still fire (until acknowledged). */
int moq_tx_finish(struct moq_tx *tx);
/* Reset the stream (code: enum moq_reset_code). Handle invalid after. */
void moq_tx_reset(struct moq_tx *tx, uint64_t code);
/* Accessors. */
struct moq_request *moq_tx_request(const struct moq_tx *tx);
int64_t moq_tx_stream_id(const struct moq_tx *tx);
size_t moq_tx_buffered(const struct moq_tx *tx);
void *moq_tx_user(const struct moq_tx *tx);
void moq_tx_set_user(struct moq_tx *tx, void *user);

/* Send one OBJECT_DATAGRAM for subscription r (track_alias filled in).
 * first_byte_ns as for moq_tx_object (0 = now). Dropped (returns
 * -ETIMEDOUT, counted) when older than the effective object/subgroup
 * delivery timeout. -ECANCELED with Forward State 0. */
int moq_request_send_datagram(struct moq_request *r, const struct moq_object_datagram *d,
			      uint64_t first_byte_ns);

/* ---- incoming data ---------------------------------------------------- */

/* The request this stream belongs to (NULL once the request ended). */
struct moq_request *moq_rx_request(const struct moq_rx *rx);
int64_t moq_rx_stream_id(const struct moq_rx *rx);
void *moq_rx_user(const struct moq_rx *rx);
void moq_rx_set_user(struct moq_rx *rx, void *user);
/* Not interested any more: STOP_SENDING(code); no more events for rx and
 * rx is freed on return. */
void moq_rx_stop(struct moq_rx *rx, uint64_t code);

/* ---- scheduling --------------------------------------------------------- */

/* Priorities of the QUIC streams (lower value is sent first):
 *   control streams                     0
 *   request streams                     1 + subscriber priority / 32 (1..8)
 *   data streams                        16 + the value below
 * Data value, most significant first, implementing the draft's scheduling
 * algorithm: subscriber priority (8 bits), publisher priority (8 bits),
 * group rank (11 bits), subgroup rank (4 bits: min(subgroup id, 15)).
 * Group rank orders the open streams of one subscription by group: with
 * Ascending order rank = group - base, with Descending order rank =
 * 2047 - (group - base), where base is the first group the subscription
 * opened a stream for; it moves down when a lower group is opened and,
 * when a group falls outside the 2048-group window, moves up to the lowest
 * group of the subscription's streams that still have unacknowledged data
 * (finished ones included), which are all re-prioritized then. If that
 * group is the current base, the new group gets the edge rank (2047
 * ascending, 0 descending) instead. */
uint32_t moq_session_data_priority(uint8_t subscriber_priority, uint8_t publisher_priority,
				   uint32_t group_rank, uint64_t subgroup_id);

/* 1 if the session runs over WebTransport (HTTP/3), 0 on native QUIC. */
int moq_session_is_webtransport(const struct moq_session *s);

#endif
