/* h_alerts.c - the routes of alert rules, alerts (acknowledge, assign, silence) and webhooks (with their
 * delivery log). Scenarios are in h_scenarios.c, the event stream in h_events.c. Everything goes through
 * the alerts service (alerts_int.h): its lock guards the rules in memory; writes take the app's write lock
 * first. Problems name their JSON path ("$.for", "$.units[2]"). */
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/alerts_int.h"
#include "http/h_util.h"
#include "http/handlers.h"
#include "http/http_int.h"
#include "tasks/tasks.h"

#define LIST_MAX 10000

/* ---- helpers shared with h_scenarios.c (alerts_int.h) ---- */

/* Problems whose message starts with a JSON path ("$.for: ...") get that path as their location. */
static void locate(const db_diag *in, db_diag *out) {
  for (size_t i = 0; i < in->count; i++) {
    const db_problem *p = &in->items[i];
    const char *colon = p->message[0] == '$' && !p->path ? strstr(p->message, ": ") : NULL;
    if (colon) {
      char *path = db_strndup(p->message, (size_t)(colon - p->message));
      db_diag_add(out, p->line, p->column, path, p->code, "%s", colon + 2);
      db_free(path);
    } else {
      db_diag_add(out, p->line, p->column, p->path, p->code, "%s", p->message);
    }
  }
}

int db__alerts_problems(db_resp *w, int err, const char *what, const db_diag *d) {
  db_diag located = DB_DIAG_INIT;
  locate(d, &located);
  int status = err == DB_ECONFLICT ? 409 : err == DB_ENOTFOUND ? 404 : 400;
  db_resp_problem(w, status, status == 409 ? "Conflict" : status == 404 ? "Not found" : "Bad request", what, &located);
  db_diag_free(&located);
  return 0;
}

int db__alerts_answer(db_resp *w, int err, int created, json_t *out, const char *what, db_diag *d) {
  if (err == DB_EINVAL || err == DB_ECONFLICT) {
    db__alerts_problems(w, err, what, d);
    err = 0;
  } else if (!err) {
    db_resp_json(w, created ? 201 : 200, out);
    out = NULL;
  }
  json_decref(out);
  db_diag_free(d);
  return err;
}

json_t *db__alerts_record_json(const db_record *rec) {
  json_t *o = json_loads(rec->body, 0, NULL);
  if (!o) o = json_object();
  json_object_set_new(o, "id", json_integer(rec->id));
  json_object_set_new(o, "version", json_integer(rec->version));
  return o;
}

static int parse_id(db_req *r, db_resp *w, int64_t *id) {
  if (db_parse_int64(r->params[0], strlen(r->params[0]), id) != 0 || *id <= 0) {
    db__h_problem(w, 404, "id", "'%s' is not an id", r->params[0]);
    return -1;
  }
  return 0;
}

/* ---- rules ---- */

typedef struct counts {
  const char *rule;
  int firing, pending, stale;
  json_t *units; /* when not NULL: every active unit's state */
  const db_catalog *cat;
} counts;

static void count_state(void *ctx, const db_watch_rule *r, int64_t unit, const db_watch_state *s) {
  counts *c = ctx;
  if (strcmp(r->code, c->rule) != 0) return;
  c->firing += s->phase == DB_PHASE_FIRING;
  c->pending += s->phase == DB_PHASE_PENDING;
  c->stale += s->stale;
  if (!c->units) return;
  char last[DB_PERIOD_CODE_MAX] = "";
  if (s->has_last) db_period_format(&s->last, last);
  json_array_append_new(c->units, json_pack("{s:s,s:s,s:b,s:s,s:I}", "unit", c->cat->units[unit].code, "state",
                                            db_watch_phase_name(s->phase), "stale", s->stale, "last_period", last,
                                            "alert", (json_int_t)s->alert_id));
}

static json_t *rule_summary(db__alerts *a, const db_watch_rule *rule, const db_catalog *cat, int with_units) {
  char *text = db_watch_rule_json(rule);
  json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
  db_free(text);
  counts c = {rule->code, 0, 0, 0, with_units ? json_array() : NULL, cat};
  db_watch_each_active(a->watch, count_state, &c);
  const char *scenario = NULL;
  for (size_t i = 0; i < a->n_scenarios && !scenario; i++)
    for (size_t k = 0; k < a->scenarios[i].s->n_rules; k++)
      if (strcmp(a->scenarios[i].s->rules[k]->code, rule->code) == 0) scenario = a->scenarios[i].s->code;
  json_object_set_new(o, "scenario", scenario ? json_string(scenario) : json_null());
  json_object_set_new(o, "firing", json_integer(c.firing));
  json_object_set_new(o, "pending", json_integer(c.pending));
  json_object_set_new(o, "stale", json_integer(c.stale));
  if (c.units) json_object_set_new(o, "units_active", c.units);
  return o;
}

