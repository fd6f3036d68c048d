/*
 * cmd_run: `forkcellctl run CELL [flags] -- ARGV...`, the governed
 * transaction: checkpoint, run the command in a sandbox runtime with the
 * cell's mount at the workdir, collect the exit status (from the runtime's
 * own wait), output digests and the file changes, write a signed, chained
 * receipt, then accept, restore or leave the run pending.
 */
#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_fileio.h"
#include "fc_log.h"

#define RUN_DEFAULT_PATH "PATH=" RUN_DEFAULT_PATH_VALUE
#define RUN_EXIT_INTERNAL 125
#define RUN_ARGS_HELP 3 /* --help was printed: exit 0 */

static int env_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int opt_env(const struct ctl_cmd *cmd, struct run_opts *o, const char *arg, bool public)
{
	const char *eq = strchr(arg, '=');

	if (public) {
		if (!env_name_ok(arg, strlen(arg)) || o->n_public >= RUN_MAX_ENV)
			return ctl_usage(cmd, "--env-public wants a variable name, got '%s'", arg);
		o->public_env[o->n_public++] = arg;
		return 0;
	}
	if (!eq || !env_name_ok(arg, (size_t)(eq - arg)))
		return ctl_usage(cmd, "--env wants K=V with a valid name, got '%s'", arg);
	if (o->n_env >= RUN_MAX_ENV)
		return ctl_usage(cmd, "too many --env options (at most %d)", RUN_MAX_ENV);
	o->env[o->n_env++] = (char *)arg;
	return 0;
}

static int parse_timeout(const struct ctl_cmd *cmd, const char *arg, int *out)
{
	uint64_t v = 0;

	if (ctl_parse_u64(arg, &v) < 0 || v == 0 || v > 7 * 24 * 3600)
		return ctl_usage(cmd, "--timeout wants seconds between 1 and 604800, got '%s'",
				 arg);
	*out = (int)v;
	return 0;
}

static int parse_args(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
		      struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "checkpoint-before", no_argument, NULL, 'b' },
		{ "checkpoint-name", required_argument, NULL, 'n' },
		{ "restore-on-fail", no_argument, NULL, 'R' },
		{ "accept-on-success", no_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "image", required_argument, NULL, 'i' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "env", required_argument, NULL, 'e' },
		{ "env-public", required_argument, NULL, 'E' },
		{ "policy", required_argument, NULL, 'p' },
		{ "exit-with-command", no_argument, NULL, 'x' },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int dash = argc, opt, rc = 0;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	while (rc == 0 && (opt = getopt_long(dash, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': o->checkpoint_before = true; break;
		case 'n': o->checkpoint_name = optarg; break;
		case 'R': o->restore_on_fail = true; break;
		case 'a': o->accept_on_success = true; break;
		case 't': rc = parse_timeout(cmd, optarg, &o->timeout_s); break;
		case 'r': o->runtime = optarg; break;
		case 'i': o->image = optarg; break;
		case 'w': o->workdir = optarg; break;
		case 'e': rc = opt_env(cmd, o, optarg, false); break;
		case 'E': rc = opt_env(cmd, o, optarg, true); break;
		case 'p': o->policy = optarg; break;
		case 'x': o->exit_with_command = true; break;
		case 'h':
			ctl_cmd_help(cmd);
			return RUN_ARGS_HELP;
		case 0x101:
			/* run has its own renderings: json or md. */
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "md") != 0 &&
			    strcmp(optarg, "human") != 0)
				return ctl_usage(cmd, "--format wants json, md or human");
			o->fmt = strcmp(optarg, "human") ? optarg : NULL;
			c->json = o->fmt && strcmp(o->fmt, "json") == 0;
			break;
		default: CTL_OPT_COMMON(c, cmd, opt);
		}
	}
	if (rc != 0)
		return rc;
	if (optind != dash - 1 || dash >= argc - 1)
		return ctl_usage(cmd, "expected CELL -- COMMAND [ARG...]");
	o->cell = argv[optind];
	o->argv = argv + dash + 1;
	o->env[o->n_env] = NULL;
	if (!o->runtime)
		o->runtime = "local";
	if (!o->workdir) /* OpenShell's workspace lives at /sandbox/work */
		o->workdir = strcmp(o->runtime, "openshell") == 0 ? "/sandbox/work" : "/workspace";
	if (o->workdir[0] != '/' || strstr(o->workdir, "/..") || strcmp(o->workdir, "/") == 0)
		return ctl_usage(cmd, "--workdir must be an absolute path other than '/', "
				 "without '..'");
	if (o->checkpoint_name && ctl_name_arg(c, "checkpoint", o->checkpoint_name))
		return CTL_EXIT_FAIL;
	return ctl_name_arg(c, "cell", o->cell) ? CTL_EXIT_FAIL : 0;
}

