/* resp.c - building answers (db_resp_*: JSON, text, headers, RFC 9457 problems) and reading requests
 * (db_req_query, db_req_header, db_req_format) for handlers; see http.h. */
#include <ctype.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/mem.h"
#include "http/http_int.h"

#define PROBLEM_TYPE_BASE "https://databrain.dev/problems/"

/* Replaces the answer's status, media type and body. */
static void resp_set(db_resp *w, int status, const char *content_type, const char *body, size_t len) {
  w->status = status;
  db_free(w->content_type);
  w->content_type = db_strdup(content_type);
  db_buf_clear(&w->body);
  db_buf_append(&w->body, body, len);
}

void db_resp_text(db_resp *w, int status, const char *content_type, const char *text, size_t len) {
  resp_set(w, status, content_type, text, len);
}

void db_resp_json(db_resp *w, int status, json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(doc);
  if (!text) {
    db_resp_error(w, DB_ENOMEM, "the answer could not be serialised", NULL);
    return;
  }
  resp_set(w, status, "application/json", text, strlen(text));
  free(text); /* jansson's allocator */
}

void db_resp_header(db_resp *w, const char *name, const char *value) {
  db_buf line = DB_BUF_INIT;
  db_buf_printf(&line, "%s: %s", name, value);
  /* a header cannot carry a line break: one in a value would forge further headers */
  for (size_t i = 0; i < line.len; i++)
    if (line.data[i] == '\r' || line.data[i] == '\n') line.data[i] = ' ';
  w->headers = db_realloc(w->headers, (w->n_headers + 1) * sizeof *w->headers);
  w->headers[w->n_headers++] = db_buf_take(&line);
}

/* The slug of a title: lowercase ASCII letters and digits, runs of anything else as one '-'. */
static void slug(db_buf *out, const char *title) {
  int dash = 0;
  size_t start = out->len;
  for (const unsigned char *p = (const unsigned char *)title; *p; p++) {
    if (isalnum(*p) && *p < 0x80) {
      if (dash && out->len > start) db_buf_putc(out, '-');
      db_buf_putc(out, (char)tolower(*p));
      dash = 0;
    } else {
      dash = 1;
    }
  }
}

/* The location of a problem: its path, else "line L, column C", else "". */
static json_t *problem_path(const db_problem *p) {
  if (p->path) return json_string(p->path);
  if (p->line && p->column) return json_sprintf("line %ld, column %d", p->line, p->column);
  if (p->line) return json_sprintf("line %ld", p->line);
  return json_string("");
}

void db_resp_problem(db_resp *w, int status, const char *title, const char *detail, const db_diag *problems) {
  db_buf type = DB_BUF_INIT;
  db_buf_puts(&type, PROBLEM_TYPE_BASE);
  slug(&type, title);
  json_t *errors = json_array();
  db_buf full = DB_BUF_INIT;
  db_buf_puts(&full, detail ? detail : title);
  if (problems) {
    for (size_t i = 0; i < problems->count; i++) {
      const db_problem *p = &problems->items[i];
      json_t *e = json_object();
      json_object_set_new(e, "path", problem_path(p));
      json_object_set_new(e, "message", json_string(p->message));
      json_array_append_new(errors, e);
    }
    if (problems->dropped) db_buf_printf(&full, " (%zu more problems not listed)", problems->dropped);
  }
  json_t *doc = json_object();
  json_object_set_new(doc, "type", json_string(db_buf_str(&type)));
  json_object_set_new(doc, "title", json_string(title));
  json_object_set_new(doc, "status", json_integer(status));
  json_object_set_new(doc, "detail", json_string(db_buf_str(&full)));
  json_object_set_new(doc, "errors", errors);
  db_buf_free(&type);
  db_buf_free(&full);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (!text) { /* titles and details are our own UTF-8 text: only memory can fail here */
    static const char fallback[] = "{\"type\":\"" PROBLEM_TYPE_BASE
                                   "out-of-memory\",\"title\":\"out of memory\","
                                   "\"status\":503,\"detail\":\"out of memory\",\"errors\":[]}";
    resp_set(w, 503, "application/problem+json", fallback, sizeof fallback - 1);
    return;
  }
  resp_set(w, status, "application/problem+json", text, strlen(text));
  free(text);
}

void db_resp_error(db_resp *w, int err, const char *detail, const db_diag *problems) {
  db_resp_problem(w, db_http_status(err), db_strerror(err), detail, problems);
}

const char *db_req_query(const db_req *r, const char *name) {
  const db_exchange *ex = r->conn;
  return ex ? db_uri_query(&ex->uri, name) : NULL;
}

const char *db_req_header(const db_req *r, const char *name) {
  const db_exchange *ex = r->conn;
  return ex && ex->mhd ? MHD_lookup_connection_value(ex->mhd, MHD_HEADER_KIND, name) : NULL;
}

/* Whether an Accept header lists media type `type` (parameters and q-values aside). */
static int accepts(const char *accept, const char *type) {
  size_t n = strlen(type);
  for (const char *p = accept; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (strncasecmp(p, type, n) == 0 && (p[n] == '\0' || p[n] == ';' || p[n] == ',' || p[n] == ' ')) return 1;
    p = strchr(p, ',');
  }
  return 0;
}

const char *db_req_format(const db_req *r) {
  const char *f = db_req_query(r, "format");
  if (f && strcmp(f, "csv") == 0) return "csv";
  if (f && strcmp(f, "geojson") == 0) return "geojson";
  if (f && strcmp(f, "json") == 0) return "json";
  const char *accept = db_req_header(r, "Accept");
  if (accept && accepts(accept, "text/csv")) return "csv";
  return "json";
}
