/*
 * run_proc: spawn with posix_spawn, stream stdout/stderr through pipes into
 * a tee fd and a SHA-256, poll with a deadline, kill the session on
 * timeout, and decode the status from waitpid (never from output).
 */
#include "run_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fc_fileio.h"

void run_capture_init(struct run_capture *c, int tee_fd)
{
	memset(c, 0, sizeof(*c));
	c->tee_fd = tee_fd;
	fc_sha256_init(&c->sha);
}

void run_capture_add(struct run_capture *c, const char *buf, size_t n)
{
	if (!c)
		return;
	fc_sha256_update(&c->sha, buf, n);
	c->bytes += n;
	if (c->tee_fd >= 0)
		(void)fc_write_all(c->tee_fd, buf, n);
	if (n >= RUN_TAIL_MAX) {
		memcpy(c->tail, buf + n - RUN_TAIL_MAX, RUN_TAIL_MAX);
		c->tail_len = RUN_TAIL_MAX;
		return;
	}
	if (c->tail_len + n > RUN_TAIL_MAX) {
		size_t drop = c->tail_len + n - RUN_TAIL_MAX;

		memmove(c->tail, c->tail + drop, c->tail_len - drop);
		c->tail_len -= drop;
	}
	memcpy(c->tail + c->tail_len, buf, n);
	c->tail_len += n;
}

void run_capture_finish(struct run_capture *c)
{
	if (c && c->sha.ctx)
		fc_sha256_final(&c->sha, c->digest);
}

void run_status_decode(int wstatus, struct run_status *st)
{
	if (WIFEXITED(wstatus)) {
		st->exited = true;
		st->code = WEXITSTATUS(wstatus);
		st->status = st->code;
	} else if (WIFSIGNALED(wstatus)) {
		st->signaled = true;
		st->signal = WTERMSIG(wstatus);
		st->status = 128 + st->signal;
	}
	if (st->timed_out)
		st->status = 124;
}

/*
 * Resolve argv[0] against the PATH of the child's environment, never the
 * caller's: a `bwrap` early on the user's PATH must not replace the sandbox.
 */
static int resolve_exe(const struct run_spec *spec, char *out, size_t cap)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	const char *name = spec->argv[0];

	if (strchr(name, '/')) {
		snprintf(out, cap, "%s", name);
		return 0;
	}
	for (size_t i = 0; spec->envp && spec->envp[i]; i++)
		if (strncmp(spec->envp[i], "PATH=", 5) == 0)
			path = spec->envp[i] + 5;
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && path[0] == '/' &&
		    (size_t)snprintf(out, cap, "%.*s/%s", (int)n, path, name) < cap &&
		    access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

static int spawn_child(const struct run_spec *spec, int out_w, int err_w, pid_t *pid)
{
	char exe[4096];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
	if (spec->pass_fd)
		posix_spawn_file_actions_adddup2(&fa, spec->extra_fd, 3);
	/* Every fd we own is O_CLOEXEC; the dup2 targets are not. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSID);
	rc = resolve_exe(spec, exe, sizeof(exe));
	if (rc == 0)
		rc = posix_spawn(pid, exe, &fa, &attr, spec->argv, spec->envp);
	else
		rc = -rc;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -rc;
}

/* Drain fd into c; returns 1 at EOF, 0 if more may come, -errno. */
static int drain(int fd, struct run_capture *c)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	run_capture_add(c, buf, (size_t)n);
	return 0;
}

static void kill_group(pid_t pid, const struct run_spec *spec)
{
	if (spec->on_timeout)
		spec->on_timeout(spec->timeout_arg);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

static int stream_until_exit(const struct run_spec *spec, pid_t pid, int fds[2],
			     struct run_capture *caps[2], struct run_status *st)
{
	int64_t deadline = spec->timeout_ms > 0 ? st->start_ns + spec->timeout_ms * 1000000LL : 0;
	int open_fds = 2;

	while (open_fds > 0) {
		struct pollfd p[2];
		int np = 0, wait_ms = -1;

		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				p[np++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (deadline) {
			int64_t left = deadline - fc_mono_ns();

			if (left <= 0 && !st->timed_out) {
				st->timed_out = true;
				kill_group(pid, spec);
				deadline = 0;
				continue;
			}
			wait_ms = (int)(left / 1000000) + 1;
		}
		if (poll(p, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < 2; i++) {
			int r;

			if (fds[i] < 0)
				continue;
			r = drain(fds[i], caps[i]);
			if (r != 0) {
				close(fds[i]);
				fds[i] = -1;
				open_fds--;
			}
		}
	}
	return 0;
}

int run_proc(const struct run_spec *spec, struct run_capture *out, struct run_capture *err,
	     struct run_status *st)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	struct run_capture *caps[2] = { out, err };
	pid_t pid = -1;
	int fds[2];
	int wstatus = 0, rc;

	memset(st, 0, sizeof(*st));
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	st->start_ns = fc_mono_ns();
	rc = spawn_child(spec, po[1], pe[1], &pid);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (rc < 0)
		goto out;
	for (int i = 0; i < 2; i++)
		fcntl(i ? pe[0] : po[0], F_SETFL, O_NONBLOCK);
	fds[0] = po[0];
	fds[1] = pe[0];
	rc = stream_until_exit(spec, pid, fds, caps, st);
	po[0] = fds[0]; /* -1 once closed at EOF */
	pe[0] = fds[1];
	if (rc < 0)
		kill_group(pid, spec);
	/* Output can close before exit (a daemonised grandchild): keep the deadline. */
	while (waitpid(pid, &wstatus, WNOHANG) == 0) {
		if (spec->timeout_ms > 0 && !st->timed_out &&
		    fc_mono_ns() - st->start_ns > spec->timeout_ms * 1000000LL) {
			st->timed_out = true;
			kill_group(pid, spec);
		}
		usleep(2000);
	}
	st->end_ns = fc_mono_ns();
	run_status_decode(wstatus, st);
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	for (int i = 0; i < 2; i++)
		run_capture_finish(caps[i]);
	return rc;
}
