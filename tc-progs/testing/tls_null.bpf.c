// SPDX-License-Identifier: GPL-2.0
/*
 * tls_null.bpf.c - the fast-path object (tc-progs/relay.bpf.c) with the
 * upstream opener's crypto replaced by a null protection, for
 * tests/unit/test_bpf_upstream_tls_canon.c: everything the TLS step does
 * around the AEAD (pristine copy, header-protection removal, packet-number
 * decoding, key-phase choice, duplicate check, canonicalization, checksums)
 * is tested here without kernel crypto; the real AES-128-GCM is tested on
 * relay.bpf.o itself (test_bpf_upstream_tls.c). Test and bench only, never
 * installed.
 *
 * Null protection, per (upstream conn_id, phase) in moq_null_keys: the
 * header-protection mask is a fixed 5 bytes (hp), and a packet "opens"
 * when its last 16 bytes equal tag (the payload is not encrypted).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "moq_maps.h"

struct moq_null_key_id {
	__u32 conn_id;
	__u32 phase;
};

struct moq_null_key {
	__u8 hp[5];
	__u8 pad0[3];
	__u8 tag[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct moq_null_key_id);
	__type(value, struct moq_null_key);
} moq_null_keys SEC(".maps");

struct moq_keyset;

static __always_inline struct moq_keyset *moq_null_keys_up(__u32 conn_id, __u32 phase)
{
	struct moq_null_key_id id = {.conn_id = conn_id, .phase = phase};

	return (struct moq_keyset *)bpf_map_lookup_elem(&moq_null_keys, &id);
}

static __always_inline int moq_null_hp_mask(const struct moq_keyset *k, __u8 mask[5])
{
	const struct moq_null_key *nk = (const void *)k;

	__builtin_memcpy(mask, nk->hp, 5);
	return 0;
}

static __always_inline int moq_null_open(struct __sk_buff *skb, const struct moq_keyset *k,
					 __u32 off, __u32 len, __u64 pn)
{
	const struct moq_null_key *nk = (const void *)k;
	__u8 tag[16], acc = 0;
	__u64 i;

	/* pn used as the real open uses it: an argument the callee ignores
	 * is left unset by clang, and the verifier refuses the call */
	if (pn >> 62 || len < 16 || bpf_skb_load_bytes(skb, off + len - 16, tag, 16))
		return -1;
	for (i = 0; i < 16; i++)
		acc |= tag[i] ^ nk->tag[i];
	return acc ? -1 : 0;
}

#define MOQ_UP_KEYS(conn, phase) moq_null_keys_up(conn, phase)
#define MOQ_UP_HP_MASK(skb, k, off, mask) moq_null_hp_mask(k, mask)
#define MOQ_UP_OPEN(skb, k, off, hdr_len, len, pn) moq_null_open(skb, k, off, len, pn)

#include "../relay.bpf.c"