/*
 * The sandbox environment: PATH and HOME defaults, the proxy and CA
 * variables when a policy is enforced, then the user's --env (which wins:
 * later entries override earlier ones in every libc we care about).
 */
static char **build_env(const struct run_opts *o, const struct run_enforce *e, char *home,
			size_t home_cap)
{
	char **env = calloc(o->n_env + 3 + RUN_ENFORCE_ENV_MAX, sizeof(*env));
	size_t n = 0;
	bool has_path = false, has_home = false;

	if (!env)
		return NULL;
	for (size_t i = 0; i < o->n_env; i++) {
		has_path |= strncmp(o->env[i], "PATH=", 5) == 0;
		has_home |= strncmp(o->env[i], "HOME=", 5) == 0;
	}
	if (!has_path)
		env[n++] = (char *)RUN_DEFAULT_PATH;
	if (!has_home) {
		snprintf(home, home_cap, "HOME=%s", o->workdir);
		env[n++] = home;
	}
	n = run_enforce_env(e, env, n);
	for (size_t i = 0; i < o->n_env; i++)
		env[n++] = o->env[i];
	env[n] = NULL;
	return env;
}

static int run_sandbox(struct ctl *c, const struct run_opts *o, const struct runtime_ops *rt,
		       struct run_state *s, struct fc_diag *d)
{
	char home[512];
	char **env = NULL;
	struct runtime_req req = {
		.cell = o->cell, .mountpoint = s->cell.info.mountpoint, .store_path = c->st->path,
		.workdir = o->workdir, .argv = o->argv, .env = env, .image = o->image,
		.timeout_s = o->timeout_s, .run_id = s->run_id,
		.policy_path = s->policy_file[0] ? s->policy_file : NULL,
		.events_path = s->events_file,
	};
	void *state = NULL;
	int rc;

	/* STORE/events/<cell>/<run_id>.jsonl: `events query --cell` reads one directory. */
	snprintf(home, sizeof(home), "events/%s", o->cell);
	rc = fc_mkdir_p(c->st->root_fd, home, 0700);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot create the events directory: %s",
				   fc_strerror(rc));
	snprintf(s->events_file, sizeof(s->events_file), "%s/events/%s/%s.jsonl", c->st->path,
		 o->cell, s->run_id);
	s->enforce.cell = o->cell;
	rc = run_enforce_prepare(c, o->runtime, s->pol, o->workdir, s, &s->enforce, d);
	if (rc < 0)
		return rc;
	run_enforce_req(&s->enforce, &req);
	env = build_env(o, &s->enforce, home, sizeof(home));
	if (!env)
		return fc_diag_set(d, -ENOMEM, "out of memory");
	req.env = env;
	run_capture_init(&s->out, c->json ? -1 : STDOUT_FILENO);
	run_capture_init(&s->err, STDERR_FILENO);
	rc = rt->create(&req, &s->rt, &state, d);
	if (rc == 0) {
		rc = rt->exec(&req, state, &s->out, &s->err, &s->rt, d);
		rt->destroy(state);
	}
	/* The proxy's record is part of the receipt even when the run failed. */
	if (rc == 0)
		rc = run_enforce_finish(&s->enforce, d);
	run_capture_finish(&s->out);
	run_capture_finish(&s->err);
	free(env);
	return rc;
}

