/* svc_quality.c - the data quality service of the server (service.h) over quality/quality.h: after every
 * committed batch it judges the validation rules that read a changed indicator at the changed cells
 * (violations opened and resolved in the same moment), and from its clock it keeps the data-supply
 * scores stored as indicators (DQ_* at each agency's unit with AGENCY=code, and at each ward): after data
 * arrived, and at least hourly (deadlines pass with time alone). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/http_int.h"
#include "ingest/calendar_import.h"
#include "quality/quality.h"

#define SCORE_DELAY_MS 5000     /* data arrived: scores are brought up to date this long after */
#define SCORE_EVERY_MS 3600000  /* and at least this often */

typedef struct quality_state {
  pthread_mutex_t lock;
  int64_t dirty_ms;  /* when data arrived that the scores do not reflect yet; 0 when none */
  int64_t scored_ms; /* when the scores were last written */
} quality_state;

static int q_open(db_app *app, void **state, db_diag *d) {
  quality_state *q = db_calloc(1, sizeof *q);
  pthread_mutex_init(&q->lock, NULL);
  q->dirty_ms = 1; /* score once at start */
  *state = q;
  return 0;
}

static void q_close(void *state) {
  quality_state *q = state;
  if (!q) return;
  pthread_mutex_destroy(&q->lock);
  db_free(q);
}

/* 1 when a commit is the service's own scorecard batch. */
static int own_batch(const db_commit *c) {
  return c->source && strcmp(c->source, "quality.scorecards") == 0 && c->actor && strcmp(c->actor, "system") == 0;
}

static void q_committed(void *state, db_app *app, const db_commit *c) {
  quality_state *q = state;
  const db_cube_version *v;
  db_derive *e;
  db_snapshot *snap = db_app_snapshot_acquire(app, &v, &e);
  db_check_stats st;
  db_diag d = DB_DIAG_INIT;
  int err = db_rules_check(app->writer, &snap->cat, e, v, c->changes, c->n_changes, NULL, c->seq, c->time_ms, &st, &d);
  if (err) {
    fprintf(stderr, "databrain serve: validation rules after batch %lld: %s\n", (long long)c->seq, db_strerror(err));
    db_diag_print(&d, stderr, "databrain serve");
  }
  db_diag_free(&d);
  db_app_snapshot_release(snap, v);
  if (own_batch(c)) return;
  pthread_mutex_lock(&q->lock);
  if (!q->dirty_ms) q->dirty_ms = c->time_ms;
  pthread_mutex_unlock(&q->lock);
}

/* Computes and writes the scores; the write lock is held. */
static int write_scores(db_app *app, int64_t now_ms, db_diag *d) {
  int changed = 0;
  int err = db_store_begin(app->writer, 0);
  if (!err) err = db_scorecards_ensure_catalog(app->writer, &app->snap->cat, &changed);
  if (!err) err = db_store_commit(app->writer);
  else db_store_rollback(app->writer);
  if (!err && changed) err = db_app_catalog_changed(app);
  if (err) return err;
  const db_cube_version *v;
  db_derive *e;
  db_snapshot *snap = db_app_snapshot_acquire(app, &v, &e);
  db_obligation *ob = NULL;
  size_t n_ob = 0, n_cells = 0;
  db_supply_cell *cells = NULL;
  db_calendar *cal = db_calendar_new();
  db_supply_filter f = {0};
  err = db_obligations_load(app->writer, &snap->cat, &ob, &n_ob);
  if (!err) err = db_calendar_load(app->writer, cal);
  if (!err) err = db_supply_cells(app->writer, &snap->cat, cal, ob, n_ob, &f, now_ms, &cells, &n_cells);
  if (!err) err = db_supply_mark_invalid(app->writer, &snap->cat, cells, n_cells);
  if (!err && n_cells) {
    db_ingest_result res;
    err = db_scorecards_store(app->writer, &snap->cat, ob, cells, n_cells, d, &res);
    if (!err) {
      db_commit c = {res.seq, "system", "quality.scorecards", db_now_ms(), res.changes, res.n_changes};
      db_app_data_committed(app, &c);
    }
    db_ingest_result_free(&res);
  }
  db_free(cells);
  db_obligations_free(ob, n_ob);
  db_calendar_free(cal);
  db_app_snapshot_release(snap, v);
  return err;
}

static void q_tick(void *state, db_app *app, int64_t now_ms) {
  quality_state *q = state;
  pthread_mutex_lock(&q->lock);
  int due = (q->dirty_ms && now_ms - q->dirty_ms >= SCORE_DELAY_MS) || now_ms - q->scored_ms >= SCORE_EVERY_MS;
  if (due) q->dirty_ms = 0;
  pthread_mutex_unlock(&q->lock);
  if (!due) return;
  db_diag d = DB_DIAG_INIT;
  db_app_write_begin(app);
  int err = write_scores(app, now_ms, &d);
  db_app_write_end(app);
  if (err) {
    fprintf(stderr, "databrain serve: data-supply scores: %s\n", db_strerror(err));
    db_diag_print(&d, stderr, "databrain serve");
  }
  db_diag_free(&d);
  pthread_mutex_lock(&q->lock);
  q->scored_ms = now_ms;
  pthread_mutex_unlock(&q->lock);
}

const db_service db_service_quality = {"quality", q_open, q_committed, NULL, q_tick, q_close};