int db_h_rules_list(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *list = json_array();
  db_buf csv = DB_BUF_INIT;
  int as_csv = strcmp(db_req_format(r), "csv") == 0;
  if (as_csv) db_buf_puts(&csv, "code,scenario,severity,condition,for,keep_firing_for,firing,pending,stale\r\n");
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < db_watch_rule_count(a->watch); i++)
    json_array_append_new(list, rule_summary(a, db_watch_rule_at(a->watch, i), r->cat, 0));
  pthread_mutex_unlock(&a->lock);
  if (!as_csv) {
    db_resp_json(w, 200, json_pack("{s:o}", "rules", list));
    return 0;
  }
  size_t i;
  json_t *o;
  json_array_foreach(list, i, o) {
    const char *fields[] = {"code", "scenario", "severity", "condition"};
    for (int k = 0; k < 4; k++) {
      db_buf_csv_field(&csv, json_string_value(json_object_get(o, fields[k])) ? json_string_value(json_object_get(o, fields[k])) : "");
      db_buf_putc(&csv, ',');
    }
    char *f = json_dumps(json_object_get(o, "for"), JSON_ENCODE_ANY), *k = json_dumps(json_object_get(o, "keep_firing_for"), JSON_ENCODE_ANY);
    db_buf_printf(&csv, "%s,%s,%" JSON_INTEGER_FORMAT ",%" JSON_INTEGER_FORMAT ",%" JSON_INTEGER_FORMAT "\r\n", f, k,
                  json_integer_value(json_object_get(o, "firing")), json_integer_value(json_object_get(o, "pending")),
                  json_integer_value(json_object_get(o, "stale")));
    free(f);
    free(k);
  }
  json_decref(list);
  db_resp_text(w, 200, DB__H_CSV, db_buf_str(&csv), csv.len);
  db_buf_free(&csv);
  return 0;
}

int db_h_rules_put(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *doc = db__h_json_body(r, w, 1, "{}");
  if (!doc) return 0;
  db_diag d = DB_DIAG_INIT;
  db_watch_rule *rule = NULL;
  int err = db_watch_rule_from_json(doc, "$", &rule, &d);
  json_decref(doc);
  if (!err) err = db_watch_rule_check(rule, r->cat, "$", &d);
  if (err) {
    db_watch_rule_free(rule);
    db__alerts_problems(w, err, "the rule is not valid", &d);
    db_diag_free(&d);
    return 0;
  }
  int created = 0;
  db_store *s = db_app_write_begin(r->app);
  pthread_mutex_lock(&a->lock);
  err = db_store_begin(s, 0);
  if (!err) err = db__alerts_put_rule(a, s, rule, r->who.name, &created, &d);
  err = db__alerts_finish(a, s, err);
  json_t *out = err ? NULL : rule_summary(a, rule, r->cat, 0);
  pthread_mutex_unlock(&a->lock);
  db_app_write_end(r->app);
  db_watch_rule_free(rule);
  return db__alerts_answer(w, err, created, out, "the rule cannot be written", &d);
}

int db_h_rule_get(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  pthread_mutex_lock(&a->lock);
  const db_watch_rule *rule = db_watch_find_rule(a->watch, r->params[0]);
  json_t *out = rule ? rule_summary(a, rule, r->cat, 1) : NULL;
  pthread_mutex_unlock(&a->lock);
  if (!out) return db__h_problem(w, 404, "code", "no alert rule '%s'", r->params[0]);
  db_resp_json(w, 200, out);
  return 0;
}

