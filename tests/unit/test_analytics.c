/* test_analytics.c - the report transforms (analytics/analytics.h) with exact values: value and roll-ups
 * with their counts, yoy and yoy_pct across year boundaries, prev and mom, ytd of flows, stocks and
 * rates with partial data, leap years (29 February), ISO week 53, quarters and hours; annual plans and
 * percent of plan with a year-to-date flow against an annual plan; target status by polarity and bands;
 * ranks among siblings with ties; rankings on a transform; paging; derived indicators through their
 * engine; units before and after their validity; bad grids. Last, the server's data path in C: a cube
 * built from a store by the lean scan (db_store_obs_scan, both of its paths), then kept current with
 * the change set an ingest batch hands back (db_ingest_keep_changes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "derive/derive.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "testutil.h"

/* ---------- helpers ---------- */

static db_period per(const char *code) {
  db_period p;
  char why[128];
  if (db_period_parse(code, strlen(code), &p, why) != 0) fail_msg("period %s: %s", code, why);
  return p;
}

#define assert_nan(x) assert_true(isnan(x))

/* Exact equality, NAN meaning "missing". */
#define assert_value(got, want)                                    \
  do {                                                             \
    double g_ = (got), w_ = (want);                                \
    if (isnan(w_)) {                                               \
      if (!isnan(g_)) fail_msg("expected missing, got %.17g", g_); \
    } else if (!(g_ == w_)) {                                      \
      fail_msg("expected %.17g, got %.17g", w_, g_);               \
    }                                                              \
  } while (0)

/* The fixture: a city 79 with the wards W1..W4 (always valid) and the legacy district D1 (until
 * 2025-06-30) holding the legacy ward O1; indicators of every shape; data and plans added by the tests,
 * then published into a cube. */
typedef struct fixture {
  db_catalog cat;
  db_cube *cube;
  const db_cube_version *v;
  db_analytics_plans *plans;
  db_obs_row *rows;
  size_t n, cap;
} fixture;

static void add_unit(db_catalog *c, int64_t id, const char *code, const char *parent, const char *valid_to) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.id = id;
  u.code = (char *)code;
  u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = parent ? DB_OU_WARD : DB_OU_CITY;
  if (valid_to) assert_int_equal(db_parse_date(valid_to, strlen(valid_to), &u.valid_to), 0);
  db_catalog_put_unit(c, &u);
}

static void add_indicator(db_catalog *c, int64_t id, const char *code, db_period_type pt, db_agg space,
                          db_agg time, db_polarity pol, const char *formula) {
  db_indicator i;
  db_indicator_init(&i);
  i.id = id;
  i.code = (char *)code;
  i.name = (char *)code;
  i.periodicity = pt;
  i.agg_space = space;
  i.agg_time = time;
  i.polarity = pol;
  i.formula = (char *)formula;
  if (!strcmp(code, "LO")) { /* bands of its own */
    i.band_at_risk = 95;
    i.band_off_track = 80;
  }
  db_catalog_put_indicator(c, &i);
}

static int setup(void **state) {
  fixture *f = db_calloc(1, sizeof *f);
  db_catalog_init(&f->cat);
  add_unit(&f->cat, 1, "79", NULL, NULL);
  add_unit(&f->cat, 2, "W1", "79", NULL);
  add_unit(&f->cat, 3, "W2", "79", NULL);
  add_unit(&f->cat, 4, "W3", "79", NULL);
  add_unit(&f->cat, 5, "W4", "79", NULL);
  add_unit(&f->cat, 6, "D1", "79", "2025-06-30");
  add_unit(&f->cat, 7, "O1", "D1", "2025-06-30");
  add_indicator(&f->cat, 1, "FLOW", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, NULL);
  add_indicator(&f->cat, 2, "STOCK", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_LAST, DB_POL_HIGHER, NULL);
  add_indicator(&f->cat, 3, "RATE", DB_PT_MONTH, DB_AGG_AVG, DB_AGG_AVG, DB_POL_LOWER, NULL);
  add_indicator(&f->cat, 4, "DAILY", DB_PT_DAY, DB_AGG_SUM, DB_AGG_SUM, DB_POL_NEUTRAL, NULL);
  add_indicator(&f->cat, 5, "WEEKLY", DB_PT_WEEK, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, NULL);
  add_indicator(&f->cat, 6, "QUART", DB_PT_QUARTER, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, NULL);
  add_indicator(&f->cat, 7, "HOURLY", DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG, DB_POL_LOWER, NULL);
  add_indicator(&f->cat, 8, "HI", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, NULL);
  add_indicator(&f->cat, 9, "LO", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_LOWER, NULL);
  add_indicator(&f->cat, 10, "NEU", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_LAST, DB_POL_NEUTRAL, NULL);
  add_indicator(&f->cat, 11, "DOUBLE", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, "2 * FLOW");
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_catalog_link(&f->cat, &d), 0);
  assert_int_equal(db_cube_create(&f->cat, &f->cube, &d), 0);
  db_diag_free(&d);
  f->plans = db_analytics_plans_new();
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->v) db_cube_release(f->v);
  db_cube_close(f->cube);
  db_analytics_plans_free(f->plans);
  db_catalog_free(&f->cat);
  db_free(f->rows);
  db_free(f);
  return 0;
}

/* Queues one observation (published by publish()). */
static void put(fixture *f, const char *ind, const char *unit, const char *period, double value) {
  if (f->n == f->cap) {
    f->cap = f->cap ? 2 * f->cap : 256;
    f->rows = db_realloc(f->rows, f->cap * sizeof *f->rows);
  }
  db_period p = per(period);
  f->rows[f->n++] = (db_obs_row){.indicator = db_catalog_indicator(&f->cat, ind)->id,
                                 .orgunit = db_catalog_unit(&f->cat, unit)->id,
                                 .dimkey = "",
                                 .period = db_period_key(&p),
                                 .value = value};
}

static void plan(fixture *f, const char *ind, const char *unit, const char *year, double value) {
  db_target t = {(char *)ind, (char *)unit, (char *)year, "plan", value, NULL};
  assert_int_equal(db_analytics_plans_add(f->plans, &t), 1);
}

/* Applies the queued observations and takes the new version. */
static void publish(fixture *f) {
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_cube_apply(f->cube, f->rows, f->n, &d), 0);
  db_diag_free(&d);
  f->n = 0;
  if (f->v) db_cube_release(f->v);
  f->v = db_cube_acquire(f->cube);
}

