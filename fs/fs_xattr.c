/*
 * fs_xattr: extended attributes (user.*, trusted.*, security.*) stored as
 * MVCC records, so a checkpoint covers them like everything else.
 * POSIX ACLs (system.posix_acl_*) are not supported: EOPNOTSUPP, and the
 * kernel then falls back to the mode bits.
 */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fc_log.h"

static int fs_xattr_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > FC_XATTR_NAME_MAX)
		return -ERANGE;
	if (strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 ||
	    strncmp(name, "security.", 9) == 0)
		return 0;
	return -EOPNOTSUPP;
}

/* The inode's ctime follows every xattr change, as on ext4. */
static int fs_xattr_touch(struct fs_ctx *ctx, struct fc_txn *t, uint64_t ino)
{
	struct fc_inode rec;
	int rc;

	rc = fc_inode_get(t, &ctx->view, ino, &rec);
	if (rc < 0)
		return rc == -ENOENT ? -ESTALE : rc;
	rec.ctime = fs_now();
	return fc_inode_put(t, &ctx->view, ino, &rec);
}

static int fs_setxattr_txn(struct fs_ctx *ctx, uint64_t ino, const char *name, const char *value,
			   size_t size, int flags)
{
	struct fc_txn t = { 0 };
	size_t len = 0;
	int rc;

	if (size > FC_XATTR_VALUE_MAX)
		return -E2BIG;
	rc = fs_wtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_xattr_get(&t, &ctx->view, ino, name, NULL, 0, &len);
	if (rc == 0 && (flags & XATTR_CREATE))
		rc = -EEXIST;
	else if (rc == -ENOENT)
		rc = (flags & XATTR_REPLACE) ? -ENODATA : 0;
	if (rc == 0)
		rc = fc_xattr_put(&t, &ctx->view, ino, name, value, size);
	if (rc == 0)
		rc = fs_xattr_touch(ctx, &t, ino);
	if (rc == 0)
		return fc_txn_commit(&t);
	fc_txn_abort(&t);
	return rc;
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	int rc = fs_xattr_name_ok(name);

	if (rc == 0)
		rc = fs_setxattr_txn(ctx, fs_ino(ctx, ino), name, value, size, flags);
	fs_reply_err(req, rc);
	fs_req_end(ctx);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fc_txn t = { 0 };
	char *buf = NULL;
	size_t len = 0;
	int rc = fs_xattr_name_ok(name);

	if (rc == 0 && size > 0) {
		buf = malloc(size);
		rc = buf ? 0 : -ENOMEM;
	}
	if (rc == 0)
		rc = fs_rtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fc_xattr_get(&t, &ctx->view, fs_ino(ctx, ino), name, buf, size, &len);
		fs_rtxn_end(&t);
	}
	if (rc == -ENOENT)
		rc = -ENODATA;
	if (rc == 0 && size > 0 && len > size)
		rc = -ERANGE;
	if (rc < 0)
		fs_reply_err(req, rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
	fs_req_end(ctx);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fc_txn t = { 0 };
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;

	if (size > 0) {
		buf = malloc(size);
		rc = buf ? 0 : -ENOMEM;
	}
	if (rc == 0)
		rc = fs_rtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fc_xattr_list(&t, &ctx->view, fs_ino(ctx, ino), buf, size, &len);
		fs_rtxn_end(&t);
	}
	if (rc == 0 && size > 0 && len > size)
		rc = -ERANGE;
	if (rc < 0)
		fs_reply_err(req, rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
	fs_req_end(ctx);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fc_txn t = { 0 };
	uint64_t i = fs_ino(ctx, ino);
	int rc = fs_xattr_name_ok(name);

	if (rc == 0)
		rc = fs_wtxn_begin(ctx, &t);
	if (rc == 0) {
		rc = fc_xattr_del(&t, &ctx->view, i, name);
		if (rc == -ENOENT)
			rc = -ENODATA;
		if (rc == 0)
			rc = fs_xattr_touch(ctx, &t, i);
		if (rc == 0)
			rc = fc_txn_commit(&t);
		else
			fc_txn_abort(&t);
	}
	fs_reply_err(req, rc);
	fs_req_end(ctx);
}
