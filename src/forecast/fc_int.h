/* fc_int.h - what the files of the forecast module share and nothing else sees: the optimiser, the
 * seasonal toolkit (test, classical decomposition, gap filling), forecast allocation and the normal
 * quantiles. All functions are pure and thread-safe. */
#ifndef DB_FC_INT_H
#define DB_FC_INT_H
#include <stddef.h>

#include "forecast/forecast.h"

#define DB_FC__Z80 1.2815515655446004 /* qnorm(0.90) */
#define DB_FC__Z95 1.959963984540054  /* qnorm(0.975) */
#define DB_FC__Z99 2.5758293035489004 /* qnorm(0.995) */
#define DB_FC__NM_MAX_DIM 8
#define DB_FC__BAD 1e100 /* the objective's value where parameters do not fit the data */

/* Writes a reason into why (when not NULL) and returns DB_EINVAL. */
int db_fc__fail(char why[128], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Minimises f over R^dim (dim <= DB_FC__NM_MAX_DIM) by Nelder-Mead from x with initial simplex steps
 * step[], restarting from the best point with a fresh simplex until a restart gains less than ftol
 * (relative) or max_evals evaluations are spent. Returns the minimum; x receives its argument. */
double db_fc__minimize(double (*f)(const double *x, void *ctx), void *ctx, int dim, double *x,
                       const double *step, double ftol, int max_evals);

#define DB_FC__ETS_CANDIDATES 15 /* models automatic ETS considers */

/* Fits every model automatic ETS considers (see forecast.h) to y[0..n) into out[] (room for
 * DB_FC__ETS_CANDIDATES); returns how many could be fitted. */
int db_fc__ets_candidates(const double *y, size_t n, int m, db_ets_model *out);

/* Allocates out's seven arrays for h steps (zeroed) and names the model. */
void db_fc__alloc(db_fc_forecast *out, int h, const char *model);

/* Sets mean[i] +/- z * sd[i] bounds of the forecast from the standard deviations sd[0..h). */
void db_fc__normal_bounds(db_fc_forecast *f, const double *sd);

/* Copies y[0..n) into out with inner missing values interpolated linearly and trailing ones carried
 * forward; y[0] must be observed. */
void db_fc__fill(const double *y, size_t n, double *out);

/* 1 when the lag-m autocorrelation of y[0..n) (no missing values) is significant at 90% (thetaf's
 * test: |r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)); 0 when m < 2, n <= 2m or y is constant. */
int db_fc__seasonal(const double *y, size_t n, int m);

/* Classical decomposition of y[0..n) (no missing values, n >= 2m): the centred moving average as trend,
 * the mean ratio (multiplicative) or difference (additive) per season position, normalised to mean 1
 * or 0. index[j] is the seasonal index of times t with t % m == j. Multiplicative needs y > 0. */
void db_fc__decompose(const double *y, size_t n, int m, int multiplicative, double *index);

/* 1 when every observed value of y[0..n) is > 0. */
int db_fc__positive(const double *y, size_t n);

/* Least-squares line through (t, y[t]) for t = 0..n-1 (no missing values): intercept and slope. */
void db_fc__line(const double *y, size_t n, double *intercept, double *slope);

#endif
