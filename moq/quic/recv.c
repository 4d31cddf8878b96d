/* The receive path. See recv.h. */
#include "quic/recv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ngtcp2/ngtcp2_crypto.h>

#include "log.h"
#include "quic/base.h"
#include "quic/cid.h"
#include "quic/conn.h"
#include "quic/plaintext.h"
#include "quic/protect.h"
#include "quic/send.h"
#include "quic/stream.h"
#include "varint.h"

#define MOD "quic"
#define NS_PER_MS MOQ_QUIC__NS_PER_MS
#define RETRY_TOKEN_TIMEOUT (10000 * NS_PER_MS)

/* Plaintext: find STOP_SENDING frames in a received 1-RTT packet so the app
 * learns the peer's code at once. */
static void scan_stop_sending(struct moq_quic_conn *c, const uint8_t *data, size_t n)
{
	size_t lp = moq_quic__long_prefix_len(data, n), hdr;
	const uint8_t *p, *end;
	struct moq_quic_frame f;
	int rv;

	if (lp >= n || !c->ep->cb.on_stop_sending)
		return;
	data += lp;
	n -= lp;
	hdr = 1 + MOQ_QUIC_CID_LEN + (size_t)(data[0] & 3) + 1;
	if (n < hdr + MOQ_QUIC_PLAINTEXT_TAG_LEN)
		return;
	end = data + n - MOQ_QUIC_PLAINTEXT_TAG_LEN;
	for (p = data + hdr; p < end; p += rv) {
		uint64_t sid, code;
		int a, b;
		struct qstream *s;

		rv = moq_quic_frame_parse(&f, p, end);
		if (rv <= 0)
			return;
		if (f.type != 0x05)
			continue;
		a = quic_varint_decode(&sid, p + 1, (size_t)(end - p - 1));
		if (a < 0)
			return;
		b = quic_varint_decode(&code, p + 1 + a, (size_t)(end - p - 1 - a));
		if (b < 0)
			return;
		s = moq_quic__stream_find(c, (int64_t)sid);
		if (s && !s->stop_pending && !s->stop_reported) {
			s->stop_pending = 1;
			s->stop_code = code;
		}
	}
}

#define EARLY_MAX 8	/* packets */
#define EARLY_ROOM 4096 /* bytes the receive hook may grow one by */

/* Shim: a 1-RTT packet that came before the server's rx keys (gnutls hands
 * them over after the client's Finished, which an ngtcp2 client sends in
 * the datagram after its first 1-RTT packet): kept, as ngtcp2 would, and
 * read once the keys are there (early_replay). */
static void early_keep(struct moq_quic_conn *c, const uint8_t *d, size_t n)
{
	struct dgram *e, **pp;

	if (c->nearly >= EARLY_MAX || n > 65536 || !(e = malloc(sizeof(*e) + n + EARLY_ROOM)))
		return;
	e->next = NULL;
	e->len = n;
	memcpy(e->data, d, n);
	for (pp = &c->early; *pp; pp = &(*pp)->next)
		;
	*pp = e;
	c->nearly++;
	c->ep->st.rx_early++;
}

static void conn_recv(struct moq_quic_conn *c, uint8_t *data, size_t n, size_t cap,
		      const struct sockaddr *sa, socklen_t sl);

static void early_replay(struct moq_quic_conn *c)
{
	while (c->early && moq_quic__shim_rx_ready(c) &&
	       (c->state == CS_HANDSHAKE || c->state == CS_ESTABLISHED)) {
		struct dgram *e = c->early;
		struct sockaddr_storage peer = c->peer;
		c->early = e->next;
		c->nearly--;
		conn_recv(c, e->data, e->len, e->len + EARLY_ROOM, (struct sockaddr *)&peer,
			  c->peerlen);
		free(e);
	}
}

