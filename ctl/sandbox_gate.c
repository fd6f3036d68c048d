/*
 * sandbox_gate: release forkcell-init's gate and collect its status line
 * (see sandbox_gate.h). Both FIFOs live in the per-run directory, opened
 * relative to it with O_NOFOLLOW and checked to be FIFOs. The sandbox's
 * first process is watched through a pidfd, so a sandbox that dies early
 * ends the waits at once instead of after the timeout, and killing it on
 * failure can never hit a recycled pid.
 */
#include "sandbox_gate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GATE_RETRY_MS 5

int sandbox_init_argv(const struct runtime_req *req, char *const *extra, char ***out)
{
	size_t n = 0, cap = 8;
	char **v;

	for (size_t i = 0; extra && extra[i]; i++)
		cap++;
	for (size_t i = 0; req->init_args && req->init_args[i]; i++)
		cap++;
	for (size_t i = 0; req->argv[i]; i++)
		cap++;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[n++] = (char *)SANDBOX_INIT_PATH;
	if (req->gate_dir) {
		v[n++] = (char *)"--gate";
		v[n++] = (char *)SANDBOX_GATE_FIFO;
		v[n++] = (char *)"--status";
		v[n++] = (char *)SANDBOX_STATUS_FIFO;
	}
	for (size_t i = 0; extra && extra[i]; i++)
		v[n++] = extra[i];
	for (size_t i = 0; req->init_args && req->init_args[i]; i++)
		v[n++] = req->init_args[i];
	v[n++] = (char *)"--";
	for (size_t i = 0; req->argv[i]; i++)
		v[n++] = req->argv[i];
	v[n] = NULL;
	*out = v;
	return 0;
}

bool sandbox_ca_needs_bind(const struct runtime_req *req)
{
	char in_gate[PATH_MAX];
	struct stat a, b;

	if (!req->gate_dir)
		return true;
	snprintf(in_gate, sizeof(in_gate), "%s/ca-bundle.pem", req->gate_dir);
	return !(stat(in_gate, &a) == 0 && stat(req->ca_bundle, &b) == 0 &&
		 a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

/* Has the watched process ended? Waits up to ms (0: just look). */
static bool sandbox_gone(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	if (pidfd < 0) {
		if (ms > 0)
			poll(NULL, 0, ms);
		return false;
	}
	return poll(&p, 1, ms) > 0 && (p.revents & (POLLIN | POLLHUP));
}

/* openat(dirfd, name) and make sure it is a FIFO. */
static int open_fifo(int dirfd, const char *name, int flags, int *out)
{
	struct stat st;
	int fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return FC_ESTATE;
	}
	*out = fd;
	return 0;
}

/* write(), turning SIGPIPE (the reader went away) into -EPIPE for this thread only. */
static int write_all_nosigpipe(int fd, const char *buf, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0 };
	int rc = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	if (rc == -EPIPE)
		sigtimedwait(&pipe_set, NULL, &zero); /* consume the pending SIGPIPE */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Open the gate for writing once init waits on it, and say go. */
static int release(int dirfd, int pidfd, struct fc_diag *d)
{
	int64_t deadline = fc_mono_ns() / 1000000 + SANDBOX_GATE_TIMEOUT_MS;
	int fd = -1, rc;

	for (;;) {
		/* Non-blocking: ENXIO until init has opened its end. */
		rc = open_fifo(dirfd, "gate", O_WRONLY, &fd);
		if (rc == 0)
			break;
		if (rc != -ENXIO)
			return fc_diag_set(d, rc, "cannot open the sandbox's gate FIFO: %s",
					   rc == FC_ESTATE ? "not a FIFO" : fc_strerror(rc));
		if (sandbox_gone(pidfd, 0))
			return fc_diag_set(d, FC_ESTATE,
					   "the sandbox ended before forkcell-init reached its gate");
		if (fc_mono_ns() / 1000000 >= deadline)
			return fc_diag_set(d, -ETIMEDOUT, "forkcell-init did not reach its gate "
					   "within %d s", SANDBOX_GATE_TIMEOUT_MS / 1000);
		sandbox_gone(pidfd, GATE_RETRY_MS);
	}
	rc = write_all_nosigpipe(fd, "go\n", 3);
	close(fd);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot release the sandbox's gate: %s", fc_strerror(rc));
	return 0;
}

/* Read what is there now. Returns 1 at EOF, 0 when more may come, -errno. */
static int status_drain(int fd, char *buf, size_t cap, size_t *len)
{
	char chunk[512];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0)
			return 1;
		for (ssize_t i = 0; i < n; i++)
			if (*len + 1 < cap)
				buf[(*len)++] = chunk[i];
		buf[*len] = '\0';
	}
}

