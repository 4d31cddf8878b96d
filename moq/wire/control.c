/* Control message framing, dispatch, names, and the session-level messages
 * (SETUP, GOAWAY, REQUEST_UPDATE, REQUEST_OK/PUBLISH_OK, REQUEST_ERROR). */
#include <string.h>

#include "control.h"
#include "control_wire.h"
#include "varint.h"

struct ctrl_def {
	uint64_t type;
	const char *name;
	int ctx; /* enum moq_param_ctx or -1 */
	bool request_first;
};

static const struct ctrl_def ctrl_defs[] = {
    {MOQ_CTRL_SETUP, "SETUP", -1, false},
    {MOQ_CTRL_GOAWAY, "GOAWAY", -1, false},
    {MOQ_CTRL_SUBSCRIBE, "SUBSCRIBE", MOQ_PCTX_SUBSCRIBE, true},
    {MOQ_CTRL_SUBSCRIBE_OK, "SUBSCRIBE_OK", MOQ_PCTX_SUBSCRIBE_OK, false},
    {MOQ_CTRL_PUBLISH, "PUBLISH", MOQ_PCTX_PUBLISH, true},
    {MOQ_CTRL_PUBLISH_OK, "PUBLISH_OK", MOQ_PCTX_PUBLISH_OK, false},
    {MOQ_CTRL_PUBLISH_DONE, "PUBLISH_DONE", -1, false},
    {MOQ_CTRL_FETCH, "FETCH", MOQ_PCTX_FETCH, true},
    {MOQ_CTRL_FETCH_OK, "FETCH_OK", MOQ_PCTX_FETCH_OK, false},
    {MOQ_CTRL_TRACK_STATUS, "TRACK_STATUS", MOQ_PCTX_TRACK_STATUS, true},
    {MOQ_CTRL_PUBLISH_NAMESPACE, "PUBLISH_NAMESPACE", MOQ_PCTX_PUBLISH_NAMESPACE, true},
    {MOQ_CTRL_SUBSCRIBE_NAMESPACE, "SUBSCRIBE_NAMESPACE", MOQ_PCTX_SUBSCRIBE_NAMESPACE, true},
    {MOQ_CTRL_SUBSCRIBE_TRACKS, "SUBSCRIBE_TRACKS", MOQ_PCTX_SUBSCRIBE_TRACKS, true},
    {MOQ_CTRL_NAMESPACE, "NAMESPACE", -1, false},
    {MOQ_CTRL_NAMESPACE_DONE, "NAMESPACE_DONE", -1, false},
    {MOQ_CTRL_PUBLISH_BLOCKED, "PUBLISH_BLOCKED", -1, false},
    {MOQ_CTRL_REQUEST_UPDATE, "REQUEST_UPDATE", MOQ_PCTX_REQUEST_UPDATE, false},
    {MOQ_CTRL_REQUEST_OK, "REQUEST_OK", MOQ_PCTX_REQUEST_OK, false},
    {MOQ_CTRL_REQUEST_ERROR, "REQUEST_ERROR", -1, false},
};

#define NCTRL (sizeof(ctrl_defs) / sizeof(ctrl_defs[0]))

static const struct ctrl_def *ctrl_def(uint64_t type)
{
	for (size_t i = 0; i < NCTRL; i++)
		if (ctrl_defs[i].type == type)
			return &ctrl_defs[i];
	return NULL;
}

const char *moq_ctrl_type_name(uint64_t type)
{
	const struct ctrl_def *d = ctrl_def(type);
	return d ? d->name : NULL;
}

int moq_ctrl_type_from_name(const char *name, uint64_t *type)
{
	for (size_t i = 0; name && i < NCTRL; i++) {
		if (!strcmp(ctrl_defs[i].name, name)) {
			*type = ctrl_defs[i].type;
			return 0;
		}
	}
	return MOQ_ERR_INVALID;
}

bool moq_ctrl_type_known(uint64_t type)
{
	return ctrl_def(type) != NULL;
}

