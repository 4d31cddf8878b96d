/* libFuzzer target: control-plane bytes from a peer into a server MoQT
 * session (moq/session/session.h) in context, over an in-memory fake of the
 * moq_quic API.
 *
 * The fake transport: this file defines every moq_quic_* function the
 * session layer calls (conn user pointer, streams, writes, resets, close).
 * The fuzz build links through build-fuzz/libmoq.a, so the linker takes
 * these definitions and never pulls moq/quic/quic.o (ngtcp2) in. Events go
 * into the session through the real callback table
 * (moq_session_quic_callbacks()), exactly as the QUIC layer delivers them;
 * CONNECTION_CLOSE is recorded and on_close delivered from the top level
 * afterwards, as the real layer does once the close packet has gone.
 *
 * Input: byte 0 = mode, byte 1 = chunking seed, then the payload.
 *   mode bit 0   0: payload continues the client's control stream after a
 *                   valid client SETUP; 1: payload is a client request
 *                   stream (bidi stream 0) after the SETUP exchange
 *   mode bits 1-2 how the application answers requests: 0 leave pending,
 *                   1 accept (SUBSCRIBE_OK / FETCH_OK / REQUEST_OK),
 *                   2 REQUEST_ERROR, 3 cancel the request
 *   mode bit 3   end the stream (FIN) after the payload
 * The payload is delivered in pseudo-random chunks (1..300 bytes).
 *
 * Checked (besides ASan/UBSan/LeakSanitizer):
 *  - the client SETUP makes the session READY, and the server's own control
 *    stream carries exactly one well-formed SETUP;
 *  - control stream: an independent walk of the payload with the codec
 *    (moq_ctrl_decode) and the draft's control-stream rules (only GOAWAY
 *    after SETUP, at most one, empty New Session URI from a client,
 *    Request ID of the server's parity) predicts the outcome: the session
 *    must close with exactly the predicted code at the first bad message
 *    (PROTOCOL_VIOLATION, KEY_VALUE_FORMATTING_ERROR or INVALID_REQUEST_ID)
 *    and must stay open when every complete message is valid; FIN on the
 *    control stream closes it with PROTOCOL_VIOLATION;
 *  - request stream: a malformed first message or one that may not begin
 *    a request stream closes the session with PROTOCOL_VIOLATION-class
 *    code; any close is with a code a peer's bad bytes may draw (never
 *    NO_ERROR, INTERNAL_ERROR or a timeout code);
 *  - everything the server writes on request streams decodes with the
 *    codec (no garbage goes out).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "control.h"
#include "log.h"
#include "moq_codes.h"
#include "moq_err.h"
#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"
#include "varint.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_session: %s failed at line %d\n", #cond, __LINE__);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- the fake moq_quic layer ------------------------------------------- */

#define FS_MAX_STREAMS 64
#define FS_OUT_CAP (64 * 1024)

struct fs_stream {
	int64_t sid;
	int used;
	void *user;
	int fin_out, reset_out, stop_out;
	uint8_t *out; /* bytes the server wrote (request and control streams) */
	size_t out_len;
};

struct moq_quic_conn {
	void *user;
	int closed; /* moq_quic_conn_close was called */
	uint64_t close_code;
	char reason[256];
	int64_t next_uni, next_bidi;
	struct fs_stream st[FS_MAX_STREAMS];
	struct sockaddr_in peer;
};

static struct fs_stream *fs_find(const struct moq_quic_conn *c, int64_t sid)
{
	for (int i = 0; i < FS_MAX_STREAMS; i++)
		if (c->st[i].used && c->st[i].sid == sid)
			return (struct fs_stream *)&c->st[i];
	return NULL;
}

static struct fs_stream *fs_get(struct moq_quic_conn *c, int64_t sid)
{
	struct fs_stream *s = fs_find(c, sid);

	if (s)
		return s;
	for (int i = 0; i < FS_MAX_STREAMS; i++) {
		if (!c->st[i].used) {
			memset(&c->st[i], 0, sizeof(c->st[i]));
			c->st[i].used = 1;
			c->st[i].sid = sid;
			return &c->st[i];
		}
	}
	return NULL;
}

void moq_quic_conn_set_user(struct moq_quic_conn *c, void *user)
{
	c->user = user;
}

