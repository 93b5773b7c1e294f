/* ets.c - exponential smoothing state space models (ETS; Hyndman, Koehler, Ord and Snyder 2008):
 * the recursions, maximum-likelihood fitting, automatic selection by AICc, and forecasts with analytic
 * (classes 1 and 2) or simulated (multiplicative season) prediction intervals. See forecast.h.
 *
 * With trend N, A or Ad the state updates written in the raw one-step error e = y - mu are the same for
 * additive and multiplicative errors (Hyndman et al. 2008, Table 2.3 rearranged), so one recursion
 * serves every model; the error type changes only the likelihood and the intervals. The smoothing
 * parameters, level and slope are the optimiser's coordinates; the seasonal states (up to 23 more) are
 * refined apart by Gauss-Newton steps, which keeps Nelder-Mead in at most 6 dimensions. A damped fit
 * that ends with phi at its upper bound starts once more from phi = 0.85 (the likelihood of phi is often
 * bimodal). Multiplicative-error fits start where their additive twins ended. Fitting runs on the series
 * divided by its mean absolute value, so that the optimiser's steps suit every scale; the likelihood of
 * the scaled series differs from the original's by the same constant for every model (2 n log c), and
 * the fitted states are scaled back before the final evaluation on the original data. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "forecast/fc_int.h"

#define LO 1e-4   /* R's lower bound of alpha, beta, gamma */
#define HI 0.9999 /* R's upper bound of alpha */
#define PHI_LO 0.8
#define PHI_HI 0.98
#define PHI_AT(spec) (2 + ((spec).season != 'N')) /* phi's coordinate: after alpha, beta [and gamma] */
#define FIT_FTOL 1e-6
#define FIT_MAX_EVALS 3000
#define SIM_SEED 0x5eed2008u

/* The smoothing part of a model, what one step of the recursion needs. */
typedef struct ets_par {
  char trend, season;
  double alpha, beta, gamma, phi;
} ets_par;

/* The result of running the recursion over a series. */
typedef struct ets_run {
  double lik; /* n log(sse) (+ 2 sum log mu for error M); DB_FC__BAD when the model breaks down */
  double sse; /* sum of squared errors, relative ones for error M */
  size_t n;   /* observed values */
  double level, slope;
} ets_run;

/* Everything the objective of one fit needs. */
typedef struct fit_ctx {
  const double *y; /* scaled series */
  size_t len;
  int m;
  db_ets_spec spec;
  const double *s0; /* initial seasonal states (scaled when additive) */
} fit_ctx;

static double logistic(double u) { return 1 / (1 + exp(-u)); }
static double logit(double p) { return log(p / (1 - p)); }

/* A fit's optimum, as the start of another fit (see fit_model). */
typedef struct warm_start {
  int valid;
  double x[DB_FC__NM_MAX_DIM], s0[DB_ETS_MAX_M];
} warm_start;

static int fit_model(const double *y, size_t n, int m, db_ets_spec spec, warm_start *warm, db_ets_model *out,
                     char why[128]);
static int spec_valid(db_ets_spec s);
static int count_params(db_ets_spec s, int m);
static ets_run recurse(const double *y, size_t len, int m, char error, const ets_par *p, double l0, double b0,
                       double *s, double *resid);
static int refine_states(const fit_ctx *c, const double *x, double *l0, double *b0, double *s0);
static int fit_start(const double *y, size_t len, int m, db_ets_spec spec, double *s0, double *x,
                     double *step);
static void decode(const double *x, db_ets_spec spec, ets_par *p, double *l0, double *b0);
static double objective(const double *x, void *ctx);
static void simulate(const db_ets_model *mod, const ets_par *p, int h, db_fc_forecast *out);

void db_ets_name(db_ets_spec spec, char *out, size_t size) {
  snprintf(out, size, "ETS(%c,%s,%c)", spec.error,
           spec.trend == 'D'   ? "Ad"
           : spec.trend == 'A' ? "A"
                               : "N",
           spec.season);
}

