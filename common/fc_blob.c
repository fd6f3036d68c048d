/*
 * fc_blob: blob records and blob files, base directories.
 *
 * An own blob's bytes are in STORE/blobs/<xx>/<16 hex id> (xx = low byte of
 * the id). Copies are made in STORE/tmp and renamed into blobs/ before
 * the record naming them is written, so blobs/ never holds a half-copied
 * file; empty blobs are created in place (fc_blob_create). A copy-up
 * clones (FICLONE) where the store's filesystem can, else copies with
 * copy_file_range, skipping holes (SEEK_DATA/SEEK_HOLE).
 *
 * Base blobs are files of an `init --from` directory, read in place until
 * the first write copies them up. They are opened beneath the base
 * directory without following any symlink, and never written or unlinked.
 */
#include "fc_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fc_log.h"
#include "fc_store_int.h"

#define COPY_CHUNK (1 << 20)
#define BOUNCE_SIZE (128 << 10)

void fc_blob_relname(uint64_t id, char out[32])
{
	snprintf(out, 32, "%02x/%016" PRIx64, (unsigned int)(id & 0xff), id);
}

int fc_blob_get(struct fc_txn *t, uint64_t id, struct fc_blob *out)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, d;
	int rc;

	fc_key_u64(kb, id);
	rc = mdb_get(t->txn, t->st->dbi_blob, &k, &d);
	if (rc)
		return fc_mdb_err(rc);
	return fc_blob_decode(d.mv_data, d.mv_size, out);
}

static int blob_put(struct fc_txn *t, uint64_t id, const struct fc_blob *b)
{
	uint8_t kb[8], val[FC_BLOB_ENC_MAX];
	MDB_val k = { 8, kb }, d = { 0, val };

	d.mv_size = fc_blob_encode(b, val, sizeof(val));
	if (d.mv_size == 0)
		return -EINVAL;
	fc_key_u64(kb, id);
	return fc_mdb_err(mdb_put(t->txn, t->st->dbi_blob, &k, &d, 0));
}

int fc_blob_ref(struct fc_txn *t, uint64_t id, int delta)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };
	struct fc_blob b;
	int rc = fc_blob_get(t, id, &b);

	if (rc == -ENOENT) {
		fc_log(FC_LOG_ERR, "blob %" PRIu64 " is referenced but has no record", id);
		return FC_ECORRUPT;
	}
	if (rc < 0)
		return rc;
	if (delta < 0 && b.refcount == 0) {
		fc_log(FC_LOG_ERR, "refcount of blob %" PRIu64 " would drop below 0", id);
		return FC_ECORRUPT;
	}
	b.refcount += (uint64_t)(int64_t)delta;
	if (b.refcount)
		return blob_put(t, id, &b);
	fc_key_u64(kb, id);
	rc = fc_mdb_err(mdb_del(t->txn, t->st->dbi_blob, &k, NULL));
	if (rc == 0 && b.src == FC_BLOB_OWN)
		rc = fc_txn_dead_add(t, id);
	return rc;
}

/* A fresh, uniquely named file in tmp/. */
static int tmp_create(struct fc_store *st, char name[64], int *fd_out)
{
	uint32_t r = 0;
	int fd;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)getpid();
	snprintf(name, 64, "blob.%d.%08x", (int)getpid(), r);
	fd = openat(st->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	*fd_out = fd;
	return 0;
}

/* Move tmp/name to blobs/<relname of id>; the tmp file is gone either way. */
static int tmp_publish(struct fc_store *st, const char *name, uint64_t id)
{
	char rel[32];
	int rc = 0;

	fc_blob_relname(id, rel);
	if (renameat(st->tmp_fd, name, st->blobs_fd, rel) < 0) {
		rc = -errno;
		unlinkat(st->tmp_fd, name, 0);
		fc_log(FC_LOG_ERR, "cannot move blob into '%s': %s", rel, fc_strerror(rc));
	}
	return rc;
}

