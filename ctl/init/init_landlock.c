/*
 * init_landlock: the filesystem rules of forkcell-init, through the raw
 * Landlock syscalls (libc has no wrappers, and the installed uapi header may
 * be older than the kernel, so the newer bits are defined here).
 *
 * Rights handled per ABI: the 13 of ABI 1, REFER from 2, TRUNCATE from 3,
 * IOCTL_DEV from 5. --ro paths get EXECUTE | READ_FILE | READ_DIR, --rw
 * paths every handled right; a rule on a non-directory keeps only the rights
 * that apply to files. From ABI 6 the domain is also scoped: no connecting
 * to abstract unix sockets made outside it, no signals to processes outside
 * it. Network rights (ABI 4) are not handled: the sandbox's network
 * namespace and the egress proxy govern the network.
 *
 * Implicit rules, added whenever Landlock is applied (they are devices, not
 * storage, and programs break without them): read-write /dev/null,
 * /dev/zero, /dev/full, /dev/tty, /dev/ptmx, /dev/pts; read-only
 * /dev/random, /dev/urandom. A missing implicit path is ignored. Nothing
 * else is implicit: /tmp, /proc and the command's own binaries must be in
 * the policy's read_only or read_write lists.
 *
 * Every path is opened (O_PATH, following symlinks) while init is still
 * root, before the ids change, as OpenShell does.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_ABI1 ((1ULL << 13) - 1)   /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)        /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)     /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)    /* ABI 5 */
#define LL_FS_RO (LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR)
#define LL_FS_FILE (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | \
		    LL_FS_IOCTL_DEV)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)        /* ABI 6 */
#define LL_RULE_PATH_BENEATH 1
#define LL_CREATE_VERSION (1U << 0)

/* The full ruleset attribute (the kernel accepts it whole, zeros beyond what it knows). */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static const char *const implicit_rw[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/tty",
					   "/dev/ptmx", "/dev/pts" };
static const char *const implicit_ro[] = { "/dev/random", "/dev/urandom" };

#define N_IMPLICIT (sizeof(implicit_rw) / sizeof(implicit_rw[0]) + \
		    sizeof(implicit_ro) / sizeof(implicit_ro[0]))

static int ll_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_VERSION);

	return abi > 0 ? (int)abi : 0;
}

static uint64_t handled_for(int abi)
{
	uint64_t fs = LL_FS_ABI1;

	if (abi >= 2)
		fs |= LL_FS_REFER;
	if (abi >= 3)
		fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LL_FS_IOCTL_DEV;
	return fs;
}

static void skip(struct init_landlock *ll, const char *path)
{
	if (ll->n_skipped < INIT_SKIPPED_MAX)
		ll->skipped[ll->n_skipped++] = path;
	else
		ll->n_skipped_more++;
}

/* Open one path for a rule; a failure is fatal only for a user path under hard_requirement. */
static int open_one(const struct init_opts *o, struct init_landlock *ll, const char *path,
		    bool rw, bool implicit, struct init_err *e)
{
	struct init_ll_path *p = &ll->paths[ll->n_paths];
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		if (implicit)
			return 0;
		if (o->hard)
			return init_errf(e, "landlock (hard_requirement): cannot open %s path "
					 "'%s': %s", rw ? "read_write" : "read_only", path,
					 strerror(err));
		skip(ll, path);
		return 0;
	}
	*p = (struct init_ll_path){ .path = path, .fd = fd, .rw = rw, .implicit = implicit };
	ll->n_paths++;
	return 0;
}

int init_landlock_prepare(const struct init_opts *o, struct init_landlock *ll,
			  struct init_err *e)
{
	size_t cap = o->n_ro + o->n_rw + N_IMPLICIT;
	int rc = 0;

	ll->requested = o->n_ro + o->n_rw > 0;
	ll->status = "not_requested";
	ll->abi = ll_abi();
	if (!ll->requested)
		return 0;
	if (ll->abi == 0) {
		if (o->hard)
			return init_errf(e, "landlock (hard_requirement): this kernel does not "
					 "offer Landlock (not built in, or not in lsm=)");
		ll->status = "unavailable";
		return 0;
	}
	ll->paths = calloc(cap, sizeof(*ll->paths));
	if (!ll->paths)
		return init_errf(e, "out of memory");
	for (size_t i = 0; rc == 0 && i < o->n_ro; i++)
		rc = open_one(o, ll, o->ro[i], false, false, e);
	for (size_t i = 0; rc == 0 && i < o->n_rw; i++)
		rc = open_one(o, ll, o->rw[i], true, false, e);
	for (size_t i = 0; rc == 0 && i < sizeof(implicit_rw) / sizeof(implicit_rw[0]); i++)
		rc = open_one(o, ll, implicit_rw[i], true, true, e);
	for (size_t i = 0; rc == 0 && i < sizeof(implicit_ro) / sizeof(implicit_ro[0]); i++)
		rc = open_one(o, ll, implicit_ro[i], false, true, e);
	return rc;
}

static void close_paths(struct init_landlock *ll)
{
	for (size_t i = 0; i < ll->n_paths; i++)
		if (ll->paths[i].fd >= 0)
			close(ll->paths[i].fd);
	free(ll->paths);
	ll->paths = NULL;
	ll->n_paths = 0;
}

/* Add the rule for one opened path. */
static int add_rule(const struct init_opts *o, struct init_landlock *ll, int ruleset,
		    const struct init_ll_path *p, uint64_t handled, struct init_err *e)
{
	struct ll_path_beneath pb = { .parent_fd = p->fd };
	struct stat st;

	if (fstat(p->fd, &st) < 0)
		return init_errf(e, "landlock: cannot stat '%s': %s", p->path, strerror(errno));
	pb.allowed_access = (p->rw ? handled : LL_FS_RO) & handled;
	if (!S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FS_FILE;
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
		int err = errno;

		if (p->implicit)
			return 0;
		if (o->hard)
			return init_errf(e, "landlock (hard_requirement): cannot add a rule for "
					 "'%s': %s", p->path, strerror(err));
		skip(ll, p->path);
		return 0;
	}
	if (p->implicit)
		ll->n_implicit++;
	else if (p->rw)
		ll->n_rw++;
	else
		ll->n_ro++;
	return 0;
}

int init_landlock_enforce(const struct init_opts *o, struct init_landlock *ll,
			  struct init_err *e)
{
	struct ll_ruleset_attr attr = { .handled_access_fs = handled_for(ll->abi) };
	int ruleset = -1, rc = 0;

	if (!ll->requested || ll->abi == 0)
		return 0;
	if (ll->abi >= 6)
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0) {
		rc = init_errf(e, "landlock: cannot create the ruleset (ABI %d): %s", ll->abi,
			       strerror(errno));
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < ll->n_paths; i++)
		rc = add_rule(o, ll, ruleset, &ll->paths[i], attr.handled_access_fs, e);
	if (rc < 0)
		goto out;
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		rc = init_errf(e, "landlock: cannot restrict the sandbox: %s", strerror(errno));
		goto out;
	}
	ll->scoped = attr.scoped != 0;
	ll->status = "enforced";
out:
	if (ruleset >= 0)
		close(ruleset);
	close_paths(ll);
	return rc;
}
