/*
 * ctl: shared pieces of forkcellctl: the global options, the command table
 * entry type, output (human or one JSON object), git-style errors, and the
 * "served by a daemon or act directly" routing.
 */
#ifndef CTL_H
#define CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fc_err.h"
#include "fc_lock.h"
#include "fc_store.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

struct ctl {
	const char *store_opt;  /* --store, NULL for the default */
	bool json;              /* --format json */
	int verbose;
	struct fc_store *st;    /* opened by ctl_store_open, closed by main */
};

struct ctl_cmd {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *usage;      /* "CELL --from DIR" */
	const char *summary;    /* one line for --help */
	const char *help;       /* the options, one per line, or NULL */
};

extern const struct ctl_cmd ctl_commands[];

/* Options every command accepts after its name; use in getopt_long tables. */
#define CTL_COMMON_LONGOPTS                                   \
	{ "store", required_argument, NULL, 0x100 },          \
	{ "format", required_argument, NULL, 0x101 },         \
	{ "verbose", no_argument, NULL, 'v' },                \
	{ "help", no_argument, NULL, 'h' }

/*
 * Handle a common option c (from getopt_long) for command cmd. Returns 1 if
 * handled, 0 if not a common option, or -1 after printing a usage error
 * (exit CTL_EXIT_USAGE). --help prints the command's help and returns 2:
 * the caller returns CTL_EXIT_OK.
 */
int ctl_common_opt(struct ctl *c, const struct ctl_cmd *cmd, int opt, const char *arg);

/* In a getopt_long loop: handle a common option or return from the command. */
#define CTL_OPT_COMMON(c, cmd, o)                                        \
	do {                                                             \
		int ctl_r_ = ctl_common_opt((c), (cmd), (o), optarg);   \
		if (ctl_r_ == 2)                                         \
			return CTL_EXIT_OK;                              \
		if (ctl_r_ <= 0)                                         \
			return CTL_EXIT_USAGE;                           \
	} while (0)

/*
 * Check a cell name argument (what = "cell", "new cell", "checkpoint");
 * prints "invalid <what> name: <reason>" and returns CTL_EXIT_FAIL, or 0.
 */
int ctl_name_arg(struct ctl *c, const char *what, const char *name);

/* Look up a command by name (NULL if unknown). */
const struct ctl_cmd *ctl_cmd_find(const char *name);
void ctl_cmd_help(const struct ctl_cmd *cmd);

/* Print "forkcellctl: error: <msg>" (and a JSON error object with --format json). */
int ctl_fail(struct ctl *c, int rc, const struct fc_diag *d);
/* Print a usage error for cmd and return CTL_EXIT_USAGE. */
int ctl_usage(const struct ctl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print obj (pretty) to stdout and free it; used for --format json. */
void ctl_json_out(cJSON *obj);

/* Open the store (creating it when create); errors are printed. 0 or <0. */
int ctl_store_open(struct ctl *c, bool create);

/* Fail with a clear message if cell does not exist. 0, FC_ENOCELL, <0. */
int ctl_cell_must_exist(struct ctl *c, const char *cell, struct fc_cell *out,
			struct fc_diag *d);

/*
 * Route a write to cell: try its writer lock. On success *lock_fd is held
 * (act on LMDB directly) and *served false. When a daemon holds it, *served
 * is true, *lock_fd -1 and *info the daemon's info. A stale mount (dead
 * daemon) only gives a warning: the lock is ours, LMDB is consistent.
 */
int ctl_cell_route(struct ctl *c, const char *cell, int *lock_fd, bool *served,
		   struct fc_daemon_info *info, struct fc_diag *d);

/*
 * syncfs() the mount at mountpoint, so the kernel hands its cached writes to
 * the daemon before a switch or a sync. Failures are logged, not fatal: the
 * daemon's own flush still runs.
 */
void ctl_syncfs(const char *mountpoint);

/* Ask the daemon serving cell to flush (op "sync") and syncfs its mount. */
int ctl_daemon_sync(struct ctl *c, const char *cell, const struct fc_daemon_info *info,
		    struct fc_diag *d);

/* Send {"op":op,...} (req, consumed) to the daemon of cell; *resp on success. */
int ctl_daemon_call(struct ctl *c, const char *cell, cJSON *req, cJSON **resp,
		    struct fc_diag *d);

/* Add an exact 64-bit integer (cJSON numbers are doubles: ns would round). */
void ctl_json_i64(cJSON *obj, const char *key, int64_t v);

/*
 * Where to find a companion program (forkcellfs, forkcell-proxy,
 * forkcell-init): $env_var if env_var is not NULL and that variable is
 * set and non-empty, else next to this
 * program, else the bare name (looked up on PATH by exec).
 */
void ctl_tool_path(const char *name, const char *env_var, char *out, size_t cap);

/* CLOCK_MONOTONIC in ms, for duration_ms fields. */
double ctl_now_ms(void);

/* Parse a non-negative decimal id. 0 or -EINVAL. */
int ctl_parse_u64(const char *s, uint64_t *out);

/* Format a CLOCK_REALTIME ns timestamp as "2026-11-28 11:20:05" (UTC). */
void ctl_fmt_time(int64_t ns, char *buf, size_t cap);

/* Commands (one file each group). */
int cmd_init(struct ctl *c, int argc, char **argv);
int cmd_mount(struct ctl *c, int argc, char **argv);
int cmd_umount(struct ctl *c, int argc, char **argv);
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_list(struct ctl *c, int argc, char **argv);
int cmd_delete(struct ctl *c, int argc, char **argv);
int cmd_checkpoint(struct ctl *c, int argc, char **argv);
int cmd_checkpoints(struct ctl *c, int argc, char **argv);
int cmd_checkpoint_delete(struct ctl *c, int argc, char **argv);
int cmd_restore(struct ctl *c, int argc, char **argv);
int cmd_fork(struct ctl *c, int argc, char **argv);
int cmd_diff(struct ctl *c, int argc, char **argv);
int cmd_restore_path(struct ctl *c, int argc, char **argv);
int cmd_export(struct ctl *c, int argc, char **argv);
int cmd_gc(struct ctl *c, int argc, char **argv);
int cmd_fsck(struct ctl *c, int argc, char **argv);
int cmd_events(struct ctl *c, int argc, char **argv);
/* ctl/cmd_run.c (the lead's, issue 3). */
int cmd_run(struct ctl *c, int argc, char **argv);

#endif
