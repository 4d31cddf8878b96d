/* fp_pingack: the ACK frame the agent writes itself for the held PINGs of
 * consumed ACK + PING packets (issue 18, fourth round), instead of feeding
 * them to ngtcp2 and letting it answer. ngtcp2's answer was a full read and
 * write pass per feed, and every other ACK it wrote carried a PING of its
 * own (ngtcp2 1.11, fast-path-agent.md section 8), whose ACK the kernel had
 * to pass back to it (guarded): three datagrams through the relay for one
 * subscriber PING. The agent's ACK is ACK-only: nothing comes back.
 *
 * Each frame acknowledges the numbers being answered plus the last
 * FP_PINGACK_RECENT answered before (RFC 9000 13.2.1: an ACK frame may
 * repeat ranges; an ACK-only packet is never acknowledged, so a lost one is
 * covered by the next). Numbers are the subscribers' full packet numbers;
 * a plaintext-profile record holds the 4-byte field, decoded against the
 * largest number seen (RFC 9000 A.3). Depends on libc only. */
#ifndef FP_PINGACK_H
#define FP_PINGACK_H

#include <stddef.h>
#include <stdint.h>

#define FP_PINGACK_RECENT 8 /* answered numbers repeated in the next frame */
#define FP_PINGACK_MAX 32   /* numbers one frame covers (new + repeated) */
/* the frame's size bound: type, largest, delay, count, first range, then
 * a (gap, length) pair per further number, 8 bytes per varint at most */
#define FP_PINGACK_FRAME_MAX (1 + 4 * 8 + 2 * 8 * FP_PINGACK_MAX)

struct fp_pingack {
	uint64_t recent[FP_PINGACK_RECENT]; /* answered lately, descending */
	uint32_t nrecent;
	uint64_t largest; /* largest number answered (valid when nrecent) */
	uint8_t ade_set;  /* the caller's cache of ... */
	uint8_t ade;	  /* ... our ack_delay_exponent (ACK Delay's unit) */
};

/* The full packet number of a 4-byte number field (RFC 9000 A.3) against
 * the largest answered so far (none: the field itself). */
uint64_t fp_pingack_decode32(const struct fp_pingack *a, uint32_t field);

/* Write an ACK frame (type 0x02) acknowledging pn[0..n) (any order,
 * duplicates allowed) and the recent numbers into out (cap bytes, at least
 * FP_PINGACK_FRAME_MAX is always enough), with ack_delay_field as its ACK
 * Delay; remember the largest FP_PINGACK_RECENT numbers. Returns the
 * frame's length, 0 when n is 0 or n > FP_PINGACK_MAX - FP_PINGACK_RECENT
 * or cap is too small (nothing remembered then). */
size_t fp_pingack_frame(struct fp_pingack *a, const uint64_t *pn, size_t n,
			uint64_t ack_delay_field, uint8_t *out, size_t cap);

/* A received plaintext-profile 1-RTT packet (short header, dcidlen-byte
 * DCID, 4-byte number, 16-byte tag) whose frames are only ACK / ACK_ECN,
 * PADDING and PING: turn every PING into PADDING in place, store the
 * number field in *pn_field and return 1, so that the agent answers that
 * PING itself and ngtcp2 reads the ACK alone. Anything else (another
 * frame, no PING, a frame that does not parse): 0, pkt untouched. */
int fp_pkt_take_ping(uint8_t *pkt, size_t len, size_t dcidlen, uint32_t *pn_field);

#endif
