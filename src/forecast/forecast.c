/* forecast.c - db_forecast: the methods of forecast.h put together (naive, seasonal naive, ETS-based
 * smoothing on seasonally adjusted data, Theta, optimised Theta, automatic ETS and the combination),
 * with the fallbacks that keep short and degenerate series forecastable. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "forecast/fc_int.h"

static const char *const method_names[DB_FC_METHOD_COUNT] = {"naive", "snaive", "ses",    "holt", "damped",
                                                             "ets",   "theta",  "otheta", "combo"};

static void constant(double value, int h, db_fc_forecast *out);
static void naive(const double *y, size_t n, int h, db_fc_forecast *out);
static void snaive(const double *y, size_t n, int m, int h, db_fc_forecast *out);
/* What adjusted() can run on a seasonally adjusted series: a method, or automatic ETS by Akaike weights. */
enum { KIND_WEIGHTED_ETS = DB_FC_METHOD_COUNT };

static void ets_auto(const double *y, const double *filled, size_t n, int m, int kind, int h,
                     db_fc_forecast *out);
static void adjusted(const double *y, size_t n, int m, int kind, int h, db_fc_forecast *out);
static void combo(const double *y, const double *filled, size_t n, int m, int h, db_fc_forecast *out);

const char *db_fc_method_name(db_fc_method m) {
  return (unsigned)m < DB_FC_METHOD_COUNT ? method_names[m] : "unknown";
}

int db_fc_method_parse(const char *name, db_fc_method *out) {
  for (int i = 0; i < DB_FC_METHOD_COUNT; i++)
    if (strcmp(name, method_names[i]) == 0) {
      *out = (db_fc_method)i;
      return DB_OK;
    }
  return DB_EINVAL;
}

int db_forecast(const double *y, size_t n, int m, db_fc_method method, int h, db_fc_forecast *out,
                char why[128]) {
  memset(out, 0, sizeof *out);
  if (m < 1) return db_fc__fail(why, "seasonal period %d: must be at least 1", m);
  if (h < 1) return db_fc__fail(why, "horizon %d: must be at least 1", h);
  if ((unsigned)method >= DB_FC_METHOD_COUNT) return db_fc__fail(why, "unknown method %d", (int)method);
  size_t lead = 0;
  while (lead < n && isnan(y[lead])) lead++;
  if (lead == n) return db_fc__fail(why, "the series has no observed value");
  y += lead;
  n -= lead;
  double lo = y[0], hi = y[0];
  for (size_t t = 1; t < n; t++)
    if (!isnan(y[t])) {
      lo = fmin(lo, y[t]);
      hi = fmax(hi, y[t]);
    }
  if (lo == hi) {
    constant(lo, h, out);
    return DB_OK;
  }
  double *filled = db_malloc(n * sizeof *filled);
  db_fc__fill(y, n, filled);
  switch (method) {
    case DB_FC_NAIVE:
      naive(filled, n, h, out);
      break;
    case DB_FC_SNAIVE:
      snaive(filled, n, m, h, out);
      break;
    case DB_FC_ETS:
      ets_auto(y, filled, n, m, DB_FC_ETS, h, out);
      break;
    case DB_FC_COMBO:
      combo(y, filled, n, m, h, out);
      break;
    default:
      adjusted(filled, n, m, method, h, out);
      break;
  }
  db_free(filled);
  return DB_OK;
}

/* A flat line with zero-width intervals: what any model says about a constant series. */
static void constant(double value, int h, db_fc_forecast *out) {
  db_fc__alloc(out, h, "Constant");
  for (int i = 0; i < h; i++)
    out->mean[i] = out->lo80[i] = out->hi80[i] = out->lo95[i] = out->hi95[i] = out->lo99[i] = out->hi99[i] =
        value;
}

/* Random walk: the last value, with standard deviation sigma sqrt(h) from the one-step differences. */
static void naive(const double *y, size_t n, int h, db_fc_forecast *out) {
  db_fc__alloc(out, h, "Naive");
  double ss = 0;
  for (size_t t = 1; t < n; t++) ss += (y[t] - y[t - 1]) * (y[t] - y[t - 1]);
  double sigma = n > 1 ? sqrt(ss / (double)(n - 1)) : 0, *sd = db_malloc((size_t)h * sizeof *sd);
  for (int i = 0; i < h; i++) {
    out->mean[i] = y[n - 1];
    sd[i] = sigma * sqrt(i + 1.0);
  }
  db_fc__normal_bounds(out, sd);
  db_free(sd);
}

