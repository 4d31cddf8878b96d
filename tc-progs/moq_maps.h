/* Map key/value layouts shared by the tc BPF fast path (tc-progs/relay.bpf.c),
 * the agent and the tests. Fixed-width linux/types.h types only, no padding
 * holes (explicit pad fields), so BPF and userspace agree byte for byte.
 *
 * The agent MUST check moq_config.layout_version == MOQ_MAPS_LAYOUT_VERSION
 * (the programs refuse to forward while it differs) and must re-attach every
 * program with fresh pins after any change to this file.
 *
 * Byte order: fields named *_be are network byte order (copied straight into
 * packets); everything else is host order.
 */
#ifndef MOQ_MAPS_H
#define MOQ_MAPS_H

#include <linux/types.h>

#define MOQ_MAPS_LAYOUT_VERSION 13

/* Pin directory used by tc (LIBBPF_PIN_BY_NAME under tc's bpffs root). */
#define MOQ_PIN_DIR "/sys/fs/bpf/tc/globals"

/* skb->mark of a clone made by the upstream ingress program:
 * MOQ_MARK_MAGIC | subscriber slot. The egress program acts only on marks
 * whose upper 16 bits equal the magic, and clears the mark. */
#define MOQ_MARK_MAGIC 0x4d510000u /* "MQ" */
#define MOQ_MARK_MAGIC_MASK 0xffff0000u
#define MOQ_MARK_SLOT_MASK 0x0000ffffu
/* skb->mark of a protected upstream packet, restored after its fan-out,
 * that the upstream ingress program re-injects for the agent ("MP"): the
 * program clears it and passes the packet untouched
 * (docs/fast-path-tls-upstream.md). */
#define MOQ_MARK_PASS 0x4d500000u

#define MOQ_CID_LEN 8
#define MOQ_PN_LEN 4
#define MOQ_SHORT_HDR_LEN (1 + MOQ_CID_LEN + MOQ_PN_LEN) /* 13 */
#define MOQ_TAG_LEN 16
/* docs/plaintext-profile.md: the AEAD tag of the null packet protection. */
#define MOQ_PLAINTEXT_TAG "moq-plaintext-v1"

#define MOQ_MAX_SUBSCRIBERS 4096 /* subscriber slots (= downstream conns) */
/* relay-side CIDs per slot in moq_sub_by_cid: ngtcp2 issues at most 8 to a
 * peer (its SCID pool); with one entry per slot the map filled at ~1,000
 * subscribers (4 CIDs each) and the rest's ACKs bypassed the kernel as
 * sub_unknown (issue 18, fifth round) */
#define MOQ_SUB_CIDS_PER_SLOT 8
#define MOQ_MAX_SUB_CIDS (MOQ_MAX_SUBSCRIBERS * MOQ_SUB_CIDS_PER_SLOT)
#define MOQ_MAX_FANOUT 4096 /* subscribers of one track */
/* publisher CIDs: --max-sessions' default (1000) x the CIDs the agent
 * registers per connection (8) */
#define MOQ_MAX_UPSTREAMS 8192
#define MOQ_MAX_TRACKS 16384
#define MOQ_MAX_UP_STREAMS 65536
#define MOQ_MAX_DOWN_STREAMS 262144
/* (slot, track) pairs: at least --max-sessions x --max-subscriptions with
 * the defaults (1000 x 100); the agent serves any beyond in userspace */
#define MOQ_MAX_SUBSCRIPTIONS 131072
#define MOQ_PRIO_CLASSES 8 /* gate class = publisher priority >> 5 */
#define MOQ_EVENTS_BYTES (1u << 20)

/* Address families in moq_upstream / moq_subscriber. */
#define MOQ_AF_INET 4
#define MOQ_AF_INET6 6

/* ---- moq_config (ARRAY, 1 entry, key 0) -------------------------------- */
#define MOQ_CFG_F_ENABLED 0x1u
struct moq_config {
	__u32 layout_version;	    /* == MOQ_MAPS_LAYOUT_VERSION or no forwarding */
	__u32 flags;		    /* MOQ_CFG_F_* */
	__u64 heartbeat_ns;	    /* agent's last bpf_ktime (CLOCK_MONOTONIC) */
	__u64 heartbeat_timeout_ns; /* stale after this; 0 = stale */
	__u32 generation;	    /* agent run; entries with another one are ignored */
	__u16 relay_port_be;	    /* UDP port the relay listens on */
	/* local UDP port of the relay's own client connection to its
	 * --upstream relay (0: none): media from there is cloned too */
	__u16 up_port_be;
};

