/* test_cube.c - the in-memory cube (cube/cube.h): loading from a store made here, series and
 * cross-sections, roll-ups over the unit tree (sum, avg, wavg, min, max, none; partial totals; pre-merger
 * units rolled up through their districts) and over time (flows, stocks, rates, ISO week 53, hours),
 * sparse matrices, rebasing onto today's units with full and partial successions, top-N rankings, change
 * sets (shapes growing, deletions, dimensions, bad rows), catalog updates, property tests on random trees
 * and successions (fixed-seed PRNG), and versions: a reader keeps its version while the writer publishes
 * the next ones, concurrently, and versions released in any order leave nothing behind (ASan). */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cube/cube.h"
#include "store/store.h"
#include "testutil.h"

/* ---------- helpers ---------- */

static db_period per(const char *code) {
  db_period p;
  char why[128];
  if (db_period_parse(code, strlen(code), &p, why) != 0) fail_msg("period %s: %s", code, why);
  return p;
}

static int64_t day(const char *date) {
  int64_t d;
  assert_int_equal(db_parse_date(date, strlen(date), &d), 0);
  return d;
}

#define assert_nan(x) assert_true(isnan(x))

/* Exact comparison of a cell. */
#define assert_cell(c, v, cnt, exp)         \
  do {                                      \
    db_cube_cell c_ = (c);                  \
    double v_ = (v);                        \
    if (isnan(v_))                          \
      assert_nan(c_.value);                 \
    else                                    \
      assert_true(c_.value == v_);          \
    assert_int_equal(c_.count, cnt);        \
    assert_int_equal(c_.expected, exp);     \
  } while (0)

/* ---------- the fixture: a small store ----------
 * 79 (city) has the legacy district D1 (until 2025-06-30, with the legacy wards O1, O2, O3) and the
 * wards W1, W2, W3 (from 2025-07-01). Successions: O1 -> W1 (1), O2 -> W2 (1), O3 -> W2 (0.5) and
 * O3 -> W3 (0.5). */

typedef struct obs_def {
  const char *ind, *unit, *dimkey, *period;
  double value;
} obs_def;

static const obs_def FIXTURE_OBS[] = {
    /* WASTE: month, sum / sum */
    {"WASTE", "O1", "", "2025-05", 10}, {"WASTE", "O1", "", "2025-06", 11}, {"WASTE", "O2", "", "2025-05", 20},
    {"WASTE", "O3", "", "2025-05", 30}, {"WASTE", "O3", "", "2025-06", 33}, {"WASTE", "W1", "", "2025-10", 100},
    {"WASTE", "W1", "", "2025-11", 110}, {"WASTE", "W1", "", "2025-12", 120}, {"WASTE", "W2", "", "2025-10", 200},
    {"WASTE", "W2", "", "2025-11", 210}, {"WASTE", "W3", "", "2025-10", 300}, {"WASTE", "W3", "", "2025-11", 310},
    {"WASTE", "W3", "", "2025-12", 320}, {"WASTE", "W1", "TYPE=ORG", "2025-12", 60},
    /* RATE: month, avg / avg */
    {"RATE", "O2", "", "2025-05", 4}, {"RATE", "O3", "", "2025-05", 7}, {"RATE", "W1", "", "2025-07", 2},
    {"RATE", "W1", "", "2025-08", 4}, {"RATE", "W1", "", "2025-09", 6},
    /* STOCK: month, sum / last */
    {"STOCK", "W1", "", "2025-07", 5}, {"STOCK", "W1", "", "2025-08", 7},
    /* TEMP: month, min / max */
    {"TEMP", "W1", "", "2025-07", 28}, {"TEMP", "W1", "", "2025-08", 30}, {"TEMP", "W2", "", "2025-08", 25},
    {"TEMP", "W3", "", "2025-08", 35},
    /* POP: year, sum / last; PRICE: month, wavg by POP / avg */
    {"POP", "W1", "", "2025", 100}, {"POP", "W2", "", "2025", 300}, {"POP", "W3", "", "2026", 50},
    {"POP", "O1", "", "2024", 10}, {"PRICE", "W1", "", "2025-08", 10}, {"PRICE", "W2", "", "2025-08", 20},
    {"PRICE", "W3", "", "2025-08", 40}, {"PRICE", "O1", "", "2025-05", 5}, {"PRICE", "O2", "", "2025-05", 8},
    /* EVENTS: day, sum / sum, few cells over five months: sparse */
    {"EVENTS", "W1", "", "2025-08-01", 3}, {"EVENTS", "W1", "", "2025-12-31", 4},
    {"EVENTS", "W2", "", "2025-09-15", 5},
};

typedef struct fixture {
  char *dir, *path;
  db_store *store;
  db_catalog cat;
  db_cube *cube;
} fixture;

static void put_indicator(db_store *s, const char *code, db_period_type pt, db_agg space, db_agg time,
                          const char *weight) {
  db_indicator i;
  db_indicator_init(&i);
  i.code = (char *)code;
  i.name = (char *)code;
  i.periodicity = pt;
  i.agg_space = space;
  i.agg_time = time;
  i.weight = (char *)weight;
  assert_int_equal(db_store_put_indicator(s, &i), 0);
}

static void put_succession(db_store *s, const char *from, const char *to, double weight) {
  db_succession su = {(char *)from, (char *)to, weight, weight < 1, day("2025-07-01")};
  assert_int_equal(db_store_put_succession(s, &su), 0);
}

/* Writes every observation of defs in one batch, creating their series. */
static void write_obs(db_store *s, const db_catalog *cat, const obs_def *defs, size_t n) {
  db_batch_info info = {NULL, "test", "tester", 0};
  int64_t seq = 0;
  assert_int_equal(db_store_begin(s, 0), 0);
  assert_int_equal(db_store_batch_begin(s, &info, &seq), 0);
  int64_t *series = db_calloc(n, sizeof *series);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < i && !series[i]; j++)
      if (!strcmp(defs[i].ind, defs[j].ind) && !strcmp(defs[i].unit, defs[j].unit) &&
          !strcmp(defs[i].dimkey, defs[j].dimkey))
        series[i] = series[j];
    if (!series[i]) {
      db_series se = {0, db_catalog_indicator(cat, defs[i].ind)->id, db_catalog_unit(cat, defs[i].unit)->id,
                      defs[i].dimkey};
      assert_int_equal(db_store_put_series(s, &se), 0);
      series[i] = se.id;
    }
    db_period p = per(defs[i].period);
    db_obs o = {series[i], db_period_key(&p), defs[i].value, DB_STATUS_OFFICIAL};
    db_obs_outcome out;
    assert_int_equal(db_store_obs_write(s, seq, &o, 1, &out), 0);
    assert_int_equal(out, DB_OBS_INSERTED);
  }
  db_batch_summary sum = {seq, (int64_t)n, 0, 0, NULL};
  assert_int_equal(db_store_batch_finish(s, &sum), 0);
  assert_int_equal(db_store_commit(s), 0);
  db_free(series);
}

