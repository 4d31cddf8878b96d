/* Single-threaded epoll loop with a binary min-heap of timers. */
#include "quic/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fd_reg {
	int fd;
	int dead;
	moq_loop_fd_cb cb;
	void *arg;
	struct fd_reg *next;
};

struct moq_timer {
	struct moq_loop *loop;
	uint64_t when;
	size_t idx; /* heap index, SIZE_MAX if not armed */
	moq_timer_cb cb;
	void *arg;
	struct moq_timer *next_all;
};

struct heap_ent {
	uint64_t when; /* a copy of t->when: sifts compare without a load of t */
	struct moq_timer *t;
};

struct defer {
	moq_loop_defer_cb cb;
	void *arg;
};

struct moq_loop {
	int epfd;
	int stop;
	struct fd_reg *fds;
	struct heap_ent *heap;
	size_t nheap, capheap;
	struct defer *defers;
	size_t ndefer, capdefer;
	uint64_t polls; /* epoll_pwait2 calls (tests count them) */
};

uint64_t moq_loop_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct moq_loop *moq_loop_new(void)
{
	struct moq_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void moq_loop_free(struct moq_loop *l)
{
	if (!l)
		return;
	while (l->fds) {
		struct fd_reg *r = l->fds;
		l->fds = r->next;
		free(r);
	}
	for (size_t i = 0; i < l->nheap; i++)
		l->heap[i].t->idx = SIZE_MAX, l->heap[i].t->loop = NULL;
	free(l->heap);
	free(l->defers);
	close(l->epfd);
	free(l);
}

static struct fd_reg *find_fd(struct moq_loop *l, int fd)
{
	for (struct fd_reg *r = l->fds; r; r = r->next)
		if (r->fd == fd && !r->dead)
			return r;
	return NULL;
}

int moq_loop_add_fd(struct moq_loop *l, int fd, uint32_t events, moq_loop_fd_cb cb, void *arg)
{
	struct fd_reg *r;
	struct epoll_event ev = {.events = events};

	if (find_fd(l, fd))
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->cb = cb;
	r->arg = arg;
	ev.data.ptr = r;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(r);
		return -e;
	}
	r->next = l->fds;
	l->fds = r;
	return 0;
}

