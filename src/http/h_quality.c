/* h_quality.c - the routes of data supply and quality (routes_quality.def) over quality/quality.h:
 *   GET  /api/v1/quality/completeness, /timeliness   figures by=agency|obligation|orgunit|indicator|group|
 *        period (filters agency, orgunit, group, indicator, from, to, as_of); /timeliness?status=late|
 *        overdue|due|on_time lists those submissions instead;
 *   GET  /api/v1/quality/scorecards   per agency and per ward for one month (period), ranked;
 *   GET  /api/v1/quality/reminders?agency=   what the agency owes: overdue and due cells with deadlines;
 *   GET  /api/v1/quality/violations   (status open|resolved|all, rule, orgunit, period, importance);
 *   GET  /api/v1/quality/outliers     seasonal robust z-scores (indicator, group or agency; orgunit or
 *        children_of; from, to; threshold);
 *   GET/POST /api/v1/quality/obligations, /api/v1/quality/rules (JSON or CSV bodies, all or nothing);
 *   POST /api/v1/quality/unit-checks  a unit attribute file (CSV) checked, nothing written;
 *   GET/POST /api/v1/approvals;  GET/POST /api/v1/calendar (CSV body).
 * Every list answers JSON, or CSV (Accept: text/csv or format=csv) with one row per item. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/h_util.h"
#include "http/handlers.h"
#include "http/http_int.h"
#include "ingest/calendar_import.h"
#include "quality/quality.h"

#define MAX_OUTLIER_CELLS 5000000
#define MAX_LIST 10000

/* ---- answers ---- */

/* Answers doc as JSON, or its array `list` as CSV (columns: the members of the first item). */
static int answer(db_req *r, db_resp *w, json_t *doc, const char *list) {
  if (strcmp(db_req_format(r), "csv") != 0) {
    db_resp_json(w, 200, doc);
    return 0;
  }
  json_t *arr = json_object_get(doc, list);
  db_buf b = DB_BUF_INIT;
  json_t *first = json_array_get(arr, 0);
  const char *k;
  json_t *v;
  int col = 0;
  json_object_foreach(first, k, v) {
    if (col++) db_buf_putc(&b, ',');
    db_buf_csv_field(&b, k);
  }
  db_buf_putc(&b, '\n');
  size_t i;
  json_t *item;
  json_array_foreach(arr, i, item) {
    col = 0;
    json_object_foreach(first, k, v) {
      json_t *x = json_object_get(item, k);
      if (col++) db_buf_putc(&b, ',');
      if (json_is_string(x)) db_buf_csv_field(&b, json_string_value(x));
      else if (json_is_integer(x)) db_buf_printf(&b, "%lld", (long long)json_integer_value(x));
      else if (json_is_real(x)) db_buf_double(&b, json_real_value(x));
      else if (json_is_boolean(x)) db_buf_puts(&b, json_is_true(x) ? "true" : "false");
      else if (x && !json_is_null(x)) {
        char *s = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
        db_buf_csv_field(&b, s);
        free(s);
      }
    }
    db_buf_putc(&b, '\n');
  }
  db_resp_text(w, 200, DB__H_CSV, db_buf_str(&b), b.len);
  db_buf_free(&b);
  json_decref(doc);
  return 0;
}

static json_t *ratio(double x) { return isnan(x) ? json_null() : json_real(round(x * 10000) / 10000); }

static json_t *date_json(int64_t day) {
  char s[11];
  db_format_date(day, s);
  return json_string(s);
}

static json_t *time_json(int64_t ms) {
  if (!ms) return json_null();
  char s[25];
  db_format_time_ms(ms, s);
  return json_string(s);
}

/* ---- the supply computation shared by completeness, timeliness, scorecards and reminders ---- */

typedef struct supply {
  db_obligation *ob;
  size_t n_ob;
  db_supply_cell *cells;
  size_t n;
  int64_t as_of;
} supply;

static void supply_free(supply *s) {
  db_obligations_free(s->ob, s->n_ob);
  db_free(s->cells);
}

