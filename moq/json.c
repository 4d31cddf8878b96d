#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reader -------------------------------------------------------------- */

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	unsigned depth;
	struct json_error *err;
};

static void set_err(struct parser *p, size_t at, const char *fmt, ...)
{
	struct json_error *e = p->err;
	va_list ap;
	size_t i;

	if (!e)
		return;
	e->offset = at;
	e->line = 1;
	e->col = 1;
	for (i = 0; i < at && i < p->len; i++) {
		if (p->s[i] == '\n') {
			e->line++;
			e->col = 1;
		} else {
			e->col++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_u16_escape(struct parser *p, uint32_t *cp)
{
	uint32_t v = 0;
	int i;

	if (p->len - p->pos < 4) {
		set_err(p, p->pos, "truncated \\u escape");
		return -1;
	}
	for (i = 0; i < 4; i++) {
		int h = hexval(p->s[p->pos + (size_t)i]);
		if (h < 0) {
			set_err(p, p->pos + (size_t)i, "bad hex digit in \\u escape");
			return -1;
		}
		v = (v << 4) | (uint32_t)h;
	}
	p->pos += 4;
	*cp = v;
	return 0;
}

/* Parse a string at p->pos (which is '"'); result is malloc'ed. */
static int parse_string(struct parser *p, char **out, size_t *outlen)
{
	size_t start = p->pos;
	size_t cap = 16, n = 0;
	char *buf;

	p->pos++; /* opening quote */
	/* The decoded string is never longer than the source. */
	{
		size_t i = p->pos;
		while (i < p->len && p->s[i] != '"') {
			if (p->s[i] == '\\')
				i++;
			i++;
		}
		cap = (i > p->pos ? i - p->pos : 0) + 1;
	}
	buf = malloc(cap);
	if (!buf) {
		set_err(p, start, "out of memory");
		return -1;
	}
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len) {
			set_err(p, start, "unterminated string");
			goto fail;
		}
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c < 0x20) {
			set_err(p, p->pos, "control character 0x%02x in string (escape it)", c);
			goto fail;
		}
		if (c == '\\') {
			char e;
			uint32_t cp;

			if (p->pos + 1 >= p->len) {
				set_err(p, start, "unterminated string");
				goto fail;
			}
			e = p->s[p->pos + 1];
			p->pos += 2;
			switch (e) {
			case '"':
			case '\\':
			case '/':
				buf[n++] = e;
				continue;
			case 'b':
				buf[n++] = '\b';
				continue;
			case 'f':
				buf[n++] = '\f';
				continue;
			case 'n':
				buf[n++] = '\n';
				continue;
			case 'r':
				buf[n++] = '\r';
				continue;
			case 't':
				buf[n++] = '\t';
				continue;
			case 'u':
				break;
			default:
				set_err(p, p->pos - 1, "bad escape \\%c",
					(e >= 0x20 && e < 0x7f) ? e : '?');
				goto fail;
			}
			if (read_u16_escape(p, &cp))
				goto fail;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo;
				if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
				    p->s[p->pos + 1] != 'u') {
					set_err(p, p->pos,
						"high surrogate without a low surrogate");
					goto fail;
				}
				p->pos += 2;
				if (read_u16_escape(p, &lo))
					goto fail;
				if (lo < 0xdc00 || lo > 0xdfff) {
					set_err(p, p->pos - 6,
						"expected a low surrogate \\uDC00..\\uDFFF");
					goto fail;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				set_err(p, p->pos - 6, "lone low surrogate");
				goto fail;
			}
			/* \uXXXX is 6 source bytes, at most 4 decoded bytes;
			 * a surrogate pair is 12 for 4. */
			n += utf8_put(buf + n, cp);
			continue;
		}
		{
			size_t u = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
			if (!u) {
				set_err(p, p->pos, "invalid UTF-8 in string");
				goto fail;
			}
			memcpy(buf + n, p->s + p->pos, u);
			n += u;
			p->pos += u;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
fail:
	free(buf);
	return -1;
}

static struct json_value *new_value(struct parser *p, enum json_type t)
{
	struct json_value *v = calloc(1, sizeof(*v));
	if (!v) {
		set_err(p, p->pos, "out of memory");
		return NULL;
	}
	v->type = t;
	v->offset = p->pos;
	return v;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static struct json_value *parse_number(struct parser *p)
{
	size_t start = p->pos, i = p->pos;
	bool plain = true, overflow = false;
	uint64_t u = 0;
	struct json_value *v;

	if (i < p->len && p->s[i] == '-') {
		plain = false;
		i++;
	}
	if (i >= p->len || !is_digit(p->s[i])) {
		set_err(p, i, "expected a digit");
		return NULL;
	}
	if (p->s[i] == '0') {
		i++;
		if (i < p->len && is_digit(p->s[i])) {
			set_err(p, start, "leading zero in number");
			return NULL;
		}
	} else {
		while (i < p->len && is_digit(p->s[i])) {
			unsigned d = (unsigned)(p->s[i] - '0');
			if (u > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				u = u * 10 + d;
			i++;
		}
	}
	if (i < p->len && p->s[i] == '.') {
		plain = false;
		i++;
		if (i >= p->len || !is_digit(p->s[i])) {
			set_err(p, i, "expected a digit after '.'");
			return NULL;
		}
		while (i < p->len && is_digit(p->s[i]))
			i++;
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		plain = false;
		i++;
		if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		if (i >= p->len || !is_digit(p->s[i])) {
			set_err(p, i, "expected a digit in exponent");
			return NULL;
		}
		while (i < p->len && is_digit(p->s[i]))
			i++;
	}
	v = new_value(p, JSON_NUMBER);
	if (!v)
		return NULL;
	v->num.text = malloc(i - start + 1);
	if (!v->num.text) {
		free(v);
		set_err(p, start, "out of memory");
		return NULL;
	}
	memcpy(v->num.text, p->s + start, i - start);
	v->num.text[i - start] = '\0';
	v->num.is_u64 = plain && !overflow;
	v->num.u64 = v->num.is_u64 ? u : 0;
	p->pos = i;
	return v;
}

static struct json_value *parse_value(struct parser *p);

static int literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return 0;
	p->pos += n;
	return 1;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	void *q;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 4;
	q = realloc(*arr, nc * elem);
	if (!q)
		return -1;
	*arr = q;
	*cap = nc;
	return 0;
}

static struct json_value *parse_array(struct parser *p)
{
	struct json_value *v = new_value(p, JSON_ARRAY);
	size_t cap = 0;

	if (!v)
		return NULL;
	p->pos++; /* [ */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		return v;
	}
	for (;;) {
		struct json_value *item;

		skip_ws(p);
		item = parse_value(p);
		if (!item)
			goto fail;
		if (grow((void **)&v->arr.items, &cap, v->arr.n, sizeof(*v->arr.items))) {
			json_free(item);
			set_err(p, p->pos, "out of memory");
			goto fail;
		}
		v->arr.items[v->arr.n++] = item;
		skip_ws(p);
		if (p->pos >= p->len) {
			set_err(p, p->pos, "input ends inside an array (expected ',' or ']')");
			goto fail;
		}
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == ']') {
			p->pos++;
			return v;
		}
		set_err(p, p->pos, "expected ',' or ']' in array");
		goto fail;
	}
fail:
	json_free(v);
	return NULL;
}

