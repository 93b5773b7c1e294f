/* h_analytics.c - the analytics routes: GET /api/v1/analytics (a grid of indicators x units x periods
 * with report transforms) and GET /api/v1/rank (the ranking of the children of a unit), both computed on
 * the request's cube version (analytics/analytics.h), never on the database.
 *
 * GET /api/v1/analytics
 *   indicator   codes, comma-separated (required); an unknown one, or one the caller may not see, is 404
 *   orgunit     unit codes, comma-separated, and/or
 *   children_of the children of a unit that existed during the window (or at any time, without one)
 *   from, to    period codes of any type: each indicator's periods that overlap [start of from, end of
 *               to]; a bound left out is the indicator's first or last period with data
 *   transforms  value (default), yoy, yoy_pct, prev, mom, ytd, plan, plan_pct, rank, status
 *   rebase      true: periods before a unit existed take its predecessors' values through the
 *               successions' weights (the history of the 2025 units in today's units); default false
 *   limit       rows per page (default DEFAULT_PAGE, at most MAX_PAGE); cursor: the next page
 * Rows are ordered by indicator and unit as asked, then period. JSON answers {version, transforms,
 * total_rows, rows: [{indicator, orgunit, period, <transform>: value or null..., count, expected}],
 * next_cursor}; CSV answers the columns indicator, orgunit, period, the transforms, count, expected (a
 * missing value is an empty cell). status is on_track, at_risk or off_track; rank a whole number. When more
 * rows remain, the cursor is also in the Next-Cursor header. A grid of more than MAX_CELLS cells (rows x
 * transforms) is refused with 413 before anything is computed.
 *
 * GET /api/v1/rank
 *   indicator (one), period (of the indicator's periodicity), children_of (or parent): the unit whose
 *   children (those that existed in the period) are ranked; transform: value (default), yoy, yoy_pct,
 *   prev, mom, ytd, plan, plan_pct; limit: the first N only.
 * JSON answers {indicator, period, parent, transform, polarity, version, units: [{rank, orgunit, name,
 * value[, <transform>]}], without_value}; CSV the columns rank, orgunit, name, value[, transform]. Best first
 * by the indicator's polarity; ties share the best rank; children without a value are counted in
 * without_value. Public callers see public indicators only (others are 404, as if unknown). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/h_util.h"
#include "http/xlsx.h"
#include "http/handlers.h"

#define MAX_CELLS 2000000
#define DEFAULT_PAGE 10000
#define MAX_PAGE 100000
#define MAX_LIST 10000 /* codes in one list parameter */

/* ---- reading the query ---- */

typedef struct index_list {
  size_t *at;
  size_t n, cap;
} index_list;

static void list_push(index_list *l, size_t i) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    l->at = db_realloc(l->at, l->cap * sizeof *l->at);
  }
  l->at[l->n++] = i;
}

/* Calls item(ctx, code, len) for each comma-separated code of text, stopping at the first nonzero
 * return, which it returns. */
static int each_code(const char *text, int (*item)(void *ctx, const char *code, size_t len), void *ctx) {
  for (const char *p = text; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int rc = item(ctx, p, len);
    if (rc) return rc;
    p = end ? end + 1 : p + len;
  }
  return 0;
}

/* Resolving a list of codes of one kind into catalog indices (404 on the first unknown one). */
typedef struct code_reader {
  const db_req *r;
  db_resp *w;
  const char *param, *noun;
  int indicators; /* 1: indicator codes (visible to the caller), 0: unit codes */
  index_list *out;
} code_reader;

static int read_code(void *ctx, const char *code, size_t len) {
  code_reader *cr = ctx;
  char *c = db_strndup(code, len);
  const db_catalog *cat = cr->r->cat;
  int64_t at = -1;
  if (cr->indicators) {
    const db_indicator *ind = db_catalog_indicator(cat, c);
    if (db__h_visible(cr->r, ind)) at = ind - cat->indicators;
  } else {
    const db_orgunit *u = db_catalog_unit(cat, c);
    if (u) at = u - cat->units;
  }
  int stop = 1;
  if (at < 0)
    db__h_problem(cr->w, 404, cr->param, "unknown %s '%s'", cr->noun, c);
  else if (cr->out->n == MAX_LIST)
    db__h_problem(cr->w, 400, cr->param, "more than %d codes in one list", MAX_LIST);
  else
    list_push(cr->out, (size_t)at), stop = 0;
  db_free(c);
  return stop;
}

