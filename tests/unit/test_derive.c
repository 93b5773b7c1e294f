/* test_derive.c - derived indicators on the cube (derive/derive.h) and their catalog rules
 * (formula/derived.h, the catalog import): exact grids over a small city (stored values, roll-ups at the
 * city, peer groups of the normalisers, plan()), the cache (hits, recompute of only the formulas a commit
 * reaches, an old version kept by a reader, a version the engine was not told of, catalog and target
 * changes, readers on many versions at once while commits arrive), a composite index with its pillar
 * contributions and ranking worked out by hand, and the formula checks of the catalog import (unknown
 * names with their column, periodicity, cycles). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "formula/derived.h"
#include "ingest/catalog_import.h"
#include "store/store.h"
#include "testutil.h"

/* ---------- helpers ---------- */

static db_period per(const char *code) {
  db_period p;
  char why[128];
  if (db_period_parse(code, strlen(code), &p, why) != 0) fail_msg("period %s: %s", code, why);
  return p;
}

/* Values equal (both missing, or within 1e-12: fractions like 2/3 are computed in another order). */
#define assert_value(got, want)                                      \
  do {                                                               \
    double g_ = (got), w_ = (want);                                  \
    if (isnan(w_))                                                   \
      assert_true(isnan(g_));                                        \
    else if (!(fabs(g_ - w_) <= 1e-12))                              \
      fail_msg("got %.17g, want %.17g (line %d)", g_, w_, __LINE__); \
  } while (0)

#define N NAN

/* ---------- the fixture ----------
 * C (the city, a root) has the wards W1, W2, W3, the commune W4 (one peer group: wards, communes and
 * special zones form one tier) and the legacy district D (until 2025-06-30, its own tier) with the
 * legacy ward O1. Indicators (month): A and B (sum / sum), CPI (none / last), and derived ones. */

enum { ID_C = 1, ID_W1, ID_W2, ID_W3, ID_W4, ID_D, ID_O1 };
enum { U_C, U_W1, U_W2, U_W3, U_W4, U_D, U_O1 }; /* catalog indices */
enum { ID_A = 1, ID_B, ID_CPI, ID_RATIO, ID_DOUBLE, ID_GAP, ID_IDX, ID_PLAN };

static void add_unit(db_catalog *c, int64_t id, const char *code, const char *parent, db_ou_kind kind,
                     int64_t to) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.id = id;
  u.code = (char *)code;
  u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = kind;
  if (to) u.valid_to = to;
  db_catalog_put_unit(c, &u);
}

static void add_ind(db_catalog *c, int64_t id, const char *code, db_agg space, db_agg time, db_polarity pol,
                    const char *formula) {
  db_indicator i;
  db_indicator_init(&i);
  i.id = id;
  i.code = (char *)code;
  i.name = (char *)code;
  i.periodicity = DB_PT_MONTH;
  i.agg_space = space;
  i.agg_time = time;
  i.polarity = pol;
  i.formula = (char *)formula;
  db_catalog_put_indicator(c, &i);
}

static void build_catalog(db_catalog *c) {
  db_catalog_init(c);
  int64_t end_june;
  assert_int_equal(db_parse_date("2025-06-30", 10, &end_june), 0);
  add_unit(c, ID_C, "C", NULL, DB_OU_CITY, 0);
  add_unit(c, ID_W1, "W1", "C", DB_OU_WARD, 0);
  add_unit(c, ID_W2, "W2", "C", DB_OU_WARD, 0);
  add_unit(c, ID_W3, "W3", "C", DB_OU_WARD, 0);
  add_unit(c, ID_W4, "W4", "C", DB_OU_COMMUNE, 0);
  add_unit(c, ID_D, "D", "C", DB_OU_LEGACY_DISTRICT, end_june);
  add_unit(c, ID_O1, "O1", "D", DB_OU_LEGACY_WARD, end_june);
  add_ind(c, ID_A, "A", DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, NULL);
  add_ind(c, ID_B, "B", DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, NULL);
  add_ind(c, ID_CPI, "CPI", DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, NULL);
  add_ind(c, ID_RATIO, "RATIO", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "100 * A / B");
  add_ind(c, ID_DOUBLE, "DOUBLE", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "RATIO * 2");
  add_ind(c, ID_GAP, "GAP", DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, "CPI - 4");
  add_ind(c, ID_IDX, "IDX", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "0.6 * minmax(A) + 0.4 * (1 - minmax(B))");
  add_ind(c, ID_PLAN, "PLAN_PCT", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "100 * A / plan(A)");
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_catalog_link(c, &d), 0);
  db_diag_free(&d);
}