void *moq_quic_conn_user(const struct moq_quic_conn *c)
{
	return c->user;
}

int moq_quic_conn_is_server(const struct moq_quic_conn *c)
{
	(void)c;
	return 1;
}

/* native MoQT (ALPN moqt-18): the WebTransport layer stays out */
const char *moq_quic_conn_alpn(const struct moq_quic_conn *c)
{
	return "moqt-18";
}

size_t moq_quic_conn_max_datagram(const struct moq_quic_conn *c)
{
	return 1200;
}

int moq_quic_conn_is_established(const struct moq_quic_conn *c)
{
	return !c->closed;
}

const struct sockaddr *moq_quic_conn_peer(const struct moq_quic_conn *c, socklen_t *len)
{
	if (len)
		*len = sizeof(c->peer);
	return (const struct sockaddr *)&c->peer;
}

struct moq_quic_conn *moq_quic_connect(struct moq_quic_endpoint *ep, const char *host,
				       uint16_t port, void *user, char *err, size_t errlen)
{
	(void)ep;
	(void)host;
	(void)port;
	(void)user;
	if (err && errlen)
		snprintf(err, errlen, "fuzz_session: no client connections");
	return NULL;
}

int moq_quic_conn_close(struct moq_quic_conn *c, uint64_t app_error, const char *reason)
{
	if (c->closed)
		return 0;
	c->closed = 1;
	c->close_code = app_error;
	snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
	return 0;
}

int64_t moq_quic_stream_open_uni(struct moq_quic_conn *c)
{
	int64_t sid;

	if (c->closed)
		return -ENOTCONN;
	sid = 4 * c->next_uni + 3; /* server-initiated uni */
	if (!fs_get(c, sid))
		return -EAGAIN;
	c->next_uni++;
	return sid;
}

int64_t moq_quic_stream_open_bidi(struct moq_quic_conn *c)
{
	int64_t sid;

	if (c->closed)
		return -ENOTCONN;
	sid = 4 * c->next_bidi + 1; /* server-initiated bidi */
	if (!fs_get(c, sid))
		return -EAGAIN;
	c->next_bidi++;
	return sid;
}

int moq_quic_stream_write(struct moq_quic_conn *c, int64_t sid, const void *data, size_t len,
			  int fin)
{
	struct fs_stream *s = fs_find(c, sid);

	if (!s)
		return -ENOENT;
	if (s->fin_out || s->reset_out)
		return -EPIPE;
	/* the session writes only on its own streams and on bidi streams */
	CHECK((sid & 1) || !(sid & 2));
	if (len) {
		if (!s->out)
			s->out = malloc(FS_OUT_CAP);
		CHECK(s->out);
		if (s->out_len + len <= FS_OUT_CAP) {
			memcpy(s->out + s->out_len, data, len);
			s->out_len += len;
		}
	}
	if (fin)
		s->fin_out = 1;
	return 0;
}

size_t moq_quic_stream_buffered(const struct moq_quic_conn *c, int64_t sid)
{
	(void)c;
	(void)sid;
	return 0; /* everything acknowledged at once */
}

int moq_quic_stream_set_priority(struct moq_quic_conn *c, int64_t sid, uint32_t priority)
{
	(void)priority;
	return fs_find(c, sid) ? 0 : -ENOENT;
}

int moq_quic_stream_set_send_buffer_low(struct moq_quic_conn *c, int64_t sid, size_t low)
{
	(void)low;
	return fs_find(c, sid) ? 0 : -ENOENT;
}

int moq_quic_stream_set_user(struct moq_quic_conn *c, int64_t sid, void *user)
{
	struct fs_stream *s = fs_get(c, sid);

	if (!s)
		return -ENOENT;
	s->user = user;
	return 0;
}

void *moq_quic_stream_user(const struct moq_quic_conn *c, int64_t sid)
{
	struct fs_stream *s = fs_find(c, sid);

	return s ? s->user : NULL;
}

int moq_quic_stream_reset(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	struct fs_stream *s = fs_find(c, sid);

	(void)app_error;
	if (!s)
		return -ENOENT;
	s->reset_out = 1;
	return 0;
}

int moq_quic_stream_stop_sending(struct moq_quic_conn *c, int64_t sid, uint64_t app_error)
{
	struct fs_stream *s = fs_find(c, sid);

	(void)app_error;
	if (!s)
		return -ENOENT;
	s->stop_out = 1;
	return 0;
}

