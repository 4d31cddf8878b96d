/* moq-relayd: the Prometheus endpoint (metrics.c) over relay_metrics. */
#ifndef RELAYD_METRICS_H
#define RELAYD_METRICS_H

struct relayd;

/* Serve --metrics-listen when it is set: 0, or -1 after printing why. */
int relayd_metrics_start(struct relayd *d);
void relayd_metrics_stop(struct relayd *d);

#endif
