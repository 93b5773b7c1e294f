/* test_tasks.c - the tasks module (tasks/tasks.h) on a real SQLite store: every transition of the
 * workflow and the refusal of every illegal one, deadlines moved off rest days and Vietnam's holidays
 * (the calendar of data/calendar/vn_holidays.csv), monthly recurrence across month ends and holidays,
 * extensions, progress reports with evidence files and their limits, evaluation with data on a real
 * cube, the per-agency and per-unit statistics worked out by hand, and the CSV import and export. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "ingest/calendar_import.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "testutil.h"

/* ---------- fixture ---------- */

typedef struct fx {
  char *dir;
  db_store *s;
  db_catalog cat;
  db_calendar *cal;
} fx;

static int64_t day(const char *iso) {
  int64_t d;
  if (db_parse_date(iso, strlen(iso), &d) != 0) fail_msg("bad date %s", iso);
  return d;
}

static const char *iso(int64_t d, char out[11]) {
  if (d == DB_DATE_NONE) return strcpy(out, "none");
  db_format_date(d, out);
  return out;
}

static void put_agency(db_store *s, const char *code, const char *name, const char *unit) {
  db_agency a = {0, (char *)code, (char *)name, NULL, (char *)"department", (char *)unit, NULL};
  assert_int_equal(db_store_put_agency(s, &a), 0);
}

static void put_indicator(db_store *s, const char *code, db_agg space) {
  db_indicator i;
  db_indicator_init(&i);
  i.code = (char *)code;
  i.name = (char *)code;
  i.periodicity = DB_PT_MONTH;
  i.agg_space = space;
  i.agg_time = DB_AGG_LAST;
  i.owner = (char *)"DOF";
  assert_int_equal(db_store_put_indicator(s, &i), 0);
}

static void reload(fx *f) {
  db_catalog_free(&f->cat);
  db_catalog_init(&f->cat);
  assert_int_equal(db_store_load_catalog(f->s, &f->cat), 0);
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_catalog_link(&f->cat, &d), 0);
  db_diag_free(&d);
}

/* The city 79 with wards W1, W2; agencies PCO, DOF, DOC (at 79) and PC_W1 (at W1); indicator
 * DISBURSE_PCT (month); the directive 125/TB-VP; Vietnam's calendar. */
static int setup(void **state) {
  fx *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  char *path = db_test_path(f->dir, "tasks.db");
  char url[600];
  snprintf(url, sizeof url, "sqlite:%s", path);
  db_free(path);
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(url, &f->s, &d), 0);
  assert_int_equal(db_store_begin(f->s, 0), 0);
  db_test_put_unit(f->s, "79", NULL, DB_OU_CITY, NULL, NULL);
  db_test_put_unit(f->s, "W1", "79", DB_OU_WARD, "2025-01-01", NULL);
  db_test_put_unit(f->s, "W2", "79", DB_OU_WARD, "2025-01-01", NULL);
  put_agency(f->s, "PCO", "Văn phòng Ủy ban nhân dân Thành phố", "79");
  put_agency(f->s, "DOF", "Sở Tài chính", "79");
  put_agency(f->s, "DOC", "Sở Xây dựng", "79");
  put_agency(f->s, "PC_W1", "Ủy ban nhân dân phường W1", "W1");
  put_indicator(f->s, "DISBURSE_PCT", DB_AGG_AVG);
  db_directive dv = {0, (char *)"125/TB-VP", day("2025-03-10"), (char *)"UBND Thành phố",
                     (char *)"Thông báo kết luận về giải ngân vốn đầu tư công"};
  assert_int_equal(db_tasks_directive_add(f->s, &dv, "lead", &d), 0);
  assert_int_equal(db_store_commit(f->s), 0);
  db_catalog_init(&f->cat);
  reload(f);
  f->cal = db_calendar_new();
  const char *src = getenv("DB_SOURCE_DIR");
  char *cal_path = db_test_path(src ? src : ".", "data/calendar/vn_holidays.csv");
  size_t len;
  char *text = db_test_read_file(cal_path, &len);
  assert_int_equal(db_calendar_read_csv(f->cal, text, len, "vn_holidays.csv", &d), 0);
  db_free(text);
  db_free(cal_path);
  db_diag_free(&d);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  db_calendar_free(f->cal);
  db_catalog_free(&f->cat);
  db_store_close(f->s);
  db_test_rmtree(f->dir);
  db_free(f->dir);
  db_free(f);
  return 0;
}

/* Creates a task in its own transaction; returns its id. */
static int64_t create(fx *f, const db_task_spec *spec) {
  db_diag d = DB_DIAG_INIT;
  int64_t id = 0;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  int rc = db_tasks_create(f->s, &f->cat, spec, "lead", &id, &d);
  if (rc) {
    char *p = db_test_problems(&d);
    fail_msg("create: %s", p);
  }
  assert_int_equal(db_store_commit(f->s), 0);
  db_diag_free(&d);
  return id;
}

static db_task_spec one_off(const char *title, const char *lead, const char *assigned, const char *deadline) {
  db_task_spec s;
  db_task_spec_init(&s);
  s.title = title;
  s.lead = lead;
  s.assigned = day(assigned);
  s.deadline = deadline ? day(deadline) : DB_DATE_NONE;
  return s;
}

/* Moves a task in its own transaction: the code, and the problems in *msg (owned, "" when none). */
static int move(fx *f, int64_t id, const char *to, const char *when, char **msg) {
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  int rc = db_tasks_transition(f->s, id, 0, to, when ? day(when) : DB_DATE_NONE, NULL, "reporter", NULL, &d);
  if (rc) db_store_rollback(f->s);
  else assert_int_equal(db_store_commit(f->s), 0);
  *msg = db_test_problems(&d);
  db_diag_free(&d);
  return rc;
}

static void view(fx *f, int64_t id, const char *today, db_task *t, db_task_view *v) {
  assert_int_equal(db_tasks_get(f->s, id, t), 0);
  db_task_clock clk = {f->cal, day(today)};
  db_task_view_of(t, &clk, v);
}

typedef struct events {
  char kinds[4096];
} events;

static int collect_event(void *ctx, const db_event *e) {
  events *ev = ctx;
  if (strncmp(e->kind, "task.", 5) == 0) {
    strcat(ev->kinds, e->kind + 5);
    strcat(ev->kinds, " ");
  }
  return 0;
}

