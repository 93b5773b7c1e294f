/* rules.c - validation rules: compiling a rule (a comparison within a tolerance, or a boolean formula),
 * and judging the cells a commit touched (or every cell with data), opening, updating and resolving
 * violations linked to the offending observations (contract in quality.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "quality/quality_int.h"

#define MAX_EVAL_CELLS ((size_t)1 << 22) /* cells of one evaluation; more units are judged in chunks */

/* ---- compiling ---- */

static int is_comparison(db_ftok k) {
  return k == DB_FTOK_LT || k == DB_FTOK_LE || k == DB_FTOK_EQ || k == DB_FTOK_NE || k == DB_FTOK_GE ||
         k == DB_FTOK_GT;
}

/* The one comparison token at the top level of the formula, or NULL when there is none, more than one, or
 * a logical operator at the top level. */
static const db_ftoken *top_comparison(const db_ftoken *t, size_t n) {
  const db_ftoken *found = NULL;
  int depth = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i].kind == DB_FTOK_LPAREN || t[i].kind == DB_FTOK_LBRACKET) depth++;
    else if (t[i].kind == DB_FTOK_RPAREN || t[i].kind == DB_FTOK_RBRACKET) depth--;
    else if (depth == 0 && (t[i].kind == DB_FTOK_AND || t[i].kind == DB_FTOK_OR || t[i].kind == DB_FTOK_NOT))
      return NULL;
    else if (depth == 0 && is_comparison(t[i].kind)) {
      if (found) return NULL;
      found = &t[i];
    }
  }
  return found;
}

/* Moves the problems of a side's compilation to d with their columns shifted by `shift` bytes. */
static void shifted(const db_diag *from, size_t shift, db_diag *d) {
  for (size_t i = 0; i < from->count; i++) {
    const db_problem *p = &from->items[i];
    db_diag_add(d, p->line, p->column ? p->column + (int)shift : 0, p->path, p->code, "%s", p->message);
  }
}

/* Adds the deps of f to c (distinct). */
static void add_deps(db__rule_compiled *c, const db_formula *f) {
  const char *const *codes;
  size_t n = db_formula_deps(f, &codes);
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    while (k < c->n_deps && strcmp(c->deps[k], codes[i]) != 0) k++;
    if (k < c->n_deps) continue;
    c->deps = db_realloc(c->deps, (c->n_deps + 1) * sizeof *c->deps);
    c->deps[c->n_deps++] = db_strdup(codes[i]);
  }
  if (!c->ptype) db_formula_periodicity(f, &c->ptype, &c->span);
}

int db__rule_compile(const db_rule *r, const db_catalog *cat, db__rule_compiled *out, db_diag *d) {
  memset(out, 0, sizeof *out);
  const char *text = r->formula;
  size_t len = strlen(text);
  db_ftoken *toks = NULL;
  size_t nt = 0;
  int rc = db_formula_lex(text, len, &toks, &nt, d);
  if (rc) return rc;
  const db_ftoken *cmp = top_comparison(toks, nt);
  if (cmp) {
    db_diag dl = DB_DIAG_INIT, dr = DB_DIAG_INIT;
    size_t at = cmp->offset + cmp->len;
    int el = db_formula_compile(text, cmp->offset, cat, &out->lhs, &dl);
    int er = db_formula_compile(text + at, len - at, cat, &out->rhs, &dr);
    shifted(&dl, 0, d);
    shifted(&dr, at, d);
    db_diag_free(&dl);
    db_diag_free(&dr);
    out->op = cmp->kind;
    if (el || er) rc = DB_EINVAL;
    else if (db_formula_type(out->lhs) == DB_FT_BOOL || db_formula_type(out->rhs) == DB_FT_BOOL)
      rc = db_diag_add(d, 0, cmp->column, NULL, DB_EINVAL, "both sides of the comparison must be numbers");
    else if (db_formula_type(out->lhs) == DB_FT_SCALAR && db_formula_type(out->rhs) == DB_FT_SCALAR)
      rc = db_diag_add(d, 0, 1, NULL, DB_EINVAL, "the rule reads no indicator");
    if (!rc) {
      add_deps(out, out->lhs);
      add_deps(out, out->rhs);
    }
  } else {
    rc = db_formula_compile(text, len, cat, &out->whole, d);
    if (!rc && db_formula_type(out->whole) != DB_FT_BOOL)
      rc = db_diag_add(d, 0, 1, NULL, DB_EINVAL, "a rule is a condition (a comparison or a boolean), not a %s",
                       db_ftype_name(db_formula_type(out->whole)));
    else if (!rc && r->tolerance != 0)
      rc = db_diag_add(d, 0, 1, NULL, DB_EINVAL,
                       "a tolerance applies to one comparison at the top of the formula (A == B, A <= B...)");
    if (!rc) add_deps(out, out->whole);
  }
  if (!rc && !out->n_deps) rc = db_diag_add(d, 0, 1, NULL, DB_EINVAL, "the rule reads no indicator");
  db_free(toks);
  if (rc) db__rule_compiled_free(out);
  return rc;
}

