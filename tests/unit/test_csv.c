/* test_csv.c - the CSV reader as a user meets it: the records and fields it returns (with their first
 * line and whether they were quoted), the exact problems it reports for broken input (line, field
 * number, message), and the same answers whatever the input source and wherever the buffer refills
 * fall. Every case reads a whole input and compares one rendering of it (see render). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "ingest/csv.h"

/* Appends a field's text with LF and CR shown as \n and \r, so a rendering stays one line a record. */
static void put_text(db_buf *out, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n')
      db_buf_puts(out, "\\n");
    else if (p[i] == '\r')
      db_buf_puts(out, "\\r");
    else
      db_buf_putc(out, p[i]);
  }
}

/* Reads r to its end and renders what a caller sees: a line "L<line>:" per record with its fields
 * separated by '|' (a quoted field inside double quotes), "L<line>:bad" for a record with a problem,
 * then every problem as "!<line>:<column>: <message>". Closes r. */
static char *render_reader(db_csv *r, db_diag *d) {
  db_buf out = DB_BUF_INIT;
  db_csv_field *f;
  size_t n;
  long line;
  int rc;
  while ((rc = db_csv_next(r, &f, &n, &line)) != 0) {
    assert_true(rc == 1 || rc == DB_EINVAL);
    db_buf_printf(&out, "L%ld:", line);
    if (rc == DB_EINVAL) db_buf_puts(&out, "bad");
    for (size_t i = 0; rc == 1 && i < n; i++) {
      if (i) db_buf_putc(&out, '|');
      if (f[i].quoted) db_buf_putc(&out, '"');
      put_text(&out, f[i].p, f[i].len);
      if (f[i].quoted) db_buf_putc(&out, '"');
    }
    db_buf_putc(&out, '\n');
  }
  assert_int_equal(db_csv_offset(r), db_csv_size(r));
  db_csv_close(r);
  for (size_t i = 0; i < d->count; i++)
    db_buf_printf(&out, "!%ld:%d: %s\n", d->items[i].line, d->items[i].column, d->items[i].message);
  return db_buf_take(&out);
}

/* Like assert_string_equal, but shows the first line that differs (renderings can be megabytes). */
static void assert_same(const char *got, const char *want) {
  size_t i = 0, line = 1, start = 0;
  for (; got[i] && got[i] == want[i]; i++)
    if (got[i] == '\n') line++, start = i + 1;
  if (!got[i] && !want[i]) return;
  fail_msg("rendering line %zu differs:\ngot:  %.200s\nwant: %.200s", line, got + start, want + start);
}

static char *render_mem(const char *in, size_t len, const db_csv_options *o) {
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  assert_int_equal(db_csv_open_mem(in, len, o, &d, &r), 0);
  char *s = render_reader(r, &d);
  db_diag_free(&d);
  return s;
}

/* Asserts that the NUL-terminated input renders as `want`, with default options or a record limit. */
static void expect_max(const char *in, size_t max, const char *want) {
  db_csv_options o = {0, max};
  char *got = render_mem(in, strlen(in), &o);
  assert_same(got, want);
  db_free(got);
}

static void expect(const char *in, const char *want) { expect_max(in, 0, want); }

static void test_plain_records(void **state) {
  expect("a,b,c\n1,,3\n", "L1:a|b|c\nL2:1||3\n");
  expect("x", "L1:x\n");
  expect("x,\n", "L1:x|\n");
  expect("x,", "L1:x|\n");
  expect(",", "L1:|\n");
  expect("a,b\nc,d", "L1:a|b\nL2:c|d\n");
  expect("", "");
  expect(" a , b \n", "L1: a | b \n");
}

static void test_line_ends_and_blank_lines(void **state) {
  expect("a,b\r\nc,d\r\n", "L1:a|b\nL2:c|d\n");
  expect("a\nb\r\nc", "L1:a\nL2:b\nL3:c\n");
  expect("\n\na\r\n\r\n\nb\n\n", "L3:a\nL6:b\n");
  expect("\n\r\n\n", "");
  expect("a\n\n", "L1:a\n");
}

