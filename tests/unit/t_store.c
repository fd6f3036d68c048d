/*
 * t_store: the store layer end to end on a real store in a temporary
 * directory: records across generations, checkpoint/restore/fork, dirent
 * iteration, blobs and refcounts, reopening, refusal of foreign stores.
 */
#include "fc_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static char tmpdir[] = "/tmp/t_store.XXXXXX";
static char storepath[256];

static void must(int rc, const char *what)
{
	if (rc < 0)
		bail_out("%s: %s", what, fc_strerror(rc));
}

static struct fc_inode mk_inode(uint32_t mode, uint64_t blob, const char *name)
{
	struct fc_inode in;

	memset(&in, 0, sizeof(in));
	in.mode = mode;
	in.nlink = 1;
	in.blob = blob;
	in.mtime.sec = 1700000000;
	snprintf(in.name, sizeof(in.name), "%s", name);
	return in;
}

/* What `init` does: root gen as head, root dir, then checkpoint "base". */
static void mkcell(struct fc_store *st, const char *cell, uint64_t *root_ino)
{
	struct fc_gen g = { .kind = FC_GEN_HEAD };
	struct fc_cell c = { 0 };
	struct fc_inode root = mk_inode(S_IFDIR | 0755, 0, "");
	struct fc_view v;
	struct fc_txn t;
	uint64_t gen, ckpt, head;

	snprintf(g.cell, sizeof(g.cell), "%s", cell);
	must(fc_txn_begin(st, false, &t), "begin");
	must(fc_alloc_gen(&t, &gen), "alloc gen");
	must(fc_gen_put(&t, gen, &g), "gen put");
	must(fc_alloc_ino(&t, &c.root_ino), "alloc ino");
	c.head = gen;
	must(fc_cell_put(&t, cell, &c), "cell put");
	must(fc_view_load(&t, gen, cell, &v), "view");
	must(fc_inode_put(&t, &v, c.root_ino, &root), "root put");
	fc_view_release(&v);
	must(fc_cell_checkpoint(&t, cell, "base", &ckpt, &head, NULL), "checkpoint base");
	must(fc_txn_commit(&t), "commit");
	*root_ino = c.root_ino;
}

/* Open a write txn and the view of cell's head. */
static void begin_cell(struct fc_store *st, const char *cell, bool rdonly, struct fc_txn *t,
		       struct fc_view *v)
{
	struct fc_cell c;

	must(fc_txn_begin(st, rdonly, t), "begin");
	must(fc_cell_get(t, cell, &c), "cell get");
	must(fc_view_load(t, c.head, cell, v), "view load");
}

static void end_cell(struct fc_txn *t, struct fc_view *v, bool commit)
{
	fc_view_release(v);
	if (commit)
		must(fc_txn_commit(t), "commit");
	else
		fc_txn_abort(t);
}

static void test_smoke(struct fc_store *st)
{
	struct fc_dirent de = { .type = DT_REG, .ino = 0 }, got;
	struct fc_inode in, out;
	struct fc_txn t;
	struct fc_view v;
	uint64_t root, ino, ckpt, head, old;

	mkcell(st, "main", &root);
	ok(root >= 2, "root inode number %llu >= 2", (unsigned long long)root);

	begin_cell(st, "main", false, &t, &v);
	ok(v.writable, "head view is writable");
	must(fc_alloc_ino(&t, &ino), "alloc ino");
	in = mk_inode(S_IFREG | 0644, 0, "a");
	in.parent = root;
	is_int(fc_inode_put(&t, &v, ino, &in), 0, "inode put");
	de.ino = ino;
	is_int(fc_dirent_put(&t, &v, root, "a", &de), 0, "dirent put");
	end_cell(&t, &v, true);

	begin_cell(st, "main", true, &t, &v);
	is_int(fc_dirent_get(&t, &v, root, "a", &got), 0, "dirent get");
	is_int(got.ino, ino, "dirent names the inode");
	is_int(fc_inode_get(&t, &v, ino, &out), 0, "inode get");
	is_int(out.mode, S_IFREG | 0644, "mode round-trips");
	is_str(out.name, "a", "primary name round-trips");
	is_int(fc_dirent_get(&t, &v, root, "b", &got), -ENOENT, "missing name is -ENOENT");
	end_cell(&t, &v, false);

	must(fc_txn_begin(st, false, &t), "begin");
	is_int(fc_cell_checkpoint(&t, "main", "c1", &ckpt, &head, NULL), 0, "checkpoint c1");
	must(fc_txn_commit(&t), "commit");

	begin_cell(st, "main", false, &t, &v);
	is_int(fc_dirent_del(&t, &v, root, "a"), 0, "unlink a after checkpoint");
	is_int(fc_dirent_get(&t, &v, root, "a", &got), -ENOENT, "a is gone in the head");
	end_cell(&t, &v, true);

	must(fc_txn_begin(st, false, &t), "begin");
	is_int(fc_cell_restore(&t, "main", ckpt, &old, &head, NULL), 0, "restore c1");
	must(fc_txn_commit(&t), "commit");

	begin_cell(st, "main", true, &t, &v);
	is_int(fc_dirent_get(&t, &v, root, "a", &got), 0, "a is back after restore");
	end_cell(&t, &v, false);
}