/* Seasonal random walk: the value one season earlier; sigma sqrt(completed seasons + 1). Falls back to
 * naive without a season or with less than one season and a value of history. */
static void snaive(const double *y, size_t n, int m, int h, db_fc_forecast *out) {
  if (m < 2 || n <= (size_t)m) {
    naive(y, n, h, out);
    return;
  }
  db_fc__alloc(out, h, "Seasonal naive");
  double ss = 0;
  for (size_t t = (size_t)m; t < n; t++) ss += (y[t] - y[t - (size_t)m]) * (y[t] - y[t - (size_t)m]);
  double sigma = sqrt(ss / (double)(n - (size_t)m)), *sd = db_malloc((size_t)h * sizeof *sd);
  for (int i = 0; i < h; i++) {
    out->mean[i] = y[n - (size_t)m + (size_t)(i % m)];
    sd[i] = sigma * sqrt((double)(i / m) + 1);
  }
  db_fc__normal_bounds(out, sd);
  db_free(sd);
}

/* Every admissible ETS model weighted by exp(-dAICc/2) (Akaike weights; Kolassa 2011), point forecasts
 * and bounds alike; models under 1/1000 of the total weight are left out (and the rest renormalised).
 * Naive when no ETS model can be fitted (too short). */
static void akaike_ets(const double *y, const double *filled, size_t n, int m, int h, db_fc_forecast *out) {
  db_ets_model fits[DB_FC__ETS_CANDIDATES];
  int count = db_fc__ets_candidates(y, n, m, fits);
  if (!count) {
    naive(filled, n, h, out);
    return;
  }
  double best = fits[0].aicc, total = 0, kept = 0, w[DB_FC__ETS_CANDIDATES];
  for (int i = 1; i < count; i++) best = fmin(best, fits[i].aicc);
  for (int i = 0; i < count; i++) total += (w[i] = exp(-0.5 * (fits[i].aicc - best)));
  for (int i = 0; i < count; i++) kept += (w[i] = w[i] < 1e-3 * total ? 0 : w[i]);
  db_fc__alloc(out, h, "ETS, AICc-weighted");
  for (int i = 0; i < count; i++) {
    if (w[i] == 0) continue;
    db_fc_forecast f;
    db_ets_forecast(&fits[i], h, &f, NULL);
    double share = w[i] / kept;
    for (int k = 0; k < h; k++) {
      out->mean[k] += share * f.mean[k];
      out->lo80[k] += share * f.lo80[k];
      out->hi80[k] += share * f.hi80[k];
      out->lo95[k] += share * f.lo95[k];
      out->hi95[k] += share * f.hi95[k];
      out->lo99[k] += share * f.lo99[k];
      out->hi99[k] += share * f.hi99[k];
    }
    db_fc_forecast_free(&f);
  }
}

/* Automatic ETS on the series with its gaps: the model of lowest AICc (kind DB_FC_ETS) or the Akaike
 * weighted one (KIND_WEIGHTED_ETS). A season longer than ETS keeps states for is taken out first (when
 * the test finds it). Naive when no ETS model can be fitted (too short). */
static void ets_auto(const double *y, const double *filled, size_t n, int m, int kind, int h,
                     db_fc_forecast *out) {
  db_ets_model mod;
  if (m > DB_ETS_MAX_M)
    adjusted(filled, n, m, kind, h, out);
  else if (kind == KIND_WEIGHTED_ETS)
    akaike_ets(y, filled, n, m, h, out);
  else if (db_ets_auto(y, n, m, &mod, NULL) != DB_OK || db_ets_forecast(&mod, h, out, NULL) != DB_OK)
    naive(filled, n, h, out);
}

