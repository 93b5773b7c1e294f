/* scenario.c - operational scenarios as data (watch.h): a JSON document read with every problem at its
 * JSON path, and the actions a rule's firing triggers.
 *
 *   {"code": "AIR_POLLUTION", "name": "Ô nhiễm không khí", "name_en": "Air pollution",
 *    "kind": "emergency" | "meeting" | "thematic", "description": "...",
 *    "panels": [{"title": "...", "view": "map"|"chart"|"table"|"kpi", "orgunit": "79",
 *                "indicators": ["PM25"]}],
 *    "rules": [<rule objects, see watch.h>],
 *    "actions": [{"on": "PM25_HIGH" | "*", "type": "task", "title": "...", "lead": "DAE", "co": ["DOH"],
 *                 "deadline": "24h"},
 *                {"on": "*", "type": "webhook", "webhook": 3},      (0 or absent: every webhook)
 *                {"on": "*", "type": "escalate", "after": "30m", "to": "leader"},
 *                {"on": "PM25_HIGH", "type": "activate"}],
 *    "checklist": [{"step": "...", "who": "DAE", "when": "30m"}],
 *    "activation": "manual" | {"auto_on": ["PM25_HIGH"]}} */
#include <jansson.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "watch/watch.h"

#define MAX_ITEMS 1000

static const char *const kinds[] = {"meeting", "emergency", "thematic", NULL};
static const char *const views[] = {"map", "chart", "table", "kpi", NULL};
static const char *const action_types[] = {"task", "webhook", "escalate", "activate", NULL};

static int one_of(const char *s, const char *const *list) {
  for (int i = 0; s && list[i]; i++)
    if (strcmp(s, list[i]) == 0) return 1;
  return 0;
}

/* A text member (NULL when absent, a problem when required or of the wrong type). */
static char *text_at(json_t *o, const char *name, const char *path, int required, db_diag *d) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) {
    if (required) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: required", path, name);
    return NULL;
  }
  if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 8192) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: expected a non-empty text", path, name);
    return NULL;
  }
  return db_strdup(json_string_value(v));
}

/* An array member: its size (0 when absent), a problem when not an array or too long. */
static size_t array_at(json_t *o, const char *name, const char *path, json_t **out, db_diag *d) {
  json_t *v = json_object_get(o, name);
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_array(v) || json_array_size(v) > MAX_ITEMS) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: expected an array of at most %d items", path, name, MAX_ITEMS);
    return 0;
  }
  *out = v;
  return json_array_size(v);
}

/* A list of texts ("co", "indicators", "auto_on"). */
static char **texts_at(json_t *o, const char *name, const char *path, size_t *n, db_diag *d) {
  json_t *a;
  size_t len = array_at(o, name, path, &a, d);
  char **out = db_calloc(len + 1, sizeof *out);
  *n = 0;
  for (size_t i = 0; i < len; i++) {
    json_t *v = json_array_get(a, i);
    if (!json_is_string(v) || !json_string_length(v))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s[%zu]: expected a code", path, name, i);
    else
      out[(*n)++] = db_strdup(json_string_value(v));
  }
  return out;
}

/* A duration member ("30m"): 0 when absent. Reuses the rule reader's grammar through a one-field rule. */
static int64_t duration_at(json_t *o, const char *name, const char *path, db_diag *d) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) return 0;
  const char *s = json_is_string(v) ? json_string_value(v) : "";
  char *end;
  double x = strtod(s, &end);
  int64_t unit = !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000 : !strcmp(end, "h") ? 3600000
                                          : !strcmp(end, "d") ? 86400000 : 0;
  if (end == s || !unit || !(x > 0) || x > 1e6) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: expected a duration like \"30m\", \"24h\", \"7d\"", path, name);
    return 0;
  }
  return (int64_t)(x * (double)unit);
}

/* Item i of an array of objects: the object (and its path "$.NAME[i]" in path), or NULL with a problem. */
static json_t *object_at(json_t *arr, const char *name, size_t i, const char *what, char path[64], db_diag *d) {
  snprintf(path, 64, "$.%s[%zu]", name, i);
  json_t *o = json_array_get(arr, i);
  if (!json_is_object(o)) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: expected %s object", path, what);
  return json_is_object(o) ? o : NULL;
}

static void check_indicator(const db_catalog *cat, const char *code, const char *path, db_diag *d) {
  int64_t idx;
  if (cat && !db_map_gets(&cat->indicator_index, code, &idx))
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: unknown indicator '%s'", path, code);
}

