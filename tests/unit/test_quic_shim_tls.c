/* The layer's own 1-RTT protection (config.shim_protect) on loopback: an
 * unmodified TLS client (ngtcp2's own protection) against a shim-protected
 * server whose send hook renumbers packet numbers (sealing comes after
 * it). A UDP proxy between them opens every server packet with the keys
 * the server reported through on_keys_changed, so a packet sealed under
 * keys not yet reported is caught; it can also corrupt or forge packets.
 * Key derivation is checked against RFC 9001 Appendix A. */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"
#include "quic/loop.h"
#include "quic/protect.h"
#include "quic/quic.h"
#include "lib/quic_proxy.h"
#include "varint.h"

extern const char *moq_quic_test_tls_priority; /* tls.c, tests only */

#define PN_OFFSET (0x100000000ull - 700) /* wire PNs cross 2^32 */
#define CLI_BYTES (1u << 20)
#define SRV_BYTES (3u << 20)
#define NDGRAM 20

static struct tq_certs g_certs;

struct side {
	struct moq_quic_endpoint *ep;
	struct moq_quic_conn *conn;
	int established, closed;
	char reason[256];
	uint64_t rlen;
	int rfin, rbad, ndgram, dgram_bad;
	/* client: key updates every N packets received */
	unsigned ku_every;
	uint64_t ku_next, ku_done;
};

/* Server tx keys as reported by on_keys_changed (the proxy opens with
 * them): the current and the one before. */
static struct moq_quic_1rtt_keys g_rep_cur, g_rep_prev;
static int g_reports, g_reports_at_est;
static int g_cli_track; /* the client endpoint's config.track_rx_pn */

static struct {
	int hook_send, hook_recv, hook_bad, acks_translated;
	uint64_t max_wire_pn;
} g_h;

struct proxy {
	struct tq_proxy l;
	uint64_t s2c_largest;
	int s2c_any, s2c_opened, s2c_unopened, s2c_plain_tag, phase_seen[2], raw_opened;
	int corrupt_at, c2s_short; /* corrupt the corrupt_at-th client short packet */
	/* on the server's first datagram, send the server a forged 1-RTT
	 * packet in the null form (an on-path attacker learns the server's
	 * connection ID there) */
	int forge_on_first_s2c, s2c_seen;
	/* steal: keep the next client short-header datagram (stolen[]) and
	 * forward no client datagram until steal is 0 again */
	int steal;
	uint8_t stolen[2048];
	size_t stolen_len;
};
static struct proxy g_px;

struct world {
	struct moq_loop *loop;
	struct side srv, cli;
};

/* ---- an independent opener for the proxy -------------------------------- */

static uint64_t t_pn_decode(uint64_t largest, int any, uint64_t trunc, unsigned bits)
{
	uint64_t exp = any ? largest + 1 : 0, win = 1ull << bits, hw = win / 2;
	uint64_t c = (exp & ~(win - 1)) | trunc;

	if (c + hw <= exp)
		return c + win;
	if (c > exp + hw && c >= win)
		return c - win;
	return c;
}

static void t_ecb(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
	gnutls_cipher_hd_t h;
	uint8_t z[16] = {0};
	gnutls_datum_t k = {(unsigned char *)key, 16}, iv = {z, 16};

	ck_assert_int_eq(gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &k, &iv), 0);
	ck_assert_int_eq(gnutls_cipher_encrypt2(h, in, 16, out, 16), 0);
	gnutls_cipher_deinit(h);
}

/* Open a copy of a short-header packet with keys; 1 if it verifies. */
static uint8_t g_pt[2048];
static size_t g_ptlen;

static int t_open(const uint8_t *pkt, size_t n, const struct moq_quic_1rtt_keys *k, uint64_t *pn,
		  uint64_t largest, int any, unsigned *phase)
{
	uint8_t mask[16], hdr[13], nonce[12], *out = g_pt;
	size_t pnlen, hl, outlen = sizeof(g_pt);
	uint64_t tr = 0;
	gnutls_aead_cipher_hd_t h;
	gnutls_datum_t kd = {(unsigned char *)k->key, 16};
	int rv;

	if (n < 9 + 4 + 16 || n > sizeof(g_pt))
		return 0;
	t_ecb(k->hp, pkt + 13, mask);
	hdr[0] = pkt[0] ^ (mask[0] & 0x1f);
	pnlen = (hdr[0] & 3u) + 1;
	hl = 9 + pnlen;
	memcpy(hdr + 1, pkt + 1, 8);
	for (size_t i = 0; i < pnlen; i++) {
		hdr[9 + i] = pkt[9 + i] ^ mask[1 + i];
		tr = tr << 8 | hdr[9 + i];
	}
	*pn = t_pn_decode(largest, any, tr, (unsigned)(8 * pnlen));
	*phase = (hdr[0] >> 2) & 1;
	memcpy(nonce, k->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(*pn >> (8 * i));
	ck_assert_int_eq(gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &kd), 0);
	rv = gnutls_aead_cipher_decrypt(h, nonce, 12, hdr, hl, 16, pkt + hl, n - hl, out, &outlen);
	gnutls_aead_cipher_deinit(h);
	g_ptlen = outlen;
	return rv == 0;
}

#define RAW_MARK "sealed by moq_quic_conn_send_raw"

/* 1: forward the datagram, 0: drop it */
static int proxy_s2c(struct proxy *p, const uint8_t *d, size_t n)
{
	size_t o = 0;
	uint64_t pn;
	unsigned ph;

	while (o < n && (d[o] & 0x80)) { /* skip long headers */
		size_t q = o + 5;
		uint64_t v;
		int k;
		q += 1 + d[q];
		q += 1 + d[q];
		if (((d[o] & 0x30) >> 4) == 0) {
			k = quic_varint_decode(&v, d + q, n - q);
			q += (size_t)k + v;
		}
		k = quic_varint_decode(&v, d + q, n - q);
		o = q + (size_t)k + v;
	}
	if (o >= n)
		return 1;
	if (!memcmp(d + n - 16, MOQ_QUIC_PLAINTEXT_TAG, 16))
		p->s2c_plain_tag++;
	if (!g_reports) {
		p->s2c_unopened++;
		return 1;
	}
	if (t_open(d + o, n - o, &g_rep_cur, &pn, p->s2c_largest, p->s2c_any, &ph) &&
	    ph == g_rep_cur.phase) {
	} else if (g_reports > 1 &&
		   t_open(d + o, n - o, &g_rep_prev, &pn, p->s2c_largest, p->s2c_any, &ph) &&
		   ph == g_rep_prev.phase) {
	} else {
		p->s2c_unopened++;
		return 1;
	}
	p->s2c_opened++;
	if (g_ptlen >= 2 + sizeof(RAW_MARK) - 1 && g_pt[0] == 0x31 &&
	    !memcmp(g_pt + 2, RAW_MARK, sizeof(RAW_MARK) - 1)) {
		p->raw_opened++; /* not for the client: its ACK would confuse ngtcp2 */
		return 0;
	}
	p->phase_seen[ph]++;
	if (!p->s2c_any || pn > p->s2c_largest)
		p->s2c_largest = pn;
	p->s2c_any = 1;
	return 1;
}

