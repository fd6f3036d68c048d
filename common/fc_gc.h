/*
 * fc_gc: reclaim what no cell can reach any more: abandoned generations,
 * the generations of deleted cells, the half-built generation of a crashed
 * init, their records, the blobs only they named, and orphan files.
 *
 * Live generations: the chain (ancestors included) of every cell's head,
 * of every checkpoint of an existing cell, of a generation whose cell is
 * being initialised right now (its writer lock is held), and of a
 * checkpoint served by a time-travel mount. Everything else is dead.
 */
#ifndef FC_GC_H
#define FC_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "fc_store.h"

struct fc_gc_opts {
	const char *cell;   /* only the dead generations made by this cell; NULL = all */
	bool dry_run;       /* count what would go, change nothing */
};

struct fc_gc_stats {
	uint64_t gens;          /* generations reclaimed */
	uint64_t records;       /* dirent/inode/xattr/symlink versions deleted */
	uint64_t blobs;         /* blobs whose last reference went */
	uint64_t bytes;         /* bytes of own blob files freed */
	uint64_t orphan_files;  /* tmp/ leftovers, blob files without a record, blob
				 * records no inode names (a crash between the two) */
	uint64_t orphan_bytes;
	bool swept;             /* the orphan sweep ran (--all, no daemon running) */
};

/*
 * Run a collection. Takes the writer lock of every cell whose generations
 * it reclaims and refuses (FC_ELOCKED, "cell 'x' is mounted; unmount it or
 * gc other cells") when one is held by a daemon. Work is committed in
 * batches; an interrupted gc leaves a consistent store and the next run
 * continues. The orphan sweep of blob files runs only for a whole-store
 * collection while no daemon serves any cell. *out is written on success.
 * Errors: FC_ELOCKED, FC_ENOCELL (opts->cell does not exist and made no
 * generation), store errors; message in d.
 */
int fc_gc(struct fc_store *st, const struct fc_gc_opts *opts, struct fc_gc_stats *out,
	  struct fc_diag *d);

#endif
