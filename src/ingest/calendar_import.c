/* calendar_import.c - the working-day calendar from CSV and to and from the store (calendar_import.h).
 * A file is read whole into a scratch calendar first, so that a bad row leaves the caller's untouched. */
#include "ingest/calendar_import.h"

#include <jansson.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "ingest/csv.h"
#include "model/period.h"

enum { COL_DATE, COL_KIND, COL_NAME, N_COLS };
static const char *const col_names[N_COLS] = {"date", "kind", "name"};

/* Maps the header's fields to columns (at[col] = field index, -1 when absent); problems into d. */
static int read_header(const db_csv_field *f, size_t n, long line, const char *source, int at[N_COLS],
                       db_diag *d) {
  int rc = DB_OK;
  for (int c = 0; c < N_COLS; c++) at[c] = -1;
  for (size_t i = 0; i < n; i++) {
    int c = 0;
    while (c < N_COLS && !(strlen(col_names[c]) == f[i].len && memcmp(col_names[c], f[i].p, f[i].len) == 0)) c++;
    if (c == N_COLS)
      rc = db_diag_add(d, line, (int)i + 1, source, DB_EINVAL, "unknown column '%.*s' (the columns are date, kind, name)",
                       (int)f[i].len, f[i].p);
    else
      at[c] = (int)i;
  }
  for (int c = COL_DATE; c <= COL_KIND; c++)
    if (at[c] < 0) rc = db_diag_add(d, line, 0, source, DB_EINVAL, "the column '%s' is missing", col_names[c]);
  return rc;
}

/* Reads one data row into `scratch`; `seen` maps each date text read so far to its line, to name both
 * lines of a date given twice. */
static int read_row(db_calendar *scratch, db_map *seen, const db_csv_field *f, size_t n, long line,
                    const int at[N_COLS], const char *source, db_diag *d) {
  int rc = DB_OK;
  db_period p;
  db_day_kind kind = DB_DAY_HOLIDAY;
  char why[128];
  const db_csv_field *date = (size_t)at[COL_DATE] < n ? &f[at[COL_DATE]] : NULL;
  const db_csv_field *kf = (size_t)at[COL_KIND] < n ? &f[at[COL_KIND]] : NULL;
  if (!date || db_period_parse_as(date->p, date->len, DB_PT_DAY, 0, &p, why) != DB_OK)
    rc = db_diag_add(d, line, at[COL_DATE] + 1, source, DB_EINVAL, "date: %s", date ? why : "missing");
  if (!kf || db_day_kind_parse(kf->p, kf->len, &kind) != DB_OK)
    rc = db_diag_add(d, line, at[COL_KIND] + 1, source, DB_EINVAL, "kind: '%.*s' is neither holiday nor workday",
                     kf ? (int)kf->len : 0, kf ? kf->p : "");
  if (rc) return rc;
  int64_t first;
  if (db_map_get(seen, date->p, date->len, &first))
    return db_diag_add(d, line, at[COL_DATE] + 1, source, DB_EINVAL, "date %.*s is already given on line %lld",
                       (int)date->len, date->p, (long long)first);
  db_map_put(seen, date->p, date->len, line);
  char *name = NULL;
  if (at[COL_NAME] >= 0 && (size_t)at[COL_NAME] < n) name = db_strndup(f[at[COL_NAME]].p, f[at[COL_NAME]].len);
  db_calendar_mark(scratch, p.ord, kind, name);
  db_free(name);
  return DB_OK;
}

int db_calendar_read_csv(db_calendar *c, const char *text, size_t len, const char *source, db_diag *d) {
  db_csv *r;
  size_t before = d->count;
  int rc = db_csv_open_mem(text, len, NULL, d, &r);
  if (rc) return rc;
  db_calendar *scratch = db_calendar_new();
  db_map seen = DB_MAP_INIT;
  db_csv_field *f;
  size_t n;
  long line;
  int at[N_COLS], header = 1, got;
  while ((got = db_csv_next(r, &f, &n, &line)) != 0) {
    if (got < 0) {
      if (got == DB_EIO) break;
      continue;
    }
    if (header) {
      header = 0;
      if (read_header(f, n, line, source, at, d)) break;
    } else {
      read_row(scratch, &seen, f, n, line, at, source, d);
    }
  }
  db_csv_close(r);
  rc = d->count > before ? DB_EINVAL : DB_OK;
  if (!rc) {
    const db_calendar_day *days;
    size_t nd = db_calendar_days(scratch, &days);
    for (size_t i = 0; i < nd; i++) db_calendar_mark(c, days[i].day, days[i].kind, days[i].name);
  }
  db_map_free(&seen);
  db_calendar_free(scratch);
  return rc;
}

/* Marks the day of one stored record. */
static int load_day(void *ctx, const db_record *rec) {
  db_period p;
  db_day_kind kind;
  json_t *body = json_loads(rec->body, 0, NULL);
  const char *k = json_string_value(json_object_get(body, "kind"));
  if (rec->key && db_period_parse_as(rec->key, strlen(rec->key), DB_PT_DAY, 0, &p, NULL) == DB_OK && k &&
      db_day_kind_parse(k, strlen(k), &kind) == DB_OK)
    db_calendar_mark(ctx, p.ord, kind, json_string_value(json_object_get(body, "name")));
  json_decref(body);
  return 0;
}

int db_calendar_load(db_store *s, db_calendar *c) {
  return db_store_record_scan(s, DB_CALENDAR_RECORD_KIND, load_day, c);
}

int db_calendar_save(db_store *s, const db_calendar *c) {
  const db_calendar_day *days;
  size_t n = db_calendar_days(c, &days);
  int rc = DB_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    db_period p = {.type = DB_PT_DAY, .ord = days[i].day};
    char key[DB_PERIOD_CODE_MAX];
    db_period_format(&p, key);
    json_t *body = json_pack("{s:s, s:s?}", "kind", db_day_kind_name(days[i].kind), "name", days[i].name);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    db_record old, rec = {.kind = DB_CALENDAR_RECORD_KIND, .key = key, .body = text};
    if (db_store_record_get(s, DB_CALENDAR_RECORD_KIND, 0, key, &old) == DB_OK) {
      rec.id = old.id;
      db_record_free(&old);
    }
    rc = db_store_record_put(s, &rec, 0);
    free(text);
  }
  return rc;
}
