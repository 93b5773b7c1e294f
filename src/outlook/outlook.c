/* outlook.c - one series' forecast (contract in outlook.h): the back-tests that choose its method, the
 * final fit, the anomaly test and the probability of missing a yearly plan. */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "outlook/outlook.h"

#define Z95 1.959963984540054 /* qnorm(0.975) */

static int fail(char why[128], const char *msg, long a) {
  if (why) snprintf(why, 128, msg, a);
  return DB_EINVAL;
}

void db_outlook_fc_free(db_outlook_fc *f) {
  if (!f) return;
  db_fc_forecast_free(&f->fc);
  db_free(f->year_obs);
  memset(f, 0, sizeof *f);
}

/* By period type: the seasonal period and the default horizon (outlook.h). */
static const int seasons[DB_PERIOD_TYPE_COUNT + 1] = {
    [DB_PT_MIN5] = 288, [DB_PT_MIN15] = 96, [DB_PT_HOUR] = 24, [DB_PT_DAY] = 7,    [DB_PT_WEEK] = 52,
    [DB_PT_MONTH] = 12, [DB_PT_QUARTER] = 4, [DB_PT_HALF] = 2,  [DB_PT_YEAR] = 1, [DB_PT_MULTIYEAR] = 1};
static const int horizons[DB_PERIOD_TYPE_COUNT + 1] = {
    [DB_PT_MIN5] = 288, [DB_PT_MIN15] = 96, [DB_PT_HOUR] = 48, [DB_PT_DAY] = 14,   [DB_PT_WEEK] = 26,
    [DB_PT_MONTH] = 12, [DB_PT_QUARTER] = 8, [DB_PT_HALF] = 4,  [DB_PT_YEAR] = 3, [DB_PT_MULTIYEAR] = 2};

int db_outlook_m(db_period_type t) { return (unsigned)t <= DB_PERIOD_TYPE_COUNT && seasons[t] ? seasons[t] : 1; }

int db_outlook_horizon(db_period_type t) {
  return (unsigned)t <= DB_PERIOD_TYPE_COUNT && horizons[t] ? horizons[t] : 1;
}

size_t db_outlook_window(db_period_type t) {
  size_t ten = 10 * (size_t)db_outlook_m(t);
  return ten > 120 ? ten : 120;
}

/* The year containing p into *year and the ordinal of its first period of p's type into *start: 1, or 0
 * when p does not nest in a year (multi-year plans). */
static int year_start(const db_period *p, int64_t *year, db_period *start) {
  db_period y;
  if (p->type == DB_PT_MULTIYEAR || db_period_containing(p, DB_PT_YEAR, 0, &y) != DB_OK) return 0;
  if (db_period_subperiods(&y, p->type, start, 1) < 1) return 0;
  *year = y.ord;
  return 1;
}

/* The number of periods of p's type from p to the end of its year (0 when p ends it). */
static int64_t to_year_end(const db_period *p) {
  int64_t year;
  db_period start;
  if (!year_start(p, &year, &start)) return 0;
  db_period next_year = {DB_PT_YEAR, 0, year + 1}, next;
  if (db_period_subperiods(&next_year, p->type, &next, 1) < 1) return 0;
  return db_period_diff(p, &next) - 1;
}

