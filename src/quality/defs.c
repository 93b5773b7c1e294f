/* defs.c - the definitions of data quality as files and records: reporting obligations and validation
 * rules read from CSV or JSON (checked against the catalog, all or nothing), written to and read from the
 * store as records, and written back as JSON (formats in quality.h).
 *
 * Both kinds go through one reader: a CSV document becomes a list of JSON objects whose members are the
 * row's fields as strings (each remembering its line), a JSON document is taken as it is; then one
 * function per kind turns an object into a definition, accepting numbers and booleans as JSON values or
 * as text, and locating every problem by line and column name (CSV) or JSON path. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "formula/formula.h"
#include "ingest/csv.h"
#include "quality/quality_int.h"

/* Where an object came from: a CSV line (line > 0) or a JSON index. */
typedef struct loc {
  long line;
  size_t index;
} loc;

/* Adds a problem about `field` of the object at l. */
__attribute__((format(printf, 5, 6))) static int bad(db_diag *d, const loc *l, const char *field, int code,
                                                     const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT, path = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  if (l->line > 0) {
    db_diag_add(d, l->line, 0, field, code, "%s", db_buf_str(&msg));
  } else {
    db_buf_printf(&path, "$[%zu]%s%s", l->index, field ? "." : "", field ? field : "");
    db_diag_add(d, 0, 0, db_buf_str(&path), code, "%s", db_buf_str(&msg));
  }
  db_buf_free(&msg);
  db_buf_free(&path);
  return code;
}

/* ---- documents into objects ---- */

/* A CSV document as an array of objects (all members strings) and the line of each; problems in d. */
static json_t *csv_objects(const char *text, size_t len, long **lines, db_diag *d) {
  db_csv *r;
  if (db_csv_open_mem(text, len, NULL, d, &r) != DB_OK) return NULL;
  json_t *arr = json_array();
  char **names = NULL;
  size_t n_names = 0, cap = 0;
  db_csv_field *f;
  size_t nf;
  long line;
  int got, header = 1;
  while ((got = db_csv_next(r, &f, &nf, &line)) != 0 && got != DB_EIO) {
    if (got != 1) continue;
    if (header) {
      names = db_calloc(nf ? nf : 1, sizeof *names);
      for (size_t i = 0; i < nf; i++) names[i] = db_strndup(f[i].p, f[i].len);
      n_names = nf;
      header = 0;
      continue;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < nf && i < n_names; i++) {
      if (!f[i].len && !f[i].quoted) continue;
      json_object_set_new(o, names[i], json_stringn(f[i].p, f[i].len));
    }
    if (nf > n_names) db_diag_add(d, line, (int)n_names + 1, NULL, DB_EINVAL, "more fields than the header names");
    json_array_append_new(arr, o);
    if (json_array_size(arr) > cap) {
      cap = cap ? 2 * cap : 64;
      *lines = db_realloc(*lines, cap * sizeof **lines);
    }
    (*lines)[json_array_size(arr) - 1] = line;
  }
  if (header) db_diag_add(d, 1, 0, NULL, DB_EINVAL, "the file is empty: a header line is expected");
  for (size_t i = 0; i < n_names; i++) db_free(names[i]);
  db_free(names);
  db_csv_close(r);
  return arr;
}

/* The objects of a document (format "csv" or "json"; JSON: an array, or an object holding one under
 * `member`). Returns a new reference, or NULL with the problem in d. */
static json_t *document_objects(const char *text, size_t len, const char *format, const char *member,
                                long **lines, db_diag *d) {
  if (format && strcmp(format, "csv") == 0) return csv_objects(text, len, lines, d);
  if (!format || strcmp(format, "json") != 0) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "unknown format '%s' (csv or json)", format ? format : "");
    return NULL;
  }
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    db_diag_add(d, je.line, je.column, "$", DB_EINVAL, "not JSON: %s", je.text);
    return NULL;
  }
  json_t *arr = json_is_object(root) ? json_incref(json_object_get(root, member)) : json_incref(root);
  json_decref(root);
  if (!json_is_array(arr)) {
    db_diag_add(d, 0, 0, "$", DB_EINVAL, "expected an array of objects, or {\"%s\": [...]}", member);
    json_decref(arr);
    return NULL;
  }
  return arr;
}

