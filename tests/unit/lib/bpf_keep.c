/* Test helper: record the maps of a loaded object and put them back before
 * every test, so one load serves a whole suite (see bpf_relay.h). */
#include "bpf_relay.h"
#include "lib/fp_keys.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct kept_map {
	const char *name;
	int fd;
	enum bpf_map_type type;
	uint32_t key_size, value_size, max_entries, flags;
	uint32_t n;   /* entries recorded */
	void *keys;   /* n keys (hash kinds) or NULL (arrays: every index) */
	void *values; /* n values, value_size each */
	void *mem;    /* an mmapable array mapped (restore compares in place) */
	size_t mem_len;
	uint8_t *zero; /* mem: entry i was all zero (its values[i] untouched) */
};

/* What the all-zero entries of an mmapable array are compared with: read
 * from the cache, so a restore reads the map once and the record of a
 * zeroed 64 MB sent log stays unwritten (fork copies nothing of it). */
static const uint8_t zeros[32768];

struct bpf_relay_keep {
	size_t n;
	struct kept_map maps[];
};

static int is_array(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static int is_percpu(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* What a lookup copies out: per-CPU maps give one 8-aligned value a CPU. */
static uint32_t user_value_size(const struct bpf_map *m)
{
	uint32_t v = bpf_map__value_size(m);

	if (is_percpu(bpf_map__type(m)))
		return ((v + 7) & ~7u) * (uint32_t)libbpf_num_possible_cpus();
	return v;
}

/* Hash kinds: the entries there are (usually none: a 16,384-entry map
 * of 16 KB values is not worth a 256 MB record). */
static int record_hash(struct kept_map *k)
{
	void *key = NULL, *next = malloc(k->key_size);
	uint32_t cap = 0;

	if (!next)
		return -ENOMEM;
	while (!bpf_map_get_next_key(k->fd, key, next) && cap < k->max_entries) {
		key = next;
		cap++;
	}
	k->keys = calloc(cap ? cap : 1, k->key_size);
	k->values = calloc(cap ? cap : 1, k->value_size);
	if (!k->keys || !k->values) {
		free(next);
		return -ENOMEM;
	}
	key = NULL;
	while (k->n < cap && !bpf_map_get_next_key(k->fd, key, next)) {
		key = (char *)k->keys + (size_t)k->n * k->key_size;
		memcpy(key, next, k->key_size);
		if (bpf_map_lookup_elem(k->fd, key,
					(char *)k->values + (size_t)k->n * k->value_size))
			break; /* gone meanwhile (LRU): not part of the state */
		k->n++;
	}
	free(next);
	return 0;
}

static int record(struct kept_map *k)
{
	uint32_t cap = k->max_entries;

	if (k->type == BPF_MAP_TYPE_RINGBUF)
		return 0; /* max_entries is its size in bytes; nothing to record */
	if (!is_array(k->type) && k->type != BPF_MAP_TYPE_PROG_ARRAY)
		return record_hash(k);
	k->values = calloc(cap ? cap : 1, k->value_size);
	if (!k->values)
		return -ENOMEM;
	if (k->type == BPF_MAP_TYPE_PROG_ARRAY) {
		/* a lookup gives the program's id; restore gets an fd by id */
		for (uint32_t i = 0; i < cap; i++)
			if (bpf_map_lookup_elem(k->fd, &i, (uint32_t *)k->values + i))
				((uint32_t *)k->values)[i] = 0;
		return 0;
	}
	if (k->type == BPF_MAP_TYPE_ARRAY && (k->flags & BPF_F_MMAPABLE)) {
		/* the sent log and the ack rings are 80 MB: restoring them
		 * with a syscall copies it all; in place only what differs */
		k->mem_len = (size_t)cap * k->value_size;
		k->mem = mmap(NULL, k->mem_len, PROT_READ | PROT_WRITE, MAP_SHARED, k->fd, 0);
		if (k->mem == MAP_FAILED) {
			k->mem = NULL;
			return -errno;
		}
		if (k->value_size > sizeof(zeros))
			return -E2BIG;
		k->zero = calloc(cap, 1);
		if (!k->zero)
			return -ENOMEM;
		for (uint32_t i = 0; i < cap; i++) {
			size_t at = (size_t)i * k->value_size;

			k->zero[i] = !memcmp((char *)k->mem + at, zeros, k->value_size);
			if (!k->zero[i])
				memcpy((char *)k->values + at, (char *)k->mem + at, k->value_size);
		}
		return 0;
	}
	for (uint32_t i = 0; i < cap; i++)
		if (bpf_map_lookup_elem(k->fd, &i, (char *)k->values + (size_t)i * k->value_size))
			return -errno;
	return 0;
}

int bpf_relay_keep(struct bpf_relay *r)
{
	struct bpf_relay_keep *kp;
	struct bpf_map *m;
	size_t n = 0;
	int err = 0;

	bpf_object__for_each_map(m, r->obj) n++;
	kp = calloc(1, sizeof(*kp) + n * sizeof(kp->maps[0]));
	if (!kp)
		return -ENOMEM;
	bpf_object__for_each_map(m, r->obj)
	{
		struct kept_map *k = &kp->maps[kp->n];

		/* never created, or read-only (.rodata/.kconfig: frozen) */
		if (bpf_map__fd(m) < 0 || (bpf_map__map_flags(m) & BPF_F_RDONLY_PROG))
			continue;
		k->name = bpf_map__name(m);
		k->fd = bpf_map__fd(m);
		k->type = bpf_map__type(m);
		k->key_size = bpf_map__key_size(m);
		k->value_size = user_value_size(m);
		k->max_entries = bpf_map__max_entries(m);
		k->flags = bpf_map__map_flags(m);
		kp->n++;
		err = record(k);
		if (err) {
			fprintf(stderr, "bpf_relay_keep: %s: %s\n", bpf_map__name(m),
				strerror(-err));
			break;
		}
	}
	r->kept = kp;
	if (err)
		bpf_relay_keep_free(r);
	return err;
}

static int drop_event(void *ctx, void *data, size_t len)
{
	(void)ctx, (void)data, (void)len;
	return 0;
}

static int put_back(const struct kept_map *k)
{
	uint32_t n = k->max_entries;
	char key[512];

	if (k->type == BPF_MAP_TYPE_RINGBUF) {
		struct ring_buffer *rb = ring_buffer__new(k->fd, drop_event, NULL, NULL);

		if (!rb)
			return -errno;
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
		return 0;
	}
	if (k->type == BPF_MAP_TYPE_PROG_ARRAY) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t id = ((uint32_t *)k->values)[i];
			int pfd = id ? bpf_prog_get_fd_by_id(id) : -1;

			if (!id) {
				bpf_map_delete_elem(k->fd, &i);
				continue;
			}
			if (pfd < 0 || bpf_map_update_elem(k->fd, &i, &pfd, BPF_ANY)) {
				int err = -errno;

				if (pfd >= 0)
					close(pfd);
				return err;
			}
			close(pfd);
		}
		return 0;
	}
	if (k->mem) {
		for (uint32_t i = 0; i < n; i++) {
			size_t at = (size_t)i * k->value_size;
			const void *was = k->zero[i] ? (const void *)zeros : (char *)k->values + at;

			if (memcmp((char *)k->mem + at, was, k->value_size))
				memcpy((char *)k->mem + at, was, k->value_size);
		}
		return 0;
	}
	if (is_array(k->type)) {
		uint32_t *idx = malloc(n * sizeof(*idx));
		int err;

		if (!idx)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			idx[i] = i;
		err = bpf_map_update_batch(k->fd, idx, k->values, &n, NULL) ? -errno : 0;
		free(idx);
		return err;
	}
	if (k->key_size > sizeof(key))
		return -E2BIG;
	/* delete the first key until none is left, then add the recorded */
	while (!bpf_map_get_next_key(k->fd, NULL, key))
		if (bpf_map_delete_elem(k->fd, key))
			return -errno;
	for (uint32_t i = 0; i < k->n; i++)
		if (bpf_map_update_elem(k->fd, (char *)k->keys + (size_t)i * k->key_size,
					(char *)k->values + (size_t)i * k->value_size, BPF_ANY))
			return -errno;
	return 0;
}

