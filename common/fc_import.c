/*
 * fc_import: build a new cell from a directory in one metadata pass.
 *
 * The walk is breadth-first over a queue of directory paths, so at most one
 * directory of the source is open at a time (the fd limit is 20000, trees
 * can be deeper than that) and nothing recurses on the C stack. Every entry
 * costs one fstatat(AT_SYMLINK_NOFOLLOW) plus an llistxattr through the
 * directory fd; file contents are never read: a regular file becomes a base
 * blob that names its path under the source.
 *
 * Generations: the tree is written into a fresh generation R (kind head
 * while it is built, no cell record yet), committed every FC_IMPORT_BATCH
 * entries because one LMDB transaction cannot hold a million files. The last
 * transaction writes the cell record with head R and checkpoints it as
 * "base" (R becomes the checkpoint, a new head H gets parent R). Until then
 * R is unreachable and gc reclaims it after a crash.
 */
#include "fc_import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fc_clock.h"
#include "fc_fileio.h"
#include "fc_store.h"

#define FC_IMPORT_BATCH 20000

struct imp_dir {
	uint64_t ino;
	uint64_t parent;
	char *relpath;      /* "" for the root */
};

struct imp_link {
	dev_t dev;
	ino_t sino;
	uint64_t ino;       /* 0 = empty slot */
	uint32_t count;     /* links seen in the tree */
};

struct imp {
	struct fc_store *st;
	struct fc_txn t;
	struct fc_view v;
	struct fc_diag *d;
	int src_fd;
	uint32_t base_id;
	uint64_t gen;
	uint64_t batch;
	struct imp_dir *q;
	size_t q_head, q_len, q_cap;
	struct imp_link *links;
	size_t n_links, cap_links;
	struct fc_import_stats stats;
	char *xbuf;         /* FC_XATTR_VALUE_MAX scratch for values */
	char *xlist;        /* listxattr scratch */
};

static struct fc_ts imp_ts(const struct timespec *ts)
{
	struct fc_ts r = { .sec = ts->tv_sec, .nsec = (uint32_t)ts->tv_nsec };

	return r;
}

static void imp_fill_inode(struct fc_inode *in, const struct stat *sb, uint64_t parent,
			   const char *name)
{
	memset(in, 0, sizeof(*in));
	in->mode = sb->st_mode;
	in->uid = sb->st_uid;
	in->gid = sb->st_gid;
	in->nlink = 1;
	in->size = S_ISREG(sb->st_mode) ? (uint64_t)sb->st_size : 0;
	in->rdev = (S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode)) ? sb->st_rdev : 0;
	in->atime = imp_ts(&sb->st_atim);
	in->mtime = imp_ts(&sb->st_mtim);
	in->ctime = imp_ts(&sb->st_ctim);
	in->btime = in->ctime;
	in->parent = parent;
	snprintf(in->name, sizeof(in->name), "%s", name);
}

static uint8_t imp_dtype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return DT_REG;
	case S_IFDIR: return DT_DIR;
	case S_IFLNK: return DT_LNK;
	case S_IFIFO: return DT_FIFO;
	case S_IFCHR: return DT_CHR;
	case S_IFBLK: return DT_BLK;
	case S_IFSOCK: return DT_SOCK;
	default: return DT_UNKNOWN;
	}
}

/* Commit the running batch and start the next transaction when it is full. */
static int imp_tick(struct imp *im)
{
	int rc;

	if (++im->batch < FC_IMPORT_BATCH)
		return 0;
	im->batch = 0;
	rc = fc_txn_commit(&im->t);
	if (rc < 0)
		return rc;
	return fc_txn_begin(im->st, false, &im->t);
}

