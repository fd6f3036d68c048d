/*
 * forkcellfs: the FUSE daemon serving one cell of a ForkCell store.
 *
 * Start-up order matters: the store is opened, the writer lock taken, the
 * view loaded and crash recovery done before the mount; the mount and the
 * control socket exist before the parent process exits 0, so "exit 0"
 * means "ready". We fork first (before LMDB is opened: an LMDB environment
 * must not cross a fork) and the parent waits on a pipe for the child's
 * verdict.
 *
 * Shutdown (fusermount3 -u, umount, SIGTERM): stop the control thread,
 * write dirty sizes, delete unlinked inodes the kernel still held, sync
 * LMDB, remove the socket and info file, release the lock, exit 0.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fc_lock.h"
#include "fc_log.h"

#define FS_READAHEAD_KB 512

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.readlink = fs_op_readlink,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.symlink = fs_op_symlink,
	.link = fs_op_link,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.rename = fs_op_rename,
	.statfs = fs_op_statfs,
	.open = fs_op_open,
	.read = fs_op_read,
	.write_buf = fs_op_write_buf,
	.release = fs_op_release,
	.fsync = fs_op_fsync,
	.fallocate = fs_op_fallocate,
	.lseek = fs_op_lseek,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.fsyncdir = fs_op_fsyncdir,
	.setxattr = fs_op_setxattr,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
	.removexattr = fs_op_removexattr,
};

void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_ctx *ctx = userdata;
	unsigned int want = FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
			    FUSE_CAP_READDIRPLUS |
			    FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ASYNC_READ |
			    FUSE_CAP_CACHE_SYMLINKS;

	if (ctx->opts->writeback && !ctx->ro)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	conn->want |= want & conn->capable;
	conn->want &= ~(want & ~conn->capable);
	/* The kernel does all locking itself (flock and POSIX locks), clears
	 * setuid bits itself, and only we change the tree: data is
	 * invalidated explicitly after a restore. The writeback cache is
	 * opt-in: with it the kernel never takes a file's size from us again,
	 * so a restore could not shrink a cached file. */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_HANDLE_KILLPRIV |
			FUSE_CAP_AUTO_INVAL_DATA);
	/* Every readdir is a readdirplus: with the kernel's "auto" heuristic
	 * only a directory's first buffer (32 KiB) came with attributes, and
	 * each later entry cost a LOOKUP round trip in find, tar, chown -R and
	 * rm -rf (376 LOOKUPs for the 792 entries of include/linux). */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* Files are opened without us (fs_ops_file.c): O_TRUNC must come as a
	 * SETATTR, not as a flag of an OPEN we never see. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want |= FUSE_CAP_NO_OPEN_SUPPORT & conn->capable;
	conn->time_gran = 1;
	conn->max_write = 1U << 20;
	conn->max_readahead = 1U << 20;
	fc_log(FC_LOG_INFO, "serving cell '%s' (generation %llu%s) at '%s'", ctx->cell,
	       (unsigned long long)ctx->view.head, ctx->ro ? ", read-only" : "",
	       ctx->opts->mountpoint);
}

static void fs_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t len;
	int lvl = level <= FUSE_LOG_ERR ? FC_LOG_ERR : level == FUSE_LOG_WARNING ? FC_LOG_WARN :
		  level == FUSE_LOG_DEBUG ? FC_LOG_DEBUG : FC_LOG_INFO;

	if (lvl > fc_log_level_current)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	fc_log_write(lvl, "fuse: %s", buf);
}

/*
 * Fork; the parent waits for the child's verdict byte on a pipe and exits
 * with it (no byte: the child died, exit 1). Returns the write end in the
 * child.
 */
static int fs_daemon_fork(int *notify_fd)
{
	int p[2];
	char c = 1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1) {
			waitpid(pid, NULL, 0);
			c = 1;
		}
		_exit(c);
	}
	close(p[0]);
	if (setsid() < 0)
		fc_log(FC_LOG_WARN, "cannot start a new session: %m");
	*notify_fd = p[1];
	return 0;
}

/* Tell the parent we are ready and detach from the terminal. */
static void fs_daemon_ready(int *notify_fd)
{
	char c = 0;
	int nul;

	if (*notify_fd < 0)
		return;
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		close(nul);
	}
	if (write(*notify_fd, &c, 1) != 1)
		fc_log(FC_LOG_WARN, "cannot notify the parent: %m");
	close(*notify_fd);
	*notify_fd = -1;
	if (chdir("/") < 0)
		fc_log(FC_LOG_WARN, "cannot chdir to /: %m");
}

