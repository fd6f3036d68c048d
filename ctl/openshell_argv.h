/*
 * openshell_argv: the pure part of the openshell runtime. It builds the
 * argument vectors of every `openshell` CLI call the runtime makes, the
 * --driver-config-json document, the sandbox name, the sentinel and OCSF
 * log paths, parses `sandbox get -o json` and the sentinel file, and
 * decides what a run's exit status is (reference openshell.md §2.1-§2.3).
 * No I/O and no globals, so it is unit-tested and fuzzable on its own.
 */
#ifndef OPENSHELL_ARGV_H
#define OPENSHELL_ARGV_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "fc_err.h"

/* Where the cell's mount appears in the sandbox, and the default workdir. */
#define OSH_WORK_TARGET "/sandbox/work"
/* The generic workdir forkcellctl uses for every runtime; rebased onto OSH_WORK_TARGET. */
#define OSH_GENERIC_WORKDIR "/workspace"
/* Policy-writable, outside the workspace: where the exit sentinel goes. */
#define OSH_SENTINEL_DIR "/sandbox/.fc"
#define OSH_NAME_MAX 63     /* a DNS label: sandbox names become container names */
#define OSH_PATH_MAX 4096
/* The status recorded when the command's exit could not be confirmed. */
#define OSH_STATUS_UNCONFIRMED 125

/* A NULL-terminated argv whose strings are all owned (heap copies). */
struct osh_argv {
	char **v; /* NULL until the first add; v[n] == NULL */
	size_t n, cap;
};

void osh_argv_init(struct osh_argv *a);
/* Free every string and the vector; a is empty again afterwards. */
void osh_argv_release(struct osh_argv *a);
/* Append a copy of s. 0 or -ENOMEM. */
int osh_argv_add(struct osh_argv *a, const char *s);

/* What `sandbox create` gets. Strings are borrowed. */
struct osh_create {
	const char *bin;         /* the openshell executable */
	const char *name;        /* from osh_sandbox_name() */
	const char *image;       /* --from */
	const char *policy;      /* --policy snapshot path, NULL: none */
	const char *driver_json; /* --driver-config-json, from osh_driver_config_json() */
	const char *run_id;      /* --label forkcell.run=<run_id> */
};

/* What the command's `sandbox exec` gets. Strings are borrowed. */
struct osh_exec {
	const char *bin;
	const char *name;
	const char *workdir;     /* inside the sandbox, from osh_workdir() */
	int timeout_s;           /* <= 0: none (passed as --timeout 0) */
	char *const *env;        /* K=V strings -> --env K=V, may be NULL */
	char *const *argv;       /* the command, non-empty */
	const char *sentinel;    /* from osh_sentinel_path(); NULL: run argv unwrapped */
};

/*
 * The sandbox name fc-<cell>-<last 8 characters of run_id>: lower-cased,
 * characters outside [a-z0-9-] become '-', the cell part shortened so the
 * whole fits OSH_NAME_MAX. Returns 0, or FC_ENAME when cell or run_id is
 * empty or cap is too small.
 */
int osh_sandbox_name(const char *cell, const char *run_id, char *out, size_t cap);

/*
 * Check the gateway endpoint (may be NULL or empty: the CLI's own default
 * then applies). It must start with http:// or https:// and carry a host.
 * Returns 0 or FC_EUSAGE with d set.
 */
int osh_check_endpoint(const char *endpoint, struct fc_diag *d);

/*
 * The sandbox workdir for a requested one: NULL -> OSH_WORK_TARGET;
 * OSH_GENERIC_WORKDIR[/sub] -> OSH_WORK_TARGET[/sub]; OSH_WORK_TARGET[/sub]
 * as is. Anything else (outside the mount, "..", relative) is FC_EUSAGE
 * with d set, because only the bind mount is the cell.
 */
int osh_workdir(const char *req, char *out, size_t cap, struct fc_diag *d);

/*
 * The run's sentinel path OSH_SENTINEL_DIR/exit-<run_id>. run_id ends up
 * in a shell script inside the sandbox, so it must be 1..64 characters of
 * [A-Za-z0-9_-]; otherwise FC_ENAME.
 */
int osh_sentinel_path(const char *run_id, char *out, size_t cap);

/* /var/log/openshell-ocsf.YYYY-MM-DD.log for the UTC date of t. 0 or -ERANGE. */
int osh_ocsf_path(time_t t, char *out, size_t cap);

/*
 * The --driver-config-json document binding mountpoint read-write at
 * OSH_WORK_TARGET: {"docker":{"mounts":[{"type":"bind","source":...,
 * "target":"/sandbox/work","read_only":false}]}}. *out is heap memory the
 * caller frees with free(). 0, -EINVAL (mountpoint not absolute) or -ENOMEM.
 */
int osh_driver_config_json(const char *mountpoint, char **out);

