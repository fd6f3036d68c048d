/*
 * fc_egress_addr: the SSRF check on resolved addresses.
 *
 * A host name is only a label: what the proxy finally connects to is the
 * address DNS (or /etc/hosts, or a client-supplied IP literal) produced.
 * An allowed name that resolves to 127.0.0.1 or to the cloud metadata
 * service (169.254.169.254) must not give the sandbox a path to the host's
 * own services, so those classes are refused whatever the policy says.
 * Private networks are reachable only when the policy named the host
 * exactly (the author meant that machine) or listed the address in
 * allowed_ips; a wildcard like '**.corp.test' never reaches them by
 * itself, since whoever controls a zone's DNS could otherwise point any
 * name under it anywhere. Addresses that embed an IPv4 address
 * (IPv4-mapped, NAT64, 6to4) are judged by the embedded address.
 */
#include "fc_egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fc_egress_int.h"

enum addr_class { A_PUBLIC, A_PRIVATE, A_BLOCKED };

int fc_egress_cidr_parse(const char *s, struct fc_egress_cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long pfx;
	char *end;

	if (n == 0 || n >= sizeof(addr))
		return FC_EPOLICY;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, out->addr) == 1)
		out->family = AF_INET6;
	else
		return FC_EPOLICY;
	out->prefix = out->family == AF_INET ? 32 : 128;
	if (!slash)
		return 0;
	if (slash[1] < '0' || slash[1] > '9')
		return FC_EPOLICY;
	pfx = strtoul(slash + 1, &end, 10);
	if (*end || pfx > out->prefix)
		return FC_EPOLICY;
	out->prefix = (unsigned)pfx;
	return 0;
}

/* Are the first prefix bits of a and b equal? */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static enum addr_class class_v4(const uint8_t *a, const char **why)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];

	if (a[0] == 0) {
		*why = "unspecified address";
		return A_BLOCKED;
	}
	if (a[0] == 127) {
		*why = "loopback address";
		return A_BLOCKED;
	}
	if (a[0] == 169 && a[1] == 254) {
		*why = "link-local address";
		return A_BLOCKED;
	}
	if (a[0] >= 224 && a[0] <= 239) {
		*why = "multicast address";
		return A_BLOCKED;
	}
	if (a[0] >= 240) {
		*why = v == 0xffffffffu ? "broadcast address" : "reserved address";
		return A_BLOCKED;
	}
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
	    (a[0] == 198 && (a[1] & 0xfe) == 18) || (a[0] == 192 && a[1] == 0 && a[2] == 0)) {
		*why = "private address";
		return A_PRIVATE;
	}
	return A_PUBLIC;
}

static enum addr_class class_v6(const uint8_t *a, const char **why)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t zero[16] = { 0 };

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return class_v4(a + 12, why);
	if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:V4ADDR::/48 */
		return class_v4(a + 2, why);
	if (memcmp(a, zero, 15) == 0 && a[15] <= 1) {
		*why = a[15] ? "loopback address" : "unspecified address";
		return A_BLOCKED;
	}
	if (memcmp(a, zero, 12) == 0) { /* deprecated IPv4-compatible */
		*why = "reserved address";
		return A_BLOCKED;
	}
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
		*why = "link-local address";
		return A_BLOCKED;
	}
	if (a[0] == 0xff) {
		*why = "multicast address";
		return A_BLOCKED;
	}
	if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)) {
		*why = "private address";
		return A_PRIVATE;
	}
	return A_PUBLIC;
}

/* The address bytes and family of sa, IPv4-mapped IPv6 kept as IPv6. */
static int sa_bytes(const struct sockaddr *sa, socklen_t salen, uint8_t *out, int *family)
{
	if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		*family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		*family = AF_INET6;
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* Is the address (family, bytes) inside one of the endpoint's allowed_ips? */
static bool in_allowed(const struct fc_egress *e, const struct fc_egress_match *m, int family,
		       const uint8_t *a)
{
	size_t ni = (size_t)(m->net - e->p->nets);
	size_t k = e->base[ni] + (size_t)(m->ep - m->net->endpoints);
	uint8_t v4[4];

	/* an IPv4-mapped IPv6 address counts as the IPv4 address it carries */
	if (family == AF_INET6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memcpy(v4, a + 12, 4);
		a = v4;
		family = AF_INET;
	}
	for (size_t i = 0; i < e->nips[k]; i++) {
		const struct fc_egress_cidr *c = &e->ips[k][i];

		if (c->family == family && prefix_eq(c->addr, a, c->prefix))
			return true;
	}
	return false;
}

int fc_egress_check_addr(const struct fc_egress *e, const struct fc_egress_conn *c,
			 const struct sockaddr *sa, socklen_t salen, const char **why)
{
	uint8_t a[16];
	int family, rc;
	enum addr_class cls;

	rc = sa_bytes(sa, salen, a, &family);
	if (rc < 0) {
		*why = "unsupported address family";
		return rc;
	}
	cls = family == AF_INET ? class_v4(a, why) : class_v6(a, why);
	if (cls == A_BLOCKED)
		return FC_EPOLICY;
	if (cls == A_PUBLIC)
		return 0;
	for (size_t i = 0; i < c->nmatches; i++) {
		const struct fc_egress_match *m = &c->matches[i];

		if (m->ep->host[0] != '*' || in_allowed(e, m, family, a))
			return 0;
	}
	*why = "private address not allowed for this host";
	return FC_EPOLICY;
}
