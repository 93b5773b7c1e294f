/* h_catalog.c - the catalog routes: org units (list, tree, GeoJSON, one unit), agencies, indicators
 * (list and search, one, create or update, replace, delete), dimensions and targets.
 *
 * Reads answer from the request's catalog snapshot (targets from the store). A JSON object carries the
 * members of docs/catalog-files.md (db_catalog_object_json), so a listing posts back unchanged; a CSV
 * answer has the columns of `databrain catalog list` (db_catalog_write_csv). Callers below analyst (the
 * public role, anonymous callers) see public indicators only: in lists, as one indicator (404 for any
 * other, as for an unknown code) and in targets. Search (q) folds case and Vietnamese diacritics on both
 * sides (db_text_fold), so "chi so gia" finds "Chỉ số giá".
 *
 * Writes go through the catalog importer on the writer handle, all-or-nothing: a POST takes a JSON array
 * (or {"<kind>": [...]}) or a CSV document, a PUT one JSON object. Every problem of a rejected document
 * is listed in a 400 problem with its JSON path or its line and column, and nothing is written. After a
 * write the app publishes the new catalog before releasing the write lock, so later requests see it. */
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/h_util.h"
#include "http/handlers.h"
#include "ingest/catalog_import.h"

#define MAX_TREE_DEPTH 64

/* ---- answering lists ---- */

/* Adds members to the JSON of one object of a list (or removes some). */
typedef void (*decorate_fn)(const db_req *r, const void *obj, json_t *o);

typedef struct object_list {
  const char *kind;
  const void **objs;
  size_t n, cap;
} object_list;

static void list_push(object_list *l, const void *obj) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->objs = db_realloc(l->objs, l->cap * sizeof *l->objs);
  }
  l->objs[l->n++] = obj;
}

static int write_list_csv(void *ctx, FILE *out) {
  const object_list *l = ctx;
  return db_catalog_write_csv(l->kind, l->objs, l->n, out);
}

/* Answers the objects of the list: CSV when the caller asks for it, else {"<kind>": [objects]} with
 * decorate (may be NULL) applied to each. Frees the list. Returns 0 or an error. */
static int answer_list(db_req *r, db_resp *w, object_list *l, decorate_fn decorate) {
  int rc = 0;
  if (strcmp(db_req_format(r), "csv") == 0) {
    rc = db__h_answer_stream(w, DB__H_CSV, write_list_csv, l);
  } else {
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n; i++) {
      json_t *o = db_catalog_object_json(l->kind, l->objs[i]);
      if (decorate) decorate(r, l->objs[i], o);
      json_array_append_new(arr, o);
    }
    db_resp_json(w, 200, json_pack("{s:o}", l->kind, arr));
  }
  db_free(l->objs);
  return rc;
}

/* The folding of s ("" for NULL) in scratch; valid until scratch changes. */
static const char *fold_into(db_buf *scratch, const char *s) {
  size_t n = s ? strlen(s) : 0;
  db_buf_clear(scratch);
  db_buf_reserve(scratch, n + 1);
  scratch->len = db_text_fold(s ? s : "", n, scratch->data);
  return scratch->data;
}

/* 1 when the folding of s (not NULL) contains the folded query q. */
static int folded_contains(const char *s, const char *q, db_buf *scratch) {
  return s && strstr(fold_into(scratch, s), q) != NULL;
}

/* The folding of a query parameter, owned; NULL when the parameter is absent or empty. */
static char *folded_param(const db_req *r, const char *name) {
  const char *v = db_req_query(r, name);
  if (!v || !*v) return NULL;
  size_t n = strlen(v);
  char *out = db_malloc(n + 1);
  db_text_fold(v, n, out);
  return out;
}

/* ---- org units ---- */

/* The filters of the org unit lists. */
typedef struct unit_filter {
  const db_orgunit *parent; /* children of this unit only; NULL = any */
  db_ou_kind kind;          /* 0 = any */
  int64_t day;              /* valid on this day; DB_DATE_NONE = any */
  char *q;                  /* folded search text over code and names; NULL = none */
} unit_filter;

