/*
 * run_enforce: prepares and tears down the enforcement of a run's policy on
 * the local and docker runtimes (see run_enforce.h): the per-run directory
 * with the gate FIFOs and CA bundle, forkcell-init's arguments, and the
 * environment that points the command at the proxy. The proxy's life
 * (start in the sandbox's netns, stop, summary, events) is in
 * run_proxy.c.
 */
#include "run_enforce.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_ca.h"
#include "fc_fileio.h"
#include "run.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define CA_BUNDLE_MAX (8 << 20)
/* OpenShell's "sandbox" identity; see docs/policy.md. */
#define SANDBOX_UID 1000u

/* The trust store the sandbox sees: the system's roots plus our CA. */
static int write_ca_bundle(struct ctl *c, struct run_enforce *e, struct fc_diag *d)
{
	char *sys = NULL, *ca = NULL, *all = NULL;
	size_t nsys = 0, nca = 0;
	int rc = fc_read_file(c->st->root_fd, FC_CA_CERT_PATH, 1 << 20, &ca, &nca);

	if (rc < 0)
		return fc_diag_set(d, rc, "cannot read the store's proxy CA: %s", fc_strerror(rc));
	/* A machine without ca-certificates still gets our CA. */
	rc = fc_read_file(AT_FDCWD, SYSTEM_CA_BUNDLE, CA_BUNDLE_MAX, &sys, &nsys);
	if (rc < 0 && rc != -ENOENT) {
		free(ca);
		return fc_diag_set(d, rc, "cannot read %s: %s", SYSTEM_CA_BUNDLE, fc_strerror(rc));
	}
	all = malloc(nsys + nca + 2);
	if (!all) {
		rc = fc_diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	if (nsys)
		memcpy(all, sys, nsys);
	if (nsys && sys[nsys - 1] != '\n')
		all[nsys++] = '\n';
	memcpy(all + nsys, ca, nca);
	rc = fc_write_atomic(e->dirfd, "ca-bundle.pem", all, nsys + nca, 0644);
	if (rc < 0)
		fc_diag_set(d, rc, "cannot write the sandbox's CA bundle: %s", fc_strerror(rc));
	snprintf(e->ca_bundle, sizeof(e->ca_bundle), "%s/ca-bundle.pem", e->dir);
out:
	free(sys);
	free(ca);
	free(all);
	return rc;
}

static int make_run_dir(struct ctl *c, const char *run_id, struct run_enforce *e,
			struct fc_diag *d)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "run/r-%s", run_id);
	if (mkdirat(c->st->root_fd, "run", 0700) < 0 && errno != EEXIST)
		return fc_diag_set(d, -errno, "cannot create %s/run: %m", c->st->path);
	/* 0755: the sandbox's user reads the CA bundle through the bind;
	 * the FIFOs themselves are 0600 and opened by init before it drops. */
	if (mkdirat(c->st->root_fd, rel, 0755) < 0)
		return fc_diag_set(d, -errno, "cannot create %s/%s: %m", c->st->path, rel);
	e->dirfd = openat(c->st->root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (e->dirfd < 0)
		return fc_diag_set(d, -errno, "cannot open %s/%s: %m", c->st->path, rel);
	/* Held for the whole run: `gc --all` removes only directories nobody
	 * holds, the debris of a forkcellctl that was killed. */
	if (flock(e->dirfd, LOCK_EX | LOCK_NB) < 0)
		return fc_diag_set(d, -errno, "cannot lock %s/%s: %m", c->st->path, rel);
	snprintf(e->dir, sizeof(e->dir), "%s/%s", c->st->path, rel);
	if (mkfifoat(e->dirfd, "gate", 0600) < 0 || mkfifoat(e->dirfd, "status", 0600) < 0)
		return fc_diag_set(d, -errno, "cannot create the gate FIFOs in %s: %m", e->dir);
	return 0;
}

static int add_arg(struct run_enforce *e, const char *a)
{
	char **v = realloc(e->init_args, (e->n_init_args + 2) * sizeof(*v));
	char *s = strdup(a);

	if (v)
		e->init_args = v;
	if (!v || !s) {
		free(s);
		return -ENOMEM;
	}
	v[e->n_init_args++] = s;
	v[e->n_init_args] = NULL;
	return 0;
}

