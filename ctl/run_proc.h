/*
 * run_proc: run one sandbox process to completion, stream its output live
 * to the caller while hashing it, enforce a deadline, and decode the wait
 * status. The only place forkcellctl creates child processes for runs.
 *
 * The child gets exactly envp (never the caller's environment), stdin
 * inherited, stdout/stderr through pipes, every other fd closed, its own
 * session (so a timeout can kill the whole process group). Dying with
 * forkcellctl is the runtime's job (bwrap --die-with-parent, container
 * removal), since posix_spawn cannot set PR_SET_PDEATHSIG.
 */
#ifndef RUN_PROC_H
#define RUN_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fc_clock.h"
#include "fc_hash.h"

#define RUN_TAIL_MAX 4096

/* What was seen on one output stream. */
struct run_capture {
	struct fc_sha256 sha;           /* running digest; finalised into digest */
	uint8_t digest[FC_SHA256_LEN];
	uint64_t bytes;
	char tail[RUN_TAIL_MAX];        /* the last bytes, in order, not NUL-terminated */
	size_t tail_len;
	int tee_fd;                     /* where to copy live (-1: nowhere) */
};

/* How a process ended. status follows the shell: code, 128+signal, 124 on timeout. */
struct run_status {
	bool exited;
	bool signaled;
	bool timed_out;
	int code;       /* exit code when exited */
	int signal;     /* signal number when signaled */
	int status;     /* the status forkcellctl reports */
	int64_t start_ns, end_ns; /* CLOCK_MONOTONIC */
};

/*
 * Called once when the deadline passes, before the group is killed, so a
 * runtime can stop what the process group does not contain (a container).
 */
typedef void (*run_timeout_fn)(void *arg);

struct run_spec {
	char *const *argv;   /* argv[0] is looked up in PATH of envp when not absolute */
	char *const *envp;
	int timeout_ms;      /* <= 0: none */
	run_timeout_fn on_timeout;
	void *timeout_arg;
	bool pass_fd;        /* give extra_fd to the child as fd 3 (bwrap's status fd) */
	int extra_fd;
};

void run_capture_init(struct run_capture *c, int tee_fd);
/* Account n bytes of output to c (hash, tail, tee). c may be NULL. */
void run_capture_add(struct run_capture *c, const char *buf, size_t n);
/* Finalise the digest (idempotent). */
void run_capture_finish(struct run_capture *c);

/*
 * Spawn, stream, wait. Returns 0 when the process ran (whatever its status;
 * see *st), -ENOENT when argv[0] is not found, -EACCES when not executable,
 * other -errno on spawn failure. out/err may be NULL (output discarded).
 */
int run_proc(const struct run_spec *spec, struct run_capture *out, struct run_capture *err,
	     struct run_status *st);

/* Decode a waitpid() status into st (exited/signaled/code/signal/status). */
void run_status_decode(int wstatus, struct run_status *st);

#endif
