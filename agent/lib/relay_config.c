#include "relay_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "relay_err.h"
#include "uri.h"

enum opt_kind {
	K_STR,
	K_BOOL,
	K_SIZE,
	K_UINT,
	K_MS, /* seconds (decimal allowed) stored in ms */
	K_LOGLEVEL,
	K_LOGFORMAT,
	K_LISTEN,
	K_FASTPATH,
	K_UPSTREAM,
	K_CTLSOCK,
	K_CONFIG,
	K_HELP,
	K_VERSION,
};

struct opt {
	const char *name;
	const char *arg; /* NULL: flag */
	enum opt_kind kind;
	size_t off;
	size_t size;
	const char *help;
};

#define F(field) offsetof(struct relay_config, field), sizeof(((struct relay_config *)0)->field)

static const struct opt opts[] = {
    {"listen", "HOST:PORT", K_LISTEN, 0, 0,
     "address to accept publishers and subscribers on [[::]:4443];\n"
     "IPv6 addresses in brackets"},
    {"plaintext", NULL, K_BOOL, F(plaintext),
     "QUIC plaintext profile (null packet protection) instead of TLS;\n"
     "peers and --upstream must use it too (docs/plaintext-profile.md)"},
    {"cert", "FILE", K_STR, F(cert), "TLS certificate chain (PEM); required without --plaintext"},
    {"key", "FILE", K_STR, F(key), "TLS private key (PEM); required without --plaintext"},
    {"dev-cert", "DIR", K_STR, F(dev_cert),
     "development only, instead of --cert/--key: make a self-signed\n"
     "ECDSA P-256 certificate valid 13 days in DIR (cert.pem, key.pem,\n"
     "cert.sha256) and log its SHA-256 for browsers'\n"
     "serverCertificateHashes (docs/webtransport.md)"},
    {"upstream", "URL", K_UPSTREAM, F(upstream),
     "relay to subscribe through for tracks not published here:\n"
     "moqt://HOST:PORT[/PATH] or HOST:PORT (same TLS/plaintext mode),\n"
     "or https://HOST:PORT[/PATH] (WebTransport; TLS)"},
    {"upstream-ca", "FILE", K_STR, F(upstream_ca),
     "CA (PEM) to verify the upstream relay's certificate"},
    {"upstream-insecure", NULL, K_BOOL, F(upstream_insecure),
     "do not verify the upstream relay's certificate"},
    {"cache-groups", "N", K_UINT, F(cache_groups), "groups cached per track [8] (>= 1)"},
    {"cache-bytes", "SIZE", K_SIZE, F(cache_bytes),
     "cached bytes per track [64M] (k/M/G suffixes; 0 = no byte bound)"},
    {"sub-queue-bytes", "SIZE", K_SIZE, F(sub_queue_bytes),
     "unacknowledged bytes buffered per subscriber before its oldest,\n"
     "lowest-priority subgroup streams are reset [4M] (>= 64k)"},
    {"max-sessions", "N", K_UINT, F(max_sessions),
     "downstream sessions at once [1000] (counted once their QUIC\n"
     "handshake completes); one more is refused with CONNECTION_REFUSED (0x2)"},
    {"max-handshakes", "N", K_UINT, F(max_handshakes),
     "downstream QUIC handshakes in progress [100]; at the cap a new\n"
     "client replaces the oldest unvalidated one; TLS: from half the cap\n"
     "on, new clients get a Retry (address validation) first"},
    {"max-subscriptions", "N", K_UINT, F(max_subscriptions),
     "subscriptions per session [100]; beyond: REQUEST_ERROR\n"
     "EXCESSIVE_LOAD (0x9)"},
    {"max-tracks", "N", K_UINT, F(max_tracks),
     "tracks the relay carries at once [1000]; a request for one more\n"
     "gets REQUEST_ERROR EXCESSIVE_LOAD (0x9)"},
    {"max-name-bytes", "N", K_UINT, F(max_name_bytes),
     "longest Full Track Name accepted, 1..4096 [4096]; longer names\n"
     "get DOES_NOT_EXIST (0x10) or, from publishers, UNINTERESTED (0x20)"},
    {"max-namespace-fields", "N", K_UINT, F(max_namespace_fields),
     "most Track Namespace fields accepted, 1..32 [32]; same codes"},
    {"max-request-rate", "N", K_UINT, F(max_request_rate),
     "new requests per second per session (burst N) [100]; beyond:\n"
     "REQUEST_ERROR EXCESSIVE_LOAD with a Retry Interval (0 = no limit)"},
    {"max-rendezvous", "N", K_UINT, F(max_rendezvous),
     "SUBSCRIBEs with RENDEZVOUS_TIMEOUT held at once waiting for a\n"
     "publisher [1000]; beyond: DOES_NOT_EXIST (0x10) at once"},
    {"max-rendezvous-wait", "SECONDS", K_MS, F(max_rendezvous_wait_ms),
     "longest a SUBSCRIBE is held for its publisher, whatever its\n"
     "RENDEZVOUS_TIMEOUT asks [10] (0 = never hold); then TIMEOUT (0x2)"},
    {"log-level", "LEVEL", K_LOGLEVEL, F(log_level), "error, warn, info or debug [warn]"},
    {"log-format", "text|json", K_LOGFORMAT, F(log_format),
     "stderr lines as text, or one JSON object per line; both carry\n"
     "session=, peer= and track= where known [text]"},
    {"qlog-dir", "DIR", K_STR, F(qlog_dir),
     "write a qlog file per QUIC connection into DIR\n"
     "(<role>-<odcid>.sqlog; diagnostics, not for production) [off]"},
    {"auth-token", "TOKEN", K_STR, F(auth_token),
     "AUTHORIZATION TOKEN (in SETUP or a request) that authorizes both\n"
     "publishing and subscribing; a peer without a token for any role\n"
     "is closed with UNAUTHORIZED. Sent to --upstream"},
    {"auth-token-file", "FILE", K_STR, F(auth_token_file),
     "read the token from FILE (first line) instead"},
    {"publish-token", "TOKEN", K_STR, F(publish_token),
     "token that authorizes PUBLISH_NAMESPACE and PUBLISH only;\n"
     "with it or --auth-token set, publishing needs one of them"},
    {"publish-token-file", "FILE", K_STR, F(publish_token_file),
     "read the publish token from FILE (first line) instead"},
    {"subscribe-token", "TOKEN", K_STR, F(subscribe_token),
     "token that authorizes SUBSCRIBE, FETCH and TRACK_STATUS only;\n"
     "with it or --auth-token set, subscribing needs one of them.\n"
     "Sent to --upstream when --auth-token is not set"},
    {"subscribe-token-file", "FILE", K_STR, F(subscribe_token_file),
     "read the subscribe token from FILE (first line) instead"},
    {"stats-interval", "SECONDS", K_MS, F(stats_interval_ms),
     "print a stats line to stderr every SECONDS [10] (0 = never)"},
    {"metrics-listen", "HOST:PORT", K_STR, F(metrics_listen),
     "serve Prometheus metrics at http://HOST:PORT/metrics [off];\n"
     "IPv6 addresses in brackets"},
    {"drain-timeout", "SECONDS", K_MS, F(drain_timeout_ms),
     "on SIGTERM: GOAWAY, then close sessions after at most SECONDS [5]"},
    {"idle-timeout", "SECONDS", K_MS, F(idle_timeout_ms), "QUIC idle timeout [30]"},
    {"fast-path", "off|on", K_FASTPATH, F(fast_path),
     "forward media in the kernel with the tc BPF programs (needs the\n"
     "programs attached; TLS subscribers negotiating AES-128-GCM are\n"
     "sealed in the kernel, others served in userspace;\n"
     "docs/fast-path-agent.md, docs/fast-path-tls.md) [off]"},
    {"bpf-pin-dir", "DIR", K_STR, F(bpf_pin_dir),
     "where tc pinned the fast-path maps [/sys/fs/bpf/tc/globals]"},
    {"heartbeat-timeout", "SECONDS", K_MS, F(heartbeat_timeout_ms),
     "the programs stop forwarding when the agent is silent this long [0.5]"},
    {"fast-path-stream-bytes", "SIZE", K_SIZE, F(fp_stream_bytes),
     "upstream stream bytes the fast path keeps per stream for gap\n"
     "fills and retransmissions [4M] (>= 64k); a subscriber needing\n"
     "older ones gets that stream reset with TOO_FAR_BEHIND (0x5)"},
    {"fast-path-raw-bytes", "SIZE", K_SIZE, F(fp_raw_bytes),
     "upstream stream bytes the fast path keeps in total [64M]\n"
     "(>= --fast-path-stream-bytes); beyond, the oldest are evicted"},
    {"fast-path-tick", "SECONDS", K_MS, F(fp_tick_ms),
     "fast-path service period while subscribers are on the fast path:\n"
     "sent logs, delivery timeouts, gate refills in one batch [0.02]\n"
     "(0.001 to 0.02)"},
    {"fast-path-no-ack-ping", NULL, K_BOOL, F(fp_no_ack_ping),
     "let the subscribers' ACK + PING packets reach ngtcp2 instead of\n"
     "consuming them in the kernel (docs/fast-path-agent.md) [consumed]"},
    {"fast-path-no-tls-acks", NULL, K_BOOL, F(fp_no_tls_acks),
     "TLS relay: do not give the kernel the subscribers' rx keys, so their\n"
     "media ACKs reach the agent instead of being opened and consumed in\n"
     "the kernel (docs/fast-path-tls.md) [consumed]"},
    {"max-ack-delay", "SECONDS", K_MS, F(max_ack_delay_ms),
     "max_ack_delay the relay advertises to its clients (RFC 9000 18.2):\n"
     "it acknowledges their ack-eliciting packets within it [0.1 with\n"
     "--fast-path on and ACK + PING consumed: one ACK answers several\n"
     "of a subscriber's PINGs; 0.025 otherwise] (0.001 to 16)"},
    {"ctl-socket", "PATH|none", K_CTLSOCK, F(ctl_socket),
     "control socket for moq-relayctl [/run/moq-relayd.sock] (mode\n"
     "0660; docs/relayctl.md); 'none' disables it. An explicit PATH\n"
     "that cannot be created stops the start; the default only warns"},
    {"config", "FILE", K_CONFIG, F(config_file),
     "read `key = value` lines (keys = long option names) first;\n"
     "the command line overrides them; SIGHUP re-reads the file"},
    {"help", NULL, K_HELP, F(help), "show this help"},
    {"version", NULL, K_VERSION, F(version), "show the version"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* the short name for this file's many messages */
#define errf relay_errf

void relay_config_defaults(struct relay_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen_host, "::");
	c->listen_port = 4443;
	c->cache_groups = 8;
	c->cache_bytes = 64ull << 20;
	c->sub_queue_bytes = 4ull << 20;
	c->max_sessions = 1000;
	c->max_handshakes = 100;
	c->max_subscriptions = 100;
	c->max_tracks = 1000;
	c->max_name_bytes = 4096;
	c->max_namespace_fields = 32;
	c->max_request_rate = 100;
	c->max_rendezvous = 1000;
	c->max_rendezvous_wait_ms = 10000;
	c->log_level = MOQ_LOG_WARN;
	c->log_format = MOQ_LOG_FORMAT_TEXT;
	c->stats_interval_ms = 10000;
	c->drain_timeout_ms = 5000;
	c->idle_timeout_ms = 30000;
	strcpy(c->bpf_pin_dir, "/sys/fs/bpf/tc/globals");
	c->heartbeat_timeout_ms = 500;
	c->fp_stream_bytes = 4ull << 20;
	c->fp_raw_bytes = 64ull << 20;
	c->fp_tick_ms = 20;
	strcpy(c->ctl_socket, "/run/moq-relayd.sock");
}

int relay_config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		switch (tolower((unsigned char)*end)) {
		case 'k':
			mul = 1ull << 10;
			break;
		case 'm':
			mul = 1ull << 20;
			break;
		case 'g':
			mul = 1ull << 30;
			break;
		default:
			return -1;
		}
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!v || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
	    !strcasecmp(v, "off")) {
		*out = false;
		return 0;
	}
	return -1;
}

