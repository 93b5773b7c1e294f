/* derived.c - the catalog rules of derived indicators (contract in derived.h): a formula checked
 * against its catalog and its indicator's periodicity, and the formulas of a catalog without cycles. */
#include "formula/derived.h"

#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"

static void report(db_diag *d, const char *code, const db_problem *p);

int db_formula_compile_derived(const char *text, size_t len, const db_catalog *cat,
                               db_period_type periodicity, int span, db_formula **out, db_diag *d) {
  *out = NULL;
  db_formula *f = NULL;
  int rc = db_formula_compile(text, len, cat, &f, d);
  if (rc) return rc;
  db_period_type type;
  int reads_span;
  if (periodicity && db_formula_periodicity(f, &type, &reads_span) == 0 &&
      (type != periodicity || (periodicity == DB_PT_MULTIYEAR && span && reads_span != span))) {
    db_formula_free(f);
    return db_diag_add(d, 0, 1, NULL, DB_EINVAL, "the formula reads %s indicators, not %s",
                       db_period_type_name(type), db_period_type_name(periodicity));
  }
  *out = f;
  return 0;
}

int db_formula_check_catalog(const db_catalog *cat, db_formula **compiled, db_formula_graph *graph,
                             db_diag *d) {
  db_formula_graph *g = graph ? graph : db_formula_graph_new();
  db_diag found = DB_DIAG_INIT;
  int failed = 0;
  for (size_t i = 0; i < cat->n_indicators; i++) {
    const db_indicator *ind = &cat->indicators[i];
    if (compiled) compiled[i] = NULL;
    if (!ind->formula) continue;
    db_formula *f = NULL;
    db_diag_clear(&found);
    if (db_formula_compile_derived(ind->formula, strlen(ind->formula), cat, ind->periodicity,
                                   ind->period_span, &f, &found) == 0) {
      const char *const *deps;
      size_t n_deps = db_formula_deps(f, &deps);
      db_formula_graph_define(g, ind->code, deps, n_deps, &found);
    }
    for (size_t k = 0; k < found.count; k++) report(d, ind->code, &found.items[k]);
    failed |= found.count > 0;
    if (compiled && !found.count)
      compiled[i] = f;
    else
      db_formula_free(f);
  }
  db_diag_free(&found);
  if (!graph) db_formula_graph_free(g);
  if (failed && compiled)
    for (size_t i = 0; i < cat->n_indicators; i++) {
      db_formula_free(compiled[i]);
      compiled[i] = NULL;
    }
  return failed ? DB_EINVAL : 0;
}

/* Adds p, a problem of the formula of indicator `code`, to d at "indicators[CODE].formula", its position
 * in the message ("column 17: …"; a cycle has none). */
static void report(db_diag *d, const char *code, const db_problem *p) {
  db_buf msg = DB_BUF_INIT, path = DB_BUF_INIT;
  db_formula_describe(p, &msg);
  db_buf_printf(&path, "indicators[%s].formula", code);
  db_diag_add(d, 0, 0, db_buf_str(&path), p->code, "%s", db_buf_str(&msg));
  db_buf_free(&msg);
  db_buf_free(&path);
}
