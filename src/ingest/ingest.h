/* ingest.h - the one write path for observations: resolve codes, validate, batch, commit.
 *
 * A batch is all-or-nothing. Rows are added one by one (from a CSV or JSON reader, the demo loader or
 * the API); each is resolved against the catalog (indicator, org unit, dimension items), its period is
 * parsed as the indicator's periodicity, its value checked (finite, within the indicator's valid range,
 * a formula indicator takes no data, the unit must be valid in that period), and it is written inside
 * the batch's transaction. Every problem is added to the caller's db_diag with the row's line and the
 * column name; once a problem is found the batch can only be rolled back, but adding rows goes on so
 * that every problem of a file is listed in one pass. db_ingest_finish commits (durably) when there was
 * no problem and rolls back otherwise.
 *
 * Idempotency: a batch begun with a key that a committed batch already used is not applied again;
 * db_ingest_begin then answers DB_EEXIST and fills `replay` with the first batch's summary.
 *
 * Approved values: the cells an approval locked (records of kind DB_INGEST_LOCK_KIND, body
 * {"cells": [[series id, period key], ...]}, written by quality/quality.h) keep their value unless the
 * batch gives a reason (db_ingest_set_reason; the `reason` of db_ingest_file and db_ingest_buffer): a row that would revise one is rejected (DB_ECONFLICT, "…
 * is approved (official and locked): a change needs a reason"); with a reason the revision is written like
 * any other and an audit record "data.revise_approved" (actor, reason, the cells) goes with the batch.
 * New cells and rows that leave a locked value unchanged are never refused.
 *
 * Writes are pipelined: rows are buffered and handed to the store in blocks on a writer thread while
 * the caller parses the next rows. Ownership: strings passed to db_ingest_add_* are copied as needed.
 * One db_ingest per thread; one open batch per store. */
#ifndef DB_INGEST_H
#define DB_INGEST_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "model/catalog.h"
#include "store/store.h"

typedef struct db_ingest db_ingest;

#define DB_INGEST_LOCK_KIND "approval"

typedef struct db_ingest_result {
  int64_t seq; /* the batch's change sequence number (0 when rolled back) */
  int64_t rows, inserted, revised, unchanged, rejected;
  int64_t new_series;
  /* The committed change set, kept when the batch was asked to (db_ingest_keep_changes; db_ingest_buffer
   * always does): one row per observation the batch inserted or revised, in batch order, with series,
   * indicator, orgunit, dimkey, period, value, status and seq filled (revision and received_ms 0). This
   * is what the in-memory cube applies (cube.h db_cube_apply). NULL and 0 otherwise, and when the batch
   * did not commit. The rows and their dimension keys (change_keys) are owned by the result: free them
   * with db_ingest_result_free. */
  db_obs_row *changes;
  size_t n_changes;
  char *change_keys;
} db_ingest_result;

/* Frees the change set of a result (a result without one, or zeroed, is fine). */
void db_ingest_result_free(db_ingest_result *res);

/* Begins a batch on an open store whose catalog is `cat` (loaded by the caller, kept unchanged during
 * the batch). info->received_ms 0 means now. Returns 0; DB_EEXIST with *replay filled (caller frees it
 * with db_batch_summary_free) when the idempotency key was used before; a store error otherwise. */
int db_ingest_begin(db_store *s, const db_catalog *cat, const db_batch_info *info, db_diag *d,
                    db_ingest **out, db_batch_summary *replay);

/* One row given as text, as it appears in a file: value "" is a blank (refused), status NULL or ""
 * means provisional, dims NULL or "" means no dimension key ("SEX=F;AGE=Y15T64" otherwise, in any
 * order). `line` locates problems. Returns 0 when the row was accepted, DB_EINVAL when it was rejected
 * (the reason is in d), a store error when the store failed (the batch is then dead). */
int db_ingest_add_text(db_ingest *in, long line, const char *indicator, const char *orgunit,
                       const char *period, const char *value, size_t value_len, const char *status,
                       const char *dims);

/* One row with a numeric value (for loaders that computed it). */
int db_ingest_add(db_ingest *in, long line, const char *indicator, const char *orgunit,
                  const char *period, double value, int status, const char *dims);

/* Ends the batch: commits when no row was rejected (and then *res is filled), rolls back otherwise
 * (DB_EINVAL). Frees `in` in both cases. */
int db_ingest_finish(db_ingest *in, db_ingest_result *res);

/* Asks the batch to keep its change set for the result (see db_ingest_result.changes). Call it right
 * after db_ingest_begin, before any row is added. */
void db_ingest_keep_changes(db_ingest *in);

/* Gives the reason why the batch changes approved values (copied; NULL or "" for none): see above. Call it
 * before any row is added. */
void db_ingest_set_reason(db_ingest *in, const char *reason);

/* Abandons the batch (rolls back) and frees `in`. */
void db_ingest_abort(db_ingest *in);

/* A guard decides who may write what: called for every row once its indicator and unit are resolved;
 * returns 1 to accept, 0 to reject the row with DB_EPERM and the reason *why (a static string). */
typedef int (*db_ingest_guard)(void *ctx, const db_indicator *ind, const db_orgunit *unit, const char **why);
void db_ingest_set_guard(db_ingest *in, db_ingest_guard guard, void *ctx);

/* Progress callback for long imports: rows so far, bytes read so far and total bytes (0 if unknown). */
typedef void (*db_progress_fn)(void *ctx, int64_t rows, uint64_t bytes, uint64_t total);

/* Reads a whole observation file into one batch: long CSV (header indicator,orgunit,period,value and
 * optionally status and dimension columns named by dimension code) or JSON ({"observations":[{…}]} or
 * an array of such objects). The format follows the extension (.csv, .json) unless `format` says.
 * Problems name line and column (CSV) or JSON path. `reason` (NULL when none) is the batch's reason
 * to change approved values. Returns as db_ingest_finish does. */
int db_ingest_file(db_store *s, const db_catalog *cat, const char *path, const char *format,
                   const db_batch_info *info, const char *reason, db_progress_fn progress, void *progress_ctx,
                   db_diag *d, db_ingest_result *res);

/* The same for a document in memory (an HTTP body): format "csv" or "json" is required; guard (may be
 * NULL) is set on the batch. The batch keeps its change set: free the result with db_ingest_result_free. */
int db_ingest_buffer(db_store *s, const db_catalog *cat, const char *data, size_t len, const char *format,
                     const db_batch_info *info, const char *reason, db_ingest_guard guard, void *guard_ctx,
                     db_diag *d, db_ingest_result *res);

#endif
