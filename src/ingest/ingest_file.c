/* ingest_file.c - observation files into one batch: long CSV and JSON (db_ingest_file in ingest.h).
 *
 * CSV: a header names the columns: indicator, orgunit, period, value (required), status (optional),
 * and any dimension code of the catalog (one column per dimension, the item code in each row).
 * JSON: an array of row objects, or {"observations": [ … ]}; a row is
 * {"indicator", "orgunit", "period", "value": number, "status"?, "dimensions"?: {"SEX": "F"}}. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "ingest/csv.h"
#include "ingest/ingest_int.h"

#define PROGRESS_EVERY 65536
#define MAX_COLUMNS 64

/* A field as a NUL-terminated string in a scratch buffer of its own. */
static const char *field_str(db_buf *scratch, const db_csv_field *f) {
  db_buf_clear(scratch);
  db_buf_append(scratch, f->p, f->len);
  return db_buf_str(scratch);
}

typedef struct csv_layout {
  int col[DB__F_COUNT];             /* 1-based column of each field, 0 when absent */
  int n_columns;
  const char *dim_code[MAX_COLUMNS]; /* dimension code of column i (0-based), NULL otherwise */
} csv_layout;

/* Reads the header: maps columns to fields and dimensions. Problems go to d; 0 or DB_EINVAL. */
static int read_header(const db_catalog *cat, const db_csv_field *f, size_t n, long line, csv_layout *lay,
                       db_diag *d) {
  static const char *const names[] = {"indicator", "orgunit", "period", "value", "status"};
  int bad = 0;
  memset(lay, 0, sizeof *lay);
  if (n > MAX_COLUMNS)
    return db_diag_add(d, line, 0, NULL, DB_EINVAL, "the header has %zu columns; at most %d are allowed", n,
                       MAX_COLUMNS);
  lay->n_columns = (int)n;
  for (size_t c = 0; c < n; c++) {
    char name[72];
    size_t len = f[c].len < sizeof name - 1 ? f[c].len : sizeof name - 1;
    memcpy(name, f[c].p, len);
    name[len] = '\0';
    int known = 0;
    for (int k = 0; k < 5; k++) {
      if (strcmp(name, names[k]) != 0) continue;
      known = 1;
      if (lay->col[k]) bad = db_diag_add(d, line, (int)c + 1, name, DB_EINVAL, "column '%s' appears twice", name);
      lay->col[k] = (int)c + 1;
    }
    const db_dimension *dim = known ? NULL : db_catalog_dimension(cat, name);
    if (dim) {
      lay->dim_code[c] = dim->code;
      lay->col[DB__F_DIMS] = (int)c + 1;
    } else if (!known) {
      bad = db_diag_add(d, line, (int)c + 1, name, DB_EINVAL,
                        "unknown column '%s' (expected indicator, orgunit, period, value, status or a "
                        "dimension code)",
                        name);
    }
  }
  for (int k = 0; k < 4; k++)
    if (!lay->col[k])
      bad = db_diag_add(d, line, 0, names[k], DB_EINVAL, "the header has no '%s' column", names[k]);
  return bad ? DB_EINVAL : 0;
}

/* Where a document comes from: a file, or a block of memory. */
typedef struct source {
  const char *path; /* NULL for memory */
  const char *data;
  size_t len;
} source;

