/* moq-relay-probe: a small MoQT client for testing moq-relayd where the
 * endpoint tools have no mode for it: FETCH (standalone and joining), and
 * sending malformed control data. Prints one JSON line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "media/payload.h"
#include "session/session.h"

struct probe {
	struct moq_loop *loop;
	struct moq_session *s;
	const char *mode;
	struct moq_namespace ns;
	char nsbuf[512];
	const char *track;
	uint64_t start_g, end_g, joining;
	uint64_t rendezvous_ms;	     /* subscribe mode: RENDEZVOUS_TIMEOUT, 0 = none */
	uint64_t t_start, answer_ms; /* subscribe mode: SUBSCRIBE -> answer */
	struct moq_request *sub, *fetch;
	/* results */
	int fetch_ok, sub_ok, done, closed, goaway;
	uint64_t error_code, close_code;
	int has_error;
	uint64_t objects, bytes, integrity_errors, groups;
	int64_t first_group, last_group, last_obj_group;
	uint8_t *obj;
	uint64_t obj_len, obj_have, obj_group, obj_id;
	/* publish mode */
	uint64_t publish_n, sent;
	struct moq_request *pub;
	struct moq_tx *tx;
	struct moq_timer *pub_timer;
	int publish_ok;
	/* how the track ends (issue 14's orderings, on purpose) */
	const char *end;       /* "done", "done-with-fin", "close" */
	uint64_t burst;	       /* the last N groups go out in one tick */
	int lose_last;	       /* drop the first copy of the last FIN's packet */
	int64_t last_sid;      /* stream carrying the last object (-1: none) */
	uint64_t dropped;      /* packets the send hook dropped */
	int ended;	       /* the track's end was sent / the close begun */
	const char *wait_file; /* start when it exists (else after 1.5 s) */
	uint64_t phantom;      /* streams counted in PUBLISH_DONE, never opened */
	int close_polls;
};

static struct probe *g_probe; /* for the send hook */

#define PUB_PER_GROUP 10
#define PUB_SIZE 600

static void finish(struct probe *p)
{
	if (p->done)
		return;
	p->done = 1;
	moq_session_close(p->s, MOQ_SESSION_NO_ERROR, "probe done");
}

