/* derive.c - the derive engine (contract in derive.h): definitions and plans swapped by writers, the cache
 * of derived values per peer group tagged with the cube version they were computed on, invalidation by
 * the formula dependency graph, and the ranking with pillar contributions.
 *
 * Validity of a cached grid. The engine keeps, for every derived indicator, the last cube version whose
 * change reached it (its stamp: set by db_derive_note_commit for the graph's affected set), and `known`,
 * the last version it was told about. A grid computed on version W serves a reader of version R when no
 * change reached the indicator between them (stamp <= min(R, W)) and R <= known; a reader ahead of
 * `known` first marks every indicator changed at R (all_stamp). Definitions and plans are versioned by
 * `gen`: a writer carries the grids of the indicators it does not affect over to the new gen and drops
 * the others; a call still running on an older gen neither uses nor stores grids of the new one. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "derive/derive_int.h"

#define MS_PER_DAY INT64_C(86400000)

typedef struct centry { /* one cached grid: a peer group's values over a run of periods */
  char *code;
  int pillar; /* -1: the whole formula */
  int64_t group;
  db_period first;
  size_t n_periods, n_units;
  uint64_t version, gen, used;
  double *values; /* [member of the group][period] */
} centry;

struct db_derive {
  pthread_mutex_t lock;  /* guards everything below */
  pthread_mutex_t write; /* serialises writers */
  db__ddefs *defs;
  db__dplans *plans;
  uint64_t gen;
  db_map stamps; /* derived code -> last version that changed it */
  uint64_t known, all_stamp;
  centry *cache;
  size_t n_cache, cap_cache, cells;
  uint64_t tick;
  db_derive_stats stats;
  db_derive_forecaster forecaster; /* the provider of the forecast functions, NULL when none */
  void *forecaster_ctx;
};

static void call_begin(db_derive *e, const db_cube_version *v, db__dcall *c);
static void call_end(db__dcall *c);
static void publish(db_derive *e, db__ddefs *defs, db__dplans *plans, const db_map *affected, int drop_all);
static void affected_of(const db__ddefs *df, const char *const *changed, size_t n, db_map *out);
static int units_differ(const db__ddefs *a, const db__ddefs *b);
static int draw_differs(const db__draw *a, const db__draw *b);
static int str_differs(const char *a, const char *b);
static int group_values(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                        size_t n, const int64_t *units, const size_t *rows, size_t n_rows, size_t n_out,
                        double *out, db_diag *d);
static int cache_copy(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                      size_t n, const int64_t *units, const size_t *rows, size_t n_rows, size_t n_out,
                      double *out);
static void cache_store(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                        size_t n, size_t n_units, double *values);
static void cache_drop(db_derive *e, size_t i);
static uint64_t stamp_of(const db_derive *e, const char *code);
static void copy_rows(const db__ddefs *df, const double *grid, size_t n, const int64_t *units,
                      const size_t *rows, size_t n_rows, double *out);
static int eval_group(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                      size_t n, double *grid, db_diag *d);
static int same_period(const db_period *a, const db_period *b);
static int valid_at(const db__dunit *u, const db_period *p);
static int64_t floor_div(int64_t a, int64_t b);

/* ---- the engine ---- */

int db_derive_open(const db_catalog *cat, db_derive **out, db_diag *d) {
  *out = NULL;
  db__ddefs *defs;
  int rc = db__ddefs_new(cat, &defs, d);
  if (rc) return rc;
  db_derive *e = db_calloc(1, sizeof *e);
  pthread_mutex_init(&e->lock, NULL);
  pthread_mutex_init(&e->write, NULL);
  e->defs = defs;
  e->plans = db__dplans_new(NULL, 0);
  e->gen = 1;
  *out = e;
  return 0;
}

void db_derive_close(db_derive *e) {
  if (!e) return;
  while (e->n_cache) cache_drop(e, e->n_cache - 1);
  db_free(e->cache);
  db_map_free(&e->stamps);
  db__ddefs_unref(e->defs);
  db__dplans_unref(e->plans);
  pthread_mutex_destroy(&e->lock);
  pthread_mutex_destroy(&e->write);
  db_free(e);
}

