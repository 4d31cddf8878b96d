/* Randomized and mutated packets through the fast-path programs
 * (tc-progs/relay.bpf.c) with bpf_prog_test_run_opts, checked against an
 * independent reference parser of docs/plaintext-profile.md and the
 * eligibility rules of docs/fast-path.md written here in plain C.
 *
 * Needs root (BPF). Runs in a private network namespace: clones go to its
 * own loopback, where an AF_PACKET socket counts them (PACKET_OUTGOING), so
 * a clone is observed directly, not only through the FORWARDED counter.
 *
 * Environment:
 *   MOQ_FUZZ_SEED=N     seed (default fixed; the seed used is printed)
 *   MOQ_FUZZ_COUNT=N    packets to generate (default 6000, a few seconds)
 *   MOQ_FUZZ_VERBOSE=1  print every disagreement in full
 *
 * Invariants, per generated packet:
 *  upstream_ingress / relay_ingress: TC_ACT_OK; output byte-identical to the
 *    input; mark unchanged; a clone leaves (and FORWARDED counts) if and
 *    only if the reference parser calls the packet eligible with a
 *    subscriber; every clone is the input byte for byte; exactly one
 *    packet reason is counted; the upstream stream table changes only as
 *    the reference predicts.
 *  subscriber_ingress (and relay_ingress for non-upstream packets): never
 *    changes a subscriber except the MACs of the one whose CID, address and
 *    port the packet carries; counts rx only then.
 *  subscriber_egress: unmarked packets are untouched (TC_ACT_OK); a marked
 *    clone of an eligible packet comes out exactly as the reference rewrite
 *    predicts (addresses, ports, DCID, next packet number, stream id,
 *    ACK/PADDING prefix zeroed, alias) with valid IPv4/UDP checksums, or is
 *    dropped (TC_ACT_SHOT) for the predicted reason; any other marked
 *    packet is TC_ACT_SHOT or TC_ACT_OK, and when it leaves it has the
 *    subscriber's header, valid checksums if the input had them, and is as
 *    well-formed QUIC as the input was.
 */
#include <check.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/bpf_pkt.h"
#include "lib/bpf_relay.h"
#include "moq_maps.h"

#define RELAY_PORT 4443
#define PUB_PORT 5000
#define UP_CONN 7
#define UP_CONN6 8
#define SLOT 3
#define SLOT6 4
#define ALIAS 5
#define DOWN_ALIAS 9
#define ALIAS2 0x20 /* second track: downstream alias needs 2 bytes */
#define DOWN_ALIAS2 0x3fff
#define DEFAULT_COUNT 6000

static struct bpf_relay R;
static int pkt_sock = -1;
static int verbose;

static const uint8_t up_cid[8] = {0xa1, 1, 2, 3, 4, 5, 6, 7};
static const uint8_t up_cid6[8] = {0xa2, 1, 2, 3, 4, 5, 6, 7};
static const uint8_t sub_dcid[8] = {0xb3, 0xb3, 0xb3, 0xb3, 9, 9, 9, 9};
static const uint8_t pub_ip[16] = {10, 0, 0, 1}, relay_ip[16] = {10, 0, 0, 254};
static const uint8_t relay_ip_s[16] = {10, 1, 0, 254}, sub_ip[16] = {10, 1, 0, 3};
static const uint8_t pub_ip6[16] = {0xfd, 0, [15] = 1};
static const uint8_t relay_ip6[16] = {0xfd, 0, [15] = 0xfe};
static const uint8_t relay_ip6_s[16] = {0xfd, 1, [15] = 0xfe};
static const uint8_t sub_ip6[16] = {0xfd, 1, [15] = 3};
static const uint8_t mac_pub[6] = {2, 0, 0, 0, 0, 1}, mac_relay[6] = {2, 0, 0, 0, 0, 0xfe};
static const uint8_t mac_relay_s[6] = {2, 0, 0, 0, 1, 0xfe}, mac_sub[6] = {2, 0, 0, 0, 1, 3};
static const uint8_t tag[16] = "moq-plaintext-v1";

/* ---- random numbers ------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n) /* 0..n-1 */
{
	return n ? (uint32_t)(rnd64() % n) : 0;
}

static int chance(uint32_t pct)
{
	return rnd(100) < pct;
}

/* ---- the relay's state as the reference sees it ------------------------- */

struct ref_up {
	uint8_t cid[8];
	uint32_t conn;
	int family;
	uint16_t sport;
	const uint8_t *saddr;
};

static const struct ref_up ref_ups[2] = {
    {{0xa1, 1, 2, 3, 4, 5, 6, 7}, UP_CONN, 4, PUB_PORT, pub_ip},
    {{0xa2, 1, 2, 3, 4, 5, 6, 7}, UP_CONN6, 6, PUB_PORT, pub_ip6},
};

struct ref_sub {
	uint32_t slot;
	int family;
	uint8_t scid[8]; /* relay-side CID */
	uint16_t dport;	 /* subscriber's port */
	const uint8_t *saddr, *daddr;
	uint8_t eth_src[6], eth_dst[6]; /* learned MACs (model) */
};

static struct ref_sub ref_subs[2];

/* (conn, alias) -> downstream alias and subscriber slot */
struct ref_track {
	uint32_t conn;
	uint64_t alias, down_alias;
	uint32_t slot;
};

static const struct ref_track ref_tracks[] = {
    {UP_CONN, ALIAS, DOWN_ALIAS, SLOT},
    {UP_CONN6, ALIAS, DOWN_ALIAS, SLOT6},
    {UP_CONN, ALIAS2, DOWN_ALIAS2, SLOT},
    {UP_CONN6, ALIAS2, DOWN_ALIAS2, SLOT6},
};
#define N_TRACKS (sizeof(ref_tracks) / sizeof(ref_tracks[0]))

static const struct ref_track *ref_track_find(uint32_t conn, uint64_t alias)
{
	for (size_t i = 0; i < N_TRACKS; i++)
		if (ref_tracks[i].conn == conn && ref_tracks[i].alias == alias)
			return &ref_tracks[i];
	return NULL;
}

static struct ref_sub *ref_sub_by_slot(uint32_t slot)
{
	for (int i = 0; i < 2; i++)
		if (ref_subs[i].slot == slot)
			return &ref_subs[i];
	return NULL;
}

/* Upstream streams whose start the ingress saw: (conn, sid) -> alias. */
#define MAX_STREAMS 8192
struct ref_stream {
	uint32_t conn;
	uint64_t sid, alias;
	uint8_t prio;
	/* the first start's header: a later start must repeat it */
	uint64_t group, subgroup;
	uint8_t type;
	size_t hdr_len;
};
static struct ref_stream ref_streams[MAX_STREAMS];
static int n_ref_streams;

static struct ref_stream *ref_stream_find(uint32_t conn, uint64_t sid)
{
	for (int i = 0; i < n_ref_streams; i++)
		if (ref_streams[i].conn == conn && ref_streams[i].sid == sid)
			return &ref_streams[i];
	return NULL;
}

/* ---- reference parser ------------------------------------------------------ */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 9000 varint at p[*o], bounded by end. -1 if it runs past. */
static int ref_qv(const uint8_t *p, size_t *o, size_t end, uint64_t *v)
{
	size_t n;

	if (*o >= end)
		return -1;
	n = (size_t)1 << (p[*o] >> 6);
	if (n > end - *o)
		return -1;
	*v = p[*o] & 0x3f;
	for (size_t i = 1; i < n; i++)
		*v = *v << 8 | p[*o + i];
	*o += n;
	return (int)n;
}

/* MoQT vi64: the number of leading one bits of the first byte gives the
 * extra bytes (0xff: 8 more, a full 64-bit value). -1 if it runs past. */
static int ref_vi(const uint8_t *p, size_t *o, size_t end, uint64_t *v)
{
	size_t n = 1;
	uint8_t b;

	if (*o >= end)
		return -1;
	b = p[*o];
	while (n < 9 && (b & (0x80 >> (n - 1))))
		n++;
	if (n > end - *o)
		return -1;
	if (n == 9) {
		*v = 0;
	} else {
		*v = b & (0xff >> n);
	}
	for (size_t i = 1; i < n; i++)
		*v = *v << 8 | p[*o + i];
	*o += n;
	return (int)n;
}

/* What the reference learns from a packet. */
/* Packet numbers per upstream connection (index as ref_ups): a number is
 * new when no packet passed the window with it and its 32-number block is
 * less than 8 blocks behind the largest's. Accepted numbers after one that
 * is still in the window lie within 256 of it: the last 1024 suffice. */
#define REF_PN_KEEP 1024
struct ref_pn {
	uint64_t next; /* largest accepted + 1; 0: none */
	uint64_t seen[REF_PN_KEEP];
	uint64_t n;
	uint64_t gen; /* the generator's next number for this connection */
};
static struct ref_pn ref_pns[2];

/* RFC 9000 appendix A.3 with a 32-bit packet number field. */
static uint64_t ref_pn_decode(uint64_t largest, int any, uint32_t wire)
{
	int64_t expected = any ? (int64_t)largest + 1 : 0;
	int64_t win = 1ll << 32, hwin = win / 2;
	int64_t cand = (int64_t)(((uint64_t)expected & ~(uint64_t)(win - 1)) | wire);

	if (cand <= expected - hwin && cand < (1ll << 62) - win)
		return (uint64_t)(cand + win);
	if (cand > expected + hwin && cand >= win)
		return (uint64_t)(cand - win);
	return (uint64_t)cand;
}

static int ref_pn_is_new(int up, uint32_t wire, uint64_t *full)
{
	const struct ref_pn *w = &ref_pns[up];

	*full = ref_pn_decode(w->next - 1, w->next != 0, wire);
	if (w->next && (*full / 32) + 8 <= (w->next - 1) / 32)
		return 0;
	for (uint64_t i = 0; i < w->n && i < REF_PN_KEEP; i++)
		if (w->seen[i] == *full)
			return 0;
	return 1;
}

static void ref_pn_commit(uint32_t conn, uint64_t full)
{
	int up = conn == UP_CONN ? 0 : 1;
	struct ref_pn *w = &ref_pns[up];

	w->seen[w->n++ % REF_PN_KEEP] = full;
	if (full + 1 > w->next)
		w->next = full + 1;
	/* a mutated number that jumped ahead: the generator follows, or
	 * every later packet would be below the window */
	if (w->next > w->gen + 64)
		w->gen = w->next;
}

struct ref_pkt {
	int reason; /* enum moq_reason; MOQ_R_FORWARDED = eligible + subscriber */
	int family, vlan;
	size_t l3, l4, pay, fend; /* frames [pay, fend) */
	size_t media, sid_off, data, data_len, alias_off, alias_len;
	uint32_t conn;
	int pn_take;	  /* passed the window: the program marks pn_full seen */
	uint64_t pn_full; /* the decoded packet number */
	int is_dgram, offset0, has_hdr, learn_stream;
	int ip_len_bad; /* IP total / payload length disagrees with the frame
			   or the UDP length: the relay's IP stack drops it */
	uint64_t sid, offset, alias;
	uint8_t type, moq_type;
	uint64_t group, subgroup; /* of a SUBGROUP_HEADER */
	size_t hdr_len;		  /* its bytes up to the priority */
	const struct ref_track *track;
	/* subscriber side */
	struct ref_sub *sub;
};

