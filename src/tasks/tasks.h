/* tasks.h - directives and the tasks they assign, followed to the end: the workflow, deadlines on the
 * working-day calendar, extensions, progress reports with evidence, evaluation with data, and the
 * statistics per agency and per ward (DESIGN.md §1 "task", §2 "tasks").
 *
 * Directives. The document that assigns tasks: a number unique in the store ("125/TB-VP"), a date, an
 * issuer and a title. A store record of kind "directive" keyed by its number.
 *
 * Tasks. A store record of kind "task" (its id is the task's id, its version the ETag of the API). A task
 * has a title, a description, a lead agency and co-agencies (agency codes, co-agencies separated by ';'),
 * an org-unit scope (the city "79" or a ward), an assigned day, a priority, and either a deadline (a day)
 * or a monthly recurrence ("every month by day N", until an optional last day). Deadlines that fall on a
 * rest day or a holiday move to the next working day of the calendar (model/calendar.h): the task keeps
 * the day as given and its `due` is computed. A task may link indicators and carry a completion
 * condition, a boolean formula (formula.h) such as `DISBURSE_PCT >= 95`, with the period it is judged on
 * ("2025"), and an origin saying where it came from ("alert:123", "scenario:flood/step 2").
 *
 * Workflow. Stored status: new -> in_progress -> done, and new or in_progress -> cancelled; nothing
 * leaves done or cancelled. Any other move is refused with DB_ECONFLICT and a message naming the state
 * and the moves allowed from it. A done task is on time or late (done day against the due day at that
 * time); "overdue" (an open task whose due day has passed) is computed for a given day, never stored.
 * A recurring task has one occurrence per month from its assigned month (to its last day): moving it to
 * done completes the current occurrence and the task stays in progress until its last occurrence is
 * done. Extensions: the lead agency asks for a new deadline with a reason; a leader approves or rejects
 * it; an approved extension moves the due day, the original deadline stays in the task.
 *
 * Progress reports (records of kind "task_report"): a percentage, a text, links, and evidence files
 * (records of kind "task_evidence", keyed "<task id>/<sha256 hex>", the bytes base64 in the body). Files
 * are kept in the store rather than in a folder beside it so that a report and its files commit in one
 * transaction, one backup holds everything, and a file cannot change under its recorded hash without
 * the audit trail showing it; the size limit (DB_TASKS_EVIDENCE_MAX per file) keeps the store lean.
 *
 * Evaluation with data. db_tasks_evaluate judges the condition of every open task on the cube: a task
 * whose condition holds in a period of its condition period is done, achieved by data, with the period,
 * the values of its linked indicators and the day as evidence; a task whose due day passed without it is
 * flagged (condition_missed).
 *
 * Writes. Every function that writes does so in the caller's open transaction (DB_EINVAL outside one)
 * and adds, in that transaction, an audit record (actor, "task.<action>", "task:<id>") and an event of
 * the store's event log ("task.created", "task.started", "task.done", "task.cancelled", "task.updated",
 * "task.extension_requested", "task.extension_approved", "task.extension_rejected", "task.report",
 * "task.achieved", "task.overdue", "directive.created"), the event body {"task": id, ...}. Bad input
 * changes nothing and lists every problem in d with its JSON path ("deadline", "co_agencies[1]").
 *
 * Ownership: structures filled by this module own their strings (free with the db_*_free functions);
 * specs given to it are only read. Thread-safety: as the store handle (one thread per handle). */
#ifndef DB_TASKS_H
#define DB_TASKS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/diag.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "model/calendar.h"
#include "model/catalog.h"
#include "store/store.h"

#define DB_TASK_KIND "task"
#define DB_DIRECTIVE_KIND "directive"
#define DB_TASK_REPORT_KIND "task_report"
#define DB_TASK_EVIDENCE_KIND "task_evidence"
#define DB_TASKS_EVIDENCE_MAX (5u * 1024u * 1024u) /* bytes of one evidence file */
#define DB_TASKS_REPORT_FILES_MAX 10               /* files of one report */
#define DB_TASKS_TEXT_MAX 20000                    /* bytes of a title, description, reason or report text */

/* ---- vocabulary ---- */

