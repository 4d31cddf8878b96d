/* fp_mapwrite: typed writers of the pinned fast-path maps (opened by
 * fp_mapsync). One function per map and operation, so the agent never
 * hands a raw key/value pair to bpf_map_*: the types come from
 * tc-progs/moq_maps.h. Each returns 0 or -errno (-EBADF when the map is
 * not open), lookups -ENOENT when the key is absent. */
#ifndef FP_MAPWRITE_H
#define FP_MAPWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "fp_mapsync.h"

/* moq_subscribers[slot] (an all-zero entry takes the slot off). */
int fp_maps_put_subscriber(struct fp_maps *m, uint32_t slot, const struct moq_subscriber *s);
/* moq_sub_by_cid: a subscriber connection's CID -> its slot. */
int fp_maps_put_sub_cid(struct fp_maps *m, const uint8_t cid[MOQ_CID_LEN], uint32_t slot);
int fp_maps_del_sub_cid(struct fp_maps *m, const uint8_t cid[MOQ_CID_LEN]);
/* The same for a connection's n CIDs in one bpf() call (a batch; one call
 * per CID where the kernel has no batch ops). Deleting skips absent
 * CIDs. 0 or the first -errno. */
int fp_maps_put_sub_cids(struct fp_maps *m, const uint8_t (*cids)[MOQ_CID_LEN], size_t n,
			 uint32_t slot);
int fp_maps_del_sub_cids(struct fp_maps *m, const uint8_t (*cids)[MOQ_CID_LEN], size_t n);
/* moq_upstreams: a publisher connection's CID -> the connection. */
int fp_maps_put_upstream(struct fp_maps *m, const struct moq_cid *cid,
			 const struct moq_upstream *u);
int fp_maps_del_upstream(struct fp_maps *m, const uint8_t cid[MOQ_CID_LEN]);
/* moq_pn_windows: an upstream connection's packet-number window, written
 * empty (registering a connection resets it) or deleted. */
int fp_maps_reset_pn_window(struct fp_maps *m, uint32_t conn_id, uint32_t generation);
int fp_maps_del_pn_window(struct fp_maps *m, uint32_t conn_id);
/* The same, seeded for a TLS upstream that already carried packets: the
 * largest is largest and every number <= largest counts as seen (the
 * kernel expands truncated numbers against it and clones nothing the
 * agent may already have processed). */
int fp_maps_seed_pn_window(struct fp_maps *m, uint32_t conn_id, uint32_t generation,
			   uint64_t largest);
/* moq_tracks: the fast subscribers of a track; v->count 0 deletes. */
int fp_maps_put_track(struct fp_maps *m, const struct moq_track_key *k,
		      const struct moq_track_subs *v);
/* moq_subscriptions: (slot, upstream track) -> the subscriber's alias. */
int fp_maps_put_subscription(struct fp_maps *m, const struct moq_subscription_key *k,
			     const struct moq_subscription *v);
int fp_maps_del_subscription(struct fp_maps *m, const struct moq_subscription_key *k);
/* moq_down_streams: (slot, upstream stream) -> downstream stream. */
int fp_maps_put_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			    const struct moq_down_stream *v);
int fp_maps_get_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			    struct moq_down_stream *v);
/* moq_stream_credit: the subscriber's MAX_STREAM_DATA for the downstream
 * stream of (slot, upstream stream). */
int fp_maps_put_stream_credit(struct fp_maps *m, const struct moq_down_stream_key *k, uint64_t max);
int fp_maps_del_stream_credit(struct fp_maps *m, const struct moq_down_stream_key *k);
/* Queue an update that may wait for the end of the loop pass (a finished
 * stream marked reset): written by fp_maps_flush, in one
 * BPF_MAP_UPDATE_BATCH call (one update each where the kernel lacks it).
 * Every immediate put / get of moq_down_streams flushes first, so the
 * map's order of writes is the caller's. 0 or -errno (queue full and the
 * flush failed: the entry is written singly). */
int fp_maps_queue_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			      const struct moq_down_stream *v);
/* Write what is queued; 0 or the last -errno (failures counted). */
int fp_maps_flush(struct fp_maps *m);
/* moq_up_streams: the kernel's state of an upstream data stream. */
int fp_maps_get_up_stream(struct fp_maps *m, const struct moq_up_stream_key *k,
			  struct moq_up_stream *v);

/* Delete every moq_down_streams and moq_stream_credit entry of slot (a
 * slot being reused must not inherit the previous connection's streams,
 * reset marks and stream credit included). Returns the number deleted, or
 * -errno. */
int fp_maps_purge_slot(struct fp_maps *m, uint32_t slot);

/* A restarted agent clears what an earlier run left: every hash map
 * emptied, the slot arrays (moq_conn_seq, moq_gate, moq_credit) zeroed. Returns the
 * number of hash entries removed. */
size_t fp_maps_clear_stale(struct fp_maps *m);

#endif
