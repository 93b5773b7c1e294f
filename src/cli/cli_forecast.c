/* cli_forecast.c - `databrain forecast eval`: fit, forecast and score every series of a long file;
 * `databrain forecast run` and `forecast show`: the forecasts of the store's series (outlook/outlook.h).
 *
 * The file is the long format of the M1 fixture (series_id,category,type,frequency,horizon,t,time,value,
 * split): the rows of a series together, in time order, its `train` rows before its `test` rows. Every
 * problem of the file is listed with its line and column before anything is fitted. Two worker threads
 * take series from a shared counter (one per core of the reference machine) while the main thread draws
 * a progress bar on a terminal; forecasts are written in the order of the input. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "cli/cli.h"
#include "forecast/forecast.h"
#include "ingest/csv.h"
#include "outlook/outlook.h"

#define WORKERS 2
#define MAX_SEASON 10000
#define MAX_HORIZON 100000

static int run_eval(cli_ctx *ctx, int argc, char **argv);
static int run_run(cli_ctx *ctx, int argc, char **argv);
static int run_show(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_forecast_commands[] = {
    {"forecast eval", "--input FILE [--output FILE] [--method NAME]",
     "Fit, forecast and score every series of a long file; print the accuracy.",
     "FILE has the columns series_id,category,type,frequency,horizon,t,time,value,split (category,\n"
     "type, t and time are optional): the rows of a series together and in time order, `train` rows\n"
     "then `test` rows; an empty or NA value is missing. Each series is fitted on its train rows and\n"
     "forecast `horizon` steps; the forecasts are scored against its test rows.\n\n"
     "--method NAME   naive, snaive, ses, holt, damped, ets (automatic ETS), theta, otheta (optimised\n"
     "                Theta) or combo (the default: the median of ETS by Akaike weights, otheta and\n"
     "                damped, with intervals widened by the members' disagreement)\n"
     "--output FILE   writes series_id,h,mean,lo80,hi80,lo95,hi95 (80% and 95% prediction intervals)\n\n"
     "Prints one line: series=N smape=S mase=M coverage95=C seconds=T (sMAPE and coverage in percent,\n"
     "means over the series with test rows; coverage counts the test values inside the 95% intervals).\n",
     run_eval},
    {"forecast run", "[--indicator CODES] [--unit CODES] [--threads N] [--horizon H]",
     "Forecast the store's series and keep the forecasts with their back-test accuracy.",
     "Every series with at least 8 observed values (of an indicator without a formula, at a unit that still\n"
     "exists) is fitted on its current values: each candidate method (naive, seasonal naive, SES, Theta,\n"
     "damped trend, the combination) is back-tested on 3 rolling origins, the one of lowest MASE is kept and\n"
     "forecasts the next periods (a year for months, with 80%, 95% and 99% intervals). The forecasts are\n"
     "stored (records of kind forecast) for the API, the formula functions and the anomaly checks.\n\n"
     "--indicator CODES  only these indicators (comma-separated)\n"
     "--unit CODES       only these org units (comma-separated)\n"
     "--threads N        worker threads (default: the number of cores)\n"
     "--horizon H        periods to forecast (default by periodicity, always to the end of the year)\n\n"
     "Shows a progress bar on a terminal and prints one line: series=N forecast=F skipped=S smape=...\n"
     "mase=... coverage95=... seconds=T (the kept methods' back-test accuracy, means over the series).\n",
     run_run},
    {"forecast show", "INDICATOR ORGUNIT [--dims KEY] [--json]",
     "Show the stored forecast of one series: periods with intervals, model and accuracy.",
     "--dims KEY   the series' dimension key (\"SEX=F\")\n"
     "--json       print the stored record as JSON\n",
     run_show},
    {0},
};

/* One series of the file: its values are ds->values[start .. start + n_train + n_test). */
typedef struct series {
  const char *id; /* owned by the dataset's map */
  int m, h;
  size_t start, n_train, n_test, observed;
  long line;      /* its first row */
  int64_t last_t; /* t of its last row (when the file has t) */
} series;

