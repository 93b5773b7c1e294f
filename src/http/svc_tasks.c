/* svc_tasks.c - the tasks service of the server (service.h) over tasks/tasks.h. From its clock it
 * evaluates the open tasks with data (a condition that now holds completes its task; a due day passed
 * without it is flagged; a task that became overdue gets its task.overdue event, once per due day) and
 * publishes the statistics as the TASK_* indicators through the ingest path (actor "system", source
 * "tasks:stats"): a few seconds after data or tasks changed, when the day changes, and at least hourly.
 * Overdue is never stored: only the notice that it happened is. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/http_int.h"
#include "http/svc_tasks.h"
#include "ingest/calendar_import.h"
#include "ingest/ingest.h"
#include "model/period.h"

#define RUN_DELAY_MS 3000     /* after a change, the statistics follow this long after */
#define RUN_EVERY_MS 3600000  /* and at least this often */
#define STATS_SOURCE "tasks:stats"

typedef struct tasks_state {
  pthread_mutex_t lock;
  int64_t dirty_ms; /* when something changed that the statistics do not show; 0 when none */
  int64_t run_ms;   /* when they were last brought up to date */
  int64_t run_day;  /* the city day of that run */
} tasks_state;

static int t_open(db_app *app, void **state, db_diag *d) {
  tasks_state *t = db_calloc(1, sizeof *t);
  pthread_mutex_init(&t->lock, NULL);
  t->dirty_ms = 1; /* once at start */
  *state = t;
  return 0;
}

static void t_close(void *state) {
  tasks_state *t = state;
  if (!t) return;
  pthread_mutex_destroy(&t->lock);
  db_free(t);
}

static void mark_dirty(tasks_state *t, int64_t now_ms) {
  pthread_mutex_lock(&t->lock);
  if (!t->dirty_ms) t->dirty_ms = now_ms;
  pthread_mutex_unlock(&t->lock);
}

void db__tasks_svc_touch(db_app *app) {
  tasks_state *t = db_app_service(app, DB_SVC_tasks);
  if (t) mark_dirty(t, db_now_ms());
}

/* New data may prove a task done; the service's own statistics batch proves nothing. */
static void t_committed(void *state, db_app *app, const db_commit *c) {
  if (c->source && strcmp(c->source, STATS_SOURCE) == 0) return;
  mark_dirty(state, c->time_ms ? c->time_ms : db_now_ms());
}

/* The work of a run, the write lock held. */
static int run_locked(db_app *app, int64_t today, db_tasks_eval_summary *sum, db_diag *d) {
  db_store *s = app->writer;
  db_calendar *cal = db_calendar_new();
  int changed = 0;
  int err = db_calendar_load(s, cal);
  if (!err) err = db_store_begin(s, 0);
  if (!err) {
    err = db_tasks_ensure_catalog(s, &app->snap->cat, &changed, d);
    if (!err) err = db_store_commit(s);
    else db_store_rollback(s);
  }
  if (!err && changed) err = db_app_catalog_changed(app);
  if (err) goto done;
  const db_cube_version *v;
  db_derive *e;
  db_snapshot *snap = db_app_snapshot_acquire(app, &v, &e);
  db_task_clock clk = {cal, today};
  err = db_store_begin(s, 0);
  if (!err) {
    err = db_tasks_evaluate(s, e, v, &snap->cat, &clk, "system", sum, d);
    if (!err) err = db_store_commit(s);
    else db_store_rollback(s);
  }
  if (!err) {
    db_ingest_result res;
    err = db_tasks_publish_stats(s, &snap->cat, &clk, "system", &res, d);
    if (!err && res.seq) {
      db_commit c = {res.seq, "system", STATS_SOURCE, db_now_ms(), res.changes, res.n_changes};
      db_app_data_committed(app, &c);
    }
    db_ingest_result_free(&res);
  }
  db_app_snapshot_release(snap, v);
done:
  db_calendar_free(cal);
  return err;
}

int db__tasks_svc_run(db_app *app, int64_t today, db_tasks_eval_summary *sum, db_diag *d) {
  db_app_write_begin(app);
  int err = run_locked(app, today, sum, d);
  db_app_write_end(app);
  return err;
}

static void t_tick(void *state, db_app *app, int64_t now_ms) {
  tasks_state *t = state;
  int64_t today = db_period_at(DB_PT_DAY, 0, now_ms).ord;
  pthread_mutex_lock(&t->lock);
  int due = (t->dirty_ms && now_ms - t->dirty_ms >= RUN_DELAY_MS) || now_ms - t->run_ms >= RUN_EVERY_MS ||
            today != t->run_day;
  if (due) t->dirty_ms = 0;
  pthread_mutex_unlock(&t->lock);
  if (!due) return;
  db_diag d = DB_DIAG_INIT;
  int err = db__tasks_svc_run(app, today, NULL, &d);
  if (err) {
    fprintf(stderr, "databrain serve: tasks: %s\n", db_strerror(err));
    db_diag_print(&d, stderr, "databrain serve");
  }
  db_diag_free(&d);
  pthread_mutex_lock(&t->lock);
  t->run_ms = now_ms;
  t->run_day = today;
  pthread_mutex_unlock(&t->lock);
}

const db_service db_service_tasks = {"tasks", t_open, t_committed, NULL, t_tick, t_close};
