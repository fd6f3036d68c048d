/*
 * fc_records: MVCC reads and writes of inode, dirent, xattr and symlink
 * records.
 *
 * Every versioned key is prefix | ~gen, so the versions of one record sit
 * together, newest first. A lookup is one MDB_SET_RANGE on prefix | ~head
 * (landing on the newest version not newer than the head), then a step
 * forward past the rare versions of generations the view does not see.
 * Writers always write the head version and log prefix in the head's
 * change log.
 */
#include "fc_store.h"

#include <errno.h>
#include <string.h>

#include "fc_store_int.h"

/* -EINVAL or -ENAMETOOLONG for a name fc_key_named refused. */
static int bad_name(const char *name)
{
	return strnlen(name, FC_NAME_MAX + 1) > FC_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
}

/*
 * Step c (already positioned by op) to the first version of prefix
 * (key[0..plen)) that v sees. -ENOENT when none is left.
 */
static int mvcc_scan(MDB_cursor *c, const struct fc_view *v, const uint8_t *key, size_t plen,
		     MDB_cursor_op op, MDB_val *val, uint64_t *gen)
{
	MDB_val k = { plen + 8, (void *)key }, d;
	size_t kp;
	uint64_t g;
	int rc;

	for (rc = mdb_cursor_get(c, &k, &d, op); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size != plen + 8 || memcmp(k.mv_data, key, plen) != 0)
			return -ENOENT;
		if (fc_key_split(k.mv_data, k.mv_size, &kp, &g) < 0)
			return FC_ECORRUPT;
		if (fc_view_sees(v, g)) {
			*val = d;
			*gen = g;
			return 0;
		}
	}
	return rc == MDB_NOTFOUND ? -ENOENT : fc_mdb_err(rc);
}

/* The newest version of key's prefix visible in v; key ends in ~v->head. */
static int mvcc_get(struct fc_txn *t, int dbi_id, const struct fc_view *v, const uint8_t *key,
		    size_t klen, MDB_val *val, uint64_t *gen)
{
	MDB_cursor *c;
	int rc = fc_txn_cursor(t, dbi_id, &c);

	if (rc < 0)
		return rc;
	return mvcc_scan(c, v, key, klen - 8, MDB_SET_RANGE, val, gen);
}

int fc_change_put(struct fc_txn *t, uint64_t gen, uint8_t dbi_id, const void *prefix,
		  size_t prefix_len)
{
	uint8_t buf[FC_KEY_MAX];
	MDB_val k = { 0, buf }, d = { 0, NULL };

	k.mv_size = fc_key_change(buf, gen, dbi_id, prefix, prefix_len);
	if (k.mv_size == 0)
		return FC_ELIMIT;
	return fc_mdb_err(mdb_put(t->txn, t->st->dbi_changes, &k, &d, 0));
}

/* Write val as the head version of key and log the change. */
static int mvcc_put(struct fc_txn *t, const struct fc_view *v, int dbi_id, const uint8_t *key,
		    size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, d = { vlen, (void *)val };
	int rc = fc_mdb_err(mdb_put(t->txn, fc_store_dbi(t->st, dbi_id), &k, &d, 0));

	if (rc < 0)
		return rc;
	return fc_change_put(t, v->head, (uint8_t)dbi_id, key, klen - 8);
}

/* Whether a stored value is a tombstone (FC_ECORRUPT if undecodable). */
static int val_is_tomb(int dbi_id, const MDB_val *d, bool *tomb)
{
	struct fc_inode ino;
	struct fc_dirent de;
	const uint8_t *p;
	size_t n;

	switch (dbi_id) {
	case FC_DBI_INODE:
		return fc_inode_decode(d->mv_data, d->mv_size, &ino, tomb);
	case FC_DBI_DIRENT: {
		int rc = fc_dirent_decode(d->mv_data, d->mv_size, &de);

		if (rc == 0)
			*tomb = de.tomb;
		return rc;
	}
	case FC_DBI_XATTR:
		return fc_xattr_decode(d->mv_data, d->mv_size, &p, &n, tomb);
	default:
		*tomb = false;
		return 0;
	}
}

/*
 * Delete the record whose head key is key: a tombstone in the head, or
 * the head version removed outright when no older live version is visible.
 */