bool moq_ctrl_type_is_request(uint64_t type)
{
	const struct ctrl_def *d = ctrl_def(type);
	return d && d->request_first;
}

int moq_ctrl_param_ctx(uint64_t type)
{
	const struct ctrl_def *d = ctrl_def(type);
	return d ? d->ctx : -1;
}

const char *moq_setup_option_name(uint64_t type)
{
	switch (type) {
	case MOQ_SETUP_PATH:
		return "PATH";
	case MOQ_SETUP_AUTHORIZATION_TOKEN:
		return "AUTHORIZATION_TOKEN";
	case MOQ_SETUP_MAX_AUTH_TOKEN_CACHE_SIZE:
		return "MAX_AUTH_TOKEN_CACHE_SIZE";
	case MOQ_SETUP_AUTHORITY:
		return "AUTHORITY";
	case MOQ_SETUP_MOQT_IMPLEMENTATION:
		return "MOQT_IMPLEMENTATION";
	default:
		return NULL;
	}
}

int moq_ctrl_err_to_session_code(int err)
{
	switch (err) {
	case MOQ_ERR_KVP_FORMAT:
		return MOQ_SESSION_KEY_VALUE_FORMATTING_ERROR;
	case MOQ_ERR_NEED_MORE:
	case MOQ_ERR_MALFORMED:
	case MOQ_ERR_LIMIT:
	case MOQ_ERR_UNKNOWN_TYPE:
	case MOQ_ERR_DUPLICATE:
		return MOQ_SESSION_PROTOCOL_VIOLATION;
	default:
		return err >= 0 ? MOQ_SESSION_NO_ERROR : MOQ_SESSION_INTERNAL_ERROR;
	}
}

/* ---- SETUP ------------------------------------------------------------------- */

/* Record a known option in the typed fields. */
static int setup_known(struct moq_rd *r, struct moq_setup *m, const struct moq_kvp *kv)
{
	struct moq_auth_token *t;
	bool *has = NULL;
	struct moq_bytes *dst = NULL;

	switch (kv->type) {
	case MOQ_SETUP_PATH:
		has = &m->has_path, dst = &m->path;
		break;
	case MOQ_SETUP_AUTHORITY:
		has = &m->has_authority, dst = &m->authority;
		break;
	case MOQ_SETUP_MOQT_IMPLEMENTATION:
		has = &m->has_moqt_implementation, dst = &m->moqt_implementation;
		break;
	case MOQ_SETUP_MAX_AUTH_TOKEN_CACHE_SIZE:
		if (m->has_max_auth_token_cache_size)
			return rd_fail(r, MOQ_ERR_DUPLICATE, "SETUP: duplicate option", kv->type);
		m->has_max_auth_token_cache_size = true;
		m->max_auth_token_cache_size = kv->value;
		return 0;
	case MOQ_SETUP_AUTHORIZATION_TOKEN:
		if (m->num_authorization_tokens >= MOQ_MAX_SETUP_TOKENS)
			return rd_fail(r, MOQ_ERR_LIMIT, "SETUP: more than 8 authorization tokens",
				       m->num_authorization_tokens);
		t = &m->authorization_tokens[m->num_authorization_tokens];
		if (moq_auth_token_decode(t, kv->bytes.ptr, kv->bytes.len) < 0)
			return rd_fail(r, MOQ_ERR_KVP_FORMAT,
				       "SETUP: AUTHORIZATION_TOKEN cannot be decoded",
				       kv->bytes.len);
		if (t->alias_type == MOQ_ALIAS_DELETE || t->alias_type == MOQ_ALIAS_USE_ALIAS)
			return rd_fail(r, MOQ_ERR_MALFORMED,
				       "SETUP: AUTHORIZATION_TOKEN with alias type DELETE or "
				       "USE_ALIAS",
				       t->alias_type);
		m->num_authorization_tokens++;
		return 0;
	default:
		return 0; /* unknown: kept in options[] only */
	}
	if (*has)
		return rd_fail(r, MOQ_ERR_DUPLICATE, "SETUP: duplicate option", kv->type);
	*has = true;
	*dst = kv->bytes;
	return 0;
}

