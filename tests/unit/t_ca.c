/*
 * t_ca: the per-store proxy CA (created once, atomically, with the right
 * modes and extensions; an inconsistent pair refused) and the leaves it
 * mints (verifiable against the CA for the host name or IP, serverAuth,
 * 90 days, SAN text that cannot be injected).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fc_ca.h"
#include "fc_fileio.h"
#include "tap.h"

static int mode_of(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : (int)(st.st_mode & 07777);
}

/* Days from now until t (rounded down). */
static int days_left(const ASN1_TIME *t)
{
	int days = 0, secs = 0;

	if (!ASN1_TIME_diff(&days, &secs, NULL, t))
		return -1;
	return days;
}

/* Verify leaf against ca as a TLS server certificate. */
static bool chain_ok(X509 *ca, X509 *leaf)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = st && ctx && X509_STORE_add_cert(st, ca) &&
		  X509_STORE_CTX_init(ctx, st, leaf, NULL) &&
		  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) &&
		  X509_verify_cert(ctx) == 1;

	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

static char *slurp(int dirfd, const char *path)
{
	char *b = NULL;
	size_t n = 0;

	return fc_read_file(dirfd, path, 1 << 16, &b, &n) == 0 ? b : NULL;
}

static void test_ensure(int sfd)
{
	char *c1, *c2;
	struct fc_diag d;

	fc_diag_init(&d);
	is_int(fc_ca_ensure(sfd, &d), 0, "CA created");
	is_int(mode_of(sfd, FC_CA_DIR), 0700, "keys/ is 0700");
	is_int(mode_of(sfd, FC_CA_CERT_PATH), 0644, "certificate 0644");
	is_int(mode_of(sfd, FC_CA_KEY_PATH), 0600, "key 0600");
	c1 = slurp(sfd, FC_CA_CERT_PATH);
	is_int(fc_ca_ensure(sfd, &d), 0, "ensure again");
	c2 = slurp(sfd, FC_CA_CERT_PATH);
	ok(c1 && c2 && strcmp(c1, c2) == 0, "an existing CA is kept");
	ok(c1 && strstr(c1, "BEGIN CERTIFICATE"), "PEM certificate");
	free(c1);
	free(c2);
	c1 = slurp(sfd, FC_CA_KEY_PATH);
	ok(c1 && strstr(c1, "BEGIN PRIVATE KEY"), "PKCS#8 key");
	free(c1);
}

static void test_ca_cert(struct fc_ca *ca)
{
	X509 *c = fc_ca_cert(ca);
	int days = days_left(X509_get0_notAfter(c));

	ok(X509_check_ca(c) >= 1, "is a CA");
	ok(X509_get_key_usage(c) & KU_KEY_CERT_SIGN, "keyCertSign");
	ok(X509_get_extension_flags(c) & EXFLAG_CA, "basicConstraints CA:TRUE");
	ok(days >= 3649 && days <= 3650, "valid 10 years (%d days)", days);
	is_int(EVP_PKEY_get_bits(X509_get0_pubkey(c)), 256, "EC P-256");
	ok(X509_verify(c, X509_get0_pubkey(c)) == 1, "self-signed");
}