/* Ethernet + IP + UDP to the relay port. 0 or a reason. */
static int ref_l2l4(const uint8_t *p, size_t len, struct ref_pkt *r, uint8_t saddr[16],
		    uint16_t *sport, size_t *end)
{
	uint16_t proto;
	size_t ulen;

	if (len < 14)
		return MOQ_R_TRUNCATED;
	proto = rd16(p + 12);
	r->l3 = 14;
	if (proto == 0x8100) {
		if (len < 18)
			return MOQ_R_TRUNCATED;
		proto = rd16(p + 16);
		r->l3 = 18;
		r->vlan = 1;
	}
	memset(saddr, 0, 16);
	if (proto == 0x0800) {
		const uint8_t *ip = p + r->l3;

		r->family = 4;
		if (len < r->l3 + 20)
			return MOQ_R_TRUNCATED;
		if (ip[0] >> 4 != 4)
			return MOQ_R_NOT_IP;
		if ((ip[0] & 0xf) != 5 || (rd16(ip + 6) & 0x3fff))
			return MOQ_R_IP_OPTIONS;
		if (ip[9] != 17)
			return MOQ_R_NOT_UDP;
		memcpy(saddr, ip + 12, 4);
		r->l4 = r->l3 + 20;
	} else if (proto == 0x86dd) {
		const uint8_t *ip = p + r->l3;

		r->family = 6;
		if (len < r->l3 + 40)
			return MOQ_R_TRUNCATED;
		if (ip[0] >> 4 != 6)
			return MOQ_R_NOT_IP;
		if (ip[6] != 17)
			return ip[6] == 6 ? MOQ_R_NOT_UDP : MOQ_R_IP_OPTIONS;
		memcpy(saddr, ip + 8, 16);
		r->l4 = r->l3 + 40;
	} else {
		return MOQ_R_NOT_IP;
	}
	if (len < r->l4 + 8)
		return MOQ_R_TRUNCATED;
	if (rd16(p + r->l4 + 2) != RELAY_PORT)
		return MOQ_R_WRONG_PORT;
	ulen = rd16(p + r->l4 + 4);
	if (ulen < 8 || ulen > len - r->l4)
		return MOQ_R_TRUNCATED;
	*sport = rd16(p + r->l4);
	*end = r->l4 + ulen;
	/* the IP header's own length must hold the UDP datagram and fit the
	 * frame (ip_rcv drops or trims otherwise); Ethernet padding after it
	 * is fine */
	if (r->family == 4) {
		size_t tot = rd16(p + r->l3 + 2);
		r->ip_len_bad = tot < 28 || r->l3 + tot > len || ulen > tot - 20;
	} else {
		size_t plen = rd16(p + r->l3 + 4);
		r->ip_len_bad = r->l3 + 40 + plen > len || ulen > plen;
	}
	return r->ip_len_bad ? MOQ_R_TRUNCATED : 0;
}

/* SUBGROUP_HEADER (stream) or OBJECT_DATAGRAM header in [o, end). */
static int ref_moq_header(const uint8_t *p, size_t o, size_t end, struct ref_pkt *r)
{
	uint64_t t, v;
	size_t start = o;
	int n;

	if (ref_vi(p, &o, end, &t) < 0)
		return MOQ_R_BAD_VARINT;
	if (r->is_dgram) {
		/* 0b00X0XXXX, not STATUS (0x20) with END_OF_GROUP (0x02) */
		if (t > 0x3f || (t & 0x10) || (t & 0x22) == 0x22)
			return MOQ_R_BAD_DATAGRAM;
	} else {
		/* 0b0XX1XXXX, SUBGROUP_ID_MODE (bits 1-2) != 0b11 */
		if (t > 0x7f || !(t & 0x10) || (t & 0x06) == 0x06)
			return MOQ_R_BAD_SUBGROUP_HEADER;
	}
	r->moq_type = (uint8_t)t;
	r->alias_off = o;
	n = ref_vi(p, &o, end, &r->alias);
	if (n < 0)
		return MOQ_R_BAD_VARINT;
	r->alias_len = (size_t)n;
	if (ref_vi(p, &o, end, &v) < 0) /* group */
		return MOQ_R_BAD_VARINT;
	r->group = v;
	r->subgroup = 0;
	if (r->is_dgram) {
		if (!(t & 0x04) && ref_vi(p, &o, end, &v) < 0) /* object id */
			return MOQ_R_BAD_VARINT;
		if (!(t & 0x08) && o >= end) /* publisher priority */
			return MOQ_R_BAD_DATAGRAM;
		return 0;
	}
	if ((t & 0x06) == 0x04) { /* subgroup id */
		if (ref_vi(p, &o, end, &v) < 0)
			return MOQ_R_BAD_VARINT;
		r->subgroup = v;
	}
	if (!(t & 0x20)) {
		if (o >= end)
			return MOQ_R_BAD_SUBGROUP_HEADER;
		o++;
	}
	r->hdr_len = o - start;
	/* mode 0b01: the subgroup id is the first object's id: its delta
	 * must be in this packet */
	if ((t & 0x06) == 0x02) {
		if (ref_vi(p, &o, end, &v) < 0)
			return MOQ_R_BAD_SUBGROUP_HEADER;
		r->subgroup = v;
	}
	return 0;
}

/* docs/fast-path.md "Eligibility (upstream ingress)", steps 3-13 (the
 * agent is alive, no GSO). */
static int ref_upstream(const uint8_t *p, size_t len, struct ref_pkt *r)
{
	const struct ref_up *up = NULL;
	uint8_t saddr[16];
	uint16_t sport;
	size_t o, end, start;
	uint64_t v, count;
	int rc, iter, found = 0;

	memset(r, 0, sizeof(*r));
	rc = ref_l2l4(p, len, r, saddr, &sport, &end);
	if (rc)
		return rc;
	o = r->l4 + 8;
	if (end - o < 13 + 1 + 16) {
		if (o < end && (p[o] & 0x80))
			return MOQ_R_LONG_HEADER;
		return MOQ_R_TRUNCATED;
	}
	if (p[o] & 0x80)
		return MOQ_R_LONG_HEADER;
	if (!(p[o] & 0x40))
		return MOQ_R_NOT_PLAINTEXT;
	if ((p[o] & 0x03) != 0x03)
		return MOQ_R_PN_LEN;
	if (p[o] != 0x43)
		return MOQ_R_HEADER_BITS;
	for (int i = 0; i < 2; i++)
		if (!memcmp(p + o + 1, ref_ups[i].cid, 8))
			up = &ref_ups[i];
	if (!up)
		return MOQ_R_UNKNOWN_DCID;
	if (up->family != r->family || up->sport != sport ||
	    memcmp(up->saddr, saddr, r->family == 4 ? 4 : 16))
		return MOQ_R_WRONG_SOURCE;
	r->conn = up->conn;
	if (memcmp(p + end - 16, tag, 16))
		return MOQ_R_NOT_PLAINTEXT;
	if (!ref_pn_is_new(up == &ref_ups[0] ? 0 : 1,
			   (uint32_t)rd16(p + o + 9) << 16 | rd16(p + o + 11), &r->pn_full))
		return MOQ_R_PN_DUPLICATE;
	r->pn_take = 1;
	r->pay = o + 13;
	r->fend = end - 16;

	/* [PADDING | ACK]*: at most 16 steps (a step: one ACK or up to 8
	 * PADDING bytes), media frame within 256 bytes */
	o = start = r->pay;
	for (iter = 0; iter < 16 && !found; iter++) {
		if (o >= r->fend)
			return MOQ_R_NO_MEDIA_FRAME;
		if (o - start > 256)
			return MOQ_R_TOO_MANY_FRAMES;
		uint8_t b = p[o];
		if (b == 0x00) {
			for (int k = 0; k < 8 && o < r->fend && p[o] == 0; k++)
				o++;
		} else if (b == 0x02 || b == 0x03) {
			o++;
			if (ref_qv(p, &o, r->fend, &v) < 0 || ref_qv(p, &o, r->fend, &v) < 0 ||
			    ref_qv(p, &o, r->fend, &count) < 0 || ref_qv(p, &o, r->fend, &v) < 0)
				return MOQ_R_BAD_VARINT;
			if (count > 16)
				return MOQ_R_ACK_RANGES;
			for (uint64_t k = 0; k < 2 * count; k++)
				if (ref_qv(p, &o, r->fend, &v) < 0)
					return MOQ_R_BAD_VARINT;
			if (b == 0x03)
				for (int k = 0; k < 3; k++)
					if (ref_qv(p, &o, r->fend, &v) < 0)
						return MOQ_R_BAD_VARINT;
		} else if ((b >= 0x08 && b <= 0x0f) || b == 0x30 || b == 0x31) {
			found = 1;
		} else {
			return MOQ_R_BAD_FRAME;
		}
	}
	if (!found)
		return MOQ_R_TOO_MANY_FRAMES;
	r->media = o;
	r->type = p[o++];
	uint64_t flen = 0;
	int has_len;
	if (r->type <= 0x0f) {
		r->sid_off = o;
		rc = ref_qv(p, &o, r->fend, &r->sid);
		if (rc < 0)
			return MOQ_R_BAD_VARINT;
		if (rc != 4)
			return MOQ_R_STREAM_ID_WIDTH;
		if ((r->sid & 3) != 2)
			return MOQ_R_NOT_CLIENT_UNI;
		if ((r->type & 0x04) && ref_qv(p, &o, r->fend, &r->offset) < 0)
			return MOQ_R_BAD_VARINT;
		has_len = r->type & 0x02;
	} else {
		r->is_dgram = 1;
		has_len = r->type & 0x01;
	}
	if (has_len && ref_qv(p, &o, r->fend, &flen) < 0)
		return MOQ_R_BAD_VARINT;
	r->data = o;
	if (!has_len)
		flen = r->fend - o;
	if (flen > r->fend - o)
		return MOQ_R_TRUNCATED;
	r->data_len = flen;
	for (size_t k = o + flen; k < r->fend; k++)
		if (p[k])
			return MOQ_R_TRAILING_FRAME;
	if (r->is_dgram || r->offset == 0) {
		rc = ref_moq_header(p, r->data, r->data + r->data_len, r);
		if (rc)
			return rc;
		r->has_hdr = 1;
		r->offset0 = !r->is_dgram;
		r->learn_stream = !r->is_dgram;
		if (!r->is_dgram) {
			/* stream state is made once (BPF_NOEXIST): a start seen
			 * again must repeat the first one's header */
			struct ref_stream *st = ref_stream_find(r->conn, r->sid);

			if (st && (st->alias != r->alias || st->group != r->group ||
				   st->subgroup != r->subgroup || st->type != r->moq_type ||
				   st->hdr_len != r->hdr_len))
				return MOQ_R_HEADER_MISMATCH;
		}
	} else {
		struct ref_stream *st = ref_stream_find(r->conn, r->sid);

		if (!st)
			return MOQ_R_STREAM_START_UNSEEN;
		r->alias = st->alias;
	}
	r->track = ref_track_find(r->conn, r->alias);
	if (!r->track)
		return MOQ_R_NO_SUBSCRIBERS;
	/* one subscriber per track here; it needs a MAC */
	struct ref_sub *s = ref_sub_by_slot(r->track->slot);
	static const uint8_t zero[6];
	if (!memcmp(s->eth_dst, zero, 6))
		return MOQ_R_NO_SUBSCRIBERS; /* the clone is refused with NO_L2 */
	return MOQ_R_FORWARDED;
}

