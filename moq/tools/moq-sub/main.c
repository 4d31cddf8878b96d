/* moq-sub: MoQT subscriber for tests, demos and benchmarks.
 *
 * Subscribes to one or more tracks, checks every MQP1 payload
 * (moq/media/payload.h: CRC32C, filler, location), finds missing objects
 * from the sequence numbers, measures latency from the embedded
 * CLOCK_MONOTONIC send time, prints a status line every second and a
 * summary (--json: one JSON object on stdout), and can write the media it
 * received, in order, to a file (--output). See docs/tools.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "media/cli.h"
#include "media/client.h"
#include "media/payload.h"
#include "media/reorder.h"
#include "media/stats.h"
#include "quic/loop.h"
#include "quic/quic.h"
#include "session/session.h"

#include "sub.h"

const char *prog = "moq-sub";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: moq-sub [OPTIONS] HOST:PORT\n"
		"       moq-sub [OPTIONS] https://HOST[:PORT][/PATH]   over WebTransport\n"
		"\n"
		"Subscribes to tracks at a relay or a moq-pub --listen, checks every object\n"
		"(MQP1 payloads, docs/tools.md: length, CRC32C, filler, group/object ids),\n"
		"finds missing objects from the sequence numbers, and measures latency from\n"
		"the CLOCK_MONOTONIC send time in each payload (valid on one host).\n"
		"\n"
		"Connection:\n"
		"  --plaintext              plaintext QUIC profile (both ends must use it)\n"
		"  --ca FILE                PEM CA to verify the server's certificate\n"
		"  --insecure               do not verify the server's certificate\n"
		"  --cert-hash SHA256       trust only the server certificate with this SHA-256\n"
		"                           (64 hex digits; moq-relayd --dev-cert logs it)\n"
		"  --sni NAME               name checked against the certificate (default HOST)\n"
		"  --alpn STR               ALPN to offer (default moqt-18)\n"
		"  --auth-token TOKEN       send this AUTHORIZATION TOKEN in SETUP\n"
		"  --connect-timeout S      give up if the session is not ready after S seconds\n"
		"                           (default 10)\n"
		"  --qlog-dir DIR           write a qlog file per connection into DIR\n"
		"  --no-pacing              send bursts without QUIC pacing (benchmarks)\n"
		"  --max-stream-data BYTES  initial per-stream flow-control window offered\n"
		"                           to the server (default 16 MiB; tests)\n"
		"  --log-level LEVEL        error, warn (default), info or debug\n"
		"\n"
		"Tracks:\n"
		"  --namespace NS           track namespace, fields separated by '/'\n"
		"                           (default moq-pub)\n"
		"  --track NAME             subscribe to this track (repeat for several;\n"
		"                           default 'test')\n"
		"  --filter F               Subscription Filter: largest (Largest Object),\n"
		"                           next-group (Next Group Start), start:G[:O]\n"
		"                           (AbsoluteStart), range:G[:O]:END (AbsoluteRange,\n"
		"                           groups G..END); default: unfiltered\n"
		"  --delivery-timeout MS    ask for OBJECT_DELIVERY_TIMEOUT MS: the relay\n"
		"                           resets a subgroup stream (DELIVERY_TIMEOUT) rather\n"
		"                           than send an object older than MS (default: none)\n"
		"  --retry S                a refused SUBSCRIBE (e.g. DOES_NOT_EXIST at a relay\n"
		"                           the publisher has not reached yet) is sent again\n"
		"                           every 200 ms for up to S seconds after setup\n"
		"\n"
		"Stopping:\n"
		"  --count N                stop when every track has its first N objects\n"
		"                           (over all subgroup streams; missing ones get 2 s)\n"
		"  --duration S             stop after S seconds\n"
		"  (otherwise: when every track has ended with PUBLISH_DONE, the session\n"
		"   closes, or on SIGINT/SIGTERM)\n"
		"\n"
		"Output:\n"
		"  --output FILE            write the received media of one track to FILE in\n"
		"                           (group, object) order: each object's body without\n"
		"                           the 64-byte MQP1 header (H.264: an Annex-B stream\n"
		"                           ffprobe/ffplay can read)\n"
		"  --output-track NAME      which track --output writes (default the first)\n"
		"  --json                   print the summary as one JSON object on stdout\n"
		"  --quiet                  no status line every second\n"
		"  --tls-ciphers LIST       TLS: offer only these TLS 1.3 cipher suites, gnutls\n"
		"                           names separated by ',' (AES-128-GCM, AES-256-GCM,\n"
		"                           CHACHA20-POLY1305, AES-128-CCM; tests of the relay's\n"
		"                           fallback, docs/fast-path-tls.md)\n"
		"  --key-update-every N     TLS: initiate a 1-RTT key update (RFC 9001 6) every\n"
		"                           N packets received (N >= 100; retried at the next\n"
		"                           object while the previous one is not confirmed);\n"
		"                           the summary counts them as key_updates\n"
		"  --connections N          run N independent subscribers (each its own QUIC\n"
		"                           connection and UDP socket, one event loop), each\n"
		"                           checked as above; the summary adds connections,\n"
		"                           connections_ok and per_connection (default 1)\n"
		"  -h, --help               this text\n"
		"  (--cert/--key are refused: moq-sub is a client; it verifies with --ca)\n"
		"\n"
		"The summary has objects_received, objects_missing (sequence gaps; with\n"
		"--count also objects never received), bytes, integrity_errors,\n"
		"groups_complete, duplicates, latency_us {p50, p90, p99, max, mean},\n"
		"duration_s and the same per track; per track also streams_reset (data\n"
		"streams the peer reset), resets_delivery_timeout (those of them reset\n"
		"with DELIVERY_TIMEOUT) and subgroup_objects (objects received per\n"
		"subgroup id 0..6, the last entry 7 and above). With --connections the\n"
		"totals and latencies are over all connections, the per-track entries\n"
		"those of the first connection. With --count, objects_received and\n"
		"objects_missing are over the first N objects (they add up to N); objects\n"
		"that arrived past them while the run waited for a lost one are\n"
		"objects_beyond_count (bytes and latency count every object).\n"
		"\n"
		"Exit status: 0 every object intact (and with --count: all arrived);\n"
		"1 integrity errors, or objects missing with --count; 2 bad option or\n"
		"configuration; 3 connection failed (handshake, timeout) or lost;\n"
		"4 a SUBSCRIBE was refused; 5 internal error.\n");
}

static void die_usage(const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	fprintf(stderr, "Try 'moq-sub --help'.\n");
	exit(MOQ_EXIT_USAGE);
}

/* ---- checks --------------------------------------------------------------- */

