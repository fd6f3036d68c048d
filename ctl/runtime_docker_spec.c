/*
 * runtime_docker_spec: the container the docker runtime creates, as the JSON
 * body of POST /containers/create, and the user it runs as.
 *
 * The cell's FUSE mount (made with allow_other) is bound read-write at the
 * workdir (after checking that dockerd sees the same mount); network "none";
 * every capability dropped; no-new-privileges; a read-only root filesystem
 * with a tmpfs /tmp; docker-init as pid 1 to reap orphans; cpu, memory and
 * pids limits; stdin, stdout and stderr attachable, stdin closed at its EOF.
 * The command runs as the owner of the workspace (FORKCELL_DOCKER_USER
 * overrides), so files it creates belong to whoever owns the cell's files on
 * the host, and a root-owned cell is worked on by a root without
 * capabilities.
 *
 * Under a policy (req->init_path) the container starts as root with only
 * CAP_SETUID, CAP_SETGID and CAP_SETPCAP, and its command is the host's
 * static forkcell-init (bound read-only at /run/forkcell-init), which drops
 * to the workspace owner's ids (or the policy's, given later in init_args)
 * and then to no capabilities at all. The per-run gate directory is bound at
 * /run/forkcell and the CA bundle read-only where the sandbox looks for it.
 * With req->network the container keeps a private network namespace with
 * loopback only (NetworkMode "none") for the egress proxy; otherwise
 * networking is disabled outright.
 */
#include "runtime_docker_int.h"

#include "sandbox_gate.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#define DOCKER_PIDFILE_DEFAULT "/var/run/docker.pid"
#define DOCKER_PIDS_LIMIT 512
#define DOCKER_MEMORY (2LL << 30)
#define DOCKER_NANO_CPUS 1000000000LL

/*
 * dockerd resolves the bind source in its own mount namespace. A cell
 * mounted in another one (a test under `unshare -m`) would show up in the
 * container as the empty directory beneath the mount, and the run would
 * silently work on nothing: compare what dockerd sees at that path (through
 * /proc/PID/root) with ours. When dockerd's pid is unknown or its /proc entry
 * unreadable (a remote engine, one in another pid namespace), there is
 * nothing to compare, and the run goes ahead.
 */
static int check_mount_visible(const char *mountpoint, const struct stat *ours,
			       struct fc_diag *d)
{
	const char *pidfile = getenv("FORKCELL_DOCKERD_PIDFILE");
	char buf[32] = "", path[4200];
	struct stat theirs = { 0 };
	FILE *f = fopen(pidfile && *pidfile ? pidfile : DOCKER_PIDFILE_DEFAULT, "re");
	long pid = 0;
	bool missing = false;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			pid = strtol(buf, NULL, 10);
		fclose(f);
	}
	if (pid <= 0)
		return 0;
	/* A stale pid file can name a recycled pid: only compare with a dockerd. */
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	if (strncmp(buf, "dockerd", 7) != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/root%s", pid, mountpoint);
	if (stat(path, &theirs) < 0) {
		if (errno != ENOENT)
			return 0;
		missing = true;
	}
	if (missing || theirs.st_dev != ours->st_dev || theirs.st_ino != ours->st_ino)
		return fc_diag_set(d, FC_ESTATE,
				   "docker: dockerd (pid %ld) does not see the cell's mount '%s' "
				   "(it runs in another mount namespace); mount the cell where "
				   "dockerd runs",
				   pid, mountpoint);
	return 0;
}


static void add_mount(cJSON *mounts, const char *src, const char *dst, bool ro)
{
	cJSON *m = cJSON_CreateObject();

	/* Mounts, not Binds: no ':' parsing, and a missing source fails instead of appearing. */
	cJSON_AddStringToObject(m, "Type", "bind");
	cJSON_AddStringToObject(m, "Source", src);
	cJSON_AddStringToObject(m, "Target", dst);
	cJSON_AddBoolToObject(m, "ReadOnly", ro);
	cJSON_AddItemToArray(mounts, m);
}

/* forkcell-init, the gate directory and the CA bundle, all read-only. */
static void add_init_mounts(const struct runtime_req *req, cJSON *mounts)
{
	add_mount(mounts, req->init_path, SANDBOX_INIT_PATH, true);
	if (req->gate_dir)
		add_mount(mounts, req->gate_dir, SANDBOX_GATE_DIR, true);
	if (!req->ca_bundle)
		return;
	add_mount(mounts, req->ca_bundle, SANDBOX_SYSTEM_CA, true);
	if (sandbox_ca_needs_bind(req))
		add_mount(mounts, req->ca_bundle, SANDBOX_CA_BUNDLE, true);
}

/* "UID:GID", both decimal, nothing else. */
static bool numeric_user(const char *user, unsigned *uid, unsigned *gid)
{
	char *end = NULL;
	unsigned long u, g;

	if (!isdigit((unsigned char)user[0]))
		return false;
	u = strtoul(user, &end, 10);
	if (*end != ':' || !isdigit((unsigned char)end[1]) || u > UINT_MAX)
		return false;
	g = strtoul(end + 1, &end, 10);
	if (*end || g > UINT_MAX)
		return false;
	*uid = (unsigned)u;
	*gid = (unsigned)g;
	return true;
}

