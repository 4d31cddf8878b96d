/* moq-relayd: the control socket's commands (docs/relayctl.md). The socket
 * itself is agent/lib/relay_ctl.c; this file turns the daemon's state into
 * one JSON document per command: status, subscribers, tracks, stats, help. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gauges.h"
#include "ctl.h"
#include "fastpath.h"
#include "json.h"
#include "lib/fp_info.h"
#include "lib/relay_ctl.h"
#include "log.h"
#include "quic/quic.h"
#include "relayd.h"

#define MOD "ctl"
/* main.c's RELAYD_VERSION lives there; keep the two equal. */
#define RELAYD_CTL_VERSION "0.1"

static const struct {
	const char *name, *help;
} commands[] = {
    {"status", "version, pid, uptime, fast path on/off, session/track counts"},
    {"subscribers", "downstream sessions with their subscriptions, and the fast-path "
		    "subscriber snapshot"},
    {"tracks", "tracks: name, publisher, subscriber count, cache"},
    {"stats", "the relay's cumulative counters"},
    {"help", "this list"},
};

static void addr_text(const struct sockaddr *sa, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(out, len, "?");
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)))
			snprintf(out, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)))
			snprintf(out, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
}

static void peer_addr(const struct peer *p, char *out, size_t len)
{
	struct moq_quic_conn *c = p && p->s ? moq_session_conn(p->s) : NULL;
	socklen_t sl = 0;

	addr_text(c ? moq_quic_conn_peer(c, &sl) : NULL, out, len);
}

static void kv_str(struct json_writer *w, const char *k, const char *v)
{
	json_kv_cstring(w, k, v ? v : "");
}

static void kv_bool(struct json_writer *w, const char *k, bool v)
{
	json_kv_bool(w, k, v);
}

/* The fast-path snapshot; *n entries, NULL when there are none. */
static struct fp_sub_info *fp_snapshot(struct relayd *d, uint32_t *n)
{
	struct fp_sub_info probe;
	uint32_t want, got;
	struct fp_sub_info *v;

	*n = 0;
	want = relayd_fp_snapshot(d, &probe, 1); /* how many there are */
	if (!want)
		return NULL;
	v = calloc(want, sizeof(*v));
	if (!v)
		return NULL;
	got = relayd_fp_snapshot(d, v, want);
	*n = got < want ? got : want;
	return v;
}

static void cmd_status(struct relayd *d, struct json_writer *w)
{
	struct relay_gauges g;
	uint32_t nfp = 0;
	struct fp_sub_info *fp = fp_snapshot(d, &nfp);
	uint64_t now = moq_loop_now(), t0 = d->ctl ? relay_ctl_started_ns(d->ctl) : now;
	char listen[300];

	free(fp);
	relayd_gauges(d, &g);
	snprintf(listen, sizeof(listen), strchr(d->cfg.listen_host, ':') ? "[%s]:%u" : "%s:%u",
		 d->cfg.listen_host, d->ep ? moq_quic_endpoint_port(d->ep) : d->cfg.listen_port);
	json_begin_object(w);
	kv_str(w, "daemon", "moq-relayd");
	kv_str(w, "version", RELAYD_CTL_VERSION);
	json_kv_u64(w, "pid", (uint64_t)getpid());
	json_kv_u64(w, "uptime_ms", (now - t0) / 1000000ull);
	kv_str(w, "listen", listen);
	kv_bool(w, "plaintext", d->cfg.plaintext);
	kv_bool(w, "fast_path", d->cfg.fast_path);
	kv_str(w, "bpf_pin_dir", d->cfg.bpf_pin_dir);
	json_kv_u64(w, "fast_path_subscribers", nfp);
	kv_str(w, "upstream", d->cfg.upstream);
	kv_bool(w, "upstream_connected", d->upstream && d->upstream->s);
	kv_bool(w, "draining", d->draining);
	json_kv_u64(w, "sessions", g.sessions);
	json_kv_u64(w, "webtransport_sessions", g.webtransport_sessions);
	json_kv_u64(w, "publishers", g.publishers);
	json_kv_u64(w, "subscribers", g.subscribers);
	json_kv_u64(w, "tracks", g.tracks);
	json_kv_u64(w, "cache_groups", g.cache_groups);
	json_kv_u64(w, "cache_bytes", g.cache_bytes);
	json_end_object(w);
}