static void conn_recv(struct moq_quic_conn *c, uint8_t *data, size_t n, size_t cap,
		      const struct sockaddr *sa, socklen_t sl)
{
	struct moq_quic_endpoint *ep = c->ep;
	ngtcp2_path path;
	ngtcp2_pkt_info pi = {0};
	struct sockaddr_storage from;
	uint64_t rx_pn = 0, rx_opens = 0;
	int rv, rx_pn_ok;

	if (c->state == CS_DEAD)
		return;
	if (c->state == CS_CLOSING) {
		/* Repeat the close on the 1st, 2nd, 4th, 8th ... packet
		 * received (RFC 9000 10.2.1): a peer that keeps sending gets
		 * a logarithmic number of answers, not one each. */
		uint64_t k = ++c->closing_rx;
		ep->st.rx_in_closing++;
		if (c->close_pkt && !(k & (k - 1))) {
			moq_quic__sock_send(ep, c->close_pkt, c->close_pktlen,
					    (struct sockaddr *)&c->peer, c->peerlen);
			ep->st.tx_close_resent++;
		}
		return;
	}
	c->pkts_recv++;
	/* Client: a server Initial of the other mode can never decrypt;
	 * recognise it instead of waiting for the handshake timeout. */
	if (!c->server && c->state == CS_HANDSHAKE && (data[0] & 0x80)) {
		int pt = moq_quic__pt_initial_is_plaintext(data, n);
		if (pt == 0 && ep->cfg.plaintext) {
			moq_quic__conn_set_hs_error(c, 0x0a,
						    "peer answered with TLS; this endpoint runs "
						    "--plaintext (use the same mode on both ends)");
			c->state = CS_DEAD;
			moq_quic__conn_terminate(c);
			return;
		}
		if (pt == 1 && !ep->cfg.plaintext) {
			/* A plaintext server's refusal is readable (null
			 * protection): decode its reason for the user. */
			moq_quic__conn_set_hs_error(
			    c, 0x0a,
			    "peer uses the plaintext profile; this endpoint "
			    "runs TLS (use --plaintext on both ends)");
			c->state = CS_DEAD;
			moq_quic__conn_terminate(c);
			return;
		}
	}
	if (moq_quic__shim_undecided(c)) {
		/* no client sends 1-RTT before the server's flight, which
		 * comes with the secrets: only a forged packet can be here */
		size_t lp = moq_quic__long_prefix_len(data, n);
		if (lp < n) {
			c->ep->st.rx_open_failed++;
			if (!lp)
				return;
			n = lp;
		}
	}
	if (moq_quic__shim_on(c)) {
		/* open before recv_hook and ngtcp2 (they see the plaintext
		 * form); a packet that does not open is dropped */
		size_t lp = moq_quic__long_prefix_len(data, n), len;
		if (lp < n && !moq_quic__shim_rx_ready(c)) {
			early_keep(c, data + lp, n - lp);
			if (!lp)
				return;
			n = lp;
		}
		len = n - lp;
		if (lp < n && moq_quic__shim_open(c, data + lp, &len, cap - lp) < 0) {
			if (!lp)
				return;
			len = 0;
		}
		n = lp + len;
	}
	if ((ep->cfg.plaintext || moq_quic__shim_on(c)) && ep->cb.recv_hook) {
		size_t lp = moq_quic__long_prefix_len(data, n);
		if (lp < n) {
			size_t len = n - lp;
			if (ep->cb.recv_hook(c, data + lp, &len, cap - lp, moq_quic__user(c)) < 0) {
				ep->st.hook_drop++;
				return;
			}
			n = lp + len;
		}
	}
	if (ep->cfg.plaintext && c->state == CS_ESTABLISHED)
		scan_stop_sending(c, data, n);
	memcpy(&from, sa, sl);
	moq_quic__conn_path(c, &path);
	path.remote.addr = (ngtcp2_sockaddr *)&from;
	path.remote.addrlen = sl;
	/* a datagram of one short-header packet: ngtcp2 opens nothing else */
	rx_pn_ok = !moq_quic__shim_on(c) && n && !(data[0] & 0x80) &&
		   !moq_quic__rx_pn_peek(c, data, n, &rx_pn, &rx_opens);
	rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, data, n, moq_quic__now());
	if (!rv && rx_pn_ok)
		moq_quic__rx_pn_accept(c, rx_pn, rx_opens);
	moq_quic__keys_notify(c);
	if (c->got_sr || rv == NGTCP2_ERR_DRAINING) {
		moq_quic__conn_drained(c);
		return;
	}
	if (rv == NGTCP2_ERR_DISCARD_PKT)
		return;
	if (rv) {
		moq_quic__conn_fail(c, rv);
		return;
	}
	{
		/* follow NAT rebinding / migration validated by ngtcp2 */
		const ngtcp2_path *cur = ngtcp2_conn_get_path(c->conn);
		if (cur && cur->remote.addrlen && cur->remote.addrlen <= sizeof(c->peer) &&
		    (cur->remote.addrlen != c->peerlen ||
		     memcmp(cur->remote.addr, &c->peer, c->peerlen))) {
			memcpy(&c->peer, cur->remote.addr, cur->remote.addrlen);
			c->peerlen = cur->remote.addrlen;
		}
	}
	if (c->early)
		early_replay(c);
	moq_quic__mark_dirty(c);
}

