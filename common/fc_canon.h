/*
 * fc_canon: the canonical JSON form used for everything ForkCell hashes or
 * signs (receipts, decisions, policy revisions).
 *
 * Rules (a subset of RFC 8785 chosen so that any JSON tool can reproduce
 * it): no insignificant whitespace; object members sorted by the bytes of
 * their UTF-8 keys; duplicate keys refused; strings are valid UTF-8 with
 * only '"', '\\' and control characters escaped (\b \f \n \r \t, else
 * \u00XX with lower-case hex); numbers must be integers with magnitude at
 * most 2^53 and are printed in plain decimal; nesting at most 64 levels.
 */
#ifndef FC_CANON_H
#define FC_CANON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "fc_err.h"

#define FC_CANON_MAX_DEPTH 64

/*
 * Serialise item canonically. On success *out is a NUL-terminated string
 * the caller frees with free(), *len its length. Errors: -ENOMEM;
 * FC_ECORRUPT with a reason in d for input outside the rules above.
 */
int fc_canon_json(const cJSON *item, char **out, size_t *len, struct fc_diag *d);

/*
 * Print item compactly (cJSON's own printer, not the canonical form)
 * followed by '\n': one line of a JSON-lines file or protocol. *line is
 * NUL-terminated, freed with free(); *len counts the '\n' but not the NUL.
 * Errors: -ENOMEM; FC_EPROTO when the line would be longer than max bytes.
 */
int fc_json_line(const cJSON *item, size_t max, char **line, size_t *len);

/* Is s (len bytes) valid UTF-8 without NUL? */
int fc_utf8_valid(const char *s, size_t len);

#endif
