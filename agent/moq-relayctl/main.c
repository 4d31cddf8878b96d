/* moq-relayctl: what the relay is doing, from two sources at once: the
 * daemon's control socket (sessions, subscriptions, tracks, counters; see
 * agent/lib/relay_ctl.h) and the fast path's pinned BPF maps, read
 * directly with libbpf (config and heartbeat, per-subscriber kernel
 * counters and gate budget, drop/skip counters by program and reason).
 * Either source alone is enough to print something. docs/relayctl.md. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "json.h"
#include "lib/fp_mapsync.h"
#include "lib/fp_names.h"
#include "moq_maps.h"

#define DEFAULT_SOCKET "/run/moq-relayd.sock"
#define MAX_ANSWER (64u << 20)

static const char usage_text[] =
    "usage: moq-relayctl [--socket PATH] [--pin-dir DIR] [--json] [--timeout SECONDS] COMMAND\n"
    "\n"
    "Shows what moq-relayd and its BPF fast path are doing. Every command asks\n"
    "the daemon over its control socket AND reads the fast path's pinned maps\n"
    "directly; when one source is missing the other is still shown, with a note.\n"
    "\n"
    "commands:\n"
    "  status        daemon: version, pid, uptime, listen address, fast path on/off,\n"
    "                sessions, publishers, subscribers, tracks, cache, draining;\n"
    "                maps: moq_config (layout version, generation, enabled,\n"
    "                heartbeat age vs timeout) -> 'fast path: live', 'stale' or\n"
    "                'not attached', and how many slots/upstreams/tracks are set\n"
    "  subscribers   daemon: each downstream session (peer address, its\n"
    "                subscriptions with objects/bytes/resets) and the daemon's\n"
    "                fast-path snapshot (kernel vs agent packets, retransmits,\n"
    "                losses, gate drops, budget, cwnd, RTT);\n"
    "                maps: every active slot of moq_subscribers with its kernel\n"
    "                counters (moq_sub_stats tx/drop/rx, summed over CPUs) and\n"
    "                moq_gate budget\n"
    "  tracks        daemon: namespace/name, publisher, subscriber count, cache\n"
    "                groups/bytes; maps: moq_tracks fan-out entries\n"
    "  stats         daemon: the relay's cumulative counters; maps: the non-zero\n"
    "                moq_stats counters by program and reason\n"
    "\n"
    "options:\n"
    "  --socket PATH      the daemon's control socket [" DEFAULT_SOCKET "]\n"
    "                     (moq-relayd --ctl-socket)\n"
    "  --pin-dir DIR      where tc pinned the maps [" MOQ_PIN_DIR "]\n"
    "                     (moq-relayd --bpf-pin-dir)\n"
    "  --json             one JSON document: {\"command\", \"socket\", \"daemon\",\n"
    "                     \"daemon_error\", \"pin_dir\", \"maps\", \"maps_error\"}; daemon\n"
    "                     is the daemon's answer as it sent it\n"
    "  --timeout SECONDS  give up on the daemon after this long [3]\n"
    "  -h, --help         this text\n"
    "\n"
    "The socket protocol is one command line in, one JSON document out\n"
    "(try: echo status | socat - UNIX-CONNECT:" DEFAULT_SOCKET ").\n"
    "Reading the maps needs root (CAP_BPF / CAP_SYS_ADMIN); the socket is mode\n"
    "0660, so members of its group may ask the daemon too.\n"
    "\n"
    "exit status: 0 the daemon answered; 1 the daemon could not be asked or\n"
    "answered with an error (whatever the maps show is still printed);\n"
    "2 bad usage.\n";

/* ---- names ------------------------------------------------------------- */

/* ---- options ----------------------------------------------------------- */

enum cmd { C_STATUS, C_SUBSCRIBERS, C_TRACKS, C_STATS };
static const char *const cmd_names[] = {"status", "subscribers", "tracks", "stats"};

struct opts {
	const char *socket, *pin_dir;
	bool json;
	int timeout_ms;
	enum cmd cmd;
};

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("moq-relayctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see moq-relayctl --help)\n", stderr);
	exit(2);
}

static void parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"socket", required_argument, NULL, 's'}, {"pin-dir", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},	      {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	int c;

	o->socket = DEFAULT_SOCKET;
	o->pin_dir = MOQ_PIN_DIR;
	o->json = false;
	o->timeout_ms = 3000;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'p':
			o->pin_dir = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 't': {
			char *end;
			double s = strtod(optarg, &end);

			if (!*optarg || *end || s <= 0 || s > 3600)
				usage_error(
				    "--timeout: '%s' is not a number of seconds (0 < s <= 3600)",
				    optarg);
			o->timeout_ms = (int)(s * 1000.0 + 0.5);
			if (o->timeout_ms < 1)
				o->timeout_ms = 1;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			usage_error("option %s needs a value", argv[optind - 1]);
		default:
			usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		usage_error("which command? status, subscribers, tracks or stats");
	if (optind + 1 < argc)
		usage_error("one command at a time (got '%s' after '%s')", argv[optind + 1],
			    argv[optind]);
	for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++) {
		if (!strcmp(argv[optind], cmd_names[i])) {
			o->cmd = (enum cmd)i;
			return;
		}
	}
	if (!strcmp(argv[optind], "help")) {
		fputs(usage_text, stdout);
		exit(0);
	}
	usage_error("unknown command '%s': use status, subscribers, tracks or stats", argv[optind]);
}

