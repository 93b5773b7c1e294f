/* export.h - observations out to CSV, in the long format that db_ingest_file reads back.
 *
 * Columns: indicator,orgunit,period,value,status, then one column per dimension used by the exported
 * indicators (empty where a series has no item of it). With `meta`, three more columns follow:
 * revision, seq (the batch that wrote the value) and received (RFC 3339 UTC): such a file documents
 * provenance and is not meant to be imported again. */
#ifndef DB_EXPORT_H
#define DB_EXPORT_H
#include <stdint.h>
#include <stdio.h>

#include "model/catalog.h"
#include "store/store.h"

typedef struct db_export_opts {
  int meta;   /* add revision, seq, received */
  int header; /* write the header row (1 unless the caller appends to a file) */
  /* keep only periods that overlap [from_ms, to_ms) (0 = open): a time window that applies to
   * indicators of every periodicity, where the filter's key range serves one periodicity */
  int64_t from_ms, to_ms;
} db_export_opts;

/* Writes the observations matching f (see db_store_obs_read) to out. *rows (may be NULL) receives the
 * number of rows written. Returns 0, DB_EIO when out fails, or a store error. */
int db_export_csv(db_store *s, const db_catalog *cat, const db_obs_filter *f, const db_export_opts *opts,
                  FILE *out, int64_t *rows);

#endif