static int imp_queue_push(struct imp *im, uint64_t ino, uint64_t parent, char *relpath)
{
	if (im->q_len == im->q_cap) {
		size_t ncap = im->q_cap ? im->q_cap * 2 : 256;
		struct imp_dir *nq;

		/* Compact the consumed head before growing. */
		if (im->q_head > 0) {
			memmove(im->q, im->q + im->q_head,
				(im->q_len - im->q_head) * sizeof(*im->q));
			im->q_len -= im->q_head;
			im->q_head = 0;
		}
		if (im->q_len == im->q_cap) {
			nq = realloc(im->q, ncap * sizeof(*nq));
			if (!nq)
				return -ENOMEM;
			im->q = nq;
			im->q_cap = ncap;
		}
	}
	im->q[im->q_len].ino = ino;
	im->q[im->q_len].parent = parent;
	im->q[im->q_len].relpath = relpath;
	im->q_len++;
	return 0;
}

static size_t imp_link_slot(const struct imp *im, dev_t dev, ino_t sino)
{
	size_t h = (size_t)((sino * 0x9e3779b97f4a7c15ULL) ^ dev) & (im->cap_links - 1);

	while (im->links[h].ino &&
	       (im->links[h].dev != dev || im->links[h].sino != sino))
		h = (h + 1) & (im->cap_links - 1);
	return h;
}

static int imp_link_grow(struct imp *im)
{
	struct imp_link *old = im->links;
	size_t ocap = im->cap_links, i;

	im->cap_links = ocap ? ocap * 2 : 1024;
	im->links = calloc(im->cap_links, sizeof(*im->links));
	if (!im->links) {
		im->links = old;
		im->cap_links = ocap;
		return -ENOMEM;
	}
	for (i = 0; i < ocap; i++)
		if (old[i].ino)
			im->links[imp_link_slot(im, old[i].dev, old[i].sino)] = old[i];
	free(old);
	return 0;
}

