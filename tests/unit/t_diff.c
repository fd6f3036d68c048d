/*
 * t_diff: import, diff, restore-path, fsck and gc on a store built through
 * the fc_store API (no FUSE): a small tree is imported, the head is edited
 * record by record, and each module is checked against what the edits
 * should produce.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_diff.h"
#include "fc_fsck.h"
#include "fc_gc.h"
#include "fc_import.h"
#include "fc_restore_path.h"
#include "fc_store.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_diff.XXXXXX";

static void must(int rc, const char *what)
{
	if (rc < 0)
		bail_out("%s: %s", what, fc_strerror(rc));
}

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/src/%s", tmpdir, rel);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		bail_out("cannot write %s", path);
}

static void make_source(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/src", tmpdir);
	must(mkdir(path, 0755) ? -errno : 0, "mkdir src");
	snprintf(path, sizeof(path), "%s/src/d", tmpdir);
	must(mkdir(path, 0755) ? -errno : 0, "mkdir d");
	write_file("a", "alpha\n");
	write_file("d/b", "bravo\n");
	write_file("d/c", "charlie\n");
}

/* Collected diff lines "A path" sorted as fc_diff emits them. */
struct lines {
	char buf[4096];
	size_t n;
};

static int collect(void *arg, const struct fc_diff_entry *e)
{
	struct lines *l = arg;

	l->n += (size_t)snprintf(l->buf + l->n, sizeof(l->buf) - l->n, "%c %s%s;", e->status,
				 e->path, e->type == DT_DIR ? "/" : "");
	return 0;
}

static void diff_of(struct fc_store *st, const char *cell, uint64_t from, struct lines *l)
{
	struct fc_view a, b;
	struct fc_txn t;
	struct fc_cell c;

	memset(l, 0, sizeof(*l));
	must(fc_txn_begin(st, true, &t), "begin");
	must(fc_cell_get(&t, cell, &c), "cell");
	must(fc_view_load(&t, from, cell, &a), "view from");
	must(fc_view_load(&t, c.head, cell, &b), "view head");
	must(fc_diff(&t, &a, &b, collect, l), "diff");
	fc_view_release(&a);
	fc_view_release(&b);
	fc_txn_abort(&t);
}

static uint64_t fsck_count(struct fc_store *st)
{
	uint64_t n = 0;

	must(fc_fsck(st, NULL, NULL, &n, NULL), "fsck");
	return n;
}

static void begin_head(struct fc_store *st, const char *cell, bool rdonly, struct fc_txn *t,
		       struct fc_view *v, struct fc_cell *c)
{
	must(fc_txn_begin(st, rdonly, t), "begin");
	must(fc_cell_get(t, cell, c), "cell");
	must(fc_view_load(t, c->head, cell, v), "view");
}

static uint64_t lookup(struct fc_txn *t, struct fc_view *v, uint64_t dir, const char *name)
{
	struct fc_dirent de;

	if (fc_dirent_get(t, v, dir, name, &de) < 0 || de.tomb)
		return 0;
	return de.ino;
}