/* Allocate an id, publish the file and write the record (refcount 0). */
static int blob_finish(struct fc_txn *t, const char *tmpname, uint64_t gen, uint64_t size,
		       uint64_t *id_out)
{
	struct fc_blob b = { .size = size, .birth_gen = gen, .src = FC_BLOB_OWN };
	char rel[32];
	uint64_t id;
	int rc = fc_alloc_blob(t, &id);

	if (rc < 0) {
		unlinkat(t->st->tmp_fd, tmpname, 0);
		return rc;
	}
	rc = tmp_publish(t->st, tmpname, id);
	if (rc < 0)
		return rc;
	rc = blob_put(t, id, &b);
	if (rc < 0) {
		fc_blob_relname(id, rel);
		unlinkat(t->st->blobs_fd, rel, 0);
		return rc;
	}
	*id_out = id;
	return 0;
}

/*
 * An empty file needs no building: it is made under its final name in
 * blobs/, saving the tmp/ file and the rename of every create(2). The id
 * comes from this txn's counter, so no committed record names it; a file
 * already there is the leftover of a txn that died after making it (the
 * counter rolled back) and is simply reused.
 */
int fc_blob_create(struct fc_txn *t, uint64_t gen, uint64_t *id_out, int *fd_out)
{
	struct fc_blob b = { .size = 0, .birth_gen = gen, .src = FC_BLOB_OWN };
	const int fl = O_RDWR | O_NOFOLLOW | O_CLOEXEC;
	char rel[32];
	uint64_t id;
	int fd, rc;

	if (t->rdonly)
		return -EROFS;
	rc = fc_alloc_blob(t, &id);
	if (rc < 0)
		return rc;
	fc_blob_relname(id, rel);
	fd = openat(t->st->blobs_fd, rel, fl | O_CREAT | O_EXCL, 0600);
	if (fd < 0 && errno == EEXIST)
		fd = openat(t->st->blobs_fd, rel, fl | O_TRUNC);
	if (fd < 0)
		return -errno;
	rc = blob_put(t, id, &b);
	if (rc < 0) {
		close(fd);
		unlinkat(t->st->blobs_fd, rel, 0);
		return rc;
	}
	*id_out = id;
	*fd_out = fd;
	return 0;
}

/* Copy [off, off+len) from in to out at the same offset. */
static int copy_range(int in, int out, off_t off, off_t len)
{
	loff_t oi = off, oo = off;
	char *buf = NULL;
	ssize_t n = 0;
	int rc = 0;

	while (len > 0) {
		n = copy_file_range(in, &oi, out, &oo, len < COPY_CHUNK ? (size_t)len : COPY_CHUNK,
				    0);
		if (n <= 0)
			break;
		len -= n;
	}
	if (len <= 0 || n == 0)
		return 0;
	if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	/* Kernels refuse some cross-filesystem copies: bounce through memory. */
	buf = malloc(BOUNCE_SIZE);
	if (!buf)
		return -ENOMEM;
	while (len > 0 && rc == 0) {
		n = pread(in, buf, len < BOUNCE_SIZE ? (size_t)len : BOUNCE_SIZE, oi);
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		for (ssize_t done = 0; done < n && rc == 0;) {
			ssize_t w = pwrite(out, buf + done, (size_t)(n - done), oi + done);

			if (w < 0)
				rc = -errno;
			else
				done += w;
		}
		oi += n;
		len -= n;
	}
	free(buf);
	return rc;
}

/* Copy the data regions of in (size bytes) into the empty file out. */
static int copy_sparse(int in, int out, off_t size, bool reflink)
{
	off_t off = 0, data, hole;
	int rc = 0;

	if (reflink && ioctl(out, FICLONE, in) == 0)
		return 0;
	while (off < size && rc == 0) {
		data = lseek(in, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0)
			data = off; /* no SEEK_DATA support: all data */
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		if (hole > data)
			rc = copy_range(in, out, data, hole - data);
		off = hole > data ? hole : size;
	}
	if (rc == 0 && ftruncate(out, size) < 0)
		rc = -errno;
	return rc;
}

