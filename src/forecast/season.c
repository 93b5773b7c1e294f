/* season.c - the seasonal toolkit and small helpers shared by the models: the seasonality test and the
 * classical decomposition of R's thetaf and decompose(), gap filling, the regression line, and the
 * allocation and normal bounds of a forecast (see fc_int.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "forecast/fc_int.h"

int db_fc__fail(char why[128], const char *fmt, ...) {
  if (why) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, 128, fmt, ap);
    va_end(ap);
  }
  return DB_EINVAL;
}

void db_fc__alloc(db_fc_forecast *out, int h, const char *model) {
  double *block = db_calloc((size_t)h * 7, sizeof *block);
  out->h = h;
  out->mean = block;
  out->lo80 = block + h;
  out->hi80 = block + 2 * h;
  out->lo95 = block + 3 * h;
  out->hi95 = block + 4 * h;
  out->lo99 = block + 5 * h;
  out->hi99 = block + 6 * h;
  snprintf(out->model, sizeof out->model, "%s", model);
}

void db_fc_forecast_free(db_fc_forecast *f) {
  if (!f) return;
  db_free(f->mean);
  memset(f, 0, sizeof *f);
}

void db_fc__normal_bounds(db_fc_forecast *f, const double *sd) {
  for (int i = 0; i < f->h; i++) {
    f->lo80[i] = f->mean[i] - DB_FC__Z80 * sd[i];
    f->hi80[i] = f->mean[i] + DB_FC__Z80 * sd[i];
    f->lo95[i] = f->mean[i] - DB_FC__Z95 * sd[i];
    f->hi95[i] = f->mean[i] + DB_FC__Z95 * sd[i];
    f->lo99[i] = f->mean[i] - DB_FC__Z99 * sd[i];
    f->hi99[i] = f->mean[i] + DB_FC__Z99 * sd[i];
  }
}

void db_fc__fill(const double *y, size_t n, double *out) {
  size_t last = 0; /* index of the last observed value */
  for (size_t t = 0; t < n; t++) {
    if (isnan(y[t])) continue;
    out[t] = y[t];
    for (size_t g = last + 1; g < t; g++) /* the gap (last, t) */
      out[g] = y[last] + (y[t] - y[last]) * (double)(g - last) / (double)(t - last);
    last = t;
  }
  for (size_t t = last + 1; t < n; t++) out[t] = y[last];
}

int db_fc__positive(const double *y, size_t n) {
  for (size_t t = 0; t < n; t++)
    if (!isnan(y[t]) && !(y[t] > 0)) return 0;
  return 1;
}

void db_fc__line(const double *y, size_t n, double *intercept, double *slope) {
  double tm = (double)(n - 1) / 2, ym = 0;
  for (size_t t = 0; t < n; t++) ym += y[t];
  ym /= (double)n;
  double sxy = 0, sxx = 0;
  for (size_t t = 0; t < n; t++) {
    sxy += ((double)t - tm) * (y[t] - ym);
    sxx += ((double)t - tm) * ((double)t - tm);
  }
  *slope = sxx > 0 ? sxy / sxx : 0;
  *intercept = ym - *slope * tm;
}

int db_fc__seasonal(const double *y, size_t n, int m) {
  if (m < 2 || n <= (size_t)2 * (size_t)m) return 0;
  double mean = 0;
  for (size_t t = 0; t < n; t++) mean += y[t];
  mean /= (double)n;
  double denom = 0;
  for (size_t t = 0; t < n; t++) denom += (y[t] - mean) * (y[t] - mean);
  if (!(denom > 1e-12 * (mean * mean + 1) * (double)n)) return 0; /* constant */
  double sum_r2 = 0, r_m = 0;
  for (int k = 1; k <= m; k++) {
    double num = 0;
    for (size_t t = (size_t)k; t < n; t++) num += (y[t] - mean) * (y[t - (size_t)k] - mean);
    double r = num / denom;
    if (k < m)
      sum_r2 += r * r;
    else
      r_m = r;
  }
  return fabs(r_m) > 1.6448536269514722 * sqrt((1 + 2 * sum_r2) / (double)n);
}

void db_fc__decompose(const double *y, size_t n, int m, int multiplicative, double *index) {
  double *sum = db_calloc((size_t)m, sizeof *sum);
  int *count = db_calloc((size_t)m, sizeof *count);
  size_t half = (size_t)m / 2;
  /* centred moving average: m terms for odd m, 2 x m (half weights at both ends) for even m */
  for (size_t t = half; t + half < n; t++) {
    double trend = 0;
    if (m % 2) {
      for (size_t i = t - half; i <= t + half; i++) trend += y[i];
    } else {
      trend = 0.5 * (y[t - half] + y[t + half]);
      for (size_t i = t - half + 1; i < t + half; i++) trend += y[i];
    }
    trend /= m;
    size_t j = t % (size_t)m;
    sum[j] += multiplicative ? y[t] / trend : y[t] - trend;
    count[j]++;
  }
  double total = 0;
  for (int j = 0; j < m; j++) {
    index[j] = count[j] ? sum[j] / count[j] : (multiplicative ? 1 : 0);
    total += index[j];
  }
  double mean = total / m;
  for (int j = 0; j < m; j++) {
    if (multiplicative)
      index[j] = mean > 0 ? index[j] / mean : 1;
    else
      index[j] -= mean;
  }
  db_free(sum);
  db_free(count);
}
