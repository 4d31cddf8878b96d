#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_level = -1;

int moq_log_parse_level(const char *s)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	if (!s)
		return -1;
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	if (s[0] >= '0' && s[0] <= '3' && !s[1])
		return s[0] - '0';
	return -1;
}

static int level(void)
{
	if (g_level < 0) {
		int l = moq_log_parse_level(getenv("MOQ_LOG"));
		g_level = l < 0 ? MOQ_LOG_WARN : l;
	}
	return g_level;
}

void moq_log_set_level(enum moq_log_level l)
{
	g_level = (int)l;
}

enum moq_log_level moq_log_get_level(void)
{
	return (enum moq_log_level)level();
}

int moq_log_enabled(enum moq_log_level l)
{
	return (int)l <= level();
}

void moq_log(enum moq_log_level l, const char *module, const char *fmt, ...)
{
	static const char *tag[] = {"error", "warn", "info", "debug"};
	char buf[1024];
	va_list ap;

	if (!moq_log_enabled(l))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s: %s\n", tag[l & 3], module ? module : "moq", buf);
}
