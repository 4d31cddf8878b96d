/* Control messages (moq/wire/control.h) <-> JSON. Field names are the draft's in
 * snake_case, in the draft's order; see docs/moq-inspect.md. */
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "inspect.h"
#include "moq_codes.h"
#include "moq_err.h"
#include "names.h"
#include "params.h"
#include "varint.h"

/* Both big (SETUP keeps 64 options, every parameter block 32 parameters). */
static struct moq_ctrl_msg g_msg;
static uint8_t g_frame[MOQ_CTRL_MAX_FRAME];

static const char *fetch_type_name(uint64_t t)
{
	switch (t) {
	case MOQ_FETCH_STANDALONE:
		return "STANDALONE";
	case MOQ_FETCH_RELATIVE_JOINING:
		return "RELATIVE_JOINING";
	case MOQ_FETCH_ABSOLUTE_JOINING:
		return "ABSOLUTE_JOINING";
	}
	return NULL;
}

/* "full_track_name": the draft's recommended text form of namespace + name
 * (informational on decode; an alternative to the two fields on encode). */
static void write_full_name(struct json_writer *w, const struct moq_namespace *ns,
			    const struct moq_bytes *name)
{
	static char buf[3 * MOQ_MAX_FULL_TRACK_NAME + 3 * MOQ_MAX_NAMESPACE_FIELDS + 8];
	int n = moq_name_render(buf, sizeof(buf), ns, name);

	if (n >= 0) {
		json_key(w, "full_track_name");
		json_string(w, buf, (size_t)n);
	}
}

/* ---- decode: parameters ------------------------------------------------------- */

static void write_token(struct json_writer *w, const struct moq_auth_token *t)
{
	json_begin_object(w);
	jw_code(w, "alias_type", t->alias_type, "alias_type_name",
		moq_alias_type_name(t->alias_type));
	switch (t->alias_type) {
	case MOQ_ALIAS_DELETE:
	case MOQ_ALIAS_USE_ALIAS:
		json_kv_u64(w, "token_alias", t->token_alias);
		break;
	case MOQ_ALIAS_REGISTER:
		json_kv_u64(w, "token_alias", t->token_alias);
		/* fall through */
	case MOQ_ALIAS_USE_VALUE:
		json_kv_u64(w, "token_type", t->token_type);
		json_kv_bytes(w, "token_value", t->token_value.ptr, t->token_value.len);
		break;
	}
	json_end_object(w);
}

static void write_filter(struct json_writer *w, const struct moq_subscription_filter *f)
{
	json_begin_object(w);
	jw_code(w, "filter_type", f->filter_type, "filter_type_name",
		moq_filter_type_name(f->filter_type));
	if (f->filter_type == MOQ_FILTER_ABSOLUTE_START ||
	    f->filter_type == MOQ_FILTER_ABSOLUTE_RANGE)
		jw_location(w, "start_location", f->start_location);
	if (f->filter_type == MOQ_FILTER_ABSOLUTE_RANGE)
		json_kv_u64(w, "end_group_delta", f->end_group_delta);
	json_end_object(w);
}

static void write_params(struct json_writer *w, const struct moq_params *p)
{
	size_t i;

	json_key(w, "parameters");
	json_begin_array(w);
	for (i = 0; i < p->count; i++) {
		const struct moq_param *x = &p->param[i];
		const char *name = moq_param_type_name(x->type);

		json_begin_object(w);
		if (name)
			json_kv_cstring(w, "name", name);
		json_kv_u64(w, "type", x->type);
		json_key(w, "value");
		if (x->type == MOQ_PARAM_AUTHORIZATION_TOKEN) {
			write_token(w, &x->token);
		} else if (x->type == MOQ_PARAM_SUBSCRIPTION_FILTER) {
			write_filter(w, &x->filter);
		} else if (x->type == MOQ_PARAM_TRACK_NAMESPACE_PREFIX) {
			const struct moq_namespace *ns = &p->track_namespace_prefix;
			json_begin_array(w);
			for (size_t k = 0; k < ns->nfields; k++)
				json_bytes(w, ns->fields[k].ptr, ns->fields[k].len);
			json_end_array(w);
		} else {
			switch (x->kind) {
			case MOQ_PARAM_KIND_LOCATION:
				json_begin_object(w);
				json_kv_u64(w, "group", x->location.group);
				json_kv_u64(w, "object", x->location.object);
				json_end_object(w);
				break;
			case MOQ_PARAM_KIND_LENGTH_PREFIXED:
				json_bytes(w, x->bytes.ptr, x->bytes.len);
				break;
			default:
				json_u64(w, x->value);
				break;
			}
		}
		json_end_object(w);
	}
	json_end_array(w);
}

/* ---- decode: messages ---------------------------------------------------------- */

/* Decode a Token and check it re-encodes to the same bytes (else the
 * option is shown as raw bytes, which round-trip exactly). */
static bool token_exact(struct moq_auth_token *t, const uint8_t *p, size_t len)
{
	uint8_t buf[64 + 1024];
	int n;

	if (moq_auth_token_decode(t, p, len) != (int)len || len > sizeof(buf))
		return false;
	n = moq_auth_token_encode(buf, sizeof(buf), t);
	return n == (int)len && !memcmp(buf, p, len);
}

