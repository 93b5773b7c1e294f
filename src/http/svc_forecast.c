/* svc_forecast.c - the forecast service (service.h): batch forecast runs in the background, refits of the
 * series new data reached, the anomaly check of every committed observation against the stored
 * forecast's 99% interval, and the provider of the formula functions forecast, lower, upper and
 * p_miss_target (derive.h) over the stored forecasts (outlook/outlook.h).
 *
 * State. The stored forecasts are kept in memory as well (parsed records, by key "IND/OU[/DIMKEY]"), read
 * at open and replaced as runs store new ones; a reader-writer lock guards them (the formula provider reads
 * them from request threads). Jobs live in memory for the life of the process (ids from 1); one runner
 * thread takes queued jobs in order and fits each job's series with a pool of threads (one per core).
 * Results are written in transactions of up to FLUSH_EVERY records under the write lock, after which the
 * derived indicators' engine drops the values that used the old forecasts.
 *
 * Refits. The committed hook marks every series a batch touched as stale; the tick (once a second) makes
 * a "refit" job of the stale series whenever no job is queued or running, so a series is refitted on its
 * new data a second or so after it arrived, in the background. */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/http_int.h"
#include "http/svc_forecast.h"

#define FLUSH_EVERY 200
#define MAX_JOB_ERRORS 20

static int open_forecast(db_app *app, void **state, db_diag *d);
static void on_committed(void *state, db_app *app, const db_commit *c);
static void on_catalog(void *state, db_app *app);
static void on_tick(void *state, db_app *app, int64_t now_ms);
static void close_forecast(void *state);

const db_service db_service_forecast = {"forecast", open_forecast, on_committed, on_catalog, on_tick,
                                        close_forecast};

/* A stored forecast in memory. */
typedef struct kept {
  db_outlook_fc fc;
  char *indicator, *orgunit, *dimkey;
  db_outlook_meta meta; /* strings point at the three above */
} kept;

struct db_fc_service {
  db_app *app;
  pthread_rwlock_t kept_lock; /* guards kept and kept_index */
  kept *kept;
  size_t n_kept, cap_kept;
  db_map kept_index; /* key -> index into kept */
  pthread_mutex_t lock; /* guards everything below */
  pthread_cond_t wake;
  db_fc_job **jobs;
  size_t n_jobs, cap_jobs, next_job; /* jobs[next_job..] are queued */
  db_map stale;         /* key -> 1: series new data reached since their last fit */
  db_map ind_by_id, unit_by_id; /* store id -> catalog index, of the catalog last seen */
  char **ind_codes, **unit_codes; /* catalog codes by index (owned copies) */
  size_t n_ind_codes, n_unit_codes;
  int stopping;
  atomic_int stop;
  pthread_t runner;
  int runner_started;
};

/* ---- the stored forecasts in memory ---- */

static void kept_clear(kept *k) {
  db_outlook_fc_free(&k->fc);
  db_free(k->indicator);
  db_free(k->orgunit);
  db_free(k->dimkey);
}

/* Keeps (or replaces) the forecast of a series; takes fc. Called with kept_lock held for writing. */
static void keep(db_fc_service *s, db_outlook_fc *fc, const db_outlook_meta *meta) {
  char key[512];
  db_outlook_key(meta->indicator, meta->orgunit, meta->dimkey, key, sizeof key);
  int64_t at;
  if (db_map_gets(&s->kept_index, key, &at)) {
    kept_clear(&s->kept[at]);
  } else {
    if (s->n_kept == s->cap_kept) {
      s->cap_kept = s->cap_kept ? 2 * s->cap_kept : 256;
      s->kept = db_realloc(s->kept, s->cap_kept * sizeof *s->kept);
    }
    at = (int64_t)s->n_kept++;
    db_map_puts(&s->kept_index, key, at);
  }
  kept *k = &s->kept[at];
  k->fc = *fc;
  memset(fc, 0, sizeof *fc);
  k->indicator = db_strdup(meta->indicator);
  k->orgunit = db_strdup(meta->orgunit);
  k->dimkey = db_strdup(meta->dimkey ? meta->dimkey : "");
  k->meta = *meta;
  k->meta.indicator = k->indicator;
  k->meta.orgunit = k->orgunit;
  k->meta.dimkey = k->dimkey;
}

