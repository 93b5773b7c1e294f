/* cube.h - the in-memory cube: current values of every series, versioned for readers, and the queries
 * that run on it (series, cross-sections, roll-ups over the unit tree and over time, rebasing of
 * pre-merger history onto today's units, top-N rankings).
 *
 * Layout. Every (indicator, dimension key) holds one matrix [unit x period] over the contiguous range of
 * periods of the indicator's periodicity that has data (first to last period seen; deletions do not
 * shrink it). Rows exist only for units that have data and are kept in catalog-index order; a unit with
 * no row reads as missing. A matrix is dense (row-major doubles) unless dense storage would take more
 * than twice the memory of a sparse one (per row, sorted (column, value) pairs), which happens below
 * about one third of the cells present. Missing is NAN: stored values are always finite (the ingest path
 * refuses NaN and infinities), so no presence bit is kept. Units and indicators are named by their index
 * in the catalog the cube was built from (db_catalog.units / .indicators); periods are db_period values
 * of the indicator's periodicity (and span, for plans).
 *
 * Versions. A db_cube_version is an immutable snapshot. Readers call db_cube_acquire, keep the version
 * for the whole request, and call db_cube_release. The single writer (db_cube_apply, db_cube_set_catalog)
 * builds the next version copy-on-write (untouched indicators are shared with the previous version,
 * touched ones are copied and changed) and publishes it atomically; readers never wait for a writer to
 * finish building. A version is freed when the last reference to it is released: the cube's own
 * reference goes when the next version is published (or the cube is closed).
 *
 * Ownership and thread-safety:
 *   - db_cube_open / db_cube_create copy what they need from the catalog; the caller's catalog may change
 *     or be freed afterwards.
 *   - db_cube_acquire and db_cube_release may be called from any thread at any time, also concurrently
 *     with a writer. A version stays valid, unchanged, until its holder releases it, even after
 *     db_cube_close. Every query on a version is a pure read: any number of threads may query the same
 *     version at once.
 *   - Writers (db_cube_apply, db_cube_set_catalog) are serialised by the cube itself; calling them from
 *     several threads is safe, they simply run one after the other.
 *   - Strings returned by a version (codes) live as long as the version.
 *   - Output arrays are the caller's; queries allocate only scratch memory they free before returning. */
#ifndef DB_CUBE_H
#define DB_CUBE_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "model/catalog.h"
#include "model/period.h"
#include "store/store.h"

typedef struct db_cube db_cube;
typedef struct db_cube_version db_cube_version;

/* ---- building and writing ---- */

/* Builds a cube from the current values of every observation in the store (one db_store_obs_scan)
 * under the catalog `cat`, which must have been linked (db_catalog_link) and must be the
 * store's catalog (units and indicators carry their store ids). Returns 0 and *out; DB_EINVAL when the
 * catalog is not linked or an observation names an indicator or unit the catalog lacks or has a period
 * of another type than its indicator's periodicity (each problem in d: "observation 12: unknown org
 * unit id 7"); a store error as the store returned it. Nothing is left allocated on failure. */
int db_cube_open(db_store *s, const db_catalog *cat, db_cube **out, db_diag *d);

/* An empty cube under a linked catalog (a new store, or tests). 0, or DB_EINVAL with the reason in d. */
int db_cube_create(const db_catalog *cat, db_cube **out, db_diag *d);

/* Drops the cube's reference to its current version and frees the cube. Versions still held by readers
 * stay valid until released. NULL is a no-op. Must not run concurrently with a writer of this cube. */
void db_cube_close(db_cube *c);

/* Applies a committed change set and publishes the next version. Each row names a cell by
 * (indicator id, orgunit id, dimkey) as stored (db_obs_row.indicator, .orgunit, .dimkey; NULL dimkey is
 * ""), its period key (db_period_key) and its new current value; a NAN value removes the cell. Other
 * fields are ignored. Rows apply in order (a later row for the same cell wins). All or nothing: when a
 * row names an unknown indicator or unit, or a period that is not of its indicator's periodicity, nothing
 * is published and DB_EINVAL is returned with every problem in d ("change 3: unknown indicator id 42").
 * n == 0 publishes nothing and returns 0. */
