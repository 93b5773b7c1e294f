/* quality.h - data supply and quality: reporting obligations and the cells they make expected,
 * completeness and timeliness, validation rules, seasonal outliers, approval (official, locked values),
 * data-supply scorecards, and checks of unit attributes (area, population).
 *
 * Definitions are records of the store (store.h): an obligation is a record of kind "obligation" keyed by
 * its code, a validation rule one of kind "rule", an approval one of kind "approval" keyed
 * "GROUP|UNIT|PERIOD", a violation one of kind "violation" keyed "RULE|UNIT|PERIOD". Their bodies are the
 * JSON documents described below; files of obligations and rules come as CSV (one row each, a header
 * naming the columns) or JSON (an array of objects, or {"obligations": [...]}, {"rules": [...]}).
 *
 * Obligation: {"code", "name", "agency", "indicators": [codes], "orgunit", "children": bool,
 *   "deadline": "5 working days" | "10 days", "from": period, "to": period or null}. The agency reports
 *   each indicator (all of one periodicity) for the unit itself, or (children true) for each child of the
 *   unit valid in the period (sites, kind DB_OU_SITE, excepted), for every period from `from` to `to`, by
 *   the deadline: N (working) days after the period ends, counted with the working-day calendar
 *   (model/calendar.h). CSV columns: code, name, agency, indicators (codes separated by ';'), orgunit,
 *   children (yes/no), deadline, from, to.
 *
 * Expected cells and their state as of an instant T (a cell = obligation x indicator x unit x period
 * whose period has ended by T). Its received time is the received time of the batch that wrote the
 * first revision of any series of the indicator at the unit and period (db_store_obs_history); a first
 * revision received after T counts as not received. Deadline day D; received day R (city time):
 *   on time   received and R <= D;
 *   late      received and R > D: late by the working days in (D, R] (calendar days for a deadline in
 *             days);
 *   overdue   not received and T's day is after D;
 *   due       not received and D not passed yet.
 * Figures over a set of cells count only the cells whose deadline has passed ("owed"): expected = owed
 * cells, received = owed cells received, on_time, late, missing = expected - received;
 * completeness = received / expected and timeliness = on_time / expected (NAN when expected is 0).
 * Validity = received cells not named by an open violation of importance error or critical, over
 * received (NAN when nothing was received). The data-supply score is 100 * (completeness + timeliness +
 * validity) / 3, a missing validity counting 0.
 *
 * Rule: {"code", "name", "formula", "tolerance": number >= 0, "importance": "info" | "warning" | "error" |
 *   "critical", "enabled": bool}. The formula is a boolean in the formula language (formula.h). When its
 *   top level is one comparison `A op B` (op one of == != < <= > >=), A and B are evaluated as numbers
 *   and compared within the tolerance (== holds when |A - B| <= tolerance, <= when A <= B + tolerance,
 *   < when A < B + tolerance, >= and > alike, != when |A - B| > tolerance); any other boolean formula
 *   holds where it is true (the tolerance must then be 0). A cell where the formula is missing (an input
 *   missing) is not judged. CSV columns: code, name, formula, tolerance, importance, enabled.
 *
 * Ownership: structures filled by the functions below own their strings and arrays (free with the
 * matching *_free). Nothing here keeps state between calls; every function is safe on any thread with
 * its own store handle. */
#ifndef DB_QUALITY_H
#define DB_QUALITY_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/diag.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "ingest/ingest.h"
#include "model/calendar.h"
#include "model/catalog.h"
#include "store/store.h"

#define DB_OBLIGATION_KIND "obligation"
#define DB_RULE_KIND "rule"
#define DB_APPROVAL_KIND "approval" /* also read by the ingest path's lock check (ingest.h) */
#define DB_VIOLATION_KIND "violation"

/* ---- obligations ---- */
typedef struct db_obligation {
  int64_t id; /* record id; 0 before stored */
  char *code, *name, *agency, *orgunit;
  char **indicators;
  size_t n_indicators;
  int children;
  int deadline_days, deadline_working;
  db_period_type periodicity; /* the indicators' */
  db_period from, to;         /* to.type 0 = open */
} db_obligation;

void db_obligations_free(db_obligation *o, size_t n);

/* Reads obligations from a file's text ("csv" or "json"), checked against cat (agency, unit and
 * indicators exist, indicators take data and share one periodicity, the periods are of it, from <= to,
 * codes unique). All or nothing: 0 and *out (n items), or DB_EINVAL with every problem in d, each located
 * by line and column name (CSV) or JSON path ("$[2].deadline"), source prefixed to nothing. */
int db_obligations_read(const char *text, size_t len, const char *format, const db_catalog *cat,
                        db_obligation **out, size_t *n, db_diag *d);
/* Upserts obligations by code in the open transaction (ids set). 0 or the store's error. */
int db_obligations_save(db_store *s, db_obligation *o, size_t n);
/* Every stored obligation still valid against cat (one that no longer checks is skipped), by id. */
int db_obligations_load(db_store *s, const db_catalog *cat, db_obligation **out, size_t *n);
/* The JSON text of one obligation (owned). */
char *db_obligation_json(const db_obligation *o);