typedef struct rows_out {
  db_analytics_row r[1024];
  size_t n;
} rows_out;

static int collect(void *ctx, const db_analytics_row *row) {
  rows_out *o = ctx;
  assert_true(o->n < sizeof o->r / sizeof o->r[0]);
  o->r[o->n++] = *row;
  return 0;
}

/* Catalog indices of comma-separated codes into out; returns how many. */
static size_t codes(const db_catalog *c, const char *list, int units, size_t *out) {
  size_t n = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    const void *obj =
        units ? (const void *)db_catalog_unit(c, tok) : (const void *)db_catalog_indicator(c, tok);
    if (!obj) fail_msg("unknown code %s", tok);
    out[n++] = units ? (size_t)((const db_orgunit *)obj - c->units)
                     : (size_t)((const db_indicator *)obj - c->indicators);
  }
  return n;
}

static size_t transforms(const char *list, db_transform *out) {
  size_t n = 0;
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    assert_int_equal(db_transform_parse(p, len, &out[n++]), 0);
    p = end ? end + 1 : p + len;
  }
  return n;
}

/* Runs a whole grid (from/to may be NULL) into out, with derived indicators read through e (may be
 * NULL); returns the grid's size. */
static int64_t grid_with(fixture *f, db_derive *e, const char *inds, const char *units, const char *from,
                         const char *to, const char *tfs, rows_out *out) {
  size_t ii[16], uu[16];
  db_transform tf[DB_TF_COUNT];
  db_period pf = from ? per(from) : (db_period){0, 0, 0}, pt = to ? per(to) : (db_period){0, 0, 0};
  db_analytics_ctx c = {f->v, &f->cat, f->plans, e, NULL};
  db_analytics_grid g = {
      ii, codes(&f->cat, inds, 0, ii), uu, codes(&f->cat, units, 1, uu), from ? &pf : NULL, to ? &pt : NULL,
      tf, transforms(tfs, tf), 0};
  int64_t rows = -1;
  assert_int_equal(db_analytics_grid_size(&c, &g, &rows), 0);
  out->n = 0;
  assert_int_equal(db_analytics_grid_run(&c, &g, 0, rows, collect, out), 0);
  assert_int_equal((int64_t)out->n, rows);
  return rows;
}

static int64_t grid(fixture *f, const char *inds, const char *units, const char *from, const char *to,
                    const char *tfs, rows_out *out) {
  return grid_with(f, NULL, inds, units, from, to, tfs, out);
}

/* The row of period `code` (unit `unit`) in out. */
static const db_analytics_row *row_at(fixture *f, const rows_out *out, const char *unit, const char *code) {
  db_period p = per(code);
  size_t u = (size_t)(db_catalog_unit(&f->cat, unit) - f->cat.units);
  for (size_t i = 0; i < out->n; i++)
    if (out->r[i].unit == u && db_period_compare(&out->r[i].period, &p) == 0) return &out->r[i];
  fail_msg("no row for %s %s", unit, code);
  return NULL;
}

/* ---------- names ---------- */

static void test_names(void **state) {
  static const char *const names[] = {"value", "yoy",  "yoy_pct",  "prev", "mom",
                                      "ytd",   "plan", "plan_pct", "rank", "status"};
  for (int i = 0; i < DB_TF_COUNT; i++) {
    db_transform t;
    assert_string_equal(db_transform_name((db_transform)i), names[i]);
    assert_int_equal(db_transform_parse(names[i], strlen(names[i]), &t), 0);
    assert_int_equal(t, i);
  }
  db_transform t;
  assert_int_equal(db_transform_parse("yoy_pctx", 8, &t), DB_EINVAL);
  assert_int_equal(db_transform_parse("yoy_pctx", 7, &t), 0); /* the length counts */
  assert_int_equal(t, DB_TF_YOY_PCT);
  assert_string_equal(db_target_status_name(DB_TARGET_ON_TRACK), "on_track");
  assert_string_equal(db_target_status_name(DB_TARGET_AT_RISK), "at_risk");
  assert_string_equal(db_target_status_name(DB_TARGET_OFF_TRACK), "off_track");
  assert_null(db_target_status_name(NAN));
  assert_null(db_target_status_name(0));
}

/* ---------- values, year on year, previous period, roll-ups ---------- */

static void test_monthly_flow_across_years(void **state) {
  fixture *f = *state;
  for (int m = 1; m <= 12; m++) {
    char p[8];
    snprintf(p, sizeof p, "2023-%02d", m);
    put(f, "FLOW", "W1", p, 10.0 * m); /* 10 .. 120 */
    snprintf(p, sizeof p, "2024-%02d", m);
    put(f, "FLOW", "W1", p, 10.0 * m + 5); /* 15 .. 125 */
    put(f, "FLOW", "W2", p, 100.0 + m);    /* 101 .. 112 */
  }
  put(f, "FLOW", "W4", "2024-03", 20); /* one month only: partial data */
  publish(f);
  rows_out o;
  assert_int_equal(grid(f, "FLOW", "W1,W4,79", "2023-12", "2024-03", "value,yoy,yoy_pct,prev,mom,ytd", &o),
                   12);
  /* order: unit as asked, then period */
  assert_int_equal(o.r[0].unit, 1);
  assert_int_equal(o.r[0].period.ord, per("2023-12").ord);
  assert_int_equal(o.r[4].unit, 4);
  const db_analytics_row *r = row_at(f, &o, "W1", "2024-01");
  assert_value(r->cells[0], 15);
  assert_value(r->cells[1], 10);                         /* 2023-01 */
  assert_value(r->cells[2], 50);                         /* 100 * (15 - 10) / 10 */
  assert_value(r->cells[3], 120);                        /* 2023-12: across the year boundary */
  assert_value(r->cells[4], 100.0 * (15 - 120) / 120.0); /* -87.5 */
  assert_value(r->cells[5], 15);                         /* the year restarts */
  assert_int_equal(r->count, 1);
  assert_int_equal(r->expected, 1);
  r = row_at(f, &o, "W1", "2023-12");
  assert_value(r->cells[1], NAN); /* no 2022 */
  assert_value(r->cells[2], NAN);
  assert_value(r->cells[3], 110);
  assert_value(r->cells[5], 780); /* 10 + 20 + ... + 120 */
  assert_value(row_at(f, &o, "W1", "2024-03")->cells[5], 15 + 25 + 35);
  /* partial data: W4 has March only; its ytd is missing, its value is not */
  r = row_at(f, &o, "W4", "2024-03");
  assert_value(r->cells[0], 20);
  assert_value(r->cells[3], NAN);
  assert_value(r->cells[4], NAN);
  assert_value(r->cells[5], NAN);
  r = row_at(f, &o, "W4", "2024-02");
  assert_value(r->cells[0], NAN);
  assert_int_equal(r->count, 0);
  assert_int_equal(r->expected, 1);
  /* the city: the roll-up of its children, with how many contributed (W1..W4 and D1 expected) */
  r = row_at(f, &o, "79", "2024-01");
  assert_value(r->cells[0], 15 + 101);
  assert_int_equal(r->count, 2);
  assert_int_equal(r->expected, 5);
  assert_value(r->cells[1], 10); /* only W1 in 2023-01 */
  assert_value(r->cells[2], 100.0 * (116 - 10) / 10.0);
  assert_value(r->cells[3], 120); /* 2023-12 */
  r = row_at(f, &o, "79", "2024-03");
  assert_value(r->cells[0], 35 + 103 + 20);
  assert_int_equal(r->count, 3);
  assert_value(r->cells[5], (15 + 101) + (25 + 102) + (35 + 103 + 20)); /* ytd of the roll-ups */
  assert_value(r->cells[4], 100.0 * (158 - 127) / 127.0);
}