/* 0x43 | the server's CID (from its long header d) | PN | an application
 * CONNECTION_CLOSE | PADDING | the profile's tag: what ngtcp2's null keys
 * accept on a shim-protected connection. */
static void proxy_forge(struct proxy *p, const uint8_t *d, size_t n)
{
	uint8_t f[64] = {0x43};
	size_t dl, sl;

	if (n < 7 || !(d[0] & 0x80))
		return;
	dl = d[5];
	if (6 + dl >= n)
		return;
	sl = d[6 + dl];
	if (sl != 8 || 7 + dl + sl > n)
		return;
	memcpy(f + 1, d + 7 + dl, 8);
	f[12] = 3;    /* PN */
	f[13] = 0x1d; /* CONNECTION_CLOSE (application) */
	f[14] = 0x2a; /* error code */
	f[15] = 0;    /* no reason */
	memcpy(f + sizeof(f) - 16, MOQ_QUIC_PLAINTEXT_TAG, 16);
	sendto(p->l.fd_srv, f, sizeof(f), 0, (struct sockaddr *)&p->l.srv, sizeof(p->l.srv));
}

static int proxy_c2s(void *arg, uint8_t *d, size_t n)
{
	struct proxy *p = arg;

	if (p->steal) {
		/* keep the first client short-header datagram, forward none */
		if (!p->stolen_len && !(d[0] & 0x80) && n <= sizeof(p->stolen)) {
			memcpy(p->stolen, d, n);
			p->stolen_len = n;
		}
		return 0;
	}
	if (!(d[0] & 0x80) && ++p->c2s_short == p->corrupt_at)
		d[n - 20] ^= 0x01; /* in the ciphertext */
	return 1;
}

static int proxy_s2c_hook(void *arg, uint8_t *d, size_t n)
{
	struct proxy *p = arg;

	if (p->forge_on_first_s2c && !p->s2c_seen++)
		proxy_forge(p, d, n);
	return proxy_s2c(p, d, n);
}

/* ---- callbacks ----------------------------------------------------------- */

static int on_accept(struct moq_quic_conn *c, void *user)
{
	struct side *s = user;
	s->conn = c;
	moq_quic_conn_set_user(c, s);
	return 0;
}

static void on_established(struct moq_quic_conn *c, void *user)
{
	struct side *s = user;
	s->established = 1;
	s->conn = c;
	if (moq_quic_conn_is_server(c))
		g_reports_at_est = g_reports;
}

static void on_close(struct moq_quic_conn *c, const struct moq_quic_close_info *ci, void *user)
{
	struct side *s = user;
	s->closed = 1;
	snprintf(s->reason, sizeof(s->reason), "%s", ci->reason);
	if (s->conn == c)
		s->conn = NULL;
}

static void maybe_key_update(struct side *s, struct moq_quic_conn *c)
{
	struct moq_quic_conn_stats st;

	if (!s->ku_every)
		return;
	moq_quic_conn_stats(c, &st);
	if (st.pkts_recv < s->ku_next)
		return;
	if (moq_quic_conn_key_update(c) == 0) {
		s->ku_done++;
		s->ku_next = st.pkts_recv + s->ku_every;
	}
}

static void on_stream_data(struct moq_quic_conn *c, int64_t sid, const uint8_t *data, size_t len,
			   int fin, void *user)
{
	struct side *s = user;

	for (size_t k = 0; k < len; k++)
		if (data[k] != tq_pattern(sid, s->rlen + k))
			s->rbad++;
	s->rlen += len;
	if (fin)
		s->rfin = 1;
	maybe_key_update(s, c);
}

static void on_datagram(struct moq_quic_conn *c, const uint8_t *d, size_t n, void *user)
{
	struct side *s = user;

	if (n < 1 || n != 100 + (size_t)d[0] % 7)
		s->dgram_bad++;
	for (size_t k = 1; k < n; k++)
		if (d[k] != tq_pattern(d[0], k))
			s->dgram_bad++;
	s->ndgram++;
	maybe_key_update(s, c);
}

static void on_keys_changed(struct moq_quic_conn *c, void *user)
{
	struct moq_quic_1rtt_keys k;

	if (!moq_quic_conn_is_server(c))
		return;
	if (moq_quic_conn_1rtt_keys(c, 1, 0, &k) == -ENOENT)
		return; /* rx keys first */
	if (g_reports && !memcmp(&k, &g_rep_cur, sizeof(k)))
		return; /* rx-only change */
	g_rep_prev = g_rep_cur;
	g_rep_cur = k;
	g_reports++;
}

/* Server hooks: renumber (wire = ngtcp2 + PN_OFFSET) and translate the
 * client's ACKs back, as the relay agent does; both see the
 * plaintext-profile form. */
static int send_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap, uint64_t pn,
		     void *user)
{
	uint64_t w = pn + PN_OFFSET;

	g_h.hook_send++;
	if (moq_quic_plaintext_check_1rtt(pkt, *len, 8, NULL) < 0)
		g_h.hook_bad++;
	pkt[9] = (uint8_t)(w >> 24);
	pkt[10] = (uint8_t)(w >> 16);
	pkt[11] = (uint8_t)(w >> 8);
	pkt[12] = (uint8_t)w;
	if (w > g_h.max_wire_pn)
		g_h.max_wire_pn = w;
	return 0;
}