int db_derive_set_catalog(db_derive *e, const db_catalog *cat, db_diag *d) {
  db__ddefs *next;
  int rc = db__ddefs_new(cat, &next, d);
  if (rc) return rc;
  pthread_mutex_lock(&e->write);
  const db__ddefs *prev = e->defs; /* only writers replace it: stable while we hold `write` */
  const char **changed = db_malloc((prev->n_inds + next->n_inds + 1) * sizeof *changed);
  size_t n_changed = 0;
  for (size_t i = 0; i < next->n_inds; i++) {
    const db__draw *was = db__ddefs_ind(prev, next->inds[i].code);
    if (!was || draw_differs(was, &next->inds[i])) changed[n_changed++] = next->inds[i].code;
  }
  for (size_t i = 0; i < prev->n_inds; i++)
    if (!db__ddefs_ind(next, prev->inds[i].code)) changed[n_changed++] = prev->inds[i].code;
  db_map affected = DB_MAP_INIT;
  affected_of(next, changed, n_changed, &affected);
  affected_of(prev, changed, n_changed, &affected);
  publish(e, next, NULL, &affected, units_differ(prev, next));
  db_map_free(&affected);
  db_free(changed);
  pthread_mutex_unlock(&e->write);
  return 0;
}

void db_derive_set_targets(db_derive *e, const db_target *targets, size_t n) {
  db__dplans *next = db__dplans_new(targets, n);
  pthread_mutex_lock(&e->write);
  const db__dplans *prev = e->plans;
  const char **changed = db_malloc((prev->digest.count + next->digest.count + 1) * sizeof *changed);
  size_t n_changed = 0;
  const db_map *sides[2] = {&prev->digest, &next->digest};
  for (int s = 0; s < 2; s++)
    for (size_t k = 0; k < sides[s]->cap; k++) {
      const db_map_slot *slot = &sides[s]->slots[k];
      int64_t other;
      if (slot->key && (!db_map_get(sides[!s], slot->key, slot->len, &other) || other != slot->value))
        changed[n_changed++] = slot->key;
    }
  db_map affected = DB_MAP_INIT;
  pthread_mutex_lock(&e->lock);
  db__ddefs *defs = e->defs;
  atomic_fetch_add(&defs->refs, 1);
  pthread_mutex_unlock(&e->lock);
  affected_of(defs, changed, n_changed, &affected);
  db__ddefs_unref(defs);
  publish(e, NULL, next, &affected, 0);
  db_map_free(&affected);
  db_free(changed);
  pthread_mutex_unlock(&e->write);
}

int db_derive_load_targets(db_derive *e, db_store *s) {
  db_target *targets;
  size_t n;
  int rc = db_store_load_targets(s, NULL, &targets, &n);
  if (rc) return rc;
  db_derive_set_targets(e, targets, n);
  db_store_targets_free(targets, n);
  return 0;
}

void db_derive_note_commit(db_derive *e, uint64_t version, const db_obs_row *rows, size_t n) {
  pthread_mutex_lock(&e->write);
  db__ddefs *df = e->defs;
  db_map seen = DB_MAP_INIT;
  const char **changed = db_malloc((n ? n : 1) * sizeof *changed);
  size_t n_changed = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t at;
    if (!db_map_get(&df->ind_by_id, &rows[i].indicator, sizeof rows[i].indicator, &at) ||
        db_map_gets(&seen, df->inds[at].code, NULL))
      continue;
    db_map_puts(&seen, df->inds[at].code, 1);
    changed[n_changed++] = df->inds[at].code;
  }
  db_map affected = DB_MAP_INIT;
  affected_of(df, changed, n_changed, &affected);
  pthread_mutex_lock(&e->lock);
  if (version > e->known + 1 && e->known) e->all_stamp = version; /* a version we were not told of */
  for (size_t k = 0; k < affected.cap; k++) {
    const db_map_slot *slot = &affected.slots[k];
    if (slot->key && stamp_of(e, slot->key) < version)
      db_map_put(&e->stamps, slot->key, slot->len, (int64_t)version);
  }
  if (version > e->known) e->known = version;
  for (size_t i = e->n_cache; i-- > 0;) /* grids no reader of a version from now on can use */
    if (e->cache[i].version < version && stamp_of(e, e->cache[i].code) > e->cache[i].version)
      cache_drop(e, i);
  pthread_mutex_unlock(&e->lock);
  db_map_free(&affected);
  db_map_free(&seen);
  db_free(changed);
  pthread_mutex_unlock(&e->write);
}

