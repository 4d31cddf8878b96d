/* Token comparison and roles (relay_auth.h). */
#include "relay_auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool relay_auth_token_eq(const uint8_t *p, size_t len, const char *want)
{
	size_t wlen = strlen(want);
	/* volatile: keep the compiler from stopping at the first mismatch */
	volatile uint8_t diff = 0;

	if (!wlen)
		return false;
	for (size_t i = 0; i < wlen; i++)
		diff |= (uint8_t)want[i] ^ (i < len ? p[i] : 0);
	return !diff && len == wlen;
}

unsigned relay_auth_open_roles(const struct relay_config *c)
{
	unsigned open = 0;

	if (!c->auth_token[0] && !c->publish_token[0])
		open |= RELAY_ROLE_PUBLISH;
	if (!c->auth_token[0] && !c->subscribe_token[0])
		open |= RELAY_ROLE_SUBSCRIBE;
	return open;
}

unsigned relay_auth_roles(const struct relay_config *c, const struct relay_auth_token *t, size_t n)
{
	unsigned roles = relay_auth_open_roles(c);

	/* every token against every configured one: no early exit that
	 * would tell which comparison failed */
	for (size_t i = 0; i < n; i++) {
		if (relay_auth_token_eq(t[i].p, t[i].len, c->auth_token))
			roles |= RELAY_ROLE_ALL;
		if (relay_auth_token_eq(t[i].p, t[i].len, c->publish_token))
			roles |= RELAY_ROLE_PUBLISH;
		if (relay_auth_token_eq(t[i].p, t[i].len, c->subscribe_token))
			roles |= RELAY_ROLE_SUBSCRIBE;
	}
	return roles;
}

const char *relay_auth_role_names(unsigned roles)
{
	switch (roles & RELAY_ROLE_ALL) {
	case RELAY_ROLE_ALL:
		return "publish+subscribe";
	case RELAY_ROLE_PUBLISH:
		return "publish";
	case RELAY_ROLE_SUBSCRIBE:
		return "subscribe";
	default:
		return "none";
	}
}

int relay_auth_tokens_copy(struct relay_auth_token **out, size_t *nout,
			   const struct relay_auth_token *t, size_t n)
{
	struct relay_auth_token *v;

	if (n > RELAY_AUTH_MAX_TOKENS)
		n = RELAY_AUTH_MAX_TOKENS;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint8_t *b = malloc(t[i].len ? t[i].len : 1);

		if (!b) {
			relay_auth_tokens_free(v, i);
			return -ENOMEM;
		}
		if (t[i].len)
			memcpy(b, t[i].p, t[i].len);
		v[i].p = b;
		v[i].len = t[i].len;
	}
	*out = v;
	*nout = n;
	return 0;
}

void relay_auth_tokens_free(struct relay_auth_token *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++)
		free((void *)t[i].p);
	free(t);
}