/* moq_quic_conn_read_pkt's and moq_quic_conn_read_opened's common part */
static int read_profile_pkt(struct moq_quic_conn *c, const uint8_t *pkt, size_t len)
{
	ngtcp2_path path;
	ngtcp2_pkt_info pi = {0};
	int rv;

	moq_quic__conn_path(c, &path);
	rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, len, moq_quic__now());
	if (rv == NGTCP2_ERR_DRAINING) {
		moq_quic__conn_drained(c);
		return -EPROTO;
	}
	if (rv && rv != NGTCP2_ERR_DISCARD_PKT) {
		moq_quic__conn_fail(c, rv);
		return -EPROTO;
	}
	moq_quic__mark_dirty(c);
	return 0;
}

int moq_quic_conn_read_pkt(struct moq_quic_conn *c, const uint8_t *pkt, size_t len)
{
	/* not on a shim-protected connection: the packet would reach ngtcp2
	 * without being opened, i.e. unauthenticated (network bytes of a TLS
	 * connection go through moq_quic__shim_open) */
	if (c->state != CS_ESTABLISHED || !c->ep->cfg.plaintext || !len || (pkt[0] & 0x80))
		return -EINVAL;
	return read_profile_pkt(c, pkt, len);
}

int moq_quic_conn_read_opened(struct moq_quic_conn *c, uint64_t pn, const uint8_t *pkt, size_t len)
{
	int rv;

	/* only for the layer's own protection, and only the
	 * plaintext-profile form of pn (0x43, its low 32 bits) */
	if (c->state != CS_ESTABLISHED || !moq_quic__shim_on(c) || len < 1 + MOQ_QUIC_CID_LEN + 4 ||
	    pkt[0] != 0x43 || pn >= (1ull << 62) ||
	    ((uint32_t)pkt[9] << 24 | (uint32_t)pkt[10] << 16 | (uint32_t)pkt[11] << 8 | pkt[12]) !=
		(uint32_t)pn)
		return -EINVAL;
	rv = read_profile_pkt(c, pkt, len);
	/* authenticated by the application's opener: its number counts as
	 * received, like one the layer opened (the next numbers decode
	 * against it; key-update detection needs it) */
	if (!rv)
		moq_quic__keys_rx_learn(c, pn);
	return rv;
}

static void send_stateless_reset(struct moq_quic_endpoint *ep, const uint8_t *dcid, size_t dcidlen,
				 size_t trigger_len, const struct sockaddr *sa, socklen_t sl)
{
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN], rnd[64], out[128];
	ngtcp2_cid cid;
	size_t randlen;
	ngtcp2_ssize n;

	/* At most ~100 per 100 ms per endpoint: a flood of junk must not turn
	 * the relay into a reflector. */
	{
		uint64_t now = moq_quic__now();
		if (now - ep->sr_window_start > 100 * NS_PER_MS) {
			ep->sr_window_start = now;
			ep->sr_in_window = 0;
		}
		if (ep->sr_in_window++ >= 100)
			return;
	}
	/* Smaller than the trigger, so two endpoints cannot loop. */
	if (trigger_len <
	    1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN + 1)
		return;
	randlen = trigger_len - 1 - NGTCP2_STATELESS_RESET_TOKENLEN - 1;
	if (randlen > 40)
		randlen = 40;
	ngtcp2_cid_init(&cid, dcid, dcidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, ep->cfg.reset_secret,
							 sizeof(ep->cfg.reset_secret), &cid))
		return;
	moq_quic__rand(rnd, randlen);
	n = ngtcp2_pkt_write_stateless_reset(out, sizeof(out), token, rnd, randlen);
	if (n > 0) {
		out[0] = (uint8_t)((out[0] & 0x3f) | 0x40);
		moq_quic__sock_send(ep, out, (size_t)n, sa, sl);
		ep->st.tx_stateless_reset++;
	}
}