typedef struct dataset {
  series *items;
  size_t count, cap;
  double *values;
  size_t n_values, cap_values;
  db_map ids; /* series_id -> index */
} dataset;

enum { C_ID, C_CATEGORY, C_TYPE, C_FREQ, C_HORIZON, C_T, C_TIME, C_VALUE, C_SPLIT, C_COUNT };
static const char *const column_names[C_COUNT] = {"series_id", "category", "type",  "frequency", "horizon",
                                                  "t",         "time",     "value", "split"};
static const int required[] = {C_ID, C_FREQ, C_HORIZON, C_VALUE, C_SPLIT};

/* The work shared by the threads: each series' forecast and accuracy, and the counters. */
typedef struct job {
  const dataset *ds;
  db_fc_method method;
  db_fc_forecast *forecasts;
  db_fc_accuracy *accuracy;
  int *scored;   /* 1 when accuracy[i] holds a score */
  size_t *order; /* the series, longest first: the long ones do not end up alone on one thread */
  atomic_size_t next, done;
  atomic_int failed;    /* 1 + the first series that could not be forecast, 0 when none */
  pthread_mutex_t lock; /* with `finished`: wakes the main thread when the last series is done */
  pthread_cond_t finished;
} job;

static int read_dataset(const char *path, dataset *ds, db_diag *d);
static void free_dataset(dataset *ds);
static void run_workers(job *jb, cli_progress *prog);
static int write_forecasts(const char *path, const dataset *ds, const db_fc_forecast *fc);
static void print_summary(const job *jb, double seconds);