void db__rule_compiled_free(db__rule_compiled *c) {
  db_formula_free(c->whole);
  db_formula_free(c->lhs);
  db_formula_free(c->rhs);
  for (size_t i = 0; i < c->n_deps; i++) db_free(c->deps[i]);
  db_free(c->deps);
  memset(c, 0, sizeof *c);
}

/* 1 when the rule holds for sides a and b (see quality.h), 0 when it fails, -1 when not judged. */
static int verdict(const db__rule_compiled *c, double tol, double a, double b) {
  if (c->whole) return isnan(a) ? -1 : a != 0;
  if (isnan(a) || isnan(b)) return -1;
  switch (c->op) {
    case DB_FTOK_EQ: return fabs(a - b) <= tol;
    case DB_FTOK_NE: return fabs(a - b) > tol;
    case DB_FTOK_LT: return a < b + tol;
    case DB_FTOK_LE: return a <= b + tol;
    case DB_FTOK_GT: return a > b - tol;
    case DB_FTOK_GE: return a >= b - tol;
    default: return -1;
  }
}

/* ---- the cells to judge ---- */

/* A cell: catalog unit index and period ordinal. */
typedef struct cell {
  int64_t unit, ord;
} cell;

typedef struct cell_set {
  cell *items;
  size_t n, cap;
  db_map seen;
} cell_set;

static void cell_add(cell_set *cs, int64_t unit, int64_t ord) {
  int64_t key[2] = {unit, ord};
  if (db_map_get(&cs->seen, key, sizeof key, NULL)) return;
  db_map_put(&cs->seen, key, sizeof key, 1);
  if (cs->n == cs->cap) {
    cs->cap = cs->cap ? 2 * cs->cap : 64;
    cs->items = db_realloc(cs->items, cs->cap * sizeof *cs->items);
  }
  cs->items[cs->n++] = (cell){unit, ord};
}

static void cell_set_free(cell_set *cs) {
  db_free(cs->items);
  db_map_free(&cs->seen);
}

/* The shared state of one check. */
typedef struct checker {
  db_store *s;
  const db_catalog *cat;
  db_derive *e;
  const db_cube_version *v;
  db_map unit_by_id, ind_by_id; /* store id -> catalog index */
  int64_t seq, now_ms;
  db_check_stats *stats;
  db_diag *d;
} checker;

/* Adds the cell of one observation row to cs when its indicator is a dep of c (ids: the deps' store ids). */
static void add_row_cell(checker *ck, const db__rule_compiled *c, const int64_t *ids, const db_obs_row *row,
                         cell_set *cs) {
  size_t k = 0;
  while (k < c->n_deps && ids[k] != row->indicator) k++;
  if (k == c->n_deps) return;
  int64_t unit;
  db_period p;
  if (!db_map_get(&ck->unit_by_id, &row->orgunit, sizeof row->orgunit, &unit)) return;
  if (db_period_from_key(row->period, &p) != 0 || p.type != c->ptype || p.span != c->span) return;
  cell_add(cs, unit, p.ord);
}