static int mvcc_del(struct fc_txn *t, const struct fc_view *v, int dbi_id, const uint8_t *key,
		    size_t klen, const void *tomb_val, size_t tomb_len)
{
	MDB_val d, k = { klen, (void *)key };
	MDB_cursor *c;
	uint64_t g;
	bool tomb = false, outright = false;
	int rc = fc_txn_cursor(t, dbi_id, &c);

	if (rc == 0)
		rc = mvcc_scan(c, v, key, klen - 8, MDB_SET_RANGE, &d, &g);
	if (rc == 0)
		rc = val_is_tomb(dbi_id, &d, &tomb);
	if (rc < 0)
		return rc;
	if (tomb)
		return -ENOENT;
	if (g == v->head) {
		rc = mvcc_scan(c, v, key, klen - 8, MDB_NEXT, &d, &g);
		if (rc == -ENOENT) {
			outright = true;
		} else if (rc == 0) {
			rc = val_is_tomb(dbi_id, &d, &tomb);
			outright = tomb;
		}
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	if (outright) {
		rc = fc_mdb_err(mdb_del(t->txn, fc_store_dbi(t->st, dbi_id), &k, NULL));
		if (rc < 0)
			return rc;
		return fc_change_put(t, v->head, (uint8_t)dbi_id, key, klen - 8);
	}
	return mvcc_put(t, v, dbi_id, key, klen, tomb_val, tomb_len);
}

/* ---- inodes ---- */

int fc_inode_get(struct fc_txn *t, const struct fc_view *v, uint64_t ino, struct fc_inode *out)
{
	uint8_t key[16];
	MDB_val d;
	uint64_t g;
	bool tomb;
	int rc;

	fc_key_ino(key, ino, v->head);
	rc = mvcc_get(t, FC_DBI_INODE, v, key, sizeof(key), &d, &g);
	if (rc == 0)
		rc = fc_inode_decode(d.mv_data, d.mv_size, out, &tomb);
	if (rc == 0 && tomb)
		rc = -ENOENT;
	return rc;
}

/* The blob named by the head version of ino (0 if none or a tombstone). */
static int inode_head_blob(struct fc_txn *t, const uint8_t *key, uint64_t *blob)
{
	MDB_val k = { 16, (void *)key }, d;
	struct fc_inode old;
	bool tomb;
	int rc = mdb_get(t->txn, t->st->dbi_inode, &k, &d);

	*blob = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fc_mdb_err(rc);
	rc = fc_inode_decode(d.mv_data, d.mv_size, &old, &tomb);
	if (rc == 0 && !tomb)
		*blob = old.blob;
	return rc;
}

int fc_inode_put(struct fc_txn *t, const struct fc_view *v, uint64_t ino,
		 const struct fc_inode *in)
{
	uint8_t key[16], val[FC_INODE_ENC_MAX];
	uint64_t old_blob;
	size_t n;
	int rc = fc_txn_check_write(t, v);

	if (rc < 0)
		return rc;
	n = fc_inode_encode(in, false, val, sizeof(val));
	if (n == 0)
		return -EINVAL;
	fc_key_ino(key, ino, v->head);
	rc = inode_head_blob(t, key, &old_blob);
	if (rc == 0 && in->blob && in->blob != old_blob)
		rc = fc_blob_ref(t, in->blob, +1);
	if (rc == 0 && old_blob && in->blob != old_blob)
		rc = fc_blob_ref(t, old_blob, -1);
	if (rc == 0)
		rc = mvcc_put(t, v, FC_DBI_INODE, key, sizeof(key), val, n);
	return rc;
}

int fc_inode_del(struct fc_txn *t, const struct fc_view *v, uint64_t ino)
{
	uint8_t key[16], val[8];
	uint64_t old_blob;
	size_t n;
	int rc = fc_txn_check_write(t, v);

	if (rc < 0)
		return rc;
	n = fc_inode_encode(NULL, true, val, sizeof(val));
	fc_key_ino(key, ino, v->head);
	rc = inode_head_blob(t, key, &old_blob);
	if (rc == 0)
		rc = mvcc_del(t, v, FC_DBI_INODE, key, sizeof(key), val, n);
	/* Either way the head version no longer names its blob. */
	if (rc == 0 && old_blob)
		rc = fc_blob_ref(t, old_blob, -1);
	return rc;
}

/* ---- directory entries ---- */

int fc_dirent_get(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *name,
		  struct fc_dirent *out)
{
	uint8_t key[FC_KEY_MAX];
	struct fc_dirent de;
	size_t klen = fc_key_named(key, parent, name, v->head);
	MDB_val d;
	uint64_t g;
	int rc;

	if (klen == 0)
		return bad_name(name);
	rc = mvcc_get(t, FC_DBI_DIRENT, v, key, klen, &d, &g);
	if (rc == 0)
		rc = fc_dirent_decode(d.mv_data, d.mv_size, &de);
	if (rc == 0 && de.tomb)
		rc = -ENOENT;
	if (rc == 0)
		*out = de;
	return rc;
}

int fc_dirent_put(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *name,
		  const struct fc_dirent *in)
{
	uint8_t key[FC_KEY_MAX], val[FC_DIRENT_ENC_MAX];
	size_t klen, n;
	int rc = fc_txn_check_write(t, v);

	if (rc < 0)
		return rc;
	klen = fc_key_named(key, parent, name, v->head);
	if (klen == 0)
		return bad_name(name);
	n = fc_dirent_encode(in, val, sizeof(val));
	if (n == 0)
		return -EINVAL;
	return mvcc_put(t, v, FC_DBI_DIRENT, key, klen, val, n);
}

int fc_dirent_del(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *name)
{
	const struct fc_dirent tomb = { .tomb = true };
	uint8_t key[FC_KEY_MAX], val[FC_DIRENT_ENC_MAX];
	size_t klen, n;
	int rc = fc_txn_check_write(t, v);

	if (rc < 0)
		return rc;
	klen = fc_key_named(key, parent, name, v->head);
	if (klen == 0)
		return bad_name(name);
	n = fc_dirent_encode(&tomb, val, sizeof(val));
	return mvcc_del(t, v, FC_DBI_DIRENT, key, klen, val, n);
}

/*
 * Visit the newest visible version of each name under ino in a named table
 * (dirent, xattr), in name order, starting strictly after `after`. fn gets
 * the raw value and returns 0 to go on, 1 to stop, negative to fail. Two
 * seeks per name at most: one lands on the name's newest version, a second
 * (only when that is newer than the head) jumps to ~head; after the name,
 * a seek to ino|name|0x01 skips all its older versions at once.
 */
typedef int (*named_fn)(void *arg, const char *name, const MDB_val *val);

static int named_iter(struct fc_txn *t, const struct fc_view *v, int dbi_id, uint64_t ino,
		      const char *after, named_fn fn, void *arg)
{
	uint8_t key[FC_KEY_MAX];
	char name[FC_NAME_MAX + 1];
	size_t klen = 8, nlen;
	MDB_cursor *c;
	MDB_val k, d;
	uint64_t kino, g;
	int rc = fc_txn_cursor(t, dbi_id, &c);

	if (rc < 0)
		return rc;
	fc_key_u64(key, ino);
	if (after && *after) {
		nlen = strnlen(after, FC_NAME_MAX + 1);
		if (nlen > FC_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(key + 8, after, nlen);
		key[8 + nlen] = 1;
		klen = 9 + nlen;
	}
	for (;;) {
		k = (MDB_val){ klen, key };
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size < 8 || memcmp(k.mv_data, key, 8))))
			return 0;
		if (rc)
			return fc_mdb_err(rc);
		if (fc_key_named_decode(k.mv_data, k.mv_size, &kino, name, &g) < 0)
			return FC_ECORRUPT;
		nlen = strlen(name);
		memcpy(key + 8, name, nlen);
		key[8 + nlen] = 0;
		fc_key_u64(key + 9 + nlen, ~v->head);
		rc = mvcc_scan(c, v, key, 9 + nlen, g > v->head ? MDB_SET_RANGE : MDB_GET_CURRENT,
			       &d, &g);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		if (rc == 0) {
			rc = fn(arg, name, &d);
			if (rc != 0)
				return rc < 0 ? rc : 0;
		}
		key[8 + nlen] = 1;
		klen = 9 + nlen;
	}
}

