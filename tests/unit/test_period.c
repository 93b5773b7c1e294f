/* test_period.c - period codes as users write them: parsing (with the exact reasons given for bad
 * codes), formatting, arithmetic across year ends, ISO weeks, nesting, instants in the city's time
 * zone, and the order-preserving keys the stores index by. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/err.h"
#include "base/text.h"
#include "model/period.h"

/* Parses a NUL-terminated code, asserting success. */
static db_period parse(const char *code) {
  db_period p;
  char why[128] = "";
  if (db_period_parse(code, strlen(code), &p, why) != DB_OK) fail_msg("%s: %s", code, why);
  return p;
}

/* The canonical code of p (static buffer, one at a time). */
static const char *fmt(db_period p) {
  static char out[DB_PERIOD_CODE_MAX];
  assert_true(db_period_format(&p, out) > 0);
  return out;
}

/* Asserts that parsing `code` fails with exactly `reason`. */
static void assert_rejected(const char *code, const char *reason) {
  db_period p;
  char why[128] = "";
  assert_int_equal(db_period_parse(code, strlen(code), &p, why), DB_EINVAL);
  if (strcmp(why, reason)) fail_msg("%s: got \"%s\", expected \"%s\"", code, why, reason);
}

static void assert_rejected_as(const char *code, db_period_type type, int span, const char *reason) {
  db_period p;
  char why[128] = "";
  assert_int_equal(db_period_parse_as(code, strlen(code), type, span, &p, why), DB_EINVAL);
  if (strcmp(why, reason)) fail_msg("%s: got \"%s\", expected \"%s\"", code, why, reason);
}

static const char *utc(int64_t ms) {
  static char out[25];
  db_format_time_ms(ms, out);
  return out;
}

static int64_t ms_of(const char *rfc3339) {
  int64_t ms;
  assert_int_equal(db_parse_time_ms(rfc3339, &ms), DB_OK);
  return ms;
}

static void test_every_type_round_trips(void **state) {
  static const struct {
    const char *code, *canonical;
    db_period_type type;
    int span;
    int64_t ord, key;
  } cases[] = {
      {"2025-07-14T13:05", "2025-07-14T13:05", DB_PT_MIN5, 0, 5841661, 100202507141305},
      {"2025-07-14T13:15", "2025-07-14T13:15", DB_PT_MIN15, 0, 1947221, 200202507141315},
      {"2025-07-14T13:00", "2025-07-14T13:00", DB_PT_HOUR, 0, 486805, 300202507141300},
      {"2025-07-14T13:00/PT5M", "2025-07-14T13:00", DB_PT_MIN5, 0, 5841660, 100202507141300},
      {"2025-07-14T13:30/PT15M", "2025-07-14T13:30", DB_PT_MIN15, 0, 1947222, 200202507141330},
      {"2025-07-14T13:00/PT1H", "2025-07-14T13:00", DB_PT_HOUR, 0, 486805, 300202507141300},
      {"2025-07-14", "2025-07-14", DB_PT_DAY, 0, 20283, 400000020250714},
      {"2025-W29", "2025-W29", DB_PT_WEEK, 0, 2898, 500000000202529},
      {"2025-07", "2025-07", DB_PT_MONTH, 0, 2025 * 12 + 6, 600000000202507},
      {"2025-Q3", "2025-Q3", DB_PT_QUARTER, 0, 2025 * 4 + 2, 700000000020253},
      {"2025-S1", "2025-S1", DB_PT_HALF, 0, 2025 * 2, 800000000020251},
      {"2025", "2025", DB_PT_YEAR, 0, 2025, 900000000002025},
      {"2021/P5Y", "2021/P5Y", DB_PT_MULTIYEAR, 5, 2021, 1005000000002021},
      {"2021/P10Y", "2021/P10Y", DB_PT_MULTIYEAR, 10, 2021, 1010000000002021},
      {"2021/P05Y", "2021/P5Y", DB_PT_MULTIYEAR, 5, 2021, 1005000000002021},
      {"1970-01-01T00:00", "1970-01-01T00:00", DB_PT_HOUR, 0, 0, 300197001010000},
      {"1970-W01", "1970-W01", DB_PT_WEEK, 0, 0, 500000000197001},
      {"1969-12-31", "1969-12-31", DB_PT_DAY, 0, -1, 400000019691231},
      {"0001-01-01T00:05", "0001-01-01T00:05", DB_PT_MIN5, 0, -719162 * 288 + 1, 100000101010005},
      {"9999-12-31T23:55", "9999-12-31T23:55", DB_PT_MIN5, 0, 2932897 * 288 - 1, 100999912312355},
      {"0001-W01", "0001-W01", DB_PT_WEEK, 0, -102737, 500000000000101},
      {"9999-W52", "9999-W52", DB_PT_WEEK, 0, 418985, 500000000999952},
      {"0001-01", "0001-01", DB_PT_MONTH, 0, 12, 600000000000101},
      {"9950/P50Y", "9950/P50Y", DB_PT_MULTIYEAR, 50, 9950, 1050000000009950},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    db_period p = parse(cases[i].code), back;
    assert_int_equal(p.type, cases[i].type);
    assert_int_equal(p.span, cases[i].span);
    assert_int_equal(p.ord, cases[i].ord);
    char out[DB_PERIOD_CODE_MAX];
    assert_int_equal(db_period_format(&p, out), strlen(cases[i].canonical));
    assert_string_equal(out, cases[i].canonical);
    assert_int_equal(db_period_key(&p), cases[i].key);
    assert_int_equal(db_period_from_key(cases[i].key, &back), DB_OK);
    assert_memory_equal(&back, &p, sizeof p);
    assert_int_equal(db_period_parse_as(cases[i].code, strlen(cases[i].code), p.type, 0, &back, NULL), DB_OK);
    assert_memory_equal(&back, &p, sizeof p);
  }
}