static void test_stock_and_rate(void **state) {
  fixture *f = *state;
  put(f, "STOCK", "W1", "2024-01", 5);
  put(f, "STOCK", "W1", "2024-03", 7);
  put(f, "STOCK", "W2", "2024-01", 3);
  put(f, "RATE", "W1", "2024-01", 2);
  put(f, "RATE", "W1", "2024-02", 4);
  put(f, "RATE", "W1", "2024-03", 9);
  put(f, "RATE", "W2", "2024-01", 6);
  publish(f);
  rows_out o;
  grid(f, "STOCK", "W1,79", "2024-01", "2024-03", "value,ytd", &o);
  assert_value(row_at(f, &o, "W1", "2024-03")->cells[1], 7); /* last: the value itself */
  assert_value(row_at(f, &o, "W1", "2024-02")->cells[1], NAN);
  assert_value(row_at(f, &o, "79", "2024-01")->cells[0], 8);
  assert_value(row_at(f, &o, "79", "2024-01")->cells[1], 8);
  grid(f, "RATE", "W1,79", "2024-01", "2024-03", "value,ytd", &o);
  assert_value(row_at(f, &o, "W1", "2024-03")->cells[1], 5); /* avg of 2, 4, 9 */
  assert_value(row_at(f, &o, "W1", "2024-02")->cells[1], 3);
  assert_value(row_at(f, &o, "79", "2024-01")->cells[0], 4); /* avg over the wards */
  assert_value(row_at(f, &o, "79", "2024-02")->cells[0], 4);
  assert_value(row_at(f, &o, "79", "2024-01")->cells[1], 4);
}

static void test_leap_years(void **state) {
  fixture *f = *state;
  put(f, "DAILY", "W1", "2023-02-28", 1);
  put(f, "DAILY", "W1", "2023-03-01", 2);
  put(f, "DAILY", "W1", "2024-02-28", 3);
  put(f, "DAILY", "W1", "2024-02-29", 4);
  put(f, "DAILY", "W1", "2024-03-01", 5);
  put(f, "DAILY", "W1", "2025-02-28", 6);
  put(f, "DAILY", "W1", "2025-03-01", 7);
  for (int d = 0; d < 61; d++) { /* every day of 2024 up to 1 March: 31 + 29 + 1 */
    char code[16];
    int64_t y;
    unsigned m, dd;
    db_civil_from_days(db_days_from_civil(2024, 1, 1) + d, &y, &m, &dd);
    snprintf(code, sizeof code, "%04lld-%02u-%02u", (long long)y, m, dd);
    put(f, "DAILY", "W2", code, 1);
  }
  publish(f);
  rows_out o;
  grid(f, "DAILY", "W1", "2024-02-28", "2024-03-01", "value,yoy,yoy_pct", &o);
  assert_value(row_at(f, &o, "W1", "2024-02-28")->cells[1], 1);
  assert_value(row_at(f, &o, "W1", "2024-02-29")->cells[1], NAN); /* no 29 February in 2023 */
  assert_value(row_at(f, &o, "W1", "2024-02-29")->cells[2], NAN);
  assert_value(row_at(f, &o, "W1", "2024-03-01")->cells[1], 2);
  assert_value(row_at(f, &o, "W1", "2024-03-01")->cells[2], 150);
  grid(f, "DAILY", "W1", "2025-02-28", "2025-03-01", "yoy", &o);
  assert_value(row_at(f, &o, "W1", "2025-02-28")->cells[0], 3);
  assert_value(row_at(f, &o, "W1", "2025-03-01")->cells[0], 5);
  grid(f, "DAILY", "W2", "2024-02-28", "2024-03-01", "ytd,prev", &o);
  assert_value(row_at(f, &o, "W2", "2024-02-28")->cells[0], 59);
  assert_value(row_at(f, &o, "W2", "2024-02-29")->cells[0], 60);
  assert_value(row_at(f, &o, "W2", "2024-03-01")->cells[0], 61);
  assert_value(row_at(f, &o, "W2", "2024-03-01")->cells[1], 1); /* prev of 1 March is 29 February */
}