/* The catalog indices of the codes of parameter `param`; returns 0, or 1 after answering. */
static int read_codes(const db_req *r, db_resp *w, const char *param, const char *noun, int indicators,
                      index_list *out) {
  code_reader cr = {r, w, param, noun, indicators, out};
  return each_code(db_req_query(r, param), read_code, &cr);
}

/* Parses period parameter `param` (absent: *has = 0). Returns 0, or 1 after answering 400. */
static int read_period(const db_req *r, db_resp *w, const char *param, db_period *p, int *has) {
  const char *code = db_req_query(r, param);
  char why[128] = "";
  *has = code != NULL;
  if (code && db_period_parse(code, strlen(code), p, why) != 0)
    return db__h_problem(w, 400, param, "'%s' is not a period code: %s", code, why), 1;
  return 0;
}

typedef struct transform_reader {
  db_resp *w;
  db_transform *out;
  size_t n;
  unsigned seen;
} transform_reader;

static int read_transform(void *ctx, const char *name, size_t len) {
  transform_reader *tr = ctx;
  db_transform t;
  if (db_transform_parse(name, len, &t) != 0)
    return db__h_problem(
               tr->w, 400, "transforms",
               "'%.*s' is not a transform (value, yoy, yoy_pct, prev, mom, ytd, plan, plan_pct, rank, "
               "status)",
               (int)len, name),
           1;
  if (tr->seen & (1u << t))
    return db__h_problem(tr->w, 400, "transforms", "transform %s is asked for twice", db_transform_name(t)),
           1;
  tr->seen |= 1u << t;
  tr->out[tr->n++] = t;
  return 0;
}

/* A whole number parameter within [lo, hi] (absent: *out unchanged). Returns 0, or 1 after answering. */
static int read_count(const db_req *r, db_resp *w, const char *param, int64_t lo, int64_t hi, int64_t *out) {
  const char *text = db_req_query(r, param);
  if (text && (db_parse_int64(text, strlen(text), out) != DB_OK || *out < lo || *out > hi))
    return db__h_problem(w, 400, param, "'%s' is not a whole number from %lld to %lld", text, (long long)lo,
                         (long long)hi),
           1;
  return 0;
}

/* The unit named by children_of (or its alias parent, when given): 0 and *unit (-1 when neither is
 * given), or 1 after answering 404. */
static int read_parent(const db_req *r, db_resp *w, int64_t *unit) {
  const char *param = db_req_query(r, "children_of") ? "children_of" : "parent",
             *code = db_req_query(r, param);
  const db_orgunit *u = code ? db_catalog_unit(r->cat, code) : NULL;
  *unit = u ? u - r->cat->units : -1;
  if (code && !u) return db__h_problem(w, 404, param, "unknown org unit '%s'", code), 1;
  return 0;
}

/* ---- writing values ---- */

static void put_period(db_buf *b, const db_period *p) {
  char code[DB_PERIOD_CODE_MAX];
  db_period_format(p, code);
  db_buf_puts(b, code);
}

/* A cell of transform t: JSON (null, a string for status) or CSV (empty when missing). */
static void put_cell(db_buf *b, db_transform t, double v, int json) {
  const char *status = t == DB_TF_STATUS ? db_target_status_name(v) : NULL;
  if (isnan(v) || (t == DB_TF_STATUS && !status)) {
    db_buf_puts(b, json ? "null" : "");
  } else if (status) {
    if (json) db_buf_putc(b, '"');
    db_buf_puts(b, status);
    if (json) db_buf_putc(b, '"');
  } else {
    db_buf_double(b, v);
  }
}

/* A code as a JSON string or a CSV field. */
static void put_text(db_buf *b, const char *s, int json) {
  if (json)
    db__h_json_string(b, s);
  else
    db_buf_csv_field(b, s);
}

/* ---- GET /api/v1/analytics ---- */

typedef struct grid_page {
  const db_catalog *cat;
  const db_analytics_grid *g;
  int json;
  int64_t n;                /* rows written */
  size_t ind, unit;         /* the (indicator, unit) block whose row start is in `head` */
  db_buf head;              /* the start of its rows, up to the period: {"indicator":…,"period":" */
  db_buf keys[DB_TF_COUNT]; /* what precedes each transform's value: ,"yoy": (JSON) or , (CSV) */
  db_buf out;
} grid_page;

