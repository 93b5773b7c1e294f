/* engine.c - the rules of a db_watch evaluated on the cube (watch.h): event-driven after each commit
 * (only the rules that read a changed indicator, only at the units of their scope that changed or whose
 * descendants changed), on the clock, and over a window of history (replay). */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "watch/watch.h"

typedef struct wrule {
  db_watch_rule *r;         /* owned copy */
  db_formula *cond, *value; /* NULL while the rule does not compile */
  db_period_type type;
  int span;
  int64_t *dep_ids; /* store ids of the indicators read (for matching change rows) */
  size_t n_deps;
  int64_t *scope; /* catalog indices of the units watched */
  size_t n_scope;
  db_map state_index; /* unit index (8 bytes) -> index into states */
  db_watch_state *states;
  int64_t *state_units;
  size_t n_states, cap_states;
} wrule;

struct db_watch {
  wrule *rules;
  size_t n, cap;
};

static int compile(wrule *wr, const db_catalog *cat, db_diag *d);
static void uncompile(wrule *wr);
static int reads(const wrule *wr, int64_t indicator);
/* How judge steps the machine. */
enum { JUDGE_PERIODS, JUDGE_LATEST, JUDGE_REPLAY_TIME };
static void judge(wrule *wr, const db_catalog *cat, const db_cube_version *v, db_derive *dv, int64_t unit,
                  const db_period *from, size_t n, int how, int64_t now_ms, db_watch_out *out, db_diag *d);
static void emit(db_watch_out *out, wrule *wr, const db_catalog *cat, int64_t unit, db_watch_state *s, int change,
                 const db_period *p, int64_t now_ms);

db_watch *db_watch_new(void) { return db_calloc(1, sizeof(db_watch)); }

static void wrule_free(wrule *wr) {
  uncompile(wr);
  db_watch_rule_free(wr->r);
  db_map_free(&wr->state_index);
  db_free(wr->states);
  db_free(wr->state_units);
}

void db_watch_free(db_watch *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n; i++) wrule_free(&w->rules[i]);
  db_free(w->rules);
  db_free(w);
}

static long find(const db_watch *w, const char *code) {
  for (size_t i = 0; i < w->n; i++)
    if (strcmp(w->rules[i].r->code, code) == 0) return (long)i;
  return -1;
}

/* A deep copy of a rule, through its canonical JSON. */
static db_watch_rule *copy_rule(const db_watch_rule *r) {
  char *text = db_watch_rule_json(r);
  db_watch_rule *c = NULL;
  db_diag d = DB_DIAG_INIT;
  db_watch_rule_parse(text, strlen(text), &c, &d);
  db_diag_free(&d);
  db_free(text);
  return c;
}

int db_watch_put_rule(db_watch *w, const db_watch_rule *r, const db_catalog *cat, db_diag *d) {
  int err = db_watch_rule_check(r, cat, "$", d);
  if (err) return err;
  wrule fresh = {.r = copy_rule(r)};
  if (!fresh.r) return db_diag_add(d, 0, 0, "$", DB_EINVAL, "the rule cannot be copied");
  if ((err = compile(&fresh, cat, d))) {
    wrule_free(&fresh);
    return err;
  }
  long i = find(w, r->code);
  if (i >= 0) {
    wrule *old = &w->rules[i];
    if (strcmp(old->r->condition, r->condition) == 0) { /* same condition: the alerts go on */
      fresh.state_index = old->state_index;
      fresh.states = old->states;
      fresh.state_units = old->state_units;
      fresh.n_states = old->n_states;
      fresh.cap_states = old->cap_states;
      memset(&old->state_index, 0, sizeof old->state_index);
      old->states = NULL;
      old->state_units = NULL;
    }
    wrule_free(old);
    w->rules[i] = fresh;
    return 0;
  }
  if (w->n == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 8;
    w->rules = db_realloc(w->rules, w->cap * sizeof *w->rules);
  }
  w->rules[w->n++] = fresh;
  return 0;
}

