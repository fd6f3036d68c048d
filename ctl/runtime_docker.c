/*
 * runtime_docker: run the command in a Docker container through the
 * Engine API on /var/run/docker.sock (libcurl over a Unix socket for the
 * plain calls, a raw socket for the attach stream; no `docker` CLI): probe
 * and API version negotiation, create (the container's specification comes
 * from runtime_docker_spec.c), start, wait, kill and remove. Standard input
 * is forwarded and stdout and stderr come back live through the attach
 * stream, which is opened before the container starts so no output is
 * missed. The status comes from /containers/{id}/wait, never from the
 * output. A timeout kills the container. SIGINT, SIGTERM and SIGHUP kill the
 * container (and fail the run) instead of orphaning it.
 *
 * Under a policy (req->gate_dir), after the start, State.Pid (docker-init,
 * the container's first process) goes to the gate's ready callback before
 * the gate opens and forkcell-init runs the command.
 */
#include "runtime_docker_int.h"

#include "curl_lazy.h"
#include "sandbox_gate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define DOCKER_SOCK_DEFAULT "/var/run/docker.sock"
#define DOCKER_IMAGE_DEFAULT "forkcell-sandbox:latest"
/* The API version the request bodies are written for (Docker 20.10). */
#define DOCKER_API_MAJOR 1
#define DOCKER_API_MINOR 41
/* How long a killed container may take to close its stream and report. */
#define DOCKER_KILL_GRACE_MS 30000
#define DOCKER_CALL_TIMEOUT_MS 60000
#define DOCKER_HDR_MAX 8192

/*
 * The API version used for every call after probe: ours when the engine
 * supports it, else the nearest one it does (the fields we use have not
 * changed between 1.25 and 1.51). forkcellctl is single-threaded.
 */
static char api_version[16] = "1.41";

struct docker_state {
	char id[RT_ID_MAX];
	int sigfd;              /* INT, TERM, HUP while the container may run; -1 */
	bool masked;            /* old_mask to restore in destroy */
	sigset_t old_mask;
};

struct http_body {
	char *p;
	size_t len;
};

/* Demultiplexes the attach stream: frames of [type, 0, 0, 0, len BE32] + payload. */
struct log_demux {
	struct run_capture *out, *err;
	unsigned char hdr[8];
	size_t hdr_have;
	size_t payload_left;
	int stream;
};

/* Standard input on its way into the container. */
struct stdin_pump {
	int fd;         /* -1 once at EOF */
	bool shut;      /* write side of the socket shut down: the container saw EOF */
	size_t len, off;
	char buf[65536];
};

