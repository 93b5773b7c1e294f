/* test_router.c - the request-target parser and the route matcher as a client meets them: decoded
 * paths and query parameters, every refusal with its exact reason, literal segments winning over
 * parameters, 404 and 405 with the Allow list, and the route table itself. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/err.h"
#include "http/handlers.h"
#include "http/router.h"

/* Parses "path?query" (NUL-terminated), asserting success. */
static db_uri parse(const char *target) {
  db_uri u;
  char why[DB_URI_WHY];
  const char *q = strchr(target, '?');
  size_t plen = q ? (size_t)(q - target) : strlen(target);
  if (db_uri_parse(target, plen, q ? q + 1 : NULL, q ? strlen(q + 1) : 0, &u, why) != 0)
    fail_msg("%s: %s", target, why);
  return u;
}

/* Asserts that a target of n bytes is refused with exactly `reason`. */
static void assert_refused_n(const char *target, size_t n, const char *reason) {
  db_uri u;
  char why[DB_URI_WHY];
  const char *q = memchr(target, '?', n);
  size_t plen = q ? (size_t)(q - target) : n;
  assert_int_equal(db_uri_parse(target, plen, q ? q + 1 : NULL, q ? n - plen - 1 : 0, &u, why), DB_EINVAL);
  if (strcmp(why, reason)) fail_msg("%s: got \"%s\", expected \"%s\"", target, why, reason);
  assert_null(u.mem);
  assert_int_equal(u.n_segs, 0);
}

static void assert_refused(const char *target, const char *reason) {
  assert_refused_n(target, strlen(target), reason);
}

static void test_decoding(void **state) {
  db_uri u = parse("/api/v1/orgunits/Ph%C6%B0%E1%BB%9Dng%20B%E1%BA%BFn%20Th%C3%A0nh");
  assert_string_equal(u.path, "/api/v1/orgunits/Phường Bến Thành");
  assert_int_equal(u.n_segs, 4);
  assert_string_equal(u.segs[0], "api");
  assert_string_equal(u.segs[3], "Phường Bến Thành");
  db_uri_free(&u);

  u = parse("/a+b/c%2b?q=Ph%C6%B0%E1%BB%9Dng+1&x=a%2Bb&flag&empty=&&q=second&sp=%20");
  assert_string_equal(u.path, "/a+b/c+"); /* '+' is a space only in the query */
  assert_int_equal(u.n_query, 6);
  assert_string_equal(db_uri_query(&u, "q"), "Phường 1"); /* the first of two */
  assert_string_equal(db_uri_query(&u, "x"), "a+b");
  assert_string_equal(db_uri_query(&u, "flag"), "");
  assert_string_equal(db_uri_query(&u, "empty"), "");
  assert_string_equal(db_uri_query(&u, "sp"), " ");
  assert_string_equal(u.query[4].name, "q");
  assert_string_equal(u.query[4].value, "second");
  assert_null(db_uri_query(&u, "absent"));
  db_uri_free(&u);

  u = parse("/");
  assert_string_equal(u.path, "/");
  assert_int_equal(u.n_segs, 0);
  db_uri_free(&u);

  u = parse("/healthz/"); /* a trailing slash is an empty last segment: no route has one */
  assert_string_equal(u.path, "/healthz/");
  assert_int_equal(u.n_segs, 2);
  assert_string_equal(u.segs[1], "");
  db_uri_free(&u);

  u = parse("/x?a=1=2&%E2%82%AC=euro");
  assert_string_equal(db_uri_query(&u, "a"), "1=2");
  assert_string_equal(db_uri_query(&u, "€"), "euro");
  db_uri_free(&u);
}

