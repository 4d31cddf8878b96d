#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int moq_log__level = -1;
static enum moq_log_format g_format = MOQ_LOG_FORMAT_TEXT;
static FILE *g_out;
static const struct moq_log_ctx *g_ctx;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int moq_log_parse_level(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, level_names[i]))
			return i;
	if (s[0] >= '0' && s[0] <= '3' && !s[1])
		return s[0] - '0';
	return -1;
}

int moq_log__init_level(void)
{
	if (moq_log__level < 0) {
		int l = moq_log_parse_level(getenv("MOQ_LOG"));

		moq_log__level = l < 0 ? MOQ_LOG_WARN : l;
	}
	return moq_log__level;
}

void moq_log_set_level(enum moq_log_level l)
{
	moq_log__level = (int)l;
}

enum moq_log_level moq_log_get_level(void)
{
	return (enum moq_log_level)moq_log__init_level();
}

int moq_log_parse_format(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "text"))
		return MOQ_LOG_FORMAT_TEXT;
	if (!strcmp(s, "json"))
		return MOQ_LOG_FORMAT_JSON;
	return -1;
}

void moq_log_set_format(enum moq_log_format f)
{
	g_format = f == MOQ_LOG_FORMAT_JSON ? MOQ_LOG_FORMAT_JSON : MOQ_LOG_FORMAT_TEXT;
}

enum moq_log_format moq_log_get_format(void)
{
	return g_format;
}

void moq_log_set_output(FILE *f)
{
	g_out = f;
}

/* ---- context ---- */

const struct moq_log_ctx *moq_log_ctx_get(void)
{
	return g_ctx;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n < cap) {
		memcpy(dst, src ? src : "", n + 1);
		return;
	}
	/* cut, and say so */
	memcpy(dst, src, cap - 4);
	memcpy(dst + cap - 4, "...", 4);
}

void moq_log_scope_session(struct moq_log_scope *sc, uint64_t session, const char *peer)
{
	copy_str(sc->buf, MOQ_LOG_PEER_MAX, peer);
	sc->ctx.session = session;
	sc->ctx.peer = sc->buf;
	sc->ctx.track = NULL;
	sc->prev = g_ctx;
	g_ctx = &sc->ctx;
}

void moq_log_scope_track(struct moq_log_scope *sc, const char *track)
{
	copy_str(sc->buf, sizeof(sc->buf), track);
	sc->ctx.session = g_ctx ? g_ctx->session : 0;
	sc->ctx.peer = g_ctx ? g_ctx->peer : NULL;
	sc->ctx.track = sc->buf;
	sc->prev = g_ctx;
	g_ctx = &sc->ctx;
}

void moq_log_scope_end(struct moq_log_scope *sc)
{
	/* scopes end in reverse order; if one was skipped (a bug), its
	 * context must not outlive this one's caller either */
	g_ctx = sc->prev;
}

/* ---- line building (no allocation: one stack buffer per line) ---- */

#define LINE_MAX_BYTES 8192

struct line {
	char *p;
	size_t len, cap; /* cap excludes the room kept for "\n" */
	bool full;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->full)
		return;
	if (n > l->cap - l->len) {
		l->full = true;
		return;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* JSON string body (no quotes). An escape is never split at the end of
 * the buffer: what does not fit is dropped whole. */
static void put_json_str(struct line *l, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	char esc[8];

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t u;

		switch (c) {
		case '"':
			put(l, "\\\"", 2);
			break;
		case '\\':
			put(l, "\\\\", 2);
			break;
		case '\b':
			put(l, "\\b", 2);
			break;
		case '\f':
			put(l, "\\f", 2);
			break;
		case '\n':
			put(l, "\\n", 2);
			break;
		case '\r':
			put(l, "\\r", 2);
			break;
		case '\t':
			put(l, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				put(l, esc, 6);
				break;
			}
			u = utf8_len(s + i, n - i);
			if (!u) {
				put(l, "\\ufffd", 6);
				break;
			}
			put(l, (const char *)s + i, u);
			i += u;
			continue;
		}
		i++;
	}
}

/* Text message: as is, but control bytes as \xNN (one line per message). */
static void put_text_msg(struct line *l, const char *str)
{
	const char *s = str, *run = str;
	char esc[8];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != 0x7f)
			continue;
		put(l, run, (size_t)(s - run));
		snprintf(esc, sizeof(esc), "\\x%02x", c);
		put(l, esc, 4);
		run = s + 1;
	}
	put(l, run, (size_t)(s - run));
}

static bool text_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\')
			return false;
	}
	return true;
}

static void put_text_kv(struct line *l, const char *key, const char *val)
{
	put(l, " ", 1);
	puts_(l, key);
	put(l, "=", 1);
	if (text_plain(val)) {
		puts_(l, val);
		return;
	}
	put(l, "\"", 1);
	put_json_str(l, val);
	put(l, "\"", 1);
}

static void put_json_kv(struct line *l, const char *key, const char *val)
{
	put(l, ",\"", 2);
	puts_(l, key);
	put(l, "\":\"", 3);
	put_json_str(l, val);
	put(l, "\"", 1);
}

static void put_ts(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char b[40];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000);
	if (n > 0 && (size_t)n < sizeof(b))
		put(l, b, (size_t)n);
}

static bool has(const char *s)
{
	return s && s[0];
}

void moq_log_emit(enum moq_log_level lv, const char *module, const char *msg)
{
	char buf[LINE_MAX_BYTES];
	struct line l = {.p = buf, .len = 0, .cap = sizeof(buf) - 2};
	const struct moq_log_ctx *c = g_ctx;
	const char *tag = level_names[lv & 3];
	char num[32];
	FILE *out = g_out ? g_out : stderr;

	if (!module)
		module = "moq";
	if (g_format == MOQ_LOG_FORMAT_JSON) {
		/* the closing fields must fit whatever the message does */
		size_t tail = 0;

		if (c) {
			tail += c->session ? 32 : 0;
			tail += has(c->peer) ? 12 + 6 * strlen(c->peer) : 0;
			tail += has(c->track) ? 12 + 6 * strlen(c->track) : 0;
		}
		puts_(&l, "{\"ts\":\"");
		put_ts(&l);
		puts_(&l, "\",\"level\":\"");
		puts_(&l, tag);
		puts_(&l, "\",\"module\":\"");
		put_json_str(&l, module);
		puts_(&l, "\",\"msg\":\"");
		l.cap -= tail + 2;
		put_json_str(&l, msg);
		l.full = false;
		l.cap += tail + 2;
		put(&l, "\"", 1);
		if (c && c->session) {
			snprintf(num, sizeof(num), ",\"session\":%llu",
				 (unsigned long long)c->session);
			puts_(&l, num);
		}
		if (c && has(c->peer))
			put_json_kv(&l, "peer", c->peer);
		if (c && has(c->track))
			put_json_kv(&l, "track", c->track);
		put(&l, "}", 1);
	} else {
		puts_(&l, tag);
		put(&l, " ", 1);
		put_text_msg(&l, module);
		put(&l, ": ", 2);
		put_text_msg(&l, msg);
		l.full = false; /* the context goes in even after a cut message */
		if (c && c->session) {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)c->session);
			put_text_kv(&l, "session", num);
		}
		if (c && has(c->peer))
			put_text_kv(&l, "peer", c->peer);
		if (c && has(c->track))
			put_text_kv(&l, "track", c->track);
	}
	buf[l.len++] = '\n';
	fwrite(buf, 1, l.len, out);
}

void moq_log(enum moq_log_level l, const char *module, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!moq_log_enabled(l))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	moq_log_emit(l, module, buf);
}
