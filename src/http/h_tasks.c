/* h_tasks.c - the routes of directives and tasks (routes_tasks.def) over tasks/tasks.h.
 *
 * Who sees and does what (DESIGN.md §8): every reader (analyst and above) sees directives and statistics;
 * a reporter sees only the tasks of its agency (lead or co-agency) and, as the lead agency within its
 * scope, moves them (in_progress, done), reports progress and asks for extensions; leaders and admins
 * (DB_PERM_DIRECT) see every task, assign, edit, cancel and decide extensions; stewards see every task and
 * move, report and ask like a lead agency. A task the caller may not see answers 404, as an unknown one.
 *
 * A task's JSON is its record (tasks.h) with its id and version and what is computed for the day (due,
 * original_due, state, overdue, days_late, pending_extension); ?as_of=YYYY-MM-DD computes for another day.
 * Answers about one task carry an ETag "\"<version>-<day>\"": the task's version and the day its state
 * was computed for (the same version reads differently once it is overdue), so a read is served again
 * (304) only while both hold; PATCH honours If-Match with the ETag of any read or write (412 when the
 * version changed meanwhile: the day part does not count). Every write runs in one transaction on the writer handle, with its
 * audit record and event, and tells the tasks service (svc_tasks.c) to bring the statistics up to date. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/h_util.h"
#include "http/handlers.h"
#include "http/svc_tasks.h"
#include "ingest/calendar_import.h"
#include "model/period.h"

#define MAX_LIST 100000

/* ---- common ---- */

/* The calendar of the store and the day of ?as_of (default today). 0, or 1 after answering 400. */
static int clock_of(db_req *r, db_resp *w, db_task_clock *clk, db_calendar **cal) {
  const char *as_of = db_req_query(r, "as_of");
  clk->today = db_period_at(DB_PT_DAY, 0, db_now_ms()).ord;
  if (as_of && db_parse_date(as_of, strlen(as_of), &clk->today) != DB_OK)
    return db__h_problem(w, 400, "as_of", "'%s' is not a date (YYYY-MM-DD)", as_of), 1;
  *cal = db_calendar_new();
  db_calendar_load(r->store, *cal); /* no calendar stored: Monday to Friday */
  clk->cal = *cal;
  return 0;
}

static int directs(const db_req *r) { return db_auth_allows(&r->who, DB_PERM_DIRECT); }

/* 1 when the caller may see task t. */
static int may_see(const db_req *r, const db_task *t) {
  if (r->who.role != DB_ROLE_REPORTER) return 1;
  return r->who.agency[0] && db_task_involves(t, r->who.agency);
}

/* 1 when the caller acts as the lead agency of t: a reporter of the lead agency within its scope, or a
 * steward or admin; else answers 403 and returns 0. */
static int acts_as_lead(const db_req *r, db_resp *w, const db_task *t) {
  if (r->who.role == DB_ROLE_STEWARD || r->who.role == DB_ROLE_ADMIN) return 1;
  if (r->who.role == DB_ROLE_REPORTER && strcmp(r->who.agency, t->lead) == 0 &&
      db_auth_in_scope(&r->who, r->cat, t->unit))
    return 1;
  if (r->who.role == DB_ROLE_REPORTER && strcmp(r->who.agency, t->lead) == 0)
    db__h_problem(w, 403, "unit", "task %lld is at %s, outside your scope %s", (long long)t->id, t->unit, r->who.scope);
  else
    db__h_problem(w, 403, "lead", "only the lead agency %s acts on task %lld", t->lead, (long long)t->id);
  return 0;
}

static json_t *task_json(const db_task *t, const db_task_view *v) {
  char *text = db_task_to_json(t);
  json_t *o = json_loads(text, 0, NULL);
  db_free(text);
  json_object_del(o, "overdue_noted"); /* the service's bookkeeping */
  json_object_set_new(o, "id", json_integer(t->id));
  json_object_set_new(o, "version", json_integer(t->version));
  char due[11], orig[11];
  if (v->due != DB_DATE_NONE) db_format_date(v->due, due);
  if (v->original_due != DB_DATE_NONE) db_format_date(v->original_due, orig);
  json_object_set_new(o, "due", v->due != DB_DATE_NONE ? json_string(due) : json_null());
  json_object_set_new(o, "original_due", v->original_due != DB_DATE_NONE ? json_string(orig) : json_null());
  json_object_set_new(o, "state", json_string(v->state));
  json_object_set_new(o, "overdue", json_boolean(v->overdue));
  json_object_set_new(o, "days_late", json_integer(v->days_late));
  json_object_set_new(o, "pending_extension", json_boolean(v->pending_extension));
  return o;
}

/* The {id} parameter: 0 and *id, or 1 after answering 404. */
static int id_param(db_req *r, db_resp *w, int64_t *id) {
  const char *s = r->params[0];
  if (s && db_parse_int64(s, strlen(s), id) == DB_OK && *id > 0) return 0;
  return db__h_problem(w, 404, "id", "no task '%s'", s ? s : ""), 1;
}

