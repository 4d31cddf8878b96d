/* TLS 1-RTT keys in the layer: secret capture for every TLS connection and,
 * for shim-protected ones (config.shim_protect), packet protection after
 * the send shim and send_hook / before recv_hook. Design:
 * docs/fast-path-tls-quic.md. Calls only base.h. */
#ifndef MOQ_QUIC_PROTECT_H
#define MOQ_QUIC_PROTECT_H

#include "quic/quic_int.h"

#define MOQ_QUIC__KEYLEN 16
#define MOQ_QUIC__IVLEN 12
#define MOQ_QUIC__SECRETLEN 32 /* SHA-256 */

/* HKDF-Expand-Label (RFC 8446 7.1) with SHA-256 and an empty context:
 * out[outlen] = Expand(secret, "tls13 " label). 0 or -1. */
int moq_quic__hkdf_label(uint8_t *out, size_t outlen, const uint8_t *secret, size_t secretlen,
			 const char *label);

/* tls.c: after ngtcp2_crypto_gnutls configured the session, take over
 * its secret function. */
void moq_quic__keys_session(struct moq_quic_conn *c);
/* tls.c: ngtcp2 callbacks that know the layer's null 1-RTT contexts
 * (encrypt, decrypt, hp_mask, update_key, delete_*). */
void moq_quic__keys_callbacks(ngtcp2_callbacks *cb);
void moq_quic__keys_free(struct moq_quic_conn *c);

/* 1 when the layer protects c's 1-RTT packets; _rx_ready: and can open
 * them (the rx keys come after the tx keys on a server). */
int moq_quic__shim_on(const struct moq_quic_conn *c);
int moq_quic__shim_rx_ready(const struct moq_quic_conn *c);
/* 1 on a shim_protect server before its 1-RTT secrets (e.g. during a
 * HelloRetryRequest round trip): whether the layer will protect 1-RTT is
 * not known yet, and ngtcp2 would keep a 1-RTT packet to read it later
 * with the null keys, unauthenticated. */
int moq_quic__shim_undecided(const struct moq_quic_conn *c);
/* Report a pending key change (on_keys_changed) now. Call outside ngtcp2
 * callbacks, before anything is sealed. */
void moq_quic__keys_notify(struct moq_quic_conn *c);
/* Seal one 1-RTT packet in the plaintext-profile form (first byte 0x4?,
 * 8-byte DCID, 4-byte PN, frames, 16-byte trailer) in place under the
 * current tx keys, with header protection. 0 or < 0 (not sealed;
 * -EEXIST: its packet number is not above the last one sealed, which
 * would reuse a nonce). */
int moq_quic__shim_seal(struct moq_quic_conn *c, uint8_t *pkt, size_t len);
/* Open one received protected 1-RTT packet in place and rewrite it into
 * the plaintext-profile form (0x43, 4-byte PN, trailer = the profile's
 * tag); may grow it up to cap. 0, or < 0: drop it (counted). */
int moq_quic__shim_open(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap);

/* The key state alone (protect.c's conn functions wrap these; tests and
 * fuzz_quic_open use them directly). keys_new: shim keys of both
 * directions from two 1-RTT secrets (32 bytes, AES-128-GCM/SHA-256).
 * keys_seal: see moq_quic__shim_seal. keys_open: see moq_quic__shim_open;
 * pt[ptcap] is scratch for the plaintext, now/pto in ns; returns 0, 1
 * when the packet opened under the next rx keys (rx rotated; tx is the
 * caller's), or < 0. keys_tx_update: tx to the next phase. */
struct moq_quic__keys *moq_quic__keys_new(const uint8_t rx_secret[32], const uint8_t tx_secret[32]);
void moq_quic__keys_destroy(struct moq_quic__keys *k);
int moq_quic__keys_seal(struct moq_quic__keys *k, uint8_t *pkt, size_t len);
int moq_quic__keys_open(struct moq_quic__keys *k, uint8_t *pkt, size_t *len, size_t cap,
			uint8_t *pt, size_t ptcap, uint64_t now, uint64_t pto);
int moq_quic__keys_tx_update(struct moq_quic__keys *k);

/* recv.c, connections ngtcp2 protects (config.track_rx_pn or
 * shim_protect): rx_pn_peek decodes the packet number of the short-header
 * packet pkt[n] (header protection removed with the captured HP key,
 * against the largest accepted) and snapshots the count of ngtcp2's
 * successful opens; 0 or -1 (not tracked / not decodable). After
 * ngtcp2_conn_read_pkt returned 0 for a datagram holding only that
 * packet, rx_pn_accept records pn if ngtcp2 opened it. */
int moq_quic__rx_pn_peek(struct moq_quic_conn *c, const uint8_t *pkt, size_t n, uint64_t *pn,
			 uint64_t *opens);
void moq_quic__rx_pn_accept(struct moq_quic_conn *c, uint64_t pn, uint64_t opens);

/* A 1-RTT packet number the application authenticated (the relay's kernel
 * opened the packet with the exported rx keys): the rx tracking learns it
 * like one the layer opened. */
void moq_quic__keys_rx_learn(struct moq_quic_conn *c, uint64_t pn);

/* Per-connection counters (moq_quic_conn_stats). */
uint64_t moq_quic__keys_updates(const struct moq_quic_conn *c);
uint64_t moq_quic__keys_open_failed(const struct moq_quic_conn *c);

#endif