int db_watch_remove_rule(db_watch *w, const char *code) {
  long i = find(w, code);
  if (i < 0) return DB_ENOTFOUND;
  wrule_free(&w->rules[i]);
  memmove(&w->rules[i], &w->rules[i + 1], (w->n - (size_t)i - 1) * sizeof *w->rules);
  w->n--;
  return 0;
}

void db_watch_set_catalog(db_watch *w, const db_catalog *cat, db_diag *d) {
  for (size_t i = 0; i < w->n; i++) {
    uncompile(&w->rules[i]);
    compile(&w->rules[i], cat, d);
  }
}

size_t db_watch_rule_count(const db_watch *w) { return w->n; }
const db_watch_rule *db_watch_rule_at(const db_watch *w, size_t i) { return i < w->n ? w->rules[i].r : NULL; }

const db_watch_rule *db_watch_find_rule(const db_watch *w, const char *code) {
  long i = find(w, code);
  return i < 0 ? NULL : w->rules[i].r;
}

static db_watch_state *state_in(wrule *wr, int64_t unit) {
  int64_t idx;
  if (db_map_get(&wr->state_index, &unit, sizeof unit, &idx)) return &wr->states[idx];
  if (wr->n_states == wr->cap_states) {
    wr->cap_states = wr->cap_states ? 2 * wr->cap_states : 16;
    wr->states = db_realloc(wr->states, wr->cap_states * sizeof *wr->states);
    wr->state_units = db_realloc(wr->state_units, wr->cap_states * sizeof *wr->state_units);
  }
  db_watch_state *s = &wr->states[wr->n_states];
  memset(s, 0, sizeof *s);
  s->value = NAN;
  wr->state_units[wr->n_states] = unit;
  db_map_put(&wr->state_index, &unit, sizeof unit, (int64_t)wr->n_states++);
  return s;
}

db_watch_state *db_watch_state_of(db_watch *w, const char *rule, int64_t unit) {
  long i = find(w, rule);
  return i < 0 ? NULL : state_in(&w->rules[i], unit);
}

void db_watch_each_active(db_watch *w, void (*cb)(void *ctx, const db_watch_rule *r, int64_t unit,
                                                   const db_watch_state *s),
                          void *ctx) {
  for (size_t i = 0; i < w->n; i++)
    for (size_t k = 0; k < w->rules[i].n_states; k++) {
      const db_watch_state *s = &w->rules[i].states[k];
      if (s->phase != DB_PHASE_INACTIVE || s->stale) cb(ctx, w->rules[i].r, w->rules[i].state_units[k], s);
    }
}

void db_watch_out_free(db_watch_out *o) {
  for (size_t i = 0; i < o->n; i++) {
    db_free(o->items[i].unit_code);
    db_free(o->items[i].unit_name);
    db_free(o->items[i].message_vi);
    db_free(o->items[i].message_en);
  }
  db_free(o->items);
  memset(o, 0, sizeof *o);
}

/* ---- compiling ---- */

static void uncompile(wrule *wr) {
  db_formula_free(wr->cond);
  db_formula_free(wr->value);
  wr->cond = wr->value = NULL;
  db_free(wr->dep_ids);
  db_free(wr->scope);
  wr->dep_ids = wr->scope = NULL;
  wr->n_deps = wr->n_scope = 0;
}

/* Adds the store ids of the indicators f reads and, through derived indicators, of those they read: a
 * commit of any of them reaches the rule. */
static void add_deps(wrule *wr, const db_formula *f, const db_catalog *cat, int depth) {
  const char *const *codes;
  size_t n = db_formula_deps(f, &codes);
  for (size_t i = 0; i < n; i++) {
    int64_t idx;
    if (!db_map_gets(&cat->indicator_index, codes[i], &idx) || reads(wr, cat->indicators[idx].id)) continue;
    wr->dep_ids = db_realloc(wr->dep_ids, (wr->n_deps + 1) * sizeof *wr->dep_ids);
    wr->dep_ids[wr->n_deps++] = cat->indicators[idx].id;
    const char *formula = cat->indicators[idx].formula;
    db_formula *inner = NULL;
    db_diag d = DB_DIAG_INIT;
    if (formula && depth < 32 && db_formula_compile(formula, strlen(formula), cat, &inner, &d) == 0)
      add_deps(wr, inner, cat, depth + 1);
    db_formula_free(inner);
    db_diag_free(&d);
  }
}