/* Back-tests every candidate on y[0..n) into out->scores and returns the method to keep. */
static db_fc_method choose(const double *y, size_t n, int m, int h, db_outlook_fc *out) {
  static const db_fc_method candidates[DB_OUTLOOK_CANDIDATES] = {DB_FC_COMBO, DB_FC_NAIVE, DB_FC_SNAIVE,
                                                                 DB_FC_SES,   DB_FC_THETA, DB_FC_DAMPED};
  int hb = (int)(n / 4);
  if (hb < 1) hb = 1;
  if (hb > h) hb = h;
  out->backtest_h = hb;
  out->origins = DB_OUTLOOK_ORIGINS;
  out->n_scores = 0;
  int all_mase = 1, any = 0;
  for (int i = 0; i < DB_OUTLOOK_CANDIDATES; i++) {
    if (candidates[i] == DB_FC_SNAIVE && (m < 2 || n <= 2 * (size_t)m)) continue;
    db_outlook_score *s = &out->scores[out->n_scores++];
    s->method = candidates[i];
    s->scored = db_fc_backtest(y, n, m, candidates[i], hb, DB_OUTLOOK_ORIGINS, &s->acc, NULL) == DB_OK;
    if (s->scored) {
      any = 1;
      all_mase &= !isnan(s->acc.mase);
    }
  }
  if (!any) return DB_FC_COMBO;
  int best = -1;
  for (int i = 0; i < out->n_scores; i++) {
    const db_outlook_score *s = &out->scores[i];
    if (!s->scored) continue;
    double v = all_mase ? s->acc.mase : s->acc.smape;
    if (best < 0 || v < (all_mase ? out->scores[best].acc.mase : out->scores[best].acc.smape)) best = i;
  }
  return out->scores[best].method;
}

int db_outlook_fit(const double *y, size_t n, const db_period *first, int h, int64_t now_ms, db_outlook_fc *out,
                   char why[128]) {
  memset(out, 0, sizeof *out);
  if (h < 0 || h > DB_OUTLOOK_MAX_H) return fail(why, "horizon %ld out of range 0..1000", h);
  size_t lo = 0, hi = n;
  while (hi > 0 && isnan(y[hi - 1])) hi--;
  size_t window = db_outlook_window(first->type);
  if (hi > window) lo = hi - window;
  while (lo < hi && isnan(y[lo])) lo++;
  size_t observed = 0;
  for (size_t t = lo; t < hi; t++) observed += !isnan(y[t]);
  if (observed < DB_OUTLOOK_MIN_OBS)
    return fail(why, "%ld observed values: a forecast needs at least 8", (long)observed);
  out->origin = db_period_add(first, (int64_t)hi - 1);
  out->m = db_outlook_m(first->type);
  out->n_obs = observed;
  if (!h) h = db_outlook_horizon(first->type);
  int64_t rest = to_year_end(&out->origin);
  if (rest > h && rest <= DB_OUTLOOK_MAX_H) h = (int)rest;
  const double *x = y + lo;
  size_t len = hi - lo;
  out->method = choose(x, len, out->m, h, out);
  int rc = db_forecast(x, len, out->m, out->method, h, &out->fc, why);
  if (rc) {
    db_outlook_fc_free(out);
    return rc;
  }
  int64_t year;
  db_period start;
  if (first->type >= DB_PT_DAY && year_start(&out->origin, &year, &start)) {
    int64_t k = db_period_diff(&start, &out->origin) + 1;
    out->n_year_obs = (size_t)k;
    out->year_obs = db_malloc((size_t)k * sizeof *out->year_obs);
    for (int64_t i = 0; i < k; i++) {
      int64_t at = (int64_t)hi - k + i; /* index in y of the year's i-th period */
      out->year_obs[i] = at >= 0 ? y[at] : NAN;
    }
  }
  out->fitted_ms = now_ms;
  return DB_OK;
}

int db_outlook_step(const db_outlook_fc *f, const db_period *p) {
  if (p->type != f->origin.type || p->span != f->origin.span) return 0;
  int64_t k = db_period_diff(&f->origin, p);
  return k >= 1 && k <= f->fc.h ? (int)k : 0;
}

int db_outlook_anomaly(const db_outlook_fc *f, const db_period *p, double value, double *lo, double *hi) {
  int k = db_outlook_step(f, p);
  if (!k) return 0;
  *lo = f->fc.lo99[k - 1];
  *hi = f->fc.hi99[k - 1];
  return value < *lo || value > *hi;
}

static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* P(T < x) for T normal(mean, sd); a point mass when sd is 0. */
static double below(double x, double mean, double sd) {
  if (sd > 0) return phi((x - mean) / sd);
  return mean < x ? 1 : 0;
}