static void finish(struct sub *u);

/* This connection is done; the loop ends with the last one. */
static void conn_stopped(struct sub *u)
{
	u->stopped = true;
	for (size_t i = 0; i < u->nconns; i++)
		if (!u->conns[i]->stopped)
			return;
	moq_loop_stop(u->loop);
}

/* Has track t got its --count objects? With several subgroups per group
 * the objects of one group travel on parallel streams and a higher-priority
 * subgroup runs ahead, so N distinct objects may have arrived while some of
 * the first N are still under way: wait for those (at most COUNT_GRACE_NS
 * after N arrived, in case they were lost). */
static bool track_count_reached(struct sub *u, struct track *t, uint64_t now)
{
	if (t->cwin.received < u->count)
		return false;
	if (!t->count_seen_ns)
		t->count_seen_ns = now ? now : 1;
	if (now >= t->count_seen_ns + COUNT_GRACE_NS)
		return true;
	return moq_seqwin_missing_of(&t->cwin, u->count) == 0;
}

static bool counts_reached(struct sub *u)
{
	if (!u->count)
		return false;
	uint64_t now = moq_loop_now();
	for (size_t i = 0; i < u->ntracks; i++)
		if (!track_count_reached(u, &u->tracks[i], now))
			return false;
	return true;
}

static void output_emit(void *arg, uint64_t group, uint64_t object, const uint8_t *d, size_t len)
{
	struct sub *u = arg;
	struct moq_payload_hdr h;
	if (!moq_payload_parse(&h, d, len) && h.total_len == len) {
		d += MOQ_PAYLOAD_HDR_LEN;
		len -= MOQ_PAYLOAD_HDR_LEN;
	}
	if (len && fwrite(d, 1, len, u->out) != len) {
		fprintf(stderr, "%s: --output: write failed: %s\n", prog, strerror(errno));
		fclose(u->out);
		u->out = NULL;
		return;
	}
	u->output_bytes += len;
}

static void integrity_error(struct sub *u, struct track *t, uint64_t g, uint64_t o,
			    const char *what)
{
	t->integrity_errors++;
	if (u->err_logs++ < MAX_ERR_LOGS)
		fprintf(stderr, "%s: track %s object %llu/%llu: %s\n", prog, t->name,
			(unsigned long long)g, (unsigned long long)o, what);
}

/* --key-update-every N: after every N packets received, initiate a 1-RTT
 * key update (RFC 9001 6); ngtcp2 refuses one until the previous one is
 * confirmed and 3 PTO old, so a refused one is retried at the next object. */
static void key_update_check(struct sub *u)
{
	struct moq_quic_conn *c = u->s ? moq_session_conn(u->s) : NULL;
	struct moq_quic_conn_stats st;

	if (!u->key_update_every || !c)
		return;
	moq_quic_conn_stats(c, &st);
	if (!u->ku_next)
		u->ku_next = st.pkts_recv + u->key_update_every;
	if (st.pkts_recv < u->ku_next || moq_quic_conn_key_update(c))
		return;
	u->key_updates++;
	u->ku_next = st.pkts_recv + u->key_update_every;
	moq_dbg("sub", "key update %llu initiated after %llu packets",
		(unsigned long long)u->key_updates, (unsigned long long)st.pkts_recv);
}

