/* h_scenarios.c - the routes of scenarios: list, load (POST a JSON document, watch.h), one scenario,
 * activation (by hand, deactivation, checklist steps), simulation (a replay of a window of history or
 * what-if values, on a fresh engine and, for what-if values, a scratch cube: no alert, task, event or
 * webhook comes of it) and the after-action report: its activations, alerts, the tasks they made, the
 * decisions taken on them, the latest data of its panels, the checklist and the timeline (JSON, a CSV
 * timeline or Markdown). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
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

#define OVERLAY_MAX 100000

static db__scenario_slot *find_slot(db__alerts *a, const char *code) {
  if (!code) return NULL;
  for (size_t i = 0; i < a->n_scenarios; i++)
    if (strcmp(a->scenarios[i].s->code, code) == 0) return &a->scenarios[i];
  return NULL;
}

static json_t *slot_summary(const db__scenario_slot *slot) {
  const db_scenario *s = slot->s;
  json_t *rules = json_array();
  for (size_t i = 0; i < s->n_rules; i++) json_array_append_new(rules, json_string(s->rules[i]->code));
  return json_pack("{s:I,s:s,s:s,s:s?,s:s,s:o,s:i,s:i,s:b,s:o}", "id", (json_int_t)slot->id, "code", s->code, "name",
                   s->name, "name_en", s->name_en, "kind", s->kind, "rules", rules, "panels", (int)s->n_panels, "actions",
                   (int)s->n_actions, "active", slot->active, "activated_ms",
                   slot->activated_ms ? json_integer(slot->activated_ms) : json_null());
}

int db_h_scenarios_list(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *list = json_array();
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < a->n_scenarios; i++) json_array_append_new(list, slot_summary(&a->scenarios[i]));
  pthread_mutex_unlock(&a->lock);
  db_resp_json(w, 200, json_pack("{s:o}", "scenarios", list));
  return 0;
}

int db_h_scenarios_put(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *doc = db__h_json_body(r, w, 1, "{}"); /* checks the media type and the JSON syntax */
  if (!doc) return 0;
  db_diag d = DB_DIAG_INIT;
  int created = 0;
  db_store *s = db_app_write_begin(r->app);
  pthread_mutex_lock(&a->lock);
  int err = db_store_begin(s, 0);
  if (!err) err = db__alerts_put_scenario(a, s, r->cat, r->body, r->body_len, r->who.name, &created, &d);
  err = db__alerts_finish(a, s, err);
  json_t *out = NULL;
  if (!err) {
    db__scenario_slot *slot = find_slot(a, json_string_value(json_object_get(doc, "code")));
    out = slot ? slot_summary(slot) : json_object();
  }
  json_decref(doc);
  pthread_mutex_unlock(&a->lock);
  db_app_write_end(r->app);
  return db__alerts_answer(w, err, created, out, "the scenario is not valid", &d);
}

int db_h_scenario_get(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  pthread_mutex_lock(&a->lock);
  db__scenario_slot *slot = find_slot(a, r->params[0]);
  json_t *out = slot ? slot_summary(slot) : NULL;
  if (out) json_object_set_new(out, "document", json_loads(slot->doc, 0, NULL));
  pthread_mutex_unlock(&a->lock);
  if (!out) return db__h_problem(w, 404, "id", "no scenario '%s'", r->params[0]);
  db_resp_json(w, 200, out);
  return 0;
}

/* ---- activation and checklist ---- */

