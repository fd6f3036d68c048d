/*
 * fc_ctlproto: JSON-lines control protocol codec, line I/O over Unix
 * sockets, peer check and the forkcellctl client (see fc_ctlproto.h).
 */
#include "fc_ctlproto.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fc_canon.h"
#include "fc_clock.h"
#include "fc_codec.h"
#include "fc_store.h"

/* ---- names and addresses ---- */

int fc_ctl_run_name(const char *cell, uint64_t ckpt, const char *suffix, char *out, size_t cap)
{
	int n;

	if (fc_name_check_cell(cell, NULL) < 0)
		return FC_ENAME;
	if (ckpt)
		n = snprintf(out, cap, "%s@%llu%s", cell, (unsigned long long)ckpt, suffix);
	else
		n = snprintf(out, cap, "%s%s", cell, suffix);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int fc_ctl_sock_addr(const struct fc_store *st, const char *cell, uint64_t ckpt,
		     struct sockaddr_un *addr, socklen_t *len)
{
	char name[FC_CELL_NAME_MAX + 32];
	int rc = fc_ctl_run_name(cell, ckpt, ".sock", name, sizeof(name));
	int n;

	if (rc < 0)
		return rc;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	n = snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s", st->run_fd,
		     name);
	if (n < 0 || (size_t)n >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

/* ---- codec ---- */

#define FC_CTL_FIELDS_MAX 64

/*
 * Refuse objects with duplicate or too many keys, at any depth (a request
 * that says "op" twice means two things, and callers read the first),
 * numbers that overflow a double, and nesting deeper than FC_CTL_DEPTH_MAX:
 * no message of the protocol nests past 4, and every recursive walk a peer
 * could trigger (this one, cJSON's own printer and comparer) stays bounded.
 */
static int fc_ctl_check_obj(const cJSON *o, int depth, struct fc_diag *d)
{
	const cJSON *a, *b;
	int n = 0, rc;

	if (depth > FC_CTL_DEPTH_MAX)
		return fc_diag_set(d, FC_EPROTO, "control line nests deeper than %d",
				   FC_CTL_DEPTH_MAX);
	for (a = o->child; a; a = a->next) {
		if (cJSON_IsObject(o)) {
			if (++n > FC_CTL_FIELDS_MAX)
				return fc_diag_set(d, FC_EPROTO, "more than %d fields in an object",
						   FC_CTL_FIELDS_MAX);
			for (b = o->child; b != a; b = b->next)
				if (strcmp(a->string, b->string) == 0)
					return fc_diag_set(d, FC_EPROTO, "duplicate field \"%s\"",
							   a->string);
		}
		if (cJSON_IsNumber(a) && !isfinite(a->valuedouble))
			return fc_diag_set(d, FC_EPROTO, "a number is out of range");
		if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && (rc = fc_ctl_check_obj(a, depth + 1, d)) < 0)
			return rc;
	}
	return 0;
}

int fc_ctl_parse(const char *buf, size_t len, cJSON **out, struct fc_diag *d)
{
	cJSON *obj;
	int rc;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len + 1 > FC_CTL_LINE_MAX)
		return fc_diag_set(d, FC_EPROTO, "control line longer than %d bytes",
				   FC_CTL_LINE_MAX);
	if (memchr(buf, '\n', len) || memchr(buf, '\0', len))
		return fc_diag_set(d, FC_EPROTO, "control line holds a newline or NUL");
	obj = cJSON_ParseWithLength(buf, len);
	if (!obj)
		return fc_diag_set(d, FC_EPROTO, "control line is not valid JSON");
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return fc_diag_set(d, FC_EPROTO, "control line is not a JSON object");
	}
	rc = fc_ctl_check_obj(obj, 1, d);
	if (rc < 0) {
		cJSON_Delete(obj);
		return rc;
	}
	*out = obj;
	return 0;
}

int fc_ctl_encode(const cJSON *obj, char **line, size_t *len)
{
	return fc_json_line(obj, FC_CTL_LINE_MAX, line, len);
}

int fc_ctl_request_op(const cJSON *req, const char **op, struct fc_diag *d)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(req, "op");

	if (!cJSON_IsString(o) || !o->valuestring[0])
		return fc_diag_set(d, FC_EPROTO, "request has no \"op\" string");
	*op = o->valuestring;
	return 0;
}