/* A whole object arrived (stream or datagram). */
static void on_object(struct sub *u, struct track *t, uint64_t group, uint64_t subgroup,
		      uint64_t object, bool has_subgroup, const uint8_t *d, size_t len)
{
	uint64_t now = moq_loop_now();
	struct moq_payload_hdr h;
	int rc = moq_payload_check(&h, d, len, true);
	u->answered = true;
	key_update_check(u);
	t->bytes += len;
	if (rc) {
		integrity_error(u, t, group, object, moq_payload_strerror(rc));
		return;
	}
	if (h.group_id != group || h.object_id != object ||
	    (has_subgroup && h.subgroup_id != (uint32_t)subgroup)) {
		char m[200];
		snprintf(m, sizeof m, "%s (payload says %llu/%llu subgroup %u)",
			 moq_payload_strerror(MOQ_PAYLOAD_ERR_LOCATION),
			 (unsigned long long)h.group_id, (unsigned long long)h.object_id,
			 h.subgroup_id);
		integrity_error(u, t, group, object, m);
		return;
	}
	/* a subscriber that joins mid-group still expects the whole group:
	 * the stream starts at the group's first object at the latest */
	uint64_t first_obj = 0; /* first object of the group we expect */
	if (u->has_filter && u->filter.start_location.group == h.group_id &&
	    (u->filter.filter_type == MOQ_FILTER_ABSOLUTE_START ||
	     u->filter.filter_type == MOQ_FILTER_ABSOLUTE_RANGE) &&
	    h.object_id >= u->filter.start_location.object)
		first_obj = u->filter.start_location.object;
	/* a Largest Object subscriber starts live, at whatever object is
	 * next: nothing before its first object is owed */
	if (u->has_filter && u->filter.filter_type == MOQ_FILTER_LARGEST_OBJECT)
		first_obj = h.object_id;
	uint64_t back = h.object_id - first_obj;
	moq_seqwin_floor(&t->win, h.seq >= back ? h.seq - back : 0);
	int n = moq_seqwin_add(&t->win, h.seq);
	if (n == 0) {
		t->duplicates++;
		return;
	}
	if (n < 0) {
		t->late++;
		return;
	}
	t->objects++;
	t->sg_objects[subgroup < 7 ? subgroup : 7]++;
	if (u->count)
		moq_seqwin_add(&t->cwin, h.seq);
	if (now >= h.mono_ns)
		moq_hist_add(t->lat, now - h.mono_ns);
	moq_group_count_add(&t->groups, h.group_id, h.group_objects);
	if (t->output && u->reorder)
		moq_reorder_add(u->reorder, group, object, h.group_objects, d, len);
	if (counts_reached(u))
		finish(u);
}

/* ---- session callbacks --------------------------------------------------- */

static struct sub *sub_of(struct moq_session *s)
{
	return moq_session_user(s);
}

static void subscribe(struct sub *u, struct track *t)
{
	struct moq_bytes name = {(const uint8_t *)t->name, t->name_len};
	t->attempts++;
	t->retry_pending = false;
	struct moq_params params;
	moq_params_init(&params);
	if (u->has_filter)
		moq_params_add_filter(&params, &u->filter);
	if (u->delivery_timeout_ms)
		moq_params_add_u64(&params, MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT,
				   u->delivery_timeout_ms);
	t->req = moq_session_subscribe(u->s, &u->ns, name, &params, t);
	if (!t->req) {
		fprintf(stderr, "%s: cannot send SUBSCRIBE for track %s\n", prog, t->name);
		t->ended = true;
		t->refused = true;
	}
}

static void retry_cb(struct moq_loop *loop, struct moq_timer *tm, void *arg)
{
	struct sub *u = arg;
	if (u->finishing || !u->s)
		return;
	for (size_t i = 0; i < u->ntracks; i++)
		if (u->tracks[i].retry_pending)
			subscribe(u, &u->tracks[i]);
}

static bool may_retry(const struct sub *u)
{
	return u->retry > 0 && moq_loop_now() < u->ready_ns + (uint64_t)(u->retry * 1e9);
}

static void on_ready(struct moq_session *s)
{
	struct sub *u = sub_of(s);
	u->ready = true;
	u->ready_ns = moq_loop_now();
	moq_timer_cancel(u->deadline);
	if (u->duration > 0)
		moq_timer_set(u->deadline, u->ready_ns + (uint64_t)(u->duration * 1e9));
	for (size_t i = 0; i < u->ntracks; i++)
		subscribe(u, &u->tracks[i]);
	moq_info("sub", "session ready, %zu SUBSCRIBE sent", u->ntracks);
}

static void maybe_done(struct sub *u)
{
	uint64_t now = moq_loop_now(), last = 0;
	for (size_t i = 0; i < u->ntracks; i++) {
		struct track *t = &u->tracks[i];
		if (!t->ended)
			return;
		if (t->ended_ns > last)
			last = t->ended_ns;
	}
	bool open = false;
	for (size_t i = 0; i < u->ntracks; i++)
		if (u->tracks[i].open_rx)
			open = true;
	if (!open || now >= last + DRAIN_GRACE_NS)
		finish(u);
}

static void track_ended(struct sub *u, struct track *t)
{
	if (!t->ended) {
		t->ended = true;
		t->ended_ns = moq_loop_now();
	}
	maybe_done(u);
}

static void on_request_msg(struct moq_session *s, struct moq_request *r,
			   const struct moq_ctrl_msg *m)
{
	struct track *t = moq_request_user(r);
	if (!t)
		return;
	sub_of(s)->answered = true;
	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE_OK:
		t->established = true;
		moq_info("sub", "track %s: SUBSCRIBE_OK, alias %llu", t->name,
			 (unsigned long long)m->subscribe_ok.track_alias);
		break;
	case MOQ_CTRL_REQUEST_ERROR: {
		/* always the code the peer sent, by its draft name, and its
		 * reason phrase verbatim */
		const struct moq_request_error *e = &m->request_error;
		const char *nm = moq_request_error_name(e->error_code);
		bool retry = may_retry(sub_of(s));
		if (!retry || t->attempts == 1 || e->error_code != t->last_error)
			fprintf(stderr,
				"%s: SUBSCRIBE to track %s refused with REQUEST_ERROR %s (0x%llx), "
				"reason \"%.*s\"%s\n",
				prog, t->name, nm ? nm : "(code not in draft-18)",
				(unsigned long long)e->error_code, (int)e->error_reason.len,
				(const char *)e->error_reason.ptr,
				retry ? "; retrying (--retry)" : "");
		t->last_error = e->error_code;
		if (retry) {
			t->retry_pending = true;
			break;
		}
		t->refused = true;
		break;
	}
	case MOQ_CTRL_PUBLISH_DONE: {
		const struct moq_publish_done *d = &m->publish_done;
		const char *nm = moq_publish_done_name(d->status_code);
		moq_info("sub", "track %s: PUBLISH_DONE %s, %llu streams", t->name, nm ? nm : "?",
			 (unsigned long long)d->stream_count);
		t->publish_done = true;
		t->done_status = d->status_code;
		t->done_streams = d->stream_count;
		break;
	}
	default:
		break;
	}
}

