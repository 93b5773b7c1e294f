/* test_forecast.c - the forecasting models as a user sees them: each model on series whose answer is
 * known (a constant, an exact line, an exact seasonal pattern), R's forecast package on classic series
 * (its parameters, likelihoods and forecasts written here as numbers, with the R call that gave them),
 * AICc choosing the model that generated long simulated series, interval coverage on many simulated
 * series, the combination, the accuracy measures on hand-computed cases, and degenerate series. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/err.h"
#include "base/mem.h"
#include "forecast/forecast.h"

/* R datasets::Nile (annual flow of the Nile at Aswan, 1871-1970). */
static const double nile[100] = {
    1120, 1160, 963,  1210, 1160, 1160, 813,  1230, 1370, 1140, 995,  935,  1110, 994, 1020, 960,  1180,
    799,  958,  1140, 1100, 1210, 1150, 1250, 1260, 1220, 1030, 1100, 774,  840,  874, 694,  940,  833,
    701,  916,  692,  1020, 1050, 969,  831,  726,  456,  824,  702,  1120, 1100, 832, 764,  821,  768,
    845,  864,  862,  698,  845,  744,  796,  1040, 759,  781,  865,  845,  944,  984, 897,  822,  1010,
    771,  676,  649,  846,  812,  742,  801,  1040, 860,  874,  848,  890,  744,  749, 838,  1050, 918,
    986,  797,  923,  975,  815,  1020, 906,  901,  1170, 912,  746,  919,  718,  714, 740};

/* R datasets::AirPassengers (monthly airline passengers, thousands, 1949-1960). */
static const double air[144] = {
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149, 170, 170, 158,
    133, 114, 140, 145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166, 171, 180, 193, 181, 183, 218,
    230, 242, 209, 191, 172, 194, 196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201, 204, 188, 235,
    227, 234, 264, 302, 293, 259, 229, 203, 229, 242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278,
    284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306, 315, 301, 356, 348, 355, 422, 465, 467, 404,
    347, 305, 336, 340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337, 360, 342, 406, 396, 420, 472,
    548, 559, 463, 407, 362, 405, 417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432};

/* R datasets::LakeHuron (level of Lake Huron in feet, 1875-1972) */
static const double lake_huron[98] = {
    580.38, 581.86, 580.97, 580.8,  579.79, 580.39, 580.42, 580.82, 581.4,  581.32, 581.44, 581.68, 581.17,
    580.53, 580.01, 579.91, 579.14, 579.16, 579.55, 579.67, 578.44, 578.24, 579.1,  579.09, 579.35, 578.82,
    579.32, 579.01, 579,    579.8,  579.83, 579.72, 579.89, 580.01, 579.37, 578.69, 578.19, 578.67, 579.55,
    578.92, 578.09, 579.37, 580.13, 580.14, 579.51, 579.24, 578.66, 578.86, 578.05, 577.79, 576.75, 576.75,
    577.82, 578.64, 580.58, 579.48, 577.38, 576.9,  576.94, 576.24, 576.84, 576.85, 576.9,  577.79, 578.18,
    577.51, 577.23, 578.42, 579.61, 579.05, 579.26, 579.22, 579.38, 579.1,  577.95, 578.12, 579.75, 580.85,
    580.41, 579.96, 579.61, 578.76, 578.18, 577.21, 577.13, 579.1,  578.25, 577.91, 576.89, 575.96, 576.8,
    577.68, 578.38, 578.52, 579.74, 579.31, 579.89, 579.96,
};

/* R datasets::WWWusage (users connected to a server, per minute) */
static const double www_usage[100] = {
    88,  84,  85,  85,  84,  85,  83,  85,  88,  89,  91,  99,  104, 112, 126, 138, 146, 151, 150, 148,
    147, 149, 143, 132, 131, 139, 147, 150, 148, 145, 140, 134, 131, 131, 129, 126, 126, 132, 137, 140,
    142, 150, 159, 167, 170, 171, 172, 172, 174, 175, 172, 172, 174, 174, 169, 165, 156, 142, 131, 121,
    112, 104, 102, 99,  99,  95,  88,  84,  84,  87,  89,  88,  85,  86,  89,  91,  91,  94,  101, 110,
    121, 135, 145, 149, 156, 165, 171, 175, 177, 182, 193, 204, 208, 210, 215, 222, 228, 226, 222, 220,
};