/* Answer a client's Initial with a CONNECTION_CLOSE (no state kept), in
 * the plaintext profile's null protection (pt) or QUIC v1's. */
static void refuse_initial(struct moq_quic_endpoint *ep, const ngtcp2_pkt_hd *hd,
			   const struct sockaddr *sa, socklen_t sl, int pt, uint64_t code,
			   const char *why)
{
	ngtcp2_ssize w;

	if (pt)
		w = moq_quic__pt_write_initial_close(ep->txbuf, sizeof(ep->txbuf), &hd->scid,
						     &hd->dcid, code, why);
	else
		w = ngtcp2_crypto_write_connection_close(ep->txbuf, sizeof(ep->txbuf), hd->version,
							 &hd->scid, &hd->dcid, code,
							 (const uint8_t *)why, strlen(why));
	if (w > 0)
		moq_quic__sock_send(ep, ep->txbuf, (size_t)w, sa, sl);
	if (ep->cb.on_refused)
		ep->cb.on_refused(ep, sa, sl, why, ep->cfg.user);
}

/* A client of the other mode (TLS vs plaintext) is refused at once. */
static int profile_ok(struct moq_quic_endpoint *ep, const ngtcp2_pkt_hd *hd, const uint8_t *data,
		      size_t n, const struct sockaddr *sa, socklen_t sl)
{
	static const char pt_why[] = "peer uses TLS; this endpoint runs --plaintext";
	static const char tls_why[] = "peer uses the plaintext profile; this endpoint runs "
				      "TLS (use --plaintext on both ends)";
	int is_pt = moq_quic__pt_initial_is_plaintext(data, n);

	if (ep->cfg.plaintext ? is_pt == 1 : is_pt != 1)
		return 1;
	ep->st.rx_profile_mismatch++;
	moq_warn(MOD, "refused a client: %s", ep->cfg.plaintext ? pt_why : tls_why);
	refuse_initial(ep, hd, sa, sl, !ep->cfg.plaintext, 0x0a,
		       ep->cfg.plaintext ? pt_why : tls_why);
	return 0;
}

/* One warning per 5 s about admission under pressure. */
static void admission_warn(struct moq_quic_endpoint *ep, const char *what)
{
	uint64_t now = moq_quic__now();

	if (ep->admit_warned_at && now - ep->admit_warned_at < 5000 * NS_PER_MS)
		return;
	ep->admit_warned_at = now;
	moq_warn(MOD,
		 "%s: %zu handshakes in progress (max_handshakes %zu); so far %llu Retry, "
		 "%llu evicted, %llu refused",
		 what, ep->nhs, ep->cfg.max_handshakes, (unsigned long long)ep->st.tx_retry,
		 (unsigned long long)ep->st.hs_evicted, (unsigned long long)ep->st.hs_refused);
}

/* TLS: a Retry token of ours in the Initial? 1 valid (*odcid set), 0 none
 * (or not one of ours), -1 invalid or expired (the packet is dropped). */
