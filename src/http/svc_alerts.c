/* svc_alerts.c - the alerts service (service.h): alert rules evaluated on every commit for the affected
 * units (watch.h), the clock for time-based conditions, staleness, repeats and escalations, scenarios and
 * their actions, silences and inhibition, and the durable webhook outbox (exchange.h). Its records and
 * events are listed in alerts_int.h.
 *
 * One commit: the engine judges the rules that read a changed indicator; each transition updates its
 * alert record and appends its event, and the webhook deliveries of the event are written in the same
 * transaction; after the commit the deliveries go to the outbox's sender thread and the event streams
 * are woken. A silenced alert (a silence window on its rule and unit) and an inhibited one (the same
 * rule fires at an ancestor unit: the city mutes its wards) still change state and still have events,
 * marked so, but notify no webhook. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/alerts_int.h"
#include "http/http_int.h"
#include "tasks/tasks.h"

#define OUTBOX_TIMEOUT_MS 5000

/* Deliveries written in the open transaction, handed to the outbox after it commits (write lock). */
static db_delivery *staged;
static size_t n_staged, cap_staged;

static int open_alerts(db_app *app, void **state, db_diag *d);
static void on_committed(void *state, db_app *app, const db_commit *c);
static void on_catalog(void *state, db_app *app);
static void on_tick(void *state, db_app *app, int64_t now_ms);
static void close_alerts(void *state);

const db_service db_service_alerts = {"alerts", open_alerts, on_committed, on_catalog, on_tick, close_alerts};

db__alerts *db__alerts_of(db_app *app) { return db_app_service(app, DB_SVC_alerts); }

/* ---- small JSON helpers ---- */

static char *dumps(json_t *j) {
  char *t = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  char *out = db_strdup(t ? t : "null");
  free(t);
  return out;
}

static json_t *number_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

/* ---- webhooks, silences, scenarios in memory ---- */

void db__webhook_free(db__webhook *w) {
  db_free(w->url);
  sodium_memzero(w->secret, strlen(w->secret));
  db_free(w->secret);
  for (size_t i = 0; i < w->n_events; i++) db_free(w->events[i]);
  db_free(w->events);
}

int db__webhook_parse(int64_t id, const char *body, db__webhook *w) {
  json_t *o = json_loads(body, 0, NULL), *events = json_object_get(o, "events");
  const char *url = json_string_value(json_object_get(o, "url")),
             *secret = json_string_value(json_object_get(o, "secret")),
             *sev = json_string_value(json_object_get(o, "min_severity"));
  if (!url || !secret) {
    json_decref(o);
    return DB_EINVAL;
  }
  memset(w, 0, sizeof *w);
  w->id = id;
  w->url = db_strdup(url);
  w->secret = db_strdup(secret);
  w->events = db_calloc(json_array_size(events) + 1, sizeof *w->events);
  for (size_t i = 0; i < json_array_size(events); i++)
    if (json_is_string(json_array_get(events, i)))
      w->events[w->n_events++] = db_strdup(json_string_value(json_array_get(events, i)));
  w->min_severity = 0;
  if (sev) db_severity_parse(sev, &w->min_severity);
  json_t *ma = json_object_get(o, "max_attempts"), *bo = json_object_get(o, "backoff_ms"),
         *mb = json_object_get(o, "max_backoff_ms");
  w->policy.max_attempts = json_is_integer(ma) ? (int)json_integer_value(ma) : 8;
  w->policy.backoff_ms = json_is_integer(bo) ? json_integer_value(bo) : 1000;
  w->policy.max_backoff_ms = json_is_integer(mb) ? json_integer_value(mb) : 600000;
  w->active = !json_is_false(json_object_get(o, "active"));
  json_decref(o);
  return 0;
}

static int load_webhook(void *ctx, const db_record *r) {
  db__alerts *a = ctx;
  db__webhook w;
  if (db__webhook_parse(r->id, r->body, &w) != 0) return 0;
  a->webhooks = db_realloc(a->webhooks, (a->n_webhooks + 1) * sizeof *a->webhooks);
  a->webhooks[a->n_webhooks++] = w;
  return 0;
}

static int load_silence(void *ctx, const db_record *r) {
  db__alerts *a = ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  const char *rule = json_string_value(json_object_get(o, "rule")), *unit = json_string_value(json_object_get(o, "unit"));
  a->silences = db_realloc(a->silences, (a->n_silences + 1) * sizeof *a->silences);
  a->silences[a->n_silences++] = (db__silence){r->id, rule ? db_strdup(rule) : NULL, unit ? db_strdup(unit) : NULL,
                                               json_integer_value(json_object_get(o, "from_ms")),
                                               json_integer_value(json_object_get(o, "until_ms"))};
  json_decref(o);
  return 0;
}

