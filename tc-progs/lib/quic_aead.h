/* QUIC 1-RTT packet protection in tc (RFC 9001 5.3, 5.4): AES-128-GCM
 * sealing/opening and header protection with the keys the agent installs
 * in moq_tls_keys (agent/lib/fp_keys.c, docs/fast-path-tls-kernel.md).
 *
 * Interface for the egress sealer and the upstream opener. The bodies are
 * placeholders until the kernel crypto lands: no key set is ever found, and
 * every operation fails (callers drop with MOQ_R_NO_KEYS). */
#ifndef MOQ_QUIC_AEAD_H
#define MOQ_QUIC_AEAD_H

#include "bpf_common.h"

/* keys of one direction and phase, looked up by the helpers below */
struct moq_keyset;

static __always_inline struct moq_keyset *moq_keys_sub(__u32 slot)
{
	return NULL;
}

static __always_inline struct moq_keyset *moq_keys_up(__u32 conn_id, __u32 phase)
{
	return NULL;
}

/* key phase bit (0/1) the sealer must write for this set */
static __always_inline __u32 moq_keyset_phase(const struct moq_keyset *k)
{
	return 0;
}

/* header protection mask: 5 bytes from the 16-byte sample at skb offset
 * sample_off */
static __always_inline int moq_hp_mask(struct __sk_buff *skb, const struct moq_keyset *k,
				       __u32 sample_off, __u8 mask[5])
{
	return -1;
}

/* Seal in place: packet at pkt_off, header (first byte..PN end) hdr_len
 * bytes, whole packet pkt_len bytes including the 16-byte trailer that
 * becomes the tag; pn = full packet number. Applies header protection too;
 * fixes nothing else (the caller fixes the UDP checksum). 0 or < 0. */
static __always_inline int moq_aead_seal(struct __sk_buff *skb, const struct moq_keyset *k,
					 __u32 pkt_off, __u32 hdr_len, __u32 pkt_len, __u64 pn)
{
	return -1;
}

/* Open in place after the caller removed header protection: verify the tag
 * over AAD = header, ciphertext = [pkt_off + hdr_len, pkt_off + pkt_len -
 * 16); decrypts only if it verifies. 0 ok, < 0 bad tag / error (the packet
 * is unchanged when the tag is bad). */
static __always_inline int moq_aead_open(struct __sk_buff *skb, const struct moq_keyset *k,
					 __u32 pkt_off, __u32 hdr_len, __u32 pkt_len, __u64 pn)
{
	return -1;
}

#endif