static struct json_value *parse_object(struct parser *p)
{
	struct json_value *v = new_value(p, JSON_OBJECT);
	size_t cap = 0;

	if (!v)
		return NULL;
	p->pos++; /* { */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		return v;
	}
	for (;;) {
		struct json_member m = {0};
		size_t key_at, i;

		skip_ws(p);
		key_at = p->pos;
		if (p->pos >= p->len) {
			set_err(p, p->pos, "input ends inside an object");
			goto fail;
		}
		if (p->s[p->pos] != '"') {
			set_err(p, p->pos, "expected a string key in object");
			goto fail;
		}
		if (parse_string(p, &m.key, &m.keylen))
			goto fail;
		for (i = 0; i < v->obj.n; i++) {
			if (v->obj.members[i].keylen == m.keylen &&
			    !memcmp(v->obj.members[i].key, m.key, m.keylen)) {
				set_err(p, key_at, "duplicate key \"%.40s\"", m.key);
				free(m.key);
				goto fail;
			}
		}
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':') {
			set_err(p, p->pos, "expected ':' after object key");
			free(m.key);
			goto fail;
		}
		p->pos++;
		skip_ws(p);
		m.value = parse_value(p);
		if (!m.value) {
			free(m.key);
			goto fail;
		}
		if (grow((void **)&v->obj.members, &cap, v->obj.n, sizeof(*v->obj.members))) {
			free(m.key);
			json_free(m.value);
			set_err(p, p->pos, "out of memory");
			goto fail;
		}
		v->obj.members[v->obj.n++] = m;
		skip_ws(p);
		if (p->pos >= p->len) {
			set_err(p, p->pos, "input ends inside an object (expected ',' or '}')");
			goto fail;
		}
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == '}') {
			p->pos++;
			return v;
		}
		set_err(p, p->pos, "expected ',' or '}' in object");
		goto fail;
	}