/* Reads the task for the caller: 0 with *t, 1 after answering (404), or a store error. */
static int read_task(db_req *r, db_resp *w, db_store *s, int64_t id, db_task *t) {
  int err = db_tasks_get(s, id, t);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "id", "no task %lld", (long long)id), 1;
  if (err) return err;
  if (!may_see(r, t)) {
    db_task_free(t);
    return db__h_problem(w, 404, "id", "no task %lld", (long long)id), 1;
  }
  return 0;
}

/* Reads the task for an act of its lead agency: 0 with *t when the caller acts as its lead, 1 after
 * answering (404 for an unknown task, 403 for a caller who is not its lead: a reporter of another agency
 * learns only that the task is not its own), or a store error. */
static int read_as_lead(db_req *r, db_resp *w, int64_t id, db_task *t) {
  int err = db_tasks_get(r->store, id, t);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "id", "no task %lld", (long long)id), 1;
  if (err) return err;
  if (!acts_as_lead(r, w, t)) {
    db_task_free(t);
    return 1;
  }
  return 0;
}

/* Answers a task as it is now in the store s (after a write): status, with its ETag. */
static int answer_task(db_req *r, db_resp *w, db_store *s, int64_t id, int status) {
  db_task t;
  int err = db_tasks_get(s, id, &t);
  if (err) return err;
  db_task_clock clk;
  db_calendar *cal = NULL;
  if (clock_of(r, w, &clk, &cal)) {
    db_task_free(&t);
    return 0;
  }
  db_task_view v;
  db_task_view_of(&t, &clk, &v);
  char etag[64], day[DB_PERIOD_CODE_MAX];
  db_period today = {.type = DB_PT_DAY, .ord = clk.today};
  db_period_format(&today, day);
  snprintf(etag, sizeof etag, "\"%lld-%s\"", (long long)t.version, day);
  db_resp_json(w, status, task_json(&t, &v));
  db_resp_header(w, "ETag", etag);
  db_task_free(&t);
  db_calendar_free(cal);
  return 0;
}

/* Answers task id as the writer handle holds it, right after a write (a reader may lag behind). */
static int answer_written(db_req *r, db_resp *w, int64_t id, int status) {
  db_store *s = db_app_write_begin(r->app);
  int err = answer_task(r, w, s, id, status);
  db_app_write_end(r->app);
  return err;
}

/* The task of the {id} parameter, for a caller who may see it (as_lead 0) or acts as its lead agency
 * (as_lead 1): 0 and *id, 1 after answering (404, 403), or a store error. */
static int task_param(db_req *r, db_resp *w, int as_lead, int64_t *id) {
  if (id_param(r, w, id)) return 1;
  db_task t;
  int err = as_lead ? read_as_lead(r, w, *id, &t) : read_task(r, w, r->store, *id, &t);
  if (!err) db_task_free(&t);
  return err;
}

/* Answers a failed write: the module's problems with the status of their code. */
static int answer_failure(db_resp *w, int err, db_diag *d) {
  int code = err;
  if (d->count && d->items[0].code) code = d->items[0].code;
  if (code == DB_EIO || code == DB_ESTORE || code == DB_EBUSY || code == DB_ENOMEM) return err;
  db_resp_error(w, code, code == DB_ECONFLICT ? "the task cannot change this way" : "the request was refused", d);
  return 0;
}

/* Member `name` of o as a string (NULL when absent or null); a problem when of another type. */
static const char *str_of(json_t *o, const char *name, db_diag *d) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) return NULL;
  if (!json_is_string(v)) {
    db_diag_add(d, 0, 0, name, DB_EINVAL, "must be a string");
    return NULL;
  }
  return json_string_value(v);
}

static int64_t day_of(json_t *o, const char *name, db_diag *d) {
  int64_t day = DB_DATE_NONE;
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) return day;
  if (!json_is_string(v) || db_tasks_parse_day(json_string_value(v), json_string_length(v), &day) != DB_OK)
    db_diag_add(d, 0, 0, name, DB_EINVAL, "not a date (YYYY-MM-DD or dd/mm/yyyy)");
  return day;
}

/* A list member: an array of strings or a "A;B" string, as an owned ';' list (NULL when empty). */
static char *list_of(json_t *o, const char *name, db_diag *d) {
  json_t *v = json_object_get(o, name);
  if (!v || json_is_null(v)) return NULL;
  if (json_is_string(v)) return json_string_length(v) ? db_strdup(json_string_value(v)) : NULL;
  size_t i;
  json_t *it;
  if (json_is_array(v)) {
    db_buf b = DB_BUF_INIT;
    json_array_foreach(v, i, it) {
      if (!json_is_string(it) || strchr(json_string_value(it), ';')) {
        char path[64];
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        db_diag_add(d, 0, 0, path, DB_EINVAL, "must be a code");
        continue;
      }
      if (b.len) db_buf_putc(&b, ';');
      db_buf_puts(&b, json_string_value(it));
    }
    return b.len ? db_buf_take(&b) : (db_buf_free(&b), NULL);
  }
  db_diag_add(d, 0, 0, name, DB_EINVAL, "must be an array of codes");
  return NULL;
}