/* docs/fast-path.md "Subscriber ingress". */
static int ref_subscriber_rx(const uint8_t *p, size_t len, struct ref_pkt *r)
{
	uint8_t saddr[16];
	uint16_t sport;
	size_t end, o;

	memset(r, 0, sizeof(*r));
	int rc = ref_l2l4(p, len, r, saddr, &sport, &end);
	if (rc)
		return rc;
	o = r->l4 + 8;
	if (end - o < 9)
		return MOQ_R_TRUNCATED;
	if (p[o] & 0x80)
		return MOQ_R_LONG_HEADER;
	for (int i = 0; i < 2; i++)
		if (!memcmp(p + o + 1, ref_subs[i].scid, 8))
			r->sub = &ref_subs[i];
	if (!r->sub)
		return MOQ_R_SUB_UNKNOWN;
	if (sport != r->sub->dport || memcmp(saddr, r->sub->daddr, r->sub->family == 4 ? 4 : 16)) {
		r->sub = NULL;
		return MOQ_R_WRONG_SOURCE;
	}
	return MOQ_R_SUB_RX;
}

/* RFC 9000 frames in [o, end): 1 if every frame parses (any type of
 * 1-RTT), 0 if not. Only the frames the profile emits are known. */
static int ref_quic_frames_ok(const uint8_t *p, size_t o, size_t end)
{
	uint64_t t, v, n;

	while (o < end) {
		if (ref_qv(p, &o, end, &t) < 0)
			return 0;
		switch (t) {
		case 0x00:
		case 0x01:
		case 0x1e:
			break;
		case 0x02:
		case 0x03:
			if (ref_qv(p, &o, end, &v) < 0 || ref_qv(p, &o, end, &v) < 0 ||
			    ref_qv(p, &o, end, &n) < 0 || ref_qv(p, &o, end, &v) < 0 || n > 1000)
				return 0;
			for (uint64_t k = 0; k < 2 * n + (t == 3 ? 3 : 0); k++)
				if (ref_qv(p, &o, end, &v) < 0)
					return 0;
			break;
		case 0x04:
			for (int k = 0; k < 3; k++)
				if (ref_qv(p, &o, end, &v) < 0)
					return 0;
			break;
		case 0x05:
		case 0x11:
			for (int k = 0; k < 2; k++)
				if (ref_qv(p, &o, end, &v) < 0)
					return 0;
			break;
		case 0x10:
		case 0x12:
		case 0x13:
		case 0x14:
		case 0x16:
		case 0x17:
		case 0x19:
			if (ref_qv(p, &o, end, &v) < 0)
				return 0;
			break;
		case 0x15:
			for (int k = 0; k < 2; k++)
				if (ref_qv(p, &o, end, &v) < 0)
					return 0;
			break;
		case 0x1a:
		case 0x1b:
			if (end - o < 8)
				return 0;
			o += 8;
			break;
		case 0x06:
		case 0x07:
		case 0x30:
		case 0x31:
			if (t == 0x06 && ref_qv(p, &o, end, &v) < 0)
				return 0;
			if (t == 0x30) {
				o = end;
				break;
			}
			if (ref_qv(p, &o, end, &n) < 0 || n > end - o)
				return 0;
			o += n;
			break;
		default:
			if (t >= 0x08 && t <= 0x0f) {
				if (ref_qv(p, &o, end, &v) < 0)
					return 0;
				if ((t & 4) && ref_qv(p, &o, end, &v) < 0)
					return 0;
				if (t & 2) {
					if (ref_qv(p, &o, end, &n) < 0 || n > end - o)
						return 0;
					o += n;
				} else {
					o = end;
				}
				break;
			}
			return 0; /* NEW_CONNECTION_ID, CONNECTION_CLOSE, unknown */
		}
	}
	return 1;
}

/* 1 when the UDP payload of p is a plaintext-profile 1-RTT packet: short
 * header 0x43 + 8-byte DCID + 4-byte PN, frames that parse, the tag. */
static int ref_plaintext_ok(const uint8_t *p, size_t len, size_t *quic, size_t *qend)
{
	struct ref_pkt r;
	uint8_t saddr[16];
	uint16_t sport;
	size_t end;
	uint16_t dport_save;
	uint8_t tmp[2048];

	if (len > sizeof(tmp))
		return 0;
	/* ref_l2l4 wants the relay port as destination: borrow it */
	memcpy(tmp, p, len);
	memset(&r, 0, sizeof(r));
	if (len < 18)
		return 0;
	size_t l3 = rd16(tmp + 12) == 0x8100 ? 18 : 14;
	size_t l4 = l3 + (rd16(tmp + l3 - 2) == 0x86dd ? 40 : 20);
	if (len < l4 + 8)
		return 0;
	dport_save = rd16(tmp + l4 + 2);
	tmp[l4 + 2] = RELAY_PORT >> 8;
	tmp[l4 + 3] = RELAY_PORT & 0xff;
	(void)dport_save;
	if (ref_l2l4(tmp, len, &r, saddr, &sport, &end))
		return 0;
	size_t o = r.l4 + 8;
	if (end - o < 13 + 16 || p[o] != 0x43 || memcmp(p + end - 16, tag, 16))
		return 0;
	*quic = o;
	*qend = end;
	return ref_quic_frames_ok(p, o + 13, end - 16);
}

/* ---- checksums (independent of tests/unit/lib) --------------------------- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* 1: IPv4 header checksum (if v4) and UDP checksum verify (v4 zero UDP
 * checksum accepted); 0: they do not; -1: not an Eth/IP/UDP packet whose
 * UDP length fits. */
static int csum_state(const uint8_t *p, size_t len)
{
	size_t l3, l4, ulen;
	int v6;

	if (len < 18)
		return -1;
	l3 = rd16(p + 12) == 0x8100 ? 18 : 14;
	if (len < l3 + 20)
		return -1;
	v6 = rd16(p + l3 - 2) == 0x86dd;
	if (!v6 && rd16(p + l3 - 2) != 0x0800)
		return -1;
	if (!v6 && (p[l3] != 0x45))
		return -1;
	l4 = l3 + (v6 ? 40 : 20);
	if (len < l4 + 8)
		return -1;
	if (!v6 && fold(sum16(p + l3, 20, 0)) != 0)
		return 0;
	ulen = rd16(p + l4 + 4);
	if (ulen < 8 || l4 + ulen > len)
		return -1;
	if (!v6 && !p[l4 + 6] && !p[l4 + 7])
		return 1;
	uint32_t s = v6 ? sum16(p + l3 + 8, 32, 0) : sum16(p + l3 + 12, 8, 0);
	s += 17 + (uint32_t)ulen;
	return fold(sum16(p + l4, ulen, s)) == 0;
}

/* Recompute IP total length / payload length, UDP length and both
 * checksums of p (as a consistent sender would). */
static void fix_lengths_and_csums(uint8_t *p, size_t len)
{
	size_t l3, l4;
	int v6;

	if (len < 18)
		return;
	l3 = rd16(p + 12) == 0x8100 ? 18 : 14;
	v6 = rd16(p + l3 - 2) == 0x86dd;
	l4 = l3 + (v6 ? 40 : 20);
	if (len < l4 + 8)
		return;
	if (v6) {
		p[l3 + 4] = (uint8_t)((len - l3 - 40) >> 8);
		p[l3 + 5] = (uint8_t)(len - l3 - 40);
	} else {
		p[l3 + 2] = (uint8_t)((len - l3) >> 8);
		p[l3 + 3] = (uint8_t)(len - l3);
		p[l3 + 10] = p[l3 + 11] = 0;
		uint16_t c = fold(sum16(p + l3, 20, 0));
		p[l3 + 10] = c >> 8;
		p[l3 + 11] = c & 0xff;
	}
	size_t ulen = len - l4;
	p[l4 + 4] = (uint8_t)(ulen >> 8);
	p[l4 + 5] = (uint8_t)ulen;
	p[l4 + 6] = p[l4 + 7] = 0;
	uint32_t s = v6 ? sum16(p + l3 + 8, 32, 0) : sum16(p + l3 + 12, 8, 0);
	s += 17 + (uint32_t)ulen;
	uint16_t c = fold(sum16(p + l4, ulen, s));
	if (!c)
		c = 0xffff;
	p[l4 + 6] = c >> 8;
	p[l4 + 7] = c & 0xff;
}

/* ---- generator --------------------------------------------------------------- */

enum base_kind {
	B_STREAM0,
	B_STREAM_LATER,
	B_DATAGRAM,
	B_SUB_RX,
	B_RANDOM,
	B_KINDS,
};

static const char *const base_names[B_KINDS] = {"stream-offset-0", "stream-later", "datagram",
						"subscriber-rx", "random-bytes"};

static uint64_t seq_get(uint32_t slot, int field);

static size_t put_qv(uint8_t *b, size_t pos, uint64_t v)
{
	/* random width among those that hold v */
	size_t w[4] = {1, 2, 4, 8}, k = 0;
	while (k < 4 && v >= (1ull << (8 * w[k] - 2)))
		k++;
	k += rnd((uint32_t)(4 - k));
	return bpf_frame_qv(b, pos, v, w[k]);
}

static size_t put_vi(uint8_t *b, size_t pos, uint64_t v)
{
	size_t w = 1;
	while (w < 9 && w < 8 && (v >> (7 * w)))
		w++;
	if (w < 9 && (v >> (7 * w)))
		w = 9;
	if (chance(30))
		w += rnd((uint32_t)(10 - w));
	return bpf_frame_vi(b, pos, v, w);
}

static const uint64_t sids[] = {2, 6, 10, 14, 18};

static uint64_t pick_alias(void)
{
	if (chance(70))
		return ALIAS;
	if (chance(60))
		return ALIAS2;
	return rnd(64);
}