typedef struct obs {
  int64_t ind, unit;
  const char *period;
  double value;
} obs;

/* A in 2025-01 and 2025-02: W1 10 20, W2 20 30, W3 30 -, W4 40 40, O1 5 -. B: W1 50 50, W2 100 100,
 * W3 25 25, W4 40 80, O1 10 -. CPI at C: 3.5 4.0. In 2025-07: A and B of W1 10 10, and of D 1 1 (D no
 * longer exists then). */
static const obs DATA[] = {
    {ID_A, ID_W1, "2025-01", 10},   {ID_A, ID_W1, "2025-02", 20},   {ID_A, ID_W2, "2025-01", 20},
    {ID_A, ID_W2, "2025-02", 30},   {ID_A, ID_W3, "2025-01", 30},   {ID_A, ID_W4, "2025-01", 40},
    {ID_A, ID_W4, "2025-02", 40},   {ID_B, ID_W1, "2025-01", 50},   {ID_B, ID_W1, "2025-02", 50},
    {ID_B, ID_W2, "2025-01", 100},  {ID_B, ID_W2, "2025-02", 100},  {ID_B, ID_W3, "2025-01", 25},
    {ID_B, ID_W3, "2025-02", 25},   {ID_B, ID_W4, "2025-01", 40},   {ID_B, ID_W4, "2025-02", 80},
    {ID_CPI, ID_C, "2025-01", 3.5}, {ID_CPI, ID_C, "2025-02", 4.0}, {ID_A, ID_O1, "2025-01", 5},
    {ID_B, ID_O1, "2025-01", 10},   {ID_A, ID_W1, "2025-07", 10},   {ID_B, ID_W1, "2025-07", 10},
    {ID_A, ID_D, "2025-07", 1},     {ID_B, ID_D, "2025-07", 1},
};

typedef struct fixture {
  db_catalog cat;
  db_cube *cube;
  db_derive *e;
  db_diag d;
} fixture;

/* Applies the observations as one commit and tells the engine (note = 0: it is not told). */
static uint64_t commit(fixture *f, const obs *rows, size_t n, int note) {
  db_obs_row *r = db_calloc(n, sizeof *r);
  for (size_t i = 0; i < n; i++) {
    db_period p = per(rows[i].period);
    r[i] = (db_obs_row){.indicator = rows[i].ind,
                        .orgunit = rows[i].unit,
                        .dimkey = "",
                        .period = db_period_key(&p),
                        .value = rows[i].value};
  }
  assert_int_equal(db_cube_apply(f->cube, r, n, &f->d), 0);
  const db_cube_version *v = db_cube_acquire(f->cube);
  uint64_t version = db_cube_version_number(v);
  db_cube_release(v);
  if (note) db_derive_note_commit(f->e, version, r, n);
  db_free(r);
  return version;
}