/* Refuses members other than the allowed ones (names separated by ' '). */
static void only_members(json_t *o, const char *allowed, db_diag *d) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    size_t n = strlen(k);
    const char *p = allowed;
    int found = 0;
    while (*p && !found) {
      size_t len = strcspn(p, " ");
      found = len == n && memcmp(p, k, n) == 0;
      p += len;
      while (*p == ' ') p++;
    }
    if (!found) db_diag_add(d, 0, 0, k, DB_EINVAL, "unknown member (known: %s)", allowed);
  }
}

#define SPEC_MEMBERS                                                                                          \
  "directive title description lead co_agencies unit assigned deadline recurrence priority indicators " \
  "condition condition_period origin"

/* The owned lists a spec read from JSON points into. */
typedef struct spec_lists {
  char *co, *indicators;
} spec_lists;

/* Reads the members of a task spec present in o into spec (absent members keep spec's values). */
static void read_spec(json_t *o, db_task_spec *spec, spec_lists *l, db_diag *d) {
#define STR(field, name) \
  if (json_object_get(o, name)) spec->field = str_of(o, name, d)
  STR(directive, "directive");
  STR(title, "title");
  STR(description, "description");
  STR(lead, "lead");
  STR(unit, "unit");
  STR(condition, "condition");
  STR(condition_period, "condition_period");
  STR(origin, "origin");
#undef STR
  if (json_object_get(o, "co_agencies")) spec->co_agencies = l->co = list_of(o, "co_agencies", d);
  if (json_object_get(o, "indicators")) spec->indicators = l->indicators = list_of(o, "indicators", d);
  if (json_object_get(o, "assigned")) spec->assigned = day_of(o, "assigned", d);
  if (json_object_get(o, "deadline")) spec->deadline = day_of(o, "deadline", d);
  json_t *rec = json_object_get(o, "recurrence");
  if (rec) {
    spec->recur_day = 0;
    spec->recur_until = DB_DATE_NONE;
    if (json_is_object(rec)) {
      json_t *dayv = json_object_get(rec, "day");
      if (!json_is_integer(dayv)) db_diag_add(d, 0, 0, "recurrence.day", DB_EINVAL, "a day of the month 1..31 is required");
      else spec->recur_day = (int)json_integer_value(dayv);
      spec->recur_until = day_of(rec, "until", d);
    } else if (!json_is_null(rec)) {
      db_diag_add(d, 0, 0, "recurrence", DB_EINVAL, "must be {\"day\": N, \"until\": \"YYYY-MM-DD\"} or null");
    }
  }
  json_t *pr = json_object_get(o, "priority");
  if (pr && !json_is_null(pr) && (!json_is_string(pr) || db_task_priority_parse(json_string_value(pr), &spec->priority)))
    db_diag_add(d, 0, 0, "priority", DB_EINVAL, "must be low, normal, high or urgent");
}

/* ---- directives ---- */

static int directive_row(void *ctx, const db_directive *dv) {
  char date[11];
  db_format_date(dv->date, date);
  json_array_append_new(ctx, json_pack("{s:I, s:s, s:s, s:s?, s:s?}", "id", (json_int_t)dv->id, "number", dv->number,
                                       "date", date, "issuer", dv->issuer, "title", dv->title));
  return 0;
}

int db_h_directives_list(db_req *r, db_resp *w) {
  json_t *arr = json_array();
  int err = db_tasks_directives(r->store, directive_row, arr);
  if (err) {
    json_decref(arr);
    return err;
  }
  db_resp_json(w, 200, json_pack("{s:o}", "directives", arr));
  return 0;
}

int db_h_directives_post(db_req *r, db_resp *w) {
  json_t *o = db__h_json_body(r, w, 1, NULL);
  if (!o) return 0;
  db_diag d = DB_DIAG_INIT;
  only_members(o, "number date issuer title", &d);
  db_directive dv = {0, (char *)str_of(o, "number", &d), day_of(o, "date", &d), (char *)str_of(o, "issuer", &d),
                     (char *)str_of(o, "title", &d)};
  int err = 0;
  if (!d.count) {
    db_store *s = db_app_write_begin(r->app);
    err = db_store_begin(s, 0);
    if (!err) {
      err = db_tasks_directive_add(s, &dv, r->who.name, &d);
      if (!err) err = db_store_commit(s);
      else db_store_rollback(s);
    }
    db_app_write_end(r->app);
  }
  if (d.count) {
    db_resp_error(w, d.items[0].code == DB_EEXIST ? DB_EEXIST : DB_EINVAL, "the directive was not recorded", &d);
    err = 0;
  } else if (!err) {
    char date[11];
    db_format_date(dv.date, date);
    db_resp_json(w, 201, json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)dv.id, "number", dv.number, "date",
                                   date, "issuer", dv.issuer, "title", dv.title));
  }
  json_decref(o);
  db_diag_free(&d);
  return err;
}

