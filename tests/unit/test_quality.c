/* test_quality.c - data supply and quality through the C API on a real SQLite store: a simulated month
 * of submissions (on time, late, missing, invalid) with its completeness, timeliness, validity, scores
 * and ranks computed by hand; validation rules with a tolerance, opened and resolved by a fix; approval
 * locking values (a change needs a reason; the audit trail names who approved and who revised); seasonal
 * outliers; the unit attribute checks on the data pack's nationwide commune file. */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "ingest/calendar_import.h"
#include "ingest/ingest.h"
#include "quality/quality.h"
#include "testutil.h"

typedef struct fixture {
  char *dir;
  db_store *store;
  db_catalog cat;
} fixture;

static void put_indicator(db_store *s, const char *code, const char *owner, const char *groups) {
  db_indicator i;
  db_indicator_init(&i);
  i.code = i.name = (char *)code;
  i.periodicity = DB_PT_MONTH;
  i.agg_space = DB_AGG_SUM;
  i.agg_time = DB_AGG_SUM;
  i.owner = (char *)owner;
  i.groups = (char *)groups;
  assert_int_equal(db_store_put_indicator(s, &i), 0);
}

static void put_agency(db_store *s, const char *code) {
  db_agency a = {0, (char *)code, (char *)code, NULL, "department", "79", NULL};
  assert_int_equal(db_store_put_agency(s, &a), 0);
}

static void reload(fixture *f) {
  db_diag d = DB_DIAG_INIT;
  db_catalog_free(&f->cat);
  db_catalog_init(&f->cat);
  assert_int_equal(db_store_load_catalog(f->store, &f->cat), 0);
  assert_int_equal(db_catalog_link(&f->cat, &d), 0);
  db_diag_free(&d);
}

static int setup(void **state) {
  fixture *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  char *path = db_test_path(f->dir, "store.db");
  char url[4200];
  snprintf(url, sizeof url, "sqlite:%s", path);
  db_free(path);
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(url, &f->store, &d), 0);
  assert_int_equal(db_store_begin(f->store, 0), 0);
  db_test_put_unit(f->store, "79", NULL, DB_OU_CITY, NULL, NULL);
  db_test_put_unit(f->store, "W1", "79", DB_OU_WARD, NULL, NULL);
  db_test_put_unit(f->store, "W2", "79", DB_OU_WARD, NULL, NULL);
  db_test_put_unit(f->store, "W3", "79", DB_OU_WARD, NULL, NULL);
  put_agency(f->store, "A1");
  put_agency(f->store, "A2");
  put_indicator(f->store, "POP", "A1", "pop");
  put_indicator(f->store, "POP_F", "A1", "pop");
  put_indicator(f->store, "POP_M", "A1", "pop");
  put_indicator(f->store, "BUDGET", "A2", "fin");
  /* 2025-08-04 (a Monday) is a holiday here: the July deadline moves to Friday 8 August */
  db_calendar *cal = db_calendar_new();
  const char *csv = "date,kind,name\n2025-08-04,holiday,Test holiday\n";
  assert_int_equal(db_calendar_read_csv(cal, csv, strlen(csv), "test", &d), 0);
  assert_int_equal(db_calendar_save(f->store, cal), 0);
  db_calendar_free(cal);
  assert_int_equal(db_store_commit(f->store), 0);
  db_catalog_init(&f->cat);
  reload(f);
  db_diag_free(&d);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  db_catalog_free(&f->cat);
  db_store_close(f->store);
  db_test_rmtree(f->dir);
  db_free(f->dir);
  db_free(f);
  return 0;
}

/* Noon, city time, of a day "2025-08-06". */
static int64_t noon(const char *date) {
  int64_t day;
  assert_int_equal(db_parse_date(date, strlen(date), &day), 0);
  return day * 86400000 + 5 * 3600000;
}

