/* Test fixture for tc-progs/lib/quic_aead.h (tests/unit/test_bpf_aead.c):
 * runs one operation on the packet given to bpf_prog_test_run, which is a
 * bare QUIC packet at offset 0. Parameters in skb->cb:
 *   cb[0] op: 1 seal, 2 open, 3 header protection mask (written over
 *         bytes 0..4), 4 key phase of the set (returned), 5 the CTR
 *         keystream only (the ECB call of a seal; bench/bpf_cost.c)
 *   cb[1] id: subscriber slot (kind SUB, keys through moq_tls_sel) or
 *         upstream conn_id (kind UP)
 *   cb[2] kind | phase << 8 | pkt_off << 9 | hdr_len << 16 (hdr_len: sample
 *         offset for 3; pkt_off: where the packet starts, 0..127, read at
 *         run time so the compiler cannot fold it into the helpers)
 *   cb[3], cb[4] packet number, low and high 32 bits
 * Returns 1000 + the helper's result, 900 when there are no keys. */
#include "bpf_common.h"
#include "quic_aead.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int moq_aead_test(struct __sk_buff *skb)
{
	__u32 op = skb->cb[0], id = skb->cb[1], kind = skb->cb[2] & 0xff;
	__u32 phase = (skb->cb[2] >> 8) & 1, hdr_len = skb->cb[2] >> 16;
	__u32 off = (skb->cb[2] >> 9) & 0x7f;
	__u64 pn = (__u64)skb->cb[4] << 32 | skb->cb[3];
	struct moq_keyset *k;
	__u8 mask[5];
	int r = -100;

	k = kind == MOQ_TLS_KIND_SUB ? moq_keys_sub(id) : moq_keys_up(id, phase);
	if (!k)
		return 900;
	if (op == 1) {
		r = moq_aead_seal(skb, k, off, hdr_len, skb->len - off, pn);
	} else if (op == 2) {
		r = moq_aead_open(skb, k, off, hdr_len, skb->len - off, pn);
	} else if (op == 3) {
		r = moq_hp_mask(skb, k, off + hdr_len, mask);
		if (!r && bpf_skb_store_bytes(skb, 0, mask, 5, 0))
			r = -101;
	} else if (op == 4) {
		r = moq_keyset_phase(k);
	} else if (op == 5) {
		struct moq_aead_ref ref = {.s = moq_aead_scratch_get(), .tab = k->ghash};
		__u32 len = skb->len;

		if (ref.s && hdr_len <= MOQ_AEAD_MAX_HDR && len >= hdr_len + MOQ_TAG_LEN)
			r = moq_aead_prepare(skb, k, &ref, 0, len, len - hdr_len - MOQ_TAG_LEN, pn);
	}
	return 1000 + r;
}