/* Frames of a base packet into f; returns length. */
static size_t gen_frames(uint8_t *f, int kind)
{
	size_t n = 0;

	/* optional ACK / PADDING prefix */
	if (kind != B_SUB_RX && chance(30)) {
		/* sometimes near or past the walk's limits: 16 steps, 256
		 * bytes, 16 ACK ranges */
		int k = chance(10) ? 12 + (int)rnd(8) : 1 + (int)rnd(3);
		for (int i = 0; i < k && n < 700; i++) {
			if (chance(50)) {
				int z = chance(5) ? 200 + (int)rnd(100) : 1 + (int)rnd(12);
				memset(f + n, 0, (size_t)z);
				n += (size_t)z;
			} else {
				int nr = chance(10) ? 15 + (int)rnd(3) : (int)rnd(4);
				n = bpf_frame_ack(f, n, nr, chance(30));
			}
		}
		if (chance(3))
			return n; /* PADDING / ACK only */
	}
	switch (kind) {
	case B_STREAM0:
	case B_STREAM_LATER: {
		int later = kind == B_STREAM_LATER;
		uint8_t flags = (uint8_t)((later ? 4 : (chance(20) ? 4 : 0)) |
					  (chance(50) ? 2 : 0) | (chance(20) ? 1 : 0));
		uint64_t sid = sids[rnd(5)];
		uint8_t body[256];
		size_t bl = 0;

		if (!later) {
			static const uint8_t types[] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
							0x18, 0x19, 0x1a, 0x1c, 0x30, 0x31,
							0x32, 0x34, 0x38, 0x3c, 0x3d};
			uint8_t t = types[rnd(sizeof(types))];
			bl = put_vi(body, bl, t);
			bl = put_vi(body, bl, pick_alias());
			bl = put_vi(body, bl, rnd(1000));
			if ((t & 0x06) == 0x04)
				bl = put_vi(body, bl, rnd(20));
			if (!(t & 0x20))
				body[bl++] = (uint8_t)rnd(256);
		}
		/* objects: id delta, (props), length, payload */
		int objs = 1 + (int)rnd(3);
		for (int i = 0; i < objs && bl < 200; i++) {
			size_t pl = rnd(40);
			bl = put_vi(body, bl, rnd(3));
			bl = put_vi(body, bl, pl);
			for (size_t k = 0; k < pl && bl < 250; k++)
				body[bl++] = (uint8_t)rnd(256);
		}
		f[n++] = (uint8_t)(0x08 | flags);
		n = bpf_frame_qv(f, n, sid, 4);
		if (flags & 4)
			n = put_qv(f, n, flags & 4 && later ? 1 + rnd(100000) : 0);
		if (flags & 2)
			n = put_qv(f, n, bl);
		memcpy(f + n, body, bl);
		n += bl;
		if ((flags & 2) && chance(30)) { /* trailing PADDING */
			size_t z = 1 + rnd(20);
			memset(f + n, 0, z);
			n += z;
		}
		break;
	}
	case B_DATAGRAM: {
		static const uint8_t types[] = {0x00, 0x01, 0x04, 0x05, 0x08, 0x0c,
						0x0d, 0x20, 0x24, 0x28, 0x2c, 0x22};
		uint8_t t = types[rnd(sizeof(types))];
		uint8_t body[128];
		size_t bl = 0;
		int with_len = chance(50);

		bl = put_vi(body, bl, t);
		bl = put_vi(body, bl, pick_alias());
		bl = put_vi(body, bl, rnd(1000));
		if (!(t & 0x04))
			bl = put_vi(body, bl, rnd(50));
		if (!(t & 0x08))
			body[bl++] = (uint8_t)rnd(256);
		size_t pl = rnd(60);
		for (size_t k = 0; k < pl; k++)
			body[bl++] = (uint8_t)rnd(256);
		f[n++] = with_len ? 0x31 : 0x30;
		if (with_len)
			n = put_qv(f, n, bl);
		memcpy(f + n, body, bl);
		n += bl;
		if (with_len && chance(30)) {
			size_t z = 1 + rnd(20);
			memset(f + n, 0, z);
			n += z;
		}
		break;
	}
	case B_SUB_RX: {
		/* what a subscriber sends: ACK, MAX_DATA, PING ... */
		if (chance(40)) {
			n = bpf_frame_ack(f, n, (int)rnd(3), 0);
			f[n++] = 0x01;
			break;
		}
		/* a lone ACK (the kernel may consume it): numbers around the
		 * slots' next_pn, ranges mostly well formed, some not */
		int ecn = chance(20);
		uint64_t np =
		    seq_get(SLOT, 0) < seq_get(SLOT6, 0) ? seq_get(SLOT, 0) : seq_get(SLOT6, 0);
		uint64_t largest = rnd((uint32_t)np + 20), cnt = rnd(chance(10) ? 12 : 6);

		f[n++] = ecn ? 0x03 : 0x02;
		n = put_qv(f, n, largest);
		n = put_qv(f, n, rnd(100));
		n = put_qv(f, n, cnt);
		n = put_qv(f, n, chance(5) ? largest + 1 : rnd((uint32_t)largest / 8 + 1));
		for (uint64_t k = 0; k < cnt; k++) {
			n = put_qv(f, n, rnd(chance(5) ? 3000 : 20));
			n = put_qv(f, n, rnd(40));
		}
		if (ecn)
			for (int k = 0; k < 3; k++)
				n = put_qv(f, n, rnd(1000));
		if (chance(30)) {
			size_t z = 1 + rnd(12);

			memset(f + n, 0, z);
			n += z;
		}
		break;
	}
	default:
		break;
	}
	return n;
}

/* A sender's packet numbers: mostly the next one, some replayed or
 * reordered, some after a gap; starting below 2^32 so that the 32-bit
 * field wraps during a run. */
static uint32_t gen_pn(int up)
{
	struct ref_pn *w = &ref_pns[up];
	uint32_t u = rnd(100);

	if (u < 6 && w->gen > 300)
		return (uint32_t)(w->gen - 1 - rnd(300));
	if (u < 8)
		w->gen += 300 + rnd(700);
	return (uint32_t)w->gen++;
}

static size_t gen_base(uint8_t *pkt, size_t cap, int kind, int *family_out)
{
	struct bpf_pkt_spec s;
	uint8_t frames[2048];
	int family = chance(30) ? 6 : 4;
	const struct ref_sub *sub;

	memset(&s, 0, sizeof(s));
	if (kind == B_RANDOM) {
		size_t len = 14 + rnd(400);
		for (size_t i = 0; i < len; i++)
			pkt[i] = (uint8_t)rnd(256);
		if (chance(60)) {
			/* keep the random bytes behind a plausible header */
			s.family = family;
			memcpy(s.eth_src, mac_pub, 6);
			memcpy(s.eth_dst, mac_relay, 6);
			memcpy(s.saddr, family == 6 ? pub_ip6 : pub_ip, 16);
			memcpy(s.daddr, family == 6 ? relay_ip6 : relay_ip, 16);
			memcpy(s.dcid, family == 6 ? up_cid6 : up_cid, 8);
			s.sport = PUB_PORT;
			s.dport = RELAY_PORT;
			s.frames = pkt + 100;
			s.frames_len = rnd(300);
			s.no_tag = chance(30);
			memcpy(frames, s.frames, s.frames_len);
			s.frames = frames;
			len = bpf_pkt_build(pkt, cap, &s);
		}
		*family_out = family;
		return len;
	}
	s.family = family;
	s.vlan = chance(15);
	s.pn = gen_pn(family == 6 ? 1 : 0);
	s.frames = frames;
	s.frames_len = gen_frames(frames, kind);
	if (kind == B_SUB_RX) {
		sub = &ref_subs[family == 6 ? 1 : 0];
		memcpy(s.eth_src, mac_sub, 6);
		memcpy(s.eth_dst, mac_relay_s, 6);
		memcpy(s.saddr, sub->daddr, 16);
		memcpy(s.daddr, sub->saddr, 16);
		memcpy(s.dcid, sub->scid, 8);
		s.sport = sub->dport;
		s.dport = RELAY_PORT;
	} else {
		memcpy(s.eth_src, mac_pub, 6);
		memcpy(s.eth_dst, mac_relay, 6);
		memcpy(s.saddr, family == 6 ? pub_ip6 : pub_ip, 16);
		memcpy(s.daddr, family == 6 ? relay_ip6 : relay_ip, 16);
		memcpy(s.dcid, family == 6 ? up_cid6 : up_cid, 8);
		s.sport = PUB_PORT;
		s.dport = RELAY_PORT;
	}
	s.zero_udp_csum = family == 4 && chance(5);
	*family_out = family;
	return bpf_pkt_build(pkt, cap, &s);
}

enum mut_kind {
	M_NONE,
	M_BITFLIP,
	M_TRUNCATE,
	M_HDR_BYTE,
	M_FRAME_TYPE,
	M_LEN_PAST_END,
	M_EXTRA_FRAME,
	M_RANDOM_RUN,
	M_KINDS,
};

static const char *const mut_names[M_KINDS] = {"none",	      "bit-flip",   "truncate",
					       "header-byte", "frame-type", "length-past-end",
					       "extra-frame", "random-run"};

/* Offset of the first frame byte in a base packet (after the QUIC header). */
static size_t frames_off(const uint8_t *p, size_t len)
{
	size_t l3 = len > 13 && rd16(p + 12) == 0x8100 ? 18 : 14;
	size_t l4 = l3 + (len > l3 && rd16(p + l3 - 2) == 0x86dd ? 40 : 20);
	return l4 + 8 + 13;
}