static void read_panels(json_t *doc, db_scenario *s, const db_catalog *cat, db_diag *d) {
  json_t *a;
  size_t n = array_at(doc, "panels", "$", &a, d);
  s->panels = db_calloc(n + 1, sizeof *s->panels);
  for (size_t i = 0; i < n; i++) {
    char path[64];
    json_t *o = object_at(a, "panels", i, "a panel", path, d);
    if (!o) continue;
    db_scenario_panel *p = &s->panels[s->n_panels++];
    p->title = text_at(o, "title", path, 1, d);
    p->view = text_at(o, "view", path, 0, d);
    if (p->view && !one_of(p->view, views))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.view: expected map, chart, table or kpi", path);
    p->orgunit = text_at(o, "orgunit", path, 0, d);
    int64_t idx;
    if (p->orgunit && cat && !db_map_gets(&cat->unit_index, p->orgunit, &idx))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.orgunit: unknown org unit '%s'", path, p->orgunit);
    p->indicators = texts_at(o, "indicators", path, &p->n_indicators, d);
    for (size_t k = 0; k < p->n_indicators; k++) {
      char sub[128];
      snprintf(sub, sizeof sub, "%s.indicators[%zu]", path, k);
      check_indicator(cat, p->indicators[k], sub, d);
    }
  }
}

static void read_rules(json_t *doc, db_scenario *s, const db_catalog *cat, db_diag *d) {
  json_t *a;
  size_t n = array_at(doc, "rules", "$", &a, d);
  s->rules = db_calloc(n + 1, sizeof *s->rules);
  for (size_t i = 0; i < n; i++) {
    char path[64];
    snprintf(path, sizeof path, "$.rules[%zu]", i);
    db_watch_rule *r;
    if (db_watch_rule_from_json(json_array_get(a, i), path, &r, d) != 0) continue;
    if (cat) db_watch_rule_check(r, cat, path, d);
    for (size_t k = 0; k < s->n_rules; k++)
      if (strcmp(s->rules[k]->code, r->code) == 0)
        db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.code: '%s' is already the code of rules[%zu]", path, r->code, k);
    s->rules[s->n_rules++] = r;
  }
}

/* Whether `code` names a rule of the scenario, or is "*". */
static int names_rule(const db_scenario *s, const char *code) {
  if (strcmp(code, "*") == 0) return 1;
  for (size_t i = 0; i < s->n_rules; i++)
    if (strcmp(s->rules[i]->code, code) == 0) return 1;
  return 0;
}

static void read_action(json_t *o, const char *path, db_scenario *s, db_diag *d) {
  db_scenario_action *a = &s->actions[s->n_actions++];
  a->on = text_at(o, "on", path, 1, d);
  if (a->on && !names_rule(s, a->on))
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.on: '%s' is no rule of this scenario (or \"*\")", path, a->on);
  a->type = text_at(o, "type", path, 1, d);
  if (a->type && !one_of(a->type, action_types))
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.type: expected task, webhook, escalate or activate", path);
  if (a->type && strcmp(a->type, "task") == 0) {
    a->title = text_at(o, "title", path, 1, d);
    a->lead = text_at(o, "lead", path, 1, d);
    a->co = texts_at(o, "co", path, &a->n_co, d);
    a->deadline_ms = duration_at(o, "deadline", path, d);
    if (!a->deadline_ms) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.deadline: required for a task", path);
  } else if (a->type && strcmp(a->type, "webhook") == 0) {
    json_t *w = json_object_get(o, "webhook");
    if (w && !json_is_integer(w)) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.webhook: expected a webhook id", path);
    a->webhook = w && json_is_integer(w) ? json_integer_value(w) : 0;
  } else if (a->type && strcmp(a->type, "escalate") == 0) {
    a->after_ms = duration_at(o, "after", path, d);
    if (!a->after_ms) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.after: required for an escalation", path);
    a->to = text_at(o, "to", path, 1, d);
  }
}

static void read_actions(json_t *doc, db_scenario *s, db_diag *d) {
  json_t *arr;
  size_t n = array_at(doc, "actions", "$", &arr, d);
  s->actions = db_calloc(n + 1, sizeof *s->actions);
  for (size_t i = 0; i < n; i++) {
    char path[64];
    json_t *o = object_at(arr, "actions", i, "an action", path, d);
    if (o) read_action(o, path, s, d);
  }
}

static void read_checklist(json_t *doc, db_scenario *s, db_diag *d) {
  json_t *arr;
  size_t n = array_at(doc, "checklist", "$", &arr, d);
  s->checklist = db_calloc(n + 1, sizeof *s->checklist);
  for (size_t i = 0; i < n; i++) {
    char path[64];
    json_t *o = object_at(arr, "checklist", i, "a step", path, d);
    if (!o) continue;
    db_scenario_step *st = &s->checklist[s->n_checklist++];
    st->step = text_at(o, "step", path, 1, d);
    st->who = text_at(o, "who", path, 0, d);
    st->when_ms = duration_at(o, "when", path, d);
  }
}

