/* Message Parameters: table of types, per-type value codecs, context checks. */
#include <string.h>

#include "control_wire.h"
#include "moq_codes.h"
#include "params.h"
#include "varint.h"

#define C(x) (1u << MOQ_PCTX_##x)
/* REQUEST_OK on the wire answers one of these; its context is their union. */
#define REQUEST_OK_SHORTHANDS                                                                      \
	(C(PUBLISH_OK) | C(REQUEST_UPDATE_OK) | C(TRACK_STATUS_OK) | C(SUBSCRIBE_NAMESPACE_OK) |   \
	 C(SUBSCRIBE_TRACKS_OK) | C(PUBLISH_NAMESPACE_OK))

struct param_def {
	uint64_t type;
	const char *name;
	enum moq_param_kind kind;
	bool repeatable;
	uint32_t ctx; /* bit per enum moq_param_ctx */
};

static const struct param_def param_defs[] = {
    {MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT, "OBJECT_DELIVERY_TIMEOUT", MOQ_PARAM_KIND_VARINT, false,
     C(PUBLISH_OK) | C(SUBSCRIBE) | C(REQUEST_UPDATE)},
    {MOQ_PARAM_AUTHORIZATION_TOKEN, "AUTHORIZATION_TOKEN", MOQ_PARAM_KIND_LENGTH_PREFIXED, true,
     C(PUBLISH) | C(SUBSCRIBE) | C(REQUEST_UPDATE) | C(SUBSCRIBE_NAMESPACE) | C(SUBSCRIBE_TRACKS) |
	 C(PUBLISH_NAMESPACE) | C(TRACK_STATUS) | C(FETCH)},
    {MOQ_PARAM_RENDEZVOUS_TIMEOUT, "RENDEZVOUS_TIMEOUT", MOQ_PARAM_KIND_VARINT, false,
     C(SUBSCRIBE)},
    {MOQ_PARAM_SUBGROUP_DELIVERY_TIMEOUT, "SUBGROUP_DELIVERY_TIMEOUT", MOQ_PARAM_KIND_VARINT, false,
     C(PUBLISH_OK) | C(SUBSCRIBE) | C(REQUEST_UPDATE)},
    {MOQ_PARAM_EXPIRES, "EXPIRES", MOQ_PARAM_KIND_VARINT, false,
     C(SUBSCRIBE_OK) | C(PUBLISH) | C(PUBLISH_OK) | C(REQUEST_UPDATE_OK) | C(TRACK_STATUS_OK)},
    {MOQ_PARAM_LARGEST_OBJECT, "LARGEST_OBJECT", MOQ_PARAM_KIND_LOCATION, false,
     C(SUBSCRIBE_OK) | C(PUBLISH) | C(REQUEST_UPDATE_OK) | C(TRACK_STATUS_OK)},
    {MOQ_PARAM_FILL_TIMEOUT, "FILL_TIMEOUT", MOQ_PARAM_KIND_VARINT, false, C(FETCH)},
    {MOQ_PARAM_FORWARD, "FORWARD", MOQ_PARAM_KIND_UINT8, false,
     C(SUBSCRIBE) | C(REQUEST_UPDATE) | C(PUBLISH) | C(PUBLISH_OK) | C(SUBSCRIBE_TRACKS)},
    {MOQ_PARAM_SUBSCRIBER_PRIORITY, "SUBSCRIBER_PRIORITY", MOQ_PARAM_KIND_UINT8, false,
     C(SUBSCRIBE) | C(FETCH) | C(REQUEST_UPDATE) | C(PUBLISH_OK)},
    {MOQ_PARAM_SUBSCRIPTION_FILTER, "SUBSCRIPTION_FILTER", MOQ_PARAM_KIND_LENGTH_PREFIXED, false,
     C(SUBSCRIBE) | C(PUBLISH_OK) | C(REQUEST_UPDATE)},
    {MOQ_PARAM_GROUP_ORDER, "GROUP_ORDER", MOQ_PARAM_KIND_UINT8, false,
     C(SUBSCRIBE) | C(PUBLISH_OK) | C(FETCH)},
    {MOQ_PARAM_NEW_GROUP_REQUEST, "NEW_GROUP_REQUEST", MOQ_PARAM_KIND_VARINT, false,
     C(PUBLISH_OK) | C(SUBSCRIBE) | C(REQUEST_UPDATE)},
    {MOQ_PARAM_TRACK_NAMESPACE_PREFIX, "TRACK_NAMESPACE_PREFIX", MOQ_PARAM_KIND_NAMESPACE, false,
     C(REQUEST_UPDATE)},
};

