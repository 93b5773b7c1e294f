/* outlook_run.c - batch runs (contract in outlook.h): which series of the store are worth forecasting,
 * how one is read from the cube, and the pool of threads that fits a list of them. */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "outlook/outlook.h"

void db_outlook_list_free(db_outlook_list *l) {
  for (size_t i = 0; i < l->count; i++) db_free(l->items[i].dimkey);
  db_free(l->items);
  memset(l, 0, sizeof *l);
}

void db_outlook_list_add(db_outlook_list *l, size_t indicator, size_t unit, const char *dimkey) {
  if (l->count == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->items = db_realloc(l->items, l->cap * sizeof *l->items);
  }
  l->items[l->count++] = (db_outlook_item){indicator, unit, db_strdup(dimkey ? dimkey : "")};
}

/* What list_series gathers. */
typedef struct lister {
  const db_catalog *cat;
  db_map ind_by_id, unit_by_id;       /* store id -> catalog index */
  db_map only_inds, only_units;       /* catalog indices asked for (empty = all) */
  int64_t today;
  db_outlook_list *l;
} lister;

/* Resolves the comma-separated codes of `list` (indicators when is_ind) into `only`; each unknown code
 * goes to d. Returns the number of unknown codes. */
static int resolve(const db_catalog *cat, const char *list, int is_ind, db_map *only, db_diag *d) {
  int unknown = 0;
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char code[256];
    snprintf(code, sizeof code, "%.*s", (int)(len < 255 ? len : 255), p);
    int64_t idx = -1;
    if (is_ind && db_catalog_indicator(cat, code)) idx = db_catalog_indicator(cat, code) - cat->indicators;
    if (!is_ind && db_catalog_unit(cat, code)) idx = db_catalog_unit(cat, code) - cat->units;
    if (idx >= 0) {
      db_map_put(only, &idx, 8, 1);
    } else if (len) {
      db_diag_add(d, 0, 0, is_ind ? "indicators" : "units", DB_ENOTFOUND, "unknown %s '%s'",
                  is_ind ? "indicator" : "org unit", code);
      unknown++;
    }
    p = end ? end + 1 : NULL;
  }
  return unknown;
}

static int take_series(void *ctx, const db_series *s) {
  lister *ls = ctx;
  int64_t ind, unit;
  if (!db_map_get(&ls->ind_by_id, &s->indicator, 8, &ind) || !db_map_get(&ls->unit_by_id, &s->orgunit, 8, &unit))
    return 0;
  const db_indicator *i = &ls->cat->indicators[ind];
  const db_orgunit *u = &ls->cat->units[unit];
  if ((i->formula && *i->formula) || i->periodicity == DB_PT_MULTIYEAR) return 0;
  if (u->valid_to != DB_DATE_NONE && u->valid_to < ls->today) return 0;
  if (ls->only_inds.count && !db_map_get(&ls->only_inds, &ind, 8, NULL)) return 0;
  if (ls->only_units.count && !db_map_get(&ls->only_units, &unit, 8, NULL)) return 0;
  db_outlook_list_add(ls->l, (size_t)ind, (size_t)unit, s->dimkey);
  return 0;
}

int db_outlook_list_series(db_store *s, const db_catalog *cat, const char *indicators, const char *units,
                           int64_t now_ms, db_outlook_list *l, db_diag *d) {
  lister ls = {cat, DB_MAP_INIT, DB_MAP_INIT, DB_MAP_INIT, DB_MAP_INIT, 0, l};
  ls.today = (now_ms / 60000 + DB_CITY_UTC_OFFSET_MINUTES) / 1440;
  int rc = 0;
  if (resolve(cat, indicators, 1, &ls.only_inds, d) + resolve(cat, units, 0, &ls.only_units, d)) {
    rc = DB_ENOTFOUND;
    goto done;
  }
  for (size_t i = 0; i < cat->n_indicators; i++) db_map_put(&ls.ind_by_id, &cat->indicators[i].id, 8, (int64_t)i);
  for (size_t i = 0; i < cat->n_units; i++) db_map_put(&ls.unit_by_id, &cat->units[i].id, 8, (int64_t)i);
  rc = db_store_read_series(s, take_series, &ls);
done:
  db_map_free(&ls.ind_by_id);
  db_map_free(&ls.unit_by_id);
  db_map_free(&ls.only_inds);
  db_map_free(&ls.only_units);
  return rc;
}