static void write_setup(struct json_writer *w, const struct moq_setup *s)
{
	size_t i;

	json_key(w, "setup_options");
	json_begin_array(w);
	for (i = 0; i < s->num_options; i++) {
		const struct moq_kvp *kv = &s->options[i];
		const char *name = moq_setup_option_name(kv->type);
		struct moq_auth_token tok;

		json_begin_object(w);
		if (name)
			json_kv_cstring(w, "name", name);
		json_kv_u64(w, "type", kv->type);
		json_key(w, "value");
		if (!moq_kvp_is_bytes(kv->type))
			json_u64(w, kv->value);
		else if (kv->type == MOQ_SETUP_AUTHORIZATION_TOKEN &&
			 token_exact(&tok, kv->bytes.ptr, kv->bytes.len))
			write_token(w, &tok);
		else
			json_bytes(w, kv->bytes.ptr, kv->bytes.len);
		json_end_object(w);
	}
	json_end_array(w);
}

static void write_fields(struct json_writer *w, const struct moq_ctrl_msg *m)
{
	switch (m->type) {
	case MOQ_CTRL_SETUP:
		write_setup(w, &m->setup);
		break;
	case MOQ_CTRL_GOAWAY:
		json_kv_bytes(w, "new_session_uri", m->goaway.new_session_uri.ptr,
			      m->goaway.new_session_uri.len);
		json_kv_u64(w, "timeout", m->goaway.timeout);
		if (m->goaway.has_request_id)
			json_kv_u64(w, "request_id", m->goaway.request_id);
		break;
	case MOQ_CTRL_SUBSCRIBE:
	case MOQ_CTRL_TRACK_STATUS: {
		const struct moq_subscribe *s =
		    m->type == MOQ_CTRL_SUBSCRIBE ? &m->subscribe : &m->track_status;
		json_kv_u64(w, "request_id", s->request_id);
		jw_namespace(w, "track_namespace", &s->track_namespace);
		json_kv_bytes(w, "track_name", s->track_name.ptr, s->track_name.len);
		write_full_name(w, &s->track_namespace, &s->track_name);
		write_params(w, &s->params);
		break;
	}
	case MOQ_CTRL_SUBSCRIBE_OK:
		json_kv_u64(w, "track_alias", m->subscribe_ok.track_alias);
		write_params(w, &m->subscribe_ok.params);
		props_write(w, "track_properties", m->subscribe_ok.track_properties.ptr,
			    m->subscribe_ok.track_properties.len);
		break;
	case MOQ_CTRL_REQUEST_UPDATE:
		json_kv_u64(w, "request_id", m->request_update.request_id);
		write_params(w, &m->request_update.params);
		break;
	case MOQ_CTRL_PUBLISH:
		json_kv_u64(w, "request_id", m->publish.request_id);
		jw_namespace(w, "track_namespace", &m->publish.track_namespace);
		json_kv_bytes(w, "track_name", m->publish.track_name.ptr,
			      m->publish.track_name.len);
		write_full_name(w, &m->publish.track_namespace, &m->publish.track_name);
		json_kv_u64(w, "track_alias", m->publish.track_alias);
		write_params(w, &m->publish.params);
		props_write(w, "track_properties", m->publish.track_properties.ptr,
			    m->publish.track_properties.len);
		break;
	case MOQ_CTRL_PUBLISH_OK:
	case MOQ_CTRL_REQUEST_OK: {
		const struct moq_request_ok *r =
		    m->type == MOQ_CTRL_PUBLISH_OK ? &m->publish_ok : &m->request_ok;
		write_params(w, &r->params);
		props_write(w, "track_properties", r->track_properties.ptr,
			    r->track_properties.len);
		break;
	}
	case MOQ_CTRL_PUBLISH_DONE:
		jw_code(w, "status_code", m->publish_done.status_code, "status_code_name",
			moq_publish_done_name(m->publish_done.status_code));
		json_kv_u64(w, "stream_count", m->publish_done.stream_count);
		json_kv_bytes(w, "error_reason", m->publish_done.error_reason.ptr,
			      m->publish_done.error_reason.len);
		break;
	case MOQ_CTRL_FETCH: {
		const struct moq_fetch *f = &m->fetch;
		json_kv_u64(w, "request_id", f->request_id);
		jw_code(w, "fetch_type", f->fetch_type, "fetch_type_name",
			fetch_type_name(f->fetch_type));
		if (f->fetch_type == MOQ_FETCH_STANDALONE) {
			jw_namespace(w, "track_namespace", &f->standalone.track_namespace);
			json_kv_bytes(w, "track_name", f->standalone.track_name.ptr,
				      f->standalone.track_name.len);
			write_full_name(w, &f->standalone.track_namespace,
					&f->standalone.track_name);
			jw_location(w, "start_location", f->standalone.start_location);
			jw_location(w, "end_location", f->standalone.end_location);
		} else {
			json_kv_u64(w, "joining_request_id", f->joining.joining_request_id);
			json_kv_u64(w, "joining_start", f->joining.joining_start);
		}
		write_params(w, &f->params);
		break;
	}
	case MOQ_CTRL_FETCH_OK:
		json_kv_u64(w, "end_of_track", m->fetch_ok.end_of_track);
		jw_location(w, "end_location", m->fetch_ok.end_location);
		write_params(w, &m->fetch_ok.params);
		props_write(w, "track_properties", m->fetch_ok.track_properties.ptr,
			    m->fetch_ok.track_properties.len);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		json_kv_u64(w, "request_id", m->publish_namespace.request_id);
		jw_namespace(w, "track_namespace", &m->publish_namespace.track_namespace);
		write_params(w, &m->publish_namespace.params);
		break;
	case MOQ_CTRL_NAMESPACE:
		jw_namespace(w, "track_namespace_suffix", &m->namespace.track_namespace_suffix);
		break;
	case MOQ_CTRL_NAMESPACE_DONE:
		jw_namespace(w, "track_namespace_suffix",
			     &m->namespace_done.track_namespace_suffix);
		break;
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
	case MOQ_CTRL_SUBSCRIBE_TRACKS: {
		const struct moq_subscribe_namespace *s = m->type == MOQ_CTRL_SUBSCRIBE_NAMESPACE
							      ? &m->subscribe_namespace
							      : &m->subscribe_tracks;
		json_kv_u64(w, "request_id", s->request_id);
		jw_namespace(w, "track_namespace_prefix", &s->track_namespace_prefix);
		write_params(w, &s->params);
		break;
	}
	case MOQ_CTRL_PUBLISH_BLOCKED:
		jw_namespace(w, "track_namespace_suffix",
			     &m->publish_blocked.track_namespace_suffix);
		json_kv_bytes(w, "track_name", m->publish_blocked.track_name.ptr,
			      m->publish_blocked.track_name.len);
		break;
	case MOQ_CTRL_REQUEST_ERROR: {
		const struct moq_request_error *r = &m->request_error;
		jw_code(w, "error_code", r->error_code, "error_code_name",
			moq_request_error_name(r->error_code));
		json_kv_u64(w, "retry_interval", r->retry_interval);
		json_kv_bytes(w, "error_reason", r->error_reason.ptr, r->error_reason.len);
		if (r->error_code == MOQ_REQERR_REDIRECT) {
			json_key(w, "redirect");
			json_begin_object(w);
			json_kv_bytes(w, "connect_uri", r->redirect.connect_uri.ptr,
				      r->redirect.connect_uri.len);
			jw_namespace(w, "track_namespace", &r->redirect.track_namespace);
			json_kv_bytes(w, "track_name", r->redirect.track_name.ptr,
				      r->redirect.track_name.len);
			json_end_object(w);
		}
		break;
	}
	}
}

