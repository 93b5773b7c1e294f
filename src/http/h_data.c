/* h_data.c - the data routes: POST /api/v1/data (observations in), GET /api/v1/data (observations
 * out, a page at a time) and GET /api/v1/series/{indicator}/{orgunit} (one series).
 *
 * POST takes a JSON or CSV body (by Content-Type, in the formats of db_ingest_buffer) as one batch,
 * all-or-nothing, on the writer handle. Every row passes the write guard: a reporter writes only the
 * series of indicators its agency owns, within its org-unit scope (db_auth_may_write). Answers:
 *   201 {seq, rows, inserted, revised, unchanged, new_series}: the batch is committed, and its changes
 *        are in the in-memory cube (db_app_data_committed) before the answer leaves;
 *   201, the same body and "Idempotent-Replayed: true": a retry with the Idempotency-Key of a committed
 *        batch, which is not applied again (the body is the answer stored with the first batch);
 *   403 every problem of the batch, when the guard refused any row;
 *   400 every problem (row, line and column or JSON path) of a batch with bad rows;
 *   413 more than MAX_BATCH_ROWS rows; 415 another media type.
 * Nothing is written unless the answer is the first 201.
 *
 * GET /data filters by indicator and orgunit (comma-separated codes), children_of (the children of a
 * unit), from and to (period codes of any type: the periods that overlap [start of from, end of to)) and
 * as_of (the values as they were at that instant, RFC 3339). Rows come in store order (indicator,
 * unit, dimensions, period), `limit` at a time (default DEFAULT_LIMIT, at most MAX_LIMIT); when more
 * remain, the answer carries an opaque cursor (JSON member next_cursor and the Next-Cursor header) that
 * `cursor` takes to continue after the last row. JSON answers {"observations": [{indicator, orgunit,
 * period, value, status, revision[, dims]}]}; CSV answers are written by db_export_csv (its columns),
 * through a store view that applies the page (paged_store). Public callers see public indicators only.
 *
 * Large answers are written as JSON text directly: a jansson tree of a million rows would take
 * gigabytes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/h_util.h"
#include "http/handlers.h"
#include "ingest/csv.h"
#include "ingest/export.h"
#include "ingest/ingest.h"

#define MAX_BATCH_ROWS 1000000
#define DEFAULT_LIMIT 10000
#define MAX_LIMIT 1000000
#define MAX_IDEMPOTENCY_KEY 200

/* ---- POST /api/v1/data ---- */

/* The rows of a body that holds more than MAX_BATCH_ROWS of them: a cheap bound first (a CSV row ends a
 * line, a JSON row is an object), and an exact count only when the bound is exceeded. 0 when the body is
 * within the limit (or cannot be read: the ingest path then reports why). */
static int64_t rows_beyond_limit(const char *data, size_t len, const char *format) {
  int csv = strcmp(format, "csv") == 0;
  int64_t bound = 0;
  for (const char *p = data, *end = data + len; (p = memchr(p, csv ? '\n' : '{', (size_t)(end - p))); p++) bound++;
  if (bound <= MAX_BATCH_ROWS) return 0;
  int64_t rows = 0;
  if (csv) {
    db_diag d = DB_DIAG_INIT;
    db_csv_field *f;
    size_t n;
    long line;
    db_csv *reader;
    if (db_csv_open_mem(data, len, NULL, &d, &reader) == DB_OK) {
      int got;
      while ((got = db_csv_next(reader, &f, &n, &line)) != 0 && got != DB_EIO) rows++;
      db_csv_close(reader);
    }
    db_diag_free(&d);
    rows--; /* the header */
  } else {
    json_t *root = json_loadb(data, len, 0, NULL);
    json_t *arr = json_is_object(root) ? json_object_get(root, "observations") : root;
    rows = json_is_array(arr) ? (int64_t)json_array_size(arr) : 0;
    json_decref(root);
  }
  return rows > MAX_BATCH_ROWS ? rows : 0;
}