static const char *docker_sock(void)
{
	const char *s = getenv("FORKCELL_DOCKER_SOCK");

	return s && *s ? s : DOCKER_SOCK_DEFAULT;
}

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_body *b = arg;
	size_t n = size * nmemb;
	char *p = realloc(b->p, b->len + n + 1);

	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->p = p;
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* "/v1.41" + the formatted path into buf (the part after the host). */
static void __attribute__((format(printf, 3, 4))) api_path(char *buf, size_t cap, const char *fmt,
							   ...)
{
	int n = snprintf(buf, cap, "/v%s", api_version);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * One API call. method "GET"/"POST"/"DELETE", path from api_path (or an
 * unversioned one), json body or NULL. *code gets the HTTP status, *resp the
 * body (caller frees) when resp is set. timeout_ms 0 = none. Returns 0,
 * -ETIMEDOUT, -ENOMEM, or FC_ESTATE on other transport errors, with d set.
 */
static int docker_call(const char *method, const char *path, const char *json, long timeout_ms,
		       long *code, char **resp, struct fc_diag *d)
{
	const struct curl_api *cu = NULL;
	struct curl_slist *hdrs = NULL;
	struct http_body body = { 0 };
	char url[1024];
	CURLcode cc;
	CURL *c;
	int rc = curl_lazy_load(&cu, d);

	if (rc < 0)
		return rc;
	c = cu->easy_init();
	if (!c)
		return fc_diag_set(d, -ENOMEM, "out of memory");
	snprintf(url, sizeof(url), "http://localhost%s", path);
	cu->easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, docker_sock());
	cu->easy_setopt(c, CURLOPT_URL, url);
	cu->easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	cu->easy_setopt(c, CURLOPT_WRITEDATA, &body);
	cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (timeout_ms > 0)
		cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
	hdrs = cu->slist_append(hdrs, "Expect:");
	if (json) {
		hdrs = cu->slist_append(hdrs, "Content-Type: application/json");
		cu->easy_setopt(c, CURLOPT_POSTFIELDS, json);
	} else if (strcmp(method, "POST") == 0) {
		cu->easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	cu->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cc = cu->easy_perform(c);
	cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	cu->slist_free_all(hdrs);
	cu->easy_cleanup(c);
	if (cc != CURLE_OK) {
		free(body.p);
		return fc_diag_set(d, cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : FC_ESTATE,
				   "docker engine at '%s': %s %s: %s", docker_sock(), method, path,
				   cu->easy_strerror(cc));
	}
	if (resp)
		*resp = body.p;
	else
		free(body.p);
	return 0;
}

/* docker_call with the reply parsed: *j is NULL when the body is not JSON. */
static int docker_call_json(const char *method, const char *path, const char *json,
			    long timeout_ms, long *code, cJSON **j, struct fc_diag *d)
{
	char *resp = NULL;
	int rc = docker_call(method, path, json, timeout_ms, code, &resp, d);

	if (rc < 0)
		return rc;
	*j = cJSON_Parse(resp ? resp : "");
	free(resp);
	return 0;
}

static void api_message(const cJSON *j, char *out, size_t cap)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

	snprintf(out, cap, "%s", cJSON_IsString(m) ? m->valuestring : "no message");
}

/* "1.41" -> 141 (major * 100 + minor); -1 when not a version. */
static int api_num(const cJSON *v)
{
	unsigned major, minor;

	if (!cJSON_IsString(v) || sscanf(v->valuestring, "%u.%u", &major, &minor) != 2 ||
	    major > 9 || minor > 99)
		return -1;
	return (int)(major * 100 + minor);
}

/* Pick the API version from /version's ApiVersion and MinAPIVersion. */
static void api_negotiate(const cJSON *ver)
{
	int want = DOCKER_API_MAJOR * 100 + DOCKER_API_MINOR;
	int max = api_num(cJSON_GetObjectItemCaseSensitive(ver, "ApiVersion"));
	int min = api_num(cJSON_GetObjectItemCaseSensitive(ver, "MinAPIVersion"));
	int use = want;

	if (max > 0 && max < want)
		use = max;
	else if (min > want)
		use = min;
	snprintf(api_version, sizeof(api_version), "%d.%d", use / 100, use % 100);
}