int db_h_rule_delete(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  db_store *s = db_app_write_begin(r->app);
  pthread_mutex_lock(&a->lock);
  int err = db_store_begin(s, 0);
  if (!err) err = db__alerts_delete_rule(a, s, r->params[0], r->who.name);
  err = db__alerts_finish(a, s, err);
  int in_scenario = err == DB_ENOTFOUND && db_watch_find_rule(a->watch, r->params[0]);
  pthread_mutex_unlock(&a->lock);
  db_app_write_end(r->app);
  if (in_scenario)
    return db__h_problem(w, 409, "code", "rule %s belongs to a scenario: change the scenario", r->params[0]);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "code", "no alert rule '%s'", r->params[0]);
  if (err) return err;
  db_resp_text(w, 204, NULL, "", 0);
  return 0;
}

/* ---- alerts ---- */

typedef struct alert_scan {
  const char *state, *rule, *unit, *scenario;
  int min_severity;
  json_t *items;
} alert_scan;

static int scan_alert(void *ctx, const db_record *rec) {
  alert_scan *sc = ctx;
  json_t *o = db__alerts_record_json(rec);
  const char *sev = json_string_value(json_object_get(o, "severity"));
  int severity = 0;
  if (sev) db_severity_parse(sev, &severity);
#define DIFFERS(field, want) ((want) && (!json_string_value(json_object_get(o, field)) || strcmp(json_string_value(json_object_get(o, field)), want) != 0))
  if (DIFFERS("state", sc->state) || DIFFERS("rule", sc->rule) || DIFFERS("unit", sc->unit) ||
      DIFFERS("scenario", sc->scenario) || severity < sc->min_severity) {
    json_decref(o);
    return 0;
  }
#undef DIFFERS
  json_object_del(o, "run");
  json_object_del(o, "last");
  json_array_append_new(sc->items, o);
  return 0;
}

/* Groups of alerts by rule or unit: key, count, firing, pending, the highest severity, the alert ids. */
static json_t *group(json_t *items, const char *by) {
  json_t *groups = json_object(), *out = json_array();
  size_t i;
  json_t *o;
  json_array_foreach(items, i, o) {
    const char *key = json_string_value(json_object_get(o, by));
    if (!key) continue;
    json_t *g = json_object_get(groups, key);
    if (!g) {
      g = json_pack("{s:s,s:i,s:i,s:i,s:s,s:[]}", by, key, "count", 0, "firing", 0, "pending", 0, "severity", "info", "alerts");
      json_object_set_new(groups, key, g);
      json_array_append(out, g);
    }
    const char *state = json_string_value(json_object_get(o, "state"));
    json_object_set_new(g, "count", json_integer(json_integer_value(json_object_get(g, "count")) + 1));
    if (state && (!strcmp(state, "firing") || !strcmp(state, "pending")))
      json_object_set_new(g, state, json_integer(json_integer_value(json_object_get(g, state)) + 1));
    int have = 0, sev = 0;
    db_severity_parse(json_string_value(json_object_get(g, "severity")), &have);
    if (db_severity_parse(json_string_value(json_object_get(o, "severity")), &sev) == 0 && sev > have)
      json_object_set(g, "severity", json_object_get(o, "severity"));
    json_array_append(json_object_get(g, "alerts"), json_object_get(o, "id"));
  }
  json_decref(groups);
  return out;
}

static void alerts_csv(json_t *items, db_buf *b) {
  db_buf_puts(b, "id,rule,unit,severity,state,pending_at,firing_at,resolved_at,value,acknowledged,message_vi,message_en\r\n");
  size_t i;
  json_t *o;
  json_array_foreach(items, i, o) {
    db_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(o, "id")));
    const char *fields[] = {"rule", "unit", "severity", "state", "pending_at", "firing_at", "resolved_at"};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
      const char *v = json_string_value(json_object_get(o, fields[k]));
      db_buf_putc(b, ',');
      db_buf_csv_field(b, v ? v : "");
    }
    db_buf_putc(b, ',');
    if (json_is_number(json_object_get(o, "value"))) db_buf_double(b, json_number_value(json_object_get(o, "value")));
    db_buf_puts(b, json_is_object(json_object_get(o, "acknowledged")) ? ",yes," : ",no,");
    json_t *m = json_object_get(o, "message");
    db_buf_csv_field(b, json_string_value(json_object_get(m, "vi")) ? json_string_value(json_object_get(m, "vi")) : "");
    db_buf_putc(b, ',');
    db_buf_csv_field(b, json_string_value(json_object_get(m, "en")) ? json_string_value(json_object_get(m, "en")) : "");
    db_buf_puts(b, "\r\n");
  }
}

