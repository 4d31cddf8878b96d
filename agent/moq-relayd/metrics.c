/* moq-relayd: the Prometheus endpoint (--metrics-listen HOST:PORT).
 *
 * Renders on every scrape, from the daemon's own state (no extra
 * bookkeeping on the data path):
 *  - gauges: sessions, publishers, subscribers, tracks, subscriptions,
 *    cache bytes/groups (walked from d->peers and d->tracks);
 *  - counters of struct relay_stats (userspace path: path="userspace");
 *  - with --fast-path on: the kernel path from the pinned moq_stats map
 *    (under --bpf-pin-dir)
 *    (packets/bytes forwarded by tc/subscriber_egress as path="kernel",
 *    and every non-zero (program, reason) pair), and per fast subscriber
 *    from relayd_fp_snapshot, at most METRICS_MAX_FP_SUBS subscribers
 *    (slot order of the snapshot; moq_relay_fp_subscribers says how many
 *    exist), so one scrape is bounded to a few thousand series. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fastpath.h"
#include "gauges.h"
#include "metrics.h"
#include "lib/fp_info.h"
#include "lib/fp_names.h"
#include "lib/relay_metrics.h"
#include "moq_maps.h"
#include "relayd.h"

#define METRICS_MAX_FP_SUBS 256

static void gauge(FILE *f, const char *name, const char *help, uint64_t v)
{
	relay_metrics_family(f, name, "gauge", help);
	relay_metrics_u64(f, name, NULL, v);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	relay_metrics_family(f, name, "counter", help);
	relay_metrics_u64(f, name, NULL, v);
}

/* Sum of the per-CPU moq_stats values; false when the map is not there or
 * not of this build's layout. */
static bool read_kernel_stats(const char *pin_dir, struct moq_stat *out)
{
	char path[RELAY_CONFIG_STR_MAX + 16];
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct moq_stat *pc;
	int fd, ncpu;
	bool ok = false;

	snprintf(path, sizeof(path), "%s/moq_stats", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.value_size != sizeof(struct moq_stat) ||
	    info.max_entries != MOQ_STATS_ENTRIES) {
		close(fd);
		return false;
	}
	pc = calloc((size_t)ncpu, sizeof(*pc));
	if (!pc) {
		close(fd);
		return false;
	}
	for (__u32 k = 0; k < MOQ_STATS_ENTRIES; k++) {
		out[k].packets = out[k].bytes = 0;
		if (bpf_map_lookup_elem(fd, &k, pc))
			goto out;
		for (int c = 0; c < ncpu; c++) {
			out[k].packets += pc[c].packets;
			out[k].bytes += pc[c].bytes;
		}
	}
	ok = true;
out:
	free(pc);
	close(fd);
	return ok;
}

static void render_kernel(FILE *f, struct relayd *d, const struct moq_stat *ks, bool have)
{
	const struct moq_stat *fw = &ks[MOQ_PROG_SUBSCRIBER_EGRESS * MOQ_R_MAX + MOQ_R_FORWARDED];

	(void)d;
	relay_metrics_family(f, "moq_relay_kernel_stats_available", "gauge",
			     "1 when the pinned moq_stats map of this build's layout was read");
	relay_metrics_u64(f, "moq_relay_kernel_stats_available", NULL, have);
	if (!have)
		return;
	relay_metrics_family(f, "moq_relay_kernel_packets_total", "counter",
			     "packets counted by the tc programs, by program and reason "
			     "(tc-progs/moq_maps.h enum moq_reason; only reasons seen so far)");
	for (int p = 0; p < MOQ_PROG_MAX; p++)
		for (int r = 0; r < MOQ_R_MAX; r++)
			if (ks[p * MOQ_R_MAX + r].packets)
				relay_metrics_u64(f, "moq_relay_kernel_packets_total",
						  (const char *[]){"prog", fp_prog_name(p),
								   "reason", fp_reason_name(r),
								   NULL},
						  ks[p * MOQ_R_MAX + r].packets);
	relay_metrics_family(f, "moq_relay_kernel_bytes_total", "counter",
			     "skb bytes counted by the tc programs, by program and reason");
	for (int p = 0; p < MOQ_PROG_MAX; p++)
		for (int r = 0; r < MOQ_R_MAX; r++)
			if (ks[p * MOQ_R_MAX + r].packets)
				relay_metrics_u64(f, "moq_relay_kernel_bytes_total",
						  (const char *[]){"prog", fp_prog_name(p),
								   "reason", fp_reason_name(r),
								   NULL},
						  ks[p * MOQ_R_MAX + r].bytes);
	relay_metrics_family(f, "moq_relay_packets_out_total", "counter",
			     "media packets sent to subscribers by the kernel fast path "
			     "(tc/subscriber_egress, rewritten and sent)");
	relay_metrics_u64(f, "moq_relay_packets_out_total",
			  (const char *[]){"path", "kernel", NULL}, fw->packets);
}

