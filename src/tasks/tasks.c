/* tasks.c - the task itself: its vocabulary, its record's JSON, validation against the catalog, creation,
 * reading and listing, and the views computed for a day (due day, overdue, lateness).
 *
 * A task's JSON body keeps days as "YYYY-MM-DD" and lists (co-agencies, indicators) as arrays; the struct
 * keeps lists as ';'-separated codes like the catalog does. Nothing computed (due, overdue, state) is
 * stored: db_task_view_of derives it from the stored facts, the calendar and the day. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "formula/formula.h"
#include "model/period.h"
#include "tasks/tasks_int.h"

const char *const db__task_field_names[DB__TF_COUNT] = {
    "directive", "title",     "description", "lead",       "co_agencies", "unit",             "assigned", "deadline",
    "recurrence", "priority", "indicators",  "condition", "condition_period", "origin", "status", "done"};

static const char *const status_names[] = {NULL, "new", "in_progress", "done", "cancelled"};
/* Vietnamese names, folded (no diacritics, lower case). */
static const char *const status_vi[] = {NULL, "moi", "dang thuc hien", "hoan thanh", "da huy"};
static const char *const priority_names[] = {NULL, "low", "normal", "high", "urgent"};
static const char *const priority_vi[] = {NULL, "thap", "binh thuong", "cao", "khan"};

const char *db_task_status_name(int status) {
  return status >= DB_TASK_NEW && status <= DB_TASK_CANCELLED ? status_names[status] : "unknown";
}

/* Finds s among names[1..4] (English, '_' between words; '-' and ' ' read as '_') or alt[1..4]
 * (Vietnamese folded: no diacritics, lower case, ' ' between words), case and diacritics ignored: the
 * index, or 0. */
static int find_name(const char *s, const char *const *names, const char *const *alt) {
  if (!s) return 0;
  while (*s == ' ') s++;
  size_t n = strlen(s);
  while (n && s[n - 1] == ' ') n--;
  char en[64], vi[64];
  if (n >= sizeof en) return 0;
  size_t m = db_text_fold(s, n, en);
  memcpy(vi, en, m + 1);
  for (size_t i = 0; i < m; i++) {
    if (en[i] == '-' || en[i] == ' ') en[i] = '_';
    if (vi[i] == '-' || vi[i] == '_') vi[i] = ' ';
  }
  for (int i = 1; i <= 4; i++)
    if (strcmp(en, names[i]) == 0 || strcmp(vi, alt[i]) == 0) return i;
  return 0;
}

int db_task_status_parse(const char *s, int *out) {
  int i = find_name(s, status_names, status_vi);
  if (!i) return DB_EINVAL;
  *out = i;
  return DB_OK;
}

const char *db_task_priority_name(int priority) {
  return priority >= DB_TASK_LOW && priority <= DB_TASK_URGENT ? priority_names[priority] : "unknown";
}

int db_task_priority_parse(const char *s, int *out) {
  int i = find_name(s, priority_names, priority_vi);
  if (!i && s && s[0] >= '1' && s[0] <= '4' && s[1] == '\0') i = s[0] - '0';
  if (!i) return DB_EINVAL;
  *out = i;
  return DB_OK;
}

/* ---- days, lists ---- */

int64_t db__tasks_today(void) { return db_period_at(DB_PT_DAY, 0, db_now_ms()).ord; }

json_t *db__day_json(int64_t day) {
  if (day == DB_DATE_NONE) return json_null();
  char text[11];
  db_format_date(day, text);
  return json_string(text);
}

int db__day_from_json(json_t *v, int64_t *day) {
  *day = DB_DATE_NONE;
  if (!v || json_is_null(v)) return DB_OK;
  if (!json_is_string(v)) return DB_EINVAL;
  return db_tasks_parse_day(json_string_value(v), json_string_length(v), day);
}

int db_tasks_parse_day(const char *s, size_t n, int64_t *day) {
  while (n && *s == ' ') s++, n--;
  while (n && s[n - 1] == ' ') n--;
  if (n == 10 && s[2] == '/' && s[5] == '/') { /* dd/mm/yyyy */
    char iso[11] = {s[6], s[7], s[8], s[9], '-', s[3], s[4], '-', s[0], s[1], 0};
    return db_parse_date(iso, 10, day);
  }
  if (n >= 8 && n <= 9 && memchr(s, '/', n)) { /* d/m/yyyy, dd/m/yyyy, d/mm/yyyy */
    unsigned dd = 0, mm = 0, yy = 0;
    char tail;
    char tmp[10];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (sscanf(tmp, "%2u/%2u/%4u%c", &dd, &mm, &yy, &tail) != 3 || yy < 1000) return DB_EINVAL;
    char iso[32];
    snprintf(iso, sizeof iso, "%04u-%02u-%02u", yy, mm, dd);
    return db_parse_date(iso, strlen(iso), day);
  }
  return db_parse_date(s, n, day);
}

