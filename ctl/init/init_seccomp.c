/*
 * init_seccomp: the syscall filter of forkcell-init (openshell.md §6),
 * built with libseccomp. Default allow; EPERM for what lets a sandboxed
 * process escape or observe others: raw and exotic sockets (AF_PACKET,
 * AF_BLUETOOTH, AF_VSOCK, netlink other than NETLINK_ROUTE), memfd_create,
 * ptrace and process_vm_*, pidfd_*, bpf, io_uring, the mount API, setns,
 * userfaultfd, perf_event_open, kernel modules, keyrings, kexec,
 * execveat(AT_EMPTY_PATH), unshare/clone with CLONE_NEWUSER, and installing
 * another seccomp filter. clone3 gets ENOSYS: its flags live in memory a
 * filter cannot read, so libc falls back to clone(), whose flags it can.
 * Syscalls of other ABIs (i386, x32) kill the process (libseccomp's default
 * for a foreign architecture), so the list cannot be bypassed through them.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* Denied outright, whatever the arguments. */
static const int denied[] = {
	SYS_memfd_create, SYS_ptrace, SYS_bpf, SYS_process_vm_readv, SYS_process_vm_writev,
	SYS_pidfd_open, SYS_pidfd_getfd, SYS_pidfd_send_signal,
	SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
	SYS_mount, SYS_umount2, SYS_pivot_root, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick,
	SYS_move_mount, SYS_open_tree,
#ifdef SYS_mount_setattr
	SYS_mount_setattr,
#endif
	SYS_setns, SYS_userfaultfd, SYS_perf_event_open,
	SYS_init_module, SYS_finit_module, SYS_delete_module,
	SYS_add_key, SYS_request_key, SYS_keyctl,
	SYS_kexec_load, SYS_kexec_file_load,
};

static const int denied_families[] = { AF_PACKET, AF_BLUETOOTH, AF_VSOCK };

static int add_arg_rules(scmp_filter_ctx ctx)
{
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(denied_families) / sizeof(denied_families[0]); i++)
		rc = seccomp_rule_add(ctx, eperm, SYS_socket, 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)denied_families[i]));
	/* Netlink: only NETLINK_ROUTE (protocol 0), which `ip addr` needs. */
	rc = rc ?: seccomp_rule_add(ctx, eperm, SYS_socket, 2, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				    SCMP_A2(SCMP_CMP_NE, 0));
	rc = rc ?: seccomp_rule_add(ctx, eperm, SYS_unshare, 1,
				    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	/* x86_64 clone(flags, ...): the flags are the first argument. */
	rc = rc ?: seccomp_rule_add(ctx, eperm, SYS_clone, 1,
				    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	rc = rc ?: seccomp_rule_add(ctx, eperm, SYS_execveat, 1,
				    SCMP_A4(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	rc = rc ?: seccomp_rule_add(ctx, eperm, SYS_seccomp, 1,
				    SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
	rc = rc ?: seccomp_rule_add(ctx, eperm, SYS_prctl, 2, SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP),
				    SCMP_A1(SCMP_CMP_EQ, SECCOMP_MODE_FILTER));
	return rc;
}

int init_seccomp_load(struct init_err *e)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = 0;

	if (!ctx)
		return init_errf(e, "seccomp: cannot create the filter");
	/* A foreign-ABI syscall ends the whole process, not just the thread. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	rc = rc ?: seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SYS_clone3, 0);
	for (size_t i = 0; rc == 0 && i < sizeof(denied) / sizeof(denied[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
	rc = rc ?: add_arg_rules(ctx);
	if (rc < 0) {
		seccomp_release(ctx);
		return init_errf(e, "seccomp: cannot add a rule: %s", strerror(-rc));
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		return init_errf(e, "seccomp: cannot load the filter: %s", strerror(-rc));
	return 0;
}