static void on_request_closed(struct moq_session *s, struct moq_request *r,
			      enum moq_request_end why, uint64_t code)
{
	struct sub *u = sub_of(s);
	struct track *t = moq_request_user(r);
	if (!t)
		return;
	t->req = NULL;
	if (why == MOQ_REQ_END_SESSION && moq_session_state(s) != MOQ_SESSION_READY) {
		/* the session is closing and on_close follows: it says how (a
		 * peer's error close must not end the run as if it were done) */
		t->ended = true;
		t->ended_ns = moq_loop_now();
		return;
	}
	if (t->retry_pending) {
		uint64_t w = moq_timer_when(u->retry_timer);
		if (w == UINT64_MAX)
			moq_timer_set_in(u->retry_timer, 200000000ull);
		return;
	}
	if (why == MOQ_REQ_END_PEER_CANCEL) {
		/* a stream reset code (RESET_STREAM / STOP_SENDING registry), not
		 * a REQUEST_ERROR code: 0x1 here is CANCELLED, not UNAUTHORIZED */
		const char *nm = moq_reset_code_name(code);
		fprintf(stderr,
			"%s: track %s: the publisher reset the subscription's request stream with "
			"%s (0x%llx)\n",
			prog, t->name, nm ? nm : "an unknown stream reset code",
			(unsigned long long)code);
	}
	track_ended(u, t);
}

static void rx_free(struct rxst *x)
{
	if (!x)
		return;
	if (x->prev)
		x->prev->next = x->next;
	else
		x->u->rx_list = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->t->open_rx)
		x->t->open_rx--;
	free(x->buf);
	free(x);
}

static void on_data(struct moq_session *s, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct sub *u = sub_of(s);
	struct rxst *x = moq_rx_user(rx);
	switch (ev->type) {
	case MOQ_DATA_EV_HEADER: {
		struct moq_request *r = moq_rx_request(rx);
		struct track *t = r ? moq_request_user(r) : NULL;
		if (!t || ev->stream != MOQ_DATA_SUBGROUP_HEADER) {
			moq_rx_stop(rx, MOQ_RESET_CANCELLED);
			return;
		}
		x = calloc(1, sizeof(*x));
		if (!x) {
			moq_rx_stop(rx, MOQ_RESET_INTERNAL_ERROR);
			return;
		}
		x->t = t;
		x->u = u;
		x->next = u->rx_list;
		if (x->next)
			x->next->prev = x;
		u->rx_list = x;
		t->open_rx++;
		t->streams++;
		moq_rx_set_user(rx, x);
		return;
	}
	case MOQ_DATA_EV_OBJECT: {
		if (!x)
			return;
		const struct moq_subgroup_object *o = &ev->subgroup_object;
		x->group = ev->subgroup.group_id;
		x->subgroup = ev->subgroup.subgroup_id;
		x->object = o->object_id;
		x->len = 0;
		x->in_object = o->payload_length > 0;
		if (!x->in_object) {
			x->t->status_objects++;
			return;
		}
		if (o->payload_length > x->cap) {
			void *nb = realloc(x->buf, o->payload_length);
			if (!nb) {
				fprintf(stderr, "%s: out of memory for a %llu-byte object\n", prog,
					(unsigned long long)o->payload_length);
				x->in_object = false;
				return;
			}
			x->buf = nb;
			x->cap = o->payload_length;
		}
		return;
	}
	case MOQ_DATA_EV_PAYLOAD:
		if (!x || !x->in_object)
			return;
		if (ev->payload_offset + ev->payload.len <= x->cap) {
			memcpy(x->buf + ev->payload_offset, ev->payload.ptr, ev->payload.len);
			x->len = ev->payload_offset + ev->payload.len;
		}
		return;
	case MOQ_DATA_EV_OBJECT_END:
		if (!x || !x->in_object)
			return;
		x->in_object = false;
		on_object(u, x->t, x->group, ev->subgroup.subgroup_id, x->object, true, x->buf,
			  x->len);
		return;
	case MOQ_DATA_EV_STREAM_END:
		if (x) {
			struct track *t = x->t;
			moq_rx_set_user(rx, NULL);
			rx_free(x);
			if (t->ended)
				maybe_done(u);
		}
		return;
	default:
		return;
	}
}

static void on_data_reset(struct moq_session *s, struct moq_rx *rx, uint64_t code, int local)
{
	struct sub *u = sub_of(s);
	struct rxst *x = moq_rx_user(rx);
	if (!x)
		return;
	struct track *t = x->t;
	const char *nm = moq_reset_code_name(code);
	moq_dbg("sub", "track %s: data stream reset with %s (0x%llx)%s", t->name, nm ? nm : "?",
		(unsigned long long)code, local ? ", by us" : "");
	if (!local) {
		t->streams_reset++;
		if (code == MOQ_RESET_DELIVERY_TIMEOUT)
			t->resets_timeout++;
	}
	moq_rx_set_user(rx, NULL);
	rx_free(x);
	if (t->ended)
		maybe_done(u);
}

static void on_datagram(struct moq_session *s, struct moq_request *r,
			const struct moq_object_datagram *d)
{
	struct sub *u = sub_of(s);
	struct track *t = r ? moq_request_user(r) : NULL;
	if (!t)
		return;
	t->datagrams++;
	if (d->has_status || !d->payload.len) {
		t->status_objects++;
		return;
	}
	on_object(u, t, d->group_id, 0, d->object_id, false, d->payload.ptr, d->payload.len);
}

