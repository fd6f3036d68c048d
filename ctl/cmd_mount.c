/*
 * cmd_mount: `mount` starts forkcellfs for a cell and returns once the mount
 * is ready (the daemon's parent exits 0 only then); `umount` unmounts it,
 * waits for the daemon to exit, and cleans up after a killed daemon (a dead
 * FUSE mount that gives ENOTCONN, a left-over info file).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "fc_ctlproto.h"
#include "fc_fileio.h"

extern char **environ;

#define CTL_MOUNT_WAIT_MS 60000
#define CTL_UMOUNT_WAIT_MS 30000
#define CTL_UMOUNT_TERM_MS 5000

struct mount_args {
	const char *cell;
	const char *mountpoint;   /* user's, or NULL for the default */
	const char *ckpt_ref;
	const char *log;
	bool ro, allow_other, debug, lazy;
	uint64_t ckpt;            /* resolved checkpoint, 0 = live */
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Resolve --checkpoint REF of cell into args->ckpt. */
static int resolve_ckpt(struct ctl *c, struct mount_args *a, struct fc_diag *d)
{
	struct fc_txn t = { 0 };
	int rc;

	if (!a->ckpt_ref)
		return 0;
	rc = fc_txn_begin(c->st, true, &t);
	if (rc == 0)
		rc = fc_ckpt_resolve(&t, a->cell, a->ckpt_ref, &a->ckpt);
	fc_txn_abort(&t);
	if (rc == -ENOENT || rc == FC_ENOCKPT)
		return fc_diag_set(d, FC_ENOCKPT, "checkpoint '%s' of cell '%s' does not exist",
				   a->ckpt_ref, a->cell);
	return rc;
}

/* Detach a dead mount and remove the info file a killed daemon left. */
static int stale_cleanup(struct ctl *c, const struct mount_args *a,
			 const struct fc_daemon_info *info, struct fc_diag *d)
{
	int rc, tries;

	/*
	 * The lock is free, so no daemon serves this cell: every forkcellfs
	 * mount of it at the recorded place is dead (possibly several, stacked
	 * by earlier crashes). Detach them all.
	 */
	for (tries = 0; info->mountpoint[0] && tries < 16; tries++) {
		if (fc_mount_is_forkcell(info->mountpoint, a->cell) != 1 &&
		    fc_mount_is_dead(info->mountpoint) != 1)
			break;
		if (umount2(info->mountpoint, MNT_DETACH) < 0) {
			rc = -errno;
			if (rc == -EINVAL)
				break;
			return fc_diag_set(d, rc, "cannot detach the dead mount at '%s': %s",
					   info->mountpoint, fc_strerror(rc));
		}
	}
	rc = fc_daemon_info_remove(c->st, a->cell, a->ckpt);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot remove the run files of '%s': %s", a->cell,
				   fc_strerror(rc));
	return 0;
}

static bool dir_is_mount_root(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) < 0)
		return false;
	return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* 1 if the directory holds nothing but "." and "..", 0 if not, -errno. */
static int dir_is_empty(const char *path)
{
	DIR *dp = opendir(path);
	struct dirent *e;
	int rc = 1;

	if (!dp)
		return -errno;
	for (;;) {
		errno = 0;
		e = readdir(dp);
		if (!e) {
			rc = errno ? -errno : rc;
			break;
		}
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			rc = 0;
			break;
		}
	}
	closedir(dp);
	return rc;
}

/* Check (and create when missing) the mount point; *abs is its real path. */
static int check_mountpoint(const char *path, char *abs, struct fc_diag *d)
{
	struct stat sb;
	int rc;

	if (stat(path, &sb) < 0) {
		rc = -errno;
		if (rc == -ENOTCONN)
			return fc_diag_set(d, FC_ESTATE,
					   "mount point '%s' is a dead FUSE mount; run "
					   "'umount -l %s' or 'forkcellctl umount CELL'", path, path);
		if (rc != -ENOENT)
			return fc_diag_set(d, rc, "cannot use mount point '%s': %s", path,
					   fc_strerror(rc));
		if (mkdir(path, 0755) < 0 || stat(path, &sb) < 0) {
			rc = -errno;
			return fc_diag_set(d, rc, "cannot create mount point '%s': %s", path,
					   fc_strerror(rc));
		}
	}
	if (!S_ISDIR(sb.st_mode))
		return fc_diag_set(d, -ENOTDIR, "mount point '%s' is not a directory", path);
	if (dir_is_mount_root(path) && fc_mount_is_dead(path) == 1)
		return fc_diag_set(d, FC_ESTATE, "mount point '%s' is a dead FUSE mount; run "
				   "'umount -l %s' or 'forkcellctl umount CELL'", path, path);
	if (dir_is_mount_root(path))
		return fc_diag_set(d, -EBUSY, "mount point '%s' is already a mount point", path);
	rc = dir_is_empty(path);
	if (rc == 0)
		return fc_diag_set(d, -EBUSY, "mount point '%s' is not empty", path);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read mount point '%s': %s", path,
				   fc_strerror(rc));
	if (!realpath(path, abs))
		return fc_diag_set(d, -errno, "cannot resolve mount point '%s'", path);
	return 0;
}