int db_cube_apply(db_cube *c, const db_obs_row *rows, size_t n, db_diag *d);

/* Publishes a version under a new catalog (indicators or units added, an indicator without data
 * deleted, rules, validity or successions changed). The catalog must be linked; indicators are matched
 * by store id and may change index, but every indicator that has data must still be there with the same
 * periodicity, and every unit of the cube must keep its index and store id (units are never deleted).
 * DB_EINVAL with the reasons in d otherwise (nothing is published). */
int db_cube_set_catalog(db_cube *c, const db_catalog *cat, db_diag *d);

/* ---- readers ---- */

/* The current version, with a reference the caller must give back with db_cube_release. Never NULL. */
const db_cube_version *db_cube_acquire(db_cube *c);
void db_cube_release(const db_cube_version *v);

/* The version's number: 1 for the version built by open/create, +1 for each published version. */
uint64_t db_cube_version_number(const db_cube_version *v);

/* Names: the index of a code (-1 when unknown), the code of an index (NULL when out of range), and the
 * children of a unit in catalog order (their count; *children points into the version). */
int64_t db_cube_indicator_index(const db_cube_version *v, const char *code);
int64_t db_cube_unit_index(const db_cube_version *v, const char *code);
const char *db_cube_unit_code(const db_cube_version *v, int64_t unit);
size_t db_cube_unit_children(const db_cube_version *v, int64_t unit, const int64_t **children);

/* Size of a version: cells present, matrices (of which sparse), and bytes of cell storage (values,
 * row maps, sparse columns). */
typedef struct db_cube_stats {
  int64_t cells;           /* values present */
  int64_t dense_cells;     /* cells allocated by dense matrices (present or NAN) */
  int64_t matrices, sparse_matrices;
  size_t bytes;
} db_cube_stats;
void db_cube_stats_get(const db_cube_version *v, db_cube_stats *out);

/* ---- queries ----
 * `indicator` and units are catalog indices; `dimkey` NULL or "" is the series without dimensions
 * ("SEX=F;AGE=Y15T64" otherwise, as stored). Periods must be of the indicator's periodicity (and span);
 * a range is `n` consecutive periods starting at `from` (db_period_add steps). Unknown indices, a period
 * of the wrong type or a NULL output with n > 0 are DB_EINVAL; a roll-up whose scratch would pass 1 GiB
 * (periods x children, or sub-periods) is DB_ETOOBIG. A series or indicator without data is not an
 * error: its values are NAN. */

/* The first and last periods with data of one (indicator, dimkey): 0, or DB_ENOTFOUND when it has none. */
int db_cube_range(const db_cube_version *v, int64_t indicator, const char *dimkey, db_period *first,
                  db_period *last);

/* One series: out[k] = the stored value of `unit` at from + k (NAN when missing). Returns the number of
 * values present (>= 0) or an error. */
int64_t db_cube_series(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t unit,
                       const db_period *from, size_t n, double *out);

/* A cross-section: out[k] = the stored value of units[k] at period p. Returns the number present. */
int64_t db_cube_cross(const db_cube_version *v, int64_t indicator, const char *dimkey, const db_period *p,
                      const int64_t *units, size_t n_units, double *out);

/* One aggregated cell: the value, how many sources contributed, and how many were expected, so that a
 * partial total (count < expected) shows as partial. */
typedef struct db_cube_cell {
  double value;     /* NAN when nothing contributed, and for the rule none */
  int32_t count;    /* contributing children / sub-periods / predecessors */
  int32_t expected; /* children valid in the period / sub-periods / predecessors valid in the period */
} db_cube_cell;