/* The write guard of the batch: the caller's right to write indicator ind at unit. */
static int may_write(void *ctx, const db_indicator *ind, const db_orgunit *unit, const char **why) {
  const db_req *r = ctx;
  return db_auth_may_write(&r->who, r->cat, ind, unit->code, why);
}

/* 1 when an Idempotency-Key is well formed: 1 to MAX_IDEMPOTENCY_KEY visible ASCII characters. */
static int key_ok(const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < n; i++)
    if (key[i] < 0x21 || key[i] > 0x7e) return 0;
  return n >= 1 && n <= MAX_IDEMPOTENCY_KEY;
}

/* Answers a rejected batch: 403 when the guard refused a row, 400 otherwise; every problem listed. */
static void answer_rejected(db_resp *w, const db_diag *d) {
  size_t refused = 0, total = db_diag_total(d);
  for (size_t i = 0; i < d->count; i++) refused += d->items[i].code == DB_EPERM;
  db_buf detail = DB_BUF_INIT;
  db_diag located = DB_DIAG_INIT;
  db__h_locate(d, &located);
  if (refused)
    db_buf_printf(&detail, "the caller may not write %zu of the rows (%zu problem%s in all); nothing was written",
                  refused, total, total == 1 ? "" : "s");
  else
    db_buf_printf(&detail, "the batch has %zu problem%s; nothing was written", total, total == 1 ? "" : "s");
  db_resp_problem(w, refused ? 403 : 400, refused ? "Forbidden rows" : "Invalid observations", db_buf_str(&detail),
                  &located);
  db_diag_free(&located);
  db_buf_free(&detail);
}

int db_h_data_post(db_req *r, db_resp *w) {
  const char *format = db__h_body_format(r, w);
  if (!format) return 0;
  const char *key = db_req_header(r, "Idempotency-Key");
  if (key && !key_ok(key))
    return db__h_problem(w, 400, "Idempotency-Key", "an Idempotency-Key is 1 to %d visible ASCII characters",
                         MAX_IDEMPOTENCY_KEY);
  int64_t rows = rows_beyond_limit(r->body, r->body_len, format);
  if (rows)
    return db__h_problem(w, 413, "$", "the batch has %lld rows; at most %d are taken in one batch", (long long)rows,
                         MAX_BATCH_ROWS);
  db_batch_info info = {.idempotency_key = key, .source = "api", .actor = r->who.name};
  db_diag d = DB_DIAG_INIT;
  db_ingest_result res;
  db_batch_summary first = {0};
  db_store *s = db_app_write_begin(r->app);
  const char *reason = db_req_header(r, "X-Change-Reason"); /* needed to change approved values (ingest.h) */
  int rc = db_ingest_buffer(s, r->cat, r->body, r->body_len, format, &info, reason, may_write, r, &d, &res);
  int replayed = rc == DB_EEXIST;
  if (replayed) rc = db_store_batch_find(s, key, &first);
  else if (!rc) {
    db_commit c = {res.seq, info.actor, info.source, db_now_ms(), res.changes, res.n_changes};
    db_app_data_committed(r->app, &c);
  }
  db_app_write_end(r->app);
  if (rc == DB_EINVAL) {
    answer_rejected(w, &d);
    rc = 0;
  } else if (!rc && replayed) {
    db_resp_text(w, 201, "application/json", first.result_json, strlen(first.result_json));
    db_resp_header(w, "Idempotent-Replayed", "true");
  } else if (!rc) {
    db_app_rows_ingested(r->app, res.rows);
    db_resp_json(w, 201, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "seq", (json_int_t)res.seq, "rows",
                                   (json_int_t)res.rows, "inserted", (json_int_t)res.inserted, "revised",
                                   (json_int_t)res.revised, "unchanged", (json_int_t)res.unchanged, "new_series",
                                   (json_int_t)res.new_series));
  }
  db_batch_summary_free(&first);
  db_ingest_result_free(&res);
  db_diag_free(&d);
  return rc;
}

