/* fp_ackring: the agent's side of moq_acks (tc-progs/moq_maps.h): media
 * ACKs the subscriber ingress program consumed, read from the mmapped slot
 * without a system call, and the slot's on/off switch.
 *
 * The kernel reserves a record by a compare-and-swap on head and commits
 * it by storing seq = index + 1 last; this reader takes committed records
 * in order from tail and releases each by advancing tail, so the kernel
 * never overwrites a record before it was read (a full ring makes the
 * kernel pass the packet to the agent instead). One reader per slot (the
 * relay loop). Depends on libc, moq_maps.h and fp_ackxlate.h only. */
#ifndef FP_ACKRING_H
#define FP_ACKRING_H

#include <stddef.h>
#include <stdint.h>

#include "fp_ackxlate.h"
#include "moq_maps.h"

/* Called once per record, in the order the kernel reserved them: ack as
 * the ACK translator reports a wire ACK, ts_ns the kernel's receive time
 * (bpf_ktime_get_ns = CLOCK_MONOTONIC, the agent's clock), ping_pn the
 * packet's number when it also carried a PING (ngtcp2 must acknowledge
 * that number): the plaintext profile's 4-byte field, a TLS slot's full
 * number (the kernel opened and decoded it); else -1. */
typedef void (*fp_ackring_cb)(void *user, const struct fp_wire_ack *ack, uint64_t ts_ns,
			      int64_t ping_pn);

/* Take at most max committed records (0 = all). Returns the number read.
 * Stops at a record reserved but not yet committed (another CPU is writing
 * it): the next call resumes there. */
size_t fp_ackring_drain(struct moq_acks *a, size_t max, fp_ackring_cb cb, void *user);

/* Records reserved by the kernel and not read yet (committed or not). */
uint64_t fp_ackring_pending(const struct moq_acks *a);

/* Turn consumption on for a slot just bound: unread records of an earlier
 * connection are skipped, the pass timer restarts. Publish the guard
 * (fp_pnspace_set_guard) before. */
void fp_ackring_enable(struct moq_acks *a);
/* Also consume ACK + PING packets (after fp_ackring_enable): the reader
 * then owes ngtcp2 each recorded ping_pn. */
void fp_ackring_enable_ping(struct moq_acks *a);
/* The kernel passes one of the slot's packets to the agent at least every
 * ms (0: MOQ_ACK_PASS_NS). */
void fp_ackring_set_pass_ms(struct moq_acks *a, uint32_t ms);
/* The period for an ngtcp2 idle timeout of idle_timeout_ms: a packet that
 * often keeps the idle timer (which counts from received packets) far from
 * expiring, FP_ACK_PASS_PER_IDLE packets per timeout, but no longer apart
 * than FP_ACK_PASS_MAX_MS. Every pass costs the agent a receive, an ngtcp2
 * read and a write attempt: at 250 ms, 4,000 a second at 1,000
 * subscribers (issue 18). */
#define FP_ACK_PASS_PER_IDLE 8
#define FP_ACK_PASS_MAX_MS 2000
uint32_t fp_ackring_pass_ms(uint64_t idle_timeout_ms);
/* Let the slot's next packet through to the agent (e.g. ngtcp2 waits for
 * a MAX_DATA the receive hook appends to a received packet). */
void fp_ackring_pass_next(struct moq_acks *a);
/* Off: the kernel consumes nothing more for the slot; records already
 * written stay readable (drain them before the guard goes). */
void fp_ackring_disable(struct moq_acks *a);

#endif
