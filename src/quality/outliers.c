/* outliers.c - robust z-scores of a series against a seasonal model (contract in quality.h): a running
 * median over one season as the trend, the median detrended value at each position of the season as the
 * seasonal profile, and the residuals scored by their median absolute deviation. A recurring seasonal
 * peak is part of the profile and scores low; a single wrong value moves neither the running median nor
 * the profile (medians) and stands out in the residuals. Nothing is changed or removed: scores only.
 *
 * The scale comes from the residuals that are free to vary. At a position with an odd number of values the
 * middle one IS the profile and its residual is 0 by construction: counted in, a short series scores its
 * own noise away (of three Januaries one residual in three is 0, the MAD collapses and ordinary noise
 * scores as outliers: 4% of a 30-month panel did). Those residuals are left out of the centre and the
 * MAD (their values are still scored). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "quality/quality_int.h"

#define MIN_VALUES 6

int db_outlier_season(db_period_type t) {
  switch (t) {
    case DB_PT_MONTH: return 12;
    case DB_PT_QUARTER: return 4;
    case DB_PT_HALF: return 2;
    case DB_PT_WEEK: return 52;
    case DB_PT_DAY: return 7;
    case DB_PT_HOUR: return 24;
    default: return 1;
  }
}

/* The values being sorted by compare_at (qsort has no context argument; one sort at a time per thread). */
static _Thread_local const double *sort_values;

static int compare_at(const void *a, const void *b) {
  double x = sort_values[*(const size_t *)a], y = sort_values[*(const size_t *)b];
  return (x > y) - (x < y);
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of the values of v[0..n) that are not NAN (reordered in place); NAN when none. */
static double median(double *v, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!isnan(v[i])) v[k++] = v[i];
  if (!k) return NAN;
  qsort(v, k, sizeof *v, compare_doubles);
  return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* trend[i] = median of x over the window of `season` values centred on i (one more when season is even,
 * so the window stays centred), cut at the ends. */
static void running_median(const double *x, size_t n, int season, double *trend, double *scratch) {
  size_t half = (size_t)season / 2;
  for (size_t i = 0; i < n; i++) {
    size_t lo = i >= half ? i - half : 0, hi = i + half < n ? i + half : n - 1;
    memcpy(scratch, x + lo, (hi - lo + 1) * sizeof *x);
    trend[i] = median(scratch, hi - lo + 1);
  }
}

/* Takes the seasonal profile (the median at each position of the season) out of the detrended values
 * r[0..n), and copies into spread the residuals the scale is estimated from: all but the one that defines
 * its position's median (see above). A position with fewer than three values present cannot say what is
 * usual there: its values become NAN (not scored). idx and sorted hold n values. */
static void remove_profile(double *r, double *spread, size_t n, int season, size_t *idx, double *sorted) {
  for (size_t pos = 0; pos < (size_t)season; pos++) {
    size_t k = 0;
    for (size_t i = pos; i < n; i += (size_t)season) {
      spread[i] = NAN;
      if (!isnan(r[i])) idx[k++] = i;
    }
    if (k < 3) {
      for (size_t j = 0; j < k; j++) r[idx[j]] = NAN;
      continue;
    }
    sort_values = r;
    qsort(idx, k, sizeof *idx, compare_at);
    for (size_t j = 0; j < k; j++) sorted[j] = r[idx[j]];
    double profile = k % 2 ? sorted[k / 2] : (sorted[k / 2 - 1] + sorted[k / 2]) / 2;
    for (size_t j = 0; j < k; j++) {
      r[idx[j]] = sorted[j] - profile;
      if (k % 2 == 0 || j != k / 2) spread[idx[j]] = r[idx[j]];
    }
  }
}

size_t db_outlier_scores(const double *x, size_t n, int season, double threshold, double *z) {
  size_t present = 0;
  for (size_t i = 0; i < n; i++) {
    z[i] = NAN;
    present += !isnan(x[i]);
  }
  if (present < MIN_VALUES) return 0;
  if (season < 1) season = 1;
  /* fewer than three seasons of values: a seasonal swing cannot be told from an outlier, so nothing is said */
  if (season > 1 && (size_t)season * 3 > present) return 0;
  double *trend = db_malloc(n * sizeof *trend), *r = db_malloc(n * sizeof *r);
  double *scratch = db_malloc((n + (size_t)season + 1) * sizeof *scratch);
  if (season > 1) running_median(x, n, season, trend, scratch);
  else running_median(x, n, 3, trend, scratch);
  for (size_t i = 0; i < n; i++) r[i] = isnan(x[i]) || isnan(trend[i]) ? NAN : x[i] - trend[i];
  double *spread = db_malloc(n * sizeof *spread);
  if (season > 1) {
    size_t *idx = db_malloc(n * sizeof *idx);
    remove_profile(r, spread, n, season, idx, scratch);
    db_free(idx);
  } else {
    memcpy(spread, r, n * sizeof *r);
  }
  memcpy(scratch, spread, n * sizeof *r);
  double center = median(scratch, n);
  for (size_t i = 0; i < n; i++) scratch[i] = isnan(spread[i]) ? NAN : fabs(spread[i] - center);
  double mad = median(scratch, n), scale = mad / 0.6745;
  if (mad == 0) {
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (!isnan(spread[i])) {
        sum += fabs(spread[i] - center);
        k++;
      }
    scale = k ? 1.2533 * sum / (double)k : 0;
  }
  size_t flagged = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(r[i])) continue;
    z[i] = scale > 0 ? (r[i] - center) / scale : 0;
    flagged += fabs(z[i]) > threshold;
  }
  db_free(trend);
  db_free(r);
  db_free(spread);
  db_free(scratch);
  return flagged;
}