static int docker_probe(struct runtime_result *res, struct fc_diag *d)
{
	long code = 0;
	cJSON *j = NULL;
	/* Unversioned: every engine answers it, whatever versions it supports. */
	int rc = docker_call_json("GET", "/version", NULL, 10000, &code, &j, d);
	const cJSON *v;

	if (rc < 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(j, "Version");
	if (code != 200 || !cJSON_IsString(v)) {
		rc = fc_diag_set(d, FC_ESTATE,
				 "docker engine: unexpected /version reply (HTTP %ld)", code);
	} else {
		api_negotiate(j);
		snprintf(res->version, sizeof(res->version), "docker-engine %s (api %s)",
			 v->valuestring, api_version);
	}
	cJSON_Delete(j);
	return rc;
}

/* The content id of the image the container was made from (for the receipt). */
static void image_id_of(const char *container, char *out, size_t cap)
{
	char path[256];
	long code = 0;
	cJSON *j = NULL;
	const cJSON *img;

	api_path(path, sizeof(path), "/containers/%s/json", container);
	if (docker_call_json("GET", path, NULL, DOCKER_CALL_TIMEOUT_MS, &code, &j, NULL) < 0)
		return;
	img = cJSON_GetObjectItemCaseSensitive(j, "Image");
	if (code == 200 && cJSON_IsString(img))
		snprintf(out, cap, "%s", img->valuestring);
	cJSON_Delete(j);
}

static int docker_create(const struct runtime_req *req, struct runtime_result *res, void **state,
			 struct fc_diag *d)
{
	const char *image = req->image ? req->image : DOCKER_IMAGE_DEFAULT;
	struct docker_state *s = calloc(1, sizeof(*s));
	cJSON *j = NULL;
	char *json = NULL, path[256], msg[512], user[DOCKER_USER_MAX];
	int64_t t0 = fc_mono_ns();
	long code = 0;
	int rc = docker_spec_user(req, user, d);

	if (rc < 0)
		goto out;
	json = docker_spec_json(req, image, user);
	if (!s || !json) {
		rc = fc_diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	api_path(path, sizeof(path), "/containers/create?name=fc-%s", req->run_id);
	rc = docker_call_json("POST", path, json, DOCKER_CALL_TIMEOUT_MS, &code, &j, d);
	if (rc < 0)
		goto out;
	if (code != 201 || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "Id"))) {
		api_message(j, msg, sizeof(msg));
		rc = fc_diag_set(d, FC_ESTATE,
				 "docker: cannot create the container (HTTP %ld): %s%s", code, msg,
				 code == 404 ? " (no registry is used: build the image with "
					       "'make docker-image')"
					     : "");
		goto out;
	}
	snprintf(s->id, sizeof(s->id), "%s",
		 cJSON_GetObjectItemCaseSensitive(j, "Id")->valuestring);
	s->sigfd = -1;
	snprintf(res->sandbox_id, sizeof(res->sandbox_id), "%s", s->id);
	snprintf(res->image, sizeof(res->image), "%s", image);
	image_id_of(s->id, res->image_id, sizeof(res->image_id));
	*state = s;
	s = NULL;
	res->sandbox_start_ms = (fc_mono_ns() - t0) / 1000000;
out:
	cJSON_Delete(j);
	free(json);
	free(s);
	return rc;
}

static void demux_feed(struct log_demux *m, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (m->payload_left == 0) {
			m->hdr[m->hdr_have++] = (unsigned char)p[i++];
			if (m->hdr_have == 8) {
				m->stream = m->hdr[0];
				m->payload_left = (size_t)m->hdr[4] << 24 |
						  (size_t)m->hdr[5] << 16 |
						  (size_t)m->hdr[6] << 8 | m->hdr[7];
				m->hdr_have = 0;
			}
			continue;
		}
		size_t take = n - i < m->payload_left ? n - i : m->payload_left;

		run_capture_add(m->stream == 2 ? m->err : m->out, p + i, take);
		i += take;
		m->payload_left -= take;
	}
}