/* ---- moq_upstreams (HASH) DCID -> publisher connection ------------------ */
struct moq_cid {
	__u8 cid[MOQ_CID_LEN];
};

struct moq_upstream {
	__u32 conn_id;	  /* agent's id of the publisher connection */
	__u32 generation; /* must equal moq_config.generation */
	__u8 family;	  /* MOQ_AF_INET / MOQ_AF_INET6 */
	__u8 flags;	  /* MOQ_UP_F_* */
	__u16 sport_be;	  /* publisher's UDP source port */
	__u32 pad1;
	__u8 saddr[16]; /* publisher's address (IPv4 in the first 4 bytes) */
	__u8 daddr[16]; /* the relay's address it sends to (MOQ_UP_F_DADDR) */
};
#define MOQ_UP_F_DADDR 0x1u /* daddr is set: packets to another address are not cloned */
/* the connection's peer is the server (the relay's --upstream connection):
 * its media streams are server-initiated unidirectional (id & 3 == 3) */
#define MOQ_UP_F_PEER_SERVER 0x2u
/* the connection's 1-RTT packets are protected (TLS, AES-128-GCM): the
 * ingress program opens them with the keys in moq_tls_keys first */
#define MOQ_UP_F_TLS 0x4u

/* ---- moq_pn_windows (HASH) upstream conn_id -> packets seen ------------- */
/* Which packet numbers of an upstream connection the ingress program has
 * seen: a packet is cloned only when its number is new (ngtcp2 discards a
 * duplicate; a clone of it would reach the subscribers anyway). The agent
 * writes a zeroed entry when it registers the connection (this also resets
 * it; a TLS upstream's is seeded with the largest number the relay's QUIC
 * stack accepted, all numbers up to it seen) and deletes it with the
 * connection. slot[i] covers the 32-PN block b
 * with b % MOQ_PN_SLOTS == i: (b + 1) << 32 | one bit per PN of the block;
 * both sides of a race update it with compare-and-swap. */
#define MOQ_PN_SLOTS 8
/* The window: the blocks of the largest number seen and the 7 before it,
 * so 225 to 256 packets; older ones are not new. */
#define MOQ_PN_WINDOW (MOQ_PN_SLOTS * 32)
struct moq_pn_window {
	__u64 next;	  /* largest full packet number seen + 1; 0: none yet */
	__u32 generation; /* must equal moq_config.generation */
	__u32 pad0;
	__u64 slot[MOQ_PN_SLOTS];
};

/* ---- moq_up_streams (LRU_HASH) upstream stream state -------------------- */
struct moq_up_stream_key {
	__u32 conn_id;
	__u32 pad0;
	__u64 stream_id;
};

struct moq_up_stream {
	__u64 track_alias;
	__u64 group;
	__u64 subgroup;
	__u8 priority; /* publisher priority (header or track default) */
	__u8 hdr_type; /* SUBGROUP_HEADER type */
	__u16 pad0;
	__u32 hdr_len; /* bytes of SUBGROUP_HEADER at stream offset 0 */
};

/* ---- moq_tracks (HASH) (upstream conn, track alias) -> subscriber set --- */
struct moq_track_key {
	__u32 conn_id;
	__u32 pad0;
	__u64 track_alias; /* upstream (publisher) alias */
};

struct moq_track_subs {
	__u32 count;	       /* valid entries in slots[] (<= MOQ_MAX_FANOUT) */
	__u8 default_priority; /* when the header omits Publisher Priority */
	__u8 pad0[3];
	__u32 slots[MOQ_MAX_FANOUT];
};

/* ---- moq_subscribers (ARRAY, MOQ_MAX_SUBSCRIBERS) one downstream conn --- */
#define MOQ_SUB_F_ACTIVE 0x1u
#define MOQ_SUB_F_L2_LEARNED 0x2u /* set by the subscriber ingress program */
/* TLS connection (AES-128-GCM): the egress program seals every clone with
 * the slot's keys in moq_tls_keys (none: dropped, MOQ_R_NO_KEYS); the
 * subscriber ingress program leaves its packets to the agent */
