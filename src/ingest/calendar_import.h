/* calendar_import.h - the working-day calendar (model/calendar.h) in and out of files and the store.
 *
 * CSV: a header naming the columns date*, kind*, name (any order; other columns are errors), then one row
 * per marked day: date YYYY-MM-DD, kind `holiday` or `workday`, name free text. data/calendar/vn_holidays.csv
 * is Vietnam's schedule as the Government announced it for each year.
 *
 * In the store a marked day is a record (store.h) of kind "calendar_day", key its date, body
 * {"kind": "holiday", "name": "Tết Nguyên đán"}. */
#ifndef DB_CALENDAR_IMPORT_H
#define DB_CALENDAR_IMPORT_H
#include <stddef.h>

#include "base/diag.h"
#include "model/calendar.h"
#include "store/store.h"

#define DB_CALENDAR_RECORD_KIND "calendar_day"

/* Marks the days of a CSV text in c. All or nothing: with any bad row nothing is marked, and every
 * problem is in d with its line, column and `source` as path ("line 4, column 1 (date): 2025-02-30:
 * February 2025 has 28 days"; a date given twice names both lines). Returns 0 or DB_EINVAL. */
int db_calendar_read_csv(db_calendar *c, const char *text, size_t len, const char *source, db_diag *d);
/* Marks in c every day stored in s: 0 or the store's error (a record that does not parse is skipped). */
int db_calendar_load(db_store *s, db_calendar *c);
/* Writes every marked day of c to s (upserted by date), in the open transaction: 0 or the store's error. */
int db_calendar_save(db_store *s, const db_calendar *c);

#endif
