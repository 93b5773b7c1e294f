/* xlsx.h - Excel workbooks of the API's tables: a route that answers CSV answers the same table as
 * XLSX (?format=xlsx), because agencies and leaders work in Excel. Written with libxlsxwriter.
 * Internal to the HTTP module (names db__h_*); same ownership rules as http.h. */
#ifndef DB_HTTP_XLSX_H
#define DB_HTTP_XLSX_H
#include <stddef.h>

#include "http/http.h"

#define DB__H_XLSX "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/* 1 when the request asks for XLSX (?format=xlsx, or an Accept header naming DB__H_XLSX); the handler
 * then builds its CSV answer and passes it to db__h_answer_xlsx. */
int db__h_wants_xlsx(const db_req *r);

/* Answers 200 with a workbook of one sheet named `sheet` holding the CSV table csv (len bytes, a header
 * row first, as the handlers write it): the header row bold and frozen, a field that is a whole decimal
 * number (C locale) stored as a number unless its column is one of text_columns (NULL-terminated list
 * of header names: codes such as "79" or "2025" stay text), every other field as text. An empty field
 * is an empty cell. Returns 0, or DB_EIO (the workbook could not be written; nothing answered). */
int db__h_answer_xlsx(db_resp *w, const char *csv, size_t len, const char *sheet, const char *const *text_columns);

#endif
