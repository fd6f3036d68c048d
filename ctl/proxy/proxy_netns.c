/*
 * proxy_netns: the proxy's foothold in the sandbox's network namespace.
 *
 * The sandbox has a private network namespace whose only service is the
 * proxy. We enter it with setns() on our (only) thread, bring `lo` up,
 * create the listening socket and a NETLINK_SOCK_DIAG socket there, then
 * return to our own namespace. Sockets keep the namespace they were
 * created in, so accepted connections and inet_diag queries live in the
 * sandbox while every upstream connection is made from the proxy's own
 * namespace.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/sock_diag.h>

/* Set IFF_UP on the loopback interface of the current namespace. */
static int lo_up(struct fc_diag *d)
{
	struct ifreq ifr;
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fc_diag_set(d, -errno, "cannot create a socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = fc_diag_set(d, -errno, "cannot read the flags of 'lo': %s", strerror(errno));
		goto out;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = fc_diag_set(d, -errno, "cannot bring 'lo' up: %s", strerror(errno));
	}
out:
	close(fd);
	return rc;
}

/*
 * Parse "ADDR:PORT" or "[ADDR6]:PORT" into *ss. 0 or FC_EUSAGE.
 */
int proxy_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon, *h = s;
	size_t hl;
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return FC_EUSAGE;
		h = s + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return FC_EUSAGE;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return FC_EUSAGE;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return FC_EUSAGE;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return FC_EUSAGE;
}

/* Create the listening socket and the inet_diag socket in the current ns. */
static int make_sockets(const struct sockaddr_storage *ss, socklen_t sslen, int *lfd_out,
			int *dfd_out, struct fc_diag *d)
{
	int lfd = -1, dfd = -1, one = 1, rc = 0;

	lfd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0) {
		rc = fc_diag_set(d, -errno, "cannot create the listening socket: %s",
				 strerror(errno));
		goto out;
	}
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (const struct sockaddr *)ss, sslen) < 0 || listen(lfd, 1024) < 0) {
		rc = fc_diag_set(d, -errno, "cannot listen in the sandbox namespace: %s",
				 strerror(errno));
		goto out;
	}
	dfd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (dfd < 0) {
		rc = fc_diag_set(d, -errno, "cannot create an inet_diag socket: %s",
				 strerror(errno));
		goto out;
	}
	*lfd_out = lfd;
	*dfd_out = dfd;
	return 0;
out:
	if (lfd >= 0)
		close(lfd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int proxy_netns_setup(struct proxy *px, const char *netns_path, const char *listen_addr,
		      struct fc_diag *d)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct stat st;
	int self = -1, target = -1, rc, back;

	if (proxy_parse_listen(listen_addr, &ss, &sslen) < 0)
		return fc_diag_set(d, FC_EUSAGE, "bad --listen address '%s'", listen_addr);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return fc_diag_set(d, -errno, "cannot open /proc/self/ns/net: %s", strerror(errno));
	target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		rc = fc_diag_set(d, -errno, "cannot open '%s': %s", netns_path, strerror(errno));
		goto out;
	}
	if (fstat(target, &st) < 0) {
		rc = fc_diag_set(d, -errno, "cannot stat '%s': %s", netns_path, strerror(errno));
		goto out;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		rc = fc_diag_set(d, -errno, "cannot enter the network namespace '%s': %s",
				 netns_path, strerror(errno));
		goto out;
	}
	rc = lo_up(d);
	if (rc == 0)
		rc = make_sockets(&ss, sslen, &px->listen_fd, &px->diag_fd, d);
	/* Always go home: upstream connections must not start in the sandbox. */
	back = setns(self, CLONE_NEWNET);
	if (back < 0) {
		rc = fc_diag_set(d, -errno, "cannot return to the proxy's network namespace: %s",
				 strerror(errno));
		goto out;
	}
	if (rc == 0) {
		px->netns_ino = st.st_ino;
		px->netns_dev = st.st_dev;
	}
out:
	if (target >= 0)
		close(target);
	close(self);
	return rc;
}