static void test_refusals(void **state) {
  assert_refused("", "the path does not start with '/'");
  assert_refused("api/v1", "the path does not start with '/'");
  assert_refused("http://example.com/", "the path does not start with '/'");
  assert_refused("/a%2",
                 "bad percent-encoding at byte 3 of the path ('%' must be followed by two hex digits)");
  assert_refused("/a%",
                 "bad percent-encoding at byte 3 of the path ('%' must be followed by two hex digits)");
  assert_refused("/a%zz",
                 "bad percent-encoding at byte 3 of the path ('%' must be followed by two hex digits)");
  assert_refused("/a%0g/b",
                 "bad percent-encoding at byte 3 of the path ('%' must be followed by two hex digits)");
  assert_refused("/a?b=%4",
                 "bad percent-encoding at byte 3 of the query ('%' must be followed by two hex digits)");
  assert_refused("/a?k%G1=v",
                 "bad percent-encoding at byte 2 of the query ('%' must be followed by two hex digits)");
  assert_refused("/a%00b", "NUL byte at byte 3 of the path");
  assert_refused("/a?x=1&b=%00", "NUL byte at byte 7 of the query");
  assert_refused_n("/a\0b", 4, "NUL byte at byte 3 of the path");
  assert_refused("/a%0Ab", "control character 0x0A at byte 3 of the path");
  assert_refused("/a%7F", "control character 0x7F at byte 3 of the path");
  assert_refused("/api/../etc/passwd", "path traversal ('..' segment) in path segment 2");
  assert_refused("/api/%2e%2E/x", "path traversal ('..' segment) in path segment 2");
  assert_refused("/api/%2E", "path traversal ('.' segment) in path segment 2");
  assert_refused("/./api", "path traversal ('.' segment) in path segment 1");
  assert_refused("/api//v1", "empty path segment ('//') at byte 6 of the path");
  assert_refused("//api", "empty path segment ('//') at byte 2 of the path");
  assert_refused("/api/a%2Fb", "encoded slash ('%2F') in path segment 2");
  assert_refused("/api/a%2f..", "encoded slash ('%2F') in path segment 2");
  assert_refused("/a%C3", "invalid UTF-8 at byte 3 of the path");
  assert_refused("/ok/a%C0%AF", "invalid UTF-8 at byte 6 of the path");           /* overlong '/' */
  assert_refused("/ok/%ED%A0%80", "invalid UTF-8 at byte 5 of the path");         /* a surrogate */
  assert_refused("/ok/\xff", "invalid UTF-8 at byte 5 of the path");              /* raw, not encoded */
  assert_refused("/ok?q=ab%F4%90%80%80", "invalid UTF-8 at byte 5 of the query"); /* above U+10FFFF */
  assert_refused("/ok?=v", "query parameter without a name at byte 1 of the query");
  assert_refused("/ok?a=1&=v", "query parameter without a name at byte 5 of the query");
  assert_refused("/ok?a%0A=1", "control character 0x0A at byte 2 of the query");
}

/* Matches method + target; returns the status, and the route's handler name and params. */
static int match(const char *method, const char *target, const char **name,
                 const char *params[DB_HTTP_MAX_PARAMS], char allow[128]) {
  db_uri u = parse(target);
  const db_route *route;
  const char *p[DB_HTTP_MAX_PARAMS];
  int status = db_router_match(&u, method, &route, p, allow, 128);
  *name = route ? route->name : NULL;
  /* the params point into u: copy them out before freeing it */
  static char copies[DB_HTTP_MAX_PARAMS][256];
  for (int i = 0; i < DB_HTTP_MAX_PARAMS; i++) {
    params[i] = NULL;
    if (status == 200 && p[i]) {
      strncpy(copies[i], p[i], sizeof copies[i] - 1);
      params[i] = copies[i];
    }
  }
  db_uri_free(&u);
  return status;
}

