/* A small JSON reader and writer for tools (moq-inspect) and tests.
 *
 * Not for the data path: both sides allocate.
 *
 * Reader: RFC 8259 JSON into a tree. Numbers keep their source text; a
 * number that is a plain non-negative integer (no sign, fraction or
 * exponent) of at most 2^64-1 is also available exactly as a uint64_t
 * (never through a double). Strings are decoded (escapes, \uXXXX with
 * surrogate pairs) to UTF-8 and may contain NUL bytes. Input must be valid
 * UTF-8; nesting is limited to JSON_MAX_DEPTH; duplicate object keys are
 * rejected. Errors carry the byte offset, line and column.
 *
 * Writer: appends to a growable buffer, inserting commas and colons itself.
 */
#ifndef MOQ_JSON_H
#define MOQ_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_member;

struct json_value {
	enum json_type type;
	size_t offset; /* byte offset of the value's first character */
	union {
		bool b;
		struct {
			char *text; /* NUL-terminated source text */
			bool is_u64;
			uint64_t u64;
		} num;
		struct {
			char *ptr; /* NUL-terminated, may contain NULs */
			size_t len;
		} str;
		struct {
			struct json_value **items;
			size_t n;
		} arr;
		struct {
			struct json_member *members;
			size_t n;
		} obj;
	};
};

struct json_member {
	char *key; /* NUL-terminated, may contain NULs */
	size_t keylen;
	struct json_value *value;
};

struct json_error {
	size_t offset; /* byte offset into the parsed text */
	unsigned line; /* 1-based */
	unsigned col;  /* 1-based, in bytes */
	char msg[96];
};

/* Parse exactly one JSON value that fills text[0..len) (surrounding
 * whitespace allowed). 0 and *out set, or -1 and *err filled. */
int json_parse(const char *text, size_t len, struct json_value **out, struct json_error *err);

/* Parse one JSON value at the start of text (after optional whitespace) and
 * stop after it: 1 with *out and *consumed set, 0 if only whitespace is
 * left (*consumed = len), -1 with *err on error. For streams of values such
 * as JSON Lines. */
int json_parse_next(const char *text, size_t len, struct json_value **out, size_t *consumed,
		    struct json_error *err);

void json_free(struct json_value *v);

/* Member of an object by key (NULL if absent or v is not an object). */
const struct json_value *json_get(const struct json_value *v, const char *key);

/* Name of a type for error messages ("string", "object", ...). */
const char *json_type_name(enum json_type t);

/* ---- writer ------------------------------------------------------------ */

struct json_writer {
	char *buf;
	size_t len, cap;
	bool oom; /* an allocation failed; output incomplete */
	unsigned depth;
	bool first[JSON_MAX_DEPTH + 1]; /* nothing written yet at this depth */
	bool after_key;
};

void json_writer_init(struct json_writer *w);
void json_writer_free(struct json_writer *w);
/* Forget the output but keep the buffer (for the next line). */
void json_writer_reset(struct json_writer *w);

void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
/* Key of the next member (inside an object). */
void json_key(struct json_writer *w, const char *key);
void json_u64(struct json_writer *w, uint64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* A JSON string of len bytes, escaped (", \, control characters; bytes
 * >= 0x7f are written as-is, so pass UTF-8). */
void json_string(struct json_writer *w, const char *s, size_t len);
void json_cstring(struct json_writer *w, const char *s);
/* A string of lower-case hex digits, two per byte. */
void json_hex_string(struct json_writer *w, const uint8_t *p, size_t len);
/* A byte string: a JSON string if every byte is printable ASCII
 * (0x20..0x7e), else {"hex":"..."}. */
void json_bytes(struct json_writer *w, const uint8_t *p, size_t len);

/* Convenience: key + value. */
void json_kv_u64(struct json_writer *w, const char *key, uint64_t v);
void json_kv_bool(struct json_writer *w, const char *key, bool v);
void json_kv_cstring(struct json_writer *w, const char *key, const char *s);
void json_kv_bytes(struct json_writer *w, const char *key, const uint8_t *p, size_t len);

/* Printable ASCII test used by json_bytes. */
bool json_bytes_printable(const uint8_t *p, size_t len);

/* Decode a hex string (even length, 0-9a-fA-F) into out (>= len/2 bytes).
 * Bytes written, or -1 with *bad_at set to the index of the bad digit
 * (len for odd length). */
long json_hex_decode(uint8_t *out, const char *hex, size_t len, size_t *bad_at);

#endif
