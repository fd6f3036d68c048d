/*
 * fc_store_int: internals shared by the store modules (fc_store.c,
 * fc_records.c, fc_blob.c, fc_cells.c, fc_view.c). Not for fs/ or ctl/.
 */
#ifndef FC_STORE_INT_H
#define FC_STORE_INT_H

#include <stdint.h>

#include "fc_store.h"

/* The DBI handle of a record table (enum fc_dbi_id). */
MDB_dbi fc_store_dbi(const struct fc_store *st, int dbi_id);

/*
 * The cached cursor of record table dbi_id in t (opened on first use, closed
 * by commit/abort). Returns 0 or a negative error.
 */
int fc_txn_cursor(struct fc_txn *t, int dbi_id, MDB_cursor **out);

/* Close every cached cursor of t. */
void fc_txn_close_cursors(struct fc_txn *t);

/* Remember an own blob whose file is to be unlinked after commit. */
int fc_txn_dead_add(struct fc_txn *t, uint64_t blob_id);

/* Record that key prefix of table dbi_id changed in gen (the change log). */
int fc_change_put(struct fc_txn *t, uint64_t gen, uint8_t dbi_id, const void *prefix,
		  size_t prefix_len);

/*
 * Add delta (+1 or -1) to the refcount of blob id. At 0 the record is
 * deleted and, for an own blob, the file is scheduled for unlinking after
 * commit. FC_ECORRUPT when the record is missing or would underflow.
 */
int fc_blob_ref(struct fc_txn *t, uint64_t id, int delta);

/* Allocate a base directory id (meta "next_base"). */
int fc_alloc_base(struct fc_txn *t, uint32_t *out);

/* Probe whether FICLONE works in STORE/tmp; sets st->reflink. */
void fc_blob_probe_reflink(struct fc_store *st);

/* CLOCK_REALTIME in nanoseconds. */
int64_t fc_now_ns(void);

/* Write-txn guard for record writers: -EROFS unless t and v may write. */
int fc_txn_check_write(const struct fc_txn *t, const struct fc_view *v);

#endif