int relay_config_parse_url(const char *url, char *host, size_t hostlen, uint16_t *port, char *path,
			   size_t pathlen)
{
	const char *p = url, *hs, *he, *ps;
	char *end;
	unsigned long v;

	if (!strncmp(p, "moqt://", 7))
		p += 7;
	else if (strstr(p, "://"))
		return -1;
	if (*p == '[') {
		hs = p + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return -1;
		ps = he + 2;
	} else {
		hs = p;
		he = strchr(hs, ':');
		if (!he)
			return -1;
		ps = he + 1;
	}
	if (he == hs || (size_t)(he - hs) >= hostlen)
		return -1;
	if (!isdigit((unsigned char)*ps))
		return -1;
	errno = 0;
	v = strtoul(ps, &end, 10);
	if (errno || v == 0 || v > 65535 || (*end && *end != '/'))
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = 0;
	*port = (uint16_t)v;
	if (path && pathlen) {
		/* the upstream closes a session whose PATH is not RFC 3986 */
		if (strlen(end) >= pathlen ||
		    !moq_uri_path_valid((const uint8_t *)end, strlen(end)))
			return -1;
		strcpy(path, end);
	}
	return 0;
}

static const struct opt *find_opt(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].name, name))
			return &opts[i];
	return NULL;
}