static void on_close(struct moq_session *s, const struct moq_quic_close_info *info)
{
	struct sub *u = sub_of(s);
	u->s = NULL;
	bool clean = info->origin == MOQ_QUIC_CLOSE_LOCAL ||
		     (info->origin == MOQ_QUIC_CLOSE_PEER && info->app && info->code == 0);
	if (!clean && !u->finishing) {
		/* the peer's MoQT session close code, by name, when it sent one */
		char code[96] = "";
		if (info->origin == MOQ_QUIC_CLOSE_PEER && info->app) {
			const char *nm = moq_session_code_name(info->code);
			snprintf(code, sizeof code,
				 "closed by the peer with %s (0x%llx): ", nm ? nm : "session error",
				 (unsigned long long)info->code);
		}
		/* closed before the peer answered anything: refused (e.g.
		 * UNAUTHORIZED at SETUP), the same on both transports */
		if (!u->ready || !u->answered)
			u->conn_failed = true;
		else
			u->conn_lost = true;
		fprintf(stderr, "%s: connection to %s:%u %s: %s%s\n", prog, u->host, u->port,
			u->conn_lost ? "lost" : "failed", code,
			info->reason[0] ? info->reason : "(no reason given)");
		snprintf(u->close_reason, sizeof u->close_reason, "%s", info->reason);
	} else if (!u->finishing) {
		moq_info("sub", "the publisher closed the session");
	}
	finish(u);
	conn_stopped(u);
}

static const struct moq_session_callbacks session_cb = {
    .on_ready = on_ready,
    .on_close = on_close,
    .on_request_msg = on_request_msg,
    .on_request_closed = on_request_closed,
    .on_data = on_data,
    .on_data_reset = on_data_reset,
    .on_datagram = on_datagram,
};

/* Checks each connection's stop conditions, prints the status line. */
static void tick_cb(struct moq_loop *loop, struct moq_timer *tm, void *arg)
{
	struct sub *u = arg; /* the first connection */
	bool active = false, ready = false;
	moq_timer_set_in(tm, 1000000000ull);
	for (size_t k = 0; k < u->nconns; k++) {
		struct sub *c = u->conns[k];
		if (c->finishing)
			continue;
		for (size_t i = 0; i < c->ntracks; i++)
			if (c->tracks[i].ended) {
				maybe_done(c);
				break;
			}
		if (!c->finishing && counts_reached(c))
			finish(c);
		active |= !c->finishing;
		ready |= c->ready;
	}
	if (!active || u->quiet || !ready)
		return;
	struct totals tt;
	sum(u, &tt, false);
	fprintf(stderr,
		"%s: %6.1fs objects %llu (+%llu/s) missing %llu errors %llu %.2f MB/s latency "
		"p50 %.0f us p99 %.0f us\n",
		prog, elapsed_s(u), (unsigned long long)tt.objects,
		(unsigned long long)(tt.objects - u->last_objects), (unsigned long long)tt.missing,
		(unsigned long long)tt.errors, (double)(tt.bytes - u->last_bytes) / 1e6,
		tt.lat ? moq_hist_percentile(tt.lat, 50) / 1e3 : 0.0,
		tt.lat ? moq_hist_percentile(tt.lat, 99) / 1e3 : 0.0);
	u->last_objects = tt.objects;
	u->last_bytes = tt.bytes;
	free(tt.lat);
}

static void deadline_cb(struct moq_loop *loop, struct moq_timer *tm, void *arg)
{
	struct sub *u = arg;
	if (!u->ready) {
		fprintf(stderr,
			"%s: connection to %s:%u failed: no MoQT session after %.1f s (is the "
			"publisher/relay running, and do --plaintext/TLS match?)\n",
			prog, u->host, u->port, u->connect_timeout);
		u->conn_failed = true;
	}
	finish(u);
}

static void finish(struct sub *u)
{
	if (u->finishing)
		return;
	u->finishing = true;
	u->end_ns = moq_loop_now();
	if (u->s)
		moq_session_close(u->s, MOQ_SESSION_NO_ERROR, "subscriber done");
	else
		conn_stopped(u);
	/* let the CONNECTION_CLOSE go out; on_close stops the loop */
	moq_timer_set_in(u->deadline, 300000000ull);
}

static void on_signal(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct sub *u = arg;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof si) != sizeof si)
		return;
	if (u->finishing) {
		moq_loop_stop(loop);
		return;
	}
	fprintf(stderr, "%s: %s, stopping\n", prog, strsignal((int)si.ssi_signo));
	for (size_t i = 0; i < u->nconns; i++)
		finish(u->conns[i]);
}

static void final_deadline_cb(struct moq_loop *loop, struct moq_timer *tm, void *arg)
{
	struct sub *u = arg;
	if (u->finishing)
		conn_stopped(u);
	else
		deadline_cb(loop, tm, arg);
}

