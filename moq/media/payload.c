/* Test payload format (see payload.h). */
#include "media/payload.h"

#include <string.h>

/* ---- CRC32C ------------------------------------------------------------ */

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t crc_table[256];
static int crc_table_ready;
static int crc_use_hw = -1;

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ ((c & 1) ? CRC32C_POLY_REFLECTED : 0);
		crc_table[i] = c;
	}
	crc_table_ready = 1;
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	if (!crc_table_ready)
		crc_table_init();
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							    size_t len)
{
	uint64_t c = crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}
#endif

uint32_t moq_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	crc = ~crc;
#if defined(__x86_64__)
	if (crc_use_hw < 0) {
		__builtin_cpu_init();
		crc_use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	}
	if (crc_use_hw)
		return ~crc32c_hw(crc, p, len);
#else
	(void)crc_use_hw;
#endif
	return ~crc32c_sw(crc, p, len);
}

/* ---- big-endian helpers ------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- format ------------------------------------------------------------ */

const char *moq_payload_strerror(int err)
{
	switch (err) {
	case MOQ_PAYLOAD_OK:
		return "ok";
	case MOQ_PAYLOAD_ERR_SHORT:
		return "payload shorter than the 64-byte header";
	case MOQ_PAYLOAD_ERR_MAGIC:
		return "bad magic or version (not an MQP1 payload)";
	case MOQ_PAYLOAD_ERR_LENGTH:
		return "length field differs from the bytes received";
	case MOQ_PAYLOAD_ERR_CRC:
		return "CRC32C mismatch";
	case MOQ_PAYLOAD_ERR_FILLER:
		return "synthetic body differs from the expected filler";
	case MOQ_PAYLOAD_ERR_LOCATION:
		return "group/object id in the payload differ from the object's location";
	}
	return "unknown payload error";
}

static uint32_t payload_crc(const uint8_t *buf, size_t total)
{
	uint32_t c = moq_crc32c(0, buf, 60);
	return moq_crc32c(c, buf + MOQ_PAYLOAD_HDR_LEN, total - MOQ_PAYLOAD_HDR_LEN);
}

int moq_payload_seal(uint8_t *buf, struct moq_payload_hdr *h)
{
	if (h->total_len < MOQ_PAYLOAD_HDR_LEN)
		return -1;
	memcpy(buf, MOQ_PAYLOAD_MAGIC, 4);
	buf[4] = MOQ_PAYLOAD_VERSION;
	buf[5] = h->kind;
	buf[6] = h->flags;
	buf[7] = 0;
	put32(buf + 8, h->total_len);
	put32(buf + 12, h->group_objects);
	put64(buf + 16, h->seq);
	put64(buf + 24, h->mono_ns);
	put64(buf + 32, h->real_ns);
	put64(buf + 40, h->group_id);
	put64(buf + 48, h->object_id);
	put32(buf + 56, h->subgroup_id);
	h->crc = payload_crc(buf, h->total_len);
	put32(buf + 60, h->crc);
	return 0;
}

static uint64_t xorshift64(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static uint64_t filler_seed(uint64_t seq)
{
	uint64_t x = seq ^ 0x9E3779B97F4A7C15ull;
	return x ? x : 1; /* xorshift must not start at 0 */
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void moq_payload_fill(uint8_t *body, size_t len, uint64_t seq)
{
	uint64_t x = filler_seed(seq);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		le64(body + i, x);
		x = xorshift64(x);
	}
	if (i < len) {
		uint8_t tmp[8];
		le64(tmp, x);
		memcpy(body + i, tmp, len - i);
	}
}

static bool filler_matches(const uint8_t *body, size_t len, uint64_t seq)
{
	uint64_t x = filler_seed(seq);
	uint8_t tmp[8];
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		le64(tmp, x);
		if (memcmp(body + i, tmp, 8))
			return false;
		x = xorshift64(x);
	}
	if (i < len) {
		le64(tmp, x);
		if (memcmp(body + i, tmp, len - i))
			return false;
	}
	return true;
}

int moq_payload_build_synthetic(uint8_t *buf, struct moq_payload_hdr *h)
{
	if (h->total_len < MOQ_PAYLOAD_HDR_LEN)
		return -1;
	h->kind = MOQ_PAYLOAD_SYNTHETIC;
	moq_payload_fill(buf + MOQ_PAYLOAD_HDR_LEN, h->total_len - MOQ_PAYLOAD_HDR_LEN, h->seq);
	return moq_payload_seal(buf, h);
}

int moq_payload_parse(struct moq_payload_hdr *h, const uint8_t *buf, size_t len)
{
	if (len < MOQ_PAYLOAD_HDR_LEN)
		return MOQ_PAYLOAD_ERR_SHORT;
	if (memcmp(buf, MOQ_PAYLOAD_MAGIC, 4) || buf[4] != MOQ_PAYLOAD_VERSION)
		return MOQ_PAYLOAD_ERR_MAGIC;
	h->kind = buf[5];
	h->flags = buf[6];
	h->total_len = get32(buf + 8);
	h->group_objects = get32(buf + 12);
	h->seq = get64(buf + 16);
	h->mono_ns = get64(buf + 24);
	h->real_ns = get64(buf + 32);
	h->group_id = get64(buf + 40);
	h->object_id = get64(buf + 48);
	h->subgroup_id = get32(buf + 56);
	h->crc = get32(buf + 60);
	return 0;
}

int moq_payload_check(struct moq_payload_hdr *out, const uint8_t *buf, size_t len,
		      bool check_filler)
{
	struct moq_payload_hdr h;
	int rc = moq_payload_parse(&h, buf, len);
	if (rc)
		return rc;
	if (out)
		*out = h;
	if (h.total_len != len)
		return MOQ_PAYLOAD_ERR_LENGTH;
	if (payload_crc(buf, len) != h.crc)
		return MOQ_PAYLOAD_ERR_CRC;
	if (check_filler && h.kind == MOQ_PAYLOAD_SYNTHETIC &&
	    !filler_matches(buf + MOQ_PAYLOAD_HDR_LEN, len - MOQ_PAYLOAD_HDR_LEN, h.seq))
		return MOQ_PAYLOAD_ERR_FILLER;
	return 0;
}
