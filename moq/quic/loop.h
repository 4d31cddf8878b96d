/* Single-threaded epoll event loop: file descriptors, one-shot timers and
 * deferred calls. Everything in libmoq's QUIC layer runs on one of these;
 * applications (moq-pub, moq-sub, moq-relayd) add their own fds (BPF ring
 * buffer, control socket, stdin) and timers to the same loop.
 *
 * Time is CLOCK_MONOTONIC in nanoseconds (the clock ngtcp2 and
 * bpf_ktime_get_ns() use). Not thread-safe: call everything from the thread
 * that runs the loop.
 */
#ifndef MOQ_QUIC_LOOP_H
#define MOQ_QUIC_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct moq_loop;
struct moq_timer;

/* Called with the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, ...). */
typedef void (*moq_loop_fd_cb)(struct moq_loop *loop, int fd, uint32_t events, void *arg);
/* Called once when a timer expires (it is then disarmed; re-arm inside). */
typedef void (*moq_timer_cb)(struct moq_loop *loop, struct moq_timer *t, void *arg);
/* Called once at the end of the current loop iteration. */
typedef void (*moq_loop_defer_cb)(struct moq_loop *loop, void *arg);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t moq_loop_now(void);

/* New loop, NULL on failure (errno set). */
struct moq_loop *moq_loop_new(void);
/* Frees the loop. Timers still allocated are detached (free them with
 * moq_timer_free); fds are not closed. */
void moq_loop_free(struct moq_loop *loop);

/* Watch fd for events (EPOLLIN/EPOLLOUT). One registration per fd.
 * Returns 0 or -errno. */
int moq_loop_add_fd(struct moq_loop *loop, int fd, uint32_t events, moq_loop_fd_cb cb, void *arg);
/* Change the event mask of a registered fd. 0 or -errno. */
int moq_loop_mod_fd(struct moq_loop *loop, int fd, uint32_t events);
/* Stop watching fd (safe inside its own callback). 0 or -errno. */
int moq_loop_del_fd(struct moq_loop *loop, int fd);

/* Timers: allocate once, arm/disarm many times. O(log n) per operation. */
struct moq_timer *moq_timer_new(struct moq_loop *loop, moq_timer_cb cb, void *arg);
/* Arm at absolute CLOCK_MONOTONIC time (ns); re-arming moves it.
 * UINT64_MAX disarms. */
void moq_timer_set(struct moq_timer *t, uint64_t when_ns);
/* Arm relative to now. */
void moq_timer_set_in(struct moq_timer *t, uint64_t delay_ns);
void moq_timer_cancel(struct moq_timer *t);
/* Expiry time or UINT64_MAX if disarmed. */
uint64_t moq_timer_when(const struct moq_timer *t);
/* Disarm and free (safe inside its own callback). NULL is a no-op. */
void moq_timer_free(struct moq_timer *t);

/* Run cb(arg) once at the end of this iteration (before the loop sleeps).
 * Registering the same (cb, arg) twice in one iteration runs it once.
 * Returns 0 or -ENOMEM. */
int moq_loop_defer(struct moq_loop *loop, moq_loop_defer_cb cb, void *arg);
/* Cancel every pending deferred call whose arg is arg (use before freeing
 * the object arg points to). */
void moq_loop_defer_cancel(struct moq_loop *loop, void *arg);

/* One iteration: wait at most timeout_ms (-1 = until the next timer or fd
 * event; 0 = poll), dispatch fds, expired timers and deferred calls.
 * Returns number of fd events handled, or -errno. */
int moq_loop_run_once(struct moq_loop *loop, int timeout_ms);
/* epoll_pwait2 calls so far (tests) */
uint64_t moq_loop_polls(const struct moq_loop *loop);
/* Iterate until moq_loop_stop(). Returns 0 or -errno. */
int moq_loop_run(struct moq_loop *loop);
/* Make moq_loop_run() return after the current iteration. */
void moq_loop_stop(struct moq_loop *loop);
/* Run until stop, or until deadline_ns (absolute) passes: returns 0 if
 * stopped, -ETIMEDOUT at the deadline. Handy for tests. */
int moq_loop_run_until(struct moq_loop *loop, uint64_t deadline_ns);

#endif