int moq_loop_mod_fd(struct moq_loop *l, int fd, uint32_t events)
{
	struct fd_reg *r = find_fd(l, fd);
	struct epoll_event ev = {.events = events};

	if (!r)
		return -ENOENT;
	ev.data.ptr = r;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int moq_loop_del_fd(struct moq_loop *l, int fd)
{
	struct fd_reg *r = find_fd(l, fd);

	if (!r)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	r->dead = 1; /* freed after dispatch */
	return 0;
}

static void reap_fds(struct moq_loop *l)
{
	struct fd_reg **pp = &l->fds;
	while (*pp) {
		if ((*pp)->dead) {
			struct fd_reg *r = *pp;
			*pp = r->next;
			free(r);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* ---- timer heap ---- */

/* The heap holds each timer's expiry next to its pointer: a sift compares
 * keys in the array only and touches a timer just to store its new index.
 * With a few thousand connection timers re-armed on every tick (issue 18)
 * a pointer chase per comparison was ~10 % of the relay's time. A sift
 * moves a hole and writes each entry once instead of swapping. */
static void heap_put(struct moq_loop *l, size_t i, struct heap_ent e)
{
	l->heap[i] = e;
	e.t->idx = i;
}

static void heap_up(struct moq_loop *l, size_t i)
{
	struct heap_ent e = l->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p].when <= e.when)
			break;
		heap_put(l, i, l->heap[p]);
		i = p;
	}
	heap_put(l, i, e);
}

static void heap_down(struct moq_loop *l, size_t i)
{
	struct heap_ent e = l->heap[i];

	for (;;) {
		size_t a = 2 * i + 1, m;
		if (a >= l->nheap)
			break;
		m = a + 1 < l->nheap && l->heap[a + 1].when < l->heap[a].when ? a + 1 : a;
		if (l->heap[m].when >= e.when)
			break;
		heap_put(l, i, l->heap[m]);
		i = m;
	}
	heap_put(l, i, e);
}

/* Entry i got key when: sift in the one direction it can move. */
static void heap_rekey(struct moq_loop *l, size_t i, uint64_t when)
{
	uint64_t old = l->heap[i].when;

	l->heap[i].when = when;
	if (when < old)
		heap_up(l, i);
	else
		heap_down(l, i);
}

static void heap_remove(struct moq_loop *l, struct moq_timer *t)
{
	size_t i = t->idx;
	if (i == SIZE_MAX)
		return;
	l->nheap--;
	if (i != l->nheap) {
		uint64_t old = l->heap[i].when;

		l->heap[i] = l->heap[l->nheap];
		l->heap[i].t->idx = i;
		if (l->heap[i].when < old)
			heap_up(l, i);
		else
			heap_down(l, i);
	}
	t->idx = SIZE_MAX;
}

struct moq_timer *moq_timer_new(struct moq_loop *l, moq_timer_cb cb, void *arg)
{
	struct moq_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	t->when = UINT64_MAX;
	t->idx = SIZE_MAX;
	return t;
}

void moq_timer_set(struct moq_timer *t, uint64_t when)
{
	struct moq_loop *l = t->loop;

	if (!l)
		return;
	if (when == UINT64_MAX) {
		moq_timer_cancel(t);
		return;
	}
	if (t->idx == SIZE_MAX) {
		if (l->nheap == l->capheap) {
			size_t n = l->capheap ? l->capheap * 2 : 64;
			void *p = realloc(l->heap, n * sizeof(*l->heap));
			if (!p)
				return;
			l->heap = p;
			l->capheap = n;
		}
		t->when = when;
		l->heap[l->nheap] = (struct heap_ent){when, t};
		t->idx = l->nheap++;
		heap_up(l, t->idx);
	} else if (t->when != when) {
		t->when = when;
		heap_rekey(l, t->idx, when);
	}
}

void moq_timer_set_in(struct moq_timer *t, uint64_t delay)
{
	moq_timer_set(t, moq_loop_now() + delay);
}

void moq_timer_cancel(struct moq_timer *t)
{
	if (t->loop)
		heap_remove(t->loop, t);
	t->when = UINT64_MAX;
}

uint64_t moq_timer_when(const struct moq_timer *t)
{
	return t->idx == SIZE_MAX ? UINT64_MAX : t->when;
}

void moq_timer_free(struct moq_timer *t)
{
	if (!t)
		return;
	moq_timer_cancel(t);
	free(t);
}

int moq_loop_defer(struct moq_loop *l, moq_loop_defer_cb cb, void *arg)
{
	for (size_t i = 0; i < l->ndefer; i++)
		if (l->defers[i].cb == cb && l->defers[i].arg == arg)
			return 0;
	if (l->ndefer == l->capdefer) {
		size_t n = l->capdefer ? l->capdefer * 2 : 32;
		void *p = realloc(l->defers, n * sizeof(*l->defers));
		if (!p)
			return -ENOMEM;
		l->defers = p;
		l->capdefer = n;
	}
	l->defers[l->ndefer].cb = cb;
	l->defers[l->ndefer].arg = arg;
	l->ndefer++;
	return 0;
}

void moq_loop_defer_cancel(struct moq_loop *l, void *arg)
{
	for (size_t i = 0; i < l->ndefer; i++)
		if (l->defers[i].arg == arg)
			l->defers[i].cb = NULL;
}

static void run_defers(struct moq_loop *l)
{
	/* Entries are consumed in place (cb = NULL) so a call may defer
	 * again or cancel others; bounded so a self-deferring call cannot
	 * starve the loop. */
	size_t i, budget = 100000;

	for (i = 0; i < l->ndefer && budget; i++, budget--) {
		moq_loop_defer_cb cb = l->defers[i].cb;
		void *arg = l->defers[i].arg;
		if (!cb)
			continue;
		l->defers[i].cb = NULL;
		cb(l, arg);
	}
	if (i >= l->ndefer) {
		l->ndefer = 0;
	} else {
		memmove(l->defers, l->defers + i, (l->ndefer - i) * sizeof(*l->defers));
		l->ndefer -= i;
	}
}

static void run_timers(struct moq_loop *l)
{
	uint64_t now = moq_loop_now();
	/* Bound the work: timers re-armed in the past run next iteration. */
	size_t budget = l->nheap + 16;

	while (l->nheap && l->heap[0].when <= now && budget--) {
		struct moq_timer *t = l->heap[0].t;
		heap_remove(l, t);
		t->when = UINT64_MAX;
		t->cb(l, t, t->arg);
	}
}

int moq_loop_run_once(struct moq_loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	/* Nanosecond timeout (epoll_pwait2): pacing gaps are tens of
	 * microseconds, a millisecond epoll_wait would stretch them. */
	uint64_t wait_ns = timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * 1000000ull;
	struct timespec ts;
	int n;

	run_defers(l);
	/* A timer the last pass's callbacks armed already due (ngtcp2's
	 * expiry at its write's own timestamp, after a held publisher's read
	 * each tick) runs now, not after an epoll_pwait2 with a zero timeout:
	 * one system call less per tick. Re-armed in the past, it polls. */
	if (l->nheap && l->heap[0].when <= moq_loop_now()) {
		run_timers(l);
		run_defers(l);
	}
	if (l->nheap) {
		uint64_t now = moq_loop_now(), w = l->heap[0].when;
		uint64_t tns = w <= now ? 0 : w - now;
		if (tns < wait_ns)
			wait_ns = tns;
	}
	if (wait_ns > 3600ull * 1000000000ull)
		wait_ns = timeout_ms < 0 && !l->nheap ? UINT64_MAX : 3600ull * 1000000000ull;
	ts.tv_sec = (time_t)(wait_ns / 1000000000ull);
	ts.tv_nsec = (long)(wait_ns % 1000000000ull);
	l->polls++;
	n = epoll_pwait2(l->epfd, evs, 64, wait_ns == UINT64_MAX ? NULL : &ts, NULL);
	if (n < 0 && errno == ENOSYS) {
		int ms = wait_ns == UINT64_MAX ? -1 : (int)((wait_ns + 999999) / 1000000);
		n = epoll_wait(l->epfd, evs, 64, ms);
	}
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct fd_reg *r = evs[i].data.ptr;
		if (!r->dead)
			r->cb(l, r->fd, evs[i].events, r->arg);
	}
	reap_fds(l);
	run_timers(l);
	run_defers(l);
	return n;
}

int moq_loop_run(struct moq_loop *l)
{
	l->stop = 0;
	while (!l->stop) {
		int r = moq_loop_run_once(l, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

uint64_t moq_loop_polls(const struct moq_loop *l)
{
	return l->polls;
}

void moq_loop_stop(struct moq_loop *l)
{
	l->stop = 1;
}

int moq_loop_run_until(struct moq_loop *l, uint64_t deadline)
{
	l->stop = 0;
	while (!l->stop) {
		uint64_t now = moq_loop_now();
		int r;
		if (now >= deadline)
			return -ETIMEDOUT;
		r = moq_loop_run_once(l, (int)((deadline - now) / 1000000 + 1));
		if (r < 0)
			return r;
	}
	return 0;
}
