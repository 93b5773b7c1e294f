/* fuzz_formula.c - libFuzzer target for the formula language of src/formula.
 *
 * Arbitrary bytes are parsed and type-checked against a small fixed catalog (monthly, weekly, daily,
 * hourly, yearly and multi-year indicators, two dimensions, a city with two wards). A refused formula
 * must come with at least one problem, each with a message. A formula that checks must have sorted,
 * distinct dependencies and print as an S-expression, and is evaluated on tiny grids of every kind of
 * period around a turn of the year (with a leap day and an ISO week 53) over a synthetic source whose
 * values include missing ones, zeros and negatives: evaluation either fails with a problem or fills
 * every cell with a finite number or a missing one (never inf), booleans with 0 or 1, and gives the
 * same result twice. Any broken law traps, so libFuzzer records the input. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "formula/formula.h"

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

static db_catalog cat;

static void add_indicator(const char *code, db_period_type per, db_agg time, const char *dims) {
  db_indicator ind;
  db_indicator_init(&ind);
  ind.code = (char *)code;
  ind.periodicity = per;
  ind.period_span = per == DB_PT_MULTIYEAR ? 5 : 0;
  ind.agg_space = DB_AGG_SUM;
  ind.agg_time = time;
  ind.dimensions = (char *)dims;
  db_catalog_put_indicator(&cat, &ind);
}

static void add_unit(const char *code) {
  db_orgunit ou;
  db_orgunit_init(&ou);
  ou.code = (char *)code;
  ou.kind = DB_OU_WARD;
  db_catalog_put_unit(&cat, &ou);
}

static void add_dimension(const char *code, const char *a, const char *b) {
  db_dim_item items[2] = {{(char *)a, (char *)a}, {(char *)b, (char *)b}};
  db_dimension dim = {0, (char *)code, (char *)code, items, 2};
  db_catalog_put_dimension(&cat, &dim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  db_catalog_init(&cat);
  add_indicator("A", DB_PT_MONTH, DB_AGG_SUM, NULL);
  add_indicator("B", DB_PT_MONTH, DB_AGG_SUM, NULL);
  add_indicator("CPI", DB_PT_MONTH, DB_AGG_AVG, NULL);
  add_indicator("STOCK", DB_PT_MONTH, DB_AGG_LAST, NULL);
  add_indicator("PEAK", DB_PT_MONTH, DB_AGG_MAX, NULL);
  add_indicator("NOYTD", DB_PT_MONTH, DB_AGG_NONE, NULL);
  add_indicator("LAB", DB_PT_MONTH, DB_AGG_LAST, "SEX;AGE");
  add_indicator("POP", DB_PT_YEAR, DB_AGG_LAST, "SEX;AGE");
  add_indicator("WK", DB_PT_WEEK, DB_AGG_SUM, NULL);
  add_indicator("DAY", DB_PT_DAY, DB_AGG_SUM, NULL);
  add_indicator("HR", DB_PT_HOUR, DB_AGG_AVG, NULL);
  add_indicator("P5", DB_PT_MULTIYEAR, DB_AGG_SUM, NULL);
  add_dimension("SEX", "F", "M");
  add_dimension("AGE", "Y0T14", "Y15T64");
  add_unit("79");
  add_unit("W1");
  add_unit("W2");
  return 0;
}

/* ---- a synthetic source: a value for every cell, derived from what is asked ---- */
static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

static uint64_t mix_text(uint64_t h, const char *s) {
  for (; *s; s++) h = mix(h, (unsigned char)*s);
  return h;
}

/* One value in ten missing, one in ten zero, the others -50..49.5 in halves. */
static double value_of(uint64_t h) {
  unsigned r = (unsigned)(h >> 40) % 200;
  if (r < 20) return NAN;
  if (r < 40) return 0;
  return (double)r / 2 - 50;
}

static int src_fetch(void *ctx, const db_formula_fetch *q, double *out, db_diag *d) {
  uint64_t base = mix_text(mix_text(1, q->indicator), q->dimkey);
  for (size_t u = 0; u < q->n_units; u++)
    for (size_t p = 0; p < q->n_periods; p++) {
      db_period at = db_period_add(&q->first, (int64_t)p);
      out[u * q->n_periods + p] =
          value_of(mix(mix(base, (uint64_t)q->units[u]), (uint64_t)db_period_key(&at)));
    }
  return 0;
}