#define NDEFS (sizeof(param_defs) / sizeof(param_defs[0]))

static const struct param_def *param_def(uint64_t type)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (param_defs[i].type == type)
			return &param_defs[i];
	return NULL;
}

const char *moq_param_type_name(uint64_t type)
{
	const struct param_def *d = param_def(type);
	return d ? d->name : NULL;
}

int moq_param_type_from_name(const char *name, uint64_t *type)
{
	for (size_t i = 0; name && i < NDEFS; i++) {
		if (!strcmp(param_defs[i].name, name)) {
			*type = param_defs[i].type;
			return 0;
		}
	}
	return MOQ_ERR_INVALID;
}

enum moq_param_kind moq_param_kind_of(uint64_t type)
{
	const struct param_def *d = param_def(type);
	return d ? d->kind : MOQ_PARAM_KIND_UNKNOWN;
}

const char *moq_param_kind_name(enum moq_param_kind kind)
{
	switch (kind) {
	case MOQ_PARAM_KIND_UINT8:
		return "uint8";
	case MOQ_PARAM_KIND_VARINT:
		return "varint";
	case MOQ_PARAM_KIND_LOCATION:
		return "location";
	case MOQ_PARAM_KIND_LENGTH_PREFIXED:
		return "length_prefixed";
	case MOQ_PARAM_KIND_NAMESPACE:
		return "namespace";
	default:
		return "unknown";
	}
}

bool moq_param_allowed(uint64_t type, enum moq_param_ctx ctx)
{
	const struct param_def *d = param_def(type);
	uint32_t mask;

	if (!d || (unsigned)ctx >= MOQ_PCTX_COUNT)
		return false;
	mask = ctx == MOQ_PCTX_REQUEST_OK ? REQUEST_OK_SHORTHANDS : (1u << ctx);
	return (d->ctx & mask) != 0;
}

bool moq_param_repeatable(uint64_t type)
{
	const struct param_def *d = param_def(type);
	return d && d->repeatable;
}

/* A uint8 value the draft restricts; true if v is acceptable. */
static bool u8_value_ok(uint64_t type, uint64_t v)
{
	switch (type) {
	case MOQ_PARAM_FORWARD:
		return v <= 1;
	case MOQ_PARAM_GROUP_ORDER:
		return v == MOQ_GROUP_ORDER_ASCENDING || v == MOQ_GROUP_ORDER_DESCENDING;
	default:
		return v <= 0xff;
	}
}

/* ---- Token ---------------------------------------------------------------- */

int moq_auth_token_decode(struct moq_auth_token *t, const uint8_t *in, size_t inlen)
{
	struct moq_rd r;

	memset(t, 0, sizeof(*t));
	rd_init(&r, in, in, inlen);
	if (rd_vi(&r, &t->alias_type, "token: alias type"))
		return MOQ_ERR_KVP_FORMAT;
	switch (t->alias_type) {
	case MOQ_ALIAS_DELETE:
	case MOQ_ALIAS_USE_ALIAS:
		if (rd_vi(&r, &t->token_alias, "token: alias") || rd_left(&r))
			return MOQ_ERR_KVP_FORMAT;
		break;
	case MOQ_ALIAS_REGISTER:
		if (rd_vi(&r, &t->token_alias, "token: alias"))
			return MOQ_ERR_KVP_FORMAT;
		/* fall through */
	case MOQ_ALIAS_USE_VALUE:
		if (rd_vi(&r, &t->token_type, "token: type"))
			return MOQ_ERR_KVP_FORMAT;
		t->token_value.ptr = r.p;
		t->token_value.len = rd_left(&r);
		break;
	default:
		return MOQ_ERR_KVP_FORMAT;
	}
	return (int)inlen;
}

static void wr_token(struct moq_wr *w, const struct moq_auth_token *t)
{
	switch (t->alias_type) {
	case MOQ_ALIAS_DELETE:
	case MOQ_ALIAS_USE_ALIAS:
		wr_vi(w, t->alias_type);
		wr_vi(w, t->token_alias);
		break;
	case MOQ_ALIAS_REGISTER:
	case MOQ_ALIAS_USE_VALUE:
		if (t->token_value.len && !t->token_value.ptr) {
			wr_fail(w, MOQ_ERR_INVALID);
			return;
		}
		wr_vi(w, t->alias_type);
		if (t->alias_type == MOQ_ALIAS_REGISTER)
			wr_vi(w, t->token_alias);
		wr_vi(w, t->token_type);
		wr_raw(w, t->token_value.ptr, t->token_value.len);
		break;
	default:
		wr_fail(w, MOQ_ERR_INVALID);
	}
}

