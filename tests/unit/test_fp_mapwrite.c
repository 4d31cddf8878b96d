/* fp_mapwrite: typed map writers, their failure counts and the purge of a
 * reused slot's moq_down_streams entries (issue 17 finding 7). Needs root
 * (BPF maps); the maps are unpinned and go with the test process. */
#include <bpf/bpf.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fp_mapwrite.h"

static struct fp_maps M;

static void setup(void)
{
	memset(&M, 0, sizeof(M));
	for (int i = 0; i < FP_MAP_MAX; i++)
		M.fd[i] = -1;
}

static void teardown(void)
{
	for (int i = 0; i < FP_MAP_MAX; i++)
		if (M.fd[i] >= 0)
			close(M.fd[i]);
}

static int mk(enum bpf_map_type t, uint32_t k, uint32_t v, uint32_t n)
{
	int fd = bpf_map_create(t, NULL, k, v, n, NULL);

	ck_assert_msg(fd >= 0, "bpf_map_create: %s (root needed)", strerror(errno));
	return fd;
}

/* A full moq_subscriptions refuses an update: the writer says so and the
 * failure is counted for that map; deleting an absent key is no failure. */
START_TEST(failed_updates_are_counted_per_map)
{
	struct moq_subscription v = {.track_alias = 9};

	M.fd[FP_MAP_SUBSCRIPTIONS] = mk(BPF_MAP_TYPE_HASH, sizeof(struct moq_subscription_key),
					sizeof(struct moq_subscription), 2);
	for (uint32_t i = 0; i < 2; i++) {
		struct moq_subscription_key k = {.slot = i, .conn_id = 1, .track_alias = 5};

		ck_assert_int_eq(fp_maps_put_subscription(&M, &k, &v), 0);
	}
	struct moq_subscription_key k3 = {.slot = 3, .conn_id = 1, .track_alias = 5};

	ck_assert_int_lt(fp_maps_put_subscription(&M, &k3, &v), 0);
	ck_assert_uint_eq(M.failures[FP_MAP_SUBSCRIPTIONS], 1);
	ck_assert_int_eq(fp_maps_del_subscription(&M, &k3), -ENOENT);
	ck_assert_uint_eq(M.failures[FP_MAP_SUBSCRIPTIONS], 1);
	/* a map that is not open: -EBADF, not counted as a kernel refusal */
	ck_assert_int_eq(fp_maps_put_sub_cid(&M, (uint8_t[MOQ_CID_LEN]){1}, 3), -EBADF);
	ck_assert_uint_eq(M.failures[FP_MAP_SUB_BY_CID], 0);
}
END_TEST

/* A slot being reused loses every moq_down_streams and moq_stream_credit
 * entry of its previous connection (reset marks and stream credit
 * included); other slots keep theirs. */
START_TEST(purge_slot_deletes_only_that_slots_streams)
{
	struct moq_down_stream v = {.stream_id = 3, .flags = MOQ_DS_F_RESET};
	uint32_t left3 = 0, left4 = 0;
	struct moq_down_stream_key k, nk;
	bool have = false;
	int fd;

	fd = mk(BPF_MAP_TYPE_LRU_HASH, sizeof(struct moq_down_stream_key),
		sizeof(struct moq_down_stream), 20000);
	M.fd[FP_MAP_DOWN_STREAMS] = fd;
	M.fd[FP_MAP_STREAM_CREDIT] =
	    mk(BPF_MAP_TYPE_HASH, sizeof(struct moq_down_stream_key), sizeof(__u64), 100);
	for (uint64_t i = 0; i < 10; i++) {
		struct moq_down_stream_key a = {.slot = 3, .conn_id = 1, .up_stream_id = 4 * i + 3};
		struct moq_down_stream_key b = {.slot = 4, .conn_id = 1, .up_stream_id = 4 * i + 3};

		ck_assert_int_eq(fp_maps_put_stream_credit(&M, &a, 1 << 20), 0);
		ck_assert_int_eq(fp_maps_put_stream_credit(&M, &b, 1 << 20), 0);
	}
	for (uint64_t i = 0; i < 6000; i++) {
		struct moq_down_stream_key a = {.slot = 3, .conn_id = 1, .up_stream_id = 4 * i + 3};
		struct moq_down_stream_key b = {.slot = 4, .conn_id = 1, .up_stream_id = 4 * i + 3};

		ck_assert_int_eq(fp_maps_put_down_stream(&M, &a, &v), 0);
		if (i < 500)
			ck_assert_int_eq(fp_maps_put_down_stream(&M, &b, &v), 0);
	}
	ck_assert_int_eq(fp_maps_purge_slot(&M, 3), 6010);
	{
		struct moq_down_stream_key a = {.slot = 3, .conn_id = 1, .up_stream_id = 3};
		struct moq_down_stream_key b = {.slot = 4, .conn_id = 1, .up_stream_id = 3};
		__u64 v;

		ck_assert_int_ne(bpf_map_lookup_elem(M.fd[FP_MAP_STREAM_CREDIT], &a, &v), 0);
		ck_assert_int_eq(bpf_map_lookup_elem(M.fd[FP_MAP_STREAM_CREDIT], &b, &v), 0);
	}
	while (bpf_map_get_next_key(fd, have ? &k : NULL, &nk) == 0) {
		have = true;
		k = nk;
		left3 += nk.slot == 3;
		left4 += nk.slot == 4;
	}
	ck_assert_uint_eq(left3, 0);
	ck_assert_uint_eq(left4, 500);
	ck_assert_int_eq(fp_maps_purge_slot(&M, 3), 0);
}
END_TEST