/* Whether a silence covers (rule, unit) at now. */
static int silenced(const db__alerts *a, const char *rule, const char *unit, int64_t now) {
  for (size_t i = 0; i < a->n_silences; i++) {
    const db__silence *s = &a->silences[i];
    if (now >= s->from_ms && now < s->until_ms && (!s->rule || strcmp(s->rule, rule) == 0) &&
        (!s->unit || strcmp(s->unit, unit) == 0))
      return 1;
  }
  return 0;
}

/* Whether the same rule fires at an ancestor of unit (inhibition: the city mutes its wards). */
static int inhibited(db__alerts *a, const db_catalog *cat, const char *rule, int64_t unit) {
  for (int64_t u = cat->unit_parent ? cat->unit_parent[unit] : -1, depth = 0; u >= 0 && depth < 64;
       u = cat->unit_parent[u], depth++) {
    const db_watch_state *s = db_watch_state_of(a->watch, rule, u);
    if (s && s->phase == DB_PHASE_FIRING) return 1;
  }
  return 0;
}

static db__scenario_slot *scenario_of_rule(db__alerts *a, const char *rule) {
  for (size_t i = 0; i < a->n_scenarios; i++)
    for (size_t k = 0; k < a->scenarios[i].s->n_rules; k++)
      if (strcmp(a->scenarios[i].s->rules[k]->code, rule) == 0) return &a->scenarios[i];
  return NULL;
}

static db__scenario_slot *scenario_by_code(db__alerts *a, const char *code) {
  for (size_t i = 0; i < a->n_scenarios; i++)
    if (strcmp(a->scenarios[i].s->code, code) == 0) return &a->scenarios[i];
  return NULL;
}

/* ---- events and deliveries ---- */

static int webhook_wants(const db__webhook *w, const char *kind, int severity) {
  if (!w->active || (w->min_severity && severity && severity < w->min_severity)) return 0;
  for (size_t i = 0; i < w->n_events; i++) {
    const char *p = w->events[i];
    size_t n = strlen(p);
    if (strcmp(p, "*") == 0 || strcmp(p, kind) == 0 || (n > 1 && p[n - 1] == '*' && strncmp(p, kind, n - 1) == 0))
      return 1;
  }
  return 0;
}

static int stage_delivery(db_store *s, const db__webhook *w, const db_event *e) {
  db_delivery dl;
  int err = db_exchange_delivery_new(s, w->id, w->url, &w->policy, e, &dl);
  if (err) return err;
  if (n_staged == cap_staged) {
    cap_staged = cap_staged ? 2 * cap_staged : 16;
    staged = db_realloc(staged, cap_staged * sizeof *staged);
  }
  staged[n_staged++] = dl;
  return 0;
}

/* Appends the event, and (notify) its deliveries to the webhooks that want it, in the open transaction;
 * the webhooks of extra[0..n_extra) (a scenario's webhook actions; -1 = every active webhook) get it too,
 * whatever their filter, once each. */
static int event_to(db__alerts *a, db_store *s, const char *kind, json_t *body, int notify, const int64_t *extra,
                    size_t n_extra) {
  char *text = dumps(body);
  db_event e = {.kind = kind, .body = text};
  int err = db_store_event_append(s, &e);
  int severity = 0;
  const char *sev = json_string_value(json_object_get(body, "severity"));
  if (sev) db_severity_parse(sev, &severity);
  for (size_t i = 0; !err && notify && i < a->n_webhooks; i++) {
    const db__webhook *w = &a->webhooks[i];
    int wanted = webhook_wants(w, kind, severity);
    for (size_t k = 0; k < n_extra && !wanted; k++) wanted = w->active && (extra[k] < 0 || extra[k] == w->id);
    if (wanted) err = stage_delivery(s, w, &e);
  }
  if (!err && e.id > atomic_load(&a->last_event)) atomic_store(&a->last_event, e.id);
  db_free(text);
  json_decref(body);
  return err;
}

int db__alerts_event(db__alerts *a, db_store *s, const char *kind, json_t *body, int notify) {
  return event_to(a, s, kind, body, notify, NULL, 0);
}

/* Drops (or, sent, hands to the outbox) the deliveries staged in the transaction. */
static void unstage(db__alerts *a, int send) {
  for (size_t i = 0; i < n_staged; i++) {
    if (send && a->outbox) db_outbox_add(a->outbox, &staged[i]);
    db_delivery_free(&staged[i]);
  }
  n_staged = 0;
}