static int setup(void **state) {
  fixture *f = db_calloc(1, sizeof *f);
  build_catalog(&f->cat);
  assert_int_equal(db_cube_create(&f->cat, &f->cube, &f->d), 0);
  assert_int_equal(db_derive_open(&f->cat, &f->e, &f->d), 0);
  commit(f, DATA, sizeof DATA / sizeof DATA[0], 1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  db_derive_close(f->e);
  db_cube_close(f->cube);
  db_catalog_free(&f->cat);
  db_diag_free(&f->d);
  db_free(f);
  return 0;
}

/* values of `code` for units over n months from `from`, on the current version. */
static int values(fixture *f, const char *code, const int64_t *units, size_t n_units, const char *from,
                  size_t n, double *out) {
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_period p = per(from);
  int rc = db_derive_values(f->e, v, code, units, n_units, &p, n, out, &f->d);
  db_cube_release(v);
  return rc;
}

static uint64_t evaluations(fixture *f) {
  db_derive_stats st;
  db_derive_stats_get(f->e, &st);
  return st.evaluations;
}

/* ---------- evaluation ---------- */

static void test_grid(void **state) {
  fixture *f = *state;
  const int64_t units[] = {U_W1, U_W2, U_W3, U_W4, U_C};
  double out[10];
  assert_int_equal(values(f, "RATIO", units, 5, "2025-01", 2, out), 0);
  /* 100 * A / B; at C, the ratio of the roll-ups (D rolls up O1): 100 * 105 / 225, and in February (W3
   * has no A, D nothing) the partial total 90 over 255 */
  const double want[] = {20, 40, 20, 30, 120, N, 100, 50, 100.0 * 105 / 225, 100.0 * 90 / 255};
  for (int k = 0; k < 10; k++) assert_value(out[k], want[k]);
  /* a derived indicator reading another one */
  assert_int_equal(values(f, "DOUBLE", units, 2, "2025-01", 2, out), 0);
  const double twice[] = {40, 80, 40, 60};
  for (int k = 0; k < 4; k++) assert_value(out[k], twice[k]);
  /* the city's CPI, a month before the data and the two months */
  const int64_t city = U_C;
  assert_int_equal(values(f, "GAP", &city, 1, "2024-12", 3, out), 0);
  assert_value(out[0], N);
  assert_value(out[1], -0.5);
  assert_value(out[2], 0);
  assert_int_equal(f->d.count, 0);
}

/* A formula that is no indicator (a rule's condition): booleans per unit and period, reading derived
 * inputs and roll-ups, and its problems with their columns. */
static void test_eval_formula(void **state) {
  fixture *f = *state;
  db_formula *rule = NULL;
  const char text[] = "RATIO >= 30 and A > 15";
  assert_int_equal(db_formula_compile(text, strlen(text), &f->cat, &rule, &f->d), 0);
  const int64_t units[] = {U_W1, U_W2, U_W3, U_C};
  double out[8];
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_period jan = per("2025-01");
  assert_int_equal(db_derive_eval(f->e, v, rule, units, 4, &jan, 2, out, &f->d), 0);
  /* RATIO: W1 20 40, W2 20 30, W3 120 -, C 46.7 35.3; A: W1 10 20, W2 20 30, W3 30 -, C 105 90 */
  const double want[] = {0, 1, 0, 1, 1, N, 1, 1};
  for (int k = 0; k < 8; k++) assert_value(out[k], want[k]);
  const int64_t bad[] = {U_W1, 99};
  assert_int_equal(db_derive_eval(f->e, v, rule, bad, 2, &jan, 2, out, &f->d), DB_EINVAL);
  assert_problems(&f->d, "unit index 99 out of range\n");
  db_diag_free(&f->d);
  db_formula_free(rule);
  /* normalisers work across the units given */
  const char norm[] = "minmax(A)";
  assert_int_equal(db_formula_compile(norm, strlen(norm), &f->cat, &rule, &f->d), 0);
  assert_int_equal(db_derive_eval(f->e, v, rule, units, 3, &jan, 1, out, &f->d), 0);
  assert_value(out[0], 0);
  assert_value(out[1], 0.5);
  assert_value(out[2], 1);
  db_formula_free(rule);
  db_cube_release(v);
}

static void test_plan(void **state) {
  fixture *f = *state;
  const int64_t units[] = {U_W1, U_W2};
  double out[4];
  assert_int_equal(values(f, "PLAN_PCT", units, 2, "2025-01", 2, out), 0);
  for (int k = 0; k < 4; k++) assert_value(out[k], N); /* no targets yet */
  const db_target t[] = {
      {"A", "W1", "2025", "plan", 120, NULL},
      {"A", "W2", "2025", "goal", 500, NULL}, /* not a plan: ignored */
      {"A", "W2", "2024", "plan", 80, NULL},
  };
  db_derive_set_targets(f->e, t, 3);
  assert_int_equal(values(f, "PLAN_PCT", units, 2, "2025-01", 2, out), 0);
  assert_value(out[0], 100.0 * 10 / 120);
  assert_value(out[1], 100.0 * 20 / 120);
  assert_value(out[2], N);
  assert_value(out[3], N);
}

static void test_peer_groups(void **state) {
  fixture *f = *state;
  /* a ward's index is the same asked alone or with its peers; the legacy district is not a peer */
  const int64_t all[] = {U_W1, U_W2, U_W3, U_W4, U_D};
  double grid[5], alone;
  assert_int_equal(values(f, "IDX", all, 5, "2025-01", 1, grid), 0);
  /* minmax(A): 0, 1/3, 2/3, 1; minmax(B) over 50, 100, 25, 40: 1/3, 1, 0, 0.2 */
  assert_value(grid[0], 0.4 * (2.0 / 3));
  assert_value(grid[1], 0.6 / 3);
  assert_value(grid[2], 0.6 * 2 / 3 + 0.4);
  assert_value(grid[3], 0.6 + 0.4 * 0.8);
  assert_value(grid[4], N); /* D alone in its tier: a minmax over one unit */
  const int64_t w3 = U_W3;
  assert_int_equal(values(f, "IDX", &w3, 1, "2025-01", 1, &alone), 0);
  assert_value(alone, grid[2]);
  /* in February W3 has no A: the normaliser skips it */
  assert_int_equal(values(f, "IDX", all, 4, "2025-02", 1, grid), 0);
  /* A: 20, 30, -, 40 -> 0, 0.5, -, 1; B: 50, 100, 25, 80 -> 1/3, 1, 0, 0.73333 */
  assert_value(grid[0], 0.4 * (2.0 / 3));
  assert_value(grid[1], 0.3);
  assert_value(grid[2], N);
  assert_value(grid[3], 0.6 + 0.4 * (1 - 55.0 / 75));
}

static void test_bad_requests(void **state) {
  fixture *f = *state;
  const int64_t bad = 99, w1 = U_W1;
  double out[2];
  assert_int_equal(values(f, "A", &w1, 1, "2025-01", 1, out), DB_ENOTFOUND);
  assert_int_equal(values(f, "RATIO", &bad, 1, "2025-01", 1, out), DB_EINVAL);
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_period q = per("2025-Q1");
  assert_int_equal(db_derive_values(f->e, v, "RATIO", &w1, 1, &q, 1, out, &f->d), DB_EINVAL);
  db_cube_release(v);
  assert_problems(&f->d,
                  "'A' is not a derived indicator\n"
                  "RATIO: unit index 99 out of range\n"
                  "RATIO: periods of type quarter asked for, the indicator is month\n");
  db_diag_clear(&f->d);
  assert_int_equal(db_derive_is_derived(f->e, "RATIO"), 1);
  assert_int_equal(db_derive_is_derived(f->e, "A"), 0);
  assert_int_equal(db_derive_is_derived(f->e, "NOPE"), 0);
}

/* ---------- the cache ---------- */

static void test_cache_hits(void **state) {
  fixture *f = *state;
  const int64_t units[] = {U_W1, U_W2, U_W3, U_W4};
  double out[8];
  assert_int_equal(values(f, "RATIO", units, 4, "2025-01", 2, out), 0);
  assert_int_equal(evaluations(f), 1); /* one peer group */
  assert_int_equal(values(f, "RATIO", units + 1, 2, "2025-01", 2, out), 0);
  assert_int_equal(values(f, "RATIO", units, 1, "2025-02", 1, out), 0); /* inside the cached months */
  assert_value(out[0], 40);
  db_derive_stats st;
  db_derive_stats_get(f->e, &st);
  assert_int_equal(st.evaluations, 1);
  assert_int_equal(st.hits, 2);
  assert_int_equal(st.cached_cells, 8); /* the group W1..W4 over two months */
}

static void test_recompute_affected(void **state) {
  fixture *f = *state;
  const int64_t wards[] = {U_W1, U_W2, U_W3, U_W4}, city = U_C;
  double out[8];
  assert_int_equal(values(f, "RATIO", wards, 4, "2025-01", 2, out), 0);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 2, out), 0);
  assert_int_equal(evaluations(f), 2);
  /* a commit touching CPI recomputes GAP only */
  const obs cpi[] = {{ID_CPI, ID_C, "2025-01", 5}};
  commit(f, cpi, 1, 1);
  assert_int_equal(values(f, "RATIO", wards, 4, "2025-01", 2, out), 0);
  assert_int_equal(evaluations(f), 2);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 2, out), 0);
  assert_int_equal(evaluations(f), 3);
  assert_value(out[0], 1);
  /* a commit touching A recomputes RATIO (and would DOUBLE, IDX, PLAN_PCT), not GAP */
  const db_cube_version *old = db_cube_acquire(f->cube);
  const obs a[] = {{ID_A, ID_W1, "2025-01", 25}};
  commit(f, a, 1, 1);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 2, out), 0);
  assert_int_equal(evaluations(f), 3);
  assert_int_equal(values(f, "RATIO", wards, 1, "2025-01", 1, out), 0);
  assert_int_equal(evaluations(f), 4);
  assert_value(out[0], 50);
  /* a reader still on the version before sees the values of that version */
  db_period jan = per("2025-01");
  assert_int_equal(db_derive_values(f->e, old, "RATIO", wards, 1, &jan, 1, out, &f->d), 0);
  assert_value(out[0], 20);
  db_cube_release(old);
  /* a version the engine was not told of: everything is recomputed, correctly */
  const obs b[] = {{ID_B, ID_W1, "2025-01", 100}};
  commit(f, b, 1, 0);
  uint64_t before = evaluations(f);
  assert_int_equal(values(f, "RATIO", wards, 1, "2025-01", 1, out), 0);
  assert_value(out[0], 25);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 1, out), 0);
  assert_value(out[0], 1);
  assert_int_equal(evaluations(f), before + 2);
}

