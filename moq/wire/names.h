/* Rendering Track Namespaces and Track Names as text (draft-18
 * "Representing Namespace and Track Names"):
 *
 *   example.2enet-team2-project_x--report
 *
 * Namespace fields joined by '-', then "--" and the track name. Bytes a-z,
 * A-Z, 0-9 and '_' are literal, every other byte is '.' and two lowercase hex
 * digits. Parsing is strict so the mapping is bijective: uppercase hex, a
 * redundant escape (".61" for 'a'), a short escape, an empty field or any
 * other character fails. */
#ifndef MOQ_NAMES_H
#define MOQ_NAMES_H

#include <stdbool.h>

#include "moq_types.h"

/* Render ns and, if name is not NULL, "--" and the name, NUL-terminated.
 * Returns the string length (without NUL), MOQ_ERR_BUFFER if outlen is too
 * small (the worst case is 3 bytes per input byte plus separators + 1).
 * With name == NULL only the namespace is rendered (no trailing "--"). */
int moq_name_render(char *out, size_t outlen, const struct moq_namespace *ns,
		    const struct moq_bytes *name);

/* Parse text of inlen bytes. Decoded bytes are written to buf (buflen >=
 * inlen always suffices) and ns/name point into buf. *has_name tells whether
 * a "--" track name part was present (name is empty otherwise).
 * Returns bytes used in buf, MOQ_ERR_MALFORMED for text that is not the
 * canonical form, MOQ_ERR_LIMIT for > 32 fields or > 4096 bytes,
 * MOQ_ERR_BUFFER. */
int moq_name_parse(struct moq_namespace *ns, struct moq_bytes *name, bool *has_name, uint8_t *buf,
		   size_t buflen, const char *in, size_t inlen);

#endif