static int recv_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap, void *user)
{
	uint8_t out[4096];
	size_t hdr = 13, o = hdr;
	const uint8_t *p = pkt + hdr, *end = pkt + *len - 16;
	struct moq_quic_frame f;
	int r;

	g_h.hook_recv++;
	if (pkt[0] != 0x43 || *len < hdr + 16 || *len > sizeof(out) ||
	    memcmp(end, MOQ_QUIC_PLAINTEXT_TAG, 16)) {
		g_h.hook_bad++;
		return 0;
	}
	memcpy(out, pkt, hdr);
	for (; p < end; p += r) {
		r = moq_quic_frame_parse(&f, p, end);
		if (r < 0) {
			g_h.hook_bad++;
			return 0;
		}
		if (f.type == 0x02 || f.type == 0x03) {
			uint64_t largest;
			int k = quic_varint_decode(&largest, p + 1, (size_t)(end - p - 1));
			if (k < 0 || largest < PN_OFFSET) {
				g_h.hook_bad++;
				return -1;
			}
			out[o++] = p[0];
			o += (size_t)quic_varint_encode(out + o, sizeof(out) - o,
							largest - PN_OFFSET);
			memcpy(out + o, p + 1 + k, f.len - 1 - (size_t)k);
			o += f.len - 1 - (size_t)k;
			g_h.acks_translated++;
			continue;
		}
		memcpy(out + o, p, f.len);
		o += f.len;
	}
	memcpy(out + o, end, 16);
	o += 16;
	ck_assert_uint_le(o, cap);
	memcpy(pkt, out, o);
	*len = o;
	return 0;
}

static const struct moq_quic_callbacks g_scb = {
    .on_accept = on_accept,
    .on_established = on_established,
    .on_close = on_close,
    .on_stream_data = on_stream_data,
    .on_datagram = on_datagram,
    .on_keys_changed = on_keys_changed,
    .send_hook = send_hook,
    .recv_hook = recv_hook,
};

static const struct moq_quic_callbacks g_ccb = {
    .on_established = on_established,
    .on_close = on_close,
    .on_stream_data = on_stream_data,
    .on_datagram = on_datagram,
    .on_keys_changed = on_keys_changed,
};

/* ---- world --------------------------------------------------------------- */

static void world_init(struct world *w, int shim, const char *cli_prio, int corrupt_at)
{
	struct moq_quic_config sc, cc;
	uint16_t port;
	char err[256];

	memset(w, 0, sizeof(*w));
	memset(&g_h, 0, sizeof(g_h));
	memset(&g_px, 0, sizeof(g_px));
	g_reports = g_reports_at_est = 0;
	g_px.corrupt_at = corrupt_at;
	w->loop = moq_loop_new();
	ck_assert_ptr_nonnull(w->loop);

	moq_quic_config_init(&sc);
	sc.listen = 1;
	sc.local_addr = "127.0.0.1";
	sc.cert_file = g_certs.cert;
	sc.key_file = g_certs.key;
	sc.shim_protect = shim;
	sc.cb = &g_scb;
	sc.user = &w->srv;
	w->srv.ep = moq_quic_endpoint_new(w->loop, &sc, err, sizeof(err));
	ck_assert_msg(w->srv.ep != NULL, "server: %s", err);

	moq_quic_config_init(&cc);
	cc.insecure = 1;
	cc.track_rx_pn = g_cli_track;
	cc.cb = &g_ccb;
	cc.user = &w->cli;
	moq_quic_test_tls_priority = cli_prio;
	w->cli.ep = moq_quic_endpoint_new(w->loop, &cc, err, sizeof(err));
	moq_quic_test_tls_priority = NULL;
	ck_assert_msg(w->cli.ep != NULL, "client: %s", err);

	g_px.l.c2s = proxy_c2s;
	g_px.l.s2c = proxy_s2c_hook;
	g_px.l.arg = &g_px;
	port = tq_proxy_open(&g_px.l, w->loop, moq_quic_endpoint_port(w->srv.ep));
	w->cli.conn = moq_quic_connect(w->cli.ep, "127.0.0.1", port, &w->cli, err, sizeof(err));
	ck_assert_msg(w->cli.conn != NULL, "connect: %s", err);
}

static void world_free(struct world *w)
{
	moq_quic_endpoint_free(w->cli.ep);
	moq_quic_endpoint_free(w->srv.ep);
	tq_proxy_close(&g_px.l, w->loop);
	moq_loop_free(w->loop);
}

#define run_until(w, cond, ms) tq_run_until((w)->loop, (w), (cond), (ms))
#define run_for(w, ms) tq_run_for((w)->loop, (ms))

static int both_established(struct world *w)
{
	return w->cli.established && w->srv.established;
}

static void handshake(struct world *w)
{
	ck_assert_msg(run_until(w, both_established, 5000), "handshake: client %s / server %s",
		      w->cli.reason, w->srv.reason);
}

static uint8_t *g_cbuf, *g_sbuf;
static int g_dgram_need = NDGRAM; /* one may be lost to a corrupted packet */

static int transfer_done(struct world *w)
{
	return (w->srv.rfin && w->cli.rfin && w->srv.ndgram >= g_dgram_need &&
		w->cli.ndgram >= g_dgram_need) ||
	       w->cli.closed || w->srv.closed;
}

/* Streams both ways and datagrams both ways, byte-exact. */
static void transfer(struct world *w)
{
	int64_t cs = moq_quic_stream_open_uni(w->cli.conn);
	int64_t ss = moq_quic_stream_open_uni(w->srv.conn);
	uint8_t d[128];

	ck_assert_int_ge(cs, 0);
	ck_assert_int_ge(ss, 0);
	for (size_t k = 0; k < CLI_BYTES; k++)
		g_cbuf[k] = tq_pattern(cs, k);
	for (size_t k = 0; k < SRV_BYTES; k++)
		g_sbuf[k] = tq_pattern(ss, k);
	ck_assert_int_eq(
	    moq_quic_stream_write_ref(w->cli.conn, cs, g_cbuf, CLI_BYTES, 1, NULL, NULL), 0);
	ck_assert_int_eq(
	    moq_quic_stream_write_ref(w->srv.conn, ss, g_sbuf, SRV_BYTES, 1, NULL, NULL), 0);
	for (int i = 0; i < NDGRAM; i++) {
		size_t n = 100 + (size_t)i % 7;
		d[0] = (uint8_t)i;
		for (size_t k = 1; k < n; k++)
			d[k] = tq_pattern(i, k);
		ck_assert_int_eq(moq_quic_datagram_send(w->cli.conn, d, n), 0);
		ck_assert_int_eq(moq_quic_datagram_send(w->srv.conn, d, n), 0);
	}
	ck_assert_msg(run_until(w, transfer_done, 30000), "transfer: srv %llu cli %llu",
		      (unsigned long long)w->srv.rlen, (unsigned long long)w->cli.rlen);
	ck_assert_msg(!w->cli.closed && !w->srv.closed, "closed: client %s / server %s",
		      w->cli.reason, w->srv.reason);
	ck_assert_uint_eq(w->srv.rlen, CLI_BYTES);
	ck_assert_uint_eq(w->cli.rlen, SRV_BYTES);
	ck_assert_int_eq(w->srv.rbad, 0);
	ck_assert_int_eq(w->cli.rbad, 0);
	ck_assert_int_ge(w->srv.ndgram, g_dgram_need);
	ck_assert_int_ge(w->cli.ndgram, g_dgram_need);
	ck_assert_int_eq(w->srv.dgram_bad, 0);
	ck_assert_int_eq(w->cli.dgram_bad, 0);
}