static void test_leaves(struct fc_ca *ca)
{
	X509 *l1 = NULL, *l2 = NULL, *l3 = NULL, *x = NULL;
	EVP_PKEY *k1 = NULL, *k2 = NULL, *k3 = NULL, *kx = NULL;
	struct fc_diag d;
	int days;

	fc_diag_init(&d);
	ok(fc_ca_leaf(ca, "API.test", &l1, &k1, &d) == 0, "leaf for a name");
	ok(l1 && chain_ok(fc_ca_cert(ca), l1), "verifies against the CA as a TLS server");
	is_int(X509_check_host(l1, "api.test", 0, 0, NULL), 1, "SAN matches the host");
	is_int(X509_check_host(l1, "other.test", 0, 0, NULL), 0, "and nothing else");
	ok(X509_check_private_key(l1, k1) == 1, "the key fits");
	ok(X509_get_extended_key_usage(l1) & XKU_SSL_SERVER, "serverAuth");
	ok(X509_check_ca(l1) == 0, "not a CA");
	days = days_left(X509_get0_notAfter(l1));
	ok(days >= 89 && days <= 90, "90 days (%d)", days);
	ok(fc_ca_leaf(ca, "10.0.0.2", &l2, &k2, &d) == 0, "leaf for an IPv4 address");
	is_int(X509_check_ip_asc(l2, "10.0.0.2", 0), 1, "IP SAN");
	ok(chain_ok(fc_ca_cert(ca), l2), "IP leaf verifies");
	ok(fc_ca_leaf(ca, "fd00::2", &l3, &k3, &d) == 0 && X509_check_ip_asc(l3, "fd00::2", 0) == 1,
	   "leaf for an IPv6 address");
	ok(ASN1_INTEGER_cmp(X509_get0_serialNumber(l1), X509_get0_serialNumber(l2)) != 0,
	   "serials differ");
	is_int(fc_ca_leaf(ca, "a,DNS:evil.test", &x, &kx, &d), -EINVAL, "SAN injection refused");
	is_int(fc_ca_leaf(ca, "", &x, &kx, &d), -EINVAL, "empty host refused");
	is_int(fc_ca_leaf(ca, "a..test", &x, &kx, &d), -EINVAL, "empty label refused");
	is_int(fc_ca_leaf(ca, "a/b", &x, &kx, &d), -EINVAL, "slash refused");
	ok(!x && !kx, "nothing returned on refusal");
	X509_free(l1);
	X509_free(l2);
	X509_free(l3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

static void test_broken(int sfd, int sfd2)
{
	struct fc_ca *ca = NULL;
	struct fc_diag d;
	char *key2;

	fc_diag_init(&d);
	ok(fc_ca_ensure(sfd2, &d) == 0, "second store");
	key2 = slurp(sfd2, FC_CA_KEY_PATH);
	/* the second store's key next to the first store's certificate */
	if (!key2)
		bail_out("cannot read the second store's key");
	{
		int kfd = openat(sfd, FC_CA_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		ok(kfd >= 0 && fc_write_atomic(kfd, FC_CA_KEY_NAME, key2, strlen(key2), 0600) == 0,
		   "swap in a foreign key");
		is_int(fc_ca_ensure(sfd, &d), FC_ECORRUPT, "mismatched pair refused: %s", d.msg);
		is_int(fc_ca_load_store(sfd, &ca, &d), FC_ECORRUPT, "and not loaded");
		ok(unlinkat(kfd, FC_CA_KEY_NAME, 0) == 0, "remove the key");
		is_int(fc_ca_ensure(sfd, &d), FC_ECORRUPT, "certificate without key refused");
		ok(strstr(d.msg, "without its key") != NULL, "message says so: %s", d.msg);
		ok(unlinkat(kfd, FC_CA_CERT_NAME, 0) == 0 &&
			   fc_write_atomic(kfd, FC_CA_KEY_NAME, key2, strlen(key2), 0600) == 0,
		   "leave a key without certificate (a crash between the writes)");
		is_int(fc_ca_ensure(sfd, &d), 0, "a new CA replaces it");
		ok(fc_ca_load_store(sfd, &ca, &d) == 0, "and loads");
		fc_ca_free(ca);
		close(kfd);
	}
	is_int(fc_ca_load("/nonexistent/ca.crt", "/nonexistent/ca.key", &ca, &d), -ENOENT,
	       "missing files: -ENOENT");
	free(key2);
}

int main(void)
{
	char dir[] = "/tmp/t_ca.XXXXXX", dir2[] = "/tmp/t_ca2.XXXXXX", cp[256], kp[256];
	struct fc_ca *ca = NULL;
	struct fc_diag d;
	int sfd, sfd2;

	if (!mkdtemp(dir) || !mkdtemp(dir2))
		bail_out("mkdtemp failed");
	sfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sfd2 = open(dir2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fc_diag_init(&d);
	test_ensure(sfd);
	snprintf(cp, sizeof(cp), "%s/%s", dir, FC_CA_CERT_PATH);
	snprintf(kp, sizeof(kp), "%s/%s", dir, FC_CA_KEY_PATH);
	ok(fc_ca_load(cp, kp, &ca, &d) == 0, "load by path");
	if (!ca)
		bail_out("cannot load the CA: %s", d.msg);
	test_ca_cert(ca);
	test_leaves(ca);
	fc_ca_free(ca);
	test_broken(sfd, sfd2);
	close(sfd);
	close(sfd2);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, dir2);
		ok(system(cmd) == 0, "cleanup");
	}
	return done_testing();
}