int ctrl_dec_setup(struct moq_rd *r, struct moq_setup *m)
{
	struct moq_kvp_iter it;
	struct moq_kvp kv;
	int rc;

	moq_kvp_iter_init(&it, r->p, rd_left(r));
	while ((rc = moq_kvp_next(&it, &kv)) == 1) {
		if (m->num_options >= MOQ_MAX_SETUP_OPTIONS)
			return rd_fail(r, MOQ_ERR_LIMIT, "SETUP: more than 64 setup options",
				       m->num_options);
		m->options[m->num_options++] = kv;
		if ((rc = setup_known(r, m, &kv)))
			return rc;
		r->p = it.p;
	}
	if (rc < 0) {
		r->p = it.p;
		return rd_fail(r, rc, "SETUP: setup options are not a valid key-value-pair block",
			       0);
	}
	r->p = r->end;
	return 0;
}

void ctrl_enc_setup(struct moq_wr *w, const struct moq_setup *m)
{
	uint64_t prev = 0;
	size_t start = w->len;
	int n;

	if (m->num_options > MOQ_MAX_SETUP_OPTIONS) {
		wr_fail(w, MOQ_ERR_LIMIT);
		return;
	}
	for (size_t i = 0; i < m->num_options && !w->err; i++) {
		const struct moq_kvp *kv = &m->options[i];

		if (moq_kvp_is_bytes(kv->type) && kv->bytes.len && !kv->bytes.ptr) {
			wr_fail(w, MOQ_ERR_INVALID);
			return;
		}
		n = moq_kvp_encode(w->p + w->len, w->cap - w->len, &prev, kv);
		if (n < 0)
			wr_fail(w, n);
		else
			w->len += (size_t)n;
	}
	if (!w->err) {
		/* Refuse to send what a peer would reject (duplicate known
		 * options, undecodable tokens): decode our own output. */
		struct moq_setup chk;
		struct moq_rd r;

		memset(&chk, 0, sizeof(chk));
		rd_init(&r, w->p + start, w->p + start, w->len - start);
		if (ctrl_dec_setup(&r, &chk))
			wr_fail(w, MOQ_ERR_INVALID);
	}
}

/* ---- GOAWAY ------------------------------------------------------------------ */

int ctrl_dec_goaway(struct moq_rd *r, struct moq_goaway *m)
{
	int rc;

	if ((rc = rd_lenbytes(r, &m->new_session_uri, MOQ_MAX_SESSION_URI, MOQ_ERR_LIMIT,
			      "GOAWAY: new session URI longer than 8192 bytes (or truncated)")))
		return rc;
	if ((rc = rd_vi(r, &m->timeout, "GOAWAY: timeout truncated")))
		return rc;
	if (rd_left(r)) {
		m->has_request_id = true;
		return rd_vi(r, &m->request_id, "GOAWAY: request ID truncated");
	}
	return 0;
}

void ctrl_enc_goaway(struct moq_wr *w, const struct moq_goaway *m)
{
	wr_lenbytes(w, m->new_session_uri, MOQ_MAX_SESSION_URI);
	wr_vi(w, m->timeout);
	if (m->has_request_id)
		wr_vi(w, m->request_id);
}

/* ---- REQUEST_UPDATE, REQUEST_OK / PUBLISH_OK, REQUEST_ERROR ----------------- */

int ctrl_dec_request_update(struct moq_rd *r, struct moq_request_update *m)
{
	int rc;

	if ((rc = rd_vi(r, &m->request_id, "REQUEST_UPDATE: request ID truncated")))
		return rc;
	return rd_params(r, &m->params, MOQ_PCTX_REQUEST_UPDATE);
}

