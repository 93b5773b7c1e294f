/* test_formula_golden.c - runs the data-driven formula cases in tests/golden/formula (the .txt files): each
 * file declares a small data set and cases (a formula, a grid, the expected values), and every case is
 * compiled against the file's catalog and evaluated on an in-memory source.
 *
 * File format, one statement a line ('#' starts a comment line):
 *   indicator CODE PERIODICITY TIME_RULE [DIM;DIM]   e.g. "indicator CPI month avg"
 *   dimension CODE ITEM...                            e.g. "dimension SEX F M"
 *   unit CODE [PARENT]                                units in order; children in the order listed
 *   data CODE[DIMKEY] UNIT PERIOD=VALUE...            DIMKEY as the store keys series: "AGE=Y0T14;SEX=F"
 *   plan CODE UNIT YEAR=VALUE...                      plan targets
 *   case NAME                                         starts a case (the data so far serves it)
 *   formula TEXT
 *   grid FROM TO UNIT...                              the periods FROM..TO (one type) × the units
 *   expect                                            then a header of period codes and a row per unit:
 *     UNIT VALUE...                                   "-" missing; "~1.23" rounds to 1.23; otherwise the
 *                                                     value within 1e-9 (relative)
 *   error MESSAGE                                     instead of expect: evaluation fails with MESSAGE
 * Data lines may follow cases: they serve the cases after them. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "formula/formula.h"

typedef struct golden {
  const char *file;
  db_catalog cat;
  char **units, **parents; /* the file's units by handle (index) */
  size_t n_units;
  db_map unit_index;                 /* code -> handle */
  int64_t *child_start, *child_list; /* built when a case runs */
  db_map values;                     /* "CODE|DIMKEY|UNIT|PERIODKEY" or "plan|CODE|UNIT|YEAR" -> value bits */
  /* the case being read */
  long case_line;
  char *name, *formula;
  db_period first;
  size_t n_periods;
  int64_t *grid_units;
  size_t n_grid_units;
  int expecting; /* reading expect rows */
  char **header; /* the period codes of the expected grid */
  size_t n_header;
  double *want;    /* n_grid_units × n_periods; NAN missing */
  int *rounded_to; /* decimals of "~" values, -1 exact */
  size_t rows;
  char *error;
  int failures, cases;
} golden;