static void test_byte_order_mark(void **state) {
  expect("\xEF\xBB\xBFid,name\r\n7,x\r\n", "L1:id|name\nL2:7|x\n");
  expect("\xEF\xBB\xBF", "");
  expect("\xEF\xBB\xBF\n\nz", "L3:z\n");
  /* only at the start of the input: later it is data (U+FEFF is valid UTF-8) */
  expect(
      "a\n\xEF\xBB\xBF"
      "b\n",
      "L1:a\nL2:\xEF\xBB\xBF"
      "b\n");
  /* half a mark is not one */
  expect("\xEF\xBB", "L1:bad\n!1:1: invalid UTF-8 at byte offset 0 of the field (byte 0xEF)\n");
}

static void test_quoted_fields(void **state) {
  expect("\"x,y\",\"say \"\"hi\"\"\",\"one\ntwo\",z\nnext\n",
         "L1:\"x,y\"|\"say \"hi\"\"|\"one\\ntwo\"|z\nL3:next\n");
  expect("\"a\r\nb\"\r\nc\r\n", "L1:\"a\\r\\nb\"\nL3:c\n");
  expect("\"a\"\r\n\"b\"", "L1:\"a\"\nL2:\"b\"\n");
  expect("\"\"\"\"", "L1:\"\"\"\n");
  expect("\"\"\"\"\"\"\"\",\"a\"\"\",\"\"\"b\"", "L1:\"\"\"\"\"|\"a\"\"|\"\"b\"\n");
  expect("\"\n\n\n\",x\ny\n", "L1:\"\\n\\n\\n\"|x\nL5:y\n");
  expect("a,\"\"", "L1:a|\"\"\n");
}

static void test_quoted_empty_is_not_blank(void **state) {
  const char *in = "\"\",,\"\"\n";
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  db_csv_field *f;
  size_t n;
  long line;
  assert_int_equal(db_csv_open_mem(in, strlen(in), NULL, &d, &r), 0);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 1);
  assert_int_equal(n, 3);
  assert_int_equal(f[0].len, 0);
  assert_int_equal(f[0].quoted, 1);
  assert_int_equal(f[1].len, 0);
  assert_int_equal(f[1].quoted, 0);
  assert_int_equal(f[2].len, 0);
  assert_int_equal(f[2].quoted, 1);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 0);
  db_csv_close(r);
  assert_int_equal(d.count, 0);
}

static void test_delimiter_option(void **state) {
  db_csv_options semi = {';', 0}, tab = {'\t', 0}, quote = {'"', 0};
  char *got = render_mem("a;b,c;\"d;e\"\n", 12, &semi);
  assert_string_equal(got, "L1:a|b,c|\"d;e\"\n");
  db_free(got);
  got = render_mem("a\tb, c\n", 7, &tab);
  assert_string_equal(got, "L1:a|b, c\n");
  db_free(got);
  db_diag d = DB_DIAG_INIT;
  db_csv *r = (db_csv *)&d; /* any non-NULL value: a failed open must set it to NULL */
  assert_int_equal(db_csv_open_mem("a", 1, &quote, &d, &r), DB_EINVAL);
  assert_null(r);
  assert_int_equal(d.count, 1);
  assert_string_equal(d.items[0].message, "CSV delimiter cannot be a quote, CR or LF");
  db_diag_free(&d);
}

static void test_unterminated_quote(void **state) {
  expect("a,b\nc,\"open\nmore\n",
         "L1:a|b\nL2:bad\n!2:2: quoted field is never closed (its opening quote is on this line)\n");
  expect(
      "x,\"ok\nfine\"\ny,\"never",
      "L1:x|\"ok\\nfine\"\nL3:bad\n!3:2: quoted field is never closed (its opening quote is on this line)\n");
  /* reported even when the record already had a problem: it explains why the input ended there */
  expect("a\"b,\"c\nd\n",
         "L1:bad\n!1:1: quote inside an unquoted field (quote the whole field and double the quote)\n"
         "!1:2: quoted field is never closed (its opening quote is on this line)\n");
}