static void describe_need_more(const uint8_t *in, size_t avail, size_t at, struct insp_err *e)
{
	uint64_t type;
	size_t plen;
	int h = moq_ctrl_peek_header(&type, &plen, in, avail);
	const char *name;

	if (h < 0) {
		insp_fail(e, "truncated", at,
			  "input ends inside the control message header (Message Type, 16-bit "
			  "Message Length) at offset %zu: %zu byte(s) present",
			  at, avail);
		return;
	}
	name = moq_ctrl_type_name(type);
	insp_fail(e, "truncated", at,
		  "input ends inside %s at offset %zu: Message Length says %zu payload bytes, only "
		  "%zu present",
		  name ? name : "a control message", at, plen, avail - (size_t)h);
}

int control_decode_all(const struct insp_opts *o, const uint8_t *in, size_t len, size_t base,
		       struct json_writer *w, struct insp_err *e)
{
	size_t off = 0;

	(void)o;
	while (off < len) {
		struct moq_ctrl_msg *m = &g_msg;
		struct moq_ctrl_err ce = {0};
		int n;
		int enc;

		memset(m, 0, sizeof(*m));
		n = moq_ctrl_decode_ex(m, in + off, len - off, &ce);
		if (n == MOQ_ERR_NEED_MORE) {
			describe_need_more(in + off, len - off, base + off, e);
			return -1;
		}
		if (n < 0) {
			uint64_t type;
			size_t plen;
			const char *name = NULL;

			if (moq_ctrl_peek_header(&type, &plen, in + off, len - off) >= 0)
				name = moq_ctrl_type_name(type);
			if (n == MOQ_ERR_UNKNOWN_TYPE) {
				uint64_t t = 0;
				moq_vi_decode(&t, in + off, len - off);
				insp_fail(e, "malformed", base + off,
					  "unknown or reserved Message Type 0x%llx at offset %zu "
					  "(draft-18 types: SETUP 0x2f00, GOAWAY 0x10, SUBSCRIBE "
					  "0x3, ...)",
					  (unsigned long long)t, base + off);
				return -1;
			}
			char val[40] = "";
			if (ce.value)
				snprintf(val, sizeof(val), " (value %llu)",
					 (unsigned long long)ce.value);
			insp_fail(e, "malformed", base + off + ce.offset,
				  "%s at offset %zu: %s%s (%s%s)", name ? name : "control message",
				  base + off, ce.what ? ce.what : "does not decode", val,
				  moq_strerror(n),
				  n == MOQ_ERR_KVP_FORMAT ? ", KEY_VALUE_FORMATTING_ERROR"
							  : ", PROTOCOL_VIOLATION");
			return -1;
		}
		json_begin_object(w);
		json_kv_cstring(w, "type", moq_ctrl_type_name(m->type));
		json_kv_u64(w, "offset", base + off);
		json_kv_u64(w, "length", m->length);
		props_take_noncanonical();
		write_fields(w, m);
		enc = moq_ctrl_encode(g_frame, sizeof(g_frame), m);
		if (enc != n || memcmp(g_frame, in + off, (size_t)n) || props_take_noncanonical())
			json_kv_bool(w, "non_canonical", true);
		json_end_object(w);
		insp_emit(w);
		off += (size_t)n;
	}
	return 0;
}

/* ---- encode ------------------------------------------------------------------------ */

/* track_namespace + track_name, or full_track_name, or all three (then
 * they must agree). */
