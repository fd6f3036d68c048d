/*
 * t_codec: round trips of every key and value encoding, refusal of
 * truncated, oversized and wrong-version input, key ordering, name checks.
 */
#include "fc_codec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

/* Every strict prefix of a valid encoding must be refused. */
typedef int (*decode_fn)(const uint8_t *buf, size_t len);

static void check_truncations(const char *what, const uint8_t *enc, size_t n, decode_fn dec)
{
	size_t bad = 0;
	uint8_t longer[FC_BLOB_ENC_MAX + 8];

	for (size_t i = 0; i < n; i++)
		if (dec(enc, i) == 0)
			bad++;
	is_int(bad, 0, "%s: every truncation refused", what);
	memcpy(longer, enc, n);
	longer[n] = 0;
	is_int(dec(longer, n + 1), FC_ECORRUPT, "%s: trailing byte refused", what);
	memcpy(longer, enc, n);
	longer[0] = FC_REC_V1 + 1;
	is_int(dec(longer, n), FC_EVERSION, "%s: unknown version refused", what);
	is_int(dec(enc, n), 0, "%s: the full encoding decodes", what);
}

static int dec_inode(const uint8_t *b, size_t n)
{
	struct fc_inode x;
	bool tomb;

	return fc_inode_decode(b, n, &x, &tomb);
}

static int dec_dirent(const uint8_t *b, size_t n)
{
	struct fc_dirent x;

	return fc_dirent_decode(b, n, &x);
}

static int dec_blob(const uint8_t *b, size_t n)
{
	struct fc_blob x;

	return fc_blob_decode(b, n, &x);
}

static int dec_gen(const uint8_t *b, size_t n)
{
	struct fc_gen x;

	return fc_gen_decode(b, n, &x);
}

static int dec_cell(const uint8_t *b, size_t n)
{
	struct fc_cell x;

	return fc_cell_decode(b, n, &x);
}

static int dec_symlink(const uint8_t *b, size_t n)
{
	char t[FC_SYMLINK_MAX + 1];

	return fc_symlink_decode(b, n, t);
}

static void test_inode(void)
{
	struct fc_inode in, out;
	uint8_t buf[FC_INODE_ENC_MAX];
	size_t n;
	bool tomb = true;

	memset(&in, 0, sizeof(in));
	in.mode = 0100644;
	in.uid = 1000;
	in.gid = 1001;
	in.nlink = 2;
	in.size = 1ULL << 40;
	in.rdev = 0x0801;
	in.blob = 77;
	in.blob_gen = 9;
	in.atime = (struct fc_ts){ -5, 999999999 };
	in.mtime = (struct fc_ts){ 1700000000, 1 };
	in.ctime = (struct fc_ts){ INT64_MAX, 0 };
	in.btime = (struct fc_ts){ INT64_MIN, 5 };
	in.parent = 3;
	memset(in.name, 'n', FC_NAME_MAX);
	n = fc_inode_encode(&in, false, buf, sizeof(buf));
	ok(n > 0 && n <= FC_INODE_ENC_MAX, "inode encodes (%zu bytes)", n);
	is_int(fc_inode_decode(buf, n, &out, &tomb), 0, "inode decodes");
	ok(!tomb && memcmp(&in, &out, sizeof(in)) == 0, "inode round trip is exact");
	check_truncations("inode", buf, n, dec_inode);
	is_int(fc_inode_encode(&in, false, buf, n - 1), 0, "too small a buffer gives 0");
	in.mtime.nsec = 1000000000;
	is_int(fc_inode_encode(&in, false, buf, sizeof(buf)), 0, "nsec >= 1e9 refused");

	n = fc_inode_encode(NULL, true, buf, sizeof(buf));
	is_int(n, 2, "tombstone is two bytes");
	is_int(fc_inode_decode(buf, n, &out, &tomb), 0, "tombstone decodes");
	ok(tomb, "as a tombstone");
	buf[1] = 2;
	is_int(fc_inode_decode(buf, n, &out, &tomb), FC_ECORRUPT, "bad tomb flag refused");
}