static void assert_events(fx *f, const char *want) {
  events ev = {{0}};
  assert_int_equal(db_store_event_read(f->s, 0, collect_event, &ev), 0);
  assert_string_equal(ev.kinds, want);
}

/* ---------- vocabulary ---------- */

static void test_status_and_priority_names(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int status;
  } statuses[] = {{"in_progress", DB_TASK_IN_PROGRESS}, {"In progress", DB_TASK_IN_PROGRESS},
                  {"Đang thực hiện", DB_TASK_IN_PROGRESS}, {"đã hủy", DB_TASK_CANCELLED},
                  {" Hoàn thành ", DB_TASK_DONE}, {"MỚI", DB_TASK_NEW}, {"done", DB_TASK_DONE}};
  for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
    int got = 0;
    assert_int_equal(db_task_status_parse(statuses[i].text, &got), 0);
    assert_int_equal(got, statuses[i].status);
  }
  int got;
  assert_int_equal(db_task_status_parse("xong", &got), DB_EINVAL);
  assert_int_equal(db_task_status_parse("", &got), DB_EINVAL);
  assert_int_equal(db_task_priority_parse("Khẩn", &got), 0);
  assert_int_equal(got, DB_TASK_URGENT);
  assert_int_equal(db_task_priority_parse("bình thường", &got), 0);
  assert_int_equal(got, DB_TASK_NORMAL);
  assert_int_equal(db_task_priority_parse("3", &got), 0);
  assert_int_equal(got, DB_TASK_HIGH);
  assert_int_equal(db_task_priority_parse("5", &got), DB_EINVAL);
  int64_t d;
  assert_int_equal(db_tasks_parse_day("5/9/2025", 8, &d), 0);
  char b[11];
  assert_string_equal(iso(d, b), "2025-09-05");
  assert_int_equal(db_tasks_parse_day("29/02/2025", 10, &d), DB_EINVAL);
}

/* ---------- workflow ---------- */

static void test_every_transition(void **state) {
  fx *f = *state;
  db_task_spec s = one_off("Rà soát hồ sơ dự án chậm giải ngân", "DOF", "2025-03-10", "2025-06-30");
  s.directive = "125/TB-VP";
  s.co_agencies = "DOC";
  int64_t a = create(f, &s);
  char *msg;
  /* new: only in_progress and cancelled */
  assert_int_equal(move(f, a, "done", "2025-03-11", &msg), DB_ECONFLICT);
  assert_string_equal(msg, "status: task 2 is new: it cannot move to done (allowed from new: in_progress, cancelled)\n");
  free(msg);
  assert_int_equal(move(f, a, "new", "2025-03-11", &msg), DB_ECONFLICT);
  free(msg);
  assert_int_equal(move(f, a, "started", "2025-03-11", &msg), DB_EINVAL);
  assert_string_equal(msg, "status: 'started' is not a status (new, in_progress, done, cancelled)\n");
  free(msg);
  assert_int_equal(move(f, a, "in_progress", "2025-03-01", &msg), DB_EINVAL);
  assert_string_equal(msg, "day: the task was assigned on 2025-03-10, after that day\n");
  free(msg);
  assert_int_equal(move(f, a, "in_progress", "2025-03-11", &msg), 0);
  free(msg);
  /* in_progress: only done and cancelled */
  assert_int_equal(move(f, a, "in_progress", "2025-03-12", &msg), DB_ECONFLICT);
  assert_string_equal(msg, "status: task 2 is in_progress: it cannot move to in_progress (allowed from in_progress: "
                           "done, cancelled)\n");
  free(msg);
  assert_int_equal(move(f, a, "new", "2025-03-12", &msg), DB_ECONFLICT);
  free(msg);
  assert_int_equal(move(f, a, "Hoàn thành", "2025-07-02", &msg), 0); /* Vietnamese status name */
  free(msg);
  /* done: nothing */
  assert_int_equal(move(f, a, "cancelled", "2025-07-03", &msg), DB_ECONFLICT);
  assert_string_equal(msg, "status: task 2 is done: it cannot move to cancelled (no move is allowed from done)\n");
  free(msg);
  assert_int_equal(move(f, a, "in_progress", "2025-07-03", &msg), DB_ECONFLICT);
  free(msg);
  db_task t;
  db_task_view v;
  view(f, a, "2025-08-01", &t, &v);
  char b1[11], b2[11];
  assert_string_equal(v.state, "done_late"); /* due Monday 2025-06-30, done Wednesday 2025-07-02 */
  assert_string_equal(iso(v.due, b1), "2025-06-30");
  assert_string_equal(iso(t.started, b2), "2025-03-11");
  assert_int_equal(v.days_late, 2);
  assert_int_equal(t.percent, 100);
  assert_int_equal(t.version, 3);
  db_task_free(&t);

  /* new -> cancelled, and cancelled is final */
  db_task_spec s2 = one_off("Báo cáo tạm thời", "DOC", "2025-03-10", "2025-04-15");
  int64_t b = create(f, &s2);
  assert_int_equal(move(f, b, "cancelled", "2025-03-12", &msg), 0);
  free(msg);
  assert_int_equal(move(f, b, "in_progress", "2025-03-13", &msg), DB_ECONFLICT);
  assert_string_equal(msg, "status: task 3 is cancelled: it cannot move to in_progress (no move is allowed from "
                           "cancelled)\n");
  free(msg);
  /* in_progress -> cancelled */
  int64_t c = create(f, &s2);
  assert_int_equal(move(f, c, "in_progress", "2025-03-12", &msg), 0);
  free(msg);
  assert_int_equal(move(f, c, "cancelled", "2025-03-13", &msg), 0);
  free(msg);
  /* an unknown task */
  assert_int_equal(move(f, 99, "done", "2025-03-13", &msg), DB_ENOTFOUND);
  assert_string_equal(msg, "id: no task 99\n");
  free(msg);
  assert_events(f, "created started done created cancelled created started cancelled ");
}