/* Copy the xattrs of the file (fd, or path when fd < 0) onto ino. */
static int imp_xattrs(struct imp *im, int fd, const char *path, uint64_t ino)
{
	ssize_t n = fd >= 0 ? flistxattr(fd, im->xlist, FC_XATTR_VALUE_MAX)
			    : llistxattr(path, im->xlist, FC_XATTR_VALUE_MAX);
	const char *name;
	int rc;

	if (n < 0)
		return (errno == ENOTSUP || errno == EPERM || errno == ENOENT) ? 0 : -errno;
	for (name = im->xlist; name < im->xlist + n; name += strlen(name) + 1) {
		ssize_t vn = fd >= 0 ? fgetxattr(fd, name, im->xbuf, FC_XATTR_VALUE_MAX)
				     : lgetxattr(path, name, im->xbuf, FC_XATTR_VALUE_MAX);

		if (vn < 0) {
			if (errno == ENODATA || errno == ENOTSUP || errno == EPERM)
				continue;
			return -errno;
		}
		if (strlen(name) > FC_XATTR_NAME_MAX)
			continue;
		rc = fc_xattr_put(&im->t, &im->v, ino, name, im->xbuf, (size_t)vn);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Register a base blob for the regular file at relpath. */
static int imp_base_blob(struct imp *im, const char *relpath, uint64_t size, uint64_t *id_out)
{
	struct fc_blob b;
	uint8_t key[8], val[FC_BLOB_ENC_MAX];
	MDB_val k = { sizeof(key), key }, v;
	uint64_t id;
	int rc = fc_alloc_blob(&im->t, &id);

	if (rc < 0)
		return rc;
	memset(&b, 0, sizeof(b));
	b.size = size;
	b.birth_gen = im->gen;
	b.src = FC_BLOB_BASE;
	b.base_id = im->base_id;
	snprintf(b.relpath, sizeof(b.relpath), "%s", relpath);
	v.mv_size = fc_blob_encode(&b, val, sizeof(val));
	v.mv_data = val;
	if (v.mv_size == 0)
		return FC_ELIMIT;
	fc_key_u64(key, id);
	rc = fc_mdb_err(mdb_put(im->t.txn, im->st->dbi_blob, &k, &v, MDB_NOOVERWRITE));
	if (rc == 0)
		*id_out = id;
	return rc;
}

/* A hard link to an inode already imported: add the entry, count the link. */
static int imp_known_link(struct imp *im, const struct stat *sb, uint64_t parent,
			  const char *name, bool *done)
{
	struct fc_dirent de = { .type = imp_dtype(sb->st_mode) };
	size_t h;

	*done = false;
	if (S_ISDIR(sb->st_mode) || sb->st_nlink < 2 || !im->cap_links)
		return 0;
	h = imp_link_slot(im, sb->st_dev, sb->st_ino);
	if (!im->links[h].ino)
		return 0;
	im->links[h].count++;
	de.ino = im->links[h].ino;
	*done = true;
	return fc_dirent_put(&im->t, &im->v, parent, name, &de);
}

static int imp_remember_link(struct imp *im, const struct stat *sb, uint64_t ino)
{
	size_t h;
	int rc;

	if (S_ISDIR(sb->st_mode) || sb->st_nlink < 2)
		return 0;
	if ((im->n_links + 1) * 2 > im->cap_links && (rc = imp_link_grow(im)) < 0)
		return rc;
	h = imp_link_slot(im, sb->st_dev, sb->st_ino);
	im->links[h] = (struct imp_link){ sb->st_dev, sb->st_ino, ino, 1 };
	im->n_links++;
	return 0;
}

static int imp_join(const char *dir, const char *name, char **out)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p;

	if (a + b + 1 > FC_RELPATH_MAX)
		return -ENAMETOOLONG;
	p = malloc(a + b + 2);
	if (!p)
		return -ENOMEM;
	if (a)
		memcpy(p, dir, a);
	if (a)
		p[a++] = '/';
	memcpy(p + a, name, b + 1);
	*out = p;
	return 0;
}

/* The data of a non-directory: a base blob, a symlink target, or nothing. */
static int imp_data(struct imp *im, int dfd, const char *name, const char *rel, uint64_t ino,
		    struct fc_inode *in)
{
	char target[FC_SYMLINK_MAX + 1];
	ssize_t n;

	if (S_ISREG(in->mode)) {
		int rc = 0;

		im->stats.files++;
		im->stats.bytes += in->size;
		if (in->size > 0)
			rc = imp_base_blob(im, rel, in->size, &in->blob);
		in->blob_gen = in->blob ? im->gen : 0;
		return rc;
	}
	if (!S_ISLNK(in->mode)) {
		im->stats.specials++;
		return 0;
	}
	n = readlinkat(dfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	in->size = (uint64_t)n;
	im->stats.symlinks++;
	return fc_symlink_put(&im->t, &im->v, ino, target);
}

/* Import one non-directory entry, or queue a directory. */
static int imp_entry(struct imp *im, int dfd, const struct imp_dir *dir, const char *name,
		     uint32_t *subdirs)
{
	char xpath[64 + NAME_MAX];
	struct fc_inode in;
	struct fc_dirent de = { 0 };
	struct stat sb;
	char *rel = NULL;
	bool done;
	int rc;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;   /* vanished under us */
	if (strlen(name) > FC_NAME_MAX)
		return -ENAMETOOLONG;
	rc = imp_known_link(im, &sb, dir->ino, name, &done);
	if (rc < 0 || done)
		return rc;
	rc = imp_join(dir->relpath, name, &rel);
	if (rc < 0)
		return fc_diag_set(im->d, rc, "path too long under the source: '%s/%s'",
				   dir->relpath, name);
	de.type = imp_dtype(sb.st_mode);
	rc = fc_alloc_ino(&im->t, &de.ino);
	if (rc == 0)
		rc = fc_dirent_put(&im->t, &im->v, dir->ino, name, &de);
	if (rc < 0)
		goto out;
	if (S_ISDIR(sb.st_mode)) {
		(*subdirs)++;
		rc = imp_queue_push(im, de.ino, dir->ino, rel);
		if (rc == 0)
			rel = NULL;
		goto out;
	}
	imp_fill_inode(&in, &sb, dir->ino, name);
	rc = imp_data(im, dfd, name, rel, de.ino, &in);
	if (rc == 0)
		rc = fc_inode_put(&im->t, &im->v, de.ino, &in);
	if (rc == 0)
		rc = imp_remember_link(im, &sb, de.ino);
	snprintf(xpath, sizeof(xpath), "/proc/self/fd/%d/%s", dfd, name);
	if (rc == 0)
		rc = imp_xattrs(im, -1, xpath, de.ino);
out:
	free(rel);
	return rc;
}

/* Import the directory at the head of the queue: its entries, then itself. */
static int imp_dir(struct imp *im, const struct imp_dir *dir)
{
	struct fc_inode in;
	struct dirent *e;
	struct stat sb;
	uint32_t subdirs = 0;
	const char *base;
	DIR *dp = NULL;
	int fd, rc = 0;

	if (dir->relpath[0]) {
		fd = fc_open_beneath(im->src_fd, dir->relpath, O_RDONLY | O_DIRECTORY, 0);
	} else {
		fd = openat(im->src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
	}
	if (fd < 0) {
		rc = fd;
		return fc_diag_set(im->d, rc, "cannot open '%s' under the source: %s",
				   dir->relpath, fc_strerror(rc));
	}
	if (fstat(fd, &sb) < 0 || !(dp = fdopendir(fd))) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		e = readdir(dp);
		if (!e) {
			rc = errno ? -errno : 0;
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		rc = imp_entry(im, dirfd(dp), dir, e->d_name, &subdirs);
		if (rc == 0)
			rc = imp_tick(im);
		if (rc < 0)
			break;
	}
	base = strrchr(dir->relpath, '/');
	base = base ? base + 1 : dir->relpath;
	imp_fill_inode(&in, &sb, dir->parent, base);
	in.nlink = 2 + subdirs;
	im->stats.dirs++;
	if (rc == 0)
		rc = fc_inode_put(&im->t, &im->v, dir->ino, &in);
	if (rc == 0)
		rc = imp_xattrs(im, dirfd(dp), NULL, dir->ino);
	closedir(dp);
	return rc;
}

/* Hard links: the link count is the number of entries inside the tree. */
static int imp_fix_links(struct imp *im)
{
	struct fc_inode in;
	size_t i;
	int rc;

	for (i = 0; i < im->cap_links; i++) {
		if (!im->links[i].ino || im->links[i].count == 1)
			continue;
		rc = fc_inode_get(&im->t, &im->v, im->links[i].ino, &in);
		if (rc < 0)
			return rc;
		in.nlink = im->links[i].count;
		rc = fc_inode_put(&im->t, &im->v, im->links[i].ino, &in);
		if (rc == 0)
			rc = imp_tick(im);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Open and check the source directory; record its real path as a base. */
static int imp_open_source(struct imp *im, const char *srcpath)
{
	struct stat sb;
	char *real = NULL;
	int rc;

	im->src_fd = open(srcpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im->src_fd < 0) {
		rc = -errno;
		if (stat(srcpath, &sb) == 0 && !S_ISDIR(sb.st_mode))
			return fc_diag_set(im->d, -ENOTDIR, "source '%s' is not a directory",
					   srcpath);
		if (rc == -ENOENT)
			return fc_diag_set(im->d, rc, "source '%s' does not exist", srcpath);
		return fc_diag_set(im->d, rc, "cannot open source '%s': %s", srcpath,
				   fc_strerror(rc));
	}
	real = realpath(srcpath, NULL);
	if (!real)
		return fc_diag_set(im->d, -errno, "cannot resolve source '%s'", srcpath);
	rc = fc_base_add(&im->t, real, &im->base_id);
	if (rc < 0)
		fc_diag_set(im->d, rc, "cannot register base '%s': %s", real, fc_strerror(rc));
	free(real);
	return rc;
}

static int64_t imp_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* First transaction: the base, the root generation, the root inode. */
static int imp_begin(struct imp *im, const char *cell, const char *srcpath, uint64_t *root_ino)
{
	struct fc_cell c;
	struct fc_gen g;
	int rc = fc_txn_begin(im->st, false, &im->t);

	if (rc < 0)
		return fc_diag_set(im->d, rc, "cannot write the store: %s", fc_strerror(rc));
	rc = fc_cell_get(&im->t, cell, &c);
	if (rc == 0)
		return fc_diag_set(im->d, FC_EEXIST, "cell '%s' already exists", cell);
	if (rc != -ENOENT && rc != FC_ENOCELL)
		return rc;
	rc = imp_open_source(im, srcpath);
	if (rc < 0)
		return rc;
	memset(&g, 0, sizeof(g));
	g.kind = FC_GEN_HEAD;
	g.created_ns = imp_realtime_ns();
	snprintf(g.cell, sizeof(g.cell), "%s", cell);
	rc = fc_alloc_gen(&im->t, &im->gen);
	if (rc == 0)
		rc = fc_gen_put(&im->t, im->gen, &g);
	if (rc == 0)
		rc = fc_view_load(&im->t, im->gen, NULL, &im->v);
	if (rc == 0)
		rc = fc_alloc_ino(&im->t, root_ino);
	/* R is the head of a cell still being built: writable by us only. */
	im->v.writable = true;
	return rc;
}

/* Last transaction: the cell record, then the "base" checkpoint. */
static int imp_finish(struct imp *im, const char *cell, uint64_t root_ino)
{
	struct fc_cell c;
	uint64_t ckpt = 0, head = 0;
	int rc = imp_fix_links(im);

	if (rc < 0)
		return rc;
	if (fc_cell_get(&im->t, cell, &c) == 0)
		return fc_diag_set(im->d, FC_EEXIST, "cell '%s' already exists", cell);
	memset(&c, 0, sizeof(c));
	c.head = im->gen;
	c.root_ino = root_ino;
	c.base_id = im->base_id;
	c.created_ns = imp_realtime_ns();
	rc = fc_cell_put(&im->t, cell, &c);
	if (rc == 0)
		rc = fc_cell_checkpoint(&im->t, cell, "base", &ckpt, &head, im->d);
	if (rc == 0)
		rc = fc_txn_commit(&im->t);
	if (rc == 0)
		rc = fc_store_sync(im->st);
	im->stats.root_gen = ckpt;
	im->stats.head = head;
	return rc;
}

int fc_import_dir(struct fc_store *st, const char *cell, const char *srcpath,
		  struct fc_import_stats *stats, struct fc_diag *d)
{
	struct imp im;
	int64_t t0 = fc_mono_ns();
	uint64_t root_ino = 0;
	int rc;

	memset(&im, 0, sizeof(im));
	im.st = st;
	im.d = d;
	im.src_fd = -1;
	rc = fc_name_check_cell(cell, d);
	if (rc < 0)
		return rc;
	im.xbuf = malloc(FC_XATTR_VALUE_MAX);
	im.xlist = malloc(FC_XATTR_VALUE_MAX);
	if (!im.xbuf || !im.xlist) {
		rc = -ENOMEM;
		goto out;
	}
	rc = imp_begin(&im, cell, srcpath, &root_ino);
	if (rc == 0) {
		char *root = strdup("");

		rc = root ? imp_queue_push(&im, root_ino, 0, root) : -ENOMEM;
		if (rc < 0)
			free(root);
	}
	while (rc == 0 && im.q_head < im.q_len) {
		struct imp_dir dir = im.q[im.q_head++];

		rc = imp_dir(&im, &dir);
		free(dir.relpath);
	}
	if (rc == 0)
		rc = imp_finish(&im, cell, root_ino);
	if (rc < 0 && d && !d->msg[0])
		fc_diag_set(d, rc, "cannot import '%s': %s", srcpath, fc_strerror(rc));
	if (rc == 0) {
		im.stats.duration_ns = fc_mono_ns() - t0;
		*stats = im.stats;
	}
out:
	fc_txn_abort(&im.t);
	fc_view_release(&im.v);
	while (im.q_head < im.q_len)
		free(im.q[im.q_head++].relpath);
	free(im.q);
	free(im.links);
	free(im.xbuf);
	free(im.xlist);
	if (im.src_fd >= 0)
		close(im.src_fd);
	return rc;
}