/* One batch of rows "IND UNIT VALUE;..." for 2025-07 received at noon of `date` by actor. */
static int submit(fixture *f, const char *date, const char *actor, const char *reason, const char *rows,
                  db_ingest_result *res, db_diag *d) {
  db_batch_info info = {NULL, "test", actor, noon(date)};
  db_ingest *in;
  db_batch_summary replay;
  assert_int_equal(db_ingest_begin(f->store, &f->cat, &info, d, &in, &replay), 0);
  db_ingest_keep_changes(in);
  db_ingest_set_reason(in, reason);
  char ind[32], unit[32], period[16];
  double v;
  int used;
  for (const char *p = rows; sscanf(p, " %31s %31s %15s %lf;%n", ind, unit, period, &v, &used) == 4; p += used)
    db_ingest_add(in, 0, ind, unit, period, v, DB_STATUS_PROVISIONAL, NULL);
  return db_ingest_finish(in, res);
}

static void submit_ok(fixture *f, const char *date, const char *rows) {
  db_diag d = DB_DIAG_INIT;
  db_ingest_result res;
  assert_int_equal(submit(f, date, "agency", NULL, rows, &res, &d), 0);
  db_ingest_result_free(&res);
  db_diag_free(&d);
}

static const char *obligations_json =
    "[{\"code\":\"OB_POP\",\"agency\":\"A1\",\"indicators\":[\"POP\",\"POP_F\",\"POP_M\"],\"orgunit\":\"79\","
    "\"children\":true,\"deadline\":\"5 working days\",\"from\":\"2025-07\",\"to\":\"2025-07\"},"
    "{\"code\":\"OB_BUD\",\"agency\":\"A2\",\"indicators\":\"BUDGET\",\"orgunit\":\"79\",\"deadline\":\"10 days\","
    "\"from\":\"2025-07\",\"to\":\"2025-07\"}]";

static void define(fixture *f) {
  db_diag d = DB_DIAG_INIT;
  db_obligation *ob;
  db_rule *rules;
  size_t n, nr;
  assert_int_equal(db_obligations_read(obligations_json, strlen(obligations_json), "json", &f->cat, &ob, &n, &d), 0);
  const char *rules_csv = "code,formula,tolerance,importance\nPOP_SUM,POP_F + POP_M == POP,0.5,error\n";
  assert_int_equal(db_rules_read(rules_csv, strlen(rules_csv), "csv", &f->cat, &rules, &nr, &d), 0);
  assert_int_equal(db_store_begin(f->store, 0), 0);
  assert_int_equal(db_obligations_save(f->store, ob, n), 0);
  assert_int_equal(db_rules_save(f->store, rules, nr), 0);
  assert_int_equal(db_store_commit(f->store), 0);
  db_obligations_free(ob, n);
  db_rules_free(rules, nr);
  db_diag_free(&d);
}

/* Judges the rules: every cell (changes NULL) or those of one change set. */
static db_check_stats check(fixture *f, const db_obs_row *changes, size_t n) {
  db_diag d = DB_DIAG_INIT;
  db_cube *cube;
  db_derive *e;
  assert_int_equal(db_cube_open(f->store, &f->cat, &cube, &d), 0);
  assert_int_equal(db_derive_open(&f->cat, &e, &d), 0);
  const db_cube_version *v = db_cube_acquire(cube);
  db_check_stats st;
  assert_int_equal(db_rules_check(f->store, &f->cat, e, v, changes, n, NULL, 7, 1000, &st, &d), 0);
  db_cube_release(v);
  db_derive_close(e);
  db_cube_close(cube);
  db_diag_free(&d);
  return st;
}

/* The month: W1 complete and consistent on 6 August; W2 complete on 6 August but POP_F + POP_M is 190
 * for a POP of 200; W3 sends POP only, late, on Tuesday 12 August (2 working days after the deadline)
 * and never POP_F, POP_M; W1 revises POP on 20 August (its first value still counts, on time); A2's
 * BUDGET arrives on Sunday 10 August, the last of its 10 calendar days. */
