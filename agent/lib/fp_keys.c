/* fp_keys: the agent's writer of the kernel's QUIC 1-RTT keys (fp_keys.h,
 * docs/fast-path-tls-kernel.md).
 *
 * A key set is one moq_tls_keys entry: the bytes the tc programs read
 * (IV, key phase, GHASH table computed here from H = AES_K(0^128)) are
 * written with a BPF_F_LOCK update, which copies in place into an
 * existing entry (a plain update would free the old entry without
 * clearing it); the ecb(aes) contexts are created by the syscall program
 * tc-progs/tls_keys.bpf.c (embedded, fp_keys_obj.c). A subscriber's tx
 * set is selected through moq_tls_sel only once it is complete, so a key
 * update switches atomically: the new phase's entry is written while the
 * old one is in use. */
#include "fp_keys.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "moq_maps.h"

extern const unsigned char fp_keys_obj_start[], fp_keys_obj_end[];

/* GCM's multiplication by x (SP 800-38D 6.3): bit 0 is the MSB of byte
 * 0, so it is a right shift across the bytes, reduced by R = 0xe1 || 0. */
static void gf_mulx(uint8_t v[16])
{
	int carry = v[15] & 1;

	for (int i = 15; i > 0; i--)
		v[i] = (uint8_t)(v[i] >> 1 | v[i - 1] << 7);
	v[0] >>= 1;
	if (carry)
		v[0] ^= 0xe1;
}

void fp_keys_ghash_table(const uint8_t h[16], uint64_t *tab)
{
	uint8_t hx[128][16];

	/* hx[p] = H * x^p: the product of H and the block whose only set
	 * bit is bit p */
	memcpy(hx[0], h, 16);
	for (int p = 1; p < 128; p++) {
		memcpy(hx[p], hx[p - 1], 16);
		gf_mulx(hx[p]);
	}
	for (int p = 0; p < 32; p++) {
		for (int v = 0; v < 16; v++) {
			/* nibble p: byte p / 2, low nibble when p is even */
			int b = p & 1 ? v << 4 : v, j = p / 2;
			uint8_t e[16] = {0};

			for (int k = 0; k < 8; k++)
				if (b & (0x80 >> k))
					for (int q = 0; q < 16; q++)
						e[q] ^= hx[8 * j + k][q];
			memcpy(&tab[(p * 16 + v) * 2], e, 16);
		}
	}
	gnutls_memset(hx, 0, sizeof(hx));
}

/* H = AES_K(0^128): one CBC block with a zero IV is one ECB block. */
static int aes_zero_block(const uint8_t key[16], uint8_t out[16])
{
	gnutls_cipher_hd_t h;
	gnutls_datum_t k = {(unsigned char *)key, 16};
	uint8_t iv[16] = {0};
	gnutls_datum_t ivd = {iv, 16};
	int r;

	memset(out, 0, 16);
	if (gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &k, &ivd) < 0)
		return -EIO;
	r = gnutls_cipher_encrypt(h, out, 16);
	gnutls_cipher_deinit(h);
	return r < 0 ? -EIO : 0;
}

static void fingerprint(const struct fp_tls_key *key, uint8_t out[16])
{
	uint8_t buf[44], d[32];

	memcpy(buf, key->key, 16);
	memcpy(buf + 16, key->iv, 12);
	memcpy(buf + 28, key->hp, 16);
	gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, sizeof(buf), d);
	memcpy(out, d, 16);
	gnutls_memset(buf, 0, sizeof(buf));
}

static int keys_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int check_map(int fd, uint32_t type, uint32_t key, uint32_t value, char *err, size_t errlen,
		     const char *name)
{
	struct bpf_map_info info = {0};
	uint32_t ilen = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (info.type != type || info.key_size != key || info.value_size != value) {
		snprintf(err, errlen,
			 "%s: type %u key %u value %u, this build expects %u/%u/%u "
			 "(re-attach relay.bpf.o of this build with fresh pins)",
			 name, info.type, info.key_size, info.value_size, type, key, value);
		return -EINVAL;
	}
	return 0;
}

/* Loads the embedded object: its maps are relay.bpf.o's, reached through
 * pin_root (the pin directory) or taken from the loaded object maps_from
 * (same names); then installs the seal program in moq_seal_prog. */