int db_h_scenario_activate(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *body = db__h_json_body(r, w, 1, "{}");
  if (!body) return 0;
  json_t *active = json_object_get(body, "active"), *step = json_object_get(body, "step");
  const char *note = json_string_value(json_object_get(body, "note"));
  if ((active && !json_is_boolean(active)) || (step && !json_is_integer(step))) {
    json_decref(body);
    return db__h_problem(w, 400, active && !json_is_boolean(active) ? "$.active" : "$.step",
                         "expected active: true or false, or step: the checklist step's number (1-based)");
  }
  db_store *s = db_app_write_begin(r->app);
  pthread_mutex_lock(&a->lock);
  db__scenario_slot *slot = find_slot(a, r->params[0]);
  int err = slot ? db_store_begin(s, 0) : DB_ENOTFOUND, bad_step = 0;
  if (!err && step) {
    json_int_t n = json_integer_value(step);
    bad_step = n < 1 || (size_t)n > slot->s->n_checklist;
    if (!bad_step)
      err = db__alerts_event(a, s, "scenario.step",
                             json_pack("{s:s,s:I,s:s,s:s?,s:s,s:s?}", "scenario", slot->s->code, "step", n, "text",
                                       slot->s->checklist[n - 1].step, "who", slot->s->checklist[n - 1].who, "by",
                                       r->who.name, "note", note),
                             0);
  } else if (!err) {
    err = db__alerts_activate(a, s, r->params[0], !active || json_is_true(active), r->who.name, note);
  }
  if (err != DB_ENOTFOUND) err = db__alerts_finish(a, s, err ? err : bad_step ? DB_EINVAL : 0);
  if (bad_step) err = 0;
  json_t *out = !err && !bad_step ? slot_summary(slot) : NULL;
  size_t n_steps = slot ? slot->s->n_checklist : 0;
  pthread_mutex_unlock(&a->lock);
  db_app_write_end(r->app);
  json_decref(body);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "id", "no scenario '%s'", r->params[0]);
  if (bad_step) return db__h_problem(w, 400, "$.step", "the checklist has steps 1 to %zu", n_steps);
  if (err == DB_ECONFLICT)
    return db__h_problem(w, 409, "$.active", "scenario %s is already %s", r->params[0],
                         !active || json_is_true(active) ? "active" : "inactive");
  if (err) return err;
  db_resp_json(w, 200, out);
  return 0;
}

/* ---- simulation ---- */

/* A period code's window [start, end) in ms: 0 or -1. */
static int period_window(const char *code, int64_t *start, int64_t *end) {
  db_period p;
  if (!code || db_period_parse(code, strlen(code), &p, NULL) != 0) return -1;
  *start = db_period_start_ms(&p);
  *end = db_period_end_ms(&p);
  return 0;
}

/* Reads the overlay values: problems with their path into d. */
static db_watch_overlay *read_overlay(json_t *arr, const db_catalog *cat, size_t *n, int64_t *lo, int64_t *hi, db_diag *d) {
  size_t len = json_array_size(arr);
  db_watch_overlay *out = db_calloc(len + 1, sizeof *out);
  *n = 0;
  for (size_t i = 0; i < len; i++) {
    json_t *o = json_array_get(arr, i);
    const char *ind = json_string_value(json_object_get(o, "indicator")), *ou = json_string_value(json_object_get(o, "orgunit")),
               *per = json_string_value(json_object_get(o, "period"));
    json_t *val = json_object_get(o, "value");
    int64_t ii = -1, uu = -1;
    db_period p;
    char why[128];
    if (!ind || !db_map_gets(&cat->indicator_index, ind, &ii))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.overlay[%zu].indicator: unknown indicator '%s'", i, ind ? ind : "");
    if (!ou || !db_map_gets(&cat->unit_index, ou, &uu))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.overlay[%zu].orgunit: unknown org unit '%s'", i, ou ? ou : "");
    if (!json_is_number(val) || !isfinite(json_number_value(val)))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.overlay[%zu].value: expected a number", i);
    if (ii >= 0 && (!per || db_period_parse_as(per, strlen(per), cat->indicators[ii].periodicity,
                                               cat->indicators[ii].period_span, &p, why) != 0)) {
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.overlay[%zu].period: %s", i, per ? why : "required");
      continue;
    }
    if (ii < 0 || uu < 0 || !json_is_number(val)) continue;
    out[*n] = (db_watch_overlay){ii, uu, "", p, json_number_value(val)};
    int64_t s = db_period_start_ms(&p), e = db_period_end_ms(&p);
    if (!*n || s < *lo) *lo = s;
    if (!*n || e > *hi) *hi = e;
    (*n)++;
  }
  return out;
}

