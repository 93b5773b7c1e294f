/* outlook.h - forecasts of the store's series and the early warnings drawn from them.
 *
 * A forecast of a series (one indicator x org unit x dimension key) is made from its current values in
 * the cube: the run of periods from the first observed one to the last (the origin), at most
 * db_outlook_window() periods back. The seasonal period m comes from the periodicity (db_outlook_m) and
 * the horizon h from db_outlook_horizon, which always reaches the end of the origin's year. A series needs
 * DB_OUTLOOK_MIN_OBS observed values.
 *
 * Selection by back-test. Each candidate method (naive; seasonal naive when m > 1; SES; Theta; damped
 * trend; the combination, forecast.h) is scored by a rolling-origin back-test on the series itself:
 * fitted on the values before each of DB_OUTLOOK_ORIGINS consecutive origins and scored on the next
 * hb = min(h, max(1, n / 4)) values (n observed values), giving its mean sMAPE and MASE over origins and
 * its pooled 80% and 95% interval coverage. The method of lowest mean MASE is kept (sMAPE decides when a
 * MASE is undefined, the combination wins ties and is kept when no back-test can be scored); it is then
 * fitted on the whole series and forecasts h periods with 80%, 95% and 99% intervals.
 *
 * Probability of missing a target (db_outlook_p_miss). The plan is for a year; the year's value is the
 * indicator's temporal aggregate of its periods: sum (flows), avg (rates), last (stocks). With the year's
 * periods up to the origin observed (o_1..o_k) and the rest forecast (F_1..F_H, H steps from the origin):
 *   sum:  T = sum(o) + sum(F)          avg: T = (sum(o) + sum(F)) / (k + H)          last: T = F_H
 * (T is observed, and the probability 0 or 1, when the year ended by the origin). T is taken as normal
 * with mean from the point forecasts and the variance of the sum of the h-step errors, which are
 * correlated (they share the innovations after the origin). The forecast's h-step standard deviations
 * sd_h (from its 95% bounds: (hi95 - lo95) / 2 z_0.975) are read as those of a linear innovations model,
 * e_h = sum_{j<h} psi_j eps_(t+h-j) with var(eps) = sd_1^2: psi_0 = 1 and psi_j^2 = (sd_(j+1)^2 -
 * sd_j^2) / sd_1^2 (0 when negative), which is exact for the ETS(A,*,*), naive, seasonal naive and Theta
 * models. Then var(sum_{h<=H} e_h) = sd_1^2 sum_{i=1..H} (sum_{j=0..H-i} psi_j)^2 (each innovation
 * enters every later step). Missing target: higher-is-better, P(T < plan); lower-is-better, P(T > plan);
 * neutral, P(|T - plan| > (1 - band_at_risk / 100) |plan|), the at-risk band of analytics' status.
 * Missing (NAN) when the rule is min, max or none, a period of the year before the origin is missing, the
 * forecast does not reach the year's end, or the year is before the origin's.
 *
 * Anomalies (db_outlook_anomaly): an observation for a period the forecast covers that falls outside its
 * 99% interval.
 *
 * Batch runs (db_outlook_run) fit a list of series on a cube version with a pool of threads and hand each
 * result to the caller, one at a time; the caller stores it (db_outlook_store_put writes the record of
 * kind DB_OUTLOOK_KIND, key "INDICATOR/ORGUNIT" or "INDICATOR/ORGUNIT/DIMKEY", body db_outlook_to_json).
 *
 * Ownership: a db_outlook_fc owns its arrays (db_outlook_fc_free). Thread-safety: every function is pure
 * but for db_outlook_run (which runs its callbacks under its own lock) and the store functions (which use
 * the caller's handle in the caller's transaction). */
#ifndef DB_OUTLOOK_H
#define DB_OUTLOOK_H
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "cube/cube.h"
#include "forecast/forecast.h"
#include "model/catalog.h"
#include "model/period.h"
#include "store/store.h"

#define DB_OUTLOOK_KIND "forecast"
#define DB_OUTLOOK_ANOMALY_EVENT "forecast.anomaly"
#define DB_OUTLOOK_MIN_OBS 8
#define DB_OUTLOOK_ORIGINS 3
#define DB_OUTLOOK_CANDIDATES 6
#define DB_OUTLOOK_MAX_H 1000       /* longest horizon asked for */
#define DB_OUTLOOK_MAX_ANOMALIES 50 /* the latest kept in a record */