/* A period query parameter (any type) into *out (type 0 when absent); 0, or answers 400 and returns 1. */
static int period_param(db_req *r, db_resp *w, const char *name, db_period *out) {
  const char *s = db_req_query(r, name);
  char why[128];
  out->type = 0;
  if (!s) return 0;
  if (db_period_parse(s, strlen(s), out, why) == 0) return 0;
  db__h_problem(w, 400, name, "%s", why);
  return 1;
}

/* Reads the filters and computes the cells; 0 when computed, 1 when answered (bad input), or an error. */
static int supply_compute(db_req *r, db_resp *w, supply *out) {
  memset(out, 0, sizeof *out);
  db_supply_filter f = {db_req_query(r, "agency"), db_req_query(r, "orgunit"), db_req_query(r, "group"),
                        db_req_query(r, "indicator"), {0}, {0}};
  if (period_param(r, w, "from", &f.from) || period_param(r, w, "to", &f.to)) return 1;
  out->as_of = db_now_ms();
  const char *as_of = db_req_query(r, "as_of");
  if (as_of && db_parse_time_ms(as_of, &out->as_of) != 0) {
    db__h_problem(w, 400, "as_of", "'%s' is not an RFC 3339 time (2025-08-10T00:00:00+07:00)", as_of);
    return 1;
  }
  db_calendar *cal = db_calendar_new();
  int err = db_obligations_load(r->store, r->cat, &out->ob, &out->n_ob);
  if (!err) err = db_calendar_load(r->store, cal);
  if (!err) err = db_supply_cells(r->store, r->cat, cal, out->ob, out->n_ob, &f, out->as_of, &out->cells, &out->n);
  if (!err) err = db_supply_mark_invalid(r->store, r->cat, out->cells, out->n);
  db_calendar_free(cal);
  if (err) supply_free(out);
  return err;
}

static json_t *row_json(const db_supply_row *row, const char *key_name) {
  return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", key_name, row->key,
                   "expected", (json_int_t)row->expected, "received", (json_int_t)row->received, "on_time",
                   (json_int_t)row->on_time, "late", (json_int_t)row->late, "missing", (json_int_t)row->missing,
                   "invalid", (json_int_t)row->invalid, "pending", (json_int_t)row->pending, "completeness",
                   ratio(row->completeness), "timeliness", ratio(row->timeliness), "validity",
                   ratio(row->validity), "score", isnan(row->score) ? json_null() : json_real(round(row->score * 100) / 100),
                   "rank", row->rank ? json_integer(row->rank) : json_null());
}

static json_t *rows_json(const db_catalog *cat, const supply *s, const db_supply_cell *cells, size_t n,
                         db_supply_by by, const char *key_name) {
  db_supply_row *rows;
  size_t nr;
  db_supply_aggregate(cat, s->ob, cells, n, by, &rows, &nr);
  json_t *arr = json_array();
  for (size_t i = 0; i < nr; i++) json_array_append_new(arr, row_json(&rows[i], key_name));
  db_supply_rows_free(rows, nr);
  return arr;
}

static json_t *cell_json(const db_catalog *cat, const supply *s, const db_supply_cell *c) {
  char code[DB_PERIOD_CODE_MAX];
  db_period_format(&c->period, code);
  const db_obligation *ob = &s->ob[c->obligation];
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:b}", "agency", ob->agency, "obligation", ob->code,
                   "indicator", cat->indicators[c->indicator].code, "orgunit", cat->units[c->unit].code, "period",
                   code, "deadline", date_json(c->deadline_day), "received", time_json(c->received_ms), "state",
                   db_cell_state_name(c->state), "days_late", (json_int_t)c->days_late, "invalid", c->invalid);
}