int moq_auth_token_encode(uint8_t *out, size_t outlen, const struct moq_auth_token *t)
{
	struct moq_wr w;

	wr_init(&w, out, outlen);
	wr_token(&w, t);
	return wr_result(&w);
}

/* ---- Subscription Filter ---------------------------------------------------- */

const char *moq_filter_type_name(uint64_t filter_type)
{
	switch (filter_type) {
	case MOQ_FILTER_NEXT_GROUP_START:
		return "NEXT_GROUP_START";
	case MOQ_FILTER_LARGEST_OBJECT:
		return "LARGEST_OBJECT";
	case MOQ_FILTER_ABSOLUTE_START:
		return "ABSOLUTE_START";
	case MOQ_FILTER_ABSOLUTE_RANGE:
		return "ABSOLUTE_RANGE";
	default:
		return NULL;
	}
}

static bool filter_ok(const struct moq_subscription_filter *f)
{
	switch (f->filter_type) {
	case MOQ_FILTER_NEXT_GROUP_START:
	case MOQ_FILTER_LARGEST_OBJECT:
		return !f->start_location.group && !f->start_location.object && !f->end_group_delta;
	case MOQ_FILTER_ABSOLUTE_START:
		return !f->end_group_delta;
	case MOQ_FILTER_ABSOLUTE_RANGE:
		/* Start Group + End Group Delta must not pass 2^64 - 1. */
		return f->end_group_delta <= UINT64_MAX - f->start_location.group;
	default:
		return false;
	}
}

static int rd_filter(struct moq_rd *r, struct moq_subscription_filter *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	if ((rc = rd_vi(r, &f->filter_type, "subscription filter: type")))
		return rc;
	switch (f->filter_type) {
	case MOQ_FILTER_NEXT_GROUP_START:
	case MOQ_FILTER_LARGEST_OBJECT:
		break;
	case MOQ_FILTER_ABSOLUTE_START:
		rc = rd_location(r, &f->start_location, "subscription filter: start location");
		break;
	case MOQ_FILTER_ABSOLUTE_RANGE:
		rc = rd_location(r, &f->start_location, "subscription filter: start location");
		if (!rc)
			rc = rd_vi(r, &f->end_group_delta, "subscription filter: end group delta");
		if (!rc && !filter_ok(f))
			rc = rd_fail(r, MOQ_ERR_MALFORMED,
				     "subscription filter: end group past 2^64-1",
				     f->end_group_delta);
		break;
	default:
		rc = rd_fail(r, MOQ_ERR_MALFORMED, "subscription filter: unknown filter type",
			     f->filter_type);
	}
	if (rc)
		return rc;
	if (rd_left(r))
		return rd_fail(r, MOQ_ERR_MALFORMED, "subscription filter: bytes after the filter",
			       rd_left(r));
	return 0;
}

int moq_filter_decode(struct moq_subscription_filter *f, const uint8_t *in, size_t inlen)
{
	struct moq_rd r;
	int rc;

	rd_init(&r, in, in, inlen);
	if ((rc = rd_filter(&r, f)))
		return rc;
	return (int)inlen;
}

static void wr_filter(struct moq_wr *w, const struct moq_subscription_filter *f)
{
	if (!filter_ok(f)) {
		wr_fail(w, MOQ_ERR_INVALID);
		return;
	}
	wr_vi(w, f->filter_type);
	if (f->filter_type == MOQ_FILTER_ABSOLUTE_START ||
	    f->filter_type == MOQ_FILTER_ABSOLUTE_RANGE)
		wr_location(w, f->start_location);
	if (f->filter_type == MOQ_FILTER_ABSOLUTE_RANGE)
		wr_vi(w, f->end_group_delta);
}

int moq_filter_encode(uint8_t *out, size_t outlen, const struct moq_subscription_filter *f)
{
	struct moq_wr w;

	wr_init(&w, out, outlen);
	wr_filter(&w, f);
	return wr_result(&w);
}

/* ---- parameter block ------------------------------------------------------------ */

