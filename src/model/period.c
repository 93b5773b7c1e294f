/* period.c - time buckets: parsing, formatting, arithmetic and nesting of period codes (period.h).
 *
 * A period is (type, span, ord). Everything is computed from the ordinal with the civil-date helpers
 * of base/text.h; sub-daily ordinals count slots of civil (UTC+07:00) time, so an instant is the civil
 * minute minus the city's offset. A period is "valid" when its type and span are known and every one
 * of its days lies in years 0001..9999 (a week: its ISO year lies there); invalid periods (a bad
 * db_period handed in, or db_period_add run off the calendar) never crash anything: format writes ""
 * and returns DB_EINVAL, key returns 0, start/end return INT64_MIN, compare sorts them after the valid
 * ones, containing and subperiods refuse them.
 *
 * One layout string per type drives both the code ("y-a-dTh:m") and the key. The key is decimal, so a
 * store's integer column reads in plain SQL: type * 10^14 + span * 10^12 + the code's digits
 * (YYYYMMDDhhmm, YYYYMMDD, YYYYWW, YYYYMM, YYYYQ, YYYYS, YYYY). 2025-07 is 600000000202507, 2021/P5Y is
 * 1005000000002021. Within one type and span the digits sort like the periods.
 *
 * The parser is hand-written for the import hot path: no allocation, no sscanf, no byte read beyond
 * `len`, and the reason is formatted only when there is an error. */
#include "model/period.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/text.h"

#define DAY_MIN INT64_C(-719162)  /* 0001-01-01 */
#define DAY_MAX INT64_C(2932896)  /* 9999-12-31 */
#define WEEK_MIN INT64_C(-102737) /* 0001-W01, Monday 0001-01-01 */
#define WEEK_MAX INT64_C(418985)  /* 9999-W52, Monday 9999-12-27 */
#define YEAR_MAX 9999
#define SPAN_MIN 2
#define SPAN_MAX 50
#define PLAN_EPOCH 2021 /* plans are aligned on 2021 (the 2021-2025 five-year plan) */
#define MIN_PER_DAY 1440
#define MS_PER_MIN 60000
#define KEY_TYPE INT64_C(100000000000000) /* 10^14 */
#define KEY_SPAN INT64_C(1000000000000)   /* 10^12 */

static const struct type_info {
  const char *name;     /* catalog name */
  const char *duration; /* ISO 8601 duration, NULL for multi-year */
  const char *noun;     /* for messages, with its article */
  const char *layout;   /* code: y year, a month/week/quarter/half, d day, h hour, m minute, s span */
  int num_width;        /* digits of the 'a' field */
  int slot;             /* minutes per period of a sub-daily type, else 0 */
  int months;           /* months per period of month, quarter, half and year, else 0 */
  int64_t lo, hi;       /* ordinals of the first and last periods of years 0001..9999 */
} TYPES[DB_PERIOD_TYPE_COUNT + 1] = {
    [DB_PT_MIN5] = {"5min", "PT5M", "a 5-minute period", "y-a-dTh:m", 2, 5, 0, DAY_MIN * 288,
                    (DAY_MAX + 1) * 288 - 1},
    [DB_PT_MIN15] = {"15min", "PT15M", "a 15-minute period", "y-a-dTh:m", 2, 15, 0, DAY_MIN * 96,
                     (DAY_MAX + 1) * 96 - 1},
    [DB_PT_HOUR] = {"hour", "PT1H", "an hour", "y-a-dTh:m", 2, 60, 0, DAY_MIN * 24, (DAY_MAX + 1) * 24 - 1},
    [DB_PT_DAY] = {"day", "P1D", "a day", "y-a-d", 2, 0, 0, DAY_MIN, DAY_MAX},
    [DB_PT_WEEK] = {"week", "P1W", "a week", "y-Wa", 2, 0, 0, WEEK_MIN, WEEK_MAX},
    [DB_PT_MONTH] = {"month", "P1M", "a month", "y-a", 2, 0, 1, 12, 12 * YEAR_MAX + 11},
    [DB_PT_QUARTER] = {"quarter", "P3M", "a quarter", "y-Qa", 1, 0, 3, 4, 4 * YEAR_MAX + 3},
    [DB_PT_HALF] = {"half", "P6M", "a half-year", "y-Sa", 1, 0, 6, 2, 2 * YEAR_MAX + 1},
    [DB_PT_YEAR] = {"year", "P1Y", "a year", "y", 0, 0, 12, 1, YEAR_MAX},
    [DB_PT_MULTIYEAR] = {"multiyear", NULL, "a multi-year plan", "y/PsY", 0, 0, 0, 1, YEAR_MAX},
};