static size_t mutate(uint8_t *p, size_t len, size_t cap, int m)
{
	size_t fo = frames_off(p, len);
	size_t ftag = len >= 16 ? len - 16 : len; /* frames end before the tag */

	switch (m) {
	case M_BITFLIP: {
		int k = 1 + (int)rnd(4);
		for (int i = 0; i < k; i++) {
			size_t at = chance(70) && len > 0 ? rnd((uint32_t)(len < 120 ? len : 120))
							  : rnd((uint32_t)len);
			p[at] ^= (uint8_t)(1u << rnd(8));
		}
		break;
	}
	case M_TRUNCATE:
		if (len > 14)
			len = 14 + rnd((uint32_t)(len - 14));
		break;
	case M_HDR_BYTE: {
		/* a byte of a header field: Ethernet type, IP version/IHL,
		 * flags, protocol, UDP ports/length, QUIC first byte, DCID,
		 * first frame bytes */
		size_t l3 = rd16(p + 12) == 0x8100 ? 18 : 14;
		size_t l4 = fo - 13 - 8;
		size_t cands[] = {12,	  13,	  l3,	   l3 + 6, l3 + 9, l3 + 2, l3 + 3,
				  l3 + 4, l3 + 5, l4,	   l4 + 2, l4 + 3, l4 + 4, l4 + 5,
				  l4 + 8, l4 + 9, l4 + 16, fo,	   fo + 1, fo + 2, fo + 5};
		size_t at = cands[rnd(sizeof(cands) / sizeof(cands[0]))];
		if (at < len)
			p[at] = chance(50) ? (uint8_t)rnd(256) : (uint8_t)(p[at] ^ 0xff);
		break;
	}
	case M_FRAME_TYPE: {
		static const uint8_t ft[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x08, 0x09,
					     0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x1c,
					     0x1d, 0x1e, 0x30, 0x31, 0x40, 0xc0, 0xff};
		/* at the first frame or a random frame-region byte */
		if (fo < ftag) {
			size_t at = chance(50) ? fo : fo + rnd((uint32_t)(ftag - fo));
			p[at] = ft[rnd(sizeof(ft))];
		}
		break;
	}
	case M_LEN_PAST_END: {
		/* a varint-looking byte pair claiming far more than is left */
		if (fo + 8 < ftag) {
			size_t at = fo + 1 + rnd((uint32_t)(ftag - fo - 2));
			p[at] = (uint8_t)(0x40 | rnd(64));
			p[at + 1] = 0xff;
		}
		break;
	}
	case M_EXTRA_FRAME: {
		/* insert a frame before the tag (or after the header) */
		uint8_t ins[32];
		size_t il = 0;
		switch (rnd(4)) {
		case 0:
			ins[il++] = 0x01; /* PING */
			break;
		case 1:
			ins[il++] = 0x0a; /* second STREAM */
			il = bpf_frame_qv(ins, il, 6, 4);
			il = bpf_frame_qv(ins, il, 2, 1);
			ins[il++] = 'x';
			ins[il++] = 'y';
			break;
		case 2:
			ins[il++] = 0x31;
			il = bpf_frame_qv(ins, il, 3, 1);
			ins[il++] = 0;
			ins[il++] = ALIAS;
			ins[il++] = 0;
			break;
		default:
			il = 1 + rnd(8);
			for (size_t k = 0; k < il; k++)
				ins[k] = (uint8_t)rnd(256);
		}
		size_t at =
		    chance(60) ? ftag : (fo < ftag ? fo + rnd((uint32_t)(ftag - fo)) : ftag);
		if (len + il <= cap && at <= len) {
			memmove(p + at + il, p + at, len - at);
			memcpy(p + at, ins, il);
			len += il;
		}
		break;
	}
	case M_RANDOM_RUN: {
		size_t at = rnd((uint32_t)len), k = 1 + rnd(16);
		for (size_t i = 0; i < k && at + i < len; i++)
			p[at + i] = (uint8_t)rnd(256);
		break;
	}
	default:
		break;
	}
	return len;
}

/* ---- running programs --------------------------------------------------------- */

static struct bpf_relay_run run;

#define mfd(name) bpf_relay_mfd(&R, name)

/* Per-program, per-reason packet counts (summed over CPUs), one batch
 * lookup (a per-key lookup per entry made the test 10x slower). */
static void stats_snapshot(uint64_t out[MOQ_STATS_ENTRIES])
{
	static struct moq_stat *vals;
	static uint32_t keys[MOQ_STATS_ENTRIES];
	static int ncpu;
	uint32_t n = MOQ_STATS_ENTRIES, out_batch = 0;
	int fd = mfd("moq_stats");

	if (!vals) {
		ncpu = libbpf_num_possible_cpus();
		ck_assert_int_gt(ncpu, 0);
		vals = calloc((size_t)ncpu * MOQ_STATS_ENTRIES, sizeof(*vals));
		ck_assert_ptr_nonnull(vals);
	}
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int rc = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, vals, &n, &opts);
	ck_assert_msg(rc == 0 || errno == ENOENT, "stats batch lookup: %s", strerror(errno));
	ck_assert_uint_eq(n, MOQ_STATS_ENTRIES);
	for (uint32_t i = 0; i < n; i++) {
		out[keys[i]] = 0;
		for (int c = 0; c < ncpu; c++)
			out[keys[i]] += vals[(size_t)i * (size_t)ncpu + (size_t)c].packets;
	}
}

static uint64_t st_before[MOQ_STATS_ENTRIES], st_after[MOQ_STATS_ENTRIES];

static uint64_t st_delta(uint32_t prog, uint32_t reason)
{
	return st_after[prog * MOQ_R_MAX + reason] - st_before[prog * MOQ_R_MAX + reason];
}

/* Clones seen leaving on lo since the last call; copies the last one. */
static int drain_clones(uint8_t *last, size_t *last_len)
{
	uint8_t buf[4096];
	struct sockaddr_ll sll;
	socklen_t sl;
	int n = 0;

	for (;;) {
		sl = sizeof(sll);
		ssize_t k = recvfrom(pkt_sock, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&sll, &sl);
		if (k < 0)
			break;
		if (sll.sll_pkttype != PACKET_OUTGOING)
			continue;
		n++;
		if (last) {
			memcpy(last, buf, (size_t)k);
			*last_len = (size_t)k;
		}
	}
	return n;
}

/* The agent's part of the sent log: everything logged is read at once, so
 * the log never fills (its own tests are in test_bpf_fastpath). */
static struct moq_sent_log *sent_logs; /* NULL: map again (setup) */

static void sent_logs_read(void)
{
	struct moq_sent_log *m = sent_logs;

	if (!m) {
		m = mmap(NULL, sizeof(*m) * MOQ_MAX_SUBSCRIBERS, PROT_READ | PROT_WRITE, MAP_SHARED,
			 mfd("moq_sent_log"), 0);
		ck_assert_ptr_ne(m, MAP_FAILED);
		sent_logs = m;
	}
	for (uint32_t i = 0; i < 8; i++)
		m[i].tail = m[i].head;
}

static void run_prog(int fd, const uint8_t *pkt, size_t len, uint32_t mark)
{
	memset(&run, 0, sizeof(run));
	run.mark_in = mark;
	int rc = bpf_relay_test_run(fd, pkt, len, &run);
	ck_assert_msg(rc == 0, "test_run of %zu bytes (mark %#x) failed: %d", len, mark, rc);
	if (fd == R.subscriber_egress)
		sent_logs_read();
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", p[i]);
	fprintf(stderr, "\n");
}

/* ---- outcome counters ----------------------------------------------------- */

static struct {
	uint64_t packets;
	uint64_t per_base[B_KINDS], per_mut[M_KINDS];
	uint64_t ingress_reason[MOQ_R_MAX];
	uint64_t egress_reason[MOQ_R_MAX];
	uint64_t sub_reason[MOQ_R_MAX];
	uint64_t clones;
	uint64_t reason_disagree; /* reference and program name different
				     reasons for an ineligible packet */
	uint64_t egress_strict, egress_any_marked, egress_any_forwarded;
	uint64_t egress_any_forwarded_not_quic; /* input was not QUIC either */
	uint64_t egress_unmarked;
	uint64_t failures;
	uint64_t refused;    /* test_run refuses the frame */
	uint64_t ip_len_bad; /* IP length disagrees with UDP/frame: TRUNCATED */
} C;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		C.failures++;                                                                      \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                                             \
		fprintf(stderr, "\n");                                                             \
	} while (0)

/* ---- setup ------------------------------------------------------------------ */

static void set_config(void)
{
	struct moq_config c = {.layout_version = MOQ_MAPS_LAYOUT_VERSION,
			       .flags = MOQ_CFG_F_ENABLED,
			       .heartbeat_ns = bpf_relay_now_ns(),
			       .heartbeat_timeout_ns = 3600ull * 1000000000ull,
			       .generation = 1,
			       .relay_port_be = htons(RELAY_PORT)};
	uint32_t k = 0;

	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_config"), &k, &c, 0), 0);
}

static void add_sub(struct ref_sub *rs, uint32_t slot, int family)
{
	struct moq_subscriber s = {.flags = MOQ_SUB_F_ACTIVE,
				   .generation = 1,
				   .ifindex = 1,
				   .family = family == 6 ? MOQ_AF_INET6 : MOQ_AF_INET,
				   .sport_be = htons(RELAY_PORT),
				   .dport_be = htons((uint16_t)(6000 + slot))};

	memset(rs, 0, sizeof(*rs));
	rs->slot = slot;
	rs->family = family;
	rs->dport = (uint16_t)(6000 + slot);
	rs->saddr = family == 6 ? relay_ip6_s : relay_ip_s;
	rs->daddr = family == 6 ? sub_ip6 : sub_ip;
	memcpy(rs->scid, (uint8_t[8]){0xc3, 0xc3, 0xc3, 0xc3, 8, 8, 8, (uint8_t)slot}, 8);
	memcpy(rs->eth_src, mac_relay_s, 6);
	memcpy(rs->eth_dst, mac_sub, 6);
	memcpy(s.eth_src, rs->eth_src, 6);
	memcpy(s.eth_dst, rs->eth_dst, 6);
	memcpy(s.saddr, rs->saddr, 16);
	memcpy(s.daddr, rs->daddr, 16);
	memcpy(s.dcid, sub_dcid, 8);
	memcpy(s.scid, rs->scid, 8);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscribers"), &slot, &s, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(mfd("moq_sub_by_cid"), s.scid, &slot, 0), 0);
}

static void add_tracks(void)
{
	static struct moq_track_subs t;

	for (size_t i = 0; i < N_TRACKS; i++) {
		struct moq_track_key k = {.conn_id = ref_tracks[i].conn,
					  .track_alias = ref_tracks[i].alias};
		struct moq_subscription_key bk = {.slot = ref_tracks[i].slot,
						  .conn_id = ref_tracks[i].conn,
						  .track_alias = ref_tracks[i].alias};
		struct moq_subscription b = {.track_alias = ref_tracks[i].down_alias};

		memset(&t, 0, sizeof(t));
		t.count = 1;
		t.default_priority = 64;
		t.slots[0] = ref_tracks[i].slot;
		ck_assert_int_eq(bpf_map_update_elem(mfd("moq_tracks"), &k, &t, 0), 0);
		ck_assert_int_eq(bpf_map_update_elem(mfd("moq_subscriptions"), &bk, &b, 0), 0);
	}
}

static void setup(void)
{
	for (int i = 0; i < 2; i++) {
		struct moq_upstream u = {.conn_id = ref_ups[i].conn,
					 .generation = 1,
					 .family =
					     ref_ups[i].family == 6 ? MOQ_AF_INET6 : MOQ_AF_INET,
					 .sport_be = htons(ref_ups[i].sport)};

		if (i == 0) {
			/* main loaded R once; this empties its maps again */
			ck_assert_int_eq(bpf_relay_restore(&R), 0);
			sent_logs = NULL;
		}
		memcpy(u.saddr, ref_ups[i].saddr, 16);
		ck_assert_int_eq(bpf_map_update_elem(mfd("moq_upstreams"), ref_ups[i].cid, &u, 0),
				 0);
	}
	set_config();
	add_sub(&ref_subs[0], SLOT, 4);
	add_sub(&ref_subs[1], SLOT6, 6);
	add_tracks();
	n_ref_streams = 0;
	memset(ref_pns, 0, sizeof(ref_pns));
	ref_pns[0].gen = ref_pns[1].gen = 0xfffff000u;
	for (int i = 0; i < 2; i++) {
		struct moq_pn_window w = {.generation = 1};

		ck_assert_int_eq(
		    bpf_map_update_elem(mfd("moq_pn_windows"), &ref_ups[i].conn, &w, 0), 0);
	}
	memset(&C, 0, sizeof(C));
	drain_clones(NULL, NULL);
}