static int run_eval(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_forecast_commands[0];
  const char *input = NULL, *output = NULL, *method_name = "combo";
  cli_option spec[] = {{"input", 1, &input}, {"output", 1, &output}, {"method", 1, &method_name}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if (!input) return cli_usage_error(cmd, "--input FILE is required");
  db_fc_method method;
  if (db_fc_method_parse(method_name, &method) != DB_OK)
    return cli_usage_error(
        cmd, "unknown method '%s' (naive, snaive, ses, holt, damped, ets, theta, otheta, combo)",
        method_name);
  int64_t started = db_now_ms();
  dataset ds = {0};
  db_diag d = DB_DIAG_INIT;
  int err = read_dataset(input, &ds, &d);
  if (err) {
    cli_print_problems(&d, input);
    if (err == DB_EINVAL)
      fprintf(stderr, "%s: rejected (%zu problems); nothing was forecast\n", input, db_diag_total(&d));
    db_diag_free(&d);
    free_dataset(&ds);
    return cli_exit_code(err);
  }
  db_diag_free(&d);

  job jb = {.ds = &ds, .method = method};
  jb.forecasts = db_calloc(ds.count ? ds.count : 1, sizeof *jb.forecasts);
  jb.accuracy = db_calloc(ds.count ? ds.count : 1, sizeof *jb.accuracy);
  jb.scored = db_calloc(ds.count ? ds.count : 1, sizeof *jb.scored);
  cli_progress prog;
  cli_progress_init(&prog, ctx->quiet);
  run_workers(&jb, &prog);
  cli_progress_end(&prog);
  int failed = atomic_load(&jb.failed);
  if (failed) {
    fprintf(stderr, "%s: series '%s' could not be forecast\n", input, ds.items[failed - 1].id);
    rc = CLI_FAILED;
  } else if (output && write_forecasts(output, &ds, jb.forecasts) != DB_OK) {
    rc = CLI_FAILED;
  } else {
    print_summary(&jb, (double)(db_now_ms() - started) / 1000.0);
  }
  for (size_t i = 0; i < ds.count; i++) db_fc_forecast_free(&jb.forecasts[i]);
  db_free(jb.forecasts);
  db_free(jb.accuracy);
  db_free(jb.scored);
  free_dataset(&ds);
  return rc;
}

/* ---- reading ---- */

/* Maps the header's columns: col[c] is the field index of known column c, or -1. */
static int read_header(db_csv_field *f, size_t n, long line, int *col, db_diag *d) {
  int rc = DB_OK;
  for (int c = 0; c < C_COUNT; c++) col[c] = -1;
  for (size_t i = 0; i < n; i++) {
    int c = 0;
    while (c < C_COUNT && (strlen(column_names[c]) != f[i].len || memcmp(column_names[c], f[i].p, f[i].len)))
      c++;
    if (c == C_COUNT)
      rc = db_diag_add(
          d, line, (int)i + 1, NULL, DB_EINVAL,
          "unknown column '%.*s' (expected series_id,category,type,frequency,horizon,t,time,value,split)",
          (int)f[i].len, f[i].p);
    else if (col[c] >= 0)
      rc = db_diag_add(d, line, (int)i + 1, column_names[c], DB_EINVAL, "column '%s' appears twice",
                       column_names[c]);
    else
      col[c] = (int)i;
  }
  for (size_t r = 0; r < sizeof required / sizeof *required; r++)
    if (col[required[r]] < 0)
      rc = db_diag_add(d, line, 0, NULL, DB_EINVAL, "missing column '%s'", column_names[required[r]]);
  return rc;
}

/* Parses a whole number in [1, max] from a field; reports the problem otherwise. */
static int whole(const db_csv_field *f, long line, int column, const char *name, int64_t max, int64_t *out,
                 db_diag *d) {
  if (db_parse_int64(f->p, f->len, out) != DB_OK || *out < 1 || *out > max)
    return db_diag_add(d, line, column, name, DB_EINVAL, "%s '%.*s' is not a whole number from 1 to %lld",
                       name, (int)f->len, f->p, (long long)max);
  return DB_OK;
}

/* Starts a new series at this row, or finds the current one; reports a series whose rows are split. */
static series *series_of(dataset *ds, const db_csv_field *f, long line, db_diag *d) {
  series *cur = ds->count ? &ds->items[ds->count - 1] : NULL;
  if (cur && strlen(cur->id) == f->len && memcmp(cur->id, f->p, f->len) == 0) return cur;
  int64_t seen;
  if (db_map_get(&ds->ids, f->p, f->len, &seen)) {
    db_diag_add(
        d, line, 0, "series_id", DB_EINVAL,
        "series '%.*s' already had rows before (from line %ld): the rows of a series must be together",
        (int)f->len, f->p, ds->items[seen].line);
    return NULL;
  }
  if (ds->count == ds->cap) {
    ds->cap = ds->cap ? 2 * ds->cap : 256;
    ds->items = db_realloc(ds->items, ds->cap * sizeof *ds->items);
  }
  cur = &ds->items[ds->count];
  *cur = (series){
      .id = db_map_put(&ds->ids, f->p, f->len, (int64_t)ds->count), .start = ds->n_values, .line = line};
  ds->count++;
  return cur;
}

/* Checks one data row and appends its value to its series. */
static void read_row(dataset *ds, const int *col, db_csv_field *f, size_t n, size_t header_n, long line,
                     db_diag *d) {
  if (n != header_n) {
    db_diag_add(d, line, 0, NULL, DB_EINVAL, "expected %zu fields, found %zu", header_n, n);
    return;
  }
  const db_csv_field *id = &f[col[C_ID]];
  if (!id->len) {
    db_diag_add(d, line, col[C_ID] + 1, "series_id", DB_EINVAL, "empty series_id");
    return;
  }
  series *s = series_of(ds, id, line, d);
  if (!s) return;
  int64_t freq, horizon;
  if (whole(&f[col[C_FREQ]], line, col[C_FREQ] + 1, "frequency", MAX_SEASON, &freq, d) ||
      whole(&f[col[C_HORIZON]], line, col[C_HORIZON] + 1, "horizon", MAX_HORIZON, &horizon, d))
    return;
  int is_first = s->n_train + s->n_test == 0;
  if (is_first) {
    s->m = (int)freq;
    s->h = (int)horizon;
  } else if (freq != s->m || horizon != s->h) {
    db_diag_add(d, line, col[freq != s->m ? C_FREQ : C_HORIZON] + 1, freq != s->m ? "frequency" : "horizon",
                DB_EINVAL, "series '%s' has %s %d on line %ld but %lld here", s->id,
                freq != s->m ? "frequency" : "horizon", freq != s->m ? s->m : s->h, s->line,
                (long long)(freq != s->m ? freq : horizon));
    return;
  }
  if (col[C_T] >= 0) {
    int64_t t;
    const db_csv_field *tf = &f[col[C_T]];
    if (db_parse_int64(tf->p, tf->len, &t) != DB_OK) {
      db_diag_add(d, line, col[C_T] + 1, "t", DB_EINVAL, "t '%.*s' is not a whole number", (int)tf->len,
                  tf->p);
      return;
    }
    if (!is_first && t <= s->last_t) {
      db_diag_add(d, line, col[C_T] + 1, "t", DB_EINVAL,
                  "t %lld after t %lld: the rows of a series must be in time order", (long long)t,
                  (long long)s->last_t);
      return;
    }
    s->last_t = t;
  }
  const db_csv_field *vf = &f[col[C_VALUE]], *sf = &f[col[C_SPLIT]];
  double v = NAN;
  if (vf->len && !(vf->len == 2 && memcmp(vf->p, "NA", 2) == 0) &&
      db_parse_double(vf->p, vf->len, &v) != DB_OK) {
    db_diag_add(d, line, col[C_VALUE] + 1, "value", DB_EINVAL, "value '%.*s' is not a number", (int)vf->len,
                vf->p);
    return;
  }
  int train = sf->len == 5 && memcmp(sf->p, "train", 5) == 0;
  if (!train && !(sf->len == 4 && memcmp(sf->p, "test", 4) == 0)) {
    db_diag_add(d, line, col[C_SPLIT] + 1, "split", DB_EINVAL, "split '%.*s': expected train or test",
                (int)sf->len, sf->p);
    return;
  }
  if (train && s->n_test) {
    db_diag_add(d, line, col[C_SPLIT] + 1, "split", DB_EINVAL, "a train row after test rows of series '%s'",
                s->id);
    return;
  }
  if (ds->n_values == ds->cap_values) {
    ds->cap_values = ds->cap_values ? 2 * ds->cap_values : 4096;
    ds->values = db_realloc(ds->values, ds->cap_values * sizeof *ds->values);
  }
  ds->values[ds->n_values++] = v;
  if (train) {
    s->n_train++;
    s->observed += !isnan(v);
  } else {
    s->n_test++;
  }
}

/* Reads and checks the whole file. DB_EINVAL with every problem in d; DB_EIO when it cannot be read. */
static int read_dataset(const char *path, dataset *ds, db_diag *d) {
  db_csv *r;
  int rc = db_csv_open_file(path, NULL, d, &r);
  if (rc) return rc;
  db_csv_field *f;
  size_t n, header_n = 0;
  long line;
  int col[C_COUNT], have_header = 0;
  while ((rc = db_csv_next(r, &f, &n, &line)) != 0) {
    if (rc == DB_EIO) break;
    if (rc < 0) continue; /* a malformed record: already in d */
    if (!have_header) {
      have_header = 1;
      header_n = n;
      if (read_header(f, n, line, col, d)) break;
      continue;
    }
    read_row(ds, col, f, n, header_n, line, d);
  }
  db_csv_close(r);
  if (rc == DB_EIO) return DB_EIO;
  if (!have_header) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the file is empty: expected a header line");
  for (size_t i = 0; i < ds->count; i++) {
    const series *s = &ds->items[i];
    if (!s->n_train)
      db_diag_add(d, s->line, 0, "split", DB_EINVAL, "series '%s' has no train rows", s->id);
    else if (!s->observed)
      db_diag_add(d, s->line, 0, "value", DB_EINVAL, "series '%s' has no observed train value", s->id);
  }
  return db_diag_total(d) ? DB_EINVAL : DB_OK;
}

static void free_dataset(dataset *ds) {
  db_free(ds->items);
  db_free(ds->values);
  db_map_free(&ds->ids);
}

/* ---- fitting ---- */

static void *worker(void *arg) {
  job *jb = arg;
  for (;;) {
    size_t next = atomic_fetch_add(&jb->next, 1);
    if (next >= jb->ds->count) break;
    size_t i = jb->order[next];
    const series *s = &jb->ds->items[i];
    const double *y = jb->ds->values + s->start;
    if (db_forecast(y, s->n_train, s->m, jb->method, s->h, &jb->forecasts[i], NULL) != DB_OK) {
      int none = 0;
      atomic_compare_exchange_strong(&jb->failed, &none, (int)i + 1);
    } else if (s->n_test) {
      jb->scored[i] = db_fc_score(y, s->n_train, s->m, y + s->n_train, s->n_test, &jb->forecasts[i],
                                  &jb->accuracy[i], NULL) == DB_OK;
    }
    if (atomic_fetch_add(&jb->done, 1) + 1 == jb->ds->count) {
      pthread_mutex_lock(&jb->lock);
      pthread_cond_signal(&jb->finished);
      pthread_mutex_unlock(&jb->lock);
    }
  }
  return NULL;
}

/* A series' index with its length, to order the work longest first. */
typedef struct by_length {
  size_t length, index;
} by_length;

static int longer_first(const void *a, const void *b) {
  const by_length *x = a, *y = b;
  if (x->length != y->length) return x->length < y->length ? 1 : -1;
  return (x->index > y->index) - (x->index < y->index);
}

/* Fills jb->order (owned by the job) with the series by decreasing length, ties in input order. */
static void order_by_length(job *jb) {
  size_t n = jb->ds->count;
  by_length *v = db_malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = (by_length){jb->ds->items[i].n_train, i};
  qsort(v, n, sizeof *v, longer_first);
  jb->order = db_malloc((n ? n : 1) * sizeof *jb->order);
  for (size_t i = 0; i < n; i++) jb->order[i] = v[i].index;
  db_free(v);
}

/* Draws "[#####.....] 512/1001 series  51%  ETA 1 s" (when progress is enabled). */
static void draw_progress(cli_progress *p, size_t done, size_t total) {
  if (!p->enabled || !total) return;
  double frac = (double)done / (double)total, secs = (double)(db_now_ms() - p->started_ms) / 1000.0;
  char bar[31];
  int fill = (int)(frac * 30);
  for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
  bar[30] = '\0';
  fprintf(stderr, "\r[%s] %zu/%zu series %3.0f%%", bar, done, total, 100 * frac);
  if (done) fprintf(stderr, "  ETA %.0f s ", secs * (1 - frac) / frac);
  fflush(stderr);
}

/* Runs WORKERS threads over the series, longest first (the calling thread fits alone if no thread can
 * start), and redraws the progress every 100 ms until the last series is done. */
static void run_workers(job *jb, cli_progress *prog) {
  order_by_length(jb);
  pthread_mutex_init(&jb->lock, NULL);
  pthread_cond_init(&jb->finished, NULL);
  pthread_t threads[WORKERS];
  int started = 0;
  for (; started < WORKERS; started++)
    if (pthread_create(&threads[started], NULL, worker, jb) != 0) break;
  if (!started) worker(jb);
  pthread_mutex_lock(&jb->lock);
  while (atomic_load(&jb->done) < jb->ds->count) {
    draw_progress(prog, atomic_load(&jb->done), jb->ds->count);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&jb->finished, &jb->lock, &until);
  }
  pthread_mutex_unlock(&jb->lock);
  for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
  draw_progress(prog, jb->ds->count, jb->ds->count);
  pthread_cond_destroy(&jb->finished);
  pthread_mutex_destroy(&jb->lock);
  db_free(jb->order);
}