#define MOQ_SUB_F_TLS 0x4u
struct moq_subscriber {
	__u32 flags;	  /* MOQ_SUB_F_*; inactive slots are skipped */
	__u32 generation; /* must equal moq_config.generation */
	__u32 ifindex;	  /* relay interface towards the subscriber */
	__u8 family;	  /* must equal the upstream packet's family */
	__u8 pad0;
	__u16 vlan_id;		/* 0: untagged; else 802.1Q tag pushed on egress */
	__u8 eth_src[6];	/* relay MAC on ifindex (learned or agent-set) */
	__u8 eth_dst[6];	/* subscriber (next hop) MAC (learned or agent-set) */
	__u16 sport_be;		/* relay's UDP port for this connection */
	__u16 dport_be;		/* subscriber's UDP port */
	__u8 saddr[16];		/* relay address (IPv4 in the first 4 bytes) */
	__u8 daddr[16];		/* subscriber address */
	__u8 dcid[MOQ_CID_LEN]; /* subscriber's CID (DCID of packets to it) */
	__u8 scid[MOQ_CID_LEN]; /* relay's CID (DCID of packets from it) */
};

/* ---- moq_sub_by_cid (HASH) relay-side CID -> slot (subscriber ingress) -- */
/* key: struct moq_cid, value: __u32 slot */

/* ---- moq_subscriptions (HASH) (slot, upstream conn, alias) -> downstream  */
struct moq_subscription_key {
	__u32 slot;
	__u32 conn_id;
	__u64 track_alias; /* upstream alias */
};

struct moq_subscription {
	__u64 track_alias; /* downstream alias written into the clone */
	/* the subscriber's filter starts at this group: streams (their
	 * offset 0) and datagrams of earlier groups are not for it (0: all) */
	__u64 start_group;
};

/* ---- moq_down_streams (LRU_HASH) per-subscriber stream mapping ---------- */
struct moq_down_stream_key {
	__u32 slot;
	__u32 conn_id;
	__u64 up_stream_id;
};

#define MOQ_DS_F_RESET 0x1u /* gate dropped a packet: drop the rest */
#define MOQ_DS_NONE (~0ull) /* reset before a downstream id was taken */
struct moq_down_stream {
	__u64 stream_id; /* downstream stream id or MOQ_DS_NONE */
	__u32 flags;	 /* MOQ_DS_F_* */
	__u32 pad0;
	__u64 reset_offset; /* upstream stream offset of the first drop */
};

/* ---- moq_conn_seq (ARRAY, BPF_F_MMAPABLE, MOQ_MAX_SUBSCRIBERS) ----------
 * Shared with the agent through mmap; both sides take values with an atomic
 * fetch-and-add, so the fields stay 8-byte aligned and alone in the struct. */
struct moq_conn_seq {
	__u64 next_pn;	/* next 1-RTT packet number of the connection */
	__u64 next_uni; /* n of the next media uni stream id 4n+3 */
	__u64 max_uni;	/* n must stay below this (peer's MAX_STREAMS); 0 = 2^28 */
	__u64 pad0;
};

/* ---- moq_gate (ARRAY, BPF_F_MMAPABLE, MOQ_MAX_SUBSCRIBERS) ----------------
 * Congestion gate. budget is a byte credit the agent adds to atomically; the
 * egress program subtracts wire bytes. A packet of priority class c (publisher
 * priority >> 5; 0 is most important) passes only when the budget left after
 * it is >= threshold[c]. enabled == 0: no gating. */
struct moq_gate {
	__s64 budget;
	__u32 enabled;
	__u32 pad0;
	__s64 threshold[MOQ_PRIO_CLASSES];
};

/* ---- moq_credit (ARRAY, BPF_F_MMAPABLE, MOQ_MAX_SUBSCRIBERS) --------------
 * QUIC flow-control credit of a subscriber connection (issue 17 finding
 * 2b): the egress program never forwards stream bytes beyond it. conn is the
 * connection credit (MAX_DATA) left to the media plane: the agent adds what
 * it reserves (fp_ackxlate media_reserved) and settles every stream's real
 * use (highest offset) with atomic adds; the egress program takes a
 * forwarded STREAM frame's length (and gives it back when it cannot send).
 * stream0 is the subscriber's initial_max_stream_data_uni: the credit of a
 * downstream stream without a moq_stream_credit entry. enabled == 0: no
 * credit checks. */
struct moq_credit {
	__s64 conn;
	__u64 stream0;
	__u32 enabled;
	__u32 pad0;
	__u64 pad1;
};

/* ---- moq_stream_credit (HASH) struct moq_down_stream_key -> __u64 --------
 * The subscriber's MAX_STREAM_DATA for the downstream stream of (slot,
 * upstream stream), written by the agent only (absent: moq_credit.stream0).
 * The egress program forwards bytes [offset, offset + len) of the stream
 * only when offset + len <= it (the subgroup header keeps its length in the
 * rewrite, so upstream and downstream offsets are equal). */