/* ---- the daemon -------------------------------------------------------- */

struct daemon_answer {
	char *text; /* as received, NUL-terminated */
	size_t len;
	struct json_value *v;
	char err[600];
};

static int ask_daemon(const struct opts *o, struct daemon_answer *a)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = o->timeout_ms / 1000,
			     .tv_usec = (o->timeout_ms % 1000) * 1000};
	char req[32];
	size_t cap = 65536;
	struct json_error je;
	int fd, n;

	memset(a, 0, sizeof(*a));
	if (strlen(o->socket) >= sizeof(sa.sun_path)) {
		snprintf(a->err, sizeof(a->err), "--socket %s: path too long for a unix socket",
			 o->socket);
		return -1;
	}
	strcpy(sa.sun_path, o->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(a->err, sizeof(a->err), "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		if (e == ENOENT)
			snprintf(a->err, sizeof(a->err),
				 "no control socket at %s: is moq-relayd running? (it creates "
				 "that socket unless started with --ctl-socket none; give "
				 "--socket PATH for another one)",
				 o->socket);
		else if (e == ECONNREFUSED)
			snprintf(a->err, sizeof(a->err),
				 "nothing listens on %s: moq-relayd is not running (the file is "
				 "left from a stopped one)",
				 o->socket);
		else if (e == EACCES || e == EPERM)
			snprintf(a->err, sizeof(a->err),
				 "%s: permission denied: run as root or as a member of the "
				 "socket's group (mode 0660)",
				 o->socket);
		else
			snprintf(a->err, sizeof(a->err), "cannot connect to %s: %s", o->socket,
				 strerror(e));
		close(fd);
		return -1;
	}
	n = snprintf(req, sizeof(req), "%s\n", cmd_names[o->cmd]);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(a->err, sizeof(a->err), "%s: cannot send the request: %s", o->socket,
			 strerror(errno));
		close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);
	a->text = malloc(cap);
	if (!a->text) {
		snprintf(a->err, sizeof(a->err), "out of memory");
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (cap - a->len < 4096) {
			char *p;

			if (cap >= MAX_ANSWER) {
				snprintf(a->err, sizeof(a->err), "%s: answer over %u MiB",
					 o->socket, MAX_ANSWER >> 20);
				close(fd);
				return -1;
			}
			p = realloc(a->text, cap * 2);
			if (!p) {
				snprintf(a->err, sizeof(a->err), "out of memory");
				close(fd);
				return -1;
			}
			a->text = p;
			cap *= 2;
		}
		r = recv(fd, a->text + a->len, cap - a->len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			snprintf(a->err, sizeof(a->err),
				 "%s: no answer within %d ms (is the daemon stuck?)", o->socket,
				 o->timeout_ms);
			close(fd);
			return -1;
		}
		/* ECONNRESET after the answer still ends it */
		if (r <= 0)
			break;
		a->len += (size_t)r;
	}
	close(fd);
	a->text[a->len] = 0;
	while (a->len && (a->text[a->len - 1] == '\n' || a->text[a->len - 1] == '\r'))
		a->text[--a->len] = 0;
	if (!a->len) {
		snprintf(a->err, sizeof(a->err), "%s: the daemon closed without an answer",
			 o->socket);
		return -1;
	}
	if (json_parse(a->text, a->len, &a->v, &je)) {
		snprintf(
		    a->err, sizeof(a->err),
		    "%s: the answer is not JSON (%s at byte %zu); is this a moq-relayd socket?",
		    o->socket, je.msg, je.offset);
		return -1;
	}
	if (a->v->type != JSON_OBJECT) {
		snprintf(a->err, sizeof(a->err), "%s: the answer is not a JSON object", o->socket);
		return -1;
	}
	if (json_get(a->v, "error")) {
		const struct json_value *e = json_get(a->v, "error");

		snprintf(a->err, sizeof(a->err), "the daemon says: %s",
			 e->type == JSON_STRING ? e->str.ptr : "(error)");
		return -1;
	}
	return 0;
}

static const char *jstr(const struct json_value *v, const char *k)
{
	const struct json_value *x = json_get(v, k);

	if (!x)
		return "-";
	if (x->type == JSON_STRING)
		return x->str.ptr;
	if (x->type == JSON_NUMBER)
		return x->num.text;
	if (x->type == JSON_NULL)
		return "-";
	if (x->type == JSON_OBJECT && json_get(x, "hex"))
		return jstr(x, "hex");
	return "?";
}

