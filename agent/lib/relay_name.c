#include "relay_name.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

int relay_name_init(struct relay_name *n, const struct moq_namespace *ns,
		    const struct moq_bytes *name)
{
	size_t raw = 0, keylen = 0, textcap;
	uint8_t *p, *k;

	memset(n, 0, sizeof(*n));
	if (ns->nfields > MOQ_MAX_NAMESPACE_FIELDS)
		return -EINVAL;
	for (size_t i = 0; i < ns->nfields; i++) {
		if (ns->fields[i].len > 0xFFFF)
			return -EINVAL;
		raw += ns->fields[i].len;
		keylen += 2 + ns->fields[i].len;
	}
	if (name) {
		raw += name->len;
		keylen += 2 + name->len;
	}
	n->buf = malloc(raw ? raw : 1);
	n->key = malloc(keylen ? keylen : 1);
	textcap = 3 * raw + 2 * ns->nfields + 4;
	n->text = malloc(textcap);
	if (!n->buf || !n->key || !n->text) {
		relay_name_free(n);
		return -ENOMEM;
	}
	p = n->buf;
	k = n->key;
	n->ns.nfields = ns->nfields;
	for (size_t i = 0; i < ns->nfields; i++) {
		size_t l = ns->fields[i].len;

		if (l)
			memcpy(p, ns->fields[i].ptr, l);
		n->ns.fields[i].ptr = p;
		n->ns.fields[i].len = l;
		*k++ = (uint8_t)(l >> 8);
		*k++ = (uint8_t)l;
		if (l)
			memcpy(k, p, l);
		k += l;
		p += l;
	}
	n->nskeylen = (size_t)(k - n->key);
	if (name) {
		n->has_name = true;
		if (name->len)
			memcpy(p, name->ptr, name->len);
		n->name.ptr = p;
		n->name.len = name->len;
		*k++ = 0xFF;
		*k++ = 0xFF;
		if (name->len)
			memcpy(k, p, name->len);
		k += name->len;
	}
	n->keylen = (size_t)(k - n->key);
	if (moq_name_render(n->text, textcap, &n->ns, name ? &n->name : NULL) < 0)
		strcpy(n->text, "?");
	return 0;
}

void relay_name_free(struct relay_name *n)
{
	free(n->key);
	free(n->buf);
	free(n->text);
	memset(n, 0, sizeof(*n));
}

bool relay_name_equal(const struct relay_name *a, const struct relay_name *b)
{
	return a->keylen == b->keylen && !memcmp(a->key, b->key, a->keylen);
}

bool relay_name_ns_has_prefix(const struct relay_name *n, const struct relay_name *prefix)
{
	return prefix->nskeylen <= n->nskeylen && !memcmp(prefix->key, n->key, prefix->nskeylen);
}