/* ---- member readers (a JSON value or its text) ---- */

/* A member as text: a string, or NULL when absent or null. Non-strings are a problem. */
static const char *member_text(json_t *o, const char *name, const loc *l, int required, db_diag *d, int *err) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v))) {
    if (required) *err = bad(d, l, name, DB_EINVAL, "%s is required", name);
    return NULL;
  }
  if (!json_is_string(v)) {
    *err = bad(d, l, name, DB_EINVAL, "%s must be a string", name);
    return NULL;
  }
  return json_string_value(v);
}

/* A member as a number (a JSON number or its text); dflt when absent. */
static double member_number(json_t *o, const char *name, double dflt, const loc *l, db_diag *d, int *err) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) return dflt;
  double x;
  if (json_is_number(v)) return json_number_value(v);
  if (json_is_string(v) && db_parse_double(json_string_value(v), json_string_length(v), &x) == 0) return x;
  if (json_is_string(v) && !json_string_length(v)) return dflt;
  *err = bad(d, l, name, DB_EINVAL, "%s must be a number", name);
  return dflt;
}

/* A member as a boolean (true/false, or yes/no, true/false, 1/0 as text); dflt when absent. */
static int member_bool(json_t *o, const char *name, int dflt, const loc *l, db_diag *d, int *err) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) return dflt;
  if (json_is_boolean(v)) return json_is_true(v);
  const char *s = json_is_string(v) ? json_string_value(v) : NULL;
  if (s && (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1"))) return 1;
  if (s && (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0"))) return 0;
  if (s && !*s) return dflt;
  *err = bad(d, l, name, DB_EINVAL, "%s must be yes or no", name);
  return dflt;
}

/* Problems for members of o not named in known[]. */
static void unknown_members(json_t *o, const char *const *known, const loc *l, db_diag *d, int *err) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    size_t i = 0;
    while (known[i] && strcmp(known[i], k) != 0) i++;
    if (!known[i]) *err = bad(d, l, k, DB_EINVAL, "unknown field '%s'", k);
  }
}

/* ---- obligations ---- */

static const char *const obligation_fields[] = {"code",     "name", "agency", "indicators", "orgunit", "children",
                                                "deadline", "from", "to",     "id",         NULL};

int db__quality_parse_deadline(const char *s, int *days, int *working) {
  char *end;
  long n = strtol(s, &end, 10);
  if (end == s || n < 0 || n > 366) return DB_EINVAL;
  while (*end == ' ') end++;
  *working = 0;
  if (strncmp(end, "working ", 8) == 0) {
    *working = 1;
    end += 8;
  }
  if (strcmp(end, "days") != 0 && strcmp(end, "day") != 0) return DB_EINVAL;
  *days = (int)n;
  return 0;
}

/* The indicator list of an obligation: a JSON array of codes, or codes separated by ';'. */
static void read_indicators(json_t *o, const loc *l, db_obligation *ob, db_diag *d, int *err) {
  json_t *v = json_object_get(o, "indicators");
  json_t *list = NULL;
  if (json_is_array(v)) list = json_incref(v);
  else if (json_is_string(v)) {
    list = json_array();
    const char *p = json_string_value(v);
    while (*p) {
      const char *e = strchr(p, ';');
      size_t k = e ? (size_t)(e - p) : strlen(p);
      if (k) json_array_append_new(list, json_stringn(p, k));
      p += k + (e != NULL);
    }
  }
  if (!list || !json_array_size(list)) {
    *err = bad(d, l, "indicators", DB_EINVAL, "indicators is required: a list of indicator codes");
    json_decref(list);
    return;
  }
  ob->indicators = db_calloc(json_array_size(list), sizeof *ob->indicators);
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    if (!json_is_string(c)) {
      *err = bad(d, l, "indicators", DB_EINVAL, "indicators[%zu] must be a code", i);
      continue;
    }
    ob->indicators[ob->n_indicators++] = db_strdup(json_string_value(c));
  }
  json_decref(list);
}