/* ---- tasks: list, create, import ---- */

typedef struct list_ctx {
  const db_req *r;
  json_t *arr;
  size_t n;
} list_ctx;

static int list_row(void *ctx, const db_task *t, const db_task_view *v) {
  list_ctx *l = ctx;
  if (!may_see(l->r, t)) return 0;
  if (++l->n > MAX_LIST) return 1;
  json_array_append_new(l->arr, task_json(t, v));
  return 0;
}

/* The filters of the list: 0, or 1 after answering 400. */
static int read_filter(db_req *r, db_resp *w, db_task_filter *f) {
  db_task_filter_init(f);
  f->agency = db_req_query(r, "agency");
  f->lead = db_req_query(r, "lead");
  f->unit = db_req_query(r, "unit");
  f->cat = r->cat;
  f->directive = db_req_query(r, "directive");
  f->origin = db_req_query(r, "origin");
  f->q = db_req_query(r, "q");
  f->state = db_req_query(r, "status");
  if (!f->state) f->state = db_req_query(r, "state");
  static const char *const states[] = {"new", "in_progress", "done", "cancelled", "overdue", "done_on_time", "done_late"};
  if (f->state) {
    size_t k = 0;
    while (k < 7 && strcmp(states[k], f->state) != 0) k++;
    if (k == 7)
      return db__h_problem(w, 400, "status", "'%s' is not a status (new, in_progress, done, cancelled, overdue, "
                                             "done_on_time, done_late)", f->state), 1;
  }
  const char *from = db_req_query(r, "due_from"), *to = db_req_query(r, "due_to"), *od = db_req_query(r, "overdue");
  if (from && db_tasks_parse_day(from, strlen(from), &f->due_from) != DB_OK)
    return db__h_problem(w, 400, "due_from", "'%s' is not a date (YYYY-MM-DD)", from), 1;
  if (to && db_tasks_parse_day(to, strlen(to), &f->due_to) != DB_OK)
    return db__h_problem(w, 400, "due_to", "'%s' is not a date (YYYY-MM-DD)", to), 1;
  if (od) {
    if (strcmp(od, "true") == 0 || strcmp(od, "1") == 0) f->overdue = 1;
    else if (strcmp(od, "false") == 0 || strcmp(od, "0") == 0) f->overdue = -1;
    else return db__h_problem(w, 400, "overdue", "'%s' is not true or false", od), 1;
  }
  if (f->unit && !db_catalog_unit(r->cat, f->unit))
    return db__h_problem(w, 400, "unit", "unknown org unit '%s'", f->unit), 1;
  /* a reporter's list is its agency's */
  if (r->who.role == DB_ROLE_REPORTER) {
    if (f->agency && strcmp(f->agency, r->who.agency) != 0)
      return db__h_problem(w, 403, "agency", "a reporter of %s sees only its own agency's tasks", r->who.agency), 1;
    f->agency = r->who.agency;
  }
  return 0;
}

typedef struct csv_ctx {
  db_store *s;
  const db_task_filter *f;
  const db_task_clock *clk;
} csv_ctx;

static int write_csv(void *ctx, FILE *out) {
  csv_ctx *c = ctx;
  return db_tasks_export_csv(c->s, c->f, c->clk, out);
}

int db_h_tasks_list(db_req *r, db_resp *w) {
  db_task_filter f;
  if (read_filter(r, w, &f)) return 0;
  db_task_clock clk;
  db_calendar *cal = NULL;
  if (clock_of(r, w, &clk, &cal)) return 0;
  int err;
  if (strcmp(db_req_format(r), "csv") == 0) {
    csv_ctx c = {r->store, &f, &clk};
    err = db__h_answer_stream(w, DB__H_CSV, write_csv, &c);
  } else {
    list_ctx l = {r, json_array(), 0};
    err = db_tasks_list(r->store, &f, &clk, list_row, &l);
    if (err == 1) {
      json_decref(l.arr);
      err = 0;
      db__h_problem(w, 413, "", "more than %d tasks match: narrow the filters", MAX_LIST);
    } else if (err) {
      json_decref(l.arr);
    } else {
      char today[11];
      db_format_date(clk.today, today);
      db_resp_json(w, 200, json_pack("{s:s, s:I, s:o}", "as_of", today, "count", (json_int_t)l.n, "tasks", l.arr));
    }
  }
  db_calendar_free(cal);
  return err;
}

/* Writes on the writer handle in one transaction: fn(s, ctx, d) then commit, or rollback. */
static int write_tx(db_req *r, int (*fn)(db_store *s, void *ctx, db_diag *d), void *ctx, db_diag *d) {
  db_store *s = db_app_write_begin(r->app);
  int err = db_store_begin(s, 0);
  if (!err) {
    err = fn(s, ctx, d);
    if (!err) err = db_store_commit(s);
    else db_store_rollback(s);
  }
  db_app_write_end(r->app);
  if (!err) db__tasks_svc_touch(r->app);
  return err;
}