static int rd_param_value(struct moq_rd *r, struct moq_params *ps, struct moq_param *p,
			  const struct param_def *d)
{
	struct moq_rd sub;
	uint8_t u8;
	int rc;

	switch (d->kind) {
	case MOQ_PARAM_KIND_UINT8:
		if ((rc = rd_u8(r, &u8, "parameter: uint8 value truncated")))
			return rc;
		p->value = u8;
		if (!u8_value_ok(p->type, p->value))
			return rd_fail(r, MOQ_ERR_MALFORMED,
				       "parameter: value outside the allowed range", p->value);
		return 0;
	case MOQ_PARAM_KIND_VARINT:
		return rd_vi(r, &p->value, "parameter: varint value truncated");
	case MOQ_PARAM_KIND_LOCATION:
		return rd_location(r, &p->location, "parameter: location value truncated");
	case MOQ_PARAM_KIND_NAMESPACE:
		p->bytes.ptr = r->p;
		rc = rd_namespace(r, &ps->track_namespace_prefix);
		p->bytes.len = (size_t)(r->p - p->bytes.ptr);
		return rc;
	case MOQ_PARAM_KIND_LENGTH_PREFIXED:
		if ((rc = rd_lenbytes(r, &p->bytes, UINT64_MAX, MOQ_ERR_MALFORMED,
				      "parameter: length-prefixed value truncated")))
			return rc;
		if (p->type == MOQ_PARAM_AUTHORIZATION_TOKEN) {
			rc = moq_auth_token_decode(&p->token, p->bytes.ptr, p->bytes.len);
			if (rc < 0)
				return rd_fail(r, rc,
					       "AUTHORIZATION_TOKEN: token structure "
					       "cannot be decoded",
					       p->bytes.len);
			return 0;
		}
		/* SUBSCRIPTION_FILTER: parse the value with its own bounds, but
		 * report offsets relative to the frame. */
		rd_init(&sub, r->base, p->bytes.ptr, p->bytes.len);
		if ((rc = rd_filter(&sub, &p->filter))) {
			r->err = 0;
			return rd_fail(r, rc, sub.what, sub.val);
		}
		return 0;
	default:
		return rd_fail(r, MOQ_ERR_MALFORMED, "parameter: unknown type", p->type);
	}
}

int rd_params(struct moq_rd *r, struct moq_params *ps, enum moq_param_ctx ctx)
{
	uint64_t n, delta, type = 0;
	int rc;

	ps->count = 0;
	ps->track_namespace_prefix.nfields = 0;
	if ((rc = rd_vi(r, &n, "number of parameters truncated")))
		return rc;
	if (n > MOQ_MAX_PARAMS)
		return rd_fail(r, MOQ_ERR_LIMIT, "more than 32 parameters", n);
	for (size_t i = 0; i < n; i++) {
		struct moq_param *p = &ps->param[i];
		const struct param_def *d;

		if ((rc = rd_vi(r, &delta, "parameter: type delta truncated")))
			return rc;
		if (delta > UINT64_MAX - type)
			return rd_fail(r, MOQ_ERR_MALFORMED, "parameter: type past 2^64-1", delta);
		type += delta;
		memset(p, 0, sizeof(*p));
		p->type = type;
		d = param_def(type);
		if (!d)
			return rd_fail(r, MOQ_ERR_MALFORMED, "parameter: unknown type", type);
		if (!moq_param_allowed(type, ctx))
			return rd_fail(r, MOQ_ERR_MALFORMED,
				       "parameter: not allowed in this message", type);
		if (i > 0 && delta == 0 && !d->repeatable)
			return rd_fail(r, MOQ_ERR_DUPLICATE, "parameter: duplicate", type);
		p->kind = d->kind;
		if ((rc = rd_param_value(r, ps, p, d)))
			return rc;
		ps->count = i + 1;
	}
	return 0;
}

int moq_params_decode(struct moq_params *p, enum moq_param_ctx ctx, const uint8_t *in, size_t inlen,
		      const char **why)
{
	struct moq_rd r;
	int rc;

	rd_init(&r, in, in, inlen);
	rc = rd_params(&r, p, ctx);
	if (rc) {
		if (why)
			*why = r.what;
		return rc;
	}
	return (int)(r.p - in);
}