int db_ets_fit(const double *y, size_t n, int m, db_ets_spec spec, db_ets_model *out, char why[128]) {
  warm_start warm = {0};
  if (spec.error == 'M' && spec.season != 'M') { /* start where the additive twin ends, as db_ets_auto does */
    db_ets_spec twin = {'A', spec.trend, spec.season};
    db_ets_model ignored;
    fit_model(y, n, m, twin, &warm, &ignored, NULL);
  }
  return fit_model(y, n, m, spec, &warm, out, why);
}

/* db_ets_fit, started from *warm when it holds a point (the optimum of the same trend and season with
 * the other error type is close to this one's), and leaving its own optimum there. */
static int fit_model(const double *y, size_t n, int m, db_ets_spec spec, warm_start *warm, db_ets_model *out,
                     char why[128]) {
  if (!spec_valid(spec))
    return db_fc__fail(why, "invalid ETS model (%c,%c,%c)", spec.error, spec.trend, spec.season);
  size_t lead = 0, nobs = 0;
  while (lead < n && isnan(y[lead])) lead++;
  double scale = 0;
  for (size_t t = lead; t < n; t++)
    if (!isnan(y[t])) {
      nobs++;
      scale += fabs(y[t]);
    }
  if (!nobs) return db_fc__fail(why, "the series has no observed value");
  char name[16];
  db_ets_name(spec, name, sizeof name);
  int seasonal = spec.season != 'N';
  if (seasonal && (m < 2 || m > DB_ETS_MAX_M))
    return db_fc__fail(why, "%s needs a season of 2 to %d periods (m = %d)", name, DB_ETS_MAX_M, m);
  if (seasonal && n - lead < (size_t)2 * (size_t)m)
    return db_fc__fail(why, "%s needs two full seasons (%d values), the series has %zu", name, 2 * m,
                       n - lead);
  if ((spec.error == 'M' || spec.season == 'M') && !db_fc__positive(y, n))
    return db_fc__fail(why, "%s is multiplicative: it needs data that are all positive", name);
  int mm = seasonal ? m : 1, k = count_params(spec, mm);
  if (nobs < (size_t)k + 4)
    return db_fc__fail(why, "%s has %d parameters and needs at least %d observations, the series has %zu",
                       name, k, k + 4, nobs);
  scale = scale / (double)nobs;
  if (!(scale > 0)) scale = 1;

  double *ys = db_malloc(n * sizeof *ys), s0[DB_ETS_MAX_M] = {0}, x[DB_FC__NM_MAX_DIM],
         step[DB_FC__NM_MAX_DIM];
  for (size_t t = 0; t < n; t++) ys[t] = y[t] / scale;
  int dim = fit_start(ys, n, mm, spec, s0, x, step);
  fit_ctx ctx = {ys, n, mm, spec, s0};
  int warmed = warm && warm->valid;
  if (warmed) {
    memcpy(x, warm->x, sizeof x);
    memcpy(s0, warm->s0, sizeof s0);
  }
  double best = db_fc__minimize(objective, &ctx, dim, x, step, FIT_FTOL, FIT_MAX_EVALS);
  if (spec.trend == 'D' && !warmed && x[PHI_AT(spec)] > logit(0.9)) {
    /* damping is often bimodal, phi at its upper bound or well inside: from the bound, start again inside */
    double x2[DB_FC__NM_MAX_DIM];
    fit_start(ys, n, mm, spec, s0, x2, step);
    x2[0] = logit((0.9 - LO) / (HI - LO));
    x2[1] = 0;
    x2[PHI_AT(spec)] = logit((0.85 - PHI_LO) / (PHI_HI - PHI_LO));
    if (db_fc__minimize(objective, &ctx, dim, x2, step, FIT_FTOL, FIT_MAX_EVALS) < best)
      memcpy(x, x2, sizeof x2);
  }
  /* the seasonal states are not among the optimiser's coordinates: refine them (with the level and
   * slope) for the parameters found, then let the optimiser move the parameters once more */
  int at = dim - (spec.trend != 'N' ? 2 : 1); /* where l0 (then b0) sit in x */
  double l0 = x[at], b0 = spec.trend != 'N' ? x[at + 1] : 0;
  if (spec.season != 'N' && refine_states(&ctx, x, &l0, &b0, s0)) {
    x[at] = l0;
    if (spec.trend != 'N') x[at + 1] = b0;
    db_fc__minimize(objective, &ctx, dim, x, step, FIT_FTOL, FIT_MAX_EVALS);
  }
  db_free(ys);
  if (warm) {
    memcpy(warm->x, x, sizeof x);
    memcpy(warm->s0, s0, sizeof s0);
    warm->valid = 1;
  }

  ets_par p;
  db_ets_model mod = {.spec = spec, .m = mm, .k = k};
  decode(x, spec, &p, &mod.l0, &mod.b0);
  mod.alpha = p.alpha;
  mod.beta = p.beta;
  mod.gamma = p.gamma;
  mod.phi = p.phi;
  mod.l0 *= scale;
  mod.b0 *= scale;
  for (int j = 0; j < mm; j++) mod.s0[j] = spec.season == 'A' ? s0[j] * scale : s0[j];
  int rc = db_ets_eval(y, n, &mod, why);
  if (rc == DB_OK) *out = mod;
  return rc;
}