typedef struct create_ctx {
  const db_req *r;
  const db_task_spec *spec;
  int64_t id;
  const char *csv;
  size_t len;
  int64_t n;
} create_ctx;

static int do_create(db_store *s, void *ctx, db_diag *d) {
  create_ctx *c = ctx;
  return db_tasks_create(s, c->r->cat, c->spec, c->r->who.name, &c->id, d);
}

static int do_import(db_store *s, void *ctx, db_diag *d) {
  create_ctx *c = ctx;
  return db_tasks_import_csv(s, c->r->cat, c->csv, c->len, "api", c->r->who.name, &c->n, d);
}

int db_h_tasks_post(db_req *r, db_resp *w) {
  const char *format = db__h_body_format(r, w);
  if (!format) return 0;
  db_diag d = DB_DIAG_INIT;
  int err;
  if (strcmp(format, "csv") == 0) {
    create_ctx c = {r, NULL, 0, r->body, r->body_len, 0};
    err = write_tx(r, do_import, &c, &d);
    if (!err) db_resp_json(w, 201, json_pack("{s:I}", "created", (json_int_t)c.n));
    else {
      db_diag located = DB_DIAG_INIT;
      db__h_locate(&d, &located);
      if (err == DB_EINVAL) db_resp_error(w, DB_EINVAL, "the task list was refused: nothing was written", &located);
      else err = answer_failure(w, err, &located);
      if (err == DB_EINVAL) err = 0;
      db_diag_free(&located);
    }
    db_diag_free(&d);
    return err;
  }
  json_t *o = db__h_json_body(r, w, 1, NULL);
  if (!o) return 0;
  only_members(o, SPEC_MEMBERS, &d);
  db_task_spec spec;
  db_task_spec_init(&spec);
  spec_lists l = {0};
  read_spec(o, &spec, &l, &d);
  create_ctx c = {r, &spec, 0, NULL, 0, 0};
  err = d.count ? DB_EINVAL : write_tx(r, do_create, &c, &d);
  if (!err) err = answer_written(r, w, c.id, 201);
  else err = answer_failure(w, err, &d);
  db_free(l.co);
  db_free(l.indicators);
  json_decref(o);
  db_diag_free(&d);
  return err;
}

/* ---- statistics ---- */

static json_t *num(double x) { return isnan(x) ? json_null() : json_real(round(x * 100) / 100); }

static json_t *stat_json(const db_req *r, const db_tasks_stat *st, db_tasks_by by) {
  const char *name = NULL;
  if (by == DB_TASKS_BY_AGENCY) {
    const db_agency *a = db_catalog_agency(r->cat, st->key);
    name = a ? a->name : NULL;
  } else {
    const db_orgunit *u = db_catalog_unit(r->cat, st->key);
    name = u ? u->name : NULL;
  }
  return json_pack("{s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "key", st->key, "name",
                   name, "items", (json_int_t)st->items, "open", (json_int_t)st->open, "done", (json_int_t)st->done,
                   "done_on_time", (json_int_t)st->done_on_time, "done_late", (json_int_t)st->done_late, "overdue",
                   (json_int_t)st->overdue, "cancelled", (json_int_t)st->cancelled, "achieved_by_data",
                   (json_int_t)st->achieved_by_data, "rank", (json_int_t)st->rank, "ontime_pct", num(st->ontime_pct),
                   "avg_delay", num(st->avg_delay));
}

typedef struct stats_csv {
  const db_req *r;
  const db_tasks_stat *rows;
  size_t n;
} stats_csv;

static int write_stats_csv(void *ctx, FILE *out) {
  stats_csv *c = ctx;
  fputs("rank,key,items,open,done,done_on_time,done_late,overdue,cancelled,achieved_by_data,ontime_pct,avg_delay\n", out);
  for (size_t i = 0; i < c->n; i++) {
    const db_tasks_stat *s = &c->rows[i];
    fprintf(out, "%lld,%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,", (long long)s->rank, s->key[0] ? s->key : "total",
            (long long)s->items, (long long)s->open, (long long)s->done, (long long)s->done_on_time,
            (long long)s->done_late, (long long)s->overdue, (long long)s->cancelled, (long long)s->achieved_by_data);
    if (!isnan(s->ontime_pct)) fprintf(out, "%.2f", s->ontime_pct);
    fputc(',', out);
    if (!isnan(s->avg_delay)) fprintf(out, "%.2f", s->avg_delay);
    fputc('\n', out);
  }
  return 0;
}

