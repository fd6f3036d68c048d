/*
 * httpload: a tiny HTTP/1.1 load generator and upstream for bench/proxy.sh
 * and tests/long/proxy-100k.sh. Standalone (no project code), one thread,
 * epoll.
 *
 *   httpload serve ADDR PORT
 *       answer every request with 200 and a 64-byte body, keep-alive;
 *   httpload get [-x PROXYADDR:PORT] [-c CONNS] [-n REQUESTS] [-C] ADDR PORT PATH
 *       send REQUESTS GETs over CONNS concurrent connections (keep-alive,
 *       or a new connection per request with -C), directly or through the
 *       proxy (absolute-form target), and print one line:
 *       "requests=N errors=E non200=B seconds=S rps=R p50_us=A p99_us=B".
 *
 * Exit: 0 when every request got a 200, 1 otherwise, 2 for usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 16384

struct cl {
	int fd;
	char buf[BUFSZ];
	size_t len;
	long long t0; /* request start, ns */
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parse_addr(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

/* ---- serve ---------------------------------------------------------------- */

static int serve(const char *ip, const char *port)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 64\r\n\r\n"
				   "0123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcde\n";
	struct sockaddr_in sa;
	struct epoll_event ev, evs[256];
	int lfd, ep, one = 1;

	if (parse_addr(ip, port, &sa) < 0)
		return 2;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
		perror("httpload: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("serving\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1), i;

		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			char buf[BUFSZ];
			ssize_t r;

			if (fd == lfd) {
				int c, fl = SOCK_NONBLOCK | SOCK_CLOEXEC;

				while ((c = accept4(lfd, NULL, NULL, fl)) >= 0) {
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				close(fd);
				continue;
			}
			/* One answer per request head seen in this read. */
			for (char *p = buf; (p = memmem(p, (size_t)(buf + r - p), "\r\n\r\n", 4));
			     p += 4) {
				if (write(fd, resp, sizeof(resp) - 1) < 0)
					break;
			}
		}
	}
}

/* ---- get ------------------------------------------------------------------ */

struct load {
	struct sockaddr_in to;
	char req[512];
	size_t reqlen;
	bool reconnect;
	long total, started, done, errors, non200;
	long long *lat;
	int ep;
};