static void load_catalog(db_store *s, db_catalog *cat) {
  db_diag d = DB_DIAG_INIT;
  db_catalog_init(cat);
  assert_int_equal(db_store_load_catalog(s, cat), 0);
  assert_int_equal(db_catalog_link(cat, &d), 0);
  db_diag_free(&d);
}

static int setup(void **state) {
  fixture *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  f->path = db_test_path(f->dir, "store.db");
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(f->path, &f->store, &d), 0);
  db_store *s = f->store;
  assert_int_equal(db_store_begin(s, 0), 0);
  db_test_put_unit(s, "79", NULL, DB_OU_CITY, NULL, NULL);
  db_test_put_unit(s, "D1", "79", DB_OU_LEGACY_DISTRICT, NULL, "2025-06-30");
  db_test_put_unit(s, "O1", "D1", DB_OU_LEGACY_WARD, NULL, "2025-06-30");
  db_test_put_unit(s, "O2", "D1", DB_OU_LEGACY_WARD, NULL, "2025-06-30");
  db_test_put_unit(s, "O3", "D1", DB_OU_LEGACY_WARD, NULL, "2025-06-30");
  db_test_put_unit(s, "W1", "79", DB_OU_WARD, "2025-07-01", NULL);
  db_test_put_unit(s, "W2", "79", DB_OU_WARD, "2025-07-01", NULL);
  db_test_put_unit(s, "W3", "79", DB_OU_WARD, "2025-07-01", NULL);
  put_succession(s, "O1", "W1", 1);
  put_succession(s, "O2", "W2", 1);
  put_succession(s, "O3", "W2", 0.5);
  put_succession(s, "O3", "W3", 0.5);
  put_indicator(s, "POP", DB_PT_YEAR, DB_AGG_SUM, DB_AGG_LAST, NULL);
  put_indicator(s, "WASTE", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, NULL);
  put_indicator(s, "RATE", DB_PT_MONTH, DB_AGG_AVG, DB_AGG_AVG, NULL);
  put_indicator(s, "PRICE", DB_PT_MONTH, DB_AGG_WAVG, DB_AGG_AVG, "POP");
  put_indicator(s, "STOCK", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_LAST, NULL);
  put_indicator(s, "TEMP", DB_PT_MONTH, DB_AGG_MIN, DB_AGG_MAX, NULL);
  put_indicator(s, "WEEKLY", DB_PT_WEEK, DB_AGG_SUM, DB_AGG_SUM, NULL);
  put_indicator(s, "HOURLY", DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG, NULL);
  put_indicator(s, "EVENTS", DB_PT_DAY, DB_AGG_SUM, DB_AGG_SUM, NULL);
  put_indicator(s, "EMPTY", DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, NULL);
  assert_int_equal(db_store_commit(s), 0);
  load_catalog(s, &f->cat);

  size_t n = sizeof FIXTURE_OBS / sizeof *FIXTURE_OBS;
  obs_def extra[53 + 23];
  size_t k = 0;
  char codes[53 + 23][24];
  for (int w = 1; w <= 53; w++) { /* ISO 2026 has 53 weeks; W1 reports all but week 10 */
    if (w == 10) continue;
    snprintf(codes[k], sizeof codes[k], "2026-W%02d", w);
    extra[k] = (obs_def){"WEEKLY", "W1", "", codes[k], 1};
    k++;
  }
  for (int h = 0; h < 24; h++) { /* 2025-08-01: every hour but 05:00 */
    if (h == 5) continue;
    snprintf(codes[k], sizeof codes[k], "2025-08-01T%02d:00", h);
    extra[k] = (obs_def){"HOURLY", "W1", "", codes[k], h};
    k++;
  }
  obs_def *all = db_malloc((n + k) * sizeof *all);
  memcpy(all, FIXTURE_OBS, sizeof FIXTURE_OBS);
  memcpy(all + n, extra, k * sizeof *extra);
  write_obs(s, &f->cat, all, n + k);
  db_free(all);

  assert_int_equal(db_cube_open(s, &f->cat, &f->cube, &d), 0);
  assert_int_equal(db_diag_total(&d), 0);
  db_diag_free(&d);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  db_cube_close(f->cube);
  db_catalog_free(&f->cat);
  db_store_close(f->store);
  db_test_rmtree(f->dir);
  db_free(f->path);
  db_free(f->dir);
  db_free(f);
  return 0;
}

static int64_t ind_of(const db_cube_version *v, const char *code) {
  int64_t i = db_cube_indicator_index(v, code);
  assert_true(i >= 0);
  return i;
}

static int64_t unit_of(const db_cube_version *v, const char *code) {
  int64_t i = db_cube_unit_index(v, code);
  assert_true(i >= 0);
  return i;
}

static db_cube_cell rollup1(const db_cube_version *v, const char *ind, const char *dimkey, const char *unit,
                            const char *period) {
  db_cube_cell c;
  db_period p = per(period);
  assert_int_equal(db_cube_rollup(v, ind_of(v, ind), dimkey, unit_of(v, unit), &p, 1, &c), 0);
  return c;
}

static db_cube_cell rollup_as1(const db_cube_version *v, const char *ind, const char *unit, db_agg rule,
                               const char *period) {
  db_cube_cell c;
  db_period p = per(period);
  assert_int_equal(db_cube_rollup_as(v, ind_of(v, ind), NULL, unit_of(v, unit), rule, &p, 1, &c), 0);
  return c;
}

static db_cube_cell time1(const db_cube_version *v, const char *ind, const char *unit, const char *period) {
  db_cube_cell c;
  db_period p = per(period);
  assert_int_equal(db_cube_rollup_time(v, ind_of(v, ind), NULL, unit_of(v, unit), &p, 1, &c), 0);
  return c;
}

static db_cube_cell rebase1(const db_cube_version *v, const char *ind, const char *unit, const char *period) {
  db_cube_cell c;
  db_period p = per(period);
  assert_int_equal(db_cube_rebase(v, ind_of(v, ind), NULL, unit_of(v, unit), &p, 1, &c), 0);
  return c;
}

static double value1(const db_cube_version *v, const char *ind, const char *dimkey, const char *unit,
                     const char *period) {
  double x;
  db_period p = per(period);
  assert_true(db_cube_series(v, ind_of(v, ind), dimkey, unit_of(v, unit), &p, 1, &x) >= 0);
  return x;
}

/* ---------- loading, series, cross-sections ---------- */