int fc_ctl_get_str(const cJSON *obj, const char *key, const char **out, struct fc_diag *d)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!o || cJSON_IsNull(o)) {
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(o))
		return fc_diag_set(d, FC_EPROTO, "field \"%s\" is not a string", key);
	*out = o->valuestring;
	return 0;
}

int fc_ctl_get_u64(const cJSON *obj, const char *key, uint64_t *out, struct fc_diag *d)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, key);
	double v;

	if (!o || cJSON_IsNull(o))
		return -ENOENT;
	if (!cJSON_IsNumber(o))
		return fc_diag_set(d, FC_EPROTO, "field \"%s\" is not a number", key);
	v = o->valuedouble;
	if (!(v >= 0) || v >= 9007199254740992.0 || floor(v) != v)
		return fc_diag_set(d, FC_EPROTO, "field \"%s\" is not a valid id", key);
	*out = (uint64_t)v;
	return 0;
}

cJSON *fc_ctl_reply_ok(void)
{
	cJSON *r = cJSON_CreateObject();

	if (r && !cJSON_AddTrueToObject(r, "ok")) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/* Wire names of our codes, indexed by FC_EBASE - rc. */
static const char *const fc_code_names[] = {
	"EBASE", "ECORRUPT", "EVERSION", "ENAME", "ESTATE", "ELIMIT", "EPOLICY", "ELOCKED",
	"EMDB", "EPROTO", "EUSAGE", "ENOCELL", "ENOCKPT", "EEXIST", "EFOREIGN",
};

const char *fc_ctl_code_name(int rc)
{
	const char *n;

	if (rc <= FC_EBASE && rc > FC_ELAST)
		return fc_code_names[FC_EBASE - rc];
	if (rc < 0 && rc > -4096) {
		n = strerrorname_np(-rc);
		return n ? n : "EIO";
	}
	return "EIO";
}

int fc_ctl_code_from_name(const char *name)
{
	size_t i;
	int e;

	for (i = 1; i < sizeof(fc_code_names) / sizeof(fc_code_names[0]); i++)
		if (strcmp(name, fc_code_names[i]) == 0)
			return FC_EBASE - (int)i;
	for (e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && strcmp(n, name) == 0)
			return -e;
	}
	return 0;
}

cJSON *fc_ctl_reply_err(int rc, const struct fc_diag *d)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *e = NULL;

	if (!r)
		return NULL;
	if (!cJSON_AddFalseToObject(r, "ok"))
		goto fail;
	e = cJSON_AddObjectToObject(r, "error");
	if (!e || !cJSON_AddStringToObject(e, "code", fc_ctl_code_name(rc)) ||
	    !cJSON_AddNumberToObject(e, "errno", fc_err_to_errno(rc)) ||
	    !cJSON_AddStringToObject(e, "message", fc_diag_msg(d, rc)))
		goto fail;
	return r;
fail:
	cJSON_Delete(r);
	return NULL;
}

int fc_ctl_reply_check(const cJSON *reply, struct fc_diag *d)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
	const cJSON *e, *code, *no, *msg;
	int rc = 0;

	if (cJSON_IsTrue(ok))
		return 0;
	e = cJSON_GetObjectItemCaseSensitive(reply, "error");
	if (!cJSON_IsFalse(ok) || !cJSON_IsObject(e))
		return fc_diag_set(d, FC_EPROTO, "malformed reply from the daemon");
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	no = cJSON_GetObjectItemCaseSensitive(e, "errno");
	msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (cJSON_IsString(code))
		rc = fc_ctl_code_from_name(code->valuestring);
	if (rc == 0 && cJSON_IsNumber(no) && no->valuedouble >= 1 && no->valuedouble < 4096)
		rc = -(int)no->valuedouble;
	if (rc == 0)
		rc = FC_EPROTO;
	if (cJSON_IsString(msg))
		return fc_diag_set(d, rc, "%s", msg->valuestring);
	return fc_diag_set(d, rc, "%s", fc_strerror(rc));
}

/* ---- connection I/O ---- */

void fc_ctl_conn_init(struct fc_ctl_conn *c, int fd)
{
	c->fd = fd;
	c->buf = NULL;
	c->len = 0;
	c->cap = 0;
}

void fc_ctl_conn_release(struct fc_ctl_conn *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	c->cap = 0;
}

/* Wait for events on fd until the deadline (-1: none). 0, -ETIMEDOUT, -errno. */
static int fc_ctl_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int tmo = -1;
		int n;

		if (deadline >= 0) {
			int64_t left = deadline - fc_mono_ns() / 1000000;

			if (left <= 0)
				return -ETIMEDOUT;
			tmo = left > 1000000 ? 1000000 : (int)left;
		}
		n = poll(&p, 1, tmo);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