void db_derive_set_forecaster(db_derive *e, db_derive_forecaster fn, void *ctx) {
  pthread_mutex_lock(&e->write);
  pthread_mutex_lock(&e->lock);
  e->forecaster = fn;
  e->forecaster_ctx = ctx;
  pthread_mutex_unlock(&e->lock);
  pthread_mutex_unlock(&e->write);
  db_derive_forecasts_changed(e);
}

void db_derive_forecasts_changed(db_derive *e) {
  pthread_mutex_lock(&e->write);
  db__ddefs *df = e->defs; /* writers alone replace it, and `write` is held */
  const char **users = db_malloc((df->n_derived ? df->n_derived : 1) * sizeof *users);
  size_t n = 0;
  for (size_t i = 0; i < df->n_derived; i++)
    if (db_formula_uses_forecast(df->derived[i].f)) users[n++] = df->derived[i].code;
  if (n) {
    db_map affected = DB_MAP_INIT;
    affected_of(df, users, n, &affected);
    publish(e, NULL, NULL, &affected, 0);
    db_map_free(&affected);
  }
  db_free(users);
  pthread_mutex_unlock(&e->write);
}

/* Installs new definitions and/or plans (NULL: keep) as a new gen: the grids of indicators outside
 * `affected` move to it, the others are dropped (all of them with drop_all). Called holding `write`. */
static void publish(db_derive *e, db__ddefs *defs, db__dplans *plans, const db_map *affected, int drop_all) {
  pthread_mutex_lock(&e->lock);
  db__ddefs *old_defs = defs ? e->defs : NULL;
  db__dplans *old_plans = plans ? e->plans : NULL;
  if (defs) e->defs = defs;
  if (plans) e->plans = plans;
  uint64_t old_gen = e->gen++;
  for (size_t i = e->n_cache; i-- > 0;) {
    centry *c = &e->cache[i];
    if (!drop_all && c->gen == old_gen && !db_map_gets(affected, c->code, NULL) &&
        db__ddefs_derived(e->defs, c->code))
      c->gen = e->gen;
    else
      cache_drop(e, i);
  }
  pthread_mutex_unlock(&e->lock);
  db__ddefs_unref(old_defs);
  db__dplans_unref(old_plans);
}

/* Adds to out the codes of changed[0..n) and of the derived indicators of df that read them. */
static void affected_of(const db__ddefs *df, const char *const *changed, size_t n, db_map *out) {
  for (size_t k = 0; k < n; k++) db_map_puts(out, changed[k], 1);
  if (!df->n_derived || !n) return;
  const char **list = db_malloc(df->n_derived * sizeof *list);
  size_t m = db_formula_graph_affected(df->graph, changed, n, list, df->n_derived);
  for (size_t k = 0; k < m && k < df->n_derived; k++) db_map_puts(out, list[k], 1);
  db_free(list);
}

static int units_differ(const db__ddefs *a, const db__ddefs *b) {
  if (a->n_units != b->n_units) return 1;
  for (size_t u = 0; u < a->n_units; u++) {
    const db__dunit *x = &a->units[u], *y = &b->units[u];
    if (x->parent != y->parent || x->tier != y->tier || x->from_day != y->from_day || x->to_day != y->to_day)
      return 1;
  }
  return 0;
}

/* Whether an indicator changed in a way that changes the values read from it or computed by it. */
static int draw_differs(const db__draw *a, const db__draw *b) {
  return a->type != b->type || a->span != b->span || a->agg_space != b->agg_space ||
         a->agg_time != b->agg_time || str_differs(a->weight, b->weight) ||
         str_differs(a->formula, b->formula);
}

static int str_differs(const char *a, const char *b) { return (a || b) && (!a || !b || strcmp(a, b) != 0); }

/* ---- questions ---- */

int db_derive_is_derived(db_derive *e, const char *code) {
  pthread_mutex_lock(&e->lock);
  int yes = db__ddefs_derived(e->defs, code) != NULL;
  pthread_mutex_unlock(&e->lock);
  return yes;
}

