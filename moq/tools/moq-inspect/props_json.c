/* Properties (Key-Value-Pair blocks: Track Properties, Object Properties)
 * <-> JSON.
 *
 *   [{"type":2,"name":"OBJECT_DELIVERY_TIMEOUT","value":5000},
 *    {"type":77,"value":"traceID:123456"}]
 *
 * Even types carry a number, odd types a byte string (string or {"hex"}).
 * IMMUTABLE_PROPERTIES (0x0B) whose value is itself a valid KVP block is shown
 * as a nested array of the same form. "name" is printed when the draft
 * defines the type and is optional on encode. A block that does not parse as
 * KVPs (never produced by the codecs) is printed as {"hex":"..."}, which
 * encode also accepts. */
#include <string.h>

#include "data.h"
#include "inspect.h"
#include "kvp.h"
#include "moq_err.h"
#include "varint.h"

static bool block_ok(const uint8_t *p, size_t len)
{
	return moq_kvp_validate(p, len) >= 0;
}

static bool g_noncanonical;

bool props_take_noncanonical(void)
{
	bool r = g_noncanonical;
	g_noncanonical = false;
	return r;
}

/* Does a valid KVP block re-encode to the same bytes (minimal varints)? */
static bool block_canonical(const uint8_t *p, size_t len)
{
	struct moq_kvp_iter it;
	struct moq_kvp kv;
	uint8_t tmp[32];
	uint64_t prev = 0;
	size_t off = 0;

	moq_kvp_iter_init(&it, p, len);
	while (moq_kvp_next(&it, &kv) == 1) {
		/* compare the pair's header (delta type, value or length) */
		struct moq_kvp hdr = kv;
		int n;
		if (moq_kvp_is_bytes(kv.type))
			hdr.bytes.len = 0;
		n = moq_kvp_encode(tmp, sizeof(tmp), &prev, &hdr);
		if (n < 0)
			return false;
		if (moq_kvp_is_bytes(kv.type)) {
			/* re-encode the length alone: tmp holds delta + len 0 */
			uint8_t lb[16];
			int dl = n - 1, ll = moq_vi_encode(lb, sizeof(lb), kv.bytes.len);
			if (ll < 0 || off + (size_t)dl + (size_t)ll > len ||
			    memcmp(tmp, p + off, (size_t)dl) ||
			    memcmp(lb, p + off + (size_t)dl, (size_t)ll))
				return false;
			off += (size_t)dl + (size_t)ll + kv.bytes.len;
		} else {
			if (off + (size_t)n > len || memcmp(tmp, p + off, (size_t)n))
				return false;
			off += (size_t)n;
		}
	}
	return off == len;
}

static void write_block(struct json_writer *w, const uint8_t *p, size_t len, int depth)
{
	struct moq_kvp_iter it;
	struct moq_kvp kv;

	if (!block_ok(p, len)) {
		json_bytes(w, p, len);
		return;
	}
	if (!block_canonical(p, len))
		g_noncanonical = true;
	json_begin_array(w);
	moq_kvp_iter_init(&it, p, len);
	while (moq_kvp_next(&it, &kv) == 1) {
		const char *name = moq_property_name(kv.type);

		json_begin_object(w);
		json_kv_u64(w, "type", kv.type);
		if (name)
			json_kv_cstring(w, "name", name);
		json_key(w, "value");
		if (!moq_kvp_is_bytes(kv.type))
			json_u64(w, kv.value);
		else if (kv.type == MOQ_PROP_IMMUTABLE_PROPERTIES && depth == 0 &&
			 block_ok(kv.bytes.ptr, kv.bytes.len) &&
			 block_canonical(kv.bytes.ptr, kv.bytes.len))
			/* shown as pairs only when that re-encodes exactly:
			 * relays must not change these bytes */
			write_block(w, kv.bytes.ptr, kv.bytes.len, 1);
		else
			json_bytes(w, kv.bytes.ptr, kv.bytes.len);
		json_end_object(w);
	}
	json_end_array(w);
}

void props_write(struct json_writer *w, const char *key, const uint8_t *p, size_t len)
{
	json_key(w, key);
	write_block(w, p, len, 0);
}

static int read_block(struct jctx *c, const struct json_value *arr, int depth,
		      struct moq_bytes *out)
{
	static const char *const keys[] = {"type", "name", "value", NULL};
	struct bytebuf b = {0};
	size_t i, len;
	uint8_t *buf;
	uint64_t prev = 0;

	if (arr->type != JSON_ARRAY)
		return jv_bytes(c, arr, "properties", out);
	/* Encode pair by pair into a scratch buffer that grows as needed. */
	for (i = 0; i < arr->arr.n; i++) {
		const struct json_value *it = arr->arr.items[i];
		const struct json_value *val;
		struct moq_kvp kv = {0};
		struct moq_bytes bytes = {0};
		int n;

		if (it->type != JSON_OBJECT) {
			bytebuf_free(&b);
			return jerr(c, it, "a property is {\"type\":N,\"value\":V}, got %s",
				    json_type_name(it->type));
		}
		if (jf_only(c, it, keys) < 0 ||
		    jf_code(c, it, "type", "name", moq_property_name, 0x100, true, &kv.type) < 0) {
			bytebuf_free(&b);
			return -1;
		}
		val = json_get(it, "value");
		if (!val) {
			bytebuf_free(&b);
			return jerr(c, it, "property %llu has no \"value\"",
				    (unsigned long long)kv.type);
		}
		if (!moq_kvp_is_bytes(kv.type)) {
			if (jv_u64(c, val, "value of an even-type property", &kv.value) < 0) {
				bytebuf_free(&b);
				return -1;
			}
		} else if (val->type == JSON_ARRAY && depth == 0) {
			if (read_block(c, val, 1, &bytes) < 0) {
				bytebuf_free(&b);
				return -1;
			}
			kv.bytes = bytes;
		} else if (jv_bytes(c, val, "value of an odd-type property", &kv.bytes) < 0) {
			bytebuf_free(&b);
			return -1;
		}
		if (bytebuf_reserve(&b, 20 + kv.bytes.len)) {
			bytebuf_free(&b);
			return jerr(c, it, "out of memory");
		}
		n = moq_kvp_encode(b.p + b.len, b.cap - b.len, &prev, &kv);
		if (n == MOQ_ERR_INVALID) {
			bytebuf_free(&b);
			return jerr(c, it,
				    "property types must be in ascending order (%llu after %llu)",
				    (unsigned long long)kv.type, (unsigned long long)prev);
		}
		if (n < 0) {
			bytebuf_free(&b);
			return jerr(c, it, "property %llu: %s", (unsigned long long)kv.type,
				    moq_strerror(n));
		}
		b.len += (size_t)n;
	}
	buf = jalloc(c, b.len);
	if (!buf) {
		bytebuf_free(&b);
		return jerr(c, arr, "out of memory");
	}
	if (b.len)
		memcpy(buf, b.p, b.len);
	len = b.len;
	bytebuf_free(&b);
	out->ptr = buf;
	out->len = len;
	return 1;
}

int props_read(struct jctx *c, const struct json_value *arr, struct moq_bytes *out)
{
	return read_block(c, arr, 0, out);
}