fail:
	json_free(v);
	return NULL;
}

static struct json_value *parse_value(struct parser *p)
{
	struct json_value *v;
	char c;

	if (p->pos >= p->len) {
		set_err(p, p->pos, "expected a value, got end of input");
		return NULL;
	}
	c = p->s[p->pos];
	switch (c) {
	case '{':
	case '[':
		if (p->depth >= JSON_MAX_DEPTH) {
			set_err(p, p->pos, "nesting deeper than %d", JSON_MAX_DEPTH);
			return NULL;
		}
		p->depth++;
		v = c == '{' ? parse_object(p) : parse_array(p);
		p->depth--;
		return v;
	case '"':
		v = new_value(p, JSON_STRING);
		if (v && parse_string(p, &v->str.ptr, &v->str.len)) {
			free(v);
			return NULL;
		}
		return v;
	case 't':
	case 'f':
	case 'n':
		v = new_value(p, c == 'n' ? JSON_NULL : JSON_BOOL);
		if (!v)
			return NULL;
		if (literal(p, "true"))
			v->b = true;
		else if (literal(p, "false"))
			v->b = false;
		else if (!literal(p, "null")) {
			set_err(p, p->pos, "unknown literal (expected true, false or null)");
			free(v);
			return NULL;
		}
		return v;
	default:
		if (c == '-' || is_digit(c))
			return parse_number(p);
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			set_err(p, p->pos, "unexpected character '%c'", c);
		else
			set_err(p, p->pos, "unexpected byte 0x%02x", (unsigned char)c);
		return NULL;
	}
}

int json_parse_next(const char *text, size_t len, struct json_value **out, size_t *consumed,
		    struct json_error *err)
{
	struct parser p = {.s = text, .len = len, .err = err};
	struct json_value *v;

	*out = NULL;
	skip_ws(&p);
	if (p.pos == len) {
		*consumed = len;
		return 0;
	}
	v = parse_value(&p);
	if (!v)
		return -1;
	*out = v;
	*consumed = p.pos;
	return 1;
}