static void test_version_conflict(void **state) {
  fx *f = *state;
  db_task_spec s = one_off("Kiểm tra", "DOF", "2025-03-10", "2025-06-30");
  int64_t a = create(f, &s);
  db_diag d = DB_DIAG_INIT;
  int64_t version = 0;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_transition(f->s, a, 1, "in_progress", day("2025-03-11"), NULL, "x", &version, &d), 0);
  assert_int_equal(version, 2);
  assert_int_equal(db_tasks_transition(f->s, a, 1, "done", day("2025-03-12"), NULL, "x", NULL, &d), DB_ECONFLICT);
  assert_problems(&d, "version: task 2 changed meanwhile: version 1 expected, the task is at version 2\n");
  assert_int_equal(db_store_commit(f->s), 0);
  db_diag_free(&d);
}

static void test_validation_lists_every_problem(void **state) {
  fx *f = *state;
  db_task_spec s;
  db_task_spec_init(&s);
  s.lead = "DOX";
  s.co_agencies = "DOC;NOPE";
  s.unit = "W9";
  s.directive = "999/XX";
  s.assigned = day("2025-05-01");
  s.deadline = day("2025-04-30");
  s.priority = 7;
  s.indicators = "DISBURSE_PCT;DISBURS";
  s.condition = "DISBURSE_PCT + 1";
  s.condition_period = "2025";
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_create(f->s, &f->cat, &s, "x", NULL, &d), DB_EINVAL);
  assert_problems(&d, "title: required\n"
                      "lead: unknown agency 'DOX'\n"
                      "co_agencies: co-agency 2: unknown agency 'NOPE'\n"
                      "indicators: indicator 2: unknown indicator 'DISBURS'\n"
                      "unit: unknown org unit 'W9'\n"
                      "deadline: 2025-04-30 is before the assigned day 2025-05-01\n"
                      "priority: priority 7 is not low, normal, high or urgent\n"
                      "condition: the condition must be true or false (a comparison such as X >= 95), not a number\n"
                      "directive: unknown directive '999/XX'\n");
  db_diag_clear(&d);
  db_task_spec_init(&s);
  s.title = "Điều kiện sai";
  s.lead = "DOF";
  s.deadline = day("2025-12-31");
  s.condition = "DISBURSE_PC >= 95";
  assert_int_equal(db_tasks_create(f->s, &f->cat, &s, "x", NULL, &d), DB_EINVAL);
  assert_problems(&d, "condition: column 1: unknown indicator 'DISBURSE_PC' (did you mean DISBURSE_PCT?)\n");
  db_diag_clear(&d);
  s.condition = "DISBURSE_PCT >= 95";
  s.condition_period = "2025-W03";
  assert_int_equal(db_tasks_create(f->s, &f->cat, &s, "x", NULL, &d), DB_EINVAL);
  assert_problems(&d, "condition_period: 2025-W03 holds no month period, the periodicity of the condition\n");
  db_diag_clear(&d);
  s.condition_period = NULL;
  assert_int_equal(db_tasks_create(f->s, &f->cat, &s, "x", NULL, &d), DB_EINVAL);
  assert_problems(&d, "condition_period: required with a condition: the period it is judged on (\"2025\")\n");
  db_diag_clear(&d);
  s.condition = NULL;
  s.deadline = DB_DATE_NONE;
  assert_int_equal(db_tasks_create(f->s, &f->cat, &s, "x", NULL, &d), DB_EINVAL);
  assert_problems(&d, "deadline: required (or a monthly recurrence)\n");
  db_diag_clear(&d);
  s.recur_day = 32;
  assert_int_equal(db_tasks_create(f->s, &f->cat, &s, "x", NULL, &d), DB_EINVAL);
  assert_problems(&d, "recurrence: day 32 of the month is not 1..31\n");
  assert_int_equal(db_store_rollback(f->s), 0);
  db_diag_free(&d);
  /* nothing was written */
  events ev = {{0}};
  assert_int_equal(db_store_event_read(f->s, 0, collect_event, &ev), 0);
  assert_string_equal(ev.kinds, "");
}

/* ---------- deadlines and recurrence ---------- */

static void test_deadlines_move_off_rest_days_and_holidays(void **state) {
  fx *f = *state;
  char b[11];
  /* Saturday -> Monday */
  assert_string_equal(iso(db_tasks_due_day(f->cal, day("2025-05-03")), b), "2025-05-05");
  /* National Day 2025: Monday 1 and Tuesday 2 September are holidays -> Wednesday 3 */
  assert_string_equal(iso(db_tasks_due_day(f->cal, day("2025-09-01")), b), "2025-09-03");
  /* Tết 2025 (27-31 January) then the weekend -> Monday 3 February */
  assert_string_equal(iso(db_tasks_due_day(f->cal, day("2025-01-29")), b), "2025-02-03");
  /* Saturday 26 April 2025 was worked to bridge 2 May: a deadline that day stays */
  assert_string_equal(iso(db_tasks_due_day(f->cal, day("2025-04-26")), b), "2025-04-26");
  /* a working day stays */
  assert_string_equal(iso(db_tasks_due_day(f->cal, day("2025-07-15")), b), "2025-07-15");
  /* a task keeps the deadline as given and shows the moved due day */
  db_task_spec s = one_off("Báo cáo Quốc khánh", "DOC", "2025-08-01", "2025-09-01");
  int64_t a = create(f, &s);
  db_task t;
  db_task_view v;
  view(f, a, "2025-09-03", &t, &v);
  assert_string_equal(iso(t.deadline, b), "2025-09-01");
  assert_string_equal(iso(v.due, b), "2025-09-03");
  assert_string_equal(v.state, "new");
  assert_int_equal(v.overdue, 0);
  db_task_free(&t);
  view(f, a, "2025-09-04", &t, &v);
  assert_string_equal(v.state, "overdue");
  assert_int_equal(v.overdue, 1);
  assert_int_equal(v.days_late, 1);
  db_task_free(&t);
  view(f, a, "2025-09-08", &t, &v); /* Thursday 4, Friday 5, Monday 8 */
  assert_int_equal(v.days_late, 3);
  db_task_free(&t);
}