/* Reads parent, kind, valid_on and q. Returns 0, or 1 after answering a problem. */
static int read_unit_filter(const db_req *r, db_resp *w, unit_filter *f) {
  const char *parent = db_req_query(r, "parent"), *kind = db_req_query(r, "kind");
  const char *valid_on = db_req_query(r, "valid_on");
  memset(f, 0, sizeof *f);
  f->day = DB_DATE_NONE;
  if (parent && !(f->parent = db_catalog_unit(r->cat, parent)))
    return db__h_problem(w, 404, "parent", "unknown org unit '%s'", parent), 1;
  if (kind && db_ou_kind_parse(kind, &f->kind) != DB_OK)
    return db__h_problem(w, 400, "kind",
                         "'%s' is not an org unit kind (country, city, ward, commune, special_zone, "
                         "legacy_district, legacy_ward, site)",
                         kind),
           1;
  if (valid_on && db_parse_date(valid_on, strlen(valid_on), &f->day) != DB_OK)
    return db__h_problem(w, 400, "valid_on", "'%s' is not a date (YYYY-MM-DD)", valid_on), 1;
  f->q = folded_param(r, "q");
  return 0;
}

static int valid_on(const db_orgunit *u, int64_t day) {
  return day == DB_DATE_NONE || ((u->valid_from == DB_DATE_NONE || u->valid_from <= day) &&
                                 (u->valid_to == DB_DATE_NONE || day <= u->valid_to));
}

static int unit_matches(const db_orgunit *u, const unit_filter *f, db_buf *scratch) {
  if (f->parent && !(u->parent && strcmp(u->parent, f->parent->code) == 0)) return 0;
  if (f->kind && u->kind != f->kind) return 0;
  if (!valid_on(u, f->day)) return 0;
  return !f->q || folded_contains(u->code, f->q, scratch) || folded_contains(u->name, f->q, scratch) ||
         folded_contains(u->name_en, f->q, scratch);
}

/* Lists leave the geometry to the GeoJSON route (a unit posted back without it keeps its own). */
static void drop_geometry(const db_req *r, const void *obj, json_t *o) { json_object_del(o, "geometry"); }

int db_h_orgunits_list(db_req *r, db_resp *w) {
  unit_filter f;
  if (read_unit_filter(r, w, &f)) return 0;
  object_list l = {"orgunits", NULL, 0, 0};
  db_buf scratch = DB_BUF_INIT;
  for (size_t i = 0; i < r->cat->n_units; i++)
    if (unit_matches(&r->cat->units[i], &f, &scratch)) list_push(&l, &r->cat->units[i]);
  db_buf_free(&scratch);
  db_free(f.q);
  return answer_list(r, w, &l, drop_geometry);
}

/* {code, name, kind, level, children: [...]} of unit i and the units below it that are valid on `day`,
 * down to depth levels more. */
static json_t *tree_node(const db_catalog *cat, size_t i, int64_t day, int depth) {
  const db_orgunit *u = &cat->units[i];
  json_t *node = json_pack("{s:s, s:s?, s:s, s:i}", "code", u->code, "name", u->name, "kind",
                           db_ou_kind_name(u->kind), "level", u->level);
  json_t *children = json_array();
  const int64_t *kids;
  size_t n = depth > 0 ? db_catalog_children(cat, i, &kids) : 0;
  for (size_t k = 0; k < n; k++)
    if (valid_on(&cat->units[kids[k]], day))
      json_array_append_new(children, tree_node(cat, (size_t)kids[k], day, depth - 1));
  json_object_set_new(node, "children", children);
  return node;
}