/* Raw presence of the exact version (ino, gen) in the inode table. */
static bool inode_version_exists(struct fc_store *st, uint64_t ino, uint64_t gen)
{
	uint8_t key[16];
	MDB_val k = { 16, key }, d;
	struct fc_txn t;
	int rc;

	must(fc_txn_begin(st, true, &t), "begin");
	fc_key_ino(key, ino, gen);
	rc = mdb_get(t.txn, st->dbi_inode, &k, &d);
	fc_txn_abort(&t);
	return rc == 0;
}

struct change_find {
	uint64_t gen, ino;
	int n, inode_hits;
};

static int count_changes_cb(void *arg, uint64_t gen, uint8_t dbi, const uint8_t *prefix,
			    size_t prefix_len)
{
	struct change_find *f = arg;
	uint8_t want[8];

	fc_key_u64(want, f->ino);
	f->n++;
	if (gen == f->gen && dbi == FC_DBI_INODE && prefix_len == 8 && !memcmp(prefix, want, 8))
		f->inode_hits++;
	return 0;
}

static uint64_t head_of(struct fc_store *st, const char *cell)
{
	struct fc_cell c;
	struct fc_txn t;

	must(fc_txn_begin(st, true, &t), "begin");
	must(fc_cell_get(&t, cell, &c), "cell get");
	fc_txn_abort(&t);
	return c.head;
}

static uint64_t checkpoint(struct fc_store *st, const char *cell, const char *name)
{
	struct fc_txn t;
	uint64_t ckpt, head;

	must(fc_txn_begin(st, false, &t), "begin");
	must(fc_cell_checkpoint(&t, cell, name, &ckpt, &head, NULL), "checkpoint");
	must(fc_txn_commit(&t), "commit");
	return ckpt;
}

static void test_versions(struct fc_store *st)
{
	struct fc_inode in, out;
	struct fc_txn t;
	struct fc_view v;
	struct change_find f = { 0 };
	uint64_t ino, h1, h2;

	/* Two puts in one head: one version, one change-log entry. */
	begin_cell(st, "main", false, &t, &v);
	must(fc_alloc_ino(&t, &ino), "alloc");
	in = mk_inode(S_IFREG | 0600, 0, "v");
	is_int(fc_inode_put(&t, &v, ino, &in), 0, "first put");
	in.mode = S_IFREG | 0640;
	is_int(fc_inode_put(&t, &v, ino, &in), 0, "second put in the same head");
	h1 = v.head;
	end_cell(&t, &v, true);
	f.gen = h1;
	f.ino = ino;
	must(fc_txn_begin(st, true, &t), "begin");
	must(fc_changes_iter(&t, h1, count_changes_cb, &f), "changes");
	fc_txn_abort(&t);
	ok(f.n >= 1, "the head's change log has entries (%d)", f.n);
	is_int(f.inode_hits, 1, "the inode is logged once (gen, inode table, ino)");

	/* Delete of a head-only record removes it outright. */
	begin_cell(st, "main", false, &t, &v);
	is_int(fc_inode_del(&t, &v, ino), 0, "delete head-only inode");
	is_int(fc_inode_get(&t, &v, ino, &out), -ENOENT, "gone");
	is_int(fc_inode_del(&t, &v, ino), -ENOENT, "second delete is -ENOENT");
	end_cell(&t, &v, true);
	ok(!inode_version_exists(st, ino, h1), "no tombstone was written for a head-only record");

	/* A record with a frozen version gets a tombstone. */
	begin_cell(st, "main", false, &t, &v);
	in.mode = S_IFREG | 0600;
	must(fc_inode_put(&t, &v, ino, &in), "put again");
	end_cell(&t, &v, true);
	checkpoint(st, "main", "v1");
	h2 = head_of(st, "main");
	begin_cell(st, "main", false, &t, &v);
	is_int(fc_inode_get(&t, &v, ino, &out), 0, "older version visible from the new head");
	is_int(out.mode, S_IFREG | 0600, "with its mode");
	in.mode = S_IFREG | 0666;
	must(fc_inode_put(&t, &v, ino, &in), "put in new head");
	is_int(fc_inode_get(&t, &v, ino, &out), 0, "get");
	is_int(out.mode, S_IFREG | 0666, "newest version wins");
	is_int(fc_inode_del(&t, &v, ino), 0, "delete with an older version");
	is_int(fc_inode_get(&t, &v, ino, &out), -ENOENT, "tombstone hides the older version");
	end_cell(&t, &v, true);
	ok(inode_version_exists(st, ino, h2), "a tombstone version exists in the head");
}

