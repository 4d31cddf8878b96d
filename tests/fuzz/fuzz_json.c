/* libFuzzer target for the JSON reader and writer (moq/json.h).
 *
 * 1. json_parse on the input: must either fail with an error whose offset
 *    lies within the input, or succeed. On success the tree is written back
 *    with the writer; the output must parse, and equal the first tree
 *    (same types, keys, strings byte for byte, number text and exact u64).
 *    Writing the second tree must give the same text (writer is a fixed
 *    point).
 * 2. json_parse_next over the input as a stream of values: every step
 *    consumes at least one byte or ends, and never reads past the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_json: %s failed at line %d\n", #cond, __LINE__);     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void write_tree(struct json_writer *w, const struct json_value *v)
{
	size_t i;

	switch (v->type) {
	case JSON_NULL:
		json_null(w);
		break;
	case JSON_BOOL:
		json_bool(w, v->b);
		break;
	case JSON_NUMBER:
		if (v->num.is_u64) {
			json_u64(w, v->num.u64);
		} else {
			/* The writer has no raw-number call; a string keeps
			 * the text. Compared accordingly below. */
			json_cstring(w, v->num.text);
		}
		break;
	case JSON_STRING:
		json_string(w, v->str.ptr, v->str.len);
		break;
	case JSON_ARRAY:
		json_begin_array(w);
		for (i = 0; i < v->arr.n; i++)
			write_tree(w, v->arr.items[i]);
		json_end_array(w);
		break;
	case JSON_OBJECT:
		json_begin_object(w);
		for (i = 0; i < v->obj.n; i++) {
			/* keys may hold NULs: write them as a string value
			 * position would; json_key takes a C string, so keys
			 * with NULs are truncated - compare with that in mind */
			json_key(w, v->obj.members[i].key);
			write_tree(w, v->obj.members[i].value);
		}
		json_end_object(w);
		break;
	}
}

static bool keys_have_nul(const struct json_value *v)
{
	size_t i;

	if (v->type == JSON_ARRAY) {
		for (i = 0; i < v->arr.n; i++)
			if (keys_have_nul(v->arr.items[i]))
				return true;
	} else if (v->type == JSON_OBJECT) {
		for (i = 0; i < v->obj.n; i++) {
			if (strlen(v->obj.members[i].key) != v->obj.members[i].keylen)
				return true;
			if (keys_have_nul(v->obj.members[i].value))
				return true;
		}
	}
	return false;
}

static void same(const struct json_value *a, const struct json_value *b)
{
	size_t i;

	if (a->type == JSON_NUMBER && !a->num.is_u64) {
		CHECK(b->type == JSON_STRING);
		CHECK(strlen(a->num.text) == b->str.len);
		CHECK(!memcmp(a->num.text, b->str.ptr, b->str.len));
		return;
	}
	CHECK(a->type == b->type);
	switch (a->type) {
	case JSON_BOOL:
		CHECK(a->b == b->b);
		break;
	case JSON_NUMBER:
		CHECK(b->num.is_u64 && a->num.u64 == b->num.u64);
		CHECK(!strcmp(a->num.text, b->num.text));
		break;
	case JSON_STRING:
		CHECK(a->str.len == b->str.len);
		CHECK(!memcmp(a->str.ptr, b->str.ptr, a->str.len));
		break;
	case JSON_ARRAY:
		CHECK(a->arr.n == b->arr.n);
		for (i = 0; i < a->arr.n; i++)
			same(a->arr.items[i], b->arr.items[i]);
		break;
	case JSON_OBJECT:
		CHECK(a->obj.n == b->obj.n);
		for (i = 0; i < a->obj.n; i++) {
			CHECK(a->obj.members[i].keylen == b->obj.members[i].keylen);
			CHECK(!memcmp(a->obj.members[i].key, b->obj.members[i].key,
				      a->obj.members[i].keylen));
			same(a->obj.members[i].value, b->obj.members[i].value);
		}
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct json_value *v = NULL, *v2 = NULL;
	struct json_error err;
	size_t off = 0, used;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = json_parse(s, size, &v, &err);
	if (rc < 0) {
		CHECK(v == NULL);
		CHECK(err.offset <= size);
		CHECK(err.msg[0] != '\0');
		CHECK(err.line >= 1 && err.col >= 1);
	} else if (!keys_have_nul(v)) {
		struct json_writer w, w2;

		json_writer_init(&w);
		write_tree(&w, v);
		CHECK(!w.oom);
		CHECK(json_parse(w.buf, w.len, &v2, &err) == 0);
		same(v, v2);
		json_writer_init(&w2);
		/* v2 holds strings where v had non-u64 numbers: writing v2
		 * gives the same text as writing v. */
		write_tree(&w2, v2);
		CHECK(w2.len == w.len && !memcmp(w2.buf, w.buf, w.len));
		json_writer_free(&w);
		json_writer_free(&w2);
		json_free(v2);
	}
	json_free(v);

	/* stream of values */
	for (;;) {
		struct json_value *x = NULL;
		rc = json_parse_next(s + off, size - off, &x, &used, &err);
		if (rc <= 0) {
			CHECK(x == NULL);
			if (rc < 0)
				CHECK(err.offset <= size - off);
			break;
		}
		CHECK(used > 0 && used <= size - off);
		json_free(x);
		off += used;
	}
	return 0;
}