static int read_full_name(struct jctx *c, const struct json_value *v, struct moq_namespace *ns,
			  struct moq_bytes *name)
{
	const struct json_value *f = json_get(v, "full_track_name");
	bool two = json_get(v, "track_namespace") || json_get(v, "track_name");
	struct moq_namespace pns;
	struct moq_bytes pname;
	bool has_name;
	uint8_t *buf;
	size_t i;
	int n;

	if (!f || two) {
		if (jf_namespace(c, v, "track_namespace", true, ns) < 0 ||
		    jf_bytes(c, v, "track_name", true, name) < 0)
			return -1;
		if (!f)
			return 0;
	}
	if (f->type != JSON_STRING)
		return jerr(
		    c, f, "full_track_name must be a string like \"example.2enet-team2--report\"");
	buf = jalloc(c, f->str.len + 1);
	if (!buf)
		return jerr(c, f, "out of memory");
	n = moq_name_parse(&pns, &pname, &has_name, buf, f->str.len + 1, f->str.ptr, f->str.len);
	if (n < 0 || !has_name)
		return jerr(c, f,
			    "full_track_name \"%.60s\" is not in the draft's form: fields joined "
			    "by '-', \"--\" before the track name, bytes other than a-z A-Z 0-9 _ "
			    "as '.' and two lower-case hex digits",
			    f->str.ptr);
	if (!two) {
		*ns = pns;
		*name = pname;
		return 0;
	}
	if (pns.nfields != ns->nfields || pname.len != name->len ||
	    (name->len && memcmp(pname.ptr, name->ptr, name->len)))
		goto differ;
	for (i = 0; i < ns->nfields; i++)
		if (pns.fields[i].len != ns->fields[i].len ||
		    memcmp(pns.fields[i].ptr, ns->fields[i].ptr, ns->fields[i].len))
			goto differ;
	return 0;
differ:
	return jerr(
	    c, f,
	    "full_track_name disagrees with track_namespace/track_name (give one or the other)");
}

static int read_token(struct jctx *c, const struct json_value *v, struct moq_auth_token *t)
{
	static const char *const keys[] = {"alias_type", "alias_type_name", "token_alias",
					   "token_type", "token_value",	    NULL};
	bool alias, value;

	memset(t, 0, sizeof(*t));
	if (v->type != JSON_OBJECT)
		return jerr(c, v, "an AUTHORIZATION_TOKEN value is {\"alias_type\":N,...}, got %s",
			    json_type_name(v->type));
	if (jf_only(c, v, keys) < 0 || jf_code(c, v, "alias_type", "alias_type_name",
					       moq_alias_type_name, 8, true, &t->alias_type) < 0)
		return -1;
	alias = t->alias_type != MOQ_ALIAS_USE_VALUE;
	value = t->alias_type == MOQ_ALIAS_REGISTER || t->alias_type == MOQ_ALIAS_USE_VALUE;
	if (t->alias_type > MOQ_ALIAS_USE_VALUE)
		return jerr(c, json_get(v, "alias_type"),
			    "alias_type %llu is not DELETE (0), REGISTER (1), USE_ALIAS (2) or "
			    "USE_VALUE (3)",
			    (unsigned long long)t->alias_type);
	if (jf_u64(c, v, "token_alias", alias, &t->token_alias) < 0 ||
	    jf_u64(c, v, "token_type", value, &t->token_type) < 0 ||
	    jf_bytes(c, v, "token_value", value, &t->token_value) < 0)
		return -1;
	if (!alias && json_get(v, "token_alias"))
		return jerr(c, json_get(v, "token_alias"), "USE_VALUE tokens carry no token_alias");
	if (!value && (json_get(v, "token_type") || json_get(v, "token_value")))
		return jerr(c, v, "DELETE and USE_ALIAS tokens carry no token_type/token_value");
	return 1;
}

static int read_filter(struct jctx *c, const struct json_value *v,
		       struct moq_subscription_filter *f)
{
	static const char *const keys[] = {"filter_type", "filter_type_name", "start_location",
					   "end_group_delta", NULL};
	bool start, end;

	memset(f, 0, sizeof(*f));
	if (v->type != JSON_OBJECT)
		return jerr(c, v, "a SUBSCRIPTION_FILTER value is {\"filter_type\":N,...}, got %s",
			    json_type_name(v->type));
	if (jf_only(c, v, keys) < 0 || jf_code(c, v, "filter_type", "filter_type_name",
					       moq_filter_type_name, 8, true, &f->filter_type) < 0)
		return -1;
	if (f->filter_type < MOQ_FILTER_NEXT_GROUP_START ||
	    f->filter_type > MOQ_FILTER_ABSOLUTE_RANGE)
		return jerr(c, json_get(v, "filter_type"),
			    "filter_type %llu is not 1..4 (NEXT_GROUP_START, LARGEST_OBJECT, "
			    "ABSOLUTE_START, ABSOLUTE_RANGE)",
			    (unsigned long long)f->filter_type);
	start = f->filter_type >= MOQ_FILTER_ABSOLUTE_START;
	end = f->filter_type == MOQ_FILTER_ABSOLUTE_RANGE;
	if (jf_location(c, v, "start_location", start, &f->start_location) < 0 ||
	    jf_u64(c, v, "end_group_delta", end, &f->end_group_delta) < 0)
		return -1;
	if (!start && json_get(v, "start_location"))
		return jerr(c, json_get(v, "start_location"),
			    "this filter type has no start_location");
	if (!end && json_get(v, "end_group_delta"))
		return jerr(c, json_get(v, "end_group_delta"),
			    "only ABSOLUTE_RANGE has end_group_delta");
	return 1;
}