/* Read the HTTP reply head of the attach request; bytes after it go to m. */
static int attach_reply(int fd, struct log_demux *m, struct fc_diag *d)
{
	char buf[DOCKER_HDR_MAX + 1];
	size_t len = 0;
	char *end = NULL;
	int status = 0;

	while (!end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int pr;

		if (len == DOCKER_HDR_MAX)
			return fc_diag_set(d, FC_ESTATE, "docker: attach: reply head too long");
		pr = poll(&p, 1, DOCKER_CALL_TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return fc_diag_set(d, -ETIMEDOUT, "docker: attach: no reply");
		n = read(fd, buf + len, DOCKER_HDR_MAX - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return fc_diag_set(d, FC_ESTATE, "docker: attach: connection closed");
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (sscanf(buf, "HTTP/%*u.%*u %d", &status) != 1 || (status != 101 && status != 200))
		return fc_diag_set(d, FC_ESTATE, "docker: cannot attach to the container: %.*s",
				   (int)strcspn(buf, "\r\n"), buf);
	end += 4;
	demux_feed(m, end, len - (size_t)(end - buf));
	return 0;
}

/*
 * Attach to the container's stdin, stdout and stderr: an HTTP request that
 * the engine turns into a raw two-way stream (libcurl has no use for it).
 * *fd gets the socket (callers use MSG_DONTWAIT). Returns 0 or an error with
 * d set.
 */
static int attach_open(const char *id, struct log_demux *m, int *fd, struct fc_diag *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[512], path[256];
	size_t plen = strlen(docker_sock());
	int s = -1, rc, n;

	if (plen >= sizeof(sa.sun_path))
		return fc_diag_set(d, -ENAMETOOLONG, "docker: socket path too long");
	memcpy(sa.sun_path, docker_sock(), plen + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = fc_diag_set(d, -errno, "docker engine at '%s': %s", docker_sock(),
				 fc_strerror(-errno));
		goto fail;
	}
	api_path(path, sizeof(path), "/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1",
		 id);
	n = snprintf(req, sizeof(req),
		     "POST %s HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
		     "Upgrade: tcp\r\nContent-Length: 0\r\n\r\n",
		     path);
	if (send(s, req, (size_t)n, MSG_NOSIGNAL) != n) {
		rc = fc_diag_set(d, FC_ESTATE, "docker: cannot send the attach request");
		goto fail;
	}
	rc = attach_reply(s, m, d);
	if (rc < 0)
		goto fail;
	*fd = s;
	return 0;
fail:
	if (s >= 0)
		close(s);
	return rc;
}

/* Move standard input along: read it when the buffer is empty, send what is buffered. */
static void stdin_step(struct stdin_pump *in, int sock, short sock_ev, short in_ev)
{
	ssize_t n;

	if (in->fd >= 0 && in->len == 0 && (in_ev & (POLLIN | POLLHUP | POLLERR))) {
		n = read(in->fd, in->buf, sizeof(in->buf));
		if (n > 0) {
			in->len = (size_t)n;
			in->off = 0;
		} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			in->fd = -1;
		}
	}
	if (in->len > 0 && (sock_ev & POLLOUT)) {
		n = send(sock, in->buf + in->off, in->len - in->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			in->off += (size_t)n;
			if (in->off == in->len)
				in->len = in->off = 0;
		} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
			/* The container closed its stdin: drop the rest. */
			in->len = in->off = 0;
			in->fd = -1;
		}
	}
	if (in->fd < 0 && in->len == 0 && !in->shut) {
		shutdown(sock, SHUT_WR);
		in->shut = true;
	}
}

static int64_t left_ms(int64_t deadline_ns)
{
	int64_t left = (deadline_ns - fc_mono_ns()) / 1000000;

	return left > 0 ? left : 0;
}

static void kill_container(const char *id)
{
	char path[256];
	long code = 0;

	api_path(path, sizeof(path), "/containers/%s/kill?signal=KILL", id);
	docker_call("POST", path, NULL, DOCKER_CALL_TIMEOUT_MS, &code, NULL, NULL);
}

/*
 * Stream until the container closes its output. At the deadline (0: none)
 * the container is killed and *timed_out set; the stream then ends within the
 * grace period or we stop reading.
 */
static int pump(const struct docker_state *s, int sock, struct log_demux *m, int64_t deadline,
		bool *timed_out, struct fc_diag *d)
{
	struct signalfd_siginfo si;
	struct stdin_pump *in = calloc(1, sizeof(*in));
	char buf[65536];
	int rc = 0;

	if (!in)
		return fc_diag_set(d, -ENOMEM, "out of memory");
	/* Started with fd 0 closed, the socket itself may have become fd 0. */
	in->fd = sock == STDIN_FILENO || fcntl(STDIN_FILENO, F_GETFD) < 0 ? -1 : STDIN_FILENO;
	for (;;) {
		struct pollfd p[3] = { { .fd = sock, .events = POLLIN },
				       { .fd = in->len == 0 ? in->fd : -1, .events = POLLIN },
				       { .fd = s->sigfd, .events = POLLIN } };
		int wait_ms = deadline ? (int)left_ms(deadline) : -1;
		ssize_t n;

		if (in->len > 0)
			p[0].events |= POLLOUT;
		if (deadline && wait_ms == 0) {
			if (*timed_out)
				break; /* killed, yet the stream stays open: stop reading */
			*timed_out = true;
			kill_container(s->id);
			deadline = fc_mono_ns() + DOCKER_KILL_GRACE_MS * 1000000LL;
			continue;
		}
		if (poll(p, 3, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			rc = fc_diag_set(d, -errno, "docker: poll: %s", fc_strerror(-errno));
			break;
		}
		if ((p[2].revents & POLLIN) && read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
			kill_container(s->id);
			rc = fc_diag_set(d, -EINTR, "docker: interrupted by signal %u; "
					 "the container was killed", si.ssi_signo);
			break;
		}
		stdin_step(in, sock, p[0].revents, p[1].revents);
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			demux_feed(m, buf, (size_t)n);
		else if (n == 0 || (errno != EINTR && errno != EAGAIN))
			break; /* EOF, or a reset once the container is gone: wait tells the rest */
	}
	free(in);
	return rc;
}

/* POST /wait; -ETIMEDOUT after timeout_ms (0: none). */
static int wait_status(const char *id, long timeout_ms, int *status, struct fc_diag *d)
{
	char path[256];
	long code = 0;
	cJSON *j = NULL;
	const cJSON *sc;
	int rc;

	api_path(path, sizeof(path), "/containers/%s/wait", id);
	rc = docker_call_json("POST", path, NULL, timeout_ms, &code, &j, d);
	if (rc < 0)
		return rc;
	sc = cJSON_GetObjectItemCaseSensitive(j, "StatusCode");
	if (code != 200 || !cJSON_IsNumber(sc))
		rc = fc_diag_set(d, FC_ESTATE, "docker: no exit status from wait (HTTP %ld)", code);
	else
		*status = (int)sc->valuedouble;
	cJSON_Delete(j);
	return rc;
}

static void set_status(struct runtime_result *res, int status)
{
	res->exit_source = "engine_wait";
	/* The engine reports 128+n for a command killed by signal n (as docker-init does). */
	if (status > 128 && status < 128 + 65) {
		res->st.signaled = true;
		res->st.signal = status - 128;
	} else {
		res->st.exited = true;
		res->st.code = status;
	}
	res->st.status = res->st.timed_out ? 124 : status;
}

/*
 * Until destroy has removed the container, SIGINT, SIGTERM and SIGHUP are
 * read from a signalfd instead of killing forkcellctl, so that Ctrl-C kills
 * the container rather than leaving it running without anyone to remove it.
 */
static int block_signals(struct docker_state *s, struct fc_diag *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &s->old_mask) < 0)
		return fc_diag_set(d, -errno, "docker: sigprocmask: %s", fc_strerror(-errno));
	s->masked = true;
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0)
		return fc_diag_set(d, -errno, "docker: signalfd: %s", fc_strerror(-errno));
	return 0;
}

