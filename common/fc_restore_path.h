/*
 * fc_restore_path: bring single paths of a checkpoint back into a cell's
 * head, inside the caller's write transaction. Inode numbers are kept (the
 * checkpoint's inode record is copied into the head under the same number,
 * sharing its blob: no data copy), so st_ino stays stable.
 */
#ifndef FC_RESTORE_PATH_H
#define FC_RESTORE_PATH_H

#include <stdint.h>

#include "fc_store.h"

/*
 * Invalidation callback: name != NULL means the entry (parent, name) changed
 * (ino is its new inode or 0 when removed); name == NULL means the inode ino
 * changed (attributes, data, or removal). Return 0 or a negative error.
 */
typedef int (*fc_restore_path_cb)(void *arg, uint64_t parent, const char *name, uint64_t ino);

/*
 * Make path (relative to the cell root: "a/b"; "." parts are ignored, an
 * absolute path or ".." is refused with FC_ENAME) in the writable view head equal to
 * path in the view ckpt: a file, symlink or special file gets the
 * checkpoint's record (content, mode, owner, times, xattrs); a directory
 * the same, recursively; a path absent in the checkpoint is removed from
 * the head (recursively). Both views must be loaded in t with root_ino set.
 * *changed counts the records written. cb may be NULL.
 *
 * Errors (message in d): FC_ENAME, -ENOENT (absent in both the checkpoint
 * and the head), -ENOTDIR/-ENOENT for a missing parent in the head
 * ("restore 'a' first"), FC_ESTATE (a directory of the checkpoint lives
 * elsewhere in the head), store errors.
 */
int fc_restore_path(struct fc_txn *t, const struct fc_view *head, const struct fc_view *ckpt,
		    const char *path, fc_restore_path_cb cb, void *arg, uint64_t *changed,
		    struct fc_diag *d);

#endif