/* Writes what every row of an (indicator, unit) block starts with, and each transform's key. */
static void page_head(grid_page *pg, size_t ind, size_t unit) {
  int json = pg->json;
  pg->ind = ind;
  pg->unit = unit;
  db_buf_clear(&pg->head);
  if (json) db_buf_puts(&pg->head, "{\"indicator\":");
  put_text(&pg->head, pg->cat->indicators[ind].code, json);
  db_buf_puts(&pg->head, json ? ",\"orgunit\":" : ",");
  put_text(&pg->head, pg->cat->units[unit].code, json);
  db_buf_puts(&pg->head, json ? ",\"period\":\"" : ",");
}

static void page_init(grid_page *pg) {
  for (size_t t = 0; t < pg->g->n_transforms; t++) {
    if (pg->json)
      db_buf_printf(&pg->keys[t], ",\"%s\":", db_transform_name(pg->g->transforms[t]));
    else
      db_buf_putc(&pg->keys[t], ',');
  }
  pg->ind = pg->unit = SIZE_MAX; /* no block yet */
}

static void page_free(grid_page *pg) {
  for (size_t t = 0; t < DB_TF_COUNT; t++) db_buf_free(&pg->keys[t]);
  db_buf_free(&pg->head);
  db_buf_free(&pg->out);
}

static int write_row(void *ctx, const db_analytics_row *row) {
  grid_page *pg = ctx;
  db_buf *b = &pg->out;
  int json = pg->json;
  if (row->indicator != pg->ind || row->unit != pg->unit) page_head(pg, row->indicator, row->unit);
  if (json && pg->n) db_buf_putc(b, ',');
  db_buf_append(b, pg->head.data, pg->head.len);
  put_period(b, &row->period);
  if (json) db_buf_putc(b, '"');
  for (size_t t = 0; t < pg->g->n_transforms; t++) {
    db_buf_append(b, pg->keys[t].data, pg->keys[t].len);
    put_cell(b, pg->g->transforms[t], row->cells[t], json);
  }
  db_buf_puts(b, json ? ",\"count\":" : ",");
  db_buf_double(b, row->count); /* whole numbers: no printf */
  db_buf_puts(b, json ? ",\"expected\":" : ",");
  db_buf_double(b, row->expected);
  db_buf_puts(b, json ? "}" : "\n");
  pg->n++;
  return 0;
}

/* Appends to units the children of parent that existed at some time in the window. */
static void add_children(const db_req *r, int64_t parent, int has_from, const db_period *from, int has_to,
                         const db_period *to, index_list *units) {
  const int64_t *kids;
  size_t n = db_catalog_children(r->cat, (size_t)parent, &kids);
  int64_t lo = has_from ? db_period_start_ms(from) : INT64_MIN / 2,
          hi = has_to ? db_period_end_ms(to) : INT64_MAX / 2;
  for (size_t i = 0; i < n; i++)
    if (db_analytics_unit_active(&r->cat->units[kids[i]], lo, hi)) list_push(units, (size_t)kids[i]);
}

/* The cursor of the page after `offset` rows: "g" and the offset in hex; -1 when text is not one. */
static int64_t cursor_offset(const char *text) {
  if (text[0] != 'g' || !text[1] || strlen(text) > 17) return -1;
  int64_t v = 0;
  for (const char *p = text + 1; *p; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0 || v > (INT64_MAX >> 4)) return -1;
    v = v << 4 | d;
  }
  return v;
}