static uint64_t ju64(const struct json_value *v, const char *k)
{
	const struct json_value *x = json_get(v, k);

	return x && x->type == JSON_NUMBER && x->num.is_u64 ? x->num.u64 : 0;
}

static bool jbool(const struct json_value *v, const char *k)
{
	const struct json_value *x = json_get(v, k);

	return x && x->type == JSON_BOOL && x->b;
}

static const struct json_value *jarr(const struct json_value *v, const char *k)
{
	const struct json_value *x = json_get(v, k);

	return x && x->type == JSON_ARRAY ? x : NULL;
}

/* ---- the maps ---------------------------------------------------------- */

struct slot_view {
	uint32_t slot;
	struct moq_subscriber s;
	struct moq_sub_stats st; /* summed over CPUs */
	struct moq_gate gate;
};

struct stat_view {
	unsigned prog, reason;
	uint64_t packets, bytes;
};

struct track_view {
	struct moq_track_key key;
	uint32_t count;
	uint8_t default_priority;
};

struct maps_view {
	bool ok;
	int open_rc; /* fp_maps_open's -errno */
	char err[1200];
	int ncpus;
	struct moq_config cfg;
	uint64_t now_ns;
	uint32_t upstreams, track_entries, subscriptions;
	struct slot_view *slots;
	size_t nslots;
	struct stat_view stats[MOQ_STATS_ENTRIES];
	size_t nstats;
	uint64_t forwarded[MOQ_PROG_MAX]; /* reason FORWARDED per program */
	struct track_view *tracks;
	size_t ntracks;
};

/* Per-CPU lookup summed into out (n u64 counters of the value). */
static int percpu_sum(int fd, uint32_t key, int ncpus, uint64_t *out, size_t n)
{
	size_t stride = (n * 8 + 7) / 8 * 8;
	uint64_t *buf = calloc((size_t)ncpus, stride);

	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf)) {
		int e = -errno;

		free(buf);
		return e;
	}
	memset(out, 0, n * 8);
	for (int c = 0; c < ncpus; c++)
		for (size_t i = 0; i < n; i++)
			out[i] += buf[(size_t)c * (stride / 8) + i];
	free(buf);
	return 0;
}

static uint32_t hash_count(int fd, size_t keylen)
{
	uint8_t k[64], next[64];
	uint32_t n = 0;
	void *prev = NULL;

	if (keylen > sizeof(k))
		return 0;
	while (n < 10000000 && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(k, next, keylen);
		prev = k;
		n++;
	}
	return n;
}

static void read_maps(const struct opts *o, struct maps_view *mv)
{
	struct fp_maps m;
	uint32_t zero = 0;

	memset(mv, 0, sizeof(*mv));
	libbpf_set_print(NULL);
	mv->open_rc = fp_maps_open(&m, o->pin_dir, mv->err, sizeof(mv->err));
	if (mv->open_rc)
		return;
	mv->ncpus = libbpf_num_possible_cpus();
	if (mv->ncpus <= 0) {
		snprintf(mv->err, sizeof(mv->err), "cannot count the possible CPUs: %s",
			 strerror(-mv->ncpus));
		fp_maps_close(&m);
		return;
	}
	if (bpf_map_lookup_elem(m.fd[FP_MAP_CONFIG], &zero, &mv->cfg)) {
		snprintf(mv->err, sizeof(mv->err), "cannot read %s/moq_config: %s", o->pin_dir,
			 strerror(errno));
		fp_maps_close(&m);
		return;
	}
	mv->now_ns = fp_monotonic_ns();
	mv->upstreams = hash_count(m.fd[FP_MAP_UPSTREAMS], sizeof(struct moq_cid));
	mv->subscriptions =
	    hash_count(m.fd[FP_MAP_SUBSCRIPTIONS], sizeof(struct moq_subscription_key));

	/* moq_stats: every (program, reason) counter */
	for (uint32_t k = 0; k < MOQ_STATS_ENTRIES; k++) {
		uint64_t v[2];

		if (percpu_sum(m.fd[FP_MAP_STATS], k, mv->ncpus, v, 2))
			continue;
		if (k % MOQ_R_MAX == MOQ_R_FORWARDED)
			mv->forwarded[k / MOQ_R_MAX] = v[0];
		if (!v[0] && !v[1])
			continue;
		mv->stats[mv->nstats++] =
		    (struct stat_view){k / MOQ_R_MAX, k % MOQ_R_MAX, v[0], v[1]};
	}

	/* moq_subscribers: active slots with their counters and gate */
	if (o->cmd == C_SUBSCRIBERS || o->cmd == C_STATUS) {
		mv->slots = calloc(MOQ_MAX_SUBSCRIBERS, sizeof(*mv->slots));
		for (uint32_t i = 0; mv->slots && i < MOQ_MAX_SUBSCRIBERS; i++) {
			struct slot_view *sv = &mv->slots[mv->nslots];
			uint64_t st[6];

			if (bpf_map_lookup_elem(m.fd[FP_MAP_SUBSCRIBERS], &i, &sv->s) ||
			    !(sv->s.flags & MOQ_SUB_F_ACTIVE))
				continue;
			sv->slot = i;
			if (percpu_sum(m.fd[FP_MAP_SUB_STATS], i, mv->ncpus, st, 6) == 0)
				memcpy(&sv->st, st, sizeof(sv->st));
			if (fp_maps_gate(&m, i))
				memcpy(&sv->gate, fp_maps_gate(&m, i), sizeof(sv->gate));
			mv->nslots++;
		}
	}

	/* moq_tracks: (upstream conn, alias) -> fan-out */
	{
		struct moq_track_key k, next, *prev = NULL;
		struct moq_track_subs *v = malloc(sizeof(*v));
		size_t cap = 0;

		while (v && bpf_map_get_next_key(m.fd[FP_MAP_TRACKS], prev, &next) == 0) {
			k = next;
			prev = &k;
			mv->track_entries++;
			if (o->cmd != C_TRACKS || bpf_map_lookup_elem(m.fd[FP_MAP_TRACKS], &k, v))
				continue;
			if (mv->ntracks == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct track_view *p = realloc(mv->tracks, nc * sizeof(*p));

				if (!p)
					break;
				mv->tracks = p;
				cap = nc;
			}
			mv->tracks[mv->ntracks++] =
			    (struct track_view){k, v->count, v->default_priority};
			if (mv->track_entries > MOQ_MAX_TRACKS)
				break;
		}
		free(v);
	}
	fp_maps_close(&m);
	mv->ok = true;
}