int db_h_tasks_stats(db_req *r, db_resp *w) {
  const char *by_text = db_req_query(r, "by");
  db_tasks_by by = DB_TASKS_BY_AGENCY;
  if (by_text && strcmp(by_text, "unit") == 0) by = DB_TASKS_BY_UNIT;
  else if (by_text && strcmp(by_text, "agency") != 0)
    return db__h_problem(w, 400, "by", "'%s' is not agency or unit", by_text);
  db_task_clock clk;
  db_calendar *cal = NULL;
  if (clock_of(r, w, &clk, &cal)) return 0;
  db_task *tasks = NULL;
  size_t n = 0;
  int err = db_tasks_load_all(r->store, &tasks, &n);
  db_tasks_stat *rows = NULL;
  size_t nr = 0;
  if (!err) err = db_tasks_stats(tasks, n, &clk, by, &rows, &nr);
  if (!err && strcmp(db_req_format(r), "csv") == 0) {
    stats_csv c = {r, rows, nr};
    err = db__h_answer_stream(w, DB__H_CSV, write_stats_csv, &c);
  } else if (!err) {
    json_t *arr = json_array();
    for (size_t i = 0; i + 1 < nr; i++) json_array_append_new(arr, stat_json(r, &rows[i], by));
    char today[11];
    db_format_date(clk.today, today);
    json_t *total = stat_json(r, &rows[nr - 1], by);
    json_object_del(total, "key");
    json_object_del(total, "name");
    json_object_del(total, "rank");
    db_resp_json(w, 200, json_pack("{s:s, s:s, s:o, s:o}", "as_of", today, "by",
                                   by == DB_TASKS_BY_UNIT ? "unit" : "agency", "rows", arr, "total", total));
  }
  db_free(rows);
  db_tasks_free_all(tasks, n);
  db_calendar_free(cal);
  return err;
}

int db_h_tasks_stats_publish(db_req *r, db_resp *w) {
  db_task_clock clk;
  db_calendar *cal = NULL;
  if (clock_of(r, w, &clk, &cal)) return 0;
  db_calendar_free(cal);
  db_diag d = DB_DIAG_INIT;
  db_tasks_eval_summary sum;
  int err = db__tasks_svc_run(r->app, clk.today, &sum, &d);
  if (err == DB_EINVAL) {
    db_resp_error(w, err, "the statistics could not be published", &d);
    err = 0;
  } else if (!err) {
    char today[11];
    db_format_date(clk.today, today);
    db_resp_json(w, 200, json_pack("{s:s, s:I, s:I, s:I, s:I}", "as_of", today, "judged", (json_int_t)sum.judged,
                                   "achieved", (json_int_t)sum.achieved, "missed", (json_int_t)sum.missed,
                                   "overdue_noted", (json_int_t)sum.overdue_noted));
  }
  db_diag_free(&d);
  return err;
}

/* ---- one task ---- */

int db_h_task_get(db_req *r, db_resp *w) {
  int64_t id;
  int err = task_param(r, w, 0, &id);
  return err ? (err == 1 ? 0 : err) : answer_task(r, w, r->store, id, 200);
}

/* The version an If-Match header asks for ("\"7-2025-10-31\"" or "\"7\""): 0 when absent or "*", -1 when
 * it names no version. */
static int64_t if_match(const db_req *r) {
  const char *h = db_req_header(r, "If-Match");
  if (!h) return 0;
  while (*h == ' ') h++;
  if (strcmp(h, "*") == 0) return 0;
  if (strncmp(h, "W/", 2) == 0) h += 2;
  int64_t v;
  size_t n = strlen(h);
  if (n < 3 || h[0] != '"' || h[n - 1] != '"') return -1;
  const char *dash = memchr(h + 1, '-', n - 2); /* "<version>-<day>", or a bare "<version>" */
  size_t digits = dash ? (size_t)(dash - h - 1) : n - 2;
  return db_parse_int64(h + 1, digits, &v) == DB_OK && v > 0 ? v : -1;
}

typedef struct patch_ctx {
  const db_req *r;
  int64_t id, expect;
  json_t *body;
  const char *status, *note;
  int64_t day;
  int edits;
} patch_ctx;

static int do_patch(db_store *s, void *ctx, db_diag *d) {
  patch_ctx *p = ctx;
  int err = 0;
  if (p->edits) {
    db_task t;
    if ((err = db_tasks_get(s, p->id, &t))) return err;
    db_task_spec spec;
    db_task_spec_of(&t, &spec);
    spec_lists l = {0};
    read_spec(p->body, &spec, &l, d);
    err = d->count ? DB_EINVAL : db_tasks_edit(s, p->r->cat, p->id, p->expect, &spec, p->r->who.name, NULL, d);
    p->expect = 0;
    db_free(l.co);
    db_free(l.indicators);
    db_task_free(&t);
    if (err) return err;
  }
  if (p->status)
    err = db_tasks_transition(s, p->id, p->expect, p->status, p->day, p->note, p->r->who.name, NULL, d);
  return err;
}