int moq_quic_datagram_send(struct moq_quic_conn *c, const void *data, size_t len)
{
	(void)data;
	(void)len;
	return c->closed ? -ENOTCONN : 0;
}

/* ---- the application ------------------------------------------------------ */

struct fs_app {
	int answer; /* mode bits 1-2 */
	int closed;
	uint64_t close_code;
	int n_requests;
};

static void app_on_request(struct moq_session *s, struct moq_request *r,
			   const struct moq_ctrl_msg *m)
{
	struct fs_app *a = moq_session_user(s);
	struct moq_location loc = {0};

	a->n_requests++;
	switch (a->answer) {
	case 1:
		if (m->type == MOQ_CTRL_SUBSCRIBE)
			moq_request_subscribe_ok(r, MOQ_SESSION_ALIAS_AUTO, NULL,
						 (struct moq_bytes){0});
		else if (m->type == MOQ_CTRL_FETCH)
			moq_request_fetch_ok(r, false, loc, NULL, (struct moq_bytes){0});
		else
			moq_request_ok(r, NULL, (struct moq_bytes){0});
		break;
	case 2:
		moq_request_error(r, MOQ_REQERR_NOT_SUPPORTED, 0, "fuzz");
		break;
	case 3:
		moq_request_cancel(r, MOQ_RESET_CANCELLED);
		break;
	default:
		break; /* leave pending */
	}
}

static void app_on_request_msg(struct moq_session *s, struct moq_request *r,
			       const struct moq_ctrl_msg *m)
{
	struct fs_app *a = moq_session_user(s);

	if (m->type == MOQ_CTRL_REQUEST_UPDATE && a->answer == 1)
		moq_request_ok(r, NULL, (struct moq_bytes){0});
}

static void app_on_close(struct moq_session *s, const struct moq_quic_close_info *info)
{
	struct fs_app *a = moq_session_user(s);

	a->closed = 1;
	a->close_code = info ? info->code : 0;
}

static const struct moq_session_callbacks app_cb = {
    .on_request = app_on_request,
    .on_request_msg = app_on_request_msg,
    .on_close = app_on_close,
};

/* ---- driver ---------------------------------------------------------------- */

static struct moq_loop *loop;
static uint8_t client_setup[512];
static int verbose; /* FUZZ_SESSION_VERBOSE=1: one line per input */
static int client_setup_len;

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char impl[] = "fuzz-client";
	struct moq_ctrl_msg m;

	(void)argc;
	(void)argv;
	moq_log_set_level(MOQ_LOG_ERROR); /* warnings on every bad input */
	verbose = getenv("FUZZ_SESSION_VERBOSE") != NULL;
	loop = moq_loop_new();
	CHECK(loop);
	memset(&m, 0, sizeof(m));
	m.type = MOQ_CTRL_SETUP;
	m.setup.num_options = 2;
	m.setup.options[0].type = MOQ_SETUP_PATH;
	m.setup.options[0].bytes.ptr = (const uint8_t *)"/fuzz";
	m.setup.options[0].bytes.len = 5;
	m.setup.options[1].type = MOQ_SETUP_MOQT_IMPLEMENTATION;
	m.setup.options[1].bytes.ptr = (const uint8_t *)impl;
	m.setup.options[1].bytes.len = sizeof(impl) - 1;
	client_setup_len = moq_ctrl_encode(client_setup, sizeof(client_setup), &m);
	CHECK(client_setup_len > 0);
	return 0;
}

/* Outcome the draft prescribes for the payload on the control stream after
 * the client's SETUP: 0 = the session stays open, else the Session
 * Termination code at the first bad message. Independent of the session:
 * the codec and the control-stream rules of draft-18 section 9 (GOAWAY).
 * *early = 1 when the payload ends inside a message whose type alone is
 * already not allowed: the session may close (PROTOCOL_VIOLATION) before
 * the rest arrives, or wait for it. */