static void test_recompute_through_derived(void **state) {
  fixture *f = *state;
  const int64_t w1 = U_W1;
  double out[1];
  assert_int_equal(values(f, "DOUBLE", &w1, 1, "2025-01", 1, out), 0);
  assert_int_equal(evaluations(f), 2); /* DOUBLE, and RATIO that it reads */
  const obs b[] = {{ID_B, ID_W1, "2025-01", 40}};
  commit(f, b, 1, 1);
  assert_int_equal(values(f, "DOUBLE", &w1, 1, "2025-01", 1, out), 0);
  assert_value(out[0], 50);
  assert_int_equal(evaluations(f), 4);
}

static void test_catalog_and_target_changes(void **state) {
  fixture *f = *state;
  const int64_t w1 = U_W1, city = U_C;
  double out[1];
  assert_int_equal(values(f, "RATIO", &w1, 1, "2025-01", 1, out), 0);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 1, out), 0);
  assert_int_equal(values(f, "PLAN_PCT", &w1, 1, "2025-01", 1, out), 0);
  assert_int_equal(evaluations(f), 3);
  /* RATIO's formula changes: RATIO is recomputed, GAP is not */
  add_ind(&f->cat, ID_RATIO, "RATIO", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "1000 * A / B");
  assert_int_equal(db_derive_set_catalog(f->e, &f->cat, &f->d), 0);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 1, out), 0);
  assert_int_equal(evaluations(f), 3);
  assert_int_equal(values(f, "RATIO", &w1, 1, "2025-01", 1, out), 0);
  assert_value(out[0], 200);
  assert_int_equal(evaluations(f), 4);
  /* plans of A change: PLAN_PCT is recomputed, GAP is not */
  const db_target t = {"A", "W1", "2025", "plan", 50, NULL};
  db_derive_set_targets(f->e, &t, 1);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 1, out), 0);
  assert_int_equal(values(f, "PLAN_PCT", &w1, 1, "2025-01", 1, out), 0);
  assert_value(out[0], 20);
  assert_int_equal(evaluations(f), 5);
  /* a catalog with a broken formula is refused, the engine keeps what it had */
  add_ind(&f->cat, ID_GAP, "GAP", DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, "CPII - 4");
  assert_int_equal(db_derive_set_catalog(f->e, &f->cat, &f->d), DB_EINVAL);
  assert_problems(&f->d, "indicators[GAP].formula: column 1: unknown indicator 'CPII' (did you mean CPI?)\n");
  db_diag_clear(&f->d);
  assert_int_equal(values(f, "GAP", &city, 1, "2025-01", 1, out), 0);
  assert_value(out[0], -0.5);
  assert_int_equal(evaluations(f), 5);
}