int db_h_task_patch(db_req *r, db_resp *w) {
  int64_t id;
  if (id_param(r, w, &id)) return 0;
  if (r->who.role == DB_ROLE_ANALYST)
    return db__h_problem(w, 403, "role", "an analyst reads tasks; the lead agency and leaders change them");
  db_task t;
  int err = read_task(r, w, r->store, id, &t);
  if (err) return err == 1 ? 0 : err;
  json_t *o = db__h_json_body(r, w, 1, NULL);
  if (!o) {
    db_task_free(&t);
    return 0;
  }
  db_diag d = DB_DIAG_INIT;
  only_members(o, SPEC_MEMBERS " status day note", &d);
  patch_ctx p = {r, id, if_match(r), o, str_of(o, "status", &d), str_of(o, "note", &d), day_of(o, "day", &d), 0};
  p.edits = json_object_size(o) - (json_object_get(o, "status") != NULL) - (json_object_get(o, "day") != NULL) -
            (json_object_get(o, "note") != NULL);
  if (p.expect < 0) {
    db_diag_free(&d);
    json_decref(o);
    db_task_free(&t);
    return db__h_problem(w, 400, "If-Match", "not the ETag of a task (\"3\")");
  }
  if (!p.status && !p.edits && !d.count) db_diag_add(&d, 0, 0, "status", DB_EINVAL, "nothing to change: give a status or fields");
  int allowed = 1;
  if (!d.count && !directs(r)) {
    if (p.edits) {
      db__h_problem(w, 403, "role", "only leaders edit a task; the lead agency moves it (status)");
      allowed = 0;
    } else if (p.status && strcmp(p.status, "cancelled") == 0 && r->who.role == DB_ROLE_REPORTER) {
      db__h_problem(w, 403, "status", "only leaders cancel a task");
      allowed = 0;
    } else {
      allowed = acts_as_lead(r, w, &t);
    }
  }
  db_task_free(&t);
  if (allowed && d.count) {
    db_resp_error(w, DB_EINVAL, "the change was refused", &d);
  } else if (allowed) {
    err = write_tx(r, do_patch, &p, &d);
    if (err == DB_ECONFLICT && d.count && d.items[0].path && strcmp(d.items[0].path, "version") == 0) {
      db_resp_problem(w, 412, "precondition failed", "the task changed since the version given in If-Match", &d);
      err = 0;
    } else if (err) {
      err = answer_failure(w, err, &d);
    } else {
      err = answer_written(r, w, id, 200);
    }
  }
  json_decref(o);
  db_diag_free(&d);
  return err;
}

/* ---- reports and evidence ---- */

static int report_row(void *ctx, int64_t id, const char *json) {
  json_t *o = json_loads(json, 0, NULL);
  if (o) json_array_append_new(ctx, o);
  return 0;
}

int db_h_task_reports_list(db_req *r, db_resp *w) {
  int64_t id;
  int err = task_param(r, w, 0, &id);
  if (err) return err == 1 ? 0 : err;
  json_t *arr = json_array();
  err = db_tasks_reports(r->store, id, report_row, arr);
  if (err) {
    json_decref(arr);
    return err;
  }
  db_resp_json(w, 200, json_pack("{s:I, s:o}", "task", (json_int_t)id, "reports", arr));
  return 0;
}

typedef struct report_ctx {
  int64_t id, report;
  db_task_report_spec spec;
  const char *actor;
} report_ctx;

static int do_report(db_store *s, void *ctx, db_diag *d) {
  report_ctx *c = ctx;
  return db_tasks_report_add(s, c->id, &c->spec, c->actor, &c->report, d);
}

