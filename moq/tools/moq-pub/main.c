/* moq-pub: MoQT publisher for tests, demos and benchmarks.
 *
 * Connects to a relay (or listens for subscribers with --listen), announces
 * a namespace (PUBLISH_NAMESPACE, relay mode) and serves its tracks on
 * SUBSCRIBE. Objects come from a synthetic generator or an H.264 Annex-B
 * file; every payload is an MQP1 payload (moq/media/payload.h). See
 * docs/tools.md and `moq-pub --help`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvp.h"
#include "log.h"
#include "media/cli.h"
#include "media/client.h"
#include "media/h264.h"
#include "media/payload.h"
#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"

#include "pub.h"

const char *prog = "moq-pub";

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: moq-pub [OPTIONS] HOST:PORT      publish through a relay\n"
	    "       moq-pub [OPTIONS] https://HOST[:PORT][/PATH]  the same over WebTransport\n"
	    "       moq-pub --listen ADDR:PORT [OPTIONS]  serve subscribers directly\n"
	    "\n"
	    "Announces a namespace (PUBLISH_NAMESPACE) to the relay and serves its tracks\n"
	    "on SUBSCRIBE. Every object payload is an MQP1 payload (docs/tools.md): a\n"
	    "64-byte header with sequence number, send timestamps and CRC32C, then the body.\n"
	    "\n"
	    "Connection:\n"
	    "  --listen ADDR:PORT       be the server (e.g. 127.0.0.1:4443, [::]:4443)\n"
	    "  --plaintext              plaintext QUIC profile (both ends must use it)\n"
	    "  --cert FILE, --key FILE  PEM certificate chain and key (TLS with --listen)\n"
	    "  --ca FILE                PEM CA to verify the relay's certificate\n"
	    "  --insecure               do not verify the relay's certificate\n"
	    "  --cert-hash SHA256       trust only the relay certificate with this SHA-256\n"
	    "                           (64 hex digits; moq-relayd --dev-cert logs it)\n"
	    "  --sni NAME               name checked against the certificate (default HOST)\n"
	    "  --alpn STR               ALPN to offer/accept (default moqt-18)\n"
	    "  --auth-token TOKEN       client: send this AUTHORIZATION TOKEN in SETUP;\n"
	    "                           --listen: require it from every subscriber\n"
	    "  --qlog-dir DIR           write a qlog file per connection into DIR\n"
	    "  --no-pacing              send bursts without QUIC pacing (benchmarks)\n"
	    "  --log-level LEVEL        error, warn (default), info or debug\n"
	    "\n"
	    "Tracks:\n"
	    "  --namespace NS           track namespace, fields separated by '/'\n"
	    "                           (default moq-pub)\n"
	    "  --track NAME             serve a track (repeat for several; default 'test', or\n"
	    "                           'video' with --h264)\n"
	    "  --datagram-track NAME    serve a synthetic track with forwarding preference\n"
	    "                           Datagram (one OBJECT_DATAGRAM per object)\n"
	    "  --datagram               make every synthetic --track a datagram track\n"
	    "  --priority N             publisher priority 0..255 of subgroup 0; subgroup s\n"
	    "                           gets N+s (default 128 synthetic, 0 for H.264)\n"
	    "\n"
	    "Synthetic source (default):\n"
	    "  --object-size BYTES      payload size, >= 64 (default 1000; K/M suffixes);\n"
	    "                           at most %d with datagrams\n"
	    "  --rate N                 objects per second per track (default 100;\n"
	    "                           0 = as fast as the connection takes them)\n"
	    "  --send-buffer BYTES      pause the track while a subscription has more than\n"
	    "                           this unacknowledged (default 1M; K/M suffixes)\n"
	    "  --objects-per-group N    objects per group (default 10)\n"
	    "  --subgroups-per-group N  object k of a group goes to subgroup k %% N\n"
	    "                           (default 1, at most %d)\n"
	    "\n"
	    "H.264 source:\n"
	    "  --h264 FILE              Annex-B file: one object per access unit, one group\n"
	    "                           per GOP (new group at each IDR); subgroup 0 = the IDR\n"
	    "                           access unit (with SPS/PPS) at --priority, subgroup 1 =\n"
	    "                           the other frames at --priority + 1\n"
	    "  --fps N                  pacing in access units per second (default 30)\n"
	    "  --loop                   start over at the end of the file\n"
	    "\n"
	    "Ending:\n"
	    "  --count N                end each track after N objects\n"
	    "  --duration S             end each track S seconds after its first subscriber\n"
	    "  --wait-subscribers N     start a track only when N subscriptions to it\n"
	    "                           exist (default 1), so all of them see object 0\n"
	    "  --linger S               after the tracks ended, wait at most S seconds for\n"
	    "                           acknowledgements and for subscribers to leave\n"
	    "                           (default 10)\n"
	    "  -h, --help               this text\n"
	    "\n"
	    "A track starts producing at its first SUBSCRIBE (or --wait-subscribers); later\n"
	    "subscribers join live.\n"
	    "With --count/--duration/end of file each subscription ends with PUBLISH_DONE\n"
	    "(TRACK_ENDED) once its data is acknowledged; moq-pub then exits when every\n"
	    "session has closed (or --linger expires). SIGINT/SIGTERM stop it.\n"
	    "\n"
	    "Exit status: 0 ok; 2 bad option or configuration; 3 connection failed or\n"
	    "lost; 4 the relay refused PUBLISH_NAMESPACE; 5 internal error.\n",
	    DGRAM_MAX_OBJECT, MAX_SUBGROUPS);
}

static void die_usage(const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	fprintf(stderr, "Try 'moq-pub --help'.\n");
	exit(MOQ_EXIT_USAGE);
}

static void add_track(struct pub *p, const char *name, bool datagram)
{
	size_t n = strlen(name);
	if (!n || n >= sizeof p->tracks[0].name)
		die_usage("--track: the track name must be 1..255 bytes");
	if (p->ntracks == MAX_TRACKS)
		die_usage("too many tracks (at most 16)");
	for (size_t i = 0; i < p->ntracks; i++)
		if (!strcmp(p->tracks[i].name, name))
			die_usage("--track: the same track name was given twice");
	struct track *t = &p->tracks[p->ntracks++];
	memcpy(t->name, name, n + 1);
	t->name_len = n;
	t->datagram = datagram;
}

bool pub_h264_mode(const struct pub *p)
{
	return p->h264_path != NULL;
}

/* ---- session callbacks ---------------------------------------------------- */