int fc_blob_copyup(struct fc_txn *t, uint64_t src, uint64_t gen, uint64_t *id_out, int *fd_out)
{
	char name[64];
	int in = -1, fd = -1, rc;
	struct stat sb;

	if (t->rdonly)
		return -EROFS;
	rc = fc_blob_open(t->st, t, src, O_RDONLY, &in);
	if (rc < 0)
		return rc;
	if (fstat(in, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	rc = tmp_create(t->st, name, &fd);
	if (rc < 0)
		goto out;
	rc = copy_sparse(in, fd, sb.st_size, t->st->reflink);
	if (rc < 0) {
		unlinkat(t->st->tmp_fd, name, 0);
		fc_log(FC_LOG_ERR, "cannot copy up blob %" PRIu64 ": %s", src, fc_strerror(rc));
		goto out;
	}
	rc = blob_finish(t, name, gen, (uint64_t)sb.st_size, id_out);
out:
	if (in >= 0)
		close(in);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/* Open relpath beneath dirfd following no symlink, with openat2 or a walk. */
static int open_beneath(int dirfd, const char *relpath, int flags, int *fd_out)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char comp[FC_NAME_MAX + 1];
	const char *p = relpath, *slash;
	int cur = dirfd, next, fd;

	fd = (int)syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
		if (fd < 0)
			return -errno;
		*fd_out = fd;
		return 0;
	}
	/* No openat2 (old kernel or seccomp): one O_NOFOLLOW open per component. */
	for (;;) {
		size_t n;

		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > FC_NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			fd = -EINVAL;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (!slash) {
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
			break;
		}
		next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			fd = -errno;
			break;
		}
		if (cur != dirfd)
			close(cur);
		cur = next;
		p = slash + 1;
	}
	if (cur != dirfd)
		close(cur);
	if (fd < 0)
		return fd;
	*fd_out = fd;
	return 0;
}

int fc_blob_open(struct fc_store *st, struct fc_txn *t, uint64_t id, int flags, int *fd_out)
{
	char path[4096], rel[32];
	struct fc_blob b;
	int dfd, fd, rc = fc_blob_get(t, id, &b);

	if (rc < 0)
		return rc;
	flags &= ~(O_CREAT | O_EXCL | O_TMPFILE);
	if (b.src == FC_BLOB_OWN) {
		fc_blob_relname(id, rel);
		fd = openat(st->blobs_fd, rel, flags | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*fd_out = fd;
		return 0;
	}
	/* The base directory is the user's: never write through it. */
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	rc = fc_base_get(t, b.base_id, path, sizeof(path));
	if (rc < 0)
		return rc;
	dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = open_beneath(dfd, b.relpath, flags, fd_out);
	close(dfd);
	return rc;
}

/* ---- base directories: key u64 BE id, value FC_REC_V1 | absolute path ---- */

int fc_base_add(struct fc_txn *t, const char *abspath, uint32_t *id_out)
{
	uint8_t kb[8], val[4096];
	size_t n = strnlen(abspath, sizeof(val));
	MDB_val k = { 8, kb }, d = { n + 1, val };
	uint32_t id;
	int rc;

	if (abspath[0] != '/' || n >= sizeof(val) - 1)
		return -EINVAL;
	rc = fc_alloc_base(t, &id);
	if (rc < 0)
		return rc;
	val[0] = FC_REC_V1;
	memcpy(val + 1, abspath, n);
	fc_key_u64(kb, id);
	rc = fc_mdb_err(mdb_put(t->txn, t->st->dbi_base, &k, &d, 0));
	if (rc < 0)
		return rc;
	*id_out = id;
	return 0;
}

int fc_base_get(struct fc_txn *t, uint32_t id, char *path_out, size_t cap)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, d;
	const uint8_t *p;
	int rc;

	fc_key_u64(kb, id);
	rc = mdb_get(t->txn, t->st->dbi_base, &k, &d);
	if (rc)
		return fc_mdb_err(rc);
	p = d.mv_data;
	if (d.mv_size < 1)
		return FC_ECORRUPT;
	if (p[0] != FC_REC_V1)
		return FC_EVERSION;
	if (d.mv_size < 2 || p[1] != '/' || memchr(p + 1, '\0', d.mv_size - 1))
		return FC_ECORRUPT;
	if (d.mv_size > cap)
		return -ENAMETOOLONG;
	memcpy(path_out, p + 1, d.mv_size - 1);
	path_out[d.mv_size - 1] = '\0';
	return 0;
}

void fc_blob_probe_reflink(struct fc_store *st)
{
	static const char probe[] = "forkcell reflink probe";
	int a = -1, b = -1;

	st->reflink = false;
	a = openat(st->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (a >= 0)
		b = openat(st->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (b >= 0 && write(a, probe, sizeof(probe)) == (ssize_t)sizeof(probe))
		st->reflink = ioctl(b, FICLONE, a) == 0;
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}
