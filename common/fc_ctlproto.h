/*
 * fc_ctlproto: the control protocol between forkcellctl and a forkcellfs
 * daemon. One JSON object per line each way over the Unix socket
 * STORE/run/<cell>.sock (see /work/plan/PLAN.md, "Control protocol").
 *
 *   request:  {"op":"checkpoint","name":"x"}\n
 *   reply:    {"ok":true,"checkpoint":42,"name":"x","head":43}\n
 *   error:    {"ok":false,"error":{"code":"ENOCKPT","errno":2,"message":"..."}}\n
 *
 * A line is at most FC_CTL_LINE_MAX bytes including its newline; longer
 * lines, invalid JSON, non-objects, objects with a duplicate key or more
 * than 64 keys (at any depth) and nesting deeper than FC_CTL_DEPTH_MAX
 * objects/arrays are FC_EPROTO.
 *
 * Error codes travel by name: FC_E* codes as their name without the "FC_"
 * prefix ("ENOCKPT", "ELOCKED", ...), system errors as the errno symbol
 * ("ENOENT"). "errno" always carries fc_err_to_errno() of the code so that a
 * client that does not know the name still gets a sensible errno.
 *
 * Socket addressing: the socket path is built from the store's run_fd as
 * "/proc/self/fd/<run_fd>/<cell>.sock" (or "<cell>@<gen>.sock" for a
 * time-travel mount), which always fits sun_path whatever the store path
 * length and never re-resolves the store path. Both bind() and connect()
 * work through it.
 *
 * Threading: all functions are reentrant; a struct fc_ctl_conn belongs to
 * one thread at a time.
 */
#ifndef FC_CTLPROTO_H
#define FC_CTLPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "fc_err.h"

struct fc_store;

#define FC_CTL_LINE_MAX (1024 * 1024)  /* bytes per line, newline included */
#define FC_CTL_DEPTH_MAX 16            /* objects and arrays, the top one counted */
#define FC_CTL_TIMEOUT_MS 60000        /* default client read/write timeout */

/* ---- addressing ---- */

/*
 * Fill *addr and *len with the address of the control socket of cell
 * (ckpt == 0: the live cell; ckpt != 0: the time-travel mount of that
 * checkpoint generation). The path goes through /proc/self/fd/<run_fd>, so
 * the address is only valid in this process while st is open.
 * Returns 0, FC_ENAME for an invalid cell name, -ENAMETOOLONG.
 */
int fc_ctl_sock_addr(const struct fc_store *st, const char *cell, uint64_t ckpt,
		     struct sockaddr_un *addr, socklen_t *len);

/*
 * The file name (relative to st->run_fd) of cell's run file with suffix
 * (".sock", ".lock", ".json"): "<cell><suffix>" or "<cell>@<ckpt><suffix>".
 * Returns 0, FC_ENAME, -ENAMETOOLONG when it does not fit cap.
 */
int fc_ctl_run_name(const char *cell, uint64_t ckpt, const char *suffix, char *out, size_t cap);

/* ---- codec (pure) ---- */

/*
 * Parse one line (without or with its trailing newline; no NUL needed) into
 * a JSON object. Caller frees *out with cJSON_Delete(). Returns 0 or
 * FC_EPROTO (too long, not JSON, not an object) with the reason in d.
 */
int fc_ctl_parse(const char *buf, size_t len, cJSON **out, struct fc_diag *d);

/*
 * Print obj unformatted followed by '\n' (fc_json_line with the protocol's
 * line limit). Caller frees *line with free(). Returns 0, -ENOMEM,
 * FC_EPROTO when it exceeds the line limit.
 */
int fc_ctl_encode(const cJSON *obj, char **line, size_t *len);

/*
 * The "op" string of a request, borrowed from req. Returns 0 or FC_EPROTO
 * when missing or not a string.
 */
int fc_ctl_request_op(const cJSON *req, const char **op, struct fc_diag *d);

