/*
 * runtime_docker: run the command in a Docker container through the
 * Engine API on /var/run/docker.sock (libcurl over a Unix socket; no
 * `docker` CLI). The cell's FUSE mount (made with allow_other) is bind
 * mounted read-write at the workdir; network "none"; every capability
 * dropped; no-new-privileges; read-only root filesystem with a tmpfs /tmp;
 * cpu, memory and pids limits. Output comes from the logs stream (follow),
 * the status from /containers/{id}/wait, never from the output.
 */
#include "runtime.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define DOCKER_SOCK_DEFAULT "/var/run/docker.sock"
#define DOCKER_API "http://localhost/v1.41"
#define DOCKER_IMAGE_DEFAULT "forkcell-sandbox:latest"
#define DOCKER_PIDS_LIMIT 512
#define DOCKER_MEMORY (2LL << 30)
#define DOCKER_NANO_CPUS 1000000000LL

struct docker_state {
	char id[RT_ID_MAX];
};

struct http_body {
	char *p;
	size_t len;
};

/* Demultiplexes the logs stream: frames of [type, 0, 0, 0, len BE32] + payload. */
struct log_demux {
	struct run_capture *out, *err;
	unsigned char hdr[8];
	size_t hdr_have;
	size_t payload_left;
	int stream;
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

/*
 * One API call. method "GET"/"POST"/"DELETE", json body or NULL. *code
 * gets the HTTP status, *resp the body (caller frees) when resp is set.
 * timeout_ms 0 = none. Returns 0 or FC_ESTATE with d set on transport errors.
 */
static int docker_call(const char *method, const char *path, const char *json, long timeout_ms,
		       long *code, char **resp, struct fc_diag *d)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct http_body body = { 0 };
	char url[1024];
	CURLcode cc;

	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s%s", DOCKER_API, path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, docker_sock());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (json) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK) {
		free(body.p);
		return fc_diag_set(d, cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : FC_ESTATE,
				   "docker engine at '%s': %s %s: %s", docker_sock(), method, path,
				   curl_easy_strerror(cc));
	}
	if (resp)
		*resp = body.p;
	else
		free(body.p);
	return 0;
}

static void api_message(const char *resp, char *out, size_t cap)
{
	cJSON *j = resp ? cJSON_Parse(resp) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

	snprintf(out, cap, "%s", cJSON_IsString(m) ? m->valuestring : "no message");
	cJSON_Delete(j);
}

static int docker_probe(struct runtime_result *res, struct fc_diag *d)
{
	char *resp = NULL;
	long code = 0;
	int rc = docker_call("GET", "/version", NULL, 10000, &code, &resp, d);
	cJSON *j;
	const cJSON *v;

	if (rc < 0)
		return rc;
	j = cJSON_Parse(resp ? resp : "");
	v = cJSON_GetObjectItemCaseSensitive(j, "Version");
	if (code != 200 || !cJSON_IsString(v))
		rc = fc_diag_set(d, FC_ESTATE, "docker engine: unexpected /version reply (HTTP %ld)",
				 code);
	else
		snprintf(res->version, sizeof(res->version), "docker-engine %s", v->valuestring);
	cJSON_Delete(j);
	free(resp);
	return rc;
}