static void read_activation(json_t *doc, db_scenario *s, db_diag *d) {
  json_t *act = json_object_get(doc, "activation");
  s->auto_on = db_calloc(1, sizeof *s->auto_on);
  if (!act || json_is_null(act) || (json_is_string(act) && strcmp(json_string_value(act), "manual") == 0)) return;
  if (!json_is_object(act)) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.activation: expected \"manual\" or {\"auto_on\": [rule codes]}");
    return;
  }
  db_free(s->auto_on);
  s->auto_on = texts_at(act, "auto_on", "$.activation", &s->n_auto_on, d);
  for (size_t i = 0; i < s->n_auto_on; i++)
    if (!names_rule(s, s->auto_on[i]) || strcmp(s->auto_on[i], "*") == 0)
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.activation.auto_on[%zu]: '%s' is no rule of this scenario", i,
                  s->auto_on[i]);
}

static const char *const fields[] = {"code", "name", "name_en", "kind", "description", "panels", "rules",
                                     "actions", "checklist", "activation", NULL};

int db_scenario_parse(const char *text, size_t len, const db_catalog *cat, db_scenario **out, db_diag *d) {
  *out = NULL;
  json_error_t je;
  json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!doc) return db_diag_add(d, je.line, je.column, "$", DB_EINVAL, "not JSON: %s", je.text);
  if (!json_is_object(doc)) {
    json_decref(doc);
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$: expected a scenario object");
  }
  size_t before = db_diag_total(d);
  const char *k;
  json_t *v;
  json_object_foreach(doc, k, v) {
    if (!one_of(k, fields)) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.%s: unknown field", k);
  }
  db_scenario *s = db_calloc(1, sizeof *s);
  s->code = text_at(doc, "code", "$", 1, d);
  s->name = text_at(doc, "name", "$", 1, d);
  s->name_en = text_at(doc, "name_en", "$", 0, d);
  s->kind = text_at(doc, "kind", "$", 1, d);
  if (s->kind && !one_of(s->kind, kinds))
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "$.kind: expected meeting, emergency or thematic");
  s->description = text_at(doc, "description", "$", 0, d);
  read_panels(doc, s, cat, d);
  read_rules(doc, s, cat, d);
  read_actions(doc, s, d);
  read_checklist(doc, s, d);
  read_activation(doc, s, d);
  json_decref(doc);
  if (db_diag_total(d) != before) {
    db_scenario_free(s);
    return DB_EINVAL;
  }
  *out = s;
  return 0;
}

static void free_texts(char **t, size_t n) {
  for (size_t i = 0; t && i < n; i++) db_free(t[i]);
  db_free(t);
}

void db_scenario_free(db_scenario *s) {
  if (!s) return;
  db_free(s->code);
  db_free(s->name);
  db_free(s->name_en);
  db_free(s->kind);
  db_free(s->description);
  for (size_t i = 0; i < s->n_panels; i++) {
    db_free(s->panels[i].title);
    db_free(s->panels[i].view);
    db_free(s->panels[i].orgunit);
    free_texts(s->panels[i].indicators, s->panels[i].n_indicators);
  }
  db_free(s->panels);
  for (size_t i = 0; i < s->n_rules; i++) db_watch_rule_free(s->rules[i]);
  db_free(s->rules);
  for (size_t i = 0; i < s->n_actions; i++) {
    db_scenario_action *a = &s->actions[i];
    db_free(a->on);
    db_free(a->type);
    db_free(a->title);
    db_free(a->lead);
    free_texts(a->co, a->n_co);
    db_free(a->to);
  }
  db_free(s->actions);
  for (size_t i = 0; i < s->n_checklist; i++) db_free(s->checklist[i].step), db_free(s->checklist[i].who);
  db_free(s->checklist);
  free_texts(s->auto_on, s->n_auto_on);
  db_free(s);
}

size_t db_scenario_actions_for(const db_scenario *s, const char *rule, int change, size_t *idx, size_t max) {
  size_t n = 0;
  if (change != DB_WC_FIRING) return 0;
  for (size_t i = 0; i < s->n_actions; i++) {
    const db_scenario_action *a = &s->actions[i];
    if (!a->on || (strcmp(a->on, "*") != 0 && strcmp(a->on, rule) != 0)) continue;
    if (n < max) idx[n] = i;
    n++;
  }
  return n;
}
