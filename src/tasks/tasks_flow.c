/* tasks_flow.c - what happens to a task after it is created: directives that assign tasks, the workflow's
 * transitions (new -> in_progress -> done, or cancelled), edits by those who direct, and extension
 * requests with their approval. Every change is one record write with its audit record and event, in
 * the caller's transaction, guarded by the record's version when the caller gives one. */
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "model/period.h"
#include "tasks/tasks_int.h"

/* ---- directives ---- */

void db_directive_free(db_directive *dv) {
  if (!dv) return;
  db_free(dv->number);
  db_free(dv->issuer);
  db_free(dv->title);
  memset(dv, 0, sizeof *dv);
}

int db_tasks_directive_add(db_store *s, db_directive *dv, const char *actor, db_diag *d) {
  int bad = 0;
  if (!dv->number || !*dv->number) bad = db_diag_add(d, 0, 0, "number", DB_EINVAL, "required (\"125/TB-VP\")");
  else if (strlen(dv->number) > 100) bad = db_diag_add(d, 0, 0, "number", DB_EINVAL, "longer than 100 bytes");
  if (dv->date == DB_DATE_NONE) bad = db_diag_add(d, 0, 0, "date", DB_EINVAL, "required (YYYY-MM-DD)");
  if (!dv->issuer || !*dv->issuer) bad = db_diag_add(d, 0, 0, "issuer", DB_EINVAL, "required");
  if (!dv->title || !*dv->title) bad = db_diag_add(d, 0, 0, "title", DB_EINVAL, "required");
  else if (strlen(dv->title) > DB_TASKS_TEXT_MAX)
    bad = db_diag_add(d, 0, 0, "title", DB_EINVAL, "longer than %d bytes", DB_TASKS_TEXT_MAX);
  if (bad) return DB_EINVAL;
  json_t *o = json_pack("{s:s, s:o, s:s, s:s}", "number", dv->number, "date", db__day_json(dv->date), "issuer",
                        dv->issuer, "title", dv->title);
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  db_record r = {0, DB_DIRECTIVE_KIND, dv->number, body, 0, 0};
  int rc = db_store_record_put(s, &r, 0);
  if (rc == DB_EEXIST) db_diag_add(d, 0, 0, "number", DB_EEXIST, "directive %s exists already", dv->number);
  if (!rc) {
    dv->id = r.id;
    char object[128];
    snprintf(object, sizeof object, "directive:%s", dv->number);
    db_audit a = {0, actor ? actor : "system", "directive.created", object, body};
    rc = db_store_audit_append(s, &a);
    db_event e = {0, 0, "directive.created", body};
    if (!rc) rc = db_store_event_append(s, &e);
  }
  free(body);
  return rc;
}

typedef struct directive_ctx {
  int (*cb)(void *ctx, const db_directive *dv);
  void *ctx;
} directive_ctx;

static int directive_one(void *ctx, const db_record *r) {
  directive_ctx *c = ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  db_directive dv = {r->id, (char *)json_string_value(json_object_get(o, "number")), DB_DATE_NONE,
                     (char *)json_string_value(json_object_get(o, "issuer")),
                     (char *)json_string_value(json_object_get(o, "title"))};
  int rc = 0;
  if (dv.number && db__day_from_json(json_object_get(o, "date"), &dv.date) == DB_OK) rc = c->cb(c->ctx, &dv);
  json_decref(o);
  return rc;
}

int db_tasks_directives(db_store *s, int (*cb)(void *ctx, const db_directive *dv), void *ctx) {
  directive_ctx c = {cb, ctx};
  return db_store_record_scan(s, DB_DIRECTIVE_KIND, directive_one, &c);
}

/* ---- transitions ---- */

/* The statuses each status may move to, as a text for messages, and the check. */
static const char *allowed_text(int from) {
  switch (from) {
  case DB_TASK_NEW: return "allowed from new: in_progress, cancelled";
  case DB_TASK_IN_PROGRESS: return "allowed from in_progress: done, cancelled";
  case DB_TASK_DONE: return "no move is allowed from done";
  default: return "no move is allowed from cancelled";
  }
}

static int allowed(int from, int to) {
  return (from == DB_TASK_NEW && (to == DB_TASK_IN_PROGRESS || to == DB_TASK_CANCELLED)) ||
         (from == DB_TASK_IN_PROGRESS && (to == DB_TASK_DONE || to == DB_TASK_CANCELLED));
}