int db_h_alerts_list(db_req *r, db_resp *w) {
  alert_scan sc = {db_req_query(r, "state"), db_req_query(r, "rule"), db_req_query(r, "unit"), db_req_query(r, "scenario"), 0,
                   json_array()};
  const char *sev = db_req_query(r, "severity"), *by = db_req_query(r, "group_by"), *limit = db_req_query(r, "limit");
  int64_t max = 1000;
  if (sev && db_severity_parse(sev, &sc.min_severity) != 0) {
    json_decref(sc.items);
    return db__h_problem(w, 400, "severity", "expected info, warning, critical or emergency");
  }
  if (by && strcmp(by, "rule") != 0 && strcmp(by, "unit") != 0) {
    json_decref(sc.items);
    return db__h_problem(w, 400, "group_by", "expected rule or unit");
  }
  if (limit && (db_parse_int64(limit, strlen(limit), &max) != 0 || max < 1 || max > LIST_MAX)) {
    json_decref(sc.items);
    return db__h_problem(w, 400, "limit", "expected a whole number from 1 to %d", LIST_MAX);
  }
  int err = db_store_record_scan(r->store, DB_WATCH_ALERT_KIND, scan_alert, &sc);
  if (err) {
    json_decref(sc.items);
    return err;
  }
  json_t *items = json_array(); /* newest first */
  for (size_t i = json_array_size(sc.items); i > 0 && (int64_t)json_array_size(items) < max; i--)
    json_array_append(items, json_array_get(sc.items, i - 1));
  size_t total = json_array_size(sc.items);
  json_decref(sc.items);
  if (strcmp(db_req_format(r), "csv") == 0) {
    db_buf b = DB_BUF_INIT;
    alerts_csv(items, &b);
    json_decref(items);
    db_resp_text(w, 200, DB__H_CSV, db_buf_str(&b), b.len);
    db_buf_free(&b);
    return 0;
  }
  json_t *doc = json_pack("{s:I}", "total", (json_int_t)total);
  if (by) json_object_set_new(doc, "groups", group(items, by));
  json_object_set_new(doc, "alerts", items);
  db_resp_json(w, 200, doc);
  return 0;
}

int db_h_alert_get(db_req *r, db_resp *w) {
  int64_t id;
  if (parse_id(r, w, &id) != 0) return 0;
  db_record rec = {0};
  int err = db_store_record_get(r->store, DB_WATCH_ALERT_KIND, id, NULL, &rec);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "id", "no alert %" PRId64, id);
  if (err) return err;
  db_resp_json(w, 200, db__alerts_record_json(&rec));
  db_record_free(&rec);
  return 0;
}

/* The common frame of the three alert decisions: reads the alert under the write lock, lets `decide`
 * change it and append its event, writes it back. decide returns 0, or an HTTP status it answered. */
typedef int (*decide_fn)(db__alerts *a, db_store *s, db_req *r, db_resp *w, json_t *alert, json_t *body, int64_t id);

static int decision(db_req *r, db_resp *w, decide_fn decide, int ok_status) {
  db__alerts *a = db__alerts_of(r->app);
  int64_t id;
  if (parse_id(r, w, &id) != 0) return 0;
  json_t *body = db__h_json_body(r, w, 1, "{}");
  if (!body) return 0;
  db_store *s = db_app_write_begin(r->app);
  pthread_mutex_lock(&a->lock);
  db_record rec = {0};
  int err = db_store_begin(s, 0), answered = 0;
  if (!err) err = db_store_record_get(s, DB_WATCH_ALERT_KIND, id, NULL, &rec);
  json_t *alert = err ? NULL : json_loads(rec.body, 0, NULL);
  if (!err) answered = decide(a, s, r, w, alert, body, id);
  if (!err && !answered) {
    char *text = json_dumps(alert, JSON_COMPACT | JSON_PRESERVE_ORDER);
    db_record put = {.id = id, .kind = DB_WATCH_ALERT_KIND, .body = text};
    err = db_store_record_put(s, &put, rec.version);
    free(text);
    db_audit au = {.actor = r->who.name, .action = "alert.decision", .object = r->path};
    if (!err) err = db_store_audit_append(s, &au);
  }
  int ended = db__alerts_finish(a, s, err ? err : answered ? DB_EINVAL : 0); /* an answered refusal rolls back */
  if (!answered) err = ended;
  if (!err && !answered) db_map_put(&a->quiet, &id, sizeof id, 1); /* handled: no escalation */
  pthread_mutex_unlock(&a->lock);
  db_app_write_end(r->app);
  db_record_free(&rec);
  json_decref(body);
  if (err == DB_ENOTFOUND) {
    json_decref(alert);
    return db__h_problem(w, 404, "id", "no alert %" PRId64, id);
  }
  if (!err && !answered) {
    json_object_set_new(alert, "id", json_integer(id));
    db_resp_json(w, ok_status, alert);
    return 0;
  }
  json_decref(alert);
  return answered ? 0 : err;
}