/* Readers on several threads, each on the version it holds, while the main thread commits A of W1 in
 * 2025-01 = k at version base + k and tells the engine: every value read is the one of its version. */
#define COMMITS 150

typedef struct reader_ctx {
  fixture *f;
  uint64_t base;
  int bad, reads;
} reader_ctx;

static void *reader(void *arg) {
  reader_ctx *rc = arg;
  const int64_t units[] = {U_W1, U_W2};
  db_period jan = per("2025-01");
  for (int i = 0; i < 4 * COMMITS; i++) {
    const db_cube_version *v = db_cube_acquire(rc->f->cube);
    uint64_t k = db_cube_version_number(v) - rc->base;
    double out[2];
    db_diag d = DB_DIAG_INIT;
    if (db_derive_values(rc->f->e, v, "DOUBLE", units, 2, &jan, 1, out, &d) != 0 ||
        out[0] != (k ? 2 * 100.0 * (double)k / 50 : 40) || out[1] != 40)
      rc->bad++;
    rc->reads++;
    db_diag_free(&d);
    db_cube_release(v);
  }
  return NULL;
}

static void test_concurrent_readers(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  reader_ctx ctx[4];
  pthread_t threads[4];
  for (int t = 0; t < 4; t++) {
    ctx[t] = (reader_ctx){f, db_cube_version_number(v), 0, 0};
    assert_int_equal(pthread_create(&threads[t], NULL, reader, &ctx[t]), 0);
  }
  db_cube_release(v);
  for (int k = 1; k <= COMMITS; k++) {
    const obs a[] = {{ID_A, ID_W1, "2025-01", k}};
    commit(f, a, 1, 1);
  }
  for (int t = 0; t < 4; t++) {
    assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(ctx[t].bad, 0);
    assert_int_equal(ctx[t].reads, 4 * COMMITS);
  }
}