/* Who runs the command: FORKCELL_DOCKER_USER, else the workspace's owner. */
int docker_spec_user(const struct runtime_req *req, char *user, struct fc_diag *d)
{
	const char *u = getenv("FORKCELL_DOCKER_USER");
	char pick[DOCKER_USER_MAX];
	struct stat st;
	int rc;

	if (stat(req->mountpoint, &st) < 0)
		return fc_diag_set(d, -errno, "docker: cannot stat the cell's mount '%s': %s",
				   req->mountpoint, fc_strerror(-errno));
	rc = check_mount_visible(req->mountpoint, &st, d);
	if (rc < 0)
		return rc;
	if (u && *u)
		snprintf(pick, sizeof(pick), "%s", u);
	else
		snprintf(pick, sizeof(pick), "%u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid);
	if (req->init_path && !numeric_user(pick, &(unsigned){ 0 }, &(unsigned){ 0 }))
		return fc_diag_set(d, FC_EUSAGE, "docker: under a policy the run's user must be "
				   "numeric uid:gid (FORKCELL_DOCKER_USER is '%s')", pick);
	memcpy(user, pick, sizeof(pick));
	return 0;
}

/*
 * The command: argv itself, or under init `forkcell-init ... --uid U --gid G
 * INIT_ARGS -- argv` where U:G is the user picked for the run (init_args
 * may name others: the later options win).
 */
static int add_cmd(const struct runtime_req *req, const char *user, cJSON *cmd)
{
	char uid[16], gid[16], **v = NULL;
	char *extra[] = { (char *)"--uid", uid, (char *)"--gid", gid, NULL };
	unsigned u = 0, g = 0;
	int rc;

	if (!req->init_path) {
		for (size_t i = 0; req->argv[i]; i++)
			cJSON_AddItemToArray(cmd, cJSON_CreateString(req->argv[i]));
		return 0;
	}
	numeric_user(user, &u, &g); /* checked by docker_spec_user */
	snprintf(uid, sizeof(uid), "%u", u);
	snprintf(gid, sizeof(gid), "%u", g);
	rc = sandbox_init_argv(req, extra, &v);
	for (size_t i = 0; rc == 0 && v[i]; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(v[i]));
	free(v);
	return rc;
}

char *docker_spec_json(const struct runtime_req *req, const char *image, const char *user)
{
	cJSON *b = cJSON_CreateObject();
	cJSON *hc = cJSON_AddObjectToObject(b, "HostConfig");
	cJSON *cmd = cJSON_AddArrayToObject(b, "Cmd");
	cJSON *env = cJSON_AddArrayToObject(b, "Env");
	cJSON *mounts = cJSON_AddArrayToObject(hc, "Mounts");
	cJSON *labels = cJSON_AddObjectToObject(b, "Labels");
	static const char *const init_caps[] = { "SETUID", "SETGID", "SETPCAP" };
	char *json;

	if (add_cmd(req, user, cmd) < 0) {
		cJSON_Delete(b);
		return NULL;
	}
	for (size_t i = 0; req->env && req->env[i]; i++)
		cJSON_AddItemToArray(env, cJSON_CreateString(req->env[i]));
	cJSON_AddStringToObject(b, "Image", image);
	/* forkcell-init starts as root and drops to user itself. */
	cJSON_AddStringToObject(b, "User", req->init_path ? "0:0" : user);
	cJSON_AddStringToObject(b, "WorkingDir", req->workdir);
	cJSON_AddFalseToObject(b, "Tty");
	/* stdin is attached once and closed at its EOF (StdinOnce). */
	cJSON_AddTrueToObject(b, "OpenStdin");
	cJSON_AddTrueToObject(b, "StdinOnce");
	cJSON_AddTrueToObject(b, "AttachStdin");
	cJSON_AddTrueToObject(b, "AttachStdout");
	cJSON_AddTrueToObject(b, "AttachStderr");
	/* Loopback for the egress proxy, or no network stack at all. */
	if (!req->network)
		cJSON_AddTrueToObject(b, "NetworkDisabled");
	cJSON_AddStringToObject(labels, "forkcell.run", req->run_id);
	cJSON_AddStringToObject(labels, "forkcell.cell", req->cell);
	add_mount(mounts, req->mountpoint, req->workdir, false);
	if (req->init_path)
		add_init_mounts(req, mounts);
	cJSON_AddStringToObject(hc, "NetworkMode", "none");
	cJSON_AddStringToObject(hc, "IpcMode", "private");
	cJSON_AddItemToObject(hc, "CapDrop", cJSON_CreateStringArray((const char *[]){ "ALL" }, 1));
	if (req->init_path)
		cJSON_AddItemToObject(hc, "CapAdd", cJSON_CreateStringArray(init_caps, 3));
	cJSON_AddItemToObject(hc, "SecurityOpt",
			      cJSON_CreateStringArray((const char *[]){ "no-new-privileges" }, 1));
	cJSON_AddTrueToObject(hc, "ReadonlyRootfs");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(hc, "Tmpfs"), "/tmp",
				"rw,nosuid,nodev,size=256m");
	/* docker-init as pid 1 reaps orphans and passes the command's status through. */
	cJSON_AddTrueToObject(hc, "Init");
	cJSON_AddNumberToObject(hc, "PidsLimit", DOCKER_PIDS_LIMIT);
	cJSON_AddNumberToObject(hc, "Memory", (double)DOCKER_MEMORY);
	cJSON_AddNumberToObject(hc, "NanoCpus", (double)DOCKER_NANO_CPUS);
	cJSON_AddFalseToObject(hc, "Privileged");
	json = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return json;
}