/* The numeric fields of a code; field_of() maps the layout letters "yadhms" to them. */
enum { F_YEAR, F_NUM, F_DAY, F_HOUR, F_MIN, F_SPAN, F_COUNT };
typedef struct fields {
  int n[F_COUNT];
} fields;
#define TRAILING "unexpected text after the period code"

static const char *const MONTH_NAMES[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};

static int fail(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int type_known(int t);
static int is_subdaily(db_period_type t);
static int valid(const db_period *p);
static int lex(const char *s, size_t n, db_period_type *type, fields *f, char *why);
static int compose(db_period_type t, const fields *f, db_period *out, char *why);
static void split(const db_period *p, fields *f);
static int field_of(char letter);
static int field_width(db_period_type t, int field, int value);
static int64_t start_min(const db_period *p);
static int64_t end_min(const db_period *p);
static db_period at_min(db_period_type type, int span, int64_t local_min);
static int64_t week1_monday(int64_t year);
static int64_t iso_year(int64_t week_ord);
static int64_t floor_div(int64_t a, int64_t b);

const char *db_period_type_name(db_period_type t) { return type_known(t) ? TYPES[t].name : "unknown"; }

int db_period_type_parse(const char *s, db_period_type *t) {
  if (!s) return DB_EINVAL;
  for (int i = DB_PT_MIN5; i <= DB_PT_MULTIYEAR; i++) {
    if (!strcmp(s, TYPES[i].name) || (TYPES[i].duration && !strcmp(s, TYPES[i].duration))) {
      *t = (db_period_type)i;
      return DB_OK;
    }
  }
  return DB_EINVAL;
}

/* A sub-daily code without a "/PT…" suffix takes the coarsest type its minute allows; a minute that
 * is no multiple of 5 is left to compose() to refuse as 5-minute. */
static db_period_type subdaily_type(int minute) {
  return minute % 15 ? DB_PT_MIN5 : minute % 60 ? DB_PT_MIN15 : DB_PT_HOUR;
}

int db_period_parse(const char *code, size_t len, db_period *out, char why[128]) {
  db_period_type type;
  fields f;
  int rc = lex(code, len, &type, &f, why);
  if (rc) return rc;
  if (!type) type = subdaily_type(f.n[F_MIN]);
  return compose(type, &f, out, why);
}

int db_period_parse_as(const char *code, size_t len, db_period_type type, int span, db_period *out,
                       char why[128]) {
  if (!type_known(type)) return fail(why, "unknown period type %d", (int)type);
  if (type == DB_PT_MULTIYEAR && span && (span < SPAN_MIN || span > SPAN_MAX))
    return fail(why, "plan length %d out of range %d..%d", span, SPAN_MIN, SPAN_MAX);
  db_period_type stated;
  fields f;
  int rc = lex(code, len, &stated, &f, why);
  if (rc) return rc;
  if (!stated) stated = is_subdaily(type) ? type : subdaily_type(f.n[F_MIN]);
  db_period p;
  rc = compose(stated, &f, &p, why);
  if (rc) return rc;
  /* lex() accepted the code, so it is short printable ASCII and safe to quote. */
  if (p.type != type)
    return fail(why, "%.*s is %s, expected %s", (int)len, code, TYPES[p.type].noun, TYPES[type].noun);
  if (type == DB_PT_MULTIYEAR && span && p.span != span)
    return fail(why, "%.*s is a %d-year plan, expected a %d-year plan", (int)len, code, p.span, span);
  *out = p;
  return DB_OK;
}

int db_period_format(const db_period *p, char out[DB_PERIOD_CODE_MAX]) {
  if (!valid(p)) {
    out[0] = '\0';
    return DB_EINVAL;
  }
  fields f;
  split(p, &f);
  char *o = out;
  for (const char *c = TYPES[p->type].layout; *c; c++) {
    int k = field_of(*c);
    if (k < 0) {
      *o++ = *c;
      continue;
    }
    int v = f.n[k], width = field_width(p->type, k, v);
    for (int i = width - 1; i >= 0; i--, v /= 10) o[i] = (char)('0' + v % 10);
    o += width;
  }
  *o = '\0';
  return (int)(o - out);
}

int db_period_compare(const db_period *a, const db_period *b) {
  int va = valid(a), vb = valid(b);
  if (!va || !vb) { /* any consistent order will do: valid first, then by fields */
    if (va != vb) return va ? -1 : 1;
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    if (a->span != b->span) return a->span < b->span ? -1 : 1;
    return (a->ord > b->ord) - (a->ord < b->ord);
  }
  int64_t sa = start_min(a), sb = start_min(b);
  if (sa != sb) return sa < sb ? -1 : 1;
  int64_t ea = end_min(a), eb = end_min(b);
  return (ea > eb) - (ea < eb);
}

/* Saturates on overflow: the result is then invalid (off the calendar), never undefined. */
db_period db_period_add(const db_period *p, int64_t n) {
  db_period r = *p;
  int64_t step = p->type == DB_PT_MULTIYEAR ? p->span : 1, delta;
  if (__builtin_mul_overflow(n, step, &delta) || __builtin_add_overflow(p->ord, delta, &r.ord))
    r.ord = (n < 0) == (step < 0) ? INT64_MAX : INT64_MIN;
  return r;
}

/* Plans of one span need not be aligned on each other: the steps between their first years round
 * down. */
int64_t db_period_diff(const db_period *a, const db_period *b) {
  if (a->type != b->type || a->span != b->span || !valid(a) || !valid(b)) return 0;
  return a->type == DB_PT_MULTIYEAR ? floor_div(b->ord - a->ord, a->span) : b->ord - a->ord;
}

/* The candidate is the period of `type` holding p's first minute; p nests in it when it also ends
 * within it (only plans of different spans can fail that). A week stands for its ISO year. */
int db_period_containing(const db_period *p, db_period_type type, int span, db_period *out) {
  if (!valid(p) || !type_known(type) || type < p->type) return DB_EINVAL;
  if (type == DB_PT_MULTIYEAR && (span < SPAN_MIN || span > SPAN_MAX)) return DB_EINVAL;
  db_period from = *p;
  if (p->type == DB_PT_WEEK && type != DB_PT_WEEK) {
    if (type < DB_PT_YEAR) return DB_EINVAL; /* weeks straddle months, quarters and halves */
    from = (db_period){DB_PT_YEAR, 0, iso_year(p->ord)};
  }
  db_period c = at_min(type, span, start_min(&from));
  if (!valid(&c) || end_min(&from) > end_min(&c)) return DB_EINVAL;
  *out = c;
  return DB_OK;
}

/* Weeks nest only in years and plans, as the ISO weeks of those ISO years. */
int64_t db_period_subperiods(const db_period *p, db_period_type type, db_period *out, size_t max) {
  if (!valid(p) || !type_known(type) || type > p->type) return DB_EINVAL;
  if (type == p->type) {
    if (max) out[0] = *p;
    return 1;
  }
  db_period first = {type, 0, 0}, last = {type, 0, 0};
  if (type == DB_PT_WEEK) {
    if (p->type < DB_PT_YEAR) return DB_EINVAL;
    int64_t years = p->type == DB_PT_MULTIYEAR ? p->span : 1;
    first.ord = (week1_monday(p->ord) + 3) / 7;
    last.ord = (week1_monday(p->ord + years) + 3) / 7 - 1;
  } else {
    first = at_min(type, 0, start_min(p));
    last = at_min(type, 0, end_min(p) - 1);
  }
  if (!valid(&first) || !valid(&last)) return DB_EINVAL; /* 9999-W52 runs into year 10000 */
  int64_t n = last.ord - first.ord + 1;
  for (int64_t i = 0; i < n && (uint64_t)i < max; i++) out[i] = db_period_add(&first, i);
  return n;
}

int64_t db_period_start_ms(const db_period *p) {
  return valid(p) ? (start_min(p) - DB_CITY_UTC_OFFSET_MINUTES) * MS_PER_MIN : INT64_MIN;
}

int64_t db_period_end_ms(const db_period *p) {
  return valid(p) ? (end_min(p) - DB_CITY_UTC_OFFSET_MINUTES) * MS_PER_MIN : INT64_MIN;
}

/* An unknown type, or a multi-year type without a span in 2..50, gives the invalid period {0}. */
db_period db_period_at(db_period_type type, int span, int64_t ms) {
  if (!type_known(type) || (type == DB_PT_MULTIYEAR && (span < SPAN_MIN || span > SPAN_MAX)))
    return (db_period){0, 0, 0};
  return at_min(type, span, floor_div(ms, MS_PER_MIN) + DB_CITY_UTC_OFFSET_MINUTES);
}

int64_t db_period_key(const db_period *p) {
  if (!valid(p)) return 0;
  fields f;
  split(p, &f);
  int64_t digits = 0;
  for (const char *c = TYPES[p->type].layout; *c; c++) {
    int k = field_of(*c);
    if (k < 0 || k == F_SPAN) continue;
    for (int i = field_width(p->type, k, 0); i > 0; i--) digits *= 10;
    digits += f.n[k];
  }
  return p->type * KEY_TYPE + p->span * KEY_SPAN + digits;
}

/* Reads the layout backwards, peeling digits off; digits left over mean a year beyond 9999. */
int db_period_from_key(int64_t key, db_period *out) {
  if (key <= 0 || !type_known((int)(key / KEY_TYPE))) return DB_EINVAL;
  db_period_type t = (db_period_type)(key / KEY_TYPE);
  fields f = {{0}};
  f.n[F_SPAN] = (int)(key / KEY_SPAN % 100);
  int64_t digits = key % KEY_SPAN;
  const char *layout = TYPES[t].layout;
  for (size_t c = strlen(layout); c-- > 0;) {
    int k = field_of(layout[c]);
    if (k < 0 || k == F_SPAN) continue;
    int64_t scale = 1;
    for (int i = field_width(t, k, 0); i > 0; i--) scale *= 10;
    f.n[k] = (int)(digits % scale);
    digits /= scale;
  }
  if (digits) return DB_EINVAL;
  return compose(t, &f, out, NULL);
}

/* Writes a reason into why (when not NULL) and returns DB_EINVAL. */
static int fail(char *why, const char *fmt, ...) {
  if (why) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, 128, fmt, ap);
    va_end(ap);
  }
  return DB_EINVAL;
}

