/* Internal to libmoq: bounded read cursor and sticky-error writer shared by
 * the control message codecs (control*.c, params.c). Not a public API.
 *
 * Every rd_* helper returns 0 or the cursor's (first) error. Inside a
 * message payload a short field is MOQ_ERR_MALFORMED, never NEED_MORE: the
 * payload length is known. Every wr_* helper records the first error in the
 * writer and does nothing afterwards; wr_result() returns it or the length. */
#ifndef MOQ_CTRL_WIRE_H
#define MOQ_CTRL_WIRE_H

#include <stdbool.h>

#include "control.h"
#include "moq_err.h"

struct moq_rd {
	const uint8_t *base; /* start of the frame, for error offsets */
	const uint8_t *p;
	const uint8_t *end;
	int err;
	const char *what;
	uint64_t val;
	size_t err_off;
};

struct moq_wr {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

void rd_init(struct moq_rd *r, const uint8_t *base, const uint8_t *p, size_t len);
int rd_fail(struct moq_rd *r, int code, const char *what, uint64_t val);
static inline size_t rd_left(const struct moq_rd *r)
{
	return (size_t)(r->end - r->p);
}
int rd_vi(struct moq_rd *r, uint64_t *v, const char *what);
int rd_u8(struct moq_rd *r, uint8_t *v, const char *what);
/* Length-prefixed bytes; length > max is limit_err. */
int rd_lenbytes(struct moq_rd *r, struct moq_bytes *b, uint64_t max, int limit_err,
		const char *what);
int rd_location(struct moq_rd *r, struct moq_location *loc, const char *what);
int rd_namespace(struct moq_rd *r, struct moq_namespace *ns);
/* Track Name; checks the Full Track Name limit together with ns. */
int rd_track_name(struct moq_rd *r, struct moq_bytes *name, const struct moq_namespace *ns);
int rd_reason(struct moq_rd *r, struct moq_bytes *reason);
int rd_params(struct moq_rd *r, struct moq_params *p, enum moq_param_ctx ctx);
/* Track Properties: the rest of the payload, validated as a KVP block. */
int rd_properties(struct moq_rd *r, struct moq_bytes *props);
/* The payload must be fully consumed. */
int rd_end(struct moq_rd *r);

void wr_init(struct moq_wr *w, uint8_t *out, size_t cap);
void wr_fail(struct moq_wr *w, int code);
void wr_vi(struct moq_wr *w, uint64_t v);
void wr_u8(struct moq_wr *w, uint8_t v);
void wr_raw(struct moq_wr *w, const void *data, size_t len);
void wr_lenbytes(struct moq_wr *w, struct moq_bytes b, uint64_t max);
void wr_location(struct moq_wr *w, struct moq_location loc);
void wr_namespace(struct moq_wr *w, const struct moq_namespace *ns);
void wr_track_name(struct moq_wr *w, struct moq_bytes name, const struct moq_namespace *ns);
void wr_reason(struct moq_wr *w, struct moq_bytes reason);
void wr_params(struct moq_wr *w, const struct moq_params *p, enum moq_param_ctx ctx);
void wr_properties(struct moq_wr *w, struct moq_bytes props);
static inline int wr_result(const struct moq_wr *w)
{
	return w->err ? w->err : (int)w->len;
}

/* Namespace byte length (sum of field lengths), or MOQ_ERR_* if invalid
 * (INVALID: empty field; LIMIT: > 32 fields or > 4096 bytes). */
int ns_check(const struct moq_namespace *ns, size_t *total);

/* Per-message codecs (control_*.c). */
int ctrl_dec_subscribe(struct moq_rd *r, struct moq_subscribe *m, enum moq_param_ctx ctx);
void ctrl_enc_subscribe(struct moq_wr *w, const struct moq_subscribe *m, enum moq_param_ctx ctx);
int ctrl_dec_subscribe_ok(struct moq_rd *r, struct moq_subscribe_ok *m);
void ctrl_enc_subscribe_ok(struct moq_wr *w, const struct moq_subscribe_ok *m);
int ctrl_dec_publish(struct moq_rd *r, struct moq_publish *m);
void ctrl_enc_publish(struct moq_wr *w, const struct moq_publish *m);
int ctrl_dec_publish_done(struct moq_rd *r, struct moq_publish_done *m);
void ctrl_enc_publish_done(struct moq_wr *w, const struct moq_publish_done *m);
int ctrl_dec_request_update(struct moq_rd *r, struct moq_request_update *m);
void ctrl_enc_request_update(struct moq_wr *w, const struct moq_request_update *m);
int ctrl_dec_request_ok(struct moq_rd *r, struct moq_request_ok *m, bool publish_ok);
void ctrl_enc_request_ok(struct moq_wr *w, const struct moq_request_ok *m, bool publish_ok);
int ctrl_dec_request_error(struct moq_rd *r, struct moq_request_error *m);
void ctrl_enc_request_error(struct moq_wr *w, const struct moq_request_error *m);
int ctrl_dec_fetch(struct moq_rd *r, struct moq_fetch *m);
void ctrl_enc_fetch(struct moq_wr *w, const struct moq_fetch *m);
int ctrl_dec_fetch_ok(struct moq_rd *r, struct moq_fetch_ok *m);
void ctrl_enc_fetch_ok(struct moq_wr *w, const struct moq_fetch_ok *m);
int ctrl_dec_publish_namespace(struct moq_rd *r, struct moq_publish_namespace *m);
void ctrl_enc_publish_namespace(struct moq_wr *w, const struct moq_publish_namespace *m);
int ctrl_dec_namespace_msg(struct moq_rd *r, struct moq_namespace_msg *m);
void ctrl_enc_namespace_msg(struct moq_wr *w, const struct moq_namespace_msg *m);
int ctrl_dec_subscribe_namespace(struct moq_rd *r, struct moq_subscribe_namespace *m,
				 enum moq_param_ctx ctx);
void ctrl_enc_subscribe_namespace(struct moq_wr *w, const struct moq_subscribe_namespace *m,
				  enum moq_param_ctx ctx);
int ctrl_dec_publish_blocked(struct moq_rd *r, struct moq_publish_blocked *m);
void ctrl_enc_publish_blocked(struct moq_wr *w, const struct moq_publish_blocked *m);
int ctrl_dec_setup(struct moq_rd *r, struct moq_setup *m);
void ctrl_enc_setup(struct moq_wr *w, const struct moq_setup *m);
int ctrl_dec_goaway(struct moq_rd *r, struct moq_goaway *m);
void ctrl_enc_goaway(struct moq_wr *w, const struct moq_goaway *m);

#endif
