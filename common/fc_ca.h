/*
 * fc_ca: the per-store certificate authority of the egress proxy.
 *
 * The proxy terminates TLS for endpoints it must inspect (protocol rest),
 * so the sandbox has to trust a CA whose key stays on the host:
 * STORE/keys/proxy-ca.crt (PEM, 0644) and STORE/keys/proxy-ca.key (PEM
 * PKCS#8, 0600). The CA is EC P-256, valid 10 years, basicConstraints
 * critical CA:TRUE pathlen:0, keyUsage critical keyCertSign|cRLSign. It is
 * made once per store, atomically (fc_write_atomic: the key first, then
 * the certificate, so a crash never leaves a certificate without its key).
 *
 * Leaves: one per host name or IP literal, EC P-256, valid 90 days (never
 * past the CA), subjectAltName DNS or IP, extendedKeyUsage serverAuth,
 * random 128-bit serials. All leaves of one loaded CA share one key pair
 * generated at load time: minting is then a signature only, and the key
 * never leaves the proxy's memory.
 *
 * OpenSSL 3 EVP APIs only. A struct fc_ca is not thread-safe: use it from
 * one thread at a time (the proxy's event loop).
 */
#ifndef FC_CA_H
#define FC_CA_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fc_err.h"

#define FC_CA_DIR "keys"
#define FC_CA_CERT_NAME "proxy-ca.crt"
#define FC_CA_KEY_NAME "proxy-ca.key"
#define FC_CA_CERT_PATH FC_CA_DIR "/" FC_CA_CERT_NAME /* relative to the store */
#define FC_CA_KEY_PATH FC_CA_DIR "/" FC_CA_KEY_NAME
#define FC_CA_DAYS 3650
#define FC_CA_LEAF_DAYS 90

struct fc_ca; /* opaque: CA cert + key + the shared leaf key */

/*
 * Make sure store_dirfd/keys/proxy-ca.{crt,key} exist (creating keys/ 0700
 * and a new CA when the certificate is absent). An existing pair is
 * checked: both load, and the key matches the certificate. Concurrent
 * callers are serialised by flock(LOCK_EX) on the keys/ directory (released
 * on return). Returns 0,
 * FC_ECORRUPT (a certificate without its key, unreadable or mismatched
 * files), -errno; d says what.
 */
int fc_ca_ensure(int store_dirfd, struct fc_diag *d);

/*
 * Load a CA from PEM files (paths as given on the proxy's command line)
 * and generate the shared leaf key. *out: free with fc_ca_free.
 * Errors: -errno (open), FC_ECORRUPT (not PEM, not a CA, key mismatch),
 * -ENOMEM.
 */
int fc_ca_load(const char *cert_path, const char *key_path, struct fc_ca **out,
	       struct fc_diag *d);

/*
 * Load the store's CA (store_dirfd/keys/...), as fc_ca_load.
 */
int fc_ca_load_store(int store_dirfd, struct fc_ca **out, struct fc_diag *d);

/*
 * Mint a leaf certificate for host (a DNS name, any case, or an IPv4/IPv6
 * literal without brackets). *cert and *key are new references owned by the
 * caller (X509_free, EVP_PKEY_free). Errors: -EINVAL (empty or bad host,
 * longer than 253), FC_ECORRUPT (an OpenSSL failure, message in d), -ENOMEM.
 */
int fc_ca_leaf(struct fc_ca *ca, const char *host, X509 **cert, EVP_PKEY **key,
	       struct fc_diag *d);

/* The CA certificate (borrowed, valid until fc_ca_free): for chains. */
X509 *fc_ca_cert(const struct fc_ca *ca);

void fc_ca_free(struct fc_ca *ca);

#endif
