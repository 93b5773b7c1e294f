/* sim.c - the scratch cube of a what-if run (watch.h db_watch_overlay_cube): the values the rules read,
 * copied from the real cube, with the overlay over them. The real cube, the store, tasks and webhooks are
 * never touched by a simulation. */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "watch/watch.h"

#define MAX_COPY_CELLS ((size_t)50 * 1000 * 1000)

typedef struct rows_buf {
  db_obs_row *items;
  size_t n, cap;
} rows_buf;

static void push_row(rows_buf *b, const db_obs_row *r) {
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 1024;
    b->items = db_realloc(b->items, b->cap * sizeof *b->items);
  }
  b->items[b->n++] = *r;
}

/* Marks in `need` the indicators formula text reads, and through derived indicators those behind them. */
static void need_formula(const char *text, const db_catalog *cat, unsigned char *need, int depth) {
  db_formula *f = NULL;
  db_diag d = DB_DIAG_INIT;
  if (depth > 32 || db_formula_compile(text, strlen(text), cat, &f, &d) != 0) {
    db_diag_free(&d);
    return;
  }
  db_diag_free(&d);
  const char *const *codes;
  size_t n = db_formula_deps(f, &codes);
  for (size_t i = 0; i < n; i++) {
    int64_t idx;
    if (!db_map_gets(&cat->indicator_index, codes[i], &idx) || need[idx]) continue;
    need[idx] = 1;
    if (cat->indicators[idx].formula) need_formula(cat->indicators[idx].formula, cat, need, depth + 1);
  }
  db_formula_free(f);
}

/* Copies every current value of indicator `ind` (series without dimensions) from v into rows. */
static int copy_indicator(const db_catalog *cat, const db_cube_version *v, int64_t ind, rows_buf *rows, db_diag *d) {
  db_period first, last;
  if (db_cube_range(v, ind, "", &first, &last) != 0) return 0;
  size_t n = (size_t)db_period_diff(&first, &last) + 1;
  if (n * cat->n_units > MAX_COPY_CELLS)
    return db_diag_add(d, 0, 0, NULL, DB_ETOOBIG, "indicator %s has too many cells to simulate on",
                       cat->indicators[ind].code);
  double *vals = db_malloc(n * sizeof *vals);
  for (size_t u = 0; u < cat->n_units; u++) {
    if (db_cube_series(v, ind, "", (int64_t)u, &first, n, vals) <= 0) continue;
    for (size_t k = 0; k < n; k++) {
      if (isnan(vals[k])) continue;
      db_period p = db_period_add(&first, (int64_t)k);
      db_obs_row r = {.indicator = cat->indicators[ind].id, .orgunit = cat->units[u].id, .dimkey = "",
                      .period = db_period_key(&p), .value = vals[k]};
      push_row(rows, &r);
    }
  }
  db_free(vals);
  return 0;
}

int db_watch_overlay_cube(const db_watch *w, const db_catalog *cat, const db_cube_version *v,
                          const db_watch_overlay *overlay, size_t n_overlay, db_cube **cube, db_derive **dv,
                          db_diag *d) {
  *cube = NULL;
  *dv = NULL;
  unsigned char *need = db_calloc(cat->n_indicators + 1, 1);
  for (size_t i = 0; i < db_watch_rule_count(w); i++) {
    const db_watch_rule *r = db_watch_rule_at(w, i);
    need_formula(r->condition, cat, need, 0);
    if (r->value) need_formula(r->value, cat, need, 0);
  }
  rows_buf rows = {0};
  int err = 0;
  for (size_t i = 0; i < cat->n_indicators && !err; i++)
    if (need[i] && !cat->indicators[i].formula) err = copy_indicator(cat, v, (int64_t)i, &rows, d);
  for (size_t i = 0; i < n_overlay && !err; i++) {
    const db_watch_overlay *o = &overlay[i];
    if (o->indicator < 0 || (size_t)o->indicator >= cat->n_indicators || o->unit < 0 ||
        (size_t)o->unit >= cat->n_units) {
      err = db_diag_add(d, 0, 0, NULL, DB_EINVAL, "overlay[%zu]: unknown indicator or org unit", i);
      break;
    }
    db_obs_row r = {.indicator = cat->indicators[o->indicator].id, .orgunit = cat->units[o->unit].id,
                    .dimkey = o->dimkey ? o->dimkey : "", .period = db_period_key(&o->period), .value = o->value};
    push_row(&rows, &r);
  }
  db_free(need);
  if (!err) err = db_cube_create(cat, cube, d);
  if (!err) err = db_cube_apply(*cube, rows.items, rows.n, d);
  if (!err) err = db_derive_open(cat, dv, d);
  db_free(rows.items);
  if (err) {
    db_derive_close(*dv);
    db_cube_close(*cube);
    *cube = NULL;
    *dv = NULL;
  }
  return err;
}