static void test_load_series(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  assert_int_equal(db_cube_version_number(v), 1);
  double out[5];
  db_period from = per("2025-09");
  assert_int_equal(db_cube_series(v, ind_of(v, "WASTE"), NULL, unit_of(v, "W1"), &from, 5, out), 3);
  assert_nan(out[0]);
  assert_true(out[1] == 100 && out[2] == 110 && out[3] == 120);
  assert_nan(out[4]);
  /* a dimension key is its own series */
  assert_true(value1(v, "WASTE", "TYPE=ORG", "W1", "2025-12") == 60);
  assert_nan(value1(v, "WASTE", "TYPE=ORG", "W2", "2025-12"));
  assert_nan(value1(v, "WASTE", "NO=SUCH", "W1", "2025-12"));
  /* a unit or an indicator without data reads as missing */
  assert_nan(value1(v, "WASTE", NULL, "79", "2025-12"));
  assert_nan(value1(v, "EMPTY", NULL, "W1", "2025-12"));
  /* the range with data */
  db_period first, last;
  char a[DB_PERIOD_CODE_MAX], b[DB_PERIOD_CODE_MAX];
  assert_int_equal(db_cube_range(v, ind_of(v, "WASTE"), "", &first, &last), 0);
  db_period_format(&first, a);
  db_period_format(&last, b);
  assert_string_equal(a, "2025-05");
  assert_string_equal(b, "2025-12");
  assert_int_equal(db_cube_range(v, ind_of(v, "EMPTY"), "", &first, &last), DB_ENOTFOUND);
  /* plans step by their span, years by one */
  from = per("2024");
  assert_int_equal(db_cube_series(v, ind_of(v, "POP"), NULL, unit_of(v, "W3"), &from, 3, out), 1);
  assert_nan(out[0]);
  assert_nan(out[1]);
  assert_true(out[2] == 50);
  db_cube_stats st;
  db_cube_stats_get(v, &st);
  assert_int_equal(st.cells, 37 + 52 + 23);
  db_cube_release(v);
}

static void test_cross_section(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  int64_t units[4] = {unit_of(v, "W3"), unit_of(v, "W2"), unit_of(v, "W1"), unit_of(v, "79")};
  double out[4];
  db_period p = per("2025-12");
  assert_int_equal(db_cube_cross(v, ind_of(v, "WASTE"), "", &p, units, 4, out), 2);
  assert_true(out[0] == 320);
  assert_nan(out[1]);
  assert_true(out[2] == 120);
  assert_nan(out[3]);
  /* a period outside the data */
  p = per("2030-01");
  assert_int_equal(db_cube_cross(v, ind_of(v, "WASTE"), "", &p, units, 4, out), 0);
  assert_nan(out[0]);
  db_cube_release(v);
}

/* ---------- roll-ups over the unit tree ---------- */

static void test_rollup_sum_partial(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_cube_cell c[3];
  db_period from = per("2025-10");
  assert_int_equal(db_cube_rollup(v, ind_of(v, "WASTE"), NULL, unit_of(v, "79"), &from, 3, c), 0);
  assert_cell(c[0], 600, 3, 3);
  assert_cell(c[1], 630, 3, 3);
  assert_cell(c[2], 440, 2, 3); /* W2 has not reported December: a partial total */
  /* the dimension key rolls up on its own */
  assert_cell(rollup1(v, "WASTE", "TYPE=ORG", "79", "2025-12"), 60, 1, 3);
  db_cube_release(v);
}

static void test_rollup_validity_and_legacy_units(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  /* before the merger the city's only valid child is D1, rolled up from its old wards */
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-05"), 60, 1, 1);
  assert_cell(rollup1(v, "WASTE", NULL, "D1", "2025-05"), 60, 3, 3);
  assert_cell(rollup1(v, "WASTE", NULL, "D1", "2025-06"), 44, 2, 3);
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-06"), 44, 1, 1);
  /* April 2025: D1 is expected but has nothing; July 2025: the three new wards are expected */
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-04"), NAN, 0, 1);
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-07"), NAN, 0, 3);
  /* a year overlapping both: every child valid in some part of it */
  assert_cell(rollup1(v, "POP", NULL, "79", "2025"), 400, 2, 4);
  /* a unit without children */
  assert_cell(rollup1(v, "WASTE", NULL, "W1", "2025-12"), NAN, 0, 0);
  db_cube_release(v);
}

static void test_rollup_rules(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  assert_cell(rollup_as1(v, "WASTE", "79", DB_AGG_AVG, "2025-11"), 210, 3, 3);
  assert_cell(rollup_as1(v, "WASTE", "79", DB_AGG_MIN, "2025-11"), 110, 3, 3);
  assert_cell(rollup_as1(v, "WASTE", "79", DB_AGG_MAX, "2025-11"), 310, 3, 3);
  assert_cell(rollup_as1(v, "WASTE", "79", DB_AGG_NONE, "2025-11"), NAN, 3, 3);
  assert_cell(rollup_as1(v, "WASTE", "79", DB_AGG_AVG, "2025-12"), 220, 2, 3);
  assert_cell(rollup1(v, "TEMP", NULL, "79", "2025-08"), 25, 3, 3);  /* min */
  assert_cell(rollup1(v, "RATE", NULL, "D1", "2025-05"), 5.5, 2, 3); /* avg */
  db_cube_cell c;
  db_period p = per("2025-11");
  assert_int_equal(db_cube_rollup_as(v, ind_of(v, "WASTE"), NULL, unit_of(v, "79"), DB_AGG_LAST, &p, 1, &c),
                   DB_EINVAL);
  db_cube_release(v);
}

static void test_rollup_wavg(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  /* weights: W1 100 and W2 300 (2025), W3 has no 2025 population: its latest (2026) 50 */
  assert_cell(rollup1(v, "PRICE", NULL, "79", "2025-08"), 20, 3, 3); /* (1000 + 6000 + 2000) / 450 */
  /* O2 has no population at all: it does not count; D1's weight is then O1's 10 */
  assert_cell(rollup1(v, "PRICE", NULL, "D1", "2025-05"), 5, 1, 3);
  assert_cell(rollup1(v, "PRICE", NULL, "79", "2025-05"), 5, 1, 1);
  /* the same values unweighted */
  assert_cell(rollup_as1(v, "PRICE", "79", DB_AGG_AVG, "2025-08"), 70.0 / 3, 3, 3);
  /* an indicator without a weight indicator: nothing counts */
  assert_cell(rollup_as1(v, "WASTE", "79", DB_AGG_WAVG, "2025-11"), NAN, 0, 3);
  db_cube_release(v);
}

/* ---------- roll-ups over time ---------- */

static void test_rollup_time(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  /* flows add up; counts against the sub-periods of the coarse period */
  assert_cell(time1(v, "WASTE", "W1", "2025"), 330, 3, 12);
  assert_cell(time1(v, "WASTE", "W2", "2025-Q4"), 410, 2, 3);
  assert_cell(time1(v, "WASTE", "W2", "2025-S2"), 410, 2, 6);
  /* a unit with children: its monthly roll-ups, then over time */
  assert_cell(time1(v, "WASTE", "79", "2025-Q4"), 1670, 3, 3);
  /* rates average, stocks take the last value, TEMP the maximum */
  assert_cell(time1(v, "RATE", "W1", "2025-Q3"), 4, 3, 3);
  assert_cell(time1(v, "STOCK", "W1", "2025-Q3"), 7, 2, 3);
  assert_cell(time1(v, "TEMP", "W1", "2025-Q3"), 30, 2, 3);
  /* ISO 2026 has 53 weeks; one is missing */
  assert_cell(time1(v, "WEEKLY", "W1", "2026"), 52, 52, 53);
  /* hours into a day */
  assert_cell(time1(v, "HOURLY", "W1", "2025-08-01"), (276.0 - 5) / 23, 23, 24);
  /* several coarse periods at once */
  db_cube_cell c[2];
  db_period from = per("2025-Q2");
  assert_int_equal(db_cube_rollup_time(v, ind_of(v, "WASTE"), NULL, unit_of(v, "O3"), &from, 2, c), 0);
  assert_cell(c[0], 63, 2, 3);
  assert_cell(c[1], NAN, 0, 3);
  /* weeks do not nest in months; a coarse period finer than the data is refused */
  from = per("2026-01");
  assert_int_equal(db_cube_rollup_time(v, ind_of(v, "WEEKLY"), NULL, unit_of(v, "W1"), &from, 1, c), DB_EINVAL);
  from = per("2025-08-01");
  assert_int_equal(db_cube_rollup_time(v, ind_of(v, "WASTE"), NULL, unit_of(v, "W1"), &from, 1, c), DB_EINVAL);
  db_cube_release(v);
}

