/*
 * fc_lock: the per-cell writer lock and the daemon info file.
 *
 * Writer lock: whoever writes a cell's head (the forkcellfs daemon while it
 * serves the cell, or forkcellctl acting on an unmounted cell) holds
 * flock(LOCK_EX|LOCK_NB) on STORE/run/<cell>.lock for the whole time. A
 * time-travel (checkpoint) mount locks STORE/run/<cell>@<gen>.lock instead,
 * so it never blocks the live cell. The lock dies with its process, so a
 * kill -9'd daemon leaves the lock free.
 *
 * Daemon info file: STORE/run/<cell>.json (or <cell>@<gen>.json), written
 * atomically by the daemon once it serves, removed on clean exit:
 *   {"pid":123,"mountpoint":"/abs/path","cell":"name","checkpoint":0,
 *    "ro":false,"started":1764300000}
 *
 * Serve state of a cell:
 *   FC_SERVE_NONE   lock free, no info file: nobody serves it
 *   FC_SERVE_LIVE   lock held: a daemon serves it (talk to its socket)
 *   FC_SERVE_STALE  lock free but an info file remains: the daemon was killed
 *                   (the daemon removes its info file before dropping the lock);
 *                   its mountpoint may be a dead FUSE mount (stat: ENOTCONN).
 *                   `forkcellctl umount` cleans it up
 *
 * Threading: reentrant. All fds O_CLOEXEC.
 */
#ifndef FC_LOCK_H
#define FC_LOCK_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "fc_codec.h"
#include "fc_err.h"

struct fc_store;

/*
 * Try to take the writer lock of cell (ckpt == 0) or of its time-travel
 * mount of checkpoint ckpt. On success *fd_out is the lock fd (release with
 * fc_cell_lock_release). Returns 0, FC_ELOCKED when another open file holds
 * it (message names the cell), FC_ENAME, -errno.
 */
int fc_cell_lock_try(struct fc_store *st, const char *cell, uint64_t ckpt, int *fd_out,
		     struct fc_diag *d);

/* Release (close) a lock fd; -1 is ignored. The lock file stays. */
void fc_cell_lock_release(int fd);

/* 1 if the lock of (cell, ckpt) is held by someone else, 0 if free, <0 on error. */
int fc_cell_lock_held(struct fc_store *st, const char *cell, uint64_t ckpt);

struct fc_daemon_info {
	int64_t pid;
	int64_t started;        /* unix seconds */
	uint64_t checkpoint;    /* 0 for the live cell */
	bool ro;
	char cell[FC_CELL_NAME_MAX + 1];
	char mountpoint[PATH_MAX];
};

/* Write (atomically: temp, fsync, rename, fsync dir) the info file. 0 or -errno. */
int fc_daemon_info_write(struct fc_store *st, const struct fc_daemon_info *info);

/*
 * Read the info file of (cell, ckpt) into *out. Returns 0, -ENOENT when
 * absent, FC_ECORRUPT when unreadable JSON or fields missing.
 */
int fc_daemon_info_read(struct fc_store *st, const char *cell, uint64_t ckpt,
			struct fc_daemon_info *out);

/* Remove the info file (and the socket file) of (cell, ckpt); absent is fine. */
int fc_daemon_info_remove(struct fc_store *st, const char *cell, uint64_t ckpt);

enum fc_serve_state {
	FC_SERVE_NONE = 0,
	FC_SERVE_LIVE = 1,
	FC_SERVE_STALE = 2,
};

/*
 * Tell whether (cell, ckpt) is served (see top of file). *info_out (may be
 * NULL) is filled when an info file was read (LIVE or STALE); for LIVE
 * without a readable info file, info_out->pid is 0 and mountpoint "".
 * Returns 0 or -errno.
 */
int fc_cell_serve_state(struct fc_store *st, const char *cell, uint64_t ckpt,
			enum fc_serve_state *state, struct fc_daemon_info *info_out);

/*
 * 1 if path is a dead FUSE mount (statfs gives ENOTCONN), 0 if not, -errno
 * for other failures except ENOENT (which gives 0).
 */
int fc_mount_is_dead(const char *path);

/*
 * 1 if /proc/self/mountinfo lists a fuse.forkcellfs mount at path (an
 * absolute, canonical path) whose source is "forkcell:<cell>" (or a custom
 * fsname), 0 if not, -errno when mountinfo cannot be read.
 */
int fc_mount_is_forkcell(const char *path, const char *cell);

#endif