/* publish mode: one synthetic MQP1 object of the next group position */
static void pub_object(struct probe *p)
{
	static uint8_t buf[PUB_SIZE];
	struct moq_payload_hdr h = {0};
	struct moq_tx_object o = {0};
	struct timespec ts;
	uint64_t g = p->sent / PUB_PER_GROUP, id = p->sent % PUB_PER_GROUP;
	int err = 0;

	if (id == 0) {
		struct moq_subgroup_header hdr = {0};

		hdr.group_id = g;
		hdr.subgroup_id_mode = MOQ_SUBGROUP_ID_ZERO;
		hdr.subgroup_id_known = true;
		hdr.publisher_priority = 128;
		hdr.first_object = true;
		p->tx = moq_tx_subgroup_open(p->pub, &hdr, &err);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	h.kind = MOQ_PAYLOAD_SYNTHETIC;
	h.total_len = PUB_SIZE;
	h.group_objects = PUB_PER_GROUP;
	h.seq = p->sent;
	h.mono_ns = moq_loop_now();
	h.real_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	h.group_id = g;
	h.object_id = id;
	h.flags = id == PUB_PER_GROUP - 1 ? MOQ_PAYLOAD_F_END_OF_GROUP : 0;
	moq_payload_build_synthetic(buf, &h);
	o.group_id = g;
	o.object_id = id;
	o.publisher_priority = 128;
	o.payload_length = PUB_SIZE;
	if (p->tx)
		moq_tx_object(p->tx, &o, buf);
	p->sent++;
	if ((id == PUB_PER_GROUP - 1 || p->sent == p->publish_n) && p->tx) {
		p->last_sid = moq_tx_stream_id(p->tx);
		moq_tx_finish(p->tx);
		p->tx = NULL;
	}
}

/* The track's end is out: leave once everything sent is acknowledged
 * (with --end close that is the end: no PUBLISH_DONE). */
static void pub_close_poll(struct probe *p, struct moq_timer *t)
{
	struct moq_quic_conn_stats cs;

	moq_quic_conn_stats(moq_session_conn(p->s), &cs);
	if (++p->close_polls > 3 && (!cs.bytes_in_flight || p->close_polls > 400)) {
		finish(p);
		return;
	}
	moq_timer_set_in(t, 5000000ull);
}

static void pub_done(struct probe *p, struct moq_timer *t)
{
	if (strcmp(p->end, "close")) {
		moq_request_add_streams(p->pub, p->phantom);
		moq_request_publish_done(p->pub, MOQ_PUBDONE_TRACK_ENDED, "probe done");
	}
	p->pub = NULL;
	p->ended = 1;
	moq_timer_set_in(t, 5000000ull);
}

static void pub_tick(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct probe *p = arg;
	uint64_t n = 1, left;

	(void)loop;
	if (p->wait_file && p->pub && !p->sent && access(p->wait_file, F_OK)) {
		moq_timer_set_in(t, 10000000ull);
		return;
	}
	if (p->ended) {
		pub_close_poll(p, t);
		return;
	}
	if (!p->pub)
		return;
	left = p->publish_n - p->sent;
	if (!left) {
		pub_done(p, t); /* 5-10 ms after the last FIN */
		return;
	}
	/* the last --burst groups: at once, with the end of the track */
	if (p->burst && left <= p->burst * PUB_PER_GROUP)
		n = left;
	while (n--)
		pub_object(p);
	if (p->sent == p->publish_n && !strcmp(p->end, "done-with-fin")) {
		/* same tick: the request stream (more urgent) goes first,
		 * PUBLISH_DONE ahead of the last data and FIN in the packet */
		pub_done(p, t);
		return;
	}
	moq_timer_set_in(t, p->sent == p->publish_n && p->lose_last ? 5000000ull : 10000000ull);
}

/* --lose-last: drop the first packet that carries the FIN of the last
 * data stream (Stream IDs are 4-byte varints in the plaintext profile),
 * so PUBLISH_DONE overtakes it and its retransmission comes after. */
static int probe_send_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
			   uint64_t pn, void *user)
{
	struct probe *p = g_probe;
	uint8_t sid[4];

	(void)c;
	(void)cap;
	(void)pn;
	(void)user;
	if (!p || !p->lose_last || p->dropped || p->last_sid < 0 || p->sent != p->publish_n)
		return 0;
	sid[0] = (uint8_t)(0x80 | (p->last_sid >> 24));
	sid[1] = (uint8_t)(p->last_sid >> 16);
	sid[2] = (uint8_t)(p->last_sid >> 8);
	sid[3] = (uint8_t)p->last_sid;
	for (size_t i = 13; i + 5 <= *len; i++) {
		if ((pkt[i] & 0xf9) == 0x09 && !memcmp(pkt + i + 1, sid, 4)) {
			p->dropped++;
			return -1;
		}
	}
	return 0;
}

static void on_ready(struct moq_session *s)
{
	struct probe *p = moq_session_user(s);
	struct moq_bytes name = {(const uint8_t *)p->track, strlen(p->track)};

	if (!strcmp(p->mode, "fetch")) {
		p->fetch = moq_session_fetch(s, &p->ns, name, (struct moq_location){p->start_g, 0},
					     (struct moq_location){p->end_g, 0}, NULL, NULL);
	} else if (!strcmp(p->mode, "joining")) {
		/* the joining FETCH follows SUBSCRIBE_OK (on_request_msg) */
		p->sub = moq_session_subscribe(s, &p->ns, name, NULL, NULL);
	} else if (!strcmp(p->mode, "subscribe")) {
		struct moq_params params;

		moq_params_init(&params);
		if (p->rendezvous_ms)
			moq_params_add_u64(&params, MOQ_PARAM_RENDEZVOUS_TIMEOUT, p->rendezvous_ms);
		p->t_start = moq_loop_now();
		p->sub = moq_session_subscribe(s, &p->ns, name, &params, NULL);
	} else if (!strcmp(p->mode, "publish")) {
		struct moq_ctrl_msg m;
		int err = 0;

		memset(&m, 0, sizeof(m));
		m.type = MOQ_CTRL_PUBLISH;
		m.publish.track_namespace = p->ns;
		m.publish.track_name = name;
		m.publish.track_alias = MOQ_SESSION_ALIAS_AUTO;
		moq_params_init(&m.publish.params);
		p->pub = moq_session_request(s, &m, NULL, &err);
	} else if (!strcmp(p->mode, "garbage")) {
		struct moq_quic_conn *c = moq_session_conn(s);
		/* SUBSCRIBE type, length 6, then bytes that are no SUBSCRIBE */
		static const uint8_t junk[] = {0x03, 0x00, 0x06, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff};
		int64_t sid = moq_quic_stream_open_bidi(c);

		if (sid >= 0)
			moq_quic_stream_write(c, sid, junk, sizeof(junk), 0);
	}
}

