/*
 * fc_import: `init CELL --from DIR`: import a directory's namespace into a
 * new cell without copying data (a lazy base). One metadata pass over the
 * tree; regular files become base blobs that point at DIR's files.
 */
#ifndef FC_IMPORT_H
#define FC_IMPORT_H

#include <stdint.h>

#include "fc_err.h"

struct fc_store;

struct fc_import_stats {
	uint64_t files;      /* regular files (hard links counted once) */
	uint64_t dirs;       /* directories, the root included */
	uint64_t symlinks;
	uint64_t specials;   /* fifos, devices, sockets */
	uint64_t bytes;      /* sum of regular file sizes */
	uint64_t root_gen;   /* the "base" checkpoint */
	uint64_t head;       /* the cell's head */
	int64_t duration_ns;
};

/*
 * Create cell from the directory srcpath. The caller holds the writer lock
 * of cell (fc_cell_lock_try) so that gc leaves the half-built generation
 * alone. Work is committed in batches; the cell record is written last, so
 * a failure or crash leaves only unreachable generations that gc reclaims.
 *
 * Errors (message in d): FC_ENAME, FC_EEXIST (cell exists), -ENOENT
 * ("source '...' does not exist"), -ENOTDIR, -ENAMETOOLONG (a path under
 * the source exceeds FC_RELPATH_MAX), -ENOSPC, -errno of the walk, store
 * errors. *stats is written on success.
 */
int fc_import_dir(struct fc_store *st, const char *cell, const char *srcpath,
		  struct fc_import_stats *stats, struct fc_diag *d);

#endif