static int load_record(void *ctx, const db_record *r) {
  db_fc_service *s = ctx;
  json_t *doc = json_loads(r->body, 0, NULL);
  db_outlook_fc fc;
  db_outlook_meta meta;
  if (doc && db_outlook_from_json(doc, &fc, &meta, NULL) == DB_OK) {
    if (meta.indicator && meta.orgunit)
      keep(s, &fc, &meta);
    db_outlook_fc_free(&fc);
  }
  json_decref(doc);
  return 0;
}

/* The kept forecast of a series, with kept_lock held by the caller; NULL when none. */
static const kept *find(db_fc_service *s, const char *indicator, const char *orgunit, const char *dimkey) {
  char key[512];
  int64_t at;
  db_outlook_key(indicator, orgunit, dimkey, key, sizeof key);
  return db_map_gets(&s->kept_index, key, &at) ? &s->kept[at] : NULL;
}

/* ---- the formula functions' provider (derive.h) ---- */

static int provide(void *ctx, const db_derive_fc_query *q, double *out) {
  db_fc_service *s = ctx;
  pthread_rwlock_rdlock(&s->kept_lock);
  const kept *k = find(s, q->indicator, q->unit, q->dimkey);
  for (size_t i = 0; k && i < q->n_periods; i++) {
    db_period p = db_period_add(&q->first, (int64_t)i), year;
    int step = db_outlook_step(&k->fc, &p);
    db_outlook_target t;
    switch (q->what) {
      case DB_FORMULA_FC_MEAN:
        if (step) out[i] = k->fc.fc.mean[step - 1];
        break;
      case DB_FORMULA_FC_LOWER:
        if (step) out[i] = k->fc.fc.lo95[step - 1];
        break;
      case DB_FORMULA_FC_UPPER:
        if (step) out[i] = k->fc.fc.hi95[step - 1];
        break;
      default:
        if (db_period_containing(&p, DB_PT_YEAR, 0, &year) == DB_OK &&
            db_outlook_p_miss(&k->fc, year.ord, q->plans[i], k->meta.agg_time, k->meta.polarity,
                              k->meta.band_at_risk, &t))
          out[i] = t.p_miss;
    }
  }
  pthread_rwlock_unlock(&s->kept_lock);
  return 0;
}

/* Installs the provider in the app's current engine. */
static void install_provider(db_fc_service *s) {
  const db_cube_version *v;
  db_derive *derive;
  db_snapshot *snap = db_app_snapshot_acquire(s->app, &v, &derive);
  if (derive) db_derive_set_forecaster(derive, provide, s);
  db_app_snapshot_release(snap, v);
}

static void forecasts_changed(db_fc_service *s) {
  const db_cube_version *v;
  db_derive *derive;
  db_snapshot *snap = db_app_snapshot_acquire(s->app, &v, &derive);
  if (derive) db_derive_forecasts_changed(derive);
  db_app_snapshot_release(snap, v);
}

/* ---- catalog codes by store id (the committed hook names series by ids) ---- */

static void free_codes(db_fc_service *s) {
  for (size_t i = 0; i < s->n_ind_codes; i++) db_free(s->ind_codes[i]);
  for (size_t i = 0; i < s->n_unit_codes; i++) db_free(s->unit_codes[i]);
  db_free(s->ind_codes);
  db_free(s->unit_codes);
  db_map_free(&s->ind_by_id);
  db_map_free(&s->unit_by_id);
}