/* ---- output ---- */

static int write_forecasts(const char *path, const dataset *ds, const db_fc_forecast *fc) {
  FILE *out = fopen(path, "w");
  if (!out) {
    perror(path);
    return DB_EIO;
  }
  db_buf b = DB_BUF_INIT;
  db_buf_puts(&b, "series_id,h,mean,lo80,hi80,lo95,hi95\n");
  int rc = DB_OK;
  for (size_t i = 0; i < ds->count && rc == DB_OK; i++) {
    const db_fc_forecast *f = &fc[i];
    for (int k = 0; k < f->h; k++) {
      double v[5] = {f->mean[k], f->lo80[k], f->hi80[k], f->lo95[k], f->hi95[k]};
      db_buf_csv_field(&b, ds->items[i].id);
      db_buf_printf(&b, ",%d", k + 1);
      for (int j = 0; j < 5; j++) {
        db_buf_putc(&b, ',');
        db_buf_double(&b, v[j]);
      }
      db_buf_putc(&b, '\n');
    }
    if (b.len > (1u << 20) || i + 1 == ds->count) {
      if (fwrite(b.data, 1, b.len, out) != b.len) rc = DB_EIO;
      db_buf_clear(&b);
    }
  }
  if (fclose(out) != 0) rc = DB_EIO;
  if (rc) fprintf(stderr, "%s: cannot write the forecasts\n", path);
  db_buf_free(&b);
  return rc;
}