typedef enum db_task_status {
  DB_TASK_NEW = 1,
  DB_TASK_IN_PROGRESS,
  DB_TASK_DONE,
  DB_TASK_CANCELLED,
} db_task_status;
const char *db_task_status_name(int status); /* "new", "in_progress", "done", "cancelled" */
/* Parses a status name, also in Vietnamese ("Mới", "Đang thực hiện", "Hoàn thành", "Đã hủy"; case and
 * diacritics ignored): 0 or DB_EINVAL. */
int db_task_status_parse(const char *s, int *out);

/* Priorities weigh the statistics: low 1, normal 2, high 3, urgent 4. */
typedef enum db_task_priority {
  DB_TASK_LOW = 1,
  DB_TASK_NORMAL,
  DB_TASK_HIGH,
  DB_TASK_URGENT,
} db_task_priority;
const char *db_task_priority_name(int priority); /* "low", "normal", "high", "urgent" */
/* Also "thấp", "bình thường", "cao", "khẩn" and the weights "1".."4": 0 or DB_EINVAL. */
int db_task_priority_parse(const char *s, int *out);

/* ---- directives ---- */

typedef struct db_directive {
  int64_t id;
  char *number; /* "125/TB-VP" */
  int64_t date; /* day */
  char *issuer, *title;
} db_directive;
void db_directive_free(db_directive *dv);

/* Writes a new directive (number, date, issuer and title required; the number not taken). Returns 0 and
 * dv->id; DB_EINVAL or DB_EEXIST with the problems in d. */
int db_tasks_directive_add(db_store *s, db_directive *dv, const char *actor, db_diag *d);
/* Every directive, by id (strings valid during the call). */
int db_tasks_directives(db_store *s, int (*cb)(void *ctx, const db_directive *dv), void *ctx);

/* ---- tasks ---- */

/* What a creator gives. Strings may be NULL when optional. */
typedef struct db_task_spec {
  const char *directive;   /* number of a stored directive, or NULL */
  const char *title;       /* required */
  const char *description;
  const char *lead;        /* lead agency code, required */
  const char *co_agencies; /* "DOC;DAE", or NULL */
  const char *unit;        /* org-unit scope; NULL = the lead agency's unit */
  int64_t assigned;        /* day; DB_DATE_NONE = today in the city */
  int64_t deadline;        /* day; DB_DATE_NONE for a recurring task */
  int recur_day;           /* 0 = one deadline; 1..31 = every month by that day (31: the month's last) */
  int64_t recur_until;     /* last day of a recurrence; DB_DATE_NONE = open-ended */
  int priority;            /* db_task_priority; 0 = normal */
  const char *indicators;  /* linked indicator codes "DISBURSE_PCT;BUDGET_INVEST", or NULL */
  const char *condition;   /* boolean formula, or NULL */
  const char *condition_period; /* period code the condition is judged on ("2025"); required with one */
  const char *origin;      /* "alert:123", "scenario:flood/step 2", "import:tasks.csv:12", or NULL */
} db_task_spec;

/* Fills a spec with the defaults: every pointer NULL, days DB_DATE_NONE, numbers 0. */
void db_task_spec_init(db_task_spec *spec);

typedef struct db_task_extension {
  int64_t requested_ms;
  char *requested_by;
  int64_t deadline; /* the day asked for */
  char *reason;
  int state;        /* 0 pending, 1 approved, -1 rejected */
  char *decided_by; /* NULL while pending */
  int64_t decided_ms;
  char *note;
} db_task_extension;

/* A completed occurrence of a recurring task. */
typedef struct db_task_occurrence {
  int64_t month; /* db_period ord of the month (DB_PT_MONTH) */
  int64_t done;  /* day */
} db_task_occurrence;

typedef struct db_task {
  int64_t id, version, updated_ms;
  char *directive, *title, *description, *lead, *co_agencies, *unit;
  int64_t assigned, deadline;
  int recur_day;
  int64_t recur_until;
  int priority;
  char *indicators, *condition, *condition_period, *origin;
  int status;           /* db_task_status */
  int64_t started, done; /* days, DB_DATE_NONE when not yet */
  int percent;          /* the latest progress report's percentage (100 once done) */
  char *created_by;
  int64_t created_ms;
  db_task_extension *extensions;
  size_t n_extensions;
  db_task_occurrence *occurrences; /* completed occurrences of a recurring task, in month order */
  size_t n_occurrences;
  int achieved_by_data;  /* done because its condition held */
  char *evidence;        /* JSON text of the data evidence ({"period", "values", "evaluated"}), or NULL */
  int condition_missed;  /* the due day passed without the condition holding */
  int64_t overdue_noted; /* the due day a task.overdue event was appended for; DB_DATE_NONE */
} db_task;
void db_task_free(db_task *t);