/* 0 if the block is encodable in ctx, MOQ_ERR_INVALID/LIMIT otherwise. */
static int params_valid(const struct moq_params *ps, enum moq_param_ctx ctx)
{
	if (ps->count > MOQ_MAX_PARAMS)
		return MOQ_ERR_LIMIT;
	for (size_t i = 0; i < ps->count; i++) {
		const struct moq_param *p = &ps->param[i];
		const struct param_def *d = param_def(p->type);

		if (!d || !moq_param_allowed(p->type, ctx))
			return MOQ_ERR_INVALID;
		if (i > 0 && p->type < ps->param[i - 1].type)
			return MOQ_ERR_INVALID;
		if (i > 0 && p->type == ps->param[i - 1].type && !d->repeatable)
			return MOQ_ERR_INVALID;
		if (d->kind == MOQ_PARAM_KIND_UINT8 && !u8_value_ok(p->type, p->value))
			return MOQ_ERR_INVALID;
		if (p->type == MOQ_PARAM_SUBSCRIPTION_FILTER && !filter_ok(&p->filter))
			return MOQ_ERR_INVALID;
	}
	return 0;
}

/* A length-prefixed structured value: length, fixed fields, then the
 * Token Value (if any) copied straight from the caller's view. */
static void wr_struct_value(struct moq_wr *w, const struct moq_param *p)
{
	uint8_t hdr[32]; /* at most 3 vi64 */
	struct moq_bytes tail = {NULL, 0};
	int hl;

	if (p->type == MOQ_PARAM_AUTHORIZATION_TOKEN) {
		struct moq_auth_token t = p->token;

		tail = t.token_value;
		if (tail.len && !tail.ptr) {
			wr_fail(w, MOQ_ERR_INVALID);
			return;
		}
		t.token_value.len = 0;
		hl = moq_auth_token_encode(hdr, sizeof(hdr), &t);
	} else {
		hl = moq_filter_encode(hdr, sizeof(hdr), &p->filter);
	}
	if (hl < 0) {
		wr_fail(w, hl);
		return;
	}
	wr_vi(w, (uint64_t)hl + tail.len);
	wr_raw(w, hdr, (size_t)hl);
	wr_raw(w, tail.ptr, tail.len);
}

void wr_params(struct moq_wr *w, const struct moq_params *ps, enum moq_param_ctx ctx)
{
	uint64_t prev = 0;
	int rc;

	if ((rc = params_valid(ps, ctx))) {
		wr_fail(w, rc);
		return;
	}
	wr_vi(w, ps->count);
	for (size_t i = 0; i < ps->count && !w->err; i++) {
		const struct moq_param *p = &ps->param[i];

		wr_vi(w, p->type - prev);
		prev = p->type;
		switch (moq_param_kind_of(p->type)) {
		case MOQ_PARAM_KIND_UINT8:
			wr_u8(w, (uint8_t)p->value);
			break;
		case MOQ_PARAM_KIND_VARINT:
			wr_vi(w, p->value);
			break;
		case MOQ_PARAM_KIND_LOCATION:
			wr_location(w, p->location);
			break;
		case MOQ_PARAM_KIND_NAMESPACE:
			wr_namespace(w, &ps->track_namespace_prefix);
			break;
		case MOQ_PARAM_KIND_LENGTH_PREFIXED:
			wr_struct_value(w, p);
			break;
		default:
			wr_fail(w, MOQ_ERR_INVALID);
		}
	}
}

int moq_params_encode(uint8_t *out, size_t outlen, const struct moq_params *p,
		      enum moq_param_ctx ctx)
{
	struct moq_wr w;

	wr_init(&w, out, outlen);
	wr_params(&w, p, ctx);
	return wr_result(&w);
}

int moq_params_check(const struct moq_params *p, enum moq_param_ctx ctx)
{
	for (size_t i = 0; i < p->count; i++)
		if (!moq_param_allowed(p->param[i].type, ctx))
			return MOQ_ERR_MALFORMED;
	return 0;
}

/* ---- accessors ------------------------------------------------------------------ */

const struct moq_param *moq_params_find(const struct moq_params *p, uint64_t type)
{
	for (size_t i = 0; i < p->count; i++)
		if (p->param[i].type == type)
			return &p->param[i];
	return NULL;
}

bool moq_params_has(const struct moq_params *p, uint64_t type)
{
	return moq_params_find(p, type) != NULL;
}

bool moq_params_get_u64(const struct moq_params *p, uint64_t type, uint64_t *v)
{
	const struct moq_param *q = moq_params_find(p, type);

	if (!q || (q->kind != MOQ_PARAM_KIND_UINT8 && q->kind != MOQ_PARAM_KIND_VARINT))
		return false;
	*v = q->value;
	return true;
}

bool moq_params_get_location(const struct moq_params *p, uint64_t type, struct moq_location *loc)
{
	const struct moq_param *q = moq_params_find(p, type);

	if (!q || q->kind != MOQ_PARAM_KIND_LOCATION)
		return false;
	*loc = q->location;
	return true;
}

