/* moq-inspect: shared declarations of the tool's modules.
 *
 *   main.c          options, input (hex/binary), dispatch, error objects
 *   jfield.c        typed field access on parsed JSON with precise errors
 *   varint_json.c   --kind varint (MoQT vi64 and QUIC varints)
 *   props_json.c    KVP blocks (Track/Object Properties) <-> JSON
 *   control_json.c  control messages <-> JSON (moq/wire/control.h)
 *   data_json.c     subgroup streams, datagrams, fetch streams (moq/wire/data.h)
 *
 * This header includes neither control.h/params.h nor data.h: both define
 * enum moq_group_order, so the two codecs cannot share a translation unit.
 */
#ifndef MOQ_INSPECT_H
#define MOQ_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "moq_types.h"

enum insp_kind {
	KIND_NONE = 0,
	KIND_CONTROL,
	KIND_SUBGROUP,
	KIND_DATAGRAM,
	KIND_FETCH,
	KIND_VARINT,
	KIND_STREAM,  /* any unidirectional stream: kind from its type */
	KIND_PADDING, /* internal: a padding stream (--kind stream) */
};

struct insp_opts {
	enum insp_kind kind;
	bool hex;
	bool encode;
	bool quic;	  /* --kind varint: RFC 9000 varints */
	bool descending;  /* fetch: Group Order of the FETCH */
	const char *path; /* NULL: stdin */
};

/* ---- decode side ------------------------------------------------------- */

/* Why decoding stopped. kind: "malformed" or "truncated". offset: absolute
 * byte offset into the input. */
struct insp_err {
	const char *kind;
	size_t offset;
	char reason[320];
};

void insp_fail(struct insp_err *e, const char *kind, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Emit one finished JSON object as a line on stdout. */
void insp_emit(struct json_writer *w);

/* A decoder for one input unit (whole stream, or one datagram at `base`).
 * 0 on success (all lines emitted), -1 with *e set. */
typedef int (*insp_decode_fn)(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
			      struct json_writer *w, struct insp_err *e);

int varint_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		      struct json_writer *w, struct insp_err *e);
int control_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		       struct json_writer *w, struct insp_err *e);
int subgroup_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
			struct json_writer *w, struct insp_err *e);
int fetch_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		     struct json_writer *w, struct insp_err *e);
/* --kind stream: classify the stream type, then the matching decoder
 * (subgroup, fetch, control for SETUP, or a padding stream). */
int stream_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		      struct json_writer *w, struct insp_err *e);
int datagram_decode_one(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
			struct json_writer *w, struct insp_err *e);

/* ---- encode side --------------------------------------------------------- */

/* Growable output bytes. */
struct bytebuf {
	uint8_t *p;
	size_t len, cap;
};

int bytebuf_reserve(struct bytebuf *b, size_t extra);
int bytebuf_put(struct bytebuf *b, const void *p, size_t n);
void bytebuf_free(struct bytebuf *b);

/* Field access on one parsed JSON object. Errors name the JSON byte offset
 * of the offending value; allocations (decoded hex) live until jctx_reset. */
struct jctx {
	size_t base;   /* offset of this JSON text in the whole input */
	size_t err_at; /* absolute JSON offset of the error */
	char err[320];
	void **allocs;
	size_t nallocs, capallocs;
	const char *msg; /* message name for errors ("SUBSCRIBE") */
};

void jctx_reset(struct jctx *c);
int jerr(struct jctx *c, const struct json_value *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *jalloc(struct jctx *c, size_t n);

/* Field getters: 1 present and *out set, 0 absent (and not required), -1
 * error (set in c). `v` must be a JSON object. */
int jf_u64(struct jctx *c, const struct json_value *v, const char *key, bool required,
	   uint64_t *out);
int jf_u8(struct jctx *c, const struct json_value *v, const char *key, bool required, uint8_t *out);
int jf_bool(struct jctx *c, const struct json_value *v, const char *key, bool required, bool *out);
int jf_bytes(struct jctx *c, const struct json_value *v, const char *key, bool required,
	     struct moq_bytes *out);
int jf_location(struct jctx *c, const struct json_value *v, const char *key, bool required,
		struct moq_location *out);
int jf_namespace(struct jctx *c, const struct json_value *v, const char *key, bool required,
		 struct moq_namespace *out);
/* A code field: number under `key`, or its draft name under `name_key`
 * (looked up with namefn over 0..scan_max). Both present must agree. */
int jf_code(struct jctx *c, const struct json_value *v, const char *key, const char *name_key,
	    const char *(*namefn)(uint64_t), uint64_t scan_max, bool required, uint64_t *out);

/* Value-level conversions (for array items). */
int jv_u64(struct jctx *c, const struct json_value *x, const char *what, uint64_t *out);
int jv_bytes(struct jctx *c, const struct json_value *x, const char *what, struct moq_bytes *out);
int jv_namespace(struct jctx *c, const struct json_value *x, const char *what,
		 struct moq_namespace *out);

/* Reject keys not in the NULL-terminated list. */
int jf_only(struct jctx *c, const struct json_value *v, const char *const *allowed);

/* JSON writer helpers shared by the decoders. */
void jw_location(struct json_writer *w, const char *key, struct moq_location loc);
void jw_namespace(struct json_writer *w, const char *key, const struct moq_namespace *ns);
/* key + number, then key_name + draft name when name != NULL. */
void jw_code(struct json_writer *w, const char *key, uint64_t v, const char *name_key,
	     const char *name);

/* Properties (KVP block, e.g. Track or Object Properties) as JSON:
 * [{"type":N,"name":"...","value":V}, ...] (see docs/moq-inspect.md). */
void props_write(struct json_writer *w, const char *key, const uint8_t *p, size_t len);
/* True (and cleared) if a block written since the last call was not in
 * canonical form (non-minimal varints): the message then gets
 * "non_canonical":true. */
bool props_take_noncanonical(void);
/* JSON array -> KVP block bytes (owned by c). */
int props_read(struct jctx *c, const struct json_value *arr, struct moq_bytes *out);

/* Encoders: one JSON object -> bytes appended to out. The per-stream state
 * lives in the module (reset by *_encode_begin). */
int varint_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		      struct bytebuf *out);
int control_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		       struct bytebuf *out);
void data_encode_begin(void);
int subgroup_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
			struct bytebuf *out);
int fetch_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		     struct bytebuf *out);
int padding_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		       struct bytebuf *out);
int datagram_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
			struct bytebuf *out);

#endif