/* ---- moq_clone_cache (ARRAY, BPF_F_MMAPABLE, MOQ_MAX_SUBSCRIBERS *
 * MOQ_CLONE_CACHE_WAYS) --------------------------------------------------
 * What the egress program needs per clone from the three hash maps above
 * (moq_subscriptions, moq_down_streams, moq_stream_credit: a cache miss
 * each over 1,000 subscribers, issue 18), copied into one cache line of
 * the slot by the egress program itself; entry slot * WAYS + (upstream
 * alias & (WAYS - 1)). The hash maps stay the source of truth:
 *  - gen is bumped (atomic add, through the mmap) by every writer of the
 *    slot's entries in those maps, after the write: the agent's
 *    fp_mapwrite (subscriptions, down streams, stream credit, a slot's
 *    purge or re-registration) and the egress program when it marks a
 *    stream reset;
 *  - the program reads gen before its hash lookups and stores it as
 *    filled_gen with what it found; an entry is used only while gen ==
 *    filled_gen, so a write after the lookups leaves it unused until the
 *    next fill;
 *  - seq is a sequence lock between CPUs: odd while one fills (a CPU that
 *    finds it odd neither fills nor uses it); a reader uses what it copied
 *    only if seq is the same even value before and after.
 * Only a forwarded clone fills an entry, so a cached stream always has its
 * downstream id and no reset mark. */
#define MOQ_CLONE_CACHE_WAYS 2
#define MOQ_CC_F_VALID 0x1u  /* filled */
#define MOQ_CC_F_STREAM 0x2u /* a stream's: up_stream_id and down_sid */
#define MOQ_CC_F_CREDIT 0x4u /* the stream has a moq_stream_credit entry */
struct moq_clone_cache {
	__u32 seq;	    /* even: stable; odd: a CPU is filling */
	__u32 gen;	    /* bumped after each write of the slot's hash entries */
	__u32 filled_gen;   /* gen as read before the lookups of the fill */
	__u32 conn_id;	    /* key: upstream connection */
	__u64 track_alias;  /* key: upstream alias */
	__u64 up_stream_id; /* key (MOQ_CC_F_STREAM): upstream stream */
	__u64 sub_alias;    /* moq_subscription.track_alias */
	__u64 start_group;  /* moq_subscription.start_group */
	__u64 credit_max;   /* the moq_stream_credit value (MOQ_CC_F_CREDIT) */
	__u32 down_sid;	    /* moq_down_stream.stream_id (< 2^30) */
	__u32 flags;	    /* MOQ_CC_F_* */
};

/* ---- moq_acks (ARRAY, BPF_F_MMAPABLE, MOQ_MAX_SUBSCRIBERS) ---------------
 * Media ACKs consumed by the subscriber ingress program
 * (docs/fast-path.md "Media ACKs in the kernel"). The agent publishes which
 * wire packet numbers of ngtcp2's ack-eliciting packets are still
 * unacknowledged (guard); the kernel drops a packet that carries nothing
 * but one ACK frame (and PADDING) acknowledging none of them, after writing
 * the frame into the slot's record ring. Single producer per record (a
 * cmpxchg on head reserves it, seq commits it), single consumer (tail). */
#define MOQ_ACK_RING 16	       /* records per slot (power of two) */
#define MOQ_ACK_REC_RANGES 8   /* ACK ranges a record holds; more: passed */
#define MOQ_ACK_GUARD_WORDS 16 /* guard bitmap: 1024 packet numbers */
#define MOQ_ACK_GUARD_BITS (MOQ_ACK_GUARD_WORDS * 64)
/* a packet of an enabled slot reaches the agent at least this often
 * (ngtcp2's idle timer counts from received packets), unless the agent set
 * the slot's own period (moq_acks.pass_ms) */
#define MOQ_ACK_PASS_NS 250000000ull
/* ... and whenever its gate budget is below this many bytes: its ACKs
 * must reach the agent now to refill the gate, not at the next tick */
#define MOQ_ACK_GATE_LOW 16384
#define MOQ_ACK_REC_F_ECN 0x1u /* ACK_ECN: ecn[] valid */
/* the ACK frame was followed by a PING: pn holds the packet's number field,
 * which ngtcp2 must still acknowledge (the agent feeds it a PING) */
#define MOQ_ACK_REC_F_PING 0x2u
/* moq_acks.enabled bits */
#define MOQ_ACKS_EN_ACK 0x1u  /* consume pure media ACKs */
#define MOQ_ACKS_EN_PING 0x2u /* also ACK + PING (with ACK) */