/* Checks the indicators against the catalog and sets the periodicity. */
static void check_indicators(const db_catalog *cat, const loc *l, db_obligation *ob, db_diag *d, int *err) {
  for (size_t i = 0; i < ob->n_indicators; i++) {
    const db_indicator *ind = db_catalog_indicator(cat, ob->indicators[i]);
    if (!ind) {
      *err = bad(d, l, "indicators", DB_EINVAL, "unknown indicator '%s'", ob->indicators[i]);
    } else if (ind->formula) {
      *err = bad(d, l, "indicators", DB_EINVAL, "%s is derived from a formula: nobody reports it", ind->code);
    } else if (!ob->periodicity) {
      ob->periodicity = ind->periodicity;
    } else if (ind->periodicity != ob->periodicity) {
      *err = bad(d, l, "indicators", DB_EINVAL, "%s is %s but %s is %s: one obligation has one periodicity",
                 ind->code, db_period_type_name(ind->periodicity), ob->indicators[0],
                 db_period_type_name(ob->periodicity));
    }
    for (size_t k = 0; k < i; k++)
      if (strcmp(ob->indicators[k], ob->indicators[i]) == 0)
        *err = bad(d, l, "indicators", DB_EINVAL, "%s is listed twice", ob->indicators[i]);
  }
}

/* A period member of the obligation's periodicity (type 0 when absent and not required). */
static void read_period(json_t *o, const char *name, int required, const loc *l, db_obligation *ob, db_period *out,
                        db_diag *d, int *err) {
  const char *s = member_text(o, name, l, required, d, err);
  out->type = 0;
  if (!s || !ob->periodicity) return;
  char why[128];
  if (db_period_parse_as(s, strlen(s), ob->periodicity, 0, out, why) != 0) {
    *err = bad(d, l, name, DB_EINVAL, "%s", why);
    out->type = 0;
  }
}

/* One obligation from an object; 0 or DB_EINVAL with problems in d. */
static int obligation_from_json(json_t *o, const loc *l, const db_catalog *cat, db_obligation *ob, db_diag *d) {
  int err = 0;
  memset(ob, 0, sizeof *ob);
  if (!json_is_object(o)) return bad(d, l, NULL, DB_EINVAL, "an obligation is a JSON object");
  unknown_members(o, obligation_fields, l, d, &err);
  const char *code = member_text(o, "code", l, 1, d, &err);
  const char *agency = member_text(o, "agency", l, 1, d, &err);
  const char *unit = member_text(o, "orgunit", l, 1, d, &err);
  const char *deadline = member_text(o, "deadline", l, 1, d, &err);
  const char *name = member_text(o, "name", l, 0, d, &err);
  ob->code = db_strdup(code);
  ob->name = db_strdup(name);
  ob->agency = db_strdup(agency);
  ob->orgunit = db_strdup(unit);
  if (code && !db__quality_code_ok(code))
    err = bad(d, l, "code", DB_EINVAL, "code '%s' must be 1 to 64 of A-Z a-z 0-9 _ - .", code);
  if (agency && !db_catalog_agency(cat, agency)) err = bad(d, l, "agency", DB_EINVAL, "unknown agency '%s'", agency);
  if (unit && !db_catalog_unit(cat, unit)) err = bad(d, l, "orgunit", DB_EINVAL, "unknown org unit '%s'", unit);
  if (deadline && db__quality_parse_deadline(deadline, &ob->deadline_days, &ob->deadline_working) != 0)
    err = bad(d, l, "deadline", DB_EINVAL, "deadline '%s' is not 'N days' or 'N working days' (N 0..366)", deadline);
  ob->children = member_bool(o, "children", 0, l, d, &err);
  read_indicators(o, l, ob, d, &err);
  check_indicators(cat, l, ob, d, &err);
  read_period(o, "from", 1, l, ob, &ob->from, d, &err);
  read_period(o, "to", 0, l, ob, &ob->to, d, &err);
  if (ob->from.type && ob->to.type && db_period_compare(&ob->from, &ob->to) > 0)
    err = bad(d, l, "to", DB_EINVAL, "to is before from");
  return err ? DB_EINVAL : 0;
}