static void test_dirent_xattr_symlink(void)
{
	struct fc_dirent de = { .type = 4, .ino = 0x0102030405060708ULL }, out;
	uint8_t buf[FC_XATTR_VALUE_MAX + 8];
	char target[FC_SYMLINK_MAX + 1], longt[FC_SYMLINK_MAX + 2];
	const uint8_t *data;
	size_t n, dlen;
	bool tomb;

	n = fc_dirent_encode(&de, buf, sizeof(buf));
	is_int(n, 11, "dirent is 11 bytes");
	is_int(fc_dirent_decode(buf, n, &out), 0, "dirent decodes");
	ok(!out.tomb && out.type == 4 && out.ino == de.ino, "dirent round trip");
	check_truncations("dirent", buf, n, dec_dirent);
	de.ino = 0;
	is_int(fc_dirent_encode(&de, buf, sizeof(buf)), 0, "live entry without inode refused");
	de.tomb = true;
	n = fc_dirent_encode(&de, buf, sizeof(buf));
	is_int(n, 2, "dirent tombstone is two bytes");
	ok(fc_dirent_decode(buf, n, &out) == 0 && out.tomb, "dirent tombstone decodes");

	n = fc_xattr_encode("value", 5, false, buf, sizeof(buf));
	is_int(n, 7, "xattr encodes");
	is_int(fc_xattr_decode(buf, n, &data, &dlen, &tomb), 0, "xattr decodes");
	ok(dlen == 5 && memcmp(data, "value", 5) == 0 && !tomb, "xattr round trip");
	is_int(fc_xattr_decode(buf, 1, &data, &dlen, &tomb), FC_ECORRUPT, "xattr truncated");
	buf[0] = 9;
	is_int(fc_xattr_decode(buf, n, &data, &dlen, &tomb), FC_EVERSION, "xattr bad version");
	is_int(fc_xattr_encode(buf, FC_XATTR_VALUE_MAX + 1, false, buf, sizeof(buf)), 0,
	       "oversized xattr refused");
	n = fc_xattr_encode(NULL, 0, true, buf, sizeof(buf));
	ok(fc_xattr_decode(buf, n, &data, &dlen, &tomb) == 0 && tomb, "xattr tombstone");
	buf[n] = 'x';
	is_int(fc_xattr_decode(buf, n + 1, &data, &dlen, &tomb), FC_ECORRUPT,
	       "tombstone with data refused");

	n = fc_symlink_encode("../a/b", buf, sizeof(buf));
	is_int(n, 7, "symlink encodes");
	ok(fc_symlink_decode(buf, n, target) == 0 && strcmp(target, "../a/b") == 0,
	   "symlink round trip");
	/* Any shorter target is valid, so only lengths 0 and 1 are truncations. */
	ok(dec_symlink(buf, 0) == FC_ECORRUPT && dec_symlink(buf, 1) == FC_ECORRUPT,
	   "symlink without target refused");
	buf[0] = FC_REC_V1 + 1;
	is_int(dec_symlink(buf, n), FC_EVERSION, "symlink bad version");
	buf[0] = FC_REC_V1;
	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	is_int(fc_symlink_encode(longt, buf, sizeof(buf)), 0, "overlong target refused");
	buf[0] = FC_REC_V1;
	buf[1] = 'a';
	buf[2] = '\0';
	is_int(fc_symlink_decode(buf, 3, target), FC_ECORRUPT, "NUL inside a target refused");
}

static void test_blob_gen_cell(void)
{
	struct fc_blob b = { .refcount = 3, .size = 4096, .birth_gen = 8, .src = FC_BLOB_OWN }, bo;
	struct fc_gen g = { .parent = 4, .kind = FC_GEN_CHECKPOINT, .created_ns = -1 }, go;
	struct fc_cell c = { 10, 2, 7, 1, 123456789 }, co;
	uint8_t buf[FC_BLOB_ENC_MAX];
	size_t n;

	n = fc_blob_encode(&b, buf, sizeof(buf));
	ok(n > 0 && fc_blob_decode(buf, n, &bo) == 0 && memcmp(&b, &bo, sizeof(b)) == 0,
	   "own blob round trip");
	check_truncations("own blob", buf, n, dec_blob);
	b.src = FC_BLOB_BASE;
	b.base_id = 2;
	snprintf(b.relpath, sizeof(b.relpath), "dir/file.c");
	n = fc_blob_encode(&b, buf, sizeof(buf));
	ok(n > 0 && fc_blob_decode(buf, n, &bo) == 0 && memcmp(&b, &bo, sizeof(b)) == 0,
	   "base blob round trip");
	check_truncations("base blob", buf, n, dec_blob);
	b.relpath[0] = '\0';
	is_int(fc_blob_encode(&b, buf, sizeof(buf)), 0, "base blob without path refused");
	b.src = 7;
	is_int(fc_blob_encode(&b, buf, sizeof(buf)), 0, "unknown source refused");

	snprintf(g.cell, sizeof(g.cell), "main");
	snprintf(g.name, sizeof(g.name), "before-refactor");
	n = fc_gen_encode(&g, buf, sizeof(buf));
	ok(n > 0 && fc_gen_decode(buf, n, &go) == 0 && memcmp(&g, &go, sizeof(g)) == 0,
	   "gen round trip");
	check_truncations("gen", buf, n, dec_gen);
	buf[1] = 0;
	is_int(fc_gen_decode(buf, n, &go), FC_ECORRUPT, "gen kind 0 refused");
	g.kind = 4;
	is_int(fc_gen_encode(&g, buf, sizeof(buf)), 0, "gen kind 4 not encoded");

	n = fc_cell_encode(&c, buf, sizeof(buf));
	ok(n > 0 && fc_cell_decode(buf, n, &co) == 0 && memcmp(&c, &co, sizeof(c)) == 0,
	   "cell round trip");
	check_truncations("cell", buf, n, dec_cell);
	is_int(fc_cell_decode(buf, 0, &co), FC_ECORRUPT, "empty input is corrupt");
}