static int type_known(int t) { return t >= DB_PT_MIN5 && t <= DB_PT_MULTIYEAR; }

static int is_subdaily(db_period_type t) { return t >= DB_PT_MIN5 && t <= DB_PT_HOUR; }

static int valid(const db_period *p) {
  if (!type_known(p->type) || p->ord < TYPES[p->type].lo || p->ord > TYPES[p->type].hi) return 0;
  if (p->type != DB_PT_MULTIYEAR) return p->span == 0;
  return p->span >= SPAN_MIN && p->span <= SPAN_MAX && p->ord + p->span - 1 <= YEAR_MAX;
}

/* Reads exactly `count` digits at s[*i] (within n) into *v and advances *i; 0 when they are not there. */
static int digits(const char *s, size_t n, size_t *i, int count, int *v) {
  if (n - *i < (size_t)count) return 0;
  int x = 0;
  for (int k = 0; k < count; k++) {
    unsigned d = (unsigned char)s[*i + k] - (unsigned)'0';
    if (d > 9) return 0;
    x = x * 10 + (int)d;
  }
  *i += (size_t)count;
  *v = x;
  return 1;
}

/* The syntax of a code: *type is the type the code states, or 0 for a sub-daily code without a
 * "/PT…" suffix (its minute, or the caller, decides). Ranges are compose()'s business. */