int db__alerts_finish(db__alerts *a, db_store *s, int err) {
  if (!err) err = db_store_commit(s);
  if (err) db_store_rollback(s);
  unstage(a, !err);
  if (!err) db_streams_wake_all();
  return err;
}

/* ---- alerts ---- */

static void put_period(json_t *o, const char *name, int has, const db_period *p) {
  char code[DB_PERIOD_CODE_MAX];
  if (!has) return;
  db_period_format(p, code);
  json_object_set_new(o, name, json_string(code));
}

/* Writes the state's current alert into its record (creating it for a new alert): 0 or a store error. */
static int write_alert(db__alerts *a, db_store *s, const db_watch_transition *t, const db__scenario_slot *scen,
                       int is_silenced, int is_inhibited) {
  db_watch_state *live = t->state;
  const db_watch_state *st = &t->at;
  json_t *o = NULL;
  db_record old = {0};
  if (live->alert_id && db_store_record_get(s, DB_WATCH_ALERT_KIND, live->alert_id, NULL, &old) == 0)
    o = json_loads(old.body, 0, NULL);
  db_record_free(&old);
  if (!o) {
    o = json_object();
    json_object_set_new(o, "rule", json_string(t->rule->code));
    json_object_set_new(o, "unit", json_string(t->unit_code));
    json_object_set_new(o, "unit_name", json_string(t->unit_name));
    json_object_set_new(o, "severity", json_string(db_severity_name(t->rule->severity)));
    json_t *labels = json_object();
    for (size_t i = 0; i < t->rule->n_labels; i++)
      json_object_set_new(labels, t->rule->labels[i].key, json_string(t->rule->labels[i].value));
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "scenario", scen ? json_string(scen->s->code) : json_null());
    json_object_set_new(o, "acknowledged", json_null());
    json_object_set_new(o, "assigned", json_null());
    live->alert_id = 0;
  }
  const char *state = st->phase == DB_PHASE_FIRING ? "firing" : st->phase == DB_PHASE_PENDING ? "pending" : NULL;
  if (t->change == DB_WC_RESOLVED) state = "resolved";
  if (t->change == DB_WC_CLEARED) state = "cleared";
  if (state) json_object_set_new(o, "state", json_string(state));
  put_period(o, "pending_at", st->has_pending, &st->pending_p);
  if (st->has_pending || st->pending_ms) json_object_set_new(o, "pending_ms", json_integer(st->pending_ms));
  if (t->change == DB_WC_FIRING || json_object_get(o, "firing_ms")) {
    put_period(o, "firing_at", st->has_firing, &st->firing_p);
    if (t->change == DB_WC_FIRING) json_object_set_new(o, "firing_ms", json_integer(st->firing_ms));
  }
  if (t->change == DB_WC_RESOLVED) {
    if (t->period[0]) json_object_set_new(o, "resolved_at", json_string(t->period));
    json_object_set_new(o, "resolved_ms", json_integer(t->at_ms));
  }
  if (t->change == DB_WC_CLEARED && t->period[0]) json_object_set_new(o, "cleared_at", json_string(t->period));
  put_period(o, "last", st->has_last, &st->last);
  json_object_set_new(o, "run", json_integer(st->run));
  json_object_set_new(o, "value", number_or_null(t->value));
  json_object_set_new(o, "message", json_pack("{s:s,s:s}", "vi", t->message_vi, "en", t->message_en));
  json_object_set_new(o, "silenced", json_boolean(is_silenced));
  json_object_set_new(o, "inhibited", json_boolean(is_inhibited));
  json_object_set_new(o, "stale", json_boolean(st->stale));
  char *body = dumps(o);
  json_decref(o);
  db_record r = {.id = live->alert_id, .kind = DB_WATCH_ALERT_KIND, .body = body};
  int err = db_store_record_put(s, &r, 0);
  db_free(body);
  if (!err) live->alert_id = r.id;
  return err;
}

static json_t *transition_event(const db_watch_transition *t, const db__scenario_slot *scen, int is_silenced,
                                int is_inhibited) {
  return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s},s:o,s:b,s:b}", "alert", (json_int_t)t->state->alert_id,
                   "rule", t->rule->code, "unit", t->unit_code, "unit_name", t->unit_name, "severity",
                   db_severity_name(t->rule->severity), "period", t->period, "value", number_or_null(t->value),
                   "message", "vi", t->message_vi, "en", t->message_en, "scenario",
                   scen ? json_string(scen->s->code) : json_null(), "silenced", is_silenced, "inhibited",
                   is_inhibited);
}