struct moq_ack_range {
	__u64 lo, hi; /* acknowledged wire packet numbers lo..hi */
};

struct moq_ack_rec {
	__u64 seq;	     /* record index + 1 once written (commit) */
	__u64 ts_ns;	     /* bpf_ktime_get_ns() at receive */
	__u64 largest;	     /* Largest Acknowledged */
	__u64 ack_delay_raw; /* ACK Delay field as received */
	__u64 ecn[3];	     /* ECT0, ECT1, CE (MOQ_ACK_REC_F_ECN) */
	__u32 nranges;	     /* ranges[] used, 1..MOQ_ACK_REC_RANGES, descending */
	__u32 flags;	     /* MOQ_ACK_REC_F_* */
	struct moq_ack_range ranges[MOQ_ACK_REC_RANGES];
	__u64 pn; /* MOQ_ACK_REC_F_PING: the 4-byte packet number field */
};

struct moq_acks {
	/* agent-written */
	__u32 enabled;	   /* 0: the kernel consumes nothing for this slot */
	__u32 pass_ms;	   /* pass a packet at least this often; 0: MOQ_ACK_PASS_NS */
	__u64 tail;	   /* records the agent has read */
	__u64 guard_floor; /* guarded numbers lie in [floor, floor + 1024) */
	__u64 guard[MOQ_ACK_GUARD_WORDS]; /* bit pn % 1024: ngtcp2 must see its ACK */
	/* kernel-written */
	__u64 head;	    /* records reserved */
	__u64 last_pass_ns; /* last packet of the slot left to the agent */
	struct moq_ack_rec rec[MOQ_ACK_RING];
};

/* ---- moq_sub_stats (PERCPU_ARRAY, MOQ_MAX_SUBSCRIBERS) ------------------- */
struct moq_sub_stats {
	__u64 rx_packets; /* from the subscriber (subscriber ingress) */
	__u64 rx_bytes;
	__u64 tx_packets; /* forwarded by the egress program */
	__u64 tx_bytes;
	__u64 drop_packets; /* dropped by the gate / stream reset */
	__u64 drop_bytes;
};

/* ---- moq_tls_keys (HASH, BPF_F_NO_PREALLOC) QUIC 1-RTT keys ----------------
 * One AES-128-GCM key set of one direction and key phase
 * (docs/fast-path-tls-kernel.md): a subscriber slot's tx keys (kind SUB,
 * id = slot, both phases so a key update switches atomically through
 * moq_tls_sel) or an upstream connection's rx keys (kind UP, id = conn_id,
 * phase 0 and 1). Written only by agent/lib/fp_keys.c: the bytes with an
 * in-place BPF_F_LOCK update, the cipher contexts (kptrs to ecb(aes)
 * bpf_crypto_ctx, created from the key bytes, which are not stored) by the
 * syscall program tc-progs/tls_keys.bpf.c. A set without both contexts is
 * not usable. ~8 KiB per set (the GHASH table), allocated on use. */
#define MOQ_TLS_KIND_SUB 0
#define MOQ_TLS_KIND_UP 1
/* a subscriber slot's rx keys (its client->server packets), id = slot,
 * only the layer's current rx phase: the subscriber ingress opens its
 * small packets to consume media ACKs (docs/fast-path-tls.md) */
#define MOQ_TLS_KIND_SUB_RX 2
#define MOQ_MAX_TLS_KEYSETS (3 * MOQ_MAX_SUBSCRIBERS + 2 * 1024)
struct moq_tls_key_id {
	__u32 id; /* subscriber slot or upstream conn_id */
	__u8 kind;
	__u8 phase; /* 0 or 1 */
	__u16 pad0;
};

#ifdef __bpf__
struct bpf_crypto_ctx {
	int opaque; /* the kernel's type, matched by name */
};
/* clang 14 drops the kptr type tag of a pointer to a struct that is also
 * used untagged (the kfuncs): tagging a typedef of it keeps the tag */
typedef struct bpf_crypto_ctx moq_crypto_ctx_t;
#define MOQ_KPTR(name) moq_crypto_ctx_t __attribute__((btf_type_tag("kptr"))) * name
#define MOQ_SPIN_LOCK(name) struct bpf_spin_lock name
#else
#define MOQ_KPTR(name) __u64 name
#define MOQ_SPIN_LOCK(name) __u32 name
#endif

