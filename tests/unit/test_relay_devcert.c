/* moq-relayd --dev-cert (agent/lib/relay_devcert.c): what browsers demand of
 * a certificate pinned with serverCertificateHashes (ECDSA P-256, valid at
 * most 14 days), the names, the hash file matching the certificate, the
 * key file private, and the TLS layer accepting the pair. */
#include <check.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/relay_devcert.h"
#include "quic/loop.h"
#include "quic/quic.h"

static gnutls_x509_crt_t load(const char *path)
{
	gnutls_datum_t d;
	gnutls_x509_crt_t c;
	ck_assert_int_eq(gnutls_load_file(path, &d), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
	ck_assert_int_eq(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
	gnutls_free(d.data);
	return c;
}

START_TEST(browser_pinnable_certificate)
{
	char dir[] = "/tmp/devcertXXXXXX", sub[64], path[128], hash[65], err[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/d", dir); /* created by the call */
	ck_assert_int_eq(relay_devcert_make(sub, "10.1.2.3", hash, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/cert.pem", sub);
	gnutls_x509_crt_t c = load(path);
	unsigned bits = 0;
	ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(c, &bits), GNUTLS_PK_ECDSA);
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x, y;
	ck_assert_int_eq(gnutls_x509_crt_get_pk_ecc_raw(c, &curve, &x, &y), 0);
	ck_assert_int_eq(curve, GNUTLS_ECC_CURVE_SECP256R1);
	gnutls_free(x.data);
	gnutls_free(y.data);
	time_t nb = gnutls_x509_crt_get_activation_time(c);
	time_t na = gnutls_x509_crt_get_expiration_time(c);
	time_t now = time(NULL);
	ck_assert(nb <= now && na > now);
	ck_assert_int_le(na - nb, 14 * 86400); /* the browsers' limit */
	ck_assert(gnutls_x509_crt_check_hostname(c, "localhost"));
	ck_assert(gnutls_x509_crt_check_ip(c, (const unsigned char *)"\x7f\x00\x00\x01", 4, 0));
	ck_assert(gnutls_x509_crt_check_ip(c, (const unsigned char *)"\x0a\x01\x02\x03", 4, 0));
	ck_assert(!gnutls_x509_crt_check_hostname(c, "example.org"));
	/* the hash file is the SHA-256 of the DER certificate */
	unsigned char fp[32];
	size_t fl = sizeof(fp);
	char hex[65];
	ck_assert_int_eq(gnutls_x509_crt_get_fingerprint(c, GNUTLS_DIG_SHA256, fp, &fl), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", fp[i]);
	ck_assert_str_eq(hex, hash);
	snprintf(path, sizeof(path), "%s/cert.sha256", sub);
	FILE *f = fopen(path, "r");
	char line[80] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_int_eq(strncmp(line, hash, 64), 0);
	struct stat st;
	snprintf(path, sizeof(path), "%s/key.pem", sub);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 077, 0);
	gnutls_x509_crt_deinit(c);
	/* the QUIC layer takes the pair */
	struct moq_loop *loop = moq_loop_new();
	struct moq_quic_config q;
	moq_quic_config_init(&q);
	q.listen = 1;
	q.local_addr = "127.0.0.1";
	char cp[128], kp[128];
	snprintf(cp, sizeof(cp), "%s/cert.pem", sub);
	snprintf(kp, sizeof(kp), "%s/key.pem", sub);
	q.cert_file = cp;
	q.key_file = kp;
	struct moq_quic_endpoint *ep = moq_quic_endpoint_new(loop, &q, err, sizeof(err));
	ck_assert_msg(ep != NULL, "%s", err);
	moq_quic_endpoint_free(ep);
	moq_loop_free(loop);
	/* a second run makes a new certificate */
	char hash2[65];
	ck_assert_int_eq(relay_devcert_make(sub, NULL, hash2, err, sizeof(err)), 0);
	ck_assert_str_ne(hash, hash2);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(unwritable_dir_is_an_error)
{
	char hash[65], err[256];
	ck_assert_int_eq(relay_devcert_make("/proc/no/such/dir", NULL, hash, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--dev-cert"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_devcert");
	TCase *tc = tcase_create("devcert");
	tcase_add_test(tc, browser_pinnable_certificate);
	tcase_add_test(tc, unwritable_dir_is_an_error);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