int db_fc__ets_candidates(const double *y, size_t n, int m, db_ets_model *out) {
  static const char errors[] = "AM", trends[] = "NAD", seasons[] = "NAM";
  int count = 0;
  for (int t = 0; t < 3; t++)
    for (int s = 0; s < 3; s++) {
      warm_start warm = {0}; /* error M starts where error A ended */
      for (int e = 0; e < 2; e++) {
        db_ets_spec spec = {errors[e], trends[t], seasons[s]};
        if (spec.error == 'A' && spec.season == 'M') continue; /* infinite variance: not in the selection */
        if (fit_model(y, n, m, spec, &warm, &out[count], NULL) == DB_OK) count++;
      }
    }
  return count;
}

int db_ets_auto(const double *y, size_t n, int m, db_ets_model *out, char why[128]) {
  db_ets_model fits[DB_FC__ETS_CANDIDATES];
  int count = db_fc__ets_candidates(y, n, m, fits);
  if (!count) return db_fc__fail(why, "too few observations for any ETS model (at least 7 needed)");
  int best = 0;
  for (int i = 1; i < count; i++)
    if (fits[i].aicc < fits[best].aicc) best = i;
  *out = fits[best];
  return DB_OK;
}

int db_ets_eval(const double *y, size_t n, db_ets_model *mod, char why[128]) {
  if (!spec_valid(mod->spec)) return db_fc__fail(why, "invalid ETS model");
  int m = mod->spec.season == 'N' ? 1 : mod->m;
  if (m < 1 || m > DB_ETS_MAX_M) return db_fc__fail(why, "season of %d periods out of range", m);
  ets_par p = {mod->spec.trend, mod->spec.season, mod->alpha, mod->beta, mod->gamma, mod->phi};
  if (mod->spec.trend == 'N') p.beta = 0;
  if (mod->spec.trend != 'D') p.phi = 1;
  if (mod->spec.season == 'N') p.gamma = 0;
  double s[DB_ETS_MAX_M];
  for (int j = 0; j < m; j++) s[j] = mod->spec.season == 'N' ? 0 : mod->s0[j];
  ets_run r = recurse(y, n, m, mod->spec.error, &p, mod->l0, mod->spec.trend == 'N' ? 0 : mod->b0, s, NULL);
  if (!(r.lik < DB_FC__BAD))
    return db_fc__fail(why, "the model's forecasts or states turn non-positive on these data");
  mod->m = m;
  mod->alpha = p.alpha;
  mod->beta = p.beta;
  mod->gamma = p.gamma;
  mod->phi = p.phi;
  mod->level = r.level;
  mod->slope = r.slope;
  memcpy(mod->season, s, (size_t)m * sizeof *s);
  mod->nobs = n;
  mod->n = r.n;
  if (mod->k <= 0) mod->k = count_params(mod->spec, m);
  double k = mod->k, nn = (double)r.n;
  mod->sigma2 = r.sse / (nn > k - 1 ? nn - (k - 1) : nn); /* R divides by n minus the non-variance ones */
  mod->loglik = -0.5 * r.lik;
  mod->aic = r.lik + 2 * k;
  mod->aicc = nn - k - 1 > 0 ? mod->aic + 2 * k * (k + 1) / (nn - k - 1) : DB_FC__BAD;
  mod->bic = r.lik + log(nn) * k;
  return DB_OK;
}