#define MOQ_GHASH_TABLE_U64 (32 * 16 * 2)
struct moq_keyset {
	MOQ_KPTR(aes);	     /* ecb(aes) with the packet protection key */
	MOQ_KPTR(hp);	     /* ecb(aes) with the header protection key */
	MOQ_SPIN_LOCK(lock); /* only for fp_keys' BPF_F_LOCK in-place writes */
	__u8 phase;	     /* key phase bit of this set */
	__u8 pad0[3];
	__u8 iv[12];
	__u32 pad1;
	__u8 check[16]; /* fingerprint of key, iv, hp (fp_keys: skip rewrites) */
	/* GHASH: X * H = XOR over p of ghash[(p * 16 + N[p]) * 2 .. + 2], N[p]
	 * nibble p of the block (byte p / 2, the low nibble for even p);
	 * entries are 16-byte blocks in wire order */
	__u64 ghash[MOQ_GHASH_TABLE_U64];
};

/* Argument of the syscall program tc-progs/tls_keys.bpf.c (run by
 * fp_keys with bpf_prog_test_run): INSTALL creates the two contexts of an
 * existing moq_tls_keys entry from key and hp (replacing any) and, with
 * select, then points moq_tls_sel[id.id] at it; RELEASE drops the
 * entry's contexts. The program zeroes key and hp before it returns. */
#define MOQ_TLS_OP_INSTALL 1
#define MOQ_TLS_OP_RELEASE 2
struct moq_tls_install {
	struct moq_tls_key_id id;
	__u32 op;
	__u32 select;
	__u8 key[16];
	__u8 hp[16];
	__s32 err; /* out: 0 or -errno */
	__u32 pad0;
};

/* ---- moq_open_prog (PROG_ARRAY, 1) the TLS subscriber ingress' opener --
 * tc/subscriber_ingress tail-calls entry 0 (tls_keys.bpf.c,
 * moq_subscriber_open, installed by fp_keys) for a MOQ_SUB_F_TLS slot's
 * packet of at most MOQ_SUB_OPEN_MAX UDP payload bytes, with skb->cb[0] =
 * slot, cb[1] / cb[2] = the UDP payload's start / end. The opener's
 * per-slot rx packet-number window (struct moq_pn_window, generation
 * unused) is moq_sub_rxwin in tls_keys.bpf.o (mmapable, not pinned: it
 * lives with the agent's object). */
#define MOQ_SUB_OPEN_MAX 256

/* ---- moq_tls_sel (ARRAY, MOQ_MAX_SUBSCRIBERS) slot -> its tx key set ----
 * 0: none (a TLS slot's clones are dropped, MOQ_R_NO_KEYS), else the key
 * phase + 1 of the set in moq_tls_keys to seal with. */

/* ---- moq_stats (PERCPU_ARRAY) key = prog * MOQ_R_MAX + reason ----------- */
/* Programs, in stats-key order: X(ID, "name") gives MOQ_PROG_ID. */
#define MOQ_PROGS(X)                                                                               \
	X(UPSTREAM_INGRESS, "upstream_ingress")                                                    \
	X(SUBSCRIBER_EGRESS, "subscriber_egress")                                                  \
	X(SUBSCRIBER_INGRESS, "subscriber_ingress")

#define MOQ_PROG_ENUM(id, name) MOQ_PROG_##id,
enum moq_prog {
	MOQ_PROGS(MOQ_PROG_ENUM) MOQ_PROG_MAX,
};
#undef MOQ_PROG_ENUM

/* Drop/skip reasons, in stats-key order: X(ID, "name") gives MOQ_R_ID.
 * The names are the metrics labels and moq-relayctl's words
 * (agent/lib/fp_names.c). A new reason goes at the end. */