/* Take the first line out of the buffer, parse it. 0, 1 (no full line), <0. */
static int fc_ctl_take_line(struct fc_ctl_conn *c, cJSON **out, struct fc_diag *d)
{
	char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
	size_t n;
	int rc;

	if (!nl) {
		if (c->len >= FC_CTL_LINE_MAX)
			return fc_diag_set(d, FC_EPROTO, "control line longer than %d bytes",
					   FC_CTL_LINE_MAX);
		return 1;
	}
	n = (size_t)(nl - c->buf) + 1;
	rc = fc_ctl_parse(c->buf, n, out, d);
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	return rc;
}

int fc_ctl_recv(struct fc_ctl_conn *c, int timeout_ms, cJSON **out, struct fc_diag *d)
{
	int64_t deadline = timeout_ms < 0 ? -1 : fc_mono_ns() / 1000000 + timeout_ms;
	int rc;

	for (;;) {
		ssize_t n;

		rc = fc_ctl_take_line(c, out, d);
		if (rc <= 0)
			return rc;
		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 8192;
			char *nb;

			if (ncap > FC_CTL_LINE_MAX + 4096)
				ncap = FC_CTL_LINE_MAX + 4096;
			nb = realloc(c->buf, ncap);
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = ncap;
		}
		rc = fc_ctl_wait(c->fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return c->len ? fc_diag_set(d, FC_EPROTO, "connection closed mid-line") : 1;
		c->len += (size_t)n;
	}
}

int fc_ctl_send(int fd, const cJSON *obj, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : fc_mono_ns() / 1000000 + timeout_ms;
	char *line = NULL;
	size_t len = 0, off = 0;
	int rc = fc_ctl_encode(obj, &line, &len);

	while (rc == 0 && off < len) {
		ssize_t n;

		rc = fc_ctl_wait(fd, POLLOUT, deadline);
		if (rc < 0)
			break;
		n = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(line);
	return rc;
}

int fc_ctl_peer_check(const struct fc_store *st, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat sb;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (cred.uid == 0)
		return 0;
	if (fstat(st->root_fd, &sb) < 0)
		return -errno;
	return cred.uid == sb.st_uid ? 0 : -EPERM;
}

/* ---- client ---- */

int fc_ctl_call(const struct fc_store *st, const char *cell, uint64_t ckpt, const cJSON *req,
		cJSON **resp, struct fc_diag *d)
{
	struct sockaddr_un addr;
	struct fc_ctl_conn conn;
	socklen_t alen = 0;
	cJSON *reply = NULL;
	int fd = -1;
	int rc;

	fc_ctl_conn_init(&conn, -1);
	rc = fc_ctl_sock_addr(st, cell, ckpt, &addr, &alen);
	if (rc < 0)
		return fc_diag_set(d, rc, "cannot address the control socket of '%s'", cell);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fc_diag_set(d, -errno, "cannot create a socket: %s", fc_strerror(-errno));
	if (connect(fd, (struct sockaddr *)&addr, alen) < 0) {
		rc = -errno;
		fc_diag_set(d, rc, "cannot reach the daemon serving '%s': %s", cell,
			    fc_strerror(rc));
		goto out;
	}
	rc = fc_ctl_send(fd, req, FC_CTL_TIMEOUT_MS);
	if (rc < 0) {
		fc_diag_set(d, rc, "cannot send to the daemon serving '%s': %s", cell,
			    fc_strerror(rc));
		goto out;
	}
	conn.fd = fd;
	rc = fc_ctl_recv(&conn, FC_CTL_TIMEOUT_MS, &reply, d);
	if (rc == 1)
		rc = fc_diag_set(d, FC_EPROTO, "the daemon serving '%s' closed the connection",
				 cell);
	if (rc == -ETIMEDOUT)
		fc_diag_set(d, rc, "the daemon serving '%s' did not answer in %d s", cell,
			    FC_CTL_TIMEOUT_MS / 1000);
	if (rc < 0)
		goto out;
	rc = fc_ctl_reply_check(reply, d);
	if (rc == 0) {
		*resp = reply;
		reply = NULL;
	}
out:
	cJSON_Delete(reply);
	fc_ctl_conn_release(&conn);
	close(fd);
	return rc;
}