static void test_keys(void)
{
	uint8_t a[FC_KEY_MAX], b[FC_KEY_MAX];
	char name[FC_NAME_MAX + 2];
	const uint8_t *prefix;
	size_t na, nb, plen;
	uint64_t ino, gen, v;
	uint8_t dbi;

	fc_key_ino(a, 5, 10);
	fc_key_ino(b, 5, 9);
	ok(memcmp(a, b, 16) < 0, "newer generation sorts first");
	fc_key_ino(b, 6, 100);
	ok(memcmp(a, b, 16) < 0, "inode order dominates");
	is_int(fc_key_split(a, 16, &plen, &gen), 0, "split");
	ok(plen == 8 && gen == 10, "prefix 8, gen 10");
	is_int(fc_key_split(a, 15, &plen, &gen), FC_ECORRUPT, "short key refused");

	na = fc_key_named(a, 7, "ab", 3);
	nb = fc_key_named(b, 7, "abc", 3);
	ok(na == 8 + 2 + 1 + 8 && nb == na + 1, "named key lengths");
	ok(memcmp(a, b, na < nb ? na : nb) < 0, "'ab' sorts before 'abc'");
	nb = fc_key_named(b, 7, "ab", 2);
	ok(memcmp(a, b, na) < 0, "same name: newer generation first");
	is_int(fc_key_named_decode(a, na, &ino, name, &gen), 0, "named decode");
	ok(ino == 7 && gen == 3 && strcmp(name, "ab") == 0, "named decode values");
	is_int(fc_key_named_decode(a, na - 1, &ino, name, &gen), FC_ECORRUPT, "truncated named");
	is_int(fc_key_named(a, 7, "", 1), 0, "empty name not encoded");
	memset(name, 'x', FC_NAME_MAX + 1);
	name[FC_NAME_MAX + 1] = '\0';
	is_int(fc_key_named(a, 7, name, 1), 0, "overlong name not encoded");
	name[FC_NAME_MAX] = '\0';
	na = fc_key_named(a, 7, name, 1);
	is_int(na, 17 + FC_NAME_MAX, "a 255-byte name fits");
	ok(na <= FC_KEY_MAX, "within LMDB's key limit");

	fc_key_ino(b, 9, 4);
	na = fc_key_change(a, 4, FC_DBI_INODE, b, 8);
	is_int(na, 17, "change key length");
	is_int(fc_key_change_decode(a, na, &gen, &dbi, &prefix, &plen), 0, "change decode");
	ok(gen == 4 && dbi == FC_DBI_INODE && plen == 8 && memcmp(prefix, b, 8) == 0,
	   "change decode values");
	is_int(fc_key_change_decode(a, 8, &gen, &dbi, &prefix, &plen), FC_ECORRUPT,
	       "short change key");
	fc_key_u64(a, 0x1122334455667788ULL);
	ok(a[0] == 0x11 && a[7] == 0x88, "u64 key is big-endian");
	ok(fc_key_u64_decode(a, 8, &v) == 0 && v == 0x1122334455667788ULL, "u64 decode");
	is_int(fc_key_u64_decode(a, 7, &v), FC_ECORRUPT, "u64 wrong length");
}

static void test_names(void)
{
	static const char *const good[] = { "main", "a", "feature-1", "v1.2_x", "0a", "A9" };
	static const char *const bad[] = { "", ".hidden", "-x", "123", "a/b", "a b", "é" };
	char longname[FC_CELL_NAME_MAX + 2];
	struct fc_diag d;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		is_int(fc_name_check_cell(good[i], NULL), 0, "cell name '%s' accepted", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fc_diag_init(&d);
		is_int(fc_name_check_cell(bad[i], &d), FC_ENAME, "cell name '%s' refused", bad[i]);
		ok(d.msg[0] != '\0', "with a reason: %s", d.msg);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	is_int(fc_name_check_cell(longname, NULL), FC_ENAME, "65-byte cell name refused");
	longname[FC_CELL_NAME_MAX] = '\0';
	is_int(fc_name_check_cell(longname, NULL), 0, "64-byte cell name accepted");

	is_int(fc_name_check_file("file.txt"), 0, "file name accepted");
	is_int(fc_name_check_file("..."), 0, "'...' accepted");
	is_int(fc_name_check_file(""), -EINVAL, "empty refused");
	is_int(fc_name_check_file("."), -EINVAL, "'.' refused");
	is_int(fc_name_check_file(".."), -EINVAL, "'..' refused");
	is_int(fc_name_check_file("a/b"), -EINVAL, "slash refused");
}

int main(void)
{
	test_inode();
	test_dirent_xattr_symlink();
	test_blob_gen_cell();
	test_keys();
	test_names();
	return done_testing();
}