static void test_recurring_across_month_ends_and_holidays(void **state) {
  fx *f = *state;
  char b[11];
  db_period m;
  assert_int_equal(db_period_parse("2025-01", 7, &m, NULL), 0);
  /* day 31: January 31 is Tết (Friday) -> Monday 3 February */
  assert_string_equal(iso(db_tasks_month_due(f->cal, m.ord, 31), b), "2025-02-03");
  /* February has 28 days (a Friday) */
  assert_string_equal(iso(db_tasks_month_due(f->cal, m.ord + 1, 31), b), "2025-02-28");
  /* 30 April (holiday), 1 and 2 May (holidays), the weekend -> Monday 5 May */
  assert_string_equal(iso(db_tasks_month_due(f->cal, m.ord + 3, 30), b), "2025-05-05");
  /* 31 May is a Saturday -> Monday 2 June */
  assert_string_equal(iso(db_tasks_month_due(f->cal, m.ord + 4, 31), b), "2025-06-02");
  /* 2024 was a leap year: day 30 of February 2024 is the 29th (a Thursday) */
  assert_string_equal(iso(db_tasks_month_due(f->cal, m.ord - 11, 30), b), "2024-02-29");

  /* assigned on 15 January, every month by day 31, until 20 March: occurrences January to March */
  db_task_spec s = one_off("Báo cáo tiến độ giải ngân hằng tháng", "DOF", "2025-01-15", NULL);
  s.recur_day = 31;
  s.recur_until = day("2025-03-20");
  int64_t a = create(f, &s);
  db_task t;
  db_task_view v;
  view(f, a, "2025-02-03", &t, &v);
  assert_string_equal(iso(v.due, b), "2025-02-03");
  assert_string_equal(v.state, "new");
  db_task_free(&t);
  view(f, a, "2025-02-04", &t, &v);
  assert_string_equal(v.state, "overdue");
  db_task_free(&t);
  char *msg;
  assert_int_equal(move(f, a, "in_progress", "2025-01-20", &msg), 0);
  free(msg);
  assert_int_equal(move(f, a, "done", "2025-02-03", &msg), 0); /* January's, on time */
  free(msg);
  view(f, a, "2025-02-10", &t, &v);
  assert_string_equal(iso(v.due, b), "2025-02-28");
  assert_string_equal(db_task_status_name(t.status), "in_progress");
  assert_int_equal(t.n_occurrences, 1);
  db_task_free(&t);
  assert_int_equal(move(f, a, "done", "2025-03-04", &msg), 0); /* February's, 2 working days late */
  free(msg);
  /* March: day 31 is a Monday */
  view(f, a, "2025-03-05", &t, &v);
  assert_string_equal(iso(v.due, b), "2025-03-31");
  db_task_free(&t);
  /* statistics on 9 April with March still open: 3 items, 1 on time, 1 late by 2, 1 overdue by 6 */
  db_task_clock clk = {f->cal, day("2025-04-09")};
  assert_int_equal(db_tasks_get(f->s, a, &t), 0);
  db_tasks_stat *st;
  size_t n;
  assert_int_equal(db_tasks_stats(&t, 1, &clk, DB_TASKS_BY_AGENCY, &st, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(st[0].key, "DOF");
  assert_int_equal(st[0].items, 3);
  assert_int_equal(st[0].done_on_time, 1);
  assert_int_equal(st[0].done_late, 1);
  assert_int_equal(st[0].overdue, 1);
  assert_true(fabs(st[0].ontime_pct - 100.0 / 3) < 1e-9);
  assert_true(fabs(st[0].avg_delay - (0 + 2 + 6) / 3.0) < 1e-9); /* 1..9 April: 6 working days (7 April is the Hùng Kings' day) */
  db_free(st);
  db_task_free(&t);
  assert_int_equal(move(f, a, "done", "2025-03-31", &msg), 0); /* the last: the task is done */
  free(msg);
  view(f, a, "2025-04-10", &t, &v);
  assert_string_equal(db_task_status_name(t.status), "done");
  assert_string_equal(v.state, "done_late");
  assert_int_equal(v.days_late, 2);
  db_task_free(&t);
  assert_int_equal(move(f, a, "done", "2025-04-10", &msg), DB_ECONFLICT);
  free(msg);
  assert_events(f, "created started occurrence_done occurrence_done done ");
  /* a deadline and a recurrence together are refused */
  s.deadline = day("2025-03-01");
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_create(f->s, &f->cat, &s, "x", NULL, &d), DB_EINVAL);
  assert_problems(&d, "deadline: a recurring task has no single deadline: give the deadline or the recurrence\n");
  db_store_rollback(f->s);
  db_diag_free(&d);
}

static void test_first_occurrence_after_assignment(void **state) {
  fx *f = *state;
  char b[11];
  /* assigned on 20 July, every month by day 5: July's day 5 came before, so August is the first */
  db_task_spec s = one_off("Cập nhật số liệu", "DOC", "2025-07-20", NULL);
  s.recur_day = 5;
  int64_t a = create(f, &s);
  db_task t;
  db_task_view v;
  view(f, a, "2025-07-21", &t, &v);
  assert_string_equal(iso(v.due, b), "2025-08-05");
  db_task_free(&t);
}

/* ---------- extensions ---------- */

static int extend(fx *f, int64_t id, const char *deadline, const char *reason, char **msg) {
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  int rc = db_tasks_extension_request(f->s, id, 0, deadline ? day(deadline) : DB_DATE_NONE, reason, "dof", NULL, &d);
  if (rc) db_store_rollback(f->s);
  else assert_int_equal(db_store_commit(f->s), 0);
  *msg = db_test_problems(&d);
  db_diag_free(&d);
  return rc;
}

static int decide(fx *f, int64_t id, size_t index, int approve, char **msg) {
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  int rc = db_tasks_extension_decide(f->s, id, index, approve, "đồng ý", "leader", &d);
  if (rc) db_store_rollback(f->s);
  else assert_int_equal(db_store_commit(f->s), 0);
  *msg = db_test_problems(&d);
  db_diag_free(&d);
  return rc;
}

static void test_extensions(void **state) {
  fx *f = *state;
  char b[11], *msg;
  db_task_spec s = one_off("Hoàn thành giải phóng mặt bằng", "DOC", "2025-03-10", "2025-06-30");
  int64_t a = create(f, &s);
  assert_int_equal(extend(f, a, "2025-06-20", "", &msg), DB_EINVAL);
  assert_string_equal(msg, "deadline: the new deadline must come after the due day 2025-06-30\nreason: required\n");
  free(msg);
  assert_int_equal(extend(f, a, "2025-08-29", "Vướng mắc giải phóng mặt bằng", &msg), 0);
  free(msg);
  assert_int_equal(extend(f, a, "2025-09-30", "Thêm thời gian", &msg), DB_ECONFLICT);
  assert_string_equal(msg, "deadline: task 2 has an extension request awaiting a decision\n");
  free(msg);
  db_task t;
  db_task_view v;
  view(f, a, "2025-07-01", &t, &v); /* pending: the old due day holds */
  assert_int_equal(v.pending_extension, 1);
  assert_string_equal(v.state, "overdue");
  db_task_free(&t);
  assert_int_equal(decide(f, a, 0, 1, &msg), 0);
  free(msg);
  assert_int_equal(decide(f, a, 0, 0, &msg), DB_ECONFLICT);
  assert_string_equal(msg, "extension: extension 0 of task 2 was approved already\n");
  free(msg);
  assert_int_equal(decide(f, a, 3, 1, &msg), DB_ENOTFOUND);
  free(msg);
  view(f, a, "2025-07-01", &t, &v);
  assert_string_equal(iso(t.deadline, b), "2025-06-30"); /* the original stays */
  assert_string_equal(iso(v.original_due, b), "2025-06-30");
  assert_string_equal(iso(v.due, b), "2025-08-29");
  assert_string_equal(v.state, "new");
  assert_int_equal(t.n_extensions, 1);
  assert_string_equal(t.extensions[0].reason, "Vướng mắc giải phóng mặt bằng");
  assert_string_equal(t.extensions[0].decided_by, "leader");
  db_task_free(&t);
  /* a second request, rejected: the due day stays */
  assert_int_equal(extend(f, a, "2025-10-31", "Chờ phê duyệt", &msg), 0);
  free(msg);
  assert_int_equal(decide(f, a, 1, 0, &msg), 0);
  free(msg);
  view(f, a, "2025-09-01", &t, &v);
  assert_string_equal(iso(v.due, b), "2025-08-29");
  assert_string_equal(v.state, "overdue");
  db_task_free(&t);
  /* done on the extended day is on time */
  assert_int_equal(move(f, a, "in_progress", "2025-08-01", &msg), 0);
  free(msg);
  assert_int_equal(move(f, a, "done", "2025-08-29", &msg), 0);
  free(msg);
  view(f, a, "2025-09-01", &t, &v);
  assert_string_equal(v.state, "done_on_time");
  db_task_free(&t);
  assert_int_equal(extend(f, a, "2025-12-31", "Muộn", &msg), DB_ECONFLICT);
  assert_string_equal(msg, "status: task 2 is done: no extension can be asked for\n");
  free(msg);
  assert_events(f, "created extension_requested extension_approved extension_requested extension_rejected started "
                   "done ");
}

/* ---------- reports and evidence ---------- */

typedef struct report_list {
  int n;
  char last[2048];
} report_list;

static int collect_report(void *ctx, int64_t id, const char *json) {
  report_list *l = ctx;
  (void)id;
  l->n++;
  snprintf(l->last, sizeof l->last, "%s", json);
  return 0;
}

static void test_reports_and_evidence_limits(void **state) {
  fx *f = *state;
  db_task_spec s = one_off("Báo cáo tiến độ", "DOF", "2025-03-10", "2025-06-30");
  int64_t a = create(f, &s);
  size_t big = DB_TASKS_EVIDENCE_MAX + 1;
  unsigned char *blob = db_calloc(1, big);
  db_task_file files[DB_TASKS_REPORT_FILES_MAX + 1];
  for (int i = 0; i <= DB_TASKS_REPORT_FILES_MAX; i++)
    files[i] = (db_task_file){"bien-ban.pdf", "application/pdf", (const unsigned char *)"hello", 5};
  files[1].len = big;
  files[1].data = blob;
  const char *links[] = {"https://dof.hochiminhcity.gov.vn/bao-cao", "ftp://x"};
  db_task_report_spec r = {120, "", links, 2, files, 2};
  db_diag d = DB_DIAG_INIT;
  int64_t rid = 0;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_report_add(f->s, a, &r, "dof", &rid, &d), DB_ETOOBIG);
  assert_problems(&d, "percent: 120 is not a percentage from 0 to 100\n"
                      "text: required\n"
                      "links[1]: not an http(s) link\n"
                      "files[1]: 5242881 bytes, over the limit of 5242880\n");
  db_diag_clear(&d);
  /* exactly the limit is accepted; too many files are not */
  files[1].len = DB_TASKS_EVIDENCE_MAX;
  r = (db_task_report_spec){40, "Đã rà soát 12 dự án", links, 1, files, DB_TASKS_REPORT_FILES_MAX + 1};
  assert_int_equal(db_tasks_report_add(f->s, a, &r, "dof", &rid, &d), DB_EINVAL);
  assert_problems(&d, "files: 11 files, over the limit of 10 per report\n");
  db_diag_clear(&d);
  files[1].name = "anh-hien-truong.jpg";
  files[1].content_type = "image/jpeg";
  r.n_files = 2;
  assert_int_equal(db_tasks_report_add(f->s, a, &r, "dof", &rid, &d), 0);
  assert_int_equal(db_store_commit(f->s), 0);
  db_free(blob);
  /* the task started and shows the percentage */
  db_task t;
  assert_int_equal(db_tasks_get(f->s, a, &t), 0);
  assert_string_equal(db_task_status_name(t.status), "in_progress");
  assert_int_equal(t.percent, 40);
  db_task_free(&t);
  report_list l = {0, ""};
  assert_int_equal(db_tasks_reports(f->s, a, collect_report, &l), 0);
  assert_int_equal(l.n, 1);
  assert_non_null(strstr(l.last, "\"sha256\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\""));
  assert_non_null(strstr(l.last, "\"size\":5242880"));
  /* the file comes back byte for byte */
  unsigned char *data;
  size_t len;
  char *name, *ctype;
  assert_int_equal(db_tasks_evidence_get(f->s, a, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                                         &data, &len, &name, &ctype),
                   0);
  assert_int_equal(len, 5);
  assert_memory_equal(data, "hello", 5);
  assert_string_equal(name, "bien-ban.pdf");
  assert_string_equal(ctype, "application/pdf");
  db_free(data);
  db_free(name);
  db_free(ctype);
  assert_int_equal(db_tasks_evidence_get(f->s, a + 1, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                                         &data, &len, &name, &ctype),
                   DB_ENOTFOUND);
  /* a done task takes no report */
  char *msg;
  assert_int_equal(move(f, a, "done", "2025-06-30", &msg), 0);
  free(msg);
  assert_int_equal(db_store_begin(f->s, 0), 0);
  r.n_files = 0;
  assert_int_equal(db_tasks_report_add(f->s, a, &r, "dof", &rid, &d), DB_ECONFLICT);
  assert_problems(&d, "status: task 2 is done: it takes no more reports\n");
  db_store_rollback(f->s);
  db_diag_free(&d);
}