/* ---------- composite index: pillars and ranking ---------- */

static void test_breakdown(void **state) {
  fixture *f = *state;
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_period jan = per("2025-01");
  db_derive_breakdown b;
  assert_int_equal(db_derive_breakdown_get(f->e, v, "IDX", U_C, &jan, &b, &f->d), 0);
  assert_int_equal(b.n_pillars, 2);
  assert_string_equal(b.pillars[0].label, "minmax(A)");
  assert_string_equal(b.pillars[0].text, "0.6 * minmax(A)");
  assert_true(b.pillars[0].weight == 0.6);
  assert_string_equal(b.pillars[1].label, "(1 - minmax(B))");
  assert_true(b.pillars[1].weight == 0.4);
  /* children of C valid in January 2025: the four wards, best first (D, alone in its tier, has no
   * index value: left out) */
  assert_int_equal(b.n_units, 4);
  const int64_t order[] = {U_W4, U_W3, U_W1, U_W2};
  const double contrib[][2] = {{0.6, 0.4 * 0.8}, {0.4, 0.4}, {0, 0.4 * 2 / 3.0}, {0.2, 0}};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(b.units[i], order[i]);
    assert_int_equal(b.ranks[i], (int64_t)i + 1);
    assert_value(b.contrib[i * 2], contrib[i][0]);
    assert_value(b.contrib[i * 2 + 1], contrib[i][1]);
    assert_value(b.values[i], contrib[i][0] + contrib[i][1]);
  }
  db_derive_breakdown_free(&b);
  /* in February W3 has no value: last, rank 0 */
  db_period feb = per("2025-02");
  assert_int_equal(db_derive_breakdown_get(f->e, v, "IDX", U_C, &feb, &b, &f->d), 0);
  assert_int_equal(b.n_units, 4);
  assert_int_equal(b.units[3], U_W3);
  assert_int_equal(b.ranks[3], 0);
  assert_value(b.values[3], N);
  assert_value(b.contrib[3 * 2], N);
  db_derive_breakdown_free(&b);
  /* in July D is gone, though it has a value: W1 ranks alone among the wards */
  db_period jul = per("2025-07");
  assert_int_equal(db_derive_breakdown_get(f->e, v, "RATIO", U_C, &jul, &b, &f->d), 0);
  assert_int_equal(b.n_units, 4);
  const int64_t july[] = {U_W1, U_W2, U_W3, U_W4}, july_ranks[] = {1, 0, 0, 0};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(b.units[i], july[i]);
    assert_int_equal(b.ranks[i], july_ranks[i]);
  }
  assert_value(b.values[0], 100);
  db_derive_breakdown_free(&b);
  /* GAP ranks the roots: C alone */
  assert_int_equal(db_derive_breakdown_get(f->e, v, "GAP", -1, &jan, &b, &f->d), 0);
  assert_int_equal(b.n_units, 1);
  assert_int_equal(b.n_pillars, 2); /* a constant term is a pillar too */
  assert_string_equal(b.pillars[0].label, "CPI");
  assert_true(b.pillars[0].weight == 1);
  assert_string_equal(b.pillars[1].text, "-(4)");
  assert_true(b.pillars[1].weight == -1);
  assert_value(b.values[0], -0.5);
  assert_value(b.contrib[0], 3.5);
  assert_value(b.contrib[1], -4);
  assert_int_equal(b.ranks[0], 1);
  db_derive_breakdown_free(&b);
  assert_int_equal(db_derive_breakdown_get(f->e, v, "A", U_C, &jan, &b, &f->d), DB_ENOTFOUND);
  db_derive_breakdown_free(&b);
  db_diag_clear(&f->d);
  db_cube_release(v);
}

static void test_ties_and_lower_polarity(void **state) {
  fixture *f = *state;
  /* RATIO in January: W1 20, W2 20, W3 120, W4 100, D 50 (rolled up from O1): ties share the best rank */
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_period jan = per("2025-01");
  db_derive_breakdown b;
  assert_int_equal(db_derive_breakdown_get(f->e, v, "RATIO", U_C, &jan, &b, &f->d), 0);
  const int64_t order[] = {U_W3, U_W4, U_D, U_W1, U_W2}, ranks[] = {1, 2, 3, 4, 4};
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(b.units[i], order[i]);
    assert_int_equal(b.ranks[i], ranks[i]);
  }
  db_derive_breakdown_free(&b);
  /* the same formula with polarity lower ranks the lowest first */
  add_ind(&f->cat, ID_RATIO, "RATIO", DB_AGG_AVG, DB_AGG_AVG, DB_POL_LOWER, "100 * A / B");
  assert_int_equal(db_derive_set_catalog(f->e, &f->cat, &f->d), 0);
  assert_int_equal(db_derive_breakdown_get(f->e, v, "RATIO", U_C, &jan, &b, &f->d), 0);
  const int64_t low[] = {U_W1, U_W2, U_D, U_W4, U_W3}, low_ranks[] = {1, 1, 3, 4, 5};
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(b.units[i], low[i]);
    assert_int_equal(b.ranks[i], low_ranks[i]);
  }
  db_derive_breakdown_free(&b);
  db_cube_release(v);
}