static int ingest_csv(db_ingest *in, const db_catalog *cat, const source *src, db_progress_fn progress,
                      void *pctx, db_diag *d) {
  db_csv *r;
  int rc = src->path ? db_csv_open_file(src->path, NULL, d, &r) : db_csv_open_mem(src->data, src->len, NULL, d, &r);
  if (rc) return rc;
  db_csv_field *f;
  size_t n;
  long line;
  csv_layout lay;
  db_buf s[DB__F_COUNT] = {DB_BUF_INIT, DB_BUF_INIT, DB_BUF_INIT, DB_BUF_INIT, DB_BUF_INIT, DB_BUF_INIT};
  int got;
  while ((got = db_csv_next(r, &f, &n, &line)) == DB_EINVAL) continue;
  if (got <= 0) {
    rc = got == 0 ? db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the file is empty: a header row is expected") : got;
    goto done;
  }
  if ((rc = read_header(cat, f, n, line, &lay, d)) != 0) goto done;
  db__ingest_set_columns(in, lay.col);
  int bad = 0;
  while ((got = db_csv_next(r, &f, &n, &line)) != 0) {
    if (got < 0) {
      bad = 1;
      if (got == DB_EIO) {
        rc = DB_EIO;
        goto done;
      }
      continue;
    }
    if ((int)n != lay.n_columns) {
      bad = db_diag_add(d, line, 0, NULL, DB_EINVAL, "the row has %zu fields; the header has %d", n,
                        lay.n_columns);
      continue;
    }
    db_buf *dims = &s[DB__F_DIMS];
    db_buf_clear(dims);
    if (lay.col[DB__F_DIMS])
      for (int c = 0; c < lay.n_columns; c++)
        if (lay.dim_code[c] && f[c].len)
          db_buf_printf(dims, "%s%s=%.*s", dims->len ? ";" : "", lay.dim_code[c], (int)f[c].len, f[c].p);
    const db_csv_field *value = &f[lay.col[DB__F_VALUE] - 1];
    rc = db_ingest_add_text(in, line, field_str(&s[0], &f[lay.col[0] - 1]), field_str(&s[1], &f[lay.col[1] - 1]),
                            field_str(&s[2], &f[lay.col[2] - 1]), value->p, value->len,
                            lay.col[DB__F_STATUS] ? field_str(&s[4], &f[lay.col[DB__F_STATUS] - 1]) : NULL,
                            db_buf_str(dims));
    if (rc == DB_EINVAL) bad = 1;
    else if (rc) goto done;
    if (progress && db__ingest_rows(in) % PROGRESS_EVERY == 0)
      progress(pctx, db__ingest_rows(in), db_csv_offset(r), db_csv_size(r));
  }
  if (progress) progress(pctx, db__ingest_rows(in), db_csv_offset(r), db_csv_size(r));
  rc = bad ? DB_EINVAL : 0;
done:
  for (int k = 0; k < DB__F_COUNT; k++) db_buf_free(&s[k]);
  db_csv_close(r);
  return rc;
}

/* One JSON row object into the batch; problems name paths under `path`. */
static int ingest_json_row(db_ingest *in, json_t *row, const char *path, db_diag *d) {
  static const char *const keys[] = {"indicator", "orgunit", "period", "value", "status", "dimensions"};
  if (!json_is_object(row)) return db_diag_add(d, 0, 0, path, DB_EINVAL, "a row must be an object");
  int bad = 0;
  const char *key;
  json_t *v;
  db_buf p = DB_BUF_INIT;
  json_object_foreach(row, key, v) {
    size_t k = 0;
    while (k < 6 && strcmp(key, keys[k]) != 0) k++;
    if (k == 6) {
      db_buf_clear(&p);
      db_buf_printf(&p, "%s.%s", path, key);
      bad = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL,
                        "unknown member (expected indicator, orgunit, period, value, status, dimensions)");
    }
  }
  const char *text[5] = {NULL};
  for (int k = 0; k < 5; k++) {
    if (k == DB__F_VALUE) continue;
    json_t *m = json_object_get(row, keys[k]);
    db_buf_clear(&p);
    db_buf_printf(&p, "%s.%s", path, keys[k]);
    if (!m && k != DB__F_STATUS) bad = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL, "missing");
    else if (m && !json_is_string(m)) bad = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL, "must be a string");
    else if (m) text[k] = json_string_value(m);
  }
  json_t *value = json_object_get(row, "value");
  db_buf_clear(&p);
  db_buf_printf(&p, "%s.value", path);
  if (!value) bad = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL, "missing");
  else if (!json_is_number(value))
    bad = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL, "must be a number (a missing value is left out)");
  db_buf dims = DB_BUF_INIT;
  json_t *dobj = json_object_get(row, "dimensions");
  if (dobj && !json_is_object(dobj)) {
    db_buf_clear(&p);
    db_buf_printf(&p, "%s.dimensions", path);
    bad = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL, "must be an object of dimension: item");
  } else if (dobj) {
    json_object_foreach(dobj, key, v) {
      if (!json_is_string(v)) {
        db_buf_clear(&p);
        db_buf_printf(&p, "%s.dimensions.%s", path, key);
        bad = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL, "must be an item code (a string)");
      } else {
        db_buf_printf(&dims, "%s%s=%s", dims.len ? ";" : "", key, json_string_value(v));
      }
    }
  }
  int rc = 0;
  if (bad) {
    rc = DB_EINVAL;
  } else {
    db__ingest_set_path(in, path);
    int status = DB_STATUS_PROVISIONAL;
    if (text[DB__F_STATUS] && db_obs_status_parse(text[DB__F_STATUS], strlen(text[DB__F_STATUS]), &status)) {
      db_buf_clear(&p);
      db_buf_printf(&p, "%s.status", path);
      rc = db_diag_add(d, 0, 0, db_buf_str(&p), DB_EINVAL,
                       "status '%s' is not one of provisional, official, estimated", text[DB__F_STATUS]);
    } else {
      rc = db_ingest_add(in, 0, text[0], text[1], text[2], json_number_value(value), status, db_buf_str(&dims));
    }
    db__ingest_set_path(in, NULL);
  }
  db_buf_free(&p);
  db_buf_free(&dims);
  return rc;
}