/* "live", "stale" or "not attached", and why. */
static const char *fp_state(const struct maps_view *mv, char *why, size_t len)
{
	const struct moq_config *c = &mv->cfg;
	uint64_t age = mv->now_ns > c->heartbeat_ns ? mv->now_ns - c->heartbeat_ns : 0;

	if (!mv->ok) {
		snprintf(why, len, "%s", mv->err);
		/* no pins, or no bpffs to hold them (the why says what to mount) */
		if (mv->open_rc == -ENOENT || mv->open_rc == -ENOTSUP)
			return "not attached";
		if (mv->open_rc == -EPERM || mv->open_rc == -EACCES)
			return "unreadable (run as root)";
		if (mv->open_rc == -EPROTO)
			return "mismatch";
		return "unknown";
	}
	if (!c->layout_version || !c->heartbeat_ns) {
		snprintf(why, len,
			 "maps pinned, but no agent has started the fast path "
			 "(moq-relayd --fast-path on)");
		return "stale";
	}
	if (c->layout_version != MOQ_MAPS_LAYOUT_VERSION) {
		snprintf(why, len, "layout version %u, this build speaks %u", c->layout_version,
			 MOQ_MAPS_LAYOUT_VERSION);
		return "stale";
	}
	if (!(c->flags & MOQ_CFG_F_ENABLED)) {
		snprintf(why, len, "disabled by the agent (clean stop), heartbeat %.1f s ago",
			 (double)age / 1e9);
		return "stale";
	}
	if (c->heartbeat_ns > mv->now_ns &&
	    c->heartbeat_ns - mv->now_ns > c->heartbeat_timeout_ns) {
		snprintf(why, len,
			 "heartbeat %.0f ms in the future > timeout %.0f ms: the programs "
			 "forward nothing (agent in another time namespace?)",
			 (double)(c->heartbeat_ns - mv->now_ns) / 1e6,
			 (double)c->heartbeat_timeout_ns / 1e6);
		return "stale";
	}
	if (!c->heartbeat_timeout_ns || age > c->heartbeat_timeout_ns) {
		snprintf(why, len,
			 "heartbeat %.0f ms ago > timeout %.0f ms: the programs forward "
			 "nothing (agent dead or stuck?)",
			 (double)age / 1e6, (double)c->heartbeat_timeout_ns / 1e6);
		return "stale";
	}
	snprintf(why, len, "heartbeat %.0f ms ago, timeout %.0f ms", (double)age / 1e6,
		 (double)c->heartbeat_timeout_ns / 1e6);
	return "live";
}

static void slot_addr(const struct moq_subscriber *s, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (s->family == MOQ_AF_INET) {
		inet_ntop(AF_INET, s->daddr, a, sizeof(a));
		snprintf(out, len, "%s:%u", a, ntohs(s->dport_be));
	} else if (s->family == MOQ_AF_INET6) {
		inet_ntop(AF_INET6, s->daddr, a, sizeof(a));
		snprintf(out, len, "[%s]:%u", a, ntohs(s->dport_be));
	} else {
		snprintf(out, len, "?");
	}
}

