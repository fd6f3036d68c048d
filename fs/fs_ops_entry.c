/*
 * fs_ops_entry: FUSE handlers for names and attributes: lookup, getattr,
 * setattr, readlink, mknod/mkdir/symlink/create, link, unlink, rmdir,
 * statfs. Rename lives in fs_rename.c.
 *
 * Every modifying handler is one LMDB write txn. The kernel checks
 * permissions itself (default_permissions), including the sticky bit.
 * atime is never updated on read (noatime semantics): an atime write per
 * read would cost a write txn each.
 */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fc_log.h"

static int fs_name_ok(const char *name)
{
	if (strlen(name) > FC_NAME_MAX)
		return -ENAMETOOLONG;
	return fc_name_check_file(name) < 0 ? -EINVAL : 0;
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fuse_entry_param e;
	struct fc_dirent de;
	struct fc_txn t = { 0 };
	int rc;

	rc = strlen(name) > FC_NAME_MAX ? -ENAMETOOLONG : fs_rtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fc_dirent_get(&t, &ctx->view, fs_ino(ctx, parent), name, &de);
		if (rc == 0) {
			rc = fs_entry_fill(ctx, &t, de.ino, &e);
			if (rc == -ENOENT)
				rc = -EIO; /* a dirent naming no inode */
		} else if (rc == -ENOENT) {
			/* Negative entry, cached by the kernel for the full timeout. */
			memset(&e, 0, sizeof(e));
			e.entry_timeout = FS_TIMEOUT;
			rc = 1;
		}
		fs_rtxn_end(&t);
	}
	if (rc == 0)
		rc = fs_inode_lookup_inc(ctx, de.ino);
	if (rc >= 0)
		fuse_reply_entry(req, &e);
	else
		fs_reply_err(req, rc);
	fs_req_end(ctx);
}

/* Read ino (with its overlay) and reply its attributes. */
static void fs_reply_attr(struct fs_ctx *ctx, fuse_req_t req, uint64_t ino)
{
	struct fc_txn t = { 0 };
	struct fc_inode rec;
	struct fs_inode *ent;
	struct stat st;
	int rc;

	rc = fs_rtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fc_inode_get(&t, &ctx->view, ino, &rec);
		fs_rtxn_end(&t);
	}
	if (rc == -ENOENT)
		rc = -ESTALE;
	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	ent = fs_inode_find(ctx, ino);
	fs_attr_fill(ctx, ino, &rec, ent, &st);
	fs_inode_unref(ctx, ent);
	fuse_reply_attr(req, &st, FS_TIMEOUT);
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);

	fs_reply_attr(ctx, req, fs_ino(ctx, ino));
	fs_req_end(ctx);
}

/*
 * Mode, owner and times go to the overlay (fs_attr.c); a directory's are
 * written at once, since creating in it reads them from LMDB.
 */
static int fs_setattr_meta(struct fs_ctx *ctx, struct fs_inode *ent, const struct stat *attr,
			   int to_set)
{
	struct fc_txn t = { 0 };
	struct fc_inode rec;
	int rc;

	rc = fs_rtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_inode_get(&t, &ctx->view, ent->ino, &rec);
	fs_rtxn_end(&t);
	if (rc < 0)
		return rc == -ENOENT ? -ESTALE : rc;
	fs_dirty_setattr(ctx, ent, attr, to_set);
	return S_ISDIR(rec.mode) ? fs_dirty_flush_one(ctx, ent) : 0;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t nodeid, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fs_inode *ent = NULL;
	int rc;

	rc = ctx->ro ? -EROFS : fs_inode_ref(ctx, fs_ino(ctx, nodeid), true, &ent);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		rc = attr->st_size < 0 ? -EINVAL : fs_io_truncate(ctx, ent, (uint64_t)attr->st_size);
	}
	if (rc == 0 && (to_set & ~FUSE_SET_ATTR_SIZE))
		rc = fs_setattr_meta(ctx, ent, attr, to_set);
	if (rc == 0)
		fs_reply_attr(ctx, req, ent->ino);
	else
		fs_reply_err(req, rc);
	fs_inode_unref(ctx, ent);
	fs_req_end(ctx);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	char target[FC_SYMLINK_MAX + 1];
	struct fc_txn t = { 0 };
	int rc;

	rc = fs_rtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fc_symlink_get(&t, &ctx->view, fs_ino(ctx, ino), target);
		fs_rtxn_end(&t);
	}
	if (rc == -ENOENT)
		rc = -EINVAL;
	if (rc == 0)
		fuse_reply_readlink(req, target);
	else
		fs_reply_err(req, rc);
	fs_req_end(ctx);
}

