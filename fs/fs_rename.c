/*
 * fs_rename: rename(2) and renameat2(2) with RENAME_NOREPLACE and
 * RENAME_EXCHANGE, in one LMDB write txn.
 *
 * A replaced target loses a link (a directory target must be empty and
 * loses all of them); a directory that changes parents moves one link
 * ("..") from the old parent's nlink to the new one's. The moved inode's
 * primary link (parent, name) follows it, so diff can name it.
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fc_log.h"

struct fs_ren {
	uint64_t p1, p2;            /* old and new parent */
	const char *n1, *n2;        /* old and new name */
	struct fc_inode pr1, pr2;   /* parent records; pr2 unused when p1 == p2 */
	struct fc_inode *np;        /* the new parent's record: &pr1 or &pr2 */
	struct fc_dirent d1, d2;    /* source and (if have2) target entries */
	struct fc_inode r1, r2;     /* source and (if have2) target inodes */
	bool have2;
	uint64_t victim;            /* target inode that lost its last link */
};

static void fs_set_link(struct fc_inode *rec, uint64_t parent, const char *name)
{
	rec->parent = parent;
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	rec->ctime = fs_now();
}

static int fs_ren_load(struct fs_ctx *ctx, struct fc_txn *t, struct fs_ren *r)
{
	int rc;

	rc = fc_inode_get(t, &ctx->view, r->p1, &r->pr1);
	if (rc == 0 && r->p2 != r->p1)
		rc = fc_inode_get(t, &ctx->view, r->p2, &r->pr2);
	if (rc < 0)
		return rc == -ENOENT ? -ESTALE : rc;
	r->np = r->p2 == r->p1 ? &r->pr1 : &r->pr2;
	if (!S_ISDIR(r->pr1.mode) || !S_ISDIR(r->np->mode))
		return -ENOTDIR;
	rc = fc_dirent_get(t, &ctx->view, r->p1, r->n1, &r->d1);
	if (rc == 0)
		rc = fc_inode_get(t, &ctx->view, r->d1.ino, &r->r1);
	if (rc < 0)
		return rc;
	rc = fc_dirent_get(t, &ctx->view, r->p2, r->n2, &r->d2);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = fc_inode_get(t, &ctx->view, r->d2.ino, &r->r2);
	r->have2 = rc == 0;
	return rc;
}

static int fs_ren_exchange(struct fs_ctx *ctx, struct fc_txn *t, struct fs_ren *r)
{
	int rc;

	rc = fc_dirent_put(t, &ctx->view, r->p1, r->n1, &r->d2);
	if (rc == 0)
		rc = fc_dirent_put(t, &ctx->view, r->p2, r->n2, &r->d1);
	fs_set_link(&r->r1, r->p2, r->n2);
	fs_set_link(&r->r2, r->p1, r->n1);
	if (rc == 0)
		rc = fc_inode_put(t, &ctx->view, r->d1.ino, &r->r1);
	if (rc == 0)
		rc = fc_inode_put(t, &ctx->view, r->d2.ino, &r->r2);
	if (r->p1 != r->p2 && S_ISDIR(r->r1.mode)) {
		r->pr1.nlink--;
		r->np->nlink++;
	}
	if (r->p1 != r->p2 && S_ISDIR(r->r2.mode)) {
		r->np->nlink--;
		r->pr1.nlink++;
	}
	return rc;
}

/* The target exists and is replaced: it loses the link (p2, n2). */
static int fs_ren_replace(struct fs_ctx *ctx, struct fc_txn *t, struct fs_ren *r)
{
	int rc = 0;

	if (S_ISDIR(r->r1.mode)) {
		if (!S_ISDIR(r->r2.mode))
			return -ENOTDIR;
		rc = fc_dir_check_empty(t, &ctx->view, r->d2.ino);
		if (rc < 0)
			return rc;
		r->r2.nlink = 0;
		r->np->nlink--;
	} else {
		if (S_ISDIR(r->r2.mode))
			return -EISDIR;
		r->r2.nlink -= r->r2.nlink > 0;
	}
	if (r->r2.parent == r->p2 && strcmp(r->r2.name, r->n2) == 0) {
		r->r2.parent = 0;
		r->r2.name[0] = '\0';
	}
	r->r2.ctime = fs_now();
	if (r->r2.nlink == 0)
		r->victim = r->d2.ino;
	return fc_inode_put(t, &ctx->view, r->d2.ino, &r->r2);
}

static int fs_ren_move(struct fs_ctx *ctx, struct fc_txn *t, struct fs_ren *r)
{
	int rc = 0;

	if (r->have2)
		rc = fs_ren_replace(ctx, t, r);
	if (rc == 0)
		rc = fc_dirent_del(t, &ctx->view, r->p1, r->n1);
	if (rc == 0)
		rc = fc_dirent_put(t, &ctx->view, r->p2, r->n2, &r->d1);
	fs_set_link(&r->r1, r->p2, r->n2);
	if (rc == 0)
		rc = fc_inode_put(t, &ctx->view, r->d1.ino, &r->r1);
	if (r->p1 != r->p2 && S_ISDIR(r->r1.mode)) {
		r->pr1.nlink--;
		r->np->nlink++;
	}
	return rc;
}

static int fs_ren_parents(struct fs_ctx *ctx, struct fc_txn *t, struct fs_ren *r)
{
	int rc;

	r->pr1.mtime = fs_now();
	r->pr1.ctime = r->pr1.mtime;
	r->np->mtime = r->pr1.mtime;
	r->np->ctime = r->pr1.mtime;
	rc = fc_inode_put(t, &ctx->view, r->p1, &r->pr1);
	if (rc == 0 && r->p2 != r->p1)
		rc = fc_inode_put(t, &ctx->view, r->p2, &r->pr2);
	return rc;
}

static int fs_rename_txn(struct fs_ctx *ctx, struct fs_ren *r, unsigned int flags)
{
	struct fc_txn t = { 0 };
	int rc;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (strlen(r->n2) > FC_NAME_MAX)
		return -ENAMETOOLONG;
	if (fc_name_check_file(r->n2) < 0)
		return -EINVAL;
	rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fs_ren_load(ctx, &t, r);
	if (rc < 0)
		goto out;
	if ((flags & RENAME_NOREPLACE) && r->have2)
		rc = -EEXIST;
	else if ((flags & RENAME_EXCHANGE) && !r->have2)
		rc = -ENOENT;
	else if (r->have2 && r->d2.ino == r->d1.ino)
		goto out; /* two links of one inode: POSIX says do nothing */
	else if (flags & RENAME_EXCHANGE)
		rc = fs_ren_exchange(ctx, &t, r);
	else
		rc = fs_ren_move(ctx, &t, r);
	if (rc == 0)
		rc = fs_ren_parents(ctx, &t, r);
out:
	if (rc == 0)
		return fc_txn_commit(&t);
	fc_txn_abort(&t);
	return rc;
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fs_ren r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.p1 = fs_ino(ctx, parent);
	r.p2 = fs_ino(ctx, newparent);
	r.n1 = name;
	r.n2 = newname;
	rc = fs_rename_txn(ctx, &r, flags);
	if (rc == 0 && r.victim) {
		fs_inode_mark_orphan(ctx, r.victim);
		fs_inode_reap_check(ctx, r.victim);
	}
	fs_reply_err(req, rc);
	fs_req_end(ctx);
}
