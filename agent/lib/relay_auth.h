/* Authorization roles of moq-relayd (docs/relay.md "Authorization").
 *
 * Three configured tokens, each optional: --auth-token authorizes both
 * roles, --publish-token publishing (PUBLISH_NAMESPACE, PUBLISH),
 * --subscribe-token subscribing (SUBSCRIBE, FETCH, TRACK_STATUS). A role
 * that no configured token authorizes is open to every peer. A peer's
 * roles are the open roles plus those of every configured token one of
 * its presented tokens equals. Tokens are compared in constant time. */
#ifndef RELAY_AUTH_H
#define RELAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_config.h"

enum relay_role {
	RELAY_ROLE_PUBLISH = 1,
	RELAY_ROLE_SUBSCRIBE = 2,
	RELAY_ROLE_ALL = 3,
};

/* A presented token value (a view, or owned by relay_auth_tokens_*). */
struct relay_auth_token {
	const uint8_t *p;
	size_t len;
};

/* Most SETUP tokens a session's roles are kept for (re-checked on reload). */
#define RELAY_AUTH_MAX_TOKENS 8

/* Does the presented value equal the configured token want? Constant time
 * in the contents of both (the loop runs over want's length whatever the
 * input); an empty want never matches. */
bool relay_auth_token_eq(const uint8_t *p, size_t len, const char *want);

/* Roles open to every peer under c (no token configured for them). */
unsigned relay_auth_open_roles(const struct relay_config *c);

/* Roles of a peer presenting tokens t[0..n) (open roles included). */
unsigned relay_auth_roles(const struct relay_config *c, const struct relay_auth_token *t, size_t n);

/* "publish+subscribe", "publish", "subscribe" or "none". */
const char *relay_auth_role_names(unsigned roles);

/* Owned copies of up to RELAY_AUTH_MAX_TOKENS values: 0 or -ENOMEM
 * (*out, *nout untouched on failure). */
int relay_auth_tokens_copy(struct relay_auth_token **out, size_t *nout,
			   const struct relay_auth_token *t, size_t n);
void relay_auth_tokens_free(struct relay_auth_token *t, size_t n);

#endif
