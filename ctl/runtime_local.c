/*
 * runtime_local: the default runtime, no daemon needed. The command runs
 * under bubblewrap with the host filesystem read-only, the cell's mount
 * read-write at the workdir, fresh /tmp, /proc and /dev, new pid, ipc, uts,
 * net and cgroup namespaces (no network), every capability dropped,
 * no_new_privs (bwrap always sets it), and --die-with-parent. The store
 * (blobs, receipts, keys, control sockets) and /run are masked with empty
 * tmpfs mounts so the agent cannot reach them.
 */
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BWRAP "bwrap"
#define SAFE_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct argv_buf {
	char **v;
	size_t n, cap;
	char **owned;      /* strings this buffer allocated */
	size_t n_owned, cap_owned;
};

static int av_add(struct argv_buf *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
	return 0;
}

/* Add a string the buffer takes ownership of (NULL: out of memory). */
static int av_add_owned(struct argv_buf *a, char *s)
{
	if (!s)
		return -ENOMEM;
	if (a->n_owned == a->cap_owned) {
		size_t cap = a->cap_owned ? a->cap_owned * 2 : 32;
		char **v = realloc(a->owned, cap * sizeof(*v));

		if (!v) {
			free(s);
			return -ENOMEM;
		}
		a->owned = v;
		a->cap_owned = cap;
	}
	a->owned[a->n_owned++] = s;
	return av_add(a, s);
}

static int av_add_dup(struct argv_buf *a, const char *s)
{
	return av_add_owned(a, strdup(s));
}

static int local_probe(struct runtime_result *res, struct fc_diag *d)
{
	char *const argv[] = { (char *)BWRAP, (char *)"--version", NULL };
	char *const envp[] = { (char *)SAFE_PATH, NULL };
	struct run_spec spec = { .argv = argv, .envp = envp, .timeout_ms = 10000 };
	struct run_capture out;
	struct run_status st;
	int rc;

	run_capture_init(&out, -1);
	rc = run_proc(&spec, &out, NULL, &st);
	if (rc < 0 || st.status != 0)
		return fc_diag_set(d, rc < 0 ? rc : FC_ESTATE,
				   "the local runtime needs bubblewrap ('bwrap'): %s",
				   rc < 0 ? fc_strerror(rc) : "bwrap --version failed");
	snprintf(res->version, sizeof(res->version), "%.*s", (int)out.tail_len, out.tail);
	res->version[strcspn(res->version, "\n")] = '\0';
	return 0;
}

static int local_create(const struct runtime_req *req, struct runtime_result *res, void **state,
			struct fc_diag *d)
{
	snprintf(res->sandbox_id, sizeof(res->sandbox_id), "bwrap-%s", req->run_id);
	*state = NULL;
	return 0;
}

/*
 * The host's top-level entries, read-only: directories bound, symlinks
 * (merged /usr: /bin -> usr/bin) recreated. The sandbox root itself is a
 * tmpfs, so bwrap can create the workdir mount point in it.
 */
static int bind_host_root(struct argv_buf *a)
{
	DIR *dir = opendir("/");
	struct dirent *de;
	int rc = 0;

	if (!dir)
		return -errno;
	while (rc == 0 && (de = readdir(dir))) {
		static const char *const skip[] = { ".", "..", "proc", "dev", "sys", "tmp", "run" };
		char path[NAME_MAX + 2], target[PATH_MAX];
		ssize_t n;
		bool skipped = false;

		for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
			skipped |= strcmp(de->d_name, skip[i]) == 0;
		if (skipped)
			continue;
		snprintf(path, sizeof(path), "/%s", de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			rc = av_add(a, "--symlink");
			rc = rc ?: av_add_dup(a, target);
			rc = rc ?: av_add_dup(a, path);
		} else if (de->d_type == DT_DIR) {
			rc = av_add(a, "--ro-bind");
			rc = rc ?: av_add_dup(a, path);
			rc = rc ?: av_add_dup(a, path);
		}
	}
	closedir(dir);
	return rc;
}

