/* check.c - the type checker (contract in formula.h): resolves every name of a parsed formula against
 * the catalog, gives each node its type (folding constants), checks the arguments of every function
 * against its signature, and records what evaluation needs (the canonical dimension key and the
 * temporal rule of each reference, the function of each call), the dependencies and the periodicity.
 * It reports every problem it finds, but not the consequences of one: a node whose operand failed is
 * not checked further. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "formula/formula_int.h"

/* A function's signature: one letter per argument (n number, r indicator reference, i whole constant
 * within [lo, hi], c constant, b boolean, v number or boolean); a trailing '+' repeats the letter before
 * it. Arguments from min_args on may be left out. */
typedef struct fn_sig {
  const char *name;
  const char *args;
  size_t min_args;
  db_ftype result; /* 0: the type of the 'v' arguments */
  int lo, hi;
  const char *ref_why; /* for 'r': why an indicator code is needed */
} fn_sig;

static const fn_sig FNS[DB__F_COUNT] = {
    [DB__F_YOY] = {"yoy", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_YTD] = {"ytd", "r", 1, DB_FT_NUMBER, 0, 0, "whose temporal rule says how periods add up"},
    [DB__F_LAG] = {"lag", "ni", 2, DB_FT_NUMBER, -DB_FORMULA_MAX_LAG, DB_FORMULA_MAX_LAG, NULL},
    [DB__F_DIFF] = {"diff", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_PCT_CHANGE] = {"pct_change", "ni", 1, DB_FT_NUMBER, 1, DB_FORMULA_MAX_LAG, NULL},
    [DB__F_SUM_CHILDREN] = {"sum_children", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_AVG_CHILDREN] = {"avg_children", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_MINMAX] = {"minmax", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_ZSCORE] = {"zscore", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_RANK] = {"rank", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_GOALPOST] = {"goalpost", "ncc", 3, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_IF] = {"if", "bvv", 3, 0, 0, 0, NULL},
    [DB__F_COALESCE] = {"coalesce", "nn+", 2, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_ISNULL] = {"isnull", "v", 1, DB_FT_BOOL, 0, 0, NULL},
    [DB__F_MIN] = {"min", "nn+", 2, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_MAX] = {"max", "nn+", 2, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_ABS] = {"abs", "n", 1, DB_FT_NUMBER, 0, 0, NULL},
    [DB__F_ROUND] = {"round", "ni", 1, DB_FT_NUMBER, -10, 10, NULL},
    [DB__F_PLAN] = {"plan", "r", 1, DB_FT_NUMBER, 0, 0, "whose targets it reads"},
    [DB__F_FORECAST] = {"forecast", "ri", 2, DB_FT_NUMBER, 0, DB_FORMULA_MAX_LAG, "whose forecast it reads"},
    [DB__F_LOWER] = {"lower", "ri", 2, DB_FT_NUMBER, 0, DB_FORMULA_MAX_LAG, "whose forecast it reads"},
    [DB__F_UPPER] = {"upper", "ri", 2, DB_FT_NUMBER, 0, DB_FORMULA_MAX_LAG, "whose forecast it reads"},
    [DB__F_P_MISS_TARGET] = {"p_miss_target", "r", 1, DB_FT_NUMBER, 0, 0, "whose forecast and plan it reads"},
};

typedef struct checker {
  db_formula *f;
  const db_catalog *cat;
  db_diag *d;
  int errors;
  const db__fnode *first_ref; /* the reference that set the periodicity */
  const db__fnode **refs;     /* every reference, for the dependencies */
  size_t n_refs, cap_refs;
} checker;

/* The closest candidate to a misspelt name, gathered one candidate at a time. */
typedef struct suggestion {
  const char *name;
  size_t len;
  const char *best;
  int best_distance;
} suggestion;