/* Registering an upstream connection writes an empty packet-number window
 * of the current generation over whatever was there; a restarted agent's
 * clear_stale removes every window of the earlier run. */
START_TEST(pn_window_reset_is_empty_and_cleared_at_start)
{
	struct moq_pn_window w = {.next = 77, .generation = 3, .slot = {1, 2, 3}};
	uint32_t conn = 9, key, next;
	int fd;

	fd = mk(BPF_MAP_TYPE_HASH, 4, sizeof(struct moq_pn_window), 16);
	M.fd[FP_MAP_PN_WINDOWS] = fd;
	ck_assert_int_eq(bpf_map_update_elem(fd, &conn, &w, BPF_ANY), 0);
	ck_assert_int_eq(fp_maps_reset_pn_window(&M, conn, 5), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &conn, &w), 0);
	ck_assert_uint_eq(w.generation, 5);
	ck_assert_uint_eq(w.next, 0);
	for (int i = 0; i < MOQ_PN_SLOTS; i++)
		ck_assert_uint_eq(w.slot[i], 0);
	ck_assert_int_eq(fp_maps_del_pn_window(&M, conn), 0);
	ck_assert_int_eq(fp_maps_del_pn_window(&M, conn), -ENOENT);
	for (key = 1; key <= 3; key++)
		ck_assert_int_eq(fp_maps_reset_pn_window(&M, key, 5), 0);
	ck_assert_uint_eq(fp_maps_clear_stale(&M), 3);
	ck_assert_int_ne(bpf_map_get_next_key(fd, NULL, &next), 0); /* empty */
}
END_TEST

/* A seeded window (a TLS upstream registered late): the largest is the
 * given number, the blocks of the window before it are full, its own
 * block has exactly the numbers up to it, and slots of blocks that would
 * be below the window are left empty; small numbers use fewer blocks. */
START_TEST(pn_window_seed_marks_everything_up_to_the_largest)
{
	struct moq_pn_window w;
	uint32_t conn = 4;
	uint64_t largest = 1000, top = largest >> 5; /* block 31, bit 8 */

	M.fd[FP_MAP_PN_WINDOWS] = mk(BPF_MAP_TYPE_HASH, 4, sizeof(struct moq_pn_window), 16);
	ck_assert_int_eq(fp_maps_seed_pn_window(&M, conn, 6, largest), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(M.fd[FP_MAP_PN_WINDOWS], &conn, &w), 0);
	ck_assert_uint_eq(w.generation, 6);
	ck_assert_uint_eq(w.next, largest + 1);
	for (uint64_t b = top - MOQ_PN_SLOTS + 1; b < top; b++)
		ck_assert_uint_eq(w.slot[b % MOQ_PN_SLOTS], (b + 1) << 32 | 0xffffffffull);
	ck_assert_uint_eq(w.slot[top % MOQ_PN_SLOTS], (top + 1) << 32 | 0x1ff);
	/* largest 40: blocks 0 (full) and 1 (bits 0..8), the rest unused */
	ck_assert_int_eq(fp_maps_seed_pn_window(&M, conn, 6, 40), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(M.fd[FP_MAP_PN_WINDOWS], &conn, &w), 0);
	ck_assert_uint_eq(w.next, 41);
	ck_assert_uint_eq(w.slot[0], 1ull << 32 | 0xffffffffull);
	ck_assert_uint_eq(w.slot[1], 2ull << 32 | 0x1ff);
	for (int i = 2; i < MOQ_PN_SLOTS; i++)
		ck_assert_uint_eq(w.slot[i], 0);
	/* largest 31: one full block (no shift overflow at bit 31) */
	ck_assert_int_eq(fp_maps_seed_pn_window(&M, conn, 6, 31), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(M.fd[FP_MAP_PN_WINDOWS], &conn, &w), 0);
	ck_assert_uint_eq(w.slot[0], 1ull << 32 | 0xffffffffull);
	ck_assert_uint_eq(w.slot[1], 0);
}
END_TEST

/* Stream-map updates queued during a loop pass are written in one batch
 * call at fp_maps_flush (in the caller's order: the last write of a key
 * wins), and an immediate put or get flushes first. */