int bpf_relay_restore(const struct bpf_relay *r)
{
	if (!r->kept)
		return -EINVAL;
	for (size_t i = 0; i < r->kept->n; i++) {
		int err = put_back(&r->kept->maps[i]);

		if (err) {
			fprintf(stderr, "bpf_relay_restore: %s: %s\n", r->kept->maps[i].name,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

void bpf_relay_keep_free(struct bpf_relay *r)
{
	if (!r->kept)
		return;
	for (size_t i = 0; i < r->kept->n; i++) {
		if (r->kept->maps[i].mem)
			munmap(r->kept->maps[i].mem, r->kept->maps[i].mem_len);
		free(r->kept->maps[i].zero);
		free(r->kept->maps[i].keys);
		free(r->kept->maps[i].values);
	}
	free(r->kept);
	r->kept = NULL;
}

int bpf_relay_load_kept(struct bpf_relay *r, const char *path, struct fp_keys *keys)
{
	char why[256] = "";
	int err = bpf_relay_open_file(r, path ? path : bpf_relay_object_path());

	if (!err && keys)
		err = fp_keys_open_from(keys, r->obj, why, sizeof(why));
	if (!err)
		err = bpf_relay_keep(r);
	if (err)
		fprintf(stderr, "bpf_relay: no object to share, every test fails: %s %s\n",
			strerror(-err), why);
	return err;
}

int bpf_relay_run_suite(Suite *s, struct bpf_relay *r)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	bpf_relay_keep_free(r);
	bpf_relay_close(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int bpf_relay_mfd(const struct bpf_relay *r, const char *name)
{
	int fd = bpf_relay_map_fd(r, name);

	ck_assert_msg(fd >= 0, "map %s missing", name);
	return fd;
}
