/* analytics.h - the report transforms of Vietnamese socio-economic reports, computed on a version of
 * the in-memory cube: the value, the same period last year (its value and the % change), the previous
 * period (its value and the % change: month on month for months), the cumulative value from the start of
 * the year, the annual plan and the percent of it reached, the rank among sibling units, and the target
 * status (on track, at risk, off track). A grid asks for indicators x units x periods x transforms and
 * gets one row per (indicator, unit, period), computed a page at a time.
 *
 * Definitions (X is the value series of one indicator at one unit, in its periodicity):
 *   value     X: the unit's stored value, else (a unit with children) its roll-up over the children by
 *             the indicator's spatial rule (cube.h db_cube_rollup); count and expected say how many
 *             sources contributed and were expected (1 and 1 for a stored value; 0 and 1 when missing
 *             at a unit valid in the period, 0 and 0 when the unit did not exist then). For a derived
 *             indicator (one with a formula), X is its value from the derived indicators' engine
 *             (derive/derive.h db_derive_values: the formula on the unit's inputs, rolled up first).
 *   yoy       X of the same period a year earlier: the same month, quarter, half or year; for a week the
 *             same ISO week number of the previous ISO year (week 53 only when that year has one, else
 *             missing); for a day, and a sub-daily slot, the same calendar day and time (29 February
 *             has none: missing). Missing for multi-year periods.
 *   yoy_pct   100 * (X - yoy) / yoy.
 *   prev      X of the previous period.     mom   100 * (X - prev) / prev.
 *   ytd       X from the first period of the year (the ISO year for weeks) to the period, by the
 *             indicator's temporal rule: sum (flows), last (stocks: X itself), avg (rates), min, max;
 *             missing when a period of the year so far is missing (for last: when X is), and for none.
 *   plan      the target of kind "plan" for the indicator, the unit and the year containing the period
 *             (targets of other kinds or periods are not plans of a year).
 *   plan_pct  100 * ytd / plan: the share of the annual plan reached so far (missing unless plan > 0).
 *   status    how ytd stands against the part of the plan due by the period: for flows (temporal rule
 *             sum) plan * (periods of the year so far / periods in the year), else the whole plan.
 *             With pct = 100 * ytd / due, the achievement is pct (polarity higher), 200 - pct (lower:
 *             each point above the plan counts as a point short of it) or 100 - |pct - 100| (neutral);
 *             on track at or above the indicator's band_at_risk, at risk at or above band_off_track, off
 *             track below it. Missing when ytd or a plan > 0 is missing.
 *   rank      the rank of X among the unit's siblings (the children of its parent) that have a value in
 *             the period: 1 = best by polarity (the highest value for higher and neutral, the lowest for
 *             lower), ties share the best rank (1, 2, 2, 4). Missing for a unit without a parent or value.
 * A percentage against a base of 0, and any result that is not finite, is missing. Missing is NAN.
 *
 * Ownership and threads: a context only borrows the version, the catalog, the plans and the engine, which
 * must outlive the calls; every function is a pure read of them (any number of threads may run grids on the
 * same context) and allocates only scratch memory it frees before returning. The catalog must be linked
 * (db_catalog_link); indicators and units are named by catalog index and matched to the version by code,
 * so a catalog newer than the version is fine (what the version lacks reads as missing). Rows handed to
 * an emit callback are valid only during the call. */
#ifndef DB_ANALYTICS_H
#define DB_ANALYTICS_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "model/catalog.h"
#include "model/period.h"

typedef enum db_transform {
  DB_TF_VALUE = 0,
  DB_TF_YOY,
  DB_TF_YOY_PCT,
  DB_TF_PREV,
  DB_TF_MOM,
  DB_TF_YTD,
  DB_TF_PLAN,
  DB_TF_PLAN_PCT,
  DB_TF_RANK,
  DB_TF_STATUS,
} db_transform;
#define DB_TF_COUNT 10

/* Target status, as the status cell holds it. */
typedef enum db_target_status {
  DB_TARGET_ON_TRACK = 1,
  DB_TARGET_AT_RISK,
  DB_TARGET_OFF_TRACK
} db_target_status;

/* "value", "yoy", "yoy_pct", "prev", "mom", "ytd", "plan", "plan_pct", "rank", "status" and back (len
 * bytes of s): 0 or DB_EINVAL. */
const char *db_transform_name(db_transform t);
int db_transform_parse(const char *s, size_t len, db_transform *t);
/* "on_track", "at_risk", "off_track"; NULL for anything else (a missing status). */
const char *db_target_status_name(double status);