static int load_obj(struct fp_keys *k, const char *pin_root, struct bpf_object *maps_from,
		    char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_root);
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *m;
	int r, seal_fd, pa_fd, open_fd, oa_fd, win_fd;
	uint32_t zero = 0;

	libbpf_set_print(keys_libbpf_print);
	obj = bpf_object__open_mem(fp_keys_obj_start, fp_keys_obj_end - fp_keys_obj_start, &oo);
	if (!obj) {
		r = -errno;
		snprintf(err, errlen, "installer object: %s", strerror(-r));
		return r;
	}
	k->obj = obj;
	bpf_object__for_each_map(m, obj)
	{
		struct bpf_map *src;

		if (!maps_from)
			continue;
		bpf_map__set_pin_path(m, NULL);
		src = bpf_object__find_map_by_name(maps_from, bpf_map__name(m));
		if (src && bpf_map__fd(src) >= 0) {
			r = bpf_map__reuse_fd(m, bpf_map__fd(src));
			if (r)
				return r;
		}
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (!strcmp(bpf_program__name(prog), "moq_subscriber_seal") ||
		    !strcmp(bpf_program__name(prog), "moq_subscriber_open"))
			bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	}
	r = bpf_object__load(obj);
	if (r) {
		snprintf(
		    err, errlen,
		    "TLS programs do not load: %s (kernel without BPF crypto kfuncs / ecb(aes), "
		    "or pins of another build?)",
		    strerror(-r));
		return r;
	}
	prog = bpf_object__find_program_by_name(obj, "moq_tls_keys_op");
	k->prog_fd = prog ? bpf_program__fd(prog) : -1;
	prog = bpf_object__find_program_by_name(obj, "moq_subscriber_seal");
	seal_fd = prog ? bpf_program__fd(prog) : -1;
	k->keys_fd = bpf_object__find_map_fd_by_name(obj, "moq_tls_keys");
	k->sel_fd = bpf_object__find_map_fd_by_name(obj, "moq_tls_sel");
	pa_fd = bpf_object__find_map_fd_by_name(obj, "moq_seal_prog");
	prog = bpf_object__find_program_by_name(obj, "moq_subscriber_open");
	open_fd = prog ? bpf_program__fd(prog) : -1;
	oa_fd = bpf_object__find_map_fd_by_name(obj, "moq_open_prog");
	win_fd = bpf_object__find_map_fd_by_name(obj, "moq_sub_rxwin");
	if (k->prog_fd < 0 || seal_fd < 0 || k->keys_fd < 0 || k->sel_fd < 0 || pa_fd < 0 ||
	    open_fd < 0 || oa_fd < 0 || win_fd < 0) {
		snprintf(err, errlen, "TLS programs: a program or map is missing");
		return -ENOENT;
	}
	/* the maps belong to the object: fp_keys_close closes them with it */
	r = check_map(k->keys_fd, BPF_MAP_TYPE_HASH, sizeof(struct moq_tls_key_id),
		      sizeof(struct moq_keyset), err, errlen, "moq_tls_keys");
	if (!r)
		r = check_map(k->sel_fd, BPF_MAP_TYPE_ARRAY, 4, 4, err, errlen, "moq_tls_sel");
	if (r)
		return r;
	if (bpf_map_update_elem(pa_fd, &zero, &seal_fd, BPF_ANY)) {
		r = -errno;
		snprintf(err, errlen, "moq_seal_prog: %s", strerror(-r));
		return r;
	}
	k->rxwin_len = sizeof(struct moq_pn_window) * MOQ_MAX_SUBSCRIBERS;
	k->rxwin = mmap(NULL, k->rxwin_len, PROT_READ | PROT_WRITE, MAP_SHARED, win_fd, 0);
	if (k->rxwin == MAP_FAILED) {
		r = -errno;
		k->rxwin = NULL;
		snprintf(err, errlen, "moq_sub_rxwin: mmap: %s", strerror(-r));
		return r;
	}
	/* the opener last: it finds its window and keys in place */
	if (bpf_map_update_elem(oa_fd, &zero, &open_fd, BPF_ANY)) {
		r = -errno;
		snprintf(err, errlen, "moq_open_prog: %s", strerror(-r));
		return r;
	}
	return 0;
}

int fp_keys_open_from(struct fp_keys *k, struct bpf_object *maps_from, char *err, size_t errlen)
{
	char dummy[8];
	int r;

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	memset(k, 0, sizeof(*k));
	k->keys_fd = k->sel_fd = k->prog_fd = -1;
	r = load_obj(k, NULL, maps_from, err, errlen);
	if (r)
		fp_keys_close(k);
	return r;
}

int fp_keys_open(struct fp_keys *k, const char *pin_dir, char *err, size_t errlen)
{
	char path[512], dummy[8];
	int fd, r;

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	memset(k, 0, sizeof(*k));
	k->keys_fd = k->sel_fd = k->prog_fd = -1;
	/* relay.bpf.o must be attached (and have pinned the maps) first:
	 * the object would otherwise create and pin them itself */
	snprintf(path, sizeof(path), "%s/moq_tls_keys", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s (attach relay.bpf.o of this build first)", path,
			 strerror(-r));
		return r;
	}
	close(fd);
	r = load_obj(k, pin_dir, NULL, err, errlen);
	if (r)
		fp_keys_close(k);
	return r;
}