/* One-step forecast from the states: q = level + phi * slope (the trend part), then the season. */
static inline double forecast_one(const ets_par *p, double l, double b, double s, double *q) {
  *q = l + p->phi * b;
  return p->season == 'M' ? *q * s : p->season == 'A' ? *q + s : *q;
}

/* Updates the states with the one-step error e (q and s as used by the forecast). Returns -1 when a
 * multiplicative season meets a non-positive level or seasonal state. */
static inline int update(const ets_par *p, double q, double e, double *l, double *b, double *s) {
  if (p->season == 'M') {
    if (!(q > 0) || !(*s > 0)) return -1;
    double es = e / *s;
    *l = q + p->alpha * es;
    *b = p->phi * *b + p->beta * es;
    *s += p->gamma * e / q;
  } else {
    *l = q + p->alpha * e;
    *b = p->phi * *b + p->beta * e;
    *s += p->gamma * e;
  }
  return 0;
}

int db_ets_forecast(const db_ets_model *mod, int h, db_fc_forecast *out, char why[128]) {
  if (h < 1) return db_fc__fail(why, "horizon %d: must be at least 1", h);
  char name[16];
  db_ets_name(mod->spec, name, sizeof name);
  db_fc__alloc(out, h, name);
  ets_par p = {mod->spec.trend, mod->spec.season, mod->alpha, mod->beta, mod->gamma, mod->phi};
  int m = mod->m > 0 ? mod->m : 1;
  double damp = 0, power = 1; /* phi + ... + phi^i (i for trend A, 0 for N) */
  for (int i = 0; i < h; i++) {
    if (mod->spec.trend == 'D')
      damp += (power *= mod->phi);
    else if (mod->spec.trend == 'A')
      damp = i + 1;
    double s = mod->season[(mod->nobs + (size_t)i) % (size_t)m];
    double q = mod->level + damp * mod->slope;
    out->mean[i] = p.season == 'M' ? q * s : p.season == 'A' ? q + s : q;
  }
  if (mod->spec.season == 'M') {
    simulate(mod, &p, h, out);
    return DB_OK;
  }
  /* classes 1 and 2: c_j = alpha + beta (phi + ... + phi^j) + gamma [j % m == 0] */
  double *c2 = db_malloc((size_t)h * 3 * sizeof *c2), *theta = c2 + h, *sd = c2 + 2 * h;
  damp = 0, power = 1;
  for (int j = 1; j < h; j++) {
    if (mod->spec.trend == 'D')
      damp += (power *= mod->phi);
    else if (mod->spec.trend == 'A')
      damp = j;
    double c = mod->alpha + mod->beta * damp + (mod->spec.season == 'A' && j % m == 0 ? mod->gamma : 0);
    c2[j] = c * c;
  }
  double sum = 0;
  for (int i = 0; i < h; i++) {
    double v;
    if (mod->spec.error == 'A') {
      if (i > 0) sum += c2[i];
      v = mod->sigma2 * (1 + sum);
    } else { /* theta_h = mu_h^2 + sigma^2 sum_{j<h} c_j^2 theta_(h-j); v_h = (1 + sigma^2) theta_h - mu_h^2
              */
      double mu2 = out->mean[i] * out->mean[i], acc = 0;
      for (int j = 1; j <= i; j++) acc += c2[j] * theta[i - j];
      theta[i] = mu2 + mod->sigma2 * acc;
      v = (1 + mod->sigma2) * theta[i] - mu2;
    }
    sd[i] = v > 0 ? sqrt(v) : 0;
  }
  db_fc__normal_bounds(out, sd);
  db_free(c2);
  return DB_OK;
}