static int fs_ctx_init(struct fs_ctx *ctx, struct fs_opts *o)
{
	pthread_rwlockattr_t a;

	memset(ctx, 0, sizeof(*ctx));
	ctx->opts = o;
	ctx->cell = o->cell;
	ctx->ro = o->ro || o->checkpoint;
	ctx->lock_fd = -1;
	ctx->ctl_fd = -1;
	ctx->ctl_wake[0] = ctx->ctl_wake[1] = -1;
	ctx->started = (int64_t)time(NULL);
	pthread_rwlockattr_init(&a);
	/* Checkpoint and restore must not starve behind a stream of requests. */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ctx->view_lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&ctx->dirty_lock, NULL);
	return fs_itable_init(&ctx->itab);
}

/* Open the store, lock the cell, load the view, recover. */
static int fs_open_cell(struct fs_ctx *ctx, struct fc_diag *d)
{
	struct fs_opts *o = ctx->opts;
	bool live = !o->checkpoint;
	int rc;

	rc = fc_store_open(o->store, 0, &ctx->st, d);
	if (rc < 0)
		return rc;
	/* The live cell is locked before its view is read; a time-travel
	 * mount needs the resolved checkpoint to name its lock. */
	if (live) { /* ro too: the live head must not move under it */
		rc = fc_cell_lock_try(ctx->st, ctx->cell, 0, &ctx->lock_fd, d);
		if (rc < 0)
			return rc;
	}
	rc = fs_gen_load(ctx, d);
	if (rc == FC_ENOCELL)
		rc = fc_diag_set(d, rc, "no cell '%s' in the store", ctx->cell);
	if (rc < 0)
		return rc;
	if (!live) {
		rc = fc_cell_lock_try(ctx->st, ctx->cell, ctx->ckpt, &ctx->lock_fd, d);
		if (rc < 0)
			return rc;
	}
	return fs_gen_recover(ctx);
}

/*
 * The mount's "major:minor" from /proc/self/mountinfo (the last mount on
 * our mount point). stat(2) of the mount point would ask this very daemon,
 * which is not serving yet.
 */
static int fs_mount_devno(const char *mountpoint, unsigned int *maj, unsigned int *min)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned int a, b;
		char mnt[4096];

		/* Mount points with spaces are octal-escaped: they just do not match. */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &a, &b, mnt) == 3 &&
		    strcmp(mnt, mountpoint) == 0) {
			*maj = a;
			*min = b;
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

/*
 * Raise the kernel's readahead for this mount from the 128 KiB default of a
 * FUSE device to FS_READAHEAD_KB: sequential reads then arrive as 512 KiB
 * requests instead of 128 KiB ones, a quarter of the round trips. Not
 * larger: a read reply goes through a pipe (splice), and one of more than
 * 1 MiB (fs.pipe-max-size) falls back to a malloc'ed bounce buffer per
 * request, which measured slower than 128 KiB splices. Root only (sysfs);
 * failure just keeps the default.
 */
static void fs_tune_readahead(const char *mountpoint)
{
	unsigned int maj = 0, min = 0;
	char path[64];
	int fd, n;

	if (fs_mount_devno(mountpoint, &maj, &min) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = dprintf(fd, "%u\n", FS_READAHEAD_KB);
	if (n < 0)
		fc_log(FC_LOG_DEBUG, "cannot set %s: %m", path);
	close(fd);
}

static int fs_mount(struct fs_ctx *ctx, struct fc_diag *d)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	int rc;

	rc = fs_opts_fuse_args(ctx->opts, &args);
	if (rc == 0) {
		ctx->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), ctx);
		if (!ctx->se)
			rc = fc_diag_set(d, -EINVAL, "cannot create the FUSE session");
	}
	fuse_opt_free_args(&args);
	if (rc < 0)
		return rc;
	if (fuse_set_signal_handlers(ctx->se) != 0)
		return fc_diag_set(d, -EIO, "cannot install signal handlers");
	if (fuse_session_mount(ctx->se, ctx->opts->mountpoint) != 0)
		return fc_diag_set(d, -EIO, "cannot mount on '%s'", ctx->opts->mountpoint);
	fs_tune_readahead(ctx->opts->mountpoint);
	return 0;
}

