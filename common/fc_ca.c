/*
 * fc_ca: the per-store proxy CA and the leaf certificates the proxy mints
 * for the hosts whose TLS it terminates (contract in fc_ca.h).
 *
 * Only OpenSSL 3's EVP and X509 APIs are used. Extensions are made from
 * their textual forms through X509V3_EXT_nconf_nid, which is how OpenSSL
 * itself builds them; the host strings fed into that text are validated
 * first (names: letters, digits, '-', '_', '.'; addresses: inet_pton), so
 * a crafted name cannot inject a second SAN entry.
 *
 * The CA key is written before the certificate, each atomically: a crash in
 * between leaves a key without a certificate, which the next
 * fc_ca_ensure simply replaces; a certificate is never left without its key.
 */
#include "fc_ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fc_fileio.h"

#define PEM_MAX (64 * 1024)

struct fc_ca {
	X509 *cert;
	EVP_PKEY *key;
	EVP_PKEY *leaf_key; /* shared by every leaf of this CA */
};

/* Put OpenSSL's last error into d as FC_ECORRUPT. */
static int ssl_err(struct fc_diag *d, const char *what)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return fc_diag_set(d, FC_ECORRUPT, "%s: %s", what, buf);
}

static EVP_PKEY *new_p256(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A random positive 127-bit serial (RFC 5280: at most 20 octets, unique). */
static int set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
		 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok ? 0 : -1;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* Version, serial, validity (an hour back for clock skew), key. */
static int set_common(X509 *x, EVP_PKEY *pub, long days)
{
	if (!X509_set_version(x, X509_VERSION_3) || set_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_pubkey(x, pub))
		return -1;
	return 0;
}

/* A new self-signed CA certificate for key. */
static int make_ca_cert(EVP_PKEY *key, X509 **out, struct fc_diag *d)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	unsigned char rnd[4];
	char cn[64];

	if (!x || set_common(x, key, FC_CA_DAYS) < 0 || RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	/* a per-store suffix tells two stores' CAs apart in a trust store */
	snprintf(cn, sizeof(cn), "ForkCell proxy CA %02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3]);
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"ForkCell",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, key, EVP_sha256()))
		goto fail;
	*out = x;
	return 0;
fail:
	X509_free(x);
	return ssl_err(d, "cannot make the proxy CA certificate");
}