static void test_pillar_shapes(void **state) {
  (void)state;
  /* weights on either side, subtracted terms, a weightless term; no pillars for a comparison */
  db_catalog c;
  build_catalog(&c);
  add_ind(&c, 20, "P1", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER,
          "minmax(A) * 0.25 - 0.5 * zscore(B) + rank(A)");
  add_ind(&c, 21, "P2", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "A > 2 and B < 3");
  add_ind(&c, 22, "P3", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "-2 * A + goalpost(B, 0, 100) * 3");
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_catalog_link(&c, &d), 0);
  db_cube *cube;
  db_derive *e;
  assert_int_equal(db_cube_create(&c, &cube, &d), 0);
  assert_int_equal(db_derive_open(&c, &e, &d), 0);
  const db_cube_version *v = db_cube_acquire(cube);
  db_period jan = per("2025-01");
  db_derive_breakdown b;
  assert_int_equal(db_derive_breakdown_get(e, v, "P1", U_C, &jan, &b, &d), 0);
  assert_int_equal(b.n_pillars, 3);
  const char *labels[] = {"minmax(A)", "zscore(B)", "rank(A)"},
             *texts[] = {"minmax(A) * 0.25", "-(0.5 * zscore(B))", "rank(A)"};
  const double weights[] = {0.25, -0.5, 1};
  for (size_t j = 0; j < 3; j++) {
    assert_string_equal(b.pillars[j].label, labels[j]);
    assert_string_equal(b.pillars[j].text, texts[j]);
    assert_true(b.pillars[j].weight == weights[j]);
  }
  db_derive_breakdown_free(&b);
  assert_int_equal(db_derive_breakdown_get(e, v, "P2", U_C, &jan, &b, &d), 0);
  assert_int_equal(b.n_pillars, 1);
  assert_string_equal(b.pillars[0].label, "A > 2 and B < 3");
  db_derive_breakdown_free(&b);
  assert_int_equal(db_derive_breakdown_get(e, v, "P3", U_C, &jan, &b, &d), 0);
  assert_int_equal(b.n_pillars, 2);
  assert_string_equal(b.pillars[0].label, "A");
  assert_true(b.pillars[0].weight == -2);
  assert_string_equal(b.pillars[1].label, "goalpost(B, 0, 100)");
  assert_true(b.pillars[1].weight == 3);
  db_derive_breakdown_free(&b);
  assert_int_equal(d.count, 0);
  db_cube_release(v);
  db_derive_close(e);
  db_cube_close(cube);
  db_catalog_free(&c);
  db_diag_free(&d);
}

/* ---------- catalog rules ---------- */

static void test_check_catalog(void **state) {
  (void)state;
  db_catalog c;
  build_catalog(&c);
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_formula_check_catalog(&c, NULL, NULL, &d), 0);
  add_ind(&c, 30, "X", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "Y + 1");
  add_ind(&c, 31, "Y", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "X * 2");
  add_ind(&c, 32, "Z", DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, "100 * CPII / B");
  db_indicator q;
  db_indicator_init(&q);
  q.code = "Q";
  q.name = "Q";
  q.periodicity = DB_PT_QUARTER;
  q.formula = "A / 2";
  db_catalog_put_indicator(&c, &q);
  db_formula *compiled[16];
  assert_int_equal(db_formula_check_catalog(&c, compiled, NULL, &d), DB_EINVAL);
  assert_problems(&d,
                  "indicators[Y].formula: dependency cycle Y -> X -> Y\n"
                  "indicators[Z].formula: column 7: unknown indicator 'CPII' (did you mean CPI?)\n"
                  "indicators[Q].formula: column 1: the formula reads month indicators, not quarter\n");
  for (size_t i = 0; i < c.n_indicators; i++) assert_null(compiled[i]);
  db_diag_free(&d);
  db_catalog_free(&c);
}