/* ---- pages of observations ---- */

/* Where a row sorts in the store's order. */
typedef struct row_key {
  int64_t indicator, orgunit, period;
  db_buf dimkey;
} row_key;

/* -1, 0, 1 as row r sorts before, with or after key k. */
static int compare_key(const db_obs_row *r, const row_key *k) {
  if (r->indicator != k->indicator) return r->indicator < k->indicator ? -1 : 1;
  if (r->orgunit != k->orgunit) return r->orgunit < k->orgunit ? -1 : 1;
  int c = strcmp(r->dimkey ? r->dimkey : "", db_buf_str(&k->dimkey));
  if (c) return c < 0 ? -1 : 1;
  return r->period < k->period ? -1 : r->period > k->period;
}

/* A scan of the store that keeps the rows of one page and hands them to emit. */
typedef struct pager {
  const char *dimkey;     /* only the series of this dimension key; NULL = every series */
  int64_t from_ms, to_ms; /* only periods that overlap [from_ms, to_ms); 0 = open */
  int has_after;          /* only rows after `after` (a cursor) */
  row_key after;
  int64_t limit;          /* rows of the page; 0 = no limit */
  int64_t n;              /* rows emitted */
  int more;               /* a row beyond the page exists */
  row_key last;           /* the last row emitted */
  db_obs_cb emit;
  void *emit_ctx;
} pager;

static int page_row(void *ctx, const db_obs_row *row) {
  pager *pg = ctx;
  if (pg->dimkey && strcmp(row->dimkey ? row->dimkey : "", pg->dimkey) != 0) return 0;
  if (pg->from_ms || pg->to_ms) {
    db_period p;
    if (db_period_from_key(row->period, &p) != 0) return 0;
    if (pg->from_ms && db_period_end_ms(&p) <= pg->from_ms) return 0;
    if (pg->to_ms && db_period_start_ms(&p) >= pg->to_ms) return 0;
  }
  if (pg->has_after && compare_key(row, &pg->after) <= 0) return 0;
  if (pg->limit && pg->n == pg->limit) {
    pg->more = 1;
    return 1;
  }
  pg->n++;
  pg->last.indicator = row->indicator;
  pg->last.orgunit = row->orgunit;
  pg->last.period = row->period;
  db_buf_clear(&pg->last.dimkey);
  db_buf_puts(&pg->last.dimkey, row->dimkey ? row->dimkey : "");
  return pg->emit(pg->emit_ctx, row);
}

static void pager_free(pager *pg) {
  db_buf_free(&pg->after.dimkey);
  db_buf_free(&pg->last.dimkey);
}

/* A store whose only operation is obs_read, which reads the inner store through a pager: db_export_csv
 * (which reads observations through db_store_obs_read alone) then writes exactly the page. */
typedef struct paged_store {
  db_store base;
  db_store *inner;
  pager *pg;
} paged_store;

static int paged_obs_read(db_store *s, const db_obs_filter *f, db_obs_cb cb, void *ctx) {
  paged_store *ps = (paged_store *)s;
  ps->pg->emit = cb;
  ps->pg->emit_ctx = ctx;
  return db_store_obs_read(ps->inner, f, page_row, ps->pg);
}

static const db_store_ops paged_ops = {.scheme = "paged", .obs_read = paged_obs_read};

typedef struct csv_page {
  db_store *store;
  const db_catalog *cat;
  const db_obs_filter *f;
  pager *pg;
} csv_page;

static int write_csv_page(void *ctx, FILE *out) {
  csv_page *cp = ctx;
  paged_store ps = {{&paged_ops}, cp->store, cp->pg};
  db_export_opts opts = {.header = 1};
  return db_export_csv(&ps.base, cp->cat, cp->f, &opts, out, NULL);
}