typedef struct scan_ctx {
  checker *ck;
  const db__rule_compiled *c;
  const int64_t *ids;
  cell_set *cs;
} scan_ctx;

static int scan_row(void *ctx, const db_obs_row *row) {
  scan_ctx *sc = ctx;
  add_row_cell(sc->ck, sc->c, sc->ids, row, sc->cs);
  return 0;
}

/* ---- violations ---- */

typedef struct link_ctx {
  const db_catalog *cat;
  checker *ck;
  json_t *list;
} link_ctx;

static int link_row(void *ctx, const db_obs_row *row) {
  link_ctx *lc = ctx;
  int64_t ind = -1, unit = -1;
  db_map_get(&lc->ck->ind_by_id, &row->indicator, sizeof row->indicator, &ind);
  db_map_get(&lc->ck->unit_by_id, &row->orgunit, sizeof row->orgunit, &unit);
  db_period p;
  char code[DB_PERIOD_CODE_MAX] = "";
  if (db_period_from_key(row->period, &p) == 0) db_period_format(&p, code);
  json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:s, s:i, s:I}", "indicator",
                        ind >= 0 ? lc->cat->indicators[ind].code : "?", "orgunit",
                        unit >= 0 ? lc->cat->units[unit].code : "?", "period", code, "value", row->value,
                        "status", db_obs_status_name(row->status), "revision", row->revision, "seq",
                        (json_int_t)row->seq);
  if (row->dimkey && *row->dimkey) json_object_set_new(o, "dims", json_string(row->dimkey));
  json_array_append_new(lc->list, o);
  return 0;
}

/* The observations behind a violation: every series of the rule's inputs at the unit and period. */
static json_t *offending(checker *ck, const db__rule_compiled *c, const int64_t *ids, int64_t unit,
                         const db_period *p) {
  link_ctx lc = {ck->cat, ck, json_array()};
  int64_t key = db_period_key(p);
  db_obs_filter f = {.indicators = ids, .n_indicators = c->n_deps, .orgunits = &ck->cat->units[unit].id,
                     .n_orgunits = 1, .period_from = key, .period_to = key};
  db_store_obs_read(ck->s, &f, link_row, &lc);
  return lc.list;
}

static const char *op_text(db_ftok op) {
  switch (op) {
    case DB_FTOK_EQ: return "==";
    case DB_FTOK_NE: return "!=";
    case DB_FTOK_LT: return "<";
    case DB_FTOK_LE: return "<=";
    case DB_FTOK_GT: return ">";
    case DB_FTOK_GE: return ">=";
    default: return "?";
  }
}

/* Writes the outcome of one judged cell: opens or updates a violation (holds == 0) or resolves an open one
 * (holds == 1). */