/* The alerts a simulation's transitions make, one per (rule, unit) run from pending to its end, and the
 * actions of the scenario their firing would trigger. */
static json_t *summarise(const db_scenario *sc, const db_watch_out *out, const db_catalog *cat, json_t **actions) {
  json_t *alerts = json_array(), *open = json_object();
  int activated = 0;
  *actions = json_array();
  for (size_t i = 0; i < out->n; i++) {
    const db_watch_transition *t = &out->items[i];
    char key[160];
    snprintf(key, sizeof key, "%s|%s", t->rule->code, t->unit_code);
    json_t *al = json_object_get(open, key);
    if (t->change == DB_WC_PENDING || (!al && t->change == DB_WC_FIRING)) {
      al = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:n,s:n}", "rule", t->rule->code, "unit", t->unit_code, "severity",
                     db_severity_name(t->rule->severity), "state", "pending", "pending_at", t->period, "firing_at",
                     "resolved_at", "value");
      json_array_append_new(alerts, al);
      json_object_set(open, key, al);
    }
    if (!al) continue;
    if (t->change == DB_WC_FIRING) {
      json_object_set_new(al, "state", json_string("firing"));
      json_object_set_new(al, "firing_at", json_string(t->period));
      json_object_set_new(al, "value", isnan(t->value) ? json_null() : json_real(t->value));
      json_object_set_new(al, "message", json_pack("{s:s,s:s}", "vi", t->message_vi, "en", t->message_en));
      for (size_t k = 0; k < sc->n_auto_on && !activated; k++)
        if (strcmp(sc->auto_on[k], t->rule->code) == 0) {
          activated = 1; /* the first firing of a rule of auto_on activates the scenario */
          json_array_append_new(*actions, json_pack("{s:s,s:s,s:s,s:s}", "type", "activate", "rule", t->rule->code,
                                                    "unit", t->unit_code, "at", t->period));
        }
      size_t idx[64], n = db_scenario_actions_for(sc, t->rule->code, DB_WC_FIRING, idx, 64);
      for (size_t k = 0; k < n && k < 64; k++) {
        const db_scenario_action *act = &sc->actions[idx[k]];
        json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "type", act->type, "rule", t->rule->code, "unit", t->unit_code, "at",
                              t->period);
        if (!strcmp(act->type, "task")) {
          char *title = db_watch_render(act->title, t->rule, t->unit_code, t->unit_name, t->value, t->period);
          json_t *co = json_array();
          for (size_t c = 0; c < act->n_co; c++) json_array_append_new(co, json_string(act->co[c]));
          db_period p;
          char day[11] = "";
          if (db_period_parse(t->period, strlen(t->period), &p, NULL) == 0)
            db_format_date((db_period_end_ms(&p) + act->deadline_ms + (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000) / 86400000,
                           day);
          json_object_set_new(o, "title", json_string(title));
          json_object_set_new(o, "lead", json_string(act->lead));
          json_object_set_new(o, "co", co);
          json_object_set_new(o, "deadline", json_string(day));
          db_free(title);
        } else if (!strcmp(act->type, "escalate")) {
          json_object_set_new(o, "to", json_string(act->to));
          json_object_set_new(o, "after_ms", json_integer(act->after_ms));
        } else if (!strcmp(act->type, "webhook")) {
          json_object_set_new(o, "webhook", act->webhook ? json_integer(act->webhook) : json_string("all"));
        }
        json_array_append_new(*actions, o);
      }
    } else if (t->change == DB_WC_RESOLVED || t->change == DB_WC_CLEARED) {
      json_object_set_new(al, "state", json_string(t->change == DB_WC_RESOLVED ? "resolved" : "cleared"));
      json_object_set_new(al, t->change == DB_WC_RESOLVED ? "resolved_at" : "cleared_at", json_string(t->period));
      json_object_del(open, key);
    }
  }
  (void)cat;
  json_decref(open);
  return alerts;
}