static int fs_loop(struct fs_ctx *ctx)
{
	struct fuse_loop_config *cfg;
	int rc;

	/*
	 * One thread by default. A client waits for each reply, so its next
	 * request finds the one thread already back in read(2); a pool
	 * hands every request to the thread that has slept longest, a
	 * context switch more per request (on 2 vCPUs: 7.2 instead of 5.0
	 * switches and 165 instead of 133 us of daemon CPU per created file,
	 * docs/benchmarks.md). Handlers never wait for another request, so
	 * one thread cannot deadlock; -o threads=N gives a slow request
	 * (a large copy-up, an fsync) company.
	 */
	if (ctx->opts->threads <= 1) {
		rc = fuse_session_loop(ctx->se);
		return rc < 0 ? rc : 0;
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, ctx->opts->threads);
	rc = fuse_session_loop_mt(ctx->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc < 0 ? rc : 0;
}

/* Everything after the loop, and the unwinding of a failed start. */
static void fs_shutdown(struct fs_ctx *ctx, bool mounted)
{
	fs_ctl_stop(ctx);
	fs_flusher_stop(ctx);
	if (ctx->st && !ctx->ro && ctx->view.gens) {
		fs_dirty_flush_all(ctx);
		fs_gen_reap_orphans(ctx);
		fc_store_sync(ctx->st);
	}
	if (ctx->se) {
		if (mounted)
			fuse_session_unmount(ctx->se);
		fuse_remove_signal_handlers(ctx->se);
		fuse_session_destroy(ctx->se);
	}
	fs_itable_release(&ctx->itab);
	fc_view_release(&ctx->view);
	fs_rtxn_thread_release();
	if (ctx->st)
		fc_store_close(ctx->st);
	fc_cell_lock_release(ctx->lock_fd);
	pthread_rwlock_destroy(&ctx->view_lock);
	free(ctx->reap);
	pthread_mutex_destroy(&ctx->dirty_lock);
}

static int fs_run(struct fs_opts *o, int *notify_fd)
{
	struct fs_ctx ctx;
	struct fc_diag d;
	bool mounted = false;
	int rc;

	fc_diag_init(&d);
	rc = fs_ctx_init(&ctx, o);
	if (rc == 0)
		rc = fs_open_cell(&ctx, &d);
	if (rc == 0)
		rc = fs_mount(&ctx, &d);
	mounted = rc == 0;
	if (rc == 0 && ctx.lock_fd >= 0)
		rc = fs_ctl_listen(&ctx, &d);
	if (rc < 0) {
		fc_log(FC_LOG_ERR, "cannot serve cell '%s': %s", o->cell, fc_diag_msg(&d, rc));
		fs_shutdown(&ctx, mounted);
		return rc;
	}
	fs_daemon_ready(notify_fd);
	rc = fs_ctl_start(&ctx);
	if (rc == 0)
		rc = fs_flusher_start(&ctx);
	if (rc == 0)
		rc = fs_loop(&ctx);
	if (rc < 0)
		fc_log(FC_LOG_ERR, "serving cell '%s' failed: %s", o->cell, fc_strerror(rc));
	fs_shutdown(&ctx, true);
	fc_log(FC_LOG_INFO, "unmounted cell '%s'", o->cell);
	return rc;
}

int main(int argc, char **argv)
{
	struct fs_opts o;
	int notify_fd = -1, rc;

	fc_log_set_prog("forkcellfs");
	rc = fs_opts_parse(&o, argc, argv);
	if (rc != 0) {
		if (rc == 1)
			fs_usage(stdout);
		else if (rc == FC_EUSAGE)
			fprintf(stderr, "usage: forkcellfs [-f] [-d] [-o OPT[,OPT...]] STORE "
				"MOUNTPOINT (see --help)\n");
		fs_opts_release(&o);
		return rc == 1 ? 0 : rc == FC_EUSAGE ? 2 : 1;
	}
	if (o.debug)
		fc_log_level_current = FC_LOG_DEBUG;
	if (o.log && (rc = fc_log_set_file(o.log)) < 0) {
		fprintf(stderr, "forkcellfs: cannot open log '%s': %s\n", o.log, fc_strerror(rc));
		fs_opts_release(&o);
		return 1;
	}
	fuse_set_log_func(fs_fuse_log);
	if (!o.foreground && (rc = fs_daemon_fork(&notify_fd)) < 0) {
		fprintf(stderr, "forkcellfs: cannot daemonize: %s\n", fc_strerror(rc));
		fs_opts_release(&o);
		return 1;
	}
	rc = fs_run(&o, &notify_fd);
	fs_opts_release(&o);
	if (notify_fd >= 0)
		close(notify_fd);
	return rc < 0 ? 1 : 0;
}
