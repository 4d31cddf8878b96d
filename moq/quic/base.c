/* Shared helpers of the QUIC layer. See base.h. */
#include "quic/base.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "varint.h"

void *moq_quic__user(const struct moq_quic_conn *c)
{
	return c->user ? c->user : c->ep->cfg.user;
}

static void fill(uint8_t *dest, size_t len)
{
	while (len) {
		ssize_t n = getrandom(dest, len, 0);
		if (n <= 0)
			continue;
		dest += n;
		len -= (size_t)n;
	}
}

/* Small draws (connection IDs, PATH_CHALLENGE data, ngtcp2's rand_cb: ~5
 * per connection) come from a per-thread pool refilled 256 bytes at a
 * time: one getrandom per ~20 connections instead of one per draw. A
 * forked child empties its copy (it must not repeat the parent's bytes);
 * bytes are wiped as they are handed out. Secrets draw directly. */
#define POOL 256
static __thread uint8_t pool[POOL];
static __thread size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static unsigned long refills;

static void pool_forked(void)
{
	explicit_bzero(pool, sizeof(pool));
	pool_left = 0;
}

static void pool_init(void)
{
	pthread_atfork(NULL, NULL, pool_forked);
}

unsigned long moq_quic__rand_refills(void)
{
	return refills;
}

void moq_quic__rand(uint8_t *dest, size_t len)
{
	if (len >= 32) {
		fill(dest, len);
		return;
	}
	pthread_once(&pool_once, pool_init);
	if (pool_left < len) {
		fill(pool, POOL);
		pool_left = POOL;
		__atomic_fetch_add(&refills, 1, __ATOMIC_RELAXED);
	}
	memcpy(dest, pool + POOL - pool_left, len);
	explicit_bzero(pool + POOL - pool_left, len);
	pool_left -= len;
}

void moq_quic__rand_cb(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *r)
{
	moq_quic__rand(dest, destlen);
}

uint64_t moq_quic__now(void)
{
	return moq_loop_now();
}

void moq_quic__conn_set_hs_error(struct moq_quic_conn *c, uint64_t code, const char *fmt, ...)
{
	va_list ap;

	if (c->hs_failed)
		return; /* keep the first, most specific reason */
	c->hs_failed = 1;
	c->hs_code = code;
	va_start(ap, fmt);
	vsnprintf(c->ci.reason, sizeof(c->ci.reason), fmt, ap);
	va_end(ap);
	c->ci.origin = MOQ_QUIC_CLOSE_HANDSHAKE;
	c->ci.app = 0;
	c->ci.code = code;
}

void moq_quic__mark_dirty(struct moq_quic_conn *c)
{
	struct moq_quic_endpoint *ep = c->ep;

	if (c->state == CS_DEAD)
		return;
	if (!c->dirty) {
		c->dirty = 1;
		c->dnext = ep->dirty_head;
		ep->dirty_head = c;
	}
	moq_loop_defer(ep->loop, ep->flush, ep);
}

int moq_quic__conn_usable(const struct moq_quic_conn *c)
{
	return (c->state == CS_HANDSHAKE || c->state == CS_ESTABLISHED) && !c->want_close &&
	       !c->silent_drop && !c->closed_notified;
}

size_t moq_quic__long_prefix_len(const uint8_t *d, size_t n)
{
	size_t o = 0;
	while (o < n && (d[o] & 0x80)) {
		size_t p = o + 5;
		uint64_t v;
		int k;
		if (p >= n)
			return n;
		p += 1 + d[p]; /* DCID */
		if (p >= n)
			return n;
		p += 1 + d[p]; /* SCID */
		if (p >= n)
			return n;
		if (((d[o] & 0x30) >> 4) == 0) { /* Initial: token */
			k = quic_varint_decode(&v, d + p, n - p);
			if (k < 0)
				return n;
			p += (size_t)k + v;
		}
		if (p >= n)
			return n;
		k = quic_varint_decode(&v, d + p, n - p);
		if (k < 0)
			return n;
		p += (size_t)k + v;
		if (p > n)
			return n;
		o = p;
	}
	return o;
}

size_t moq_quic__slack(const struct moq_quic_conn *c)
{
	const struct moq_quic_config *cfg = &c->ep->cfg;

	return cfg->plaintext || (c->server && cfg->shim_protect) ? cfg->shim_slack : 0;
}

void moq_quic__null_seal(uint8_t *dest, const uint8_t *src, size_t len)
{
	if (dest != src)
		memmove(dest, src, len);
	memcpy(dest + len, MOQ_QUIC_PLAINTEXT_TAG, MOQ_QUIC_PLAINTEXT_TAG_LEN);
}

int moq_quic__null_open(uint8_t *dest, const uint8_t *src, size_t len)
{
	size_t n;

	if (len < MOQ_QUIC_PLAINTEXT_TAG_LEN)
		return -1;
	n = len - MOQ_QUIC_PLAINTEXT_TAG_LEN;
	if (memcmp(src + n, MOQ_QUIC_PLAINTEXT_TAG, MOQ_QUIC_PLAINTEXT_TAG_LEN))
		return -1;
	if (dest != src)
		memmove(dest, src, n);
	return 0;
}