static void fp_series(FILE *f, const struct fp_sub_info *s, uint32_t n, const char *name,
		      const char *type, const char *help, size_t off, bool is_signed, double scale)
{
	relay_metrics_family(f, name, type, help);
	for (uint32_t i = 0; i < n; i++) {
		char slot[16];
		const char *lab[] = {"slot", slot, "peer", s[i].peer, NULL};
		const char *p = (const char *)&s[i] + off;

		snprintf(slot, sizeof(slot), "%u", s[i].slot);
		if (scale != 0.0)
			relay_metrics_double(f, name, lab, (double)*(const uint64_t *)p * scale);
		else if (is_signed)
			relay_metrics_i64(f, name, lab, *(const int64_t *)p);
		else
			relay_metrics_u64(f, name, lab, *(const uint64_t *)p);
	}
}

static void fp_series_path(FILE *f, const struct fp_sub_info *s, uint32_t n, const char *name,
			   const char *help, size_t koff, size_t aoff)
{
	relay_metrics_family(f, name, "counter", help);
	for (uint32_t i = 0; i < n; i++) {
		char slot[16];

		snprintf(slot, sizeof(slot), "%u", s[i].slot);
		relay_metrics_u64(
		    f, name,
		    (const char *[]){"slot", slot, "peer", s[i].peer, "path", "kernel", NULL},
		    *(const uint64_t *)((const char *)&s[i] + koff));
		relay_metrics_u64(
		    f, name,
		    (const char *[]){"slot", slot, "peer", s[i].peer, "path", "agent", NULL},
		    *(const uint64_t *)((const char *)&s[i] + aoff));
	}
}

#define OFF(field) offsetof(struct fp_sub_info, field)

static void render_fp_subs(FILE *f, struct relayd *d)
{
	struct fp_sub_info *s = calloc(METRICS_MAX_FP_SUBS, sizeof(*s));
	uint32_t total, n;

	if (!s)
		return;
	total = relayd_fp_snapshot(d, s, METRICS_MAX_FP_SUBS);
	n = total < METRICS_MAX_FP_SUBS ? total : METRICS_MAX_FP_SUBS;
	gauge(f, "moq_relay_fp_subscribers", "fast-path subscriber connections", total);
	gauge(f, "moq_relay_fp_subscribers_reported",
	      "fast-path subscribers with per-subscriber series in this scrape (at most 256)", n);
	fp_series_path(f, s, n, "moq_relay_fp_subscriber_packets_total",
		       "media packets to this subscriber: path=kernel by tc egress, "
		       "path=agent written by the agent",
		       OFF(kernel_packets), OFF(agent_packets));
	fp_series_path(f, s, n, "moq_relay_fp_subscriber_bytes_total",
		       "media bytes to this subscriber by path", OFF(kernel_bytes),
		       OFF(agent_bytes));
	fp_series(f, s, n, "moq_relay_fp_subscriber_retransmits_total", "counter",
		  "media packets re-sent after loss", OFF(retransmits), false, 0);
	fp_series(f, s, n, "moq_relay_fp_subscriber_lost_total", "counter",
		  "media packets declared lost", OFF(lost), false, 0);
	fp_series(f, s, n, "moq_relay_fp_subscriber_gate_drops_total", "counter",
		  "packets dropped by the egress congestion gate or a stream reset",
		  OFF(gate_drops), false, 0);
	fp_series(f, s, n, "moq_relay_fp_subscriber_resets_sent_total", "counter",
		  "RESET_STREAM frames sent for media streams", OFF(resets_sent), false, 0);
	fp_series(f, s, n, "moq_relay_fp_subscriber_budget_bytes", "gauge",
		  "egress gate byte credit", OFF(budget), true, 0);
	fp_series(f, s, n, "moq_relay_fp_subscriber_cwnd_bytes", "gauge", "media congestion window",
		  OFF(cwnd), false, 0);
	fp_series(f, s, n, "moq_relay_fp_subscriber_bytes_in_flight", "gauge",
		  "media bytes sent and not yet acknowledged or lost", OFF(bytes_in_flight), false,
		  0);
	fp_series(f, s, n, "moq_relay_fp_subscriber_srtt_seconds", "gauge",
		  "smoothed RTT from media ACKs (0 before the first sample)", OFF(srtt_us), false,
		  1e-6);
	fp_series(f, s, n, "moq_relay_fp_subscriber_min_rtt_seconds", "gauge",
		  "minimum RTT from media ACKs (0 before the first sample)", OFF(min_rtt_us), false,
		  1e-6);
	free(s);
}

