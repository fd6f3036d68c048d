/*
 * init.h: the parts of forkcell-init, the sandbox's first process (see
 * init_main.c for the command line and the order of the steps). It is linked
 * statically against libseccomp only, so nothing from libforkcell is used
 * here: errors are reported through struct init_err, and the status line is
 * written by hand (init_json.c).
 */
#ifndef FC_INIT_H
#define FC_INIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define INIT_EXIT_SETUP 125   /* our own setup failed (or the gate said no) */
#define INIT_EXIT_NOEXEC 126  /* the command exists but cannot be executed */
#define INIT_EXIT_NOTFOUND 127
#define INIT_ERR_MAX 512
#define INIT_STATUS_MAX 1024  /* the host reads at most this much (runtime.h) */
#define INIT_SKIPPED_MAX 64   /* skipped paths named in the status line */

/* What went wrong, for stderr and the status line. */
struct init_err {
	char msg[INIT_ERR_MAX];
};

/* Format msg into e; returns -1 so callers can `return init_errf(e, ...)`. */
int init_errf(struct init_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The parsed command line. Path arrays borrow argv's strings. */
struct init_opts {
	const char *gate;
	const char *status;
	const char **ro, **rw;
	size_t n_ro, n_rw;
	bool hard;              /* --landlock hard_requirement */
	long long uid, gid;     /* -1: unchanged */
	bool seccomp;           /* false with --no-seccomp */
	char **argv;            /* the command */
};

/* One Landlock rule to be: a path and the fd opened for it before the drop. */
struct init_ll_path {
	const char *path;
	int fd;
	bool rw;
	bool implicit;
};

/* Landlock state between opening the paths (as root) and enforcing. */
struct init_landlock {
	bool requested;         /* some --ro/--rw path was given */
	int abi;                /* 0: Landlock unavailable */
	struct init_ll_path *paths;
	size_t n_paths;
	unsigned n_ro, n_rw, n_implicit;  /* rules added */
	const char *skipped[INIT_SKIPPED_MAX];
	size_t n_skipped, n_skipped_more;
	bool scoped;            /* abstract unix sockets and signals scoped (ABI >= 6) */
	const char *status;     /* "enforced", "unavailable", "not_requested" */
};

/* What the status line reports (besides Landlock). */
struct init_report {
	const char *seccomp;    /* "enforced" or "disabled" */
	unsigned long uid, gid;
	bool no_new_privs;
	bool caps_dropped;
};

/* init_landlock.c */
/*
 * Probe the ABI and open every --ro/--rw path plus the implicit device
 * nodes (O_PATH, following symlinks), while still privileged. A missing or
 * unopenable user path is recorded as skipped under best_effort and fails
 * under hard_requirement, as does a kernel without Landlock. Returns 0 or -1
 * with e set.
 */
int init_landlock_prepare(const struct init_opts *o, struct init_landlock *ll,
			  struct init_err *e);
/*
 * Build the ruleset from the opened paths and restrict this process (needs
 * no_new_privs). Closes the path fds. Returns 0 or -1 with e set.
 */
int init_landlock_enforce(const struct init_opts *o, struct init_landlock *ll,
			  struct init_err *e);

/* init_priv.c */
/* setgroups/setresgid/setresuid to o's ids (when given). Returns 0 or -1. */
int init_priv_ids(const struct init_opts *o, struct init_err *e);
/* PR_SET_NO_NEW_PRIVS. Returns 0 or -1. */
int init_priv_nnp(struct init_err *e);
/* Empty the bounding, ambient, inheritable, permitted and effective sets. */
int init_priv_drop_caps(struct init_err *e);

/* init_seccomp.c */
/* Load the syscall filter (openshell.md §6). Returns 0 or -1 with e set. */
int init_seccomp_load(struct init_err *e);

/* init_json.c: a bounded JSON line builder. */
struct init_json {
	char buf[INIT_STATUS_MAX];
	size_t len;
	bool full;              /* something did not fit: the line was cut short */
};

void init_json_raw(struct init_json *j, const char *s);
/* A JSON string literal, escaped (control characters as \u00XX). */
void init_json_str(struct init_json *j, const char *s);
void init_json_fmt(struct init_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The whole status line (ending in "\n") for a successful setup. */
void init_json_status(struct init_json *j, const struct init_landlock *ll,
		      const struct init_report *r);
/* {"init":1,"error":MSG} + "\n". */
void init_json_error(struct init_json *j, const char *msg);

#endif