static bool ns_equal(const struct moq_namespace *a, const struct moq_namespace *b)
{
	if (a->nfields != b->nfields)
		return false;
	for (size_t i = 0; i < a->nfields; i++)
		if (a->fields[i].len != b->fields[i].len ||
		    memcmp(a->fields[i].ptr, b->fields[i].ptr, a->fields[i].len))
			return false;
	return true;
}

static struct pub *pub_of(struct moq_session *s)
{
	struct conn *c = moq_session_user(s);
	return c->p;
}

static int on_setup(struct moq_session *s, const struct moq_setup *peer)
{
	struct pub *p = pub_of(s);
	if (!p->listen || !p->co.token)
		return 0;
	size_t n = strlen(p->co.token);
	for (size_t i = 0; i < peer->num_authorization_tokens; i++) {
		const struct moq_auth_token *t = &peer->authorization_tokens[i];
		if (t->alias_type == MOQ_ALIAS_USE_VALUE && t->token_value.len == n &&
		    !memcmp(t->token_value.ptr, p->co.token, n))
			return 0;
	}
	moq_warn("pub", "%s: missing or wrong authorization token; closing", moq_session_name(s));
	return MOQ_SESSION_UNAUTHORIZED;
}

static void on_ready(struct moq_session *s)
{
	struct pub *p = pub_of(s);
	moq_info("pub", "%s: session ready", moq_session_name(s));
	if (p->listen)
		return;
	struct moq_request *r = moq_session_publish_namespace(s, &p->ns, NULL, NULL);
	if (!r) {
		fprintf(stderr, "%s: cannot send PUBLISH_NAMESPACE\n", prog);
		p->exit_code = MOQ_EXIT_INTERNAL;
		moq_session_close(s, MOQ_SESSION_INTERNAL_ERROR, "publish namespace failed");
	}
}

