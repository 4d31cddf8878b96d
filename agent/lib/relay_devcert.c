/* Development certificate for browsers (relay_devcert.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/relay_devcert.h"

static int write_file(const char *dir, const char *name, const void *p, size_t n, mode_t mode,
		      char *err, size_t errlen)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n || fchmod(fd, mode)) {
		snprintf(err, errlen, "--dev-cert: cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int add_name(gnutls_x509_crt_t crt, const char *name)
{
	unsigned char ip[16];
	if (inet_pton(AF_INET, name, ip) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
							    GNUTLS_FSAN_APPEND);
	if (inet_pton(AF_INET6, name, ip) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
							    GNUTLS_FSAN_APPEND);
	return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name, strlen(name),
						    GNUTLS_FSAN_APPEND);
}

int relay_devcert_make(const char *dir, const char *host, char sha256_hex[65], char *err,
		       size_t errlen)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kpem = {0}, cpem = {0};
	unsigned char serial[16], fp[32];
	size_t fplen = sizeof(fp);
	time_t now = time(NULL);
	int rc = -1;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "--dev-cert: cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (gnutls_x509_privkey_init(&key) ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) ||
	    gnutls_x509_crt_init(&crt) || gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) {
		snprintf(err, errlen, "--dev-cert: cannot make an ECDSA P-256 key");
		goto out;
	}
	serial[0] &= 0x7f; /* positive */
	/* browsers take a hash-pinned certificate only if it is valid for at
	 * most 14 days in total (W3C WebTransport serverCertificateHashes) */
	if (gnutls_x509_crt_set_version(crt, 3) || gnutls_x509_crt_set_key(crt, key) ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) ||
	    gnutls_x509_crt_set_expiration_time(crt, now + RELAY_DEVCERT_DAYS * 86400 - 3600) ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
					  "moq-relayd development certificate", 34) ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) ||
	    add_name(crt, "localhost") || add_name(crt, "127.0.0.1") || add_name(crt, "::1")) {
		snprintf(err, errlen, "--dev-cert: cannot fill in the certificate");
		goto out;
	}
	if (host && *host && strcmp(host, "::") && strcmp(host, "0.0.0.0") &&
	    strcmp(host, "localhost") && strcmp(host, "127.0.0.1") && strcmp(host, "::1") &&
	    add_name(crt, host)) {
		snprintf(err, errlen, "--dev-cert: cannot add the name '%s'", host);
		goto out;
	}
	if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem) ||
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem) ||
	    gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen) || fplen != 32) {
		snprintf(err, errlen, "--dev-cert: cannot sign or export the certificate");
		goto out;
	}
	for (size_t i = 0; i < 32; i++)
		snprintf(sha256_hex + 2 * i, 3, "%02x", fp[i]);
	char line[80];
	snprintf(line, sizeof(line), "%s\n", sha256_hex);
	if (write_file(dir, "key.pem", kpem.data, kpem.size, 0600, err, errlen) ||
	    write_file(dir, "cert.pem", cpem.data, cpem.size, 0644, err, errlen) ||
	    write_file(dir, "cert.sha256", line, strlen(line), 0644, err, errlen))
		goto out;
	rc = 0;
out:
	gnutls_free(kpem.data);
	gnutls_free(cpem.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return rc;
}