int relay_config_set(struct relay_config *c, const char *name, const char *value, char *err,
		     size_t errlen)
{
	const struct opt *o = find_opt(name);
	char *field;
	uint64_t u;
	char *end;

	if (!o) {
		errf(err, errlen, "unknown option '%s' (see --help)", name);
		return -1;
	}
	field = (char *)c + o->off;
	if (o->arg && !value) {
		errf(err, errlen, "--%s needs a value (%s)", name, o->arg);
		return -1;
	}
	switch (o->kind) {
	case K_STR:
	case K_CONFIG:
		if (strlen(value) >= o->size) {
			errf(err, errlen, "--%s: value too long (max %zu bytes)", name,
			     o->size - 1);
			return -1;
		}
		strcpy(field, value);
		return 0;
	case K_BOOL:
	case K_HELP:
	case K_VERSION:
		if (parse_bool(value, (bool *)field)) {
			errf(err, errlen, "--%s: '%s' is not a boolean (use true or false)", name,
			     value);
			return -1;
		}
		return 0;
	case K_SIZE:
		if (relay_config_parse_size(value, &u)) {
			errf(err, errlen, "--%s: '%s' is not a size (e.g. 65536, 64k, 16M, 1G)",
			     name, value);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case K_UINT:
		errno = 0;
		u = strtoull(value, &end, 10);
		if (errno || !*value || *end || *value == '-') {
			errf(err, errlen, "--%s: '%s' is not a whole number", name, value);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case K_MS: {
		double d;

		errno = 0;
		d = strtod(value, &end);
		if (errno || !*value || *end || d < 0 || d > 1e9) {
			errf(err, errlen, "--%s: '%s' is not a number of seconds (e.g. 5 or 0.5)",
			     name, value);
			return -1;
		}
		*(uint64_t *)field = (uint64_t)(d * 1000.0 + 0.5);
		return 0;
	}
	case K_LOGLEVEL: {
		int l = moq_log_parse_level(value);

		if (l < 0) {
			errf(err, errlen,
			     "--log-level: '%s' is not one of error, warn, info, debug", value);
			return -1;
		}
		*(int *)field = l;
		return 0;
	}
	case K_LOGFORMAT: {
		int f = moq_log_parse_format(value);

		if (f < 0) {
			errf(err, errlen, "--log-format: '%s' is not text or json", value);
			return -1;
		}
		*(int *)field = f;
		return 0;
	}
	case K_LISTEN: {
		char host[256];
		uint16_t port;

		if (relay_config_parse_url(value, host, sizeof(host), &port, NULL, 0) ||
		    strchr(value, '/')) {
			errf(err, errlen,
			     "--listen: '%s' is not HOST:PORT (e.g. 0.0.0.0:4443 or [::]:4443)",
			     value);
			return -1;
		}
		strcpy(c->listen_host, host);
		c->listen_port = port;
		return 0;
	}
	case K_FASTPATH:
		if (!strcmp(value, "off")) {
			c->fast_path = false;
		} else if (!strcmp(value, "on")) {
			c->fast_path = true;
		} else {
			errf(err, errlen, "--fast-path: '%s' is not off or on", value);
			return -1;
		}
		return 0;
	case K_CTLSOCK:
		if (!*value || strlen(value) >= o->size) {
			errf(err, errlen,
			     "--ctl-socket: '%s' is not a path of 1 to %zu bytes (unix socket "
			     "limit) or 'none'",
			     value, o->size - 1);
			return -1;
		}
		strcpy(field, strcmp(value, "none") ? value : "");
		c->ctl_socket_explicit = true;
		return 0;
	case K_UPSTREAM:
		if (!*value) {
			c->upstream[0] = 0;
			c->upstream_wt = false;
			return 0;
		}
		/* https://HOST:PORT[/PATH]: the same over WebTransport
		 * (docs/webtransport.md) */
		char url[RELAY_CONFIG_STR_MAX + 8];
		bool wt = !strncmp(value, "https://", 8);
		snprintf(url, sizeof(url), "%s%s", wt ? "moqt://" : "", wt ? value + 8 : value);
		if (strlen(value) >= sizeof(c->upstream) ||
		    relay_config_parse_url(url, c->upstream_host, sizeof(c->upstream_host),
					   &c->upstream_port, c->upstream_path,
					   sizeof(c->upstream_path))) {
			errf(err, errlen,
			     "--upstream: '%s' is not moqt://HOST:PORT[/PATH], HOST:PORT or "
			     "https://HOST:PORT[/PATH]",
			     value);
			return -1;
		}
		strcpy(c->upstream, value);
		c->upstream_wt = wt;
		return 0;
	}
	return -1;
}

int relay_config_load_text(struct relay_config *c, const char *text, const char *origin, char *err,
			   size_t errlen)
{
	const char *p = text;
	int lineno = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024], *k, *v, *eq, *e;
		char sub[512];

		lineno++;
		if (len >= sizeof(line)) {
			errf(err, errlen, "%s:%d: line too long", origin, lineno);
			return -1;
		}
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (eol ? 1 : 0);
		if ((e = strchr(line, '#')))
			*e = 0;
		k = line;
		while (isspace((unsigned char)*k))
			k++;
		e = k + strlen(k);
		while (e > k && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			errf(err, errlen, "%s:%d: expected `key = value`, got '%s'", origin, lineno,
			     k);
			return -1;
		}
		v = eq + 1;
		e = eq;
		while (e > k && isspace((unsigned char)e[-1]))
			e--;
		*e = 0;
		while (isspace((unsigned char)*v))
			v++;
		const struct opt *o = find_opt(k);

		if (!o || o->kind == K_CONFIG || o->kind == K_HELP || o->kind == K_VERSION) {
			errf(err, errlen,
			     "%s:%d: unknown key '%s' (keys are the long option names of "
			     "moq-relayd --help)",
			     origin, lineno, k);
			return -1;
		}
		if (relay_config_set(c, k, v, sub, sizeof(sub))) {
			errf(err, errlen, "%s:%d: %s", origin, lineno, sub);
			return -1;
		}
	}
	return 0;
}