/* The bwrap argv for req. */
static int local_argv(const struct runtime_req *req, struct argv_buf *a)
{
	static const char *const fixed[] = {
		BWRAP, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc",
		"--unshare-uts", "--unshare-net", "--unshare-cgroup-try", "--cap-drop", "ALL",
		"--json-status-fd", "3", "--tmpfs", "/",
	};
	static const char *const after_root[] = {
		"--ro-bind", "/sys", "/sys", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
		"--tmpfs", "/run", "--hostname", "forkcell", "--clearenv",
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rc = av_add(a, fixed[i]);
	rc = rc ?: bind_host_root(a);
	for (size_t i = 0; rc == 0 && i < sizeof(after_root) / sizeof(after_root[0]); i++)
		rc = av_add(a, after_root[i]);
	if (rc == 0 && req->store_path) {
		/* The store holds blobs, receipts, keys and control sockets. */
		rc = av_add(a, "--tmpfs");
		rc = rc ?: av_add(a, req->store_path);
	}
	rc = rc ?: av_add(a, "--bind");
	rc = rc ?: av_add(a, req->mountpoint);
	rc = rc ?: av_add(a, req->workdir);
	rc = rc ?: av_add(a, "--chdir");
	rc = rc ?: av_add(a, req->workdir);
	for (size_t i = 0; rc == 0 && req->env && req->env[i]; i++) {
		const char *eq = strchr(req->env[i], '=');

		if (!eq)
			continue;
		/* --setenv takes the name and value as two words. */
		rc = av_add(a, "--setenv");
		rc = rc ?: av_add_owned(a, strndup(req->env[i], (size_t)(eq - req->env[i])));
		rc = rc ?: av_add(a, eq + 1);
	}
	rc = rc ?: av_add(a, "--");
	for (size_t i = 0; rc == 0 && req->argv[i]; i++)
		rc = av_add(a, req->argv[i]);
	return rc;
}

static void argv_free(struct argv_buf *a)
{
	for (size_t i = 0; i < a->n_owned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->v);
}

/*
 * bwrap reports on its status fd {"child-pid": N} once the command runs and
 * {"exit-code": N} when it ends. No child-pid means bwrap failed to set up
 * the sandbox: that is a runtime error, not the command's status.
 */
static bool child_started(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "\"child-pid\"") != NULL;
}

static int local_exec(const struct runtime_req *req, void *state, struct run_capture *out,
		      struct run_capture *err, struct runtime_result *res, struct fc_diag *d)
{
	struct argv_buf a = { 0 };
	char *const envp[] = { (char *)SAFE_PATH, NULL };
	struct run_spec spec = { .envp = envp, .timeout_ms = req->timeout_s * 1000,
				 .pass_fd = true };
	int status[2] = { -1, -1 };
	int rc = local_argv(req, &a);

	if (rc == 0 && pipe2(status, O_CLOEXEC) < 0)
		rc = -errno;
	if (rc < 0) {
		argv_free(&a);
		return fc_diag_set(d, rc, "cannot prepare the bwrap sandbox: %s", fc_strerror(rc));
	}
	spec.argv = a.v;
	spec.extra_fd = status[1];
	rc = run_proc(&spec, out, err, &res->st);
	close(status[1]);
	res->exit_source = "waitpid";
	if (rc == 0 && !res->st.timed_out && !child_started(status[0]))
		rc = fc_diag_set(d, FC_ESTATE, "bwrap could not set up the sandbox (exit %d): "
				 "see its message above", res->st.status);
	else if (rc < 0)
		fc_diag_set(d, rc, "cannot start bwrap: %s", fc_strerror(rc));
	close(status[0]);
	argv_free(&a);
	return rc;
}

static void local_destroy(void *state)
{
	(void)state; /* bwrap's namespaces die with its last process */
}

const struct runtime_ops runtime_local = {
	.name = "local",
	.probe = local_probe,
	.create = local_create,
	.exec = local_exec,
	.destroy = local_destroy,
};
