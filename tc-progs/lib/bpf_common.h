/* Includes and small definitions every fast-path BPF header needs. */
#ifndef MOQ_BPF_COMMON_H
#define MOQ_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "moq_maps.h"

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif

#define MOQ_MAX_PRE_FRAMES 16	 /* PADDING runs / ACK frames before media */
#define MOQ_MAX_PREFIX_BYTES 256 /* bytes of PADDING/ACK before media */
#define MOQ_MAX_ACK_RANGES 16
#define MOQ_ZERO_WINDOWS (MOQ_MAX_PREFIX_BYTES / 16 + 1)

/* Byte-wise equality for small constant n (clang emits a memcmp call for
 * __builtin_memcmp on BPF, which does not link). */
static __always_inline int moq_bytes_eq(const void *a, const void *b, __u32 n)
{
	const __u8 *x = a, *y = b;
	__u8 acc = 0;
	__u64 k; /* loop counters __u64 (house rule) */

	for (k = 0; k < n; k++)
		acc |= x[k] ^ y[k];
	return acc == 0;
}

/* Byte offsets into the packet. A cursor only moves forward and never past
 * end; every reader checks the bytes it needs before it advances. Offsets
 * (not packet pointers) because the payload is read with
 * bpf_skb_load_bytes: it works on non-linear skbs and the helper checks the
 * range at run time, so the verifier needs no packet-range proofs. */
struct moq_cursor {
	__u32 off;
	__u32 end;
};

/* What the L2-L4 parse learns. */
struct moq_flow {
	__u32 l3_off;
	__u32 l4_off;
	__u8 family; /* MOQ_AF_* */
	__u8 vlan;   /* an in-packet 802.1Q tag was skipped */
	__u16 sport_be;
	__u8 saddr[16]; /* source address (IPv4 in the first 4 bytes) */
};

/* What the packet parser learns; shared by ingress and egress. */
struct moq_pkt {
	struct moq_flow flow; /* Ethernet, IP, UDP */
	__u32 pay_off;	      /* first frame byte (after the 13-byte short header) */
	__u32 tag_off;	      /* the 16-byte tag; frames end here */
	__u32 media_off;      /* STREAM / DATAGRAM frame type byte */
	__u32 sid_off;	      /* STREAM: 4-byte stream id varint */
	__u32 data_off;	      /* stream data / datagram payload */
	__u32 data_len;
	__u64 stream_id;
	__u64 offset;
	__u32 conn_id; /* upstream connection from the DCID */
	__u8 is_datagram;
	__u8 fin;
	/* MoQT header (SUBGROUP_HEADER at offset 0, or OBJECT_DATAGRAM) */
	__u8 has_moq_hdr;
	__u8 moq_type;
	__u8 alias_len;
	__u8 has_prio;
	__u8 prio;
	__u8 pad0;
	__u32 alias_off;
	__u32 moq_hdr_len;
	__u64 alias;
	__u64 group;
	__u64 subgroup; /* subgroup id (stream) / object id (datagram) */
};

#endif
