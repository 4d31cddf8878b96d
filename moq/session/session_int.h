/* Internal structures of the MoQT session layer (not for applications). */
#ifndef MOQ_SESSION_INT_H
#define MOQ_SESSION_INT_H

#include "control_reader.h"
#include "session/session.h"

#define SESSION_MAGIC 0x4d6f5153u /* "MoQS" */
#define ALIAS_BUCKETS 64
#define TOMBSTONES 256
#define IDSET_BITS 4096
#define MAX_HELD_DGRAMS 64
#define HOLD_STREAM_MAX (256u << 10)
#define HK_PERIOD_NS (50ull * 1000000ull)
#define LINGER_MIN_MS 1000
#define PUBLISH_DONE_WAIT_MS 10000

/* Kinds of objects hung on QUIC stream user pointers. */
enum sobj_kind {
	SOBJ_IGNORE = 1, /* a stream whose MoQT state ended: drop its data */
	SOBJ_CTRL_TX,
	SOBJ_REQ,
	SOBJ_TX,
	SOBJ_RX,
};

struct moq_session__buf {
	uint8_t *p;
	size_t len, cap;
};

int moq_session__buf_append(struct moq_session__buf *b, const void *p, size_t n);
void moq_session__buf_free(struct moq_session__buf *b);

/* Incoming uni stream mode. */
enum rx_mode {
	RX_PEEK = 0, /* stream type not known yet */
	RX_CONTROL,  /* peer's control stream */
	RX_DATA,     /* subgroup / fetch / padding stream */
};

struct moq_rx {
	int kind; /* SOBJ_RX */
	struct moq_session *s;
	struct moq_request *r;
	struct moq_rx *snext, *sprev; /* session list of live rx */
	struct moq_rx *rnext, *rprev; /* request's rx list */
	struct moq_rx *gnext;	      /* graveyard */
	int64_t sid;
	enum rx_mode mode;
	uint8_t peek[16];
	size_t npeek;
	struct moq_data_reader rd;
	uint8_t *rdbuf;
	bool header_delivered;
	bool padding;
	bool holding; /* waiting for the alias's SUBSCRIBE_OK */
	bool hold_fin;
	uint64_t hold_since;
	uint64_t alias;
	struct moq_data_event hdr_ev; /* saved HEADER event while holding */
	struct moq_session__buf hold;
	bool dead;
	void *user;
	uint64_t raw_off; /* stream bytes passed to on_data_raw */
};

struct txmark {
	uint64_t end_off;
	uint64_t deadline;
};

struct moq_tx {
	int kind; /* SOBJ_TX */
	struct moq_session *s;
	struct moq_request *r;
	struct moq_tx *snext, *sprev;
	struct moq_tx *rnext, *rprev;
	struct moq_tx *gnext;
	int64_t sid;
	bool fetch;
	struct moq_subgroup_ctx sg;
	struct moq_fetch_ctx fc;
	uint64_t group;
	uint64_t subgroup;
	uint8_t pub_prio;
	bool in_object;
	uint64_t payload_left;
	uint64_t obj_deadline; /* of the current object, 0 = none */
	uint64_t written;
	uint64_t obj_timeout_ns, sg_timeout_ns;
	struct txmark *marks;
	size_t mhead, mlen, mcap;
	uint64_t sg_deadline; /* after FIN with SUBGROUP_DELIVERY_TIMEOUT */
	struct moq_timer *timer;
	bool app_done; /* handle released by the app (finish) */
	bool finished; /* FIN queued */
	bool broken;   /* reset (timeout or peer STOP_SENDING) */
	bool dead;
	void *user;
};

struct held_dgram {
	struct held_dgram *next;
	uint64_t alias;
	uint64_t since;
	size_t len;
	uint8_t data[];
};

