/* moq-pub's state (struct pub, its tracks, subscribers and sessions) and
 * the functions its two files share. */
#ifndef MOQ_PUB_H
#define MOQ_PUB_H

#include <stdbool.h>
#include <stdint.h>

#include "media/client.h"
#include "media/h264.h"
#include "quic/loop.h"
#include "session/session.h"

#define MAX_TRACKS 16
#define MAX_SUBGROUPS 64
#define FIN_RING 1024	      /* finished streams watched until acked */
#define BURST 512	      /* objects per track per pump, unpaced */
#define DGRAM_MAX_OBJECT 1100 /* largest --object-size with --datagram */

struct pub;
struct track;

/* One subscription of a track (a peer SUBSCRIBE). */
struct sub {
	struct pub *p;
	struct track *t;
	struct moq_session *s;
	struct moq_request *req;
	struct sub *next; /* in track->subs */
	uint64_t group;	  /* group of the open streams */
	bool have_group;
	struct moq_tx *tx[MAX_SUBGROUPS];
	int64_t fin_sid[FIN_RING]; /* finished, maybe unacked streams */
	size_t nfin;
	bool draining; /* track or range ended: waiting for acks */
	uint64_t drain_deadline;
	uint64_t done_status; /* PUBLISH_DONE status once drained */
	/* Subscription Filter: first location to send, last group to send */
	struct moq_location start;
	bool has_end;
	uint64_t end_group;
	uint64_t objects, dgram_drops;
	/* a datagram that found the send queue full, sent again first */
	uint8_t *retry;
	size_t retry_len, retry_cap;
	struct moq_object_datagram retry_d;
	uint64_t retry_born;
};

struct track {
	char name[256];
	size_t name_len;
	bool datagram;
	bool started, ended;
	uint64_t t0;		     /* generator start */
	uint64_t produced;	     /* objects produced = next seq */
	uint64_t group, obj;	     /* next object's location */
	uint64_t h264_pos;	     /* index into AUs (across loops) */
	bool has_largest;	     /* an object was produced: */
	struct moq_location largest; /* its location (LARGEST_OBJECT) */
	struct sub *subs;
};

struct conn {
	struct pub *p;
	struct moq_session *s;
	bool closed;
};

struct pub {
	/* options */
	int listen;
	char host[256];
	uint16_t port;
	struct moq_cli_conn_opts co;
	char ns_store[MOQ_MAX_FULL_TRACK_NAME + 1];
	struct moq_namespace ns;
	struct track tracks[MAX_TRACKS];
	size_t ntracks;
	uint64_t object_size, objects_per_group, subgroups;
	double rate; /* objects/s, 0 = unpaced */
	uint8_t priority;
	bool priority_set;
	const char *h264_path;
	bool loop_file;
	double fps;
	uint64_t count;
	uint64_t send_buffer;	   /* per subscription: stop producing above */
	uint64_t wait_subscribers; /* start a track at this many SUBSCRIBEs */
	double duration;
	double linger;
	/* state */
	struct moq_loop *loop;
	struct moq_quic_endpoint *ep;
	struct moq_session_config scfg;
	struct moq_session_acceptor acc;
	struct moq_auth_token tok;
	struct moq_timer *pump;
	struct moq_timer *stop_timer;
	struct moq_timer *close_timer; /* relay mode: close once all is acked */
	uint64_t close_deadline;
	unsigned close_polls;
	struct conn *client; /* relay mode */
	size_t sessions;
	bool announced;
	bool stopping;
	bool any_started;
	int exit_code;
	uint8_t *buf;
	size_t bufcap;
	/* H.264 */
	uint8_t *file;
	size_t file_len;
	struct moq_h264_index ix;
	/* totals */
	uint64_t objects_sent, bytes_sent, dgram_drops;
};

extern const char *prog;

/* pump.c */
void pub_sub_unlink(struct sub *u);
void pub_pump_cb(struct moq_loop *loop, struct moq_timer *tm, void *arg);
void pub_pump_soon(struct pub *p, uint64_t delay_ns);

/* main.c */
bool pub_h264_mode(const struct pub *p);
void pub_maybe_finish(struct pub *p);

#endif