static void on_request(struct moq_session *s, struct moq_request *r, const struct moq_ctrl_msg *m)
{
	struct pub *p = pub_of(s);
	if (m->type == MOQ_CTRL_FETCH) {
		/* Serving FETCH needs a cache of past objects; moq-pub keeps
		 * none (relays do). Say so rather than a bare NOT_SUPPORTED. */
		moq_request_error(r, MOQ_REQERR_NOT_SUPPORTED, 0,
				  "FETCH is not implemented in moq-pub: it keeps no cache of past "
				  "objects; SUBSCRIBE for live objects, or FETCH from a relay "
				  "(moq-relayd caches)");
		return;
	}
	if (m->type != MOQ_CTRL_SUBSCRIBE) {
		char why[160];
		const char *nm = moq_ctrl_type_name(m->type);
		snprintf(why, sizeof why,
			 "%s is not implemented in moq-pub: it serves SUBSCRIBE only",
			 nm ? nm : "this request");
		moq_request_error(r, MOQ_REQERR_NOT_SUPPORTED, 0, why);
		return;
	}
	const struct moq_subscribe *sb = &m->subscribe;
	struct track *t = NULL;
	if (ns_equal(&sb->track_namespace, &p->ns)) {
		for (size_t i = 0; i < p->ntracks; i++)
			if (p->tracks[i].name_len == sb->track_name.len &&
			    !memcmp(p->tracks[i].name, sb->track_name.ptr, sb->track_name.len))
				t = &p->tracks[i];
	}
	if (!t) {
		moq_request_error(r, MOQ_REQERR_DOES_NOT_EXIST, 0, "no such track");
		return;
	}
	if (t->ended) {
		moq_request_error(r, MOQ_REQERR_DOES_NOT_EXIST, 0, "track has ended");
		return;
	}
	if (p->stopping) {
		moq_request_error(r, MOQ_REQERR_GOING_AWAY, 0, "publisher stopping");
		return;
	}
	struct sub *u = calloc(1, sizeof(*u));
	if (!u) {
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "out of memory");
		return;
	}
	u->p = p;
	u->t = t;
	u->s = s;
	u->req = r;
	/* Subscription Filter (unfiltered: everything from now on; objects
	 * already produced are gone, moq-pub keeps no cache) */
	struct moq_subscription_info info;
	if (!moq_request_subscription(r, &info) && info.has_filter) {
		const struct moq_subscription_filter *f = &info.filter;
		struct moq_location l = t->largest;
		switch (f->filter_type) {
		case MOQ_FILTER_LARGEST_OBJECT:
			if (t->has_largest)
				u->start = (struct moq_location){l.group, l.object + 1};
			break;
		case MOQ_FILTER_NEXT_GROUP_START:
			if (t->has_largest)
				u->start = (struct moq_location){l.group + 1, 0};
			break;
		case MOQ_FILTER_ABSOLUTE_RANGE:
			u->has_end = true;
			u->end_group = f->start_location.group + f->end_group_delta;
			if (t->has_largest && u->end_group < l.group) {
				moq_request_error(r, MOQ_REQERR_INVALID_RANGE, 0,
						  "the end group has already been published");
				free(u);
				return;
			}
			/* fall through */
		case MOQ_FILTER_ABSOLUTE_START:
			u->start = f->start_location;
			break;
		}
	}
	struct moq_params ok_params;
	moq_params_init(&ok_params);
	if (t->has_largest)
		moq_params_add_location(&ok_params, MOQ_PARAM_LARGEST_OBJECT, t->largest);
	uint8_t props[16];
	struct moq_bytes pb = {props, 0};
	uint64_t prev = 0;
	struct moq_kvp kv = {.type = MOQ_PROP_DEFAULT_PUBLISHER_PRIORITY, .value = p->priority};
	int n = moq_kvp_encode(props, sizeof props, &prev, &kv);
	if (n > 0)
		pb.len = (size_t)n;
	int rc = moq_request_subscribe_ok(r, MOQ_SESSION_ALIAS_AUTO, &ok_params, pb);
	if (rc < 0) {
		moq_warn("pub", "SUBSCRIBE_OK for track %s failed: %s", t->name, strerror(-rc));
		moq_request_error(r, MOQ_REQERR_INTERNAL_ERROR, 0, "subscribe ok failed");
		free(u);
		return;
	}
	moq_request_set_user(r, u);
	u->next = t->subs;
	t->subs = u;
	moq_info("pub", "%s subscribed to track %s", moq_session_name(s), t->name);
	size_t nsubs = 0;
	for (struct sub *x = t->subs; x; x = x->next)
		nsubs++;
	if (!t->started && nsubs >= p->wait_subscribers) {
		t->started = true;
		p->any_started = true;
		t->t0 = moq_loop_now();
	}
	pub_pump_soon(p, 0);
}