/* ---- expected cells: completeness and timeliness ---- */
typedef enum db_cell_state {
  DB_CELL_ON_TIME = 1,
  DB_CELL_LATE,
  DB_CELL_OVERDUE,
  DB_CELL_DUE,
} db_cell_state;
const char *db_cell_state_name(db_cell_state s); /* "on_time", "late", "overdue", "due" */

typedef struct db_supply_cell {
  size_t obligation;       /* index into the obligations given */
  size_t indicator, unit;  /* catalog indices */
  db_period period;
  int64_t deadline_day;    /* days since 1970-01-01 */
  int64_t received_ms;     /* 0 when not received (by as_of) */
  int64_t days_late;       /* 0 unless late */
  db_cell_state state;
  int owed;                /* the deadline has passed as of as_of */
  int invalid;             /* named by an open violation of importance error or critical */
} db_supply_cell;

typedef struct db_supply_filter {
  const char *agency, *orgunit, *group, *indicator; /* NULL = any; orgunit matches the cell's unit */
  db_period from, to; /* type 0 = open; cells whose period overlaps [from, to] */
} db_supply_filter;

/* The expected cells of obligations[0..n) matching f whose periods ended by as_of_ms, in obligation,
 * period, unit, indicator order, with their states as of as_of_ms, into *out (db_free). The calendar
 * counts working days. 0 or the store's error. */
int db_supply_cells(db_store *s, const db_catalog *cat, const db_calendar *cal, const db_obligation *ob,
                    size_t n_ob, const db_supply_filter *f, int64_t as_of_ms, db_supply_cell **out,
                    size_t *n_out);

typedef enum db_supply_by {
  DB_BY_OBLIGATION = 1,
  DB_BY_AGENCY,
  DB_BY_ORGUNIT,
  DB_BY_INDICATOR,
  DB_BY_GROUP, /* a cell counts once in each group of its indicator */
  DB_BY_PERIOD,
} db_supply_by;
int db_supply_by_parse(const char *s, db_supply_by *out); /* 0 or DB_EINVAL */

typedef struct db_supply_row {
  char *key;     /* the obligation, agency, unit, indicator or group code, or the period code */
  int64_t expected, received, on_time, late, missing, invalid, pending;
  int64_t days_late; /* sum over late cells */
  double completeness, timeliness, validity, score; /* ratios (0..1) and score (0..100); NAN when undefined */
  int64_t rank;      /* by score, 1 = best, ties share; 0 when the score is missing */
} db_supply_row;

/* Aggregates cells by `by` into rows sorted by key (*out, free with db_supply_rows_free), ranks filled.
 * pending counts the cells not owed yet. */
void db_supply_aggregate(const db_catalog *cat, const db_obligation *ob, const db_supply_cell *cells,
                         size_t n, db_supply_by by, db_supply_row **out, size_t *n_out);
void db_supply_rows_free(db_supply_row *rows, size_t n);

/* Marks cells named by an open violation of importance error or critical (cell->invalid). 0 or error. */
int db_supply_mark_invalid(db_store *s, const db_catalog *cat, db_supply_cell *cells, size_t n);

/* ---- validation rules ---- */
typedef enum db_importance {
  DB_IMP_INFO = 1,
  DB_IMP_WARNING,
  DB_IMP_ERROR,
  DB_IMP_CRITICAL,
} db_importance;
const char *db_importance_name(db_importance i);
int db_importance_parse(const char *s, db_importance *out);

typedef struct db_rule {
  int64_t id;
  char *code, *name, *formula;
  double tolerance;
  db_importance importance;
  int enabled;
} db_rule;
void db_rules_free(db_rule *r, size_t n);

/* As db_obligations_read, for rules: every formula compiles against cat to a boolean. */
int db_rules_read(const char *text, size_t len, const char *format, const db_catalog *cat, db_rule **out,
                  size_t *n, db_diag *d);
int db_rules_save(db_store *s, db_rule *r, size_t n);
int db_rules_load(db_store *s, const db_catalog *cat, db_rule **out, size_t *n);
char *db_rule_json(const db_rule *r);

/* What one check did. */
typedef struct db_check_stats {
  int64_t rules, cells, opened, updated, resolved;
} db_check_stats;

/* Judges the enabled rules that read an indicator of changes[0..n) (rows of a committed change set:
 * indicator and orgunit store ids, period keys) at the changed units and periods, on cube version v
 * through the engine e (whose catalog is cat), and writes what changed in one transaction on s: a
 * violation opened (or updated) where a rule fails, with the offending observations (indicator, unit,
 * period, value, status, revision, seq, dims) and the two sides; a violation resolved where the rule
 * holds again; an event "quality.violation" / "quality.resolved" each. changes NULL judges every cell
 * where an input of a rule has a stored value (a full check; rule_code limits it to one rule). now_ms
 * and seq (0 when none) are recorded. 0 or an error (a store error, nothing written). */
int db_rules_check(db_store *s, const db_catalog *cat, db_derive *e, const db_cube_version *v,
                   const db_obs_row *changes, size_t n, const char *rule_code, int64_t seq, int64_t now_ms,
                   db_check_stats *stats, db_diag *d);

