/* forecast.h - forecasting one series: models, point forecasts with 80% and 95% prediction intervals,
 * and their accuracy on hold-out data.
 *
 * A series is an array of doubles in time order, NaN for a missing value, with a seasonal period m
 * (1 = no season, 4 quarterly, 12 monthly). Leading missing values are ignored; inner and trailing ones
 * are skipped by the ETS likelihood and interpolated (inner) or carried forward (trailing) by the other
 * methods. A forecast covers the h periods after the last element of the array.
 *
 * Methods (db_fc_method):
 *   naive    the last observed value; random-walk intervals
 *   snaive   the value one season earlier; seasonal random-walk intervals
 *   ses, holt, damped   ETS(A,N,N), ETS(A,A,N), ETS(A,Ad,N) fitted by maximum likelihood
 *   theta    the standard Theta method (SES with drift of half the regression slope; Hyndman and
 *            Billah 2003), as R's forecast::thetaf
 *   otheta   the optimised Theta model (Fiorucci et al. 2016): level, alpha and theta by least squares
 *   ets      automatic ETS: every admissible model fitted by maximum likelihood, the lowest AICc kept
 *   combo    the combination (the default of the command line; the M4 lesson that combinations beat
 *            single models): step by step, the median of ETS by Akaike weights (every admissible model
 *            weighted by exp(-dAICc/2), Kolassa 2011), optimised Theta and damped trend; each interval
 *            bound is the median of the members' bounds moved out by the spread of their point forecasts
 *            (the uncertainty about the model, which each model's own interval leaves out)
 * ses, holt, damped, theta and otheta work on seasonally adjusted data when a 90% test of the lag-m
 * autocorrelation finds seasonality (as thetaf does): a classical multiplicative decomposition (additive
 * when the data are not all positive) takes the season out, and the forecasts and bounds get it back.
 * So does automatic ETS for seasons longer than DB_ETS_MAX_M.
 *
 * ETS (Hyndman et al. 2008) is error A or M; trend N, A or Ad (damped); season N, A or M, with the
 * smoothing parameters in R's "usual" region (1e-4 <= beta <= alpha <= 0.9999, 1e-4 <= gamma <= 1 -
 * alpha, 0.8 <= phi <= 0.98). Parameters and the initial level and slope are estimated by maximum
 * likelihood (Nelder-Mead with restarts over transformed, unbounded parameters); initial seasonal states
 * start from a classical decomposition and are refined by Gauss-Newton steps on the one-step errors,
 * after which the parameters are optimised once more. Multiplicative error or season needs strictly
 * positive data. Automatic selection considers the models R's forecast::ets does by default: error A
 * with season N or A, error M with any season (R's restrict = TRUE: the A,*,M models can have infinite
 * forecast variance), seasonal ones only when 2 <= m <= DB_ETS_MAX_M and two full seasons are observed.
 * Intervals are analytic for classes 1 and 2 (linear models; Hyndman et al. 2008 §6.2-6.3) and
 * simulated (fixed seed, 1,000 paths) for models with a multiplicative season; naive, snaive and the
 * Theta methods have analytic normal intervals.
 *
 * Ownership: a db_fc_forecast owns one block for its seven arrays; db_fc_forecast_free releases it.
 * Everything else is plain data. Thread-safety: no global state (simulations seed themselves), so
 * threads may fit different series at the same time. Failures are DB_EINVAL with the reason in `why`
 * (a 128-byte buffer, may be NULL); no function aborts on bad data or returns NaN forecasts. */
#ifndef DB_FORECAST_H
#define DB_FORECAST_H
#include <stddef.h>

#define DB_ETS_MAX_M 24    /* the longest season ETS models keep states for (as R's ets) */
#define DB_FC_MODEL_MAX 64 /* size of a model description, NUL included */
#define DB_FC_SIM_PATHS 1000

typedef enum db_fc_method {
  DB_FC_NAIVE,
  DB_FC_SNAIVE,
  DB_FC_SES,
  DB_FC_HOLT,
  DB_FC_DAMPED,
  DB_FC_ETS,
  DB_FC_THETA,
  DB_FC_OTHETA,
  DB_FC_COMBO,
} db_fc_method;
#define DB_FC_METHOD_COUNT 9

/* The method's name as the command line spells it ("naive", ... "combo"), and back: 0 or DB_EINVAL. */
const char *db_fc_method_name(db_fc_method m);
int db_fc_method_parse(const char *name, db_fc_method *out);

/* A forecast of h steps: mean and the bounds of the 80%, 95% and 99% prediction intervals. */
typedef struct db_fc_forecast {
  int h;
  double *mean, *lo80, *hi80, *lo95, *hi95; /* h values each, in one block owned by the forecast */
  double *lo99, *hi99;                      /* (99%: what an anomaly falls outside of) */
  char model[DB_FC_MODEL_MAX];              /* what made it: "ETS(M,Ad,N)", "Theta, seasonally adjusted" */
} db_fc_forecast;

void db_fc_forecast_free(db_fc_forecast *f);