/* GET completeness and timeliness: figures by a key, or (timeliness with status) the submissions. */
static int supply_route(db_req *r, db_resp *w, int timeliness) {
  const char *by_text = db_req_query(r, "by");
  db_supply_by by = DB_BY_AGENCY;
  if (by_text && db_supply_by_parse(by_text, &by) != 0)
    return db__h_problem(w, 400, "by", "by is one of agency, obligation, orgunit, indicator, group, period");
  const char *status = timeliness ? db_req_query(r, "status") : NULL;
  db_cell_state want = 0;
  for (int k = DB_CELL_ON_TIME; status && k <= DB_CELL_DUE; k++)
    if (strcmp(status, db_cell_state_name((db_cell_state)k)) == 0) want = (db_cell_state)k;
  if (status && !want) return db__h_problem(w, 400, "status", "status is one of on_time, late, overdue, due");
  supply s;
  int rc = supply_compute(r, w, &s);
  if (rc) return rc == 1 ? 0 : rc;
  json_t *doc = json_pack("{s:o}", "as_of", time_json(s.as_of));
  if (want) {
    json_t *list = json_array();
    for (size_t i = 0; i < s.n && json_array_size(list) < MAX_LIST; i++)
      if (s.cells[i].state == want) json_array_append_new(list, cell_json(r->cat, &s, &s.cells[i]));
    json_object_set_new(doc, "submissions", list);
  } else {
    json_object_set_new(doc, "by", json_string(by_text ? by_text : "agency"));
    json_object_set_new(doc, "rows", rows_json(r->cat, &s, s.cells, s.n, by, "key"));
  }
  supply_free(&s);
  return answer(r, w, doc, want ? "submissions" : "rows");
}

int db_h_quality_completeness(db_req *r, db_resp *w) { return supply_route(r, w, 0); }
int db_h_quality_timeliness(db_req *r, db_resp *w) { return supply_route(r, w, 1); }

/* The month in which a cell's period ends. */
static int64_t end_month(const db_supply_cell *c) {
  return db_period_at(DB_PT_MONTH, 0, db_period_end_ms(&c->period) - 1).ord;
}

int db_h_quality_scorecards(db_req *r, db_resp *w) {
  db_period month = {0};
  const char *p = db_req_query(r, "period");
  char why[128];
  if (p && db_period_parse_as(p, strlen(p), DB_PT_MONTH, 0, &month, why) != 0)
    return db__h_problem(w, 400, "period", "%s", why);
  supply s;
  int rc = supply_compute(r, w, &s);
  if (rc) return rc == 1 ? 0 : rc;
  if (!p) { /* the latest month with owed cells */
    month = (db_period){DB_PT_MONTH, 0, 0};
    for (size_t i = 0; i < s.n; i++)
      if (s.cells[i].owed && end_month(&s.cells[i]) > month.ord) month.ord = end_month(&s.cells[i]);
  }
  size_t k = 0;
  for (size_t i = 0; i < s.n; i++)
    if (end_month(&s.cells[i]) == month.ord) s.cells[k++] = s.cells[i];
  char code[DB_PERIOD_CODE_MAX] = "";
  if (month.ord) db_period_format(&month, code);
  json_t *wards = rows_json(r->cat, &s, s.cells, k, DB_BY_ORGUNIT, "orgunit");
  json_t *agencies = rows_json(r->cat, &s, s.cells, k, DB_BY_AGENCY, "agency");
  json_t *doc = json_pack("{s:s, s:o, s:o, s:o}", "period", code, "as_of", time_json(s.as_of), "agencies", agencies,
                          "wards", wards);
  supply_free(&s);
  const char *which = db_req_query(r, "of");
  return answer(r, w, doc, which && strcmp(which, "wards") == 0 ? "wards" : "agencies");
}

