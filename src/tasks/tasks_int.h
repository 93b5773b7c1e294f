/* tasks_int.h - what the files of the tasks module share. Not for use outside src/tasks.
 *
 *   tasks.c         vocabulary, the task record's JSON, validation, create/get/list, computed views
 *   tasks_flow.c    directives, the workflow, updates, extensions
 *   tasks_report.c  progress reports and evidence files
 *   tasks_eval.c    evaluation with data
 *   tasks_stats.c   statistics, their indicators, publication through ingest
 *   tasks_csv.c     CSV import and export */
#ifndef DB_TASKS_INT_H
#define DB_TASKS_INT_H
#include <jansson.h>

#include "tasks/tasks.h"

/* The fields of a task spec, for locating problems (a JSON path, or a CSV column). */
typedef enum db__task_field {
  DB__TF_DIRECTIVE = 0,
  DB__TF_TITLE,
  DB__TF_DESCRIPTION,
  DB__TF_LEAD,
  DB__TF_CO,
  DB__TF_UNIT,
  DB__TF_ASSIGNED,
  DB__TF_DEADLINE,
  DB__TF_RECURRENCE,
  DB__TF_PRIORITY,
  DB__TF_INDICATORS,
  DB__TF_CONDITION,
  DB__TF_CONDITION_PERIOD,
  DB__TF_ORIGIN,
  DB__TF_STATUS,
  DB__TF_DONE,
  DB__TF_COUNT
} db__task_field;

/* The JSON name of each field ("co_agencies"). */
extern const char *const db__task_field_names[DB__TF_COUNT];

/* Where problems of one spec go: a line (0 for JSON) and the column of each field (0 = none). */
typedef struct db__task_where {
  long line;
  const int *columns; /* DB__TF_COUNT entries, or NULL */
} db__task_where;

/* Adds a problem about field f at w. Returns code. */
int db__task_problem(db_diag *d, const db__task_where *w, db__task_field f, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Validates a spec against the catalog (and, when s is not NULL, the stored directives). 0 or DB_EINVAL. */
int db__task_validate(db_store *s, const db_catalog *cat, const db_task_spec *spec, const db__task_where *w,
                      db_diag *d);
/* Fills a new task (status new, created now by actor) from a valid spec. */
void db__task_from_spec(db_task *t, const db_catalog *cat, const db_task_spec *spec, const char *actor);

/* The task as its record's JSON body (a new reference) and back (0 or DB_EINVAL). */
json_t *db__task_json(const db_task *t);
int db__task_parse(const db_record *r, db_task *out);

/* Writes t (id 0: creates it and sets id) with expect_version, then the audit record and the event
 * (action "task.<action>", the event body extra (stolen; may be NULL) with "task" and "title" added).
 * 0 or the store's error (DB_ECONFLICT on a version mismatch). */
int db__task_save(db_store *s, db_task *t, int64_t expect_version, const char *actor, const char *action,
                  json_t *extra);
/* Appends an audit record and an event of kind `action` (extra stolen, "task" added). */
int db__task_log(db_store *s, int64_t id, const char *actor, const char *action, json_t *extra);

/* Working days late: those in (due, day] (Monday to Friday when cal is NULL); 0 when day <= due or
 * either is DB_DATE_NONE. */
int64_t db__tasks_late_by(const db_calendar *cal, int64_t due, int64_t day);
/* Today in the city. */
int64_t db__tasks_today(void);
/* "YYYY-MM-DD" of a day as a JSON string, null for DB_DATE_NONE. */
json_t *db__day_json(int64_t day);
/* A JSON day member: DB_DATE_NONE when absent or null; 0 or DB_EINVAL. */
int db__day_from_json(json_t *v, int64_t *day);
/* Writes a ';' list from a JSON array of strings ("" items skipped); NULL for an empty list. */
char *db__list_join(json_t *arr);
/* The items of a ';' list as a JSON array. */
json_t *db__list_json(const char *list);

/* The computed item outcome of one item (a one-off task or an occurrence), for statistics. */
typedef struct db__task_item {
  int64_t due;  /* day */
  int64_t done; /* day, DB_DATE_NONE when open */
} db__task_item;
/* The items of t counting on clk->today (see db_tasks_stat); *items owned (db_free). */
size_t db__task_items(const db_task *t, const db_task_clock *clk, db__task_item **items);
/* The first month (ord) of a recurring task, and its last (INT64_MAX when open-ended). */
int64_t db__task_first_month(const db_task *t);
int64_t db__task_last_month(const db_task *t);

#endif
