/* relay_errf: the agent's "message into a caller's buffer" helper. */
#ifndef RELAY_ERR_H
#define RELAY_ERR_H

#include <stddef.h>

/* snprintf into err (errlen bytes); err NULL or errlen 0: nothing. */
void relay_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