static const char *text_of(json_t *body, const char *name) {
  json_t *v = json_object_get(body, name);
  return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

static json_t *decision_event(json_t *alert, int64_t id, const char *by) {
  return json_pack("{s:I,s:O,s:O,s:O,s:s}", "alert", (json_int_t)id, "rule", json_object_get(alert, "rule"), "unit",
                   json_object_get(alert, "unit"), "severity", json_object_get(alert, "severity"), "by", by);
}

static int decide_ack(db__alerts *a, db_store *s, db_req *r, db_resp *w, json_t *alert, json_t *body, int64_t id) {
  if (json_is_object(json_object_get(alert, "acknowledged")))
    return db__h_problem(w, 409, "id", "alert %" PRId64 " is already acknowledged", id), 409;
  const char *note = text_of(body, "note");
  json_object_set_new(alert, "acknowledged",
                      json_pack("{s:s,s:I,s:s?}", "by", r->who.name, "at_ms", (json_int_t)db_now_ms(), "note", note));
  json_t *ev = decision_event(alert, id, r->who.name);
  if (note) json_object_set_new(ev, "note", json_string(note));
  return db__alerts_event(a, s, "alert.acknowledged", ev, 1);
}

int db_h_alert_ack(db_req *r, db_resp *w) { return decision(r, w, decide_ack, 200); }

/* A deadline: a duration from now ("3d") or a day ("2025-08-01"): 0 and the day, or -1. */
static int deadline_day(const char *s, int64_t *day) {
  size_t n = strlen(s);
  if (db_parse_date(s, n, day) == 0) return 0;
  char *end;
  double v = strtod(s, &end);
  int64_t unit = !strcmp(end, "h") ? 3600000 : !strcmp(end, "d") ? 86400000 : 0;
  if (end == s || !unit || !(v > 0) || v > 3650) return -1;
  *day = (db_now_ms() + (int64_t)(v * (double)unit) + (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000) / 86400000;
  return 0;
}

static int decide_assign(db__alerts *a, db_store *s, db_req *r, db_resp *w, json_t *alert, json_t *body, int64_t id) {
  const char *agency = text_of(body, "agency"), *deadline = text_of(body, "deadline"), *title = text_of(body, "title");
  db_diag d = DB_DIAG_INIT;
  int64_t day = 0;
  if (!agency) db_diag_add(&d, 0, 0, "$.agency", DB_EINVAL, "required: the agency the alert is assigned to");
  if (deadline_day(deadline ? deadline : "3d", &day) != 0)
    db_diag_add(&d, 0, 0, "$.deadline", DB_EINVAL, "expected a day (2025-08-01) or a delay (\"48h\", \"3d\")");
  int err = 0;
  int64_t task = 0;
  if (!d.count) {
    char origin[48];
    snprintf(origin, sizeof origin, "alert:%" PRId64, id);
    const char *msg = json_string_value(json_object_get(json_object_get(alert, "message"), "vi"));
    db_task_spec spec;
    db_task_spec_init(&spec);
    spec.title = title ? title : msg ? msg : "Xử lý cảnh báo";
    spec.description = text_of(body, "note") ? text_of(body, "note") : msg;
    spec.lead = agency;
    spec.unit = json_string_value(json_object_get(alert, "unit"));
    spec.deadline = day;
    spec.priority = DB_TASK_HIGH;
    spec.origin = origin;
    err = db_tasks_create(s, r->cat, &spec, r->who.name, &task, &d);
  }
  if (d.count) {
    db__alerts_problems(w, DB_EINVAL, "the alert cannot be assigned", &d);
    db_diag_free(&d);
    return 400;
  }
  db_diag_free(&d);
  if (err) return err;
  json_object_set_new(alert, "assigned", json_pack("{s:s,s:I,s:s,s:I}", "agency", agency, "task", (json_int_t)task, "by",
                                                   r->who.name, "at_ms", (json_int_t)db_now_ms()));
  json_t *ev = decision_event(alert, id, r->who.name);
  json_object_set_new(ev, "agency", json_string(agency));
  json_object_set_new(ev, "task", json_integer(task));
  return db__alerts_event(a, s, "alert.assigned", ev, 1);
}

int db_h_alert_assign(db_req *r, db_resp *w) { return decision(r, w, decide_assign, 201); }

static int decide_silence(db__alerts *a, db_store *s, db_req *r, db_resp *w, json_t *alert, json_t *body, int64_t id) {
  const char *duration = text_of(body, "duration"), *reason = text_of(body, "reason");
  db_diag d = DB_DIAG_INIT;
  char *end = NULL;
  double v = duration ? strtod(duration, &end) : 0;
  int64_t unit = !end ? 0 : !strcmp(end, "m") ? 60000 : !strcmp(end, "h") ? 3600000 : !strcmp(end, "d") ? 86400000 : 0;
  if (!unit || !(v > 0) || v * (double)unit > 30.0 * 86400000)
    db_diag_add(&d, 0, 0, "$.duration", DB_EINVAL, "expected a window like \"30m\", \"2h\", \"1d\" (at most 30 days)");
  if (!reason) db_diag_add(&d, 0, 0, "$.reason", DB_EINVAL, "required: why the alert is silenced");
  if (d.count) {
    db__alerts_problems(w, DB_EINVAL, "the alert cannot be silenced", &d);
    db_diag_free(&d);
    return 400;
  }
  db_diag_free(&d);
  int64_t now = db_now_ms(), until = now + (int64_t)(v * (double)unit);
  const char *rule = json_string_value(json_object_get(alert, "rule")), *u = json_string_value(json_object_get(alert, "unit"));
  json_t *sil = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:I}", "rule", rule, "unit", u, "from_ms", (json_int_t)now, "until_ms",
                          (json_int_t)until, "reason", reason, "by", r->who.name, "alert", (json_int_t)id);
  char *text = json_dumps(sil, JSON_COMPACT);
  db_record rec = {.kind = DB__SILENCE_KIND, .body = text};
  int err = db_store_record_put(s, &rec, 0);
  free(text);
  json_decref(sil);
  if (err) return err;
  a->silences = db_realloc(a->silences, (a->n_silences + 1) * sizeof *a->silences);
  a->silences[a->n_silences++] = (db__silence){rec.id, db_strdup(rule), db_strdup(u), now, until};
  json_object_set_new(alert, "silenced", json_true());
  json_object_set_new(alert, "silence", json_pack("{s:I,s:I,s:s,s:s}", "id", (json_int_t)rec.id, "until_ms", (json_int_t)until,
                                                  "reason", reason, "by", r->who.name));
  json_t *ev = decision_event(alert, id, r->who.name);
  json_object_set_new(ev, "until_ms", json_integer(until));
  json_object_set_new(ev, "reason", json_string(reason));
  return db__alerts_event(a, s, "alert.silenced", ev, 0);
}