static void test_iso_week_53(void **state) {
  fixture *f = *state;
  /* 2020 and 2026 have 53 ISO weeks, 2019, 2021 and 2025 have 52 */
  for (int w = 1; w <= 53; w++) {
    char code[16];
    snprintf(code, sizeof code, "2020-W%02d", w);
    put(f, "WEEKLY", "W1", code, w);
    if (w <= 52) {
      snprintf(code, sizeof code, "2021-W%02d", w);
      put(f, "WEEKLY", "W1", code, 100 + w);
    }
  }
  put(f, "WEEKLY", "W1", "2019-W52", 7);
  put(f, "WEEKLY", "W1", "2025-W52", 552);
  put(f, "WEEKLY", "W1", "2026-W52", 652);
  put(f, "WEEKLY", "W1", "2026-W53", 653);
  put(f, "WEEKLY", "W1", "2027-W01", 701);
  publish(f);
  rows_out o;
  grid(f, "WEEKLY", "W1", "2020-W52", "2021-W02", "value,yoy,prev,ytd", &o);
  assert_int_equal(o.n, 4);
  const db_analytics_row *r = row_at(f, &o, "W1", "2020-W53");
  assert_value(r->cells[0], 53);
  assert_value(r->cells[1], NAN);  /* 2019 has no week 53 */
  assert_value(r->cells[3], 1431); /* 1 + 2 + ... + 53 */
  r = row_at(f, &o, "W1", "2020-W52");
  assert_value(r->cells[1], 7);
  r = row_at(f, &o, "W1", "2021-W01");
  assert_value(r->cells[1], 1);   /* 2020-W01 */
  assert_value(r->cells[2], 53);  /* prev: week 53 */
  assert_value(r->cells[3], 101); /* the ISO year restarts */
  assert_value(row_at(f, &o, "W1", "2021-W02")->cells[3], 101 + 102);
  grid(f, "WEEKLY", "W1", "2026-W52", "2027-W01", "yoy,yoy_pct", &o);
  assert_value(row_at(f, &o, "W1", "2026-W52")->cells[0], 552);
  assert_value(row_at(f, &o, "W1", "2026-W52")->cells[1], 100.0 * (652 - 552) / 552.0);
  assert_value(row_at(f, &o, "W1", "2026-W53")->cells[0], NAN); /* 2025 has 52 weeks */
  assert_value(row_at(f, &o, "W1", "2027-W01")->cells[0], NAN); /* 2026-W01 has no value */
}

static void test_quarters_and_hours(void **state) {
  fixture *f = *state;
  put(f, "QUART", "W1", "2023-Q1", 8);
  put(f, "QUART", "W1", "2023-Q4", 10);
  put(f, "QUART", "W1", "2024-Q1", 20);
  put(f, "QUART", "W1", "2024-Q2", 30);
  put(f, "HOURLY", "W1", "2023-03-01T13:00", 10);
  put(f, "HOURLY", "W1", "2024-03-01T13:00", 12);
  put(f, "HOURLY", "W1", "2024-02-29T05:00", 3);
  publish(f);
  rows_out o;
  grid(f, "QUART", "W1", "2024-Q1", "2024-Q2", "yoy,yoy_pct,prev,mom,ytd", &o);
  const db_analytics_row *r = row_at(f, &o, "W1", "2024-Q1");
  assert_value(r->cells[0], 8);
  assert_value(r->cells[1], 150);
  assert_value(r->cells[2], 10);
  assert_value(r->cells[3], 100);
  assert_value(r->cells[4], 20);
  assert_value(row_at(f, &o, "W1", "2024-Q2")->cells[4], 50);
  /* from and to of another type: the quarters that overlap 2024-02 .. 2024-04 */
  assert_int_equal(grid(f, "QUART", "W1", "2024-02", "2024-04", "value", &o), 2);
  grid(f, "HOURLY", "W1", "2024-03-01T13:00", "2024-03-01T13:00", "value,yoy,yoy_pct", &o);
  assert_value(o.r[0].cells[1], 10); /* the same day and hour a year earlier */
  assert_value(o.r[0].cells[2], 20);
  grid(f, "HOURLY", "W1", "2024-02-29T05:00", "2024-02-29T05:00", "value,yoy", &o);
  assert_value(o.r[0].cells[0], 3);
  assert_value(o.r[0].cells[1], NAN);
}

/* ---------- plans and status ---------- */

static void test_plans(void **state) {
  fixture *f = *state;
  db_analytics_plans *p = db_analytics_plans_new();
  db_target t = {"FLOW", "79", "2025", "plan", 100, NULL};
  assert_int_equal(db_analytics_plans_add(p, &t), 1);
  t.value = 120; /* replaces */
  assert_int_equal(db_analytics_plans_add(p, &t), 1);
  t.kind = "threshold";
  assert_int_equal(db_analytics_plans_add(p, &t), 0);
  t.kind = "plan";
  t.period = "2025-06";
  assert_int_equal(db_analytics_plans_add(p, &t), 0);
  t.period = "2021/P5Y";
  assert_int_equal(db_analytics_plans_add(p, &t), 0);
  assert_value(db_analytics_plan(p, "FLOW", "79", 2025), 120);
  assert_value(db_analytics_plan(p, "FLOW", "79", 2024), NAN);
  assert_value(db_analytics_plan(p, "FLOW", "W1", 2025), NAN);
  assert_value(db_analytics_plan(NULL, "FLOW", "79", 2025), NAN);
  db_analytics_plans_free(p);
  (void)f;
}

static void test_plan_pct_of_a_ytd_flow(void **state) {
  fixture *f = *state;
  for (int m = 1; m <= 12; m++) {
    char p[8];
    snprintf(p, sizeof p, "2024-%02d", m);
    put(f, "FLOW", "W1", p, 50);
    put(f, "FLOW", "W2", p, 25);
  }
  put(f, "FLOW", "W1", "2025-01", 80);
  publish(f);
  plan(f, "FLOW", "79", "2024", 1200); /* the city's plan, against the roll-up of its wards */
  plan(f, "FLOW", "W1", "2024", 600);
  plan(f, "FLOW", "W2", "2024", 1000);
  rows_out o;
  grid(f, "FLOW", "79,W1,W2", "2024-01", "2025-01", "ytd,plan,plan_pct,status", &o);
  const db_analytics_row *r = row_at(f, &o, "79", "2024-04");
  assert_value(r->cells[0], 300); /* (50 + 25) x 4 */
  assert_value(r->cells[1], 1200);
  assert_value(r->cells[2], 25);
  assert_value(r->cells[3], DB_TARGET_AT_RISK); /* 300 against the 400 due by April: 75% */
  r = row_at(f, &o, "79", "2024-12");
  assert_value(r->cells[0], 900);
  assert_value(r->cells[2], 75);
  assert_value(r->cells[3], DB_TARGET_AT_RISK); /* 75% of the whole plan */
  r = row_at(f, &o, "W1", "2024-06");
  assert_value(r->cells[2], 50);                 /* 300 of 600 */
  assert_value(r->cells[3], DB_TARGET_ON_TRACK); /* 300 against 600 x 6/12: 100% */
  r = row_at(f, &o, "W2", "2024-06");
  assert_value(r->cells[2], 15);                  /* 150 of 1000 */
  assert_value(r->cells[3], DB_TARGET_OFF_TRACK); /* 150 against 500: 30% */
  r = row_at(f, &o, "W1", "2025-01");
  assert_value(r->cells[0], 80);
  assert_value(r->cells[1], NAN); /* no plan for 2025 */
  assert_value(r->cells[2], NAN);
  assert_value(r->cells[3], NAN);
}