int db_h_scenario_simulate(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  json_t *body = db__h_json_body(r, w, 1, "{}");
  if (!body) return 0;
  db_diag d = DB_DIAG_INIT;
  int64_t lo = 0, hi = 0, s2, e2;
  const char *from = json_string_value(json_object_get(body, "from")), *to = json_string_value(json_object_get(body, "to"));
  json_t *ov_json = json_object_get(body, "overlay");
  size_t n_ov = 0;
  db_watch_overlay *ov = NULL;
  if (ov_json && (!json_is_array(ov_json) || json_array_size(ov_json) > OVERLAY_MAX))
    db_diag_add(&d, 0, 0, "$.overlay", DB_EINVAL, "expected an array of at most %d values", OVERLAY_MAX);
  else if (ov_json)
    ov = read_overlay(ov_json, r->cat, &n_ov, &lo, &hi, &d);
  if (from && period_window(from, &lo, &e2) != 0) db_diag_add(&d, 0, 0, "$.from", DB_EINVAL, "expected a period code");
  if (to && period_window(to, &s2, &hi) != 0) db_diag_add(&d, 0, 0, "$.to", DB_EINVAL, "expected a period code");
  if (!d.count && (!from || !to) && !n_ov)
    db_diag_add(&d, 0, 0, "$", DB_EINVAL, "give a window (from and to: period codes) or overlay values, or both");
  if (!d.count && hi <= lo) db_diag_add(&d, 0, 0, "$.to", DB_EINVAL, "the window ends before it starts");
  json_decref(body);
  if (d.count) {
    db_free(ov);
    db__alerts_problems(w, DB_EINVAL, "the simulation cannot run", &d);
    db_diag_free(&d);
    return 0;
  }
  /* a copy of the scenario document: the simulation runs without the service's lock */
  pthread_mutex_lock(&a->lock);
  db__scenario_slot *slot = find_slot(a, r->params[0]);
  char *doc = slot ? db_strdup(slot->doc) : NULL;
  pthread_mutex_unlock(&a->lock);
  if (!doc) {
    db_free(ov);
    return db__h_problem(w, 404, "id", "no scenario '%s'", r->params[0]);
  }
  db_scenario *sc = NULL;
  int err = db_scenario_parse(doc, strlen(doc), r->cat, &sc, &d);
  db_free(doc);
  db_watch *engine = db_watch_new();
  for (size_t i = 0; !err && i < sc->n_rules; i++) err = db_watch_put_rule(engine, sc->rules[i], r->cat, &d);
  db_cube *scratch = NULL;
  db_derive *sdv = NULL;
  const db_cube_version *v = r->cube;
  db_derive *dv = r->derive;
  if (!err && n_ov && !(err = db_watch_overlay_cube(engine, r->cat, r->cube, ov, n_ov, &scratch, &sdv, &d))) {
    v = db_cube_acquire(scratch);
    dv = sdv;
  }
  db_watch_out out = {0};
  if (!err) err = db_watch_replay(engine, r->cat, v, dv, lo, hi, db_now_ms(), &out, &d);
  json_t *actions = NULL, *alerts = err ? NULL : summarise(sc, &out, r->cat, &actions);
  size_t n_transitions = out.n;
  db_watch_out_free(&out);
  if (scratch) {
    db_cube_release(v);
    db_derive_close(sdv);
    db_cube_close(scratch);
  }
  db_watch_free(engine);
  db_scenario_free(sc);
  db_free(ov);
  if (err) {
    db__alerts_problems(w, err == DB_ETOOBIG ? DB_EINVAL : err, "the simulation cannot run", &d);
    db_diag_free(&d);
    return 0;
  }
  db_diag_free(&d);
  char a_from[25], a_to[25];
  db_format_time_ms(lo, a_from);
  db_format_time_ms(hi, a_to);
  db_resp_json(w, 200, json_pack("{s:s,s:s,s:s,s:I,s:I,s:o,s:o,s:b}", "scenario", r->params[0], "from", a_from, "to", a_to,
                                 "overlay_values", (json_int_t)n_ov, "transitions", (json_int_t)n_transitions, "alerts",
                                 alerts, "actions", actions, "side_effects", 0));
  return 0;
}