int db_h_alert_silence(db_req *r, db_resp *w) { return decision(r, w, decide_silence, 201); }

/* ---- webhooks ---- */

typedef struct delivery_count {
  int64_t webhook;
  const char *status;
  int pending, delivered, dead;
  json_t *items; /* when collecting one webhook's deliveries */
} delivery_count;

static int count_delivery(void *ctx, const db_record *rec) {
  delivery_count *c = ctx;
  json_t *o = json_loads(rec->body, 0, NULL);
  const char *status = json_string_value(json_object_get(o, "status"));
  if (json_integer_value(json_object_get(o, "webhook")) == c->webhook && status) {
    c->pending += !strcmp(status, "pending");
    c->delivered += !strcmp(status, "delivered");
    c->dead += !strcmp(status, "dead");
    if (c->items && (!c->status || !strcmp(status, c->status))) {
      json_object_set_new(o, "id", json_integer(rec->id));
      json_array_append(c->items, o);
    }
  }
  json_decref(o);
  return 0;
}

static json_t *webhook_json(const db__webhook *wh) {
  json_t *events = json_array();
  for (size_t i = 0; i < wh->n_events; i++) json_array_append_new(events, json_string(wh->events[i]));
  return json_pack("{s:I,s:s,s:o,s:s?,s:i,s:I,s:I,s:b}", "id", (json_int_t)wh->id, "url", wh->url, "events", events,
                   "min_severity", wh->min_severity ? db_severity_name(wh->min_severity) : NULL, "max_attempts",
                   wh->policy.max_attempts, "backoff_ms", (json_int_t)wh->policy.backoff_ms, "max_backoff_ms",
                   (json_int_t)wh->policy.max_backoff_ms, "active", wh->active);
}