/*
 * Field helpers for requests and replies. A missing or JSON-null field
 * gives *out = NULL (string) and returns 0; a field of the wrong type is
 * FC_EPROTO. Strings are borrowed from obj. u64 accepts non-negative
 * integral numbers below 2^53 only; missing -> -ENOENT.
 */
int fc_ctl_get_str(const cJSON *obj, const char *key, const char **out, struct fc_diag *d);
int fc_ctl_get_u64(const cJSON *obj, const char *key, uint64_t *out, struct fc_diag *d);

/* Build {"ok":true}; caller adds fields and frees with cJSON_Delete().
 * Returns NULL only on OOM. */
cJSON *fc_ctl_reply_ok(void);

/*
 * Build the error reply for rc (FC code or -errno) with message
 * fc_diag_msg(d, rc) (d may be NULL). Returns NULL only on OOM.
 */
cJSON *fc_ctl_reply_err(int rc, const struct fc_diag *d);

/*
 * Decode a reply: 0 if "ok" is true; if false, the error's code (mapped
 * back from its name, else from "errno", else FC_EPROTO) with its message
 * copied into d; FC_EPROTO for a malformed reply.
 */
int fc_ctl_reply_check(const cJSON *reply, struct fc_diag *d);

/* Name of a code for the wire: "ENOCKPT", "ENOENT", ... (static string). */
const char *fc_ctl_code_name(int rc);
/* Inverse of fc_ctl_code_name; returns 0 when the name is unknown. */
int fc_ctl_code_from_name(const char *name);

/* ---- connection I/O (server and client) ---- */

/* A buffered line reader over a connected stream socket (not owned). */
struct fc_ctl_conn {
	int fd;
	char *buf;   /* private */
	size_t len;  /* private: bytes buffered */
	size_t cap;  /* private */
};

void fc_ctl_conn_init(struct fc_ctl_conn *c, int fd);
/* Frees the buffer; does not close fd. Safe to call twice. */
void fc_ctl_conn_release(struct fc_ctl_conn *c);

/*
 * Receive the next message. timeout_ms < 0 waits forever. Returns 0 with
 * *out set (caller frees with cJSON_Delete), 1 on a clean end of stream
 * before any byte of a new line (*out untouched), -ETIMEDOUT, FC_EPROTO
 * (oversized line, bad JSON, EOF inside a line), -ENOMEM or -errno.
 */
int fc_ctl_recv(struct fc_ctl_conn *c, int timeout_ms, cJSON **out, struct fc_diag *d);

/*
 * Send obj as one line (MSG_NOSIGNAL: a vanished peer gives -EPIPE, never
 * SIGPIPE). timeout_ms < 0 waits forever. Returns 0, -ETIMEDOUT, FC_EPROTO
 * (too long), -ENOMEM or -errno.
 */
int fc_ctl_send(int fd, const cJSON *obj, int timeout_ms);

/*
 * Server side: 0 if the peer of the connected socket fd may talk to us:
 * root, or the uid that owns the store directory (st->root_fd). -EPERM
 * otherwise, -errno when SO_PEERCRED fails.
 */
int fc_ctl_peer_check(const struct fc_store *st, int fd);

/* ---- client ---- */

/*
 * Connect to the daemon serving cell (ckpt as in fc_ctl_sock_addr), send
 * req, wait for one reply (timeout FC_CTL_TIMEOUT_MS each way) and close.
 * On success (reply "ok": true) *resp is the whole reply (caller frees with
 * cJSON_Delete). Errors: the daemon's error code with its message in d;
 * -ECONNREFUSED / -ENOENT when no daemon listens (message says so);
 * -ETIMEDOUT; FC_EPROTO for a malformed reply.
 */
int fc_ctl_call(const struct fc_store *st, const char *cell, uint64_t ckpt, const cJSON *req,
		cJSON **resp, struct fc_diag *d);

#endif
