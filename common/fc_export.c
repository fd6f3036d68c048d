/*
 * fc_export: write a view's tree into an empty directory.
 *
 * Breadth-first over a queue of directories (one open directory fd at a
 * time, no recursion). Every entry is created relative to its parent's fd
 * with O_EXCL/O_NOFOLLOW semantics. File bytes are copied data-extent by
 * data-extent (SEEK_DATA/SEEK_HOLE + copy_file_range) so holes stay holes.
 * Directory metadata (mode, owner, times, xattrs) is applied last, after
 * their contents exist, so a read-only directory mode or an mtime is not
 * disturbed by the creation of its entries.
 */
#include "fc_export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fc_fileio.h"

#define FC_XATTR_LIST_MAX 65536

struct xdir {
	uint64_t ino;
	char *relpath;          /* "" for the root */
};

struct xlink {
	uint64_t ino;
	char *relpath;
};

struct xport {
	struct fc_store *st;
	struct fc_txn *t;
	const struct fc_view *v;
	struct fc_diag *d;
	int root_fd;
	bool root;              /* running as root: apply owners */
	struct xdir *dirs;      /* every directory; [q..n) still to fill */
	size_t q, n_dirs, cap_dirs;
	struct xlink *links;    /* first exported path of multi-link inodes (hash) */
	size_t n_links, cap_links;
	struct fc_export_stats stats;
	char *xbuf, *xlist;
};

struct xent {
	char name[FC_NAME_MAX + 1];
	struct fc_dirent de;
};

struct xent_list {
	struct xent *e;
	size_t n, cap;
};

static int xent_add(void *arg, const char *name, const struct fc_dirent *de)
{
	struct xent_list *l = arg;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		struct xent *ne = realloc(l->e, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		l->e = ne;
		l->cap = ncap;
	}
	snprintf(l->e[l->n].name, sizeof(l->e[l->n].name), "%s", name);
	l->e[l->n].de = *de;
	l->n++;
	return 0;
}