/* The city's day of an instant (deadlines of tasks are days). */
static int64_t city_day(int64_t ms) { return (ms + (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000) / 86400000; }

/* A scenario's task action for a firing alert: a task with its deadline relative to the alert. */
static int action_task(db__alerts *a, db_store *s, const db_catalog *cat, const db__scenario_slot *scen,
                       const db_scenario_action *act, const db_watch_transition *t) {
  char *title = db_watch_render(act->title, t->rule, t->unit_code, t->unit_name, t->value, t->period);
  db_buf co = DB_BUF_INIT;
  for (size_t i = 0; i < act->n_co; i++) db_buf_printf(&co, "%s%s", i ? ";" : "", act->co[i]);
  char origin[96];
  snprintf(origin, sizeof origin, "alert:%" PRId64, t->state->alert_id);
  db_task_spec spec;
  db_task_spec_init(&spec);
  spec.title = title;
  spec.description = t->message_vi;
  spec.lead = act->lead;
  spec.co_agencies = act->n_co ? db_buf_str(&co) : NULL;
  spec.unit = t->unit_code;
  spec.deadline = city_day(t->at_ms + act->deadline_ms);
  spec.priority = t->rule->severity >= DB_SEV_CRITICAL ? DB_TASK_URGENT : DB_TASK_HIGH;
  spec.origin = origin;
  int64_t task = 0;
  db_diag d = DB_DIAG_INIT;
  int err = db_tasks_create(s, cat, &spec, "system", &task, &d);
  json_t *body = json_pack("{s:s,s:s,s:I,s:s,s:s}", "scenario", scen->s->code, "rule", t->rule->code, "alert",
                           (json_int_t)t->state->alert_id, "type", "task", "title", title);
  if (err) {
    json_object_set_new(body, "error", json_string(d.count ? d.items[0].message : db_strerror(err)));
    err = err == DB_EINVAL ? 0 : err; /* a bad template is the scenario's problem, logged in its timeline */
  } else {
    json_object_set_new(body, "task", json_integer(task));
  }
  db_diag_free(&d);
  db_free(title);
  db_buf_free(&co);
  return err ? err : event_to(a, s, "scenario.action", body, 0, NULL, 0);
}

/* The actions of the scenario a firing alert belongs to: activation and tasks; its webhook actions go to
 * extra (at most 64), for the firing event's deliveries. */
static int run_actions(db__alerts *a, db_store *s, const db_catalog *cat, db__scenario_slot *scen,
                       const db_watch_transition *t, int64_t *extra, size_t *n_extra) {
  int err = 0;
  for (size_t i = 0; i < scen->s->n_auto_on && !err; i++)
    if (strcmp(scen->s->auto_on[i], t->rule->code) == 0 && !scen->active)
      err = db__alerts_activate(a, s, scen->s->code, 1, "system", t->rule->code);
  size_t idx[64], n = db_scenario_actions_for(scen->s, t->rule->code, t->change, idx, 64);
  for (size_t i = 0; i < n && i < 64 && !err; i++) {
    const db_scenario_action *act = &scen->s->actions[idx[i]];
    if (strcmp(act->type, "task") == 0) err = action_task(a, s, cat, scen, act, t);
    else if (strcmp(act->type, "webhook") == 0 && *n_extra < 64)
      extra[(*n_extra)++] = act->webhook ? act->webhook : -1;
    else if (strcmp(act->type, "activate") == 0 && !scen->active)
      err = db__alerts_activate(a, s, scen->s->code, 1, "system", t->rule->code);
  }
  return err;
}

/* One transition: its alert record, its event, its notifications and its scenario's actions. The event
 * names the data batch that caused it (cause; NULL for the clock): its number and when it committed. */
static int handle(db__alerts *a, db_store *s, const db_catalog *cat, db_watch_transition *t, const db_commit *cause) {
  db__scenario_slot *scen = scenario_of_rule(a, t->rule->code);
  int is_silenced = silenced(a, t->rule->code, t->unit_code, t->at_ms);
  int is_inhibited = inhibited(a, cat, t->rule->code, t->unit);
  int ends = t->change == DB_WC_RESOLVED || t->change == DB_WC_CLEARED;
  int err = 0;
  if (t->change != DB_WC_REPEAT && (t->state->alert_id || t->change == DB_WC_PENDING || t->change == DB_WC_FIRING))
    err = write_alert(a, s, t, scen, is_silenced, is_inhibited);
  if (err) return err;
  char kind[32];
  snprintf(kind, sizeof kind, "alert.%s", db_watch_change_name(t->change));
  int notify = (t->change == DB_WC_FIRING || t->change == DB_WC_RESOLVED || t->change == DB_WC_REPEAT ||
                t->change == DB_WC_STALE) && !is_silenced && !is_inhibited;
  json_t *body = transition_event(t, scen, is_silenced, is_inhibited);
  if (cause) {
    json_object_set_new(body, "batch", json_integer(cause->seq));
    json_object_set_new(body, "batch_ms", json_integer(cause->time_ms));
  }
  int64_t extra[64];
  size_t n_extra = 0;
  if (t->change == DB_WC_FIRING && scen) err = run_actions(a, s, cat, scen, t, extra, &n_extra);
  if (!err) err = event_to(a, s, kind, body, notify, extra, notify ? n_extra : 0);
  else json_decref(body);
  if (ends) t->state->alert_id = 0;
  return err;
}

/* Writes every transition of out in one transaction (the write lock held); cause as for handle. */
static void process(db__alerts *a, db_store *s, const db_catalog *cat, db_watch_out *out, const db_commit *cause) {
  if (!out->n) return;
  int err = db_store_begin(s, 0);
  for (size_t i = 0; i < out->n && !err; i++) err = handle(a, s, cat, &out->items[i], cause);
  if ((err = db__alerts_finish(a, s, err)))
    fprintf(stderr, "databrain serve: alerts: %s: %zu alert changes not recorded\n", db_strerror(err), out->n);
}

/* ---- rules and scenarios ---- */

int db__alerts_put_rule(db__alerts *a, db_store *s, const db_watch_rule *r, const char *actor, int *created,
                        db_diag *d) {
  int err = db_watch_save_rule(s, r, actor, created, d);
  if (!err) err = db_watch_put_rule(a->watch, r, &a->app->snap->cat, d);
  return err;
}

int db__alerts_delete_rule(db__alerts *a, db_store *s, const char *code, const char *actor) {
  int err = db_watch_delete_rule(s, code, actor);
  if (!err) db_watch_remove_rule(a->watch, code);
  return err;
}

/* Puts a parsed scenario in memory (replacing the one of its code) and its rules in the engine. */
static int adopt_scenario(db__alerts *a, const db_catalog *cat, int64_t id, db_scenario *sc, const char *doc, int active,
                          int64_t activated_ms, db_diag *d) {
  for (size_t i = 0; i < sc->n_rules; i++) {
    int err = db_watch_put_rule(a->watch, sc->rules[i], cat, d);
    if (err) return err;
  }
  db__scenario_slot *slot = scenario_by_code(a, sc->code);
  if (slot) {
    for (size_t i = 0; i < slot->s->n_rules; i++) { /* rules the new version dropped */
      int kept = 0;
      for (size_t k = 0; k < sc->n_rules; k++) kept |= strcmp(sc->rules[k]->code, slot->s->rules[i]->code) == 0;
      if (!kept) db_watch_remove_rule(a->watch, slot->s->rules[i]->code);
    }
    db_scenario_free(slot->s);
    db_free(slot->doc);
  } else {
    a->scenarios = db_realloc(a->scenarios, (a->n_scenarios + 1) * sizeof *a->scenarios);
    slot = &a->scenarios[a->n_scenarios++];
  }
  *slot = (db__scenario_slot){id, sc, db_strdup(doc), active, activated_ms};
  return 0;
}

int db__alerts_put_scenario(db__alerts *a, db_store *s, const db_catalog *cat, const char *text, size_t len,
                            const char *actor, int *created, db_diag *d) {
  db_scenario *sc = NULL;
  db_watch_saved saved;
  int err = db_watch_save_scenario(s, cat, text, len, actor, &sc, &saved, d);
  if (err) return err;
  char *doc = db_strndup(text, len);
  err = adopt_scenario(a, cat, saved.id, sc, doc, saved.active, saved.activated_ms, d);
  db_free(doc);
  *created = saved.created;
  return err;
}

int db__alerts_activate(db__alerts *a, db_store *s, const char *code, int on, const char *actor, const char *note) {
  db__scenario_slot *slot = scenario_by_code(a, code);
  if (!slot) return DB_ENOTFOUND;
  if (slot->active == on) return DB_ECONFLICT;
  db_record rec = {0};
  int err = db_store_record_get(s, DB_WATCH_SCENARIO_KIND, slot->id, NULL, &rec);
  if (err) return err;
  json_t *body = json_loads(rec.body, 0, NULL);
  int64_t now = db_now_ms();
  json_object_set_new(body, "active", json_boolean(on));
  json_object_set_new(body, on ? "activated_ms" : "deactivated_ms", json_integer(now));
  json_object_set_new(body, on ? "activated_by" : "deactivated_by", json_string(actor));
  char *text = dumps(body);
  json_decref(body);
  db_record put = {.id = rec.id, .kind = DB_WATCH_SCENARIO_KIND, .key = code, .body = text};
  err = db_store_record_put(s, &put, 0);
  db_free(text);
  db_record_free(&rec);
  db_audit au = {.actor = actor, .action = on ? "scenario.activate" : "scenario.deactivate", .object = code};
  if (!err) err = db_store_audit_append(s, &au);
  if (!err)
    err = event_to(a, s, on ? "scenario.activated" : "scenario.deactivated",
                   json_pack("{s:s,s:s,s:s?,s:s}", "scenario", code, "by", actor, "note", note, "kind", slot->s->kind),
                   1, NULL, 0);
  if (!err) {
    slot->active = on;
    if (on) slot->activated_ms = now;
  }
  return err;
}

/* ---- opening: records back into memory ---- */

typedef struct load_ctx {
  db__alerts *a;
  const db_catalog *cat;
  db_diag *d;
} load_ctx;

static int load_rule(void *ctx, const db_record *r) {
  load_ctx *l = ctx;
  db_watch_rule *rule = NULL;
  db_diag d = DB_DIAG_INIT;
  if (db_watch_rule_parse(r->body, strlen(r->body), &rule, &d) == 0 && db_watch_put_rule(l->a->watch, rule, l->cat, &d))
    fprintf(stderr, "databrain serve: alerts: rule %s no longer fits the catalog: it is not evaluated\n", r->key);
  db_watch_rule_free(rule);
  db_diag_free(&d);
  return 0;
}

static int load_scenario(void *ctx, const db_record *r) {
  load_ctx *l = ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  char *doc = dumps(json_object_get(o, "doc"));
  db_scenario *sc = NULL;
  db_diag d = DB_DIAG_INIT;
  if (db_scenario_parse(doc, strlen(doc), l->cat, &sc, &d) == 0) {
    if (adopt_scenario(l->a, l->cat, r->id, sc, doc, json_is_true(json_object_get(o, "active")),
                       json_integer_value(json_object_get(o, "activated_ms")), &d))
      fprintf(stderr, "databrain serve: alerts: scenario %s: its rules do not fit the catalog\n", r->key);
  } else {
    fprintf(stderr, "databrain serve: alerts: scenario %s no longer fits the catalog: it is not loaded\n", r->key);
  }
  db_diag_free(&d);
  db_free(doc);
  json_decref(o);
  return 0;
}

/* An open alert (pending or firing) gives its (rule, unit) state back. */
static int load_alert(void *ctx, const db_record *r) {
  load_ctx *l = ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  const char *state = json_string_value(json_object_get(o, "state")), *rule = json_string_value(json_object_get(o, "rule")),
             *unit = json_string_value(json_object_get(o, "unit"));
  int64_t u;
  if (json_object_get(o, "acknowledged") && !json_is_null(json_object_get(o, "acknowledged")))
    db_map_put(&l->a->quiet, &r->id, sizeof r->id, 1);
  if (json_is_true(json_object_get(o, "escalated"))) db_map_put(&l->a->quiet, &r->id, sizeof r->id, 1);
  if (state && rule && unit && (strcmp(state, "pending") == 0 || strcmp(state, "firing") == 0) &&
      db_map_gets(&l->cat->unit_index, unit, &u)) {
    db_watch_state *s = db_watch_state_of(l->a->watch, rule, u);
    const char *pa = json_string_value(json_object_get(o, "pending_at")),
               *fa = json_string_value(json_object_get(o, "firing_at")),
               *last = json_string_value(json_object_get(o, "last"));
    if (s) {
      s->phase = strcmp(state, "firing") == 0 ? DB_PHASE_FIRING : DB_PHASE_PENDING;
      s->alert_id = r->id;
      s->run = json_integer_value(json_object_get(o, "run"));
      s->pending_ms = json_integer_value(json_object_get(o, "pending_ms"));
      s->firing_ms = json_integer_value(json_object_get(o, "firing_ms"));
      s->last_notify_ms = s->firing_ms;
      s->has_pending = pa && db_period_parse(pa, strlen(pa), &s->pending_p, NULL) == 0;
      s->has_firing = fa && db_period_parse(fa, strlen(fa), &s->firing_p, NULL) == 0;
      s->has_last = last && db_period_parse(last, strlen(last), &s->last, NULL) == 0;
      const db_watch_rule *wr = db_watch_find_rule(l->a->watch, rule);
      db_period_type want = s->has_pending ? s->pending_p.type : 0;
      if (s->has_last && wr && want && s->last.type != want) s->has_last = 0;
    }
  }
  json_decref(o);
  return 0;
}

static int note_event(void *ctx, const db_event *e) {
  db__alerts *a = ctx;
  atomic_store(&a->last_event, e->id);
  return 0;
}

/* ---- the outbox's callbacks (the sender thread) ---- */

static int save_delivery(void *ctx, const db_delivery *dl) {
  db__alerts *a = ctx;
  db_store *s = db_app_write_begin(a->app);
  char *body = db_delivery_body(dl);
  db_record r = {.id = dl->id, .kind = DB_DELIVERY_KIND, .body = body};
  int err = db_store_begin(s, 0);
  if (!err) err = db_store_record_put(s, &r, 0);
  if (!err && strcmp(dl->status, "dead") == 0) {
    pthread_mutex_lock(&a->lock);
    err = event_to(a, s, "webhook.dead",
                   json_pack("{s:I,s:I,s:I,s:s,s:i}", "delivery", (json_int_t)dl->id, "webhook", (json_int_t)dl->webhook,
                             "event", (json_int_t)dl->event, "url", dl->url, "attempts", dl->attempts),
                   0, NULL, 0);
    pthread_mutex_unlock(&a->lock);
  }
  if (!err) err = db_store_commit(s);
  if (err) db_store_rollback(s);
  db_app_write_end(a->app);
  db_free(body);
  if (!err) db_streams_wake_all();
  return err;
}

static int webhook_secret(void *ctx, int64_t webhook, char *out, size_t size) {
  db__alerts *a = ctx;
  int err = DB_ENOTFOUND;
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < a->n_webhooks; i++)
    if (a->webhooks[i].id == webhook) {
      snprintf(out, size, "%s", a->webhooks[i].secret);
      err = 0;
    }
  pthread_mutex_unlock(&a->lock);
  return err;
}