/* ---- JSON output ------------------------------------------------------- */

static void json_s64(struct json_writer *w, const char *k, int64_t v)
{
	json_key(w, k);
	if (v >= 0) {
		json_u64(w, (uint64_t)v);
	} else {
		char b[24];

		/* the writer has unsigned numbers only */
		snprintf(b, sizeof(b), "%" PRId64, v);
		json_cstring(w, b);
	}
}

static void maps_json(struct json_writer *w, const struct opts *o, const struct maps_view *mv)
{
	char why[1300], a[80];
	const char *state = fp_state(mv, why, sizeof(why));

	json_begin_object(w);
	json_kv_cstring(w, "fast_path", state);
	json_kv_cstring(w, "fast_path_detail", why);
	json_key(w, "config");
	json_begin_object(w);
	json_kv_u64(w, "layout_version", mv->cfg.layout_version);
	json_kv_u64(w, "generation", mv->cfg.generation);
	json_kv_bool(w, "enabled", mv->cfg.flags & MOQ_CFG_F_ENABLED);
	json_kv_u64(w, "heartbeat_age_ns",
		    mv->now_ns > mv->cfg.heartbeat_ns ? mv->now_ns - mv->cfg.heartbeat_ns : 0);
	json_kv_u64(w, "heartbeat_timeout_ns", mv->cfg.heartbeat_timeout_ns);
	json_kv_u64(w, "relay_port", ntohs(mv->cfg.relay_port_be));
	json_end_object(w);
	json_kv_u64(w, "cpus", (uint64_t)mv->ncpus);
	json_kv_u64(w, "upstreams", mv->upstreams);
	json_kv_u64(w, "track_entries", mv->track_entries);
	json_kv_u64(w, "subscriptions", mv->subscriptions);
	if (o->cmd == C_STATUS || o->cmd == C_SUBSCRIBERS)
		json_kv_u64(w, "active_slots", mv->nslots);
	json_key(w, "forwarded_packets");
	json_begin_object(w);
	for (unsigned p = 0; p < MOQ_PROG_MAX; p++)
		json_kv_u64(w, fp_prog_name(p), mv->forwarded[p]);
	json_end_object(w);
	if (o->cmd == C_SUBSCRIBERS) {
		json_key(w, "slots");
		json_begin_array(w);
		for (size_t i = 0; i < mv->nslots; i++) {
			const struct slot_view *s = &mv->slots[i];

			slot_addr(&s->s, a, sizeof(a));
			json_begin_object(w);
			json_kv_u64(w, "slot", s->slot);
			json_kv_cstring(w, "peer", a);
			json_kv_u64(w, "ifindex", s->s.ifindex);
			json_kv_u64(w, "generation", s->s.generation);
			json_kv_bool(w, "current_generation",
				     s->s.generation == mv->cfg.generation);
			json_kv_bool(w, "l2_learned", s->s.flags & MOQ_SUB_F_L2_LEARNED);
			json_kv_u64(w, "tx_packets", s->st.tx_packets);
			json_kv_u64(w, "tx_bytes", s->st.tx_bytes);
			json_kv_u64(w, "drop_packets", s->st.drop_packets);
			json_kv_u64(w, "drop_bytes", s->st.drop_bytes);
			json_kv_u64(w, "rx_packets", s->st.rx_packets);
			json_kv_u64(w, "rx_bytes", s->st.rx_bytes);
			json_kv_bool(w, "gate_enabled", s->gate.enabled);
			json_s64(w, "gate_budget", s->gate.budget);
			json_end_object(w);
		}
		json_end_array(w);
	}
	if (o->cmd == C_STATS) {
		json_key(w, "stats");
		json_begin_array(w);
		for (size_t i = 0; i < mv->nstats; i++) {
			json_begin_object(w);
			json_kv_cstring(w, "program", fp_prog_name(mv->stats[i].prog));
			json_kv_cstring(w, "reason", fp_reason_name(mv->stats[i].reason));
			json_kv_u64(w, "packets", mv->stats[i].packets);
			json_kv_u64(w, "bytes", mv->stats[i].bytes);
			json_end_object(w);
		}
		json_end_array(w);
	}
	if (o->cmd == C_TRACKS) {
		json_key(w, "tracks");
		json_begin_array(w);
		for (size_t i = 0; i < mv->ntracks; i++) {
			json_begin_object(w);
			json_kv_u64(w, "conn_id", mv->tracks[i].key.conn_id);
			json_kv_u64(w, "track_alias", mv->tracks[i].key.track_alias);
			json_kv_u64(w, "subscribers", mv->tracks[i].count);
			json_kv_u64(w, "default_priority", mv->tracks[i].default_priority);
			json_end_object(w);
		}
		json_end_array(w);
	}
	json_end_object(w);
}