/* A new inode record owned by the caller of req, under directory prec. */
static void fs_rec_new(fuse_req_t req, const struct fc_inode *prec, uint64_t parent,
		       const char *name, mode_t mode, struct fc_inode *rec)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);

	memset(rec, 0, sizeof(*rec));
	rec->mode = mode;
	rec->uid = fc->uid;
	rec->gid = fc->gid;
	if (prec->mode & S_ISGID) {
		rec->gid = prec->gid;
		if (S_ISDIR(mode))
			rec->mode |= S_ISGID;
	}
	rec->nlink = S_ISDIR(mode) ? 2 : 1;
	rec->atime = fs_now();
	rec->mtime = rec->ctime = rec->btime = rec->atime;
	rec->parent = parent;
	snprintf(rec->name, sizeof(rec->name), "%s", name);
}

/* Directory prec of parent got an entry added (dir: one more subdir). */
static int fs_parent_touch(struct fs_ctx *ctx, struct fc_txn *t, uint64_t parent,
			   struct fc_inode *prec, int nlink_delta)
{
	prec->nlink = (uint32_t)((int64_t)prec->nlink + nlink_delta);
	prec->mtime = fs_now();
	prec->ctime = prec->mtime;
	return fc_inode_put(t, &ctx->view, parent, prec);
}

/* Load parent (must be a directory) and check that name is free in it. */
static int fs_parent_load(struct fs_ctx *ctx, struct fc_txn *t, uint64_t parent, const char *name,
			  struct fc_inode *prec)
{
	struct fc_dirent de;
	int rc;

	rc = fc_inode_get(t, &ctx->view, parent, prec);
	if (rc == -ENOENT)
		return -ESTALE;
	if (rc < 0)
		return rc;
	if (!S_ISDIR(prec->mode))
		return -ENOTDIR;
	if (prec->nlink == 0)
		return -ENOENT;
	rc = fc_dirent_get(t, &ctx->view, parent, name, &de);
	if (rc == 0)
		return -EEXIST;
	return rc == -ENOENT ? 0 : rc;
}

/*
 * Make a new inode named name in parent; on success fill e (no lookup
 * counted). With fd_out (a regular file), the file gets its empty hot blob
 * in the same txn and *fd_out is its writable fd, so the first write needs
 * neither a txn nor an open.
 */
static int fs_mknode(fuse_req_t req, struct fs_ctx *ctx, uint64_t parent, const char *name,
		     mode_t mode, dev_t rdev, const char *target, struct fuse_entry_param *e,
		     int *fd_out, struct fc_inode *rec_out)
{
	struct fc_txn t = { 0 };
	struct fc_inode prec, rec;
	struct fc_dirent de = { 0 };
	uint64_t ino = 0;
	int fd = -1, rc;

	rc = fs_name_ok(name);
	if (rc == 0)
		rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fs_parent_load(ctx, &t, parent, name, &prec);
	if (rc == 0)
		rc = fc_alloc_ino(&t, &ino);
	if (rc < 0)
		goto out;
	fs_rec_new(req, &prec, parent, name, mode, &rec);
	rec.rdev = rdev;
	if (target) {
		rec.size = strlen(target);
		rc = fc_symlink_put(&t, &ctx->view, ino, target);
	}
	if (rc == 0 && fd_out) {
		rc = fc_blob_create(&t, ctx->view.head, &rec.blob, &fd);
		rec.blob_gen = ctx->view.head;
	}
	if (rc == 0)
		rc = fc_inode_put(&t, &ctx->view, ino, &rec);
	de.type = IFTODT(mode);
	de.ino = ino;
	if (rc == 0)
		rc = fc_dirent_put(&t, &ctx->view, parent, name, &de);
	if (rc == 0)
		rc = fs_parent_touch(ctx, &t, parent, &prec, S_ISDIR(mode) ? 1 : 0);
out:
	if (rc == 0)
		rc = fc_txn_commit(&t);
	else
		fc_txn_abort(&t);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (fd_out)
		*fd_out = fd;
	if (rec_out)
		*rec_out = rec;
	memset(e, 0, sizeof(*e));
	fs_attr_fill(ctx, ino, &rec, NULL, &e->attr);
	e->ino = ino;
	e->attr_timeout = FS_TIMEOUT;
	e->entry_timeout = FS_TIMEOUT;
	return 0;
}

