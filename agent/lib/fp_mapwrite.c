/* fp_mapwrite: typed writers of the pinned fast-path maps (fp_mapwrite.h). */
#include "fp_mapwrite.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int put(struct fp_maps *m, enum fp_map_id id, const void *k, const void *v)
{
	int fd = m->fd[id];

	if (fd < 0)
		return -EBADF;
	if (bpf_map_update_elem(fd, k, v, BPF_ANY)) {
		m->failures[id]++;
		return -errno;
	}
	return 0;
}

static int del(struct fp_maps *m, enum fp_map_id id, const void *k)
{
	int fd = m->fd[id];

	if (fd < 0)
		return -EBADF;
	if (bpf_map_delete_elem(fd, k)) {
		if (errno != ENOENT)
			m->failures[id]++;
		return -errno;
	}
	return 0;
}

/* moq_clone_cache (moq_maps.h): every write of a slot's entries in
 * moq_subscriptions, moq_down_streams or moq_stream_credit, and a slot's
 * re-registration, lies between two bumps of the slot's cache generations:
 * the one before stops the egress program using a copy filled earlier
 * while the write is under way, the one after any copy filled before the
 * write landed. So a clone uses a cached copy only where a hash lookup at
 * the same moment would have found the same. */
static void cc_bump(struct fp_maps *m, uint32_t slot)
{
	for (uint32_t w = 0; w < MOQ_CLONE_CACHE_WAYS; w++) {
		struct moq_clone_cache *c = fp_maps_clone_cache(m, slot, w);

		if (c)
			__atomic_fetch_add(&c->gen, 1, __ATOMIC_SEQ_CST);
	}
}

static int put_slot(struct fp_maps *m, enum fp_map_id id, uint32_t slot, const void *k,
		    const void *v)
{
	int rc;

	cc_bump(m, slot);
	rc = put(m, id, k, v);
	cc_bump(m, slot);
	return rc;
}

static int del_slot(struct fp_maps *m, enum fp_map_id id, uint32_t slot, const void *k)
{
	int rc;

	cc_bump(m, slot);
	rc = del(m, id, k);
	cc_bump(m, slot);
	return rc;
}

static int get(struct fp_maps *m, enum fp_map_id id, const void *k, void *v)
{
	int fd = m->fd[id];

	if (fd < 0)
		return -EBADF;
	return bpf_map_lookup_elem(fd, k, v) ? -errno : 0;
}

int fp_maps_put_subscriber(struct fp_maps *m, uint32_t slot, const struct moq_subscriber *s)
{
	return put_slot(m, FP_MAP_SUBSCRIBERS, slot, &slot, s);
}

int fp_maps_put_sub_cid(struct fp_maps *m, const uint8_t cid[MOQ_CID_LEN], uint32_t slot)
{
	return put(m, FP_MAP_SUB_BY_CID, cid, &slot);
}

int fp_maps_del_sub_cid(struct fp_maps *m, const uint8_t cid[MOQ_CID_LEN])
{
	return del(m, FP_MAP_SUB_BY_CID, cid);
}

static bool no_batch_ops(int rc)
{
	return rc == -EINVAL || rc == -ENOTSUP || rc == -EOPNOTSUPP;
}

/* A subscriber's set-up and its end write all its CIDs (ngtcp2 issues
 * several): one batch instead of one bpf() call each. */
int fp_maps_put_sub_cids(struct fp_maps *m, const uint8_t (*cids)[MOQ_CID_LEN], size_t n,
			 uint32_t slot)
{
	int fd = m->fd[FP_MAP_SUB_BY_CID], rc = 0;
	uint32_t slots[16], count = (uint32_t)n;
	size_t i = 0;

	if (fd < 0)
		return -EBADF;
	if (!n)
		return 0;
	if (!m->cid_no_batch && n <= 16) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);

		for (size_t k = 0; k < n; k++)
			slots[k] = slot;
		if (bpf_map_update_batch(fd, cids, slots, &count, &o) == 0) {
			m->cid_batches++;
			return 0;
		}
		rc = -errno;
		if (no_batch_ops(rc))
			m->cid_no_batch = true;
		/* count: written before the refused one, which is retried
		 * (and counted, if refused again) below */
		i = no_batch_ops(rc) || count > n ? 0 : count;
		rc = 0;
	}
	for (; i < n; i++) {
		int r = put(m, FP_MAP_SUB_BY_CID, cids[i], &slot);

		if (r && !rc)
			rc = r;
	}
	return rc;
}