static void print_json(const struct opts *o, const struct daemon_answer *a,
		       const struct maps_view *mv)
{
	struct json_writer w;

	json_writer_init(&w);
	json_begin_object(&w);
	json_kv_cstring(&w, "command", cmd_names[o->cmd]);
	json_kv_cstring(&w, "socket", o->socket);
	json_kv_cstring(&w, "pin_dir", o->pin_dir);
	json_key(&w, "daemon_error");
	if (a->err[0])
		json_cstring(&w, a->err);
	else
		json_null(&w);
	json_key(&w, "maps_error");
	if (!mv->ok)
		json_cstring(&w, mv->err);
	else
		json_null(&w);
	json_key(&w, "maps");
	if (mv->ok)
		maps_json(&w, o, mv);
	else
		json_null(&w);
	/* the daemon's document goes in as it came (already validated) */
	fwrite(w.buf, 1, w.len, stdout);
	fputs(",\"daemon\":", stdout);
	fputs(a->v && !a->err[0] ? a->text : "null", stdout);
	fputs("}\n", stdout);
	json_writer_free(&w);
}

/* ---- human output ------------------------------------------------------ */

static const char *u64s(uint64_t v, char *out, size_t len)
{
	snprintf(out, len, "%" PRIu64, v);
	return out;
}

static const char *human_bytes(uint64_t b, char *out, size_t len)
{
	if (b < 10000)
		snprintf(out, len, "%" PRIu64, b);
	else if (b < 10000ull << 10)
		snprintf(out, len, "%.1fk", (double)b / 1024);
	else if (b < 10000ull << 20)
		snprintf(out, len, "%.1fM", (double)b / (1 << 20));
	else
		snprintf(out, len, "%.1fG", (double)b / (1 << 30));
	return out;
}

static const char *human_ms(uint64_t ms, char *out, size_t len)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(out, len, "%.1fs", (double)ms / 1000);
	else if (s < 3600)
		snprintf(out, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(out, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s / 60) % 60);
	return out;
}

static void note_daemon(const struct daemon_answer *a)
{
	if (a->err[0])
		printf("daemon: not available: %s\n", a->err);
}

static void note_maps(const struct daemon_answer *a, const struct maps_view *mv,
		      const char *pin_dir)
{
	char why[1300];
	const char *st = fp_state(mv, why, sizeof(why));

	/* the usual case of a userspace-only relay: no need for the tc hint */
	if (!a->err[0] && !jbool(a->v, "fast_path") && !mv->ok && mv->open_rc == -ENOENT &&
	    json_get(a->v, "fast_path"))
		printf("fast path: not attached (no maps in %s; the daemon runs with --fast-path "
		       "off)\n",
		       pin_dir);
	else
		printf("fast path: %s (%s)\n", st, why);
}

static void human_status(const struct daemon_answer *a, const struct maps_view *mv,
			 const char *pin_dir)
{
	char b1[32], b2[32];

	note_daemon(a);
	if (!a->err[0]) {
		const struct json_value *v = a->v;

		printf("moq-relayd %s  pid %s  up %s  listening %s (%s)%s\n", jstr(v, "version"),
		       jstr(v, "pid"), human_ms(ju64(v, "uptime_ms"), b1, sizeof(b1)),
		       jstr(v, "listen"), jbool(v, "plaintext") ? "plaintext" : "TLS",
		       jbool(v, "draining") ? "  DRAINING" : "");
		printf("sessions %" PRIu64 "  publishers %" PRIu64 "  subscribers %" PRIu64
		       "  tracks %" PRIu64 "  cache %" PRIu64 " groups / %s bytes\n",
		       ju64(v, "sessions"), ju64(v, "publishers"), ju64(v, "subscribers"),
		       ju64(v, "tracks"), ju64(v, "cache_groups"),
		       human_bytes(ju64(v, "cache_bytes"), b2, sizeof(b2)));
		if (strcmp(jstr(v, "upstream"), ""))
			printf("upstream %s (%s)\n", jstr(v, "upstream"),
			       jbool(v, "upstream_connected") ? "connected" : "not connected");
		printf("daemon fast path: %s", jbool(v, "fast_path") ? "on" : "off");
		if (jbool(v, "fast_path"))
			printf(" (%" PRIu64 " fast subscribers, maps in %s)",
			       ju64(v, "fast_path_subscribers"), jstr(v, "bpf_pin_dir"));
		printf("\n");
	}
	note_maps(a, mv, pin_dir);
	if (mv->ok) {
		printf("kernel: layout %u  generation %u  %s  upstreams %u  tracks %u  "
		       "subscriptions %u  active slots %zu\n",
		       mv->cfg.layout_version, mv->cfg.generation,
		       mv->cfg.flags & MOQ_CFG_F_ENABLED ? "enabled" : "disabled", mv->upstreams,
		       mv->track_entries, mv->subscriptions, mv->nslots);
		printf("kernel forwarded packets: ingress %" PRIu64 "  egress %" PRIu64 "\n",
		       mv->forwarded[MOQ_PROG_UPSTREAM_INGRESS],
		       mv->forwarded[MOQ_PROG_SUBSCRIBER_EGRESS]);
	}
}