#define ASSERT_NEAR(a, b, tol)                                                    \
  do {                                                                            \
    double a_ = (a), b_ = (b);                                                    \
    if (!(fabs(a_ - b_) <= (tol)))                                                \
      fail_msg("%s = %.10g, expected %.10g (+/- %g)", #a, a_, b_, (double)(tol)); \
  } while (0)

/* Forecasts with a method, asserting success. */
static db_fc_forecast forecast(const double *y, size_t n, int m, db_fc_method method, int h) {
  db_fc_forecast f;
  char why[128] = "";
  if (db_forecast(y, n, m, method, h, &f, why) != DB_OK) fail_msg("%s: %s", db_fc_method_name(method), why);
  return f;
}

/* Every value of the forecast is finite and the bounds are ordered around the mean. */
static void assert_sane(const db_fc_forecast *f) {
  for (int i = 0; i < f->h; i++) {
    double v[5] = {f->lo95[i], f->lo80[i], f->mean[i], f->hi80[i], f->hi95[i]};
    for (int j = 0; j < 5; j++) assert_true(isfinite(v[j]));
    for (int j = 0; j < 4; j++)
      if (v[j] > v[j + 1] + 1e-9 * (1 + fabs(v[j])))
        fail_msg("%s step %d: bounds out of order", f->model, i + 1);
  }
}

/* ---- a small simulator of ETS models with additive components (fixed seeds) ---- */

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static double rng_normal(uint64_t *s) {
  double u1 = ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
  double u2 = (double)(rng_next(s) >> 11) / 9007199254740992.0;
  return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

typedef struct sim_model {
  char error; /* 'A': e = sigma z; 'M': e = mu sigma z */
  double alpha, beta, gamma, sigma;
  double l0, b0; /* b0 = 0 and beta = 0 without trend */
  int m;         /* season length; 1 without season */
  double s0[12]; /* additive seasonal states */
} sim_model;

/* Simulates n values of the model into y. */
static void simulate(const sim_model *sm, size_t n, uint64_t *seed, double *y) {
  double l = sm->l0, b = sm->b0, s[12];
  memcpy(s, sm->s0, sizeof s);
  for (size_t t = 0; t < n; t++) {
    int j = (int)(t % (size_t)sm->m);
    double mu = l + b + s[j], e = sm->sigma * rng_normal(seed) * (sm->error == 'M' ? mu : 1);
    y[t] = mu + e;
    l = l + b + sm->alpha * e;
    b = b + sm->beta * e;
    s[j] += sm->gamma * e;
  }
}

/* ---- known answers ---- */

static void test_constant_series_every_method(void **state) {
  (void)state;
  double y[24];
  for (int t = 0; t < 24; t++) y[t] = 42.5;
  for (int method = 0; method < DB_FC_METHOD_COUNT; method++) {
    db_fc_forecast f = forecast(y, 24, 12, (db_fc_method)method, 6);
    assert_string_equal(f.model, "Constant");
    for (int i = 0; i < 6; i++) {
      assert_true(f.mean[i] == 42.5 && f.lo95[i] == 42.5 && f.hi95[i] == 42.5);
      assert_true(f.lo80[i] == 42.5 && f.hi80[i] == 42.5);
    }
    db_fc_forecast_free(&f);
  }
}

static void test_naive_and_seasonal_naive(void **state) {
  (void)state;
  double y[8] = {1, 3, 2, 4, 3, 5, 4, 6};
  db_fc_forecast f = forecast(y, 8, 4, DB_FC_NAIVE, 3);
  assert_string_equal(f.model, "Naive");
  /* sigma^2 = mean squared one-step difference = (4+1+4+1+4+1+4)/7 = 19/7; sd_h = sigma sqrt(h) */
  for (int i = 0; i < 3; i++) {
    ASSERT_NEAR(f.mean[i], 6, 0);
    ASSERT_NEAR(f.hi95[i], 6 + 1.959963984540054 * sqrt(19.0 / 7 * (i + 1)), 1e-12);
  }
  db_fc_forecast_free(&f);
  f = forecast(y, 8, 4, DB_FC_SNAIVE, 6);
  assert_string_equal(f.model, "Seasonal naive");
  double expect[6] = {3, 5, 4, 6, 3, 5};
  /* lag-4 differences are all 2: sigma = 2, sd = 2 sqrt(1 + completed seasons) */
  for (int i = 0; i < 6; i++) {
    ASSERT_NEAR(f.mean[i], expect[i], 0);
    ASSERT_NEAR(f.hi80[i] - f.mean[i], 1.2815515655446004 * 2 * sqrt(1 + i / 4), 1e-12);
  }
  db_fc_forecast_free(&f);
}

static void test_holt_recovers_a_line(void **state) {
  (void)state;
  double y[30];
  for (int t = 0; t < 30; t++) y[t] = 10 + 2.5 * t;
  db_fc_forecast f = forecast(y, 30, 1, DB_FC_HOLT, 5);
  assert_string_equal(f.model, "ETS(A,A,N)");
  for (int i = 0; i < 5; i++) ASSERT_NEAR(f.mean[i], 10 + 2.5 * (30 + i), 1e-3);
  db_fc_forecast_free(&f);
}

static void test_holt_winters_recovers_a_seasonal_pattern(void **state) {
  (void)state;
  double y[48], season[4] = {12, -7, 3, -8};
  for (int t = 0; t < 48; t++) y[t] = 100 + 0.5 * t + season[t % 4];
  db_ets_model mod;
  char why[128] = "";
  db_ets_spec aaa = {'A', 'A', 'A'};
  if (db_ets_fit(y, 48, 4, aaa, &mod, why)) fail_msg("%s", why);
  db_fc_forecast f;
  assert_int_equal(db_ets_forecast(&mod, 8, &f, why), DB_OK);
  assert_string_equal(f.model, "ETS(A,A,A)");
  for (int i = 0; i < 8; i++) ASSERT_NEAR(f.mean[i], 100 + 0.5 * (48 + i) + season[(48 + i) % 4], 0.01);
  db_fc_forecast_free(&f);
}

static void test_multiplicative_refused_for_non_positive_data(void **state) {
  (void)state;
  double y[40];
  for (int t = 0; t < 40; t++) y[t] = 5 + sin(t) * 5;
  y[10] = 0;
  y[20] = -1;
  db_ets_model mod;
  char why[128] = "";
  db_ets_spec mnn = {'M', 'N', 'N'}, ana = {'A', 'N', 'M'};
  assert_int_equal(db_ets_fit(y, 40, 1, mnn, &mod, why), DB_EINVAL);
  assert_string_equal(why, "ETS(M,N,N) is multiplicative: it needs data that are all positive");
  assert_int_equal(db_ets_fit(y, 40, 4, ana, &mod, why), DB_EINVAL);
  assert_string_equal(why, "ETS(A,N,M) is multiplicative: it needs data that are all positive");
  /* automatic selection keeps to additive models, and the forecasts stay finite */
  assert_int_equal(db_ets_auto(y, 40, 4, &mod, why), DB_OK);
  assert_int_equal(mod.spec.error, 'A');
  assert_true(mod.spec.season != 'M');
  db_fc_forecast f = forecast(y, 40, 4, DB_FC_COMBO, 8);
  assert_sane(&f);
  db_fc_forecast_free(&f);
}

static void test_spec_and_length_refusals(void **state) {
  (void)state;
  double y[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  db_ets_model mod;
  char why[128] = "";
  db_ets_spec bad = {'X', 'N', 'N'}, aan = {'A', 'A', 'N'}, ana = {'A', 'N', 'A'};
  assert_int_equal(db_ets_fit(y, 10, 1, bad, &mod, why), DB_EINVAL);
  assert_string_equal(why, "invalid ETS model (X,N,N)");
  assert_int_equal(db_ets_fit(y, 5, 1, aan, &mod, why), DB_EINVAL);
  assert_string_equal(why, "ETS(A,A,N) has 5 parameters and needs at least 9 observations, the series has 5");
  assert_int_equal(db_ets_fit(y, 10, 12, ana, &mod, why), DB_EINVAL);
  assert_string_equal(why, "ETS(A,N,A) needs two full seasons (24 values), the series has 10");
  assert_int_equal(db_ets_fit(y, 10, 30, ana, &mod, why), DB_EINVAL);
  assert_string_equal(why, "ETS(A,N,A) needs a season of 2 to 24 periods (m = 30)");
  assert_int_equal(db_ets_auto(y, 4, 1, &mod, why), DB_EINVAL);
  assert_string_equal(why, "too few observations for any ETS model (at least 7 needed)");
}

/* ---- R's forecast package on classic series ---- */

/* R 4.2, forecast 8.20: f <- ets(Nile, model = "ANN"); f$loglik, f$par, f$sigma2;
 * forecast(f, h = 3, level = c(80, 95)) gives mean 805.3812829 and upper bounds 990.2217226 (80%) and
 * 1088.070341 (95%) at h = 1. */
static void test_ses_on_nile_matches_r(void **state) {
  (void)state;
  db_ets_model mod;
  char why[128] = "";
  db_ets_spec ann = {'A', 'N', 'N'};
  if (db_ets_fit(nile, 100, 1, ann, &mod, why)) fail_msg("%s", why);
  ASSERT_NEAR(mod.loglik, -726.39052, 0.01);
  ASSERT_NEAR(mod.alpha, 0.2455338627, 0.005);
  ASSERT_NEAR(mod.l0, 1110.6868599514, 2);
  ASSERT_NEAR(mod.sigma2, 20802.80103, 30);
  ASSERT_NEAR(mod.aicc, 1459.03104, 0.02);
  db_fc_forecast f;
  assert_int_equal(db_ets_forecast(&mod, 3, &f, why), DB_OK);
  ASSERT_NEAR(f.mean[0], 805.3812829, 0.5);
  ASSERT_NEAR(f.hi80[0], 990.2217226, 0.7);
  ASSERT_NEAR(f.hi95[0], 1088.070341, 0.8);
  db_fc_forecast_free(&f);
  /* R: ets(Nile, model = "MNN") has loglik -726.1509578, alpha 0.1514031662 */
  db_ets_spec mnn = {'M', 'N', 'N'};
  if (db_ets_fit(nile, 100, 1, mnn, &mod, why)) fail_msg("%s", why);
  ASSERT_NEAR(mod.loglik, -726.1509578, 0.01);
  ASSERT_NEAR(mod.alpha, 0.1514031662, 0.005);
}

/* R 4.2, forecast 8.20: ets(LakeHuron, model = "AAN", damped = FALSE)$loglik is -195.3458099 and
 * ets(WWWusage, model = "AAN", damped = TRUE)$loglik is -352.8654902. Our optimiser must find a
 * likelihood at least as high (it may be higher: R's Nelder-Mead stops early at times). */
static void test_holt_and_damped_reach_rs_likelihood(void **state) {
  (void)state;
  db_ets_model mod;
  char why[128] = "";
  db_ets_spec aan = {'A', 'A', 'N'}, aadn = {'A', 'D', 'N'};
  if (db_ets_fit(lake_huron, 98, 1, aan, &mod, why)) fail_msg("%s", why);
  if (mod.loglik < -195.3458099 - 0.01)
    fail_msg("LakeHuron ETS(A,A,N): loglik %.6f, R -195.3458099", mod.loglik);
  if (db_ets_fit(www_usage, 100, 1, aadn, &mod, why)) fail_msg("%s", why);
  if (mod.loglik < -352.8654902 - 0.01)
    fail_msg("WWWusage ETS(A,Ad,N): loglik %.6f, R -352.8654902", mod.loglik);
  ASSERT_NEAR(mod.phi, 0.815, 0.05); /* R: 0.81495802790 */
}

/* R 4.2, forecast 8.20: f <- ets(AirPassengers, model = "MAM", damped = TRUE) is ETS(M,Ad,M) with the
 * parameters below (f$par, all digits), loglik -679.5832162, sigma2 0.00153407635, and final states
 * (tail(f$states, 1)) l 485.912552397, b 1.80119750881 and 0.90586301363 for the January season. Running
 * our recursions from R's parameters must give R's likelihood and states. (The forecasts follow the
 * book, (l + phi b) s at h = 1 = 441.76937; forecast 8.20's forecast(f)$mean, 441.8018473, leaves the
 * damping out of the first step.) */
static void test_damped_multiplicative_recursion_matches_r(void **state) {
  (void)state;
  static const double r_s[11] = {8.94447475688874e-01, 7.99322028291066e-01, 9.21659598397272e-01,
                                 1.05920192983827e+00, 1.22030069724042e+00, 1.23179850716711e+00,
                                 1.11050018094692e+00, 9.78612760760472e-01, 9.80382073471814e-01,
                                 1.01103008804154e+00, 8.86892287222608e-01};
  db_ets_model mod = {.spec = {'M', 'D', 'M'}, .m = 12};
  mod.alpha = 7.09551916208791e-01;
  mod.beta = 2.04089193322359e-02;
  mod.gamma = 1.00468309718653e-04;
  mod.phi = 9.79999926683986e-01;
  mod.l0 = 1.20993935507203e+02;
  mod.b0 = 1.77054019711165e+00;
  double last = 12; /* R's s_-11 is what makes the twelve states average 1 */
  for (int j = 0; j < 11; j++) {
    mod.s0[11 - j] = r_s[j];
    last -= r_s[j];
  }
  mod.s0[0] = last;
  char why[128] = "";
  if (db_ets_eval(air, 144, &mod, why)) fail_msg("%s", why);
  ASSERT_NEAR(mod.loglik, -679.5832162, 1e-4);
  ASSERT_NEAR(mod.sigma2, 0.00153407635, 1e-9);
  assert_int_equal(mod.k, 18);
  db_fc_forecast f;
  assert_int_equal(db_ets_forecast(&mod, 3, &f, why), DB_OK);
  assert_string_equal(f.model, "ETS(M,Ad,M)");
  ASSERT_NEAR(mod.level, 485.912552397, 1e-6);
  ASSERT_NEAR(mod.slope, 1.80119750881, 1e-8);
  ASSERT_NEAR(mod.season[144 % 12], 0.90586301363, 1e-10);
  ASSERT_NEAR(f.mean[0], (485.912552397 + 9.79999926683986e-01 * 1.80119750881) * 0.90586301363, 1e-5);
  assert_sane(&f);
  db_fc_forecast_free(&f);
  /* R's automatic choice for AirPassengers is ETS(M,Ad,M); ours keeps a multiplicative season too */
  db_ets_model best;
  assert_int_equal(db_ets_auto(air, 144, 12, &best, why), DB_OK);
  assert_int_equal(best.spec.error, 'M');
  assert_int_equal(best.spec.season, 'M');
}

/* ---- selection, coverage, combination ---- */

static void test_aicc_picks_the_generating_model(void **state) {
  (void)state;
  static const struct {
    sim_model sm;
    const char *name;
  } cases[] = {
      {{'A', 0.3, 0, 0, 5, 100, 0, 1, {0}}, "ETS(A,N,N)"},
      {{'A', 0.4, 0.1, 0, 2, 50, 1, 1, {0}}, "ETS(A,A,N)"},
      {{'A', 0.2, 0, 0.1, 3, 0, 0, 4, {30, -10, 20, -40}}, "ETS(A,N,A)"}, /* crosses 0: additive only */
      {{'M', 0.3, 0, 0, 0.05, 300, 0, 1, {0}}, "ETS(M,N,N)"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    double y[400];
    uint64_t seed = 1000 + c;
    simulate(&cases[c].sm, 400, &seed, y);
    db_ets_model mod;
    char why[128] = "", name[16];
    if (db_ets_auto(y, 400, cases[c].sm.m, &mod, why)) fail_msg("%s", why);
    db_ets_name(mod.spec, name, sizeof name);
    if (strcmp(name, cases[c].name))
      fail_msg("case %zu: selected %s, generated by %s", c, name, cases[c].name);
  }
}

static void test_intervals_cover_on_simulated_ses_data(void **state) {
  (void)state;
  sim_model sm = {'A', 0.3, 0, 0, 1, 0, 0, 1, {0}};
  uint64_t seed = 7;
  size_t inside80 = 0, inside95 = 0, total = 0;
  double y[68];
  for (int series = 0; series < 400; series++) {
    simulate(&sm, 68, &seed, y);
    db_fc_forecast f = forecast(y, 60, 1, DB_FC_SES, 8);
    for (int i = 0; i < 8; i++) {
      inside80 += y[60 + i] >= f.lo80[i] && y[60 + i] <= f.hi80[i];
      inside95 += y[60 + i] >= f.lo95[i] && y[60 + i] <= f.hi95[i];
      total++;
    }
    db_fc_forecast_free(&f);
  }
  double c80 = 100.0 * (double)inside80 / (double)total, c95 = 100.0 * (double)inside95 / (double)total;
  if (c95 < 92 || c95 > 97.5 || c80 < 75 || c80 > 85) fail_msg("coverage 80%%: %.1f, 95%%: %.1f", c80, c95);
}

/* ETS by Akaike weights as forecast.h describes it, from the public ETS functions: every admissible
 * model, weights exp(-dAICc/2), models under 1/1000 of the total weight left out. */
static db_fc_forecast akaike_ets(const double *y, size_t n, int m, int h) {
  static const char *const specs[] = {"ANN", "AAN", "ADN", "ANA", "AAA", "ADA", "MNN", "MAN",
                                      "MDN", "MNA", "MAA", "MDA", "MNM", "MAM", "MDM"};
  db_ets_model fits[15];
  int count = 0;
  for (int i = 0; i < 15; i++) {
    db_ets_spec spec = {specs[i][0], specs[i][1], specs[i][2]};
    if (db_ets_fit(y, n, m, spec, &fits[count], NULL) == DB_OK) count++;
  }
  assert_true(count > 0);
  double best = fits[0].aicc, w[15], total = 0, kept = 0;
  for (int i = 1; i < count; i++) best = fmin(best, fits[i].aicc);
  for (int i = 0; i < count; i++) total += (w[i] = exp(-0.5 * (fits[i].aicc - best)));
  for (int i = 0; i < count; i++) kept += (w[i] = w[i] < total / 1000 ? 0 : w[i]);
  db_fc_forecast out = {h, db_calloc(5 * (size_t)h, sizeof(double)), NULL, NULL, NULL, NULL, NULL, NULL, ""};
  out.lo80 = out.mean + h, out.hi80 = out.mean + 2 * h, out.lo95 = out.mean + 3 * h,
  out.hi95 = out.mean + 4 * h;
  for (int i = 0; i < count; i++) {
    if (!w[i]) continue;
    db_fc_forecast f;
    assert_int_equal(db_ets_forecast(&fits[i], h, &f, NULL), DB_OK);
    for (int k = 0; k < h; k++) {
      out.mean[k] += w[i] / kept * f.mean[k];
      out.lo95[k] += w[i] / kept * f.lo95[k];
      out.hi80[k] += w[i] / kept * f.hi80[k];
    }
    db_fc_forecast_free(&f);
  }
  return out;
}

static double median3(double a, double b, double c) {
  double v[3] = {a, b, c};
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2 - i; j++)
      if (v[j] > v[j + 1]) {
        double t = v[j];
        v[j] = v[j + 1];
        v[j + 1] = t;
      }
  return v[1];
}

static void test_combination_is_the_median_of_its_members(void **state) {
  (void)state;
  double *y = db_malloc(60 * sizeof *y);
  for (int t = 0; t < 60; t++) y[t] = 200 + 0.3 * t + 25 * sin(6.283185307179586 * t / 12) + 7 * cos(t * 1.7);
  db_fc_forecast parts[3] = {akaike_ets(y, 60, 12, 12), forecast(y, 60, 12, DB_FC_OTHETA, 12),
                             forecast(y, 60, 12, DB_FC_DAMPED, 12)};
  db_fc_forecast c = forecast(y, 60, 12, DB_FC_COMBO, 12);
  assert_string_equal(parts[1].model, "Optimised Theta, seasonally adjusted");
  assert_string_equal(parts[2].model, "ETS(A,Ad,N), seasonally adjusted");
  assert_string_equal(c.model, "Median of ETS (AICc-weighted), optimised Theta, damped");
  for (int i = 0; i < 12; i++) {
    double m0 = parts[0].mean[i], m1 = parts[1].mean[i], m2 = parts[2].mean[i];
    double spread = fmax(fmax(m0, m1), m2) - fmin(fmin(m0, m1), m2);
    ASSERT_NEAR(c.mean[i], median3(m0, m1, m2), 1e-9);
    ASSERT_NEAR(c.lo95[i], median3(parts[0].lo95[i], parts[1].lo95[i], parts[2].lo95[i]) - spread, 1e-9);
    ASSERT_NEAR(c.hi80[i], median3(parts[0].hi80[i], parts[1].hi80[i], parts[2].hi80[i]) + spread, 1e-9);
  }
  assert_sane(&c);
  for (int p = 0; p < 3; p++) db_fc_forecast_free(&parts[p]);
  db_fc_forecast_free(&c);
  db_free(y);
}

static void test_theta_methods_on_a_trend(void **state) {
  (void)state;
  /* Standard Theta: SES plus half the regression slope; on an exact line SES follows the data
   * (alpha near 1), so the forecast rises by half the slope per step from the last value. */
  double y[20];
  for (int t = 0; t < 20; t++) y[t] = 3 * t + 10;
  db_fc_forecast f = forecast(y, 20, 1, DB_FC_THETA, 4);
  assert_string_equal(f.model, "Theta");
  for (int i = 1; i < 4; i++) ASSERT_NEAR(f.mean[i] - f.mean[i - 1], 1.5, 1e-6);
  db_fc_forecast_free(&f);
  /* Optimised Theta chooses theta freely and can follow the whole slope. */
  f = forecast(y, 20, 1, DB_FC_OTHETA, 4);
  assert_string_equal(f.model, "Optimised Theta");
  for (int i = 0; i < 4; i++) ASSERT_NEAR(f.mean[i], 3 * (20 + i) + 10, 0.05);
  db_fc_forecast_free(&f);
}

static void test_a_long_season_is_taken_out_before_ets(void **state) {
  (void)state;
  /* half-hourly data with a daily cycle (m = 48): longer than ETS keeps states for */
  size_t n = 480;
  double *y = db_malloc(n * sizeof *y);
  uint64_t seed = 11;
  for (size_t t = 0; t < n; t++)
    y[t] = 100 + 20 * sin(6.283185307179586 * (double)t / 48) + 0.5 * rng_normal(&seed);
  db_fc_forecast f = forecast(y, n, 48, DB_FC_ETS, 48);
  assert_non_null(strstr(f.model, ", seasonally adjusted"));
  for (int i = 0; i < 48; i++)
    ASSERT_NEAR(f.mean[i], 100 + 20 * sin(6.283185307179586 * (double)(n + i) / 48), 2);
  assert_sane(&f);
  db_fc_forecast_free(&f);
  db_free(y);
}

/* ---- accuracy ---- */

static void test_score_by_hand(void **state) {
  (void)state;
  double train[5] = {1, 2, 3, 4, 5}, actual[3] = {6, 8, NAN};
  db_fc_forecast f;
  assert_int_equal(db_forecast(train, 5, 1, DB_FC_NAIVE, 3, &f, NULL), DB_OK);
  f.mean[0] = 5, f.mean[1] = 10, f.mean[2] = 11;
  f.lo80[0] = 5.5, f.hi80[0] = 6.5, f.lo95[0] = 5, f.hi95[0] = 7; /* 6 inside both */
  f.lo80[1] = 9, f.hi80[1] = 11, f.lo95[1] = 7.9, f.hi95[1] = 12; /* 8 inside the 95% only */
  db_fc_accuracy a;
  assert_int_equal(db_fc_score(train, 5, 1, actual, 3, &f, &a, NULL), DB_OK);
  assert_int_equal(a.points, 2);
  ASSERT_NEAR(a.smape, (200.0 * 1 / 11 + 200.0 * 2 / 18) / 2, 1e-12);
  ASSERT_NEAR(a.mase, 1.5, 1e-12); /* mean |error| 1.5 over the mean |difference| 1 */
  ASSERT_NEAR(a.cover80, 50, 1e-12);
  ASSERT_NEAR(a.cover95, 100, 1e-12);
  /* a constant training series has no MASE scale */
  double flat[4] = {2, 2, 2, 2};
  assert_int_equal(db_fc_score(flat, 4, 1, actual, 2, &f, &a, NULL), DB_OK);
  assert_true(isnan(a.mase));
  char why[128] = "";
  double none[1] = {NAN};
  assert_int_equal(db_fc_score(train, 5, 1, none, 1, &f, &a, why), DB_EINVAL);
  assert_string_equal(why, "no actual value to score the forecast against");
  db_fc_forecast_free(&f);
}

static void test_backtest_by_hand(void **state) {
  (void)state;
  /* y = 1..10, naive, h = 2, origins at 6, 7, 8 values: the forecast is T, the actual T+1 and T+2 */
  double y[10];
  for (int t = 0; t < 10; t++) y[t] = t + 1;
  db_fc_accuracy a;
  char why[128] = "";
  if (db_fc_backtest(y, 10, 1, DB_FC_NAIVE, 2, 3, &a, why)) fail_msg("%s", why);
  double smape = 0;
  for (int T = 6; T <= 8; T++) smape += (200.0 / (2 * T + 1) + 400.0 / (2 * T + 2)) / 2;
  ASSERT_NEAR(a.smape, smape / 3, 1e-12);
  ASSERT_NEAR(a.mase, 1.5, 1e-12);
  assert_int_equal(a.points, 6);
  assert_int_equal(db_fc_backtest(y, 4, 1, DB_FC_NAIVE, 2, 3, &a, why), DB_EINVAL);
  assert_string_equal(why, "the series is too short for a back-test with horizon 2");
}

/* ---- degenerate series ---- */

static void test_degenerate_series(void **state) {
  (void)state;
  char why[128] = "";
  db_fc_forecast f;
  double empty[3] = {NAN, NAN, NAN};
  assert_int_equal(db_forecast(empty, 3, 1, DB_FC_ETS, 2, &f, why), DB_EINVAL);
  assert_string_equal(why, "the series has no observed value");
  double y[6] = {1, 2, 4, 3, 5, 6};
  assert_int_equal(db_forecast(y, 6, 1, DB_FC_ETS, 0, &f, why), DB_EINVAL);
  assert_string_equal(why, "horizon 0: must be at least 1");
  assert_int_equal(db_forecast(y, 6, 0, DB_FC_ETS, 2, &f, why), DB_EINVAL);
  assert_string_equal(why, "seasonal period 0: must be at least 1");
  /* too short for any ETS model: naive, for every method that needs more */
  for (int method = 0; method < DB_FC_METHOD_COUNT; method++) {
    f = forecast(y, 3, 12, (db_fc_method)method, 4);
    assert_sane(&f);
    if (method != DB_FC_COMBO) assert_string_equal(f.model, "Naive");
    db_fc_forecast_free(&f);
  }
  /* zeros are a constant series; gaps, leading gaps and zeros with other values stay finite */
  double zeros[12] = {0};
  f = forecast(zeros, 12, 4, DB_FC_COMBO, 3);
  assert_string_equal(f.model, "Constant");
  assert_true(f.mean[0] == 0);
  db_fc_forecast_free(&f);
  double gaps[40];
  for (int t = 0; t < 40; t++) gaps[t] = t % 7 == 3 || t < 2 || t == 39 ? NAN : 50 + (t % 4) * 10 + 0.5 * t;
  for (int method = 0; method < DB_FC_METHOD_COUNT; method++) {
    f = forecast(gaps, 40, 4, (db_fc_method)method, 8);
    assert_sane(&f);
    db_fc_forecast_free(&f);
  }
  double zigzag[20]; /* all season: nothing is left once the season is taken out */
  for (int t = 0; t < 20; t++) zigzag[t] = t % 2 ? -1 : 1;
  for (int method = 0; method < DB_FC_METHOD_COUNT; method++) {
    f = forecast(zigzag, 20, 2, (db_fc_method)method, 4);
    assert_sane(&f);
    db_fc_forecast_free(&f);
  }
  double spiky[30];
  for (int t = 0; t < 30; t++) spiky[t] = t % 5 ? 0 : 100;
  for (int method = 0; method < DB_FC_METHOD_COUNT; method++) {
    f = forecast(spiky, 30, 5, (db_fc_method)method, 10);
    assert_sane(&f);
    db_fc_forecast_free(&f);
  }
}

static void test_method_names(void **state) {
  (void)state;
  for (int method = 0; method < DB_FC_METHOD_COUNT; method++) {
    db_fc_method back;
    assert_int_equal(db_fc_method_parse(db_fc_method_name((db_fc_method)method), &back), DB_OK);
    assert_int_equal(back, method);
  }
  db_fc_method m;
  assert_int_equal(db_fc_method_parse("arima", &m), DB_EINVAL);
  assert_string_equal(db_fc_method_name(DB_FC_COMBO), "combo");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constant_series_every_method),
      cmocka_unit_test(test_naive_and_seasonal_naive),
      cmocka_unit_test(test_holt_recovers_a_line),
      cmocka_unit_test(test_holt_winters_recovers_a_seasonal_pattern),
      cmocka_unit_test(test_multiplicative_refused_for_non_positive_data),
      cmocka_unit_test(test_spec_and_length_refusals),
      cmocka_unit_test(test_ses_on_nile_matches_r),
      cmocka_unit_test(test_holt_and_damped_reach_rs_likelihood),
      cmocka_unit_test(test_damped_multiplicative_recursion_matches_r),
      cmocka_unit_test(test_aicc_picks_the_generating_model),
      cmocka_unit_test(test_intervals_cover_on_simulated_ses_data),
      cmocka_unit_test(test_combination_is_the_median_of_its_members),
      cmocka_unit_test(test_theta_methods_on_a_trend),
      cmocka_unit_test(test_a_long_season_is_taken_out_before_ets),
      cmocka_unit_test(test_score_by_hand),
      cmocka_unit_test(test_backtest_by_hand),
      cmocka_unit_test(test_degenerate_series),
      cmocka_unit_test(test_method_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