int db_derive_values(db_derive *e, const db_cube_version *v, const char *code, const int64_t *units,
                     size_t n_units, const db_period *first, size_t n_periods, double *out, db_diag *d) {
  db__dcall c;
  call_begin(e, v, &c);
  const db__dind *di = db__ddefs_derived(c.defs, code);
  int rc = di ? db__dvalues(&c, di, -1, units, n_units, first, n_periods, out, d)
              : db_diag_add(d, 0, 0, NULL, DB_ENOTFOUND, "'%s' is not a derived indicator", code ? code : "");
  call_end(&c);
  return rc;
}

/* Moves the evaluator's problems from found (freed) into d with their formula columns, behind "CODE: "
 * when code is not NULL. */
static void move_problems(db_diag *found, const char *code, db_diag *d) {
  db_buf msg = DB_BUF_INIT;
  for (size_t k = 0; k < found->count; k++) {
    db_buf_clear(&msg);
    db_formula_describe(&found->items[k], &msg);
    db_diag_add(d, 0, 0, NULL, found->items[k].code, "%s%s%s", code ? code : "", code ? ": " : "", msg.data);
  }
  db_buf_free(&msg);
  db_diag_free(found);
}

int db_derive_eval(db_derive *e, const db_cube_version *v, const db_formula *f, const int64_t *units,
                   size_t n_units, const db_period *first, size_t n_periods, double *out, db_diag *d) {
  if (!n_units || !n_periods) return 0;
  db__dcall c;
  call_begin(e, v, &c);
  int rc = 0;
  for (size_t i = 0; i < n_units && !rc; i++)
    if (units[i] < 0 || (size_t)units[i] >= c.defs->n_units)
      rc = db_diag_add(d, 0, 0, NULL, DB_EINVAL, "unit index %lld out of range", (long long)units[i]);
  if (!rc) {
    db_formula_source src;
    db__dsource(&c, &src);
    db_formula_grid g = {units, n_units, *first, n_periods, 0};
    for (size_t i = 0; i < n_units * n_periods; i++) out[i] = NAN;
    db_diag found = DB_DIAG_INIT;
    rc = db_formula_eval(f, &src, &g, out, &found);
    move_problems(&found, NULL, d);
  }
  call_end(&c);
  return rc;
}

typedef struct unit_at { /* a requested unit and the row of the output it goes to */
  int64_t group;
  size_t row;
} unit_at;

static int by_group(const void *a, const void *b) {
  const unit_at *x = a, *y = b;
  return x->group != y->group ? (x->group < y->group ? -1 : 1) : (x->row < y->row ? -1 : x->row > y->row);
}

int db__dvalues(db__dcall *c, const db__dind *di, int pillar, const int64_t *units, size_t n_units,
                const db_period *first, size_t n_periods, double *out, db_diag *d) {
  if (!n_units || !n_periods) return 0;
  if (!units || !out || !first)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: no units, periods or output given", di->code);
  if (first->type != di->type || (di->type == DB_PT_MULTIYEAR && first->span != di->span))
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: periods of type %s asked for, the indicator is %s",
                       di->code, db_period_type_name(first->type), db_period_type_name(di->type));
  const db__ddefs *df = c->defs;
  unit_at *order = db_malloc(n_units * sizeof *order);
  int rc = 0;
  for (size_t i = 0; i < n_units && !rc; i++) {
    if (units[i] < 0 || (size_t)units[i] >= df->n_units)
      rc = db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: unit index %lld out of range", di->code,
                       (long long)units[i]);
    else
      order[i] = (unit_at){df->units[units[i]].group, i};
  }
  if (!rc) qsort(order, n_units, sizeof *order, by_group);
  size_t *rows = db_malloc(n_units * sizeof *rows);
  for (size_t i = 0, j; !rc && i < n_units; i = j) {
    size_t n_rows = 0;
    for (j = i; j < n_units && order[j].group == order[i].group; j++) rows[n_rows++] = order[j].row;
    rc =
        group_values(c, di, pillar, order[i].group, first, n_periods, units, rows, n_rows, n_periods, out, d);
  }
  db_free(rows);
  db_free(order);
  return rc;
}