static int lex(const char *s, size_t n, db_period_type *type, fields *f, char *why) {
  size_t i = 0;
  *f = (fields){{0}};
  if (n == 0) return fail(why, "empty period code");
  if (!digits(s, n, &i, 4, &f->n[F_YEAR])) return fail(why, "expected a 4-digit year at the start");
  *type = DB_PT_YEAR;
  if (i == n) return DB_OK;
  if (s[i] == '/') {
    size_t d0 = i + 2; /* the span's digits follow "/P" */
    if (d0 <= n && s[i + 1] == 'P')
      for (i = d0; i < n && i < d0 + 2 && s[i] >= '0' && s[i] <= '9'; i++)
        f->n[F_SPAN] = f->n[F_SPAN] * 10 + (s[i] - '0');
    if (i <= d0 || i == n || s[i] != 'Y') return fail(why, "expected a plan length like /P5Y after the year");
    *type = DB_PT_MULTIYEAR;
    return ++i == n ? DB_OK : fail(why, TRAILING);
  }
  if (s[i] != '-') return fail(why, TRAILING);
  char c = ++i < n ? s[i] : '\0';
  if (c == 'W' || c == 'Q' || c == 'S') {
    *type = c == 'W' ? DB_PT_WEEK : c == 'Q' ? DB_PT_QUARTER : DB_PT_HALF;
    i++;
    if (!digits(s, n, &i, TYPES[*type].num_width, &f->n[F_NUM]))
      return fail(why, "expected a %d-digit number after '%c'", TYPES[*type].num_width, c);
    return i == n ? DB_OK : fail(why, TRAILING);
  }
  if (!digits(s, n, &i, 2, &f->n[F_NUM]))
    return fail(why, "expected a 2-digit month, or W, Q or S, after the year");
  *type = DB_PT_MONTH;
  if (i < n && s[i] == '-') {
    i++;
    if (!digits(s, n, &i, 2, &f->n[F_DAY])) return fail(why, "expected a 2-digit day");
    *type = DB_PT_DAY;
    if (i < n && s[i] == 'T') {
      i++;
      if (!digits(s, n, &i, 2, &f->n[F_HOUR])) return fail(why, "expected a 2-digit hour after 'T'");
      if (i == n || s[i++] != ':') return fail(why, "expected ':' after the hour");
      if (!digits(s, n, &i, 2, &f->n[F_MIN])) return fail(why, "expected a 2-digit minute");
      *type = 0;
      if (i < n && s[i] == '/') {
        size_t rest = n - i - 1;
        for (int t = DB_PT_MIN5; t <= DB_PT_HOUR && !*type; t++)
          if (strlen(TYPES[t].duration) == rest && !memcmp(s + i + 1, TYPES[t].duration, rest))
            *type = (db_period_type)t;
        if (!*type) return fail(why, "unknown duration after '/' (expected PT5M, PT15M or PT1H)");
        i = n;
      }
    }
  }
  return i == n ? DB_OK : fail(why, TRAILING);
}