static int spec_valid(db_ets_spec s) {
  return (s.error == 'A' || s.error == 'M') && (s.trend == 'N' || s.trend == 'A' || s.trend == 'D') &&
         (s.season == 'N' || s.season == 'A' || s.season == 'M');
}

/* R's np: smoothing parameters, initial states (m - 1 free seasonal ones) and the variance. */
static int count_params(db_ets_spec s, int m) {
  int k = 3; /* alpha, l0, sigma^2 */
  if (s.trend != 'N') k += 2;
  if (s.trend == 'D') k += 1;
  if (s.season != 'N') k += 1 + (m - 1);
  return k;
}

/* Runs the model over y[0..len) from l0, b0 and the seasonal states s[0..m) (updated in place). With
 * resid, writes the one-step errors there (relative for error M; 0 where y is missing). */
static inline __attribute__((always_inline)) ets_run recurse_as(const double *y, size_t len, int m,
                                                                const char error, const char season,
                                                                const ets_par *par, double l0, double b0,
                                                                double *s, double *resid) {
  ets_par pp = *par, *p = &pp;
  pp.season = season; /* a constant here: each instance below gets its own loop */
  ets_run r = {DB_FC__BAD, 0, 0, l0, b0};
  double l = l0, b = b0, sse = 0, logsum = 0, prod = 1; /* sum log mu = logsum + log prod (fewer logs) */
  size_t n = 0;
  int j = 0;
  for (size_t t = 0; t < len; t++) {
    double q, mu = forecast_one(p, l, b, s[j], &q), e = 0;
    if (!isnan(y[t])) {
      e = y[t] - mu;
      double err = e;
      if (error == 'M') {
        if (!(mu > 0)) return r;
        err = e / mu;
        prod *= mu;
        if (prod > 1e100 || prod < 1e-100) {
          logsum += log(prod);
          prod = 1;
        }
      }
      sse += err * err;
      if (resid) resid[t] = err;
      n++;
    } else if (resid) {
      resid[t] = 0;
    }
    if (update(p, q, e, &l, &b, &s[j])) return r;
    if (++j == m) j = 0;
  }
  if (!n) return r;
  logsum += log(prod);
  double lik = (double)n * log(sse > 1e-300 ? sse : 1e-300) + 2 * logsum;
  if (!(fabs(lik) < DB_FC__BAD)) return r;
  r.lik = lik;
  r.sse = sse;
  r.n = n;
  r.level = l;
  r.slope = b;
  return r;
}

static ets_run recurse(const double *y, size_t len, int m, char error, const ets_par *p, double l0, double b0,
                       double *s, double *resid) {
  int mult = error == 'M';
  switch (p->season) {
    case 'A':
      return mult ? recurse_as(y, len, m, 'M', 'A', p, l0, b0, s, resid)
                  : recurse_as(y, len, m, 'A', 'A', p, l0, b0, s, resid);
    case 'M':
      return mult ? recurse_as(y, len, m, 'M', 'M', p, l0, b0, s, resid)
                  : recurse_as(y, len, m, 'A', 'M', p, l0, b0, s, resid);
    default:
      return mult ? recurse_as(y, len, m, 'M', 'N', p, l0, b0, s, resid)
                  : recurse_as(y, len, m, 'A', 'N', p, l0, b0, s, resid);
  }
}

/* Maps the optimiser's coordinates x = (alpha, [beta], [gamma], [phi], l0, [b0]) into the parameter
 * region: alpha in [LO, HI], beta in [LO, alpha], gamma in [LO, 1 - alpha], phi in [PHI_LO, PHI_HI]. */
