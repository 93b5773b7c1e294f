/* derive_defs.c - the definitions an engine evaluates with (derive_int.h): every indicator's rules, the
 * derived indicators compiled with their pillars, the unit tree and its peer groups; and the plan
 * targets that plan() reads. Both are built once, then only read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "derive/derive_int.h"
#include "formula/derived.h"

static void units_new(db__ddefs *df, const db_catalog *cat);
static void groups_new(db__ddefs *df);
static int tier_of(db_ou_kind k);
static char *dup_or_null(const char *s);
static void pillars_free(db__dind *di);

int db__ddefs_new(const db_catalog *cat, db__ddefs **out, db_diag *d) {
  *out = NULL;
  if (cat->n_units && !cat->child_start)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the catalog has not been linked");
  db_formula **compiled = db_calloc(cat->n_indicators ? cat->n_indicators : 1, sizeof *compiled);
  db_formula_graph *graph = db_formula_graph_new();
  int rc = db_formula_check_catalog(cat, compiled, graph, d);
  if (rc) {
    db_formula_graph_free(graph);
    db_free(compiled);
    return rc;
  }
  db__ddefs *df = db_calloc(1, sizeof *df);
  atomic_init(&df->refs, 1);
  df->graph = graph;
  df->n_inds = cat->n_indicators;
  df->inds = db_calloc(df->n_inds ? df->n_inds : 1, sizeof *df->inds);
  df->derived = db_calloc(df->n_inds ? df->n_inds : 1, sizeof *df->derived);
  for (size_t i = 0; i < cat->n_indicators; i++) {
    const db_indicator *ind = &cat->indicators[i];
    db__draw *r = &df->inds[i];
    *r = (db__draw){db_strdup(ind->code),
                    dup_or_null(ind->weight),
                    dup_or_null(ind->formula),
                    ind->id,
                    ind->periodicity,
                    ind->period_span,
                    ind->agg_space,
                    ind->agg_time};
    db_map_puts(&df->ind_index, r->code, (int64_t)i);
    if (ind->id) db_map_put(&df->ind_by_id, &ind->id, sizeof ind->id, (int64_t)i);
    if (!compiled[i]) continue;
    db__dind *di = &df->derived[df->n_derived];
    *di = (db__dind){r->code, compiled[i], ind->polarity, ind->periodicity, ind->period_span, NULL, 0};
    db__dpillars_split(di->f, cat, di);
    db_map_puts(&df->derived_index, r->code, (int64_t)df->n_derived++);
  }
  db_free(compiled);
  units_new(df, cat);
  groups_new(df);
  *out = df;
  return 0;
}

void db__ddefs_unref(db__ddefs *df) {
  if (!df || atomic_fetch_sub(&df->refs, 1) != 1) return;
  for (size_t i = 0; i < df->n_derived; i++) {
    pillars_free(&df->derived[i]);
    db_formula_free(df->derived[i].f);
  }
  for (size_t i = 0; i < df->n_inds; i++) {
    db_free(df->inds[i].code);
    db_free(df->inds[i].weight);
    db_free(df->inds[i].formula);
  }
  db_free(df->derived);
  db_free(df->inds);
  db_map_free(&df->ind_index);
  db_map_free(&df->ind_by_id);
  db_map_free(&df->derived_index);
  db_formula_graph_free(df->graph);
  db_free(df->units);
  db_free(df->child_start);
  db_free(df->child_list);
  db_free(df->group_start);
  db_free(df->group_list);
  db_free(df);
}

const db__dind *db__ddefs_derived(const db__ddefs *df, const char *code) {
  int64_t i;
  return code && db_map_gets(&df->derived_index, code, &i) ? &df->derived[i] : NULL;
}

const db__draw *db__ddefs_ind(const db__ddefs *df, const char *code) {
  int64_t i;
  return code && db_map_gets(&df->ind_index, code, &i) ? &df->inds[i] : NULL;
}

/* Units: parent, tier, validity, and the children lists (the catalog's, with the roots as the children
 * of the virtual parent -1, kept at the end: child_start[n_units] .. child_start[n_units + 1]). */
static void units_new(db__ddefs *df, const db_catalog *cat) {
  size_t n = cat->n_units;
  df->n_units = n;
  df->units = db_calloc(n ? n : 1, sizeof *df->units);
  df->child_start = db_calloc(n + 2, sizeof *df->child_start);
  df->child_list = db_calloc(n ? n : 1, sizeof *df->child_list);
  size_t at = 0;
  for (size_t u = 0; u < n; u++) {
    const db_orgunit *ou = &cat->units[u];
    df->units[u] = (db__dunit){cat->unit_parent[u], tier_of(ou->kind), ou->valid_from, ou->valid_to, 0, 0};
    df->child_start[u] = (int64_t)at;
    for (int64_t k = cat->child_start[u]; k < cat->child_start[u + 1]; k++)
      df->child_list[at++] = cat->child_list[k];
  }
  df->child_start[n] = (int64_t)at;
  for (size_t u = 0; u < n; u++)
    if (df->units[u].parent < 0) df->child_list[at++] = (int64_t)u;
  df->child_start[n + 1] = (int64_t)at;
}