/* ---------- sparse matrices ---------- */

static void test_sparse(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_cube_stats st;
  db_cube_stats_get(v, &st);
  assert_int_equal(st.sparse_matrices, 1); /* EVENTS: 3 cells over 2 units x 153 days */
  double out[3];
  db_period from = per("2025-07-31");
  assert_int_equal(db_cube_series(v, ind_of(v, "EVENTS"), NULL, unit_of(v, "W1"), &from, 3, out), 1);
  assert_nan(out[0]);
  assert_true(out[1] == 3);
  assert_nan(out[2]);
  int64_t units[2] = {unit_of(v, "W1"), unit_of(v, "W2")};
  db_period p = per("2025-09-15");
  assert_int_equal(db_cube_cross(v, ind_of(v, "EVENTS"), NULL, &p, units, 2, out), 1);
  assert_nan(out[0]);
  assert_true(out[1] == 5);
  assert_cell(rollup1(v, "EVENTS", NULL, "79", "2025-12-31"), 4, 1, 3);
  assert_cell(time1(v, "EVENTS", "W1", "2025-08"), 3, 1, 31);
  assert_cell(time1(v, "EVENTS", "79", "2025"), 12, 3, 365);
  db_cube_release(v);
}

/* ---------- rebase ---------- */

static void test_rebase(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  /* sum-type: O3's 30 is shared out half and half */
  assert_cell(rebase1(v, "WASTE", "W1", "2025-05"), 10, 1, 1);
  assert_cell(rebase1(v, "WASTE", "W2", "2025-05"), 35, 2, 2);
  assert_cell(rebase1(v, "WASTE", "W3", "2025-05"), 15, 1, 1);
  /* the city total is kept: 10 + 20 + 30 before, 10 + 35 + 15 after */
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-05"), 60, 1, 1);
  /* partial: O2 has not reported July 2024 */
  assert_cell(rebase1(v, "WASTE", "W2", "2025-06"), 16.5, 1, 2);
  /* after the merger the unit's own values */
  assert_cell(rebase1(v, "WASTE", "W1", "2025-12"), 120, 1, 1);
  assert_cell(rebase1(v, "WASTE", "W2", "2025-12"), NAN, 0, 1);
  /* avg-type: weighted by the succession weights, (4 x 1 + 7 x 0.5) / 1.5 */
  assert_cell(rebase1(v, "RATE", "W2", "2025-05"), 5, 2, 2);
  /* a range */
  db_cube_cell c[2];
  db_period from = per("2025-05");
  assert_int_equal(db_cube_rebase(v, ind_of(v, "WASTE"), NULL, unit_of(v, "W3"), &from, 2, c), 0);
  assert_cell(c[0], 15, 1, 1);
  assert_cell(c[1], 16.5, 1, 1);
  db_cube_release(v);
}

/* ---------- top-N ---------- */

static void test_top(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  int64_t w[3] = {unit_of(v, "W1"), unit_of(v, "W2"), unit_of(v, "W3")};
  db_cube_ranked r[3];
  db_period p = per("2025-11"), base = per("2025-10");
  /* growth: W1 +10%, W2 +5%, W3 +3.33% */
  assert_int_equal(db_cube_top(v, ind_of(v, "WASTE"), NULL, w, 3, &p, &base, DB_CUBE_GROWTH, 0, 2, r), 2);
  assert_true(r[0].unit == w[0] && r[0].score == 110.0 / 100 - 1 && r[0].value == 110 && r[0].base == 100);
  assert_true(r[1].unit == w[1] && r[1].score == 210.0 / 200 - 1);
  /* change: all +10, ties keep the order given */
  assert_int_equal(db_cube_top(v, ind_of(v, "WASTE"), NULL, w, 3, &p, &base, DB_CUBE_CHANGE, 0, 3, r), 3);
  assert_true(r[0].unit == w[0] && r[1].unit == w[1] && r[2].unit == w[2] && r[2].score == 10);
  /* level, lowest first; W2 has no December value and is left out */
  p = per("2025-12");
  assert_int_equal(db_cube_top(v, ind_of(v, "WASTE"), NULL, w, 3, &p, NULL, DB_CUBE_LEVEL, 1, 3, r), 2);
  assert_true(r[0].unit == w[0] && r[0].score == 120 && isnan(r[0].base) && r[1].unit == w[2]);
  /* a base that is not > 0 leaves the unit out of growth */
  p = per("2025-10");
  base = per("2025-09");
  assert_int_equal(db_cube_top(v, ind_of(v, "WASTE"), NULL, w, 3, &p, &base, DB_CUBE_GROWTH, 0, 3, r), 0);
  db_cube_release(v);
}

/* ---------- bad input ---------- */

static void test_bad_input(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  double x[2];
  db_cube_cell c;
  int64_t waste = ind_of(v, "WASTE"), w1 = unit_of(v, "W1");
  db_period month = per("2025-10"), year = per("2025");
  assert_int_equal(db_cube_series(v, -1, NULL, w1, &month, 1, x), DB_EINVAL);
  assert_int_equal(db_cube_series(v, 999, NULL, w1, &month, 1, x), DB_EINVAL);
  assert_int_equal(db_cube_series(v, waste, NULL, 999, &month, 1, x), DB_EINVAL);
  assert_int_equal(db_cube_series(v, waste, NULL, w1, &year, 1, x), DB_EINVAL);
  assert_int_equal(db_cube_series(v, waste, NULL, w1, &month, 1, NULL), DB_EINVAL);
  assert_int_equal(db_cube_series(v, waste, NULL, w1, &month, 0, NULL), 0);
  int64_t bad[1] = {-3};
  assert_int_equal(db_cube_cross(v, waste, NULL, &month, bad, 1, x), DB_EINVAL);
  assert_int_equal(db_cube_rollup(v, waste, NULL, -1, &month, 1, &c), DB_EINVAL);
  assert_int_equal(db_cube_rollup(v, waste, NULL, w1, &year, 1, &c), DB_EINVAL);
  assert_int_equal(db_cube_rebase(v, waste, NULL, w1, &year, 1, &c), DB_EINVAL);
  db_period absurd = month;
  absurd.ord = INT64_MAX - 3;
  assert_int_equal(db_cube_series(v, waste, NULL, w1, &absurd, 1, x), DB_EINVAL);
  /* the hours of 150 plans of 50 years (65 M sub-periods) are refused, not allocated */
  db_period plan = per("2021/P50Y");
  db_cube_cell many[150];
  assert_int_equal(db_cube_rollup_time(v, ind_of(v, "HOURLY"), NULL, w1, &plan, 150, many), DB_ETOOBIG);
  assert_int_equal(db_cube_top(v, waste, NULL, bad, 1, &month, &month, DB_CUBE_LEVEL, 0, 1, NULL), DB_EINVAL);
  assert_int_equal(db_cube_top(v, waste, NULL, &w1, 1, &month, &year, DB_CUBE_GROWTH, 0, 1, NULL), DB_EINVAL);
  assert_int_equal(db_cube_indicator_index(v, "NOPE"), -1);
  assert_int_equal(db_cube_unit_index(v, NULL), -1);
  assert_null(db_cube_unit_code(v, 99));
  assert_string_equal(db_cube_unit_code(v, w1), "W1");
  db_cube_release(v);

  /* a catalog that was not linked */
  db_catalog cat;
  db_catalog_init(&cat);
  db_cube *cube = NULL;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_cube_create(&cat, &cube, &d), DB_EINVAL);
  assert_null(cube);
  assert_problems(&d, "the catalog must be linked (db_catalog_link) before a cube is built on it\n");
  db_diag_free(&d);
}

