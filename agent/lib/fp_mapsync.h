/* fp_mapsync: the agent's side of the pinned fast-path maps
 * (tc-progs/moq_maps.h, pinned by tc under MOQ_PIN_DIR).
 *
 *  - fp_maps_open: opens every map by name, checks each one's type, key and
 *    value sizes, entries and flags against this build's moq_maps.h, and
 *    the layout version found in moq_config; on any mismatch or missing pin
 *    the error says which tc / rm commands fix it.
 *  - mmaps moq_conn_seq, moq_gate and moq_acks (BPF_F_MMAPABLE): fp_maps_seq() is the
 *    struct moq_conn_seq that fp_pnspace takes packet numbers from, and
 *    fp_maps_gate() the gate that fp_cc_gate_apply() feeds; and moq_credit,
 *    the flow-control credit the egress program checks (fp_maps_credit()).
 *    It mmaps moq_sent_log too: fp_maps_sent_log() is the slot's log of
 *    forwarded clones that fp_sentlog reads.
 *  - fp_maps_start / fp_maps_heartbeat: writes moq_config (layout version,
 *    generation, enabled, heartbeat). The programs forward nothing when the
 *    heartbeat is older than heartbeat_timeout_ns (fail-safe). */
#ifndef FP_MAPSYNC_H
#define FP_MAPSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_maps.h"

enum fp_map_id {
	FP_MAP_CONFIG = 0,
	FP_MAP_UPSTREAMS,
	FP_MAP_UP_STREAMS,
	FP_MAP_TRACKS,
	FP_MAP_SUBSCRIBERS,
	FP_MAP_SUB_BY_CID,
	FP_MAP_SUBSCRIPTIONS,
	FP_MAP_DOWN_STREAMS,
	FP_MAP_CONN_SEQ,
	FP_MAP_GATE,
	FP_MAP_SUB_STATS,
	FP_MAP_STATS,
	FP_MAP_EVENTS,
	FP_MAP_CREDIT,
	FP_MAP_STREAM_CREDIT,
	FP_MAP_PN_WINDOWS,
	FP_MAP_ACKS,
	FP_MAP_SENT_LOG,
	FP_MAP_CLONE_CACHE,
	FP_MAP_MAX,
};

struct fp_maps {
	int fd[FP_MAP_MAX];
	struct moq_conn_seq *seq; /* mmap of moq_conn_seq */
	size_t seq_len;
	struct moq_gate *gate; /* mmap of moq_gate */
	size_t gate_len;
	struct moq_credit *credit; /* mmap of moq_credit */
	size_t credit_len;
	struct moq_acks *acks; /* mmap of moq_acks */
	size_t acks_len;
	struct moq_sent_log *sent; /* mmap of moq_sent_log */
	size_t sent_len;
	struct moq_clone_cache *cc; /* mmap of moq_clone_cache */
	size_t cc_len;
	struct moq_config cfg; /* last written */
	int lock_fd;	       /* fp_maps_lock: held pin-directory lock, or -1 */
	/* updates and deletes that failed, per map (fp_mapwrite counts them;
	 * a delete of an absent key is no failure) */
	uint64_t failures[FP_MAP_MAX];
	/* moq_down_streams updates queued by fp_maps_queue_down_stream,
	 * written by fp_maps_flush (one BPF_MAP_UPDATE_BATCH) */
	struct moq_down_stream_key *dsq_k;
	struct moq_down_stream *dsq_v;
	size_t dsq_n, dsq_cap;
	uint64_t dsq_batches, dsq_entries; /* batch calls, entries they wrote */
	bool dsq_no_batch;		   /* the kernel lacks it: one update each */
	uint64_t cid_batches;		   /* moq_sub_by_cid batch calls that succeeded */
	bool cid_no_batch;		   /* the kernel lacks them: one call per CID */
};

/* Name of a map ("moq_conn_seq"). */
const char *fp_map_name(enum fp_map_id id);

/* pin_dir NULL = MOQ_PIN_DIR. Returns 0, or -errno with a message in err
 * (all fds closed). */
int fp_maps_open(struct fp_maps *m, const char *pin_dir, char *err, size_t errlen);
void fp_maps_close(struct fp_maps *m);

/* The agent's exclusive claim on the pin directory (fp_pinlock), held until
 * fp_maps_close: a second daemon on the same maps is refused with the
 * holder's pid instead of clearing them under the first. 0 or -errno with a
 * message in err. */
int fp_maps_lock(struct fp_maps *m, const char *pin_dir, char *err, size_t errlen);

/* Slot entries of the mmapped arrays (NULL when slot is out of range). */
struct moq_conn_seq *fp_maps_seq(struct fp_maps *m, uint32_t slot);
struct moq_gate *fp_maps_gate(struct fp_maps *m, uint32_t slot);
struct moq_credit *fp_maps_credit(struct fp_maps *m, uint32_t slot);
struct moq_acks *fp_maps_acks(struct fp_maps *m, uint32_t slot);
struct moq_sent_log *fp_maps_sent_log(struct fp_maps *m, uint32_t slot);
/* The slot's clone-cache entry of way w (< MOQ_CLONE_CACHE_WAYS); the
 * agent only bumps its gen (fp_mapwrite). */
struct moq_clone_cache *fp_maps_clone_cache(struct fp_maps *m, uint32_t slot, uint32_t w);

/* Write moq_config: this build's layout version, generation, enabled flag,
 * heartbeat now (CLOCK_MONOTONIC ns), timeout, relay UDP port. */
int fp_maps_start(struct fp_maps *m, uint32_t generation, uint64_t timeout_ns, uint16_t relay_port,
		  char *err, size_t errlen);
/* The local UDP port of the relay's client connection to its --upstream
 * relay (moq_config.up_port_be; 0: none): the programs clone media
 * arriving there too. */
int fp_maps_set_up_port(struct fp_maps *m, uint16_t port);
/* Refresh heartbeat_ns (call at least every timeout/3). */
int fp_maps_heartbeat(struct fp_maps *m, uint64_t now_ns);
/* Clear the enabled flag (clean shutdown: the programs stop at once). */
int fp_maps_stop(struct fp_maps *m);

uint64_t fp_monotonic_ns(void);

#endif