int relay_config_load_file(struct relay_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;
	int rc;

	if (!f) {
		errf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) || fseek(f, 0, SEEK_SET)) {
		errf(err, errlen, "config file %s: unreadable or over 1 MiB", path);
		fclose(f);
		return -1;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		errf(err, errlen, "cannot read config file %s", path);
		free(buf);
		fclose(f);
		return -1;
	}
	buf[n] = 0;
	fclose(f);
	rc = relay_config_load_text(c, buf, path, err, errlen);
	free(buf);
	return rc;
}

/* opt: the file option's name; file: its value; token: where to put it */
static int read_token_file(const char *opt, const char *file, char *token, char *err, size_t errlen)
{
	FILE *f = fopen(file, "r");
	char line[RELAY_CONFIG_STR_MAX];
	size_t n;

	if (!f) {
		errf(err, errlen, "--%s: cannot read %s: %s", opt, file, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	if (!n) {
		errf(err, errlen, "--%s: %s is empty (put the token on its first line)", opt, file);
		return -1;
	}
	strcpy(token, line);
	return 0;
}

/* TOKEN / TOKEN-file pairs: one of each, the file read into the token */
static int check_token_pair(const char *opt, char *token, const char *file, char *err,
			    size_t errlen)
{
	char fopt[64];

	snprintf(fopt, sizeof(fopt), "%s-file", opt);
	if (token[0] && file[0]) {
		errf(err, errlen, "give --%s or --%s, not both", opt, fopt);
		return -1;
	}
	if (file[0] && read_token_file(fopt, file, token, err, errlen))
		return -1;
	return 0;
}

uint64_t relay_config_max_ack_delay(const struct relay_config *c)
{
	if (c->max_ack_delay_ms)
		return c->max_ack_delay_ms;
	return c->fast_path && !c->fp_no_ack_ping ? RELAY_FP_MAX_ACK_DELAY_MS : 0;
}

int relay_config_check(struct relay_config *c, char *err, size_t errlen)
{
	if (c->fast_path && c->heartbeat_timeout_ms < 10) {
		errf(err, errlen, "--heartbeat-timeout: at least 0.01 seconds");
		return -1;
	}
	if (c->max_ack_delay_ms > 16383) {
		errf(err, errlen, "--max-ack-delay: at most 16.383 seconds (RFC 9000 18.2)");
		return -1;
	}
	if (c->fp_tick_ms < 1 || c->fp_tick_ms > 20) {
		errf(err, errlen, "--fast-path-tick: 0.001 to 0.02 seconds (got %llu ms)",
		     (unsigned long long)c->fp_tick_ms);
		return -1;
	}
	if (c->fp_stream_bytes < (64u << 10)) {
		errf(err, errlen, "--fast-path-stream-bytes must be at least 64k (got %llu)",
		     (unsigned long long)c->fp_stream_bytes);
		return -1;
	}
	if (c->fp_raw_bytes < c->fp_stream_bytes) {
		errf(
		    err, errlen,
		    "--fast-path-raw-bytes (%llu) must be at least --fast-path-stream-bytes (%llu)",
		    (unsigned long long)c->fp_raw_bytes, (unsigned long long)c->fp_stream_bytes);
		return -1;
	}
	if (c->upstream_wt && c->plaintext) {
		errf(err, errlen, "--upstream https:// is WebTransport over TLS; drop --plaintext");
		return -1;
	}
	if (c->dev_cert[0] && (c->plaintext || c->cert[0] || c->key[0])) {
		errf(err, errlen, "--dev-cert replaces --cert/--key and needs TLS; drop %s",
		     c->plaintext ? "--plaintext" : "--cert/--key");
		return -1;
	}
	if (!c->plaintext && !c->dev_cert[0] && (!c->cert[0] || !c->key[0])) {
		errf(err, errlen,
		     "TLS needs --cert FILE and --key FILE (or use --plaintext on trusted links)");
		return -1;
	}
	if (c->plaintext && (c->cert[0] || c->key[0])) {
		errf(err, errlen, "--cert/--key are for TLS; drop them or drop --plaintext");
		return -1;
	}
	if (c->cache_groups < 1 || c->cache_groups > 100000) {
		errf(err, errlen, "--cache-groups must be 1..100000 (got %llu)",
		     (unsigned long long)c->cache_groups);
		return -1;
	}
	if (c->sub_queue_bytes < (64u << 10)) {
		errf(err, errlen, "--sub-queue-bytes must be at least 64k (got %llu)",
		     (unsigned long long)c->sub_queue_bytes);
		return -1;
	}
	if (c->max_sessions < 1 || c->max_sessions > 1000000) {
		errf(err, errlen, "--max-sessions must be 1..1000000 (got %llu)",
		     (unsigned long long)c->max_sessions);
		return -1;
	}
	if (c->max_handshakes < 1 || c->max_handshakes > 1000000) {
		errf(err, errlen, "--max-handshakes must be 1..1000000 (got %llu)",
		     (unsigned long long)c->max_handshakes);
		return -1;
	}
	if (c->max_subscriptions < 1 || c->max_subscriptions > 1000000) {
		errf(err, errlen, "--max-subscriptions must be 1..1000000 (got %llu)",
		     (unsigned long long)c->max_subscriptions);
		return -1;
	}
	if (c->max_tracks < 1 || c->max_tracks > 1000000) {
		errf(err, errlen, "--max-tracks must be 1..1000000 (got %llu)",
		     (unsigned long long)c->max_tracks);
		return -1;
	}
	if (c->max_name_bytes < 1 || c->max_name_bytes > 4096) {
		errf(err, errlen,
		     "--max-name-bytes must be 1..4096 (the draft's Full Track Name limit; got "
		     "%llu)",
		     (unsigned long long)c->max_name_bytes);
		return -1;
	}
	if (c->max_namespace_fields < 1 || c->max_namespace_fields > 32) {
		errf(err, errlen,
		     "--max-namespace-fields must be 1..32 (the draft's limit; got %llu)",
		     (unsigned long long)c->max_namespace_fields);
		return -1;
	}
	if (c->max_request_rate > 1000000) {
		errf(err, errlen, "--max-request-rate must be 0..1000000 (got %llu)",
		     (unsigned long long)c->max_request_rate);
		return -1;
	}
	if (c->max_rendezvous > 1000000) {
		errf(err, errlen, "--max-rendezvous must be 0..1000000 (got %llu)",
		     (unsigned long long)c->max_rendezvous);
		return -1;
	}
	if (c->max_rendezvous_wait_ms > 3600000) {
		errf(err, errlen, "--max-rendezvous-wait must be 0..3600 seconds (got %.3f)",
		     (double)c->max_rendezvous_wait_ms / 1000.0);
		return -1;
	}
	if (check_token_pair("auth-token", c->auth_token, c->auth_token_file, err, errlen) ||
	    check_token_pair("publish-token", c->publish_token, c->publish_token_file, err,
			     errlen) ||
	    check_token_pair("subscribe-token", c->subscribe_token, c->subscribe_token_file, err,
			     errlen))
		return -1;
	if (c->idle_timeout_ms < 1000) {
		errf(err, errlen, "--idle-timeout must be at least 1 second");
		return -1;
	}
	if (c->qlog_dir[0]) {
		struct stat st;

		if (stat(c->qlog_dir, &st) || !S_ISDIR(st.st_mode) || access(c->qlog_dir, W_OK)) {
			errf(err, errlen,
			     "--qlog-dir: '%s' is not a writable directory (create it first)",
			     c->qlog_dir);
			return -1;
		}
	}
	if (c->metrics_listen[0]) {
		char h[256];
		uint16_t port;

		if (relay_config_parse_url(c->metrics_listen, h, sizeof(h), &port, NULL, 0) ||
		    strchr(c->metrics_listen, '/')) {
			errf(err, errlen,
			     "--metrics-listen: '%s' is not HOST:PORT (e.g. 127.0.0.1:9464 or "
			     "[::1]:9464)",
			     c->metrics_listen);
			return -1;
		}
	}
	return 0;
}

int relay_config_parse(struct relay_config *c, int argc, char **argv, char *err, size_t errlen)
{
	relay_config_defaults(c);
	/* pass 1: --config (and --help) */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			c->help = true;
			return 0;
		}
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			if (relay_config_set(c, "config", argv[i + 1], err, errlen))
				return -1;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			if (relay_config_set(c, "config", argv[i] + 9, err, errlen))
				return -1;
		}
	}
	if (c->config_file[0] && relay_config_load_file(c, c->config_file, err, errlen))
		return -1;
	/* pass 2: everything, overriding the file */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		char name[64];
		const struct opt *o;
		const char *eq;

		if (strncmp(a, "--", 2)) {
			errf(err, errlen,
			     "unexpected argument '%s' (options start with --; see --help)", a);
			return -1;
		}
		a += 2;
		eq = strchr(a, '=');
		if (eq) {
			if ((size_t)(eq - a) >= sizeof(name)) {
				errf(err, errlen, "unknown option '--%s'", a);
				return -1;
			}
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = 0;
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
		}
		o = find_opt(name);
		if (!o) {
			errf(err, errlen, "unknown option '--%s' (see --help)", name);
			return -1;
		}
		if (o->arg && !val) {
			if (i + 1 >= argc) {
				errf(err, errlen, "--%s needs a value (%s)", name, o->arg);
				return -1;
			}
			val = argv[++i];
		}
		if (relay_config_set(c, name, val, err, errlen))
			return -1;
	}
	if (c->help || c->version)
		return 0;
	return relay_config_check(c, err, errlen);
}