/* Server datagrams for ms: 5 every 10 ms (time for key updates, which
 * ngtcp2 spaces by 3 PTO). */
static void pump_datagrams(struct world *w, uint64_t ms)
{
	uint64_t deadline = moq_loop_now() + ms * 1000000ull;
	uint8_t d[128];
	int i = 0, sent = 0, before = w->cli.ndgram;

	while (moq_loop_now() < deadline) {
		for (int j = 0; j < 5; j++, i++) {
			size_t n = 100 + (size_t)(i % 256) % 7;
			d[0] = (uint8_t)i;
			for (size_t k = 1; k < n; k++)
				d[k] = tq_pattern(d[0], k);
			if (moq_quic_datagram_send(w->srv.conn, d, n) == 0)
				sent++;
		}
		run_for(w, 10);
	}
	run_for(w, 50);
	ck_assert_int_eq(w->cli.dgram_bad, 0);
	ck_assert_int_eq(w->cli.ndgram - before, sent);
}

/* Both ends agree on the keys: the server's (the layer's derivation) and
 * the client's (captured from ngtcp2's). */
static int keys_agree(struct world *w, char *why, size_t whylen)
{
	struct moq_quic_1rtt_keys a, b;

	for (int tx = 0; tx < 2; tx++)
		for (int next = 0; next < 2; next++) {
			if (moq_quic_conn_1rtt_keys(w->srv.conn, tx, next, &a) ||
			    moq_quic_conn_1rtt_keys(w->cli.conn, !tx, next, &b) ||
			    memcmp(&a, &b, sizeof(a))) {
				snprintf(why, whylen, "server tx %d next %d: phase %u, client %u",
					 tx, next, a.phase, b.phase);
				return 0;
			}
		}
	return 1;
}

/* After updates settle: the client's "current" may lag one generation
 * until ngtcp2 asks for its next keys, a PTO after the update was
 * confirmed, while it sends (docs/fast-path-tls-quic.md). */
static void keys_match(struct world *w)
{
	char why[128] = "";

	w->cli.ku_every = 0;
	for (int i = 0; i < 30 && !keys_agree(w, why, sizeof(why)); i++)
		pump_datagrams(w, 100);
	ck_assert_msg(keys_agree(w, why, sizeof(why)), "%s", why);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_shim_transfer_with_renumbering_hooks)
{
	struct world w;
	struct moq_quic_endpoint_stats st;

	world_init(&w, 1, NULL, 0);
	handshake(&w);
	ck_assert_int_eq(moq_quic_conn_shim_protected(w.srv.conn), 1);
	ck_assert_int_eq(moq_quic_conn_shim_protected(w.cli.conn), 0);
	/* keys reported before the first 1-RTT packet left (the proxy opened
	 * every server short packet with reported keys) */
	ck_assert_int_ge(g_reports_at_est, 1);
	transfer(&w);
	ck_assert_int_gt(g_h.hook_send, 2000);
	ck_assert_int_gt(g_h.hook_recv, 100);
	ck_assert_int_eq(g_h.hook_bad, 0);
	ck_assert_int_gt(g_h.acks_translated, 20);
	ck_assert_uint_gt(g_h.max_wire_pn, 0x100000000ull); /* the nonce used the full PN */
	ck_assert_int_gt(g_px.s2c_opened, 2000);
	ck_assert_int_eq(g_px.s2c_unopened, 0);
	ck_assert_int_eq(g_px.s2c_plain_tag, 0);
	keys_match(&w);
	moq_quic_endpoint_stats(w.srv.ep, &st);
	ck_assert_uint_eq(st.rx_open_failed, 0);
	ck_assert_uint_eq(st.shim_oversize_drop, 0);
	/* the client's first 1-RTT packet comes before its Finished: kept
	 * until the rx keys, not lost */
	ck_assert_uint_ge(st.rx_early, 1);
	world_free(&w);
}
END_TEST

START_TEST(test_shim_client_key_updates_every_100_packets)
{
	struct world w;
	struct moq_quic_conn_stats ss;

	world_init(&w, 1, NULL, 0);
	w.cli.ku_every = 100;
	w.cli.ku_next = 100;
	handshake(&w);
	transfer(&w);
	/* ngtcp2 spaces updates by 3 PTO: keep packets coming until 5 (at
	 * most ~6 s on a loaded machine) */
	for (int i = 0; i < 20 && w.cli.ku_done < 5; i++)
		pump_datagrams(&w, 300);
	moq_quic_conn_stats(w.srv.conn, &ss);
	ck_assert_uint_ge(w.cli.ku_done, 5);
	/* the server followed every one (its tx switched with it) */
	ck_assert_uint_eq(ss.key_updates, w.cli.ku_done);
	ck_assert_int_eq(g_reports, 1 + (int)w.cli.ku_done);
	ck_assert_int_gt(g_px.phase_seen[0], 100);
	ck_assert_int_gt(g_px.phase_seen[1], 100);
	ck_assert_int_eq(g_px.s2c_unopened, 0);
	ck_assert_uint_eq(ss.rx_open_failed, 0);
	ck_assert_int_eq(g_h.hook_bad, 0); /* the hooks never saw a key phase */
	pump_datagrams(&w, 300);	   /* the client prepares its next keys a PTO later */
	keys_match(&w);
	world_free(&w);
}
END_TEST

static int srv_phase_acked(struct world *w)
{
	return moq_quic_conn_key_update(w->srv.conn) == 0;
}

