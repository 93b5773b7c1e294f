/* calendar.h - working days: the weekly rest days and the public holidays of the city's agencies, for
 * deadlines counted in working days ("5 working days after the month ends") and recurring tasks.
 *
 * A day is an ordinal: days since 1970-01-01 (the ord of a db_period of type DB_PT_DAY). A day is a
 * working day when it is not a rest day of the week (Saturday and Sunday, as for Vietnam's state
 * agencies) and not a holiday, unless the calendar marks it a working day (the Saturday worked to bridge
 * a holiday, as the Government's yearly schedule does). Holidays are data, not code: the Government
 * announces each year's schedule (Tết and the Hùng Kings' day follow the lunar calendar; days off are
 * moved when a holiday falls on a rest day), so a calendar is filled from data: a CSV file read by
 * ingest/calendar_import.h (data/calendar/vn_holidays.csv is Vietnam's), or the store.
 *
 * Ownership: a db_calendar owns its days; nothing else. Thread-safety: the questions (is_working,
 * add_working_days, count) may run on several threads once the calendar is filled. */
#ifndef DB_MODEL_CALENDAR_H
#define DB_MODEL_CALENDAR_H
#include <stddef.h>
#include <stdint.h>

typedef struct db_calendar db_calendar;

typedef enum db_day_kind {
  DB_DAY_HOLIDAY = 1, /* a day off that would be worked */
  DB_DAY_WORKDAY = 2, /* a working day that would be a rest day */
} db_day_kind;

/* One marked day. */
typedef struct db_calendar_day {
  int64_t day;
  db_day_kind kind;
  const char *name;
} db_calendar_day;

/* An empty calendar: Monday to Friday are working days. */
db_calendar *db_calendar_new(void);
void db_calendar_free(db_calendar *c); /* NULL is a no-op */

/* Marks `day` (replacing an earlier mark of the same day; the name is copied, NULL for none). */
void db_calendar_mark(db_calendar *c, int64_t day, db_day_kind kind, const char *name);
/* The kind's name ("holiday", "workday") and back: 0 or DB_EINVAL. */
const char *db_day_kind_name(db_day_kind k);
int db_day_kind_parse(const char *s, size_t len, db_day_kind *out);
/* The marked days in date order: *out points into the calendar (valid until it changes); returns how
 * many. */
size_t db_calendar_days(const db_calendar *c, const db_calendar_day **out);

/* 1 when `day` is a working day. */
int db_calendar_is_working(const db_calendar *c, int64_t day);
/* The n-th working day after `day` (n >= 1); with n = 0, `day` itself when it is a working day, else the
 * next working day. */
int64_t db_calendar_add_working_days(const db_calendar *c, int64_t day, int n);
/* How many working days lie in (from, to]: 0 when to <= from. A submission received on day d for a
 * deadline on day dl is late by db_calendar_count_working(c, dl, d) working days. */
int64_t db_calendar_count_working(const db_calendar *c, int64_t from, int64_t to);

/* ISO weekday of a day: 1 = Monday ... 7 = Sunday. */
int db_calendar_weekday(int64_t day);

#endif