static void fp_entry(struct json_writer *w, const struct fp_sub_info *f)
{
	json_begin_object(w);
	json_kv_u64(w, "slot", f->slot);
	json_kv_u64(w, "conn_id", f->conn_id);
	json_kv_bytes(w, "peer", (const uint8_t *)f->peer, strnlen(f->peer, sizeof(f->peer)));
	json_kv_u64(w, "kernel_packets", f->kernel_packets);
	json_kv_u64(w, "kernel_bytes", f->kernel_bytes);
	json_kv_u64(w, "agent_packets", f->agent_packets);
	json_kv_u64(w, "agent_bytes", f->agent_bytes);
	json_kv_u64(w, "retransmits", f->retransmits);
	json_kv_u64(w, "lost", f->lost);
	json_kv_u64(w, "gate_drops", f->gate_drops);
	json_kv_u64(w, "resets_sent", f->resets_sent);
	/* the writer has no signed numbers: a negative budget as its text */
	json_key(w, "budget");
	if (f->budget >= 0) {
		json_u64(w, (uint64_t)f->budget);
	} else {
		char b[24];

		snprintf(b, sizeof(b), "%lld", (long long)f->budget);
		json_cstring(w, b);
	}
	json_kv_u64(w, "cwnd", f->cwnd);
	json_kv_u64(w, "bytes_in_flight", f->bytes_in_flight);
	json_kv_u64(w, "srtt_us", f->srtt_us);
	json_kv_u64(w, "min_rtt_us", f->min_rtt_us);
	json_end_object(w);
}

static void cmd_subscribers(struct relayd *d, struct json_writer *w)
{
	uint32_t nfp = 0;
	struct fp_sub_info *fp = fp_snapshot(d, &nfp);
	char addr[96];

	json_begin_object(w);
	json_key(w, "sessions");
	json_begin_array(w);
	for (struct peer *p = d->peers; p; p = p->next) {
		size_t nsubs = 0;

		if (!p->s || p->is_upstream || (p->is_publisher && !p->subs))
			continue;
		for (struct relay_sub *s = p->subs; s; s = s->peer_next)
			nsubs++;
		peer_addr(p, addr, sizeof(addr));
		json_begin_object(w);
		kv_str(w, "session", moq_session_name(p->s));
		kv_str(w, "peer", addr);
		kv_str(w, "implementation", moq_session_peer(p->s)->implementation);
		kv_str(w, "transport", moq_session_is_webtransport(p->s) ? "webtransport" : "quic");
		{
			/* kernel or userspace, and why (TLS cipher suite,
			 * WebTransport: docs/fast-path-tls.md) */
			const char *note, *mode = relayd_fp_conn_mode(p, &note);

			if (mode) {
				kv_str(w, "fast_path_mode", mode);
				if (note)
					kv_str(w, "fast_path_note", note);
			}
		}
		kv_bool(w, "publisher", p->is_publisher);
		json_kv_u64(w, "subscriptions_count", nsubs);
		json_key(w, "subscriptions");
		json_begin_array(w);
		for (struct relay_sub *s = p->subs; s; s = s->peer_next) {
			json_begin_object(w);
			kv_str(w, "track", s->track ? s->track->name.text : "?");
			json_kv_u64(w, "request_id", s->req ? moq_request_id(s->req) : 0);
			json_kv_u64(w, "alias", s->alias);
			kv_bool(w, "established", s->established);
			json_kv_u64(w, "subscriber_priority", s->sub_priority);
			json_kv_u64(w, "start_group", s->range.start.group);
			json_kv_u64(w, "start_object", s->range.start.object);
			if (s->range.has_end)
				json_kv_u64(w, "end_group", s->range.end_group);
			json_kv_u64(w, "objects_out", s->objects_out);
			json_kv_u64(w, "bytes_out", s->bytes_out);
			json_kv_u64(w, "streams_reset", s->streams_reset);
			kv_bool(w, "fast_path", s->fast);
			json_kv_u64(w, "kernel_packets", s->kernel_packets);
			json_kv_u64(w, "kernel_bytes", s->kernel_bytes);
			json_end_object(w);
		}
		json_end_array(w);
		json_end_object(w);
	}
	json_end_array(w);
	kv_bool(w, "fast_path", d->cfg.fast_path);
	json_key(w, "fast_path_subscribers");
	json_begin_array(w);
	for (uint32_t i = 0; i < nfp; i++)
		fp_entry(w, &fp[i]);
	json_end_array(w);
	json_end_object(w);
	free(fp);
}

