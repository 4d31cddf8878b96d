/* Text form of Track Namespaces and Track Names (draft-18 "Representing
 * Namespace and Track Names"). */
#include "moq_err.h"
#include "names.h"

static const char hexdig[] = "0123456789abcdef";

static bool is_literal(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

struct out {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->p[o->len] = c;
	else
		o->full = true;
	o->len++;
}

static void put_bytes(struct out *o, struct moq_bytes b)
{
	for (size_t i = 0; i < b.len; i++) {
		uint8_t c = b.ptr[i];

		if (is_literal(c)) {
			put(o, (char)c);
		} else {
			put(o, '.');
			put(o, hexdig[c >> 4]);
			put(o, hexdig[c & 0xf]);
		}
	}
}

int moq_name_render(char *out, size_t outlen, const struct moq_namespace *ns,
		    const struct moq_bytes *name)
{
	struct out o = {out, outlen, 0, false};

	if (ns->nfields > MOQ_MAX_NAMESPACE_FIELDS)
		return MOQ_ERR_INVALID;
	for (size_t i = 0; i < ns->nfields; i++) {
		if (i)
			put(&o, '-');
		put_bytes(&o, ns->fields[i]);
	}
	if (name) {
		put(&o, '-');
		put(&o, '-');
		put_bytes(&o, *name);
	}
	if (o.full || outlen == 0)
		return MOQ_ERR_BUFFER;
	out[o.len] = '\0';
	return (int)o.len;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase hex is not canonical */
}

/* Decode one component (a field or the name) of text [s, e) into buf. */
static int parse_part(const char *s, const char *e, uint8_t *buf, size_t buflen, size_t *used)
{
	size_t start = *used;

	while (s < e) {
		uint8_t c = (uint8_t)*s;

		if (c == '.') {
			int hi, lo;

			if (e - s < 3)
				return MOQ_ERR_MALFORMED;
			hi = hexval(s[1]);
			lo = hexval(s[2]);
			if (hi < 0 || lo < 0)
				return MOQ_ERR_MALFORMED;
			c = (uint8_t)(hi << 4 | lo);
			if (is_literal(c))
				return MOQ_ERR_MALFORMED; /* redundant escape */
			s += 3;
		} else if (is_literal(c)) {
			s++;
		} else {
			return MOQ_ERR_MALFORMED;
		}
		if (*used >= buflen)
			return MOQ_ERR_BUFFER;
		buf[(*used)++] = c;
	}
	return (int)(*used - start);
}

int moq_name_parse(struct moq_namespace *ns, struct moq_bytes *name, bool *has_name, uint8_t *buf,
		   size_t buflen, const char *in, size_t inlen)
{
	const char *end = in + inlen, *sep = NULL, *nsend, *s;
	size_t used = 0, total = 0;
	int n;

	ns->nfields = 0;
	name->ptr = buf;
	name->len = 0;
	*has_name = false;
	for (s = in; s + 1 < end; s++) {
		if (s[0] == '-' && s[1] == '-') {
			sep = s;
			break;
		}
	}
	nsend = sep ? sep : end;
	s = in;
	while (s < nsend) {
		const char *f = s;
		struct moq_bytes *fld;

		while (f < nsend && *f != '-')
			f++;
		if (f == s)
			return MOQ_ERR_MALFORMED; /* empty field */
		if (ns->nfields >= MOQ_MAX_NAMESPACE_FIELDS)
			return MOQ_ERR_LIMIT;
		fld = &ns->fields[ns->nfields];
		fld->ptr = buf + used;
		if ((n = parse_part(s, f, buf, buflen, &used)) < 0)
			return n;
		fld->len = (size_t)n;
		total += fld->len;
		ns->nfields++;
		if (f == nsend)
			break;
		s = f + 1;
		if (s == nsend)
			return MOQ_ERR_MALFORMED; /* trailing '-' */
	}
	if (sep) {
		*has_name = true;
		name->ptr = buf + used;
		if ((n = parse_part(sep + 2, end, buf, buflen, &used)) < 0)
			return n;
		name->len = (size_t)n;
		total += name->len;
	}
	if (total > MOQ_MAX_FULL_TRACK_NAME)
		return MOQ_ERR_LIMIT;
	return (int)used;
}