static void simulate_month(fixture *f) {
  submit_ok(f, "2025-08-06", "POP W1 2025-07 100; POP_F W1 2025-07 50; POP_M W1 2025-07 50;"
                             "POP W2 2025-07 200; POP_F W2 2025-07 90; POP_M W2 2025-07 100;");
  submit_ok(f, "2025-08-10", "BUDGET 79 2025-07 12.5;");
  submit_ok(f, "2025-08-12", "POP W3 2025-07 300;");
  submit_ok(f, "2025-08-20", "POP W1 2025-07 100.5;");
}

static void supply(fixture *f, const char *as_of, db_obligation **ob, size_t *n_ob, db_supply_cell **cells, size_t *n) {
  db_calendar *cal = db_calendar_new();
  assert_int_equal(db_calendar_load(f->store, cal), 0);
  assert_int_equal(db_obligations_load(f->store, &f->cat, ob, n_ob), 0);
  db_supply_filter flt = {0};
  assert_int_equal(db_supply_cells(f->store, &f->cat, cal, *ob, *n_ob, &flt, noon(as_of), cells, n), 0);
  assert_int_equal(db_supply_mark_invalid(f->store, &f->cat, *cells, *n), 0);
  db_calendar_free(cal);
}

static void assert_row(const db_supply_row *r, const char *key, int64_t expected, int64_t received, int64_t on_time,
                       int64_t late, int64_t invalid, double score, int64_t rank) {
  assert_string_equal(r->key, key);
  assert_int_equal(r->expected, expected);
  assert_int_equal(r->received, received);
  assert_int_equal(r->on_time, on_time);
  assert_int_equal(r->late, late);
  assert_int_equal(r->missing, expected - received);
  assert_int_equal(r->invalid, invalid);
  assert_true(fabs(r->score - score) < 1e-9);
  assert_int_equal(r->rank, rank);
}