static void on_request_msg(struct moq_session *s, struct moq_request *r,
			   const struct moq_ctrl_msg *m)
{
	struct probe *p = moq_session_user(s);

	if (m->type == MOQ_CTRL_FETCH_OK && r == p->fetch)
		p->fetch_ok = 1;
	if ((m->type == MOQ_CTRL_PUBLISH_OK || m->type == MOQ_CTRL_REQUEST_OK) && r == p->pub &&
	    !p->publish_ok) {
		p->publish_ok = 1;
		p->pub_timer = moq_timer_new(p->loop, pub_tick, p);
		/* give subscribers a moment to SUBSCRIBE to the new track */
		moq_timer_set_in(p->pub_timer, p->wait_file ? 0 : 1500000000ull);
	}
	if (m->type == MOQ_CTRL_SUBSCRIBE_OK && r == p->sub) {
		p->sub_ok = 1;
		if (p->t_start)
			p->answer_ms = (moq_loop_now() - p->t_start) / 1000000;
		if (!strcmp(p->mode, "joining"))
			p->fetch =
			    moq_session_joining_fetch(s, p->sub, false, p->joining, NULL, NULL);
	}
	if (m->type == MOQ_CTRL_REQUEST_ERROR) {
		if (p->t_start)
			p->answer_ms = (moq_loop_now() - p->t_start) / 1000000;
		p->has_error = 1;
		p->error_code = m->request_error.error_code;
		finish(p);
	}
}

static void on_request_closed(struct moq_session *s, struct moq_request *r,
			      enum moq_request_end why, uint64_t code)
{
	struct probe *p = moq_session_user(s);

	(void)why;
	(void)code;
	if (r == p->fetch)
		p->fetch = NULL;
	if (r == p->sub)
		p->sub = NULL;
	if (r == p->pub) {
		p->pub = NULL;
		p->tx = NULL;
	}
}

static void on_data(struct moq_session *s, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct probe *p = moq_session_user(s);

	(void)rx;
	if (ev->stream != MOQ_DATA_FETCH_HEADER) {
		/* subscription data: counted in the subscribe mode only */
		if (!strcmp(p->mode, "subscribe") && ev->type == MOQ_DATA_EV_OBJECT_END)
			p->objects++;
		return;
	}
	switch (ev->type) {
	case MOQ_DATA_EV_OBJECT:
		free(p->obj);
		p->obj_len = ev->fetch_object.payload_length;
		p->obj = malloc(p->obj_len ? p->obj_len : 1);
		p->obj_have = 0;
		p->obj_group = ev->fetch_object.group_id;
		p->obj_id = ev->fetch_object.object_id;
		break;
	case MOQ_DATA_EV_PAYLOAD:
		if (p->obj && p->obj_have + ev->payload.len <= p->obj_len) {
			memcpy(p->obj + p->obj_have, ev->payload.ptr, ev->payload.len);
			p->obj_have += ev->payload.len;
		}
		break;
	case MOQ_DATA_EV_OBJECT_END: {
		struct moq_payload_hdr h;

		p->objects++;
		p->bytes += p->obj_len;
		if (p->obj_len && (moq_payload_check(&h, p->obj, p->obj_len, true) ||
				   h.group_id != p->obj_group || h.object_id != p->obj_id))
			p->integrity_errors++;
		if (p->first_group < 0)
			p->first_group = (int64_t)p->obj_group;
		if (p->last_group != (int64_t)p->obj_group)
			p->groups++;
		p->last_group = (int64_t)p->obj_group;
		break;
	}
	case MOQ_DATA_EV_STREAM_END:
		finish(p);
		break;
	default:
		break;
	}
}

static void on_goaway(struct moq_session *s, const struct moq_goaway *g)
{
	struct probe *p = moq_session_user(s);

	(void)g;
	p->goaway = 1; /* stays on: tests see what the relay does next */
}

static void on_close(struct moq_session *s, const struct moq_quic_close_info *info)
{
	struct probe *p = moq_session_user(s);

	p->closed = 1;
	p->close_code = info->code;
	moq_loop_stop(p->loop);
}

static void timeout_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	moq_loop_stop(loop);
}