/* A catalog older than the store's data, and a period of the wrong type written past the ingest path:
 * the cube refuses to open and says why. */
static void test_open_refuses_mismatch(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  assert_int_equal(db_store_begin(s, 0), 0);
  db_test_put_unit(s, "W5", "79", DB_OU_WARD, "2025-07-01", NULL);
  assert_int_equal(db_store_commit(s), 0);
  db_catalog fresh;
  load_catalog(s, &fresh);
  obs_def late[] = {{"WASTE", "W5", "", "2025-12", 1}};
  write_obs(s, &fresh, late, 1);
  /* a year key in the monthly WASTE series of W1 */
  db_batch_info info = {NULL, "test", "tester", 0};
  int64_t seq = 0, series = 0;
  assert_int_equal(db_store_begin(s, 0), 0);
  assert_int_equal(db_store_batch_begin(s, &info, &seq), 0);
  db_series se = {0, db_catalog_indicator(&fresh, "RATE")->id, db_catalog_unit(&fresh, "W2")->id, ""};
  assert_int_equal(db_store_put_series(s, &se), 0);
  series = se.id;
  db_period year = per("2025");
  db_obs o = {series, db_period_key(&year), 1, DB_STATUS_OFFICIAL};
  db_obs_outcome out;
  assert_int_equal(db_store_obs_write(s, seq, &o, 1, &out), 0);
  db_batch_summary sum = {seq, 1, 0, 0, NULL};
  assert_int_equal(db_store_batch_finish(s, &sum), 0);
  assert_int_equal(db_store_commit(s), 0);

  db_cube *cube = NULL;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_cube_open(s, &f->cat, &cube, &d), DB_EINVAL); /* the fixture's catalog lacks W5 */
  assert_null(cube);
  char *text = db_test_problems(&d);
  assert_non_null(strstr(text, "unknown org unit id"));
  assert_non_null(strstr(text, ": period 2025 is not a month of indicator RATE\n"));
  free(text);
  db_diag_clear(&d);
  assert_int_equal(db_cube_open(s, &fresh, &cube, &d), DB_EINVAL); /* W5 is known now; the year is not */
  assert_problems(&d, "observation 25: period 2025 is not a month of indicator RATE\n");
  db_diag_free(&d);
  db_catalog_free(&fresh);
}

/* ---------- change sets ---------- */

/* A change row naming codes of the fixture's catalog. */
static db_obs_row change(const db_catalog *cat, const char *ind, const char *unit, const char *dimkey,
                         const char *period, double value) {
  db_period p = per(period);
  return (db_obs_row){.indicator = db_catalog_indicator(cat, ind)->id,
                      .orgunit = db_catalog_unit(cat, unit)->id,
                      .dimkey = dimkey,
                      .period = db_period_key(&p),
                      .value = value};
}

static void apply_ok(db_cube *cube, const db_obs_row *rows, size_t n) {
  db_diag d = DB_DIAG_INIT;
  int rc = db_cube_apply(cube, rows, n, &d);
  if (rc) db_diag_print(&d, stderr, "apply");
  assert_int_equal(rc, 0);
  db_diag_free(&d);
}

static void test_apply_versions(void **state) {
  fixture *f = *state;
  const db_cube_version *v1 = db_cube_acquire(f->cube);
  db_obs_row rows[] = {change(&f->cat, "WASTE", "W2", NULL, "2025-12", 220),
                       change(&f->cat, "WASTE", "W2", "", "2025-12", 230), /* the later change wins */
                       change(&f->cat, "RATE", "W3", "", "2025-07", 9)};
  apply_ok(f->cube, rows, 3);
  const db_cube_version *v2 = db_cube_acquire(f->cube);
  assert_int_equal(db_cube_version_number(v2), 2);
  /* the reader of version 1 sees nothing change */
  assert_nan(value1(v1, "WASTE", NULL, "W2", "2025-12"));
  assert_cell(rollup1(v1, "WASTE", NULL, "79", "2025-12"), 440, 2, 3);
  assert_true(value1(v2, "WASTE", NULL, "W2", "2025-12") == 230);
  assert_cell(rollup1(v2, "WASTE", NULL, "79", "2025-12"), 670, 3, 3);
  assert_true(value1(v2, "RATE", NULL, "W3", "2025-07") == 9);
  db_cube_stats st;
  db_cube_stats_get(v2, &st);
  assert_int_equal(st.cells, 112 + 2);
  /* untouched data is the same in both */
  assert_true(value1(v2, "POP", NULL, "W1", "2025") == 100);
  /* an empty change set publishes nothing */
  apply_ok(f->cube, NULL, 0);
  const db_cube_version *v3 = db_cube_acquire(f->cube);
  assert_ptr_equal(v3, v2);
  db_cube_release(v3);
  /* released in the other order than acquired; the cube closes while v2 is still held */
  db_cube_release(v1);
  db_cube_close(f->cube);
  f->cube = NULL;
  assert_true(value1(v2, "WASTE", NULL, "W2", "2025-12") == 230);
  db_cube_release(v2);
}