/* ---- the in-memory source ---- */
static double lookup(const golden *g, const char *key) {
  int64_t bits;
  if (!db_map_gets(&g->values, key, &bits)) return NAN;
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

static void store(golden *g, const char *key, double v) {
  int64_t bits;
  memcpy(&bits, &v, sizeof v);
  db_map_puts(&g->values, key, bits);
}

static int src_fetch(void *ctx, const db_formula_fetch *q, double *out, db_diag *d) {
  golden *g = ctx;
  char key[256];
  for (size_t p = 0; p < q->n_periods; p++) {
    db_period at = db_period_add(&q->first, (int64_t)p);
    for (size_t u = 0; u < q->n_units; u++) {
      snprintf(key, sizeof key, "%s|%s|%lld|%lld", q->indicator, q->dimkey, (long long)q->units[u],
               (long long)db_period_key(&at));
      out[u * q->n_periods + p] = lookup(g, key);
    }
  }
  return 0;
}

static int src_targets(void *ctx, const char *indicator, const int64_t *units, size_t n_units,
                       int64_t first_year, size_t n_years, double *out, db_diag *d) {
  golden *g = ctx;
  char key[256];
  for (size_t u = 0; u < n_units; u++)
    for (size_t y = 0; y < n_years; y++) {
      snprintf(key, sizeof key, "plan|%s|%lld|%lld", indicator, (long long)units[u],
               (long long)first_year + (long long)y);
      out[u * n_years + y] = lookup(g, key);
    }
  return 0;
}

static size_t src_children(void *ctx, int64_t unit, const int64_t **children) {
  golden *g = ctx;
  *children = g->child_list + g->child_start[unit];
  return (size_t)(g->child_start[unit + 1] - g->child_start[unit]);
}

static int src_unit(void *ctx, const char *code, int64_t *unit) {
  golden *g = ctx;
  return db_map_gets(&g->unit_index, code, unit) ? 0 : DB_ENOTFOUND;
}

/* ---- reading ---- */
static void bad_line(const golden *g, long line, const char *what) {
  fail_msg("%s:%ld: %s", g->file, line, what);
}

static int64_t unit_handle(const golden *g, long line, const char *code) {
  int64_t h;
  if (!db_map_gets(&g->unit_index, code, &h)) bad_line(g, line, "unknown unit");
  return h;
}

static db_period period(const golden *g, long line, const char *code) {
  db_period p;
  char why[128];
  if (db_period_parse(code, strlen(code), &p, why)) bad_line(g, line, why);
  return p;
}

static double number(const golden *g, long line, const char *text) {
  char *end;
  double v = strtod(text, &end);
  if (*end || end == text) bad_line(g, line, "bad number");
  return v;
}

static void read_indicator(golden *g, long line, char **w, int n) {
  if (n < 4) bad_line(g, line, "indicator CODE PERIODICITY TIME_RULE [DIMS]");
  db_indicator ind;
  db_indicator_init(&ind);
  ind.code = w[1];
  if (db_period_type_parse(w[2], &ind.periodicity) || db_agg_parse(w[3], &ind.agg_time))
    bad_line(g, line, "bad periodicity or rule");
  ind.period_span = ind.periodicity == DB_PT_MULTIYEAR ? 5 : 0;
  ind.agg_space = DB_AGG_SUM;
  ind.dimensions = n > 4 ? w[4] : NULL;
  db_catalog_put_indicator(&g->cat, &ind);
}

static void read_dimension(golden *g, char **w, int n) {
  db_dim_item items[16];
  for (int k = 2; k < n && k - 2 < 16; k++) items[k - 2] = (db_dim_item){w[k], w[k]};
  db_dimension dim = {0, w[1], w[1], items, (size_t)(n - 2)};
  db_catalog_put_dimension(&g->cat, &dim);
}

static void read_unit(golden *g, char **w, int n) {
  db_orgunit ou;
  db_orgunit_init(&ou);
  ou.code = w[1];
  ou.kind = DB_OU_WARD;
  db_catalog_put_unit(&g->cat, &ou);
  g->units = db_realloc(g->units, (g->n_units + 1) * sizeof *g->units);
  g->parents = db_realloc(g->parents, (g->n_units + 1) * sizeof *g->parents);
  g->units[g->n_units] = db_strdup(w[1]);
  g->parents[g->n_units] = n > 2 ? db_strdup(w[2]) : NULL;
  db_map_puts(&g->unit_index, w[1], (int64_t)g->n_units++);
}

/* "data CODE[DIMKEY] UNIT P=V…" and "plan CODE UNIT YEAR=V…" */
static void read_values(golden *g, long line, char **w, int n, int is_plan) {
  if (n < 4) bad_line(g, line, "data CODE UNIT PERIOD=VALUE...");
  char code[128], dimkey[128] = "", key[512];
  snprintf(code, sizeof code, "%s", w[1]);
  char *open = strchr(code, '[');
  if (open) {
    *open = '\0';
    snprintf(dimkey, sizeof dimkey, "%.*s", (int)strlen(open + 1) - 1, open + 1);
  }
  int64_t unit = unit_handle(g, line, w[2]);
  for (int k = 3; k < n; k++) {
    char *eq = strchr(w[k], '=');
    if (!eq) bad_line(g, line, "PERIOD=VALUE expected");
    *eq = '\0';
    double v = number(g, line, eq + 1);
    if (is_plan) {
      snprintf(key, sizeof key, "plan|%s|%lld|%s", code, (long long)unit, w[k]);
    } else {
      db_period p = period(g, line, w[k]);
      snprintf(key, sizeof key, "%s|%s|%lld|%lld", code, dimkey, (long long)unit,
               (long long)db_period_key(&p));
    }
    store(g, key, v);
  }
}

static void read_grid(golden *g, long line, char **w, int n) {
  if (n < 4) bad_line(g, line, "grid FROM TO UNIT...");
  g->first = period(g, line, w[1]);
  db_period last = period(g, line, w[2]);
  g->n_periods = (size_t)db_period_diff(&g->first, &last) + 1;
  g->n_grid_units = (size_t)(n - 3);
  g->grid_units = db_malloc(g->n_grid_units * sizeof *g->grid_units);
  for (int k = 3; k < n; k++) g->grid_units[k - 3] = unit_handle(g, line, w[k]);
  g->want = db_malloc(g->n_grid_units * g->n_periods * sizeof *g->want);
  g->rounded_to = db_malloc(g->n_grid_units * g->n_periods * sizeof *g->rounded_to);
}

/* The header (period codes) and then one row per grid unit, in the grid's order. */
static void read_expect_row(golden *g, long line, char **w, int n) {
  if (!g->n_header) {
    if ((size_t)n != g->n_periods) bad_line(g, line, "the header must list every period of the grid");
    for (int k = 0; k < n; k++) {
      char code[DB_PERIOD_CODE_MAX];
      db_period p = db_period_add(&g->first, k);
      db_period_format(&p, code);
      if (strcmp(code, w[k]) != 0) bad_line(g, line, "the header's periods differ from the grid's");
    }
    g->header = db_malloc((size_t)n * sizeof *g->header);
    for (int k = 0; k < n; k++) g->header[k] = db_strdup(w[k]);
    g->n_header = (size_t)n;
    return;
  }
  if (g->rows == g->n_grid_units) bad_line(g, line, "more rows than grid units");
  if ((size_t)n != g->n_periods + 1 || strcmp(w[0], g->units[g->grid_units[g->rows]]) != 0)
    bad_line(g, line, "a row is the grid's next unit and a value per period");
  for (size_t p = 0; p < g->n_periods; p++) {
    const char *v = w[p + 1];
    size_t cell = g->rows * g->n_periods + p;
    g->rounded_to[cell] = -1;
    if (strcmp(v, "-") == 0) {
      g->want[cell] = NAN;
      continue;
    }
    if (v[0] == '~') {
      v++;
      const char *dot = strchr(v, '.');
      g->rounded_to[cell] = dot ? (int)strlen(dot + 1) : 0;
    }
    g->want[cell] = number(g, line, v);
  }
  g->rows++;
}

/* ---- running a case ---- */
static void link_children(golden *g) {
  db_free(g->child_start);
  db_free(g->child_list);
  g->child_start = db_calloc(g->n_units + 1, sizeof *g->child_start);
  g->child_list = db_malloc((g->n_units ? g->n_units : 1) * sizeof *g->child_list);
  size_t n = 0;
  for (size_t u = 0; u < g->n_units; u++) {
    g->child_start[u] = (int64_t)n;
    for (size_t c = 0; c < g->n_units; c++)
      if (g->parents[c] && strcmp(g->parents[c], g->units[u]) == 0) g->child_list[n++] = (int64_t)c;
  }
  g->child_start[g->n_units] = (int64_t)n;
}

static int matches(double got, double want, int rounded_to) {
  if (isnan(want)) return isnan(got);
  if (isnan(got)) return 0;
  if (rounded_to >= 0) return fabs(got - want) <= 0.5 * pow(10, -rounded_to) + 1e-12;
  return fabs(got - want) <= 1e-9 * fmax(1, fabs(want));
}

static void print_grid(const golden *g, const double *got, db_buf *b) {
  for (size_t u = 0; u < g->n_grid_units; u++) {
    db_buf_printf(b, "\n    %-8s", g->units[g->grid_units[u]]);
    for (size_t p = 0; p < g->n_periods; p++) {
      double v = got[u * g->n_periods + p];
      if (isnan(v))
        db_buf_printf(b, " %12s", "-");
      else
        db_buf_printf(b, " %12.10g", v);
    }
  }
}

static void run_case(golden *g) {
  if (!g->name) return;
  g->cases++;
  db_buf report = DB_BUF_INIT;
  db_diag d = DB_DIAG_INIT;
  db_formula *f = NULL;
  double *got = NULL;
  if (!g->formula || !g->grid_units || (!g->error && g->rows != g->n_grid_units)) {
    db_buf_puts(&report, "incomplete case (formula, grid and every expected row)");
    goto done;
  }
  if (db_formula_compile(g->formula, strlen(g->formula), &g->cat, &f, &d)) {
    db_buf_puts(&report, "does not compile:");
    goto problems;
  }
  link_children(g);
  db_formula_source src = {g, src_fetch, src_targets, src_children, src_unit, NULL};
  db_formula_grid grid = {g->grid_units, g->n_grid_units, g->first, g->n_periods, 0};
  got = db_malloc(g->n_grid_units * g->n_periods * sizeof *got);
  int rc = db_formula_eval(f, &src, &grid, got, &d);
  if (g->error) {
    db_buf msg = DB_BUF_INIT;
    if (d.count) db_formula_describe(&d.items[0], &msg);
    if (rc == 0 || strcmp(db_buf_str(&msg), g->error) != 0)
      db_buf_printf(&report, "expected the error \"%s\", got %d \"%s\"", g->error, rc, db_buf_str(&msg));
    db_buf_free(&msg);
    goto done;
  }
  if (rc) {
    db_buf_printf(&report, "evaluation failed (%s):", db_errname(rc));
    goto problems;
  }
  for (size_t k = 0; k < g->n_grid_units * g->n_periods; k++)
    if (!matches(got[k], g->want[k], g->rounded_to[k])) {
      db_buf_printf(&report, "cell %s %s differs; got:", g->units[g->grid_units[k / g->n_periods]],
                    g->header[k % g->n_periods]);
      print_grid(g, got, &report);
      break;
    }
  goto done;
problems:
  for (size_t k = 0; k < d.count; k++) {
    db_buf_puts(&report, "\n    ");
    db_formula_describe(&d.items[k], &report);
  }
done:
  if (report.len) {
    fprintf(stderr, "%s:%ld: case \"%s\": %s\n", g->file, g->case_line, g->name, db_buf_str(&report));
    g->failures++;
  }
  db_buf_free(&report);
  db_diag_free(&d);
  db_formula_free(f);
  db_free(got);
}

static void clear_case(golden *g) {
  db_free(g->name);
  db_free(g->formula);
  db_free(g->grid_units);
  db_free(g->want);
  db_free(g->rounded_to);
  db_free(g->error);
  for (size_t k = 0; k < g->n_header; k++) db_free(g->header[k]);
  db_free(g->header);
  g->name = g->formula = g->error = NULL;
  g->grid_units = NULL;
  g->want = NULL;
  g->rounded_to = NULL;
  g->header = NULL;
  g->n_header = g->rows = g->n_grid_units = g->n_periods = 0;
  g->expecting = 0;
}

/* Splits line into words at spaces, in place; returns how many (at most max). */
static int words(char *line, char **w, int max) {
  int n = 0;
  for (char *tok = strtok(line, " \t\r"); tok && n < max; tok = strtok(NULL, " \t\r")) w[n++] = tok;
  return n;
}

static void read_line(golden *g, long line, char *text) {
  char *rest = text + strspn(text, " \t");
  if (!*rest || *rest == '#') return;
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", rest);
  char *w[256];
  int n = words(copy, w, 256);
  if (strcmp(w[0], "case") == 0) {
    run_case(g);
    clear_case(g);
    g->name = db_strdup(rest + 5);
    g->case_line = line;
  } else if (strcmp(w[0], "formula") == 0) {
    g->formula = db_strdup(rest + 8);
  } else if (strcmp(w[0], "grid") == 0) {
    read_grid(g, line, w, n);
  } else if (strcmp(w[0], "expect") == 0) {
    g->expecting = 1;
  } else if (strcmp(w[0], "error") == 0) {
    g->error = db_strdup(rest + 6);
  } else if (strcmp(w[0], "indicator") == 0) {
    read_indicator(g, line, w, n);
  } else if (strcmp(w[0], "dimension") == 0) {
    read_dimension(g, w, n);
  } else if (strcmp(w[0], "unit") == 0) {
    read_unit(g, w, n);
  } else if (strcmp(w[0], "data") == 0 || strcmp(w[0], "plan") == 0) {
    read_values(g, line, w, n, w[0][0] == 'p');
  } else if (g->expecting) {
    read_expect_row(g, line, w, n);
  } else {
    bad_line(g, line, "unknown statement");
  }
}

/* Runs every case of one file; returns the number of failed cases (each one reported). */
static int run_file(const char *path, int *cases) {
  golden g;
  memset(&g, 0, sizeof g);
  g.file = path;
  db_catalog_init(&g.cat);
  FILE *in = fopen(path, "r");
  assert_non_null(in);
  char text[4096];
  long line = 0;
  while (fgets(text, sizeof text, in)) {
    line++;
    text[strcspn(text, "\n")] = '\0';
    read_line(&g, line, text);
  }
  fclose(in);
  run_case(&g);
  clear_case(&g);
  for (size_t k = 0; k < g.n_units; k++) {
    db_free(g.units[k]);
    db_free(g.parents[k]);
  }
  db_free(g.units);
  db_free(g.parents);
  db_free(g.child_start);
  db_free(g.child_list);
  db_map_free(&g.unit_index);
  db_map_free(&g.values);
  db_catalog_free(&g.cat);
  *cases += g.cases;
  return g.failures;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_golden_cases(void **state) {
  const char *source = getenv("DB_SOURCE_DIR");
  db_buf dir = DB_BUF_INIT;
  db_buf_printf(&dir, "%s/tests/golden/formula", source ? source : ".");
  DIR *dp = opendir(db_buf_str(&dir));
  if (!dp) fail_msg("cannot open %s (set DB_SOURCE_DIR)", db_buf_str(&dir));
  char *names[256];
  size_t n = 0;
  for (struct dirent *e; (e = readdir(dp)) && n < 256;) {
    size_t len = strlen(e->d_name);
    if (len > 4 && strcmp(e->d_name + len - 4, ".txt") == 0) names[n++] = db_strdup(e->d_name);
  }
  closedir(dp);
  qsort(names, n, sizeof *names, by_name);
  int failures = 0, cases = 0;
  for (size_t k = 0; k < n; k++) {
    db_buf path = DB_BUF_INIT;
    db_buf_printf(&path, "%s/%s", db_buf_str(&dir), names[k]);
    failures += run_file(db_buf_str(&path), &cases);
    db_buf_free(&path);
    db_free(names[k]);
  }
  db_buf_free(&dir);
  fprintf(stderr, "%d golden cases in %zu files, %d failed\n", cases, n, failures);
  assert_true(n >= 8);
  assert_int_equal(failures, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_cases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
