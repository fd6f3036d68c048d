/*
 * fc_store: open, create and close a store; transactions; counters.
 *
 * Opening checks, in order: the directory exists (or is created), it holds
 * meta/data.mdb (or, when creating, nothing but our own layout), LMDB can
 * read the file (MDB_INVALID -> FC_ECORRUPT), the environment carries our
 * magic (FC_EFOREIGN) and format version (FC_EVERSION). A fresh store is
 * initialised in one write transaction, so a crash while creating leaves
 * either nothing or a complete store. Stale files in tmp/ are left to gc:
 * a daemon may be using tmp/ while another process opens the store.
 */
#include "fc_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fc_log.h"
#include "fc_store_int.h"

#define STORE_MAGIC "forkcell-store"  /* stored with its NUL: 15 bytes */
#define STORE_MAPSIZE (256ULL << 30)
#define STORE_MAXDBS 16
#define STORE_MAXREADERS 256

/* Subdirectories a store may hold before meta/ exists (an interrupted create). */
static const char *const layout_dirs[] = { "meta", "blobs", "tmp", "run" };

/* The tables after "meta", in the order they are opened (fixed: handles
 * are then the same small integers in every store). */
static const char *const dbi_names[] = {
	"dirent", "inode", "xattr", "symlink", "blob", "changes", "gen", "branch", "base",
};

int64_t fc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* mkdir -p with mode 0700 for every directory created. */
static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

