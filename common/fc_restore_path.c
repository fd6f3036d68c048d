/*
 * fc_restore_path: copy single paths of a checkpoint view into the head.
 *
 * For one entry (parent, name) the head and checkpoint sides are compared:
 *   absent in the checkpoint  -> remove it from the head (subtree first)
 *   same inode, same type     -> copy the checkpoint's record (and symlink
 *                                target, xattrs); directories recurse over
 *                                the union of both sides' entries
 *   otherwise                 -> remove the head's, add the checkpoint's
 * Link counts are the head's: a file keeps the number of names it has in
 * the head, a directory gets 2 + its subdirectories after the restore. The
 * ctime of every restored inode is set to now so that stat caches (git's
 * index) notice the change even when mtime went back in time.
 *
 * Recursion depth is the depth of the restored directory tree (bounded by
 * FC_RP_DEPTH_MAX); each level keeps its entry list on the heap.
 */
#include "fc_restore_path.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FC_RP_DEPTH_MAX 1024
#define FC_RP_XLIST_MAX 65536

struct rp {
	struct fc_txn *t;
	const struct fc_view *h, *c;   /* head (writable) and checkpoint */
	fc_restore_path_cb cb;
	void *arg;
	uint64_t changed;
	struct fc_ts now;
	struct fc_diag *d;
	char *xbuf, *xlist, *xlist2;
};

static int rp_note(struct rp *r, uint64_t parent, const char *name, uint64_t ino)
{
	r->changed++;
	return r->cb ? r->cb(r->arg, parent, name, ino) : 0;
}

/* Look up (parent, name) in v; *has false when absent. */
static int rp_lookup(struct rp *r, const struct fc_view *v, uint64_t parent, const char *name,
		     struct fc_dirent *de, bool *has)
{
	int rc = fc_dirent_get(r->t, v, parent, name, de);

	*has = rc == 0 && !de->tomb;
	return rc == -ENOENT ? 0 : rc;
}

/* Make the head's xattrs of ino equal to the checkpoint's. */
static int rp_xattrs(struct rp *r, uint64_t ino)
{
	size_t lc = 0, lh = 0, vlen = 0;
	const char *n;
	int rc = fc_xattr_list(r->t, r->c, ino, r->xlist, FC_RP_XLIST_MAX, &lc);

	if (rc == 0)
		rc = fc_xattr_list(r->t, r->h, ino, r->xlist2, FC_RP_XLIST_MAX, &lh);
	for (n = r->xlist2; rc == 0 && n < r->xlist2 + lh; n += strlen(n) + 1) {
		rc = fc_xattr_get(r->t, r->c, ino, n, NULL, 0, &vlen);
		if (rc == -ENOENT)
			rc = fc_xattr_del(r->t, r->h, ino, n);
		else if (rc == -ERANGE)
			rc = 0;
	}
	for (n = r->xlist; rc == 0 && n < r->xlist + lc; n += strlen(n) + 1) {
		rc = fc_xattr_get(r->t, r->c, ino, n, r->xbuf, FC_XATTR_VALUE_MAX, &vlen);
		if (rc == 0)
			rc = fc_xattr_put(r->t, r->h, ino, n, r->xbuf, vlen);
	}
	return rc;
}

/* Count the subdirectories of dir in the head. */
static int count_dir_cb(void *arg, const char *name, const struct fc_dirent *de)
{
	if (de->type == DT_DIR)
		(*(uint32_t *)arg)++;
	return 0;
}

/* Copy the checkpoint's record of ino into the head with link count nlink. */
static int rp_put_inode(struct rp *r, uint64_t ino, const struct fc_inode *ci, uint32_t nlink)
{
	char target[FC_SYMLINK_MAX + 1];
	struct fc_inode in = *ci;
	int rc;

	in.nlink = nlink;
	in.ctime = r->now;
	rc = fc_inode_put(r->t, r->h, ino, &in);
	if (rc == 0 && S_ISLNK(in.mode)) {
		rc = fc_symlink_get(r->t, r->c, ino, target);
		if (rc == 0)
			rc = fc_symlink_put(r->t, r->h, ino, target);
	}
	if (rc == 0)
		rc = rp_xattrs(r, ino);
	if (rc == 0)
		rc = rp_note(r, 0, NULL, ino);
	return rc;
}

static int rp_entry(struct rp *r, uint64_t hparent, uint64_t cparent, const char *name,
		    int depth);

struct names {
	char (*n)[FC_NAME_MAX + 1];
	size_t len, cap;
};