static void test_text_after_closing_quote(void **state) {
  const char *msg = "text after the closing quote (a quote inside a quoted field must be doubled)";
  char want[400];
  snprintf(want, sizeof want, "L1:bad\nL2:ok\n!1:1: %s\n", msg);
  expect("\"ab\"c,d\nok\n", want);
  /* the line of the closing quote, not of the record */
  snprintf(want, sizeof want, "L1:bad\nL3:2\n!2:2: %s\n", msg);
  expect("1,\"a\nb\"x\n2\n", want);
  /* the rest of a bad record is read with the same quoting rules, so its quoted line end is no end */
  snprintf(want, sizeof want, "L1:bad\nL3:ok\n!1:1: %s\n", msg);
  expect("\"a\"b,\"c\nd\"\nok\n", want);
  /* a lone CR after the closing quote is text too */
  snprintf(want, sizeof want, "L1:bad\nL2:y\n!1:1: %s\n", msg);
  expect("\"x\"\r,z\ny\n", want);
}

static void test_bare_quote_and_carriage_return(void **state) {
  expect(
      "ab\"c,d\nok\n",
      "L1:bad\nL2:ok\n!1:1: quote inside an unquoted field (quote the whole field and double the quote)\n");
  expect("a,b,c\"d\n",
         "L1:bad\n!1:3: quote inside an unquoted field (quote the whole field and double the quote)\n");
  expect("a\rb,c\nok\n", "L1:bad\nL2:ok\n!1:1: carriage return not followed by a line feed\n");
  expect("a,b\r", "L1:bad\n!1:2: carriage return not followed by a line feed\n");
  expect("\r", "L1:bad\n!1:1: carriage return not followed by a line feed\n");
}

static void test_invalid_utf8(void **state) {
  expect("ok,\xC3\xA9t\xE9\n", "L1:bad\n!1:2: invalid UTF-8 at byte offset 3 of the field (byte 0xE9)\n");
  /* the line of the bad byte inside a quoted field that spans lines */
  expect("1,\"ok\n\xFF\"\nnext\n",
         "L1:bad\nL3:next\n!2:2: invalid UTF-8 at byte offset 3 of the field (byte 0xFF)\n");
  expect("\xC0\x80", "L1:bad\n!1:1: invalid UTF-8 at byte offset 0 of the field (byte 0xC0)\n");
  expect("a,b,\xED\xA0\x80", "L1:bad\n!1:3: invalid UTF-8 at byte offset 0 of the field (byte 0xED)\n");
  expect("Phường Bến Thành,Quận 1,\"Đặc khu \"\"Côn Đảo\"\"\"\n",
         "L1:Phường Bến Thành|Quận 1|\"Đặc khu \"Côn Đảo\"\"\n");
  /* a record after a non-ASCII one in the same stretch of input is still checked, and vice versa */
  expect("é\nx,\x80\ny\n",
         "L1:é\nL2:bad\nL3:y\n!2:2: invalid UTF-8 at byte offset 0 of the field (byte 0x80)\n");
}

static void test_record_limit(void **state) {
  expect_max("short\n0123456789abcdefXYZ\nnext\n", 16,
             "L1:short\nL2:bad\nL3:next\n!2:1: record longer than 16 bytes (skipped)\n");
  /* exactly at the limit, with either line end */
  expect_max("0123456789abcdef\n0123456789abcdef\r\n0123456789abcde", 16,
             "L1:0123456789abcdef\nL2:0123456789abcdef\nL3:0123456789abcde\n");
  expect_max("\"0123456789abcd\"\n", 16, "L1:\"0123456789abcd\"\n");
  expect_max("\"0123456789abcde\"\n", 16, "L1:bad\n!1:1: record longer than 16 bytes (skipped)\n");
  /* the column is the field that crosses the limit */
  expect_max("0123456789,abcdefgh\nok\n", 16, "L1:bad\nL2:ok\n!1:2: record longer than 16 bytes (skipped)\n");
  /* a skipped record ends at a line end outside quotes */
  expect_max("a,\"0123456789\nabcdefghijkl\nmnop\",b\nok\n", 16,
             "L1:bad\nL4:ok\n!1:2: record longer than 16 bytes (skipped)\n");
  /* many records near and at the limit, quoted first or last, with either line end, then one past
   * it: the buffer ends at every place in them, between CR and LF, just after a closing quote */
  db_buf in = DB_BUF_INIT, want = DB_BUF_INIT;
  for (int n = 0; n < 200; n++) {
    int len = 12 + n % 5, k = n % 3;
    const char *eol = n % 2 ? "\r\n" : "\n";
    long v = n % 10;
    if (k == 0) db_buf_printf(&in, "%02d,%0*ld%s", n % 100, len - 3, v, eol);
    if (k == 1) db_buf_printf(&in, "\"%02d\",%0*ld%s", n % 100, len - 5, v, eol);
    if (k == 2) db_buf_printf(&in, "%02d,\"%0*ld\"%s", n % 100, len - 5, v, eol);
    db_buf_printf(&want, "L%d:%s%02d%s|%s%0*ld%s\n", n + 1, k == 1 ? "\"" : "", n % 100, k == 1 ? "\"" : "",
                  k == 2 ? "\"" : "", k ? len - 5 : len - 3, v, k == 2 ? "\"" : "");
  }
  db_buf_puts(&in, "60,0123456789abcdefghijklm\r\n");
  db_buf_puts(&want, "L201:bad\n");
  for (size_t max = 16; max < 24; max++) { /* buffers of 64 to 92 bytes: more places to end */
    char *w = db_strdup(db_buf_str(&want)), tail[80];
    snprintf(tail, sizeof tail, "!201:2: record longer than %zu bytes (skipped)\n", max);
    w = db_realloc(w, strlen(w) + strlen(tail) + 1);
    strcat(w, tail);
    expect_max(db_buf_str(&in), max, w);
    db_free(w);
  }
  db_buf_free(&in);
  db_buf_free(&want);
}