/* Frees what one obligation holds (not the obligation itself). */
static void obligation_clear(void *item) {
  db_obligation *o = item;
  db_free(o->code);
  db_free(o->name);
  db_free(o->agency);
  db_free(o->orgunit);
  for (size_t k = 0; k < o->n_indicators; k++) db_free(o->indicators[k]);
  db_free(o->indicators);
}

void db_obligations_free(db_obligation *o, size_t n) {
  for (size_t i = 0; o && i < n; i++) obligation_clear(&o[i]);
  db_free(o);
}

/* ---- rules ---- */

static const char *const rule_fields[] = {"code", "name", "formula", "tolerance", "importance", "enabled", "id", NULL};

static int rule_from_json(json_t *o, const loc *l, const db_catalog *cat, db_rule *r, db_diag *d) {
  int err = 0;
  memset(r, 0, sizeof *r);
  if (!json_is_object(o)) return bad(d, l, NULL, DB_EINVAL, "a rule is a JSON object");
  unknown_members(o, rule_fields, l, d, &err);
  const char *code = member_text(o, "code", l, 1, d, &err);
  const char *formula = member_text(o, "formula", l, 1, d, &err);
  const char *imp = member_text(o, "importance", l, 0, d, &err);
  r->code = db_strdup(code);
  r->name = db_strdup(member_text(o, "name", l, 0, d, &err));
  r->formula = db_strdup(formula);
  r->tolerance = member_number(o, "tolerance", 0, l, d, &err);
  r->enabled = member_bool(o, "enabled", 1, l, d, &err);
  r->importance = DB_IMP_WARNING;
  if (code && !db__quality_code_ok(code))
    err = bad(d, l, "code", DB_EINVAL, "code '%s' must be 1 to 64 of A-Z a-z 0-9 _ - .", code);
  if (imp && db_importance_parse(imp, &r->importance) != 0)
    err = bad(d, l, "importance", DB_EINVAL, "importance '%s' is not one of info, warning, error, critical", imp);
  if (!isfinite(r->tolerance) || r->tolerance < 0)
    err = bad(d, l, "tolerance", DB_EINVAL, "tolerance must be a number >= 0");
  if (formula) {
    db__rule_compiled c;
    db_diag fd = DB_DIAG_INIT;
    if (db__rule_compile(r, cat, &c, &fd) != 0) {
      for (size_t i = 0; i < fd.count; i++) {
        db_buf m = DB_BUF_INIT;
        db_formula_describe(&fd.items[i], &m);
        err = bad(d, l, "formula", DB_EINVAL, "%s", db_buf_str(&m));
        db_buf_free(&m);
      }
      if (!fd.count) err = bad(d, l, "formula", DB_EINVAL, "the formula does not compile");
    } else {
      db__rule_compiled_free(&c);
    }
    db_diag_free(&fd);
  }
  return err ? DB_EINVAL : 0;
}

/* Frees what one rule holds. */
static void rule_clear(void *item) {
  db_rule *r = item;
  db_free(r->code);
  db_free(r->name);
  db_free(r->formula);
}

void db_rules_free(db_rule *r, size_t n) {
  for (size_t i = 0; r && i < n; i++) rule_clear(&r[i]);
  db_free(r);
}

/* ---- shared reading, saving and loading ---- */

typedef int (*from_json_fn)(json_t *o, const loc *l, const db_catalog *cat, void *item, db_diag *d);

/* Reads every object of a document with one kind's from_json into an array of items of `size` bytes;
 * codes must be unique (the code is the item's second field, after the id). */
