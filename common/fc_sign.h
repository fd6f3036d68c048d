/*
 * fc_sign: the per-store Ed25519 key that signs receipts and decisions.
 *
 * The key lives in STORE/keys/ (directory 0700): receipt-ed25519.pem is the
 * private key (PKCS#8 PEM, 0600), receipt-ed25519.pub.pem the public key
 * (SubjectPublicKeyInfo PEM, 0644), so a receipt can be verified with only
 * `openssl pkeyutl -verify -pubin -inkey receipt-ed25519.pub.pem -rawin`.
 * Both are created on first use, each written atomically; the public key is
 * written first so a crash never leaves a private key without its public
 * half.
 */
#ifndef FC_SIGN_H
#define FC_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "fc_err.h"

#define FC_ED25519_SIG_LEN 64
#define FC_ED25519_PUB_LEN 32

struct fc_signer {
	void *pkey;                          /* EVP_PKEY, private */
	uint8_t pub[FC_ED25519_PUB_LEN];     /* raw public key */
};

/*
 * Load the store key from keys_dirfd, creating it when create is set and it
 * does not exist. Release with fc_signer_release(). Errors: -errno,
 * FC_ECORRUPT (unreadable or non-Ed25519 key file) with d set.
 */
int fc_signer_load(int keys_dirfd, int create, struct fc_signer *out, struct fc_diag *d);
void fc_signer_release(struct fc_signer *s);

/* Sign msg; sig gets FC_ED25519_SIG_LEN bytes. 0 or FC_ECORRUPT. */
int fc_sign(const struct fc_signer *s, const void *msg, size_t len,
	    uint8_t sig[FC_ED25519_SIG_LEN]);

/* Verify sig over msg with a raw public key: 0 valid, FC_ECORRUPT invalid. */
int fc_verify(const uint8_t pub[FC_ED25519_PUB_LEN], const void *msg, size_t len,
	      const uint8_t sig[FC_ED25519_SIG_LEN]);

#endif
