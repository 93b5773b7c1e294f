/* derive.h - derived indicators (an indicator whose `formula` is set) evaluated on the cube, with
 * results cached per cube version, and composite indices (weighted sums of normalised indicators) with
 * their pillar breakdown and the ranking of units.
 *
 * What a derived value is. The value of derived indicator D for unit u and period p is D's formula
 * evaluated with the inputs of u: an input indicator's value for u is its stored value in the cube, else
 * (u has children) its roll-up over u's children by the input's spatial rule (db_cube_rollup), so a
 * ratio formula at the city is the ratio of the city totals, not an average of ward ratios. Periods of
 * the formula's grid are of D's periodicity; an input asked for at a coarser period is rolled up over
 * time by its temporal rule. plan(X) reads the targets given to the engine (db_derive_set_targets or
 * db_derive_load_targets; kind "plan", period a year code "2025"). The cross-section normalisers (minmax,
 * zscore, rank, goalpost) work across the PEERS of u: the units with u's parent (roots: every root) and
 * u's tier (ward, commune and special zone form one tier; every other kind its own), in catalog order. So a
 * unit's value never depends on which other units a caller asked for: the ward development index of a ward
 * is the same in a one-ward series and in the ranking of all wards. A missing input, a division by zero or a
 * normaliser over fewer than two distinct values gives a missing value (NAN).
 *
 * Caching. Values are computed for a whole peer group over the requested period range and cached per
 * (indicator, peer group, first period, number of periods), tagged with the cube version they were
 * computed on. After a commit the caller tells the engine which indicators changed
 * (db_derive_note_commit, with the rows it gave db_cube_apply); only the derived indicators that read
 * them, directly or through other derived indicators (the dependency graph's affected set), are
 * recomputed on the new version: a commit touching CPI recomputes only formulas that read CPI. A version
 * the engine was not told about (a gap in the numbers) invalidates every cached value, so forgetting a
 * note costs time, never correctness. Cached values are bounded (DB_DERIVE_CACHE_CELLS; the least
 * recently used go first).
 *
 * Composite indices and pillars. A derived indicator whose formula is a weighted sum at the top level,
 * `0.4 * minmax(SCHOOLS) + 0.3 * goalpost(ONLINE_DOSSIER_PCT, 0, 100) + 0.3 * (1 - minmax(ACCIDENTS))`, has
 * one pillar per term: its text without the weight ("minmax(SCHOOLS)"), its weight (0.4; a term without a
 * numeric factor weighs 1, a subtracted term -1 times its factor) and its contribution (the term's value,
 * weight included), so the contributions of a unit add up to its index value. Any other formula is one
 * pillar of weight 1 (its whole text). Weights are a number literal multiplying the term at its top level,
 * on either side (`0.4 * X`, `X * 0.4`).
 *
 * Routes (http/h_formula.c): POST /api/v1/formula/check checks a formula text against the catalog
 * (db_formula_compile_derived of formula/derived.h); GET /api/v1/indices/{code}/pillars?period=&parent=
 * answers db_derive_breakdown_get. The analytics grid and GET /api/v1/rank call db_derive_values for every
 * indicator for which db_derive_is_derived is true (their roll-ups are the same call with the parent unit:
 * see above), and may use db_derive_breakdown_get's ranks.
 *
 * Ownership and threads. db_derive_open/set_catalog copy what they need from the catalog (the caller's
 * catalog may change or be freed afterwards). Any number of threads may call db_derive_is_derived,
 * db_derive_values, db_derive_breakdown_get and db_derive_stats_get at once, also while one thread calls
 * a writer (db_derive_set_catalog, db_derive_set_targets, db_derive_load_targets, db_derive_note_commit);
 * writers are serialised by the engine. A call in progress keeps the definitions it started with.
 * Outputs are the caller's (a breakdown owns its arrays and strings). */
#ifndef DB_DERIVE_H
#define DB_DERIVE_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "cube/cube.h"
#include "formula/formula.h"
#include "model/catalog.h"
#include "model/period.h"
#include "store/store.h"