START_TEST(test_shim_server_initiated_key_update)
{
	struct world w;
	struct moq_quic_1rtt_keys k;
	struct moq_quic_conn_stats ss;
	int reports;

	world_init(&w, 1, NULL, 0);
	handshake(&w);
	ck_assert_int_eq(moq_quic_conn_1rtt_keys(w.srv.conn, 1, 0, &k), 0);
	ck_assert_uint_eq(k.phase, 0);
	reports = g_reports;
	ck_assert_msg(run_until(&w, srv_phase_acked, 3000), "no key update");
	/* reported at once, before anything is sealed under it */
	ck_assert_int_eq(g_reports, reports + 1);
	ck_assert_uint_eq(g_rep_cur.phase, 1);
	/* a second one must wait for the first to be acknowledged */
	ck_assert_int_eq(moq_quic_conn_key_update(w.srv.conn), -EAGAIN);
	transfer(&w);
	ck_assert_int_gt(g_px.phase_seen[1], 1000);
	ck_assert_int_eq(g_px.s2c_unopened, 0);
	moq_quic_conn_stats(w.srv.conn, &ss);
	ck_assert_uint_eq(ss.key_updates, 1);
	ck_assert_uint_eq(ss.rx_open_failed, 0);
	keys_match(&w);
	world_free(&w);
}
END_TEST

static const char *const g_other_suites[] = {
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE",
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:%DISABLE_TLS13_COMPAT_MODE",
};

START_TEST(test_shim_other_suite_is_not_shim_protected)
{
	struct world w;
	struct moq_quic_1rtt_keys k;

	world_init(&w, 1, g_other_suites[_i], 0);
	handshake(&w);
	ck_assert_int_eq(moq_quic_conn_shim_protected(w.srv.conn), 0);
	ck_assert_int_eq(moq_quic_conn_1rtt_keys(w.srv.conn, 1, 0, &k), -ENOTSUP);
	ck_assert_int_eq(moq_quic_conn_1rtt_keys(w.cli.conn, 0, 0, &k), -ENOTSUP);
	transfer(&w);
	world_free(&w);
}
END_TEST

/* Server precedence: a client preferring AES-256-GCM still gets AES-128. */
START_TEST(test_shim_server_prefers_aes128)
{
	struct world w;

	world_init(&w, 1,
		   "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:"
		   "+AES-128-GCM:%DISABLE_TLS13_COMPAT_MODE",
		   0);
	handshake(&w);
	ck_assert_int_eq(moq_quic_conn_shim_protected(w.srv.conn), 1);
	world_free(&w);
}
END_TEST

/* Without shim_protect the same client negotiates its own preference,
 * and an AES-128-GCM connection is still not shim-protected. */
START_TEST(test_no_shim_protect_is_plain_tls)
{
	struct world w;
	struct moq_quic_1rtt_keys k;

	world_init(&w, 0, NULL, 0);
	handshake(&w);
	ck_assert_int_eq(moq_quic_conn_shim_protected(w.srv.conn), 0);
	ck_assert_int_eq(moq_quic_conn_1rtt_keys(w.srv.conn, 0, 0, &k), 0);
	transfer(&w);
	ck_assert_int_eq(g_h.hook_send, 0); /* hooks: plaintext or shim only */
	keys_match(&w);
	world_free(&w);
}
END_TEST

/* A corrupted packet is dropped and counted; a forged packet in the
 * plaintext-profile form (what ngtcp2 would accept under its null keys)
 * never reaches ngtcp2; the connection goes on. */
START_TEST(test_shim_corrupt_and_forged_packets_dropped)
{
	struct world w;
	struct moq_quic_endpoint_stats st;
	uint8_t dcid[20], f[64];
	size_t dl;
	int fd;
	struct sockaddr_in to = {.sin_family = AF_INET};

	g_dgram_need = NDGRAM - 1;
	world_init(&w, 1, NULL, 30);
	handshake(&w);
	dl = moq_quic_conn_dcid(w.cli.conn, dcid);
	ck_assert_uint_eq(dl, 8);
	/* 0x43 | DCID | PN | PING | PADDING | the profile's tag */
	memset(f, 0, sizeof(f));
	f[0] = 0x43;
	memcpy(f + 1, dcid, 8);
	f[12] = 5;
	f[13] = 0x01;
	memcpy(f + sizeof(f) - 16, MOQ_QUIC_PLAINTEXT_TAG, 16);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(moq_quic_endpoint_port(w.srv.ep));
	ck_assert_int_eq(sendto(fd, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)sizeof(f));
	close(fd);
	transfer(&w);
	moq_quic_endpoint_stats(w.srv.ep, &st);
	ck_assert_uint_eq(st.rx_open_failed, 2); /* the corrupted one and the forged one */
	ck_assert_int_eq(g_h.hook_bad, 0);
	g_dgram_need = NDGRAM;
	world_free(&w);
}
END_TEST

/* moq_quic_conn_rx_largest_pn on a connection ngtcp2 protects (the
 * client, config.track_rx_pn): the largest number the proxy opened of
 * what it forwarded (wire numbers beyond 2^32: the server renumbers), and
 * forged packets with the client's CID, which ngtcp2 cannot open, do not
 * move it. Untracked: -ENOENT. The shim-protected server tracks its own. */
START_TEST(test_native_rx_largest_pn_follows_accepted_packets)
{
	struct world w;
	uint64_t pn, srv_pn, before;
	uint8_t f[200];
	unsigned seed = 19;

	g_cli_track = _i;
	world_init(&w, 1, NULL, 0);
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.cli.conn, &pn), -ENOENT);
	handshake(&w);
	transfer(&w);
	run_for(&w, 100);
	g_cli_track = 0;
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.srv.conn, &srv_pn), 0);
	if (!_i) {
		ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.cli.conn, &pn), -ENOENT);
		world_free(&w);
		return;
	}
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.cli.conn, &pn), 0);
	ck_assert_int_gt(g_px.s2c_opened, 2000);
	ck_assert_uint_gt(pn, 0x100000000ull);
	ck_assert_uint_eq(pn, g_px.s2c_largest);
	before = pn;
	/* forgeries on the client's path: short header, its CID, random rest */
	for (int i = 0; i < 32; i++) {
		for (size_t j = 0; j < sizeof(f); j++)
			f[j] = (uint8_t)rand_r(&seed);
		f[0] = 0x40 | (f[0] & 0x3f);
		ck_assert_uint_eq(moq_quic_conn_dcid(w.srv.conn, f + 1), 8);
		ck_assert_int_eq(sendto(g_px.l.fd_cli, f, sizeof(f), 0,
					(struct sockaddr *)&g_px.l.cli, sizeof(g_px.l.cli)),
				 (ssize_t)sizeof(f));
	}
	run_for(&w, 100);
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.cli.conn, &pn), 0);
	ck_assert_uint_eq(pn, before);
	ck_assert(!w.cli.closed);
	/* untracked: no number any more, not even after new packets, and
	 * the connection goes on */
	moq_quic_conn_rx_pn_untrack(w.cli.conn);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(moq_quic_datagram_send(w.srv.conn, f, 64), 0);
	run_for(&w, 100);
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.cli.conn, &pn), -ENOENT);
	ck_assert(!w.cli.closed);
	world_free(&w);
}
END_TEST

