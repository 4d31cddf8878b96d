/* Bootstrap shared by the client tools (moq-pub, moq-sub): the QUIC/TLS
 * options both take, signals through a signalfd, the event loop, and the
 * QUIC and session configurations built from those options. */
#ifndef MOQ_MEDIA_CLIENT_H
#define MOQ_MEDIA_CLIENT_H

#include <stddef.h>

#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"

/* The QUIC/TLS command-line options common to the tools. */
struct moq_cli_quic_opts {
	int plaintext, insecure, no_pacing;
	const char *cert, *key, *ca, *alpn, *sni, *qlog_dir;
};

/* --qlog-dir must name a writable directory: 0, or -1 with err. */
int moq_cli_qlog_dir_check(const char *dir, char *err, size_t errlen);

/* Ignores SIGPIPE and blocks SIGINT/SIGTERM, which then arrive through the
 * returned signalfd (-1 when none could be made). */
int moq_cli_signalfd(void);

/* A new loop watching sfd (when >= 0) with on_signal; NULL with errno. */
struct moq_loop *moq_cli_loop_new(int sfd, moq_loop_fd_cb on_signal, void *arg);

/* q = defaults + the options + media-sized flow control windows + the
 * session layer's QUIC callbacks. */
void moq_cli_quic_config(struct moq_quic_config *q, const struct moq_cli_quic_opts *o);

/* c = loop, callbacks and user; one AUTHORIZATION TOKEN (kept in tok) when
 * token is not NULL. */
void moq_cli_session_config(struct moq_session_config *c, struct moq_loop *loop,
			    const struct moq_session_callbacks *cb, void *user,
			    struct moq_auth_token *tok, const char *token);

#endif