static db_ftype check_node(checker *c, db__fnode *n, int in_plan);
static db_ftype check_ref(checker *c, db__fnode *n, int in_plan);
static int check_selection(checker *c, db__fnode *n, const db_indicator *ind);
static void check_periodicity(checker *c, const db__fnode *n, const db_indicator *ind);
static db_ftype check_call(checker *c, db__fnode *n);
static int check_arity(checker *c, const db__fnode *n, const fn_sig *sig);
static db_ftype check_arg(checker *c, const db__fnode *call, const fn_sig *sig, size_t k, db_ftype t);
static db_ftype check_unary(checker *c, db__fnode *n, db_ftype t);
static db_ftype check_binary(checker *c, db__fnode *n, db_ftype l, db_ftype r);
static void unknown(checker *c, db__fpos pos, const char *what, const char *name, const char *of,
                    suggestion *s, const char *hint);
static int suggesting(const checker *c);
static void consider(suggestion *s, const char *candidate);
static int distance(const char *a, size_t la, const char *b, size_t lb);
static const char *periodicity_name(db_period_type t, int span, char buf[32]);
static void collect_deps(checker *c);
static char letter(const fn_sig *sig, size_t k);
static db_ftype problem(checker *c, db__fpos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int db_formula_check(db_formula *f, const db_catalog *cat, db_diag *d) {
  f->type = 0;
  db_free(f->deps);
  f->deps = NULL;
  f->n_deps = 0;
  f->has_periodicity = 0;
  f->uses_forecast = 0;
  checker c = {f, cat, d, 0, NULL, NULL, 0, 0};
  db_ftype t = check_node(&c, f->root, 0);
  if (c.errors) {
    f->has_periodicity = 0;
  } else {
    f->type = t;
    collect_deps(&c);
  }
  db_free(c.refs);
  return c.errors ? DB_EINVAL : 0;
}

int db_formula_compile(const char *text, size_t len, const db_catalog *cat, db_formula **out, db_diag *d) {
  int rc = db_formula_parse(text, len, out, d);
  if (rc) return rc;
  rc = db_formula_check(*out, cat, d);
  if (rc) {
    db_formula_free(*out);
    *out = NULL;
  }
  return rc;
}

/* The type of node n, or 0 after a problem in n or below. in_plan: n is the argument of plan(). */
static db_ftype check_node(checker *c, db__fnode *n, int in_plan) {
  db_ftype t = 0;
  switch (n->kind) {
    case DB__N_NUM:
      t = DB_FT_SCALAR;
      break;
    case DB__N_REF:
      t = check_ref(c, n, in_plan);
      break;
    case DB__N_NEG:
    case DB__N_NOT: {
      db_ftype operand = check_node(c, n->args[0], 0);
      t = operand ? check_unary(c, n, operand) : 0;
      break;
    }
    case DB__N_BIN: {
      db_ftype l = check_node(c, n->args[0], 0), r = check_node(c, n->args[1], 0);
      t = l && r ? check_binary(c, n, l, r) : 0;
      break;
    }
    case DB__N_CALL:
      t = check_call(c, n);
      break;
  }
  n->type = t;
  return t;
}

/* An indicator reference: the indicator, its selection and its unit exist. */
static db_ftype check_ref(checker *c, db__fnode *n, int in_plan) {
  const db_indicator *ind = db_catalog_indicator(c->cat, n->name);
  int ok = 1;
  if (!ind) {
    suggestion s = {n->name, strlen(n->name), NULL, 0};
    for (size_t k = 0; suggesting(c) && k < c->cat->n_indicators; k++)
      consider(&s, c->cat->indicators[k].code);
    int is_fn = 0;
    for (size_t k = 0; k < DB__F_COUNT; k++) is_fn |= strcmp(FNS[k].name, n->name) == 0;
    unknown(c, n->pos, "indicator", n->name, "", &s, is_fn ? "is a function: call it with (...)" : NULL);
    ok = 0;
  } else {
    ok = check_selection(c, n, ind) == 0;
    n->agg_time = ind->agg_time;
    if (!in_plan) check_periodicity(c, n, ind);
  }
  if (n->unit && !db_catalog_unit(c->cat, n->unit)) {
    suggestion s = {n->unit, strlen(n->unit), NULL, 0};
    for (size_t k = 0; suggesting(c) && k < c->cat->n_units; k++) consider(&s, c->cat->units[k].code);
    unknown(c, n->unit_pos, "org unit", n->unit, "", &s, NULL);
    ok = 0;
  }
  if (!ok) return 0;
  if (c->n_refs == c->cap_refs) {
    c->cap_refs = c->cap_refs ? c->cap_refs * 2 : 8;
    c->refs = db_realloc(c->refs, c->cap_refs * sizeof *c->refs);
  }
  c->refs[c->n_refs++] = n;
  return DB_FT_NUMBER;
}

static int compare_sel(const void *a, const void *b) {
  return strcmp(((const db__fsel *)a)->dim, ((const db__fsel *)b)->dim);
}

/* Checks the selection of reference n to indicator ind and builds its canonical key (pairs sorted by
 * dimension code, as the store keys series). 0, or DB_EINVAL after problems. */
static int check_selection(checker *c, db__fnode *n, const db_indicator *ind) {
  int bad = 0;
  for (size_t k = 0; k < n->n_sel; k++) {
    const db__fsel *sel = &n->sel[k];
    const db_dimension *dim = db_catalog_dimension(c->cat, sel->dim);
    if (!dim) {
      suggestion s = {sel->dim, strlen(sel->dim), NULL, 0};
      for (size_t j = 0; suggesting(c) && j < c->cat->n_dimensions; j++)
        consider(&s, c->cat->dimensions[j].code);
      unknown(c, sel->dim_pos, "dimension", sel->dim, "", &s, NULL);
      bad = 1;
      continue;
    }
    if (!db_list_has(ind->dimensions, sel->dim, strlen(sel->dim))) {
      problem(c, sel->dim_pos, "indicator %s is not broken down by %s", ind->code, sel->dim);
      bad = 1;
      continue;
    }
    for (size_t j = 0; j < k; j++) {
      if (strcmp(n->sel[j].dim, sel->dim) != 0) continue;
      problem(c, sel->dim_pos, "dimension %s selected twice", sel->dim);
      bad = 1;
      break;
    }
    size_t it = 0;
    while (it < dim->n_items && strcmp(dim->items[it].code, sel->item) != 0) it++;
    if (it == dim->n_items) {
      suggestion s = {sel->item, strlen(sel->item), NULL, 0};
      for (size_t j = 0; j < dim->n_items; j++) consider(&s, dim->items[j].code);
      char of[96];
      snprintf(of, sizeof of, " of dimension %s", dim->code);
      unknown(c, sel->item_pos, "item", sel->item, of, &s, NULL);
      bad = 1;
    }
  }
  if (bad) return DB_EINVAL;
  n->dimkey = "";
  if (!n->n_sel) return 0;
  db__fsel *sorted = db_malloc(n->n_sel * sizeof *sorted);
  memcpy(sorted, n->sel, n->n_sel * sizeof *sorted);
  qsort(sorted, n->n_sel, sizeof *sorted, compare_sel);
  db_buf key = DB_BUF_INIT;
  for (size_t k = 0; k < n->n_sel; k++)
    db_buf_printf(&key, "%s%s=%s", k ? ";" : "", sorted[k].dim, sorted[k].item);
  n->dimkey = db__farena_strndup(&c->f->arena, db_buf_str(&key), key.len);
  db_buf_free(&key);
  db_free(sorted);
  return 0;
}

/* The first reference sets the formula's periodicity; every later one must agree. */
static void check_periodicity(checker *c, const db__fnode *n, const db_indicator *ind) {
  db_formula *f = c->f;
  if (!f->has_periodicity) {
    f->has_periodicity = 1;
    f->periodicity = ind->periodicity;
    f->span = ind->period_span;
    c->first_ref = n;
    return;
  }
  if (f->periodicity == ind->periodicity && f->span == ind->period_span) return;
  char a[32], b[32];
  problem(c, n->pos, "indicator %s is %s but %s (column %d) is %s; one formula reads one periodicity",
          n->name, periodicity_name(ind->periodicity, ind->period_span, a), c->first_ref->name,
          c->first_ref->pos.column, periodicity_name(f->periodicity, f->span, b));
}

/* A call: the function exists, gets as many arguments as it takes, each of the right kind. */
static db_ftype check_call(checker *c, db__fnode *n) {
  int fn = 0;
  while (fn < DB__F_COUNT && strcmp(FNS[fn].name, n->name) != 0) fn++;
  if (fn == DB__F_COUNT) {
    suggestion s = {n->name, strlen(n->name), NULL, 0};
    for (size_t k = 0; k < DB__F_COUNT; k++) consider(&s, FNS[k].name);
    unknown(c, n->pos, "function", n->name, "", &s,
            db_catalog_indicator(c->cat, n->name) ? "is an indicator: write it without (...)" : NULL);
    for (size_t k = 0; k < n->n_args; k++) check_node(c, n->args[k], 0); /* report problems inside too */
    return 0;
  }
  n->fn = fn;
  c->f->uses_forecast |= fn >= DB__F_FORECAST && fn <= DB__F_P_MISS_TARGET;
  const fn_sig *sig = &FNS[fn];
  int ok = check_arity(c, n, sig);
  db_ftype branches = 0;
  for (size_t k = 0; k < n->n_args; k++) {
    db_ftype t = check_node(c, n->args[k], fn == DB__F_PLAN);
    if (!t || !ok || !check_arg(c, n, sig, k, t)) {
      ok = 0;
      continue;
    }
    if (sig->result || letter(sig, k) != 'v') continue;
    db_ftype kind = t == DB_FT_BOOL ? DB_FT_BOOL : DB_FT_NUMBER;
    if (branches && branches != kind)
      ok = problem(c, n->pos, "the branches of %s must both be numbers or both be booleans", sig->name);
    branches = kind;
  }
  if (!ok) return 0;
  if (fn == DB__F_GOALPOST && n->args[1]->num == n->args[2]->num)
    return problem(c, n->pos, "goalpost needs lo and hi to differ");
  if (fn == DB__F_YTD && n->args[0]->agg_time != DB_AGG_SUM && n->args[0]->agg_time != DB_AGG_AVG &&
      n->args[0]->agg_time != DB_AGG_LAST && n->args[0]->agg_time != DB_AGG_MIN &&
      n->args[0]->agg_time != DB_AGG_MAX)
    return problem(c, n->args[0]->pos, "indicator %s has no temporal rule (sum, avg, last, min, max) for ytd",
                   n->args[0]->name);
  if ((fn == DB__F_PLAN || fn == DB__F_P_MISS_TARGET) && n->args[0]->n_sel)
    return problem(c, n->args[0]->sel[0].dim_pos, "%s reads targets, which have no dimension items", sig->name);
  return sig->result ? sig->result : branches;
}

/* 1 when n has as many arguments as sig takes, else 0 after a problem. */
static int check_arity(checker *c, const db__fnode *n, const fn_sig *sig) {
  size_t letters = strlen(sig->args);
  int variadic = sig->args[letters - 1] == '+';
  size_t max = variadic ? SIZE_MAX : letters;
  if (n->n_args >= sig->min_args && n->n_args <= max) return 1;
  if (variadic)
    problem(c, n->pos, "%s takes %zu or more arguments, got %zu", sig->name, sig->min_args, n->n_args);
  else if (sig->min_args == max)
    problem(c, n->pos, "%s takes %zu argument%s, got %zu", sig->name, max, max == 1 ? "" : "s", n->n_args);
  else
    problem(c, n->pos, "%s takes %zu or %zu arguments, got %zu", sig->name, sig->min_args, max, n->n_args);
  return 0;
}

/* Checks argument k (of type t) of call against its letter; returns t, or 0 after a problem. */
static db_ftype check_arg(checker *c, const db__fnode *call, const fn_sig *sig, size_t k, db_ftype t) {
  char kind = letter(sig, k);
  const db__fnode *a = call->args[k];
  int number = t == DB_FT_NUMBER || t == DB_FT_SCALAR;
  switch (kind) {
    case 'n':
      if (number) return t;
      return problem(c, a->start, "argument %zu of %s must be a number, not a boolean", k + 1, sig->name);
    case 'r':
      if (a->kind == DB__N_REF) return t;
      return problem(c, a->start, "%s takes an indicator code, %s", sig->name, sig->ref_why);
    case 'i':
      if (t == DB_FT_SCALAR && a->num == floor(a->num) && a->num >= sig->lo && a->num <= sig->hi) return t;
      return problem(c, a->start, "argument %zu of %s must be a constant whole number from %d to %d", k + 1,
                     sig->name, sig->lo, sig->hi);
    case 'c':
      if (t == DB_FT_SCALAR && !isnan(a->num)) return t;
      return problem(c, a->start, "argument %zu of %s must be a constant number", k + 1, sig->name);
    case 'b':
      if (t == DB_FT_BOOL) return t;
      return problem(c, a->start,
                     "argument %zu of %s must be a boolean (a comparison, isnull(), and, or, not)", k + 1,
                     sig->name);
    default:
      return t; /* 'v' */
  }
}

/* The letter of sig's signature that argument k must match. */
static char letter(const fn_sig *sig, size_t k) {
  size_t letters = strlen(sig->args);
  if (k < letters && sig->args[k] != '+') return sig->args[k];
  return sig->args[letters - 1] == '+' ? sig->args[letters - 2] : sig->args[letters - 1];
}

/* '-' on a number (folded when constant) or 'not' on a boolean. */
static db_ftype check_unary(checker *c, db__fnode *n, db_ftype t) {
  if (n->kind == DB__N_NOT) {
    if (t == DB_FT_BOOL) return DB_FT_BOOL;
    return problem(c, n->pos, "'not' needs a boolean, not a number");
  }
  if (t == DB_FT_BOOL) return problem(c, n->pos, "'-' needs a number, not a boolean");
  if (t == DB_FT_SCALAR) n->num = -n->args[0]->num;
  return t;
}

/* Arithmetic on numbers (folded when both are constants), comparisons of numbers, and/or of booleans. */
static db_ftype check_binary(checker *c, db__fnode *n, db_ftype l, db_ftype r) {
  int logic = n->op == DB_FTOK_AND || n->op == DB_FTOK_OR;
  int cmp = n->op >= DB_FTOK_LT && n->op <= DB_FTOK_GT;
  db_ftype want = logic ? DB_FT_BOOL : DB_FT_NUMBER;
  const char *side = NULL;
  if ((l == DB_FT_BOOL) != (want == DB_FT_BOOL))
    side = "left";
  else if ((r == DB_FT_BOOL) != (want == DB_FT_BOOL))
    side = "right";
  if (side) {
    const char *op = db_ftok_name(n->op);
    if (logic) return problem(c, n->pos, "%s needs booleans, but its %s side is a number", op, side);
    return problem(c, n->pos, "%s %s numbers, but its %s side is a boolean", op, cmp ? "compares" : "needs",
                   side);
  }
  if (logic || cmp) return DB_FT_BOOL;
  if (l == DB_FT_SCALAR && r == DB_FT_SCALAR) {
    n->num = db__farith(n->op, n->args[0]->num, n->args[1]->num);
    return DB_FT_SCALAR;
  }
  return DB_FT_NUMBER;
}

/* "unknown indicator 'CPII' (did you mean CPI?)", "unknown item 'G' of dimension SEX", or with a hint
 * about what the name is instead. Names are cut after 64 bytes. */
static void unknown(checker *c, db__fpos pos, const char *what, const char *name, const char *of,
                    suggestion *s, const char *hint) {
  int n = strlen(name) > 64 ? 64 : (int)strlen(name);
  const char *cut = strlen(name) > 64 ? "..." : "";
  if (hint)
    problem(c, pos, "unknown %s '%s'%s (%s %s)", what, name, of, name, hint);
  else if (s->best)
    problem(c, pos, "unknown %s '%.*s%s'%s (did you mean %s?)", what, n, name, cut, of, s->best);
  else
    problem(c, pos, "unknown %s '%.*s%s'%s", what, n, name, cut, of);
}

/* Whether to look for suggestions: only for the first problems, so that a formula of thousands of
 * unknown names cannot make the check compare each with the whole catalog. */
static int suggesting(const checker *c) { return c->errors < 64; }

/* Keeps candidate when it is closer to the name than the best so far and close enough to be a likely
 * misspelling: letter case aside, one edit for names of 2 to 4 characters, two for longer ones. */
static void consider(suggestion *s, const char *candidate) {
  if (!candidate) return;
  size_t lc = strlen(candidate);
  int limit = s->len <= 1 ? 0 : s->len <= 4 ? 1 : 2;
  if (lc > 64 || s->len > 64 + 2 || (s->len > lc ? s->len - lc : lc - s->len) > (size_t)limit) return;
  int dist = distance(s->name, s->len, candidate, lc);
  if (dist <= limit && (!s->best || dist < s->best_distance)) {
    s->best = candidate;
    s->best_distance = dist;
  }
}

/* Optimal-string-alignment edit distance ignoring ASCII case (insertions, deletions, substitutions and
 * swaps of neighbours). lb <= 64. */
static int distance(const char *a, size_t la, const char *b, size_t lb) {
  int rows[3][66];
  int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
      int best = prev[j - 1] + !same;
      if (prev[j] + 1 < best) best = prev[j] + 1;
      if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
      if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) && prev2[j - 2] + 1 < best)
        best = prev2[j - 2] + 1;
      cur[j] = best;
    }
    int *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb];
}

