/* fuzz_http_path.c - libFuzzer target for the request-target parser and the route matcher of
 * src/http/router.c.
 *
 * The first byte, modulo 8, picks a method ("0" GET, "1" HEAD, "2" POST, "3" PUT, "4" PATCH,
 * "5" DELETE, "6" OPTIONS, "7" a made-up one); the rest is a raw request target, split at its first
 * '?' into path and query. A refused target must come with a reason. An accepted one must hold the
 * laws handlers rely on: a decoded path that starts with '/', has no NUL byte, no empty, "." or ".."
 * segment and is valid UTF-8; segments without '/'; query names that are non-empty and, like the
 * values, valid UTF-8 without NUL. The matcher must answer 200 with one parameter per {name} of the
 * route's pattern, 404 without a route, or 405 with an Allow list. Any broken law traps, so libFuzzer
 * records the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "base/text.h"
#include "http/router.h"

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

static void check_text(const char *s) { CHECK(db_utf8_valid(s, strlen(s), NULL)); }

static void check_uri(const db_uri *u) {
  CHECK(u->path[0] == '/');
  check_text(u->path);
  CHECK(u->n_segs == 0 ? strcmp(u->path, "/") == 0 : 1);
  size_t joined = 0;
  for (size_t i = 0; i < u->n_segs; i++) {
    const char *s = u->segs[i];
    CHECK(!strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
    CHECK(s[0] || i + 1 == u->n_segs); /* only the last segment may be empty (a trailing slash) */
    check_text(s);
    joined += 1 + strlen(s);
  }
  CHECK(u->n_segs == 0 || joined == strlen(u->path));
  for (size_t i = 0; i < u->n_query; i++) {
    CHECK(u->query[i].name[0]);
    check_text(u->query[i].name);
    check_text(u->query[i].value);
    CHECK(db_uri_query(u, u->query[i].name) != NULL);
  }
}

static void check_match(const db_uri *u, const char *method) {
  const db_route *route;
  const char *params[DB_HTTP_MAX_PARAMS];
  char allow[128];
  int status = db_router_match(u, method, &route, params, allow, sizeof allow);
  if (status == 200) {
    CHECK(route != NULL);
    size_t braces = 0;
    for (const char *p = route->pattern; *p; p++) braces += *p == '{';
    for (size_t k = 0; k < DB_HTTP_MAX_PARAMS; k++) CHECK((params[k] != NULL) == (k < braces));
  } else if (status == 405) {
    CHECK(route == NULL && allow[0]);
  } else {
    CHECK(status == 404 && route == NULL);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"};
  if (size < 1) return 0;
  const char *method = methods[data[0] % 8];
  const char *target = (const char *)data + 1;
  size_t n = size - 1;
  const char *q = memchr(target, '?', n);
  size_t path_len = q ? (size_t)(q - target) : n;
  db_uri u;
  char why[DB_URI_WHY];
  why[0] = 'x';
  if (db_uri_parse(target, path_len, q ? q + 1 : NULL, q ? n - path_len - 1 : 0, &u, why) != 0) {
    CHECK(why[0] && memchr(why, '\0', DB_URI_WHY) && u.mem == NULL);
    return 0;
  }
  check_uri(&u);
  check_match(&u, method);
  db_uri_free(&u);
  return 0;
}
