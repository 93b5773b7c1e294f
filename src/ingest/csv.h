/* csv.h - a strict, streaming RFC 4180 CSV reader.
 *
 * Reads a file, a file descriptor or a memory block record by record, with a large buffer and no
 * per-field allocation: unquoted fields are found with memchr, quoted fields are unescaped in place.
 * Accepts a UTF-8 byte-order mark at the start (skipped), LF and CRLF line ends, and skips blank lines
 * (they still count for line numbers). Every problem is reported with its line and column (1-based
 * field number) into the reader's db_diag: a quote that never closes, text after a closing quote,
 * a bare quote inside an unquoted field, bytes that are not UTF-8, a record longer than the limit
 * (default 1 MiB; the reader skips to the end of that record, quotes respected, and goes on). A record with a problem is
 * still consumed, so a caller can list every bad record of a file in one pass.
 *
 * Ownership: fields returned by db_csv_next point into the reader's buffer and stay valid until the
 * next call to db_csv_next or db_csv_close. The reader owns its buffer and (for db_csv_open_file) the
 * file. Not thread-safe; one reader per thread. */
#ifndef DB_CSV_H
#define DB_CSV_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

typedef struct db_csv_field {
  const char *p;
  size_t len;
  int quoted; /* 1 when the field was written in quotes (so "" is an empty string, not a blank) */
} db_csv_field;

typedef struct db_csv db_csv;

typedef struct db_csv_options {
  char delimiter;          /* ',' when 0 */
  size_t max_record_bytes; /* 1 MiB when 0 */
} db_csv_options;

/* Open a reader. Problems (reading, and later parsing) are added to d, which must outlive the reader.
 * Returns 0, DB_EIO (file) or DB_EINVAL (a delimiter that is a quote, CR or LF) with the reason in d.
 * opts may be NULL. db_csv_open_mem reads the block in place: keep it alive until db_csv_close. */
int db_csv_open_file(const char *path, const db_csv_options *opts, db_diag *d, db_csv **out);
int db_csv_open_fd(int fd, const db_csv_options *opts, db_diag *d, db_csv **out);
int db_csv_open_mem(const char *data, size_t len, const db_csv_options *opts, db_diag *d, db_csv **out);

/* Reads the next record: returns 1 with *fields, *n_fields and *line (the record's first line) set;
 * 0 at the end of input; DB_EINVAL when this record had a problem (already in d; the record is
 * skipped and reading can go on); DB_EIO when the input cannot be read (stop). */
int db_csv_next(db_csv *r, db_csv_field **fields, size_t *n_fields, long *line);

/* Bytes consumed so far and the input's total size (0 when unknown, e.g. a pipe): for progress. */
uint64_t db_csv_offset(const db_csv *r);
uint64_t db_csv_size(const db_csv *r);

void db_csv_close(db_csv *r);

#endif