static void test_matching(void **state) {
  const char *name, *params[DB_HTTP_MAX_PARAMS];
  char allow[128];
  assert_int_equal(match("GET", "/healthz", &name, params, allow), 200);
  assert_string_equal(name, "db_h_healthz");
  assert_null(params[0]);

  assert_int_equal(match("GET", "/api/v1/series/CPI_YOY/79?from=2024-01", &name, params, allow), 200);
  assert_string_equal(name, "db_h_series_get");
  assert_string_equal(params[0], "CPI_YOY");
  assert_string_equal(params[1], "79");
  assert_null(params[2]);

  /* a literal segment wins over a parameter, whatever the order of the table */
  assert_int_equal(match("GET", "/api/v1/orgunits/tree", &name, params, allow), 200);
  assert_string_equal(name, "db_h_orgunits_tree");
  assert_int_equal(match("GET", "/api/v1/orgunits/geojson", &name, params, allow), 200);
  assert_string_equal(name, "db_h_orgunits_geojson");
  assert_int_equal(match("GET", "/api/v1/orgunits/26734", &name, params, allow), 200);
  assert_string_equal(name, "db_h_orgunit_get");
  assert_string_equal(params[0], "26734");
  assert_int_equal(match("GET", "/api/v1/orgunits/Ph%C6%B0%E1%BB%9Dng", &name, params, allow), 200);
  assert_string_equal(params[0], "Phường");

  /* one path, several methods */
  assert_int_equal(match("PUT", "/api/v1/indicators/CPI_YOY", &name, params, allow), 200);
  assert_string_equal(name, "db_h_indicator_put");
  assert_string_equal(params[0], "CPI_YOY");
  assert_int_equal(match("DELETE", "/api/v1/indicators/X", &name, params, allow), 200);
  assert_string_equal(name, "db_h_indicator_delete");
  assert_int_equal(match("POST", "/api/v1/indicators", &name, params, allow), 200);
  assert_string_equal(name, "db_h_indicators_put");
  assert_int_equal(match("HEAD", "/api/v1/indicators", &name, params, allow), 200);
  assert_string_equal(name, "db_h_indicators_list");
}

static void test_not_found_and_not_allowed(void **state) {
  const char *name, *params[DB_HTTP_MAX_PARAMS];
  char allow[128];
  assert_int_equal(match("GET", "/", &name, params, allow), 404);
  assert_null(name);
  assert_int_equal(match("GET", "/api/v1/nothing", &name, params, allow), 404);
  assert_int_equal(match("GET", "/healthz/", &name, params, allow), 404);
  assert_int_equal(match("GET", "/api/v1/series/CPI_YOY", &name, params, allow), 404);
  assert_int_equal(match("GET", "/api/v1/series/CPI_YOY/79/extra", &name, params, allow), 404);
  assert_int_equal(match("GET", "/API/v1/indicators", &name, params, allow), 404); /* case matters */

  assert_int_equal(match("DELETE", "/healthz", &name, params, allow), 405);
  assert_null(name);
  assert_string_equal(allow, "GET, HEAD");
  assert_int_equal(match("PATCH", "/api/v1/indicators/CPI_YOY", &name, params, allow), 405);
  assert_string_equal(allow, "GET, HEAD, PUT, DELETE");
  assert_int_equal(match("DELETE", "/api/v1/indicators", &name, params, allow), 405);
  assert_string_equal(allow, "GET, HEAD, POST");
  assert_int_equal(match("GET", "/api/v1/login", &name, params, allow), 405);
  assert_string_equal(allow, "POST");
  /* the literal /orgunits/tree has only GET: it does not fall back to /orgunits/{code} */
  assert_int_equal(match("POST", "/api/v1/orgunits/tree", &name, params, allow), 405);
  assert_string_equal(allow, "GET, HEAD");
}

/* The routes of routes.def and the files it includes, counted by the preprocessor. */
static const size_t routes_in_def = 0
#define DB_ROUTE(method, path, handler, perm, tag, summary) +1
#include "http/routes.def"
#undef DB_ROUTE
    ;

/* Every route of routes.def is in the table, and reachable through the matcher with its own method and
 * pattern. */
static void test_table(void **state) {
  assert_int_equal(db_n_routes, routes_in_def);
  for (size_t i = 0; i < db_n_routes; i++) {
    const db_route *r = &db_routes[i];
    char target[256];
    size_t k = 0;
    for (const char *p = r->pattern; *p && k + 1 < sizeof target; p++) {
      if (*p == '{') {
        target[k++] = 'X';
        p = strchr(p, '}');
      } else {
        target[k++] = *p;
      }
    }
    target[k] = '\0';
    const char *name, *params[DB_HTTP_MAX_PARAMS];
    char allow[128];
    assert_int_equal(match(r->method, target, &name, params, allow), 200);
    assert_string_equal(name, r->name);
    assert_non_null(r->handler);
    assert_true(strncmp(r->name, "db_h_", 5) == 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decoding), cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_matching), cmocka_unit_test(test_not_found_and_not_allowed),
      cmocka_unit_test(test_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