static void test_parse_as_takes_the_indicator_periodicity(void **state) {
  static const char hour[] = "2025-07-14T13:00", half_hour[] = "2025-07-14T13:30";
  db_period p;
  assert_int_equal(db_period_parse_as(hour, strlen(hour), DB_PT_MIN5, 0, &p, NULL), DB_OK);
  assert_int_equal(p.type, DB_PT_MIN5);
  assert_int_equal(p.ord, 5841660);
  assert_int_equal(db_period_parse_as(hour, strlen(hour), DB_PT_MIN15, 0, &p, NULL), DB_OK);
  assert_int_equal(p.type, DB_PT_MIN15);
  assert_int_equal(p.ord, 1947220);
  assert_int_equal(db_period_parse_as(half_hour, strlen(half_hour), DB_PT_MIN5, 0, &p, NULL), DB_OK);
  assert_string_equal(fmt(p), "2025-07-14T13:30");
  assert_int_equal(db_period_parse_as("2021/P5Y", 8, DB_PT_MULTIYEAR, 5, &p, NULL), DB_OK);
  assert_int_equal(p.span, 5);
  assert_int_equal(db_period_parse_as("2025-07", 7, DB_PT_MONTH, 5, &p, NULL), DB_OK); /* span ignored */
}

static void test_errors_say_exactly_why(void **state) {
  static const struct {
    const char *code, *reason;
  } cases[] = {
      {"", "empty period code"},
      {"25-07", "expected a 4-digit year at the start"},
      {"0000", "year 0000 out of range 0001..9999"},
      {"0000-01-01", "year 0000 out of range 0001..9999"},
      {"2025-13", "month 13 out of range 01..12"},
      {"2025-00", "month 00 out of range 01..12"},
      {"2025-7", "expected a 2-digit month, or W, Q or S, after the year"},
      {"2025-", "expected a 2-digit month, or W, Q or S, after the year"},
      {"2025-02-30", "2025-02-30: February 2025 has 28 days"},
      {"2025-04-31", "2025-04-31: April 2025 has 30 days"},
      {"2025-12-32", "day 32 out of range 01..31"},
      {"2025-12-00", "day 00 out of range 01..31"},
      {"2025-07-1", "expected a 2-digit day"},
      {"2025-W53", "2025-W53: 2025 has 52 ISO weeks"},
      {"2025-W00", "week 00 out of range 01..53"},
      {"2025-W54", "week 54 out of range 01..53"},
      {"2025-W1", "expected a 2-digit number after 'W'"},
      {"2025-Q5", "quarter 5 out of range 1..4"},
      {"2025-Q0", "quarter 0 out of range 1..4"},
      {"2025-Q", "expected a 1-digit number after 'Q'"},
      {"2025-S3", "half-year 3 out of range 1..2"},
      {"2025-07-14T13:07", "minute 07 is not a multiple of 5"},
      {"2025-07-14T13:60", "minute 60 out of range 00..59"},
      {"2025-07-14T24:00", "hour 24 out of range 00..23"},
      {"2025-07-14T1", "expected a 2-digit hour after 'T'"},
      {"2025-07-14T13", "expected ':' after the hour"},
      {"2025-07-14T13h00", "expected ':' after the hour"},
      {"2025-07-14T13:0", "expected a 2-digit minute"},
      {"2025-07-14T13:05/PT15M", "minute 05 is not a multiple of 15"},
      {"2025-07-14T13:15/PT1H", "minute 15 is not a multiple of 60"},
      {"2025-07-14T13:00/PT2M", "unknown duration after '/' (expected PT5M, PT15M or PT1H)"},
      {"2025-07-14T13:00/", "unknown duration after '/' (expected PT5M, PT15M or PT1H)"},
      {"2025-07x", "unexpected text after the period code"},
      {"2025-07-14 ", "unexpected text after the period code"},
      {"2025-Q34", "unexpected text after the period code"},
      {"2025x", "unexpected text after the period code"},
      {"20255", "unexpected text after the period code"},
      {"2025-07/PT5M", "unexpected text after the period code"},
      {"2021/P5Y ", "unexpected text after the period code"},
      {"2021/P1Y", "plan length 1 out of range 2..50"},
      {"2021/P51Y", "plan length 51 out of range 2..50"},
      {"2021/", "expected a plan length like /P5Y after the year"},
      {"2021/P", "expected a plan length like /P5Y after the year"},
      {"2021/5Y", "expected a plan length like /P5Y after the year"},
      {"2021/PY", "expected a plan length like /P5Y after the year"},
      {"2021/P5", "expected a plan length like /P5Y after the year"},
      {"2021/P100Y", "expected a plan length like /P5Y after the year"},
      {"9998/P5Y", "9998/P5Y ends after 9999"},
      {"2025-q3", "expected a 2-digit month, or W, Q or S, after the year"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) assert_rejected(cases[i].code, cases[i].reason);
}

static void test_parse_as_refuses_other_types(void **state) {
  assert_rejected_as("2025-Q3", DB_PT_MONTH, 0, "2025-Q3 is a quarter, expected a month");
  assert_rejected_as("2025-07-14", DB_PT_HOUR, 0, "2025-07-14 is a day, expected an hour");
  assert_rejected_as("2025", DB_PT_MULTIYEAR, 0, "2025 is a year, expected a multi-year plan");
  assert_rejected_as("2021/P5Y", DB_PT_YEAR, 0, "2021/P5Y is a multi-year plan, expected a year");
  assert_rejected_as("2025-07-14T13:00/PT1H", DB_PT_MIN5, 0,
                     "2025-07-14T13:00/PT1H is an hour, expected a 5-minute period");
  assert_rejected_as("2025-07-14T13:05", DB_PT_HOUR, 0, "minute 05 is not a multiple of 60");
  assert_rejected_as("2025-07-14T13:05", DB_PT_MIN15, 0, "minute 05 is not a multiple of 15");
  assert_rejected_as("2025-07-14T13:00", DB_PT_DAY, 0, "2025-07-14T13:00 is an hour, expected a day");
  assert_rejected_as("2021/P10Y", DB_PT_MULTIYEAR, 5, "2021/P10Y is a 10-year plan, expected a 5-year plan");
  assert_rejected_as("2021/P5Y", DB_PT_MULTIYEAR, 1, "plan length 1 out of range 2..50");
  assert_rejected_as("2025-07", (db_period_type)0, 0, "unknown period type 0");
  assert_rejected_as("2025-07", (db_period_type)11, 0, "unknown period type 11");
  assert_rejected_as("2025-13", DB_PT_MONTH, 0, "month 13 out of range 01..12");
  /* why may be NULL */
  db_period p;
  assert_int_equal(db_period_parse("2025-13", 7, &p, NULL), DB_EINVAL);
  assert_int_equal(db_period_parse_as("2025-Q3", 7, DB_PT_MONTH, 0, &p, NULL), DB_EINVAL);
}

static void test_never_reads_past_len(void **state) {
  /* The code sits in a larger buffer with no NUL after it: only len bytes count. */
  static const char row[] = "2025-07-14T13:05,PM25,12.5";
  db_period p;
  assert_int_equal(db_period_parse(row, 7, &p, NULL), DB_OK);
  assert_string_equal(fmt(p), "2025-07");
  assert_int_equal(db_period_parse(row, 10, &p, NULL), DB_OK);
  assert_string_equal(fmt(p), "2025-07-14");
  assert_int_equal(db_period_parse(row, 16, &p, NULL), DB_OK);
  assert_int_equal(p.type, DB_PT_MIN5);
  assert_rejected_as("2025-07-14T13:05,", DB_PT_MIN5, 0, "unexpected text after the period code");
  /* Heap copies without a terminator, so ASan catches any over-read. */
  static const char *const codes[] = {"2021/P", "2021/P5", "2025-W", "2025-07-14T13:00/PT1", "2025-"};
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
    size_t n = strlen(codes[i]);
    char *copy = malloc(n);
    memcpy(copy, codes[i], n);
    assert_int_equal(db_period_parse(copy, n, &p, NULL), DB_EINVAL);
    free(copy);
  }
}