static void test_month_of_submissions(void **state) {
  fixture *f = *state;
  define(f);
  simulate_month(f);
  db_check_stats st = check(f, NULL, 0);
  assert_int_equal(st.opened, 1); /* W2; W1 within the tolerance; W3 not judged (inputs missing) */
  db_obligation *ob;
  db_supply_cell *cells;
  size_t n_ob, n;
  supply(f, "2025-08-25", &ob, &n_ob, &cells, &n);
  assert_int_equal(n, 10);
  /* OB_POP's cells in period, unit, indicator order: W1, W2, W3 x POP, POP_F, POP_M */
  char date[11];
  db_format_date(cells[0].deadline_day, date);
  assert_string_equal(date, "2025-08-08");
  assert_int_equal(cells[0].state, DB_CELL_ON_TIME);
  assert_int_equal(cells[0].received_ms, noon("2025-08-06")); /* the first revision's time */
  assert_int_equal(cells[3].invalid, 1);
  assert_int_equal(cells[6].state, DB_CELL_LATE);
  assert_int_equal(cells[6].days_late, 2);
  assert_int_equal(cells[7].state, DB_CELL_OVERDUE);
  db_format_date(cells[9].deadline_day, date);
  assert_string_equal(date, "2025-08-10");
  assert_int_equal(cells[9].state, DB_CELL_ON_TIME);

  db_supply_row *rows;
  size_t nr;
  db_supply_aggregate(&f->cat, ob, cells, n, DB_BY_AGENCY, &rows, &nr);
  assert_int_equal(nr, 2);
  /* A1: 9 owed, 7 received, 6 on time, 1 late, 2 missing, 3 invalid (W2's) of 7 received */
  assert_row(&rows[0], "A1", 9, 7, 6, 1, 3, 100.0 * (7.0 / 9 + 6.0 / 9 + 4.0 / 7) / 3, 2);
  assert_true(fabs(rows[0].completeness - 7.0 / 9) < 1e-12);
  assert_true(fabs(rows[0].timeliness - 6.0 / 9) < 1e-12);
  assert_int_equal(rows[0].days_late, 2);
  assert_row(&rows[1], "A2", 1, 1, 1, 0, 0, 100.0, 1);
  db_supply_rows_free(rows, nr);

  db_supply_aggregate(&f->cat, ob, cells, n, DB_BY_ORGUNIT, &rows, &nr);
  assert_int_equal(nr, 4);
  assert_row(&rows[0], "79", 1, 1, 1, 0, 0, 100.0, 1);
  assert_row(&rows[1], "W1", 3, 3, 3, 0, 0, 100.0, 1);
  assert_row(&rows[2], "W2", 3, 3, 3, 0, 3, 100.0 * (1 + 1 + 0) / 3, 3);
  assert_row(&rows[3], "W3", 3, 1, 0, 1, 0, 100.0 * (1.0 / 3 + 0 + 1) / 3, 4);
  db_supply_rows_free(rows, nr);

  db_supply_aggregate(&f->cat, ob, cells, n, DB_BY_GROUP, &rows, &nr);
  assert_int_equal(nr, 2);
  assert_row(&rows[0], "fin", 1, 1, 1, 0, 0, 100.0, 1);
  assert_string_equal(rows[1].key, "pop");
  db_supply_rows_free(rows, nr);
  db_free(cells);

  /* before the deadline nothing is owed yet: nine cells pending for A1, W1 and W2 already on time */
  db_obligations_free(ob, n_ob);
  supply(f, "2025-08-07", &ob, &n_ob, &cells, &n);
  db_supply_aggregate(&f->cat, ob, cells, n, DB_BY_AGENCY, &rows, &nr);
  assert_int_equal(rows[0].expected, 0);
  assert_int_equal(rows[0].pending, 9);
  assert_true(isnan(rows[0].score));
  assert_int_equal(rows[0].rank, 0);
  db_supply_rows_free(rows, nr);
  db_free(cells);
  db_obligations_free(ob, n_ob);
}

/* The scores as indicators: DQ_SCORE of A1 at its unit with AGENCY=A1, of W3 at W3. */
typedef struct find_ctx {
  int64_t indicator, unit;
  const char *dimkey;
  double value;
} find_ctx;

static int find_value(void *ctx, const db_obs_row *r) {
  find_ctx *fc = ctx;
  if (r->indicator == fc->indicator && r->orgunit == fc->unit && strcmp(r->dimkey, fc->dimkey) == 0) fc->value = r->value;
  return 0;
}

static double stored(fixture *f, const char *ind, const char *unit, const char *dimkey) {
  find_ctx fc = {db_catalog_indicator(&f->cat, ind)->id, db_catalog_unit(&f->cat, unit)->id, dimkey, NAN};
  db_obs_filter all = {0};
  assert_int_equal(db_store_obs_read(f->store, &all, find_value, &fc), 0);
  return fc.value;
}

static void test_scorecards_stored_as_indicators(void **state) {
  fixture *f = *state;
  define(f);
  simulate_month(f);
  check(f, NULL, 0);
  int changed;
  assert_int_equal(db_store_begin(f->store, 0), 0);
  assert_int_equal(db_scorecards_ensure_catalog(f->store, &f->cat, &changed), 0);
  assert_int_equal(db_store_commit(f->store), 0);
  assert_int_equal(changed, 1);
  reload(f);
  db_obligation *ob;
  db_supply_cell *cells;
  size_t n_ob, n;
  supply(f, "2025-08-25", &ob, &n_ob, &cells, &n);
  db_diag d = DB_DIAG_INIT;
  db_ingest_result res;
  assert_int_equal(db_scorecards_store(f->store, &f->cat, ob, cells, n, &d, &res), 0);
  assert_int_equal(res.inserted, 4 * 2 + 4 * 3); /* 2 agencies and 3 wards (not the city) x 4 scores */
  db_ingest_result_free(&res);
  assert_true(fabs(stored(f, "DQ_SCORE", "79", "AGENCY=A1") - 67.2) < 1e-9);
  assert_true(fabs(stored(f, "DQ_COMPLETENESS", "79", "AGENCY=A1") - 77.78) < 1e-9);
  assert_true(fabs(stored(f, "DQ_SCORE", "W3", "") - 44.44) < 1e-9);
  /* again: the same values write nothing */
  assert_int_equal(db_scorecards_store(f->store, &f->cat, ob, cells, n, &d, &res), 0);
  assert_int_equal(res.inserted + res.revised, 0);
  db_ingest_result_free(&res);
  db_free(cells);
  db_obligations_free(ob, n_ob);
  db_diag_free(&d);
}

