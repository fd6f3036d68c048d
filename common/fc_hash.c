/*
 * fc_hash: SHA-256 through OpenSSL's EVP interface and XXH3-128 through
 * xxHash (see fc_hash.h).
 */
#include "fc_hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

int fc_sha256_init(struct fc_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	h->ctx = ctx;
	return 0;
}

void fc_sha256_update(struct fc_sha256 *h, const void *buf, size_t len)
{
	if (h->ctx && len)
		EVP_DigestUpdate(h->ctx, buf, len);
}

void fc_sha256_final(struct fc_sha256 *h, uint8_t out[FC_SHA256_LEN])
{
	uint8_t scratch[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!h->ctx)
		return;
	EVP_DigestFinal_ex(h->ctx, scratch, &n);
	if (out)
		for (unsigned int i = 0; i < FC_SHA256_LEN && i < n; i++)
			out[i] = scratch[i];
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int fc_sha256_buf(const void *buf, size_t len, uint8_t out[FC_SHA256_LEN])
{
	struct fc_sha256 h;
	int rc = fc_sha256_init(&h);

	if (rc < 0)
		return rc;
	fc_sha256_update(&h, buf, len);
	fc_sha256_final(&h, out);
	return 0;
}

int fc_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void fc_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static void xxh128_hex(XXH128_hash_t h, char out[FC_XXH128_HEX])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	fc_hex(c.digest, sizeof(c.digest), out);
}

void fc_xxh128_buf(const void *buf, size_t len, char out[FC_XXH128_HEX])
{
	xxh128_hex(XXH3_128bits(buf, len), out);
}

int fc_xxh128_fd(int fd, char out[FC_XXH128_HEX])
{
	XXH3_state_t *state = XXH3_createState();
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	off_t off = 0;
	int rc = 0;

	if (!state || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	XXH3_128bits_reset(state);
	for (;;) {
		ssize_t n = pread(fd, buf, cap, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(state, buf, (size_t)n);
		off += n;
	}
	xxh128_hex(XXH3_128bits_digest(state), out);
out:
	free(buf);
	XXH3_freeState(state);
	return rc;
}
