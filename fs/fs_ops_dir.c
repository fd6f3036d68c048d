/*
 * fs_ops_dir: directory handles. opendir takes a snapshot of the listing
 * (one LMDB range scan) that readdir and readdirplus serve by index, so a
 * listing is consistent even while the directory changes; the kernel
 * caches it (cache_readdir) until the directory changes or a restore
 * invalidates it. A snapshot taken before a switch is taken again at the
 * next readdir: a handle opened before a restore whose first readdir comes
 * after the restore's invalidation would otherwise fill the kernel's cache
 * with the old listing, and nothing would invalidate it again. readdirplus
 * reads each entry's record for its attributes and counts one lookup per
 * entry it returns.
 */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fc_log.h"

struct fs_dent {
	uint64_t ino;
	uint32_t name_off;      /* into names */
	uint8_t type;
};

struct fs_dirh {
	struct fs_dent *ents;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	uint64_t head;          /* the view's head when the snapshot was taken */
};

static void fs_dirh_free(struct fs_dirh *d)
{
	if (!d)
		return;
	free(d->ents);
	free(d->names);
	free(d);
}

static int fs_dirh_add(struct fs_dirh *d, const char *name, uint64_t ino, uint8_t type)
{
	size_t len = strlen(name) + 1;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct fs_dent *p = realloc(d->ents, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->ents = p;
		d->cap = cap;
	}
	if (d->names_len + len > d->names_cap) {
		size_t cap = d->names_cap ? d->names_cap * 2 : 1024;
		char *p;

		while (cap < d->names_len + len)
			cap *= 2;
		p = realloc(d->names, cap);
		if (!p)
			return -ENOMEM;
		d->names = p;
		d->names_cap = cap;
	}
	if (d->names_len > UINT32_MAX - len)
		return -E2BIG;
	memcpy(d->names + d->names_len, name, len);
	d->ents[d->n].ino = ino;
	d->ents[d->n].name_off = (uint32_t)d->names_len;
	d->ents[d->n].type = type;
	d->n++;
	d->names_len += len;
	return 0;
}

static int fs_dirh_cb(void *arg, const char *name, const struct fc_dirent *de)
{
	return fs_dirh_add(arg, name, de->ino, de->type);
}

static int fs_dirh_load(struct fs_ctx *ctx, uint64_t ino, struct fs_dirh *d)
{
	struct fc_txn t = { 0 };
	struct fc_inode rec;
	uint64_t up;
	int rc;

	d->n = 0;
	d->names_len = 0;
	d->head = ctx->view.head;
	rc = fs_rtxn_begin(ctx, &t);
	if (rc < 0)
		return rc;
	rc = fc_inode_get(&t, &ctx->view, ino, &rec);
	if (rc == -ENOENT)
		rc = -ESTALE;
	if (rc == 0 && !S_ISDIR(rec.mode))
		rc = -ENOTDIR;
	up = (ino == ctx->view.root_ino || rec.parent == 0) ? ino : rec.parent;
	if (rc == 0)
		rc = fs_dirh_add(d, ".", ino, DT_DIR);
	if (rc == 0)
		rc = fs_dirh_add(d, "..", up, DT_DIR);
	if (rc == 0)
		rc = fc_dirent_iter(&t, &ctx->view, ino, NULL, fs_dirh_cb, d);
	fs_rtxn_end(&t);
	return rc;
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fs_dirh *d = calloc(1, sizeof(*d));
	int rc;

	rc = d ? fs_dirh_load(ctx, fs_ino(ctx, ino), d) : -ENOMEM;
	if (rc == 0) {
		fi->fh = (uint64_t)(uintptr_t)d;
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
		if (fuse_reply_open(req, fi) != 0)
			fs_dirh_free(d);
	} else {
		fs_dirh_free(d);
		fs_reply_err(req, rc);
	}
	fs_req_end(ctx);
}

static bool fs_is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Add entry i in plus mode; returns bytes used, 0 when it does not fit, <0. */
static long fs_add_plus(fuse_req_t req, struct fs_ctx *ctx, struct fc_txn *t,
			const struct fs_dirh *d, size_t i, char *buf, size_t rem)
{
	const struct fs_dent *de = &d->ents[i];
	const char *name = d->names + de->name_off;
	struct fuse_entry_param e;
	size_t need;
	int rc;

	need = fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0);
	if (need > rem)
		return 0;
	if (fs_is_dot(name)) {
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = de->ino;
		e.attr.st_mode = DTTOIF(de->type);
	} else {
		rc = fs_entry_fill(ctx, t, de->ino, &e);
		if (rc == -ENOENT) {
			/* Vanished since opendir: a plain entry the kernel will look up. */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = de->ino;
			e.attr.st_mode = DTTOIF(de->type);
		} else if (rc < 0) {
			return rc;
		} else {
			rc = fs_inode_lookup_inc(ctx, de->ino);
			if (rc < 0)
				return rc;
		}
	}
	fuse_add_direntry_plus(req, buf, rem, name, &e, (off_t)(i + 1));
	return (long)need;
}

static void fs_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			      struct fuse_file_info *fi, bool plus)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	struct fs_dirh *d = (struct fs_dirh *)(uintptr_t)fi->fh;
	struct fc_txn t = { 0 };
	char *buf = malloc(size);
	size_t pos = 0, i;
	long used;
	int rc = buf ? 0 : -ENOMEM;

	/* The kernel serialises readdir on a handle: d is ours alone here. */
	if (rc == 0 && d->head != ctx->view.head)
		rc = fs_dirh_load(ctx, fs_ino(ctx, ino), d);
	if (rc == 0 && plus)
		rc = fs_rtxn_begin(ctx, &t);
	for (i = (size_t)(off < 0 ? 0 : off); rc == 0 && i < d->n; i++) {
		const struct fs_dent *de = &d->ents[i];
		struct stat st = { .st_ino = de->ino, .st_mode = DTTOIF(de->type) };

		if (plus) {
			used = fs_add_plus(req, ctx, &t, d, i, buf + pos, size - pos);
		} else {
			used = (long)fuse_add_direntry(req, buf + pos, size - pos,
						       d->names + de->name_off, &st,
						       (off_t)(i + 1));
			if ((size_t)used > size - pos)
				used = 0;
		}
		if (used < 0)
			rc = (int)used;
		else if (used == 0)
			break;
		else
			pos += (size_t)used;
	}
	if (plus && t.txn)
		fs_rtxn_end(&t);
	/* Entries already added carry counted lookups: send them even after an error. */
	if (rc == 0 || pos > 0)
		fuse_reply_buf(req, buf, pos);
	else
		fs_reply_err(req, rc);
	free(buf);
	fs_req_end(ctx);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	fs_readdir_common(req, ino, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fs_readdir_common(req, ino, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_dirh_free((struct fs_dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_req_begin(req);
	int rc = ctx->ro ? 0 : fc_store_sync(ctx->st);

	fs_reply_err(req, rc);
	fs_req_end(ctx);
}