bool moq_params_get_filter(const struct moq_params *p, struct moq_subscription_filter *f)
{
	const struct moq_param *q = moq_params_find(p, MOQ_PARAM_SUBSCRIPTION_FILTER);

	if (!q)
		return false;
	*f = q->filter;
	return true;
}

size_t moq_params_token_count(const struct moq_params *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->count; i++)
		n += p->param[i].type == MOQ_PARAM_AUTHORIZATION_TOKEN;
	return n;
}

const struct moq_auth_token *moq_params_token(const struct moq_params *p, size_t idx)
{
	for (size_t i = 0; i < p->count; i++) {
		if (p->param[i].type != MOQ_PARAM_AUTHORIZATION_TOKEN)
			continue;
		if (idx-- == 0)
			return &p->param[i].token;
	}
	return NULL;
}

/* ---- builders ------------------------------------------------------------------- */

void moq_params_init(struct moq_params *p)
{
	p->count = 0;
	p->track_namespace_prefix.nfields = 0;
}

/* Make room for a parameter of this type keeping ascending order; returns
 * the slot (zeroed, type and kind set) or NULL with *rc set. */
static struct moq_param *params_slot(struct moq_params *p, uint64_t type, enum moq_param_kind want,
				     int *rc)
{
	const struct param_def *d = param_def(type);
	size_t at;

	if (!d || d->kind != want) {
		*rc = MOQ_ERR_INVALID;
		return NULL;
	}
	if (!d->repeatable && moq_params_find(p, type)) {
		*rc = MOQ_ERR_DUPLICATE;
		return NULL;
	}
	if (p->count >= MOQ_MAX_PARAMS) {
		*rc = MOQ_ERR_LIMIT;
		return NULL;
	}
	at = p->count;
	while (at > 0 && p->param[at - 1].type > type)
		at--;
	memmove(&p->param[at + 1], &p->param[at], (p->count - at) * sizeof(p->param[0]));
	p->count++;
	memset(&p->param[at], 0, sizeof(p->param[at]));
	p->param[at].type = type;
	p->param[at].kind = d->kind;
	*rc = 0;
	return &p->param[at];
}

int moq_params_add_u64(struct moq_params *p, uint64_t type, uint64_t v)
{
	enum moq_param_kind k = moq_param_kind_of(type);
	struct moq_param *q;
	int rc;

	if (k != MOQ_PARAM_KIND_UINT8 && k != MOQ_PARAM_KIND_VARINT)
		return MOQ_ERR_INVALID;
	if (k == MOQ_PARAM_KIND_UINT8 && !u8_value_ok(type, v))
		return MOQ_ERR_INVALID;
	if (!(q = params_slot(p, type, k, &rc)))
		return rc;
	q->value = v;
	return 0;
}

int moq_params_add_location(struct moq_params *p, uint64_t type, struct moq_location loc)
{
	struct moq_param *q;
	int rc;

	if (!(q = params_slot(p, type, MOQ_PARAM_KIND_LOCATION, &rc)))
		return rc;
	q->location = loc;
	return 0;
}

int moq_params_add_token(struct moq_params *p, const struct moq_auth_token *t)
{
	struct moq_param *q;
	int rc;

	if (t->alias_type > MOQ_ALIAS_USE_VALUE)
		return MOQ_ERR_INVALID;
	if (!(q = params_slot(p, MOQ_PARAM_AUTHORIZATION_TOKEN, MOQ_PARAM_KIND_LENGTH_PREFIXED,
			      &rc)))
		return rc;
	q->token = *t;
	return 0;
}

int moq_params_add_filter(struct moq_params *p, const struct moq_subscription_filter *f)
{
	struct moq_param *q;
	int rc;

	if (!filter_ok(f))
		return MOQ_ERR_INVALID;
	if (!(q = params_slot(p, MOQ_PARAM_SUBSCRIPTION_FILTER, MOQ_PARAM_KIND_LENGTH_PREFIXED,
			      &rc)))
		return rc;
	q->filter = *f;
	return 0;
}

int moq_params_add_namespace_prefix(struct moq_params *p, const struct moq_namespace *ns)
{
	struct moq_param *q;
	int rc;

	if ((rc = ns_check(ns, NULL)))
		return rc;
	if (!(q = params_slot(p, MOQ_PARAM_TRACK_NAMESPACE_PREFIX, MOQ_PARAM_KIND_NAMESPACE, &rc)))
		return rc;
	p->track_namespace_prefix = *ns;
	return 0;
}