int json_parse(const char *text, size_t len, struct json_value **out, struct json_error *err)
{
	struct parser p = {.s = text, .len = len, .err = err};
	struct json_value *v;

	*out = NULL;
	skip_ws(&p);
	v = parse_value(&p);
	if (!v)
		return -1;
	skip_ws(&p);
	if (p.pos != len) {
		set_err(&p, p.pos, "trailing data after the JSON value");
		json_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

void json_free(struct json_value *v)
{
	size_t i;

	if (!v)
		return;
	switch (v->type) {
	case JSON_NUMBER:
		free(v->num.text);
		break;
	case JSON_STRING:
		free(v->str.ptr);
		break;
	case JSON_ARRAY:
		for (i = 0; i < v->arr.n; i++)
			json_free(v->arr.items[i]);
		free(v->arr.items);
		break;
	case JSON_OBJECT:
		for (i = 0; i < v->obj.n; i++) {
			free(v->obj.members[i].key);
			json_free(v->obj.members[i].value);
		}
		free(v->obj.members);
		break;
	default:
		break;
	}
	free(v);
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
	size_t i, n;

	if (!v || v->type != JSON_OBJECT)
		return NULL;
	n = strlen(key);
	for (i = 0; i < v->obj.n; i++)
		if (v->obj.members[i].keylen == n && !memcmp(v->obj.members[i].key, key, n))
			return v->obj.members[i].value;
	return NULL;
}

const char *json_type_name(enum json_type t)
{
	switch (t) {
	case JSON_NULL:
		return "null";
	case JSON_BOOL:
		return "boolean";
	case JSON_NUMBER:
		return "number";
	case JSON_STRING:
		return "string";
	case JSON_ARRAY:
		return "array";
	case JSON_OBJECT:
		return "object";
	}
	return "?";
}

/* ---- writer -------------------------------------------------------------- */

void json_writer_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->first[0] = true;
}

void json_writer_free(struct json_writer *w)
{
	free(w->buf);
	json_writer_init(w);
}

void json_writer_reset(struct json_writer *w)
{
	w->len = 0;
	w->oom = false;
	w->depth = 0;
	w->first[0] = true;
	w->after_key = false;
	if (w->buf)
		w->buf[0] = '\0';
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t nc = w->cap ? w->cap : 256;
		char *q;
		while (nc < w->len + n + 1)
			nc *= 2;
		q = realloc(w->buf, nc);
		if (!q) {
			w->oom = true;
			return;
		}
		w->buf = q;
		w->cap = nc;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void putc_(struct json_writer *w, char c)
{
	put(w, &c, 1);
}

/* Separator before a value (array element or top level). */
static void before_value(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			putc_(w, ',');
		w->first[w->depth] = false;
	}
}

static void open_(struct json_writer *w, char c)
{
	before_value(w);
	putc_(w, c);
	if (w->depth < JSON_MAX_DEPTH) {
		w->depth++;
		w->first[w->depth] = true;
	} else {
		w->oom = true; /* too deep: mark output unusable */
	}
}

static void close_(struct json_writer *w, char c)
{
	putc_(w, c);
	if (w->depth > 0)
		w->depth--;
}

void json_begin_object(struct json_writer *w)
{
	open_(w, '{');
}

void json_end_object(struct json_writer *w)
{
	close_(w, '}');
}

void json_begin_array(struct json_writer *w)
{
	open_(w, '[');
}

void json_end_array(struct json_writer *w)
{
	close_(w, ']');
}

static void write_escaped(struct json_writer *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	putc_(w, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char ubuf[6];

		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		default:
			if (c >= 0x20)
				continue;
		}
		put(w, s + run, i - run);
		run = i + 1;
		if (esc) {
			put(w, esc, 2);
		} else {
			memcpy(ubuf, "\\u00", 4);
			ubuf[4] = hex[c >> 4];
			ubuf[5] = hex[c & 15];
			put(w, ubuf, 6);
		}
	}
	put(w, s + run, len - run);
	putc_(w, '"');
}

void json_key(struct json_writer *w, const char *key)
{
	if (!w->first[w->depth])
		putc_(w, ',');
	w->first[w->depth] = false;
	write_escaped(w, key, strlen(key));
	putc_(w, ':');
	w->after_key = true;
}

void json_u64(struct json_writer *w, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	before_value(w);
	put(w, b, (size_t)n);
}

void json_bool(struct json_writer *w, bool v)
{
	before_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void json_null(struct json_writer *w)
{
	before_value(w);
	put(w, "null", 4);
}

void json_string(struct json_writer *w, const char *s, size_t len)
{
	before_value(w);
	write_escaped(w, s, len);
}

void json_cstring(struct json_writer *w, const char *s)
{
	json_string(w, s, strlen(s));
}

void json_hex_string(struct json_writer *w, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char chunk[128];
	size_t i, n = 0;

	before_value(w);
	putc_(w, '"');
	for (i = 0; i < len; i++) {
		chunk[n++] = hex[p[i] >> 4];
		chunk[n++] = hex[p[i] & 15];
		if (n == sizeof(chunk)) {
			put(w, chunk, n);
			n = 0;
		}
	}
	put(w, chunk, n);
	putc_(w, '"');
}

bool json_bytes_printable(const uint8_t *p, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

void json_bytes(struct json_writer *w, const uint8_t *p, size_t len)
{
	if (json_bytes_printable(p, len)) {
		json_string(w, (const char *)p, len);
		return;
	}
	json_begin_object(w);
	json_key(w, "hex");
	json_hex_string(w, p, len);
	json_end_object(w);
}

void json_kv_u64(struct json_writer *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_u64(w, v);
}

void json_kv_bool(struct json_writer *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}

void json_kv_cstring(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_cstring(w, s);
}

void json_kv_bytes(struct json_writer *w, const char *key, const uint8_t *p, size_t len)
{
	json_key(w, key);
	json_bytes(w, p, len);
}

long json_hex_decode(uint8_t *out, const char *hex, size_t len, size_t *bad_at)
{
	size_t i;

	if (len % 2) {
		if (bad_at)
			*bad_at = len;
		return -1;
	}
	for (i = 0; i < len; i += 2) {
		int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
		if (hi < 0 || lo < 0) {
			if (bad_at)
				*bad_at = hi < 0 ? i : i + 1;
			return -1;
		}
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(len / 2);
}