/* ---- hooks ---- */

static int open_alerts(db_app *app, void **state, db_diag *d) {
  db__alerts *a = db_calloc(1, sizeof *a);
  a->app = app;
  pthread_mutex_init(&a->lock, NULL);
  a->watch = db_watch_new();
  db_store *s = app->writer;
  load_ctx l = {a, &app->snap->cat, d};
  int err = db_store_record_scan(s, DB__WEBHOOK_KIND, load_webhook, a);
  if (!err) err = db_store_record_scan(s, DB__SILENCE_KIND, load_silence, a);
  if (!err) err = db_store_record_scan(s, DB_WATCH_RULE_KIND, load_rule, &l);
  if (!err) err = db_store_record_scan(s, DB_WATCH_SCENARIO_KIND, load_scenario, &l);
  if (!err) err = db_store_record_scan(s, DB_WATCH_ALERT_KIND, load_alert, &l);
  if (!err) err = db_store_event_read(s, 0, note_event, a);
  db_outbox_hooks hooks = {a, save_delivery, webhook_secret, NULL};
  if (!err) err = db_outbox_open(s, &hooks, OUTBOX_TIMEOUT_MS, &a->outbox, d);
  *state = a;
  if (err && !d->count) db_diag_add(d, 0, 0, NULL, err, "the alerts cannot be read from the store");
  return err;
}