static void test_leap_years(void **state) {
  assert_string_equal(fmt(parse("2024-02-29")), "2024-02-29");
  assert_string_equal(fmt(parse("2000-02-29")), "2000-02-29");
  assert_rejected("2025-02-29", "2025-02-29: February 2025 has 28 days");
  assert_rejected("1900-02-29", "1900-02-29: February 1900 has 28 days");
  assert_rejected("2024-02-30", "2024-02-30: February 2024 has 29 days");
  db_period feb = parse("2024-02"), days[31];
  assert_int_equal(db_period_subperiods(&feb, DB_PT_DAY, days, 31), 29);
  assert_string_equal(fmt(days[28]), "2024-02-29");
  feb = parse("2025-02");
  assert_int_equal(db_period_subperiods(&feb, DB_PT_DAY, days, 31), 28);
  db_period d = parse("2024-02-28");
  assert_string_equal(fmt(db_period_add(&d, 1)), "2024-02-29");
  d = parse("2025-02-28");
  assert_string_equal(fmt(db_period_add(&d, 1)), "2025-03-01");
}

static void test_iso_weeks_at_year_edges(void **state) {
  assert_string_equal(fmt(parse("2020-W53")), "2020-W53");
  assert_string_equal(fmt(parse("2015-W53")), "2015-W53");
  assert_string_equal(fmt(parse("2026-W53")), "2026-W53");
  assert_rejected("2021-W53", "2021-W53: 2021 has 52 ISO weeks");
  assert_rejected("2019-W53", "2019-W53: 2019 has 52 ISO weeks");

  static const struct {
    const char *day, *week;
  } days[] = {
      {"2024-12-30", "2025-W01"}, {"2024-12-29", "2024-W52"}, {"2021-01-03", "2020-W53"},
      {"2021-01-04", "2021-W01"}, {"2025-07-14", "2025-W29"}, {"2026-12-31", "2026-W53"},
      {"2027-01-03", "2026-W53"}, {"0001-01-01", "0001-W01"}, {"9999-12-31", "9999-W52"},
  };
  for (size_t i = 0; i < sizeof days / sizeof *days; i++) {
    db_period d = parse(days[i].day), w;
    assert_int_equal(db_period_containing(&d, DB_PT_WEEK, 0, &w), DB_OK);
    assert_string_equal(fmt(w), days[i].week);
  }

  /* A week belongs to its ISO year, and to no month. */
  db_period w = parse("2025-W01"), y, dd[7];
  assert_int_equal(db_period_containing(&w, DB_PT_YEAR, 0, &y), DB_OK);
  assert_string_equal(fmt(y), "2025");
  w = parse("2020-W53");
  assert_int_equal(db_period_containing(&w, DB_PT_YEAR, 0, &y), DB_OK);
  assert_string_equal(fmt(y), "2020");
  assert_int_equal(db_period_containing(&w, DB_PT_MULTIYEAR, 5, &y), DB_OK);
  assert_string_equal(fmt(y), "2016/P5Y");
  w = parse("2025-W02"); /* wholly inside January, still refused */
  assert_int_equal(db_period_containing(&w, DB_PT_MONTH, 0, &y), DB_EINVAL);
  assert_int_equal(db_period_containing(&w, DB_PT_QUARTER, 0, &y), DB_EINVAL);
  assert_int_equal(db_period_containing(&w, DB_PT_HALF, 0, &y), DB_EINVAL);

  w = parse("2025-W01");
  assert_int_equal(db_period_subperiods(&w, DB_PT_DAY, dd, 7), 7);
  assert_string_equal(fmt(dd[0]), "2024-12-30");
  assert_string_equal(fmt(dd[6]), "2025-01-05");
  assert_string_equal(utc(db_period_start_ms(&w)), "2024-12-29T17:00:00.000Z");

  db_period weeks[53], year = parse("2026");
  assert_int_equal(db_period_subperiods(&year, DB_PT_WEEK, weeks, 53), 53);
  assert_string_equal(fmt(weeks[0]), "2026-W01");
  assert_string_equal(fmt(weeks[52]), "2026-W53");
  year = parse("2025");
  assert_int_equal(db_period_subperiods(&year, DB_PT_WEEK, weeks, 53), 52);
  assert_string_equal(fmt(weeks[0]), "2025-W01");
  assert_string_equal(fmt(weeks[51]), "2025-W52");
  db_period plan = parse("2021/P5Y");
  assert_int_equal(db_period_subperiods(&plan, DB_PT_WEEK, NULL, 0), 52 * 5);
  db_period month = parse("2025-07");
  assert_int_equal(db_period_subperiods(&month, DB_PT_WEEK, weeks, 53), DB_EINVAL);
}