static int mkdirat_ok(int dfd, const char *name)
{
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* meta/, blobs/00..ff, tmp/, run/ (existing ones are kept). */
static int store_make_layout(int root_fd)
{
	char sub[16];
	int rc = 0;

	for (size_t i = 0; i < sizeof(layout_dirs) / sizeof(layout_dirs[0]) && rc == 0; i++)
		rc = mkdirat_ok(root_fd, layout_dirs[i]);
	for (unsigned int i = 0; i < 256 && rc == 0; i++) {
		snprintf(sub, sizeof(sub), "blobs/%02x", i);
		rc = mkdirat_ok(root_fd, sub);
	}
	return rc;
}

/* True when dir holds nothing but (parts of) our own layout. */
static int store_dir_is_blank(int root_fd, bool *blank)
{
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *dir;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	*blank = true;
	while ((e = readdir(dir)) != NULL) {
		bool ours = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");

		for (size_t i = 0; i < sizeof(layout_dirs) / sizeof(layout_dirs[0]); i++)
			ours = ours || !strcmp(e->d_name, layout_dirs[i]);
		if (!ours)
			*blank = false;
	}
	closedir(dir);
	return 0;
}

static int open_subdir(int root_fd, const char *name, int *out)
{
	int fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*out = fd;
	return 0;
}

/* Open (and when asked create) the directory and its layout. */
static int store_dirs(struct fc_store *st, const char *path, int flags, struct fc_diag *d)
{
	bool create = (flags & FC_STORE_CREATE) && !st->rdonly;
	bool blank = false, fresh = false;
	struct stat sb;
	int rc;

	if (create && (rc = mkdir_parents(path)) < 0)
		return fc_diag_set(d, rc, "cannot create store '%s': %s", path, fc_strerror(rc));
	st->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st->root_fd < 0) {
		rc = -errno;
		if (rc == -ENOTDIR)
			return fc_diag_set(d, FC_EFOREIGN, "'%s' is not a forkcell store", path);
		return fc_diag_set(d, rc, "cannot open store '%s': %s", path, fc_strerror(rc));
	}
	st->path = realpath(path, NULL);
	if (!st->path)
		return -errno;
	if (fstatat(st->root_fd, "meta/data.mdb", &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (!create)
			return fc_diag_set(d, FC_EFOREIGN,
					   "'%s' is not a forkcell store (no meta/data.mdb)", path);
		rc = store_dir_is_blank(st->root_fd, &blank);
		if (rc < 0)
			return fc_diag_set(d, rc, "cannot read '%s': %s", path, fc_strerror(rc));
		if (!blank)
			return fc_diag_set(d, FC_EFOREIGN,
					   "'%s' is not empty and not a forkcell store", path);
		fresh = true;
	} else if (!S_ISREG(sb.st_mode)) {
		return fc_diag_set(d, FC_EFOREIGN, "'%s/meta/data.mdb' is not a regular file",
				   path);
	}
	/* data.mdb is made after the layout, so an existing one implies it. */
	if (fresh && (rc = store_make_layout(st->root_fd)) < 0)
		return fc_diag_set(d, rc, "cannot create the layout of '%s': %s", path,
				   fc_strerror(rc));
	return 0;
}

/* Open blobs/, tmp/ and run/ of a verified store. */
static int store_subdirs(struct fc_store *st, struct fc_diag *d)
{
	int rc = open_subdir(st->root_fd, "blobs", &st->blobs_fd);

	if (rc < 0)
		return fc_diag_set(d, rc, "cannot open '%s/blobs': %s", st->path, fc_strerror(rc));
	/* tmp/ and run/ are only needed by writers. */
	if (open_subdir(st->root_fd, "tmp", &st->tmp_fd) < 0 && !st->rdonly)
		return fc_diag_set(d, -errno, "cannot open '%s/tmp': %m", st->path);
	if (open_subdir(st->root_fd, "run", &st->run_fd) < 0 && !st->rdonly)
		return fc_diag_set(d, -errno, "cannot open '%s/run': %m", st->path);
	return 0;
}

static int store_env_open(struct fc_store *st, struct fc_diag *d)
{
	unsigned int fl = MDB_NOSYNC | MDB_NOMETASYNC | (st->rdonly ? MDB_RDONLY : 0);
	char *meta = NULL;
	int rc;

	rc = mdb_env_create(&st->env);
	if (rc)
		return fc_diag_set(d, fc_mdb_err(rc), "cannot create LMDB environment: %s",
				   mdb_strerror(rc));
	if ((rc = mdb_env_set_mapsize(st->env, STORE_MAPSIZE)) ||
	    (rc = mdb_env_set_maxdbs(st->env, STORE_MAXDBS)) ||
	    (rc = mdb_env_set_maxreaders(st->env, STORE_MAXREADERS)))
		return fc_diag_set(d, fc_mdb_err(rc), "cannot configure LMDB: %s",
				   mdb_strerror(rc));
	if (asprintf(&meta, "%s/meta", st->path) < 0)
		return -ENOMEM;
	rc = mdb_env_open(st->env, meta, fl, 0600);
	if (rc == MDB_INVALID)
		rc = fc_diag_set(d, FC_ECORRUPT, "'%s/data.mdb' is not a valid LMDB file", meta);
	else if (rc == MDB_VERSION_MISMATCH)
		rc = fc_diag_set(d, FC_EVERSION, "'%s/data.mdb' has an unsupported LMDB version",
				 meta);
	else if (rc)
		rc = fc_diag_set(d, fc_mdb_err(rc), "cannot open '%s': %s", meta,
				 mdb_strerror(rc));
	free(meta);
	return rc;
}

static int meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *val, size_t len)
{
	MDB_val k = { strlen(key), (void *)key };
	MDB_val v = { len, (void *)val };

	return fc_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

static int meta_put_le(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t val, size_t width)
{
	uint8_t b[8];

	for (size_t i = 0; i < width; i++)
		b[i] = (uint8_t)(val >> (8 * i));
	return meta_put(txn, dbi, key, b, width);
}

/* Write magic, format, id and counters into a fresh meta table. */
static int store_init_meta(struct fc_store *st, MDB_txn *txn)
{
	int rc;

	if (getrandom(st->store_id, sizeof(st->store_id), 0) != sizeof(st->store_id))
		return -EIO;
	if ((rc = meta_put(txn, st->dbi_meta, "magic", STORE_MAGIC, sizeof(STORE_MAGIC))) ||
	    (rc = meta_put_le(txn, st->dbi_meta, "format", FC_FORMAT_VERSION, 4)) ||
	    (rc = meta_put(txn, st->dbi_meta, "store_id", st->store_id, 16)) ||
	    (rc = meta_put_le(txn, st->dbi_meta, "next_ino", 2, 8)) ||
	    (rc = meta_put_le(txn, st->dbi_meta, "next_gen", 1, 8)) ||
	    (rc = meta_put_le(txn, st->dbi_meta, "next_blob", 1, 8)) ||
	    (rc = meta_put_le(txn, st->dbi_meta, "next_base", 1, 4)))
		return rc;
	return 0;
}

/* Check magic, format and store id of an existing meta table. */
static int meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, MDB_val *v)
{
	MDB_val k = { strlen(key), (void *)key };

	return mdb_get(txn, dbi, &k, v);
}