/* SES, Holt or damped trend on y; each falls back to the next simpler one when y is too short. */
static void smoothing(const double *y, size_t n, db_fc_method method, int h, db_fc_forecast *out) {
  static const char trends[] = "NAD";
  db_ets_model mod;
  for (int t = method == DB_FC_DAMPED ? 2 : method == DB_FC_HOLT ? 1 : 0; t >= 0; t--) {
    db_ets_spec spec = {'A', trends[t], 'N'};
    if (db_ets_fit(y, n, 1, spec, &mod, NULL) == DB_OK && db_ets_forecast(&mod, h, out, NULL) == DB_OK)
      return;
  }
  naive(y, n, h, out);
}

/* The standard Theta method as forecast::thetaf: SES plus a drift of half the slope of the regression
 * line, sigma sqrt(1 + (h - 1) alpha^2) as the SES model's. */
static void theta(const double *y, size_t n, int h, db_fc_forecast *out) {
  db_ets_model ses;
  db_ets_spec spec = {'A', 'N', 'N'};
  if (db_ets_fit(y, n, 1, spec, &ses, NULL) != DB_OK) {
    naive(y, n, h, out);
    return;
  }
  double a, b, *sd = db_malloc((size_t)h * sizeof *sd), alpha = fmax(ses.alpha, 1e-10);
  db_fc__line(y, n, &a, &b);
  double start = (1 - pow(1 - alpha, (double)n)) / alpha;
  db_fc__alloc(out, h, "Theta");
  for (int i = 0; i < h; i++) {
    out->mean[i] = ses.level + 0.5 * b * (i + start);
    sd[i] = sqrt(ses.sigma2 * (1 + i * alpha * alpha));
  }
  db_fc__normal_bounds(out, sd);
  db_free(sd);
}

/* The optimised Theta model's objective context: the series scaled by its mean absolute value and the
 * regression line (intercept at t = 0 of the 1-based time of Fiorucci et al.). */
typedef struct otm_ctx {
  const double *y;
  size_t n;
  double a, b;
} otm_ctx;

/* x = (level0, logit alpha, log(theta - 1)) into the parameters. */
static void otm_decode(const double *x, double *l0, double *alpha, double *theta_) {
  *l0 = x[0];
  *alpha = 1e-4 + (0.9999 - 1e-4) / (1 + exp(-x[1]));
  *theta_ = 1 + exp(fmin(x[2], 50));
}

/* Sum of squared one-step errors of the model (Fiorucci et al. 2016, eq. 5-6):
 *   mu_t = l_(t-1) + (1 - 1/theta) ((1-alpha)^(t-1) A + (1 - (1-alpha)^t) / alpha B),
 *   l_t = alpha y_t + (1 - alpha) l_(t-1). Writes the final level to *level when not NULL. */
static double otm_sse(const double *x, const otm_ctx *c, double *level) {
  double l, alpha, th;
  otm_decode(x, &l, &alpha, &th);
  double w = 1 - 1 / th, decay = 1, sse = 0; /* decay = (1-alpha)^(t-1) */
  for (size_t t = 0; t < c->n; t++) {
    double mu = l + w * (decay * c->a + (1 - decay * (1 - alpha)) / alpha * c->b);
    sse += (c->y[t] - mu) * (c->y[t] - mu);
    l = alpha * c->y[t] + (1 - alpha) * l;
    decay *= 1 - alpha;
  }
  if (level) *level = l;
  return isfinite(sse) ? sse : DB_FC__BAD;
}

static double otm_objective(const double *x, void *ctx) { return otm_sse(x, ctx, NULL); }

/* The optimised Theta model (static version, Fiorucci et al. 2016): level, alpha and theta >= 1 by least
 * squares; intervals as SES's. Needs 5 values (naive below that). */