static void human_subscribers(const struct daemon_answer *a, const struct maps_view *mv,
			      const char *pin_dir)
{
	char b1[32], b2[32], b3[32];

	note_daemon(a);
	if (!a->err[0]) {
		const struct json_value *ss = jarr(a->v, "sessions");
		const struct json_value *fp = jarr(a->v, "fast_path_subscribers");

		printf("%zu downstream session(s)\n", ss ? ss->arr.n : 0);
		for (size_t i = 0; ss && i < ss->arr.n; i++) {
			const struct json_value *s = ss->arr.items[i];
			const struct json_value *subs = jarr(s, "subscriptions");

			printf("  peer %s%s%s%s\n", jstr(s, "peer"),
			       strcmp(jstr(s, "implementation"), "") ? "  (" : "",
			       jstr(s, "implementation"),
			       strcmp(jstr(s, "implementation"), "") ? ")" : "");
			/* with the fast path on: kernel or userspace, and why */
			if (json_get(s, "fast_path_mode"))
				printf("    fast path: %s%s%s%s\n", jstr(s, "fast_path_mode"),
				       json_get(s, "fast_path_note") ? " (" : "",
				       json_get(s, "fast_path_note") ? jstr(s, "fast_path_note")
								     : "",
				       json_get(s, "fast_path_note") ? ")" : "");
			if (!subs || !subs->arr.n) {
				printf("    (no subscriptions)\n");
				continue;
			}
			printf("    %-32s %6s %-11s %10s %9s %7s %10s\n", "TRACK", "ALIAS", "STATE",
			       "OBJECTS", "BYTES", "RESETS", "KERN_PKTS");
			for (size_t j = 0; j < subs->arr.n; j++) {
				const struct json_value *u = subs->arr.items[j];

				/* fast path: objects of streams delivered whole and
				 * datagrams forwarded; KERN_PKTS from the sent log */
				printf("    %-32s %6" PRIu64 " %-11s %10" PRIu64 " %9s %7" PRIu64
				       " %10s\n",
				       jstr(u, "track"), ju64(u, "alias"),
				       jbool(u, "established") ? "established" : "pending",
				       ju64(u, "objects_out"),
				       human_bytes(ju64(u, "bytes_out"), b1, sizeof(b1)),
				       ju64(u, "streams_reset"),
				       jbool(u, "fast_path")
					   ? u64s(ju64(u, "kernel_packets"), b2, sizeof(b2))
					   : "-");
			}
		}
		if (jbool(a->v, "fast_path") || (fp && fp->arr.n)) {
			printf("daemon fast-path snapshot: %zu subscriber(s)\n",
			       fp ? fp->arr.n : 0);
			if (fp && fp->arr.n)
				printf("  %5s %-22s %10s %10s %6s %6s %6s %10s %9s %8s\n", "SLOT",
				       "PEER", "KERN_PKTS", "AGENT_PKTS", "RETX", "LOST", "DROPS",
				       "BUDGET", "CWND", "SRTT_US");
			for (size_t i = 0; fp && i < fp->arr.n; i++) {
				const struct json_value *f = fp->arr.items[i];

				printf("  %5" PRIu64 " %-22s %10" PRIu64 " %10" PRIu64 " %6" PRIu64
				       " %6" PRIu64 " %6" PRIu64 " %10s %9s %8" PRIu64 "\n",
				       ju64(f, "slot"), jstr(f, "peer"), ju64(f, "kernel_packets"),
				       ju64(f, "agent_packets"), ju64(f, "retransmits"),
				       ju64(f, "lost"), ju64(f, "gate_drops"), jstr(f, "budget"),
				       human_bytes(ju64(f, "cwnd"), b2, sizeof(b2)),
				       ju64(f, "srtt_us"));
			}
		}
	}
	note_maps(a, mv, pin_dir);
	if (mv->ok) {
		printf("kernel subscriber slots (%s): %zu active\n", "moq_subscribers", mv->nslots);
		if (mv->nslots)
			printf("  %5s %-24s %4s %10s %9s %9s %9s %9s %12s\n", "SLOT", "PEER", "IF",
			       "TX_PKTS", "TX_BYTES", "DROP_PKTS", "DROP_B", "RX_PKTS",
			       "GATE_BUDGET");
		for (size_t i = 0; i < mv->nslots; i++) {
			const struct slot_view *s = &mv->slots[i];
			char addr[80], gate[32];

			slot_addr(&s->s, addr, sizeof(addr));
			if (s->gate.enabled)
				snprintf(gate, sizeof(gate), "%" PRId64, (int64_t)s->gate.budget);
			else
				snprintf(gate, sizeof(gate), "off");
			printf("  %5u %-24s %4u %10llu %9s %9llu %9s %9llu %12s%s\n", s->slot, addr,
			       s->s.ifindex, (unsigned long long)s->st.tx_packets,
			       human_bytes(s->st.tx_bytes, b1, sizeof(b1)),
			       (unsigned long long)s->st.drop_packets,
			       human_bytes(s->st.drop_bytes, b3, sizeof(b3)),
			       (unsigned long long)s->st.rx_packets, gate,
			       s->s.generation == mv->cfg.generation ? "" : "  (old generation)");
		}
	}
}

