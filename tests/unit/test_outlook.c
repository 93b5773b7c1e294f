/* test_outlook.c - forecasts of series as the API and the early warnings show them: the back-test that
 * chooses the method (exact accuracy on a straight line), the probability of missing a yearly plan on a
 * forecast built by hand (each figure worked out below), the anomaly test against the 99% interval, the
 * record's JSON round trip and its write in a real SQLite store (anomalies carried over a refit, the
 * anomaly event), a run over a cube with rebased history, and the stored intervals' coverage on simulated
 * series. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/err.h"
#include "base/mem.h"
#include "outlook/outlook.h"

#define ASSERT_NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))
#define Z95 1.959963984540054

static db_period month(int64_t y, int m) { return (db_period){DB_PT_MONTH, 0, y * 12 + m - 1}; }

/* Yearly values 10, 11, ..., 29: naive's back-test is known exactly. The last three origins fit on 15, 16
 * and 17 values and forecast hb = min(3, 20 / 4) = 3 years; naive says the last value, so its errors are
 * 1, 2, 3 at every origin against a MASE scale of 1 (every yearly difference is 1): MASE (1+2+3)/3 = 2.
 * Its interval is last +- z sigma sqrt(k) with sigma 1 (the differences' root mean square): errors 1, 2, 3
 * against 80% half-widths 1.28, 1.81, 2.22 (inside once of three) and 95% ones 1.96, 2.77, 3.39 (always
 * inside). A trend model follows the line exactly and is kept. */
static void test_backtest_on_a_line(void **state) {
  (void)state;
  double y[20];
  for (int t = 0; t < 20; t++) y[t] = 10 + t;
  db_period first = {DB_PT_YEAR, 0, 2000};
  db_outlook_fc f;
  char why[128];
  assert_int_equal(db_outlook_fit(y, 20, &first, 0, 1000, &f, why), DB_OK);
  assert_int_equal(f.origin.ord, 2019);
  assert_int_equal(f.fc.h, 3);
  assert_int_equal(f.backtest_h, 3);
  assert_int_equal(f.n_obs, 20);
  assert_int_equal(f.n_scores, 5); /* no seasonal naive for yearly data */
  const db_outlook_score *naive = NULL, *kept = NULL;
  for (int i = 0; i < f.n_scores; i++) {
    if (f.scores[i].method == DB_FC_NAIVE) naive = &f.scores[i];
    if (f.scores[i].method == f.method) kept = &f.scores[i];
  }
  assert_non_null(naive);
  assert_true(naive->scored);
  ASSERT_NEAR(naive->acc.mase, 2.0, 1e-12);
  /* sMAPE: origin T (values 10..T+9 seen) errs by k on the value T+9+k: mean of 200k/(2(T+9)+k) */
  double smape = 0;
  for (int T = 15; T <= 17; T++)
    for (int k = 1; k <= 3; k++) smape += 200.0 * k / (2 * (T + 9) + k) / 9;
  ASSERT_NEAR(naive->acc.smape, smape, 1e-9);
  ASSERT_NEAR(naive->acc.cover80, 100.0 / 3, 1e-9);
  ASSERT_NEAR(naive->acc.cover95, 100.0, 1e-9);
  assert_int_equal(naive->acc.points, 9);
  assert_true(f.method != DB_FC_NAIVE);
  assert_true(kept->acc.mase < 0.05);
  ASSERT_NEAR(f.fc.mean[0], 30, 0.05);
  ASSERT_NEAR(f.fc.mean[2], 32, 0.15);
  db_outlook_fc_free(&f);
}