static int xjoin(const char *dir, const char *name, char **out)
{
	if (dir[0])
		return asprintf(out, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
	*out = strdup(name);
	return *out ? 0 : -ENOMEM;
}

/* Copy the data extents of in to out; holes stay holes. */
static int copy_sparse(int in, int out, uint64_t size)
{
	off_t pos = 0, end;

	while ((uint64_t)pos < size) {
		off_t data = lseek(in, pos, SEEK_DATA);

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		end = lseek(in, data, SEEK_HOLE);
		if (end < 0)
			return -errno;
		if ((uint64_t)end > size)
			end = (off_t)size;
		pos = data;
		while (pos < end) {
			off_t opos = pos;
			ssize_t n = copy_file_range(in, &pos, out, &opos, (size_t)(end - pos), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO;   /* the blob is shorter than its record */
		}
	}
	return 0;
}

/* Set xattrs of ino on fd, or on path (lsetxattr) when fd < 0. */
static int x_xattrs(struct xport *x, uint64_t ino, int fd, const char *path)
{
	size_t len = 0, vlen = 0;
	const char *name;
	int rc = fc_xattr_list(x->t, x->v, ino, x->xlist, FC_XATTR_LIST_MAX, &len);

	for (name = x->xlist; rc == 0 && name < x->xlist + len; name += strlen(name) + 1) {
		rc = fc_xattr_get(x->t, x->v, ino, name, x->xbuf, FC_XATTR_VALUE_MAX, &vlen);
		if (rc < 0)
			break;
		if ((fd >= 0 ? fsetxattr(fd, name, x->xbuf, vlen, 0)
			     : lsetxattr(path, name, x->xbuf, vlen, 0)) < 0 &&
		    errno != ENOTSUP && errno != EPERM)
			rc = -errno;
	}
	return rc;
}

static void ts_to(const struct fc_inode *in, struct timespec ts[2])
{
	ts[0].tv_sec = in->atime.sec;
	ts[0].tv_nsec = in->atime.nsec;
	ts[1].tv_sec = in->mtime.sec;
	ts[1].tv_nsec = in->mtime.nsec;
}

/* Owner, mode, xattrs, times of an open file or directory. */
static int x_meta_fd(struct xport *x, uint64_t ino, const struct fc_inode *in, int fd)
{
	struct timespec ts[2];
	int rc = 0;

	if (x->root && fchown(fd, in->uid, in->gid) < 0)
		rc = -errno;
	if (rc == 0 && fchmod(fd, in->mode & 07777) < 0)
		rc = -errno;
	if (rc == 0)
		rc = x_xattrs(x, ino, fd, NULL);
	ts_to(in, ts);
	if (rc == 0 && futimens(fd, ts) < 0)
		rc = -errno;
	return rc;
}

static int x_file(struct xport *x, int dfd, const char *name, uint64_t ino,
		  const struct fc_inode *in)
{
	int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int bfd = -1, rc = 0;

	if (out < 0)
		return -errno;
	if (in->blob && in->size > 0) {
		rc = fc_blob_open(x->st, x->t, in->blob, O_RDONLY, &bfd);
		if (rc == 0)
			rc = copy_sparse(bfd, out, in->size);
	}
	if (rc == 0 && ftruncate(out, (off_t)in->size) < 0)
		rc = -errno;
	if (rc == 0)
		rc = x_meta_fd(x, ino, in, out);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (bfd >= 0)
		close(bfd);
	x->stats.files++;
	x->stats.bytes += in->size;
	return rc;
}

/* Symlinks and special files: no fd to hold, so *at calls without following. */
static int x_node(struct xport *x, int dfd, const char *name, uint64_t ino,
		  const struct fc_inode *in)
{
	char target[FC_SYMLINK_MAX + 1], path[64 + FC_NAME_MAX];
	struct timespec ts[2];
	int rc = 0;

	if (S_ISLNK(in->mode)) {
		rc = fc_symlink_get(x->t, x->v, ino, target);
		if (rc == 0 && symlinkat(target, dfd, name) < 0)
			rc = -errno;
		x->stats.symlinks++;
	} else {
		if (mknodat(dfd, name, in->mode & (S_IFMT | 07777), (dev_t)in->rdev) < 0)
			rc = -errno;
		if (rc == 0 && fchmodat(dfd, name, in->mode & 07777, 0) < 0)
			rc = -errno;
		x->stats.specials++;
	}
	if (rc == 0 && x->root && fchownat(dfd, name, in->uid, in->gid, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dfd, name);
	if (rc == 0)
		rc = x_xattrs(x, ino, -1, path);
	ts_to(in, ts);
	if (rc == 0 && utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	return rc;
}

/* Multi-link inodes: open addressing on ino, so a tree of hard links stays linear. */
static size_t x_link_slot(const struct xport *x, uint64_t ino)
{
	size_t h = (size_t)(ino * 0x9e3779b97f4a7c15ULL) & (x->cap_links - 1);

	while (x->links[h].ino && x->links[h].ino != ino)
		h = (h + 1) & (x->cap_links - 1);
	return h;
}

static const char *x_link_find(const struct xport *x, uint64_t ino)
{
	return x->cap_links ? x->links[x_link_slot(x, ino)].relpath : NULL;
}

static int x_link_add(struct xport *x, uint64_t ino, const char *relpath)
{
	size_t h;

	if ((x->n_links + 1) * 2 > x->cap_links) {
		struct xlink *old = x->links;
		size_t ocap = x->cap_links;

		x->cap_links = ocap ? ocap * 2 : 64;
		x->links = calloc(x->cap_links, sizeof(*x->links));
		if (!x->links) {
			x->links = old;
			x->cap_links = ocap;
			return -ENOMEM;
		}
		for (size_t i = 0; i < ocap; i++)
			if (old[i].ino)
				x->links[x_link_slot(x, old[i].ino)] = old[i];
		free(old);
	}
	h = x_link_slot(x, ino);
	x->links[h].relpath = strdup(relpath);
	if (!x->links[h].relpath)
		return -ENOMEM;
	x->links[h].ino = ino;
	x->n_links++;
	return 0;
}

static int x_dir_push(struct xport *x, uint64_t ino, char *relpath)
{
	if (x->n_dirs == x->cap_dirs) {
		size_t ncap = x->cap_dirs ? x->cap_dirs * 2 : 64;
		struct xdir *nd = realloc(x->dirs, ncap * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		x->dirs = nd;
		x->cap_dirs = ncap;
	}
	x->dirs[x->n_dirs].ino = ino;
	x->dirs[x->n_dirs].relpath = relpath;
	x->n_dirs++;
	return 0;
}

static int x_entry(struct xport *x, int dfd, const char *dirpath, const struct xent *e)
{
	struct fc_inode in;
	const char *first;
	char *rel = NULL;
	int rc = xjoin(dirpath, e->name, &rel);

	if (rc == 0)
		rc = fc_inode_get(x->t, x->v, e->de.ino, &in);
	if (rc < 0)
		goto out;
	if (S_ISDIR(in.mode)) {
		if (mkdirat(dfd, e->name, 0700) < 0) {
			rc = -errno;
			goto out;
		}
		rc = x_dir_push(x, e->de.ino, rel);
		if (rc == 0)
			rel = NULL;
		goto out;
	}
	first = in.nlink > 1 ? x_link_find(x, e->de.ino) : NULL;
	if (first) {
		if (linkat(x->root_fd, first, dfd, e->name, 0) < 0)
			rc = -errno;
		x->stats.links++;
		goto out;
	}
	if (S_ISREG(in.mode))
		rc = x_file(x, dfd, e->name, e->de.ino, &in);
	else
		rc = x_node(x, dfd, e->name, e->de.ino, &in);
	if (rc == 0 && in.nlink > 1)
		rc = x_link_add(x, e->de.ino, rel);
out:
	if (rc < 0 && x->d && !x->d->msg[0])
		fc_diag_set(x->d, rc, "cannot export '%s/%s': %s", dirpath, e->name,
			    fc_strerror(rc));
	free(rel);
	return rc;
}

static int x_open_dir(struct xport *x, const char *relpath)
{
	int fd;

	if (relpath[0])
		return fc_open_beneath(x->root_fd, relpath, O_RDONLY | O_DIRECTORY, 0);
	fd = openat(x->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Create the entries of directory x->dirs[i]. */
static int x_fill_dir(struct xport *x, size_t i)
{
	struct xent_list l = { 0 };
	uint64_t ino = x->dirs[i].ino;
	char *path = x->dirs[i].relpath;
	int dfd = x_open_dir(x, path);
	int rc = dfd < 0 ? dfd : 0;

	if (rc == 0)
		rc = fc_dirent_iter(x->t, x->v, ino, NULL, xent_add, &l);
	for (size_t k = 0; rc == 0 && k < l.n; k++)
		rc = x_entry(x, dfd, path, &l.e[k]);
	x->stats.dirs++;
	free(l.e);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* Apply directory metadata, deepest first, once all contents exist. */
static int x_finish_dirs(struct xport *x)
{
	struct fc_inode in;
	size_t i = x->n_dirs;
	int rc = 0;

	while (rc == 0 && i-- > 0) {
		int fd = x_open_dir(x, x->dirs[i].relpath);

		if (fd < 0)
			return fd;
		rc = fc_inode_get(x->t, x->v, x->dirs[i].ino, &in);
		if (rc == 0)
			rc = x_meta_fd(x, x->dirs[i].ino, &in, fd);
		close(fd);
	}
	return rc;
}

int fc_export(struct fc_store *st, struct fc_txn *t, const struct fc_view *v, int dirfd,
	      struct fc_export_stats *stats, struct fc_diag *d)
{
	struct xport x = { .st = st, .t = t, .v = v, .d = d, .root_fd = dirfd };
	char *root = strdup("");
	size_t i;
	int rc = root ? 0 : -ENOMEM;

	x.root = geteuid() == 0;
	x.xbuf = malloc(FC_XATTR_VALUE_MAX);
	x.xlist = malloc(FC_XATTR_LIST_MAX);
	if (!x.xbuf || !x.xlist)
		rc = -ENOMEM;
	if (rc == 0)
		rc = x_dir_push(&x, v->root_ino, root);
	if (rc == 0)
		root = NULL;
	for (x.q = 0; rc == 0 && x.q < x.n_dirs; x.q++)
		rc = x_fill_dir(&x, x.q);
	if (rc == 0)
		rc = x_finish_dirs(&x);
	if (rc == 0)
		*stats = x.stats;
	else if (d && !d->msg[0])
		fc_diag_set(d, rc, "export failed: %s", fc_strerror(rc));
	for (i = 0; i < x.n_dirs; i++)
		free(x.dirs[i].relpath);
	for (i = 0; i < x.cap_links; i++)
		free(x.links[i].relpath);
	free(x.dirs);
	free(x.links);
	free(x.xbuf);
	free(x.xlist);
	free(root);
	return rc;
}