static int param_add_err(struct jctx *c, const struct json_value *at, int rc, uint64_t type)
{
	const char *name = moq_param_type_name(type);
	switch (rc) {
	case MOQ_ERR_LIMIT:
		return jerr(c, at, "more than %d parameters", MOQ_MAX_PARAMS);
	case MOQ_ERR_DUPLICATE:
		return jerr(c, at, "%s may appear only once", name);
	default:
		return jerr(c, at, "%s: invalid value (%s)", name, moq_strerror(rc));
	}
}

static int read_params(struct jctx *c, const struct json_value *v, uint64_t msg_type,
		       struct moq_params *p)
{
	static const char *const keys[] = {"name", "type", "value", NULL};
	const struct json_value *arr = json_get(v, "parameters");
	int ctx = moq_ctrl_param_ctx(msg_type);
	size_t i;

	moq_params_init(p);
	if (!arr)
		return 0;
	if (arr->type != JSON_ARRAY)
		return jerr(c, arr, "parameters must be an array, got %s",
			    json_type_name(arr->type));
	for (i = 0; i < arr->arr.n; i++) {
		const struct json_value *it = arr->arr.items[i], *val;
		uint64_t type, u;
		int rc;

		if (it->type != JSON_OBJECT)
			return jerr(c, it,
				    "a parameter is {\"name\":...,\"type\":N,\"value\":V}, got %s",
				    json_type_name(it->type));
		if (jf_only(c, it, keys) < 0 ||
		    jf_code(c, it, "type", "name", moq_param_type_name, 0x100, true, &type) < 0)
			return -1;
		if (moq_param_kind_of(type) == MOQ_PARAM_KIND_UNKNOWN)
			return jerr(c, it,
				    "unknown parameter type 0x%llx (draft-18 defines no such "
				    "Message Parameter)",
				    (unsigned long long)type);
		if (ctx >= 0 && !moq_param_allowed(type, (enum moq_param_ctx)ctx))
			return jerr(c, it, "%s may not appear in this message",
				    moq_param_type_name(type));
		val = json_get(it, "value");
		if (!val)
			return jerr(c, it, "parameter %s has no \"value\"",
				    moq_param_type_name(type));
		if (type == MOQ_PARAM_AUTHORIZATION_TOKEN) {
			struct moq_auth_token t;
			if (read_token(c, val, &t) < 0)
				return -1;
			rc = moq_params_add_token(p, &t);
		} else if (type == MOQ_PARAM_SUBSCRIPTION_FILTER) {
			struct moq_subscription_filter f;
			if (read_filter(c, val, &f) < 0)
				return -1;
			rc = moq_params_add_filter(p, &f);
		} else if (type == MOQ_PARAM_TRACK_NAMESPACE_PREFIX) {
			struct moq_namespace ns;
			if (jv_namespace(c, val, "TRACK_NAMESPACE_PREFIX", &ns) < 0)
				return -1;
			rc = moq_params_add_namespace_prefix(p, &ns);
		} else if (moq_param_kind_of(type) == MOQ_PARAM_KIND_LOCATION) {
			struct moq_location loc;
			static const char *const lk[] = {"group", "object", NULL};
			if (val->type != JSON_OBJECT)
				return jerr(c, val, "%s is a Location {\"group\":G,\"object\":O}",
					    moq_param_type_name(type));
			if (jf_only(c, val, lk) < 0 ||
			    jf_u64(c, val, "group", true, &loc.group) < 0 ||
			    jf_u64(c, val, "object", true, &loc.object) < 0)
				return -1;
			rc = moq_params_add_location(p, type, loc);
		} else {
			if (jv_u64(c, val, moq_param_type_name(type), &u) < 0)
				return -1;
			if (moq_param_kind_of(type) == MOQ_PARAM_KIND_UINT8 && u > 255)
				return jerr(c, val, "%s is a uint8: %llu does not fit",
					    moq_param_type_name(type), (unsigned long long)u);
			rc = moq_params_add_u64(p, type, u);
		}
		if (rc < 0)
			return param_add_err(c, it, rc, type);
	}
	return 0;
}

static int read_props(struct jctx *c, const struct json_value *v, const char *key,
		      struct moq_bytes *out)
{
	const struct json_value *x = json_get(v, key);

	out->ptr = NULL;
	out->len = 0;
	if (!x)
		return 0;
	return props_read(c, x, out) < 0 ? -1 : 0;
}

