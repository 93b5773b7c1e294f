/* tasks_stats.c - statistics and rankings of task execution per agency and per unit, and their
 * publication as system indicators through the ingest path, so that dashboards, alert rules and
 * composite indices read them like any other indicator.
 *
 * Indicators (monthly; the value of a month is the state on the day of publication, revised while the
 * month runs, so the history of revisions is the trend within a month and the months are the trend):
 *   TASK_ONTIME_PCT  on-time completion rate, % of the priority weight of due items
 *   TASK_OVERDUE     items open past their due day
 *   TASK_DELAY_AVG   mean working days late of due items (on time counting 0), priority-weighted
 *   TASK_ITEMS       items (tasks not cancelled; occurrences of recurring tasks done or due)
 * Series: per lead agency at the agency's unit with dimension key "AGENCY=<code>"; per ward, commune or
 * special zone the plain series of the unit (tasks scoped to it); all tasks together the plain series of
 * the city 79. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "ingest/catalog_import.h"
#include "ingest/ingest.h"
#include "model/period.h"
#include "tasks/tasks_int.h"

#define CITY "79"

typedef struct acc {
  db_tasks_stat st;
  double w_due, w_ontime, w_delay;
} acc;

typedef struct accs {
  acc *a;
  size_t n, cap;
  db_map index; /* key -> index */
} accs;

static acc *acc_of(accs *s, const char *key) {
  int64_t i;
  if (db_map_gets(&s->index, key, &i)) return &s->a[i];
  if (s->n == s->cap) s->a = db_realloc(s->a, (s->cap = s->cap ? s->cap * 2 : 32) * sizeof *s->a);
  acc *x = &s->a[s->n];
  memset(x, 0, sizeof *x);
  snprintf(x->st.key, sizeof x->st.key, "%s", key);
  db_map_puts(&s->index, key, (int64_t)s->n++);
  return x;
}

/* Adds task t to accumulator x. */
static void add_task(acc *x, const db_task *t, const db_task_clock *clk) {
  if (t->status == DB_TASK_CANCELLED) {
    x->st.cancelled++;
    return;
  }
  if (t->achieved_by_data) x->st.achieved_by_data++;
  db__task_item *items;
  size_t n = db__task_items(t, clk, &items);
  double w = t->priority >= DB_TASK_LOW && t->priority <= DB_TASK_URGENT ? t->priority : DB_TASK_NORMAL;
  for (size_t i = 0; i < n; i++) {
    const db__task_item *it = &items[i];
    x->st.items++;
    if (it->done != DB_DATE_NONE) {
      x->st.done++;
      x->w_due += w;
      if (it->done <= it->due) {
        x->st.done_on_time++;
        x->w_ontime += w;
      } else {
        x->st.done_late++;
        x->w_delay += w * (double)db__tasks_late_by(clk->cal, it->due, it->done);
      }
    } else {
      x->st.open++;
      if (it->due != DB_DATE_NONE && clk->today > it->due) {
        x->st.overdue++;
        x->w_due += w;
        x->w_delay += w * (double)db__tasks_late_by(clk->cal, it->due, clk->today);
      }
    }
  }
  db_free(items);
}

static void finish(acc *x) {
  x->st.ontime_pct = x->w_due > 0 ? 100.0 * x->w_ontime / x->w_due : NAN;
  x->st.avg_delay = x->w_due > 0 ? x->w_delay / x->w_due : NAN;
}

/* Best first: a rate before none; higher rate; fewer overdue; smaller delay; then by key. */
static int better(const db_tasks_stat *a, const db_tasks_stat *b) {
  int ra = !isnan(a->ontime_pct), rb = !isnan(b->ontime_pct);
  if (ra != rb) return ra ? -1 : 1;
  if (ra) {
    if (a->ontime_pct != b->ontime_pct) return a->ontime_pct > b->ontime_pct ? -1 : 1;
    if (a->overdue != b->overdue) return a->overdue < b->overdue ? -1 : 1;
    if (a->avg_delay != b->avg_delay) return a->avg_delay < b->avg_delay ? -1 : 1;
  }
  return 0;
}

static int cmp_stat(const void *pa, const void *pb) {
  const db_tasks_stat *a = pa, *b = pb;
  int c = better(a, b);
  return c ? c : strcmp(a->key, b->key);
}

