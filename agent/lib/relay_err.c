/* relay_errf (relay_err.h). */
#include "relay_err.h"

#include <stdarg.h>
#include <stdio.h>

void relay_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