void fp_keys_close(struct fp_keys *k)
{
	/* the map and program fds belong to the object; the seal program
	 * stays installed in the pinned moq_seal_prog */
	if (k->rxwin)
		munmap(k->rxwin, k->rxwin_len);
	k->rxwin = NULL;
	if (k->obj)
		bpf_object__close(k->obj);
	k->obj = NULL;
	k->keys_fd = k->sel_fd = k->prog_fd = -1;
}

static int run_op(struct fp_keys *k, struct moq_tls_install *a)
{
	/* a syscall program's argument is copied back into ctx_in */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = a, .ctx_size_in = sizeof(*a));
	int r = bpf_prog_test_run_opts(k->prog_fd, &o);

	gnutls_memset(a->key, 0, sizeof(a->key));
	gnutls_memset(a->hp, 0, sizeof(a->hp));
	return r ? -errno : a->err;
}

static int set_sel(struct fp_keys *k, uint32_t slot, uint32_t v)
{
	return bpf_map_update_elem(k->sel_fd, &slot, &v, BPF_ANY) ? -errno : 0;
}

/* Zero an entry in place, release its contexts, delete it. */
static int wipe_one(struct fp_keys *k, const struct moq_tls_key_id *id, struct moq_keyset *v)
{
	struct moq_tls_install a = {.id = *id, .op = MOQ_TLS_OP_RELEASE};
	int r;

	memset(v, 0, sizeof(*v));
	if (bpf_map_update_elem(k->keys_fd, id, v, BPF_EXIST | BPF_F_LOCK))
		return errno == ENOENT ? 0 : -errno;
	r = run_op(k, &a);
	if (bpf_map_delete_elem(k->keys_fd, id) && errno != ENOENT && !r)
		r = -errno;
	return r;
}

static int set_keys(struct fp_keys *k, uint8_t kind, uint32_t id, const struct fp_tls_key *key)
{
	struct moq_tls_key_id kid = {.id = id, .kind = kind, .phase = key->phase & 1};
	struct moq_tls_install a = {.id = kid, .op = MOQ_TLS_OP_INSTALL};
	struct moq_keyset *v;
	uint8_t h[16], check[16];
	uint32_t sel = 0;
	int r, exists;

	if (k->prog_fd < 0)
		return -EBADF;
	if (key->phase > 1 || (kind != MOQ_TLS_KIND_UP && id >= MOQ_MAX_SUBSCRIBERS))
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	fingerprint(key, check);
	exists = !bpf_map_lookup_elem(k->keys_fd, &kid, v);
	if (kind == MOQ_TLS_KIND_SUB && bpf_map_lookup_elem(k->sel_fd, &id, &sel))
		sel = 0;
	if (exists && !memcmp(v->check, check, 16) && v->phase == kid.phase) {
		/* installed already (an entry exists only with its contexts) */
		r = kind == MOQ_TLS_KIND_SUB && sel != kid.phase + 1u
			? set_sel(k, id, kid.phase + 1)
			: 0;
		goto out;
	}
	/* the set in use must not change under the sealer: unselect it (its
	 * clones are dropped, NO_KEYS, until the new keys are complete) */
	if (exists && kind == MOQ_TLS_KIND_SUB && sel == kid.phase + 1u) {
		r = set_sel(k, id, 0);
		if (r)
			goto out;
	}
	r = aes_zero_block(key->key, h);
	if (r)
		goto out;
	memset(v, 0, sizeof(*v));
	v->phase = kid.phase;
	memcpy(v->iv, key->iv, sizeof(v->iv));
	memcpy(v->check, check, sizeof(v->check));
	fp_keys_ghash_table(h, (uint64_t *)v->ghash);
	gnutls_memset(h, 0, sizeof(h));
	if (exists)
		r = bpf_map_update_elem(k->keys_fd, &kid, v, BPF_EXIST | BPF_F_LOCK);
	else
		r = bpf_map_update_elem(k->keys_fd, &kid, v, BPF_NOEXIST);
	if (r) {
		r = -errno;
		goto out;
	}
	memcpy(a.key, key->key, 16);
	memcpy(a.hp, key->hp, 16);
	a.select = kind == MOQ_TLS_KIND_SUB;
	r = run_op(k, &a);
	if (r)
		wipe_one(k, &kid, v);
out:
	gnutls_memset(v, 0, sizeof(*v));
	free(v);
	return r;
}

static int wipe_keys(struct fp_keys *k, uint8_t kind, uint32_t id)
{
	struct moq_keyset *v;
	int r = 0, r2;

	if (k->prog_fd < 0)
		return -EBADF;
	if (kind == MOQ_TLS_KIND_SUB) {
		if (id >= MOQ_MAX_SUBSCRIBERS)
			return -EINVAL;
		r = set_sel(k, id, 0);
	}
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint8_t p = 0; p < 4; p++) {
		/* a subscriber's rx keys go with its tx keys */
		uint8_t kd = p < 2 ? kind : MOQ_TLS_KIND_SUB_RX;
		struct moq_tls_key_id kid = {.id = id, .kind = kd, .phase = p & 1};

		if (p >= 2 && kind != MOQ_TLS_KIND_SUB)
			break;
		r2 = wipe_one(k, &kid, v);
		if (!r)
			r = r2;
	}
	free(v);
	return r;
}

