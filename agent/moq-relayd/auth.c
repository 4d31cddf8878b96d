/* Authorization after SIGHUP: a session whose SETUP token no longer gives
 * it the roles it uses gets GOAWAY and is closed when the drain timeout
 * passes (docs/relay.md "Authorization"). */
#include "relayd.h"
#include "auth.h"
#include "sessions.h"

#define MOD "relayd"

static void revoke_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg);

void relayd_auth_init(struct relayd *d)
{
	d->revoke_timer = moq_timer_new(d->loop, revoke_timer_cb, d);
}

void relayd_auth_free(struct relayd *d)
{
	moq_timer_free(d->revoke_timer);
	d->revoke_timer = NULL;
}

static void revoke_arm(struct relayd *d)
{
	uint64_t next = 0, now = moq_loop_now();

	for (struct peer *p = d->peers; p; p = p->next)
		if (p->revoke_at && (!next || p->revoke_at < next))
			next = p->revoke_at;
	if (!d->revoke_timer)
		return;
	if (!next)
		moq_timer_cancel(d->revoke_timer);
	else
		moq_timer_set_in(d->revoke_timer, next > now ? next - now : 0);
}

/* Does a session with these roles still hold what it uses? */
static bool roles_cover(const struct peer *p, unsigned roles)
{
	if (!roles)
		return false;
	if (p->is_publisher && !(roles & RELAY_ROLE_PUBLISH))
		return false;
	if ((p->nsubs || p->fetches) && !(roles & RELAY_ROLE_SUBSCRIBE))
		return false;
	return true;
}

void relayd_auth_reload(struct relayd *d)
{
	uint64_t ms = d->cfg.drain_timeout_ms;

	if (d->draining)
		return;
	for (struct peer *p = d->peers; p; p = p->next) {
		unsigned roles;
		RELAYD_LOG_PEER(p);

		if (p->is_upstream || p->closing || p->revoke_at || !p->s ||
		    moq_session_state(p->s) != MOQ_SESSION_READY)
			continue;
		roles = relay_auth_roles(&d->cfg, p->auth_tok, p->auth_ntok);
		if (roles_cover(p, roles)) {
			p->roles = roles;
			continue;
		}
		moq_warn(MOD,
			 "%s: its authorization token no longer allows what it does (roles now "
			 "%s): GOAWAY, closing in %.1f s",
			 moq_session_name(p->s), relay_auth_role_names(roles), (double)ms / 1000.0);
		/* nothing new for it meanwhile */
		p->roles = 0;
		moq_session_goaway(p->s, NULL, ms);
		p->revoke_at = moq_loop_now() + ms * 1000000ull;
		if (!p->revoke_at)
			p->revoke_at = 1;
	}
	revoke_arm(d);
}

static void revoke_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct relayd *d = arg;
	uint64_t now = moq_loop_now();

	(void)loop;
	(void)t;
	for (struct peer *p = d->peers; p; p = p->next) {
		RELAYD_LOG_PEER(p);

		if (!p->revoke_at || p->revoke_at > now || p->closing)
			continue;
		p->revoke_at = 0;
		moq_info(MOD,
			 "%s: authorization revoked and the GOAWAY's timeout passed: closing "
			 "(GOAWAY_TIMEOUT)",
			 moq_session_name(p->s));
		/* the session layer closes later (on_close frees p) */
		moq_session_close(p->s, MOQ_SESSION_GOAWAY_TIMEOUT, "authorization revoked");
	}
	revoke_arm(d);
}