int db_h_analytics(db_req *r, db_resp *w) {
  index_list inds = {0}, units = {0};
  db_transform tf[DB_TF_COUNT];
  transform_reader tr = {w, tf, 0, 0};
  db_period from, to;
  int has_from, has_to, rc = 0;
  int64_t parent, limit = DEFAULT_PAGE, offset = 0, rows = 0;
  const char *cursor = db_req_query(r, "cursor"), *transforms = db_req_query(r, "transforms");
  int xlsx = db__h_wants_xlsx(r); /* the CSV table, as a workbook */
  grid_page pg = {.cat = r->cat, .json = !xlsx && strcmp(db_req_format(r), "csv") != 0};
  if (read_codes(r, w, "indicator", "indicator", 1, &inds) ||
      read_codes(r, w, "orgunit", "org unit", 0, &units) || read_parent(r, w, &parent) ||
      read_period(r, w, "from", &from, &has_from) || read_period(r, w, "to", &to, &has_to) ||
      each_code(transforms ? transforms : "value", read_transform, &tr) ||
      read_count(r, w, "limit", 1, MAX_PAGE, &limit))
    goto done;
  if (!inds.n) {
    db__h_problem(w, 400, "indicator", "give the indicators: indicator=CODE[,CODE...]");
    goto done;
  }
  if (!tr.n) {
    db__h_problem(w, 400, "transforms",
                  "give at least one transform (value, yoy, yoy_pct, prev, mom, ytd, plan, "
                  "plan_pct, rank, status)");
    goto done;
  }
  if (has_from && has_to && db_period_start_ms(&from) >= db_period_end_ms(&to)) {
    db__h_problem(w, 400, "to", "the period range ends before it starts");
    goto done;
  }
  if (parent >= 0) add_children(r, parent, has_from, &from, has_to, &to, &units);
  if (!units.n && parent < 0) {
    db__h_problem(w, 400, "orgunit", "give the units: orgunit=CODE[,CODE...] and/or children_of=CODE");
    goto done;
  }
  db_analytics_ctx c = {r->cube, r->cat, r->plans, r->derive, NULL};
  const char *rebase = db_req_query(r, "rebase");
  if (rebase && strcmp(rebase, "true") != 0 && strcmp(rebase, "false") != 0) {
    db__h_problem(w, 400, "rebase", "rebase is true or false");
    goto done;
  }
  db_analytics_grid g = {inds.at, inds.n, units.at, units.n, has_from ? &from : NULL, has_to ? &to : NULL,
                         tf,      tr.n,    rebase && strcmp(rebase, "true") == 0};
  pg.g = &g;
  page_init(&pg);
  if ((rc = db_analytics_grid_size(&c, &g, &rows)) != 0) goto done;
  if (rows * (int64_t)tr.n > MAX_CELLS) {
    db__h_problem(
        w, 413, "indicator",
        "the grid has %lld cells (%lld rows of %zu indicators x %zu units x their periods, times %zu "
        "transforms); at most %d are computed in one request: ask for fewer indicators, units, periods "
        "or transforms",
        (long long)(rows * (int64_t)tr.n), (long long)rows, inds.n, units.n, tr.n, MAX_CELLS);
    goto done;
  }
  if (cursor && ((offset = cursor_offset(cursor)) < 0 || offset > rows)) {
    db__h_problem(w, 400, "cursor", "'%s' is not a cursor of this grid", cursor);
    goto done;
  }
  if (pg.json) {
    db_buf_printf(&pg.out, "{\"version\":%llu,\"transforms\":[",
                  (unsigned long long)db_cube_version_number(r->cube));
    for (size_t t = 0; t < tr.n; t++)
      db_buf_printf(&pg.out, "%s\"%s\"", t ? "," : "", db_transform_name(tf[t]));
    db_buf_printf(&pg.out, "],\"total_rows\":%lld,\"rows\":[", (long long)rows);
  } else {
    db_buf_puts(&pg.out, "indicator,orgunit,period");
    for (size_t t = 0; t < tr.n; t++) db_buf_printf(&pg.out, ",%s", db_transform_name(tf[t]));
    db_buf_puts(&pg.out, ",count,expected\n");
  }
  db_diag d = DB_DIAG_INIT;
  c.diag = &d;
  rc = db_analytics_grid_run(&c, &g, offset, limit, write_row, &pg);
  if (rc == DB_ETOOBIG || (rc && d.count)) { /* a roll-up too large, or a formula that failed: the caller's */
    db_resp_error(w, rc, "the grid cannot be computed", &d);
    rc = 0;
    db_diag_free(&d);
    goto done;
  }
  db_diag_free(&d);
  if (rc) goto done;
  char next[24] = "";
  if (offset + pg.n < rows) snprintf(next, sizeof next, "g%llx", (unsigned long long)(offset + pg.n));
  if (pg.json) {
    db_buf_putc(&pg.out, ']');
    if (next[0]) db_buf_printf(&pg.out, ",\"next_cursor\":\"%s\"", next);
    db_buf_putc(&pg.out, '}');
  }
  if (xlsx) {
    static const char *const text_columns[] = {"indicator", "orgunit", "period", "status", NULL};
    rc = db__h_answer_xlsx(w, pg.out.data, pg.out.len, "analytics", text_columns);
  } else {
    db_resp_text(w, 200, pg.json ? "application/json" : DB__H_CSV, pg.out.data, pg.out.len);
  }
  if (!rc && next[0]) db_resp_header(w, "Next-Cursor", next);
done:
  page_free(&pg);
  db_free(inds.at);
  db_free(units.at);
  return rc;
}

/* ---- GET /api/v1/rank ---- */

