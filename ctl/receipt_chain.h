/*
 * receipt_chain: the store's append-only, hash-chained, signed log of
 * receipts and decisions (STORE/receipts/).
 *
 * Each record is three files named by its id:
 *   <id>.json  the canonical JSON of the record (fc_canon.h): exactly the
 *              bytes that are signed and hashed
 *   <id>.sig   the raw 64-byte Ed25519 signature of <id>.json by the store
 *              key (fc_sign.h)
 *   <id>.md    a Markdown rendering (not part of the chain)
 * and HEAD holds {"id","seq","sha256"} of the newest record.
 *
 * The record body always has: "id", "kind" ("receipt" | "decision"),
 * "seq" (1, 2, ...), "prev_receipt" (lower-case hex SHA-256 of the previous
 * record's <id>.json bytes, null for seq 1), "store_id", "signer" (hex raw
 * public key). Appends are serialised by flock on receipts/.lock and
 * written .sig, .json, then HEAD, each atomically; a crash between the
 * record and HEAD is rolled forward by the next append.
 */
#ifndef RECEIPT_CHAIN_H
#define RECEIPT_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fc_err.h"
#include "fc_hash.h"
#include "fc_store.h"

#define RC_ID_MAX 64

/*
 * Make a new record id "<prefix>_<unix seconds>_<8 hex random>".
 */
void receipt_new_id(const char *prefix, char id[RC_ID_MAX]);

/* An id is 1..RC_ID_MAX-1 of [A-Za-z0-9_-], not starting with '.': safe as a file name. */
bool receipt_id_valid(const char *id);

/*
 * Append body (a JSON object with "id" and "kind" already set; the chain
 * fields are added here) to the store's chain, signing it. md (may be NULL)
 * is written as <id>.md. On success *sha_hex is the record's SHA-256.
 * body is modified (chain fields added) but not consumed.
 */
int receipt_chain_append(struct fc_store *st, cJSON *body, const char *md,
			 char sha_hex[FC_SHA256_HEX], struct fc_diag *d);

/* Load record id (caller frees *out). -ENOENT when absent. */
int receipt_load(struct fc_store *st, const char *id, cJSON **out, struct fc_diag *d);
/* Load the raw Markdown of id (caller frees). */
int receipt_load_md(struct fc_store *st, const char *id, char **out, struct fc_diag *d);

/*
 * Call cb for every record in chain order (seq ascending); records are
 * parsed objects borrowed for the call. cb returns 0 to go on, 1 to stop.
 */
typedef int (*receipt_cb)(void *arg, const cJSON *rec);
int receipt_iter(struct fc_store *st, receipt_cb cb, void *arg, struct fc_diag *d);

/*
 * Check the whole chain: every signature, every prev link, seq contiguity,
 * ids matching file names, HEAD matching the last record. Returns 0 when
 * intact; FC_ECORRUPT with d naming the first broken record otherwise.
 * *count gets the number of records checked.
 */
int receipt_chain_verify(struct fc_store *st, uint64_t *count, struct fc_diag *d);

#endif