static void test_next_prev_lag_across_year_ends(void **state) {
  static const struct {
    const char *from;
    int64_t n;
    const char *to;
  } cases[] = {
      {"2025-12", 1, "2026-01"},
      {"2026-01", -1, "2025-12"},
      {"2025-07", -12, "2024-07"},
      {"2025-07", 18, "2027-01"},
      {"2025-12-31", 1, "2026-01-01"},
      {"2025-01-01", -1, "2024-12-31"},
      {"2025-12-31T23:55", 1, "2026-01-01T00:00"},
      {"2025-12-31T23:45/PT15M", 1, "2026-01-01T00:00"},
      {"2025-12-31T23:00", 1, "2026-01-01T00:00"},
      {"2026-01-01T00:00", -1, "2025-12-31T23:00"},
      {"2025-W52", 1, "2026-W01"},
      {"2020-W53", 1, "2021-W01"},
      {"2021-W01", -1, "2020-W53"},
      {"2025-W29", -52, "2024-W29"},
      {"2025-Q4", 1, "2026-Q1"},
      {"2025-Q1", -1, "2024-Q4"},
      {"2025-S2", 1, "2026-S1"},
      {"2025-S1", -1, "2024-S2"},
      {"2025", -1, "2024"},
      {"2021/P5Y", 1, "2026/P5Y"},
      {"2021/P5Y", -1, "2016/P5Y"},
      {"2025-07", 0, "2025-07"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    db_period from = parse(cases[i].from), to = db_period_add(&from, cases[i].n);
    assert_string_equal(fmt(to), cases[i].to);
    assert_int_equal(db_period_diff(&from, &to), cases[i].n);
  }
  db_period a = parse("2021/P5Y"), b = parse("2031/P5Y"), q = parse("2025-Q3"), m = parse("2025-07");
  assert_int_equal(db_period_diff(&a, &b), 2);
  assert_int_equal(db_period_diff(&q, &m), 0); /* different types */
  /* Off the calendar: still defined, but invalid. */
  db_period far = db_period_add(&m, INT64_MAX), last = parse("9999-12");
  char out[DB_PERIOD_CODE_MAX];
  assert_int_equal(db_period_format(&far, out), DB_EINVAL);
  assert_string_equal(out, "");
  assert_int_equal(db_period_key(&far), 0);
  assert_int_equal(db_period_start_ms(&far), INT64_MIN);
  far = db_period_add(&last, 1);
  assert_int_equal(db_period_key(&far), 0);
  assert_true(db_period_compare(&last, &far) < 0);
  far = db_period_add(&a, INT64_MIN);
  assert_int_equal(db_period_key(&far), 0);
}

static void test_containing(void **state) {
  static const struct {
    const char *code;
    db_period_type type;
    int span;
    const char *expect; /* NULL: does not nest */
  } cases[] = {
      {"2025-07", DB_PT_QUARTER, 0, "2025-Q3"},
      {"2025-07", DB_PT_HALF, 0, "2025-S2"},
      {"2025-07", DB_PT_YEAR, 0, "2025"},
      {"2025-07", DB_PT_MULTIYEAR, 5, "2021/P5Y"},
      {"2025-07", DB_PT_MONTH, 0, "2025-07"},
      {"2025-Q3", DB_PT_HALF, 0, "2025-S2"},
      {"2025-S1", DB_PT_YEAR, 0, "2025"},
      {"2023", DB_PT_MULTIYEAR, 5, "2021/P5Y"},
      {"2026", DB_PT_MULTIYEAR, 5, "2026/P5Y"},
      {"2020", DB_PT_MULTIYEAR, 5, "2016/P5Y"},
      {"2030", DB_PT_MULTIYEAR, 10, "2021/P10Y"},
      {"2021/P5Y", DB_PT_MULTIYEAR, 10, "2021/P10Y"},
      {"2026/P5Y", DB_PT_MULTIYEAR, 10, "2021/P10Y"},
      {"2021/P5Y", DB_PT_MULTIYEAR, 5, "2021/P5Y"},
      {"2026/P5Y", DB_PT_MULTIYEAR, 3, NULL},
      {"2025", DB_PT_MULTIYEAR, 0, NULL},
      {"2025", DB_PT_MULTIYEAR, 51, NULL},
      {"2025-07-14T13:05", DB_PT_MIN15, 0, "2025-07-14T13:00"},
      {"2025-07-14T13:50", DB_PT_HOUR, 0, "2025-07-14T13:00"},
      {"2025-07-14T23:55", DB_PT_DAY, 0, "2025-07-14"},
      {"2025-07-14T13:05", DB_PT_WEEK, 0, "2025-W29"},
      {"2025-07-14T13:05", DB_PT_MONTH, 0, "2025-07"},
      {"2025-12-31T23:55", DB_PT_YEAR, 0, "2025"},
      {"2024-12-30", DB_PT_YEAR, 0, "2024"},
      {"2025-07-14", DB_PT_QUARTER, 0, "2025-Q3"},
      {"2025-07", DB_PT_DAY, 0, NULL},
      {"2025", DB_PT_MONTH, 0, NULL},
      {"9999-12-31", DB_PT_MULTIYEAR, 5, NULL},
      {"2025-07", (db_period_type)11, 0, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    db_period p = parse(cases[i].code), c;
    int rc = db_period_containing(&p, cases[i].type, cases[i].span, &c);
    if (!cases[i].expect) {
      assert_int_equal(rc, DB_EINVAL);
      continue;
    }
    assert_int_equal(rc, DB_OK);
    assert_string_equal(fmt(c), cases[i].expect);
  }
}

static void test_subperiods(void **state) {
  db_period out[400];
  db_period q = parse("2025-Q3");
  assert_int_equal(db_period_subperiods(&q, DB_PT_MONTH, out, 400), 3);
  assert_string_equal(fmt(out[0]), "2025-07");
  assert_string_equal(fmt(out[1]), "2025-08");
  assert_string_equal(fmt(out[2]), "2025-09");
  assert_int_equal(db_period_subperiods(&q, DB_PT_DAY, out, 400), 92);
  assert_string_equal(fmt(out[91]), "2025-09-30");

  db_period y = parse("2025");
  assert_int_equal(db_period_subperiods(&y, DB_PT_QUARTER, out, 400), 4);
  assert_string_equal(fmt(out[3]), "2025-Q4");
  assert_int_equal(db_period_subperiods(&y, DB_PT_HALF, out, 400), 2);
  assert_int_equal(db_period_subperiods(&y, DB_PT_DAY, out, 400), 365);
  assert_int_equal(db_period_subperiods(&y, DB_PT_MIN5, NULL, 0), 365 * 288);

  db_period plan = parse("2021/P5Y"), inner = parse("2023");
  assert_int_equal(db_period_subperiods(&plan, DB_PT_YEAR, out, 400), 5);
  assert_string_equal(fmt(out[0]), "2021");
  assert_string_equal(fmt(out[4]), "2025");
  int found = 0;
  for (int i = 0; i < 5; i++) found += db_period_compare(&out[i], &inner) == 0;
  assert_int_equal(found, 1);
  assert_int_equal(db_period_subperiods(&plan, DB_PT_MONTH, NULL, 0), 60);

  /* Fewer slots than periods: the count is still the total. */
  db_period d = parse("2025-07-14");
  assert_int_equal(db_period_subperiods(&d, DB_PT_MIN5, out, 2), 288);
  assert_string_equal(fmt(out[0]), "2025-07-14T00:00");
  assert_string_equal(fmt(out[1]), "2025-07-14T00:05");
  assert_int_equal(db_period_subperiods(&d, DB_PT_HOUR, out, 400), 24);
  assert_string_equal(fmt(out[23]), "2025-07-14T23:00");
  db_period h = parse("2025-07-14T13:00");
  assert_int_equal(db_period_subperiods(&h, DB_PT_MIN15, out, 400), 4);
  assert_string_equal(fmt(out[3]), "2025-07-14T13:45");
  assert_int_equal(db_period_subperiods(&h, DB_PT_HOUR, out, 400), 1); /* itself */
  assert_int_equal(db_period_compare(&out[0], &h), 0);

  db_period m = parse("2025-07");
  assert_int_equal(db_period_subperiods(&m, DB_PT_YEAR, out, 400), DB_EINVAL);
  assert_int_equal(db_period_subperiods(&y, DB_PT_MULTIYEAR, out, 400), DB_EINVAL);
  assert_int_equal(db_period_subperiods(&m, (db_period_type)0, out, 400), DB_EINVAL);
  /* 9999-W52 runs into 10000-01-01, a day that cannot be written. */
  db_period w = parse("9999-W52");
  assert_int_equal(db_period_subperiods(&w, DB_PT_DAY, out, 400), DB_EINVAL);
}

static void test_instants_in_city_time(void **state) {
  static const struct {
    const char *code, *start, *end;
  } cases[] = {
      {"2025-07", "2025-06-30T17:00:00.000Z", "2025-07-31T17:00:00.000Z"},
      {"2025-07-14", "2025-07-13T17:00:00.000Z", "2025-07-14T17:00:00.000Z"},
      {"2025-07-14T13:05", "2025-07-14T06:05:00.000Z", "2025-07-14T06:10:00.000Z"},
      {"2025-07-14T13:15", "2025-07-14T06:15:00.000Z", "2025-07-14T06:30:00.000Z"},
      {"2025-07-14T13:00", "2025-07-14T06:00:00.000Z", "2025-07-14T07:00:00.000Z"},
      {"2025-W29", "2025-07-13T17:00:00.000Z", "2025-07-20T17:00:00.000Z"},
      {"2025-Q3", "2025-06-30T17:00:00.000Z", "2025-09-30T17:00:00.000Z"},
      {"2025-S1", "2024-12-31T17:00:00.000Z", "2025-06-30T17:00:00.000Z"},
      {"2025", "2024-12-31T17:00:00.000Z", "2025-12-31T17:00:00.000Z"},
      {"2021/P5Y", "2020-12-31T17:00:00.000Z", "2025-12-31T17:00:00.000Z"},
      {"1970-01-01", "1969-12-31T17:00:00.000Z", "1970-01-01T17:00:00.000Z"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    db_period p = parse(cases[i].code);
    assert_string_equal(utc(db_period_start_ms(&p)), cases[i].start);
    assert_string_equal(utc(db_period_end_ms(&p)), cases[i].end);
  }
  db_period first = parse("0001-01-01T00:00"), last = parse("9999-12-31");
  assert_int_equal(db_period_start_ms(&first), -62135596800000 - 7 * 3600000);
  assert_int_equal(db_period_end_ms(&last), 253402300800000 - 7 * 3600000);
}

static void test_period_at(void **state) {
  static const struct {
    db_period_type type;
    int span;
    const char *instant, *expect;
  } cases[] = {
      {DB_PT_MONTH, 0, "2025-06-30T17:00:00Z", "2025-07"},
      {DB_PT_MONTH, 0, "2025-06-30T16:59:59.999Z", "2025-06"},
      {DB_PT_HOUR, 0, "2025-07-14T06:30:00Z", "2025-07-14T13:00"},
      {DB_PT_MIN5, 0, "2025-07-14T13:09:59+07:00", "2025-07-14T13:05"},
      {DB_PT_MIN15, 0, "2025-07-14T13:44:00+07:00", "2025-07-14T13:30"},
      {DB_PT_DAY, 0, "1969-12-31T17:00:00Z", "1970-01-01"},
      {DB_PT_DAY, 0, "1969-12-31T16:59:59.999Z", "1969-12-31"},
      {DB_PT_WEEK, 0, "2024-12-30T00:00:00+07:00", "2025-W01"},
      {DB_PT_QUARTER, 0, "2025-09-30T16:59:59Z", "2025-Q3"},
      {DB_PT_HALF, 0, "2025-07-01T00:00:00+07:00", "2025-S2"},
      {DB_PT_YEAR, 0, "2024-12-31T17:00:00Z", "2025"},
      {DB_PT_MULTIYEAR, 5, "2027-03-01T00:00:00Z", "2026/P5Y"},
      {DB_PT_MULTIYEAR, 5, "2025-12-31T16:59:59Z", "2021/P5Y"},
      {DB_PT_MULTIYEAR, 5, "1000-06-01T00:00:00Z", "0996/P5Y"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    db_period p = db_period_at(cases[i].type, cases[i].span, ms_of(cases[i].instant));
    assert_string_equal(fmt(p), cases[i].expect);
  }
  db_period bad = db_period_at(DB_PT_MULTIYEAR, 0, 0);
  assert_int_equal(db_period_key(&bad), 0);
  bad = db_period_at((db_period_type)42, 0, 0);
  assert_int_equal(db_period_key(&bad), 0);
  bad = db_period_at(DB_PT_MIN5, 0, INT64_MIN); /* far off the calendar, but defined */
  assert_int_equal(db_period_key(&bad), 0);
  bad = db_period_at(DB_PT_YEAR, 0, INT64_MAX);
  assert_int_equal(db_period_key(&bad), 0);
}

static void test_compare(void **state) {
  db_period y = parse("2025"), jan = parse("2025-01"), dec = parse("2024-12"), jul = parse("2025-07");
  assert_true(db_period_compare(&y, &jan) > 0); /* a year sorts after its first month */
  assert_true(db_period_compare(&jan, &y) < 0);
  assert_true(db_period_compare(&dec, &y) < 0);
  assert_true(db_period_compare(&jul, &y) > 0);
  assert_int_equal(db_period_compare(&jul, &jul), 0);
  db_period h = parse("2025-07-14T13:00"), m5 = parse("2025-07-14T13:00/PT5M");
  assert_true(db_period_compare(&m5, &h) < 0);
  db_period plan = parse("2021/P5Y"), y21 = parse("2021");
  assert_true(db_period_compare(&y21, &plan) < 0);
}

static int cmp_key(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Keys of one type and span sort like the periods; random periods over the whole calendar. */
static void test_keys_sort_like_periods(void **state) {
  enum { N = 300 };
  static const struct {
    db_period_type type;
    int span;
  } kinds[] = {{DB_PT_MIN5, 0}, {DB_PT_MIN15, 0},     {DB_PT_HOUR, 0},      {DB_PT_DAY, 0},
               {DB_PT_WEEK, 0}, {DB_PT_MONTH, 0},     {DB_PT_QUARTER, 0},   {DB_PT_HALF, 0},
               {DB_PT_YEAR, 0}, {DB_PT_MULTIYEAR, 5}, {DB_PT_MULTIYEAR, 50}};
  db_period first = parse("0100-01-01"), last = parse("9800-12-31"); /* plans of 50 fit */
  int64_t lo = db_period_start_ms(&first), range = db_period_end_ms(&last) - lo;
  uint64_t seed = 0x9E3779B97F4A7C15u;
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
    db_period ps[N];
    int64_t keys[N];
    for (int i = 0; i < N; i++) {
      seed = seed * 6364136223846793005u + 1442695040888963407u;
      /* Half the sample near 2025, so that neighbours with close keys are compared too. */
      int64_t ms = i % 2 ? lo + (int64_t)((seed >> 11) % (uint64_t)range)
                         : ms_of("2025-01-01T00:00:00Z") + (int64_t)((seed >> 11) % 40000000000u);
      ps[i] = db_period_at(kinds[k].type, kinds[k].span, ms);
      keys[i] = db_period_key(&ps[i]);
      assert_true(keys[i] > 0);
      db_period back;
      assert_int_equal(db_period_from_key(keys[i], &back), DB_OK);
      assert_memory_equal(&back, &ps[i], sizeof back);
    }
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        int by_key = cmp_key(&keys[i], &keys[j]), by_period = db_period_compare(&ps[i], &ps[j]);
        assert_int_equal(by_key, (by_period > 0) - (by_period < 0));
      }
    qsort(keys, N, sizeof *keys, cmp_key);
    for (int i = 1; i < N; i++) {
      db_period a, b;
      assert_int_equal(db_period_from_key(keys[i - 1], &a), DB_OK);
      assert_int_equal(db_period_from_key(keys[i], &b), DB_OK);
      assert_true(db_period_compare(&a, &b) <= 0);
    }
  }
}

static void test_bad_keys(void **state) {
  static const int64_t bad[] = {
      0,
      -1,
      INT64_MAX,
      INT64_MIN,
      600000000202513,  /* month 13 */
      600000001202507,  /* a fifth year digit */
      601000000202507,  /* a span on a month */
      100202507141307,  /* minute 07 */
      200202507141305,  /* 15-minute at :05 */
      300202507141315,  /* hour at :15 */
      400000020250230,  /* 30 February */
      500000000202553,  /* 2025-W53 */
      900000000000000,  /* year 0 */
      1001000000002021, /* a 1-year plan */
      1005000000009998, /* a plan past 9999 */
      1100000000002025, /* type 11 */
      1000000000000,    /* type 0 */
  };
  db_period p;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (db_period_from_key(bad[i], &p) != DB_EINVAL) fail_msg("key %lld accepted", (long long)bad[i]);
}

static void test_type_names(void **state) {
  static const char *const names[] = {"5min",  "15min",   "hour", "day",  "week",
                                      "month", "quarter", "half", "year", "multiyear"};
  static const char *const durations[] = {"PT5M", "PT15M", "PT1H", "P1D", "P1W", "P1M", "P3M", "P6M", "P1Y"};
  db_period_type t;
  for (int i = 0; i < DB_PERIOD_TYPE_COUNT; i++) {
    assert_string_equal(db_period_type_name((db_period_type)(i + 1)), names[i]);
    assert_int_equal(db_period_type_parse(names[i], &t), DB_OK);
    assert_int_equal(t, i + 1);
    if (i < 9) {
      assert_int_equal(db_period_type_parse(durations[i], &t), DB_OK);
      assert_int_equal(t, i + 1);
    }
  }
  assert_string_equal(db_period_type_name((db_period_type)0), "unknown");
  assert_int_equal(db_period_type_parse("monthly", &t), DB_EINVAL);
  assert_int_equal(db_period_type_parse("", &t), DB_EINVAL);
  assert_int_equal(db_period_type_parse(NULL, &t), DB_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_type_round_trips),
      cmocka_unit_test(test_parse_as_takes_the_indicator_periodicity),
      cmocka_unit_test(test_errors_say_exactly_why),
      cmocka_unit_test(test_parse_as_refuses_other_types),
      cmocka_unit_test(test_never_reads_past_len),
      cmocka_unit_test(test_leap_years),
      cmocka_unit_test(test_iso_weeks_at_year_edges),
      cmocka_unit_test(test_next_prev_lag_across_year_ends),
      cmocka_unit_test(test_containing),
      cmocka_unit_test(test_subperiods),
      cmocka_unit_test(test_instants_in_city_time),
      cmocka_unit_test(test_period_at),
      cmocka_unit_test(test_compare),
      cmocka_unit_test(test_keys_sort_like_periods),
      cmocka_unit_test(test_bad_keys),
      cmocka_unit_test(test_type_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
