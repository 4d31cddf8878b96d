/* fp_keys: installs QUIC 1-RTT keys (AES-128-GCM) for the tc fast path
 * (docs/fast-path-tls-kernel.md): a subscriber slot's tx keys and an
 * upstream connection's rx keys of both key phases. All functions return 0
 * or -errno. Wiping releases the kernel's cipher contexts and zeroes the
 * key bytes in the map. */
#ifndef FP_KEYS_H
#define FP_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct fp_tls_key {
	uint8_t key[16], iv[12], hp[16];
	uint8_t phase; /* key phase bit, 0 or 1 */
};

/* fp_keys_open loads tc-progs/tls_keys.bpf.o (embedded): the key
 * installer, the seal program, which it puts into moq_seal_prog, and the
 * subscriber opener, into moq_open_prog. */
struct moq_pn_window;
struct fp_keys {
	int keys_fd; /* moq_tls_keys */
	int sel_fd;  /* moq_tls_sel */
	int prog_fd; /* the BPF_PROG_TYPE_SYSCALL installer */
	void *obj;   /* struct bpf_object * of tls_keys.bpf.o */
	/* mmap of the object's moq_sub_rxwin: each slot's rx window */
	struct moq_pn_window *rxwin;
	size_t rxwin_len;
};

/* pin_dir: where tc pinned relay.bpf.o's maps (MOQ_PIN_DIR) */
int fp_keys_open(struct fp_keys *k, const char *pin_dir, char *err, size_t errlen);
/* the same with the maps of a loaded object (a struct bpf_object * with
 * relay.bpf.o's maps, found by name; tests and bench load without pins) */
struct bpf_object;
int fp_keys_open_from(struct fp_keys *k, struct bpf_object *maps_from, char *err, size_t errlen);
void fp_keys_close(struct fp_keys *k);
int fp_keys_set_sub(struct fp_keys *k, uint32_t slot, const struct fp_tls_key *key);
int fp_keys_wipe_sub(struct fp_keys *k, uint32_t slot);
/* A subscriber slot's rx keys (client->server) of the layer's current rx
 * phase key->phase; the other phase's set is wiped (the kernel opens only
 * the current phase). fp_keys_wipe_sub wipes them with the tx keys. */
int fp_keys_set_sub_rx(struct fp_keys *k, uint32_t slot, const struct fp_tls_key *key);
/* The slot's rx packet-number window: seed it (every number <= largest
 * seen, any = 0: nothing seen yet), or raise its largest to largest (the
 * QUIC layer opened packets the kernel passed; never lowers it).
 * fp_keys_sub_rx_next: its next (largest seen + 1, 0: none). */
int fp_keys_sub_rx_seed(struct fp_keys *k, uint32_t slot, uint64_t largest, int any);
void fp_keys_sub_rx_raise(struct fp_keys *k, uint32_t slot, uint64_t largest);
uint64_t fp_keys_sub_rx_next(const struct fp_keys *k, uint32_t slot);
/* key->phase picks the set (0 or 1) */
int fp_keys_set_up(struct fp_keys *k, uint32_t conn_id, const struct fp_tls_key *key);
int fp_keys_wipe_up(struct fp_keys *k, uint32_t conn_id);
/* every key set in the map (an agent starting after one that did not wipe
 * its keys, or stopping) */
int fp_keys_wipe_all(struct fp_keys *k);

/* The GHASH table of struct moq_keyset for hash key h (exposed for tests):
 * tab[(p * 16 + v) * 2 ..] = (nibble v at position p: byte p / 2, low
 * nibble for even p) * H, 16 bytes. */
void fp_keys_ghash_table(const uint8_t h[16], uint64_t *tab);

#endif