/* What ngtcp2 is given with the layer's null 1-RTT contexts (their handle
 * has bit 0 set): these wrap libngtcp2's functions (the test binary's
 * definitions come first; the real ones through dlsym). */
static unsigned g_null_installs, g_null_installs_with_secret;

static void note_install(const uint8_t *secret, size_t len, const ngtcp2_crypto_aead_ctx *a)
{
	uint8_t any = 0;

	if (!((uintptr_t)a->native_handle & 1u))
		return;
	g_null_installs++;
	for (size_t i = 0; i < len; i++)
		any |= secret[i];
	if (any)
		g_null_installs_with_secret++;
}

typedef int (*install_fn)(ngtcp2_conn *, const uint8_t *, size_t, const ngtcp2_crypto_aead_ctx *,
			  const uint8_t *, size_t, const ngtcp2_crypto_cipher_ctx *);

static int real_install(const char *name, ngtcp2_conn *conn, const uint8_t *secret,
			size_t secretlen, const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *iv,
			size_t ivlen, const ngtcp2_crypto_cipher_ctx *hp_ctx)
{
	install_fn real;

	*(void **)&real = dlsym(RTLD_NEXT, name);
	note_install(secret, secretlen, aead_ctx);
	return real(conn, secret, secretlen, aead_ctx, iv, ivlen, hp_ctx);
}

int ngtcp2_conn_install_rx_key(ngtcp2_conn *conn, const uint8_t *secret, size_t secretlen,
			       const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *iv,
			       size_t ivlen, const ngtcp2_crypto_cipher_ctx *hp_ctx)
{
	return real_install("ngtcp2_conn_install_rx_key", conn, secret, secretlen, aead_ctx, iv,
			    ivlen, hp_ctx);
}

int ngtcp2_conn_install_tx_key(ngtcp2_conn *conn, const uint8_t *secret, size_t secretlen,
			       const ngtcp2_crypto_aead_ctx *aead_ctx, const uint8_t *iv,
			       size_t ivlen, const ngtcp2_crypto_cipher_ctx *hp_ctx)
{
	return real_install("ngtcp2_conn_install_tx_key", conn, secret, secretlen, aead_ctx, iv,
			    ivlen, hp_ctx);
}

/* A shim-protected connection's traffic secrets never go to ngtcp2 (it
 * would keep them for the connection's life and free them uncleared). */
START_TEST(test_shim_secrets_stay_in_the_layer)
{
	struct world w;

	g_null_installs = g_null_installs_with_secret = 0;
	world_init(&w, 1, NULL, 0);
	handshake(&w);
	transfer(&w);
	ck_assert_uint_ge(g_null_installs, 2); /* server: rx and tx */
	ck_assert_uint_eq(g_null_installs_with_secret, 0);
	world_free(&w);
}
END_TEST

/* A client whose key share the server does not take gets a
 * HelloRetryRequest: for a round trip the server has no 1-RTT secrets, so
 * the layer does not know yet whether it protects 1-RTT itself, while an
 * on-path attacker has seen the server's connection ID. A forged
 * null-form 1-RTT packet sent then must not reach ngtcp2 (it would keep
 * it and read it with the null keys once the handshake is done). */
START_TEST(test_shim_forged_packet_before_the_keys_is_dropped)
{
	struct moq_quic_endpoint_stats st;
	struct world w;

	/* X448 first: the client's only key share; the server has no X448
	 * and asks for X25519 */
	world_init(&w, 1,
		   "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:-GROUP-ALL:"
		   "+GROUP-X448:+GROUP-X25519:%DISABLE_TLS13_COMPAT_MODE",
		   0);
	g_px.forge_on_first_s2c = 1;
	handshake(&w);
	ck_assert_int_gt(g_px.s2c_seen, 0);
	moq_quic_endpoint_stats(w.srv.ep, &st);
	ck_assert_uint_ge(st.rx_open_failed, 1); /* the forged packet */
	ck_assert_int_eq(moq_quic_conn_shim_protected(w.srv.conn), 1);
	transfer(&w);
	ck_assert_int_eq(w.srv.closed, 0);
	ck_assert_int_eq(w.cli.closed, 0);
	world_free(&w);
}
END_TEST

/* moq_quic_conn_read_pkt hands ngtcp2 a packet that skips the layer's
 * open: a shim-protected connection refuses it (it would be an
 * unauthenticated packet), and stays up. */
START_TEST(test_shim_read_pkt_refused)
{
	struct world w;
	uint8_t scid[1][20], f[64];
	size_t len;

	world_init(&w, 1, NULL, 0);
	handshake(&w);
	ck_assert_int_eq(moq_quic_conn_shim_protected(w.srv.conn), 1);
	ck_assert_uint_eq(moq_quic_conn_scids(w.srv.conn, scid, &len, 1), 1);
	memset(f, 0, sizeof(f));
	f[0] = 0x43;
	memcpy(f + 1, scid[0], 8);
	f[12] = 200;
	f[13] = 0x1d; /* CONNECTION_CLOSE (transport) */
	memcpy(f + sizeof(f) - 16, MOQ_QUIC_PLAINTEXT_TAG, 16);
	ck_assert_int_eq(moq_quic_conn_read_pkt(w.srv.conn, f, sizeof(f)), -EINVAL);
	transfer(&w);
	ck_assert_int_eq(w.srv.closed, 0);
	world_free(&w);
}
END_TEST

static int stolen(struct world *w)
{
	(void)w;
	return g_px.stolen_len > 0;
}

/* moq_quic_conn_read_opened: a packet the application opened itself (the
 * relay's kernel with the exported rx keys; here the test, with the
 * client's tx keys) reaches ngtcp2 as its plaintext-profile PING, and the
 * layer's rx tracking learns its number; anything not in that form, or on
 * a connection the layer does not protect, is refused. */
