/* xlsx.c - CSV tables of the API turned into XLSX workbooks (xlsx.h). libxlsxwriter writes a workbook
 * to a file only: it is written to a private temporary file (mkstemp under $TMPDIR or /tmp), read back
 * into the answer and removed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "http/xlsx.h"
#include "ingest/csv.h"

#define MAX_COLUMNS 256

int db__h_wants_xlsx(const db_req *r) {
  const char *f = db_req_query(r, "format"), *accept = db_req_header(r, "Accept");
  if (f) return strcmp(f, "xlsx") == 0;
  return accept && strstr(accept, DB__H_XLSX) != NULL;
}

/* A field as a finite number when it is one whole decimal number (no hex, no "inf", no spaces). */
static int as_number(const char *s, size_t len, double *out) {
  char tmp[64];
  if (!len || len >= sizeof tmp) return 0;
  for (size_t i = 0; i < len; i++)
    if (!strchr("0123456789+-.eE", s[i])) return 0;
  memcpy(tmp, s, len);
  tmp[len] = '\0';
  char *end;
  errno = 0;
  double v = strtod(tmp, &end);
  if (*end || errno || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

static int in_list(const char *name, const char *const *list) {
  for (; list && *list; list++)
    if (strcmp(name, *list) == 0) return 1;
  return 0;
}

/* Writes the CSV table into the worksheet. Returns 0 or DB_EIO. */
static int write_sheet(lxw_worksheet *ws, lxw_format *bold, const char *csv, size_t len,
                       const char *const *text_columns) {
  db_diag d = DB_DIAG_INIT;
  db_csv *reader = NULL;
  db_csv_field *f;
  size_t n;
  long line;
  int text[MAX_COLUMNS] = {0}, rc, err = 0;
  lxw_row_t row = 0;
  db_buf cell = DB_BUF_INIT;
  if (db_csv_open_mem(csv, len, NULL, &d, &reader) != 0) {
    err = DB_EIO;
    goto done;
  }
  while ((rc = db_csv_next(reader, &f, &n, &line)) == 1) {
    for (size_t c = 0; c < n && c < MAX_COLUMNS; c++) {
      db_buf_clear(&cell);
      db_buf_append(&cell, f[c].p, f[c].len);
      const char *s = db_buf_str(&cell);
      double v;
      if (row == 0) {
        text[c] = in_list(s, text_columns);
        worksheet_write_string(ws, 0, (lxw_col_t)c, s, bold);
      } else if (!f[c].len) {
        continue;
      } else if (!text[c] && !f[c].quoted && as_number(f[c].p, f[c].len, &v)) {
        worksheet_write_number(ws, row, (lxw_col_t)c, v, NULL);
      } else {
        worksheet_write_string(ws, row, (lxw_col_t)c, s, NULL);
      }
    }
    row++;
  }
  if (rc != 0) err = DB_EIO; /* the handlers' own CSV: cannot happen */
  worksheet_freeze_panes(ws, 1, 0);
done:
  db_buf_free(&cell);
  if (reader) db_csv_close(reader);
  db_diag_free(&d);
  return err;
}

int db__h_answer_xlsx(db_resp *w, const char *csv, size_t len, const char *sheet, const char *const *text_columns) {
  const char *dir = getenv("TMPDIR");
  db_buf path = DB_BUF_INIT, out = DB_BUF_INIT;
  db_buf_printf(&path, "%s/databrain-XXXXXX.xlsx", dir && *dir ? dir : "/tmp");
  char *p = db_buf_take(&path);
  int fd = mkstemps(p, 5), err = 0;
  if (fd < 0) {
    fprintf(stderr, "databrain serve: xlsx: cannot make a temporary file %s: %s\n", p, strerror(errno));
    db_free(p);
    return DB_EIO;
  }
  close(fd);
  lxw_workbook *wb = workbook_new(p);
  if (!wb) {
    err = DB_EIO;
    goto done;
  }
  lxw_worksheet *ws = workbook_add_worksheet(wb, sheet);
  lxw_format *bold = workbook_add_format(wb);
  format_set_bold(bold);
  err = ws ? write_sheet(ws, bold, csv, len, text_columns) : DB_EIO;
  if (workbook_close(wb) != LXW_NO_ERROR && !err) err = DB_EIO;
  if (!err) err = db_buf_read_file(&out, p);
  if (!err) db_resp_text(w, 200, DB__H_XLSX, out.data ? out.data : "", out.len);
done:
  unlink(p);
  db_free(p);
  db_buf_free(&out);
  return err;
}
