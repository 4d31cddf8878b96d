/* BTF map definitions of the fast path, pinned by name (tc pins them under
 * /sys/fs/bpf/tc/globals). Layouts: moq_maps.h. */
#ifndef MOQ_MAPS_BPF_H
#define MOQ_MAPS_BPF_H

#include "bpf_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moq_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOQ_MAX_UPSTREAMS);
	__type(key, struct moq_cid);
	__type(value, struct moq_upstream);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_upstreams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOQ_MAX_UPSTREAMS);
	__type(key, __u32); /* upstream conn_id */
	__type(value, struct moq_pn_window);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_pn_windows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MOQ_MAX_UP_STREAMS);
	__type(key, struct moq_up_stream_key);
	__type(value, struct moq_up_stream);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_up_streams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOQ_MAX_TRACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* 16 KiB values */
	__type(key, struct moq_track_key);
	__type(value, struct moq_track_subs);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_tracks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__type(key, __u32);
	__type(value, struct moq_subscriber);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_subscribers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOQ_MAX_SUB_CIDS);
	__type(key, struct moq_cid);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_sub_by_cid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOQ_MAX_SUBSCRIPTIONS);
	__type(key, struct moq_subscription_key);
	__type(value, struct moq_subscription);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_subscriptions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MOQ_MAX_DOWN_STREAMS);
	__type(key, struct moq_down_stream_key);
	__type(value, struct moq_down_stream);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_down_streams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moq_conn_seq);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_conn_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moq_gate);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_gate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moq_credit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_credit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOQ_MAX_DOWN_STREAMS);
	__type(key, struct moq_down_stream_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_stream_credit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS *MOQ_CLONE_CACHE_WAYS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moq_clone_cache);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_clone_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moq_acks);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_acks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__type(key, __u32);
	__type(value, struct moq_sub_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_sub_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOQ_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct moq_stat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MOQ_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_events SEC(".maps");

/* 4096 x 16,448 B = 64 MiB, allocated when the object is loaded */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moq_sent_log);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_sent_log SEC(".maps");

#include "tls_maps.bpf.h"

#endif
