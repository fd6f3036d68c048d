/*
 * run_enforce: what a run with --policy enforces on the local and docker
 * runtimes (docs/policy.md, "Enforcement"):
 *   - forkcell-init, the sandbox's first process, applies the filesystem
 *     and process rules (Landlock, seccomp, user, no_new_privs, no caps)
 *     once forkcellctl opens its gate;
 *   - forkcell-proxy, started in the sandbox's network namespace before the
 *     gate opens, is the only way out and writes every decision as an OCSF
 *     event into STORE/events/<run_id>.jsonl.
 * The per-run directory STORE/run/r-<run_id>/ holds the gate and status
 * FIFOs and the CA bundle the sandbox trusts; it is removed at the end.
 * The openshell runtime enforces the policy itself: nothing here runs.
 */
#ifndef RUN_ENFORCE_H
#define RUN_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "fc_policy.h"
#include "runtime.h"

#define RUN_PROXY_ADDR "127.0.0.1:3128"
#define RUN_PROXY_URL "http://" RUN_PROXY_ADDR
#define RUN_SANDBOX_CA "/run/forkcell/ca-bundle.pem"
#define RUN_EVENTS_RECORDED 200 /* denials/audits copied into a receipt */

struct ctl;
struct run_state;

struct run_enforce {
	bool on;                       /* a policy on local or docker */
	int dirfd;                     /* STORE/run/r-<run_id>, -1 when none */
	char dir[4096];
	char ca_bundle[4200];
	char init_path[4096];
	char proxy_path[4096];
	char **init_args;              /* NULL-terminated, owned */
	size_t n_init_args;
	struct runtime_gate gate;
	/* the proxy, between gate->ready and run_enforce_finish */
	pid_t proxy_pid;
	int proxy_out;                 /* its stdout: the summary line */
	int proxy_log;                 /* its stderr, kept for error messages */
	const char *policy_file, *events_file, *run_id, *cell;
	char store_path[4096];
	/* results */
	cJSON *proxy_summary;          /* the proxy's summary, NULL if none */
	cJSON *events;                 /* receipt "events": digest, counts */
	cJSON *recorded;               /* receipt "policy_events": denials and audits */
	bool proxy_ok;                 /* started, stopped cleanly, summary read */
};

/* A run_enforce that does nothing yet (cleanup is then a no-op). */
void run_enforce_init(struct run_enforce *e);

/*
 * Prepare enforcement of pol for this run (no-op for openshell or without
 * a policy): the store's proxy CA, the per-run directory with its FIFOs
 * and CA bundle, forkcell-init's arguments. Fills the runtime_req fields
 * (init_path, init_args, gate_dir, gate, ca_bundle, network).
 */
int run_enforce_prepare(struct ctl *c, const char *runtime, const struct fc_policy *pol,
			const char *workdir, struct run_state *s, struct run_enforce *e,
			struct fc_diag *d);

/* Add the proxy and CA variables to env (capacity checked by the caller:
 * RUN_ENFORCE_ENV_MAX more slots). Returns the new count. */
#define RUN_ENFORCE_ENV_MAX 12
size_t run_enforce_env(const struct run_enforce *e, char **env, size_t n);

void run_enforce_req(struct run_enforce *e, struct runtime_req *req);

/*
 * After the command: stop the proxy, read its summary, digest and count
 * the events file, collect denials and audits. Fills e->events and
 * e->recorded. A proxy that died or lied is an error (FC_ESTATE).
 */
int run_enforce_finish(struct run_enforce *e, struct fc_diag *d);

/*
 * The gate callback (ctl/run_proxy.c): start forkcell-proxy listening on
 * RUN_PROXY_ADDR inside the network namespace of host_pid and wait until
 * it says ready (10 s at most). arg is the struct run_enforce.
 */
int run_proxy_start(void *arg, pid_t host_pid, struct fc_diag *d);

/* SIGKILL and reap a proxy that is still running (error paths). */
void run_proxy_kill(struct run_enforce *e);

/*
 * Remove the run directories (STORE/run/r-*) that no run holds: the debris
 * of a forkcellctl that was killed. *count: how many were (or, with
 * dry_run, would be) removed. Errors: -errno reading STORE/run.
 */
int run_enforce_sweep(struct ctl *c, bool dry_run, uint64_t *count, struct fc_diag *d);

/* Kill a proxy still running, remove the per-run directory, free. */
void run_enforce_cleanup(struct run_enforce *e);

/*
 * The receipt's policy "enforcement" object: what each layer did, from
 * forkcell-init's status line and the proxy's result. *enforced is true
 * only when the init applied seccomp and Landlock and the proxy ran.
 */
cJSON *run_enforce_json(const struct run_enforce *e, const struct runtime_result *rt,
			bool *enforced);

#endif