static void otheta(const double *y, size_t n, int h, db_fc_forecast *out) {
  if (n < 5) {
    naive(y, n, h, out);
    return;
  }
  double scale = 0;
  for (size_t t = 0; t < n; t++) scale += fabs(y[t]);
  scale = scale > 0 ? scale / (double)n : 1;
  double *ys = db_malloc(n * sizeof *ys);
  for (size_t t = 0; t < n; t++) ys[t] = y[t] / scale;
  otm_ctx c = {ys, n, 0, 0};
  db_fc__line(ys, n, &c.a, &c.b);
  c.a -= c.b; /* intercept at t = 0 when the first value is at t = 1 */
  double x[3] = {ys[0], 0, 0}, step[3] = {0.05 * fabs(ys[0]) + 0.01, 1, 1}, level;
  db_fc__minimize(otm_objective, &c, 3, x, step, 1e-8, 2000);
  double sse = otm_sse(x, &c, &level), l0, alpha, th;
  otm_decode(x, &l0, &alpha, &th);
  db_free(ys);
  double sigma = scale * sqrt(sse / (double)(n - 3)), w = 1 - 1 / th, decay_n = pow(1 - alpha, (double)n);
  double *sd = db_malloc((size_t)h * sizeof *sd);
  db_fc__alloc(out, h, "Optimised Theta");
  for (int i = 0; i < h; i++) {
    double drift = decay_n * c.a + (i + (1 - decay_n * (1 - alpha)) / alpha) * c.b;
    out->mean[i] = scale * (level + w * drift);
    sd[i] = sigma * sqrt(1 + i * alpha * alpha);
  }
  db_fc__normal_bounds(out, sd);
  db_free(sd);
}

/* A non-seasonal method (ses, holt, damped, theta, otheta) on y, seasonally adjusted first when the
 * seasonality test says so; the season is put back into the forecasts and bounds. */
static void adjusted(const double *y, size_t n, int m, int kind, int h, db_fc_forecast *out) {
  double *index = NULL, *adj = NULL;
  int mult = 1;
  if (db_fc__seasonal(y, n, m)) {
    index = db_malloc((size_t)m * sizeof *index);
    mult = db_fc__positive(y, n);
    db_fc__decompose(y, n, m, mult, index);
    adj = db_malloc(n * sizeof *adj);
    for (size_t t = 0; t < n; t++) adj[t] = mult ? y[t] / index[t % (size_t)m] : y[t] - index[t % (size_t)m];
  }
  const double *x = adj ? adj : y;
  switch (kind) {
    case DB_FC_THETA:
      theta(x, n, h, out);
      break;
    case DB_FC_OTHETA:
      otheta(x, n, h, out);
      break;
    case DB_FC_ETS:
    case KIND_WEIGHTED_ETS:
      ets_auto(x, x, n, 1, kind, h, out);
      break;
    default:
      smoothing(x, n, (db_fc_method)kind, h, out);
      break;
  }
  if (!index) return;
  double *arrays[7] = {out->mean, out->lo80, out->hi80, out->lo95, out->hi95, out->lo99, out->hi99};
  for (int i = 0; i < h; i++) {
    double s = index[(n + (size_t)i) % (size_t)m];
    for (int a = 0; a < 7; a++) arrays[a][i] = mult ? arrays[a][i] * s : arrays[a][i] + s;
  }
  size_t len = strlen(out->model);
  snprintf(out->model + len, sizeof out->model - len, ", seasonally adjusted");
  db_free(adj);
  db_free(index);
}

/* The median of three (a, b, c). */
static double median3(double a, double b, double c) { return fmax(fmin(a, b), fmin(fmax(a, b), c)); }

/* The median of ETS by Akaike weights, optimised Theta and damped trend, step by step: one member that
 * goes astray (a trend extrapolated too far, a season missed) cannot pull the combination with it. Each
 * bound is the median of the members' bounds moved out by the spread of their point forecasts (largest
 * minus smallest): each model's interval assumes that model is right, and their disagreement measures the
 * uncertainty about the model itself. */
static void combo(const double *y, const double *filled, size_t n, int m, int h, db_fc_forecast *out) {
  db_fc_forecast p[3];
  ets_auto(y, filled, n, m, KIND_WEIGHTED_ETS, h, &p[0]);
  adjusted(filled, n, m, DB_FC_OTHETA, h, &p[1]);
  adjusted(filled, n, m, DB_FC_DAMPED, h, &p[2]);
  db_fc__alloc(out, h, "Median of ETS (AICc-weighted), optimised Theta, damped");
  for (int i = 0; i < h; i++) {
    double spread = fmax(fmax(p[0].mean[i], p[1].mean[i]), p[2].mean[i]) -
                    fmin(fmin(p[0].mean[i], p[1].mean[i]), p[2].mean[i]);
    out->mean[i] = median3(p[0].mean[i], p[1].mean[i], p[2].mean[i]);
    out->lo80[i] = median3(p[0].lo80[i], p[1].lo80[i], p[2].lo80[i]) - spread;
    out->hi80[i] = median3(p[0].hi80[i], p[1].hi80[i], p[2].hi80[i]) + spread;
    out->lo95[i] = median3(p[0].lo95[i], p[1].lo95[i], p[2].lo95[i]) - spread;
    out->hi95[i] = median3(p[0].hi95[i], p[1].hi95[i], p[2].hi95[i]) + spread;
    out->lo99[i] = median3(p[0].lo99[i], p[1].lo99[i], p[2].lo99[i]) - spread;
    out->hi99[i] = median3(p[0].hi99[i], p[1].hi99[i], p[2].hi99[i]) + spread;
  }
  for (int k = 0; k < 3; k++) db_fc_forecast_free(&p[k]);
}