void ctrl_enc_request_update(struct moq_wr *w, const struct moq_request_update *m)
{
	wr_vi(w, m->request_id);
	wr_params(w, &m->params, MOQ_PCTX_REQUEST_UPDATE);
}

int ctrl_dec_request_ok(struct moq_rd *r, struct moq_request_ok *m, bool publish_ok)
{
	int rc;

	if ((rc = rd_params(r, &m->params, publish_ok ? MOQ_PCTX_PUBLISH_OK : MOQ_PCTX_REQUEST_OK)))
		return rc;
	if (publish_ok && rd_left(r))
		return rd_fail(r, MOQ_ERR_MALFORMED, "PUBLISH_OK: track properties must be empty",
			       rd_left(r));
	return rd_properties(r, &m->track_properties);
}

void ctrl_enc_request_ok(struct moq_wr *w, const struct moq_request_ok *m, bool publish_ok)
{
	wr_params(w, &m->params, publish_ok ? MOQ_PCTX_PUBLISH_OK : MOQ_PCTX_REQUEST_OK);
	if (publish_ok && m->track_properties.len)
		wr_fail(w, MOQ_ERR_INVALID);
	wr_properties(w, m->track_properties);
}

int ctrl_dec_request_error(struct moq_rd *r, struct moq_request_error *m)
{
	struct moq_redirect *rd = &m->redirect;
	int rc;

	if ((rc = rd_vi(r, &m->error_code, "REQUEST_ERROR: error code truncated")) ||
	    (rc = rd_vi(r, &m->retry_interval, "REQUEST_ERROR: retry interval truncated")) ||
	    (rc = rd_reason(r, &m->error_reason)))
		return rc;
	if (m->error_code != MOQ_REQERR_REDIRECT)
		return 0;
	if ((rc = rd_lenbytes(r, &rd->connect_uri, UINT64_MAX, MOQ_ERR_MALFORMED,
			      "REQUEST_ERROR: redirect connect URI truncated")) ||
	    (rc = rd_namespace(r, &rd->track_namespace)))
		return rc;
	return rd_track_name(r, &rd->track_name, &rd->track_namespace);
}

void ctrl_enc_request_error(struct moq_wr *w, const struct moq_request_error *m)
{
	const struct moq_redirect *rd = &m->redirect;

	wr_vi(w, m->error_code);
	wr_vi(w, m->retry_interval);
	wr_reason(w, m->error_reason);
	if (m->error_code != MOQ_REQERR_REDIRECT)
		return;
	wr_lenbytes(w, rd->connect_uri, UINT64_MAX);
	wr_namespace(w, &rd->track_namespace);
	wr_track_name(w, rd->track_name, &rd->track_namespace);
}

/* ---- framing and dispatch ------------------------------------------------------ */

int moq_ctrl_peek_header(uint64_t *type, size_t *payload_len, const uint8_t *in, size_t inlen)
{
	int n = moq_vi_decode(type, in, inlen);

	if (n < 0)
		return MOQ_ERR_NEED_MORE;
	if (!moq_ctrl_type_known(*type))
		return MOQ_ERR_UNKNOWN_TYPE;
	if (inlen - (size_t)n < 2)
		return MOQ_ERR_NEED_MORE;
	*payload_len = ((size_t)in[n] << 8) | in[n + 1];
	return n + 2;
}

