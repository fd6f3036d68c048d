/*
 * fc_codec: pure encoders and decoders for every LMDB key and value of a
 * store. No I/O, no globals, no LMDB calls: fuzzed (tests/fuzz/fuzz_codec.c)
 * and unit tested (tests/unit/t_codec.c).
 *
 * Keys are big-endian so that LMDB's bytewise order is numeric order. Every
 * versioned key ends in ~gen (bitwise NOT of the generation, big-endian), so
 * newer versions of one record sort first and MDB_SET_RANGE on (prefix, ~H)
 * lands on the newest version not newer than H.
 *
 * Values are little-endian and start with a version byte (FC_REC_V1).
 * Decoders are bounds-checked, copy out into caller-owned structs and refuse
 * trailing bytes. See docs/on-disk-format.md for the exact layouts.
 */
#ifndef FC_CODEC_H
#define FC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_err.h"

#define FC_REC_V1 1
#define FC_FORMAT_VERSION 1        /* meta "format" value */
#define FC_NAME_MAX 255            /* a file name component */
#define FC_CELL_NAME_MAX 64        /* cell and checkpoint names */
#define FC_XATTR_NAME_MAX 255
#define FC_XATTR_VALUE_MAX 65536
#define FC_SYMLINK_MAX 4095
#define FC_RELPATH_MAX 4095
#define FC_KEY_MAX 511             /* LMDB's default maximum key size */

/* Identifier of the table a change-log entry refers to. */
enum fc_dbi_id {
	FC_DBI_DIRENT = 1,
	FC_DBI_INODE = 2,
	FC_DBI_XATTR = 3,
	FC_DBI_SYMLINK = 4,
};

/* Kind of a generation. */
enum fc_gen_kind {
	FC_GEN_HEAD = 1,        /* the writable tip of a cell */
	FC_GEN_CHECKPOINT = 2,  /* frozen, named, restorable */
	FC_GEN_ABANDONED = 3,   /* frozen, unreachable by name; gc reclaims it */
};

/* Where a blob's bytes live. */
enum fc_blob_src {
	FC_BLOB_OWN = 0,   /* blobs/<xx>/<16 hex id>, owned by the store */
	FC_BLOB_BASE = 1,  /* a file of an init --from directory, read lazily */
};

struct fc_ts {
	int64_t sec;
	uint32_t nsec;
};

/* An inode version. blob == 0 means "no data" (an empty regular file). */
struct fc_inode {
	uint32_t mode;      /* type and permission bits, as st_mode */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t size;      /* bytes for files, target length for symlinks */
	uint64_t rdev;
	uint32_t flags;     /* reserved, 0 */
	uint64_t blob;      /* blob id, 0 = none */
	uint64_t blob_gen;  /* birth generation of blob (copy-up test without a lookup) */
	struct fc_ts atime;
	struct fc_ts mtime;
	struct fc_ts ctime;
	struct fc_ts btime;
	/* The primary link: the directory and name the inode was created or
	 * last renamed under. Lets diff name a changed inode in O(depth)
	 * without a reverse index. parent 0 = unknown (primary link removed
	 * while other hard links remain); diff then verifies or searches. */
	uint64_t parent;
	char name[FC_NAME_MAX + 1];
};

/* A directory entry version; tomb means "deleted in this generation". */
struct fc_dirent {
	bool tomb;
	uint8_t type;       /* DT_REG, DT_DIR, ... */
	uint64_t ino;
};

struct fc_blob {
	uint64_t refcount;  /* inode versions that name this blob */
	uint64_t size;      /* size when frozen; informational while hot */
	uint64_t birth_gen; /* the generation that may still write it */
	uint8_t src;        /* enum fc_blob_src */
	uint32_t base_id;   /* FC_BLOB_BASE: key of the base table */
	char relpath[FC_RELPATH_MAX + 1]; /* FC_BLOB_BASE: path under the base dir */
};

/*
 * The cell field of the generations of a deleted cell: not a valid cell
 * name, so a new cell of the old name never sees the old checkpoints.
 */
#define FC_GEN_CELL_DELETED "~deleted"

struct fc_gen {
	uint64_t parent;    /* 0 for a root */
	uint8_t kind;       /* enum fc_gen_kind */
	int64_t created_ns; /* CLOCK_REALTIME */
	char cell[FC_CELL_NAME_MAX + 1]; /* the cell that made it */
	char name[FC_CELL_NAME_MAX + 1]; /* checkpoint name, "" if none */
};