static void test_restore_fork(struct fc_store *st, uint64_t root)
{
	struct fc_dirent de = { .type = DT_REG }, got;
	struct fc_inode in, out;
	struct fc_cell c;
	struct fc_diag d;
	struct fc_txn t;
	struct fc_view v;
	uint64_t ino, c2, head, old, gen;

	begin_cell(st, "main", false, &t, &v);
	must(fc_alloc_ino(&t, &ino), "alloc");
	in = mk_inode(S_IFREG | 0644, 0, "r");
	must(fc_inode_put(&t, &v, ino, &in), "put");
	de.ino = ino;
	must(fc_dirent_put(&t, &v, root, "r", &de), "dirent");
	end_cell(&t, &v, true);
	c2 = checkpoint(st, "main", "c2");

	begin_cell(st, "main", false, &t, &v);
	in.mode = S_IFREG | 0600;
	must(fc_inode_put(&t, &v, ino, &in), "modify");
	must(fc_dirent_put(&t, &v, root, "new", &de), "add entry");
	end_cell(&t, &v, true);

	must(fc_txn_begin(st, false, &t), "begin");
	is_int(fc_ckpt_resolve(&t, "main", "c2", &gen), 0, "resolve c2 by name");
	is_int(gen, c2, "to its generation");
	is_int(fc_ckpt_resolve(&t, "main", NULL, &gen), 0, "resolve latest");
	is_int(gen, c2, "latest is c2");
	is_int(fc_ckpt_resolve(&t, "main", "base", &gen), 0, "resolve base");
	is_int(fc_ckpt_resolve(&t, "main", "nope", &gen), FC_ENOCKPT, "unknown name");
	is_int(fc_ckpt_resolve(&t, "main", "999999", &gen), FC_ENOCKPT, "unknown id");
	fc_diag_init(&d);
	is_int(fc_cell_checkpoint(&t, "main", "c2", &old, &head, &d), FC_EEXIST,
	       "duplicate checkpoint name");
	ok(strstr(d.msg, "c2") != NULL, "diag names it: %s", d.msg);
	is_int(fc_cell_checkpoint(&t, "main", "12", &old, &head, NULL), FC_ENAME,
	       "all-digit checkpoint name refused");
	is_int(fc_cell_restore(&t, "main", c2, &old, &head, NULL), 0, "restore c2");
	must(fc_txn_commit(&t), "commit");

	begin_cell(st, "main", true, &t, &v);
	is_int(fc_inode_get(&t, &v, ino, &out), 0, "get after restore");
	is_int(out.mode, S_IFREG | 0644, "old mode is back");
	is_int(fc_dirent_get(&t, &v, root, "new", &got), -ENOENT, "entry added later is gone");
	end_cell(&t, &v, false);

	/* Fork: two cells share c2 and diverge. */
	must(fc_txn_begin(st, false, &t), "begin");
	is_int(fc_cell_fork(&t, "main", c2, "side", &head, NULL), 0, "fork side from c2");
	is_int(fc_cell_fork(&t, "main", c2, "side", &head, NULL), FC_EEXIST, "fork onto existing");
	must(fc_cell_get(&t, "main", &c), "cell");
	is_int(fc_cell_fork(&t, "main", c.head, "x", &head, NULL), FC_ENOCKPT,
	       "fork from a head is refused");
	is_int(fc_cell_fork(&t, "main", c2, "bad/name", &head, NULL), FC_ENAME, "bad cell name");
	is_int(fc_ckpt_resolve(&t, "side", "base", &gen), 0, "fork resolves base along its chain");
	must(fc_txn_commit(&t), "commit");

	begin_cell(st, "side", false, &t, &v);
	in.mode = S_IFREG | 0400;
	must(fc_inode_put(&t, &v, ino, &in), "modify in side");
	must(fc_dirent_put(&t, &v, root, "only-side", &de), "add in side");
	end_cell(&t, &v, true);
	begin_cell(st, "main", false, &t, &v);
	must(fc_dirent_put(&t, &v, root, "only-main", &de), "add in main");
	is_int(fc_inode_get(&t, &v, ino, &out), 0, "main get");
	is_int(out.mode, S_IFREG | 0644, "main does not see side's change");
	is_int(fc_dirent_get(&t, &v, root, "only-side", &got), -ENOENT, "nor its entry");
	end_cell(&t, &v, true);
	begin_cell(st, "side", true, &t, &v);
	is_int(fc_inode_get(&t, &v, ino, &out), 0, "side get");
	is_int(out.mode, S_IFREG | 0400, "side sees its own change");
	is_int(fc_dirent_get(&t, &v, root, "only-main", &got), -ENOENT, "not main's entry");
	is_int(fc_dirent_get(&t, &v, root, "r", &got), 0, "shared entry from c2");
	end_cell(&t, &v, false);
}