static int dec_payload(struct moq_rd *r, struct moq_ctrl_msg *m)
{
	switch (m->type) {
	case MOQ_CTRL_SETUP:
		return ctrl_dec_setup(r, &m->setup);
	case MOQ_CTRL_GOAWAY:
		return ctrl_dec_goaway(r, &m->goaway);
	case MOQ_CTRL_SUBSCRIBE:
		return ctrl_dec_subscribe(r, &m->subscribe, MOQ_PCTX_SUBSCRIBE);
	case MOQ_CTRL_TRACK_STATUS:
		return ctrl_dec_subscribe(r, &m->track_status, MOQ_PCTX_TRACK_STATUS);
	case MOQ_CTRL_SUBSCRIBE_OK:
		return ctrl_dec_subscribe_ok(r, &m->subscribe_ok);
	case MOQ_CTRL_PUBLISH:
		return ctrl_dec_publish(r, &m->publish);
	case MOQ_CTRL_PUBLISH_OK:
		return ctrl_dec_request_ok(r, &m->publish_ok, true);
	case MOQ_CTRL_REQUEST_OK:
		return ctrl_dec_request_ok(r, &m->request_ok, false);
	case MOQ_CTRL_PUBLISH_DONE:
		return ctrl_dec_publish_done(r, &m->publish_done);
	case MOQ_CTRL_FETCH:
		return ctrl_dec_fetch(r, &m->fetch);
	case MOQ_CTRL_FETCH_OK:
		return ctrl_dec_fetch_ok(r, &m->fetch_ok);
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		return ctrl_dec_publish_namespace(r, &m->publish_namespace);
	case MOQ_CTRL_NAMESPACE:
		return ctrl_dec_namespace_msg(r, &m->namespace);
	case MOQ_CTRL_NAMESPACE_DONE:
		return ctrl_dec_namespace_msg(r, &m->namespace_done);
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
		return ctrl_dec_subscribe_namespace(r, &m->subscribe_namespace,
						    MOQ_PCTX_SUBSCRIBE_NAMESPACE);
	case MOQ_CTRL_SUBSCRIBE_TRACKS:
		return ctrl_dec_subscribe_namespace(r, &m->subscribe_tracks,
						    MOQ_PCTX_SUBSCRIBE_TRACKS);
	case MOQ_CTRL_PUBLISH_BLOCKED:
		return ctrl_dec_publish_blocked(r, &m->publish_blocked);
	case MOQ_CTRL_REQUEST_UPDATE:
		return ctrl_dec_request_update(r, &m->request_update);
	case MOQ_CTRL_REQUEST_ERROR:
		return ctrl_dec_request_error(r, &m->request_error);
	default:
		return rd_fail(r, MOQ_ERR_UNKNOWN_TYPE, "unknown message type", m->type);
	}
}

static void enc_payload(struct moq_wr *w, const struct moq_ctrl_msg *m)
{
	switch (m->type) {
	case MOQ_CTRL_SETUP:
		ctrl_enc_setup(w, &m->setup);
		break;
	case MOQ_CTRL_GOAWAY:
		ctrl_enc_goaway(w, &m->goaway);
		break;
	case MOQ_CTRL_SUBSCRIBE:
		ctrl_enc_subscribe(w, &m->subscribe, MOQ_PCTX_SUBSCRIBE);
		break;
	case MOQ_CTRL_TRACK_STATUS:
		ctrl_enc_subscribe(w, &m->track_status, MOQ_PCTX_TRACK_STATUS);
		break;
	case MOQ_CTRL_SUBSCRIBE_OK:
		ctrl_enc_subscribe_ok(w, &m->subscribe_ok);
		break;
	case MOQ_CTRL_PUBLISH:
		ctrl_enc_publish(w, &m->publish);
		break;
	case MOQ_CTRL_PUBLISH_OK:
		ctrl_enc_request_ok(w, &m->publish_ok, true);
		break;
	case MOQ_CTRL_REQUEST_OK:
		ctrl_enc_request_ok(w, &m->request_ok, false);
		break;
	case MOQ_CTRL_PUBLISH_DONE:
		ctrl_enc_publish_done(w, &m->publish_done);
		break;
	case MOQ_CTRL_FETCH:
		ctrl_enc_fetch(w, &m->fetch);
		break;
	case MOQ_CTRL_FETCH_OK:
		ctrl_enc_fetch_ok(w, &m->fetch_ok);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		ctrl_enc_publish_namespace(w, &m->publish_namespace);
		break;
	case MOQ_CTRL_NAMESPACE:
		ctrl_enc_namespace_msg(w, &m->namespace);
		break;
	case MOQ_CTRL_NAMESPACE_DONE:
		ctrl_enc_namespace_msg(w, &m->namespace_done);
		break;
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
		ctrl_enc_subscribe_namespace(w, &m->subscribe_namespace,
					     MOQ_PCTX_SUBSCRIBE_NAMESPACE);
		break;
	case MOQ_CTRL_SUBSCRIBE_TRACKS:
		ctrl_enc_subscribe_namespace(w, &m->subscribe_tracks, MOQ_PCTX_SUBSCRIBE_TRACKS);
		break;
	case MOQ_CTRL_PUBLISH_BLOCKED:
		ctrl_enc_publish_blocked(w, &m->publish_blocked);
		break;
	case MOQ_CTRL_REQUEST_UPDATE:
		ctrl_enc_request_update(w, &m->request_update);
		break;
	case MOQ_CTRL_REQUEST_ERROR:
		ctrl_enc_request_error(w, &m->request_error);
		break;
	default:
		wr_fail(w, MOQ_ERR_UNKNOWN_TYPE);
	}
}