static void cmd_tracks(struct relayd *d, struct json_writer *w)
{
	char addr[96];

	json_begin_object(w);
	json_key(w, "tracks");
	json_begin_array(w);
	for (struct relay_track *t = d->tracks.head; t; t = t->next) {
		struct peer *pub = t->up_peer;

		json_begin_object(w);
		kv_str(w, "track", t->name.text);
		json_key(w, "namespace");
		json_begin_array(w);
		for (size_t i = 0; i < t->name.ns.nfields; i++)
			json_bytes(w, t->name.ns.fields[i].ptr, t->name.ns.fields[i].len);
		json_end_array(w);
		json_kv_bytes(w, "name", t->name.name.ptr, t->name.name.len);
		kv_str(w, "state", t->state == RELAY_TRACK_ACTIVE ? "active" : "pending");
		kv_str(w, "source", t->up_is_publish ? "publish" : "subscribe");
		if (pub && pub->s) {
			peer_addr(pub, addr, sizeof(addr));
			kv_str(w, "publisher", moq_session_name(pub->s));
			kv_str(w, "publisher_peer", addr);
			kv_bool(w, "publisher_is_upstream", pub->is_upstream);
		} else {
			json_key(w, "publisher");
			json_null(w);
		}
		json_kv_u64(w, "upstream_alias", t->up_alias);
		json_kv_u64(w, "subscribers", t->nsubs);
		json_kv_u64(w, "cache_groups", t->cache.ngroups);
		json_kv_u64(w, "cache_bytes", t->cache.bytes);
		if (t->cache.has_largest) {
			json_kv_u64(w, "largest_group", t->cache.largest.group);
			json_kv_u64(w, "largest_object", t->cache.largest.object);
		}
		json_kv_u64(w, "objects_in", t->objects_in);
		json_kv_u64(w, "bytes_in", t->bytes_in);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void cmd_stats(struct relayd *d, struct json_writer *w)
{
	const struct relay_stats *s = &d->stats;
	struct relay_gauges g;

	relayd_gauges(d, &g);
	json_begin_object(w);
	json_kv_u64(w, "objects_in", s->objects_in);
	json_kv_u64(w, "bytes_in", s->bytes_in);
	json_kv_u64(w, "objects_out", s->objects_out);
	json_kv_u64(w, "bytes_out", s->bytes_out);
	json_kv_u64(w, "objects_from_cache", s->objects_from_cache);
	json_kv_u64(w, "streams_reset_slow", s->streams_reset_slow);
	json_kv_u64(w, "sessions_accepted", s->sessions_accepted);
	json_kv_u64(w, "sessions_refused_auth", s->sessions_refused_auth);
	json_kv_u64(w, "subscribes", s->subscribes);
	json_kv_u64(w, "subscribe_errors", s->subscribe_errors);
	json_kv_u64(w, "fetches", s->fetches);
	json_kv_u64(w, "fetch_errors", s->fetch_errors);
	json_kv_u64(w, "upstream_subscribes", s->upstream_subscribes);
	json_kv_u64(w, "sessions", g.sessions);
	json_kv_u64(w, "publishers", g.publishers);
	json_kv_u64(w, "subscribers", g.subscribers);
	json_kv_u64(w, "tracks", g.tracks);
	json_kv_u64(w, "cache_groups", g.cache_groups);
	json_kv_u64(w, "cache_bytes", g.cache_bytes);
	if (d->ctl) {
		json_kv_u64(w, "ctl_answered", relay_ctl_answered(d->ctl));
		json_kv_u64(w, "ctl_refused", relay_ctl_refused(d->ctl));
	}
	json_end_object(w);
}

static void cmd_help(struct json_writer *w)
{
	json_begin_object(w);
	json_key(w, "commands");
	json_begin_object(w);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		json_kv_cstring(w, commands[i].name, commands[i].help);
	json_end_object(w);
	json_end_object(w);
}

static void handle(const char *cmd, FILE *out, void *arg)
{
	struct relayd *d = arg;
	struct json_writer w;

	json_writer_init(&w);
	if (!strcmp(cmd, "status")) {
		cmd_status(d, &w);
	} else if (!strcmp(cmd, "subscribers")) {
		cmd_subscribers(d, &w);
	} else if (!strcmp(cmd, "tracks")) {
		cmd_tracks(d, &w);
	} else if (!strcmp(cmd, "stats")) {
		cmd_stats(d, &w);
	} else if (!strcmp(cmd, "help")) {
		cmd_help(&w);
	} else {
		char msg[RELAY_CTL_MAX_REQUEST + 96];

		snprintf(msg, sizeof(msg),
			 "unknown command '%s'; the commands are status, subscribers, tracks, "
			 "stats, help",
			 cmd);
		json_begin_object(&w);
		json_kv_cstring(&w, "error", msg);
		json_end_object(&w);
	}
	if (w.oom) {
		fputs("{\"error\": \"out of memory\"}\n", out);
	} else {
		fwrite(w.buf, 1, w.len, out);
		fputc('\n', out);
	}
	json_writer_free(&w);
}

int relayd_ctl_start(struct relayd *d)
{
	struct relay_ctl_config cfg = {
	    .path = d->cfg.ctl_socket,
	    .handler = handle,
	    .arg = d,
	};
	char err[512];

	d->ctl = NULL;
	if (!d->cfg.ctl_socket[0]) {
		moq_info(MOD, "control socket disabled (--ctl-socket none)");
		return 0;
	}
	if (relay_ctl_open(&d->ctl, d->loop, &cfg, err, sizeof(err))) {
		if (d->cfg.ctl_socket_explicit) {
			fprintf(stderr, "moq-relayd: --ctl-socket: %s\n", err);
			return -1;
		}
		/* the default path: another relay on this host may hold it */
		moq_warn(MOD,
			 "%s; running without a control socket (give --ctl-socket PATH, or none)",
			 err);
		return 0;
	}
	moq_info(MOD, "control socket %s (moq-relayctl --socket %s)", d->cfg.ctl_socket,
		 d->cfg.ctl_socket);
	return 0;
}

void relayd_ctl_stop(struct relayd *d)
{
	relay_ctl_close(d->ctl);
	d->ctl = NULL;
}