static int names_add(void *arg, const char *name, const struct fc_dirent *de)
{
	struct names *l = arg;

	if (l->len == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 32;
		void *nn = realloc(l->n, ncap * sizeof(*l->n));

		if (!nn)
			return -ENOMEM;
		l->n = nn;
		l->cap = ncap;
	}
	snprintf(l->n[l->len++], FC_NAME_MAX + 1, "%s", name);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Restore every entry of directory ino (both sides), then its record. */
static int rp_dir(struct rp *r, uint64_t ino, const struct fc_inode *ci, int depth)
{
	struct names l = { 0 };
	uint32_t subdirs = 0;
	int rc;

	if (depth > FC_RP_DEPTH_MAX)
		return fc_diag_set(r->d, FC_ELIMIT, "directory tree deeper than %d",
				   FC_RP_DEPTH_MAX);
	rc = fc_dirent_iter(r->t, r->c, ino, NULL, names_add, &l);
	if (rc == 0)
		rc = fc_dirent_iter(r->t, r->h, ino, NULL, names_add, &l);
	if (rc == 0 && l.len > 1)
		qsort(l.n, l.len, sizeof(*l.n), name_cmp);
	for (size_t i = 0; rc == 0 && i < l.len; i++) {
		if (i > 0 && strcmp(l.n[i - 1], l.n[i]) == 0)
			continue;    /* on both sides */
		rc = rp_entry(r, ino, ino, l.n[i], depth + 1);
	}
	free(l.n);
	if (rc == 0)
		rc = fc_dirent_iter(r->t, r->h, ino, NULL, count_dir_cb, &subdirs);
	if (rc == 0)
		rc = rp_put_inode(r, ino, ci, 2 + subdirs);
	return rc;
}

/* Remove (parent, name) -> de from the head, a directory with its subtree. */
static int rp_remove(struct rp *r, uint64_t parent, const char *name,
		     const struct fc_dirent *de, int depth)
{
	struct names l = { 0 };
	struct fc_inode in;
	int rc = fc_inode_get(r->t, r->h, de->ino, &in);

	if (rc == -ENOENT)
		rc = 0;       /* a dangling entry: just drop it */
	else if (rc == 0 && S_ISDIR(in.mode)) {
		if (depth > FC_RP_DEPTH_MAX)
			return fc_diag_set(r->d, FC_ELIMIT, "directory tree deeper than %d",
					   FC_RP_DEPTH_MAX);
		rc = fc_dirent_iter(r->t, r->h, de->ino, NULL, names_add, &l);
		for (size_t i = 0; rc == 0 && i < l.len; i++) {
			struct fc_dirent cde;
			bool has;

			rc = rp_lookup(r, r->h, de->ino, l.n[i], &cde, &has);
			if (rc == 0 && has)
				rc = rp_remove(r, de->ino, l.n[i], &cde, depth + 1);
		}
		free(l.n);
		if (rc == 0)
			rc = fc_inode_del(r->t, r->h, de->ino);
	} else if (rc == 0 && in.nlink > 1) {
		in.nlink--;
		in.ctime = r->now;
		rc = fc_inode_put(r->t, r->h, de->ino, &in);
	} else if (rc == 0) {
		rc = fc_inode_del(r->t, r->h, de->ino);
	}
	if (rc == 0)
		rc = rp_note(r, 0, NULL, de->ino);
	if (rc == 0)
		rc = fc_dirent_del(r->t, r->h, parent, name);
	if (rc == 0)
		rc = rp_note(r, parent, name, 0);
	return rc;
}

/* Add the checkpoint's entry name -> cde under head directory hparent. */
static int rp_add(struct rp *r, uint64_t hparent, const char *name, const struct fc_dirent *cde,
		  int depth)
{
	struct fc_inode ci, hi;
	int rc = fc_inode_get(r->t, r->c, cde->ino, &ci);
	int hrc = rc == 0 ? fc_inode_get(r->t, r->h, cde->ino, &hi) : 0;

	if (rc < 0)
		return rc;
	if (hrc < 0 && hrc != -ENOENT)
		return hrc;
	if (hrc == 0 && S_ISDIR(ci.mode))
		return fc_diag_set(r->d, FC_ESTATE, "directory '%s' of the checkpoint was moved "
				   "elsewhere in the head; restore that path instead", name);
	rc = fc_dirent_put(r->t, r->h, hparent, name, cde);
	if (rc == 0)
		rc = rp_note(r, hparent, name, cde->ino);
	if (rc < 0)
		return rc;
	if (S_ISDIR(ci.mode))
		return rp_dir(r, cde->ino, &ci, depth);
	/* Another name of this inode may still exist in the head. */
	return rp_put_inode(r, cde->ino, &ci, hrc == 0 ? hi.nlink + 1 : 1);
}

static int rp_entry(struct rp *r, uint64_t hparent, uint64_t cparent, const char *name,
		    int depth)
{
	struct fc_dirent hde, cde;
	struct fc_inode ci, hi;
	bool hhas = false, chas = false;
	int rc = rp_lookup(r, r->h, hparent, name, &hde, &hhas);

	if (rc == 0)
		rc = rp_lookup(r, r->c, cparent, name, &cde, &chas);
	if (rc < 0 || (!hhas && !chas))
		return rc;
	if (hhas && chas && hde.ino == cde.ino && hde.type == cde.type) {
		rc = fc_inode_get(r->t, r->c, cde.ino, &ci);
		if (rc == 0)
			rc = fc_inode_get(r->t, r->h, hde.ino, &hi);
		if (rc < 0)
			return rc;
		if (S_ISDIR(ci.mode))
			return rp_dir(r, cde.ino, &ci, depth);
		return rp_put_inode(r, cde.ino, &ci, hi.nlink);
	}
	if (hhas)
		rc = rp_remove(r, hparent, name, &hde, depth);
	if (rc == 0 && chas)
		rc = rp_add(r, hparent, name, &cde, depth);
	return rc;
}

/* Parent directory link counts follow a subdirectory added or removed. */
static int rp_fix_parent(struct rp *r, uint64_t parent)
{
	struct fc_inode in = { 0 };
	uint32_t subdirs = 0;
	int rc = fc_dirent_iter(r->t, r->h, parent, NULL, count_dir_cb, &subdirs);

	if (rc == 0)
		rc = fc_inode_get(r->t, r->h, parent, &in);
	if (rc < 0 || in.nlink == 2 + subdirs)
		return rc;
	in.nlink = 2 + subdirs;
	rc = fc_inode_put(r->t, r->h, parent, &in);
	return rc == 0 ? rp_note(r, 0, NULL, parent) : rc;
}

/* Resolve the parent directory of the last component in view v. */
static int rp_walk(struct rp *r, const struct fc_view *v, char *path, uint64_t *parent,
		   const char **last)
{
	char *save = NULL, *comp, *next;
	struct fc_dirent de;
	uint64_t cur = v->root_ino;
	int rc = 0;

	*last = NULL;
	for (comp = strtok_r(path, "/", &save); comp; comp = next) {
		next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0 || strlen(comp) > FC_NAME_MAX)
			return FC_ENAME;
		if (!next) {
			*last = comp;
			break;
		}
		rc = fc_dirent_get(r->t, v, cur, comp, &de);
		if (rc == 0 && (de.tomb || de.type != DT_DIR))
			rc = de.tomb ? -ENOENT : -ENOTDIR;
		if (rc < 0)
			return rc;
		cur = de.ino;
	}
	*parent = cur;
	return 0;
}

