/*
 * run_changes: the "changes" object of a receipt. The changed paths come
 * from fc_diff (the change logs of the generations between the run's
 * checkpoint and the head after the run), so the cost follows the number of
 * changes, never the size of the workspace. Each file gets its size and
 * XXH3-128 content hash before and after; a path deleted and another added
 * with the same inode number is reported once, as a rename.
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_diff.h"

struct change {
	char *path;
	char status;
	uint8_t type;
	uint64_t ino;
	uint64_t old_size, new_size;
	bool paired; /* consumed by a rename */
};

struct change_list {
	struct change *v;
	size_t n, cap;
	struct change **added_by_ino; /* the ADDED entries sorted by ino, for renames */
	size_t n_added;
};

static int collect(void *arg, const struct fc_diff_entry *e)
{
	struct change_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct change *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = (struct change){ .path = strdup(e->path), .status = e->status,
				      .type = e->type, .ino = e->ino, .old_size = e->old_size,
				      .new_size = e->new_size };
	if (!l->v[l->n].path)
		return -ENOMEM;
	l->n++;
	return 0;
}

static const char *type_name(uint8_t t)
{
	switch (t) {
	case DT_REG: return "file";
	case DT_DIR: return "dir";
	case DT_LNK: return "symlink";
	case DT_FIFO: return "fifo";
	case DT_CHR: return "chardev";
	case DT_BLK: return "blockdev";
	case DT_SOCK: return "socket";
	default: return "unknown";
	}
}

/* XXH3-128 of ino's content in view v, or of its symlink target. */
static int content_hash(struct fc_store *st, struct fc_txn *t, const struct fc_view *v,
			uint64_t ino, uint8_t type, char out[FC_XXH128_HEX])
{
	struct fc_inode in;
	int fd = -1, rc;

	if (type == DT_LNK) {
		char target[FC_SYMLINK_MAX + 1];

		rc = fc_symlink_get(t, v, ino, target);
		if (rc == 0)
			fc_xxh128_buf(target, strlen(target), out);
		return rc;
	}
	rc = fc_inode_get(t, v, ino, &in);
	if (rc < 0)
		return rc;
	if (in.blob == 0) {
		fc_xxh128_buf("", 0, out);
		return 0;
	}
	rc = fc_blob_open(st, t, in.blob, O_RDONLY, &fd);
	if (rc == 0)
		rc = fc_xxh128_fd(fd, out);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int add_side(struct fc_store *st, struct fc_txn *t, const struct fc_view *v, cJSON *o,
		    const char *key, const struct change *ch, uint64_t size)
{
	char h[FC_XXH128_HEX];
	cJSON *side = cJSON_AddObjectToObject(o, key);
	int rc;

	if (!side)
		return -ENOMEM;
	cJSON_AddNumberToObject(side, "size", (double)size);
	if (ch->type != DT_REG && ch->type != DT_LNK)
		return 0;
	rc = content_hash(st, t, v, ch->ino, ch->type, h);
	if (rc < 0)
		return rc;
	cJSON_AddStringToObject(side, "xxh3_128", h);
	return 0;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct change *x = *(const struct change *const *)a;
	const struct change *y = *(const struct change *const *)b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int index_added(struct change_list *l)
{
	l->added_by_ino = calloc(l->n ? l->n : 1, sizeof(*l->added_by_ino));
	if (!l->added_by_ino)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].status == FC_DIFF_ADDED && l->v[i].type != DT_DIR)
			l->added_by_ino[l->n_added++] = &l->v[i];
	qsort(l->added_by_ino, l->n_added, sizeof(*l->added_by_ino), cmp_ino);
	return 0;
}

/* The unpaired ADDED entry with del's inode: O(log n) through the index. */
static struct change *find_rename_target(struct change_list *l, const struct change *del)
{
	size_t lo = 0, hi = l->n_added;

	if (del->type == DT_DIR)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->added_by_ino[mid]->ino < del->ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < l->n_added && l->added_by_ino[lo]->ino == del->ino; lo++)
		if (!l->added_by_ino[lo]->paired)
			return l->added_by_ino[lo];
	return NULL;
}

static int emit(struct fc_store *st, struct fc_txn *t, const struct fc_view *from,
		const struct fc_view *to, struct change_list *l, cJSON *out)
{
	cJSON *added = cJSON_AddArrayToObject(out, "added");
	cJSON *modified = cJSON_AddArrayToObject(out, "modified");
	cJSON *deleted = cJSON_AddArrayToObject(out, "deleted");
	cJSON *renamed = cJSON_AddArrayToObject(out, "renamed");
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < l->n; i++) {
		struct change *ch = &l->v[i], *dst;
		cJSON *o;

		if (ch->paired)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", ch->path);
		cJSON_AddStringToObject(o, "type", type_name(ch->type));
		if (ch->status == FC_DIFF_DELETED && (dst = find_rename_target(l, ch))) {
			dst->paired = true;
			cJSON_AddStringToObject(o, "to", dst->path);
			rc = add_side(st, t, from, o, "before", ch, ch->old_size);
			if (rc == 0)
				rc = add_side(st, t, to, o, "after", dst, dst->new_size);
			cJSON_AddItemToArray(renamed, o);
			continue;
		}
		if (ch->status != FC_DIFF_ADDED)
			rc = rc ?: add_side(st, t, from, o, "before", ch, ch->old_size);
		if (ch->status != FC_DIFF_DELETED)
			rc = rc ?: add_side(st, t, to, o, "after", ch, ch->new_size);
		cJSON_AddItemToArray(ch->status == FC_DIFF_ADDED     ? added
				     : ch->status == FC_DIFF_DELETED ? deleted
								     : modified,
				     o);
	}
	if (rc == 0) {
		cJSON *counts = cJSON_AddObjectToObject(out, "counts");

		cJSON_AddNumberToObject(counts, "added", cJSON_GetArraySize(added));
		cJSON_AddNumberToObject(counts, "modified", cJSON_GetArraySize(modified));
		cJSON_AddNumberToObject(counts, "deleted", cJSON_GetArraySize(deleted));
		cJSON_AddNumberToObject(counts, "renamed", cJSON_GetArraySize(renamed));
	}
	return rc;
}

int run_changes(struct fc_store *st, const char *cell, uint64_t from, uint64_t to,
		cJSON **out, struct fc_diag *d)
{
	struct fc_txn t = { 0 };
	struct fc_view vf = { 0 }, vt = { 0 };
	struct change_list l = { 0 };
	cJSON *o = cJSON_CreateObject();
	int rc = o ? fc_txn_begin(st, true, &t) : -ENOMEM;

	if (rc == 0)
		rc = fc_view_load(&t, from, cell, &vf);
	if (rc == 0)
		rc = fc_view_load(&t, to, cell, &vt);
	if (rc == 0)
		rc = fc_diff(&t, &vf, &vt, collect, &l);
	if (rc == 0)
		rc = index_added(&l);
	if (rc == 0)
		rc = emit(st, &t, &vf, &vt, &l, o);
	fc_txn_abort(&t);
	fc_view_release(&vf);
	fc_view_release(&vt);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].path);
	free(l.v);
	free(l.added_by_ino);
	if (rc < 0) {
		cJSON_Delete(o);
		return fc_diag_set(d, rc, "cannot compute the file changes of the run: %s",
				   fc_strerror(rc));
	}
	*out = o;
	return 0;
}