/* The one summary line: means of sMAPE and MASE over the scored series, coverage pooled over points. */
static void print_summary(const job *jb, double seconds) {
  double smape = 0, mase = 0, in95 = 0;
  size_t scored = 0, mase_n = 0, points = 0;
  for (size_t i = 0; i < jb->ds->count; i++) {
    if (!jb->scored[i]) continue;
    const db_fc_accuracy *a = &jb->accuracy[i];
    smape += a->smape;
    if (!isnan(a->mase)) {
      mase += a->mase;
      mase_n++;
    }
    in95 += a->cover95 * (double)a->points / 100;
    points += a->points;
    scored++;
  }
  printf("series=%zu", jb->ds->count);
  if (scored)
    printf(" smape=%.3f", smape / (double)scored);
  else
    printf(" smape=NA");
  if (mase_n)
    printf(" mase=%.3f", mase / (double)mase_n);
  else
    printf(" mase=NA");
  if (points)
    printf(" coverage95=%.1f", 100 * round(in95) / (double)points);
  else
    printf(" coverage95=NA");
  printf(" seconds=%.3f\n", seconds);
}

/* ---- forecast run ---- */

/* What a run of the store's series gathers: the open transaction's size, counts and accuracy sums. */
typedef struct store_run {
  cli_ctx *ctx;
  cli_progress *prog;
  size_t forecast, skipped, pending, cover_points;
  double smape, mase, cover95;
  size_t mase_n;
  int err; /* the first store error */
} store_run;