static cJSON *create_body(const struct runtime_req *req, const char *image)
{
	cJSON *b = cJSON_CreateObject();
	cJSON *hc = cJSON_AddObjectToObject(b, "HostConfig");
	cJSON *cmd = cJSON_AddArrayToObject(b, "Cmd");
	cJSON *env = cJSON_AddArrayToObject(b, "Env");
	cJSON *binds = cJSON_AddArrayToObject(hc, "Binds");
	cJSON *labels = cJSON_AddObjectToObject(b, "Labels");
	char bind[8192];

	for (size_t i = 0; req->argv[i]; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(req->argv[i]));
	for (size_t i = 0; req->env && req->env[i]; i++)
		cJSON_AddItemToArray(env, cJSON_CreateString(req->env[i]));
	cJSON_AddStringToObject(b, "Image", image);
	cJSON_AddStringToObject(b, "WorkingDir", req->workdir);
	cJSON_AddFalseToObject(b, "Tty");
	cJSON_AddFalseToObject(b, "OpenStdin");
	cJSON_AddTrueToObject(b, "NetworkDisabled");
	cJSON_AddStringToObject(labels, "forkcell.run", req->run_id);
	cJSON_AddStringToObject(labels, "forkcell.cell", req->cell);
	snprintf(bind, sizeof(bind), "%s:%s:rw", req->mountpoint, req->workdir);
	cJSON_AddItemToArray(binds, cJSON_CreateString(bind));
	cJSON_AddStringToObject(hc, "NetworkMode", "none");
	cJSON_AddItemToObject(hc, "CapDrop", cJSON_CreateStringArray((const char *[]){ "ALL" }, 1));
	cJSON_AddItemToObject(hc, "SecurityOpt",
			      cJSON_CreateStringArray((const char *[]){ "no-new-privileges" }, 1));
	cJSON_AddTrueToObject(hc, "ReadonlyRootfs");
	cJSON_AddObjectToObject(hc, "Tmpfs");
	cJSON_AddStringToObject(cJSON_GetObjectItem(hc, "Tmpfs"), "/tmp", "rw,nosuid,size=256m");
	cJSON_AddNumberToObject(hc, "PidsLimit", DOCKER_PIDS_LIMIT);
	cJSON_AddNumberToObject(hc, "Memory", (double)DOCKER_MEMORY);
	cJSON_AddNumberToObject(hc, "NanoCpus", (double)DOCKER_NANO_CPUS);
	cJSON_AddFalseToObject(hc, "Privileged");
	return b;
}

static int docker_create(const struct runtime_req *req, struct runtime_result *res, void **state,
			 struct fc_diag *d)
{
	const char *image = req->image ? req->image : DOCKER_IMAGE_DEFAULT;
	struct docker_state *s = calloc(1, sizeof(*s));
	cJSON *body = create_body(req, image), *j = NULL;
	char *json = cJSON_PrintUnformatted(body), *resp = NULL, path[256], msg[512];
	int64_t t0 = run_now_ns();
	long code = 0;
	int rc;

	cJSON_Delete(body);
	if (!s || !json) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(path, sizeof(path), "/containers/create?name=fc-%s", req->run_id);
	rc = docker_call("POST", path, json, 60000, &code, &resp, d);
	if (rc < 0)
		goto out;
	j = cJSON_Parse(resp ? resp : "");
	if (code != 201 || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "Id"))) {
		api_message(resp, msg, sizeof(msg));
		rc = fc_diag_set(d, FC_ESTATE, "docker: cannot create the container (HTTP %ld): %s",
				 code, msg);
		goto out;
	}
	snprintf(s->id, sizeof(s->id), "%s", cJSON_GetObjectItemCaseSensitive(j, "Id")->valuestring);
	snprintf(res->sandbox_id, sizeof(res->sandbox_id), "%s", s->id);
	snprintf(res->image, sizeof(res->image), "%s", image);
	*state = s;
	s = NULL;
	res->sandbox_start_ms = (run_now_ns() - t0) / 1000000;
out:
	cJSON_Delete(j);
	free(resp);
	free(json);
	free(s);
	return rc;
}

static size_t demux_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct log_demux *m = arg;
	size_t n = size * nmemb, i = 0;

	while (i < n) {
		if (m->payload_left == 0) {
			m->hdr[m->hdr_have++] = (unsigned char)ptr[i++];
			if (m->hdr_have == 8) {
				m->stream = m->hdr[0];
				m->payload_left = (size_t)m->hdr[4] << 24 | (size_t)m->hdr[5] << 16 |
						  (size_t)m->hdr[6] << 8 | m->hdr[7];
				m->hdr_have = 0;
			}
			continue;
		}
		size_t take = n - i < m->payload_left ? n - i : m->payload_left;
		struct run_capture *c = m->stream == 2 ? m->err : m->out;

		run_capture_add(c, ptr + i, take);
		i += take;
		m->payload_left -= take;
	}
	return n;
}