/* The default mount point STORE/mnt/<cell>[@<ckpt>], created 0755. */
static int default_mountpoint(struct ctl *c, const struct mount_args *a, char *out, size_t cap,
			      struct fc_diag *d)
{
	char name[FC_CELL_NAME_MAX + 32];
	int rc = fc_ctl_run_name(a->cell, a->ckpt, "", name, sizeof(name));

	if (rc == 0)
		rc = fc_mkdir_p(c->st->root_fd, "mnt", 0755);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot create '%s/mnt': %s", c->st->path,
				   fc_strerror(rc));
	if ((size_t)snprintf(out, cap, "%s/mnt/%s", c->st->path, name) >= cap)
		return fc_diag_set(d, -ENAMETOOLONG, "store path too long");
	return 0;
}

/* Build "cell=X[,checkpoint=G][,ro][,allow_other][,debug][,log=ABS]". */
static int mount_opts(const struct mount_args *a, char *out, size_t cap, struct fc_diag *d)
{
	char logabs[PATH_MAX] = "", cwd[PATH_MAX];
	size_t n;

	if (a->log && a->log[0] != '/') {
		/* The daemon changes directory: hand it an absolute path. */
		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(logabs, sizeof(logabs), "%s/%s", cwd, a->log) >= sizeof(logabs))
			return fc_diag_set(d, -ENAMETOOLONG, "log path too long");
	} else if (a->log) {
		snprintf(logabs, sizeof(logabs), "%s", a->log);
	}
	if (strchr(logabs, ','))
		return fc_diag_set(d, FC_EUSAGE, "log path must not contain ','");
	n = (size_t)snprintf(out, cap, "cell=%s", a->cell);
	if (a->ckpt)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, ",checkpoint=%llu",
				      (unsigned long long)a->ckpt);
	if (a->ro)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, ",ro");
	if (a->allow_other)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, ",allow_other");
	if (a->debug)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, ",debug");
	if (logabs[0])
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, ",log=%s", logabs);
	if (n >= cap)
		return fc_diag_set(d, -ENAMETOOLONG, "mount options too long");
	return 0;
}

/* Run forkcellfs and wait for its parent to exit (0 = mounted and serving). */
static int spawn_daemon(struct ctl *c, const char *mp, const char *opts, struct fc_diag *d)
{
	char bin[PATH_MAX];
	char *argv[] = { bin, c->st->path, (char *)mp, (char *)"-o", (char *)opts, NULL };
	pid_t pid;
	int status = 0, rc, waited = 0;

	ctl_tool_path("forkcellfs", "FORKCELL_FS", bin, sizeof(bin));
	rc = posix_spawnp(&pid, bin, NULL, NULL, argv, environ);
	if (rc != 0)
		return fc_diag_set(d, -rc, "cannot run '%s': %s", bin, fc_strerror(-rc));
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return fc_diag_set(d, -errno, "cannot wait for forkcellfs");
		if (waited >= CTL_MOUNT_WAIT_MS) {
			kill(pid, SIGTERM);
			waitpid(pid, &status, 0);
			return fc_diag_set(d, -ETIMEDOUT, "forkcellfs did not get ready in %d s",
					   CTL_MOUNT_WAIT_MS / 1000);
		}
		sleep_ms(10);
		waited += 10;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return fc_diag_set(d, FC_ESTATE, "forkcellfs failed to mount '%s' (exit status %d)",
				   mp, WEXITSTATUS(status));
	return fc_diag_set(d, FC_ESTATE, "forkcellfs was killed by signal %d",
			   WTERMSIG(status));
}