static void add_scope(wrule *wr, int64_t unit, unsigned char *seen) {
  if (seen[unit]) return;
  seen[unit] = 1;
  wr->scope[wr->n_scope++] = unit;
}

/* Compiles the rule's formulas against cat and resolves its scope; on failure the rule stays uncompiled. */
static int compile(wrule *wr, const db_catalog *cat, db_diag *d) {
  db_diag fd = DB_DIAG_INIT;
  int err = db_formula_compile(wr->r->condition, strlen(wr->r->condition), cat, &wr->cond, &fd);
  if (!err && wr->r->value) err = db_formula_compile(wr->r->value, strlen(wr->r->value), cat, &wr->value, &fd);
  if (!err && !wr->r->value) { /* no value formula: the indicator of a condition that reads only one */
    const char *const *codes;
    if (db_formula_deps(wr->cond, &codes) == 1) err = db_formula_compile(codes[0], strlen(codes[0]), cat, &wr->value, &fd);
  }
  if (!err) err = db_formula_periodicity(wr->cond, &wr->type, &wr->span);
  if (err) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "rule %s: its formulas do not compile against the catalog", wr->r->code);
    db_diag_free(&fd);
    uncompile(wr);
    return DB_EINVAL;
  }
  db_diag_free(&fd);
  add_deps(wr, wr->cond, cat, 0);
  if (wr->value) add_deps(wr, wr->value, cat, 0);
  unsigned char *seen = db_calloc(cat->n_units + 1, 1);
  size_t max = wr->r->n_units;
  int64_t parent = -1;
  if (wr->r->children_of && db_map_gets(&cat->unit_index, wr->r->children_of, &parent) && cat->child_start)
    max += (size_t)(cat->child_start[parent + 1] - cat->child_start[parent]);
  wr->scope = db_malloc((max + 1) * sizeof *wr->scope);
  for (size_t i = 0; i < wr->r->n_units; i++) {
    int64_t u;
    if (db_map_gets(&cat->unit_index, wr->r->units[i], &u)) add_scope(wr, u, seen);
  }
  if (parent >= 0 && cat->child_start)
    for (int64_t k = cat->child_start[parent]; k < cat->child_start[parent + 1]; k++)
      add_scope(wr, cat->child_list[k], seen);
  db_free(seen);
  return 0;
}

/* ---- evaluation ---- */

/* Appends one transition with its messages. */
static void emit(db_watch_out *out, wrule *wr, const db_catalog *cat, int64_t unit, db_watch_state *s, int change,
                 const db_period *p, int64_t now_ms) {
  if (out->n == out->cap) {
    out->cap = out->cap ? 2 * out->cap : 16;
    out->items = db_realloc(out->items, out->cap * sizeof *out->items);
  }
  db_watch_transition *t = &out->items[out->n++];
  memset(t, 0, sizeof *t);
  t->change = change;
  t->rule = wr->r;
  t->unit = unit;
  const db_orgunit *ou = &cat->units[unit];
  t->unit_code = db_strdup(ou->code);
  t->unit_name = db_strdup(ou->name ? ou->name : ou->code);
  if (p) db_period_format(p, t->period);
  t->value = s->value;
  t->at_ms = now_ms;
  t->at = *s;
  t->state = s;
  const char *vi = wr->r->message_vi ? wr->r->message_vi : "{name}: {unit_name} {value} ({period})";
  const char *en = wr->r->message_en ? wr->r->message_en : "{name}: {unit_name} {value} ({period})";
  t->message_vi = db_watch_render(vi, wr->r, ou->code, ou->name, s->value, t->period);
  t->message_en = db_watch_render(en, wr->r, ou->code, ou->name_en ? ou->name_en : ou->name, s->value, t->period);
}