/* ---------- evaluation with data ---------- */

static void put_data(fx *f, const char *unit, const char *period, double value) {
  db_diag d = DB_DIAG_INIT;
  db_batch_info info = {.source = "test", .actor = "dof"};
  db_ingest *in;
  assert_int_equal(db_ingest_begin(f->s, &f->cat, &info, &d, &in, NULL), 0);
  assert_int_equal(db_ingest_add(in, 1, "DISBURSE_PCT", unit, period, value, DB_STATUS_OFFICIAL, NULL), 0);
  db_ingest_result res;
  assert_int_equal(db_ingest_finish(in, &res), 0);
  db_ingest_result_free(&res);
  db_diag_free(&d);
}

static void evaluate(fx *f, const char *today, db_tasks_eval_summary *sum) {
  db_diag d = DB_DIAG_INIT;
  db_cube *cube;
  db_derive *e;
  assert_int_equal(db_cube_open(f->s, &f->cat, &cube, &d), 0);
  assert_int_equal(db_derive_open(&f->cat, &e, &d), 0);
  const db_cube_version *v = db_cube_acquire(cube);
  db_task_clock clk = {f->cal, day(today)};
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_evaluate(f->s, e, v, &f->cat, &clk, "system", sum, &d), 0);
  assert_int_equal(db_store_commit(f->s), 0);
  assert_int_equal(d.count, 0);
  db_cube_release(v);
  db_derive_close(e);
  db_cube_close(cube);
  db_diag_free(&d);
}