static uint64_t expect_control(const uint8_t *p, size_t n, int fin, int *early)
{
	static struct moq_ctrl_msg m;
	int goaway = 0;

	*early = 0;
	while (n > 0) {
		int rc = moq_ctrl_decode(&m, p, n);
		uint64_t type;

		/* a type that may not come here (SETUP again, any request or
		 * response) is a PROTOCOL_VIOLATION whatever its payload */
		if (moq_vi_decode(&type, p, n) > 0 && type != MOQ_CTRL_GOAWAY) {
			if (rc == MOQ_ERR_NEED_MORE) {
				*early = 1;
				break;
			}
			return MOQ_SESSION_PROTOCOL_VIOLATION;
		}
		if (rc == MOQ_ERR_NEED_MORE) {
			*early = goaway; /* a second GOAWAY on its way */
			break;
		}
		if (rc < 0)
			return (uint64_t)moq_ctrl_err_to_session_code(rc);
		if (goaway)
			return MOQ_SESSION_PROTOCOL_VIOLATION; /* second GOAWAY */
		if (m.goaway.new_session_uri.len)
			return MOQ_SESSION_PROTOCOL_VIOLATION; /* from a client */
		if (m.goaway.has_request_id && !(m.goaway.request_id & 1))
			return MOQ_SESSION_INVALID_REQUEST_ID; /* server IDs are odd */
		goaway = 1;
		p += rc;
		n -= (size_t)rc;
	}
	return fin ? MOQ_SESSION_PROTOCOL_VIOLATION : 0;
}

/* Codes a peer's bad control-plane bytes may draw. */
static int code_for_bad_peer(uint64_t c)
{
	return c == MOQ_SESSION_PROTOCOL_VIOLATION || c == MOQ_SESSION_INVALID_REQUEST_ID ||
	       c == MOQ_SESSION_KEY_VALUE_FORMATTING_ERROR ||
	       c == MOQ_SESSION_DUPLICATE_TRACK_ALIAS;
}

/* Every byte the server wrote on stream st must be whole, decodable
 * control messages (FIN'd streams must not end inside one). */
static void check_written(const struct fs_stream *st, int is_control)
{
	static struct moq_ctrl_msg m;
	size_t off = 0;
	int first = 1;

	while (off < st->out_len) {
		int rc = moq_ctrl_decode(&m, st->out + off, st->out_len - off);

		if (rc == MOQ_ERR_NEED_MORE && !st->fin_out)
			break; /* rest still being written: cannot happen here */
		if (rc < 0)
			fprintf(stderr,
				"fuzz_session: server wrote an undecodable message on "
				"stream %lld at %zu: %d\n",
				(long long)st->sid, off, rc);
		CHECK(rc > 0);
		if (is_control)
			CHECK(first ? m.type == MOQ_CTRL_SETUP : m.type == MOQ_CTRL_GOAWAY);
		first = 0;
		off += (size_t)rc;
	}
}

