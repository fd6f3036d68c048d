/*
 * lat: latency runner for bench/ckpt.sh.
 *
 *   lat [-n N] [-w W] [-p MS] [-k KEY [-m MULT]] [-o FILE] -- CMD ARG...
 *   lat [-n N] [-w W] [-p MS] [-o FILE] -s SOCKET -r REQUEST
 *
 * The first form runs CMD N times (after W unmeasured warm-up runs), each
 * through posix_spawn with stdout captured, and times it end to end with
 * CLOCK_MONOTONIC. "{i}" in any argument is replaced by the run index, so
 * each fork can name a new cell. With -k KEY, the number after "KEY": in the
 * command's stdout (e.g. an internal duration printed by --format json) is
 * collected too, multiplied by MULT (default 1; 1000 turns a "duration_ms"
 * into microseconds), and reported as a second statistics line.
 *
 * The second form connects to a forkcellfs control socket, sends REQUEST
 * (one JSON line, "{i}" substituted) and reads the reply line, N times, one
 * connection per request as forkcellctl does; the time stops when the reply
 * line has arrived. This times the generation switch inside the daemon
 * without process start-up.
 *
 * -p MS pauses MS milliseconds after each run, outside the timed region:
 * runs then stand alone, as an agent's one checkpoint per command does,
 * instead of each overlapping the durability work (the flusher thread's
 * fsync) of the one before.
 *
 * A run that fails (non-zero exit, or a reply without "ok":true) aborts with
 * exit 1 and its output on stderr. Prints:
 *   n=N median_us=.. p95_us=.. min_us=.. max_us=.. mean_us=..
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OUT_MAX (1 << 20)

static char out_buf[OUT_MAX];

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Replace "{i}" in s by idx; returns a malloc'ed string. */
static char *subst(const char *s, long idx)
{
	const char *p = strstr(s, "{i}");
	char *r;

	if (!p)
		return strdup(s);
	if (asprintf(&r, "%.*s%ld%s", (int)(p - s), s, idx, p + 3) < 0)
		return NULL;
	return r;
}

/*
 * Read into buf until EOF, or (line != 0) until the first newline: a
 * daemon reply is one line, and the daemon may still work (sync the store)
 * after sending it, which is not part of the latency the client sees.
 */
static size_t read_all(int fd, char *buf, size_t cap, int line)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (line && memchr(buf + len - (size_t)n, '\n', (size_t)n))
			break;
	}
	buf[len] = '\0';
	return len;
}

static int run_cmd(char **argv, int argc, long idx, double *us)
{
	char **av = calloc((size_t)argc + 1, sizeof(*av));
	posix_spawn_file_actions_t fa;
	int pfd[2], st = 0, rc = -1, i;
	double t0;
	pid_t pid;

	if (!av || pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	for (i = 0; i < argc; i++)
		av[i] = subst(argv[i], idx);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	t0 = now_us();
	if (posix_spawnp(&pid, av[0], &fa, NULL, av, environ) != 0) {
		perror(av[0]);
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	read_all(pfd[0], out_buf, sizeof(out_buf), 0);
	if (waitpid(pid, &st, 0) < 0)
		goto out;
	*us = now_us() - t0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "lat: run %ld of '%s' failed (status 0x%x): %s\n", idx, av[0], st,
			out_buf);
		goto out;
	}
	rc = 0;
out:
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	for (i = 0; i < argc; i++)
		free(av[i]);
	free(av);
	return rc;
}

static int run_sock(const char *path, const char *req_tmpl, long idx, double *us)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *req = subst(req_tmpl, idx), *line = NULL;
	int fd = -1, rc = -1;
	double t0;

	if (!req || strlen(path) >= sizeof(sa.sun_path) || asprintf(&line, "%s\n", req) < 0)
		goto out;
	strcpy(sa.sun_path, path);
	t0 = now_us();
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(path);
		goto out;
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		goto out;
	read_all(fd, out_buf, sizeof(out_buf), 1);
	*us = now_us() - t0;
	if (!strstr(out_buf, "\"ok\":true") && !strstr(out_buf, "\"ok\": true")) {
		fprintf(stderr, "lat: request %ld failed: %s\n", idx, out_buf);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(line);
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *label, double *v, long n)
{
	double sum = 0;
	long i;

	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("%sn=%ld median_us=%.1f p95_us=%.1f min_us=%.1f max_us=%.1f mean_us=%.1f\n", label,
	       n, n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[(long)((double)(n - 1) * 0.95)],
	       v[0], v[n - 1], sum / (double)n);
}

/* The number after "key": in out_buf, or -1. */
static double find_key(const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(out_buf, pat);
	if (!p)
		return -1;
	return strtod(p + strlen(pat), NULL);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *req = NULL, *key = NULL, *ofile = NULL;
	long n = 200, w = 5, i, nk = 0, pause_ms = 0;
	double *v, *kv, mult = 1;
	FILE *of = NULL;
	int c;

	while ((c = getopt(argc, argv, "+n:w:p:k:m:o:s:r:")) != -1) {
		switch (c) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'w': w = strtol(optarg, NULL, 10); break;
		case 'p': pause_ms = strtol(optarg, NULL, 10); break;
		case 'k': key = optarg; break;
		case 'm': mult = strtod(optarg, NULL); break;
		case 'o': ofile = optarg; break;
		case 's': sock = optarg; break;
		case 'r': req = optarg; break;
		default: return 2;
		}
	}
	if (n < 1 || w < 0 || pause_ms < 0 || (!sock && optind >= argc) || (sock && !req)) {
		fprintf(stderr,
			"usage: lat [-n N] [-w W] [-p MS] [-k KEY [-m MULT]] [-o FILE] -- CMD ARG...\n"
			"       lat [-n N] [-w W] [-p MS] [-o FILE] -s SOCKET -r REQUEST\n");
		return 2;
	}
	v = calloc((size_t)n, sizeof(*v));
	kv = calloc((size_t)n, sizeof(*kv));
	if (!v || !kv || (ofile && !(of = fopen(ofile, "we"))))
		return 1;
	for (i = 0; i < w + n; i++) {
		double us = 0;
		int rc = sock ? run_sock(sock, req, i, &us)
			      : run_cmd(argv + optind, argc - optind, i, &us);

		if (rc < 0)
			return 1;
		if (pause_ms > 0) {
			struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		if (i < w)
			continue;
		v[i - w] = us;
		if (of)
			fprintf(of, "%.1f\n", us);
		if (key) {
			double k = find_key(key);

			if (k >= 0)
				kv[nk++] = k * mult;
		}
	}
	if (of)
		fclose(of);
	report("", v, n);
	if (key && nk > 0)
		report("key ", kv, nk);
	return 0;
}