/* Validates spec against the catalog (lead and co-agencies, unit, indicators known; the directive
 * stored; the deadline or the recurrence given, not before the assigned day; the condition a boolean
 * formula over the catalog with a period of its periodicity or coarser) and writes the new task (status
 * new). Returns 0 and *id; DB_EINVAL with every problem in d. */
int db_tasks_create(db_store *s, const db_catalog *cat, const db_task_spec *spec, const char *actor,
                    int64_t *id, db_diag *d);

/* The task `id`: 0 and *out (db_task_free), DB_ENOTFOUND, or a store error (DB_EINVAL for a record that
 * does not parse). */
int db_tasks_get(db_store *s, int64_t id, db_task *out);

/* The moment a computed view is taken for: the calendar and the day ("today"). */
typedef struct db_task_clock {
  const db_calendar *cal; /* NULL = Monday to Friday, no holidays */
  int64_t today;          /* day */
} db_task_clock;

/* What is computed, never stored. */
typedef struct db_task_view {
  int64_t due;        /* the due day now: the current occurrence's, or the deadline (the last approved
                         extension's when there is one), moved to a working day; DB_DATE_NONE when a
                         recurring task has no occurrence left */
  int64_t original_due; /* the due day without extensions */
  int overdue;        /* open and due < today */
  int64_t days_late;  /* working days late: of an overdue task until today, of a task done late until its
                         done day; 0 otherwise */
  const char *state;  /* "new", "in_progress", "overdue", "done_on_time", "done_late", "cancelled" */
  int pending_extension; /* an extension awaits a decision */
} db_task_view;
void db_task_view_of(const db_task *t, const db_task_clock *clk, db_task_view *out);

/* The due day of one-off `deadline` or of month `month` (ord) by day `recur_day`: the day (the month's
 * last when it has fewer days), moved forward to the next working day of cal. */
int64_t db_tasks_due_day(const db_calendar *cal, int64_t deadline);
int64_t db_tasks_month_due(const db_calendar *cal, int64_t month, int recur_day);

/* List filters; zero/NULL members do not filter. */
typedef struct db_task_filter {
  const char *agency;     /* lead or co-agency */
  const char *lead;       /* lead agency only */
  const char *unit;       /* the scope unit or one below it (needs cat) */
  const db_catalog *cat;
  const char *state;      /* a stored status or a computed state ("overdue", "done_late") */
  int64_t due_from, due_to; /* due day within [from, to]; DB_DATE_NONE = open (0 is taken as open too) */
  int overdue;            /* 1 = overdue only, -1 = not overdue only */
  const char *directive;  /* number */
  const char *origin;     /* exact origin */
  const char *q;          /* text in the title or description (case and diacritics ignored) */
} db_task_filter;
void db_task_filter_init(db_task_filter *f);

/* Calls cb for every task matching f, by id, with its view for clk (strings valid during the call);
 * a nonzero return stops the scan (and is returned). */
typedef int (*db_task_cb)(void *ctx, const db_task *t, const db_task_view *view);
int db_tasks_list(db_store *s, const db_task_filter *f, const db_task_clock *clk, db_task_cb cb, void *ctx);

/* 1 when `agency` is the task's lead or one of its co-agencies. */
int db_task_involves(const db_task *t, const char *agency);

/* ---- workflow ---- */

/* Moves task `id` to status `to` (a status name) on day `day` (DB_DATE_NONE = today): refused with
 * DB_ECONFLICT and "task 12 is done: it cannot move to in_progress (no move is allowed from done)" or
 * "... (allowed from new: in_progress, cancelled)"; DB_ECONFLICT too when expect_version is nonzero and
 * not the stored version. `note` (may be NULL) goes into the audit record and the event. Returns 0 and
 * the new version in *version (may be NULL). */
int db_tasks_transition(db_store *s, int64_t id, int64_t expect_version, const char *to, int64_t day,
                        const char *note, const char *actor, int64_t *version, db_diag *d);

/* A spec whose members point into t (valid while t is): start an edit from it. */
void db_task_spec_of(const db_task *t, db_task_spec *spec);

