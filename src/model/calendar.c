/* calendar.c - working days (calendar.h): the marked days in a sorted array, found by binary search.
 * Counting working days walks whole weeks arithmetically and corrects by the marked days in the range,
 * so a deadline a year away costs as little as one a week away. */
#include "model/calendar.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"

struct db_calendar {
  db_calendar_day *days; /* sorted by day, unique */
  size_t n, cap;
};

db_calendar *db_calendar_new(void) { return db_calloc(1, sizeof(db_calendar)); }

void db_calendar_free(db_calendar *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) db_free((char *)c->days[i].name);
  db_free(c->days);
  db_free(c);
}

const char *db_day_kind_name(db_day_kind k) { return k == DB_DAY_WORKDAY ? "workday" : "holiday"; }

int db_day_kind_parse(const char *s, size_t len, db_day_kind *out) {
  if (len == 7 && memcmp(s, "holiday", 7) == 0) *out = DB_DAY_HOLIDAY;
  else if (len == 7 && memcmp(s, "workday", 7) == 0) *out = DB_DAY_WORKDAY;
  else return DB_EINVAL;
  return DB_OK;
}

/* The index of the first marked day >= day (c->n when none). */
static size_t lower_bound(const db_calendar *c, int64_t day) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->days[mid].day < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void db_calendar_mark(db_calendar *c, int64_t day, db_day_kind kind, const char *name) {
  size_t at = lower_bound(c, day);
  if (at < c->n && c->days[at].day == day) {
    db_free((char *)c->days[at].name);
  } else {
    if (c->n == c->cap) {
      c->cap = c->cap ? 2 * c->cap : 32;
      c->days = db_realloc(c->days, c->cap * sizeof *c->days);
    }
    memmove(c->days + at + 1, c->days + at, (c->n - at) * sizeof *c->days);
    c->n++;
  }
  c->days[at] = (db_calendar_day){day, kind, name ? db_strdup(name) : NULL};
}

size_t db_calendar_days(const db_calendar *c, const db_calendar_day **out) {
  *out = c->days;
  return c->n;
}

int db_calendar_weekday(int64_t day) {
  int64_t r = (day + 3) % 7; /* 1970-01-01 was a Thursday */
  if (r < 0) r += 7;
  return (int)r + 1;
}

/* A working day by the week alone (no marks). */
static int weekday_works(int64_t day) { return db_calendar_weekday(day) <= 5; }

int db_calendar_is_working(const db_calendar *c, int64_t day) {
  size_t at = lower_bound(c, day);
  if (at < c->n && c->days[at].day == day) return c->days[at].kind == DB_DAY_WORKDAY;
  return weekday_works(day);
}

/* Weekdays Monday to Friday in (from, to], from <= to, by whole weeks then the remaining days. */
static int64_t weekdays_between(int64_t from, int64_t to) {
  int64_t span = to - from, count = span / 7 * 5;
  for (int64_t d = from + span / 7 * 7 + 1; d <= to; d++) count += weekday_works(d);
  return count;
}

int64_t db_calendar_count_working(const db_calendar *c, int64_t from, int64_t to) {
  if (to <= from) return 0;
  int64_t count = weekdays_between(from, to);
  for (size_t i = lower_bound(c, from + 1); i < c->n && c->days[i].day <= to; i++) {
    int by_week = weekday_works(c->days[i].day), marked = c->days[i].kind == DB_DAY_WORKDAY;
    count += marked - by_week;
  }
  return count;
}

int64_t db_calendar_add_working_days(const db_calendar *c, int64_t day, int n) {
  if (n <= 0) {
    while (!db_calendar_is_working(c, day)) day++;
    return day;
  }
  /* jump ahead by whole weeks holding fewer than n days (so fewer than n working days, marks included:
   * never past the answer), then step */
  int64_t d = day + (n - 1) / 7 * 7;
  int64_t have = db_calendar_count_working(c, day, d);
  while (have < n) {
    d++;
    have += db_calendar_is_working(c, d);
  }
  return d;
}
