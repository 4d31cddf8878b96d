#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "session_harness.h"

static char g_dir[64], g_cert[128], g_key[128], g_ca[128];
static bool g_certs_made;

static void rm_certs(void)
{
	char cmd[128];
	if (!g_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", g_dir);
}

static void make_certs(void)
{
	char cmd[2048];
	if (g_certs_made)
		return;
	snprintf(g_dir, sizeof(g_dir), "/tmp/moq-session-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
	atexit(rm_certs);
	snprintf(g_ca, sizeof(g_ca), "%s/ca.pem", g_dir);
	snprintf(g_cert, sizeof(g_cert), "%s/srv.pem", g_dir);
	snprintf(g_key, sizeof(g_key), "%s/srv.key", g_dir);
	snprintf(cmd, sizeof(cmd),
		 "(cd %s && "
		 "printf 'cn = \"session test CA\"\\nca\\ncert_signing_key\\n"
		 "expiration_days = 2\\n' > ca.tmpl && "
		 "printf 'cn = \"localhost\"\\ndns_name = \"localhost\"\\n"
		 "ip_address = \"127.0.0.1\"\\ntls_www_server\\nsigning_key\\n"
		 "expiration_days = 2\\n' > srv.tmpl && "
		 "certtool -p --key-type=ecdsa --curve=secp256r1 --outfile ca.key && "
		 "certtool -s --load-privkey ca.key --template ca.tmpl --outfile ca.pem && "
		 "certtool -p --key-type=ecdsa --curve=secp256r1 --outfile srv.key && "
		 "certtool -c --load-privkey srv.key --load-ca-certificate ca.pem "
		 "--load-ca-privkey ca.key --template srv.tmpl --outfile srv.pem"
		 ") >/dev/null 2>&1",
		 g_dir);
	ck_assert_msg(system(cmd) == 0, "certtool failed: %s", cmd);
	g_certs_made = true;
}

/* ---- recorder callbacks ---- */

static struct rec *R(struct moq_session *s)
{
	return moq_session_user(s);
}

static int cb_setup(struct moq_session *s, const struct moq_setup *peer)
{
	struct rec *r = R(s);
	if (peer->has_path)
		snprintf(r->peer_path, sizeof(r->peer_path), "%.*s", (int)peer->path.len,
			 (const char *)peer->path.ptr);
	if (peer->has_moqt_implementation)
		snprintf(r->peer_impl, sizeof(r->peer_impl), "%.*s",
			 (int)peer->moqt_implementation.len,
			 (const char *)peer->moqt_implementation.ptr);
	return r->setup_reject;
}

static void cb_ready(struct moq_session *s)
{
	R(s)->ready = 1;
}

static void cb_goaway(struct moq_session *s, const struct moq_goaway *g)
{
	(void)g;
	R(s)->goaway++;
}

static void cb_close(struct moq_session *s, const struct moq_quic_close_info *i)
{
	struct rec *r = R(s);
	r->closed = 1;
	if (i)
		r->close = *i;
	r->s = NULL;
}

static void cb_request(struct moq_session *s, struct moq_request *req, const struct moq_ctrl_msg *m)
{
	struct rec *r = R(s);
	r->n_req++;
	r->req = req;
	r->req_type = m->type;
	if (r->on_request)
		r->on_request(r, req, m);
}

static void cb_request_msg(struct moq_session *s, struct moq_request *req,
			   const struct moq_ctrl_msg *m)
{
	struct rec *r = R(s);
	r->n_msg++;
	r->last_msg_type = m->type;
	if (m->type == MOQ_CTRL_REQUEST_ERROR)
		r->last_error_code = m->request_error.error_code;
	if (m->type == MOQ_CTRL_SUBSCRIBE_OK)
		r->last_alias = m->subscribe_ok.track_alias;
	if (m->type == MOQ_CTRL_PUBLISH_DONE) {
		r->done_status = m->publish_done.status_code;
		r->done_count = m->publish_done.stream_count;
	}
	if (r->on_msg)
		r->on_msg(r, req, m);
}

static void cb_request_closed(struct moq_session *s, struct moq_request *req,
			      enum moq_request_end why, uint64_t code)
{
	struct rec *r = R(s);
	r->n_closed++;
	r->closed_why = why;
	r->closed_code = code;
	if (r->req == req)
		r->req = NULL;
}

static void cb_data(struct moq_session *s, struct moq_rx *rx, const struct moq_data_event *ev)
{
	struct rec *r = R(s);
	if (ev->type == MOQ_DATA_EV_HEADER)
		r->n_headers++;
	if (ev->type == MOQ_DATA_EV_OBJECT)
		r->n_objects++;
	if (ev->type == MOQ_DATA_EV_STREAM_END)
		r->n_stream_end++;
	if (r->on_data)
		r->on_data(r, rx, ev);
}

static void cb_data_reset(struct moq_session *s, struct moq_rx *rx, uint64_t code, int local)
{
	struct rec *r = R(s);
	(void)rx;
	(void)local;
	r->n_resets++;
	r->reset_code = code;
}

static void cb_datagram(struct moq_session *s, struct moq_request *sub,
			const struct moq_object_datagram *d)
{
	struct rec *r = R(s);
	(void)sub;
	r->n_dgrams++;
	r->dgram_sum += d->object_id;
}

static void cb_tx_timeout(struct moq_session *s, struct moq_tx *tx)
{
	(void)tx;
	R(s)->n_tx_timeout++;
}

const struct moq_session_callbacks sh_callbacks = {
    .on_setup = cb_setup,
    .on_ready = cb_ready,
    .on_goaway = cb_goaway,
    .on_close = cb_close,
    .on_request = cb_request,
    .on_request_msg = cb_request_msg,
    .on_request_closed = cb_request_closed,
    .on_data = cb_data,
    .on_data_reset = cb_data_reset,
    .on_datagram = cb_datagram,
    .on_tx_timeout = cb_tx_timeout,
};

static int on_session(struct moq_session *s, void *arg)
{
	struct sh_world *w = arg;
	if (w->nsrv >= SH_MAX_SRV)
		return -1;
	struct rec *r = &w->srv[w->nsrv++];
	r->s = s;
	moq_session_set_user(s, r);
	return 0;
}

static void world_init(struct sh_world *w, bool tls, bool wt)
{
	struct moq_quic_config sc, cc;
	char err[256];

	memset(w, 0, sizeof(*w));
	w->tls = tls;
	if (tls)
		make_certs();
	if (!getenv("MOQ_LOG"))
		moq_log_set_level(MOQ_LOG_ERROR);
	w->loop = moq_loop_new();
	ck_assert_ptr_nonnull(w->loop);

	w->srv_cfg.loop = w->loop;
	w->srv_cfg.cb = &sh_callbacks;
	w->cli_cfg.loop = w->loop;
	w->cli_cfg.cb = &sh_callbacks;
	w->cli_cfg.path = "/test";
	w->cli_cfg.authority = "localhost";
	w->acc.cfg = &w->srv_cfg;
	w->acc.on_session = on_session;
	w->acc.arg = w;

	moq_quic_config_init(&sc);
	sc.listen = 1;
	sc.local_addr = "127.0.0.1";
	sc.plaintext = !tls;
	if (tls) {
		sc.cert_file = g_cert;
		sc.key_file = g_key;
	}
	if (wt) {
		/* the relay's setting: native MoQT and WebTransport on one port */
		sc.alpn = "moqt-18,h3";
		w->cli_cfg.webtransport = 1;
		w->cli_cfg.authority = "127.0.0.1";
	}
	sc.cb = moq_session_quic_callbacks();
	sc.user = &w->acc;
	w->srv_ep = moq_quic_endpoint_new(w->loop, &sc, err, sizeof(err));
	ck_assert_msg(w->srv_ep != NULL, "server endpoint: %s", err);

	moq_quic_config_init(&cc);
	cc.plaintext = !tls;
	if (tls)
		cc.ca_file = g_ca;
	if (wt)
		cc.alpn = "h3";
	cc.cb = moq_session_quic_callbacks();
	w->cli_ep = moq_quic_endpoint_new(w->loop, &cc, err, sizeof(err));
	ck_assert_msg(w->cli_ep != NULL, "client endpoint: %s", err);
}

void sh_world_init(struct sh_world *w, bool tls)
{
	world_init(w, tls, false);
}

void sh_world_init_wt(struct sh_world *w)
{
	world_init(w, true, true);
}

struct rec *sh_connect(struct sh_world *w)
{
	char err[256];
	ck_assert_int_lt(w->ncli, SH_MAX_SRV);
	struct rec *r = &w->cli[w->ncli++];
	struct moq_session_config cfg = w->cli_cfg;
	cfg.user = r;
	r->s = moq_session_connect(w->cli_ep, "127.0.0.1", moq_quic_endpoint_port(w->srv_ep), &cfg,
				   err, sizeof(err));
	ck_assert_msg(r->s != NULL, "connect: %s", err);
	return r;
}

void sh_world_free(struct sh_world *w)
{
	moq_quic_endpoint_free(w->cli_ep);
	moq_quic_endpoint_free(w->srv_ep);
	moq_loop_free(w->loop);
}

bool sh_run_until(struct sh_world *w, bool (*cond)(void *), void *arg, uint64_t timeout_ms)
{
	uint64_t deadline = moq_loop_now() + timeout_ms * 1000000ull;
	while (!cond(arg)) {
		if (moq_loop_now() >= deadline)
			return false;
		ck_assert_int_ge(moq_loop_run_once(w->loop, 10), 0);
	}
	return true;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

void sh_run_for(struct sh_world *w, uint64_t ms)
{
	sh_run_until(w, never, NULL, ms);
}

bool sh_ready(void *arg)
{
	struct sh_world *w = arg;
	return w->ncli > 0 && w->cli[0].ready && w->nsrv > 0 && w->srv[0].ready;
}

void sh_connect_ready(struct sh_world *w)
{
	sh_connect(w);
	ck_assert_msg(sh_run_until(w, sh_ready, w, 5000),
		      "sessions not ready: client ready=%d closed=%d, server "
		      "sessions=%d",
		      w->cli[0].ready, w->cli[0].closed, w->nsrv);
}

struct moq_namespace sh_ns(const char *field)
{
	struct moq_namespace ns;
	memset(&ns, 0, sizeof(ns));
	ns.nfields = 1;
	ns.fields[0] = sh_bytes(field);
	return ns;
}

struct moq_bytes sh_bytes(const char *s)
{
	struct moq_bytes b = {(const uint8_t *)s, strlen(s)};
	return b;
}
