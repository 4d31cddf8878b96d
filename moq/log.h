/* Tiny leveled logger writing to stderr.
 *
 *   moq_log_set_level(MOQ_LOG_DEBUG);
 *   moq_warn("quic", "cannot bind %s: %s", addr, strerror(errno));
 *
 * Output: "<level> <module>: message\n". Default level: MOQ_LOG_WARN, or
 * the MOQ_LOG environment variable (error|warn|info|debug) at first use. */
#ifndef MOQ_LOG_H
#define MOQ_LOG_H

enum moq_log_level {
	MOQ_LOG_ERROR = 0,
	MOQ_LOG_WARN = 1,
	MOQ_LOG_INFO = 2,
	MOQ_LOG_DEBUG = 3,
};

void moq_log_set_level(enum moq_log_level level);
enum moq_log_level moq_log_get_level(void);
/* Parse "error", "warn", "info", "debug" (or 0..3). -1 if unknown. */
int moq_log_parse_level(const char *s);
int moq_log_enabled(enum moq_log_level level);

void moq_log(enum moq_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define moq_err(mod, ...) moq_log(MOQ_LOG_ERROR, mod, __VA_ARGS__)
#define moq_warn(mod, ...) moq_log(MOQ_LOG_WARN, mod, __VA_ARGS__)
#define moq_info(mod, ...) moq_log(MOQ_LOG_INFO, mod, __VA_ARGS__)
#define moq_dbg(mod, ...)                                                                          \
	do {                                                                                       \
		if (moq_log_enabled(MOQ_LOG_DEBUG))                                                \
			moq_log(MOQ_LOG_DEBUG, mod, __VA_ARGS__);                                  \
	} while (0)

#endif
