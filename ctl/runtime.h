/*
 * runtime: the driver interface behind `forkcellctl run`. A runtime turns
 * a request (cell mount, workdir, argv, env, limits) into a sandboxed
 * process, streams its output, and reports how it ended. Exit status always
 * comes from the runtime's own wait result, never from the output.
 *
 *   probe    is the runtime usable here? fills its version string
 *   create   prepare a sandbox for the request (may be a no-op)
 *   exec     run argv in it to completion (streaming, deadline)
 *   destroy  remove the sandbox; called on every path after create
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fc_err.h"
#include "run_proc.h"

#define RT_ID_MAX 128
#define RT_VERSION_MAX 128
#define RT_INIT_STATUS_MAX 1024

/*
 * The host side of forkcell-init's gate (ctl/sandbox_gate.h). Under a
 * policy the sandbox's first process waits at the gate until forkcellctl
 * has set up what must exist before the command runs (the egress proxy).
 */
struct runtime_gate {
	/*
	 * Called once the sandbox's first process exists (host_pid, in the host
	 * pid namespace; its /proc/PID/ns/net is the sandbox's network), before
	 * the command runs. Non-zero: the runtime kills the sandbox and fails
	 * with that code (and d). The local runtime calls it from a helper thread
	 * (the main thread is streaming the sandbox's output); the docker runtime
	 * from the calling thread.
	 */
	int (*ready)(void *arg, pid_t host_pid, struct fc_diag *d);
	void *arg;
};

struct runtime_req {
	const char *cell;
	const char *mountpoint;      /* the cell's FUSE mount on the host */
	const char *store_path;      /* hidden from the sandbox */
	const char *workdir;         /* inside the sandbox, e.g. /workspace */
	char *const *argv;
	char *const *env;            /* K=V strings: the whole environment */
	const char *image;           /* docker/openshell image, NULL for default */
	int timeout_s;               /* <= 0: none */
	const char *run_id;
	const char *policy_path;     /* policy snapshot handed to the runtime, NULL: none */
	const char *events_path;     /* where to keep the runtime's event log, NULL: nowhere */
	/*
	 * Policy enforcement (local and docker runtimes; ignored by openshell).
	 * With init_path set the runtime runs `/run/forkcell-init [--gate
	 * /run/forkcell/gate --status /run/forkcell/status] INIT_ARGS... --
	 * ARGV...` as root with just the capabilities init needs (it drops them),
	 * binds init_path at /run/forkcell-init (ro) and gate_dir at
	 * /run/forkcell (ro; the FIFOs work through it). With gate_dir set (it
	 * must hold the FIFOs "gate" and "status"), once the sandbox exists it
	 * calls gate->ready (when gate is set), releases the gate and reads
	 * init's status line into res->init_status (10 s at most each).
	 * init_path NULL: no init, no gate, exactly the old behaviour.
	 */
	const char *init_path;        /* host path of forkcell-init */
	char *const *init_args;       /* init options before "--", NULL-terminated; may be NULL */
	const char *gate_dir;         /* host dir with the FIFOs gate and status; NULL: no gate */
	const struct runtime_gate *gate; /* NULL: no callback (the gate is still released) */
	/* Bound read-only at /etc/ssl/certs/ca-certificates.crt (local: when
	 * the host has that file to bind over) and /run/forkcell/ca-bundle.pem
	 * (already there when it is gate_dir's own ca-bundle.pem); NULL: none.
	 * Needs init_path. */
	const char *ca_bundle;
	/* true: a private network namespace with loopback only, where the proxy
	 * listens on 127.0.0.1:3128 (local: bwrap --unshare-net, as always;
	 * docker: NetworkMode "none" with networking enabled). false: no network
	 * at all (docker: networking disabled too). */
	bool network;
};

struct runtime_result {
	struct run_status st;
	char sandbox_id[RT_ID_MAX];
	char version[RT_VERSION_MAX];
	char image[RT_ID_MAX];
	char image_id[RT_ID_MAX];    /* content id of the image (docker), "" if unknown */
	const char *exit_source;     /* "waitpid", "engine_wait", "exec_event", "sentinel", ... */
	int64_t sandbox_start_ms;
	int64_t collect_ms;
	/* Runtimes with their own event log (openshell: the OCSF JSONL file). */
	char sandbox_name[RT_ID_MAX];
	int cli_status;              /* openshell: the exec CLI's own exit status */
	bool events_complete;        /* the whole event log was read */
	uint64_t events_bytes, events_lines;
	uint8_t events_sha256[FC_SHA256_LEN];
	/* The JSON line forkcell-init wrote to the status FIFO (without its
	 * newline), "" when there was no gate. */
	char init_status[RT_INIT_STATUS_MAX];
	/*
	 * openshell with a policy: OpenShell's policy revision, read with
	 * `policy get` once the sandbox is Ready and again after the command, as
	 * compact JSON {"before":{"version":N,"hash":"..","status":".."},
	 * "after":{...}|null[,"after_error":".."],"changed_during_run":false|
	 * true|null}; "" without a policy or on other runtimes. policy_loaded:
	 * both reads succeeded, both revisions were loaded, none changed.
	 */
	char policy_evidence[1024];
	bool policy_loaded;
};

struct runtime_ops {
	const char *name;
	int (*probe)(struct runtime_result *res, struct fc_diag *d);
	int (*create)(const struct runtime_req *req, struct runtime_result *res, void **state,
		      struct fc_diag *d);
	int (*exec)(const struct runtime_req *req, void *state, struct run_capture *out,
		    struct run_capture *err, struct runtime_result *res, struct fc_diag *d);
	void (*destroy)(void *state);
};

/* The runtime called name ("local", "docker", "openshell"), or NULL. */
const struct runtime_ops *runtime_find(const char *name);

extern const struct runtime_ops runtime_local;
extern const struct runtime_ops runtime_docker;
extern const struct runtime_ops runtime_openshell;

#endif