/* Too few values is a refusal with the reason; trailing gaps move the origin back. */
static void test_short_and_gappy(void **state) {
  (void)state;
  double y[12] = {1, 2, NAN, 4, 5, 6, 7, NAN, NAN, NAN, NAN, NAN};
  db_period first = month(2025, 1);
  db_outlook_fc f;
  char why[128];
  assert_int_equal(db_outlook_fit(y, 12, &first, 0, 0, &f, why), DB_EINVAL);
  assert_string_equal(why, "6 observed values: a forecast needs at least 8");
  double z[14] = {5, 6, 5, 7, 6, 8, 7, 9, 8, NAN, 10, 9, NAN, NAN};
  assert_int_equal(db_outlook_fit(z, 14, &first, 0, 0, &f, why), DB_OK);
  char code[DB_PERIOD_CODE_MAX];
  db_period_format(&f.origin, code);
  assert_string_equal(code, "2025-12");
  assert_int_equal(f.fc.h, 12);
  assert_int_equal(f.n_year_obs, 12); /* January to December 2025, the gap of October included */
  assert_true(isnan(f.year_obs[9]));
  ASSERT_NEAR(f.year_obs[11], 9, 0);
  for (int k = 0; k < f.fc.h; k++) assert_true(isfinite(f.fc.mean[k]) && f.fc.lo99[k] <= f.fc.lo95[k]);
  db_outlook_fc_free(&f);
  /* from an origin in June the horizon reaches the end of the year even when asked for less */
  assert_int_equal(db_outlook_fit(z, 6 + 3, &first, 2, 0, &f, why), DB_OK);
  assert_int_equal(f.fc.h, 3);
  db_outlook_fc_free(&f);
}

/* A random-walk forecast built by hand: origin September 2025, three steps of mean 10 and standard
 * deviation sqrt(k) (sigma 1), and nine observed months of 10 each. */
static db_outlook_fc hand_forecast(void) {
  db_outlook_fc f;
  memset(&f, 0, sizeof f);
  f.origin = month(2025, 9);
  f.m = 12;
  f.method = DB_FC_NAIVE;
  f.fc.h = 3;
  f.fc.mean = db_malloc(21 * sizeof(double));
  double **a[7] = {&f.fc.mean, &f.fc.lo80, &f.fc.hi80, &f.fc.lo95, &f.fc.hi95, &f.fc.lo99, &f.fc.hi99};
  for (int i = 1; i < 7; i++) *a[i] = f.fc.mean + 3 * i;
  const double z[7] = {0, -1.2815515655446004, 1.2815515655446004, -Z95, Z95, -2.5758293035489004,
                       2.5758293035489004};
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 7; i++) (*a[i])[k] = 10 + z[i] * sqrt(k + 1.0);
  f.n_year_obs = 9;
  f.year_obs = db_malloc(9 * sizeof(double));
  for (int i = 0; i < 9; i++) f.year_obs[i] = 10;
  return f;
}

/* The year's total is 90 observed + 30 forecast = 120. The three forecast errors share innovations: step k
 * is e1 + ... + ek, so their sum is 3 e1 + 2 e2 + 1 e3, of variance 9 + 4 + 1 = 14. Against a plan of 125,
 * P(total < 125) = Phi(5 / sqrt 14) = Phi(1.336306) = 0.909275. */