/* Many kinds of problem in one file: each is reported once, in order, and every good record between
 * them is returned. */
static void test_every_problem_in_one_pass(void **state) {
  const char *in =
      "id,name\n"                                    /* 1 */
      "1,\"a\"b\n"                                   /* 2: text after the closing quote */
      "2,ok\n"                                       /* 3 */
      "3,x\"y\n"                                     /* 4: bare quote */
      "\n"                                           /* 5 */
      "4,\xFF\n"                                     /* 6: invalid UTF-8 */
      "5,\"multi\nline\"\n"                          /* 7-8 */
      "6,a\rb\n"                                     /* 9: bare CR */
      "7,0123456789012345678901234567890123456789\n" /* 10: over the 32-byte limit */
      "8,\"never closed\n"                           /* 11: swallows the rest */
      "9,z\n";
  expect_max(in, 32,
             "L1:id|name\nL2:bad\nL3:2|ok\nL4:bad\nL6:bad\nL7:5|\"multi\\nline\"\nL9:bad\nL10:bad\nL11:bad\n"
             "!2:2: text after the closing quote (a quote inside a quoted field must be doubled)\n"
             "!4:2: quote inside an unquoted field (quote the whole field and double the quote)\n"
             "!6:2: invalid UTF-8 at byte offset 0 of the field (byte 0xFF)\n"
             "!9:2: carriage return not followed by a line feed\n"
             "!10:2: record longer than 32 bytes (skipped)\n"
             "!11:2: quoted field is never closed (its opening quote is on this line)\n");
}

/* A generated input with its expected rendering: records of three fields (a number; a quoted field
 * cycling through doubled quotes, embedded LF, CRLF, delimiters, an empty string and Vietnamese text;
 * an unquoted run of letters or non-ASCII characters), LF or CRLF line ends, a blank line now and then,
 * and one record in `bad_every` carrying an invalid byte. */
typedef struct gen {
  db_buf in, want, problems;
  long line;
  long bad_every;
} gen;

static void gen_record(gen *g, long n) {
  static const char *raw[] = {"a\"\"b", "x\ny", "p,q", "", "c\r\nd", "Thủ Đức", "\"\"\"\""};
  static const char *val[] = {"a\"b", "x\\ny", "p,q", "", "c\\r\\nd", "Thủ Đức", "\"\""};
  static const int lines[] = {0, 1, 0, 0, 1, 0, 0};
  int k = (int)(n % 7);
  char tail[64] = "";
  for (long j = 0; j < n % 9; j++) strcat(tail, n % 4 ? "t" : "ờ");
  int bad = n % g->bad_every == 13;
  db_buf_printf(&g->in, "%ld,\"%s\",%s%s%s", n, raw[k], bad ? "\xFF" : "", tail, n % 3 ? "\n" : "\r\n");
  if (bad) {
    db_buf_printf(&g->want, "L%ld:bad\n", g->line);
    db_buf_printf(&g->problems, "!%ld:3: invalid UTF-8 at byte offset 0 of the field (byte 0xFF)\n",
                  g->line + lines[k]);
  } else {
    db_buf_printf(&g->want, "L%ld:%ld|\"%s\"|%s\n", g->line, n, val[k], tail);
  }
  g->line += 1 + lines[k];
  if (n % 11 == 5) {
    db_buf_puts(&g->in, n % 2 ? "\n" : "\r\n");
    g->line++;
  }
}