/* Days since the epoch of y-m-d, checking the date exists. */
static int civil_date(int y, int m, int d, int64_t *days, char *why) {
  if (m < 1 || m > 12) return fail(why, "month %02d out of range 01..12", m);
  if (d < 1 || d > 31) return fail(why, "day %02d out of range 01..31", d);
  int64_t first = db_days_from_civil(y, (unsigned)m, 1);
  *days = first + d - 1;
  if (d > 28) { /* only then can the month be too short */
    int64_t next = db_days_from_civil(y + m / 12, (unsigned)(m % 12 + 1), 1);
    if (*days >= next)
      return fail(why, "%04d-%02d-%02d: %s %04d has %d days", y, m, d, MONTH_NAMES[m - 1], y,
                  (int)(next - first));
  }
  return DB_OK;
}

/* The period of type t with the given fields, checking every range. Shared by the parser and
 * db_period_from_key, so both accept exactly the valid periods. */
static int compose(db_period_type t, const fields *f, db_period *out, char *why) {
  int y = f->n[F_YEAR], a = f->n[F_NUM];
  if (y < 1 || y > YEAR_MAX) return fail(why, "year %04d out of range 0001..9999", y);
  if (t != DB_PT_MULTIYEAR && f->n[F_SPAN]) return fail(why, "only a multi-year plan has a plan length");
  db_period p = {t, 0, y};
  int rc;
  switch (t) {
    case DB_PT_MIN5:
    case DB_PT_MIN15:
    case DB_PT_HOUR:
    case DB_PT_DAY: {
      int64_t days = 0;
      if ((rc = civil_date(y, a, f->n[F_DAY], &days, why))) return rc;
      p.ord = days;
      if (t == DB_PT_DAY) break;
      int hh = f->n[F_HOUR], mi = f->n[F_MIN], slot = TYPES[t].slot;
      if (hh > 23) return fail(why, "hour %02d out of range 00..23", hh);
      if (mi > 59) return fail(why, "minute %02d out of range 00..59", mi);
      if (mi % slot) return fail(why, "minute %02d is not a multiple of %d", mi, slot);
      p.ord = (days * MIN_PER_DAY + hh * 60 + mi) / slot;
      break;
    }
    case DB_PT_WEEK: {
      int64_t mon1 = week1_monday(y), weeks = (week1_monday(y + 1) - mon1) / 7;
      if (a < 1 || a > 53) return fail(why, "week %02d out of range 01..53", a);
      if (a > weeks) return fail(why, "%04d-W%02d: %04d has %d ISO weeks", y, a, y, (int)weeks);
      p.ord = (mon1 + 3) / 7 + a - 1;
      break;
    }
    case DB_PT_MONTH:
    case DB_PT_QUARTER:
    case DB_PT_HALF: {
      static const char *const what[] = {
          [DB_PT_MONTH] = "month", [DB_PT_QUARTER] = "quarter", [DB_PT_HALF] = "half-year"};
      int per_year = 12 / TYPES[t].months, w = TYPES[t].num_width;
      if (a < 1 || a > per_year)
        return fail(why, "%s %0*d out of range %0*d..%d", what[t], w, a, w, 1, per_year);
      p.ord = (int64_t)y * per_year + a - 1;
      break;
    }
    case DB_PT_YEAR:
      break;
    case DB_PT_MULTIYEAR:
      p.span = f->n[F_SPAN];
      if (p.span < SPAN_MIN || p.span > SPAN_MAX)
        return fail(why, "plan length %d out of range %d..%d", p.span, SPAN_MIN, SPAN_MAX);
      if (y + p.span - 1 > YEAR_MAX) return fail(why, "%04d/P%dY ends after 9999", y, p.span);
      break;
  }
  *out = p;
  return DB_OK;
}

