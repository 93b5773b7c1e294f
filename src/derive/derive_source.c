/* derive_source.c - the data a formula reads, from one cube version (derive_int.h): an indicator's value
 * for a unit is its stored value, else its roll-up over the unit's children; a coarser period is rolled
 * up over time; a derived input is evaluated by the engine (cached like any derived value); plan() reads
 * the engine's plans; children and pinned units come from the version's unit tree; the forecast functions
 * ask the engine's forecast provider, one unit at a time, with the plans of the periods' years. */
#include <math.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "derive/derive_int.h"

static int fetch(void *ctx, const db_formula_fetch *q, double *out, db_diag *d);
static int targets(void *ctx, const char *indicator, const int64_t *units, size_t n_units, int64_t first_year,
                   size_t n_years, double *out, db_diag *d);
static size_t children(void *ctx, int64_t unit, const int64_t **list);
static int unit_of(void *ctx, const char *code, int64_t *unit);
static int forecasts(void *ctx, const db_formula_fc_query *q, double *out, db_diag *d);
static int fetch_stored(db__dcall *c, int64_t ind, const db_formula_fetch *q, double *out);
static int fetch_coarser(db__dcall *c, int64_t ind, const db_formula_fetch *q, double *out);

void db__dsource(db__dcall *c, db_formula_source *src) {
  *src = (db_formula_source){c, fetch, targets, children, unit_of, forecasts};
}

static int fetch(void *ctx, const db_formula_fetch *q, double *out, db_diag *d) {
  db__dcall *c = ctx;
  const db__dind *di = db__ddefs_derived(c->defs, q->indicator);
  if (di) { /* a derived input: no dimensions of its own, values only at its periodicity */
    if (*q->dimkey || q->first.type != di->type || (di->type == DB_PT_MULTIYEAR && q->first.span != di->span))
      return 0;
    return db__dvalues(c, di, -1, q->units, q->n_units, &q->first, q->n_periods, out, d);
  }
  const db__draw *r = db__ddefs_ind(c->defs, q->indicator);
  int64_t ind = db_cube_indicator_index(c->v, q->indicator);
  if (!r || ind < 0) return 0; /* an indicator the cube does not know has no data */
  if (q->first.type == r->type && (r->type != DB_PT_MULTIYEAR || q->first.span == r->span))
    return fetch_stored(c, ind, q, out);
  return fetch_coarser(c, ind, q, out);
}

/* Stored values; the holes of a unit with children are filled with its roll-up over them. */
static int fetch_stored(db__dcall *c, int64_t ind, const db_formula_fetch *q, double *out) {
  db_cube_cell *cells = NULL;
  int rc = 0;
  for (size_t u = 0; u < q->n_units && !rc; u++) {
    double *row = out + u * q->n_periods;
    int64_t present = db_cube_series(c->v, ind, q->dimkey, q->units[u], &q->first, q->n_periods, row);
    if (present < 0) {
      rc = (int)present;
      break;
    }
    const int64_t *kids;
    if ((size_t)present == q->n_periods || !db_cube_unit_children(c->v, q->units[u], &kids)) continue;
    if (!cells) cells = db_malloc(q->n_periods * sizeof *cells);
    rc = db_cube_rollup(c->v, ind, q->dimkey, q->units[u], &q->first, q->n_periods, cells);
    for (size_t k = 0; !rc && k < q->n_periods; k++)
      if (isnan(row[k]) && cells[k].count > 0) row[k] = cells[k].value;
  }
  db_free(cells);
  return rc;
}

/* Periods coarser than the indicator's: its roll-up over time, when every sub-period has a value (a
 * partial sum would read as a fall); periods it does not nest in stay missing. */
static int fetch_coarser(db__dcall *c, int64_t ind, const db_formula_fetch *q, double *out) {
  db_cube_cell *cells = db_malloc(q->n_periods * sizeof *cells);
  int rc = 0;
  for (size_t u = 0; u < q->n_units && !rc; u++) {
    rc = db_cube_rollup_time(c->v, ind, q->dimkey, q->units[u], &q->first, q->n_periods, cells);
    for (size_t k = 0; !rc && k < q->n_periods; k++)
      if (cells[k].count > 0 && cells[k].count == cells[k].expected)
        out[u * q->n_periods + k] = cells[k].value;
  }
  db_free(cells);
  return rc == DB_EINVAL ? 0 : rc;
}

static int targets(void *ctx, const char *indicator, const int64_t *units, size_t n_units, int64_t first_year,
                   size_t n_years, double *out, db_diag *d) {
  db__dcall *c = ctx;
  db_buf key = DB_BUF_INIT;
  for (size_t u = 0; u < n_units; u++) {
    const char *code = db_cube_unit_code(c->v, units[u]);
    for (size_t y = 0; code && y < n_years; y++) {
      db_buf_clear(&key);
      db_buf_printf(&key, "%s\x1f%s\x1f%lld", indicator, code, (long long)(first_year + (int64_t)y));
      int64_t at;
      if (db_map_get(&c->plans->index, key.data, key.len, &at)) out[u * n_years + y] = c->plans->values[at];
    }
  }
  db_buf_free(&key);
  return 0;
}

static size_t children(void *ctx, int64_t unit, const int64_t **list) {
  db__dcall *c = ctx;
  return db_cube_unit_children(c->v, unit, list);
}

static int unit_of(void *ctx, const char *code, int64_t *unit) {
  db__dcall *c = ctx;
  int64_t u = db_cube_unit_index(c->v, code);
  if (u < 0) return DB_ENOTFOUND;
  *unit = u;
  return 0;
}

static int forecasts(void *ctx, const db_formula_fc_query *q, double *out, db_diag *d) {
  db__dcall *c = ctx;
  if (!c->forecaster)
    return db_diag_add(d, 0, 0, NULL, DB_EUNSUPPORTED, "no forecasts are available here (%s)", q->indicator);
  double *plans = NULL;
  int rc = 0;
  if (q->what == DB_FORMULA_FC_P_MISS) {
    plans = db_malloc(q->n_periods * sizeof *plans);
    for (size_t k = 0; k < q->n_periods; k++) plans[k] = NAN;
  }
  for (size_t u = 0; u < q->n_units && !rc; u++) {
    const char *code = db_cube_unit_code(c->v, q->units[u]);
    if (!code) continue;
    for (size_t k = 0; plans && k < q->n_periods; k++) {
      db_period p = db_period_add(&q->first, (int64_t)k), year;
      plans[k] = NAN;
      if (db_period_containing(&p, DB_PT_YEAR, 0, &year) == 0)
        targets(c, q->indicator, &q->units[u], 1, year.ord, 1, &plans[k], d);
    }
    db_derive_fc_query one = {q->what, q->indicator, code, q->dimkey, q->first, q->n_periods, plans};
    rc = c->forecaster(c->forecaster_ctx, &one, out + u * q->n_periods);
  }
  db_free(plans);
  return rc;
}