static char *gen_expected(gen *g) {
  db_buf_puts(&g->want, db_buf_str(&g->problems));
  return db_buf_take(&g->want);
}

static void gen_free(gen *g) {
  db_buf_free(&g->in);
  db_buf_free(&g->want);
  db_buf_free(&g->problems);
}

/* With a record limit of 64 bytes the buffer is a few hundred bytes, so refills fall at every
 * position of every kind of record: inside quoted fields, between the two quotes of a pair, between
 * CR and LF, inside a multi-byte character. Memory and file input must both read it right. */
static void test_refills_everywhere(void **state) {
  gen g = {DB_BUF_INIT, DB_BUF_INIT, DB_BUF_INIT, 1, 97};
  for (long n = 0; n < 5000; n++) gen_record(&g, n);
  char *want = gen_expected(&g);
  const char *in = db_buf_str(&g.in);
  size_t len = g.in.len;
  for (size_t max = 48; max <= 80; max += 8) {
    db_csv_options o = {0, max};
    char *got = render_mem(in, len, &o);
    assert_same(got, want);
    db_free(got);
  }
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "gen.csv");
  db_test_write_file(path, in);
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  db_csv_options o = {0, 64};
  assert_int_equal(db_csv_open_file(path, &o, &d, &r), 0);
  assert_int_equal(db_csv_size(r), len);
  char *got = render_reader(r, &d);
  assert_same(got, want);
  db_free(got);
  db_diag_free(&d);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
  db_free(want);
  gen_free(&g);
}

/* Default options over 10 MB: the 4 MiB buffer refills twice. The input is laid out so that the
 * first refill (at byte 4 MiB) falls between the two quotes of a doubled quote; whatever the buffer
 * size, records straddle it somewhere. */
static void test_large_input_with_default_buffer(void **state) {
  gen g = {DB_BUF_INIT, DB_BUF_INIT, DB_BUF_INIT, 1, 997}; /* under the diag's 1000 problems */
  long n = 0;
  const size_t boundary = (size_t)4 << 20;
  while (g.in.len < boundary - 100) gen_record(&g, n++);
  /* a record whose quoted field has a doubled quote at boundary-1 and boundary */
  size_t pad = boundary - 1 - (g.in.len + strlen("X,\""));
  db_buf_puts(&g.in, "X,\"");
  db_buf_printf(&g.want, "L%ld:X|\"", g.line);
  for (size_t j = 0; j < pad; j++) db_buf_putc(&g.in, 'p'), db_buf_putc(&g.want, 'p');
  assert_int_equal(g.in.len, boundary - 1);
  db_buf_puts(&g.in, "\"\"q\"\n");
  db_buf_puts(&g.want, "\"q\"\n");
  g.line++;
  while (g.in.len < (size_t)10 << 20) gen_record(&g, n++);
  char *want = gen_expected(&g);
  char *got = render_mem(db_buf_str(&g.in), g.in.len, NULL);
  assert_same(got, want);
  db_free(got);
  db_free(want);
  gen_free(&g);
}