int db_h_quality_reminders(db_req *r, db_resp *w) {
  const char *agency = db_req_query(r, "agency");
  if (!agency) return db__h_problem(w, 400, "agency", "agency is required");
  if (!db_catalog_agency(r->cat, agency)) return db__h_problem(w, 404, "agency", "unknown agency '%s'", agency);
  supply s;
  int rc = supply_compute(r, w, &s);
  if (rc) return rc == 1 ? 0 : rc;
  json_t *overdue = json_array(), *due = json_array();
  for (size_t i = 0; i < s.n; i++) {
    json_t *list = s.cells[i].state == DB_CELL_OVERDUE ? overdue : s.cells[i].state == DB_CELL_DUE ? due : NULL;
    if (list && json_array_size(list) < MAX_LIST) json_array_append_new(list, cell_json(r->cat, &s, &s.cells[i]));
  }
  json_t *doc = json_pack("{s:s, s:o, s:I, s:I, s:o, s:o}", "agency", agency, "as_of", time_json(s.as_of), "n_overdue",
                          (json_int_t)json_array_size(overdue), "n_due", (json_int_t)json_array_size(due), "overdue",
                          overdue, "due", due);
  supply_free(&s);
  json_t *all = json_array();
  json_array_extend(all, json_object_get(doc, "overdue"));
  json_array_extend(all, json_object_get(doc, "due"));
  json_object_set_new(doc, "submissions", all);
  return answer(r, w, doc, "submissions");
}

/* ---- violations and approvals (records) ---- */

typedef struct list_ctx {
  db_req *r;
  json_t *list;
} list_ctx;

static int violation_item(void *ctx, const db_record *rec) {
  list_ctx *lc = ctx;
  json_t *b = json_loads(rec->body, 0, NULL);
  if (!json_is_object(b)) goto skip;
  const char *status = db_req_query(lc->r, "status");
  const char *want[] = {"rule", "orgunit", "period"};
  for (size_t i = 0; i < 3; i++) {
    const char *q = db_req_query(lc->r, want[i]);
    const char *v = json_string_value(json_object_get(b, want[i]));
    if (q && (!v || strcmp(q, v) != 0)) goto skip;
  }
  const char *st = json_string_value(json_object_get(b, "status"));
  if (!(status && strcmp(status, "all") == 0) && strcmp(st ? st : "", status ? status : "open") != 0) goto skip;
  const char *min = db_req_query(lc->r, "importance");
  db_importance lo = DB_IMP_INFO, imp = DB_IMP_INFO;
  if (min) db_importance_parse(min, &lo);
  const char *iname = json_string_value(json_object_get(b, "importance"));
  if (iname) db_importance_parse(iname, &imp);
  if (imp < lo) goto skip;
  json_object_set_new(b, "id", json_integer(rec->id));
  json_array_append(lc->list, b);
skip:
  json_decref(b);
  return json_array_size(lc->list) >= MAX_LIST;
}

int db_h_quality_violations(db_req *r, db_resp *w) {
  const char *status = db_req_query(r, "status"), *imp = db_req_query(r, "importance");
  db_importance x;
  if (status && strcmp(status, "open") && strcmp(status, "resolved") && strcmp(status, "all"))
    return db__h_problem(w, 400, "status", "status is one of open, resolved, all");
  if (imp && db_importance_parse(imp, &x) != 0)
    return db__h_problem(w, 400, "importance", "importance is one of info, warning, error, critical");
  list_ctx lc = {r, json_array()};
  int err = db_store_record_scan(r->store, DB_VIOLATION_KIND, violation_item, &lc);
  if (err) {
    json_decref(lc.list);
    return err;
  }
  return answer(r, w, json_pack("{s:o}", "violations", lc.list), "violations");
}

static int approval_item(void *ctx, const db_record *rec) {
  list_ctx *lc = ctx;
  json_t *b = json_loads(rec->body, 0, NULL);
  if (json_is_object(b)) {
    json_object_set_new(b, "id", json_integer(rec->id));
    json_object_set_new(b, "cells", json_integer((json_int_t)json_array_size(json_object_get(b, "cells"))));
    json_object_set_new(b, "approved", time_json(json_integer_value(json_object_get(b, "approved_ms"))));
    json_object_del(b, "approved_ms");
    json_array_append(lc->list, b);
  }
  json_decref(b);
  return 0;
}

int db_h_approvals_list(db_req *r, db_resp *w) {
  list_ctx lc = {r, json_array()};
  int err = db_store_record_scan(r->store, DB_APPROVAL_KIND, approval_item, &lc);
  if (err) {
    json_decref(lc.list);
    return err;
  }
  return answer(r, w, json_pack("{s:o}", "approvals", lc.list), "approvals");
}