static void set_date(fields *f, int64_t days) {
  int64_t y;
  unsigned m, d;
  db_civil_from_days(days, &y, &m, &d);
  f->n[F_YEAR] = (int)y;
  f->n[F_NUM] = (int)m;
  f->n[F_DAY] = (int)d;
}

/* The fields of a valid period (the inverse of compose). */
static void split(const db_period *p, fields *f) {
  *f = (fields){{0}};
  f->n[F_SPAN] = p->span;
  const struct type_info *ti = &TYPES[p->type];
  if (ti->slot) {
    int64_t minute = p->ord * ti->slot, days = floor_div(minute, MIN_PER_DAY);
    int of_day = (int)(minute - days * MIN_PER_DAY);
    set_date(f, days);
    f->n[F_HOUR] = of_day / 60;
    f->n[F_MIN] = of_day % 60;
  } else if (p->type == DB_PT_DAY) {
    set_date(f, p->ord);
  } else if (p->type == DB_PT_WEEK) {
    int64_t thursday = p->ord * 7; /* ord 0 is the week of Thursday 1970-01-01 */
    set_date(f, thursday);
    f->n[F_NUM] = (int)((thursday - db_days_from_civil(f->n[F_YEAR], 1, 1)) / 7 + 1);
    f->n[F_DAY] = 0;
  } else if (ti->months) { /* ordinals below 120000: 32-bit division is enough, and faster */
    int ord = (int)p->ord, per_year = 12 / ti->months;
    f->n[F_YEAR] = ord / per_year;
    f->n[F_NUM] = ord % per_year + 1;
  } else {
    f->n[F_YEAR] = (int)p->ord;
  }
}