static int read_defs(const char *text, size_t len, const char *format, const char *member, const db_catalog *cat,
                     from_json_fn from_json, size_t size, void **out, size_t *n, db_diag *d) {
  *out = NULL;
  *n = 0;
  long *lines = NULL;
  size_t before = db_diag_total(d);
  json_t *arr = document_objects(text, len, format, member, &lines, d);
  if (!arr) {
    db_free(lines);
    return DB_EINVAL;
  }
  size_t count = json_array_size(arr);
  char *items = db_calloc(count ? count : 1, size);
  db_map codes = DB_MAP_INIT;
  for (size_t i = 0; i < count; i++) {
    loc l = {lines ? lines[i] : 0, i};
    void *item = items + i * size;
    from_json(json_array_get(arr, i), &l, cat, item, d);
    const char *code = *(char **)((char *)item + sizeof(int64_t));
    int64_t first;
    if (code && db_map_gets(&codes, code, &first))
      bad(d, &l, "code", DB_EINVAL, "code %s is already used by %s %lld", code, lines ? "line" : "item",
          (long long)first);
    else if (code)
      db_map_puts(&codes, code, lines ? lines[i] : (int64_t)i);
  }
  db_map_free(&codes);
  json_decref(arr);
  db_free(lines);
  *out = items;
  *n = count;
  return db_diag_total(d) > before ? DB_EINVAL : 0;
}

static int obligation_cb(json_t *o, const loc *l, const db_catalog *cat, void *item, db_diag *d) {
  return obligation_from_json(o, l, cat, item, d);
}
static int rule_cb(json_t *o, const loc *l, const db_catalog *cat, void *item, db_diag *d) {
  return rule_from_json(o, l, cat, item, d);
}

int db_obligations_read(const char *text, size_t len, const char *format, const db_catalog *cat,
                        db_obligation **out, size_t *n, db_diag *d) {
  void *items;
  int rc = read_defs(text, len, format, "obligations", cat, obligation_cb, sizeof **out, &items, n, d);
  if (rc) {
    db_obligations_free(items, *n);
    *n = 0;
    items = NULL;
  }
  *out = items;
  return rc;
}

int db_rules_read(const char *text, size_t len, const char *format, const db_catalog *cat, db_rule **out,
                  size_t *n, db_diag *d) {
  void *items;
  int rc = read_defs(text, len, format, "rules", cat, rule_cb, sizeof **out, &items, n, d);
  if (rc) {
    db_rules_free(items, *n);
    *n = 0;
    items = NULL;
  }
  *out = items;
  return rc;
}

/* Upserts one definition record of `kind` by its code; sets *id. */
static int save_def(db_store *s, const char *kind, const char *code, char *body, int64_t *id) {
  db_record old;
  db_record r = {.kind = kind, .key = code, .body = body};
  int rc = db_store_record_get(s, kind, 0, code, &old);
  if (rc == 0) {
    r.id = old.id;
    db_record_free(&old);
  } else if (rc != DB_ENOTFOUND) {
    db_free(body);
    return rc;
  }
  rc = db_store_record_put(s, &r, 0);
  if (!rc) *id = r.id;
  db_free(body);
  return rc;
}

int db_obligations_save(db_store *s, db_obligation *o, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = save_def(s, DB_OBLIGATION_KIND, o[i].code, db_obligation_json(&o[i]), &o[i].id);
  return rc;
}

int db_rules_save(db_store *s, db_rule *r, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = save_def(s, DB_RULE_KIND, r[i].code, db_rule_json(&r[i]), &r[i].id);
  return rc;
}

/* Loading: every record of a kind parsed with from_json; those that no longer check are skipped. */
typedef struct load_ctx {
  const db_catalog *cat;
  from_json_fn from_json;
  size_t size;
  char *items;
  size_t n, cap;
  void (*free_one)(void *item);
} load_ctx;

