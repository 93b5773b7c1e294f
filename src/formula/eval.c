/* eval.c - the vectorised evaluator (contract in formula.h).
 *
 * Every node is evaluated for a whole range at once: a set of units × a run of consecutive periods,
 * into a dense grid (unit-major: cell [u * n + p]). A node asks its operands for the range it needs:
 * lag(X, k) asks X for the same units k periods earlier, yoy(X) for a year more, ytd(X) from the start
 * of the year, sum_children(X) for the children of the units; the leaves ask the source. Ranges are in
 * "positions": the period ordinal, or for multi-year plans (which step by their span) the number of
 * plans from the grid's first one, so that the next period is always one position on. Working memory is
 * counted in cells against the grid's bound so that no formula, however nested, can take more. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "formula/formula_int.h"
#include "model/agg.h"

typedef struct ectx {
  const db_formula *f;
  const db_formula_source *src;
  db_diag *d;
  db_period first; /* the grid's first period: its type and span are those of every range */
  int64_t lo, hi;  /* positions of the first and last periods of the calendar */
  size_t max_cells, used;
} ectx;

typedef struct rng {
  const int64_t *units;
  size_t n_units;
  int64_t first; /* position of the first period */
  size_t n;      /* periods */
} rng;

static int eval(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_ref(ectx *e, const db__fnode *n, const rng *r, double *out);
static int eval_call(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_elementwise(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_window(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_yoy(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_ytd(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_plan(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_children(ectx *e, const db__fnode *n, const rng *r, double **out);
static int eval_forecast(ectx *e, const db__fnode *n, const rng *r, double **out);
typedef struct ranked { /* a unit's value at one period */
  double v;
  size_t u;
} ranked;

static void normalise(int fn, double *x, size_t n_units, size_t n, ranked *order);
static int fetch(ectx *e, const db__fnode *n, const int64_t *units, size_t n_units, int64_t first, size_t np,
                 double *out);
static int pinned_unit(ectx *e, const db__fnode *n, int64_t *unit);
static int calendar(ectx *e);
static db_period period_at(const ectx *e, int64_t pos);
static int within_year(ectx *e, const db__fnode *n);
static int64_t year_of(db_period_type t, int64_t ord);
static int64_t first_of_year(db_period_type t, int64_t year);
static int prev_year(db_period_type t, int64_t ord, int64_t *prev);
static int64_t year_back(db_period_type t);
static int64_t slots_per_day(db_period_type t);
static int64_t week1(int64_t year);
static int64_t floor_div(int64_t a, int64_t b);
static double pct(double now, double before);
static double *grid_new(ectx *e, const db__fnode *n, size_t n_units, size_t np);
static void grid_free(ectx *e, double *g, size_t n_units, size_t np);
static void *work_new(ectx *e, const db__fnode *n, size_t count, size_t size);
static void work_free(ectx *e, void *p, size_t count, size_t size);
static int problem(ectx *e, db__fpos pos, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int db_formula_eval(const db_formula *f, const db_formula_source *src, const db_formula_grid *grid,
                    double *out, db_diag *d) {
  ectx e = {f, src, d, grid->first, 0, 0, grid->max_cells ? grid->max_cells : DB_FORMULA_MAX_CELLS, 0};
  if (!f->type) return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the formula has not been checked");
  if (!src || !src->fetch)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the data source has no fetch callback");
  if (!grid->n_units || !grid->n_periods) return 0;
  int rc = calendar(&e);
  if (rc) return rc;
  rng r = {grid->units, grid->n_units, e.first.type == DB_PT_MULTIYEAR ? 0 : e.first.ord, grid->n_periods};
  if (grid->n_periods - 1 > (uint64_t)(e.hi - r.first)) {
    char code[DB_PERIOD_CODE_MAX];
    db_period_format(&grid->first, code);
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%zu periods from %s run off the calendar (years 1 to 9999)",
                       grid->n_periods, code);
  }
  double *g;
  rc = eval(&e, f->root, &r, &g);
  if (rc) return rc;
  memcpy(out, g, grid->n_units * grid->n_periods * sizeof *out);
  grid_free(&e, g, grid->n_units, grid->n_periods);
  return 0;
}

/* Evaluates n over r into a new grid *out (released by the caller with grid_free). */
static int eval(ectx *e, const db__fnode *n, const rng *r, double **out) {
  *out = NULL;
  if (n->type == DB_FT_SCALAR) {
    double *g = grid_new(e, n, r->n_units, r->n);
    if (!g) return DB_ETOOBIG;
    for (size_t k = 0; k < r->n_units * r->n; k++) g[k] = n->num;
    *out = g;
    return 0;
  }
  if (n->kind == DB__N_REF) {
    double *g = grid_new(e, n, r->n_units, r->n);
    if (!g) return DB_ETOOBIG;
    int rc = eval_ref(e, n, r, g);
    if (rc) {
      grid_free(e, g, r->n_units, r->n);
      return rc;
    }
    *out = g;
    return 0;
  }
  if (n->kind == DB__N_CALL) return eval_call(e, n, r, out);
  return eval_elementwise(e, n, r, out); /* operators */
}

/* An indicator from the source: for the range's units, or for the pinned unit on every row. */
static int eval_ref(ectx *e, const db__fnode *n, const rng *r, double *out) {
  if (!n->unit) return fetch(e, n, r->units, r->n_units, r->first, r->n, out);
  int64_t unit;
  int rc = pinned_unit(e, n, &unit);
  if (!rc) rc = fetch(e, n, &unit, 1, r->first, r->n, out);
  for (size_t u = 1; !rc && u < r->n_units; u++) memcpy(out + u * r->n, out, r->n * sizeof *out);
  return rc;
}

/* Operators and the functions that work cell by cell on operands of the same range. */
static int eval_elementwise(ectx *e, const db__fnode *n, const rng *r, double **out) {
  size_t cells = r->n_units * r->n;
  double *args[3] = {NULL, NULL, NULL};
  /* the operands evaluated first: all of an operator's, the three of if(), the first of a function
   * (the others are constants, or folded in one at a time below) */
  size_t n_first = n->kind != DB__N_CALL ? n->n_args : n->fn == DB__F_IF ? 3 : 1;
  int rc = 0;
  for (size_t k = 0; k < n_first && !rc; k++) rc = eval(e, n->args[k], r, &args[k]);
  double *x = args[0], *y = args[1], *z = args[2];
  if (rc) goto done;
  if (n->kind == DB__N_NEG) {
    for (size_t k = 0; k < cells; k++) x[k] = -x[k];
  } else if (n->kind == DB__N_NOT) {
    for (size_t k = 0; k < cells; k++) x[k] = isnan(x[k]) ? NAN : x[k] == 0;
  } else if (n->kind == DB__N_BIN && (n->op == DB_FTOK_AND || n->op == DB_FTOK_OR)) {
    int is_and = n->op == DB_FTOK_AND;
    for (size_t k = 0; k < cells; k++) { /* three-valued: a false 'and' or a true 'or' decides alone */
      double a = x[k], b = y[k];
      if ((is_and && (a == 0 || b == 0)) || (!is_and && ((a != 0 && !isnan(a)) || (b != 0 && !isnan(b)))))
        x[k] = !is_and;
      else
        x[k] = isnan(a) || isnan(b) ? NAN : is_and;
    }
  } else if (n->kind == DB__N_BIN) {
    for (size_t k = 0; k < cells; k++) x[k] = db__farith(n->op, x[k], y[k]);
  } else {
    switch (n->fn) {
      case DB__F_GOALPOST: {
        double lo = n->args[1]->num, hi = n->args[2]->num;
        for (size_t k = 0; k < cells; k++) {
          double v = (x[k] - lo) / (hi - lo);
          x[k] = isnan(v) ? NAN : v < 0 ? 0 : v > 1 ? 1 : v;
        }
        break;
      }
      case DB__F_IF:
        for (size_t k = 0; k < cells; k++) x[k] = isnan(x[k]) ? NAN : x[k] != 0 ? y[k] : z[k];
        break;
      case DB__F_ISNULL:
        for (size_t k = 0; k < cells; k++) x[k] = isnan(x[k]);
        break;
      case DB__F_ABS:
        for (size_t k = 0; k < cells; k++) x[k] = fabs(x[k]);
        break;
      case DB__F_ROUND: {
        int digits = n->n_args > 1 ? (int)n->args[1]->num : 0;
        for (size_t k = 0; k < cells; k++) x[k] = db__fround(x[k], digits);
        break;
      }
      default: /* coalesce, min, max: fold the operands one at a time into x */
        for (size_t a = 1; a < n->n_args && !rc; a++) {
          rc = eval(e, n->args[a], r, &y);
          if (rc) break;
          for (size_t k = 0; k < cells; k++) {
            if (n->fn == DB__F_COALESCE)
              x[k] = isnan(x[k]) ? y[k] : x[k];
            else if (isnan(x[k]) || isnan(y[k]))
              x[k] = NAN;
            else if ((n->fn == DB__F_MIN) == (y[k] < x[k]))
              x[k] = y[k];
          }
          grid_free(e, y, r->n_units, r->n);
          y = NULL;
        }
    }
  }
done:
  grid_free(e, y, r->n_units, r->n);
  grid_free(e, z, r->n_units, r->n);
  if (rc) {
    grid_free(e, x, r->n_units, r->n);
    return rc;
  }
  *out = x;
  return 0;
}

static int eval_call(ectx *e, const db__fnode *n, const rng *r, double **out) {
  switch (n->fn) {
    case DB__F_YOY:
      return eval_yoy(e, n, r, out);
    case DB__F_YTD:
      return eval_ytd(e, n, r, out);
    case DB__F_PLAN:
      return eval_plan(e, n, r, out);
    case DB__F_LAG:
    case DB__F_DIFF:
    case DB__F_PCT_CHANGE:
      return eval_window(e, n, r, out);
    case DB__F_SUM_CHILDREN:
    case DB__F_AVG_CHILDREN:
      return eval_children(e, n, r, out);
    case DB__F_FORECAST:
    case DB__F_LOWER:
    case DB__F_UPPER:
    case DB__F_P_MISS_TARGET:
      return eval_forecast(e, n, r, out);
    case DB__F_MINMAX:
    case DB__F_ZSCORE:
    case DB__F_RANK: {
      int rc = eval(e, n->args[0], r, out);
      if (rc) return rc;
      ranked *scratch = work_new(e, n, r->n_units, sizeof *scratch);
      if (!scratch) {
        grid_free(e, *out, r->n_units, r->n);
        *out = NULL;
        return DB_ETOOBIG;
      }
      normalise(n->fn, *out, r->n_units, r->n, scratch);
      work_free(e, scratch, r->n_units, sizeof *scratch);
      return 0;
    }
    default:
      return eval_elementwise(e, n, r, out);
  }
}

/* lag(X, k): X over the range k periods earlier. diff(X) and pct_change(X, k): X over the range
 * widened k periods back, then each period against the one k before. */
static int eval_window(ectx *e, const db__fnode *n, const rng *r, double **out) {
  int64_t k = n->fn == DB__F_DIFF ? 1 : n->n_args > 1 ? (int64_t)n->args[1]->num : 1;
  if (n->fn == DB__F_LAG) {
    rng shifted = {r->units, r->n_units, r->first - k, r->n};
    return eval(e, n->args[0], &shifted, out);
  }
  size_t wide = r->n + (size_t)k;
  rng widened = {r->units, r->n_units, r->first - k, wide};
  double *x;
  int rc = eval(e, n->args[0], &widened, &x);
  if (rc) return rc;
  double *g = grid_new(e, n, r->n_units, r->n);
  if (g) {
    for (size_t u = 0; u < r->n_units; u++) {
      const double *row = x + u * wide;
      for (size_t p = 0; p < r->n; p++)
        g[u * r->n + p] =
            n->fn == DB__F_DIFF ? db__farith(DB_FTOK_MINUS, row[p + 1], row[p]) : pct(row[p + k], row[p]);
    }
  }
  grid_free(e, x, r->n_units, wide);
  *out = g;
  return g ? 0 : DB_ETOOBIG;
}

/* yoy(X): X over the range and over the partners a year earlier (prev_year), each period against its
 * partner. The partners are read as a range of their own rather than by widening the range a year
 * back, which for hourly or 5-minute data would read the whole year in between. */
static int eval_yoy(ectx *e, const db__fnode *n, const rng *r, double **out) {
  int rc = within_year(e, n);
  if (rc) return rc;
  db_period_type t = e->first.type;
  int64_t *prev = work_new(e, n, r->n, sizeof *prev), lo = INT64_MAX, hi = INT64_MIN;
  if (!prev) return DB_ETOOBIG;
  for (size_t p = 0; p < r->n; p++) {
    if (!prev_year(t, r->first + (int64_t)p, &prev[p])) {
      prev[p] = INT64_MIN; /* no partner */
      continue;
    }
    if (prev[p] < lo) lo = prev[p];
    if (prev[p] > hi) hi = prev[p];
  }
  rng before = {r->units, r->n_units, lo, lo <= hi ? (size_t)(hi - lo + 1) : 0};
  double *now = NULL, *old = NULL, *g = NULL;
  if ((rc = eval(e, n->args[0], r, &now)) || (before.n && (rc = eval(e, n->args[0], &before, &old))))
    goto done;
  if (!(g = grid_new(e, n, r->n_units, r->n))) {
    rc = DB_ETOOBIG;
    goto done;
  }
  for (size_t u = 0; u < r->n_units; u++)
    for (size_t p = 0; p < r->n; p++)
      g[u * r->n + p] =
          prev[p] == INT64_MIN ? NAN : pct(now[u * r->n + p], old[u * before.n + (size_t)(prev[p] - lo)]);
done:
  grid_free(e, old, r->n_units, before.n);
  grid_free(e, now, r->n_units, r->n);
  work_free(e, prev, r->n, sizeof *prev);
  *out = g;
  return rc;
}

/* ytd(X): X from the first period of the year of the range's first period, accumulated by X's
 * temporal rule and restarted at every year boundary. A missing period breaks the rest of its year
 * (except for stocks, whose year to date is the period's own value). */
static int eval_ytd(ectx *e, const db__fnode *n, const rng *r, double **out) {
  int rc = within_year(e, n);
  if (rc) return rc;
  db_period_type t = e->first.type;
  db_agg rule = n->args[0]->agg_time;
  int64_t start = first_of_year(t, year_of(t, r->first));
  size_t back = (size_t)(r->first - start), wide = r->n + back;
  rng widened = {r->units, r->n_units, start, wide};
  double *x;
  rc = eval(e, n->args[0], &widened, &x);
  if (rc) return rc;
  double *g = grid_new(e, n, r->n_units, r->n);
  for (size_t u = 0; g && u < r->n_units; u++) {
    db_acc acc;
    int broken = 0;
    int64_t next_year = start;
    for (size_t j = 0; j < wide; j++) {
      int64_t pos = start + (int64_t)j;
      if (pos == next_year) {
        db_acc_init(&acc);
        broken = 0;
        next_year = first_of_year(t, year_of(t, pos) + 1);
      }
      double v = x[u * wide + j];
      if (isnan(v))
        broken = 1;
      else
        db_acc_add(&acc, v, NAN);
      if (j < back) continue;
      g[u * r->n + j - back] = rule == DB_AGG_LAST ? v : broken ? NAN : db_acc_result(&acc, rule);
    }
  }
  grid_free(e, x, r->n_units, wide);
  *out = g;
  return g ? 0 : DB_ETOOBIG;
}

/* plan(X): the targets of the years the range covers, spread over their periods. */
static int eval_plan(ectx *e, const db__fnode *n, const rng *r, double **out) {
  int rc = within_year(e, n);
  if (rc) return rc;
  const db__fnode *ref = n->args[0];
  if (!e->src->targets)
    return problem(e, n->pos, DB_EUNSUPPORTED, "the data source has no targets for plan()");
  double *g = grid_new(e, n, r->n_units, r->n);
  if (!g) return DB_ETOOBIG;
  for (size_t k = 0; k < r->n_units * r->n; k++) g[k] = NAN;
  /* only the periods on the calendar have years to ask for */
  int64_t a = r->first > e->lo ? r->first : e->lo, b = r->first + (int64_t)r->n - 1;
  if (b > e->hi) b = e->hi;
  if (a > b) {
    *out = g;
    return 0;
  }
  db_period_type t = e->first.type;
  int64_t y0 = year_of(t, a);
  size_t years = (size_t)(year_of(t, b) - y0 + 1);
  int64_t pin = 0;
  size_t n_units = ref->unit ? 1 : r->n_units;
  double *tv = grid_new(e, n, n_units, years);
  if (!tv) rc = DB_ETOOBIG;
  if (!rc && ref->unit) rc = pinned_unit(e, ref, &pin);
  if (!rc) {
    for (size_t k = 0; k < n_units * years; k++) tv[k] = NAN;
    rc = e->src->targets(e->src->ctx, ref->name, ref->unit ? &pin : r->units, n_units, y0, years, tv, e->d);
  }
  for (int64_t pos = a; !rc && pos <= b; pos++) {
    size_t p = (size_t)(pos - r->first), y = (size_t)(year_of(t, pos) - y0);
    for (size_t u = 0; u < r->n_units; u++) {
      double v = tv[(ref->unit ? 0 : u) * years + y];
      g[u * r->n + p] = isfinite(v) ? v : NAN;
    }
  }
  grid_free(e, tv, n_units, years);
  if (rc) {
    grid_free(e, g, r->n_units, r->n);
    return rc;
  }
  *out = g;
  return 0;
}

/* forecast(X, h), lower(X, h), upper(X, h): the source's forecasts of X for the range moved h periods
 * ahead; p_miss_target(X): its probabilities of missing the plan of each period's year. Only the periods
 * on the calendar are asked for; a pinned X asks for its unit and copies it to every row. */
static int eval_forecast(ectx *e, const db__fnode *n, const rng *r, double **out) {
  static const db_formula_fc_what whats[] = {DB_FORMULA_FC_MEAN, DB_FORMULA_FC_LOWER, DB_FORMULA_FC_UPPER,
                                             DB_FORMULA_FC_P_MISS};
  int rc = n->fn == DB__F_P_MISS_TARGET ? within_year(e, n) : 0;
  if (rc) return rc;
  if (!e->src->forecast)
    return problem(e, n->pos, DB_EUNSUPPORTED, "the data source has no forecasts for %s()", n->name);
  const db__fnode *ref = n->args[0];
  int64_t ahead = n->fn == DB__F_P_MISS_TARGET ? 0 : (int64_t)n->args[1]->num, pin = 0;
  double *g = grid_new(e, n, r->n_units, r->n);
  if (!g) return DB_ETOOBIG;
  for (size_t k = 0; k < r->n_units * r->n; k++) g[k] = NAN;
  int64_t first = r->first + ahead, a = first > e->lo ? first : e->lo, b = first + (int64_t)r->n - 1;
  if (b > e->hi) b = e->hi;
  size_t n_units = ref->unit ? 1 : r->n_units, inner = a <= b ? (size_t)(b - a + 1) : 0;
  double *buf = inner ? grid_new(e, n, n_units, inner) : NULL;
  if (inner && !buf) rc = DB_ETOOBIG;
  if (!rc && inner && ref->unit) rc = pinned_unit(e, ref, &pin);
  if (!rc && inner) {
    for (size_t k = 0; k < n_units * inner; k++) buf[k] = NAN;
    db_formula_fc_query q = {whats[n->fn - DB__F_FORECAST], ref->name, ref->dimkey, ref->unit ? &pin : r->units,
                             n_units, period_at(e, a), inner};
    rc = e->src->forecast(e->src->ctx, &q, buf, e->d);
  }
  for (size_t u = 0; !rc && u < r->n_units; u++)
    for (size_t p = 0; p < inner; p++) {
      double v = buf[(ref->unit ? 0 : u) * inner + p];
      g[u * r->n + (size_t)(a - first) + p] = isfinite(v) ? v : NAN;
    }
  grid_free(e, buf, n_units, inner);
  if (rc) {
    grid_free(e, g, r->n_units, r->n);
    return rc;
  }
  *out = g;
  return 0;
}

/* sum_children(X), avg_children(X): X over the children of every unit of the range (one list, unit
 * after unit), then each unit's children summed or averaged. */
static int eval_children(ectx *e, const db__fnode *n, const rng *r, double **out) {
  size_t *start = db_malloc((r->n_units + 1) * sizeof *start);
  int64_t *kids = NULL;
  double *x = NULL, *g = NULL;
  size_t total = 0, cap = 0;
  int rc = 0;
  start[0] = 0;
  for (size_t u = 0; u < r->n_units; u++) {
    const int64_t *list;
    size_t count = e->src->children ? e->src->children(e->src->ctx, r->units[u], &list) : 0;
    if (total + count > cap) {
      cap = (total + count) * 2;
      kids = db_realloc(kids, cap * sizeof *kids);
    }
    if (count) memcpy(kids + total, list, count * sizeof *kids);
    total += count;
    start[u + 1] = total;
  }
  rng below = {kids, total, r->first, r->n};
  if (!(g = grid_new(e, n, r->n_units, r->n))) {
    rc = DB_ETOOBIG;
    goto done;
  }
  if (total && (rc = eval(e, n->args[0], &below, &x))) goto done;
  for (size_t u = 0; u < r->n_units; u++) {
    size_t count = start[u + 1] - start[u];
    for (size_t p = 0; p < r->n; p++) {
      double sum = count ? 0 : NAN;
      for (size_t c = start[u]; c < start[u + 1]; c++) sum += x[c * r->n + p];
      g[u * r->n + p] = n->fn == DB__F_AVG_CHILDREN ? sum / (double)count : sum;
    }
  }
done:
  grid_free(e, x, total, r->n);
  db_free(kids);
  db_free(start);
  if (rc) {
    grid_free(e, g, r->n_units, r->n);
    g = NULL;
  }
  *out = g;
  return rc;
}

static int by_value_desc(const void *a, const void *b) {
  double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
  return (x < y) - (x > y);
}

/* minmax, zscore or rank across the units at each period of x (n_units × n), in place; missing
 * values neither count nor change. order has room for n_units entries. */
static void normalise(int fn, double *x, size_t n_units, size_t n, ranked *order) {
  for (size_t p = 0; p < n; p++) {
    double lo = INFINITY, hi = -INFINITY, sum = 0, squares = 0;
    size_t count = 0;
    for (size_t u = 0; u < n_units; u++) {
      double v = x[u * n + p];
      if (isnan(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
      order[count++] = (ranked){v, u};
    }
    double mean = count ? sum / (double)count : NAN;
    for (size_t k = 0; k < count; k++) squares += (order[k].v - mean) * (order[k].v - mean);
    double sd = count ? sqrt(squares / (double)count) : NAN;
    if (fn == DB__F_RANK) {
      qsort(order, count, sizeof *order, by_value_desc);
      for (size_t k = 0, rank = 1; k < count; k++) {
        if (k && order[k].v != order[k - 1].v) rank = k + 1;
        x[order[k].u * n + p] = (double)rank;
      }
      continue;
    }
    for (size_t u = 0; u < n_units; u++) {
      double v = x[u * n + p];
      x[u * n + p] = fn == DB__F_MINMAX ? db__farith(DB_FTOK_SLASH, v - lo, hi - lo)
                                        : db__farith(DB_FTOK_SLASH, v - mean, sd);
    }
  }
}

/* Reads indicator reference n from the source into out (n_units × np): only the periods on the
 * calendar are asked for, the others stay missing, and values that are not finite become missing. */
static int fetch(ectx *e, const db__fnode *n, const int64_t *units, size_t n_units, int64_t first, size_t np,
                 double *out) {
  size_t cells = n_units * np;
  for (size_t k = 0; k < cells; k++) out[k] = NAN;
  int64_t a = first > e->lo ? first : e->lo, b = first + (int64_t)np - 1;
  if (b > e->hi) b = e->hi;
  if (a > b) return 0;
  size_t inner = (size_t)(b - a + 1), skip = (size_t)(a - first);
  double *buf = inner == np ? out : grid_new(e, n, n_units, inner);
  if (!buf) return DB_ETOOBIG;
  for (size_t k = 0; buf != out && k < n_units * inner; k++) buf[k] = NAN;
  db_period p = period_at(e, a);
  db_formula_fetch q = {n->name, n->dimkey, units, n_units, p, inner};
  int rc = e->src->fetch(e->src->ctx, &q, buf, e->d);
  if (buf != out) {
    for (size_t u = 0; u < n_units; u++) memcpy(out + u * np + skip, buf + u * inner, inner * sizeof *out);
    grid_free(e, buf, n_units, inner);
  }
  for (size_t k = 0; k < cells; k++)
    if (!isfinite(out[k])) out[k] = NAN;
  return rc;
}

/* The source's handle of the unit reference n is pinned to. */
static int pinned_unit(ectx *e, const db__fnode *n, int64_t *unit) {
  if (!e->src->unit)
    return problem(e, n->unit_pos, DB_EUNSUPPORTED, "the data source cannot pin a unit (%s@%s)", n->name,
                   n->unit);
  int rc = e->src->unit(e->src->ctx, n->unit, unit);
  if (rc == DB_ENOTFOUND) return problem(e, n->unit_pos, rc, "unknown org unit '%s'", n->unit);
  return rc;
}

/* Sets the positions of the first and last periods of the grid's type on the calendar (years 1 to
 * 9999), after checking that the grid's first period is a valid one. */
static int calendar(ectx *e) {
  db_period_type t = e->first.type;
  if (!db_period_key(&e->first))
    return db_diag_add(e->d, 0, 0, NULL, DB_EINVAL, "the grid's first period is not a valid period");
  if (t == DB_PT_MULTIYEAR) { /* plans of the grid's span, aligned on its first one */
    int64_t span = e->first.span;
    e->lo = -floor_div(e->first.ord - 1, span);
    e->hi = floor_div(9999 - span + 1 - e->first.ord, span);
    return 0;
  }
  int64_t first_ms = (db_days_from_civil(1, 1, 1) * 1440 - DB_CITY_UTC_OFFSET_MINUTES) * 60000;
  int64_t last_ms = (db_days_from_civil(10000, 1, 1) * 1440 - DB_CITY_UTC_OFFSET_MINUTES) * 60000 - 1;
  db_period lo = db_period_at(t, 0, first_ms), hi = db_period_at(t, 0, last_ms);
  e->lo = lo.ord + !db_period_key(&lo); /* the ISO week of 0001-01-01 belongs to year 0 */
  e->hi = hi.ord - !db_period_key(&hi);
  return 0;
}

/* The period at position pos. */
static db_period period_at(const ectx *e, int64_t pos) {
  if (e->first.type == DB_PT_MULTIYEAR) return db_period_add(&e->first, pos);
  return (db_period){e->first.type, 0, pos};
}

/* yoy, ytd and plan need periods inside a year. */
static int within_year(ectx *e, const db__fnode *n) {
  if (e->first.type != DB_PT_MULTIYEAR) return 0;
  return problem(e, n->pos, DB_EINVAL, "%s is not defined for multi-year periods", n->name);
}

/* The year (ISO year for weeks) of the period at ordinal ord. */
static int64_t year_of(db_period_type t, int64_t ord) {
  int64_t y;
  unsigned m, d;
  switch (t) {
    case DB_PT_YEAR:
      return ord;
    case DB_PT_HALF:
      return floor_div(ord, 2);
    case DB_PT_QUARTER:
      return floor_div(ord, 4);
    case DB_PT_MONTH:
      return floor_div(ord, 12);
    case DB_PT_WEEK:
      db_civil_from_days(ord * 7, &y, &m, &d);
      return y; /* the year of its Thursday */
    default:
      db_civil_from_days(floor_div(ord, slots_per_day(t)), &y, &m, &d);
      return y;
  }
}

/* The ordinal of the first period of type t in year (ISO year for weeks). */
static int64_t first_of_year(db_period_type t, int64_t year) {
  switch (t) {
    case DB_PT_YEAR:
      return year;
    case DB_PT_HALF:
      return year * 2;
    case DB_PT_QUARTER:
      return year * 4;
    case DB_PT_MONTH:
      return year * 12;
    case DB_PT_WEEK:
      return week1(year);
    default:
      return db_days_from_civil(year, 1, 1) * slots_per_day(t);
  }
}

/* The ordinal of the same period a year before ord, when there is one: 1 and *prev, or 0 (week 53
 * after a year of 52 weeks, 29 February). */
static int prev_year(db_period_type t, int64_t ord, int64_t *prev) {
  if (t >= DB_PT_MONTH) {
    *prev = ord - year_back(t);
    return 1;
  }
  if (t == DB_PT_WEEK) {
    int64_t y = year_of(t, ord), w = ord - week1(y), before = week1(y - 1);
    if (before + w >= week1(y)) return 0; /* week 53 and the year before has 52 */
    *prev = before + w;
    return 1;
  }
  int64_t spd = slots_per_day(t), day = floor_div(ord, spd), y;
  unsigned m, d;
  db_civil_from_days(day, &y, &m, &d);
  if (m == 2 && d == 29) return 0;
  *prev = db_days_from_civil(y - 1, m, d) * spd + (ord - day * spd);
  return 1;
}

/* Periods in a year, for the types whose years all have as many (month and longer). */
static int64_t year_back(db_period_type t) {
  switch (t) {
    case DB_PT_YEAR:
      return 1;
    case DB_PT_HALF:
      return 2;
    case DB_PT_QUARTER:
      return 4;
    default:
      return 12;
  }
}

static int64_t slots_per_day(db_period_type t) {
  return t == DB_PT_MIN5 ? 288 : t == DB_PT_MIN15 ? 96 : t == DB_PT_HOUR ? 24 : 1;
}

/* The ordinal of ISO week 1 of year: the week holding 4 January (week 0 starts Monday 1969-12-29). */
static int64_t week1(int64_t year) { return floor_div(db_days_from_civil(year, 1, 4) + 3, 7); }

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return q - (a % b < 0);
}

/* Percent change from before to now; missing when either is missing or before is 0. */
static double pct(double now, double before) {
  return db__farith(DB_FTOK_SLASH, db__farith(DB_FTOK_STAR, 100, db__farith(DB_FTOK_MINUS, now, before)),
                    before);
}

/* A grid of n_units × np cells counted against the working memory, or NULL after a problem. */
static double *grid_new(ectx *e, const db__fnode *n, size_t n_units, size_t np) {
  size_t cells;
  if (__builtin_mul_overflow(n_units, np, &cells)) cells = SIZE_MAX / sizeof(double);
  return work_new(e, n, cells, sizeof(double));
}

static void grid_free(ectx *e, double *g, size_t n_units, size_t np) {
  work_free(e, g, n_units * np, sizeof *g);
}

/* count objects of size bytes, counted against the working memory in 8-byte cells, or NULL after a
 * problem. */
static void *work_new(ectx *e, const db__fnode *n, size_t count, size_t size) {
  size_t cells = count > SIZE_MAX / size ? SIZE_MAX : (count * size + 7) / 8;
  if (cells > e->max_cells - e->used) {
    problem(e, n->pos, DB_ETOOBIG, "evaluating this needs more than %zu cells of working memory",
            e->max_cells);
    return NULL;
  }
  e->used += cells;
  return db_malloc(cells ? cells * 8 : 1);
}

static void work_free(ectx *e, void *p, size_t count, size_t size) {
  if (!p) return;
  e->used -= (count * size + 7) / 8;
  db_free(p);
}

static int problem(ectx *e, db__fpos pos, int code, const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  db__formula_problem(e->d, e->f->multiline, pos, code, "%s", db_buf_str(&msg));
  db_buf_free(&msg);
  return code;
}