static void on_committed(void *state, db_app *app, const db_commit *c) {
  db__alerts *a = state;
  const db_cube_version *v;
  db_derive *dv;
  db_snapshot *snap = db_app_snapshot_acquire(app, &v, &dv);
  db_watch_out out = {0};
  db_diag d = DB_DIAG_INIT;
  pthread_mutex_lock(&a->lock);
  db_watch_on_commit(a->watch, &snap->cat, v, dv, c->changes, c->n_changes, c->time_ms ? c->time_ms : db_now_ms(),
                     &out, &d);
  process(a, app->writer, &snap->cat, &out, c);
  pthread_mutex_unlock(&a->lock);
  if (d.count) fprintf(stderr, "databrain serve: alerts: %s\n", d.items[0].message);
  db_diag_free(&d);
  db_watch_out_free(&out);
  db_app_snapshot_release(snap, v);
}

static void on_catalog(void *state, db_app *app) {
  db__alerts *a = state;
  db_diag d = DB_DIAG_INIT;
  pthread_mutex_lock(&a->lock);
  db_watch_set_catalog(a->watch, &app->snap->cat, &d);
  pthread_mutex_unlock(&a->lock);
  for (size_t i = 0; i < d.count; i++) fprintf(stderr, "databrain serve: alerts: %s\n", d.items[i].message);
  db_diag_free(&d);
}