int db_h_approvals_post(db_req *r, db_resp *w) {
  json_t *b = db__h_json_body(r, w, 1, NULL); /* {group, orgunit, period, note} */
  if (!b) return 0;
  db_diag d = DB_DIAG_INIT;
  db_approval_result res;
  db_store *s = db_app_write_begin(r->app);
  int err = db_quality_approve(s, r->cat, json_string_value(json_object_get(b, "group")),
                               json_string_value(json_object_get(b, "orgunit")),
                               json_string_value(json_object_get(b, "period")), r->who.name,
                               json_string_value(json_object_get(b, "note")), db_now_ms(), &res, &d);
  db_app_write_end(r->app);
  json_decref(b);
  if (err == DB_EINVAL || err == DB_ENOTFOUND) {
    db_resp_problem(w, err == DB_EINVAL ? 400 : 404, err == DB_EINVAL ? "Invalid approval" : "Nothing to approve",
                    d.count ? d.items[0].message : db_strerror(err), &d);
    err = 0;
  } else if (!err) {
    db_resp_json(w, 201, json_pack("{s:I, s:I, s:I, s:I, s:s}", "id", (json_int_t)res.id, "seq", (json_int_t)res.seq,
                                   "cells", (json_int_t)res.cells, "changed", (json_int_t)res.changed, "approved_by",
                                   r->who.name));
  }
  db_diag_free(&d);
  return err;
}

/* ---- obligations and rules ---- */

/* A definition's JSON text (owned, consumed) as an object with its id. */
static json_t *def_json(char *text, int64_t id) {
  json_t *j = json_loads(text, 0, NULL);
  db_free(text);
  if (id) json_object_set_new(j, "id", json_integer(id));
  return j;
}

int db_h_obligations_list(db_req *r, db_resp *w) {
  db_obligation *ob;
  size_t n;
  int err = db_obligations_load(r->store, r->cat, &ob, &n);
  if (err) return err;
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(list, def_json(db_obligation_json(&ob[i]), ob[i].id));
  db_obligations_free(ob, n);
  return answer(r, w, json_pack("{s:o}", "obligations", list), "obligations");
}

int db_h_rules_quality_list(db_req *r, db_resp *w) {
  db_rule *rules;
  size_t n;
  int err = db_rules_load(r->store, r->cat, &rules, &n);
  if (err) return err;
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(list, def_json(db_rule_json(&rules[i]), rules[i].id));
  db_rules_free(rules, n);
  return answer(r, w, json_pack("{s:o}", "rules", list), "rules");
}

/* Answers the problems of a definitions document. */
static int answer_invalid(db_resp *w, const db_diag *d, const char *what) {
  db_diag located = DB_DIAG_INIT;
  db__h_locate(d, &located);
  db_buf detail = DB_BUF_INIT;
  db_buf_printf(&detail, "the %s have %zu problem%s; nothing was written", what, db_diag_total(d),
                db_diag_total(d) == 1 ? "" : "s");
  db_resp_problem(w, 400, "Invalid definitions", db_buf_str(&detail), &located);
  db_buf_free(&detail);
  db_diag_free(&located);
  return 0;
}

/* Writes definitions and their audit record in one transaction on the writer. */
static int save_audited(db_req *r, int is_rule, void *items, size_t n) {
  db_store *s = db_app_write_begin(r->app);
  int err = db_store_begin(s, 0);
  if (!err) err = is_rule ? db_rules_save(s, items, n) : db_obligations_save(s, items, n);
  if (!err) {
    char detail[64];
    snprintf(detail, sizeof detail, "{\"count\":%zu}", n);
    db_audit a = {0, r->who.name, is_rule ? "quality.rules" : "quality.obligations", "api", detail};
    err = db_store_audit_append(s, &a);
  }
  if (!err) err = db_store_commit(s);
  else db_store_rollback(s);
  if (!err && is_rule) { /* judge the new rules on the data already there */
    const db_cube_version *v;
    db_derive *e;
    db_snapshot *snap = db_app_snapshot_acquire(r->app, &v, &e);
    db_rule *rules = items;
    for (size_t i = 0; i < n && !err; i++) {
      db_check_stats st;
      db_diag d = DB_DIAG_INIT;
      err = db_rules_check(s, &snap->cat, e, v, NULL, 0, rules[i].code, 0, db_now_ms(), &st, &d);
      db_diag_free(&d);
    }
    db_app_snapshot_release(snap, v);
  }
  db_app_write_end(r->app);
  return err;
}