int db_tasks_stats(const db_task *tasks, size_t n, const db_task_clock *clk, db_tasks_by by,
                   db_tasks_stat **out, size_t *n_out) {
  db_task_clock now = {NULL, db__tasks_today()};
  if (!clk) clk = &now;
  accs groups = {NULL, 0, 0, DB_MAP_INIT};
  acc total;
  memset(&total, 0, sizeof total);
  for (size_t i = 0; i < n; i++) {
    add_task(acc_of(&groups, by == DB_TASKS_BY_UNIT ? tasks[i].unit : tasks[i].lead), &tasks[i], clk);
    add_task(&total, &tasks[i], clk);
  }
  db_tasks_stat *rows = db_malloc((groups.n + 1) * sizeof *rows);
  for (size_t i = 0; i < groups.n; i++) {
    finish(&groups.a[i]);
    rows[i] = groups.a[i].st;
  }
  qsort(rows, groups.n, sizeof *rows, cmp_stat);
  for (size_t i = 0; i < groups.n; i++) {
    if (isnan(rows[i].ontime_pct)) rows[i].rank = 0;
    else rows[i].rank = i > 0 && better(&rows[i - 1], &rows[i]) == 0 ? rows[i - 1].rank : (int64_t)i + 1;
  }
  finish(&total);
  rows[groups.n] = total.st;
  rows[groups.n].rank = 0;
  *out = rows;
  *n_out = groups.n + 1;
  db_free(groups.a);
  db_map_free(&groups.index);
  return DB_OK;
}

/* ---- the indicators ---- */

typedef struct ind_def {
  const char *code, *name, *name_en, *unit;
  int decimals;
  db_agg space;
  db_polarity polarity;
  double min, max;
} ind_def;

static const ind_def indicators[] = {
    {"TASK_ONTIME_PCT", "Tỷ lệ nhiệm vụ hoàn thành đúng hạn", "Tasks completed on time, share", "%", 1, DB_AGG_AVG,
     DB_POL_HIGHER, 0, 100},
    {"TASK_OVERDUE", "Số nhiệm vụ quá hạn", "Overdue tasks", "tasks", 0, DB_AGG_SUM, DB_POL_LOWER, 0, NAN},
    {"TASK_DELAY_AVG", "Số ngày làm việc trễ hạn bình quân", "Average delay of tasks", "working days", 1,
     DB_AGG_AVG, DB_POL_LOWER, 0, NAN},
    {"TASK_ITEMS", "Số nhiệm vụ được giao", "Tasks assigned", "tasks", 0, DB_AGG_SUM, DB_POL_NEUTRAL, 0, NAN},
};
#define N_INDICATORS (sizeof indicators / sizeof *indicators)

int db_tasks_ensure_catalog(db_store *s, const db_catalog *cat, int *changed, db_diag *d) {
  *changed = 0;
  int rc = db_catalog_ensure_agency_dimension(s, cat, changed);
  const char *owner = db_catalog_agency(cat, "PCO") ? "PCO" : NULL;
  for (size_t i = 0; !rc && i < N_INDICATORS; i++) {
    const ind_def *def = &indicators[i];
    const db_indicator *have = db_catalog_indicator(cat, def->code);
    if (have && db_list_has(have->dimensions, DB_AGENCY_DIMENSION, strlen(DB_AGENCY_DIMENSION))) continue;
    db_indicator ind;
    db_indicator_init(&ind);
    ind.code = (char *)def->code;
    ind.name = (char *)def->name;
    ind.name_en = (char *)def->name_en;
    ind.description = (char *)"Thống kê thực hiện nhiệm vụ do UBND Thành phố giao, tính từ hệ thống theo dõi nhiệm "
                              "vụ (giá trị của tháng là tình hình tại ngày công bố gần nhất).";
    ind.unit = (char *)def->unit;
    ind.decimals = def->decimals;
    ind.periodicity = DB_PT_MONTH;
    ind.agg_space = def->space;
    ind.agg_time = DB_AGG_LAST;
    ind.polarity = def->polarity;
    ind.valid_min = def->min;
    ind.valid_max = def->max;
    ind.owner = (char *)owner;
    ind.sector = (char *)"governance";
    ind.groups = (char *)"tasks;system";
    ind.dimensions = (char *)DB_AGENCY_DIMENSION;
    ind.source = (char *)"databrain tasks";
    rc = db_indicator_validate(&ind, 0, d);
    if (!rc) rc = db_store_put_indicator(s, &ind);
    if (!rc) *changed = 1;
  }
  return rc;
}

