/*
 * fc_policy_canon: the canonical form of a policy and its revision.
 *
 * The form is JSON printed by fc_canon (maps sorted by key, list order
 * kept, OpenShell's rule for its policy hash), with every default written
 * out (version, filesystem_policy with include_workdir false and empty
 * lists, landlock best_effort, enforcement enforce, allow_encoded_slash
 * false, name = key, port: N as ports: [N], a query glob as {any: [glob]},
 * methods upper case, hosts lower case) so that every spelling of the same
 * policy gives the same bytes. Keys that have no explicit default (protocol
 * for L4, run_as_user for the image's user, access, tls) are left out when
 * unset, so the canonical JSON is itself a valid policy that parses back to
 * the same form. The revision is the SHA-256 of those bytes.
 */
#include "fc_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_canon.h"

static cJSON *str_array(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

/* Add item to obj under key, or fail (item is freed either way on failure). */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *matcher_json(const struct fc_pol_rule *r)
{
	cJSON *m = cJSON_CreateObject(), *q = cJSON_CreateObject(), *any;
	bool okay = m && add(m, "method", cJSON_CreateString(r->method)) &&
		    add(m, "path", cJSON_CreateString(r->path)) && add(m, "query", q);

	if (!okay) {
		cJSON_Delete(m);
		return NULL;
	}
	for (size_t i = 0; i < r->nquery; i++) {
		any = cJSON_CreateObject();
		if (!add(q, r->query[i].key, any) ||
		    !add(any, "any", str_array(r->query[i].globs, r->query[i].nglobs))) {
			cJSON_Delete(m);
			return NULL;
		}
	}
	return m;
}

static cJSON *rules_json(const struct fc_pol_rule *r, size_t n, bool allow)
{
	cJSON *a = cJSON_CreateArray(), *m, *wrap;

	for (size_t i = 0; a && i < n; i++) {
		m = matcher_json(&r[i]);
		wrap = m;
		if (m && allow) {
			wrap = cJSON_CreateObject();
			if (!add(wrap, "allow", m)) {
				cJSON_Delete(wrap);
				wrap = NULL;
			}
		}
		if (!wrap || !cJSON_AddItemToArray(a, wrap)) {
			cJSON_Delete(wrap);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *endpoint_json(const struct fc_pol_endpoint *e)
{
	cJSON *o = cJSON_CreateObject(), *ports = o ? cJSON_AddArrayToObject(o, "ports") : NULL;
	bool okay = ports && add(o, "host", cJSON_CreateString(e->host));

	for (size_t i = 0; okay && i < e->nports; i++)
		okay = cJSON_AddItemToArray(ports, cJSON_CreateNumber(e->ports[i]));
	okay = okay && add(o, "enforcement", cJSON_CreateString(fc_pol_enforce_name(e->enforcement)));
	okay = okay && add(o, "allow_encoded_slash", cJSON_CreateBool(e->allow_encoded_slash));
	if (okay && e->protocol == FC_POL_PROTO_REST)
		okay = add(o, "protocol", cJSON_CreateString("rest"));
	if (okay && e->access != FC_POL_ACCESS_NONE)
		okay = add(o, "access", cJSON_CreateString(fc_pol_access_name(e->access)));
	if (okay && e->nrules)
		okay = add(o, "rules", rules_json(e->rules, e->nrules, true));
	if (okay && e->ndeny)
		okay = add(o, "deny_rules", rules_json(e->deny, e->ndeny, false));
	if (okay && e->nallowed_ips)
		okay = add(o, "allowed_ips", str_array(e->allowed_ips, e->nallowed_ips));
	if (okay && e->tls_skip)
		okay = add(o, "tls", cJSON_CreateString("skip"));
	if (!okay) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *net_json(const struct fc_pol_net *net)
{
	cJSON *o = cJSON_CreateObject(), *eps = o ? cJSON_AddArrayToObject(o, "endpoints") : NULL;
	cJSON *bins = o ? cJSON_AddArrayToObject(o, "binaries") : NULL;
	bool okay = eps && bins && add(o, "name", cJSON_CreateString(net->name));

	if (!okay) {
		cJSON_Delete(o);
		return NULL;
	}
	for (size_t i = 0; okay && i < net->nendpoints; i++)
		okay = cJSON_AddItemToArray(eps, endpoint_json(&net->endpoints[i]));
	for (size_t i = 0; okay && i < net->nbinaries; i++) {
		cJSON *b = cJSON_CreateObject();

		okay = add(b, "path", cJSON_CreateString(net->binaries[i])) &&
		       cJSON_AddItemToArray(bins, b);
		if (!okay)
			cJSON_Delete(b);
	}
	if (!okay) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *id_json(const struct fc_pol_id *id)
{
	if (id->kind == FC_POL_ID_SANDBOX)
		return cJSON_CreateString("sandbox");
	return cJSON_CreateNumber(id->id);
}

static bool sections_json(const struct fc_policy *p, cJSON *o)
{
	cJSON *fs = cJSON_AddObjectToObject(o, "filesystem_policy");
	cJSON *ll = cJSON_AddObjectToObject(o, "landlock");
	cJSON *proc = cJSON_AddObjectToObject(o, "process");
	bool okay = fs && ll && proc;

	okay = okay && add(fs, "include_workdir", cJSON_CreateBool(p->include_workdir)) &&
	       add(fs, "read_only", str_array(p->read_only, p->nread_only)) &&
	       add(fs, "read_write", str_array(p->read_write, p->nread_write)) &&
	       add(ll, "compatibility", cJSON_CreateString(fc_pol_compat_name(p->compat)));
	if (okay && p->run_as_user.kind != FC_POL_ID_IMAGE)
		okay = add(proc, "run_as_user", id_json(&p->run_as_user));
	if (okay && p->run_as_group.kind != FC_POL_ID_IMAGE)
		okay = add(proc, "run_as_group", id_json(&p->run_as_group));
	return okay;
}

int fc_policy_to_json(const struct fc_policy *p, cJSON **out)
{
	cJSON *o = cJSON_CreateObject(), *nets = o ? cJSON_AddObjectToObject(o, "network_policies")
						   : NULL;
	bool okay = nets && add(o, "version", cJSON_CreateNumber(p->version)) &&
		    sections_json(p, o);

	for (size_t i = 0; okay && i < p->nnets; i++)
		okay = add(nets, p->nets[i].key, net_json(&p->nets[i]));
	if (!okay) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

int fc_policy_canon(const struct fc_policy *p, char **json, size_t *len,
		    struct fc_policy_rev *rev, struct fc_diag *d)
{
	uint8_t digest[FC_SHA256_LEN];
	cJSON *o = NULL;
	char *s = NULL;
	size_t n = 0;
	int rc = fc_policy_to_json(p, &o);

	if (rc == 0)
		rc = fc_canon_json(o, &s, &n, d);
	cJSON_Delete(o);
	if (rc == 0)
		rc = fc_sha256_buf(s, n, digest);
	if (rc < 0) {
		free(s);
		return rc;
	}
	if (rev) {
		fc_hex(digest, sizeof(digest), rev->sha256);
		snprintf(rev->revision, sizeof(rev->revision), "policy_%.12s", rev->sha256);
	}
	if (json) {
		*json = s;
		*len = n;
	} else {
		free(s);
	}
	return 0;
}