int moq_ctrl_decode_ex(struct moq_ctrl_msg *m, const uint8_t *in, size_t inlen,
		       struct moq_ctrl_err *err)
{
	struct moq_rd r;
	uint64_t type;
	size_t plen;
	int hdr, rc;

	hdr = moq_ctrl_peek_header(&type, &plen, in, inlen);
	if (hdr < 0) {
		if (err) {
			err->code = hdr;
			err->what =
			    hdr == MOQ_ERR_NEED_MORE ? "frame incomplete" : "unknown message type";
			err->offset = 0;
			err->value = hdr == MOQ_ERR_UNKNOWN_TYPE ? type : 0;
		}
		return hdr;
	}
	if (inlen - (size_t)hdr < plen) {
		if (err) {
			err->code = MOQ_ERR_NEED_MORE;
			err->what = "frame incomplete: payload shorter than Message Length";
			err->offset = (size_t)hdr;
			err->value = plen;
		}
		return MOQ_ERR_NEED_MORE;
	}
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->length = plen;
	rd_init(&r, in, in + hdr, plen);
	rc = dec_payload(&r, m);
	if (!rc)
		rc = rd_end(&r);
	if (rc) {
		if (err) {
			err->code = rc;
			err->what = r.what ? r.what : "malformed";
			err->offset = r.err_off;
			err->value = r.val;
		}
		return rc;
	}
	return hdr + (int)plen;
}

int moq_ctrl_decode(struct moq_ctrl_msg *m, const uint8_t *in, size_t inlen)
{
	return moq_ctrl_decode_ex(m, in, inlen, NULL);
}

int moq_ctrl_encode(uint8_t *out, size_t outlen, const struct moq_ctrl_msg *m)
{
	size_t tlen = moq_vi_len(m->type), hdr = tlen + 2, avail;
	struct moq_wr w;
	int rc;

	if (!moq_ctrl_type_known(m->type))
		return MOQ_ERR_UNKNOWN_TYPE;
	if (outlen < hdr)
		return MOQ_ERR_BUFFER;
	/* The payload can never exceed the 16-bit Message Length: running out
	 * of room at that cap is the draft's limit, not a short buffer. */
	avail = outlen - hdr;
	wr_init(&w, out + hdr, avail < MOQ_MAX_CONTROL_PAYLOAD ? avail : MOQ_MAX_CONTROL_PAYLOAD);
	enc_payload(&w, m);
	if ((rc = wr_result(&w)) < 0)
		return rc == MOQ_ERR_BUFFER && avail > MOQ_MAX_CONTROL_PAYLOAD ? MOQ_ERR_LIMIT : rc;
	moq_vi_encode(out, tlen, m->type);
	out[tlen] = (uint8_t)(w.len >> 8);
	out[tlen + 1] = (uint8_t)w.len;
	return (int)(hdr + w.len);
}