static void mount_print(struct ctl *c, const struct mount_args *a, const char *mp)
{
	struct fc_daemon_info info = { 0 };
	cJSON *o;

	fc_daemon_info_read(c->st, a->cell, a->ckpt, &info);
	if (!c->json) {
		if (a->ckpt)
			printf("mounted checkpoint %llu of cell '%s' read-only at %s (pid %lld)\n",
			       (unsigned long long)a->ckpt, a->cell, mp, (long long)info.pid);
		else
			printf("mounted cell '%s' at %s (pid %lld)\n", a->cell, mp,
			       (long long)info.pid);
		return;
	}
	o = fc_ctl_reply_ok();
	cJSON_AddStringToObject(o, "cell", a->cell);
	cJSON_AddStringToObject(o, "mountpoint", mp);
	cJSON_AddNumberToObject(o, "pid", (double)info.pid);
	cJSON_AddBoolToObject(o, "ro", a->ro || a->ckpt);
	cJSON_AddNumberToObject(o, "checkpoint", (double)a->ckpt);
	ctl_json_out(o);
}

static int mount_do(struct ctl *c, struct mount_args *a, struct fc_diag *d)
{
	struct fc_daemon_info info;
	enum fc_serve_state s;
	char path[PATH_MAX], abs[PATH_MAX], opts[PATH_MAX + 256];
	int rc = ctl_cell_must_exist(c, a->cell, NULL, d);

	if (rc == 0)
		rc = resolve_ckpt(c, a, d);
	if (rc == 0)
		rc = fc_cell_serve_state(c->st, a->cell, a->ckpt, &s, &info);
	if (rc < 0)
		return rc;
	if (s == FC_SERVE_LIVE && !info.mountpoint[0])
		return fc_diag_set(d, FC_ELOCKED, "cell '%s' is in use by another process; "
				   "try again", a->cell);
	if (s == FC_SERVE_LIVE)
		return fc_diag_set(d, FC_ELOCKED, "cell '%s' is already mounted at '%s'", a->cell,
				   info.mountpoint);
	if (s == FC_SERVE_STALE) {
		ctl_warn("cleaning up the stale mount of '%s' at '%s' (its daemon died)",
			 a->cell, info.mountpoint);
		rc = stale_cleanup(c, a, &info, d);
		if (rc < 0)
			return rc;
	}
	if (a->mountpoint)
		snprintf(path, sizeof(path), "%s", a->mountpoint);
	else if ((rc = default_mountpoint(c, a, path, sizeof(path), d)) < 0)
		return rc;
	rc = check_mountpoint(path, abs, d);
	if (rc == 0)
		rc = mount_opts(a, opts, sizeof(opts), d);
	if (rc == 0)
		rc = spawn_daemon(c, abs, opts, d);
	if (rc == 0)
		mount_print(c, a, abs);
	return rc;
}

