/* Test helper: tls_seal.h. */
#include "tls_seal.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

int tls_seal(uint8_t *q, size_t len, size_t hlen, uint64_t pn, const struct fp_tls_key *key)
{
	gnutls_cipher_hd_t ecb;
	gnutls_aead_cipher_hd_t h;
	uint8_t iv0[16] = {0}, mask[16], nonce[12], out[2048];
	gnutls_datum_t hk = {(unsigned char *)key->hp, 16}, ivd = {iv0, 16};
	gnutls_datum_t k = {(unsigned char *)key->key, 16};
	size_t olen = sizeof(out), pn_len = hlen - 9;
	int rv;

	if (hlen < 10 || hlen > 13 || len < hlen + 16 || len - hlen > sizeof(out) ||
	    len < 9 + 4 + 16)
		return -1;
	memcpy(nonce, key->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(pn >> (56 - 8 * i));
	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &k) < 0)
		return -1;
	rv = gnutls_aead_cipher_encrypt(h, nonce, 12, q, hlen, 16, q + hlen, len - hlen - 16, out,
					&olen);
	gnutls_aead_cipher_deinit(h);
	if (rv < 0 || olen != len - hlen)
		return -1;
	memcpy(q + hlen, out, olen);
	/* header protection: AES-ECB of the sample (one CBC block, zero IV) */
	if (gnutls_cipher_init(&ecb, GNUTLS_CIPHER_AES_128_CBC, &hk, &ivd) < 0)
		return -1;
	rv = gnutls_cipher_encrypt2(ecb, q + 9 + 4, 16, mask, 16);
	gnutls_cipher_deinit(ecb);
	if (rv < 0)
		return -1;
	q[0] ^= mask[0] & 0x1f;
	for (size_t i = 0; i < pn_len; i++)
		q[9 + i] ^= mask[1 + i];
	return 0;
}