struct names {
	char buf[1024];
	int n;
};

static int names_cb(void *arg, const char *name, const struct fc_dirent *de)
{
	struct names *ns = arg;
	size_t l = strlen(ns->buf);

	snprintf(ns->buf + l, sizeof(ns->buf) - l, "%s%s", ns->n ? "," : "", name);
	ns->n++;
	return 0;
}

static int stop_cb(void *arg, const char *name, const struct fc_dirent *de)
{
	names_cb(arg, name, de);
	return 1;
}

static void test_dirent_iter(struct fc_store *st)
{
	static const char *const names[] = { "b", "a", "ab", "a.b", "c", "zz", "\x01x", "a\x01" };
	struct fc_dirent de = { .type = DT_REG, .ino = 77 };
	struct names ns;
	struct fc_txn t;
	struct fc_view v;
	uint64_t dir;

	begin_cell(st, "main", false, &t, &v);
	must(fc_alloc_ino(&t, &dir), "alloc");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		must(fc_dirent_put(&t, &v, dir, names[i], &de), "put");
	is_int(fc_dir_check_empty(&t, &v, dir), -ENOTEMPTY, "directory is not empty");
	is_int(fc_dir_check_empty(&t, &v, dir + 1000), 0, "unknown directory is empty");
	end_cell(&t, &v, true);
	checkpoint(st, "main", NULL);

	begin_cell(st, "main", false, &t, &v);
	must(fc_dirent_del(&t, &v, dir, "c"), "del c (tombstone)");
	must(fc_dirent_del(&t, &v, dir, "a.b"), "del a.b (tombstone)");
	must(fc_dirent_put(&t, &v, dir, "d", &de), "put d");
	must(fc_dirent_put(&t, &v, dir, "b", &de), "rewrite b");
	memset(&ns, 0, sizeof(ns));
	is_int(fc_dirent_iter(&t, &v, dir, NULL, names_cb, &ns), 0, "iterate");
	is_str(ns.buf, "\x01x,a,a\x01,ab,b,d,zz", "name order, tombstones skipped, once each");
	memset(&ns, 0, sizeof(ns));
	is_int(fc_dirent_iter(&t, &v, dir, "a", names_cb, &ns), 0, "iterate after 'a'");
	is_str(ns.buf, "a\x01,ab,b,d,zz", "strictly after a");
	memset(&ns, 0, sizeof(ns));
	is_int(fc_dirent_iter(&t, &v, dir, "b", stop_cb, &ns), 0, "stop early");
	is_str(ns.buf, "d", "one entry then stop");
	memset(&ns, 0, sizeof(ns));
	is_int(fc_dirent_iter(&t, &v, dir, "zz", names_cb, &ns), 0, "after the last");
	is_int(ns.n, 0, "nothing");
	end_cell(&t, &v, true);

	/* A name newer than the view's head (another branch) is not listed. */
	must(fc_txn_begin(st, false, &t), "begin");
	{
		uint64_t head, c = 0;

		must(fc_ckpt_resolve(&t, "main", NULL, &c), "latest");
		must(fc_cell_fork(&t, "main", c, "dirfork", &head, NULL), "fork");
	}
	must(fc_txn_commit(&t), "commit");
	begin_cell(st, "main", false, &t, &v);
	must(fc_dirent_put(&t, &v, dir, "main-new", &de), "put in main");
	end_cell(&t, &v, true);
	begin_cell(st, "dirfork", true, &t, &v);
	memset(&ns, 0, sizeof(ns));
	is_int(fc_dirent_iter(&t, &v, dir, NULL, names_cb, &ns), 0, "iterate in fork");
	is_str(ns.buf, "\x01x,a,a\x01,a.b,ab,b,c,zz", "fork sees the checkpoint's names only");
	end_cell(&t, &v, false);
}