/* Fits `method` to y[0..n) with seasonal period m and forecasts h steps into *out (which the caller
 * frees with db_fc_forecast_free). A constant series gets its value with zero-width intervals; a series
 * too short for the method falls back to a simpler one (damped -> holt -> ses -> naive, snaive ->
 * naive) and says so in out->model. Returns 0, or DB_EINVAL (m < 1, h < 1, no observed value). */
int db_forecast(const double *y, size_t n, int m, db_fc_method method, int h, db_fc_forecast *out,
                char why[128]);

/* ---- ETS ---- */

typedef struct db_ets_spec {
  char error;  /* 'A' additive, 'M' multiplicative */
  char trend;  /* 'N' none, 'A' additive, 'D' additive damped */
  char season; /* 'N' none, 'A' additive, 'M' multiplicative */
} db_ets_spec;

/* A fitted (or given) ETS model. Seasonal states are indexed by time modulo m: s0[j] is the state
 * used at time j of the series (0 <= j < m), season[j] the one used next at a time t with t % m == j.
 * R's forecast::ets prints s0 as s_0, s_-1, ..., s_-(m-1): s0[j] here is R's s[m-1-j]. */
typedef struct db_ets_model {
  db_ets_spec spec;
  int m;                           /* the season's length (1 without season) */
  double alpha, beta, gamma, phi;  /* beta 0 without trend, gamma 0 without season, phi 1 unless damped */
  double l0, b0, s0[DB_ETS_MAX_M]; /* initial states (b0 0 without trend) */
  double level, slope, season[DB_ETS_MAX_M]; /* states after the last element of the series */
  size_t nobs;   /* length of the series, missing values included: the forecast origin */
  size_t n;      /* observed values in the likelihood */
  int k;         /* estimated parameters, the variance included (R's np) */
  double sigma2; /* residual variance sum(e^2)/(n-k+1) as R's, e relative for error M */
  double loglik; /* -0.5 * (n log sum(e^2) + 2 sum log|mu|), as forecast::ets reports it */
  double aic, aicc, bic;
} db_ets_model;

/* "ETS(M,Ad,M)" into out (at least 12 bytes). */
void db_ets_name(db_ets_spec spec, char *out, size_t size);

/* Fits one ETS model to y[0..n) by maximum likelihood (a multiplicative-error model with season N or A
 * starts from the optimum of its additive-error twin). DB_EINVAL with the reason when the model cannot
 * be fitted: an invalid spec, a multiplicative part with data not all positive, a season with m < 2,
 * m > DB_ETS_MAX_M or fewer than two full seasons observed, fewer observations than parameters + 4. */
int db_ets_fit(const double *y, size_t n, int m, db_ets_spec spec, db_ets_model *out, char why[128]);

/* Fits every admissible model (see above) and keeps the one with the lowest AICc. DB_EINVAL when none
 * can be fitted (fewer than 7 observations). */
int db_ets_auto(const double *y, size_t n, int m, db_ets_model *out, char why[128]);

/* Runs the model's recursions over y[0..n) from its parameters and initial states (spec, m, alpha, beta,
 * gamma, phi, l0, b0, s0 and k are read; k = 0 counts the parameters a fit estimates) and fills in the
 * final states, n, nobs, sigma2, loglik and the information criteria. DB_EINVAL when a multiplicative
 * model's forecast or state is not positive along the way (the model does not fit these data). */
int db_ets_eval(const double *y, size_t n, db_ets_model *mod, char why[128]);

/* Forecasts h steps from a fitted model into *out. */
int db_ets_forecast(const db_ets_model *mod, int h, db_fc_forecast *out, char why[128]);

/* ---- accuracy ---- */

/* Accuracy of a forecast against the actual values that followed the training data. */
typedef struct db_fc_accuracy {
  double smape;   /* mean of 200|y-f|/(|y|+|f|), percent (a point where both are 0 scores 0) */
  double mase;    /* mean |y-f| over the in-sample mean |y_t - y_(t-m)| (lag 1 when the series is
                     shorter than m + 1); NaN when that scale is 0 or undefined */
  double cover80; /* percent of actual values inside the 80% interval */
  double cover95; /* percent inside the 95% interval */
  size_t points;  /* actual values scored (missing ones are skipped) */
} db_fc_accuracy;

/* Scores the first min(h, n_actual) steps of f against actual[] (NaN = not scored); train[0..n_train)
 * with period m gives the MASE scale. DB_EINVAL when no point can be scored. */
int db_fc_score(const double *train, size_t n_train, int m, const double *actual, size_t n_actual,
                const db_fc_forecast *f, db_fc_accuracy *acc, char why[128]);

/* Rolling-origin back-test of `method` on y[0..n): the model is fitted on y[0..T) and scored on the
 * next h values for `origins` consecutive origins T = n-h-origins+1 ... n-h (fewer when the series is
 * too short; each origin keeps at least 3 values to fit on). sMAPE and MASE are the means over origins,
 * coverage is pooled over every scored point. DB_EINVAL when no origin can be scored. */
int db_fc_backtest(const double *y, size_t n, int m, db_fc_method method, int h, int origins,
                   db_fc_accuracy *acc, char why[128]);

#endif
