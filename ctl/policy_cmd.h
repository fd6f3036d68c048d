/*
 * policy_cmd: `forkcellctl policy check FILE | diff A B` (ctl/cmd_policy.c),
 * and the loader that `run --policy` shares with it.
 */
#ifndef POLICY_CMD_H
#define POLICY_CMD_H

#include <stddef.h>

#include "ctl.h"
#include "fc_policy.h"

int cmd_policy(struct ctl *c, int argc, char **argv);

/*
 * Read the policy file at path (relative to the cwd) once and parse it.
 * On success *p is the policy (fc_policy_free), *rev its revision, and,
 * when bytes is not NULL, *bytes and *len the file's bytes exactly as parsed
 * (caller frees; snapshot or hash them, never re-read the file). Errors:
 * -errno (cannot read, d says which file), FC_ELIMIT (over 1 MiB),
 * FC_EPOLICY/FC_ELIMIT from the parser with "FILE:LINE:COL: ..." in d,
 * -ENOMEM.
 */
int ctl_policy_load(const char *path, struct fc_policy **p, struct fc_policy_rev *rev,
		    char **bytes, size_t *len, struct fc_diag *d);

#endif