/* ---- the checks ----------------------------------------------------------------- */

static int read_sub(uint32_t slot, struct moq_subscriber *s)
{
	return bpf_map_lookup_elem(mfd("moq_subscribers"), &slot, s);
}

static void model_learn_stream(const struct ref_pkt *r, const uint8_t *pkt)
{
	struct ref_stream *st = ref_stream_find(r->conn, r->sid);

	(void)pkt;
	if (st)
		return; /* never overwritten */
	if (n_ref_streams >= MAX_STREAMS)
		return;
	st = &ref_streams[n_ref_streams++];
	st->conn = r->conn;
	st->sid = r->sid;
	st->alias = r->alias;
	st->group = r->group;
	st->subgroup = r->subgroup;
	st->type = r->moq_type;
	st->hdr_len = r->hdr_len;
}

/* Upstream stream table entry as the program recorded it. */
static int map_stream(uint32_t conn, uint64_t sid, struct moq_up_stream *v)
{
	struct moq_up_stream_key k = {.conn_id = conn, .stream_id = sid};

	return bpf_map_lookup_elem(mfd("moq_up_streams"), &k, v) == 0;
}

/* Runs pkt through an ingress program (upstream or relay) and checks. */
static void check_ingress(int relay, const uint8_t *pkt, size_t len, const char *what)
{
	struct ref_pkt r, rs;
	int want = ref_upstream(pkt, len, &r);
	int want_sub = -1;
	uint8_t clone[4096];
	size_t clone_len = 0;
	struct moq_subscriber before[2], after[2];
	uint32_t mark = 0x1234 + (uint32_t)rnd(1000);
	int fd = relay ? R.relay_ingress : R.upstream_ingress;

	if (relay && (want == MOQ_R_UNKNOWN_DCID || want == MOQ_R_PN_LEN ||
		      want == MOQ_R_HEADER_BITS || want == MOQ_R_NOT_PLAINTEXT))
		want_sub = ref_subscriber_rx(pkt, len, &rs);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(read_sub(ref_subs[i].slot, &before[i]), 0);
	stats_snapshot(st_before);
	run_prog(fd, pkt, len, mark);
	stats_snapshot(st_after);
	if (r.pn_take)
		ref_pn_commit(r.conn, r.pn_full);
	int clones = drain_clones(clone, &clone_len);
	C.clones += (uint64_t)clones;

	if (run.retval != TC_ACT_OK)
		FAIL("%s: %s returned %u, not TC_ACT_OK", what, relay ? "relay" : "upstream",
		     run.retval);
	if (run.out_len != len || memcmp(run.out, pkt, len))
		FAIL("%s: ingress changed the packet", what);
	if (run.mark_out != mark)
		FAIL("%s: ingress changed the mark %#x -> %#x", what, mark, run.mark_out);
	int fwd = (int)st_delta(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FORWARDED);
	int eligible = want == MOQ_R_FORWARDED;
	if (r.ip_len_bad)
		C.ip_len_bad++;
	if (fwd != eligible || clones != eligible) {
		FAIL("%s: reference says %s (reason %d), program counted FORWARDED %d, %d "
		     "clone(s) left",
		     what, eligible ? "eligible" : "not eligible", want, fwd, clones);
		hexdump("input", pkt, len);
	}
	if (clones && (clone_len != len || memcmp(clone, pkt, len))) {
		FAIL("%s: the clone differs from the input", what);
		hexdump("clone", clone, clone_len);
	}
	/* the packet's own reason: exactly one count among the non-per-clone
	 * reasons */
	uint32_t got = MOQ_R_MAX;
	int n_reasons = 0;
	for (uint32_t k = 0; k < MOQ_R_MAX; k++) {
		if (k == MOQ_R_SUB_INACTIVE || k == MOQ_R_FAMILY_MISMATCH || k == MOQ_R_NO_L2 ||
		    k == MOQ_R_MTU || k == MOQ_R_REDIRECT_FAILED)
			continue;
		uint64_t d = st_delta(MOQ_PROG_UPSTREAM_INGRESS, k);
		if (d) {
			got = k;
			n_reasons += (int)d;
		}
	}
	if (n_reasons != 1)
		FAIL("%s: %d packet reasons counted", what, n_reasons);
	else
		C.ingress_reason[got]++;
	/* NO_L2 is what a clone to a subscriber without a MAC gets; the
	 * reference folds it into NO_SUBSCRIBERS */
	if (got != (uint32_t)want) {
		C.reason_disagree++;
		FAIL("%s: reason: reference %d, program %u", what, want, got);
		hexdump("input", pkt, len);
	}
	/* the stream table: recorded exactly when the reference learns it */
	if (r.learn_stream && (want == MOQ_R_FORWARDED || want == MOQ_R_NO_SUBSCRIBERS)) {
		struct moq_up_stream v;
		model_learn_stream(&r, pkt);
		if (!map_stream(r.conn, r.sid, &v) || v.track_alias != r.alias)
			FAIL("%s: stream (%u, %llu) not recorded with alias %llu", what, r.conn,
			     (unsigned long long)r.sid, (unsigned long long)r.alias);
	}
	/* subscribers: only the L2 learning of the right one may change */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(read_sub(ref_subs[i].slot, &after[i]), 0);
		struct moq_subscriber exp = before[i];
		/* MACs are learned only from a unicast frame to the relay's
		 * MAC (any unicast one while the relay's is unknown) */
		static const uint8_t zero_mac[6];
		const uint8_t *eth = pkt;
		int learnable = !(eth[0] & 1) && (!memcmp(before[i].eth_src, zero_mac, 6) ||
						  !memcmp(before[i].eth_src, eth, 6));

		if (want_sub == MOQ_R_SUB_RX && rs.sub == &ref_subs[i] && learnable) {
			memcpy(exp.eth_dst, eth + 6, 6);
			memcpy(exp.eth_src, eth, 6);
			exp.flags |= MOQ_SUB_F_L2_LEARNED;
			memcpy(ref_subs[i].eth_dst, eth + 6, 6);
			memcpy(ref_subs[i].eth_src, eth, 6);
		}
		if (memcmp(&exp, &after[i], sizeof(exp)))
			FAIL("%s: subscriber slot %u changed unexpectedly", what, ref_subs[i].slot);
	}
	if (relay && want_sub >= 0) {
		uint64_t rx = st_delta(MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX);
		if ((want_sub == MOQ_R_SUB_RX) != (rx == 1))
			FAIL("%s: relay_ingress: reference subscriber reason %d, SUB_RX %llu", what,
			     want_sub, (unsigned long long)rx);
	}
}

/* docs/fast-path.md "Media ACKs in the kernel", with the slot's consumption
 * on, an empty guard and an empty ring: 1 when the packet of a registered
 * subscriber (r from ref_subscriber_rx) is consumed. */
static int ref_ack_consumed(const uint8_t *p, const struct ref_pkt *r, size_t end, uint64_t next_pn)
{
	size_t o = r->l4 + 8, fend;
	uint64_t t, largest, v, cnt, first, lo;

	if (end - o < 13 + 1 + 16 || p[o] != 0x43 || memcmp(p + end - 16, MOQ_PLAINTEXT_TAG, 16))
		return 0;
	fend = end - 16;
	o += 13;
	t = p[o++];
	if (t != 0x02 && t != 0x03)
		return 0;
	if (ref_qv(p, &o, fend, &largest) < 0 || ref_qv(p, &o, fend, &v) < 0 ||
	    ref_qv(p, &o, fend, &cnt) < 0 || ref_qv(p, &o, fend, &first) < 0)
		return 0;
	if (first > largest || cnt >= MOQ_ACK_REC_RANGES || largest >= next_pn)
		return 0;
	lo = largest - first;
	for (uint64_t k = 0; k < cnt; k++) {
		uint64_t gap, rl;

		if (ref_qv(p, &o, fend, &gap) < 0 || ref_qv(p, &o, fend, &rl) < 0)
			return 0;
		if (lo < gap + 2 || lo - gap - 2 < rl)
			return 0;
		lo = lo - gap - 2 - rl;
	}
	if (t == 0x03)
		for (int k = 0; k < 3; k++)
			if (ref_qv(p, &o, fend, &v) < 0)
				return 0;
	for (; o < fend; o++)
		if (p[o])
			return 0;
	return 1;
}

/* Turn the subscriber slots' ACK consumption on, ring and guard empty, the
 * pass period just restarted. */
static void acks_enable_all(void)
{
	static struct moq_acks a;

	memset(&a, 0, sizeof(a));
	a.enabled = 1;
	a.last_pass_ns = bpf_relay_now_ns();
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(bpf_map_update_elem(mfd("moq_acks"), &ref_subs[i].slot, &a, 0), 0);
}

static void check_subscriber_ingress(const uint8_t *pkt, size_t len, const char *what)
{
	struct ref_pkt r;
	int want = ref_subscriber_rx(pkt, len, &r);
	struct moq_subscriber before[2], after[2];
	int consumed = 0;

	if (want == MOQ_R_SUB_RX) {
		uint8_t sa[16];
		uint16_t sp;
		size_t end;
		struct ref_pkt r2;

		ref_l2l4(pkt, len, &r2, sa, &sp, &end);
		consumed = ref_ack_consumed(pkt, &r, end, seq_get(r.sub->slot, 0));
	}
	acks_enable_all();
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(read_sub(ref_subs[i].slot, &before[i]), 0);
	stats_snapshot(st_before);
	run_prog(R.subscriber_ingress, pkt, len, 0);
	stats_snapshot(st_after);
	if (drain_clones(NULL, NULL))
		FAIL("%s: subscriber_ingress sent a packet", what);
	if (run.retval != (consumed ? TC_ACT_SHOT : TC_ACT_OK) || run.out_len != len ||
	    memcmp(run.out, pkt, len)) {
		FAIL("%s: subscriber_ingress verdict %u (reference: %s) or changed the packet",
		     what, run.retval, consumed ? "consumed" : "passed");
		hexdump("input", pkt, len);
	}
	uint64_t rx = st_delta(MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_SUB_RX);
	uint64_t ac = st_delta(MOQ_PROG_SUBSCRIBER_INGRESS, MOQ_R_ACK_CONSUMED);
	if ((want == MOQ_R_SUB_RX && !consumed) != (rx == 1) || (consumed != (ac == 1))) {
		FAIL("%s: subscriber_ingress: reference %d%s, SUB_RX counted %llu, ACK_CONSUMED "
		     "%llu",
		     what, want, consumed ? " consumed" : "", (unsigned long long)rx,
		     (unsigned long long)ac);
		hexdump("input", pkt, len);
	}
	for (uint32_t k = 0; k < MOQ_R_MAX; k++)
		if (st_delta(MOQ_PROG_SUBSCRIBER_INGRESS, k))
			C.sub_reason[k]++;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(read_sub(ref_subs[i].slot, &after[i]), 0);
		struct moq_subscriber exp = before[i];
		static const uint8_t zero_mac[6];
		int learnable = !(pkt[0] & 1) && (!memcmp(before[i].eth_src, zero_mac, 6) ||
						  !memcmp(before[i].eth_src, pkt, 6));

		if (want == MOQ_R_SUB_RX && r.sub == &ref_subs[i] && learnable) {
			memcpy(exp.eth_dst, pkt + 6, 6);
			memcpy(exp.eth_src, pkt, 6);
			exp.flags |= MOQ_SUB_F_L2_LEARNED;
			memcpy(ref_subs[i].eth_dst, pkt + 6, 6);
			memcpy(ref_subs[i].eth_src, pkt, 6);
		}
		if (memcmp(&exp, &after[i], sizeof(exp)))
			FAIL("%s: subscriber_ingress changed slot %u unexpectedly", what,
			     ref_subs[i].slot);
	}
}

