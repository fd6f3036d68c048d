/*
 * fuzz_codec: libFuzzer target for every decoder of fc_codec.
 *
 * The input is offered to each decoder. Decoders are strict (canonical
 * form), so whenever one accepts the input, re-encoding must reproduce the
 * input byte for byte, and decoding that again must succeed. Any mismatch
 * aborts. Built with clang by tests/fuzz/fuzz.mk, replayed under gcc with
 * standalone_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t enc[FC_XATTR_VALUE_MAX + FC_BLOB_ENC_MAX];

static void same(const uint8_t *data, size_t size, size_t n)
{
	if (n != size || memcmp(enc, data, size) != 0)
		abort();
}

static void fuzz_values(const uint8_t *data, size_t size)
{
	struct fc_inode in;
	struct fc_dirent de;
	struct fc_blob b;
	struct fc_gen g;
	struct fc_cell c;
	char target[FC_SYMLINK_MAX + 1];
	const uint8_t *xd;
	size_t xn;
	bool tomb;

	if (fc_inode_decode(data, size, &in, &tomb) == 0) {
		same(data, size, fc_inode_encode(&in, tomb, enc, sizeof(enc)));
		if (fc_inode_decode(enc, size, &in, &tomb) != 0)
			abort();
	}
	if (fc_dirent_decode(data, size, &de) == 0)
		same(data, size, fc_dirent_encode(&de, enc, sizeof(enc)));
	if (fc_xattr_decode(data, size, &xd, &xn, &tomb) == 0)
		same(data, size, fc_xattr_encode(xd, xn, tomb, enc, sizeof(enc)));
	if (fc_symlink_decode(data, size, target) == 0)
		same(data, size, fc_symlink_encode(target, enc, sizeof(enc)));
	if (fc_blob_decode(data, size, &b) == 0) {
		same(data, size, fc_blob_encode(&b, enc, sizeof(enc)));
		if (fc_blob_decode(enc, size, &b) != 0)
			abort();
	}
	if (fc_gen_decode(data, size, &g) == 0)
		same(data, size, fc_gen_encode(&g, enc, sizeof(enc)));
	if (fc_cell_decode(data, size, &c) == 0)
		same(data, size, fc_cell_encode(&c, enc, sizeof(enc)));
}

static void fuzz_keys(const uint8_t *data, size_t size)
{
	char name[FC_NAME_MAX + 1];
	const uint8_t *prefix;
	uint64_t ino, gen, v;
	size_t plen;
	uint8_t dbi;

	if (fc_key_named_decode(data, size, &ino, name, &gen) == 0)
		same(data, size, fc_key_named(enc, ino, name, gen));
	if (fc_key_change_decode(data, size, &gen, &dbi, &prefix, &plen) == 0)
		same(data, size, fc_key_change(enc, gen, dbi, prefix, plen));
	if (fc_key_u64_decode(data, size, &v) == 0) {
		fc_key_u64(enc, v);
		same(data, size, 8);
	}
	if (fc_key_split(data, size, &plen, &gen) == 0 && plen + 8 != size)
		abort();
	if (size == 16 && fc_key_split(data, size, &plen, &gen) == 0) {
		fc_key_u64_decode(data, 8, &ino);
		same(data, size, fc_key_ino(enc, ino, gen));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_values(data, size);
	fuzz_keys(data, size);
	return 0;
}
