/*
 * fc_diff: the changed paths between two generations of a store, computed
 * from the change logs of the generations that one view has and the other
 * lacks (never a tree walk): cost O(changes x depth).
 */
#ifndef FC_DIFF_H
#define FC_DIFF_H

#include <stdint.h>

#include "fc_store.h"

enum fc_diff_status {
	FC_DIFF_ADDED = 'A',
	FC_DIFF_MODIFIED = 'M',
	FC_DIFF_DELETED = 'D',
};

struct fc_diff_entry {
	const char *path;   /* relative to the cell root, no leading '/'; borrowed */
	char status;        /* enum fc_diff_status */
	uint8_t type;       /* DT_REG, DT_DIR, ... (of the new version, or the old one for D) */
	uint64_t ino;
	uint64_t old_size;  /* 0 for A */
	uint64_t new_size;  /* 0 for D */
};

/* Called once per change in path order; 0 continue, 1 stop, <0 abort. */
typedef int (*fc_diff_cb)(void *arg, const struct fc_diff_entry *e);

/*
 * Report what changed from view `from` to view `to` (both loaded in t with
 * their root_ino set, e.g. fc_view_load(t, gen, cell, &v)). A path whose
 * entry changed type is reported as D then A. Directories are reported when
 * added or deleted (with the entries below a deleted or added directory),
 * or when their mode or owner changed; a directory whose only change is a
 * new mtime from entry changes is not. A modified file with several hard
 * links is reported under each of its names (found by one walk of the new
 * tree, paid only when such a file changed). A file whose primary link is
 * not resolvable is named "#<ino>".
 *
 * Returns 0, the first negative cb result, -ENOMEM or store errors.
 */
int fc_diff(struct fc_txn *t, const struct fc_view *from, const struct fc_view *to,
	    fc_diff_cb cb, void *arg);

/*
 * The path of ino in view v (relative, "" for the root), walking the primary
 * links upward and checking each step. out has cap bytes. Returns 0,
 * -ENOENT when the chain is broken, -ENAMETOOLONG, FC_ECORRUPT on a cycle.
 */
int fc_diff_path(struct fc_txn *t, const struct fc_view *v, uint64_t ino, char *out, size_t cap);

#endif