/* The variance of the sum of the forecast errors of steps a..H (1-based), from the h-step standard
 * deviations: innovation s (1..H) enters steps s..H with weights psi_0..psi_(H-s), so its coefficient in
 * the sum is cum[H-s] - cum[a-1-s] (the second term only for s < a), cum[j] = psi_0 + ... + psi_j. */
static double sum_variance(const db_fc_forecast *fc, int a, int H) {
  double *cum = db_malloc((size_t)H * sizeof *cum);
  double s1 = fmax(0, (fc->hi95[0] - fc->lo95[0]) / (2 * Z95)), prev = s1, var = 0;
  if (s1 > 0) {
    cum[0] = 1;
    for (int j = 1; j < H; j++) {
      double sd = fmax(0, (fc->hi95[j] - fc->lo95[j]) / (2 * Z95));
      cum[j] = cum[j - 1] + sqrt(fmax(0, sd * sd - prev * prev)) / s1;
      prev = sd;
    }
    for (int s = 1; s <= H; s++) {
      double c = cum[H - s] - (s < a ? cum[a - 1 - s] : 0);
      var += c * c;
    }
    var *= s1 * s1;
  }
  db_free(cum);
  return var;
}

int db_outlook_p_miss(const db_outlook_fc *f, int64_t year, double plan, db_agg rule, db_polarity polarity,
                      double band_at_risk, db_outlook_target *out) {
  *out = (db_outlook_target){NAN, NAN, NAN};
  int64_t origin_year;
  db_period start;
  if (!isfinite(plan) || !year_start(&f->origin, &origin_year, &start) || year < origin_year) return 0;
  if (rule != DB_AGG_SUM && rule != DB_AGG_AVG && rule != DB_AGG_LAST) return 0;
  db_period y = {DB_PT_YEAR, 0, year}, last;
  int64_t in_year = db_period_subperiods(&y, f->origin.type, NULL, 0);
  if (in_year < 1 || db_period_subperiods(&y, f->origin.type, &last, 1) < 1) return 0;
  last = db_period_add(&last, in_year - 1);
  int64_t H = db_period_diff(&f->origin, &last); /* forecast steps to the year's last period */
  if (H > f->fc.h) return 0;
  double observed = 0, mean = 0, sd = 0;
  int64_t k = year == origin_year ? (int64_t)f->n_year_obs : 0; /* observed periods of the year */
  if (year == origin_year && (f->n_year_obs == 0 || k + (H > 0 ? H : 0) != in_year)) return 0;
  for (int64_t i = 0; i < k; i++) {
    if (isnan(f->year_obs[i])) return 0;
    observed += f->year_obs[i];
  }
  int64_t from = year == origin_year ? 1 : H - in_year + 1; /* first forecast step inside the year */
  if (rule == DB_AGG_LAST) {
    mean = H <= 0 ? f->year_obs[k - 1] : f->fc.mean[H - 1];
    sd = H <= 0 ? 0 : (f->fc.hi95[H - 1] - f->fc.lo95[H - 1]) / (2 * Z95);
  } else {
    mean = observed;
    for (int64_t i = from; i <= H; i++) mean += f->fc.mean[i - 1];
    sd = H > 0 ? sqrt(sum_variance(&f->fc, (int)from, (int)H)) : 0;
    if (rule == DB_AGG_AVG) {
      mean /= (double)in_year;
      sd /= (double)in_year;
    }
  }
  double p;
  if (polarity == DB_POL_HIGHER) {
    p = below(plan, mean, sd);
  } else if (polarity == DB_POL_LOWER) {
    p = 1 - below(plan, mean, sd);
    if (sd == 0) p = mean > plan;
  } else {
    double band = (1 - band_at_risk / 100) * fabs(plan);
    p = below(plan - band, mean, sd) + (sd > 0 ? 1 - below(plan + band, mean, sd) : mean > plan + band);
  }
  *out = (db_outlook_target){mean, sd, fmin(1, fmax(0, p))};
  return 1;
}