static int load_one(void *ctx, const db_record *r) {
  load_ctx *lc = ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  if (lc->n == lc->cap) {
    lc->cap = lc->cap ? 2 * lc->cap : 16;
    lc->items = db_realloc(lc->items, lc->cap * lc->size);
  }
  void *item = lc->items + lc->n * lc->size;
  db_diag d = DB_DIAG_INIT;
  loc l = {0, 0};
  if (o && lc->from_json(o, &l, lc->cat, item, &d) == 0) {
    *(int64_t *)item = r->id;
    lc->n++;
  } else {
    lc->free_one(item);
  }
  db_diag_free(&d);
  json_decref(o);
  return 0;
}

static int load_defs(db_store *s, const char *kind, load_ctx *lc, void **out, size_t *n) {
  int rc = db_store_record_scan(s, kind, load_one, lc);
  *out = lc->items;
  *n = lc->n;
  return rc;
}

int db_obligations_load(db_store *s, const db_catalog *cat, db_obligation **out, size_t *n) {
  load_ctx lc = {cat, obligation_cb, sizeof **out, NULL, 0, 0, obligation_clear};
  void *items;
  int rc = load_defs(s, DB_OBLIGATION_KIND, &lc, &items, n);
  *out = items;
  return rc;
}

int db_rules_load(db_store *s, const db_catalog *cat, db_rule **out, size_t *n) {
  load_ctx lc = {cat, rule_cb, sizeof **out, NULL, 0, 0, rule_clear};
  void *items;
  int rc = load_defs(s, DB_RULE_KIND, &lc, &items, n);
  *out = items;
  return rc;
}

/* ---- JSON out ---- */

static json_t *period_json(const db_period *p) {
  if (!p->type) return json_null();
  char code[DB_PERIOD_CODE_MAX];
  db_period_format(p, code);
  return json_string(code);
}

json_t *db__obligation_to_json(const db_obligation *o) {
  json_t *inds = json_array();
  for (size_t i = 0; i < o->n_indicators; i++) json_array_append_new(inds, json_string(o->indicators[i]));
  char deadline[48];
  snprintf(deadline, sizeof deadline, "%d %sday%s", o->deadline_days, o->deadline_working ? "working " : "",
           o->deadline_days == 1 ? "" : "s");
  json_t *j = json_pack("{s:s, s:s?, s:s, s:o, s:s, s:b, s:s, s:o, s:o, s:s}", "code", o->code, "name", o->name,
                        "agency", o->agency, "indicators", inds, "orgunit", o->orgunit, "children", o->children,
                        "deadline", deadline, "from", period_json(&o->from), "to", period_json(&o->to),
                        "periodicity", db_period_type_name(o->periodicity));
  if (o->id) json_object_set_new(j, "id", json_integer(o->id));
  return j;
}

char *db_obligation_json(const db_obligation *o) {
  json_t *j = db__obligation_to_json(o);
  json_object_del(j, "id");
  json_object_del(j, "periodicity");
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  char *out = db_strdup(s);
  free(s);
  return out;
}

json_t *db__rule_to_json(const db_rule *r) {
  json_t *j = json_pack("{s:s, s:s?, s:s, s:f, s:s, s:b}", "code", r->code, "name", r->name, "formula", r->formula,
                        "tolerance", r->tolerance, "importance", db_importance_name(r->importance), "enabled",
                        r->enabled);
  if (r->id) json_object_set_new(j, "id", json_integer(r->id));
  return j;
}

char *db_rule_json(const db_rule *r) {
  json_t *j = db__rule_to_json(r);
  json_object_del(j, "id");
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  char *out = db_strdup(s);
  free(s);
  return out;
}

/* ---- names ---- */

static const char *const importance_names[] = {NULL, "info", "warning", "error", "critical"};

const char *db_importance_name(db_importance i) {
  return i >= DB_IMP_INFO && i <= DB_IMP_CRITICAL ? importance_names[i] : "?";
}

int db_importance_parse(const char *s, db_importance *out) {
  for (int i = DB_IMP_INFO; i <= DB_IMP_CRITICAL; i++)
    if (strcmp(s, importance_names[i]) == 0) {
      *out = (db_importance)i;
      return 0;
    }
  return DB_EINVAL;
}

int db__quality_code_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return 0;
  }
  return 1;
}