static void decode(const double *x, db_ets_spec spec, ets_par *p, double *l0, double *b0) {
  int i = 0;
  p->trend = spec.trend;
  p->season = spec.season;
  p->alpha = LO + (HI - LO) * logistic(x[i++]);
  p->beta = spec.trend != 'N' ? LO + (p->alpha - LO) * logistic(x[i++]) : 0;
  p->gamma = spec.season != 'N' ? LO + fmax(0, 1 - p->alpha - LO) * logistic(x[i++]) : 0;
  p->phi = spec.trend == 'D' ? PHI_LO + (PHI_HI - PHI_LO) * logistic(x[i++]) : 1;
  *l0 = x[i++];
  *b0 = spec.trend != 'N' ? x[i] : 0;
}

/* Starting point and simplex steps of a fit (R's initial values: alpha 0.2/m, beta alpha/10, gamma
 * (1 - alpha)/20, phi 0.978; level and slope from a line through the first max(10, 2m) values of the
 * seasonally adjusted series), and the seasonal states, from a classical decomposition. Returns the
 * number of coordinates. */
static int fit_start(const double *y, size_t len, int m, db_ets_spec spec, double *s0, double *x,
                     double *step) {
  size_t lead = 0;
  while (isnan(y[lead])) lead++;
  size_t span = len - lead;
  double *adj = db_malloc(span * sizeof *adj);
  db_fc__fill(y + lead, span, adj);
  if (spec.season != 'N') {
    double idx[DB_ETS_MAX_M];
    db_fc__decompose(adj, span, m, spec.season == 'M', idx);
    for (int j = 0; j < m; j++) s0[(lead + (size_t)j) % (size_t)m] = idx[j];
    for (size_t t = 0; t < span; t++)
      adj[t] = spec.season == 'M' ? adj[t] / idx[t % (size_t)m] : adj[t] - idx[t % (size_t)m];
  }
  size_t first = (size_t)(2 * m > 10 ? 2 * m : 10);
  if (first > span) first = span;
  double a, b;
  db_fc__line(adj, first, &a, &b);
  double mean = 0;
  for (size_t t = 0; t < first; t++) mean += adj[t];
  mean /= (double)first;
  db_free(adj);

  int i = 0;
  double alpha = LO + 0.2 * (HI - LO) / (spec.season != 'N' ? m : 1);
  x[i] = logit((alpha - LO) / (HI - LO));
  step[i++] = 1;
  if (spec.trend != 'N') {
    x[i] = logit(0.1);
    step[i++] = 1;
  }
  if (spec.season != 'N') {
    x[i] = logit(0.05);
    step[i++] = 1;
  }
  if (spec.trend == 'D') {
    x[i] = logit(0.99);
    step[i++] = -2;
  }
  if (spec.trend != 'N') {
    double l0 = a - b * (double)(lead + 1); /* the level one step before the first value */
    x[i] = l0;
    step[i++] = 0.05 * fabs(l0) + 0.01;
    x[i] = b;
    step[i++] = 0.1 * fabs(b) + 0.005;
  } else {
    x[i] = mean;
    step[i++] = 0.05 * fabs(mean) + 0.01;
  }
  return i;
}

static double objective(const double *x, void *ctx) {
  const fit_ctx *c = ctx;
  ets_par p;
  double l0, b0, s[DB_ETS_MAX_M];
  decode(x, c->spec, &p, &l0, &b0);
  memcpy(s, c->s0, (size_t)c->m * sizeof *s);
  return recurse(c->y, c->len, c->m, c->spec.error, &p, l0, b0, s, NULL).lik;
}

/* The initial states as one vector: l0, [b0], s0[0..m-2]; s0[m-1] keeps the seasonal states' sum. */
static int state_count(const fit_ctx *c) {
  return 1 + (c->spec.trend != 'N') + (c->spec.season != 'N' ? c->m - 1 : 0);
}

static void states_apply(const fit_ctx *c, const double *v, double base_sum, double *l0, double *b0,
                         double *s0) {
  int i = 0;
  *l0 = v[i++];
  *b0 = c->spec.trend != 'N' ? v[i++] : 0;
  if (c->spec.season == 'N') return;
  double sum = 0;
  for (int j = 0; j < c->m - 1; j++) sum += (s0[j] = v[i++]);
  s0[c->m - 1] = base_sum - sum;
}

