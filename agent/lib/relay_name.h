/* Owned copies of Track Namespaces and Full Track Names, with a byte key
 * that makes equality and namespace-prefix tests a memcmp.
 *
 * Key layout: every namespace field as a 2-byte big-endian length and its
 * bytes; a full track name appends 0xFF 0xFF and the name bytes. Because
 * each field is length-prefixed, "prefix key is a byte prefix of the track's
 * namespace key" holds exactly when the prefix's fields equal the track's
 * first fields. */
#ifndef RELAY_NAME_H
#define RELAY_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"

struct relay_name {
	uint8_t *key;
	size_t keylen;
	size_t nskeylen; /* bytes of the namespace part of key */
	bool has_name;
	struct moq_namespace ns; /* views into buf */
	struct moq_bytes name;	 /* view into buf */
	uint8_t *buf;
	char *text; /* rendered for logs (moq/wire/names.h form) */
};

/* Copy ns and (if name != NULL) the track name. 0 or -ENOMEM / -EINVAL. */
int relay_name_init(struct relay_name *n, const struct moq_namespace *ns,
		    const struct moq_bytes *name);
void relay_name_free(struct relay_name *n);
bool relay_name_equal(const struct relay_name *a, const struct relay_name *b);
/* Is the namespace of prefix a field-wise prefix of the namespace of n?
 * (prefix's track name, if any, is ignored; equal namespaces match.) */
bool relay_name_ns_has_prefix(const struct relay_name *n, const struct relay_name *prefix);

#endif