static void human_tracks(const struct daemon_answer *a, const struct maps_view *mv,
			 const char *pin_dir)
{
	char b1[32];

	note_daemon(a);
	if (!a->err[0]) {
		const struct json_value *ts = jarr(a->v, "tracks");

		printf("%zu track(s)\n", ts ? ts->arr.n : 0);
		if (ts && ts->arr.n)
			printf("  %-32s %-7s %-9s %-24s %5s %6s %9s %10s\n", "TRACK", "STATE",
			       "SOURCE", "PUBLISHER", "SUBS", "GROUPS", "CACHE", "OBJECTS_IN");
		for (size_t i = 0; ts && i < ts->arr.n; i++) {
			const struct json_value *t = ts->arr.items[i];

			printf("  %-32s %-7s %-9s %-24s %5" PRIu64 " %6" PRIu64 " %9s %10" PRIu64
			       "\n",
			       jstr(t, "track"), jstr(t, "state"), jstr(t, "source"),
			       jstr(t, "publisher_peer"), ju64(t, "subscribers"),
			       ju64(t, "cache_groups"),
			       human_bytes(ju64(t, "cache_bytes"), b1, sizeof(b1)),
			       ju64(t, "objects_in"));
		}
	}
	note_maps(a, mv, pin_dir);
	if (mv->ok) {
		printf("kernel track entries (moq_tracks): %u\n", mv->track_entries);
		if (mv->ntracks)
			printf("  %8s %12s %11s %8s\n", "CONN_ID", "UP_ALIAS", "SUBSCRIBERS",
			       "DEF_PRIO");
		for (size_t i = 0; i < mv->ntracks; i++)
			printf("  %8u %12llu %11u %8u\n", mv->tracks[i].key.conn_id,
			       (unsigned long long)mv->tracks[i].key.track_alias,
			       mv->tracks[i].count, mv->tracks[i].default_priority);
	}
}

static void human_stats(const struct daemon_answer *a, const struct maps_view *mv,
			const char *pin_dir)
{
	note_daemon(a);
	if (!a->err[0]) {
		printf("daemon counters:\n");
		for (size_t i = 0; i < a->v->obj.n; i++) {
			const struct json_member *m = &a->v->obj.members[i];

			if (m->value->type == JSON_NUMBER)
				printf("  %-24s %s\n", m->key, m->value->num.text);
		}
	}
	note_maps(a, mv, pin_dir);
	if (mv->ok) {
		printf("kernel counters (moq_stats, non-zero, summed over %d CPUs):\n", mv->ncpus);
		if (!mv->nstats)
			printf("  (all zero)\n");
		else
			printf("  %-20s %-22s %12s %14s\n", "PROGRAM", "REASON", "PACKETS",
			       "BYTES");
		for (size_t i = 0; i < mv->nstats; i++)
			printf("  %-20s %-22s %12llu %14llu\n", fp_prog_name(mv->stats[i].prog),
			       fp_reason_name(mv->stats[i].reason),
			       (unsigned long long)mv->stats[i].packets,
			       (unsigned long long)mv->stats[i].bytes);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct daemon_answer a;
	struct maps_view *mv = calloc(1, sizeof(*mv));
	int rc;

	if (!mv)
		return 1;
	parse_opts(&o, argc, argv);
	rc = ask_daemon(&o, &a);
	read_maps(&o, mv);
	if (o.json) {
		print_json(&o, &a, mv);
	} else {
		switch (o.cmd) {
		case C_STATUS:
			human_status(&a, mv, o.pin_dir);
			break;
		case C_SUBSCRIBERS:
			human_subscribers(&a, mv, o.pin_dir);
			break;
		case C_TRACKS:
			human_tracks(&a, mv, o.pin_dir);
			break;
		case C_STATS:
			human_stats(&a, mv, o.pin_dir);
			break;
		}
	}
	if (rc)
		fprintf(stderr, "moq-relayctl: daemon: %s\n", a.err);
	json_free(a.v);
	free(a.text);
	free(mv->slots);
	free(mv->tracks);
	free(mv);
	return rc ? 1 : 0;
}