/* Edit the head: modify a, delete d/c, add new and nd/x. */
static void edit_head(struct fc_store *st, uint64_t *a_ino)
{
	struct fc_inode in, root;
	struct fc_dirent de = { 0 };
	struct fc_txn t;
	struct fc_view v;
	struct fc_cell c;
	uint64_t d, cino, ino, nd;

	begin_head(st, "w", false, &t, &v, &c);
	*a_ino = lookup(&t, &v, c.root_ino, "a");
	must(fc_inode_get(&t, &v, *a_ino, &in), "get a");
	in.size = 100;
	in.mtime.sec += 10;
	must(fc_inode_put(&t, &v, *a_ino, &in), "put a");

	d = lookup(&t, &v, c.root_ino, "d");
	cino = lookup(&t, &v, d, "c");
	must(fc_dirent_del(&t, &v, d, "c"), "del d/c");
	must(fc_inode_del(&t, &v, cino), "del c inode");

	memset(&in, 0, sizeof(in));
	in.mode = S_IFREG | 0644;
	in.nlink = 1;
	in.parent = c.root_ino;
	snprintf(in.name, sizeof(in.name), "new");
	must(fc_alloc_ino(&t, &ino), "alloc");
	must(fc_inode_put(&t, &v, ino, &in), "put new");
	de.type = DT_REG;
	de.ino = ino;
	must(fc_dirent_put(&t, &v, c.root_ino, "new", &de), "dirent new");

	in.mode = S_IFDIR | 0755;
	in.nlink = 2;
	snprintf(in.name, sizeof(in.name), "nd");
	must(fc_alloc_ino(&t, &nd), "alloc");
	must(fc_inode_put(&t, &v, nd, &in), "put nd");
	de.type = DT_DIR;
	de.ino = nd;
	must(fc_dirent_put(&t, &v, c.root_ino, "nd", &de), "dirent nd");
	must(fc_inode_get(&t, &v, c.root_ino, &root), "get root");
	root.nlink++;
	must(fc_inode_put(&t, &v, c.root_ino, &root), "put root");

	in.mode = S_IFREG | 0600;
	in.nlink = 1;
	in.parent = nd;
	snprintf(in.name, sizeof(in.name), "x");
	must(fc_alloc_ino(&t, &ino), "alloc");
	must(fc_inode_put(&t, &v, ino, &in), "put x");
	de.type = DT_REG;
	de.ino = ino;
	must(fc_dirent_put(&t, &v, nd, "x", &de), "dirent x");
	fc_view_release(&v);
	must(fc_txn_commit(&t), "commit");
}

static void restore_paths(struct fc_store *st, uint64_t ckpt, const char *const *paths, size_t n)
{
	struct fc_view h, cv;
	struct fc_txn t;
	struct fc_cell c;
	struct fc_diag d;
	uint64_t changed = 0;

	fc_diag_init(&d);
	begin_head(st, "w", false, &t, &h, &c);
	must(fc_view_load(&t, ckpt, "w", &cv), "view ckpt");
	for (size_t i = 0; i < n; i++) {
		int rc = fc_restore_path(&t, &h, &cv, paths[i], NULL, NULL, &changed, &d);

		is_int(rc, 0, "restore-path '%s' (%s)", paths[i], d.msg);
	}
	fc_view_release(&h);
	fc_view_release(&cv);
	must(fc_txn_commit(&t), "commit");
}

static void test_restore_errors(struct fc_store *st, uint64_t ckpt)
{
	struct fc_view h, cv;
	struct fc_txn t;
	struct fc_cell c;
	uint64_t changed = 0;

	begin_head(st, "w", false, &t, &h, &c);
	must(fc_view_load(&t, ckpt, "w", &cv), "view ckpt");
	is_int(fc_restore_path(&t, &h, &cv, "../etc", NULL, NULL, &changed, NULL), FC_ENAME,
	       "'..' is refused");
	is_int(fc_restore_path(&t, &h, &cv, "nothere", NULL, NULL, &changed, NULL), -ENOENT,
	       "a path in neither view");
	is_int(fc_restore_path(&t, &h, &cv, "nodir/x", NULL, NULL, &changed, NULL), -ENOENT,
	       "a missing parent in the head");
	fc_view_release(&h);
	fc_view_release(&cv);
	fc_txn_abort(&t);
}