START_TEST(test_shim_read_opened_learns_pn)
{
	struct world w;
	struct moq_quic_1rtt_keys ck;
	struct moq_quic_conn_stats ss;
	uint8_t f[1 + 8 + 4 + 4 + 16] = {0x43}, d[64] = {1};
	uint64_t largest, pn, after;
	unsigned ph;
	int ndgram;

	world_init(&w, 1, NULL, 0);
	handshake(&w);
	transfer(&w);
	g_px.steal = 1;
	ck_assert_int_eq(moq_quic_datagram_send(w.cli.conn, d, sizeof(d)), 0);
	ck_assert(run_until(&w, stolen, 2000));
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.srv.conn, &largest), 0);
	ck_assert_int_eq(moq_quic_conn_1rtt_keys(w.cli.conn, 1, 0, &ck), 0);
	ck_assert(t_open(g_px.stolen, g_px.stolen_len, &ck, &pn, largest, 1, &ph));
	ck_assert_uint_gt(pn, largest);
	/* what fp_acks.c feed_ping writes */
	memcpy(f + 1, g_px.stolen + 1, 8);
	for (int i = 0; i < 4; i++)
		f[9 + i] = (uint8_t)(pn >> (24 - 8 * i));
	f[13] = 0x01; /* PING, then PADDING */
	memcpy(f + sizeof(f) - 16, MOQ_QUIC_PLAINTEXT_TAG, 16);
	ck_assert_int_eq(moq_quic_conn_read_opened(w.srv.conn, pn + 1, f, sizeof(f)), -EINVAL);
	ck_assert_int_eq(moq_quic_conn_read_opened(w.cli.conn, pn, f, sizeof(f)), -EINVAL);
	f[0] = 0x47; /* key phase bit: not the profile form */
	ck_assert_int_eq(moq_quic_conn_read_opened(w.srv.conn, pn, f, sizeof(f)), -EINVAL);
	f[0] = 0x43;
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.srv.conn, &after), 0);
	ck_assert_uint_eq(after, largest);
	ck_assert_int_eq(moq_quic_conn_read_opened(w.srv.conn, pn, f, sizeof(f)), 0);
	ck_assert_int_eq(moq_quic_conn_rx_largest_pn(w.srv.conn, &after), 0);
	ck_assert_uint_eq(after, pn);
	/* the client's next packets still open (their numbers decode
	 * against it) and nobody closes */
	g_px.steal = 0;
	ndgram = w.srv.ndgram;
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(moq_quic_datagram_send(w.cli.conn, d, sizeof(d)), 0);
	run_for(&w, 200);
	ck_assert_int_ge(w.srv.ndgram, ndgram + 5);
	moq_quic_conn_stats(w.srv.conn, &ss);
	ck_assert_uint_eq(ss.rx_open_failed, 0);
	ck_assert_int_eq(w.srv.closed, 0);
	ck_assert_int_eq(w.cli.closed, 0);
	world_free(&w);
}
END_TEST

/* The agent's media writer: a plaintext-profile packet given to
 * moq_quic_conn_send_raw leaves sealed under the current keys (the proxy
 * opens it with the reported ones and takes it off the wire). */
START_TEST(test_shim_send_raw_is_sealed)
{
	struct world w;
	uint8_t p[128];
	size_t o = 0;
	uint64_t pn;

	world_init(&w, 1, NULL, 0);
	handshake(&w);
	transfer(&w); /* wire PNs beyond 2^32 by now */
	pn = g_h.max_wire_pn + 1;
	p[o++] = 0x43;
	ck_assert_uint_eq(moq_quic_conn_dcid(w.srv.conn, p + o), 8);
	o += 8;
	for (int i = 3; i >= 0; i--)
		p[o++] = (uint8_t)(pn >> (8 * i));
	p[o++] = 0x31;
	p[o++] = sizeof(RAW_MARK) - 1;
	memcpy(p + o, RAW_MARK, sizeof(RAW_MARK) - 1);
	o += sizeof(RAW_MARK) - 1;
	memcpy(p + o, MOQ_QUIC_PLAINTEXT_TAG, 16);
	o += 16;
	ck_assert_int_eq(moq_quic_conn_send_raw(w.srv.conn, p, o), 0);
	run_for(&w, 50);
	ck_assert_int_eq(g_px.raw_opened, 1);
	ck_assert_int_eq(g_px.s2c_unopened, 0);
	world_free(&w);
}
END_TEST

/* Key phases on the key state alone: a packet of the old phase that
 * arrives after the update opens with the old keys for 3 PTO, then not;
 * a packet of the next phase with the wrong keys is no update. */
START_TEST(test_keys_old_phase_kept_three_pto)
{
	static const uint8_t sc[32] = "client secret for the key test", ss[32] = "server secret";
	struct moq_quic__keys *cli = moq_quic__keys_new(ss, sc), *srv = moq_quic__keys_new(sc, ss);
	uint8_t a[64], b[64], c2[64], pt[256];
	size_t len;
	const uint64_t pto = 1000;

	ck_assert_ptr_nonnull(cli);
	ck_assert_ptr_nonnull(srv);
	for (int i = 0; i < 3; i++) {
		uint8_t *p = i == 0 ? a : i == 1 ? b : c2;
		memset(p, 0, 64);
		p[0] = 0x43;
		p[13] = 0x01; /* PING, PADDING */
		memcpy(p + 48, MOQ_QUIC_PLAINTEXT_TAG, 16);
	}
	a[12] = 10;
	c2[12] = 11;
	b[12] = 12;
	ck_assert_int_eq(moq_quic__keys_seal(cli, a, 64), 0);  /* phase 0, PN 10 */
	ck_assert_int_eq(moq_quic__keys_seal(cli, c2, 64), 0); /* phase 0, PN 11 */
	ck_assert_int_eq(moq_quic__keys_tx_update(cli), 0);
	ck_assert_int_eq(moq_quic__keys_seal(cli, b, 64), 0); /* phase 1, PN 12 */
	len = 64;
	ck_assert_int_eq(moq_quic__keys_open(srv, b, &len, 64, pt, sizeof(pt), 100, pto), 1);
	ck_assert_uint_eq(b[12], 12);
	len = 64; /* PN 10, phase 0, within 3 PTO: old keys */
	ck_assert_int_eq(moq_quic__keys_open(srv, a, &len, 64, pt, sizeof(pt), 100 + 2 * pto, pto),
			 0);
	ck_assert_uint_eq(a[12], 10);
	ck_assert_uint_eq(a[0], 0x43);
	len = 64; /* PN 11 of phase 0 after 3 PTO: the old keys are gone */
	ck_assert_int_lt(moq_quic__keys_open(srv, c2, &len, 64, pt, sizeof(pt), 100 + 4 * pto, pto),
			 0);
	moq_quic__keys_destroy(cli);
	moq_quic__keys_destroy(srv);
}
END_TEST

