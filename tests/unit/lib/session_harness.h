/* Test harness for the MoQT session layer: a server and client sessions in
 * one process on 127.0.0.1 over moq_quic (plaintext or TLS), with a
 * recorder (struct rec) as each session's user pointer. */
#ifndef SESSION_HARNESS_H
#define SESSION_HARNESS_H

#include <stdbool.h>

#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"

#define SH_MAX_SRV 4

struct rec;
typedef void (*rec_request_fn)(struct rec *r, struct moq_request *req,
			       const struct moq_ctrl_msg *m);
typedef void (*rec_data_fn)(struct rec *r, struct moq_rx *rx, const struct moq_data_event *ev);

/* Everything one session saw. */
struct rec {
	struct moq_session *s;
	int ready, closed;
	struct moq_quic_close_info close;
	int goaway;
	int setup_reject; /* on_setup returns this */
	char peer_path[128], peer_impl[128];
	/* incoming requests */
	int n_req;
	struct moq_request *req;
	uint64_t req_type;
	rec_request_fn on_request; /* NULL: leave unanswered */
	/* messages on requests */
	int n_msg;
	uint64_t last_msg_type;
	uint64_t last_error_code;
	uint64_t last_alias;
	uint64_t done_status, done_count;
	rec_request_fn on_msg; /* called for every on_request_msg */
	/* ended requests */
	int n_closed;
	enum moq_request_end closed_why;
	uint64_t closed_code;
	/* data */
	rec_data_fn on_data;
	int n_headers, n_objects, n_stream_end;
	int n_resets;
	uint64_t reset_code;
	int n_dgrams;
	uint64_t dgram_sum; /* sum of object ids */
	int n_tx_timeout;
	void *test; /* test-specific state */
};

struct sh_world {
	struct moq_loop *loop;
	struct moq_quic_endpoint *srv_ep, *cli_ep;
	struct moq_session_config srv_cfg, cli_cfg;
	struct moq_session_acceptor acc;
	struct rec srv[SH_MAX_SRV];
	int nsrv;
	struct rec cli[SH_MAX_SRV];
	int ncli;
	bool tls;
};

extern const struct moq_session_callbacks sh_callbacks;

/* Server + client endpoints (no connection yet). tls: use certificates
 * made with certtool into a temp dir (once per process). */
void sh_world_init(struct sh_world *w, bool tls);
/* The same over WebTransport: TLS, the server's ALPN "moqt-18,h3" (as
 * moq-relayd), clients with ALPN h3 and cli_cfg.webtransport (path /test). */
void sh_world_init_wt(struct sh_world *w);
/* Connect one more client session (rec w->cli[i], returned). */
struct rec *sh_connect(struct sh_world *w);
void sh_world_free(struct sh_world *w);
/* Run the loop until cond(arg) or timeout; true if cond became true. */
bool sh_run_until(struct sh_world *w, bool (*cond)(void *), void *arg, uint64_t timeout_ms);
/* Run for a while. */
void sh_run_for(struct sh_world *w, uint64_t ms);
/* Both sides of client i ready. */
bool sh_ready(void *w);
/* Connect client 0 and wait until both sides are READY (asserts). */
void sh_connect_ready(struct sh_world *w);

/* Namespace of one field + helper for names. */
struct moq_namespace sh_ns(const char *field);
struct moq_bytes sh_bytes(const char *s);

#endif