static void usage(void)
{
	puts("usage: moq-relay-probe [--plaintext|--insecure] [--namespace NS] [--track NAME]\n"
	     "                       [--auth-token T [--auth-register]] [--timeout S] MODE "
	     "HOST:PORT\n"
	     "MODE: --fetch START:END   standalone FETCH of groups START..END (whole groups)\n"
	     "      --joining N         SUBSCRIBE + relative joining FETCH N groups back\n"
	     "      --garbage           send a malformed SUBSCRIBE; the relay should close us\n"
	     "      --publish N         PUBLISH the track, then (after 1.5 s) N synthetic MQP1\n"
	     "                          objects, 10 per group, 100/s, then PUBLISH_DONE; it\n"
	     "                          leaves once everything sent is acknowledged\n"
	     "        --end done|done-with-fin|close   how the track ends: PUBLISH_DONE\n"
	     "                          10 ms after the last FIN (done), in the same packet\n"
	     "                          ahead of it (done-with-fin), or no PUBLISH_DONE: the\n"
	     "                          session closes once all data is acknowledged (close)\n"
	     "        --burst G         the last G groups go out at once, with the end\n"
	     "        --wait-file PATH  start the objects once PATH exists, not after 1.5 s\n"
	     "        --phantom K       PUBLISH_DONE counts K streams it never opens\n"
	     "        --lose-last       drop the first copy of the packet with the last FIN\n"
	     "                          (plaintext); PUBLISH_DONE follows 5 ms later\n"
	     "      --subscribe         SUBSCRIBE and count objects until --timeout\n"
	     "                          (--rendezvous MS: with that RENDEZVOUS_TIMEOUT)\n"
	     "Prints one JSON line: fetch_ok, sub_ok, error_code, answer_ms, objects, bytes,\n"
	     "integrity_errors, first_group, last_group, groups, goaway, closed, close_code,\n"
	     "done, dropped.");
}

/* The command line's options and address. */
struct probe_opts {
	const char *nsarg, *token;
	double timeout;
	int plaintext, insecure, register_token;
	char host[256];
	unsigned port;
};