int db_h_task_reports_post(db_req *r, db_resp *w) {
  int64_t id;
  int err = task_param(r, w, 1, &id);
  if (err) return err == 1 ? 0 : err;
  json_t *o = db__h_json_body(r, w, 1, NULL);
  if (!o) return 0;
  db_diag d = DB_DIAG_INIT;
  only_members(o, "percent text links files", &d);
  report_ctx c = {id, 0, {0}, r->who.name};
  json_t *pv = json_object_get(o, "percent");
  if (!json_is_integer(pv)) db_diag_add(&d, 0, 0, "percent", DB_EINVAL, "a whole percentage 0..100 is required");
  else c.spec.percent = (int)json_integer_value(pv);
  c.spec.text = str_of(o, "text", &d);
  json_t *links = json_object_get(o, "links"), *files = json_object_get(o, "files");
  size_t nl = json_array_size(links), nf = json_array_size(files);
  const char **lv = db_calloc(nl + 1, sizeof *lv);
  db_task_file *fv = db_calloc(nf + 1, sizeof *fv);
  unsigned char **bufs = db_calloc(nf + 1, sizeof *bufs);
  if (links && !json_is_array(links)) db_diag_add(&d, 0, 0, "links", DB_EINVAL, "must be an array of links");
  if (files && !json_is_array(files)) db_diag_add(&d, 0, 0, "files", DB_EINVAL, "must be an array of files");
  for (size_t i = 0; i < nl; i++) {
    lv[i] = json_string_value(json_array_get(links, i));
    if (!lv[i]) db_diag_add(&d, 0, 0, "links", DB_EINVAL, "links[%zu] must be a string", i);
  }
  for (size_t i = 0; i < nf; i++) {
    json_t *f = json_array_get(files, i);
    char path[48];
    snprintf(path, sizeof path, "files[%zu].data", i);
    const char *b64 = json_string_value(json_object_get(f, "data"));
    fv[i].name = json_string_value(json_object_get(f, "name"));
    fv[i].content_type = json_string_value(json_object_get(f, "content_type"));
    if (!b64) {
      db_diag_add(&d, 0, 0, path, DB_EINVAL, "the file's bytes in base64 are required");
      continue;
    }
    size_t cap = strlen(b64) / 4 * 3 + 3;
    bufs[i] = db_malloc(cap);
    if (sodium_base642bin(bufs[i], cap, b64, strlen(b64), "\r\n", &fv[i].len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
      db_diag_add(&d, 0, 0, path, DB_EINVAL, "not base64");
    fv[i].data = bufs[i];
  }
  c.spec.links = lv;
  c.spec.n_links = nl;
  c.spec.files = fv;
  c.spec.n_files = nf;
  if (d.count) err = DB_EINVAL;
  else err = write_tx(r, do_report, &c, &d);
  if (!err) {
    db_resp_json(w, 201, json_pack("{s:I, s:I}", "task", (json_int_t)id, "report", (json_int_t)c.report));
  } else {
    err = answer_failure(w, err, &d);
  }
  for (size_t i = 0; i < nf; i++) db_free(bufs[i]);
  db_free(bufs);
  db_free(fv);
  db_free(lv);
  json_decref(o);
  db_diag_free(&d);
  return err;
}

int db_h_task_evidence_get(db_req *r, db_resp *w) {
  int64_t id;
  int err = task_param(r, w, 0, &id);
  if (err) return err == 1 ? 0 : err;
  unsigned char *data;
  size_t len;
  char *name, *ctype;
  err = db_tasks_evidence_get(r->store, id, r->params[1], &data, &len, &name, &ctype);
  if (err == DB_ENOTFOUND) return db__h_problem(w, 404, "sha256", "task %lld has no file %s", (long long)id, r->params[1]);
  if (err) return err;
  db_resp_text(w, 200, ctype ? ctype : "application/octet-stream", (const char *)data, len);
  char disp[400];
  snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name ? name : "evidence");
  db_resp_header(w, "Content-Disposition", disp);
  db_free(data);
  db_free(name);
  db_free(ctype);
  return 0;
}

/* ---- extensions ---- */

typedef struct ext_ctx {
  int64_t id, expect, deadline;
  const char *reason, *note, *actor;
  size_t index;
  int approve;
} ext_ctx;

static int do_request(db_store *s, void *ctx, db_diag *d) {
  ext_ctx *c = ctx;
  return db_tasks_extension_request(s, c->id, c->expect, c->deadline, c->reason, c->actor, &c->index, d);
}

static int do_decide(db_store *s, void *ctx, db_diag *d) {
  ext_ctx *c = ctx;
  return db_tasks_extension_decide(s, c->id, c->index, c->approve, c->note, c->actor, d);
}

int db_h_task_extensions_post(db_req *r, db_resp *w) {
  int64_t id;
  int err = task_param(r, w, 1, &id);
  if (err) return err == 1 ? 0 : err;
  json_t *o = db__h_json_body(r, w, 1, NULL);
  if (!o) return 0;
  db_diag d = DB_DIAG_INIT;
  only_members(o, "deadline reason", &d);
  ext_ctx c = {id, if_match(r), day_of(o, "deadline", &d), str_of(o, "reason", &d), NULL, r->who.name, 0, 0};
  if (c.expect < 0) c.expect = 0;
  err = d.count ? DB_EINVAL : write_tx(r, do_request, &c, &d);
  if (!err) {
    err = answer_written(r, w, id, 201);
  } else {
    err = answer_failure(w, err, &d);
  }
  json_decref(o);
  db_diag_free(&d);
  return err;
}

int db_h_task_extension_decide(db_req *r, db_resp *w) {
  int64_t id, n;
  if (id_param(r, w, &id)) return 0;
  if (db_parse_int64(r->params[1], strlen(r->params[1]), &n) != DB_OK || n < 0)
    return db__h_problem(w, 404, "n", "no extension '%s'", r->params[1]);
  json_t *o = db__h_json_body(r, w, 1, NULL);
  if (!o) return 0;
  db_diag d = DB_DIAG_INIT;
  only_members(o, "approve note", &d);
  json_t *ap = json_object_get(o, "approve");
  if (ap && !json_is_boolean(ap)) db_diag_add(&d, 0, 0, "approve", DB_EINVAL, "must be true or false");
  ext_ctx c = {id, 0, DB_DATE_NONE, NULL, str_of(o, "note", &d), r->who.name, (size_t)n, !ap || json_is_true(ap)};
  int err = d.count ? DB_EINVAL : write_tx(r, do_decide, &c, &d);
  if (!err) {
    err = answer_written(r, w, id, 200);
  } else {
    err = answer_failure(w, err, &d);
  }
  json_decref(o);
  db_diag_free(&d);
  return err;
}