static int read_setup(struct jctx *c, const struct json_value *v, struct moq_setup *s)
{
	static const char *const keys[] = {"name", "type", "value", NULL};
	const struct json_value *arr = json_get(v, "setup_options");
	size_t i;

	s->num_options = 0;
	if (!arr)
		return 0;
	if (arr->type != JSON_ARRAY)
		return jerr(c, arr, "setup_options must be an array, got %s",
			    json_type_name(arr->type));
	if (arr->arr.n > MOQ_MAX_SETUP_OPTIONS)
		return jerr(c, arr, "more than %d setup options", MOQ_MAX_SETUP_OPTIONS);
	for (i = 0; i < arr->arr.n; i++) {
		const struct json_value *it = arr->arr.items[i], *val;
		struct moq_kvp *kv = &s->options[i];

		memset(kv, 0, sizeof(*kv));
		if (it->type != JSON_OBJECT)
			return jerr(
			    c, it,
			    "a setup option is {\"name\":...,\"type\":N,\"value\":V}, got %s",
			    json_type_name(it->type));
		if (jf_only(c, it, keys) < 0 ||
		    jf_code(c, it, "type", "name", moq_setup_option_name, 0x100, true, &kv->type) <
			0)
			return -1;
		if (i > 0 && kv->type < s->options[i - 1].type)
			return jerr(
			    c, it,
			    "setup options must be in ascending type order (%llu after %llu)",
			    (unsigned long long)kv->type,
			    (unsigned long long)s->options[i - 1].type);
		val = json_get(it, "value");
		if (!val)
			return jerr(c, it, "setup option %llu has no \"value\"",
				    (unsigned long long)kv->type);
		if (!moq_kvp_is_bytes(kv->type)) {
			if (jv_u64(c, val, "value of an even-type option", &kv->value) < 0)
				return -1;
		} else if (kv->type == MOQ_SETUP_AUTHORIZATION_TOKEN && val->type == JSON_OBJECT &&
			   !json_get(val, "hex")) {
			struct moq_auth_token t;
			uint8_t *buf;
			int n;

			if (read_token(c, val, &t) < 0)
				return -1;
			buf = jalloc(c, t.token_value.len + 40);
			if (!buf)
				return jerr(c, val, "out of memory");
			n = moq_auth_token_encode(buf, t.token_value.len + 40, &t);
			if (n < 0)
				return jerr(c, val, "cannot encode the token: %s", moq_strerror(n));
			kv->bytes.ptr = buf;
			kv->bytes.len = (size_t)n;
		} else if (jv_bytes(c, val, "value of an odd-type option", &kv->bytes) < 0) {
			return -1;
		}
		s->num_options++;
	}
	return 0;
}

static int read_fetch(struct jctx *c, const struct json_value *v, struct moq_fetch *f)
{
	if (jf_u64(c, v, "request_id", true, &f->request_id) < 0 ||
	    jf_code(c, v, "fetch_type", "fetch_type_name", fetch_type_name, 8, true,
		    &f->fetch_type) < 0)
		return -1;
	if (f->fetch_type == MOQ_FETCH_STANDALONE) {
		if (read_full_name(c, v, &f->standalone.track_namespace,
				   &f->standalone.track_name) < 0 ||
		    jf_location(c, v, "start_location", true, &f->standalone.start_location) < 0 ||
		    jf_location(c, v, "end_location", true, &f->standalone.end_location) < 0)
			return -1;
		if (json_get(v, "joining_request_id") || json_get(v, "joining_start"))
			return jerr(c, v,
				    "a STANDALONE fetch has no joining_request_id/joining_start");
	} else if (f->fetch_type == MOQ_FETCH_RELATIVE_JOINING ||
		   f->fetch_type == MOQ_FETCH_ABSOLUTE_JOINING) {
		if (jf_u64(c, v, "joining_request_id", true, &f->joining.joining_request_id) < 0 ||
		    jf_u64(c, v, "joining_start", true, &f->joining.joining_start) < 0)
			return -1;
		if (json_get(v, "track_namespace") || json_get(v, "track_name") ||
		    json_get(v, "full_track_name") || json_get(v, "start_location") ||
		    json_get(v, "end_location"))
			return jerr(c, v,
				    "a joining fetch has no "
				    "track_namespace/track_name/start_location/end_location");
	} else {
		return jerr(c, json_get(v, "fetch_type"),
			    "fetch_type %llu is not 1 (STANDALONE), 2 (RELATIVE_JOINING) or 3 "
			    "(ABSOLUTE_JOINING)",
			    (unsigned long long)f->fetch_type);
	}
	return 0;
}

static int read_request_error(struct jctx *c, const struct json_value *v,
			      struct moq_request_error *r)
{
	static const char *const rk[] = {"connect_uri", "track_namespace", "track_name", NULL};
	const struct json_value *rd;

	if (jf_code(c, v, "error_code", "error_code_name", moq_request_error_name, 0x100, true,
		    &r->error_code) < 0 ||
	    jf_u64(c, v, "retry_interval", true, &r->retry_interval) < 0 ||
	    jf_bytes(c, v, "error_reason", false, &r->error_reason) < 0)
		return -1;
	rd = json_get(v, "redirect");
	if (r->error_code != MOQ_REQERR_REDIRECT) {
		if (rd)
			return jerr(c, rd,
				    "a redirect is carried only with error_code REDIRECT (0x34)");
		return 0;
	}
	if (!rd)
		return jerr(c, v, "error_code REDIRECT needs a \"redirect\" object");
	if (rd->type != JSON_OBJECT)
		return jerr(c, rd,
			    "redirect is "
			    "{\"connect_uri\":...,\"track_namespace\":[...],\"track_name\":...}");
	if (jf_only(c, rd, rk) < 0 ||
	    jf_bytes(c, rd, "connect_uri", false, &r->redirect.connect_uri) < 0 ||
	    jf_namespace(c, rd, "track_namespace", false, &r->redirect.track_namespace) < 0 ||
	    jf_bytes(c, rd, "track_name", false, &r->redirect.track_name) < 0)
		return -1;
	return 0;
}

