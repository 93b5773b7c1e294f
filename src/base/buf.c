/* buf.c - growable NUL-terminated byte buffer. */
#include "base/buf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"

void db_buf_reserve(db_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  b->data = db_realloc(b->data, cap);
  b->cap = cap;
}

void db_buf_append(db_buf *b, const void *p, size_t n) {
  db_buf_reserve(b, n);
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void db_buf_puts(db_buf *b, const char *s) { db_buf_append(b, s, strlen(s)); }

void db_buf_putc(db_buf *b, char c) { db_buf_append(b, &c, 1); }

void db_buf_vprintf(db_buf *b, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return;
  db_buf_reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void db_buf_printf(db_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void db_buf_csv_field(db_buf *b, const char *s) {
  if (!s) return;
  if (!strpbrk(s, ",\"\r\n")) {
    db_buf_puts(b, s);
    return;
  }
  db_buf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"') db_buf_putc(b, '"');
    db_buf_putc(b, *s);
  }
  db_buf_putc(b, '"');
}

/* Appends the decimal digits of u, with a '.' before the last `decimals` of them (zero-padded). */
static void append_fixed(db_buf *b, int negative, uint64_t u, int decimals) {
  char tmp[32], *end = tmp + sizeof tmp, *p = end;
  for (int k = 0; k < decimals; k++, u /= 10) *--p = (char)('0' + u % 10);
  if (decimals) *--p = '.';
  do *--p = (char)('0' + u % 10); while (u /= 10);
  if (negative) *--p = '-';
  db_buf_append(b, p, (size_t)(end - p));
}

void db_buf_double(db_buf *b, double v) {
  /* Fast path, exact: the fewest decimals d (0..6) for which v is the double nearest to n / 10^d.
   * n and 10^d are exact doubles and IEEE division rounds correctly, so n / 10^d == v proves that
   * the text reads back to v (it is the same text %.15g gives in this range). */
  static const double pow10[] = {1, 10, 100, 1000, 1e4, 1e5, 1e6};
  double a = fabs(v);
  if (a < 1e15 && (a >= 1e-3 || a == 0) && !(v == 0 && signbit(v))) {
    for (int d = 0; d <= 6 && a * pow10[d] < 9e15; d++) { /* scaled stays an exact integer (< 2^53) */
      double scaled = nearbyint(a * pow10[d]);
      if (scaled / pow10[d] == a) {
        append_fixed(b, v < 0, (uint64_t)scaled, d);
        return;
      }
    }
  }
  char tmp[32];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  db_buf_puts(b, tmp);
}

void db_buf_clear(db_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

const char *db_buf_str(const db_buf *b) { return b->data ? b->data : ""; }

char *db_buf_take(db_buf *b) {
  char *s = b->data ? b->data : db_strdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return s;
}

void db_buf_free(db_buf *b) {
  db_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int db_buf_read_file(db_buf *b, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return DB_EIO;
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) db_buf_append(b, chunk, got);
  int failed = ferror(f);
  fclose(f);
  return failed ? DB_EIO : DB_OK;
}