/* Takes the codes of the app's current catalog; called with the write lock held (or before serving). */
static void take_codes(db_fc_service *s, const db_catalog *cat) {
  pthread_mutex_lock(&s->lock);
  free_codes(s);
  s->n_ind_codes = cat->n_indicators;
  s->n_unit_codes = cat->n_units;
  s->ind_codes = db_malloc((cat->n_indicators + 1) * sizeof *s->ind_codes);
  s->unit_codes = db_malloc((cat->n_units + 1) * sizeof *s->unit_codes);
  for (size_t i = 0; i < cat->n_indicators; i++) {
    s->ind_codes[i] = db_strdup(cat->indicators[i].code);
    db_map_put(&s->ind_by_id, &cat->indicators[i].id, 8, (int64_t)i);
  }
  for (size_t i = 0; i < cat->n_units; i++) {
    s->unit_codes[i] = db_strdup(cat->units[i].code);
    db_map_put(&s->unit_by_id, &cat->units[i].id, 8, (int64_t)i);
  }
  pthread_mutex_unlock(&s->lock);
}

/* ---- jobs ---- */

static void job_free(db_fc_job *j) {
  db_free(j->indicators);
  db_free(j->units);
  db_free(j->actor);
  for (size_t i = 0; i < j->n_stale; i++) db_free(j->stale[i]);
  db_free(j->stale);
  json_decref(j->errors);
  db_free(j);
}

/* Queues a job (taking it) and wakes the runner; returns its id. */
static int64_t enqueue(db_fc_service *s, db_fc_job *j) {
  pthread_mutex_lock(&s->lock);
  if (s->n_jobs == s->cap_jobs) {
    s->cap_jobs = s->cap_jobs ? 2 * s->cap_jobs : 16;
    s->jobs = db_realloc(s->jobs, s->cap_jobs * sizeof *s->jobs);
  }
  j->id = (int64_t)s->n_jobs + 1;
  s->jobs[s->n_jobs++] = j;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  return j->id;
}

int64_t db_fc_service_submit(db_fc_service *s, const char *indicators, const char *units, const char *actor) {
  db_fc_job *j = db_calloc(1, sizeof *j);
  j->kind = "run";
  j->indicators = indicators ? db_strdup(indicators) : NULL;
  j->units = units ? db_strdup(units) : NULL;
  j->actor = db_strdup(actor ? actor : "");
  j->created_ms = db_now_ms();
  j->errors = json_array();
  snprintf(j->status, sizeof j->status, "queued");
  return enqueue(s, j);
}

json_t *db_fc_service_job_json(db_fc_service *s, int64_t id) {
  json_t *o = NULL;
  pthread_mutex_lock(&s->lock);
  if (id >= 1 && (size_t)id <= s->n_jobs) {
    const db_fc_job *j = s->jobs[id - 1];
    char created[25], started[25], finished[25];
    db_format_time_ms(j->created_ms, created);
    db_format_time_ms(j->started_ms, started);
    db_format_time_ms(j->finished_ms, finished);
    o = json_pack("{s:I, s:s, s:s, s:{s:I, s:I}, s:I, s:I, s:s, s:o, s:o, s:O}", "id", (json_int_t)j->id, "kind",
                  j->kind, "status", j->status, "progress", "done", (json_int_t)j->done, "total",
                  (json_int_t)j->total, "forecast", (json_int_t)j->fitted, "skipped", (json_int_t)j->skipped,
                  "created", created, "started", j->started_ms ? json_string(started) : json_null(), "finished",
                  j->finished_ms ? json_string(finished) : json_null(), "errors", j->errors);
  }
  pthread_mutex_unlock(&s->lock);
  return o;
}

/* What one job's run gathers between flushes. */
typedef struct pending {
  db_fc_service *s;
  db_fc_job *job;
  char **keys;
  json_t **docs;
  db_outlook_fc *fcs;
  db_outlook_meta *metas;
  char **meta_strings; /* three per result: indicator, orgunit, dimkey */
  size_t n;
} pending;