int fp_maps_del_sub_cids(struct fp_maps *m, const uint8_t (*cids)[MOQ_CID_LEN], size_t n)
{
	int fd = m->fd[FP_MAP_SUB_BY_CID], rc = 0;
	size_t i = 0;

	if (fd < 0)
		return -EBADF;
	if (!n)
		return 0;
	if (!m->cid_no_batch) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		uint32_t count = (uint32_t)n;

		if (bpf_map_delete_batch(fd, cids, &count, &o) == 0) {
			m->cid_batches++;
			return 0;
		}
		rc = -errno;
		if (no_batch_ops(rc)) {
			m->cid_no_batch = true;
			rc = 0;
		} else if (rc == -ENOENT) {
			rc = 0; /* an absent one stops the batch: skip it */
			count++;
		} else {
			m->failures[FP_MAP_SUB_BY_CID]++;
		}
		i = count < n ? count : n;
	}
	for (; i < n; i++) {
		int r = del(m, FP_MAP_SUB_BY_CID, cids[i]);

		if (r && r != -ENOENT && !rc)
			rc = r;
	}
	return rc;
}

int fp_maps_put_upstream(struct fp_maps *m, const struct moq_cid *cid, const struct moq_upstream *u)
{
	return put(m, FP_MAP_UPSTREAMS, cid, u);
}

int fp_maps_reset_pn_window(struct fp_maps *m, uint32_t conn_id, uint32_t generation)
{
	struct moq_pn_window w = {.generation = generation};

	return put(m, FP_MAP_PN_WINDOWS, &conn_id, &w);
}

int fp_maps_seed_pn_window(struct fp_maps *m, uint32_t conn_id, uint32_t generation,
			   uint64_t largest)
{
	struct moq_pn_window w = {.next = largest + 1, .generation = generation};
	uint64_t top = largest >> 5;

	/* the blocks of the window (pn_window.h): full below the largest's,
	 * bits 0..largest % 32 in its own; older blocks are below it */
	for (uint64_t b = top >= MOQ_PN_SLOTS ? top - MOQ_PN_SLOTS + 1 : 0; b <= top; b++) {
		uint64_t bits = b < top ? 0xffffffffull : (2ull << (largest & 31)) - 1;

		w.slot[b % MOQ_PN_SLOTS] = (uint64_t)(uint32_t)(b + 1) << 32 | bits;
	}
	return put(m, FP_MAP_PN_WINDOWS, &conn_id, &w);
}

int fp_maps_del_pn_window(struct fp_maps *m, uint32_t conn_id)
{
	return del(m, FP_MAP_PN_WINDOWS, &conn_id);
}

int fp_maps_del_upstream(struct fp_maps *m, const uint8_t cid[MOQ_CID_LEN])
{
	return del(m, FP_MAP_UPSTREAMS, cid);
}

int fp_maps_put_track(struct fp_maps *m, const struct moq_track_key *k,
		      const struct moq_track_subs *v)
{
	if (v->count)
		return put(m, FP_MAP_TRACKS, k, v);
	return del(m, FP_MAP_TRACKS, k);
}

int fp_maps_put_subscription(struct fp_maps *m, const struct moq_subscription_key *k,
			     const struct moq_subscription *v)
{
	return put_slot(m, FP_MAP_SUBSCRIPTIONS, k->slot, k, v);
}

int fp_maps_del_subscription(struct fp_maps *m, const struct moq_subscription_key *k)
{
	return del_slot(m, FP_MAP_SUBSCRIPTIONS, k->slot, k);
}

int fp_maps_put_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			    const struct moq_down_stream *v)
{
	fp_maps_flush(m);
	return put_slot(m, FP_MAP_DOWN_STREAMS, k->slot, k, v);
}

int fp_maps_get_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			    struct moq_down_stream *v)
{
	fp_maps_flush(m);
	return get(m, FP_MAP_DOWN_STREAMS, k, v);
}

int fp_maps_put_stream_credit(struct fp_maps *m, const struct moq_down_stream_key *k, uint64_t max)
{
	__u64 v = max;

	return put_slot(m, FP_MAP_STREAM_CREDIT, k->slot, k, &v);
}

int fp_maps_del_stream_credit(struct fp_maps *m, const struct moq_down_stream_key *k)
{
	return del_slot(m, FP_MAP_STREAM_CREDIT, k->slot, k);
}

#define DSQ_MAX 1024 /* entries per batch call */

