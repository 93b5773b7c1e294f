/* rule.c - alert rules (watch.h): their JSON form read with every problem at its path, checked against
 * the catalog, written back in canonical form, and their message templates rendered. */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "formula/derived.h"
#include "watch/watch.h"

#define MAX_UNITS 10000
#define MAX_TEXT 4096

static const char *const severity_names[] = {NULL, "info", "warning", "critical", "emergency"};

const char *db_severity_name(int severity) {
  return severity >= DB_SEV_INFO && severity <= DB_SEV_EMERGENCY ? severity_names[severity] : "unknown";
}

int db_severity_parse(const char *s, int *out) {
  for (int i = DB_SEV_INFO; s && i <= DB_SEV_EMERGENCY; i++)
    if (strcmp(s, severity_names[i]) == 0) return *out = i, 0;
  return DB_EINVAL;
}

/* ---- reading ---- */

/* A duration "90s", "10m", "2h", "1d" in ms: 0, or -1 when malformed. */
static int parse_duration(const char *s, int64_t *ms) {
  char *end;
  if (!s || !isdigit((unsigned char)s[0])) return -1;
  double v = strtod(s, &end);
  int64_t unit = 0;
  if (strcmp(end, "ms") == 0) unit = 1;
  else if (strcmp(end, "s") == 0) unit = 1000;
  else if (strcmp(end, "m") == 0) unit = 60000;
  else if (strcmp(end, "h") == 0) unit = 3600000;
  else if (strcmp(end, "d") == 0) unit = 86400000;
  if (!unit || !(v >= 0) || v > 1e6) return -1;
  *ms = (int64_t)llround(v * (double)unit);
  return 0;
}

/* Formats ms as the shortest of "2h", "90s"... */
static void format_duration(int64_t ms, char out[32]) {
  static const struct { int64_t ms; const char *unit; } units[] = {
      {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (ms % units[i].ms == 0) {
      snprintf(out, 32, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
      return;
    }
}

/* A string member: NULL when absent; a problem when present but not a non-empty string within MAX_TEXT. */
static char *get_text(json_t *o, const char *name, const char *path, int required, db_diag *d) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) {
    if (required) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: required", path, name);
    return NULL;
  }
  if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > MAX_TEXT) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: expected a non-empty text of at most %d bytes", path, name,
                MAX_TEXT);
    return NULL;
  }
  return db_strdup(json_string_value(v));
}

/* A code: [A-Za-z0-9_.-]{1,64}. */
static int valid_code(const char *s) {
  size_t n = strlen(s);
  if (!n || n > 64) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') return 0;
  return 1;
}

/* `for` or `keep_firing_for`: a whole number of periods (kind 0) or a duration (kind 1); -1 absent. */
static int get_hold(json_t *o, const char *name, const char *path, int64_t *n, db_diag *d) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) return -1;
  if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 1000000) {
    *n = json_integer_value(v);
    return 0;
  }
  if (json_is_string(v) && parse_duration(json_string_value(v), n) == 0) return 1;
  db_diag_add(d, 0, 0, NULL, DB_EINVAL,
              "%s.%s: expected a whole number of periods (0..1000000) or a duration like \"10m\", \"2h\"", path,
              name);
  return -2;
}

static int64_t get_duration(json_t *o, const char *name, const char *path, db_diag *d) {
  json_t *v = json_object_get(o, name);
  int64_t ms = 0;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v) || parse_duration(json_string_value(v), &ms) != 0 || ms == 0)
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: expected a duration like \"90s\", \"10m\", \"2h\", \"1d\"", path,
                name);
  return ms;
}

