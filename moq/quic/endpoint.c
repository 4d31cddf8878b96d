/* QUIC endpoints on ngtcp2 >= 1.11: the UDP socket, the loop glue, setup
 * and teardown, and client connections. See quic.h. */
#include "quic/quic_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quic/base.h"
#include "quic/cid.h"
#include "quic/conn.h"
#include "quic/recv.h"
#include "quic/send.h"

#define NS_PER_MS MOQ_QUIC__NS_PER_MS

void moq_quic_config_init(struct moq_quic_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->alpn = MOQ_QUIC_ALPN_DEFAULT;
}

/* Read what waits on fd: up to max datagrams, MOQ_QUIC__RX_BATCH per
 * system call (issue 18: one recvfrom per datagram was most of the relay's
 * intake cost), handled in arrival order. Returns the datagrams read. */
static int ep_read(struct moq_quic_endpoint *ep, int fd, int max)
{
	int got = 0;

	for (int calls = 0; got < max && calls < max; calls++) {
		struct mmsghdr mm[MOQ_QUIC__RX_BATCH];
		struct iovec iov[MOQ_QUIC__RX_BATCH];
		struct sockaddr_storage ss[MOQ_QUIC__RX_BATCH];
		int n;

		for (int i = 0; i < MOQ_QUIC__RX_BATCH; i++) {
			iov[i].iov_base = ep->rxbatch + (size_t)i * MOQ_QUIC__RX_ROOM;
			iov[i].iov_len = 65536;
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_name = &ss[i];
			mm[i].msg_hdr.msg_namelen = sizeof(ss[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, mm, MOQ_QUIC__RX_BATCH, MSG_DONTWAIT, NULL);
		ep->st.rx_calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fd != ep->fd)
			ep->st.rx_own += (uint64_t)n;
		for (int i = 0; i < n; i++)
			if (mm[i].msg_len)
				moq_quic__recv_datagram(ep, iov[i].iov_base, mm[i].msg_len,
							(struct sockaddr *)&ss[i],
							mm[i].msg_hdr.msg_namelen);
		got += n;
		if (n < MOQ_QUIC__RX_BATCH)
			break; /* the socket is empty */
		/* a long read (a held socket's backlog after a stall: up to
		 * MOQ_QUIC__RX_HELD_MAX) does not keep what its handlers sent
		 * (stamped send times, ACKs of held PINGs) until it ends */
		moq_quic__ep_send_batched(ep);
	}
	return got;
}

/* Read, then one write pass. What the read's handlers send themselves
 * (moq_quic_conn_send_raw: the relay agent's own ACKs of held PINGs, its
 * answers from the receive hook) joins the pass's sendmmsg instead of
 * costing a sendto each (issue 18: ~1,000 of the relay's 7,000 system calls
 * in a 64-subscriber run). */
static int read_flush(struct moq_quic_endpoint *ep, int fd, int max)
{
	int prev = moq_quic_ep_batch_begin(ep), n;

	n = ep_read(ep, fd, max);
	moq_quic__ep_flush(ep->loop, ep);
	moq_quic_ep_batch_end(ep, prev);
	return n;
}

static void ep_readable(struct moq_loop *loop, int fd, uint32_t events, void *arg)
{
	struct moq_quic_endpoint *ep = arg;

	if ((events & EPOLLOUT) && ep->tx_blocked)
		moq_quic__ep_drain_txq(ep);
	if (!(events & (EPOLLIN | EPOLLERR)))
		return;
	read_flush(ep, fd, 256); /* a wakeup's share: other fds wait */
}

int moq_quic_conn_rx_hold(struct moq_quic_conn *c, int on)
{
	struct moq_quic_endpoint *ep = c->ep;
	int rc;

	if (c->own_fd < 0)
		return -EOPNOTSUPP;
	if (!!on == c->rx_held)
		return 0;
	/* events 0: epoll still reports EPOLLERR (an ICMP error on the
	 * connected socket), which ep_readable reads as before */
	rc = moq_loop_mod_fd(ep->loop, c->own_fd, on ? 0 : EPOLLIN);
	if (rc)
		return rc;
	c->rx_held = !!on;
	if (!on)
		moq_quic_conn_rx_read(c); /* what waited while held */
	return 0;
}

int moq_quic_conn_rx_held(const struct moq_quic_conn *c)
{
	return c->rx_held;
}

int moq_quic_conn_rx_read(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;
	int n;

	if (c->own_fd < 0)
		return -EOPNOTSUPP;
	/* everything that waited (a held socket is read once per period;
	 * a cap of one wakeup's 256 would let a fast publisher's backlog
	 * grow until the socket drops), bounded by what an 8 MiB buffer
	 * holds; c may be freed by what it reads: only ep is used after */
	n = read_flush(ep, c->own_fd, MOQ_QUIC__RX_HELD_MAX);
	ep->st.rx_held_reads++;
	return n;
}

static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int resolve(const char *host, uint16_t port, int family, struct sockaddr_storage *ss,
		   socklen_t *sl, int passive)
{
	struct addrinfo hints = {0}, *res = NULL;
	char ps[8];
	int rv;

	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(ps, sizeof(ps), "%u", port);
	rv = getaddrinfo(host, ps, &hints, &res);
	if (rv)
		return rv;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A listening socket takes SO_REUSEPORT so that connections can have
 * sockets of their own on its port (moq_quic_conn_own_socket). A second
 * process must still fail to bind the port, as without the option: probe
 * it with a socket without any reuse option first (that bind fails while
 * anyone holds the port). */
static int listen_reuseport(int fd, const struct sockaddr_storage *ss, socklen_t sl,
			    const char *host, uint16_t port, char *err, size_t errlen)
{
	int one = 1, zero = 0, probe;

	probe = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (ss->ss_family == AF_INET6)
		setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (port && bind(probe, (const struct sockaddr *)ss, sl) < 0) {
		snprintf(err, errlen, "cannot bind UDP %s port %u: %s", host, port,
			 strerror(errno));
		close(probe);
		return -1;
	}
	close(probe);
	/* not on an ephemeral port: the kernel could pick one another
	 * reuseport socket of ours already holds */
	if (port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
		return -1;
	}
	return port ? 1 : 0;
}

int moq_quic_conn_own_socket(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;
	int fd, one = 1, zero = 0, buf = 8 << 20;

	if (!c->server || !ep->reuseport || ep->fd < 0)
		return -EOPNOTSUPP;
	if (c->own_fd >= 0)
		return 0;
	fd = socket(ep->local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ep->local.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ep->local, ep->locallen) < 0 ||
	    connect(fd, (struct sockaddr *)&c->peer, c->peerlen) < 0 ||
	    moq_loop_add_fd(ep->loop, fd, EPOLLIN, ep_readable, ep) < 0) {
		int e = errno ? errno : EIO;

		close(fd);
		return -e;
	}
	c->own_fd = fd;
	ep->st.own_sockets++;
	return 0;
}

static int ep_open_socket(struct moq_quic_endpoint *ep, int family, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *host = ep->s_local_addr;
	int fd, zero = 0, buf = 8 << 20, rv;

	if (!host || !*host)
		host = family == AF_INET ? "0.0.0.0" : "::";
	rv = resolve(host, ep->cfg.local_port, family, &ss, &sl, 1);
	if (rv) {
		snprintf(err, errlen, "cannot resolve local address %s: %s", host,
			 gai_strerror(rv));
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (ep->cfg.listen) {
		rv = listen_reuseport(fd, &ss, sl, host, ep->cfg.local_port, err, errlen);
		if (rv < 0) {
			close(fd);
			return -1;
		}
		ep->reuseport = rv;
	}
	/* Large buffers for bursts to hundreds of peers: the FORCE variants
	 * pass net.core.[rw]mem_max when running as root (the relay). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, errlen, "cannot bind UDP %s port %u: %s", host, ep->cfg.local_port,
			 strerror(errno));
		close(fd);
		return -1;
	}
	ep->locallen = sizeof(ep->local);
	getsockname(fd, (struct sockaddr *)&ep->local, &ep->locallen);
	ep->fd = fd;
	ep->family = ss.ss_family;
	if (moq_loop_add_fd(ep->loop, fd, EPOLLIN, ep_readable, ep) < 0) {
		snprintf(err, errlen, "epoll: cannot add socket");
		close(fd);
		ep->fd = -1;
		return -1;
	}
	return 0;
}

struct moq_quic_endpoint *moq_quic_endpoint_new(struct moq_loop *loop,
						const struct moq_quic_config *cfg, char *err,
						size_t errlen)
{
	struct moq_quic_endpoint *ep;
	char dummy[8];
	static const uint8_t zero[32];

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	ep = calloc(1, sizeof(*ep));
	if (ep)
		ep->rxbatch = malloc((size_t)MOQ_QUIC__RX_BATCH * MOQ_QUIC__RX_ROOM);
	if (!ep || !ep->rxbatch) {
		free(ep);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ep->loop = loop;
	ep->fd = -1;
	ep->cfg = *cfg;
	ep->crypto = cfg->plaintext ? &moq_quic__pt_ops : &moq_quic__tls_ops;
	ep->flush = moq_quic__ep_flush;
	ep->hs_tail = &ep->hs_head;
	moq_quic__rand(ep->retry_secret, sizeof(ep->retry_secret));
	if (cfg->cb)
		ep->cb = *cfg->cb;
	ep->s_local_addr = dupstr(cfg->local_addr);
	ep->s_alpn = dupstr(cfg->alpn ? cfg->alpn : MOQ_QUIC_ALPN_DEFAULT);
	ep->s_cert = dupstr(cfg->cert_file);
	ep->s_key = dupstr(cfg->key_file);
	ep->s_ca = dupstr(cfg->ca_file);
	ep->s_sni = dupstr(cfg->sni);
	ep->s_qlog_dir = dupstr(cfg->qlog_dir);
	ep->cfg.local_addr = ep->s_local_addr;
	ep->cfg.alpn = ep->s_alpn;
	ep->cfg.cert_file = ep->s_cert;
	ep->cfg.key_file = ep->s_key;
	ep->cfg.ca_file = ep->s_ca;
	ep->cfg.sni = ep->s_sni;
	ep->cfg.qlog_dir = ep->s_qlog_dir;
	ep->cfg.cb = &ep->cb;
	if (!ep->cfg.idle_timeout_ms)
		ep->cfg.idle_timeout_ms = 30000;
	if (!ep->cfg.handshake_timeout_ms)
		ep->cfg.handshake_timeout_ms = 5000;
	if (!ep->cfg.max_data)
		ep->cfg.max_data = 16 << 20;
	if (!ep->cfg.max_stream_data)
		ep->cfg.max_stream_data = 4 << 20;
	if (!ep->cfg.max_streams_bidi)
		ep->cfg.max_streams_bidi = 100;
	if (!ep->cfg.max_streams_uni)
		ep->cfg.max_streams_uni = 1000;
	if (!ep->cfg.max_datagram_frame_size)
		ep->cfg.max_datagram_frame_size = 1200;
	if (!ep->cfg.max_udp_payload)
		ep->cfg.max_udp_payload = 1350;
	if (!ep->cfg.shim_slack)
		ep->cfg.shim_slack = MOQ_QUIC_SHIM_SLACK;
	if (ep->cfg.plaintext || !ep->cfg.listen)
		ep->cfg.shim_protect = 0; /* servers in TLS mode only */
	if ((ep->cfg.plaintext || ep->cfg.shim_protect) &&
	    ep->cfg.max_udp_payload < 1200 + ep->cfg.shim_slack) {
		snprintf(err, errlen,
			 "max_udp_payload %zu too small: the %s needs at least "
			 "1200 + shim_slack (%zu)",
			 ep->cfg.max_udp_payload,
			 ep->cfg.plaintext ? "plaintext profile" : "layer's 1-RTT protection",
			 ep->cfg.shim_slack);
		goto fail;
	}
	if (ep->cfg.max_udp_payload < 1200) {
		snprintf(err, errlen, "max_udp_payload %zu too small: QUIC needs 1200",
			 ep->cfg.max_udp_payload);
		goto fail;
	}
	if (!memcmp(ep->cfg.reset_secret, zero, sizeof(zero)))
		moq_quic__rand(ep->cfg.reset_secret, sizeof(ep->cfg.reset_secret));
	if (strlen(ep->s_alpn) == 0 || strlen(ep->s_alpn) > 255) {
		snprintf(err, errlen, "ALPN must be 1..255 bytes");
		goto fail;
	}
	if (ep->crypto->ep_init && ep->crypto->ep_init(ep, err, errlen))
		goto fail;
	if (ep->cfg.listen || ep->s_local_addr) {
		int fam = AF_UNSPEC;
		if (ep->s_local_addr && strchr(ep->s_local_addr, ':'))
			fam = AF_INET6;
		else if (ep->s_local_addr)
			fam = AF_INET;
		else
			fam = AF_INET6; /* "::" dual stack */
		if (ep_open_socket(ep, fam, err, errlen))
			goto fail;
	}
	return ep;
fail:
	moq_quic_endpoint_free(ep);
	return NULL;
}

void moq_quic_endpoint_free(struct moq_quic_endpoint *ep)
{
	if (!ep)
		return;
	for (struct moq_quic_conn *c = ep->conns; c; c = c->next) {
		if (c->state == CS_HANDSHAKE || c->state == CS_ESTABLISHED) {
			ngtcp2_ccerr ccerr;
			static const char why[] = "endpoint shutting down";
			ngtcp2_ccerr_set_application_error(&ccerr, 0, (const uint8_t *)why,
							   sizeof(why) - 1);
			c->ci.origin = MOQ_QUIC_CLOSE_LOCAL;
			c->ci.app = 1;
			c->ci.code = 0;
			snprintf(c->ci.reason, sizeof(c->ci.reason), "%s", why);
			moq_quic__conn_close_with(c, &ccerr);
			c->state = CS_DEAD;
			moq_quic__conn_terminate(c);
		}
	}
	while (ep->conns)
		moq_quic__conn_free(ep->conns);
	if (ep->fd >= 0) {
		moq_loop_del_fd(ep->loop, ep->fd);
		close(ep->fd);
	}
	if (ep->crypto->ep_free)
		ep->crypto->ep_free(ep);
	free(ep->ct);
	free(ep->rxbatch);
	free(ep->s_local_addr);
	free(ep->s_alpn);
	free(ep->s_cert);
	free(ep->s_key);
	free(ep->s_ca);
	free(ep->s_sni);
	free(ep->s_qlog_dir);
	while (ep->txq_head) {
		struct txq *q = ep->txq_head;
		ep->txq_head = q->next;
		free(q);
	}
	moq_loop_defer_cancel(ep->loop, ep);
	free(ep);
}

int moq_quic_endpoint_local_addr(struct moq_quic_endpoint *ep, struct sockaddr_storage *ss,
				 socklen_t *len)
{
	if (ep->fd < 0)
		return -ENOTCONN;
	memcpy(ss, &ep->local, ep->locallen);
	*len = ep->locallen;
	return 0;
}

uint16_t moq_quic_endpoint_port(struct moq_quic_endpoint *ep)
{
	if (ep->fd < 0)
		return 0;
	if (ep->local.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ep->local)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ep->local)->sin6_port);
}