static void on_request_msg(struct moq_session *s, struct moq_request *r,
			   const struct moq_ctrl_msg *m)
{
	struct pub *p = pub_of(s);
	if (!moq_request_is_local(r) || moq_request_type(r) != MOQ_CTRL_PUBLISH_NAMESPACE)
		return;
	if (m->type == MOQ_CTRL_REQUEST_OK) {
		p->announced = true;
		char nsbuf[512];
		moq_cli_namespace_str(&p->ns, nsbuf, sizeof nsbuf);
		fprintf(stderr, "%s: namespace %s announced\n", prog, nsbuf);
	} else if (m->type == MOQ_CTRL_REQUEST_ERROR) {
		const struct moq_request_error *e = &m->request_error;
		fprintf(stderr, "%s: the relay refused PUBLISH_NAMESPACE: %s (code 0x%llx): %.*s\n",
			prog,
			moq_request_error_name(e->error_code)
			    ? moq_request_error_name(e->error_code)
			    : "?",
			(unsigned long long)e->error_code, (int)e->error_reason.len,
			(const char *)e->error_reason.ptr);
		p->exit_code = MOQ_EXIT_REFUSED;
		moq_session_close(s, MOQ_SESSION_NO_ERROR, "namespace refused");
	}
}

static void on_request_closed(struct moq_session *s, struct moq_request *r,
			      enum moq_request_end why, uint64_t code)
{
	struct sub *u = moq_request_user(r);
	if (!u || moq_request_is_local(r))
		return;
	moq_info("pub", "%s: subscription to %s ended (%d, code %llu)", moq_session_name(s),
		 u->t->name, (int)why, (unsigned long long)code);
	pub_sub_unlink(u);
	free(u->retry);
	free(u);
	pub_maybe_finish(pub_of(s));
}

static void on_tx_stopped(struct moq_session *s, struct moq_tx *tx, uint64_t code)
{
	struct sub *u = moq_tx_user(tx);
	if (!u)
		return;
	for (size_t i = 0; i < MAX_SUBGROUPS; i++) {
		if (u->tx[i] == tx) {
			moq_tx_reset(tx, code);
			u->tx[i] = NULL;
		}
	}
}

static void on_tx_writable(struct moq_session *s, struct moq_tx *tx)
{
	pub_pump_soon(pub_of(s), 0);
}

static void on_close(struct moq_session *s, const struct moq_quic_close_info *info)
{
	struct conn *c = moq_session_user(s);
	struct pub *p = c->p;
	/* subscriptions of this session are gone with it */
	for (size_t i = 0; i < p->ntracks; i++) {
		struct sub *u = p->tracks[i].subs;
		while (u) {
			struct sub *next = u->next;
			if (u->s == s) {
				pub_sub_unlink(u);
				free(u->retry);
				free(u);
			}
			u = next;
		}
	}
	bool error = info->origin != MOQ_QUIC_CLOSE_LOCAL &&
		     !(info->origin == MOQ_QUIC_CLOSE_PEER && info->app && info->code == 0);
	if (p->listen) {
		if (error)
			fprintf(stderr, "%s: %s: connection closed: %s\n", prog,
				moq_session_name(s),
				info->reason[0] ? info->reason : "(no reason)");
		else
			moq_info("pub", "%s: session closed", moq_session_name(s));
	} else {
		if (error && !p->stopping) {
			fprintf(stderr, "%s: connection to %s:%u %s: %s\n", prog, p->host, p->port,
				info->origin == MOQ_QUIC_CLOSE_HANDSHAKE ? "failed" : "lost",
				info->reason[0] ? info->reason : "(no reason given)");
			if (!p->exit_code)
				p->exit_code = MOQ_EXIT_CONNECT;
		}
		p->client = NULL;
	}
	c->closed = true;
	free(c);
	p->sessions--;
	if (!p->listen)
		moq_loop_stop(p->loop);
	else
		pub_maybe_finish(p);
}

static const struct moq_session_callbacks session_cb = {
    .on_setup = on_setup,
    .on_ready = on_ready,
    .on_close = on_close,
    .on_request = on_request,
    .on_request_msg = on_request_msg,
    .on_request_closed = on_request_closed,
    .on_tx_stopped = on_tx_stopped,
    .on_tx_writable = on_tx_writable,
};

static int on_session(struct moq_session *s, void *arg)
{
	struct pub *p = arg;
	if (p->stopping)
		return -1;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->p = p;
	c->s = s;
	moq_session_set_user(s, c);
	p->sessions++;
	return 0;
}

/* ---- ending ----------------------------------------------------------------- */

static bool all_started_tracks_done(struct pub *p)
{
	if (!p->any_started)
		return false;
	for (size_t i = 0; i < p->ntracks; i++) {
		struct track *t = &p->tracks[i];
		if (t->started && (!t->ended || t->subs))
			return false;
	}
	return true;
}