static int cl_open(struct load *L, struct cl *c)
{
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&L->to, sizeof(L->to)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(L->ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void cl_close(struct load *L, struct cl *c)
{
	if (c->fd >= 0) {
		epoll_ctl(L->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

/* Start the next request on c, if any is left. */
static void cl_next(struct load *L, struct cl *c)
{
	while (L->started < L->total) {
		if (c->fd < 0 && cl_open(L, c) < 0) {
			L->started++;
			L->done++;
			L->errors++;
			continue;
		}
		c->len = 0;
		c->t0 = now_ns();
		if (write(c->fd, L->req, L->reqlen) != (ssize_t)L->reqlen) {
			cl_close(L, c);
			L->started++;
			L->done++;
			L->errors++;
			continue;
		}
		L->started++;
		return;
	}
	cl_close(L, c);
}

/* Is a whole response in c->buf? Sets *ok for a 200. */
static bool cl_complete(struct cl *c, bool *ok)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl;
	size_t head, body = 0;

	if (!end)
		return false;
	head = (size_t)(end - c->buf) + 4;
	c->buf[head - 1] = '\0';
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	if (cl)
		body = strtoul(cl + 17, NULL, 10);
	c->buf[head - 1] = '\n';
	if (c->len < head + body)
		return false;
	*ok = c->len >= 12 && memcmp(c->buf + 9, "200", 3) == 0;
	return true;
}

static void cl_input(struct load *L, struct cl *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
	bool ok = false;

	if (r <= 0 || (c->len += (size_t)r) >= sizeof(c->buf) - 1) {
		cl_close(L, c);
		L->errors++;
		L->done++;
		cl_next(L, c);
		return;
	}
	if (!cl_complete(c, &ok))
		return;
	L->lat[L->done++] = now_ns() - c->t0;
	if (!ok)
		L->non200++;
	if (L->reconnect || !ok)
		cl_close(L, c);
	cl_next(L, c);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int get(struct load *L, int conns)
{
	struct cl *cls = calloc((size_t)conns, sizeof(*cls));
	struct epoll_event evs[256];
	long long t0 = now_ns(), t1;
	long ok;
	int i;

	L->lat = calloc((size_t)L->total + 1, sizeof(long long));
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cls || !L->lat || L->ep < 0)
		return 1;
	for (i = 0; i < conns; i++) {
		cls[i].fd = -1;
		cl_next(L, &cls[i]);
	}
	while (L->done < L->total) {
		int n = epoll_wait(L->ep, evs, 256, 30000);

		if (n <= 0) {
			fprintf(stderr, "httpload: stalled with %ld of %ld done\n", L->done,
				L->total);
			break;
		}
		for (i = 0; i < n; i++)
			cl_input(L, evs[i].data.ptr);
	}
	t1 = now_ns();
	ok = L->done - L->errors;
	qsort(L->lat, (size_t)(ok > 0 ? ok : 0), sizeof(long long), cmp_ll);
	printf("requests=%ld errors=%ld non200=%ld seconds=%.3f rps=%.0f p50_us=%lld p99_us=%lld\n",
	       L->done, L->errors, L->non200, (double)(t1 - t0) / 1e9,
	       (double)L->done / ((double)(t1 - t0) / 1e9), ok > 0 ? L->lat[ok / 2] / 1000 : 0,
	       ok > 0 ? L->lat[ok * 99 / 100] / 1000 : 0);
	for (i = 0; i < conns; i++)
		cl_close(L, &cls[i]);
	free(cls);
	free(L->lat);
	return L->errors || L->non200 || L->done < L->total ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct load L = { .total = 1000 };
	const char *proxy = NULL;
	int conns = 10, opt;

	if (argc >= 4 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argv[3]);
	if (argc < 2 || strcmp(argv[1], "get") != 0)
		goto usage;
	optind = 2;
	while ((opt = getopt(argc, argv, "x:c:n:C")) != -1) {
		switch (opt) {
		case 'x': proxy = optarg; break;
		case 'c': conns = atoi(optarg); break;
		case 'n': L.total = atol(optarg); break;
		case 'C': L.reconnect = true; break;
		default: goto usage;
		}
	}
	if (argc - optind != 3 || conns <= 0 || L.total <= 0)
		goto usage;
	if (proxy) {
		char ip[64];
		const char *colon = strrchr(proxy, ':');

		if (!colon || (size_t)(colon - proxy) >= sizeof(ip))
			goto usage;
		memcpy(ip, proxy, (size_t)(colon - proxy));
		ip[colon - proxy] = '\0';
		if (parse_addr(ip, colon + 1, &L.to) < 0)
			goto usage;
		L.reqlen = (size_t)snprintf(L.req, sizeof(L.req),
					    "GET http://%s:%s%s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n",
					    argv[optind], argv[optind + 1], argv[optind + 2],
					    argv[optind], argv[optind + 1],
					    L.reconnect ? "Connection: close\r\n" : "");
	} else {
		if (parse_addr(argv[optind], argv[optind + 1], &L.to) < 0)
			goto usage;
		L.reqlen = (size_t)snprintf(L.req, sizeof(L.req),
					    "GET %s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n",
					    argv[optind + 2], argv[optind], argv[optind + 1],
					    L.reconnect ? "Connection: close\r\n" : "");
	}
	return get(&L, conns);
usage:
	fprintf(stderr, "usage: httpload serve ADDR PORT\n"
			"       httpload get [-x PROXY:PORT] [-c CONNS] [-n N] [-C] "
			"ADDR PORT PATH\n");
	return 2;
}
