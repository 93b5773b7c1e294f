/* h_util.h - what the handlers share: who sees which indicators, the format of a request body, JSON
 * bodies, one-problem answers, and answers written through a FILE.
 * Internal to the HTTP module (names db__h_*). Same rules as http.h: everything lives until the handler
 * returns; answers go into the db_resp. */
#ifndef DB_HTTP_H_UTIL_H
#define DB_HTTP_H_UTIL_H
#include <stdio.h>

#include "http/http.h"

#define DB__H_CSV "text/csv; charset=utf-8"

/* 1 when the caller sees every indicator (analyst and above, reporters included); 0 for the public
 * role and anonymous callers. */
int db__h_sees_all(const db_req *r);
/* 1 when the caller may see indicator ind (a public indicator, or a caller who sees all); 0 for NULL. */
int db__h_visible(const db_req *r, const db_indicator *ind);

/* The format of the request body from its Content-Type: "json" (application/json) or "csv" (text/csv,
 * application/csv). Otherwise answers 415 and returns NULL. */
const char *db__h_body_format(const db_req *r, db_resp *w);

/* The request body as a JSON document: it must come as application/json (else 415) and parse, duplicate
 * members refused (else 400 with the parser's line and column), and with `object` be a JSON object (else
 * 400). An empty body stands for the text `empty` when that is not NULL ("{}" for a route whose body is
 * optional), whatever its Content-Type. Returns the document (owned: json_decref), or NULL after
 * answering. */
json_t *db__h_json_body(const db_req *r, db_resp *w, int object, const char *empty);

/* Answers a problem of `status` (400, 404, 409, 413, 415) with one error at `where` (a query parameter,
 * a path parameter or a JSON path). Returns 0, the handler's "answered". */
int db__h_problem(db_resp *w, int status, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Copies the problems of `in` to `out` (initialised by the caller) with each location in the path, which
 * is what a problem answer shows: a JSON path stays as it is; a line and column of a CSV document
 * become "line 3, column 4 (value)" (the column's name kept after them). */
void db__h_locate(const db_diag *in, db_diag *out);

/* Runs write(ctx, out) on a FILE that collects in memory, then answers 200 with what it wrote as
 * content_type. Returns 0, or the writer's error (DB_ENOMEM when no FILE could be made), and then
 * answers nothing. */
int db__h_answer_stream(db_resp *w, const char *content_type, int (*write)(void *ctx, FILE *out), void *ctx);

/* Appends s as a JSON string (quoted, escaped) to b: for answers too large to build as a jansson tree. */
void db__h_json_string(db_buf *b, const char *s);

#endif
