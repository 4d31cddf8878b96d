/* Test payload format used by moq-pub / moq-sub and the relay benchmarks.
 *
 * Every object payload that moq-pub sends starts with a fixed 64-byte
 * header (all integers big-endian), followed by a body:
 *
 *   off len field
 *    0   4  magic "MQP1" (0x4D 0x51 0x50 0x31)
 *    4   1  version (1)
 *    5   1  kind: 0 = synthetic (body is filler, see below),
 *               1 = H.264 Annex-B access unit (body is the AU, start codes
 *                   included)
 *    6   1  flags: bit 0 keyframe (IDR access unit), bit 1 last object of
 *               its group; other bits 0
 *    7   1  reserved (0)
 *    8   4  total payload length in bytes, header included
 *   12   4  objects in this group (0 = unknown)
 *   16   8  sequence number: per track, 0, 1, 2, ... in publish order across
 *           groups (a receiver finds missing objects as gaps)
 *   24   8  send time, CLOCK_MONOTONIC, ns (latency on one host)
 *   32   8  send time, CLOCK_REALTIME, ns (latency across hosts with
 *           synchronised clocks)
 *   40   8  Group ID the object was published in
 *   48   8  Object ID
 *   56   4  Subgroup ID (low 32 bits; 0 for datagrams)
 *   60   4  CRC32C (Castagnoli, as in iSCSI/ext4) of bytes [0, 60) followed
 *           by bytes [64, total length)
 *   64   -  body
 *
 * Synthetic filler: body byte i (i counted from offset 64) is byte (i % 8)
 * of the little-endian 64-bit word x_(i/8), where x_0 = seq ^
 * 0x9E3779B97F4A7C15 and x_(k+1) = xorshift64(x_k) (13, 7, 17). A receiver
 * can regenerate it to check byte-exactness beyond the CRC.
 *
 * The smallest valid payload is the 64-byte header alone.
 */
#ifndef MOQ_MEDIA_PAYLOAD_H
#define MOQ_MEDIA_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOQ_PAYLOAD_MAGIC "MQP1"
#define MOQ_PAYLOAD_VERSION 1
#define MOQ_PAYLOAD_HDR_LEN 64

enum moq_payload_kind {
	MOQ_PAYLOAD_SYNTHETIC = 0,
	MOQ_PAYLOAD_H264 = 1,
};

#define MOQ_PAYLOAD_F_KEYFRAME 0x01u
#define MOQ_PAYLOAD_F_END_OF_GROUP 0x02u

struct moq_payload_hdr {
	uint8_t kind;  /* enum moq_payload_kind */
	uint8_t flags; /* MOQ_PAYLOAD_F_* */
	uint32_t total_len;
	uint32_t group_objects;
	uint64_t seq;
	uint64_t mono_ns;
	uint64_t real_ns;
	uint64_t group_id;
	uint64_t object_id;
	uint32_t subgroup_id;
	uint32_t crc; /* filled by encode / read by parse */
};

/* Results of moq_payload_check (negative). */
enum moq_payload_err {
	MOQ_PAYLOAD_OK = 0,
	MOQ_PAYLOAD_ERR_SHORT = -1,    /* shorter than the header */
	MOQ_PAYLOAD_ERR_MAGIC = -2,    /* not "MQP1" / unknown version */
	MOQ_PAYLOAD_ERR_LENGTH = -3,   /* length field != bytes received */
	MOQ_PAYLOAD_ERR_CRC = -4,      /* CRC32C mismatch */
	MOQ_PAYLOAD_ERR_FILLER = -5,   /* synthetic body differs from filler */
	MOQ_PAYLOAD_ERR_LOCATION = -6, /* group/object id differ from the
					  object's actual location */
};

/* Static description of an error ("CRC32C mismatch", ...). */
const char *moq_payload_strerror(int err);

/* CRC32C of buf, continuing from crc (start with 0). Uses the SSE4.2
 * instruction when the CPU has it. */
uint32_t moq_crc32c(uint32_t crc, const void *buf, size_t len);

/* Write h->kind .. h->subgroup_id into the first 64 bytes of buf (which
 * has h->total_len bytes, body already in place at offset 64) and the CRC
 * over header and body. h->crc is set. Returns 0, or -1 if total_len is
 * below MOQ_PAYLOAD_HDR_LEN. */
int moq_payload_seal(uint8_t *buf, struct moq_payload_hdr *h);

/* Fill len bytes of synthetic filler for sequence number seq. */
void moq_payload_fill(uint8_t *body, size_t len, uint64_t seq);

/* Build a complete synthetic payload of h->total_len bytes into buf
 * (filler + header + CRC). Same return as moq_payload_seal. */
int moq_payload_build_synthetic(uint8_t *buf, struct moq_payload_hdr *h);

/* Parse the header without checking the CRC. 0 or a negative
 * MOQ_PAYLOAD_ERR_SHORT/MAGIC. */
int moq_payload_parse(struct moq_payload_hdr *h, const uint8_t *buf, size_t len);

/* Full check: header, length, CRC, and for synthetic payloads the filler
 * when check_filler is true. h (may be NULL) gets the header when the
 * magic is valid. 0 or a negative MOQ_PAYLOAD_ERR_*. */
int moq_payload_check(struct moq_payload_hdr *h, const uint8_t *buf, size_t len, bool check_filler);

/* Body of a payload (after the header). */
static inline const uint8_t *moq_payload_body(const uint8_t *buf)
{
	return buf + MOQ_PAYLOAD_HDR_LEN;
}

#endif
