/* Command-line helpers (see cli.h). */
#include "media/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "moq_codes.h"

int moq_cli_u64(const char *opt, const char *s, uint64_t min, uint64_t max, int allow_units,
		uint64_t *out, char *err, size_t errlen)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		goto bad;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	uint64_t mul = 1;
	if (*end && allow_units && !end[1]) {
		switch (*end) {
		case 'K':
		case 'k':
			mul = 1024;
			break;
		case 'M':
		case 'm':
			mul = 1024 * 1024;
			break;
		case 'G':
		case 'g':
			mul = 1024ull * 1024 * 1024;
			break;
		default:
			goto bad;
		}
		end++;
	}
	if (*end)
		goto bad;
	if (v > UINT64_MAX / mul)
		goto range;
	v *= mul;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
bad:
	snprintf(err, errlen, "%s: '%s' is not a whole number%s", opt, s ? s : "",
		 allow_units ? " (suffixes K, M, G allowed)" : "");
	return -1;
range:
	snprintf(err, errlen, "%s: %s is out of range; give a value from %llu to %llu", opt, s,
		 (unsigned long long)min, (unsigned long long)max);
	return -1;
}

int moq_cli_double(const char *opt, const char *s, double min, double max, double *out, char *err,
		   size_t errlen)
{
	if (!s || !*s || *s == ' ') {
		snprintf(err, errlen, "%s: missing number", opt);
		return -1;
	}
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v)) {
		snprintf(err, errlen, "%s: '%s' is not a number", opt, s);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "%s: %s is out of range; give a value from %g to %g", opt, s,
			 min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int moq_cli_hostport(const char *opt, const char *s, char *host, size_t hostlen, uint16_t *port,
		     int allow_zero, char *err, size_t errlen)
{
	const char *p;
	size_t hl;
	if (!s || !*s)
		goto bad;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		hl = (size_t)(rb - s - 1);
		if (hl >= hostlen)
			goto bad;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		p = rb + 2;
	} else {
		const char *c = strrchr(s, ':');
		if (!c) {
			host[0] = 0;
			p = s;
		} else {
			if (memchr(s, ':', (size_t)(c - s)))
				goto bad; /* bare IPv6 without brackets */
			hl = (size_t)(c - s);
			if (hl >= hostlen)
				goto bad;
			memcpy(host, s, hl);
			host[hl] = 0;
			p = c + 1;
		}
	}
	uint64_t v;
	char e2[64];
	if (moq_cli_u64(opt, p, allow_zero ? 0 : 1, 65535, 0, &v, e2, sizeof e2))
		goto bad;
	*port = (uint16_t)v;
	return 0;
bad:
	snprintf(err, errlen,
		 "%s: '%s' is not HOST:PORT (e.g. 127.0.0.1:4443, [::1]:4443, :4443; port "
		 "%s..65535)",
		 opt, s ? s : "", allow_zero ? "0" : "1");
	return -1;
}

int moq_cli_namespace(const char *opt, const char *s, struct moq_namespace *ns, char *store,
		      size_t storelen, int allow_empty, char *err, size_t errlen)
{
	size_t n = strlen(s);
	memset(ns, 0, sizeof(*ns));
	if (n + 1 > storelen || n > MOQ_MAX_FULL_TRACK_NAME) {
		snprintf(err, errlen, "%s: namespace too long (%zu bytes, at most %d)", opt, n,
			 MOQ_MAX_FULL_TRACK_NAME);
		return -1;
	}
	if (!n) {
		if (allow_empty)
			return 0;
		snprintf(err, errlen,
			 "%s: empty namespace; give fields separated by '/', e.g. "
			 "live/cam1",
			 opt);
		return -1;
	}
	memcpy(store, s, n + 1);
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && store[i] != '/')
			continue;
		if (i == start) {
			snprintf(err, errlen,
				 "%s: '%s' has an empty field (leading, trailing or double '/')",
				 opt, s);
			return -1;
		}
		if (ns->nfields == MOQ_MAX_NAMESPACE_FIELDS) {
			snprintf(err, errlen, "%s: '%s' has more than %d fields", opt, s,
				 MOQ_MAX_NAMESPACE_FIELDS);
			return -1;
		}
		ns->fields[ns->nfields].ptr = (const uint8_t *)store + start;
		ns->fields[ns->nfields].len = i - start;
		ns->nfields++;
		start = i + 1;
	}
	return 0;
}

void moq_cli_namespace_str(const struct moq_namespace *ns, char *out, size_t outlen)
{
	size_t o = 0;
	if (!outlen)
		return;
	out[0] = 0;
	for (size_t f = 0; f < ns->nfields; f++) {
		if (f && o + 1 < outlen)
			out[o++] = '/';
		for (size_t i = 0; i < ns->fields[f].len; i++) {
			uint8_t c = ns->fields[f].ptr[i];
			if (c >= 0x20 && c < 0x7f && c != '/' && c != '\\') {
				if (o + 1 < outlen)
					out[o++] = (char)c;
			} else if (o + 5 < outlen) {
				o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
			}
		}
	}
	out[o < outlen ? o : outlen - 1] = 0;
}

void moq_cli_token(struct moq_auth_token *t, const char *value)
{
	memset(t, 0, sizeof(*t));
	t->alias_type = MOQ_ALIAS_USE_VALUE;
	t->token_type = 0;
	t->token_value.ptr = (const uint8_t *)value;
	t->token_value.len = strlen(value);
}

uint64_t moq_cli_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