static void read_units(json_t *o, const char *path, db_watch_rule *r, db_diag *d) {
  json_t *units = json_object_get(o, "units");
  if (units && !json_is_array(units)) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.units: expected an array of org unit codes", path);
  } else if (units) {
    if (json_array_size(units) > MAX_UNITS)
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.units: more than %d units", path, MAX_UNITS);
    r->units = db_calloc(json_array_size(units) + 1, sizeof *r->units);
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u) {
      if (i >= MAX_UNITS) break;
      if (!json_is_string(u) || !valid_code(json_string_value(u)))
        db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.units[%zu]: expected an org unit code", path, i);
      else
        r->units[r->n_units++] = db_strdup(json_string_value(u));
    }
  }
  r->children_of = get_text(o, "children_of", path, 0, d);
  if (!r->n_units && !r->children_of)
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: a rule needs units or children_of (the units it watches)", path);
}

static void read_labels_messages(json_t *o, const char *path, db_watch_rule *r, db_diag *d) {
  json_t *labels = json_object_get(o, "labels");
  if (labels && !json_is_object(labels)) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.labels: expected an object of texts", path);
  } else if (labels) {
    r->labels = db_calloc(json_object_size(labels) + 1, sizeof *r->labels);
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v) {
      if (!json_is_string(v) || strlen(k) > 64 || json_string_length(v) > 256) {
        db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.labels.%s: expected a text of at most 256 bytes", path, k);
        continue;
      }
      r->labels[r->n_labels].key = db_strdup(k);
      r->labels[r->n_labels++].value = db_strdup(json_string_value(v));
    }
  }
  json_t *msg = json_object_get(o, "message");
  char sub[256];
  snprintf(sub, sizeof sub, "%s.message", path);
  if (msg && !json_is_object(msg)) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: expected {\"vi\": ..., \"en\": ...}", sub);
  else if (msg) {
    r->message_vi = get_text(msg, "vi", sub, 0, d);
    r->message_en = get_text(msg, "en", sub, 0, d);
  }
}

static void read_timing(json_t *o, const char *path, db_watch_rule *r, db_diag *d) {
  int64_t f = 0, k = 0;
  int fk = get_hold(o, "for", path, &f, d), kk = get_hold(o, "keep_firing_for", path, &k, d);
  if (fk >= 0 && kk >= 0 && fk != kk)
    db_diag_add(d, 0, 0, NULL, DB_EINVAL,
                "%s.keep_firing_for: must be of the same kind as for (both periods, or both durations)", path);
  r->timing.time_mode = fk == 1 || kk == 1;
  r->timing.for_n = fk >= 0 ? f : (r->timing.time_mode ? 0 : 1);
  r->timing.keep_n = kk >= 0 ? k : 0;
  r->timing.stale_ms = get_duration(o, "stale_after", path, d);
  r->timing.repeat_ms = get_duration(o, "repeat_interval", path, d);
}

static const char *const rule_fields[] = {"code", "name", "condition", "value", "severity", "for",
                                          "keep_firing_for", "stale_after", "repeat_interval", "units",
                                          "children_of", "labels", "message", "enabled", NULL};

int db_watch_rule_from_json(const void *json, const char *path, db_watch_rule **out, db_diag *d) {
  json_t *o = (json_t *)json;
  *out = NULL;
  if (!json_is_object(o)) return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s: expected a rule object", path);
  size_t before = db_diag_total(d);
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    int known = 0;
    for (int i = 0; rule_fields[i]; i++) known |= strcmp(k, rule_fields[i]) == 0;
    if (!known) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: unknown field", path, k);
  }
  db_watch_rule *r = db_calloc(1, sizeof *r);
  r->code = get_text(o, "code", path, 1, d);
  if (r->code && !valid_code(r->code))
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.code: expected 1 to 64 letters, digits, '_', '-' or '.'", path);
  r->name = get_text(o, "name", path, 0, d);
  r->condition = get_text(o, "condition", path, 1, d);
  r->value = get_text(o, "value", path, 0, d);
  char *sev = get_text(o, "severity", path, 0, d);
  r->severity = DB_SEV_WARNING;
  if (sev && db_severity_parse(sev, &r->severity) != 0)
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.severity: expected info, warning, critical or emergency", path);
  db_free(sev);
  read_timing(o, path, r, d);
  read_units(o, path, r, d);
  read_labels_messages(o, path, r, d);
  json_t *en = json_object_get(o, "enabled");
  if (en && !json_is_boolean(en)) db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.enabled: expected true or false", path);
  r->enabled = !en || !json_is_false(en);
  if (db_diag_total(d) != before) {
    db_watch_rule_free(r);
    return DB_EINVAL;
  }
  *out = r;
  return 0;
}