static void stop_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct pub *p = arg;
	moq_loop_stop(loop);
	(void)p;
}

/* Relay mode, every track ended: the PUBLISH_DONEs (and the last
 * datagrams) just queued must reach the relay before CONNECTION_CLOSE,
 * which would discard them: close once nothing is in flight (polled; the
 * first polls let the queued bytes go out), at most --linger. */
static void close_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct pub *p = arg;
	struct moq_quic_conn *qc = p->client ? moq_session_conn(p->client->s) : NULL;
	struct moq_quic_conn_stats cs = {0};
	(void)loop;
	if (!p->client)
		return;
	if (qc)
		moq_quic_conn_stats(qc, &cs);
	if (++p->close_polls > 2 && (!cs.bytes_in_flight || moq_loop_now() >= p->close_deadline)) {
		moq_session_close(p->client->s, MOQ_SESSION_NO_ERROR, "tracks ended");
		return;
	}
	moq_timer_set_in(t, 5000000ull);
}

void pub_maybe_finish(struct pub *p)
{
	if (!all_started_tracks_done(p))
		return;
	if (!p->listen) {
		if (p->client && !p->stopping) {
			p->stopping = true;
			p->close_deadline = moq_loop_now() + (uint64_t)(p->linger * 1e9);
			moq_timer_set_in(p->close_timer, 5000000ull);
		}
		return;
	}
	/* listen mode: wait for subscribers to leave, at most --linger */
	if (p->sessions == 0) {
		moq_loop_stop(p->loop);
		return;
	}
	if (moq_timer_when(p->stop_timer) == UINT64_MAX)
		moq_timer_set_in(p->stop_timer, (uint64_t)(p->linger * 1e9));
}

static void on_signal(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pub *p = arg;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof si) != sizeof si)
		return;
	fprintf(stderr, "%s: %s, stopping\n", prog, strsignal((int)si.ssi_signo));
	if (p->stopping) {
		moq_loop_stop(loop);
		return;
	}
	p->stopping = true;
	if (p->client)
		moq_session_close(p->client->s, MOQ_SESSION_NO_ERROR, "publisher stopping");
	moq_timer_set_in(p->stop_timer, 200000000ull);
	if (!p->client && !p->listen)
		moq_loop_stop(loop);
}

/* ---- main --------------------------------------------------------------------- */

enum {
	OPT_LISTEN = 256,
	OPT_NAMESPACE,
	OPT_TRACK,
	OPT_DGRAM_TRACK,
	OPT_DATAGRAM,
	OPT_OBJECT_SIZE,
	OPT_RATE,
	OPT_OPG,
	OPT_SPG,
	OPT_PRIORITY,
	OPT_H264,
	OPT_LOOP,
	OPT_FPS,
	OPT_COUNT,
	OPT_DURATION,
	OPT_LINGER,
	OPT_SEND_BUFFER,
	OPT_WAIT_SUBS,
};