static void deliver(struct moq_quic_conn *c, int64_t sid, const uint8_t *p, size_t n, int fin,
		    uint32_t *seed)
{
	const struct moq_quic_callbacks *cb = moq_session_quic_callbacks();

	do {
		size_t k = 1 + rng_next(seed) % 300;

		if (k > n)
			k = n;
		if (c->closed)
			return; /* the QUIC layer delivers nothing after close */
		cb->on_stream_data(c, sid, p, k, fin && k == n, NULL);
		p += k;
		n -= k;
	} while (n > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct moq_quic_conn conn;
	const struct moq_quic_callbacks *cb = moq_session_quic_callbacks();
	struct moq_session_config cfg;
	struct moq_session *s;
	struct fs_app app;
	const uint8_t *pay;
	size_t plen;
	uint32_t seed;
	int mode, fin, req_mode;
	uint64_t want = 0;

	if (size < 2)
		return 0;
	mode = data[0];
	seed = 0x9e3779b9u ^ ((uint32_t)data[1] * 2654435761u);
	if (!seed)
		seed = 1;
	pay = data + 2;
	plen = size - 2;
	req_mode = mode & 1;
	fin = !!(mode & 8);

	memset(&conn, 0, sizeof(conn));
	conn.peer.sin_family = AF_INET;
	conn.peer.sin_port = htons(4433);
	conn.peer.sin_addr.s_addr = htonl(0x7f000001);
	memset(&app, 0, sizeof(app));
	app.answer = (mode >> 1) & 3;
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = loop;
	cfg.cb = &app_cb;
	cfg.user = &app;
	cfg.log_name = "fuzz";
	cfg.max_requests = 8;
	cfg.max_subscriptions = 4;

	/* handshake done: the session opens its control stream, sends SETUP */
	s = moq_session_new(&conn, &cfg);
	CHECK(s);
	CHECK(moq_session_state(s) == MOQ_SESSION_SETUP);
	/* the client's control stream (uni 2) with its SETUP */
	deliver(&conn, 2, client_setup, (size_t)client_setup_len, 0, &seed);
	CHECK(!conn.closed);
	CHECK(moq_session_state(s) == MOQ_SESSION_READY);

	if (!req_mode) {
		int early;

		want = expect_control(pay, plen, fin, &early);
		if (plen || fin)
			deliver(&conn, 2, pay, plen, fin, &seed);
		if (want) {
			if (!conn.closed || conn.close_code != want)
				fprintf(stderr,
					"fuzz_session: control stream: expected close 0x%llx, got "
					"%s 0x%llx (%s)\n",
					(unsigned long long)want, conn.closed ? "close" : "open",
					(unsigned long long)conn.close_code, conn.reason);
			CHECK(conn.closed && conn.close_code == want);
		} else if (early && conn.closed) {
			CHECK(conn.close_code == MOQ_SESSION_PROTOCOL_VIOLATION);
		} else {
			if (conn.closed)
				fprintf(stderr,
					"fuzz_session: valid control stream closed: 0x%llx (%s)\n",
					(unsigned long long)conn.close_code, conn.reason);
			CHECK(!conn.closed);
		}
	} else {
		static struct moq_ctrl_msg m;
		int rc = moq_ctrl_decode(&m, pay, plen);

		cb->on_stream_open(&conn, 0, NULL);
		if (plen || fin)
			deliver(&conn, 0, pay, plen, fin, &seed);
		uint64_t type;

		if (moq_vi_decode(&type, pay, plen) > 0 && !moq_ctrl_type_is_request(type)) {
			/* refused by its type alone, payload complete or not */
			CHECK(rc == MOQ_ERR_NEED_MORE || conn.closed);
			CHECK(!conn.closed || conn.close_code == MOQ_SESSION_PROTOCOL_VIOLATION);
		} else if (rc < 0 && rc != MOQ_ERR_NEED_MORE) {
			CHECK(conn.closed);
			CHECK(conn.close_code == (uint64_t)moq_ctrl_err_to_session_code(rc));
		} else if (rc == MOQ_ERR_NEED_MORE && fin && plen) {
			/* ended inside the first message */
			CHECK(conn.closed && conn.close_code == MOQ_SESSION_PROTOCOL_VIOLATION);
		}
		if (conn.closed && !code_for_bad_peer(conn.close_code))
			fprintf(stderr, "fuzz_session: request stream: closed with 0x%llx (%s)\n",
				(unsigned long long)conn.close_code, conn.reason);
		CHECK(!conn.closed || code_for_bad_peer(conn.close_code));
	}

	/* what the server wrote: its control stream (uni 3) is one SETUP and
	 * at most GOAWAYs; request streams carry whole messages */
	for (int i = 0; i < FS_MAX_STREAMS; i++) {
		const struct fs_stream *st = &conn.st[i];

		if (!st->used || !st->out_len)
			continue;
		check_written(st, st->sid == 3);
	}
	CHECK(fs_find(&conn, 3) && fs_find(&conn, 3)->out_len > 0);

	if (verbose)
		fprintf(stderr, "fuzz_session: mode %d: %s 0x%llx (%s), %d request(s)\n", mode,
			conn.closed ? "closed" : "open", (unsigned long long)conn.close_code,
			conn.reason, app.n_requests);

	/* end of the connection: the app closes if the peer did not cause it;
	 * on_close from the top level frees the session (LeakSanitizer checks
	 * that everything goes) */
	if (!conn.closed)
		moq_session_close(s, MOQ_SESSION_NO_ERROR, NULL);
	CHECK(conn.closed);
	cb->on_close(&conn,
		     &(struct moq_quic_close_info){
			 .origin = MOQ_QUIC_CLOSE_LOCAL, .app = 1, .code = conn.close_code},
		     NULL);
	CHECK(app.closed);
	for (int i = 0; i < FS_MAX_STREAMS; i++)
		free(conn.st[i].out);
	return 0;
}