/* ---- accuracy ---- */

/* The MASE scale of train[0..n): the mean absolute lag-m difference (lag 1 when n <= m). */
static double mase_scale(const double *train, size_t n, int m) {
  size_t lag = n > (size_t)m ? (size_t)m : 1, count = 0;
  double sum = 0;
  for (size_t t = lag; t < n; t++)
    if (!isnan(train[t]) && !isnan(train[t - lag])) {
      sum += fabs(train[t] - train[t - lag]);
      count++;
    }
  return count && sum > 0 ? sum / (double)count : NAN;
}

int db_fc_score(const double *train, size_t n_train, int m, const double *actual, size_t n_actual,
                const db_fc_forecast *f, db_fc_accuracy *acc, char why[128]) {
  memset(acc, 0, sizeof *acc);
  size_t steps = n_actual < (size_t)f->h ? n_actual : (size_t)f->h, in80 = 0, in95 = 0;
  double smape = 0, abs_err = 0;
  for (size_t i = 0; i < steps; i++) {
    double a = actual[i], p = f->mean[i];
    if (isnan(a)) continue;
    double denom = fabs(a) + fabs(p);
    smape += denom > 0 ? 200 * fabs(a - p) / denom : 0;
    abs_err += fabs(a - p);
    in80 += a >= f->lo80[i] && a <= f->hi80[i];
    in95 += a >= f->lo95[i] && a <= f->hi95[i];
    acc->points++;
  }
  if (!acc->points) return db_fc__fail(why, "no actual value to score the forecast against");
  double pts = (double)acc->points;
  acc->smape = smape / pts;
  acc->mase = abs_err / pts / mase_scale(train, n_train, m);
  acc->cover80 = 100 * (double)in80 / pts;
  acc->cover95 = 100 * (double)in95 / pts;
  return DB_OK;
}

int db_fc_backtest(const double *y, size_t n, int m, db_fc_method method, int h, int origins,
                   db_fc_accuracy *acc, char why[128]) {
  memset(acc, 0, sizeof *acc);
  if (h < 1 || origins < 1) return db_fc__fail(why, "horizon and origins must be at least 1");
  double smape = 0, mase = 0, in80 = 0, in95 = 0;
  int scored = 0, mase_n = 0;
  for (int o = origins - 1; o >= 0; o--) {
    if (n < (size_t)h + (size_t)o + 3) continue; /* origin T = n - h - o keeps 3 values to fit on */
    size_t T = n - (size_t)h - (size_t)o;
    db_fc_forecast f;
    db_fc_accuracy a;
    if (db_forecast(y, T, m, method, h, &f, NULL) != DB_OK) continue;
    int rc = db_fc_score(y, T, m, y + T, n - T, &f, &a, NULL);
    db_fc_forecast_free(&f);
    if (rc != DB_OK) continue;
    smape += a.smape;
    if (!isnan(a.mase)) {
      mase += a.mase;
      mase_n++;
    }
    in80 += a.cover80 * (double)a.points / 100;
    in95 += a.cover95 * (double)a.points / 100;
    acc->points += a.points;
    scored++;
  }
  if (!scored) return db_fc__fail(why, "the series is too short for a back-test with horizon %d", h);
  acc->smape = smape / scored;
  acc->mase = mase_n ? mase / mase_n : NAN;
  acc->cover80 = 100 * round(in80) / (double)acc->points;
  acc->cover95 = 100 * round(in95) / (double)acc->points;
  return DB_OK;
}