static void test_status_by_polarity(void **state) {
  fixture *f = *state;
  static const double hi[] = {100, 80, 45, 74};         /* ytd 100 180 225 299 against 100 200 300 400 */
  static const double lo[] = {100, 110, 111, 159, 140}; /* ytd 100 210 321 480 620 against 100 .. 500 */
  static const double neu[] = {100, 108, 115, 70, 130}; /* a stock against the whole plan */
  for (int m = 0; m < 5; m++) {
    char p[8];
    snprintf(p, sizeof p, "2024-%02d", m + 1);
    if (m < 4) put(f, "HI", "W1", p, hi[m]);
    put(f, "LO", "W1", p, lo[m]);
    put(f, "NEU", "W1", p, neu[m]);
  }
  put(f, "HI", "W2", "2024-01", 100);
  publish(f);
  plan(f, "HI", "W1", "2024", 1200);
  plan(f, "LO", "W1", "2024", 1200);
  plan(f, "NEU", "W1", "2024", 100);
  plan(f, "HI", "W2", "2024", 0);
  rows_out o;
  grid(f, "HI", "W1,W2", "2024-01", "2024-04", "status", &o);
  static const double want_hi[] = {DB_TARGET_ON_TRACK, DB_TARGET_ON_TRACK, DB_TARGET_AT_RISK,
                                   DB_TARGET_OFF_TRACK};
  for (int m = 0; m < 4; m++) assert_value(o.r[m].cells[0], want_hi[m]); /* 100%, 90%, 75%, 74.75% */
  assert_value(row_at(f, &o, "W2", "2024-01")->cells[0], NAN);           /* a plan of 0 */
  /* lower is better, bands 95 and 80: achievement 200 - pct = 100, 95, 93, 80, 76 */
  grid(f, "LO", "W1", "2024-01", "2024-05", "status", &o);
  static const double want_lo[] = {DB_TARGET_ON_TRACK, DB_TARGET_ON_TRACK, DB_TARGET_AT_RISK,
                                   DB_TARGET_AT_RISK, DB_TARGET_OFF_TRACK};
  for (int m = 0; m < 5; m++) assert_value(o.r[m].cells[0], want_lo[m]);
  /* neutral: 100 - |pct - 100| = 100, 92, 85, 70, 70 */
  grid(f, "NEU", "W1", "2024-01", "2024-05", "ytd,status", &o);
  static const double want_neu[] = {DB_TARGET_ON_TRACK, DB_TARGET_ON_TRACK, DB_TARGET_AT_RISK,
                                    DB_TARGET_OFF_TRACK, DB_TARGET_OFF_TRACK};
  for (int m = 0; m < 5; m++) assert_value(o.r[m].cells[1], want_neu[m]);
  assert_value(o.r[3].cells[0], 70);
}

/* ---------- ranks ---------- */

static void test_rank_ties(void **state) {
  fixture *f = *state;
  static const char *const wards[] = {"W1", "W2", "W3", "W4"};
  static const double now[] = {10, 20, 20, 5}, before[] = {5, 10, 40, 5};
  for (int i = 0; i < 4; i++) {
    put(f, "FLOW", wards[i], "2024-01", now[i]);
    put(f, "FLOW", wards[i], "2023-01", before[i]);
    put(f, "RATE", wards[i], "2024-01", now[i]);
  }
  put(f, "FLOW", "W1", "2024-02", 1); /* only W1 has February */
  publish(f);
  rows_out o;
  grid(f, "FLOW", "W1,W2,W3,W4,D1,79", "2024-01", "2024-02", "value,rank", &o);
  static const double want[] = {3, 1, 1, 4};
  for (int i = 0; i < 4; i++) assert_value(row_at(f, &o, wards[i], "2024-01")->cells[1], want[i]);
  assert_value(row_at(f, &o, "D1", "2024-01")->cells[1], NAN); /* no value */
  assert_value(row_at(f, &o, "79", "2024-01")->cells[1], NAN); /* no parent */
  assert_value(row_at(f, &o, "W1", "2024-02")->cells[1], 1);
  assert_value(row_at(f, &o, "W2", "2024-02")->cells[1], NAN);
  /* lower is better */
  grid(f, "RATE", "W1,W2,W3,W4", "2024-01", "2024-01", "rank", &o);
  static const double want_low[] = {2, 3, 3, 1};
  for (int i = 0; i < 4; i++) assert_value(o.r[i].cells[0], want_low[i]);

  /* rankings on a transform: yoy_pct = 100, 100, -50, 0 */
  size_t units[5];
  size_t n_units = codes(&f->cat, "W1,W2,W3,W4,D1", 1, units);
  db_analytics_ranked out[5];
  db_analytics_ctx c = {f->v, &f->cat, f->plans, NULL, NULL};
  size_t flow = (size_t)(db_catalog_indicator(&f->cat, "FLOW") - f->cat.indicators);
  db_period jan = per("2024-01");
  assert_int_equal(db_analytics_rank(&c, flow, units, n_units, &jan, DB_TF_YOY_PCT, out), 4);
  static const char *const order[] = {"W1", "W2", "W4", "W3"};
  static const int64_t ranks[] = {1, 1, 3, 4};
  static const double scores[] = {100, 100, 0, -50}, values[] = {10, 20, 5, 20};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(f->cat.units[out[i].unit].code, order[i]);
    assert_int_equal(out[i].rank, ranks[i]);
    assert_value(out[i].score, scores[i]);
    assert_value(out[i].value, values[i]);
  }
  assert_int_equal(db_analytics_rank(&c, flow, units, n_units, &jan, DB_TF_VALUE, out), 4);
  assert_string_equal(f->cat.units[out[0].unit].code, "W2"); /* ties keep the order of the units */
  assert_string_equal(f->cat.units[out[1].unit].code, "W3");
  assert_int_equal(out[1].rank, 1);
  assert_int_equal(out[2].rank, 3);
  db_period q = per("2024-Q1");
  assert_int_equal(db_analytics_rank(&c, flow, units, n_units, &q, DB_TF_VALUE, out), DB_EINVAL);
  assert_int_equal(db_analytics_rank(&c, flow, units, n_units, &jan, DB_TF_RANK, out), DB_EINVAL);
  assert_int_equal(db_analytics_rank(&c, flow, units, n_units, &jan, DB_TF_STATUS, out), DB_EINVAL);
}