/* Roll-up over the unit tree: out[k] aggregates the children of `parent` valid in period from + k
 * (expected: a child is valid when its validity dates overlap the period) with the indicator's spatial
 * rule. A child contributes its stored value, or, when it has none and has children of its own, its own
 * roll-up (recursively: a city rolls up old wards through their old district). Rules: sum; avg (mean of
 * the contributors); wavg (mean weighted by each contributor's weight: its value of the weight indicator
 * in the weight's period that contains the start of the period, else the total weight behind its
 * rolled-up value, else the latest value of its weight series; contributors without a positive weight do
 * not count); min; max; none (counts only, value NAN). Returns 0, or DB_EINVAL also for a unit tree
 * deeper than 64 levels (a cycle). */
int db_cube_rollup(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t parent,
                   const db_period *from, size_t n, db_cube_cell *out);

/* The same under an explicit spatial rule (DB_AGG_SUM, AVG, WAVG (with the indicator's weight), MIN, MAX,
 * NONE): a plain total of an avg-type indicator, for one. DB_AGG_LAST is DB_EINVAL. */
int db_cube_rollup_as(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t parent,
                      db_agg rule, const db_period *from, size_t n, db_cube_cell *out);

/* Roll-up over time: out[k] aggregates the values of `unit` (stored, else its roll-up over its
 * children) over the periods of the indicator's periodicity inside the coarser period from + k (of type
 * from->type; a plan's span is from->span), with the indicator's temporal rule: sum (flows), last (the
 * last sub-period with a value: stocks), avg (rates), min, max, none (counts only). count = sub-periods
 * with a value, expected = sub-periods. DB_EINVAL when the periodicity does not nest in from->type
 * (weeks nest only in years and plans). */
int db_cube_rollup_time(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t unit,
                        const db_period *from, size_t n, db_cube_cell *out);

/* Rebase: the history of `unit` (a unit of today) re-expressed through the catalog's successions. For
 * each period: the unit's stored value when it has one (count 1, expected 1); otherwise the values of its
 * predecessors (the units with a succession into it, each one again its stored value or, through a chain
 * of successions, its own predecessors') combined by the indicator's spatial rule with the succession
 * weights: sum-type, the sum of value x weight (a split unit's value is shared out, so the city total is
 * kept when the weights out of every old unit add up to 1); avg and wavg types, the mean weighted by the
 * succession weights; min and max, the extreme value; none, NAN. count = predecessors with a value,
 * expected = predecessors expected in the period (valid then, or with expected predecessors of their
 * own); when none is expected, the cell is NAN with count 0 and expected 1 if the unit itself is valid in
 * the period, 0 if not. Returns 0 or an error. */
int db_cube_rebase(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t unit,
                   const db_period *from, size_t n, db_cube_cell *out);

/* Ranking of units on an expression of their stored values. */
typedef enum db_cube_measure {
  DB_CUBE_LEVEL = 1, /* the value at p */
  DB_CUBE_CHANGE,    /* value at p - value at base */
  DB_CUBE_GROWTH,    /* value at p / value at base - 1, for units whose base value is > 0 (year on year
                        growth with base = p one year earlier) */
} db_cube_measure;

typedef struct db_cube_ranked {
  int64_t unit;
  double score, value, base; /* base is NAN for DB_CUBE_LEVEL */
} db_cube_ranked;

/* The `top` best of `units` on `measure` at period p (base: the comparison period, same type; ignored
 * for DB_CUBE_LEVEL), highest first (lowest first when `ascending`), ties in the order of `units`. Units
 * without the values the measure needs are left out. Writes up to `top` entries to out and returns how
 * many, or an error. */
int64_t db_cube_top(const db_cube_version *v, int64_t indicator, const char *dimkey, const int64_t *units,
                    size_t n_units, const db_period *p, const db_period *base, db_cube_measure measure,
                    int ascending, size_t top, db_cube_ranked *out);

#endif