typedef struct escalation {
  db__alerts *a;
  db_store *s;
  int64_t now;
  int err;
} escalation;

/* A firing alert of a scenario with an escalation action, unacknowledged for longer than its delay. */
static void escalate_one(void *ctx, const db_watch_rule *r, int64_t unit, const db_watch_state *st) {
  escalation *e = ctx;
  int64_t one;
  (void)unit;
  if (e->err || st->phase != DB_PHASE_FIRING || !st->alert_id || db_map_get(&e->a->quiet, &st->alert_id, sizeof st->alert_id, &one))
    return;
  db__scenario_slot *scen = scenario_of_rule(e->a, r->code);
  for (size_t i = 0; scen && i < scen->s->n_actions && !e->err; i++) {
    const db_scenario_action *act = &scen->s->actions[i];
    if (strcmp(act->type, "escalate") != 0 || (strcmp(act->on, "*") != 0 && strcmp(act->on, r->code) != 0) ||
        e->now - st->firing_ms < act->after_ms)
      continue;
    db_record rec = {0};
    if (!e->err && !(e->err = db_store_record_get(e->s, DB_WATCH_ALERT_KIND, st->alert_id, NULL, &rec))) {
      json_t *o = json_loads(rec.body, 0, NULL);
      json_object_set_new(o, "escalated", json_pack("{s:s,s:I}", "to", act->to, "at_ms", (json_int_t)e->now));
      char *text = dumps(o);
      db_record put = {.id = rec.id, .kind = DB_WATCH_ALERT_KIND, .body = text};
      e->err = db_store_record_put(e->s, &put, 0);
      if (!e->err)
        e->err = event_to(e->a, e->s, "alert.escalated",
                          json_pack("{s:I,s:s,s:O,s:s,s:s,s:I}", "alert", (json_int_t)st->alert_id, "rule", r->code,
                                    "unit", json_object_get(o, "unit"), "severity", db_severity_name(r->severity), "to",
                                    act->to, "unacknowledged_ms", (json_int_t)(e->now - st->firing_ms)),
                          1, NULL, 0);
      json_decref(o);
      db_free(text);
    }
    db_record_free(&rec);
    db_map_put(&e->a->quiet, &st->alert_id, sizeof st->alert_id, 1);
    break;
  }
}

