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

#include "fc_err.h"
#include "run_proc.h"

#define RT_ID_MAX 128
#define RT_VERSION_MAX 128

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
