/*
 * sandbox_drive: drive the local or docker runtime through its runtime_ops
 * with forkcell-init and the gate, exactly as `forkcellctl run --policy`
 * does (probe, create, exec, destroy on every path), so the runtime plumbing
 * is tested without the rest of the run command.
 *
 *   sandbox_drive --runtime local|docker --result FILE --cell C --mount DIR
 *                 --run-id ID [--workdir W] [--image I] [--timeout S]
 *                 [--init PATH] [--gate-dir DIR] [--ca-bundle FILE] [--network]
 *                 [--ready-cmd SH] [--init-arg ARG]... [--env K=V]... -- ARGV...
 *
 * --ready-cmd: the gate's ready callback runs `/bin/sh -c SH` with
 * SANDBOX_PID set to the sandbox's host pid; a non-zero exit fails ready.
 * The command's output is streamed to our stdout/stderr. FILE gets one
 * key=value line per result field (init_status included). Exit status: 0
 * when exec returned a command status, 1 on a runtime error, 2 on usage
 * errors.
 *
 * Helpers link only libforkcell.a, so the ctl sources are compiled in.
 */
#include "../../ctl/curl_lazy.c"
#include "../../ctl/run_proc.c"
#include "../../ctl/runtime_docker.c"
#include "../../ctl/runtime_docker_spec.c"
#include "../../ctl/runtime_local.c"
#include "../../ctl/sandbox_gate.c"

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define DRIVE_MAX_ARGS 64

extern char **environ;

static const char *phase_names[] = { "probe", "create", "exec" };

struct drive {
	const char *runtime, *result, *ready_cmd;
	char *env[DRIVE_MAX_ARGS];
	char *init_args[DRIVE_MAX_ARGS];
	size_t n_env, n_init_args;
};

static int ready_cb(void *arg, pid_t host_pid, struct fc_diag *d)
{
	const struct drive *dr = arg;
	char *const argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)dr->ready_cmd, NULL };
	char pidstr[32];
	pid_t child;
	int status = 0, rc;

	snprintf(pidstr, sizeof(pidstr), "%d", (int)host_pid);
	setenv("SANDBOX_PID", pidstr, 1);
	rc = posix_spawn(&child, argv[0], NULL, NULL, argv, environ);
	if (rc != 0)
		return fc_diag_set(d, -rc, "ready: cannot run the ready command: %s",
				   fc_strerror(-rc));
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return fc_diag_set(d, -errno, "ready: waitpid: %s", fc_strerror(-errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fc_diag_set(d, FC_ESTATE, "ready: the ready command failed (status %d)",
				   status);
	return 0;
}

static int write_result(const char *path, int rc, int phase, const struct runtime_result *res,
			const struct fc_diag *d)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fprintf(f, "rc=%d\nphase=%s\nerror=%s\n", rc, phase_names[phase], rc ? d->msg : "");
	fprintf(f, "version=%s\nsandbox_id=%s\nimage=%s\n", res->version, res->sandbox_id,
		res->image);
	fprintf(f, "status=%d\ntimed_out=%d\nexit_source=%s\n", res->st.status, res->st.timed_out,
		res->exit_source ? res->exit_source : "");
	fprintf(f, "init_status=%s\n", res->init_status);
	return fclose(f) == 0 ? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: sandbox_drive --runtime local|docker --result FILE --cell C "
			"--mount DIR --run-id ID [--workdir W] [--image I] [--timeout S] "
			"[--init PATH] [--gate-dir DIR] [--ca-bundle FILE] [--network] "
			"[--ready-cmd SH] [--init-arg ARG]... [--env K=V]... -- ARGV...\n");
	return 2;
}

/* One option with a value; returns 0, or 2 for an unknown option. */
static int take(struct drive *dr, struct runtime_req *req, const char *k, char *v)
{
	if (strcmp(k, "--runtime") == 0)
		dr->runtime = v;
	else if (strcmp(k, "--result") == 0)
		dr->result = v;
	else if (strcmp(k, "--cell") == 0)
		req->cell = v;
	else if (strcmp(k, "--mount") == 0)
		req->mountpoint = v;
	else if (strcmp(k, "--run-id") == 0)
		req->run_id = v;
	else if (strcmp(k, "--workdir") == 0)
		req->workdir = v;
	else if (strcmp(k, "--image") == 0)
		req->image = v;
	else if (strcmp(k, "--timeout") == 0)
		req->timeout_s = atoi(v);
	else if (strcmp(k, "--init") == 0)
		req->init_path = v;
	else if (strcmp(k, "--gate-dir") == 0)
		req->gate_dir = v;
	else if (strcmp(k, "--ca-bundle") == 0)
		req->ca_bundle = v;
	else if (strcmp(k, "--ready-cmd") == 0)
		dr->ready_cmd = v;
	else if (strcmp(k, "--env") == 0 && dr->n_env + 1 < DRIVE_MAX_ARGS)
		dr->env[dr->n_env++] = v;
	else if (strcmp(k, "--init-arg") == 0 && dr->n_init_args + 1 < DRIVE_MAX_ARGS)
		dr->init_args[dr->n_init_args++] = v;
	else
		return 2;
	return 0;
}

static int parse(int argc, char **argv, struct drive *dr, struct runtime_req *req)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--network") == 0)
			req->network = true;
		else if (i + 1 >= argc || take(dr, req, argv[i], argv[i + 1]) != 0)
			return -1;
		else
			i++;
	}
	if (i >= argc - 1 || !dr->runtime || !dr->result || !req->cell || !req->mountpoint ||
	    !req->run_id)
		return -1;
	req->argv = argv + i + 1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct drive dr;
	struct runtime_req req = { .workdir = "/workspace" };
	struct runtime_gate gate = { .ready = ready_cb, .arg = &dr };
	const struct runtime_ops *rt;
	struct runtime_result res;
	struct run_capture out, err;
	struct fc_diag d;
	void *state = NULL;
	int rc, phase = 0;

	if (parse(argc, argv, &dr, &req) < 0)
		return usage();
	rt = strcmp(dr.runtime, "docker") == 0 ? &runtime_docker : &runtime_local;
	req.env = dr.env;
	req.init_args = dr.n_init_args ? dr.init_args : NULL;
	if (dr.ready_cmd)
		req.gate = &gate;
	memset(&res, 0, sizeof(res));
	fc_diag_init(&d);
	run_capture_init(&out, STDOUT_FILENO);
	run_capture_init(&err, STDERR_FILENO);
	rc = rt->probe(&res, &d);
	if (rc == 0) {
		phase = 1;
		rc = rt->create(&req, &res, &state, &d);
	}
	if (rc == 0) {
		phase = 2;
		rc = rt->exec(&req, state, &out, &err, &res, &d);
		rt->destroy(state);
	}
	run_capture_finish(&out);
	run_capture_finish(&err);
	if (rc)
		fprintf(stderr, "sandbox_drive: %s: %s\n", phase_names[phase], fc_diag_msg(&d, rc));
	if (write_result(dr.result, rc, phase, &res, &d) < 0)
		return 2;
	return rc ? 1 : 0;
}