int db_h_orgunits_tree(db_req *r, db_resp *w) {
  const char *root = db_req_query(r, "root"), *depth_text = db_req_query(r, "depth");
  const char *day_text = db_req_query(r, "valid_on");
  int64_t day = DB_DATE_NONE, depth = MAX_TREE_DEPTH;
  const db_orgunit *top = root ? db_catalog_unit(r->cat, root) : NULL;
  if (root && !top) return db__h_problem(w, 404, "root", "unknown org unit '%s'", root);
  if (day_text && db_parse_date(day_text, strlen(day_text), &day) != DB_OK)
    return db__h_problem(w, 400, "valid_on", "'%s' is not a date (YYYY-MM-DD)", day_text);
  if (depth_text && (db_parse_int64(depth_text, strlen(depth_text), &depth) != DB_OK || depth < 0 ||
                     depth > MAX_TREE_DEPTH))
    return db__h_problem(w, 400, "depth", "'%s' is not a depth from 0 to %d", depth_text, MAX_TREE_DEPTH);
  json_t *tree = json_array();
  for (size_t i = 0; i < r->cat->n_units; i++) {
    const db_orgunit *u = &r->cat->units[i];
    int wanted = top ? u == top : r->cat->unit_parent[i] < 0 && valid_on(u, day);
    if (wanted) json_array_append_new(tree, tree_node(r->cat, i, day, (int)depth));
  }
  db_resp_json(w, 200, json_pack("{s:o}", "tree", tree));
  return 0;
}

/* The GeoJSON answer is written as text: geometries are stored as compact GeoJSON already, and parsing
 * and dumping every boundary again would cost more than the rest of the request. */