int db_h_obligations_post(db_req *r, db_resp *w) {
  const char *format = db__h_body_format(r, w);
  if (!format) return 0;
  db_diag d = DB_DIAG_INIT;
  db_obligation *ob;
  size_t n;
  int err = db_obligations_read(r->body, r->body_len, format, r->cat, &ob, &n, &d);
  if (err == DB_EINVAL) err = answer_invalid(w, &d, "obligations");
  else if (!err && !(err = save_audited(r, 0, ob, n))) {
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, def_json(db_obligation_json(&ob[i]), ob[i].id));
    db_resp_json(w, 200, json_pack("{s:I, s:o}", "saved", (json_int_t)n, "obligations", list));
  }
  db_obligations_free(ob, n);
  db_diag_free(&d);
  return err;
}

int db_h_rules_quality_post(db_req *r, db_resp *w) {
  const char *format = db__h_body_format(r, w);
  if (!format) return 0;
  db_diag d = DB_DIAG_INIT;
  db_rule *rules;
  size_t n;
  int err = db_rules_read(r->body, r->body_len, format, r->cat, &rules, &n, &d);
  if (err == DB_EINVAL) err = answer_invalid(w, &d, "rules");
  else if (!err && !(err = save_audited(r, 1, rules, n))) {
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, def_json(db_rule_json(&rules[i]), rules[i].id));
    db_resp_json(w, 200, json_pack("{s:I, s:o}", "saved", (json_int_t)n, "rules", list));
  }
  db_rules_free(rules, n);
  db_diag_free(&d);
  return err;
}

/* ---- outliers ---- */

/* The indicators asked for (catalog indices): indicator codes, else those of a group or an agency. */
static size_t outlier_indicators(db_req *r, int64_t *out) {
  const char *codes = db_req_query(r, "indicator"), *group = db_req_query(r, "group"),
             *agency = db_req_query(r, "agency");
  size_t n = 0;
  for (size_t i = 0; i < r->cat->n_indicators; i++) {
    const db_indicator *ind = &r->cat->indicators[i];
    int take = 0;
    if (codes) {
      size_t len = strlen(ind->code);
      for (const char *p = codes; p && *p && !take;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        take = k == len && memcmp(p, ind->code, len) == 0;
        p = end ? end + 1 : NULL;
      }
    } else if (group) {
      char pat[128];
      snprintf(pat, sizeof pat, ";%s;", group);
      db_buf g = DB_BUF_INIT;
      db_buf_printf(&g, ";%s;", ind->groups ? ind->groups : "");
      take = strstr(db_buf_str(&g), pat) != NULL;
      db_buf_free(&g);
    } else if (agency) {
      take = ind->owner && strcmp(ind->owner, agency) == 0;
    }
    if (take && !ind->formula && db__h_visible(r, ind)) out[n++] = (int64_t)i;
  }
  return n;
}

/* The units asked for: orgunit codes (comma-separated), or the children of children_of. */
static size_t outlier_units(db_req *r, int64_t *out) {
  const char *codes = db_req_query(r, "orgunit"), *parent = db_req_query(r, "children_of");
  size_t n = 0;
  if (parent) {
    int64_t p = db_cube_unit_index(r->cube, parent);
    const int64_t *ch;
    size_t nc = p >= 0 ? db_cube_unit_children(r->cube, p, &ch) : 0;
    for (size_t i = 0; i < nc; i++) out[n++] = ch[i];
    return n;
  }
  for (const char *p = codes; p && *p;) {
    const char *end = strchr(p, ',');
    char *code = db_strndup(p, end ? (size_t)(end - p) : strlen(p));
    int64_t u = db_cube_unit_index(r->cube, code);
    if (u >= 0) out[n++] = u;
    db_free(code);
    p = end ? end + 1 : NULL;
  }
  return n;
}