int db_outlook_series_values(const db_cube_version *v, const db_catalog *cat, size_t indicator, size_t unit,
                             const char *dimkey, double **y, size_t *n, db_period *first) {
  *y = NULL;
  *n = 0;
  if (indicator >= cat->n_indicators || unit >= cat->n_units) return DB_EINVAL;
  db_period last;
  if (db_cube_range(v, (int64_t)indicator, dimkey, first, &last) != DB_OK) return DB_ENOTFOUND;
  size_t count = (size_t)db_period_diff(first, &last) + 1;
  double *values = db_malloc(count * sizeof *values);
  db_cube_cell *cells = db_malloc(count * sizeof *cells);
  const int64_t *kids;
  int rc = db_cube_rebase(v, (int64_t)indicator, dimkey, (int64_t)unit, first, count, cells);
  size_t present = 0;
  for (size_t k = 0; !rc && k < count; k++) present += cells[k].count > 0 && cells[k].count == cells[k].expected;
  if (!rc && !present && db_cube_unit_children(v, (int64_t)unit, &kids))
    rc = db_cube_rollup(v, (int64_t)indicator, dimkey, (int64_t)unit, first, count, cells);
  for (size_t k = 0; !rc && k < count; k++) {
    int whole = cells[k].count > 0 && cells[k].count == cells[k].expected;
    values[k] = whole ? cells[k].value : NAN;
    present += whole;
  }
  db_free(cells);
  if (rc || !present) {
    db_free(values);
    return rc ? rc : DB_ENOTFOUND;
  }
  *y = values;
  *n = count;
  return DB_OK;
}

/* The state the threads of one run share. */
typedef struct runner {
  const db_outlook_job *job;
  atomic_size_t next;
  size_t done;
  pthread_mutex_t lock;
} runner;

/* Fits one series and reports it under the run's lock. */
static void fit_one(runner *r, const db_outlook_item *it) {
  const db_outlook_job *job = r->job;
  const db_indicator *ind = &job->cat->indicators[it->indicator];
  db_outlook_meta meta = {ind->code, job->cat->units[it->unit].code, it->dimkey, ind->agg_time, ind->polarity,
                          ind->band_at_risk};
  double *y;
  size_t n;
  db_period first;
  db_outlook_fc fc;
  char why[128] = "no data";
  int rc = db_outlook_series_values(job->v, job->cat, it->indicator, it->unit, it->dimkey, &y, &n, &first);
  if (!rc) rc = db_outlook_fit(y, n, &first, job->h, job->now_ms, &fc, why);
  db_free(y);
  pthread_mutex_lock(&r->lock);
  job->result(job->ctx, it, rc ? NULL : &fc, &meta, rc ? why : NULL);
  r->done++;
  if (job->progress) job->progress(job->ctx, r->done, job->list->count);
  pthread_mutex_unlock(&r->lock);
  if (!rc) db_outlook_fc_free(&fc);
}

static void *worker(void *arg) {
  runner *r = arg;
  for (;;) {
    if (r->job->stop && atomic_load(r->job->stop)) break;
    size_t i = atomic_fetch_add(&r->next, 1);
    if (i >= r->job->list->count) break;
    fit_one(r, &r->job->list->items[i]);
  }
  return NULL;
}

int db_outlook_run(const db_outlook_job *job) {
  for (size_t i = 0; i < job->list->count; i++)
    if (job->list->items[i].indicator >= job->cat->n_indicators || job->list->items[i].unit >= job->cat->n_units)
      return DB_EINVAL;
  int threads = job->threads > 0 ? job->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1) threads = 1;
  if ((size_t)threads > job->list->count) threads = job->list->count ? (int)job->list->count : 1;
  runner r = {job, 0, 0, PTHREAD_MUTEX_INITIALIZER};
  pthread_t *ids = db_malloc((size_t)threads * sizeof *ids);
  int started = 0;
  for (int t = 1; t < threads; t++)
    if (pthread_create(&ids[started], NULL, worker, &r) == 0) started++;
  worker(&r); /* the calling thread works too */
  for (int t = 0; t < started; t++) pthread_join(ids[t], NULL);
  db_free(ids);
  pthread_mutex_destroy(&r.lock);
  return DB_OK;
}
