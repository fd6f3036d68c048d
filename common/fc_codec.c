/*
 * fc_codec: the byte layouts of every LMDB key and value of a store.
 *
 * Pure functions only: no I/O, no globals, no allocation. Keys are
 * big-endian so that LMDB's bytewise order is numeric order and newer
 * versions (~gen) sort first. Values are little-endian behind a version
 * byte. Decoders are strict: they accept exactly the bytes their encoder
 * produces (canonical form), so decode(encode(x)) == x and
 * encode(decode(b)) == b for every accepted b. The fuzzer checks both.
 */
#include "fc_codec.h"

#include <errno.h>
#include <string.h>

/* ---- little-endian writer and reader, never past their bounds ---- */

struct wr {
	uint8_t *p;
	size_t len, cap;
	bool bad;
};

struct rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (w->bad || w->cap - w->len < n) {
		w->bad = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void wr_le(struct wr *w, uint64_t v, unsigned int n)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wr_bytes(w, b, n);
}

static void wr_u8(struct wr *w, uint8_t v)
{
	wr_le(w, v, 1);
}

static void wr_u16(struct wr *w, uint16_t v)
{
	wr_le(w, v, 2);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	wr_le(w, v, 4);
}

static void wr_u64(struct wr *w, uint64_t v)
{
	wr_le(w, v, 8);
}

static void wr_ts(struct wr *w, const struct fc_ts *ts)
{
	wr_u64(w, (uint64_t)ts->sec);
	wr_u32(w, ts->nsec);
}

static size_t wr_done(const struct wr *w)
{
	return w->bad ? 0 : w->len;
}

static const uint8_t *rd_take(struct rd *r, size_t n)
{
	const uint8_t *s;

	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	s = r->p + r->off;
	r->off += n;
	return s;
}

static uint64_t rd_le(struct rd *r, unsigned int n)
{
	const uint8_t *s = rd_take(r, n);
	uint64_t v = 0;

	if (!s)
		return 0;
	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)s[i] << (8 * i);
	return v;
}

static uint8_t rd_u8(struct rd *r)
{
	return (uint8_t)rd_le(r, 1);
}

static uint16_t rd_u16(struct rd *r)
{
	return (uint16_t)rd_le(r, 2);
}

static uint32_t rd_u32(struct rd *r)
{
	return (uint32_t)rd_le(r, 4);
}

static uint64_t rd_u64(struct rd *r)
{
	return rd_le(r, 8);
}

static void rd_ts(struct rd *r, struct fc_ts *ts)
{
	ts->sec = (int64_t)rd_u64(r);
	ts->nsec = rd_u32(r);
	if (ts->nsec >= 1000000000u)
		r->bad = true;
}

