#include "relay_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay_err.h"
#include "relay_listener.h"

struct relay_metrics {
	struct relay_listener *listener;
	uint16_t port;
	relay_metrics_render_fn render;
	void *arg;
};

/* Build the full response (status line, headers, body) into *out. */
static int respond(struct relay_metrics *m, char **out, size_t *outlen, int status,
		   const char *reason, bool with_body, bool render)
{
	char *body = NULL, *hdr = NULL;
	size_t body_len = 0, hdr_len = 0;
	FILE *f;

	f = open_memstream(&body, &body_len);
	if (!f)
		return -ENOMEM;
	if (render)
		m->render(f, m->arg);
	else
		fprintf(f, "%d %s\n", status, reason);
	if (fclose(f)) {
		free(body);
		return -ENOMEM;
	}
	f = open_memstream(&hdr, &hdr_len);
	if (!f) {
		free(body);
		return -ENOMEM;
	}
	fprintf(f,
		"HTTP/1.1 %d %s\r\n"
		"Content-Type: %s\r\n"
		"Content-Length: %zu\r\n"
		"Cache-Control: no-store\r\n"
		"Connection: close\r\n",
		status, reason, render ? RELAY_METRICS_CONTENT_TYPE : "text/plain; charset=utf-8",
		body_len);
	if (status == 405)
		fputs("Allow: GET, HEAD\r\n", f);
	fputs("\r\n", f);
	if (with_body)
		fwrite(body, 1, body_len, f);
	free(body);
	if (fclose(f)) {
		free(hdr);
		return -ENOMEM;
	}
	*out = hdr;
	*outlen = hdr_len;
	return 0;
}

/* The request line: METHOD SP TARGET SP HTTP/1.x. */
static int handle_request(struct relay_metrics *m, char *line, char **out, size_t *outlen)
{
	char *eol, *sp1, *sp2, *target, *q;
	bool head;

	eol = strpbrk(line, "\r\n");
	if (eol)
		*eol = 0;
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7))
		return respond(m, out, outlen, 400, "Bad Request", true, false);
	*sp1 = 0;
	*sp2 = 0;
	target = sp1 + 1;
	head = !strcmp(line, "HEAD");
	if (strcmp(line, "GET") && !head)
		return respond(m, out, outlen, 405, "Method Not Allowed", true, false);
	q = strchr(target, '?');
	if (q)
		*q = 0;
	if (strcmp(target, "/metrics"))
		return respond(m, out, outlen, 404, "Not Found", !head, false);
	return respond(m, out, outlen, 200, "OK", !head, true);
}

/* Request line and headers end at an empty line. */
static long metrics_complete(const char *req, size_t len, size_t fresh, void *arg)
{
	(void)fresh;
	(void)arg;
	if (memmem(req, len, "\r\n\r\n", 4) || memmem(req, len, "\n\n", 2))
		return (long)len;
	return -1;
}

static int metrics_answer(enum relay_listener_event ev, char *req, size_t len, char **out,
			  size_t *outlen, void *arg)
{
	struct relay_metrics *m = arg;

	(void)len;
	switch (ev) {
	case RELAY_LISTENER_REQUEST:
		return handle_request(m, req, out, outlen) ? -1 : 0;
	case RELAY_LISTENER_TOO_LONG:
		return respond(m, out, outlen, 431, "Request Header Fields Too Large", true, false)
			   ? -1
			   : 0;
	case RELAY_LISTENER_EOF: /* closed before a full request */
	case RELAY_LISTENER_TIMEOUT:
		break;
	}
	return -1;
}

static const struct relay_listener_ops metrics_ops = {
    .complete = metrics_complete,
    .answer = metrics_answer,
};

struct relay_metrics *relay_metrics_start(struct moq_loop *loop, const char *host, uint16_t port,
					  relay_metrics_render_fn render, void *arg, char *err,
					  size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct relay_metrics *m;
	char portstr[8];
	int fd = -1, one = 1, rc;
	struct relay_listener_config lcfg = {
	    .ops = &metrics_ops,
	    .max_request = RELAY_METRICS_MAX_REQUEST - 1,
	    .max_clients = RELAY_METRICS_MAX_CLIENTS,
	    .accept_batch = 64,
	    .timeout_ms = RELAY_METRICS_CLIENT_TIMEOUT_MS,
	};

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc) {
		relay_errf(err, errlen,
			   "metrics address '%s' is not a numeric IPv4/IPv6 address: %s", host,
			   gai_strerror(rc));
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(ai);
		relay_errf(err, errlen, "out of memory");
		return NULL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6) {
		int zero = 0; /* "::" also takes IPv4 scrapers */

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16))
		goto fail_errno;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		goto fail_errno;
	m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	m->render = render;
	m->arg = arg;
	lcfg.arg = m;
	m->listener = relay_listener_new(loop, fd, &lcfg, &rc);
	fd = -1; /* the listener's now, closed on failure too */
	if (!m->listener) {
		errno = -rc;
		goto fail_errno;
	}
	freeaddrinfo(ai);
	return m;

fail_errno:
	relay_errf(err, errlen, "metrics listener on %s port %u: %s", host, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	free(m);
	return NULL;
}

uint16_t relay_metrics_port(const struct relay_metrics *m)
{
	return m->port;
}

size_t relay_metrics_clients(const struct relay_metrics *m)
{
	return relay_listener_clients(m->listener);
}

void relay_metrics_stop(struct relay_metrics *m)
{
	if (!m)
		return;
	relay_listener_free(m->listener); /* clients and the socket */
	free(m);
}

/* ---- exposition helpers ---------------------------------------------- */

void relay_metrics_put_label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '\\':
			fputs("\\\\", out);
			break;
		case '"':
			fputs("\\\"", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		default:
			fputc(*v, out);
		}
	}
}

void relay_metrics_put_help(FILE *out, const char *help)
{
	for (; *help; help++) {
		if (*help == '\\')
			fputs("\\\\", out);
		else if (*help == '\n')
			fputs("\\n", out);
		else
			fputc(*help, out);
	}
}

void relay_metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s ", name);
	relay_metrics_put_help(out, help);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

static void put_name_labels(FILE *out, const char *name, const char *const *labels)
{
	fputs(name, out);
	if (!labels || !labels[0])
		return;
	fputc('{', out);
	for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
		if (i)
			fputc(',', out);
		fprintf(out, "%s=\"", labels[i]);
		relay_metrics_put_label_value(out, labels[i + 1]);
		fputc('"', out);
	}
	fputc('}', out);
}

void relay_metrics_u64(FILE *out, const char *name, const char *const *labels, uint64_t v)
{
	put_name_labels(out, name, labels);
	fprintf(out, " %llu\n", (unsigned long long)v);
}

void relay_metrics_i64(FILE *out, const char *name, const char *const *labels, int64_t v)
{
	put_name_labels(out, name, labels);
	fprintf(out, " %lld\n", (long long)v);
}

void relay_metrics_double(FILE *out, const char *name, const char *const *labels, double v)
{
	put_name_labels(out, name, labels);
	if (isnan(v))
		fputs(" NaN\n", out);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", out);
	else
		fprintf(out, " %.17g\n", v);
}