struct moq_request {
	int kind; /* SOBJ_REQ */
	struct moq_session *s;
	struct moq_request *next, *prev; /* session list */
	struct moq_request *gnext;
	struct moq_request *qnext; /* queue of unopened local requests */
	struct moq_request *alias_next;
	int64_t sid; /* -1 until opened */
	uint64_t id;
	uint64_t type;
	bool local;
	enum moq_request_state state;
	void *user;
	struct moq_ctrl_reader rd;
	bool rd_init;
	struct moq_session__buf pend_out; /* bytes to write once the stream is open */
	struct moq_session__buf pend_in;  /* peer bytes received before READY */
	bool pend_in_fin;
	bool queued;
	bool tx_fin, rx_fin;
	bool goaway_rx;
	uint32_t updates_in;  /* peer REQUEST_UPDATEs not answered yet */
	uint32_t updates_out; /* our REQUEST_UPDATEs not answered yet */
	/* track */
	bool has_track;
	uint8_t *track_buf;
	struct moq_namespace ns;
	struct moq_bytes name;
	/* subscription */
	bool is_sub; /* SUBSCRIBE or PUBLISH */
	bool alias_set;
	bool alias_in_sub_table; /* subscriber-side table (else publisher) */
	uint64_t alias;
	struct moq_subscription_info info;
	uint64_t sub_obj_to, sub_sg_to; /* subscriber parameters */
	uint64_t pub_obj_to, pub_sg_to; /* publisher track properties */
	bool order_from_sub;
	struct moq_tx *txs;
	struct moq_rx *rxs;
	uint64_t streams_opened;
	uint64_t streams_rx;
	bool base_set;
	uint64_t group_base;
	/* subscriber side after PUBLISH_DONE */
	bool done_rx;
	uint64_t done_count;
	uint64_t linger_until;
	uint64_t linger_ns;   /* the timer: extended by each sign of progress */
	uint64_t linger_hard; /* never past this (publish_done_wait_ms) */
	/* fetch */
	struct moq_request *joined;
	bool has_fetch_start; /* local standalone FETCH */
	struct moq_location fetch_start;
	bool fetch_ok_sent, fetch_data_done;
	bool dead;
};

/* Calls from the lower modules (core, data) up into the request and
 * control modules, so that those lower modules call no module above them. */
struct moq_session__upcalls {
	void (*free)(struct moq_session *s); /* last leave after a deferred free */
	void (*ctrl_feed)(struct moq_session *s, const uint8_t *p, size_t n, int fin);
	void (*req_maybe_complete)(struct moq_request *r);
	void (*req_linger_check)(struct moq_request *r);
};

struct moq_session {
	uint32_t magic;
	const struct moq_session__upcalls *up;
	struct moq_quic_conn *conn;
	struct moq_loop *loop;
	struct moq_session_config cfg; /* strings point into owned copies */
	char *path, *authority, *implementation, *log_name_copy;
	struct moq_auth_token *tokens;
	uint8_t **token_bufs;
	const struct moq_session_callbacks *cb;
	void *user;
	bool is_server;
	enum moq_session_state state;
	char name[160];
	unsigned depth;
	bool free_pending;

	/* control streams */
	int64_t ctrl_tx_sid;
	struct moq_rx *ctrl_rx;
	struct moq_ctrl_reader ctrl_rd;
	bool ctrl_rd_init;
	bool setup_rx;
	bool goaway_rx, goaway_tx;
	uint64_t setup_deadline;
	uint64_t goaway_deadline; /* our GOAWAY's timeout, 0 = none */
	uint64_t goaway_timeout_ms;

	struct moq_session_peer_info peer;
	char *peer_path, *peer_authority, *peer_impl;

	/* Request IDs */
	uint64_t next_id;
	uint64_t peer_floor;
	uint8_t peer_bits[IDSET_BITS / 8];
	uint64_t peer_next; /* smallest peer id not processed yet */

	/* requests */
	struct moq_request *reqs;
	struct moq_request *qhead, *qtail; /* local requests waiting for a stream */
	uint32_t n_peer_reqs, n_peer_subs;
	struct moq_request *sub_alias[ALIAS_BUCKETS]; /* we subscribe */
	struct moq_request *pub_alias[ALIAS_BUCKETS]; /* we publish */
	uint64_t next_alias;
	uint64_t tomb[TOMBSTONES];
	size_t ntomb, tomb_pos;

	/* data */
	struct moq_rx *rxs;
	struct moq_tx *txs;
	size_t held_bytes;
	struct held_dgram *held_dgrams;
	size_t n_held_dgrams;

	struct moq_timer *hk;

	/* deferred frees */
	struct moq_request *grave_req;
	struct moq_rx *grave_rx;
	struct moq_tx *grave_tx;

	struct moq_ignore_obj {
		int kind;
	} ignore;
	struct moq_ctrl_tx_obj {
		int kind;
	} ctrl_tx_obj;

	uint8_t *scratch; /* MOQ_CTRL_MAX_FRAME */
	/* WebTransport (ALPN h3): the HTTP/3 layer under this session, NULL on
	 * native QUIC (docs/webtransport.md) */
	struct moq_wt *wt;
	bool wt_client;	   /* cfg asked for WebTransport (client) */
	bool transport_up; /* moq_session__transport_up ran */
	/* the peer's CLOSE_WEBTRANSPORT_SESSION: reported to the app as a peer
	 * close (origin PEER), as a CONNECTION_CLOSE is on native QUIC */
	bool wt_peer_closed;
	struct moq_quic_close_info wt_close;
	struct moq_session_stats stats;
};

/* session.c (its public half is session.h) */
void moq_session__free(struct moq_session *s);
/* session_quic.c: the handshake is done; native QUIC starts MoQT, h3 puts
 * WebTransport under it first */
void moq_session__transport_up(struct moq_session *s);

#endif