static const struct option long_opts[] = {
    MOQ_CLI_CONN_LONG_OPTS,
    {"listen", required_argument, 0, OPT_LISTEN},
    {"namespace", required_argument, 0, OPT_NAMESPACE},
    {"track", required_argument, 0, OPT_TRACK},
    {"datagram-track", required_argument, 0, OPT_DGRAM_TRACK},
    {"datagram", no_argument, 0, OPT_DATAGRAM},
    {"object-size", required_argument, 0, OPT_OBJECT_SIZE},
    {"rate", required_argument, 0, OPT_RATE},
    {"objects-per-group", required_argument, 0, OPT_OPG},
    {"subgroups-per-group", required_argument, 0, OPT_SPG},
    {"priority", required_argument, 0, OPT_PRIORITY},
    {"h264", required_argument, 0, OPT_H264},
    {"loop", no_argument, 0, OPT_LOOP},
    {"fps", required_argument, 0, OPT_FPS},
    {"count", required_argument, 0, OPT_COUNT},
    {"duration", required_argument, 0, OPT_DURATION},
    {"linger", required_argument, 0, OPT_LINGER},
    {"send-buffer", required_argument, 0, OPT_SEND_BUFFER},
    {"wait-subscribers", required_argument, 0, OPT_WAIT_SUBS},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static void check_readable(const char *opt, const char *path)
{
	if (access(path, R_OK)) {
		char m[512];
		snprintf(m, sizeof m, "%s: cannot read '%s': %s", opt, path, strerror(errno));
		die_usage(m);
	}
}

static void load_h264(struct pub *p)
{
	int fd = open(p->h264_path, O_RDONLY);
	struct stat st;
	char m[600];
	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
		snprintf(m, sizeof m, "--h264: cannot read '%s': %s", p->h264_path,
			 fd < 0 ? strerror(errno) : "empty file");
		die_usage(m);
	}
	p->file_len = (size_t)st.st_size;
	p->file = malloc(p->file_len);
	size_t got = 0;
	while (p->file && got < p->file_len) {
		ssize_t n = read(fd, p->file + got, p->file_len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!p->file || got != p->file_len) {
		snprintf(m, sizeof m, "--h264: cannot read '%s'", p->h264_path);
		die_usage(m);
	}
	int rc = moq_h264_index_build(&p->ix, p->file, p->file_len);
	if (rc) {
		snprintf(m, sizeof m,
			 "--h264: '%s' is not an H.264 Annex-B byte stream (no start codes); make "
			 "one with ffmpeg ... -c:v libx264 -bf 0 -f h264 out.h264",
			 p->h264_path);
		die_usage(m);
	}
	size_t maxau = 0;
	for (size_t i = 0; i < p->ix.n_aus; i++)
		if (p->ix.aus[i].len > maxau)
			maxau = p->ix.aus[i].len;
	p->bufcap = MOQ_PAYLOAD_HDR_LEN + maxau;
	moq_info("pub", "%s: %zu access units, %zu GOPs, largest AU %zu bytes", p->h264_path,
		 p->ix.n_aus, p->ix.n_gops, maxau);
}

/* Command-line arguments that only the option checks read. */
struct pub_args {
	const char *ns, *listen;
	bool datagram_all;
	const char *tracks[MAX_TRACKS];
	bool dgram[MAX_TRACKS];
	size_t ntracks;
};

/* The options into p and a: -1 to go on, else the exit code. */
static int parse_options(struct pub *p, struct pub_args *a, int argc, char **argv)
{
	char err[MOQ_CLI_ERR_LEN];
	uint64_t v;

	p->object_size = 1000;
	p->rate = 100;
	p->objects_per_group = 10;
	p->subgroups = 1;
	p->fps = 30;
	p->linger = 10;
	p->send_buffer = 1u << 20;
	p->wait_subscribers = 1;

	int c, rc;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			a->listen = optarg;
			break;
		case OPT_NAMESPACE:
			a->ns = optarg;
			break;
		case OPT_TRACK:
		case OPT_DGRAM_TRACK:
			if (a->ntracks == MAX_TRACKS)
				die_usage("too many tracks (at most 16)");
			a->dgram[a->ntracks] = c == OPT_DGRAM_TRACK;
			a->tracks[a->ntracks++] = optarg;
			break;
		case OPT_DATAGRAM:
			a->datagram_all = true;
			break;
		case OPT_OBJECT_SIZE:
			if (moq_cli_u64("--object-size", optarg, MOQ_PAYLOAD_HDR_LEN, 64u << 20, 1,
					&p->object_size, err, sizeof err))
				die_usage(err);
			break;
		case OPT_RATE:
			if (moq_cli_double("--rate", optarg, 0, 1e7, &p->rate, err, sizeof err))
				die_usage(err);
			break;
		case OPT_OPG:
			if (moq_cli_u64("--objects-per-group", optarg, 1, UINT32_MAX, 0,
					&p->objects_per_group, err, sizeof err))
				die_usage(err);
			break;
		case OPT_SPG:
			if (moq_cli_u64("--subgroups-per-group", optarg, 1, MAX_SUBGROUPS, 0,
					&p->subgroups, err, sizeof err))
				die_usage(err);
			break;
		case OPT_PRIORITY:
			if (moq_cli_u64("--priority", optarg, 0, 255, 0, &v, err, sizeof err))
				die_usage(err);
			p->priority = (uint8_t)v;
			p->priority_set = true;
			break;
		case OPT_H264:
			p->h264_path = optarg;
			break;
		case OPT_LOOP:
			p->loop_file = true;
			break;
		case OPT_FPS:
			if (moq_cli_double("--fps", optarg, 0.1, 1000, &p->fps, err, sizeof err))
				die_usage(err);
			break;
		case OPT_COUNT:
			if (moq_cli_u64("--count", optarg, 1, UINT64_MAX, 0, &p->count, err,
					sizeof err))
				die_usage(err);
			break;
		case OPT_DURATION:
			if (moq_cli_double("--duration", optarg, 0.001, 1e7, &p->duration, err,
					   sizeof err))
				die_usage(err);
			break;
		case OPT_LINGER:
			if (moq_cli_double("--linger", optarg, 0, 3600, &p->linger, err,
					   sizeof err))
				die_usage(err);
			break;
		case OPT_WAIT_SUBS:
			if (moq_cli_u64("--wait-subscribers", optarg, 1, 100000, 0,
					&p->wait_subscribers, err, sizeof err))
				die_usage(err);
			break;
		case OPT_SEND_BUFFER:
			if (moq_cli_u64("--send-buffer", optarg, 64 * 1024, 1ull << 32, 1,
					&p->send_buffer, err, sizeof err))
				die_usage(err);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			rc = moq_cli_conn_option(&p->co, c, optarg, err, sizeof err);
			if (rc < 0)
				die_usage(err);
			if (rc > 0)
				break;
			fprintf(stderr, "Try 'moq-pub --help'.\n");
			return MOQ_EXIT_USAGE;
		}
	}

	return -1;
}