/* The values of the requested units rows[0..n_rows) (indices into units and rows of out), all of peer
 * group `group`: from the cache, else evaluated for the whole group and cached. */
static int group_values(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                        size_t n, const int64_t *units, const size_t *rows, size_t n_rows, size_t n_out,
                        double *out, db_diag *d) {
  if (cache_copy(c, di, pillar, group, first, n, units, rows, n_rows, n_out, out)) return 0;
  size_t members = (size_t)(c->defs->group_start[group + 1] - c->defs->group_start[group]);
  double *grid = db_try_malloc(members * n * sizeof *grid);
  if (!grid)
    return db_diag_add(d, 0, 0, NULL, DB_ETOOBIG, "%s: %zu units x %zu periods do not fit", di->code, members,
                       n);
  int rc = eval_group(c, di, pillar, group, first, n, grid, d);
  if (rc) {
    db_free(grid);
    return rc;
  }
  copy_rows(c->defs, grid, n, units, rows, n_rows, out);
  cache_store(c, di, pillar, group, first, n, members, grid); /* takes grid */
  return 0;
}

/* Evaluates the formula (or pillar) over every member of the group. Problems are reported with the
 * indicator's code in front ("WARD_DEV_INDEX: column 9: …"; a derived input's own problems come
 * behind its caller's code: "A: B: column 3: …"). */
static int eval_group(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                      size_t n, double *grid, db_diag *d) {
  const db__ddefs *df = c->defs;
  const db_formula *f = pillar >= 0 && di->pillars[pillar].f ? di->pillars[pillar].f : di->f;
  db_formula_source src;
  db__dsource(c, &src);
  db_formula_grid g = {df->group_list + df->group_start[group],
                       (size_t)(df->group_start[group + 1] - df->group_start[group]), *first, n, 0};
  db_diag found = DB_DIAG_INIT;
  int rc = db_formula_eval(f, &src, &g, grid, &found);
  move_problems(&found, di->code, d);
  pthread_mutex_lock(&c->e->lock);
  c->e->stats.evaluations++;
  c->e->stats.misses++;
  pthread_mutex_unlock(&c->e->lock);
  return rc;
}

static void copy_rows(const db__ddefs *df, const double *grid, size_t n, const int64_t *units,
                      const size_t *rows, size_t n_rows, double *out) {
  for (size_t k = 0; k < n_rows; k++)
    memcpy(out + rows[k] * n, grid + (size_t)df->units[units[rows[k]]].pos * n, n * sizeof *out);
}

/* ---- the cache ---- */

/* The current snapshots, with references; a reader ahead of what the engine was told marks everything
 * changed at its version. */
static void call_begin(db_derive *e, const db_cube_version *v, db__dcall *c) {
  uint64_t version = db_cube_version_number(v);
  pthread_mutex_lock(&e->lock);
  if (version > e->known) {
    e->all_stamp = version;
    e->known = version;
  }
  *c = (db__dcall){e, e->defs, e->plans, e->gen, v, version, e->forecaster, e->forecaster_ctx};
  atomic_fetch_add(&c->defs->refs, 1);
  atomic_fetch_add(&c->plans->refs, 1);
  pthread_mutex_unlock(&e->lock);
}

static void call_end(db__dcall *c) {
  db__ddefs_unref(c->defs);
  db__dplans_unref(c->plans);
}

static uint64_t stamp_of(const db_derive *e, const char *code) {
  int64_t s = 0;
  db_map_gets(&e->stamps, code, &s);
  return (uint64_t)s > e->all_stamp ? (uint64_t)s : e->all_stamp;
}

/* Copies the rows from a valid cached grid of the same key, or a longer one that covers the periods:
 * 1 when found, 0 otherwise. */
