/* Syntax checks of the SETUP options PATH and AUTHORITY (draft-18 "PATH",
 * "AUTHORITY": both follow the URI rules of RFC 3986; a value that does not
 * conform closes the session with MALFORMED_PATH / MALFORMED_AUTHORITY).
 *
 * PATH is path-abempty, optionally followed by "?" and a query;
 * AUTHORITY is [userinfo "@"] host [":" port] with a non-empty host (the
 * moqt URI scheme forbids an empty host). Only the grammar is checked:
 * whether this server serves that path or authority is the application's
 * decision (INVALID_PATH / INVALID_AUTHORITY). */
#ifndef MOQ_URI_H
#define MOQ_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 3986 path-abempty [ "?" query ]; the empty string conforms. */
bool moq_uri_path_valid(const uint8_t *p, size_t n);

/* RFC 3986 authority with a non-empty host. */
bool moq_uri_authority_valid(const uint8_t *p, size_t n);

#endif