static const char *periodicity_name(db_period_type t, int span, char buf[32]) {
  static const char *const names[] = {
      [DB_PT_MIN5] = "5-minute",     [DB_PT_MIN15] = "15-minute",  [DB_PT_HOUR] = "hourly",
      [DB_PT_DAY] = "daily",         [DB_PT_WEEK] = "weekly",      [DB_PT_MONTH] = "monthly",
      [DB_PT_QUARTER] = "quarterly", [DB_PT_HALF] = "half-yearly", [DB_PT_YEAR] = "yearly"};
  if (t == DB_PT_MULTIYEAR)
    snprintf(buf, 32, "%d-yearly", span);
  else
    snprintf(buf, 32, "%s", (unsigned)t < sizeof names / sizeof names[0] && names[t] ? names[t] : "unknown");
  return buf;
}

static int compare_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct codes of every reference, sorted, into f->deps. */
static void collect_deps(checker *c) {
  db_formula *f = c->f;
  f->deps = db_malloc((c->n_refs ? c->n_refs : 1) * sizeof *f->deps);
  for (size_t k = 0; k < c->n_refs; k++) f->deps[k] = c->refs[k]->name;
  qsort(f->deps, c->n_refs, sizeof *f->deps, compare_str);
  size_t n = 0;
  for (size_t k = 0; k < c->n_refs; k++)
    if (!n || strcmp(f->deps[n - 1], f->deps[k]) != 0) f->deps[n++] = f->deps[k];
  f->n_deps = n;
}

/* Reports a problem at pos; returns 0, the type of a node that failed its check. */
static db_ftype problem(checker *c, db__fpos pos, const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  db__formula_problem(c->d, c->f->multiline, pos, DB_EINVAL, "%s", db_buf_str(&msg));
  db_buf_free(&msg);
  c->errors++;
  return 0;
}