static int store_check_meta(struct fc_store *st, MDB_txn *txn, struct fc_diag *d)
{
	MDB_val v;
	uint32_t fmt = 0;

	if (meta_get(txn, st->dbi_meta, "magic", &v) || v.mv_size != sizeof(STORE_MAGIC) ||
	    memcmp(v.mv_data, STORE_MAGIC, sizeof(STORE_MAGIC)))
		return fc_diag_set(d, FC_EFOREIGN, "'%s' is not a forkcell store (bad magic)",
				   st->path);
	if (meta_get(txn, st->dbi_meta, "format", &v) || v.mv_size != 4)
		return fc_diag_set(d, FC_ECORRUPT, "store '%s' has no valid format record",
				   st->path);
	for (int i = 0; i < 4; i++)
		fmt |= (uint32_t)((const uint8_t *)v.mv_data)[i] << (8 * i);
	if (fmt != FC_FORMAT_VERSION)
		return fc_diag_set(d, FC_EVERSION,
				   "store '%s' has format %u, this build reads format %u", st->path,
				   fmt, FC_FORMAT_VERSION);
	if (meta_get(txn, st->dbi_meta, "store_id", &v) || v.mv_size != 16)
		return fc_diag_set(d, FC_ECORRUPT, "store '%s' has no valid store id", st->path);
	memcpy(st->store_id, v.mv_data, 16);
	return 0;
}

static int store_open_dbis(struct fc_store *st, MDB_txn *txn, unsigned int fl,
			   struct fc_diag *d)
{
	MDB_dbi *dbis[] = {
		&st->dbi_dirent, &st->dbi_inode, &st->dbi_xattr, &st->dbi_symlink, &st->dbi_blob,
		&st->dbi_changes, &st->dbi_gen, &st->dbi_branch, &st->dbi_base,
	};

	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
		int rc = mdb_dbi_open(txn, dbi_names[i], fl, dbis[i]);

		if (rc == MDB_NOTFOUND)
			return fc_diag_set(d, FC_ECORRUPT, "store '%s' has no '%s' table",
					   st->path, dbi_names[i]);
		if (rc)
			return fc_diag_set(d, fc_mdb_err(rc), "cannot open table '%s': %s",
					   dbi_names[i], mdb_strerror(rc));
	}
	return 0;
}

/*
 * Open the tables in one transaction (a write one when a fresh store may
 * need initialising) and verify or write the meta records. Returns 1 when
 * the environment is empty and write was false: retry with write.
 */
static int store_tables(struct fc_store *st, bool write, struct fc_diag *d)
{
	MDB_txn *txn = NULL;
	MDB_dbi main_dbi;
	MDB_stat ms;
	bool fresh = false;
	int rc;

	rc = fc_mdb_err(mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &txn));
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read store '%s': %s", st->path, fc_strerror(rc));
	rc = mdb_dbi_open(txn, "meta", 0, &st->dbi_meta);
	if (rc == MDB_NOTFOUND) {
		rc = fc_mdb_err(mdb_dbi_open(txn, NULL, 0, &main_dbi));
		if (rc == 0)
			rc = fc_mdb_err(mdb_stat(txn, main_dbi, &ms));
		if (rc < 0)
			goto out;
		if (ms.ms_entries != 0) {
			rc = fc_diag_set(d, FC_EFOREIGN,
					 "'%s' holds an LMDB database that is not a forkcell store",
					 st->path);
			goto out;
		}
		if (!write) {
			rc = 1;
			goto out;
		}
		fresh = true;
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->dbi_meta);
	}
	if ((rc = fc_mdb_err(rc)) < 0)
		goto out;
	rc = fresh ? store_init_meta(st, txn) : store_check_meta(st, txn, d);
	if (rc == 0)
		rc = store_open_dbis(st, txn, fresh ? MDB_CREATE : 0, d);
	if (rc == 0) {
		rc = fc_mdb_err(mdb_txn_commit(txn));
		txn = NULL;
	}
	if (rc == 0 && fresh)
		rc = fc_mdb_err(mdb_env_sync(st->env, 1));
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