/* Keeps one result: the record in the open transaction (committed every 500), the kept method's scores. */
static void keep_result(void *ctx, const db_outlook_item *it, const db_outlook_fc *fc, const db_outlook_meta *meta,
                        const char *why) {
  store_run *sr = ctx;
  (void)it;
  (void)why;
  if (!fc) {
    sr->skipped++;
    return;
  }
  sr->forecast++;
  for (int i = 0; i < fc->n_scores; i++) {
    const db_outlook_score *s = &fc->scores[i];
    if (s->method != fc->method || !s->scored) continue;
    sr->smape += s->acc.smape;
    if (!isnan(s->acc.mase)) {
      sr->mase += s->acc.mase;
      sr->mase_n++;
    }
    sr->cover95 += s->acc.cover95 * (double)s->acc.points / 100;
    sr->cover_points += s->acc.points;
  }
  if (sr->err) return;
  char key[512];
  db_outlook_key(meta->indicator, meta->orgunit, meta->dimkey, key, sizeof key);
  json_t *doc = db_outlook_to_json(fc, meta);
  sr->err = db_outlook_store_put(sr->ctx->store, key, doc);
  json_decref(doc);
  if (!sr->err && ++sr->pending >= 500) {
    sr->err = db_store_commit(sr->ctx->store);
    if (!sr->err) sr->err = db_store_begin(sr->ctx->store, 0);
    sr->pending = 0;
  }
}