/* Copy a length-prefixed string out: no NUL inside, at most max bytes. */
static void rd_str(struct rd *r, size_t n, size_t max, char *out)
{
	const uint8_t *s;

	if (n > max) {
		r->bad = true;
		return;
	}
	s = rd_take(r, n);
	if (!s)
		return;
	if (n && memchr(s, '\0', n)) {
		r->bad = true;
		return;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

/* Read the version byte: FC_EVERSION for anything else than FC_REC_V1. */
static int rd_version(struct rd *r)
{
	if (r->len < 1)
		return FC_ECORRUPT;
	return rd_u8(r) == FC_REC_V1 ? 0 : FC_EVERSION;
}

static int rd_finish(const struct rd *r)
{
	return (r->bad || r->off != r->len) ? FC_ECORRUPT : 0;
}

/* ---- keys ---- */

static void put_be64(uint8_t *out, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

void fc_key_u64(uint8_t out[8], uint64_t v)
{
	put_be64(out, v);
}

int fc_key_u64_decode(const void *key, size_t len, uint64_t *v)
{
	if (len != 8)
		return FC_ECORRUPT;
	*v = get_be64(key);
	return 0;
}

size_t fc_key_ino(uint8_t out[16], uint64_t ino, uint64_t gen)
{
	put_be64(out, ino);
	put_be64(out + 8, ~gen);
	return 16;
}

size_t fc_key_named(uint8_t out[FC_KEY_MAX], uint64_t ino, const char *name, uint64_t gen)
{
	size_t n = strnlen(name, FC_NAME_MAX + 1);

	if (n == 0 || n > FC_NAME_MAX)
		return 0;
	put_be64(out, ino);
	memcpy(out + 8, name, n);
	out[8 + n] = 0;
	put_be64(out + 9 + n, ~gen);
	return 17 + n;
}

int fc_key_split(const void *key, size_t len, size_t *prefix_len, uint64_t *gen)
{
	if (len < 16)
		return FC_ECORRUPT;
	*prefix_len = len - 8;
	*gen = ~get_be64((const uint8_t *)key + len - 8);
	return 0;
}

int fc_key_named_decode(const void *key, size_t len, uint64_t *ino, char *name_out,
			uint64_t *gen)
{
	const uint8_t *k = key;
	size_t n;

	if (len < 18 || len > 17 + FC_NAME_MAX || k[len - 9] != 0)
		return FC_ECORRUPT;
	n = len - 17;
	if (memchr(k + 8, '\0', n))
		return FC_ECORRUPT;
	*ino = get_be64(k);
	memcpy(name_out, k + 8, n);
	name_out[n] = '\0';
	*gen = ~get_be64(k + len - 8);
	return 0;
}

size_t fc_key_change(uint8_t out[FC_KEY_MAX], uint64_t gen, uint8_t dbi, const void *prefix,
		     size_t prefix_len)
{
	if (prefix_len > FC_KEY_MAX - 9)
		return 0;
	put_be64(out, gen);
	out[8] = dbi;
	if (prefix_len)
		memcpy(out + 9, prefix, prefix_len);
	return 9 + prefix_len;
}

int fc_key_change_decode(const void *key, size_t len, uint64_t *gen, uint8_t *dbi,
			 const uint8_t **prefix, size_t *prefix_len)
{
	const uint8_t *k = key;

	if (len < 9 || len > FC_KEY_MAX)
		return FC_ECORRUPT;
	*gen = get_be64(k);
	*dbi = k[8];
	*prefix = k + 9;
	*prefix_len = len - 9;
	return 0;
}

/* ---- inode ----
 * v1: ver, tomb(0|1); live only: mode u32, uid u32, gid u32, nlink u32,
 * size u64, rdev u64, flags u32, blob u64, blob_gen u64, a/m/c/b time
 * (i64 sec, u32 nsec each), parent u64, name_len u16, name bytes.
 * A tombstone is just (ver, 1). */

size_t fc_inode_encode(const struct fc_inode *in, bool tomb, uint8_t *out, size_t cap)
{
	struct wr w = { out, 0, cap, false };
	size_t nlen;

	wr_u8(&w, FC_REC_V1);
	wr_u8(&w, tomb ? 1 : 0);
	if (tomb)
		return wr_done(&w);
	nlen = strnlen(in->name, FC_NAME_MAX + 1);
	if (nlen > FC_NAME_MAX || in->atime.nsec >= 1000000000u ||
	    in->mtime.nsec >= 1000000000u || in->ctime.nsec >= 1000000000u ||
	    in->btime.nsec >= 1000000000u)
		return 0;
	wr_u32(&w, in->mode);
	wr_u32(&w, in->uid);
	wr_u32(&w, in->gid);
	wr_u32(&w, in->nlink);
	wr_u64(&w, in->size);
	wr_u64(&w, in->rdev);
	wr_u32(&w, in->flags);
	wr_u64(&w, in->blob);
	wr_u64(&w, in->blob_gen);
	wr_ts(&w, &in->atime);
	wr_ts(&w, &in->mtime);
	wr_ts(&w, &in->ctime);
	wr_ts(&w, &in->btime);
	wr_u64(&w, in->parent);
	wr_u16(&w, (uint16_t)nlen);
	wr_bytes(&w, in->name, nlen);
	return wr_done(&w);
}

int fc_inode_decode(const void *buf, size_t len, struct fc_inode *out, bool *tomb)
{
	struct rd r = { buf, len, 0, false };
	struct fc_inode x;
	uint8_t t;
	int rc = rd_version(&r);

	if (rc < 0)
		return rc;
	memset(&x, 0, sizeof(x));
	t = rd_u8(&r);
	if (t > 1)
		return FC_ECORRUPT;
	if (!t) {
		x.mode = rd_u32(&r);
		x.uid = rd_u32(&r);
		x.gid = rd_u32(&r);
		x.nlink = rd_u32(&r);
		x.size = rd_u64(&r);
		x.rdev = rd_u64(&r);
		x.flags = rd_u32(&r);
		x.blob = rd_u64(&r);
		x.blob_gen = rd_u64(&r);
		rd_ts(&r, &x.atime);
		rd_ts(&r, &x.mtime);
		rd_ts(&r, &x.ctime);
		rd_ts(&r, &x.btime);
		x.parent = rd_u64(&r);
		rd_str(&r, rd_u16(&r), FC_NAME_MAX, x.name);
	}
	rc = rd_finish(&r);
	if (rc < 0)
		return rc;
	*out = x;
	*tomb = t;
	return 0;
}

/* ---- dirent ----
 * v1: ver, tomb(0|1); live only: type u8, ino u64 (non-zero). */

size_t fc_dirent_encode(const struct fc_dirent *in, uint8_t *out, size_t cap)
{
	struct wr w = { out, 0, cap, false };

	if (!in->tomb && in->ino == 0)
		return 0;
	wr_u8(&w, FC_REC_V1);
	wr_u8(&w, in->tomb ? 1 : 0);
	if (!in->tomb) {
		wr_u8(&w, in->type);
		wr_u64(&w, in->ino);
	}
	return wr_done(&w);
}

int fc_dirent_decode(const void *buf, size_t len, struct fc_dirent *out)
{
	struct rd r = { buf, len, 0, false };
	struct fc_dirent x = { 0 };
	uint8_t t;
	int rc = rd_version(&r);

	if (rc < 0)
		return rc;
	t = rd_u8(&r);
	if (t > 1)
		return FC_ECORRUPT;
	x.tomb = t;
	if (!t) {
		x.type = rd_u8(&r);
		x.ino = rd_u64(&r);
		if (!r.bad && x.ino == 0)
			return FC_ECORRUPT;
	}
	rc = rd_finish(&r);
	if (rc < 0)
		return rc;
	*out = x;
	return 0;
}

/* ---- xattr ----
 * v1: ver, tomb(0|1), then the value bytes (none for a tombstone). */

size_t fc_xattr_encode(const void *data, size_t len, bool tomb, uint8_t *out, size_t cap)
{
	struct wr w = { out, 0, cap, false };

	if (len > FC_XATTR_VALUE_MAX || (tomb && len))
		return 0;
	wr_u8(&w, FC_REC_V1);
	wr_u8(&w, tomb ? 1 : 0);
	wr_bytes(&w, data, len);
	return wr_done(&w);
}

int fc_xattr_decode(const void *buf, size_t len, const uint8_t **data, size_t *data_len,
		    bool *tomb)
{
	struct rd r = { buf, len, 0, false };
	uint8_t t;
	int rc = rd_version(&r);

	if (rc < 0)
		return rc;
	t = rd_u8(&r);
	if (r.bad || t > 1 || (t && len != 2) || len - 2 > FC_XATTR_VALUE_MAX)
		return FC_ECORRUPT;
	*data = (const uint8_t *)buf + 2;
	*data_len = len - 2;
	*tomb = t;
	return 0;
}

/* ---- symlink ----
 * v1: ver, then the target bytes (1..FC_SYMLINK_MAX, no NUL). */

size_t fc_symlink_encode(const char *target, uint8_t *out, size_t cap)
{
	struct wr w = { out, 0, cap, false };
	size_t n = strnlen(target, FC_SYMLINK_MAX + 1);

	if (n == 0 || n > FC_SYMLINK_MAX)
		return 0;
	wr_u8(&w, FC_REC_V1);
	wr_bytes(&w, target, n);
	return wr_done(&w);
}

int fc_symlink_decode(const void *buf, size_t len, char *target_out)
{
	struct rd r = { buf, len, 0, false };
	int rc = rd_version(&r);

	if (rc < 0)
		return rc;
	if (len < 2 || len - 1 > FC_SYMLINK_MAX || memchr((const uint8_t *)buf + 1, '\0', len - 1))
		return FC_ECORRUPT;
	memcpy(target_out, (const uint8_t *)buf + 1, len - 1);
	target_out[len - 1] = '\0';
	return 0;
}

/* ---- blob ----
 * v1: ver, src u8, refcount u64, size u64, birth_gen u64, base_id u32,
 * relpath_len u16, relpath. An own blob has base_id 0 and no relpath; a
 * base blob has both. */

size_t fc_blob_encode(const struct fc_blob *in, uint8_t *out, size_t cap)
{
	struct wr w = { out, 0, cap, false };
	size_t n = strnlen(in->relpath, FC_RELPATH_MAX + 1);

	if (n > FC_RELPATH_MAX)
		return 0;
	if (in->src == FC_BLOB_OWN ? (in->base_id || n) :
				     (in->src != FC_BLOB_BASE || !in->base_id || !n))
		return 0;
	wr_u8(&w, FC_REC_V1);
	wr_u8(&w, in->src);
	wr_u64(&w, in->refcount);
	wr_u64(&w, in->size);
	wr_u64(&w, in->birth_gen);
	wr_u32(&w, in->base_id);
	wr_u16(&w, (uint16_t)n);
	wr_bytes(&w, in->relpath, n);
	return wr_done(&w);
}

int fc_blob_decode(const void *buf, size_t len, struct fc_blob *out)
{
	struct rd r = { buf, len, 0, false };
	struct fc_blob x;
	int rc = rd_version(&r);

	if (rc < 0)
		return rc;
	memset(&x, 0, sizeof(x));
	x.src = rd_u8(&r);
	x.refcount = rd_u64(&r);
	x.size = rd_u64(&r);
	x.birth_gen = rd_u64(&r);
	x.base_id = rd_u32(&r);
	rd_str(&r, rd_u16(&r), FC_RELPATH_MAX, x.relpath);
	rc = rd_finish(&r);
	if (rc < 0)
		return rc;
	if (x.src == FC_BLOB_OWN ? (x.base_id || x.relpath[0]) :
				   (x.src != FC_BLOB_BASE || !x.base_id || !x.relpath[0]))
		return FC_ECORRUPT;
	*out = x;
	return 0;
}

/* ---- gen ----
 * v1: ver, kind u8 (1..3), parent u64, created_ns i64, cell_len u8, cell,
 * name_len u8, name. */

size_t fc_gen_encode(const struct fc_gen *in, uint8_t *out, size_t cap)
{
	struct wr w = { out, 0, cap, false };
	size_t nc = strnlen(in->cell, FC_CELL_NAME_MAX + 1);
	size_t nn = strnlen(in->name, FC_CELL_NAME_MAX + 1);

	if (nc > FC_CELL_NAME_MAX || nn > FC_CELL_NAME_MAX || in->kind < FC_GEN_HEAD ||
	    in->kind > FC_GEN_ABANDONED)
		return 0;
	wr_u8(&w, FC_REC_V1);
	wr_u8(&w, in->kind);
	wr_u64(&w, in->parent);
	wr_u64(&w, (uint64_t)in->created_ns);
	wr_u8(&w, (uint8_t)nc);
	wr_bytes(&w, in->cell, nc);
	wr_u8(&w, (uint8_t)nn);
	wr_bytes(&w, in->name, nn);
	return wr_done(&w);
}

int fc_gen_decode(const void *buf, size_t len, struct fc_gen *out)
{
	struct rd r = { buf, len, 0, false };
	struct fc_gen x;
	int rc = rd_version(&r);

	if (rc < 0)
		return rc;
	memset(&x, 0, sizeof(x));
	x.kind = rd_u8(&r);
	x.parent = rd_u64(&r);
	x.created_ns = (int64_t)rd_u64(&r);
	rd_str(&r, rd_u8(&r), FC_CELL_NAME_MAX, x.cell);
	rd_str(&r, rd_u8(&r), FC_CELL_NAME_MAX, x.name);
	rc = rd_finish(&r);
	if (rc < 0)
		return rc;
	if (x.kind < FC_GEN_HEAD || x.kind > FC_GEN_ABANDONED)
		return FC_ECORRUPT;
	*out = x;
	return 0;
}

/* ---- cell ----
 * v1: ver, head u64, root_ino u64, origin u64, base_id u32, created_ns i64. */

size_t fc_cell_encode(const struct fc_cell *in, uint8_t *out, size_t cap)
{
	struct wr w = { out, 0, cap, false };

	wr_u8(&w, FC_REC_V1);
	wr_u64(&w, in->head);
	wr_u64(&w, in->root_ino);
	wr_u64(&w, in->origin);
	wr_u32(&w, in->base_id);
	wr_u64(&w, (uint64_t)in->created_ns);
	return wr_done(&w);
}

int fc_cell_decode(const void *buf, size_t len, struct fc_cell *out)
{
	struct rd r = { buf, len, 0, false };
	struct fc_cell x;
	int rc = rd_version(&r);

	if (rc < 0)
		return rc;
	memset(&x, 0, sizeof(x));
	x.head = rd_u64(&r);
	x.root_ino = rd_u64(&r);
	x.origin = rd_u64(&r);
	x.base_id = rd_u32(&r);
	x.created_ns = (int64_t)rd_u64(&r);
	rc = rd_finish(&r);
	if (rc < 0)
		return rc;
	*out = x;
	return 0;
}

/* ---- names ---- */

int fc_name_check_cell(const char *name, struct fc_diag *d)
{
	size_t n = strnlen(name, FC_CELL_NAME_MAX + 1);
	bool digits = true;

	if (n == 0)
		return fc_diag_set(d, FC_ENAME, "name is empty");
	if (n > FC_CELL_NAME_MAX)
		return fc_diag_set(d, FC_ENAME, "name is longer than %d bytes", FC_CELL_NAME_MAX);
	if (name[0] == '.' || name[0] == '-')
		return fc_diag_set(d, FC_ENAME, "name '%s' starts with '%c'", name, name[0]);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (c >= '0' && c <= '9')
			continue;
		digits = false;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
		    c == '-')
			continue;
		return fc_diag_set(d, FC_ENAME,
				   "name contains byte 0x%02x (allowed: A-Z a-z 0-9 . _ -)",
				   (unsigned char)c);
	}
	if (digits)
		return fc_diag_set(d, FC_ENAME,
				   "name '%s' is all digits (reserved for generation ids)", name);
	return 0;
}

/*
 * Returns 0, -ENAMETOOLONG for a name over FC_NAME_MAX bytes, or -EINVAL
 * (empty, ".", "..", contains '/'): errno values a FUSE handler can reply.
 */
int fc_name_check_file(const char *name)
{
	size_t n = strnlen(name, FC_NAME_MAX + 1);

	if (n == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (n > FC_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}
