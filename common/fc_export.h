/*
 * fc_export: materialise a generation of a cell into a real directory:
 * files (holes kept), directories, symlinks, hard links, fifos, devices,
 * sockets, modes, owners (when root), ns times and xattrs.
 */
#ifndef FC_EXPORT_H
#define FC_EXPORT_H

#include <stdint.h>

#include "fc_store.h"

struct fc_export_stats {
	uint64_t files;
	uint64_t dirs;      /* the root included */
	uint64_t symlinks;
	uint64_t specials;
	uint64_t links;     /* extra hard links */
	uint64_t bytes;
};

/*
 * Write the tree of view v (loaded in t, root_ino set) into the empty
 * directory dirfd (an O_RDONLY|O_DIRECTORY fd the caller owns). Everything
 * is created relative to dirfd with O_NOFOLLOW/O_EXCL, so nothing outside
 * it is touched. Owners are applied only when running as root. On error the
 * partial tree stays (the caller says where). Returns 0, -errno (first
 * failure, path in d), or store errors.
 */
int fc_export(struct fc_store *st, struct fc_txn *t, const struct fc_view *v, int dirfd,
	      struct fc_export_stats *stats, struct fc_diag *d);

#endif