int fp_maps_queue_down_stream(struct fp_maps *m, const struct moq_down_stream_key *k,
			      const struct moq_down_stream *v)
{
	if (m->dsq_n == DSQ_MAX)
		fp_maps_flush(m);
	if (m->dsq_n == m->dsq_cap) {
		size_t cap = m->dsq_cap ? 2 * m->dsq_cap : 64;
		void *a = realloc(m->dsq_k, cap * sizeof(*m->dsq_k));

		if (a)
			m->dsq_k = a;
		a = a ? realloc(m->dsq_v, cap * sizeof(*m->dsq_v)) : NULL;
		if (!a) {
			fp_maps_flush(m);
			return put_slot(m, FP_MAP_DOWN_STREAMS, k->slot, k, v);
		}
		m->dsq_v = a;
		m->dsq_cap = cap;
	}
	m->dsq_k[m->dsq_n] = *k;
	m->dsq_v[m->dsq_n++] = *v;
	return 0;
}

int fp_maps_flush(struct fp_maps *m)
{
	int fd = m->fd[FP_MAP_DOWN_STREAMS], rc = 0;
	size_t done = 0;

	if (!m->dsq_n)
		return 0;
	for (size_t i = 0; i < m->dsq_n; i++) /* before the write (cc_bump) */
		cc_bump(m, m->dsq_k[i].slot);
	if (fd >= 0 && !m->dsq_no_batch) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
		uint32_t count = (uint32_t)m->dsq_n;

		if (bpf_map_update_batch(fd, m->dsq_k, m->dsq_v, &count, &o) == 0) {
			done = m->dsq_n;
		} else {
			rc = -errno;
			/* count: entries written before the failure */
			done = count <= m->dsq_n ? count : 0;
			if (rc == -EINVAL || rc == -ENOTSUP || rc == -EOPNOTSUPP)
				m->dsq_no_batch = true; /* no batch ops: singly from now on */
			else if (done < m->dsq_n) {
				m->failures[FP_MAP_DOWN_STREAMS]++; /* the refused one */
				done++;
			}
		}
		m->dsq_batches++;
		m->dsq_entries += done;
	}
	for (size_t i = done; i < m->dsq_n; i++) {
		int r = put(m, FP_MAP_DOWN_STREAMS, &m->dsq_k[i], &m->dsq_v[i]);

		if (r)
			rc = r;
	}
	for (size_t i = 0; i < m->dsq_n; i++) /* and after it */
		cc_bump(m, m->dsq_k[i].slot);
	m->dsq_n = 0;
	return rc;
}

int fp_maps_get_up_stream(struct fp_maps *m, const struct moq_up_stream_key *k,
			  struct moq_up_stream *v)
{
	return get(m, FP_MAP_UP_STREAMS, k, v);
}

/* Delete the entries of slot from map id (keyed by moq_down_stream_key). */
static int purge_slot(struct fp_maps *m, enum fp_map_id id, uint32_t slot)
{
	int fd = m->fd[id];
	struct moq_down_stream_key *keys, *dk;
	struct moq_down_stream *vals;
	uint64_t batch = 0;
	bool first = true;
	size_t ndel = 0;
	int purged = 0;

	fp_maps_flush(m); /* queued entries of the slot go too */
	if (fd < 0)
		return -EBADF;
	keys = malloc(4096 * sizeof(*keys));
	vals = malloc(4096 * sizeof(*vals));
	dk = malloc(4096 * sizeof(*dk));
	if (!keys || !vals || !dk) {
		free(keys);
		free(vals);
		free(dk);
		return -ENOMEM;
	}
	/* collect in batches (a full map is 262,144 entries), delete after:
	 * deleting while walking would make the walk restart */
	for (;;) {
		uint32_t n = 4096;
		int rc =
		    bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &n, NULL);
		int err = rc ? errno : 0;

		first = false;
		if (rc && err != ENOENT) {
			n = 0; /* no batch lookup: one by one below */
			ndel = 0;
			break;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (keys[i].slot != slot)
				continue;
			if (ndel == 4096) {
				for (size_t j = 0; j < ndel; j++)
					purged += !del(m, id, &dk[j]);
				ndel = 0;
			}
			dk[ndel++] = keys[i];
		}
		if (rc) {
			for (size_t j = 0; j < ndel; j++)
				purged += !del(m, id, &dk[j]);
			free(keys);
			free(vals);
			free(dk);
			return purged;
		}
	}
	/* kernels without batch operations: walk key by key */
	{
		struct moq_down_stream_key k, nk;
		bool have = false;

		while (bpf_map_get_next_key(fd, have ? &k : NULL, &nk) == 0) {
			have = true;
			k = nk;
			if (nk.slot == slot && !del(m, id, &nk)) {
				purged++;
				have = false; /* start over: the walk lost its place */
			}
		}
	}
	free(keys);
	free(vals);
	free(dk);
	return purged;
}