int db_h_quality_outliers(db_req *r, db_resp *w) {
  const char *th = db_req_query(r, "threshold");
  double threshold = 3.5;
  if (th && (db_parse_double(th, strlen(th), &threshold) != 0 || threshold <= 0))
    return db__h_problem(w, 400, "threshold", "threshold is a positive number (3.5 is customary)");
  if (!db_req_query(r, "indicator") && !db_req_query(r, "group") && !db_req_query(r, "agency"))
    return db__h_problem(w, 400, "indicator", "name the indicators: indicator, group or agency");
  if (!db_req_query(r, "orgunit") && !db_req_query(r, "children_of"))
    return db__h_problem(w, 400, "orgunit", "name the units: orgunit or children_of");
  db_period from, to;
  if (period_param(r, w, "from", &from) || period_param(r, w, "to", &to)) return 0;
  int64_t *inds = db_malloc((r->cat->n_indicators + 1) * sizeof *inds);
  int64_t *units = db_malloc((r->cat->n_units + 1) * sizeof *units);
  size_t n_inds = outlier_indicators(r, inds), n_units = outlier_units(r, units);
  json_t *list = json_array();
  size_t cells = 0;
  int rc = 0;
  for (size_t i = 0; i < n_inds && !rc; i++) {
    const db_indicator *ind = &r->cat->indicators[inds[i]];
    db_period first, last;
    if (db_cube_range(r->cube, inds[i], "", &first, &last) != 0) continue;
    if (from.type == first.type && db_period_compare(&from, &first) > 0) first = from;
    if (to.type == last.type && db_period_compare(&to, &last) < 0) last = to;
    int64_t np = db_period_diff(&first, &last) + 1;
    if (np <= 0) continue;
    cells += (size_t)np * n_units;
    if (cells > MAX_OUTLIER_CELLS) {
      rc = db__h_problem(w, 413, "indicator", "more than %d values to score: ask for fewer indicators, units or periods",
                         MAX_OUTLIER_CELLS);
      json_decref(list);
      list = NULL;
      break;
    }
    double *x = db_malloc((size_t)np * sizeof *x), *z = db_malloc((size_t)np * sizeof *z);
    for (size_t u = 0; u < n_units; u++) {
      if (db_cube_series(r->cube, inds[i], "", units[u], &first, (size_t)np, x) <= 0) continue;
      if (!db_outlier_scores(x, (size_t)np, db_outlier_season(ind->periodicity), threshold, z)) continue;
      for (int64_t k = 0; k < np; k++) {
        if (isnan(z[k]) || fabs(z[k]) <= threshold) continue;
        db_period p = db_period_add(&first, k);
        char code[DB_PERIOD_CODE_MAX];
        db_period_format(&p, code);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:f, s:f}", "indicator", ind->code, "orgunit",
                                              r->cat->units[units[u]].code, "period", code, "value", x[k], "z",
                                              round(z[k] * 100) / 100));
      }
    }
    db_free(x);
    db_free(z);
  }
  db_free(inds);
  db_free(units);
  if (!list) return rc;
  return answer(r, w, json_pack("{s:f, s:o}", "threshold", threshold, "outliers", list), "outliers");
}

/* ---- unit attribute checks ---- */

int db_h_quality_unit_checks(db_req *r, db_resp *w) {
  db_diag d = DB_DIAG_INIT;
  db_unit_attrs *a;
  size_t n, nf;
  int err = db_unit_attrs_read(r->body, r->body_len, &a, &n, &d);
  if (err) {
    db_unit_attrs_free(a, n);
    answer_invalid(w, &d, "unit attributes");
    db_diag_free(&d);
    return 0;
  }
  db_unit_finding *f;
  db_unit_attrs_check(a, n, &f, &nf);
  json_t *list = json_array();
  for (size_t i = 0; i < nf; i++)
    json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "code", f[i].code, "name",
                                          f[i].name, "province", f[i].province, "attribute", f[i].attribute, "value",
                                          isnan(f[i].value) ? json_null() : json_real(f[i].value), "z_area",
                                          ratio(f[i].z_area), "z_density", ratio(f[i].z_density), "message",
                                          f[i].message));
  json_t *doc = json_pack("{s:I, s:I, s:o}", "units", (json_int_t)n, "problems", (json_int_t)d.count, "findings", list);
  db_unit_findings_free(f, nf);
  db_unit_attrs_free(a, n);
  db_diag_free(&d);
  return answer(r, w, doc, "findings");
}