struct dirent_iter_ctx {
	fc_dirent_cb cb;
	void *arg;
};

static int dirent_iter_fn(void *arg, const char *name, const MDB_val *val)
{
	struct dirent_iter_ctx *ctx = arg;
	struct fc_dirent de;
	int rc = fc_dirent_decode(val->mv_data, val->mv_size, &de);

	if (rc < 0)
		return rc;
	if (de.tomb)
		return 0;
	return ctx->cb(ctx->arg, name, &de);
}

int fc_dirent_iter(struct fc_txn *t, const struct fc_view *v, uint64_t parent, const char *after,
		   fc_dirent_cb cb, void *arg)
{
	struct dirent_iter_ctx ctx = { cb, arg };

	return named_iter(t, v, FC_DBI_DIRENT, parent, after, dirent_iter_fn, &ctx);
}

static int first_entry_cb(void *arg, const char *name, const struct fc_dirent *de)
{
	*(bool *)arg = true;
	return 1;
}

int fc_dir_check_empty(struct fc_txn *t, const struct fc_view *v, uint64_t parent)
{
	bool found = false;
	int rc = fc_dirent_iter(t, v, parent, NULL, first_entry_cb, &found);

	if (rc < 0)
		return rc;
	return found ? -ENOTEMPTY : 0;
}

/* ---- extended attributes ---- */

