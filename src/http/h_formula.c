/* h_formula.c - the formula routes: checking a formula, and the pillars of a composite index.
 *
 * POST /api/v1/formula/check checks a formula against the request's catalog as a derived indicator's
 * formula is checked (formula/derived.h). The body is {"formula": string, "periodicity"?: string}
 * (nothing else). The answer is 200 whether the formula checks or not: {"type": "number"|"boolean"|
 * "constant"|null, "periodicity": the periodicity of the indicators it reads or null, "dependencies":
 * [codes], "errors": [{"column", "message"} and "line" for a formula of several lines]}. Only a malformed
 * body is a 400 (with its problems).
 *
 * GET /api/v1/indices/{code}/pillars?period=P[&parent=OU] ranks the children of OU (default: the root
 * units) valid in P on the derived indicator `code`, with each unit's pillar contributions, on the
 * request's cube version (derive/derive.h): {"indicator", "period", "parent", "pillars": [{"label",
 * "weight", "formula"}], "units": [{"orgunit", "name", "rank", "value", "contributions": [...]}]}, best
 * first; a missing value (and its rank) is null. Both routes need the read permission (analyst and
 * above). */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "derive/derive.h"
#include "formula/derived.h"
#include "http/h_util.h"
#include "http/handlers.h"

/* Reads the check body into *text (pointing into doc; *len its bytes) and *periodicity (0 when not
 * given). Problems go to d. */
static void read_check(json_t *doc, const char **text, size_t *len, db_period_type *periodicity, db_diag *d) {
  const char *key;
  json_t *v;
  if (!json_is_object(doc)) {
    db_diag_add(d, 0, 0, "$", DB_EINVAL,
                "the body must be a JSON object {\"formula\": …, \"periodicity\": …}");
    return;
  }
  json_object_foreach(doc, key, v) {
    char path[64];
    snprintf(path, sizeof path, "$.%.48s", key);
    int is_formula = strcmp(key, "formula") == 0, is_periodicity = strcmp(key, "periodicity") == 0;
    if (!is_formula && !is_periodicity)
      db_diag_add(d, 0, 0, path, DB_EINVAL, "unknown field (allowed: formula, periodicity)");
    else if (!json_is_string(v))
      db_diag_add(d, 0, 0, path, DB_EINVAL, "must be a string");
    else if (is_formula) {
      *text = json_string_value(v);
      *len = json_string_length(v);
    } else if (db_period_type_parse(json_string_value(v), periodicity) != 0)
      db_diag_add(d, 0, 0, path, DB_EINVAL, "unknown periodicity '%s'", json_string_value(v));
  }
  if (!json_object_get(doc, "formula")) db_diag_add(d, 0, 0, "$.formula", DB_EINVAL, "missing");
}

/* The answer of a check: the formula's type, periodicity and dependencies (f NULL: it did not check)
 * and the problems found. */
static json_t *check_json(const db_formula *f, const db_diag *found) {
  json_t *deps = json_array(), *errors = json_array();
  db_period_type type;
  int span;
  const char *reads = f && db_formula_periodicity(f, &type, &span) == 0 ? db_period_type_name(type) : NULL;
  if (f) {
    const char *const *codes;
    size_t n = db_formula_deps(f, &codes);
    for (size_t i = 0; i < n; i++) json_array_append_new(deps, json_string(codes[i]));
  }
  for (size_t i = 0; i < found->count; i++) {
    const db_problem *p = &found->items[i];
    json_t *e = json_pack("{s:i, s:s}", "column", p->column, "message", p->message);
    if (p->line) json_object_set_new(e, "line", json_integer(p->line));
    json_array_append_new(errors, e);
  }
  return json_pack("{s:o, s:o, s:o, s:o}", "type",
                   f ? json_string(db_ftype_name(db_formula_type(f))) : json_null(), "periodicity",
                   reads ? json_string(reads) : json_null(), "dependencies", deps, "errors", errors);
}

