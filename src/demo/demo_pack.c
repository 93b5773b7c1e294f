/* demo_pack.c - reading the files of a data pack: paths, CSV files with named columns, numbers, and
 * problems that name the file and line; and the folding of Vietnamese names for matching, since the
 * GSO tables spell one province in several ways (precomposed or combining diacritics, "Hoà"/"Hòa",
 * "Đăk Lăk"/"Đắk Lắk"). */
#include <stdarg.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "demo/demo_int.h"

char *db__demo_path(const db__demo *dm, const char *file) {
  db_buf b = DB_BUF_INIT;
  db_buf_printf(&b, "%s/%s", dm->pack, file);
  return db_buf_take(&b);
}

void db__demo_problem(db__demo *dm, const char *file, long line, int column, int code, const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  db_diag_add(dm->diag, line, column, file, code, "%s", db_buf_str(&msg));
  db_buf_free(&msg);
  dm->failed = 1;
}

void db__demo_move_problems(db__demo *dm, const char *file, db_diag *from) {
  for (size_t i = 0; i < from->count; i++) {
    const db_problem *p = &from->items[i];
    db__demo_problem(dm, file, p->line, p->column, p->code, "%s%s%s", p->path ? p->path : "",
                     p->path ? ": " : "", p->message);
  }
  if (from->dropped)
    db__demo_problem(dm, file, 0, 0, DB_EINVAL, "%zu more problems in this file", from->dropped);
  db_diag_clear(from);
}

int db__demo_csv_open(db__demo *dm, const char *file, db__demo_csv *c) {
  memset(c, 0, sizeof *c);
  c->dm = dm;
  c->file = file;
  char *path = db__demo_path(dm, file);
  int rc = db_csv_open_file(path, NULL, &c->local, &c->r);
  db_free(path);
  if (rc != DB_OK) {
    if (c->local.count == 0)
      db__demo_problem(dm, file, 0, 0, rc, "cannot open the file: %s", db_strerror(rc));
    db__demo_csv_close(c); /* reports the reader's reason ("cannot open …: No such file") */
    return rc;
  }
  rc = db__demo_csv_next(c);
  if (rc != 1) {
    if (rc == 0) db__demo_problem(dm, file, 0, 0, DB_EINVAL, "the file is empty: a header row was expected");
    db__demo_csv_close(c);
    return rc == 0 ? DB_EINVAL : rc;
  }
  for (size_t i = 0; i < c->nf; i++) db_map_put(&c->columns, c->f[i].p, c->f[i].len, (int64_t)i);
  return DB_OK;
}

int db__demo_csv_col(db__demo_csv *c, const char *name) {
  int64_t i;
  if (db_map_gets(&c->columns, name, &i)) return (int)i;
  db__demo_problem(c->dm, c->file, 1, 0, DB_EINVAL, "the header has no column '%s'", name);
  return -1;
}

int db__demo_csv_next(db__demo_csv *c) {
  for (;;) {
    int rc = db_csv_next(c->r, &c->f, &c->nf, &c->line);
    db__demo_move_problems(c->dm, c->file, &c->local);
    db__demo_progress(c->dm, db_csv_offset(c->r));
    if (rc == DB_EINVAL) continue; /* the record is skipped; its problem is reported */
    return rc;
  }
}

/* The field `col` of the current record, or NULL when the record is too short (reported). */
static const db_csv_field *field(db__demo_csv *c, int col) {
  if (col >= 0 && (size_t)col < c->nf) return &c->f[col];
  db__demo_problem(c->dm, c->file, c->line, col + 1, DB_EINVAL,
                   "the record has %zu fields, column %d is missing", c->nf, col + 1);
  return NULL;
}

const char *db__demo_csv_text(db__demo_csv *c, int col, char *buf, size_t cap) {
  const db_csv_field *f = field(c, col);
  if (!f) return NULL;
  if (f->len >= cap) {
    db__demo_problem(c->dm, c->file, c->line, col + 1, DB_EINVAL,
                     "the field is %zu bytes long, more than %zu", f->len, cap - 1);
    return NULL;
  }
  memcpy(buf, f->p, f->len);
  buf[f->len] = '\0';
  return buf;
}

int db__demo_csv_is(db__demo_csv *c, int col, const char *s) {
  if (col < 0 || (size_t)col >= c->nf) return 0;
  size_t n = strlen(s);
  return c->f[col].len == n && memcmp(c->f[col].p, s, n) == 0;
}

int db__demo_csv_number(db__demo_csv *c, int col, double *v) {
  const db_csv_field *f = field(c, col);
  if (!f) return -1;
  size_t a = 0, b = f->len;
  while (a < b && f->p[a] == ' ') a++;
  while (b > a && f->p[b - 1] == ' ') b--;
  if (a == b || (b - a == 2 && f->p[a] == '.' && f->p[a + 1] == '.')) return 0;
  if (db_parse_double(f->p + a, b - a, v) == DB_OK) return 1;
  db__demo_problem(c->dm, c->file, c->line, col + 1, DB_EINVAL, "'%.*s' is not a number",
                   (int)(f->len > 40 ? 40 : f->len), f->p);
  return -1;
}

void db__demo_csv_close(db__demo_csv *c) {
  db__demo_move_problems(c->dm, c->file, &c->local);
  if (c->r) {
    c->dm->bytes_done += db_csv_size(c->r);
    c->dm->bytes_file = 0;
    db_csv_close(c->r);
  }
  c->r = NULL;
  db_diag_free(&c->local);
  db_map_free(&c->columns);
}

/* ---- folding ---- */

/* Base letters of U+00C0..U+01B0 and U+1EA0..U+1EF9 ('.' for what is not a letter), from Unicode's
 * canonical decompositions (Đ/đ, which have none, as D/d). */
static const char fold_latin[] =
    "AAAAAA.CEEEEIIII.NOOOOO..UUUUY..aaaaaa.ceeeeiiii.nooooo..uuuuy.yAaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHh.."
    "IiIiIiIiI."
    "..JjKk.LlLlLl....NnNnNn...OoOoOo..RrRrRrSsSsSsSsTtTt..UuUuUuUuUuUuWwYyYZzZzZz..........................."
    "......Oo."
    "............Uu";
static const char fold_viet[] =
    "AaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy";
_Static_assert(sizeof fold_latin == 0x1B0 - 0xC0 + 2, "one letter per code point U+00C0..U+01B0");
_Static_assert(sizeof fold_viet == 0x1EF9 - 0x1EA0 + 2, "one letter per code point U+1EA0..U+1EF9");

/* Decodes one UTF-8 sequence at s (valid or not); returns its length (1 for a bad byte). */
static size_t utf8_decode(const unsigned char *s, unsigned *cp) {
  if (s[0] < 0x80) return *cp = s[0], 1;
  if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) return *cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu), 2;
  if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80)
    return *cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu), 3;
  if ((s[0] & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80)
    return *cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu), 4;
  *cp = 0xFFFD;
  return 1;
}

void db__demo_fold(const char *s, char *out, size_t cap) {
  size_t n = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p && n + 1 < cap) {
    unsigned cp;
    p += utf8_decode(p, &cp);
    char ch = 0;
    if (cp < 0x80)
      ch = (char)cp;
    else if (cp >= 0xC0 && cp <= 0x1B0)
      ch = fold_latin[cp - 0xC0];
    else if (cp >= 0x1EA0 && cp <= 0x1EF9)
      ch = fold_viet[cp - 0x1EA0];
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) out[n++] = ch;
  }
  out[n] = '\0';
}
