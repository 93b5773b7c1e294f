/* text.c - strict parsing helpers and civil-date arithmetic (Howard Hinnant's days_from_civil). */
#include "base/text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

int db_utf8_valid(const char *str, size_t n, size_t *bad_offset) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else goto bad;
    if (i + len > n) goto bad;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) goto bad;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      goto bad;
    i += len;
  }
  return 1;
bad:
  if (bad_offset) *bad_offset = i;
  return 0;
}

/* Trims ASCII spaces and tabs; returns the trimmed length and moves *s. */
static size_t trim(const char **s, size_t n) {
  while (n && (**s == ' ' || **s == '\t')) (*s)++, n--;
  while (n && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t')) n--;
  return n;
}

int db_parse_double(const char *s, size_t n, double *out) {
  n = trim(&s, n);
  if (n == 0 || n > 64) return DB_EINVAL;
  char tmp[65];
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  /* strtod accepts hex, "inf" and "nan": only plain decimal notation is data */
  for (size_t i = 0; i < n; i++) {
    char c = tmp[i];
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return DB_EINVAL;
  }
  char *end;
  errno = 0;
  double v = strtod(tmp, &end);
  if (end != tmp + n || !isfinite(v) || (errno == ERANGE && v != 0)) return DB_EINVAL;
  *out = v;
  return DB_OK;
}

int db_parse_int64(const char *s, size_t n, int64_t *out) {
  n = trim(&s, n);
  if (n == 0 || n > 20) return DB_EINVAL;
  size_t i = 0;
  int neg = 0;
  if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', i = 1;
  if (i == n) return DB_EINVAL;
  uint64_t v = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return DB_EINVAL;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return DB_EINVAL;
    v = v * 10 + d;
  }
  if (v > (uint64_t)INT64_MAX + (uint64_t)neg) return DB_EINVAL;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return DB_OK;
}

int64_t db_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

void db_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

static int days_in_month(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 ? 28 + leap : dm[m - 1];
}

int db_parse_date(const char *s, size_t n, int64_t *days) {
  int y, m, d;
  if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
      !digits(s + 8, 2, &d))
    return DB_EINVAL;
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return DB_EINVAL;
  *days = db_days_from_civil(y, (unsigned)m, (unsigned)d);
  return DB_OK;
}

void db_format_date(int64_t days, char out[11]) {
  int64_t y;
  unsigned m, d;
  db_civil_from_days(days, &y, &m, &d);
  unsigned year = (unsigned)((y % 10000 + 10000) % 10000);
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%04u-%02u-%02u", year, m, d);
  memcpy(out, tmp, 11);
}

int64_t db_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void db_format_time_ms(int64_t ms, char out[25]) {
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rem = ms - days * 86400000;
  char date[11], tmp[64];
  db_format_date(days, date);
  snprintf(tmp, sizeof tmp, "%.10sT%02d:%02d:%02d.%03dZ", date, (int)(rem / 3600000), (int)(rem / 60000 % 60),
           (int)(rem / 1000 % 60), (int)(rem % 1000));
  memcpy(out, tmp, 25);
}

int db_parse_time_ms(const char *s, int64_t *ms) {
  size_t n = strlen(s);
  int64_t days;
  if (n < 10 || db_parse_date(s, 10, &days)) return DB_EINVAL;
  int64_t t = days * 86400000;
  if (n == 10) {
    *ms = t;
    return DB_OK;
  }
  int hh, mi, ss = 0, frac = 0;
  if ((s[10] != 'T' && s[10] != ' ') || n < 16 || !digits(s + 11, 2, &hh) || s[13] != ':' ||
      !digits(s + 14, 2, &mi) || hh > 23 || mi > 59)
    return DB_EINVAL;
  size_t i = 16;
  if (i < n && s[i] == ':') {
    if (i + 3 > n || !digits(s + i + 1, 2, &ss) || ss > 60) return DB_EINVAL;
    i += 3;
    if (i < n && s[i] == '.') {
      int scale = 100;
      for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10) frac += (s[i] - '0') * scale;
    }
  }
  t += ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac;
  if (i == n || (s[i] == 'Z' && i + 1 == n)) {
    *ms = t;
    return DB_OK;
  }
  int oh, om;
  if (i + 6 != n || (s[i] != '+' && s[i] != '-') || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
      !digits(s + i + 4, 2, &om))
    return DB_EINVAL;
  int64_t off = ((int64_t)oh * 60 + om) * 60000;
  *ms = s[i] == '+' ? t - off : t + off;
  return DB_OK;
}

/* ---- folding for search ---- */

/* The lower-case base letter of U+00C0..U+00FF; 0 keeps the character (Æ, ×, Þ, ß, ÷, þ). */
static const char latin1_base[65] =
    "aaaaaa\0ceeeeiiiidnooooo\0ouuuuy\0\0"
    "aaaaaa\0ceeeeiiiidnooooo\0ouuuuy\0y";

/* The Vietnamese letters outside Latin-1 and the Latin Extended Additional block: ă, đ, ĩ, ũ, ơ, ư
 * (and Ɖ, which some fonts and keyboards put for Đ). */
static const struct {
  unsigned cp;
  char base;
} extra_base[] = {{0x102, 'a'}, {0x103, 'a'}, {0x110, 'd'}, {0x111, 'd'}, {0x128, 'i'},
                  {0x129, 'i'}, {0x168, 'u'}, {0x169, 'u'}, {0x189, 'd'}, {0x1A0, 'o'},
                  {0x1A1, 'o'}, {0x1AF, 'u'}, {0x1B0, 'u'}};

/* The base letter of code point cp; 0 when it has none; -1 for a combining mark (dropped). */
static int fold_code_point(unsigned cp) {
  if (cp >= 0x300 && cp <= 0x36F) return -1;
  if (cp >= 0xC0 && cp <= 0xFF) return latin1_base[cp - 0xC0];
  /* U+1EA0..U+1EF9 is the Vietnamese block, in the order a, e, i, o, u, y with every mark */
  if (cp >= 0x1EA0 && cp <= 0x1EF9)
    return cp < 0x1EB8 ? 'a' : cp < 0x1EC8 ? 'e' : cp < 0x1ECC ? 'i' : cp < 0x1EE4 ? 'o' : cp < 0x1EF2 ? 'u' : 'y';
  for (size_t i = 0; i < sizeof extra_base / sizeof extra_base[0]; i++)
    if (extra_base[i].cp == cp) return extra_base[i].base;
  return 0;
}

size_t db_text_fold(const char *str, size_t n, char *out) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, o = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : 1;
    if (len == 1 || i + len > n || !db_utf8_valid(str + i, len, NULL)) {
      out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      i++;
      continue;
    }
    unsigned cp = len == 2 ? (c & 0x1F) << 6 | (s[i + 1] & 0x3F)
                           : (c & 0x0F) << 12 | (s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
    int base = fold_code_point(cp);
    if (base > 0) out[o++] = (char)base;
    else if (base == 0) memcpy(out + o, str + i, len), o += len;
    i += len;
  }
  out[o] = '\0';
  return o;
}

int db_list_has(const char *list, const char *code, size_t len) {
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && memcmp(p, code, len) == 0) return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}