/* ---------- pages, validity, derived indicators, bad grids ---------- */

static void test_pages(void **state) {
  fixture *f = *state;
  for (int m = 1; m <= 12; m++) {
    char p[8];
    snprintf(p, sizeof p, "2024-%02d", m);
    put(f, "FLOW", "W1", p, m);
    put(f, "FLOW", "W2", p, 2 * m);
    put(f, "FLOW", "W3", p, 3 * m);
  }
  publish(f);
  rows_out all, page;
  assert_int_equal(grid(f, "FLOW,STOCK", "W1,W2,W3", "2024-01", "2024-12", "value,yoy,mom,ytd,rank", &all),
                   72);
  size_t ii[2], uu[3];
  db_transform tf[DB_TF_COUNT];
  db_period from = per("2024-01"), to = per("2024-12");
  db_analytics_ctx c = {f->v, &f->cat, f->plans, NULL, NULL};
  db_analytics_grid g = {
      ii, codes(&f->cat, "FLOW,STOCK", 0, ii),     uu, codes(&f->cat, "W1,W2,W3", 1, uu), &from, &to,
      tf, transforms("value,yoy,mom,ytd,rank", tf), 0};
  /* pages that cut blocks in the middle give the same rows */
  for (int64_t offset = 0; offset < 72; offset += 7) {
    page.n = 0;
    assert_int_equal(db_analytics_grid_run(&c, &g, offset, 7, collect, &page), 0);
    assert_int_equal((int64_t)page.n, offset + 7 <= 72 ? 7 : 72 - offset);
    for (size_t i = 0; i < page.n; i++) {
      const db_analytics_row *a = &all.r[offset + (int64_t)i], *b = &page.r[i];
      assert_int_equal(a->indicator, b->indicator);
      assert_int_equal(a->unit, b->unit);
      assert_int_equal(a->period.ord, b->period.ord);
      for (int t = 0; t < 5; t++) assert_value(b->cells[t], a->cells[t]);
    }
  }
  page.n = 0;
  assert_int_equal(db_analytics_grid_run(&c, &g, 72, 10, collect, &page), 0);
  assert_int_equal(page.n, 0);
  /* the row with mom of 2024-02 at W3 and its rank among W1..W4, D1 */
  const db_analytics_row *r = row_at(f, &all, "W3", "2024-02");
  assert_value(r->cells[0], 6);
  assert_value(r->cells[2], 100);
  assert_value(r->cells[3], 9);
  assert_value(r->cells[4], 1);
}

static void test_validity_and_ranges(void **state) {
  fixture *f = *state;
  put(f, "FLOW", "O1", "2025-06", 4);
  put(f, "FLOW", "W1", "2025-07", 9);
  publish(f);
  rows_out o;
  grid(f, "FLOW", "O1,D1", "2025-06", "2025-07", "value", &o);
  const db_analytics_row *r = row_at(f, &o, "O1", "2025-07");
  assert_value(r->cells[0], NAN);
  assert_int_equal(r->count, 0);
  assert_int_equal(r->expected, 0); /* O1 no longer existed */
  r = row_at(f, &o, "D1", "2025-06");
  assert_value(r->cells[0], 4); /* rolled up from O1 */
  assert_int_equal(r->count, 1);
  assert_int_equal(r->expected, 1);
  r = row_at(f, &o, "D1", "2025-07");
  assert_int_equal(r->expected, 0);
  /* without a window: each indicator's data range; an indicator without data has no rows */
  assert_int_equal(grid(f, "FLOW,STOCK", "W1", NULL, NULL, "value", &o), 2);
  assert_int_equal(o.r[0].period.ord, per("2025-06").ord);
  assert_value(o.r[0].cells[0], NAN);
  assert_value(o.r[1].cells[0], 9);
  assert_int_equal(grid(f, "FLOW", "W1", "2025-07", NULL, "value", &o), 1);
  assert_int_equal(grid(f, "FLOW", "W1", NULL, "2025-06", "value", &o), 1);
  const db_orgunit *o1 = db_catalog_unit(&f->cat, "O1");
  db_period jun = per("2025-06"), jul = per("2025-07");
  assert_int_equal(db_analytics_unit_active(o1, db_period_start_ms(&jun), db_period_end_ms(&jun)), 1);
  assert_int_equal(db_analytics_unit_active(o1, db_period_start_ms(&jul), db_period_end_ms(&jul)), 0);
  assert_int_equal(db_analytics_unit_active(o1, db_period_start_ms(&jun), db_period_end_ms(&jul)), 1);
}

static void test_derived_indicators(void **state) {
  fixture *f = *state;
  put(f, "FLOW", "W1", "2024-01", 3);
  put(f, "FLOW", "W2", "2024-01", 4);
  put(f, "FLOW", "W1", "2023-01", 2);
  publish(f);
  db_derive *e = NULL;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_derive_open(&f->cat, &e, &d), 0);
  db_derive_note_commit(e, db_cube_version_number(f->v), NULL, 0);
  rows_out o;
  grid_with(f, e, "DOUBLE", "W1,79", "2024-01", "2024-01", "value,yoy,yoy_pct,rank", &o);
  const db_analytics_row *r = row_at(f, &o, "W1", "2024-01");
  assert_value(r->cells[0], 6);
  assert_value(r->cells[1], 4);
  assert_value(r->cells[2], 50);
  assert_value(r->cells[3], 2);                               /* W2: 8 */
  assert_value(row_at(f, &o, "79", "2024-01")->cells[0], 14); /* the formula on the city's totals */
  /* without the engine, a derived indicator has no data of its own */
  grid(f, "DOUBLE", "W1", "2024-01", "2024-01", "value", &o);
  assert_value(o.r[0].cells[0], NAN);
  db_derive_close(e);
  db_diag_free(&d);
}