static uint64_t seq_get(uint32_t slot, int field)
{
	struct moq_conn_seq s;

	ck_assert_int_eq(bpf_map_lookup_elem(mfd("moq_conn_seq"), &slot, &s), 0);
	return field ? s.next_uni : s.next_pn;
}

static int down_stream_get(uint32_t slot, uint32_t conn, uint64_t sid, struct moq_down_stream *d)
{
	struct moq_down_stream_key k = {.slot = slot, .conn_id = conn, .up_stream_id = sid};

	return bpf_map_lookup_elem(mfd("moq_down_streams"), &k, d) == 0;
}

/* vi64 at exactly width w, or -1. */
static int vi_at_width(uint8_t *out, uint64_t v, size_t w)
{
	uint8_t tmp[16];
	size_t n = bpf_frame_vi(tmp, 0, v, w);
	if (n != w)
		return -1;
	memcpy(out, tmp, w);
	return 0;
}

/* A clone of an eligible packet (ref r) through the egress program: the
 * exact expected output, computed here. */
static void check_egress_strict(const uint8_t *pkt, size_t len, const struct ref_pkt *r,
				const char *what)
{
	const struct ref_track *t = r->track;
	struct ref_sub *sub = ref_sub_by_slot(t->slot);
	struct moq_down_stream ds;
	int have_ds = !r->is_dgram && down_stream_get(t->slot, r->conn, r->sid, &ds);
	uint64_t pn = seq_get(t->slot, 0), uni = seq_get(t->slot, 1);
	uint8_t exp[2048];
	size_t el = len, shift = r->vlan ? 4 : 0;
	int want = MOQ_R_FORWARDED, in_csum = csum_state(pkt, len);
	uint64_t down_sid = 0;

	C.egress_strict++;
	if (!r->is_dgram) {
		if (have_ds)
			down_sid = ds.stream_id;
		else if (!r->offset0)
			want = MOQ_R_STREAM_UNMAPPED;
		else
			down_sid = 4 * uni + 3;
	}
	uint8_t alias_buf[16];
	int alias_patch = 0;
	if (want == MOQ_R_FORWARDED && r->has_hdr && t->down_alias != r->alias) {
		if (vi_at_width(alias_buf, t->down_alias, r->alias_len))
			want = MOQ_R_ALIAS_WIDTH;
		else
			alias_patch = 1;
	}
	/* expected bytes: the input without the VLAN tag, then rewritten */
	memcpy(exp, pkt, 12);
	memcpy(exp + 12, pkt + 12 + shift, len - 12 - shift);
	el = len - shift;
	size_t l3 = r->l3 - shift, l4 = r->l4 - shift, q = l4 + 8;
	memcpy(exp, sub->eth_dst, 6);
	memcpy(exp + 6, sub->eth_src, 6);
	if (r->family == 4) {
		memcpy(exp + l3 + 12, sub->saddr, 4);
		memcpy(exp + l3 + 16, sub->daddr, 4);
	} else {
		memcpy(exp + l3 + 8, sub->saddr, 16);
		memcpy(exp + l3 + 24, sub->daddr, 16);
	}
	exp[l4] = RELAY_PORT >> 8;
	exp[l4 + 1] = RELAY_PORT & 0xff;
	exp[l4 + 2] = (uint8_t)(sub->dport >> 8);
	exp[l4 + 3] = (uint8_t)sub->dport;
	memcpy(exp + q + 1, sub_dcid, 8);
	exp[q + 9] = (uint8_t)(pn >> 24);
	exp[q + 10] = (uint8_t)(pn >> 16);
	exp[q + 11] = (uint8_t)(pn >> 8);
	exp[q + 12] = (uint8_t)pn;
	memset(exp + r->pay - shift, 0, r->media - r->pay);
	if (!r->is_dgram) {
		uint32_t v = 0x80000000u | (uint32_t)down_sid;
		exp[r->sid_off - shift] = (uint8_t)(v >> 24);
		exp[r->sid_off - shift + 1] = (uint8_t)(v >> 16);
		exp[r->sid_off - shift + 2] = (uint8_t)(v >> 8);
		exp[r->sid_off - shift + 3] = (uint8_t)v;
	}
	if (alias_patch)
		memcpy(exp + r->alias_off - shift, alias_buf, r->alias_len);

	stats_snapshot(st_before);
	run_prog(R.subscriber_egress, pkt, len, MOQ_MARK_MAGIC | t->slot);
	stats_snapshot(st_after);
	drain_clones(NULL, NULL);
	for (uint32_t k = 0; k < MOQ_R_MAX; k++)
		if (st_delta(MOQ_PROG_SUBSCRIBER_EGRESS, k))
			C.egress_reason[k]++;
	if (!st_delta(MOQ_PROG_SUBSCRIBER_EGRESS, (uint32_t)want)) {
		FAIL("%s: egress of an eligible clone: reason %d not counted", what, want);
		for (uint32_t k = 0; k < MOQ_R_MAX; k++)
			if (st_delta(MOQ_PROG_SUBSCRIBER_EGRESS, k))
				fprintf(stderr, "  counted reason %u\n", k);
		hexdump("input", pkt, len);
	}
	if (want != MOQ_R_FORWARDED) {
		if (run.retval != TC_ACT_SHOT)
			FAIL("%s: egress should drop (reason %d), returned %u", what, want,
			     run.retval);
		if (seq_get(t->slot, 0) != pn)
			FAIL("%s: a dropped clone took a packet number", what);
		return;
	}
	if (run.retval != TC_ACT_OK) {
		FAIL("%s: eligible clone dropped (ret %u)", what, run.retval);
		return;
	}
	if (run.mark_out != 0)
		FAIL("%s: egress left the mark %#x", what, run.mark_out);
	if (seq_get(t->slot, 0) != pn + 1)
		FAIL("%s: packet number not taken once", what);
	if (!r->is_dgram && !have_ds && seq_get(t->slot, 1) != uni + 1)
		FAIL("%s: new stream did not take one stream number", what);
	/* compare everything but the checksum fields */
	uint8_t got[2048];
	memcpy(got, run.out, run.out_len);
	if (r->family == 4) {
		got[l3 + 10] = exp[l3 + 10] = 0;
		got[l3 + 11] = exp[l3 + 11] = 0;
	}
	int zero_udp = r->family == 4 && !pkt[r->l4 + 6] && !pkt[r->l4 + 7];
	got[l4 + 6] = exp[l4 + 6] = 0;
	got[l4 + 7] = exp[l4 + 7] = 0;
	if (run.out_len != el || memcmp(got, exp, el)) {
		FAIL("%s: egress output differs from the reference rewrite", what);
		hexdump("input", pkt, len);
		hexdump("expected (checksums zeroed)", exp, el);
		hexdump("got", run.out, run.out_len);
		return;
	}
	if (zero_udp && (run.out[l4 + 6] || run.out[l4 + 7]))
		FAIL("%s: a zero UDP checksum did not stay zero", what);
	if (in_csum == 1 && csum_state(run.out, run.out_len) != 1) {
		FAIL("%s: checksums valid in the input, broken in the output", what);
		hexdump("got", run.out, run.out_len);
	}
	size_t qo, qe;
	if (!ref_plaintext_ok(run.out, run.out_len, &qo, &qe))
		FAIL("%s: egress output is not a plaintext-profile QUIC packet", what);
}

/* Any packet with or without the magic mark through the egress program. */
static void check_egress_any(const uint8_t *pkt, size_t len, const char *what)
{
	uint32_t mark;
	size_t qo, qe;
	int in_quic = ref_plaintext_ok(pkt, len, &qo, &qe);
	int in_csum = csum_state(pkt, len);

	switch (rnd(4)) {
	case 0:
		mark = (uint32_t)rnd64() & ~MOQ_MARK_MAGIC_MASK; /* not a clone */
		break;
	case 1:
		mark = MOQ_MARK_MAGIC | rnd(8);
		break;
	default:
		mark = MOQ_MARK_MAGIC | (chance(50) ? SLOT : SLOT6);
	}
	uint64_t pn[2] = {seq_get(SLOT, 0), seq_get(SLOT6, 0)};
	run_prog(R.subscriber_egress, pkt, len, mark);
	drain_clones(NULL, NULL);
	if ((mark & MOQ_MARK_MAGIC_MASK) != MOQ_MARK_MAGIC) {
		C.egress_unmarked++;
		if (run.retval != TC_ACT_OK || run.out_len != len || memcmp(run.out, pkt, len) ||
		    run.mark_out != mark)
			FAIL("%s: egress touched an unmarked packet", what);
		return;
	}
	C.egress_any_marked++;
	if (run.retval != TC_ACT_OK && run.retval != TC_ACT_SHOT) {
		FAIL("%s: egress verdict %u", what, run.retval);
		return;
	}
	uint32_t slot = mark & MOQ_MARK_SLOT_MASK;
	struct ref_sub *sub = ref_sub_by_slot(slot);
	int took = sub && seq_get(slot, 0) != pn[sub == &ref_subs[1]];
	if (run.retval == TC_ACT_SHOT) {
		if (took)
			FAIL("%s: a dropped packet took a packet number", what);
		return;
	}
	C.egress_any_forwarded++;
	if (!sub) {
		FAIL("%s: egress forwarded a clone for slot %u that has no subscriber", what, slot);
		return;
	}
	if (!took)
		FAIL("%s: forwarded without taking a packet number", what);
	const uint8_t *o = run.out;
	size_t ol = run.out_len, l3 = 14;
	if (ol < 14 + 20 + 8 + 13 + 16 || memcmp(o, sub->eth_dst, 6) ||
	    memcmp(o + 6, sub->eth_src, 6)) {
		FAIL("%s: forwarded packet without the subscriber's Ethernet header", what);
		hexdump("got", o, ol);
		return;
	}
	size_t l4 = l3 + (sub->family == 6 ? 40 : 20);
	if (rd16(o + 12) != (sub->family == 6 ? 0x86dd : 0x0800) || rd16(o + l4) != RELAY_PORT ||
	    rd16(o + l4 + 2) != sub->dport || o[l4 + 8] != 0x43 ||
	    memcmp(o + l4 + 9, sub_dcid, 8)) {
		FAIL("%s: forwarded packet without the subscriber's addresses / DCID", what);
		hexdump("input", pkt, len);
		hexdump("got", o, ol);
	}
	if (in_csum == 1 && csum_state(o, ol) != 1) {
		FAIL("%s: checksums broken by the egress rewrite", what);
		hexdump("input", pkt, len);
		hexdump("got", o, ol);
	}
	int out_quic = ref_plaintext_ok(o, ol, &qo, &qe);
	if (!out_quic) {
		if (in_quic) {
			FAIL("%s: egress made a valid QUIC packet invalid", what);
			hexdump("input", pkt, len);
			hexdump("got", o, ol);
		} else {
			C.egress_any_forwarded_not_quic++;
			if (verbose) {
				fprintf(stderr,
					"%s: egress forwarded a marked packet that is not "
					"valid QUIC (nor was its input)\n",
					what);
				hexdump("input", pkt, len);
			}
		}
	}
}