static void test_data_evaluated_completion(void **state) {
  fx *f = *state;
  put_data(f, "W1", "2025-06", 80);
  put_data(f, "W1", "2025-07", 96.5);
  put_data(f, "W2", "2025-06", 40);
  put_data(f, "W2", "2025-07", 55);
  db_task_spec s = one_off("Giải ngân vốn đầu tư công đạt 95%", "PC_W1", "2025-03-10", "2025-12-31");
  s.condition = "DISBURSE_PCT >= 95";
  s.condition_period = "2025";
  s.indicators = "DISBURSE_PCT";
  int64_t a = create(f, &s);
  db_task_spec s2 = s;
  s2.lead = "DOF";
  s2.unit = "W2";
  s2.deadline = day("2025-07-31");
  int64_t b = create(f, &s2);
  db_tasks_eval_summary sum;
  evaluate(f, "2025-06-15", &sum); /* June's 80 and 40: nothing holds, nothing is due */
  assert_int_equal(sum.judged, 2);
  assert_int_equal(sum.achieved, 0);
  assert_int_equal(sum.missed, 0);
  evaluate(f, "2025-08-04", &sum);
  assert_int_equal(sum.achieved, 1);
  assert_int_equal(sum.missed, 1);
  assert_int_equal(sum.overdue_noted, 1);
  db_task t;
  db_task_view v;
  view(f, a, "2025-08-04", &t, &v);
  assert_string_equal(db_task_status_name(t.status), "done");
  assert_int_equal(t.achieved_by_data, 1);
  assert_string_equal(v.state, "done_on_time");
  assert_string_equal(t.evidence, "{\"condition\":\"DISBURSE_PCT >= 95\",\"period\":\"2025-07\",\"unit\":\"W1\","
                                  "\"values\":{\"DISBURSE_PCT\":96.5},\"evaluated\":\"2025-08-04\"}");
  db_task_free(&t);
  view(f, b, "2025-08-04", &t, &v);
  assert_string_equal(v.state, "overdue");
  assert_int_equal(t.condition_missed, 1);
  char buf[11];
  assert_string_equal(iso(t.overdue_noted, buf), "2025-07-31");
  db_task_free(&t);
  /* again: no second notice */
  evaluate(f, "2025-08-05", &sum);
  assert_int_equal(sum.judged, 1);
  assert_int_equal(sum.missed, 0);
  assert_int_equal(sum.overdue_noted, 0);
  assert_events(f, "created created achieved condition_missed overdue ");
}

/* ---------- statistics ---------- */

static db_task mk(const char *lead, const char *unit, int priority, const char *deadline, int status,
                  const char *done) {
  db_task t;
  memset(&t, 0, sizeof t);
  t.title = (char *)"t";
  t.lead = (char *)lead;
  t.unit = (char *)unit;
  t.priority = priority;
  t.assigned = day("2025-01-02");
  t.deadline = day(deadline);
  t.recur_until = DB_DATE_NONE;
  t.status = status;
  t.done = done ? day(done) : DB_DATE_NONE;
  return t;
}

