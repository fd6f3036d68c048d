/*
 * fc_hash: content digests. SHA-256 (OpenSSL EVP) for receipts, policies
 * and chains; XXH3-128 (xxHash) for file contents in diffs and tree hashes.
 * Streaming contexts so large inputs are hashed while they are read.
 */
#ifndef FC_HASH_H
#define FC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FC_SHA256_LEN 32
#define FC_SHA256_HEX (2 * FC_SHA256_LEN + 1)
#define FC_XXH128_HEX 33

struct fc_sha256 {
	void *ctx; /* EVP_MD_CTX, private */
};

/* Returns 0 or -ENOMEM. Release with fc_sha256_final (always). */
int fc_sha256_init(struct fc_sha256 *h);
void fc_sha256_update(struct fc_sha256 *h, const void *buf, size_t len);
/* Writes the digest (may be NULL to discard) and frees the context. */
void fc_sha256_final(struct fc_sha256 *h, uint8_t out[FC_SHA256_LEN]);

/* One-shot SHA-256. Returns 0 or -ENOMEM. */
int fc_sha256_buf(const void *buf, size_t len, uint8_t out[FC_SHA256_LEN]);

/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void fc_hex(const uint8_t *in, size_t len, char *out);

/* The value of one hex digit (either case), or -1. */
int fc_hex_digit(char c);

/*
 * XXH3-128 of everything readable from fd (from offset 0, with pread), as
 * 32 lower-case hex digits. Returns 0 or -errno.
 */
int fc_xxh128_fd(int fd, char out[FC_XXH128_HEX]);
void fc_xxh128_buf(const void *buf, size_t len, char out[FC_XXH128_HEX]);

#endif