static void test_xattr_symlink(struct fc_store *st)
{
	char buf[64], target[FC_SYMLINK_MAX + 1];
	struct fc_txn t;
	struct fc_view v;
	size_t len = 0;
	uint64_t ino;

	begin_cell(st, "main", false, &t, &v);
	must(fc_alloc_ino(&t, &ino), "alloc");
	is_int(fc_xattr_put(&t, &v, ino, "user.b", "two", 3), 0, "xattr put b");
	is_int(fc_xattr_put(&t, &v, ino, "user.a", "", 0), 0, "xattr put a (empty)");
	is_int(fc_xattr_get(&t, &v, ino, "user.b", buf, sizeof(buf), &len), 0, "xattr get");
	is_int(len, 3, "length");
	is_mem(buf, "two", 3, "value");
	is_int(fc_xattr_get(&t, &v, ino, "user.b", NULL, 0, &len), 0, "size query");
	is_int(len, 3, "size query length");
	is_int(fc_xattr_list(&t, &v, ino, buf, sizeof(buf), &len), 0, "list");
	is_int(len, 14, "list length");
	is_mem(buf, "user.a\0user.b\0", 14, "list content");
	is_int(fc_xattr_put(&t, &v, ino, "user.big", buf, FC_XATTR_VALUE_MAX + 1), -E2BIG,
	       "oversized value");
	end_cell(&t, &v, true);
	checkpoint(st, "main", NULL);
	begin_cell(st, "main", false, &t, &v);
	is_int(fc_xattr_del(&t, &v, ino, "user.a"), 0, "xattr del (tombstone)");
	is_int(fc_xattr_get(&t, &v, ino, "user.a", buf, sizeof(buf), &len), -ENOENT, "deleted");
	is_int(fc_xattr_list(&t, &v, ino, NULL, 0, &len), 0, "list size");
	is_int(len, 7, "one name left");
	is_int(fc_symlink_put(&t, &v, ino, "../target"), 0, "symlink put");
	is_int(fc_symlink_get(&t, &v, ino, target), 0, "symlink get");
	is_str(target, "../target", "target");
	is_int(fc_symlink_put(&t, &v, ino, ""), -EINVAL, "empty target refused");
	end_cell(&t, &v, true);
}

static long file_blocks(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 ? (long)sb.st_blocks : -1;
}

static bool blob_file_exists(struct fc_store *st, uint64_t id)
{
	char rel[32];
	struct stat sb;

	fc_blob_relname(id, rel);
	return fstatat(st->blobs_fd, rel, &sb, 0) == 0;
}