int db_h_orgunits_geojson(db_req *r, db_resp *w) {
  unit_filter f;
  if (read_unit_filter(r, w, &f)) return 0;
  db_buf out = DB_BUF_INIT, scratch = DB_BUF_INIT;
  db_buf_puts(&out, "{\"type\":\"FeatureCollection\",\"features\":[");
  const char *sep = "";
  for (size_t i = 0; i < r->cat->n_units; i++) {
    const db_orgunit *u = &r->cat->units[i];
    if (!u->geometry || !unit_matches(u, &f, &scratch)) continue;
    json_t *props = json_pack("{s:s, s:s?, s:s}", "code", u->code, "name", u->name, "kind",
                              db_ou_kind_name(u->kind));
    if (!db_is_unknown(u->population)) json_object_set_new(props, "population", json_real(u->population));
    if (!db_is_unknown(u->area_km2)) json_object_set_new(props, "area_km2", json_real(u->area_km2));
    char *text = json_dumps(props, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(props);
    db_buf_printf(&out, "%s{\"type\":\"Feature\",\"properties\":%s,\"geometry\":%s}", sep, text ? text : "{}",
                  u->geometry);
    free(text);
    sep = ",";
  }
  db_buf_puts(&out, "]}");
  db_resp_text(w, 200, "application/geo+json", out.data, out.len);
  db_buf_free(&out);
  db_buf_free(&scratch);
  db_free(f.q);
  return 0;
}

/* [{code, weight, partial, date}] of the successions from (successors) or to (predecessors) unit code. */
static json_t *succession_links(const db_catalog *cat, const char *code, int successors) {
  json_t *arr = json_array();
  for (size_t i = 0; i < cat->n_successions; i++) {
    const db_succession *s = &cat->successions[i];
    const char *self = successors ? s->from : s->to, *other = successors ? s->to : s->from;
    if (strcmp(self, code) != 0) continue;
    char date[11] = "";
    if (s->date != DB_DATE_NONE) db_format_date(s->date, date);
    json_array_append_new(arr, json_pack("{s:s, s:f, s:b, s:s?}", "code", other, "weight", s->weight, "partial",
                                         s->partial, "date", *date ? date : NULL));
  }
  return arr;
}

int db_h_orgunit_get(db_req *r, db_resp *w) {
  const char *code = r->params[0];
  const db_orgunit *u = db_catalog_unit(r->cat, code);
  if (!u) return db__h_problem(w, 404, "code", "unknown org unit '%s'", code);
  json_t *o = db_catalog_object_json("orgunits", u);
  json_object_set_new(o, "level", json_integer(u->level));
  json_t *children = json_array();
  const int64_t *kids;
  size_t n = db_catalog_children(r->cat, (size_t)(u - r->cat->units), &kids);
  for (size_t k = 0; k < n; k++) json_array_append_new(children, json_string(r->cat->units[kids[k]].code));
  json_object_set_new(o, "children", children);
  json_object_set_new(o, "successors", succession_links(r->cat, u->code, 1));
  json_object_set_new(o, "predecessors", succession_links(r->cat, u->code, 0));
  db_resp_json(w, 200, o);
  return 0;
}

/* ---- agencies, dimensions ---- */

int db_h_agencies_list(db_req *r, db_resp *w) {
  object_list l = {"agencies", NULL, 0, 0};
  for (size_t i = 0; i < r->cat->n_agencies; i++) list_push(&l, &r->cat->agencies[i]);
  return answer_list(r, w, &l, NULL);
}

int db_h_dimensions_list(db_req *r, db_resp *w) {
  object_list l = {"dimensions", NULL, 0, 0};
  for (size_t i = 0; i < r->cat->n_dimensions; i++) list_push(&l, &r->cat->dimensions[i]);
  return answer_list(r, w, &l, NULL);
}

/* ---- indicators ---- */

int db_h_indicators_list(db_req *r, db_resp *w) {
  const char *group = db_req_query(r, "group");
  char *q = folded_param(r, "q"), *sector = folded_param(r, "sector");
  object_list l = {"indicators", NULL, 0, 0};
  db_buf scratch = DB_BUF_INIT;
  for (size_t i = 0; i < r->cat->n_indicators; i++) {
    const db_indicator *ind = &r->cat->indicators[i];
    if (!db__h_visible(r, ind)) continue;
    if (group && !db_list_has(ind->groups, group, strlen(group))) continue;
    if (sector && strcmp(fold_into(&scratch, ind->sector), sector) != 0) continue;
    if (q && !folded_contains(ind->code, q, &scratch) && !folded_contains(ind->name, q, &scratch) &&
        !folded_contains(ind->name_en, q, &scratch))
      continue;
    list_push(&l, ind);
  }
  db_buf_free(&scratch);
  db_free(q);
  db_free(sector);
  return answer_list(r, w, &l, NULL);
}

/* The indicator named by path parameter 0 that the caller may see; NULL after answering 404. */
static const db_indicator *visible_indicator(db_req *r, db_resp *w, const char *code, const char *where) {
  const db_indicator *ind = db_catalog_indicator(r->cat, code);
  if (db__h_visible(r, ind)) return ind;
  db__h_problem(w, 404, where, "unknown indicator '%s'", code);
  return NULL;
}

/* The targets of `indicator` (NULL = all) that the caller may see, only those of `orgunit` when it is not
 * NULL: 0 with *out and *n (db_store_targets_free), or the store's error. */
static int visible_targets(const db_req *r, const char *indicator, const char *orgunit, db_target **out,
                           size_t *n) {
  int rc = db_store_load_targets(r->store, indicator, out, n);
  if (rc) return rc;
  size_t kept = 0;
  for (size_t i = 0; i < *n; i++) {
    db_target *t = &(*out)[i];
    if ((orgunit && strcmp(t->orgunit, orgunit) != 0) || !db__h_visible(r, db_catalog_indicator(r->cat, t->indicator)))
      db_target_free(t);
    else
      (*out)[kept++] = *t;
  }
  *n = kept;
  return 0;
}

int db_h_indicator_get(db_req *r, db_resp *w) {
  const db_indicator *ind = visible_indicator(r, w, r->params[0], "code");
  if (!ind) return 0;
  db_target *targets;
  size_t n;
  int rc = visible_targets(r, ind->code, NULL, &targets, &n);
  if (rc) return rc;
  json_t *o = db_catalog_object_json("indicators", ind), *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, db_catalog_object_json("targets", &targets[i]));
  json_object_set_new(o, "targets", arr);
  db_resp_json(w, 200, o);
  db_store_targets_free(targets, n);
  return 0;
}