/* "largest", "next-group", "start:G[:O]", "range:G[:O]:END". 0 or -1. */
static int parse_filter(const char *s, struct moq_subscription_filter *f)
{
	memset(f, 0, sizeof(*f));
	if (!strcmp(s, "largest")) {
		f->filter_type = MOQ_FILTER_LARGEST_OBJECT;
		return 0;
	}
	if (!strcmp(s, "next-group")) {
		f->filter_type = MOQ_FILTER_NEXT_GROUP_START;
		return 0;
	}
	bool range = !strncmp(s, "range:", 6);
	if (!range && strncmp(s, "start:", 6))
		return -1;
	unsigned long long v[3];
	int n = 0;
	const char *p = s + 6;
	while (n < 3) {
		char *end;
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		v[n++] = strtoull(p, &end, 10);
		if (errno)
			return -1;
		if (!*end)
			break;
		if (*end != ':')
			return -1;
		p = end + 1;
	}
	if (*p && n == 3 && strchr(p, ':'))
		return -1;
	f->start_location.group = v[0];
	if (range) {
		if (n < 2)
			return -1;
		f->filter_type = MOQ_FILTER_ABSOLUTE_RANGE;
		f->start_location.object = n == 3 ? v[1] : 0;
		uint64_t endg = v[n - 1];
		if (endg < v[0])
			return -1;
		f->end_group_delta = endg - v[0];
	} else {
		if (n > 2)
			return -1;
		f->filter_type = MOQ_FILTER_ABSOLUTE_START;
		f->start_location.object = n == 2 ? v[1] : 0;
	}
	return 0;
}

/* ---- main ----------------------------------------------------------------------- */

enum {
	OPT_NAMESPACE = 256,
	OPT_TRACK,
	OPT_COUNT,
	OPT_DURATION,
	OPT_CONNECT_TIMEOUT,
	OPT_RETRY,
	OPT_FILTER,
	OPT_DELIVERY_TIMEOUT,
	OPT_OUTPUT,
	OPT_OUTPUT_TRACK,
	OPT_JSON,
	OPT_QUIET,
	OPT_CONNECTIONS,
	OPT_MAX_STREAM_DATA,
	OPT_KEY_UPDATE_EVERY,
	OPT_TLS_CIPHERS,
};

static const struct option long_opts[] = {
    MOQ_CLI_CONN_LONG_OPTS,
    {"namespace", required_argument, 0, OPT_NAMESPACE},
    {"track", required_argument, 0, OPT_TRACK},
    {"count", required_argument, 0, OPT_COUNT},
    {"duration", required_argument, 0, OPT_DURATION},
    {"connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT},
    {"retry", required_argument, 0, OPT_RETRY},
    {"filter", required_argument, 0, OPT_FILTER},
    {"delivery-timeout", required_argument, 0, OPT_DELIVERY_TIMEOUT},
    {"output", required_argument, 0, OPT_OUTPUT},
    {"output-track", required_argument, 0, OPT_OUTPUT_TRACK},
    {"json", no_argument, 0, OPT_JSON},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"connections", required_argument, 0, OPT_CONNECTIONS},
    {"max-stream-data", required_argument, 0, OPT_MAX_STREAM_DATA},
    {"key-update-every", required_argument, 0, OPT_KEY_UPDATE_EVERY},
    {"tls-ciphers", required_argument, 0, OPT_TLS_CIPHERS},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* --tls-ciphers LIST: the QUIC layer's gnutls priority with only these
 * TLS 1.3 suites (the layer's test hook moq_quic_test_tls_priority). */
extern const char *moq_quic_test_tls_priority;
static int tls_ciphers(const char *list, char *err, size_t errlen)
{
	static const char *const known[] = {"AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305",
					    "AES-128-CCM"};
	static char prio[512];
	char buf[128], *save = NULL;
	size_t n;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "--tls-ciphers: list too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	n = (size_t)snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL");
	for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(c, known[i]))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(err, errlen,
				 "--tls-ciphers: unknown suite '%s' (AES-128-GCM, AES-256-GCM, "
				 "CHACHA20-POLY1305, AES-128-CCM)",
				 c);
			return -1;
		}
		n += (size_t)snprintf(prio + n, sizeof(prio) - n, ":+%s", c);
	}
	if (!strcmp(prio + n - 9, "IPHER-ALL")) {
		snprintf(err, errlen, "--tls-ciphers: no suite given");
		return -1;
	}
	snprintf(prio + n, sizeof(prio) - n,
		 ":-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519:+GROUP-SECP384R1:"
		 "+GROUP-SECP521R1:%%DISABLE_TLS13_COMPAT_MODE");
	moq_quic_test_tls_priority = prio;
	return 0;
}