/* Runs the model from the state vector v; the residuals go to resid. */
static double states_run(const fit_ctx *c, const ets_par *p, const double *v, double base_sum,
                         double *resid) {
  double l0, b0, s[DB_ETS_MAX_M];
  states_apply(c, v, base_sum, &l0, &b0, s);
  return recurse(c->y, c->len, c->m, c->spec.error, p, l0, b0, s, resid).lik;
}

/* Solves the k x k system a z = r in place (Cholesky; a is symmetric positive definite after the
 * damping the caller adds). Returns -1 when a is not positive definite. */
static int cholesky_solve(double *a, double *r, int k) {
  for (int j = 0; j < k; j++) {
    double d = a[j * k + j];
    for (int i = 0; i < j; i++) d -= a[j * k + i] * a[j * k + i];
    if (!(d > 0)) return -1;
    a[j * k + j] = sqrt(d);
    for (int i = j + 1; i < k; i++) {
      double v = a[i * k + j];
      for (int q = 0; q < j; q++) v -= a[i * k + q] * a[j * k + q];
      a[i * k + j] = v / a[j * k + j];
    }
  }
  for (int i = 0; i < k; i++) { /* forward: L w = r */
    for (int q = 0; q < i; q++) r[i] -= a[i * k + q] * r[q];
    r[i] /= a[i * k + i];
  }
  for (int i = k - 1; i >= 0; i--) { /* backward: L' z = w */
    for (int q = i + 1; q < k; q++) r[i] -= a[q * k + i] * r[q];
    r[i] /= a[i * k + i];
  }
  return 0;
}

/* Moves the initial states (level, slope, seasonal states) for the parameters in x by damped
 * Gauss-Newton steps on the one-step residuals (the Jacobian by forward differences: one run of the
 * recursion per state), keeping a step only when the likelihood improves (halving it up to 4 times).
 * The seasonal states keep their sum (0 or m). Returns 1 when the states moved. */
static int refine_states(const fit_ctx *c, const double *x, double *l0, double *b0, double *s0) {
  ets_par p;
  double ignore_l, ignore_b;
  decode(x, c->spec, &p, &ignore_l, &ignore_b);
  int k = state_count(c), moved = 0;
  double v[2 + DB_ETS_MAX_M], trial[2 + DB_ETS_MAX_M], base_sum = 0;
  int i = 0;
  v[i++] = *l0;
  if (c->spec.trend != 'N') v[i++] = *b0;
  for (int j = 0; j < c->m; j++) base_sum += s0[j];
  for (int j = 0; j < c->m - 1 && c->spec.season != 'N'; j++) v[i++] = s0[j];
  size_t n = c->len;
  double *r0 = db_malloc(n * (size_t)(k + 1) * sizeof *r0), *jac = r0 + n;
  double a[(2 + DB_ETS_MAX_M) * (2 + DB_ETS_MAX_M)], g[2 + DB_ETS_MAX_M];
  double best = states_run(c, &p, v, base_sum, r0);
  for (int iter = 0; iter < 3 && best < DB_FC__BAD; iter++) {
    for (int j = 0; j < k; j++) {
      double h = 1e-6 * (fabs(v[j]) + 1e-3);
      memcpy(trial, v, (size_t)k * sizeof *v);
      trial[j] += h;
      if (!(states_run(c, &p, trial, base_sum, jac + (size_t)j * n) < DB_FC__BAD)) goto done;
      for (size_t t = 0; t < n; t++) jac[(size_t)j * n + t] = (jac[(size_t)j * n + t] - r0[t]) / h;
    }
    for (int j = 0; j < k; j++) { /* normal equations J'J d = -J'r, damped on the diagonal */
      g[j] = 0;
      for (size_t t = 0; t < n; t++) g[j] -= jac[(size_t)j * n + t] * r0[t];
      for (int q = 0; q <= j; q++) {
        double sum = 0;
        for (size_t t = 0; t < n; t++) sum += jac[(size_t)j * n + t] * jac[(size_t)q * n + t];
        a[j * k + q] = a[q * k + j] = sum;
      }
    }
    for (int j = 0; j < k; j++) a[j * k + j] = a[j * k + j] * (1 + 1e-6) + 1e-12;
    if (cholesky_solve(a, g, k)) break;
    int better = 0;
    for (int half = 0; half < 5 && !better; half++) {
      for (int j = 0; j < k; j++) trial[j] = v[j] + g[j] / (double)(1 << half);
      better = states_run(c, &p, trial, base_sum, NULL) < best - 1e-9 * fabs(best);
    }
    if (!better) break;
    memcpy(v, trial, (size_t)k * sizeof *v);
    best = states_run(c, &p, v, base_sum, r0);
    moved = 1;
  }
done:
  if (moved) states_apply(c, v, base_sum, l0, b0, s0);
  db_free(r0);
  return moved;
}

