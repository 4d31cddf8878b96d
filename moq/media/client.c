/* Bootstrap shared by the client tools (see client.h). */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "media/cli.h"
#include "media/client.h"

int moq_cli_conn_option(struct moq_cli_conn_opts *o, int c, const char *arg, char *err,
			size_t errlen)
{
	switch (c) {
	case MOQ_CLI_OPT_PLAINTEXT:
		o->plaintext = 1;
		return 1;
	case MOQ_CLI_OPT_CERT:
		o->cert = arg;
		return 1;
	case MOQ_CLI_OPT_KEY:
		o->key = arg;
		return 1;
	case MOQ_CLI_OPT_CA:
		o->ca = arg;
		return 1;
	case MOQ_CLI_OPT_INSECURE:
		o->insecure = 1;
		return 1;
	case MOQ_CLI_OPT_SNI:
		o->sni = arg;
		return 1;
	case MOQ_CLI_OPT_ALPN:
		if (!*arg || strlen(arg) > 255) {
			snprintf(err, errlen, "--alpn: give 1..255 bytes");
			return -1;
		}
		o->alpn = arg;
		return 1;
	case MOQ_CLI_OPT_QLOG:
		o->qlog_dir = arg;
		return 1;
	case MOQ_CLI_OPT_NO_PACING:
		o->no_pacing = 1;
		return 1;
	case MOQ_CLI_OPT_LOG_LEVEL: {
		int l = moq_log_parse_level(arg);
		if (l < 0) {
			snprintf(err, errlen, "--log-level: give error, warn, info or debug");
			return -1;
		}
		moq_log_set_level((enum moq_log_level)l);
		return 1;
	}
	case MOQ_CLI_OPT_CERT_HASH: {
		size_t n = strlen(arg), i;
		for (i = 0; n == 64 && i < 32; i++) {
			unsigned v;
			if (sscanf(arg + 2 * i, "%2x", &v) != 1 ||
			    !isxdigit((unsigned char)arg[2 * i]) ||
			    !isxdigit((unsigned char)arg[2 * i + 1]))
				break;
			o->cert_hash[i] = (uint8_t)v;
		}
		if (i != 32) {
			snprintf(err, errlen, "--cert-hash: give the 64 hex digits of a SHA-256");
			return -1;
		}
		o->has_cert_hash = 1;
		return 1;
	}
	case MOQ_CLI_OPT_TOKEN:
		if (!*arg) {
			snprintf(err, errlen, "--auth-token: the token must not be empty");
			return -1;
		}
		o->token = arg;
		return 1;
	default:
		return 0;
	}
}

int moq_cli_target(struct moq_cli_conn_opts *o, const char *arg, char *host, size_t hostlen,
		   uint16_t *port, char *err, size_t errlen)
{
	if (strncmp(arg, "https://", 8)) {
		o->webtransport = 0;
		return moq_cli_hostport("HOST:PORT", arg, host, hostlen, port, 0, err, errlen);
	}
	const char *a = arg + 8;
	size_t al = strcspn(a, "/?#");
	const char *path = a + al;
	if (!al || al >= sizeof(o->wt_authority) || strlen(path) >= sizeof(o->wt_path) ||
	    strchr(path, '#')) {
		snprintf(err, errlen, "URL '%s': give https://HOST[:PORT][/PATH] (no fragment)",
			 arg);
		return -1;
	}
	memcpy(o->wt_authority, a, al);
	o->wt_authority[al] = 0;
	snprintf(o->wt_path, sizeof(o->wt_path), "%s%s", *path == '/' ? "" : "/", path);
	/* no port: 443 (draft-18 "MOQT URI Scheme") */
	const char *rb = strrchr(o->wt_authority, ']');
	const char *colon = strrchr(o->wt_authority, ':');
	char hp[320];
	if (!colon || (rb && colon < rb))
		snprintf(hp, sizeof(hp), "%s:443", o->wt_authority);
	else
		snprintf(hp, sizeof(hp), "%s", o->wt_authority);
	if (moq_cli_hostport("URL", hp, host, hostlen, port, 0, err, errlen))
		return -1;
	if (!host[0]) {
		snprintf(err, errlen, "URL '%s': the host is missing", arg);
		return -1;
	}
	o->webtransport = 1;
	return 0;
}

void moq_cli_session_target(struct moq_session_config *c, const struct moq_cli_conn_opts *o)
{
	if (!o->webtransport)
		return;
	c->webtransport = 1;
	c->path = o->wt_path;
	c->authority = o->wt_authority;
}

int moq_cli_qlog_dir_check(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode) || access(dir, W_OK)) {
		snprintf(err, errlen, "--qlog-dir: '%s' is not a writable directory", dir);
		return -1;
	}
	return 0;
}

int moq_cli_signalfd(void)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

struct moq_loop *moq_cli_loop_new(const char *prog, int sfd, moq_loop_fd_cb on_signal, void *arg)
{
	struct moq_loop *loop = moq_loop_new();

	if (!loop) {
		fprintf(stderr, "%s: cannot create the event loop: %s\n", prog, strerror(errno));
		return NULL;
	}
	if (sfd >= 0)
		moq_loop_add_fd(loop, sfd, EPOLLIN, on_signal, arg);
	return loop;
}

void moq_cli_quic_config(struct moq_quic_config *q, const struct moq_cli_conn_opts *o)
{
	moq_quic_config_init(q);
	q->plaintext = o->plaintext;
	if (o->alpn)
		q->alpn = o->alpn;
	else if (o->webtransport)
		q->alpn = "h3";
	q->cert_file = o->cert;
	q->key_file = o->key;
	q->ca_file = o->ca;
	q->sni = o->sni;
	q->insecure = o->insecure;
	if (o->has_cert_hash) {
		memcpy(q->cert_sha256, o->cert_hash, sizeof(q->cert_sha256));
		q->has_cert_sha256 = 1;
	}
	q->qlog_dir = o->qlog_dir;
	q->no_pacing = o->no_pacing;
	q->max_data = 64u << 20;
	q->max_stream_data = 16u << 20;
	q->cb = moq_session_quic_callbacks();
}

void moq_cli_session_config(struct moq_session_config *c, struct moq_loop *loop,
			    const struct moq_session_callbacks *cb, void *user,
			    struct moq_auth_token *tok, const char *token)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->cb = cb;
	c->user = user;
	if (token) {
		moq_cli_token(tok, token);
		c->auth_tokens = tok;
		c->num_auth_tokens = 1;
	}
}
