/* Lowest shared helpers of the QUIC layer: randomness, time, handshake
 * errors, flush scheduling, datagram layout. Calls nothing above it. */
#ifndef MOQ_QUIC_BASE_H
#define MOQ_QUIC_BASE_H

#include "quic/quic_int.h"

#define MOQ_QUIC__NS_PER_MS 1000000ull

/* Random bytes (getrandom; draws of <= 32 bytes from a per-thread pool). */
void moq_quic__rand(uint8_t *dest, size_t len);
/* The pool's getrandom refills so far (tests). */
unsigned long moq_quic__rand_refills(void);
void moq_quic__rand_cb(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *r);
uint64_t moq_quic__now(void);
/* The application pointer for c's callbacks. */
void *moq_quic__user(const struct moq_quic_conn *c);
/* Record why our callback failed the handshake (first reason wins). */
void moq_quic__conn_set_hs_error(struct moq_quic_conn *c, uint64_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queue c for the endpoint's deferred flush (ep->flush). */
void moq_quic__mark_dirty(struct moq_quic_conn *c);
/* Open, and not being closed or dropped. */
int moq_quic__conn_usable(const struct moq_quic_conn *c);
/* Length of the long-header packets at the start of a datagram; the rest
 * (if any) is one short-header packet. */
size_t moq_quic__long_prefix_len(const uint8_t *d, size_t n);
/* Bytes ngtcp2 leaves free below max_udp_payload for the send shim: the
 * plaintext profile, and server connections of a shim_protect endpoint
 * (the suite is not known yet when the connection is made). */
size_t moq_quic__slack(const struct moq_quic_conn *c);
/* Null packet protection (plaintext profile, and ngtcp2's side of a
 * shim-protected connection): seal = copy + the profile's tag; open =
 * check and strip it (0, or -1 when the tag is missing). dest may be src. */
void moq_quic__null_seal(uint8_t *dest, const uint8_t *src, size_t len);
int moq_quic__null_open(uint8_t *dest, const uint8_t *src, size_t len);

#endif