typedef struct body_ctx {
  char *body;
} body_ctx;

static int keep_body(void *ctx, const db_record *r) {
  body_ctx *b = ctx;
  db_free(b->body);
  b->body = db_strdup(r->body);
  return 0;
}

static void test_rules_tolerance_and_fix(void **state) {
  fixture *f = *state;
  define(f);
  simulate_month(f);
  db_check_stats st = check(f, NULL, 0);
  assert_int_equal(st.cells, 3); /* W1, W2 judged; W3 looked at, its inputs missing */
  assert_int_equal(st.opened, 1);
  body_ctx b = {0};
  assert_int_equal(db_store_record_scan(f->store, DB_VIOLATION_KIND, keep_body, &b), 0);
  assert_non_null(strstr(b.body, "\"rule\":\"POP_SUM\""));
  assert_non_null(strstr(b.body, "\"importance\":\"error\""));
  assert_non_null(strstr(b.body, "\"orgunit\":\"W2\""));
  assert_non_null(strstr(b.body, "\"status\":\"open\""));
  assert_non_null(strstr(b.body, "POP_F + POP_M == POP fails: 190 == 200 (tolerance 0.5)"));
  assert_non_null(strstr(b.body, "{\"indicator\":\"POP_M\",\"orgunit\":\"W2\",\"period\":\"2025-07\",\"value\":100.0,"
                                 "\"status\":\"provisional\",\"revision\":1,\"seq\":"));
  /* the fix: POP_M of W2 becomes 110; judging the change set resolves the violation */
  db_diag d = DB_DIAG_INIT;
  db_ingest_result res;
  assert_int_equal(submit(f, "2025-08-21", "agency", NULL, "POP_M W2 2025-07 110;", &res, &d), 0);
  st = check(f, res.changes, res.n_changes);
  assert_int_equal(st.cells, 1);
  assert_int_equal(st.resolved, 1);
  db_ingest_result_free(&res);
  assert_int_equal(db_store_record_scan(f->store, DB_VIOLATION_KIND, keep_body, &b), 0);
  assert_non_null(strstr(b.body, "\"status\":\"resolved\""));
  db_free(b.body);
  /* rule definitions: a tolerance needs one comparison; unknown importance; a number is no rule */
  const char *bad = "code,formula,tolerance,importance\nR1,POP > 0 and POP_F > 0,1,warning\nR2,POP > 0,,severe\n"
                    "R3,POP + 1,,\nR1,POPP > 1,,\n";
  db_rule *rules;
  size_t nr;
  assert_int_equal(db_rules_read(bad, strlen(bad), "csv", &f->cat, &rules, &nr, &d), DB_EINVAL);
  assert_problems(&d, "line 2, formula: column 1: a tolerance applies to one comparison at the top of the formula "
                      "(A == B, A <= B...)\n"
                      "line 3, importance: importance 'severe' is not one of info, warning, error, critical\n"
                      "line 4, formula: column 1: a rule is a condition (a comparison or a boolean), not a number\n"
                      "line 5, formula: column 1: unknown indicator 'POPP' (did you mean POP?)\n"
                      "line 5, code: code R1 is already used by line 2\n");
  db_diag_free(&d);
}