int db_watch_rule_parse(const char *text, size_t len, db_watch_rule **out, db_diag *d) {
  json_error_t je;
  *out = NULL;
  json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!o) return db_diag_add(d, je.line, je.column, "$", DB_EINVAL, "not JSON: %s", je.text);
  int err = db_watch_rule_from_json(o, "$", out, d);
  json_decref(o);
  return err;
}

/* ---- checking ---- */

/* Compiles one formula of a rule and checks its type; problems prefixed with the field's path. */
static int check_formula(const char *text, const char *field, db_ftype want, const db_catalog *cat, const char *path,
                         db_period_type *type, int *span, int *has_type, db_diag *d) {
  db_formula *f = NULL;
  db_diag fd = DB_DIAG_INIT;
  int err = db_formula_compile(text, strlen(text), cat, &f, &fd);
  for (size_t i = 0; i < fd.count; i++) {
    db_buf m = DB_BUF_INIT;
    db_formula_describe(&fd.items[i], &m);
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: %s", path, field, db_buf_str(&m));
    db_buf_free(&m);
  }
  db_diag_free(&fd);
  if (err) return DB_EINVAL;
  db_ftype t = db_formula_type(f);
  if (t != want && !(want == DB_FT_NUMBER && t == DB_FT_SCALAR)) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: the formula is a %s, expected a %s", path, field,
                db_ftype_name(t), db_ftype_name(want));
    err = DB_EINVAL;
  }
  db_period_type pt;
  int sp;
  if (!err && db_formula_periodicity(f, &pt, &sp) == 0) {
    if (*has_type && (pt != *type || sp != *span)) {
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: reads %s indicators, the condition %s ones", path, field,
                  db_period_type_name(pt), db_period_type_name(*type));
      err = DB_EINVAL;
    }
    *type = pt, *span = sp, *has_type = 1;
  } else if (!err && want == DB_FT_BOOL) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.%s: the condition reads no indicator", path, field);
    err = DB_EINVAL;
  }
  db_formula_free(f);
  return err;
}

int db_watch_rule_check(const db_watch_rule *r, const db_catalog *cat, const char *path, db_diag *d) {
  size_t before = db_diag_total(d);
  db_period_type type = 0;
  int span = 0, has_type = 0;
  check_formula(r->condition, "condition", DB_FT_BOOL, cat, path, &type, &span, &has_type, d);
  if (r->value) check_formula(r->value, "value", DB_FT_NUMBER, cat, path, &type, &span, &has_type, d);
  int64_t idx;
  for (size_t i = 0; i < r->n_units; i++)
    if (!db_map_gets(&cat->unit_index, r->units[i], &idx))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.units[%zu]: unknown org unit '%s'", path, i, r->units[i]);
  if (r->children_of && !db_map_gets(&cat->unit_index, r->children_of, &idx))
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s.children_of: unknown org unit '%s'", path, r->children_of);
  return db_diag_total(d) == before ? 0 : DB_EINVAL;
}

/* ---- writing ---- */

static json_t *hold_json(int time_mode, int64_t n) {
  if (!time_mode) return json_integer((json_int_t)n);
  char text[32];
  format_duration(n, text);
  return json_string(text);
}