/* Rewrites the editable fields of task `id` (directive, title, description, lead, co-agencies, unit,
 * assigned day, deadline, recurrence, priority, indicators, condition, origin) with those of spec,
 * validated as db_tasks_create does; status, extensions, occurrences and reports stay (a recurrence
 * with completed occurrences keeps its day: DB_ECONFLICT). expect_version as above. Sets *version (may
 * be NULL). */
int db_tasks_edit(db_store *s, const db_catalog *cat, int64_t id, int64_t expect_version, const db_task_spec *spec,
                  const char *actor, int64_t *version, db_diag *d);

/* The task as the JSON text of its record ({"title", "lead", "co_agencies": [...], "deadline":
 * "YYYY-MM-DD", "status", "extensions": [...], ...}): owned (db_free). */
char *db_task_to_json(const db_task *t);

/* Parses a day written "YYYY-MM-DD" or "dd/mm/yyyy" (as Excel writes it in Vietnam): 0 or DB_EINVAL. */
int db_tasks_parse_day(const char *s, size_t n, int64_t *day);

/* Asks for a new deadline (after the current due day) with a reason; refused (DB_ECONFLICT) on a done or
 * cancelled task, a recurring task, or while another request is pending. Sets *index (may be NULL). */
int db_tasks_extension_request(db_store *s, int64_t id, int64_t expect_version, int64_t deadline,
                               const char *reason, const char *actor, size_t *index, db_diag *d);
/* Approves (approve 1) or rejects extension `index` (0-based) of task `id`; DB_ECONFLICT when it is not
 * pending. */
int db_tasks_extension_decide(db_store *s, int64_t id, size_t index, int approve, const char *note,
                              const char *actor, db_diag *d);

/* ---- progress reports and evidence ---- */

typedef struct db_task_file {
  const char *name, *content_type;
  const unsigned char *data;
  size_t len;
} db_task_file;

typedef struct db_task_report_spec {
  int percent;              /* 0..100 */
  const char *text;         /* required */
  const char *const *links; /* http(s) URLs */
  size_t n_links;
  const db_task_file *files;
  size_t n_files;
} db_task_report_spec;

/* Adds a progress report to open task `id` (a new task moves to in_progress), storing each file with its
 * SHA-256; a file over DB_TASKS_EVIDENCE_MAX, more than DB_TASKS_REPORT_FILES_MAX files, a percentage
 * outside 0..100 or a link that is not http(s) are DB_EINVAL (DB_ETOOBIG for a file too large) with
 * every problem in d ("files[1]: 6291456 bytes, over the limit of 5242880"). Sets *report_id. */
int db_tasks_report_add(db_store *s, int64_t id, const db_task_report_spec *spec, const char *actor,
                        int64_t *report_id, db_diag *d);
/* The reports of task `id`, oldest first, each as the JSON text stored ({"id", "task", "percent", "text",
 * "links", "files": [{"name", "content_type", "size", "sha256"}], "by", "time"}). */
int db_tasks_reports(db_store *s, int64_t id, int (*cb)(void *ctx, int64_t report_id, const char *json),
                     void *ctx);
/* An evidence file of task `id` by its SHA-256 (64 hex digits): 0 with *data (owned; db_free), *len,
 * *name and *content_type (owned); DB_ENOTFOUND. */
int db_tasks_evidence_get(db_store *s, int64_t id, const char *sha256, unsigned char **data, size_t *len,
                          char **name, char **content_type);

/* ---- evaluation with data ---- */

typedef struct db_tasks_eval_summary {
  int64_t judged, achieved, missed, overdue_noted;
} db_tasks_eval_summary;

/* For every open task with a condition: evaluates it on cube version v (derive engine e, catalog cat:
 * the cube's) at the task's unit over the periods of the condition's periodicity inside its condition
 * period that have begun by clk->today; the first period where it holds marks the task done (achieved
 * by data, evidence: that period, the linked indicators' values there, the day). A task due before
 * today whose condition does not hold is flagged condition_missed (once). Then, for every open task
 * overdue on clk->today that was not noted for its current due day, appends a task.overdue event (once
 * per due day). Writes in the open transaction. Fills *sum (may be NULL). A condition that no longer
 * compiles is reported in d and skipped. */
int db_tasks_evaluate(db_store *s, db_derive *e, const db_cube_version *v, const db_catalog *cat,
                      const db_task_clock *clk, const char *actor, db_tasks_eval_summary *sum, db_diag *d);

/* ---- statistics ---- */