int db_h_formula_check(db_req *r, db_resp *w) {
  json_t *doc = db__h_json_body(r, w, 0, NULL);
  if (!doc) return 0;
  const char *text = NULL;
  size_t len = 0;
  db_period_type periodicity = 0;
  db_diag d = DB_DIAG_INIT;
  read_check(doc, &text, &len, &periodicity, &d);
  if (d.count) {
    db_resp_problem(w, 400, "Bad request", "the body is {\"formula\": string, \"periodicity\"?: string}", &d);
  } else {
    db_formula *f = NULL;
    db_formula_compile_derived(text, len, r->cat, periodicity, 0, &f, &d);
    db_resp_json(w, 200, check_json(f, &d));
    db_formula_free(f);
  }
  db_diag_free(&d);
  json_decref(doc);
  return 0;
}

/* A number, or null when missing. */
static json_t *number(double v) { return isnan(v) ? json_null() : json_real(v); }

static json_t *breakdown_json(const db_req *r, const db_indicator *ind, const char *period,
                              const char *parent, const db_derive_breakdown *b) {
  json_t *pillars = json_array(), *units = json_array();
  for (size_t j = 0; j < b->n_pillars; j++)
    json_array_append_new(pillars, json_pack("{s:s, s:f, s:s}", "label", b->pillars[j].label, "weight",
                                             b->pillars[j].weight, "formula", b->pillars[j].text));
  for (size_t i = 0; i < b->n_units; i++) {
    const db_orgunit *u = &r->cat->units[b->units[i]];
    json_t *contrib = json_array();
    for (size_t j = 0; j < b->n_pillars; j++)
      json_array_append_new(contrib, number(b->contrib[i * b->n_pillars + j]));
    json_array_append_new(units, json_pack("{s:s, s:s, s:o, s:o, s:o}", "orgunit", u->code, "name", u->name,
                                           "rank", b->ranks[i] ? json_integer(b->ranks[i]) : json_null(),
                                           "value", number(b->values[i]), "contributions", contrib));
  }
  return json_pack("{s:s, s:s, s:o, s:o, s:o}", "indicator", ind->code, "period", period, "parent",
                   parent ? json_string(parent) : json_null(), "pillars", pillars, "units", units);
}

int db_h_index_pillars(db_req *r, db_resp *w) {
  const db_indicator *ind = db_catalog_indicator(r->cat, r->params[0]);
  if (!ind) return db__h_problem(w, 404, "code", "unknown indicator '%s'", r->params[0]);
  if (!ind->formula)
    return db__h_problem(w, 400, "code", "'%s' has no formula: it is not an index", ind->code);
  const char *period = db_req_query(r, "period"), *parent = db_req_query(r, "parent");
  db_period p;
  char why[128];
  if (!period)
    return db__h_problem(w, 400, "period", "missing (a period of %s's periodicity, such as 2025-09)",
                         ind->code);
  if (db_period_parse_as(period, strlen(period), ind->periodicity, ind->period_span, &p, why) != 0)
    return db__h_problem(w, 400, "period", "%s", why);
  int64_t parent_index = -1;
  if (parent && !db_map_gets(&r->cat->unit_index, parent, &parent_index))
    return db__h_problem(w, 404, "parent", "unknown org unit '%s'", parent);
  if (!r->derive)
    return db__h_problem(w, 503, "code",
                         "the derived indicators are off: a formula of the catalog does not compile");
  db_derive_breakdown b;
  db_diag d = DB_DIAG_INIT;
  int rc = db_derive_breakdown_get(r->derive, r->cube, ind->code, parent_index, &p, &b, &d);
  if (rc == DB_EINVAL || rc == DB_ETOOBIG || rc == DB_ENOTFOUND) {
    db_resp_problem(w, db_http_status(rc), "Cannot compute the index", NULL, &d);
    rc = 0;
  } else if (!rc) {
    db_resp_json(w, 200, breakdown_json(r, ind, period, parent, &b));
  }
  db_derive_breakdown_free(&b);
  db_diag_free(&d);
  return rc;
}
