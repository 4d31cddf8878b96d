/* quic_proxy: see quic_proxy.h. */
#include "quic_proxy.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "quic/loop.h"

uint8_t tq_pattern(int64_t sid, uint64_t off)
{
	return (uint8_t)(off * 31 + (uint64_t)sid * 7 + (off >> 9));
}

int tq_loopback_sock(struct sockaddr_in *a)
{
	socklen_t al = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &al), 0);
	return fd;
}

int tq_run_until(struct moq_loop *loop, struct world *w, int (*cond)(struct world *),
		 uint64_t timeout_ms)
{
	uint64_t deadline = moq_loop_now() + timeout_ms * 1000000ull;

	while (!cond(w)) {
		if (moq_loop_now() >= deadline)
			return 0;
		ck_assert_int_ge(moq_loop_run_once(loop, 10), 0);
	}
	return 1;
}

void tq_run_for(struct moq_loop *loop, uint64_t ms)
{
	uint64_t deadline = moq_loop_now() + ms * 1000000ull;

	while (moq_loop_now() < deadline)
		ck_assert_int_ge(moq_loop_run_once(loop, 10), 0);
}

static void proxy_cb(struct moq_loop *l, int fd, uint32_t ev, void *arg)
{
	struct tq_proxy *p = arg;
	uint8_t d[65536];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	(void)l, (void)ev;
	while ((n = recvfrom(fd, d, sizeof(d), 0, (struct sockaddr *)&from, &fl)) > 0) {
		if (fd == p->fd_cli) {
			p->cli = from;
			p->have_cli = 1;
			if (!p->c2s || p->c2s(p->arg, d, (size_t)n))
				sendto(p->fd_srv, d, (size_t)n, 0, (struct sockaddr *)&p->srv,
				       sizeof(p->srv));
		} else if (p->have_cli) {
			if (!p->s2c || p->s2c(p->arg, d, (size_t)n))
				sendto(p->fd_cli, d, (size_t)n, 0, (struct sockaddr *)&p->cli,
				       sizeof(p->cli));
		}
		fl = sizeof(from);
	}
}

uint16_t tq_proxy_open(struct tq_proxy *p, struct moq_loop *loop, uint16_t srv_port)
{
	struct sockaddr_in a;

	p->have_cli = 0;
	p->fd_cli = tq_loopback_sock(&a);
	p->fd_srv = tq_loopback_sock(&p->srv);
	p->srv.sin_port = htons(srv_port);
	ck_assert_int_eq(moq_loop_add_fd(loop, p->fd_cli, EPOLLIN, proxy_cb, p), 0);
	ck_assert_int_eq(moq_loop_add_fd(loop, p->fd_srv, EPOLLIN, proxy_cb, p), 0);
	return ntohs(a.sin_port);
}

void tq_proxy_close(struct tq_proxy *p, struct moq_loop *loop)
{
	moq_loop_del_fd(loop, p->fd_cli);
	moq_loop_del_fd(loop, p->fd_srv);
	close(p->fd_cli);
	close(p->fd_srv);
	p->fd_cli = p->fd_srv = -1;
}

static int sh(const char *cmd)
{
	int rv = system(cmd);

	if (rv != 0)
		fprintf(stderr, "failed: %s\n", cmd);
	return rv ? -1 : 0;
}

int tq_certs_make(struct tq_certs *c, const char *name)
{
	char cmd[2048];

	snprintf(c->dir, sizeof(c->dir), "/tmp/%s-XXXXXX", name);
	if (!mkdtemp(c->dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(c->ca, sizeof(c->ca), "%s/ca.pem", c->dir);
	snprintf(c->ca2, sizeof(c->ca2), "%s/ca2.pem", c->dir);
	snprintf(c->cert, sizeof(c->cert), "%s/srv.pem", c->dir);
	snprintf(c->key, sizeof(c->key), "%s/srv.key", c->dir);
	snprintf(cmd, sizeof(cmd),
		 "(cd %s && "
		 "printf 'cn = \"moq test CA\"\\nca\\ncert_signing_key\\n"
		 "expiration_days = 2\\n' > ca.tmpl && "
		 "printf 'cn = \"other CA\"\\nca\\ncert_signing_key\\n"
		 "expiration_days = 2\\n' > ca2.tmpl && "
		 "printf 'cn = \"localhost\"\\ndns_name = \"localhost\"\\n"
		 "ip_address = \"127.0.0.1\"\\nip_address = \"::1\"\\n"
		 "tls_www_server\\nsigning_key\\nexpiration_days = 2\\n' > "
		 "srv.tmpl && "
		 "certtool -p --key-type=ecdsa --curve=secp256r1 --outfile ca.key && "
		 "certtool -s --load-privkey ca.key --template ca.tmpl --outfile ca.pem && "
		 "certtool -p --key-type=ecdsa --curve=secp256r1 --outfile ca2.key && "
		 "certtool -s --load-privkey ca2.key --template ca2.tmpl --outfile ca2.pem && "
		 "certtool -p --key-type=ecdsa --curve=secp256r1 --outfile srv.key && "
		 "certtool -c --load-privkey srv.key --load-ca-certificate ca.pem "
		 "--load-ca-privkey ca.key --template srv.tmpl --outfile srv.pem"
		 ") >/dev/null 2>&1",
		 c->dir);
	return sh(cmd);
}

int tq_certs_remove(const struct tq_certs *c)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
	return sh(cmd);
}