#define MOQ_REASONS(X)                                                                             \
	X(FORWARDED, "forwarded")     /* ingress: fanned out; egress: rewritten+sent */            \
	X(STALE_AGENT, "stale_agent") /* heartbeat stale / layout mismatch / disabled */           \
	X(NOT_IP, "not_ip")	      /* not IPv4/IPv6 (after at most one VLAN tag) */             \
	X(IP_OPTIONS, "ip_options")   /* IPv4 options, fragments, IPv6 ext headers */              \
	X(NOT_UDP, "not_udp")                                                                      \
	X(WRONG_PORT, "wrong_port")	  /* UDP dport != relay port */                            \
	X(TRUNCATED, "truncated")	  /* packet shorter than a fixed header */                 \
	X(LONG_HEADER, "long_header")	  /* QUIC long header (handshake etc.) */                  \
	X(NOT_PLAINTEXT, "not_plaintext") /* fixed bit clear or tag mismatch */                    \
	X(PN_LEN, "pn_len")		  /* packet number not 4 bytes */                          \
	X(UNKNOWN_DCID, "unknown_dcid")                                                            \
	X(WRONG_SOURCE, "wrong_source") /* source address/port not the upstream's */               \
	X(BAD_VARINT, "bad_varint")	/* a varint runs past its frame / packet */                \
	X(BAD_FRAME, "bad_frame")	/* frame type other than PADDING/ACK/STREAM/DATAGRAM */    \
	X(TOO_MANY_FRAMES, "too_many_frames") /* more leading PADDING/ACK than the walk bound */   \
	X(ACK_RANGES, "ack_ranges")	      /* ACK with more ranges than MOQ_MAX_ACK_RANGES */   \
	X(NO_MEDIA_FRAME, "no_media_frame")   /* no STREAM or DATAGRAM frame */                    \
	X(TRAILING_FRAME, "trailing_frame")   /* non-PADDING after the STREAM/DATAGRAM frame */    \
	X(NOT_CLIENT_UNI, "not_client_uni")   /* stream id not the peer's uni (& 3) */             \
	X(STREAM_ID_WIDTH, "stream_id_width") /* stream id not a 4-byte varint */                  \
	X(BAD_SUBGROUP_HEADER, "bad_subgroup_header") /* bad type or header not in this packet */  \
	X(BAD_DATAGRAM, "bad_datagram")		      /* bad OBJECT_DATAGRAM type or header */     \
	X(STREAM_START_UNSEEN, "stream_start_unseen") /* offset > 0 and offset 0 never seen */     \
	X(NO_SUBSCRIBERS, "no_subscribers")                                                        \
	X(MTU, "mtu")			      /* per clone: too big for the subscriber's device */ \
	X(REDIRECT_FAILED, "redirect_failed") /* per clone */                                      \
	X(SUB_INACTIVE, "sub_inactive")	      /* per clone / egress: slot not active */            \
	X(FAMILY_MISMATCH, "family_mismatch") /* per clone: subscriber on other family */          \
	X(NOT_MARKED, "not_marked")	      /* egress: not a fast-path clone */                  \
	X(NO_SUBSCRIPTION, "no_subscription") /* egress: slot not subscribed to the track */       \
	X(GATE_DROP, "gate_drop")	      /* egress: congestion gate */                        \
	X(STREAM_RESET, "stream_reset")	      /* egress: stream reset by an earlier drop */        \
	X(STREAM_UNMAPPED, "stream_unmapped") /* egress: offset > 0 of an unmapped stream */       \
	X(STREAM_LIMIT, "stream_limit")	      /* egress: downstream stream id exhausted */         \
	X(ALIAS_WIDTH, "alias_width")	      /* egress: downstream alias needs more bytes */      \
	X(REWRITE_FAILED, "rewrite_failed")   /* egress: a helper failed mid-rewrite */            \
	X(SUB_RX, "sub_rx")		      /* subscriber ingress: counted */                    \
	X(SUB_UNKNOWN, "sub_unknown") /* subscriber ingress: not a registered subscriber */        \
	X(NO_L2, "no_l2")	      /* per clone / egress: subscriber MAC still unknown */       \
	X(GSO, "gso")		      /* GRO/GSO super-packet: several datagrams in one skb */     \
	X(HEADER_BITS, "header_bits") /* spin, reserved or key-phase bit set (byte != 0x43) */     \
	X(EVENT_LOST, "event_lost") /* egress: moq_events full, event not written (extra count) */ \
	X(BEFORE_START, "before_start") /* egress: group before the subscription's start group */  \
	X(HEADER_MISMATCH,                                                                         \
	  "header_mismatch")	    /* ingress: a stream's start differs from the first */         \
	X(WRONG_DEST, "wrong_dest") /* ingress: destination address not the relay's for it */      \
	X(STREAM_CREDIT, "stream_credit") /* egress: beyond the subscriber's MAX_STREAM_DATA */    \
	X(CONN_CREDIT, "conn_credit")	  /* egress: beyond the media plane's MAX_DATA share */    \
	X(PN_DUPLICATE, "pn_duplicate")	  /* ingress: packet number seen, or below the window */   \
	X(ACK_CONSUMED, "ack_consumed")	  /* subscriber ingress: media ACK recorded, dropped */    \
	X(LOG_FULL, "log_full") /* egress: the slot's moq_sent_log is full (agent behind) */       \
	X(NO_KEYS, "no_keys")	/* TLS slot / upstream without installed keys */                   \
	X(AEAD_OPEN_FAILED, "aead_open_failed") /* ingress: TLS packet's tag does not verify */    \
	X(PASS_COPY,                                                                               \
	  "pass_copy") /* ingress: the agent's copy of a TLS packet, passed untouched */           \
	X(PASS_COPY_FAILED,                                                                        \
	  "pass_copy_failed") /* ingress: TLS packet not saved (passed) or restored (dropped) */   \
	X(CANON_FAILED,                                                                            \
	  "canon_failed") /* ingress: opened TLS packet not rewritten (a helper failed) */         \
	X(SEAL_FAILED,                                                                             \
	  "seal_failed") /* egress: TLS clone with keys not sealed (too long, crypto error) */