/* Writes the pending records in one transaction and keeps their forecasts in memory. */
static void flush(pending *p) {
  if (!p->n) return;
  db_fc_service *s = p->s;
  db_store *w = db_app_write_begin(s->app);
  int rc = db_store_begin(w, 0);
  for (size_t i = 0; !rc && i < p->n; i++) rc = db_outlook_store_put(w, p->keys[i], p->docs[i]);
  if (!rc)
    rc = db_store_commit(w);
  else
    db_store_rollback(w);
  db_app_write_end(s->app);
  if (rc) {
    pthread_mutex_lock(&s->lock);
    if (json_array_size(p->job->errors) < MAX_JOB_ERRORS)
      json_array_append_new(p->job->errors, json_sprintf("cannot store %zu forecasts: %s", p->n, db_strerror(rc)));
    pthread_mutex_unlock(&s->lock);
  } else {
    pthread_rwlock_wrlock(&s->kept_lock);
    for (size_t i = 0; i < p->n; i++) keep(s, &p->fcs[i], &p->metas[i]);
    pthread_rwlock_unlock(&s->kept_lock);
  }
  for (size_t i = 0; i < p->n; i++) {
    db_free(p->keys[i]);
    json_decref(p->docs[i]);
    db_outlook_fc_free(&p->fcs[i]);
    for (int k = 0; k < 3; k++) db_free(p->meta_strings[3 * i + (size_t)k]);
  }
  p->n = 0;
  forecasts_changed(s);
}

static void take_result(void *ctx, const db_outlook_item *it, const db_outlook_fc *fc, const db_outlook_meta *meta,
                        const char *why) {
  pending *p = ctx;
  (void)it;
  pthread_mutex_lock(&p->s->lock);
  if (fc) {
    p->job->fitted++;
  } else {
    p->job->skipped++;
    (void)why; /* too short or without data: counted, not an error */
  }
  pthread_mutex_unlock(&p->s->lock);
  if (!fc) return;
  char key[512];
  db_outlook_key(meta->indicator, meta->orgunit, meta->dimkey, key, sizeof key);
  size_t i = p->n++;
  p->keys[i] = db_strdup(key);
  p->docs[i] = db_outlook_to_json(fc, meta);
  /* the forecast is the run's until this callback returns: keep a copy, read back from its JSON */
  db_outlook_from_json(p->docs[i], &p->fcs[i], NULL, NULL);
  p->fcs[i].n_scores = 0;
  p->meta_strings[3 * i] = db_strdup(meta->indicator);
  p->meta_strings[3 * i + 1] = db_strdup(meta->orgunit);
  p->meta_strings[3 * i + 2] = db_strdup(meta->dimkey ? meta->dimkey : "");
  p->metas[i] = *meta;
  p->metas[i].indicator = p->meta_strings[3 * i];
  p->metas[i].orgunit = p->meta_strings[3 * i + 1];
  p->metas[i].dimkey = p->meta_strings[3 * i + 2];
  if (p->n == FLUSH_EVERY) flush(p);
}

static void take_progress(void *ctx, size_t done, size_t total) {
  pending *p = ctx;
  pthread_mutex_lock(&p->s->lock);
  p->job->done = done;
  p->job->total = total;
  pthread_mutex_unlock(&p->s->lock);
}

/* The series of a refit job: its stale keys resolved in the catalog (those no longer there are dropped). */
static void stale_list(const db_fc_job *j, const db_catalog *cat, db_outlook_list *l) {
  for (size_t i = 0; i < j->n_stale; i++) {
    char ind[256], ou[256];
    const char *key = j->stale[i], *a = strchr(key, '/'), *b = a ? strchr(a + 1, '/') : NULL;
    if (!a) continue;
    snprintf(ind, sizeof ind, "%.*s", (int)(a - key), key);
    snprintf(ou, sizeof ou, "%.*s", (int)(b ? b - a - 1 : (ptrdiff_t)strlen(a + 1)), a + 1);
    const db_indicator *x = db_catalog_indicator(cat, ind);
    const db_orgunit *u = db_catalog_unit(cat, ou);
    if (x && u && !(x->formula && *x->formula) && x->periodicity != DB_PT_MULTIYEAR)
      db_outlook_list_add(l, (size_t)(x - cat->indicators), (size_t)(u - cat->units), b ? b + 1 : "");
  }
}