static void test_p_miss_by_hand(void **state) {
  (void)state;
  db_outlook_fc f = hand_forecast();
  db_outlook_target t;
  assert_int_equal(db_outlook_p_miss(&f, 2025, 125, DB_AGG_SUM, DB_POL_HIGHER, 90, &t), 1);
  ASSERT_NEAR(t.expected, 120, 1e-9);
  ASSERT_NEAR(t.sd, sqrt(14), 1e-9);
  ASSERT_NEAR(t.p_miss, 0.909275, 1e-6);
  /* lower is better: missing is going over the plan */
  assert_int_equal(db_outlook_p_miss(&f, 2025, 125, DB_AGG_SUM, DB_POL_LOWER, 90, &t), 1);
  ASSERT_NEAR(t.p_miss, 1 - 0.909275, 1e-6);
  /* neutral: missing is leaving plan +- 10% (band 90): P(T < 112.5) + P(T > 137.5)
   * = Phi(-7.5 / 3.741657) + 1 - Phi(17.5 / 3.741657) = 0.0225104 + 0.0000015 = 0.022512 */
  assert_int_equal(db_outlook_p_miss(&f, 2025, 125, DB_AGG_SUM, DB_POL_NEUTRAL, 90, &t), 1);
  ASSERT_NEAR(t.p_miss, 0.022512, 1e-6);
  /* a rate: the year's mean, 120 / 12 = 10 with sd sqrt(14) / 12 */
  assert_int_equal(db_outlook_p_miss(&f, 2025, 10.5, DB_AGG_AVG, DB_POL_HIGHER, 90, &t), 1);
  ASSERT_NEAR(t.expected, 10, 1e-12);
  ASSERT_NEAR(t.sd, sqrt(14) / 12, 1e-12);
  /* a stock: December's value, 10 with sd sqrt 3: P(< 9) = Phi(-1 / 1.732051) = Phi(-0.57735) = 0.281851 */
  assert_int_equal(db_outlook_p_miss(&f, 2025, 9, DB_AGG_LAST, DB_POL_HIGHER, 90, &t), 1);
  ASSERT_NEAR(t.sd, sqrt(3), 1e-12);
  ASSERT_NEAR(t.p_miss, 1 - 0.718149, 1e-6);
  /* what cannot be said is missing: a year the forecast does not reach, min/max rules, a gap, no plan */
  assert_int_equal(db_outlook_p_miss(&f, 2026, 125, DB_AGG_SUM, DB_POL_HIGHER, 90, &t), 0);
  assert_true(isnan(t.p_miss));
  assert_int_equal(db_outlook_p_miss(&f, 2025, 125, DB_AGG_MAX, DB_POL_HIGHER, 90, &t), 0);
  assert_int_equal(db_outlook_p_miss(&f, 2024, 125, DB_AGG_SUM, DB_POL_HIGHER, 90, &t), 0);
  assert_int_equal(db_outlook_p_miss(&f, 2025, NAN, DB_AGG_SUM, DB_POL_HIGHER, 90, &t), 0);
  f.year_obs[4] = NAN;
  assert_int_equal(db_outlook_p_miss(&f, 2025, 125, DB_AGG_SUM, DB_POL_HIGHER, 90, &t), 0);
  db_outlook_fc_free(&f);
}

/* A finished year is certain: 12 observed months summing to 120 miss a plan of 125 and meet one of 120. */
static void test_p_miss_finished_year(void **state) {
  (void)state;
  db_outlook_fc f = hand_forecast();
  f.origin = month(2025, 12);
  f.year_obs = db_realloc(f.year_obs, 12 * sizeof(double));
  for (int i = 0; i < 12; i++) f.year_obs[i] = 10;
  f.n_year_obs = 12;
  db_outlook_target t;
  assert_int_equal(db_outlook_p_miss(&f, 2025, 125, DB_AGG_SUM, DB_POL_HIGHER, 90, &t), 1);
  assert_true(t.p_miss == 1 && t.sd == 0 && t.expected == 120);
  assert_int_equal(db_outlook_p_miss(&f, 2025, 120, DB_AGG_SUM, DB_POL_HIGHER, 90, &t), 1);
  assert_true(t.p_miss == 0);
  db_outlook_fc_free(&f);
}

/* The variance of a sum of correlated h-step errors checked against simulation: 20,000 random walks. */
static void test_sum_variance_simulated(void **state) {
  (void)state;
  db_outlook_fc f = hand_forecast();
  uint64_t seed = 42;
  double sum = 0, squares = 0;
  int paths = 20000;
  for (int p = 0; p < paths; p++) {
    double level = 0, total = 0;
    for (int k = 0; k < 3; k++) {
      double u1, u2; /* Box-Muller from a 64-bit LCG */
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      u1 = ((seed >> 11) + 0.5) / 9007199254740992.0;
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      u2 = ((seed >> 11) + 0.5) / 9007199254740992.0;
      level += sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
      total += level;
    }
    sum += total;
    squares += total * total;
  }
  double var = squares / paths - (sum / paths) * (sum / paths);
  db_outlook_target t;
  db_outlook_p_miss(&f, 2025, 125, DB_AGG_SUM, DB_POL_HIGHER, 90, &t);
  ASSERT_NEAR(t.sd * t.sd, var, 0.05 * 14); /* 14 within sampling error (sd of the estimate ~ 0.14) */
  db_outlook_fc_free(&f);
}