/* Peer groups: the units of one parent and one tier, numbered in order of their first member. */
static void groups_new(db__ddefs *df) {
  size_t n = df->n_units;
  db_map key_group = DB_MAP_INIT;
  int64_t *count = db_calloc(n ? n : 1, sizeof *count);
  for (size_t u = 0; u < n; u++) {
    int64_t key[2] = {df->units[u].parent, df->units[u].tier}, g;
    if (!db_map_get(&key_group, key, sizeof key, &g)) {
      g = (int64_t)df->n_groups++;
      db_map_put(&key_group, key, sizeof key, g);
    }
    df->units[u].group = g;
    df->units[u].pos = count[g]++;
  }
  df->group_start = db_calloc(df->n_groups + 1, sizeof *df->group_start);
  for (size_t g = 0; g < df->n_groups; g++) df->group_start[g + 1] = df->group_start[g] + count[g];
  df->group_list = db_calloc(n ? n : 1, sizeof *df->group_list);
  for (size_t u = 0; u < n; u++)
    df->group_list[df->group_start[df->units[u].group] + df->units[u].pos] = (int64_t)u;
  db_free(count);
  db_map_free(&key_group);
}

static int tier_of(db_ou_kind k) {
  return k == DB_OU_COMMUNE || k == DB_OU_SPECIAL_ZONE ? DB_OU_WARD : (int)k;
}

static char *dup_or_null(const char *s) { return s ? db_strdup(s) : NULL; }

/* ---- pillars ---- */

typedef struct term {
  size_t from, to; /* tokens of the term, its leading signs skipped */
  int negative;
} term;

static size_t split_terms(const db_ftoken *t, size_t n, term *terms, size_t max);
static int ends_operand(db_ftok k);
static void add_pillar(db__dind *di, const db_catalog *cat, const char *text, const db_ftoken *t,
                       const term *tm);

void db__dpillars_split(const db_formula *f, const db_catalog *cat, db__dind *di) {
  const char *text = db_formula_text(f);
  db_ftoken *t = NULL;
  size_t n = 0;
  term terms[DB_DERIVE_MAX_PILLARS];
  size_t n_terms = 0;
  db_diag ignore = DB_DIAG_INIT;
  if (db_formula_lex(text, strlen(text), &t, &n, &ignore) == 0)
    n_terms = split_terms(t, n, terms, DB_DERIVE_MAX_PILLARS);
  di->pillars = db_calloc(n_terms ? n_terms : 1, sizeof *di->pillars);
  for (size_t k = 0; n_terms > 1 && k < n_terms; k++) add_pillar(di, cat, text, t, &terms[k]);
  if (di->n_pillars < n_terms || n_terms < 2) { /* no weighted sum, or a term that does not compile alone */
    pillars_free(di);
    di->pillars = db_calloc(1, sizeof *di->pillars);
    di->pillars[0] = (db__dpillar){db_strdup(text), db_strdup(text), 1, NULL};
    di->n_pillars = 1;
  }
  db_free(t);
  db_diag_free(&ignore);
}

/* The terms of the top-level sum of tokens t[0..n) (the last is DB_FTOK_END): 0 when the formula is not
 * a sum at its top level (a comparison or logic there) or has more than max terms. */
static size_t split_terms(const db_ftoken *t, size_t n, term *terms, size_t max) {
  size_t n_terms = 0, start = 0;
  int depth = 0;
  for (size_t i = 0; i < n; i++) {
    db_ftok k = t[i].kind;
    if (k == DB_FTOK_LPAREN || k == DB_FTOK_LBRACKET) depth++;
    if (k == DB_FTOK_RPAREN || k == DB_FTOK_RBRACKET) depth--;
    if (depth) continue;
    if ((k >= DB_FTOK_LT && k <= DB_FTOK_NOT) || k == DB_FTOK_COMMA) return 0;
    int binary = (k == DB_FTOK_PLUS || k == DB_FTOK_MINUS) && i > start && ends_operand(t[i - 1].kind);
    if (!binary && k != DB_FTOK_END) continue;
    if (n_terms == max) return 0;
    term tm = {start, i, start > 0 && t[start - 1].kind == DB_FTOK_MINUS};
    for (; tm.from < tm.to && (t[tm.from].kind == DB_FTOK_MINUS || t[tm.from].kind == DB_FTOK_PLUS);
         tm.from++)
      tm.negative ^= t[tm.from].kind == DB_FTOK_MINUS;
    if (tm.from == tm.to) return 0;
    terms[n_terms++] = tm;
    start = i + 1;
  }
  return n_terms;
}