char *db__list_join(json_t *arr) {
  db_buf b = DB_BUF_INIT;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    const char *s = json_string_value(v);
    if (!s || !*s) continue;
    if (b.len) db_buf_putc(&b, ';');
    db_buf_puts(&b, s);
  }
  if (!b.len) {
    db_buf_free(&b);
    return NULL;
  }
  return db_buf_take(&b);
}

json_t *db__list_json(const char *list) {
  json_t *arr = json_array();
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n) json_array_append_new(arr, json_stringn(p, n));
    p = end ? end + 1 : p + n;
  }
  return arr;
}

/* Calls fn for each item of a ';' list (trimmed of spaces); returns the first nonzero result. */
static int list_each(const char *list, int (*fn)(void *ctx, const char *item, size_t i), void *ctx) {
  size_t i = 0;
  for (const char *p = list; p && *p; i++) {
    const char *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    while (n && *p == ' ') p++, n--;
    while (n && p[n - 1] == ' ') n--;
    char item[128];
    if (n >= sizeof item) n = sizeof item - 1;
    memcpy(item, p, n);
    item[n] = 0;
    int rc = fn(ctx, item, i);
    if (rc) return rc;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

/* ---- problems and validation ---- */

int db__task_problem(db_diag *d, const db__task_where *w, db__task_field f, int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int col = w && w->columns ? w->columns[f] : 0;
  return db_diag_add(d, w ? w->line : 0, col, db__task_field_names[f], code, "%s", msg);
}

typedef struct check_ctx {
  const db_catalog *cat;
  const db__task_where *w;
  db_diag *d;
  const char *lead;
  int bad;
} check_ctx;

static int check_co(void *ctx, const char *item, size_t i) {
  check_ctx *c = ctx;
  if (!*item) return 0;
  if (!db_catalog_agency(c->cat, item))
    c->bad = db__task_problem(c->d, c->w, DB__TF_CO, DB_EINVAL, "co-agency %zu: unknown agency '%s'", i + 1, item);
  else if (c->lead && strcmp(item, c->lead) == 0)
    c->bad = db__task_problem(c->d, c->w, DB__TF_CO, DB_EINVAL, "co-agency %zu: %s is the lead agency", i + 1, item);
  return 0;
}

static int check_indicator(void *ctx, const char *item, size_t i) {
  check_ctx *c = ctx;
  if (*item && !db_catalog_indicator(c->cat, item))
    c->bad = db__task_problem(c->d, c->w, DB__TF_INDICATORS, DB_EINVAL, "indicator %zu: unknown indicator '%s'",
                              i + 1, item);
  return 0;
}

/* Checks the condition formula and its period. */
static int check_condition(const db_catalog *cat, const db_task_spec *spec, const db__task_where *w, db_diag *d) {
  int bad = 0;
  if (!spec->condition || !*spec->condition) {
    if (spec->condition_period && *spec->condition_period)
      bad = db__task_problem(d, w, DB__TF_CONDITION_PERIOD, DB_EINVAL, "a condition period needs a condition");
    return bad;
  }
  db_diag fd = DB_DIAG_INIT;
  db_formula *f = NULL;
  if (db_formula_compile(spec->condition, strlen(spec->condition), cat, &f, &fd) != DB_OK) {
    db_buf msg = DB_BUF_INIT;
    for (size_t i = 0; i < fd.count; i++) {
      db_buf_clear(&msg);
      db_formula_describe(&fd.items[i], &msg);
      bad = db__task_problem(d, w, DB__TF_CONDITION, DB_EINVAL, "%s", db_buf_str(&msg));
    }
    if (!fd.count) bad = db__task_problem(d, w, DB__TF_CONDITION, DB_EINVAL, "the formula does not compile");
    db_buf_free(&msg);
    db_diag_free(&fd);
    return bad;
  }
  db_diag_free(&fd);
  db_period_type type;
  int span;
  if (db_formula_type(f) != DB_FT_BOOL) {
    bad = db__task_problem(d, w, DB__TF_CONDITION, DB_EINVAL,
                           "the condition must be true or false (a comparison such as X >= 95), not a %s",
                           db_ftype_name(db_formula_type(f)));
  } else if (db_formula_periodicity(f, &type, &span) != DB_OK) {
    bad = db__task_problem(d, w, DB__TF_CONDITION, DB_EINVAL, "the condition reads no indicator");
  } else if (!spec->condition_period || !*spec->condition_period) {
    bad = db__task_problem(d, w, DB__TF_CONDITION_PERIOD, DB_EINVAL,
                           "required with a condition: the period it is judged on (\"2025\")");
  } else {
    db_period p;
    char why[128];
    if (db_period_parse(spec->condition_period, strlen(spec->condition_period), &p, why) != DB_OK)
      bad = db__task_problem(d, w, DB__TF_CONDITION_PERIOD, DB_EINVAL, "%s", why);
    else if (p.type != type && db_period_subperiods(&p, type, NULL, 0) <= 0)
      bad = db__task_problem(d, w, DB__TF_CONDITION_PERIOD, DB_EINVAL,
                             "%s holds no %s period, the periodicity of the condition", spec->condition_period,
                             db_period_type_name(type));
  }
  db_formula_free(f);
  return bad;
}

int db__task_validate(db_store *s, const db_catalog *cat, const db_task_spec *spec, const db__task_where *w,
                      db_diag *d) {
  int bad = 0;
  if (!spec->title || !*spec->title)
    bad = db__task_problem(d, w, DB__TF_TITLE, DB_EINVAL, "required");
  else if (strlen(spec->title) > 1000)
    bad = db__task_problem(d, w, DB__TF_TITLE, DB_EINVAL, "longer than 1000 bytes");
  if (spec->description && strlen(spec->description) > DB_TASKS_TEXT_MAX)
    bad = db__task_problem(d, w, DB__TF_DESCRIPTION, DB_EINVAL, "longer than %d bytes", DB_TASKS_TEXT_MAX);
  const db_agency *lead = NULL;
  if (!spec->lead || !*spec->lead)
    bad = db__task_problem(d, w, DB__TF_LEAD, DB_EINVAL, "required: the lead agency's code");
  else if (!(lead = db_catalog_agency(cat, spec->lead)))
    bad = db__task_problem(d, w, DB__TF_LEAD, DB_EINVAL, "unknown agency '%s'", spec->lead);
  check_ctx c = {cat, w, d, spec->lead, 0};
  list_each(spec->co_agencies, check_co, &c);
  list_each(spec->indicators, check_indicator, &c);
  if (c.bad) bad = c.bad;
  if (spec->unit && *spec->unit && !db_catalog_unit(cat, spec->unit))
    bad = db__task_problem(d, w, DB__TF_UNIT, DB_EINVAL, "unknown org unit '%s'", spec->unit);
  else if ((!spec->unit || !*spec->unit) && lead && !lead->orgunit)
    bad = db__task_problem(d, w, DB__TF_UNIT, DB_EINVAL, "required: the lead agency serves no org unit");
  if (spec->recur_day < 0 || spec->recur_day > 31) {
    bad = db__task_problem(d, w, DB__TF_RECURRENCE, DB_EINVAL, "day %d of the month is not 1..31", spec->recur_day);
  } else if (spec->recur_day && spec->deadline != DB_DATE_NONE) {
    bad = db__task_problem(d, w, DB__TF_DEADLINE, DB_EINVAL,
                           "a recurring task has no single deadline: give the deadline or the recurrence");
  } else if (!spec->recur_day && spec->deadline == DB_DATE_NONE) {
    bad = db__task_problem(d, w, DB__TF_DEADLINE, DB_EINVAL, "required (or a monthly recurrence)");
  } else if (spec->assigned != DB_DATE_NONE && spec->deadline != DB_DATE_NONE && spec->deadline < spec->assigned) {
    char a[11], dl[11];
    db_format_date(spec->assigned, a);
    db_format_date(spec->deadline, dl);
    bad = db__task_problem(d, w, DB__TF_DEADLINE, DB_EINVAL, "%s is before the assigned day %s", dl, a);
  }
  if (spec->recur_day && spec->recur_until != DB_DATE_NONE && spec->assigned != DB_DATE_NONE &&
      spec->recur_until < spec->assigned)
    bad = db__task_problem(d, w, DB__TF_RECURRENCE, DB_EINVAL, "the recurrence ends before the assigned day");
  if (spec->priority < 0 || spec->priority > DB_TASK_URGENT)
    bad = db__task_problem(d, w, DB__TF_PRIORITY, DB_EINVAL, "priority %d is not low, normal, high or urgent",
                           spec->priority);
  if (check_condition(cat, spec, w, d)) bad = DB_EINVAL;
  if (spec->origin && strlen(spec->origin) > 500)
    bad = db__task_problem(d, w, DB__TF_ORIGIN, DB_EINVAL, "longer than 500 bytes");
  if (s && spec->directive && *spec->directive) {
    db_record r;
    int rc = db_store_record_get(s, DB_DIRECTIVE_KIND, 0, spec->directive, &r);
    if (rc == DB_ENOTFOUND)
      bad = db__task_problem(d, w, DB__TF_DIRECTIVE, DB_EINVAL, "unknown directive '%s'", spec->directive);
    else if (rc)
      return rc;
    else
      db_record_free(&r);
  }
  return bad ? DB_EINVAL : DB_OK;
}

void db_task_spec_init(db_task_spec *spec) {
  memset(spec, 0, sizeof *spec);
  spec->assigned = spec->deadline = spec->recur_until = DB_DATE_NONE;
}

static char *dup_nonempty(const char *s) { return s && *s ? db_strdup(s) : NULL; }

void db__task_from_spec(db_task *t, const db_catalog *cat, const db_task_spec *spec, const char *actor) {
  memset(t, 0, sizeof *t);
  t->directive = dup_nonempty(spec->directive);
  t->title = db_strdup(spec->title);
  t->description = dup_nonempty(spec->description);
  t->lead = db_strdup(spec->lead);
  t->co_agencies = dup_nonempty(spec->co_agencies);
  const db_agency *lead = db_catalog_agency(cat, spec->lead);
  t->unit = db_strdup(spec->unit && *spec->unit ? spec->unit : lead->orgunit);
  t->assigned = spec->assigned != DB_DATE_NONE ? spec->assigned : db__tasks_today();
  t->deadline = spec->deadline;
  t->recur_day = spec->recur_day;
  t->recur_until = spec->recur_until;
  t->priority = spec->priority ? spec->priority : DB_TASK_NORMAL;
  t->indicators = dup_nonempty(spec->indicators);
  t->condition = dup_nonempty(spec->condition);
  t->condition_period = t->condition ? dup_nonempty(spec->condition_period) : NULL;
  t->origin = dup_nonempty(spec->origin);
  t->status = DB_TASK_NEW;
  t->started = t->done = t->overdue_noted = DB_DATE_NONE;
  t->created_by = db_strdup(actor ? actor : "system");
  t->created_ms = db_now_ms();
}

void db_task_spec_of(const db_task *t, db_task_spec *spec) {
  db_task_spec_init(spec);
  spec->directive = t->directive;
  spec->title = t->title;
  spec->description = t->description;
  spec->lead = t->lead;
  spec->co_agencies = t->co_agencies;
  spec->unit = t->unit;
  spec->assigned = t->assigned;
  spec->deadline = t->deadline;
  spec->recur_day = t->recur_day;
  spec->recur_until = t->recur_until;
  spec->priority = t->priority;
  spec->indicators = t->indicators;
  spec->condition = t->condition;
  spec->condition_period = t->condition_period;
  spec->origin = t->origin;
}

/* ---- JSON ---- */

json_t *db__task_json(const db_task *t) {
  json_t *o = json_object();
  json_object_set_new(o, "directive", t->directive ? json_string(t->directive) : json_null());
  json_object_set_new(o, "title", json_string(t->title));
  json_object_set_new(o, "description", t->description ? json_string(t->description) : json_null());
  json_object_set_new(o, "lead", json_string(t->lead));
  json_object_set_new(o, "co_agencies", db__list_json(t->co_agencies));
  json_object_set_new(o, "unit", json_string(t->unit));
  json_object_set_new(o, "assigned", db__day_json(t->assigned));
  json_object_set_new(o, "deadline", db__day_json(t->deadline));
  json_object_set_new(o, "recurrence",
                      t->recur_day ? json_pack("{s:i, s:o}", "day", t->recur_day, "until", db__day_json(t->recur_until))
                                   : json_null());
  json_object_set_new(o, "priority", json_string(db_task_priority_name(t->priority)));
  json_object_set_new(o, "indicators", db__list_json(t->indicators));
  json_object_set_new(o, "condition", t->condition ? json_string(t->condition) : json_null());
  json_object_set_new(o, "condition_period", t->condition_period ? json_string(t->condition_period) : json_null());
  json_object_set_new(o, "origin", t->origin ? json_string(t->origin) : json_null());
  json_object_set_new(o, "status", json_string(db_task_status_name(t->status)));
  json_object_set_new(o, "started", db__day_json(t->started));
  json_object_set_new(o, "done", db__day_json(t->done));
  json_object_set_new(o, "percent", json_integer(t->percent));
  json_object_set_new(o, "created_by", json_string(t->created_by ? t->created_by : "system"));
  char when[25];
  db_format_time_ms(t->created_ms, when);
  json_object_set_new(o, "created", json_string(when));
  json_t *ext = json_array();
  for (size_t i = 0; i < t->n_extensions; i++) {
    const db_task_extension *x = &t->extensions[i];
    char asked[25], decided[25];
    db_format_time_ms(x->requested_ms, asked);
    db_format_time_ms(x->decided_ms, decided);
    json_array_append_new(ext, json_pack("{s:s, s:s, s:o, s:s, s:s, s:s?, s:o, s:s?}", "requested", asked,
                                         "requested_by", x->requested_by ? x->requested_by : "", "deadline",
                                         db__day_json(x->deadline), "reason", x->reason ? x->reason : "", "state",
                                         x->state > 0 ? "approved" : x->state < 0 ? "rejected" : "pending",
                                         "decided_by", x->decided_by, "decided",
                                         x->decided_by ? json_string(decided) : json_null(), "note", x->note));
  }
  json_object_set_new(o, "extensions", ext);
  json_t *occ = json_array();
  for (size_t i = 0; i < t->n_occurrences; i++) {
    db_period m = {DB_PT_MONTH, 0, t->occurrences[i].month};
    char code[DB_PERIOD_CODE_MAX];
    db_period_format(&m, code);
    json_array_append_new(occ, json_pack("{s:s, s:o}", "month", code, "done", db__day_json(t->occurrences[i].done)));
  }
  json_object_set_new(o, "occurrences", occ);
  json_object_set_new(o, "achieved_by_data", json_boolean(t->achieved_by_data));
  json_t *ev = t->evidence ? json_loads(t->evidence, 0, NULL) : NULL;
  json_object_set_new(o, "evidence", ev ? ev : json_null());
  json_object_set_new(o, "condition_missed", json_boolean(t->condition_missed));
  json_object_set_new(o, "overdue_noted", db__day_json(t->overdue_noted));
  return o;
}

char *db_task_to_json(const db_task *t) {
  json_t *o = db__task_json(t);
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  char *copy = db_strdup(text);
  free(text);
  return copy;
}

static char *str_member(json_t *o, const char *name) {
  const char *s = json_string_value(json_object_get(o, name));
  return s && *s ? db_strdup(s) : NULL;
}

static int day_member(json_t *o, const char *name, int64_t *day) {
  return db__day_from_json(json_object_get(o, name), day);
}

int db__task_parse(const db_record *r, db_task *out) {
  memset(out, 0, sizeof *out);
  json_t *o = json_loads(r->body, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return DB_EINVAL;
  }
  int bad = 0;
  out->id = r->id;
  out->version = r->version;
  out->updated_ms = r->updated_ms;
  out->directive = str_member(o, "directive");
  out->title = str_member(o, "title");
  out->description = str_member(o, "description");
  out->lead = str_member(o, "lead");
  out->co_agencies = db__list_join(json_object_get(o, "co_agencies"));
  out->unit = str_member(o, "unit");
  bad |= day_member(o, "assigned", &out->assigned);
  bad |= day_member(o, "deadline", &out->deadline);
  json_t *rec = json_object_get(o, "recurrence");
  out->recur_until = DB_DATE_NONE;
  if (json_is_object(rec)) {
    out->recur_day = (int)json_integer_value(json_object_get(rec, "day"));
    bad |= day_member(rec, "until", &out->recur_until);
  }
  if (db_task_priority_parse(json_string_value(json_object_get(o, "priority")), &out->priority)) bad = 1;
  out->indicators = db__list_join(json_object_get(o, "indicators"));
  out->condition = str_member(o, "condition");
  out->condition_period = str_member(o, "condition_period");
  out->origin = str_member(o, "origin");
  if (db_task_status_parse(json_string_value(json_object_get(o, "status")), &out->status)) bad = 1;
  bad |= day_member(o, "started", &out->started);
  bad |= day_member(o, "done", &out->done);
  out->percent = (int)json_integer_value(json_object_get(o, "percent"));
  out->created_by = str_member(o, "created_by");
  const char *created = json_string_value(json_object_get(o, "created"));
  if (created) db_parse_time_ms(created, &out->created_ms);
  json_t *ext = json_object_get(o, "extensions");
  out->n_extensions = json_array_size(ext);
  out->extensions = out->n_extensions ? db_calloc(out->n_extensions, sizeof *out->extensions) : NULL;
  for (size_t i = 0; i < out->n_extensions; i++) {
    json_t *x = json_array_get(ext, i);
    db_task_extension *e = &out->extensions[i];
    const char *t1 = json_string_value(json_object_get(x, "requested"));
    const char *t2 = json_string_value(json_object_get(x, "decided"));
    if (t1) db_parse_time_ms(t1, &e->requested_ms);
    if (t2) db_parse_time_ms(t2, &e->decided_ms);
    e->requested_by = str_member(x, "requested_by");
    bad |= day_member(x, "deadline", &e->deadline);
    e->reason = str_member(x, "reason");
    const char *st = json_string_value(json_object_get(x, "state"));
    e->state = st && strcmp(st, "approved") == 0 ? 1 : st && strcmp(st, "rejected") == 0 ? -1 : 0;
    e->decided_by = str_member(x, "decided_by");
    e->note = str_member(x, "note");
  }
  json_t *occ = json_object_get(o, "occurrences");
  out->n_occurrences = json_array_size(occ);
  out->occurrences = out->n_occurrences ? db_calloc(out->n_occurrences, sizeof *out->occurrences) : NULL;
  for (size_t i = 0; i < out->n_occurrences; i++) {
    json_t *x = json_array_get(occ, i);
    const char *m = json_string_value(json_object_get(x, "month"));
    db_period p;
    if (!m || db_period_parse_as(m, strlen(m), DB_PT_MONTH, 0, &p, NULL) != DB_OK) bad = 1;
    else out->occurrences[i].month = p.ord;
    bad |= day_member(x, "done", &out->occurrences[i].done);
  }
  out->achieved_by_data = json_is_true(json_object_get(o, "achieved_by_data"));
  json_t *ev = json_object_get(o, "evidence");
  out->evidence = json_is_object(ev) ? json_dumps(ev, JSON_COMPACT) : NULL;
  if (out->evidence) { /* jansson's malloc to ours */
    char *copy = db_strdup(out->evidence);
    free(out->evidence);
    out->evidence = copy;
  }
  out->condition_missed = json_is_true(json_object_get(o, "condition_missed"));
  bad |= day_member(o, "overdue_noted", &out->overdue_noted);
  json_decref(o);
  if (bad || !out->title || !out->lead || !out->unit) {
    db_task_free(out);
    return DB_EINVAL;
  }
  return DB_OK;
}

void db_task_free(db_task *t) {
  if (!t) return;
  char *strs[] = {t->directive, t->title,     t->description,      t->lead,   t->co_agencies, t->unit,
                  t->indicators, t->condition, t->condition_period, t->origin, t->created_by,  t->evidence};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) db_free(strs[i]);
  for (size_t i = 0; i < t->n_extensions; i++) {
    db_free(t->extensions[i].requested_by);
    db_free(t->extensions[i].reason);
    db_free(t->extensions[i].decided_by);
    db_free(t->extensions[i].note);
  }
  db_free(t->extensions);
  db_free(t->occurrences);
  memset(t, 0, sizeof *t);
}

/* ---- writing ---- */

int db__task_log(db_store *s, int64_t id, const char *actor, const char *action, json_t *extra) {
  char object[48];
  snprintf(object, sizeof object, "task:%lld", (long long)id);
  json_t *body = extra ? extra : json_object();
  json_object_set_new(body, "task", json_integer(id));
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  db_audit a = {0, actor ? actor : "system", action, object, text};
  int rc = db_store_audit_append(s, &a);
  if (!rc) {
    db_event e = {0, 0, action, text};
    rc = db_store_event_append(s, &e);
  }
  free(text);
  return rc;
}

int db__task_save(db_store *s, db_task *t, int64_t expect_version, const char *actor, const char *action,
                  json_t *extra) {
  json_t *o = db__task_json(t);
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  db_record r = {t->id, DB_TASK_KIND, NULL, body, 0, 0};
  int rc = db_store_record_put(s, &r, expect_version);
  free(body);
  if (rc) {
    json_decref(extra);
    return rc;
  }
  t->id = r.id;
  t->version = r.version;
  t->updated_ms = r.updated_ms;
  if (!extra) extra = json_object();
  json_object_set_new(extra, "title", json_string(t->title));
  json_object_set_new(extra, "lead", json_string(t->lead));
  json_object_set_new(extra, "unit", json_string(t->unit));
  json_object_set_new(extra, "status", json_string(db_task_status_name(t->status)));
  return db__task_log(s, t->id, actor, action, extra);
}

int db_tasks_create(db_store *s, const db_catalog *cat, const db_task_spec *spec, const char *actor,
                    int64_t *id, db_diag *d) {
  int rc = db__task_validate(s, cat, spec, NULL, d);
  if (rc) return rc;
  db_task t;
  db__task_from_spec(&t, cat, spec, actor);
  json_t *extra = json_object();
  if (t.origin) json_object_set_new(extra, "origin", json_string(t.origin));
  rc = db__task_save(s, &t, 0, actor, "task.created", extra);
  if (!rc && id) *id = t.id;
  db_task_free(&t);
  return rc;
}

int db_tasks_get(db_store *s, int64_t id, db_task *out) {
  db_record r;
  int rc = db_store_record_get(s, DB_TASK_KIND, id, NULL, &r);
  if (rc) return rc;
  rc = db__task_parse(&r, out);
  db_record_free(&r);
  return rc;
}

/* ---- computed views ---- */

int64_t db_tasks_due_day(const db_calendar *cal, int64_t deadline) {
  if (deadline == DB_DATE_NONE) return DB_DATE_NONE;
  if (!cal) {
    int wd = db_calendar_weekday(deadline);
    return wd == 6 ? deadline + 2 : wd == 7 ? deadline + 1 : deadline;
  }
  return db_calendar_add_working_days(cal, deadline, 0);
}

/* Day recur_day of month `month` (ord), the month's last when it has fewer days. */
static int64_t month_day(int64_t month, int recur_day) {
  db_period m = {DB_PT_MONTH, 0, month};
  db_period days[31];
  int64_t n = db_period_subperiods(&m, DB_PT_DAY, days, 31);
  int k = recur_day < 1 ? 1 : recur_day;
  if (k > n) k = (int)n;
  return days[k - 1].ord;
}

int64_t db_tasks_month_due(const db_calendar *cal, int64_t month, int recur_day) {
  return db_tasks_due_day(cal, month_day(month, recur_day));
}

static int64_t month_of(int64_t day) {
  db_period d = {DB_PT_DAY, 0, day}, m;
  db_period_containing(&d, DB_PT_MONTH, 0, &m);
  return m.ord;
}

/* The month of the assigned day, unless its day N came before the task was assigned. */
int64_t db__task_first_month(const db_task *t) {
  int64_t m = month_of(t->assigned);
  return month_day(m, t->recur_day) < t->assigned ? m + 1 : m;
}

int64_t db__task_last_month(const db_task *t) {
  return t->recur_until == DB_DATE_NONE ? INT64_MAX : month_of(t->recur_until);
}

/* The deadline in force: the last approved extension's, else the task's. */
static int64_t deadline_in_force(const db_task *t) {
  int64_t dl = t->deadline;
  for (size_t i = 0; i < t->n_extensions; i++)
    if (t->extensions[i].state > 0) dl = t->extensions[i].deadline;
  return dl;
}

int64_t db__tasks_late_by(const db_calendar *cal, int64_t due, int64_t day) {
  if (due == DB_DATE_NONE || day == DB_DATE_NONE || day <= due) return 0;
  if (!cal) {
    int64_t n = 0;
    for (int64_t x = due + 1; x <= day; x++) n += db_calendar_weekday(x) <= 5;
    return n;
  }
  return db_calendar_count_working(cal, due, day);
}

void db_task_view_of(const db_task *t, const db_task_clock *clk, db_task_view *out) {
  memset(out, 0, sizeof *out);
  const db_calendar *cal = clk ? clk->cal : NULL;
  int64_t today = clk ? clk->today : db__tasks_today();
  if (t->recur_day) {
    int64_t m = db__task_first_month(t) + (int64_t)t->n_occurrences;
    if (t->status == DB_TASK_DONE && t->n_occurrences) m--;
    out->due = m <= db__task_last_month(t) ? db_tasks_month_due(cal, m, t->recur_day) : DB_DATE_NONE;
    out->original_due = out->due;
  } else {
    out->due = db_tasks_due_day(cal, deadline_in_force(t));
    out->original_due = db_tasks_due_day(cal, t->deadline);
  }
  for (size_t i = 0; i < t->n_extensions; i++)
    if (t->extensions[i].state == 0) out->pending_extension = 1;
  switch (t->status) {
  case DB_TASK_DONE:
    if (t->recur_day) {
      for (size_t i = 0; i < t->n_occurrences; i++) {
        int64_t due = db_tasks_month_due(cal, t->occurrences[i].month, t->recur_day);
        int64_t late = db__tasks_late_by(cal, due, t->occurrences[i].done);
        if (late > out->days_late) out->days_late = late;
      }
    } else {
      out->days_late = db__tasks_late_by(cal, out->due, t->done);
    }
    out->state = out->days_late > 0 || (!t->recur_day && t->done > out->due) ? "done_late" : "done_on_time";
    break;
  case DB_TASK_CANCELLED:
    out->state = "cancelled";
    break;
  default:
    out->overdue = out->due != DB_DATE_NONE && today > out->due;
    out->days_late = out->overdue ? db__tasks_late_by(cal, out->due, today) : 0;
    out->state = out->overdue ? "overdue" : db_task_status_name(t->status);
  }
}

size_t db__task_items(const db_task *t, const db_task_clock *clk, db__task_item **items) {
  *items = NULL;
  if (t->status == DB_TASK_CANCELLED) return 0;
  const db_calendar *cal = clk ? clk->cal : NULL;
  if (!t->recur_day) {
    db_task_view v;
    db_task_view_of(t, clk, &v);
    *items = db_malloc(sizeof **items);
    (*items)[0].due = v.due;
    (*items)[0].done = t->status == DB_TASK_DONE ? t->done : DB_DATE_NONE;
    return 1;
  }
  size_t n = 0, cap = t->n_occurrences + 4;
  *items = db_malloc(cap * sizeof **items);
  for (size_t i = 0; i < t->n_occurrences; i++) {
    (*items)[n].due = db_tasks_month_due(cal, t->occurrences[i].month, t->recur_day);
    (*items)[n++].done = t->occurrences[i].done;
  }
  if (t->status == DB_TASK_DONE) return n;
  int64_t last = db__task_last_month(t);
  for (int64_t m = db__task_first_month(t) + (int64_t)t->n_occurrences; m <= last; m++) {
    int64_t due = db_tasks_month_due(cal, m, t->recur_day);
    if (due > clk->today) break;
    if (n == cap) *items = db_realloc(*items, (cap *= 2) * sizeof **items);
    (*items)[n].due = due;
    (*items)[n++].done = DB_DATE_NONE;
  }
  return n;
}

/* ---- listing ---- */

int db_task_involves(const db_task *t, const char *agency) {
  if (!agency) return 0;
  if (t->lead && strcmp(t->lead, agency) == 0) return 1;
  size_t n = strlen(agency);
  for (const char *p = t->co_agencies; p && *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && memcmp(p, agency, n) == 0) return 1;
    p = end ? end + 1 : p + len;
  }
  return 0;
}