/* After the command: changes, then the decision (restoring when asked). */
static int settle(struct ctl *c, const struct run_opts *o, struct run_state *s,
		  struct fc_diag *d)
{
	int64_t t0;
	int rc = run_cell_sync_head(c, &s->cell, o->cell, &s->head_after, d);

	if (rc < 0)
		return rc;
	t0 = fc_mono_ns();
	rc = run_changes(c->st, o->cell, s->ckpt, s->head_after, &s->changes, d);
	s->diff_ms = (double)(fc_mono_ns() - t0) / 1e6;
	if (rc < 0)
		return rc;
	if (s->rt.st.status == 0 && o->accept_on_success) {
		s->decision = "accepted";
		s->reason = "accept_on_success";
	} else if (s->rt.st.status != 0 && o->restore_on_fail) {
		t0 = fc_mono_ns();
		rc = run_cell_restore(c, o->cell, s->ckpt, &s->restored_head, &s->restore_ms, d);
		s->total_restore_path_ms = (fc_mono_ns() - t0) / 1000000;
		if (rc < 0)
			return rc;
		s->decision = "restored";
		s->reason = "restore_on_fail";
	} else {
		s->decision = "pending";
		s->reason = s->rt.st.status == 0 ? "not_requested" : "failed_without_restore";
	}
	return 0;
}

static int run_main(struct ctl *c, const struct run_opts *o, struct run_state *s,
		    struct fc_diag *d)
{
	const struct runtime_ops *rt = runtime_find(o->runtime);
	struct fc_cell cell;
	int rc;

	if (!rt)
		return fc_diag_set(d, FC_EUSAGE, "unknown runtime '%s' (local, docker, openshell)",
				   o->runtime);
	rc = ctl_cell_must_exist(c, o->cell, &cell, d);
	if (rc == 0)
		rc = rt->probe(&s->rt, d);
	if (rc == 0)
		rc = run_policy_snapshot(c, o, s, d);
	if (rc == 0)
		rc = run_cell_ensure_mounted(c, o->cell, &s->cell, d);
	if (rc < 0)
		return rc;
	/* Every run checkpoints: the receipt's diff and a restore need the baseline. */
	rc = run_cell_checkpoint(c, &s->cell, o->cell, o->checkpoint_name, &s->ckpt, &s->ckpt_ms,
				 d);
	if (rc < 0)
		return rc;
	s->started_at = time(NULL);
	rc = run_sandbox(c, o, rt, s, d);
	s->finished_at = time(NULL);
	if (rc < 0)
		return rc;
	rc = settle(c, o, s, d);
	if (rc == 0)
		rc = run_write_receipt(c, o, s, d);
	if (rc == 0)
		rc = run_policy_record_last(c, o->cell, s, d);
	return rc;
}

int cmd_run(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *cmd = ctl_cmd_find("run");
	struct run_opts o = { 0 };
	struct run_state s = { 0 };
	struct fc_diag d;
	int rc = parse_args(c, cmd, argc, argv, &o);

	if (rc == RUN_ARGS_HELP)
		return CTL_EXIT_OK;
	if (rc != 0)
		return rc;
	fc_diag_init(&d);
	rc = ctl_store_open(c, false);
	if (rc < 0)
		return CTL_EXIT_FAIL;
	run_enforce_init(&s.enforce);
	s.t_start_ns = fc_mono_ns();
	receipt_new_id("run", s.run_id);
	receipt_new_id("rcpt", s.receipt_id);
	rc = run_main(c, &o, &s, &d);
	run_enforce_cleanup(&s.enforce);
	cJSON_Delete(s.changes);
	cJSON_Delete(s.policy);
	cJSON_Delete(s.policy_change);
	fc_policy_free(s.pol);
	if (rc < 0) {
		/* With --exit-with-command, 1 could be the command's: use 125. */
		rc = ctl_fail(c, rc, &d);
		return o.exit_with_command && rc != CTL_EXIT_USAGE ? RUN_EXIT_INTERNAL : rc;
	}
	return o.exit_with_command ? s.rt.st.status : CTL_EXIT_OK;
}
