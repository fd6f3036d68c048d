/*
 * os_runtime_drive: drive the openshell runtime (ctl/runtime_openshell.c)
 * through its runtime_ops exactly as `forkcellctl run` does (probe, create,
 * exec, destroy on every path), so integration tests can exercise it
 * against tests/fakes/openshell before the run command exists.
 *
 *   os_runtime_drive --result FILE --cell C --mount DIR --run-id ID
 *                    [--workdir W] [--timeout S] [--image I] [--policy P]
 *                    [--events FILE] [--env K=V]... -- ARGV...
 *
 * The command's output is streamed to our stdout/stderr. FILE gets one
 * key=value line per result field. Exit status: 0 when exec returned a
 * command status, 1 on a runtime error, 2 on usage errors.
 *
 * Helpers link only libforkcell.a, so the ctl sources are compiled in.
 */
#include "../../ctl/openshell_argv.c"
#include "../../ctl/run_proc.c"
#include "../../ctl/runtime_openshell.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *phase_names[] = { "probe", "create", "exec" };

static void hex(FILE *f, const char *key, const uint8_t *d)
{
	char h[FC_SHA256_HEX];

	fc_hex(d, FC_SHA256_LEN, h);
	fprintf(f, "%s=%s\n", key, h);
}

static int write_result(const char *path, int rc, int phase, const struct runtime_result *res,
			const struct run_capture *out, const struct fc_diag *d)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fprintf(f, "rc=%d\nphase=%s\nerror=%s\n", rc, phase_names[phase], rc ? d->msg : "");
	fprintf(f, "version=%s\nsandbox_id=%s\nsandbox_name=%s\nimage=%s\n", res->version,
		res->sandbox_id, res->sandbox_name, res->image);
	fprintf(f, "status=%d\ntimed_out=%d\nexit_source=%s\ncli_status=%d\n", res->st.status,
		res->st.timed_out, res->exit_source ? res->exit_source : "", res->cli_status);
	fprintf(f, "events_complete=%d\nevents_lines=%llu\nevents_bytes=%llu\n",
		res->events_complete, (unsigned long long)res->events_lines,
		(unsigned long long)res->events_bytes);
	fprintf(f, "policy_loaded=%d\npolicy_evidence=%s\n", res->policy_loaded,
		res->policy_evidence);
	hex(f, "events_sha256", res->events_sha256);
	hex(f, "stdout_sha256", out->digest);
	fprintf(f, "stdout_bytes=%llu\n", (unsigned long long)out->bytes);
	return fclose(f) == 0 ? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: os_runtime_drive --result FILE --cell C --mount DIR --run-id ID "
			"[--workdir W] [--timeout S] [--image I] [--policy P] [--events FILE] "
			"[--env K=V]... -- ARGV...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct runtime_req req = { .timeout_s = 0 };
	struct runtime_result res;
	struct run_capture out, err;
	struct fc_diag d;
	const char *result = NULL;
	char *env[64] = { NULL };
	size_t nenv = 0;
	void *state = NULL;
	int i, rc, phase = 0;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		if (strcmp(k, "--result") == 0)
			result = v;
		else if (strcmp(k, "--cell") == 0)
			req.cell = v;
		else if (strcmp(k, "--mount") == 0)
			req.mountpoint = v;
		else if (strcmp(k, "--run-id") == 0)
			req.run_id = v;
		else if (strcmp(k, "--workdir") == 0)
			req.workdir = v;
		else if (strcmp(k, "--timeout") == 0)
			req.timeout_s = atoi(v);
		else if (strcmp(k, "--image") == 0)
			req.image = v;
		else if (strcmp(k, "--policy") == 0)
			req.policy_path = v;
		else if (strcmp(k, "--events") == 0)
			req.events_path = v;
		else if (strcmp(k, "--env") == 0 && nenv + 1 < sizeof(env) / sizeof(env[0]))
			env[nenv++] = argv[i + 1];
		else
			return usage();
	}
	if (i >= argc - 1 || !result || !req.cell || !req.mountpoint || !req.run_id)
		return usage();
	req.argv = argv + i + 1;
	req.env = env;
	memset(&res, 0, sizeof(res));
	fc_diag_init(&d);
	run_capture_init(&out, STDOUT_FILENO);
	run_capture_init(&err, STDERR_FILENO);
	rc = runtime_openshell.probe(&res, &d);
	if (rc == 0) {
		phase = 1;
		rc = runtime_openshell.create(&req, &res, &state, &d);
	}
	if (rc == 0) {
		phase = 2;
		rc = runtime_openshell.exec(&req, state, &out, &err, &res, &d);
		runtime_openshell.destroy(state);
	}
	run_capture_finish(&out);
	run_capture_finish(&err);
	if (rc)
		fprintf(stderr, "os_runtime_drive: %s: %s\n", phase_names[phase], fc_diag_msg(&d, rc));
	if (write_result(result, rc, phase, &res, &out, &d) < 0)
		return 2;
	return rc ? 1 : 0;
}