/* Reads `in` with a 64 KiB limit, asserting that the reader's memory stays under 1 MiB throughout. */
static char *render_bounded(const char *in, size_t len) {
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  db_csv_options o = {0, 64 << 10};
  size_t before = db_mem_used();
  assert_int_equal(db_csv_open_mem(in, len, &o, &d, &r), 0);
  db_buf out = DB_BUF_INIT;
  db_csv_field *f;
  size_t n;
  long line;
  int rc;
  while ((rc = db_csv_next(r, &f, &n, &line)) != 0) {
    assert_true(db_mem_used() - before < (1 << 20));
    db_buf_printf(&out, "L%ld:", line);
    if (rc == 1)
      db_buf_append(&out, f[0].p, f[0].len);
    else
      db_buf_puts(&out, "bad");
    db_buf_putc(&out, '\n');
  }
  db_csv_close(r);
  for (size_t i = 0; i < d.count; i++)
    db_buf_printf(&out, "!%ld:%d: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
  db_diag_free(&d);
  return db_buf_take(&out);
}

static void test_ten_megabyte_line(void **state) {
  const size_t big = 10 << 20;
  char *in = db_malloc(big + 64);
  strcpy(in, "first\n");
  size_t len = strlen(in);
  memset(in + len, 'x', big);
  len += big;
  strcpy(in + len, "\nnext,1\n");
  len += strlen("\nnext,1\n");
  char *got = render_bounded(in, len);
  assert_string_equal(got, "L1:first\nL2:bad\nL3:next\n!2:1: record longer than 65536 bytes (skipped)\n");
  db_free(got);
  /* the same as one quoted field of 10 MB over many lines: skipped whole */
  in[6] = '"';
  for (size_t j = 1000; j < big; j += 1000) in[6 + j] = '\n';
  in[6 + big - 1] = '"';
  got = render_bounded(in, len);
  assert_string_equal(got, "L1:first\nL2:bad\nL10488:next\n!2:1: record longer than 65536 bytes (skipped)\n");
  db_free(got);
  db_free(in);
}

/* A record within a large limit but larger than the buffer: the buffer grows, the fields move with
 * it, and the record after it is read as usual. The record also has more fields than the reader
 * keeps room for at first. */
static void test_record_larger_than_buffer(void **state) {
  const size_t big = 6 << 20;
  db_buf in = DB_BUF_INIT;
  size_t len = 0, lines = 0; /* of the first field's value */
  db_buf_puts(&in, "\"");
  for (size_t j = 0; j < big / 8; j++) {
    db_buf_puts(&in, j % 100 ? "abc\"\"def" : "abcd\nefg");
    len += j % 100 ? 7 : 8;
    lines += j % 100 == 0;
  }
  db_buf_puts(&in, "\"");
  for (int j = 1; j <= 100; j++) db_buf_printf(&in, ",f%d", j);
  db_buf_puts(&in, "\nlast,1\n");
  db_csv_options o = {0, 8 << 20};
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  db_csv_field *f;
  size_t n;
  long line;
  assert_int_equal(db_csv_open_mem(db_buf_str(&in), in.len, &o, &d, &r), 0);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 1);
  assert_int_equal(line, 1);
  assert_int_equal(n, 101);
  assert_int_equal(f[0].quoted, 1);
  assert_int_equal(f[0].len, len);
  assert_memory_equal(f[0].p, "abcd\nefgabc\"def", 15);
  assert_memory_equal(f[100].p, "f100", f[100].len);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 1);
  assert_int_equal(line, 1 + lines + 1);
  assert_memory_equal(f[0].p, "last", 4);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 0);
  assert_int_equal(d.count, 0);
  db_csv_close(r);
  db_buf_free(&in);
}

static void test_file_input_and_progress(void **state) {
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "units.csv");
  const char *text =
      "\xEF\xBB\xBF"
      "code,name\r\n26734,\"Phường Sài Gòn\"\r\n\r\n26737,Tân Định\r\n";
  db_test_write_file(path, text);
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  db_csv_field *f;
  size_t n;
  long line;
  assert_int_equal(db_csv_open_file(path, NULL, &d, &r), 0);
  assert_int_equal(db_csv_size(r), strlen(text));
  assert_int_equal(db_csv_offset(r), 0);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 1);
  assert_int_equal(line, 1);
  assert_int_equal(n, 2);
  assert_memory_equal(f[0].p, "code", 4);
  assert_int_equal(db_csv_offset(r), 3 + strlen("code,name\r\n"));
  assert_int_equal(db_csv_next(r, &f, &n, &line), 1);
  assert_int_equal(line, 2);
  assert_int_equal(f[1].len, strlen("Phường Sài Gòn"));
  assert_memory_equal(f[1].p, "Phường Sài Gòn", f[1].len);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 1);
  assert_int_equal(line, 4);
  assert_int_equal(f[1].len, strlen("Tân Định"));
  assert_memory_equal(f[1].p, "Tân Định", f[1].len);
  assert_int_equal(db_csv_next(r, &f, &n, &line), 0);
  assert_int_equal(db_csv_offset(r), strlen(text));
  assert_int_equal(db_csv_next(r, &f, &n, &line), 0);
  db_csv_close(r);
  assert_int_equal(d.count, 0);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

