/* moq-relayd --dev-cert DIR: a self-signed development certificate that
 * browsers accept through WebTransport's serverCertificateHashes (ECDSA
 * P-256, valid for less than 14 days), never a default. docs/operating.md,
 * docs/webtransport.md. */
#ifndef RELAY_DEVCERT_H
#define RELAY_DEVCERT_H

#include <stddef.h>

#define RELAY_DEVCERT_DAYS 13

/* Writes DIR/cert.pem, DIR/key.pem (0600) and DIR/cert.sha256 (the hex
 * SHA-256 of the certificate's DER, one line) for the names "localhost",
 * 127.0.0.1, ::1 and host (an extra DNS name or IP literal, may be NULL or
 * a wildcard address, which is skipped). DIR is created if missing.
 * sha256_hex gets the 64 hex digits. Returns 0, or -1 with err. */
int relay_devcert_make(const char *dir, const char *host, char sha256_hex[65], char *err,
		       size_t errlen);

#endif
