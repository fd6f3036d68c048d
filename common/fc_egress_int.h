/*
 * fc_egress_int.h: what the files of the fc_egress module share (decisions
 * in fc_egress.c, paths and queries in fc_egress_path.c, addresses in
 * fc_egress_addr.c). Not for use outside the module.
 */
#ifndef FC_EGRESS_INT_H
#define FC_EGRESS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_egress.h"

/* A parsed allowed_ips entry: family, network bytes, prefix length. */
struct fc_egress_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

struct fc_egress {
	const struct fc_policy *p;
	size_t *base;                 /* base[i]: index of nets[i].endpoints[0] in ips */
	struct fc_egress_cidr **ips;  /* per endpoint, in policy order */
	size_t *nips;
	size_t nep;
};

/* Parse an allowed_ips entry ("10.0.0.0/8", "fd00::1"). 0 or FC_EPOLICY. */
int fc_egress_cidr_parse(const char *s, struct fc_egress_cidr *out);

/*
 * Does the rule's query matchers match the raw query (NULL: none)? Every
 * matcher's key must be present and each of its values must match one of
 * the globs. A value that cannot be decoded or compared (too long, NUL)
 * matches when fail_closed (deny rules) and not otherwise (allow rules).
 */
bool fc_egress_query_match(const struct fc_pol_rule *r, const char *query, bool fail_closed);

#endif
