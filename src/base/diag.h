/* diag.h - the list of problems found in one piece of input.
 *
 * Parsers, validators and importers never stop at the first problem: they add every problem to a
 * db_diag, each with where it is (a line and column of a file, or a JSON path) and why, and the caller
 * decides (an import is refused whole when the list is not empty). The list keeps at most `limit`
 * problems (0 = DB_DIAG_DEFAULT_LIMIT) and counts the rest in `dropped`, so a million bad rows cannot
 * exhaust memory. A db_diag owns its strings; db_diag_free releases them. Not thread-safe. */
#ifndef DB_DIAG_H
#define DB_DIAG_H
#include <stddef.h>
#include <stdio.h>

#define DB_DIAG_DEFAULT_LIMIT 1000

typedef struct db_problem {
  long line;     /* 1-based line of the input, 0 when not applicable */
  int column;    /* 1-based column (CSV field number or character position), 0 when not applicable */
  char *path;    /* JSON path or column name ("$.rows[3].value", "period"), NULL when not applicable */
  int code;      /* a DB_E* code classifying the problem */
  char *message; /* human-readable reason, never NULL */
} db_problem;

typedef struct db_diag {
  db_problem *items;
  size_t count, cap;
  size_t limit;   /* maximum kept; 0 = DB_DIAG_DEFAULT_LIMIT */
  size_t dropped; /* problems beyond the limit, counted but not kept */
} db_diag;

#define DB_DIAG_INIT {NULL, 0, 0, 0, 0}

/* Adds a problem; returns `code` so that callers can write `return db_diag_add(...)`. */
int db_diag_add(db_diag *d, long line, int column, const char *path, int code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Total number of problems, kept and dropped. */
size_t db_diag_total(const db_diag *d);
/* Writes one problem a line: "line 3, column 2 (period): unknown period type". */
void db_diag_print(const db_diag *d, FILE *out, const char *source);
void db_diag_clear(db_diag *d);
void db_diag_free(db_diag *d);

#endif