static int add_id_arg(struct run_enforce *e, const char *flag, const struct fc_pol_id *id)
{
	char num[16];
	int rc;

	if (id->kind == FC_POL_ID_IMAGE)
		return 0;
	snprintf(num, sizeof(num), "%u", id->kind == FC_POL_ID_SANDBOX ? SANDBOX_UID : id->id);
	rc = add_arg(e, flag);
	return rc < 0 ? rc : add_arg(e, num);
}

/* forkcell-init's options for pol (before "--"). */
static int build_init_args(struct run_enforce *e, const struct fc_policy *pol,
			   const char *workdir)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < pol->nread_only; i++) {
		rc = add_arg(e, "--ro");
		if (rc == 0)
			rc = add_arg(e, pol->read_only[i]);
	}
	for (size_t i = 0; rc == 0 && i < pol->nread_write; i++) {
		rc = add_arg(e, "--rw");
		if (rc == 0)
			rc = add_arg(e, pol->read_write[i]);
	}
	if (rc == 0 && pol->include_workdir) {
		rc = add_arg(e, "--rw");
		if (rc == 0)
			rc = add_arg(e, workdir);
	}
	/*
	 * The command reads the CA bundle whatever the policy lists; but a
	 * policy without filesystem paths asks for no Landlock at all, and
	 * this one path alone would make everything else unreachable.
	 */
	if (rc == 0 && (pol->nread_only || pol->nread_write || pol->include_workdir)) {
		rc = add_arg(e, "--ro");
		if (rc == 0)
			rc = add_arg(e, RUN_SANDBOX_CA);
	}
	if (rc == 0)
		rc = add_arg(e, "--landlock");
	if (rc == 0)
		rc = add_arg(e, fc_pol_compat_name(pol->compat));
	if (rc == 0)
		rc = add_id_arg(e, "--uid", &pol->run_as_user);
	if (rc == 0)
		rc = add_id_arg(e, "--gid", &pol->run_as_group);
	return rc;
}

void run_enforce_init(struct run_enforce *e)
{
	memset(e, 0, sizeof(*e));
	e->dirfd = e->proxy_out = e->proxy_log = -1;
}

int run_enforce_prepare(struct ctl *c, const char *runtime, const struct fc_policy *pol,
			const char *workdir, struct run_state *s, struct run_enforce *e,
			struct fc_diag *d)
{
	int rc;

	if (!pol || strcmp(runtime, "openshell") == 0)
		return 0;
	e->on = true;
	e->policy_file = s->policy_file;
	e->events_file = s->events_file;
	e->run_id = s->run_id;
	snprintf(e->store_path, sizeof(e->store_path), "%s", c->st->path);
	rc = fc_ca_ensure(c->st->root_fd, d);
	if (rc == 0)
		rc = make_run_dir(c, s->run_id, e, d);
	if (rc == 0)
		rc = write_ca_bundle(c, e, d);
	if (rc < 0)
		return rc;
	if (build_init_args(e, pol, workdir) < 0)
		return fc_diag_set(d, -ENOMEM, "out of memory");
	ctl_tool_path("forkcell-init", "FORKCELL_INIT", e->init_path, sizeof(e->init_path));
	ctl_tool_path("forkcell-proxy", "FORKCELL_PROXY", e->proxy_path, sizeof(e->proxy_path));
	/* The init is bind-mounted into the sandbox: it must be a real file. */
	if (e->init_path[0] != '/' || access(e->init_path, X_OK) < 0)
		return fc_diag_set(d, -ENOENT, "cannot find forkcell-init (looked for '%s'; "
				   "set FORKCELL_INIT to its absolute path)", e->init_path);
	e->gate.ready = run_proxy_start;
	e->gate.arg = e;
	return 0;
}

void run_enforce_req(struct run_enforce *e, struct runtime_req *req)
{
	if (!e->on)
		return;
	req->init_path = e->init_path;
	req->init_args = e->init_args;
	req->gate_dir = e->dir;
	req->gate = &e->gate;
	req->ca_bundle = e->ca_bundle;
	req->network = true;
}