/* Judges the n periods from `from` at one unit: evaluates the condition (and value) over them and steps
 * the machine through each (JUDGE_PERIODS), once at the newest (JUDGE_LATEST: time mode, live), or
 * through each on the clock of the data, each period judged at its end (JUDGE_REPLAY_TIME: time mode in a
 * replay). */
static void judge(wrule *wr, const db_catalog *cat, const db_cube_version *v, db_derive *dv, int64_t unit,
                  const db_period *from, size_t n, int how, int64_t now_ms, db_watch_out *out, db_diag *d) {
  double *cond = db_malloc(2 * n * sizeof *cond), *val = cond + n;
  for (size_t k = 0; k < n; k++) val[k] = NAN;
  int err = db_derive_eval(dv, v, wr->cond, &unit, 1, from, n, cond, d);
  if (!err && wr->value) err = db_derive_eval(dv, v, wr->value, &unit, 1, from, n, val, d);
  db_watch_state *s = state_in(wr, unit);
  s->last_data_ms = now_ms;
  int changes[4];
  if (s->stale) {
    s->stale = 0;
    emit(out, wr, cat, unit, s, DB_WC_FRESH, NULL, now_ms);
  }
  if (err) {
    db_free(cond);
    return;
  }
  if (how == JUDGE_REPLAY_TIME) {
    for (size_t k = 0; k < n; k++) {
      db_period p = db_period_add(from, (int64_t)k);
      int64_t at = db_period_end_ms(&p);
      s->has_last = 1;
      s->last = p;
      s->value = val[k];
      int c = db_watch_step_time(s, &wr->r->timing, cond[k], at, changes);
      c += db_watch_step_clock(s, &wr->r->timing, at, changes + c);
      for (int i = 0; i < c; i++)
        if (changes[i] != DB_WC_STALE) emit(out, wr, cat, unit, s, changes[i], &p, at);
    }
  } else if (how == JUDGE_LATEST) {
    db_period p = db_period_add(from, (int64_t)n - 1);
    s->has_last = 1;
    s->last = p;
    s->value = val[n - 1];
    int c = db_watch_step_time(s, &wr->r->timing, cond[n - 1], now_ms, changes);
    for (int i = 0; i < c; i++) emit(out, wr, cat, unit, s, changes[i], &p, now_ms);
  } else {
    for (size_t k = 0; k < n; k++) {
      db_period p = db_period_add(from, (int64_t)k);
      s->value = val[k];
      int c = db_watch_step(s, &wr->r->timing, &p, cond[k], now_ms, changes);
      for (int i = 0; i < c; i++) emit(out, wr, cat, unit, s, changes[i], &p, now_ms);
    }
  }
  db_free(cond);
}

static int reads(const wrule *wr, int64_t indicator) {
  for (size_t i = 0; i < wr->n_deps; i++)
    if (wr->dep_ids[i] == indicator) return 1;
  return 0;
}

/* Marks the units of rows that rule wr reads, and their ancestors; the period range of those rows. */
static int mark_changed(const wrule *wr, const db_catalog *cat, const db_map *unit_by_id, const db_obs_row *rows,
                        size_t n, unsigned char *mark, int64_t *lo, int64_t *hi) {
  int any = 0;
  for (size_t i = 0; i < n; i++) {
    db_period p;
    int64_t u;
    if (!reads(wr, rows[i].indicator) || db_period_from_key(rows[i].period, &p) != 0 || p.type != wr->type ||
        !db_map_get(unit_by_id, &rows[i].orgunit, sizeof rows[i].orgunit, &u))
      continue;
    if (!any || p.ord < *lo) *lo = p.ord;
    if (!any || p.ord > *hi) *hi = p.ord;
    any = 1;
    for (int depth = 0; u >= 0 && depth < 64 && !mark[u]; depth++) {
      mark[u] = 1;
      u = cat->unit_parent ? cat->unit_parent[u] : -1;
    }
  }
  return any;
}