/* The options taken together; adds the tracks, loads --h264. -1 to go on,
 * else the exit code. */
static int check_options(struct pub *p, const struct pub_args *a, int argc, char **argv)
{
	char err[MOQ_CLI_ERR_LEN];

	if (a->listen) {
		p->listen = 1;
		if (optind != argc)
			die_usage("--listen takes no HOST:PORT argument; remove one of them");
		if (moq_cli_hostport("--listen", a->listen, p->host, sizeof p->host, &p->port, 1,
				     err, sizeof err))
			die_usage(err);
		if (!p->host[0])
			strcpy(p->host, "::");
		if (!p->co.plaintext && (!p->co.cert || !p->co.key))
			die_usage("--listen with TLS needs --cert FILE and --key FILE (or use "
				  "--plaintext)");
		if (p->co.ca || p->co.insecure || p->co.has_cert_hash)
			die_usage("--ca/--insecure/--cert-hash verify a server; with --listen this "
				  "end is the server");
	} else {
		if (optind + 1 != argc)
			die_usage(optind == argc
				      ? "missing HOST:PORT of the relay (or use --listen)"
				      : "too many arguments; give one HOST:PORT");
		if (moq_cli_target(&p->co, argv[optind], p->host, sizeof p->host, &p->port, err,
				   sizeof err))
			die_usage(err);
		if (p->co.webtransport && p->co.plaintext)
			die_usage("an https:// URL is WebTransport over TLS; drop --plaintext");
		if (!p->host[0])
			die_usage("HOST:PORT: the host is missing");
		if (p->co.cert || p->co.key)
			die_usage("--cert/--key are for --listen; a client verifies the relay with "
				  "--ca or --insecure");
		if (!p->co.plaintext && !p->co.ca && !p->co.insecure && !p->co.has_cert_hash)
			die_usage(
			    "TLS needs --ca FILE or --cert-hash SHA256 to verify the relay (or "
			    "--insecure, or --plaintext on both ends)");
		if (p->co.has_cert_hash && (p->co.ca || p->co.insecure))
			die_usage("--cert-hash pins the certificate; drop --ca/--insecure");
	}
	if (p->co.plaintext &&
	    (p->co.cert || p->co.key || p->co.ca || p->co.insecure || p->co.has_cert_hash))
		die_usage("--plaintext does not use --cert/--key/--ca/--insecure/--cert-hash; drop "
			  "them");
	if (p->co.cert)
		check_readable("--cert", p->co.cert);
	if (p->co.key)
		check_readable("--key", p->co.key);
	if (p->co.ca)
		check_readable("--ca", p->co.ca);
	if (p->co.qlog_dir && moq_cli_qlog_dir_check(p->co.qlog_dir, err, sizeof err))
		die_usage(err);
	if (moq_cli_namespace("--namespace", a->ns, &p->ns, p->ns_store, sizeof p->ns_store, 0, err,
			      sizeof err))
		die_usage(err);
	if (pub_h264_mode(p)) {
		if (a->datagram_all)
			die_usage("--datagram is for synthetic tracks; H.264 uses subgroups");
		for (size_t i = 0; i < a->ntracks; i++)
			if (a->dgram[i])
				die_usage("--datagram-track is for synthetic tracks, not --h264");
		if (!p->priority_set)
			p->priority = 0;
		if (p->priority == 255)
			die_usage(
			    "--priority: with --h264 subgroup 1 uses priority + 1; give 0..254");
	} else {
		if (!p->priority_set)
			p->priority = 128;
		if (p->loop_file)
			die_usage("--loop needs --h264 FILE");
	}
	for (size_t i = 0; i < a->ntracks; i++)
		add_track(p, a->tracks[i], a->dgram[i] || a->datagram_all);
	if (!p->ntracks)
		add_track(p, pub_h264_mode(p) ? "video" : "test", a->datagram_all);
	for (size_t i = 0; i < p->ntracks; i++) {
		if (p->tracks[i].datagram && p->object_size > DGRAM_MAX_OBJECT) {
			snprintf(err, sizeof err,
				 "--object-size %llu does not fit a QUIC datagram; datagram tracks "
				 "take at most %d bytes",
				 (unsigned long long)p->object_size, DGRAM_MAX_OBJECT);
			die_usage(err);
		}
	}
	if (pub_h264_mode(p))
		load_h264(p);
	else
		p->bufcap = p->object_size;
	p->buf = malloc(p->bufcap);
	if (!p->buf) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return MOQ_EXIT_INTERNAL;
	}
	return -1;
}