int fc_store_open(const char *path, int flags, struct fc_store **out, struct fc_diag *d)
{
	struct fc_store *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	st->root_fd = st->blobs_fd = st->tmp_fd = st->run_fd = -1;
	st->rdonly = flags & FC_STORE_RDONLY;
	rc = store_dirs(st, path, flags, d);
	if (rc == 0)
		rc = store_env_open(st, d);
	if (rc == 0)
		rc = store_tables(st, false, d);
	if (rc == 1) {
		if ((flags & FC_STORE_CREATE) && !st->rdonly)
			rc = store_tables(st, true, d);
		else
			rc = fc_diag_set(d, FC_EFOREIGN,
					 "'%s' is not a forkcell store (not initialised)", path);
	}
	if (rc == 0)
		rc = store_subdirs(st, d);
	if (rc < 0) {
		fc_store_close(st);
		return rc;
	}
	if (!st->rdonly)
		fc_blob_probe_reflink(st);
	*out = st;
	return 0;
}

void fc_store_close(struct fc_store *st)
{
	if (!st)
		return;
	if (st->env)
		mdb_env_close(st->env);
	if (st->root_fd >= 0)
		close(st->root_fd);
	if (st->blobs_fd >= 0)
		close(st->blobs_fd);
	if (st->tmp_fd >= 0)
		close(st->tmp_fd);
	if (st->run_fd >= 0)
		close(st->run_fd);
	free(st->path);
	free(st);
}

int fc_store_sync(struct fc_store *st)
{
	if (st->rdonly)
		return 0;
	return fc_mdb_err(mdb_env_sync(st->env, 1));
}

int fc_store_default_path(const char *opt, char **out)
{
	const char *home;
	char *p = NULL;

	if (opt && *opt) {
		p = strdup(opt);
	} else if ((home = getenv("FORKCELL_HOME")) && *home) {
		p = strdup(home);
	} else {
		home = getenv("HOME");
		if (!home || *home != '/')
			return -ENOENT;
		if (asprintf(&p, "%s/.local/share/forkcell", home) < 0)
			p = NULL;
	}
	if (!p)
		return -ENOMEM;
	*out = p;
	return 0;
}

/* ---- transactions ---- */

MDB_dbi fc_store_dbi(const struct fc_store *st, int dbi_id)
{
	switch (dbi_id) {
	case FC_DBI_DIRENT:
		return st->dbi_dirent;
	case FC_DBI_INODE:
		return st->dbi_inode;
	case FC_DBI_XATTR:
		return st->dbi_xattr;
	default:
		return st->dbi_symlink;
	}
}