static void on_tick(void *state, db_app *app, int64_t now_ms) {
  db__alerts *a = state;
  const db_cube_version *v;
  db_derive *dv;
  db_store *s = db_app_write_begin(app);
  db_snapshot *snap = db_app_snapshot_acquire(app, &v, &dv);
  db_watch_out out = {0};
  pthread_mutex_lock(&a->lock);
  db_watch_tick(a->watch, &snap->cat, now_ms, &out);
  process(a, s, &snap->cat, &out, NULL);
  escalation e = {a, s, now_ms, 0};
  if (db_store_begin(s, 0) == 0) {
    db_watch_each_active(a->watch, escalate_one, &e);
    db__alerts_finish(a, s, e.err);
  }
  pthread_mutex_unlock(&a->lock);
  db_app_snapshot_release(snap, v);
  db_app_write_end(app);
  db_watch_out_free(&out);
  db_streams_wake_all(); /* heartbeats, and the events other services appended */
}

static void close_alerts(void *state) {
  db__alerts *a = state;
  if (!a) return;
  db_outbox_close(a->outbox);
  db_watch_free(a->watch);
  for (size_t i = 0; i < a->n_scenarios; i++) db_scenario_free(a->scenarios[i].s), db_free(a->scenarios[i].doc);
  db_free(a->scenarios);
  for (size_t i = 0; i < a->n_webhooks; i++) db__webhook_free(&a->webhooks[i]);
  db_free(a->webhooks);
  for (size_t i = 0; i < a->n_silences; i++) db_free(a->silences[i].rule), db_free(a->silences[i].unit);
  db_free(a->silences);
  unstage(a, 0);
  db_free(staged);
  staged = NULL;
  cap_staged = 0;
  db_map_free(&a->quiet);
  pthread_mutex_destroy(&a->lock);
  db_free(a);
}