void relay_config_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [options]\n"
		"\n"
		"moq-relayd: a Media over QUIC (MoQT draft-18) relay. Publishers\n"
		"(PUBLISH_NAMESPACE or PUBLISH) and subscribers connect to one QUIC\n"
		"server; each track is subscribed upstream once and fanned out to\n"
		"every subscriber, with a cache of its most recent groups for late\n"
		"joiners and FETCH. See docs/relay.md.\n"
		"\n"
		"options:\n",
		prog);
	for (size_t i = 0; i < NOPTS; i++) {
		char head[64];
		const char *h = opts[i].help;

		snprintf(head, sizeof(head), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-26s ", head);
		while (*h) {
			const char *nl = strchr(h, '\n');
			int n = nl ? (int)(nl - h) : (int)strlen(h);

			fprintf(f, "%.*s\n", n, h);
			h += n;
			if (*h == '\n') {
				h++;
				fprintf(f, "  %-26s ", "");
			}
		}
	}
	fprintf(f, "\n"
		   "signals: SIGTERM/SIGINT send GOAWAY and drain (--drain-timeout);\n"
		   "SIGHUP re-reads --config (log-level, log-format, auth-token, cache\n"
		   "bounds, sub-queue-bytes, stats-interval and the max-* limits take\n"
		   "effect; others need a restart).\n"
		   "Environment: MOQ_LOG=debug is the same as --log-level debug.\n");
}