static int ends_operand(db_ftok k) {
  return k == DB_FTOK_NUMBER || k == DB_FTOK_NAME || k == DB_FTOK_CODE || k == DB_FTOK_RPAREN ||
         k == DB_FTOK_RBRACKET;
}

/* Adds the pillar of term tm: its weight is a number multiplying the rest at the term's top level, in
 * front (`0.4 * X`) or behind (`X * 0.4`); the label is the rest. The term must compile on its own. */
static void add_pillar(db__dind *di, const db_catalog *cat, const char *text, const db_ftoken *t,
                       const term *tm) {
  size_t a = tm->from, b = tm->to;
  double w = 1;
  /* `*` binds looser than `^` and unary signs, and a term has no top-level `+`: a number with a `*` at
   * either end of the term multiplies all the rest */
  if (b - a >= 3 && t[a].kind == DB_FTOK_NUMBER && t[a + 1].kind == DB_FTOK_STAR) {
    w = t[a].number;
    a += 2;
  } else if (b - a >= 3 && t[b - 1].kind == DB_FTOK_NUMBER && t[b - 2].kind == DB_FTOK_STAR) {
    w = t[b - 1].number;
    b -= 2;
  }
  size_t term_at = t[tm->from].offset, term_end = t[tm->to - 1].offset + t[tm->to - 1].len;
  size_t label_at = t[a].offset, label_end = t[b - 1].offset + t[b - 1].len;
  db_buf formula = DB_BUF_INIT;
  db_buf_printf(&formula, tm->negative ? "-(%.*s)" : "%.*s", (int)(term_end - term_at), text + term_at);
  db_diag d = DB_DIAG_INIT;
  db_formula *f = NULL;
  if (db_formula_compile(formula.data, formula.len, cat, &f, &d) == 0) {
    di->pillars[di->n_pillars++] = (db__dpillar){db_strndup(text + label_at, label_end - label_at),
                                                 db_buf_take(&formula), tm->negative ? -w : w, f};
  }
  db_buf_free(&formula);
  db_diag_free(&d);
}

static void pillars_free(db__dind *di) {
  for (size_t k = 0; k < di->n_pillars; k++) {
    db_free(di->pillars[k].label);
    db_free(di->pillars[k].text);
    db_formula_free(di->pillars[k].f);
  }
  db_free(di->pillars);
  di->pillars = NULL;
  di->n_pillars = 0;
}

/* ---- plans ---- */

db__dplans *db__dplans_new(const db_target *targets, size_t n) {
  db__dplans *pl = db_calloc(1, sizeof *pl);
  atomic_init(&pl->refs, 1);
  pl->values = db_calloc(n ? n : 1, sizeof *pl->values);
  db_buf key = DB_BUF_INIT;
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    const db_target *t = &targets[i];
    db_period p;
    char why[128];
    if (!t->indicator || !t->orgunit || !t->period || !t->kind || strcmp(t->kind, "plan") != 0 ||
        !isfinite(t->value) || db_period_parse(t->period, strlen(t->period), &p, why) != 0 ||
        p.type != DB_PT_YEAR)
      continue;
    db_buf_clear(&key);
    db_buf_printf(&key, "%s\x1f%s\x1f%lld", t->indicator, t->orgunit, (long long)p.ord);
    int64_t at, digest = 0;
    if (!db_map_get(&pl->index, key.data, key.len, &at))
      db_map_put(&pl->index, key.data, key.len, at = (int64_t)used++);
    pl->values[at] = t->value;
    /* a sum of hashes does not depend on the order of the targets */
    uint64_t bits;
    memcpy(&bits, &t->value, sizeof bits);
    db_buf_printf(&key, "\x1f%llx", (unsigned long long)bits);
    db_map_gets(&pl->digest, t->indicator, &digest);
    db_map_puts(&pl->digest, t->indicator,
                (int64_t)((uint64_t)digest + db_hash_bytes(key.data, key.len) + 1));
  }
  db_buf_free(&key);
  return pl;
}

void db__dplans_unref(db__dplans *pl) {
  if (!pl || atomic_fetch_sub(&pl->refs, 1) != 1) return;
  db_map_free(&pl->index);
  db_map_free(&pl->digest);
  db_free(pl->values);
  db_free(pl);
}
