/* Test helper: seal a QUIC 1-RTT short-header packet with gnutls, as a TLS
 * peer would (RFC 9001 5.3, 5.4), to check the kernel's opener against. */
#ifndef TESTS_TLS_SEAL_H
#define TESTS_TLS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/fp_keys.h"

/* q[len]: header of hlen bytes (first byte, 8-byte DCID, packet number),
 * payload, 16 bytes for the tag; sealed in place with key: AES-128-GCM
 * with nonce iv ^ pn, then header protection. 0, or -1 on a gnutls error
 * (also used by bench/bpf_cost.c, without check). */
int tls_seal(uint8_t *q, size_t len, size_t hlen, uint64_t pn, const struct fp_tls_key *key);

#endif