/* The back-test of one candidate method. */
typedef struct db_outlook_score {
  db_fc_method method;
  int scored;         /* 0 when the back-test could not score it (acc then zero) */
  db_fc_accuracy acc; /* mase NAN when undefined */
} db_outlook_score;

/* A fitted forecast of one series. */
typedef struct db_outlook_fc {
  db_period origin; /* the last observed period; forecasts are for origin + 1 .. origin + h */
  int m;
  db_fc_method method;        /* the method kept */
  db_fc_forecast fc;          /* its forecast (fc.h steps, fc.model says what made it) */
  size_t n_obs;               /* observed values fitted on */
  int backtest_h, origins;    /* the back-test's horizon and origins */
  db_outlook_score scores[DB_OUTLOOK_CANDIDATES];
  int n_scores;
  double *year_obs; /* the values of the origin's year up to the origin (NAN where missing) */
  size_t n_year_obs; /* 0 for periodicities finer than a day */
  int64_t fitted_ms;
} db_outlook_fc;

void db_outlook_fc_free(db_outlook_fc *f); /* NULL or zeroed is a no-op */

/* The seasonal period of a periodicity (year 1, half 2, quarter 4, month 12, week 52, day 7, hour 24,
 * 15 minutes 96, 5 minutes 288; multi-year 1), the default horizon (year 3, half 4, quarter 8, month 12,
 * week 26, day 14, hour 48, 15 minutes 96, 5 minutes 288, multi-year 2) and the longest history fitted
 * (max(120, 10 m) periods). */
int db_outlook_m(db_period_type t);
int db_outlook_horizon(db_period_type t);
size_t db_outlook_window(db_period_type t);

/* Fits y[0..n), the values of the consecutive periods from `first` (NAN = missing), as above, with
 * horizon h (0 = db_outlook_horizon; raised to reach the end of the origin's year) into *out (free with
 * db_outlook_fc_free). Returns 0, or DB_EINVAL with the reason in why (fewer than DB_OUTLOOK_MIN_OBS
 * observed values, h out of 0..DB_OUTLOOK_MAX_H, a multi-year first period is fine). */
int db_outlook_fit(const double *y, size_t n, const db_period *first, int h, int64_t now_ms, db_outlook_fc *out,
                   char why[128]);

/* The step (1-based) of period p in the forecast, or 0 when p is not one of its periods. */
int db_outlook_step(const db_outlook_fc *f, const db_period *p);

/* 1 when `value` for period p falls outside the forecast's 99% interval for p (whose bounds go to *lo and
 * *hi), 0 when inside or when the forecast does not cover p. */
int db_outlook_anomaly(const db_outlook_fc *f, const db_period *p, double value, double *lo, double *hi);

/* The year's outlook against a plan (see above). */
typedef struct db_outlook_target {
  double expected; /* the mean of the year's value T */
  double sd;       /* its standard deviation (0 when known) */
  double p_miss;   /* probability of missing the plan, 0..1 */
} db_outlook_target;

/* Fills *out for `year` (NAN fields when it cannot be said, as above) and returns 1, or 0 when NAN. */
int db_outlook_p_miss(const db_outlook_fc *f, int64_t year, double plan, db_agg rule, db_polarity polarity,
                      double band_at_risk, db_outlook_target *out);

/* ---- records ---- */

/* The series a record is about and the catalog facts p_miss needs, kept with the forecast. */
typedef struct db_outlook_meta {
  const char *indicator, *orgunit, *dimkey; /* codes; dimkey "" for none */
  db_agg agg_time;
  db_polarity polarity;
  double band_at_risk;
} db_outlook_meta;

/* The record key of a series: "IND/OU" or "IND/OU/DIMKEY" into out (NUL-terminated, cut to size). */
void db_outlook_key(const char *indicator, const char *orgunit, const char *dimkey, char *out, size_t size);

/* The record body: {indicator, orgunit, dims, periodicity, agg_time, polarity, band_at_risk, method, model,
 * origin, h, observations, fitted_at, backtest {horizon, origins}, accuracy [{method, smape, mase,
 * coverage80, coverage95, points}], values [{period, mean, lo80, hi80, lo95, hi95, lo99, hi99}],
 * year_to_date {year, values}, anomalies []}. A new reference. */