/* ---- the after-action report ---- */

typedef struct report {
  const char *code;
  json_t *alert_ids; /* object: id text -> true */
  json_t *alerts, *timeline, *activations, *decisions, *steps, *tasks;
} report;

static int report_alert(void *ctx, const db_record *rec) {
  report *rp = ctx;
  json_t *o = db__alerts_record_json(rec);
  const char *sc = json_string_value(json_object_get(o, "scenario"));
  if (sc && !strcmp(sc, rp->code)) {
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, rec->id);
    json_object_set_new(rp->alert_ids, id, json_true());
    json_object_del(o, "run");
    json_object_del(o, "last");
    json_array_append(rp->alerts, o);
  }
  json_decref(o);
  return 0;
}

static int report_event(void *ctx, const db_event *e) {
  report *rp = ctx;
  json_t *body = json_loads(e->body, 0, NULL);
  const char *sc = json_string_value(json_object_get(body, "scenario"));
  char id[24];
  snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(body, "alert")));
  int mine = (sc && !strcmp(sc, rp->code)) || (json_object_get(body, "alert") && json_object_get(rp->alert_ids, id));
  if (mine) {
    char time[25];
    db_format_time_ms(e->time_ms, time);
    json_t *item = json_pack("{s:I,s:s,s:s,s:O}", "id", (json_int_t)e->id, "time", time, "kind", e->kind, "data", body);
    json_array_append(rp->timeline, item);
    if (!strncmp(e->kind, "scenario.activated", 18) || !strncmp(e->kind, "scenario.deactivated", 20))
      json_array_append(rp->activations, item);
    if (!strcmp(e->kind, "alert.acknowledged") || !strcmp(e->kind, "alert.assigned") || !strcmp(e->kind, "alert.silenced"))
      json_array_append(rp->decisions, item);
    if (!strcmp(e->kind, "scenario.step")) json_array_append(rp->steps, item);
    json_decref(item);
  }
  json_decref(body);
  return 0;
}

static int report_task(void *ctx, const db_task *t, const db_task_view *view) {
  report *rp = ctx;
  if (!t->origin || strncmp(t->origin, "alert:", 6) != 0 || !json_object_get(rp->alert_ids, t->origin + 6)) return 0;
  char due[11] = "";
  if (view->due != DB_DATE_NONE) db_format_date(view->due, due);
  json_array_append_new(rp->tasks, json_pack("{s:I,s:s,s:s,s:s?,s:s,s:s,s:i,s:s}", "id", (json_int_t)t->id, "title", t->title,
                                             "lead", t->lead, "co_agencies", t->co_agencies, "state", view->state, "due",
                                             due, "percent", t->percent, "origin", t->origin));
  return 0;
}

/* The latest value of each panel indicator at the panel's unit (stored, else rolled up), from the cube. */
static json_t *panel_data(db_req *r, const db_scenario *sc) {
  json_t *out = json_array();
  for (size_t i = 0; i < sc->n_panels; i++) {
    const db_scenario_panel *p = &sc->panels[i];
    int64_t unit = db_cube_unit_index(r->cube, p->orgunit ? p->orgunit : "79");
    for (size_t k = 0; k < p->n_indicators && unit >= 0; k++) {
      int64_t ind = db_cube_indicator_index(r->cube, p->indicators[k]);
      db_period first, last;
      db_formula *f = NULL;
      db_diag d = DB_DIAG_INIT;
      double v = NAN;
      char code[DB_PERIOD_CODE_MAX] = "";
      if (ind >= 0 && r->derive && db_cube_range(r->cube, ind, "", &first, &last) == 0 &&
          db_formula_compile(p->indicators[k], strlen(p->indicators[k]), r->cat, &f, &d) == 0 &&
          db_derive_eval(r->derive, r->cube, f, &unit, 1, &last, 1, &v, &d) == 0)
        db_period_format(&last, code);
      db_formula_free(f);
      db_diag_free(&d);
      json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s?,s:o}", "panel", p->title, "indicator", p->indicators[k],
                                           "orgunit", p->orgunit ? p->orgunit : "79", "period", code[0] ? code : NULL,
                                           "value", isnan(v) ? json_null() : json_real(v)));
    }
  }
  return out;
}