static int ingest_json(db_ingest *in, const source *src, db_diag *d) {
  json_error_t err;
  json_t *root = src->path ? json_load_file(src->path, JSON_REJECT_DUPLICATES, &err)
                           : json_loadb(src->data, src->len, JSON_REJECT_DUPLICATES, &err);
  if (!root) return db_diag_add(d, err.line, err.column, NULL, DB_EINVAL, "%s", err.text);
  json_t *rows = root;
  const char *prefix = "$";
  if (json_is_object(root)) {
    rows = json_object_get(root, "observations");
    prefix = "$.observations";
  }
  int rc = 0, bad = 0;
  if (!json_is_array(rows)) {
    rc = db_diag_add(d, 0, 0, prefix, DB_EINVAL, "expected an array of observations");
    goto done;
  }
  db_buf p = DB_BUF_INIT;
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    db_buf_clear(&p);
    db_buf_printf(&p, "%s[%zu]", prefix, i);
    rc = ingest_json_row(in, row, db_buf_str(&p), d);
    if (rc == DB_EINVAL) bad = 1;
    else if (rc) break;
  }
  db_buf_free(&p);
  if (!rc && bad) rc = DB_EINVAL;
done:
  json_decref(root);
  return rc;
}

/* The format named by `format`, else by the file's extension: "csv", "json", or NULL when unknown. */
static const char *file_format(const char *path, const char *format) {
  if (format && *format) return strcmp(format, "csv") == 0 || strcmp(format, "json") == 0 ? format : NULL;
  const char *dot = strrchr(path, '.');
  if (dot && strcasecmp(dot, ".csv") == 0) return "csv";
  if (dot && strcasecmp(dot, ".json") == 0) return "json";
  return NULL;
}

/* Runs one batch over a document: begin (or replay), read, finish; `keep`: keep the change set. */
static int ingest_source(db_store *s, const db_catalog *cat, const source *src, const char *fmt,
                         const db_batch_info *info, const char *reason, db_ingest_guard guard, void *guard_ctx,
                         int keep, db_progress_fn progress, void *progress_ctx, db_diag *d, db_ingest_result *res) {
  db_ingest *in;
  db_batch_summary replay = {0};
  int rc = db_ingest_begin(s, cat, info, d, &in, &replay);
  if (rc == DB_EEXIST) {
    res->seq = replay.seq;
    res->inserted = replay.inserted;
    res->revised = replay.revised;
    res->unchanged = replay.unchanged;
    db_batch_summary_free(&replay);
    return DB_EEXIST;
  }
  if (rc) return rc;
  db_ingest_set_guard(in, guard, guard_ctx);
  db_ingest_set_reason(in, reason);
  if (keep) db_ingest_keep_changes(in);
  rc = strcmp(fmt, "csv") == 0 ? ingest_csv(in, cat, src, progress, progress_ctx, d) : ingest_json(in, src, d);
  if (rc) {
    /* a problem the batch itself may not have seen (a malformed record): never commit */
    db_ingest_abort(in);
    return rc;
  }
  return db_ingest_finish(in, res);
}

int db_ingest_file(db_store *s, const db_catalog *cat, const char *path, const char *format,
                   const db_batch_info *info, const char *reason, db_progress_fn progress, void *progress_ctx,
                   db_diag *d, db_ingest_result *res) {
  memset(res, 0, sizeof *res);
  const char *fmt = file_format(path, format);
  if (!fmt)
    return db_diag_add(d, 0, 0, NULL, DB_EUNSUPPORTED,
                       "%s: unknown format (name the file .csv or .json, or give the format)", path);
  source src = {path, NULL, 0};
  return ingest_source(s, cat, &src, fmt, info, reason, NULL, NULL, 0, progress, progress_ctx, d, res);
}

int db_ingest_buffer(db_store *s, const db_catalog *cat, const char *data, size_t len, const char *format,
                     const db_batch_info *info, const char *reason, db_ingest_guard guard, void *guard_ctx,
                     db_diag *d, db_ingest_result *res) {
  memset(res, 0, sizeof *res);
  if (!format || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0))
    return db_diag_add(d, 0, 0, NULL, DB_EUNSUPPORTED, "unsupported format '%s' (csv or json)",
                       format ? format : "");
  source src = {NULL, data, len};
  return ingest_source(s, cat, &src, format, info, reason, guard, guard_ctx, 1, NULL, NULL, d, res);
}