/* ---- plans: the targets of kind "plan" for a year, by (indicator code, unit code, year) ---- */
typedef struct db_analytics_plans db_analytics_plans;

db_analytics_plans *db_analytics_plans_new(void);
/* Keeps t when it is a plan for a year (kind "plan", a period code of type year); a later plan for the
 * same key replaces the earlier one. Returns 1 when kept, 0 when t is not such a plan. */
int db_analytics_plans_add(db_analytics_plans *p, const db_target *t);
/* The plan of indicator at unit for year, NAN when there is none (or p is NULL). */
double db_analytics_plan(const db_analytics_plans *p, const char *indicator, const char *unit, int64_t year);
void db_analytics_plans_free(db_analytics_plans *p);

/* ---- grids ---- */
typedef struct db_analytics_ctx {
  const db_cube_version *v;
  const db_catalog *cat;           /* linked, the catalog of the version (indices are shared with derive) */
  const db_analytics_plans *plans; /* NULL: no plans (plan, plan_pct and status are missing) */
  db_derive *derive;               /* NULL: derived indicators read the cube (where they have no data) */
  db_diag *diag;                   /* problems of a derived indicator's evaluation; NULL: dropped */
} db_analytics_ctx;

typedef struct db_analytics_grid {
  const size_t *indicators; /* catalog indices */
  size_t n_indicators;
  const size_t *units; /* catalog indices */
  size_t n_units;
  /* The periods: for each indicator, those of its periodicity that overlap [start of from, end of to]
   * (periods of any type). NULL: from the first, or to the last, period with data of the indicator in
   * the version (an indicator without data, and a derived indicator, then has no period). */
  const db_period *from, *to;
  const db_transform *transforms; /* 1 .. DB_TF_COUNT, no repeats */
  size_t n_transforms;
  int rebase; /* 1: a period before a unit existed takes the values of its predecessors through the
                 successions' weights (db_cube_rebase), so today's units get a history */
} db_analytics_grid;

typedef struct db_analytics_row {
  size_t indicator, unit; /* catalog indices */
  db_period period;
  int32_t count, expected;   /* of the value (see the top of this file) */
  double cells[DB_TF_COUNT]; /* cells[i]: the grid's transforms[i]; NAN when missing */
} db_analytics_row;

/* Called for each row of a page, in order; a nonzero return stops the run and is returned by it. */
typedef int (*db_analytics_emit)(void *ctx, const db_analytics_row *row);

/* The number of rows of the grid (sum over its indicators of units x periods) into *rows. Returns 0, or
 * DB_EINVAL for an index out of the catalog, no or too many or repeated transforms, or a period code
 * range that ends before it starts. */
int db_analytics_grid_size(const db_analytics_ctx *c, const db_analytics_grid *g, int64_t *rows);

/* Computes the rows offset .. offset + limit - 1 of the grid (fewer at its end), ordered by indicator
 * (in the grid's order), unit (idem), then period, and hands each to emit. Only the rows of the page are
 * computed (with the periods before them that yoy, prev and ytd read). Returns 0, what emit returned,
 * DB_EINVAL as db_analytics_grid_size, or DB_ETOOBIG when a roll-up would need more than the cube's scratch
 * limit, or a derived indicator's evaluation error (explained in c->diag). */
int db_analytics_grid_run(const db_analytics_ctx *c, const db_analytics_grid *g, int64_t offset,
                          int64_t limit, db_analytics_emit emit, void *emit_ctx);

/* Whether unit u existed at some time in [from_ms, to_ms) (its validity dates, civil days of the city,
 * overlap it). */
int db_analytics_unit_active(const db_orgunit *u, int64_t from_ms, int64_t to_ms);

/* ---- rankings ---- */
typedef struct db_analytics_ranked {
  size_t unit;  /* catalog index */
  double value; /* the value of the unit in the period */
  double score; /* the transform ranked on (= value for DB_TF_VALUE) */
  int64_t rank; /* 1 = best */
} db_analytics_ranked;

/* Ranks units[0..n_units) on transform t (any but rank and status) of `indicator` in period p (of the
 * indicator's periodicity and span): best first by the indicator's polarity as for the rank transform,
 * ties sharing the best rank and keeping the order of `units`. Units without a score are left out.
 * Writes up to n_units entries to out and returns how many, or DB_EINVAL (bad index, period or
 * transform), or an error as db_analytics_grid_run returns it. */
int64_t db_analytics_rank(const db_analytics_ctx *c, size_t indicator, const size_t *units, size_t n_units,
                          const db_period *p, db_transform t, db_analytics_ranked *out);

#endif