static void fs_reply_new(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 dev_t rdev, const char *target)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fuse_entry_param e;
	struct fs_inode *ent = NULL;
	struct fc_inode rec;
	int fd = -1;
	/* New names take metadata space: leave the reserve to unlink/rename. */
	int rc = fs_space_check(ctx, 0);

	/* open(O_CREAT) of a regular file arrives here too (we have no create). */
	if (rc == 0)
		rc = fs_mknode(req, ctx, fs_ino(ctx, parent), name, mode, rdev, target, &e,
			       S_ISREG(mode) ? &fd : NULL, &rec);
	if (rc == 0)
		rc = fs_inode_ref(ctx, e.ino, true, &ent);
	if (rc == 0 && fd >= 0) {
		fs_io_adopt(ctx, ent, fd, rec.blob, rec.blob_gen);
		fd = -1;
	}
	if (rc == 0)
		rc = fs_inode_lookup_inc(ctx, e.ino);
	if (rc == 0)
		fuse_reply_entry(req, &e);
	else
		fs_reply_err(req, rc);
	if (fd >= 0)
		close(fd);
	fs_inode_unref(ctx, ent);
	fs_req_end(ctx);
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fs_reply_new(req, parent, name, mode, rdev, NULL);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fs_reply_new(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	if (strlen(link) > FC_SYMLINK_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	fs_reply_new(req, parent, name, S_IFLNK | 0777, 0, link);
}

static int fs_link_txn(struct fs_ctx *ctx, uint64_t ino, uint64_t newparent, const char *newname,
		       struct fc_inode *rec)
{
	struct fc_txn t = { 0 };
	struct fc_inode prec;
	struct fc_dirent de = { 0 };
	int rc;

	rc = fs_name_ok(newname);
	if (rc == 0)
		rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fs_parent_load(ctx, &t, newparent, newname, &prec);
	if (rc == 0)
		rc = fc_inode_get(&t, &ctx->view, ino, rec);
	if (rc == 0 && S_ISDIR(rec->mode))
		rc = -EPERM;
	if (rc == 0 && rec->nlink == 0)
		rc = -ENOENT;
	if (rc < 0)
		goto out;
	rec->nlink++;
	rec->ctime = fs_now();
	if (rec->parent == 0) {
		rec->parent = newparent;
		snprintf(rec->name, sizeof(rec->name), "%s", newname);
	}
	de.type = IFTODT(rec->mode);
	de.ino = ino;
	rc = fc_inode_put(&t, &ctx->view, ino, rec);
	if (rc == 0)
		rc = fc_dirent_put(&t, &ctx->view, newparent, newname, &de);
	if (rc == 0)
		rc = fs_parent_touch(ctx, &t, newparent, &prec, 0);
out:
	if (rc == 0)
		return fc_txn_commit(&t);
	fc_txn_abort(&t);
	return rc;
}

void fs_op_link(fuse_req_t req, fuse_ino_t nodeid, fuse_ino_t newparent, const char *newname)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	uint64_t ino = fs_ino(ctx, nodeid);
	struct fuse_entry_param e;
	struct fc_inode rec;
	struct fs_inode *ent;
	int rc;

	rc = fs_space_check(ctx, 0);
	if (rc == 0)
		rc = fs_link_txn(ctx, ino, fs_ino(ctx, newparent), newname, &rec);
	if (rc == 0) {
		memset(&e, 0, sizeof(e));
		ent = fs_inode_find(ctx, ino);
		fs_attr_fill(ctx, ino, &rec, ent, &e.attr);
		fs_inode_unref(ctx, ent);
		e.ino = fs_nodeid(ctx, ino);
		e.attr_timeout = FS_TIMEOUT;
		e.entry_timeout = FS_TIMEOUT;
		rc = fs_inode_lookup_inc(ctx, ino);
	}
	if (rc == 0)
		fuse_reply_entry(req, &e);
	else
		fs_reply_err(req, rc);
	fs_req_end(ctx);
}

