/* moq-relayd: token roles on reload (auth.c). After SIGHUP changed the
 * tokens, sessions whose SETUP token no longer gives the roles they use get
 * GOAWAY (timeout --drain-timeout) and are closed with GOAWAY_TIMEOUT when
 * it passes. */
#ifndef RELAYD_AUTH_H
#define RELAYD_AUTH_H

struct relayd;

void relayd_auth_init(struct relayd *d);
void relayd_auth_free(struct relayd *d);
void relayd_auth_reload(struct relayd *d);

#endif