int fp_maps_purge_slot(struct fp_maps *m, uint32_t slot)
{
	int a, b;

	cc_bump(m, slot);
	a = purge_slot(m, FP_MAP_DOWN_STREAMS, slot);
	/* not open: nothing to purge (unit tests open only what they use) */
	b = m->fd[FP_MAP_STREAM_CREDIT] < 0 ? 0 : purge_slot(m, FP_MAP_STREAM_CREDIT, slot);
	cc_bump(m, slot);

	if (a < 0)
		return a;
	return b < 0 ? b : a + b;
}

/* Empty a hash map: in batches of 4096 (a run with many streams leaves
 * hundreds of thousands of entries; one delete per entry took seconds at
 * start), one by one where the kernel has no batch operation. */
static size_t clear_hash(int fd, size_t ksz)
{
	struct bpf_map_info info = {0};
	uint32_t ilen = sizeof(info);
	uint8_t k[64], nk[64];
	void *keys = NULL, *vals = NULL;
	uint64_t batch[8];
	bool first = true;
	size_t cleared = 0;

	if (fd < 0 || ksz > sizeof(k))
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.key_size == ksz) {
		keys = malloc(4096u * info.key_size);
		vals = malloc(4096u * info.value_size);
	}
	while (keys && vals) {
		uint32_t n = 4096;
		int rc = bpf_map_lookup_and_delete_batch(fd, first ? NULL : batch, batch, keys,
							 vals, &n, NULL);

		first = false;
		if (rc && errno != ENOENT)
			break; /* no batch operation: one by one below */
		cleared += n;
		if (rc) { /* ENOENT: that was the last batch */
			free(keys);
			free(vals);
			return cleared;
		}
	}
	free(keys);
	free(vals);
	while (bpf_map_get_next_key(fd, NULL, nk) == 0) {
		memcpy(k, nk, ksz);
		if (bpf_map_delete_elem(fd, k))
			break;
		cleared++;
	}
	return cleared;
}

size_t fp_maps_clear_stale(struct fp_maps *m)
{
	size_t n = clear_hash(m->fd[FP_MAP_UPSTREAMS], sizeof(struct moq_cid));

	n += clear_hash(m->fd[FP_MAP_UP_STREAMS], sizeof(struct moq_up_stream_key));
	n += clear_hash(m->fd[FP_MAP_TRACKS], sizeof(struct moq_track_key));
	n += clear_hash(m->fd[FP_MAP_SUB_BY_CID], sizeof(struct moq_cid));
	n += clear_hash(m->fd[FP_MAP_SUBSCRIPTIONS], sizeof(struct moq_subscription_key));
	n += clear_hash(m->fd[FP_MAP_DOWN_STREAMS], sizeof(struct moq_down_stream_key));
	n += clear_hash(m->fd[FP_MAP_STREAM_CREDIT], sizeof(struct moq_down_stream_key));
	n += clear_hash(m->fd[FP_MAP_PN_WINDOWS], sizeof(uint32_t));
	/* subscriber entries of an earlier run carry its generation: the
	 * programs ignore them, and a slot is rewritten when reused (its sent
	 * log is skipped to its head then: fp_sentlog_skip) */
	for (uint32_t i = 0; i < MOQ_MAX_SUBSCRIBERS; i++) {
		struct moq_conn_seq *seq = fp_maps_seq(m, i);
		struct moq_gate *g = fp_maps_gate(m, i);
		struct moq_credit *cr = fp_maps_credit(m, i);
		struct moq_acks *a = fp_maps_acks(m, i);

		/* an earlier run's cached copies: unusable (a bump, not a
		 * zeroing, which could leave a fill's odd seq behind) */
		cc_bump(m, i);
		if (cr)
			memset(cr, 0, sizeof(*cr));
		if (seq)
			memset(seq, 0, sizeof(*seq));
		if (g)
			memset(g, 0, sizeof(*g));
		if (a)
			memset(a, 0, sizeof(*a));
	}
	return n;
}
