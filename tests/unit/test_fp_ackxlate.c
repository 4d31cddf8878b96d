/* fp_pnspace + fp_ackxlate: shared packet numbers, renumbering in the send
 * hook, ACK translation and media-frame hiding on crafted 1-RTT packets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fp_ackxlate.h"
#include "lib/fp_pnspace.h"
#include "moq_maps.h"
#include "varint.h"

/* ---- helpers ------------------------------------------------------------ */

#define HDR 13

/* A plaintext 1-RTT packet: 0x43, 8-byte DCID, 4-byte PN, frames, tag. */
static size_t mkpkt(uint8_t *out, const uint8_t *frames, size_t flen)
{
	out[0] = 0x43;
	memset(out + 1, 0xcd, 8);
	memset(out + 9, 0, 4);
	memcpy(out + HDR, frames, flen);
	memcpy(out + HDR + flen, MOQ_PLAINTEXT_TAG, 16);
	return HDR + flen + 16;
}

/* Exactly-sized heap copy so ASan catches any read past the end. */
static uint8_t *heap_pkt(const uint8_t *frames, size_t flen, size_t *len)
{
	uint8_t tmp[4096];
	size_t n = mkpkt(tmp, frames, flen);
	uint8_t *p = malloc(n);
	memcpy(p, tmp, n);
	*len = n;
	return p;
}

struct rec {
	int acks;
	struct fp_pn_range r[64];
	size_t nr;
	uint64_t largest, delay;
	int stop, msd;
	uint64_t sid, val;
};

static void on_media_ack(void *u, const struct fp_wire_ack *a)
{
	struct rec *r = u;
	r->acks++;
	r->largest = a->largest;
	r->delay = a->ack_delay_raw;
	r->nr = a->nranges < 64 ? a->nranges : 64;
	memcpy(r->r, a->ranges, r->nr * sizeof(r->r[0]));
}

static int is_media(void *u, uint64_t sid)
{
	return (sid & 3) == 3; /* server-initiated uni: media plane */
}

static void on_stop(void *u, uint64_t sid, uint64_t err)
{
	struct rec *r = u;
	r->stop++;
	r->sid = sid;
	r->val = err;
}

static void on_msd(void *u, uint64_t sid, uint64_t max)
{
	struct rec *r = u;
	r->msd++;
	r->sid = sid;
	r->val = max;
}

static void on_msu(void *u, uint64_t max)
{
	struct rec *r = u;
	r->val = max;
}

static const struct fp_ackx_ops ops = {
    .on_max_streams_uni = on_msu,
    .on_media_ack = on_media_ack,
    .is_media_stream = is_media,
    .on_stop_sending = on_stop,
    .on_max_stream_data = on_msd,
};

struct fx {
	struct moq_conn_seq seq;
	struct fp_pnspace ps;
	struct fp_ackx *x;
	struct rec rec;
	uint64_t ng_next;
};

static void fx_init(struct fx *f, uint64_t first_wire)
{
	memset(f, 0, sizeof(*f));
	f->seq.next_pn = first_wire;
	ck_assert_int_eq(fp_pnspace_init(&f->ps, &f->seq, 256), 0);
	f->x = malloc(sizeof(*f->x));
	fp_ackx_init(f->x, &f->ps, 8, &ops, &f->rec);
}

static void fx_free(struct fx *f)
{
	free(f->x);
	fp_pnspace_free(&f->ps);
}

/* ngtcp2 sends one packet: returns its wire number. */
static uint64_t ng_send(struct fx *f)
{
	uint8_t pkt[64];
	uint8_t fr[1] = {0x01};
	uint64_t w;
	size_t n = mkpkt(pkt, fr, 1);
	ck_assert_int_eq(fp_pnspace_on_send(&f->ps, pkt, n, 8, f->ng_next++, &w), 0);
	return w;
}

/* Plan a send order: 'n' = ngtcp2, 'm' = media. */
static void send_plan(struct fx *f, const char *plan)
{
	for (; *plan; plan++) {
		if (*plan == 'n')
			ng_send(f);
		else
			fp_pnspace_take_media(&f->ps);
	}
}