/* Keys each message may carry besides the common ones. */
static const char *const *msg_keys(uint64_t type)
{
	static const char *const setup[] = {"setup_options", NULL};
	static const char *const goaway[] = {"new_session_uri", "timeout", "request_id", NULL};
	static const char *const subscribe[] = {"request_id",	   "track_namespace", "track_name",
						"full_track_name", "parameters",      NULL};
	static const char *const subscribe_ok[] = {"track_alias", "parameters", "track_properties",
						   NULL};
	static const char *const request_update[] = {"request_id", "parameters", NULL};
	static const char *const publish[] = {
	    "request_id",  "track_namespace", "track_name",	  "full_track_name",
	    "track_alias", "parameters",      "track_properties", NULL};
	static const char *const request_ok[] = {"parameters", "track_properties", NULL};
	static const char *const publish_done[] = {"status_code", "status_code_name",
						   "stream_count", "error_reason", NULL};
	static const char *const fetch[] = {"request_id",      "fetch_type",   "fetch_type_name",
					    "track_namespace", "track_name",   "full_track_name",
					    "start_location",  "end_location", "joining_request_id",
					    "joining_start",   "parameters",   NULL};
	static const char *const fetch_ok[] = {"end_of_track", "end_location", "parameters",
					       "track_properties", NULL};
	static const char *const publish_namespace[] = {"request_id", "track_namespace",
							"parameters", NULL};
	static const char *const ns_suffix[] = {"track_namespace_suffix", NULL};
	static const char *const subscribe_ns[] = {"request_id", "track_namespace_prefix",
						   "parameters", NULL};
	static const char *const publish_blocked[] = {"track_namespace_suffix", "track_name", NULL};
	static const char *const request_error[] = {
	    "error_code", "error_code_name", "retry_interval", "error_reason", "redirect", NULL};
	static const char *const none[] = {NULL};

	switch (type) {
	case MOQ_CTRL_SETUP:
		return setup;
	case MOQ_CTRL_GOAWAY:
		return goaway;
	case MOQ_CTRL_SUBSCRIBE:
	case MOQ_CTRL_TRACK_STATUS:
		return subscribe;
	case MOQ_CTRL_SUBSCRIBE_OK:
		return subscribe_ok;
	case MOQ_CTRL_REQUEST_UPDATE:
		return request_update;
	case MOQ_CTRL_PUBLISH:
		return publish;
	case MOQ_CTRL_PUBLISH_OK:
	case MOQ_CTRL_REQUEST_OK:
		return request_ok;
	case MOQ_CTRL_PUBLISH_DONE:
		return publish_done;
	case MOQ_CTRL_FETCH:
		return fetch;
	case MOQ_CTRL_FETCH_OK:
		return fetch_ok;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		return publish_namespace;
	case MOQ_CTRL_NAMESPACE:
	case MOQ_CTRL_NAMESPACE_DONE:
		return ns_suffix;
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
	case MOQ_CTRL_SUBSCRIBE_TRACKS:
		return subscribe_ns;
	case MOQ_CTRL_PUBLISH_BLOCKED:
		return publish_blocked;
	case MOQ_CTRL_REQUEST_ERROR:
		return request_error;
	}
	return none;
}

static int check_keys(struct jctx *c, const struct json_value *v, uint64_t type)
{
	static const char *const common[] = {"type", "offset", "length", "non_canonical"};
	const char *allowed[24];
	const char *const *k = msg_keys(type);
	size_t n = 0, i;

	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		allowed[n++] = common[i];
	while (*k && n < sizeof(allowed) / sizeof(allowed[0]) - 1)
		allowed[n++] = *k++;
	allowed[n] = NULL;
	return jf_only(c, v, allowed);
}