int db_watch_on_commit(db_watch *w, const db_catalog *cat, const db_cube_version *v, db_derive *dv,
                       const db_obs_row *rows, size_t n, int64_t now_ms, db_watch_out *out, db_diag *d) {
  if (!dv) return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "no derived indicators' engine: rules cannot be evaluated");
  if (!w->n || !n) return 0;
  db_map unit_by_id = {0};
  for (size_t i = 0; i < cat->n_units; i++) db_map_put(&unit_by_id, &cat->units[i].id, sizeof(int64_t), (int64_t)i);
  unsigned char *mark = db_malloc(cat->n_units + 1);
  for (size_t r = 0; r < w->n; r++) {
    wrule *wr = &w->rules[r];
    if (!wr->cond || !wr->r->enabled) continue;
    memset(mark, 0, cat->n_units + 1);
    int64_t lo = 0, hi = 0;
    if (!mark_changed(wr, cat, &unit_by_id, rows, n, mark, &lo, &hi)) continue;
    for (size_t k = 0; k < wr->n_scope; k++) {
      int64_t u = wr->scope[k];
      if (!mark[u]) continue;
      db_watch_state *s = state_in(wr, u);
      int64_t from = lo;
      if (s->has_last && s->last.type == wr->type && s->last.ord + 1 > from) from = s->last.ord + 1;
      else if (s->has_last && s->last.type == wr->type && s->last.ord + 1 < lo && lo - s->last.ord <= DB_WATCH_MAX_GAP)
        from = s->last.ord + 1; /* the gap since the last judged period is judged too: as missing */
      if (from > hi) {
        s->last_data_ms = now_ms; /* late data for a period already judged */
        continue;
      }
      db_period first = {wr->type, wr->span, from};
      judge(wr, cat, v, dv, u, &first, (size_t)(hi - from + 1), wr->r->timing.time_mode ? JUDGE_LATEST : JUDGE_PERIODS,
            now_ms, out, d);
    }
  }
  db_free(mark);
  db_map_free(&unit_by_id);
  return 0;
}

void db_watch_tick(db_watch *w, const db_catalog *cat, int64_t now_ms, db_watch_out *out) {
  int changes[4];
  for (size_t r = 0; r < w->n; r++) {
    wrule *wr = &w->rules[r];
    if (!wr->r->enabled) continue;
    for (size_t k = 0; k < wr->n_states; k++) {
      db_watch_state *s = &wr->states[k];
      int64_t u = wr->state_units[k];
      if (u < 0 || (size_t)u >= cat->n_units) continue;
      int c = db_watch_step_clock(s, &wr->r->timing, now_ms, changes);
      for (int i = 0; i < c; i++) emit(out, wr, cat, u, s, changes[i], s->has_last ? &s->last : NULL, now_ms);
    }
  }
}

int db_watch_replay(db_watch *w, const db_catalog *cat, const db_cube_version *v, db_derive *dv, int64_t from_ms,
                    int64_t to_ms, int64_t now_ms, db_watch_out *out, db_diag *d) {
  if (!dv) return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "no derived indicators' engine: rules cannot be evaluated");
  if (to_ms <= from_ms) return db_diag_add(d, 0, 0, "to", DB_EINVAL, "the window is empty: 'to' must come after 'from'");
  for (size_t r = 0; r < w->n; r++) {
    wrule *wr = &w->rules[r];
    if (!wr->cond || !wr->r->enabled) continue;
    db_period first = db_period_at(wr->type, wr->span, from_ms), last = db_period_at(wr->type, wr->span, to_ms - 1);
    if (db_period_start_ms(&first) < from_ms) first = db_period_add(&first, 1);
    int64_t n = db_period_diff(&first, &last) + 1;
    if (n <= 0) continue;
    if (n > DB_WATCH_MAX_GAP)
      return db_diag_add(d, 0, 0, "to", DB_ETOOBIG, "the window holds %lld periods of rule %s, more than %d",
                         (long long)n, wr->r->code, DB_WATCH_MAX_GAP);
    for (size_t k = 0; k < wr->n_scope; k++)
      judge(wr, cat, v, dv, wr->scope[k], &first, (size_t)n, wr->r->timing.time_mode ? JUDGE_REPLAY_TIME : JUDGE_PERIODS,
            now_ms, out, d);
  }
  return 0;
}
