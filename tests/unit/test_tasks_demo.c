/* test_tasks_demo.c - the demo's tasks (demo/demo_tasks.c) loaded with the generated city into a real
 * store: the statistics of every lead agency on the demo's day equal the figures worked out by hand from
 * the demo's task table, the tasks proved done by data carry their evidence, and the statistics were
 * published as the TASK_* indicators of October 2025.
 *
 * The hand computation, per agency: the due items (done, or open past their due day) with their weights
 * (low 1, normal 2, high 3, urgent 4), the weight of those done on time, and the working days late
 * (Monday to Friday; every span lies between 3 September and 31 October 2025, clear of holidays). For
 * example DOF: on time the high task of 27 June (3), the July and September occurrences of the monthly
 * report (2 + 2), the high task of 14 August (3); late the August occurrence (5 -> 8 August: 3 days, w 2)
 * and the asset inspection (30 September -> 3 October: 3 days, w 2); overdue the October occurrence
 * (due Monday 6 October: 19 days, w 2) and the 2024 accounts (due 15 October: 12 days, w 2). Due weight
 * 18, on time 10: 55.56 %; delay (2*3 + 2*3 + 2*19 + 2*12) / 18 = 74/18. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "demo/demo.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "testutil.h"

typedef struct expect {
  const char *agency;
  int64_t rank, items, done, on_time, overdue, cancelled;
  double w_ontime, w_due, w_delay; /* the hand-computed weights: rate = 100 w_ontime / w_due */
} expect;

static const expect EXPECTED[] = {
    /* PCO: four monthly occurrences (high, 3 each) done on time; November's not yet due */
    {"PCO", 1, 5, 4, 4, 0, 0, 12, 12, 0},
    /* PC_90001: the online-dossier target proved by data (high 3) and the clean-up done on time (2) */
    {"PC_90001", 1, 2, 2, 2, 0, 0, 5, 5, 0},
    /* POLICE: on time 3 + 4 + 3; late 12 -> 19 September (5 days, w 2); overdue since 30 October (1, w 1) */
    {"POLICE", 3, 5, 4, 3, 1, 0, 10, 13, 11},
    /* DOH: on time 3 + 2; late 19 -> 24 September (3, w 2); extended e-records open; one cancelled */
    {"DOH", 4, 5, 3, 2, 0, 1, 5, 7, 6},
    /* PC_90002: target by data (3); the market late 26 September -> 3 October (5, w 2) */
    {"PC_90002", 5, 2, 2, 1, 0, 0, 3, 5, 10},
    /* PC_90003: target by data (3); the dengue campaign overdue since 10 October (15, w 2) */
    {"PC_90003", 6, 2, 1, 1, 1, 0, 3, 5, 30},
    /* DAE: on time 4 + 2 (after an approved extension) + 3 occurrences of 1; late 30 September -> 8 October
     * (6, w 3); overdue after a rejected extension (15, w 2) and since 17 October (10, w 1) */
    {"DAE", 7, 9, 6, 5, 2, 0, 9, 15, 58},
    {"DOF", 8, 10, 6, 4, 2, 1, 10, 18, 74},
    /* DOET: on time 4 + 2; late 5 -> 10 September (3, w 3); overdue since 15 October (12, w 2) */
    {"DOET", 9, 5, 3, 2, 1, 0, 6, 11, 33},
    /* DOST: on time 4 + 2; late 15 -> 20 October (3, w 3); overdue since 29 October (2, w 2) and since
     * 1 October (22, w 2) */
    {"DOST", 10, 6, 3, 2, 2, 0, 6, 13, 57},
    /* DOIT: on time 2 + 2; late 26 September -> 1 October (3, w 2); overdue since 10 October (15, w 3)
     * and 30 October (1, w 1) */
    {"DOIT", 11, 6, 3, 2, 2, 0, 4, 10, 52},
    /* PC_90004: the 99.5 % target missed, overdue since 15 October (12, w 2); data update on time (1) */
    {"PC_90004", 12, 2, 1, 1, 1, 0, 1, 3, 24},
    /* DOC: on time 2 + 2; late 15 -> 19 September (4, w 3); overdue with an extension still pending
     * (15, w 3) and since 20 October (9, w 2); the ring road extended to 15 December, open */
    {"DOC", 13, 7, 3, 2, 2, 0, 4, 12, 75},
    /* PC_90005: the 99.5 % target missed (12, w 2); the other task due on the day itself, not overdue */
    {"PC_90005", 14, 2, 0, 0, 1, 0, 0, 2, 24},
};
#define N_EXPECTED (sizeof EXPECTED / sizeof *EXPECTED)

typedef struct fx {
  char *dir;
  db_store *s;
} fx;

static int setup(void **state) {
  fx *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  char *path = db_test_path(f->dir, "demo.db");
  char url[600];
  snprintf(url, sizeof url, "sqlite:%s", path);
  db_free(path);
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(url, &f->s, &d), 0);
  int rc = db_demo_load(f->s, NULL, NULL, NULL, &d, NULL);
  if (rc) fail_msg("demo: %s", db_test_problems(&d));
  db_diag_free(&d);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  db_store_close(f->s);
  db_test_rmtree(f->dir);
  db_free(f->dir);
  db_free(f);
  return 0;
}

