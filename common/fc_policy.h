/*
 * fc_policy: OpenShell sandbox policy files (the subset documented in
 * docs/policy.md): the data model, the pure YAML parser, the canonical JSON
 * form and its revision, and a diff of what two policies allow.
 *
 * The parser is pure: the caller reads the file once (fc_read_file), hands
 * the bytes here, and hashes or stores the same bytes; nothing re-reads the
 * file. Every refusal carries "FILE:LINE:COL: reason" in the fc_diag (and
 * the position in d->line/d->col).
 *
 * Ownership: a struct fc_policy and everything it points to belong to the
 * caller, who frees it with fc_policy_free(). Strings in the model are
 * NUL-terminated, valid UTF-8, already normalised (hosts lower case,
 * methods upper case, filesystem paths without '//', '.' or a trailing
 * '/'). Thread-safe: no globals.
 */
#ifndef FC_POLICY_H
#define FC_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fc_err.h"
#include "fc_hash.h"

#define FC_POLICY_MAX_BYTES (1 << 20) /* whole file */
#define FC_POLICY_MAX_PATHS 256       /* read_only + read_write */
#define FC_POLICY_PATH_MAX 4096       /* one filesystem path */
#define FC_POLICY_MAX_DEPTH 32        /* YAML nesting */
#define FC_POLICY_MAX_ITEMS 1024      /* policies; endpoints in all; any one list or map */
#define FC_POLICY_REV_LEN 20          /* "policy_" + 12 hex + NUL */

enum fc_pol_compat { FC_POL_BEST_EFFORT, FC_POL_HARD_REQUIREMENT };
enum fc_pol_proto { FC_POL_PROTO_L4, FC_POL_PROTO_REST }; /* L4: protocol omitted */
enum fc_pol_enforce { FC_POL_ENFORCE, FC_POL_AUDIT };
enum fc_pol_access { FC_POL_ACCESS_NONE, FC_POL_READ_ONLY, FC_POL_READ_WRITE, FC_POL_FULL };

/* run_as_user / run_as_group: omitted (the image's USER), "sandbox", or an id. */
enum fc_pol_idkind { FC_POL_ID_IMAGE, FC_POL_ID_SANDBOX, FC_POL_ID_NUMERIC };
struct fc_pol_id {
	enum fc_pol_idkind kind;
	uint32_t id; /* 1..4294967294 when FC_POL_ID_NUMERIC */
};

/* One query matcher: the parameter matches when any glob matches its value. */
struct fc_pol_query {
	char *key;
	char **globs; /* value globs, at least one */
	size_t nglobs;
};

/* An allow or deny matcher of an L7 rule. */
struct fc_pol_rule {
	char *method; /* upper case, or "*" */
	char *path;   /* path glob */
	struct fc_pol_query *query;
	size_t nquery;
};

struct fc_pol_endpoint {
	char *host;         /* lower case; exact, "*.x.y" or "**.x.y" */
	uint16_t *ports;    /* port: N is stored as ports: [N] */
	size_t nports;
	enum fc_pol_proto protocol;
	enum fc_pol_enforce enforcement;
	enum fc_pol_access access;
	struct fc_pol_rule *rules; /* allow rules; NULL/0 when none */
	size_t nrules;
	struct fc_pol_rule *deny;  /* deny_rules */
	size_t ndeny;
	char **allowed_ips;        /* CIDR or address strings, validated */
	size_t nallowed_ips;
	bool allow_encoded_slash;
	bool tls_skip;
};

struct fc_pol_net {
	char *key;  /* the network_policies map key: the rule's id */
	char *name; /* display name; the key when omitted */
	struct fc_pol_endpoint *endpoints;
	size_t nendpoints;
	char **binaries; /* binary path globs */
	size_t nbinaries;
};

struct fc_policy {
	uint32_t version; /* always 1 */
	bool include_workdir;
	char **read_only;
	size_t nread_only;
	char **read_write;
	size_t nread_write;
	enum fc_pol_compat compat;
	struct fc_pol_id run_as_user;
	struct fc_pol_id run_as_group;
	struct fc_pol_net *nets; /* sorted by key */
	size_t nnets;
};

/* A revision: "policy_" + the first 12 hex digits, and the full SHA-256. */
struct fc_policy_rev {
	char revision[FC_POLICY_REV_LEN];
	char sha256[FC_SHA256_HEX];
};

/*
 * Parse and validate len bytes of policy YAML. filename (not opened; only
 * used in messages, may be NULL for "<policy>") prefixes every message. On
 * success *out is a new policy (free with fc_policy_free). Errors:
 * FC_EPOLICY (malformed YAML, unknown key, wrong type, bad value),
 * FC_ELIMIT (a size, count or depth limit), -ENOMEM; d says what and where.
 */
int fc_policy_parse(const void *buf, size_t len, const char *filename, struct fc_policy **out,
		    struct fc_diag *d);

/* Free p and everything it owns. NULL is fine. */
void fc_policy_free(struct fc_policy *p);

/*
 * The canonical form of p as a cJSON tree (caller frees with cJSON_Delete):
 * every default explicit, maps sorted when printed, list order kept. It is
 * itself a valid policy document: parsing it gives the same form back.
 * Errors: -ENOMEM.
 */
int fc_policy_to_json(const struct fc_policy *p, cJSON **out);

/*
 * The canonical JSON text of p (*json, NUL-terminated, caller frees with
 * free(); *len its length) and its revision (SHA-256 of exactly those
 * bytes). json/len may be NULL when only the revision is wanted.
 * Errors: -ENOMEM; FC_ECORRUPT (should not happen) with d set.
 */
int fc_policy_canon(const struct fc_policy *p, char **json, size_t *len,
		    struct fc_policy_rev *rev, struct fc_diag *d);

/*
 * What b allows that a does not ("only_b") and the reverse ("only_a"), as
 * readable lines, plus settings that are not grants ("changed": landlock,
 * process identity). *out = {"only_a":[...],"only_b":[...],"changed":[...]}
 * with each list sorted; caller frees with cJSON_Delete. The comparison is
 * over normalised grant lines (one per binary, host, port and method/path
 * matcher), not over glob containment: a '*' glob and a binary it matches
 * count as different grants. Errors: -ENOMEM; FC_ELIMIT when a policy
 * flattens to more than 2^18 grant lines.
 */
int fc_policy_diff(const struct fc_policy *a, const struct fc_policy *b, cJSON **out);

/* Names of enum values as written in policy files. */
const char *fc_pol_access_name(enum fc_pol_access a);
const char *fc_pol_compat_name(enum fc_pol_compat c);
const char *fc_pol_enforce_name(enum fc_pol_enforce e);

#endif