/* Runs one job to its end on the app's current catalog and cube. */
static void run_job(db_fc_service *s, db_fc_job *j) {
  const db_cube_version *v;
  db_derive *derive;
  db_snapshot *snap = db_app_snapshot_acquire(s->app, &v, &derive);
  db_outlook_list list = {0};
  db_diag d = DB_DIAG_INIT;
  db_store *reader;
  int rc = 0;
  if (j->stale)
    stale_list(j, &snap->cat, &list);
  else if (!(rc = db_app_reader(s->app, &reader)))
    rc = db_outlook_list_series(reader, &snap->cat, j->indicators, j->units, db_now_ms(), &list, &d);
  pthread_mutex_lock(&s->lock);
  j->total = list.count;
  for (size_t i = 0; i < d.count && json_array_size(j->errors) < MAX_JOB_ERRORS; i++)
    json_array_append_new(j->errors, json_string(d.items[i].message));
  if (rc && !d.count) json_array_append_new(j->errors, json_string(db_strerror(rc)));
  pthread_mutex_unlock(&s->lock);
  pending p = {s, j, NULL, NULL, NULL, NULL, NULL, 0};
  if (!rc) {
    p.keys = db_malloc(FLUSH_EVERY * sizeof *p.keys);
    p.docs = db_malloc(FLUSH_EVERY * sizeof *p.docs);
    p.fcs = db_malloc(FLUSH_EVERY * sizeof *p.fcs);
    p.metas = db_malloc(FLUSH_EVERY * sizeof *p.metas);
    p.meta_strings = db_malloc(3 * FLUSH_EVERY * sizeof *p.meta_strings);
    db_outlook_job run = {v, &snap->cat, &list, 0, 0, db_now_ms(), take_result, take_progress, &p, &s->stop};
    db_outlook_run(&run);
    flush(&p);
  }
  db_free(p.keys);
  db_free(p.docs);
  db_free(p.fcs);
  db_free(p.metas);
  db_free(p.meta_strings);
  db_diag_free(&d);
  db_outlook_list_free(&list);
  db_app_snapshot_release(snap, v);
  pthread_mutex_lock(&s->lock);
  snprintf(j->status, sizeof j->status, "%s", rc ? "failed" : atomic_load(&s->stop) ? "stopped" : "done");
  j->finished_ms = db_now_ms();
  pthread_mutex_unlock(&s->lock);
}

static void *runner(void *arg) {
  db_fc_service *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->stopping && s->next_job == s->n_jobs) pthread_cond_wait(&s->wake, &s->lock);
    if (s->stopping) break;
    db_fc_job *j = s->jobs[s->next_job++];
    snprintf(j->status, sizeof j->status, "running");
    j->started_ms = db_now_ms();
    pthread_mutex_unlock(&s->lock);
    run_job(s, j);
    pthread_mutex_lock(&s->lock);
  }
  for (size_t i = s->next_job; i < s->n_jobs; i++) snprintf(s->jobs[i]->status, sizeof s->jobs[i]->status, "stopped");
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- hooks ---- */

static int open_forecast(db_app *app, void **state, db_diag *d) {
  db_fc_service *s = db_calloc(1, sizeof *s);
  s->app = app;
  pthread_rwlock_init(&s->kept_lock, NULL);
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  int rc = db_store_record_scan(app->writer, DB_OUTLOOK_KIND, load_record, s);
  if (rc) {
    db_diag_add(d, 0, 0, NULL, rc, "forecast service: cannot read the stored forecasts: %s", db_strerror(rc));
    *state = s;
    return rc;
  }
  take_codes(s, &app->snap->cat);
  install_provider(s);
  if (pthread_create(&s->runner, NULL, runner, s) == 0) s->runner_started = 1;
  *state = s;
  return 0;
}