/* ---- outliers ---- */

/* The season length of a periodicity: 12 months, 4 quarters, 2 halves, 52 weeks, 7 days, 24 hours, 1
 * otherwise (no seasonality). */
int db_outlier_season(db_period_type t);

/* Robust z-scores of x[0..n) (NAN = missing) against a seasonal model: a trend (the running median over
 * one season, centred), a seasonal profile (the median detrended value at each position of the season)
 * and the residuals left; z[i] = 0.6745 * (r[i] - median(r)) / MAD(r), the median and MAD taken without the
 * residuals that are 0 by construction (the value that is its position's median, when the position has an
 * odd number of values), with the mean absolute deviation (times 1.2533) standing in for a MAD of 0, and 0
 * where both are 0. z[i] is NAN where x[i] is missing, or where its position of the season has fewer than three values.
 * Returns how many |z| exceed threshold (3.5 is customary). Needs at least 6 values present, and three
 * seasons of values when season > 1 (before that a seasonal swing cannot be told from an outlier); fewer
 * give all-NAN z and 0. */
size_t db_outlier_scores(const double *x, size_t n, int season, double threshold, double *z);

/* ---- approval ---- */
typedef struct db_approval_result {
  int64_t id, seq;  /* the approval record and the batch that made the values official */
  int64_t cells;    /* observations approved */
  int64_t changed;  /* of them, made official by this approval (the others were already) */
} db_approval_result;

/* Approves the observations of the indicators of `group` (those of the period's type) at unit in period:
 * in one transaction, writes them again with status official (a revision for each that was not), records
 * the approval (kind "approval", key "GROUP|UNIT|PERIOD", body with the locked cells, who and when), an
 * audit record "quality.approve" by actor and an event "quality.approved". From then on the ingest path
 * refuses a change of those cells unless the batch gives a reason (ingest.h). Returns 0; DB_EINVAL (bad
 * group, unit or period) or DB_ENOTFOUND (no data to approve) with the reason in d; or a store error. */
int db_quality_approve(db_store *s, const db_catalog *cat, const char *group, const char *unit,
                       const char *period, const char *actor, const char *note, int64_t now_ms,
                       db_approval_result *out, db_diag *d);

/* ---- scorecards stored as indicators ---- */
/* Makes sure the catalog holds the dimension AGENCY with an item per agency of cat and the indicators
 * DQ_SCORE, DQ_COMPLETENESS, DQ_TIMELINESS and DQ_VALIDITY (monthly, percent, averaged over units and
 * time, broken down by AGENCY), writing what is missing in the open transaction. *changed = 1 when it
 * wrote anything (the caller reloads its catalog). 0 or the store's error. */
int db_scorecards_ensure_catalog(db_store *s, const db_catalog *cat, int *changed);
/* Writes the scores of the cells (their owed cells, each counted in the month its period ends) through
 * the ingest path as one batch by actor "system": per agency at the agency's unit with AGENCY=code, per
 * unit (the ward) without dimension. Values equal to the stored ones write nothing. The change set is in
 * *res (db_ingest_result_free). 0, or DB_EINVAL / a store error with d. */
int db_scorecards_store(db_store *s, const db_catalog *cat, const db_obligation *ob, const db_supply_cell *cells,
                        size_t n, db_diag *d, db_ingest_result *res);

/* ---- unit attribute checks ---- */
typedef struct db_unit_finding {
  char *code, *name, *province;
  char *attribute; /* "area_km2", "population" */
  double value;    /* NAN for a missing value */
  double z_area, z_density; /* robust z-scores among peers (NAN when not computed) */
  char *message;
} db_unit_finding;

typedef struct db_unit_attrs {
  char *code, *name, *province;
  double area_km2, population; /* NAN when missing */
  long line;
} db_unit_attrs;

/* Reads a unit attribute file (CSV with columns commune_code or code, commune_name or name,
 * province_code, area_km2, population; other columns are ignored) into *out. Malformed numbers are
 * problems in d (line, column); rows are kept with the value missing. 0 or DB_EINVAL (no usable header). */
int db_unit_attrs_read(const char *text, size_t len, db_unit_attrs **out, size_t *n, db_diag *d);
void db_unit_attrs_free(db_unit_attrs *a, size_t n);

/* General checks of unit attributes: a required attribute (area, population) missing or not positive;
 * and, among the peers of a unit (same province and same kind, read from the name: Phường, Xã, Đặc
 * khu...; at least 8 with both values), an area whose log is a robust outlier upwards (or downwards) at
 * the same time as the log density is one the other way (|z| > 3.5 for both) while the area divided
 * (multiplied) by 1000 would be typical (|z| <= 3.5): the signature of an area in the wrong unit (a
 * misplaced decimal point), given with the corrected value as a hint. A unit merely unlike its peers (a
 * national park commune among dense delta communes) is not flagged. Findings in file order into *out. */
void db_unit_attrs_check(const db_unit_attrs *a, size_t n, db_unit_finding **out, size_t *n_out);
void db_unit_findings_free(db_unit_finding *f, size_t n);

#endif