static int read_message(struct jctx *c, const struct json_value *v, struct moq_ctrl_msg *m)
{
	switch (m->type) {
	case MOQ_CTRL_SETUP:
		return read_setup(c, v, &m->setup);
	case MOQ_CTRL_GOAWAY: {
		int rc;
		if (jf_bytes(c, v, "new_session_uri", false, &m->goaway.new_session_uri) < 0 ||
		    jf_u64(c, v, "timeout", true, &m->goaway.timeout) < 0)
			return -1;
		rc = jf_u64(c, v, "request_id", false, &m->goaway.request_id);
		if (rc < 0)
			return -1;
		m->goaway.has_request_id = rc == 1;
		return 0;
	}
	case MOQ_CTRL_SUBSCRIBE:
	case MOQ_CTRL_TRACK_STATUS: {
		struct moq_subscribe *s =
		    m->type == MOQ_CTRL_SUBSCRIBE ? &m->subscribe : &m->track_status;
		if (jf_u64(c, v, "request_id", true, &s->request_id) < 0 ||
		    read_full_name(c, v, &s->track_namespace, &s->track_name) < 0)
			return -1;
		return read_params(c, v, m->type, &s->params);
	}
	case MOQ_CTRL_SUBSCRIBE_OK:
		if (jf_u64(c, v, "track_alias", true, &m->subscribe_ok.track_alias) < 0 ||
		    read_params(c, v, m->type, &m->subscribe_ok.params) < 0)
			return -1;
		return read_props(c, v, "track_properties", &m->subscribe_ok.track_properties);
	case MOQ_CTRL_REQUEST_UPDATE:
		if (jf_u64(c, v, "request_id", true, &m->request_update.request_id) < 0)
			return -1;
		return read_params(c, v, m->type, &m->request_update.params);
	case MOQ_CTRL_PUBLISH:
		if (jf_u64(c, v, "request_id", true, &m->publish.request_id) < 0 ||
		    read_full_name(c, v, &m->publish.track_namespace, &m->publish.track_name) < 0 ||
		    jf_u64(c, v, "track_alias", true, &m->publish.track_alias) < 0 ||
		    read_params(c, v, m->type, &m->publish.params) < 0)
			return -1;
		return read_props(c, v, "track_properties", &m->publish.track_properties);
	case MOQ_CTRL_PUBLISH_OK:
	case MOQ_CTRL_REQUEST_OK: {
		struct moq_request_ok *r =
		    m->type == MOQ_CTRL_PUBLISH_OK ? &m->publish_ok : &m->request_ok;
		if (read_params(c, v, m->type, &r->params) < 0)
			return -1;
		return read_props(c, v, "track_properties", &r->track_properties);
	}
	case MOQ_CTRL_PUBLISH_DONE:
		if (jf_code(c, v, "status_code", "status_code_name", moq_publish_done_name, 0x100,
			    true, &m->publish_done.status_code) < 0 ||
		    jf_u64(c, v, "stream_count", true, &m->publish_done.stream_count) < 0 ||
		    jf_bytes(c, v, "error_reason", false, &m->publish_done.error_reason) < 0)
			return -1;
		return 0;
	case MOQ_CTRL_FETCH:
		if (read_fetch(c, v, &m->fetch) < 0)
			return -1;
		return read_params(c, v, m->type, &m->fetch.params);
	case MOQ_CTRL_FETCH_OK: {
		bool eot = false;
		if (jf_bool(c, v, "end_of_track", true, &eot) < 0 ||
		    jf_location(c, v, "end_location", true, &m->fetch_ok.end_location) < 0 ||
		    read_params(c, v, m->type, &m->fetch_ok.params) < 0)
			return -1;
		m->fetch_ok.end_of_track = eot;
		return read_props(c, v, "track_properties", &m->fetch_ok.track_properties);
	}
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		if (jf_u64(c, v, "request_id", true, &m->publish_namespace.request_id) < 0 ||
		    jf_namespace(c, v, "track_namespace", true,
				 &m->publish_namespace.track_namespace) < 0)
			return -1;
		return read_params(c, v, m->type, &m->publish_namespace.params);
	case MOQ_CTRL_NAMESPACE:
		return jf_namespace(c, v, "track_namespace_suffix", true,
				    &m->namespace.track_namespace_suffix) < 0
			   ? -1
			   : 0;
	case MOQ_CTRL_NAMESPACE_DONE:
		return jf_namespace(c, v, "track_namespace_suffix", true,
				    &m->namespace_done.track_namespace_suffix) < 0
			   ? -1
			   : 0;
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
	case MOQ_CTRL_SUBSCRIBE_TRACKS: {
		struct moq_subscribe_namespace *s = m->type == MOQ_CTRL_SUBSCRIBE_NAMESPACE
							? &m->subscribe_namespace
							: &m->subscribe_tracks;
		if (jf_u64(c, v, "request_id", true, &s->request_id) < 0 ||
		    jf_namespace(c, v, "track_namespace_prefix", true, &s->track_namespace_prefix) <
			0)
			return -1;
		return read_params(c, v, m->type, &s->params);
	}
	case MOQ_CTRL_PUBLISH_BLOCKED:
		if (jf_namespace(c, v, "track_namespace_suffix", true,
				 &m->publish_blocked.track_namespace_suffix) < 0 ||
		    jf_bytes(c, v, "track_name", true, &m->publish_blocked.track_name) < 0)
			return -1;
		return 0;
	case MOQ_CTRL_REQUEST_ERROR:
		return read_request_error(c, v, &m->request_error);
	}
	return jerr(c, v, "cannot encode this message type");
}

int control_encode_one(const struct insp_opts *o, struct jctx *c, const struct json_value *v,
		       struct bytebuf *out)
{
	const struct json_value *t = json_get(v, "type");
	struct moq_ctrl_msg *m = &g_msg;
	uint64_t type;
	int n;

	(void)o;
	if (moq_ctrl_type_from_name(t->str.ptr, &type) < 0)
		return jerr(c, t,
			    "\"%.40s\" is not a control message name (SETUP, GOAWAY, SUBSCRIBE, "
			    "SUBSCRIBE_OK, REQUEST_UPDATE, PUBLISH, PUBLISH_OK, PUBLISH_DONE, "
			    "FETCH, FETCH_OK, TRACK_STATUS, PUBLISH_NAMESPACE, NAMESPACE, "
			    "NAMESPACE_DONE, SUBSCRIBE_NAMESPACE, SUBSCRIBE_TRACKS, "
			    "PUBLISH_BLOCKED, REQUEST_OK, REQUEST_ERROR)",
			    t->str.ptr);
	c->msg = moq_ctrl_type_name(type);
	memset(m, 0, sizeof(*m));
	m->type = type;
	if (check_keys(c, v, type) < 0 || read_message(c, v, m) < 0)
		return -1;
	n = moq_ctrl_encode(g_frame, sizeof(g_frame), m);
	if (n < 0) {
		switch (n) {
		case MOQ_ERR_LIMIT:
			return jerr(c, v,
				    "exceeds a draft limit (namespace > 32 fields, full track name "
				    "> 4096 bytes, reason phrase > 1024, URI > 8192, KVP value > "
				    "65535 or payload > 65535 bytes)");
		case MOQ_ERR_INVALID:
			return jerr(c, v,
				    "the codec refuses it: the message would not decode (e.g. an "
				    "empty namespace field, a parameter not allowed here, "
				    "properties in PUBLISH_OK)");
		default:
			return jerr(c, v, "cannot encode: %s", moq_strerror(n));
		}
	}
	if (bytebuf_put(out, g_frame, (size_t)n))
		return jerr(c, v, "out of memory");
	return 0;
}