void db_task_filter_init(db_task_filter *f) {
  memset(f, 0, sizeof *f);
  f->due_from = f->due_to = DB_DATE_NONE;
}

/* 1 when unit `code` is `top` or lies below it in cat. */
static int unit_under(const db_catalog *cat, const char *code, const char *top) {
  if (strcmp(code, top) == 0) return 1;
  if (!cat) return 0;
  const db_orgunit *u = db_catalog_unit(cat, code);
  for (int depth = 0; u && u->parent && depth < 64; depth++) {
    if (strcmp(u->parent, top) == 0) return 1;
    u = db_catalog_unit(cat, u->parent);
  }
  return 0;
}

static int folded_has(const char *s, const char *q) {
  if (!s) return 0;
  size_t n = strlen(s), m = strlen(q);
  char *fs = db_malloc(n + 1), *fq = db_malloc(m + 1);
  db_text_fold(s, n, fs);
  db_text_fold(q, m, fq);
  int found = strstr(fs, fq) != NULL;
  db_free(fs);
  db_free(fq);
  return found;
}

static int task_matches(const db_task *t, const db_task_view *v, const db_task_filter *f) {
  if (!f) return 1;
  if (f->agency && !db_task_involves(t, f->agency)) return 0;
  if (f->lead && strcmp(t->lead, f->lead) != 0) return 0;
  if (f->unit && !unit_under(f->cat, t->unit, f->unit)) return 0;
  if (f->state && strcmp(f->state, v->state) != 0 && strcmp(f->state, db_task_status_name(t->status)) != 0)
    return 0;
  int64_t from = f->due_from == 0 ? DB_DATE_NONE : f->due_from, to = f->due_to == 0 ? DB_DATE_NONE : f->due_to;
  if (from != DB_DATE_NONE && (v->due == DB_DATE_NONE || v->due < from)) return 0;
  if (to != DB_DATE_NONE && (v->due == DB_DATE_NONE || v->due > to)) return 0;
  if (f->overdue > 0 && !v->overdue) return 0;
  if (f->overdue < 0 && v->overdue) return 0;
  if (f->directive && !(t->directive && strcmp(t->directive, f->directive) == 0)) return 0;
  if (f->origin && !(t->origin && strcmp(t->origin, f->origin) == 0)) return 0;
  if (f->q && *f->q && !folded_has(t->title, f->q) && !folded_has(t->description, f->q)) return 0;
  return 1;
}