/* ---- cursors: the last row's key as hex of "indicator:orgunit:period:dimkey" ---- */

static void cursor_encode(const row_key *k, db_buf *out) {
  static const char hex[] = "0123456789abcdef";
  db_buf text = DB_BUF_INIT;
  db_buf_printf(&text, "%lld:%lld:%lld:%s", (long long)k->indicator, (long long)k->orgunit, (long long)k->period,
                db_buf_str(&k->dimkey));
  for (size_t i = 0; i < text.len; i++) {
    db_buf_putc(out, hex[(unsigned char)text.data[i] >> 4]);
    db_buf_putc(out, hex[(unsigned char)text.data[i] & 15]);
  }
  db_buf_free(&text);
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 0 and *k, or DB_EINVAL when s is not a cursor of this API. */
static int cursor_decode(const char *s, row_key *k) {
  size_t n = strlen(s);
  if (n == 0 || n % 2 || n > 1024) return DB_EINVAL;
  char text[513];
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return DB_EINVAL;
    text[i] = (char)(hi << 4 | lo);
  }
  text[n / 2] = '\0';
  long long ind, ou, period;
  int used = -1;
  if (sscanf(text, "%lld:%lld:%lld:%n", &ind, &ou, &period, &used) != 3 || used < 0 || strlen(text) != n / 2)
    return DB_EINVAL;
  k->indicator = ind;
  k->orgunit = ou;
  k->period = period;
  db_buf_clear(&k->dimkey);
  db_buf_puts(&k->dimkey, text + used);
  return 0;
}

/* ---- reading the query ---- */

/* from, to and as_of into the filter and the pager. With one indicator whose periodicity the bounds
 * have, they also bound the store's period keys (a range scan instead of a filter). Returns 0, or 1
 * after answering a problem. */
static int read_window(const db_req *r, db_resp *w, const db_indicator *single, db_obs_filter *f, pager *pg) {
  static const char *const names[] = {"from", "to"};
  for (int i = 0; i < 2; i++) {
    const char *code = db_req_query(r, names[i]);
    if (!code) continue;
    db_period p;
    char why[128] = "";
    if (db_period_parse(code, strlen(code), &p, why) != 0)
      return db__h_problem(w, 400, names[i], "'%s' is not a period code: %s", code, why), 1;
    if (i == 0) pg->from_ms = db_period_start_ms(&p);
    else pg->to_ms = db_period_end_ms(&p);
    if (single && p.type == single->periodicity && (!single->period_span || p.span == single->period_span))
      *(i == 0 ? &f->period_from : &f->period_to) = db_period_key(&p);
  }
  const char *as_of = db_req_query(r, "as_of");
  if (as_of && db_parse_time_ms(as_of, &f->as_of_ms) != DB_OK)
    return db__h_problem(w, 400, "as_of", "'%s' is not an RFC 3339 time (2025-07-01T10:00:00+07:00)", as_of), 1;
  if (as_of && f->as_of_ms == 0) f->as_of_ms = -1; /* 0 would mean "now" to the store */
  return 0;
}

typedef struct id_list {
  int64_t *ids;
  size_t n, cap;
} id_list;

static void id_push(id_list *l, int64_t id) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->ids = db_realloc(l->ids, l->cap * sizeof *l->ids);
  }
  l->ids[l->n++] = id;
}

/* The ids of the comma-separated codes of query parameter `name`, resolved by lookup (NULL when a
 * code is unknown or hidden). Returns 0, or 1 after answering 404. */
static int read_codes(const db_req *r, db_resp *w, const char *name, const char *noun,
                      int64_t (*lookup)(const db_req *r, const char *code), id_list *out) {
  const char *list = db_req_query(r, name);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char *code = db_strndup(p, len);
    int64_t id = lookup(r, code);
    if (id < 0) {
      db__h_problem(w, 404, name, "unknown %s '%s'", noun, code);
      db_free(code);
      return 1;
    }
    id_push(out, id);
    db_free(code);
    p = end ? end + 1 : p + len;
  }
  return 0;
}

