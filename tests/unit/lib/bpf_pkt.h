/* Test helper: build Ethernet/IP/UDP/QUIC short-header fixture packets of
 * the plaintext profile and verify their checksums. */
#ifndef TESTS_BPF_PKT_H
#define TESTS_BPF_PKT_H

#include <stddef.h>
#include <stdint.h>

struct bpf_pkt_spec {
	int family; /* 4 or 6 */
	int vlan;   /* add one 802.1Q tag (id 100) */
	uint8_t eth_src[6], eth_dst[6];
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport; /* host order */
	uint8_t first;	       /* first QUIC byte; 0 means 0x43 */
	uint8_t dcid[8];
	uint32_t pn;
	int pn_len; /* 0 means 4 */
	const uint8_t *frames;
	size_t frames_len;
	int no_tag;	   /* omit the 16-byte plaintext tag */
	int zero_udp_csum; /* IPv4: send UDP checksum 0 */
};

/* Returns the packet length or 0 if cap is too small. */
size_t bpf_pkt_build(uint8_t *out, size_t cap, const struct bpf_pkt_spec *s);

/* 1 when the IPv4 header checksum (if any) and the UDP checksum verify. */
int bpf_pkt_csum_ok(const uint8_t *pkt, size_t len);

/* Frame writers: append at *pos, return the new position. */
size_t bpf_frame_qv(uint8_t *b, size_t pos, uint64_t v, size_t width);
size_t bpf_frame_vi(uint8_t *b, size_t pos, uint64_t v, size_t width);
/* STREAM frame header: type 0x08|flags, 4-byte stream id, offset if
 * flags&4, length if flags&2 (len). Data is not written. */
size_t bpf_frame_stream_hdr(uint8_t *b, size_t pos, uint8_t flags, uint64_t sid, uint64_t off,
			    uint64_t len);
/* SUBGROUP_HEADER with 1-byte vi64 fields unless the values need more. */
size_t bpf_frame_subgroup(uint8_t *b, size_t pos, uint8_t type, uint64_t alias, uint64_t group,
			  uint64_t subgroup, uint8_t prio);
/* ACK 0x02: largest, delay, n ranges; ecn adds the three ECN counts. */
size_t bpf_frame_ack(uint8_t *b, size_t pos, int nranges, int ecn);

#endif
