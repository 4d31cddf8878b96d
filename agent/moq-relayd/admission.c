/* moq-relayd: may this peer make this request now? The configured limits
 * on sessions, request rate and name sizes, and the token roles
 * (admission.h). */
#include <stdarg.h>
#include <stdio.h>

#include "admission.h"
#include "log.h"
#include "relayd.h"

#define MOD "relayd"

bool relayd_auth_ok(struct relayd *d, const struct peer *p, const struct moq_params *params,
		    unsigned role)
{
	struct relay_auth_token t[RELAY_AUTH_MAX_TOKENS];
	size_t n = params ? moq_params_token_count(params) : 0, k = 0;

	if (p->is_upstream)
		return true; /* we chose to connect to it */
	/* tokens with a value in the request decide for the request; alias
	 * operations alone carry no credential, so the SETUP roles stand */
	for (size_t i = 0; i < n && k < RELAY_AUTH_MAX_TOKENS; i++) {
		const struct moq_auth_token *a = moq_params_token(params, i);

		if (a && a->alias_type == MOQ_ALIAS_USE_VALUE)
			t[k++] = (struct relay_auth_token){a->token_value.ptr, a->token_value.len};
	}
	if (!k)
		return (p->roles & role) == role; /* from its SETUP */
	return (relay_auth_roles(&d->cfg, t, k) & role) == role;
}

/* A limit was hit: info line each time, a warning at most once a second
 * (a flood must not flood the log too). */
void relayd_limit_hit(struct relayd *d, const char *fmt, ...)
{
	uint64_t now = moq_loop_now();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (now - d->limit_warn_ns >= 1000000000ull || !d->limit_warn_ns) {
		d->limit_warn_ns = now;
		moq_warn(MOD, "limit: %s", msg);
	} else {
		moq_info(MOD, "limit: %s", msg);
	}
}

size_t relayd_downstream_sessions(const struct relayd *d)
{
	return moq_quic_endpoint_established(d->ep); /* half-open: --max-handshakes */
}

/* --max-request-rate: token bucket of N tokens refilled at N/s. true: the
 * request may go on; false: *retry_ms is the Retry Interval to send
 * (milliseconds until a token is there, + 1 as the draft counts 1 as
 * "retry at once"). */
bool relayd_rate_ok(struct relayd *d, struct peer *p, uint64_t *retry_ms)
{
	double rate = (double)d->cfg.max_request_rate;
	uint64_t now = moq_loop_now();

	if (!d->cfg.max_request_rate || p->is_upstream)
		return true;
	p->req_tokens += (double)(now - p->req_tokens_ns) * rate / 1e9;
	if (p->req_tokens > rate)
		p->req_tokens = rate;
	p->req_tokens_ns = now;
	if (p->req_tokens >= 1.0) {
		p->req_tokens -= 1.0;
		return true;
	}
	*retry_ms = (uint64_t)((1.0 - p->req_tokens) * 1000.0 / rate) + 2;
	return false;
}

/* --max-name-bytes / --max-namespace-fields (the draft's own 32 fields and
 * 4096 bytes are enforced by the control message decoder: the session
 * closes with PROTOCOL_VIOLATION before this runs). name may be NULL (a
 * namespace alone). */
static bool name_ok(const struct relayd *d, const struct moq_namespace *ns,
		    const struct moq_bytes *name)
{
	size_t len = name ? name->len : 0;

	if (ns->nfields > d->cfg.max_namespace_fields)
		return false;
	for (size_t i = 0; i < ns->nfields; i++)
		len += ns->fields[i].len;
	return len <= d->cfg.max_name_bytes;
}

/* The request's name is within the configured bounds; else it is answered
 * (REQUEST_ERROR DOES_NOT_EXIST to a subscriber's request, UNINTERESTED to a
 * publisher's) and false returned. */
bool relayd_request_name_ok(struct relayd *d, struct peer *p, struct moq_request *r,
			    const struct moq_ctrl_msg *m)
{
	const struct moq_namespace *ns = NULL;
	const struct moq_bytes *name = NULL;
	uint64_t code = MOQ_REQERR_DOES_NOT_EXIST;

	switch (m->type) {
	case MOQ_CTRL_SUBSCRIBE:
		ns = &m->subscribe.track_namespace;
		name = &m->subscribe.track_name;
		break;
	case MOQ_CTRL_TRACK_STATUS:
		ns = &m->track_status.track_namespace;
		name = &m->track_status.track_name;
		break;
	case MOQ_CTRL_FETCH:
		if (m->fetch.fetch_type != MOQ_FETCH_STANDALONE)
			return true; /* the joined subscription's name */
		ns = &m->fetch.standalone.track_namespace;
		name = &m->fetch.standalone.track_name;
		break;
	case MOQ_CTRL_PUBLISH:
		ns = &m->publish.track_namespace;
		name = &m->publish.track_name;
		code = MOQ_REQERR_UNINTERESTED;
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		ns = &m->publish_namespace.track_namespace;
		code = MOQ_REQERR_UNINTERESTED;
		break;
	default:
		return true;
	}
	if (name_ok(d, ns, name))
		return true;
	relayd_limit_hit(d, "%s: name over --max-name-bytes %llu / --max-namespace-fields %llu",
			 moq_session_name(p->s), (unsigned long long)d->cfg.max_name_bytes,
			 (unsigned long long)d->cfg.max_namespace_fields);
	if (m->type == MOQ_CTRL_SUBSCRIBE)
		d->stats.subscribe_errors++;
	moq_request_error(
	    r, code, 0,
	    "name over this relay's size limits (--max-name-bytes / --max-namespace-fields)");
	return false;
}
