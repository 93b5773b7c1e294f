/* diag.c - problem lists. */
#include "base/diag.h"

#include <stdarg.h>

#include "base/buf.h"
#include "base/mem.h"

int db_diag_add(db_diag *d, long line, int column, const char *path, int code, const char *fmt, ...) {
  size_t limit = d->limit ? d->limit : DB_DIAG_DEFAULT_LIMIT;
  if (d->count >= limit) {
    d->dropped++;
    return code;
  }
  if (d->count == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 8;
    d->items = db_realloc(d->items, d->cap * sizeof *d->items);
  }
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  d->items[d->count++] = (db_problem){line, column, db_strdup(path), code, db_buf_take(&msg)};
  return code;
}

size_t db_diag_total(const db_diag *d) { return d->count + d->dropped; }

void db_diag_print(const db_diag *d, FILE *out, const char *source) {
  for (size_t i = 0; i < d->count; i++) {
    const db_problem *p = &d->items[i];
    if (source) fprintf(out, "%s: ", source);
    if (p->line) fprintf(out, "line %ld, ", p->line);
    if (p->column) fprintf(out, "column %d, ", p->column);
    if (p->path) fprintf(out, "%s: ", p->path);
    fprintf(out, "%s\n", p->message);
  }
  if (d->dropped) fprintf(out, "%s%s... and %zu more problems\n", source ? source : "", source ? ": " : "", d->dropped);
}

void db_diag_clear(db_diag *d) {
  for (size_t i = 0; i < d->count; i++) {
    db_free(d->items[i].path);
    db_free(d->items[i].message);
  }
  d->count = 0;
  d->dropped = 0;
}

void db_diag_free(db_diag *d) {
  db_diag_clear(d);
  db_free(d->items);
  d->items = NULL;
  d->cap = 0;
}