/* Translate frames; returns the rc and leaves the packet in out/outlen. */
static int xlate(struct fx *f, const uint8_t *frames, size_t flen, uint8_t **out, size_t *outlen,
		 size_t extra_cap)
{
	size_t len;
	uint8_t *p = heap_pkt(frames, flen, &len);
	uint8_t *big = malloc(len + extra_cap);
	int rv;
	memcpy(big, p, len);
	free(p);
	rv = fp_ackx_packet(f->x, big, &len, len + extra_cap);
	*out = big;
	*outlen = len;
	return rv;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---- fp_pnspace ----------------------------------------------------------- */

START_TEST(renumbering_interleaves_with_media_numbers)
{
	struct fx f;
	uint8_t pkt[64], fr[1] = {0x01};
	uint64_t w, ng;
	size_t n;

	fx_init(&f, 0);
	send_plan(&f, "nmm");
	n = mkpkt(pkt, fr, 1);
	ck_assert_int_eq(fp_pnspace_on_send(&f.ps, pkt, n, 8, f.ng_next++, &w), 0);
	ck_assert_uint_eq(w, 3);
	ck_assert_uint_eq(pkt[9], 0);
	ck_assert_uint_eq(pkt[12], 3);
	ck_assert_uint_eq(fp_pnspace_take_media(&f.ps), 4);
	ck_assert_uint_eq(f.seq.next_pn, 5);
	ck_assert_int_eq(fp_pnspace_owner(&f.ps, 0, &ng), FP_PN_NGTCP2);
	ck_assert_uint_eq(ng, 0);
	ck_assert_int_eq(fp_pnspace_owner(&f.ps, 3, &ng), FP_PN_NGTCP2);
	ck_assert_uint_eq(ng, 1);
	ck_assert_int_eq(fp_pnspace_owner(&f.ps, 1, NULL), FP_PN_MEDIA);
	ck_assert_int_eq(fp_pnspace_owner(&f.ps, 4, NULL), FP_PN_MEDIA);
	ck_assert_int_eq(fp_pnspace_owner(&f.ps, 5, NULL), FP_PN_UNSENT);
	ck_assert_uint_eq(f.ps.media_packets, 3);
	fx_free(&f);
}
END_TEST

START_TEST(renumbering_writes_low_32_bits_of_wide_numbers)
{
	struct fx f;
	uint8_t pkt[64], fr[1] = {0x01};
	uint64_t w;
	size_t n;

	fx_init(&f, 0x1deadbeefull);
	n = mkpkt(pkt, fr, 1);
	ck_assert_int_eq(fp_pnspace_on_send(&f.ps, pkt, n, 8, 0, &w), 0);
	ck_assert_uint_eq(w, 0x1deadbeefull);
	ck_assert_uint_eq(pkt[9], 0xde);
	ck_assert_uint_eq(pkt[10], 0xad);
	ck_assert_uint_eq(pkt[11], 0xbe);
	ck_assert_uint_eq(pkt[12], 0xef);
	fx_free(&f);
}
END_TEST

START_TEST(renumbering_refuses_non_profile_header_without_taking_a_number)
{
	struct fx f;
	uint8_t pkt[64], fr[1] = {0x01};
	size_t n;

	fx_init(&f, 7);
	n = mkpkt(pkt, fr, 1);
	pkt[0] = 0x40; /* 1-byte packet number */
	ck_assert_int_lt(fp_pnspace_on_send(&f.ps, pkt, n, 8, 0, NULL), 0);
	pkt[0] = 0xc3; /* long header */
	ck_assert_int_lt(fp_pnspace_on_send(&f.ps, pkt, n, 8, 0, NULL), 0);
	ck_assert_uint_eq(f.seq.next_pn, 7);
	ck_assert_uint_eq(f.ps.send_errors, 2);
	fx_free(&f);
}
END_TEST

START_TEST(rebind_to_shared_counter_keeps_numbers_growing)
{
	struct fx f;
	struct moq_conn_seq shared = {.next_pn = 1};
	uint8_t fr[] = {0x02, 0x04, 0x00, 0x00, 0x04}; /* wire [0,4] */
	uint8_t want[] = {0x02, 0x03, 0x00, 0x00, 0x03};
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	send_plan(&f, "nnn"); /* private counter: wire 0..2 */
	fp_pnspace_rebind(&f.ps, &shared);
	ck_assert_uint_eq(shared.next_pn, 3);
	ck_assert_uint_eq(fp_pnspace_take_media(&f.ps), 3); /* the kernel's first */
	ck_assert_uint_eq(ng_send(&f), 4);
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_mem_eq(o + HDR, want, sizeof(want)); /* ngtcp2 0..3 */
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(full_deque_evicts_oldest_pair_which_is_then_forgotten)
{
	struct fx f;

	fx_init(&f, 0);
	for (int i = 0; i < 256 + 10; i++)
		ng_send(&f);
	ck_assert_uint_eq(f.ps.count, 256);
	ck_assert_uint_eq(f.ps.evicted, 10);
	ck_assert_int_eq(fp_pnspace_owner(&f.ps, 9, NULL), FP_PN_FORGOTTEN);
	ck_assert_int_eq(fp_pnspace_owner(&f.ps, 10, NULL), FP_PN_NGTCP2);
	fx_free(&f);
}
END_TEST

/* ---- ACK translation ------------------------------------------------------- */

START_TEST(ack_of_pure_ngtcp2_range_is_renumbered)
{
	struct fx f;
	uint8_t fr[] = {0x02, 0x40, 104,
			0x05, 0x00, 0x04}; /* largest 104 (2-byte), delay 5, first 4 */
	uint8_t want[] = {0x02, 0x04, 0x05, 0x00, 0x04, 0x00};
	uint8_t *o;
	size_t ol;

	fx_init(&f, 100);
	send_plan(&f, "nnnnn"); /* wire 100..104 = ngtcp2 0..4 */
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_uint_eq(ol, HDR + sizeof(fr) + 16);
	ck_assert_mem_eq(o + HDR, want, sizeof(want));
	ck_assert_mem_eq(o + ol - 16, MOQ_PLAINTEXT_TAG, 16);
	ck_assert_int_eq(f.rec.acks, 1);
	ck_assert_uint_eq(f.x->st.acks_translated, 1);
	ck_assert_uint_eq(f.ps.count, 0); /* acked pairs released */
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(ack_of_pure_media_range_becomes_padding_and_goes_to_tracker)
{
	struct fx f;
	uint8_t fr[] = {0x02, 0x03, 0x00, 0x00, 0x01, 0x01}; /* [2,3] */
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	send_plan(&f, "nnmmn");
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_uint_eq(ol, HDR + sizeof(fr) + 16);
	ck_assert(all_zero(o + HDR, 5));
	ck_assert_uint_eq(o[HDR + 5], 0x01); /* PING kept */
	ck_assert_int_eq(f.rec.acks, 1);
	ck_assert_uint_eq(f.rec.nr, 1);
	ck_assert_uint_eq(f.rec.r[0].lo, 2);
	ck_assert_uint_eq(f.rec.r[0].hi, 3);
	ck_assert_uint_eq(f.x->st.acks_padded, 1);
	ck_assert_uint_eq(f.ps.count, 3); /* nothing of ngtcp2's was acked */
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(ack_mixed_ranges_merge_across_media_and_split_at_unacked_ngtcp2)
{
	/* wire: 0n0 1m 2n1 3n2 4m 5m 6n3 7n4 8n5; ACK [8,8] [0,6] */
	struct fx f;
	uint8_t fr[] = {0x02, 0x08, 0x00, 0x01, 0x00, 0x00, 0x06};
	uint8_t want[] = {0x02, 0x05, 0x00, 0x01, 0x00, 0x00, 0x03};
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	send_plan(&f, "nmnnmmnnn");
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_mem_eq(o + HDR, want, sizeof(want));
	ck_assert_uint_eq(f.rec.nr, 2);
	ck_assert_uint_eq(f.rec.r[1].lo, 0);
	ck_assert_uint_eq(f.rec.r[1].hi, 6);
	ck_assert_uint_eq(f.ps.count, 2); /* ng 4 (unacked) and 5 stay */
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(ack_range_with_interleaved_media_splits_only_where_ngtcp2_gaps)
{
	/* wire 0n0 1m 2n1 3m 4n2, ngtcp2 3 lost by the shim (never on the
	 * wire), 5n4: ACK [0,5] -> ngtcp2 ranges [4,4] [0,2] */
	struct fx f;
	uint8_t pkt[64], fr1[1] = {0x01};
	uint8_t fr[] = {0x02, 0x05, 0x00, 0x00, 0x05};
	uint8_t want[] = {0x02, 0x04, 0x00, 0x01, 0x00, 0x00, 0x02};
	uint8_t *o;
	size_t ol, n;

	fx_init(&f, 0);
	send_plan(&f, "nmnmn");
	f.ng_next++; /* ngtcp2 number 3 dropped before the hook */
	n = mkpkt(pkt, fr1, 1);
	ck_assert_int_eq(fp_pnspace_on_send(&f.ps, pkt, n, 8, f.ng_next++, NULL), 0);
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 8), 0);
	ck_assert_uint_eq(ol, HDR + sizeof(want) + 16); /* grew by 2 within cap */
	ck_assert_mem_eq(o + HDR, want, sizeof(want));
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(ack_delay_and_ecn_counts_are_kept)
{
	struct fx f;
	/* ACK_ECN largest 3, delay 0x1234, 0 ranges, first 3, ECT0 5 ECT1 0 CE 2 */
	uint8_t fr[] = {0x03, 0x03, 0x52, 0x34, 0x00, 0x03, 0x05, 0x00, 0x02};
	uint8_t want[] = {0x03, 0x01, 0x52, 0x34, 0x00, 0x01, 0x05, 0x00, 0x02};
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	send_plan(&f, "mnmn");
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_mem_eq(o + HDR, want, sizeof(want));
	ck_assert_uint_eq(f.rec.delay, 0x1234);
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(ack_that_needs_more_room_than_cap_leaves_out_oldest_ranges)
{
	/* wire n m n m n m n m ...: every other ngtcp2 number is not acked, so
	 * one wire range becomes many ngtcp2 ranges */
	struct fx f;
	uint8_t fr[] = {0x02, 0x1e, 0x00, 0x00, 0x1e}; /* [0,30] */
	uint8_t *o;
	size_t ol;
	uint64_t ng = 0;

	fx_init(&f, 0);
	for (int i = 0; i < 32; i++) { /* ngtcp2 numbers 0,2,4,... (odd ones lost) */
		uint8_t pkt[64], fr1[1] = {0x01};
		size_t n = mkpkt(pkt, fr1, 1);
		ck_assert_int_eq(fp_pnspace_on_send(&f.ps, pkt, n, 8, ng, NULL), 0);
		ng += 2;
	}
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_uint_eq(ol, HDR + sizeof(fr) + 16); /* cap == len: same length */
	ck_assert_uint_eq(o[HDR], 0x02);
	ck_assert_uint_eq(o[HDR + 1], 60); /* largest ngtcp2 = 2*30 */
	ck_assert_uint_eq(f.x->st.acks_truncated, 1);
	ck_assert_uint_eq(f.ps.count, 32);		       /* left-out pairs stay unacked... */
	ck_assert_uint_eq(fp_pnspace_at(&f.ps, 30)->acked, 1); /* ...the largest acked is */
	ck_assert_uint_eq(fp_pnspace_at(&f.ps, 0)->acked, 0);
	free(o);
	fx_free(&f);
}
END_TEST

/* ---- malformed ACKs --------------------------------------------------------- */

static void expect_reject(const uint8_t *fr, size_t flen, int reason)
{
	struct fx f;
	size_t len;
	uint8_t *p, *copy;

	fx_init(&f, 0);
	send_plan(&f, "nnnnnnnnnn");
	p = heap_pkt(fr, flen, &len);
	copy = malloc(len);
	memcpy(copy, p, len);
	ck_assert_int_eq(fp_ackx_packet(f.x, p, &len, len), -reason);
	ck_assert_mem_eq(p, copy, len); /* untouched */
	ck_assert_int_eq(f.rec.acks, 0);
	ck_assert_uint_eq(f.x->st.rejected[reason], 1);
	ck_assert_str_ne(fp_ackx_reason_str(-reason), "unknown");
	free(copy);
	free(p);
	fx_free(&f);
}

START_TEST(ack_first_range_below_zero_is_rejected)
{
	uint8_t fr[] = {0x02, 0x03, 0x00, 0x00, 0x04};
	expect_reject(fr, sizeof(fr), FP_ACKX_E_ACK_RANGE);
}
END_TEST

START_TEST(ack_gap_below_zero_is_rejected)
{
	uint8_t fr[] = {0x02, 0x05, 0x00, 0x01, 0x02, 0x02, 0x00}; /* smallest 3, gap 2 -> -1 */
	expect_reject(fr, sizeof(fr), FP_ACKX_E_ACK_RANGE);
}
END_TEST

START_TEST(ack_length_below_zero_is_rejected)
{
	uint8_t fr[] = {0x02, 0x09, 0x00, 0x01, 0x00, 0x00, 0x08}; /* next hi 7, len 8 */
	expect_reject(fr, sizeof(fr), FP_ACKX_E_ACK_RANGE);
}
END_TEST

START_TEST(truncated_ack_is_rejected_without_reading_past_the_payload)
{
	/* range count 3 but only one range pair before the tag */
	uint8_t fr[] = {0x02, 0x09, 0x00, 0x03, 0x00, 0x00, 0x00};
	expect_reject(fr, sizeof(fr), FP_ACKX_E_FRAME);
}
END_TEST

START_TEST(ack_with_varint_cut_by_the_tag_is_rejected)
{
	uint8_t fr[] = {0x02, 0x09, 0x00, 0x00, 0x40}; /* 2-byte varint, 1 byte left */
	expect_reject(fr, sizeof(fr), FP_ACKX_E_FRAME);
}
END_TEST

START_TEST(ack_with_too_many_ranges_is_rejected)
{
	uint8_t fr[] = {0x02, 0x09, 0x00, 0x44, 0x00, 0x00}; /* 1024 ranges */
	expect_reject(fr, sizeof(fr), FP_ACKX_E_ACK_LIMIT);
}
END_TEST

START_TEST(ack_of_number_never_sent_is_rejected)
{
	uint8_t fr[] = {0x02, 0x0a, 0x00, 0x00, 0x00}; /* next_pn is 10 */
	expect_reject(fr, sizeof(fr), FP_ACKX_E_ACK_UNSENT);
}
END_TEST

START_TEST(unknown_frame_type_is_rejected)
{
	uint8_t fr[] = {0x01, 0x21};
	expect_reject(fr, sizeof(fr), FP_ACKX_E_UNKNOWN_FRAME);
}
END_TEST

START_TEST(packet_too_short_or_not_short_header_is_rejected)
{
	struct fx f;
	uint8_t pkt[64], fr[1] = {0x01};
	size_t n;

	fx_init(&f, 0);
	n = mkpkt(pkt, fr, 1);
	pkt[0] = 0x41;
	ck_assert_int_eq(fp_ackx_packet(f.x, pkt, &n, sizeof(pkt)), -FP_ACKX_E_HEADER);
	n = HDR + 16;
	pkt[0] = 0x43;
	ck_assert_int_eq(fp_ackx_packet(f.x, pkt, &n, sizeof(pkt)), -FP_ACKX_E_SHORT);
	fx_free(&f);
}
END_TEST

/* ---- frame hiding ------------------------------------------------------------- */

/* A hidden frame is a PING and padding: the packet stays ack-eliciting for
 * ngtcp2, so the peer's packet is acknowledged (a subscriber whose
 * MAX_STREAM_DATA packets went unacknowledged stalled in PTO backoff). */
static int hidden(const uint8_t *p, size_t n)
{
	return n >= 1 && p[0] == 0x01 && all_zero(p + 1, n - 1);
}

START_TEST(stop_sending_for_media_stream_is_hidden_and_reported)
{
	struct fx f;
	uint8_t fr[] = {0x05, 0x80, 0x00, 0x00, 0x07, 0x41, 0x00, /* media sid 7, err 256 */
			0x05, 0x00, 0x09};			  /* control sid 0 */
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert(hidden(o + HDR, 7));
	ck_assert_mem_eq(o + HDR + 7, fr + 7, 3);
	ck_assert_int_eq(f.rec.stop, 1);
	ck_assert_uint_eq(f.rec.sid, 7);
	ck_assert_uint_eq(f.rec.val, 256);
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(max_stream_data_for_media_stream_is_hidden_and_reported)
{
	struct fx f;
	uint8_t fr[] = {0x11, 0x03, 0x80, 0x01, 0x00, 0x00, /* media sid 3, 65536 */
			0x11, 0x02, 0x44, 0x00};	    /* control sid 2 */
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert(hidden(o + HDR, 6));
	ck_assert_mem_eq(o + HDR + 6, fr + 6, 4);
	ck_assert_int_eq(f.rec.msd, 1);
	ck_assert_uint_eq(f.rec.sid, 3);
	ck_assert_uint_eq(f.rec.val, 65536);
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(max_data_gives_ngtcp2_only_its_share)
{
	struct fx f;
	uint8_t fr[] = {0x10, 0x80, 0x00, 0x27, 0x10}; /* MAX_DATA 10000, 4-byte */
	uint8_t *o;
	size_t ol;
	uint64_t v;

	fx_init(&f, 0);
	fp_ackx_set_flow(f.x, 1000, 2000);
	fp_ackx_set_ng_used(f.x, 500);
	ck_assert_uint_eq(fp_ackx_media_reserve(f.x, 100), 0); /* all 1000 are ngtcp2's */
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_uint_eq(o[HDR], 0x10);
	ck_assert_int_eq(quic_varint_decode(&v, o + HDR + 1, 4), 4);
	ck_assert_uint_eq(v, 2500); /* used 500 + window 2000, same width */
	ck_assert_uint_eq(fp_ackx_unallocated(f.x), 7500);
	ck_assert_uint_eq(fp_ackx_media_reserve(f.x, 8000), 7500);
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(max_data_that_would_not_raise_ngtcp2s_limit_is_hidden)
{
	struct fx f;
	uint8_t fr[] = {0x10, 0x80, 0x00, 0x27, 0x10}; /* MAX_DATA 10000 */
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	fp_ackx_set_flow(f.x, 4000, 0);
	f.x->peer_max_data = 12000; /* pretend more arrived earlier */
	ck_assert_uint_eq(fp_ackx_media_reserve(f.x, 8000), 8000);
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert(hidden(o + HDR, sizeof(fr)));
	ck_assert_uint_eq(f.x->ng_max_data, 4000);
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(blocked_ngtcp2_gets_synthetic_max_data_when_room_allows)
{
	struct fx f;
	uint8_t md[] = {0x10, 0x80, 0x00, 0x27, 0x10}; /* MAX_DATA 10000 */
	uint8_t ping[] = {0x01};
	uint8_t *o;
	size_t ol;
	uint64_t v;

	fx_init(&f, 0);
	fp_ackx_set_flow(f.x, 1000, 2000);
	ck_assert_int_eq(xlate(&f, md, sizeof(md), &o, &ol, 0), 0);
	free(o);
	ck_assert_uint_eq(f.x->ng_max_data, 2000);
	ck_assert_int_eq(fp_ackx_raise_pending(f.x), 0);
	fp_ackx_set_ng_used(f.x, 2000); /* ngtcp2 is blocked; the peer sends no MAX_DATA */
	/* what the agent asks before it lets the kernel consume ACKs on */
	ck_assert_int_eq(fp_ackx_raise_pending(f.x), 1);
	ck_assert_int_eq(xlate(&f, ping, 1, &o, &ol, 0), 0); /* no room: unchanged */
	ck_assert_uint_eq(ol, HDR + 1 + 16);
	ck_assert_uint_eq(f.x->ng_max_data, 2000);
	free(o);
	ck_assert_int_eq(xlate(&f, ping, 1, &o, &ol, 8), 0);
	ck_assert_uint_eq(ol, HDR + 1 + 3 + 16);
	ck_assert_uint_eq(o[HDR + 1], 0x10);
	ck_assert_int_eq(quic_varint_decode(&v, o + HDR + 2, 2), 2);
	ck_assert_uint_eq(v, 4000); /* used 2000 + window 2000 */
	ck_assert_mem_eq(o + ol - 16, MOQ_PLAINTEXT_TAG, 16);
	ck_assert_uint_eq(f.x->st.max_data_injected, 1);
	ck_assert_int_eq(fp_ackx_raise_pending(f.x), 0);
	free(o);
	fx_free(&f);
}
END_TEST

/* ngtcp2's use is refreshed only when it wrote since the last refresh
 * (issue 18: no read of its connection per slot per tick); the first call
 * always refreshes, count 0 included. */
START_TEST(ng_used_refresh_only_after_ngtcp2_wrote)
{
	struct fx f;

	fx_init(&f, 0);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, 0), 1);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, 0), 0);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, 0), 0);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, 3), 1);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, 3), 0);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, 4), 1);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, UINT64_MAX), 1);
	ck_assert_int_eq(fp_ackx_ng_tx_moved(f.x, UINT64_MAX), 0);
	fx_free(&f);
}
END_TEST

