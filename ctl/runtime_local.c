/*
 * runtime_local: the default runtime, no daemon needed. The command runs
 * under bubblewrap with the host filesystem read-only, the cell's mount
 * read-write at the workdir, fresh /tmp, /proc and /dev, new pid, ipc, uts,
 * net and cgroup namespaces (no network), every capability dropped,
 * no_new_privs (bwrap always sets it), and --die-with-parent. The store
 * (blobs, receipts, keys, control sockets) and /run are masked with empty
 * tmpfs mounts so the agent cannot reach them.
 *
 * Under a policy (req->init_path) the command runs through forkcell-init,
 * bound at /run/forkcell-init, which bwrap starts as root with only
 * CAP_SETUID, CAP_SETGID and CAP_SETPCAP (init drops them all). The per-run
 * gate directory is bound at /run/forkcell. bwrap's status fd names the
 * sandbox's first process ("child-pid") as soon as it exists: a helper
 * thread reads it, calls the gate's ready callback, releases the gate and
 * reads init's status line while the main thread streams the output
 * (run_proc is synchronous). The network stays unshared: loopback only,
 * where the egress proxy listens.
 */
#include "runtime.h"

#include "sandbox_gate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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

static int av_ro_bind(struct argv_buf *a, const char *src, const char *dst)
{
	int rc = av_add(a, "--ro-bind");

	rc = rc ?: av_add(a, src);
	return rc ?: av_add(a, dst);
}

/* forkcell-init, the gate directory and the CA bundle, all read-only. */
static int init_binds(const struct runtime_req *req, struct argv_buf *a)
{
	int rc = av_ro_bind(a, req->init_path, SANDBOX_INIT_PATH);

	if (rc == 0 && req->gate_dir)
		rc = av_ro_bind(a, req->gate_dir, SANDBOX_GATE_DIR);
	if (rc < 0 || !req->ca_bundle)
		return rc;
	/* bwrap can bind over the host's bundle, not create one in the read-only /etc. */
	if (access(SANDBOX_SYSTEM_CA, F_OK) == 0)
		rc = av_ro_bind(a, req->ca_bundle, SANDBOX_SYSTEM_CA);
	if (rc == 0 && sandbox_ca_needs_bind(req))
		rc = av_ro_bind(a, req->ca_bundle, SANDBOX_CA_BUNDLE);
	return rc;
}

/* The command under forkcell-init (its strings are borrowed from req). */
static int add_init_argv(const struct runtime_req *req, struct argv_buf *a)
{
	char **v = NULL;
	int rc = sandbox_init_argv(req, NULL, &v);

	for (size_t i = 0; rc == 0 && v[i]; i++)
		rc = av_add(a, v[i]);
	free(v);
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
	/* What forkcell-init needs to change ids and empty the bounding set. */
	static const char *const init_caps[] = {
		"--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP",
	};
	static const char *const after_root[] = {
		"--ro-bind", "/sys", "/sys", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
		"--tmpfs", "/run", "--hostname", "forkcell", "--clearenv",
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rc = av_add(a, fixed[i]);
	for (size_t i = 0; rc == 0 && req->init_path && i < sizeof(init_caps) / sizeof(init_caps[0]);
	     i++)
		rc = av_add(a, init_caps[i]);
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
	if (rc == 0 && req->init_path)
		rc = init_binds(req, a);
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
	if (rc == 0 && req->init_path)
		return add_init_argv(req, a);
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
 * bwrap reports on its status fd {"child-pid": N, ...} once the sandbox's
 * first process exists and {"exit-code": N} when it ends. No child-pid means
 * bwrap failed to set up the sandbox: that is a runtime error, not the
 * command's status. Returns the pid, or 0.
 */
static pid_t child_pid(int fd)
{
	char buf[4096] = "";
	size_t len = 0;
	const char *p;

	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	p = strstr(buf, "\"child-pid\"");
	p = p ? strchr(p, ':') : NULL;
	return p ? (pid_t)strtol(p + 1, NULL, 10) : 0;
}

/* The gate, handled beside run_proc (which streams the output until the end). */
struct local_gate {
	const struct runtime_req *req;
	int fd;                        /* bwrap's status pipe, read end */
	pid_t child;                   /* 0: bwrap never started the sandbox */
	int rc;
	struct fc_diag d;
	char status[RT_INIT_STATUS_MAX];
};

static void *gate_thread(void *arg)
{
	struct local_gate *g = arg;

	g->child = child_pid(g->fd);
	if (g->child > 0 && g->req->gate_dir)
		g->rc = sandbox_gate_pass(g->req, g->child, g->status, sizeof(g->status), &g->d);
	return NULL;
}

static int local_exec(const struct runtime_req *req, void *state, struct run_capture *out,
		      struct run_capture *err, struct runtime_result *res, struct fc_diag *d)
{
	struct argv_buf a = { 0 };
	char *const envp[] = { (char *)SAFE_PATH, NULL };
	struct run_spec spec = { .envp = envp, .timeout_ms = req->timeout_s * 1000,
				 .pass_fd = true };
	struct local_gate *g = calloc(1, sizeof(*g));
	pthread_t thread;
	bool threaded = false;
	int status[2] = { -1, -1 };
	int rc = g ? local_argv(req, &a) : -ENOMEM;

	if (rc == 0 && pipe2(status, O_CLOEXEC) < 0)
		rc = -errno;
	if (rc == 0 && req->gate_dir) {
		*g = (struct local_gate){ .req = req, .fd = status[0] };
		fc_diag_init(&g->d);
		rc = -pthread_create(&thread, NULL, gate_thread, g);
		threaded = rc == 0;
	}
	if (rc < 0) {
		if (status[0] >= 0) {
			close(status[0]);
			close(status[1]);
		}
		argv_free(&a);
		free(g);
		return fc_diag_set(d, rc, "cannot prepare the bwrap sandbox: %s", fc_strerror(rc));
	}
	spec.argv = a.v;
	spec.extra_fd = status[1];
	rc = run_proc(&spec, out, err, &res->st);
	close(status[1]);
	res->exit_source = "waitpid";
	if (threaded)
		pthread_join(thread, NULL); /* bwrap is gone: its status pipe is at EOF */
	else
		g->child = child_pid(status[0]);
	if (rc < 0) {
		fc_diag_set(d, rc, "cannot start bwrap: %s", fc_strerror(rc));
	} else if (!res->st.timed_out && g->child <= 0) {
		rc = fc_diag_set(d, FC_ESTATE, "bwrap could not set up the sandbox (exit %d): "
				 "see its message above", res->st.status);
	} else if (threaded && g->rc != 0 && !res->st.timed_out) {
		*d = g->d;
		rc = g->rc;
	} else if (threaded) {
		snprintf(res->init_status, sizeof(res->init_status), "%s", g->status);
	}
	close(status[0]);
	argv_free(&a);
	free(g);
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
