/*
 * init_priv: the privilege steps of forkcell-init, in the order init_main
 * calls them: the user and group ids, no_new_privs, then every capability
 * set emptied (bounding set first, so nothing can be regained by an exec).
 *
 * The ids are changed with PR_SET_KEEPCAPS held, so CAP_SETPCAP survives
 * setresuid() long enough to clear the bounding set; the capability sets are
 * emptied right after. A failure anywhere is fatal (fail closed).
 */
#include "init.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* The capability bit numbers: the kernel may know more than our headers. */
#define INIT_CAP_SCAN_MAX 64

int init_priv_ids(const struct init_opts *o, struct init_err *e)
{
	gid_t gid = o->gid >= 0 ? (gid_t)o->gid : getgid();
	uid_t uid = o->uid >= 0 ? (uid_t)o->uid : getuid();

	if (o->uid < 0 && o->gid < 0)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return init_errf(e, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	/* No supplementary groups: the sandbox user is its uid and gid only. */
	if (setgroups(0, NULL) < 0)
		return init_errf(e, "setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return init_errf(e, "setresgid(%lu): %s", (unsigned long)gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return init_errf(e, "setresuid(%lu): %s", (unsigned long)uid, strerror(errno));
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return init_errf(e, "the user and group ids did not change to %lu:%lu",
				 (unsigned long)uid, (unsigned long)gid);
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		return init_errf(e, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	return 0;
}

int init_priv_nnp(struct init_err *e)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return init_errf(e, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	if (prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) != 1)
		return init_errf(e, "no_new_privs did not stick");
	return 0;
}

static int cap_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return (int)syscall(SYS_capget, &hdr, data);
}

static int cap_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return (int)syscall(SYS_capset, &hdr, data);
}

static bool cap_in(const struct __user_cap_data_struct data[2], unsigned cap, bool effective)
{
	uint32_t set = effective ? data[cap / 32].effective : data[cap / 32].permitted;

	return set & (UINT32_C(1) << (cap % 32));
}

/*
 * Empty the bounding set. Needs CAP_SETPCAP in the effective set: raised
 * from the permitted set when there (setresuid cleared the effective set).
 * Without it, a bounding set that is already empty is fine; any other
 * leftover is an error.
 */
static int drop_bounding(struct init_err *e)
{
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (cap_get(data) < 0)
		return init_errf(e, "capget: %s", strerror(errno));
	if (cap_in(data, CAP_SETPCAP, false) && !cap_in(data, CAP_SETPCAP, true)) {
		data[CAP_SETPCAP / 32].effective |= UINT32_C(1) << (CAP_SETPCAP % 32);
		if (cap_set(data) < 0)
			return init_errf(e, "capset: %s", strerror(errno));
	}
	for (unsigned cap = 0; cap < INIT_CAP_SCAN_MAX; cap++) {
		int in = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0L, 0L, 0L);

		if (in < 0)
			break; /* past the last capability the kernel knows */
		if (in == 1 && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0L, 0L, 0L) < 0)
			return init_errf(e, "cannot drop capability %u from the bounding set: %s",
					 cap, strerror(errno));
	}
	return 0;
}

int init_priv_drop_caps(struct init_err *e)
{
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (drop_bounding(e) < 0)
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) < 0 && errno != EINVAL)
		return init_errf(e, "cannot clear the ambient capabilities: %s", strerror(errno));
	memset(data, 0, sizeof(data));
	if (cap_set(data) < 0)
		return init_errf(e, "capset (clear all): %s", strerror(errno));
	if (cap_get(data) < 0)
		return init_errf(e, "capget: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return init_errf(e, "capabilities remain after dropping them all");
	return 0;
}