/* Marks the series of the batch stale and flags its observations that fall outside their forecast's 99%
 * interval. */
static void on_committed(void *state, db_app *app, const db_commit *c) {
  db_fc_service *s = state;
  int open = 0, rc = 0;
  for (size_t i = 0; i < c->n_changes && !rc; i++) {
    const db_obs_row *row = &c->changes[i];
    int64_t ind, ou;
    pthread_mutex_lock(&s->lock);
    int known = db_map_get(&s->ind_by_id, &row->indicator, 8, &ind) && db_map_get(&s->unit_by_id, &row->orgunit, 8, &ou);
    char key[512];
    if (known) {
      db_outlook_key(s->ind_codes[ind], s->unit_codes[ou], row->dimkey, key, sizeof key);
      db_map_puts(&s->stale, key, 1);
    }
    pthread_mutex_unlock(&s->lock);
    if (!known || isnan(row->value)) continue;
    db_period p;
    double lo, hi;
    if (db_period_from_key(row->period, &p) != DB_OK) continue;
    pthread_rwlock_rdlock(&s->kept_lock);
    const kept *k = find(s, s->ind_codes[ind], s->unit_codes[ou], row->dimkey);
    int flagged = k && db_outlook_anomaly(&k->fc, &p, row->value, &lo, &hi);
    db_outlook_meta meta = flagged ? k->meta : (db_outlook_meta){0};
    if (flagged && !open) open = !(rc = db_store_begin(app->writer, 0));
    if (flagged && !rc) rc = db_outlook_flag(app->writer, &meta, &p, row->value, lo, hi, c->seq, c->time_ms);
    pthread_rwlock_unlock(&s->kept_lock);
  }
  if (open && !rc) rc = db_store_commit(app->writer);
  if (open && rc) {
    db_store_rollback(app->writer);
    fprintf(stderr, "forecast service: cannot flag anomalies of batch %lld: %s\n", (long long)c->seq,
            db_strerror(rc));
  }
}

static void on_catalog(void *state, db_app *app) {
  db_fc_service *s = state;
  take_codes(s, &app->snap->cat);
  install_provider(s); /* the engine may be a new one */
}

/* Makes a refit job of the stale series when the runner is idle. */
static void on_tick(void *state, db_app *app, int64_t now_ms) {
  db_fc_service *s = state;
  (void)app;
  pthread_mutex_lock(&s->lock);
  int idle = s->next_job == s->n_jobs && (!s->n_jobs || s->jobs[s->n_jobs - 1]->finished_ms);
  if (!idle || !s->stale.count || s->stopping) {
    pthread_mutex_unlock(&s->lock);
    return;
  }
  db_fc_job *j = db_calloc(1, sizeof *j);
  j->kind = "refit";
  j->actor = db_strdup("system");
  j->created_ms = now_ms;
  j->errors = json_array();
  snprintf(j->status, sizeof j->status, "queued");
  j->stale = db_malloc(s->stale.count * sizeof *j->stale);
  for (size_t k = 0; k < s->stale.cap; k++)
    if (s->stale.slots[k].key) j->stale[j->n_stale++] = db_strdup(s->stale.slots[k].key);
  db_map_clear(&s->stale);
  pthread_mutex_unlock(&s->lock);
  enqueue(s, j);
}

static void close_forecast(void *state) {
  db_fc_service *s = state;
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  atomic_store(&s->stop, 1);
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  if (s->runner_started) pthread_join(s->runner, NULL);
  for (size_t i = 0; i < s->n_jobs; i++) job_free(s->jobs[i]);
  db_free(s->jobs);
  for (size_t i = 0; i < s->n_kept; i++) kept_clear(&s->kept[i]);
  db_free(s->kept);
  db_map_free(&s->kept_index);
  db_map_free(&s->stale);
  free_codes(s);
  pthread_rwlock_destroy(&s->kept_lock);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  db_free(s);
}