#define DB_DERIVE_CACHE_CELLS ((size_t)1 << 23) /* cached values kept, in cells of 8 bytes (64 MiB) */
#define DB_DERIVE_MAX_PILLARS 64                /* terms of a weighted sum read as pillars */

typedef struct db_derive db_derive;

/* ---- the engine ---- */

/* An engine for the derived indicators of `cat` (linked with db_catalog_link, units and indicators in the
 * order of the cube's catalog). Every formula must compile (formula/derived.h: db_formula_check_catalog);
 * otherwise DB_EINVAL with the problems in d ("indicators[IDX].formula: column 17: unknown indicator…").
 * Returns 0 and *out (free with db_derive_close). No targets until db_derive_set_targets. */
int db_derive_open(const db_catalog *cat, db_derive **out, db_diag *d);
void db_derive_close(db_derive *e); /* NULL is a no-op; no call may be in progress */

/* Takes a new catalog (after a catalog import or an indicator written through the API; call it with the
 * catalog given to db_cube_set_catalog). Cached values of derived indicators whose formula changed, or
 * that read one that changed, or whose inputs' periodicity or rules changed, are dropped; the others stay.
 * New or changed units drop every cached value (peer groups change). DB_EINVAL with the problems in d when
 * a formula does not compile: the engine keeps its previous definitions. Targets are kept (resolved again).
 */
int db_derive_set_catalog(db_derive *e, const db_catalog *cat, db_diag *d);

/* Replaces the targets plan() reads by targets[0..n) (only kind "plan" with a year period is used; targets
 * naming an unknown indicator or unit, or another kind, are ignored). Values of the derived indicators
 * reading an indicator whose plans changed are recomputed. */
void db_derive_set_targets(db_derive *e, const db_target *targets, size_t n);
/* The same with every target of the store (db_store_read_targets): 0 or the store's error. */
int db_derive_load_targets(db_derive *e, db_store *s);

/* Tells the engine that cube version `version` was published by db_cube_apply(rows[0..n)): the
 * indicators of the rows (store ids) changed. Call it once per published version, in order, before
 * readers may use the version's cached derived values (a reader asking for a newer version than the
 * engine knows of recomputes everything: correct, only slower). A version published by
 * db_cube_set_catalog is noted with n = 0 (after db_derive_set_catalog with the same catalog). */
void db_derive_note_commit(db_derive *e, uint64_t version, const db_obs_row *rows, size_t n);

/* ---- forecasts ----
 * The formula functions forecast, lower, upper and p_miss_target read forecasts from a provider the
 * application installs (the server's forecast service, over outlook/outlook.h), so that this module does
 * not depend on how forecasts are made or kept. Without a provider those functions are evaluation errors. */

/* One question to the provider: `what` (formula.h db_formula_fc_what) of the series (indicator, unit code,
 * dimension key) at the n_periods periods from `first`; for DB_FORMULA_FC_P_MISS, plans[k] is the plan of
 * the indicator at the unit for the year of period first + k (NAN when there is none). The provider fills
 * out[0..n_periods) (it comes filled with NAN, which stays where it has nothing to say) and returns 0 or a
 * DB_E* code. It is called on the evaluating thread, concurrently from several threads. */
typedef struct db_derive_fc_query {
  int what;
  const char *indicator, *unit, *dimkey;
  db_period first;
  size_t n_periods;
  const double *plans;
} db_derive_fc_query;
typedef int (*db_derive_forecaster)(void *ctx, const db_derive_fc_query *q, double *out);

/* Installs the provider (fn NULL removes it); ctx is passed back to it. Cached values of derived indicators
 * that use forecasts are dropped. */
void db_derive_set_forecaster(db_derive *e, db_derive_forecaster fn, void *ctx);
/* Tells the engine that forecasts changed (a refit): cached values of the derived indicators whose formula
 * uses a forecast function, and of those that read them, are dropped. */
void db_derive_forecasts_changed(db_derive *e);

/* ---- questions ---- */

/* 1 when `code` is a derived indicator of the engine's catalog (has a formula), else 0. */
int db_derive_is_derived(db_derive *e, const char *code);

