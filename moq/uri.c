/* RFC 3986 grammar for the PATH and AUTHORITY Setup Options. */
#include "uri.h"

#include <arpa/inet.h>
#include <string.h>

static bool is_unreserved(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(uint8_t c)
{
	return c && strchr("!$&'()*+,;=", c);
}

static bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the character at p[i] in a set of unreserved / sub-delims /
 * the extra characters, a pct-encoded triplet counting 3; 0 if p[i] is not
 * one. */
static size_t uri_char(const uint8_t *p, size_t n, size_t i, const char *extra)
{
	uint8_t c = p[i];

	if (is_unreserved(c) || is_sub_delim(c) || (c && strchr(extra, c)))
		return 1;
	if (c == '%' && i + 2 < n && is_hex(p[i + 1]) && is_hex(p[i + 2]))
		return 3;
	return 0;
}

/* Every character of p[0..n) in the set (see uri_char). */
static bool uri_all(const uint8_t *p, size_t n, const char *extra)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = uri_char(p, n, i, extra)))
			return false;
	return true;
}

bool moq_uri_path_valid(const uint8_t *p, size_t n)
{
	const uint8_t *q;
	size_t plen;

	if (!n)
		return true;
	q = memchr(p, '?', n);
	plen = q ? (size_t)(q - p) : n;

	/* path-abempty = *( "/" segment ), segment = *pchar */
	if (plen && p[0] != '/')
		return false;
	if (!uri_all(p, plen, ":@/"))
		return false;
	/* query = *( pchar / "/" / "?" ) */
	return !q || uri_all(q + 1, n - plen - 1, ":@/?");
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]", inside the brackets. */
static bool ip_literal_valid(const uint8_t *p, size_t n)
{
	char buf[64];
	struct in6_addr a;
	size_t i = 1;

	if (n && (p[0] == 'v' || p[0] == 'V')) {
		/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
		while (i < n && is_hex(p[i]))
			i++;
		if (i == 1 || i >= n || p[i] != '.' || i + 1 == n)
			return false;
		for (i++; i < n; i++)
			if (!is_unreserved(p[i]) && !is_sub_delim(p[i]) && p[i] != ':')
				return false;
		return true;
	}
	if (!n || n >= sizeof(buf) || memchr(p, 0, n))
		return false;
	memcpy(buf, p, n);
	buf[n] = 0;
	return inet_pton(AF_INET6, buf, &a) == 1;
}

bool moq_uri_authority_valid(const uint8_t *p, size_t n)
{
	const uint8_t *at;
	size_t i = 0, host;

	if (!n)
		return false;
	at = memchr(p, '@', n);
	if (at) {
		/* userinfo = *( unreserved / pct-encoded / sub-delims / ":" ) */
		if (!uri_all(p, (size_t)(at - p), ":"))
			return false;
		i = (size_t)(at - p) + 1;
	}
	host = i;
	if (i < n && p[i] == '[') {
		const uint8_t *end = memchr(p + i, ']', n - i);
		if (!end || !ip_literal_valid(p + i + 1, (size_t)(end - p) - i - 1))
			return false;
		i = (size_t)(end - p) + 1;
	} else {
		/* reg-name (IPv4address is a subset of it) */
		const uint8_t *colon = memchr(p + i, ':', n - i);
		size_t hend = colon ? (size_t)(colon - p) : n;
		if (!uri_all(p + i, hend - i, ""))
			return false;
		i = hend;
	}
	if (i == host)
		return false; /* empty host */
	if (i == n)
		return true;
	/* ":" port, port = *DIGIT */
	if (p[i] != ':')
		return false;
	for (i++; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}