int db_h_targets_list(db_req *r, db_resp *w) {
  const char *indicator = db_req_query(r, "indicator"), *orgunit = db_req_query(r, "orgunit");
  if (indicator && !visible_indicator(r, w, indicator, "indicator")) return 0;
  if (orgunit && !db_catalog_unit(r->cat, orgunit))
    return db__h_problem(w, 404, "orgunit", "unknown org unit '%s'", orgunit);
  db_target *targets;
  size_t n;
  int rc = visible_targets(r, indicator, orgunit, &targets, &n);
  if (rc) return rc;
  object_list l = {"targets", NULL, 0, 0};
  for (size_t i = 0; i < n; i++) list_push(&l, &targets[i]);
  rc = answer_list(r, w, &l, NULL);
  db_store_targets_free(targets, n);
  return rc;
}

/* ---- writes ---- */

/* Imports a catalog document of `kind` on the writer handle and publishes the new catalog. When the
 * import succeeded and `after` is not NULL, the stored catalog is loaded into it (initialised by the
 * caller). Returns as db_catalog_import_buffer does, or the store's error. */
static int import_locked(db_req *r, const char *kind, const char *data, size_t len, const char *format,
                           db_diag *d, size_t *n, db_catalog *after) {
  db_catalog_import_opts opts = {.format = format, .actor = r->who.name};
  db_store *s = db_app_write_begin(r->app);
  int rc = db_catalog_import_buffer(s, kind, data, len, "api", &opts, d, n);
  if (!rc) rc = db_app_catalog_changed(r->app);
  if (!rc && after) rc = db_store_load_catalog(s, after);
  db_app_write_end(r->app);
  return rc;
}

/* Answers a rejected document: 400 with every problem. */
static void answer_rejected(db_resp *w, const char *kind, const db_diag *d) {
  db_buf detail = DB_BUF_INIT;
  db_diag located = DB_DIAG_INIT;
  db__h_locate(d, &located);
  db_buf_printf(&detail, "the %s document has %zu problem%s; nothing was written", kind, db_diag_total(d),
                db_diag_total(d) == 1 ? "" : "s");
  db_resp_problem(w, 400, "Invalid catalog document", db_buf_str(&detail), &located);
  db_diag_free(&located);
  db_buf_free(&detail);
}

/* POST of a JSON or CSV document of objects of `kind`: 200 {"kind", "imported"}. */
static int post_catalog(db_req *r, db_resp *w, const char *kind) {
  const char *format = db__h_body_format(r, w);
  if (!format) return 0;
  db_diag d = DB_DIAG_INIT;
  size_t n = 0;
  int rc = import_locked(r, kind, r->body, r->body_len, format, &d, &n, NULL);
  if (rc == DB_EINVAL) {
    answer_rejected(w, kind, &d);
    rc = 0;
  } else if (!rc) {
    db_resp_json(w, 200, json_pack("{s:s, s:I}", "kind", kind, "imported", (json_int_t)n));
  }
  db_diag_free(&d);
  return rc;
}

int db_h_orgunits_put(db_req *r, db_resp *w) { return post_catalog(r, w, "orgunits"); }
int db_h_agencies_put(db_req *r, db_resp *w) { return post_catalog(r, w, "agencies"); }
int db_h_indicators_put(db_req *r, db_resp *w) { return post_catalog(r, w, "indicators"); }
int db_h_dimensions_put(db_req *r, db_resp *w) { return post_catalog(r, w, "dimensions"); }
int db_h_targets_put(db_req *r, db_resp *w) { return post_catalog(r, w, "targets"); }

/* The problems of the one-object document "[obj]" with their paths as the caller wrote the object:
 * "$[0].periodicity" becomes "$.periodicity". */
static void rebase_paths(const db_diag *in, db_diag *out) {
  for (size_t i = 0; i < in->count; i++) {
    const db_problem *p = &in->items[i];
    const char *where = p->path;
    db_buf path = DB_BUF_INIT;
    if (where && strncmp(where, "$[0]", 4) == 0) {
      db_buf_printf(&path, "$%s", where + 4);
      where = db_buf_str(&path);
    }
    db_diag_add(out, p->line, p->column, where, p->code, "%s", p->message);
    db_buf_free(&path);
  }
  out->dropped += in->dropped;
}

/* PUT of one indicator as a JSON object; its code is the path's (given in the body or not). Answers the
 * stored indicator: 201 when it is new, 200 when it replaced one. */