/* Each builder appends a whole command line to an empty a. 0 or -ENOMEM. */
int osh_argv_version(struct osh_argv *a, const char *bin);
int osh_argv_create(struct osh_argv *a, const struct osh_create *c);
int osh_argv_get(struct osh_argv *a, const char *bin, const char *name);
/*
 * `sandbox exec -n NAME --no-tty --workdir W --timeout S [--env K=V]... --
 * sh -c WRAPPER fc ARGV...` when e->sentinel is set. The wrapper runs ARGV
 * in a subshell (so a builtin like exit cannot skip the sentinel), writes
 * its status to the sentinel and exits with that same status, so the
 * command's output, stdin and status are unchanged. An env entry
 * HOME=OSH_GENERIC_WORKDIR[/sub] is rebased like the workdir (osh_workdir).
 */
int osh_argv_exec(struct osh_argv *a, const struct osh_exec *e);
/* `sandbox exec -n NAME --no-tty --timeout S -- cat PATH`. */
int osh_argv_cat(struct osh_argv *a, const char *bin, const char *name, const char *path,
		 int timeout_s);
int osh_argv_delete(struct osh_argv *a, const char *bin, const char *name);
/* `policy get NAME -o json`: the sandbox's latest policy revision. */
int osh_argv_policy_get(struct osh_argv *a, const char *bin, const char *name);

/* The fields of `sandbox get -o json` the runtime uses. */
struct osh_sandbox {
	char id[128];
	char name[128];
	char phase[32];
	long long policy_version; /* current_policy_version, -1 when absent */
};

/*
 * Parse `sandbox get NAME -o json` output (len bytes, need not be
 * NUL-terminated). id, name and phase must be strings. 0, -ENOMEM or
 * FC_EPROTO with d set.
 */
int osh_parse_sandbox(const char *buf, size_t len, struct osh_sandbox *out,
		      struct fc_diag *d);

/* The hash of a policy revision: hex, OSH_POLICY_HASH_MIN..OSH_POLICY_HASH_MAX digits. */
#define OSH_POLICY_HASH_MIN 8
#define OSH_POLICY_HASH_MAX 128

/* One policy revision as `policy get -o json` reports it. */
struct osh_policy {
	long long version;                   /* 0..UINT32_MAX */
	char hash[OSH_POLICY_HASH_MAX + 1];  /* hex digits */
	char status[16];                     /* pending, loaded, failed or superseded */
	char load_error[256];                /* "" when absent or null (cut to fit) */
};

/*
 * Parse `policy get NAME -o json` output (len bytes, need not be
 * NUL-terminated), strictly: an object whose version is an integer in
 * 0..UINT32_MAX, hash a string of hex digits, status one of pending,
 * loaded, failed or superseded; load_error a string or null when present.
 * Other fields are ignored. 0 or FC_EPROTO with d set.
 */
int osh_parse_policy(const char *buf, size_t len, struct osh_policy *out, struct fc_diag *d);

/* One `policy get` of a run: the revision when ok, else why the read failed. */
struct osh_policy_read {
	bool ok;
	struct osh_policy rev;
	char error[256];
};

/*
 * The run's policy evidence as compact JSON text: {"before":B,"after":A,
 * "changed_during_run":C} where B and A are {"version":N,"hash":"..",
 * "status":".."}. A read that failed is null, followed by "before_error"
 * or "after_error" with its message; after == NULL (not read: the command
 * did not run) is recorded the same way with after_error "not read: the
 * command did not run". C is whether version or hash differ, null when
 * either read failed. *loaded (may be NULL) is true only when both reads
 * succeeded, both revisions are loaded and neither version nor hash
 * changed. 0, -ENOMEM or -ENOSPC (the text does not fit cap).
 */
int osh_policy_evidence(const struct osh_policy_read *before, const struct osh_policy_read *after,
			char *out, size_t cap, bool *loaded);

/*
 * Parse the sentinel's content: 1 to 3 decimal digits, value 0..255, then
 * at most one newline. 0 with *status set, or FC_EPROTO.
 */
int osh_parse_sentinel(const char *buf, size_t len, int *status);

/* What the exec and the sentinel read produced. */
struct osh_outcome {
	int cli_status;      /* the exec CLI's status (128+n when signalled) */
	bool cli_timed_out;  /* our own deadline killed the CLI */
	bool have_sentinel;  /* the sentinel was read and parsed */
	int sentinel;        /* its value when have_sentinel */
};

enum osh_verdict_kind {
	OSH_COMMAND_STATUS,  /* status is what the run records */
	OSH_RUNTIME_ERROR,   /* the CLI failed: no command status exists */
};

struct osh_verdict {
	enum osh_verdict_kind kind;
	int status;              /* the status to record (125 for runtime errors too) */
	bool timed_out;
	const char *exit_source; /* exec_event, sentinel, timeout_124, unconfirmed, runtime_error */
};

/*
 * The exit-code rules of reference §2.3, with the sentinel guard for
 * #2732. A CLI exit of 124 (or our deadline) is a timeout. A CLI exit of 0
 * counts only when the sentinel says 0 (exec_event); a non-zero sentinel
 * then wins (sentinel: the exit event was lost); no sentinel is
 * unconfirmed, recorded as OSH_STATUS_UNCONFIRMED (a failure). A non-zero
 * CLI exit stands: with an agreeing sentinel it is the command's status
 * (exec_event); with a disagreeing one it is unconfirmed; with none it is a
 * runtime error (gateway down, no such sandbox, transport), never a status.
 * Output is never consulted.
 */
void osh_decide(const struct osh_outcome *in, struct osh_verdict *out);

#endif