typedef struct list_ctx {
  const db_task_filter *f;
  const db_task_clock *clk;
  db_task_cb cb;
  void *ctx;
  int stopped;
} list_ctx;

static int list_one(void *ctx, const db_record *r) {
  list_ctx *l = ctx;
  db_task t;
  if (db__task_parse(r, &t) != DB_OK) return 0;
  db_task_view v;
  db_task_view_of(&t, l->clk, &v);
  int rc = task_matches(&t, &v, l->f) ? l->cb(l->ctx, &t, &v) : 0;
  db_task_free(&t);
  if (rc) l->stopped = rc;
  return rc;
}

int db_tasks_list(db_store *s, const db_task_filter *f, const db_task_clock *clk, db_task_cb cb, void *ctx) {
  db_task_clock now = {NULL, db__tasks_today()};
  list_ctx l = {f, clk ? clk : &now, cb, ctx, 0};
  int rc = db_store_record_scan(s, DB_TASK_KIND, list_one, &l);
  return l.stopped ? l.stopped : rc;
}

typedef struct all_ctx {
  db_task *tasks;
  size_t n, cap;
} all_ctx;

static int load_one(void *ctx, const db_record *r) {
  all_ctx *a = ctx;
  if (a->n == a->cap) a->tasks = db_realloc(a->tasks, (a->cap = a->cap ? a->cap * 2 : 64) * sizeof *a->tasks);
  if (db__task_parse(r, &a->tasks[a->n]) == DB_OK) a->n++;
  return 0;
}

int db_tasks_load_all(db_store *s, db_task **tasks, size_t *n) {
  all_ctx a = {0};
  int rc = db_store_record_scan(s, DB_TASK_KIND, load_one, &a);
  if (rc) {
    db_tasks_free_all(a.tasks, a.n);
    return rc;
  }
  *tasks = a.tasks;
  *n = a.n;
  return DB_OK;
}

void db_tasks_free_all(db_task *tasks, size_t n) {
  for (size_t i = 0; i < n; i++) db_task_free(&tasks[i]);
  db_free(tasks);
}