/* State.Pid: the container's first process in the host pid namespace (0: not running). */
static int container_pid(const char *id, pid_t *pid, struct fc_diag *d)
{
	char path[256];
	long code = 0;
	cJSON *j = NULL;
	const cJSON *p;
	int rc;

	api_path(path, sizeof(path), "/containers/%s/json", id);
	rc = docker_call_json("GET", path, NULL, DOCKER_CALL_TIMEOUT_MS, &code, &j, d);
	if (rc < 0)
		return rc;
	p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "State"), "Pid");
	if (code != 200 || !cJSON_IsNumber(p))
		rc = fc_diag_set(d, FC_ESTATE, "docker: no State.Pid for the container (HTTP %ld)",
				 code);
	else
		*pid = (pid_t)p->valuedouble;
	cJSON_Delete(j);
	return rc;
}

/* Hand the started container to the gate's ready callback, then let init go. */
static int pass_gate(const struct runtime_req *req, const char *id, struct runtime_result *res,
		     struct fc_diag *d)
{
	pid_t pid = 0;
	int rc = container_pid(id, &pid, d);

	if (rc == 0 && pid <= 0)
		rc = fc_diag_set(d, FC_ESTATE, "docker: the container ended before its gate opened");
	if (rc == 0)
		rc = sandbox_gate_pass(req, pid, res->init_status, sizeof(res->init_status), d);
	if (rc != 0)
		kill_container(id);
	return rc;
}

