/* records.c - alert rules and scenarios as store records (watch.h): an alert rule is a record of kind
 * "alert_rule" keyed by its code; a scenario a record of kind "scenario" keyed by its code, with the
 * document and its activation state. Both the server and the command line write them through here, so
 * that a rule code is never taken twice (by a rule and by a scenario's rule, or by two scenarios). */
#include <jansson.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "watch/watch.h"

typedef struct owner_scan {
  const char *rule;      /* the code looked for */
  const char *except;    /* a scenario that may hold it (the one being replaced) */
  char owner[80];        /* the scenario found holding it */
} owner_scan;

static int find_owner(void *ctx, const db_record *r) {
  owner_scan *o = ctx;
  if (o->except && r->key && strcmp(r->key, o->except) == 0) return 0;
  json_t *body = json_loads(r->body, 0, NULL), *rules = json_object_get(json_object_get(body, "doc"), "rules");
  size_t i;
  json_t *rule;
  json_array_foreach(rules, i, rule) {
    const char *code = json_string_value(json_object_get(rule, "code"));
    if (code && strcmp(code, o->rule) == 0) snprintf(o->owner, sizeof o->owner, "%s", r->key ? r->key : "?");
  }
  json_decref(body);
  return o->owner[0] != '\0';
}

/* The scenario (other than `except`) whose rules include `rule`, into owner ("" when none). */
static int rule_owner(db_store *s, const char *rule, const char *except, char owner[80]) {
  owner_scan o = {rule, except, ""};
  int err = db_store_record_scan(s, DB_WATCH_SCENARIO_KIND, find_owner, &o);
  memcpy(owner, o.owner, sizeof o.owner);
  return err < 0 ? err : 0;
}

static int append_event(db_store *s, const char *kind, json_t *body) {
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  db_event e = {.kind = kind, .body = text};
  int err = db_store_event_append(s, &e);
  free(text);
  return err;
}

int db_watch_save_rule(db_store *s, const db_watch_rule *r, const char *actor, int *created, db_diag *d) {
  char owner[80];
  int err = rule_owner(s, r->code, NULL, owner);
  if (err) return err;
  if (owner[0])
    return db_diag_add(d, 0, 0, "$.code", DB_ECONFLICT, "rule %s belongs to scenario %s: change it there", r->code,
                       owner);
  char *body = db_watch_rule_json(r);
  db_record old = {0}, rec = {.kind = DB_WATCH_RULE_KIND, .key = r->code, .body = body};
  *created = db_store_record_get(s, DB_WATCH_RULE_KIND, 0, r->code, &old) != 0;
  rec.id = old.id;
  db_record_free(&old);
  err = db_store_record_put(s, &rec, 0);
  db_audit au = {.actor = actor, .action = "rule.put", .object = r->code, .detail = body};
  if (!err) err = db_store_audit_append(s, &au);
  db_free(body);
  if (!err) err = append_event(s, "rule.changed", json_pack("{s:s,s:s}", "rule", r->code, "by", actor));
  return err;
}

int db_watch_delete_rule(db_store *s, const char *code, const char *actor) {
  db_record old = {0};
  int err = db_store_record_get(s, DB_WATCH_RULE_KIND, 0, code, &old);
  if (err) return err;
  err = db_store_record_delete(s, DB_WATCH_RULE_KIND, old.id);
  db_record_free(&old);
  db_audit au = {.actor = actor, .action = "rule.delete", .object = code};
  if (!err) err = db_store_audit_append(s, &au);
  if (!err) err = append_event(s, "rule.changed", json_pack("{s:s,s:s,s:b}", "rule", code, "by", actor, "deleted", 1));
  return err;
}

int db_watch_save_scenario(db_store *s, const db_catalog *cat, const char *text, size_t len, const char *actor,
                           db_scenario **out, db_watch_saved *saved, db_diag *d) {
  *out = NULL;
  memset(saved, 0, sizeof *saved);
  db_scenario *sc = NULL;
  int err = db_scenario_parse(text, len, cat, &sc, d);
  if (err) return err;
  for (size_t i = 0; i < sc->n_rules && !err; i++) {
    char owner[80];
    db_record rr = {0};
    if ((err = rule_owner(s, sc->rules[i]->code, sc->code, owner))) break;
    if (owner[0] || db_store_record_get(s, DB_WATCH_RULE_KIND, 0, sc->rules[i]->code, &rr) == 0)
      err = db_diag_add(d, 0, 0, NULL, DB_ECONFLICT, "$.rules[%zu].code: '%s' is already the code of %s%s", i,
                        sc->rules[i]->code, owner[0] ? "a rule of scenario " : "a rule", owner);
    db_record_free(&rr);
  }
  db_record old = {0};
  saved->created = db_store_record_get(s, DB_WATCH_SCENARIO_KIND, 0, sc->code, &old) != 0;
  json_t *prev = saved->created ? NULL : json_loads(old.body, 0, NULL);
  saved->active = json_is_true(json_object_get(prev, "active"));
  saved->activated_ms = json_integer_value(json_object_get(prev, "activated_ms"));
  json_t *body = json_pack("{s:o,s:b}", "doc", json_loadb(text, len, 0, NULL), "active", saved->active);
  if (saved->activated_ms) json_object_set_new(body, "activated_ms", json_integer(saved->activated_ms));
  json_decref(prev);
  char *btext = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(body);
  db_record rec = {.id = old.id, .kind = DB_WATCH_SCENARIO_KIND, .key = sc->code, .body = btext};
  db_record_free(&old);
  if (!err) err = db_store_record_put(s, &rec, 0);
  db_audit au = {.actor = actor, .action = "scenario.put", .object = sc->code};
  if (!err) err = db_store_audit_append(s, &au);
  if (!err) err = append_event(s, "scenario.changed", json_pack("{s:s,s:s}", "scenario", sc->code, "by", actor));
  free(btext);
  if (err) {
    db_scenario_free(sc);
    return err;
  }
  saved->id = rec.id;
  *out = sc;
  return 0;
}