static int record_outcome(checker *ck, const db_rule *r, const db__rule_compiled *c, const int64_t *ids,
                          int64_t unit, const db_period *p, int holds, double a, double b) {
  char pcode[DB_PERIOD_CODE_MAX];
  db_period_format(p, pcode);
  db_buf key = DB_BUF_INIT;
  db_buf_printf(&key, "%s|%s|%s", r->code, ck->cat->units[unit].code, pcode);
  db_record old = {0};
  int rc = db_store_record_get(ck->s, DB_VIOLATION_KIND, 0, db_buf_str(&key), &old);
  if (rc && rc != DB_ENOTFOUND) goto done;
  int exists = rc == 0;
  rc = 0;
  json_t *body = exists ? json_loads(old.body, 0, NULL) : NULL;
  if (!json_is_object(body)) {
    json_decref(body);
    body = NULL;
  }
  const char *status = body ? json_string_value(json_object_get(body, "status")) : NULL;
  int open = status && strcmp(status, "open") == 0;
  if (holds && !open) goto free_body;
  const char *event = NULL;
  if (holds) {
    json_object_set_new(body, "status", json_string("resolved"));
    json_object_set_new(body, "resolved_ms", json_integer(ck->now_ms));
    json_object_set_new(body, "resolved_seq", json_integer(ck->seq));
    event = "quality.resolved";
    ck->stats->resolved++;
  } else {
    if (!open) {
      json_decref(body);
      body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "rule", r->code, "importance",
                       db_importance_name(r->importance), "orgunit", ck->cat->units[unit].code, "period", pcode,
                       "status", "open", "opened_ms", (json_int_t)ck->now_ms, "opened_seq", (json_int_t)ck->seq);
      event = "quality.violation";
      ck->stats->opened++;
    } else {
      ck->stats->updated++;
    }
    db_buf msg = DB_BUF_INIT;
    if (c->whole) {
      db_buf_printf(&msg, "%s is false", r->formula);
    } else {
      db_buf_printf(&msg, "%s fails: ", r->formula);
      db_buf_double(&msg, a);
      db_buf_printf(&msg, " %s ", op_text(c->op));
      db_buf_double(&msg, b);
      if (r->tolerance > 0) {
        db_buf_puts(&msg, " (tolerance ");
        db_buf_double(&msg, r->tolerance);
        db_buf_puts(&msg, ")");
      }
    }
    json_object_set_new(body, "importance", json_string(db_importance_name(r->importance)));
    json_object_set_new(body, "message", json_string(db_buf_str(&msg)));
    json_object_set_new(body, "lhs", c->whole ? json_null() : json_real(a));
    json_object_set_new(body, "rhs", c->whole ? json_null() : json_real(b));
    json_object_set_new(body, "updated_ms", json_integer(ck->now_ms));
    json_object_set_new(body, "observations", offending(ck, c, ids, unit, p));
    db_buf_free(&msg);
  }
  char *text = json_dumps(body, JSON_COMPACT);
  db_record rec = {.id = exists ? old.id : 0, .kind = DB_VIOLATION_KIND, .key = db_buf_str(&key), .body = text};
  rc = db_store_record_put(ck->s, &rec, 0);
  if (!rc && event) {
    db_event ev = {.kind = event, .body = text};
    rc = db_store_event_append(ck->s, &ev);
  }
  free(text);
free_body:
  json_decref(body);
done:
  if (old.kind) db_record_free(&old);
  db_buf_free(&key);
  return rc;
}

/* Evaluates formula f (NULL: fills NAN) on units x n periods from first into out. */
static int eval_side(checker *ck, const db_formula *f, const int64_t *units, size_t n_units, const db_period *first,
                     size_t n, double *out) {
  if (!f) {
    for (size_t i = 0; i < n_units * n; i++) out[i] = NAN;
    return 0;
  }
  return db_derive_eval(ck->e, ck->v, f, units, n_units, first, n, out, ck->d);
}

/* Judges the cells cs of one rule, units in chunks that keep an evaluation within MAX_EVAL_CELLS. */
static int judge(checker *ck, const db_rule *r, const db__rule_compiled *c, const int64_t *ids, cell_set *cs) {
  if (!cs->n) return 0;
  int64_t lo = cs->items[0].ord, hi = lo;
  db_map unit_pos = DB_MAP_INIT;
  int64_t *units = db_malloc(cs->n * sizeof *units);
  size_t n_units = 0;
  for (size_t i = 0; i < cs->n; i++) {
    lo = cs->items[i].ord < lo ? cs->items[i].ord : lo;
    hi = cs->items[i].ord > hi ? cs->items[i].ord : hi;
    if (!db_map_get(&unit_pos, &cs->items[i].unit, sizeof(int64_t), NULL)) {
      db_map_put(&unit_pos, &cs->items[i].unit, sizeof(int64_t), (int64_t)n_units);
      units[n_units++] = cs->items[i].unit;
    }
  }
  size_t n_periods = (size_t)(hi - lo + 1);
  size_t chunk = MAX_EVAL_CELLS / n_periods;
  if (!chunk) chunk = 1;
  db_period first = {c->ptype, c->span, lo};
  int rc = 0;
  for (size_t u0 = 0; u0 < n_units && !rc; u0 += chunk) {
    size_t nu = n_units - u0 < chunk ? n_units - u0 : chunk;
    double *a = db_malloc(nu * n_periods * sizeof *a), *b = db_malloc(nu * n_periods * sizeof *b);
    rc = eval_side(ck, c->whole ? c->whole : c->lhs, units + u0, nu, &first, n_periods, a);
    if (!rc) rc = eval_side(ck, c->rhs, units + u0, nu, &first, n_periods, b);
    for (size_t i = 0; i < cs->n && !rc; i++) {
      int64_t pos;
      db_map_get(&unit_pos, &cs->items[i].unit, sizeof(int64_t), &pos);
      if ((size_t)pos < u0 || (size_t)pos >= u0 + nu) continue;
      size_t at = ((size_t)pos - u0) * n_periods + (size_t)(cs->items[i].ord - lo);
      int holds = verdict(c, r->tolerance, a[at], b[at]);
      ck->stats->cells++;
      db_period p = {c->ptype, c->span, cs->items[i].ord};
      if (holds >= 0) rc = record_outcome(ck, r, c, ids, cs->items[i].unit, &p, holds, a[at], b[at]);
    }
    db_free(a);
    db_free(b);
  }
  db_free(units);
  db_map_free(&unit_pos);
  return rc;
}