static void test_bad_grids(void **state) {
  fixture *f = *state;
  publish(f);
  size_t ii[1] = {0}, uu[1] = {1}, bad_unit[1] = {f->cat.n_units};
  db_transform twice[2] = {DB_TF_VALUE, DB_TF_VALUE}, one[1] = {DB_TF_VALUE}, bogus[1] = {(db_transform)42};
  db_period from = per("2024-06"), to = per("2024-05");
  db_analytics_ctx c = {f->v, &f->cat, NULL, NULL, NULL};
  int64_t rows;
  db_analytics_grid g = {ii, 1, uu, 1, NULL, NULL, twice, 2, 0};
  assert_int_equal(db_analytics_grid_size(&c, &g, &rows), DB_EINVAL);
  g.transforms = bogus;
  g.n_transforms = 1;
  assert_int_equal(db_analytics_grid_size(&c, &g, &rows), DB_EINVAL);
  g.transforms = one;
  g.n_transforms = 0;
  assert_int_equal(db_analytics_grid_size(&c, &g, &rows), DB_EINVAL);
  g.n_transforms = 1;
  g.units = bad_unit;
  assert_int_equal(db_analytics_grid_size(&c, &g, &rows), DB_EINVAL);
  g.units = uu;
  g.from = &from;
  g.to = &to;
  assert_int_equal(db_analytics_grid_size(&c, &g, &rows), DB_EINVAL);
  assert_int_equal(db_analytics_grid_run(&c, &g, 0, 10, collect, NULL), DB_EINVAL);
  g.to = &from;
  assert_int_equal(db_analytics_grid_size(&c, &g, &rows), 0);
  assert_int_equal(rows, 1);
  assert_int_equal(db_analytics_grid_run(&c, &g, -1, 10, collect, NULL), DB_EINVAL);
}

/* ---------- the server's data path: store -> cube, then change sets ---------- */

/* A store with the units 79, W1, W2 and the indicators FLOW, RATE, and its catalog (linked) in cat. */
static db_store *city_store(const char *path, db_catalog *cat) {
  db_store *s;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(path, &s, &d), 0);
  assert_int_equal(db_store_begin(s, 0), 0);
  db_catalog src;
  db_catalog_init(&src);
  add_unit(&src, 0, "79", NULL, NULL);
  add_unit(&src, 0, "W1", "79", NULL);
  add_unit(&src, 0, "W2", "79", NULL);
  add_indicator(&src, 0, "FLOW", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, NULL);
  add_indicator(&src, 0, "RATE", DB_PT_MONTH, DB_AGG_AVG, DB_AGG_AVG, DB_POL_LOWER, NULL);
  add_indicator(&src, 0, "DAILY", DB_PT_DAY, DB_AGG_SUM, DB_AGG_SUM, DB_POL_NEUTRAL, NULL);
  for (size_t i = 0; i < src.n_units; i++) assert_int_equal(db_store_put_orgunit(s, &src.units[i]), 0);
  for (size_t i = 0; i < src.n_indicators; i++)
    assert_int_equal(db_store_put_indicator(s, &src.indicators[i]), 0);
  assert_int_equal(db_store_commit(s), 0);
  db_catalog_free(&src);
  db_catalog_init(cat);
  assert_int_equal(db_store_load_catalog(s, cat), 0);
  assert_int_equal(db_catalog_link(cat, &d), 0);
  db_diag_free(&d);
  return s;
}

typedef struct obs_in {
  const char *ind, *unit, *period;
  double value;
  int status;
} obs_in;

/* One batch of rows[0..n) through the ingest path; with `keep`, its change set into *res. */
static void ingest(db_store *s, const db_catalog *cat, const obs_in *rows, size_t n, int keep,
                   db_ingest_result *res) {
  db_batch_info info = {NULL, "test", "tester", 0};
  db_diag d = DB_DIAG_INIT;
  db_ingest *in;
  assert_int_equal(db_ingest_begin(s, cat, &info, &d, &in, NULL), 0);
  if (keep) db_ingest_keep_changes(in);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(db_ingest_add(in, (long)i + 1, rows[i].ind, rows[i].unit, rows[i].period, rows[i].value,
                                   rows[i].status, NULL),
                     0);
  assert_int_equal(db_ingest_finish(in, res), 0);
  db_diag_free(&d);
}

static int scan_row(void *ctx, const db_obs_row *row) {
  db_buf *b = ctx;
  db_period p;
  char code[DB_PERIOD_CODE_MAX];
  assert_int_equal(db_period_from_key(row->period, &p), 0);
  db_period_format(&p, code);
  db_buf_printf(b, "%lld:%lld:%s:%s=%g ", (long long)row->indicator, (long long)row->orgunit, row->dimkey,
                code, row->value);
  return 0;
}

/* What db_store_obs_scan hands over, as text ("indicator:unit:dimkey:period=value "). */
static char *scan_text(db_store *s) {
  db_buf b = DB_BUF_INIT;
  assert_int_equal(db_store_obs_scan(s, scan_row, &b), 0);
  return db_buf_take(&b);
}

static void test_store_scan_paths(void **state) {
  (void)state;
  /* the same rows in two orders: series ids in the indicators' order (the scan reads the table in key
   * order) and not (RATE's series first: the scan walks the series) */
  static const obs_in sorted[] = {
      {"FLOW", "W1", "2024-01", 10, 0}, {"FLOW", "W2", "2024-01", 20, 0}, {"RATE", "W2", "2024-01", 4, 0}};
  static const obs_in shuffled[] = {
      {"RATE", "W2", "2024-01", 4, 0}, {"FLOW", "W2", "2024-01", 20, 0}, {"FLOW", "W1", "2024-01", 10, 0}};
  const obs_in *orders[2] = {sorted, shuffled};
  char *dir = db_test_tempdir();
  for (int k = 0; k < 2; k++) {
    char *path = db_test_path(dir, k ? "b.db" : "a.db");
    db_catalog cat;
    db_store *s = city_store(path, &cat);
    char *empty = scan_text(s);
    assert_string_equal(empty, "");
    db_ingest_result res;
    ingest(s, &cat, orders[k], 3, 0, &res);
    assert_null(res.changes); /* not asked for */
    char *text = scan_text(s);
    assert_string_equal(text, "1:2::2024-01=10 1:3::2024-01=20 2:3::2024-01=4 ");
    db_free(empty);
    db_free(text);
    db_catalog_free(&cat);
    db_store_close(s);
    db_free(path);
  }
  db_test_rmtree(dir);
  db_free(dir);
}

/* Checks the scan's order and counts rows; stops after `stop_after` rows (0: never) returning `stop_with`. */
typedef struct order_check {
  int64_t rows, stop_after;
  int stop_with;
  db_obs_row last;
} order_check;

