/* ingest_int.h - what the file readers of the ingest module (ingest_file.c) share with ingest.c.
 * Not for use outside src/ingest. */
#ifndef DB_INGEST_INT_H
#define DB_INGEST_INT_H
#include "ingest/ingest.h"

/* The fields of an observation row, in the order of db__ingest_set_columns. */
enum { DB__F_INDICATOR, DB__F_ORGUNIT, DB__F_PERIOD, DB__F_VALUE, DB__F_STATUS, DB__F_DIMS, DB__F_COUNT };

/* CSV readers: the 1-based column of each field (0 = absent), so problems name the column. */
void db__ingest_set_columns(db_ingest *in, const int columns[DB__F_COUNT]);

/* JSON readers: the path of the current row ("$.observations[3]"); problems then name
 * "$.observations[3].period" instead of a line and column. NULL returns to line/column mode.
 * The string must stay valid until the next call. */
void db__ingest_set_path(db_ingest *in, const char *path);

/* Number of rows accepted or rejected so far. */
int64_t db__ingest_rows(const db_ingest *in);

#endif
