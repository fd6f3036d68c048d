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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BWRAP "bwrap"
#define SAFE_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct argv_buf {
	char **v;
	size_t n, cap;
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

/* The bwrap argv for req; the strings are borrowed from req. */
static int local_argv(const struct runtime_req *req, struct argv_buf *a)
{
	static const char *const fixed[] = {
		BWRAP, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc",
		"--unshare-uts", "--unshare-net", "--unshare-cgroup-try", "--cap-drop", "ALL",
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
		"--tmpfs", "/run", "--hostname", "forkcell", "--clearenv",
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rc = av_add(a, fixed[i]);
	if (rc == 0 && req->store_path) {
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
		/* --setenv takes the name and value as two words: split a copy. */
		char *name = strndup(req->env[i], (size_t)(eq - req->env[i]));

		if (!name)
			return -ENOMEM;
		rc = av_add(a, "--setenv");
		rc = rc ?: av_add(a, name);
		rc = rc ?: av_add(a, eq + 1);
	}
	rc = rc ?: av_add(a, "--");
	for (size_t i = 0; rc == 0 && req->argv[i]; i++)
		rc = av_add(a, req->argv[i]);
	return rc;
}

static void argv_free_names(struct argv_buf *a)
{
	for (size_t i = 0; i + 1 < a->n; i++)
		if (strcmp(a->v[i], "--setenv") == 0) {
			free(a->v[i + 1]);
			i += 2;
		} else if (strcmp(a->v[i], "--") == 0) {
			break;
		}
	free(a->v);
}

static int local_exec(const struct runtime_req *req, void *state, struct run_capture *out,
		      struct run_capture *err, struct runtime_result *res, struct fc_diag *d)
{
	struct argv_buf a = { 0 };
	char *const envp[] = { (char *)SAFE_PATH, NULL };
	struct run_spec spec = { .envp = envp, .timeout_ms = req->timeout_s * 1000 };
	int rc = local_argv(req, &a);

	if (rc < 0) {
		argv_free_names(&a);
		return fc_diag_set(d, rc, "cannot build the bwrap command line");
	}
	spec.argv = a.v;
	rc = run_proc(&spec, out, err, &res->st);
	res->exit_source = "waitpid";
	argv_free_names(&a);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot start bwrap: %s", fc_strerror(rc));
	return 0;
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
