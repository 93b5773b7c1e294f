/* test_calendar.c - working days (model/calendar.h) and the calendar's CSV and store round trip
 * (ingest/calendar_import.h): weekends, holidays, worked Saturdays, counting across Tết, deadlines "N
 * working days after", and every problem of a bad file listed with its line and column. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "ingest/calendar_import.h"
#include "model/calendar.h"
#include "model/period.h"
#include "testutil.h"

static int64_t day(const char *code) {
  db_period p;
  assert_int_equal(db_period_parse_as(code, strlen(code), DB_PT_DAY, 0, &p, NULL), 0);
  return p.ord;
}

static void assert_day(int64_t got, const char *want) {
  db_period p = {.type = DB_PT_DAY, .ord = got};
  char code[DB_PERIOD_CODE_MAX];
  db_period_format(&p, code);
  assert_string_equal(code, want);
}

/* The calendar of the repository's data/calendar/vn_holidays.csv. */
static db_calendar *vietnam(void) {
  char *path = db_test_path(getenv("DB_SOURCE_DIR"), "data/calendar/vn_holidays.csv");
  size_t len;
  char *text = db_test_read_file(path, &len);
  db_calendar *c = db_calendar_new();
  db_diag d = DB_DIAG_INIT;
  int rc = db_calendar_read_csv(c, text, len, path, &d);
  if (rc) db_diag_print(&d, stderr, "vn_holidays.csv");
  assert_int_equal(rc, 0);
  db_diag_free(&d);
  db_free(text);
  db_free(path);
  return c;
}

static void test_weekdays(void **state) {
  assert_int_equal(db_calendar_weekday(0), 4); /* 1970-01-01, a Thursday */
  assert_int_equal(db_calendar_weekday(day("2025-09-02")), 2);
  assert_int_equal(db_calendar_weekday(day("1969-12-28")), 7);
  db_calendar *c = db_calendar_new();
  assert_true(db_calendar_is_working(c, day("2025-07-04")));  /* Friday */
  assert_false(db_calendar_is_working(c, day("2025-07-05"))); /* Saturday */
  /* a week of plain weekdays: 5 working days in any 7 consecutive days */
  assert_int_equal(db_calendar_count_working(c, day("2025-07-01"), day("2025-07-08")), 5);
  assert_int_equal(db_calendar_count_working(c, day("2025-07-08"), day("2025-07-01")), 0);
  assert_day(db_calendar_add_working_days(c, day("2025-07-04"), 1), "2025-07-07");
  assert_day(db_calendar_add_working_days(c, day("2025-07-05"), 0), "2025-07-07");
  assert_day(db_calendar_add_working_days(c, day("2025-07-07"), 0), "2025-07-07");
  db_calendar_free(c);
}

static void test_vietnam_2025(void **state) {
  db_calendar *c = vietnam();
  /* January 2025 closes; "5 working days after the month ends" lands after Tết (27-31 January off) */
  assert_day(db_calendar_add_working_days(c, day("2025-01-31"), 5), "2025-02-07");
  /* April 2025: Hùng Kings' day on Monday 7 April; the report of March is due on 8 April */
  assert_day(db_calendar_add_working_days(c, day("2025-03-31"), 5), "2025-04-08");
  /* the Saturday worked for 2 May counts; 30 April to 2 May do not */
  assert_true(db_calendar_is_working(c, day("2025-04-26")));
  assert_false(db_calendar_is_working(c, day("2025-05-02")));
  assert_day(db_calendar_add_working_days(c, day("2025-04-25"), 1), "2025-04-26");
  /* (24 April, 6 May]: 25, 26 (worked Saturday), 28, 29 April, 5 and 6 May */
  assert_int_equal(db_calendar_count_working(c, day("2025-04-24"), day("2025-05-06")), 6);
  /* a year: 2025 has 261 weekdays, 12 weekday holidays and one worked Saturday */
  assert_int_equal(db_calendar_count_working(c, day("2024-12-31"), day("2025-12-31")), 261 - 12 + 1);
  /* a deadline a year of working days away agrees with stepping one day at a time */
  int64_t from = day("2024-01-01"), stepped = from;
  for (int k = 0; k < 500;) {
    stepped++;
    k += db_calendar_is_working(c, stepped);
  }
  assert_int_equal(db_calendar_add_working_days(c, from, 500), stepped);
  db_calendar_free(c);
}

static void test_bad_file(void **state) {
  static const char text[] = "date,kind,name,extra\n"
                             "2025-02-30,holiday,x,1\n";
  static const char text2[] = "date,kind\n"
                              "2025-02-30,holiday\n"
                              "2025-01-01,day off\n"
                              "2025-09-02,holiday\n"
                              "2025-09-02,workday\n";
  db_calendar *c = db_calendar_new();
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_calendar_read_csv(c, text, strlen(text), "a.csv", &d), DB_EINVAL);
  assert_problems(&d, "line 1, column 4, a.csv: unknown column 'extra' (the columns are date, kind, name)\n");
  db_diag_free(&d);
  assert_int_equal(db_calendar_read_csv(c, text2, strlen(text2), "b.csv", &d), DB_EINVAL);
  assert_problems(&d, "line 2, column 1, b.csv: date: 2025-02-30: February 2025 has 28 days\n"
                      "line 3, column 2, b.csv: kind: 'day off' is neither holiday nor workday\n"
                      "line 5, column 1, b.csv: date 2025-09-02 is already given on line 4\n");
  db_diag_free(&d);
  const db_calendar_day *days;
  assert_int_equal(db_calendar_days(c, &days), 0); /* nothing marked */
  db_calendar_free(c);
}

static void test_store_round_trip(void **state) {
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "cal.db");
  db_store *s;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(path, &s, &d), 0);
  db_calendar *c = vietnam(), *back = db_calendar_new();
  assert_int_equal(db_store_begin(s, 0), 0);
  assert_int_equal(db_calendar_save(s, c), 0);
  assert_int_equal(db_calendar_save(s, c), 0); /* again: upserted, not doubled */
  assert_int_equal(db_store_commit(s), 0);
  assert_int_equal(db_calendar_load(s, back), 0);
  const db_calendar_day *a, *b;
  size_t n = db_calendar_days(c, &a);
  assert_int_equal(db_calendar_days(back, &b), n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(a[i].day, b[i].day);
    assert_int_equal(a[i].kind, b[i].kind);
    assert_string_equal(a[i].name, b[i].name);
  }
  db_calendar_free(c);
  db_calendar_free(back);
  db_store_close(s);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_weekdays),
      cmocka_unit_test(test_vietnam_2025),
      cmocka_unit_test(test_bad_file),
      cmocka_unit_test(test_store_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