static void test_compile_derived(void **state) {
  (void)state;
  db_catalog c;
  build_catalog(&c);
  db_diag d = DB_DIAG_INIT;
  db_formula *f;
  assert_int_equal(db_formula_compile_derived("yoy(A) + 1", 10, &c, DB_PT_MONTH, 0, &f, &d), 0);
  db_formula_free(f);
  assert_int_equal(db_formula_compile_derived("42", 2, &c, DB_PT_YEAR, 0, &f, &d),
                   0); /* reads nothing: fits */
  db_formula_free(f);
  assert_int_equal(db_formula_compile_derived("A + (", 5, &c, 0, 0, &f, &d), DB_EINVAL);
  assert_null(f);
  assert_problems(&d, "column 6, expected a value, found end of formula\n");
  db_diag_free(&d);
  db_catalog_free(&c);
}

typedef struct store_fixture {
  char *dir;
  db_store *s;
} store_fixture;

static int store_setup(void **state) {
  store_fixture *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  db_buf url = DB_BUF_INIT;
  db_diag d = DB_DIAG_INIT;
  db_buf_printf(&url, "sqlite:%s/store.db", f->dir);
  assert_int_equal(db_store_open(db_buf_str(&url), &f->s, &d), 0);
  db_buf_free(&url);
  db_diag_free(&d);
  *state = f;
  return 0;
}

static int store_teardown(void **state) {
  store_fixture *f = *state;
  db_store_close(f->s);
  db_test_rmtree(f->dir);
  db_free(f->dir);
  db_free(f);
  return 0;
}

static int import(store_fixture *f, const char *format, const char *text, db_diag *d) {
  db_catalog_import_opts opts = {.format = format};
  size_t n = 0;
  return db_catalog_import_buffer(f->s, "indicators", text, strlen(text), "test", &opts, d, &n);
}

static void test_import_rules(void **state) {
  store_fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(
      import(f, "json",
             "[{\"code\":\"CPI\",\"name\":\"CPI\",\"periodicity\":\"month\"},"
             "{\"code\":\"RETAIL\",\"name\":\"Retail\",\"periodicity\":\"month\",\"agg_space\":\"sum\"}]",
             &d),
      0);
  /* unknown name, with the column in the formula, at the indicator's path; nothing written */
  assert_int_equal(import(f, "json",
                          "[{\"code\":\"IDX_WARD\",\"name\":\"I\",\"periodicity\":\"month\","
                          "\"formula\":\"100 * RETAIL / CPII\"}]",
                          &d),
                   DB_EINVAL);
  assert_problems(&d,
                  "indicators[IDX_WARD].formula: column 16: unknown indicator 'CPII' (did you mean CPI?)\n");
  db_diag_clear(&d);
  /* CSV: the line and column of the formula cell too */
  assert_int_equal(
      import(f, "csv", "code,name,periodicity,formula\nG,G,month,yoy(CPI)\nH,H,month,CPI +\n", &d),
      DB_EINVAL);
  assert_problems(
      &d, "line 3, column 4, indicators[H].formula: column 6: expected a value, found end of formula\n");
  db_diag_clear(&d);
  /* a cycle through a stored formula */
  assert_int_equal(
      import(f, "csv", "code,name,periodicity,formula\nG,G,month,yoy(CPI) + H\nH,H,month,CPI\n", &d), 0);
  assert_int_equal(import(f, "csv", "code,name,periodicity,formula\nH,H,month,G * 2\n", &d), DB_EINVAL);
  assert_problems(&d, "line 2, column 4, indicators[H].formula: dependency cycle H -> G -> H\n");
  db_diag_clear(&d);
  /* changing an indicator under stored formulas: they are named */
  assert_int_equal(import(f, "csv", "code,name,periodicity\nCPI,CPI,quarter\n", &d), DB_EINVAL);
  assert_problems(
      &d,
      "indicators[G].formula: column 12: indicator H is monthly but CPI (column 5) is quarterly; one "
      "formula reads one periodicity\n"
      "indicators[H].formula: column 1: the formula reads quarter indicators, not month\n");
  db_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_grid, setup, teardown),
      cmocka_unit_test_setup_teardown(test_eval_formula, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plan, setup, teardown),
      cmocka_unit_test_setup_teardown(test_peer_groups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_hits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recompute_affected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recompute_through_derived, setup, teardown),
      cmocka_unit_test_setup_teardown(test_catalog_and_target_changes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_readers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_breakdown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ties_and_lower_polarity, setup, teardown),
      cmocka_unit_test(test_pillar_shapes),
      cmocka_unit_test(test_check_catalog),
      cmocka_unit_test(test_compile_derived),
      cmocka_unit_test_setup_teardown(test_import_rules, store_setup, store_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
