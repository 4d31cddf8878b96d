/* moq-relayd: the control socket's commands (ctl.c) over relay_ctl. */
#ifndef RELAYD_CTL_H
#define RELAYD_CTL_H

struct relayd;

/* Open --ctl-socket (none: nothing); 0, or -1 after a message. */
int relayd_ctl_start(struct relayd *d);
void relayd_ctl_stop(struct relayd *d);

#endif