/* What a statistic is grouped by: the lead agency, or the task's unit scope. */
typedef enum db_tasks_by { DB_TASKS_BY_AGENCY = 1, DB_TASKS_BY_UNIT } db_tasks_by;

/* The figures of one agency or unit on a day. Items: every task that is not cancelled; a recurring task
 * counts one item per occurrence that is done or due by the day. An item is due when it is done or its
 * due day is before the day; done on time when done on or before its due day; overdue when open past its
 * due day. Weights are the priorities (low 1 .. urgent 4). */
typedef struct db_tasks_stat {
  char key[72];        /* agency or unit code; "" for the total */
  int64_t items, open, done, done_on_time, done_late, overdue, cancelled, achieved_by_data;
  double ontime_pct;   /* 100 * weight of done on time / weight of due items; NAN with none due */
  double avg_delay;    /* mean working days late of due items (on time 0), priority-weighted; NAN with none */
  int64_t rank;        /* 1 = best on ontime_pct (then fewer overdue, then smaller delay); 0 without a rate */
} db_tasks_stat;

/* Computes the statistics of tasks[0..n) on clk->today grouped by `by`, sorted by rank (units without a
 * rate last, by code), with the total of every group as the last row (key ""). *out owned (db_free). */
int db_tasks_stats(const db_task *tasks, size_t n, const db_task_clock *clk, db_tasks_by by,
                   db_tasks_stat **out, size_t *n_out);
/* Reads every task of the store into *tasks (owned: free each with db_task_free, then the array). */
int db_tasks_load_all(db_store *s, db_task **tasks, size_t *n);
void db_tasks_free_all(db_task *tasks, size_t n);

/* The system indicators the statistics are published as (monthly, owner PCO when the catalog has that
 * agency): TASK_ONTIME_PCT, TASK_OVERDUE, TASK_DELAY_AVG, TASK_ITEMS, each with the dimension AGENCY
 * (items: every agency code). Per agency the series is at the agency's unit with key "AGENCY=<code>";
 * per unit it is the plain series of the unit; the total of all tasks is the plain series of the city
 * unit of the lead agencies (79). Writes the missing dimension items and indicators in the open
 * transaction; *changed = 1 when it wrote any (the caller reloads its catalog). */
int db_tasks_ensure_catalog(db_store *s, const db_catalog *cat, int *changed, db_diag *d);

/* Publishes the statistics of every task for clk->today as observations of the month containing it
 * through the ingest path (one batch, actor `actor`, source "tasks:stats"): cat must hold the
 * indicators (db_tasks_ensure_catalog). Not inside a transaction (the batch is one). Fills *res (free
 * with db_ingest_result_free) with the change set to apply to a cube; with no task at all nothing is
 * written and res->seq is 0. */
struct db_ingest_result;
int db_tasks_publish_stats(db_store *s, const db_catalog *cat, const db_task_clock *clk, const char *actor,
                           struct db_ingest_result *res, db_diag *d);

/* ---- files ---- */

/* Reads a task list from CSV (as Excel exports it) and creates its tasks, all or nothing: every
 * problem of every row is listed in d with its line and column ("line 4, column 6 (deadline): 31/02/2025
 * is not a date"), and with any problem nothing is written. Headers are English (the export's) or
 * Vietnamese ("Tên nhiệm vụ", "Cơ quan chủ trì", "Thời hạn"...), case, diacritics and spaces ignored;
 * dates YYYY-MM-DD or dd/mm/yyyy; agencies by code or by name; a status and a done day may bring a
 * task's history. Writes in the open transaction; *n_created (may be NULL) receives the count. */
int db_tasks_import_csv(db_store *s, const db_catalog *cat, const char *text, size_t len, const char *source,
                        const char *actor, int64_t *n_created, db_diag *d);
/* Checks a CSV task list without writing: the problems db_tasks_import_csv would list (directives are
 * not looked up: no store). Returns 0 or DB_EINVAL; *n_rows (may be NULL) receives the rows read. For
 * the fuzzer and dry runs. */
int db_tasks_check_csv(const db_catalog *cat, const char *text, size_t len, const char *source, size_t *n_rows,
                       db_diag *d);
/* Writes tasks matching f as CSV (the import's English headers, then id, status, state, due, days_late)
 * to out. */
int db_tasks_export_csv(db_store *s, const db_task_filter *f, const db_task_clock *clk, FILE *out);

#endif