static void test_blobs(struct fc_store *st)
{
	char buf[16] = { 0 };
	struct fc_inode in;
	struct fc_blob b;
	struct fc_txn t;
	struct fc_view v;
	uint64_t ino, b1, b2, b3;
	int fd = -1, fd2 = -1;
	struct stat sb;

	begin_cell(st, "main", false, &t, &v);
	is_int(fc_blob_create(&t, v.head, &b1, &fd), 0, "blob create");
	ok(pwrite(fd, "hello", 5, 0) == 5 && pwrite(fd, "end", 3, 8 << 20) == 3,
	   "write data, a hole, data");
	must(fc_alloc_ino(&t, &ino), "alloc");
	in = mk_inode(S_IFREG | 0644, b1, "blob");
	in.blob_gen = v.head;
	must(fc_inode_put(&t, &v, ino, &in), "inode names blob");
	is_int(fc_blob_get(&t, b1, &b), 0, "blob get");
	is_int(b.refcount, 1, "refcount 1");
	is_int(b.birth_gen, v.head, "birth gen is the head");
	must(fc_inode_put(&t, &v, ino, &in), "rewrite same version");
	must(fc_blob_get(&t, b1, &b), "blob get");
	is_int(b.refcount, 1, "still 1 after overwriting the head version");
	end_cell(&t, &v, true);
	close(fd);
	checkpoint(st, "main", NULL);

	begin_cell(st, "main", false, &t, &v);
	is_int(fc_blob_copyup(&t, b1, v.head, &b2, &fd), 0, "copy up");
	ok(b2 != b1, "new blob id");
	ok(fstat(fd, &sb) == 0 && sb.st_size == (8 << 20) + 3, "size kept");
	ok(pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0, "head data copied");
	ok(pread(fd, buf, 3, 8 << 20) == 3 && memcmp(buf, "end", 3) == 0, "tail data copied");
	ok(file_blocks(fd) < 1024, "hole kept (%ld blocks)", file_blocks(fd));
	in.blob = b2;
	must(fc_inode_put(&t, &v, ino, &in), "inode names the copy");
	must(fc_blob_get(&t, b1, &b), "get b1");
	is_int(b.refcount, 1, "b1 keeps the frozen version's reference");
	must(fc_blob_get(&t, b2, &b), "get b2");
	is_int(b.refcount, 1, "b2 has one");
	is_int(fc_blob_create(&t, v.head, &b3, &fd2), 0, "another blob");
	in.blob = b3;
	must(fc_inode_put(&t, &v, ino, &in), "head version switches to b3");
	is_int(fc_blob_get(&t, b2, &b), -ENOENT, "b2 record gone at refcount 0");
	ok(blob_file_exists(st, b2), "b2 file still there before commit");
	end_cell(&t, &v, true);
	ok(!blob_file_exists(st, b2), "b2 file unlinked after commit");
	ok(blob_file_exists(st, b1) && blob_file_exists(st, b3), "b1 and b3 files remain");

	/* An aborted txn loses nothing. */
	begin_cell(st, "main", false, &t, &v);
	in.blob = 0;
	must(fc_inode_put(&t, &v, ino, &in), "drop b3 reference");
	end_cell(&t, &v, false);
	ok(blob_file_exists(st, b3), "abort keeps b3's file");
	close(fd);
	close(fd2);

	/* Deleting the inode drops the head version's reference (b3: 1 -> 0). */
	begin_cell(st, "main", false, &t, &v);
	is_int(fc_inode_del(&t, &v, ino), 0, "delete the inode");
	is_int(fc_blob_get(&t, b3, &b), -ENOENT, "b3 record gone");
	is_int(fc_blob_get(&t, b1, &b), 0, "b1 still named by the frozen version");
	end_cell(&t, &v, true);
	ok(!blob_file_exists(st, b3), "b3 file unlinked after commit");

	must(fc_txn_begin(st, true, &t), "begin");
	is_int(fc_blob_open(st, &t, b1, O_RDONLY, &fd), 0, "blob open");
	ok(pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0, "content via open");
	close(fd);
	fc_txn_abort(&t);
}

static void test_base_blob(struct fc_store *st)
{
	char base[300], path[4096], buf[8];
	uint8_t kb[8], val[FC_BLOB_ENC_MAX];
	struct fc_blob b = { .src = FC_BLOB_BASE, .size = 3, .birth_gen = 1 };
	MDB_val k = { 8, kb }, d = { 0, val };
	struct fc_txn t;
	uint64_t id, cid;
	int fd, dfd;

	snprintf(base, sizeof(base), "%s/base", tmpdir);
	if (mkdir(base, 0700) < 0 || (dfd = open(base, O_PATH | O_DIRECTORY)) < 0)
		bail_out("mkdir base: %m");
	if (mkdirat(dfd, "sub", 0700) < 0 || symlinkat("/etc", dfd, "link") < 0)
		bail_out("base tree: %m");
	fd = openat(dfd, "sub/f", O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || write(fd, "abc", 3) != 3)
		bail_out("base file: %m");
	close(fd);
	close(dfd);

	must(fc_txn_begin(st, false, &t), "begin");
	is_int(fc_base_add(&t, base, &b.base_id), 0, "base add");
	is_int(fc_base_get(&t, b.base_id, path, sizeof(path)), 0, "base get");
	is_str(path, base, "base path");
	is_int(fc_base_add(&t, "relative", &b.base_id), -EINVAL, "relative base refused");
	must(fc_alloc_blob(&t, &id), "alloc");
	snprintf(b.relpath, sizeof(b.relpath), "sub/f");
	d.mv_size = fc_blob_encode(&b, val, sizeof(val));
	fc_key_u64(kb, id);
	must(fc_mdb_err(mdb_put(t.txn, st->dbi_blob, &k, &d, 0)), "put base blob");
	is_int(fc_blob_open(st, &t, id, O_RDONLY, &fd), 0, "open base blob");
	ok(read(fd, buf, 3) == 3 && memcmp(buf, "abc", 3) == 0, "base content");
	close(fd);
	is_int(fc_blob_open(st, &t, id, O_RDWR, &fd), -EROFS, "base blob never opened for write");
	is_int(fc_blob_copyup(&t, id, 5, &cid, &fd), 0, "copy up a base blob");
	ok(pread(fd, buf, 3, 0) == 3 && memcmp(buf, "abc", 3) == 0, "copied content");
	close(fd);
	snprintf(b.relpath, sizeof(b.relpath), "link/passwd");
	d.mv_size = fc_blob_encode(&b, val, sizeof(val));
	must(fc_mdb_err(mdb_put(t.txn, st->dbi_blob, &k, &d, 0)), "repoint base blob");
	ok(fc_blob_open(st, &t, id, O_RDONLY, &fd) < 0, "a symlink in the base path is refused");
	fc_txn_abort(&t);
}