static void render_fp_map_failures(FILE *f, struct relayd *d)
{
	struct fp_map_failures mf;

	relayd_fp_map_failures(d, &mf);
	relay_metrics_family(
	    f, "moq_relay_fp_map_update_failures_total", "counter",
	    "updates and deletes of the pinned fast-path maps that failed, by map");
	for (unsigned i = 0; i < mf.n; i++)
		relay_metrics_u64(f, "moq_relay_fp_map_update_failures_total",
				  (const char *[]){"map", mf.map[i], NULL}, mf.count[i]);
	counter(f, "moq_relay_fp_subscriptions_userspace_total",
		"fast subscriptions served in userspace because moq_subscriptions refused them",
		mf.sub_fallbacks);
}

/* The listening endpoint's QUIC counters (moq_quic_endpoint_stats):
 * admission (Retry, handshake cap), stray and closing-period packets, send
 * failures. The upstream client endpoint's are not included. */
static void render_quic(FILE *f, struct relayd *d)
{
	struct moq_quic_endpoint_stats q;

	if (!d->ep)
		return;
	moq_quic_endpoint_stats(d->ep, &q);
	counter(f, "moq_relay_quic_rx_datagrams_total", "UDP datagrams received", q.rx_datagrams);
	counter(f, "moq_relay_quic_tx_datagrams_total", "UDP datagrams sent", q.tx_datagrams);
	counter(f, "moq_relay_quic_rx_unknown_cid_total",
		"short-header packets for no known connection ID", q.rx_unknown);
	counter(f, "moq_relay_quic_tx_stateless_reset_total", "stateless resets sent",
		q.tx_stateless_reset);
	counter(f, "moq_relay_quic_rx_profile_mismatch_total",
		"Initials of the other profile (TLS vs plaintext)", q.rx_profile_mismatch);
	counter(f, "moq_relay_quic_tx_errors_total", "packets lost because sendto failed",
		q.tx_errors);
	counter(f, "moq_relay_quic_tx_queued_total",
		"sends that waited for the socket buffer (EPOLLOUT)", q.tx_queued);
	counter(f, "moq_relay_quic_rx_in_closing_total",
		"packets for connections in their closing period", q.rx_in_closing);
	counter(f, "moq_relay_quic_tx_close_resent_total",
		"CONNECTION_CLOSE packets repeated (rate-limited)", q.tx_close_resent);
	counter(f, "moq_relay_quic_tx_retry_total",
		"Retry packets sent (handshakes over half of --max-handshakes)", q.tx_retry);
	counter(f, "moq_relay_quic_rx_bad_token_total",
		"Initials with an invalid or expired Retry token", q.rx_bad_token);
	counter(f, "moq_relay_quic_handshakes_evicted_total",
		"handshakes replaced by a newer client at --max-handshakes", q.hs_evicted);
	counter(f, "moq_relay_quic_handshakes_refused_total",
		"clients refused: --max-handshakes full of validated handshakes", q.hs_refused);
	counter(f, "moq_relay_quic_own_sockets_total",
		"sockets of their own opened for publishers on the relay's port", q.own_sockets);
	counter(f, "moq_relay_quic_rx_own_datagrams_total",
		"datagrams read from publishers' own sockets", q.rx_own);
	counter(f, "moq_relay_quic_conns_refused_total",
		"handshakes completed beyond --max-sessions (closed)", q.conn_refused);
}

