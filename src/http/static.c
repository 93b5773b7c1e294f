/* static.c - serves the embedded dashboard (static.h): a binary search over the generated table of
 * files, index.html for the dashboard's client-side pages, and the security headers of every page. */
#include <string.h>

#include "http/static.h"

/* default-src 'self': scripts, styles, images, data and the event stream come from this server only
 * (no CDN, web font or map tile); no plugin, no <base>, no framing by another site. */
#define CSP "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

const db_static_file *db_static_find(const char *path) {
  unsigned long lo = 0, hi = db_static_n_files;
  while (lo < hi) {
    unsigned long mid = lo + (hi - lo) / 2;
    int c = strcmp(path, db_static_files[mid].path);
    if (c == 0) return &db_static_files[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* The first path segments of the dashboard's own pages (the routes of web/assets/js/main.js): /map,
 * /ward/26734, /indicator/CPI_YOY... Any other path is not the dashboard's and answers 404. */
static const char *const pages[] = {"login", "overview", "map", "indicator", "ward", "tasks", "alerts", "quality", "catalog"};

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* 1 when path is "/" or one of the dashboard's pages ("/map", "/ward/26734"). */
static int is_page(const char *path) {
  if (strcmp(path, "/") == 0) return 1;
  for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
    size_t n = strlen(pages[i]);
    if (strncmp(path + 1, pages[i], n) == 0 && (path[n + 1] == '\0' || path[n + 1] == '/')) return 1;
  }
  return 0;
}

int db_static_answer(const char *method, const char *path, db_resp *w) {
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return 0;
  if (strcmp(path, "/api") == 0 || starts_with(path, "/api/")) return 0;
  const db_static_file *f = db_static_find(path);
  if (!f && is_page(path)) f = db_static_find("/index.html");
  if (!f && !starts_with(path, "/assets/")) return 0; /* not the dashboard's: the caller's 404 */
  if (!f) {
    db_resp_problem(w, 404, "not found", "the dashboard has no such file", NULL);
    return 1;
  }
  db_resp_text(w, 200, f->content_type, (const char *)f->data, f->len);
  db_resp_header(w, "Cache-Control", "no-cache");
  db_resp_header(w, "Content-Security-Policy", CSP);
  db_resp_header(w, "Referrer-Policy", "no-referrer");
  db_resp_header(w, "X-Frame-Options", "DENY");
  return 1;
}