static void test_statistics_by_hand(void **state) {
  fx *f = *state;
  /* On Friday 2025-08-15:
   * DOF: urgent on time (w4), normal late by 3 working days (w2), high overdue since Thursday 2025-08-07
   *      (6 working days to the 15th: 8, 11, 12, 13, 14, 15; w3), low open not yet due (w1), one cancelled.
   *      due weight 4 + 2 + 3 = 9; on time 4 -> 44.44 %; delay (2*3 + 3*6) / 9 = 2.6667
   * DOC: two normal on time -> 100 %, delay 0
   * PC_W1: one open not due -> no rate (rank 0) */
  db_task t[] = {
      mk("DOF", "79", DB_TASK_URGENT, "2025-06-30", DB_TASK_DONE, "2025-06-27"),
      mk("DOF", "W1", DB_TASK_NORMAL, "2025-07-01", DB_TASK_DONE, "2025-07-04"),
      mk("DOF", "79", DB_TASK_HIGH, "2025-08-07", DB_TASK_IN_PROGRESS, NULL),
      mk("DOF", "79", DB_TASK_LOW, "2025-09-30", DB_TASK_NEW, NULL),
      mk("DOF", "79", DB_TASK_NORMAL, "2025-05-30", DB_TASK_CANCELLED, NULL),
      mk("DOC", "W1", DB_TASK_NORMAL, "2025-05-30", DB_TASK_DONE, "2025-05-30"),
      mk("DOC", "W2", DB_TASK_NORMAL, "2025-07-31", DB_TASK_DONE, "2025-07-01"),
      mk("PC_W1", "W1", DB_TASK_NORMAL, "2025-09-30", DB_TASK_NEW, NULL),
  };
  db_task_clock clk = {f->cal, day("2025-08-15")};
  db_tasks_stat *st;
  size_t n;
  assert_int_equal(db_tasks_stats(t, sizeof t / sizeof *t, &clk, DB_TASKS_BY_AGENCY, &st, &n), 0);
  assert_int_equal(n, 4);
  assert_string_equal(st[0].key, "DOC");
  assert_int_equal(st[0].rank, 1);
  assert_true(st[0].ontime_pct == 100.0);
  assert_true(st[0].avg_delay == 0.0);
  assert_string_equal(st[1].key, "DOF");
  assert_int_equal(st[1].rank, 2);
  assert_int_equal(st[1].items, 4);
  assert_int_equal(st[1].done, 2);
  assert_int_equal(st[1].done_on_time, 1);
  assert_int_equal(st[1].done_late, 1);
  assert_int_equal(st[1].overdue, 1);
  assert_int_equal(st[1].open, 2);
  assert_int_equal(st[1].cancelled, 1);
  assert_true(fabs(st[1].ontime_pct - 400.0 / 9) < 1e-9);
  assert_true(fabs(st[1].avg_delay - 24.0 / 9) < 1e-9);
  assert_string_equal(st[2].key, "PC_W1");
  assert_int_equal(st[2].rank, 0);
  assert_true(isnan(st[2].ontime_pct));
  assert_string_equal(st[3].key, ""); /* the total: due weight 9 + 4, on time 4 + 4 */
  assert_int_equal(st[3].items, 7);
  assert_true(fabs(st[3].ontime_pct - 800.0 / 13) < 1e-9);
  db_free(st);
  assert_int_equal(db_tasks_stats(t, sizeof t / sizeof *t, &clk, DB_TASKS_BY_UNIT, &st, &n), 0);
  assert_int_equal(n, 4);
  /* W2 100 % (rank 1); 79: urgent on time, high overdue -> 4/7; W1: DOF late (w2), DOC on time (w2) -> 50 % */
  assert_string_equal(st[0].key, "W2");
  assert_string_equal(st[1].key, "79");
  assert_true(fabs(st[1].ontime_pct - 400.0 / 7) < 1e-9);
  assert_string_equal(st[2].key, "W1");
  assert_true(st[2].ontime_pct == 50.0);
  assert_int_equal(st[2].rank, 3);
  db_free(st);
}

static void test_statistics_published_as_indicators(void **state) {
  fx *f = *state;
  db_task_spec s = one_off("Nhiệm vụ phường", "PC_W1", "2025-07-01", "2025-07-31");
  int64_t a = create(f, &s);
  char *msg;
  assert_int_equal(move(f, a, "in_progress", "2025-07-02", &msg), 0);
  free(msg);
  assert_int_equal(move(f, a, "done", "2025-07-30", &msg), 0);
  free(msg);
  db_task_spec s2 = one_off("Nhiệm vụ sở", "DOF", "2025-07-01", "2025-08-01");
  create(f, &s2);
  db_diag d = DB_DIAG_INIT;
  int changed = 0;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_ensure_catalog(f->s, &f->cat, &changed, &d), 0);
  assert_int_equal(db_store_commit(f->s), 0);
  assert_int_equal(changed, 1);
  reload(f);
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_ensure_catalog(f->s, &f->cat, &changed, &d), 0);
  assert_int_equal(db_store_commit(f->s), 0);
  assert_int_equal(changed, 0); /* already there */
  db_task_clock clk = {f->cal, day("2025-08-12")};
  db_ingest_result res;
  assert_int_equal(db_tasks_publish_stats(f->s, &f->cat, &clk, "system", &res, &d), 0);
  if (d.count) fail_msg("%s", db_test_problems(&d));
  /* PC_W1 (at W1, AGENCY=PC_W1): 4 values; DOF (at 79, AGENCY=DOF): 4; W1: 4; the city total: 4 */
  assert_int_equal(res.rows, 16);
  int found = 0;
  for (size_t i = 0; i < res.n_changes; i++) {
    const db_obs_row *c = &res.changes[i];
    const db_indicator *ind = NULL;
    for (size_t k = 0; k < f->cat.n_indicators; k++)
      if (f->cat.indicators[k].id == c->indicator) ind = &f->cat.indicators[k];
    if (strcmp(ind->code, "TASK_ONTIME_PCT") == 0 && strcmp(c->dimkey, "AGENCY=DOF") == 0) {
      assert_true(c->value == 0.0); /* overdue since 1 August, nothing done */
      found++;
    }
    if (strcmp(ind->code, "TASK_DELAY_AVG") == 0 && strcmp(c->dimkey, "") == 0 && c->orgunit == f->cat.units[0].id) {
      /* the city total: on time (w2, 0) and DOF overdue 1 -> 12 August: 7 working days (w2) -> 3.5 */
      assert_true(c->value == 3.5);
      found++;
    }
  }
  assert_int_equal(found, 2);
  db_ingest_result_free(&res);
  db_diag_free(&d);
}

/* ---------- CSV ---------- */

static const char *VI_CSV =
    "Số văn bản,Tên nhiệm vụ,Cơ quan chủ trì,Cơ quan phối hợp,Địa bàn,Ngày giao,Thời hạn,Định kỳ,Mức độ ưu tiên,"
    "Trạng thái,Ngày hoàn thành\n"
    "125/TB-VP,Rà soát dự án chậm tiến độ,Sở Tài chính,\"Sở Xây dựng, PCO\",79,10/03/2025,30/06/2025,,Cao,Hoàn "
    "thành,27/06/2025\n"
    "125/TB-VP,Báo cáo giải ngân hằng tháng,DOF,,,10/03/2025,,Hằng tháng ngày 5,khẩn,Đang thực hiện,\n"
    ",Chỉnh trang vỉa hè,Ủy ban nhân dân phường W1,,W1,2025-04-01,2025-09-30,,,,\n";