size_t moq_quic_endpoint_conn_count(const struct moq_quic_endpoint *ep)
{
	size_t n = 0;
	for (const struct moq_quic_conn *c = ep->conns; c; c = c->next)
		if (c->state == CS_HANDSHAKE || c->state == CS_ESTABLISHED)
			n++;
	return n;
}

size_t moq_quic_endpoint_established(const struct moq_quic_endpoint *ep)
{
	return ep->nest;
}

size_t moq_quic_endpoint_handshakes(const struct moq_quic_endpoint *ep)
{
	return ep->nhs;
}

void moq_quic_endpoint_set_limits(struct moq_quic_endpoint *ep, size_t max_conns,
				  size_t max_handshakes)
{
	ep->cfg.max_conns = max_conns;
	ep->cfg.max_handshakes = max_handshakes;
}

void moq_quic_endpoint_stats(const struct moq_quic_endpoint *ep, struct moq_quic_endpoint_stats *st)
{
	*st = ep->st;
}

int moq_quic_endpoint_fd(const struct moq_quic_endpoint *ep)
{
	return ep->fd;
}

struct moq_quic_conn *moq_quic_connect(struct moq_quic_endpoint *ep, const char *host,
				       uint16_t port, void *user, char *err, size_t errlen)
{
	struct sockaddr_storage peer;
	socklen_t pl;
	ngtcp2_cid dcid, scid;
	uint16_t probe;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_callbacks cb;
	ngtcp2_path path;
	struct moq_quic_conn *c;
	char dummy[8];
	int rv;

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	rv = resolve(host, port, ep->fd >= 0 && ep->family == AF_INET ? AF_INET : AF_UNSPEC, &peer,
		     &pl, 0);
	if (rv) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rv));
		return NULL;
	}
	if (ep->fd < 0 && ep_open_socket(ep, peer.ss_family, err, errlen))
		return NULL;
	if (ep->family == AF_INET6 && peer.ss_family == AF_INET) {
		/* v4-mapped on a dual-stack socket */
		struct sockaddr_in v4;
		struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
		memcpy(&v4, &peer, sizeof(v4));
		v6.sin6_port = v4.sin_port;
		v6.sin6_addr.s6_addr[10] = 0xff;
		v6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
		memcpy(&peer, &v6, sizeof(v6));
		pl = sizeof(v6);
	}
	c = moq_quic__conn_alloc(ep, 0, (struct sockaddr *)&peer, pl, moq_quic__conn_timer);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->user = user;
	dcid.datalen = MOQ_QUIC_CID_LEN;
	moq_quic__rand(dcid.data, dcid.datalen);
	moq_quic__cid_new_local(ep, &scid, MOQ_QUIC_CID_LEN);
	moq_quic__conn_callbacks(ep, &cb, 0);
	moq_quic__conn_settings(c, &s, &dcid, &probe);
	moq_quic__conn_params(ep, &p);
	moq_quic__conn_path(c, &path);
	rv = ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &s, &p,
				    NULL, c);
	if (rv) {
		snprintf(err, errlen, "ngtcp2_conn_client_new: %s", ngtcp2_strerror(rv));
		goto fail;
	}
	if (ep->cfg.keep_alive_ms)
		ngtcp2_conn_set_keep_alive_timeout(c->conn, ep->cfg.keep_alive_ms * NS_PER_MS);
	if (moq_quic__cid_add(ep, c, &scid)) {
		snprintf(err, errlen, "CID table: out of memory");
		goto fail;
	}
	if (ep->crypto->conn_init(c, host)) {
		snprintf(err, errlen, "%s session setup failed",
			 ep->cfg.plaintext ? "plaintext" : "TLS");
		goto fail;
	}
	moq_quic__mark_dirty(c);
	return c;
fail:
	c->state = CS_DEAD;
	moq_quic__conn_free(c);
	return NULL;
}
