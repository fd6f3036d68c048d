/*
 * fc_fsck: check a store's invariants and report every problem found.
 *
 * Checked: every generation's parent exists and is older; every cell's head
 * exists and is a head; in the view of every cell head and every checkpoint
 * of an existing cell, every visible entry names a visible inode of the
 * matching type, every directory is reached once, and link counts match
 * (directories: 2 + subdirectories; others: the entries naming them); blob
 * refcounts equal the inode versions naming them; every own blob has a file
 * and every blob file a record; change-log entries name existing
 * generations; the id counters exceed every id in use.
 *
 * Blob files without a record (left by a crash between writing a blob and
 * committing its record) are reported as "garbage (...)" lines but are not
 * problems: gc --all removes them.
 *
 * Cost: O(store) for the tables plus O(tree) per checked view.
 */
#ifndef FC_FSCK_H
#define FC_FSCK_H

#include <stdint.h>

#include "fc_store.h"

/* One problem, as a line of text without newline (borrowed for the call). */
typedef void (*fc_fsck_cb)(void *arg, const char *problem);

/*
 * Check st (read-only: one read transaction). *problems is the number of
 * problems reported through cb. Returns 0 when the check ran (whatever it
 * found), or a negative error when it could not run.
 */
int fc_fsck(struct fc_store *st, fc_fsck_cb cb, void *arg, uint64_t *problems,
	    struct fc_diag *d);

#endif