char *db_watch_rule_json(const db_watch_rule *r) {
  json_t *o = json_object();
  json_object_set_new(o, "code", json_string(r->code));
  if (r->name) json_object_set_new(o, "name", json_string(r->name));
  json_object_set_new(o, "condition", json_string(r->condition));
  if (r->value) json_object_set_new(o, "value", json_string(r->value));
  json_object_set_new(o, "severity", json_string(db_severity_name(r->severity)));
  json_object_set_new(o, "for", hold_json(r->timing.time_mode, r->timing.for_n));
  json_object_set_new(o, "keep_firing_for", hold_json(r->timing.time_mode, r->timing.keep_n));
  char text[32];
  if (r->timing.stale_ms) format_duration(r->timing.stale_ms, text), json_object_set_new(o, "stale_after", json_string(text));
  if (r->timing.repeat_ms)
    format_duration(r->timing.repeat_ms, text), json_object_set_new(o, "repeat_interval", json_string(text));
  if (r->n_units) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_units; i++) json_array_append_new(a, json_string(r->units[i]));
    json_object_set_new(o, "units", a);
  }
  if (r->children_of) json_object_set_new(o, "children_of", json_string(r->children_of));
  json_t *labels = json_object();
  for (size_t i = 0; i < r->n_labels; i++) json_object_set_new(labels, r->labels[i].key, json_string(r->labels[i].value));
  json_object_set_new(o, "labels", labels);
  if (r->message_vi || r->message_en) {
    json_t *m = json_object();
    if (r->message_vi) json_object_set_new(m, "vi", json_string(r->message_vi));
    if (r->message_en) json_object_set_new(m, "en", json_string(r->message_en));
    json_object_set_new(o, "message", m);
  }
  json_object_set_new(o, "enabled", json_boolean(r->enabled));
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  char *out = db_strdup(s);
  free(s);
  return out;
}

void db_watch_rule_free(db_watch_rule *r) {
  if (!r) return;
  db_free(r->code);
  db_free(r->name);
  db_free(r->condition);
  db_free(r->value);
  for (size_t i = 0; i < r->n_units; i++) db_free(r->units[i]);
  db_free(r->units);
  db_free(r->children_of);
  for (size_t i = 0; i < r->n_labels; i++) db_free(r->labels[i].key), db_free(r->labels[i].value);
  db_free(r->labels);
  db_free(r->message_vi);
  db_free(r->message_en);
  db_free(r);
}

/* ---- messages ---- */

/* A value as people read it: up to two decimals, no trailing zeros; "–" when missing. */
static void format_value(double v, char out[48]) {
  if (isnan(v)) {
    snprintf(out, 48, "–");
    return;
  }
  snprintf(out, 48, "%.2f", v);
  char *dot = strchr(out, '.');
  if (!dot) return;
  char *end = out + strlen(out) - 1;
  while (end > dot && *end == '0') *end-- = '\0';
  if (end == dot) *end = '\0';
}

char *db_watch_render(const char *tmpl, const db_watch_rule *r, const char *unit, const char *unit_name,
                      double value, const char *period) {
  db_buf b = DB_BUF_INIT;
  char num[48];
  format_value(value, num);
  const char *names[] = {"rule", "name", "unit", "unit_name", "value", "period", "severity"};
  const char *values[] = {r->code, r->name ? r->name : r->code, unit, unit_name ? unit_name : unit, num,
                          period ? period : "", db_severity_name(r->severity)};
  for (const char *p = tmpl ? tmpl : ""; *p;) {
    if (p[0] == '{' && p[1] == '{') {
      db_buf_putc(&b, '{');
      p += 2;
      continue;
    }
    const char *close = p[0] == '{' ? strchr(p, '}') : NULL;
    int done = 0;
    for (size_t i = 0; close && i < sizeof names / sizeof names[0] && !done; i++)
      if ((size_t)(close - p - 1) == strlen(names[i]) && strncmp(p + 1, names[i], strlen(names[i])) == 0) {
        db_buf_puts(&b, values[i]);
        p = close + 1;
        done = 1;
      }
    if (!done) db_buf_putc(&b, *p++);
  }
  return db_buf_take(&b);
}
