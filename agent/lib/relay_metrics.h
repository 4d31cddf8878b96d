/* relay_metrics: a minimal HTTP/1.1 server for a Prometheus scrape
 * endpoint, on the daemon's moq_loop.
 *
 * One listening TCP socket; every client is non-blocking and served in one
 * exchange: read one request (at most RELAY_METRICS_MAX_REQUEST bytes of
 * request line + headers; no body), answer, close. `GET /metrics` (a query
 * string is ignored) is answered 200 with whatever the render callback
 * writes, as Prometheus text exposition format 0.0.4; any other path 404,
 * any other method 405, an oversized request 431, a malformed one 400.
 * At most RELAY_METRICS_MAX_CLIENTS clients at once (more are accepted and
 * closed at once) and each one has RELAY_METRICS_CLIENT_TIMEOUT_MS to
 * finish, so a slow or hostile scraper cannot hold memory or sockets. The
 * connections are relay_listener's (shared with the control socket).
 *
 * The helpers below print families and samples with HELP/TYPE lines and
 * label values escaped as the format requires (backslash, double quote and
 * newline in label values; backslash and newline in HELP text). */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RELAY_METRICS_MAX_REQUEST 4096
#define RELAY_METRICS_MAX_CLIENTS 8
#define RELAY_METRICS_CLIENT_TIMEOUT_MS 5000
#define RELAY_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct moq_loop;
struct relay_metrics;

/* Writes the whole exposition to out (called once per GET /metrics). */
typedef void (*relay_metrics_render_fn)(FILE *out, void *arg);

/* Listen on host:port (numeric IPv4 or IPv6 address; port 0 = any free
 * port) and serve on loop. NULL with a message in err. */
struct relay_metrics *relay_metrics_start(struct moq_loop *loop, const char *host, uint16_t port,
					  relay_metrics_render_fn render, void *arg, char *err,
					  size_t errlen);
/* The bound port (useful with port 0). */
uint16_t relay_metrics_port(const struct relay_metrics *m);
/* Clients being served right now. */
size_t relay_metrics_clients(const struct relay_metrics *m);
/* Close the listener and every client. NULL is a no-op. */
void relay_metrics_stop(struct relay_metrics *m);

/* ---- exposition helpers ---------------------------------------------- */

/* "# HELP name help\n# TYPE name type\n" (type: counter, gauge, untyped). */
void relay_metrics_family(FILE *out, const char *name, const char *type, const char *help);
/* One sample line. labels: NULL, or alternating name, value strings ended by
 * a NULL name, e.g. (const char *[]){ "path", "kernel", NULL }. Values are
 * escaped; names must already be valid ([a-zA-Z_][a-zA-Z0-9_]*). */
void relay_metrics_u64(FILE *out, const char *name, const char *const *labels, uint64_t v);
void relay_metrics_i64(FILE *out, const char *name, const char *const *labels, int64_t v);
void relay_metrics_double(FILE *out, const char *name, const char *const *labels, double v);
/* Escaped forms, for tests and callers that build lines themselves. */
void relay_metrics_put_label_value(FILE *out, const char *v);
void relay_metrics_put_help(FILE *out, const char *help);

#endif