#define MOQ_R_ENUM(id, name) MOQ_R_##id,
enum moq_reason {
	MOQ_REASONS(MOQ_R_ENUM) MOQ_R_MAX,
};
#undef MOQ_R_ENUM

#define MOQ_STATS_ENTRIES (MOQ_PROG_MAX * MOQ_R_MAX)

struct moq_stat {
	__u64 packets;
	__u64 bytes;
};

/* ---- moq_events (RINGBUF) exceptions: one per clone not forwarded ------- */
enum moq_verdict {
	MOQ_V_FORWARDED = 0,
	MOQ_V_DROPPED = 1,
};

#define MOQ_EV_KIND_STREAM 0
#define MOQ_EV_KIND_DATAGRAM 1
/* Datagrams (kind MOQ_EV_KIND_DATAGRAM) carry their identity instead of
 * stream fields: up_stream_id = upstream Track Alias, down_stream_id =
 * Object ID, offset = Group ID. */
struct moq_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u64 pn;    /* wire packet number (forwarded), else 0 */
	__u64 up_stream_id;
	__u64 down_stream_id; /* MOQ_DS_NONE when none */
	__u64 offset;	      /* stream offset of the data */
	__u32 slot;
	__u32 conn_id;	/* upstream connection */
	__u32 data_len; /* stream / datagram payload bytes */
	__u32 wire_len; /* bytes on the wire (L2 frame) */
	__u8 fin;
	__u8 verdict; /* enum moq_verdict */
	__u8 reason;  /* enum moq_reason */
	__u8 kind;    /* MOQ_EV_KIND_* */
	__u8 prog;    /* enum moq_prog */
	__u8 pad0[3];
};

/* ---- moq_sent_log (ARRAY, BPF_F_MMAPABLE, MOQ_MAX_SUBSCRIBERS) -----------
 * What the egress program forwarded to a subscriber, read by the agent in
 * bulk through mmap (agent/lib/fp_sentlog.c). Single consumer (the agent),
 * several producers (one per CPU):
 *  - a writer reserves index i = head with a compare-and-swap only while
 *    i - tail < MOQ_SENT_LOG_ENTRIES, so an entry the agent has not read is
 *    never overwritten (no room: the clone is dropped, MOQ_R_LOG_FULL);
 *  - it fills ent[i % N], then publishes it with an atomic add of 1 to
 *    ent.seq: entry i is complete iff seq == i / N + 1 (its lap);
 *  - the agent copies complete entries from tail on and then stores tail.
 * A reserved entry whose clone was not forwarded is published with kind
 * MOQ_SENT_KIND_VOID (the exception event says why). */
#define MOQ_SENT_LOG_ENTRIES 256 /* power of two */
#define MOQ_SENT_KIND_STREAM MOQ_EV_KIND_STREAM
#define MOQ_SENT_KIND_DATAGRAM MOQ_EV_KIND_DATAGRAM
#define MOQ_SENT_KIND_VOID 0xff
/* Field meanings as in struct moq_event (datagrams: up_stream_id = upstream
 * alias, down_stream_id = object id, offset = group id). */
struct moq_sent_ent {
	__u64 seq; /* lap + 1 of the last index published here (written last) */
	__u64 ts_ns;
	__u64 pn;
	__u64 up_stream_id;
	__u64 down_stream_id;
	__u64 offset;
	__u32 conn_id;
	__u32 data_len;
	__u32 wire_len;
	__u8 fin;
	__u8 kind; /* MOQ_SENT_KIND_* */
	__u16 pad0;
};

struct moq_sent_log {
	__u64 head; /* next index to reserve (egress program, CAS) */
	__u64 tail; /* every index below is read (agent) */
	__u64 pad0[6];
	struct moq_sent_ent ent[MOQ_SENT_LOG_ENTRIES];
};

#endif