static void show_progress(void *ctx, size_t done, size_t total) {
  store_run *sr = ctx;
  int64_t now = db_now_ms();
  if (done < total && now - sr->prog->last_ms < 100) return;
  sr->prog->last_ms = now;
  draw_progress(sr->prog, done, total);
}

static int run_run(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_forecast_commands[1];
  const char *indicators = NULL, *units = NULL, *threads_text = NULL, *horizon_text = NULL;
  cli_option spec[] = {{"indicator", 1, &indicators}, {"unit", 1, &units}, {"threads", 1, &threads_text},
                       {"horizon", 1, &horizon_text}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  int64_t threads = 0, h = 0;
  if (threads_text && (db_parse_int64(threads_text, strlen(threads_text), &threads) || threads < 1 || threads > 256))
    return cli_usage_error(cmd, "--threads %s: a whole number from 1 to 256", threads_text);
  if (horizon_text &&
      (db_parse_int64(horizon_text, strlen(horizon_text), &h) || h < 1 || h > DB_OUTLOOK_MAX_H))
    return cli_usage_error(cmd, "--horizon %s: a whole number from 1 to %d", horizon_text, DB_OUTLOOK_MAX_H);
  if ((rc = cli_open_catalog(ctx))) return rc;
  int64_t started = db_now_ms();
  db_diag d = DB_DIAG_INIT;
  db_cube *cube = NULL;
  db_outlook_list list = {0};
  int err = db_outlook_list_series(ctx->store, &ctx->cat, indicators, units, started, &list, &d);
  if (!err) err = db_cube_open(ctx->store, &ctx->cat, &cube, &d);
  if (err) {
    cli_print_problems(&d, NULL);
    if (!d.count) fprintf(stderr, "databrain forecast run: %s\n", db_strerror(err));
    db_diag_free(&d);
    db_outlook_list_free(&list);
    return cli_exit_code(err);
  }
  db_diag_free(&d);
  const db_cube_version *v = db_cube_acquire(cube);
  cli_progress prog;
  cli_progress_init(&prog, ctx->quiet);
  store_run sr = {ctx, &prog, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  db_outlook_job run = {v, &ctx->cat, &list, (int)threads, (int)h, started, keep_result, show_progress, &sr, NULL};
  sr.err = db_store_begin(ctx->store, 0);
  if (!sr.err) db_outlook_run(&run);
  if (!sr.err)
    sr.err = db_store_commit(ctx->store);
  else
    db_store_rollback(ctx->store);
  cli_progress_end(&prog);
  db_cube_release(v);
  db_cube_close(cube);
  db_outlook_list_free(&list);
  if (sr.err) {
    fprintf(stderr, "databrain forecast run: cannot store the forecasts: %s\n", db_strerror(sr.err));
    return cli_exit_code(sr.err);
  }
  if (!ctx->quiet) {
    double n = sr.forecast ? (double)sr.forecast : NAN;
    printf("series=%zu forecast=%zu skipped=%zu smape=%.3f mase=%.3f coverage95=%.1f seconds=%.3f\n",
           sr.forecast + sr.skipped, sr.forecast, sr.skipped, sr.smape / n,
           sr.mase_n ? sr.mase / (double)sr.mase_n : NAN,
           sr.cover_points ? 100 * sr.cover95 / (double)sr.cover_points : NAN,
           (double)(db_now_ms() - started) / 1000.0);
  }
  return CLI_OK;
}

/* ---- forecast show ---- */

/* The back-test table of a forecast record; the kept method is starred. */
static void print_accuracy(const json_t *doc, db_fc_method kept) {
  const json_t *bt = json_object_get(doc, "backtest"), *acc = json_object_get(doc, "accuracy"), *a;
  size_t i;
  printf("back-test, %lld steps ahead from %lld origins:\n", (long long)json_integer_value(json_object_get(bt, "horizon")),
         (long long)json_integer_value(json_object_get(bt, "origins")));
  printf("  %-8s %10s %10s %11s %11s %7s\n", "method", "smape", "mase", "coverage80", "coverage95", "points");
  json_array_foreach(acc, i, a) {
    const char *name = json_string_value(json_object_get(a, "method"));
    double v[4];
    static const char *const fields[4] = {"smape", "mase", "coverage80", "coverage95"};
    for (int k = 0; k < 4; k++) {
      const json_t *x = json_object_get(a, fields[k]);
      v[k] = json_is_number(x) ? json_number_value(x) : NAN;
    }
    printf("%c %-8s %10.3f %10.3f %11.1f %11.1f %7lld\n", name && strcmp(name, db_fc_method_name(kept)) == 0 ? '*' : ' ',
           name ? name : "?", v[0], v[1], v[2], v[3], (long long)json_integer_value(json_object_get(a, "points")));
  }
}

static int run_show(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_forecast_commands[2];
  const char *dims = "", *as_json = NULL;
  cli_option spec[] = {{"dims", 1, &dims}, {"json", 0, &as_json}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 2) return cli_usage_error(cmd, "needs INDICATOR and ORGUNIT");
  if ((rc = cli_open(ctx))) return rc;
  char key[512];
  db_outlook_key(argv[first], argv[first + 1], dims, key, sizeof key);
  db_record r;
  int err = db_store_record_get(ctx->store, DB_OUTLOOK_KIND, 0, key, &r);
  if (err == DB_ENOTFOUND) {
    fprintf(stderr, "databrain forecast show: no forecast of %s (run `databrain forecast run` first; a series "
                    "needs at least %d observed values)\n", key, DB_OUTLOOK_MIN_OBS);
    return CLI_NOT_FOUND;
  }
  if (err) {
    fprintf(stderr, "databrain forecast show: %s\n", db_strerror(err));
    return cli_exit_code(err);
  }
  json_t *doc = json_loads(r.body, 0, NULL);
  db_outlook_fc fc;
  db_outlook_meta meta;
  char why[128];
  if (as_json) {
    printf("%s\n", r.body);
  } else if (db_outlook_from_json(doc, &fc, &meta, why) == DB_OK) {
    printf("%s  model: %s (%s)  origin: %s  fitted: %s\n", key, fc.fc.model, db_fc_method_name(fc.method),
           json_string_value(json_object_get(doc, "origin")), json_string_value(json_object_get(doc, "fitted_at")));
    printf("%-18s %14s %14s %14s %14s %14s\n", "period", "mean", "lo80", "hi80", "lo95", "hi95");
    for (int k = 0; k < fc.fc.h; k++) {
      char code[DB_PERIOD_CODE_MAX];
      db_period p = db_period_add(&fc.origin, k + 1);
      db_period_format(&p, code);
      printf("%-18s %14.6g %14.6g %14.6g %14.6g %14.6g\n", code, fc.fc.mean[k], fc.fc.lo80[k], fc.fc.hi80[k],
             fc.fc.lo95[k], fc.fc.hi95[k]);
    }
    print_accuracy(doc, fc.method);
    db_outlook_fc_free(&fc);
  } else {
    fprintf(stderr, "databrain forecast show: %s\n", why);
    err = DB_EINVAL;
  }
  json_decref(doc);
  db_record_free(&r);
  return err ? cli_exit_code(err) : CLI_OK;
}
