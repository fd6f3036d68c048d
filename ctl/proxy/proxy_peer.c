/*
 * proxy_peer: who is calling? From an accepted connection to the process
 * that owns the other end, and its executable.
 *
 * The client's socket is found with an exact inet_diag lookup of the
 * connection's 4-tuple in the sandbox namespace (the diag socket was made
 * there), which yields the socket's inode. The owner is the process with
 * an fd "socket:[inode]" in /proc/PID/fd; only processes whose network
 * namespace is the sandbox's are scanned, the most recent owners first (a
 * client usually opens many connections). Its executable is
 * readlink(/proc/PID/exe); ancestors' executables follow the ppid chain
 * while the ancestors are still inside the sandbox's namespace, so the
 * host processes that started the sandbox never lend a binary rule their
 * identity. Anything not found leaves the peer unknown: binary rules then
 * cannot match (default deny does the rest). proxy_tofu then vets each
 * executable before it counts.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#define PEER_MAX_ANCESTORS 32

/* Exact lookup of the peer's socket: its inode, or 0 when not found. */
static unsigned long diag_inode(int dfd, const struct sockaddr_storage *peer,
				const struct sockaddr_storage *local)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} resp;
	struct nlmsghdr *h;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = (uint8_t)peer->ss_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *p = (const struct sockaddr_in *)peer;
		const struct sockaddr_in *l = (const struct sockaddr_in *)local;

		req.r.id.idiag_sport = p->sin_port;
		req.r.id.idiag_dport = l->sin_port;
		memcpy(req.r.id.idiag_src, &p->sin_addr, 4);
		memcpy(req.r.id.idiag_dst, &l->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)peer;
		const struct sockaddr_in6 *l = (const struct sockaddr_in6 *)local;

		req.r.id.idiag_sport = p->sin6_port;
		req.r.id.idiag_dport = l->sin6_port;
		memcpy(req.r.id.idiag_src, &p->sin6_addr, 16);
		memcpy(req.r.id.idiag_dst, &l->sin6_addr, 16);
	}
	if (send(dfd, &req, sizeof(req), 0) < 0)
		return 0;
	n = recv(dfd, &resp, sizeof(resp), 0);
	if (n <= 0)
		return 0;
	for (h = &resp.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		const struct inet_diag_msg *m;

		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			return 0; /* NLMSG_ERROR: no such socket */
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
			return 0;
		m = NLMSG_DATA(h);
		return m->idiag_inode;
	}
	return 0;
}

/* Is /proc/PID's network namespace the sandbox's? */
static bool pid_in_netns(const struct proxy *px, pid_t pid)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return strncmp(link, "net:[", 5) == 0 &&
	       strtoull(link + 5, NULL, 10) == (unsigned long long)px->netns_ino;
}

/* Does /proc/PID/fd hold the socket with inode ino? (stat through the
 * magic links: cheaper than readlink, which formats "socket:[N]".) */
static bool pid_has_socket(pid_t pid, unsigned long ino)
{
	char path[64];
	struct dirent *de;
	bool found = false;
	DIR *dir;
	int dfd;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return false;
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return false;
	}
	while (!found && (de = readdir(dir)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		found = fstatat(dfd, de->d_name, &st, 0) == 0 && S_ISSOCK(st.st_mode) &&
			st.st_ino == ino;
	}
	closedir(dir);
	return found;
}

/* Remember pid as a recent owner (most recent first, no duplicates). */
static void hint_push(struct proxy *px, pid_t pid)
{
	size_t i, j = PROXY_PEER_HINTS - 1;

	for (i = 0; i < PROXY_PEER_HINTS; i++) {
		if (px->peer_hints[i] == pid) {
			j = i;
			break;
		}
	}
	memmove(&px->peer_hints[1], &px->peer_hints[0], j * sizeof(pid_t));
	px->peer_hints[0] = pid;
}

static pid_t find_owner(struct proxy *px, unsigned long ino)
{
	struct dirent *de;
	pid_t pid = 0;
	size_t i;
	DIR *dir;

	for (i = 0; i < PROXY_PEER_HINTS; i++) {
		pid_t h = px->peer_hints[i];

		if (h > 0 && pid_in_netns(px, h) && pid_has_socket(h, ino)) {
			hint_push(px, h);
			return h;
		}
	}
	dir = opendir("/proc");
	if (!dir)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		if (pid_in_netns(px, (pid_t)v) && pid_has_socket((pid_t)v, ino)) {
			pid = (pid_t)v;
			break;
		}
	}
	closedir(dir);
	if (pid > 0)
		hint_push(px, pid);
	return pid;
}

/* readlink /proc/PID/exe into a new string, or NULL. */
static char *pid_exe(pid_t pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* The ppid field of /proc/PID/stat (after the last ')'), or 0. */
static pid_t pid_ppid(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;
	long pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %ld", &pp) != 1 || pp <= 0)
		return 0;
	return (pid_t)pp;
}

static void fill_ancestors(struct proxy *px, pid_t pid, struct proxy_peer *out)
{
	pid_t pp = pid_ppid(pid);

	out->ancestors = calloc(PEER_MAX_ANCESTORS, sizeof(char *));
	out->apids = calloc(PEER_MAX_ANCESTORS, sizeof(pid_t));
	if (!out->ancestors || !out->apids)
		return;
	while (pp > 1 && out->nancestors < PEER_MAX_ANCESTORS && pid_in_netns(px, pp)) {
		char *e = pid_exe(pp);

		if (!e)
			break;
		if (out->nancestors == 0)
			out->ppid = pp;
		out->apids[out->nancestors] = pp;
		out->ancestors[out->nancestors++] = e;
		pp = pid_ppid(pp);
	}
}

void proxy_peer_lookup(struct proxy *px, int fd, struct proxy_peer *out)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	unsigned long ino;

	memset(out, 0, sizeof(*out));
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		return;
	proxy_addr_format(&peer, out->src_ip, sizeof(out->src_ip), &out->src_port);
	if (px->diag_fd < 0 || (peer.ss_family != AF_INET && peer.ss_family != AF_INET6))
		return;
	ino = diag_inode(px->diag_fd, &peer, &local);
	if (ino == 0)
		return;
	out->pid = find_owner(px, ino);
	if (out->pid <= 0)
		return;
	out->exe = pid_exe(out->pid);
	if (out->exe)
		fill_ancestors(px, out->pid, out);
}

void proxy_peer_release(struct proxy_peer *p)
{
	size_t i;

	free(p->exe);
	for (i = 0; i < p->nancestors; i++)
		free(p->ancestors[i]);
	free(p->ancestors);
	free(p->apids);
	memset(p, 0, sizeof(*p));
}

void proxy_addr_format(const struct sockaddr_storage *ss, char *ip, size_t iplen, uint16_t *port)
{
	ip[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(s->sin6_port);
	}
}