/* Reads task id for a change: 0, DB_ENOTFOUND (in d), or DB_ECONFLICT (in d) on a version mismatch. */
static int read_for_change(db_store *s, int64_t id, int64_t expect_version, db_task *t, db_diag *d) {
  int rc = db_tasks_get(s, id, t);
  if (rc == DB_ENOTFOUND) return db_diag_add(d, 0, 0, "id", rc, "no task %lld", (long long)id);
  if (rc) return rc;
  if (expect_version && expect_version != t->version) {
    db_diag_add(d, 0, 0, "version", DB_ECONFLICT,
                "task %lld changed meanwhile: version %lld expected, the task is at version %lld", (long long)id,
                (long long)expect_version, (long long)t->version);
    db_task_free(t);
    return DB_ECONFLICT;
  }
  return DB_OK;
}

int db_tasks_transition(db_store *s, int64_t id, int64_t expect_version, const char *to, int64_t day,
                        const char *note, const char *actor, int64_t *version, db_diag *d) {
  int target;
  if (!to || db_task_status_parse(to, &target) != DB_OK)
    return db_diag_add(d, 0, 0, "status", DB_EINVAL, "'%s' is not a status (new, in_progress, done, cancelled)",
                       to ? to : "");
  db_task t;
  int rc = read_for_change(s, id, expect_version, &t, d);
  if (rc) return rc;
  if (day == DB_DATE_NONE) day = db__tasks_today();
  if (!allowed(t.status, target)) {
    rc = db_diag_add(d, 0, 0, "status", DB_ECONFLICT, "task %lld is %s: it cannot move to %s (%s)", (long long)id,
                     db_task_status_name(t.status), db_task_status_name(target), allowed_text(t.status));
    goto done;
  }
  if (day < t.assigned) {
    char a[11];
    db_format_date(t.assigned, a);
    rc = db_diag_add(d, 0, 0, "day", DB_EINVAL, "the task was assigned on %s, after that day", a);
    goto done;
  }
  const char *action = "task.updated";
  json_t *extra = json_object();
  if (note && *note) json_object_set_new(extra, "note", json_string(note));
  if (target == DB_TASK_IN_PROGRESS) {
    t.status = target;
    t.started = day;
    action = "task.started";
  } else if (target == DB_TASK_CANCELLED) {
    t.status = target;
    action = "task.cancelled";
  } else if (t.recur_day) { /* done: completes the current occurrence */
    db_task_view v;
    db_task_clock clk = {NULL, day};
    db_task_view_of(&t, &clk, &v);
    int64_t month = db__task_first_month(&t) + (int64_t)t.n_occurrences;
    if (month > db__task_last_month(&t)) {
      json_decref(extra);
      rc = db_diag_add(d, 0, 0, "status", DB_ECONFLICT, "task %lld has no occurrence left to complete", (long long)id);
      goto done;
    }
    t.occurrences = db_realloc(t.occurrences, (t.n_occurrences + 1) * sizeof *t.occurrences);
    t.occurrences[t.n_occurrences].month = month;
    t.occurrences[t.n_occurrences++].done = day;
    db_period m = {DB_PT_MONTH, 0, month};
    char code[DB_PERIOD_CODE_MAX];
    db_period_format(&m, code);
    json_object_set_new(extra, "occurrence", json_string(code));
    action = "task.occurrence_done";
    if (month == db__task_last_month(&t)) {
      t.status = DB_TASK_DONE;
      t.done = day;
      t.percent = 100;
      action = "task.done";
    }
  } else {
    t.status = DB_TASK_DONE;
    t.done = day;
    t.percent = 100;
    action = "task.done";
  }
  json_object_set_new(extra, "day", db__day_json(day));
  rc = db__task_save(s, &t, t.version, actor, action, extra);
  if (!rc && version) *version = t.version;
done:
  db_task_free(&t);
  return rc;
}

int db_tasks_edit(db_store *s, const db_catalog *cat, int64_t id, int64_t expect_version, const db_task_spec *spec,
                  const char *actor, int64_t *version, db_diag *d) {
  db_task old;
  int rc = read_for_change(s, id, expect_version, &old, d);
  if (rc) return rc;
  rc = db__task_validate(s, cat, spec, NULL, d);
  if (!rc && old.recur_day != spec->recur_day && old.n_occurrences)
    rc = db_diag_add(d, 0, 0, "recurrence", DB_ECONFLICT, "occurrences were completed: the recurrence stays day %d",
                     old.recur_day);
  if (!rc) {
    db_task t;
    db__task_from_spec(&t, cat, spec, old.created_by);
    /* history is not the editor's: the stored one stays */
    t.id = old.id;
    t.status = old.status;
    t.started = old.started;
    t.done = old.done;
    t.percent = old.percent;
    t.created_ms = old.created_ms;
    t.achieved_by_data = old.achieved_by_data;
    t.condition_missed = old.condition_missed;
    t.overdue_noted = old.overdue_noted;
    t.extensions = old.extensions, t.n_extensions = old.n_extensions;
    t.occurrences = old.occurrences, t.n_occurrences = old.n_occurrences;
    t.evidence = old.evidence;
    old.extensions = NULL, old.n_extensions = 0, old.occurrences = NULL, old.n_occurrences = 0, old.evidence = NULL;
    rc = db__task_save(s, &t, old.version, actor, "task.updated", NULL);
    if (!rc && version) *version = t.version;
    db_task_free(&t);
  }
  db_task_free(&old);
  return rc;
}