START_TEST(queued_down_streams_are_written_in_one_batch)
{
	struct moq_down_stream v, got;

	M.fd[FP_MAP_DOWN_STREAMS] = mk(BPF_MAP_TYPE_LRU_HASH, sizeof(struct moq_down_stream_key),
				       sizeof(struct moq_down_stream), 4096);
	for (uint32_t i = 0; i < 300; i++) {
		struct moq_down_stream_key k = {.slot = 1, .conn_id = 2, .up_stream_id = 4 * i + 2};

		v = (struct moq_down_stream){.stream_id = 4 * i + 3, .flags = MOQ_DS_F_RESET};
		ck_assert_int_eq(fp_maps_queue_down_stream(&M, &k, &v), 0);
	}
	struct moq_down_stream_key k0 = {.slot = 1, .conn_id = 2, .up_stream_id = 2};

	v = (struct moq_down_stream){.stream_id = 77, .flags = MOQ_DS_F_RESET};
	ck_assert_int_eq(fp_maps_queue_down_stream(&M, &k0, &v), 0); /* rewritten later */
	/* nothing in the kernel's map yet */
	ck_assert_int_ne(bpf_map_lookup_elem(M.fd[FP_MAP_DOWN_STREAMS], &k0, &got), 0);
	ck_assert_uint_eq(M.dsq_n, 301);
	ck_assert_int_eq(fp_maps_flush(&M), 0);
	ck_assert_uint_eq(M.dsq_n, 0);
	ck_assert_uint_eq(M.dsq_batches, 1);
	ck_assert_uint_eq(M.dsq_entries, 301);
	ck_assert_int_eq(bpf_map_lookup_elem(M.fd[FP_MAP_DOWN_STREAMS], &k0, &got), 0);
	ck_assert_uint_eq(got.stream_id, 77);
	struct moq_down_stream_key k299 = {.slot = 1, .conn_id = 2, .up_stream_id = 4 * 299 + 2};

	ck_assert_int_eq(bpf_map_lookup_elem(M.fd[FP_MAP_DOWN_STREAMS], &k299, &got), 0);
	ck_assert_uint_eq(got.stream_id, 4 * 299 + 3);
	/* a get flushes what is queued first */
	v.stream_id = 5;
	ck_assert_int_eq(fp_maps_queue_down_stream(&M, &k0, &v), 0);
	ck_assert_int_eq(fp_maps_get_down_stream(&M, &k0, &got), 0);
	ck_assert_uint_eq(got.stream_id, 5);
	ck_assert_uint_eq(M.dsq_batches, 2);
	free(M.dsq_k);
	free(M.dsq_v);
}
END_TEST

/* A subscriber's CIDs go in and out of moq_sub_by_cid in one call each
 * way; an absent CID does not stop the others' deletion. */
START_TEST(sub_cids_are_written_and_deleted_in_one_batch)
{
	uint8_t cids[5][MOQ_CID_LEN];
	uint32_t got;

	M.fd[FP_MAP_SUB_BY_CID] = mk(BPF_MAP_TYPE_HASH, MOQ_CID_LEN, sizeof(uint32_t), 64);
	for (int i = 0; i < 5; i++)
		memset(cids[i], 0x10 + i, MOQ_CID_LEN);
	ck_assert_int_eq(fp_maps_put_sub_cids(&M, (const uint8_t(*)[MOQ_CID_LEN])cids, 5, 9), 0);
	ck_assert_uint_eq(M.cid_batches, 1);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(bpf_map_lookup_elem(M.fd[FP_MAP_SUB_BY_CID], cids[i], &got), 0);
		ck_assert_uint_eq(got, 9);
	}
	ck_assert_int_eq(fp_maps_del_sub_cids(&M, (const uint8_t(*)[MOQ_CID_LEN])cids, 5), 0);
	ck_assert_uint_eq(M.cid_batches, 2);
	for (int i = 0; i < 5; i++)
		ck_assert_int_ne(bpf_map_lookup_elem(M.fd[FP_MAP_SUB_BY_CID], cids[i], &got), 0);
	/* the second already gone: the rest still go, no failure counted */
	ck_assert_int_eq(fp_maps_put_sub_cids(&M, (const uint8_t(*)[MOQ_CID_LEN])cids, 5, 4), 0);
	ck_assert_int_eq(fp_maps_del_sub_cid(&M, cids[1]), 0);
	ck_assert_int_eq(fp_maps_del_sub_cids(&M, (const uint8_t(*)[MOQ_CID_LEN])cids, 5), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_ne(bpf_map_lookup_elem(M.fd[FP_MAP_SUB_BY_CID], cids[i], &got), 0);
	ck_assert_uint_eq(M.failures[FP_MAP_SUB_BY_CID], 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("fp_mapwrite");
	TCase *tc = tcase_create("mapwrite");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, failed_updates_are_counted_per_map);
	tcase_add_test(tc, purge_slot_deletes_only_that_slots_streams);
	tcase_add_test(tc, pn_window_reset_is_empty_and_cleared_at_start);
	tcase_add_test(tc, pn_window_seed_marks_everything_up_to_the_largest);
	tcase_add_test(tc, queued_down_streams_are_written_in_one_batch);
	tcase_add_test(tc, sub_cids_are_written_and_deleted_in_one_batch);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