static int64_t indicator_id(const db_req *r, const char *code) {
  const db_indicator *ind = db_catalog_indicator(r->cat, code);
  return db__h_visible(r, ind) ? ind->id : -1;
}

static int64_t unit_id(const db_req *r, const char *code) {
  const db_orgunit *u = db_catalog_unit(r->cat, code);
  return u ? u->id : -1;
}

/* ---- GET /api/v1/data ---- */

/* The JSON page being written. */
typedef struct json_page {
  const db_catalog *cat;
  db_map ind_by_id, unit_by_id; /* store id -> catalog index */
  db_buf out;
} json_page;

static int json_row(void *ctx, const db_obs_row *row) {
  json_page *jp = ctx;
  int64_t ind = -1, unit = -1;
  db_map_get(&jp->ind_by_id, &row->indicator, sizeof row->indicator, &ind);
  db_map_get(&jp->unit_by_id, &row->orgunit, sizeof row->orgunit, &unit);
  db_period p;
  char period[DB_PERIOD_CODE_MAX];
  /* an object newer than the request's catalog snapshot: left out, as db_export_csv does */
  if (ind < 0 || unit < 0 || db_period_from_key(row->period, &p) != 0) return 0;
  db_period_format(&p, period);
  db_buf *b = &jp->out;
  db_buf_puts(b, b->data[b->len - 1] == '[' ? "{\"indicator\":" : ",{\"indicator\":");
  db__h_json_string(b, jp->cat->indicators[ind].code);
  db_buf_puts(b, ",\"orgunit\":");
  db__h_json_string(b, jp->cat->units[unit].code);
  db_buf_printf(b, ",\"period\":\"%s\",\"value\":", period);
  db_buf_double(b, row->value);
  db_buf_printf(b, ",\"status\":\"%s\",\"revision\":%d", db_obs_status_name(row->status), row->revision);
  if (row->dimkey && *row->dimkey) {
    db_buf_puts(b, ",\"dims\":");
    db__h_json_string(b, row->dimkey);
  }
  db_buf_putc(b, '}');
  return 0;
}

/* The indicators of the query: those named, else every one the caller sees (NULL for all when the
 * caller sees all), narrowed after a cursor to those from the cursor's on. An empty result is the
 * list {-1}, which matches nothing. */
static void scope_indicators(const db_req *r, const pager *pg, id_list *named, id_list *out) {
  int all = named->n == 0;
  if (all && db__h_sees_all(r) && !pg->has_after) return;
  const db_catalog *c = r->cat;
  size_t n = all ? c->n_indicators : named->n;
  for (size_t i = 0; i < n; i++) {
    int64_t id = all ? c->indicators[i].id : named->ids[i];
    if (all && !db__h_visible(r, &c->indicators[i])) continue;
    if (!pg->has_after || id >= pg->after.indicator) id_push(out, id);
  }
  if (!out->n) id_push(out, -1);
}