int fp_keys_wipe_all(struct fp_keys *k)
{
	struct moq_tls_key_id id, next;
	struct moq_keyset *v;
	int r = 0, r2;

	if (k->prog_fd < 0)
		return -EBADF;
	for (uint32_t s = 0; s < MOQ_MAX_SUBSCRIBERS; s++) {
		uint32_t sel = 0;

		if (!bpf_map_lookup_elem(k->sel_fd, &s, &sel) && sel) {
			r2 = set_sel(k, s, 0);
			if (!r)
				r = r2;
		}
	}
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* each wipe deletes its entry: always restart from the first key */
	while (!bpf_map_get_next_key(k->keys_fd, NULL, &next)) {
		id = next;
		r2 = wipe_one(k, &id, v);
		if (r2) {
			/* an entry that cannot be wiped would loop forever */
			if (!r)
				r = r2;
			break;
		}
	}
	free(v);
	return r;
}

int fp_keys_set_sub(struct fp_keys *k, uint32_t slot, const struct fp_tls_key *key)
{
	return set_keys(k, MOQ_TLS_KIND_SUB, slot, key);
}

int fp_keys_wipe_sub(struct fp_keys *k, uint32_t slot)
{
	return wipe_keys(k, MOQ_TLS_KIND_SUB, slot);
}

int fp_keys_set_up(struct fp_keys *k, uint32_t conn_id, const struct fp_tls_key *key)
{
	return set_keys(k, MOQ_TLS_KIND_UP, conn_id, key);
}

int fp_keys_wipe_up(struct fp_keys *k, uint32_t conn_id)
{
	return wipe_keys(k, MOQ_TLS_KIND_UP, conn_id);
}

int fp_keys_set_sub_rx(struct fp_keys *k, uint32_t slot, const struct fp_tls_key *key)
{
	struct moq_tls_key_id other = {.id = slot, .kind = MOQ_TLS_KIND_SUB_RX};
	struct moq_keyset *v;
	int r = set_keys(k, MOQ_TLS_KIND_SUB_RX, slot, key);

	if (r)
		return r;
	/* the previous phase's set: the kernel opens only the current one */
	other.phase = (key->phase & 1) ^ 1;
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = wipe_one(k, &other, v);
	free(v);
	return r;
}

int fp_keys_sub_rx_seed(struct fp_keys *k, uint32_t slot, uint64_t largest, int any)
{
	struct moq_pn_window *w;
	uint64_t top = largest >> 5;

	if (!k->rxwin || slot >= MOQ_MAX_SUBSCRIBERS)
		return -EINVAL;
	w = &k->rxwin[slot];
	/* the kernel does not open for this slot while its keys are
	 * absent: the caller seeds before it installs them */
	memset(w, 0, sizeof(*w));
	if (!any)
		return 0;
	/* the blocks of the window (pn_window.h): full below the largest's,
	 * bits 0..largest % 32 in its own */
	for (uint64_t b = top >= MOQ_PN_SLOTS ? top - MOQ_PN_SLOTS + 1 : 0; b <= top; b++) {
		uint64_t bits = b < top ? 0xffffffffull : (2ull << (largest & 31)) - 1;

		w->slot[b % MOQ_PN_SLOTS] = (uint64_t)(uint32_t)(b + 1) << 32 | bits;
	}
	__atomic_store_n(&w->next, largest + 1, __ATOMIC_RELEASE);
	return 0;
}

void fp_keys_sub_rx_raise(struct fp_keys *k, uint32_t slot, uint64_t largest)
{
	uint64_t cur;

	if (!k->rxwin || slot >= MOQ_MAX_SUBSCRIBERS)
		return;
	/* only next: the numbers in between stay unmarked (a replay of one
	 * the layer opened may then be consumed: an old ACK, which the
	 * tracker ignores) */
	cur = __atomic_load_n(&k->rxwin[slot].next, __ATOMIC_RELAXED);
	while (cur < largest + 1 &&
	       !__atomic_compare_exchange_n(&k->rxwin[slot].next, &cur, largest + 1, 0,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

uint64_t fp_keys_sub_rx_next(const struct fp_keys *k, uint32_t slot)
{
	if (!k->rxwin || slot >= MOQ_MAX_SUBSCRIBERS)
		return 0;
	return __atomic_load_n(&k->rxwin[slot].next, __ATOMIC_RELAXED);
}