int fc_xattr_get(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *name,
		 void *buf, size_t cap, size_t *len)
{
	uint8_t key[FC_KEY_MAX];
	size_t klen = fc_key_named(key, ino, name, v->head), n;
	const uint8_t *data;
	MDB_val d;
	uint64_t g;
	bool tomb;
	int rc;

	if (klen == 0)
		return bad_name(name);
	rc = mvcc_get(t, FC_DBI_XATTR, v, key, klen, &d, &g);
	if (rc == 0)
		rc = fc_xattr_decode(d.mv_data, d.mv_size, &data, &n, &tomb);
	if (rc == 0 && tomb)
		rc = -ENOENT;
	if (rc < 0)
		return rc;
	if (cap && buf)
		memcpy(buf, data, n < cap ? n : cap);
	*len = n;
	return 0;
}

int fc_xattr_put(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *name,
		 const void *val, size_t len)
{
	uint8_t key[FC_KEY_MAX];
	MDB_val k, d;
	size_t klen;
	int rc = fc_txn_check_write(t, v);

	if (rc < 0)
		return rc;
	if (len > FC_XATTR_VALUE_MAX)
		return -E2BIG;
	klen = fc_key_named(key, ino, name, v->head);
	if (klen == 0)
		return bad_name(name);
	/* Encode straight into the page LMDB reserves: no bounce buffer. */
	k = (MDB_val){ klen, key };
	d = (MDB_val){ 2 + len, NULL };
	rc = fc_mdb_err(mdb_put(t->txn, t->st->dbi_xattr, &k, &d, MDB_RESERVE));
	if (rc < 0)
		return rc;
	if (fc_xattr_encode(val, len, false, d.mv_data, d.mv_size) != 2 + len)
		return FC_ECORRUPT;
	return fc_change_put(t, v->head, FC_DBI_XATTR, key, klen - 8);
}

int fc_xattr_del(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *name)
{
	uint8_t key[FC_KEY_MAX], val[4];
	size_t klen, n;
	int rc = fc_txn_check_write(t, v);

	if (rc < 0)
		return rc;
	klen = fc_key_named(key, ino, name, v->head);
	if (klen == 0)
		return bad_name(name);
	n = fc_xattr_encode(NULL, 0, true, val, sizeof(val));
	return mvcc_del(t, v, FC_DBI_XATTR, key, klen, val, n);
}

struct xattr_list_ctx {
	char *buf;
	size_t cap, len;
};

static int xattr_list_fn(void *arg, const char *name, const MDB_val *val)
{
	struct xattr_list_ctx *ctx = arg;
	const uint8_t *data;
	size_t n, nlen = strlen(name) + 1;
	bool tomb;
	int rc = fc_xattr_decode(val->mv_data, val->mv_size, &data, &n, &tomb);

	if (rc < 0 || tomb)
		return rc;
	if (ctx->buf && ctx->len + nlen <= ctx->cap)
		memcpy(ctx->buf + ctx->len, name, nlen);
	ctx->len += nlen;
	return 0;
}

/*
 * Names are copied while they fit whole; *len is always the full size, so
 * callers answer ERANGE when *len > cap (cap 0 is a size query).
 */
int fc_xattr_list(struct fc_txn *t, const struct fc_view *v, uint64_t ino, char *buf, size_t cap,
		  size_t *len)
{
	struct xattr_list_ctx ctx = { buf, cap, 0 };
	int rc = named_iter(t, v, FC_DBI_XATTR, ino, NULL, xattr_list_fn, &ctx);

	if (rc < 0)
		return rc;
	*len = ctx.len;
	return 0;
}

/* ---- symlinks ---- */

int fc_symlink_get(struct fc_txn *t, const struct fc_view *v, uint64_t ino, char *target)
{
	uint8_t key[16];
	MDB_val d;
	uint64_t g;
	int rc;

	fc_key_ino(key, ino, v->head);
	rc = mvcc_get(t, FC_DBI_SYMLINK, v, key, sizeof(key), &d, &g);
	if (rc == 0)
		rc = fc_symlink_decode(d.mv_data, d.mv_size, target);
	return rc;
}

int fc_symlink_put(struct fc_txn *t, const struct fc_view *v, uint64_t ino, const char *target)
{
	uint8_t key[16], val[FC_SYMLINK_MAX + 2];
	size_t n;
	int rc = fc_txn_check_write(t, v);

	if (rc < 0)
		return rc;
	n = fc_symlink_encode(target, val, sizeof(val));
	if (n == 0)
		return strnlen(target, FC_SYMLINK_MAX + 1) > FC_SYMLINK_MAX ? -ENAMETOOLONG :
									       -EINVAL;
	fc_key_ino(key, ino, v->head);
	return mvcc_put(t, v, FC_DBI_SYMLINK, key, sizeof(key), val, n);
}
