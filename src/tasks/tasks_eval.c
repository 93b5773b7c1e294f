/* tasks_eval.c - evaluation of tasks with data, and the once-per-due-day overdue notice.
 *
 * A task's condition is a boolean formula judged at the task's unit on the cube, through the derived
 * indicators' engine (derive.h db_derive_eval), period by period of the formula's periodicity inside the
 * task's condition period, up to the periods begun by the day of the clock. The first period where it
 * holds is the proof: the task is done, achieved by data, and keeps as evidence the period, the values of
 * its linked indicators (and of those the condition reads) there, and the day of the evaluation.
 * Without an engine or a cube (e or v NULL) only the overdue notices are given. */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "formula/formula.h"
#include "model/period.h"
#include "tasks/tasks_int.h"

#define MAX_PERIODS 4096 /* periods judged for one task: a year of days, a decade of months */

typedef struct eval_env {
  db_store *s;
  db_derive *e;
  const db_cube_version *v;
  const db_catalog *cat;
  const db_task_clock *clk;
  const char *actor;
  db_tasks_eval_summary *sum;
  db_diag *d;
} eval_env;

/* The value of one indicator code at unit u, period p (NAN when missing or not computable). */
static double value_of(const eval_env *env, const char *code, int64_t u, const db_period *p) {
  db_formula *f = NULL;
  db_diag d = DB_DIAG_INIT;
  double out = NAN;
  if (db_formula_compile(code, strlen(code), env->cat, &f, &d) == DB_OK) {
    db_period_type type;
    int span;
    if (db_formula_periodicity(f, &type, &span) == DB_OK) {
      db_period at = *p;
      if (type != p->type) db_period_containing(p, type, span, &at);
      if (at.type == type) db_derive_eval(env->e, env->v, f, &u, 1, &at, 1, &out, &d);
    }
  }
  db_formula_free(f);
  db_diag_free(&d);
  return out;
}

/* Adds code's value to the evidence's values unless it is there. */
static void add_value(const eval_env *env, json_t *values, const char *code, int64_t u, const db_period *p) {
  if (json_object_get(values, code)) return;
  double x = value_of(env, code, u, p);
  json_object_set_new(values, code, isnan(x) ? json_null() : json_real(x));
}

static int add_linked(void *ctx, json_t *values, const char *list, int64_t u, const db_period *p) {
  const eval_env *env = ctx;
  json_t *arr = db__list_json(list);
  size_t i;
  json_t *it;
  json_array_foreach(arr, i, it) add_value(env, values, json_string_value(it), u, p);
  json_decref(arr);
  return 0;
}

