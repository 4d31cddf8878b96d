/* Tiny leveled logger writing one line per message to stderr.
 *
 *   moq_log_set_level(MOQ_LOG_DEBUG);
 *   moq_warn("quic", "cannot bind %s: %s", addr, strerror(errno));
 *
 * Default level: MOQ_LOG_WARN, or the MOQ_LOG environment variable
 * (error|warn|info|debug) at first use. A message below the level costs one
 * integer compare: the macros test the level before evaluating arguments.
 *
 * Formats (moq_log_set_format):
 *  - text (default): "<level> <module>: message" and, when a context is set
 *    (below), " session=N peer=ADDR track=NAME" for the parts known. Control
 *    bytes in the message are written as \xNN so that a peer's string cannot
 *    start a forged line; a context value with a space, '"', '=', '\' or a
 *    byte outside printable ASCII is double-quoted with JSON escapes.
 *  - json: one object per line, keys in this order, unknown ones omitted:
 *    {"ts":"2026-01-02T03:04:05.123456Z","level":"warn","module":"quic",
 *     "msg":"...","session":12,"peer":"10.0.0.2:4433","track":"ns--name"}
 *    ts is UTC (RFC 3339, microseconds). Strings are escaped per RFC 8259:
 *    '"' '\' and \b \f \n \r \t as two-character escapes, other bytes below
 *    0x20 and 0x7f as \u00XX, valid UTF-8 passed through, and every byte
 *    that is not part of a valid UTF-8 sequence (overlong forms, surrogates,
 *    > U+10FFFF, truncated) replaced by \ufffd, so every line is valid JSON
 *    and valid UTF-8.
 *
 * Context: the code handling one session (and maybe one track) opens a
 * scope on its stack; every line logged until the scope ends carries it.
 * Scopes nest and must end in reverse order (single-threaded use; the
 * context is one global pointer). The value a scope sets is copied into
 * it, so the object it came from may be freed while the scope is open.
 *
 *   struct moq_log_scope sc, tsc;
 *   moq_log_scope_session(&sc, 12, "10.0.0.2:4433");
 *   moq_log_scope_track(&tsc, "ns--name");   (keeps session and peer)
 *   moq_warn("relay", "...");   -> ... session=12 peer=10.0.0.2:4433 track=ns--name
 *   moq_log_scope_end(&tsc);
 *   moq_log_scope_end(&sc);
 */
#ifndef MOQ_LOG_H
#define MOQ_LOG_H

#include <stdint.h>
#include <stdio.h>

enum moq_log_level {
	MOQ_LOG_ERROR = 0,
	MOQ_LOG_WARN = 1,
	MOQ_LOG_INFO = 2,
	MOQ_LOG_DEBUG = 3,
};

enum moq_log_format {
	MOQ_LOG_FORMAT_TEXT = 0,
	MOQ_LOG_FORMAT_JSON = 1,
};

void moq_log_set_level(enum moq_log_level level);
enum moq_log_level moq_log_get_level(void);
/* Parse "error", "warn", "info", "debug" (or 0..3). -1 if unknown. */
int moq_log_parse_level(const char *s);

/* internal: the level, -1 until first use (then MOQ_LOG or warn) */
extern int moq_log__level;
int moq_log__init_level(void);

static inline int moq_log_enabled(enum moq_log_level l)
{
	int g = moq_log__level;

	if (g < 0)
		g = moq_log__init_level();
	return (int)l <= g;
}

void moq_log_set_format(enum moq_log_format f);
enum moq_log_format moq_log_get_format(void);
/* Parse "text" or "json". -1 if unknown. */
int moq_log_parse_format(const char *s);
/* Where lines go (NULL: stderr, the default). For tests. */
void moq_log_set_output(FILE *f);

/* Format and write one line if level is enabled. The message is cut at
 * 1023 bytes. */
void moq_log(enum moq_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Write msg as one line in the current format whatever the level (for
 * output the user asked for by other means, e.g. the relay's stats line). */
void moq_log_emit(enum moq_log_level level, const char *module, const char *msg);

#define moq__log_if(l, mod, ...)                                                                   \
	do {                                                                                       \
		if (moq_log_enabled(l))                                                            \
			moq_log(l, mod, __VA_ARGS__);                                              \
	} while (0)
#define moq_err(mod, ...) moq__log_if(MOQ_LOG_ERROR, mod, __VA_ARGS__)
#define moq_warn(mod, ...) moq__log_if(MOQ_LOG_WARN, mod, __VA_ARGS__)
#define moq_info(mod, ...) moq__log_if(MOQ_LOG_INFO, mod, __VA_ARGS__)
#define moq_dbg(mod, ...) moq__log_if(MOQ_LOG_DEBUG, mod, __VA_ARGS__)

/* ---- context ---- */

#define MOQ_LOG_PEER_MAX 64   /* "[v6 address]:port" fits */
#define MOQ_LOG_TRACK_MAX 256 /* longer names are cut, ending in "..." */

struct moq_log_ctx {
	uint64_t session;  /* 0: unknown */
	const char *peer;  /* NULL or "": unknown */
	const char *track; /* NULL or "": unknown */
};

/* A scope owns copies of the values it sets; a track scope points at its
 * enclosing scope's session and peer (which outlive it). */
struct moq_log_scope {
	struct moq_log_ctx ctx;
	const struct moq_log_ctx *prev;
	char buf[MOQ_LOG_TRACK_MAX]; /* the peer or the track it set */
};

/* The context lines carry now; NULL when none. */
const struct moq_log_ctx *moq_log_ctx_get(void);
/* Open a scope of one session (0 / NULL: unknown); no track. */
void moq_log_scope_session(struct moq_log_scope *sc, uint64_t session, const char *peer);
/* Open a scope of a track within the current session scope (if any);
 * track NULL or "" clears the track. */
void moq_log_scope_track(struct moq_log_scope *sc, const char *track);
/* Close it: the context before it is current again. */
void moq_log_scope_end(struct moq_log_scope *sc);

#endif