/* ---- extensions ---- */

int db_tasks_extension_request(db_store *s, int64_t id, int64_t expect_version, int64_t deadline,
                               const char *reason, const char *actor, size_t *index, db_diag *d) {
  db_task t;
  int rc = read_for_change(s, id, expect_version, &t, d);
  if (rc) return rc;
  db_task_view v;
  db_task_view_of(&t, NULL, &v);
  if (t.status == DB_TASK_DONE || t.status == DB_TASK_CANCELLED) {
    rc = db_diag_add(d, 0, 0, "status", DB_ECONFLICT, "task %lld is %s: no extension can be asked for",
                     (long long)id, db_task_status_name(t.status));
  } else if (t.recur_day) {
    rc = db_diag_add(d, 0, 0, "deadline", DB_ECONFLICT,
                     "task %lld recurs every month: its occurrences have no extension", (long long)id);
  } else if (v.pending_extension) {
    rc = db_diag_add(d, 0, 0, "deadline", DB_ECONFLICT, "task %lld has an extension request awaiting a decision",
                     (long long)id);
  } else {
    int bad = 0;
    if (deadline == DB_DATE_NONE) {
      bad = db_diag_add(d, 0, 0, "deadline", DB_EINVAL, "required: the new deadline (YYYY-MM-DD)");
    } else if (deadline <= v.due) {
      char due[11];
      db_format_date(v.due, due);
      bad = db_diag_add(d, 0, 0, "deadline", DB_EINVAL, "the new deadline must come after the due day %s", due);
    }
    if (!reason || !*reason) bad = db_diag_add(d, 0, 0, "reason", DB_EINVAL, "required");
    else if (strlen(reason) > DB_TASKS_TEXT_MAX)
      bad = db_diag_add(d, 0, 0, "reason", DB_EINVAL, "longer than %d bytes", DB_TASKS_TEXT_MAX);
    if (bad) {
      rc = DB_EINVAL;
      goto done;
    }
    t.extensions = db_realloc(t.extensions, (t.n_extensions + 1) * sizeof *t.extensions);
    db_task_extension *x = &t.extensions[t.n_extensions++];
    memset(x, 0, sizeof *x);
    x->requested_ms = db_now_ms();
    x->requested_by = db_strdup(actor ? actor : "system");
    x->deadline = deadline;
    x->reason = db_strdup(reason);
    json_t *extra = json_pack("{s:i, s:o, s:s}", "extension", (json_int_t)(t.n_extensions - 1), "deadline",
                              db__day_json(deadline), "reason", reason);
    rc = db__task_save(s, &t, t.version, actor, "task.extension_requested", extra);
    if (!rc && index) *index = t.n_extensions - 1;
  }
done:
  db_task_free(&t);
  return rc;
}

int db_tasks_extension_decide(db_store *s, int64_t id, size_t index, int approve, const char *note,
                              const char *actor, db_diag *d) {
  db_task t;
  int rc = read_for_change(s, id, 0, &t, d);
  if (rc) return rc;
  if (index >= t.n_extensions) {
    rc = db_diag_add(d, 0, 0, "extension", DB_ENOTFOUND, "task %lld has no extension %zu", (long long)id, index);
  } else if (t.extensions[index].state != 0) {
    rc = db_diag_add(d, 0, 0, "extension", DB_ECONFLICT, "extension %zu of task %lld was %s already", index,
                     (long long)id, t.extensions[index].state > 0 ? "approved" : "rejected");
  } else if (t.status == DB_TASK_DONE || t.status == DB_TASK_CANCELLED) {
    rc = db_diag_add(d, 0, 0, "status", DB_ECONFLICT, "task %lld is %s", (long long)id, db_task_status_name(t.status));
  } else {
    db_task_extension *x = &t.extensions[index];
    x->state = approve ? 1 : -1;
    x->decided_by = db_strdup(actor ? actor : "system");
    x->decided_ms = db_now_ms();
    x->note = note && *note ? db_strdup(note) : NULL;
    json_t *extra = json_pack("{s:i, s:o}", "extension", (json_int_t)index, "deadline", db__day_json(x->deadline));
    if (note && *note) json_object_set_new(extra, "note", json_string(note));
    if (approve) t.overdue_noted = DB_DATE_NONE;
    rc = db__task_save(s, &t, t.version, actor, approve ? "task.extension_approved" : "task.extension_rejected",
                       extra);
  }
  db_task_free(&t);
  return rc;
}
