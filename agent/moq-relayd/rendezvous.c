/* RENDEZVOUS_TIMEOUT (draft-18 "RENDEZVOUS TIMEOUT Parameter"): a SUBSCRIBE
 * for a track without a publisher is held, not answered DOES_NOT_EXIST,
 * when it carries a non-zero RENDEZVOUS_TIMEOUT. A held SUBSCRIBE is a
 * relay_sub without a track, in its session's list (so --max-subscriptions
 * bounds it per session and session close / UNSUBSCRIBE free it as usual)
 * and in the relay's held list (bounded by --max-rendezvous). It is routed
 * when a PUBLISH_NAMESPACE, PUBLISH or the upstream session makes a
 * publisher available, or answered REQUEST_ERROR TIMEOUT when
 * min(timeout, --max-rendezvous-wait) passes. */
#include <stdlib.h>
#include <string.h>

#include "relayd.h"
#include "rendezvous.h"
#include "sessions.h"

#define MOD "relayd"

static void rdv_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg);

void relayd_rdv_init(struct relayd *d)
{
	d->rdv_timer = moq_timer_new(d->loop, rdv_timer_cb, d);
}

void relayd_rdv_free(struct relayd *d)
{
	moq_timer_free(d->rdv_timer);
	d->rdv_timer = NULL;
}

/* Timer at the earliest deadline (the list holds at most --max-rendezvous). */
static void rdv_arm(struct relayd *d)
{
	uint64_t next = 0, now = moq_loop_now();

	for (struct relay_sub *s = d->rdv_subs; s; s = s->rdv_next)
		if (!next || s->rdv_deadline < next)
			next = s->rdv_deadline;
	if (!d->rdv_timer)
		return;
	if (!next)
		moq_timer_cancel(d->rdv_timer);
	else
		moq_timer_set_in(d->rdv_timer, next > now ? next - now : 0);
}

void relayd_rdv_unlink(struct relayd *d, struct relay_sub *sub)
{
	for (struct relay_sub **pp = &d->rdv_subs; *pp; pp = &(*pp)->rdv_next) {
		if (*pp == sub) {
			*pp = sub->rdv_next;
			d->rdv_held--;
			break;
		}
	}
	sub->rdv_deadline = 0;
	sub->rdv_next = NULL;
}

/* Take a held sub off both lists and free it; returns its request (user
 * pointer cleared), to be routed or answered by the caller. */
static struct moq_request *rdv_release(struct relayd *d, struct relay_sub *sub)
{
	struct peer *p = sub->peer;
	struct moq_request *r = sub->req;

	relayd_rdv_unlink(d, sub);
	for (struct relay_sub **pp = &p->subs; *pp; pp = &(*pp)->peer_next) {
		if (*pp == sub) {
			*pp = sub->peer_next;
			p->nsubs--;
			break;
		}
	}
	moq_request_set_user(r, NULL);
	free(sub);
	return r;
}

bool relayd_rdv_hold(struct relayd *d, struct peer *p, struct moq_request *r,
		     const struct relay_name *name, uint64_t rdv_ms)
{
	uint64_t ms = rdv_ms;
	struct relay_sub *sub;

	if (!ms || !d->cfg.max_rendezvous_wait_ms || d->draining)
		return false;
	if (d->rdv_held >= d->cfg.max_rendezvous) {
		moq_info(MOD,
			 "SUBSCRIBE %s: %zu SUBSCRIBEs already held for a publisher "
			 "(--max-rendezvous); not holding it",
			 name->text, d->rdv_held);
		return false;
	}
	if (ms > d->cfg.max_rendezvous_wait_ms)
		ms = d->cfg.max_rendezvous_wait_ms;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return false;
	sub->peer = p;
	sub->req = r;
	sub->peer_subs = &p->subs;
	sub->peer_next = p->subs;
	p->subs = sub;
	p->nsubs++;
	sub->rdv_deadline = moq_loop_now() + ms * 1000000ull;
	if (!sub->rdv_deadline)
		sub->rdv_deadline = 1;
	sub->rdv_next = d->rdv_subs;
	d->rdv_subs = sub;
	d->rdv_held++;
	moq_request_set_user(r, sub);
	moq_info(MOD,
		 "SUBSCRIBE %s: no publisher yet, held up to %llu ms (RENDEZVOUS_TIMEOUT %llu ms)",
		 name->text, (unsigned long long)ms, (unsigned long long)rdv_ms);
	rdv_arm(d);
	return true;
}

/* The held sub's track name, or -1. */
static int rdv_name(const struct relay_sub *sub, struct relay_name *name)
{
	struct moq_namespace ns;
	struct moq_bytes tn;

	if (!moq_request_track(sub->req, &ns, &tn))
		return -1;
	return relay_name_init(name, &ns, &tn) ? -1 : 0;
}

void relayd_rdv_retry(struct relayd *d)
{
	uint64_t pass = ++d->rdv_pass;
	bool again = true;

	/* routing one can change the lists: start over after each, but try
	 * each held request once per call (a walk past the tried ones is
	 * cheap; a route attempt per request per routed one was quadratic) */
	while (again) {
		again = false;
		for (struct relay_sub *sub = d->rdv_subs; sub; sub = sub->rdv_next) {
			struct peer *p = sub->peer;
			struct relay_name name;
			struct moq_request *r;

			if (sub->rdv_pass == pass)
				continue;
			sub->rdv_pass = pass;
			if (rdv_name(sub, &name))
				continue;
			if (!relay_tracks_find(&d->tracks, &name) && !relayd_route(d, &name, p)) {
				relay_name_free(&name);
				continue;
			}
			RELAYD_LOG_PEER(p);
			moq_info(MOD, "SUBSCRIBE %s: publisher available, routing the held request",
				 name.text);
			r = rdv_release(d, sub);
			relayd_subscribe_route(d, p, r, &name, 0);
			again = true;
			break;
		}
	}
	rdv_arm(d);
}

static void rdv_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct relayd *d = arg;
	bool again = true;

	(void)loop;
	(void)t;
	while (again) {
		uint64_t now = moq_loop_now();

		again = false;
		for (struct relay_sub *sub = d->rdv_subs; sub; sub = sub->rdv_next) {
			struct peer *p = sub->peer;
			struct relay_name name;
			struct moq_request *r;
			bool named;

			if (sub->rdv_deadline > now)
				continue;
			RELAYD_LOG_PEER(p);
			named = !rdv_name(sub, &name);
			moq_info(MOD,
				 "SUBSCRIBE %s: no publisher within the rendezvous timeout, "
				 "REQUEST_ERROR TIMEOUT",
				 named ? name.text : "?");
			if (named)
				relay_name_free(&name);
			r = rdv_release(d, sub);
			d->stats.subscribe_errors++;
			moq_request_error(r, MOQ_REQERR_TIMEOUT, 0,
					  "no publisher within the rendezvous timeout");
			again = true;
			break;
		}
	}
	rdv_arm(d);
}