int cmd_mount(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "allow-other", no_argument, NULL, 'A' },
		{ "ro", no_argument, NULL, 'r' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd *cmd = ctl_cmd_find("mount");
	struct mount_args a = { 0 };
	struct fc_diag d;
	int o, rc;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (o) {
		case 'A': a.allow_other = true; break;
		case 'r': a.ro = true; break;
		case 'c': a.ckpt_ref = optarg; break;
		case 'l': a.log = optarg; break;
		case 'd': a.debug = true; break;
		default: CTL_OPT_COMMON(c, cmd, o);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return ctl_usage(cmd, "mount takes CELL [MOUNTPOINT]");
	a.cell = argv[optind];
	a.mountpoint = argc - optind == 2 ? argv[optind + 1] : NULL;
	if (ctl_name_arg(c, "cell", a.cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = mount_do(c, &a, &d);
	return rc < 0 ? ctl_fail(c, rc, &d) : CTL_EXIT_OK;
}

/* ---- umount ---- */

/* Unmount a live mount, then wait until the daemon has released the lock. */
static int umount_live(struct ctl *c, const struct mount_args *a,
		       const struct fc_daemon_info *info, struct fc_diag *d)
{
	const char *mp = info->mountpoint;
	int waited = 0, rc;

	if (!mp[0])
		return fc_diag_set(d, FC_ESTATE, "cell '%s' is locked but its daemon left no "
				   "mount point; try again", a->cell);
	if (umount2(mp, a->lazy ? MNT_DETACH : 0) < 0 && errno != EINVAL) {
		rc = -errno;
		if (rc == -EBUSY)
			return fc_diag_set(d, rc, "mount point '%s' is busy (a process uses it); "
					   "close it or use --lazy", mp);
		return fc_diag_set(d, rc, "cannot unmount '%s': %s", mp, fc_strerror(rc));
	}
	while ((rc = fc_cell_lock_held(c->st, a->cell, a->ckpt)) == 1) {
		if (waited >= CTL_UMOUNT_WAIT_MS)
			return fc_diag_set(d, -ETIMEDOUT, "daemon %lld of '%s' did not exit",
					   (long long)info->pid, a->cell);
		/*
		 * The FUSE connection ends only when the last reference to the
		 * mount goes; a copy in another mount namespace keeps it alive.
		 * Our mount is gone, so ask the daemon to stop.
		 */
		if (waited == CTL_UMOUNT_TERM_MS && info->pid > 0) {
			ctl_warn("daemon %lld of '%s' still runs %d s after the unmount; "
				 "sending SIGTERM", (long long)info->pid, a->cell,
				 CTL_UMOUNT_TERM_MS / 1000);
			kill((pid_t)info->pid, SIGTERM);
		}
		sleep_ms(20);
		waited += 20;
	}
	return rc;
}

/* Remove the mount point when it is the default one under STORE/mnt. */
static void remove_default_mountpoint(struct ctl *c, const struct mount_args *a, const char *mp)
{
	char name[FC_CELL_NAME_MAX + 32], want[PATH_MAX];

	if (fc_ctl_run_name(a->cell, a->ckpt, "", name, sizeof(name)) < 0)
		return;
	if ((size_t)snprintf(want, sizeof(want), "%s/mnt/%s", c->st->path, name) >= sizeof(want) ||
	    strcmp(want, mp) != 0)
		return;
	snprintf(want, sizeof(want), "mnt/%s", name);
	unlinkat(c->st->root_fd, want, AT_REMOVEDIR);   /* only if empty */
}

static void umount_print(struct ctl *c, const struct mount_args *a, const char *mp, bool stale)
{
	cJSON *o;

	if (!c->json) {
		if (stale)
			printf("cleaned up the stale mount of '%s' at %s (its daemon had died)\n",
			       a->cell, mp);
		else
			printf("unmounted cell '%s' from %s\n", a->cell, mp);
		return;
	}
	o = fc_ctl_reply_ok();
	cJSON_AddStringToObject(o, "cell", a->cell);
	cJSON_AddStringToObject(o, "mountpoint", mp);
	cJSON_AddBoolToObject(o, "stale", stale);
	ctl_json_out(o);
}

int cmd_umount(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_LONGOPTS,
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "lazy", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd *cmd = ctl_cmd_find("umount");
	struct mount_args a = { 0 };
	struct fc_daemon_info info;
	enum fc_serve_state s;
	struct fc_diag d;
	int o, rc;

	while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		if (o == 'c')
			a.ckpt_ref = optarg;
		else if (o == 'L')
			a.lazy = true;
		else
			CTL_OPT_COMMON(c, cmd, o);
	}
	if (argc - optind != 1)
		return ctl_usage(cmd, "umount takes one CELL");
	a.cell = argv[optind];
	if (ctl_name_arg(c, "cell", a.cell) || ctl_store_open(c, false) < 0)
		return CTL_EXIT_FAIL;
	fc_diag_init(&d);
	rc = resolve_ckpt(c, &a, &d);
	if (rc == 0)
		rc = fc_cell_serve_state(c->st, a.cell, a.ckpt, &s, &info);
	if (rc == 0 && s == FC_SERVE_NONE)
		rc = fc_diag_set(&d, FC_ESTATE, "cell '%s' is not mounted", a.cell);
	if (rc == 0 && s == FC_SERVE_LIVE)
		rc = umount_live(c, &a, &info, &d);
	else if (rc == 0)
		rc = stale_cleanup(c, &a, &info, &d);
	if (rc < 0)
		return ctl_fail(c, rc, &d);
	remove_default_mountpoint(c, &a, info.mountpoint);
	umount_print(c, &a, info.mountpoint, s == FC_SERVE_STALE);
	return CTL_EXIT_OK;
}