static int cache_copy(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                      size_t n, const int64_t *units, const size_t *rows, size_t n_rows, size_t n_out,
                      double *out) {
  db_derive *e = c->e;
  int found = 0;
  pthread_mutex_lock(&e->lock);
  uint64_t stamp = stamp_of(e, di->code);
  for (size_t i = 0; i < e->n_cache && !found; i++) {
    centry *en = &e->cache[i];
    if (en->group != group || en->pillar != pillar || en->gen != c->gen || en->first.type != first->type ||
        en->first.span != first->span || strcmp(en->code, di->code) != 0)
      continue;
    int64_t skip = db_period_diff(&en->first, first);
    uint64_t lo = en->version < c->version ? en->version : c->version;
    if (skip < 0 || (size_t)skip + n > en->n_periods || stamp > lo) continue;
    for (size_t k = 0; k < n_rows; k++)
      memcpy(out + rows[k] * n_out,
             en->values + (size_t)c->defs->units[units[rows[k]]].pos * en->n_periods + skip, n * sizeof *out);
    en->used = ++e->tick;
    e->stats.hits++;
    found = 1;
  }
  pthread_mutex_unlock(&e->lock);
  return found;
}

/* Keeps values (taken) under the key, replacing an older grid of the same key, evicting the least
 * recently used beyond DB_DERIVE_CACHE_CELLS; frees them instead when they could not serve anyone. */
static void cache_store(db__dcall *c, const db__dind *di, int pillar, int64_t group, const db_period *first,
                        size_t n, size_t n_units, double *values) {
  db_derive *e = c->e;
  size_t cells = n * n_units;
  pthread_mutex_lock(&e->lock);
  if (c->gen != e->gen || stamp_of(e, di->code) > c->version || cells > DB_DERIVE_CACHE_CELLS) {
    pthread_mutex_unlock(&e->lock);
    db_free(values);
    return;
  }
  for (size_t i = e->n_cache; i-- > 0;) {
    const centry *en = &e->cache[i];
    if (en->group == group && en->pillar == pillar && same_period(&en->first, first) && en->n_periods == n &&
        strcmp(en->code, di->code) == 0)
      cache_drop(e, i);
  }
  while (e->cells + cells > DB_DERIVE_CACHE_CELLS) {
    size_t oldest = 0;
    for (size_t i = 1; i < e->n_cache; i++)
      if (e->cache[i].used < e->cache[oldest].used) oldest = i;
    cache_drop(e, oldest);
  }
  if (e->n_cache == e->cap_cache) {
    e->cap_cache = e->cap_cache ? 2 * e->cap_cache : 64;
    e->cache = db_realloc(e->cache, e->cap_cache * sizeof *e->cache);
  }
  e->cache[e->n_cache++] =
      (centry){db_strdup(di->code), pillar, group, *first, n, n_units, c->version, c->gen, ++e->tick, values};
  e->cells += cells;
  pthread_mutex_unlock(&e->lock);
}

/* Removes cache entry i (the last one takes its place). Called holding `lock`. */
static void cache_drop(db_derive *e, size_t i) {
  centry *en = &e->cache[i];
  e->cells -= en->n_periods * en->n_units;
  db_free(en->code);
  db_free(en->values);
  e->cache[i] = e->cache[--e->n_cache];
}

void db_derive_stats_get(db_derive *e, db_derive_stats *out) {
  pthread_mutex_lock(&e->lock);
  *out = e->stats;
  out->cached_cells = e->cells;
  pthread_mutex_unlock(&e->lock);
}

/* ---- ranking and pillars ---- */

typedef struct ranked {
  double v;
  int64_t unit;
  size_t at; /* index into the evaluated arrays */
  int sign;  /* 1: higher first, -1: lower first */
} ranked;