static int rp_one(struct rp *r, const char *path)
{
	char *hp = strdup(path), *cp = strdup(path);
	const char *hlast = NULL, *clast = NULL;
	uint64_t hparent = 0, cparent = 0;
	struct fc_dirent de;
	struct fc_inode ci;
	bool hhas = false, chas = false;
	int rc = hp && cp ? 0 : -ENOMEM;

	/* "/etc/passwd" most likely means the host's file: say so. */
	if (rc == 0 && path[0] == '/') {
		rc = fc_diag_set(r->d, FC_ENAME, "invalid path '%s': paths are relative to the "
				 "cell root, not absolute", path);
		goto out;
	}
	if (rc == 0)
		rc = rp_walk(r, r->h, hp, &hparent, &hlast);
	if (rc == FC_ENAME) {
		rc = fc_diag_set(r->d, rc, "invalid path '%s': '..' would leave the cell", path);
		goto out;
	}
	if (rc < 0) {
		fc_diag_set(r->d, rc, "the parent directory of '%s' does not exist in the head; "
			    "restore the parent first", path);
		goto out;
	}
	if (!hlast) {
		/* The root itself: the whole tree. */
		rc = fc_inode_get(r->t, r->c, r->c->root_ino, &ci);
		if (rc == 0)
			rc = rp_dir(r, r->h->root_ino, &ci, 0);
		goto out;
	}
	if (rp_walk(r, r->c, cp, &cparent, &clast) < 0)
		cparent = 0;      /* the parent is missing in the checkpoint */
	rc = rp_lookup(r, r->h, hparent, hlast, &de, &hhas);
	if (rc == 0 && cparent)
		rc = rp_lookup(r, r->c, cparent, hlast, &de, &chas);
	if (rc == 0 && !hhas && !chas)
		rc = fc_diag_set(r->d, -ENOENT, "'%s' exists neither in the checkpoint nor in "
				 "the head", path);
	if (rc == 0)
		rc = rp_entry(r, hparent, cparent, hlast, 0);
	if (rc == 0)
		rc = rp_fix_parent(r, hparent);
out:
	free(hp);
	free(cp);
	return rc;
}

int fc_restore_path(struct fc_txn *t, const struct fc_view *head, const struct fc_view *ckpt,
		    const char *path, fc_restore_path_cb cb, void *arg, uint64_t *changed,
		    struct fc_diag *d)
{
	struct rp r = { .t = t, .h = head, .c = ckpt, .cb = cb, .arg = arg, .d = d };
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	r.now.sec = ts.tv_sec;
	r.now.nsec = (uint32_t)ts.tv_nsec;
	r.xbuf = malloc(FC_XATTR_VALUE_MAX);
	r.xlist = malloc(FC_RP_XLIST_MAX);
	r.xlist2 = malloc(FC_RP_XLIST_MAX);
	rc = r.xbuf && r.xlist && r.xlist2 ? 0 : -ENOMEM;
	if (rc == 0)
		rc = rp_one(&r, path);
	if (rc == 0)
		*changed = r.changed;
	else if (d && !d->msg[0])
		fc_diag_set(d, rc, "cannot restore '%s': %s", path, fc_strerror(rc));
	free(r.xbuf);
	free(r.xlist);
	free(r.xlist2);
	return rc;
}
