#include "relay_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "quic/loop.h"

struct mclient {
	struct mclient *next;
	struct relay_metrics *m;
	int fd;
	struct moq_timer *timer;
	size_t len;
	char req[RELAY_METRICS_MAX_REQUEST];
	char *resp; /* NULL until the request is complete */
	size_t resp_len, resp_off;
	bool lingering; /* response sent and FIN sent: discard input until EOF */
};

struct relay_metrics {
	struct moq_loop *loop;
	int fd;
	uint16_t port;
	relay_metrics_render_fn render;
	void *arg;
	struct mclient *clients;
	size_t nclients;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void client_free(struct mclient *c)
{
	struct relay_metrics *m = c->m;

	for (struct mclient **pp = &m->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	m->nclients--;
	moq_loop_del_fd(m->loop, c->fd);
	close(c->fd);
	moq_timer_free(c->timer);
	free(c->resp);
	free(c);
}

static void client_timeout(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	client_free(arg);
}

/* Build the full response (status line, headers, body) into c->resp. */
static int respond(struct mclient *c, int status, const char *reason, bool with_body, bool render)
{
	char *body = NULL, *hdr = NULL;
	size_t body_len = 0, hdr_len = 0;
	FILE *f;

	f = open_memstream(&body, &body_len);
	if (!f)
		return -ENOMEM;
	if (render)
		c->m->render(f, c->m->arg);
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
	c->resp = hdr;
	c->resp_len = hdr_len;
	c->resp_off = 0;
	return 0;
}

/* The request line: METHOD SP TARGET SP HTTP/1.x. */
static int handle_request(struct mclient *c)
{
	char *line = c->req, *eol, *sp1, *sp2, *target, *q;
	bool head;

	eol = strpbrk(line, "\r\n");
	if (eol)
		*eol = 0;
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7))
		return respond(c, 400, "Bad Request", true, false);
	*sp1 = 0;
	*sp2 = 0;
	target = sp1 + 1;
	head = !strcmp(line, "HEAD");
	if (strcmp(line, "GET") && !head)
		return respond(c, 405, "Method Not Allowed", true, false);
	q = strchr(target, '?');
	if (q)
		*q = 0;
	if (strcmp(target, "/metrics"))
		return respond(c, 404, "Not Found", !head, false);
	return respond(c, 200, "OK", !head, true);
}

static void client_write(struct mclient *c)
{
	while (c->resp_off < c->resp_len) {
		ssize_t n =
		    send(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* EPOLLOUT brings us back */
			client_free(c);
			return;
		}
		c->resp_off += (size_t)n;
	}
	/* Lingering close: closing with unread input would send a RST that
	 * can destroy the response before the client reads it. Send FIN and
	 * discard whatever still comes until the client closes (or the client
	 * timer fires). */
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	if (moq_loop_mod_fd(c->m->loop, c->fd, EPOLLIN))
		client_free(c);
}

static void client_drain(struct mclient *c)
{
	char sink[1024];

	for (;;) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		client_free(c);
		return;
	}
}

static bool request_complete(const struct mclient *c)
{
	return memmem(c->req, c->len, "\r\n\r\n", 4) || memmem(c->req, c->len, "\n\n", 2);
}

static void client_cb(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct mclient *c = arg;
	int rc;

	(void)loop;
	if (c->lingering) {
		client_drain(c);
		return;
	}
	if (c->resp) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			client_free(c);
			return;
		}
		client_write(c);
		return;
	}
	for (;;) {
		ssize_t n;

		if (c->len >= sizeof(c->req) - 1) {
			rc = respond(c, 431, "Request Header Fields Too Large", true, false);
			break;
		}
		n = recv(fd, c->req + c->len, sizeof(c->req) - 1 - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* error, or the peer closed before a full request */
			client_free(c);
			return;
		}
		c->len += (size_t)n;
		c->req[c->len] = 0;
		if (request_complete(c)) {
			rc = handle_request(c);
			break;
		}
	}
	if (rc) {
		client_free(c);
		return;
	}
	if (moq_loop_mod_fd(c->m->loop, fd, EPOLLOUT)) {
		client_free(c);
		return;
	}
	client_write(c);
}

static void accept_cb(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct relay_metrics *m = arg;

	(void)events;
	for (int i = 0; i < 64; i++) {
		struct mclient *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return; /* EAGAIN, or a transient error: try at the next event */
		if (m->nclients >= RELAY_METRICS_MAX_CLIENTS) {
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->m = m;
		c->fd = cfd;
		c->timer = moq_timer_new(loop, client_timeout, c);
		if (!c->timer || moq_loop_add_fd(loop, cfd, EPOLLIN, client_cb, c)) {
			moq_timer_free(c->timer);
			close(cfd);
			free(c);
			continue;
		}
		moq_timer_set_in(c->timer, RELAY_METRICS_CLIENT_TIMEOUT_MS * 1000000ull);
		c->next = m->clients;
		m->clients = c;
		m->nclients++;
	}
}

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

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc) {
		errf(err, errlen, "metrics address '%s' is not a numeric IPv4/IPv6 address: %s",
		     host, gai_strerror(rc));
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(ai);
		errf(err, errlen, "out of memory");
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
	m->loop = loop;
	m->fd = fd;
	m->render = render;
	m->arg = arg;
	rc = moq_loop_add_fd(loop, fd, EPOLLIN, accept_cb, m);
	if (rc) {
		errno = -rc;
		goto fail_errno;
	}
	freeaddrinfo(ai);
	return m;

fail_errno:
	errf(err, errlen, "metrics listener on %s port %u: %s", host, port, strerror(errno));
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
	return m->nclients;
}

void relay_metrics_stop(struct relay_metrics *m)
{
	if (!m)
		return;
	while (m->clients)
		client_free(m->clients);
	moq_loop_del_fd(m->loop, m->fd);
	close(m->fd);
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