static void test_csv_import_vietnamese_and_export(void **state) {
  fx *f = *state;
  db_diag d = DB_DIAG_INIT;
  int64_t n = 0;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_import_csv(f->s, &f->cat, VI_CSV, strlen(VI_CSV), "nhiem-vu.csv", "cli", &n, &d), 0);
  assert_int_equal(db_store_commit(f->s), 0);
  assert_int_equal(n, 3);
  db_task t;
  char b[11];
  assert_int_equal(db_tasks_get(f->s, 2, &t), 0);
  assert_string_equal(t.lead, "DOF");
  assert_string_equal(t.co_agencies, "DOC;PCO");
  assert_int_equal(t.priority, DB_TASK_HIGH);
  assert_string_equal(db_task_status_name(t.status), "done");
  assert_string_equal(iso(t.done, b), "2025-06-27");
  assert_string_equal(t.origin, "import:nhiem-vu.csv:2");
  db_task_free(&t);
  assert_int_equal(db_tasks_get(f->s, 3, &t), 0);
  assert_int_equal(t.recur_day, 5);
  assert_string_equal(t.unit, "79");
  assert_int_equal(t.priority, DB_TASK_URGENT);
  db_task_free(&t);
  assert_int_equal(db_tasks_get(f->s, 4, &t), 0);
  assert_string_equal(t.lead, "PC_W1");
  db_task_free(&t);
  /* export, then import the export again: the same tasks */
  char *path = db_test_path(f->dir, "export.csv");
  FILE *out = fopen(path, "w");
  db_task_clock clk = {f->cal, day("2025-07-01")};
  assert_int_equal(db_tasks_export_csv(f->s, NULL, &clk, out), 0);
  fclose(out);
  size_t len;
  char *text = db_test_read_file(path, &len);
  assert_non_null(strstr(text, "\n2,125/TB-VP,Rà soát dự án chậm tiến độ,,DOF,DOC;PCO,79,2025-03-10,2025-06-30,,,high,,,,"
                               "import:nhiem-vu.csv:2,done,2025-06-27,done_on_time,2025-06-30,0,100\n"));
  assert_non_null(strstr(text, ",monthly:5,,urgent,"));
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_import_csv(f->s, &f->cat, text, len, "export.csv", "cli", &n, &d), 0);
  assert_int_equal(db_store_commit(f->s), 0);
  assert_int_equal(n, 3);
  assert_int_equal(db_tasks_get(f->s, 5, &t), 0);
  assert_string_equal(t.title, "Rà soát dự án chậm tiến độ");
  assert_string_equal(iso(t.done, b), "2025-06-27");
  db_task_free(&t);
  db_free(text);
  db_free(path);
  db_diag_free(&d);
}

static void test_csv_import_lists_every_problem(void **state) {
  fx *f = *state;
  const char *bad = "Tên nhiệm vụ,Cơ quan chủ trì,Thời hạn,Ưu tiên,Trạng thái,Ngày hoàn thành,Ghi chú\n";
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_begin(f->s, 0), 0);
  assert_int_equal(db_tasks_import_csv(f->s, &f->cat, bad, strlen(bad), "x.csv", "cli", NULL, &d), DB_EINVAL);
  assert_problems(&d, "line 1, column 7, unknown column 'Ghi chú'\n");
  db_diag_clear(&d);
  const char *empty = "title,lead,deadline"; /* a header alone (the fuzzer's find: no final newline) */
  assert_int_equal(db_tasks_import_csv(f->s, &f->cat, empty, strlen(empty), "x.csv", "cli", NULL, &d), DB_EINVAL);
  assert_problems(&d, "line 2, the file has a header but no task\n");
  db_diag_clear(&d);
  const char *rows = "Tên nhiệm vụ,Cơ quan chủ trì,Thời hạn,Ưu tiên,Trạng thái,Ngày hoàn thành\n"
                     "Nhiệm vụ một,DOF,31/02/2025,cao,,\n"
                     ",Sở Không Có,30/06/2025,rất cao,xong,\n"
                     "Nhiệm vụ ba,DOC,30/06/2025,,Hoàn thành,\n"
                     "Nhiệm vụ bốn,DOC\n"
                     "Nhiệm vụ năm,DOC,30/06/2025,,mới,01/07/2025\n";
  assert_int_equal(db_tasks_import_csv(f->s, &f->cat, rows, strlen(rows), "x.csv", "cli", NULL, &d), DB_EINVAL);
  assert_problems(&d, "line 2, column 3, deadline: '31/02/2025' is not a date (dd/mm/yyyy or YYYY-MM-DD)\n"
                      "line 3, column 4, priority: 'rất cao' is not a priority (low, normal, high, urgent)\n"
                      "line 3, column 5, status: 'xong' is not a status (new, in_progress, done, cancelled)\n"
                      "line 3, column 1, title: required\n"
                      "line 3, column 2, lead: unknown agency 'Sở Không Có'\n"
                      "line 4, column 6, done: a done task needs the day it was done\n"
                      "line 5, 2 fields, the header has 6\n"
                      "line 6, column 6, done: a done day is given but the status is new\n");
  assert_int_equal(db_store_rollback(f->s), 0);
  db_diag_free(&d);
  /* nothing was written */
  db_task t;
  assert_int_equal(db_tasks_get(f->s, 1, &t), DB_ENOTFOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_and_priority_names),
      cmocka_unit_test_setup_teardown(test_every_transition, setup, teardown),
      cmocka_unit_test_setup_teardown(test_version_conflict, setup, teardown),
      cmocka_unit_test_setup_teardown(test_validation_lists_every_problem, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadlines_move_off_rest_days_and_holidays, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recurring_across_month_ends_and_holidays, setup, teardown),
      cmocka_unit_test_setup_teardown(test_first_occurrence_after_assignment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extensions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reports_and_evidence_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_data_evaluated_completion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_statistics_by_hand, setup, teardown),
      cmocka_unit_test_setup_teardown(test_statistics_published_as_indicators, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_import_vietnamese_and_export, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_import_lists_every_problem, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