/* ---- the test --------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

START_TEST(random_packets_through_all_programs)
{
	uint64_t seed = env_u64("MOQ_FUZZ_SEED", 0x6d6f712d72656c61ull);
	uint64_t count = env_u64("MOQ_FUZZ_COUNT", DEFAULT_COUNT);
	uint8_t pkt[2048];
	char what[96];
	uint64_t t0 = bpf_relay_now_ns();

	rng_state = seed;
	printf("bpf_random: seed %#llx (MOQ_FUZZ_SEED), %llu packets (MOQ_FUZZ_COUNT)\n",
	       (unsigned long long)seed, (unsigned long long)count);
	fflush(stdout);

	for (uint64_t i = 0; i < count && C.failures < 20; i++) {
		int kind, family, m = M_NONE, nm;
		uint32_t u = rnd(100);
		size_t len;

		kind = u < 30	? B_STREAM0
		       : u < 50 ? B_STREAM_LATER
		       : u < 70 ? B_DATAGRAM
		       : u < 85 ? B_SUB_RX
				: B_RANDOM;
		len = gen_base(pkt, sizeof(pkt) - 64, kind, &family);
		nm = kind == B_RANDOM ? 0 : chance(25) ? 0 : 1 + (int)rnd(3);
		for (int k = 0; k < nm; k++) {
			m = 1 + (int)rnd(M_KINDS - 1);
			len = mutate(pkt, len, sizeof(pkt) - 64, m);
			C.per_mut[m]++;
		}
		if (!nm)
			C.per_mut[M_NONE]++;
		/* a consistent sender: lengths and checksums fixed after the
		 * mutation (else the mutation also shows in them) */
		if (nm && chance(50))
			fix_lengths_and_csums(pkt, len);
		if (len < 14)
			len = 14;
		/* bpf_prog_test_run refuses (EINVAL) an untagged IPv4 / IPv6
		 * frame shorter than its IP header (6.x kernels); the programs
		 * see those only on a real path */
		if ((rd16(pkt + 12) == 0x0800 && len < 34) ||
		    (rd16(pkt + 12) == 0x86dd && len < 54)) {
			C.refused++;
			continue;
		}
		C.packets++;
		C.per_base[kind]++;
		snprintf(what, sizeof(what), "packet %llu (%s, %s%s)", (unsigned long long)i,
			 base_names[kind], mut_names[m], nm > 1 ? "+" : "");

		struct ref_pkt r;
		int want = ref_upstream(pkt, len, &r);
		/* the ingress programs, alternating */
		check_ingress(chance(30), pkt, len, what);
		if (want == MOQ_R_FORWARDED)
			check_egress_strict(pkt, len, &r, what);
		check_subscriber_ingress(pkt, len, what);
		check_egress_any(pkt, len, what);
	}

	double secs = (double)(bpf_relay_now_ns() - t0) / 1e9;
	printf("bpf_random: %llu packets in %.1f s; failures %llu; %llu generated frames "
	       "skipped (test_run refuses IP frames shorter than the IP header)\n",
	       (unsigned long long)C.packets, secs, (unsigned long long)C.failures,
	       (unsigned long long)C.refused);
	printf("  bases:");
	for (int k = 0; k < B_KINDS; k++)
		printf(" %s=%llu", base_names[k], (unsigned long long)C.per_base[k]);
	printf("\n  mutations:");
	for (int k = 0; k < M_KINDS; k++)
		printf(" %s=%llu", mut_names[k], (unsigned long long)C.per_mut[k]);
	printf("\n  ingress reasons:");
	for (int k = 0; k < MOQ_R_MAX; k++)
		if (C.ingress_reason[k])
			printf(" %d=%llu", k, (unsigned long long)C.ingress_reason[k]);
	printf("\n  clones seen on lo: %llu; reference/program reason disagreements "
	       "(ineligible packets): %llu\n",
	       (unsigned long long)C.clones, (unsigned long long)C.reason_disagree);
	printf("  IP length disagreeing with the UDP length or the frame (refused): %llu\n",
	       (unsigned long long)C.ip_len_bad);
	printf("  egress of eligible clones: %llu, reasons:", (unsigned long long)C.egress_strict);
	for (int k = 0; k < MOQ_R_MAX; k++)
		if (C.egress_reason[k])
			printf(" %d=%llu", k, (unsigned long long)C.egress_reason[k]);
	printf("\n  egress of arbitrary packets: unmarked %llu, marked %llu, forwarded %llu "
	       "(not valid QUIC, input neither: %llu)\n",
	       (unsigned long long)C.egress_unmarked, (unsigned long long)C.egress_any_marked,
	       (unsigned long long)C.egress_any_forwarded,
	       (unsigned long long)C.egress_any_forwarded_not_quic);
	printf("  subscriber ingress reasons:");
	for (int k = 0; k < MOQ_R_MAX; k++)
		if (C.sub_reason[k])
			printf(" %d=%llu", k, (unsigned long long)C.sub_reason[k]);
	printf("\n");
	fflush(stdout);
	ck_assert_msg(C.failures == 0, "%llu invariant violations (seed %#llx)",
		      (unsigned long long)C.failures, (unsigned long long)seed);
	/* the generator must reach the interesting paths, or the test proves
	 * little */
	ck_assert_uint_gt(C.ingress_reason[MOQ_R_FORWARDED], count / 20);
	ck_assert_uint_gt(C.egress_reason[MOQ_R_FORWARDED], count / 20);
	ck_assert_uint_gt(C.clones, count / 20);
	ck_assert_uint_gt(C.sub_reason[MOQ_R_ACK_CONSUMED], count / 300);
}
END_TEST

/* ---- IP length against the UDP length -------------------------------------------
 *
 * A packet whose IP header says it is shorter than its UDP datagram is
 * dropped by the relay's own IP/UDP stack (ip_rcv trims to Total Length,
 * then the UDP length no longer fits), so the agent never gets it: the
 * ingress must not clone it either (it did until the programs compared the
 * lengths; found by random_packets_through_all_programs mutating the IP
 * length field). Expected: TC_ACT_OK, no clone, FORWARDED not counted. */
START_TEST(ip_length_shorter_than_udp_is_not_cloned)
{
	struct bpf_pkt_spec sp;
	uint8_t frames[64], pkt[256];
	size_t n = 0, len;

	memset(&sp, 0, sizeof(sp));
	sp.family = 4;
	memcpy(sp.eth_src, mac_pub, 6);
	memcpy(sp.eth_dst, mac_relay, 6);
	memcpy(sp.saddr, pub_ip, 4);
	memcpy(sp.daddr, relay_ip, 4);
	memcpy(sp.dcid, up_cid, 8);
	sp.sport = PUB_PORT;
	sp.dport = RELAY_PORT;
	sp.pn = 1;
	/* STREAM(sid 2, offset 0, to the end) SUBGROUP_HEADER(0x14, alias 5,
	 * group 11, subgroup 2, prio 32) object 0, 4 bytes "meda" */
	n = bpf_frame_stream_hdr(frames, n, 0, 2, 0, 0);
	n = bpf_frame_subgroup(frames, n, 0x14, ALIAS, 11, 2, 32);
	n = bpf_frame_vi(frames, n, 0, 0);
	n = bpf_frame_vi(frames, n, 4, 0);
	memcpy(frames + n, "meda", 4);
	sp.frames = frames;
	sp.frames_len = n + 4;
	len = bpf_pkt_build(pkt, sizeof(pkt), &sp);
	ck_assert_uint_gt(len, 0);
	/* IPv4 Total Length 10 bytes short of the UDP datagram; header
	 * checksum fixed so only the length disagrees */
	size_t tot = len - 14 - 10;
	pkt[14 + 2] = (uint8_t)(tot >> 8);
	pkt[14 + 3] = (uint8_t)tot;
	pkt[14 + 10] = pkt[14 + 11] = 0;
	uint16_t c = fold(sum16(pkt + 14, 20, 0));
	pkt[14 + 10] = c >> 8;
	pkt[14 + 11] = c & 0xff;

	stats_snapshot(st_before);
	run_prog(R.upstream_ingress, pkt, len, 0);
	stats_snapshot(st_after);
	int clones = drain_clones(NULL, NULL);
	ck_assert_int_eq(run.retval, TC_ACT_OK);
	ck_assert_msg(clones == 0 && st_delta(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FORWARDED) == 0,
		      "IPv4 Total Length shorter than the UDP datagram: %d clone(s), FORWARDED "
		      "%llu (expected none)",
		      clones,
		      (unsigned long long)st_delta(MOQ_PROG_UPSTREAM_INGRESS, MOQ_R_FORWARDED));
}
END_TEST

/* ---- setup of the namespace / packet socket ------------------------------------ */

static void netns_private(void)
{
	struct sockaddr_ll sll;

	if (bpf_relay_netns_private())
		return;
	pkt_sock = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (pkt_sock < 0) {
		perror("socket(AF_PACKET)");
		return;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex("lo");
	if (bind(pkt_sock, (struct sockaddr *)&sll, sizeof(sll)))
		perror("bind(AF_PACKET, lo)");
	int big = 8 << 20;
	setsockopt(pkt_sock, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
}

static Suite *suite(void)
{
	Suite *s = suite_create("bpf_random");
	TCase *tc = tcase_create("random");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, random_packets_through_all_programs);
	tcase_add_test(tc, ip_length_shorter_than_udp_is_not_cloned);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	verbose = getenv("MOQ_FUZZ_VERBOSE") != NULL;
	netns_private();
	bpf_relay_load_kept(&R, NULL, NULL); /* one load; setup puts the maps back */
	return bpf_relay_run_suite(suite(), &R);
}