int db_h_indicator_put(db_req *r, db_resp *w) {
  const char *code = r->params[0];
  if (!r->content_type || strcasecmp(r->content_type, "application/json") != 0)
    return db__h_problem(w, 415, "Content-Type", "PUT takes one indicator as application/json");
  json_error_t err;
  json_t *obj = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
  db_diag d = DB_DIAG_INIT, rebased = DB_DIAG_INIT;
  int rc = 0;
  if (!obj) {
    db_diag_add(&d, err.line > 0 ? err.line : 1, err.column > 0 ? err.column : 1, NULL, DB_EINVAL,
                "not valid JSON: %s", err.text);
    answer_rejected(w, "indicators", &d);
    goto done;
  }
  if (!json_is_object(obj)) {
    db__h_problem(w, 400, "$", "expected one indicator as a JSON object");
    goto done;
  }
  json_t *given = json_object_get(obj, "code");
  if (given && !(json_is_string(given) && strcmp(json_string_value(given), code) == 0)) {
    db__h_problem(w, 400, "$.code", "the code in the body must be the code of the path ('%s')", code);
    goto done;
  }
  json_object_set_new(obj, "code", json_string(code));
  json_t *doc = json_pack("[O]", obj);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  int existed = db_catalog_indicator(r->cat, code) != NULL;
  db_catalog after;
  db_catalog_init(&after);
  size_t n = 0;
  rc = text ? import_locked(r, "indicators", text, strlen(text), "json", &d, &n, &after) : DB_ENOMEM;
  free(text);
  const db_indicator *stored = rc ? NULL : db_catalog_indicator(&after, code);
  if (rc == DB_EINVAL) {
    rebase_paths(&d, &rebased);
    answer_rejected(w, "indicators", &rebased);
    rc = 0;
  } else if (stored) {
    db_resp_json(w, existed ? 200 : 201, db_catalog_object_json("indicators", stored));
  } else if (!rc) {
    rc = DB_ESTORE; /* imported, yet not in the store */
  }
  db_catalog_free(&after);
done:
  json_decref(obj);
  db_diag_free(&d);
  db_diag_free(&rebased);
  return rc;
}

/* DELETE of an indicator without data: 204; 404 when unknown; 409 when observations were written for
 * it or another indicator is weighted by it. Audited with the deleted indicator as detail. */
int db_h_indicator_delete(db_req *r, db_resp *w) {
  const char *code = r->params[0];
  const db_indicator *ind = db_catalog_indicator(r->cat, code);
  json_t *was = ind ? db_catalog_object_json("indicators", ind) : NULL;
  char *detail = was ? json_dumps(was, JSON_COMPACT) : NULL;
  json_decref(was);
  db_buf object = DB_BUF_INIT;
  db_buf_printf(&object, "indicator:%s", code);
  db_audit audit = {.actor = r->who.name, .action = "catalog.delete", .object = db_buf_str(&object),
                    .detail = detail};
  db_store *s = db_app_write_begin(r->app);
  int rc = db_store_begin(s, 0);
  if (!rc) {
    rc = db_store_delete_indicator(s, code);
    if (!rc) rc = db_store_audit_append(s, &audit);
    if (!rc) rc = db_store_commit(s);
    if (rc) db_store_rollback(s);
  }
  if (!rc) rc = db_app_catalog_changed(r->app);
  db_app_write_end(r->app);
  free(detail);
  db_buf_free(&object);
  if (rc == DB_ENOTFOUND) return db__h_problem(w, 404, "code", "unknown indicator '%s'", code);
  if (rc == DB_ECONFLICT) {
    for (size_t i = 0; i < r->cat->n_indicators; i++) {
      const db_indicator *other = &r->cat->indicators[i];
      if (other->weight && strcmp(other->weight, code) == 0)
        return db__h_problem(w, 409, "code", "indicator %s is the weight of indicator %s: change that first",
                             code, other->code);
    }
    return db__h_problem(w, 409, "code", "indicator %s has data: observations were written for it", code);
  }
  if (!rc) db_resp_text(w, 204, "text/plain", "", 0);
  return rc;
}