static int src_targets(void *ctx, const char *indicator, const int64_t *units, size_t n_units,
                       int64_t first_year, size_t n_years, double *out, db_diag *d) {
  uint64_t base = mix_text(2, indicator);
  for (size_t u = 0; u < n_units; u++)
    for (size_t y = 0; y < n_years; y++)
      out[u * n_years + y] =
          value_of(mix(mix(base, (uint64_t)units[u]), (uint64_t)(first_year + (int64_t)y)));
  return 0;
}

static size_t src_children(void *ctx, int64_t unit, const int64_t **children) {
  static const int64_t wards[] = {1, 2};
  *children = wards;
  return unit == 0 ? 2 : 0;
}

static int src_unit(void *ctx, const char *code, int64_t *unit) {
  static const char *const codes[] = {"79", "W1", "W2"};
  for (int64_t k = 0; k < 3; k++)
    if (strcmp(codes[k], code) == 0) {
      *unit = k;
      return 0;
    }
  return DB_ENOTFOUND; /* the catalog knows no other unit, so this never happens after a check */
}

static void check_problems(const db_diag *d) {
  CHECK(d->count > 0);
  for (size_t k = 0; k < d->count; k++)
    CHECK(d->items[k].message && d->items[k].message[0] && d->items[k].column >= 0);
}

/* Evaluates f on the grid of n periods from `first` over the three units. */
static void check_eval(const db_formula *f, const char *first, size_t n) {
  static const int64_t units[] = {0, 1, 2};
  db_formula_source src = {NULL, src_fetch, src_targets, src_children, src_unit, NULL};
  db_formula_grid grid = {units, 3, {0}, n, 1 << 16};
  char why[128];
  CHECK(db_period_parse(first, strlen(first), &grid.first, why) == DB_OK);
  double out[3 * 4], again[3 * 4];
  db_diag d = DB_DIAG_INIT;
  int rc = db_formula_eval(f, &src, &grid, out, &d);
  if (rc) {
    CHECK(rc == DB_EINVAL || rc == DB_ETOOBIG);
    check_problems(&d);
    db_diag_free(&d);
    return;
  }
  CHECK(d.count == 0);
  for (size_t k = 0; k < 3 * n; k++) {
    CHECK(isnan(out[k]) || isfinite(out[k]));
    if (db_formula_type(f) == DB_FT_BOOL) CHECK(isnan(out[k]) || out[k] == 0 || out[k] == 1);
  }
  CHECK(db_formula_eval(f, &src, &grid, again, &d) == 0);
  CHECK(memcmp(out, again, 3 * n * sizeof *out) == 0);
  db_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  db_diag d = DB_DIAG_INIT;
  db_formula *f = NULL;
  int rc = db_formula_compile((const char *)data, size, &cat, &f, &d);
  if (rc) {
    CHECK((rc == DB_EINVAL || rc == DB_ETOOBIG) && f == NULL);
    check_problems(&d);
    db_diag_free(&d);
    return 0;
  }
  CHECK(d.count == 0 && f != NULL);
  db_ftype type = db_formula_type(f);
  CHECK(type == DB_FT_NUMBER || type == DB_FT_BOOL || type == DB_FT_SCALAR);
  const char *const *deps;
  size_t n = db_formula_deps(f, &deps);
  for (size_t k = 1; k < n; k++) CHECK(strcmp(deps[k - 1], deps[k]) < 0);
  for (size_t k = 0; k < n; k++) CHECK(db_catalog_indicator(&cat, deps[k]) != NULL);
  db_buf text = DB_BUF_INIT;
  db_formula_sexpr(f, &text);
  CHECK(text.len > 0);
  db_buf_free(&text);
  check_eval(f, "2024-12", 3);
  check_eval(f, "2020-W52", 3);
  check_eval(f, "2024-02-28", 3);
  check_eval(f, "2024-02-29T22:00", 3);
  check_eval(f, "2020-Q4", 2);
  check_eval(f, "2023", 2);
  check_eval(f, "2021/P5Y", 2);
  db_formula_free(f);
  return 0;
}