static void test_gc(struct fc_store *st, uint64_t ckpt)
{
	struct fc_gc_opts o = { .cell = NULL, .dry_run = true };
	struct fc_gc_stats dry, real;
	uint64_t old_head = 0, head = 0;
	struct fc_txn t;
	struct fc_diag d;

	fc_diag_init(&d);
	must(fc_txn_begin(st, false, &t), "begin");
	must(fc_cell_restore(&t, "w", ckpt, &old_head, &head, NULL), "restore");
	must(fc_txn_commit(&t), "commit");
	is_int(fc_gc(st, &o, &dry, &d), 0, "gc --dry-run (%s)", d.msg);
	ok(dry.gens >= 1, "dry run finds the abandoned head (%llu)", (unsigned long long)dry.gens);
	ok(dry.records >= 1, "and its records (%llu)", (unsigned long long)dry.records);
	o.dry_run = false;
	is_int(fc_gc(st, &o, &real, &d), 0, "gc (%s)", d.msg);
	is_int(real.gens, dry.gens, "gc reclaims what the dry run promised");
	is_int(real.records, dry.records, "the same records");
	is_int(fsck_count(st), 0, "fsck is clean after gc");
	is_int(fc_gc(st, &o, &real, &d), 0, "second gc");
	is_int(real.gens, 0, "nothing left to reclaim");

	/* A crashed init: a head generation with records but no cell. */
	{
		struct fc_gen g = { .kind = FC_GEN_HEAD };
		struct fc_inode in = { .mode = S_IFDIR | 0755, .nlink = 2 };
		struct fc_view v;
		uint64_t gen, ino;

		snprintf(g.cell, sizeof(g.cell), "ghost");
		must(fc_txn_begin(st, false, &t), "begin");
		must(fc_alloc_gen(&t, &gen), "alloc gen");
		must(fc_gen_put(&t, gen, &g), "gen put");
		must(fc_view_load(&t, gen, NULL, &v), "view");
		must(fc_alloc_ino(&t, &ino), "alloc ino");
		must(fc_inode_put(&t, &v, ino, &in), "inode put");
		fc_view_release(&v);
		must(fc_txn_commit(&t), "commit");
	}
	is_int(fc_gc(st, &o, &real, &d), 0, "gc after a crashed init");
	is_int(real.gens, 1, "the orphan generation is reclaimed");
	is_int(real.records, 1, "with its record");
	is_int(fsck_count(st), 0, "fsck is clean");

	/* A blob created but never named (crash before the inode write). */
	{
		uint64_t id = 0;
		int fd = -1;

		must(fc_txn_begin(st, false, &t), "begin");
		must(fc_blob_create(&t, head, &id, &fd), "blob create");
		if (fd >= 0)
			close(fd);
		must(fc_txn_commit(&t), "commit");
	}
	is_int(fc_gc(st, &o, &real, &d), 0, "gc after a leaked blob");
	ok(real.swept && real.orphan_files >= 1, "the unreferenced blob is swept (%llu)",
	   (unsigned long long)real.orphan_files);
	is_int(fsck_count(st), 0, "fsck is clean");
}

int main(void)
{
	static const char *const back[] = { "d/c", "new", "nd" };
	struct fc_import_stats is;
	struct fc_store *st = NULL;
	struct fc_diag d;
	struct lines l;
	char path[512];
	uint64_t a_ino = 0;

	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp");
	make_source();
	snprintf(path, sizeof(path), "%s/store", tmpdir);
	fc_diag_init(&d);
	must(fc_store_open(path, FC_STORE_CREATE, &st, &d), "store open");
	snprintf(path, sizeof(path), "%s/src", tmpdir);
	is_int(fc_import_dir(st, "w", path, &is, &d), 0, "import (%s)", d.msg);
	is_int(is.files, 3, "three files imported");
	is_int(is.dirs, 2, "two directories imported");
	is_int(fc_import_dir(st, "w", path, &is, &d), FC_EEXIST, "second import refused");
	is_int(fc_import_dir(st, "v", "/nonexistent/x", &is, &d), -ENOENT, "missing source");
	is_int(fsck_count(st), 0, "fsck is clean after import");

	diff_of(st, "w", is.root_gen, &l);
	is_str(l.buf, "", "no diff between base and a fresh head");
	edit_head(st, &a_ino);
	diff_of(st, "w", is.root_gen, &l);
	is_str(l.buf, "M a;D d/c;A nd/;A nd/x;A new;", "diff names exactly the edits");
	is_int(fsck_count(st), 0, "fsck is clean after the edits");

	restore_paths(st, is.root_gen, back, 3);
	diff_of(st, "w", is.root_gen, &l);
	is_str(l.buf, "M a;", "restore-path brought d/c back, removed new and nd");
	restore_paths(st, is.root_gen, (const char *const[]){ "a" }, 1);
	diff_of(st, "w", is.root_gen, &l);
	is_str(l.buf, "", "restore-path a: the head equals the base again");
	is_int(fsck_count(st), 0, "fsck is clean after restore-path");
	test_restore_errors(st, is.root_gen);

	edit_head(st, &a_ino);
	test_gc(st, is.root_gen);
	fc_store_close(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	if (system(path) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
