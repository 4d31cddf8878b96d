/* Pieces the QUIC loopback tests share (test_quic_loopback.c,
 * test_quic_shim_tls.c): the byte pattern their streams carry and the
 * loopback UDP sockets of their man-in-the-middle proxies. */
#ifndef QUIC_PROXY_H
#define QUIC_PROXY_H

#include <netinet/in.h>
#include <stdint.h>

/* The byte at offset off of stream sid. */
uint8_t tq_pattern(int64_t sid, uint64_t off);

/* A non-blocking UDP socket bound to 127.0.0.1 on a free port; *a = its
 * address. Fails the test when it cannot bind. */
int tq_loopback_sock(struct sockaddr_in *a);

#endif