typedef struct audit_ctx {
  db_buf text;
} audit_ctx;

static int audit_line(void *ctx, int64_t id, const db_audit *a) {
  audit_ctx *ac = ctx;
  db_buf_printf(&ac->text, "%s %s %s\n", a->actor, a->action, a->object);
  if (a->detail && strstr(a->detail, "reason")) db_buf_printf(&ac->text, "  %s\n", a->detail);
  return 0;
}

static void test_approval_locks_values(void **state) {
  fixture *f = *state;
  simulate_month(f);
  db_diag d = DB_DIAG_INIT;
  db_approval_result ar;
  assert_int_equal(db_quality_approve(f->store, &f->cat, "pop", "W1", "2025-07", "steward1", "July census",
                                      noon("2025-08-22"), &ar, &d),
                   0);
  assert_problems(&d, "");
  assert_int_equal(ar.cells, 3);
  assert_int_equal(ar.changed, 3);
  /* without a reason: refused, nothing written */
  db_ingest_result res;
  assert_int_equal(submit(f, "2025-08-23", "clerk", NULL, "POP W1 2025-07 120; POP W2 2025-07 201;", &res, &d),
                   DB_EINVAL);
  assert_problems(&d, "POP for W1 in 2025-07 is approved (official and locked): a change needs a reason (the "
                      "X-Change-Reason header, or --reason)\n");
  assert_true(fabs(stored(f, "POP", "W1", "") - 100.5) < 1e-12);
  db_diag_clear(&d);
  /* the same value sent again as provisional would undo the approval: refused too; new cells are free */
  assert_int_equal(submit(f, "2025-08-23", "clerk", NULL, "POP W1 2025-07 100.5;", &res, &d), DB_EINVAL);
  db_diag_clear(&d);
  assert_int_equal(submit(f, "2025-08-23", "clerk", NULL, "POP W1 2025-08 99;", &res, &d), 0);
  assert_int_equal(res.inserted, 1);
  db_ingest_result_free(&res);
  /* with a reason: a revision, and the audit trail says who approved and who revised, and why */
  assert_int_equal(submit(f, "2025-08-24", "clerk", "census correction", "POP W1 2025-07 120;", &res, &d), 0);
  assert_int_equal(res.revised, 1);
  db_ingest_result_free(&res);
  audit_ctx ac = {DB_BUF_INIT};
  assert_int_equal(db_store_audit_read(f->store, 0, audit_line, &ac), 0);
  assert_non_null(strstr(db_buf_str(&ac.text), "steward1 quality.approve approval:pop|W1|2025-07\n"));
  assert_non_null(strstr(db_buf_str(&ac.text),
                         "clerk data.revise_approved test\n  {\"reason\":\"census correction\",\"seq\":"));
  assert_non_null(strstr(db_buf_str(&ac.text), "\"cells\":[{\"indicator\":\"POP\",\"orgunit\":\"W1\",\"period\":\"2025-07\","
                                               "\"value\":120.0,\"approval\":"));
  db_buf_free(&ac.text);
  /* nothing to approve, unknown group */
  assert_int_equal(db_quality_approve(f->store, &f->cat, "pop", "W3", "2025-01", "s", NULL, 1, &ar, &d), DB_ENOTFOUND);
  assert_int_equal(db_quality_approve(f->store, &f->cat, "nope", "W3", "2025-07", "s", NULL, 1, &ar, &d), DB_EINVAL);
  db_diag_free(&d);
}