static void test_apply_shapes(void **state) {
  fixture *f = *state;
  /* first change set: dense matrices keep their layout (same shape, or a new row and a wider range) */
  db_obs_row dense[] = {
      change(&f->cat, "WASTE", "W2", NULL, "2025-12", 1),    /* fills a gap */
      change(&f->cat, "WASTE", "W1", NULL, "2025-10", NAN),  /* deletes a cell */
      change(&f->cat, "TEMP", "O1", NULL, "2025-06", 20),    /* a new row, one month earlier */
      change(&f->cat, "RATE", "O1", NULL, "2025-05", NAN),   /* deleting what is not there */
      change(&f->cat, "WASTE", "W1", "SEX=F", "2025-10", 3), /* a new dimension key */
      change(&f->cat, "EMPTY", "W1", NULL, "2025-10", 4),    /* a first value */
  };
  apply_ok(f->cube, dense, sizeof dense / sizeof *dense);
  const db_cube_version *v = db_cube_acquire(f->cube);
  assert_true(value1(v, "WASTE", NULL, "W2", "2025-12") == 1);
  assert_nan(value1(v, "WASTE", NULL, "W1", "2025-10"));
  assert_true(value1(v, "WASTE", NULL, "W1", "2025-11") == 110);
  assert_true(value1(v, "TEMP", NULL, "O1", "2025-06") == 20);
  assert_true(value1(v, "TEMP", NULL, "W3", "2025-08") == 35);
  assert_true(value1(v, "WASTE", "SEX=F", "W1", "2025-10") == 3);
  assert_true(value1(v, "WASTE", "TYPE=ORG", "W1", "2025-12") == 60);
  assert_true(value1(v, "EMPTY", NULL, "W1", "2025-10") == 4);
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-10"), 500, 2, 3);
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-12"), 441, 3, 3);
  db_cube_stats st;
  db_cube_stats_get(v, &st);
  assert_int_equal(st.cells, 112 + 1 - 1 + 1 + 1 + 1);
  assert_int_equal(st.sparse_matrices, 1);
  db_cube_release(v);

  /* second change set: a far period turns WASTE sparse; the sparse EVENTS change; STOCK loses all */
  db_obs_row other[] = {
      change(&f->cat, "WASTE", "D1", NULL, "2023-01", 2),
      change(&f->cat, "WASTE", "W2", NULL, "2026-03", 5),
      change(&f->cat, "EVENTS", "W3", NULL, "2025-10-01", 6),
      change(&f->cat, "EVENTS", "W1", NULL, "2025-08-01", NAN),
      change(&f->cat, "STOCK", "W1", NULL, "2025-07", NAN),
      change(&f->cat, "STOCK", "W1", NULL, "2025-08", NAN),
  };
  apply_ok(f->cube, other, sizeof other / sizeof *other);
  v = db_cube_acquire(f->cube);
  assert_true(value1(v, "WASTE", NULL, "D1", "2023-01") == 2);
  assert_true(value1(v, "WASTE", NULL, "W2", "2026-03") == 5);
  assert_true(value1(v, "WASTE", NULL, "O3", "2025-06") == 33);
  assert_nan(value1(v, "WASTE", NULL, "W1", "2025-10"));
  assert_true(value1(v, "EVENTS", NULL, "W3", "2025-10-01") == 6);
  assert_nan(value1(v, "EVENTS", NULL, "W1", "2025-08-01"));
  assert_true(value1(v, "EVENTS", NULL, "W1", "2025-12-31") == 4);
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-12"), 441, 3, 3);
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-05"), 60, 1, 1);
  db_period first, last;
  assert_int_equal(db_cube_range(v, ind_of(v, "STOCK"), NULL, &first, &last), DB_ENOTFOUND);
  assert_int_equal(db_cube_range(v, ind_of(v, "WASTE"), NULL, &first, &last), 0);
  assert_int_equal(first.ord, per("2023-01").ord);
  assert_int_equal(last.ord, per("2026-03").ord);
  db_cube_stats_get(v, &st);
  assert_int_equal(st.cells, 115 + 1 + 1 + 1 - 1 - 2);
  assert_int_equal(st.sparse_matrices, 2);
  db_cube_release(v);
}

static void test_apply_refuses_bad_rows(void **state) {
  fixture *f = *state;
  db_obs_row rows[] = {change(&f->cat, "WASTE", "W2", NULL, "2025-12", 1), change(&f->cat, "WASTE", "W2", NULL, "2025", 1),
                       change(&f->cat, "WASTE", "W2", NULL, "2025-12", 1), change(&f->cat, "WASTE", "W2", NULL, "2025-12", 1)};
  rows[2].indicator = 4242;
  rows[3].orgunit = 4343;
  rows[0].period = 17;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_cube_apply(f->cube, rows, 4, &d), DB_EINVAL);
  assert_problems(&d,
                  "change 1: 17 is not a period key\n"
                  "change 2: period 2025 is not a month of indicator WASTE\n"
                  "change 3: unknown indicator id 4242\n"
                  "change 4: unknown org unit id 4343\n");
  db_diag_free(&d);
  const db_cube_version *v = db_cube_acquire(f->cube);
  assert_int_equal(db_cube_version_number(v), 1);
  assert_nan(value1(v, "WASTE", NULL, "W2", "2025-12"));
  db_cube_release(v);
}

/* ---------- a new catalog ---------- */

static void test_set_catalog(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  assert_int_equal(db_store_begin(s, 0), 0);
  db_test_put_unit(s, "W4", "79", DB_OU_WARD, "2025-07-01", NULL);
  put_indicator(s, "NEWIND", DB_PT_QUARTER, DB_AGG_SUM, DB_AGG_SUM, NULL);
  assert_int_equal(db_store_delete_indicator(s, "EMPTY"), 0); /* indices after it move */
  assert_int_equal(db_store_commit(s), 0);
  db_catalog cat;
  load_catalog(s, &cat);
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_cube_set_catalog(f->cube, &cat, &d), 0);
  db_obs_row rows[] = {change(&cat, "NEWIND", "W4", NULL, "2025-Q4", 7), change(&cat, "WASTE", "W4", NULL, "2025-12", 8)};
  apply_ok(f->cube, rows, 2);
  const db_cube_version *v = db_cube_acquire(f->cube);
  assert_int_equal(db_cube_version_number(v), 3);
  assert_int_equal(db_cube_indicator_index(v, "EMPTY"), -1);
  assert_true(value1(v, "NEWIND", NULL, "W4", "2025-Q4") == 7);
  assert_cell(rollup1(v, "WASTE", NULL, "79", "2025-12"), 448, 3, 4);
  assert_true(value1(v, "TEMP", NULL, "W3", "2025-08") == 35);
  db_cube_release(v);
  /* a catalog that lost a unit is refused, and nothing is published */
  db_catalog small;
  db_catalog_init(&small);
  db_orgunit u;
  db_orgunit_init(&u);
  u.code = "79";
  u.id = db_catalog_unit(&cat, "79")->id;
  db_catalog_put_unit(&small, &u);
  for (size_t i = 0; i < cat.n_indicators; i++) db_catalog_put_indicator(&small, &cat.indicators[i]);
  small.indicators[db_catalog_indicator(&small, "WASTE") - small.indicators].periodicity = DB_PT_QUARTER;
  assert_int_equal(db_catalog_link(&small, &d), 0);
  assert_int_equal(db_cube_set_catalog(f->cube, &small, &d), DB_EINVAL);
  assert_problems(&d,
                  "indicator WASTE has data and cannot change its periodicity\n"
                  "the new catalog has fewer org units than the cube's\n");
  v = db_cube_acquire(f->cube);
  assert_int_equal(db_cube_version_number(v), 3);
  db_cube_release(v);
  db_diag_free(&d);
  db_catalog_free(&small);
  db_catalog_free(&cat);
}