START_TEST(max_streams_uni_is_reported_and_passed_on)
{
	struct fx f;
	uint8_t fr[] = {0x13, 0x44, 0x00, 0x12, 0x05}; /* uni 1024, bidi 5 */
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_mem_eq(o + HDR, fr, sizeof(fr));
	ck_assert_uint_eq(f.rec.val, 1024);
	free(o);
	fx_free(&f);
}
END_TEST

START_TEST(stream_and_other_frames_pass_unchanged)
{
	struct fx f;
	uint8_t fr[] = {0x01, 0x0a, 0x80, 0x00, 0x00, 0x03, 0x03, 'a',
			'b',  'c',  0x1e, 0x31, 0x02, 'x',  'y'};
	uint8_t *o;
	size_t ol;

	fx_init(&f, 0);
	ck_assert_int_eq(xlate(&f, fr, sizeof(fr), &o, &ol, 0), 0);
	ck_assert_uint_eq(ol, HDR + sizeof(fr) + 16);
	ck_assert_mem_eq(o + HDR, fr, sizeof(fr));
	free(o);
	fx_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_ackxlate");
	TCase *pn = tcase_create("pnspace");
	TCase *ack = tcase_create("ack");
	TCase *bad = tcase_create("malformed");
	TCase *hide = tcase_create("hide");
	SRunner *sr;
	int failed;

	tcase_add_test(pn, renumbering_interleaves_with_media_numbers);
	tcase_add_test(pn, renumbering_writes_low_32_bits_of_wide_numbers);
	tcase_add_test(pn, renumbering_refuses_non_profile_header_without_taking_a_number);
	tcase_add_test(pn, rebind_to_shared_counter_keeps_numbers_growing);
	tcase_add_test(pn, full_deque_evicts_oldest_pair_which_is_then_forgotten);
	suite_add_tcase(s, pn);
	tcase_add_test(ack, ack_of_pure_ngtcp2_range_is_renumbered);
	tcase_add_test(ack, ack_of_pure_media_range_becomes_padding_and_goes_to_tracker);
	tcase_add_test(ack, ack_mixed_ranges_merge_across_media_and_split_at_unacked_ngtcp2);
	tcase_add_test(ack, ack_range_with_interleaved_media_splits_only_where_ngtcp2_gaps);
	tcase_add_test(ack, ack_delay_and_ecn_counts_are_kept);
	tcase_add_test(ack, ack_that_needs_more_room_than_cap_leaves_out_oldest_ranges);
	suite_add_tcase(s, ack);
	tcase_add_test(bad, ack_first_range_below_zero_is_rejected);
	tcase_add_test(bad, ack_gap_below_zero_is_rejected);
	tcase_add_test(bad, ack_length_below_zero_is_rejected);
	tcase_add_test(bad, truncated_ack_is_rejected_without_reading_past_the_payload);
	tcase_add_test(bad, ack_with_varint_cut_by_the_tag_is_rejected);
	tcase_add_test(bad, ack_with_too_many_ranges_is_rejected);
	tcase_add_test(bad, ack_of_number_never_sent_is_rejected);
	tcase_add_test(bad, unknown_frame_type_is_rejected);
	tcase_add_test(bad, packet_too_short_or_not_short_header_is_rejected);
	suite_add_tcase(s, bad);
	tcase_add_test(hide, stop_sending_for_media_stream_is_hidden_and_reported);
	tcase_add_test(hide, max_stream_data_for_media_stream_is_hidden_and_reported);
	tcase_add_test(hide, max_data_gives_ngtcp2_only_its_share);
	tcase_add_test(hide, max_data_that_would_not_raise_ngtcp2s_limit_is_hidden);
	tcase_add_test(hide, blocked_ngtcp2_gets_synthetic_max_data_when_room_allows);
	tcase_add_test(hide, max_streams_uni_is_reported_and_passed_on);
	tcase_add_test(hide, ng_used_refresh_only_after_ngtcp2_wrote);
	tcase_add_test(hide, stream_and_other_frames_pass_unchanged);
	suite_add_tcase(s, hide);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