/* Follow the logs until the container stops or the deadline; 1 on timeout. */
static int follow_logs(const char *id, long timeout_ms, struct log_demux *m, struct fc_diag *d)
{
	CURL *c = curl_easy_init();
	char url[512];
	CURLcode cc;

	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s/containers/%s/logs?follow=1&stdout=1&stderr=1", DOCKER_API,
		 id);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, docker_sock());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, demux_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	cc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return 1;
	if (cc != CURLE_OK)
		return fc_diag_set(d, FC_ESTATE, "docker: cannot follow the container's output: %s",
				   curl_easy_strerror(cc));
	return 0;
}

static int wait_status(const char *id, int *status, struct fc_diag *d)
{
	char path[256], *resp = NULL;
	long code = 0;
	cJSON *j;
	const cJSON *sc;
	int rc;

	snprintf(path, sizeof(path), "/containers/%s/wait", id);
	rc = docker_call("POST", path, NULL, 0, &code, &resp, d);
	if (rc < 0)
		return rc;
	j = cJSON_Parse(resp ? resp : "");
	sc = cJSON_GetObjectItemCaseSensitive(j, "StatusCode");
	if (code != 200 || !cJSON_IsNumber(sc))
		rc = fc_diag_set(d, FC_ESTATE, "docker: no exit status from wait (HTTP %ld)", code);
	else
		*status = (int)sc->valuedouble;
	cJSON_Delete(j);
	free(resp);
	return rc;
}

static int docker_exec(const struct runtime_req *req, void *state, struct run_capture *out,
		       struct run_capture *err, struct runtime_result *res, struct fc_diag *d)
{
	struct docker_state *s = state;
	struct log_demux m = { .out = out, .err = err };
	char path[256];
	long code = 0;
	int status = 0, rc, timed_out;

	snprintf(path, sizeof(path), "/containers/%s/start", s->id);
	res->st.start_ns = run_now_ns();
	rc = docker_call("POST", path, NULL, 60000, &code, NULL, d);
	if (rc == 0 && code != 204 && code != 304)
		rc = fc_diag_set(d, FC_ESTATE, "docker: cannot start the container (HTTP %ld)", code);
	if (rc < 0)
		return rc;
	timed_out = follow_logs(s->id, req->timeout_s > 0 ? req->timeout_s * 1000L : 0, &m, d);
	if (timed_out < 0)
		return timed_out;
	if (timed_out) {
		snprintf(path, sizeof(path), "/containers/%s/kill?signal=KILL", s->id);
		docker_call("POST", path, NULL, 30000, &code, NULL, NULL);
		res->st.timed_out = true;
	}
	rc = wait_status(s->id, &status, d);
	res->st.end_ns = run_now_ns();
	if (rc < 0)
		return rc;
	res->exit_source = "engine_wait";
	if (status > 128 && status < 128 + 65) {
		res->st.signaled = true;
		res->st.signal = status - 128;
	} else {
		res->st.exited = true;
		res->st.code = status;
	}
	res->st.status = res->st.timed_out ? 124 : status;
	return 0;
}

static void docker_destroy(void *state)
{
	struct docker_state *s = state;
	char path[256];
	long code = 0;

	if (!s)
		return;
	snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", s->id);
	docker_call("DELETE", path, NULL, 60000, &code, NULL, NULL);
	free(s);
}

const struct runtime_ops runtime_docker = {
	.name = "docker",
	.probe = docker_probe,
	.create = docker_create,
	.exec = docker_exec,
	.destroy = docker_destroy,
};