/* Options into p and o. Returns -1 to go on, else the exit status. */
static int parse_args(struct probe *p, struct probe_opts *o, int argc, char **argv)
{
	int c;
	static const struct option opts[] = {
	    {"plaintext", no_argument, 0, 'p'},
	    {"insecure", no_argument, 0, 'k'},
	    {"namespace", required_argument, 0, 'n'},
	    {"track", required_argument, 0, 't'},
	    {"auth-token", required_argument, 0, 'a'},
	    {"auth-register", no_argument, 0, 'r'},
	    {"timeout", required_argument, 0, 'T'},
	    {"fetch", required_argument, 0, 'f'},
	    {"joining", required_argument, 0, 'j'},
	    {"garbage", no_argument, 0, 'g'},
	    {"publish", required_argument, 0, 'P'},
	    {"subscribe", no_argument, 0, 'S'},
	    {"rendezvous", required_argument, 0, 'R'},
	    {"end", required_argument, 0, 'E'},
	    {"burst", required_argument, 0, 'B'},
	    {"lose-last", no_argument, 0, 'L'},
	    {"wait-file", required_argument, 0, 'W'},
	    {"phantom", required_argument, 0, 'F'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->plaintext = 1;
			break;
		case 'k':
			o->insecure = 1;
			break;
		case 'n':
			o->nsarg = optarg;
			break;
		case 't':
			p->track = optarg;
			break;
		case 'a':
			o->token = optarg;
			break;
		case 'r':
			o->register_token = 1;
			break;
		case 'T':
			o->timeout = atof(optarg);
			break;
		case 'f':
			p->mode = "fetch";
			if (sscanf(optarg, "%lu:%lu", &p->start_g, &p->end_g) != 2) {
				fprintf(stderr, "moq-relay-probe: --fetch START:END\n");
				return 2;
			}
			break;
		case 'j':
			p->mode = "joining";
			p->joining = strtoull(optarg, NULL, 10);
			break;
		case 'g':
			p->mode = "garbage";
			break;
		case 'P':
			p->mode = "publish";
			p->publish_n = strtoull(optarg, NULL, 10);
			break;
		case 'S':
			p->mode = "subscribe";
			break;
		case 'R':
			p->rendezvous_ms = strtoull(optarg, NULL, 10);
			break;
		case 'E':
			if (strcmp(optarg, "done") && strcmp(optarg, "done-with-fin") &&
			    strcmp(optarg, "close")) {
				fprintf(stderr,
					"moq-relay-probe: --end done|done-with-fin|close\n");
				return 2;
			}
			p->end = optarg;
			break;
		case 'B':
			p->burst = strtoull(optarg, NULL, 10);
			break;
		case 'L':
			p->lose_last = 1;
			break;
		case 'W':
			p->wait_file = optarg;
			break;
		case 'F':
			p->phantom = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind + 1 != argc || sscanf(argv[optind], "%255[^:]:%u", o->host, &o->port) != 2) {
		usage();
		return 2;
	}
	return -1;
}

static void print_result(const struct probe *p)
{
	printf("{\"mode\":\"%s\",\"published\":%llu,\"fetch_ok\":%s,\"sub_ok\":%s,"
	       "\"answer_ms\":%llu,\"error_code\":%lld,\"objects\":%llu,"
	       "\"bytes\":%llu,\"integrity_errors\":%llu,\"first_group\":%lld,"
	       "\"last_group\":%lld,\"groups\":%llu,\"goaway\":%s,\"closed\":%s,"
	       "\"close_code\":%llu,\"done\":%s,\"dropped\":%llu}\n",
	       p->mode, (unsigned long long)p->sent, p->fetch_ok ? "true" : "false",
	       p->sub_ok ? "true" : "false", (unsigned long long)p->answer_ms,
	       p->has_error ? (long long)p->error_code : -1LL, (unsigned long long)p->objects,
	       (unsigned long long)p->bytes, (unsigned long long)p->integrity_errors,
	       (long long)p->first_group, (long long)p->last_group, (unsigned long long)p->groups,
	       p->goaway ? "true" : "false", p->closed ? "true" : "false",
	       (unsigned long long)p->close_code, p->done ? "true" : "false",
	       (unsigned long long)p->dropped);
}

int main(int argc, char **argv)
{
	static struct probe P = {.mode = "fetch",
				 .track = "test",
				 .first_group = -1,
				 .last_group = -1,
				 .end = "done",
				 .last_sid = -1};
	static struct moq_quic_callbacks qcb;
	struct probe *p = &P;
	struct moq_session_callbacks cb = {0};
	struct moq_session_config sc = {0};
	struct moq_quic_config q;
	struct moq_auth_token tok = {0};
	struct probe_opts o = {.nsarg = "moq-pub", .timeout = 10};
	char err[256];
	int rc;
	rc = parse_args(p, &o, argc, argv);
	if (rc >= 0)
		return rc;
	snprintf(p->nsbuf, sizeof(p->nsbuf), "%s", o.nsarg);
	for (char *save, *f = strtok_r(p->nsbuf, "/", &save);
	     f && p->ns.nfields < MOQ_MAX_NAMESPACE_FIELDS; f = strtok_r(NULL, "/", &save)) {
		p->ns.fields[p->ns.nfields].ptr = (const uint8_t *)f;
		p->ns.fields[p->ns.nfields].len = strlen(f);
		p->ns.nfields++;
	}
	p->loop = moq_loop_new();
	moq_quic_config_init(&q);
	q.plaintext = o.plaintext;
	q.insecure = o.insecure;
	qcb = *moq_session_quic_callbacks();
	if (p->lose_last)
		qcb.send_hook = probe_send_hook;
	q.cb = &qcb;
	g_probe = p;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(p->loop, &q, err, sizeof(err));
	if (!ep) {
		fprintf(stderr, "moq-relay-probe: %s\n", err);
		return 3;
	}
	cb.on_ready = on_ready;
	cb.on_request_msg = on_request_msg;
	cb.on_request_closed = on_request_closed;
	cb.on_data = on_data;
	cb.on_close = on_close;
	cb.on_goaway = on_goaway;
	sc.loop = p->loop;
	sc.cb = &cb;
	sc.user = p;
	if (o.token) {
		/* REGISTER (alias 1) tests a receiver with no token cache */
		tok.alias_type = o.register_token ? MOQ_ALIAS_REGISTER : MOQ_ALIAS_USE_VALUE;
		tok.token_alias = 1;
		tok.token_value.ptr = (const uint8_t *)o.token;
		tok.token_value.len = strlen(o.token);
		sc.auth_tokens = &tok;
		sc.num_auth_tokens = 1;
	}
	p->s = moq_session_connect(ep, o.host, (uint16_t)o.port, &sc, err, sizeof(err));
	if (!p->s) {
		fprintf(stderr, "moq-relay-probe: %s\n", err);
		return 3;
	}
	struct moq_timer *t = moq_timer_new(p->loop, timeout_cb, p);
	moq_timer_set_in(t, (uint64_t)(o.timeout * 1e9));
	moq_loop_run(p->loop);
	print_result(p);
	moq_timer_free(t);
	moq_timer_free(p->pub_timer);
	moq_quic_endpoint_free(ep);
	moq_loop_free(p->loop);
	free(p->obj);
	return 0;
}