static void test_demo_statistics_equal_the_hand_computation(void **state) {
  fx *f = *state;
  db_task *tasks;
  size_t n;
  assert_int_equal(db_tasks_load_all(f->s, &tasks, &n), 0);
  assert_int_equal(n, 62);
  int64_t day;
  assert_int_equal(db_parse_date("2025-10-31", 10, &day), 0);
  db_task_clock clk = {NULL, day};
  db_tasks_stat *st;
  size_t nr;
  assert_int_equal(db_tasks_stats(tasks, n, &clk, DB_TASKS_BY_AGENCY, &st, &nr), 0);
  assert_int_equal(nr, N_EXPECTED + 1);
  double w_ontime = 0, w_due = 0, w_delay = 0;
  int64_t items = 0;
  for (size_t i = 0; i < N_EXPECTED; i++) {
    const expect *e = &EXPECTED[i];
    const db_tasks_stat *s = &st[i];
    if (strcmp(s->key, e->agency) != 0) fail_msg("row %zu: %s, expected %s", i, s->key, e->agency);
    assert_int_equal(s->rank, e->rank);
    assert_int_equal(s->items, e->items);
    assert_int_equal(s->done, e->done);
    assert_int_equal(s->done_on_time, e->on_time);
    assert_int_equal(s->overdue, e->overdue);
    assert_int_equal(s->cancelled, e->cancelled);
    if (fabs(s->ontime_pct - 100 * e->w_ontime / e->w_due) > 1e-9)
      fail_msg("%s: on time %.6f, expected %.6f", e->agency, s->ontime_pct, 100 * e->w_ontime / e->w_due);
    if (fabs(s->avg_delay - e->w_delay / e->w_due) > 1e-9)
      fail_msg("%s: delay %.6f, expected %.6f", e->agency, s->avg_delay, e->w_delay / e->w_due);
    w_ontime += e->w_ontime, w_due += e->w_due, w_delay += e->w_delay, items += e->items;
  }
  /* the total: 78 of 131 on time (59.54 %), 454 / 131 working days late on average */
  const db_tasks_stat *t = &st[N_EXPECTED];
  assert_string_equal(t->key, "");
  assert_int_equal(t->items, items);
  assert_true(w_ontime == 78 && w_due == 131 && w_delay == 454);
  assert_true(fabs(t->ontime_pct - 100.0 * 78 / 131) < 1e-9);
  assert_true(fabs(t->avg_delay - 454.0 / 131) < 1e-9);
  assert_int_equal(t->achieved_by_data, 3);
  db_free(st);
  /* the three online-dossier targets were proved by the data of July 2025 */
  int proved = 0;
  for (size_t i = 0; i < n; i++)
    if (tasks[i].achieved_by_data) {
      proved++;
      assert_non_null(strstr(tasks[i].evidence, "\"period\":\"2025-07\""));
      assert_non_null(strstr(tasks[i].evidence, "\"evaluated\":\"2025-10-31\""));
    } else if (tasks[i].condition && strstr(tasks[i].condition, "99.5")) {
      assert_int_equal(tasks[i].condition_missed, 1);
    }
  assert_int_equal(proved, 3);
  db_tasks_free_all(tasks, n);
}

typedef struct find_obs {
  const char *dimkey;
  int64_t indicator;
  double value;
  int found;
} find_obs;

static int find_row(void *ctx, const db_obs_row *row) {
  find_obs *fo = ctx;
  if (row->indicator == fo->indicator && strcmp(row->dimkey, fo->dimkey) == 0) {
    fo->value = row->value;
    fo->found++;
  }
  return 0;
}

static void test_demo_statistics_are_indicators(void **state) {
  fx *f = *state;
  db_catalog cat;
  db_catalog_init(&cat);
  assert_int_equal(db_store_load_catalog(f->s, &cat), 0);
  const db_indicator *ind = db_catalog_indicator(&cat, "TASK_ONTIME_PCT");
  assert_non_null(ind);
  const db_orgunit *city = db_catalog_unit(&cat, "79");
  db_period p;
  assert_int_equal(db_period_parse("2025-10", 7, &p, NULL), 0);
  int64_t key = db_period_key(&p);
  db_obs_filter flt = {&ind->id, 1, &city->id, 1, key, key, 0};
  find_obs fo = {"AGENCY=DOF", ind->id, 0, 0};
  assert_int_equal(db_store_obs_read(f->s, &flt, find_row, &fo), 0);
  assert_int_equal(fo.found, 1);
  assert_true(fo.value == 55.6); /* 10 / 18, to one decimal */
  fo = (find_obs){"", ind->id, 0, 0};
  assert_int_equal(db_store_obs_read(f->s, &flt, find_row, &fo), 0);
  assert_int_equal(fo.found, 1);
  assert_true(fo.value == 59.5); /* the city: 78 / 131 */
  db_catalog_free(&cat);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demo_statistics_equal_the_hand_computation),
      cmocka_unit_test(test_demo_statistics_are_indicators),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