/* The options into u and *ns_arg: -1 to go on, else the exit code. */
static int parse_options(struct sub *u, int argc, char **argv, const char **ns_arg)
{
	char err[MOQ_CLI_ERR_LEN];
	int c, rc;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_NAMESPACE:
			*ns_arg = optarg;
			break;
		case OPT_TRACK: {
			size_t n = strlen(optarg);
			if (!n || n >= sizeof u->tracks[0].name)
				die_usage("--track: the track name must be 1..255 bytes");
			if (u->ntracks == MAX_TRACKS)
				die_usage("too many tracks (at most 16)");
			for (size_t i = 0; i < u->ntracks; i++)
				if (!strcmp(u->tracks[i].name, optarg))
					die_usage("--track: the same track was given twice");
			struct track *t = &u->tracks[u->ntracks++];
			memcpy(t->name, optarg, n + 1);
			t->name_len = n;
			break;
		}
		case OPT_COUNT:
			if (moq_cli_u64("--count", optarg, 1, UINT64_MAX, 0, &u->count, err,
					sizeof err))
				die_usage(err);
			break;
		case OPT_DURATION:
			if (moq_cli_double("--duration", optarg, 0.001, 1e7, &u->duration, err,
					   sizeof err))
				die_usage(err);
			break;
		case OPT_CONNECT_TIMEOUT:
			if (moq_cli_double("--connect-timeout", optarg, 0.01, 3600,
					   &u->connect_timeout, err, sizeof err))
				die_usage(err);
			break;
		case OPT_DELIVERY_TIMEOUT:
			if (moq_cli_u64("--delivery-timeout", optarg, 1, 3600000, 0,
					&u->delivery_timeout_ms, err, sizeof err))
				die_usage(err);
			break;
		case OPT_FILTER:
			if (parse_filter(optarg, &u->filter))
				die_usage(
				    "--filter: give largest, next-group, start:GROUP[:OBJECT] or "
				    "range:GROUP[:OBJECT]:END_GROUP");
			u->has_filter = true;
			break;
		case OPT_RETRY:
			if (moq_cli_double("--retry", optarg, 0, 3600, &u->retry, err, sizeof err))
				die_usage(err);
			break;
		case OPT_OUTPUT:
			u->output_path = optarg;
			break;
		case OPT_OUTPUT_TRACK:
			u->output_track = optarg;
			break;
		case OPT_JSON:
			u->json = true;
			break;
		case OPT_QUIET:
			u->quiet = true;
			break;
		case OPT_CONNECTIONS: {
			uint64_t n;
			if (moq_cli_u64("--connections", optarg, 1, 10000, 0, &n, err, sizeof err))
				die_usage(err);
			u->connections = (unsigned)n;
			break;
		}
		case OPT_MAX_STREAM_DATA:
			if (moq_cli_u64("--max-stream-data", optarg, 1024, 1ull << 40, 0,
					&u->max_stream_data, err, sizeof err))
				die_usage(err);
			break;
		case OPT_KEY_UPDATE_EVERY:
			if (moq_cli_u64("--key-update-every", optarg, 100, UINT32_MAX, 0,
					&u->key_update_every, err, sizeof err))
				die_usage(err);
			break;
		case OPT_TLS_CIPHERS:
			if (tls_ciphers(optarg, err, sizeof err))
				die_usage(err);
			break;
		case MOQ_CLI_OPT_CERT:
		case MOQ_CLI_OPT_KEY:
			die_usage("--cert/--key are for servers; moq-sub verifies the server with "
				  "--ca FILE (or --insecure)");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			rc = moq_cli_conn_option(&u->co, c, optarg, err, sizeof err);
			if (rc < 0)
				die_usage(err);
			if (rc > 0)
				break;
			fprintf(stderr, "Try 'moq-sub --help'.\n");
			return MOQ_EXIT_USAGE;
		}
	}
	return -1;
}

/* The options taken together; opens --output and prepares the tracks. -1 to
 * go on, else the exit code. */
static int check_options(struct sub *u, int argc, char **argv, const char *ns_arg)
{
	char err[MOQ_CLI_ERR_LEN];

	if (optind + 1 != argc)
		die_usage(optind == argc ? "missing HOST:PORT of the relay or publisher"
					 : "too many arguments; give one HOST:PORT");
	if (moq_cli_target(&u->co, argv[optind], u->host, sizeof u->host, &u->port, err,
			   sizeof err))
		die_usage(err);
	if (u->co.webtransport && u->co.plaintext)
		die_usage("an https:// URL is WebTransport over TLS; drop --plaintext");
	if (!u->host[0])
		die_usage("HOST:PORT: the host is missing (e.g. 127.0.0.1:4443)");
	if (u->co.plaintext && (u->co.ca || u->co.insecure || u->co.has_cert_hash))
		die_usage("--plaintext does not use --ca/--insecure/--cert-hash; drop them");
	if (!u->co.plaintext && !u->co.ca && !u->co.insecure && !u->co.has_cert_hash)
		die_usage("TLS needs --ca FILE or --cert-hash SHA256 to verify the server (or "
			  "--insecure, or --plaintext on both ends)");
	if (u->key_update_every && (u->co.plaintext || u->co.webtransport))
		die_usage("--key-update-every needs TLS over native QUIC (the plaintext profile "
			  "has no keys; drop --plaintext / the https:// URL)");
	if (u->co.has_cert_hash && (u->co.ca || u->co.insecure))
		die_usage("--cert-hash pins the certificate; drop --ca/--insecure");
	if (u->co.ca && access(u->co.ca, R_OK)) {
		snprintf(err, sizeof err, "--ca: cannot read '%s': %s", u->co.ca, strerror(errno));
		die_usage(err);
	}
	if (u->co.qlog_dir && moq_cli_qlog_dir_check(u->co.qlog_dir, err, sizeof err))
		die_usage(err);
	if (moq_cli_namespace("--namespace", ns_arg, &u->ns, u->ns_store, sizeof u->ns_store, 0,
			      err, sizeof err))
		die_usage(err);
	if (!u->ntracks) {
		strcpy(u->tracks[0].name, "test");
		u->tracks[0].name_len = 4;
		u->ntracks = 1;
	}
	if (u->connections > 1 && u->output_path)
		die_usage("--output writes the media of one connection; drop --connections");
	if (u->output_track && !u->output_path)
		die_usage("--output-track needs --output FILE");
	if (u->output_path) {
		struct track *ot = &u->tracks[0];
		if (u->output_track) {
			ot = NULL;
			for (size_t i = 0; i < u->ntracks; i++)
				if (!strcmp(u->tracks[i].name, u->output_track))
					ot = &u->tracks[i];
			if (!ot)
				die_usage("--output-track: not one of the --track names");
		}
		ot->output = true;
		u->out = fopen(u->output_path, "wb");
		if (!u->out) {
			snprintf(err, sizeof err, "--output: cannot create '%s': %s",
				 u->output_path, strerror(errno));
			die_usage(err);
		}
		u->reorder = moq_reorder_new(8, output_emit, u);
	}
	for (size_t i = 0; i < u->ntracks; i++) {
		u->tracks[i].lat = moq_hist_new();
		if (!u->tracks[i].lat || moq_seqwin_init(&u->tracks[i].win) ||
		    (u->count && moq_seqwin_init(&u->tracks[i].cwin))) {
			fprintf(stderr, "%s: out of memory\n", prog);
			return MOQ_EXIT_INTERNAL;
		}
	}
	return -1;
}

