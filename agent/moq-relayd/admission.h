/* moq-relayd: request admission (admission.c): token roles, --max-sessions,
 * --max-request-rate, name size limits, and the rate-limited "limit hit"
 * log line. */
#ifndef RELAYD_ADMISSION_H
#define RELAYD_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relayd;
struct peer;
struct moq_params;
struct moq_request;
struct moq_ctrl_msg;

/* Retry Interval of EXCESSIVE_LOAD for --max-subscriptions / --max-tracks
 * (the draft's value is milliseconds + 1; 0 would mean "never retry") */
#define RELAYD_LIMIT_RETRY_MS 5001

/* May p do what needs role (enum relay_role)? Tokens in the request's
 * params decide when present, else the session's SETUP roles. */
bool relayd_auth_ok(struct relayd *d, const struct peer *p, const struct moq_params *params,
		    unsigned role);

/* A limit was hit: info line each time, a warning at most once a second. */
void relayd_limit_hit(struct relayd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Established downstream sessions (half-open ones do not count). */
size_t relayd_downstream_sessions(const struct relayd *d);

/* --max-request-rate token bucket: true = go on; false = *retry_ms is the
 * Retry Interval to send. */
bool relayd_rate_ok(struct relayd *d, struct peer *p, uint64_t *retry_ms);

/* The request's name is within the configured bounds; else it is answered
 * and false returned. */
bool relayd_request_name_ok(struct relayd *d, struct peer *p, struct moq_request *r,
			    const struct moq_ctrl_msg *m);

#endif