int db_h_rank(db_req *r, db_resp *w) {
  const char *code = db_req_query(r, "indicator"), *period = db_req_query(r, "period");
  const char *tname = db_req_query(r, "transform");
  const db_indicator *ind = code ? db_catalog_indicator(r->cat, code) : NULL;
  db_transform t = DB_TF_VALUE;
  int64_t parent, limit = INT64_MAX;
  db_period p;
  char why[128] = "";
  if (!code) return db__h_problem(w, 400, "indicator", "give the indicator: indicator=CODE");
  if (!db__h_visible(r, ind)) return db__h_problem(w, 404, "indicator", "unknown indicator '%s'", code);
  if (!period) return db__h_problem(w, 400, "period", "give the period: period=CODE");
  if (db_period_parse_as(period, strlen(period), ind->periodicity, ind->period_span, &p, why) != 0)
    return db__h_problem(w, 400, "period", "%s (indicator %s is %s)", why, ind->code,
                         db_period_type_name(ind->periodicity));
  if (tname && (db_transform_parse(tname, strlen(tname), &t) != 0 || t == DB_TF_RANK || t == DB_TF_STATUS))
    return db__h_problem(
        w, 400, "transform",
        "'%s' is not a transform to rank on (value, yoy, yoy_pct, prev, mom, ytd, plan, plan_pct)", tname);
  if (read_parent(r, w, &parent) || read_count(r, w, "limit", 1, MAX_PAGE, &limit)) return 0;
  if (parent < 0)
    return db__h_problem(w, 400, "children_of", "give the unit whose children are ranked: children_of=CODE");
  index_list units = {0};
  add_children(r, parent, 1, &p, 1, &p, &units);
  db_analytics_ranked *ranked = db_malloc((units.n ? units.n : 1) * sizeof *ranked);
  db_analytics_ctx c = {r->cube, r->cat, r->plans, r->derive, NULL};
  db_diag d = DB_DIAG_INIT;
  c.diag = &d;
  int64_t n = db_analytics_rank(&c, (size_t)(ind - r->cat->indicators), units.at, units.n, &p, t, ranked);
  int rc = 0, xlsx = db__h_wants_xlsx(r), json = !xlsx && strcmp(db_req_format(r), "csv") != 0;
  db_buf b = DB_BUF_INIT;
  if (n < 0) {
    db_resp_error(w, (int)n, "the ranking cannot be computed", &d);
    goto done;
  }
  int64_t shown = n < limit ? n : limit;
  if (json) {
    db_buf_puts(&b, "{\"indicator\":");
    db__h_json_string(&b, ind->code);
    db_buf_puts(&b, ",\"period\":\"");
    put_period(&b, &p);
    db_buf_puts(&b, "\",\"parent\":");
    db__h_json_string(&b, r->cat->units[parent].code);
    db_buf_printf(&b, ",\"transform\":\"%s\",\"polarity\":\"%s\",\"version\":%llu,\"units\":[",
                  db_transform_name(t), db_polarity_name(ind->polarity),
                  (unsigned long long)db_cube_version_number(r->cube));
  } else {
    db_buf_printf(&b, "rank,orgunit,name,value%s%s\n", t == DB_TF_VALUE ? "" : ",",
                  t == DB_TF_VALUE ? "" : db_transform_name(t));
  }
  for (int64_t i = 0; i < shown; i++) {
    const db_orgunit *u = &r->cat->units[ranked[i].unit];
    if (json)
      db_buf_printf(&b, "%s{\"rank\":%lld,\"orgunit\":", i ? "," : "", (long long)ranked[i].rank);
    else
      db_buf_printf(&b, "%lld,", (long long)ranked[i].rank);
    put_text(&b, u->code, json);
    db_buf_puts(&b, json ? ",\"name\":" : ",");
    put_text(&b, u->name ? u->name : "", json);
    db_buf_puts(&b, json ? ",\"value\":" : ",");
    put_cell(&b, DB_TF_VALUE, ranked[i].value, json);
    if (t != DB_TF_VALUE) {
      if (json)
        db_buf_printf(&b, ",\"%s\":", db_transform_name(t));
      else
        db_buf_putc(&b, ',');
      put_cell(&b, t, ranked[i].score, json);
    }
    db_buf_puts(&b, json ? "}" : "\n");
  }
  if (json) db_buf_printf(&b, "],\"without_value\":%lld}", (long long)((int64_t)units.n - n));
  if (xlsx) {
    static const char *const text_columns[] = {"orgunit", "name", NULL};
    rc = db__h_answer_xlsx(w, b.data, b.len, "rank", text_columns);
  } else {
    db_resp_text(w, 200, json ? "application/json" : DB__H_CSV, b.data, b.len);
  }
done:
  db_buf_free(&b);
  db_diag_free(&d);
  db_free(ranked);
  db_free(units.at);
  return rc;
}