/* The sealer never uses a packet number twice (nor a lower one) under its
 * keys: a second, different packet with the same number would reuse the
 * nonce (XOR of the two ciphertexts = XOR of the plaintexts). */
static void raw_pkt(uint8_t p[64], uint8_t pn, uint8_t frame)
{
	memset(p, 0, 64);
	p[0] = 0x43;
	p[12] = pn;
	p[13] = frame;
	memcpy(p + 48, MOQ_QUIC_PLAINTEXT_TAG, 16);
}

START_TEST(test_keys_seal_refuses_a_packet_number_twice)
{
	static const uint8_t sc[32] = "client secret, nonce test", ss[32] = "server secret";
	struct moq_quic__keys *srv = moq_quic__keys_new(sc, ss);
	uint8_t p[64], q[64];

	ck_assert_ptr_nonnull(srv);
	raw_pkt(p, 7, 0x01);
	ck_assert_int_eq(moq_quic__keys_seal(srv, p, 64), 0);
	raw_pkt(q, 7, 0x1e); /* same number, other bytes */
	ck_assert_int_eq(moq_quic__keys_seal(srv, q, 64), -EEXIST);
	raw_pkt(q, 6, 0x1e);
	ck_assert_int_eq(moq_quic__keys_seal(srv, q, 64), -EEXIST);
	/* after a key update too: the numbers go on */
	ck_assert_int_eq(moq_quic__keys_tx_update(srv), 0);
	raw_pkt(q, 7, 0x1e);
	ck_assert_int_eq(moq_quic__keys_seal(srv, q, 64), -EEXIST);
	raw_pkt(q, 8, 0x1e);
	ck_assert_int_eq(moq_quic__keys_seal(srv, q, 64), 0);
	moq_quic__keys_destroy(srv);
}
END_TEST

/* RFC 9001 Appendix A.1 (client Initial keys) and A.5 ("quic ku"). */
START_TEST(test_hkdf_labels_match_rfc9001)
{
	static const uint8_t secret[32] = {0xc0, 0x0c, 0xf1, 0x51, 0xca, 0x5b, 0xe0, 0x75,
					   0xed, 0x0e, 0xbf, 0xb5, 0xc8, 0x03, 0x23, 0xc4,
					   0x2d, 0x6b, 0x7d, 0xb6, 0x78, 0x81, 0x28, 0x9a,
					   0xf4, 0x00, 0x8f, 0x1f, 0x6c, 0x35, 0x7a, 0xea};
	static const uint8_t key[16] = {0x1f, 0x36, 0x96, 0x13, 0xdd, 0x76, 0xd5, 0x46,
					0x77, 0x30, 0xef, 0xcb, 0xe3, 0xb1, 0xa2, 0x2d};
	static const uint8_t iv[12] = {0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3,
				       0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c};
	static const uint8_t hp[16] = {0x9f, 0x50, 0x44, 0x9e, 0x04, 0xa0, 0xe8, 0x10,
				       0x28, 0x3a, 0x1e, 0x99, 0x33, 0xad, 0xed, 0xd2};
	static const uint8_t s5[32] = {0x9a, 0xc3, 0x12, 0xa7, 0xf8, 0x77, 0x46, 0x8e,
				       0xbe, 0x69, 0x42, 0x27, 0x48, 0xad, 0x00, 0xa1,
				       0x54, 0x43, 0xf1, 0x82, 0x03, 0xa0, 0x7d, 0x60,
				       0x60, 0xf6, 0x88, 0xf3, 0x0f, 0x21, 0x63, 0x2b};
	static const uint8_t ku[32] = {0x12, 0x23, 0x50, 0x47, 0x55, 0x03, 0x6d, 0x55,
				       0x63, 0x42, 0xee, 0x93, 0x61, 0xd2, 0x53, 0x42,
				       0x1a, 0x82, 0x6c, 0x9e, 0xcd, 0xf3, 0xc7, 0x14,
				       0x86, 0x84, 0xb3, 0x6b, 0x71, 0x48, 0x81, 0xf9};
	uint8_t out[32];

	ck_assert_int_eq(moq_quic__hkdf_label(out, 16, secret, 32, "quic key"), 0);
	ck_assert_mem_eq(out, key, 16);
	ck_assert_int_eq(moq_quic__hkdf_label(out, 12, secret, 32, "quic iv"), 0);
	ck_assert_mem_eq(out, iv, 12);
	ck_assert_int_eq(moq_quic__hkdf_label(out, 16, secret, 32, "quic hp"), 0);
	ck_assert_mem_eq(out, hp, 16);
	ck_assert_int_eq(moq_quic__hkdf_label(out, 32, s5, 32, "quic ku"), 0);
	ck_assert_mem_eq(out, ku, 32);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("quic_shim_tls");
	TCase *tc = tcase_create("loopback");
	SRunner *sr;
	int nf;

	if (tq_certs_make(&g_certs, "moq-shim-tls"))
		return 2;
	g_cbuf = malloc(CLI_BYTES);
	g_sbuf = malloc(SRV_BYTES);
	moq_log_set_level(MOQ_LOG_ERROR);

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hkdf_labels_match_rfc9001);
	tcase_add_test(tc, test_shim_transfer_with_renumbering_hooks);
	tcase_add_test(tc, test_shim_client_key_updates_every_100_packets);
	tcase_add_test(tc, test_shim_server_initiated_key_update);
	tcase_add_loop_test(tc, test_shim_other_suite_is_not_shim_protected, 0, 2);
	tcase_add_test(tc, test_shim_server_prefers_aes128);
	tcase_add_test(tc, test_no_shim_protect_is_plain_tls);
	tcase_add_test(tc, test_shim_corrupt_and_forged_packets_dropped);
	tcase_add_test(tc, test_shim_send_raw_is_sealed);
	tcase_add_loop_test(tc, test_native_rx_largest_pn_follows_accepted_packets, 0, 2);
	tcase_add_test(tc, test_shim_read_pkt_refused);
	tcase_add_test(tc, test_shim_read_opened_learns_pn);
	tcase_add_test(tc, test_shim_forged_packet_before_the_keys_is_dropped);
	tcase_add_test(tc, test_shim_secrets_stay_in_the_layer);
	tcase_add_test(tc, test_keys_old_phase_kept_three_pto);
	tcase_add_test(tc, test_keys_seal_refuses_a_packet_number_twice);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (tq_certs_remove(&g_certs))
		nf++;
	free(g_cbuf);
	free(g_sbuf);
	return nf == 0 ? 0 : 1;
}