static void test_outliers_respect_seasonality(void **state) {
  (void)state;
  enum { N = 60 };
  double x[N], z[N];
  for (int t = 0; t < N; t++) /* a trend, a January peak every year, a little wobble */
    x[t] = 100 + 0.5 * t + (t % 12 == 0 ? 60 : 0) + 2 * sin(t * 1.7);
  x[31] += 40; /* the planted outlier, in an August */
  assert_int_equal(db_outlier_season(DB_PT_MONTH), 12);
  size_t flagged = db_outlier_scores(x, N, 12, 3.5, z);
  assert_int_equal(flagged, 1);
  assert_true(z[31] > 3.5);
  for (int t = 0; t < N; t += 12) assert_true(fabs(z[t]) < 3.5); /* the seasonal peaks are not flagged */
  /* without the season, the January peaks themselves look wrong */
  assert_true(db_outlier_scores(x, N, 1, 3.5, z) > 1);
  /* too few values: nothing said; nor with fewer than three seasons */
  assert_int_equal(db_outlier_scores(x, 5, 12, 3.5, z), 0);
  assert_true(isnan(z[0]));
  assert_int_equal(db_outlier_scores(x, 35, 12, 3.5, z), 0);
  assert_true(isnan(z[31]));
}

/* Three years of a noisy monthly series with no wrong value: nothing is flagged (the middle of three
 * Januaries is the January profile, and its residual, 0 by construction, does not shrink the scale); one
 * keying error among them is. */
static void test_outliers_leave_noise_alone(void **state) {
  (void)state;
  enum { N = 36 };
  double x[N], z[N];
  for (int t = 0; t < N; t++) x[t] = 1000 + 40 * sin(t * 2.3) + 25 * cos(t * 5.1);
  assert_int_equal(db_outlier_scores(x, N, 12, 3.5, z), 0);
  x[20] *= 1.5;
  assert_int_equal(db_outlier_scores(x, N, 12, 3.5, z), 1);
  assert_true(z[20] > 3.5);
}

static void test_unit_attribute_checks(void **state) {
  (void)state;
  const char *shared = db_test_shared_dir();
  if (!shared) skip();
  char path[4200];
  snprintf(path, sizeof path, "%s/data/admin_units/vn_communes_2025_bando_area_population.csv", shared);
  size_t len;
  char *text = db_test_read_file(path, &len);
  db_diag d = DB_DIAG_INIT;
  db_unit_attrs *a;
  db_unit_finding *f;
  size_t n, nf;
  assert_int_equal(db_unit_attrs_read(text, len, &a, &n, &d), 0);
  assert_int_equal(n, 3321);
  db_unit_attrs_check(a, n, &f, &nf);
  db_buf hcmc = DB_BUF_INIT;
  int missing_pop = 0;
  for (size_t i = 0; i < nf; i++) {
    if (strcmp(f[i].province, "79") == 0) db_buf_printf(&hcmc, "%s %s\n", f[i].code, f[i].attribute);
    missing_pop += strcmp(f[i].attribute, "population") == 0 && isnan(f[i].value);
  }
  assert_string_equal(db_buf_str(&hcmc), "25750 area_km2\n25849 area_km2\n"); /* Phú Lợi, Hòa Lợi */
  assert_int_equal(missing_pop, 2); /* Hoàng Sa, Vân Đồn */
  assert_true(nf <= 12);            /* a handful nationwide, not hundreds */
  for (size_t i = 0; i < nf; i++)
    if (strcmp(f[i].code, "25849") == 0)
      assert_non_null(strstr(f[i].message, "Phường Hòa Lợi (25849): area 33589 km² is far too large for its peers"));
  db_buf_free(&hcmc);
  db_unit_findings_free(f, nf);
  db_unit_attrs_free(a, n);
  db_free(text);
  db_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_month_of_submissions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scorecards_stored_as_indicators, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rules_tolerance_and_fix, setup, teardown),
      cmocka_unit_test_setup_teardown(test_approval_locks_values, setup, teardown),
      cmocka_unit_test(test_outliers_respect_seasonality),
      cmocka_unit_test(test_outliers_leave_noise_alone),
      cmocka_unit_test(test_unit_attribute_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