static void report_markdown(json_t *doc, db_buf *b) {
  json_t *sc = json_object_get(doc, "scenario");
  db_buf_printf(b, "# Báo cáo sau sự kiện — After-action report: %s\n\n", json_string_value(json_object_get(sc, "name")));
  db_buf_printf(b, "Kịch bản / scenario: `%s` (%s)\n\n", json_string_value(json_object_get(sc, "code")),
                json_string_value(json_object_get(sc, "kind")));
  db_buf_puts(b, "## Cảnh báo — Alerts\n\n| id | rule | unit | severity | pending | firing | resolved | acknowledged |\n|---|---|---|---|---|---|---|---|\n");
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(doc, "alerts"), i, o) {
    const char *f[] = {"rule", "unit", "severity", "pending_at", "firing_at", "resolved_at"};
    db_buf_printf(b, "| %" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(o, "id")));
    for (int k = 0; k < 6; k++) {
      const char *v = json_string_value(json_object_get(o, f[k]));
      db_buf_printf(b, " | %s", v ? v : "–");
    }
    json_t *ack = json_object_get(o, "acknowledged");
    db_buf_printf(b, " | %s |\n", json_is_object(ack) ? json_string_value(json_object_get(ack, "by")) : "–");
  }
  db_buf_puts(b, "\n## Nhiệm vụ — Tasks\n\n| id | title | lead | state | due |\n|---|---|---|---|---|\n");
  json_array_foreach(json_object_get(doc, "tasks"), i, o)
    db_buf_printf(b, "| %" JSON_INTEGER_FORMAT " | %s | %s | %s | %s |\n", json_integer_value(json_object_get(o, "id")),
                  json_string_value(json_object_get(o, "title")), json_string_value(json_object_get(o, "lead")),
                  json_string_value(json_object_get(o, "state")), json_string_value(json_object_get(o, "due")));
  db_buf_puts(b, "\n## Số liệu — Data\n\n| panel | indicator | unit | period | value |\n|---|---|---|---|---|\n");
  json_array_foreach(json_object_get(doc, "data"), i, o) {
    const char *per = json_string_value(json_object_get(o, "period"));
    db_buf_printf(b, "| %s | %s | %s | %s | ", json_string_value(json_object_get(o, "panel")),
                  json_string_value(json_object_get(o, "indicator")), json_string_value(json_object_get(o, "orgunit")),
                  per ? per : "–");
    if (json_is_number(json_object_get(o, "value"))) db_buf_double(b, json_number_value(json_object_get(o, "value")));
    else db_buf_puts(b, "–");
    db_buf_puts(b, " |\n");
  }
  db_buf_puts(b, "\n## Diễn biến — Timeline\n\n");
  json_array_foreach(json_object_get(doc, "timeline"), i, o) {
    json_t *data = json_object_get(o, "data");
    const char *msg = json_string_value(json_object_get(json_object_get(data, "message"), "vi"));
    db_buf_printf(b, "- %s `%s` %s\n", json_string_value(json_object_get(o, "time")), json_string_value(json_object_get(o, "kind")),
                  msg ? msg : "");
  }
}

static void report_csv(json_t *doc, db_buf *b) {
  db_buf_puts(b, "event,time,kind,rule,unit,severity,detail\r\n");
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(doc, "timeline"), i, o) {
    json_t *data = json_object_get(o, "data");
    db_buf_printf(b, "%" JSON_INTEGER_FORMAT ",%s,%s,", json_integer_value(json_object_get(o, "id")),
                  json_string_value(json_object_get(o, "time")), json_string_value(json_object_get(o, "kind")));
    const char *f[] = {"rule", "unit", "severity"};
    for (int k = 0; k < 3; k++) {
      const char *v = json_string_value(json_object_get(data, f[k]));
      db_buf_csv_field(b, v ? v : "");
      db_buf_putc(b, ',');
    }
    const char *msg = json_string_value(json_object_get(json_object_get(data, "message"), "vi"));
    const char *note = json_string_value(json_object_get(data, "note"));
    db_buf_csv_field(b, msg ? msg : note ? note : "");
    db_buf_puts(b, "\r\n");
  }
}