static int check_order(void *ctx, const db_obs_row *row) {
  order_check *oc = ctx;
  if (oc->rows) {
    const db_obs_row *a = &oc->last;
    int after = a->indicator != row->indicator ? a->indicator < row->indicator
                : a->orgunit != row->orgunit   ? a->orgunit < row->orgunit
                                               : a->period < row->period;
    assert_true(after);
  }
  oc->last = *row;
  return ++oc->rows == oc->stop_after ? oc->stop_with : 0;
}

static void test_store_scan_blocks_and_stops(void **state) {
  (void)state;
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "s.db");
  db_catalog cat;
  db_store *s = city_store(path, &cat);
  /* 2 x 20,000 days, W2's series first: many blocks of the pipeline, walking the series */
  enum { DAYS = 20000 };
  obs_in *rows = db_malloc(2 * DAYS * sizeof *rows);
  char(*codes)[16] = db_malloc(DAYS * sizeof *codes);
  for (int i = 0; i < DAYS; i++) {
    int64_t y;
    unsigned m, d;
    db_civil_from_days(i, &y, &m, &d);
    snprintf(codes[i], sizeof codes[i], "%04lld-%02u-%02u", (long long)y, m, d);
    rows[i] = (obs_in){"DAILY", "W2", codes[i], i, 0};
    rows[DAYS + i] = (obs_in){"DAILY", "W1", codes[i], -i, 0};
  }
  db_ingest_result res;
  ingest(s, &cat, rows, 2 * DAYS, 0, &res);
  order_check all = {0, 0, 0, {0}};
  assert_int_equal(db_store_obs_scan(s, check_order, &all), 0);
  assert_int_equal(all.rows, 2 * DAYS);
  assert_int_equal(all.last.orgunit, 3); /* W2 last */
  assert_value(all.last.value, DAYS - 1);
  /* a callback stops the scan: a positive value is a plain stop, a negative one an error returned */
  order_check stop = {0, 17000, 1, {0}};
  assert_int_equal(db_store_obs_scan(s, check_order, &stop), 0);
  assert_int_equal(stop.rows, 17000);
  order_check fail = {0, 5, DB_EIO, {0}};
  assert_int_equal(db_store_obs_scan(s, check_order, &fail), DB_EIO);
  assert_int_equal(fail.rows, 5);
  /* the handle is usable again */
  order_check again = {0, 0, 0, {0}};
  assert_int_equal(db_store_obs_scan(s, check_order, &again), 0);
  assert_int_equal(again.rows, 2 * DAYS);
  db_free(rows);
  db_free(codes);
  db_catalog_free(&cat);
  db_store_close(s);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

static void test_store_to_cube(void **state) {
  (void)state;
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "s.db");
  db_catalog cat;
  db_store *s = city_store(path, &cat);
  db_diag d = DB_DIAG_INIT;
  /* the bands went into the store and came back */
  assert_value(cat.indicators[0].band_at_risk, 90);
  assert_value(cat.indicators[0].band_off_track, 75);
  static const obs_in first[] = {
      {"RATE", "W2", "2024-01", 4, 0}, {"FLOW", "W2", "2024-01", 20, 0}, {"FLOW", "W1", "2024-01", 10, 0}};
  db_ingest_result res;
  ingest(s, &cat, first, 3, 0, &res);
  db_cube *cube;
  assert_int_equal(db_cube_open(s, &cat, &cube, &d), 0);

  /* a revision, an unchanged row and a new series: the change set holds the first and the last */
  static const obs_in second[] = {
      {"FLOW", "W1", "2024-01", 11, 0}, {"FLOW", "W2", "2024-01", 20, 0}, {"RATE", "W1", "2024-02", 6, 1}};
  ingest(s, &cat, second, 3, 1, &res);
  assert_int_equal(res.n_changes, 2);
  assert_int_equal(res.changes[0].indicator, 1);
  assert_int_equal(res.changes[0].orgunit, 2);
  assert_string_equal(res.changes[0].dimkey, "");
  assert_value(res.changes[0].value, 11);
  assert_int_equal(res.changes[0].seq, res.seq);
  assert_int_equal(res.changes[1].indicator, 2);
  assert_int_equal(res.changes[1].status, 1);
  assert_int_equal(db_cube_apply(cube, res.changes, res.n_changes, &d), 0);
  db_ingest_result_free(&res);
  assert_null(res.changes);
  db_ingest_result_free(&res); /* twice is fine */

  const db_cube_version *v = db_cube_acquire(cube);
  db_analytics_ctx c = {v, &cat, NULL, NULL, NULL};
  size_t inds[2] = {0, 1}, units[1] = {0};
  db_period from = per("2024-01"), to = per("2024-02");
  db_transform tf[1] = {DB_TF_VALUE};
  db_analytics_grid g = {inds, 2, units, 1, &from, &to, tf, 1, 0};
  rows_out o = {.n = 0};
  assert_int_equal(db_analytics_grid_run(&c, &g, 0, 100, collect, &o), 0);
  assert_int_equal(o.n, 4);
  assert_value(o.r[0].cells[0], 31); /* the city: 11 + 20 */
  assert_value(o.r[1].cells[0], NAN);
  assert_value(o.r[2].cells[0], 4);
  assert_value(o.r[3].cells[0], 6);
  db_cube_release(v);
  db_cube_close(cube);
  char *text = scan_text(s);
  assert_string_equal(text, "1:2::2024-01=11 1:3::2024-01=20 2:2::2024-02=6 2:3::2024-01=4 ");
  db_free(text);
  db_catalog_free(&cat);
  db_diag_free(&d);
  db_store_close(s);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test_setup_teardown(test_monthly_flow_across_years, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stock_and_rate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_leap_years, setup, teardown),
      cmocka_unit_test_setup_teardown(test_iso_week_53, setup, teardown),
      cmocka_unit_test_setup_teardown(test_quarters_and_hours, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plan_pct_of_a_ytd_flow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_by_polarity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rank_ties, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_validity_and_ranges, setup, teardown),
      cmocka_unit_test_setup_teardown(test_derived_indicators, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_grids, setup, teardown),
      cmocka_unit_test(test_store_scan_paths),
      cmocka_unit_test(test_store_scan_blocks_and_stops),
      cmocka_unit_test(test_store_to_cube),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