int db_h_data_get(db_req *r, db_resp *w) {
  const char *children_of = db_req_query(r, "children_of"), *limit_text = db_req_query(r, "limit");
  const char *cursor = db_req_query(r, "cursor");
  id_list named = {0}, inds = {0}, units = {0};
  pager pg = {.limit = DEFAULT_LIMIT};
  db_obs_filter f = {0};
  json_page jp = {.cat = r->cat};
  int rc = 0;
  if (read_codes(r, w, "indicator", "indicator", indicator_id, &named) ||
      read_codes(r, w, "orgunit", "org unit", unit_id, &units))
    goto done;
  if (children_of) {
    const db_orgunit *parent = db_catalog_unit(r->cat, children_of);
    if (!parent) {
      db__h_problem(w, 404, "children_of", "unknown org unit '%s'", children_of);
      goto done;
    }
    const int64_t *kids;
    size_t n = db_catalog_children(r->cat, (size_t)(parent - r->cat->units), &kids);
    for (size_t k = 0; k < n; k++) id_push(&units, r->cat->units[kids[k]].id);
    if (!units.n) id_push(&units, -1); /* no children: nothing matches */
  }
  if (limit_text && (db_parse_int64(limit_text, strlen(limit_text), &pg.limit) != DB_OK || pg.limit < 1 ||
                     pg.limit > MAX_LIMIT)) {
    db__h_problem(w, 400, "limit", "'%s' is not a row count from 1 to %d", limit_text, MAX_LIMIT);
    goto done;
  }
  if (cursor && cursor_decode(cursor, &pg.after) != 0) {
    db__h_problem(w, 400, "cursor", "'%s' is not a cursor that this API gave", cursor);
    goto done;
  }
  pg.has_after = cursor != NULL;
  const db_indicator *single = named.n == 1 ? db_catalog_indicator(r->cat, db_req_query(r, "indicator")) : NULL;
  if (read_window(r, w, single, &f, &pg)) goto done;
  scope_indicators(r, &pg, &named, &inds);
  f.indicators = inds.ids;
  f.n_indicators = inds.n;
  f.orgunits = units.ids;
  f.n_orgunits = units.n;
  if (strcmp(db_req_format(r), "csv") == 0) {
    csv_page cp = {r->store, r->cat, &f, &pg};
    rc = db__h_answer_stream(w, DB__H_CSV, write_csv_page, &cp);
  } else {
    for (size_t i = 0; i < r->cat->n_indicators; i++)
      db_map_put(&jp.ind_by_id, &r->cat->indicators[i].id, sizeof(int64_t), (int64_t)i);
    for (size_t i = 0; i < r->cat->n_units; i++)
      db_map_put(&jp.unit_by_id, &r->cat->units[i].id, sizeof(int64_t), (int64_t)i);
    db_buf_puts(&jp.out, "{\"observations\":[");
    pg.emit = json_row;
    pg.emit_ctx = &jp;
    rc = db_store_obs_read(r->store, &f, page_row, &pg);
    db_buf_putc(&jp.out, ']');
  }
  if (rc) goto done;
  if (pg.more) {
    db_buf next = DB_BUF_INIT;
    cursor_encode(&pg.last, &next);
    db_resp_header(w, "Next-Cursor", db_buf_str(&next));
    if (jp.out.len) db_buf_printf(&jp.out, ",\"next_cursor\":\"%s\"", db_buf_str(&next));
    db_buf_free(&next);
  }
  if (jp.out.len) {
    db_buf_putc(&jp.out, '}');
    db_resp_text(w, 200, "application/json", jp.out.data, jp.out.len);
  }
done:
  db_map_free(&jp.ind_by_id);
  db_map_free(&jp.unit_by_id);
  db_buf_free(&jp.out);
  db_free(named.ids);
  db_free(inds.ids);
  db_free(units.ids);
  pager_free(&pg);
  return rc;
}

/* ---- GET /api/v1/series/{indicator}/{orgunit} ---- */

typedef struct dim_pair {
  const char *text; /* "SEX=F" */
  size_t len, code_len;
} dim_pair;

static int by_dimension(const void *a, const void *b) {
  const dim_pair *x = a, *y = b;
  size_t n = x->code_len < y->code_len ? x->code_len : y->code_len;
  int c = memcmp(x->text, y->text, n);
  return c ? c : (x->code_len > y->code_len) - (x->code_len < y->code_len);
}

/* The dimension key of "B=y;A=x" in the store's form ("A=x;B=y": pairs sorted by dimension code) into
 * out; DB_EINVAL when a pair is not CODE=ITEM or a dimension repeats. */