/* ---- the calendar ---- */

int db_h_calendar_get(db_req *r, db_resp *w) {
  db_calendar *cal = db_calendar_new();
  int err = db_calendar_load(r->store, cal);
  if (err) {
    db_calendar_free(cal);
    return err;
  }
  const char *year = db_req_query(r, "year");
  const db_calendar_day *days;
  size_t n = db_calendar_days(cal, &days);
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++) {
    char date[11];
    db_format_date(days[i].day, date);
    if (year && strncmp(date, year, strlen(year)) != 0) continue;
    json_array_append_new(list, json_pack("{s:s, s:s, s:s?}", "date", date, "kind", db_day_kind_name(days[i].kind),
                                          "name", days[i].name));
  }
  db_calendar_free(cal);
  return answer(r, w, json_pack("{s:o}", "days", list), "days");
}

/* A JSON calendar {"days": [{date, kind, name}]} as the CSV text the calendar reader takes: 0, or
 * DB_EINVAL when the body is not of that shape (members must be strings). */
static int calendar_json_to_csv(const char *body, size_t len, db_buf *out) {
  json_t *root = json_loadb(body, len, 0, NULL);
  json_t *days = json_object_get(root, "days");
  int rc = json_is_array(days) ? 0 : DB_EINVAL;
  db_buf_puts(out, "date,kind,name\n");
  size_t i;
  json_t *day;
  json_array_foreach(days, i, day) {
    const char *f[3] = {json_string_value(json_object_get(day, "date")), json_string_value(json_object_get(day, "kind")),
                        json_string_value(json_object_get(day, "name"))};
    for (int k = 0; k < 3; k++) {
      if (k) db_buf_putc(out, ',');
      db_buf_csv_field(out, f[k] ? f[k] : "");
    }
    db_buf_putc(out, '\n');
  }
  json_decref(root);
  return rc;
}

int db_h_calendar_post(db_req *r, db_resp *w) {
  const char *format = db__h_body_format(r, w);
  if (!format) return 0;
  db_buf csv = DB_BUF_INIT;
  if (strcmp(format, "json") == 0 && calendar_json_to_csv(r->body, r->body_len, &csv) != 0) {
    db_buf_free(&csv);
    return db__h_problem(w, 400, "$", "the body is {\"days\": [{\"date\": \"2025-09-02\", \"kind\": \"holiday\", "
                                      "\"name\": \"...\"}]}");
  }
  const char *text = csv.data ? db_buf_str(&csv) : r->body;
  size_t len = csv.data ? csv.len : r->body_len;
  db_calendar *cal = db_calendar_new();
  db_diag d = DB_DIAG_INIT;
  int err = db_calendar_read_csv(cal, text, len, "body", &d);
  db_buf_free(&csv);
  if (err == DB_EINVAL) {
    err = answer_invalid(w, &d, "calendar days");
  } else if (!err) {
    db_store *s = db_app_write_begin(r->app);
    err = db_store_begin(s, 0);
    if (!err) err = db_calendar_save(s, cal);
    db_audit a = {0, r->who.name, "calendar.import", "api", NULL};
    if (!err) err = db_store_audit_append(s, &a);
    if (!err) err = db_store_commit(s);
    else db_store_rollback(s);
    db_app_write_end(r->app);
    const db_calendar_day *days;
    if (!err) db_resp_json(w, 200, json_pack("{s:I}", "saved", (json_int_t)db_calendar_days(cal, &days)));
  }
  db_calendar_free(cal);
  db_diag_free(&d);
  return err;
}