int db_h_scenario_report(db_req *r, db_resp *w) {
  db__alerts *a = db__alerts_of(r->app);
  const char *format = db_req_query(r, "format");
  if (format && strcmp(format, "json") && strcmp(format, "csv") && strcmp(format, "md"))
    return db__h_problem(w, 400, "format", "expected json, csv or md");
  pthread_mutex_lock(&a->lock);
  db__scenario_slot *slot = find_slot(a, r->params[0]);
  json_t *summary = slot ? slot_summary(slot) : NULL, *checklist = json_array(), *data = NULL;
  db_scenario *sc = NULL;
  db_diag sd = DB_DIAG_INIT;
  if (slot && db_scenario_parse(slot->doc, strlen(slot->doc), NULL, &sc, &sd) != 0) sc = NULL;
  db_diag_free(&sd);
  for (size_t i = 0; slot && i < slot->s->n_checklist; i++) {
    const db_scenario_step *st = &slot->s->checklist[i];
    json_array_append_new(checklist, json_pack("{s:i,s:s,s:s?,s:I,s:o}", "step", (int)i + 1, "text", st->step, "who", st->who,
                                               "when_ms", (json_int_t)st->when_ms, "due_ms",
                                               slot->activated_ms ? json_integer(slot->activated_ms + st->when_ms) : json_null()));
  }
  pthread_mutex_unlock(&a->lock);
  if (sc) data = panel_data(r, sc); /* out of the lock: the cube needs none */
  db_scenario_free(sc);
  if (!summary) {
    json_decref(checklist);
    return db__h_problem(w, 404, "id", "no scenario '%s'", r->params[0]);
  }
  report rp = {r->params[0], json_object(), json_array(), json_array(), json_array(), json_array(), json_array(), json_array()};
  int err = db_store_record_scan(r->store, DB_WATCH_ALERT_KIND, report_alert, &rp);
  if (!err) err = db_store_event_read(r->store, 0, report_event, &rp);
  db_task_filter f;
  db_task_filter_init(&f);
  db_task_clock clk = {NULL, (db_now_ms() + (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000) / 86400000};
  if (!err) err = db_tasks_list(r->store, &f, &clk, report_task, &rp);
  size_t i;
  json_t *st;
  json_array_foreach(rp.steps, i, st) { /* done steps */
    json_t *step = json_object_get(st, "data"),
           *item = json_array_get(checklist, (size_t)json_integer_value(json_object_get(step, "step")) - 1);
    if (item)
      json_object_set_new(item, "done", json_pack("{s:O,s:O}", "by", json_object_get(step, "by"), "time",
                                                  json_object_get(st, "time")));
  }
  json_decref(rp.alert_ids);
  json_decref(rp.steps);
  json_t *doc = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "scenario", summary, "activations", rp.activations, "alerts",
                          rp.alerts, "tasks", rp.tasks, "decisions", rp.decisions, "data", data ? data : json_array(),
                          "checklist", checklist, "timeline", rp.timeline);
  if (err) {
    json_decref(doc);
    return err;
  }
  if (format && strcmp(format, "json")) {
    db_buf b = DB_BUF_INIT;
    if (!strcmp(format, "md")) report_markdown(doc, &b);
    else report_csv(doc, &b);
    json_decref(doc);
    db_resp_text(w, 200, !strcmp(format, "md") ? "text/markdown; charset=utf-8" : DB__H_CSV, db_buf_str(&b), b.len);
    db_buf_free(&b);
    return 0;
  }
  db_resp_json(w, 200, doc);
  return 0;
}