static int canonical_dims(const char *dims, db_buf *out) {
  dim_pair pairs[16];
  size_t n = 0;
  for (const char *p = dims; *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (n == 16 || !eq || eq == p || eq == p + len - 1) return DB_EINVAL;
    pairs[n++] = (dim_pair){p, len, (size_t)(eq - p)};
    p = end ? end + 1 : p + len;
  }
  qsort(pairs, n, sizeof *pairs, by_dimension);
  for (size_t i = 0; i < n; i++) {
    if (i && by_dimension(&pairs[i - 1], &pairs[i]) == 0) return DB_EINVAL;
    if (i) db_buf_putc(out, ';');
    db_buf_append(out, pairs[i].text, pairs[i].len);
  }
  return 0;
}

static int series_row(void *ctx, const db_obs_row *row) {
  db_buf *b = ctx;
  db_period p;
  char period[DB_PERIOD_CODE_MAX];
  if (db_period_from_key(row->period, &p) != 0) return DB_ESTORE;
  db_period_format(&p, period);
  db_buf_printf(b, "%s{\"period\":\"%s\",\"value\":", b->data[b->len - 1] == '[' ? "" : ",", period);
  db_buf_double(b, row->value);
  db_buf_printf(b, ",\"status\":\"%s\",\"revision\":%d}", db_obs_status_name(row->status), row->revision);
  return 0;
}

int db_h_series_get(db_req *r, db_resp *w) {
  const db_indicator *ind = db_catalog_indicator(r->cat, r->params[0]);
  const db_orgunit *u = db_catalog_unit(r->cat, r->params[1]);
  const char *dims = db_req_query(r, "dims");
  if (!db__h_visible(r, ind)) return db__h_problem(w, 404, "indicator", "unknown indicator '%s'", r->params[0]);
  if (!u) return db__h_problem(w, 404, "orgunit", "unknown org unit '%s'", r->params[1]);
  db_buf dimkey = DB_BUF_INIT, out = DB_BUF_INIT;
  pager pg = {.dimkey = ""};
  db_obs_filter f = {.indicators = &ind->id, .n_indicators = 1, .orgunits = &u->id, .n_orgunits = 1};
  int rc = 0;
  if (dims && canonical_dims(dims, &dimkey) != 0) {
    db__h_problem(w, 400, "dims", "'%s' is not a list of DIMENSION=ITEM pairs separated by ';'", dims);
    goto done;
  }
  pg.dimkey = db_buf_str(&dimkey);
  if (read_window(r, w, ind, &f, &pg)) goto done;
  if (strcmp(db_req_format(r), "csv") == 0) {
    csv_page cp = {r->store, r->cat, &f, &pg};
    rc = db__h_answer_stream(w, DB__H_CSV, write_csv_page, &cp);
    goto done;
  }
  db_buf_puts(&out, "{\"indicator\":");
  db__h_json_string(&out, ind->code);
  db_buf_puts(&out, ",\"orgunit\":");
  db__h_json_string(&out, u->code);
  db_buf_puts(&out, ",\"dims\":");
  db__h_json_string(&out, pg.dimkey);
  db_buf_printf(&out, ",\"periodicity\":\"%s\",\"unit\":", db_period_type_name(ind->periodicity));
  if (ind->unit) db__h_json_string(&out, ind->unit);
  else db_buf_puts(&out, "null");
  db_buf_printf(&out, ",\"decimals\":%d,\"observations\":[", ind->decimals);
  pg.emit = series_row;
  pg.emit_ctx = &out;
  if ((rc = db_store_obs_read(r->store, &f, page_row, &pg)) != 0) goto done;
  db_buf_puts(&out, "]}");
  db_resp_text(w, 200, "application/json", out.data, out.len);
done:
  db_buf_free(&dimkey);
  db_buf_free(&out);
  pager_free(&pg);
  return rc;
}
