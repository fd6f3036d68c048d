/*
 * fc_sign: Ed25519 signing with OpenSSL 3 (see fc_sign.h).
 */
#include "fc_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_fileio.h"

#define KEY_PRIV "receipt-ed25519.pem"
#define KEY_PUB "receipt-ed25519.pub.pem"
#define KEY_FILE_MAX 16384

static int pem_of(EVP_PKEY *pk, int priv, char **out, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;
	int ok;

	if (!bio)
		return -ENOMEM;
	ok = priv ? PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL)
		  : PEM_write_bio_PUBKEY(bio, pk);
	n = BIO_get_mem_data(bio, &data);
	if (!ok || n <= 0 || !(*out = malloc((size_t)n))) {
		BIO_free(bio);
		return -ENOMEM;
	}
	memcpy(*out, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	return 0;
}

static int key_create(int dirfd, EVP_PKEY **out, struct fc_diag *d)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *pem = NULL;
	size_t len = 0;
	int rc;

	if (!pk)
		return fc_diag_set(d, -ENOMEM, "cannot generate an Ed25519 key");
	rc = pem_of(pk, 0, &pem, &len);
	if (rc == 0)
		rc = fc_write_atomic(dirfd, KEY_PUB, pem, len, 0644);
	free(pem);
	pem = NULL;
	if (rc == 0)
		rc = pem_of(pk, 1, &pem, &len);
	if (rc == 0)
		rc = fc_write_atomic(dirfd, KEY_PRIV, pem, len, 0600);
	if (pem) {
		explicit_bzero(pem, len);
		free(pem);
	}
	if (rc < 0) {
		EVP_PKEY_free(pk);
		return fc_diag_set(d, rc, "cannot write the store signing key: %s",
				   fc_strerror(rc));
	}
	*out = pk;
	return 0;
}

static int key_read(int dirfd, EVP_PKEY **out, struct fc_diag *d)
{
	char *pem = NULL;
	size_t len = 0;
	BIO *bio;
	EVP_PKEY *pk;
	int rc = fc_read_file(dirfd, KEY_PRIV, KEY_FILE_MAX, &pem, &len);

	if (rc < 0)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)len);
	pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	explicit_bzero(pem, len);
	free(pem);
	if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pk);
		return fc_diag_set(d, FC_ECORRUPT, "signing key '%s' is not an Ed25519 key",
				   KEY_PRIV);
	}
	*out = pk;
	return 0;
}

int fc_signer_load(int keys_dirfd, int create, struct fc_signer *out, struct fc_diag *d)
{
	EVP_PKEY *pk = NULL;
	size_t publen = FC_ED25519_PUB_LEN;
	int rc = key_read(keys_dirfd, &pk, d);

	if (rc == -ENOENT && create)
		rc = key_create(keys_dirfd, &pk, d);
	if (rc < 0)
		return rc;
	if (EVP_PKEY_get_raw_public_key(pk, out->pub, &publen) != 1 ||
	    publen != FC_ED25519_PUB_LEN) {
		EVP_PKEY_free(pk);
		return fc_diag_set(d, FC_ECORRUPT, "cannot read the public half of the key");
	}
	out->pkey = pk;
	return 0;
}

void fc_signer_release(struct fc_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->pkey);
	s->pkey = NULL;
}

int fc_sign(const struct fc_signer *s, const void *msg, size_t len,
	    uint8_t sig[FC_ED25519_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = FC_ED25519_SIG_LEN;
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->pkey) == 1 &&
	     EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == FC_ED25519_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : FC_ECORRUPT;
}

int fc_verify(const uint8_t pub[FC_ED25519_PUB_LEN], const void *msg, size_t len,
	      const uint8_t sig[FC_ED25519_SIG_LEN])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
						   FC_ED25519_PUB_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;

	if (pk && ctx)
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, sig, FC_ED25519_SIG_LEN, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok ? 0 : FC_ECORRUPT;
}