/* ---- publication ---- */

/* Adds the four values of one statistic row (figures NAN are left out). */
static int add_rows(db_ingest *in, const char *unit, const char *dims, const db_tasks_stat *st, const char *period) {
  int rc = db_ingest_add(in, 0, "TASK_ITEMS", unit, period, (double)st->items, DB_STATUS_PROVISIONAL, dims);
  if (rc) return rc;
  if ((rc = db_ingest_add(in, 0, "TASK_OVERDUE", unit, period, (double)st->overdue, DB_STATUS_PROVISIONAL, dims)))
    return rc;
  if (!isnan(st->ontime_pct) &&
      (rc = db_ingest_add(in, 0, "TASK_ONTIME_PCT", unit, period, round(st->ontime_pct * 10) / 10,
                          DB_STATUS_PROVISIONAL, dims)))
    return rc;
  if (!isnan(st->avg_delay))
    rc = db_ingest_add(in, 0, "TASK_DELAY_AVG", unit, period, round(st->avg_delay * 10) / 10, DB_STATUS_PROVISIONAL,
                       dims);
  return rc;
}

int db_tasks_publish_stats(db_store *s, const db_catalog *cat, const db_task_clock *clk, const char *actor,
                           db_ingest_result *res, db_diag *d) {
  memset(res, 0, sizeof *res);
  for (size_t i = 0; i < N_INDICATORS; i++)
    if (!db_catalog_indicator(cat, indicators[i].code))
      return db_diag_add(d, 0, 0, indicators[i].code, DB_EINVAL, "the catalog lacks the task indicators");
  db_task *tasks = NULL;
  size_t n = 0;
  int rc = db_tasks_load_all(s, &tasks, &n);
  if (rc || n == 0) return rc; /* no task: no batch */
  db_tasks_stat *by_agency = NULL, *by_unit = NULL;
  size_t na = 0, nu = 0;
  db_tasks_stats(tasks, n, clk, DB_TASKS_BY_AGENCY, &by_agency, &na);
  db_tasks_stats(tasks, n, clk, DB_TASKS_BY_UNIT, &by_unit, &nu);
  db_period day = {DB_PT_DAY, 0, clk->today}, month;
  db_period_containing(&day, DB_PT_MONTH, 0, &month);
  char period[DB_PERIOD_CODE_MAX];
  db_period_format(&month, period);
  db_batch_info info = {.source = "tasks:stats", .actor = actor ? actor : "system"};
  db_ingest *in = NULL;
  rc = db_ingest_begin(s, cat, &info, d, &in, NULL);
  if (rc) goto done;
  db_ingest_keep_changes(in);
  char dims[96];
  for (size_t i = 0; !rc && i + 1 < na; i++) {
    const db_agency *a = db_catalog_agency(cat, by_agency[i].key);
    if (!a || !a->orgunit) continue;
    snprintf(dims, sizeof dims, DB_AGENCY_DIMENSION "=%s", a->code);
    rc = add_rows(in, a->orgunit, dims, &by_agency[i], period);
  }
  for (size_t i = 0; !rc && i + 1 < nu; i++) {
    const db_orgunit *u = db_catalog_unit(cat, by_unit[i].key);
    if (u && (u->kind == DB_OU_WARD || u->kind == DB_OU_COMMUNE || u->kind == DB_OU_SPECIAL_ZONE))
      rc = add_rows(in, u->code, NULL, &by_unit[i], period);
  }
  if (!rc && n && db_catalog_unit(cat, CITY)) rc = add_rows(in, CITY, NULL, &by_agency[na - 1], period);
  if (rc) {
    db_ingest_abort(in);
    goto done;
  }
  rc = db_ingest_finish(in, res);
done:
  db_free(by_agency);
  db_free(by_unit);
  db_tasks_free_all(tasks, n);
  return rc;
}