json_t *db_outlook_to_json(const db_outlook_fc *f, const db_outlook_meta *meta);

/* Reads a body back into *out (free with db_outlook_fc_free) and the meta's rule, polarity and band
 * (its strings point into doc). 0, or DB_EINVAL with the reason in why. */
int db_outlook_from_json(const json_t *doc, db_outlook_fc *out, db_outlook_meta *meta, char why[128]);

/* Writes the record of key `key` with body `doc`, in the caller's open transaction: replaces the existing
 * record of that key, carrying over its latest anomalies, or creates it. 0 or a store error. */
int db_outlook_store_put(db_store *s, const char *key, json_t *doc);

/* Flags an anomaly, in the caller's open transaction: appends the event DB_OUTLOOK_ANOMALY_EVENT
 * {indicator, orgunit, dims, period, value, lo99, hi99, seq, at} and adds it (with its event id) to the
 * anomalies of the series' forecast record (the latest DB_OUTLOOK_MAX_ANOMALIES are kept). 0 or a store
 * error. */
int db_outlook_flag(db_store *s, const db_outlook_meta *meta, const db_period *p, double value, double lo,
                    double hi, int64_t seq, int64_t now_ms);

/* ---- batch runs ---- */

/* One series to fit: catalog indices of its indicator and unit, and its dimension key. */
typedef struct db_outlook_item {
  size_t indicator, unit;
  char *dimkey; /* owned by the list */
} db_outlook_item;

typedef struct db_outlook_list {
  db_outlook_item *items;
  size_t count, cap;
} db_outlook_list;

void db_outlook_list_free(db_outlook_list *l);
/* Adds a series (the dimkey is copied). */
void db_outlook_list_add(db_outlook_list *l, size_t indicator, size_t unit, const char *dimkey);

/* The series of the store worth forecasting into l (appended, in series id order): those of indicators
 * without a formula and of a periodicity finer than a multi-year plan, at units still valid (no end of
 * validity before today, now_ms), restricted to the indicator codes of `indicators` and the unit codes
 * of `units` when not NULL (comma-separated). cat must be the store's linked catalog. 0, DB_ENOTFOUND with
 * the unknown codes in d, or a store error. */
int db_outlook_list_series(db_store *s, const db_catalog *cat, const char *indicators, const char *units,
                           int64_t now_ms, db_outlook_list *l, db_diag *d);

/* What a run reports for each series (under the run's lock, one at a time, in no particular order):
 * fc NULL when the series could not be forecast (why says why: too short...). */
typedef void (*db_outlook_result_fn)(void *ctx, const db_outlook_item *item, const db_outlook_fc *fc,
                                     const db_outlook_meta *meta, const char *why);
/* Progress: series done out of total (under the run's lock). */
typedef void (*db_outlook_progress_fn)(void *ctx, size_t done, size_t total);

typedef struct db_outlook_job {
  const db_cube_version *v;
  const db_catalog *cat; /* the version's catalog, linked */
  const db_outlook_list *list;
  int threads; /* 0 = the number of cores */
  int h;       /* 0 = each periodicity's default */
  int64_t now_ms;
  db_outlook_result_fn result;
  db_outlook_progress_fn progress; /* may be NULL */
  void *ctx;
  atomic_int *stop; /* may be NULL; when set nonzero, the run ends after the series in progress */
} db_outlook_job;

/* Fits every series of the job's list on its threads and returns when all are done (or stopped):
 * 0, or DB_EINVAL for a list naming indices outside the catalog. */
int db_outlook_run(const db_outlook_job *job);

/* Reads one series from version v: the values from the first period with data of its indicator and
 * dimension key to the last, into a new array *y (db_free) of *n values starting at *first. A unit's
 * history goes back past its creation through its predecessors (db_cube_rebase: a ward created in a merger
 * has the history of the wards it was made of); a unit without values of its own, but with children, reads
 * their roll-up (db_cube_rollup). Cells where not every expected source has a value are missing. 0, or
 * DB_ENOTFOUND when no value is present. */
int db_outlook_series_values(const db_cube_version *v, const db_catalog *cat, size_t indicator, size_t unit,
                             const char *dimkey, double **y, size_t *n, db_period *first);

#endif