int fc_txn_begin(struct fc_store *st, bool rdonly, struct fc_txn *out)
{
	MDB_txn *txn = NULL;
	int rc;

	if (!rdonly && st->rdonly)
		return -EROFS;
	rc = mdb_txn_begin(st->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return fc_mdb_err(rc);
	memset(out, 0, sizeof(*out));
	out->txn = txn;
	out->st = st;
	out->rdonly = rdonly;
	return 0;
}

/*
 * Read-only cursors are cached per thread and renewed for each new read
 * transaction (mdb_cursor_renew: no allocation). The thread owns them, a
 * read txn only borrows them, so a txn that is reset or dropped without
 * fc_txn_commit/abort (fs/ reuses MDB_txn objects) leaks nothing. DBI
 * handles are the same small integers in every store (tables are opened
 * in a fixed order), so a cached cursor is valid for any store. Write
 * txns own their cursors and close them at commit/abort.
 */
static __thread MDB_cursor *rd_cursors[4];
static pthread_key_t rd_key;
static pthread_once_t rd_once = PTHREAD_ONCE_INIT;

static void rd_cursors_free(void *unused)
{
	for (size_t i = 0; i < 4; i++) {
		if (rd_cursors[i])
			mdb_cursor_close(rd_cursors[i]);
		rd_cursors[i] = NULL;
	}
}

static void rd_key_init(void)
{
	if (pthread_key_create(&rd_key, rd_cursors_free) != 0)
		FC_BUG("cannot create the cursor cache key");
}

static int rd_cursor(struct fc_txn *t, int dbi_id, MDB_cursor **out)
{
	MDB_cursor **c = &rd_cursors[dbi_id - 1];
	int rc;

	if (*c && mdb_cursor_dbi(*c) == fc_store_dbi(t->st, dbi_id) &&
	    mdb_cursor_renew(t->txn, *c) == 0) {
		*out = *c;
		return 0;
	}
	if (*c)
		mdb_cursor_close(*c);
	*c = NULL;
	rc = mdb_cursor_open(t->txn, fc_store_dbi(t->st, dbi_id), c);
	if (rc)
		return fc_mdb_err(rc);
	pthread_once(&rd_once, rd_key_init);
	pthread_setspecific(rd_key, rd_cursors); /* any non-NULL: run the destructor */
	*out = *c;
	return 0;
}

int fc_txn_cursor(struct fc_txn *t, int dbi_id, MDB_cursor **out)
{
	MDB_cursor **c = &t->cur[dbi_id - 1];
	int rc;

	if (!*c) {
		if (t->rdonly)
			rc = rd_cursor(t, dbi_id, c);
		else
			rc = fc_mdb_err(mdb_cursor_open(t->txn, fc_store_dbi(t->st, dbi_id), c));
		if (rc < 0)
			return rc;
	}
	*out = *c;
	return 0;
}

void fc_txn_close_cursors(struct fc_txn *t)
{
	for (size_t i = 0; i < sizeof(t->cur) / sizeof(t->cur[0]); i++) {
		if (t->cur[i] && !t->rdonly)
			mdb_cursor_close(t->cur[i]);
		t->cur[i] = NULL;
	}
}

int fc_txn_dead_add(struct fc_txn *t, uint64_t blob_id)
{
	if (t->n_dead == t->cap_dead) {
		size_t cap = t->cap_dead ? 2 * t->cap_dead : 8;
		uint64_t *p = realloc(t->dead_blobs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->dead_blobs = p;
		t->cap_dead = cap;
	}
	t->dead_blobs[t->n_dead++] = blob_id;
	return 0;
}

static void txn_release(struct fc_txn *t)
{
	free(t->dead_blobs);
	t->dead_blobs = NULL;
	t->n_dead = t->cap_dead = 0;
	t->txn = NULL;
}

int fc_txn_commit(struct fc_txn *t)
{
	char name[32];
	int rc;

	if (!t->txn) {
		txn_release(t);
		return -EINVAL;
	}
	fc_txn_close_cursors(t);
	rc = fc_mdb_err(mdb_txn_commit(t->txn));
	t->txn = NULL;
	for (size_t i = 0; rc == 0 && i < t->n_dead; i++) {
		fc_blob_relname(t->dead_blobs[i], name);
		if (unlinkat(t->st->blobs_fd, name, 0) < 0 && errno != ENOENT)
			fc_log(FC_LOG_WARN, "cannot remove dead blob '%s': %m", name);
	}
	txn_release(t);
	return rc;
}

void fc_txn_abort(struct fc_txn *t)
{
	if (!t)
		return;
	fc_txn_close_cursors(t);
	if (t->txn)
		mdb_txn_abort(t->txn);
	txn_release(t);
}

int fc_txn_check_write(const struct fc_txn *t, const struct fc_view *v)
{
	if (t->rdonly || !v->writable)
		return -EROFS;
	return 0;
}

/* ---- counters ---- */

static int counter_next(struct fc_txn *t, const char *key, size_t width, uint64_t *out)
{
	MDB_val v;
	uint64_t cur = 0;
	int rc;

	if (t->rdonly)
		return -EROFS;
	rc = meta_get(t->txn, t->st->dbi_meta, key, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != width))
		return FC_ECORRUPT;
	if (rc)
		return fc_mdb_err(rc);
	for (size_t i = 0; i < width; i++)
		cur |= (uint64_t)((const uint8_t *)v.mv_data)[i] << (8 * i);
	if (cur == 0 || (width == 4 && cur == UINT32_MAX) || cur == UINT64_MAX)
		return FC_ELIMIT;
	rc = meta_put_le(t->txn, t->st->dbi_meta, key, cur + 1, width);
	if (rc < 0)
		return rc;
	*out = cur;
	return 0;
}

int fc_alloc_ino(struct fc_txn *t, uint64_t *out)
{
	return counter_next(t, "next_ino", 8, out);
}

int fc_alloc_gen(struct fc_txn *t, uint64_t *out)
{
	return counter_next(t, "next_gen", 8, out);
}

int fc_alloc_blob(struct fc_txn *t, uint64_t *out)
{
	return counter_next(t, "next_blob", 8, out);
}

int fc_alloc_base(struct fc_txn *t, uint32_t *out)
{
	uint64_t v;
	int rc = counter_next(t, "next_base", 4, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}