/* ---------- property tests on generated catalogs ---------- */

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * UINT64_C(2685821657736338717);
}
static int rnd_below(int n) { return (int)(rnd() % (uint64_t)n); }

/* A catalog of n units U0..Un-1 (ids 1..n; U0 the root; the parent of Ui drawn among U0..Ui-1) and the
 * indicators X_SUM, X_AVG, X_MIN, X_MAX (month; ids 1..4). */
static void random_tree(db_catalog *cat, int n) {
  db_catalog_init(cat);
  char code[16], parent[16];
  for (int i = 0; i < n; i++) {
    db_orgunit u;
    db_orgunit_init(&u);
    snprintf(code, sizeof code, "U%d", i);
    snprintf(parent, sizeof parent, "U%d", i ? rnd_below(i) : 0);
    u.code = code;
    u.parent = i ? parent : NULL;
    u.id = i + 1;
    db_catalog_put_unit(cat, &u);
  }
  const char *names[4] = {"X_SUM", "X_AVG", "X_MIN", "X_MAX"};
  db_agg rules[4] = {DB_AGG_SUM, DB_AGG_AVG, DB_AGG_MIN, DB_AGG_MAX};
  for (int i = 0; i < 4; i++) {
    db_indicator ind;
    db_indicator_init(&ind);
    ind.code = (char *)names[i];
    ind.id = i + 1;
    ind.periodicity = DB_PT_MONTH;
    ind.agg_space = rules[i];
    ind.agg_time = DB_AGG_SUM;
    db_catalog_put_indicator(cat, &ind);
  }
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_catalog_link(cat, &d), 0);
  db_diag_free(&d);
}

/* The value the children of u roll up to in the naive model: each child's own value, else its own
 * roll-up; NAN when no child contributes. */
static double naive_effective(const db_catalog *cat, const double *own, int u, db_agg rule, int *count);
static double naive_rollup(const db_catalog *cat, const double *own, int u, db_agg rule, int *count) {
  const int64_t *kids;
  size_t nk = db_catalog_children(cat, (size_t)u, &kids);
  double acc = rule == DB_AGG_MIN ? INFINITY : rule == DB_AGG_MAX ? -INFINITY : 0;
  *count = 0;
  for (size_t k = 0; k < nk; k++) {
    int sub;
    double x = naive_effective(cat, own, (int)kids[k], rule, &sub);
    if (isnan(x)) continue;
    (*count)++;
    if (rule == DB_AGG_MIN)
      acc = x < acc ? x : acc;
    else if (rule == DB_AGG_MAX)
      acc = x > acc ? x : acc;
    else
      acc += x;
  }
  if (!*count) return NAN;
  return rule == DB_AGG_AVG ? acc / *count : acc;
}

static double naive_effective(const db_catalog *cat, const double *own, int u, db_agg rule, int *count) {
  if (!isnan(own[u])) return own[u];
  return naive_rollup(cat, own, u, rule, count);
}

static void test_property_rollup_random_trees(void **state) {
  (void)state;
  rng_state = UINT64_C(0x2545F4914F6CDD1D);
  for (int round = 0; round < 20; round++) {
    int n = 2 + rnd_below(80), months = 1 + rnd_below(6);
    db_catalog cat;
    random_tree(&cat, n);
    db_cube *cube = NULL;
    db_diag d = DB_DIAG_INIT;
    assert_int_equal(db_cube_create(&cat, &cube, &d), 0);
    /* own[ind][month][unit]: about half the cells, leaves more often than inner units */
    double *own = db_malloc((size_t)(4 * months * n) * sizeof *own);
    db_obs_row *rows = db_malloc((size_t)(4 * months * n) * sizeof *rows);
    size_t nr = 0;
    for (int i = 0; i < 4; i++)
      for (int m = 0; m < months; m++)
        for (int u = 0; u < n; u++) {
          const int64_t *kids;
          int leaf = !db_catalog_children(&cat, (size_t)u, &kids);
          double *x = &own[(i * months + m) * n + u];
          *x = rnd_below(100) < (leaf ? 60 : 15) ? (double)(rnd_below(2001) - 1000) / 8 : NAN;
          if (isnan(*x)) continue;
          db_period p = per("2024-01");
          p = db_period_add(&p, m);
          rows[nr++] = (db_obs_row){.indicator = i + 1, .orgunit = u + 1, .period = db_period_key(&p), .value = *x};
        }
    /* applied in two change sets, the second one in reverse order */
    assert_int_equal(db_cube_apply(cube, rows, nr / 2, &d), 0);
    for (size_t a = nr / 2, b = nr - 1; a < b; a++, b--) {
      db_obs_row t = rows[a];
      rows[a] = rows[b];
      rows[b] = t;
    }
    assert_int_equal(db_cube_apply(cube, rows + nr / 2, nr - nr / 2, &d), 0);
    const db_cube_version *v = db_cube_acquire(cube);
    db_cube_cell *cells = db_malloc((size_t)months * sizeof *cells);
    db_period from = per("2024-01");
    for (int i = 0; i < 4; i++)
      for (int u = 0; u < n; u++) {
        assert_int_equal(db_cube_rollup(v, i, NULL, u, &from, (size_t)months, cells), 0);
        const int64_t *kids;
        int nk = (int)db_catalog_children(&cat, (size_t)u, &kids);
        for (int m = 0; m < months; m++) {
          int count;
          double want = naive_rollup(&cat, &own[(i * months + m) * n], u, cat.indicators[i].agg_space, &count);
          assert_int_equal(cells[m].count, count);
          assert_int_equal(cells[m].expected, nk);
          if (isnan(want))
            assert_nan(cells[m].value);
          else
            assert_true(fabs(cells[m].value - want) <= 1e-9 * (1 + fabs(want)));
        }
      }
    db_free(cells);
    db_cube_release(v);
    db_cube_close(cube);
    db_free(rows);
    db_free(own);
    db_diag_free(&d);
    db_catalog_free(&cat);
  }
}

/* Old units O0..On-1 (until 2025-06-30) and new units N0..Nm-1 (from 2025-07-01) under the city C; each
 * old unit goes to one new unit, or is split between two or three with weights adding up to 1. The city
 * total of a sum indicator over the old units equals the sum of the rebased values of the new ones. */