/* Checks one rule over its cells from changes (or every stored cell when changes is NULL). */
static int check_rule(checker *ck, const db_rule *r, const db_obs_row *changes, size_t n) {
  db__rule_compiled c;
  db_diag cd = DB_DIAG_INIT;
  int rc = db__rule_compile(r, ck->cat, &c, &cd);
  db_diag_free(&cd);
  if (rc) return 0; /* a rule that no longer compiles against the catalog is not judged */
  int64_t *ids = db_malloc(c.n_deps * sizeof *ids);
  for (size_t k = 0; k < c.n_deps; k++) ids[k] = db_catalog_indicator(ck->cat, c.deps[k])->id;
  cell_set cs = {0};
  if (changes) {
    for (size_t i = 0; i < n; i++) add_row_cell(ck, &c, ids, &changes[i], &cs);
  } else {
    scan_ctx sc = {ck, &c, ids, &cs};
    db_obs_filter f = {.indicators = ids, .n_indicators = c.n_deps};
    rc = db_store_obs_read(ck->s, &f, scan_row, &sc);
  }
  if (cs.n) ck->stats->rules++;
  if (!rc) rc = judge(ck, r, &c, ids, &cs);
  cell_set_free(&cs);
  db_free(ids);
  db__rule_compiled_free(&c);
  return rc;
}

int db_rules_check(db_store *s, const db_catalog *cat, db_derive *e, const db_cube_version *v,
                   const db_obs_row *changes, size_t n, const char *rule_code, int64_t seq, int64_t now_ms,
                   db_check_stats *stats, db_diag *d) {
  memset(stats, 0, sizeof *stats);
  db_rule *rules = NULL;
  size_t n_rules = 0;
  checker ck = {s, cat, e, v, DB_MAP_INIT, DB_MAP_INIT, seq, now_ms, stats, d};
  int rc = db_rules_load(s, cat, &rules, &n_rules);
  if (rc || !n_rules || !e) goto done;
  for (size_t i = 0; i < cat->n_units; i++) db_map_put(&ck.unit_by_id, &cat->units[i].id, sizeof(int64_t), (int64_t)i);
  for (size_t i = 0; i < cat->n_indicators; i++)
    db_map_put(&ck.ind_by_id, &cat->indicators[i].id, sizeof(int64_t), (int64_t)i);
  if ((rc = db_store_begin(s, 0)) != 0) goto done;
  for (size_t i = 0; i < n_rules && !rc; i++) {
    if (!rules[i].enabled || (rule_code && strcmp(rule_code, rules[i].code) != 0)) continue;
    rc = check_rule(&ck, &rules[i], changes, n);
  }
  if (!rc) rc = db_store_commit(s);
  else db_store_rollback(s);
done:
  db_map_free(&ck.unit_by_id);
  db_map_free(&ck.ind_by_id);
  db_rules_free(rules, n_rules);
  return rc;
}