int db_h_webhooks_list(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *list = json_array();
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < a->n_webhooks; i++) json_array_append_new(list, webhook_json(&a->webhooks[i]));
  pthread_mutex_unlock(&a->lock);
  size_t i;
  json_t *o;
  json_array_foreach(list, i, o) {
    delivery_count c = {json_integer_value(json_object_get(o, "id")), NULL, 0, 0, 0, NULL};
    int err = db_store_record_scan(r->store, DB_DELIVERY_KIND, count_delivery, &c);
    if (err) {
      json_decref(list);
      return err;
    }
    json_object_set_new(o, "deliveries", json_pack("{s:i,s:i,s:i}", "pending", c.pending, "delivered", c.delivered, "dead", c.dead));
  }
  db_resp_json(w, 200, json_pack("{s:o}", "webhooks", list));
  return 0;
}

#define SECRET_MAX 200

/* Validates a webhook definition into a record body (with the secret, given or generated, also copied to
 * secret_out): the body, or NULL with the problems in d. */
static json_t *webhook_body(json_t *in, db_diag *d, char secret_out[SECRET_MAX + 1]) {
  const char *url = text_of(in, "url"), *secret = text_of(in, "secret"), *sev = text_of(in, "min_severity");
  const char *fields[] = {"url", "secret", "events", "min_severity", "max_attempts", "backoff_ms", "max_backoff_ms", "active", NULL};
  const char *k;
  json_t *v;
  json_object_foreach(in, k, v) {
    int known = 0;
    for (int i = 0; fields[i]; i++) known |= !strcmp(fields[i], k);
    if (!known) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.%s: unknown field", k);
  }
  if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) || strlen(url) > 2000)
    db_diag_add(d, 0, 0, "$.url", DB_EINVAL, "required: an http:// or https:// URL");
  if (secret && (strlen(secret) < 16 || strlen(secret) > SECRET_MAX))
    db_diag_add(d, 0, 0, "$.secret", DB_EINVAL, "a secret has 16 to 200 characters");
  int severity = 0;
  if (sev && db_severity_parse(sev, &severity) != 0)
    db_diag_add(d, 0, 0, "$.min_severity", DB_EINVAL, "expected info, warning, critical or emergency");
  json_t *events = json_object_get(in, "events");
  if (events && (!json_is_array(events) || !json_array_size(events) || json_array_size(events) > 50))
    db_diag_add(d, 0, 0, "$.events", DB_EINVAL, "expected 1 to 50 event kinds (\"alert.firing\", \"alert.*\", \"*\")");
  for (size_t i = 0; events && json_is_array(events) && i < json_array_size(events); i++)
    if (!json_is_string(json_array_get(events, i)) || !json_string_length(json_array_get(events, i)))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.events[%zu]: expected an event kind", i);
  struct { const char *name; int64_t lo, hi, def; } nums[] = {
      {"max_attempts", 1, 100, 8}, {"backoff_ms", 10, 3600000, 1000}, {"max_backoff_ms", 10, 86400000, 600000}};
  int64_t val[3];
  for (int i = 0; i < 3; i++) {
    json_t *n = json_object_get(in, nums[i].name);
    val[i] = n ? (json_is_integer(n) ? json_integer_value(n) : -1) : nums[i].def;
    if (val[i] < nums[i].lo || val[i] > nums[i].hi)
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.%s: expected a whole number from %lld to %lld", nums[i].name,
                  (long long)nums[i].lo, (long long)nums[i].hi);
  }
  if (d->count) return NULL;
  if (secret) {
    snprintf(secret_out, SECRET_MAX + 1, "%s", secret);
  } else {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(secret_out, SECRET_MAX + 1, raw, sizeof raw);
  }
  return json_pack("{s:s,s:s,s:o,s:s?,s:I,s:I,s:I,s:b}", "url", url, "secret", secret ? secret : secret_out, "events",
                   events ? json_incref(events) : json_pack("[s]", "alert.*"), "min_severity", sev, "max_attempts",
                   (json_int_t)val[0],
                   "backoff_ms", (json_int_t)val[1], "max_backoff_ms", (json_int_t)val[2], "active",
                   !json_is_false(json_object_get(in, "active")));
}