/* Listens or connects, runs the loop until the end: the exit code. */
static int run(struct pub *p)
{
	char err[MOQ_CLI_ERR_LEN];
	int sfd = moq_cli_signalfd();

	p->loop = moq_cli_loop_new(prog, sfd, on_signal, p);
	if (!p->loop)
		return MOQ_EXIT_INTERNAL;
	p->pump = moq_timer_new(p->loop, pub_pump_cb, p);
	p->stop_timer = moq_timer_new(p->loop, stop_timer_cb, p);
	p->close_timer = moq_timer_new(p->loop, close_timer_cb, p);

	moq_cli_session_config(&p->scfg, p->loop, &session_cb, NULL, &p->tok,
			       p->listen ? NULL : p->co.token);
	p->scfg.tx_buffer_low = 1u << 20;
	moq_cli_session_target(&p->scfg, &p->co);

	struct moq_quic_config q;
	moq_cli_quic_config(&q, &p->co);
	q.listen = p->listen;
	q.local_addr = p->listen ? p->host : NULL;
	q.local_port = p->listen ? p->port : 0;
	if (p->listen) {
		p->acc.cfg = &p->scfg;
		p->acc.on_session = on_session;
		p->acc.arg = p;
		q.user = &p->acc;
	}
	p->ep = moq_quic_endpoint_new(p->loop, &q, err, sizeof err);
	if (!p->ep) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return MOQ_EXIT_USAGE;
	}
	if (p->listen) {
		fprintf(stderr, "%s: listening on %s%s%s:%u (%s)\n", prog,
			strchr(p->host, ':') ? "[" : "", p->host, strchr(p->host, ':') ? "]" : "",
			moq_quic_endpoint_port(p->ep), p->co.plaintext ? "plaintext" : "TLS");
	} else {
		struct conn *cn = calloc(1, sizeof(*cn));
		if (!cn)
			return MOQ_EXIT_INTERNAL;
		cn->p = p;
		p->scfg.user = cn;
		struct moq_session *s =
		    moq_session_connect(p->ep, p->host, p->port, &p->scfg, err, sizeof err);
		if (!s) {
			fprintf(stderr, "%s: cannot connect to %s:%u: %s\n", prog, p->host, p->port,
				err);
			return MOQ_EXIT_CONNECT;
		}
		cn->s = s;
		moq_session_set_user(s, cn);
		p->client = cn;
		p->sessions = 1;
	}

	moq_loop_run(p->loop);

	fprintf(stderr, "%s: sent %llu objects, %llu bytes", prog,
		(unsigned long long)p->objects_sent, (unsigned long long)p->bytes_sent);
	if (p->dgram_drops)
		fprintf(stderr, "; %llu datagrams not sent (queue full or too late)",
			(unsigned long long)p->dgram_drops);
	fputc('\n', stderr);
	moq_quic_endpoint_free(p->ep);
	moq_timer_free(p->pump);
	moq_timer_free(p->stop_timer);
	moq_timer_free(p->close_timer);
	moq_loop_free(p->loop);
	if (sfd >= 0)
		close(sfd);
	moq_h264_index_free(&p->ix);
	free(p->file);
	free(p->buf);
	return p->exit_code;
}

int main(int argc, char **argv)
{
	static struct pub P;
	struct pub_args a = {.ns = "moq-pub"};

	int rc = parse_options(&P, &a, argc, argv);
	if (rc < 0)
		rc = check_options(&P, &a, argc, argv);
	return rc < 0 ? run(&P) : rc;
}
