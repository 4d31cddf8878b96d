/* Bootstrap shared by the client tools (moq-pub, moq-sub): the QUIC/TLS
 * options both take, signals through a signalfd, the event loop, and the
 * QUIC and session configurations built from those options. */
#ifndef MOQ_MEDIA_CLIENT_H
#define MOQ_MEDIA_CLIENT_H

#include <stddef.h>

#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"

/* The connection options common to the tools: QUIC/TLS, qlog, logging,
 * the authorization token. */
struct moq_cli_conn_opts {
	int plaintext, insecure, no_pacing;
	const char *cert, *key, *ca, *alpn, *sni, *qlog_dir, *token;
	/* an https:// target: MoQT over WebTransport (docs/webtransport.md) */
	int webtransport;
	char wt_authority[300], wt_path[1024];
	/* --cert-hash: trust the server certificate with this SHA-256 */
	int has_cert_hash;
	uint8_t cert_hash[32];
};

/* getopt_long codes of those options (a tool's own codes stay below). */
enum moq_cli_conn_opt {
	MOQ_CLI_OPT_PLAINTEXT = 0x1000,
	MOQ_CLI_OPT_CERT,
	MOQ_CLI_OPT_KEY,
	MOQ_CLI_OPT_CA,
	MOQ_CLI_OPT_INSECURE,
	MOQ_CLI_OPT_SNI,
	MOQ_CLI_OPT_ALPN,
	MOQ_CLI_OPT_QLOG,
	MOQ_CLI_OPT_NO_PACING,
	MOQ_CLI_OPT_LOG_LEVEL,
	MOQ_CLI_OPT_TOKEN,
	MOQ_CLI_OPT_CERT_HASH,
};

/* Their struct option entries, for a tool's long_opts table. */
#define MOQ_CLI_CONN_LONG_OPTS                                                                     \
	{"plaintext", no_argument, 0, MOQ_CLI_OPT_PLAINTEXT},                                      \
	    {"cert", required_argument, 0, MOQ_CLI_OPT_CERT},                                      \
	    {"key", required_argument, 0, MOQ_CLI_OPT_KEY},                                        \
	    {"ca", required_argument, 0, MOQ_CLI_OPT_CA},                                          \
	    {"insecure", no_argument, 0, MOQ_CLI_OPT_INSECURE},                                    \
	    {"sni", required_argument, 0, MOQ_CLI_OPT_SNI},                                        \
	    {"alpn", required_argument, 0, MOQ_CLI_OPT_ALPN},                                      \
	    {"qlog-dir", required_argument, 0, MOQ_CLI_OPT_QLOG},                                  \
	    {"no-pacing", no_argument, 0, MOQ_CLI_OPT_NO_PACING},                                  \
	    {"log-level", required_argument, 0, MOQ_CLI_OPT_LOG_LEVEL},                            \
	    {"cert-hash", required_argument, 0, MOQ_CLI_OPT_CERT_HASH},                            \
	{                                                                                          \
		"auth-token", required_argument, 0, MOQ_CLI_OPT_TOKEN                              \
	}

/* One getopt_long result c with argument arg: 1 when it was a connection
 * option (stored in o; --log-level is applied at once), 0 when it was not,
 * -1 with a message in err when its argument is wrong. */
int moq_cli_conn_option(struct moq_cli_conn_opts *o, int c, const char *arg, char *err,
			size_t errlen);

/* The relay or publisher to connect to: "HOST:PORT" (native QUIC), or
 * "https://HOST[:PORT][/PATH]" (WebTransport; port 443 by default), which
 * sets o->webtransport, wt_authority and wt_path. 0, or -1 with err. */
int moq_cli_target(struct moq_cli_conn_opts *o, const char *arg, char *host, size_t hostlen,
		   uint16_t *port, char *err, size_t errlen);

/* For a WebTransport target: the session config's CONNECT path and
 * authority. Nothing for native QUIC. */
void moq_cli_session_target(struct moq_session_config *c, const struct moq_cli_conn_opts *o);

/* --qlog-dir must name a writable directory: 0, or -1 with err. */
int moq_cli_qlog_dir_check(const char *dir, char *err, size_t errlen);

/* Ignores SIGPIPE and blocks SIGINT/SIGTERM, which then arrive through the
 * returned signalfd (-1 when none could be made). */
int moq_cli_signalfd(void);

/* A new loop watching sfd (when >= 0) with on_signal; NULL after telling
 * the user why ("prog: cannot create the event loop: ..."). */
struct moq_loop *moq_cli_loop_new(const char *prog, int sfd, moq_loop_fd_cb on_signal, void *arg);

/* q = defaults + the options + media-sized flow control windows + the
 * session layer's QUIC callbacks. */
void moq_cli_quic_config(struct moq_quic_config *q, const struct moq_cli_conn_opts *o);

/* c = loop, callbacks and user; one AUTHORIZATION TOKEN (kept in tok) when
 * token is not NULL. */
void moq_cli_session_config(struct moq_session_config *c, struct moq_loop *loop,
			    const struct moq_session_callbacks *cb, void *user,
			    struct moq_auth_token *tok, const char *token);

#endif