/* The field a layout letter stands for, or -1 for a literal character. */
static int field_of(char letter) {
  switch (letter) {
    case 'y':
      return F_YEAR;
    case 'a':
      return F_NUM;
    case 'd':
      return F_DAY;
    case 'h':
      return F_HOUR;
    case 'm':
      return F_MIN;
    case 's':
      return F_SPAN;
    default:
      return -1;
  }
}

/* Digits of a field in the code and the key; a span takes as many as its value needs. */
static int field_width(db_period_type t, int field, int value) {
  switch (field) {
    case F_YEAR:
      return 4;
    case F_NUM:
      return TYPES[t].num_width;
    case F_SPAN:
      return value >= 10 ? 2 : 1;
    default:
      return 2;
  }
}

/* First civil minute (UTC+07:00) since 1970-01-01T00:00 of a valid period. */
static int64_t start_min(const db_period *p) {
  const struct type_info *ti = &TYPES[p->type];
  if (ti->slot) return p->ord * ti->slot;
  int64_t days;
  if (p->type == DB_PT_DAY) {
    days = p->ord;
  } else if (p->type == DB_PT_WEEK) {
    days = p->ord * 7 - 3;
  } else if (ti->months) {
    int64_t month = p->ord * ti->months;
    days = db_days_from_civil(month / 12, (unsigned)(month % 12 + 1), 1);
  } else {
    days = db_days_from_civil(p->ord, 1, 1);
  }
  return days * MIN_PER_DAY;
}

/* First civil minute after a valid period (the start of the next one, possibly in year 10000). */
static int64_t end_min(const db_period *p) {
  db_period next = db_period_add(p, 1);
  return start_min(&next);
}

/* The period of a known type holding a civil minute; a multi-year span must be in range. */
static db_period at_min(db_period_type type, int span, int64_t local_min) {
  db_period p = {type, 0, 0};
  const struct type_info *ti = &TYPES[type];
  int64_t days = floor_div(local_min, MIN_PER_DAY);
  if (ti->slot) {
    p.ord = floor_div(local_min, ti->slot);
  } else if (type == DB_PT_DAY) {
    p.ord = days;
  } else if (type == DB_PT_WEEK) {
    p.ord = floor_div(days + 3, 7);
  } else {
    int64_t y;
    unsigned m, d;
    db_civil_from_days(days, &y, &m, &d);
    if (ti->months) {
      p.ord = y * (12 / ti->months) + (m - 1) / (unsigned)ti->months;
    } else {
      p.span = span;
      p.ord = PLAN_EPOCH + floor_div(y - PLAN_EPOCH, span) * span;
    }
  }
  return p;
}

/* Days since the epoch of the Monday of ISO week 1 of a year (the week holding 4 January). */
static int64_t week1_monday(int64_t year) {
  int64_t jan4 = db_days_from_civil(year, 1, 4);
  int64_t weekday = jan4 + 3 - floor_div(jan4 + 3, 7) * 7; /* Monday 0: day 0 was a Thursday */
  return jan4 - weekday;
}

/* The ISO week-numbering year of a week: the civil year of its Thursday. */
static int64_t iso_year(int64_t week_ord) {
  int64_t y;
  unsigned m, d;
  db_civil_from_days(week_ord * 7, &y, &m, &d);
  return y;
}

/* a / b rounded toward minus infinity, for b > 0. */
static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return q - (a % b < 0);
}