/*
 * Remove the entry parent/name (a directory iff dir). The victim loses a
 * link; at 0 its record stays (nlink 0) until the kernel forgets it and
 * the last handle closes, so unlinked-but-open files keep working.
 */
static int fs_remove_txn(struct fs_ctx *ctx, uint64_t parent, const char *name, bool dir,
			 uint64_t *victim)
{
	struct fc_txn t = { 0 };
	struct fc_inode prec, rec;
	struct fc_dirent de;
	bool gone;
	int rc;

	rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_inode_get(&t, &ctx->view, parent, &prec);
	if (rc == 0)
		rc = fc_dirent_get(&t, &ctx->view, parent, name, &de);
	if (rc == 0)
		rc = fc_inode_get(&t, &ctx->view, de.ino, &rec);
	if (rc < 0)
		goto out;
	if (dir && !S_ISDIR(rec.mode))
		rc = -ENOTDIR;
	else if (!dir && S_ISDIR(rec.mode))
		rc = -EISDIR;
	else if (dir)
		rc = fc_dir_check_empty(&t, &ctx->view, de.ino);
	if (rc < 0)
		goto out;
	rec.nlink = dir ? 0 : rec.nlink - (rec.nlink > 0);
	rec.ctime = fs_now();
	if (rec.parent == parent && strcmp(rec.name, name) == 0) {
		rec.parent = 0;
		rec.name[0] = '\0';
	}
	/*
	 * The last link: delete the inode in this txn (one commit instead of
	 * two) unless it is a regular file the kernel still references, which
	 * may be open (we are not told of opens): that one keeps its record
	 * with nlink 0 until the kernel forgets it. Other kinds have no data
	 * to read through a handle.
	 */
	gone = rec.nlink == 0 && (!S_ISREG(rec.mode) || !fs_inode_known(ctx, de.ino));
	if (gone)
		rc = fs_gen_inode_delete(ctx, &t, de.ino);
	else
		rc = fc_inode_put(&t, &ctx->view, de.ino, &rec);
	if (rc == 0)
		rc = fc_dirent_del(&t, &ctx->view, parent, name);
	if (rc == 0)
		rc = fs_parent_touch(ctx, &t, parent, &prec, dir ? -1 : 0);
	*victim = rec.nlink == 0 && !gone ? de.ino : 0;
out:
	if (rc == 0)
		return fc_txn_commit(&t);
	fc_txn_abort(&t);
	return rc;
}

static void fs_reply_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	uint64_t victim = 0;
	int rc;

	rc = fs_remove_txn(ctx, fs_ino(ctx, parent), name, dir, &victim);
	if (rc == 0 && victim) {
		fs_inode_mark_orphan(ctx, victim);
		/* Not known to the kernel (or already forgotten): reap now. */
		fs_inode_reap_check(ctx, victim);
	}
	fs_reply_err(req, rc);
	fs_req_end(ctx);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_reply_remove(req, parent, name, false);
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_reply_remove(req, parent, name, true);
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct statvfs sv;

	if (fstatvfs(ctx->st->blobs_fd, &sv) < 0) {
		fuse_reply_err(req, errno);
	} else {
		sv.f_namemax = FC_NAME_MAX;
		fuse_reply_statfs(req, &sv);
	}
	fs_req_end(ctx);
}