static int docker_exec(const struct runtime_req *req, void *state, struct run_capture *out,
		       struct run_capture *err, struct runtime_result *res, struct fc_diag *d)
{
	struct docker_state *s = state;
	struct log_demux m = { .out = out, .err = err };
	int64_t deadline = 0, t_collect;
	char path[256];
	long code = 0;
	int status = 0, sock = -1, rc;

	rc = block_signals(s, d);
	if (rc == 0)
		rc = attach_open(s->id, &m, &sock, d);
	if (rc < 0)
		return rc;
	api_path(path, sizeof(path), "/containers/%s/start", s->id);
	res->st.start_ns = fc_mono_ns();
	if (req->timeout_s > 0)
		deadline = res->st.start_ns + req->timeout_s * 1000000000LL;
	rc = docker_call("POST", path, NULL, DOCKER_CALL_TIMEOUT_MS, &code, NULL, d);
	if (rc == 0 && code != 204 && code != 304)
		rc = fc_diag_set(d, FC_ESTATE, "docker: cannot start the container (HTTP %ld)",
				 code);
	/* The receipt's sandbox start is create plus start. */
	res->sandbox_start_ms += (fc_mono_ns() - res->st.start_ns) / 1000000;
	if (rc == 0 && req->gate_dir)
		rc = pass_gate(req, s->id, res, d);
	if (rc == 0)
		rc = pump(s, sock, &m, deadline, &res->st.timed_out, d);
	close(sock);
	if (rc < 0)
		return rc;
	t_collect = fc_mono_ns();
	/* Output can end before the process does: the deadline still holds. */
	if (!res->st.timed_out) {
		rc = wait_status(s->id, deadline ? left_ms(deadline) + 1 : 0, &status, d);
		if (rc == -ETIMEDOUT) {
			res->st.timed_out = true;
			kill_container(s->id);
		}
	}
	if (res->st.timed_out)
		rc = wait_status(s->id, DOCKER_KILL_GRACE_MS, &status, d);
	res->st.end_ns = fc_mono_ns();
	res->collect_ms = (res->st.end_ns - t_collect) / 1000000;
	if (rc < 0)
		return rc;
	set_status(res, status);
	return 0;
}

static void docker_destroy(void *state)
{
	struct docker_state *s = state;
	char path[256];
	long code = 0;

	if (!s)
		return;
	api_path(path, sizeof(path), "/containers/%s?force=1&v=1", s->id);
	docker_call("DELETE", path, NULL, DOCKER_CALL_TIMEOUT_MS, &code, NULL, NULL);
	if (s->sigfd >= 0)
		close(s->sigfd);
	/* A signal that came after the container stopped is delivered now. */
	if (s->masked)
		sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	free(s);
}

const struct runtime_ops runtime_docker = {
	.name = "docker",
	.probe = docker_probe,
	.create = docker_create,
	.exec = docker_exec,
	.destroy = docker_destroy,
};
