/* Pieces the QUIC loopback tests share (test_quic_loopback.c,
 * test_quic_shim_tls.c): the byte pattern their streams carry, the loop
 * they run, their man-in-the-middle UDP proxy and their certificates. */
#ifndef QUIC_PROXY_H
#define QUIC_PROXY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct moq_loop;
struct world; /* each suite's own; never looked into here */

/* The byte at offset off of stream sid. */
uint8_t tq_pattern(int64_t sid, uint64_t off);

/* A non-blocking UDP socket bound to 127.0.0.1 on a free port; *a = its
 * address. Fails the test when it cannot bind. */
int tq_loopback_sock(struct sockaddr_in *a);

/* Runs loop until cond(w) holds (1) or timeout_ms passed (0); fails the
 * test when the loop fails. */
int tq_run_until(struct moq_loop *loop, struct world *w, int (*cond)(struct world *),
		 uint64_t timeout_ms);
void tq_run_for(struct moq_loop *loop, uint64_t ms);

/* A UDP proxy on 127.0.0.1 between one client and a server: what the
 * client sends goes to the server, what the server sends to the client's
 * last address. c2s and s2c (NULL: none) see each datagram first, may
 * change it in place and return 0 to drop it. */
struct tq_proxy {
	int fd_cli; /* faces the client: the client connects here */
	int fd_srv; /* faces the server */
	struct sockaddr_in cli, srv;
	int have_cli;
	int (*c2s)(void *arg, uint8_t *d, size_t n);
	int (*s2c)(void *arg, uint8_t *d, size_t n);
	void *arg;
};

/* Opens both sockets on loop, towards the server at 127.0.0.1:srv_port;
 * returns the port the client connects to. */
uint16_t tq_proxy_open(struct tq_proxy *p, struct moq_loop *loop, uint16_t srv_port);
void tq_proxy_close(struct tq_proxy *p, struct moq_loop *loop);

/* A temporary directory with certificates made by certtool: ca.pem (the
 * test CA), ca2.pem (another CA) and srv.pem/srv.key (localhost,
 * 127.0.0.1 and ::1, signed by the test CA). 0 or -1 (says why). */
struct tq_certs {
	char dir[256], ca[300], ca2[300], cert[300], key[300];
};
int tq_certs_make(struct tq_certs *c, const char *name);
/* Removes the directory; 0 or -1. */
int tq_certs_remove(const struct tq_certs *c);

#endif