static void test_open_failures(void **state) {
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "missing.csv");
  db_diag d = DB_DIAG_INIT;
  db_csv *r = (db_csv *)&d; /* any non-NULL value: a failed open must set it to NULL */
  assert_int_equal(db_csv_open_file(path, NULL, &d, &r), DB_EIO);
  assert_null(r);
  char want[4200];
  snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
  assert_string_equal(d.items[0].message, want);
  assert_int_equal(d.items[0].code, DB_EIO);
  assert_int_equal(db_csv_open_file(dir, NULL, &d, &r), DB_EIO);
  assert_string_equal(d.items[1].message, "cannot read the input: it is a directory");
  db_diag_free(&d);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

/* A descriptor that cannot be read: DB_EIO with the reason, and the reader stays stopped. */
static void test_read_error(void **state) {
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "w.csv");
  db_test_write_file(path, "a,b\n");
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  db_csv_field *f;
  size_t n;
  long line;
  assert_int_equal(db_csv_open_fd(fd, NULL, &d, &r), 0);
  assert_int_equal(db_csv_next(r, &f, &n, &line), DB_EIO);
  assert_int_equal(db_csv_next(r, &f, &n, &line), DB_EIO);
  assert_int_equal(d.count, 1);
  assert_string_equal(d.items[0].message, "cannot read the input: Bad file descriptor");
  db_csv_close(r);
  close(fd);
  db_diag_free(&d);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

/* A pipe: unknown size, short reads; the records are the same. */
static void test_pipe_input(void **state) {
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "p.csv");
  db_test_write_file(path, "ind,ou\r\nPM25,\"79\"\r\n\nCPI_YOY,VN");
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "cat '%s'", path);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  db_diag d = DB_DIAG_INIT;
  db_csv *r;
  assert_int_equal(db_csv_open_fd(fileno(p), NULL, &d, &r), 0);
  assert_int_equal(db_csv_size(r), 0);
  db_csv_field *f;
  size_t n;
  long line;
  db_buf out = DB_BUF_INIT;
  while (db_csv_next(r, &f, &n, &line) == 1) {
    db_buf_printf(&out, "L%ld:", line);
    for (size_t i = 0; i < n; i++) db_buf_printf(&out, "%s%.*s", i ? "|" : "", (int)f[i].len, f[i].p);
    db_buf_putc(&out, '\n');
  }
  assert_string_equal(db_buf_str(&out), "L1:ind|ou\nL2:PM25|79\nL4:CPI_YOY|VN\n");
  assert_int_equal(db_csv_offset(r), strlen("ind,ou\r\nPM25,\"79\"\r\n\nCPI_YOY,VN"));
  db_csv_close(r);
  assert_int_equal(pclose(p), 0);
  db_buf_free(&out);
  db_diag_free(&d);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_records),
      cmocka_unit_test(test_line_ends_and_blank_lines),
      cmocka_unit_test(test_byte_order_mark),
      cmocka_unit_test(test_quoted_fields),
      cmocka_unit_test(test_quoted_empty_is_not_blank),
      cmocka_unit_test(test_delimiter_option),
      cmocka_unit_test(test_unterminated_quote),
      cmocka_unit_test(test_text_after_closing_quote),
      cmocka_unit_test(test_bare_quote_and_carriage_return),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_record_limit),
      cmocka_unit_test(test_every_problem_in_one_pass),
      cmocka_unit_test(test_refills_everywhere),
      cmocka_unit_test(test_large_input_with_default_buffer),
      cmocka_unit_test(test_ten_megabyte_line),
      cmocka_unit_test(test_record_larger_than_buffer),
      cmocka_unit_test(test_file_input_and_progress),
      cmocka_unit_test(test_open_failures),
      cmocka_unit_test(test_read_error),
      cmocka_unit_test(test_pipe_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