/* Judges one task's condition: 1 when it held (evidence filled), 0 when not, or an error (in d). */
static int judge(const eval_env *env, const db_task *t, char **evidence) {
  db_formula *f = NULL;
  db_diag fd = DB_DIAG_INIT;
  char path[48];
  snprintf(path, sizeof path, "task:%lld", (long long)t->id);
  int rc = db_formula_compile(t->condition, strlen(t->condition), env->cat, &f, &fd);
  db_period_type type;
  int span;
  db_period cp;
  if (!rc && (db_formula_periodicity(f, &type, &span) != DB_OK ||
              db_period_parse(t->condition_period, strlen(t->condition_period), &cp, NULL) != DB_OK))
    rc = DB_EINVAL;
  if (rc) {
    db_diag_add(env->d, 0, 0, path, DB_EINVAL, "the condition '%s' cannot be judged on this catalog", t->condition);
    goto done;
  }
  int64_t u = db_cube_unit_index(env->v, t->unit);
  if (u < 0) {
    rc = db_diag_add(env->d, 0, 0, path, DB_EINVAL, "unknown unit %s", t->unit);
    goto done;
  }
  db_period *periods = db_malloc(MAX_PERIODS * sizeof *periods);
  int64_t n = 1;
  if (cp.type == type) periods[0] = cp;
  else n = db_period_subperiods(&cp, type, periods, MAX_PERIODS);
  if (n > MAX_PERIODS) n = MAX_PERIODS;
  /* only the periods begun by the end of today count */
  db_period today = {DB_PT_DAY, 0, env->clk->today};
  int64_t end_today = db_period_end_ms(&today);
  while (n > 0 && db_period_start_ms(&periods[n - 1]) >= end_today) n--;
  rc = 0;
  if (n > 0) {
    double *out = db_malloc((size_t)n * sizeof *out);
    int erc = db_derive_eval(env->e, env->v, f, &u, 1, &periods[0], (size_t)n, out, &fd);
    if (erc) {
      db_diag_add(env->d, 0, 0, path, erc, "the condition '%s' could not be evaluated", t->condition);
    } else {
      for (int64_t k = 0; k < n; k++) {
        if (out[k] != 1.0) continue;
        char code[DB_PERIOD_CODE_MAX], day[11];
        db_period_format(&periods[k], code);
        db_format_date(env->clk->today, day);
        json_t *values = json_object();
        add_linked((void *)env, values, t->indicators, u, &periods[k]);
        const char *const *deps;
        size_t nd = db_formula_deps(f, &deps);
        for (size_t i = 0; i < nd; i++) add_value(env, values, deps[i], u, &periods[k]);
        json_t *ev = json_pack("{s:s, s:s, s:s, s:o, s:s}", "condition", t->condition, "period", code, "unit",
                               t->unit, "values", values, "evaluated", day);
        char *text = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        *evidence = db_strdup(text);
        free(text);
        rc = 1;
        break;
      }
    }
    db_free(out);
  }
  db_free(periods);
done:
  db_formula_free(f);
  db_diag_free(&fd);
  return rc;
}

static int eval_one(eval_env *env, db_task *t) {
  db_task_view view;
  db_task_view_of(t, env->clk, &view);
  int rc = 0;
  if (env->e && env->v && t->condition && t->condition_period) {
    env->sum->judged++;
    char *evidence = NULL;
    int held = judge(env, t, &evidence);
    if (held == 1) {
      t->status = DB_TASK_DONE;
      if (t->started == DB_DATE_NONE) t->started = env->clk->today;
      t->done = env->clk->today;
      t->percent = 100;
      t->achieved_by_data = 1;
      t->evidence = evidence;
      env->sum->achieved++;
      json_t *extra = json_loads(evidence, 0, NULL);
      return db__task_save(env->s, t, t->version, env->actor, "task.achieved", json_pack("{s:o}", "evidence", extra));
    }
    if (held == 0 && view.overdue && !t->condition_missed) {
      t->condition_missed = 1;
      env->sum->missed++;
      rc = db__task_save(env->s, t, t->version, env->actor, "task.condition_missed", NULL);
      if (rc) return rc;
    }
  }
  if (view.overdue && t->overdue_noted != view.due) {
    t->overdue_noted = view.due;
    env->sum->overdue_noted++;
    rc = db__task_save(env->s, t, t->version, env->actor, "task.overdue",
                       json_pack("{s:o, s:I}", "due", db__day_json(view.due), "days_late", (json_int_t)view.days_late));
  }
  return rc;
}

int db_tasks_evaluate(db_store *s, db_derive *e, const db_cube_version *v, const db_catalog *cat,
                      const db_task_clock *clk, const char *actor, db_tasks_eval_summary *sum, db_diag *d) {
  db_tasks_eval_summary local = {0};
  eval_env env = {s, e, v, cat, clk, actor ? actor : "system", sum ? sum : &local, d};
  memset(env.sum, 0, sizeof *env.sum);
  db_task *tasks = NULL;
  size_t n = 0;
  int rc = db_tasks_load_all(s, &tasks, &n);
  for (size_t i = 0; !rc && i < n; i++)
    if (tasks[i].status == DB_TASK_NEW || tasks[i].status == DB_TASK_IN_PROGRESS) rc = eval_one(&env, &tasks[i]);
  db_tasks_free_all(tasks, n);
  return rc;
}
