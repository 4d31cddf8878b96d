/* The encrypted fast path's programs that the agent loads itself
 * (agent/lib/fp_keys.c, embedded in libagent; maps shared with relay.bpf.o
 * through the pins):
 *  - moq_tls_keys_op, BPF_PROG_TYPE_SYSCALL, run with bpf_prog_test_run:
 *    installs / releases the cipher contexts (moq_maps.h, struct
 *    moq_tls_install). bpf_crypto_ctx_create is callable only from
 *    sleepable programs like this one; the contexts are kept as kptrs in
 *    moq_tls_keys, where the tc programs use them.
 *  - moq_subscriber_seal, tc: the tail of tc/subscriber_egress for a TLS
 *    slot (moq_seal_prog), sealing the rewritten clone.
 *  - moq_subscriber_open, tc: the tail of tc/subscriber_ingress for a TLS
 *    slot's small packet (moq_open_prog): opens it, consumes a media ACK
 *    (lib/sub_open.h). */
#include "bpf_common.h"
#include "stats.h"
#include "subscriber_egress.bpf.h"
#include "sub_open.h"

char LICENSE[] SEC("license") = "GPL";

struct bpf_crypto_params {
	char type[14];
	__u8 reserved[2];
	char algo[128];
	__u8 key[256];
	__u32 key_len;
	__u32 authsize;
};

extern struct bpf_crypto_ctx *bpf_crypto_ctx_create(const struct bpf_crypto_params *params,
						    __u32 params__sz, int *err) __ksym;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __ksym;

static __always_inline struct bpf_crypto_ctx *moq_ecb_ctx(struct bpf_crypto_params *p,
							  const __u8 *key, int *err)
{
	struct bpf_crypto_ctx *c;

	__builtin_memcpy(p->key, key, 16);
	c = bpf_crypto_ctx_create(p, sizeof(*p), err);
	__builtin_memset(p->key, 0, 16);
	return c;
}

static __always_inline int moq_tls_install(struct moq_tls_install *a, struct moq_keyset *k,
					   const __u8 *key, const __u8 *hpkey)
{
	/* aes-generic (T-tables) seals a 1,200-byte packet in ~5 us here,
	 * the default ecb(aes) (aes-fixed-time) in ~8.6 us: the first when
	 * the kernel has it (docs/fast-path-tls-kernel.md, the trade-off) */
	struct bpf_crypto_params p = {
	    .type = "skcipher",
	    .algo = "ecb(aes-generic)",
	    .key_len = 16,
	};
	struct bpf_crypto_ctx *aes, *hp, *old;
	int err = 0;

	aes = moq_ecb_ctx(&p, key, &err);
	if (!aes) {
		__builtin_memcpy(p.algo, "ecb(aes)\0\0\0\0\0\0\0\0", 16);
		aes = moq_ecb_ctx(&p, key, &err);
	}
	if (!aes)
		return err ? err : -22;
	hp = moq_ecb_ctx(&p, hpkey, &err);
	if (!hp) {
		bpf_crypto_ctx_release(aes);
		return err ? err : -22;
	}
	old = bpf_kptr_xchg(&k->aes, aes);
	if (old)
		bpf_crypto_ctx_release(old);
	old = bpf_kptr_xchg(&k->hp, hp);
	if (old)
		bpf_crypto_ctx_release(old);
	if (a->select && a->id.kind == MOQ_TLS_KIND_SUB) {
		__u32 slot = a->id.id, sel = (a->id.phase & 1) + 1;

		if (bpf_map_update_elem(&moq_tls_sel, &slot, &sel, BPF_ANY))
			return -2; /* -ENOENT: slot out of range */
	}
	return 0;
}

static __always_inline void moq_tls_release(struct moq_keyset *k)
{
	struct bpf_crypto_ctx *old;

	old = bpf_kptr_xchg(&k->aes, NULL);
	if (old)
		bpf_crypto_ctx_release(old);
	old = bpf_kptr_xchg(&k->hp, NULL);
	if (old)
		bpf_crypto_ctx_release(old);
}

SEC("syscall")
int moq_tls_keys_op(struct moq_tls_install *a)
{
	struct moq_tls_key_id id = a->id;
	struct moq_keyset *k = bpf_map_lookup_elem(&moq_tls_keys, &id);
	__u64 key[2], hpkey[2];
	int err = 0;

	/* the key bytes do not outlive the call (the kernel frees this
	 * argument buffer without clearing it): taken and cleared first,
	 * with constant-offset accesses (the verifier refuses a moved ctx
	 * pointer) */
	key[0] = *(volatile __u64 *)&a->key[0];
	key[1] = *(volatile __u64 *)&a->key[8];
	hpkey[0] = *(volatile __u64 *)&a->hp[0];
	hpkey[1] = *(volatile __u64 *)&a->hp[8];
	*(volatile __u64 *)&a->key[0] = 0;
	*(volatile __u64 *)&a->key[8] = 0;
	*(volatile __u64 *)&a->hp[0] = 0;
	*(volatile __u64 *)&a->hp[8] = 0;
	if (!k) {
		err = -2; /* -ENOENT */
	} else if (a->op == MOQ_TLS_OP_INSTALL) {
		err = moq_tls_install(a, k, (const __u8 *)key, (const __u8 *)hpkey);
	} else if (a->op == MOQ_TLS_OP_RELEASE) {
		moq_tls_release(k);
	} else {
		err = -22; /* -EINVAL */
	}
	__builtin_memset(key, 0, sizeof(key));
	__builtin_memset(hpkey, 0, sizeof(hpkey));
	asm volatile("" : : "r"(key), "r"(hpkey) : "memory"); /* not dead stores */
	a->err = err;
	return 0;
}

SEC("tc")
int moq_subscriber_seal(struct __sk_buff *skb)
{
	int reason, ret;

	ret = moq_subscriber_seal_job(skb, &reason);
	moq_stat_count(MOQ_PROG_SUBSCRIBER_EGRESS, reason, skb->len);
	return ret;
}

SEC("tc")
int moq_subscriber_open(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	int reason = moq_sub_open(skb);

	moq_stat_count(MOQ_PROG_SUBSCRIBER_INGRESS, reason, len);
	return reason == MOQ_R_ACK_CONSUMED ? TC_ACT_SHOT : TC_ACT_OK;
}
