/* static.h - the dashboard's files (web/), embedded into the binary at build time and served by the
 * server for GET and HEAD requests that match no API route.
 *
 * cmake/embed_web.cmake generates the table db_static_files (sorted by URL path) from web/index.html,
 * web/assets/ and the pinned ECharts build; the bytes live in the binary's read-only data for the life
 * of the process. Everything here is pure and thread-safe. */
#ifndef DB_HTTP_STATIC_H
#define DB_HTTP_STATIC_H
#include "http/http.h"

typedef struct db_static_file {
  const char *path; /* "/index.html", "/assets/app.js", "/assets/vendor/echarts.min.js" */
  const char *content_type;
  const unsigned char *data;
  unsigned long len;
} db_static_file;

extern const db_static_file db_static_files[];
extern const unsigned long db_static_n_files;

/* The embedded file at a URL path, or NULL. */
const db_static_file *db_static_find(const char *path);

/* Answers a request for the dashboard into w, for a GET or HEAD that matched no API route:
 *   an embedded file's path  the file (200);
 *   /assets/... otherwise    404 (a problem: "the dashboard has no such file");
 *   "/" and the dashboard's pages (/overview, /map, /indicator/CODE, /ward/CODE, /tasks, /alerts,
 *                            /quality, /catalog, /login and what follows them): index.html (200), the
 *                            pages being routed in the browser;
 *   anything else            nothing (returns 0: the caller answers its own 404).
 * Answers carry Cache-Control no-cache (the server's ETag makes revalidation cheap), a
 * Content-Security-Policy that allows nothing from outside the server, and a no-referrer policy.
 * Returns 1 when it answered, 0 when the request is not the dashboard's. */
int db_static_answer(const char *method, const char *path, db_resp *w);

#endif