static void render_fp_book(FILE *f, struct relayd *d)
{
	struct fp_book_info b;

	relayd_fp_book_info(d, &b);
	relay_metrics_family(f, "moq_relay_fp_records_total", "counter",
			     "records the agent read from the kernel: source=ring exception events "
			     "(clones not forwarded), source=sent_log forwarded packets");
	relay_metrics_u64(f, "moq_relay_fp_records_total", (const char *[]){"source", "ring", NULL},
			  b.ring_events);
	relay_metrics_u64(f, "moq_relay_fp_records_total",
			  (const char *[]){"source", "sent_log", NULL}, b.log_entries);
	counter(f, "moq_relay_fp_log_full_total",
		"clones dropped because their subscriber's sent log was full (the agent sent them)",
		b.log_full);
	counter(f, "moq_relay_fp_pass_ends_total",
		"loop passes whose upstream bytes the fast path served in one batch", b.pass_ends);
	counter(f, "moq_relay_fp_map_batches_total",
		"batched moq_down_streams writes (BPF_MAP_UPDATE_BATCH calls)", b.map_batches);
}

/* TLS relays only (docs/fast-path-tls.md) */
static void render_fp_tls(FILE *f, struct relayd *d)
{
	struct fp_tls_info t;

	relayd_fp_tls_info(d, &t);
	if (!t.tls)
		return;
	relay_metrics_family(f, "moq_relay_fp_tls_userspace_total", "counter",
			     "TLS subscriber connections the fast path left in userspace: "
			     "reason=cipher_suite (not TLS_AES_128_GCM_SHA256), "
			     "reason=webtransport");
	relay_metrics_u64(f, "moq_relay_fp_tls_userspace_total",
			  (const char *[]){"reason", "cipher_suite", NULL}, t.userspace_suite);
	relay_metrics_u64(f, "moq_relay_fp_tls_userspace_total",
			  (const char *[]){"reason", "webtransport", NULL}, t.userspace_wt);
	counter(f, "moq_relay_fp_tls_key_exports_total",
		"1-RTT key sets installed in the kernel (subscriber tx, publisher rx)",
		t.key_exports);
	counter(f, "moq_relay_fp_tls_key_changes_total",
		"1-RTT key changes (key updates) the QUIC layer reported", t.key_changes);
	counter(f, "moq_relay_fp_tls_key_failures_total",
		"key exports that failed (the connection's kernel keys were wiped instead)",
		t.key_failures);
}

