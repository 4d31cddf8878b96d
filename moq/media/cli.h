/* Command-line helpers shared by moq-pub, moq-sub and the benchmarks:
 * strict number parsing with units, host:port, "a/b/c" namespaces and
 * authorization tokens. Every parser returns 0 on success or -1 with a
 * message for the user in err ("--rate: 'abc' is not a number ..."). */
#ifndef MOQ_MEDIA_CLI_H
#define MOQ_MEDIA_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "moq_types.h"
#include "params.h"

#define MOQ_CLI_ERR_LEN 256

/* Exit codes of moq-pub and moq-sub (docs/tools.md). */
enum moq_cli_exit {
	MOQ_EXIT_OK = 0,
	MOQ_EXIT_CHECK = 1,    /* integrity errors / objects missing */
	MOQ_EXIT_USAGE = 2,    /* bad option or configuration */
	MOQ_EXIT_CONNECT = 3,  /* handshake failed, connection lost */
	MOQ_EXIT_REFUSED = 4,  /* a request was refused (REQUEST_ERROR) */
	MOQ_EXIT_INTERNAL = 5, /* out of memory, unexpected local error */
};

/* Unsigned integer in [min, max]. Suffixes K, M, G (x1024, x1024^2,
 * x1024^3) when allow_units. */
int moq_cli_u64(const char *opt, const char *s, uint64_t min, uint64_t max, int allow_units,
		uint64_t *out, char *err, size_t errlen);

/* Non-negative decimal number in [min, max] (e.g. seconds, rates). */
int moq_cli_double(const char *opt, const char *s, double min, double max, double *out, char *err,
		   size_t errlen);

/* "host:port", "[v6addr]:port" or ":port"/"port" (host left empty).
 * host gets a NUL-terminated copy (without brackets). port 1..65535, or 0
 * when allow_zero. */
int moq_cli_hostport(const char *opt, const char *s, char *host, size_t hostlen, uint16_t *port,
		     int allow_zero, char *err, size_t errlen);

/* Split "a/b/c" into namespace fields pointing into a copy kept in store
 * (storelen >= strlen(s) + 1). Empty fields and more than 32 fields are
 * errors; "" is the empty namespace only when allow_empty. */
int moq_cli_namespace(const char *opt, const char *s, struct moq_namespace *ns, char *store,
		      size_t storelen, int allow_empty, char *err, size_t errlen);

/* Render a namespace as "a/b/c" (bytes outside printable ASCII as \xNN). */
void moq_cli_namespace_str(const struct moq_namespace *ns, char *out, size_t outlen);

/* An AUTHORIZATION TOKEN with Alias Type USE_VALUE, Token Type 0 and the
 * given value (view into value, which must outlive the token). */
void moq_cli_token(struct moq_auth_token *t, const char *value);

/* CLOCK_REALTIME in ns. */
uint64_t moq_cli_realtime_ns(void);

#endif
