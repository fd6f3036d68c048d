/*
 * fs_space: a reserve of free space for metadata, as ext4 keeps reserved
 * blocks. File data (blob writes, fallocate) gets ENOSPC once the store's
 * file system is down to its last FS_RESERVE_MIN..FS_RESERVE_MAX bytes
 * (2% of its size), so LMDB can always grow enough to record an unlink or a
 * rename: a full store can still be emptied, and a full disk surfaces as
 * ENOSPC to the writer, never as EIO from a failed metadata commit.
 *
 * statvfs is cheap but not free: the free count is cached and re-read at
 * most every FS_SPACE_TTL_NS, or on every write once it gets close to the
 * reserve.
 *
 * Before answering ENOSPC the check deletes the unlinked files the kernel
 * has forgotten but the flusher has not reaped yet (fs_inode.c): `rm big;
 * write` must find the space of big, as it does on ext4. With several
 * serving threads it also gives a FORGET another thread may be handling
 * FS_SPACE_WAIT_NS; one thread has handled it already (the kernel sends
 * forgets ahead of other requests).
 */
#include "fs.h"

#include <errno.h>
#include <sys/statvfs.h>
#include <time.h>

#include "fc_clock.h"

#define FS_RESERVE_MIN (8ULL << 20)
#define FS_RESERVE_MAX (64ULL << 20)
#define FS_SPACE_TTL_NS (100LL * 1000 * 1000)
#define FS_SPACE_NEAR (256ULL << 20)
#define FS_SPACE_WAIT_NS (10L * 1000 * 1000)

static uint64_t reserve_of(const struct statvfs *sv)
{
	uint64_t r = (uint64_t)sv->f_blocks * sv->f_frsize / 50;

	if (r < FS_RESERVE_MIN)
		return FS_RESERVE_MIN;
	return r > FS_RESERVE_MAX ? FS_RESERVE_MAX : r;
}

/* Read the free space now and compare; 0 or -ENOSPC. */
static int fs_space_read(struct fs_ctx *ctx, uint64_t need)
{
	struct statvfs sv;
	uint64_t free_b;

	if (fstatvfs(ctx->st->blobs_fd, &sv) < 0)
		return 0; /* cannot tell: let the write itself decide */
	free_b = (uint64_t)sv.f_bavail * sv.f_frsize;
	__atomic_store_n(&ctx->space_free, free_b, __ATOMIC_RELAXED);
	__atomic_store_n(&ctx->space_checked_ns, fc_mono_ns(), __ATOMIC_RELAXED);
	return free_b < reserve_of(&sv) + need ? -ENOSPC : 0;
}

int fs_space_check(struct fs_ctx *ctx, uint64_t need)
{
	const struct timespec wait = { 0, FS_SPACE_WAIT_NS };
	int64_t now = fc_mono_ns();
	uint64_t free_b = __atomic_load_n(&ctx->space_free, __ATOMIC_RELAXED);
	int64_t when = __atomic_load_n(&ctx->space_checked_ns, __ATOMIC_RELAXED);
	int rc;

	if (when && now - when < FS_SPACE_TTL_NS && free_b > FS_SPACE_NEAR + need)
		return 0;
	rc = fs_space_read(ctx, need);
	if (rc == 0 || ctx->ro)
		return rc;
	fs_inode_reap_pending(ctx);
	rc = fs_space_read(ctx, need);
	if (rc == 0 || ctx->opts->threads <= 1)
		return rc;
	nanosleep(&wait, NULL);
	fs_inode_reap_pending(ctx);
	return fs_space_read(ctx, need);
}
