/* h_util.c - helpers of the catalog and data handlers (contract in h_util.h). */
#include "http/h_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/mem.h"

int db__h_sees_all(const db_req *r) { return db_auth_allows(&r->who, DB_PERM_READ); }

int db__h_visible(const db_req *r, const db_indicator *ind) {
  return ind && (ind->is_public || db__h_sees_all(r));
}

const char *db__h_body_format(const db_req *r, db_resp *w) {
  const char *ct = r->content_type ? r->content_type : "";
  if (strcasecmp(ct, "application/json") == 0) return "json";
  if (strcasecmp(ct, "text/csv") == 0 || strcasecmp(ct, "application/csv") == 0) return "csv";
  db__h_problem(w, 415, "Content-Type", "the body must be application/json or text/csv, not '%s'",
                *ct ? ct : "(none)");
  return NULL;
}

json_t *db__h_json_body(const db_req *r, db_resp *w, int object, const char *empty) {
  const char *text = r->body;
  size_t len = r->body_len;
  if (!len && empty) {
    text = empty;
    len = strlen(empty);
  } else if (strcasecmp(r->content_type ? r->content_type : "", "application/json") != 0) {
    db__h_problem(w, 415, "Content-Type", "the body must be application/json, not '%s'",
                  r->content_type && *r->content_type ? r->content_type : "(none)");
    return NULL;
  }
  json_error_t je;
  json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!doc) {
    db__h_problem(w, 400, "$", "the body is not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    return NULL;
  }
  if (object && !json_is_object(doc)) {
    json_decref(doc);
    db__h_problem(w, 400, "$", "the body must be a JSON object");
    return NULL;
  }
  return doc;
}

/* The title of a problem status. */
static const char *title_of(int status) {
  switch (status) {
    case 400: return "Bad request";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 409: return "Conflict";
    case 413: return "Content too large";
    case 415: return "Unsupported media type";
    default: return "Request refused";
  }
}

int db__h_problem(db_resp *w, int status, const char *where, const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  db_diag d = DB_DIAG_INIT;
  db_diag_add(&d, 0, 0, where, status == 404 ? DB_ENOTFOUND : DB_EINVAL, "%s", db_buf_str(&msg));
  db_resp_problem(w, status, title_of(status), db_buf_str(&msg), &d);
  db_diag_free(&d);
  db_buf_free(&msg);
  return 0;
}

void db__h_locate(const db_diag *in, db_diag *out) {
  db_buf where = DB_BUF_INIT;
  for (size_t i = 0; i < in->count; i++) {
    const db_problem *p = &in->items[i];
    db_buf_clear(&where);
    if (p->line) {
      db_buf_printf(&where, "line %ld", p->line);
      if (p->column) db_buf_printf(&where, ", column %d", p->column);
      if (p->path) db_buf_printf(&where, " (%s)", p->path);
    } else if (p->path) {
      db_buf_puts(&where, p->path);
    }
    db_diag_add(out, p->line, p->column, where.len ? db_buf_str(&where) : NULL, p->code, "%s", p->message);
  }
  out->dropped += in->dropped;
  db_buf_free(&where);
}

int db__h_answer_stream(db_resp *w, const char *content_type, int (*write)(void *ctx, FILE *out), void *ctx) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) return DB_ENOMEM;
  int rc = write(ctx, out);
  if (fclose(out) != 0 && !rc) rc = DB_ENOMEM;
  if (!rc) db_resp_text(w, 200, content_type, text ? text : "", len);
  free(text); /* open_memstream's buffer comes from malloc */
  return rc;
}

void db__h_json_string(db_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  db_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') {
      db_buf_putc(b, '\\');
      db_buf_putc(b, (char)*p);
    } else if (*p < 0x20) {
      char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], '\0'};
      db_buf_puts(b, esc);
    } else {
      db_buf_putc(b, (char)*p);
    }
  }
  db_buf_putc(b, '"');
}