static void test_anomaly(void **state) {
  (void)state;
  db_outlook_fc f = hand_forecast();
  double lo, hi;
  db_period oct = month(2025, 10), dec = month(2025, 12), jan = month(2026, 1), sep = month(2025, 9);
  assert_int_equal(db_outlook_anomaly(&f, &oct, 12.5, &lo, &hi), 0); /* inside 10 +- 2.576 */
  ASSERT_NEAR(hi, 12.5758293035489004, 1e-12);
  assert_int_equal(db_outlook_anomaly(&f, &oct, 12.6, &lo, &hi), 1);
  assert_int_equal(db_outlook_anomaly(&f, &dec, 10 - 2.5758293035489004 * sqrt(3) - 0.01, &lo, &hi), 1);
  assert_int_equal(db_outlook_anomaly(&f, &jan, 1000, &lo, &hi), 0); /* beyond the horizon */
  assert_int_equal(db_outlook_anomaly(&f, &sep, 1000, &lo, &hi), 0); /* the origin itself */
  db_period year = {DB_PT_YEAR, 0, 2025};
  assert_int_equal(db_outlook_anomaly(&f, &year, 1000, &lo, &hi), 0); /* another periodicity */
  db_outlook_fc_free(&f);
}

static void test_json_round_trip(void **state) {
  (void)state;
  db_outlook_fc f = hand_forecast(), back;
  f.n_scores = 1;
  f.scores[0] = (db_outlook_score){DB_FC_NAIVE, 1, {4.5, NAN, 80, 95, 9}};
  f.fitted_ms = 1750000000000;
  db_outlook_meta meta = {"BUDGET_REV", "79", "", DB_AGG_SUM, DB_POL_HIGHER, 90}, m2;
  json_t *doc = db_outlook_to_json(&f, &meta);
  assert_string_equal(json_string_value(json_object_get(doc, "origin")), "2025-09");
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "values"), 2), "period")),
                      "2025-12");
  assert_true(json_is_null(json_object_get(json_array_get(json_object_get(doc, "accuracy"), 0), "mase")));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "year_to_date"), "year")), 2025);
  char why[128];
  assert_int_equal(db_outlook_from_json(doc, &back, &m2, why), DB_OK);
  assert_int_equal(back.origin.ord, f.origin.ord);
  assert_int_equal(back.fc.h, 3);
  for (int k = 0; k < 3; k++) assert_true(back.fc.hi99[k] == f.fc.hi99[k] && back.fc.lo80[k] == f.fc.lo80[k]);
  assert_int_equal(back.n_year_obs, 9);
  assert_int_equal(m2.agg_time, DB_AGG_SUM);
  assert_int_equal(m2.polarity, DB_POL_HIGHER);
  assert_string_equal(m2.indicator, "BUDGET_REV");
  json_object_del(doc, "origin");
  db_outlook_fc_free(&back);
  assert_int_equal(db_outlook_from_json(doc, &back, NULL, why), DB_EINVAL);
  assert_string_equal(why, "forecast record: no origin period");
  json_decref(doc);
  db_outlook_fc_free(&f);
}

/* The events of the log, as read_event sees them: how many, and the last one's kind and body. */
typedef struct seen_events {
  int n;
  char kind[64], body[512];
} seen_events;

static int read_event(void *ctx, const db_event *e) {
  seen_events *seen = ctx;
  seen->n++;
  snprintf(seen->kind, sizeof seen->kind, "%s", e->kind);
  snprintf(seen->body, sizeof seen->body, "%s", e->body);
  return 0;
}

