/* period.h - time buckets: their codes, arithmetic and nesting.
 *
 * A period is a type and an ordinal. Codes (what users, files and the API use):
 *   5-minute  2025-07-14T13:05        (minute a multiple of 5; "…/PT5M" may be appended)
 *   15-minute 2025-07-14T13:15        (minute a multiple of 15; "…/PT15M" may be appended)
 *   hourly    2025-07-14T13:00        ("…/PT1H" may be appended)
 *   daily     2025-07-14
 *   week      2025-W27                (ISO 8601 week of the ISO week-numbering year)
 *   month     2025-07
 *   quarter   2025-Q3
 *   half-year 2025-S1
 *   year      2025
 *   multi-year 2021/P5Y               (a plan of 5 years starting in 2021; span 2..50)
 * Sub-daily codes are civil time of the city (UTC+07:00, no daylight saving); instants are UTC ms.
 * Years run 1..9999.
 *
 * A period also packs into one int64 "key" (db_period_key): keys of one type and span sort like the
 * periods, so stores index (series, key) and range scans by key are range scans in time.
 * All functions are pure and thread-safe; nothing here allocates. */
#ifndef DB_PERIOD_H
#define DB_PERIOD_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

typedef enum db_period_type {
  DB_PT_MIN5 = 1,
  DB_PT_MIN15,
  DB_PT_HOUR,
  DB_PT_DAY,
  DB_PT_WEEK,
  DB_PT_MONTH,
  DB_PT_QUARTER,
  DB_PT_HALF,
  DB_PT_YEAR,
  DB_PT_MULTIYEAR,
} db_period_type;

#define DB_PERIOD_TYPE_COUNT 10
#define DB_CITY_UTC_OFFSET_MINUTES 420 /* Asia/Ho_Chi_Minh */
#define DB_PERIOD_CODE_MAX 32          /* longest code plus NUL */

typedef struct db_period {
  db_period_type type;
  int span;    /* years of a multi-year period; 0 for every other type */
  int64_t ord; /* ordinal within the type: 5/15-minute and hour slots since 1970-01-01T00:00 civil,
                  days since 1970-01-01, ISO weeks since the week of 1970-01-01 (Monday 1969-12-29),
                  months/quarters/halves since year 0, the year itself, the first year of a plan */
} db_period;

/* The type's name as written in the catalog ("month", "5min", "multiyear") and back. Parsing accepts
 * the names "5min","15min","hour","day","week","month","quarter","half","year","multiyear" and the
 * ISO 8601 durations "PT5M","PT15M","PT1H","P1D","P1W","P1M","P3M","P6M","P1Y". 0 or DB_EINVAL. */
const char *db_period_type_name(db_period_type t);
int db_period_type_parse(const char *s, db_period_type *t);

/* Parses a code, inferring the type from its shape; a sub-daily code is read as the coarsest type its
 * minute allows (":00" hourly, ":15/:30/:45" 15-minute, other multiples of 5 five-minute) unless a
 * "/PTnM" suffix says otherwise. On error returns DB_EINVAL and, when `why` is not NULL, writes a
 * precise reason there ("month 13 out of range 01..12", "2025-02-30: February 2025 has 28 days"). */
int db_period_parse(const char *code, size_t len, db_period *out, char why[128]);

/* Parses a code that must be of `type` (the periodicity of an indicator): "2025-07-14T13:00" is then
 * valid for 5-minute, 15-minute and hourly alike. DB_EINVAL with a reason (including "2025-Q3 is a
 * quarter, expected a month") otherwise. `span` is the plan length for DB_PT_MULTIYEAR (0 = any). */
int db_period_parse_as(const char *code, size_t len, db_period_type type, int span, db_period *out,
                       char why[128]);

/* Writes the canonical code (no "/PT…" suffix) into out; returns its length. */
int db_period_format(const db_period *p, char out[DB_PERIOD_CODE_MAX]);

/* <0, 0, >0 like strcmp: by start instant, then by end instant (a year sorts after its first month). */
int db_period_compare(const db_period *a, const db_period *b);

/* The period n steps later (n < 0: earlier) of the same type: lag is db_period_add(p, -n). */
db_period db_period_add(const db_period *p, int64_t n);
/* Number of steps from a to b (b - a) for two periods of the same type and span; 0 otherwise. */
int64_t db_period_diff(const db_period *a, const db_period *b);

/* The period of the coarser `type` that contains p (month -> quarter -> half -> year -> multi-year,
 * minutes -> hour -> day -> week/month…; a week belongs to its ISO year but to no month). For a
 * multi-year target, `span` is the plan length and plans are aligned on years where
 * (year - 2021) % span == 0 (Vietnam's five-year plans: 2021-2025, 2026-2030). DB_EINVAL when p does
 * not nest in that type. */
int db_period_containing(const db_period *p, db_period_type type, int span, db_period *out);

/* The periods of the finer `type` inside p, in order, into out (up to max); returns how many there are
 * (which may exceed max: call again with a larger array), or DB_EINVAL when they do not nest. */
int64_t db_period_subperiods(const db_period *p, db_period_type type, db_period *out, size_t max);

/* Start (inclusive) and end (exclusive) instants in ms since the Unix epoch, UTC. */
int64_t db_period_start_ms(const db_period *p);
int64_t db_period_end_ms(const db_period *p);

/* The period of `type` (and `span`) that contains the UTC instant ms. */
db_period db_period_at(db_period_type type, int span, int64_t ms);

/* Packs a period into an order-preserving int64 key and back (0 is never a valid key). */
int64_t db_period_key(const db_period *p);
int db_period_from_key(int64_t key, db_period *out);

#endif