/*
 * Read the status FIFO (opened O_NONBLOCK before the gate was released:
 * until init opens its end, poll reports nothing and read would say EOF).
 */
static int read_status(int fd, int pidfd, char *buf, size_t cap, struct fc_diag *d)
{
	int64_t deadline = fc_mono_ns() / 1000000 + SANDBOX_GATE_TIMEOUT_MS;
	size_t len = 0;
	int rc = 0;

	buf[0] = '\0';
	while (rc == 0) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = pidfd, .events = POLLIN } };
		int64_t left = deadline - fc_mono_ns() / 1000000;

		if (left <= 0)
			return fc_diag_set(d, -ETIMEDOUT, "forkcell-init did not report within %d s",
					   SANDBOX_GATE_TIMEOUT_MS / 1000);
		if (poll(p, pidfd >= 0 ? 2 : 1, (int)left) < 0 && errno != EINTR)
			return fc_diag_set(d, -errno, "poll: %s", fc_strerror(-errno));
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			rc = status_drain(fd, buf, cap, &len);
		else if (p[1].revents & (POLLIN | POLLHUP))
			/* Gone: whatever init wrote is still in the pipe. */
			rc = strchr(buf, '\n') ? 1 : FC_ESTATE;
	}
	if (rc == FC_ESTATE)
		return fc_diag_set(d, rc, "the sandbox ended before forkcell-init reported");
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read forkcell-init's status: %s", fc_strerror(rc));
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] != '{')
		return fc_diag_set(d, FC_ESTATE, "forkcell-init's status is not a JSON line: '%.80s'",
				   buf);
	return 0;
}

int sandbox_gate_pass(const struct runtime_req *req, pid_t host_pid, char *status, size_t cap,
		      struct fc_diag *d)
{
	int dirfd = -1, sfd = -1, pidfd = -1, rc = 0;

	if (host_pid > 0) {
		pidfd = (int)syscall(SYS_pidfd_open, host_pid, 0);
		if (pidfd < 0) {
			rc = fc_diag_set(d, errno == ESRCH ? FC_ESTATE : -errno,
					 "the sandbox's first process (pid %d): %s", (int)host_pid,
					 errno == ESRCH ? "already gone" : fc_strerror(-errno));
			goto out;
		}
	}
	if (req->gate && req->gate->ready) {
		rc = req->gate->ready(req->gate->arg, host_pid, d);
		if (rc != 0)
			goto out;
	}
	dirfd = open(req->gate_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = fc_diag_set(d, -errno, "cannot open the gate directory '%s': %s",
				 req->gate_dir, fc_strerror(-errno));
		goto out;
	}
	rc = open_fifo(dirfd, "status", O_RDONLY, &sfd);
	if (rc < 0) {
		fc_diag_set(d, rc, "cannot open the sandbox's status FIFO: %s",
			    rc == FC_ESTATE ? "not a FIFO" : fc_strerror(rc));
		goto out;
	}
	rc = release(dirfd, pidfd, d);
	if (rc == 0)
		rc = read_status(sfd, pidfd, status, cap, d);
out:
	if (rc != 0 && pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (sfd >= 0)
		close(sfd);
	if (dirfd >= 0)
		close(dirfd);
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}