/* Extra connections (--connections): copies of the first one's options
 * with their own track state. -1 to go on, else the exit code. */
static int conns_make(struct sub *u)
{
	size_t n = u->connections ? u->connections : 1;
	u->conns = calloc(n, sizeof(*u->conns));
	if (!u->conns)
		goto oom;
	u->conns[0] = u;
	u->nconns = 1;
	if (n > 1) {
		/* each connection has its own UDP socket */
		struct rlimit rl;
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	for (size_t k = 1; k < n; k++) {
		struct sub *c = malloc(sizeof(*c));
		if (!c)
			goto oom;
		*c = *u; /* options; no state exists yet */
		u->conns[u->nconns++] = c;
		for (size_t i = 0; i < c->ntracks; i++) {
			struct track *t = &c->tracks[i];
			t->lat = moq_hist_new();
			if (!t->lat || moq_seqwin_init(&t->win) ||
			    (c->count && moq_seqwin_init(&t->cwin)))
				goto oom;
		}
	}
	for (size_t k = 1; k < u->nconns; k++)
		u->conns[k]->conns = u->conns, u->conns[k]->nconns = u->nconns;
	return -1;
oom:
	fprintf(stderr, "%s: out of memory\n", prog);
	return MOQ_EXIT_INTERNAL;
}

/* Connection u's timers, endpoint (its own UDP socket) and session. -1 to
 * go on, else the exit code. */
static int conn_start(struct sub *u, struct moq_loop *loop)
{
	char err[MOQ_CLI_ERR_LEN];

	u->loop = loop;
	u->deadline = moq_timer_new(loop, final_deadline_cb, u);
	u->retry_timer = moq_timer_new(loop, retry_cb, u);
	u->start_ns = moq_loop_now();
	moq_timer_set_in(u->deadline, (uint64_t)(u->connect_timeout * 1e9));

	moq_cli_session_config(&u->scfg, loop, &session_cb, u, &u->tok, u->co.token);
	moq_cli_session_target(&u->scfg, &u->co);
	struct moq_quic_config q;
	moq_cli_quic_config(&q, &u->co);
	if (u->max_stream_data)
		q.max_stream_data = u->max_stream_data;
	u->ep = moq_quic_endpoint_new(loop, &q, err, sizeof err);
	if (!u->ep) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return MOQ_EXIT_USAGE;
	}
	u->s = moq_session_connect(u->ep, u->host, u->port, &u->scfg, err, sizeof err);
	if (!u->s) {
		fprintf(stderr, "%s: cannot connect to %s:%u: %s\n", prog, u->host, u->port, err);
		return MOQ_EXIT_CONNECT;
	}
	return -1;
}

static void conn_free(struct sub *u)
{
	moq_quic_endpoint_free(u->ep);
	while (u->rx_list)
		rx_free(u->rx_list);
	moq_timer_free(u->deadline);
	moq_timer_free(u->retry_timer);
}

/* Connects, runs the loop until the end, reports: the exit code. */
static int run(struct sub *u)
{
	int sfd = moq_cli_signalfd();
	struct moq_loop *loop = moq_cli_loop_new(prog, sfd, on_signal, u);
	if (!loop)
		return MOQ_EXIT_INTERNAL;
	u->tick = moq_timer_new(loop, tick_cb, u);
	moq_timer_set_in(u->tick, 1000000000ull);
	for (size_t k = 0; k < u->nconns; k++) {
		int rc = conn_start(u->conns[k], loop);
		if (rc >= 0)
			return rc;
	}

	moq_loop_run(loop);
	for (size_t k = 0; k < u->nconns; k++) {
		struct sub *c = u->conns[k];
		if (!c->end_ns)
			c->end_ns = moq_loop_now();
		if (c->end_ns > u->end_ns)
			u->end_ns = c->end_ns; /* the report's duration: until the last */
	}

	if (u->reorder) {
		moq_reorder_flush(u->reorder);
		moq_reorder_free(u->reorder);
	}
	if (u->out && fclose(u->out)) {
		fprintf(stderr, "%s: --output: %s\n", prog, strerror(errno));
	}
	struct totals tt;
	sum(u, &tt, true);
	int code = exit_code(u, &tt);
	report(u, code, &tt);
	free(tt.lat);
	for (size_t k = 0; k < u->nconns; k++)
		conn_free(u->conns[k]);
	moq_timer_free(u->tick);
	moq_loop_free(loop);
	for (size_t k = 0; k < u->nconns; k++) {
		struct sub *c = u->conns[k];
		for (size_t i = 0; i < c->ntracks; i++) {
			moq_seqwin_free(&c->tracks[i].win);
			moq_seqwin_free(&c->tracks[i].cwin);
			free(c->tracks[i].lat);
		}
		if (k)
			free(c);
	}
	free(u->conns);
	if (sfd >= 0)
		close(sfd);
	return code;
}

int main(int argc, char **argv)
{
	static struct sub U;
	struct sub *u = &U;
	const char *ns_arg = "moq-pub";

	u->connect_timeout = 10;
	int rc = parse_options(u, argc, argv, &ns_arg);
	if (rc < 0)
		rc = check_options(u, argc, argv, ns_arg);
	if (rc < 0)
		rc = conns_make(u);
	return rc < 0 ? run(u) : rc;
}