static void render(FILE *f, void *arg)
{
	struct relayd *d = arg;
	const struct relay_stats *st = &d->stats;
	static struct moq_stat ks[MOQ_STATS_ENTRIES];
	bool have_ks = false;
	struct relay_gauges g;

	relayd_gauges(d, &g);
	gauge(f, "moq_relay_sessions", "open MoQT sessions (publishers, subscribers, upstream)",
	      g.sessions);
	gauge(f, "moq_relay_webtransport_sessions",
	      "open MoQT sessions over WebTransport (HTTP/3, ALPN h3)", g.webtransport_sessions);
	gauge(f, "moq_relay_publishers", "sessions that publish", g.publishers);
	gauge(f, "moq_relay_subscribers", "sessions with at least one subscription", g.subscribers);
	gauge(f, "moq_relay_tracks", "tracks the relay knows", g.tracks);
	gauge(f, "moq_relay_subscriptions", "downstream subscriptions over all tracks",
	      g.subscriptions);
	gauge(f, "moq_relay_cache_bytes", "object bytes in the track caches", g.cache_bytes);
	gauge(f, "moq_relay_cache_groups", "groups in the track caches", g.cache_groups);
	gauge(f, "moq_relay_draining", "1 after SIGTERM while sessions drain", d->draining);

	if (d->cfg.fast_path)
		have_ks = read_kernel_stats(d->cfg.bpf_pin_dir, ks);

	relay_metrics_family(f, "moq_relay_objects_in_total", "counter",
			     "objects received from publishers and the upstream relay");
	relay_metrics_u64(f, "moq_relay_objects_in_total",
			  (const char *[]){"path", "userspace", NULL}, st->objects_in);
	relay_metrics_family(
	    f, "moq_relay_bytes_in_total", "counter",
	    "object payload bytes received from publishers and the upstream relay");
	relay_metrics_u64(f, "moq_relay_bytes_in_total",
			  (const char *[]){"path", "userspace", NULL}, st->bytes_in);
	relay_metrics_family(f, "moq_relay_objects_out_total", "counter",
			     "objects to subscribers: path=userspace written by the agent's relay "
			     "(incl. from the cache), path=fast_path delivered by the fast path "
			     "(subgroup streams acknowledged whole, datagrams forwarded)");
	relay_metrics_u64(f, "moq_relay_objects_out_total",
			  (const char *[]){"path", "userspace", NULL}, st->objects_out);
	if (d->fp) {
		uint64_t fo, fb;

		relayd_fp_delivered(d, &fo, &fb);
		relay_metrics_u64(f, "moq_relay_objects_out_total",
				  (const char *[]){"path", "fast_path", NULL}, fo);
	}
	relay_metrics_family(f, "moq_relay_bytes_out_total", "counter",
			     "bytes to subscribers: path=userspace object payload bytes written by "
			     "the agent, path=kernel skb bytes sent by tc/subscriber_egress");
	relay_metrics_u64(f, "moq_relay_bytes_out_total",
			  (const char *[]){"path", "userspace", NULL}, st->bytes_out);
	if (have_ks)
		relay_metrics_u64(
		    f, "moq_relay_bytes_out_total", (const char *[]){"path", "kernel", NULL},
		    ks[MOQ_PROG_SUBSCRIBER_EGRESS * MOQ_R_MAX + MOQ_R_FORWARDED].bytes);
	counter(f, "moq_relay_objects_from_cache_total", "objects served from the cache",
		st->objects_from_cache);
	counter(f, "moq_relay_streams_reset_slow_total",
		"subgroup streams reset because a subscriber was over --sub-queue-bytes",
		st->streams_reset_slow);
	counter(f, "moq_relay_sessions_accepted_total", "sessions accepted", st->sessions_accepted);
	counter(f, "moq_relay_sessions_refused_auth_total",
		"sessions closed for a wrong or missing auth token", st->sessions_refused_auth);
	counter(f, "moq_relay_subscribes_total", "SUBSCRIBE requests received", st->subscribes);
	counter(f, "moq_relay_subscribe_errors_total", "SUBSCRIBE requests refused",
		st->subscribe_errors);
	counter(f, "moq_relay_fetches_total", "FETCH requests received", st->fetches);
	counter(f, "moq_relay_fetch_errors_total", "FETCH requests refused", st->fetch_errors);
	counter(f, "moq_relay_upstream_subscribes_total",
		"SUBSCRIBEs the relay sent to publishers or the upstream relay",
		st->upstream_subscribes);
	render_quic(f, d);
	if (d->cfg.fast_path) {
		struct fp_raw_info ri;

		render_kernel(f, d, ks, have_ks);
		render_fp_subs(f, d);
		render_fp_book(f, d);
		render_fp_tls(f, d);
		relayd_fp_raw_info(d, &ri);
		gauge(f, "moq_relay_fp_raw_bytes",
		      "upstream stream bytes the fast path keeps for gap fills and retransmissions "
		      "(buffer capacity; --fast-path-raw-bytes bounds it)",
		      ri.bytes);
		counter(f, "moq_relay_fp_raw_evicted_bytes_total",
			"upstream stream bytes dropped for --fast-path-stream-bytes / "
			"--fast-path-raw-bytes",
			ri.evicted_bytes);
		counter(f, "moq_relay_fp_raw_evictions_total",
			"times a stream's kept bytes were cut for those bounds", ri.evictions);
		counter(f, "moq_relay_fp_raw_gone_resets_total",
			"subgroup streams reset TOO_FAR_BEHIND for a subscriber that needed "
			"evicted bytes",
			ri.gone_resets);
		render_fp_map_failures(f, d);
	}
}

int relayd_metrics_start(struct relayd *d)
{
	char host[256], err[512];
	uint16_t port;

	if (!d->cfg.metrics_listen[0])
		return 0;
	if (relay_config_parse_url(d->cfg.metrics_listen, host, sizeof(host), &port, NULL, 0)) {
		fprintf(stderr, "moq-relayd: --metrics-listen: '%s' is not HOST:PORT\n",
			d->cfg.metrics_listen);
		return -1;
	}
	d->metrics = relay_metrics_start(d->loop, host, port, render, d, err, sizeof(err));
	if (!d->metrics) {
		fprintf(stderr, "moq-relayd: --metrics-listen %s: %s\n", d->cfg.metrics_listen,
			err);
		return -1;
	}
	moq_warn("metrics", "metrics on http://%s%s%s:%u/metrics", strchr(host, ':') ? "[" : "",
		 host, strchr(host, ':') ? "]" : "", relay_metrics_port(d->metrics));
	return 0;
}

void relayd_metrics_stop(struct relayd *d)
{
	relay_metrics_stop(d->metrics);
	d->metrics = NULL;
}