static int by_rank(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  int xm = isnan(x->v), ym = isnan(y->v);
  if (xm != ym) return xm - ym;
  if (!xm && x->v != y->v) return (x->v < y->v ? 1 : -1) * x->sign;
  return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* Whether one of units[0..n) of peer group g has a value. */
static int group_has_value(const db__ddefs *df, const int64_t *units, const double *values, size_t n,
                           int64_t g) {
  for (size_t i = 0; i < n; i++)
    if (df->units[units[i]].group == g && !isnan(values[i])) return 1;
  return 0;
}

int db_derive_breakdown_get(db_derive *e, const db_cube_version *v, const char *code, int64_t parent,
                            const db_period *p, db_derive_breakdown *out, db_diag *d) {
  memset(out, 0, sizeof *out);
  db__dcall c;
  call_begin(e, v, &c);
  const db__ddefs *df = c.defs;
  const db__dind *di = db__ddefs_derived(df, code);
  int64_t *units = NULL;
  double *values = NULL, *contrib = NULL, *column = NULL;
  ranked *order = NULL;
  int rc = 0;
  if (!di) {
    rc = db_diag_add(d, 0, 0, NULL, DB_ENOTFOUND, "'%s' is not a derived indicator", code ? code : "");
    goto done;
  }
  if (parent < -1 || parent >= (int64_t)df->n_units) {
    rc = db_diag_add(d, 0, 0, NULL, DB_EINVAL, "unit index %lld out of range", (long long)parent);
    goto done;
  }
  size_t slot = parent < 0 ? df->n_units : (size_t)parent, n = 0, np = di->n_pillars;
  size_t all = (size_t)(df->child_start[slot + 1] - df->child_start[slot]);
  units = db_malloc((all ? all : 1) * sizeof *units);
  for (int64_t k = df->child_start[slot]; k < df->child_start[slot + 1]; k++)
    if (valid_at(&df->units[df->child_list[k]], p)) units[n++] = df->child_list[k];
  values = db_malloc((n ? n : 1) * sizeof *values);
  contrib = db_malloc((n ? n : 1) * np * sizeof *contrib);
  column = db_malloc((n ? n : 1) * sizeof *column);
  rc = db__dvalues(&c, di, -1, units, n, p, 1, values, d);
  for (size_t j = 0; j < np && !rc; j++) {
    rc = db__dvalues(&c, di, di->pillars[j].f ? (int)j : -1, units, n, p, 1, column, d);
    for (size_t i = 0; !rc && i < n; i++) contrib[i * np + j] = column[i];
  }
  if (rc) goto done;
  order = db_malloc((n ? n : 1) * sizeof *order);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    if (group_has_value(df, units, values, n, df->units[units[i]].group))
      order[kept++] = (ranked){values[i], units[i], i, di->polarity == DB_POL_LOWER ? -1 : 1};
  n = kept;
  qsort(order, n, sizeof *order, by_rank);
  *out = (db_derive_breakdown){n,
                               np,
                               db_calloc(np, sizeof *out->pillars),
                               db_malloc((n ? n : 1) * sizeof *out->units),
                               db_malloc((n ? n : 1) * sizeof *out->values),
                               db_malloc((n ? n : 1) * sizeof *out->ranks),
                               db_malloc((n ? n : 1) * np * sizeof *out->contrib)};
  for (size_t j = 0; j < np; j++)
    out->pillars[j] = (db_derive_pillar){db_strdup(di->pillars[j].label), di->pillars[j].weight,
                                         db_strdup(di->pillars[j].text)};
  for (size_t i = 0; i < n; i++) {
    out->units[i] = order[i].unit;
    out->values[i] = order[i].v;
    out->ranks[i] = isnan(order[i].v)                   ? 0
                    : i && order[i].v == order[i - 1].v ? out->ranks[i - 1]
                                                        : (int64_t)i + 1;
    memcpy(out->contrib + i * np, contrib + order[i].at * np, np * sizeof *contrib);
  }
done:
  db_free(order);
  db_free(column);
  db_free(contrib);
  db_free(values);
  db_free(units);
  call_end(&c);
  return rc;
}

void db_derive_breakdown_free(db_derive_breakdown *b) {
  for (size_t j = 0; b->pillars && j < b->n_pillars; j++) {
    db_free(b->pillars[j].label);
    db_free(b->pillars[j].text);
  }
  db_free(b->pillars);
  db_free(b->units);
  db_free(b->values);
  db_free(b->ranks);
  db_free(b->contrib);
  memset(b, 0, sizeof *b);
}

static int same_period(const db_period *a, const db_period *b) {
  return a->type == b->type && a->span == b->span && a->ord == b->ord;
}

/* Whether the unit's validity dates overlap the period's civil days (city time). */
static int valid_at(const db__dunit *u, const db_period *p) {
  int64_t offset = (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000;
  int64_t first = floor_div(db_period_start_ms(p) + offset, MS_PER_DAY);
  int64_t last = floor_div(db_period_end_ms(p) - 1 + offset, MS_PER_DAY);
  return (u->from_day == DB_DATE_NONE || u->from_day <= last) &&
         (u->to_day == DB_DATE_NONE || u->to_day >= first);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