static int check_token(struct moq_quic_endpoint *ep, const ngtcp2_pkt_hd *hd,
		       const struct sockaddr *sa, socklen_t sl, ngtcp2_cid *odcid)
{
	if (!hd->tokenlen || hd->token[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY)
		return 0;
	if (ngtcp2_crypto_verify_retry_token(odcid, hd->token, hd->tokenlen, ep->retry_secret,
					     sizeof(ep->retry_secret), hd->version,
					     (const ngtcp2_sockaddr *)sa, (ngtcp2_socklen)sl,
					     &hd->dcid, RETRY_TOKEN_TIMEOUT, moq_quic__now())) {
		ep->st.rx_bad_token++;
		return -1;
	}
	return 1;
}

/* Stateless address validation (RFC 9000 8.1.2): the client must echo the
 * token from its new Initial, which only a client receiving at sa can. */
static void send_retry(struct moq_quic_endpoint *ep, const ngtcp2_pkt_hd *hd,
		       const struct sockaddr *sa, socklen_t sl)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	ngtcp2_ssize tokenlen, w;
	ngtcp2_cid scid;

	moq_quic__cid_new_local(ep, &scid, MOQ_QUIC_CID_LEN);
	tokenlen = ngtcp2_crypto_generate_retry_token(
	    token, ep->retry_secret, sizeof(ep->retry_secret), hd->version,
	    (const ngtcp2_sockaddr *)sa, (ngtcp2_socklen)sl, &scid, &hd->dcid, moq_quic__now());
	if (tokenlen < 0)
		return;
	w = ngtcp2_crypto_write_retry(ep->txbuf, sizeof(ep->txbuf), hd->version, &hd->scid, &scid,
				      &hd->dcid, token, (size_t)tokenlen);
	if (w <= 0)
		return;
	moq_quic__sock_send(ep, ep->txbuf, (size_t)w, sa, sl);
	ep->st.tx_retry++;
	admission_warn(ep, "handshakes over half the cap: answering new clients with Retry");
}

/* Room for one more handshake? At the cap the oldest one whose address is
 * not validated makes room; if every one is validated, refuse. */
static int admit(struct moq_quic_endpoint *ep, const ngtcp2_pkt_hd *hd, const struct sockaddr *sa,
		 socklen_t sl)
{
	static const char why[] = "too many handshakes in progress";

	if (!ep->cfg.max_handshakes || ep->nhs < ep->cfg.max_handshakes)
		return 1;
	if (moq_quic__conn_evict_handshake(ep)) {
		ep->st.hs_evicted++;
		admission_warn(ep, "handshake cap reached: the oldest unvalidated handshake "
				   "makes room for a new client");
		return 1;
	}
	ep->st.hs_refused++;
	admission_warn(ep, "handshake cap reached with validated clients only: refusing");
	refuse_initial(ep, hd, sa, sl, ep->cfg.plaintext, 0x02, why);
	return 0;
}

/* Create the server connection for an admitted Initial. odcid: from a
 * valid Retry token, else NULL. */
static void server_new(struct moq_quic_endpoint *ep, const ngtcp2_pkt_hd *hd,
		       const ngtcp2_cid *odcid, uint8_t *data, size_t n, const struct sockaddr *sa,
		       socklen_t sl)
{
	static const char why[] = "connection refused by application";
	ngtcp2_cid scid;
	uint16_t probe;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_callbacks cb;
	ngtcp2_path path;
	struct moq_quic_conn *c;
	int rv;

	c = moq_quic__conn_alloc(ep, 1, sa, sl, moq_quic__conn_timer);
	if (!c)
		return;
	moq_quic__cid_new_local(ep, &scid, MOQ_QUIC_CID_LEN);
	moq_quic__conn_callbacks(ep, &cb, 1);
	moq_quic__conn_settings(c, &s, odcid ? odcid : &hd->dcid, &probe);
	s.token = hd->token;
	moq_quic__conn_params(ep, &p);
	p.original_dcid = hd->dcid;
	p.original_dcid_present = 1;
	if (odcid) {
		/* after our Retry: the client proved its address */
		s.tokenlen = hd->tokenlen;
		s.token_type = NGTCP2_TOKEN_TYPE_RETRY;
		p.original_dcid = *odcid;
		p.retry_scid = hd->dcid;
		p.retry_scid_present = 1;
		c->addr_validated = 1;
	}
	p.stateless_reset_token_present = 1;
	ngtcp2_crypto_generate_stateless_reset_token(p.stateless_reset_token, ep->cfg.reset_secret,
						     sizeof(ep->cfg.reset_secret), &scid);
	moq_quic__conn_path(c, &path);
	rv = ngtcp2_conn_server_new(&c->conn, &hd->scid, &scid, &path, hd->version, &cb, &s, &p,
				    NULL, c);
	if (rv) {
		moq_warn(MOD, "ngtcp2_conn_server_new: %s", ngtcp2_strerror(rv));
		c->state = CS_DEAD;
		moq_quic__conn_free(c);
		return;
	}
	if (ep->cfg.keep_alive_ms)
		ngtcp2_conn_set_keep_alive_timeout(c->conn, ep->cfg.keep_alive_ms * NS_PER_MS);
	if (moq_quic__cid_add(ep, c, &scid) || moq_quic__cid_add(ep, c, &hd->dcid) ||
	    ep->crypto->conn_init(c, NULL)) {
		c->state = CS_DEAD;
		moq_quic__conn_free(c);
		return;
	}
	if (ep->cb.on_accept && ep->cb.on_accept(c, moq_quic__user(c)) < 0) {
		refuse_initial(ep, hd, sa, sl, ep->cfg.plaintext, 0x02, why);
		c->state = CS_DEAD;
		moq_quic__conn_free(c);
		return;
	}
	moq_quic__conn_admit(c);
	conn_recv(c, data, n, MOQ_QUIC__RX_ROOM, sa, sl);
}

