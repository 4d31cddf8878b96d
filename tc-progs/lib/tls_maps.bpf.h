/* The key maps of the encrypted fast path (moq_maps.h, struct moq_keyset),
 * pinned by name like the others. */
#ifndef MOQ_TLS_MAPS_BPF_H
#define MOQ_TLS_MAPS_BPF_H

#include "bpf_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOQ_MAX_TLS_KEYSETS);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* 64 KiB values, few in use */
	__type(key, struct moq_tls_key_id);
	__type(value, struct moq_keyset);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_tls_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOQ_MAX_SUBSCRIBERS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_tls_sel SEC(".maps");

/* tc/subscriber_ingress -> moq_subscriber_open (moq_maps.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} moq_open_prog SEC(".maps");

#endif
