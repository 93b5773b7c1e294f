/* outliers.c - robust z-scores of a series against a seasonal model (contract in quality.h): a running
 * median over one season as the trend, the median detrended value at each position of the season as the
 * seasonal profile, and the residuals scored by their median absolute deviation. A recurring seasonal
 * peak is part of the profile and scores low; a single wrong value moves neither the running median nor
 * the profile (medians) and stands out in the residuals. Nothing is changed or removed: scores only. */
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

size_t db_outlier_scores(const double *x, size_t n, int season, double threshold, double *z) {
  size_t present = 0;
  for (size_t i = 0; i < n; i++) {
    z[i] = NAN;
    present += !isnan(x[i]);
  }
  if (present < MIN_VALUES) return 0;
  if (season < 1) season = 1;
  /* fewer than two seasons of values: a seasonal swing cannot be told from an outlier, so nothing is said */
  if (season > 1 && (size_t)season * 2 > present) return 0;
  double *trend = db_malloc(n * sizeof *trend), *r = db_malloc(n * sizeof *r);
  double *scratch = db_malloc((n + (size_t)season + 1) * sizeof *scratch);
  if (season > 1) running_median(x, n, season, trend, scratch);
  else running_median(x, n, 3, trend, scratch);
  for (size_t i = 0; i < n; i++) r[i] = isnan(x[i]) || isnan(trend[i]) ? NAN : x[i] - trend[i];
  if (season > 1) {
    for (int pos = 0; pos < season; pos++) {
      size_t k = 0;
      for (size_t i = (size_t)pos; i < n; i += (size_t)season) scratch[k++] = r[i];
      double profile = median(scratch, k);
      for (size_t i = (size_t)pos; i < n; i += (size_t)season)
        if (!isnan(r[i])) r[i] -= isnan(profile) ? 0 : profile;
    }
  }
  memcpy(scratch, r, n * sizeof *r);
  double center = median(scratch, n);
  for (size_t i = 0; i < n; i++) scratch[i] = isnan(r[i]) ? NAN : fabs(r[i] - center);
  double mad = median(scratch, n), scale = mad / 0.6745;
  if (mad == 0) {
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (!isnan(r[i])) {
        sum += fabs(r[i] - center);
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
  db_free(scratch);
  return flagged;
}
