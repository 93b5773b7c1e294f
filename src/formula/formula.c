/* formula.c - what every stage of the formula module shares: the arena its trees live in, problem
 * positions, the arithmetic of missing values, and the accessors of a db_formula (contracts in
 * formula.h and formula_int.h). */
#include <math.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "formula/formula_int.h"

/* ---- arena ---- */
#define BLOCK_SIZE 8192

struct db__fblock {
  db__fblock *next;
  size_t used, cap;
  alignas(max_align_t) unsigned char data[];
};

void *db__farena_alloc(db__farena *a, size_t n) {
  n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
  db__fblock *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > BLOCK_SIZE ? n : BLOCK_SIZE;
    b = db_malloc(sizeof *b + cap);
    b->next = a->head;
    b->used = 0;
    b->cap = cap;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *db__farena_strndup(db__farena *a, const char *s, size_t n) {
  char *p = db__farena_alloc(a, n + 1);
  memcpy(p, s, n);
  return p;
}

void db__farena_free(db__farena *a) {
  while (a->head) {
    db__fblock *next = a->head->next;
    db_free(a->head);
    a->head = next;
  }
}

/* ---- problems ---- */
int db__formula_problem(db_diag *d, int multiline, db__fpos pos, int code, const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  db_diag_add(d, multiline ? pos.line : 0, pos.column, NULL, code, "%s", db_buf_str(&msg));
  db_buf_free(&msg);
  return code;
}

void db_formula_describe(const db_problem *p, db_buf *out) {
  if (p->line) db_buf_printf(out, "line %ld, ", p->line);
  if (p->column) db_buf_printf(out, "column %d: ", p->column);
  db_buf_puts(out, p->message);
}

/* ---- arithmetic ---- */
double db__farith(db_ftok op, double a, double b) {
  if (isnan(a) || isnan(b)) return NAN;
  double r;
  switch (op) {
    case DB_FTOK_PLUS:
      r = a + b;
      break;
    case DB_FTOK_MINUS:
      r = a - b;
      break;
    case DB_FTOK_STAR:
      r = a * b;
      break;
    case DB_FTOK_SLASH:
      r = b == 0 ? NAN : a / b;
      break;
    case DB_FTOK_CARET:
      r = pow(a, b);
      break;
    case DB_FTOK_LT:
      return a < b;
    case DB_FTOK_LE:
      return a <= b;
    case DB_FTOK_EQ:
      return a == b;
    case DB_FTOK_NE:
      return a != b;
    case DB_FTOK_GE:
      return a >= b;
    case DB_FTOK_GT:
      return a > b;
    default:
      return NAN;
  }
  return isfinite(r) ? r : NAN;
}

/* The decimal point is moved in the decimal text of x (15 significant digits, what a reader sees)
 * rather than by multiplying, so that 2.675 rounds to 2.68 although 2.675 * 100 is 267.49999…. */
double db__fround(double x, int d) {
  if (!isfinite(x)) return NAN;
  char text[48];
  snprintf(text, sizeof text, "%.14e", x);
  char *e = strchr(text, 'e');
  int exp = atoi(e + 1);
  snprintf(e, sizeof text - (size_t)(e - text), "e%d", exp + d);
  double scaled = strtod(text, NULL);
  if (fabs(scaled) >= 0x1p52) return x; /* no fraction left to round */
  double scale = pow(10, d < 0 ? -d : d);
  double r = d < 0 ? round(scaled) * scale : round(scaled) / scale;
  return isfinite(r) ? r : NAN;
}

/* ---- accessors ---- */
void db_formula_free(db_formula *f) {
  if (!f) return;
  db_free(f->deps);
  db_free(f->text);
  db__farena_free(&f->arena);
  db_free(f);
}

const char *db_formula_text(const db_formula *f) { return f->text; }

db_ftype db_formula_type(const db_formula *f) { return f->type; }

const char *db_ftype_name(db_ftype t) {
  switch (t) {
    case DB_FT_NUMBER:
      return "number";
    case DB_FT_BOOL:
      return "boolean";
    case DB_FT_SCALAR:
      return "constant";
  }
  return "unchecked";
}

size_t db_formula_deps(const db_formula *f, const char *const **codes) {
  *codes = f->deps;
  return f->n_deps;
}

int db_formula_uses_forecast(const db_formula *f) { return f->type && f->uses_forecast; }

int db_formula_periodicity(const db_formula *f, db_period_type *type, int *span) {
  if (!f->has_periodicity) return DB_ENOTFOUND;
  *type = f->periodicity;
  *span = f->span;
  return 0;
}

/* ---- S-expressions ---- */
static void sexpr(const db__fnode *n, db_buf *out) {
  switch (n->kind) {
    case DB__N_NUM:
      db_buf_double(out, n->num);
      return;
    case DB__N_REF:
      db_buf_puts(out, n->name);
      for (size_t k = 0; k < n->n_sel; k++)
        db_buf_printf(out, "%c%s=%s", k ? ',' : '[', n->sel[k].dim, n->sel[k].item);
      if (n->n_sel) db_buf_putc(out, ']');
      if (n->unit) db_buf_printf(out, "@%s", n->unit);
      return;
    case DB__N_NEG:
      db_buf_puts(out, "(neg");
      break;
    case DB__N_NOT:
      db_buf_puts(out, "(not");
      break;
    case DB__N_BIN: {
      const char *name = db_ftok_name(n->op); /* "'+'" or "'and'": drop the quotes */
      db_buf_printf(out, "(%.*s", (int)strlen(name) - 2, name + 1);
      break;
    }
    case DB__N_CALL:
      db_buf_printf(out, "(%s", n->name);
      break;
  }
  for (size_t k = 0; k < n->n_args; k++) {
    db_buf_putc(out, ' ');
    sexpr(n->args[k], out);
  }
  db_buf_putc(out, ')');
}

void db_formula_sexpr(const db_formula *f, db_buf *out) { sexpr(f->root, out); }