/* PEM text of key (PKCS#8) or cert in a heap buffer. */
static int to_pem(EVP_PKEY *key, X509 *cert, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok;

	if (!b)
		return -ENOMEM;
	ok = key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_bio_X509(b, cert);
	n = BIO_get_mem_data(b, &data);
	if (!ok || n <= 0 || !(*out = malloc((size_t)n))) {
		BIO_free(b);
		return -ENOMEM;
	}
	memcpy(*out, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return 0;
}

/* Parse PEM buffers into a cert and key and check they belong together. */
static int parse_pair(const char *cpem, size_t clen, const char *kpem, size_t klen, X509 **cert,
		      EVP_PKEY **key, struct fc_diag *d)
{
	BIO *cb = BIO_new_mem_buf(cpem, (int)clen), *kb = BIO_new_mem_buf(kpem, (int)klen);
	X509 *c = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int rc = 0;

	BIO_free(cb);
	BIO_free(kb);
	if (!c || !k)
		rc = ssl_err(d, c ? "cannot read the proxy CA key" : "cannot read the proxy CA");
	else if (X509_check_ca(c) < 1)
		rc = fc_diag_set(d, FC_ECORRUPT, "the proxy CA certificate is not a CA");
	else if (!X509_check_private_key(c, k))
		rc = ssl_err(d, "the proxy CA key does not match its certificate");
	if (rc < 0) {
		X509_free(c);
		EVP_PKEY_free(k);
		return rc;
	}
	*cert = c;
	*key = k;
	return 0;
}

/* Read cert and key PEM files (dirfd-relative names) into a new fc_ca. */
static int load_at(int dirfd, const char *cert_name, const char *key_name,
		   struct fc_ca **out, struct fc_diag *d)
{
	struct fc_ca *ca = NULL;
	char *cpem = NULL, *kpem = NULL;
	size_t clen = 0, klen = 0;
	int rc;

	ERR_clear_error();
	rc = fc_read_file(dirfd, cert_name, PEM_MAX, &cpem, &clen);
	if (rc < 0) {
		fc_diag_set(d, rc, "cannot read '%s': %s", cert_name, fc_strerror(rc));
		goto out;
	}
	rc = fc_read_file(dirfd, key_name, PEM_MAX, &kpem, &klen);
	if (rc < 0) {
		fc_diag_set(d, rc, "cannot read '%s': %s", key_name, fc_strerror(rc));
		goto out;
	}
	ca = calloc(1, sizeof(*ca));
	if (!ca) {
		rc = -ENOMEM;
		goto out;
	}
	rc = parse_pair(cpem, clen, kpem, klen, &ca->cert, &ca->key, d);
	if (rc < 0)
		goto out;
	ca->leaf_key = new_p256();
	if (!ca->leaf_key) {
		rc = ssl_err(d, "cannot make the leaf key");
		goto out;
	}
	*out = ca;
	ca = NULL;
out:
	if (kpem)
		OPENSSL_cleanse(kpem, klen);
	free(kpem);
	free(cpem);
	fc_ca_free(ca);
	return rc;
}

int fc_ca_load(const char *cert_path, const char *key_path, struct fc_ca **out,
	       struct fc_diag *d)
{
	return load_at(AT_FDCWD, cert_path, key_path, out, d);
}

int fc_ca_load_store(int store_dirfd, struct fc_ca **out, struct fc_diag *d)
{
	return load_at(store_dirfd, FC_CA_CERT_PATH, FC_CA_KEY_PATH, out, d);
}

/* Make a new CA in keys/ (dirfd): key first, then certificate. */
static int create_ca(int dirfd, struct fc_diag *d)
{
	EVP_PKEY *key = new_p256();
	X509 *cert = NULL;
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	int rc;

	if (!key)
		return ssl_err(d, "cannot make the proxy CA key");
	rc = make_ca_cert(key, &cert, d);
	if (rc < 0)
		goto out;
	rc = to_pem(key, NULL, &kpem, &klen);
	if (rc == 0)
		rc = to_pem(NULL, cert, &cpem, &clen);
	if (rc < 0)
		goto out;
	rc = fc_write_atomic(dirfd, FC_CA_KEY_NAME, kpem, klen, 0600);
	if (rc == 0)
		rc = fc_write_atomic(dirfd, FC_CA_CERT_NAME, cpem, clen, 0644);
	if (rc < 0)
		fc_diag_set(d, rc, "cannot write the proxy CA: %s", fc_strerror(rc));
out:
	if (kpem)
		OPENSSL_cleanse(kpem, klen);
	free(kpem);
	free(cpem);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int fc_ca_ensure(int store_dirfd, struct fc_diag *d)
{
	struct fc_ca *ca = NULL;
	struct stat st;
	int dirfd = -1, rc;

	if (mkdirat(store_dirfd, FC_CA_DIR, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		return fc_diag_set(d, rc, "cannot create '%s': %s", FC_CA_DIR, fc_strerror(rc));
	}
	dirfd = openat(store_dirfd, FC_CA_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		return fc_diag_set(d, rc, "cannot open '%s': %s", FC_CA_DIR, fc_strerror(rc));
	}
	/* two runs starting at once must not interleave their key and
	 * certificate writes (key A, key B, cert A would be a mismatch) */
	if (flock(dirfd, LOCK_EX) < 0) {
		rc = -errno;
		fc_diag_set(d, rc, "cannot lock '%s': %s", FC_CA_DIR, fc_strerror(rc));
		goto out;
	}
	if (fstatat(dirfd, FC_CA_CERT_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		if (rc != -ENOENT) {
			fc_diag_set(d, rc, "cannot stat '%s': %s", FC_CA_CERT_PATH,
				    fc_strerror(rc));
			goto out;
		}
		rc = create_ca(dirfd, d);
		goto out;
	}
	rc = load_at(dirfd, FC_CA_CERT_NAME, FC_CA_KEY_NAME, &ca, d);
	if (rc == -ENOENT)
		rc = fc_diag_set(d, FC_ECORRUPT, "'%s' exists without its key '%s'",
				 FC_CA_CERT_PATH, FC_CA_KEY_PATH);
out:
	fc_ca_free(ca);
	close(dirfd);
	return rc;
}

/* The SAN value for host: "IP:addr" or "DNS:name" (lower case), validated. */
static int san_for(const char *host, char *san, size_t size, bool *is_ip)
{
	unsigned char bin[16];
	size_t n = strlen(host);

	if (n == 0 || n > 253)
		return -EINVAL;
	*is_ip = inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
	if (*is_ip) {
		snprintf(san, size, "IP:%s", host);
		return 0;
	}
	snprintf(san, size, "DNS:");
	for (size_t i = 0; i < n; i++) {
		char c = host[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.') || (c == '.' && (i == 0 || host[i - 1] == '.')))
			return -EINVAL;
		san[4 + i] = c;
	}
	san[4 + n] = '\0';
	return 0;
}

/* Build and sign the leaf for san (CN = the host when it fits in 64). */
static int make_leaf(struct fc_ca *ca, const char *host, const char *san, X509 **out)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;

	if (!x || set_common(x, ca->leaf_key, FC_CA_LEAF_DAYS) < 0)
		goto fail;
	if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->cert)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)))
		goto fail;
	name = X509_get_subject_name(x);
	if (strlen(host) <= 64 &&
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host,
					-1, -1, 0))
		goto fail;
	if (!X509_set_issuer_name(x, X509_get_subject_name(ca->cert)))
		goto fail;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, &ctx, NID_subject_alt_name, san) < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid") < 0 ||
	    !X509_sign(x, ca->key, EVP_sha256()))
		goto fail;
	*out = x;
	return 0;
fail:
	X509_free(x);
	return -1;
}

int fc_ca_leaf(struct fc_ca *ca, const char *host, X509 **cert, EVP_PKEY **key,
	       struct fc_diag *d)
{
	char san[4 + 254 + 1];
	X509 *x = NULL;
	bool is_ip;
	int rc;

	rc = san_for(host, san, sizeof(san), &is_ip);
	if (rc < 0)
		return fc_diag_set(d, rc, "invalid host for a certificate: '%.64s'", host);
	ERR_clear_error();
	if (make_leaf(ca, host, san, &x) < 0)
		return ssl_err(d, "cannot mint a leaf certificate");
	if (!EVP_PKEY_up_ref(ca->leaf_key)) {
		X509_free(x);
		return ssl_err(d, "cannot reference the leaf key");
	}
	*cert = x;
	*key = ca->leaf_key;
	return 0;
}

X509 *fc_ca_cert(const struct fc_ca *ca)
{
	return ca->cert;
}

void fc_ca_free(struct fc_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	free(ca);
}