size_t run_enforce_env(const struct run_enforce *e, char **env, size_t n)
{
	static const char *const vars[] = {
		"HTTP_PROXY=" RUN_PROXY_URL, "HTTPS_PROXY=" RUN_PROXY_URL,
		"http_proxy=" RUN_PROXY_URL, "https_proxy=" RUN_PROXY_URL,
		"ALL_PROXY=" RUN_PROXY_URL, "NO_PROXY=127.0.0.1,localhost,::1",
		"SSL_CERT_FILE=" RUN_SANDBOX_CA, "REQUESTS_CA_BUNDLE=" RUN_SANDBOX_CA,
		"CURL_CA_BUNDLE=" RUN_SANDBOX_CA, "GIT_SSL_CAINFO=" RUN_SANDBOX_CA,
		"NODE_EXTRA_CA_CERTS=" RUN_SANDBOX_CA,
	};

	_Static_assert(sizeof(vars) / sizeof(vars[0]) <= RUN_ENFORCE_ENV_MAX, "env slots");
	if (!e->on)
		return n;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		env[n++] = (char *)vars[i];
	env[n] = NULL;
	return n;
}

/* The files a run directory holds; anything else stays (and so does the directory). */
static void run_dir_empty(int dirfd)
{
	static const char *const names[] = { "gate", "status", "ca-bundle.pem", "proxy.log" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(dirfd, names[i], 0);
}

int run_enforce_sweep(struct ctl *c, bool dry_run, uint64_t *count, struct fc_diag *d)
{
	int runfd = openat(c->st->root_fd, "run", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir;
	struct dirent *de;

	*count = 0;
	if (runfd < 0)
		return errno == ENOENT ? 0 : fc_diag_set(d, -errno, "cannot open %s/run: %m",
							 c->st->path);
	dir = fdopendir(runfd);
	if (!dir) {
		close(runfd);
		return fc_diag_set(d, -errno, "cannot read %s/run: %m", c->st->path);
	}
	while ((de = readdir(dir))) {
		int fd;

		if (strncmp(de->d_name, "r-", 2) != 0)
			continue;
		fd = openat(runfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* A run in progress holds the lock: leave its directory alone. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (!dry_run) {
				run_dir_empty(fd);
				if (unlinkat(runfd, de->d_name, AT_REMOVEDIR) < 0)
					fprintf(stderr, "forkcellctl: warning: cannot remove "
						"%s/run/%s: %m\n", c->st->path, de->d_name);
			}
			(*count)++;
		}
		close(fd);
	}
	closedir(dir);
	return 0;
}

void run_enforce_cleanup(struct run_enforce *e)
{
	run_proxy_kill(e);
	if (e->dirfd >= 0) {
		run_dir_empty(e->dirfd);
		close(e->dirfd);
		e->dirfd = -1;
		/* The directory is empty now unless someone put debris there. */
		if (rmdir(e->dir) < 0 && errno != ENOENT)
			fprintf(stderr, "forkcellctl: warning: cannot remove %s: %m\n", e->dir);
	}
	for (size_t i = 0; i < e->n_init_args; i++)
		free(e->init_args[i]);
	free(e->init_args);
	e->init_args = NULL;
	e->n_init_args = 0;
	cJSON_Delete(e->proxy_summary);
	cJSON_Delete(e->events);
	cJSON_Delete(e->recorded);
	e->proxy_summary = e->events = e->recorded = NULL;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *run_enforce_json(const struct run_enforce *e, const struct runtime_result *rt,
			bool *enforced)
{
	cJSON *o = cJSON_CreateObject(), *init = NULL;
	const char *ll, *sc;

	*enforced = false;
	if (!e->on)
		return o;
	if (rt->init_status[0])
		init = cJSON_Parse(rt->init_status);
	ll = str_at(init, "landlock", "status");
	sc = str_at(init, "seccomp", NULL);
	/* Landlock "not_requested": the policy lists no filesystem paths. */
	*enforced = init && ll && sc &&
		    (strcmp(ll, "enforced") == 0 || strcmp(ll, "not_requested") == 0) &&
		    strcmp(sc, "enforced") == 0 && e->proxy_ok;
	cJSON_AddStringToObject(o, "by", "forkcell");
	cJSON_AddItemToObject(o, "init", init ? init : cJSON_CreateNull());
	cJSON_AddStringToObject(o, "network", "private netns; only the egress proxy at "
				RUN_PROXY_ADDR " is reachable");
	cJSON_AddBoolToObject(o, "proxy_ok", e->proxy_ok);
	cJSON_AddItemToObject(o, "proxy_summary", e->proxy_summary ?
				  cJSON_Duplicate(e->proxy_summary, 1) : cJSON_CreateNull());
	return o;
}
