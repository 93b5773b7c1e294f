/* router.h - the route table (from routes.def), the request-target parser and the route matcher.
 *
 * The parser turns the raw path and query of a request into decoded segments and query parameters and
 * refuses what a handler must never see: bad percent-encoding, NUL bytes, control characters in the
 * path, "." and ".." segments, empty segments ("//"), encoded slashes and invalid UTF-8. The matcher
 * picks the route of a method and a parsed path; a literal segment wins over a {parameter} at the same
 * place, whatever the order of the table.
 *
 * Ownership: a db_uri owns its strings (one allocation); db_uri_free releases them. The route table is
 * static and read-only. Everything here is pure and thread-safe. */
#ifndef DB_HTTP_ROUTER_H
#define DB_HTTP_ROUTER_H
#include <stddef.h>

#include "http/http.h"

/* One row of routes.def. */
struct db_route {
  const char *method;  /* "GET" */
  const char *pattern; /* "/api/v1/series/{indicator}/{orgunit}" */
  int (*handler)(db_req *r, db_resp *w);
  const char *name; /* the handler's name: the OpenAPI operationId */
  db_perm perm;
  const char *tag, *summary;
};

extern const db_route db_routes[];
extern const size_t db_n_routes;

typedef struct db_query_param {
  const char *name, *value; /* decoded; value "" when the parameter has no '=' */
} db_query_param;

typedef struct db_uri {
  const char *path;  /* the decoded path, "/" joined segments */
  const char **segs; /* the decoded segments ("/a/b" -> "a", "b"; "/" -> none) */
  size_t n_segs;
  db_query_param *query; /* in request order; duplicates kept */
  size_t n_query;
  void *mem; /* owns everything above */
} db_uri;

#define DB_URI_WHY 160 /* size of the fault message buffer */

/* Parses a request target: `path` (raw, as received: must start with '/') of path_len bytes and `query`
 * (raw, without the '?'; may be NULL) of query_len bytes. In the query, '+' means a space and
 * parameters are separated by '&' (empty pieces are skipped).
 * Returns 0 and fills *out, or DB_EINVAL with *out zeroed and `why` naming the fault ("bad
 * percent-encoding at byte 7 of the path", "path traversal ('..' segment)", "empty path segment
 * ('//')", "NUL byte in the query", "invalid UTF-8 in the path"...). Never allocates on failure. */
int db_uri_parse(const char *path, size_t path_len, const char *query, size_t query_len, db_uri *out,
                 char why[DB_URI_WHY]);
void db_uri_free(db_uri *u);
/* The first value of query parameter `name`, or NULL. */
const char *db_uri_query(const db_uri *u, const char *name);

/* Matches a method and a parsed path against the table.
 * Returns 200 with *route set and params[0..] pointing into u (one per {parameter}, in order);
 * 404 when no pattern matches the path; 405 when a pattern matches but not with this method: `allow`
 * (allow_len bytes) receives the methods of that pattern ("GET, HEAD, PUT"). HEAD matches GET routes. */
int db_router_match(const db_uri *u, const char *method, const db_route **route,
                    const char *params[DB_HTTP_MAX_PARAMS], char *allow, size_t allow_len);

#endif