static void server_accept(struct moq_quic_endpoint *ep, uint8_t *data, size_t n,
			  const struct sockaddr *sa, socklen_t sl)
{
	ngtcp2_pkt_hd hd;
	ngtcp2_cid odcid;
	int validated = 0;

	if (ngtcp2_accept(&hd, data, n) != 0)
		return;
	if (!profile_ok(ep, &hd, data, n, sa, sl))
		return;
	if (!ep->cfg.plaintext && hd.type == NGTCP2_PKT_INITIAL) {
		validated = check_token(ep, &hd, sa, sl, &odcid);
		if (validated < 0)
			return;
		if (!validated && ep->cfg.max_handshakes && 2 * ep->nhs >= ep->cfg.max_handshakes) {
			send_retry(ep, &hd, sa, sl);
			return;
		}
	}
	if (!admit(ep, &hd, sa, sl))
		return;
	server_new(ep, &hd, validated ? &odcid : NULL, data, n, sa, sl);
}

void moq_quic__recv_datagram(struct moq_quic_endpoint *ep, uint8_t *data, size_t n,
			     const struct sockaddr *sa, socklen_t sl)
{
	ngtcp2_version_cid vc;
	struct moq_quic_conn *c;
	int rv;

	ep->st.rx_datagrams++;
	rv = ngtcp2_pkt_decode_version_cid(&vc, data, n, MOQ_QUIC_CID_LEN);
	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION && ep->cfg.listen && n >= 1200) {
		/* unknown version: offer v1 (the client's CIDs swapped) */
		static const uint32_t sv[] = {NGTCP2_PROTO_VER_V1};
		uint8_t r;
		ngtcp2_ssize w;
		moq_quic__rand(&r, 1);
		w = ngtcp2_pkt_write_version_negotiation(ep->txbuf, sizeof(ep->txbuf), r, vc.scid,
							 vc.scidlen, vc.dcid, vc.dcidlen, sv, 1);
		if (w > 0)
			moq_quic__sock_send(ep, ep->txbuf, (size_t)w, sa, sl);
		return;
	}
	if (rv < 0)
		return;
	c = moq_quic__cid_find(ep, vc.dcid, vc.dcidlen);
	if (c) {
		conn_recv(c, data, n, MOQ_QUIC__RX_ROOM, sa, sl);
		return;
	}
	if (data[0] & 0x80) {
		if (ep->cfg.listen)
			server_accept(ep, data, n, sa, sl);
		return;
	}
	ep->st.rx_unknown++;
	/* A stateless reset for one of our client connections? */
	if (n >= 21) {
		for (c = ep->conns; c; c = c->next) {
			const ngtcp2_transport_params *rp;
			if (c->state != CS_ESTABLISHED && c->state != CS_HANDSHAKE)
				continue;
			rp = ngtcp2_conn_get_remote_transport_params(c->conn);
			if (rp && rp->stateless_reset_token_present &&
			    !memcmp(rp->stateless_reset_token,
				    data + n - NGTCP2_STATELESS_RESET_TOKENLEN,
				    NGTCP2_STATELESS_RESET_TOKENLEN)) {
				conn_recv(c, data, n, MOQ_QUIC__RX_ROOM, sa, sl);
				return;
			}
		}
	}
	send_stateless_reset(ep, vc.dcid, vc.dcidlen, n, sa, sl);
}
