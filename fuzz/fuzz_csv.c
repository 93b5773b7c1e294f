/* fuzz_csv.c - libFuzzer target for the CSV reader (src/ingest/csv.c).
 *
 * The first input byte picks the record limit (1 to 256 bytes, so the reader's buffer is a few
 * hundred bytes and refills fall everywhere); the rest is read to its end through db_csv_open_mem.
 * Checked for every input, besides the sanitizers' checks on every field byte:
 *   - db_csv_next answers only 1, 0 or DB_EINVAL, and every DB_EINVAL left a problem in the diag,
 *     each with a line and a column;
 *   - records come in order of line, each line at most the input's line count;
 *   - a good record has at least one field, fits the limit, holds valid UTF-8, and its unquoted fields
 *     hold no delimiter, quote, CR or LF; field bytes sum to no more than the input;
 *   - the reader consumes the whole input (db_csv_offset == db_csv_size at the end);
 *   - writing the good records back as CSV (quoting the fields that were quoted) and reading that
 *     again gives the same fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/text.h"
#include "ingest/csv.h"

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "fuzz_csv: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                             \
    }                                                                      \
  } while (0)

/* Appends one record as CSV: quoted fields in quotes with their quotes doubled. */
static void write_record(db_buf *out, const db_csv_field *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i) db_buf_putc(out, ',');
    if (!f[i].quoted) {
      db_buf_append(out, f[i].p, f[i].len);
      continue;
    }
    db_buf_putc(out, '"');
    for (size_t j = 0; j < f[i].len; j++) {
      if (f[i].p[j] == '"') db_buf_putc(out, '"');
      db_buf_putc(out, f[i].p[j]);
    }
    db_buf_putc(out, '"');
  }
  db_buf_putc(out, '\n');
}

/* Reads `out` (what write_record produced) and checks it against the fields recorded in `flat`:
 * per record the field count, then per field its quoted flag, length and bytes. */
static void check_round_trip(const db_buf *out, const db_buf *flat) {
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  CHECK(db_csv_open_mem(db_buf_str(out), out->len, NULL, &d, &r) == 0);
  const char *p = db_buf_str(flat), *end = p + flat->len;
  db_csv_field *f;
  size_t n;
  long line;
  int rc;
  while ((rc = db_csv_next(r, &f, &n, &line)) == 1) {
    size_t want_n;
    CHECK(p + sizeof want_n <= end);
    memcpy(&want_n, p, sizeof want_n);
    p += sizeof want_n;
    CHECK(n == want_n);
    for (size_t i = 0; i < n; i++) {
      size_t len;
      CHECK(p + 1 + sizeof len <= end);
      CHECK(f[i].quoted == *p++);
      memcpy(&len, p, sizeof len);
      p += sizeof len;
      CHECK(f[i].len == len && p + len <= end && memcmp(f[i].p, p, len) == 0);
      p += len;
    }
  }
  CHECK(rc == 0 && p == end && d.count == 0);
  db_csv_close(r);
  db_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  db_csv_options o = {0, (size_t)data[0] + 1};
  const char *in = (const char *)data + 1;
  size_t len = size - 1, input_lines = 1;
  for (size_t i = 0; i < len; i++) input_lines += in[i] == '\n';

  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  CHECK(db_csv_open_mem(in, len, &o, &d, &r) == 0);
  CHECK(db_csv_size(r) == len);
  db_buf out = DB_BUF_INIT, flat = DB_BUF_INIT;
  db_buf_putc(&out, '\n'); /* so that a first field starting with U+FEFF is not taken for a BOM */
  db_csv_field *f;
  size_t n, total = 0, bad = 0;
  long line, last_line = 0;
  uint64_t offset = 0;
  int rc;
  while ((rc = db_csv_next(r, &f, &n, &line)) != 0) {
    CHECK(rc == 1 || rc == DB_EINVAL);
    CHECK(line > last_line && (size_t)line <= input_lines);
    last_line = line;
    CHECK(db_csv_offset(r) > offset && db_csv_offset(r) <= len);
    offset = db_csv_offset(r);
    if (rc == DB_EINVAL) {
      bad++;
      continue;
    }
    CHECK(n >= 1);
    size_t record = n - 1;
    db_buf_append(&flat, &n, sizeof n);
    for (size_t i = 0; i < n; i++) {
      CHECK(f[i].quoted == 0 || f[i].quoted == 1);
      CHECK(db_utf8_valid(f[i].p, f[i].len, NULL));
      if (!f[i].quoted)
        for (size_t j = 0; j < f[i].len; j++) CHECK(!memchr(",\"\r\n", f[i].p[j], 4));
      record += f[i].len;
      char q = (char)f[i].quoted;
      db_buf_putc(&flat, q);
      db_buf_append(&flat, &f[i].len, sizeof f[i].len);
      db_buf_append(&flat, f[i].p, f[i].len);
    }
    CHECK(record <= o.max_record_bytes);
    total += record - (n - 1);
    write_record(&out, f, n);
  }
  CHECK(total <= len);
  CHECK(db_csv_offset(r) == len);
  CHECK(db_diag_total(&d) >= bad);
  for (size_t i = 0; i < d.count; i++) CHECK(d.items[i].line >= 1 && d.items[i].column >= 1);
  db_csv_close(r);
  db_diag_free(&d);
  check_round_trip(&out, &flat);
  db_buf_free(&out);
  db_buf_free(&flat);
  return 0;
}