static void test_property_rebase_keeps_totals(void **state) {
  (void)state;
  rng_state = UINT64_C(0x9E3779B97F4A7C15);
  static const double splits[3][3] = {{1, 0, 0}, {0.25, 0.75, 0}, {0.5, 0.25, 0.25}};
  for (int round = 0; round < 20; round++) {
    int n_old = 1 + rnd_below(40), n_new = 1 + rnd_below(15);
    db_catalog cat;
    db_catalog_init(&cat);
    char code[16], to[16];
    db_orgunit u;
    db_orgunit_init(&u);
    u.code = "C";
    u.id = 1;
    db_catalog_put_unit(&cat, &u);
    for (int i = 0; i < n_old + n_new; i++) {
      db_orgunit_init(&u);
      snprintf(code, sizeof code, i < n_old ? "O%d" : "N%d", i < n_old ? i : i - n_old);
      u.code = code;
      u.parent = "C";
      u.id = i + 2;
      if (i < n_old)
        u.valid_to = day("2025-06-30");
      else
        u.valid_from = day("2025-07-01");
      db_catalog_put_unit(&cat, &u);
    }
    for (int i = 0; i < n_old; i++) {
      int parts = 1 + rnd_below(3);
      for (int k = 0; k < parts; k++) {
        snprintf(code, sizeof code, "O%d", i);
        snprintf(to, sizeof to, "N%d", rnd_below(n_new));
        db_succession su = {code, to, splits[parts - 1][k], parts > 1, day("2025-07-01")};
        db_catalog_add_succession(&cat, &su);
      }
    }
    db_indicator ind;
    db_indicator_init(&ind);
    ind.code = "TOTAL";
    ind.id = 1;
    ind.periodicity = DB_PT_MONTH;
    ind.agg_space = DB_AGG_SUM;
    ind.agg_time = DB_AGG_SUM;
    db_catalog_put_indicator(&cat, &ind);
    db_diag d = DB_DIAG_INIT;
    assert_int_equal(db_catalog_link(&cat, &d), 0);
    db_cube *cube = NULL;
    assert_int_equal(db_cube_create(&cat, &cube, &d), 0);
    db_obs_row *rows = db_malloc((size_t)n_old * 12 * sizeof *rows);
    size_t nr = 0;
    for (int i = 0; i < n_old; i++)
      for (int m = 0; m < 12; m++) {
        if (rnd_below(10) == 0) continue; /* some months missing */
        db_period p = per("2024-01");
        p = db_period_add(&p, m);
        rows[nr++] = (db_obs_row){.indicator = 1, .orgunit = i + 2, .period = db_period_key(&p),
                                  .value = (double)rnd_below(100000)};
      }
    assert_int_equal(db_cube_apply(cube, rows, nr, &d), 0);
    const db_cube_version *v = db_cube_acquire(cube);
    db_cube_cell before[12], after[12];
    db_period from = per("2024-01");
    assert_int_equal(db_cube_rollup(v, 0, NULL, 0, &from, 12, before), 0);
    double total[12] = {0};
    for (int j = 0; j < n_new; j++) {
      assert_int_equal(db_cube_rebase(v, 0, NULL, 1 + n_old + j, &from, 12, after), 0);
      for (int m = 0; m < 12; m++)
        if (after[m].count) total[m] += after[m].value;
    }
    for (int m = 0; m < 12; m++) {
      assert_int_equal(before[m].expected, n_old);
      if (!before[m].count) continue;
      assert_true(fabs(total[m] - before[m].value) <= 1e-9 * fabs(before[m].value));
    }
    db_cube_release(v);
    db_cube_close(cube);
    db_free(rows);
    db_diag_free(&d);
    db_catalog_free(&cat);
  }
}

/* ---------- versions under concurrency ---------- */

/* The writer publishes version i+1 with the value i in two cells of one change set; readers check that
 * both cells of every version they hold agree, and that the version they hold never changes. */
typedef struct race {
  db_cube *cube;
  _Atomic int stop;
  _Atomic int64_t checks;
  int errors;
} race;

/* The stored value of one cell, without cmocka asserts (this runs on another thread). */
static double peek(const db_cube_version *v, const char *ind, const char *unit, const char *period) {
  double x = NAN;
  db_period p;
  if (db_period_parse(period, strlen(period), &p, NULL) != 0 ||
      db_cube_series(v, db_cube_indicator_index(v, ind), NULL, db_cube_unit_index(v, unit), &p, 1, &x) < 0)
    return -1;
  return x;
}

static void *reader(void *arg) {
  race *r = arg;
  while (!r->stop) {
    const db_cube_version *v = db_cube_acquire(r->cube);
    double a = peek(v, "WASTE", "W2", "2025-12"), b = peek(v, "RATE", "W3", "2025-12");
    uint64_t n = db_cube_version_number(v);
    if (!(isnan(a) && isnan(b) && n == 1) && !(a == b && a == (double)(n - 1))) r->errors++;
    double again = peek(v, "WASTE", "W2", "2025-12");
    if (!(again == a || (isnan(again) && isnan(a)))) r->errors++;
    r->checks++;
    db_cube_release(v);
  }
  return NULL;
}

static void test_versions_concurrent(void **state) {
  fixture *f = *state;
  const db_cube_version *held = db_cube_acquire(f->cube);
  race r = {f->cube, 0, 0, 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
  for (int i = 1; i <= 300; i++) {
    /* let the reader check the version just published (and read while the next one is built) */
    for (int64_t seen = r.checks; r.checks < seen + 2;) sched_yield();
    db_obs_row rows[2] = {change(&f->cat, "WASTE", "W2", NULL, "2025-12", i),
                          change(&f->cat, "RATE", "W3", NULL, "2025-12", i)};
    apply_ok(f->cube, rows, 2);
  }
  r.stop = 1;
  pthread_join(t, NULL);
  assert_int_equal(r.errors, 0);
  assert_true(r.checks >= 600);
  assert_nan(value1(held, "WASTE", NULL, "W2", "2025-12"));
  assert_int_equal(db_cube_version_number(held), 1);
  db_cube_release(held);
  const db_cube_version *v = db_cube_acquire(f->cube);
  assert_int_equal(db_cube_version_number(v), 301);
  assert_true(value1(v, "RATE", NULL, "W3", "2025-12") == 300);
  db_cube_release(v);
}

/* Versions acquired between changes and released in every order of a fixed shuffle. */
static void test_versions_release_any_order(void **state) {
  fixture *f = *state;
  enum { N = 6 };
  int orders[3][N] = {{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {2, 5, 0, 3, 1, 4}};
  for (int o = 0; o < 3; o++) {
    const db_cube_version *held[N];
    for (int i = 0; i < N; i++) {
      held[i] = db_cube_acquire(f->cube);
      db_obs_row rows[2] = {change(&f->cat, "WASTE", "W2", NULL, "2025-12", o * N + i),
                            change(&f->cat, "WASTE", "W3", NULL, "2027-01", i)};
      apply_ok(f->cube, rows, 2);
    }
    for (int i = 0; i < N; i++) db_cube_release(held[orders[o][i]]);
  }
  const db_cube_version *v = db_cube_acquire(f->cube);
  assert_int_equal(db_cube_version_number(v), 1 + 3 * N);
  db_cube_release(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_load_series, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cross_section, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollup_sum_partial, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollup_validity_and_legacy_units, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollup_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollup_wavg, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollup_time, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sparse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rebase, setup, teardown),
      cmocka_unit_test_setup_teardown(test_top, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_refuses_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_shapes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_refuses_bad_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_catalog, setup, teardown),
      cmocka_unit_test(test_property_rollup_random_trees),
      cmocka_unit_test(test_property_rebase_keeps_totals),
      cmocka_unit_test_setup_teardown(test_versions_concurrent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_versions_release_any_order, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