/* The record in a real store: written, flagged (event + record), replaced by a refit that keeps the flag. */
static void test_store_and_flag(void **state) {
  (void)state;
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "s.db"), url[600];
  snprintf(url, sizeof url, "sqlite:%s", path);
  db_store *s;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(url, &s, &d), DB_OK);
  db_outlook_fc f = hand_forecast();
  db_outlook_meta meta = {"EXPORTS", "79", "", DB_AGG_SUM, DB_POL_HIGHER, 90};
  char key[128];
  db_outlook_key("EXPORTS", "79", "", key, sizeof key);
  assert_string_equal(key, "EXPORTS/79");
  db_outlook_key("EXPORTS", "79", "SEX=F", key, sizeof key);
  assert_string_equal(key, "EXPORTS/79/SEX=F");
  db_outlook_key("EXPORTS", "79", NULL, key, sizeof key);
  json_t *doc = db_outlook_to_json(&f, &meta);
  assert_int_equal(db_store_begin(s, 0), DB_OK);
  assert_int_equal(db_outlook_store_put(s, key, doc), DB_OK);
  db_period oct = month(2025, 10);
  assert_int_equal(db_outlook_flag(s, &meta, &oct, 99, 7.5, 12.25, 17, 1750000000000), DB_OK);
  assert_int_equal(db_outlook_store_put(s, key, doc), DB_OK); /* the refit */
  assert_int_equal(db_store_commit(s), DB_OK);
  json_decref(doc);
  db_record r;
  assert_int_equal(db_store_record_get(s, DB_OUTLOOK_KIND, 0, "EXPORTS/79", &r), DB_OK);
  assert_int_equal(r.version, 3);
  json_t *back = json_loads(r.body, 0, NULL);
  json_t *a = json_array_get(json_object_get(back, "anomalies"), 0);
  assert_string_equal(json_string_value(json_object_get(a, "period")), "2025-10");
  assert_true(json_number_value(json_object_get(a, "value")) == 99);
  assert_int_equal(json_integer_value(json_object_get(a, "seq")), 17);
  assert_int_equal(json_integer_value(json_object_get(a, "event")), 1);
  json_decref(back);
  db_record_free(&r);
  seen_events seen = {0, "", ""};
  assert_int_equal(db_store_event_read(s, 0, read_event, &seen), DB_OK);
  assert_int_equal(seen.n, 1);
  assert_string_equal(seen.kind, "forecast.anomaly");
  assert_string_equal(seen.body, "{\"indicator\":\"EXPORTS\",\"orgunit\":\"79\",\"dims\":\"\",\"period\":\"2025-10\","
                                 "\"value\":99.0,\"lo99\":7.5,\"hi99\":12.25,\"seq\":17,"
                                 "\"at\":\"2025-06-15T15:06:40.000Z\"}");
  db_store_close(s);
  db_outlook_fc_free(&f);
  db_test_rmtree(dir);
  db_free(dir);
  db_free(path);
}

/* Stored 95% intervals on simulated local-level series (y = level + noise, the level a random walk): the
 * share of the next three values inside them is 95% within a binomial tolerance. 300 series x 3 steps
 * = 900 points: the standard error of a 95% share is 0.73 points; the steps of one series are
 * correlated, so the tolerance is 4 standard errors. */
static void test_stored_interval_coverage(void **state) {
  (void)state;
  uint64_t seed = 7;
  int inside = 0, points = 0;
  for (int s = 0; s < 300; s++) {
    double y[43], level = 100;
    for (int t = 0; t < 43; t++) {
      double g[2];
      for (int j = 0; j < 2; j++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double u1 = ((seed >> 11) + 0.5) / 9007199254740992.0;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double u2 = ((seed >> 11) + 0.5) / 9007199254740992.0;
        g[j] = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
      }
      level += 2 * g[0];
      y[t] = level + 4 * g[1];
    }
    db_period first = {DB_PT_QUARTER, 0, 2000 * 4};
    db_outlook_fc f;
    assert_int_equal(db_outlook_fit(y, 40, &first, 3, 0, &f, NULL), DB_OK);
    for (int k = 0; k < 3; k++) {
      inside += y[40 + k] >= f.fc.lo95[k] && y[40 + k] <= f.fc.hi95[k];
      points++;
    }
    db_outlook_fc_free(&f);
  }
  double share = 100.0 * inside / points;
  print_message("stored 95%% intervals hold %.1f%% of %d values\n", share, points);
  assert_true(share >= 95 - 4 * 0.73 && share <= 95 + 4 * 0.73);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backtest_on_a_line),   cmocka_unit_test(test_short_and_gappy),
      cmocka_unit_test(test_p_miss_by_hand),       cmocka_unit_test(test_p_miss_finished_year),
      cmocka_unit_test(test_sum_variance_simulated), cmocka_unit_test(test_anomaly),
      cmocka_unit_test(test_json_round_trip),      cmocka_unit_test(test_store_and_flag),
      cmocka_unit_test(test_stored_interval_coverage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