struct fc_cell {
	uint64_t head;      /* current head generation */
	uint64_t root_ino;  /* inode of the cell's root directory */
	uint64_t origin;    /* generation it was forked from, 0 if from init */
	uint32_t base_id;   /* base directory of a lazy init, 0 if none */
	int64_t created_ns;
};

/* ---- keys ---- */

/* Encode (ino, ~gen) into out (16 bytes). Returns the length. */
size_t fc_key_ino(uint8_t out[16], uint64_t ino, uint64_t gen);

/*
 * Encode (parent, name, 0, ~gen) into out. name must hold no NUL and be at
 * most FC_NAME_MAX bytes. Returns the length, or 0 if name is invalid.
 * Used by the dirent and xattr tables.
 */
size_t fc_key_named(uint8_t out[FC_KEY_MAX], uint64_t ino, const char *name, uint64_t gen);

/*
 * Split a versioned key: the prefix length (everything before ~gen) and the
 * generation. Returns 0 or FC_ECORRUPT for a key shorter than 16 bytes.
 */
int fc_key_split(const void *key, size_t len, size_t *prefix_len, uint64_t *gen);

/*
 * Decode a named key (dirent, xattr): ino, name (copied, NUL-terminated,
 * name_out has FC_NAME_MAX + 1 bytes) and gen. Returns 0 or FC_ECORRUPT.
 */
int fc_key_named_decode(const void *key, size_t len, uint64_t *ino, char *name_out,
			uint64_t *gen);

/* A change-log key: gen (BE) | dbi id | record prefix. Returns length or 0. */
size_t fc_key_change(uint8_t out[FC_KEY_MAX], uint64_t gen, uint8_t dbi, const void *prefix,
		     size_t prefix_len);
int fc_key_change_decode(const void *key, size_t len, uint64_t *gen, uint8_t *dbi,
			 const uint8_t **prefix, size_t *prefix_len);

/* A big-endian u64 key (gen, blob, base tables). */
void fc_key_u64(uint8_t out[8], uint64_t v);
int fc_key_u64_decode(const void *key, size_t len, uint64_t *v);

/* ---- values ---- */
/*
 * Encoders write into out (capacity cap) and return the length, or 0 when
 * cap is too small. Decoders return 0, FC_EVERSION or FC_ECORRUPT.
 */
#define FC_INODE_ENC_MAX (160 + FC_NAME_MAX)
size_t fc_inode_encode(const struct fc_inode *in, bool tomb, uint8_t *out, size_t cap);
int fc_inode_decode(const void *buf, size_t len, struct fc_inode *out, bool *tomb);

#define FC_DIRENT_ENC_MAX 16
size_t fc_dirent_encode(const struct fc_dirent *in, uint8_t *out, size_t cap);
int fc_dirent_decode(const void *buf, size_t len, struct fc_dirent *out);

/* xattr value: version, tomb flag, bytes. *data borrows from buf. */
size_t fc_xattr_encode(const void *data, size_t len, bool tomb, uint8_t *out, size_t cap);
int fc_xattr_decode(const void *buf, size_t len, const uint8_t **data, size_t *data_len,
		    bool *tomb);

/* symlink target: version, bytes. target_out has FC_SYMLINK_MAX + 1 bytes. */
size_t fc_symlink_encode(const char *target, uint8_t *out, size_t cap);
int fc_symlink_decode(const void *buf, size_t len, char *target_out);

#define FC_BLOB_ENC_MAX (64 + FC_RELPATH_MAX)
size_t fc_blob_encode(const struct fc_blob *in, uint8_t *out, size_t cap);
int fc_blob_decode(const void *buf, size_t len, struct fc_blob *out);

#define FC_GEN_ENC_MAX (64 + 2 * FC_CELL_NAME_MAX)
size_t fc_gen_encode(const struct fc_gen *in, uint8_t *out, size_t cap);
int fc_gen_decode(const void *buf, size_t len, struct fc_gen *out);

#define FC_CELL_ENC_MAX 64
size_t fc_cell_encode(const struct fc_cell *in, uint8_t *out, size_t cap);
int fc_cell_decode(const void *buf, size_t len, struct fc_cell *out);

/* ---- names ---- */

/*
 * Check a cell or checkpoint name: 1..FC_CELL_NAME_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-', not all digits (digits are
 * generation ids). Returns 0 or FC_ENAME with a reason in d.
 */
int fc_name_check_cell(const char *name, struct fc_diag *d);

/* Check a file name component: non-empty, no '/', not "." or "..", <= 255. */
int fc_name_check_file(const char *name);

#endif