/* Another process opens the store read-only while this one has it read-write. */
static void test_ro_while_rw(void)
{
	struct fc_store *st = NULL;
	struct fc_txn t;
	int status = -1;
	pid_t pid;

	must(fc_store_open(storepath, 0, &st, NULL), "open rw");
	must(fc_txn_begin(st, false, &t), "write txn held across the child's open");
	pid = fork();
	if (pid == 0) {
		struct fc_store *ro = NULL;
		struct fc_txn rt;
		struct fc_cell c;
		int rc = fc_store_open(storepath, FC_STORE_RDONLY, &ro, NULL);

		if (rc == 0)
			rc = fc_txn_begin(ro, true, &rt);
		if (rc == 0)
			rc = fc_cell_get(&rt, "main", &c);
		_exit(rc == 0 ? 0 : 1);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	is_int(status, 0, "read-only open in another process while open read-write");
	fc_txn_abort(&t);
	fc_store_close(st);
}

struct reuse_arg {
	struct fc_store *st;
	int failures;
};

/*
 * fs/ keeps one MDB_txn per thread, resets and renews it per request and
 * wraps it in a fresh fc_txn each time: lookups must work and leak nothing.
 */
static void *reuse_thread(void *p)
{
	struct reuse_arg *a = p;
	struct fc_inode in;
	struct fc_cell c;
	struct fc_view v;
	struct fc_txn t;
	MDB_txn *txn = NULL;

	if (mdb_txn_begin(a->st->env, NULL, MDB_RDONLY, &txn)) {
		a->failures++;
		return NULL;
	}
	for (int i = 0; i < 200; i++) {
		if (i && mdb_txn_renew(txn)) {
			a->failures++;
			break;
		}
		memset(&t, 0, sizeof(t));
		t.txn = txn;
		t.st = a->st;
		t.rdonly = true;
		if (fc_cell_get(&t, "main", &c) || fc_view_load(&t, c.head, "main", &v)) {
			a->failures++;
			break;
		}
		if (fc_inode_get(&t, &v, c.root_ino, &in) != 0)
			a->failures++;
		fc_view_release(&v);
		mdb_txn_reset(txn);
	}
	mdb_txn_abort(txn);
	return NULL;
}

static void test_txn_reuse(struct fc_store *st)
{
	struct reuse_arg a = { st, 0 };
	pthread_t th;

	reuse_thread(&a);
	is_int(a.failures, 0, "reset/renewed read txn wrapped afresh per request");
	a.failures = 0;
	ok(pthread_create(&th, NULL, reuse_thread, &a) == 0 && pthread_join(th, NULL) == 0,
	   "the same in a thread that exits");
	is_int(a.failures, 0, "without failures");
}

static void test_reopen(void)
{
	struct fc_store *st = NULL, *ro = NULL;
	struct fc_txn t;
	struct fc_view v;
	struct fc_diag d;
	struct fc_cell c;
	int rc;

	fc_diag_init(&d);
	rc = fc_store_open(storepath, 0, &st, &d);
	is_int(rc, 0, "reopen: %s", rc ? d.msg : "ok");
	if (rc < 0)
		return;
	is_int(fc_txn_begin(st, true, &t), 0, "read txn");
	is_int(fc_cell_get(&t, "main", &c), 0, "cell persisted");
	is_int(fc_view_load(&t, c.head, "main", &v), 0, "view");
	is_int(v.root_ino, c.root_ino, "view root from cell");
	fc_view_release(&v);
	is_int(fc_cell_get(&t, "nope", &c), FC_ENOCELL, "unknown cell");
	fc_txn_abort(&t);
	fc_store_close(st);

	rc = fc_store_open(storepath, FC_STORE_RDONLY, &ro, &d);
	is_int(rc, 0, "read-only open: %s", rc ? d.msg : "ok");
	if (rc == 0) {
		is_int(fc_txn_begin(ro, false, &t), -EROFS, "no write txn on a read-only store");
		fc_store_close(ro);
	}
	test_ro_while_rw();
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		bail_out("write %s: %m", path);
	close(fd);
}

/* Overwrite a meta record behind the store's back. */
static void tamper_meta(struct fc_store *st, const char *key, const void *val, size_t n)
{
	MDB_val k = { strlen(key), (void *)key }, d = { n, (void *)val };
	struct fc_txn t;

	must(fc_txn_begin(st, false, &t), "begin");
	must(fc_mdb_err(mdb_put(t.txn, st->dbi_meta, &k, &d, 0)), "tamper");
	must(fc_txn_commit(&t), "commit");
}

static void test_refusals(void)
{
	char p[300], f[400], junk[8192];
	struct fc_store *st = NULL;
	struct fc_diag d;

	fc_diag_init(&d);
	snprintf(p, sizeof(p), "%s/foreign", tmpdir);
	mkdir(p, 0700);
	snprintf(f, sizeof(f), "%s/notes.txt", p);
	write_file(f, "x", 1);
	is_int(fc_store_open(p, FC_STORE_CREATE, &st, &d), FC_EFOREIGN,
	       "a non-empty foreign dir is refused");
	ok(strstr(d.msg, "not a forkcell store") != NULL, "diag: %s", d.msg);
	is_int(fc_store_open(p, 0, &st, &d), FC_EFOREIGN, "and without create too");

	snprintf(p, sizeof(p), "%s/garbage", tmpdir);
	mkdir(p, 0700);
	snprintf(f, sizeof(f), "%s/meta", p);
	mkdir(f, 0700);
	snprintf(f, sizeof(f), "%s/meta/data.mdb", p);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(f, junk, sizeof(junk));
	is_int(fc_store_open(p, 0, &st, &d), FC_ECORRUPT, "garbage data.mdb is corrupt");
	diag("%s", d.msg);

	snprintf(p, sizeof(p), "%s/missing", tmpdir);
	is_int(fc_store_open(p, 0, &st, &d), -ENOENT, "missing store without create");

	snprintf(p, sizeof(p), "%s/empty", tmpdir);
	mkdir(p, 0700);
	is_int(fc_store_open(p, FC_STORE_CREATE, &st, &d), 0,
	       "an existing empty dir becomes a store");
	if (st) {
		struct stat sb;

		ok(fstatat(st->blobs_fd, "ff", &sb, 0) == 0 && S_ISDIR(sb.st_mode) &&
		   (sb.st_mode & 0777) == 0700, "blobs/ff exists with mode 0700");
		tamper_meta(st, "format", "\x02\0\0\0", 4);
		fc_store_close(st);
		st = NULL;
	}
	is_int(fc_store_open(p, 0, &st, &d), FC_EVERSION, "another format version is refused");
	ok(strstr(d.msg, "format 2") != NULL, "diag: %s", d.msg);
	is_int(fc_store_open(p, FC_STORE_RDONLY, &st, &d), FC_EVERSION,
	       "read-only open refuses it too");
}

int main(void)
{
	struct fc_diag d;
	struct fc_store *st = NULL;
	uint64_t root;
	int rc;

	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp: %m");
	snprintf(storepath, sizeof(storepath), "%s/store", tmpdir);
	fc_diag_init(&d);
	rc = fc_store_open(storepath, FC_STORE_CREATE, &st, &d);
	if (rc < 0)
		bail_out("cannot create store: %s", fc_diag_msg(&d, rc));
	test_smoke(st);
	root = 0;
	{
		struct fc_txn t;
		struct fc_cell c;

		must(fc_txn_begin(st, true, &t), "begin");
		must(fc_cell_get(&t, "main", &c), "cell");
		root = c.root_ino;
		fc_txn_abort(&t);
	}
	test_versions(st);
	test_restore_fork(st, root);
	test_dirent_iter(st);
	test_xattr_symlink(st);
	test_blobs(st);
	test_base_blob(st);
	test_txn_reuse(st);
	fc_store_close(st);
	test_reopen();
	test_refusals();
	rc = done_testing();
	if (rc == 0) {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			diag("cannot remove %s", tmpdir);
	}
	return rc;
}