/* The values of derived indicator `code` on version v: out[u * n_periods + k] for units[u] (catalog
 * indices) and period first + k (first of the indicator's periodicity), NAN where missing. Served from
 * the cache when the inputs did not change since the cached values were computed, else computed (for each
 * peer group of the units, over the whole group) and cached. Returns 0; DB_ENOTFOUND when `code` is not
 * a derived indicator; DB_EINVAL for a unit index out of range, a period of another type or n_units or
 * n_periods 0 with a NULL array; DB_ETOOBIG when a peer group times n_periods passes the formula's
 * working memory; or the evaluation's error, explained in d ("WARD_DEV_INDEX: column 9: …"). */
int db_derive_values(db_derive *e, const db_cube_version *v, const char *code, const int64_t *units,
                     size_t n_units, const db_period *first, size_t n_periods, double *out, db_diag *d);

/* Evaluates a formula that is not a catalog indicator (a validation rule, an alert condition, a task's
 * completion condition), compiled and checked against the engine's catalog (formula.h
 * db_formula_compile), on version v: out[u * n_periods + k] for units[u] (catalog indices) and period
 * first + k, booleans as 1 and 0, NAN where missing. Inputs are read as for derived indicators (stored
 * values, else roll-ups over children; derived inputs through the engine, cached), but cross-section
 * normalisers work across the units given, not peer groups, and nothing is cached. Returns 0, DB_EINVAL
 * for a unit index out of range, or the evaluation's error (db_formula_eval) with its problems in d
 * ("column 9: …"). Thread-safe like db_derive_values. */
int db_derive_eval(db_derive *e, const db_cube_version *v, const db_formula *f, const int64_t *units,
                   size_t n_units, const db_period *first, size_t n_periods, double *out, db_diag *d);

/* One pillar of a derived indicator (see above): the term's text without its weight ("minmax(SCHOOLS)"),
 * its weight, and the term as a formula, weight included ("0.4 * minmax(SCHOOLS)"). */
typedef struct db_derive_pillar {
  char *label;
  double weight;
  char *text;
} db_derive_pillar;

/* The ranking of the children of `parent` (catalog index; -1 = the roots) valid at period p (their
 * validity overlaps it) on derived indicator `code`, with each unit's pillar contributions. Children of
 * a tier where none has a value are left out (the stations under a city, for a ward index). Units are
 * ordered best first: highest value first, lowest first for an indicator of polarity "lower"; units
 * without a value come last (rank 0) in catalog order; ties share the best rank (1, 2, 2, 4) and keep
 * catalog order. */
typedef struct db_derive_breakdown {
  size_t n_units, n_pillars;
  db_derive_pillar *pillars; /* the indicator's pillars, in formula order (1 when it is no weighted sum) */
  int64_t *units;            /* catalog indices, best first */
  double *values;            /* the index value of units[i] (NAN when missing) */
  int64_t *ranks;            /* 1 = best, 0 when the value is missing */
  double *contrib;           /* contrib[i * n_pillars + j]: pillar j's contribution to units[i] */
} db_derive_breakdown;

/* Fills *out (free with db_derive_breakdown_free; zeroed first, so freeing after an error is safe).
 * Returns 0; DB_ENOTFOUND when `code` is not derived; DB_EINVAL for a parent out of range or a period
 * of another type than the indicator's; an evaluation error as db_derive_values returns it. */
int db_derive_breakdown_get(db_derive *e, const db_cube_version *v, const char *code, int64_t parent,
                            const db_period *p, db_derive_breakdown *out, db_diag *d);
void db_derive_breakdown_free(db_derive_breakdown *b);

/* ---- introspection (tests, /metrics) ---- */
typedef struct db_derive_stats {
  uint64_t evaluations; /* formula evaluations run (one per derived indicator or pillar and peer group) */
  uint64_t hits;        /* requests for one peer group served from the cache */
  uint64_t misses;      /* requests for one peer group that had to evaluate */
  size_t cached_cells;  /* values held by the cache now */
} db_derive_stats;
void db_derive_stats_get(db_derive *e, db_derive_stats *out);

#endif