int db_h_webhooks_put(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *in = db__h_json_body(r, w, 1, "{}");
  if (!in) return 0;
  db_diag d = DB_DIAG_INIT;
  char secret[SECRET_MAX + 1];
  json_t *body = webhook_body(in, &d, secret);
  json_decref(in);
  if (!body) {
    db__alerts_problems(w, DB_EINVAL, "the webhook is not valid", &d);
    db_diag_free(&d);
    return 0;
  }
  db_diag_free(&d);
  char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
  db_record rec = {.kind = DB__WEBHOOK_KIND, .body = text};
  db_store *s = db_app_write_begin(r->app);
  pthread_mutex_lock(&a->lock);
  int err = db_store_begin(s, 0);
  if (!err) err = db_store_record_put(s, &rec, 0);
  db_audit au = {.actor = r->who.name, .action = "webhook.create", .object = json_string_value(json_object_get(body, "url"))};
  if (!err) err = db_store_audit_append(s, &au);
  if (!err) err = db_store_commit(s);
  db__webhook wh;
  if (err) db_store_rollback(s);
  if (!err && (err = db__webhook_parse(rec.id, text, &wh)) == 0) {
    a->webhooks = db_realloc(a->webhooks, (a->n_webhooks + 1) * sizeof *a->webhooks);
    a->webhooks[a->n_webhooks++] = wh;
  }
  json_t *out = err ? NULL : webhook_json(&a->webhooks[a->n_webhooks - 1]);
  pthread_mutex_unlock(&a->lock);
  db_app_write_end(r->app);
  sodium_memzero(text, strlen(text));
  free(text);
  json_decref(body);
  if (err) return err;
  json_object_set_new(out, "secret", json_string(secret)); /* shown once */
  sodium_memzero(secret, sizeof secret);
  db_resp_json(w, 201, out);
  return 0;
}

int db_h_webhook_delete(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  int64_t id;
  if (parse_id(r, w, &id) != 0) return 0;
  db_store *s = db_app_write_begin(r->app);
  pthread_mutex_lock(&a->lock);
  int err = db_store_begin(s, 0);
  if (!err) err = db_store_record_delete(s, DB__WEBHOOK_KIND, id);
  char object[32];
  snprintf(object, sizeof object, "webhook:%" PRId64, id);
  db_audit au = {.actor = r->who.name, .action = "webhook.delete", .object = object};
  if (!err) err = db_store_audit_append(s, &au);
  if (!err) err = db_store_commit(s);
  if (err) db_store_rollback(s);
  for (size_t i = 0; !err && i < a->n_webhooks; i++)
    if (a->webhooks[i].id == id) {
      db__webhook_free(&a->webhooks[i]);
      a->webhooks[i] = a->webhooks[--a->n_webhooks];
      break;
    }
  pthread_mutex_unlock(&a->lock);
  db_app_write_end(r->app);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "id", "no webhook %" PRId64, id);
  if (err) return err;
  db_resp_text(w, 204, NULL, "", 0);
  return 0;
}

int db_h_webhook_deliveries(db_req *r, db_resp *w) {
  int64_t id;
  if (parse_id(r, w, &id) != 0) return 0;
  const char *status = db_req_query(r, "status");
  if (status && strcmp(status, "pending") && strcmp(status, "delivered") && strcmp(status, "dead"))
    return db__h_problem(w, 400, "status", "expected pending, delivered or dead");
  db_record hook = {0};
  int err = db_store_record_get(r->store, DB__WEBHOOK_KIND, id, NULL, &hook);
  db_record_free(&hook);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "id", "no webhook %" PRId64, id);
  if (err) return err;
  delivery_count c = {id, status, 0, 0, 0, json_array()};
  if ((err = db_store_record_scan(r->store, DB_DELIVERY_KIND, count_delivery, &c))) {
    json_decref(c.items);
    return err;
  }
  db_resp_json(w, 200, json_pack("{s:I,s:{s:i,s:i,s:i},s:o}", "webhook", (json_int_t)id, "counts", "pending", c.pending,
                                 "delivered", c.delivered, "dead", c.dead, "deliveries", c.items));
  return 0;
}