/* splitmix64: a small, fast generator with a fixed seed, so simulated intervals are reproducible. */
static uint64_t next_u64(uint64_t *st) {
  uint64_t z = (*st += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* Standard normal draws, two at a time (Box-Muller). */
typedef struct normal_gen {
  uint64_t state;
  double spare;
  int has_spare;
} normal_gen;

static double normal(normal_gen *g) {
  if (g->has_spare) {
    g->has_spare = 0;
    return g->spare;
  }
  double u1 = ((double)(next_u64(&g->state) >> 11) + 0.5) / 9007199254740992.0;
  double u2 = (double)(next_u64(&g->state) >> 11) / 9007199254740992.0;
  double r = sqrt(-2 * log(u1));
  g->spare = r * sin(6.283185307179586 * u2);
  g->has_spare = 1;
  return r * cos(6.283185307179586 * u2);
}

/* Puts the k-th smallest of v[0..n) at v[k], smaller ones before it and larger ones after
 * (Hoare's selection). */
static void select_kth(double *v, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    double pivot = v[lo + (hi - lo) / 2];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        double t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return;
  }
}

/* The p-quantile of v[0..n) (R's type 7: between the order statistics floor(p (n-1)) and the next);
 * reorders v. */
static double quantile(double *v, size_t n, double p) {
  double pos = p * (double)(n - 1);
  size_t k = (size_t)pos;
  select_kth(v, n, k);
  if (k + 1 >= n) return v[k];
  double next = v[k + 1];
  for (size_t i = k + 2; i < n; i++) next = fmin(next, v[i]);
  return v[k] + (pos - (double)k) * (next - v[k]);
}

/* Interval bounds from DB_FC_SIM_PATHS simulated future paths (the mean stays the point forecast). */
static void simulate(const db_ets_model *mod, const ets_par *p, int h, db_fc_forecast *out) {
  size_t paths = DB_FC_SIM_PATHS;
  double *sims = db_malloc(paths * (size_t)h * sizeof *sims), sigma = sqrt(mod->sigma2);
  normal_gen rng = {SIM_SEED, 0, 0};
  for (size_t k = 0; k < paths; k++) {
    double l = mod->level, b = mod->slope, s[DB_ETS_MAX_M];
    memcpy(s, mod->season, (size_t)mod->m * sizeof *s);
    for (int i = 0; i < h; i++) {
      size_t j = (mod->nobs + (size_t)i) % (size_t)mod->m;
      double q, mu = forecast_one(p, l, b, s[j], &q);
      double e = sigma * normal(&rng) * (mod->spec.error == 'M' ? mu : 1);
      sims[(size_t)i * paths + k] = mu + e;
      update(p, q, e, &l, &b, &s[j]); /* a path whose states turn non-positive keeps them */
    }
  }
  for (int i = 0; i < h; i++) {
    double *v = sims + (size_t)i * paths;
    out->lo95[i] = quantile(v, paths, 0.025);
    out->lo80[i] = quantile(v, paths, 0.10);
    out->hi80[i] = quantile(v, paths, 0.90);
    out->hi95[i] = quantile(v, paths, 0.975);
    out->lo99[i] = quantile(v, paths, 0.005);
    out->hi99[i] = quantile(v, paths, 0.995);
  }
  db_free(sims);
}
